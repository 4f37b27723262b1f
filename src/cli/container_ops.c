/* container stop | kill | delete | list | inspect | logs | prune | wait */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "json_util.h"
#include "util.h"

/* Runs route for each container named in argv[first..], printing the name
 * given; the exit status is the last failure's. */
static int for_each(int argc, char **argv, int first, const char *route, json_t *extra,
		    const char *verb)
{
	int rc = 0;

	if (first >= argc)
		return cli_usage_error(verb, "%s takes one or more containers", verb);
	for (int i = first; i < argc; i++) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *reply = NULL;
		_cleanup_json_ json_t *body = extra ? json_deep_copy(extra) : json_object();
		json_object_set_new(body, "id", json_string(argv[i]));
		if (cli_call(route, body, &reply, &err) < 0)
			rc = cli_fail(&err);
		else
			printf("%s\n", argv[i]);
	}
	return rc;
}

/* Container names of --all: every container (running ones for stop/kill). */
static char **all_ids(bool running_only)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL, *body = json_pack("{s:b}", "all", !running_only);
	json_t *c;
	size_t i;

	if (cli_call("container.list", body, &reply, &err) < 0) {
		cli_fail(&err);
		return NULL;
	}
	json_t *items = json_object_get(reply, "containers");
	char **ids = xcalloc(json_array_size(items) + 1, sizeof(char *));
	json_array_foreach (items, i, c)
		ids[i] = xstrdup(cli_str(c, "id"));
	return ids;
}

static int run_on_all(const char *route, json_t *extra, const char *verb, bool running_only)
{
	_cleanup_strv_ char **ids = all_ids(running_only);
	int n = 0, rc = 0;

	if (!ids)
		return EXIT_ENGINE;
	while (ids[n])
		n++;
	char **argv = xcalloc(n + 2, sizeof(char *));
	argv[0] = (char *)verb;
	for (int i = 0; i < n; i++)
		argv[i + 1] = ids[i];
	if (n)
		rc = for_each(n + 1, argv, 1, route, extra, verb);
	free(argv);
	return rc;
}

int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"signal", required_argument, NULL, 's'},
					     {"time", required_argument, NULL, 't'},
					     {"timeout", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_json_ json_t *extra = json_object();
	bool all = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+as:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 's':
			json_object_set_new(extra, "signal", json_string(optarg));
			break;
		case 't': {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || t < 0)
				return cli_usage_error("stop", "--time takes seconds");
			json_object_set_new(extra, "timeout", json_integer(t));
			break;
		}
		case 'h':
			printf("Usage: container stop [-a] [-s SIGNAL] [-t SECONDS] CONTAINER...\n"
			       "Sends the image's stop signal (or -s), then SIGKILL after the grace "
			       "time (default 10 s).\n");
			return 0;
		default:
			return cli_usage_error("stop", "bad option");
		}
	}
	if (all)
		return run_on_all("container.stop", extra, "stop", true);
	return for_each(argc, argv, optind, "container.stop", extra, "stop");
}

int cmd_kill(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"signal", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_json_ json_t *extra = json_pack("{s:s}", "signal", "KILL");
	bool all = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+as:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 's':
			json_object_set_new(extra, "signal", json_string(optarg));
			break;
		case 'h':
			printf("Usage: container kill [-a] [-s SIGNAL] CONTAINER...\n");
			return 0;
		default:
			return cli_usage_error("kill", "bad option");
		}
	}
	if (all)
		return run_on_all("container.kill", extra, "kill", true);
	return for_each(argc, argv, optind, "container.kill", extra, "kill");
}

int cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"force", no_argument, NULL, 'f'},
					     {"volumes", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_json_ json_t *extra = json_object();
	bool all = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+afvh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'f':
			json_object_set_new(extra, "force", json_true());
			break;
		case 'v':
			json_object_set_new(extra, "volumes", json_true());
			break;
		case 'h':
			printf("Usage: container delete [-a] [-f] [-v] CONTAINER...\n"
			       "  -v, --volumes   also delete the container's anonymous volumes\n");
			return 0;
		default:
			return cli_usage_error("delete", "bad option");
		}
	}
	if (all)
		return run_on_all("container.delete", extra, "delete", false);
	return for_each(argc, argv, optind, "container.delete", extra, "delete");
}

/* The first network's address without its prefix length ("10.89.0.2"), or "". */
static void format_address(json_t *ct, char *buf, size_t size)
{
	const char *addr = cli_str(json_array_get(json_object_get(ct, "networks"), 0), "address");

	snprintf(buf, size, "%.*s", (int)strcspn(addr, "/"), addr);
}

/* PORT or FIRST-LAST for a range of count ports. */
static void print_port_range(FILE *f, json_int_t first, json_int_t count)
{
	if (count > 1)
		fprintf(f, "%lld-%lld", (long long)first, (long long)(first + count - 1));
	else
		fprintf(f, "%lld", (long long)first);
}

/* Published ports as docker prints them: "0.0.0.0:8080->80/tcp,
 * 127.0.0.1:8000-8010->80-90/tcp" (an empty host address is every address). */
static char *format_ports(json_t *ports)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	json_t *p;
	size_t i;

	if (!f)
		return xstrdup("");
	json_array_foreach (ports, i, p) {
		const char *ip = cli_str(p, "hostIp"), *proto = cli_str(p, "proto");
		json_int_t count = json_integer_value(json_object_get(p, "count"));
		bool v6 = strchr(ip, ':') != NULL;
		if (count < 1)
			count = 1;
		fprintf(f, "%s%s%s%s:", i ? ", " : "", v6 ? "[" : "", *ip ? ip : "0.0.0.0",
			v6 ? "]" : "");
		print_port_range(f, json_integer_value(json_object_get(p, "hostPort")), count);
		fputs("->", f);
		print_port_range(f, json_integer_value(json_object_get(p, "containerPort")), count);
		fprintf(f, "/%s", *proto ? proto : "tcp");
	}
	fclose(f);
	return out;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"format", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format = FORMAT_TABLE;
	bool all = false, quiet = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'f':
			if (cli_parse_format(optarg, &format) < 0)
				return EXIT_ENGINE;
			break;
		case 'h':
			printf("Usage: container list [-a] [-q] [--format json|table]\n"
			       "Columns: ID NAME IMAGE OS ARCH STATE ADDR PORTS (ADDR and PORTS "
			       "while running)\n");
			return 0;
		default:
			return cli_usage_error("list", "bad option");
		}
	}
	_cleanup_json_ json_t *body = json_pack("{s:b}", "all", all);
	if (cli_call("container.list", body, &reply, &err) < 0)
		return cli_fail(&err);
	json_t *items = json_object_get(reply, "containers"), *ct;
	size_t i;
	if (format == FORMAT_JSON) {
		cli_print_json(items);
		return 0;
	}
	if (quiet) {
		json_array_foreach (items, i, ct)
			printf("%.12s\n", cli_str(ct, "id"));
		return 0;
	}
	static const char *const headers[] = {"ID",	"NAME",	 "IMAGE", "OS",
					      "ARCH", "STATE", "ADDR",	 "PORTS"};
	struct cli_table *t = cli_table_new(8, headers);
	json_array_foreach (items, i, ct) {
		json_t *st = json_object_get(ct, "state");
		char id[16], state[64], addr[64];
		_cleanup_free_ char *ports = format_ports(json_object_get(ct, "ports"));
		snprintf(id, sizeof(id), "%.12s", cli_str(ct, "id"));
		const char *status = cli_str(st, "status");
		if (strcmp(status, "stopped") == 0)
			snprintf(state, sizeof(state), "stopped (%lld)",
				 (long long)json_integer_value(json_object_get(st, "exitCode")));
		else
			snprintf(state, sizeof(state), "%s", status);
		format_address(ct, addr, sizeof(addr));
		const char *cells[] = {id,	  cli_str(ct, "name"),	   cli_str(ct, "image"),
				       cli_str(ct, "os"), cli_str(ct, "architecture"), state,
				       addr,		  ports};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	_cleanup_json_ json_t *out = json_array();
	int rc = 0;

	if (argc < 2)
		return cli_usage_error("inspect", "inspect takes one or more containers");
	for (int i = 1; i < argc; i++) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *body = json_pack("{s:s}", "id", argv[i]);
		json_t *reply = NULL;
		if (cli_call("container.inspect", body, &reply, &err) < 0) {
			rc = cli_fail(&err);
			continue;
		}
		json_array_append_new(out, reply);
	}
	if (json_array_size(out))
		cli_print_json(out);
	return rc;
}

