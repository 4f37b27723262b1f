/* cgroup v1, also used on hybrid hosts: there the controllers we need stay on v1
 * and the cgroup2 mount holds at most hugetlb (the layout crun refuses). One
 * directory per hierarchy; co-mounted controllers (cpu,cpuacct) share one. */
#define CGROUP_BACKEND
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define FREEZE_TIMEOUT_MS 500
#define KILL_TIMEOUT_MS	  2000

static const enum cgroup_controller v1_order[] = {
    CGROUP_CTRL_MEMORY, CGROUP_CTRL_CPU,   CGROUP_CTRL_CPUACCT,
    CGROUP_CTRL_PIDS,	CGROUP_CTRL_BLKIO, CGROUP_CTRL_FREEZER,
};

static bool needs_memory(const struct cgroup_limits *l)
{
	return l->memory >= 0;
}

static bool needs_cpu(const struct cgroup_limits *l)
{
	return l->cpu_quota_us >= 0 || l->cpu_period_us >= 0;
}

static bool needs_pids(const struct cgroup_limits *l)
{
	return l->pids >= 0;
}

static bool limit_needs(const struct cgroup_limits *l, enum cgroup_controller c)
{
	if (!l)
		return false;
	switch (c) {
	case CGROUP_CTRL_MEMORY:
		return needs_memory(l);
	case CGROUP_CTRL_CPU:
		return needs_cpu(l);
	case CGROUP_CTRL_PIDS:
		return needs_pids(l);
	default:
		return false;
	}
}

static const char *limit_flag(enum cgroup_controller c)
{
	switch (c) {
	case CGROUP_CTRL_MEMORY:
		return "setting the memory limit";
	case CGROUP_CTRL_CPU:
		return "setting the CPU limit";
	case CGROUP_CTRL_PIDS:
		return "setting the pids limit";
	default:
		return "setting a limit";
	}
}

static int v1_setup(struct cgroup *cg, const struct cgroup_layout *layout, bool create,
		    const struct cgroup_limits *limits, struct ct_error *err)
{
	_cleanup_error_ struct ct_error local = CT_ERROR_INIT;
	size_t missing = 0;

	/* Refuse before making anything when a limit can't be applied. */
	for (size_t i = 0; i < ARRAY_SIZE(v1_order); i++)
		if (!layout->v1[v1_order[i]] && limit_needs(limits, v1_order[i]))
			return cgroup_error_missing(cg, v1_order[i], limit_flag(v1_order[i]), err);

	for (size_t i = 0; i < ARRAY_SIZE(v1_order); i++) {
		enum cgroup_controller c = v1_order[i];
		const char *mount = layout->v1[c];
		unsigned ctrls = 0;
		bool seen = false;

		if (!mount)
			continue;
		for (size_t j = 0; j < cg->n_dirs; j++)
			seen = seen || strcmp(cg->dirs[j].mount, mount) == 0;
		if (seen)
			continue;
		for (int o = 0; o < CGROUP_CTRL_COUNT; o++)
			if (layout->v1[o] && strcmp(layout->v1[o], mount) == 0)
				ctrls |= CGROUP_CTRL_BIT(o);
		if (cgroup_dir_add(cg, mount, ctrls, create, NULL, NULL, &local) < 0) {
			/* Reopening: a hierarchy mounted after the container started, or
			 * a half-made cgroup; use what is there. */
			if (create || !ct_error_is(&local, CT_ERR_NOT_FOUND)) {
				if (err)
					ct_error_move(err, &local);
				return -1;
			}
			log_debug("%s", ct_error_message(&local));
			ct_error_clear(&local);
			missing++;
		}
	}
	if (cg->n_dirs == 0) {
		if (missing)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
					    "cgroup %s does not exist in any v1 hierarchy",
					    cg->name);
		return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
				    "none of the memory, cpu, cpuacct, pids, blkio and freezer "
				    "controllers is mounted under /sys/fs/cgroup");
	}
	return 0;
}

