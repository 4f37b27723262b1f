/* container-network-bridge: one instance per network. It owns the network's bridge, its
 * nftables rules (nft/), the veths of the containers attached to it (netlink/), the host
 * ports their published ports hold, and the DNS server on the gateway address.
 *
 * Everything runs on the service loop's thread: libnftables is not thread-safe, and the
 * attachment list and the DNS table are read by the DNS server on the same loop. */
#ifndef CONTAINER_NETBRIDGE_H
#define CONTAINER_NETBRIDGE_H

#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "netlink.h"
#include "server.h"
#include "service.h"

/* A range of ports this attachment publishes: host_port+i -> container_port+i. */
struct nb_port {
	char proto[4];		       /* "tcp" or "udp" */
	char host_ip[INET_ADDRSTRLEN]; /* "" = every address of the host */
	unsigned int host_port;	       /* chosen by the kernel when asked for 0 */
	unsigned int container_port;
	unsigned int count;
	uint64_t handle; /* the nftables rule; 0 while not published */
	/* The reservation: one bound socket per host port, held while the attachment
	 * lives so no host process (or other container) can take the port. */
	int *fds;
	size_t n_fds;
};

struct nb_attachment {
	char *container;
	char **names; /* NULL-terminated */
	struct in_addr addr;
	char address[INET_ADDRSTRLEN];
	char host_iface[IFNAMSIZ];
	char mac[NL_MAC_STRLEN];
	struct nb_port *ports;
	size_t n_ports;
	struct nb_attachment *next;
};

struct dns_server;

struct netbridge {
	struct ct_service *svc;
	/* From the command line. */
	const char *network;
	const char *bridge;
	const char *subnet; /* CIDR text, as nftables takes it */
	struct in_addr subnet_addr;
	unsigned int prefixlen;
	const char *gateway_text;
	struct in_addr gateway;
	bool internal;
	unsigned int mtu; /* 0: the kernel's default */
	char *state_dir;
	char *state_path;
	/* DNS domains (NULL-terminated): a name answers as `name` and `name.<domain>`. */
	char **domains;
	bool domains_from_command_line;

	struct nb_attachment *attachments;
	struct dns_server *dns;
	/* After bridge.teardown: nothing of the network is left, new work is refused. */
	bool torn_down;
	/* Host veths of detached containers, removed a little later (attach.c). */
	struct nb_veth_reap *reaps;
};

struct nb_veth_reap;
/* Frees the pending removals without doing them (the next start cleans up). */
void nb_reaps_free(struct netbridge *nb);
/* Does the pending removals now (teardown: the bridge goes, so must its ports). */
void nb_reaps_now(struct netbridge *nb);

/* ---- network.c: the bridge and the network's rules ---- */
int nb_network_setup(struct netbridge *nb, struct ct_error *err);
/* Removes the rules and the bridge (each may already be gone). */
int nb_network_remove(struct netbridge *nb, struct ct_error *err);

/* ---- attachment.c ---- */
void nb_attachment_free(struct nb_attachment *att);
static inline void nb_attachment_freep(struct nb_attachment **att)
{
	if (*att)
		nb_attachment_free(*att);
}
#define _cleanup_attachment_ __attribute__((cleanup(nb_attachment_freep)))

struct nb_attachment *nb_find(struct netbridge *nb, const char *container);
/* Unlinks att from the list (it stays allocated). */
void nb_unlink(struct netbridge *nb, struct nb_attachment *att);
/* The attachment as bridge.status shows it (with_handles: as the state file keeps it). */
json_t *nb_attachment_json(const struct nb_attachment *att, bool with_handles);
/* "web", "web.test": a DNS name of one or more labels of letters, digits, '-' and '_'. */
bool nb_name_valid(const char *name);

/* ---- attach.c: bridge.attach and bridge.detach ---- */
void nb_register_attach_routes(struct netbridge *nb);
/* Takes a container off the network: its rules, reservations and veth; drops it from
 * the list and frees it. Failures to remove what is already gone are not errors. */
int nb_detach(struct netbridge *nb, struct nb_attachment *att, struct ct_error *err);

/* ---- ports.c: published ports ---- */
/* Parses the "ports" array of bridge.attach (or of the state file). */
int nb_ports_parse(json_t *array, struct nb_port **out, size_t *n, bool with_handles,
		   struct ct_error *err);
void nb_ports_free(struct nb_port *ports, size_t n);
/* Binds the reservation sockets of p; a host port 0 becomes the port the kernel chose. */
int nb_port_reserve(struct nb_port *p, struct ct_error *err);
void nb_port_release(struct nb_port *p);
/* The DNAT rule of p to container_ip, its handle kept in p. */
int nb_port_publish(struct netbridge *nb, struct nb_port *p, const char *container_ip,
		    struct ct_error *err);
/* Removes the rule of p; a rule that is already gone is fine. */
int nb_port_unpublish(struct netbridge *nb, struct nb_port *p, struct ct_error *err);
json_t *nb_port_json(const struct nb_port *p, bool with_handle);
/* "8080/tcp on 0.0.0.0" or "8080-8089/tcp on 127.0.0.1", for messages. */
void nb_port_describe(const struct nb_port *p, char *buf, size_t size);

/* ---- names.c: DNS ---- */
int nb_dns_start(struct netbridge *nb, struct ct_error *err);
void nb_dns_stop(struct netbridge *nb);
json_t *nb_dns_stats_json(const struct netbridge *nb);
/* Checks and replaces the domains (takes the vector). */
int nb_set_domains(struct netbridge *nb, char **domains, struct ct_error *err);

/* ---- state_file.c: DIR/attachments.json ---- */
/* Reads the state file (a missing one is an empty state) and re-establishes what the
 * kernel doesn't keep for us: port reservations, and rules that went missing. */
int nb_state_load(struct netbridge *nb, struct ct_error *err);
int nb_state_save(struct netbridge *nb, struct ct_error *err);
int nb_state_remove(struct netbridge *nb, struct ct_error *err);

/* ---- routes.c: bridge.status, bridge.domains, bridge.teardown ---- */
void nb_register_routes(struct netbridge *nb);

#endif
