/* image.import: a root filesystem tar (plain, gzip or zstd; passed as a
 * descriptor) becomes a one-layer OCI image. The tar is read once: decompressed,
 * hashed for the diff_id, saved uncompressed and unpacked into a snapshot in the
 * same pass; then it is compressed into the layer blob.
 *
 * Body: {"reference": "busybox:latest", "changes": {"cmd": […], "entrypoint": […],
 *        "env": […], "workingDir": "/", "user": "…", "labels": {…},
 *        "exposedPorts": ["80/tcp"], "stopSignal": "SIGTERM"}} */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "compress.h"
#include "decompress.h"
#include "images.h"
#include "json_util.h"
#include "log.h"
#include "oci/platform.h"
#include "unpack.h"
#include "util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Gives back the bytes used to sniff the compression before the rest of fd. */
struct peek_reader {
	int fd;
	uint8_t head[4];
	size_t head_len, head_off;
};

static ssize_t peek_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct peek_reader *p = ctx;

	if (p->head_off < p->head_len) {
		size_t n = p->head_len - p->head_off;
		if (n > len)
			n = len;
		memcpy(buf, p->head + p->head_off, n);
		p->head_off += n;
		return n;
	}
	for (;;) {
		ssize_t n = read(p->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading the archive");
	}
}

/* Hashes the uncompressed tar (the diff_id) and keeps a copy of it. */
struct tee_reader {
	struct decompressor *dec;
	struct oci_digest_ctx diff;
	int copy_fd;
};

static ssize_t tee_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct tee_reader *t = ctx;
	ssize_t n = decompressor_read(t->dec, buf, len, err);

	if (n <= 0)
		return n;
	if (oci_digest_update(&t->diff, buf, n, err) < 0)
		return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(t->copy_fd, (char *)buf + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ct_error_errno(
			    err, errno == ENOSPC ? CT_ERR_UNAVAILABLE : CT_ERR_INTERNAL,
			    "saving the layer");
		}
		off += w;
	}
	return n;
}

static enum oci_compression sniff(const uint8_t *h, size_t n)
{
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return OCI_COMPRESSION_GZIP;
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return OCI_COMPRESSION_ZSTD;
	return OCI_COMPRESSION_NONE;
}

/* The image config's "config" object from the request's changes. Unknown fields
 * are refused so a typo is not silently dropped. */
static int build_exec_config(json_t *changes, json_t **out, struct ct_error *err)
{
	static const char *const keys[] = {"cmd",	   "entrypoint", "env",
					   "workingDir",   "user",	 "labels",
					   "exposedPorts", "stopSignal", NULL};
	const char *what = "changes";
	json_t *c = json_object(), *v;
	bool has_path = false;

	if (!changes) {
		json_object_set_new(c, "Env", json_pack("[s]", DEFAULT_PATH));
		*out = c;
		return 0;
	}
	if (ct_json_check_keys(changes, keys, what, err) < 0)
		goto fail;
	static const struct {
		const char *from, *to;
	} lists[] = {{"cmd", "Cmd"}, {"entrypoint", "Entrypoint"}, {"env", "Env"}};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		char **strv = NULL;
		if (ct_json_get_string_array(changes, lists[i].from, false, &strv, what, err) < 0)
			goto fail;
		if (!strv)
			continue;
		json_t *arr = json_array();
		for (char **s = strv; *s; s++) {
			if (i == 2 && !strchr(*s, '=')) {
				ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					     "env entry \"%s\" must look like NAME=value", *s);
				cleanup_strvp(&strv);
				json_decref(arr);
				goto fail;
			}
			if (i == 2 && ct_str_has_prefix(*s, "PATH="))
				has_path = true;
			json_array_append_new(arr, json_string(*s));
		}
		cleanup_strvp(&strv);
		json_object_set_new(c, lists[i].to, arr);
	}
	if (!has_path) {
		json_t *env = json_object_get(c, "Env");
		if (!env)
			json_object_set_new(c, "Env", env = json_array());
		json_array_insert_new(env, 0, json_string(DEFAULT_PATH));
	}
	static const struct {
		const char *from, *to;
	} strings[] = {
	    {"workingDir", "WorkingDir"}, {"user", "User"}, {"stopSignal", "StopSignal"}};
	for (size_t i = 0; i < ARRAY_SIZE(strings); i++) {
		const char *s = NULL;
		if (ct_json_get_string(changes, strings[i].from, false, &s, what, err) < 0)
			goto fail;
		if (s)
			json_object_set_new(c, strings[i].to, json_string(s));
	}
	if ((v = json_object_get(changes, "labels"))) {
		const char *k;
		json_t *lv;
		if (!json_is_object(v)) {
			ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				     "changes.labels must be an object");
			goto fail;
		}
		json_object_foreach (v, k, lv)
			if (!json_is_string(lv)) {
				ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					     "label %s must have a string value", k);
				goto fail;
			}
		json_object_set(c, "Labels", v);
	}
	char **ports = NULL;
	if (ct_json_get_string_array(changes, "exposedPorts", false, &ports, what, err) < 0)
		goto fail;
	if (ports) {
		json_t *p = json_object();
		for (char **s = ports; *s; s++)
			json_object_set_new(p, *s, json_object());
		cleanup_strvp(&ports);
		json_object_set_new(c, "ExposedPorts", p);
	}
	*out = c;
	return 0;
