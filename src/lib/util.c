#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

char *xasprintf(const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s ? s : "", n);

	if (!d)
		abort();
	return d;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

int ct_mkdir_p(const char *path, mode_t mode, struct ct_error *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	size_t len = strlen(copy);

	for (size_t i = 1; i <= len; i++) {
		if (copy[i] != '/' && copy[i] != '\0')
			continue;
		char saved = copy[i];
		copy[i] = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return ct_error_errno(err, CT_ERR_INTERNAL, "creating folder %s", copy);
		copy[i] = saved;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "checking folder %s", path);
	if (!S_ISDIR(st.st_mode))
		return ct_error_set(err, CT_ERR_INTERNAL, ENOTDIR, "%s exists and is not a folder",
				    path);
	return 0;
}

int ct_read_file(const char *path, size_t max, char **out, size_t *len, struct ct_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t have = 0, cap = 0;

	if (fd < 0)
		return ct_error_errno(err, errno == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_INTERNAL,
				      "opening %s", path);
	for (;;) {
		if (have + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			char *n = realloc(buf, cap);
			if (!n)
				return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
						    "reading %s: out of memory", path);
			buf = n;
		}
		ssize_t r = read(fd, buf + have, cap - have - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading %s", path);
		}
		if (r == 0)
			break;
		have += r;
		if (have > max)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EFBIG,
					    "%s is larger than the limit of %zu bytes", path, max);
	}
	buf[have] = '\0';
	if (len)
		*len = have;
	*out = move_ptr(buf);
	return 0;
}

static int write_file_renamed(const char *path, const void *data, size_t len, mode_t mode,
			      bool sync, struct ct_error *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, getpid());
	_cleanup_close_ int fd =
	    open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	const char *p = data;

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", tmp);
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			ct_error_errno(err, CT_ERR_INTERNAL, "writing %s", tmp);
			unlink(tmp);
			return -1;
		}
		p += w;
		len -= w;
	}
	if ((sync && fsync(fd) < 0) || rename(tmp, path) < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "saving %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int ct_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct ct_error *err)
{
	return write_file_renamed(path, data, len, mode, true, err);
}

int ct_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			  struct ct_error *err)
{
	return write_file_renamed(path, data, len, mode, false, err);
}

uint64_t ct_now_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ct_format_time_now(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

int64_t ct_parse_duration_seconds(const char *s)
{
	char *end;
	long long v;

	long long unit;

	/* Digits only: strtoll would also take " 5" and "+5". */
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -1;
	}
	if ((*end && end[1]) || v > INT64_MAX / unit)
		return -1;
	return v * unit;
}

bool ct_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int ct_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int ct_remove_tree(const char *path, struct ct_error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
				       : ct_error_errno(err, CT_ERR_INTERNAL, "removing %s", path);
	/* FTW_PHYS never follows a symlink out of the tree; FTW_MOUNT never crosses
	 * into a mount inside it (a container's rootfs still mounted, say). */
	if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing %s", path);
	return 0;
}

bool ct_pid_running(pid_t pid)
{
	char path[64], buf[512];

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* "pid (comm) S …": the state follows the last ')'. */
	const char *paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

void ct_raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}
