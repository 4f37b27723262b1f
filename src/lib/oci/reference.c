/* The grammar, from the distribution spec and docker's reference package:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ host [ ":" port ] "/" ] component ( "/" component )*
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   host       := label ( "." label )*  |  "[" ipv6 "]"
 *   label      := [A-Za-z0-9] ( [A-Za-z0-9-]* [A-Za-z0-9] )?
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *
 * with the registry and repository together at most 255 characters after normalisation
 * (docker counts "docker.io/library/" too). */
#include "oci/reference.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "oci/digest.h"

#define LEGACY_DOCKER_HUB    "index.docker.io"
#define OFFICIAL_REPO_PREFIX "library/"

__attribute__((format(printf, 3, 4))) static int invalid(struct ct_error *err, const char *ref,
							 const char *fmt, ...)
{
	_cleanup_free_ char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	va_end(ap);
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "invalid reference \"%s\": %s", ref,
			    why ? why : "out of memory");
}

static int oom(struct ct_error *err)
{
	errno = ENOMEM;
	return ct_error_errno(err, CT_ERR_INTERNAL, "allocating memory");
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ASCII only, whatever the locale: the grammar is ASCII. */
static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool component_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t run = 0;

		while (i < len && is_lower_alnum(s[i])) {
			i++;
			run++;
		}
		if (run == 0)
			return false;
		if (i == len)
			return true;
		/* A separator: ".", "_", "__" or any number of "-", followed by more alnum. */
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < len && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == len)
			return false;
	}
	return false;
}

static bool label_valid(const char *s, size_t len)
{
	if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* Checks host[:port] (host possibly a bracketed IPv6 address) of length len. what says
 * whose host it is in messages ("registry", "default registry"). */
static int check_registry(struct ct_error *err, const char *ref, const char *what, const char *host,
			  size_t len)
{
	const char *end = host + len, *port = NULL;

	if (len == 0)
		return invalid(err, ref, "%s is empty", what);
	if (host[0] == '[') {
		const char *close = memchr(host, ']', len);
		char addr[INET6_ADDRSTRLEN];
		struct in6_addr in6;
		size_t addr_len;

		if (!close)
			return invalid(err, ref, "%s \"%.*s\": '[' without a closing ']'", what,
				       (int)len, host);
		addr_len = (size_t)(close - host - 1);
		if (addr_len == 0 || addr_len >= sizeof(addr))
			return invalid(err, ref, "%s \"%.*s\": not an IPv6 address", what, (int)len,
				       host);
		memcpy(addr, host + 1, addr_len);
		addr[addr_len] = '\0';
		if (inet_pton(AF_INET6, addr, &in6) != 1)
			return invalid(err, ref, "%s \"%.*s\": \"%s\" is not an IPv6 address", what,
				       (int)len, host, addr);
		if (close + 1 < end) {
			if (close[1] != ':')
				return invalid(err, ref,
					       "%s \"%.*s\": only \":<port>\" may follow an IPv6 "
					       "address in brackets",
					       what, (int)len, host);
			port = close + 2;
		}
	} else {
		const char *colon = memchr(host, ':', len);
		const char *name_end = colon ? colon : end;
		const char *label = host;

		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return invalid(err, ref,
				       "%s \"%.*s\": an IPv6 address must be in brackets, like "
				       "[::1]:5000",
				       what, (int)len, host);
		for (const char *p = host;; p++) {
			if (p < name_end && *p != '.')
				continue;
			if (!label_valid(label, (size_t)(p - label)))
				return invalid(err, ref,
					       "%s \"%.*s\": a host name is letters, digits and "
					       "'-', in labels separated by '.'",
					       what, (int)len, host);
			if (p == name_end)
				break;
			label = p + 1;
		}
		if (colon)
			port = colon + 1;
	}

	if (port) {
		size_t port_len = (size_t)(end - port);
		unsigned long value = 0;

		for (size_t i = 0; i < port_len && port_len <= 5; i++) {
			if (port[i] < '0' || port[i] > '9') {
				value = 0;
				break;
			}
			value = value * 10 + (unsigned long)(port[i] - '0');
		}
		if (port_len == 0 || port_len > 5 || value < 1 || value > 65535)
			return invalid(
			    err, ref, "%s \"%.*s\": port \"%.*s\" must be a number from 1 to 65535",
			    what, (int)len, host, (int)port_len, port);
	}
	return 0;
}

static int check_tag(struct ct_error *err, const char *ref, const char *tag, size_t len)
{
	if (len == 0)
		return invalid(err, ref, "tag is empty after ':'");
	if (len > OCI_REF_TAG_MAX)
		return invalid(err, ref, "tag is %zu characters long; the limit is %d", len,
			       OCI_REF_TAG_MAX);
	if (tag[0] == '.' || tag[0] == '-')
		return invalid(err, ref, "tag \"%.*s\" must not start with '%c'", (int)len, tag,
			       tag[0]);
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(tag[i]) && !strchr("_.-", tag[i]))
			return invalid(err, ref,
				       "tag \"%.*s\" may only contain letters, digits, '_', '.' "
				       "and '-'",
				       (int)len, tag);
	return 0;
}

