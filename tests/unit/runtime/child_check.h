/* For the runtime's security tests: run a check in a forked child (a seccomp
 * filter, dropped capabilities or new limits must never reach the test runner)
 * and bring its verdict back over a pipe. cmocka's asserts can't be used in the
 * child; a check fills `msg` and returns non-zero instead (CHILD_CHECK). */
#ifndef TEST_RUNTIME_CHILD_CHECK_H
#define TEST_RUNTIME_CHILD_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*child_check_fn)(void *arg, char *msg, size_t size);

#define CHILD_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			int n_ = snprintf(msg, size, "%s:%d: ", __FILE__, __LINE__);               \
			if (n_ > 0 && (size_t)n_ < size)                                           \
				snprintf(msg + n_, size - (size_t)n_, __VA_ARGS__);                \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* Runs fn in a child; fails the current test with the child's message when it
 * returns non-zero or dies. */
static inline void run_child_check(child_check_fn fn, void *arg)
{
	int fds[2];
	char msg[1024] = "";
	size_t got = 0;
	int status = 0;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char out[1024] = "";
		int rc;

		/* cmocka catches fatal signals to carry on with the next test; a
		 * crashing child must die instead of running the rest of the suite. */
		static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
			signal(fatal[i], SIG_DFL);
		close(fds[0]);
		rc = fn(arg, out, sizeof(out));
		if (rc && !out[0])
			snprintf(out, sizeof(out), "check failed without a message");
		if (write(fds[1], out, strlen(out)) < 0)
			rc = 1;
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], msg + got, sizeof(msg) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the child died of signal %d (%s)", WTERMSIG(status), msg);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s", msg[0] ? msg : "the child failed");
}

/* A "Name:\t<hex>" line of /proc/self/status (or any such text). */
static inline bool status_field(const char *text, const char *name, char *value, size_t size)
{
	size_t len = strlen(name);

	for (const char *line = text; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			const char *v = line + len + 1;
			size_t n = 0;

			while (*v == ' ' || *v == '\t')
				v++;
			while (v[n] && v[n] != '\n' && n + 1 < size) {
				value[n] = v[n];
				n++;
			}
			value[n] = '\0';
			return true;
		}
	}
	return false;
}

/* Reads /proc/self/status without stdio. */
static inline bool read_self_status(char *buf, size_t size)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return false;
	for (;;) {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return got > 0;
}

#endif
