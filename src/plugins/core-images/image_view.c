/* Reading a stored image: reference -> (index ->) manifest -> config -> chain ids. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "cleanup.h"
#include "images.h"
#include "oci/digest.h"
#include "util.h"

int images_parse_ref(struct images *im, const char *input, struct oci_ref *ref,
		     struct ct_error *err)
{
	_cleanup_free_ char *registry = NULL;

	/* The property's value as the API server would give it: set, else default.
	 * (Config-file values reach plugins through the same table once set.) */
	registry = image_db_property(im->db, "registry.domain");
	return oci_ref_parse(input, registry, ref, err);
}

static bool looks_like_id(const char *s)
{
	const char *hex = ct_str_has_prefix(s, "sha256:") ? s + 7 : s;
	size_t n = strlen(hex);

	if (n < 4 || n > 64)
		return false;
	for (const char *p = hex; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

int image_find(struct images *im, const char *input, struct image_record *out, bool *by_id,
	       struct ct_error *err)
{
	_cleanup_error_ struct ct_error parse_err = CT_ERROR_INIT;
	struct oci_ref ref;

	if (by_id)
		*by_id = false;

	if (images_parse_ref(im, input, &ref, &parse_err) == 0) {
		_cleanup_free_ char *name = oci_ref_string(&ref);
		oci_ref_free(&ref);
		if (image_db_get(im->db, name, out, err) == 0)
			return 0;
		if (!ct_error_is(err, CT_ERR_NOT_FOUND))
			return -1;
		ct_error_clear(err);
	}
	/* An id: a prefix of the manifest or index digest, as `image list` shows it. */
	if (looks_like_id(input)) {
		struct image_record *all = NULL;
		const char *hex = ct_str_has_prefix(input, "sha256:") ? input + 7 : input;
		const char *match = NULL;
		size_t n = 0, hit = 0;
		bool ambiguous = false;
		if (image_db_list(im->db, &all, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (strncmp(all[i].digest + strlen("sha256:"), hex, strlen(hex)) != 0)
				continue;
			/* Several names for one digest are one image. */
			if (match && strcmp(match, all[i].digest) != 0)
				ambiguous = true;
			if (!match) {
				match = all[i].digest;
				hit = i;
			}
		}
		bool found = match && !ambiguous;
		if (found) {
			*out = all[hit];
			memset(&all[hit], 0, sizeof(all[hit]));
			if (by_id)
				*by_id = true;
		}
		image_records_free(all, n);
		if (found)
			return 0;
		if (ambiguous)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "image id %s is ambiguous; give more characters", input);
	}
	if (parse_err.code[0] && !looks_like_id(input))
		return ct_error_set(err, parse_err.code, 0, "%s", ct_error_message(&parse_err));
	return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
			    "no image %s here; `container image list` shows the images, `container "
			    "image pull %s` fetches it",
			    input, input);
}

void image_view_free(struct image_view *view)
{
	image_record_free(&view->record);
	free(view->manifest_digest);
	oci_manifest_free(&view->manifest);
	oci_config_free(&view->config);
	cleanup_strvp(&view->chain_ids);
	memset(view, 0, sizeof(*view));
}

int64_t image_view_size(const struct image_view *view)
{
	int64_t size = view->manifest_size + view->manifest.config.size;

	for (size_t i = 0; i < view->manifest.n_layers; i++)
		size += view->manifest.layers[i].desc.size;
	return size;
}

int image_view_load(struct images *im, const char *name, const struct oci_platform *platform,
		    struct image_view *view, struct ct_error *err)
{
	_cleanup_free_ char *doc = NULL, *config = NULL;
	size_t len;
	enum oci_manifest_kind kind;

	memset(view, 0, sizeof(*view));
	if (image_db_get(im->db, name, &view->record, err) < 0)
		return -1;
	if (store_blob_read(&im->store, view->record.digest, IMAGES_DOC_MAX, &doc, &len, err) < 0 ||
	    oci_manifest_kind(doc, len, view->record.media_type, &kind, err) < 0)
		goto fail;
	view->manifest_digest = xstrdup(view->record.digest);
	view->manifest_size = view->record.size;
	if (kind == OCI_MANIFEST_KIND_INDEX) {
		_cleanup_index_ struct oci_index index = {0};
		const struct oci_descriptor *desc;
		if (oci_manifest_index_parse(doc, len, view->record.media_type, &index, err) < 0)
			goto fail;
		if (oci_manifest_index_select(&index, platform, &desc, err) < 0 ||
		    (!platform && !store_blob_exists(&im->store, desc->digest, NULL))) {
			/* Pulled with --platform for another machine: with no platform
			 * asked for, the manifest that is stored is the image. */
			const struct oci_descriptor *stored = NULL;
			for (size_t i = 0; !platform && i < index.n_manifests && !stored; i++)
				if (index.manifests[i].platform &&
				    store_blob_exists(&im->store, index.manifests[i].digest, NULL))
					stored = &index.manifests[i];
			if (!stored && err->message)
				goto fail;
			if (stored) {
				ct_error_clear(err);
				desc = stored;
			}
		}
		free(view->manifest_digest);
		view->manifest_digest = xstrdup(desc->digest);
		view->manifest_size = desc->size;
		_cleanup_free_ char *media_type = xstrdup(desc->media_type);
		free(doc);
		doc = NULL;
		if (store_blob_read(&im->store, view->manifest_digest, IMAGES_DOC_MAX, &doc, &len,
				    err) < 0) {
			ct_error_prefix(err, "image %s has no manifest for this platform here; pull it "
					     "with --platform",
					name);
			goto fail;
		}
		if (oci_manifest_parse(doc, len, media_type, &view->manifest, err) < 0)
			goto fail;
	} else if (oci_manifest_parse(doc, len, view->record.media_type, &view->manifest, err) < 0) {
		goto fail;
	}

	if (store_blob_read(&im->store, view->manifest.config.digest, IMAGES_DOC_MAX, &config, &len,
			    err) < 0 ||
	    oci_config_parse(config, len, view->manifest.config.media_type, &view->config, err) < 0 ||
	    oci_manifest_check_config(&view->manifest, &view->config, err) < 0)
		goto fail;

	view->chain_ids = xcalloc(view->config.n_diff_ids + 1, sizeof(char *));
	for (size_t i = 0; i < view->config.n_diff_ids; i++) {
		char chain[OCI_DIGEST_STRING_MAX];
		if (store_chain_id(i ? view->chain_ids[i - 1] : NULL, view->config.diff_ids[i], chain,
				   err) < 0)
			goto fail;
		view->chain_ids[i] = xstrdup(chain);
	}
	return 0;
fail:
	ct_error_prefix(err, "image %s", name);
	image_view_free(view);
	return -1;
}

void images_unpack_limits(struct images *im, uint64_t *max_bytes, uint64_t *max_entries)
{
	_cleanup_free_ char *bytes = image_db_property(im->db, "image.unpack.maxBytes");
	_cleanup_free_ char *entries = image_db_property(im->db, "image.unpack.maxEntries");

	*max_bytes = bytes ? strtoull(bytes, NULL, 10) : 0;
	*max_entries = entries ? strtoull(entries, NULL, 10) : 0;
}
