/* container system start|stop|status|version|logs|property|dns|df */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "util.h"

extern char **environ;

static void system_help(FILE *out)
{
	fprintf(out,
		"Usage: container system COMMAND\n"
		"\n"
		"Commands:\n"
		"  start     Start the API server [--app-root DIR] [--install-root DIR]\n"
		"            [--log-root DIR] [--timeout SECONDS] [--debug]\n"
		"  stop      Stop the running containers, then the API server and its\n"
		"            plugins [--timeout SECONDS]\n"
		"  status    Show whether the API server runs, its roots and plugins\n"
		"            [--format json|table]\n"
		"  version   Show the CLI's and the API server's versions [--format json|table]\n"
		"  logs      Show the API server's and plugins' log [-f] [--last DURATION]\n"
		"  property  list | get KEY | set KEY VALUE | clear KEY\n"
		"  dns       create DOMAIN | delete DOMAIN... | list: the local domains\n"
		"            containers answer under\n"
		"  df        Disk use of images, containers and volumes [-v]\n"
		"            [--format json|table]\n");
}

static int ping(json_t **reply)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	return cli_call("ping", NULL, reply, &err);
}

static int parse_timeout(const char *v, int *out)
{
	int64_t s = ct_parse_duration_seconds(v);

	if (s < 0 || s > 3600)
		return cli_failf("--timeout takes seconds from 0 to 3600 (such as 30 or 30s), not "
				 "\"%s\"",
				 v);
	*out = (int)s;
	return 0;
}

/* Waits for a child with a deadline; kills it when the deadline passes. */
static int wait_with_timeout(pid_t pid, int timeout_s, int *status)
{
	uint64_t deadline = ct_now_monotonic_ms() + (uint64_t)timeout_s * 1000;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (ct_now_monotonic_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			errno = ETIMEDOUT;
			return -1;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int system_start(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"app-root", required_argument, NULL, 'a'},
	    {"install-root", required_argument, NULL, 'i'},
	    {"log-root", required_argument, NULL, 'l'},
	    {"timeout", required_argument, NULL, 't'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *app_root = NULL, *install_root = NULL, *log_root = NULL;
	int timeout = 30, c;
	bool debug = cli.debug;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			app_root = optarg;
			break;
		case 'i':
			install_root = optarg;
			break;
		case 'l':
			log_root = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &timeout) < 0)
				return EXIT_ENGINE;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			system_help(stdout);
			return 0;
		default:
			return cli_usage_error("system", "bad option for system start");
		}
	}
	if (optind < argc)
		return cli_usage_error("system", "system start takes no arguments");

	_cleanup_json_ json_t *reply = NULL;
	if (ping(&reply) == 0) {
		printf("container-apiserver is already running (pid %lld)\n",
		       (long long)json_integer_value(json_object_get(reply, "pid")));
		return 0;
	}

	struct ct_paths paths;
	if (ct_paths_resolve(&paths, app_root, install_root, log_root, &err) < 0)
		return cli_fail(&err);
	_cleanup_free_ char *server = xasprintf("%s/bin/container-apiserver", paths.install_root);
	if (access(server, X_OK) < 0) {
		int rc =
		    cli_failf("cannot run %s: %s; set CONTAINER_INSTALL_ROOT or --install-root to "
			      "the folder that holds bin/container-apiserver",
			      server, strerror(errno));
		ct_paths_free(&paths);
		return rc;
	}
	char *args[] = {server,
			"--app-root",
			paths.app_root,
			"--install-root",
			paths.install_root,
			"--log-root",
			paths.log_root,
			debug ? "--debug" : "start",
			debug ? "start" : NULL,
			NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, server, NULL, NULL, args, environ);
	_cleanup_free_ char *log_file = ct_paths_log_file(&paths);
	ct_paths_free(&paths);
	if (rc != 0)
		return cli_failf("starting %s: %s", server, strerror(rc));

	int status;
	if (wait_with_timeout(pid, timeout, &status) < 0)
		return cli_failf("container-apiserver did not become ready within %d s; see %s",
				 timeout, log_file);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cli_failf(
		    "container-apiserver failed to start (its reason is above; the log "
		    "is %s)",
		    log_file);
	json_decref(reply);
	reply = NULL;
	if (ping(&reply) < 0)
		return cli_failf("container-apiserver started but does not answer at %s; see %s",
				 cli.socket_path, log_file);
	printf("container-apiserver started (pid %lld)\n",
	       (long long)json_integer_value(json_object_get(reply, "pid")));
	return 0;
}

