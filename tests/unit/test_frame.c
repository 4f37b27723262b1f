/* Unit tests of src/lib/frame.c: the wire format (4-byte big-endian length + one
 * compact JSON object), the incremental reader, every malformed frame we can
 * produce, and descriptor passing with SCM_RIGHTS. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "frame.h"
#include "json_util.h"
#include "util.h"


static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

/* A connected, non-blocking stream pair, as the server and client use. */
static void make_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
}

static void close_pair(int sv[2])
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= n;
	}
}

static void write_header(int fd, uint32_t len)
{
	uint8_t h[4] = {len >> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff};

	write_all(fd, h, sizeof(h));
}

/* Writes header + body exactly as given (body need not be JSON). */
static void write_raw_frame(int fd, const char *body, size_t len)
{
	write_header(fd, len);
	write_all(fd, body, len);
}

static size_t count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool fd_is_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	assert_true(flags >= 0);
	return flags & FD_CLOEXEC;
}

/* Reads one frame with a reader, expecting it complete in the socket already. */
static json_t *read_one(struct ct_frame_reader *r, int fd, int *fds, size_t *nfds)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *msg = NULL;

	int rc = ct_frame_read(r, fd, &err);
	if (rc != CT_FRAME_READY)
		fail_msg("ct_frame_read returned %d (%s)", rc, ct_error_message(&err));
	rc = ct_frame_take(r, &msg, fds, nfds, &err);
	if (rc != 0)
		fail_msg("ct_frame_take failed: %s", ct_error_message(&err));
	assert_non_null(msg);
	return msg;
}

static void test_encode_header_and_compact_body(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i, s:s, s:[i,i]}", "a", 1, "b", "x", "c", 1, 2);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	const char *expect = "{\"a\":1,\"b\":\"x\",\"c\":[1,2]}";

	assert_int_equal(ct_frame_encode(msg, CT_FRAME_MAX_DEFAULT, &buf, &len, &err), 0);
	assert_int_equal(len, CT_FRAME_HEADER_SIZE + strlen(expect));
	assert_int_equal((uint8_t)buf[0], 0);
	assert_int_equal((uint8_t)buf[1], 0);
	assert_int_equal((uint8_t)buf[2], 0);
	assert_int_equal((uint8_t)buf[3], strlen(expect));
	/* Compact: no spaces after ':' or ','. */
	assert_memory_equal(buf + CT_FRAME_HEADER_SIZE, expect, strlen(expect));
}

static void test_encode_header_is_big_endian(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	/* A body of 0x010203 bytes: {"s":"…"} is 8 bytes plus the string. */
	const size_t body = 0x010203;
	_cleanup_free_ char *s = xcalloc(1, body - 8 + 1);
	memset(s, 'x', body - 8);
	_cleanup_json_ json_t *msg = json_pack("{s:s}", "s", s);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	assert_int_equal(ct_frame_encode(msg, CT_FRAME_MAX_DEFAULT, &buf, &len, &err), 0);
	assert_int_equal(len, CT_FRAME_HEADER_SIZE + body);
	assert_int_equal((uint8_t)buf[0], 0x00);
	assert_int_equal((uint8_t)buf[1], 0x01);
	assert_int_equal((uint8_t)buf[2], 0x02);
	assert_int_equal((uint8_t)buf[3], 0x03);
	assert_memory_equal(buf + CT_FRAME_HEADER_SIZE, "{\"s\":\"xxx", 9);
	assert_int_equal(buf[len - 1], '}');
}

static void test_encode_over_max(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:s}", "s", "0123456789");
	char *buf = NULL;
	size_t len = 0;

	/* {"s":"0123456789"} is 18 bytes: a limit of 18 fits, 17 does not. */
	assert_int_equal(ct_frame_encode(msg, 18, &buf, &len, &err), 0);
	free(buf);
	buf = NULL;
	assert_failure(ct_frame_encode(msg, 17, &buf, &len, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "over the frame limit");
	assert_int_equal(err.errnum, EMSGSIZE);
	assert_null(buf);
}

