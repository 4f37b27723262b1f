/* container plugin list | get NAME | load NAME | unload NAME | restart NAME */
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "util.h"

static void help(FILE *out)
{
	fprintf(out, "Usage: container plugin COMMAND\n"
		     "\n"
		     "  list [--format json|table] [-q]  Plugins found, their kind and state\n"
		     "  get NAME                         One plugin, as JSON\n"
		     "  load NAME [--instance ID [ARG...]]  Start a service plugin (or another\n"
		     "                                   instance of it, labelled NAME.ID)\n"
		     "  unload NAME                      Stop a service plugin\n"
		     "  restart NAME                     Stop and start it (also clears \"failed\")\n");
}

static int list(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format;
	bool quiet;
	int rc = cli_list_options(argc, argv, "plugin", "list", help, &format, &quiet);

	if (rc >= 0)
		return rc;
	if (cli_call("plugin.list", NULL, &reply, &err) < 0)
		return cli_fail(&err);
	json_t *items = json_object_get(reply, "plugins"), *p;
	size_t i;
	if (format == FORMAT_JSON) {
		cli_print_json(items);
		return 0;
	}
	if (quiet) {
		json_array_foreach (items, i, p)
			printf("%s\n", cli_str(p, "name"));
		return 0;
	}
	static const char *const headers[] = {"NAME", "TYPE", "STATE", "PID", "RESTARTS",
					      "ABSTRACT"};
	struct cli_table *t = cli_table_new(6, headers);
	json_array_foreach (items, i, p) {
		char pid[24] = "-", restarts[24] = "-";
		long long pid_v = json_integer_value(json_object_get(p, "pid"));
		const char *type = json_string_value(json_array_get(json_object_get(p, "types"), 0));
		if (pid_v > 0)
			snprintf(pid, sizeof(pid), "%lld", pid_v);
		if (strcmp(cli_str(p, "kind"), "service") == 0)
			snprintf(restarts, sizeof(restarts), "%lld",
				 (long long)json_integer_value(json_object_get(p, "restarts")));
		const char *cells[] = {cli_str(p, "name"), type ? type : "cli", cli_str(p, "state"), pid,
				       restarts,	cli_str(p, "abstract")};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

int cmd_plugin(int argc, char **argv)
{
	static const char *const named[] = {"get", "load", "unload", "restart"};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ENGINE : 0;
	}
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
		return list(argc - 1, argv + 1);
	if (strcmp(argv[1], "load") == 0 && argc > 3) {
		/* plugin load NAME --instance ID [ARG...]: another process of NAME. */
		if (argc < 5 || strcmp(argv[3], "--instance") != 0)
			return cli_usage_error("plugin", "plugin load NAME [--instance ID [ARG...]]");
		_cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:[]}", "name", argv[2], "instance",
							argv[4], "args");
		for (int i = 5; i < argc; i++)
			json_array_append_new(json_object_get(body, "args"), json_string(argv[i]));
		if (cli_call("plugin.load", body, &reply, &err) < 0)
			return cli_fail(&err);
		printf("%s: %s\n", cli_str(reply, "name"), cli_str(reply, "state"));
		return 0;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strcmp(argv[1], named[i]) != 0)
			continue;
		if (argc != 3)
			return cli_usage_error("plugin", "plugin %s takes one NAME", named[i]);
		_cleanup_json_ json_t *body = json_pack("{s:s}", "name", argv[2]);
		_cleanup_free_ char *route = xasprintf("plugin.%s", named[i]);
		if (cli_call(route, body, &reply, &err) < 0)
			return cli_fail(&err);
		if (strcmp(named[i], "get") == 0)
			cli_print_json(reply);
		else
			printf("%s: %s\n", cli_str(reply, "name"), cli_str(reply, "state"));
		return 0;
	}
	return cli_usage_error("plugin", "unknown command \"plugin %s\"", argv[1]);
}
