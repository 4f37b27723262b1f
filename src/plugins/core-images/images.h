/* container-core-images: shared state of the images plugin and its operations,
 * one file per concern (image_view, image_ops, gc, image_import, pull, …). */
#ifndef CONTAINER_IMAGES_H
#define CONTAINER_IMAGES_H

#include <jansson.h>
#include <pthread.h>

#include "error.h"
#include "image_db.h"
#include "job.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "service.h"
#include "store.h"

/* Documents (manifests, indexes, configs) are small; refuse anything larger. */
#define IMAGES_DOC_MAX (4u * 1024 * 1024)

struct images {
	struct ct_service *svc;
	struct store store;
	struct image_db *db;
	/* Pulls, imports and loads hold it shared while they add content; garbage
	 * collection holds it exclusively, so it never removes what a running pull
	 * has written but not yet referenced. */
	pthread_rwlock_t gc_lock;
	/* Serialises writers of references against each other. */
	pthread_mutex_t ref_lock;
};

/* The normalised name of what the user typed (registry.domain is the default
 * registry). */
int images_parse_ref(struct images *im, const char *input, struct oci_ref *ref,
		     struct ct_error *err);

/* An image as stored: its reference, the manifest chosen for a platform (the
 * host's when NULL) and that manifest's config, all read from the store and
 * checked against their digests. */
struct image_view {
	struct image_record record;
	char *manifest_digest;
	int64_t manifest_size;
	struct oci_manifest manifest;
	struct oci_image_config config;
	char **chain_ids; /* one per layer, bottom first */
};

int image_view_load(struct images *im, const char *name, const struct oci_platform *platform,
		    struct image_view *view, struct ct_error *err);
/* Finds a stored image by reference, short id or digest, as the user typed it.
 * *by_id (may be NULL) tells whether it matched as an id rather than a name. */
int image_find(struct images *im, const char *input, struct image_record *out, bool *by_id,
	       struct ct_error *err);
void image_view_free(struct image_view *view);
/* Sum of manifest, config and layer blob sizes. */
int64_t image_view_size(const struct image_view *view);

/* The unpack limits from the image.unpack.* properties. */
void images_unpack_limits(struct images *im, uint64_t *max_bytes, uint64_t *max_entries);

/* Removes blobs and snapshots that no reference needs; takes gc_lock. */
int images_gc(struct images *im, int64_t *freed_bytes, size_t *removed, struct ct_error *err);

/* Route handlers. */
void images_register_routes(struct images *im);
void registry_register_routes(struct images *im);
void push_register_routes(struct images *im);
void archive_register_routes(struct images *im);
int image_import_job(struct job *job, json_t **result, struct ct_error *err);
int image_pull_job(struct job *job, json_t **result, struct ct_error *err);

#endif
