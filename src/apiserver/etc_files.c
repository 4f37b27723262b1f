#include "etc_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "network_db.h"
#include "networks.h"
#include "util.h"

static const char *const files[] = {"hosts", "hostname", "resolv.conf"};

json_t *etc_files_mounts(const char *bundle, json_t *options)
{
	json_t *m = json_array();

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (strcmp(files[i], "resolv.conf") == 0 &&
		    json_is_true(json_object_get(options, "noDns")))
			continue;
		_cleanup_free_ char *src = xasprintf("%s/etc/%s", bundle, files[i]);
		_cleanup_free_ char *dst = xasprintf("/etc/%s", files[i]);
		json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "destination",
						   dst, "type", "bind", "source", src, "options",
						   "rbind", "nosuid", "nodev", "noexec"));
	}
	return m;
}

/* Appends the nameserver lines of the host's resolv.conf; loopback servers
 * (systemd-resolved's 127.0.0.53) only when the container shares the host's
 * network, as nobody answers on its own loopback. */
static void host_nameservers(FILE *out, bool keep_loopback)
{
	_cleanup_fclose_ FILE *in = fopen("/etc/resolv.conf", "re");
	char line[512];

	while (in && fgets(line, sizeof(line), in)) {
		char addr[128];
		if (sscanf(line, " nameserver %127s", addr) != 1)
			continue;
		if (!keep_loopback && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0))
			continue;
		fprintf(out, "nameserver %s\n", addr);
	}
}

static void strings_line(FILE *out, const char *keyword, json_t *values, const char *first)
{
	size_t i;
	json_t *v;

	if (!first && json_array_size(values) == 0)
		return;
	fputs(keyword, out);
	if (first)
		fprintf(out, " %s", first);
	json_array_foreach (values, i, v)
		fprintf(out, " %s", json_string_value(v));
	fputc('\n', out);
}

static int write_one(const char *dir, const char *name, const char *text, size_t len,
		     struct ct_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	return ct_write_file_replace(path, text, len, 0644, err);
}

int etc_files_write(struct apiserver *api, const char *id, const char *hostname,
		    json_t *options, struct ct_error *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/containers/%s/etc", api->paths.app_root, id);
	_cleanup_json_ json_t *allocs = NULL;
	const char *network = json_string_value(json_object_get(options, "network")) ?: "none";
	bool host = strcmp(network, "host") == 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (ct_mkdir_p(dir, 0755, err) < 0 || alloc_db_list(api->db, NULL, id, &allocs, err) < 0)
		return -1;

	/* hosts: localhost, then the container's own names on each address. */
	if (!(f = open_memstream(&text, &len)))
		return ct_error_errno(err, CT_ERR_INTERNAL, "open_memstream");
	fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	size_t i;
	json_t *a;
	json_array_foreach (allocs, i, a)
		fprintf(f, "%s\t%s\n", json_string_value(json_object_get(a, "address")), hostname);
	fclose(f);
	int rc = write_one(dir, "hosts", text, len, err);
	free(text);
	if (rc < 0)
		return -1;

	_cleanup_free_ char *h = xasprintf("%s\n", hostname);
	if (write_one(dir, "hostname", h, strlen(h), err) < 0)
		return -1;

	/* resolv.conf: the first network's DNS server (its gateway) answers the
	 * names of the containers on it and forwards the rest. */
	text = NULL;
	len = 0;
	if (!(f = open_memstream(&text, &len)))
		return ct_error_errno(err, CT_ERR_INTERNAL, "open_memstream");
	fprintf(f, "# Written by container for this container; changes last until it stops.\n");
	json_t *dns = json_object_get(options, "dns");
	_cleanup_free_ char *domain = NULL;
	const char *dns_domain = json_string_value(json_object_get(options, "dnsDomain"));
	if (json_array_size(dns) > 0) {
		json_array_foreach (dns, i, a)
			fprintf(f, "nameserver %s\n", json_string_value(a));
	} else if (json_array_size(allocs) > 0) {
		_cleanup_json_ json_t *net = NULL;
		if (network_db_get(api->db,
				   json_string_value(json_object_get(json_array_get(allocs, 0),
								     "network")),
				   &net, NULL) == 0)
			fprintf(f, "nameserver %s\n",
				json_string_value(json_object_get(net, "gateway")));
	} else {
		host_nameservers(f, host);
	}
	if (!host && !dns_domain) {
		domain = apiserver_property(api, "dns.domain");
		dns_domain = domain;
	}
	strings_line(f, "search", json_object_get(options, "dnsSearch"),
		     dns_domain && *dns_domain ? dns_domain : NULL);
	strings_line(f, "options", json_object_get(options, "dnsOptions"), NULL);
	fclose(f);
	rc = write_one(dir, "resolv.conf", text, len, err);
	free(text);
	return rc;
}
