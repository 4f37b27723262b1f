#include "network_attach.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "async_client.h"
#include "cleanup.h"
#include "frame.h"
#include "ipnet.h"
#include "json_util.h"
#include "log.h"
#include "network_db.h"
#include "networks.h"
#include "publish.h"
#include "supervisor.h"
#include "util.h"

/* ---- options ------------------------------------------------------------- */

bool netattach_wanted(json_t *options)
{
	json_t *nets = json_object_get(options, "networks");
	const char *first = json_string_value(json_array_get(nets, 0));

	return first && strcmp(first, "none") != 0 && strcmp(first, "host") != 0;
}

static int check_string_array(json_t *options, const char *key, struct ct_error *err)
{
	_cleanup_strv_ char **v = NULL;

	return ct_json_get_string_array(options, key, false, &v, "request body", err);
}

/* --publish-socket HOST:CONTAINER, both absolute: the runtime helper listens on
 * HOST and connects each client to CONTAINER inside the container. Kept in
 * "publishSockets" as [{host, container}]. */
static int check_publish_sockets(json_t *options, struct ct_error *err)
{
	json_t *in = json_object_get(options, "publishSockets"), *v;
	json_t *out = json_array();
	size_t i;

	json_array_foreach (in, i, v) {
		const char *text = json_string_value(v);
		const char *colon = text ? strchr(text, ':') : NULL;
		if (!text && json_is_object(v)) {
			/* Already normalised (a restart reads its own options). */
			json_array_append(out, v);
			continue;
		}
		if (!colon || text[0] != '/' || colon[1] != '/' || strchr(colon + 1, ':')) {
			json_decref(out);
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "--publish-socket %s: expected HOST_PATH:CONTAINER_PATH, "
			    "both absolute",
			    text ? text : "?");
		}
		_cleanup_free_ char *host = xstrndup(text, colon - text);
		if (strlen(host) >= 108) {
			json_decref(out);
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "--publish-socket %s: the host path is longer than a Unix "
			    "socket path may be (107 bytes)",
			    text);
		}
		_cleanup_free_ char *dir = xstrdup(host);
		*strrchr(dir, '/') = '\0';
		struct stat st;
		if (stat(*dir ? dir : "/", &st) < 0 || !S_ISDIR(st.st_mode)) {
			json_decref(out);
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "--publish-socket %s: the folder %s does not exist on the "
			    "host; create it first",
			    text, *dir ? dir : "/");
		}
		json_array_append_new(
		    out, json_pack("{s:s, s:s}", "host", host, "container", colon + 1));
	}
	json_object_set_new(options, "publishSockets", out);
	return 0;
}

int netattach_check_options(struct apiserver *api, json_t *options, struct ct_error *err)
{
	json_t *nets = NULL, *publish = NULL, *socks = NULL, *v;
	const char *s = NULL;
	size_t i;

	if (ct_json_get_array(options, "networks", false, &nets, "request body", err) < 0 ||
	    ct_json_get_array(options, "publish", false, &publish, "request body", err) < 0 ||
	    check_string_array(options, "networks", err) < 0 ||
	    check_string_array(options, "publish", err) < 0 ||
	    ct_json_get_array(options, "publishSockets", false, &socks, "request body", err) < 0 ||
	    check_string_array(options, "dns", err) < 0 ||
	    check_string_array(options, "dnsSearch", err) < 0 ||
	    check_string_array(options, "dnsOptions", err) < 0 ||
	    ct_json_get_string(options, "dnsDomain", false, &s, "request body", err) < 0)
		return -1;
	/* The older single-string form. */
	const char *legacy = json_string_value(json_object_get(options, "network"));
	if (!nets || json_array_size(nets) == 0) {
		nets = json_pack("[s]", legacy ?: DEFAULT_NETWORK);
		json_object_set_new(options, "networks", nets);
	}
	if (json_array_size(nets) > 9)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "a container can be on at most 9 networks");
	json_array_foreach (nets, i, v) {
		const char *name = json_string_value(v);
		if (strcmp(name, "none") == 0 || strcmp(name, "host") == 0) {
			if (json_array_size(nets) > 1)
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "--network %s can't be combined with other "
						    "networks",
						    name);
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(json_string_value(json_array_get(nets, k)), name) == 0)
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "network %s is given twice", name);
		_cleanup_json_ json_t *net = NULL;
		if (network_db_get(api->db, name, &net, err) < 0)
			return -1;
		if (i == 0 && json_is_true(json_object_get(net, "internal")) &&
		    json_array_size(publish) > 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "network %s is internal: it has no published ports "
					    "(put the container on another network first)",
					    name);
	}
	const char *first = json_string_value(json_array_get(nets, 0));
	json_object_set_new(options, "network",
			    json_string(strcmp(first, "none") == 0 || strcmp(first, "host") == 0
					    ? first
					    : "bridge"));
	if (json_array_size(publish) > 0 && !netattach_wanted(options))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "ports can't be published with --network %s (%s)", first,
				    strcmp(first, "host") == 0
					? "the container already uses the host's ports"
					: "the container has no network");
	json_t *ports = json_array();
	struct publish_spec *specs = xcalloc(json_array_size(publish) + 1, sizeof(*specs));
	json_array_foreach (publish, i, v) {
		if (publish_parse(json_string_value(v), &specs[i], err) < 0) {
			json_decref(ports);
			free(specs);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (publish_collides(&specs[k], &specs[i])) {
				json_decref(ports);
				free(specs);
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "-p %s and -p %s publish the same host port",
						    json_string_value(json_array_get(publish, k)),
						    json_string_value(v));
			}
		json_array_append_new(ports, publish_to_json(&specs[i]));
	}
	free(specs);
	json_object_set_new(options, "ports", ports);
	return check_publish_sockets(options, err);
}

