#include "ipnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t mask_of(unsigned prefix)
{
	return prefix == 0 ? 0 : ~(uint32_t)0 << (32 - prefix);
}

int ipnet_parse_addr(const char *text, uint32_t *out, struct ct_error *err)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s is not an IPv4 address (expected four numbers like 10.89.0.2)",
				    text);
	*out = ntohl(a.s_addr);
	return 0;
}

void ipnet_format_addr(uint32_t addr, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
}

int ipnet_parse(const char *text, struct ipnet *out, struct ct_error *err)
{
	char addr[32];
	const char *slash = strchr(text, '/');
	char *end = NULL;

	if (!slash || (size_t)(slash - text) >= sizeof(addr) || !slash[1])
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "subnet %s: expected an IPv4 network and prefix length like "
				    "10.89.0.0/24",
				    text);
	memcpy(addr, text, slash - text);
	addr[slash - text] = '\0';
	unsigned long prefix = strtoul(slash + 1, &end, 10);
	if (*end || slash[1] == '-' || slash[1] == '+' || prefix > 32)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "subnet %s: the prefix length must be a number from 8 to 30",
				    text);
	uint32_t a;
	if (ipnet_parse_addr(addr, &a, err) < 0)
		return ct_error_prefix(err, "subnet %s", text);
	if (prefix < 8 || prefix > 30)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "subnet %s: the prefix length must be from 8 to 30 (a network "
				    "needs a gateway and room for containers)",
				    text);
	if (a & ~mask_of(prefix)) {
		char net[16];
		ipnet_format_addr(a & mask_of(prefix), net);
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "subnet %s has host bits set; did you mean %s/%lu?", text, net,
				    prefix);
	}
	out->network = a;
	out->prefix = prefix;
	return 0;
}

void ipnet_format(const struct ipnet *n, char buf[IPNET_STRLEN])
{
	char a[16];

	ipnet_format_addr(n->network, a);
	snprintf(buf, IPNET_STRLEN, "%s/%u", a, n->prefix);
}

bool ipnet_contains(const struct ipnet *n, uint32_t addr)
{
	return (addr & mask_of(n->prefix)) == n->network;
}

bool ipnet_overlaps(const struct ipnet *a, const struct ipnet *b)
{
	unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;

	return (a->network & mask_of(p)) == (b->network & mask_of(p));
}

uint32_t ipnet_host_count(const struct ipnet *n)
{
	return ((uint32_t)1 << (32 - n->prefix)) - 2;
}

uint32_t ipnet_gateway(const struct ipnet *n)
{
	return n->network + 1;
}
