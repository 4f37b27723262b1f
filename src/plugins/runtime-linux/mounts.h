/* The container's filesystem, set up by the child in its new mount namespace:
 * the overlay rootfs, the spec's mounts, /dev's nodes and links, pivot_root, the
 * masked and read-only paths. Every mount target inside the rootfs is opened
 * with openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd/N, so a
 * symlink in the image can never send a mount outside the rootfs (the class of
 * CVE-2021-30465). Functions return -errno and leave a message in
 * child_error (see child.h). */
#ifndef CONTAINER_RUNTIME_MOUNTS_H
#define CONTAINER_RUNTIME_MOUNTS_H

#include "spec.h"

/* Everything up to and including pivot_root; afterwards "/" is the container's. */
int mounts_setup_rootfs(const struct rt_spec *spec, const char *bundle, const char *init_path);
/* After pivot_root: masked and read-only paths, then a read-only root. */
int mounts_finish(const struct rt_spec *spec);

#endif
