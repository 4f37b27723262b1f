/* The cgroup front end: layout detection, the handle, what v1 and v2 share
 * (directories, files, pids, attach, destroy) and the pure parsers. The
 * controller-specific work is in cgroup_v1.c and cgroup_v2.c. */
#define CGROUP_BACKEND
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define CGROUP_FS_ROOT	      "/sys/fs/cgroup"
#define DESTROY_RETRY_MS      200
#define DESTROY_RETRY_STEP_MS 10
#define PIDS_MAX_DEPTH	      32

static const char *const controller_names[CGROUP_CTRL_COUNT] = {
    [CGROUP_CTRL_MEMORY] = "memory",   [CGROUP_CTRL_CPU] = "cpu",
    [CGROUP_CTRL_CPUACCT] = "cpuacct", [CGROUP_CTRL_PIDS] = "pids",
    [CGROUP_CTRL_BLKIO] = "blkio",     [CGROUP_CTRL_FREEZER] = "freezer",
};

const char *cgroup_controller_name(enum cgroup_controller ctrl)
{
	return ctrl < CGROUP_CTRL_COUNT ? controller_names[ctrl] : "?";
}

/* Limits */

void cgroup_limits_init(struct cgroup_limits *limits)
{
	limits->memory = CGROUP_LIMIT_NONE;
	limits->memory_swap = CGROUP_SWAP_DEFAULT;
	limits->cpu_quota_us = CGROUP_LIMIT_NONE;
	limits->cpu_period_us = CGROUP_LIMIT_NONE;
	limits->pids = CGROUP_LIMIT_NONE;
}

int cgroup_limits_set_cpus(struct cgroup_limits *limits, double cpus, struct ct_error *err)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	double quota;

	if (online < 1)
		online = 1;
	if (!isfinite(cpus) || cpus <= 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "--cpus %g: the number of CPUs must be positive", cpus);
	quota = cpus * CGROUP_CPU_PERIOD_DEFAULT;
	/* As docker: a quota above all online CPUs is surely a typo. */
	if (quota < CGROUP_CPU_QUOTA_MIN || cpus > (double)online)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ERANGE,
				    "--cpus %g: the range is 0.01 to %ld.00 (%ld CPUs online)",
				    cpus, online, online);
	limits->cpu_period_us = CGROUP_CPU_PERIOD_DEFAULT;
	limits->cpu_quota_us = llround(quota);
	return 0;
}

int64_t cgroup_limits_memory_swap(const struct cgroup_limits *limits)
{
	if (limits->memory < 0 || limits->memory_swap < 0)
		return CGROUP_LIMIT_NONE;
	if (limits->memory_swap == CGROUP_SWAP_DEFAULT)
		return limits->memory > INT64_MAX / 2 ? CGROUP_LIMIT_NONE : 2 * limits->memory;
	return limits->memory_swap;
}

/* docker's floor: below this a container can't even start its runtime. */
#define MEMORY_MIN (6 * 1024 * 1024)

int cgroup_limits_validate(const struct cgroup_limits *l, struct ct_error *err)
{
	if (l->memory != CGROUP_LIMIT_NONE && l->memory < MEMORY_MIN)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "memory limit %" PRId64
				    " bytes: the minimum is 6 MiB (-1 for no limit)",
				    l->memory);
	if (l->memory_swap < CGROUP_LIMIT_NONE)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, EINVAL,
		    "memory+swap limit %" PRId64
		    ": use a size, 0 for twice the memory limit, or -1 for unlimited swap",
		    l->memory_swap);
	if (l->memory_swap > 0 && l->memory < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "a memory+swap limit (--memory-swap) needs a memory limit "
				    "(--memory) too");
	if (l->memory_swap > 0 && l->memory_swap < l->memory)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "the memory+swap limit (%" PRId64
				    " bytes) must be at least the memory limit (%" PRId64 " bytes)",
				    l->memory_swap, l->memory);
	if (l->cpu_quota_us != CGROUP_LIMIT_NONE && l->cpu_quota_us < CGROUP_CPU_QUOTA_MIN)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "CPU quota %" PRId64 " us: the minimum is %d us (--cpus 0.01)",
				    l->cpu_quota_us, CGROUP_CPU_QUOTA_MIN);
	if (l->cpu_period_us != CGROUP_LIMIT_NONE &&
	    (l->cpu_period_us < CGROUP_CPU_PERIOD_MIN || l->cpu_period_us > CGROUP_CPU_PERIOD_MAX))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "CPU period %" PRId64 " us: the range is %d to %d us",
				    l->cpu_period_us, CGROUP_CPU_PERIOD_MIN, CGROUP_CPU_PERIOD_MAX);
	if (l->pids != CGROUP_LIMIT_NONE && l->pids < 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "pids limit %" PRId64 ": use at least 1, or -1 for no limit",
				    l->pids);
	return 0;
}

