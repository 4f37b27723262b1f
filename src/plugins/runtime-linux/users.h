/* -u NAME[:GROUP] resolved from the container's own /etc/passwd and /etc/group
 * (never the host's, never through NSS), after pivot_root so the files are the
 * rootfs's own and a symlink in them can't point outside it. */
#ifndef CONTAINER_RUNTIME_USERS_H
#define CONTAINER_RUNTIME_USERS_H

#include <stddef.h>
#include <sys/types.h>

#define USERS_MAX_GROUPS 64

struct resolved_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[USERS_MAX_GROUPS]; /* supplementary, from /etc/group */
	size_t n_groups;
	char home[256];
};

/* spec: "name", "uid", "name:group", "uid:gid"… Fills out; a missing name is
 * -ENOENT with *what naming it. Numeric ids need no entry (docker allows them). */
int users_resolve(const char *spec, struct resolved_user *out, const char **what);

#endif
