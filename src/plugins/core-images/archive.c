/* image.save and image.load: images to and from tar archives, through a descriptor the
 * CLI passes (so the bytes never go through the API server).
 *
 * save writes an OCI image layout (image-spec "image-layout.md") as one tar stream:
 * oci-layout, index.json with an entry per reference (annotated with the tag as
 * org.opencontainers.image.ref.name and the full name as io.containerd.image.name,
 * as containerd and docker write them), then blobs/sha256/<hex> straight from the
 * content store, each checked against its digest on the way out.
 *
 * load reads such a layout, or a `docker save` archive (manifest.json with Config,
 * RepoTags and Layers; layer tars, compressed or not; legacy symlinks). The tar is read
 * once, in whatever order its entries come: every regular file goes through ingest/
 * (a file under blobs/ must hash to its name), then the images are checked and
 * unpacked from the store: documents against their media types and sizes, each layer
 * against its diff_id while it unpacks into a snapshot, exactly as a pull does. A
 * docker archive gets a Docker schema 2 manifest built for it (layers kept as they
 * are). References are written only when everything checked out; after a failure
 * garbage collection takes away what the load stored, so the store is as it was.
 *
 * save body: {"references": ["busybox", …]}, fds[0] the output.
 * load body: {"name": "repo[:tag]"} (optional: names images the archive leaves
 * unnamed), fds[0] the input. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "decompress.h"
#include "images.h"
#include "json_util.h"
#include "log.h"
#include "unpack.h"
#include "util.h"

#define ARCHIVE_CHUNK (256 * 1024)
/* A docker save of many images has a few files per layer, far fewer than this; the
 * entries are kept in a list searched linearly, so the bound keeps that cheap. */
#define LOAD_MAX_ENTRIES      20000
#define LOAD_MAX_LINK_DEPTH   16
#define ANNOTATION_REF_NAME   "org.opencontainers.image.ref.name"
#define ANNOTATION_IMAGE_NAME "io.containerd.image.name"

static inline void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static inline void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

#define _cleanup_archive_write_ __attribute__((cleanup(archive_write_freep)))
#define _cleanup_archive_read_	__attribute__((cleanup(archive_read_freep)))

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (!s)
		abort();
	return s;
}

/* ---- save ---------------------------------------------------------------------- */

struct save_blob {
	char *digest;
	int64_t size;
};

struct save {
	struct images *im;
	struct save_blob *blobs; /* in the order they are written, each once */
	size_t n_blobs;
	json_t *manifests; /* index.json's entries */
	json_t *names;
	int64_t bytes;
};

static int save_add_blob(struct save *s, const char *digest, int64_t size, const char *what,
			 struct ct_error *err)
{
	int64_t stored;

	for (size_t i = 0; i < s->n_blobs; i++)
		if (oci_digest_equal(s->blobs[i].digest, digest))
			return 0;
	if (!store_blob_exists(&s->im->store, digest, &stored))
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
				    "%s %s is not in the content store; pull the image again", what,
				    digest);
	if (stored != size)
		return ct_error_set(
		    err, CT_ERR_INTERNAL, 0,
		    "%s %s in the content store is %lld bytes, its descriptor says "
		    "%lld; the store is damaged: delete the image and pull it again",
		    what, digest, (long long)stored, (long long)size);
	s->blobs = realloc(s->blobs, (s->n_blobs + 1) * sizeof(*s->blobs));
	if (!s->blobs)
		abort();
	s->blobs[s->n_blobs++] = (struct save_blob){.digest = xstrdup(digest), .size = size};
	return 0;
}

static void save_truncate(struct save *s, size_t n)
{
	while (s->n_blobs > n)
		free(s->blobs[--s->n_blobs].digest);
}

/* A stored image manifest with its config and layers. */
static int save_add_manifest(struct save *s, const char *digest, const char *media_type,
			     int64_t size, struct ct_error *err)
{
	_cleanup_free_ char *doc = NULL;
	_cleanup_manifest_ struct oci_manifest m = {0};
	size_t len;

	if (save_add_blob(s, digest, size, "manifest", err) < 0 ||
	    store_blob_read(&s->im->store, digest, IMAGES_DOC_MAX, &doc, &len, err) < 0 ||
	    oci_manifest_parse(doc, len, media_type, &m, err) < 0 ||
	    save_add_blob(s, m.config.digest, m.config.size, "config", err) < 0)
		return -1;
	for (size_t i = 0; i < m.n_layers; i++)
		if (save_add_blob(s, m.layers[i].desc.digest, m.layers[i].desc.size, "layer", err) <
		    0)
			return -1;
	return 0;
}

