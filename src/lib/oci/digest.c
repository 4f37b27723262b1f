#include "oci/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

static const struct {
	const char *name;
	size_t hex_len;
} algorithms[] = {
    [OCI_DIGEST_SHA256] = {"sha256", OCI_DIGEST_SHA256_HEX_LEN},
    [OCI_DIGEST_SHA512] = {"sha512", OCI_DIGEST_SHA512_HEX_LEN},
};

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* algorithm-component ([+._-] algorithm-component)*, components [a-z0-9]+ */
static bool algorithm_well_formed(const char *s, size_t len)
{
	bool after_separator = true;

	for (size_t i = 0; i < len; i++) {
		if (is_lower_alnum(s[i])) {
			after_separator = false;
		} else if (strchr("+._-", s[i]) && s[i] != '\0') {
			if (after_separator)
				return false;
			after_separator = true;
		} else {
			return false;
		}
	}
	return !after_separator;
}

static bool encoded_well_formed(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_lower_alnum(*s) && !(*s >= 'A' && *s <= 'Z') && !strchr("=_-", *s))
			return false;
	return true;
}

static int invalid(struct ct_error *err, const char *digest, const char *why)
{
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "invalid digest \"%s\": %s", digest,
			    why);
}

int oci_digest_parse(const char *digest, enum oci_digest_algorithm *algorithm, const char **hex,
		     struct ct_error *err)
{
	const char *colon, *encoded;
	size_t alg_len, enc_len;

	if (!digest || !*digest)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid digest \"\": digest is empty");
	colon = strchr(digest, ':');
	if (!colon)
		return invalid(err, digest,
			       "expected <algorithm>:<hex>, like sha256:<64 hex digits>");
	alg_len = colon - digest;
	encoded = colon + 1;
	if (!algorithm_well_formed(digest, alg_len))
		return invalid(err, digest, "malformed algorithm name");
	if (!encoded_well_formed(encoded))
		return invalid(err, digest,
			       *encoded ? "malformed encoded part" : "nothing after the ':'");

	for (size_t i = 0; i < ARRAY_SIZE(algorithms); i++) {
		if (strlen(algorithms[i].name) != alg_len ||
		    strncmp(algorithms[i].name, digest, alg_len) != 0)
			continue;
		enc_len = strlen(encoded);
		if (enc_len != algorithms[i].hex_len)
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "invalid digest \"%s\": %s needs %zu hex digits, got %zu", digest,
			    algorithms[i].name, algorithms[i].hex_len, enc_len);
		for (const char *p = encoded; *p; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return invalid(
				    err, digest,
				    "the hex part must be lowercase hex digits (0-9, a-f)");
		if (algorithm)
			*algorithm = (enum oci_digest_algorithm)i;
		if (hex)
			*hex = encoded;
		return 0;
	}
	return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
			    "unsupported digest algorithm \"%.*s\" in \"%s\" (supported: sha256, "
			    "sha512)",
			    (int)alg_len, digest, digest);
}

int oci_digest_validate(const char *digest, struct ct_error *err)
{
	return oci_digest_parse(digest, NULL, NULL, err);
}

const char *oci_digest_algorithm_name(enum oci_digest_algorithm algorithm)
{
	if ((size_t)algorithm >= ARRAY_SIZE(algorithms))
		return "unknown";
	return algorithms[algorithm].name;
}

int oci_digest_algorithm_from_name(const char *name, enum oci_digest_algorithm *out,
				   struct ct_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(algorithms); i++) {
		if (name && strcmp(name, algorithms[i].name) == 0) {
			*out = (enum oci_digest_algorithm)i;
			return 0;
		}
	}
	return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
			    "unsupported digest algorithm \"%s\" (supported: sha256, sha512)",
			    name ? name : "");
}