static int memory_write(struct cgroup_dir *dir, const char *file, int64_t value,
			const char *usage_file, struct ct_error *err)
{
	char buf[32];
	int rc;

	cgroup_format_limit(value, false, buf, sizeof(buf));
	rc = cgroup_write_raw(dir->fd, file, buf);
	if (rc == -EBUSY) {
		uint64_t usage = 0;

		cgroup_read_u64_opt(dir, usage_file, &usage, NULL);
		return ct_error_set(err, CT_ERR_CONFLICT, EBUSY,
				    "writing %s to %s/%s: the container uses %" PRIu64
				    " bytes and the kernel could not reclaim enough to fit; "
				    "raise the limit or let it free memory first",
				    buf, dir->path, file, usage);
	}
	if (rc == -EINVAL)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "writing %s to %s/%s: refused by the kernel (the memory limit "
				    "may not exceed the memory+swap limit)",
				    buf, dir->path, file);
	return rc < 0 ? cgroup_write(dir, file, buf, err) : 0;
}

static int v1_set_memory(struct cgroup *cg, const struct cgroup_limits *l, struct ct_error *err)
{
	struct cgroup_dir *dir = cgroup_dir_for(cg, CGROUP_CTRL_MEMORY);
	int64_t swap = cgroup_limits_memory_swap(l);
	uint64_t cur_memsw = 0, new_memsw;

	if (!dir) {
		if (needs_memory(l))
			return cgroup_error_missing(cg, CGROUP_CTRL_MEMORY,
						    limit_flag(CGROUP_CTRL_MEMORY), err);
		return 0;
	}
	if (!cgroup_file_exists(dir, "memory.memsw.limit_in_bytes")) {
		if (swap >= 0 && swap > l->memory)
			log_warn("cgroup %s: memory+swap limit not applied: the kernel has no "
				 "swap accounting (boot with swapaccount=1)",
				 cg->name);
		return memory_write(dir, "memory.limit_in_bytes", l->memory,
				    "memory.usage_in_bytes", err);
	}
	/* The kernel keeps memory <= memory+swap at every step: raise memsw first
	 * when it grows, lower memory first when memsw shrinks (as runc). */
	if (cgroup_read_u64_opt(dir, "memory.memsw.limit_in_bytes", &cur_memsw, err) < 0)
		return -1;
	new_memsw = swap < 0 ? UINT64_MAX : (uint64_t)swap;
	if (new_memsw >= cur_memsw) {
		if (memory_write(dir, "memory.memsw.limit_in_bytes", swap,
				 "memory.memsw.usage_in_bytes", err) < 0 ||
		    memory_write(dir, "memory.limit_in_bytes", l->memory, "memory.usage_in_bytes",
				 err) < 0)
			return -1;
	} else {
		if (memory_write(dir, "memory.limit_in_bytes", l->memory, "memory.usage_in_bytes",
				 err) < 0 ||
		    memory_write(dir, "memory.memsw.limit_in_bytes", swap,
				 "memory.memsw.usage_in_bytes", err) < 0)
			return -1;
	}
	return 0;
}

static int v1_set_cpu(struct cgroup *cg, const struct cgroup_limits *l, struct ct_error *err)
{
	struct cgroup_dir *dir = cgroup_dir_for(cg, CGROUP_CTRL_CPU);
	char buf[32];

	if (!dir) {
		if (needs_cpu(l))
			return cgroup_error_missing(cg, CGROUP_CTRL_CPU,
						    limit_flag(CGROUP_CTRL_CPU), err);
		return 0;
	}
	if (!cgroup_file_exists(dir, "cpu.cfs_quota_us")) {
		if (needs_cpu(l))
			return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
					    "setting the CPU limit: %s has no cpu.cfs_quota_us (a "
					    "kernel without CONFIG_CFS_BANDWIDTH)",
					    dir->path);
		return 0;
	}
	/* Lift the quota first so no intermediate quota/period pair can be refused. */
	if (cgroup_write(dir, "cpu.cfs_quota_us", "-1", err) < 0)
		return -1;
	if (!needs_cpu(l))
		return 0;
	snprintf(buf, sizeof(buf), "%" PRId64,
		 l->cpu_period_us < 0 ? (int64_t)CGROUP_CPU_PERIOD_DEFAULT : l->cpu_period_us);
	if (cgroup_write(dir, "cpu.cfs_period_us", buf, err) < 0)
		return -1;
	cgroup_format_limit(l->cpu_quota_us, false, buf, sizeof(buf));
	return cgroup_write(dir, "cpu.cfs_quota_us", buf, err);
}