/* ---- the namespace ---------------------------------------------------------- */

struct netns_make {
	int fd;
	int err;
};

/* unshare(CLONE_NEWNET) changes only the calling thread, which then ends: the
 * API server's own threads never leave the host's namespace. */
static void *netns_thread(void *data)
{
	struct netns_make *m = data;

	if (unshare(CLONE_NEWNET) < 0) {
		m->err = errno;
		return NULL;
	}
	m->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (m->fd < 0)
		m->err = errno;
	return NULL;
}

static int netns_new(struct ct_error *err)
{
	struct netns_make m = {.fd = -1};
	pthread_t t;
	int rc = pthread_create(&t, NULL, netns_thread, &m);

	if (rc != 0) {
		errno = rc;
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "creating a thread for a network namespace");
	}
	pthread_join(t, NULL);
	if (m.fd < 0) {
		errno = m.err;
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "creating the container's network namespace");
	}
	return m.fd;
}

/* ---- addresses ---------------------------------------------------------------- */

/* The lowest free host address after the gateway. */
static int allocate(struct apiserver *api, json_t *net, uint32_t *out, struct ct_error *err)
{
	struct ipnet subnet;
	_cleanup_json_ json_t *used = NULL;
	json_t *a;
	size_t i;

	if (ipnet_parse(json_string_value(json_object_get(net, "subnet")), &subnet, err) < 0 ||
	    alloc_db_list(api->db, json_string_value(json_object_get(net, "name")), NULL, &used,
			  err) < 0)
		return -1;
	uint32_t hosts = ipnet_host_count(&subnet);
	_cleanup_free_ unsigned char *taken = xcalloc(hosts / 8 + 1, 1);
	json_array_foreach (used, i, a) {
		uint32_t addr;
		if (ipnet_parse_addr(json_string_value(json_object_get(a, "address")), &addr,
				     NULL) == 0 &&
		    ipnet_contains(&subnet, addr) && addr > subnet.network &&
		    addr - subnet.network - 1 < hosts)
			taken[(addr - subnet.network - 1) / 8] |=
			    1 << ((addr - subnet.network - 1) % 8);
	}
	for (uint32_t k = 1; k < hosts; k++) /* k = 0 is the gateway */
		if (!(taken[k / 8] & (1 << (k % 8)))) {
			*out = subnet.network + 1 + k;
			return 0;
		}
	return ct_error_set(err, CT_ERR_CONFLICT, 0,
			    "network %s has no free address left (%u in %s); delete containers "
			    "or create a network with a larger --subnet",
			    json_string_value(json_object_get(net, "name")), hosts,
			    json_string_value(json_object_get(net, "subnet")));
}