static void test_send_recv_roundtrip(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg =
	    json_pack("{s:s, s:I, s:{s:s, s:b}}", "route", "x.y", "id", (json_int_t)7, "body",
		      "name", "caf\xc3\xa9 \"quoted\"\n", "flag", 1);
	_cleanup_json_ json_t *got = NULL;
	int sv[2], fds[CT_FRAME_MAX_FDS];
	size_t nfds = 99;

	make_pair(sv);
	assert_int_equal(ct_frame_send(sv[0], msg, NULL, 0, &err), 0);
	assert_int_equal(ct_frame_recv(sv[1], 0, 1000, &got, fds, &nfds, &err), 0);
	assert_true(json_equal(msg, got));
	assert_int_equal(nfds, 0);
	close_pair(sv);
}

/* Feeds an encoded frame one byte at a time: every prefix is CT_FRAME_AGAIN. */
static void test_reader_dribbled_bytes(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:I, s:{s:s}}", "id", (json_int_t)3, "body", "k",
					       "a value long enough to take several reads");
	_cleanup_json_ json_t *got = NULL;
	_cleanup_free_ char *buf = NULL;
	struct ct_frame_reader r;
	size_t len = 0, nfds = 0;
	int sv[2], fds[CT_FRAME_MAX_FDS];

	assert_int_equal(ct_frame_encode(msg, CT_FRAME_MAX_DEFAULT, &buf, &len, &err), 0);
	make_pair(sv);
	ct_frame_reader_init(&r, 0);
	assert_int_equal(r.max, CT_FRAME_MAX_DEFAULT);
	/* Nothing sent yet. */
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	for (size_t i = 0; i < len; i++) {
		write_all(sv[0], buf + i, 1);
		int rc = ct_frame_read(&r, sv[1], &err);
		if (i + 1 < len) {
			if (rc != CT_FRAME_AGAIN)
				fail_msg("after %zu of %zu bytes: %d (%s)", i + 1, len, rc,
					 ct_error_message(&err));
			if (i + 1 < CT_FRAME_HEADER_SIZE)
				assert_int_equal(r.header_have, i + 1);
			else
				assert_int_equal(r.body_have, i + 1 - CT_FRAME_HEADER_SIZE);
		} else {
			assert_int_equal(rc, CT_FRAME_READY);
		}
	}
	assert_int_equal(r.body_len, len - CT_FRAME_HEADER_SIZE);
	assert_int_equal(ct_frame_take(&r, &got, fds, &nfds, &err), 0);
	assert_true(json_equal(msg, got));
	/* The reader is reset for the next frame. */
	assert_int_equal(r.header_have, 0);
	assert_null(r.body);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