static int save_reference(struct save *s, const char *input, struct ct_error *err)
{
	struct image_record r = {0};
	_cleanup_free_ char *doc = NULL;
	enum oci_manifest_kind kind;
	size_t len, i;
	json_t *seen;
	int rc = -1;

	if (image_find(s->im, input, &r, NULL, err) < 0)
		return -1;
	json_array_foreach (s->names, i, seen)
		if (strcmp(json_string_value(seen), r.name) == 0) {
			image_record_free(&r);
			return 0;
		}
	if (store_blob_read(&s->im->store, r.digest, IMAGES_DOC_MAX, &doc, &len, err) < 0 ||
	    oci_manifest_kind(doc, len, r.media_type, &kind, err) < 0)
		goto out;
	if (kind == OCI_MANIFEST_KIND_IMAGE) {
		if (save_add_manifest(s, r.digest, r.media_type, len, err) < 0)
			goto out;
	} else {
		_cleanup_index_ struct oci_index index = {0};
		size_t saved = 0;
		if (save_add_blob(s, r.digest, len, "index", err) < 0 ||
		    oci_manifest_index_parse(doc, len, r.media_type, &index, err) < 0)
			goto out;
		/* The platforms that were pulled; the others stay out of the archive, as
		 * they are out of the store (load takes such an index back). */
		for (size_t k = 0; k < index.n_manifests; k++) {
			const struct oci_descriptor *d = &index.manifests[k];
			_cleanup_error_ struct ct_error skip = CT_ERROR_INIT;
			size_t mark = s->n_blobs;
			if (!store_blob_exists(&s->im->store, d->digest, NULL))
				continue;
			if (save_add_manifest(s, d->digest, d->media_type, d->size, &skip) < 0) {
				log_info("saving %s: leaving out manifest %s: %s", r.name,
					 d->digest, ct_error_message(&skip));
				save_truncate(s, mark);
				continue;
			}
			saved++;
		}
		if (saved == 0) {
			ct_error_set(err, CT_ERR_NOT_FOUND, 0,
				     "none of the %zu manifests of its index is stored here; pull "
				     "it again",
				     index.n_manifests);
			goto out;
		}
	}

	struct oci_ref ref;
	json_t *annotations = json_pack("{s:s}", ANNOTATION_IMAGE_NAME, r.name);
	if (oci_ref_parse(r.name, NULL, &ref, err) < 0) {
		json_decref(annotations);
		goto out;
	}
	if (ref.tag)
		json_object_set_new(annotations, ANNOTATION_REF_NAME, json_string(ref.tag));
	oci_ref_free(&ref);
	json_array_append_new(s->manifests, json_pack("{s:s, s:s, s:I, s:o}", "mediaType",
						      r.media_type, "digest", r.digest, "size",
						      (json_int_t)len, "annotations", annotations));
	json_array_append_new(s->names, json_string(r.name));
	rc = 0;
out:
	if (rc < 0)
		ct_error_prefix(err, "image %s", input);
	image_record_free(&r);
	return rc;
}

static int archive_failure(struct archive *a, const char *doing, struct ct_error *err)
{
	int e = archive_errno(a);
	const char *why = archive_error_string(a);

	if (e == EPIPE)
		return ct_error_set(err, CT_ERR_CANCELLED, e,
				    "%s: the reader of the archive went away", doing);
	return ct_error_set(err, e == ENOSPC ? CT_ERR_UNAVAILABLE : CT_ERR_INTERNAL, e, "%s: %s",
			    doing, why ? why : "libarchive failed");
}

static int write_header(struct archive *a, const char *path, mode_t type, mode_t perm, int64_t size,
			struct ct_error *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (!e)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, type == AE_IFREG ? size : 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	/* Fixed times: the same images always make the same archive. */
	archive_entry_set_mtime(e, 0, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		_cleanup_free_ char *doing = xasprintf("writing %s", path);
		return archive_failure(a, doing, err);
	}
	return 0;
}

static int write_bytes(struct archive *a, const char *path, const void *buf, size_t len,
		       struct ct_error *err)
{
	la_ssize_t w = archive_write_data(a, buf, len);

	if (w < 0 || (size_t)w != len) {
		_cleanup_free_ char *doing = xasprintf("writing %s", path);
		return archive_failure(a, doing, err);
	}
	return 0;
}

static int write_small_file(struct archive *a, const char *path, const char *text,
			    struct ct_error *err)
{
	size_t len = strlen(text);

	if (write_header(a, path, AE_IFREG, 0644, len, err) < 0)
		return -1;
	return write_bytes(a, path, text, len, err);
}

/* One blob, from the store to the tar, hashed on the way: a store file that no longer
 * matches its name is not handed on. */
static int write_blob(struct save *s, struct archive *a, const struct save_blob *b, char *buf,
		      struct ct_error *err)
{
	const char *hex = strchr(b->digest, ':') + 1;
	_cleanup_free_ char *path = xasprintf("blobs/sha256/%s", hex);
	_cleanup_close_ int fd = store_blob_open(&s->im->store, b->digest, err);
	_cleanup_digest_ctx_ struct oci_digest_ctx ctx = {0};
	char digest[OCI_DIGEST_STRING_MAX];
	int64_t done = 0;
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "blob %s", b->digest);
	if (st.st_size != b->size)
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "blob %s in the content store is %lld bytes, not %lld; delete "
				    "the image and pull it again",
				    b->digest, (long long)st.st_size, (long long)b->size);
	if (oci_digest_init(&ctx, OCI_DIGEST_SHA256, err) < 0 ||
	    write_header(a, path, AE_IFREG, 0644, b->size, err) < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf, ARCHIVE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading blob %s", b->digest);
		if (n == 0)
			break;
		done += n;
		if (done > b->size)
			break;
		if (oci_digest_update(&ctx, buf, n, err) < 0 ||
		    write_bytes(a, path, buf, n, err) < 0)
			return -1;
	}
	if (done != b->size || oci_digest_final(&ctx, digest, err) < 0 ||
	    !oci_digest_equal(digest, b->digest))
		return ct_error_set(
		    err, CT_ERR_INTERNAL, 0,
		    "blob %s in the content store is corrupt (it changed while being "
		    "saved, or its bytes hash to something else); delete the image "
		    "and pull it again",
		    b->digest);
	s->bytes += b->size;
	return 0;
}

static int write_layout(struct save *s, int fd, struct ct_error *err)
{
	_cleanup_archive_write_ struct archive *a = archive_write_new();
	_cleanup_free_ char *buf = malloc(ARCHIVE_CHUNK);
	_cleanup_json_ json_t *index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType",
						 OCI_MEDIA_TYPE_INDEX, "manifests", s->manifests);
	_cleanup_free_ char *index_text = dump(index);

	if (!a || !buf)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	/* pax_restricted: plain ustar headers unless a name needs pax, which ours never do;
	 * every tar reader takes it. */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		return archive_failure(a, "setting up libarchive", err);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		return archive_failure(a, "opening the output", err);
	if (write_small_file(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", err) < 0 ||
	    write_small_file(a, "index.json", index_text, err) < 0 ||
	    write_header(a, "blobs", AE_IFDIR, 0755, 0, err) < 0 ||
	    write_header(a, "blobs/sha256", AE_IFDIR, 0755, 0, err) < 0)
		return -1;
	for (size_t i = 0; i < s->n_blobs; i++)
		if (write_blob(s, a, &s->blobs[i], buf, err) < 0)
			return -1;
	if (archive_write_close(a) != ARCHIVE_OK)
		return archive_failure(a, "finishing the archive", err);
	return 0;
}

