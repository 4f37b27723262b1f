/* Routes: plugin.list, plugin.get, plugin.load, plugin.unload, plugin.restart. */
#include <stdlib.h>
#include <string.h>

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
	for (size_t i = 0; i < list->n; i++) {
		json_array_append_new(items, supervisor_describe(api->supervisor, &list->items[i]));
		json_t *more = supervisor_describe_instances(api->supervisor, &list->items[i]);
		json_array_extend(items, more);
		json_decref(more);
	}
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
	/* An instance's label, name.instance: its plugin is the name. */
	if (!m && supervisor_find(api->supervisor, name)) {
		_cleanup_free_ char *base = xstrndup(name, strcspn(name, "."));
		m = ct_plugin_list_find(supervisor_manifests(api->supervisor), base);
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
	const char *label = json_string_value(json_object_get(ct_request_body(req), "name"));

	if (m)
		ct_request_reply(req,
				 supervisor_describe_instance(api->supervisor, m,
							      supervisor_find(api->supervisor, label)),
				 NULL, 0);
}

/* plugin.load {name, instance?, args?}: an instance is another process of the
 * same plugin, labelled name.instance, started with args. */
static void route_load(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const struct ct_plugin_manifest *m = lookup(api, req);
	const char *instance = NULL;
	_cleanup_strv_ char **args = NULL;

	if (!m)
		return;
	if (ct_json_get_string(ct_request_body(req), "instance", false, &instance, "request body",
			       &err) < 0 ||
	    ct_json_get_string_array(ct_request_body(req), "args", false, &args, "request body",
				     &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_free_ char *name = xstrdup(m->name);
	struct plugin_instance *inst =
		supervisor_load_instance(api->supervisor, name, instance, args, &err);
	if (!inst) {
		ct_request_fail(req, &err);
		return;
	}
	m = ct_plugin_list_find(supervisor_manifests(api->supervisor), name);
	ct_request_reply(req, supervisor_describe_instance(api->supervisor, m, inst), NULL, 0);
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

	_cleanup_free_ char *base = xstrndup(p->name, strcspn(p->name, "."));
	const char *instance = strchr(p->name, '.') ? strchr(p->name, '.') + 1 : NULL;
	struct plugin_instance *inst = NULL;
	if (p->restart &&
	    !(inst = supervisor_load_instance(p->api->supervisor, base, instance, NULL, &err))) {
		ct_request_fail(p->req, &err);
	} else if ((m = ct_plugin_list_find(supervisor_manifests(p->api->supervisor), base))) {
		inst = inst ? inst : supervisor_find(p->api->supervisor, p->name);
		ct_request_reply(p->req, supervisor_describe_instance(p->api->supervisor, m, inst),
				 NULL, 0);
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
	const char *label = json_string_value(json_object_get(ct_request_body(req), "name"));
	struct pending *p = xcalloc(1, sizeof(*p));
	p->api = api;
	p->req = req;
	p->name = xstrdup(label);
	p->restart = restart;
	struct plugin_instance *inst = supervisor_find(api->supervisor, label);
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
