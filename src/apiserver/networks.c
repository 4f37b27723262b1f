/* Routes: network.create, delete, list, inspect, prune. A network is a row in
 * state.db and a plugin instance that owns its bridge, nftables rules and DNS
 * server; deleting it asks the plugin to tear those down, then stops it. */
#include "networks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_client.h"
#include "frame.h"
#include "cleanup.h"
#include "container_db.h"
#include "ipnet.h"
#include "json_util.h"
#include "log.h"
#include "network_db.h"
#include "plugin.h"
#include "supervisor.h"
#include "util.h"

static bool network_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 48 || (!islower((unsigned char)name[0]) && !isdigit((unsigned char)name[0])))
		return false;
	for (const char *p = name; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' &&
		    *p != '.' && *p != '-')
			return false;
	return true;
}

json_t *networks_dns_domains(struct apiserver *api)
{
	_cleanup_free_ char *main_domain = apiserver_property(api, "dns.domain");
	json_t *out = json_array(), *rows = NULL, *row;
	size_t i;

	if (main_domain && *main_domain)
		json_array_append_new(out, json_string(main_domain));
	if (dns_db_list(api->db, &rows, NULL) == 0)
		json_array_foreach (rows, i, row) {
			const char *d = json_string_value(json_object_get(row, "domain"));
			if (!main_domain || strcmp(d, main_domain) != 0)
				json_array_append_new(out, json_string(d));
		}
	json_decref(rows);
	return out;
}

static char *plugin_label(const char *network)
{
	return xasprintf("%s.%s", NETWORK_PLUGIN, network);
}

struct plugin_instance *networks_plugin(struct apiserver *api, json_t *net, struct ct_error *err)
{
	const char *name = json_string_value(json_object_get(net, "name"));
	_cleanup_free_ char *label = plugin_label(name);
	struct plugin_instance *running = supervisor_find(api->supervisor, label);

	/* The usual case, on every container start: no arguments to build. */
	if (running && (plugin_instance_state(running) == PLUGIN_RUNNING ||
			plugin_instance_state(running) == PLUGIN_RESTARTING))
		return running;
	_cleanup_free_ char *state_dir = xasprintf("%s/networks/%s", api->paths.app_root, name);
	_cleanup_json_ json_t *domains = networks_dns_domains(api);
	char *args[32];
	size_t n = 0, i;
	json_t *d;

	args[n++] = "--network";
	args[n++] = (char *)name;
	args[n++] = "--bridge";
	args[n++] = (char *)json_string_value(json_object_get(net, "bridge"));
	args[n++] = "--subnet";
	args[n++] = (char *)json_string_value(json_object_get(net, "subnet"));
	args[n++] = "--gateway";
	args[n++] = (char *)json_string_value(json_object_get(net, "gateway"));
	args[n++] = "--state-dir";
	args[n++] = state_dir;
	if (json_is_true(json_object_get(net, "internal")))
		args[n++] = "--internal";
	json_array_foreach (domains, i, d) {
		if (n + 3 >= ARRAY_SIZE(args))
			break;
		args[n++] = "--domain";
		args[n++] = (char *)json_string_value(d);
	}
	args[n] = NULL;
	struct plugin_instance *inst =
		supervisor_load_instance(api->supervisor, NETWORK_PLUGIN, name, args, err);
	if (!inst)
		ct_error_prefix(err, "starting the plugin of network %s", name);
	return inst;
}

/* ---- subnets ------------------------------------------------------------- */

/* A subnet a network already has, or that the host routes (so a container
 * could not reach that part of the outside world): for picking a free one. */
static bool subnet_taken(json_t *networks, const struct ipnet *candidate, bool check_host)
{
	size_t i;
	json_t *n;

	json_array_foreach (networks, i, n) {
		struct ipnet other;
		if (ipnet_parse(json_string_value(json_object_get(n, "subnet")), &other, NULL) == 0 &&
		    ipnet_overlaps(&other, candidate))
			return true;
	}
	if (!check_host)
		return false;
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned dest, mask;
		char ifname[32];
		if (sscanf(line, "%31s %x %*x %*x %*d %*d %*d %x", ifname, &dest, &mask) != 3 ||
		    mask == 0)
			continue;
		/* /proc/net/route prints addresses in network order read as hex. */
		struct ipnet r = {.network = __builtin_bswap32(dest),
				  .prefix = (unsigned)__builtin_popcount(mask)};
		if (ipnet_overlaps(&r, candidate))
			return true;
	}
	return false;
}

