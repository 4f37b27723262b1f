/* The part of an OCI runtime spec (config.json) that this runtime acts on. The
 * API server writes it; our own settings that the spec has no field for travel
 * as annotations under "org.container.":
 *   rootfs.lower  overlay lower dirs, top first, ':'-separated (image snapshots)
 *   rootfs.upper, rootfs.work   the container's own overlay dirs
 *   user          the -u value when it names a user or group (resolved inside
 *                 the rootfs, from its /etc/passwd and /etc/group)
 *   seccomp       "default" or "unconfined"
 *   init          "true": run container-init as PID 1
 *   publishSockets  JSON text [{"host": PATH, "container": PATH}]: Unix sockets
 *                 the helper serves on the host, relayed into the container */
#ifndef CONTAINER_RUNTIME_SPEC_H
#define CONTAINER_RUNTIME_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct rt_mount {
	char *destination;
	char *type;
	char *source;
	unsigned long flags;	   /* MS_* from the options */
	unsigned long propagation; /* MS_PRIVATE… or 0 */
	char *data;		   /* the remaining options, comma-joined */
	bool bind;
	bool recursive;
	bool readonly;
};

struct rt_rlimit {
	int resource;
	uint64_t soft, hard;
};

/* --publish-socket HOST_PATH:CONTAINER_PATH (publish_socket.c). */
struct rt_publish_socket {
	char *host_path;
	char *container_path;
};

struct rt_spec {
	/* process */
	bool terminal;
	char **args;
	char **env;
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char *user_name; /* annotation: resolve in the rootfs */
	char **caps_bounding, **caps_effective, **caps_permitted, **caps_inheritable,
		**caps_ambient;
	bool no_new_privileges;
	struct rt_rlimit *rlimits;
	size_t n_rlimits;
	int oom_score_adj;
	bool has_oom_score_adj;
	/* root and mounts */
	char *root_path;
	bool root_readonly;
	char *hostname;
	struct rt_mount *mounts;
	size_t n_mounts;
	/* linux */
	int namespaces; /* CLONE_NEW* */
	char **masked_paths;
	char **readonly_paths;
	char *cgroups_path;
	int64_t memory_limit, memory_swap, cpu_quota, cpu_period, pids_limit;
	/* annotations */
	char *rootfs_lower, *rootfs_upper, *rootfs_work;
	bool seccomp_unconfined;
	bool init;
	struct rt_publish_socket *publish_sockets;
	size_t n_publish_sockets;
};

int rt_spec_load(const char *path, struct rt_spec *spec, struct ct_error *err);
void rt_spec_free(struct rt_spec *spec);

#endif
