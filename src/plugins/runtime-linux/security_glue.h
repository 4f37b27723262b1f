/* Where the runtime helper applies the container's confinement: the cgroup
 * (limits, OOM detection), capabilities, rlimits and the seccomp filter. Each
 * is prepared in the helper before clone and applied by the child. */
#ifndef CONTAINER_RUNTIME_SECURITY_GLUE_H
#define CONTAINER_RUNTIME_SECURITY_GLUE_H

#include <jansson.h>

#include "child.h"
#include "error.h"
#include "helper.h"

int security_glue_prepare(struct helper *h, struct child_args *a, struct ct_error *err);
/* In the helper, once the child runs: closes what only the child needed. */
void security_glue_after_clone(struct helper *h, struct child_args *a);
/* After the container exited: the OOM verdict, then the cgroup goes. */
void security_glue_after_exit(struct helper *h);
void security_glue_free(struct helper *h);
/* CPU, memory (without inactive page cache, as docker shows it), pids and block
 * I/O from the container's cgroup. */
json_t *security_glue_stats(struct helper *h, struct ct_error *err);
/* exec: the cgroup joined (in the process about to enter the namespaces), and
 * the same confinement prepared for its child_args. */
void security_glue_enter_cgroup(struct helper *h);
void security_glue_prepare_exec(struct helper *h, struct child_args *a);

#endif
