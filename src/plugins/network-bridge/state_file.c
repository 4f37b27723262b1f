/* DIR/attachments.json: what a restarted plugin needs and the kernel doesn't keep for it.
 * The veths and nftables rules survive the plugin; the names, the port reservations (held
 * by sockets, which die with the process) and which rule belongs to whom don't.
 *
 *   {"version": 1, "network": "web", "domains": ["test"],
 *    "attachments": [{"container": "c1", "names": ["web"], "address": "10.89.0.2",
 *                     "hostInterface": "vc1", "mac": "02:42:0a:59:00:02",
 *                     "ports": [{"proto": "tcp", "hostIp": "", "hostPort": 8080,
 *                                "containerPort": 80, "count": 1, "handle": 7}]}]}
 *
 * Written through a temporary file and rename on every change, so a crashed plugin leaves
 * the old or the new state, never a mix. Not fsynced: it only matters while the kernel
 * state it describes exists, and after a power cut no veth, rule or container is left
 * (the start-up check below drops what the kernel no longer has), so durability would
 * buy nothing for two fsyncs on every attach and detach. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "netbridge.h"
#include "nft.h"
#include "util.h"

#define STATE_VERSION 1
#define STATE_MAX     (16u << 20)

static void free_nft_ports(struct nft_port **p)
{
	free(*p);
}

static void free_links(struct nl_link_info **p)
{
	free(*p);
}

int nb_state_save(struct netbridge *nb, struct ct_error *err)
{
	_cleanup_json_ json_t *doc = NULL;
	_cleanup_free_ char *text = NULL;
	json_t *attachments = json_array(), *domains = json_array();

	for (char **d = nb->domains; d && *d; d++)
		json_array_append_new(domains, json_string(*d));
	/* Oldest first, so a reload rebuilds the list in the same order. */
	for (struct nb_attachment *a = nb->attachments; a; a = a->next)
		json_array_insert_new(attachments, 0, nb_attachment_json(a, true));
	doc = json_pack("{s:i, s:s, s:s, s:s, s:o, s:o}", "version", STATE_VERSION, "network",
			nb->network, "bridge", nb->bridge, "subnet", nb->subnet, "domains", domains,
			"attachments", attachments);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "encoding the state of network %s",
				    nb->network);
	if (ct_write_file_replace(nb->state_path, text, strlen(text), 0600, err) < 0)
		return ct_error_prefix(err, "saving the state of network %s", nb->network);
	return 0;
}

int nb_state_remove(struct netbridge *nb, struct ct_error *err)
{
	if (unlink(nb->state_path) < 0 && errno != ENOENT)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing %s", nb->state_path);
	return 0;
}

static int parse_attachment(json_t *j, size_t index, struct nb_attachment **out,
			    struct ct_error *err)
{
	_cleanup_attachment_ struct nb_attachment *att = xcalloc(1, sizeof(*att));
	_cleanup_free_ char *what = xasprintf("attachments[%zu]", index);
	const char *container = NULL, *address = NULL, *host_iface = NULL, *mac = NULL;
	json_t *ports = NULL;

	if (!json_is_object(j))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: expected an object",
				    what);
	if (ct_json_get_string(j, "container", true, &container, what, err) < 0 ||
	    ct_json_get_string_array(j, "names", true, &att->names, what, err) < 0 ||
	    ct_json_get_string(j, "address", true, &address, what, err) < 0 ||
	    ct_json_get_string(j, "hostInterface", true, &host_iface, what, err) < 0 ||
	    ct_json_get_string(j, "mac", true, &mac, what, err) < 0 ||
	    ct_json_get_array(j, "ports", true, &ports, what, err) < 0)
		return -1;
	att->container = xstrdup(container);
	if (inet_pton(AF_INET, address, &att->addr) != 1 || !nl_ifname_valid(host_iface))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: bad address \"%s\" or host interface \"%s\"", what,
				    address, host_iface);
	snprintf(att->address, sizeof(att->address), "%s", address);
	snprintf(att->host_iface, sizeof(att->host_iface), "%s", host_iface);
	snprintf(att->mac, sizeof(att->mac), "%s", mac);
	if (nb_ports_parse(ports, &att->ports, &att->n_ports, true, err) < 0)
		return ct_error_prefix(err, "%s", what);
	*out = move_ptr(att);
	return 0;
}