static int save_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct images *im = job_data(job);
	struct save s = {.im = im, .manifests = json_array(), .names = json_array()};
	json_t *refs = NULL, *item;
	_cleanup_close_ int fd = job_take_fd(job, 0);
	uint64_t start = ct_now_monotonic_ms();
	size_t i;
	int rc = -1;

	if (ct_json_get_array(job_body(job), "references", true, &refs, "request body", err) < 0)
		goto out;
	if (json_array_size(refs) == 0) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "name at least one image to save");
		goto out;
	}
	if (fd < 0) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "image.save needs the output file as a descriptor");
		goto out;
	}
	/* Shared: garbage collection must not take a blob away while it is written. */
	pthread_rwlock_rdlock(&im->gc_lock);
	rc = 0;
	json_array_foreach (refs, i, item) {
		if (!json_is_string(item)) {
			rc = ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					  "references must be strings");
			break;
		}
		/* Every image is found before the first byte is written. */
		rc = save_reference(&s, json_string_value(item), err);
		if (rc < 0)
			break;
	}
	if (rc == 0) {
		job_progress(job, json_pack("{s:s, s:I}", "status", "writing", "blobs",
					    (json_int_t)s.n_blobs));
		rc = write_layout(&s, fd, err);
	}
	pthread_rwlock_unlock(&im->gc_lock);
	if (rc == 0) {
		log_info("saved %zu images (%zu blobs, %lld bytes)", json_array_size(s.names),
			 s.n_blobs, (long long)s.bytes);
		*result = json_pack("{s:O, s:I, s:I, s:I}", "saved", s.names, "blobs",
				    (json_int_t)s.n_blobs, "bytes", (json_int_t)s.bytes,
				    "milliseconds", (json_int_t)(ct_now_monotonic_ms() - start));
	}
out:
	if (rc < 0)
		ct_error_prefix(err, "saving");
	save_truncate(&s, 0);
	free(s.blobs);
	json_decref(s.manifests);
	json_decref(s.names);
	return rc;
}

/* ---- load ---------------------------------------------------------------------- */

/* One entry of the archive, by its normalised path. */
struct arc_file {
	char *path;
	char *digest; /* regular files: what their bytes hash to (they are in the store) */
	int64_t size;
	char *link; /* symlinks and hardlinks: the path they name */
};

struct loaded_ref {
	char *name;
	char *digest;
	char *media_type;
	int64_t size;
};

struct load {
	struct images *im;
	struct job *job;
	const char *base_name; /* names what the archive leaves unnamed */
	struct arc_file *files;
	size_t n_files;
	char *layout, *index, *docker;
	size_t layout_len, index_len, docker_len;
	char **verified_chains; /* layers checked (and unpacked) by this load */
	size_t n_verified;
	struct loaded_ref *refs;
	size_t n_refs;
};

static void load_free(struct load *l)
{
	for (size_t i = 0; i < l->n_files; i++) {
		free(l->files[i].path);
		free(l->files[i].digest);
		free(l->files[i].link);
	}
	free(l->files);
	free(l->layout);
	free(l->index);
	free(l->docker);
	for (size_t i = 0; i < l->n_verified; i++)
		free(l->verified_chains[i]);
	free(l->verified_chains);
	for (size_t i = 0; i < l->n_refs; i++) {
		free(l->refs[i].name);
		free(l->refs[i].digest);
		free(l->refs[i].media_type);
	}
	free(l->refs);
}

/* Splits a relative path into clean components; ".." only when allowed (a link
 * target), and then never above the archive's root. */
static int clean_path(const char *base, const char *raw, bool allow_dotdot, char **out,
		      struct ct_error *err)
{
	size_t cap = (base ? strlen(base) : 0) + strlen(raw) + 2, o = 0;
	_cleanup_free_ char *clean = xcalloc(1, cap);

	if (raw[0] == '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing the absolute path \"%s\" in an image archive", raw);
	if (base && *base) {
		memcpy(clean, base, strlen(base));
		o = strlen(base);
	}
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (!allow_dotdot)
				return ct_error_set(
				    err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing the path \"%s\" in an image archive: it "
				    "has a \"..\" component",
				    raw);
			char *slash = memrchr(clean, '/', o);
			if (o == 0)
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "refusing the link target \"%s\" in an image "
						    "archive: it points outside the archive",
						    raw);
			o = slash ? (size_t)(slash - clean) : 0;
			clean[o] = '\0';
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o)
				clean[o++] = '/';
			memcpy(clean + o, p, n);
			o += n;
			clean[o] = '\0';
		}
		p = *end ? end + 1 : end;
	}
	*out = move_ptr(clean);
	return 0;
}

static struct arc_file *arc_find(struct load *l, const char *path)
{
	for (size_t i = 0; i < l->n_files; i++)
		if (strcmp(l->files[i].path, path) == 0)
			return &l->files[i];
	return NULL;
}

/* The regular file a path names, through links. */
static struct arc_file *arc_resolve(struct load *l, const char *path)
{
	struct arc_file *f = arc_find(l, path);

	for (int depth = 0; f && f->link && depth < LOAD_MAX_LINK_DEPTH; depth++)
		f = arc_find(l, f->link);
	return f && !f->link ? f : NULL;
}

static bool arc_has_blob(struct load *l, const char *digest)
{
	for (size_t i = 0; i < l->n_files; i++)
		if (l->files[i].digest && oci_digest_equal(l->files[i].digest, digest))
			return true;
	return false;
}

