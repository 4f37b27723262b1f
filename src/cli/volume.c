/* container volume create | delete | list | inspect | prune */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "json_util.h"
#include "util.h"

static void help(FILE *out)
{
	fprintf(out, "Usage: container volume COMMAND\n"
		     "\n"
		     "Commands:\n"
		     "  create NAME [-l KEY=VALUE]... [-o size=SIZE]\n"
		     "                  Create a volume; size (64m, 1g) limits it: writes past it\n"
		     "                  fail with \"No space left on device\"\n"
		     "  delete, rm [-a] NAME...\n"
		     "                  Delete volumes no container uses (-a: every volume)\n"
		     "  list, ls [--format json|table] [-q]\n"
		     "                  NAME DRIVER SIZE LIMIT CREATED\n"
		     "  inspect NAME... Show volumes as JSON\n"
		     "  prune           Delete every volume no container uses, anonymous ones too\n"
		     "\n"
		     "Containers use volumes with `container run -v NAME:/path[:ro]` (made when\n"
		     "missing), `-v /path` (an anonymous volume) or `--mount type=volume,...`.\n");
}

static int create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"label", required_argument, NULL, 'l'},
	    {"opt", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body = json_object();
	json_t *labels = json_object(), *options = json_object();
	int c;

	json_object_set_new(body, "labels", labels);
	json_object_set_new(body, "options", options);
	optind = 0;
	while ((c = getopt_long(argc, argv, "l:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cli_add_label(labels, optarg) < 0)
				return EXIT_ENGINE;
			break;
		case 'o': {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1])
				return cli_failf("--opt %s: expected KEY=VALUE, such as size=64m",
						 optarg);
			_cleanup_free_ char *key = xstrndup(optarg, eq - optarg);
			json_object_set_new(options, key, json_string(eq + 1));
			break;
		}
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("volume", "bad option for volume create");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("volume", "volume create takes one NAME");
	json_object_set_new(body, "name", json_string(argv[optind]));
	if (cli_call("volume.create", body, &reply, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", cli_str(reply, "name"));
	return 0;
}

static int delete_one(const char *name)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body = json_pack("{s:s}", "name", name);

	if (cli_call("volume.delete", body, &reply, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", name);
	return 0;
}

static int delete (int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	bool all = false;
	int c, rc = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("volume", "bad option for volume delete");
		}
	}
	if (all && optind < argc)
		return cli_usage_error("volume", "volume delete takes NAME... or --all, not both");
	if (all) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *reply = NULL;
		json_t *v;
		size_t i;
		if (cli_call("volume.list", NULL, &reply, &err) < 0)
			return cli_fail(&err);
		json_array_foreach (json_object_get(reply, "volumes"), i, v) {
			int one = delete_one(cli_str(v, "name"));
			if (one)
				rc = one;
		}
		return rc;
	}
	if (optind >= argc)
		return cli_usage_error("volume",
				       "volume delete takes one or more volumes, or --all");
	for (int i = optind; i < argc; i++) {
		int one = delete_one(argv[i]);
		if (one)
			rc = one;
	}
	return rc;
}

static int list(int argc, char **argv)
{
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format;
	bool quiet;
	int rc = cli_list_options(argc, argv, "volume", "list", help, &format, &quiet);

	if (rc >= 0)
		return rc;
	json_t *items, *v;
	size_t i;
	rc = cli_list_fetch("volume.list", "volumes", format, quiet, "name", &reply, &items);
	if (rc > 0)
		return rc == 1 ? 0 : rc;
	static const char *const headers[] = {"NAME", "DRIVER", "SIZE", "LIMIT", "CREATED"};
	struct cli_table *t = cli_table_new(5, headers);
	json_array_foreach (items, i, v) {
		char ago[32], size[32], limit[32] = "-";
		format_ago(cli_str(v, "createdAt"), ago, sizeof(ago));
		format_size(json_integer_value(json_object_get(v, "size")), size, sizeof(size));
		if (json_is_integer(json_object_get(v, "sizeLimit")))
			format_size(json_integer_value(json_object_get(v, "sizeLimit")), limit,
				    sizeof(limit));
		const char *cells[] = {cli_str(v, "name"), cli_str(v, "driver"), size, limit, ago};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

static int inspect(int argc, char **argv)
{
	return cli_inspect_names(argc, argv, "volume", "volume.inspect", help);
}

static int prune(int argc, char **argv)
{
	return cli_prune(argc, argv, "volume", "volume.prune", help);
}

int cmd_volume(int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
	    {"create", create}, {"delete", delete},   {"rm", delete},	{"list", list},
	    {"ls", list},	{"inspect", inspect}, {"prune", prune},
	};

	return cli_dispatch(argc, argv, "volume", subs, ARRAY_SIZE(subs), help);
}
