/* Unit tests of src/lib/util.c, error.c and the cleanup helpers: durations,
 * folders, whole-file reads and atomic writes, and the error type. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
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

/* Durations */

static void test_duration_valid(void **state)
{
	assert_int_equal(ct_parse_duration_seconds("90s"), 90);
	assert_int_equal(ct_parse_duration_seconds("5m"), 300);
	assert_int_equal(ct_parse_duration_seconds("2h"), 7200);
	assert_int_equal(ct_parse_duration_seconds("1d"), 86400);
	assert_int_equal(ct_parse_duration_seconds("10"), 10);
	assert_int_equal(ct_parse_duration_seconds("0"), 0);
	assert_int_equal(ct_parse_duration_seconds("0d"), 0);
	assert_int_equal(ct_parse_duration_seconds("007m"), 420);
	assert_int_equal(ct_parse_duration_seconds("365d"), 365 * 86400);
	assert_true(ct_parse_duration_seconds("9223372036854775807") == INT64_MAX);
}

static void test_duration_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "-1",
	    "-1s",
	    "5x",
	    "5mm",
	    "5ms",
	    "m",
	    "s",
	    "5 m",
	    "5m ",
	    "1.5h",
	    "1e3",
	    "h5",
	    "5S",
	    "5M",
	    "5sm",
	    "99999999999999999999",
	    "0x10",
	    "5d5h",
	    "abc",
	    "--1",
	    "5\n",
	};

	assert_int_equal(ct_parse_duration_seconds(NULL), -1);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (ct_parse_duration_seconds(bad[i]) != -1)
			fail_msg("\"%s\" parsed as %lld", bad[i],
				 (long long)ct_parse_duration_seconds(bad[i]));
}

/* Regression (was a bug): util.c ct_parse_duration_seconds multiplies with `v *= 60/3600/86400`
 * without an overflow check: "106751991167301d" overflows a long long (UBSan:
 * "signed integer overflow: 106751991167301 * 86400") and returns
 * -9223372036854745216, a negative duration other than the -1 error value that
 * callers test for. Also lenient: strtoll accepts " 5" and "+5". */
static void test_duration_overflow(void **state)
{
	assert_int_equal(ct_parse_duration_seconds("106751991167301d"), -1);
	assert_int_equal(ct_parse_duration_seconds("153722867280912931m"), -1);
	assert_int_equal(ct_parse_duration_seconds("2562047788015216h"), -1);
	assert_int_equal(ct_parse_duration_seconds(" 5"), -1);
	assert_int_equal(ct_parse_duration_seconds("+5"), -1);
}

/* Temporary folder per test */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_tmpdir(void **state)
{
	char *dir = xstrdup("/tmp/ct-test-util-XXXXXX");

	if (!mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	nftw(*state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("lstat %s: %s", path, strerror(errno));
	return st.st_mode;
}

static size_t count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	return n;
}

/* ct_mkdir_p */

static void test_mkdir_p_nested(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *deep = xasprintf("%s/a/b/c", (char *)*state);
	_cleanup_free_ char *mid = xasprintf("%s/a/b", (char *)*state);
	mode_t old = umask(022);

	assert_int_equal(ct_mkdir_p(deep, 0750, &err), 0);
	umask(old);
	assert_true(S_ISDIR(mode_of(deep)));
	assert_int_equal(mode_of(deep) & 07777, 0750);
	assert_int_equal(mode_of(mid) & 07777, 0750);
}

static void test_mkdir_p_existing(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = xasprintf("%s/keep", (char *)*state);
	_cleanup_free_ char *slash = xasprintf("%s/keep/", (char *)*state);

	assert_int_equal(mkdir(dir, 0700), 0);
	/* Existing folders are fine and keep their mode. */
	assert_int_equal(ct_mkdir_p(dir, 0755, &err), 0);
	assert_int_equal(mode_of(dir) & 07777, 0700);
	assert_int_equal(ct_mkdir_p(slash, 0755, &err), 0);
	assert_int_equal(ct_mkdir_p(*state, 0755, &err), 0);
	assert_int_equal(ct_mkdir_p("/", 0755, &err), 0);
	assert_int_equal(ct_mkdir_p("/tmp", 0755, &err), 0);
}

static void test_mkdir_p_file_in_the_way(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *file = xasprintf("%s/file", (char *)*state);
	_cleanup_free_ char *below = xasprintf("%s/file/sub/dir", (char *)*state);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	close(fd);
	/* In the middle of the path. */
	assert_failure(ct_mkdir_p(below, 0755, &err), &err, CT_ERR_INTERNAL, "creating folder");
	assert_non_null(strstr(ct_error_message(&err), "file/sub"));
	assert_int_equal(err.errnum, ENOTDIR);
	assert_non_null(strstr(ct_error_message(&err), strerror(ENOTDIR)));
	/* At the end of it. */
	assert_failure(ct_mkdir_p(file, 0755, &err), &err, CT_ERR_INTERNAL,
		       "exists and is not a folder");
	assert_non_null(strstr(ct_error_message(&err), file));
	assert_int_equal(err.errnum, ENOTDIR);
	/* The file is untouched. */
	assert_true(S_ISREG(mode_of(file)));
}

/* ct_read_file */

static void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), len);
	close(fd);
}

