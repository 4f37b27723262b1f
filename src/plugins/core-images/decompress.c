#include "decompress.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "util.h"

#define IN_BUF_SIZE (256 * 1024)

struct decompressor {
	enum oci_compression compression;
	decompress_read_fn upstream;
	void *ctx;
	uint8_t *in;
	size_t in_len, in_off;
	bool upstream_done;
	bool finished;	   /* the compressed stream ended properly */
	bool member_ended; /* gzip: a member ended; another may follow */
	struct inflate_state *gz;
	ZSTD_DStream *zs;
	size_t zstd_hint; /* 0 after ZSTD_decompressStream: a frame ended cleanly */
};

int decompressor_new(enum oci_compression compression, decompress_read_fn upstream, void *ctx,
		     struct decompressor **out, struct ct_error *err)
{
	struct decompressor *d = xcalloc(1, sizeof(*d));

	d->compression = compression;
	d->upstream = upstream;
	d->ctx = ctx;
	d->in = malloc(IN_BUF_SIZE);
	if (!d->in) {
		free(d);
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "out of memory for decompression");
	}
	if (compression == OCI_COMPRESSION_GZIP) {
		d->gz = xcalloc(1, sizeof(*d->gz));
		isal_inflate_init(d->gz);
		d->gz->crc_flag = ISAL_GZIP;
	} else if (compression == OCI_COMPRESSION_ZSTD) {
		d->zs = ZSTD_createDStream();
		if (!d->zs || ZSTD_isError(ZSTD_initDStream(d->zs))) {
			decompressor_free(d);
			return ct_error_set(err, CT_ERR_INTERNAL, 0, "cannot create a zstd stream");
		}
		d->zstd_hint = 1;
	}
	*out = d;
	return 0;
}

void decompressor_free(struct decompressor *d)
{
	if (!d)
		return;
	free(d->in);
	free(d->gz);
	if (d->zs)
		ZSTD_freeDStream(d->zs);
	free(d);
}

/* Refills the input buffer when it is empty. Returns -1 on upstream error. */
static int fill(struct decompressor *d, struct ct_error *err)
{
	if (d->in_off < d->in_len || d->upstream_done)
		return 0;
	ssize_t n = d->upstream(d->ctx, d->in, IN_BUF_SIZE, err);
	if (n < 0)
		return -1;
	d->in_off = 0;
	d->in_len = n;
	if (n == 0)
		d->upstream_done = true;
	return 0;
}

static ssize_t read_gzip(struct decompressor *d, void *buf, size_t len, struct ct_error *err)
{
	for (;;) {
		if (fill(d, err) < 0)
			return -1;
		if (d->member_ended) {
			/* Layers are one gzip member, but concatenated members are valid gzip
			 * (RFC 1952 2.2); anything else after the end is an error. */
			if (d->in_off == d->in_len && d->upstream_done) {
				d->finished = true;
				return 0;
			}
			isal_inflate_reset(d->gz);
			d->gz->crc_flag = ISAL_GZIP;
			d->member_ended = false;
		}
		d->gz->next_in = d->in + d->in_off;
		d->gz->avail_in = d->in_len - d->in_off;
		d->gz->next_out = buf;
		d->gz->avail_out = len > UINT32_MAX ? UINT32_MAX : len;
		int rc = isal_inflate(d->gz);
		d->in_off = d->in_len - d->gz->avail_in;
		size_t produced = (uint8_t *)d->gz->next_out - (uint8_t *)buf;
		if (rc < 0)
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0, "corrupt gzip data (%s)",
			    rc == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch"
			    : rc == ISAL_INVALID_WRAPPER  ? "bad gzip header"
							  : "invalid deflate stream");
		if (d->gz->block_state == ISAL_BLOCK_FINISH)
			d->member_ended = true;
		if (produced > 0)
			return produced;
		if (!d->member_ended && d->in_off == d->in_len && d->upstream_done)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "gzip data ends early (truncated blob)");
	}
}

static ssize_t read_zstd(struct decompressor *d, void *buf, size_t len, struct ct_error *err)
{
	for (;;) {
		if (fill(d, err) < 0)
			return -1;
		if (d->in_off == d->in_len && d->upstream_done) {
			if (d->zstd_hint != 0)
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "zstd data ends early (truncated blob)");
			d->finished = true;
			return 0;
		}
		ZSTD_inBuffer in = {d->in, d->in_len, d->in_off};
		ZSTD_outBuffer out = {buf, len, 0};
		size_t rc = ZSTD_decompressStream(d->zs, &out, &in);
		d->in_off = in.pos;
		if (ZSTD_isError(rc))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "corrupt zstd data (%s)", ZSTD_getErrorName(rc));
		d->zstd_hint = rc;
		if (out.pos > 0)
			return out.pos;
	}
}

ssize_t decompressor_read(void *decompressor, void *buf, size_t len, struct ct_error *err)
{
	struct decompressor *d = decompressor;

	if (d->finished || len == 0)
		return 0;
	switch (d->compression) {
	case OCI_COMPRESSION_GZIP:
		return read_gzip(d, buf, len, err);
	case OCI_COMPRESSION_ZSTD:
		return read_zstd(d, buf, len, err);
	case OCI_COMPRESSION_NONE:
		break;
	}
	ssize_t n = d->upstream(d->ctx, buf, len, err);
	if (n == 0)
		d->finished = true;
	return n;
}

ssize_t decompress_read_fd(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading a layer");
	}
}

ssize_t diff_reader_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct diff_reader *r = ctx;
	ssize_t n = decompressor_read(r->dec, buf, len, err);

	if (n > 0 && oci_digest_update(&r->diff, buf, n, err) < 0)
		return -1;
	return n;
}