/* Parsers and formatters */

int cgroup_format_cpu_max(int64_t quota_us, int64_t period_us, char *buf, size_t size)
{
	int n;

	if (period_us < 0)
		period_us = CGROUP_CPU_PERIOD_DEFAULT;
	if (quota_us < 0)
		n = snprintf(buf, size, "max %" PRId64, period_us);
	else
		n = snprintf(buf, size, "%" PRId64 " %" PRId64, quota_us, period_us);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

static int parse_i64(const char *s, const char **end, int64_t *out)
{
	char *e;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno)
		return -errno;
	*out = v;
	*end = e;
	return 0;
}

int cgroup_parse_cpu_max(const char *text, int64_t *quota_us, int64_t *period_us)
{
	const char *p = text, *end;
	int64_t quota, period;

	if (strncmp(p, "max", 3) == 0) {
		quota = CGROUP_LIMIT_NONE;
		p += 3;
	} else if (parse_i64(p, &end, &quota) < 0) {
		return -EINVAL;
	} else {
		p = end;
	}
	/* The kernel accepts "max" alone and keeps the period. */
	if (*p == '\0' || *p == '\n') {
		period = CGROUP_CPU_PERIOD_DEFAULT;
	} else {
		if (*p != ' ')
			return -EINVAL;
		p++;
		if (parse_i64(p, &end, &period) < 0 || period <= 0)
			return -EINVAL;
		p = end;
		if (*p == '\n')
			p++;
		if (*p)
			return -EINVAL;
	}
	*quota_us = quota;
	*period_us = period;
	return 0;
}

void cgroup_format_limit(int64_t value, bool v2, char *buf, size_t size)
{
	if (value < 0)
		snprintf(buf, size, "%s", v2 ? "max" : "-1");
	else
		snprintf(buf, size, "%" PRId64, value);
}

int cgroup_parse_u64(const char *text, uint64_t *value)
{
	const char *p = text;
	char *end;
	unsigned long long v;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "max", 3) == 0) {
		v = UINT64_MAX;
		end = (char *)p + 3;
	} else {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno)
			return -errno;
	}
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	*value = v;
	return 0;
}

int cgroup_parse_keyed(const char *text, const char *key, uint64_t *value)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n');

		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			char buf[32];
			size_t len = nl ? (size_t)(nl - line) - klen - 1 : strlen(line + klen + 1);

			if (len == 0 || len >= sizeof(buf))
				return -EINVAL;
			memcpy(buf, line + klen + 1, len);
			buf[len] = '\0';
			return cgroup_parse_u64(buf, value);
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

void cgroup_parse_blkio_v1(const char *text, uint64_t *read, uint64_t *write)
{
	const char *line = text;

	*read = *write = 0;
	while (line && *line) {
		char dev[32], op[16];
		unsigned long long v;

		if (sscanf(line, "%31s %15s %llu", dev, op, &v) == 3) {
			if (strcmp(op, "Read") == 0)
				*read += v;
			else if (strcmp(op, "Write") == 0)
				*write += v;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

void cgroup_parse_io_stat(const char *text, uint64_t *read, uint64_t *write)
{
	const char *line = text;

	*read = *write = 0;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *p = line;

		while (p < end) {
			const char *sp = memchr(p, ' ', (size_t)(end - p));
			const char *tok_end = sp ? sp : end;
			unsigned long long v;

			if (tok_end - p > 7 && strncmp(p, "rbytes=", 7) == 0 &&
			    sscanf(p + 7, "%llu", &v) == 1)
				*read += v;
			else if (tok_end - p > 7 && strncmp(p, "wbytes=", 7) == 0 &&
				 sscanf(p + 7, "%llu", &v) == 1)
				*write += v;
			p = tok_end + 1;
		}
		line = nl ? nl + 1 : NULL;
	}
}

int cgroup_parse_pids(const char *text, pid_t **pids, size_t *n)
{
	_cleanup_free_ pid_t *list = NULL;
	size_t count = 0, cap = 0;
	const char *p = text;

	while (*p) {
		char *end;
		long v;

		if (*p == '\n') {
			p++;
			continue;
		}
		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p || errno || v < 0 || v > INT_MAX || (*end && *end != '\n'))
			return -EINVAL;
		p = end;
		/* 0: a process of another pid namespace; it can't be signalled from here. */
		if (v == 0)
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			pid_t *grown = realloc(list, ncap * sizeof(*list));

			if (!grown)
				return -ENOMEM;
			list = grown;
			cap = ncap;
		}
		list[count++] = (pid_t)v;
	}
	*pids = move_ptr(list);
	*n = count;
	return 0;
}

