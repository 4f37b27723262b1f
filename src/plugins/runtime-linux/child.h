/* The container's first process between clone and exec. It runs in a fresh
 * process (no threads, no locks held), so it may allocate; every failure is
 * reported to the runtime over the sync socket as "step: reason", so the user
 * sees the real cause rather than "container failed to start". */
#ifndef CONTAINER_RUNTIME_CHILD_H
#define CONTAINER_RUNTIME_CHILD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

/* Filled by the failing step; sent to the parent. */
extern char child_error[1024];
int child_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct child_args {
	const struct rt_spec *spec;
	const char *bundle;
	int sync_fd;	     /* our end of the sync socket (CLOEXEC: EOF tells exec happened) */
	int stdio[3];	     /* become 0, 1, 2 */
	const int *cgroup_fds; /* write "0" to each to join the container's cgroup */
	size_t n_cgroup_fds;
	const char *init_path; /* container-init for --init, or NULL */
	int netns_fd;	       /* a network namespace to join, or -1 for the spec's own */
	bool die_with_parent;  /* the container's init: SIGKILL when the helper dies */
	unsigned short tty_rows, tty_cols; /* -t: the client's window, 0 when unknown */
	/* Security steps prepared by the parent; may be NULL while absent. */
	int (*apply_rlimits)(void *data);
	int (*apply_identity)(void *data, uid_t uid, gid_t gid, const gid_t *groups, size_t n);
	int (*apply_seccomp)(void *data);
	void *security;
};

/* Never returns: execs the container's process or _exits after reporting. */
void child_main(const struct child_args *a) __attribute__((noreturn));
/* The same for `exec`, already inside the container's namespaces: no rootfs
 * set-up, the rest (user, cwd, limits, confinement) alike. */
void child_exec_main(const struct child_args *a) __attribute__((noreturn));

/* How long the set-up between clone and exec may take. */
#define CHILD_SETUP_TIMEOUT_MS 60000

/* In the runtime: reads the child's verdict from the sync socket until EOF.
 * With tty, a terminal master may come first ('T' and the descriptor), stored in
 * *master. Returns the length of the error message in msg (NUL-terminated), 0
 * when the child exec'd. */
size_t child_read_verdict(int sync_fd, bool tty, int *master, char *msg, size_t size);

/* Exit statuses a failed start reports, as docker does: 127 when the command is
 * not found, 126 when it can't be run, 125 for everything else. */
enum child_exit {
	CHILD_EXIT_SETUP = 125,
	CHILD_EXIT_CANNOT_RUN = 126,
	CHILD_EXIT_NOT_FOUND = 127,
};

#endif
