/* hostile-client: attacks a protocol server while a well-behaved client measures
 * its ping round trip (tests and benchmarks only; not installed).
 *
 *   hostile-client [--socket PATH] [--mix LIST] [--attackers K] [--duration S]
 *                  [--idle-pings N] [--ping-timeout-ms MS] [--fresh] [--pid PID]
 *                  [--fd-settle-ms MS]
 *
 * LIST is a comma-separated subset of (default: all but idle):
 *   garbage     random bytes, then hang up
 *   half        half a frame (header or body), then stall with the connection open
 *   huge        a length prefix of 0xFFFFFFFF or one byte over the 4 MiB limit
 *   fds         valid requests (ping, container.list, an unknown route) carrying
 *               200 descriptors (/dev/null and a pipe), also on half frames
 *   midclose    part of a frame, then an immediate close
 *   disconnect  a slow request (image.pull from a registry that isn't there,
 *               container.list), then an immediate close
 *   noread      requests pipelined as fast as the server takes them, replies
 *               never read, the connection held
 *   idle        as many idle connections as the descriptor limit allows, held
 *   dns         bursts of 256 UDP queries for <random>.test to the API server's
 *               DNS server ($CONTAINER_DNS_ADDRESS, default 127.0.0.1:2053), as
 *               fast as the socket takes them, replies never read
 *   all         everything above
 *
 * K attacker threads each run the mix for S seconds. Meanwhile the main thread
 * pings: first N pings before the attack (idle), then pings for as long as the
 * attack runs. --fresh connects anew for every ping (what a CLI command does);
 * otherwise one connection serves the idle pings and another, opened as the
 * attack starts, all the others. A ping fails when it gets an error or no reply
 * within --ping-timeout-ms (2000).
 *
 * With --pid, the server's open descriptors (/proc/PID/fd) are counted before the
 * attack and, after it, polled for up to --fd-settle-ms (5000) until they are
 * back at that level.
 *
 * Prints one JSON line:
 *   {"mix":…, "attackers":K, "durationS":S, "attacks":N,
 *    "idle":{"pings":…, "failed":…, "medianUs":…, "p99Us":…, "maxUs":…},
 *    "attack":{…same…}, "fds":{"idle":…, "after":…}}
 * Exit status: 0 when every ping was answered in time (and, with --pid, the
 * descriptors came back to the idle level), 1 otherwise, 2 on usage errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "cleanup.h"
#include "client.h"
#include "frame.h"
#include "json_util.h"
#include "paths.h"
#include "proto.h"
#include "util.h"

enum attack {
	ATTACK_GARBAGE,
	ATTACK_HALF,
	ATTACK_HUGE,
	ATTACK_FDS,
	ATTACK_MIDCLOSE,
	ATTACK_DISCONNECT,
	ATTACK_NOREAD,
	ATTACK_IDLE,
	ATTACK_DNS,
	ATTACK_COUNT,
};

static const char *const attack_names[ATTACK_COUNT] = {
    "garbage", "half", "huge", "fds", "midclose", "disconnect", "noread", "idle", "dns",
};

#define FDS_PER_FRAME 200 /* under the kernel's SCM_MAX_FD (253) */
#define HALF_HELD_MAX 64  /* stalled connections one attacker keeps open */

static const char *socket_path;
static bool mix[ATTACK_COUNT];
static atomic_bool stop;
static atomic_long attacks_done;
static int fd_pool[FDS_PER_FRAME];

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

/* A raw connection; -1 when the server can't be reached (or we are out of fds). */
static int raw_connect(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes what the socket takes within a short while; never blocks for long, since
 * a server that stops reading is exactly what some attacks provoke. */
static size_t write_some(int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
	size_t off = 0;
	uint64_t deadline = now_us() + 200000;

	while (off < len && !atomic_load(&stop) && now_us() < deadline) {
		struct iovec iov = {.iov_base = (char *)buf + off, .iov_len = len - off};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		union {
			char buf[CMSG_SPACE(sizeof(int) * FDS_PER_FRAME)];
			struct cmsghdr align;
		} control;
		if (off == 0 && nfds > 0) {
			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, 20);
			continue;
		}
		if (n <= 0)
			return off;
		off += n;
	}
	return off;
}

/* Reads and discards until the server hangs up or ms pass. */
static void drain(int fd, int ms)
{
	char buf[4096];
	uint64_t deadline = now_us() + (uint64_t)ms * 1000;

	while (!atomic_load(&stop)) {
		uint64_t now = now_us();
		if (now >= deadline)
			return;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
	}
}