static struct arc_file *arc_add(struct load *l, char *path, struct ct_error *err)
{
	if (arc_find(l, path)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "the archive has two entries named \"%s\"", path);
		free(path);
		return NULL;
	}
	l->files = realloc(l->files, (l->n_files + 1) * sizeof(*l->files));
	if (!l->files)
		abort();
	l->files[l->n_files] = (struct arc_file){.path = path};
	return &l->files[l->n_files++];
}

static int read_failure(struct archive *a, const char *path, struct ct_error *err)
{
	const char *why = archive_error_string(a);

	if (path)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, archive_errno(a),
				    "reading %s from the archive: %s", path,
				    why ? why : "libarchive failed");
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, archive_errno(a),
			    "reading the archive: %s (is it a tar file from `image save` or "
			    "`docker save`?)",
			    why ? why : "libarchive failed");
}

/* index.json, oci-layout, manifest.json: small documents kept in memory. */
static int read_document(struct archive *a, const char *path, int64_t size, char **out, size_t *len,
			 struct ct_error *err)
{
	if (*out)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the archive has two entries named \"%s\"", path);
	if (size < 0 || size > IMAGES_DOC_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s in the archive is %lld bytes; documents are at most %u",
				    path, (long long)size, IMAGES_DOC_MAX);
	_cleanup_free_ char *buf = malloc(size + 1);
	size_t got = 0;
	if (!buf)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf + got, size - got);
		if (n < 0)
			return read_failure(a, path, err);
		if (n == 0)
			break;
		got += n;
		if (got == (size_t)size)
			break;
	}
	if (got != (size_t)size)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s in the archive ends after %zu of its %lld bytes", path, got,
				    (long long)size);
	buf[got] = '\0';
	*out = move_ptr(buf);
	*len = got;
	return 0;
}

/* A file's bytes into the content store. Under blobs/ its name is its digest and must
 * match; elsewhere (a docker archive) it is stored under whatever it hashes to. */
static int ingest_file(struct load *l, struct archive *a, struct arc_file *f, int64_t size,
		       char *buf, struct ct_error *err)
{
	_cleanup_free_ char *expected = NULL;
	struct ingest in;
	char digest[OCI_DIGEST_STRING_MAX];

	if (ct_str_has_prefix(f->path, "blobs/")) {
		const char *alg = f->path + strlen("blobs/");
		const char *slash = strchr(alg, '/');
		if (!slash || strchr(slash + 1, '/'))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s in the archive is not at blobs/ALGORITHM/HEX",
					    f->path);
		expected = xasprintf("%.*s:%s", (int)(slash - alg), alg, slash + 1);
		enum oci_digest_algorithm algorithm;
		if (oci_digest_parse(expected, &algorithm, NULL, err) < 0)
			return ct_error_prefix(err, "%s in the archive is not named by a digest",
					       f->path);
		if (algorithm != OCI_DIGEST_SHA256)
			return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
					    "%s in the archive: only sha256 blobs are stored",
					    f->path);
	}
	/* ingest_begin gets neither the name nor the size: the comparisons are made here,
	 * after the bytes are stored under what they hash to (garbage collection takes
	 * them away again when the load fails). */
	if (ingest_begin(&l->im->store, NULL, -1, &in, err) < 0)
		return ct_error_prefix(err, "%s in the archive", f->path);
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, ARCHIVE_CHUNK);
		if (n < 0) {
			ingest_abort(&in);
			return read_failure(a, f->path, err);
		}
		if (n == 0)
			break;
		if (ingest_write(&in, buf, n, err) < 0) {
			ingest_abort(&in);
			return ct_error_prefix(err, "%s in the archive", f->path);
		}
	}
	if (size >= 0 && in.written != (uint64_t)size) {
		ingest_abort(&in);
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s in the archive has %llu bytes, its header says %lld",
				    f->path, (unsigned long long)in.written, (long long)size);
	}
	int64_t written = (int64_t)in.written;
	if (ingest_commit(&in, digest, err) < 0)
		return ct_error_prefix(err, "%s in the archive", f->path);
	if (expected && !oci_digest_equal(expected, digest))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s in the archive does not match its digest: its bytes hash "
				    "to %s",
				    f->path, digest);
	f->digest = xstrdup(digest);
	f->size = written;
	return 0;
}

static int read_entry(struct load *l, struct archive *a, struct archive_entry *e, char *buf,
		      struct ct_error *err)
{
	const char *raw = archive_entry_pathname(e), *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	char *path = NULL;

	if (!raw || !*raw)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the archive has an entry without a name");
	if (clean_path(NULL, raw, false, &path, err) < 0)
		return -1;
	if (type == AE_IFDIR && !hardlink) {
		free(path);
		return 0;
	}
	if (!*path) {
		free(path);
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the archive has a file entry named \"%s\"", raw);
	}
	if (!hardlink && type == AE_IFREG &&
	    (!strcmp(path, "index.json") || !strcmp(path, "oci-layout") ||
	     !strcmp(path, "manifest.json"))) {
		int rc = !strcmp(path, "index.json")
			     ? read_document(a, path, size, &l->index, &l->index_len, err)
			 : !strcmp(path, "oci-layout")
			     ? read_document(a, path, size, &l->layout, &l->layout_len, err)
			     : read_document(a, path, size, &l->docker, &l->docker_len, err);
		free(path);
		return rc;
	}

	struct arc_file *f = arc_add(l, path, err);
	if (!f)
		return -1;
	if (hardlink)
		return clean_path(NULL, hardlink, false, &f->link, err);
	if (type == AE_IFLNK) {
		/* docker-archive's legacy <id>/layer.tar -> ../<hex>.tar */
		const char *target = archive_entry_symlink(e);
		_cleanup_free_ char *dir = xstrdup(f->path);
		char *slash = strrchr(dir, '/');
		*(slash ? slash : dir) = '\0';
		if (!target || !*target)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "symlink %s in the archive has no target", f->path);
		if (clean_path(dir, target, true, &f->link, err) < 0)
			return ct_error_prefix(err, "symlink %s", f->path);
		return 0;
	}
	if (type != AE_IFREG)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "%s in the archive is neither a file, a folder nor a link (type "
		    "%#o)",
		    f->path, (unsigned)type);
	return ingest_file(l, a, f, size, buf, err);
}