/* ct_frame_recv also assembles a frame that arrives in pieces. */
static void test_recv_assembles_pieces(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *got = NULL;
	const char body[] = "{\"id\":1,\"body\":{}}";
	int sv[2];

	make_pair(sv);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t h[4] = {0, 0, 0, sizeof(body) - 1};
		for (size_t i = 0; i < 4; i++) {
			if (write(sv[0], h + i, 1) != 1)
				_exit(1);
			usleep(5000);
		}
		for (size_t i = 0; i < sizeof(body) - 1; i++) {
			if (write(sv[0], body + i, 1) != 1)
				_exit(1);
			usleep(1000);
		}
		_exit(0);
	}
	assert_int_equal(ct_frame_recv(sv[1], 0, 5000, &got, NULL, NULL, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close_pair(sv);
}

static void test_two_frames_back_to_back(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *a = json_pack("{s:i}", "id", 1);
	_cleanup_json_ json_t *b = json_pack("{s:i, s:s}", "id", 2, "route", "b");
	_cleanup_free_ char *ba = NULL, *bb = NULL, *both = NULL;
	size_t la, lb;
	struct ct_frame_reader r;
	int sv[2];

	assert_int_equal(ct_frame_encode(a, SIZE_MAX, &ba, &la, &err), 0);
	assert_int_equal(ct_frame_encode(b, SIZE_MAX, &bb, &lb, &err), 0);
	both = xcalloc(1, la + lb);
	memcpy(both, ba, la);
	memcpy(both + la, bb, lb);
	make_pair(sv);
	/* One write: both frames sit in the socket together. */
	write_all(sv[0], both, la + lb);
	ct_frame_reader_init(&r, 0);
	json_t *first = read_one(&r, sv[1], NULL, NULL);
	json_t *second = read_one(&r, sv[1], NULL, NULL);
	assert_true(json_equal(first, a));
	assert_true(json_equal(second, b));
	json_decref(first);
	json_decref(second);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_length_zero(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_frame_reader r;
	int sv[2];

	make_pair(sv);
	write_header(sv[0], 0);
	ct_frame_reader_init(&r, 0);
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "length 0");
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_length_over_max(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_frame_reader r;
	int sv[2];

	make_pair(sv);
	/* Exactly the limit is fine… */
	char body[100];
	memset(body, ' ', sizeof(body));
	memcpy(body, "{}", 2);
	write_raw_frame(sv[0], body, sizeof(body));
	ct_frame_reader_init(&r, 100);
	json_t *msg = read_one(&r, sv[1], NULL, NULL);
	assert_true(json_is_object(msg));
	json_decref(msg);
	/* …one byte more is refused as soon as the header is in, before any body. */
	write_header(sv[0], 101);
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "over the limit");
	assert_int_equal(err.errnum, EMSGSIZE);
	assert_null(r.body);
	ct_frame_reader_reset(&r);

	/* A hostile 4 GiB prefix against the default limit: refused, nothing allocated. */
	write_header(sv[0], 0xffffffffu);
	ct_frame_reader_init(&r, 0);
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "4294967295");
	assert_null(r.body);
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_header_truncated_then_close(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_frame_reader r;
	int sv[2];

	make_pair(sv);
	write_all(sv[0], "\0\0", 2);
	ct_frame_reader_init(&r, 0);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	close(sv[0]);
	sv[0] = -1;
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "header");
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_body_truncated_then_close(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_frame_reader r;
	int sv[2];

	make_pair(sv);
	write_header(sv[0], 10);
	write_all(sv[0], "{\"a\":", 5);
	ct_frame_reader_init(&r, 0);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	close(sv[0]);
	sv[0] = -1;
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "5 of 10 bytes");
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

/* A header alone (body never sent) then close is an error too, not EOF. */
static void test_header_only_then_close(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_frame_reader r;
	int sv[2];

	make_pair(sv);
	write_header(sv[0], 10);
	close(sv[0]);
	sv[0] = -1;
	ct_frame_reader_init(&r, 0);
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "0 of 10 bytes");
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_clean_close_between_frames(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	struct ct_frame_reader r;
	int sv[2];

	make_pair(sv);
	assert_int_equal(ct_frame_send(sv[0], msg, NULL, 0, &err), 0);
	close(sv[0]);
	sv[0] = -1;
	ct_frame_reader_init(&r, 0);
	json_t *got = read_one(&r, sv[1], NULL, NULL);
	assert_true(json_equal(got, msg));
	json_decref(got);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_EOF);
	ct_frame_reader_reset(&r);
	close_pair(sv);

	/* A peer that closes before sending anything is EOF too. */
	make_pair(sv);
	close(sv[0]);
	sv[0] = -1;
	ct_frame_reader_init(&r, 0);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_EOF);
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_recv_eof_is_unavailable(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *msg = NULL;
	int sv[2];

	make_pair(sv);
	close(sv[0]);
	sv[0] = -1;
	assert_failure(ct_frame_recv(sv[1], 0, 1000, &msg, NULL, NULL, &err), &err,
		       CT_ERR_UNAVAILABLE, "closed");
	assert_null(msg);
	close_pair(sv);
}

