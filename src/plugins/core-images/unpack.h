/* Unpacking one OCI image layer into a snapshot directory.
 *
 * The input is the layer's uncompressed tar stream (the caller decompresses and checks the
 * digest); the output is a directory in the form an overlay mount takes as a lower layer:
 * `.wh.NAME` becomes a whiteout (character device 0/0) and `.wh..wh..opq` an opaque
 * directory (`trusted.overlay.opaque=y`, or `user.overlay.opaque=y` when rootless, for a
 * mount with `userxattr`).
 *
 * Every entry is written relative to the snapshot's directory fd, never through a symlink
 * and never outside it. A layer that tries (`..`, absolute names, writes through a symlink,
 * hardlinks out, devices when rootless, limits exceeded) is refused with an error naming the
 * image, the layer and the entry. On failure the snapshot is left half written: the caller
 * unpacks into a fresh directory and removes it on error. */
#ifndef CONTAINER_IMAGES_UNPACK_H
#define CONTAINER_IMAGES_UNPACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Limits used when unpack_options leaves one at 0. Pass UINT64_MAX for "no limit". */
#define UNPACK_DEFAULT_MAX_ENTRIES (UINT64_C(1) << 21)
#define UNPACK_DEFAULT_MAX_BYTES   (UINT64_C(64) << 30)

struct unpack_options {
	/* Most bytes the uncompressed tar stream may have, and most the regular files may add
	 * up to (sparse files count at their full size): a decompression bomb stops here. */
	uint64_t max_bytes;
	/* Most tar entries (whiteouts included). */
	uint64_t max_entries;
	/* Unprivileged: device nodes are refused, owners that can't be set are skipped (and
	 * counted), trusted.* xattrs that are refused are skipped, the opaque marker is
	 * user.overlay.opaque. */
	bool rootless;
	/* A plain tar, not a layer (`container cp`): `.wh.` names are files like any other,
	 * nothing becomes a whiteout or an opaque directory. */
	bool literal_names;
	/* Names used in error messages only ("docker.io/library/alpine:3.20", "sha256:…"). */
	const char *image;
	const char *layer;
	/* Receives notes that are not errors (an xattr not kept, a libarchive warning); at
	 * most 16 per layer, then one saying more were dropped. NULL logs them as warnings. */
	void (*note)(void *note_ctx, const char *message);
	void *note_ctx;
};

struct unpack_stats {
	uint64_t entries;	 /* tar entries read, whiteouts included */
	uint64_t bytes;		 /* regular-file sizes added up */
	uint64_t stream_bytes;	 /* tar stream bytes read, trailing padding included */
	uint64_t whiteouts;	 /* whiteouts and opaque markers written */
	uint64_t xattrs_skipped; /* xattrs not kept (namespace not allowed or not supported) */
	uint64_t owners_skipped; /* rootless: owners the user namespace could not represent */
};

/* Fills buf with up to len bytes of the tar stream. Returns the count, 0 at the end of the
 * stream, or a negative value after filling err (that error is what unpack reports). */
typedef ssize_t (*unpack_read_fn)(void *ctx, void *buf, size_t len, struct ct_error *err);

/* Unpacks the tar stream produced by read_fn into snapshot_dirfd (any fd of a directory,
 * O_PATH is fine; it is not closed). The stream is read to its end, past the tar
 * end-of-archive blocks, so a digest computed by the reader covers the whole blob.
 * opts may be NULL (defaults); stats may be NULL. */
int unpack_layer_from_reader(unpack_read_fn read_fn, void *read_ctx, int snapshot_dirfd,
			     const struct unpack_options *opts, struct unpack_stats *stats,
			     struct ct_error *err);

/* The same, reading the tar stream from tar_fd (a file, pipe or socket; not closed). */
int unpack_layer_from_fd(int tar_fd, int snapshot_dirfd, const struct unpack_options *opts,
			 struct unpack_stats *stats, struct ct_error *err);

#endif