fail:
	json_decref(c);
	return -1;
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (!s)
		abort();
	return s;
}

struct import_state {
	struct images *im;
	int in_fd, copy_fd, snap_fd;
	char *copy_path, *snap_tmp;
	struct decompressor *dec;
};

static void import_state_free(struct import_state *st)
{
	if (st->in_fd >= 0)
		close(st->in_fd);
	if (st->copy_fd >= 0)
		close(st->copy_fd);
	if (st->snap_fd >= 0)
		close(st->snap_fd);
	if (st->copy_path)
		unlink(st->copy_path);
	if (st->snap_tmp)
		ct_remove_tree(st->snap_tmp, NULL);
	free(st->copy_path);
	free(st->snap_tmp);
	decompressor_free(st->dec);
}

static int do_import(struct job *job, struct import_state *st, json_t **result,
		     struct ct_error *err)
{
	struct images *im = st->im;
	json_t *body = job_body(job), *changes = NULL;
	const char *input = NULL;
	struct oci_ref ref;

	if (ct_json_get_string(body, "reference", true, &input, "request body", err) < 0 ||
	    ct_json_get_object(body, "changes", false, &changes, "request body", err) < 0)
		return -1;
	if (images_parse_ref(im, input, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *name = oci_ref_string(&ref);
	bool has_digest = ref.digest != NULL;
	oci_ref_free(&ref);
	if (has_digest)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "import needs a name and tag, not a digest (%s)", input);
	_cleanup_json_ json_t *exec_config = NULL;
	if (build_exec_config(changes, &exec_config, err) < 0)
		return -1;

	st->in_fd = job_take_fd(job, 0);
	if (st->in_fd < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "image.import needs the archive as a descriptor");

	/* Pass 1: sniff, decompress, hash, keep a copy, unpack. */
	struct peek_reader peek = {.fd = st->in_fd};
	while (peek.head_len < sizeof(peek.head)) {
		ssize_t n =
		    read(st->in_fd, peek.head + peek.head_len, sizeof(peek.head) - peek.head_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading the archive");
		if (n == 0)
			break;
		peek.head_len += n;
	}
	if (peek.head_len == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "the archive is empty");
	if (decompressor_new(sniff(peek.head, peek.head_len), peek_read, &peek, &st->dec, err) < 0)
		return -1;
	st->copy_path = xasprintf("%s/import-XXXXXX", im->store.ingest);
	st->copy_fd = mkostemp(st->copy_path, O_CLOEXEC);
	if (st->copy_fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", st->copy_path);
	if (store_snapshot_begin(&im->store, &st->snap_tmp, &st->snap_fd, err) < 0)
		return -1;

	struct tee_reader tee = {.dec = st->dec, .copy_fd = st->copy_fd};
	if (oci_digest_init(&tee.diff, OCI_DIGEST_SHA256, err) < 0)
		return -1;
	struct unpack_options opts = {.image = name, .layer = "imported archive"};
	images_unpack_limits(im, &opts.max_bytes, &opts.max_entries);
	struct unpack_stats stats;
	job_progress(job, json_pack("{s:s}", "status", "unpacking"));
	int rc = unpack_layer_from_reader(tee_read, &tee, st->snap_fd, &opts, &stats, err);
	char diff_id[OCI_DIGEST_STRING_MAX];
	if (rc == 0)
		rc = oci_digest_final(&tee.diff, diff_id, err);
	oci_digest_ctx_free(&tee.diff);
	if (rc < 0)
		return -1;

	/* Pass 2: the layer blob. */
	char layer_digest[OCI_DIGEST_STRING_MAX];
	int64_t layer_size;
	job_progress(job, json_pack("{s:s}", "status", "compressing"));
	if (compress_gzip_to_store(&im->store, st->copy_fd, layer_digest, &layer_size, err) < 0)
		return -1;

	/* Config and manifest. */
	_cleanup_platform_ struct oci_platform host = {0};
	if (oci_platform_host(&host, err) < 0)
		return -1;
	char now[32];
	ct_format_time_now(now, sizeof(now));
	_cleanup_json_ json_t *config = json_pack(
	    "{s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "created", now, "architecture",
	    host.architecture, "os", host.os, "config", exec_config, "rootfs", "type", "layers",
	    "diff_ids", diff_id, "history", "created", now, "created_by", "container image import");
	if (host.variant)
		json_object_set_new(config, "variant", json_string(host.variant));
	_cleanup_free_ char *config_text = dump(config);
	char config_digest[OCI_DIGEST_STRING_MAX];
	if (store_blob_write(&im->store, config_text, strlen(config_text), NULL, config_digest,
			     err) < 0)
		return -1;
	_cleanup_json_ json_t *manifest =
	    json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
		      "mediaType", "application/vnd.oci.image.manifest.v1+json", "config",
		      "mediaType", "application/vnd.oci.image.config.v1+json", "digest",
		      config_digest, "size", (json_int_t)strlen(config_text), "layers", "mediaType",
		      "application/vnd.oci.image.layer.v1.tar+gzip", "digest", layer_digest, "size",
		      (json_int_t)layer_size);
	_cleanup_free_ char *manifest_text = dump(manifest);
	char manifest_digest[OCI_DIGEST_STRING_MAX];
	if (store_blob_write(&im->store, manifest_text, strlen(manifest_text), NULL,
			     manifest_digest, err) < 0)
		return -1;

	/* The snapshot of a one-layer image is named by its diff_id (its chain id). */
	if (!store_snapshot_exists(&im->store, diff_id)) {
		if (store_snapshot_commit(&im->store, st->snap_tmp, diff_id, err) < 0)
			return -1;
		free(st->snap_tmp);
		st->snap_tmp = NULL;
	}
	pthread_mutex_lock(&im->ref_lock);
	rc = image_db_put(im->db, name, manifest_digest,
			  "application/vnd.oci.image.manifest.v1+json", strlen(manifest_text), err);
	pthread_mutex_unlock(&im->ref_lock);
	if (rc < 0)
		return -1;
	log_info("imported %s as %s (%llu entries, %llu bytes)", name, manifest_digest,
		 (unsigned long long)stats.entries, (unsigned long long)stats.bytes);
	*result = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", name, "digest", manifest_digest,
			    "diffId", diff_id, "layerSize", (json_int_t)layer_size, "entries",
			    (json_int_t)stats.entries);
	return 0;
}

int image_import_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct images *im = job_data(job);
	struct import_state st = {.im = im, .in_fd = -1, .copy_fd = -1, .snap_fd = -1};

	pthread_rwlock_rdlock(&im->gc_lock);
	int rc = do_import(job, &st, result, err);
	import_state_free(&st);
	pthread_rwlock_unlock(&im->gc_lock);
	if (rc < 0) {
		ct_error_prefix(err, "importing");
		return store_error_disk_full(&im->store, "import again", err);
	}
	return 0;
}