static size_t encode_request(char *buf, size_t cap, const char *route, const char *body, int id)
{
	int len =
	    snprintf(buf + 4, cap - 4, "{\"route\":\"%s\",\"id\":%d,\"body\":%s}", route, id, body);
	buf[0] = (char)((len >> 24) & 0xff);
	buf[1] = (char)((len >> 16) & 0xff);
	buf[2] = (char)((len >> 8) & 0xff);
	buf[3] = (char)(len & 0xff);
	return (size_t)len + 4;
}

struct attacker {
	pthread_t thread;
	unsigned seed;
	int held[HALF_HELD_MAX];
	size_t nheld;
};

static void hold(struct attacker *a, int fd)
{
	if (a->nheld == HALF_HELD_MAX) {
		close(a->held[0]);
		memmove(a->held, a->held + 1, sizeof(int) * (HALF_HELD_MAX - 1));
		a->nheld--;
	}
	a->held[a->nheld++] = fd;
}

static void attack_garbage(struct attacker *a)
{
	char buf[65536];
	size_t len = 1 + rand_r(&a->seed) % sizeof(buf);
	int fd = raw_connect();

	if (fd < 0)
		return;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)rand_r(&a->seed);
	/* Now and then a plausible small length, so the garbage lands in a body. */
	if (rand_r(&a->seed) % 2) {
		buf[0] = buf[1] = 0;
		buf[2] = (char)(rand_r(&a->seed) % 4);
	}
	write_some(fd, buf, len, NULL, 0);
	drain(fd, 50);
	close(fd);
}

static void attack_half(struct attacker *a)
{
	char buf[256];
	int fd = raw_connect();

	if (fd < 0)
		return;
	size_t len = encode_request(buf, sizeof(buf), "ping", "{}", 1);
	if (rand_r(&a->seed) % 2) {
		write_some(fd, buf, 1 + rand_r(&a->seed) % 3, NULL, 0); /* half a header */
	} else {
		/* A header promising far more than will ever come (up to the limit). */
		uint32_t promised = 1024 + rand_r(&a->seed) % (CT_FRAME_MAX_DEFAULT - 1024);
		buf[0] = (char)(promised >> 24);
		buf[1] = (char)(promised >> 16);
		buf[2] = (char)(promised >> 8);
		buf[3] = (char)promised;
		write_some(fd, buf, len - 3, NULL, 0);
	}
	hold(a, fd);
}

static void attack_huge(struct attacker *a)
{
	static const unsigned char all_ones[4] = {0xff, 0xff, 0xff, 0xff};
	unsigned char over[4];
	uint32_t n = CT_FRAME_MAX_DEFAULT + 1;
	int fd = raw_connect();

	if (fd < 0)
		return;
	over[0] = n >> 24;
	over[1] = n >> 16;
	over[2] = n >> 8;
	over[3] = n;
	write_some(fd, rand_r(&a->seed) % 2 ? all_ones : over, 4, NULL, 0);
	drain(fd, 200);
	close(fd);
}

static void attack_fds(struct attacker *a)
{
	static const char *const routes[] = {"ping", "container.list", "no.such.route",
					     "system.status"};
	char buf[256];
	int fd = raw_connect();

	if (fd < 0)
		return;
	size_t len = encode_request(buf, sizeof(buf), routes[rand_r(&a->seed) % 4], "{}", 7);
	int nfds = 1 + rand_r(&a->seed) % FDS_PER_FRAME;
	if (rand_r(&a->seed) % 4 == 0) {
		/* Descriptors with half a frame, then gone. */
		write_some(fd, buf, 1 + rand_r(&a->seed) % (len - 1), fd_pool, nfds);
		close(fd);
		return;
	}
	write_some(fd, buf, len, fd_pool, nfds);
	/* A second frame with descriptors on the same connection. */
	write_some(fd, buf, len, fd_pool, 1 + rand_r(&a->seed) % CT_FRAME_MAX_FDS);
	drain(fd, 100);
	close(fd);
}

static void attack_midclose(struct attacker *a)
{
	char buf[256];
	int fd = raw_connect();

	if (fd < 0)
		return;
	size_t len = encode_request(buf, sizeof(buf), "container.list", "{\"all\":true}", 3);
	write_some(fd, buf, 1 + rand_r(&a->seed) % (len - 1), NULL, 0);
	close(fd);
}

