/* image.pull: resolve the reference, fetch the index (choosing the platform), the
 * manifest and the config, then the layers in parallel. Each layer streams in one
 * pass: download -> sha256 -> content store (ingest/, renamed when the digest
 * checks out) and, through a pipe, -> decompress -> diff_id hash -> unpack into a
 * fresh snapshot folder that is renamed to its chain id once the diff_id matches
 * the config. Download and unpack run on two threads per layer, so hashing and
 * inflating use both cores.
 *
 * Body: {"reference", "platform": "os/arch[/variant]", "scheme": "http|https|auto",
 *        "maxConcurrentDownloads": 3, "auth": {"username", "password"}} */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "decompress.h"
#include "images.h"
#include "json_util.h"
#include "log.h"
#include "oci/platform.h"
#include "registry.h"
#include "unpack.h"
#include "util.h"

#define PIPE_CHUNK (256 * 1024)

enum layer_status {
	LAYER_WAITING,
	LAYER_EXISTS,
	LAYER_DOWNLOADING,
	LAYER_DONE,
	LAYER_FAILED,
};

static const char *const layer_status_names[] = {"waiting", "exists", "downloading", "done",
						 "failed"};

struct layer_task {
	const struct oci_layer *layer;
	const char *diff_id;
	char *chain_id;
	bool need_blob;	    /* not in the content store yet */
	bool need_snapshot; /* not unpacked yet */
	enum layer_status status;
	int64_t current;
	struct ct_error err;
};

struct pull {
	struct images *im;
	struct job *job;
	struct registry_client *rc;
	char *name; /* the normalised reference */
	char *repo;
	/* The tasks point into these. */
	struct oci_manifest manifest;
	struct oci_image_config config;
	struct layer_task *tasks;
	size_t n_tasks;
	size_t next; /* next task to take */
	bool failed;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t running;
};

/* The unpack side of one layer: reads the pipe, inflates, hashes, unpacks. */
struct unpack_side {
	int fd;
	struct diff_reader reader;
	int snap_fd;
	const char *image, *layer;
	uint64_t max_bytes, max_entries;
	char diff_id[OCI_DIGEST_STRING_MAX];
	struct ct_error err;
	int rc;
};

static void *unpack_thread(void *arg)
{
	struct unpack_side *u = arg;
	struct unpack_options opts = {.image = u->image,
				      .layer = u->layer,
				      .max_bytes = u->max_bytes,
				      .max_entries = u->max_entries};

	u->rc = oci_digest_init(&u->reader.diff, OCI_DIGEST_SHA256, &u->err);
	if (u->rc == 0)
		u->rc = unpack_layer_from_reader(diff_reader_read, &u->reader, u->snap_fd, &opts,
						 NULL, &u->err);
	if (u->rc == 0)
		u->rc = oci_digest_final(&u->reader.diff, u->diff_id, &u->err);
	oci_digest_ctx_free(&u->reader.diff);
	/* Closing our end makes a writer still pushing bytes fail at once (EPIPE)
	 * instead of blocking on a reader that stopped. */
	close(u->fd);
	u->fd = -1;
	return NULL;
}

struct download_sink {
	struct pull *p;
	struct layer_task *t;
	struct ingest *ingest; /* NULL when the blob is already stored */
	int pipe_fd;	       /* -1 when the snapshot exists */
	bool fed_pipe;
};

static int sink_write(void *ctx, const void *data, size_t len, struct ct_error *err)
{
	struct download_sink *s = ctx;
	const char *p = data;

	if (s->ingest && ingest_write(s->ingest, data, len, err) < 0)
		return -1;
	if (s->pipe_fd >= 0) {
		s->fed_pipe = true;
		for (size_t off = 0; off < len;) {
			ssize_t w = write(s->pipe_fd, p + off, len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				/* The unpacker stopped; its error is the one to report. */
				return ct_error_set(err, CT_ERR_INTERNAL, EPIPE,
						    "unpacking stopped");
			}
			off += w;
		}
	}
	pthread_mutex_lock(&s->p->lock);
	s->t->current += len;
	pthread_mutex_unlock(&s->p->lock);
	return 0;
}

