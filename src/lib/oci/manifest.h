/* Manifests and indexes, OCI and Docker schema 2, parsed strictly: a document must be what
 * it was fetched as (DESIGN.md: "a manifest's media type must match what it parses as"),
 * schemaVersion must be 2, and every descriptor must have a media type, a valid digest and
 * a non-negative integer size. Unknown fields are ignored, as the spec requires.
 *
 * The media type a document was fetched as (the registry's Content-Type, or the media
 * type of the descriptor that pointed at it) is an argument; NULL means unknown. The
 * document's own "mediaType" must agree with it, and when the document has none its
 * shape decides: "manifests" makes an index, "layers" or "config" a manifest. */
#ifndef CONTAINER_OCI_MANIFEST_H
#define CONTAINER_OCI_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "oci/config.h"
#include "oci/json.h"
#include "oci/media.h"
#include "oci/platform.h"

struct oci_descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	char **urls; /* NULL-terminated, NULL when absent */
	struct oci_map annotations;
	struct oci_platform *platform; /* NULL when absent; normalised */
	char *artifact_type;	       /* NULL when absent */
};

struct oci_layer {
	struct oci_descriptor desc;
	enum oci_compression compression;
	bool nondistributable; /* a foreign layer: fetched from desc.urls, never pushed */
};

struct oci_manifest {
	char *media_type; /* the document's type, without parameters */
	struct oci_descriptor config;
	struct oci_layer *layers; /* bottom first */
	size_t n_layers;
	struct oci_descriptor *subject; /* NULL when absent */
	struct oci_map annotations;
};

struct oci_index {
	char *media_type;
	struct oci_descriptor *manifests;
	size_t n_manifests;
	struct oci_map annotations;
};

enum oci_manifest_kind {
	OCI_MANIFEST_KIND_INDEX,
	OCI_MANIFEST_KIND_IMAGE,
};

/* Which parser a document needs, from the media type it was fetched as and its content,
 * with the same agreement checks as the parsers. */
int oci_manifest_kind(const char *buf, size_t len, const char *media_type,
		      enum oci_manifest_kind *out, struct ct_error *err);

int oci_manifest_parse(const char *buf, size_t len, const char *media_type,
		       struct oci_manifest *out, struct ct_error *err);
void oci_manifest_free(struct oci_manifest *manifest);

int oci_manifest_index_parse(const char *buf, size_t len, const char *media_type,
			     struct oci_index *out, struct ct_error *err);
void oci_manifest_index_free(struct oci_index *index);

void oci_manifest_descriptor_free(struct oci_descriptor *desc);

#define _cleanup_manifest_ __attribute__((cleanup(oci_manifest_free)))
#define _cleanup_index_	   __attribute__((cleanup(oci_manifest_index_free)))

/* The image manifest in index for platform (NULL: the host's). Prefers an exact variant
 * over a match through an absent one, then the first; entries without a platform are taken
 * only when no entry matches, and attestation manifests never. With no match, fails with
 * CT_ERR_NOT_FOUND and a message listing the platforms the index has. *out points into
 * index. */
int oci_manifest_index_select(const struct oci_index *index, const struct oci_platform *platform,
			      const struct oci_descriptor **out, struct ct_error *err);

/* A config must list one diff_id per manifest layer. */
int oci_manifest_check_config(const struct oci_manifest *manifest,
			      const struct oci_image_config *config, struct ct_error *err);

#endif
