/* image.push: sends a stored image to the registry its reference names.
 *
 * Every blob (each layer and the config) goes the cheapest way the registry allows:
 * a HEAD first (the registry has it: nothing to send), then a cross-repository mount
 * from another repository on the same registry that one of our references says holds
 * it, and only then an upload from the content store (monolithic, or in chunks of
 * chunkSize bytes). Blobs go on a few worker threads; the manifests go last, so the
 * tag never points at something incomplete. An index reference pushes every platform
 * manifest stored here, then the index; a platform manifest that is not stored here
 * must already be on the registry.
 *
 * Body: {"reference", "platform": "os/arch[/variant]", "scheme": "http|https|auto",
 *        "auth": {"username", "password"}, "chunkSize": 0} */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "images.h"
#include "json_util.h"
#include "log.h"
#include "oci/platform.h"
#include "registry.h"
#include "util.h"

#define PUSH_CONCURRENCY 3
/* Repositories tried for a cross-repository mount of one blob. */
#define PUSH_MAX_MOUNT_SOURCES 3

enum blob_status {
	BLOB_WAITING,
	BLOB_EXISTS,
	BLOB_MOUNTED,
	BLOB_UPLOADING,
	BLOB_DONE,
	BLOB_FAILED,
};

static const char *const blob_status_names[] = {"waiting",   "exists", "mounted",
						"uploading", "done",   "failed"};

struct blob_task {
	char *digest;
	int64_t size;
	char **mount_from; /* NULL-terminated repositories on the same registry */
	size_t n_mount_from;
	enum blob_status status;
	int64_t current;
	struct ct_error err;
};

/* A manifest or index to PUT, in order: platform manifests first, the top last. */
struct push_doc {
	char *digest;
	char *media_type;
	char *body;
	size_t len;
};

struct push {
	struct images *im;
	struct job *job;
	struct registry_client *rc;
	char *name;   /* the normalised reference */
	char *host;   /* its registry */
	char *repo;   /* its repository */
	char *target; /* tag or digest the top document goes under */
	int64_t chunk_size;
	struct blob_task *tasks;
	size_t n_tasks;
	struct push_doc *docs;
	size_t n_docs;
	size_t next; /* next task to take */
	bool failed;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t running;
};

static struct blob_task *task_find(struct push *p, const char *digest)
{
	for (size_t i = 0; i < p->n_tasks; i++)
		if (oci_digest_equal(p->tasks[i].digest, digest))
			return &p->tasks[i];
	return NULL;
}

/* Adds a blob to send, once; its size must be what the store holds. */
static int task_add(struct push *p, const char *digest, int64_t size, struct ct_error *err)
{
	int64_t stored;

	if (task_find(p, digest))
		return 0;
	if (!store_blob_exists(&p->im->store, digest, &stored))
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
				    "blob %s is not in the content store; pull the image again",
				    digest);
	if (stored != size)
		return ct_error_set(
		    err, CT_ERR_INTERNAL, 0,
		    "blob %s in the content store is %lld bytes, its descriptor says "
		    "%lld; the store is damaged: delete the image and pull it again",
		    digest, (long long)stored, (long long)size);
	p->tasks = realloc(p->tasks, (p->n_tasks + 1) * sizeof(*p->tasks));
	if (!p->tasks)
		abort();
	p->tasks[p->n_tasks] = (struct blob_task){
	    .digest = xstrdup(digest),
	    .size = size,
	    .err = CT_ERROR_INIT,
	};
	p->n_tasks++;
	return 0;
}

static void doc_add(struct push *p, const char *digest, const char *media_type, char *body,
		    size_t len)
{
	p->docs = realloc(p->docs, (p->n_docs + 1) * sizeof(*p->docs));
	if (!p->docs)
		abort();
	p->docs[p->n_docs++] = (struct push_doc){
	    .digest = xstrdup(digest),
	    .media_type = xstrdup(media_type),
	    .body = body,
	    .len = len,
	};
}

/* Reads a stored image manifest and queues its config and layers. */
static int add_manifest(struct push *p, const char *digest, const char *media_type,
			struct ct_error *err)
{
	_cleanup_free_ char *doc = NULL;
	_cleanup_manifest_ struct oci_manifest m = {0};
	size_t len;