static int read_archive(struct load *l, int fd, struct ct_error *err)
{
	_cleanup_archive_read_ struct archive *a = archive_read_new();
	_cleanup_free_ char *buf = malloc(ARCHIVE_CHUNK);
	struct archive_entry *e;
	size_t entries = 0;

	if (!a || !buf)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	/* tar only; gzip too, for `docker save | gzip` (libarchive inflates that itself). */
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "setting up libarchive: %s",
				    archive_error_string(a));
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
		return read_failure(a, NULL, err);
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return read_failure(a, NULL, err);
		if (++entries > LOAD_MAX_ENTRIES)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "the archive has more than %d entries",
					    LOAD_MAX_ENTRIES);
		if (read_entry(l, a, e, buf, err) < 0)
			return -1;
	}
	if (entries == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "the archive is empty");
	return 0;
}

/* A stored layer's bytes, inflated and hashed for the diff_id on their way to the
 * unpacker. */
struct layer_reader {
	int fd;
	struct diff_reader r;
};

/* Checks a layer against its diff_id, unpacking it into its snapshot on the way when
 * that is not there yet. */
static int load_layer(struct load *l, const struct oci_layer *layer, const char *diff_id,
		      const char *chain_id, const char *image, struct ct_error *err)
{
	struct layer_reader r = {.fd = -1};
	_cleanup_free_ char *snap_tmp = NULL;
	_cleanup_close_ int snap_fd = -1;
	char got[OCI_DIGEST_STRING_MAX];
	int rc = -1;

	for (size_t i = 0; i < l->n_verified; i++)
		if (oci_digest_equal(l->verified_chains[i], chain_id))
			return 0;
	r.fd = store_blob_open(&l->im->store, layer->desc.digest, err);
	if (r.fd < 0)
		return -1;
	if (decompressor_new(layer->compression, decompress_read_fd, &r.fd, &r.r.dec, err) < 0 ||
	    oci_digest_init(&r.r.diff, OCI_DIGEST_SHA256, err) < 0)
		goto out;
	if (!store_snapshot_exists(&l->im->store, chain_id)) {
		struct unpack_options opts = {.image = image, .layer = layer->desc.digest};
		images_unpack_limits(l->im, &opts.max_bytes, &opts.max_entries);
		if (store_snapshot_begin(&l->im->store, &snap_tmp, &snap_fd, err) < 0 ||
		    unpack_layer_from_reader(diff_reader_read, &r.r, snap_fd, &opts, NULL, err) < 0)
			goto out;
	} else {
		_cleanup_free_ char *buf = malloc(ARCHIVE_CHUNK);
		ssize_t n;
		if (!buf) {
			ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
			goto out;
		}
		while ((n = diff_reader_read(&r.r, buf, ARCHIVE_CHUNK, err)) > 0)
			;
		if (n < 0) {
			ct_error_prefix(err, "layer %s", layer->desc.digest);
			goto out;
		}
	}
	if (oci_digest_final(&r.r.diff, got, err) < 0)
		goto out;
	if (!oci_digest_equal(got, diff_id)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "layer %s unpacks to diff_id %s but the image config says %s",
			     layer->desc.digest, got, diff_id);
		goto out;
	}
	if (snap_tmp) {
		close(snap_fd);
		snap_fd = -1;
		if (store_snapshot_commit(&l->im->store, snap_tmp, chain_id, err) < 0)
			goto out;
		free(snap_tmp);
		snap_tmp = NULL;
	}
	l->verified_chains =
	    realloc(l->verified_chains, (l->n_verified + 1) * sizeof(*l->verified_chains));
	if (!l->verified_chains)
		abort();
	l->verified_chains[l->n_verified++] = xstrdup(chain_id);
	rc = 0;
out:
	if (r.fd >= 0)
		close(r.fd);
	decompressor_free(r.r.dec);
	oci_digest_ctx_free(&r.r.diff);
	if (snap_tmp)
		store_remove_tree(snap_tmp, NULL);
	return rc;
}

/* A blob a descriptor names must have come in the archive, with the declared size. */
static int check_blob(struct load *l, const struct oci_descriptor *d, const char *what,
		      struct ct_error *err)
{
	int64_t size;

	if (!arc_has_blob(l, d->digest) || !store_blob_exists(&l->im->store, d->digest, &size))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the archive does not contain %s %s", what, d->digest);
	if (size != d->size)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s %s is %lld bytes; its descriptor says %lld", what,
				    d->digest, (long long)size, (long long)d->size);
	return 0;
}

/* An image manifest's config and layers: present, of the declared sizes, the config
 * agreeing with the layers, every layer unpacking to its diff_id. */
static int load_manifest(struct load *l, const struct oci_manifest *m, const char *label,
			 struct ct_error *err)
{
	_cleanup_free_ char *config = NULL;
	_cleanup_config_ struct oci_image_config c = {0};
	char chain[OCI_DIGEST_STRING_MAX] = "", parent[OCI_DIGEST_STRING_MAX];
	size_t len;

