/* Routes: property.list, property.get, property.set, property.clear. */
#include <stdlib.h>
#include <string.h>

#include "apiserver.h"
#include "cleanup.h"
#include "config.h"
#include "json_util.h"
#include "log.h"
#include "networks.h"
#include "state.h"
#include "util.h"

static void warn_config(const char *message)
{
	log_warn("%s", message);
}

/* {key, value, default, source, description}: source is "default", a config
 * file's path, or "set". */
static int describe(struct apiserver *api, const struct ct_property_def *def, json_t *files,
		    json_t **out, struct ct_error *err)
{
	_cleanup_free_ char *set = NULL;
	const char *value = def->default_value, *source = "default";
	json_t *from_file = json_object_get(files, def->key);

	if (state_property_get(api->db, def->key, &set, err) < 0)
		return -1;
	if (set) {
		value = set;
		source = "set";
	} else if (from_file) {
		value = json_string_value(json_object_get(from_file, "value"));
		source = json_string_value(json_object_get(from_file, "source"));
	}
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "key", def->key, "value", value, "default",
			 def->default_value, "source", source, "description", def->description);
	return 0;
}

static void route_list(struct ct_request *req, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *files = ct_config_load_files(warn_config);
	json_t *items = json_array();
	size_t n;
	const struct ct_property_def *defs = ct_property_defs(&n);

	for (size_t i = 0; i < n; i++) {
		json_t *item;
		if (describe(data, &defs[i], files, &item, &err) < 0) {
			json_decref(items);
			ct_request_fail(req, &err);
			return;
		}
		json_array_append_new(items, item);
	}
	ct_request_reply(req, json_pack("{s:o}", "properties", items), NULL, 0);
}

static const struct ct_property_def *find(struct ct_request *req, const char **key)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const struct ct_property_def *def;

	if (ct_json_get_string(ct_request_body(req), "key", true, key, "request body", &err) < 0) {
		ct_request_fail(req, &err);
		return NULL;
	}
	def = ct_property_find(*key);
	if (!def) {
		ct_property_validate(*key, "", &err);
		ct_request_fail(req, &err);
	}
	return def;
}

static void route_get(struct ct_request *req, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *files = NULL;
	const char *key;
	const struct ct_property_def *def = find(req, &key);
	json_t *item;

	if (!def)
		return;
	files = ct_config_load_files(warn_config);
	if (describe(data, def, files, &item, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	ct_request_reply(req, item, NULL, 0);
}

/* Properties that change running things take effect at once. */
static void apply_property(struct apiserver *api, const char *key)
{
	if (strcmp(key, "network.subnet") == 0)
		networks_apply_default_subnet(api);
	else if (strcmp(key, "dns.domain") == 0) {
		dns_host_forget_domains(api);
		networks_push_domains(api);
	}
}

static void route_set(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *key, *value = NULL;

	if (!find(req, &key))
		return;
	if (ct_json_get_string(ct_request_body(req), "value", true, &value, "request body", &err) <
		0 ||
	    ct_property_validate(key, value, &err) < 0 ||
	    state_property_set(api->db, key, value, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	log_info("property %s set to \"%s\"", key, value);
	apply_property(api, key);
	ct_request_reply(req, json_pack("{s:s, s:s}", "key", key, "value", value), NULL, 0);
}

static void route_clear(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *key;
	int rc;

	if (!find(req, &key))
		return;
	rc = state_property_clear(api->db, key, &err);
	if (rc < 0) {
		ct_request_fail(req, &err);
		return;
	}
	if (rc > 0) {
		log_info("property %s cleared", key);
		apply_property(api, key);
	}
	ct_request_reply(req, json_pack("{s:s, s:b}", "key", key, "cleared", rc > 0), NULL, 0);
}

void routes_property_register(struct apiserver *api)
{
	ct_server_route(api->server, "property.list", route_list, api);
	ct_server_route(api->server, "property.get", route_get, api);
	ct_server_route(api->server, "property.set", route_set, api);
	ct_server_route(api->server, "property.clear", route_clear, api);
}

char *apiserver_property(struct apiserver *api, const char *key)
{
	const struct ct_property_def *def = ct_property_find(key);
	char *set = NULL;

	if (state_property_get(api->db, key, &set, NULL) == 0 && set)
		return set;
	_cleanup_json_ json_t *files = ct_config_load_files(warn_config);
	const char *v = json_string_value(json_object_get(json_object_get(files, key), "value"));
	if (v)
		return xstrdup(v);
	return def ? xstrdup(def->default_value) : NULL;
}
