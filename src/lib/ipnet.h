/* IPv4 subnets for networks: parsing "10.89.0.0/24", overlap checks and the
 * n-th host address, for the API server's address allocator. Addresses are
 * host-order uint32_t inside, dotted quads outside. */
#ifndef CONTAINER_IPNET_H
#define CONTAINER_IPNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define IPNET_STRLEN 19 /* "255.255.255.255/32" and NUL */

struct ipnet {
	uint32_t network; /* host order, host bits zero */
	unsigned prefix;  /* 8..30: a network needs a gateway and at least one host */
};

/* "10.89.0.0/24"; host bits must be zero ("10.89.0.5/24" is refused with the
 * network it probably meant). */
int ipnet_parse(const char *text, struct ipnet *out, struct ct_error *err);
void ipnet_format(const struct ipnet *n, char buf[IPNET_STRLEN]);

int ipnet_parse_addr(const char *text, uint32_t *out, struct ct_error *err);
void ipnet_format_addr(uint32_t addr, char buf[16]);

bool ipnet_overlaps(const struct ipnet *a, const struct ipnet *b);
bool ipnet_contains(const struct ipnet *n, uint32_t addr);

/* Usable host addresses: network+1 .. broadcast-1. */
uint32_t ipnet_host_count(const struct ipnet *n);
/* The gateway: the first host address (.1 in a /24). */
uint32_t ipnet_gateway(const struct ipnet *n);

#endif
