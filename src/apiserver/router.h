/* Relays a request to the service plugin that owns its route prefix and the
 * plugin's progress, reply and descriptors back to the client. Each relayed
 * request gets its own connection to the plugin: requests never queue behind
 * each other, and a plugin crash fails only the requests it held. */
#ifndef CONTAINER_ROUTER_H
#define CONTAINER_ROUTER_H

#include "server.h"

struct apiserver;

/* The server's fallback route: finds the owner (starting it on demand) or
 * replies notFound. */
void router_forward(struct ct_request *req, void *data);

#endif