bool oci_digest_equal(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static const EVP_MD *evp_md(enum oci_digest_algorithm algorithm)
{
	switch (algorithm) {
	case OCI_DIGEST_SHA256:
		return EVP_sha256();
	case OCI_DIGEST_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

int oci_digest_init(struct oci_digest_ctx *ctx, enum oci_digest_algorithm algorithm,
		    struct ct_error *err)
{
	const EVP_MD *md = evp_md(algorithm);
	EVP_MD_CTX *md_ctx;

	ctx->md_ctx = NULL;
	ctx->algorithm = algorithm;
	if (!md)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "unsupported digest algorithm number %d", (int)algorithm);
	md_ctx = EVP_MD_CTX_new();
	if (!md_ctx) {
		errno = ENOMEM;
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a %s context",
				      algorithms[algorithm].name);
	}
	if (EVP_DigestInit_ex(md_ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(md_ctx);
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "OpenSSL could not start a %s digest",
				    algorithms[algorithm].name);
	}
	ctx->md_ctx = md_ctx;
	return 0;
}

int oci_digest_update(struct oci_digest_ctx *ctx, const void *buf, size_t len, struct ct_error *err)
{
	if (!ctx->md_ctx)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "digest context is not initialised");
	if (EVP_DigestUpdate(ctx->md_ctx, buf, len) != 1)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "OpenSSL failed to update a %s digest",
				    algorithms[ctx->algorithm].name);
	return 0;
}

int oci_digest_final(struct oci_digest_ctx *ctx, char out[OCI_DIGEST_STRING_MAX],
		     struct ct_error *err)
{
	static const char hexdigits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t pos;

	if (!ctx->md_ctx)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "digest context is not initialised");
	if (EVP_DigestFinal_ex(ctx->md_ctx, md, &md_len) != 1)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "OpenSSL failed to finish a %s digest",
				    algorithms[ctx->algorithm].name);
	if (md_len * 2 != algorithms[ctx->algorithm].hex_len)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "OpenSSL returned a %u-byte %s digest",
				    md_len, algorithms[ctx->algorithm].name);
	pos = (size_t)snprintf(out, OCI_DIGEST_STRING_MAX, "%s:", algorithms[ctx->algorithm].name);
	for (unsigned int i = 0; i < md_len; i++) {
		out[pos++] = hexdigits[md[i] >> 4];
		out[pos++] = hexdigits[md[i] & 0xf];
	}
	out[pos] = '\0';
	return 0;
}

void oci_digest_ctx_free(struct oci_digest_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md_ctx);
	ctx->md_ctx = NULL;
}

int oci_digest_buffer(enum oci_digest_algorithm algorithm, const void *buf, size_t len,
		      char out[OCI_DIGEST_STRING_MAX], struct ct_error *err)
{
	_cleanup_digest_ctx_ struct oci_digest_ctx ctx = {0};

	if (oci_digest_init(&ctx, algorithm, err) < 0 ||
	    oci_digest_update(&ctx, buf, len, err) < 0 || oci_digest_final(&ctx, out, err) < 0)
		return -1;
	return 0;
}

int oci_digest_fd(enum oci_digest_algorithm algorithm, int fd, char out[OCI_DIGEST_STRING_MAX],
		  uint64_t *size, struct ct_error *err)
{
	_cleanup_digest_ctx_ struct oci_digest_ctx ctx = {0};
	_cleanup_free_ char *buf = NULL;
	const size_t buf_size = 128 * 1024;
	uint64_t total = 0;

	if (oci_digest_init(&ctx, algorithm, err) < 0)
		return -1;
	buf = malloc(buf_size);
	if (!buf) {
		errno = ENOMEM;
		return ct_error_errno(err, CT_ERR_INTERNAL, "allocating a read buffer");
	}
	for (;;) {
		ssize_t n = read(fd, buf, buf_size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL,
					      "reading fd %d to compute its %s digest", fd,
					      algorithms[algorithm].name);
		if (n == 0)
			break;
		if (oci_digest_update(&ctx, buf, (size_t)n, err) < 0)
			return -1;
		total += (uint64_t)n;
	}
	if (oci_digest_final(&ctx, out, err) < 0)
		return -1;
	if (size)
		*size = total;
	return 0;
}

int oci_digest_verify_buffer(const char *expected, const void *buf, size_t len,
			     struct ct_error *err)
{
	enum oci_digest_algorithm algorithm;
	char actual[OCI_DIGEST_STRING_MAX];

	if (oci_digest_parse(expected, &algorithm, NULL, err) < 0)
		return -1;
	if (oci_digest_buffer(algorithm, buf, len, actual, err) < 0)
		return -1;
	if (!oci_digest_equal(expected, actual))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "digest mismatch: expected %s, got %s (%zu bytes)", expected,
				    actual, len);
	return 0;
}