static void attack_disconnect(struct attacker *a)
{
	char buf[512];
	int fd = raw_connect();

	if (fd < 0)
		return;
	/* Port 9 on loopback: nothing listens there (the discard port, never served
	 * in the test namespaces), so the pull fails after its retries. */
	size_t len = rand_r(&a->seed) % 2
			 ? encode_request(buf, sizeof(buf), "image.pull",
					  "{\"reference\":\"127.0.0.1:9/hostile/none:latest\"}", 5)
			 : encode_request(buf, sizeof(buf), "container.list", "{\"all\":true}", 5);
	write_some(fd, buf, len, NULL, 0);
	close(fd);
}

#define NOREAD_BATCH 256
static char noread_batch[NOREAD_BATCH * 64];
static size_t noread_len;

static void noread_build(void)
{
	for (int i = 0; i < NOREAD_BATCH; i++)
		noread_len +=
		    encode_request(noread_batch + noread_len, sizeof(noread_batch) - noread_len,
				   "ping", "{}", i + 1);
}

static void attack_noread(struct attacker *a)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int fd = raw_connect();

	if (fd < 0)
		return;
	pthread_once(&once, noread_build);
	/* Until the socket stays full for 200 ms: the server stopped reading. */
	while (!atomic_load(&stop) &&
	       write_some(fd, noread_batch, noread_len, NULL, 0) == noread_len)
		;
	hold(a, fd);
}

/* Opens connections until the descriptor limit (or the server's refusals) stops
 * us, then holds them until the end. */
static void attack_idle(struct attacker *a, int share)
{
	int *fds = xcalloc(share, sizeof(int));
	int n = 0;

	while (n < share && !atomic_load(&stop)) {
		int fd = raw_connect();
		if (fd < 0)
			break;
		fds[n++] = fd;
		atomic_fetch_add(&attacks_done, 1);
	}
	while (!atomic_load(&stop))
		usleep(20000);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	(void)a;
}

static int idle_share;

/* A query for <8 random letters>.test, type A (RFC 1035 4.1). */
static size_t dns_query(unsigned *seed, unsigned char *q)
{
	static const unsigned char header[12] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t n = sizeof(header);

	memcpy(q, header, n);
	q[0] = (unsigned char)rand_r(seed);
	q[1] = (unsigned char)rand_r(seed);
	q[n++] = 8;
	for (int i = 0; i < 8; i++)
		q[n++] = (unsigned char)('a' + rand_r(seed) % 26);
	memcpy(q + n, "\4test\0\0\1\0\1", 10);
	return n + 10;
}

static void attack_dns(struct attacker *a)
{
	const char *spec = getenv("CONTAINER_DNS_ADDRESS") ?: "127.0.0.1:2053";
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 2053)};
	char host[64];
	unsigned char q[64];

	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
		return;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	for (int i = 0; i < 256 && !atomic_load(&stop); i++) {
		size_t len = dns_query(&a->seed, q);
		if (sendto(fd, q, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
		    errno == EAGAIN)
			usleep(100);
	}
}

static void attack_once(struct attacker *a, enum attack which)
{
	switch (which) {
	case ATTACK_GARBAGE:
		attack_garbage(a);
		break;
	case ATTACK_HALF:
		attack_half(a);
		break;
	case ATTACK_HUGE:
		attack_huge(a);
		break;
	case ATTACK_FDS:
		attack_fds(a);
		break;
	case ATTACK_MIDCLOSE:
		attack_midclose(a);
		break;
	case ATTACK_DISCONNECT:
		attack_disconnect(a);
		break;
	case ATTACK_NOREAD:
		attack_noread(a);
		break;
	case ATTACK_DNS:
		attack_dns(a);
		break;
	default:
		break;
	}
	atomic_fetch_add(&attacks_done, 1);
}

static void *attacker_main(void *arg)
{
	struct attacker *a = arg;
	enum attack list[ATTACK_COUNT];
	int nlist = 0, nidle = 0;
	int *idle_fds = NULL;

	for (int i = 0; i < ATTACK_COUNT; i++)
		if (mix[i] && i != ATTACK_IDLE)
			list[nlist++] = i;
	if (mix[ATTACK_IDLE] && nlist == 0) {
		attack_idle(a, idle_share);
		return NULL;
	}
	if (mix[ATTACK_IDLE]) {
		/* Half our share of idle connections up front, then the other attacks. */
		int share = idle_share / 2;
		idle_fds = xcalloc(share > 0 ? share : 1, sizeof(int));
		while (nidle < share) {
			int fd = raw_connect();
			if (fd < 0)
				break;
			idle_fds[nidle++] = fd;
		}
	}
	while (!atomic_load(&stop))
		attack_once(a, list[rand_r(&a->seed) % nlist]);
	for (int i = 0; i < nidle; i++)
		close(idle_fds[i]);
	free(idle_fds);
	for (size_t i = 0; i < a->nheld; i++)
		close(a->held[i]);
	a->nheld = 0;
	return NULL;
}