	if (store_blob_read(&p->im->store, digest, IMAGES_DOC_MAX, &doc, &len, err) < 0 ||
	    oci_manifest_parse(doc, len, media_type, &m, err) < 0)
		return ct_error_prefix(err, "manifest %s", digest);
	for (size_t i = 0; i < m.n_layers; i++) {
		if (m.layers[i].nondistributable)
			return ct_error_set(
			    err, CT_ERR_UNSUPPORTED, 0,
			    "manifest %s: layer %s is a foreign (non-distributable) "
			    "layer; those are not pushed",
			    digest, m.layers[i].desc.digest);
		if (task_add(p, m.layers[i].desc.digest, m.layers[i].desc.size, err) < 0)
			return ct_error_prefix(err, "manifest %s: layer %zu", digest, i + 1);
	}
	if (task_add(p, m.config.digest, m.config.size, err) < 0)
		return ct_error_prefix(err, "manifest %s: config", digest);
	doc_add(p, digest, media_type, move_ptr(doc), len);
	return 0;
}

/* An index's platform manifest that is not stored here: the registry must have it. */
static int check_remote_manifest(struct push *p, const struct oci_descriptor *d,
				 struct ct_error *err)
{
	_cleanup_free_ char *platform = d->platform ? oci_platform_format(d->platform) : NULL;
	const char *accept[] = {d->media_type, NULL};
	char *body = NULL;

	if (registry_get_manifest(p->rc, p->repo, d->digest, accept, &body, NULL, NULL, NULL,
				  err) == 0) {
		free(body);
		log_info("pushing %s: manifest %s (%s) is not stored here; %s/%s has it", p->name,
			 d->digest, platform ? platform : "no platform", p->host, p->repo);
		return 0;
	}
	if (!ct_error_is(err, CT_ERR_NOT_FOUND))
		return -1;
	ct_error_clear(err);
	return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
			    "the index lists manifest %s (%s), which is neither stored here nor on "
			    "%s/%s: pull it first with `container image pull --platform %s %s`, or "
			    "push one platform with --platform",
			    d->digest, platform ? platform : "no platform", p->host, p->repo,
			    platform ? platform : "OS/ARCH", p->name);
}

/* Everything to send for the stored reference, and the order of the manifests. */
static int plan(struct push *p, const struct image_record *r, const struct oci_platform *platform,
		struct ct_error *err)
{
	_cleanup_free_ char *top = NULL;
	_cleanup_index_ struct oci_index index = {0};
	enum oci_manifest_kind kind;
	size_t len;

