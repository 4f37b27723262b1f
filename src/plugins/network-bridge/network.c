/* The network itself: its bridge with the gateway address, the sysctls it needs, and its
 * nftables rules. Every step keeps what is already there, so a restarted plugin leaves
 * running containers undisturbed. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "cleanup.h"
#include "log.h"
#include "netbridge.h"
#include "nft.h"
#include "util.h"

static int gateway_address_present(struct nl_sock *nl, struct netbridge *nb, int index,
				   bool *present, struct ct_error *err)
{
	_cleanup_free_ struct nl_addr *addrs = NULL;
	size_t n = 0;

	*present = false;
	if (nl_addr_list(nl, index, AF_INET, &addrs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (addrs[i].addr.v4.s_addr == nb->gateway.s_addr &&
		    addrs[i].prefixlen == nb->prefixlen)
			*present = true;
	return 0;
}

static int setup_bridge(struct netbridge *nb, struct ct_error *err)
{
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;
	_cleanup_free_ char *localnet = NULL;
	bool present;
	int index;

	if (nl_sock_open(&nl, err) < 0)
		return -1;
	index = nl_bridge_create(nl, nb->bridge, nb->mtu, err);
	if (index < 0)
		return ct_error_prefix(err, "creating bridge %s", nb->bridge);
	if (gateway_address_present(nl, nb, index, &present, err) < 0)
		return ct_error_prefix(err, "reading the addresses of bridge %s", nb->bridge);
	if (!present && nl_addr_add(nl, index, AF_INET, &nb->gateway, nb->prefixlen, err) < 0)
		return ct_error_prefix(err, "giving bridge %s the gateway address %s/%u",
				       nb->bridge, nb->gateway_text, nb->prefixlen);
	if (nl_link_set_up_index(nl, index, true, err) < 0)
		return ct_error_prefix(err, "bridge %s", nb->bridge);

	/* Containers reach the outside (and published ports reach containers) through this
	 * namespace's routing. */
	if (nl_sysctl_set("net/ipv4/ip_forward", "1", err) < 0)
		return ct_error_prefix(err, "enabling IPv4 forwarding");
	/* Ports published on 127.0.0.1 are DNAT'ed to the bridge: the kernel drops packets
	 * with a loopback source on a non-loopback interface unless this is set. */
	localnet = xasprintf("net/ipv4/conf/%s/route_localnet", nb->bridge);
	if (nl_sysctl_set(localnet, "1", err) < 0)
		return ct_error_prefix(err, "bridge %s", nb->bridge);
	return 0;
}

static int setup_rules(struct netbridge *nb, struct ct_error *err)
{
	const char *subnets[] = {nb->subnet, NULL};
	int exists;

	if (nft_init(err) < 0)
		return ct_error_prefix(err, "creating the nftables table " NFT_TABLE_FAMILY
					    " " NFT_TABLE_NAME);
	exists = nft_network_exists(nb->network, err);
	if (exists < 0)
		return -1;
	/* Replacing the network would drop the published ports of running containers. */
	if (exists) {
		log_info("network %s: keeping its nftables rules", nb->network);
		return 0;
	}
	if (nft_network_add(nb->network, nb->bridge, subnets, nb->internal, err) < 0)
		return ct_error_prefix(err, "adding the nftables rules of network %s", nb->network);
	return 0;
}

int nb_network_setup(struct netbridge *nb, struct ct_error *err)
{
	if (setup_bridge(nb, err) < 0 || setup_rules(nb, err) < 0)
		return -1;
	return 0;
}

int nb_network_remove(struct netbridge *nb, struct ct_error *err)
{
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;

	if (nft_network_remove(nb->network, err) < 0) {
		if (!ct_error_is(err, CT_ERR_NOT_FOUND))
			return ct_error_prefix(err, "removing the rules of network %s",
					       nb->network);
		ct_error_clear(err);
	}
	if (nl_sock_open(&nl, err) < 0)
		return -1;
	if (nl_link_delete(nl, nb->bridge, err) < 0) {
		if (!ct_error_is(err, CT_ERR_NOT_FOUND))
			return ct_error_prefix(err, "deleting bridge %s", nb->bridge);
		ct_error_clear(err);
	}
	return 0;
}
