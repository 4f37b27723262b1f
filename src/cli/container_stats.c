/* container stats [--no-stream] [--format json|table] [CONTAINER...]: CPU %,
 * memory use/limit, pids and block I/O from each container's cgroup. CPU % is
 * the CPU time used between two samples over the wall time between them
 * (100% = one core), as docker shows it. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "json_util.h"
#include "util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static json_t *running_ids(void)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	json_t *ids = json_array(), *c;
	size_t i;

	if (cli_call("container.list", NULL, &reply, &err) == 0)
		json_array_foreach (json_object_get(reply, "containers"), i, c)
			json_array_append(ids, json_object_get(c, "name"));
	return ids;
}

/* One sample per container: {name: stats}; missing ones are left out. */
static json_t *sample(json_t *ids)
{
	json_t *out = json_object(), *id;
	size_t i;

	json_array_foreach (ids, i, id) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *body = json_pack("{s:O}", "id", id);
		json_t *reply = NULL;
		if (cli_call("container.stats", body, &reply, &err) == 0)
			json_object_set_new(out, json_string_value(id), reply);
	}
	return out;
}

static int64_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static json_t *combine(json_t *before, json_t *after)
{
	json_t *rows = json_array(), *now;
	const char *name;

	json_object_foreach (after, name, now) {
		json_t *then = json_object_get(before, name);
		double cpu = 0;
		if (then) {
			double dt = (double)(num(now, "timestampNs") - num(then, "timestampNs"));
			double du = (double)(num(now, "cpuUsageNs") - num(then, "cpuUsageNs"));
			cpu = dt > 0 ? du / dt * 100.0 : 0;
		}
		json_t *row = json_deep_copy(now);
		json_object_set_new(row, "name", json_string(name));
		json_object_set_new(row, "cpuPercent", json_real(cpu));
		json_array_append_new(rows, row);
	}
	return rows;
}

static void print_table(json_t *rows)
{
	static const char *const headers[] = {"NAME",	  "CPU %",     "MEM USAGE / LIMIT", "MEM %",
					      "NET I/O", "BLOCK I/O", "PIDS"};
	struct cli_table *t = cli_table_new(7, headers);
	json_t *r;
	size_t i;

	json_array_foreach (rows, i, r) {
		char cpu[16], mem[48], memp[16], net[48], blk[48], pids[24], a[16], b[16];
		snprintf(cpu, sizeof(cpu), "%.2f%%", json_real_value(json_object_get(r, "cpuPercent")));
		format_size(num(r, "memoryUsage"), a, sizeof(a));
		format_size(num(r, "memoryLimit"), b, sizeof(b));
		snprintf(mem, sizeof(mem), "%s / %s", a, b);
		snprintf(memp, sizeof(memp), "%.2f%%",
			 num(r, "memoryLimit") ? 100.0 * num(r, "memoryUsage") / num(r, "memoryLimit")
					       : 0.0);
		format_size(num(r, "netRx"), a, sizeof(a));
		format_size(num(r, "netTx"), b, sizeof(b));
		snprintf(net, sizeof(net), "%s / %s", a, b);
		format_size(num(r, "blockRead"), a, sizeof(a));
		format_size(num(r, "blockWrite"), b, sizeof(b));
		snprintf(blk, sizeof(blk), "%s / %s", a, b);
		snprintf(pids, sizeof(pids), "%lld", (long long)num(r, "pidsCurrent"));
		const char *cells[] = {json_string_value(json_object_get(r, "name")), cpu, mem, memp,
				       net, blk, pids};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {{"no-stream", no_argument, NULL, 'n'},
					     {"format", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	enum cli_format format = FORMAT_TABLE;
	bool stream = true;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			stream = false;
			break;
		case 'f':
			if (cli_parse_format(optarg, &format) < 0)
				return EXIT_ENGINE;
			break;
		case 'h':
			printf("Usage: container stats [--no-stream] [--format json|table] "
			       "[CONTAINER...]\n");
			return 0;
		default:
			return cli_usage_error("stats", "bad option");
		}
	}
	json_t *ids = json_array();
	for (int i = optind; i < argc; i++)
		json_array_append_new(ids, json_string(argv[i]));
	if (!json_array_size(ids)) {
		json_decref(ids);
		ids = running_ids();
	}
	if (format == FORMAT_JSON)
		stream = false;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	json_t *before = sample(ids);
	int rc = 0;
	do {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
		if (stop_requested)
			break;
		json_t *after = sample(ids);
		json_t *rows = combine(before, after);
		if (format == FORMAT_JSON) {
			cli_print_json(rows);
		} else {
			if (stream)
				printf("\033[H\033[2J");
			print_table(rows);
			fflush(stdout);
		}
		if (json_array_size(ids) && !json_array_size(rows) && optind < argc) {
			rc = cli_failf("none of the containers is running");
			stream = false;
		}
		json_decref(rows);
		json_decref(before);
		before = after;
	} while (stream && !stop_requested);
	json_decref(before);
	json_decref(ids);
	return rc;
}
