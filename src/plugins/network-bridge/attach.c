/* bridge.attach and bridge.detach: putting a container on the network and taking it off.
 *
 * Attaching goes in an order where each step can be undone: reserve the host ports (the
 * step most likely to fail, and the cheapest to undo), plumb the veth, publish the ports,
 * then record the attachment. A failure undoes the earlier steps and says which one
 * failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "netbridge.h"
#include "nft.h"
#include "util.h"

#define WHAT "bridge.attach request"

/* What bridge.attach asks for beyond the attachment itself. */
struct attach_params {
	const char *interface;
	unsigned int prefixlen;
	struct in_addr gateway;
	bool default_route;
	uint8_t mac[6];
	unsigned int mtu;
};

static void remove_stale_veth(struct netbridge *nb, struct nl_sock *nl, const char *name);

static int parse_address(struct netbridge *nb, json_t *body, struct nb_attachment *att,
			 struct attach_params *ap, struct ct_error *err)
{
	const char *address = NULL, *gateway = NULL;
	int64_t prefixlen = nb->prefixlen;
	uint32_t mask = htonl(~0u << (32 - nb->prefixlen));

	if (ct_json_get_string(body, "address", true, &address, WHAT, err) < 0 ||
	    ct_json_get_int(body, "prefixLength", false, &prefixlen, WHAT, err) < 0 ||
	    ct_json_get_string(body, "gateway", false, &gateway, WHAT, err) < 0)
		return -1;
	if (inet_pton(AF_INET, address, &att->addr) != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "address \"%s\": expected an IPv4 address", address);
	uint32_t host = ntohl(att->addr.s_addr & ~mask);
	if ((att->addr.s_addr & mask) != nb->subnet_addr.s_addr || host == 0 ||
	    host == ntohl(~mask) || att->addr.s_addr == nb->gateway.s_addr)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "address %s is not a free host address of network %s (subnet "
				    "%s, gateway %s)",
				    address, nb->network, nb->subnet, nb->gateway_text);
	inet_ntop(AF_INET, &att->addr, att->address, sizeof(att->address));
	if (prefixlen < 1 || prefixlen > 32)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "prefixLength %lld: expected 1 to 32", (long long)prefixlen);
	ap->prefixlen = (unsigned int)prefixlen;
	ap->gateway = nb->gateway;
	if (gateway && inet_pton(AF_INET, gateway, &ap->gateway) != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "gateway \"%s\": expected an IPv4 address", gateway);
	return 0;
}

static int parse_link(struct netbridge *nb, json_t *body, struct nb_attachment *att,
		      struct attach_params *ap, struct ct_error *err)
{
	const char *host_iface = NULL, *mac = NULL;
	int64_t mtu = nb->mtu;

	ap->interface = "eth0";
	ap->default_route = true;
	if (ct_json_get_string(body, "interface", false, &ap->interface, WHAT, err) < 0 ||
	    ct_json_get_string(body, "hostInterface", true, &host_iface, WHAT, err) < 0 ||
	    ct_json_get_string(body, "mac", false, &mac, WHAT, err) < 0 ||
	    ct_json_get_int(body, "mtu", false, &mtu, WHAT, err) < 0 ||
	    ct_json_get_bool(body, "defaultRoute", false, &ap->default_route, WHAT, err) < 0)
		return -1;
	if (!nl_ifname_valid(ap->interface))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "interface \"%s\": expected an interface name of 1 to %d "
				    "characters without '/', ':' or spaces",
				    ap->interface, IFNAMSIZ - 1);
	if (!nl_ifname_valid(host_iface))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "hostInterface \"%s\": expected an interface name of 1 to %d "
				    "characters without '/', ':' or spaces",
				    host_iface, IFNAMSIZ - 1);
	snprintf(att->host_iface, sizeof(att->host_iface), "%s", host_iface);
	if (mtu != 0 && (mtu < 68 || mtu > 65535))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "mtu %lld: expected 68 to 65535", (long long)mtu);
	ap->mtu = (unsigned int)mtu;
	if (!mac)
		nl_mac_from_ipv4(&att->addr, ap->mac);
	else if (nl_mac_parse(mac, ap->mac, err) < 0)
		return ct_error_prefix(err, "mac");
	else if (ap->mac[0] & 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "mac %s is a multicast address; an interface needs a unicast "
				    "one (first byte even, like 02:…)",
				    mac);
	nl_mac_format(ap->mac, att->mac);
	return 0;
}

