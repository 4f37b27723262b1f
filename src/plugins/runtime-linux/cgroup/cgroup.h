/* A container's cgroup on cgroup v1, v2 and hybrid hosts.
 *
 * The layout of /sys/fs/cgroup is detected once per process, and a table of
 * functions is chosen from it (after crun's cgroup managers and LXC's cgroup_ops):
 * cgroup_v1.c serves v1 and hybrid hosts (a hybrid host keeps every controller we
 * need on v1; its cgroup2 mount holds at most hugetlb), cgroup_v2.c serves the
 * unified hierarchy.
 *
 * A cgroup is named by a relative path such as "container/<id>". It lives at
 * <mount point>/<name> in every v1 hierarchy we use (memory, cpu, cpuacct, pids,
 * blkio and freezer when mounted; co-mounted controllers share one directory) or
 * at <cgroup2 mount>/<name> on v2, with memory, cpu, pids and io enabled in each
 * ancestor's cgroup.subtree_control. The path is the same for every process that
 * opens it (the API server after a restart, an exec, `stats`), wherever that
 * process itself sits.
 *
 * Every file is opened with openat() on a directory fd, O_CLOEXEC, and checked with
 * fstatfs() to be on a cgroup file system before it is written. */
#ifndef CONTAINER_RUNTIME_CGROUP_H
#define CONTAINER_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum cgroup_mode {
	CGROUP_MODE_NONE = 0,
	CGROUP_MODE_V1,
	CGROUP_MODE_V2,
	CGROUP_MODE_HYBRID,
};

#define CGROUP_LIMIT_NONE (-1)
/* memory_swap: docker's --memory-swap unset (or 0): twice the memory limit. */
#define CGROUP_SWAP_DEFAULT	  0
#define CGROUP_CPU_PERIOD_DEFAULT 100000
/* The kernel's bounds for CFS bandwidth (kernel/sched/core.c). */
#define CGROUP_CPU_QUOTA_MIN  1000
#define CGROUP_CPU_PERIOD_MIN 1000
#define CGROUP_CPU_PERIOD_MAX 1000000

struct cgroup_limits {
	int64_t memory;	       /* bytes; CGROUP_LIMIT_NONE for none */
	int64_t memory_swap;   /* memory + swap in bytes, as docker's --memory-swap:
				* CGROUP_SWAP_DEFAULT: 2 x memory when memory is set,
				* CGROUP_LIMIT_NONE: unlimited swap */
	int64_t cpu_quota_us;  /* CGROUP_LIMIT_NONE for none */
	int64_t cpu_period_us; /* CGROUP_LIMIT_NONE: CGROUP_CPU_PERIOD_DEFAULT */
	int64_t pids;	       /* CGROUP_LIMIT_NONE for none */
};

struct cgroup_stats {
	uint64_t cpu_usage_ns;
	uint64_t memory_usage;	       /* the kernel's counter, page cache included */
	uint64_t memory_inactive_file; /* docker shows memory_usage minus this */
	uint64_t memory_limit;	       /* the host's memory when unlimited */
	uint64_t pids_current;
	uint64_t pids_limit; /* 0: unlimited */
	uint64_t blkio_read, blkio_write;
	bool oom_killed;
	uint64_t oom_kills;
};

struct cgroup;

/* Every limit CGROUP_LIMIT_NONE, memory_swap CGROUP_SWAP_DEFAULT. */
void cgroup_limits_init(struct cgroup_limits *limits);
/* --cpus: period 100000 us, quota = cpus x period. */
int cgroup_limits_set_cpus(struct cgroup_limits *limits, double cpus, struct ct_error *err);
/* The memory + swap limit to apply: CGROUP_LIMIT_NONE for unlimited. */
int64_t cgroup_limits_memory_swap(const struct cgroup_limits *limits);
int cgroup_limits_validate(const struct cgroup_limits *limits, struct ct_error *err);

/* The host's layout, detected on first use. */
int cgroup_detect(enum cgroup_mode *mode, struct ct_error *err);
/* "v1", "v2", "hybrid", or "none" when no cgroup file system was found. */
const char *cgroup_mode_name(void);

/* Creates <name> (and any missing parent) and applies the limits (NULL: none).
 * Fails with CT_ERR_EXISTS when the cgroup already exists. */
int cgroup_create(const char *name, const struct cgroup_limits *limits, struct cgroup **out,
		  struct ct_error *err);
/* Reattaches to an existing cgroup (API server restart, stats, exec). */
int cgroup_open(const char *name, struct cgroup **out, struct ct_error *err);
/* Applies a complete set of limits (CGROUP_LIMIT_NONE removes one). */
int cgroup_update(struct cgroup *cg, const struct cgroup_limits *limits, struct ct_error *err);
int cgroup_stats(struct cgroup *cg, struct cgroup_stats *out, struct ct_error *err);

