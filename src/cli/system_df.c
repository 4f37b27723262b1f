/* container system df [-v] [--format json|table]: disk use of images,
 * containers and volumes, and what a prune would give back. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "json_util.h"
#include "util.h"

static const char *const type_labels[][2] = {
	{"images", "Images"}, {"containers", "Containers"}, {"volumes", "Local Volumes"}};

static void print_summary(json_t *items)
{
	static const char *const headers[] = {"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"};
	struct cli_table *t = cli_table_new(5, headers);
	json_t *it;
	size_t i;

	json_array_foreach (items, i, it) {
		const char *type = cli_str(it, "type");
		for (size_t k = 0; k < sizeof(type_labels) / sizeof(type_labels[0]); k++)
			if (strcmp(type, type_labels[k][0]) == 0)
				type = type_labels[k][1];
		int64_t size = json_integer_value(json_object_get(it, "size"));
		int64_t reclaim = json_integer_value(json_object_get(it, "reclaimable"));
		char total[24], active[24], sz[24], rc[24], reclaimable[48];
		snprintf(total, sizeof(total), "%lld",
			 (long long)json_integer_value(json_object_get(it, "total")));
		snprintf(active, sizeof(active), "%lld",
			 (long long)json_integer_value(json_object_get(it, "active")));
		format_size(size, sz, sizeof(sz));
		format_size(reclaim, rc, sizeof(rc));
		snprintf(reclaimable, sizeof(reclaimable), "%s (%lld%%)", rc,
			 size > 0 ? (long long)(reclaim * 100 / size) : 0LL);
		const char *cells[] = {type, total, active, sz, reclaimable};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
}

static void print_items(json_t *reply)
{
	json_t *it;
	size_t i;
	char sz[24];

	printf("\nImages space usage:\n\n");
	static const char *const ih[] = {"IMAGE", "DIGEST", "SIZE", "IN USE"};
	struct cli_table *t = cli_table_new(4, ih);
	json_array_foreach (json_object_get(reply, "images"), i, it) {
		_cleanup_free_ char *names = NULL;
		json_t *n;
		size_t k;
		json_array_foreach (json_object_get(it, "names"), k, n) {
			char *joined = names ? xasprintf("%s, %s", names, json_string_value(n))
					     : xstrdup(json_string_value(n));
			free(names);
			names = joined;
		}
		format_size(json_integer_value(json_object_get(it, "size")), sz, sizeof(sz));
		const char *digest = cli_str(it, "digest");
		char short_digest[20];
		snprintf(short_digest, sizeof(short_digest), "%.19s", digest);
		const char *cells[] = {names ? names : "", short_digest, sz,
				       json_is_true(json_object_get(it, "inUse")) ? "yes" : "no"};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);

	printf("\nContainers space usage:\n\n");
	static const char *const ch[] = {"CONTAINER ID", "NAME", "IMAGE", "SIZE", "STATE"};
	t = cli_table_new(5, ch);
	json_array_foreach (json_object_get(reply, "containers"), i, it) {
		char id[13];
		snprintf(id, sizeof(id), "%.12s", cli_str(it, "id"));
		format_size(json_integer_value(json_object_get(it, "size")), sz, sizeof(sz));
		const char *cells[] = {id, cli_str(it, "name"), cli_str(it, "image"), sz,
				       json_is_true(json_object_get(it, "running")) ? "running"
										   : "stopped"};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);

	printf("\nLocal Volumes space usage:\n\n");
	static const char *const vh[] = {"VOLUME NAME", "LINKS", "SIZE"};
	t = cli_table_new(3, vh);
	json_array_foreach (json_object_get(reply, "volumes"), i, it) {
		char links[16];
		snprintf(links, sizeof(links), "%zu", json_array_size(json_object_get(it, "usedBy")));
		format_size(json_integer_value(json_object_get(it, "size")), sz, sizeof(sz));
		const char *cells[] = {cli_str(it, "name"), links, sz};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
}

int cmd_system_df(int argc, char **argv)
{
	static const struct option opts[] = {{"verbose", no_argument, NULL, 'v'},
					     {"format", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format = FORMAT_TABLE;
	bool verbose = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose = true;
			break;
		case 'f':
			if (cli_parse_format(optarg, &format) < 0)
				return EXIT_ENGINE;
			break;
		case 'h':
			printf("Usage: container system df [-v] [--format json|table]\n\n"
			       "Disk use of images, containers and volumes: count, active, size and\n"
			       "what `image prune -a`, `container prune` and `volume prune` give back.\n"
			       "  -v, --verbose   each image, container and volume too\n");
			return 0;
		default:
			return cli_usage_error("system df", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error("system df", "unexpected argument %s", argv[optind]);
	_cleanup_json_ json_t *body = json_pack("{s:b}", "verbose", verbose || format == FORMAT_JSON);
	if (cli_call("system.df", body, &reply, &err) < 0)
		return cli_fail(&err);
	if (format == FORMAT_JSON) {
		cli_print_json(reply);
		return 0;
	}
	print_summary(json_object_get(reply, "summary"));
	if (verbose)
		print_items(reply);
	return 0;
}
