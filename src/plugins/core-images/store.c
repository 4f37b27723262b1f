#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

/* Large enough for any real layer; a bound so a lying registry can't fill the disk
 * with one blob. */
#define DEFAULT_MAX_BLOB (64ull << 30)

int store_open(struct store *s, const char *app_root, struct ct_error *err)
{
	memset(s, 0, sizeof(*s));
	s->root = xstrdup(app_root);
	s->blobs = xasprintf("%s/content/blobs/sha256", app_root);
	s->ingest = xasprintf("%s/content/ingest", app_root);
	s->snapshots = xasprintf("%s/snapshots", app_root);
	s->max_blob = DEFAULT_MAX_BLOB;
	if (ct_mkdir_p(s->blobs, 0700, err) < 0 || ct_mkdir_p(s->ingest, 0700, err) < 0 ||
	    ct_mkdir_p(s->snapshots, 0711, err) < 0) {
		store_close(s);
		return -1;
	}
	return 0;
}

void store_close(struct store *s)
{
	free(s->root);
	free(s->blobs);
	free(s->ingest);
	free(s->snapshots);
	memset(s, 0, sizeof(*s));
}

void store_clean_partial(struct store *s)
{
	_cleanup_closedir_ DIR *d = opendir(s->ingest);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", s->ingest, de->d_name);
		log_info("removing an unfinished download left behind: %s", p);
		unlink(p);
	}
	_cleanup_closedir_ DIR *snap = opendir(s->snapshots);
	while (snap && (de = readdir(snap))) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", s->snapshots, de->d_name);
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		log_info("removing an unfinished unpack left behind: %s", p);
		if (ct_remove_tree(p, &err) < 0)
			log_warn("%s", ct_error_message(&err));
	}
}

int store_error_disk_full(const struct store *s, const char *again, struct ct_error *err)
{
	/* Once is enough, when several layers of the call chain ask. */
	if (!store_error_is_disk_full(err) ||
	    strstr(ct_error_message(err), "is full: free space there"))
		return -1;
	/* What this operation wrote is gone again by the time the user reads this
	 * (a refused pull leaves the store as it was), so the advice is about room. */
	char code[sizeof(err->code)];
	snprintf(code, sizeof(code), "%s", err->code);
	return ct_error_set(err, code, err->errnum,
			    "%s; the disk holding the app root %s is full: free space there "
			    "(`container image prune` removes unused images, `container prune` "
			    "stopped containers) and %s",
			    ct_error_message(err), s->root, again);
}

/* The hex part, only for well-formed sha256 digests: a digest names a path. */
static const char *sha256_hex(const char *digest)
{
	enum oci_digest_algorithm alg;
	const char *hex;

	if (oci_digest_parse(digest, &alg, &hex, NULL) < 0 || alg != OCI_DIGEST_SHA256)
		return NULL;
	return hex;
}

char *store_blob_path(const struct store *s, const char *digest)
{
	const char *hex = sha256_hex(digest);

	return hex ? xasprintf("%s/%s", s->blobs, hex) : NULL;
}

int store_blob_exists(const struct store *s, const char *digest, int64_t *size)
{
	_cleanup_free_ char *path = store_blob_path(s, digest);
	struct stat st;

	if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (size)
		*size = st.st_size;
	return 1;
}

int store_blob_open(const struct store *s, const char *digest, struct ct_error *err)
{
	_cleanup_free_ char *path = store_blob_path(s, digest);
	int fd;

	if (!path)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "unsupported digest %s",
				    digest);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ct_error_errno(err, errno == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_INTERNAL,
				      "blob %s", digest);
	return fd;
}

int store_blob_read(const struct store *s, const char *digest, size_t max, char **buf, size_t *len,
		    struct ct_error *err)
{
	_cleanup_free_ char *path = store_blob_path(s, digest);
	_cleanup_free_ char *data = NULL;
	size_t n;