/* Moves a running process (its whole thread group) in, from outside. */
int cgroup_attach(struct cgroup *cg, pid_t pid, struct ct_error *err);

/* For a child that must join before exec: the parent opens one cgroup.procs per
 * hierarchy (*n: room in fds on entry, fds filled on return; O_CLOEXEC, so exec
 * closes them), and the child calls cgroup_enter_fds(), which only write()s "0"
 * to each: safe after fork/clone, no allocation. Returns 0 or -errno. */
#define CGROUP_MAX_FDS 8
int cgroup_procs_fds(struct cgroup *cg, int *fds, size_t *n, struct ct_error *err);
int cgroup_enter_fds(const int *fds, size_t n);
void cgroup_close_fds(int *fds, size_t n);

/* The processes inside (and in any cgroup below), sorted, without duplicates. */
int cgroup_pids(struct cgroup *cg, pid_t **pids, size_t *n, struct ct_error *err);

/* A new fd (O_CLOEXEC|O_NONBLOCK, the caller closes it) for an epoll set that
 * becomes readable on a memory event: v1 an eventfd registered on
 * memory.oom_control through cgroup.event_control (read 8 bytes to rearm); v2 an
 * inotify fd watching memory.events (read the events to rearm). Confirm a kill with
 * cgroup_oom_killed(): v1 also signals when the cgroup is removed, and v2 on every
 * memory event (high, max, oom). */
int cgroup_oom_fd(struct cgroup *cg, struct ct_error *err);
/* True once the kernel has OOM-killed a process in the cgroup (oom_kill counter of
 * memory.oom_control on v1, memory.events on v2). */
int cgroup_oom_killed(struct cgroup *cg, bool *killed, struct ct_error *err);

/* Signals every process inside. SIGKILL waits (2 s at most) until the cgroup is
 * empty. v2: cgroup.kill when present; v1: under the freezer when mounted, so a
 * forking process can't escape between listing and killing. */
int cgroup_kill_all(struct cgroup *cg, int sig, struct ct_error *err);

/* Removes every directory of the cgroup (and any cgroup created below it). Fails
 * with errnum EBUSY, naming the processes, while any remain (after retrying for
 * 200 ms, for processes that are exiting). The parents are left alone: other
 * containers share them. */
int cgroup_destroy(struct cgroup *cg, struct ct_error *err);
void cgroup_free(struct cgroup *cg);
void cgroup_freep(struct cgroup **cg);
#define _cleanup_cgroup_ __attribute__((cleanup(cgroup_freep)))

const char *cgroup_name(const struct cgroup *cg);
enum cgroup_mode cgroup_get_mode(const struct cgroup *cg);

/* Parsers and formatters: pure, exposed for the unit tests. */

/* v2 cpu.max: "max 100000" or "150000 100000". */
int cgroup_format_cpu_max(int64_t quota_us, int64_t period_us, char *buf, size_t size);
int cgroup_parse_cpu_max(const char *text, int64_t *quota_us, int64_t *period_us);
/* A limit for a v2 file ("max" when none) or a v1 file ("-1" when none). */
void cgroup_format_limit(int64_t value, bool v2, char *buf, size_t size);
/* A number, or "max" (UINT64_MAX); surrounding white space allowed. */
int cgroup_parse_u64(const char *text, uint64_t *value);
/* "key value" lines (memory.events, memory.oom_control, cpu.stat, memory.stat). */
int cgroup_parse_keyed(const char *text, const char *key, uint64_t *value);
/* v1 blkio.*io_service_bytes*: "8:0 Read 4096" lines; "Total" lines ignored. */
void cgroup_parse_blkio_v1(const char *text, uint64_t *read, uint64_t *write);
/* v2 io.stat: "8:0 rbytes=4096 wbytes=0 rios=1 ..." lines. */
void cgroup_parse_io_stat(const char *text, uint64_t *read, uint64_t *write);
/* cgroup.procs: one pid a line. */
int cgroup_parse_pids(const char *text, pid_t **pids, size_t *n);
/* A relative path of [A-Za-z0-9_.:@-] components, no "." or "..", < 256 bytes. */
bool cgroup_name_valid(const char *name);

/* What the backends share. Defined only for cgroup.c, cgroup_v1.c, cgroup_v2.c and
 * the unit tests. */
#ifdef CGROUP_BACKEND

enum cgroup_controller {
	CGROUP_CTRL_MEMORY = 0,
	CGROUP_CTRL_CPU,
	CGROUP_CTRL_CPUACCT, /* v2: cpu.stat is always there */
	CGROUP_CTRL_PIDS,
	CGROUP_CTRL_BLKIO, /* v2: io */
	CGROUP_CTRL_FREEZER,
	CGROUP_CTRL_COUNT,
};

#define CGROUP_CTRL_BIT(c) (1u << (c))

struct cgroup_layout {
	enum cgroup_mode mode;
	char *unified;		     /* the cgroup2 mount point, or NULL */
	char *v1[CGROUP_CTRL_COUNT]; /* each v1 controller's mount point, or NULL */
};

