/* A call to another server from inside an event loop, without blocking it: a
 * connection of its own, the request (with descriptors) written as the socket
 * accepts it, progress frames and the final reply delivered to callbacks. The
 * API server relays client requests to plugins with it and makes its own calls
 * to plugins and runtime helpers. */
#ifndef CONTAINER_ASYNC_CLIENT_H
#define CONTAINER_ASYNC_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "loop.h"

struct async_call_handlers {
	/* Each progress frame (borrowed). May be NULL. */
	void (*progress)(json_t *progress, void *data);
	/* Exactly once: body (borrowed) and the reply's descriptors (the callee
	 * takes them) on success, or err. */
	void (*done)(json_t *body, int *fds, size_t nfds, const struct ct_error *err, void *data);
	/* Optional: polled on each event; returning false abandons the call (done
	 * is then called with code "cancelled"). */
	bool (*wanted)(void *data);
};

/* peer names the other side in messages ("plugin container-core-images").
 * fds are taken (closed once sent, or on failure). On an immediate failure
 * (nothing listening, say) done is called before this returns. */
void async_call(struct ct_loop *loop, const char *socket_path, const char *peer, const char *route,
		json_t *body, int *fds, size_t nfds, const struct async_call_handlers *handlers,
		void *data);

/* The call failed because the connection broke after the request may have
 * reached the peer (it crashed, say), not because the peer refused it or could
 * not be reached: a caller may try an idempotent request once more. */
bool async_call_peer_lost(const struct ct_error *err);

#endif