static bool rule_present(const struct nb_port *p, const char *address, const struct nft_port *rules,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].handle == p->handle && rules[i].host_port == p->host_port &&
		    strcmp(rules[i].container_ip, address) == 0)
			return true;
	return false;
}

static bool rule_owned(const struct netbridge *nb, const struct nft_port *rule)
{
	for (const struct nb_attachment *a = nb->attachments; a; a = a->next)
		for (size_t i = 0; i < a->n_ports; i++)
			if (a->ports[i].handle == rule->handle)
				return true;
	return false;
}

/* A restored attachment: its reservations again, and any rule that went missing (the
 * network's rules were recreated, or someone flushed them). A port a host process took
 * while we were down can't be reserved again; the rule still forwards it, so that is a
 * warning, not a reason to cut the container off. */
static void restore_ports(struct netbridge *nb, struct nb_attachment *att,
			  const struct nft_port *rules, size_t n_rules)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	for (size_t i = 0; i < att->n_ports; i++) {
		struct nb_port *p = &att->ports[i];
		char what[96];

		nb_port_describe(p, what, sizeof(what));
		if (nb_port_reserve(p, &err) < 0) {
			log_warn("container %s: %s", att->container, ct_error_message(&err));
			ct_error_clear(&err);
		}
		if (p->handle && rule_present(p, att->address, rules, n_rules))
			continue;
		p->handle = 0;
		if (nb_port_publish(nb, p, att->address, &err) < 0) {
			log_error("container %s: %s", att->container, ct_error_message(&err));
			ct_error_clear(&err);
			continue;
		}
		log_info("container %s: port %s published again", att->container, what);
	}
}

/* What the kernel still has of each attachment decides its fate: a host veth that is gone
 * means the container's namespace died while we were down. Veths on our bridge that no
 * attachment names are left from an attach that never completed. */
static int reconcile(struct netbridge *nb, struct ct_error *err)
{
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;
	__attribute__((cleanup(free_nft_ports))) struct nft_port *rules = NULL;
	__attribute__((cleanup(free_links))) struct nl_link_info *links = NULL;
	size_t n_rules = 0, n_links = 0;
	int bridge_index;

	if (nl_sock_open(&nl, err) < 0 || nl_link_list(nl, &links, &n_links, err) < 0)
		return -1;
	bridge_index = nl_link_index(nl, nb->bridge, err);
	if (bridge_index < 0)
		return -1;
	for (struct nb_attachment **pp = &nb->attachments; *pp;) {
		struct nb_attachment *att = *pp;
		bool alive = false;

		for (size_t i = 0; i < n_links; i++)
			if (strcmp(links[i].name, att->host_iface) == 0)
				alive = links[i].master == bridge_index;
		if (alive) {
			pp = &att->next;
			continue;
		}
		log_info("network %s: container %s is gone (no %s on %s); dropping it", nb->network,
			 att->container, att->host_iface, nb->bridge);
		*pp = att->next;
		if (nft_port_remove_container(nb->network, att->address, NULL, err) < 0)
			log_warn("%s", ct_error_message(err));
		ct_error_clear(err);
		nb_attachment_free(att);
	}
	for (size_t i = 0; i < n_links; i++) {
		bool known = false;
		if (links[i].master != bridge_index || strcmp(links[i].kind, "veth") != 0)
			continue;
		for (struct nb_attachment *a = nb->attachments; a; a = a->next)
			known |= strcmp(a->host_iface, links[i].name) == 0;
		if (known)
			continue;
		log_info("network %s: deleting %s, left by an attach that did not finish",
			 nb->network, links[i].name);
		if (nl_link_delete(nl, links[i].name, err) < 0)
			log_warn("%s", ct_error_message(err));
		ct_error_clear(err);
	}

	if (nft_port_list(nb->network, &rules, &n_rules, err) < 0)
		return ct_error_prefix(err, "listing the published ports of network %s",
				       nb->network);
	for (struct nb_attachment *a = nb->attachments; a; a = a->next)
		restore_ports(nb, a, rules, n_rules);
	/* Rules no attachment owns point at addresses nobody holds any more. */
	for (size_t i = 0; i < n_rules; i++) {
		if (rule_owned(nb, &rules[i]))
			continue;
		log_info("network %s: removing the rule of port %u/%s to %s:%u, which no container "
			 "owns",
			 nb->network, rules[i].host_port, rules[i].proto, rules[i].container_ip,
			 rules[i].container_port);
		if (nft_port_remove(nb->network, rules[i].handle, err) < 0 &&
		    !ct_error_is(err, CT_ERR_NOT_FOUND))
			log_warn("%s", ct_error_message(err));
		ct_error_clear(err);
	}
	return 0;
}

