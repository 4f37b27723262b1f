/* ct-call: a protocol client for tests and benchmarks (not installed).
 *
 *   ct-call [--socket PATH] ROUTE [JSON-BODY]    one call; prints progress frames
 *                                                and the reply as JSON lines
 *     --pass-fd N       send descriptor N with the request
 *     --read-reply-fds  print what can be read from descriptors in the reply
 *   ct-call [--socket PATH] --raw FILE [--wait-ms N]
 *                        send FILE's bytes as they are, print every frame that
 *                        comes back until the server closes or N ms pass
 *   ct-call [--socket PATH] --concurrent N ROUTE
 *                        open N connections, send one request on each before
 *                        reading any reply, check every reply; prints "N ok"
 *   ct-call [--socket PATH] --bench N ROUTE
 *                        N sequential calls on one connection; prints the
 *                        median, p99 and mean round trip in microseconds
 * Exit status: 0 on success, 1 on an error reply (printed as JSON on stdout), 2
 * on usage or connection errors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "client.h"
#include "frame.h"
#include "json_util.h"
#include "paths.h"
#include "proto.h"
#include "util.h"

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	fputc('\n', stdout);
	fflush(stdout);
}

static int print_progress(json_t *progress, void *data)
{
	_cleanup_json_ json_t *j = json_pack("{s:O}", "progress", progress);
	print_json(j);
	return 0;
}

static int fail(const char *what, struct ct_error *err)
{
	_cleanup_json_ json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", err->code, "message",
					     ct_error_message(err));
	fprintf(stderr, "ct-call: %s: %s\n", what, ct_error_message(err));
	print_json(j);
	return 1;
}

static int raw_mode(const char *socket_path, const char *file, int wait_ms)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *data = NULL;
	size_t len = 0, off = 0;
	struct ct_client c;

	if (ct_read_file(file, 64u << 20, &data, &len, &err) < 0 ||
	    ct_client_connect(&c, socket_path, &err) < 0) {
		fprintf(stderr, "ct-call: %s\n", ct_error_message(&err));
		return 2;
	}
	while (off < len) {
		ssize_t n = write(c.fd, data + off, len - off);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = c.fd, .events = POLLOUT};
			poll(&p, 1, 1000);
			continue;
		}
		if (n < 0) {
			printf("{\"writeError\":\"%s\"}\n", strerror(errno));
			break;
		}
		off += n;
	}
	for (;;) {
		json_t *msg = NULL;
		int rc = ct_frame_recv(c.fd, CT_FRAME_MAX_DEFAULT, wait_ms, &msg, NULL, NULL, &err);
		if (rc < 0) {
			printf("{\"end\":\"%s\"}\n", err.code);
			break;
		}
		print_json(msg);
		json_decref(msg);
	}
	ct_client_close(&c);
	return 0;
}

static int concurrent_mode(const char *socket_path, int n, const char *route)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct ct_client *clients = xcalloc(n, sizeof(*clients));
	int ok = 0;

	for (int i = 0; i < n; i++) {
		if (ct_client_connect(&clients[i], socket_path, &err) < 0) {
			fprintf(stderr, "ct-call: client %d: %s\n", i, ct_error_message(&err));
			return 2;
		}
	}
	for (int i = 0; i < n; i++) {
		_cleanup_json_ json_t *req = ct_msg_request(route, i + 1, NULL);
		if (ct_frame_send(clients[i].fd, req, NULL, 0, &err) < 0) {
			fprintf(stderr, "ct-call: client %d: %s\n", i, ct_error_message(&err));
			return 2;
		}
	}
	for (int i = 0; i < n; i++) {
		json_t *msg = NULL;
		struct ct_msg m;
		if (ct_frame_recv(clients[i].fd, CT_FRAME_MAX_DEFAULT, 10000, &msg, NULL, NULL, &err) ==
			    0 &&
		    ct_msg_parse(msg, &m, &err) == 0 && m.kind == CT_MSG_REPLY && m.id == i + 1)
			ok++;
		else
			fprintf(stderr, "ct-call: client %d: %s\n", i,
				err.message ? ct_error_message(&err) : "unexpected reply");
		json_decref(msg);
		ct_client_close(&clients[i]);
	}
	printf("%d ok\n", ok);
	return ok == n ? 0 : 1;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int bench_mode(const char *socket_path, int n, const char *route)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ uint64_t *t = xcalloc(n, sizeof(uint64_t));
	struct ct_client c;
	uint64_t sum = 0;

	if (ct_client_connect(&c, socket_path, &err) < 0) {
		fprintf(stderr, "ct-call: %s\n", ct_error_message(&err));
		return 2;
	}
	for (int i = 0; i < n; i++) {
		json_t *reply = NULL;
		uint64_t start = now_ns();
		if (ct_client_call(&c, route, NULL, &reply, NULL, &err) < 0) {
			ct_client_close(&c);
			return fail(route, &err);
		}
		t[i] = now_ns() - start;
		sum += t[i];
		json_decref(reply);
	}
	ct_client_close(&c);
	qsort(t, n, sizeof(uint64_t), compare_u64);
	printf("{\"calls\":%d,\"median_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f}\n", n,
	       t[n / 2] / 1000.0, t[(n * 99) / 100] / 1000.0, (double)sum / n / 1000.0);
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *default_socket = NULL;
	const char *socket_path = NULL, *raw = NULL;
	int pass_fds[CT_FRAME_MAX_FDS], npass = 0, wait_ms = 2000, concurrent = 0, bench = 0;
	bool read_reply_fds = false;
	char *positional[3] = {NULL};
	int npositional = 0;

	/* Options may stand anywhere; the rest are ROUTE and JSON-BODY. */
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			if (npositional == 2) {
				fprintf(stderr, "ct-call: unexpected argument %s\n", argv[i]);
				return 2;
			}
			positional[npositional++] = argv[i];
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strcmp(argv[i], "--pass-fd") == 0 && i + 1 < argc && npass < CT_FRAME_MAX_FDS)
			pass_fds[npass++] = atoi(argv[++i]);
		else if (strcmp(argv[i], "--read-reply-fds") == 0)
			read_reply_fds = true;
		else if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc)
			raw = argv[++i];
		else if (strcmp(argv[i], "--wait-ms") == 0 && i + 1 < argc)
			wait_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--concurrent") == 0 && i + 1 < argc)
			concurrent = atoi(argv[++i]);
		else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc)
			bench = atoi(argv[++i]);
		else {
			fprintf(stderr, "ct-call: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!socket_path) {
		struct ct_paths paths;
		if (ct_paths_resolve(&paths, NULL, NULL, NULL, &err) < 0) {
			fprintf(stderr, "ct-call: %s\n", ct_error_message(&err));
			return 2;
		}
		default_socket = ct_paths_apiserver_socket(&paths);
		ct_paths_free(&paths);
		socket_path = default_socket;
	}
	if (raw)
		return raw_mode(socket_path, raw, wait_ms);
	if (npositional == 0) {
		fprintf(stderr, "usage: ct-call [--socket PATH] ROUTE [JSON]\n");
		return 2;
	}
	const char *route = positional[0];
	if (concurrent > 0)
		return concurrent_mode(socket_path, concurrent, route);
	if (bench > 0)
		return bench_mode(socket_path, bench, route);

	_cleanup_json_ json_t *body = NULL;
	if (positional[1]) {
		json_error_t jerr;
		body = json_loads(positional[1], 0, &jerr);
		if (!body) {
			fprintf(stderr, "ct-call: body is not JSON: %s\n", jerr.text);
			return 2;
		}
	}
	struct ct_client c;
	if (ct_client_connect(&c, socket_path, &err) < 0)
		return fail("connect", &err);
	int reply_fds[CT_FRAME_MAX_FDS];
	size_t nreply = 0;
	struct ct_call_options opts = {.fds = pass_fds,
				       .nfds = npass,
				       .progress = print_progress,
				       .reply_fds = reply_fds,
				       .reply_nfds = &nreply};
	json_t *reply = NULL;
	int rc = ct_client_call(&c, route, body, &reply, &opts, &err);
	ct_client_close(&c);
	if (rc < 0)
		return fail(route, &err);
	print_json(reply);
	json_decref(reply);
	for (size_t k = 0; k < nreply; k++) {
		if (read_reply_fds) {
			char buf[4096];
			ssize_t n = read(reply_fds[k], buf, sizeof(buf));
			if (n > 0)
				printf("fd%zu: %.*s", k, (int)n, buf);
		}
		close(reply_fds[k]);
	}
	return 0;
}
