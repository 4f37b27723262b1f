/* The protocol's server side, shared by the API server and every service plugin:
 * a listening Unix socket in an event loop, peer checks, per-connection frame
 * reading and queued (never blocking) writes, and a route table.
 *
 * A handler receives a request and must finish it exactly once, now or later,
 * with ct_request_reply or ct_request_error*; it may send progress before that.
 * A request outlives its connection: if the client goes away, replies are
 * dropped and ct_request_alive turns false. */
#ifndef CONTAINER_SERVER_H
#define CONTAINER_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "error.h"
#include "loop.h"

struct ct_server;
struct ct_request;

typedef void (*ct_route_fn)(struct ct_request *req, void *data);

struct ct_server_options {
	const char *name;     /* in log lines */
	size_t max_frame;     /* 0: CT_FRAME_MAX_DEFAULT */
	gid_t allowed_gid;    /* members of this group may connect; (gid_t)-1: none */
	size_t max_conns;     /* 0: 1024 */
	size_t max_out_bytes; /* per connection queued output; 0: 64 MiB */
};

/* Creates a listening socket at path: an existing stale socket is replaced. */
int ct_server_listen_unix(const char *path, mode_t mode, gid_t gid, struct ct_error *err);

/* Takes ownership of listen_fd. */
struct ct_server *ct_server_new(struct ct_loop *loop, int listen_fd,
				const struct ct_server_options *opts, struct ct_error *err);
void ct_server_free(struct ct_server *srv);

/* Exact route names. The data pointer is handed to fn. */
void ct_server_route(struct ct_server *srv, const char *route, ct_route_fn fn, void *data);
/* Called for routes not in the table; without one, such requests get notFound. */
void ct_server_fallback(struct ct_server *srv, ct_route_fn fn, void *data);
size_t ct_server_connections(const struct ct_server *srv);
/* Stops accepting and closes the listening socket: a client still in its backlog
 * is reset at once instead of waiting, unanswered, until the server is freed. */
void ct_server_stop_accepting(struct ct_server *srv);

const char *ct_request_route(const struct ct_request *req);
int64_t ct_request_id(const struct ct_request *req);
/* The body object (never NULL; an empty object when the request had none). */
json_t *ct_request_body(const struct ct_request *req);
/* Descriptors that came with the request; ownership stays with the request
 * (closed when it finishes) unless taken with ct_request_take_fd. */
size_t ct_request_nfds(const struct ct_request *req);
int ct_request_take_fd(struct ct_request *req, size_t index);
const struct ucred *ct_request_peer(const struct ct_request *req);
bool ct_request_alive(const struct ct_request *req);

/* Progress frame (takes progress). */
void ct_request_progress(struct ct_request *req, json_t *progress);
/* Final reply (takes body and the descriptors, which are closed once sent). */
void ct_request_reply(struct ct_request *req, json_t *body, const int *fds, size_t nfds);
void ct_request_error(struct ct_request *req, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ct_request_fail(struct ct_request *req, const struct ct_error *err);

#endif
