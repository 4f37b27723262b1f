#include "router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "apiserver.h"
#include "cleanup.h"
#include "frame.h"
#include "json_util.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"
#include "util.h"

/* The id the relay uses on its own connection to the plugin. */
#define RELAY_ID 1

struct relay {
	struct apiserver *api;
	struct ct_request *req;
	char *label;
	int fd;
	struct ct_watch *watch;
	char *out;
	size_t out_len, out_off;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds;
	struct ct_frame_reader reader;
};

static void relay_free(struct relay *r)
{
	if (r->watch)
		ct_loop_unwatch(r->api->loop, r->watch);
	if (r->fd >= 0)
		close(r->fd);
	ct_close_fds(r->fds, r->nfds);
	ct_frame_reader_reset(&r->reader);
	free(r->out);
	free(r->label);
	free(r);
}

static void relay_fail(struct relay *r, const char *code, const char *message)
{
	ct_request_error(r->req, code, "%s", message);
	relay_free(r);
}

/* Returns true when the relay is finished (and freed). */
static bool relay_handle_frame(struct relay *r)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *root = NULL;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds = 0;
	struct ct_msg msg;

	if (ct_frame_take(&r->reader, &root, fds, &nfds, &err) < 0 ||
	    ct_msg_parse(root, &msg, &err) < 0) {
		ct_close_fds(fds, nfds);
		_cleanup_free_ char *m = xasprintf("plugin %s sent a malformed reply: %s", r->label,
						   ct_error_message(&err));
		log_warn("%s", m);
		relay_fail(r, CT_ERR_PROTOCOL, m);
		return true;
	}
	switch (msg.kind) {
	case CT_MSG_PROGRESS:
		ct_close_fds(fds, nfds);
		ct_request_progress(r->req, json_incref(msg.body));
		return false;
	case CT_MSG_ERROR:
		ct_close_fds(fds, nfds);
		relay_fail(r, msg.error_code, msg.error_message);
		return true;
	case CT_MSG_REPLY:
		ct_request_reply(r->req, msg.body ? json_incref(msg.body) : NULL, fds, nfds);
		relay_free(r);
		return true;
	case CT_MSG_REQUEST:
		break;
	}
	ct_close_fds(fds, nfds);
	_cleanup_free_ char *m = xasprintf("plugin %s sent a request instead of a reply", r->label);
	relay_fail(r, CT_ERR_PROTOCOL, m);
	return true;
}

static void relay_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct relay *r = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (!ct_request_alive(r->req)) {
		/* The client left: closing our side tells the plugin to stop working. */
		ct_request_error(r->req, CT_ERR_CANCELLED, "client went away");
		relay_free(r);
		return;
	}
	if (r->out) {
		int rc = ct_frame_send_some(r->fd, r->out, r->out_len, &r->out_off, r->fds, r->nfds,
					    &err);
		if (rc < 0) {
			_cleanup_free_ char *m = xasprintf("sending the request to plugin %s: %s",
							   r->label, ct_error_message(&err));
			relay_fail(r, CT_ERR_UNAVAILABLE, m);
			return;
		}
		if (rc == 0)
			return;
		/* Sent: our copies of the descriptors are no longer needed. */
		ct_close_fds(r->fds, r->nfds);
		r->nfds = 0;
		free(r->out);
		r->out = NULL;
		ct_loop_watch_modify(loop, r->watch, EPOLLIN);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		int rc = ct_frame_read(&r->reader, r->fd, &err);
		if (rc == CT_FRAME_AGAIN)
			return;
		if (rc == CT_FRAME_READY) {
			if (relay_handle_frame(r))
				return;
			continue;
		}
		_cleanup_free_ char *m =
			rc == CT_FRAME_EOF
				? xasprintf("plugin %s closed the connection before replying (it may "
					    "have crashed; see `container system logs`)",
					    r->label)
				: xasprintf("reading the reply of plugin %s: %s", r->label,
					    ct_error_message(&err));
		relay_fail(r, CT_ERR_UNAVAILABLE, m);
		return;
	}
}

void router_forward(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *route = ct_request_route(req);
	const char *found = supervisor_route_owner(api->supervisor, route);
	struct plugin_instance *inst;

	if (!found) {
		/* A plugin installed after the last scan may own it. */
		supervisor_rescan(api->supervisor);
		found = supervisor_route_owner(api->supervisor, route);
	}
	/* A copy: loading may rescan the manifests that found points into. */
	_cleanup_free_ char *owner = found ? xstrdup(found) : NULL;
	if (!owner) {
		ct_request_error(req, CT_ERR_NOT_FOUND,
				 "unknown route \"%s\": neither the API server nor a plugin serves it",
				 route);
		return;
	}
	inst = supervisor_find(api->supervisor, owner);
	if (inst && plugin_instance_state(inst) == PLUGIN_FAILED) {
		ct_request_error(req, CT_ERR_UNAVAILABLE,
				 "plugin %s has failed (it kept crashing); see `container system "
				 "logs`, then `container plugin restart %s`",
				 owner, owner);
		return;
	}
	if (!inst || plugin_instance_state(inst) == PLUGIN_STOPPED) {
		/* Started on demand: a service plugin need not be loaded at boot. */
		inst = supervisor_load(api->supervisor, owner, &err);
		if (!inst) {
			ct_request_fail(req, &err);
			return;
		}
	}

	struct relay *r = xcalloc(1, sizeof(*r));
	r->api = api;
	r->req = req;
	r->label = xstrdup(plugin_instance_label(inst));
	r->fd = -1;
	ct_frame_reader_init(&r->reader, CT_FRAME_MAX_DEFAULT);

	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", plugin_instance_socket(inst));
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		_cleanup_free_ char *m = xasprintf("connecting to plugin %s at %s: %s", r->label,
						   addr.sun_path, strerror(errno));
		relay_fail(r, CT_ERR_UNAVAILABLE, m);
		return;
	}

	/* Forward the request as the client sent it, with its descriptors. */
	_cleanup_json_ json_t *msg =
		ct_msg_request(route, RELAY_ID, json_incref(ct_request_body(req)));
	if (ct_frame_encode(msg, CT_FRAME_MAX_DEFAULT, &r->out, &r->out_len, &err) < 0) {
		relay_fail(r, err.code, ct_error_message(&err));
		return;
	}
	for (size_t i = 0; i < ct_request_nfds(req); i++)
		r->fds[r->nfds++] = ct_request_take_fd(req, i);
	r->watch = ct_loop_watch(api->loop, r->fd, EPOLLIN | EPOLLOUT, relay_event, r, &err);
	if (!r->watch) {
		relay_fail(r, CT_ERR_INTERNAL, ct_error_message(&err));
		return;
	}
	log_debug("relaying %s to plugin %s", route, r->label);
}
