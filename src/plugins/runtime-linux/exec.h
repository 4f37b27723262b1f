/* exec: another process in a running container, in all its namespaces and its
 * cgroup, with the same confinement as the container's own process. */
#ifndef CONTAINER_RUNTIME_EXEC_H
#define CONTAINER_RUNTIME_EXEC_H

#include "helper.h"
#include "server.h"

/* Route "exec": {args, env, cwd, user, detach} with descriptors stdin (when
 * "interactive"), stdout, stderr. Replies when the process exits with
 * {exitCode}, or at once with {pid} for detach. */
void exec_route(struct ct_request *req, void *data);
/* Called for every reaped child the helper does not know: an exec'd process. */
bool exec_reaped(struct helper *h, pid_t pid, int status);

#endif