int cmd_wait(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2)
		return cli_usage_error("wait", "wait takes one or more containers");
	for (int i = 1; i < argc; i++) {
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		_cleanup_json_ json_t *body = json_pack("{s:s}", "id", argv[i]), *reply = NULL;
		if (cli_call("container.wait", body, &reply, &err) < 0) {
			rc = cli_fail(&err);
			continue;
		}
		printf("%lld\n", (long long)json_integer_value(json_object_get(reply, "exitCode")));
	}
	return rc;
}

/* One CRI log line "TIME STREAM F|P TEXT": prints TEXT (and the newline for F)
 * to stdout or stderr as the container wrote it. */
static void print_log_line(const char *line, bool timestamps)
{
	const char *s1 = strchr(line, ' ');
	const char *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
	const char *s3 = s2 ? strchr(s2 + 1, ' ') : NULL;

	if (!s3)
		return;
	FILE *out = strncmp(s1 + 1, "stderr", 6) == 0 ? stderr : stdout;
	bool full = s2[1] == 'F';
	size_t len = strcspn(s3 + 1, "\n");
	if (timestamps)
		fprintf(out, "%.*s ", (int)(s1 - line), line);
	fwrite(s3 + 1, 1, len, out);
	if (full)
		fputc('\n', out);
}

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
					     {"tail", required_argument, NULL, 'n'},
					     {"timestamps", no_argument, NULL, 'T'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	bool follow = false, timestamps = false;
	long tail = -1;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+fn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 'n': {
			char *end;
			tail = strtol(optarg, &end, 10);
			if (*end || tail < 0)
				return cli_usage_error("logs", "-n takes a number of lines");
			break;
		}
		case 'T':
			timestamps = true;
			break;
		case 'h':
			printf("Usage: container logs [-f] [-n N] [--timestamps] CONTAINER\n");
			return 0;
		default:
			return cli_usage_error("logs", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("logs", "logs takes one container");
	_cleanup_json_ json_t *body = json_pack("{s:s}", "id", argv[optind]), *reply = NULL;
	struct ct_client client;
	int fd = -1;
	size_t nfds = 0;
	if (cli_connect(&client, &err) < 0)
		return cli_fail(&err);
	struct ct_call_options call = {.reply_fds = &fd, .reply_nfds = &nfds};
	int rc = ct_client_call(&client, "container.logs", body, &reply, &call, &err);
	ct_client_close(&client);
	if (rc < 0)
		return cli_fail(&err);
	if (nfds != 1)
		return cli_failf("the API server sent no log");
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	/* -n N: the last N lines. Read once to count, then print from there. */
	long skip = 0;
	if (tail >= 0) {
		long total = 0;
		while (getline(&line, &cap, f) > 0)
			total++;
		skip = total > tail ? total - tail : 0;
		rewind(f);
	}
	for (long n = 0; getline(&line, &cap, f) > 0; n++)
		if (n >= skip)
			print_log_line(line, timestamps);
	fflush(stdout);
	while (follow) {
		/* Until the container stops: poll its state and the file. */
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		clearerr(f);
		bool got = false;
		while (getline(&line, &cap, f) > 0) {
			print_log_line(line, timestamps);
			got = true;
		}
		if (got) {
			fflush(stdout);
			fflush(stderr);
			continue;
		}
		_cleanup_json_ json_t *st = NULL, *q = json_pack("{s:s}", "id", argv[optind]);
		_cleanup_error_ struct ct_error e2 = CT_ERROR_INIT;
		if (cli_call("container.inspect", q, &st, &e2) < 0 ||
		    strcmp(cli_str(json_object_get(st, "state"), "status"), "running") != 0) {
			clearerr(f);
			while (getline(&line, &cap, f) > 0)
				print_log_line(line, timestamps);
			break;
		}
	}
	return 0;
}

int cmd_prune(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	json_t *d;
	size_t i;

	if (cli_call("container.prune", NULL, &reply, &err) < 0)
		return cli_fail(&err);
	json_array_foreach (json_object_get(reply, "deleted"), i, d)
		printf("Deleted: %s\n", json_string_value(d));
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {{"detach", no_argument, NULL, 'd'},
					     {"interactive", no_argument, NULL, 'i'},
					     {"tty", no_argument, NULL, 't'},
					     {"env", required_argument, NULL, 'e'},
					     {"user", required_argument, NULL, 'u'},
					     {"workdir", required_argument, NULL, 'w'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL, *body = json_object(), *env = json_array();
	bool detach = false, interactive = false, tty = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+dite:u:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			detach = true;
			break;
		case 'i':
			interactive = true;
			break;
		case 't':
			tty = true;
			break;
		case 'e':
			if (strchr(optarg, '=')) {
				json_array_append_new(env, json_string(optarg));
			} else if (getenv(optarg)) {
				_cleanup_free_ char *kv = xasprintf("%s=%s", optarg, getenv(optarg));
				json_array_append_new(env, json_string(kv));
			}
			break;
		case 'u':
			json_object_set_new(body, "user", json_string(optarg));
			break;
		case 'w':
			json_object_set_new(body, "cwd", json_string(optarg));
			break;
		case 'h':
			printf("Usage: container exec [-d] [-i] [-e K=V] [-u USER] [-w DIR] CONTAINER "
			       "COMMAND [ARG...]\n");
			return 0;
		default:
			return cli_usage_error("exec", "bad option");
		}
	}
	if (optind + 2 > argc)
		return cli_usage_error("exec", "exec takes a container and a command");
	json_t *args = json_array();
	for (int i = optind + 1; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	json_object_set_new(body, "id", json_string(argv[optind]));
	json_object_set_new(body, "args", args);
	json_object_set(body, "env", env);
	json_object_set_new(body, "detach", json_boolean(detach));
	json_object_set_new(body, "interactive", json_boolean(interactive && !detach));
	json_object_set_new(body, "tty", json_boolean(tty));
	struct winsize ws;
	if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		json_object_set_new(body, "rows", json_integer(ws.ws_row));
		json_object_set_new(body, "cols", json_integer(ws.ws_col));
	}

	int fds[3], n = 0;
	if (interactive && !detach)
		fds[n++] = STDIN_FILENO;
	if (!detach) {
		fds[n++] = STDOUT_FILENO;
		fds[n++] = STDERR_FILENO;
	}
	struct ct_client client;
	if (cli_connect(&client, &err) < 0)
		return cli_fail(&err);
	struct ct_call_options call = {.fds = fds, .nfds = n};
	struct termios saved, raw;
	bool restore = false;
	if (tty && interactive && !detach && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST;
		restore = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0;
	}
	int rc = ct_client_call(&client, "container.exec", body, &reply, &call, &err);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	ct_client_close(&client);
	if (rc < 0)
		return cli_fail(&err);
	if (detach)
		return 0;
	return (int)json_integer_value(json_object_get(reply, "exitCode"));
}