bool cgroup_name_valid(const char *name)
{
	const char *p = name;
	size_t len;

	if (!name || !*name)
		return false;
	len = strlen(name);
	if (len >= 256 || name[0] == '/' || name[len - 1] == '/')
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);

		if (clen == 0 || (clen == 1 && p[0] == '.') ||
		    (clen == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < clen; i++) {
			unsigned char c = (unsigned char)p[i];

			if (!isalnum(c) && !strchr("_.:@-", c))
				return false;
		}
		p += clen;
		if (*p == '/')
			p++;
	}
	return true;
}

/* Layout detection */

static char *mountinfo_unescape(const char *s)
{
	char *out = xstrdup(s), *o = out;

	/* The kernel escapes space, tab, newline and backslash as \ooo. */
	for (const char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static bool under_fs_root(const char *path)
{
	return ct_str_has_prefix(path, CGROUP_FS_ROOT "/") || strcmp(path, CGROUP_FS_ROOT) == 0;
}

static int unified_rank(const char *path)
{
	if (strcmp(path, CGROUP_FS_ROOT) == 0)
		return 2;
	if (strcmp(path, CGROUP_FS_ROOT "/unified") == 0)
		return 1;
	return 0;
}

static void mountinfo_take_line(char *line, struct cgroup_layout *out)
{
	char *fields[64];
	size_t n = 0, sep = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " ", &save); tok && n < ARRAY_SIZE(fields);
	     tok = strtok_r(NULL, " ", &save))
		fields[n++] = tok;
	/* id parent major:minor root mountpoint options [optional...] - type source super */
	for (size_t i = 6; i < n; i++) {
		if (strcmp(fields[i], "-") == 0) {
			sep = i;
			break;
		}
	}
	if (sep == 0 || sep + 1 >= n)
		return;

	const char *type = fields[sep + 1];
	const char *super = sep + 3 < n ? fields[sep + 3] : "";
	_cleanup_free_ char *mountpoint = mountinfo_unescape(fields[4]);

	if (strcmp(type, "cgroup2") == 0) {
		if (!out->unified || unified_rank(mountpoint) > unified_rank(out->unified)) {
			free(out->unified);
			out->unified = move_ptr(mountpoint);
		}
		return;
	}
	if (strcmp(type, "cgroup") != 0)
		return;

	_cleanup_free_ char *opts = xstrdup(super);
	char *osave = NULL;

	for (char *opt = strtok_r(opts, ",", &osave); opt; opt = strtok_r(NULL, ",", &osave)) {
		for (int c = 0; c < CGROUP_CTRL_COUNT; c++) {
			if (strcmp(opt, controller_names[c]) != 0)
				continue;
			/* The same hierarchy may be mounted twice (bind mounts): prefer
			 * the one under /sys/fs/cgroup. */
			if (!out->v1[c] ||
			    (!under_fs_root(out->v1[c]) && under_fs_root(mountpoint))) {
				free(out->v1[c]);
				out->v1[c] = xstrdup(mountpoint);
			}
		}
	}
}

int cgroup_parse_mountinfo(const char *text, struct cgroup_layout *out)
{
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		mountinfo_take_line(line, out);
	return 0;
}

enum cgroup_mode cgroup_mode_decide(bool root_is_cgroup2, const struct cgroup_layout *layout)
{
	bool any_v1 = false;

	if (root_is_cgroup2)
		return CGROUP_MODE_V2;
	for (int c = 0; c < CGROUP_CTRL_COUNT; c++)
		any_v1 = any_v1 || layout->v1[c];
	if (any_v1)
		return layout->unified ? CGROUP_MODE_HYBRID : CGROUP_MODE_V1;
	return layout->unified ? CGROUP_MODE_V2 : CGROUP_MODE_NONE;
}

void cgroup_layout_clear(struct cgroup_layout *layout)
{
	free(layout->unified);
	for (int c = 0; c < CGROUP_CTRL_COUNT; c++)
		free(layout->v1[c]);
	memset(layout, 0, sizeof(*layout));
}

