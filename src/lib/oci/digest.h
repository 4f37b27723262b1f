/* Content digests ("sha256:<64 hex>"): validation, and hashing over OpenSSL's EVP
 * interface so that a blob can be digested while it streams to disk.
 *
 * The grammar is the OCI image spec's (algorithm ":" encoded); of the registered
 * algorithms sha256 and sha512 are supported, with lowercase hex of their exact length.
 * Any other algorithm that is well formed is refused with CT_ERR_UNSUPPORTED. */
#ifndef CONTAINER_OCI_DIGEST_H
#define CONTAINER_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum oci_digest_algorithm {
	OCI_DIGEST_SHA256,
	OCI_DIGEST_SHA512,
};

#define OCI_DIGEST_SHA256_HEX_LEN 64
#define OCI_DIGEST_SHA512_HEX_LEN 128
/* Room for the longest supported digest string and its NUL: "sha512:" + 128 hex. */
#define OCI_DIGEST_STRING_MAX (sizeof("sha512:") + OCI_DIGEST_SHA512_HEX_LEN)

/* 0 when digest is well formed and of a supported algorithm. Messages name the digest. */
int oci_digest_validate(const char *digest, struct ct_error *err);

/* Validates and splits: *hex (optional) points into digest, after the ':'. */
int oci_digest_parse(const char *digest, enum oci_digest_algorithm *algorithm, const char **hex,
		     struct ct_error *err);

const char *oci_digest_algorithm_name(enum oci_digest_algorithm algorithm);
int oci_digest_algorithm_from_name(const char *name, enum oci_digest_algorithm *out,
				   struct ct_error *err);

/* Digests are canonical (lowercase, fixed length), so equal content means equal strings. */
bool oci_digest_equal(const char *a, const char *b);

/* Streaming: init, any number of updates, final. Free the context in every case. */
struct oci_digest_ctx {
	void *md_ctx; /* EVP_MD_CTX, kept opaque so users need no OpenSSL headers */
	enum oci_digest_algorithm algorithm;
};

int oci_digest_init(struct oci_digest_ctx *ctx, enum oci_digest_algorithm algorithm,
		    struct ct_error *err);
int oci_digest_update(struct oci_digest_ctx *ctx, const void *buf, size_t len,
		      struct ct_error *err);
/* Writes "algorithm:hex" to out. The context cannot be updated afterwards. */
int oci_digest_final(struct oci_digest_ctx *ctx, char out[OCI_DIGEST_STRING_MAX],
		     struct ct_error *err);
void oci_digest_ctx_free(struct oci_digest_ctx *ctx);

#define _cleanup_digest_ctx_ __attribute__((cleanup(oci_digest_ctx_free)))

int oci_digest_buffer(enum oci_digest_algorithm algorithm, const void *buf, size_t len,
		      char out[OCI_DIGEST_STRING_MAX], struct ct_error *err);
/* Reads fd from its current offset to end of file; *size (optional) gets the byte count. */
int oci_digest_fd(enum oci_digest_algorithm algorithm, int fd, char out[OCI_DIGEST_STRING_MAX],
		  uint64_t *size, struct ct_error *err);

/* Digests buf with expected's algorithm; a mismatch fails with both digests in the message. */
int oci_digest_verify_buffer(const char *expected, const void *buf, size_t len,
			     struct ct_error *err);

#endif
