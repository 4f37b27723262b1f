/* container system logs [-f] [--last DURATION]: the log file that the API server
 * and its plugins write (<log root>/container.log). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "util.h"

/* Lines start with an RFC 3339 UTC timestamp, so a cut-off compares as a string.
 * Lines without one (a crash report on a plugin's stderr) follow the verdict of
 * the line before them. */
static bool starts_with_timestamp(const char *line)
{
	return strlen(line) >= 24 && line[4] == '-' && line[10] == 'T' && line[23] == 'Z';
}

static void print_lines(FILE *f, const char *cutoff, bool *showing)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, f)) > 0) {
		if (starts_with_timestamp(line))
			*showing = !cutoff || strncmp(line, cutoff, 24) >= 0;
		if (*showing)
			fwrite(line, 1, n, stdout);
	}
	fflush(stdout);
}

int cmd_system_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"last", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	bool follow = false, showing = true;
	char cutoff[32], *cut = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 'l': {
			int64_t s = ct_parse_duration_seconds(optarg);
			if (s < 0)
				return cli_usage_error("system logs",
						       "--last takes a duration such as 90s, 5m, 2h "
						       "or 1d, not \"%s\"",
						       optarg);
			time_t t = time(NULL) - s;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(cutoff, sizeof(cutoff), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
			cut = cutoff;
			break;
		}
		case 'h':
			printf("Usage: container system logs [-f|--follow] [--last DURATION]\n"
			       "Shows the API server's and its plugins' log.\n");
			return 0;
		default:
			return cli_usage_error("system logs", "bad option");
		}
	}

	/* A running server knows its log root (it may have been started with
	 * --log-root); otherwise use ours. */
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_free_ char *path = NULL;
	if (cli_call("ping", NULL, &reply, &err) == 0)
		path = xasprintf("%s/container.log",
				 json_string_value(json_object_get(reply, "logRoot")));
	else
		path = ct_paths_log_file(&cli.paths);

	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !follow) {
			fprintf(stderr, "container: no log yet at %s\n", path);
			return 0;
		}
		if (errno != ENOENT)
			return cli_failf("opening %s: %s", path, strerror(errno));
	}
	if (f)
		print_lines(f, cut, &showing);
	while (follow) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
		struct stat now, open_st;
		if (stat(path, &now) < 0)
			continue;
		/* Reopen when the file was replaced or truncated. */
		if (!f || fstat(fileno(f), &open_st) < 0 || open_st.st_ino != now.st_ino ||
		    now.st_size < ftell(f)) {
			if (f)
				fclose(f);
			f = fopen(path, "re");
			if (!f)
				continue;
		}
		clearerr(f);
		print_lines(f, NULL, &showing);
	}
	return 0;
}
