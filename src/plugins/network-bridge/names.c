/* DNS for the network: the server on the gateway address answers the names of the
 * containers attached to this network (and only this one, so networks stay separate), as
 * `name` and `name.<domain>`, and forwards everything else to the host's resolvers. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "dns.h"
#include "log.h"
#include "netbridge.h"
#include "util.h"

#define RESOLV_CONF "/etc/resolv.conf"

static bool attachment_has_name(const struct netbridge *nb, const struct nb_attachment *att,
				const char *name)
{
	for (char **n = att->names; n && *n; n++) {
		if (dns_name_matches_host(name, *n, NULL))
			return true;
		for (char **d = nb->domains; d && *d; d++)
			if (dns_name_matches_host(name, *n, *d))
				return true;
	}
	return false;
}

/* name is lowercased; domains are stored lowercased. */
static bool in_our_domains(const struct netbridge *nb, const char *name)
{
	size_t len = strlen(name);

	for (char **d = nb->domains; d && *d; d++) {
		size_t dlen = strlen(*d);
		if (len == dlen && strcmp(name, *d) == 0)
			return true;
		if (len > dlen && name[len - dlen - 1] == '.' && strcmp(name + len - dlen, *d) == 0)
			return true;
	}
	return false;
}

static int lookup(void *data, const char *name, int qtype, struct dns_answer *out)
{
	struct netbridge *nb = data;
	bool found = false;

	/* Every address goes in; the reply keeps those of the question's type, so an AAAA
	 * query for a known name gets NOERROR with no data rather than NXDOMAIN (which
	 * would make resolvers give up on its A record too). */
	for (const struct nb_attachment *att = nb->attachments; att; att = att->next)
		if (attachment_has_name(nb, att, name)) {
			found = true;
			if (!dns_answer_add(out, AF_INET, &att->addr))
				break;
		}
	if (found)
		return DNS_LOOKUP_FOUND;
	if (in_our_domains(nb, name))
		return DNS_LOOKUP_NOT_FOUND;
	return DNS_LOOKUP_NOT_OURS;
}

int nb_dns_start(struct netbridge *nb, struct ct_error *err)
{
	struct dns_server_config cfg = {
	    .address = nb->gateway_text,
	    .port = 53,
	    .tcp = true,
	    .lookup = lookup,
	    .data = nb,
	    /* An internal network has no route out: names it doesn't know are refused
	     * rather than forwarded. */
	    .resolv_conf = nb->internal ? NULL : RESOLV_CONF,
	    /* We run in the host's namespace, where systemd-resolved's 127.0.0.53 is
	     * reachable (the containers' queries only ever reach us). */
	    .skip_loopback_nameservers = false,
	};

	if (cfg.resolv_conf && access(cfg.resolv_conf, F_OK) < 0) {
		log_warn("network %s: no %s; names that aren't containers' will be refused",
			 nb->network, RESOLV_CONF);
		cfg.resolv_conf = NULL;
	}
	nb->dns = dns_server_new(nb->svc->loop, &cfg, err);
	if (!nb->dns)
		return -1;
	log_info("network %s: DNS on %s port 53, %zu upstream resolvers", nb->network,
		 nb->gateway_text, dns_server_upstream_count(nb->dns));
	return 0;
}

void nb_dns_stop(struct netbridge *nb)
{
	if (nb->dns)
		dns_server_free(nb->dns);
	nb->dns = NULL;
}

json_t *nb_dns_stats_json(const struct netbridge *nb)
{
	struct dns_server_stats st;

	if (!nb->dns)
		return json_pack("{s:b}", "running", false);
	dns_server_get_stats(nb->dns, &st);
	return json_pack(
	    "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "running",
	    true, "upstreams", (json_int_t)dns_server_upstream_count(nb->dns), "queries",
	    (json_int_t)st.queries, "answered", (json_int_t)st.answered, "refused",
	    (json_int_t)st.refused, "forwarded", (json_int_t)st.forwarded, "forwardReplies",
	    (json_int_t)st.forward_replies, "forwardFailures", (json_int_t)st.forward_failures,
	    "pendingFull", (json_int_t)st.pending_full, "malformed", (json_int_t)st.malformed,
	    "truncated", (json_int_t)st.truncated, "sendErrors", (json_int_t)st.send_errors,
	    "tcpConnections", (json_int_t)st.tcp_connections, "tcpRejected",
	    (json_int_t)st.tcp_rejected);
}

int nb_set_domains(struct netbridge *nb, char **domains, struct ct_error *err)
{
	_cleanup_strv_ char **owned = domains;

	for (char **d = owned; d && *d; d++) {
		size_t len = strlen(*d);
		/* "test." and "test" are the same domain. */
		if (len > 1 && (*d)[len - 1] == '.')
			(*d)[len - 1] = '\0';
		if (!nb_name_valid(*d))
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "DNS domain \"%s\": expected labels of letters, digits, "
			    "'-' and '_' separated by dots, like \"test\"",
			    *d);
		for (char *p = *d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	cleanup_strvp(&nb->domains);
	nb->domains = owned ? move_ptr(owned) : xcalloc(1, sizeof(char *));
	return 0;
}
