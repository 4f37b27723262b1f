/* Routes that read or rename references: image.list, image.inspect, image.tag,
 * image.delete, image.prune; and the registration of every image.* route. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "images.h"
#include "json_util.h"
#include "log.h"
#include "oci/platform.h"
#include "util.h"

/* docker's split of a reference for listings: repository and tag. */
static void split_name(const char *name, char **repo, char **tag)
{
	const char *at = strchr(name, '@');
	const char *slash = strrchr(name, '/');
	const char *colon = strrchr(name, ':');

	if (at) {
		*repo = strndup(name, at - name);
		*tag = xstrdup("<none>");
	} else if (colon && (!slash || colon > slash)) {
		*repo = strndup(name, colon - name);
		*tag = xstrdup(colon + 1);
	} else {
		*repo = xstrdup(name);
		*tag = xstrdup("<none>");
	}
}

/* A summary of one reference for `image list`. */
static json_t *describe(struct images *im, const struct image_record *r)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct image_view view;
	struct oci_ref ref;
	_cleanup_free_ char *familiar = NULL, *repo = NULL, *tag = NULL;

	if (oci_ref_parse(r->name, NULL, &ref, &err) == 0) {
		familiar = oci_ref_familiar(&ref);
		oci_ref_free(&ref);
	}
	split_name(familiar ? familiar : r->name, &repo, &tag);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "name", r->name, "repository",
			      repo, "tag", tag, "digest", r->digest, "mediaType", r->media_type,
			      "manifestSize", (json_int_t)r->size, "storedAt", r->created_at);
	if (image_view_load(im, r->name, NULL, &view, &err) == 0) {
		_cleanup_platform_ struct oci_platform p = {0};
		json_object_set_new(j, "size", json_integer(image_view_size(&view)));
		json_object_set_new(j, "created", json_string(view.config.created ? view.config.created
										  : ""));
		json_object_set_new(j, "manifestDigest", json_string(view.manifest_digest));
		json_object_set_new(j, "configDigest", json_string(view.manifest.config.digest));
		if (oci_config_platform(&view.config, &p, &err) == 0) {
			_cleanup_free_ char *s = oci_platform_format(&p);
			json_object_set_new(j, "platform", json_string(s));
		}
		image_view_free(&view);
	} else {
		json_object_set_new(j, "problem", json_string(ct_error_message(&err)));
	}
	return j;
}