	if (store_blob_read(&p->im->store, r->digest, IMAGES_DOC_MAX, &top, &len, err) < 0 ||
	    oci_manifest_kind(top, len, r->media_type, &kind, err) < 0)
		return -1;
	if (kind == OCI_MANIFEST_KIND_IMAGE) {
		if (platform) {
			/* A plain manifest is one platform: it must be the one asked for. */
			_cleanup_free_ char *cfg = NULL;
			_cleanup_manifest_ struct oci_manifest m = {0};
			_cleanup_config_ struct oci_image_config c = {0};
			_cleanup_platform_ struct oci_platform have = {0};
			size_t clen;
			if (oci_manifest_parse(top, len, r->media_type, &m, err) < 0 ||
			    store_blob_read(&p->im->store, m.config.digest, IMAGES_DOC_MAX, &cfg,
					    &clen, err) < 0 ||
			    oci_config_parse(cfg, clen, m.config.media_type, &c, err) < 0 ||
			    oci_config_platform(&c, &have, err) < 0)
				return -1;
			if (!oci_platform_match(platform, &have)) {
				_cleanup_free_ char *want = oci_platform_format(platform);
				_cleanup_free_ char *is = oci_platform_format(&have);
				return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
						    "%s is an image for %s, not %s", p->name, is,
						    want);
			}
		}
		return add_manifest(p, r->digest, r->media_type, err);
	}

	if (oci_manifest_index_parse(top, len, r->media_type, &index, err) < 0)
		return -1;
	if (platform) {
		/* One platform of the index goes under the tag, as docker push --platform. */
		const struct oci_descriptor *d;
		if (oci_manifest_index_select(&index, platform, &d, err) < 0)
			return -1;
		if (!store_blob_exists(&p->im->store, d->digest, NULL)) {
			_cleanup_free_ char *want = oci_platform_format(platform);
			return ct_error_set(
			    err, CT_ERR_NOT_FOUND, 0,
			    "the %s manifest of %s is not stored here; pull it with "
			    "`container image pull --platform %s %s`",
			    want, p->name, want, p->name);
		}
		return add_manifest(p, d->digest, d->media_type, err);
	}
	for (size_t i = 0; i < index.n_manifests; i++) {
		const struct oci_descriptor *d = &index.manifests[i];
		if (!store_blob_exists(&p->im->store, d->digest, NULL)) {
			if (check_remote_manifest(p, d, err) < 0)
				return -1;
			continue;
		}
		if (!oci_media_type_is_manifest(d->media_type))
			return ct_error_set(
			    err, CT_ERR_UNSUPPORTED, 0,
			    "index entry %s is a %s; only image manifests are pushed "
			    "from an index",
			    d->digest, d->media_type);
		if (add_manifest(p, d->digest, d->media_type, err) < 0)
			return -1;
	}
	doc_add(p, r->digest, r->media_type, move_ptr(top), len);
	return 0;
}

/* Every blob reachable from a stored reference (index, manifests, configs, layers). */
static void reference_blobs(struct images *im, const struct image_record *r, char ***out, size_t *n)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *doc = NULL;
	_cleanup_index_ struct oci_index index = {0};
	enum oci_manifest_kind kind;
	size_t len;

	if (store_blob_read(&im->store, r->digest, IMAGES_DOC_MAX, &doc, &len, &err) < 0 ||
	    oci_manifest_kind(doc, len, r->media_type, &kind, &err) < 0)
		return;
	const struct oci_descriptor *children = NULL;
	struct oci_descriptor self = {.digest = r->digest, .media_type = r->media_type};
	size_t n_children = 1;
	if (kind == OCI_MANIFEST_KIND_INDEX) {
		if (oci_manifest_index_parse(doc, len, r->media_type, &index, &err) < 0)
			return;
		children = index.manifests;
		n_children = index.n_manifests;
	} else {
		children = &self;
	}
	for (size_t i = 0; i < n_children; i++) {
		_cleanup_free_ char *mdoc = NULL;
		_cleanup_manifest_ struct oci_manifest m = {0};
		size_t mlen;
		if (store_blob_read(&im->store, children[i].digest, IMAGES_DOC_MAX, &mdoc, &mlen,
				    &err) < 0 ||
		    oci_manifest_parse(mdoc, mlen, children[i].media_type, &m, &err) < 0) {
			ct_error_clear(&err);
			continue;
		}
		*out = realloc(*out, (*n + m.n_layers + 1) * sizeof(char *));
		if (!*out)
			abort();
		(*out)[(*n)++] = xstrdup(m.config.digest);
		for (size_t k = 0; k < m.n_layers; k++)
			(*out)[(*n)++] = xstrdup(m.layers[k].desc.digest);
	}
}

/* Repositories on the same registry whose stored images use a blob we send: the
 * registry may link the blob from there instead of receiving it again. */