static struct {
	struct cgroup_layout layout;
	char *error;
	int errnum;
} host;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_detect(void)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *mountinfo = NULL;
	struct statfs sfs;
	bool root_is_cgroup2;
	size_t len;

	root_is_cgroup2 = statfs(CGROUP_FS_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
	if (ct_read_file("/proc/self/mountinfo", 16 << 20, &mountinfo, &len, &err) < 0) {
		host.error = xasprintf("detecting the cgroup layout: %s", ct_error_message(&err));
		host.errnum = err.errnum;
		return;
	}
	cgroup_parse_mountinfo(mountinfo, &host.layout);
	if (root_is_cgroup2) {
		/* A unified host: any v1 mount left over is not ours to use. */
		cgroup_layout_clear(&host.layout);
		host.layout.unified = xstrdup(CGROUP_FS_ROOT);
	}
	host.layout.mode = cgroup_mode_decide(root_is_cgroup2, &host.layout);
	if (host.layout.mode == CGROUP_MODE_NONE) {
		host.error = xstrdup("no cgroup file system is mounted (neither cgroup2 at "
				     "/sys/fs/cgroup nor v1 controllers): mount one, e.g. "
				     "`mount -t cgroup2 none /sys/fs/cgroup`");
		host.errnum = ENOENT;
		return;
	}
	log_debug("cgroup layout: %s", host.layout.mode == CGROUP_MODE_V2   ? "v2"
				       : host.layout.mode == CGROUP_MODE_V1 ? "v1"
									    : "hybrid");
}

int cgroup_host_layout(const struct cgroup_layout **layout, struct ct_error *err)
{
	pthread_once(&host_once, host_detect);
	if (host.error)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, host.errnum, "%s", host.error);
	*layout = &host.layout;
	return 0;
}

int cgroup_detect(enum cgroup_mode *mode, struct ct_error *err)
{
	const struct cgroup_layout *layout;

	if (cgroup_host_layout(&layout, err) < 0)
		return -1;
	*mode = layout->mode;
	return 0;
}

static const char *mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_MODE_V1:
		return "v1";
	case CGROUP_MODE_V2:
		return "v2";
	case CGROUP_MODE_HYBRID:
		return "hybrid";
	default:
		return "none";
	}
}

const char *cgroup_mode_name(void)
{
	enum cgroup_mode mode = CGROUP_MODE_NONE;

	if (cgroup_detect(&mode, NULL) < 0)
		return "none";
	return mode_name(mode);
}

/* Files */

bool cgroup_fd_is_cgroupfs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == CGROUP_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_write_raw(int dfd, const char *file, const char *value)
{
	_cleanup_close_ int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (!cgroup_fd_is_cgroupfs(fd))
		return -EXDEV;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int cgroup_read_raw(int dfd, const char *file, char **out)
{
	_cleanup_close_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	if (!cgroup_fd_is_cgroupfs(fd))
		return -EXDEV;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *grown = realloc(buf, ncap);

			if (!grown)
				return -ENOMEM;
			buf = grown;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = move_ptr(buf);
	return 0;
}

static const char *code_for_errno(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case EROFS:
		return CT_ERR_PERMISSION_DENIED;
	case EBUSY:
		return CT_ERR_CONFLICT;
	case EINVAL:
	case ERANGE:
		return CT_ERR_INVALID_ARGUMENT;
	case ENOENT:
	case EOPNOTSUPP:
		return CT_ERR_UNSUPPORTED;
	default:
		return CT_ERR_INTERNAL;
	}
}

static int file_error(int rc, const char *what, const struct cgroup_dir *dir, const char *file,
		      struct ct_error *err)
{
	if (rc == -EXDEV)
		return ct_error_set(err, CT_ERR_INTERNAL, EXDEV,
				    "%s %s/%s: not on a cgroup file system", what, dir->path, file);
	errno = -rc;
	return ct_error_errno(err, code_for_errno(-rc), "%s %s/%s", what, dir->path, file);
}

int cgroup_write(const struct cgroup_dir *dir, const char *file, const char *value,
		 struct ct_error *err)
{
	int rc = cgroup_write_raw(dir->fd, file, value);
	_cleanup_free_ char *what = NULL;

	if (rc == 0)
		return 0;
	what = xasprintf("writing \"%s\" to", value);
	return file_error(rc, what, dir, file, err);
}

int cgroup_read(const struct cgroup_dir *dir, const char *file, char **out, struct ct_error *err)
{
	int rc = cgroup_read_raw(dir->fd, file, out);

	return rc < 0 ? file_error(rc, "reading", dir, file, err) : 0;
}

int cgroup_read_u64_opt(const struct cgroup_dir *dir, const char *file, uint64_t *value,
			struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = cgroup_read_raw(dir->fd, file, &text);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return file_error(rc, "reading", dir, file, err);
	if (cgroup_parse_u64(text, value) < 0)
		return ct_error_set(err, CT_ERR_INTERNAL, EINVAL, "%s/%s: not a number: \"%.40s\"",
				    dir->path, file, text);
	return 0;
}

