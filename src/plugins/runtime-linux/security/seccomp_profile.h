/* The container's seccomp filter: docker's default profile (moby
 * profiles/seccomp/default.json), compiled with libseccomp in the parent and
 * loaded by the container's init process just before execve.
 *
 * Split in two, like every module of the runtime's child setup:
 *   PREPARE (parent, may allocate): seccomp_prepare_default() builds the filter
 *     for the capability set the container gets, exports it as classic BPF and
 *     keeps the instructions in memory.
 *   APPLY (child, between clone and exec): seccomp_apply() is one seccomp(2)
 *     call on the prepared program and returns 0 or -errno; it allocates nothing
 *     and calls nothing that is not async-signal-safe.
 *
 * The kernel accepts a filter only from a task with no_new_privs set or with
 * CAP_SYS_ADMIN; the container drops CAP_SYS_ADMIN, so the runtime sets
 * PR_SET_NO_NEW_PRIVS first (caps_set_no_new_privs) and loads the filter as the
 * very last step before execve: everything the runtime does after it is
 * filtered too.
 *
 * (Named seccomp_profile.h because <seccomp.h> is libseccomp's header, which a
 * seccomp.h of ours on the include path would shadow.) */
#ifndef RUNTIME_SECCOMP_PROFILE_H
#define RUNTIME_SECCOMP_PROFILE_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct seccomp_program {
	/* --security-opt seccomp=unconfined: no filter; seccomp_apply does nothing. */
	bool unconfined;
	/* Instruction count and instructions (malloc'd), ready for SECCOMP_SET_MODE_FILTER. */
	unsigned short len;
	struct sock_filter *filter;
};

/* Syscalls added to the kernel after the newest one the profile decides on get
 * ENOSYS instead of EPERM (as runc does), so that a C library probing a new
 * syscall falls back to the old one. This is that first undecided number on
 * x86_64 and i386 (unified numbering since Linux 5.1). */
#define SECCOMP_FIRST_UNDECIDED_SYSCALL 467

/* Compiles docker's default profile for a container whose capability set is
 * effective_caps_mask (bit N = capability N, as in /proc/self/status): syscalls
 * gated on a capability (mount needs CAP_SYS_ADMIN, reboot CAP_SYS_BOOT, …) are
 * allowed only when the container holds it. On amd64 the filter also covers the
 * i386 and x32 ABIs. */
int seccomp_prepare_default(const uint64_t effective_caps_mask, struct seccomp_program *out,
			    struct ct_error *err);
/* --security-opt seccomp=unconfined. */
void seccomp_prepare_unconfined(struct seccomp_program *out);

/* APPLY: loads the program into the calling thread. Returns 0, or -errno
 * (-EACCES: neither no_new_privs nor CAP_SYS_ADMIN; -EINVAL: bad program).
 * Async-signal-safe. */
int seccomp_apply(const struct seccomp_program *p);

void seccomp_program_free(struct seccomp_program *p);

#define _cleanup_seccomp_program_ __attribute__((cleanup(seccomp_program_free)))

#endif
