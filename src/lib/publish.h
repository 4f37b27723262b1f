/* Published ports as users type them after -p/--publish (docker's syntax):
 *
 *   [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp]
 *
 *   80            a free host port -> 80/tcp
 *   8080:80       8080 -> 80
 *   127.0.0.1:8080:80/udp, [::1]:8080:80, 127.0.0.1::80 (a free port on 127.0.0.1)
 *   8000-8010:80-90   eleven ports, one to one
 * Parsed by the API server (the authority) into the form the network plugin takes. */
#ifndef CONTAINER_PUBLISH_H
#define CONTAINER_PUBLISH_H

#include <jansson.h>

#include "error.h"

struct publish_spec {
	char proto[4];	   /* "tcp" or "udp" */
	char host_ip[46];  /* "" = every address */
	unsigned host_port; /* 0 = a free port, chosen at start */
	unsigned container_port;
	unsigned count; /* consecutive ports, 1 for one */
};

int publish_parse(const char *text, struct publish_spec *out, struct ct_error *err);

/* {"proto","hostIp","hostPort","containerPort","count"} */
json_t *publish_to_json(const struct publish_spec *p);

/* Two specs that would claim the same host port (same proto, overlapping host
 * port ranges, same or a wildcard address). Host port 0 never collides. */
int publish_collides(const struct publish_spec *a, const struct publish_spec *b);

#endif