static int pick_subnet(json_t *networks, struct ipnet *out, struct ct_error *err)
{
	for (unsigned n = 0; n < 256; n++) {
		struct ipnet c = {.network = (10u << 24) | (90u << 16) | (n << 8), .prefix = 24};
		if (!subnet_taken(networks, &c, true)) {
			*out = c;
			return 0;
		}
	}
	return ct_error_set(err, CT_ERR_CONFLICT, 0,
			    "no free subnet left in 10.90.0.0/16; give one with --subnet");
}

static char *pick_bridge(json_t *networks)
{
	for (unsigned k = 1;; k++) {
		_cleanup_free_ char *name = xasprintf("ctbr%u", k);
		bool used = false;
		size_t i;
		json_t *n;
		json_array_foreach (networks, i, n)
			if (strcmp(json_string_value(json_object_get(n, "bridge")), name) == 0)
				used = true;
		if (!used)
			return move_ptr(name);
	}
}

/* Validates and stores a new network. */
static json_t *network_new(struct apiserver *api, const char *name, const char *subnet_text,
			   bool internal, json_t *labels, struct ct_error *err)
{
	_cleanup_json_ json_t *all = NULL;
	struct ipnet subnet;
	char subnet_buf[IPNET_STRLEN], gateway[16], now[32];
	size_t i;
	json_t *n;

	if (!network_name_valid(name)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "invalid network name \"%s\": 1 to 48 characters, lowercase letters, "
			     "digits, '_', '.' and '-', starting with a letter or digit",
			     name);
		return NULL;
	}
	if (network_db_list(api->db, &all, err) < 0)
		return NULL;
	json_array_foreach (all, i, n)
		if (strcmp(json_string_value(json_object_get(n, "name")), name) == 0) {
			ct_error_set(err, CT_ERR_EXISTS, 0, "a network named %s exists already", name);
			return NULL;
		}
	if (subnet_text) {
		if (ipnet_parse(subnet_text, &subnet, err) < 0)
			return NULL;
		json_array_foreach (all, i, n) {
			struct ipnet other;
			if (ipnet_parse(json_string_value(json_object_get(n, "subnet")), &other,
					NULL) == 0 &&
			    ipnet_overlaps(&other, &subnet)) {
				ct_error_set(err, CT_ERR_CONFLICT, 0,
					     "subnet %s overlaps %s of network %s; choose another "
					     "with --subnet",
					     subnet_text, json_string_value(json_object_get(n, "subnet")),
					     json_string_value(json_object_get(n, "name")));
				return NULL;
			}
		}
	} else if (pick_subnet(all, &subnet, err) < 0) {
		return NULL;
	}
	ipnet_format(&subnet, subnet_buf);
	ipnet_format_addr(ipnet_gateway(&subnet), gateway);
	ct_format_time_now(now, sizeof(now));
	_cleanup_free_ char *bridge = strcmp(name, DEFAULT_NETWORK) == 0 ? xstrdup(DEFAULT_BRIDGE)
									  : pick_bridge(all);
	json_t *net = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:s}", "name", name, "subnet",
				subnet_buf, "gateway", gateway, "bridge", bridge, "internal", internal,
				"labels", labels ? json_deep_copy(labels) : json_object(),
				"createdAt", now);
	if (network_db_insert(api->db, net, err) < 0) {
		json_decref(net);
		return NULL;
	}
	log_info("created network %s (%s, bridge %s%s)", name, subnet_buf, bridge,
		 internal ? ", internal" : "");
	return net;
}

/* Names of the containers that ask for a network (running or not). */
static json_t *containers_using(struct apiserver *api, const char *network)
{
	struct container_record *all = NULL;
	size_t n = 0, i, k;
	json_t *names = json_array(), *v;

	if (container_db_list(api->db, &all, &n, NULL) < 0)
		return names;
	for (i = 0; i < n; i++)
		json_array_foreach (json_object_get(all[i].options, "networks"), k, v)
			if (strcmp(json_string_value(v) ?: "", network) == 0)
				json_array_append_new(names, json_string(all[i].name));
	container_records_free(all, n);
	return names;
}

/* The network object as routes return it: the row, its plugin's state and its
 * containers' addresses. */