	if (check_blob(l, &m->config, "config", err) < 0 ||
	    store_blob_read(&l->im->store, m->config.digest, IMAGES_DOC_MAX, &config, &len, err) <
		0 ||
	    oci_config_parse(config, len, m->config.media_type, &c, err) < 0 ||
	    oci_manifest_check_config(m, &c, err) < 0)
		return -1;
	for (size_t i = 0; i < m->n_layers; i++) {
		if (m->layers[i].nondistributable)
			return ct_error_set(
			    err, CT_ERR_UNSUPPORTED, 0,
			    "layer %s is a foreign (non-distributable) layer; those "
			    "are not supported",
			    m->layers[i].desc.digest);
		if (check_blob(l, &m->layers[i].desc, "layer", err) < 0)
			return -1;
	}
	for (size_t i = 0; i < m->n_layers; i++) {
		job_progress(l->job,
			     json_pack("{s:s, s:s, s:s}", "status", "unpacking", "reference", label,
				       "layer", m->layers[i].desc.digest));
		memcpy(parent, chain, sizeof(chain));
		if (store_chain_id(i ? parent : NULL, c.diff_ids[i], chain, err) < 0 ||
		    load_layer(l, &m->layers[i], c.diff_ids[i], chain, label, err) < 0)
			return ct_error_prefix(err, "layer %zu/%zu", i + 1, m->n_layers);
	}
	return 0;
}

static int add_ref(struct load *l, const char *name, const char *digest, const char *media_type,
		   int64_t size, struct ct_error *err)
{
	for (size_t i = 0; i < l->n_refs; i++) {
		if (strcmp(l->refs[i].name, name) != 0)
			continue;
		if (oci_digest_equal(l->refs[i].digest, digest))
			return 0;
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the archive names two different images %s (%s and %s)", name,
				    l->refs[i].digest, digest);
	}
	l->refs = realloc(l->refs, (l->n_refs + 1) * sizeof(*l->refs));
	if (!l->refs)
		abort();
	l->refs[l->n_refs++] = (struct loaded_ref){
	    .name = xstrdup(name),
	    .digest = xstrdup(digest),
	    .media_type = xstrdup(media_type),
	    .size = size,
	};
	return 0;
}

/* A tag alone ("latest"), as org.opencontainers.image.ref.name usually holds. */
static bool is_bare_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > OCI_REF_TAG_MAX || s[0] == '.' || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* The normalised name of an image: input as the archive wrote it, or, for a bare tag
 * or nothing, the name the user gave (--name) with that tag. */
static int image_name(struct load *l, const char *input, const char *tag, const char *digest,
		      char **out, struct ct_error *err)
{
	_cleanup_free_ char *composed = NULL;
	struct oci_ref ref;

	if (!input) {
		if (!l->base_name)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "the image has no name%s%s%s; give one with --name "
					    "REPOSITORY",
					    tag ? " (only the tag \"" : "", tag ? tag : "",
					    tag ? "\")" : "");
		if (images_parse_ref(l->im, l->base_name, &ref, err) < 0)
			return ct_error_prefix(err, "--name");
		_cleanup_free_ char *repo = oci_ref_name(&ref);
		composed = tag ? xasprintf("%s:%s", repo, tag) : oci_ref_string(&ref);
		oci_ref_free(&ref);
		input = composed;
	}
	if (images_parse_ref(l->im, input, &ref, err) < 0)
		return -1;
	if (ref.digest && digest && !oci_digest_equal(ref.digest, digest)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "the image is named %s but its digest is %s", input, digest);
		oci_ref_free(&ref);
		return -1;
	}
	*out = oci_ref_string(&ref);
	oci_ref_free(&ref);
	return 0;
}

static int load_oci_entry(struct load *l, const struct oci_descriptor *d, size_t n,
			  struct ct_error *err)
{
	_cleanup_free_ char *where = xasprintf("index.json entry %zu (%s)", n, d->digest);
	const char *full = oci_map_get(&d->annotations, ANNOTATION_IMAGE_NAME);
	const char *ref_name = oci_map_get(&d->annotations, ANNOTATION_REF_NAME);
	_cleanup_free_ char *name = NULL, *doc = NULL;
	enum oci_manifest_kind kind;
	size_t len;

	if (!full && ref_name && !is_bare_tag(ref_name))
		full = ref_name;
	if (image_name(l, full, full ? NULL : ref_name, d->digest, &name, err) < 0 ||
	    check_blob(l, d, oci_media_type_is_index(d->media_type) ? "index" : "manifest", err) <
		0 ||
	    store_blob_read(&l->im->store, d->digest, IMAGES_DOC_MAX, &doc, &len, err) < 0 ||
	    oci_manifest_kind(doc, len, d->media_type, &kind, err) < 0)
		return ct_error_prefix(err, "%s", where);

	if (kind == OCI_MANIFEST_KIND_IMAGE) {
		_cleanup_manifest_ struct oci_manifest m = {0};
		if (oci_manifest_parse(doc, len, d->media_type, &m, err) < 0 ||
		    load_manifest(l, &m, name, err) < 0)
			return ct_error_prefix(err, "%s", name);
	} else {
		_cleanup_index_ struct oci_index index = {0};
		size_t loaded = 0;
		if (oci_manifest_index_parse(doc, len, d->media_type, &index, err) < 0)
			return ct_error_prefix(err, "%s", name);
		for (size_t i = 0; i < index.n_manifests; i++) {
			const struct oci_descriptor *c = &index.manifests[i];
			_cleanup_free_ char *cdoc = NULL;
			_cleanup_manifest_ struct oci_manifest m = {0};
			_cleanup_error_ struct ct_error skip = CT_ERROR_INIT;
			size_t clen;
			/* Platforms left out of the archive stay out of the store, as
			 * after a pull of one platform. */
			if (!arc_has_blob(l, c->digest))
				continue;
			if (check_blob(l, c, "manifest", err) < 0 ||
			    store_blob_read(&l->im->store, c->digest, IMAGES_DOC_MAX, &cdoc, &clen,
					    err) < 0)
				return ct_error_prefix(err, "%s", name);
			if (!oci_media_type_is_manifest(c->media_type))
				return ct_error_set(
				    err, CT_ERR_UNSUPPORTED, 0,
				    "%s: index entry %s is a %s; nested indexes are "
				    "not supported",
				    name, c->digest, c->media_type);
			if (oci_manifest_parse(cdoc, clen, c->media_type, &m, &skip) < 0) {
				if (!ct_error_is(&skip, CT_ERR_UNSUPPORTED)) {
					ct_error_move(err, &skip);
					return ct_error_prefix(err, "%s: manifest %s", name,
							       c->digest);
				}
				/* An attestation or an artifact, not an image: left out. */
				log_info("loading %s: leaving out manifest %s: %s", name, c->digest,
					 ct_error_message(&skip));
				continue;
			}
			if (load_manifest(l, &m, name, err) < 0)
				return ct_error_prefix(err, "%s: manifest %s", name, c->digest);
			loaded++;
		}
		if (loaded == 0)
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "%s: the archive holds none of the %zu manifests of its "
			    "index",
			    name, index.n_manifests);
	}
	return add_ref(l, name, d->digest, d->media_type, len, err);
}

