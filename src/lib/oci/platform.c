#include "oci/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"

static int oom(struct ct_error *err)
{
	errno = ENOMEM;
	return ct_error_errno(err, CT_ERR_INTERNAL, "allocating memory");
}

/* Replaces *field with a copy of value (NULL clears it). */
static int replace(char **field, const char *value, struct ct_error *err)
{
	char *copy = NULL;

	if (*field && value && strcmp(*field, value) == 0)
		return 0;
	if (value) {
		copy = strdup(value);
		if (!copy)
			return oom(err);
	}
	free(*field);
	*field = copy;
	return 0;
}

/* Hands the strings of a cleanup-managed platform to the caller. */
static struct oci_platform move_platform(struct oci_platform *p)
{
	struct oci_platform moved = *p;

	*p = (struct oci_platform){0};
	return moved;
}

/* ASCII only, whatever the locale: platform names are ASCII. */
static void lowercase(char *s)
{
	for (; s && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool equal(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Canonical architecture and, when the alias implies one, variant. Only the names that
 * uname(2), distributions and older images use are listed; anything else passes through
 * lowercased, as containerd does. */
static void normalize_arch(const char *arch, const char *variant, const char **arch_out,
			   const char **variant_out)
{
	static const struct {
		const char *alias;
		const char *arch;
		const char *variant; /* forced variant; NULL keeps the given one */
	} aliases[] = {
	    {"x86_64", "amd64", NULL},	{"x86-64", "amd64", NULL},    {"amd64", "amd64", NULL},
	    {"aarch64", "arm64", NULL}, {"arm64", "arm64", NULL},     {"armhf", "arm", "v7"},
	    {"armel", "arm", "v6"},	{"armv5l", "arm", "v5"},      {"armv6l", "arm", "v6"},
	    {"armv7l", "arm", "v7"},	{"armv8l", "arm", "v8"},      {"armv5", "arm", "v5"},
	    {"armv6", "arm", "v6"},	{"armv7", "arm", "v7"},	      {"i386", "386", NULL},
	    {"i486", "386", NULL},	{"i586", "386", NULL},	      {"i686", "386", NULL},
	    {"x86", "386", NULL},	{"ppc64el", "ppc64le", NULL},
	};

	*arch_out = arch;
	*variant_out = variant;
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
		if (strcmp(arch, aliases[i].alias) == 0) {
			*arch_out = aliases[i].arch;
			if (aliases[i].variant)
				*variant_out = aliases[i].variant;
			break;
		}
	}
	if (!*variant_out)
		return;

	if (strcmp(*arch_out, "amd64") == 0) {
		/* v1 is the baseline every amd64 machine meets: the same as no variant. */
		if (strcmp(*variant_out, "v1") == 0)
			*variant_out = NULL;
	} else if (strcmp(*arch_out, "arm64") == 0) {
		if (strcmp(*variant_out, "8") == 0 || strcmp(*variant_out, "v8.0") == 0)
			*variant_out = "v8";
	} else if (strcmp(*arch_out, "arm") == 0) {
		static const char *const bare[] = {"5", "6", "7", "8"};
		static const char *const prefixed[] = {"v5", "v6", "v7", "v8"};

		for (size_t i = 0; i < ARRAY_SIZE(bare); i++)
			if (strcmp(*variant_out, bare[i]) == 0)
				*variant_out = prefixed[i];
	}
}

/* The variant an image for arch without one is assumed to need (containerd's defaults). */
static const char *default_variant(const char *arch)
{
	if (equal(arch, "arm64"))
		return "v8";
	if (equal(arch, "arm"))
		return "v7";
	return NULL;
}

int oci_platform_normalize(struct oci_platform *platform, struct ct_error *err)
{
	const char *arch, *variant;

	if (!platform->os || !platform->architecture)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "platform needs both an os and an architecture");
	lowercase(platform->os);
	lowercase(platform->architecture);
	lowercase(platform->variant);
	if (platform->variant && !*platform->variant) {
		free(platform->variant);
		platform->variant = NULL;
	}
	if (strcmp(platform->os, "macos") == 0 && replace(&platform->os, "darwin", err) < 0)
		return -1;

	/* arch and variant are either the fields themselves (replace keeps them) or static. */
	normalize_arch(platform->architecture, platform->variant, &arch, &variant);
	if (replace(&platform->variant, variant, err) < 0)
		return -1;
	return replace(&platform->architecture, arch, err);
}

static bool component_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && !strchr("._-", s[i]))
			return false;
	return true;
}