static json_t *describe(struct apiserver *api, json_t *net)
{
	const char *name = json_string_value(json_object_get(net, "name"));
	_cleanup_free_ char *label = plugin_label(name);
	struct plugin_instance *inst = supervisor_find(api->supervisor, label);
	json_t *out = json_deep_copy(net), *allocs = NULL, *a;
	json_t *containers = json_array();
	size_t i;

	json_object_set_new(out, "state", json_string(inst ? plugin_state_name(plugin_instance_state(inst))
							   : "stopped"));
	if (alloc_db_list(api->db, name, NULL, &allocs, NULL) == 0)
		json_array_foreach (allocs, i, a) {
			struct container_record r;
			const char *id = json_string_value(json_object_get(a, "containerId"));
			json_t *c = json_pack("{s:s, s:O, s:O, s:O}", "id", id, "address",
					      json_object_get(a, "address"), "mac",
					      json_object_get(a, "mac"), "interface",
					      json_object_get(a, "interface"));
			if (container_db_find(api->db, id, &r, NULL) == 0) {
				json_object_set_new(c, "name", json_string(r.name));
				container_record_free(&r);
			}
			json_array_append_new(containers, c);
		}
	json_decref(allocs);
	json_object_set_new(out, "containers", containers);
	return out;
}

/* ---- removal --------------------------------------------------------------- */

typedef void (*network_removed_fn)(const char *name, const struct ct_error *e, void *data);

struct removal {
	struct apiserver *api;
	char *name;
	network_removed_fn done;
	void *data;
};

static void removal_finish(struct removal *r, const struct ct_error *e)
{
	r->done(r->name, e, r->data);
	free(r->name);
	free(r);
}

static void removal_stopped(void *data)
{
	struct removal *r = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = xasprintf("%s/networks/%s", r->api->paths.app_root, r->name);

	if (network_db_delete(r->api->db, r->name, &err) < 0) {
		removal_finish(r, &err);
		return;
	}
	ct_remove_tree(dir, NULL);
	log_info("deleted network %s", r->name);
	removal_finish(r, NULL);
}

static void removal_torn_down(json_t *body, int *fds, size_t nfds, const struct ct_error *e,
			      void *data)
{
	struct removal *r = data;
	_cleanup_free_ char *label = plugin_label(r->name);
	struct plugin_instance *inst = supervisor_find(r->api->supervisor, label);

	ct_close_fds(fds, nfds);
	if (e && !ct_error_is(e, CT_ERR_UNAVAILABLE)) {
		struct ct_error wrapped = CT_ERROR_INIT;
		ct_error_set(&wrapped, e->code, 0, "deleting network %s: %s", r->name,
			     ct_error_message(e));
		removal_finish(r, &wrapped);
		ct_error_clear(&wrapped);
		return;
	}
	if (e)
		log_warn("network %s: its plugin could not tear down the bridge and rules (%s); "
			 "deleting the network anyway",
			 r->name, ct_error_message(e));
	if (inst)
		supervisor_unload(r->api->supervisor, inst, removal_stopped, r);
	else
		removal_stopped(r);
}

static const struct async_call_handlers teardown_handlers = {.done = removal_torn_down};

static void network_remove(struct apiserver *api, json_t *net, network_removed_fn done, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct removal *r = xcalloc(1, sizeof(*r));

	r->api = api;
	r->name = xstrdup(json_string_value(json_object_get(net, "name")));
	r->done = done;
	r->data = data;
	struct plugin_instance *inst = networks_plugin(api, net, &err);
	if (!inst) {
		/* Nothing can tear the bridge down; the row still goes, as the user
		 * asked, with the reason in the log. */
		struct ct_error unavailable = CT_ERROR_INIT;
		ct_error_set(&unavailable, CT_ERR_UNAVAILABLE, 0, "%s", ct_error_message(&err));
		removal_torn_down(NULL, NULL, 0, &unavailable, r);
		ct_error_clear(&unavailable);
		return;
	}
	_cleanup_free_ char *peer = xasprintf("the plugin of network %s", r->name);
	_cleanup_json_ json_t *q = json_pack("{s:b}", "force", 0);
	async_call(api->loop, plugin_instance_socket(inst), peer, "bridge.teardown", q, NULL, 0,
		   &teardown_handlers, r);
}

/* ---- routes ------------------------------------------------------------------ */

/* The network a request's "name" names, or NULL after replying with the error. */
static const char *request_network(struct apiserver *api, struct ct_request *req, json_t **net)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *name = NULL;

	if (ct_json_get_string(ct_request_body(req), "name", true, &name, "request body", &err) <
		    0 ||
	    network_db_get(api->db, name, net, &err) < 0) {
		ct_request_fail(req, &err);
		return NULL;
	}
	return name;
}

