/* container system property list | get KEY | set KEY VALUE | clear KEY */
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "util.h"

static void help(FILE *out)
{
	fprintf(out, "Usage: container system property COMMAND\n"
		     "\n"
		     "  list [--format json|table] [-q]  Show every property, its value and source\n"
		     "  get KEY                          Print a property's value\n"
		     "  set KEY VALUE                    Set a property\n"
		     "  clear KEY                        Return a property to its default\n");
}

static int list(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format;
	bool quiet;
	int rc = cli_list_options(argc, argv, "system property", "list", help, &format, &quiet);

	if (rc >= 0)
		return rc;
	if (cli_call("property.list", NULL, &reply, &err) < 0)
		return cli_fail(&err);
	json_t *items = json_object_get(reply, "properties"), *p;
	size_t i;
	if (format == FORMAT_JSON) {
		cli_print_json(items);
		return 0;
	}
	if (quiet) {
		json_array_foreach (items, i, p)
			printf("%s\n", cli_str(p, "key"));
		return 0;
	}
	static const char *const headers[] = {"KEY", "VALUE", "SOURCE", "DESCRIPTION"};
	struct cli_table *t = cli_table_new(4, headers);
	json_array_foreach (items, i, p) {
		const char *cells[] = {cli_str(p, "key"), cli_str(p, "value"), cli_str(p, "source"),
				       cli_str(p, "description")};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

int cmd_system_property(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body = NULL;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ENGINE : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return list(argc - 1, argv + 1);
	if (strcmp(sub, "get") == 0 || strcmp(sub, "clear") == 0) {
		if (argc != 3)
			return cli_usage_error("system property", "property %s takes one KEY", sub);
		body = json_pack("{s:s}", "key", argv[2]);
	} else if (strcmp(sub, "set") == 0) {
		if (argc != 4)
			return cli_usage_error("system property", "property set takes KEY VALUE");
		body = json_pack("{s:s, s:s}", "key", argv[2], "value", argv[3]);
	} else {
		return cli_usage_error("system property", "unknown command \"property %s\"", sub);
	}
	_cleanup_free_ char *route = xasprintf("property.%s", sub);
	if (cli_call(route, body, &reply, &err) < 0)
		return cli_fail(&err);
	if (strcmp(sub, "get") == 0)
		printf("%s\n", cli_str(reply, "value"));
	return 0;
}
