/* Garbage collection of the content store: mark every blob and snapshot that a
 * reference reaches (index -> manifests -> config and layers -> chain ids), then
 * sweep the rest. Runs under gc_lock held exclusively. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "images.h"
#include "log.h"
#include "util.h"

struct mark_set {
	char **items;
	size_t n, cap;
};

static void mark(struct mark_set *set, const char *digest)
{
	const char *hex = strchr(digest, ':');

	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 64;
		set->items = realloc(set->items, set->cap * sizeof(char *));
		if (!set->items)
			abort();
	}
	set->items[set->n++] = xstrdup(hex ? hex + 1 : digest);
}

static int compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool marked(const struct mark_set *set, const char *hex)
{
	if (set->n == 0)
		return false;
	return bsearch(&hex, set->items, set->n, sizeof(char *), compare) != NULL;
}

static void mark_set_free(struct mark_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->items[i]);
	free(set->items);
}

/* Marks a manifest's blobs and snapshots; a manifest not stored (another
 * platform of an index) marks nothing. */
static void mark_manifest(struct images *im, const char *digest, const char *media_type,
			  struct mark_set *blobs, struct mark_set *snapshots)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *doc = NULL, *config = NULL;
	_cleanup_manifest_ struct oci_manifest m = {0};
	_cleanup_config_ struct oci_image_config c = {0};
	size_t len;

	if (store_blob_read(&im->store, digest, IMAGES_DOC_MAX, &doc, &len, &err) < 0 ||
	    oci_manifest_parse(doc, len, media_type, &m, &err) < 0)
		return;
	mark(blobs, m.config.digest);
	for (size_t i = 0; i < m.n_layers; i++)
		mark(blobs, m.layers[i].desc.digest);
	if (store_blob_read(&im->store, m.config.digest, IMAGES_DOC_MAX, &config, &len, &err) < 0 ||
	    oci_config_parse(config, len, m.config.media_type, &c, &err) < 0)
		return;
	char chain[OCI_DIGEST_STRING_MAX] = "", parent[OCI_DIGEST_STRING_MAX];
	for (size_t i = 0; i < c.n_diff_ids; i++) {
		memcpy(parent, chain, sizeof(chain));
		if (store_chain_id(i ? parent : NULL, c.diff_ids[i], chain, &err) < 0)
			return;
		mark(snapshots, chain);
	}
}

static int mark_all(struct images *im, struct mark_set *blobs, struct mark_set *snapshots,
		    struct ct_error *err)
{
	struct image_record *refs = NULL;
	size_t n = 0;

	if (image_db_list(im->db, &refs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		_cleanup_error_ struct ct_error e = CT_ERROR_INIT;
		_cleanup_free_ char *doc = NULL;
		enum oci_manifest_kind kind;
		size_t len;

		mark(blobs, refs[i].digest);
		if (store_blob_read(&im->store, refs[i].digest, IMAGES_DOC_MAX, &doc, &len, &e) < 0 ||
		    oci_manifest_kind(doc, len, refs[i].media_type, &kind, &e) < 0) {
			log_warn("gc: %s: %s", refs[i].name, ct_error_message(&e));
			continue;
		}
		if (kind == OCI_MANIFEST_KIND_IMAGE) {
			mark_manifest(im, refs[i].digest, refs[i].media_type, blobs, snapshots);
			continue;
		}
		_cleanup_index_ struct oci_index index = {0};
		if (oci_manifest_index_parse(doc, len, refs[i].media_type, &index, &e) < 0)
			continue;
		for (size_t k = 0; k < index.n_manifests; k++) {
			mark(blobs, index.manifests[k].digest);
			mark_manifest(im, index.manifests[k].digest, index.manifests[k].media_type, blobs,
				      snapshots);
		}
	}
	image_records_free(refs, n);
	/* A container's rootfs is an overlay of its image's snapshots: they stay
	 * while the container exists, even when its image was deleted with -f. */
	_cleanup_strv_ char **in_use = image_db_container_digests(im->db);
	for (char **d = in_use; *d; d++) {
		mark(blobs, *d);
		mark_manifest(im, *d, NULL, blobs, snapshots);
	}
	if (blobs->n)
		qsort(blobs->items, blobs->n, sizeof(char *), compare);
	if (snapshots->n)
		qsort(snapshots->items, snapshots->n, sizeof(char *), compare);
	return 0;
}

int images_gc(struct images *im, int64_t *freed_bytes, size_t *removed, struct ct_error *err)
{
	struct mark_set blobs = {0}, snapshots = {0};
	_cleanup_closedir_ DIR *d = NULL, *s = NULL;
	struct dirent *de;
	int64_t freed = 0;
	size_t count = 0;
	int rc = -1;

	pthread_rwlock_wrlock(&im->gc_lock);
	if (mark_all(im, &blobs, &snapshots, err) < 0)
		goto out;

	d = opendir(im->store.blobs);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || marked(&blobs, de->d_name))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", im->store.blobs, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && unlink(p) == 0) {
			freed += st.st_size;
			count++;
			log_debug("gc: removed blob sha256:%s", de->d_name);
		}
	}
	s = opendir(im->store.snapshots);
	while (s && (de = readdir(s))) {
		if (de->d_name[0] == '.' || marked(&snapshots, de->d_name))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", im->store.snapshots, de->d_name);
		_cleanup_error_ struct ct_error e = CT_ERROR_INIT;
		if (ct_remove_tree(p, &e) == 0) {
			count++;
			log_debug("gc: removed snapshot %s", de->d_name);
		} else {
			log_warn("gc: %s", ct_error_message(&e));
		}
	}
	rc = 0;
out:
	pthread_rwlock_unlock(&im->gc_lock);
	mark_set_free(&blobs);
	mark_set_free(&snapshots);
	if (freed_bytes)
		*freed_bytes = freed;
	if (removed)
		*removed = count;
	return rc;
}
