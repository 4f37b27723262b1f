/* Unit tests of src/lib/log.c: levels, the line format in the log file, and what
 * is copied to stderr. */
#include <errno.h>
#include <fcntl.h>
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
#include "log.h"
#include "util.h"

/* Runs fn with stderr pointed at a pipe and returns what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
	int p[2], saved = dup(STDERR_FILENO);
	char *out = xcalloc(1, 65536);
	size_t have = 0;

	assert_true(saved >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], out + have, 65535 - have);
		if (n <= 0)
			break;
		have += n;
	}
	close(p[0]);
	return out;
}

static void test_level_names(void **state)
{
	assert_string_equal(ct_log_level_name(CT_LOG_ERROR), "error");
	assert_string_equal(ct_log_level_name(CT_LOG_WARN), "warn");
	assert_string_equal(ct_log_level_name(CT_LOG_INFO), "info");
	assert_string_equal(ct_log_level_name(CT_LOG_DEBUG), "debug");
	assert_string_equal(ct_log_level_name((enum ct_log_level)4), "?");
	assert_string_equal(ct_log_level_name((enum ct_log_level) - 1), "?");
	ct_log_set_level(CT_LOG_DEBUG);
	assert_int_equal(ct_log_get_level(), CT_LOG_DEBUG);
	ct_log_set_level(CT_LOG_WARN);
	assert_int_equal(ct_log_get_level(), CT_LOG_WARN);
}

static void log_some(void)
{
	log_error("broke %d", 1);
	log_warn("careful");
	log_info("fyi");
	log_debug("details");
}

/* Before any log file is open, stderr gets every line at or above the level,
 * without timestamp or pid, with "error: " / "warning: " for those levels. */
static void test_stderr_without_file(void **state)
{
	assert_int_equal(ct_log_file_fd(), -1);
	ct_log_init("comp", CT_LOG_INFO, false);
	_cleanup_free_ char *out = capture_stderr(log_some);
	assert_string_equal(out, "comp: error: broke 1\ncomp: warning: careful\ncomp: fyi\n");

	ct_log_init("comp", CT_LOG_ERROR, true);
	_cleanup_free_ char *only_errors = capture_stderr(log_some);
	assert_string_equal(only_errors, "comp: error: broke 1\n");

	ct_log_init("comp", CT_LOG_DEBUG, true);
	_cleanup_free_ char *all = capture_stderr(log_some);
	assert_string_equal(all, "comp: error: broke 1\ncomp: warning: careful\ncomp: fyi\n"
				 "comp: details\n");
}

static void log_errno_kept(void)
{
	errno = EXDEV;
	log_error("x");
	assert_int_equal(errno, EXDEV);
}

static void test_errno_preserved(void **state)
{
	ct_log_init("comp", CT_LOG_INFO, false);
	_cleanup_free_ char *out = capture_stderr(log_errno_kept);
	assert_string_equal(out, "comp: error: x\n");
}

/* Checks one file line: "2026-11-27T22:51:18.123Z info comp[123]: message". */
static void assert_line(const char *line, const char *level, const char *component,
			const char *message)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
	char expect[256];

	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd')
			assert_true(line[i] >= '0' && line[i] <= '9');
		else
			assert_int_equal(line[i], shape[i]);
	}
	snprintf(expect, sizeof(expect), "%s %s[%d]: %s", level, component, getpid(), message);
	assert_string_equal(line + strlen(shape), expect);
}

static void test_log_file(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char dir[] = "/tmp/ct-test-log-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = xasprintf("%s/container.log", dir);
	_cleanup_free_ char *text = NULL;
	struct stat st;
	mode_t old = umask(022);

	assert_int_equal(ct_log_open_file(path), 0);
	umask(old);
	int fd = ct_log_file_fd();
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	/* With a file and without --debug, stderr gets only warnings and errors. */
	ct_log_init("svc", CT_LOG_INFO, true);
	_cleanup_free_ char *out = capture_stderr(log_some);
	assert_string_equal(out, "svc: error: broke 1\nsvc: warning: careful\n");
	/* Not to stderr at all. */
	ct_log_init("svc", CT_LOG_INFO, false);
	_cleanup_free_ char *none = capture_stderr(log_some);
	assert_string_equal(none, "");

	assert_int_equal(ct_read_file(path, 1 << 20, &text, NULL, &err), 0);
	/* Six lines at info level: debug left out. */
	char *lines[8] = {0};
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < 8;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	assert_int_equal(n, 6);
	assert_line(lines[0], "error", "svc", "broke 1");
	assert_line(lines[1], "warn", "svc", "careful");
	assert_line(lines[2], "info", "svc", "fyi");
	assert_line(lines[3], "error", "svc", "broke 1");

	/* Opening another file replaces the first (and closes it). */
	_cleanup_free_ char *second = xasprintf("%s/second.log", dir);
	assert_int_equal(ct_log_open_file(second), 0);
	assert_true(ct_log_file_fd() >= 0);
	assert_int_not_equal(ct_log_file_fd(), fd);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	/* A file that cannot be opened: -1 with errno, the current one kept. */
	_cleanup_free_ char *bad = xasprintf("%s/missing/x.log", dir);
	int cur = ct_log_file_fd();
	assert_int_equal(ct_log_open_file(bad), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ct_log_file_fd(), cur);
	unlink(second);
	unlink(path);
	rmdir(dir);
}

/* A message longer than the line buffer is cut, and the line still ends in a
 * newline. */
static void test_long_line(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char dir[] = "/tmp/ct-test-log-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = xasprintf("%s/long.log", dir);
	_cleanup_free_ char *big = xcalloc(1, 10001);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	memset(big, 'z', 10000);
	assert_int_equal(ct_log_open_file(path), 0);
	ct_log_init("c", CT_LOG_INFO, false);
	log_info("%s", big);
	log_info("next");
	assert_int_equal(ct_read_file(path, 1 << 20, &text, &len, &err), 0);
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	assert_true(nl - text < 4096);
	assert_true(nl - text > 4000);
	assert_non_null(strstr(nl + 1, "info c["));
	assert_non_null(strstr(nl + 1, "]: next\n"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	/* In order: the stderr-only tests need no log file open yet. */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_level_names),	    cmocka_unit_test(test_stderr_without_file),
	    cmocka_unit_test(test_errno_preserved), cmocka_unit_test(test_log_file),
	    cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