/* Writes bad_body as a frame followed by a good one: take refuses the first with a
 * protocol error and the second still parses (the stream stayed in step). */
static void check_bad_body_then_good(const char *bad_body, size_t bad_len, const char *needle)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_frame_reader r;
	json_t *msg = NULL;
	int sv[2];

	make_pair(sv);
	write_raw_frame(sv[0], bad_body, bad_len);
	write_raw_frame(sv[0], "{\"ok\":true}", 11);
	ct_frame_reader_init(&r, 0);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_READY);
	assert_failure(ct_frame_take(&r, &msg, NULL, NULL, &err), &err, CT_ERR_PROTOCOL, needle);
	assert_null(msg);
	assert_null(r.body);
	assert_int_equal(r.header_have, 0);
	ct_error_clear(&err);
	msg = read_one(&r, sv[1], NULL, NULL);
	assert_true(json_is_true(json_object_get(msg, "ok")));
	json_decref(msg);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_body_not_json(void **state)
{
	check_bad_body_then_good("{nope", 5, "malformed JSON");
	check_bad_body_then_good("garbage", 7, "malformed JSON");
	check_bad_body_then_good("{\"a\":1} trailing", 16, "malformed JSON");
	check_bad_body_then_good("\xff\xfe{}", 4, "malformed JSON");
}

static void test_body_not_object(void **state)
{
	check_bad_body_then_good("[1,2]", 5, "must hold a JSON object, not an array");
	/* jansson refuses scalars at the top level while parsing already (its own
	 * message), so these only need to fail with a protocol error. */
	check_bad_body_then_good("\"str\"", 5, "frame");
	check_bad_body_then_good("42", 2, "frame");
	check_bad_body_then_good("4.5", 3, "frame");
	check_bad_body_then_good("true", 4, "frame");
	check_bad_body_then_good("null", 4, "frame");
}

static void test_body_duplicate_keys(void **state)
{
	check_bad_body_then_good("{\"a\":1,\"a\":2}", 13, "duplicate");
	/* Nested objects too. */
	check_bad_body_then_good("{\"b\":{\"x\":1,\"x\":1}}", 19, "duplicate");
}