static int v1_set_pids(struct cgroup *cg, const struct cgroup_limits *l, struct ct_error *err)
{
	struct cgroup_dir *dir = cgroup_dir_for(cg, CGROUP_CTRL_PIDS);
	char buf[32];

	if (!dir) {
		if (needs_pids(l))
			return cgroup_error_missing(cg, CGROUP_CTRL_PIDS,
						    limit_flag(CGROUP_CTRL_PIDS), err);
		return 0;
	}
	/* pids.max takes "max" on v1 too. */
	cgroup_format_limit(l->pids, true, buf, sizeof(buf));
	return cgroup_write(dir, "pids.max", buf, err);
}

static int v1_set_limits(struct cgroup *cg, const struct cgroup_limits *l, struct ct_error *err)
{
	if (v1_set_memory(cg, l, err) < 0 || v1_set_cpu(cg, l, err) < 0 ||
	    v1_set_pids(cg, l, err) < 0)
		return -1;
	return 0;
}

static int v1_stats(struct cgroup *cg, struct cgroup_stats *out, struct ct_error *err)
{
	struct cgroup_dir *dir;

	if ((dir = cgroup_dir_for(cg, CGROUP_CTRL_CPUACCT)) &&
	    cgroup_read_u64_opt(dir, "cpuacct.usage", &out->cpu_usage_ns, err) < 0)
		return -1;
	if ((dir = cgroup_dir_for(cg, CGROUP_CTRL_MEMORY))) {
		if (cgroup_read_u64_opt(dir, "memory.usage_in_bytes", &out->memory_usage, err) <
			0 ||
		    cgroup_read_u64_opt(dir, "memory.limit_in_bytes", &out->memory_limit, err) <
			0 ||
		    cgroup_read_keyed_opt(dir, "memory.stat", "total_inactive_file",
					  &out->memory_inactive_file, err) < 0 ||
		    cgroup_read_keyed_opt(dir, "memory.oom_control", "oom_kill", &out->oom_kills,
					  err) < 0)
			return -1;
	}
	if ((dir = cgroup_dir_for(cg, CGROUP_CTRL_PIDS))) {
		if (cgroup_read_u64_opt(dir, "pids.current", &out->pids_current, err) < 0 ||
		    cgroup_read_u64_opt(dir, "pids.max", &out->pids_limit, err) < 0)
			return -1;
	}
	if ((dir = cgroup_dir_for(cg, CGROUP_CTRL_BLKIO))) {
		/* The throttle files count every bio since Linux 4.x; the CFQ and BFQ
		 * ones only exist with those schedulers. */
		static const char *const files[] = {
		    "blkio.throttle.io_service_bytes_recursive",
		    "blkio.io_service_bytes_recursive",
		    "blkio.bfq.io_service_bytes_recursive",
		};

		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			_cleanup_free_ char *text = NULL;
			int rc = cgroup_read_raw(dir->fd, files[i], &text);

			if (rc == -ENOENT)
				continue;
			if (rc < 0)
				return cgroup_read(dir, files[i], &text, err);
			cgroup_parse_blkio_v1(text, &out->blkio_read, &out->blkio_write);
			if (out->blkio_read || out->blkio_write)
				break;
		}
	}
	return 0;
}

static int v1_oom_fd(struct cgroup *cg, struct ct_error *err)
{
	struct cgroup_dir *dir = cgroup_dir_for(cg, CGROUP_CTRL_MEMORY);
	_cleanup_close_ int efd = -1, ofd = -1;
	char buf[64];
	int rc;

	if (!dir)
		return cgroup_error_missing(cg, CGROUP_CTRL_MEMORY, "watching for OOM kills", err);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "eventfd");
	ofd = openat(dir->fd, "memory.oom_control", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (ofd < 0)
		return ct_error_errno(err, CT_ERR_UNSUPPORTED, "opening %s/memory.oom_control",
				      dir->path);
	if (!cgroup_fd_is_cgroupfs(ofd))
		return ct_error_set(err, CT_ERR_INTERNAL, EXDEV,
				    "%s/memory.oom_control: not on a cgroup file system",
				    dir->path);
	/* The kernel keeps its own reference to oom_control; ours may close. */
	snprintf(buf, sizeof(buf), "%d %d", efd, ofd);
	rc = cgroup_write_raw(dir->fd, "cgroup.event_control", buf);
	if (rc < 0)
		return cgroup_write(dir, "cgroup.event_control", buf, err);
	return move_fd(efd);
}