/* ---- the well-behaved client ------------------------------------------------- */

struct samples {
	uint64_t *us;
	size_t n, cap;
	int failed;
};

static void sample_add(struct samples *s, uint64_t us)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->us = realloc(s->us, s->cap * sizeof(uint64_t));
		if (!s->us)
			abort();
	}
	s->us[s->n++] = us;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_samples(const char *name, struct samples *s)
{
	if (s->n)
		qsort(s->us, s->n, sizeof(uint64_t), compare_u64);
	printf(
	    "\"%s\":{\"pings\":%zu,\"failed\":%d,\"medianUs\":%llu,\"p99Us\":%llu,\"maxUs\":%llu}",
	    name, s->n, s->failed, s->n ? (unsigned long long)s->us[s->n / 2] : 0ull,
	    s->n ? (unsigned long long)s->us[(s->n * 99) / 100] : 0ull,
	    s->n ? (unsigned long long)s->us[s->n - 1] : 0ull);
}

struct pinger {
	struct ct_client c;
	bool connected;
	bool fresh;
	int timeout_ms;
};

/* One ping; records its round trip (connection included with --fresh) or a failure. */
static void ping_once(struct pinger *p, struct samples *s)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_call_options opts = {.timeout_ms = p->timeout_ms};
	json_t *reply = NULL;
	uint64_t start = now_us();

	if (!p->connected) {
		if (ct_client_connect(&p->c, socket_path, &err) < 0)
			goto failed;
		p->connected = true;
	}
	if (ct_client_call(&p->c, "ping", NULL, &reply, &opts, &err) < 0)
		goto failed;
	json_decref(reply);
	uint64_t rtt = now_us() - start;
	if (rtt > (uint64_t)p->timeout_ms * 1000) {
		ct_error_set(&err, CT_ERR_TIMEOUT, 0, "ping took %llu us", (unsigned long long)rtt);
		goto failed;
	}
	sample_add(s, rtt);
	if (p->fresh) {
		ct_client_close(&p->c);
		p->connected = false;
	}
	return;
failed:
	fprintf(stderr, "hostile-client: ping failed: %s\n", ct_error_message(&err));
	s->failed++;
	if (p->connected)
		ct_client_close(&p->c);
	p->connected = false;
	usleep(10000);
}

static int count_fds(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int parse_mix(const char *list)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool found = false;
		if (strcmp(t, "all") == 0) {
			for (int i = 0; i < ATTACK_COUNT; i++)
				mix[i] = true;
			continue;
		}
		for (int i = 0; i < ATTACK_COUNT; i++)
			if (strcmp(t, attack_names[i]) == 0)
				mix[i] = found = true;
		if (!found) {
			fprintf(stderr, "hostile-client: unknown attack \"%s\"\n", t);
			return -1;
		}
	}
	return 0;
}

/* A client of the server (as a test runs it) gets a warm-up call on every route
 * the attack uses, so plugins started on demand are up before the idle fd count. */