static void test_read_file(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/f", (char *)*state);
	char *out = NULL;
	size_t len = 0;

	write_bytes(path, "hello\0world", 11);
	assert_int_equal(ct_read_file(path, 100, &out, &len, &err), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(out, "hello\0world", 12); /* NUL-terminated */
	free(out);
	/* len may be NULL. */
	out = NULL;
	assert_int_equal(ct_read_file(path, 100, &out, NULL, &err), 0);
	assert_string_equal(out, "hello");
	free(out);
}

static void test_read_file_empty(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/empty", (char *)*state);
	char *out = NULL;
	size_t len = 99;

	write_bytes(path, "", 0);
	assert_int_equal(ct_read_file(path, 0, &out, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
}

static void test_read_file_limit(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/big", (char *)*state);
	const size_t size = 10000; /* more than one read buffer */
	_cleanup_free_ char *data = xcalloc(1, size);
	char *out = NULL;
	size_t len = 0;

	for (size_t i = 0; i < size; i++)
		data[i] = 'a' + i % 26;
	write_bytes(path, data, size);
	/* Exactly the limit is fine. */
	assert_int_equal(ct_read_file(path, size, &out, &len, &err), 0);
	assert_int_equal(len, size);
	assert_memory_equal(out, data, size);
	assert_int_equal(out[size], '\0');
	free(out);
	/* One byte less is not, and nothing is handed back. */
	out = NULL;
	assert_failure(ct_read_file(path, size - 1, &out, &len, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "larger than the limit of 9999 bytes");
	assert_non_null(strstr(ct_error_message(&err), path));
	assert_int_equal(err.errnum, EFBIG);
	assert_null(out);
	assert_failure(ct_read_file(path, 0, &out, &len, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "larger than the limit");
	assert_null(out);
}

static void test_read_file_missing(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/missing", (char *)*state);
	char *out = NULL;

	assert_failure(ct_read_file(path, 10, &out, NULL, &err), &err, CT_ERR_NOT_FOUND, path);
	assert_int_equal(err.errnum, ENOENT);
	assert_null(out);
	/* A folder: open works, read fails; an internal error, not notFound. */
	assert_failure(ct_read_file(*state, 10, &out, NULL, &err), &err, CT_ERR_INTERNAL,
		       "reading");
	assert_int_equal(err.errnum, EISDIR);
	assert_null(out);
}

/* ct_write_file_atomic */

static void read_back(const char *path, const char *expect)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *out = NULL;

	if (ct_read_file(path, 1 << 20, &out, NULL, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(out, expect);
}

static void test_write_atomic(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/state.json", (char *)*state);
	mode_t old = umask(022);

	assert_int_equal(ct_write_file_atomic(path, "{\"a\":1}", 7, 0640, &err), 0);
	read_back(path, "{\"a\":1}");
	assert_true(S_ISREG(mode_of(path)));
	assert_int_equal(mode_of(path) & 07777, 0640);
	/* Nothing but the file itself: no temporary left behind. */
	assert_int_equal(count_entries(*state), 1);

	/* Replacing: new content (shorter, so no stale tail) and the new mode. */
	assert_int_equal(ct_write_file_atomic(path, "{}", 2, 0600, &err), 0);
	read_back(path, "{}");
	assert_int_equal(mode_of(path) & 07777, 0600);
	assert_int_equal(count_entries(*state), 1);

	/* Empty content. */
	assert_int_equal(ct_write_file_atomic(path, "", 0, 0600, &err), 0);
	read_back(path, "");
	umask(old);
}

/* The target's inode is replaced, never written through: a reader holding the old
 * file sees the old content whole, and a symlink at the path is replaced, not
 * followed. */
static void test_write_atomic_replaces_inode(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/f", (char *)*state);
	_cleanup_free_ char *victim = xasprintf("%s/victim", (char *)*state);
	char buf[16] = "";

	assert_int_equal(ct_write_file_atomic(path, "old", 3, 0644, &err), 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ct_write_file_atomic(path, "new!", 4, 0644, &err), 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 3);
	assert_string_equal(buf, "old");
	close(fd);
	read_back(path, "new!");

	write_bytes(victim, "precious", 8);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(ct_write_file_atomic(path, "x", 1, 0644, &err), 0);
	assert_true(S_ISREG(mode_of(path)));
	read_back(path, "x");
	read_back(victim, "precious");
}

static void test_write_atomic_failure_leaves_nothing(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = xasprintf("%s/adir", (char *)*state);
	_cleanup_free_ char *inner = xasprintf("%s/adir/inner", (char *)*state);
	_cleanup_free_ char *nodir = xasprintf("%s/nodir/f", (char *)*state);

	/* rename onto a non-empty folder fails: error, temporary removed. */
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(inner, 0755), 0);
	assert_failure(ct_write_file_atomic(dir, "x", 1, 0644, &err), &err, CT_ERR_INTERNAL,
		       "saving");
	assert_non_null(strstr(ct_error_message(&err), dir));
	assert_int_equal(count_entries(*state), 1);
	assert_true(S_ISDIR(mode_of(dir)));

	/* The folder does not exist: the error names the temporary it tried. */
	assert_failure(ct_write_file_atomic(nodir, "x", 1, 0644, &err), &err, CT_ERR_INTERNAL,
		       "creating");
	assert_non_null(strstr(ct_error_message(&err), "nodir/f"));
	assert_int_equal(err.errnum, ENOENT);
}

/* Small helpers */

static void test_time_helpers(void **state)
{
	char buf[64];
	uint64_t a = ct_now_monotonic_ms();

	usleep(20000);
	uint64_t b = ct_now_monotonic_ms();
	assert_true(b >= a + 19);
	assert_true(b < a + 5000);

	/* 2026-11-27T22:51:18.123Z */
	ct_format_time_now(buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24);
	for (size_t i = 0; i < 24; i++) {
		const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
		if (shape[i] == 'd')
			assert_true(buf[i] >= '0' && buf[i] <= '9');
		else
			assert_int_equal(buf[i], shape[i]);
	}
	/* Truncates rather than overflowing a small buffer. */
	char small[8];
	ct_format_time_now(small, sizeof(small));
	assert_int_equal(strlen(small), 7);
}

static void test_string_helpers(void **state)
{
	assert_true(ct_str_has_prefix("container.create", "container."));
	assert_true(ct_str_has_prefix("abc", ""));
	assert_true(ct_str_has_prefix("abc", "abc"));
	assert_false(ct_str_has_prefix("ab", "abc"));
	assert_false(ct_str_has_prefix("xabc", "abc"));

	_cleanup_free_ char *s = xasprintf("%s-%d", "n", 5);
	assert_string_equal(s, "n-5");
	_cleanup_free_ char *d = xstrdup(NULL);
	assert_string_equal(d, "");
	_cleanup_free_ int *z = xcalloc(0, 0);
	assert_non_null(z);
}

static void test_set_nonblock(void **state)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(ct_set_nonblock(p[0], true), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(ct_set_nonblock(p[0], false), 0);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	close(p[0]);
	close(p[1]);
	assert_int_equal(ct_set_nonblock(p[0], true), -1);
}

/* error.h */

static void test_error_set(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	assert_string_equal(ct_error_message(&err), "unknown error");
	assert_false(ct_error_is(&err, CT_ERR_INTERNAL));
	assert_int_equal(ct_error_set(&err, CT_ERR_NOT_FOUND, ENOENT, "no %s %d", "thing", 3), -1);
	assert_string_equal(err.code, "notFound");
	assert_int_equal(err.errnum, ENOENT);
	assert_string_equal(ct_error_message(&err), "no thing 3");
	assert_true(ct_error_is(&err, CT_ERR_NOT_FOUND));
	assert_false(ct_error_is(&err, CT_ERR_INTERNAL));
	assert_false(ct_error_is(NULL, CT_ERR_NOT_FOUND));
	/* Setting again replaces (the old message is freed: LeakSanitizer checks). */
	ct_error_set(&err, NULL, 0, "second");
	assert_string_equal(err.code, "internal");
	assert_int_equal(err.errnum, 0);
	assert_string_equal(ct_error_message(&err), "second");
	/* An overlong code is cut to fit, not overflowed. */
	ct_error_set(&err, "aVeryLongErrorCodeThatDoesNotFitInThirtyTwo", 0, "x");
	assert_int_equal(strlen(err.code), sizeof(err.code) - 1);
	assert_true(ct_str_has_prefix("aVeryLongErrorCodeThatDoesNotFitInThirtyTwo", err.code));
	/* A NULL error is allowed and still returns -1. */
	assert_int_equal(ct_error_set(NULL, CT_ERR_INTERNAL, 0, "dropped %s", "message"), -1);
	assert_string_equal(ct_error_message(NULL), "unknown error");
	ct_error_clear(&err);
	assert_null(err.message);
	assert_string_equal(err.code, "");
	assert_int_equal(err.errnum, 0);
	ct_error_clear(NULL);
}

static void test_error_errno(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char expect[128];

	errno = EACCES;
	assert_int_equal(ct_error_errno(&err, CT_ERR_PERMISSION_DENIED, "opening %s", "/x"), -1);
	snprintf(expect, sizeof(expect), "opening /x: %s", strerror(EACCES));
	assert_string_equal(ct_error_message(&err), expect);
	assert_int_equal(err.errnum, EACCES);
	assert_string_equal(err.code, "permissionDenied");

	/* The errno of the failure is kept even if formatting the message changes it. */
	errno = ENOENT;
	ct_error_errno(&err, CT_ERR_NOT_FOUND, "%s", "file");
	assert_int_equal(err.errnum, ENOENT);
	assert_non_null(strstr(ct_error_message(&err), strerror(ENOENT)));
	errno = EPERM;
	assert_int_equal(ct_error_errno(NULL, CT_ERR_INTERNAL, "nothing"), -1);
}

static void test_error_prefix_chain(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	ct_error_set(&err, CT_ERR_UNAVAILABLE, ECONNREFUSED, "connection refused");
	assert_int_equal(ct_error_prefix(&err, "connecting to %s", "127.0.0.1:5000"), -1);
	assert_int_equal(ct_error_prefix(&err, "pulling layer %d/%d", 2, 5), -1);
	assert_string_equal(ct_error_message(&err),
			    "pulling layer 2/5: connecting to 127.0.0.1:5000: connection refused");
	/* Code and errno survive the context. */
	assert_string_equal(err.code, "unavailable");
	assert_int_equal(err.errnum, ECONNREFUSED);

	/* Context on an empty error: still a message, and a code. */
	ct_error_clear(&err);
	assert_int_equal(ct_error_prefix(&err, "doing %s", "it"), -1);
	assert_string_equal(ct_error_message(&err), "doing it: unknown error");
	assert_string_equal(err.code, "internal");
	assert_int_equal(ct_error_prefix(NULL, "nothing"), -1);
}

static void test_error_move(void **state)
{
	_cleanup_error_ struct ct_error src = CT_ERROR_INIT;
	_cleanup_error_ struct ct_error dst = CT_ERROR_INIT;

	ct_error_set(&dst, CT_ERR_INTERNAL, 1, "old, freed by the move");
	ct_error_set(&src, CT_ERR_CONFLICT, EBUSY, "in use");
	char *message = src.message;
	ct_error_move(&dst, &src);
	assert_string_equal(dst.code, "conflict");
	assert_int_equal(dst.errnum, EBUSY);
	/* The very string moved, not a copy. */
	assert_ptr_equal(dst.message, message);
	assert_string_equal(ct_error_message(&dst), "in use");
	assert_null(src.message);
	assert_string_equal(src.code, "");
	assert_int_equal(src.errnum, 0);
	assert_string_equal(ct_error_message(&src), "unknown error");
}

/* cleanup.h */

static int give_fd(void)
{
	_cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return move_fd(fd);
}

static char *give_ptr(void)
{
	_cleanup_free_ char *p = xstrdup("kept");

	return move_ptr(p);
}

static void test_cleanup_helpers(void **state)
{
	int fd = give_fd();
	char *p = give_ptr();

	/* Moved out: still open / still allocated. */
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) >= 0);
	assert_string_equal(p, "kept");
	free(p);
	{
		_cleanup_close_ int scoped = fd;
		errno = 1234;
	}
	/* Closed at scope end, and errno preserved across the close. */
	assert_int_equal(errno, 1234);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	{
		_cleanup_strv_ char **v = xcalloc(3, sizeof(char *));
		v[0] = xstrdup("a");
		v[1] = xstrdup("b");
	}
	{
		_cleanup_fclose_ FILE *f = fopen("/dev/null", "re");
		_cleanup_closedir_ DIR *d = opendir("/");
		_cleanup_free_ char *none = NULL;
		_cleanup_close_ int neg = -1;
		assert_non_null(f);
		assert_non_null(d);
	}
	int arr[7];
	assert_int_equal(ARRAY_SIZE(arr), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_valid),
	    cmocka_unit_test(test_duration_invalid),
	    cmocka_unit_test(test_duration_overflow),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_nested, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_existing, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_file_in_the_way, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_read_file, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_read_file_empty, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_read_file_limit, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_read_file_missing, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_write_atomic, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_write_atomic_replaces_inode, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_write_atomic_failure_leaves_nothing, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test(test_time_helpers),
	    cmocka_unit_test(test_string_helpers),
	    cmocka_unit_test(test_set_nonblock),
	    cmocka_unit_test(test_error_set),
	    cmocka_unit_test(test_error_errno),
	    cmocka_unit_test(test_error_prefix_chain),
	    cmocka_unit_test(test_error_move),
	    cmocka_unit_test(test_cleanup_helpers),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
