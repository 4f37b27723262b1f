/* Helpers shared by the command files: errors, connecting, output. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "proto.h"
#include "format.h"
#include "json_util.h"
#include "util.h"

int cli_fail(const struct ct_error *err)
{
	fprintf(stderr, "container: error: %s\n", ct_error_message(err));
	return ct_error_exit_code(err->code);
}

int cli_failf(const char *fmt, ...)
{
	va_list ap;

	fputs("container: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ENGINE;
}

int cli_reportf(const char *fmt, ...)
{
	va_list ap;

	fputs("container: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("container: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nSee 'container %s --help'.\n", command);
	return EXIT_ENGINE;
}

int cli_connect(struct ct_client *client, struct ct_error *err)
{
	if (ct_client_connect(client, cli.socket_path, err) == 0)
		return 0;
	if (ct_error_is(err, CT_ERR_UNAVAILABLE))
		return ct_error_set(
		    err, CT_ERR_UNAVAILABLE, err->errnum,
		    "cannot reach container-apiserver at %s — run `container system "
		    "start`",
		    cli.socket_path);
	if (ct_error_is(err, CT_ERR_PERMISSION_DENIED))
		return ct_error_set(
		    err, CT_ERR_PERMISSION_DENIED, err->errnum,
		    "permission denied connecting to container-apiserver at %s: run "
		    "as root or as a member of the group \"container\"",
		    cli.socket_path);
	return -1;
}

int cli_call(const char *route, json_t *body, json_t **reply, struct ct_error *err)
{
	struct ct_client client;
	int rc;

	if (cli_connect(&client, err) < 0)
		return -1;
	rc = ct_client_call(&client, route, body, reply, NULL, err);
	ct_client_close(&client);
	return rc;
}

int cli_parse_format(const char *value, enum cli_format *out)
{
	if (strcmp(value, "table") == 0)
		*out = FORMAT_TABLE;
	else if (strcmp(value, "json") == 0)
		*out = FORMAT_JSON;
	else
		return cli_reportf("--format must be \"json\" or \"table\", not \"%s\"", value);
	return 0;
}

int cli_list_options(int argc, char **argv, const char *group, const char *command,
		     void (*help)(FILE *out), enum cli_format *format, bool *quiet)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	*format = FORMAT_TABLE;
	*quiet = false;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (cli_parse_format(optarg, format) < 0)
				return EXIT_ENGINE;
			break;
		case 'q':
			*quiet = true;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error(group, "bad option for %s %s", group, command);
		}
	}
	if (optind < argc)
		return cli_usage_error(group, "%s %s takes no arguments", group, command);
	return -1;
}

void cli_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

struct cli_table {
	size_t ncols, nrows;
	char **cells; /* (nrows + 1) * ncols, row 0 the headers */
};

struct cli_table *cli_table_new(size_t ncols, const char *const *headers)
{
	struct cli_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	cli_table_add(t, headers);
	return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	t->cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	if (!t->cells)
		abort();
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "");
	t->nrows++;
}

void cli_table_print(struct cli_table *t, FILE *out)
{
	_cleanup_free_ size_t *width = xcalloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = strlen(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(out, "%s", cell);
			else
				fprintf(out, "%-*s  ", (int)width[c], cell);
		}
		fputc('\n', out);
	}
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int cli_add_label(json_t *labels, const char *kv)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *key = eq ? xstrndup(kv, eq - kv) : xstrdup(kv);

	if (!*key)
		return cli_reportf("--label %s: expected KEY=VALUE (or a bare KEY), such as "
				   "team=web",
				   kv);
	json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	return 0;
}

const char *cli_str(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v ? v : "";
}

int cli_list_fetch(const char *route, const char *key, enum cli_format format, bool quiet,
		   const char *name_key, json_t **reply, json_t **items)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *item;
	size_t i;

	if (cli_call(route, NULL, reply, &err) < 0)
		return cli_fail(&err);
	*items = json_object_get(*reply, key);
	if (!json_is_array(*items)) {
		json_object_set_new(*reply, key, json_array());
		*items = json_object_get(*reply, key);
	}
	if (format == FORMAT_JSON) {
		cli_print_json(*items);
		return 1;
	}
	if (quiet) {
		json_array_foreach (*items, i, item)
			printf("%s\n", cli_str(item, name_key));
		return 1;
	}
	return 0;
}

int cli_inspect_names(int argc, char **argv, const char *group, const char *route,
		      void (*help)(FILE *out))
{
	_cleanup_json_ json_t *out = json_array();
	int rc = 0;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		help(stdout);
		return 0;
	}
	if (argc < 2)
		return cli_usage_error(group, "%s inspect takes one or more names", group);
	for (int i = 1; i < argc; i++) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *body = json_pack("{s:s}", "name", argv[i]);
		json_t *reply = NULL;
		if (cli_call(route, body, &reply, &err) < 0) {
			rc = cli_fail(&err);
			continue;
		}
		json_array_append_new(out, reply);
	}
	if (json_array_size(out))
		cli_print_json(out);
	return rc;
}

int cli_prune(int argc, char **argv, const char *group, const char *route, void (*help)(FILE *out))
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	json_t *d;
	size_t i;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		help(stdout);
		return 0;
	}
	if (argc > 1)
		return cli_usage_error(group, "%s prune takes no arguments", group);
	if (cli_call(route, NULL, &reply, &err) < 0)
		return cli_fail(&err);
	json_array_foreach (json_object_get(reply, "deleted"), i, d)
		printf("Deleted: %s\n", json_string_value(d));
	if (json_is_integer(json_object_get(reply, "reclaimed"))) {
		char reclaimed[32];
		format_size(json_integer_value(json_object_get(reply, "reclaimed")), reclaimed,
			    sizeof(reclaimed));
		printf("Total reclaimed space: %s\n", reclaimed);
	}
	return 0;
}

int cli_dispatch(int argc, char **argv, const char *group, const struct cli_subcommand *subs,
		 size_t n, void (*help)(FILE *out))
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ENGINE : 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	return cli_usage_error(group, "unknown command \"%s %s\"", group, argv[1]);
}