static void test_body_embedded_nul(void **state)
{
	/* A raw NUL after the object, inside a string, and as a \u0000 escape. */
	check_bad_body_then_good("{\"a\":1}\0", 8, "malformed JSON");
	check_bad_body_then_good("{\"a\":\"x\0y\"}", 11, "malformed JSON");
	check_bad_body_then_good("{\"a\":\"x\\u0000y\"}", 16, "malformed JSON");
	check_bad_body_then_good("\0{}", 3, "malformed JSON");
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

/* The received fd is the same pipe: bytes written into it come out of the
 * original read end. */
static void check_same_pipe(int received_write_end, int original_read_end, const char *text)
{
	char buf[32] = "";

	assert_true(fd_is_cloexec(received_write_end));
	write_all(received_write_end, text, strlen(text));
	assert_int_equal(read(original_read_end, buf, sizeof(buf) - 1), strlen(text));
	assert_string_equal(buf, text);
}

static void test_fd_passing_one(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	_cleanup_json_ json_t *got = NULL;
	int sv[2], p[2], fds[CT_FRAME_MAX_FDS];
	size_t nfds = 0;

	make_pair(sv);
	make_pipe(p);
	assert_int_equal(ct_frame_send(sv[0], msg, &p[1], 1, &err), 0);
	assert_int_equal(ct_frame_recv(sv[1], 0, 1000, &got, fds, &nfds, &err), 0);
	assert_true(json_equal(msg, got));
	assert_int_equal(nfds, 1);
	assert_int_not_equal(fds[0], p[1]);
	check_same_pipe(fds[0], p[0], "hello");
	ct_close_fds(fds, nfds);
	assert_int_equal(fds[0], -1);
	close(p[0]);
	close(p[1]);
	close_pair(sv);
}

static void test_fd_passing_three(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	struct ct_frame_reader r;
	int sv[2], p[3][2], send_fds[3], fds[CT_FRAME_MAX_FDS];
	size_t nfds = 0, before;

	make_pair(sv);
	for (int i = 0; i < 3; i++) {
		make_pipe(p[i]);
		send_fds[i] = p[i][1];
	}
	before = count_open_fds();
	assert_int_equal(ct_frame_send(sv[0], msg, send_fds, 3, &err), 0);
	ct_frame_reader_init(&r, 0);
	json_t *got = read_one(&r, sv[1], fds, &nfds);
	json_decref(got);
	assert_int_equal(nfds, 3);
	assert_int_equal(count_open_fds(), before + 3);
	/* In the order sent. */
	check_same_pipe(fds[0], p[0][0], "zero");
	check_same_pipe(fds[1], p[1][0], "one");
	check_same_pipe(fds[2], p[2][0], "two");
	ct_close_fds(fds, nfds);
	assert_int_equal(count_open_fds(), before);
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

/* Frame 1 without descriptors, frame 2 with one, frame 3 with another: each frame
 * gets exactly its own, even though all three sit in the socket at once. */
static void test_fds_stay_with_their_frame(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *m1 = json_pack("{s:i}", "id", 1);
	_cleanup_json_ json_t *m2 = json_pack("{s:i}", "id", 2);
	_cleanup_json_ json_t *m3 = json_pack("{s:i}", "id", 3);
	struct ct_frame_reader r;
	int sv[2], pa[2], pb[2], fds[CT_FRAME_MAX_FDS];
	size_t nfds = 99;

	make_pair(sv);
	make_pipe(pa);
	make_pipe(pb);
	assert_int_equal(ct_frame_send(sv[0], m1, NULL, 0, &err), 0);
	assert_int_equal(ct_frame_send(sv[0], m2, &pa[1], 1, &err), 0);
	assert_int_equal(ct_frame_send(sv[0], m3, &pb[1], 1, &err), 0);
	ct_frame_reader_init(&r, 0);

	json_t *got = read_one(&r, sv[1], fds, &nfds);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 1);
	assert_int_equal(nfds, 0);
	json_decref(got);

	got = read_one(&r, sv[1], fds, &nfds);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 2);
	assert_int_equal(nfds, 1);
	check_same_pipe(fds[0], pa[0], "for two");
	ct_close_fds(fds, nfds);
	json_decref(got);

	got = read_one(&r, sv[1], fds, &nfds);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 3);
	assert_int_equal(nfds, 1);
	check_same_pipe(fds[0], pb[0], "for three");
	ct_close_fds(fds, nfds);
	json_decref(got);

	ct_frame_reader_reset(&r);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	close_pair(sv);
}

/* The same with the bytes of frame 1 dribbled: the reader must not read into
 * frame 2 (and pick up its descriptor) while finishing frame 1. */
static void test_fds_stay_with_their_frame_dribbled(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *m1 = json_pack("{s:i, s:s}", "id", 1, "pad", "abcdefghijklmnop");
	_cleanup_json_ json_t *m2 = json_pack("{s:i}", "id", 2);
	_cleanup_free_ char *b1 = NULL;
	struct ct_frame_reader r;
	int sv[2], p[2], fds[CT_FRAME_MAX_FDS];
	size_t l1, nfds = 99;

	assert_int_equal(ct_frame_encode(m1, SIZE_MAX, &b1, &l1, &err), 0);
	make_pair(sv);
	make_pipe(p);
	ct_frame_reader_init(&r, 0);
	/* All of frame 1 but its last byte, then read it partially. */
	write_all(sv[0], b1, l1 - 1);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	/* Its last byte and all of frame 2 with a descriptor. */
	write_all(sv[0], b1 + l1 - 1, 1);
	assert_int_equal(ct_frame_send(sv[0], m2, &p[1], 1, &err), 0);
	json_t *got = read_one(&r, sv[1], fds, &nfds);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 1);
	assert_int_equal(nfds, 0);
	json_decref(got);
	got = read_one(&r, sv[1], fds, &nfds);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 2);
	assert_int_equal(nfds, 1);
	check_same_pipe(fds[0], p[0], "x");
	ct_close_fds(fds, nfds);
	json_decref(got);
	ct_frame_reader_reset(&r);
	close(p[0]);
	close(p[1]);
	close_pair(sv);
}

