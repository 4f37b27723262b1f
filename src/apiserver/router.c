#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "apiserver.h"
#include "async_client.h"
#include "cleanup.h"
#include "frame.h"
#include "json_util.h"
#include "log.h"
#include "supervisor.h"
#include "util.h"

/* A relayed client request: the plugin's progress and reply go back to it. */
static void relay_progress(json_t *progress, void *data)
{
	ct_request_progress(data, json_incref(progress));
}

static void relay_done(json_t *body, int *fds, size_t nfds, const struct ct_error *err, void *data)
{
	if (err)
		ct_request_fail(data, err);
	else
		ct_request_reply(data, json_incref(body), fds, nfds);
}

static bool relay_wanted(void *data)
{
	return ct_request_alive(data);
}

static const struct async_call_handlers relay_handlers = {
	.progress = relay_progress,
	.done = relay_done,
	.wanted = relay_wanted,
};

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

	int fds[CT_FRAME_MAX_FDS];
	size_t nfds = ct_request_nfds(req);
	for (size_t i = 0; i < nfds; i++)
		fds[i] = ct_request_take_fd(req, i);
	_cleanup_free_ char *peer = xasprintf("plugin %s", plugin_instance_label(inst));
	log_debug("relaying %s to %s", route, peer);
	async_call(api->loop, plugin_instance_socket(inst), peer, route, ct_request_body(req), fds,
		   nfds, &relay_handlers, req);
}
