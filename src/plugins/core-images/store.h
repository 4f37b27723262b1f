/* The content store (DESIGN.md "On disk"):
 *   <app root>/content/blobs/sha256/<hex>   blobs, named by their digest
 *   <app root>/content/ingest/<random>      blobs being written
 *   <app root>/snapshots/<chain id hex>/fs  one unpacked layer each
 * A blob is written to ingest/ and renamed into blobs/ only after its digest
 * and size check out, so a killed pull never leaves a half blob under its name;
 * snapshots likewise are unpacked under snapshots/.tmp-* and renamed into place. */
#ifndef CONTAINER_STORE_H
#define CONTAINER_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "oci/digest.h"
#include "util.h"

struct store {
	char *root;	   /* app root */
	char *blobs;	   /* content/blobs/sha256 */
	char *ingest;	   /* content/ingest */
	char *snapshots;   /* snapshots */
	uint64_t max_blob; /* refuse blobs larger than this */
};

int store_open(struct store *s, const char *app_root, struct ct_error *err);
void store_close(struct store *s);
/* Removes what killed writers left in ingest/ and snapshots/.tmp-*. */
void store_clean_partial(struct store *s);

char *store_blob_path(const struct store *s, const char *digest);
/* 1 when present (size filled in), 0 when not. */
int store_blob_exists(const struct store *s, const char *digest, int64_t *size);
/* Reads a small blob (manifest, config) and checks it against its digest. */
int store_blob_read(const struct store *s, const char *digest, size_t max, char **buf, size_t *len,
		    struct ct_error *err);
int store_blob_open(const struct store *s, const char *digest, struct ct_error *err);
int store_blob_remove(const struct store *s, const char *digest, struct ct_error *err);

struct ingest {
	const struct store *store;
	int fd;
	char *path;
	char *expected; /* digest, or NULL to take what the content hashes to */
	int64_t expected_size;
	uint64_t written;
	struct oci_digest_ctx digest;
	bool digest_ready;
};

int ingest_begin(const struct store *s, const char *expected_digest, int64_t expected_size,
		 struct ingest *in, struct ct_error *err);
int ingest_write(struct ingest *in, const void *buf, size_t len, struct ct_error *err);
/* Forgets what was written (a server that ignored a Range request starts over). */
int ingest_restart(struct ingest *in, struct ct_error *err);
/* Checks size and digest, then renames into blobs/. digest_out (may be NULL)
 * receives the digest. The ingest is finished either way. */
int ingest_commit(struct ingest *in, char digest_out[OCI_DIGEST_STRING_MAX], struct ct_error *err);
void ingest_abort(struct ingest *in);

/* Writes a whole small blob (manifest, config) through ingest. */
int store_blob_write(const struct store *s, const void *buf, size_t len,
		     const char *expected_digest, char digest_out[OCI_DIGEST_STRING_MAX],
		     struct ct_error *err);

/* ChainID (OCI image spec "Layer ChainID"): chain[0] = diff_id[0],
 * chain[n] = sha256(chain[n-1] + " " + diff_id[n]). */
int store_chain_id(const char *parent_chain, const char *diff_id, char out[OCI_DIGEST_STRING_MAX],
		   struct ct_error *err);
char *store_snapshot_dir(const struct store *s, const char *chain_id);
bool store_snapshot_exists(const struct store *s, const char *chain_id);
/* A fresh snapshots/.tmp-XXXXXX folder with an fs/ inside; *fs_fd opened on it. */
int store_snapshot_begin(const struct store *s, char **tmp_dir, int *fs_fd, struct ct_error *err);
/* Renames tmp_dir to the chain id's folder; when another pull got there first,
 * keeps theirs and removes ours. */
int store_snapshot_commit(const struct store *s, const char *tmp_dir, const char *chain_id,
			  struct ct_error *err);

/* When err comes from a full disk (ENOSPC or EDQUOT, from a write or from
 * state.db), adds what ran out, where, and what to do; `again` names what to
 * retry ("pull again"). Returns -1. */
int store_error_disk_full(const struct store *s, const char *again, struct ct_error *err);
static inline bool store_error_is_disk_full(const struct ct_error *err)
{
	return err->errnum == ENOSPC || err->errnum == EDQUOT;
}

/* rm -rf that neither follows symlinks nor crosses mounts (util.h). */
static inline int store_remove_tree(const char *path, struct ct_error *err)
{
	return ct_remove_tree(path, err);
}

#endif
