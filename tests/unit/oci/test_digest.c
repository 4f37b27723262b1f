#include "oci-test.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "oci/digest.h"

#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC   "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_ABC                                                                                 \
	"sha512:"                                                                                  \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23" \
	"a"                                                                                        \
	"3feebbd454d4423643ce80e2a9ac94fa54ca49f"
/* FIPS 180-2 vectors: the two-block message and a million 'a'. */
#define NIST_TWO_BLOCK	 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define SHA256_TWO_BLOCK "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA256_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void test_sha256_known_vectors(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	char out[OCI_DIGEST_STRING_MAX];

	assert_int_equal(oci_digest_buffer(OCI_DIGEST_SHA256, "", 0, out, &err), 0);
	assert_string_equal(out, SHA256_EMPTY);
	assert_int_equal(oci_digest_buffer(OCI_DIGEST_SHA256, "abc", 3, out, &err), 0);
	assert_string_equal(out, SHA256_ABC);
	assert_int_equal(strlen(out), strlen("sha256:") + OCI_DIGEST_SHA256_HEX_LEN);
	assert_int_equal(
	    oci_digest_buffer(OCI_DIGEST_SHA256, NIST_TWO_BLOCK, strlen(NIST_TWO_BLOCK), out, &err),
	    0);
	assert_string_equal(out, SHA256_TWO_BLOCK);
	/* Every digest we produce is one we accept. */
	assert_int_equal(oci_digest_validate(out, &err), 0);
}

static void test_sha512_known_vector(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	char out[OCI_DIGEST_STRING_MAX];

	assert_int_equal(oci_digest_buffer(OCI_DIGEST_SHA512, "abc", 3, out, &err), 0);
	assert_string_equal(out, SHA512_ABC);
	assert_int_equal(strlen(out) + 1, OCI_DIGEST_STRING_MAX);
	assert_int_equal(oci_digest_validate(out, &err), 0);
}

