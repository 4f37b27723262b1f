/* Networks, IP allocations and DNS domains in state.db, as JSON objects:
 *   network    {name, subnet, gateway, bridge, internal, labels, createdAt}
 *   allocation {network, address, containerId, interface, hostInterface, mac, ports}
 *   domain     {domain, createdAt}
 * The API server is single-threaded, so choosing a free address and inserting it
 * cannot race; the UNIQUE constraints are the second line. */
#ifndef CONTAINER_NETWORK_DB_H
#define CONTAINER_NETWORK_DB_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "state.h"

int network_db_insert(struct state_db *db, json_t *network, struct ct_error *err);
/* notFound when there is no such network. */
int network_db_get(struct state_db *db, const char *name, json_t **out, struct ct_error *err);
int network_db_list(struct state_db *db, json_t **out, struct ct_error *err);
int network_db_delete(struct state_db *db, const char *name, struct ct_error *err);

int alloc_db_insert(struct state_db *db, json_t *allocation, struct ct_error *err);
/* Changes whenever an address is taken or released: for caches of addresses. */
uint64_t alloc_db_generation(void);
int alloc_db_set_ports(struct state_db *db, const char *container_id, const char *network,
		       json_t *ports, struct ct_error *err);
/* Filters may be NULL. Ordered by container, then the interface name. */
int alloc_db_list(struct state_db *db, const char *network, const char *container_id, json_t **out,
		  struct ct_error *err);
/* network NULL: all of the container's. */
int alloc_db_delete(struct state_db *db, const char *container_id, const char *network,
		    struct ct_error *err);

int dns_db_insert(struct state_db *db, const char *domain, struct ct_error *err);
int dns_db_delete(struct state_db *db, const char *domain, struct ct_error *err);
int dns_db_list(struct state_db *db, json_t **out, struct ct_error *err);

#endif
