/* Image references, "name[:tag][@digest]", parsed and normalised as docker does:
 *
 *   busybox                       -> docker.io/library/busybox:latest
 *   user/app:1                    -> docker.io/user/app:1
 *   localhost:5000/x              -> localhost:5000/x:latest
 *   [::1]:5000/a/b@sha256:<hex>   -> [::1]:5000/a/b@sha256:<hex>   (no tag added)
 *
 * The first path component names a registry when it contains '.' or ':' or is exactly
 * "localhost"; otherwise the default registry applies (docker.io unless the caller says
 * otherwise), and a single-component docker.io name gets the "library/" prefix.
 * The grammar is the distribution spec's; see reference.c. */
#ifndef CONTAINER_OCI_REFERENCE_H
#define CONTAINER_OCI_REFERENCE_H

#include "error.h"

#define OCI_REF_DOCKER_HUB     "docker.io"
#define OCI_REF_DOCKER_HUB_API "registry-1.docker.io"
#define OCI_REF_DEFAULT_TAG    "latest"
#define OCI_REF_NAME_MAX       255 /* registry "/" repository */
#define OCI_REF_TAG_MAX	       128

struct oci_ref {
	char *registry;	  /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *repository; /* "library/busybox" */
	char *tag;	  /* NULL only when a digest was given without a tag */
	char *digest;	  /* "sha256:<hex>" or NULL */
};

/* default_registry: the registry for names without one; NULL means docker.io. Every
 * failure is CT_ERR_INVALID_ARGUMENT (CT_ERR_UNSUPPORTED for a digest algorithm we can't
 * verify) with a message that names the reference and the problem. */
int oci_ref_parse(const char *s, const char *default_registry, struct oci_ref *out,
		  struct ct_error *err);
void oci_ref_free(struct oci_ref *ref);

#define _cleanup_ref_ __attribute__((cleanup(oci_ref_free)))

/* "docker.io/library/busybox:latest" (malloc'd; NULL when out of memory). */
char *oci_ref_string(const struct oci_ref *ref);
/* "docker.io/library/busybox": the repository's full name, without tag or digest. */
char *oci_ref_name(const struct oci_ref *ref);
/* The short form docker shows: "busybox:latest", "user/app:1", "localhost:5000/x:1". */
char *oci_ref_familiar(const struct oci_ref *ref);

/* The host that serves the registry's HTTP API: docker.io is served by
 * registry-1.docker.io; every other registry serves its own name. */
const char *oci_ref_api_host(const char *registry);

#endif