static int parse_request(struct netbridge *nb, json_t *body, struct nb_attachment **out,
			 struct attach_params *ap, struct ct_error *err)
{
	_cleanup_attachment_ struct nb_attachment *att = xcalloc(1, sizeof(*att));
	const char *container = NULL;
	json_t *ports = NULL;

	if (ct_json_get_string(body, "container", true, &container, WHAT, err) < 0)
		return -1;
	if (!*container)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "container: an empty id");
	att->container = xstrdup(container);
	if (ct_json_get_string_array(body, "names", false, &att->names, WHAT, err) < 0)
		return -1;
	if (!att->names)
		att->names = xcalloc(1, sizeof(char *));
	for (char **n = att->names; *n; n++)
		if (!nb_name_valid(*n))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "name \"%s\": a DNS name needs labels of 1 to 63 "
					    "letters, digits, '-' or '_', separated by dots",
					    *n);
	if (parse_address(nb, body, att, ap, err) < 0 || parse_link(nb, body, att, ap, err) < 0 ||
	    ct_json_get_array(body, "ports", false, &ports, WHAT, err) < 0 ||
	    nb_ports_parse(ports, &att->ports, &att->n_ports, false, err) < 0)
		return -1;
	if (nb->internal && att->n_ports > 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "network %s is internal (no route to or from the host's "
				    "network): it can't publish ports; use another network",
				    nb->network);
	*out = move_ptr(att);
	return 0;
}

/* Another container holding what this one asks for is the caller's mistake. */
static int check_conflicts(struct netbridge *nb, const struct nb_attachment *att,
			   struct ct_error *err)
{
	for (const struct nb_attachment *o = nb->attachments; o; o = o->next) {
		if (strcmp(o->container, att->container) == 0)
			continue;
		if (o->addr.s_addr == att->addr.s_addr)
			return ct_error_set(err, CT_ERR_CONFLICT, 0,
					    "address %s is already used by container %s on network "
					    "%s",
					    att->address, o->container, nb->network);
		if (strcmp(o->host_iface, att->host_iface) == 0)
			return ct_error_set(err, CT_ERR_CONFLICT, 0,
					    "host interface %s already belongs to container %s",
					    att->host_iface, o->container);
	}
	return 0;
}

static int check_netns_fd(struct ct_request *req, int *out, struct ct_error *err)
{
	int fd, type;

	if (ct_request_nfds(req) != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "bridge.attach needs exactly one descriptor, the container's "
				    "network namespace; got %zu",
				    ct_request_nfds(req));
	fd = ct_request_take_fd(req, 0);
	*out = fd;
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0 || type != CLONE_NEWNET)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the descriptor passed to bridge.attach is not a network "
				    "namespace (open /proc/PID/ns/net)");
	return 0;
}

static int reserve_ports(struct nb_attachment *att, struct ct_error *err)
{
	for (size_t i = 0; i < att->n_ports; i++)
		if (nb_port_reserve(&att->ports[i], err) < 0)
			return -1; /* the caller's cleanup releases the others */
	return 0;
}

/* The veth: host end on the bridge, container end configured inside its namespace. */
static int plumb(struct netbridge *nb, struct nb_attachment *att, const struct attach_params *ap,
		 int netns_fd, struct ct_error *err)
{
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;
	struct nl_iface_config cfg = {
	    .peer_name = ap->interface,
	    .family = AF_INET,
	    .addr.v4 = att->addr,
	    .prefixlen = ap->prefixlen,
	    /* An internal network has no way out: no default route through it. */
	    .has_gateway = ap->default_route && !nb->internal,
	    .gateway.v4 = ap->gateway,
	    .has_mac = true,
	    .mtu = ap->mtu,
	};

	memcpy(cfg.mac, ap->mac, sizeof(cfg.mac));
	if (nl_sock_open(&nl, err) < 0)
		return -1;
	/* The container's end is born in its namespace under its final name. */
	remove_stale_veth(nb, nl, att->host_iface);
	if (nl_veth_create(nl, att->host_iface, ap->interface, netns_fd, ap->mtu, err) < 0)
		return ct_error_prefix(err, "creating the veth pair %s/%s", att->host_iface,
				       ap->interface);
	if (nl_link_set_master(nl, att->host_iface, nb->bridge, err) < 0 ||
	    nl_link_set_hairpin(nl, att->host_iface, true, err) < 0 ||
	    nl_link_set_up(nl, att->host_iface, true, err) < 0 ||
	    nl_iface_configure(netns_fd, &cfg, err) < 0) {
		_cleanup_error_ struct ct_error ignored = CT_ERROR_INIT;
		nl_link_delete(nl, att->host_iface, &ignored);
		return -1;
	}
	return 0;
}

