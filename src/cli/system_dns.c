/* container system dns create DOMAIN | delete DOMAIN... | list */
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "util.h"

static void help(FILE *out)
{
	fprintf(out, "Usage: container system dns COMMAND\n"
		     "\n"
		     "Containers answer as NAME.DOMAIN, from the host and from other containers.\n"
		     "\n"
		     "Commands:\n"
		     "  create DOMAIN                    Add a local DNS domain\n"
		     "  delete, rm DOMAIN...             Remove local DNS domains\n"
		     "  list, ls [--format json|table] [-q]\n"
		     "                                   DOMAIN DEFAULT (the default is the\n"
		     "                                   property dns.domain)\n");
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

static int create(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;

	if (wants_help(argc, argv)) {
		help(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_error("system dns", "system dns create takes one DOMAIN");
	_cleanup_json_ json_t *body = json_pack("{s:s}", "domain", argv[1]);
	if (cli_call("dns.create", body, &reply, &err) < 0)
		return cli_fail(&err);
	printf("created %s\n", cli_str(reply, "domain"));
	const char *hint = cli_str(reply, "hint");
	if (*hint)
		printf("%s%s", hint, hint[strlen(hint) - 1] == '\n' ? "" : "\n");
	return 0;
}

static int delete (int argc, char **argv)
{
	int rc = 0;

	if (wants_help(argc, argv)) {
		help(stdout);
		return 0;
	}
	if (argc < 2)
		return cli_usage_error("system dns", "system dns delete takes one or more DOMAINs");
	for (int i = 1; i < argc; i++) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *reply = NULL;
		_cleanup_json_ json_t *body = json_pack("{s:s}", "domain", argv[i]);
		if (cli_call("dns.delete", body, &reply, &err) < 0) {
			rc = cli_fail(&err);
			continue;
		}
		printf("deleted %s\n", cli_str(reply, "domain"));
	}
	return rc;
}

static int list(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format;
	bool quiet;
	int rc = cli_list_options(argc, argv, "system dns", "list", help, &format, &quiet);

	if (rc >= 0)
		return rc;
	json_t *items, *d;
	size_t i;
	rc = cli_list_fetch("dns.list", "domains", format, quiet, "domain", &reply, &items);
	if (rc > 0)
		return rc == 1 ? 0 : rc;
	static const char *const headers[] = {"DOMAIN", "DEFAULT"};
	struct cli_table *t = cli_table_new(2, headers);
	json_array_foreach (items, i, d) {
		const char *cells[] = {cli_str(d, "domain"),
				       json_is_true(json_object_get(d, "default")) ? "yes" : "no"};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

int cmd_system_dns(int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
	    {"create", create}, {"delete", delete}, {"rm", delete}, {"list", list}, {"ls", list},
	};

	return cli_dispatch(argc, argv, "system dns", subs, ARRAY_SIZE(subs), help);
}
