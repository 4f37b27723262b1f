/* The host's view of container names: a DNS server on 127.0.0.1:2053 that
 * answers <name>.<domain> with a running container's first address, for every
 * DNS domain (the dns.domain property and those from `system dns create`), and
 * the dns.create, dns.delete and dns.list routes. Names outside our domains are
 * refused: this server is for the host's stub resolver to send one domain to,
 * not a general resolver. CONTAINER_DNS_ADDRESS ("127.0.0.1:2053") moves it,
 * for instances side by side; a port that is taken is logged, not fatal. */
#include <arpa/inet.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apiserver.h"
#include "cleanup.h"
#include "container_db.h"
#include "dns.h"
#include "json_util.h"
#include "log.h"
#include "network_db.h"
#include "networks.h"
#include "util.h"

#define DNS_HOST_DEFAULT    "127.0.0.1:2053"
#define RESOLVED_DROPIN_DIR "/etc/systemd/resolved.conf.d"

struct dns_host {
	struct dns_server *server;
	char address[64];
	uint16_t port;
	/* The DNS domains, read at most once a second: a flood of queries must not
	 * cost a state.db read and two config-file parses per packet. `system dns
	 * create|delete` and the dns.domain property drop them at once; an edit of
	 * a config file shows within a second. */
	json_t *domains;
	uint64_t domains_read_ms;
	json_t *names; /* {container name: its first address}, see refresh_names */
	uint64_t names_generation;
};

#define DOMAINS_MAX_AGE_MS 1000

static json_t *current_domains(struct apiserver *api)
{
	struct dns_host *h = api->dns;
	uint64_t now = ct_now_monotonic_ms();

	if (!h)
		return networks_dns_domains(api);
	if (!h->domains || now - h->domains_read_ms >= DOMAINS_MAX_AGE_MS) {
		json_decref(h->domains);
		h->domains = networks_dns_domains(api);
		h->domains_read_ms = now;
	}
	return json_incref(h->domains);
}

void dns_host_forget_domains(struct apiserver *api)
{
	if (api->dns) {
		json_decref(api->dns->domains);
		api->dns->domains = NULL;
	}
}

/* Every running container's name and first address, rebuilt when an address
 * is taken or released (alloc_db_generation): a query is a lookup in memory,
 * not two state.db reads, so a flood of queries costs little. */
static void refresh_names(struct apiserver *api)
{
	struct dns_host *h = api->dns;
	struct container_record *all = NULL;
	size_t n = 0;
	_cleanup_json_ json_t *allocs = NULL;
	json_t *a;
	size_t i;

	json_decref(h->names);
	h->names = json_object();
	h->names_generation = alloc_db_generation();
	if (container_db_list(api->db, &all, &n, NULL) < 0 ||
	    alloc_db_list(api->db, NULL, NULL, &allocs, NULL) < 0) {
		h->names_generation = 0;
		container_records_free(all, n);
		return;
	}
	/* Rows come by container, eth0 first: the first one is the address. */
	_cleanup_json_ json_t *first = json_object();
	json_array_foreach (allocs, i, a) {
		const char *id = json_string_value(json_object_get(a, "containerId"));
		if (id && !json_object_get(first, id))
			json_object_set(first, id, json_object_get(a, "address"));
	}
	for (i = 0; i < n; i++) {
		json_t *addr = json_object_get(first, all[i].id);
		if (addr)
			json_object_set(h->names, all[i].name, addr);
	}
	container_records_free(all, n);
}

static bool container_address(struct apiserver *api, const char *name, struct in_addr *out)
{
	struct dns_host *h = api->dns;

	if (h->names_generation != alloc_db_generation())
		refresh_names(api);
	const char *addr = json_string_value(json_object_get(h->names, name));
	return addr && inet_pton(AF_INET, addr, out) == 1;
}

