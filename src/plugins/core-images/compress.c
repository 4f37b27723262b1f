#include "compress.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <stdlib.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define CHUNK (256 * 1024)

int compress_gzip_to_store(const struct store *s, int in_fd, char digest_out[OCI_DIGEST_STRING_MAX],
			   int64_t *size, struct ct_error *err)
{
	_cleanup_free_ uint8_t *in = malloc(CHUNK), *out = malloc(CHUNK);
	_cleanup_free_ uint8_t *level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
	_cleanup_free_ struct isal_zstream *z = xcalloc(1, sizeof(*z));
	struct ingest ing;

	if (!in || !out || !level_buf)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "compressing: out of memory");
	if (lseek(in_fd, 0, SEEK_SET) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "compressing: rewinding the layer");
	if (ingest_begin(s, NULL, -1, &ing, err) < 0)
		return -1;
	isal_deflate_init(z);
	z->gzip_flag = IGZIP_GZIP;
	z->level = 1;
	z->level_buf = level_buf;
	z->level_buf_size = ISAL_DEF_LVL1_DEFAULT;

	for (;;) {
		ssize_t n = read(in_fd, in, CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ct_error_errno(err, CT_ERR_INTERNAL, "compressing: reading the layer");
			goto fail;
		}
		z->next_in = in;
		z->avail_in = n;
		z->end_of_stream = n == 0;
		do {
			z->next_out = out;
			z->avail_out = CHUNK;
			if (isal_deflate(z) != COMP_OK) {
				ct_error_set(err, CT_ERR_INTERNAL, 0, "compressing: igzip failed");
				goto fail;
			}
			if (ingest_write(&ing, out, CHUNK - z->avail_out, err) < 0)
				goto fail;
		} while (z->avail_in > 0 || (z->end_of_stream && z->internal_state.state != ZSTATE_END));
		if (n == 0)
			break;
	}
	*size = ing.written;
	return ingest_commit(&ing, digest_out, err);
fail:
	ingest_abort(&ing);
	return -1;
}