static void warm_up(void)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	static const char *const routes[] = {"ping", "container.list", "system.status"};
	struct ct_client c;

	if (ct_client_connect(&c, socket_path, &err) < 0)
		return;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		json_t *reply = NULL;
		struct ct_call_options opts = {.timeout_ms = 10000};
		if (ct_client_call(&c, routes[i], NULL, &reply, &opts, &err) == 0)
			json_decref(reply);
		ct_error_clear(&err);
	}
	if (mix[ATTACK_DISCONNECT]) {
		/* Starts the images plugin; the pull itself fails, which is fine. */
		_cleanup_json_ json_t *body =
		    json_pack("{s:s}", "reference", "127.0.0.1:9/hostile/none:latest");
		json_t *reply = NULL;
		struct ct_call_options opts = {.timeout_ms = 60000};
		if (ct_client_call(&c, "image.pull", body, &reply, &opts, &err) == 0)
			json_decref(reply);
	}
	ct_client_close(&c);
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *default_socket = NULL;
	const char *mix_arg = "garbage,half,huge,fds,midclose,disconnect,noread";
	int attackers = 4, duration = 5, idle_pings = 200, pid = 0, settle_ms = 5000;
	struct pinger p = {.timeout_ms = 2000};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--fresh") == 0)
			p.fresh = true;
		else if (!v)
			goto usage;
		else if (strcmp(a, "--socket") == 0)
			socket_path = v, i++;
		else if (strcmp(a, "--mix") == 0)
			mix_arg = v, i++;
		else if (strcmp(a, "--attackers") == 0)
			attackers = atoi(v), i++;
		else if (strcmp(a, "--duration") == 0)
			duration = atoi(v), i++;
		else if (strcmp(a, "--idle-pings") == 0)
			idle_pings = atoi(v), i++;
		else if (strcmp(a, "--ping-timeout-ms") == 0)
			p.timeout_ms = atoi(v), i++;
		else if (strcmp(a, "--pid") == 0)
			pid = atoi(v), i++;
		else if (strcmp(a, "--fd-settle-ms") == 0)
			settle_ms = atoi(v), i++;
		else
			goto usage;
	}
	if (attackers < 1 || attackers > 256 || duration < 1 || idle_pings < 1 ||
	    p.timeout_ms < 1 || parse_mix(mix_arg) < 0)
		goto usage;
	if (!socket_path) {
		struct ct_paths paths;
		if (ct_paths_resolve(&paths, NULL, NULL, NULL, &err) < 0) {
			fprintf(stderr, "hostile-client: %s\n", ct_error_message(&err));
			return 2;
		}
		default_socket = ct_paths_apiserver_socket(&paths);
		ct_paths_free(&paths);
		socket_path = default_socket;
	}
	signal(SIGPIPE, SIG_IGN);

	/* As many descriptors as we may have: the idle attack wants them all. Keep
	 * some back for the pinger and the other attacks. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	int spare = FDS_PER_FRAME + 64 + attackers * (HALF_HELD_MAX + 8);
	idle_share = rl.rlim_cur > (rlim_t)spare ? (int)((rl.rlim_cur - spare) / attackers) : 0;

	/* The descriptors the fds attack sends: /dev/null and both ends of a pipe. */
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return 2;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < FDS_PER_FRAME; i++)
		fd_pool[i] = i % 3 == 0 ? pipefd[0] : i % 3 == 1 ? pipefd[1] : devnull;

	warm_up();

	struct samples idle = {0}, loaded = {0};
	for (int i = 0; i < idle_pings; i++)
		ping_once(&p, &idle);
	/* The idle level without our own connection, so that one leaked descriptor
	 * can't hide behind it. */
	if (p.connected) {
		ct_client_close(&p.c);
		p.connected = false;
	}
	usleep(100000);
	int fds_idle = pid > 0 ? count_fds(pid) : -1;

	struct attacker *team = xcalloc(attackers, sizeof(*team));
	for (int i = 0; i < attackers; i++) {
		team[i].seed = (unsigned)now_us() ^ (unsigned)(i * 7919);
		if (pthread_create(&team[i].thread, NULL, attacker_main, &team[i]) != 0) {
			fprintf(stderr, "hostile-client: cannot start attacker %d\n", i);
			return 2;
		}
	}
	uint64_t end = now_us() + (uint64_t)duration * 1000000;
	usleep(100000); /* let the attack get going */
	while (now_us() < end)
		ping_once(&p, &loaded);
	atomic_store(&stop, true);
	for (int i = 0; i < attackers; i++)
		pthread_join(team[i].thread, NULL);
	free(team);
	if (p.connected)
		ct_client_close(&p.c);

	/* The server has to notice every hang-up before its count can settle. */
	int fds_after = -1;
	if (pid > 0) {
		uint64_t settle_end = now_us() + (uint64_t)settle_ms * 1000;
		for (;;) {
			fds_after = count_fds(pid);
			if (fds_after <= fds_idle || now_us() >= settle_end)
				break;
			usleep(50000);
		}
	}

	printf("{\"mix\":\"%s\",\"attackers\":%d,\"durationS\":%d,\"attacks\":%ld,", mix_arg,
	       attackers, duration, atomic_load(&attacks_done));
	print_samples("idle", &idle);
	putchar(',');
	print_samples("attack", &loaded);
	printf(",\"fds\":{\"idle\":%d,\"after\":%d}}\n", fds_idle, fds_after);
	fflush(stdout);
	bool ok = idle.failed == 0 && loaded.failed == 0 && loaded.n > 0 &&
		  (pid <= 0 || (fds_after >= 0 && fds_after <= fds_idle));
	free(idle.us);
	free(loaded.us);
	close(devnull);
	close(pipefd[0]);
	close(pipefd[1]);
	return ok ? 0 : 1;

usage:
	fprintf(stderr, "usage: hostile-client [--socket PATH] [--mix LIST] [--attackers K] "
			"[--duration S] [--idle-pings N] [--ping-timeout-ms MS] [--fresh] "
			"[--pid PID] [--fd-settle-ms MS]\n");
	return 2;
}