static int lookup(void *data, const char *name, int qtype, struct dns_answer *out)
{
	struct apiserver *api = data;
	_cleanup_json_ json_t *domains = current_domains(api);
	json_t *d;
	size_t i, nlen = strlen(name);

	json_array_foreach (domains, i, d) {
		const char *domain = json_string_value(d);
		size_t dlen = strlen(domain);
		if (nlen <= dlen + 1 || name[nlen - dlen - 1] != '.' ||
		    strcasecmp(name + nlen - dlen, domain) != 0)
			continue;
		_cleanup_free_ char *host = xstrndup(name, nlen - dlen - 1);
		struct in_addr a;
		if (!container_address(api, host, &a))
			return DNS_LOOKUP_NOT_FOUND;
		if (qtype == DNS_TYPE_A || qtype == DNS_TYPE_ANY)
			dns_answer_add(out, AF_INET, &a);
		return DNS_LOOKUP_FOUND;
	}
	return DNS_LOOKUP_NOT_OURS;
}

void dns_host_start(struct apiserver *api)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *spec = getenv("CONTAINER_DNS_ADDRESS") ?: DNS_HOST_DEFAULT;
	struct dns_host *h = xcalloc(1, sizeof(*h));
	const char *colon = strrchr(spec, ':');

	snprintf(h->address, sizeof(h->address), "%.*s",
		 colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	h->port = colon ? (uint16_t)atoi(colon + 1) : 2053;
	struct dns_server_config cfg = {
	    .address = h->address,
	    .port = h->port,
	    .tcp = true,
	    .lookup = lookup,
	    .data = api,
	};
	if (!(h->server = dns_server_new(api->loop, &cfg, &err))) {
		log_warn("container names won't resolve from the host: DNS on %s: %s", spec,
			 ct_error_message(&err));
		free(h);
		return;
	}
	h->port = dns_server_port(h->server);
	log_info("answering <name>.<domain> on %s port %u", h->address, h->port);
	api->dns = h;
}

void dns_host_stop(struct apiserver *api)
{
	if (!api->dns)
		return;
	dns_server_free(api->dns->server);
	json_decref(api->dns->domains);
	json_decref(api->dns->names);
	free(api->dns);
	api->dns = NULL;
}

/* ---- domains ----------------------------------------------------------------- */