static int publish_ports(struct netbridge *nb, struct nb_attachment *att, struct ct_error *err)
{
	for (size_t i = 0; i < att->n_ports; i++)
		if (nb_port_publish(nb, &att->ports[i], att->address, err) < 0)
			return -1;
	return 0;
}

/* A detached container's host veth is removed a moment later, not while the detach
 * waits: the container has exited, and when its network namespace is destroyed the
 * kernel removes the pair by itself. Deleting it first, while that destruction is
 * under way, took 10-20 ms under the RTNL lock (synchronize_net), and every attach
 * queued behind it (measured: `run --rm` on the default network 50 ms instead of 30).
 * The timer catches a veth whose namespace someone else still holds. */
#define VETH_REAP_DELAY_MS 2000

struct nb_veth_reap {
	struct netbridge *nb;
	char name[IFNAMSIZ];
	struct ct_timer *timer;
	struct nb_veth_reap *next;
};

static bool host_iface_in_use(const struct netbridge *nb, const char *name)
{
	for (const struct nb_attachment *a = nb->attachments; a; a = a->next)
		if (strcmp(a->host_iface, name) == 0)
			return true;
	return false;
}

static void reap_remove(struct netbridge *nb, struct nb_veth_reap *r)
{
	for (struct nb_veth_reap **pp = &nb->reaps; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
}

static void reap_due(struct ct_loop *loop, void *data)
{
	struct nb_veth_reap *r = data;
	struct netbridge *nb = r->nb;
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	/* A restarted container may own the name again. */
	if (!host_iface_in_use(nb, r->name) && nl_sock_open(&nl, &err) == 0 &&
	    nl_link_delete(nl, r->name, &err) == 0)
		log_info("network %s: removed %s, left behind by a detached container",
			 nb->network, r->name);
	else if (ct_error_message(&err)[0] && !ct_error_is(&err, CT_ERR_NOT_FOUND))
		log_warn("network %s: removing %s: %s", nb->network, r->name,
			 ct_error_message(&err));
	reap_remove(nb, r);
}

static void reap_later(struct netbridge *nb, const char *name)
{
	struct nb_veth_reap *r = xcalloc(1, sizeof(*r));

	r->nb = nb;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->timer = ct_loop_timer(nb->svc->loop, VETH_REAP_DELAY_MS, reap_due, r);
	if (!r->timer) {
		free(r);
		return;
	}
	r->next = nb->reaps;
	nb->reaps = r;
}

void nb_reaps_now(struct netbridge *nb)
{
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;

	if (nl_sock_open(&nl, NULL) < 0)
		nl = NULL;
	while (nb->reaps) {
		struct nb_veth_reap *r = nb->reaps;
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		nb->reaps = r->next;
		ct_loop_timer_cancel(nb->svc->loop, r->timer);
		if (nl && !host_iface_in_use(nb, r->name))
			nl_link_delete(nl, r->name, &err);
		free(r);
	}
}

void nb_reaps_free(struct netbridge *nb)
{
	while (nb->reaps) {
		struct nb_veth_reap *r = nb->reaps;
		nb->reaps = r->next;
		free(r);
	}
}

/* A veth of that name left by the container's previous run (its removal still
 * pending) goes now: the new pair needs the name. */
static void remove_stale_veth(struct netbridge *nb, struct nl_sock *nl, const char *name)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (host_iface_in_use(nb, name))
		return;
	if (nl_link_delete(nl, name, &err) == 0)
		log_info("network %s: removed %s, left by an earlier run", nb->network, name);
}

/* Removes what the kernel holds for att: rules (by handle, else every rule to its
 * address); the veth later (reap_later). Stops at the first failure so a retry can
 * finish the job. */
static int unplumb(struct netbridge *nb, struct nb_attachment *att, struct ct_error *err)
{
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;
	bool rules_failed = false;

	for (size_t i = 0; i < att->n_ports; i++)
		if (nb_port_unpublish(nb, &att->ports[i], err) < 0) {
			log_warn("container %s: %s; removing every rule to %s instead",
				 att->container, ct_error_message(err), att->address);
			ct_error_clear(err);
			rules_failed = true;
		}
	if (rules_failed) {
		if (nft_port_remove_container(nb->network, att->address, NULL, err) < 0)
			return ct_error_prefix(err, "removing the published ports of %s",
					       att->address);
		for (size_t i = 0; i < att->n_ports; i++)
			att->ports[i].handle = 0;
	}
	reap_later(nb, att->host_iface);
	return 0;
}