static void mac_of(uint32_t addr, char buf[18])
{
	/* docker's scheme: 02:42 then the IPv4 address (unique while the IP is). */
	snprintf(buf, 18, "02:42:%02x:%02x:%02x:%02x", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
}

/* ---- attach ----------------------------------------------------------------------- */

struct attach {
	struct apiserver *api;
	char *id;
	char *name;
	json_t *options;
	int netns_fd;
	size_t next;   /* index into options.networks */
	char *current; /* the network being attached */
	netattach_done_fn done;
	void *data;
};

static void attach_next(struct attach *a);

static void attach_finish(struct attach *a, const struct ct_error *e)
{
	if (e) {
		netattach_release(a->api, a->id);
		if (a->netns_fd >= 0)
			close(a->netns_fd);
		a->netns_fd = -1;
	}
	a->done(a->netns_fd, e, a->data);
	json_decref(a->options);
	free(a->id);
	free(a->name);
	free(a->current);
	free(a);
}

static void attach_replied(json_t *body, int *fds, size_t nfds, const struct ct_error *e,
			   void *data)
{
	struct attach *a = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	ct_close_fds(fds, nfds);
	if (e) {
		/* This network's row goes too; the plugin undid its part. */
		alloc_db_delete(a->api->db, a->id, a->current, NULL);
		/* The plugin's message names the network and the step. */
		ct_error_set(&err, e->code, e->errnum, "%s", ct_error_message(e));
		attach_finish(a, &err);
		return;
	}
	json_t *ports = json_object_get(body, "ports");
	if (json_is_array(ports) && json_array_size(ports) > 0 &&
	    alloc_db_set_ports(a->api->db, a->id, a->current, ports, &err) < 0) {
		attach_finish(a, &err);
		return;
	}
	attach_next(a);
}

static const struct async_call_handlers attach_handlers = {.done = attach_replied};

static void attach_next(struct attach *a)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *nets = json_object_get(a->options, "networks");

	if (a->next >= json_array_size(nets)) {
		attach_finish(a, NULL);
		return;
	}
	size_t index = a->next++;
	const char *name = json_string_value(json_array_get(nets, index));
	free(a->current);
	a->current = xstrdup(name);
	_cleanup_json_ json_t *net = NULL;
	struct ipnet subnet;
	uint32_t addr = 0;
	if (network_db_get(a->api->db, name, &net, &err) < 0 ||
	    ipnet_parse(json_string_value(json_object_get(net, "subnet")), &subnet, &err) < 0 ||
	    allocate(a->api, net, &addr, &err) < 0) {
		attach_finish(a, &err);
		return;
	}
	struct plugin_instance *inst = networks_plugin(a->api, net, &err);
	if (!inst) {
		attach_finish(a, &err);
		return;
	}
	char address[16], mac[18], iface[16], host_iface[16];
	ipnet_format_addr(addr, address);
	mac_of(addr, mac);
	snprintf(iface, sizeof(iface), "eth%zu", index);
	/* ≤ 15 bytes (IFNAMSIZ): "vc", 12 hex digits of the id, the index. */
	snprintf(host_iface, sizeof(host_iface), "vc%.12s%zu", a->id, index);
	_cleanup_json_ json_t *row =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "network", name, "address", address,
		      "containerId", a->id, "interface", iface, "hostInterface", host_iface, "mac",
		      mac, "ports");
	if (alloc_db_insert(a->api->db, row, &err) < 0) {
		attach_finish(a, &err);
		return;
	}
	_cleanup_free_ char *short_id = xstrndup(a->id, 12);
	json_t *names = json_pack("[s]", a->name);
	if (strcmp(a->name, short_id) != 0)
		json_array_append_new(names, json_string(short_id));
	const char *hostname = json_string_value(json_object_get(a->options, "hostname"));
	if (hostname && strcmp(hostname, a->name) != 0)
		json_array_append_new(names, json_string(hostname));
	/* Ports are published on the first network, as docker does. */
	json_t *ports = index == 0 ? json_object_get(a->options, "ports") : NULL;
	_cleanup_json_ json_t *q = json_pack(
	    "{s:s, s:o, s:s, s:s, s:s, s:i, s:O, s:s, s:b, s:o}", "container", a->id, "names",
	    names, "interface", iface, "hostInterface", host_iface, "address", address,
	    "prefixLength", (int)subnet.prefix, "gateway", json_object_get(net, "gateway"), "mac",
	    mac, "defaultRoute", index == 0, "ports", ports ? json_incref(ports) : json_array());
	int fd = fcntl(a->netns_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		ct_error_errno(&err, CT_ERR_INTERNAL, "duplicating the network namespace fd");
		alloc_db_delete(a->api->db, a->id, name, NULL);
		attach_finish(a, &err);
		return;
	}
	_cleanup_free_ char *peer = xasprintf("the plugin of network %s", name);
	async_call(a->api->loop, plugin_instance_socket(inst), peer, "bridge.attach", q, &fd, 1,
		   &attach_handlers, a);
}