static int system_stop(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	int timeout = 30, c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+ht:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_timeout(optarg, &timeout) < 0)
				return EXIT_ENGINE;
			break;
		case 'h':
			system_help(stdout);
			return 0;
		default:
			return cli_usage_error("system", "bad option for system stop");
		}
	}
	/* Containers get half the time to stop, at most 10 s; the rest is for us. */
	_cleanup_json_ json_t *body =
	    json_pack("{s:i}", "timeout", timeout >= 20 ? 10 : timeout / 2);
	if (cli_call("system.stop", body, &reply, &err) < 0) {
		if (ct_error_is(&err, CT_ERR_UNAVAILABLE)) {
			printf("container-apiserver is not running\n");
			return 0;
		}
		return cli_fail(&err);
	}
	pid_t pid = json_integer_value(json_object_get(reply, "pid"));
	uint64_t deadline = ct_now_monotonic_ms() + (uint64_t)timeout * 1000;
	while (pid > 0 && !(kill(pid, 0) < 0 && errno == ESRCH)) {
		if (ct_now_monotonic_ms() >= deadline)
			return cli_failf(
			    "container-apiserver (pid %d) is still stopping after %d s", pid,
			    timeout);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("container-apiserver stopped\n");
	return 0;
}

static int format_option(int argc, char **argv, const char *command, enum cli_format *format)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (cli_parse_format(optarg, format) < 0)
				return -1;
			break;
		case 'h':
			system_help(stdout);
			return 1;
		default:
			cli_usage_error("system", "bad option for system %s", command);
			return -1;
		}
	}
	if (optind < argc) {
		cli_usage_error("system", "system %s takes no arguments", command);
		return -1;
	}
	return 0;
}

static int system_status(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format = FORMAT_TABLE;
	int rc = format_option(argc, argv, "status", &format);

	if (rc != 0)
		return rc < 0 ? EXIT_ENGINE : 0;
	if (cli_call("system.status", NULL, &reply, &err) < 0) {
		if (!ct_error_is(&err, CT_ERR_UNAVAILABLE))
			return cli_fail(&err);
		if (format == FORMAT_JSON) {
			_cleanup_json_ json_t *j =
			    json_pack("{s:s, s:s}", "status", "stopped", "socket", cli.socket_path);
			cli_print_json(j);
		} else {
			printf("container-apiserver is not running (no server at %s)\n"
			       "Run `container system start` to start it.\n",
			       cli.socket_path);
		}
		return 1;
	}
	if (format == FORMAT_JSON) {
		cli_print_json(reply);
		return 0;
	}
	printf("status:        %s\n", cli_str(reply, "status"));
	printf("pid:           %lld\n",
	       (long long)json_integer_value(json_object_get(reply, "pid")));
	printf("version:       %s\n", cli_str(reply, "version"));
	printf("started:       %s (up %llds)\n", cli_str(reply, "startedAt"),
	       (long long)json_integer_value(json_object_get(reply, "uptimeSeconds")));
	printf("app root:      %s\n", cli_str(reply, "appRoot"));
	printf("install root:  %s\n", cli_str(reply, "installRoot"));
	printf("run root:      %s\n", cli_str(reply, "runRoot"));
	printf("log root:      %s\n", cli_str(reply, "logRoot"));
	printf("socket:        %s\n", cli_str(reply, "socket"));
	json_t *plugins = json_object_get(reply, "plugins"), *p;
	size_t i;
	if (json_array_size(plugins) == 0) {
		printf("plugins:       none found\n");
		return 0;
	}
	printf("\n");
	static const char *const headers[] = {"PLUGIN", "TYPE", "STATE", "PID", "RESTARTS"};
	struct cli_table *t = cli_table_new(5, headers);
	json_array_foreach (plugins, i, p) {
		char pid[24], restarts[24];
		json_t *types = json_object_get(p, "types");
		snprintf(pid, sizeof(pid), "%lld",
			 (long long)json_integer_value(json_object_get(p, "pid")));
		snprintf(restarts, sizeof(restarts), "%lld",
			 (long long)json_integer_value(json_object_get(p, "restarts")));
		const char *cells[] = {cli_str(p, "name"),
				       json_string_value(json_array_get(types, 0)),
				       cli_str(p, "state"), strcmp(pid, "0") ? pid : "-", restarts};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

static int system_version(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format = FORMAT_TABLE;
	int rc = format_option(argc, argv, "version", &format);

	if (rc != 0)
		return rc < 0 ? EXIT_ENGINE : 0;
	bool running = cli_call("ping", NULL, &reply, &err) == 0;
	if (format == FORMAT_JSON) {
		_cleanup_json_ json_t *j =
		    json_pack("{s:s, s:s?}", "client", CONTAINER_VERSION, "server",
			      running ? cli_str(reply, "version") : NULL);
		cli_print_json(j);
		return 0;
	}
	printf("container CLI:        %s\n", CONTAINER_VERSION);
	if (running)
		printf("container-apiserver:  %s (protocol %lld)\n", cli_str(reply, "version"),
		       (long long)json_integer_value(json_object_get(reply, "protocolVersion")));
	else
		printf("container-apiserver:  not running\n");
	return 0;
}

int cmd_system(int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
	    {"start", system_start},   {"stop", system_stop},
	    {"status", system_status}, {"version", system_version},
	    {"logs", cmd_system_logs}, {"property", cmd_system_property},
	    {"dns", cmd_system_dns},   {"df", cmd_system_df},
	};

	return cli_dispatch(argc, argv, "system", subs, ARRAY_SIZE(subs), system_help);
}