int cgroup_read_keyed_opt(const struct cgroup_dir *dir, const char *file, const char *key,
			  uint64_t *value, struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = cgroup_read_raw(dir->fd, file, &text);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return file_error(rc, "reading", dir, file, err);
	rc = cgroup_parse_keyed(text, key, value);
	if (rc < 0 && rc != -ENOENT)
		return ct_error_set(err, CT_ERR_INTERNAL, EINVAL, "%s/%s: bad \"%s\" line",
				    dir->path, file, key);
	return 0;
}

bool cgroup_file_exists(const struct cgroup_dir *dir, const char *file)
{
	return faccessat(dir->fd, file, F_OK, 0) == 0;
}

int cgroup_error_missing(const struct cgroup *cg, enum cgroup_controller ctrl, const char *what,
			 struct ct_error *err)
{
	if (cg->mode == CGROUP_MODE_V2) {
		const char *name = ctrl == CGROUP_CTRL_BLKIO ? "io" : cgroup_controller_name(ctrl);

		return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
				    "%s: the %s controller is not enabled for cgroup %s (the "
				    "kernel lacks it or a parent's cgroup.subtree_control does "
				    "not delegate it)",
				    what, name, cg->name);
	}
	return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
			    "%s: the %s controller is not mounted at " CGROUP_FS_ROOT "/%s", what,
			    cgroup_controller_name(ctrl), cgroup_controller_name(ctrl));
}

uint64_t cgroup_host_memory(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return (uint64_t)si.totalram * si.mem_unit;
}

void cgroup_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Directories */

struct cgroup_dir *cgroup_dir_for(struct cgroup *cg, enum cgroup_controller ctrl)
{
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (cg->dirs[i].ctrls & CGROUP_CTRL_BIT(ctrl))
			return &cg->dirs[i];
	return NULL;
}

static int make_dirs(struct cgroup *cg, int root_fd, const char *mount, bool *created,
		     cgroup_before_mkdir_fn before_mkdir, void *ctx, struct ct_error *err)
{
	_cleanup_free_ char *rel = xstrdup(cg->name);
	char *p = rel;

	for (;;) {
		char *slash = strchr(p, '/');

		if (before_mkdir) {
			/* The ancestor: the mount itself, then each parent. */
			_cleanup_close_ int dfd = -1;
			_cleanup_free_ char *path = NULL;

			if (p == rel) {
				dfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
				path = xstrdup(mount);
			} else {
				p[-1] = '\0';
				dfd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				path = xasprintf("%s/%s", mount, rel);
				p[-1] = '/';
			}
			if (dfd < 0)
				return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", path);
			if (before_mkdir(dfd, path, ctx, err) < 0)
				return -1;
		}
		if (slash)
			*slash = '\0';
		if (mkdirat(root_fd, rel, 0755) < 0) {
			if (errno != EEXIST)
				return ct_error_errno(err, code_for_errno(errno),
						      "creating cgroup %s/%s", mount, rel);
			if (!slash)
				return ct_error_set(
				    err, CT_ERR_EXISTS, EEXIST,
				    "cgroup %s/%s already exists (a container with "
				    "this id, or one left over: open and destroy it)",
				    mount, rel);
		} else if (!slash) {
			*created = true;
		}
		if (!slash)
			return 0;
		*slash = '/';
		p = slash + 1;
	}
}

int cgroup_dir_add(struct cgroup *cg, const char *mount, unsigned ctrls, bool create,
		   cgroup_before_mkdir_fn before_mkdir, void *ctx, struct ct_error *err)
{
	_cleanup_close_ int root_fd = -1, fd = -1;
	struct cgroup_dir *dir;
	bool created = false;

	if (cg->n_dirs >= ARRAY_SIZE(cg->dirs))
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "too many cgroup hierarchies");
	root_fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return ct_error_errno(err, CT_ERR_UNSUPPORTED, "opening cgroup hierarchy %s",
				      mount);
	if (!cgroup_fd_is_cgroupfs(root_fd))
		return ct_error_set(err, CT_ERR_UNSUPPORTED, EXDEV,
				    "%s is not a cgroup file system", mount);
	if (create && make_dirs(cg, root_fd, mount, &created, before_mkdir, ctx, err) < 0)
		return -1;
	fd = openat(root_fd, cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || !cgroup_fd_is_cgroupfs(fd)) {
		int e = fd < 0 ? errno : EXDEV;

		if (created)
			unlinkat(root_fd, cg->name, AT_REMOVEDIR);
		if (e == ENOENT)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
					    "cgroup %s/%s does not exist", mount, cg->name);
		if (e == EXDEV)
			return ct_error_set(err, CT_ERR_INTERNAL, EXDEV,
					    "%s/%s is not on a cgroup file system", mount,
					    cg->name);
		errno = e;
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening cgroup %s/%s", mount,
				      cg->name);
	}
	dir = &cg->dirs[cg->n_dirs++];
	dir->mount = xstrdup(mount);
	dir->path = xasprintf("%s/%s", mount, cg->name);
	dir->ctrls = ctrls;
	dir->created = created;
	dir->root_fd = move_fd(root_fd);
	dir->fd = move_fd(fd);
	return 0;
}

