/* cgroup v2: one directory in the unified hierarchy. Controllers reach it only
 * when every ancestor lists them in cgroup.subtree_control, so creation enables
 * memory, cpu, pids and io on the way down (an ancestor with processes of its own
 * can't: the "no internal processes" rule). */
#define CGROUP_BACKEND
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define FREEZE_TIMEOUT_MS 500
#define KILL_TIMEOUT_MS	  2000

static const struct {
	enum cgroup_controller ctrl;
	const char *name;
} v2_controllers[] = {
    {CGROUP_CTRL_MEMORY, "memory"},
    {CGROUP_CTRL_CPU, "cpu"},
    {CGROUP_CTRL_PIDS, "pids"},
    {CGROUP_CTRL_BLKIO, "io"},
};

/* Is word one of the space-separated words of list? */
static bool word_in(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; p && *p;) {
		size_t wlen = strcspn(p, " \n");

		if (wlen == len && strncmp(p, word, len) == 0)
			return true;
		p += wlen;
		p += strspn(p, " \n");
	}
	return false;
}

static unsigned limits_need(const struct cgroup_limits *l)
{
	unsigned need = 0;

	if (!l)
		return 0;
	if (l->memory >= 0)
		need |= CGROUP_CTRL_BIT(CGROUP_CTRL_MEMORY);
	if (l->cpu_quota_us >= 0 || l->cpu_period_us >= 0)
		need |= CGROUP_CTRL_BIT(CGROUP_CTRL_CPU);
	if (l->pids >= 0)
		need |= CGROUP_CTRL_BIT(CGROUP_CTRL_PIDS);
	return need;
}

/* Runs on each ancestor before its child is made. */
static int v2_enable_controllers(int dfd, const char *path, void *ctx, struct ct_error *err)
{
	unsigned need = *(const unsigned *)ctx;
	_cleanup_free_ char *available = NULL, *enabled = NULL;
	int rc;

	rc = cgroup_read_raw(dfd, "cgroup.controllers", &available);
	if (rc == 0)
		rc = cgroup_read_raw(dfd, "cgroup.subtree_control", &enabled);
	if (rc < 0) {
		errno = -rc;
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading the controllers of %s", path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(v2_controllers); i++) {
		const char *name = v2_controllers[i].name;
		bool needed = need & CGROUP_CTRL_BIT(v2_controllers[i].ctrl);
		char buf[16];

		if (!word_in(available, name)) {
			if (needed)
				return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
						    "the %s controller is not available in %s "
						    "(cgroup.controllers: \"%.*s\")",
						    name, path, (int)strcspn(available, "\n"),
						    available);
			continue;
		}
		if (word_in(enabled, name))
			continue;
		snprintf(buf, sizeof(buf), "+%s", name);
		rc = cgroup_write_raw(dfd, "cgroup.subtree_control", buf);
		if (rc == 0)
			continue;
		if (rc == -EBUSY && needed)
			return ct_error_set(err, CT_ERR_CONFLICT, EBUSY,
					    "enabling the %s controller in %s: that cgroup has "
					    "processes of its own, and cgroup v2 delegates "
					    "controllers only from cgroups without (move them to a "
					    "leaf cgroup)",
					    name, path);
		if (needed) {
			errno = -rc;
			return ct_error_errno(err, CT_ERR_INTERNAL,
					      "enabling the %s controller in %s", name, path);
		}
		log_warn("enabling the %s controller in %s: %s (its statistics will be missing)",
			 name, path, strerror(-rc));
	}
	return 0;
}

static int v2_setup(struct cgroup *cg, const struct cgroup_layout *layout, bool create,
		    const struct cgroup_limits *limits, struct ct_error *err)
{
	unsigned need = limits_need(limits);
	_cleanup_free_ char *available = NULL;
	struct cgroup_dir *dir;
	unsigned ctrls;
	int rc;

	if (!layout->unified)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
				    "no cgroup2 file system is mounted");
	if (cgroup_dir_add(cg, layout->unified, 0, create, create ? v2_enable_controllers : NULL,
			   &need, err) < 0)
		return -1;
	dir = &cg->dirs[0];
	rc = cgroup_read_raw(dir->fd, "cgroup.controllers", &available);
	if (rc < 0) {
		errno = -rc;
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading %s/cgroup.controllers",
				      dir->path);
	}
	/* cpu.stat (usage) is part of the core on v2, and so is cgroup.freeze. */
	ctrls = CGROUP_CTRL_BIT(CGROUP_CTRL_CPUACCT);
	for (size_t i = 0; i < ARRAY_SIZE(v2_controllers); i++)
		if (word_in(available, v2_controllers[i].name))
			ctrls |= CGROUP_CTRL_BIT(v2_controllers[i].ctrl);
	if (cgroup_file_exists(dir, "cgroup.freeze"))
		ctrls |= CGROUP_CTRL_BIT(CGROUP_CTRL_FREEZER);
	dir->ctrls = ctrls;
	return 0;
}

