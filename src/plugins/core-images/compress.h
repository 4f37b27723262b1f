/* gzip compression of a layer (for `image import` and later `build`), with
 * ISA-L's igzip at level 1: several times faster than zlib at a similar ratio. */
#ifndef CONTAINER_COMPRESS_H
#define CONTAINER_COMPRESS_H

#include "error.h"
#include "store.h"

/* Compresses the whole of in_fd (from offset 0) into a new blob; digest_out
 * and *size describe the compressed blob. */
int compress_gzip_to_store(const struct store *s, int in_fd, char digest_out[OCI_DIGEST_STRING_MAX],
			   int64_t *size, struct ct_error *err);

#endif