	if (!path)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "unsupported digest %s",
				    digest);
	if (ct_read_file(path, max, &data, &n, err) < 0)
		return ct_error_prefix(err, "blob %s", digest);
	/* Every blob is checked against its digest before use (DESIGN.md). */
	if (oci_digest_verify_buffer(digest, data, n, err) < 0)
		return ct_error_prefix(err, "blob %s in the content store is corrupt", path);
	*buf = move_ptr(data);
	*len = n;
	return 0;
}

int store_blob_remove(const struct store *s, const char *digest, struct ct_error *err)
{
	_cleanup_free_ char *path = store_blob_path(s, digest);

	if (path && unlink(path) < 0 && errno != ENOENT)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing %s", path);
	return 0;
}

int ingest_begin(const struct store *s, const char *expected_digest, int64_t expected_size,
		 struct ingest *in, struct ct_error *err)
{
	memset(in, 0, sizeof(*in));
	in->store = s;
	in->fd = -1;
	in->expected_size = expected_size;
	if (expected_size >= 0 && (uint64_t)expected_size > s->max_blob)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "blob %s declares %lld bytes, over the limit of %llu",
				    expected_digest ? expected_digest : "",
				    (long long)expected_size, (unsigned long long)s->max_blob);
	if (expected_digest) {
		if (!sha256_hex(expected_digest))
			return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
					    "digest %s: only sha256 blobs are stored",
					    expected_digest);
		in->expected = xstrdup(expected_digest);
	}
	in->path = xasprintf("%s/ingest-XXXXXX", s->ingest);
	in->fd = mkostemp(in->path, O_CLOEXEC);
	if (in->fd < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", in->path);
		free(in->path);
		in->path = NULL;
		free(in->expected);
		in->expected = NULL;
		return -1;
	}
	if (oci_digest_init(&in->digest, OCI_DIGEST_SHA256, err) < 0) {
		ingest_abort(in);
		return -1;
	}
	in->digest_ready = true;
	return 0;
}

int ingest_write(struct ingest *in, const void *buf, size_t len, struct ct_error *err)
{
	const char *p = buf;

	in->written += len;
	if ((in->expected_size >= 0 && in->written > (uint64_t)in->expected_size) ||
	    in->written > in->store->max_blob)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "blob %s is larger than the %lld bytes it was declared with",
				    in->expected ? in->expected : "", (long long)in->expected_size);
	if (oci_digest_update(&in->digest, buf, len, err) < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(in->fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ct_error_errno(
			    err, errno == ENOSPC ? CT_ERR_UNAVAILABLE : CT_ERR_INTERNAL,
			    "writing %s", in->path);
		}
		p += w;
		len -= w;
	}
	return 0;
}

int ingest_restart(struct ingest *in, struct ct_error *err)
{
	oci_digest_ctx_free(&in->digest);
	in->digest_ready = false;
	in->written = 0;
	if (ftruncate(in->fd, 0) < 0 || lseek(in->fd, 0, SEEK_SET) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "restarting %s", in->path);
	if (oci_digest_init(&in->digest, OCI_DIGEST_SHA256, err) < 0)
		return -1;
	in->digest_ready = true;
	return 0;
}

void ingest_abort(struct ingest *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	if (in->path)
		unlink(in->path);
	free(in->path);
	in->path = NULL;
	free(in->expected);
	in->expected = NULL;
	if (in->digest_ready)
		oci_digest_ctx_free(&in->digest);
	in->digest_ready = false;
}