static int sink_restart(void *ctx, struct ct_error *err)
{
	struct download_sink *s = ctx;

	/* Bytes already unpacked can't be taken back: the caller retries the layer. */
	if (s->fed_pipe)
		return ct_error_set(err, CT_ERR_UNAVAILABLE, 0,
				    "the registry restarted the blob from byte 0 after a resume");
	pthread_mutex_lock(&s->p->lock);
	s->t->current = 0;
	pthread_mutex_unlock(&s->p->lock);
	return s->ingest ? ingest_restart(s->ingest, err) : 0;
}

static int fd_source_write(struct download_sink *sink, int fd, struct ct_error *err)
{
	_cleanup_free_ char *buf = malloc(PIPE_CHUNK);

	if (!buf)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, buf, PIPE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading a stored layer");
		if (n == 0)
			return 0;
		if (sink_write(sink, buf, n, err) < 0)
			return -1;
	}
}

/* One attempt at one layer. */
static int pull_layer_once(struct pull *p, struct layer_task *t, struct ct_error *err)
{
	struct images *im = p->im;
	const struct oci_descriptor *d = &t->layer->desc;
	struct ingest ingest;
	struct download_sink sink = {.p = p, .t = t, .pipe_fd = -1};
	struct unpack_side u = {.fd = -1, .snap_fd = -1, .image = p->name, .layer = d->digest};
	images_unpack_limits(im, &u.max_bytes, &u.max_entries);
	_cleanup_free_ char *snap_tmp = NULL;
	pthread_t thread;
	bool thread_started = false;
	int rc = -1;

	if (t->need_blob) {
		if (ingest_begin(&im->store, d->digest, d->size, &ingest, err) < 0)
			return -1;
		sink.ingest = &ingest;
	}
	if (t->need_snapshot) {
		int fds[2];
		if (store_snapshot_begin(&im->store, &snap_tmp, &u.snap_fd, err) < 0)
			goto out;
		if (pipe2(fds, O_CLOEXEC) < 0) {
			ct_error_errno(err, CT_ERR_INTERNAL, "creating a pipe");
			goto out;
		}
		/* A bigger pipe lets download and unpack drift apart without stalling. */
		fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
		u.fd = fds[0];
		sink.pipe_fd = fds[1];
		if (decompressor_new(t->layer->compression, decompress_read_fd, &u.fd,
				     &u.reader.dec, err) < 0)
			goto out;
		if (pthread_create(&thread, NULL, unpack_thread, &u) != 0) {
			ct_error_set(err, CT_ERR_INTERNAL, 0, "starting an unpack thread");
			goto out;
		}
		thread_started = true;
	}

	if (t->need_blob) {
		rc = registry_get_blob(p->rc, p->repo, d->digest, d->size, sink_write, sink_restart,
				       &sink, err);
	} else {
		/* The blob is stored already; only the snapshot is missing. */
		_cleanup_close_ int fd = store_blob_open(&im->store, d->digest, err);
		rc = fd < 0 ? -1 : fd_source_write(&sink, fd, err);
	}
	if (sink.pipe_fd >= 0) {
		close(sink.pipe_fd);
		sink.pipe_fd = -1;
	}
	if (thread_started) {
		pthread_join(thread, NULL);
		thread_started = false;
		if (u.rc < 0 && (rc == 0 || err->errnum == EPIPE)) {
			/* The unpacker's reason beats the writer's "unpacking stopped"; a
			 * download error of its own (a digest or size mismatch) is the
			 * real cause of what the unpacker saw. */
			ct_error_move(err, &u.err);
			rc = -1;
		} else if (rc == 0 && !oci_digest_equal(u.diff_id, t->diff_id)) {
			rc = ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "layer %s unpacks to diff_id %s but the image config says %s",
			    d->digest, u.diff_id, t->diff_id);
		}
	}
	if (rc < 0)
		goto out;
	if (sink.ingest) {
		sink.ingest = NULL;
		if (ingest_commit(&ingest, NULL, err) < 0) {
			rc = -1;
			goto out;
		}
	}
	if (snap_tmp) {
		close(u.snap_fd);
		u.snap_fd = -1;
		if (store_snapshot_commit(&im->store, snap_tmp, t->chain_id, err) < 0) {
			rc = -1;
			goto out;
		}
		free(snap_tmp);
		snap_tmp = NULL;
	}
	rc = 0;