static bool domain_valid(const char *d)
{
	size_t len = strlen(d), label = 0;

	if (len == 0 || len > 200 || d[0] == '.' || d[len - 1] == '.' || d[0] == '-')
		return false;
	for (const char *p = d; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= '0' && *p <= '9') && *p != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static bool resolved_running(void)
{
	return access("/run/systemd/resolve/io.systemd.Resolve", F_OK) == 0;
}

static char *resolved_dropin(const char *domain)
{
	return xasprintf("%s/container-%s.conf", RESOLVED_DROPIN_DIR, domain);
}

static void run_quietly(char *const argv[])
{
	pid_t pid;
	/* Reaped with the plugins' children (waitpid(-1) on SIGCHLD). */
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		log_warn("running %s failed", argv[0]);
}

/* What a user does to resolve DOMAIN from the host: hooked into
 * systemd-resolved when it runs, otherwise the line to add. */
static char *hook_domain(struct apiserver *api, const char *domain)
{
	char addr[80];
	snprintf(addr, sizeof(addr), "%s:%u", api->dns ? api->dns->address : "127.0.0.1",
		 api->dns ? api->dns->port : 2053);
	if (resolved_running() && getuid() == 0) {
		_cleanup_free_ char *path = resolved_dropin(domain);
		_cleanup_free_ char *text =
		    xasprintf("# Written by container (system dns create %s)\n[Resolve]\n"
			      "DNS=%s\nDomains=~%s\n",
			      domain, addr, domain);
		struct ct_error err = CT_ERROR_INIT;
		if (ct_mkdir_p(RESOLVED_DROPIN_DIR, 0755, &err) == 0 &&
		    ct_write_file_atomic(path, text, strlen(text), 0644, &err) == 0) {
			char *argv[] = {"systemctl", "try-reload-or-restart", "systemd-resolved",
					NULL};
			run_quietly(argv);
			return xasprintf("systemd-resolved now sends *.%s to %s (%s)", domain, addr,
					 path);
		}
		log_warn("hooking %s into systemd-resolved: %s", domain, ct_error_message(&err));
		ct_error_clear(&err);
	}
	return xasprintf("To resolve *.%s from this host, send that domain to %s; with dnsmasq "
			 "add the line:\n  server=/%s/%s#%u\nor query it directly: dig @%s -p %u "
			 "NAME.%s",
			 domain, addr, domain, api->dns ? api->dns->address : "127.0.0.1",
			 api->dns ? api->dns->port : 2053,
			 api->dns ? api->dns->address : "127.0.0.1",
			 api->dns ? api->dns->port : 2053, domain);
}

static void route_create(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *domain = NULL;

	if (ct_json_get_string(ct_request_body(req), "domain", true, &domain, "request body",
			       &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	if (!domain_valid(domain)) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT,
				 "invalid DNS domain \"%s\": lowercase labels of letters, digits "
				 "and '-' separated by dots, like test or dev.local",
				 domain);
		return;
	}
	_cleanup_json_ json_t *current = networks_dns_domains(api);
	size_t i;
	json_t *d;
	json_array_foreach (current, i, d)
		if (strcmp(json_string_value(d), domain) == 0) {
			ct_request_error(req, CT_ERR_EXISTS, "the DNS domain %s exists already",
					 domain);
			return;
		}
	if (dns_db_insert(api->db, domain, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	dns_host_forget_domains(api);
	log_info("DNS domain %s created", domain);
	networks_push_domains(api);
	_cleanup_free_ char *hint = hook_domain(api, domain);
	ct_request_reply(req, json_pack("{s:s, s:s}", "domain", domain, "hint", hint), NULL, 0);
}

static void route_delete(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *main_domain = apiserver_property(api, "dns.domain");
	const char *domain = NULL;

	if (ct_json_get_string(ct_request_body(req), "domain", true, &domain, "request body",
			       &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	if (main_domain && strcmp(main_domain, domain) == 0) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT,
				 "%s is the default DNS domain (property dns.domain); set another "
				 "with `container system property set dns.domain NAME` first",
				 domain);
		return;
	}
	if (dns_db_delete(api->db, domain, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_free_ char *dropin = resolved_dropin(domain);
	if (unlink(dropin) == 0 && resolved_running()) {
		char *argv[] = {"systemctl", "try-reload-or-restart", "systemd-resolved", NULL};
		run_quietly(argv);
	}
	dns_host_forget_domains(api);
	log_info("DNS domain %s deleted", domain);
	networks_push_domains(api);
	ct_request_reply(req, json_pack("{s:s}", "domain", domain), NULL, 0);
}

static void route_list(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_json_ json_t *domains = networks_dns_domains(api);
	_cleanup_free_ char *main_domain = apiserver_property(api, "dns.domain");
	json_t *out = json_array(), *d;
	size_t i;

	json_array_foreach (domains, i, d)
		json_array_append_new(
		    out, json_pack("{s:O, s:b}", "domain", d, "default",
				   main_domain && strcmp(main_domain, json_string_value(d)) == 0));
	ct_request_reply(req,
			 json_pack("{s:o, s:s, s:i}", "domains", out, "address",
				   api->dns ? api->dns->address : "", "port",
				   api->dns ? (int)api->dns->port : 0),
			 NULL, 0);
}

void routes_dns_register(struct apiserver *api)
{
	ct_server_route(api->server, "dns.create", route_create, api);
	ct_server_route(api->server, "dns.delete", route_delete, api);
	ct_server_route(api->server, "dns.list", route_list, api);
}
