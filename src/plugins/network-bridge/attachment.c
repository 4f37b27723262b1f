/* An attached container in memory: lifetime, lookup and its JSON form (shared by
 * bridge.status and the state file). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "netbridge.h"

void nb_attachment_free(struct nb_attachment *att)
{
	free(att->container);
	cleanup_strvp(&att->names);
	nb_ports_free(att->ports, att->n_ports);
	free(att);
}

struct nb_attachment *nb_find(struct netbridge *nb, const char *container)
{
	for (struct nb_attachment *a = nb->attachments; a; a = a->next)
		if (strcmp(a->container, container) == 0)
			return a;
	return NULL;
}

void nb_unlink(struct netbridge *nb, struct nb_attachment *att)
{
	for (struct nb_attachment **p = &nb->attachments; *p; p = &(*p)->next)
		if (*p == att) {
			*p = att->next;
			att->next = NULL;
			return;
		}
}

json_t *nb_attachment_json(const struct nb_attachment *att, bool with_handles)
{
	json_t *names = json_array();
	json_t *ports = json_array();

	for (char **n = att->names; n && *n; n++)
		json_array_append_new(names, json_string(*n));
	for (size_t i = 0; i < att->n_ports; i++)
		json_array_append_new(ports, nb_port_json(&att->ports[i], with_handles));
	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:o}", "container", att->container, "names",
			 names, "address", att->address, "hostInterface", att->host_iface, "mac",
			 att->mac, "ports", ports);
}

/* Host names as RFC 1123 allows them, plus '_' (docker accepts it in container names):
 * labels of 1 to 63 such bytes, 253 bytes in all. Anything else could never be asked for
 * in a DNS query, or would need escaping in one. */
bool nb_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}