void netattach_start(struct apiserver *api, const char *id, const char *name, json_t *options,
		     netattach_done_fn done, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (!netattach_wanted(options)) {
		done(-1, NULL, data);
		return;
	}
	/* A restart: whatever the last run held goes first. */
	netattach_release(api, id);
	int fd = netns_new(&err);
	if (fd < 0) {
		done(-1, &err, data);
		return;
	}
	struct attach *a = xcalloc(1, sizeof(*a));
	a->api = api;
	a->id = xstrdup(id);
	a->name = xstrdup(name);
	a->options = json_incref(options);
	a->netns_fd = fd;
	a->done = done;
	a->data = data;
	attach_next(a);
}

/* ---- release ---------------------------------------------------------------------- */

static void detach_replied(json_t *body, int *fds, size_t nfds, const struct ct_error *e,
			   void *data)
{
	char *what = data;

	ct_close_fds(fds, nfds);
	if (e)
		log_warn("%s: %s", what, ct_error_message(e));
	free(what);
}

static const struct async_call_handlers detach_handlers = {.done = detach_replied};

void netattach_release(struct apiserver *api, const char *id)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *allocs = NULL;
	json_t *a;
	size_t i;

	if (alloc_db_list(api->db, NULL, id, &allocs, &err) < 0) {
		log_warn("releasing the addresses of %.12s: %s", id, ct_error_message(&err));
		return;
	}
	json_array_foreach (allocs, i, a) {
		const char *network = json_string_value(json_object_get(a, "network"));
		_cleanup_json_ json_t *net = NULL;
		if (network_db_get(api->db, network, &net, &err) < 0) {
			ct_error_clear(&err);
			continue;
		}
		struct plugin_instance *inst = networks_plugin(api, net, &err);
		if (!inst) {
			log_warn("releasing %s on network %s: %s",
				 json_string_value(json_object_get(a, "address")), network,
				 ct_error_message(&err));
			ct_error_clear(&err);
			continue;
		}
		_cleanup_json_ json_t *q = json_pack("{s:s}", "container", id);
		char *what = xasprintf("detaching container %.12s from network %s", id, network);
		async_call(api->loop, plugin_instance_socket(inst), "a network plugin",
			   "bridge.detach", q, NULL, 0, &detach_handlers, what);
	}
	if (json_array_size(allocs) > 0) {
		if (alloc_db_delete(api->db, id, NULL, &err) < 0)
			log_warn("%s", ct_error_message(&err));
		else
			log_debug("released the addresses of container %.12s", id);
	}
}

struct exit_watch {
	struct apiserver *api;
	char id[65];
	int pidfd;
	struct ct_watch *watch;
	struct exit_watch *next;
};
static struct exit_watch *exit_watches;

static void exit_watch_remove(struct apiserver *api, const char *id)
{
	for (struct exit_watch **pp = &exit_watches; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			struct exit_watch *w = *pp;
			*pp = w->next;
			ct_loop_unwatch(api->loop, w->watch);
			close(w->pidfd);
			free(w);
			return;
		}
}

static void helper_exited(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct exit_watch *w = data;
	struct apiserver *api = w->api;
	char id[65];

	snprintf(id, sizeof(id), "%s", w->id);
	exit_watch_remove(api, id);
	netattach_release(api, id);
	containers_exited(api, id);
}

void netattach_watch(struct apiserver *api, const char *id, pid_t helper_pid)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	exit_watch_remove(api, id);
	int fd = (int)syscall(SYS_pidfd_open, helper_pid, 0);
	if (fd < 0) {
		/* Gone already. */
		netattach_release(api, id);
		containers_exited(api, id);
		return;
	}
	struct exit_watch *w = xcalloc(1, sizeof(*w));
	w->api = api;
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->pidfd = fd;
	w->watch = ct_loop_watch(api->loop, fd, EPOLLIN, helper_exited, w, &err);
	if (!w->watch) {
		log_warn("watching the helper of %.12s: %s", id, ct_error_message(&err));
		close(fd);
		free(w);
		return;
	}
	w->next = exit_watches;
	exit_watches = w;
}

/* A plugin's attachments that state.db no longer has (the rows went while the
 * plugin was down, at `system stop` say) are detached, or their port
 * reservations and rules would outlive their containers. */