static void route_create(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *body = ct_request_body(req), *labels = NULL, *v;
	const char *name = NULL, *subnet = NULL, *key;
	bool internal = false;

	if (ct_json_get_string(body, "name", true, &name, "request body", &err) < 0 ||
	    ct_json_get_string(body, "subnet", false, &subnet, "request body", &err) < 0 ||
	    ct_json_get_bool(body, "internal", false, &internal, "request body", &err) < 0 ||
	    ct_json_get_object(body, "labels", false, &labels, "request body", &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	json_object_foreach (labels, key, v)
		if (!json_is_string(v)) {
			ct_request_error(req, CT_ERR_INVALID_ARGUMENT,
					 "label %s: the value must be a string", key);
			return;
		}
	_cleanup_json_ json_t *net = network_new(api, name, subnet, internal, labels, &err);
	if (!net) {
		ct_request_fail(req, &err);
		return;
	}
	/* The plugin makes the bridge now, so a problem shows at create. */
	if (!networks_plugin(api, net, &err))
		log_warn("%s", ct_error_message(&err));
	ct_request_reply(req, describe(api, net), NULL, 0);
}

static void delete_done(const char *name, const struct ct_error *e, void *data)
{
	struct ct_request *req = data;

	if (e)
		ct_request_fail(req, e);
	else
		ct_request_reply(req, json_pack("{s:s}", "name", name), NULL, 0);
}

static void route_delete(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_json_ json_t *net = NULL;
	const char *name = request_network(api, req, &net);

	if (!name)
		return;
	if (strcmp(name, DEFAULT_NETWORK) == 0) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT,
				 "the default network can't be deleted (its subnet is the "
				 "network.subnet property)");
		return;
	}
	_cleanup_json_ json_t *users = containers_using(api, name);
	if (json_array_size(users) > 0) {
		_cleanup_free_ char *list = NULL;
		size_t i;
		json_t *u;
		json_array_foreach (users, i, u) {
			char *l = list ? xasprintf("%s, %s", list, json_string_value(u))
				       : xstrdup(json_string_value(u));
			free(list);
			list = l;
		}
		ct_request_error(req, CT_ERR_CONFLICT,
				 "network %s is used by container%s %s; delete %s first", name,
				 json_array_size(users) > 1 ? "s" : "", list,
				 json_array_size(users) > 1 ? "them" : "it");
		return;
	}
	network_remove(api, net, delete_done, req);
}

static void route_list(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *all = NULL;
	json_t *out = json_array(), *n;
	size_t i;

	if (network_db_list(api->db, &all, &err) < 0) {
		json_decref(out);
		ct_request_fail(req, &err);
		return;
	}
	json_array_foreach (all, i, n)
		json_array_append_new(out, describe(api, n));
	ct_request_reply(req, json_pack("{s:o}", "networks", out), NULL, 0);
}

static void route_inspect(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_json_ json_t *net = NULL;
	const char *name = request_network(api, req, &net);

	if (!name)
		return;
	ct_request_reply(req, describe(api, net), NULL, 0);
}

struct prune {
	struct ct_request *req;
	json_t *deleted;
	size_t pending;
};

static void prune_one(const char *name, const struct ct_error *e, void *data)
{
	struct prune *p = data;

	if (name && !e)
		json_array_append_new(p->deleted, json_string(name));
	else if (e)
		log_warn("network prune: %s", ct_error_message(e));
	if (--p->pending > 0)
		return;
	ct_request_reply(p->req, json_pack("{s:o}", "deleted", p->deleted), NULL, 0);
	free(p);
}