static void dir_release(struct cgroup_dir *dir)
{
	if (dir->fd >= 0)
		close(dir->fd);
	if (dir->root_fd >= 0)
		close(dir->root_fd);
	free(dir->mount);
	free(dir->path);
	memset(dir, 0, sizeof(*dir));
	dir->fd = dir->root_fd = -1;
}

/* Undoes a creation that failed half-way: only what this handle made. */
static void remove_created(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (cg->dirs[i].created &&
		    unlinkat(cg->dirs[i].root_fd, cg->name, AT_REMOVEDIR) < 0)
			log_warn("removing cgroup %s after a failed creation: %s", cg->dirs[i].path,
				 strerror(errno));
}

static struct cgroup *cgroup_new(const struct cgroup_layout *layout, const char *name)
{
	struct cgroup *cg = xcalloc(1, sizeof(*cg));

	cg->mode = layout->mode;
	cg->ops = layout->mode == CGROUP_MODE_V2 ? &cgroup_v2_ops : &cgroup_v1_ops;
	cg->name = xstrdup(name);
	for (size_t i = 0; i < ARRAY_SIZE(cg->dirs); i++)
		cg->dirs[i].fd = cg->dirs[i].root_fd = -1;
	return cg;
}

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_dirs; i++)
		dir_release(&cg->dirs[i]);
	free(cg->name);
	free(cg);
}

void cgroup_freep(struct cgroup **cg)
{
	cgroup_free(*cg);
}

const char *cgroup_name(const struct cgroup *cg)
{
	return cg->name;
}

enum cgroup_mode cgroup_get_mode(const struct cgroup *cg)
{
	return cg->mode;
}

static int check_name(const char *name, struct ct_error *err)
{
	if (!cgroup_name_valid(name))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "cgroup name \"%s\": use a relative path of letters, digits "
				    "and _.:@- (no \".\" or \"..\" components)",
				    name ? name : "");
	return 0;
}

int cgroup_create_with(const struct cgroup_layout *layout, const char *name,
		       const struct cgroup_limits *limits, struct cgroup **out,
		       struct ct_error *err)
{
	_cleanup_cgroup_ struct cgroup *cg = NULL;

	if (check_name(name, err) < 0)
		return -1;
	if (limits && cgroup_limits_validate(limits, err) < 0)
		return -1;
	cg = cgroup_new(layout, name);
	if (cg->ops->setup(cg, layout, true, limits, err) < 0 ||
	    (limits && cg->ops->set_limits(cg, limits, err) < 0)) {
		remove_created(cg);
		return ct_error_prefix(err, "creating cgroup %s", name);
	}
	*out = move_ptr(cg);
	return 0;
}

int cgroup_open_with(const struct cgroup_layout *layout, const char *name, struct cgroup **out,
		     struct ct_error *err)
{
	_cleanup_cgroup_ struct cgroup *cg = NULL;

	if (check_name(name, err) < 0)
		return -1;
	cg = cgroup_new(layout, name);
	if (cg->ops->setup(cg, layout, false, NULL, err) < 0)
		return -1;
	*out = move_ptr(cg);
	return 0;
}

int cgroup_create(const char *name, const struct cgroup_limits *limits, struct cgroup **out,
		  struct ct_error *err)
{
	const struct cgroup_layout *layout;

	if (cgroup_host_layout(&layout, err) < 0)
		return -1;
	return cgroup_create_with(layout, name, limits, out, err);
}

int cgroup_open(const char *name, struct cgroup **out, struct ct_error *err)
{
	const struct cgroup_layout *layout;

	if (cgroup_host_layout(&layout, err) < 0)
		return -1;
	return cgroup_open_with(layout, name, out, err);
}

static int check_alive(const struct cgroup *cg, struct ct_error *err)
{
	if (cg->destroyed)
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT, "cgroup %s was destroyed",
				    cg->name);
	return 0;
}

int cgroup_update(struct cgroup *cg, const struct cgroup_limits *limits, struct ct_error *err)
{
	if (check_alive(cg, err) < 0 || cgroup_limits_validate(limits, err) < 0)
		return -1;
	if (cg->ops->set_limits(cg, limits, err) < 0)
		return ct_error_prefix(err, "updating the limits of cgroup %s", cg->name);
	return 0;
}