int nb_detach(struct netbridge *nb, struct nb_attachment *att, struct ct_error *err)
{
	_cleanup_error_ struct ct_error save_err = CT_ERROR_INIT;

	if (unplumb(nb, att, err) < 0)
		return ct_error_prefix(err, "detaching container %s", att->container);
	nb_unlink(nb, att);
	log_info("network %s: detached container %s (%s)", nb->network, att->container,
		 att->address);
	nb_attachment_free(att);
	if (nb_state_save(nb, &save_err) < 0)
		log_error("%s", ct_error_message(&save_err));
	return 0;
}

static json_t *attach_reply(const struct nb_attachment *att)
{
	json_t *ports = json_array();

	for (size_t i = 0; i < att->n_ports; i++)
		json_array_append_new(ports, nb_port_json(&att->ports[i], false));
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "container", att->container, "address",
			 att->address, "hostInterface", att->host_iface, "mac", att->mac, "ports",
			 ports);
}

static int attach(struct netbridge *nb, struct ct_request *req, struct nb_attachment **out,
		  struct ct_error *err)
{
	_cleanup_attachment_ struct nb_attachment *att = NULL;
	_cleanup_close_ int netns_fd = -1;
	struct attach_params ap;
	struct nb_attachment *old;

	if (nb->torn_down)
		return ct_error_set(err, CT_ERR_UNAVAILABLE, 0,
				    "network %s has been torn down; create it again", nb->network);
	if (check_netns_fd(req, &netns_fd, err) < 0 ||
	    parse_request(nb, ct_request_body(req), &att, &ap, err) < 0 ||
	    check_conflicts(nb, att, err) < 0)
		return -1;
	/* A restarted container comes back with the same id: its old veth and ports go
	 * first. */
	old = nb_find(nb, att->container);
	if (old && nb_detach(nb, old, err) < 0)
		return -1;
	if (reserve_ports(att, err) < 0)
		return ct_error_prefix(err, "reserving host ports");
	if (plumb(nb, att, &ap, netns_fd, err) < 0)
		return ct_error_prefix(err, "connecting to bridge %s", nb->bridge);
	if (publish_ports(nb, att, err) < 0) {
		_cleanup_error_ struct ct_error undo_err = CT_ERROR_INIT;
		if (unplumb(nb, att, &undo_err) < 0)
			log_error("undoing the attachment of %s: %s", att->container,
				  ct_error_message(&undo_err));
		return -1;
	}
	*out = move_ptr(att);
	return 0;
}

static void route_attach(struct ct_request *req, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct netbridge *nb = data;
	struct nb_attachment *att = NULL;
	const char *container = NULL;

	if (attach(nb, req, &att, &err) < 0) {
		_cleanup_error_ struct ct_error ignored = CT_ERROR_INIT;
		ct_json_get_string(ct_request_body(req), "container", false, &container, WHAT,
				   &ignored);
		ct_error_prefix(&err, "attaching container %s to network %s",
				container ? container : "(no id)", nb->network);
		log_warn("%s", ct_error_message(&err));
		ct_request_fail(req, &err);
		return;
	}
	/* In the list before the state is written, so the file has it... */
	att->next = nb->attachments;
	nb->attachments = att;
	if (nb_state_save(nb, &err) < 0) {
		/* ...and out of it again when that fails: a plugin restart must not forget a
		 * container it reported attached. */
		_cleanup_error_ struct ct_error undo_err = CT_ERROR_INIT;
		nb_unlink(nb, att);
		if (unplumb(nb, att, &undo_err) < 0)
			log_error("undoing the attachment of %s: %s", att->container,
				  ct_error_message(&undo_err));
		ct_error_prefix(&err, "attaching container %s to network %s", att->container,
				nb->network);
		nb_attachment_free(att);
		ct_request_fail(req, &err);
		return;
	}
	log_info("network %s: attached container %s as %s on %s (%zu ports)", nb->network,
		 att->container, att->address, att->host_iface, att->n_ports);
	ct_request_reply(req, attach_reply(att), NULL, 0);
}

static void route_detach(struct ct_request *req, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct netbridge *nb = data;
	const char *container = NULL;
	struct nb_attachment *att;

	if (ct_json_get_string(ct_request_body(req), "container", true, &container,
			       "bridge.detach request", &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	att = nb_find(nb, container);
	if (att && nb_detach(nb, att, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	ct_request_reply(
	    req, json_pack("{s:s, s:b}", "container", container, "detached", att != NULL), NULL, 0);
}

void nb_register_attach_routes(struct netbridge *nb)
{
	ct_server_route(nb->svc->server, "bridge.attach", route_attach, nb);
	ct_server_route(nb->svc->server, "bridge.detach", route_detach, nb);
}