static uint64_t host_free_swap(void)
{
	struct sysinfo si;

	return sysinfo(&si) == 0 ? (uint64_t)si.freeswap * si.mem_unit : 0;
}

static bool has(struct cgroup *cg, enum cgroup_controller ctrl)
{
	return cg->n_dirs && (cg->dirs[0].ctrls & CGROUP_CTRL_BIT(ctrl));
}

static int v2_set_memory(struct cgroup *cg, const struct cgroup_limits *l, struct ct_error *err)
{
	struct cgroup_dir *dir = &cg->dirs[0];
	int64_t swap = cgroup_limits_memory_swap(l);
	char buf[32];

	if (!has(cg, CGROUP_CTRL_MEMORY)) {
		if (l->memory >= 0)
			return cgroup_error_missing(cg, CGROUP_CTRL_MEMORY,
						    "setting the memory limit", err);
		return 0;
	}
	if (l->memory >= 0) {
		uint64_t current = 0, file = 0, anon, room = host_free_swap();

		/* v1 refuses a limit below the usage with EBUSY; v2 accepts it and
		 * OOM-kills the container. Refuse what can't fit: page cache can be
		 * dropped, anonymous memory only swapped out (within the swap limit). */
		if (cgroup_read_u64_opt(dir, "memory.current", &current, err) < 0 ||
		    cgroup_read_keyed_opt(dir, "memory.stat", "file", &file, err) < 0)
			return -1;
		anon = current > file ? current - file : 0;
		if (swap >= 0 && (uint64_t)(swap - l->memory) < room)
			room = (uint64_t)(swap - l->memory);
		if (anon > (uint64_t)l->memory + room)
			return ct_error_set(err, CT_ERR_CONFLICT, EBUSY,
					    "setting the memory limit of %s to %" PRId64
					    " bytes: the container uses %" PRIu64
					    " bytes that can't be reclaimed (%" PRIu64
					    " in all), so the kernel would OOM-kill it; raise the "
					    "limit or let it free memory first",
					    dir->path, l->memory, anon, current);
	}
	cgroup_format_limit(l->memory, true, buf, sizeof(buf));
	if (cgroup_write(dir, "memory.max", buf, err) < 0)
		return -1;
	/* v2 limits the swap alone, v1 and docker memory + swap. */
	if (!cgroup_file_exists(dir, "memory.swap.max")) {
		if (swap > l->memory)
			log_warn("cgroup %s: swap limit not applied: no memory.swap.max (a kernel "
				 "without swap accounting)",
				 cg->name);
		return 0;
	}
	cgroup_format_limit(swap < 0 ? CGROUP_LIMIT_NONE : swap - l->memory, true, buf,
			    sizeof(buf));
	return cgroup_write(dir, "memory.swap.max", buf, err);
}

static int v2_set_limits(struct cgroup *cg, const struct cgroup_limits *l, struct ct_error *err)
{
	struct cgroup_dir *dir = &cg->dirs[0];
	bool cpu = l->cpu_quota_us >= 0 || l->cpu_period_us >= 0;
	char buf[48];

	if (v2_set_memory(cg, l, err) < 0)
		return -1;
	if (!has(cg, CGROUP_CTRL_CPU)) {
		if (cpu)
			return cgroup_error_missing(cg, CGROUP_CTRL_CPU, "setting the CPU limit",
						    err);
	} else {
		if (cgroup_format_cpu_max(l->cpu_quota_us, l->cpu_period_us, buf, sizeof(buf)) < 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL, "bad CPU limit");
		if (cgroup_write(dir, "cpu.max", buf, err) < 0)
			return -1;
	}
	if (!has(cg, CGROUP_CTRL_PIDS)) {
		if (l->pids >= 0)
			return cgroup_error_missing(cg, CGROUP_CTRL_PIDS, "setting the pids limit",
						    err);
		return 0;
	}
	cgroup_format_limit(l->pids, true, buf, sizeof(buf));
	return cgroup_write(dir, "pids.max", buf, err);
}

static int v2_stats(struct cgroup *cg, struct cgroup_stats *out, struct ct_error *err)
{
	struct cgroup_dir *dir = &cg->dirs[0];
	uint64_t usage_usec = 0;

	if (cgroup_read_keyed_opt(dir, "cpu.stat", "usage_usec", &usage_usec, err) < 0)
		return -1;
	out->cpu_usage_ns = usage_usec * 1000;
	if (has(cg, CGROUP_CTRL_MEMORY)) {
		if (cgroup_read_u64_opt(dir, "memory.current", &out->memory_usage, err) < 0 ||
		    cgroup_read_u64_opt(dir, "memory.max", &out->memory_limit, err) < 0 ||
		    cgroup_read_keyed_opt(dir, "memory.stat", "inactive_file",
					  &out->memory_inactive_file, err) < 0 ||
		    cgroup_read_keyed_opt(dir, "memory.events", "oom_kill", &out->oom_kills, err) <
			0)
			return -1;
	}
	if (has(cg, CGROUP_CTRL_PIDS)) {
		if (cgroup_read_u64_opt(dir, "pids.current", &out->pids_current, err) < 0 ||
		    cgroup_read_u64_opt(dir, "pids.max", &out->pids_limit, err) < 0)
			return -1;
	}
	if (has(cg, CGROUP_CTRL_BLKIO)) {
		_cleanup_free_ char *text = NULL;
		int rc = cgroup_read_raw(dir->fd, "io.stat", &text);

		if (rc < 0 && rc != -ENOENT)
			return cgroup_read(dir, "io.stat", &text, err);
		if (rc == 0)
			cgroup_parse_io_stat(text, &out->blkio_read, &out->blkio_write);
	}
	return 0;
}