static void test_too_many_fds_sender_refuses(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	struct ct_frame_reader r;
	int sv[2], p[2], fds[CT_FRAME_MAX_FDS + 1];

	make_pair(sv);
	make_pipe(p);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = p[1];
	assert_failure(ct_frame_send(sv[0], msg, fds, CT_FRAME_MAX_FDS + 1, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "descriptors");
	/* Nothing went out. */
	ct_frame_reader_init(&r, 0);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_AGAIN);
	/* Exactly the limit is fine. */
	size_t before = count_open_fds();
	assert_int_equal(ct_frame_send(sv[0], msg, fds, CT_FRAME_MAX_FDS, &err), 0);
	int got_fds[CT_FRAME_MAX_FDS];
	size_t nfds = 0;
	json_t *got = read_one(&r, sv[1], got_fds, &nfds);
	json_decref(got);
	assert_int_equal(nfds, CT_FRAME_MAX_FDS);
	assert_int_equal(count_open_fds(), before + CT_FRAME_MAX_FDS);
	ct_close_fds(got_fds, nfds);
	assert_int_equal(count_open_fds(), before);
	ct_frame_reader_reset(&r);
	close(p[0]);
	close(p[1]);
	close_pair(sv);
}

/* A peer that bypasses ct_frame_send and attaches more than the limit: the reader
 * reports a protocol error and leaks none of the descriptors. */
static void test_too_many_fds_receiver_refuses(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	enum { N = CT_FRAME_MAX_FDS + 4 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * N)];
		struct cmsghdr align;
	} control;
	struct ct_frame_reader r;
	int sv[2], p[2], fds[N];
	const char frame[] = "\0\0\0\2{}";
	struct iovec iov = {.iov_base = (void *)frame, .iov_len = sizeof(frame) - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};

	make_pair(sv);
	make_pipe(p);
	for (int i = 0; i < N; i++)
		fds[i] = p[1];
	memset(&control, 0, sizeof(control));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * N);
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &mh, 0), sizeof(frame) - 1);

	size_t before = count_open_fds();
	ct_frame_reader_init(&r, 0);
	assert_failure(ct_frame_read(&r, sv[1], &err), &err, CT_ERR_PROTOCOL, "descriptors");
	ct_frame_reader_reset(&r);
	assert_int_equal(count_open_fds(), before);
	close(p[0]);
	close(p[1]);
	close_pair(sv);
}

/* Descriptors received but never taken are closed by take (fds == NULL), by a
 * failed take, and by reset. */
static void test_untaken_fds_are_closed(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	struct ct_frame_reader r;
	json_t *got = NULL;
	int sv[2], p[2];
	size_t before;

	make_pair(sv);
	make_pipe(p);
	before = count_open_fds();
	ct_frame_reader_init(&r, 0);

	/* take without a place for them */
	assert_int_equal(ct_frame_send(sv[0], msg, &p[1], 1, &err), 0);
	got = read_one(&r, sv[1], NULL, NULL);
	json_decref(got);
	assert_int_equal(count_open_fds(), before);

	/* reset with a complete frame pending */
	assert_int_equal(ct_frame_send(sv[0], msg, &p[1], 1, &err), 0);
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_READY);
	assert_int_equal(r.nfds, 1);
	assert_int_equal(count_open_fds(), before + 1);
	ct_frame_reader_reset(&r);
	assert_int_equal(count_open_fds(), before);

	/* take failing on a body that is not JSON */
	{
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		const char frame[] = "\0\0\0\3xyz";
		struct iovec iov = {.iov_base = (void *)frame, .iov_len = sizeof(frame) - 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.buf,
				    .msg_controllen = sizeof(control.buf)};
		memset(&control, 0, sizeof(control));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &p[1], sizeof(int));
		assert_int_equal(sendmsg(sv[0], &mh, 0), sizeof(frame) - 1);
	}
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds = 77;
	assert_int_equal(ct_frame_read(&r, sv[1], &err), CT_FRAME_READY);
	assert_failure(ct_frame_take(&r, &got, fds, &nfds, &err), &err, CT_ERR_PROTOCOL,
		       "malformed");
	assert_int_equal(count_open_fds(), before);

	ct_frame_reader_reset(&r);
	close(p[0]);
	close(p[1]);
	close_pair(sv);
}

