#include "security_glue.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <unistd.h>

#include "caps.h"
#include "cleanup.h"
#include "cgroup.h"
#include "log.h"
#include "paths.h"
#include "rlimits.h"
#include "sealed_copy.h"
#include "seccomp_profile.h"
#include "util.h"

struct security {
	struct cgroup *cgroup;
	int cgroup_fds[CGROUP_MAX_FDS];
	size_t n_cgroup_fds;
	struct caps_plan caps;
	struct rlimits_plan rlimits;
	struct seccomp_program seccomp;
	char init_path[4096];
};

static uint64_t mask_of(char **names, struct ct_error *err, int *rc)
{
	uint64_t m = 0;
	size_t n = 0;

	while (names && names[n])
		n++;
	if (caps_mask_from_names((const char *const *)names, n, &m, err) < 0)
		*rc = -1;
	return m;
}

/* Compiling docker's profile with libseccomp takes about 10 ms, a fifth of a
 * whole `container run`; the program depends only on the capability set and on
 * this build, so compiled programs are kept in <run root>/seccomp/ (root-only,
 * gone at reboot) under a name made of both. */
static char *seccomp_cache_path(uint64_t caps)
{
	const char *build = getenv(CT_SEALED_ENV);
	struct ct_paths paths;

	if (!build || strcmp(build, "1") == 0 || strchr(build, '/') ||
	    ct_paths_resolve(&paths, NULL, NULL, NULL, NULL) < 0)
		return NULL;
	char *path = xasprintf("%s/seccomp/%016llx-%s.bpf", paths.run_root,
			       (unsigned long long)caps, build);
	ct_paths_free(&paths);
	return path;
}

static int seccomp_cache_load(uint64_t caps, struct seccomp_program *out)
{
	_cleanup_free_ char *path = seccomp_cache_path(caps);
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (!path || ct_read_file(path, 65536 * sizeof(struct sock_filter), &data, &len, NULL) < 0)
		return -1;
	if (len == 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > 65535)
		return -1;
	memset(out, 0, sizeof(*out));
	out->len = len / sizeof(struct sock_filter);
	out->filter = (struct sock_filter *)move_ptr(data);
	return 0;
}

static void seccomp_cache_store(uint64_t caps, const struct seccomp_program *p)
{
	_cleanup_free_ char *path = seccomp_cache_path(caps);

	if (!path || !p->filter)
		return;
	_cleanup_free_ char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	if (ct_mkdir_p(dir, 0700, NULL) < 0)
		return;
	ct_write_file_atomic(path, p->filter, p->len * sizeof(struct sock_filter), 0600, NULL);
}

/* In the child: the prepared steps, in the order caps.h documents. */
static int apply_rlimits(void *data)
{
	struct security *s = data;
	size_t failed;
	int rc = rlimits_apply(&s->rlimits, &failed);

	if (rc < 0)
		child_fail(-rc, "setting the limit %s",
			   rlimits_name(s->rlimits.entries[failed].resource) ?: "?");
	return rc;
}

static int apply_identity(void *data, uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	struct security *s = data;
	const char *step = NULL;
	int rc = caps_apply_identity(&s->caps, uid, gid, groups, n, &step);

	if (rc < 0)
		child_fail(-rc, "%s (uid %u, gid %u)", step ? step : "switching user", uid, gid);
	return rc;
}

static int apply_seccomp(void *data)
{
	struct security *s = data;
	int rc = seccomp_apply(&s->seccomp);

	if (rc < 0)
		child_fail(-rc, "loading the seccomp filter");
	return rc;
}

static void set_hooks(struct helper *h, struct child_args *a)
{
	struct security *s = h->security;

	a->security = s;
	a->apply_rlimits = apply_rlimits;
	a->apply_identity = apply_identity;
	a->apply_seccomp = apply_seccomp;
	a->cgroup_fds = s->cgroup_fds;
	a->n_cgroup_fds = s->n_cgroup_fds;
	a->init_path = h->spec.init ? s->init_path : NULL;
}