struct cgroup_dir {
	char *mount;	/* the hierarchy's mount point */
	char *path;	/* mount/name: for messages and inotify */
	unsigned ctrls; /* CGROUP_CTRL_BIT()s this directory serves */
	int root_fd;	/* the mount point */
	int fd;		/* the cgroup itself */
	bool created;	/* by this handle: removed if creation fails half-way */
	bool removed;	/* by cgroup_destroy */
};

struct cgroup_ops;

struct cgroup {
	const struct cgroup_ops *ops;
	enum cgroup_mode mode;
	char *name;
	size_t n_dirs;
	struct cgroup_dir dirs[CGROUP_CTRL_COUNT];
	bool destroyed;
};

struct cgroup_ops {
	const char *name;
	/* Opens (create: makes) the directories. limits: what create must be able to
	 * apply (NULL on open). */
	int (*setup)(struct cgroup *cg, const struct cgroup_layout *layout, bool create,
		     const struct cgroup_limits *limits, struct ct_error *err);
	int (*set_limits)(struct cgroup *cg, const struct cgroup_limits *limits,
			  struct ct_error *err);
	int (*stats)(struct cgroup *cg, struct cgroup_stats *out, struct ct_error *err);
	int (*oom_fd)(struct cgroup *cg, struct ct_error *err);
	int (*oom_kills)(struct cgroup *cg, uint64_t *kills, struct ct_error *err);
	int (*kill_all)(struct cgroup *cg, int sig, struct ct_error *err);
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

const char *cgroup_controller_name(enum cgroup_controller ctrl);

/* Fills a layout from /proc/self/mountinfo text; mode is left to the caller. */
int cgroup_parse_mountinfo(const char *text, struct cgroup_layout *out);
enum cgroup_mode cgroup_mode_decide(bool root_is_cgroup2, const struct cgroup_layout *layout);
void cgroup_layout_clear(struct cgroup_layout *layout);
/* The detected layout (owned by this module). */
int cgroup_host_layout(const struct cgroup_layout **layout, struct ct_error *err);

/* Create or open against a given layout: the unit tests run the v2 backend on the
 * cgroup2 mount of a hybrid host this way. */
int cgroup_create_with(const struct cgroup_layout *layout, const char *name,
		       const struct cgroup_limits *limits, struct cgroup **out,
		       struct ct_error *err);
int cgroup_open_with(const struct cgroup_layout *layout, const char *name, struct cgroup **out,
		     struct ct_error *err);

/* Directory bookkeeping. create: make the leaf (EEXIST is an error) and any
 * missing parent; before_mkdir, when set, runs on each ancestor (its fd and its
 * path for messages) before the next directory down is made. Open: a missing
 * directory fails with CT_ERR_NOT_FOUND. */
typedef int (*cgroup_before_mkdir_fn)(int dfd, const char *path, void *ctx, struct ct_error *err);
int cgroup_dir_add(struct cgroup *cg, const char *mount, unsigned ctrls, bool create,
		   cgroup_before_mkdir_fn before_mkdir, void *ctx, struct ct_error *err);
struct cgroup_dir *cgroup_dir_for(struct cgroup *cg, enum cgroup_controller ctrl);

/* Files in a cgroup directory. The _raw forms return 0 or -errno and fill no error;
 * a file not on a cgroup file system is -EXDEV. */
int cgroup_write_raw(int dfd, const char *file, const char *value);
int cgroup_read_raw(int dfd, const char *file, char **out);
int cgroup_write(const struct cgroup_dir *dir, const char *file, const char *value,
		 struct ct_error *err);
int cgroup_read(const struct cgroup_dir *dir, const char *file, char **out, struct ct_error *err);
/* A missing file (ENOENT) leaves *value alone and returns 0 (stats). */
int cgroup_read_u64_opt(const struct cgroup_dir *dir, const char *file, uint64_t *value,
			struct ct_error *err);
int cgroup_read_keyed_opt(const struct cgroup_dir *dir, const char *file, const char *key,
			  uint64_t *value, struct ct_error *err);
bool cgroup_file_exists(const struct cgroup_dir *dir, const char *file);
/* fstatfs: is fd on cgroup or cgroup2? */
bool cgroup_fd_is_cgroupfs(int fd);

int cgroup_error_missing(const struct cgroup *cg, enum cgroup_controller ctrl, const char *what,
			 struct ct_error *err);
uint64_t cgroup_host_memory(void);
/* Waits until no process is left (SIGKILL sent again to any that remain). */
int cgroup_wait_empty(struct cgroup *cg, int timeout_ms, struct ct_error *err);
/* Signals each pid of the list; ESRCH is not an error. */
void cgroup_signal_pids(const pid_t *pids, size_t n, int sig);
void cgroup_sleep_ms(unsigned ms);

#endif /* CGROUP_BACKEND */

#endif