static void route_list(struct ct_request *req, void *data)
{
	struct images *im = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct image_record *refs = NULL;
	size_t n = 0;

	if (image_db_list(im->db, &refs, &n, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, describe(im, &refs[i]));
	image_records_free(refs, n);
	ct_request_reply(req, json_pack("{s:o}", "images", items), NULL, 0);
}

static json_t *load_json_blob(struct images *im, const char *digest, struct ct_error *err)
{
	_cleanup_free_ char *doc = NULL;
	size_t len;

	if (store_blob_read(&im->store, digest, IMAGES_DOC_MAX, &doc, &len, err) < 0)
		return NULL;
	return json_loadb(doc, len, 0, NULL);
}

static void route_inspect(struct ct_request *req, void *data)
{
	struct images *im = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct image_record r = {0};
	struct image_view view;
	const char *input;

	if (ct_json_get_string(ct_request_body(req), "reference", true, &input, "request body",
			       &err) < 0 ||
	    image_find(im, input, &r, NULL, &err) < 0 || image_view_load(im, r.name, NULL, &view, &err) < 0) {
		image_record_free(&r);
		ct_request_fail(req, &err);
		return;
	}
	json_t *j = describe(im, &r);
	json_t *chains = json_array(), *snaps = json_array();
	for (char **c = view.chain_ids; *c; c++) {
		_cleanup_free_ char *dir = store_snapshot_dir(&im->store, *c);
		json_array_append_new(chains, json_string(*c));
		json_array_append_new(snaps, json_string(dir));
	}
	json_object_set_new(j, "chainIds", chains);
	json_object_set_new(j, "snapshots", snaps);
	json_object_set_new(j, "manifest", load_json_blob(im, view.manifest_digest, &err));
	json_object_set(j, "config", view.config.json);
	if (strcmp(view.manifest_digest, r.digest) != 0)
		json_object_set_new(j, "index", load_json_blob(im, r.digest, &err));
	image_view_free(&view);
	image_record_free(&r);
	ct_request_reply(req, j, NULL, 0);
}

/* image.resolve: what the API server needs to create a container: the name,
 * the manifest digest, the image config and the snapshot folders (bottom
 * layer first). */
static void route_resolve(struct ct_request *req, void *data)
{
	struct images *im = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct image_record r = {0};
	struct image_view view;
	const char *input;

	if (ct_json_get_string(ct_request_body(req), "reference", true, &input, "request body",
			       &err) < 0 ||
	    image_find(im, input, &r, NULL, &err) < 0 ||
	    image_view_load(im, r.name, NULL, &view, &err) < 0) {
		image_record_free(&r);
		ct_request_fail(req, &err);
		return;
	}
	json_t *snaps = json_array();
	for (char **c = view.chain_ids; *c; c++) {
		_cleanup_free_ char *dir = store_snapshot_dir(&im->store, *c);
		json_array_append_new(snaps, json_string(dir));
	}
	ct_request_reply(req,
			 json_pack("{s:s, s:s, s:O, s:o}", "name", r.name, "digest",
				   view.manifest_digest, "config", view.config.json, "snapshots",
				   snaps),
			 NULL, 0);
	image_view_free(&view);
	image_record_free(&r);
}

static void route_tag(struct ct_request *req, void *data)
{
	struct images *im = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *source, *target;
	struct image_record r = {0};
	struct oci_ref ref;

	if (ct_json_get_string(ct_request_body(req), "source", true, &source, "request body", &err) <
		    0 ||
	    ct_json_get_string(ct_request_body(req), "target", true, &target, "request body", &err) <
		    0 ||
	    image_find(im, source, &r, NULL, &err) < 0 || images_parse_ref(im, target, &ref, &err) < 0) {
		image_record_free(&r);
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_free_ char *name = oci_ref_string(&ref);
	bool digest = ref.digest != NULL;
	oci_ref_free(&ref);
	if (digest) {
		image_record_free(&r);
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "cannot tag with a digest: %s", target);
		return;
	}
	pthread_mutex_lock(&im->ref_lock);
	int rc = image_db_put(im->db, name, r.digest, r.media_type, r.size, &err);
	pthread_mutex_unlock(&im->ref_lock);
	image_record_free(&r);
	if (rc < 0) {
		ct_request_fail(req, &err);
		return;
	}
	ct_request_reply(req, json_pack("{s:s}", "name", name), NULL, 0);
}

/* image.delete {references: […], force}: removes references, then the content no
 * reference needs any more. Every reference is checked before any is removed. */
static int delete_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct images *im = job_data(job);
	json_t *body = job_body(job), *refs = NULL, *item;
	bool all = false, force = false;
	size_t i;

	if (ct_json_get_array(body, "references", false, &refs, "request body", err) < 0 ||
	    ct_json_get_bool(body, "all", false, &all, "request body", err) < 0 ||
	    ct_json_get_bool(body, "force", false, &force, "request body", err) < 0)
		return -1;
	json_t *names = json_array();
	if (all) {
		struct image_record *recs = NULL;
		size_t n = 0;
		if (image_db_list(im->db, &recs, &n, err) < 0) {
			json_decref(names);
			return -1;
		}
		for (size_t k = 0; k < n; k++)
			json_array_append_new(names, json_string(recs[k].name));
		image_records_free(recs, n);
	}
	json_array_foreach (refs, i, item) {
		struct image_record r;
		bool by_id;
		if (!json_is_string(item)) {
			json_decref(names);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "references must be strings");
		}
		if (image_find(im, json_string_value(item), &r, &by_id, err) < 0) {
			json_decref(names);
			return -1;
		}
		/* An id names every reference to that digest, as in docker. */
		if (by_id) {
			struct image_record *recs = NULL;
			size_t n = 0;
			if (image_db_list(im->db, &recs, &n, err) == 0) {
				for (size_t k = 0; k < n; k++)
					if (strcmp(recs[k].digest, r.digest) == 0 &&
					    strcmp(recs[k].name, r.name) != 0)
						json_array_append_new(names, json_string(recs[k].name));
				image_records_free(recs, n);
			}
		}
		json_array_append_new(names, json_string(r.name));
		image_record_free(&r);
	}
	/* docker's rule: an image a container was created from stays unless -f
	 * (and even then its content stays until the container goes). */
	if (!force)
		json_array_foreach (names, i, item) {
			_cleanup_free_ char *user = image_db_user(im->db, json_string_value(item));
			if (user) {
				ct_error_set(err, CT_ERR_CONFLICT, 0,
					     "image %s is used by container %s; delete the container "
					     "first, or use --force",
					     json_string_value(item), user);
				json_decref(names);
				return -1;
			}
		}
	json_t *deleted = json_array();
	pthread_mutex_lock(&im->ref_lock);
	json_array_foreach (names, i, item) {
		int rc = image_db_delete(im->db, json_string_value(item), err);
		if (rc < 0) {
			pthread_mutex_unlock(&im->ref_lock);
			json_decref(names);
			json_decref(deleted);
			return -1;
		}
		if (rc > 0)
			json_array_append(deleted, item);
	}
	pthread_mutex_unlock(&im->ref_lock);
	json_decref(names);
	int64_t freed = 0;
	size_t removed = 0;
	if (images_gc(im, &freed, &removed, err) < 0) {
		json_decref(deleted);
		return -1;
	}
	*result = json_pack("{s:o, s:I, s:I}", "deleted", deleted, "reclaimedBytes",
			    (json_int_t)freed, "removedObjects", (json_int_t)removed);
	return 0;
}