struct reconcile {
	struct apiserver *api;
	char *network;
};

static void status_replied(json_t *body, int *fds, size_t nfds, const struct ct_error *e,
			   void *data)
{
	struct reconcile *r = data;
	json_t *att;
	size_t i;

	ct_close_fds(fds, nfds);
	if (e) {
		log_warn("checking the attachments of network %s: %s", r->network,
			 ct_error_message(e));
	} else {
		json_array_foreach (json_object_get(body, "attachments"), i, att) {
			const char *id = json_string_value(json_object_get(att, "container"));
			_cleanup_json_ json_t *rows = NULL;
			if (!id || alloc_db_list(r->api->db, r->network, id, &rows, NULL) < 0 ||
			    json_array_size(rows) > 0)
				continue;
			_cleanup_free_ char *label = xasprintf("%s.%s", NETWORK_PLUGIN, r->network);
			struct plugin_instance *inst = supervisor_find(r->api->supervisor, label);
			if (!inst)
				continue;
			log_info("network %s: detaching container %.12s, which no longer holds an "
				 "address there",
				 r->network, id);
			_cleanup_json_ json_t *q = json_pack("{s:s}", "container", id);
			async_call(
			    r->api->loop, plugin_instance_socket(inst), label, "bridge.detach", q,
			    NULL, 0, &detach_handlers,
			    xasprintf("detaching stale container %.12s from %s", id, r->network));
		}
	}
	free(r->network);
	free(r);
}

static const struct async_call_handlers status_handlers = {.done = status_replied};

static void reconcile_plugins(struct apiserver *api)
{
	_cleanup_json_ json_t *all = NULL;
	json_t *n;
	size_t i;

	if (network_db_list(api->db, &all, NULL) < 0)
		return;
	json_array_foreach (all, i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		_cleanup_free_ char *label = xasprintf("%s.%s", NETWORK_PLUGIN, name);
		struct plugin_instance *inst = supervisor_find(api->supervisor, label);
		if (!inst || plugin_instance_state(inst) != PLUGIN_RUNNING)
			continue;
		struct reconcile *r = xcalloc(1, sizeof(*r));
		r->api = api;
		r->network = xstrdup(name);
		async_call(api->loop, plugin_instance_socket(inst), label, "bridge.status", NULL,
			   NULL, 0, &status_handlers, r);
	}
}

void netattach_boot(struct apiserver *api,
		    bool (*running)(struct apiserver *api, const char *id, pid_t *helper))
{
	_cleanup_json_ json_t *allocs = NULL;
	json_t *a;
	size_t i;
	const char *last = "";

	if (alloc_db_list(api->db, NULL, NULL, &allocs, NULL) < 0)
		return;
	json_array_foreach (allocs, i, a) {
		const char *id = json_string_value(json_object_get(a, "containerId"));
		pid_t helper = 0;
		if (strcmp(id, last) == 0)
			continue;
		last = id;
		if (running(api, id, &helper))
			netattach_watch(api, id, helper);
		else
			netattach_release(api, id);
	}
	reconcile_plugins(api);
}

json_t *netattach_describe(struct apiserver *api, const char *id)
{
	_cleanup_json_ json_t *allocs = NULL;
	json_t *networks = json_array(), *ports = json_array(), *a, *p;
	size_t i, k;

	if (alloc_db_list(api->db, NULL, id, &allocs, NULL) == 0)
		json_array_foreach (allocs, i, a) {
			const char *network = json_string_value(json_object_get(a, "network"));
			_cleanup_json_ json_t *net = NULL;
			struct ipnet subnet = {0};
			if (network_db_get(api->db, network, &net, NULL) < 0)
				continue;
			ipnet_parse(json_string_value(json_object_get(net, "subnet")), &subnet,
				    NULL);
			_cleanup_free_ char *cidr =
			    xasprintf("%s/%u", json_string_value(json_object_get(a, "address")),
				      subnet.prefix);
			json_array_append_new(
			    networks,
			    json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "network", network,
				      "address", cidr, "gateway", json_object_get(net, "gateway"),
				      "mac", json_object_get(a, "mac"), "interface",
				      json_object_get(a, "interface"), "hostInterface",
				      json_object_get(a, "hostInterface")));
			json_array_foreach (json_object_get(a, "ports"), k, p)
				json_array_append(ports, p);
		}
	return json_pack("{s:o, s:o}", "networks", networks, "ports", ports);
}
