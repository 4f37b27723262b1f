/* Streaming decompression for layer blobs: a reader that pulls compressed bytes
 * from an upstream reader and hands out the decompressed stream, for the unpacker
 * to pull from in turn. gzip is inflated by ISA-L's igzip (about 4x zlib's speed
 * on this machine, and it streams, unlike libdeflate); zstd by libzstd. */
#ifndef CONTAINER_DECOMPRESS_H
#define CONTAINER_DECOMPRESS_H

#include <sys/types.h>

#include "error.h"
#include "oci/digest.h"
#include "oci/media.h"

typedef ssize_t (*decompress_read_fn)(void *ctx, void *buf, size_t len, struct ct_error *err);

struct decompressor;

int decompressor_new(enum oci_compression compression, decompress_read_fn upstream, void *ctx,
		     struct decompressor **out, struct ct_error *err);
/* Same shape as unpack_read_fn: 0 at the end of the stream; -1 with err on a corrupt
 * or truncated stream (or the upstream's own error). */
ssize_t decompressor_read(void *decompressor, void *buf, size_t len, struct ct_error *err);
void decompressor_free(struct decompressor *d);

/* An upstream reader over a file descriptor (ctx: an int *): a pipe from the
 * download, or a layer blob in the store. */
ssize_t decompress_read_fd(void *ctx, void *buf, size_t len, struct ct_error *err);

/* The decompressed stream, hashed on the way: what a layer's diff_id is the
 * digest of. Readers of it (unpack) see the same bytes. */
struct diff_reader {
	struct decompressor *dec;
	struct oci_digest_ctx diff;
};

ssize_t diff_reader_read(void *ctx, void *buf, size_t len, struct ct_error *err);

#endif
