/* Resource limits for the container process: --ulimit type=soft[:hard] as docker
 * parses it, the defaults we apply, and clamping to what the host allows.
 *
 * PREPARE (parent): rlimits_prepare() merges defaults and requests, clamps each
 * hard limit to what setrlimit can reach from here (the runtime's own hard
 * limit unless it holds CAP_SYS_RESOURCE; for nofile also fs.nr_open, which not
 * even CAP_SYS_RESOURCE can exceed) and logs every clamp.
 * APPLY (child, before capabilities are dropped, since raising a hard limit
 * needs CAP_SYS_RESOURCE): rlimits_apply() is one setrlimit per entry; on
 * failure it returns -errno and the failing entry's index, which the parent
 * turns into a message with rlimits_describe_failure(). */
#ifndef RUNTIME_RLIMITS_H
#define RUNTIME_RLIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

#include "error.h"

#define RLIMITS_MAX RLIM_NLIMITS

/* The default nofile limit (soft and hard), podman's and what docker gave
 * while its daemon ran with LimitNOFILE=infinity (= fs.nr_open, 1048576);
 * clamped like any other value. */
#define RLIMITS_DEFAULT_NOFILE 1048576

struct rlimit_setting {
	int resource; /* RLIMIT_* */
	rlim_t soft, hard;
};

struct rlimits_host {
	struct rlimit current[RLIMITS_MAX]; /* the runtime's own limits */
	rlim_t nr_open;			    /* /proc/sys/fs/nr_open */
	bool can_raise;			    /* CAP_SYS_RESOURCE in our effective set */
};

int rlimits_host_read(struct rlimits_host *host, struct ct_error *err);

/* "nofile" for RLIMIT_NOFILE; NULL for an unknown resource. */
const char *rlimits_name(int resource);
/* "nofile", "NOFILE" or "RLIMIT_NOFILE" (as in an OCI spec): the resource, or -1. */
int rlimits_resource_from_name(const char *name);

/* "nofile=1024", "nofile=1024:2048", "core=-1", "core=unlimited", "core=0:unlimited".
 * A missing hard limit equals the soft one; soft above hard is an error. */
int rlimits_parse_ulimit(const char *spec, struct rlimit_setting *out, struct ct_error *err);

struct rlimits_entry {
	int resource;
	struct rlimit limit;
	bool clamped; /* lowered to what the host allows (and logged) */
};

struct rlimits_plan {
	size_t n;
	struct rlimits_entry entries[RLIMITS_MAX];
};

/* requested: in order, a later entry for a resource replaces an earlier one.
 * with_defaults: add the default nofile limit unless requested. host may be
 * NULL: it is then read from the running process. */
int rlimits_prepare(const struct rlimit_setting *requested, size_t n, bool with_defaults,
		    const struct rlimits_host *host, struct rlimits_plan *out,
		    struct ct_error *err);

/* APPLY: async-signal-safe; 0, or -errno with *failed set to the entry's index. */
int rlimits_apply(const struct rlimits_plan *p, size_t *failed);

/* The user-facing error for a failed rlimits_apply. Returns -1. */
int rlimits_describe_failure(const struct rlimits_plan *p, size_t failed, int errnum,
			     struct ct_error *err);

#endif