out:
	if (sink.pipe_fd >= 0)
		close(sink.pipe_fd);
	if (thread_started)
		pthread_join(thread, NULL);
	if (u.fd >= 0)
		close(u.fd);
	if (u.snap_fd >= 0)
		close(u.snap_fd);
	decompressor_free(u.reader.dec);
	ct_error_clear(&u.err);
	if (sink.ingest)
		ingest_abort(&ingest);
	if (snap_tmp)
		ct_remove_tree(snap_tmp, NULL);
	return rc;
}

static void *layer_worker(void *arg)
{
	struct pull *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->next < p->n_tasks && p->tasks[p->next].status == LAYER_EXISTS)
			p->next++;
		if (p->next >= p->n_tasks || p->failed) {
			p->running--;
			pthread_cond_broadcast(&p->changed);
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		struct layer_task *t = &p->tasks[p->next++];
		t->status = LAYER_DOWNLOADING;
		pthread_mutex_unlock(&p->lock);

		struct ct_error err = CT_ERROR_INIT;
		int rc = pull_layer_once(p, t, &err);
		/* A full disk stays full: a second attempt would only fill it again. */
		if (rc < 0 && ct_error_is(&err, CT_ERR_UNAVAILABLE) &&
		    !store_error_is_disk_full(&err)) {
			/* One fresh attempt for a transfer that could not be resumed. */
			log_warn("pulling %s: layer %s: %s; trying the layer again", p->name,
				 t->layer->desc.digest, ct_error_message(&err));
			ct_error_clear(&err);
			pthread_mutex_lock(&p->lock);
			t->current = 0;
			pthread_mutex_unlock(&p->lock);
			rc = pull_layer_once(p, t, &err);
		}
		pthread_mutex_lock(&p->lock);
		t->status = rc == 0 ? LAYER_DONE : LAYER_FAILED;
		if (rc < 0) {
			ct_error_move(&t->err, &err);
			p->failed = true;
		}
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Progress as the CLI draws it; called with p->lock held. */
static json_t *progress_locked(struct pull *p, const char *status)
{
	json_t *layers = json_array();
	int64_t total = 0, current = 0;

	for (size_t i = 0; i < p->n_tasks; i++) {
		struct layer_task *t = &p->tasks[i];
		int64_t cur = t->status == LAYER_EXISTS || t->status == LAYER_DONE
				  ? t->layer->desc.size
				  : t->current;
		total += t->layer->desc.size;
		current += cur;
		json_array_append_new(
		    layers, json_pack("{s:s, s:I, s:I, s:s}", "digest", t->layer->desc.digest,
				      "size", (json_int_t)t->layer->desc.size, "current",
				      (json_int_t)cur, "status", layer_status_names[t->status]));
	}
	return json_pack("{s:s, s:s, s:o, s:I, s:I}", "status", status, "reference", p->name,
			 "layers", layers, "total", (json_int_t)total, "current",
			 (json_int_t)current);
}

static json_t *pull_progress(void *arg)
{
	return progress_locked(arg, "downloading");
}

static int pull_layers(struct pull *p, int concurrency, struct ct_error *err)
{
	size_t todo = 0;

	for (size_t i = 0; i < p->n_tasks; i++)
		if (p->tasks[i].status != LAYER_EXISTS)
			todo++;
	if (concurrency < 1)
		concurrency = 1;
	if ((size_t)concurrency > todo)
		concurrency = todo;
	const struct job_pool pool = {&p->lock, &p->changed, &p->running, pull_progress};
	if (job_run_workers(p->job, concurrency, layer_worker, p, &pool, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_tasks; i++)
		if (p->tasks[i].status == LAYER_FAILED) {
			ct_error_move(err, &p->tasks[i].err);
			return ct_error_prefix(err, "layer %zu/%zu (%s)", i + 1, p->n_tasks,
					       p->tasks[i].layer->desc.digest);
		}
	return 0;
}

/* Fetches a small document, or reads it from the store when there already. */
static int fetch_document(struct pull *p, const char *digest, int64_t size, char **body,
			  size_t *len, struct ct_error *err)
{
	if (store_blob_exists(&p->im->store, digest, NULL))
		return store_blob_read(&p->im->store, digest, IMAGES_DOC_MAX, body, len, err);
	if (size < 0 || size > IMAGES_DOC_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s declares %lld bytes; documents are at most %u", digest,
				    (long long)size, IMAGES_DOC_MAX);
	return -2; /* not stored: the caller fetches it */
}

struct mem_sink {
	char *buf;
	size_t len, cap;
};

static int mem_write(void *ctx, const void *data, size_t len, struct ct_error *err)
{
	struct mem_sink *m = ctx;

	if (m->len + len > m->cap)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "document larger than declared");
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return 0;
}

static int mem_restart(void *ctx, struct ct_error *err)
{
	((struct mem_sink *)ctx)->len = 0;
	return 0;
}

static int fetch_config(struct pull *p, const struct oci_descriptor *d, char **body, size_t *len,
			struct ct_error *err)
{
	int rc = fetch_document(p, d->digest, d->size, body, len, err);

	if (rc != -2)
		return rc;
	struct mem_sink m = {.buf = malloc(d->size + 1), .cap = d->size};
	if (!m.buf)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	if (registry_get_blob(p->rc, p->repo, d->digest, d->size, mem_write, mem_restart, &m, err) <
		0 ||
	    store_blob_write(&p->im->store, m.buf, m.len, d->digest, NULL, err) < 0) {
		free(m.buf);
		return ct_error_prefix(err, "config %s", d->digest);
	}
	m.buf[m.len] = '\0';
	*body = m.buf;
	*len = m.len;
	return 0;
}

static int parse_request(struct images *im, json_t *body, struct oci_ref *ref,
			 struct oci_platform *platform, struct registry_options *ropts,
			 struct registry_auth *auth, int *concurrency, struct ct_error *err)
{
	const char *input = NULL, *plat = NULL, *scheme = NULL;
	json_t *auth_obj = NULL;
	int64_t conc = 3;

	if (ct_json_get_string(body, "reference", true, &input, "request body", err) < 0 ||
	    ct_json_get_string(body, "platform", false, &plat, "request body", err) < 0 ||
	    ct_json_get_string(body, "scheme", false, &scheme, "request body", err) < 0 ||
	    ct_json_get_int(body, "maxConcurrentDownloads", false, &conc, "request body", err) <
		0 ||
	    ct_json_get_object(body, "auth", false, &auth_obj, "request body", err) < 0)
		return -1;
	if (conc < 1 || conc > 32)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--max-concurrent-downloads must be 1 to 32, not %lld",
				    (long long)conc);
	*concurrency = conc;
	if (scheme && strcmp(scheme, "http") && strcmp(scheme, "https") && strcmp(scheme, "auto"))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--scheme must be http, https or auto, not \"%s\"", scheme);
	ropts->scheme = scheme;
	if (auth_obj &&
	    (ct_json_get_string(auth_obj, "username", false, &auth->username, "auth", err) < 0 ||
	     ct_json_get_string(auth_obj, "password", false, &auth->password, "auth", err) < 0))
		return -1;
	if (plat ? oci_platform_parse(plat, platform, err) < 0
		 : oci_platform_host(platform, err) < 0)
		return -1;
	return images_parse_ref(im, input, ref, err);
}

