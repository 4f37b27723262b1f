/* The network as a whole: bridge.status, bridge.domains and bridge.teardown. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "netbridge.h"

static json_t *domains_json(const struct netbridge *nb)
{
	json_t *a = json_array();

	for (char **d = nb->domains; d && *d; d++)
		json_array_append_new(a, json_string(*d));
	return a;
}

static void route_status(struct ct_request *req, void *data)
{
	struct netbridge *nb = data;
	json_t *attachments = json_array();

	/* Oldest first, as they were attached. */
	for (struct nb_attachment *a = nb->attachments; a; a = a->next)
		json_array_insert_new(attachments, 0, nb_attachment_json(a, false));
	ct_request_reply(req,
			 json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:o, s:o, s:o}", "network",
				   nb->network, "bridge", nb->bridge, "subnet", nb->subnet,
				   "gateway", nb->gateway_text, "internal", nb->internal,
				   "tornDown", nb->torn_down, "mtu", (json_int_t)nb->mtu, "domains",
				   domains_json(nb), "attachments", attachments, "dns",
				   nb_dns_stats_json(nb)),
			 NULL, 0);
}

static void route_domains(struct ct_request *req, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct netbridge *nb = data;
	char **domains = NULL;

	if (nb->torn_down) {
		ct_request_error(req, CT_ERR_UNAVAILABLE,
				 "network %s has been torn down; create it again", nb->network);
		return;
	}
	if (ct_json_get_string_array(ct_request_body(req), "domains", true, &domains,
				     "bridge.domains request", &err) < 0 ||
	    nb_set_domains(nb, domains, &err) < 0 || nb_state_save(nb, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	log_info("network %s: DNS domains replaced", nb->network);
	ct_request_reply(
	    req, json_pack("{s:s, s:o}", "network", nb->network, "domains", domains_json(nb)), NULL,
	    0);
}

static void route_teardown(struct ct_request *req, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct netbridge *nb = data;
	bool force = false;
	size_t n = 0;

	if (ct_json_get_bool(ct_request_body(req), "force", false, &force,
			     "bridge.teardown request", &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	for (struct nb_attachment *a = nb->attachments; a; a = a->next)
		n++;
	if (n > 0 && !force) {
		ct_request_error(req, CT_ERR_CONFLICT,
				 "network %s still has %zu attached containers (the first is %s); "
				 "stop or disconnect them, or pass force to detach them",
				 nb->network, n, nb->attachments->container);
		return;
	}
	while (nb->attachments)
		if (nb_detach(nb, nb->attachments, &err) < 0) {
			ct_error_prefix(&err, "tearing down network %s", nb->network);
			ct_request_fail(req, &err);
			return;
		}
	/* The DNS sockets are bound to the gateway address, which goes with the bridge. */
	nb_dns_stop(nb);
	nb_reaps_now(nb);
	if (nb_network_remove(nb, &err) < 0 || nb_state_remove(nb, &err) < 0) {
		_cleanup_error_ struct ct_error dns_err = CT_ERROR_INIT;
		/* The network may still be there: keep answering its names. */
		if (nb_dns_start(nb, &dns_err) < 0)
			log_warn("%s", ct_error_message(&dns_err));
		ct_error_prefix(&err, "tearing down network %s", nb->network);
		ct_request_fail(req, &err);
		return;
	}
	nb->torn_down = true;
	log_info("network %s: torn down", nb->network);
	ct_request_reply(req, json_pack("{s:s}", "network", nb->network), NULL, 0);
}

void nb_register_routes(struct netbridge *nb)
{
	ct_server_route(nb->svc->server, "bridge.status", route_status, nb);
	ct_server_route(nb->svc->server, "bridge.domains", route_domains, nb);
	ct_server_route(nb->svc->server, "bridge.teardown", route_teardown, nb);
}