static int v2_oom_fd(struct cgroup *cg, struct ct_error *err)
{
	_cleanup_close_ int fd = -1;
	char path[64];

	if (!has(cg, CGROUP_CTRL_MEMORY))
		return cgroup_error_missing(cg, CGROUP_CTRL_MEMORY, "watching for OOM kills", err);
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "inotify_init1");
	/* Through our directory fd, not the path: it names this very cgroup. The
	 * kernel reports a changed memory.events as IN_MODIFY. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/memory.events", cg->dirs[0].fd);
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "watching %s/memory.events",
				      cg->dirs[0].path);
	return move_fd(fd);
}

static int v2_oom_kills(struct cgroup *cg, uint64_t *kills, struct ct_error *err)
{
	struct cgroup_dir *dir = &cg->dirs[0];
	_cleanup_free_ char *text = NULL;
	int rc;

	if (!has(cg, CGROUP_CTRL_MEMORY))
		return cgroup_error_missing(cg, CGROUP_CTRL_MEMORY, "reading OOM kills", err);
	if (cgroup_read(dir, "memory.events", &text, err) < 0)
		return -1;
	rc = cgroup_parse_keyed(text, "oom_kill", kills);
	if (rc < 0)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, -rc,
				    "%s/memory.events has no oom_kill counter", dir->path);
	return 0;
}

static bool v2_is_frozen(struct cgroup_dir *dir)
{
	uint64_t frozen = 0;

	return cgroup_read_keyed_opt(dir, "cgroup.events", "frozen", &frozen, NULL) == 0 &&
	       frozen == 1;
}

static void v2_freeze(struct cgroup_dir *dir)
{
	uint64_t deadline = ct_now_monotonic_ms() + FREEZE_TIMEOUT_MS;

	if (cgroup_write_raw(dir->fd, "cgroup.freeze", "1") < 0)
		return;
	while (!v2_is_frozen(dir)) {
		if (ct_now_monotonic_ms() >= deadline) {
			log_warn("cgroup %s: not frozen after %d ms; signalling anyway", dir->path,
				 FREEZE_TIMEOUT_MS);
			return;
		}
		cgroup_sleep_ms(1);
	}
}

static int v2_kill_all(struct cgroup *cg, int sig, struct ct_error *err)
{
	struct cgroup_dir *dir = &cg->dirs[0];
	bool freezer = has(cg, CGROUP_CTRL_FREEZER), was_frozen = false;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int rc;

	if (sig == SIGKILL) {
		/* Linux 5.14: the kernel kills the whole subtree, forks included. */
		rc = cgroup_write_raw(dir->fd, "cgroup.kill", "1");
		if (rc == 0)
			return cgroup_wait_empty(cg, KILL_TIMEOUT_MS, err);
		if (rc != -ENOENT)
			return cgroup_write(dir, "cgroup.kill", "1", err);
	}
	/* Frozen, no process can fork between our listing and the signal. A paused
	 * container stays paused, unless it is being killed. */
	if (freezer) {
		was_frozen = v2_is_frozen(dir);
		if (!was_frozen)
			v2_freeze(dir);
	}
	rc = cgroup_pids(cg, &pids, &n, err);
	if (rc == 0)
		cgroup_signal_pids(pids, n, sig);
	if (freezer && (!was_frozen || sig == SIGKILL)) {
		int thaw = cgroup_write_raw(dir->fd, "cgroup.freeze", "0");

		if (thaw < 0 && rc == 0) {
			errno = -thaw;
			return ct_error_errno(err, CT_ERR_INTERNAL, "thawing %s", dir->path);
		}
	}
	if (rc < 0)
		return -1;
	if (sig == SIGKILL)
		return cgroup_wait_empty(cg, KILL_TIMEOUT_MS, err);
	return 0;
}

const struct cgroup_ops cgroup_v2_ops = {
    .name = "v2",
    .setup = v2_setup,
    .set_limits = v2_set_limits,
    .stats = v2_stats,
    .oom_fd = v2_oom_fd,
    .oom_kills = v2_oom_kills,
    .kill_all = v2_kill_all,
};