static int do_pull(struct pull *p, struct ct_error *err)
{
	struct images *im = p->im;
	json_t *body = job_body(p->job);
	_cleanup_platform_ struct oci_platform platform = {0};
	struct registry_options ropts = {0};
	struct registry_auth auth = {0};
	int concurrency = 3;
	struct oci_ref ref = {0};

	if (parse_request(im, body, &ref, &platform, &ropts, &auth, &concurrency, err) < 0) {
		oci_ref_free(&ref);
		return -1;
	}
	p->name = oci_ref_string(&ref);
	p->repo = xstrdup(ref.repository);
	const char *target = ref.digest ? ref.digest : ref.tag;
	_cleanup_free_ char *host = xstrdup(ref.registry);
	_cleanup_free_ char *target_copy = xstrdup(target);
	oci_ref_free(&ref);

	job_progress(p->job, json_pack("{s:s, s:s}", "status", "resolving", "reference", p->name));
	if (registry_client_new(host, &ropts, auth.username ? &auth : NULL, &p->rc, err) < 0)
		return -1;

	_cleanup_free_ char *top = NULL, *top_type = NULL, *top_digest = NULL;
	size_t top_len = 0;
	if (registry_get_manifest(p->rc, p->repo, target_copy, NULL, &top, &top_len, &top_type,
				  &top_digest, err) < 0)
		return -1;
	enum oci_manifest_kind kind;
	if (oci_manifest_kind(top, top_len, top_type, &kind, err) < 0)
		return ct_error_prefix(err, "%s", top_digest);

	_cleanup_free_ char *man = NULL, *man_type = NULL, *man_digest = NULL;
	size_t man_len = 0;
	if (kind == OCI_MANIFEST_KIND_INDEX) {
		_cleanup_index_ struct oci_index index = {0};
		const struct oci_descriptor *desc;
		if (oci_manifest_index_parse(top, top_len, top_type, &index, err) < 0 ||
		    oci_manifest_index_select(&index, &platform, &desc, err) < 0)
			return -1;
		const char *accept[] = {desc->media_type, NULL};
		if (registry_get_manifest(p->rc, p->repo, desc->digest, accept, &man, &man_len,
					  &man_type, &man_digest, err) < 0)
			return -1;
		if ((int64_t)man_len != desc->size)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "manifest %s is %zu bytes; the index says %lld",
					    desc->digest, man_len, (long long)desc->size);
	} else {
		man = move_ptr(top);
		man_len = top_len;
		man_type = xstrdup(top_type);
		man_digest = xstrdup(top_digest);
		top = NULL;
	}

	struct oci_manifest *manifest = &p->manifest;
	struct oci_image_config *config = &p->config;
	_cleanup_free_ char *config_text = NULL;
	size_t config_len;
	if (oci_manifest_parse(man, man_len, man_type, manifest, err) < 0 ||
	    fetch_config(p, &manifest->config, &config_text, &config_len, err) < 0 ||
	    oci_config_parse(config_text, config_len, manifest->config.media_type, config, err) <
		0 ||
	    oci_manifest_check_config(manifest, config, err) < 0)
		return -1;
	for (size_t i = 0; i < manifest->n_layers; i++)
		if (manifest->layers[i].nondistributable)
			return ct_error_set(
			    err, CT_ERR_UNSUPPORTED, 0,
			    "layer %s is a foreign (non-distributable) layer; those "
			    "are not supported",
			    manifest->layers[i].desc.digest);

	p->n_tasks = manifest->n_layers;
	p->tasks = xcalloc(p->n_tasks ? p->n_tasks : 1, sizeof(*p->tasks));
	for (size_t i = 0; i < p->n_tasks; i++) {
		struct layer_task *t = &p->tasks[i];
		char chain[OCI_DIGEST_STRING_MAX];
		t->layer = &manifest->layers[i];
		t->diff_id = config->diff_ids[i];
		if (store_chain_id(i ? p->tasks[i - 1].chain_id : NULL, t->diff_id, chain, err) < 0)
			return -1;
		t->chain_id = xstrdup(chain);
		t->need_blob = !store_blob_exists(&im->store, t->layer->desc.digest, NULL);
		t->need_snapshot = !store_snapshot_exists(&im->store, t->chain_id);
		t->status = t->need_blob || t->need_snapshot ? LAYER_WAITING : LAYER_EXISTS;
	}
	if (pull_layers(p, concurrency, err) < 0)
		return -1;

	/* Documents last: a reference only ever points at complete content. */
	if (store_blob_write(&im->store, man, man_len, man_digest, NULL, err) < 0)
		return -1;
	const char *ref_digest = man_digest, *ref_type = man_type;
	size_t ref_size = man_len;
	if (kind == OCI_MANIFEST_KIND_INDEX) {
		if (store_blob_write(&im->store, top, top_len, top_digest, NULL, err) < 0)
			return -1;
		ref_digest = top_digest;
		ref_type = top_type;
		ref_size = top_len;
	}
	pthread_mutex_lock(&im->ref_lock);
	int rc = image_db_put(im->db, p->name, ref_digest, ref_type, ref_size, err);
	pthread_mutex_unlock(&im->ref_lock);
	if (rc < 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	job_progress(p->job, progress_locked(p, "done"));
	pthread_mutex_unlock(&p->lock);
	log_info("pulled %s (%s)", p->name, ref_digest);
	return 0;
}

