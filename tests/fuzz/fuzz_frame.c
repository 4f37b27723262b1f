/* libFuzzer target for the frame reader (src/lib/frame.c) and the message parser
 * (src/lib/proto.c). The input is a byte stream that a peer writes into one end of
 * a nonblocking socketpair in chunks; the other end is read with ct_frame_read /
 * ct_frame_take exactly as the server's loop does, and every frame that holds a
 * JSON object goes through ct_msg_parse. Checked: no crash, no hang, no leak of
 * memory or descriptors, and the invariants the callers rely on (a message is an
 * object, descriptors arrive with the frame they rode on, errors carry a message).
 *
 * Input layout:
 *   byte 0        bits 0-2: number of chunk-size bytes that follow (0-7)
 *                 bits 3-4: frame limit (16 bytes, 4 KiB, 64 KiB, the default 4 MiB)
 *                 bits 5-7: descriptors sent with the first chunk (0, 1, 2, 16, 17, 20…)
 *   bytes 1..k    chunk sizes (0 means 1), used in turn, cycling
 *   rest          the stream
 *
 * Build and run from the top of the tree (jansson from Debian):
 *
 *   mkdir -p build-fuzz/corpus-frame
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -DCONTAINER_VERSION='"fuzz"' -I src/lib \
 *         tests/fuzz/fuzz_frame.c src/lib/frame.c src/lib/proto.c src/lib/json_util.c \
 *         src/lib/error.c src/lib/util.c -ljansson -o build-fuzz/fuzz_frame
 *   FUZZ_FRAME_SEEDS=build-fuzz/corpus-frame build-fuzz/fuzz_frame -runs=0
 *   build-fuzz/fuzz_frame -max_total_time=60 -max_len=8192 build-fuzz/corpus-frame
 *
 * FUZZ_FRAME_SEEDS=DIR writes a few valid streams into DIR to start a corpus from. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "proto.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int devnull = -1;

static size_t count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void write_seed(const char *dir, int index, uint8_t control, const uint8_t *sizes,
		       size_t nsizes, const char *const *messages, size_t nmessages)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%d", dir, index);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return;
	}
	fputc(control, f);
	fwrite(sizes, 1, nsizes, f);
	for (size_t i = 0; i < nmessages; i++) {
		size_t len = strlen(messages[i]);
		uint8_t header[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
				     (uint8_t)len};
		fwrite(header, 1, 4, f);
		fwrite(messages[i], 1, len, f);
	}
	fclose(f);
}

static void write_seeds(const char *dir)
{
	static const char *const requests[] = {
	    "{\"route\":\"container.create\",\"id\":7,\"body\":{\"image\":\"busybox\"}}",
	    "{\"route\":\"ping\",\"id\":1,\"body\":null}",
	};
	static const char *const replies[] = {
	    "{\"id\":7,\"body\":{\"id\":\"abc\"}}",
	    "{\"id\":7,\"progress\":{\"layer\":1}}",
	    "{\"id\":null,\"error\":{\"code\":\"notFound\",\"message\":\"no such container\"}}",
	};
	static const char *const odd[] = {"[1,2]", "{\"id\":1.5}", "{\"a\":1,\"a\":2}", "{"};
	const uint8_t one[] = {1}, mixed[] = {3, 1, 200};

	write_seed(dir, 0, 0x08, NULL, 0, requests, 2);
	write_seed(dir, 1, 0x10 | 1, one, 1, replies, 3);
	write_seed(dir, 2, 0x08 | 0x20 | 3, mixed, 3, requests, 1);
	write_seed(dir, 3, 0x18, NULL, 0, odd, 4);
	write_seed(dir, 4, 0x00, NULL, 0, replies, 1); /* over the 16-byte limit */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_FRAME_SEEDS");

	(void)argc;
	(void)argv;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(devnull >= 0);
	if (dir)
		write_seeds(dir);
	return 0;
}

/* Sends the next chunk of the stream: the first carries nfds copies of devnull. */
static ssize_t send_chunk(int fd, const uint8_t *buf, size_t len, size_t nfds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} control;
	ssize_t n;

	if (nfds > 0) {
		int fds[32];
		for (size_t i = 0; i < nfds; i++)
			fds[i] = devnull;
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n;
}

struct reader_state {
	struct ct_frame_reader r;
	bool dead; /* -1 from ct_frame_read: the stream is out of step */
	bool eof;
	size_t frames, fds_expected, fds_seen;
};

