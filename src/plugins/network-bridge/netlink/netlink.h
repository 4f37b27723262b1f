/* rtnetlink for container-network-bridge, over libmnl: bridges, veth pairs, addresses,
 * routes and the sysctls a network needs, plus running code inside a container's network
 * namespace.
 *
 * Every request is synchronous: it carries its own sequence number and waits for the
 * kernel's acknowledgement (or the end of a dump), so an error is reported by the call that
 * caused it, with the kernel's errno and, where the kernel gives one, its extended-ack text
 * ("setting MTU 70000 on veth0: Invalid argument (kernel: mtu greater than device maximum)").
 * Error codes: exists (EEXIST), notFound (ENODEV and friends), invalidArgument (EINVAL or a
 * value refused before asking), permissionDenied, unsupported, conflict (EBUSY), internal.
 *
 * A socket lives in the network namespace of the thread that opened it and stays there; to
 * work in a container's namespace use nl_in_netns, which opens a socket in that namespace
 * for the callback. */
#ifndef CONTAINER_NETBRIDGE_NETLINK_H
#define CONTAINER_NETBRIDGE_NETLINK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct nl_sock;

/* A NETLINK_ROUTE socket (SOCK_CLOEXEC) in the calling thread's network namespace. */
int nl_sock_open(struct nl_sock **out, struct ct_error *err);
void nl_sock_close(struct nl_sock *nl);

static inline void nl_sock_closep(struct nl_sock **nl)
{
	if (*nl)
		nl_sock_close(*nl);
}
#define _cleanup_nl_sock_ __attribute__((cleanup(nl_sock_closep)))

/* Interface names are checked before the kernel sees them: 1 to IFNAMSIZ-1 bytes, no '/',
 * ':' or white space, not "." or "..". */
bool nl_ifname_valid(const char *name);

/* ---- Links ---- */

struct nl_link_info {
	int index;
	char name[IFNAMSIZ];
	/* IFLA_INFO_KIND: "bridge", "veth"…; "" for a device without one (lo, physical). */
	char kind[32];
	unsigned int flags; /* IFF_* */
	unsigned int mtu;
	uint8_t mac[6];
	bool has_mac;
	int master;	   /* index of the bridge it is a port of, 0 for none */
	int link;	   /* IFLA_LINK: a veth's peer index (in link_netnsid when that is set) */
	int link_netnsid;  /* -1 when the peer is in the same namespace */
	uint8_t operstate; /* IF_OPER_* */
};

/* The index (> 0) of the interface, or -1 with notFound. */
int nl_link_index(struct nl_sock *nl, const char *name, struct ct_error *err);
int nl_link_get(struct nl_sock *nl, const char *name, struct nl_link_info *out,
		struct ct_error *err);
int nl_link_get_index(struct nl_sock *nl, int index, struct nl_link_info *out,
		      struct ct_error *err);
/* Every interface of the namespace, in the kernel's order; free(*out). */
int nl_link_list(struct nl_sock *nl, struct nl_link_info **out, size_t *count,
		 struct ct_error *err);

/* Creates the bridge (down) and returns its index. When an interface of that name already
 * exists and is a bridge, its MTU is set to mtu and its index returned; when it is something
 * else, the call fails with exists. mtu 0 keeps the kernel's default. */
int nl_bridge_create(struct nl_sock *nl, const char *name, unsigned int mtu, struct ct_error *err);

/* Creates a veth pair: host_name in this namespace, peer_name in the namespace of
 * peer_netns_fd (-1: this one). The peer is created there directly (IFLA_NET_NS_FD inside
 * VETH_INFO_PEER), so it never exists under a temporary name in the host's namespace where
 * another process could race for it. Both ends get mtu (0: the kernel's default) and are
 * down. Fails with exists when either name is taken. Returns the host end's index. */
int nl_veth_create(struct nl_sock *nl, const char *host_name, const char *peer_name,
		   int peer_netns_fd, unsigned int mtu, struct ct_error *err);

/* Deleting one end of a veth pair deletes both. notFound when there is no such interface. */
int nl_link_delete(struct nl_sock *nl, const char *name, struct ct_error *err);

int nl_link_set_up(struct nl_sock *nl, const char *name, bool up, struct ct_error *err);
int nl_link_set_up_index(struct nl_sock *nl, int index, bool up, struct ct_error *err);
int nl_link_set_mtu(struct nl_sock *nl, const char *name, unsigned int mtu, struct ct_error *err);
int nl_link_set_mac(struct nl_sock *nl, const char *name, const uint8_t mac[6],
		    struct ct_error *err);
/* Makes name a port of bridge; bridge NULL takes it out of its bridge. */
int nl_link_set_master(struct nl_sock *nl, const char *name, const char *bridge,
		       struct ct_error *err);