static void route_prune(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *all = NULL;
	json_t *n;
	size_t i;

	if (network_db_list(api->db, &all, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	struct prune *p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->deleted = json_array();
	p->pending = 1; /* ours, released below */
	json_array_foreach (all, i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		_cleanup_json_ json_t *users = containers_using(api, name);
		if (strcmp(name, DEFAULT_NETWORK) == 0 || json_array_size(users) > 0)
			continue;
		p->pending++;
		network_remove(api, n, prune_one, p);
	}
	prune_one(NULL, NULL, p);
}

static void domains_pushed(json_t *body, int *fds, size_t nfds, const struct ct_error *e,
			   void *data)
{
	ct_close_fds(fds, nfds);
	if (e)
		log_warn("telling a network plugin the DNS domains: %s", ct_error_message(e));
}

static const struct async_call_handlers domains_handlers = {.done = domains_pushed};

void networks_push_domains(struct apiserver *api)
{
	_cleanup_json_ json_t *all = NULL, *domains = networks_dns_domains(api);
	_cleanup_json_ json_t *q = json_pack("{s:O}", "domains", domains);
	json_t *n;
	size_t i;

	if (network_db_list(api->db, &all, NULL) < 0)
		return;
	json_array_foreach (all, i, n) {
		_cleanup_free_ char *label =
			plugin_label(json_string_value(json_object_get(n, "name")));
		struct plugin_instance *inst = supervisor_find(api->supervisor, label);
		if (!inst || plugin_instance_state(inst) != PLUGIN_RUNNING)
			continue;
		async_call(api->loop, plugin_instance_socket(inst), label, "bridge.domains", q, NULL,
			   0, &domains_handlers, NULL);
	}
}

static void default_removed(const char *name, const struct ct_error *e, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *subnet = apiserver_property(api, "network.subnet");

	if (e) {
		log_error("re-making the default network with subnet %s: %s", subnet,
			  ct_error_message(e));
		return;
	}
	_cleanup_json_ json_t *def = network_new(api, DEFAULT_NETWORK, subnet, false, NULL, &err);
	if (!def || !networks_plugin(api, def, &err))
		log_error("re-making the default network with subnet %s: %s", subnet,
			  ct_error_message(&err));
}

bool networks_apply_default_subnet(struct apiserver *api)
{
	_cleanup_json_ json_t *def = NULL, *all = NULL, *allocs = NULL;
	_cleanup_free_ char *subnet = apiserver_property(api, "network.subnet");
	struct ipnet wanted;
	json_t *n;
	size_t i;

	if (!subnet || network_db_get(api->db, DEFAULT_NETWORK, &def, NULL) < 0 ||
	    strcmp(json_string_value(json_object_get(def, "subnet")), subnet) == 0 ||
	    ipnet_parse(subnet, &wanted, NULL) < 0 || network_db_list(api->db, &all, NULL) < 0 ||
	    alloc_db_list(api->db, DEFAULT_NETWORK, NULL, &allocs, NULL) < 0)
		return false;
	const char *current = json_string_value(json_object_get(def, "subnet"));
	json_array_foreach (all, i, n) {
		struct ipnet other;
		const char *name = json_string_value(json_object_get(n, "name"));
		if (strcmp(name, DEFAULT_NETWORK) != 0 &&
		    ipnet_parse(json_string_value(json_object_get(n, "subnet")), &other, NULL) == 0 &&
		    ipnet_overlaps(&other, &wanted)) {
			log_warn("the default network keeps its subnet %s: network.subnet %s overlaps "
				 "network %s",
				 current, subnet, name);
			return false;
		}
	}
	if (json_array_size(allocs) > 0) {
		log_warn("the default network keeps its subnet %s while containers run on it; "
			 "network.subnet %s applies when none does (at the next start of the API "
			 "server, or the next `property set`)",
			 current, subnet);
		return false;
	}
	log_info("the default network moves from %s to %s (network.subnet)", current, subnet);
	network_remove(api, def, default_removed, api);
	return true;
}

void networks_boot(struct apiserver *api)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *def = NULL, *all = NULL;
	_cleanup_free_ char *subnet = apiserver_property(api, "network.subnet");
	json_t *n;
	size_t i;

	if (network_db_get(api->db, DEFAULT_NETWORK, &def, &err) < 0) {
		ct_error_clear(&err);
		def = network_new(api, DEFAULT_NETWORK, subnet, false, NULL, &err);
		if (!def) {
			log_error("creating the default network (%s): %s", subnet,
				  ct_error_message(&err));
			ct_error_clear(&err);
		}
	}
	bool remaking = networks_apply_default_subnet(api);
	if (network_db_list(api->db, &all, &err) < 0) {
		log_error("%s", ct_error_message(&err));
		return;
	}
	json_array_foreach (all, i, n) {
		if (remaking && strcmp(json_string_value(json_object_get(n, "name")),
				       DEFAULT_NETWORK) == 0)
			continue;
		if (!networks_plugin(api, n, &err)) {
			log_error("%s", ct_error_message(&err));
			ct_error_clear(&err);
		}
	}
}

void routes_network_register(struct apiserver *api)
{
	ct_server_route(api->server, "network.create", route_create, api);
	ct_server_route(api->server, "network.delete", route_delete, api);
	ct_server_route(api->server, "network.list", route_list, api);
	ct_server_route(api->server, "network.inspect", route_inspect, api);
	ct_server_route(api->server, "network.prune", route_prune, api);
}