static void test_recv_timeout(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *msg = NULL;
	int sv[2];

	make_pair(sv);
	uint64_t start = ct_now_monotonic_ms();
	assert_failure(ct_frame_recv(sv[1], 0, 100, &msg, NULL, NULL, &err), &err, CT_ERR_TIMEOUT,
		       "100 ms");
	assert_true(ct_now_monotonic_ms() - start >= 100);
	assert_int_equal(err.errnum, ETIMEDOUT);
	assert_null(msg);

	/* Half a frame that never completes times out the same way. */
	write_header(sv[0], 50);
	write_all(sv[0], "{\"a\"", 4);
	assert_failure(ct_frame_recv(sv[1], 0, 100, &msg, NULL, NULL, &err), &err, CT_ERR_TIMEOUT,
		       NULL);
	assert_null(msg);
	close_pair(sv);
}

/* Regression (was a bug): ct_frame_recv's timeout only bounds poll(); on a blocking socket
 * ct_frame_read keeps calling recvmsg after the first partial read and blocks
 * until the peer sends the rest, so a peer that sends half a frame and stalls
 * hangs the caller forever (here bounded by SO_RCVTIMEO at 2 s). */
static void test_recv_timeout_blocking_socket(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct timeval tv = {.tv_sec = 2};
	json_t *msg = NULL;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	write_header(sv[0], 50);
	write_all(sv[0], "{\"a\"", 4);
	uint64_t start = ct_now_monotonic_ms();
	assert_failure(ct_frame_recv(sv[1], 0, 100, &msg, NULL, NULL, &err), &err, CT_ERR_TIMEOUT,
		       NULL);
	assert_true(ct_now_monotonic_ms() - start < 1000);
	close_pair(sv);
}

/* Regression (was a bug): frame.c ct_frame_recv checks the deadline before polling, so a timeout
 * of 0 ms fails with "no reply within 0 ms" (code timeout) even when a whole
 * frame is already buffered; 0 conventionally means "don't wait", not "don't
 * read". */
static void test_recv_timeout_zero_reads_buffered(void **state)
{

	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	_cleanup_json_ json_t *got = NULL;
	int sv[2];

	make_pair(sv);
	assert_int_equal(ct_frame_send(sv[0], msg, NULL, 0, &err), 0);
	if (ct_frame_recv(sv[1], 0, 0, &got, NULL, NULL, &err) < 0)
		fail_msg("%s (%s)", ct_error_message(&err), err.code);
	assert_true(json_equal(got, msg));
	close_pair(sv);
}

/* A frame bigger than the socket buffer goes out in pieces through
 * ct_frame_send_some; the descriptors go with byte 0 only, so the reader gets
 * exactly one. */
