/* Routes: plugin.list, plugin.get, plugin.load, plugin.unload, plugin.restart. */
#include <stdlib.h>

#include "apiserver.h"
#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "supervisor.h"
#include "util.h"

static void route_list(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	json_t *items = json_array();

	/* Rescanned on every listing, so a plugin folder added by hand shows up. */
	supervisor_rescan(api->supervisor);
	const struct ct_plugin_list *list = supervisor_manifests(api->supervisor);
	for (size_t i = 0; i < list->n; i++)
		json_array_append_new(items, supervisor_describe(api->supervisor, &list->items[i]));
	ct_request_reply(req, json_pack("{s:o}", "plugins", items), NULL, 0);
}

/* Reads "name" and finds its manifest, replying with an error when either fails. */
static const struct ct_plugin_manifest *lookup(struct apiserver *api, struct ct_request *req)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *name;
	const struct ct_plugin_manifest *m;

	if (ct_json_get_string(ct_request_body(req), "name", true, &name, "request body", &err) < 0) {
		ct_request_fail(req, &err);
		return NULL;
	}
	m = ct_plugin_list_find(supervisor_manifests(api->supervisor), name);
	if (!m) {
		supervisor_rescan(api->supervisor);
		m = ct_plugin_list_find(supervisor_manifests(api->supervisor), name);
	}
	if (!m)
		ct_request_error(req, CT_ERR_NOT_FOUND,
				 "no plugin named %s; `container plugin list` shows the installed "
				 "plugins",
				 name);
	return m;
}

static void route_get(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	const struct ct_plugin_manifest *m = lookup(api, req);

	if (m)
		ct_request_reply(req, supervisor_describe(api->supervisor, m), NULL, 0);
}

static void route_load(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const struct ct_plugin_manifest *m = lookup(api, req);

	if (!m)
		return;
	_cleanup_free_ char *name = xstrdup(m->name);
	if (!supervisor_load(api->supervisor, name, &err)) {
		ct_request_fail(req, &err);
		return;
	}
	m = ct_plugin_list_find(supervisor_manifests(api->supervisor), name);
	ct_request_reply(req, supervisor_describe(api->supervisor, m), NULL, 0);
}

struct pending {
	struct apiserver *api;
	struct ct_request *req;
	char *name;
	bool restart;
};

static void unloaded(void *data)
{
	struct pending *p = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const struct ct_plugin_manifest *m;

	if (p->restart && !supervisor_load(p->api->supervisor, p->name, &err)) {
		ct_request_fail(p->req, &err);
	} else if ((m = ct_plugin_list_find(supervisor_manifests(p->api->supervisor), p->name))) {
		ct_request_reply(p->req, supervisor_describe(p->api->supervisor, m), NULL, 0);
	} else {
		ct_request_reply(p->req, json_pack("{s:s, s:s}", "name", p->name, "state", "stopped"),
				 NULL, 0);
	}
	free(p->name);
	free(p);
}

static void stop_then(struct ct_request *req, struct apiserver *api, bool restart)
{
	const struct ct_plugin_manifest *m = lookup(api, req);

	if (!m)
		return;
	if (!m->is_service) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT,
				 "%s is a CLI plugin: there is no process to %s", m->name,
				 restart ? "restart" : "unload");
		return;
	}
	struct pending *p = xcalloc(1, sizeof(*p));
	p->api = api;
	p->req = req;
	p->name = xstrdup(m->name);
	p->restart = restart;
	struct plugin_instance *inst = supervisor_find(api->supervisor, m->name);
	if (!inst) {
		unloaded(p);
		return;
	}
	log_info("%s of plugin %s requested", restart ? "restart" : "unload", m->name);
	supervisor_unload(api->supervisor, inst, unloaded, p);
}

static void route_unload(struct ct_request *req, void *data)
{
	stop_then(req, data, false);
}

static void route_restart(struct ct_request *req, void *data)
{
	stop_then(req, data, true);
}

void routes_plugin_register(struct apiserver *api)
{
	ct_server_route(api->server, "plugin.list", route_list, api);
	ct_server_route(api->server, "plugin.get", route_get, api);
	ct_server_route(api->server, "plugin.load", route_load, api);
	ct_server_route(api->server, "plugin.unload", route_unload, api);
	ct_server_route(api->server, "plugin.restart", route_restart, api);
}