int oci_platform_parse(const char *s, struct oci_platform *out, struct ct_error *err)
{
	_cleanup_platform_ struct oci_platform p = {0};
	const char *parts[3] = {0};
	size_t lens[3] = {0};
	size_t n = 0;
	const char *start;

	if (!s || !*s)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid platform \"\": expected os/arch[/variant], like "
				    "linux/amd64 or linux/arm64/v8");
	start = s;
	for (const char *c = s;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		if (n == ARRAY_SIZE(parts) || !component_valid(start, (size_t)(c - start)))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "invalid platform \"%s\": expected os/arch[/variant], "
					    "like linux/amd64 or linux/arm64/v8",
					    s);
		parts[n] = start;
		lens[n++] = (size_t)(c - start);
		if (*c == '\0')
			break;
		start = c + 1;
	}
	if (n < 2)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid platform \"%s\": expected os/arch[/variant], like "
				    "linux/amd64 or linux/arm64/v8",
				    s);

	p.os = strndup(parts[0], lens[0]);
	p.architecture = strndup(parts[1], lens[1]);
	if (n == 3)
		p.variant = strndup(parts[2], lens[2]);
	if (!p.os || !p.architecture || (n == 3 && !p.variant))
		return oom(err);
	if (oci_platform_normalize(&p, err) < 0)
		return ct_error_prefix(err, "invalid platform \"%s\"", s);
	*out = move_platform(&p);
	return 0;
}

int oci_platform_host(struct oci_platform *out, struct ct_error *err)
{
	_cleanup_platform_ struct oci_platform p = {0};
	struct utsname uts;

	if (uname(&uts) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "uname");
	p.os = strdup(uts.sysname);
	p.architecture = strdup(uts.machine);
	if (!p.os || !p.architecture)
		return oom(err);
	if (oci_platform_normalize(&p, err) < 0)
		return ct_error_prefix(err, "host platform %s/%s", uts.sysname, uts.machine);
	/* docker reports arm64 hosts as arm64/v8; do the same so the host prints like it. */
	if (!p.variant && strcmp(p.architecture, "arm64") == 0 &&
	    replace(&p.variant, "v8", err) < 0)
		return -1;
	*out = move_platform(&p);
	return 0;
}

char *oci_platform_format(const struct oci_platform *platform)
{
	char *s = NULL;
	int ret;

	if (platform->variant)
		ret = asprintf(&s, "%s/%s/%s", platform->os ? platform->os : "",
			       platform->architecture ? platform->architecture : "",
			       platform->variant);
	else
		ret = asprintf(&s, "%s/%s", platform->os ? platform->os : "",
			       platform->architecture ? platform->architecture : "");
	return ret < 0 ? NULL : s;
}

int oci_platform_match_score(const struct oci_platform *want, const struct oci_platform *have)
{
	_cleanup_platform_ struct oci_platform w = {0};
	_cleanup_platform_ struct oci_platform h = {0};
	const char *want_variant, *have_variant;

	if (!want || !have || !want->os || !have->os || !want->architecture || !have->architecture)
		return 0;
	/* Comparing normalised copies keeps one definition of an alias; a failure here can
	 * only be out of memory, which counts as no match. */
	if (oci_platform_copy(&w, want, NULL) < 0 || oci_platform_copy(&h, have, NULL) < 0 ||
	    oci_platform_normalize(&w, NULL) < 0 || oci_platform_normalize(&h, NULL) < 0)
		return 0;
	if (strcmp(w.os, h.os) != 0 || strcmp(w.architecture, h.architecture) != 0)
		return 0;
	want_variant = w.variant ? w.variant : default_variant(w.architecture);
	have_variant = h.variant ? h.variant : default_variant(h.architecture);
	if (!want_variant && !have_variant)
		return 2;
	if (!want_variant || !have_variant)
		return 1;
	return strcmp(want_variant, have_variant) == 0 ? 2 : 0;
}

bool oci_platform_match(const struct oci_platform *want, const struct oci_platform *have)
{
	return oci_platform_match_score(want, have) > 0;
}

int oci_platform_copy(struct oci_platform *dst, const struct oci_platform *src,
		      struct ct_error *err)
{
	_cleanup_platform_ struct oci_platform p = {0};

	if ((src->os && !(p.os = strdup(src->os))) ||
	    (src->architecture && !(p.architecture = strdup(src->architecture))) ||
	    (src->variant && !(p.variant = strdup(src->variant))) ||
	    (src->os_version && !(p.os_version = strdup(src->os_version))))
		return oom(err);
	*dst = move_platform(&p);
	return 0;
}

void oci_platform_free(struct oci_platform *platform)
{
	if (!platform)
		return;
	free(platform->os);
	free(platform->architecture);
	free(platform->variant);
	free(platform->os_version);
	platform->os = platform->architecture = platform->variant = platform->os_version = NULL;
}