static int find_mount_sources(struct push *p, struct ct_error *err)
{
	struct image_record *refs = NULL;
	size_t n = 0;

	if (image_db_list(p->im->db, &refs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		_cleanup_error_ struct ct_error perr = CT_ERROR_INIT;
		struct oci_ref ref;
		if (oci_ref_parse(refs[i].name, NULL, &ref, &perr) < 0)
			continue;
		bool candidate =
		    strcmp(ref.registry, p->host) == 0 && strcmp(ref.repository, p->repo) != 0;
		_cleanup_free_ char *repo = xstrdup(ref.repository);
		oci_ref_free(&ref);
		if (!candidate)
			continue;
		char **blobs = NULL;
		size_t n_blobs = 0;
		reference_blobs(p->im, &refs[i], &blobs, &n_blobs);
		for (size_t k = 0; k < n_blobs; k++) {
			struct blob_task *t = task_find(p, blobs[k]);
			bool known = false;
			for (size_t j = 0; t && j < t->n_mount_from; j++)
				known = known || strcmp(t->mount_from[j], repo) == 0;
			if (t && !known && t->n_mount_from < PUSH_MAX_MOUNT_SOURCES) {
				t->mount_from =
				    realloc(t->mount_from, (t->n_mount_from + 2) * sizeof(char *));
				if (!t->mount_from)
					abort();
				t->mount_from[t->n_mount_from++] = xstrdup(repo);
				t->mount_from[t->n_mount_from] = NULL;
			}
			free(blobs[k]);
		}
		free(blobs);
	}
	image_records_free(refs, n);
	return 0;
}

struct upload_source {
	struct push *p;
	struct blob_task *t;
	int fd;
};

static ssize_t upload_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct upload_source *s = ctx;

	for (;;) {
		ssize_t n = read(s->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL,
					      "reading blob %s from the store", s->t->digest);
		pthread_mutex_lock(&s->p->lock);
		s->t->current += n;
		pthread_mutex_unlock(&s->p->lock);
		return n;
	}
}

static void set_status(struct push *p, struct blob_task *t, enum blob_status status)
{
	pthread_mutex_lock(&p->lock);
	t->status = status;
	pthread_mutex_unlock(&p->lock);
}

/* One attempt at one blob. */
static int push_blob_once(struct push *p, struct blob_task *t, struct ct_error *err)
{
	int r = registry_blob_exists(p->rc, p->repo, t->digest, NULL, err);

	if (r < 0)
		return -1;
	if (r > 0) {
		set_status(p, t, BLOB_EXISTS);
		return 0;
	}
	for (size_t i = 0; i < t->n_mount_from; i++) {
		r = registry_mount_blob(p->rc, p->repo, t->digest, t->mount_from[i], err);
		if (r > 0) {
			set_status(p, t, BLOB_MOUNTED);
			return 0;
		}
		if (r < 0) {
			/* A source we may not read is no reason to fail: upload instead. */
			log_warn("pushing %s: %s; uploading the blob instead", p->name,
				 ct_error_message(err));
			ct_error_clear(err);
		}
	}

	_cleanup_close_ int fd = store_blob_open(&p->im->store, t->digest, err);
	if (fd < 0)
		return -1;
	struct upload_source src = {.p = p, .t = t, .fd = fd};
	pthread_mutex_lock(&p->lock);
	t->status = BLOB_UPLOADING;
	t->current = 0;
	pthread_mutex_unlock(&p->lock);
	if (registry_put_blob(p->rc, p->repo, t->digest, t->size, upload_read, &src, p->chunk_size,
			      err) < 0)
		return -1;
	set_status(p, t, BLOB_DONE);
	return 0;
}