static int check_repository(struct ct_error *err, const char *ref, const char *repo)
{
	const char *start = repo;

	for (const char *p = repo; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return invalid(err, ref, "repository name must be lowercase");
	for (const char *p = repo;; p++) {
		if (*p && *p != '/')
			continue;
		if (p == start)
			return invalid(err, ref,
				       "repository name \"%s\" has an empty path component", repo);
		if (!component_valid(start, (size_t)(p - start)))
			return invalid(err, ref,
				       "path component \"%.*s\" is invalid: use lowercase letters "
				       "and digits, separated by '.', '_', '__' or '-'",
				       (int)(p - start), start);
		if (!*p)
			break;
		start = p + 1;
	}
	return 0;
}

/* docker refuses a bare 64-hex string: it is an image ID, and taking it as a repository
 * name would make "container run <id>" pull from docker.io instead. */
static bool looks_like_image_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == OCI_DIGEST_SHA256_HEX_LEN;
}

static bool is_registry_component(const char *s, size_t len)
{
	return memchr(s, '.', len) || memchr(s, ':', len) ||
	       (len == strlen("localhost") && memcmp(s, "localhost", len) == 0);
}

static int set_registry(char **field, const char *registry, size_t len, struct ct_error *err)
{
	if (len == strlen(LEGACY_DOCKER_HUB) && memcmp(registry, LEGACY_DOCKER_HUB, len) == 0) {
		registry = OCI_REF_DOCKER_HUB;
		len = strlen(OCI_REF_DOCKER_HUB);
	}
	*field = strndup(registry, len);
	return *field ? 0 : oom(err);
}

int oci_ref_parse(const char *s, const char *default_registry, struct oci_ref *out,
		  struct ct_error *err)
{
	_cleanup_ref_ struct oci_ref ref = {0};
	const char *at, *last_slash, *last_colon, *slash, *repo;
	size_t name_len, repo_len, total;

	if (!s || !*s)
		return invalid(err, "", "reference is empty");
	if (looks_like_image_id(s))
		return invalid(err, s,
			       "a 64-character hex string is an image ID, not a repository name");
	if (!default_registry)
		default_registry = OCI_REF_DOCKER_HUB;

	at = strchr(s, '@');
	name_len = at ? (size_t)(at - s) : strlen(s);
	if (at) {
		if (!at[1])
			return invalid(err, s,
				       "'@' must be followed by a digest, like @sha256:<64 hex "
				       "digits>");
		if (oci_digest_validate(at + 1, err) < 0)
			return ct_error_prefix(err, "invalid reference \"%s\"", s);
		ref.digest = strdup(at + 1);
		if (!ref.digest)
			return oom(err);
	}

	/* A ':' is a tag separator only after the last '/'; before it, it is a port. */
	last_slash = memrchr(s, '/', name_len);
	last_colon = memrchr(s, ':', name_len);
	if (last_colon && (!last_slash || last_colon > last_slash)) {
		size_t tag_len = name_len - (size_t)(last_colon + 1 - s);

		if (check_tag(err, s, last_colon + 1, tag_len) < 0)
			return -1;
		ref.tag = strndup(last_colon + 1, tag_len);
		if (!ref.tag)
			return oom(err);
		name_len = (size_t)(last_colon - s);
	}
	if (name_len == 0)
		return invalid(err, s, "repository name is missing");

