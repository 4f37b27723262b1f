/* The container's capabilities: docker's default set, --cap-add/--cap-drop with
 * docker's rules, and the exact process sets to install.
 *
 * PREPARE (parent): caps_compute() turns the flags into a capability set,
 * caps_prepare() turns that set and the container's uid into a caps_plan.
 * APPLY (child, between clone and exec; no allocation, only syscalls, each
 * returning 0 or -errno): the runtime calls, in this order,
 *
 *   1. rlimits_apply()                  raising a hard limit needs CAP_SYS_RESOURCE
 *   2. caps_apply_bounding(plan)        PR_CAPBSET_DROP needs CAP_SETPCAP
 *   3. caps_apply_keep_across_setuid(plan)
 *                                       PR_SET_KEEPCAPS, so that setuid to a non-root
 *                                       uid keeps the permitted set when the plan asks
 *   4. setgroups(), setresgid(), setresuid()
 *                                       need CAP_SETGID/CAP_SETUID: before the final sets
 *   5. (chdir to the working directory, as the user)
 *   6. caps_apply_final(plan)           capset v3 (effective, permitted, inheritable),
 *                                       PR_SET_KEEPCAPS off, ambient cleared then raised
 *   7. caps_set_no_new_privs()          PR_SET_NO_NEW_PRIVS
 *   8. close every fd >= 3 but the sync socket (close_range)
 *   9. seccomp_apply(program)           last: everything after it is filtered
 *  10. execve
 *
 * What the container then holds follows docker: a root process has
 * effective = permitted = bounding = the set, inheritable and ambient empty
 * (after execve the kernel gives uid 0 its bounding set anyway); a non-root
 * process has the set only as its bounding set, so a setuid-root or file-capability
 * binary can't exceed it, and nothing effective. */
#ifndef RUNTIME_CAPS_H
#define RUNTIME_CAPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define CAPS_BIT(cap) (UINT64_C(1) << (cap))

/* docker's default set: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW,
 * SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL,
 * AUDIT_WRITE. */
#define CAPS_DOCKER_DEFAULT UINT64_C(0x00000000a80425fb)

/* The highest capability this program knows by name (CAP_CHECKPOINT_RESTORE). */
#define CAPS_LAST_KNOWN 40

/* What the runtime itself can hand out, read once in the parent. */
struct caps_host {
	int last_cap;	    /* /proc/sys/kernel/cap_last_cap */
	uint64_t available; /* our permitted set within our bounding set */
};

int caps_host_read(struct caps_host *host, struct ct_error *err);

/* "CAP_CHOWN" for 0, NULL past CAPS_LAST_KNOWN. */
const char *caps_name(int cap);
/* A name with or without CAP_, in any case ("net_admin", "CAP_NET_ADMIN"): its
 * number. "ALL" is not a single capability and is refused here. */
int caps_parse_name(const char *name, int *cap, struct ct_error *err);

struct caps_request {
	const char *const *add; /* --cap-add values */
	size_t n_add;
	const char *const *drop; /* --cap-drop values */
	size_t n_drop;
	bool privileged; /* --privileged: every available capability */
};

/* docker's rules (moby oci/caps TweakCapabilities): --privileged gives all;
 * --cap-add ALL gives all but the dropped ones; --cap-drop ALL gives only the
 * added ones; otherwise the default set minus the dropped, plus the added.
 * "ALL" means every capability in `available`. A default capability the host
 * lacks is left out with a warning; an added one it lacks is an error. */
int caps_compute(const struct caps_request *req, uint64_t available, uint64_t *out,
		 struct ct_error *err);

struct caps_plan {
	uint64_t bounding, effective, permitted, inheritable, ambient;
	bool clear_ambient;
	/* PR_SET_KEEPCAPS across setuid: only when a non-root process keeps caps. */
	bool keep_caps;
	int last_cap;
};

struct caps_options {
	/* Give a non-root user the set as effective, permitted, inheritable and
	 * ambient (so it survives execve), as podman does for non-root --cap-add.
	 * docker's default (false): a non-root user gets the bounding set only. */
	bool nonroot_keeps_caps;
};

/* host may be NULL: it is then read from the running process. */
int caps_prepare(uint64_t caps, uid_t uid, const struct caps_options *opts,
		 const struct caps_host *host, struct caps_plan *out, struct ct_error *err);

/* The sets exactly as an OCI spec gives them (process.capabilities), for a
 * bundle built elsewhere: masked to the kernel's capabilities; an ambient
 * capability must also be permitted and inheritable (the kernel's rule). */
int caps_prepare_exact(uint64_t bounding, uint64_t effective, uint64_t permitted,
		       uint64_t inheritable, uint64_t ambient, const struct caps_host *host,
		       struct caps_plan *out, struct ct_error *err);
/* Names as in an OCI spec or on the command line ("CAP_CHOWN", "chown"); "ALL"
 * is refused. */
int caps_mask_from_names(const char *const *names, size_t n, uint64_t *out, struct ct_error *err);

/* APPLY steps (see the order above). Async-signal-safe; 0 or -errno. */
int caps_apply_bounding(const struct caps_plan *p);
int caps_apply_keep_across_setuid(const struct caps_plan *p);
int caps_apply_final(const struct caps_plan *p);
int caps_set_no_new_privs(void);

/* Steps 2 to 6 (without the chdir) in one call: bounding set, keep-caps,
 * setgroups, setresgid, setresuid, final sets. On failure *failed_step names the
 * step ("dropping capabilities from the bounding set", "setgroups", …, a
 * static string) for the caller's message. */
int caps_apply_identity(const struct caps_plan *p, uid_t uid, gid_t gid, const gid_t *groups,
			size_t n_groups, const char **failed_step);

/* For inspect: ["CAP_CHOWN", …] in capability order (new reference). */
json_t *caps_to_json(uint64_t mask);
/* "CAP_CHOWN,CAP_KILL" (malloc'd; "" for none), for logs and messages. */
char *caps_to_string(uint64_t mask);

#endif