static void test_send_some_partial_with_fd(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const size_t big = 1 << 20;
	_cleanup_free_ char *s = xcalloc(1, big + 1);
	memset(s, 'y', big);
	_cleanup_json_ json_t *msg = json_pack("{s:s}", "s", s);
	_cleanup_free_ char *buf = NULL;
	struct ct_frame_reader r;
	size_t len, off = 0, nfds = 0;
	int sv[2], p[2], fds[CT_FRAME_MAX_FDS], sent = 0, rc = CT_FRAME_AGAIN, partial = 0;

	assert_int_equal(ct_frame_encode(msg, SIZE_MAX, &buf, &len, &err), 0);
	make_pair(sv);
	make_pipe(p);
	ct_frame_reader_init(&r, 2 << 20);
	while (!sent || rc == CT_FRAME_AGAIN) {
		if (!sent) {
			sent = ct_frame_send_some(sv[0], buf, len, &off, &p[1], 1, &err);
			assert_true(sent >= 0);
			if (!sent) {
				partial++;
				assert_true(off < len);
			}
		}
		rc = ct_frame_read(&r, sv[1], &err);
		assert_true(rc >= 0);
	}
	assert_true(partial > 0);
	assert_int_equal(off, len);
	assert_int_equal(rc, CT_FRAME_READY);
	json_t *got = NULL;
	assert_int_equal(ct_frame_take(&r, &got, fds, &nfds, &err), 0);
	assert_true(json_equal(got, msg));
	json_decref(got);
	assert_int_equal(nfds, 1);
	check_same_pipe(fds[0], p[0], "big");
	ct_close_fds(fds, nfds);
	close(p[0]);
	close(p[1]);
	ct_frame_reader_reset(&r);
	close_pair(sv);
}

static void test_send_to_closed_peer(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *msg = json_pack("{s:i}", "id", 1);
	int sv[2];

	make_pair(sv);
	close(sv[1]);
	sv[1] = -1;
	/* MSG_NOSIGNAL: an error, not SIGPIPE. */
	assert_failure(ct_frame_send(sv[0], msg, NULL, 0, &err), &err, CT_ERR_UNAVAILABLE,
		       "sending a frame");
	assert_int_equal(err.errnum, EPIPE);
	close_pair(sv);
}

static void test_close_fds_skips_negative(void **state)
{
	int p[2], fds[3];

	make_pipe(p);
	fds[0] = p[0];
	fds[1] = -1;
	fds[2] = p[1];
	ct_close_fds(fds, 3);
	assert_int_equal(fds[0], -1);
	assert_int_equal(fds[1], -1);
	assert_int_equal(fds[2], -1);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_header_and_compact_body),
	    cmocka_unit_test(test_encode_header_is_big_endian),
	    cmocka_unit_test(test_encode_over_max),
	    cmocka_unit_test(test_send_recv_roundtrip),
	    cmocka_unit_test(test_reader_dribbled_bytes),
	    cmocka_unit_test(test_recv_assembles_pieces),
	    cmocka_unit_test(test_two_frames_back_to_back),
	    cmocka_unit_test(test_length_zero),
	    cmocka_unit_test(test_length_over_max),
	    cmocka_unit_test(test_header_truncated_then_close),
	    cmocka_unit_test(test_body_truncated_then_close),
	    cmocka_unit_test(test_header_only_then_close),
	    cmocka_unit_test(test_clean_close_between_frames),
	    cmocka_unit_test(test_recv_eof_is_unavailable),
	    cmocka_unit_test(test_body_not_json),
	    cmocka_unit_test(test_body_not_object),
	    cmocka_unit_test(test_body_duplicate_keys),
	    cmocka_unit_test(test_body_embedded_nul),
	    cmocka_unit_test(test_fd_passing_one),
	    cmocka_unit_test(test_fd_passing_three),
	    cmocka_unit_test(test_fds_stay_with_their_frame),
	    cmocka_unit_test(test_fds_stay_with_their_frame_dribbled),
	    cmocka_unit_test(test_too_many_fds_sender_refuses),
	    cmocka_unit_test(test_too_many_fds_receiver_refuses),
	    cmocka_unit_test(test_untaken_fds_are_closed),
	    cmocka_unit_test(test_recv_timeout),
	    cmocka_unit_test(test_recv_timeout_blocking_socket),
	    cmocka_unit_test(test_recv_timeout_zero_reads_buffered),
	    cmocka_unit_test(test_send_some_partial_with_fd),
	    cmocka_unit_test(test_send_to_closed_peer),
	    cmocka_unit_test(test_close_fds_skips_negative),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
