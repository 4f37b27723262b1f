#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

static int validate_domain(const char *value, struct ct_error *err)
{
	size_t label = 0, len = strlen(value);

	if (len == 0 || len > 253)
		goto bad;
	for (const char *p = value; *p; p++) {
		if (*p == '.') {
			/* Labels neither start nor end with '-' (RFC 1123). */
			if (label == 0 || p[-1] == '-')
				goto bad;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || (*p == '-' && label > 0)) || ++label > 63)
			goto bad;
	}
	if (label == 0 || value[len - 1] == '-')
		goto bad;
	return 0;
bad:
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "\"%s\" is not a valid DNS domain (labels of letters, digits and '-' "
			    "separated by dots, such as \"test\" or \"containers.internal\")",
			    value);
}

static int validate_subnet(const char *value, struct ct_error *err)
{
	char addr[INET_ADDRSTRLEN + 1];
	const char *slash = strchr(value, '/');
	struct in_addr in;
	char *end;
	long prefix;

	if (!slash || (size_t)(slash - value) >= sizeof(addr))
		goto bad;
	memcpy(addr, value, slash - value);
	addr[slash - value] = '\0';
	/* strtol would take " 8" and "+8". */
	if (!isdigit((unsigned char)slash[1]))
		goto bad;
	prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || prefix < 8 || prefix > 30 || inet_pton(AF_INET, addr, &in) != 1)
		goto bad;
	uint32_t host_bits = prefix == 32 ? 0 : (0xffffffffu >> prefix);
	if (ntohl(in.s_addr) & host_bits)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"%s\" has host bits set; did you mean the network address?",
				    value);
	return 0;
bad:
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "\"%s\" is not an IPv4 subnet in CIDR form with a prefix from /8 to /30, "
			    "such as 192.168.64.0/24",
			    value);
}

static int validate_registry(const char *value, struct ct_error *err)
{
	const char *colon = strrchr(value, ':');
	size_t host_len = colon ? (size_t)(colon - value) : strlen(value);

	if (host_len == 0)
		goto bad;
	/* As in image references: a registry host has a '.' or a port, or is
	 * localhost; anything else reads as a docker.io path. */
	if (!memchr(value, '.', host_len) && !colon &&
	    !(host_len == strlen("localhost") && strncmp(value, "localhost", host_len) == 0))
		goto bad;
	for (size_t i = 0; i < host_len; i++)
		if (!(isalnum((unsigned char)value[i]) || value[i] == '.' || value[i] == '-'))
			goto bad;
	if (colon) {
		char *end;
		if (!isdigit((unsigned char)colon[1]))
			goto bad;
		long port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port < 1 || port > 65535)
			goto bad;
	}
	return 0;
bad:
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "\"%s\" is not a registry host (host or host:port, such as docker.io "
			    "or localhost:5000)",
			    value);
}

static int validate_count(const char *value, struct ct_error *err)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)value[0]))
		goto bad;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || *end || v == 0)
		goto bad;
	return 0;
bad:
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "\"%s\" is not a positive whole number", value);
}

static const struct ct_property_def defs[] = {
	{"dns.domain", "test", "DNS domain under which containers answer as <name>.<domain>",
	 validate_domain},
	{"network.subnet", "192.168.64.0/24", "IPv4 subnet of the default network",
	 validate_subnet},
	{"registry.domain", "docker.io", "registry for image references that name none",
	 validate_registry},
	/* A decompression bomb or a layer of millions of empty files stops here;
	 * unpack.h's defaults. */
	{"image.unpack.maxBytes", "68719476736",
	 "most bytes one layer may unpack to (refused beyond, naming the entry)", validate_count},
	{"image.unpack.maxEntries", "2097152", "most tar entries one layer may hold",
	 validate_count},
};

const struct ct_property_def *ct_property_defs(size_t *count)
{
	*count = ARRAY_SIZE(defs);
	return defs;
}

const struct ct_property_def *ct_property_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++)
		if (strcmp(defs[i].key, key) == 0)
			return &defs[i];
	return NULL;
}

int ct_property_validate(const char *key, const char *value, struct ct_error *err)
{
	const struct ct_property_def *def = ct_property_find(key);

	if (!def) {
		char known[512] = "";
		for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
			if (i)
				strncat(known, ", ", sizeof(known) - strlen(known) - 1);
			strncat(known, defs[i].key, sizeof(known) - strlen(known) - 1);
		}
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0, "unknown property \"%s\"; known: %s", key,
				    known);
	}
	if (def->validate(value, err) < 0)
		return ct_error_prefix(err, "property %s", key);
	return 0;
}

const char *ct_config_system_path(void)
{
	const char *p = getenv("CONTAINER_SYSTEM_CONFIG");

	return p && *p ? p : "/etc/container/config.json";
}

char *ct_config_user_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg)
		return xasprintf("%s/container/config.json", xdg);
	return xasprintf("%s/.config/container/config.json", home ? home : "/root");
}

static void merge_file(json_t *out, const char *path, void (*warn)(const char *message))
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *root = NULL;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (ct_read_file(path, 1 << 20, &text, NULL, &err) < 0) {
		if (!ct_error_is(&err, CT_ERR_NOT_FOUND) && warn)
			warn(ct_error_message(&err));
		return;
	}
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		_cleanup_free_ char *m =
			root ? xasprintf("%s: must be a JSON object of \"key\": \"value\"; ignored", path)
			     : xasprintf("%s: malformed JSON (%s, line %d); ignored", path, jerr.text,
					 jerr.line);
		if (warn)
			warn(m);
		return;
	}
	json_object_foreach (root, key, v) {
		if (!json_is_string(v)) {
			_cleanup_free_ char *m =
				xasprintf("%s: \"%s\" must be a string; ignored", path, key);
			if (warn)
				warn(m);
			continue;
		}
		if (ct_property_validate(key, json_string_value(v), &err) < 0) {
			_cleanup_free_ char *m =
				xasprintf("%s: %s; ignored", path, ct_error_message(&err));
			ct_error_clear(&err);
			if (warn)
				warn(m);
			continue;
		}
		json_object_set_new(out, key,
				    json_pack("{s:O, s:s}", "value", v, "source", path));
	}
}

json_t *ct_config_load_files(void (*warn)(const char *message))
{
	json_t *out = json_object();
	_cleanup_free_ char *user = ct_config_user_path();

	merge_file(out, ct_config_system_path(), warn);
	merge_file(out, user, warn);
	return out;
}
