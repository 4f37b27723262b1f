/* Platforms ("linux/arm64/v8"): parsing, normalising the names kernels and distributions
 * use to the ones OCI indexes use (GOOS/GOARCH), the host's own, and matching.
 *
 * Normalisation follows containerd's platforms package: x86_64 -> amd64, aarch64 -> arm64,
 * armhf/armv7l -> arm/v7, i386..i686 -> 386. An absent variant is kept absent (formatting
 * gives back what was asked for); matching fills in the default variant of arm64 (v8) and
 * arm (v7), so "linux/arm64" and "linux/arm64/v8" are the same platform. */
#ifndef CONTAINER_OCI_PLATFORM_H
#define CONTAINER_OCI_PLATFORM_H

#include <stdbool.h>

#include "error.h"

struct oci_platform {
	char *os;
	char *architecture;
	char *variant;	  /* NULL when none */
	char *os_version; /* NULL when none; only indexes carry it (Windows builds) */
};

/* Parses "os/arch[/variant]" and normalises it. */
int oci_platform_parse(const char *s, struct oci_platform *out, struct ct_error *err);

/* Rewrites os, architecture and variant in place to their canonical names. */
int oci_platform_normalize(struct oci_platform *platform, struct ct_error *err);

/* The platform this process runs on, from uname(2); arm64 hosts report variant v8. */
int oci_platform_host(struct oci_platform *out, struct ct_error *err);

/* "os/arch[/variant]" (malloc'd), or NULL when out of memory. */
char *oci_platform_format(const struct oci_platform *platform);

/* Whether an image built for have runs where want is asked for. Both sides are compared
 * after normalisation; a variant absent on either side matches unless the architecture's
 * default variant (arm64: v8, arm: v7) differs from the other side's. */
bool oci_platform_match(const struct oci_platform *want, const struct oci_platform *have);

/* Like oci_platform_match, but 2 for an exact variant match, 1 for a match through an
 * absent variant and 0 for none, so a selector can prefer the closest of several. */
int oci_platform_match_score(const struct oci_platform *want, const struct oci_platform *have);

int oci_platform_copy(struct oci_platform *dst, const struct oci_platform *src,
		      struct ct_error *err);
void oci_platform_free(struct oci_platform *platform);

#define _cleanup_platform_ __attribute__((cleanup(oci_platform_free)))

#endif