int security_glue_prepare(struct helper *h, struct child_args *a, struct ct_error *err)
{
	struct security *s = xcalloc(1, sizeof(*s));
	const struct rt_spec *spec = &h->spec;
	struct caps_host host;
	int rc = 0;

	h->security = s;
	/* Capabilities exactly as the spec lists them. */
	uint64_t bounding = mask_of(spec->caps_bounding, err, &rc);
	uint64_t effective = mask_of(spec->caps_effective, err, &rc);
	uint64_t permitted = mask_of(spec->caps_permitted, err, &rc);
	uint64_t inheritable = mask_of(spec->caps_inheritable, err, &rc);
	uint64_t ambient = mask_of(spec->caps_ambient, err, &rc);
	if (rc < 0 || caps_host_read(&host, err) < 0 ||
	    caps_prepare_exact(bounding, effective, permitted, inheritable, ambient, &host, &s->caps,
			       err) < 0)
		return ct_error_prefix(err, "capabilities");

	/* rlimits: the spec's, with the default open-files limit. */
	struct rlimit_setting req[RLIMITS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < spec->n_rlimits && n < RLIMITS_MAX; i++)
		req[n++] = (struct rlimit_setting){spec->rlimits[i].resource, spec->rlimits[i].soft,
						   spec->rlimits[i].hard};
	if (rlimits_prepare(req, n, true, NULL, &s->rlimits, err) < 0)
		return ct_error_prefix(err, "rlimits");

	/* seccomp: docker's profile for the capabilities the process will hold. */
	if (spec->seccomp_unconfined)
		seccomp_prepare_unconfined(&s->seccomp);
	else if (seccomp_cache_load(s->caps.bounding, &s->seccomp) < 0) {
		if (seccomp_prepare_default(s->caps.bounding, &s->seccomp, err) < 0)
			return ct_error_prefix(err, "seccomp");
		seccomp_cache_store(s->caps.bounding, &s->seccomp);
	}

	/* The cgroup, with the limits, joined by the child before it execs. */
	if (spec->cgroups_path) {
		struct cgroup_limits limits;
		cgroup_limits_init(&limits);
		limits.memory = spec->memory_limit;
		if (spec->memory_swap > 0)
			limits.memory_swap = spec->memory_swap;
		limits.cpu_quota_us = spec->cpu_quota;
		if (spec->cpu_period > 0)
			limits.cpu_period_us = spec->cpu_period;
		limits.pids = spec->pids_limit;
		/* A cgroup left by an earlier run of the same container goes first. */
		struct cgroup *old = NULL;
		if (cgroup_open(spec->cgroups_path, &old, NULL) == 0) {
			cgroup_kill_all(old, SIGKILL, NULL);
			cgroup_destroy(old, NULL);
			cgroup_free(old);
		}
		s->n_cgroup_fds = CGROUP_MAX_FDS;
		if (cgroup_create(spec->cgroups_path, &limits, &s->cgroup, err) < 0 ||
		    cgroup_procs_fds(s->cgroup, s->cgroup_fds, &s->n_cgroup_fds, err) < 0)
			return ct_error_prefix(err, "cgroup %s", spec->cgroups_path);
	}

	if (spec->init) {
		/* container-init sits in libexec/container of the install root: two
		 * folders up from our plugin's bin/. */
		struct ct_paths paths;
		if (ct_paths_resolve(&paths, NULL, NULL, NULL, err) < 0)
			return -1;
		snprintf(s->init_path, sizeof(s->init_path), "%s/libexec/container/container-init",
			 paths.install_root);
		ct_paths_free(&paths);
		if (access(s->init_path, X_OK) < 0)
			return ct_error_errno(err, CT_ERR_UNAVAILABLE, "--init: %s", s->init_path);
	}
	set_hooks(h, a);
	return 0;
}

