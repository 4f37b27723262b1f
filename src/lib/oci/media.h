/* Media types of the OCI image spec and of Docker's image format v2 schema 2, and how
 * each layer type is compressed. */
#ifndef CONTAINER_OCI_MEDIA_H
#define CONTAINER_OCI_MEDIA_H

#include <stdbool.h>

#include "error.h"

#define OCI_MEDIA_TYPE_INDEX	  "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_MANIFEST	  "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG	  "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_EMPTY	  "application/vnd.oci.empty.v1+json"
#define OCI_MEDIA_TYPE_LAYER	  "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
/* Deprecated by the spec but still found in Windows images; pulled from their urls. */
#define OCI_MEDIA_TYPE_LAYER_ND	     "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

#define DOCKER_MEDIA_TYPE_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_TYPE_MANIFEST	"application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_TYPE_CONFIG	"application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_TYPE_LAYER		"application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_TYPE_LAYER_GZIP	"application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_MEDIA_TYPE_FOREIGN_LAYER_GZIP                                                       \
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
/* Schema 1 is recognised only to refuse it by name. */
#define DOCKER_MEDIA_TYPE_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED                                                       \
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

/* The Accept header for fetching a manifest by tag: every type oci_manifest_kind takes. */
#define OCI_MEDIA_ACCEPT_MANIFESTS                                                                 \
	OCI_MEDIA_TYPE_INDEX ", " DOCKER_MEDIA_TYPE_MANIFEST_LIST ", " OCI_MEDIA_TYPE_MANIFEST     \
			     ", " DOCKER_MEDIA_TYPE_MANIFEST

enum oci_compression {
	OCI_COMPRESSION_NONE,
	OCI_COMPRESSION_GZIP,
	OCI_COMPRESSION_ZSTD,
};

/* Media types compare without parameters and surrounding space, so a Content-Type of
 * "application/vnd.oci.image.index.v1+json; charset=utf-8" is the index type. */
bool oci_media_type_equal(const char *a, const char *b);
/* The type without parameters or surrounding space (malloc'd; NULL when out of memory). */
char *oci_media_type_essence(const char *media_type);

bool oci_media_type_is_index(const char *media_type);
bool oci_media_type_is_manifest(const char *media_type);
bool oci_media_type_is_config(const char *media_type);

/* Known layer types: their compression, and whether they are nondistributable (foreign)
 * layers that a registry may not hold. An unknown type fails with CT_ERR_UNSUPPORTED and
 * a message naming it. */
int oci_media_type_layer(const char *media_type, enum oci_compression *compression,
			 bool *nondistributable, struct ct_error *err);

const char *oci_compression_name(enum oci_compression compression);

#endif