	slash = memchr(s, '/', name_len);
	if (slash && is_registry_component(s, (size_t)(slash - s))) {
		if (check_registry(err, s, "registry", s, (size_t)(slash - s)) < 0)
			return -1;
		if (set_registry(&ref.registry, s, (size_t)(slash - s), err) < 0)
			return -1;
		repo = slash + 1;
		repo_len = name_len - (size_t)(repo - s);
		if (repo_len == 0)
			return invalid(err, s, "repository name is missing after the registry");
	} else {
		if (check_registry(err, s, "default registry", default_registry,
				   strlen(default_registry)) < 0)
			return -1;
		/* The full name must read back the same: a registry without '.' or
		 * ':' (and not localhost) would read back as a docker.io path. */
		if (!is_registry_component(default_registry, strlen(default_registry)))
			return invalid(err, s,
				       "the default registry must contain '.' or ':' or be localhost");
		if (set_registry(&ref.registry, default_registry, strlen(default_registry), err) <
		    0)
			return -1;
		repo = s;
		repo_len = name_len;
	}

	if (strcmp(ref.registry, OCI_REF_DOCKER_HUB) == 0 && !memchr(repo, '/', repo_len)) {
		if (asprintf(&ref.repository, "%s%.*s", OFFICIAL_REPO_PREFIX, (int)repo_len, repo) <
		    0) {
			ref.repository = NULL;
			return oom(err);
		}
	} else {
		ref.repository = strndup(repo, repo_len);
		if (!ref.repository)
			return oom(err);
	}
	if (check_repository(err, s, ref.repository) < 0)
		return -1;
	total = strlen(ref.registry) + 1 + strlen(ref.repository);
	if (total > OCI_REF_NAME_MAX)
		return invalid(err, s,
			       "name is %zu characters long with its registry; the limit is %d",
			       total, OCI_REF_NAME_MAX);

	if (!ref.tag && !ref.digest) {
		ref.tag = strdup(OCI_REF_DEFAULT_TAG);
		if (!ref.tag)
			return oom(err);
	}
	*out = ref;
	ref = (struct oci_ref){0};
	return 0;
}

void oci_ref_free(struct oci_ref *ref)
{
	if (!ref)
		return;
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	*ref = (struct oci_ref){0};
}

static char *format(const char *registry, const char *repository, const struct oci_ref *ref)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s%s%s%s%s%s", registry ? registry : "", registry ? "/" : "",
		     repository, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		     ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}

char *oci_ref_string(const struct oci_ref *ref)
{
	return format(ref->registry, ref->repository, ref);
}

char *oci_ref_name(const struct oci_ref *ref)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", ref->registry, ref->repository) < 0)
		return NULL;
	return s;
}

char *oci_ref_familiar(const struct oci_ref *ref)
{
	const char *repository = ref->repository;

	if (strcmp(ref->registry, OCI_REF_DOCKER_HUB) != 0)
		return format(ref->registry, repository, ref);
	/* "docker.io/a.b/x" shortened to "a.b/x" would name the registry a.b. */
	const char *first_slash = strchr(repository, '/');
	if (first_slash && is_registry_component(repository, (size_t)(first_slash - repository)))
		return format(ref->registry, repository, ref);
	/* docker hides "library/" only for official images: "library/a/b" stays as it is. */
	if (strncmp(repository, OFFICIAL_REPO_PREFIX, strlen(OFFICIAL_REPO_PREFIX)) == 0 &&
	    !strchr(repository + strlen(OFFICIAL_REPO_PREFIX), '/'))
		repository += strlen(OFFICIAL_REPO_PREFIX);
	return format(NULL, repository, ref);
}

const char *oci_ref_api_host(const char *registry)
{
	if (registry &&
	    (strcmp(registry, OCI_REF_DOCKER_HUB) == 0 || strcmp(registry, LEGACY_DOCKER_HUB) == 0))
		return OCI_REF_DOCKER_HUB_API;
	return registry;
}