static int parse_state(struct netbridge *nb, json_t *doc, struct ct_error *err)
{
	const char *network = NULL;
	int64_t version = 0;
	json_t *attachments = NULL;
	char **domains = NULL;

	if (ct_json_get_int(doc, "version", true, &version, "state file", err) < 0 ||
	    ct_json_get_string(doc, "network", true, &network, "state file", err) < 0 ||
	    ct_json_get_string_array(doc, "domains", false, &domains, "state file", err) < 0 ||
	    ct_json_get_array(doc, "attachments", true, &attachments, "state file", err) < 0) {
		cleanup_strvp(&domains);
		return -1;
	}
	if (version != STATE_VERSION || strcmp(network, nb->network) != 0) {
		cleanup_strvp(&domains);
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "it is version %lld of network %s, expected version %d of "
				    "network %s",
				    (long long)version, network, STATE_VERSION, nb->network);
	}
	/* Domains given on the command line are the caller's current word; without any,
	 * those of the last bridge.domains call stand. */
	if (nb->domains_from_command_line || !domains)
		cleanup_strvp(&domains);
	else if (nb_set_domains(nb, domains, err) < 0)
		return -1;
	/* The file lists the oldest first; the list keeps the newest at its head. */
	for (size_t i = 0; i < json_array_size(attachments); i++) {
		struct nb_attachment *att = NULL;
		if (parse_attachment(json_array_get(attachments, i), i, &att, err) < 0)
			return -1;
		att->next = nb->attachments;
		nb->attachments = att;
	}
	return 0;
}

int nb_state_load(struct netbridge *nb, struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *doc = NULL;
	json_error_t jerr;
	size_t len = 0;

	if (ct_read_file(nb->state_path, STATE_MAX, &text, &len, err) < 0) {
		if (!ct_error_is(err, CT_ERR_NOT_FOUND))
			return -1;
		ct_error_clear(err);
	} else {
		doc = json_loadb(text, len, 0, &jerr);
		if (!doc || !json_is_object(doc))
			return ct_error_set(err, CT_ERR_INTERNAL, 0,
					    "state file %s is damaged (line %d: %s); move it away "
					    "and detach and attach this network's containers again",
					    nb->state_path, jerr.line,
					    doc ? "not an object" : jerr.text);
		if (parse_state(nb, doc, err) < 0)
			return ct_error_prefix(err,
					       "state file %s (move it away and detach and attach "
					       "this network's containers again)",
					       nb->state_path);
	}
	if (reconcile(nb, err) < 0)
		return -1;
	return nb_state_save(nb, err);
}
