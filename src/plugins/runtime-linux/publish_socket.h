/* --publish-socket HOST_PATH:CONTAINER_PATH: the helper listens on a Unix socket
 * at HOST_PATH and relays every client to the Unix socket CONTAINER_PATH inside
 * the container, connected when the client arrives (so the container may make
 * its socket at any time), resolved inside the container's root. */
#ifndef CONTAINER_RUNTIME_PUBLISH_SOCKET_H
#define CONTAINER_RUNTIME_PUBLISH_SOCKET_H

#include "error.h"

struct helper;

/* Once the container runs (h->pid known): binds and listens on every host path
 * of h->spec, watched on h->loop. On failure nothing is left behind. */
int publish_sockets_start(struct helper *h, struct ct_error *err);
/* The container has exited: stops listening and removes the host sockets this
 * helper made (those still there with the same inode). Relays already open end
 * by themselves as the container's side closes. */
void publish_sockets_stop(struct helper *h);
/* Stops, closes every relay and frees everything; for the helper's exit. */
void publish_sockets_free(struct helper *h);

#endif
