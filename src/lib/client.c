#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "proto.h"
#include "util.h"

int ct_client_connect(struct ct_client *c, const char *path, struct ct_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
				    "socket path %s is too long", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a socket");
	/* A Unix socket connect completes at once or fails at once, even when the
	 * socket is non-blocking (EAGAIN only when the backlog is full). */
	for (int tries = 0;; tries++) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && tries < 100) {
			usleep(10000);
			continue;
		}
		if (errno == ENOENT || errno == ECONNREFUSED)
			return ct_error_errno(err, CT_ERR_UNAVAILABLE, "nothing is listening at %s",
					      path);
		if (errno == EACCES || errno == EPERM)
			return ct_error_errno(err, CT_ERR_PERMISSION_DENIED, "connecting to %s", path);
		return ct_error_errno(err, CT_ERR_UNAVAILABLE, "connecting to %s", path);
	}
	c->fd = move_fd(fd);
	c->path = xstrdup(path);
	c->next_id = 1;
	return 0;
}

void ct_client_close(struct ct_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->path);
	c->path = NULL;
}

int ct_client_call(struct ct_client *c, const char *route, json_t *body, json_t **reply,
		   const struct ct_call_options *opts, struct ct_error *err)
{
	static const struct ct_call_options no_opts;
	int64_t id = c->next_id++;
	int timeout;

	if (!opts)
		opts = &no_opts;
	timeout = opts->timeout_ms > 0 ? opts->timeout_ms : -1;
	if (reply)
		*reply = NULL;
	if (opts->reply_nfds)
		*opts->reply_nfds = 0;

	_cleanup_json_ json_t *req = ct_msg_request(route, id, body ? json_incref(body) : NULL);
	if (ct_frame_send(c->fd, req, opts->fds, opts->nfds, err) < 0) {
		/* A server that refuses us (peer check, too many clients) says why in
		 * one frame and hangs up; that reason beats "broken pipe". */
		json_t *refusal = NULL;
		struct ct_msg msg;
		if (ct_error_is(err, CT_ERR_UNAVAILABLE) &&
		    ct_frame_recv(c->fd, CT_FRAME_MAX_DEFAULT, 200, &refusal, NULL, NULL, NULL) == 0 &&
		    ct_msg_parse(refusal, &msg, NULL) == 0 && msg.kind == CT_MSG_ERROR) {
			ct_error_set(err, msg.error_code, 0, "%s", msg.error_message);
			json_decref(refusal);
			return -1;
		}
		json_decref(refusal);
		return ct_error_prefix(err, "calling %s", route);
	}

	for (;;) {
		_cleanup_json_ json_t *root = NULL;
		int fds[CT_FRAME_MAX_FDS];
		size_t nfds = 0;
		struct ct_msg msg;

		if (ct_frame_recv(c->fd, CT_FRAME_MAX_DEFAULT, timeout, &root, fds, &nfds, err) < 0)
			return ct_error_prefix(err, "waiting for the reply to %s", route);
		if (ct_msg_parse(root, &msg, err) < 0) {
			ct_close_fds(fds, nfds);
			return ct_error_prefix(err, "reply to %s", route);
		}
		/* A frame-level error from the server has no id: it is about us. */
		if (msg.kind == CT_MSG_ERROR && (!msg.has_id || msg.id == id)) {
			ct_close_fds(fds, nfds);
			return ct_error_set(err, msg.error_code, 0, "%s", msg.error_message);
		}
		if (!msg.has_id || msg.id != id) {
			ct_close_fds(fds, nfds);
			continue;
		}
		if (msg.kind == CT_MSG_PROGRESS) {
			ct_close_fds(fds, nfds);
			if (opts->progress && opts->progress(msg.body, opts->progress_data) < 0)
				return ct_error_set(err, CT_ERR_CANCELLED, 0, "%s cancelled", route);
			continue;
		}
		if (msg.kind != CT_MSG_REPLY) {
			ct_close_fds(fds, nfds);
			return ct_error_set(err, CT_ERR_PROTOCOL, 0, "unexpected message in reply to %s",
					    route);
		}
		if (opts->reply_fds && opts->reply_nfds) {
			if (nfds > 0)
				memcpy(opts->reply_fds, fds, nfds * sizeof(int));
			*opts->reply_nfds = nfds;
		} else {
			ct_close_fds(fds, nfds);
		}
		if (reply)
			*reply = msg.body ? json_incref(msg.body) : json_object();
		return 0;
	}
}