static void *blob_worker(void *arg)
{
	struct push *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->next >= p->n_tasks || p->failed) {
			p->running--;
			pthread_cond_broadcast(&p->changed);
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		struct blob_task *t = &p->tasks[p->next++];
		pthread_mutex_unlock(&p->lock);

		struct ct_error err = CT_ERROR_INIT;
		int rc = push_blob_once(p, t, &err);
		if (rc < 0 && ct_error_is(&err, CT_ERR_UNAVAILABLE)) {
			/* An upload that broke off can't be resumed from our side (the
			 * reader is not rewound): one fresh attempt at the whole blob. */
			log_warn("pushing %s: blob %s: %s; trying the blob again", p->name,
				 t->digest, ct_error_message(&err));
			ct_error_clear(&err);
			rc = push_blob_once(p, t, &err);
		}
		pthread_mutex_lock(&p->lock);
		if (rc < 0) {
			t->status = BLOB_FAILED;
			ct_error_move(&t->err, &err);
			p->failed = true;
		}
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Progress in pull's shape, so the CLI draws both alike; called with p->lock held. */
static json_t *progress_locked(struct push *p, const char *status)
{
	json_t *layers = json_array();
	int64_t total = 0, current = 0;

	for (size_t i = 0; i < p->n_tasks; i++) {
		struct blob_task *t = &p->tasks[i];
		int64_t cur = t->status == BLOB_WAITING || t->status == BLOB_UPLOADING ||
				      t->status == BLOB_FAILED
				  ? t->current
				  : t->size;
		total += t->size;
		current += cur;
		json_array_append_new(layers,
				      json_pack("{s:s, s:I, s:I, s:s}", "digest", t->digest, "size",
						(json_int_t)t->size, "current", (json_int_t)cur,
						"status", blob_status_names[t->status]));
	}
	return json_pack("{s:s, s:s, s:o, s:I, s:I}", "status", status, "reference", p->name,
			 "layers", layers, "total", (json_int_t)total, "current",
			 (json_int_t)current);
}

static json_t *push_progress(void *arg)
{
	return progress_locked(arg, "pushing");
}

static int push_blobs(struct push *p, struct ct_error *err)
{
	size_t want = p->n_tasks < PUSH_CONCURRENCY ? p->n_tasks : PUSH_CONCURRENCY;
	const struct job_pool pool = {&p->lock, &p->changed, &p->running, push_progress};

	if (job_run_workers(p->job, want, blob_worker, p, &pool, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_tasks; i++)
		if (p->tasks[i].status == BLOB_FAILED) {
			ct_error_move(err, &p->tasks[i].err);
			return ct_error_prefix(err, "blob %zu/%zu (%s)", i + 1, p->n_tasks,
					       p->tasks[i].digest);
		}
	return 0;
}

static int parse_request(struct push *p, json_t *body, struct oci_ref *ref,
			 struct oci_platform **platform, struct registry_options *ropts,
			 struct registry_auth *auth, struct ct_error *err)
{
	const char *input = NULL, *plat = NULL, *scheme = NULL;
	json_t *auth_obj = NULL;
	int64_t chunk = 0;

	if (ct_json_get_string(body, "reference", true, &input, "request body", err) < 0 ||
	    ct_json_get_string(body, "platform", false, &plat, "request body", err) < 0 ||
	    ct_json_get_string(body, "scheme", false, &scheme, "request body", err) < 0 ||
	    ct_json_get_int(body, "chunkSize", false, &chunk, "request body", err) < 0 ||
	    ct_json_get_object(body, "auth", false, &auth_obj, "request body", err) < 0)
		return -1;
	if (chunk < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--chunk-size must be 0 (one request per blob) or a number of "
				    "bytes, not %lld",
				    (long long)chunk);
	p->chunk_size = chunk;
	if (scheme && strcmp(scheme, "http") && strcmp(scheme, "https") && strcmp(scheme, "auto"))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--scheme must be http, https or auto, not \"%s\"", scheme);
	ropts->scheme = scheme;
	if (auth_obj &&
	    (ct_json_get_string(auth_obj, "username", false, &auth->username, "auth", err) < 0 ||
	     ct_json_get_string(auth_obj, "password", false, &auth->password, "auth", err) < 0))
		return -1;
	if (plat) {
		*platform = xcalloc(1, sizeof(**platform));
		if (oci_platform_parse(plat, *platform, err) < 0)
			return -1;
	}
	return images_parse_ref(p->im, input, ref, err);
}

static int do_push(struct push *p, struct ct_error *err)
{
	struct images *im = p->im;
	struct oci_platform *platform = NULL;
	struct registry_options ropts = {0};
	struct registry_auth auth = {0};
	struct oci_ref ref = {0};
	struct image_record r = {0};
	int rc = -1;

	if (parse_request(p, job_body(p->job), &ref, &platform, &ropts, &auth, err) < 0)
		goto out;
	p->name = oci_ref_string(&ref);
	p->host = xstrdup(ref.registry);
	p->repo = xstrdup(ref.repository);
	p->target = xstrdup(ref.digest ? ref.digest : ref.tag);
	if (image_db_get(im->db, p->name, &r, err) < 0) {
		if (ct_error_is(err, CT_ERR_NOT_FOUND))
			ct_error_set(
			    err, CT_ERR_NOT_FOUND, 0,
			    "no image %s here; `container image tag SOURCE %s` names an image "
			    "for the registry first",
			    p->name, p->name);
		goto out;
	}
	if (ref.digest && !oci_digest_equal(ref.digest, r.digest) && !platform) {
		/* name@digest names the document itself; anything else is a mistake. */
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s is stored as %s", p->name,
			     r.digest);
		goto out;
	}
	if (ref.digest && platform) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "--platform needs a tag to push under, not a digest (%s)", p->name);
		goto out;
	}

	job_progress(p->job, json_pack("{s:s, s:s}", "status", "preparing", "reference", p->name));
	if (registry_client_new(p->host, &ropts, auth.username ? &auth : NULL, &p->rc, err) < 0 ||
	    plan(p, &r, platform, err) < 0 || find_mount_sources(p, err) < 0 ||
	    push_blobs(p, err) < 0)
		goto out;

	/* Manifests last, the top one under the tag: a tag only ever names complete
	 * content on the registry. */
	for (size_t i = 0; i < p->n_docs; i++) {
		struct push_doc *d = &p->docs[i];
		bool top = i + 1 == p->n_docs;
		if (registry_put_manifest(p->rc, p->repo, top ? p->target : d->digest,
					  d->media_type, d->body, d->len, NULL, err) < 0)
			goto out;
	}
	pthread_mutex_lock(&p->lock);
	job_progress(p->job, progress_locked(p, "done"));
	pthread_mutex_unlock(&p->lock);
	log_info("pushed %s (%s)", p->name, p->docs[p->n_docs - 1].digest);
	rc = 0;