int ingest_commit(struct ingest *in, char digest_out[OCI_DIGEST_STRING_MAX], struct ct_error *err)
{
	char digest[OCI_DIGEST_STRING_MAX];
	_cleanup_free_ char *final = NULL;
	int rc = -1;

	if (oci_digest_final(&in->digest, digest, err) < 0)
		goto out;
	if (in->expected_size >= 0 && in->written != (uint64_t)in->expected_size) {
		ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "blob %s: got %llu bytes, the manifest says %lld (truncated download?)",
		    in->expected ? in->expected : digest, (unsigned long long)in->written,
		    (long long)in->expected_size);
		goto out;
	}
	if (in->expected && !oci_digest_equal(in->expected, digest)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "blob content does not match its digest: expected %s, got %s",
			     in->expected, digest);
		goto out;
	}
	/* fsync before rename: after a crash the name must never point at a file
	 * whose data did not reach the disk. */
	if (fsync(in->fd) < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "syncing %s", in->path);
		goto out;
	}
	final = store_blob_path(in->store, digest);
	if (rename(in->path, final) < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "storing blob %s", final);
		goto out;
	}
	free(in->path);
	in->path = NULL;
	if (digest_out)
		memcpy(digest_out, digest, OCI_DIGEST_STRING_MAX);
	rc = 0;
out:
	ingest_abort(in);
	return rc;
}

int store_blob_write(const struct store *s, const void *buf, size_t len,
		     const char *expected_digest, char digest_out[OCI_DIGEST_STRING_MAX],
		     struct ct_error *err)
{
	struct ingest in;

	if (ingest_begin(s, expected_digest, expected_digest ? (int64_t)len : -1, &in, err) < 0)
		return -1;
	if (ingest_write(&in, buf, len, err) < 0) {
		ingest_abort(&in);
		return -1;
	}
	return ingest_commit(&in, digest_out, err);
}

int store_chain_id(const char *parent_chain, const char *diff_id, char out[OCI_DIGEST_STRING_MAX],
		   struct ct_error *err)
{
	if (oci_digest_validate(diff_id, err) < 0)
		return ct_error_prefix(err, "diff_id");
	if (!parent_chain) {
		snprintf(out, OCI_DIGEST_STRING_MAX, "%s", diff_id);
		return 0;
	}
	_cleanup_free_ char *joined = xasprintf("%s %s", parent_chain, diff_id);
	return oci_digest_buffer(OCI_DIGEST_SHA256, joined, strlen(joined), out, err);
}

char *store_snapshot_dir(const struct store *s, const char *chain_id)
{
	const char *hex = sha256_hex(chain_id);

	return hex ? xasprintf("%s/%s", s->snapshots, hex) : NULL;
}

bool store_snapshot_exists(const struct store *s, const char *chain_id)
{
	_cleanup_free_ char *dir = store_snapshot_dir(s, chain_id);
	_cleanup_free_ char *fs = dir ? xasprintf("%s/fs", dir) : NULL;
	struct stat st;

	return fs && stat(fs, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_snapshot_begin(const struct store *s, char **tmp_dir, int *fs_fd, struct ct_error *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/.tmp-XXXXXX", s->snapshots);

	if (!mkdtemp(dir))
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a snapshot folder in %s",
				      s->snapshots);
	_cleanup_free_ char *fs = xasprintf("%s/fs", dir);
	if (mkdir(fs, 0755) < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", fs);
		rmdir(dir);
		return -1;
	}
	*fs_fd = open(fs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fs_fd < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", fs);
		ct_remove_tree(dir, NULL);
		return -1;
	}
	*tmp_dir = move_ptr(dir);
	return 0;
}

int store_snapshot_commit(const struct store *s, const char *tmp_dir, const char *chain_id,
			  struct ct_error *err)
{
	_cleanup_free_ char *final = store_snapshot_dir(s, chain_id);

	if (!final)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "bad chain id %s", chain_id);
	if (rename(tmp_dir, final) == 0)
		return 0;
	if (errno == EEXIST || errno == ENOTEMPTY) {
		/* Another pull of the same layer finished first: same content. */
		return ct_remove_tree(tmp_dir, err);
	}
	return ct_error_errno(err, CT_ERR_INTERNAL, "renaming %s to %s", tmp_dir, final);
}
