#include "async_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "json_util.h"
#include "proto.h"
#include "util.h"

/* The id used on the call's own connection. */
#define CALL_ID 1

struct call {
	struct ct_loop *loop;
	const struct async_call_handlers *h;
	void *data;
	char *peer;
	int fd;
	struct ct_watch *watch;
	char *out;
	size_t out_len, out_off;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds;
	struct ct_frame_reader reader;
};

static void call_free(struct call *c)
{
	if (c->watch)
		ct_loop_unwatch(c->loop, c->watch);
	if (c->fd >= 0)
		close(c->fd);
	ct_close_fds(c->fds, c->nfds);
	ct_frame_reader_reset(&c->reader);
	free(c->out);
	free(c->peer);
	free(c);
}

static void call_fail_errno(struct call *c, const char *code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* errnum ECONNRESET marks a connection lost after the request may have been
 * sent (async_call_peer_lost). */
static void call_fail_errno(struct call *c, const char *code, int errnum, const char *fmt, ...)
{
	struct ct_error err = CT_ERROR_INIT;
	char *message = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	ct_error_set(&err, code, errnum, "%s", message ? message : "call failed");
	free(message);
	c->h->done(NULL, NULL, 0, &err, c->data);
	ct_error_clear(&err);
	call_free(c);
}

#define call_fail(c, code, ...) call_fail_errno(c, code, 0, __VA_ARGS__)

/* Returns true when the call is finished (and freed). */
static bool handle_frame(struct call *c)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *root = NULL;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds = 0;
	struct ct_msg msg;

	if (ct_frame_take(&c->reader, &root, fds, &nfds, &err) < 0 ||
	    ct_msg_parse(root, &msg, &err) < 0) {
		ct_close_fds(fds, nfds);
		call_fail(c, CT_ERR_PROTOCOL, "%s sent a malformed reply: %s", c->peer,
			  ct_error_message(&err));
		return true;
	}
	switch (msg.kind) {
	case CT_MSG_PROGRESS:
		ct_close_fds(fds, nfds);
		if (c->h->progress)
			c->h->progress(msg.body, c->data);
		return false;
	case CT_MSG_ERROR:
		ct_close_fds(fds, nfds);
		ct_error_set(&err, msg.error_code, 0, "%s", msg.error_message);
		c->h->done(NULL, NULL, 0, &err, c->data);
		call_free(c);
		return true;
	case CT_MSG_REPLY: {
		json_t *body = msg.body ? msg.body : json_object();
		c->h->done(body, fds, nfds, NULL, c->data);
		if (!msg.body)
			json_decref(body);
		call_free(c);
		return true;
	}
	case CT_MSG_REQUEST:
		break;
	}
	ct_close_fds(fds, nfds);
	call_fail(c, CT_ERR_PROTOCOL, "%s sent a request instead of a reply", c->peer);
	return true;
}

static void call_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct call *c = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (c->h->wanted && !c->h->wanted(c->data)) {
		/* Closing our side tells the server to stop working on it. */
		call_fail(c, CT_ERR_CANCELLED, "the caller went away");
		return;
	}
	if (c->out) {
		int rc = ct_frame_send_some(c->fd, c->out, c->out_len, &c->out_off, c->fds, c->nfds,
					    &err);
		if (rc < 0) {
			call_fail_errno(c, CT_ERR_UNAVAILABLE, ECONNRESET,
					"sending the request to %s: %s", c->peer,
					ct_error_message(&err));
			return;
		}
		if (rc == 0)
			return;
		ct_close_fds(c->fds, c->nfds);
		c->nfds = 0;
		free(c->out);
		c->out = NULL;
		ct_loop_watch_modify(loop, c->watch, EPOLLIN);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		int rc = ct_frame_read(&c->reader, c->fd, &err);
		if (rc == CT_FRAME_AGAIN)
			return;
		if (rc == CT_FRAME_READY) {
			if (handle_frame(c))
				return;
			continue;
		}
		if (rc == CT_FRAME_EOF)
			call_fail_errno(
			    c, CT_ERR_UNAVAILABLE, ECONNRESET,
			    "%s closed the connection before replying (it may have crashed; "
			    "see `container system logs`)",
			    c->peer);
		else
			call_fail_errno(c, CT_ERR_UNAVAILABLE, ECONNRESET,
					"reading the reply of %s: %s", c->peer,
					ct_error_message(&err));
		return;
	}
}

void async_call(struct ct_loop *loop, const char *socket_path, const char *peer, const char *route,
		json_t *body, int *fds, size_t nfds, const struct async_call_handlers *handlers,
		void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct call *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	c->loop = loop;
	c->h = handlers;
	c->data = data;
	c->peer = xstrdup(peer);
	c->fd = -1;
	ct_frame_reader_init(&c->reader, CT_FRAME_MAX_DEFAULT);
	for (size_t i = 0; i < nfds && i < CT_FRAME_MAX_FDS; i++)
		c->fds[c->nfds++] = fds[i];

	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		call_fail(c, CT_ERR_INVALID_ARGUMENT, "socket path %s is too long", socket_path);
		return;
	}
	strcpy(addr.sun_path, socket_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		call_fail(c, CT_ERR_UNAVAILABLE, "connecting to %s at %s: %s", c->peer, socket_path,
			  strerror(errno));
		return;
	}
	_cleanup_json_ json_t *msg = ct_msg_request(route, CALL_ID, json_incref(body));
	if (ct_frame_encode(msg, CT_FRAME_MAX_DEFAULT, &c->out, &c->out_len, &err) < 0) {
		call_fail(c, err.code, "%s", ct_error_message(&err));
		return;
	}
	c->watch = ct_loop_watch(loop, c->fd, EPOLLIN | EPOLLOUT, call_event, c, &err);
	if (!c->watch)
		call_fail(c, CT_ERR_INTERNAL, "%s", ct_error_message(&err));
}

bool async_call_peer_lost(const struct ct_error *err)
{
	return err && ct_error_is(err, CT_ERR_UNAVAILABLE) && err->errnum == ECONNRESET;
}