static int v1_oom_kills(struct cgroup *cg, uint64_t *kills, struct ct_error *err)
{
	struct cgroup_dir *dir = cgroup_dir_for(cg, CGROUP_CTRL_MEMORY);
	_cleanup_free_ char *text = NULL;
	int rc;

	if (!dir)
		return cgroup_error_missing(cg, CGROUP_CTRL_MEMORY, "reading OOM kills", err);
	if (cgroup_read(dir, "memory.oom_control", &text, err) < 0)
		return -1;
	rc = cgroup_parse_keyed(text, "oom_kill", kills);
	if (rc == -ENOENT)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOENT,
				    "%s/memory.oom_control has no oom_kill counter (Linux 4.13 "
				    "added it)",
				    dir->path);
	if (rc < 0)
		return ct_error_set(err, CT_ERR_INTERNAL, EINVAL,
				    "%s/memory.oom_control: bad oom_kill line", dir->path);
	return 0;
}

static bool v1_is_frozen(struct cgroup_dir *dir)
{
	_cleanup_free_ char *state = NULL;

	return cgroup_read_raw(dir->fd, "freezer.state", &state) == 0 &&
	       strncmp(state, "FROZEN", 6) == 0;
}

/* FROZEN, and wait for the kernel to report it (FREEZING until every task has
 * stopped). A timeout leaves it freezing; the caller thaws. */
static void v1_freeze(struct cgroup_dir *dir)
{
	uint64_t deadline = ct_now_monotonic_ms() + FREEZE_TIMEOUT_MS;

	if (cgroup_write_raw(dir->fd, "freezer.state", "FROZEN") < 0)
		return;
	while (!v1_is_frozen(dir)) {
		if (ct_now_monotonic_ms() >= deadline) {
			log_warn("cgroup %s: not frozen after %d ms; signalling anyway", dir->path,
				 FREEZE_TIMEOUT_MS);
			return;
		}
		cgroup_sleep_ms(1);
	}
}

static int v1_kill_all(struct cgroup *cg, int sig, struct ct_error *err)
{
	struct cgroup_dir *freezer = cgroup_dir_for(cg, CGROUP_CTRL_FREEZER);
	_cleanup_free_ pid_t *pids = NULL;
	bool was_frozen = false;
	size_t n = 0;
	int rc = 0;

	/* v1 has no cgroup.kill: a process that forks between our reading the list
	 * and the signal would escape. Frozen, the list can't change. A paused
	 * container stays paused, unless it is being killed (a frozen task dies only
	 * once thawed). */
	if (freezer) {
		was_frozen = v1_is_frozen(freezer);
		if (!was_frozen)
			v1_freeze(freezer);
	}
	rc = cgroup_pids(cg, &pids, &n, err);
	if (rc == 0)
		cgroup_signal_pids(pids, n, sig);
	if (freezer && (!was_frozen || sig == SIGKILL)) {
		int thaw = cgroup_write_raw(freezer->fd, "freezer.state", "THAWED");

		if (thaw < 0 && rc == 0) {
			errno = -thaw;
			return ct_error_errno(err, CT_ERR_INTERNAL, "thawing %s", freezer->path);
		}
	}
	if (rc < 0)
		return -1;
	if (sig == SIGKILL)
		return cgroup_wait_empty(cg, KILL_TIMEOUT_MS, err);
	return 0;
}

const struct cgroup_ops cgroup_v1_ops = {
    .name = "v1",
    .setup = v1_setup,
    .set_limits = v1_set_limits,
    .stats = v1_stats,
    .oom_fd = v1_oom_fd,
    .oom_kills = v1_oom_kills,
    .kill_all = v1_kill_all,
};