/* Hairpin mode on a bridge port (`bridge link set dev NAME hairpin on`): the bridge may send a
 * frame back out of the port it came in on. A container calling its own published port needs
 * it: the DNAT'ed packet must return through the container's own veth. notFound when there is
 * no such interface; unsupported or invalidArgument when it is not a port of a bridge. */
int nl_link_set_hairpin(struct nl_sock *nl, const char *name, bool on, struct ct_error *err);
/* Kernels before 6.2 refuse to rename an interface that is up (conflict); newer ones
 * allow it. */
int nl_link_rename(struct nl_sock *nl, const char *name, const char *new_name,
		   struct ct_error *err);

/* ---- Addresses and routes ---- */

/* addr is a struct in_addr (AF_INET) or struct in6_addr (AF_INET6) in network order. IPv4
 * addresses get the subnet's broadcast address, as `ip addr add … brd +` does. */
int nl_addr_add(struct nl_sock *nl, int index, int family, const void *addr, unsigned int prefixlen,
		struct ct_error *err);
int nl_addr_del(struct nl_sock *nl, int index, int family, const void *addr, unsigned int prefixlen,
		struct ct_error *err);

struct nl_addr {
	int index;
	int family;
	unsigned int prefixlen;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/* Addresses of one interface (index 0: all) of one family (AF_UNSPEC: both); free(*out). */
int nl_addr_list(struct nl_sock *nl, int index, int family, struct nl_addr **out, size_t *count,
		 struct ct_error *err);

/* A default route in the main table via gateway (same family rules as nl_addr_add) out of
 * index. Fails with exists when the table already has a default route. */
int nl_route_add_default(struct nl_sock *nl, int index, int family, const void *gateway,
			 struct ct_error *err);

struct nl_route {
	int oif;
	int family;
	bool has_gateway;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} gateway;
};

/* The default route of the main table for family, or notFound. */
int nl_route_get_default(struct nl_sock *nl, int family, struct nl_route *out,
			 struct ct_error *err);

/* ---- Inside a container's network namespace ---- */

typedef int (*nl_netns_fn)(struct nl_sock *nl, void *arg, struct ct_error *err);

/* Runs fn in a short-lived thread that has joined the network namespace of netns_fd
 * (setns(CLONE_NEWNET) only changes the calling thread, and the thread exits afterwards, so
 * no other thread of the process ever leaves its namespace) with a netlink socket opened
 * there. netns_fd -1 runs it the same way in the caller's namespace. fn's return value and
 * error are the call's. Sockets fn creates stay in that namespace after it returns, and
 * files under /proc/sys/net it opens are that namespace's. Signals are blocked in the
 * thread. */
int nl_in_netns(int netns_fd, nl_netns_fn fn, void *arg, struct ct_error *err);

/* How the container's end of a veth is set up inside its namespace. */
struct nl_iface_config {
	const char *peer_name; /* the name it was created with */
	const char *name;      /* its name in the container ("eth0"); NULL keeps peer_name */
	int family;	       /* AF_INET or AF_INET6 for addr and gateway; 0: no address */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	unsigned int prefixlen;
	bool has_gateway; /* add the default route via gateway */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} gateway;
	bool has_mac;
	uint8_t mac[6];
	unsigned int mtu; /* 0: keep */
};

/* In the namespace of netns_fd (-1: this one): renames the interface, sets its MAC and MTU,
 * adds the address, brings it and lo up and adds the default route, in that order (a name
 * and a MAC can only change while it is down; the gateway must be on a connected subnet).
 * Errors name the step and the interface. */
int nl_iface_configure(int netns_fd, const struct nl_iface_config *cfg, struct ct_error *err);

/* ---- sysctl ---- */

/* Writes value to /proc/sys/<path> ("net/ipv4/ip_forward",
 * "net/ipv4/conf/<bridge>/route_localnet"). The path is resolved beneath /proc/sys without
 * "..", symlinks or mount crossings, and the file must be on procfs (fstatfs) before a byte is
 * written, so a bind mount over /proc/sys cannot redirect the write. Network sysctls are
 * those of the calling thread's namespace (so inside nl_in_netns, the container's). */
int nl_sysctl_set(const char *path, const char *value, struct ct_error *err);
/* Reads it into buf without the trailing newline. */
int nl_sysctl_get(const char *path, char *buf, size_t size, struct ct_error *err);

/* ---- MAC addresses ---- */

/* Docker's scheme for container interfaces: 02:42 (locally administered, unicast) then the
 * four bytes of the IPv4 address, so a MAC is unique on the bridge as long as its IP is. */
void nl_mac_from_ipv4(const struct in_addr *addr, uint8_t mac[6]);

#define NL_MAC_STRLEN 18 /* "02:42:0a:7b:00:02" and NUL */
void nl_mac_format(const uint8_t mac[6], char buf[NL_MAC_STRLEN]);
/* Parses "02:42:0a:7b:00:02" (hex digits in either case); invalidArgument otherwise. */
int nl_mac_parse(const char *text, uint8_t mac[6], struct ct_error *err);

#endif