static int load_oci(struct load *l, struct ct_error *err)
{
	_cleanup_index_ struct oci_index index = {0};

	if (l->layout) {
		_cleanup_json_ json_t *j = json_loadb(l->layout, l->layout_len, 0, NULL);
		const char *version = json_string_value(json_object_get(j, "imageLayoutVersion"));
		if (!version)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "oci-layout in the archive has no imageLayoutVersion");
		if (!ct_str_has_prefix(version, "1."))
			return ct_error_set(
			    err, CT_ERR_UNSUPPORTED, 0,
			    "the archive is an OCI image layout version %s; only 1.x "
			    "is supported",
			    version);
	}
	if (oci_manifest_index_parse(l->index, l->index_len, NULL, &index, err) < 0)
		return ct_error_prefix(err, "index.json in the archive");
	if (index.n_manifests == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "index.json in the archive lists no image");
	for (size_t i = 0; i < index.n_manifests; i++)
		if (load_oci_entry(l, &index.manifests[i], i + 1, err) < 0)
			return -1;
	return 0;
}

static enum oci_compression sniff_blob(struct load *l, const char *digest)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_close_ int fd = store_blob_open(&l->im->store, digest, &err);
	uint8_t h[4] = {0};

	if (fd < 0 || read(fd, h, sizeof(h)) != (ssize_t)sizeof(h))
		return OCI_COMPRESSION_NONE;
	if (h[0] == 0x1f && h[1] == 0x8b)
		return OCI_COMPRESSION_GZIP;
	if (h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return OCI_COMPRESSION_ZSTD;
	return OCI_COMPRESSION_NONE;
}

/* One manifest.json entry of a docker archive: a Docker schema 2 manifest is made for
 * it from the config and the layers as they are (what `docker push` would send). */
static int load_docker_entry(struct load *l, json_t *item, size_t n, struct ct_error *err)
{
	_cleanup_free_ char *where = xasprintf("manifest.json entry %zu", n);
	_cleanup_free_ char *config = NULL, *text = NULL;
	_cleanup_config_ struct oci_image_config c = {0};
	_cleanup_manifest_ struct oci_manifest m = {0};
	const char *config_path = NULL;
	json_t *layers = NULL, *tags = json_object_get(item, "RepoTags"), *v;
	char digest[OCI_DIGEST_STRING_MAX];
	size_t len, i;

	if (!json_is_object(item))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s is not an object", where);
	if (ct_json_get_string(item, "Config", true, &config_path, where, err) < 0 ||
	    ct_json_get_array(item, "Layers", true, &layers, where, err) < 0)
		return -1;
	if (tags && !json_is_null(tags) && !json_is_array(tags))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: RepoTags must be a list of names", where);
	_cleanup_free_ char *config_clean = NULL;
	if (clean_path(NULL, config_path, false, &config_clean, err) < 0)
		return ct_error_prefix(err, "%s", where);
	struct arc_file *cf = arc_resolve(l, config_clean);
	if (!cf)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: the archive does not contain its config %s", where,
				    config_path);
	if (store_blob_read(&l->im->store, cf->digest, IMAGES_DOC_MAX, &config, &len, err) < 0 ||
	    oci_config_parse(config, len, DOCKER_MEDIA_TYPE_CONFIG, &c, err) < 0)
		return ct_error_prefix(err, "%s: config %s", where, config_path);
	if (json_array_size(layers) != c.n_diff_ids)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s lists %zu layers but its config has %zu diff_ids", where,
				    json_array_size(layers), c.n_diff_ids);

	json_t *descs = json_array();
	json_t *manifest =
	    json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:o}", "schemaVersion", 2, "mediaType",
		      DOCKER_MEDIA_TYPE_MANIFEST, "config", "mediaType", DOCKER_MEDIA_TYPE_CONFIG,
		      "size", (json_int_t)cf->size, "digest", cf->digest, "layers", descs);
	json_array_foreach (layers, i, v) {
		_cleanup_free_ char *clean = NULL;
		struct arc_file *lf;
		if (!json_is_string(v) ||
		    clean_path(NULL, json_string_value(v), false, &clean, err) < 0) {
			json_decref(manifest);
			if (!json_is_string(v))
				ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					     "Layers must be a list of paths");
			return ct_error_prefix(err, "%s: layer %zu", where, i + 1);
		}
		lf = arc_resolve(l, clean);
		if (!lf) {
			json_decref(manifest);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: the archive does not contain layer %zu (%s)",
					    where, i + 1, json_string_value(v));
		}
		enum oci_compression comp = sniff_blob(l, lf->digest);
		const char *type = comp == OCI_COMPRESSION_GZIP	  ? DOCKER_MEDIA_TYPE_LAYER_GZIP
				   : comp == OCI_COMPRESSION_ZSTD ? OCI_MEDIA_TYPE_LAYER_ZSTD
								  : DOCKER_MEDIA_TYPE_LAYER;
		json_array_append_new(descs, json_pack("{s:s, s:I, s:s}", "mediaType", type, "size",
						       (json_int_t)lf->size, "digest", lf->digest));
	}
	text = dump(manifest);
	json_decref(manifest);
	len = strlen(text);
	if (store_blob_write(&l->im->store, text, len, NULL, digest, err) < 0 ||
	    oci_manifest_parse(text, len, DOCKER_MEDIA_TYPE_MANIFEST, &m, err) < 0)
		return ct_error_prefix(err, "%s", where);

	_cleanup_free_ char *label = NULL;
	size_t n_tags = json_is_array(tags) ? json_array_size(tags) : 0;
	json_t *first = n_tags ? json_array_get(tags, 0) : NULL;
	if (first && !json_is_string(first))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: RepoTags must be a list of names", where);
	if (image_name(l, first ? json_string_value(first) : NULL, NULL, NULL, &label, err) < 0 ||
	    load_manifest(l, &m, label, err) < 0)
		return ct_error_prefix(err, "%s", label ? label : where);
	if (!first)
		return add_ref(l, label, digest, DOCKER_MEDIA_TYPE_MANIFEST, len, err);
	json_array_foreach (tags, i, v) {
		_cleanup_free_ char *name = NULL;
		if (!json_is_string(v))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: RepoTags must be a list of names", where);
		if (image_name(l, json_string_value(v), NULL, NULL, &name, err) < 0)
			return ct_error_prefix(err, "%s", where);
		if (add_ref(l, name, digest, DOCKER_MEDIA_TYPE_MANIFEST, len, err) < 0)
			return -1;
	}
	return 0;
}