static void test_streaming_matches_one_shot(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_digest_ctx ctx;
	char out[OCI_DIGEST_STRING_MAX];
	char chunk[1000];

	/* "abc" in uneven pieces, including an empty update. */
	assert_int_equal(oci_digest_init(&ctx, OCI_DIGEST_SHA256, &err), 0);
	assert_int_equal(oci_digest_update(&ctx, "a", 1, &err), 0);
	assert_int_equal(oci_digest_update(&ctx, "", 0, &err), 0);
	assert_int_equal(oci_digest_update(&ctx, "bc", 2, &err), 0);
	assert_int_equal(oci_digest_final(&ctx, out, &err), 0);
	oci_digest_ctx_free(&ctx);
	assert_string_equal(out, SHA256_ABC);

	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(oci_digest_init(&ctx, OCI_DIGEST_SHA256, &err), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(oci_digest_update(&ctx, chunk, sizeof(chunk), &err), 0);
	assert_int_equal(oci_digest_final(&ctx, out, &err), 0);
	oci_digest_ctx_free(&ctx);
	assert_string_equal(out, SHA256_MILLION_A);

	/* Freeing twice, or an unused context, is harmless. */
	oci_digest_ctx_free(&ctx);
	assert_null(ctx.md_ctx);
}

static void test_cleanup_attribute(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	char out[OCI_DIGEST_STRING_MAX];

	{
		_cleanup_digest_ctx_ struct oci_digest_ctx ctx = {0};

		assert_int_equal(oci_digest_init(&ctx, OCI_DIGEST_SHA512, &err), 0);
		assert_int_equal(oci_digest_update(&ctx, "abc", 3, &err), 0);
		assert_int_equal(oci_digest_final(&ctx, out, &err), 0);
	}
	assert_string_equal(out, SHA512_ABC);
}

static void test_uninitialised_context(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_digest_ctx ctx = {0};
	char out[OCI_DIGEST_STRING_MAX];

	assert_failure(oci_digest_update(&ctx, "a", 1, &err), &err, CT_ERR_INTERNAL,
		       "not initialised");
	assert_failure(oci_digest_final(&ctx, out, &err), &err, CT_ERR_INTERNAL, "not initialised");
	assert_failure(oci_digest_init(&ctx, (enum oci_digest_algorithm)7, &err), &err,
		       CT_ERR_UNSUPPORTED, "unsupported digest algorithm");
	assert_null(ctx.md_ctx);
	ct_error_clear(&err);
}

static int memfd_with(const char *content, size_t len)
{
	int fd = memfd_create("oci-digest-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	return fd;
}

static void test_digest_fd(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	char out[OCI_DIGEST_STRING_MAX];
	uint64_t size = 99;
	char *big;
	int fd;

	fd = memfd_with("abc", 3);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(oci_digest_fd(OCI_DIGEST_SHA256, fd, out, &size, &err), 0);
	assert_string_equal(out, SHA256_ABC);
	assert_int_equal(size, 3);
	/* From the current offset: at end of file that is the empty digest. */
	assert_int_equal(oci_digest_fd(OCI_DIGEST_SHA256, fd, out, &size, &err), 0);
	assert_string_equal(out, SHA256_EMPTY);
	assert_int_equal(size, 0);
	assert_int_equal(lseek(fd, 1, SEEK_SET), 1);
	assert_int_equal(oci_digest_fd(OCI_DIGEST_SHA512, fd, out, NULL, &err), 0);
	assert_int_not_equal(strcmp(out, SHA512_ABC), 0);
	close(fd);

	/* Larger than one read buffer. */
	big = malloc(1000000);
	assert_non_null(big);
	memset(big, 'a', 1000000);
	fd = memfd_with(big, 1000000);
	free(big);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(oci_digest_fd(OCI_DIGEST_SHA256, fd, out, &size, &err), 0);
	assert_string_equal(out, SHA256_MILLION_A);
	assert_int_equal(size, 1000000);
	close(fd);
}

static void test_digest_fd_error(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	char out[OCI_DIGEST_STRING_MAX];
	int fds[2];

	assert_failure(oci_digest_fd(OCI_DIGEST_SHA256, -1, out, NULL, &err), &err, CT_ERR_INTERNAL,
		       "reading fd -1 to compute its sha256 digest");
	assert_int_equal(err.errnum, EBADF);

	/* A write-only end cannot be read. */
	assert_int_equal(pipe(fds), 0);
	assert_failure(oci_digest_fd(OCI_DIGEST_SHA256, fds[1], out, NULL, &err), &err,
		       CT_ERR_INTERNAL, "reading fd");
	close(fds[0]);
	close(fds[1]);
	ct_error_clear(&err);
}

struct validate_case {
	const char *digest;
	const char *code; /* NULL: valid */
	const char *message;
};

static const struct validate_case validate_cases[] = {
    {DIGEST_A, NULL, NULL},
    {SHA256_ABC, NULL, NULL},
    {SHA512_ABC, NULL, NULL},
    {"", CT_ERR_INVALID_ARGUMENT, "invalid digest \"\": digest is empty"},
    {"abc", CT_ERR_INVALID_ARGUMENT, "invalid digest \"abc\": expected <algorithm>:<hex>"},
    {HEX64_A, CT_ERR_INVALID_ARGUMENT, "expected <algorithm>:<hex>"},
    {"sha256:", CT_ERR_INVALID_ARGUMENT, "nothing after the ':'"},
    {":" HEX64_A, CT_ERR_INVALID_ARGUMENT, "malformed algorithm name"},
    {"SHA256:" HEX64_A, CT_ERR_INVALID_ARGUMENT, "malformed algorithm name"},
    {"sha-:" HEX64_A, CT_ERR_INVALID_ARGUMENT, "malformed algorithm name"},
    {"sha256:" HEX64_A "a", CT_ERR_INVALID_ARGUMENT, "sha256 needs 64 hex digits, got 65"},
    {"sha256:aaa", CT_ERR_INVALID_ARGUMENT, "sha256 needs 64 hex digits, got 3"},
    {"sha512:" HEX64_A, CT_ERR_INVALID_ARGUMENT, "sha512 needs 128 hex digits, got 64"},
    {"sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     CT_ERR_INVALID_ARGUMENT, "lowercase hex digits"},
    {"sha256:gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg",
     CT_ERR_INVALID_ARGUMENT, "lowercase hex digits"},
    {"sha256:" HEX64_A " ", CT_ERR_INVALID_ARGUMENT, "malformed encoded part"},
    {"sha256:a:b", CT_ERR_INVALID_ARGUMENT, "malformed encoded part"},
    {"md5:d41d8cd98f00b204e9800998ecf8427e", CT_ERR_UNSUPPORTED,
     "unsupported digest algorithm \"md5\" in \"md5:d41d8cd98f00b204e9800998ecf8427e\" "
     "(supported: sha256, sha512)"},
    {"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", CT_ERR_UNSUPPORTED,
     "unsupported digest algorithm \"multihash+base58\""},
    {"blake3:" HEX64_A, CT_ERR_UNSUPPORTED, "unsupported digest algorithm \"blake3\""},
};

static void test_validate(void **state)
{
	const struct validate_case *c = *state;
	struct ct_error err = CT_ERROR_INIT;
	int rc = oci_digest_validate(c->digest, &err);

	if (!c->code) {
		if (rc < 0)
			fail_msg("%s: %s", c->digest, ct_error_message(&err));
		return;
	}
	if (rc == 0)
		fail_msg("\"%s\" accepted, expected \"%s\"", c->digest, c->message);
	assert_failure(rc, &err, c->code, c->message);
	ct_error_clear(&err);
}

static void test_parse(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	static const char sha512[] = SHA512_ABC;
	enum oci_digest_algorithm algorithm = OCI_DIGEST_SHA512;
	const char *hex = NULL;

	assert_int_equal(oci_digest_parse(DIGEST_B, &algorithm, &hex, &err), 0);
	assert_int_equal(algorithm, OCI_DIGEST_SHA256);
	assert_string_equal(hex, HEX64_B);
	assert_int_equal(oci_digest_parse(sha512, &algorithm, &hex, &err), 0);
	assert_int_equal(algorithm, OCI_DIGEST_SHA512);
	/* hex points into the argument, after the ':'. */
	assert_ptr_equal(hex, &sha512[strlen("sha512:")]);
	assert_failure(oci_digest_parse(NULL, &algorithm, &hex, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "digest is empty");
	ct_error_clear(&err);
}

static void test_algorithm_names(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	enum oci_digest_algorithm algorithm;

	assert_string_equal(oci_digest_algorithm_name(OCI_DIGEST_SHA256), "sha256");
	assert_string_equal(oci_digest_algorithm_name(OCI_DIGEST_SHA512), "sha512");
	assert_string_equal(oci_digest_algorithm_name((enum oci_digest_algorithm)9), "unknown");
	assert_int_equal(oci_digest_algorithm_from_name("sha512", &algorithm, &err), 0);
	assert_int_equal(algorithm, OCI_DIGEST_SHA512);
	assert_int_equal(oci_digest_algorithm_from_name("sha256", &algorithm, &err), 0);
	assert_int_equal(algorithm, OCI_DIGEST_SHA256);
	assert_failure(oci_digest_algorithm_from_name("sha1", &algorithm, &err), &err,
		       CT_ERR_UNSUPPORTED, "unsupported digest algorithm \"sha1\"");
	ct_error_clear(&err);
}

static void test_equal_and_verify(void **state)
{
	struct ct_error err = CT_ERROR_INIT;

	assert_true(oci_digest_equal(DIGEST_A, DIGEST_A));
	assert_false(oci_digest_equal(DIGEST_A, DIGEST_B));
	assert_false(oci_digest_equal(DIGEST_A, NULL));
	assert_false(oci_digest_equal(NULL, NULL));

	assert_int_equal(oci_digest_verify_buffer(SHA256_ABC, "abc", 3, &err), 0);
	assert_int_equal(oci_digest_verify_buffer(SHA512_ABC, "abc", 3, &err), 0);
	assert_failure(oci_digest_verify_buffer(SHA256_ABC, "abd", 3, &err), &err,
		       CT_ERR_INVALID_ARGUMENT,
		       "digest mismatch: expected " SHA256_ABC ", got sha256:");
	assert_failure(oci_digest_verify_buffer(SHA256_EMPTY, "abc", 3, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "got " SHA256_ABC " (3 bytes)");
	assert_failure(oci_digest_verify_buffer("sha256:abc", "abc", 3, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "invalid digest \"sha256:abc\"");
	ct_error_clear(&err);
}

int main(void)
{
	struct test_list list = {0};

	test_list_add(&list, test_sha256_known_vectors, NULL,
		      "sha256 of \"\", \"abc\", two blocks");
	test_list_add(&list, test_sha512_known_vector, NULL, "sha512 of \"abc\"");
	test_list_add(&list, test_streaming_matches_one_shot, NULL, "streaming in pieces");
	test_list_add(&list, test_cleanup_attribute, NULL, "cleanup attribute");
	test_list_add(&list, test_uninitialised_context, NULL, "uninitialised context");
	test_list_add(&list, test_digest_fd, NULL, "digest of a file descriptor");
	test_list_add(&list, test_digest_fd_error, NULL, "unreadable file descriptor");
	for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++)
		test_list_add(&list, test_validate, &validate_cases[i], "%s \"%s\"",
			      validate_cases[i].code ? "invalid" : "valid",
			      validate_cases[i].digest);
	test_list_add(&list, test_parse, NULL, "parse into algorithm and hex");
	test_list_add(&list, test_algorithm_names, NULL, "algorithm names");
	test_list_add(&list, test_equal_and_verify, NULL, "compare and verify");
	return test_list_run(&list, "oci-digest");
}
