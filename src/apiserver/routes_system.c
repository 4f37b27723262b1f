/* Routes: ping, system.status, system.stop. */
#include <stdlib.h>
#include <sqlite3.h>
#include <unistd.h>

#include "apiserver.h"
#include "json_util.h"
#include "proto.h"
#include "state.h"
#include "supervisor.h"
#include "util.h"

static json_t *identity(struct apiserver *api)
{
	return json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "version",
			 CONTAINER_VERSION, "protocolVersion", CT_PROTOCOL_VERSION, "pid",
			 (int)getpid(), "appRoot", api->paths.app_root, "installRoot",
			 api->paths.install_root, "runRoot", api->paths.run_root, "logRoot",
			 api->paths.log_root, "socket", api->socket_path, "uptimeSeconds",
			 (json_int_t)((ct_now_monotonic_ms() - api->started_ms) / 1000), "startedAt",
			 api->started_at);
}

static void route_ping(struct ct_request *req, void *data)
{
	ct_request_reply(req, identity(data), NULL, 0);
}

static void route_status(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	json_t *body = identity(api);
	json_t *plugins = json_array();
	const struct ct_plugin_list *list = supervisor_manifests(api->supervisor);

	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].is_service)
			json_array_append_new(plugins, supervisor_describe(api->supervisor,
									   &list->items[i]));
	json_object_set_new(body, "status", json_string(api->stopping ? "stopping" : "running"));
	json_object_set_new(body, "plugins", plugins);
	json_object_set_new(body, "stateSchemaVersion", json_integer(state_schema_version(api->db)));
	json_object_set_new(body, "sqliteVersion", json_string(sqlite3_libversion()));
	json_object_set_new(body, "clients", json_integer(ct_server_connections(api->server)));
	ct_request_reply(req, body, NULL, 0);
}

static void containers_stopped(void *data)
{
	apiserver_shutdown(data, "system.stop request");
}

/* `system stop` stops the running containers first (their stop signal, then
 * SIGKILL after the grace time), then the API server and its plugins. A plain
 * SIGTERM of the API server leaves containers running: they outlive it by
 * design, for restarts and upgrades. */
static void route_stop(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	int64_t timeout = 10;

	ct_json_get_int(ct_request_body(req), "timeout", false, &timeout, "request body", NULL);
	ct_request_reply(req, json_pack("{s:b, s:i}", "stopping", 1, "pid", (int)getpid()), NULL, 0);
	containers_stop_all(api, timeout, containers_stopped, api);
}

void routes_system_register(struct apiserver *api)
{
	ct_server_route(api->server, "ping", route_ping, api);
	ct_server_route(api->server, "system.status", route_status, api);
	ct_server_route(api->server, "system.stop", route_stop, api);
}