static int load_docker(struct load *l, struct ct_error *err)
{
	json_error_t jerr;
	_cleanup_json_ json_t *j =
	    json_loadb(l->docker, l->docker_len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *item;
	size_t i;

	if (!j)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "manifest.json in the archive is not valid JSON: %s (line %d)",
				    jerr.text, jerr.line);
	if (!json_is_array(j) || json_array_size(j) == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "manifest.json in the archive must be a non-empty list");
	json_array_foreach (j, i, item)
		if (load_docker_entry(l, item, i + 1, err) < 0)
			return -1;
	return 0;
}

static int do_load(struct load *l, int fd, struct ct_error *err)
{
	const char *base = NULL;

	if (ct_json_get_string(job_body(l->job), "name", false, &base, "request body", err) < 0)
		return -1;
	l->base_name = base;
	if (base) {
		struct oci_ref ref;
		if (images_parse_ref(l->im, base, &ref, err) < 0)
			return ct_error_prefix(err, "--name");
		bool digest = ref.digest != NULL;
		oci_ref_free(&ref);
		if (digest)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "--name takes a repository and tag, not a digest (%s)",
					    base);
	}
	job_progress(l->job, json_pack("{s:s}", "status", "reading the archive"));
	if (read_archive(l, fd, err) < 0)
		return -1;
	if (l->index) {
		if (load_oci(l, err) < 0)
			return -1;
	} else if (l->docker) {
		if (load_docker(l, err) < 0)
			return -1;
	} else {
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the archive is neither an OCI image layout (no index.json) "
				    "nor a `docker save` archive (no manifest.json)");
	}

	/* References last: only complete, checked images get a name. */
	pthread_mutex_lock(&l->im->ref_lock);
	for (size_t i = 0; i < l->n_refs; i++) {
		if (image_db_put(l->im->db, l->refs[i].name, l->refs[i].digest,
				 l->refs[i].media_type, l->refs[i].size, err) < 0) {
			pthread_mutex_unlock(&l->im->ref_lock);
			return -1;
		}
	}
	pthread_mutex_unlock(&l->im->ref_lock);
	return 0;
}

static int load_job(struct job *job, json_t **result, struct ct_error *err)
{
	struct load l = {.im = job_data(job), .job = job};
	_cleanup_close_ int fd = job_take_fd(job, 0);
	_cleanup_error_ struct ct_error gc_err = CT_ERROR_INIT;
	uint64_t start = ct_now_monotonic_ms();
	int rc;

	if (fd < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "image.load needs the archive as a descriptor");
	pthread_rwlock_rdlock(&l.im->gc_lock);
	rc = do_load(&l, fd, err);
	pthread_rwlock_unlock(&l.im->gc_lock);
	/* After a failure, what the load stored goes again, so the store is as it was;
	 * after success, what no image uses (a docker archive's legacy files). */
	if (images_gc(l.im, NULL, NULL, &gc_err) < 0)
		log_warn("cleaning up after loading an archive: %s", ct_error_message(&gc_err));
	if (rc == 0) {
		json_t *images = json_array();
		for (size_t i = 0; i < l.n_refs; i++) {
			log_info("loaded %s (%s)", l.refs[i].name, l.refs[i].digest);
			json_array_append_new(images,
					      json_pack("{s:s, s:s}", "name", l.refs[i].name,
							"digest", l.refs[i].digest));
		}
		*result = json_pack("{s:o, s:I}", "images", images, "milliseconds",
				    (json_int_t)(ct_now_monotonic_ms() - start));
	} else {
		ct_error_prefix(err, "loading the archive");
		store_error_disk_full(&l.im->store, "load it again", err);
	}
	load_free(&l);
	return rc;
}

static void route_save(struct ct_request *req, void *data)
{
	struct images *im = data;

	job_start(im->svc->loop, req, save_job, im);
}

static void route_load(struct ct_request *req, void *data)
{
	struct images *im = data;

	job_start(im->svc->loop, req, load_job, im);
}

void archive_register_routes(struct images *im)
{
	ct_server_route(im->svc->server, "image.save", route_save, im);
	ct_server_route(im->svc->server, "image.load", route_load, im);
}
