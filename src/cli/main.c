/* container: the command line. Parses the first word and hands the rest to the
 * command group's file; an unknown word runs the CLI plugin of that name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "util.h"

struct cli cli;

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"run", cmd_run, "Create and start a container, attached unless -d"},
	{"create", cmd_create, "Create a container"},
	{"start", cmd_start, "Start a created or stopped container"},
	{"stop", cmd_stop, "Stop containers (their stop signal, then SIGKILL)"},
	{"kill", cmd_kill, "Send a signal to containers"},
	{"delete", cmd_delete, "Delete containers (-f stops running ones first)"},
	{"rm", cmd_delete, NULL},
	{"list", cmd_list, "List containers (-a: also stopped ones)"},
	{"ls", cmd_list, NULL},
	{"ps", cmd_list, NULL},
	{"exec", cmd_exec, "Run a command in a running container"},
	{"inspect", cmd_inspect, "Show containers as JSON"},
	{"stats", cmd_stats, "CPU, memory, pids and block I/O of running containers"},
	{"logs", cmd_logs, "Show a container's output (-f follows)"},
	{"cp", cmd_cp, "Copy files between a container and the host (tar with -)"},
	{"export", cmd_export, "Write a container's file system as a tar archive"},
	{"wait", cmd_wait, "Wait for containers to stop; print their exit codes"},
	{"prune", cmd_prune, "Delete every stopped container"},
	{"image", cmd_image, "Pull, list, inspect, tag, delete, prune and import images"},
	{"registry", cmd_registry, "Log in to, log out of and list registries"},
	{"network", cmd_network, "Create, list, inspect, delete and prune networks"},
	{"volume", cmd_volume, "Create, list, inspect, delete and prune volumes"},
	{"system", cmd_system, "The API server: start, stop, status, version, logs, property, dns"},
	{"plugin", cmd_plugin, "List, load, unload and restart plugins"},
};

static void print_help(FILE *out)
{
	fprintf(out, "Usage: container [--debug] COMMAND [ARGS...]\n"
		     "\n"
		     "Run Linux containers from OCI images.\n"
		     "\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(out, "  %-10s  %s\n", commands[i].name, commands[i].summary);
	cli_plugin_print_help(out);
	fprintf(out, "\n"
		     "Global options:\n"
		     "  --debug     Print debug messages on stderr\n"
		     "  -h, --help  Show this help\n"
		     "  --version   Print the version\n"
		     "\n"
		     "Run 'container COMMAND --help' for more on a command.\n");
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--debug") == 0) {
			cli.debug = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli.debug = cli.debug;
			if (ct_paths_resolve(&cli.paths, NULL, NULL, NULL, &err) == 0)
				print_help(stdout);
			ct_paths_free(&cli.paths);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
			printf("container version %s\n", CONTAINER_VERSION);
			return 0;
		} else {
			fprintf(stderr, "container: error: unknown option %s\nSee 'container --help'.\n",
				argv[i]);
			return EXIT_ENGINE;
		}
	}
	ct_log_init("container", cli.debug ? CT_LOG_DEBUG : CT_LOG_WARN, true);
	if (ct_paths_resolve(&cli.paths, NULL, NULL, NULL, &err) < 0)
		return cli_fail(&err);
	cli.socket_path = ct_paths_apiserver_socket(&cli.paths);

	int rc;
	if (i >= argc) {
		print_help(stderr);
		rc = EXIT_ENGINE;
		goto out;
	}
	if (strcmp(argv[i], "help") == 0) {
		print_help(stdout);
		rc = 0;
		goto out;
	}
	/* docker's short forms. */
	static const struct {
		const char *word, *group, *sub;
	} aliases[] = {{"pull", "image", "pull"},   {"push", "image", "push"},
		       {"images", "image", "list"}, {"rmi", "image", "delete"},
		       {"save", "image", "save"},   {"load", "image", "load"}};
	for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++)
		if (strcmp(argv[i], aliases[a].word) == 0) {
			/* argv[i] becomes the group and argv[i-1] its sub-command: the
			 * group handlers see "image pull …". */
			argv[i] = (char *)aliases[a].sub;
			argv[i - 1] = (char *)aliases[a].group;
			rc = cmd_image(argc - i + 1, argv + i - 1);
			goto out;
		}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[i], commands[c].name) == 0) {
			rc = commands[c].fn(argc - i, argv + i);
			goto out;
		}
	rc = cli_plugin_exec(argv[i], argc - i, argv + i);
	if (rc < 0) {
		fprintf(stderr,
			"container: error: '%s' is not a container command or plugin\n"
			"See 'container --help'.\n",
			argv[i]);
		rc = EXIT_ENGINE;
	}
out:
	free(cli.socket_path);
	ct_paths_free(&cli.paths);
	return rc;
}
