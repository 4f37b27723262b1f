/* container-network-bridge: the plugin program of one network.
 *
 *   container-network-bridge start --socket PATH --network NAME --bridge BRIDGE
 *       --subnet CIDR --gateway IP --state-dir DIR [--internal] [--mtu N] [--domain D]…
 *
 * Starting is idempotent: a plugin restarted while containers run finds their veths,
 * rules and state file and carries on without touching them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"
#include "netbridge.h"
#include "nft.h"
#include "util.h"

#define PROGRAM "container-network-bridge"

static int parse_uint(const char *flag, const char *text, unsigned long max, unsigned int *out,
		      struct ct_error *err)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || !*text || *end || v > max || text[0] == '-')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s %s: expected a number from 0 to %lu", flag, text, max);
	*out = (unsigned int)v;
	return 0;
}

static int parse_subnet(struct netbridge *nb, struct ct_error *err)
{
	_cleanup_free_ char *copy = xstrdup(nb->subnet);
	char *slash = strchr(copy, '/');
	int family;

	if (nft_parse_cidr(nb->subnet, &family, err) < 0)
		return ct_error_prefix(err, "--subnet");
	if (family != AF_INET)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "--subnet %s: only IPv4 networks are supported", nb->subnet);
	*slash = '\0';
	if (inet_pton(AF_INET, copy, &nb->subnet_addr) != 1 ||
	    parse_uint("--subnet", slash + 1, 30, &nb->prefixlen, err) < 0)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "--subnet %s: expected an IPv4 CIDR with a prefix of at most 30", nb->subnet);
	if (inet_pton(AF_INET, nb->gateway_text, &nb->gateway) != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--gateway %s: expected an IPv4 address", nb->gateway_text);
	uint32_t mask = htonl(~0u << (32 - nb->prefixlen));
	uint32_t host = ntohl(nb->gateway.s_addr & ~mask);
	if ((nb->gateway.s_addr & mask) != nb->subnet_addr.s_addr || host == 0 ||
	    host == ntohl(~mask))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--gateway %s is not a host address of --subnet %s",
				    nb->gateway_text, nb->subnet);
	return 0;
}

static int parse_args(struct netbridge *nb, int argc, char **argv, struct ct_error *err)
{
	_cleanup_strv_ char **domains = xcalloc(argc + 1, sizeof(char *));
	size_t n_domains = 0;

	for (int i = 0; i < argc; i++) {
		const char *flag = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(flag, "--internal") == 0) {
			nb->internal = true;
			continue;
		}
		/* The contract's own flags come first, but tolerate them among ours. */
		if (strcmp(flag, "--debug") == 0) {
			ct_log_set_level(CT_LOG_DEBUG);
			continue;
		}
		if (!value)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: unknown flag or missing value", flag);
		i++;
		if (strcmp(flag, "--network") == 0)
			nb->network = value;
		else if (strcmp(flag, "--bridge") == 0)
			nb->bridge = value;
		else if (strcmp(flag, "--subnet") == 0)
			nb->subnet = value;
		else if (strcmp(flag, "--gateway") == 0)
			nb->gateway_text = value;
		else if (strcmp(flag, "--state-dir") == 0)
			nb->state_dir = xstrdup(value);
		else if (strcmp(flag, "--mtu") == 0) {
			if (parse_uint(flag, value, 65535, &nb->mtu, err) < 0)
				return -1;
		} else if (strcmp(flag, "--resources") == 0)
			continue;
		else if (strcmp(flag, "--domain") == 0)
			domains[n_domains++] = xstrdup(value);
		else
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "unknown flag %s",
					    flag);
	}
	if (!nb->network || !nb->bridge || !nb->subnet || !nb->gateway_text || !nb->state_dir)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "usage: " PROGRAM " start --socket PATH --network NAME --bridge "
		    "BRIDGE --subnet CIDR --gateway IP --state-dir DIR [--internal] "
		    "[--mtu N] [--domain D]…");
	if (nft_check_network_name(nb->network, err) < 0 ||
	    nft_check_bridge_name(nb->bridge, err) < 0 || parse_subnet(nb, err) < 0)
		return -1;
	nb->domains_from_command_line = n_domains > 0;
	return nb_set_domains(nb, move_ptr(domains), err);
}

static int start(struct netbridge *nb, struct ct_error *err)
{
	if (ct_mkdir_p(nb->state_dir, 0700, err) < 0)
		return ct_error_prefix(err, "creating the state folder");
	nb->state_path = xasprintf("%s/attachments.json", nb->state_dir);
	if (nb_network_setup(nb, err) < 0)
		return ct_error_prefix(err, "setting up network %s", nb->network);
	if (nb_state_load(nb, err) < 0)
		return ct_error_prefix(err, "restoring the attachments of network %s", nb->network);
	if (nb_dns_start(nb, err) < 0)
		return ct_error_prefix(err, "network %s", nb->network);
	return 0;
}

static size_t count_attachments(const struct netbridge *nb)
{
	size_t n = 0;

	for (const struct nb_attachment *a = nb->attachments; a; a = a->next)
		n++;
	return n;
}

static void netbridge_fini(struct netbridge *nb)
{
	nb_dns_stop(nb);
	nb_reaps_free(nb);
	while (nb->attachments) {
		struct nb_attachment *att = nb->attachments;
		/* Only our memory and descriptors: the veths and rules stay for the next run. */
		nb_unlink(nb, att);
		nb_attachment_free(att);
	}
	cleanup_strvp(&nb->domains);
	free(nb->state_dir);
	free(nb->state_path);
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_service svc;
	struct netbridge nb = {.svc = &svc};
	int rc = 1;

	if (ct_service_init(&svc, PROGRAM, argc, argv, &err) < 0) {
		fprintf(stderr, PROGRAM ": %s\n", ct_error_message(&err));
		goto out;
	}
	if (parse_args(&nb, svc.argc, svc.argv, &err) < 0) {
		log_error("%s", ct_error_message(&err));
		fprintf(stderr, PROGRAM ": %s\n", ct_error_message(&err));
		goto out;
	}
	/* One reservation socket per published host port: a port range needs
	 * many descriptors. */
	ct_raise_nofile_limit();
	umask(077);
	if (start(&nb, &err) < 0) {
		log_error("%s", ct_error_message(&err));
		fprintf(stderr, PROGRAM ": %s\n", ct_error_message(&err));
		goto out;
	}
	nb_register_attach_routes(&nb);
	nb_register_routes(&nb);
	log_info("network %s: bridge %s, subnet %s, gateway %s%s, %zu attachments restored",
		 nb.network, nb.bridge, nb.subnet, nb.gateway_text, nb.internal ? ", internal" : "",
		 count_attachments(&nb));
	if (ct_service_run(&svc, &err) < 0)
		log_error("%s", ct_error_message(&err));
	else
		rc = 0;
out:
	netbridge_fini(&nb);
	ct_service_fini(&svc);
	return rc;
}