int cgroup_stats(struct cgroup *cg, struct cgroup_stats *out, struct ct_error *err)
{
	uint64_t total = cgroup_host_memory();

	memset(out, 0, sizeof(*out));
	if (check_alive(cg, err) < 0)
		return -1;
	out->memory_limit = UINT64_MAX;
	if (cg->ops->stats(cg, out, err) < 0)
		return ct_error_prefix(err, "reading the statistics of cgroup %s", cg->name);
	if (total && out->memory_limit > total)
		out->memory_limit = total;
	if (out->pids_limit == UINT64_MAX)
		out->pids_limit = 0;
	out->oom_killed = out->oom_kills > 0;
	return 0;
}

int cgroup_oom_fd(struct cgroup *cg, struct ct_error *err)
{
	int fd;

	if (check_alive(cg, err) < 0)
		return -1;
	fd = cg->ops->oom_fd(cg, err);
	if (fd < 0)
		return ct_error_prefix(err, "watching cgroup %s for OOM kills", cg->name);
	return fd;
}

int cgroup_oom_killed(struct cgroup *cg, bool *killed, struct ct_error *err)
{
	uint64_t kills = 0;

	if (check_alive(cg, err) < 0)
		return -1;
	if (cg->ops->oom_kills(cg, &kills, err) < 0)
		return ct_error_prefix(err, "reading the OOM kills of cgroup %s", cg->name);
	*killed = kills > 0;
	return 0;
}

int cgroup_kill_all(struct cgroup *cg, int sig, struct ct_error *err)
{
	if (check_alive(cg, err) < 0)
		return -1;
	if (cg->ops->kill_all(cg, sig, err) < 0)
		return ct_error_prefix(err, "signalling the processes of cgroup %s", cg->name);
	return 0;
}

/* Processes */

int cgroup_attach(struct cgroup *cg, pid_t pid, struct ct_error *err)
{
	char buf[24];

	if (check_alive(cg, err) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		int rc = cgroup_write_raw(cg->dirs[i].fd, "cgroup.procs", buf);

		if (rc == -ESRCH)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ESRCH,
					    "moving process %d into cgroup %s: no such process",
					    (int)pid, cg->dirs[i].path);
		if (rc < 0) {
			errno = -rc;
			return ct_error_errno(err, code_for_errno(-rc),
					      "moving process %d into cgroup %s", (int)pid,
					      cg->dirs[i].path);
		}
	}
	return 0;
}

int cgroup_procs_fds(struct cgroup *cg, int *fds, size_t *n, struct ct_error *err)
{
	size_t room = *n;

	*n = 0;
	if (check_alive(cg, err) < 0)
		return -1;
	if (room < cg->n_dirs)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOSPC,
				    "cgroup %s has %zu hierarchies; room for %zu fds", cg->name,
				    cg->n_dirs, room);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		int fd = openat(cg->dirs[i].fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0 || !cgroup_fd_is_cgroupfs(fd)) {
			int e = fd < 0 ? errno : EXDEV;

			if (fd >= 0)
				close(fd);
			cgroup_close_fds(fds, *n);
			*n = 0;
			errno = e;
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s/cgroup.procs",
					      cg->dirs[i].path);
		}
		fds[(*n)++] = fd;
	}
	return 0;
}

/* Runs between fork/clone and exec: write(2) only. */
int cgroup_enter_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ssize_t w = write(fds[i], "0", 1);

		if (w < 0)
			return -errno;
		if (w != 1)
			return -EIO;
	}
	return 0;
}

void cgroup_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int collect_pids(int dfd, const char *path, int depth, pid_t **all, size_t *n_all,
			struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	size_t n = 0;
	int rc, fd;
	struct dirent *de;

	rc = cgroup_read_raw(dfd, "cgroup.procs", &text);
	if (rc == -ENOENT || rc == -ENODEV) /* removed meanwhile */
		return 0;
	if (rc < 0) {
		errno = -rc;
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading %s/cgroup.procs", path);
	}
	if (cgroup_parse_pids(text, &pids, &n) < 0)
		return ct_error_set(err, CT_ERR_INTERNAL, EINVAL, "%s/cgroup.procs: bad pid list",
				    path);
	if (n) {
		pid_t *grown = realloc(*all, (*n_all + n) * sizeof(pid_t));

		if (!grown)
			return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
		memcpy(grown + *n_all, pids, n * sizeof(pid_t));
		*all = grown;
		*n_all += n;
	}
	if (depth >= PIDS_MAX_DEPTH)
		return 0;
	/* A container may have made cgroups of its own below its cgroup. */
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ct_error_errno(err, CT_ERR_INTERNAL, "listing %s", path);
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -1;
		_cleanup_free_ char *subpath = NULL;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			continue;
		subpath = xasprintf("%s/%s", path, de->d_name);
		if (collect_pids(sub, subpath, depth + 1, all, n_all, err) < 0)
			return -1;
	}
	return 0;
}