/* Reads and handles every frame available now. */
static void drain(struct reader_state *st, int fd)
{
	while (!st->dead && !st->eof) {
		struct ct_error err = CT_ERROR_INIT;
		int rc = ct_frame_read(&st->r, fd, &err);

		if (rc == CT_FRAME_AGAIN) {
			CHECK(err.message == NULL);
			return;
		}
		if (rc == CT_FRAME_EOF) {
			st->eof = true;
			return;
		}
		if (rc < 0) {
			CHECK(err.message != NULL && err.code[0]);
			ct_error_clear(&err);
			st->dead = true;
			return;
		}
		CHECK(rc == CT_FRAME_READY);
		CHECK(st->r.body_have == st->r.body_len && st->r.body_len <= st->r.max);

		json_t *msg = NULL;
		int fds[CT_FRAME_MAX_FDS];
		size_t nfds = 0;
		rc = ct_frame_take(&st->r, &msg, fds, &nfds, &err);
		/* The reader is reset either way. */
		CHECK(st->r.body == NULL && st->r.nfds == 0 && st->r.header_have == 0);
		st->frames++;
		if (rc < 0) {
			CHECK(msg == NULL && err.message != NULL);
			ct_error_clear(&err);
			continue;
		}
		CHECK(json_is_object(msg));
		CHECK(nfds <= CT_FRAME_MAX_FDS);
		/* Descriptors ride on byte 0 of the stream, so only the first frame has any. */
		if (st->frames == 1)
			CHECK(nfds == st->fds_expected);
		else
			CHECK(nfds == 0);
		st->fds_seen += nfds;
		ct_close_fds(fds, nfds);

		struct ct_msg m;
		if (ct_msg_parse(msg, &m, &err) == 0) {
			CHECK(err.message == NULL);
			switch (m.kind) {
			case CT_MSG_REQUEST:
				CHECK(m.has_id && m.route && *m.route &&
				      strlen(m.route) <= CT_ROUTE_MAX);
				CHECK(!m.body || json_is_object(m.body));
				break;
			case CT_MSG_ERROR:
				CHECK(m.error_code && m.error_message);
				break;
			case CT_MSG_PROGRESS:
				CHECK(json_is_object(m.body));
				break;
			case CT_MSG_REPLY:
				break;
			}
			/* What a server sends back for it must encode. */
			json_t *reply = ct_msg_error(m.has_id, m.id, m.error_code ? m.error_code : "x",
						     m.error_message ? m.error_message : m.route);
			CHECK(reply);
			json_decref(reply);
		} else {
			CHECK(err.message != NULL);
			ct_error_clear(&err);
		}
		json_decref(msg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = {16, 4096, 64 * 1024, 0};
	static const size_t fd_counts[] = {0, 1, 2, 3, 15, 16, 17, 20};
	size_t before = count_open_fds();
	struct reader_state st = {0};
	int sv[2];

	if (size < 1)
		return 0;
	size_t nsizes = data[0] & 7;
	size_t max = limits[(data[0] >> 3) & 3];
	size_t nfds = fd_counts[data[0] >> 5];
	if (size < 1 + nsizes)
		return 0;
	const uint8_t *sizes = data + 1;
	const uint8_t *stream = data + 1 + nsizes;
	size_t len = size - 1 - nsizes, off = 0, chunk_index = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
	ct_frame_reader_init(&st.r, max);
	/* More than CT_FRAME_MAX_FDS is refused with MSG_CTRUNC; none arrive then. */
	st.fds_expected = len > 0 && nfds <= CT_FRAME_MAX_FDS ? nfds : 0;

	while (off < len) {
		size_t want = nsizes ? sizes[chunk_index % nsizes] : len - off;
		if (want == 0)
			want = 1;
		if (want > len - off)
			want = len - off;
		ssize_t n = send_chunk(sv[0], stream + off, want, off == 0 ? nfds : 0);
		if (n < 0) {
			CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
			/* The socket buffer is full: the reader must make room, unless it
			 * has given up on the stream. */
			if (st.dead)
				break;
			drain(&st, sv[1]);
			continue;
		}
		off += (size_t)n;
		chunk_index++;
		drain(&st, sv[1]);
	}
	shutdown(sv[0], SHUT_WR);
	drain(&st, sv[1]);
	/* The whole stream was handed over: the reader ends at EOF or an error. */
	CHECK(st.dead || st.eof);
	if (st.eof)
		CHECK(st.r.header_have == 0 && st.r.body == NULL);

	ct_frame_reader_reset(&st.r);
	close(sv[0]);
	close(sv[1]);
	CHECK(count_open_fds() == before);
	return 0;
}