static int prune_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct images *im = job_data(job);
	bool all = false;

	if (ct_json_get_bool(job_body(job), "all", false, &all, "request body", err) < 0)
		return -1;
	if (all) {
		/* Every image no container was created from. */
		struct image_record *recs = NULL;
		size_t n = 0;
		json_t *names = json_array();
		if (image_db_list(im->db, &recs, &n, err) < 0) {
			json_decref(names);
			return -1;
		}
		for (size_t k = 0; k < n; k++) {
			_cleanup_free_ char *user = image_db_user(im->db, recs[k].name);
			if (!user)
				json_array_append_new(names, json_string(recs[k].name));
		}
		image_records_free(recs, n);
		json_object_set_new(job_body(job), "references", names);
		json_object_set_new(job_body(job), "all", json_false());
		return delete_job(job, result, err);
	}
	/* Every stored image has a name here (no dangling images), so a plain prune
	 * reclaims only content that no name reaches. */
	int64_t freed = 0;
	size_t removed = 0;
	if (images_gc(im, &freed, &removed, err) < 0)
		return -1;
	*result = json_pack("{s:[], s:I, s:I}", "deleted", "reclaimedBytes", (json_int_t)freed,
			    "removedObjects", (json_int_t)removed);
	return 0;
}

#define JOB_ROUTE(name, fn)                                                                        \
	static void name(struct ct_request *req, void *data)                                      \
	{                                                                                          \
		struct images *im = data;                                                          \
		job_start(im->svc->loop, req, fn, im);                                             \
	}

JOB_ROUTE(route_delete, delete_job)
JOB_ROUTE(route_prune, prune_job)
JOB_ROUTE(route_import, image_import_job)
JOB_ROUTE(route_pull, image_pull_job)

void images_register_routes(struct images *im)
{
	struct ct_server *srv = im->svc->server;

	ct_server_route(srv, "image.list", route_list, im);
	ct_server_route(srv, "image.inspect", route_inspect, im);
	ct_server_route(srv, "image.resolve", route_resolve, im);
	ct_server_route(srv, "image.tag", route_tag, im);
	ct_server_route(srv, "image.delete", route_delete, im);
	ct_server_route(srv, "image.prune", route_prune, im);
	ct_server_route(srv, "image.import", route_import, im);
	ct_server_route(srv, "image.pull", route_pull, im);
}