out:
	image_record_free(&r);
	oci_ref_free(&ref);
	if (platform) {
		oci_platform_free(platform);
		free(platform);
	}
	return rc;
}

static int push_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct push p = {.im = job_data(job), .job = job};
	uint64_t start = ct_now_monotonic_ms();

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.changed, NULL);
	/* Shared: garbage collection must not remove a blob while it is being sent. */
	pthread_rwlock_rdlock(&p.im->gc_lock);
	int rc = do_push(&p, err);
	pthread_rwlock_unlock(&p.im->gc_lock);
	if (rc == 0) {
		int64_t bytes = 0, pushed = 0, skipped = 0, mounted = 0;
		for (size_t i = 0; i < p.n_tasks; i++) {
			switch (p.tasks[i].status) {
			case BLOB_DONE:
				pushed++;
				bytes += p.tasks[i].size;
				break;
			case BLOB_EXISTS:
				skipped++;
				break;
			case BLOB_MOUNTED:
				mounted++;
				break;
			default:
				break;
			}
		}
		*result =
		    json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name", p.name, "digest",
			      p.docs[p.n_docs - 1].digest, "manifests", (json_int_t)p.n_docs,
			      "pushed", (json_int_t)pushed, "skipped", (json_int_t)skipped,
			      "mounted", (json_int_t)mounted, "bytes", (json_int_t)bytes,
			      "milliseconds", (json_int_t)(ct_now_monotonic_ms() - start));
	} else {
		ct_error_prefix(err, "pushing %s", p.name ? p.name : "image");
	}
	for (size_t i = 0; i < p.n_tasks; i++) {
		free(p.tasks[i].digest);
		cleanup_strvp(&p.tasks[i].mount_from);
		ct_error_clear(&p.tasks[i].err);
	}
	free(p.tasks);
	for (size_t i = 0; i < p.n_docs; i++) {
		free(p.docs[i].digest);
		free(p.docs[i].media_type);
		free(p.docs[i].body);
	}
	free(p.docs);
	free(p.name);
	free(p.host);
	free(p.repo);
	free(p.target);
	registry_client_free(p.rc);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.changed);
	return rc;
}

static void route_push(struct ct_request *req, void *data)
{
	struct images *im = data;

	job_start(im->svc->loop, req, push_job, im);
}

void push_register_routes(struct images *im)
{
	ct_server_route(im->svc->server, "image.push", route_push, im);
}
