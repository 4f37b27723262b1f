/* Networks: the `network.*` routes, the default network, and one
 * container-network-bridge plugin instance per network
 * (container-network-bridge.<name>), started at boot so each network's bridge,
 * rules and DNS server are there before a container needs them. */
#ifndef CONTAINER_NETWORKS_H
#define CONTAINER_NETWORKS_H

#include <jansson.h>

#include "apiserver.h"
#include "error.h"

#define NETWORK_PLUGIN	  "container-network-bridge"
#define DEFAULT_NETWORK	  "default"
#define DEFAULT_BRIDGE	  "container0"

/* Creates the default network when missing, starts every network's plugin. */
void networks_boot(struct apiserver *api);

/* The running plugin instance of a network (started when it is not). */
struct plugin_instance *networks_plugin(struct apiserver *api, json_t *network,
					struct ct_error *err);

/* The DNS domains containers answer under: the dns.domain property first, then
 * those made with `system dns create`. A JSON array of strings. */
json_t *networks_dns_domains(struct apiserver *api);

/* Re-makes the default network when network.subnet changed and no container
 * runs on it (else logs why it keeps its subnet). True when under way. */
bool networks_apply_default_subnet(struct apiserver *api);

/* Tells every running network plugin the current DNS domains. */
void networks_push_domains(struct apiserver *api);

#endif
