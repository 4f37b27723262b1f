/* The nftables rules of container-network-bridge: NAT, isolation and published ports.
 *
 * Every rule lives in one table of ours, `table inet container`, which this module
 * creates and deletes; no other table is read, changed or flushed. Its layout:
 *
 *   set bridges          the bridge of every network (element comment "net <name>")
 *   chain prerouting     nat, dstnat: fib daddr type local jump net-<name>-dnat
 *   chain output         nat, -100:   the same, for connections from the host itself
 *                        (127.0.0.1 included: the bridge needs route_localnet=1)
 *   chain postrouting    nat, srcnat: jump net-<name>-post
 *   chain forward        filter, 0:   jump net-<name>-fwd
 *
 * Each network owns the regular chains net-<name>-dnat (its published ports),
 * net-<name>-post (masquerade) and net-<name>-fwd (isolation), and the jump rules to
 * them, which carry the comment "net <name>"; so a network's rules are added and
 * removed as a whole. An internal network has only
 * net-<name>-fwd: no masquerade, no published ports.
 *
 * Every change is one nftables transaction, so readers never see half a network.
 * The kernel state is the only state: a restarted plugin finds its rules with
 * nft_port_list() and nft_network_exists().
 *
 * What the caller sets up beside the rules (tests/unit/nft does the same):
 *   - net.ipv4.ip_forward (and IPv6 forwarding) in the namespace of the rules;
 *   - net.ipv4.conf.<bridge>.route_localnet=1, or ports published on 127.0.0.1 (and
 *     "any", reached from the host as 127.0.0.1) go nowhere;
 *   - hairpin mode on each container's bridge port (`ip link set VETH type
 *     bridge_slave hairpin on`, as docker does): with br_netfilter a container's
 *     call to its own published port is DNAT'ed at the bridge and must leave by the
 *     port it came in on.
 * The base chains accept by default; a drop policy in another table (a host
 * firewall) still applies to our traffic.
 *
 * Needs CAP_NET_ADMIN in the network namespace of the rules. libnftables promises
 * no thread safety: call from one thread. */
#ifndef NETBRIDGE_NFT_H
#define NETBRIDGE_NFT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NFT_TABLE_FAMILY "inet"
#define NFT_TABLE_NAME	 "container"

/* Network names: [A-Za-z0-9][A-Za-z0-9_.-]*, at most this many bytes. */
#define NFT_NETWORK_NAME_MAX 64

/* Creates the table, the set of bridges and the base chains if they are missing;
 * keeps whatever is already there (networks, ports). Safe to call any time. */
int nft_init(struct ct_error *err);

/* Deletes the whole table: every network and published port. Succeeds when the table
 * is already gone. */
int nft_teardown(struct ct_error *err);

/* Installs the rules of a network whose containers sit on `bridge`:
 *   - its bridge joins the set of our bridges;
 *   - forwarding from this bridge to another of our bridges is dropped, except for
 *     connections to a published port (DNAT'ed), so separate networks can't reach
 *     each other but can use each other's published ports as any host can;
 *   - subnets (a NULL-terminated list of CIDRs, IPv4 and/or IPv6) are masqueraded
 *     when they leave through another interface, and when a container reaches a
 *     published port of its own network (hairpin); connections from 127.0.0.0/8 to
 *     a published port are masqueraded too, so the container can answer them.
 *   - internal: nothing is masqueraded and all forwarding between the bridge and
 *     any other interface is dropped (no route out, no published ports); subnets
 *     may then be NULL.
 * Creates the table if needed. If the network exists it is replaced atomically
 * (its published ports are dropped: publish them again). A bridge that belongs to
 * another network is a conflict. */
int nft_network_add(const char *name, const char *bridge, const char *const *subnets, bool internal,
		    struct ct_error *err);

/* Removes the network's chains, its jump rules and its bridge from the set, in one
 * transaction; nothing else changes. notFound if the network has no rules. */
int nft_network_remove(const char *name, struct ct_error *err);

/* 1 if the network has rules, 0 if not (or the table is missing), -1 on error. */
int nft_network_exists(const char *name, struct ct_error *err);

/* A published port, or a range of `count` consecutive ports mapped one to one:
 * host_port + i -> container_port + i. */
struct nft_port_spec {
	const char *network;
	const char *proto;	  /* "tcp" or "udp" */
	const char *host_ip;	  /* NULL, "", "0.0.0.0" or "::" = every address of the
				   * host in container_ip's family */
	unsigned int host_port;	  /* 1..65535; choosing a free port is the caller's */
	const char *container_ip; /* IPv4 or IPv6 */
	unsigned int container_port;
	unsigned int count; /* ports in the range; 0 means 1 */
};

/* Adds one DNAT rule (in net-<network>-dnat, so it applies to traffic arriving from
 * outside, from other containers and from the host itself) and returns its rule
 * handle for nft_port_remove(). A port (proto, host address, host port) that any
 * network already publishes is a conflict; so is publishing on an internal network.
 * IPv6 loopback (::1) can't be DNAT'ed by the kernel: unsupported. */
int nft_port_add(const struct nft_port_spec *spec, uint64_t *handle, struct ct_error *err);

/* Removes the published port with that handle from the network. notFound if the
 * network has no such rule. */
int nft_port_remove(const char *network, uint64_t handle, struct ct_error *err);

/* A published port as found in the kernel. */
struct nft_port {
	uint64_t handle;
	char network[NFT_NETWORK_NAME_MAX + 1];
	char proto[4];
	char host_ip[INET6_ADDRSTRLEN]; /* "" = every address */
	unsigned int host_port;
	char container_ip[INET6_ADDRSTRLEN];
	unsigned int container_port;
	unsigned int count;
};

/* The published ports of one network (or of all, when network is NULL), in rule
 * order; free *ports with free(). A missing table gives no ports. */
int nft_port_list(const char *network, struct nft_port **ports, size_t *n, struct ct_error *err);

/* Removes every port published to container_ip on the network, in one transaction:
 * the cleanup after a container whose helper died. Sets *removed (may be NULL). */
int nft_port_remove_container(const char *network, const char *container_ip, size_t *removed,
			      struct ct_error *err);

/* Our table as nft prints it (text, or JSON when json), for inspection and logs;
 * free *out with free(). notFound when the table is missing. */
int nft_table_dump(bool json, char **out, struct ct_error *err);

/* Input checks, also used by the functions above. Each returns -1 with an
 * invalidArgument error naming the value. */
int nft_check_network_name(const char *name, struct ct_error *err);
int nft_check_bridge_name(const char *bridge, struct ct_error *err);
/* "10.88.0.0/24" or "fd00:88::/64", host bits zero. family: AF_INET or AF_INET6. */
int nft_parse_cidr(const char *cidr, int *family, struct ct_error *err);

#endif