static int compare_pids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int cgroup_pids(struct cgroup *cg, pid_t **pids, size_t *n, struct ct_error *err)
{
	_cleanup_free_ pid_t *all = NULL;
	size_t count = 0, unique = 0;

	if (check_alive(cg, err) < 0)
		return -1;
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (collect_pids(cg->dirs[i].fd, cg->dirs[i].path, 0, &all, &count, err) < 0)
			return -1;
	if (count) {
		qsort(all, count, sizeof(*all), compare_pids);
		for (size_t i = 0; i < count; i++)
			if (unique == 0 || all[unique - 1] != all[i])
				all[unique++] = all[i];
	}
	*pids = move_ptr(all);
	*n = unique;
	return 0;
}

void cgroup_signal_pids(const pid_t *pids, size_t n, int sig)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0 && kill(pids[i], sig) < 0 && errno != ESRCH)
			log_warn("sending signal %d to process %d: %s", sig, (int)pids[i],
				 strerror(errno));
}

static char *format_pids(const pid_t *pids, size_t n)
{
	size_t shown = n < 10 ? n : 10;
	char *out = xstrdup("");

	for (size_t i = 0; i < shown; i++) {
		char *next = xasprintf("%s%s%d", out, i ? ", " : "", (int)pids[i]);

		free(out);
		out = next;
	}
	if (shown < n) {
		char *next = xasprintf("%s and %zu more", out, n - shown);

		free(out);
		out = next;
	}
	return out;
}

int cgroup_wait_empty(struct cgroup *cg, int timeout_ms, struct ct_error *err)
{
	uint64_t deadline = ct_now_monotonic_ms() + (uint64_t)timeout_ms;
	unsigned step = 1;

	for (;;) {
		_cleanup_free_ pid_t *pids = NULL;
		_cleanup_free_ char *list = NULL;
		size_t n = 0;

		if (cgroup_pids(cg, &pids, &n, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		if (ct_now_monotonic_ms() >= deadline) {
			list = format_pids(pids, n);
			return ct_error_set(err, CT_ERR_TIMEOUT, ETIMEDOUT,
					    "%zu processes still running %d ms after SIGKILL "
					    "(pids %s): stuck in the kernel (state D)?",
					    n, timeout_ms, list);
		}
		/* Any process forked since the last round gets its SIGKILL too. */
		cgroup_signal_pids(pids, n, SIGKILL);
		cgroup_sleep_ms(step);
		if (step < 16)
			step *= 2;
	}
}

/* Destroy */

static int rmdir_tree(int root_fd, const char *rel, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return -e;
	}
	while (depth < PIDS_MAX_DEPTH && (de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		int rc;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", rel, de->d_name);
		rc = rmdir_tree(root_fd, sub, depth + 1);
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	if (unlinkat(root_fd, rel, AT_REMOVEDIR) < 0)
		return -errno;
	return 0;
}

int cgroup_destroy(struct cgroup *cg, struct ct_error *err)
{
	uint64_t deadline = ct_now_monotonic_ms() + DESTROY_RETRY_MS;
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_free_ char *list = NULL;
	size_t n = 0;

	if (cg->destroyed)
		return 0;
	for (;;) {
		bool busy = false;

		for (size_t i = 0; i < cg->n_dirs; i++) {
			struct cgroup_dir *dir = &cg->dirs[i];
			int rc;

			if (dir->removed)
				continue;
			rc = rmdir_tree(dir->root_fd, cg->name, 0);
			if (rc == 0 || rc == -ENOENT) {
				dir->removed = true;
			} else if (rc == -EBUSY) {
				busy = true;
			} else {
				errno = -rc;
				return ct_error_errno(err, code_for_errno(-rc),
						      "removing cgroup %s", dir->path);
			}
		}
		if (!busy) {
			cg->destroyed = true;
			return 0;
		}
		/* A process that was just killed leaves its cgroup a moment later. */
		if (ct_now_monotonic_ms() >= deadline)
			break;
		cgroup_sleep_ms(DESTROY_RETRY_STEP_MS);
	}
	if (cgroup_pids(cg, &pids, &n, NULL) == 0 && n > 0) {
		list = format_pids(pids, n);
		return ct_error_set(err, CT_ERR_CONFLICT, EBUSY,
				    "removing cgroup %s: %zu processes are still inside (pids %s); "
				    "stop the container first",
				    cg->name, n, list);
	}
	return ct_error_set(err, CT_ERR_CONFLICT, EBUSY,
			    "removing cgroup %s: the kernel says it is still in use (EBUSY)",
			    cg->name);
}
