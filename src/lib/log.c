#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static struct {
	char component[64];
	enum ct_log_level level;
	bool to_stderr;
	int fd;
} log_state = {.component = "container", .level = CT_LOG_INFO, .to_stderr = true, .fd = -1};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ct_log_init(const char *component, enum ct_log_level level, bool to_stderr)
{
	snprintf(log_state.component, sizeof(log_state.component), "%s", component);
	log_state.level = level;
	log_state.to_stderr = to_stderr;
}

int ct_log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -1;
	if (log_state.fd >= 0)
		close(log_state.fd);
	log_state.fd = fd;
	return 0;
}

int ct_log_file_fd(void)
{
	return log_state.fd;
}

void ct_log_set_level(enum ct_log_level level)
{
	log_state.level = level;
}

enum ct_log_level ct_log_get_level(void)
{
	return log_state.level;
}

const char *ct_log_level_name(enum ct_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

void ct_log(enum ct_log_level level, const char *fmt, ...)
{
	char line[4096];
	struct timespec ts;
	struct tm tm;
	int saved = errno;
	int n, m, head;
	va_list ap;

	if (level > log_state.level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%d]: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, ct_log_level_name(level), log_state.component, getpid());
	head = n;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	/* One write(2) per line: with O_APPEND the kernel keeps concurrent writers'
	 * lines whole. */
	if (log_state.fd >= 0 && write(log_state.fd, line, n) < 0) {
		/* Nothing sensible to do; stderr below may still work. */
	}
	/* stderr gets warnings and errors, and everything with --debug (or when there
	 * is no log file to hold it). */
	if (log_state.fd < 0 ||
	    (log_state.to_stderr && (level <= CT_LOG_WARN || log_state.level >= CT_LOG_DEBUG))) {
		/* The stderr copy drops the timestamp and pid: it is for a person watching. */
		dprintf(STDERR_FILENO, "%s: %s%.*s", log_state.component,
			level <= CT_LOG_WARN ? (level == CT_LOG_ERROR ? "error: " : "warning: ") : "",
			n - head, line + head);
	}
	errno = saved;
}