void security_glue_after_clone(struct helper *h, struct child_args *a)
{
	struct security *s = h->security;

	/* The child joined through these; we keep the cgroup itself for stats
	 * and OOM. */
	if (s)
		cgroup_close_fds(s->cgroup_fds, s->n_cgroup_fds);
	if (s)
		s->n_cgroup_fds = 0;
}

void security_glue_after_exit(struct helper *h)
{
	struct security *s = h->security;
	bool killed = false;

	if (!s || !s->cgroup)
		return;
	if (cgroup_oom_killed(s->cgroup, &killed, NULL) == 0 && killed)
		h->oom_killed = true;
	/* Whatever the container left running goes with it. */
	cgroup_kill_all(s->cgroup, SIGKILL, NULL);
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	if (cgroup_destroy(s->cgroup, &err) < 0)
		log_warn("container %s: removing its cgroup: %s", h->id, ct_error_message(&err));
	cgroup_free(s->cgroup);
	s->cgroup = NULL;
}

void security_glue_free(struct helper *h)
{
	struct security *s = h->security;

	if (!s)
		return;
	cgroup_close_fds(s->cgroup_fds, s->n_cgroup_fds);
	if (s->cgroup) {
		/* A start that failed: the cgroup it made goes too. */
		cgroup_kill_all(s->cgroup, SIGKILL, NULL);
		cgroup_destroy(s->cgroup, NULL);
		cgroup_free(s->cgroup);
	}
	seccomp_program_free(&s->seccomp);
	free(s);
	h->security = NULL;
}

void security_glue_enter_cgroup(struct helper *h)
{
	struct security *s = h->security;

	if (s && s->cgroup)
		cgroup_attach(s->cgroup, getpid(), NULL);
}

void security_glue_prepare_exec(struct helper *h, struct child_args *a)
{
	if (h->security)
		set_hooks(h, a);
	a->cgroup_fds = NULL;
	a->n_cgroup_fds = 0;
	a->init_path = NULL;
}

/* Bytes received and sent on the container's interfaces other than lo, from its
 * network namespace's /proc/<pid>/net/dev (0 and 0 when unreadable). */
static void net_counters(pid_t pid, uint64_t *rx, uint64_t *tx)
{
	char path[64], line[512];

	*rx = *tx = 0;
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char name[32];
		unsigned long long r, t;
		/* "  eth0: RX bytes packets errs drop fifo frame compressed multicast TX bytes…" */
		if (sscanf(line, " %31[^:]: %llu %*u %*u %*u %*u %*u %*u %*u %llu", name, &r, &t) !=
			    3 ||
		    strcmp(name, "lo") == 0)
			continue;
		*rx += r;
		*tx += t;
	}
	fclose(f);
}

json_t *security_glue_stats(struct helper *h, struct ct_error *err)
{
	struct security *s = h->security;
	struct cgroup_stats st;

	if (!s || !s->cgroup) {
		ct_error_set(err, CT_ERR_UNAVAILABLE, 0, "container %s has no cgroup", h->id);
		return NULL;
	}
	if (cgroup_stats(s->cgroup, &st, err) < 0)
		return NULL;
	uint64_t mem = st.memory_usage > st.memory_inactive_file
			       ? st.memory_usage - st.memory_inactive_file
			       : st.memory_usage;
	uint64_t rx, tx;
	net_counters(h->pid, &rx, &tx);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "netRx",
			 (json_int_t)rx, "netTx", (json_int_t)tx, "cpuUsageNs",
			 (json_int_t)st.cpu_usage_ns, "memoryUsage", (json_int_t)mem, "memoryLimit",
			 (json_int_t)st.memory_limit, "pidsCurrent", (json_int_t)st.pids_current,
			 "pidsLimit", (json_int_t)st.pids_limit, "blockRead", (json_int_t)st.blkio_read,
			 "blockWrite", (json_int_t)st.blkio_write, "timestampNs",
			 (json_int_t)(ct_now_monotonic_ms() * 1000000));
}