int image_pull_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct pull p = {.im = job_data(job), .job = job};
	uint64_t start = ct_now_monotonic_ms();

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.changed, NULL);
	pthread_rwlock_rdlock(&p.im->gc_lock);
	int rc = do_pull(&p, err);
	pthread_rwlock_unlock(&p.im->gc_lock);
	if (rc < 0) {
		/* Leave the store as it was: what this pull stored but no image
		 * references (the good layers of a refused image) goes again. */
		_cleanup_error_ struct ct_error gc_err = CT_ERROR_INIT;
		if (images_gc(p.im, NULL, NULL, &gc_err) < 0)
			log_warn("cleaning up after a failed pull: %s", ct_error_message(&gc_err));
	}
	if (rc == 0) {
		int64_t bytes = 0;
		size_t fetched = 0;
		for (size_t i = 0; i < p.n_tasks; i++)
			if (p.tasks[i].status == LAYER_DONE) {
				bytes += p.tasks[i].layer->desc.size;
				fetched++;
			}
		*result = json_pack("{s:s, s:I, s:I, s:I, s:I}", "name", p.name, "layers",
				    (json_int_t)p.n_tasks, "layersFetched", (json_int_t)fetched,
				    "bytesFetched", (json_int_t)bytes, "milliseconds",
				    (json_int_t)(ct_now_monotonic_ms() - start));
	} else {
		ct_error_prefix(err, "pulling %s", p.name ? p.name : "image");
		store_error_disk_full(&p.im->store, "pull again", err);
	}
	for (size_t i = 0; i < p.n_tasks; i++) {
		free(p.tasks[i].chain_id);
		ct_error_clear(&p.tasks[i].err);
	}
	free(p.tasks);
	oci_manifest_free(&p.manifest);
	oci_config_free(&p.config);
	free(p.name);
	free(p.repo);
	registry_client_free(p.rc);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.changed);
	return rc;
}
