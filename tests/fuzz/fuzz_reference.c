/* libFuzzer target for image references, platforms and digests
 * (src/lib/oci/reference.c, platform.c, digest.c). The input, up to its first NUL, is
 * split at the first newline: the part before is the reference (and platform, and
 * digest); the part after, when there is one, is a default registry. Each parse must
 * fail with a message or succeed with fields the rest of the program can rely on:
 * a registry and repository that parse again to the same reference, a tag or a
 * digest, names within their limits.
 *
 * Build and run from the top of the tree (libcrypto from Debian):
 *
 *   mkdir -p build-fuzz/corpus-reference
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -DCONTAINER_VERSION='"fuzz"' -I src/lib \
 *         tests/fuzz/fuzz_reference.c src/lib/oci/reference.c src/lib/oci/platform.c \
 *         src/lib/oci/digest.c src/lib/error.c -lcrypto -o build-fuzz/fuzz_reference
 *   FUZZ_REFERENCE_SEEDS=build-fuzz/corpus-reference build-fuzz/fuzz_reference -runs=0
 *   build-fuzz/fuzz_reference -max_total_time=60 -max_len=1024 build-fuzz/corpus-reference
 *
 * FUZZ_REFERENCE_SEEDS=DIR writes a few valid inputs into DIR to start a corpus from. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/digest.h"
#include "oci/platform.h"
#include "oci/reference.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void write_seeds(const char *dir)
{
	static const char *const seeds[] = {
	    "busybox",
	    "user/app:1",
	    "localhost:5000/x",
	    "[::1]:5000/a/b@sha256:" HEX64,
	    "docker.io/library/busybox:latest\nquay.io",
	    "index.docker.io/a__b/c-d.e:v1.2_3",
	    "app\nregistry.local:5000",
	    "linux/arm64/v8",
	    "linux/x86_64",
	    "sha256:" HEX64,
	    "sha512:" HEX64 HEX64,
	    "app:tag@sha256:" HEX64 "\n[fe80::1]:443",
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, strlen(seeds[i]), f) != strlen(seeds[i]))
			perror(path);
		if (f)
			fclose(f);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_REFERENCE_SEEDS");

	(void)argc;
	(void)argv;
	if (dir)
		write_seeds(dir);
	return 0;
}

static void check_ref(const char *s, const char *default_registry)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref ref = {0};

	if (oci_ref_parse(s, default_registry, &ref, &err) < 0) {
		CHECK(err.message != NULL && err.code[0]);
		CHECK(ref.registry == NULL && ref.repository == NULL && ref.tag == NULL &&
		      ref.digest == NULL);
		ct_error_clear(&err);
		return;
	}
	CHECK(err.message == NULL);
	CHECK(ref.registry && *ref.registry && ref.repository && *ref.repository);
	CHECK(ref.tag || ref.digest);
	CHECK(!ref.tag || strlen(ref.tag) <= OCI_REF_TAG_MAX);
	CHECK(strlen(ref.registry) + 1 + strlen(ref.repository) <= OCI_REF_NAME_MAX);
	CHECK(!ref.digest || oci_digest_validate(ref.digest, NULL) == 0);
	CHECK(oci_ref_api_host(ref.registry) != NULL);

	char *full = oci_ref_string(&ref);
	char *name = oci_ref_name(&ref);
	char *familiar = oci_ref_familiar(&ref);
	CHECK(full && name && familiar);
	CHECK(strncmp(full, name, strlen(name)) == 0);

	/* The normalised forms are references too, and name the same image. */
	struct oci_ref again = {0};
	CHECK(oci_ref_parse(full, default_registry, &again, &err) == 0);
	CHECK(strcmp(again.registry, ref.registry) == 0);
	CHECK(strcmp(again.repository, ref.repository) == 0);
	CHECK((again.tag == NULL) == (ref.tag == NULL));
	CHECK(!ref.tag || strcmp(again.tag, ref.tag) == 0);
	char *full_again = oci_ref_string(&again);
	CHECK(full_again && strcmp(full_again, full) == 0);
	free(full_again);
	oci_ref_free(&again);
	CHECK(oci_ref_parse(familiar, NULL, &again, &err) == 0);
	full_again = oci_ref_string(&again);
	CHECK(full_again && strcmp(full_again, full) == 0);
	free(full_again);
	oci_ref_free(&again);
	free(full);
	free(name);
	free(familiar);
	oci_ref_free(&ref);
	CHECK(ref.registry == NULL);
}

static void check_platform(const char *s)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_platform p = {0};

	if (oci_platform_parse(s, &p, &err) < 0) {
		CHECK(err.message != NULL);
		ct_error_clear(&err);
		return;
	}
	CHECK(p.os && p.architecture);
	char *text = oci_platform_format(&p);
	CHECK(text);
	struct oci_platform again = {0};
	/* Normalising is idempotent. */
	CHECK(oci_platform_parse(text, &again, &err) == 0);
	CHECK(strcmp(again.os, p.os) == 0 && strcmp(again.architecture, p.architecture) == 0);
	CHECK((again.variant == NULL) == (p.variant == NULL));
	CHECK(oci_platform_match(&p, &again) && oci_platform_match(&again, &p));
	CHECK(oci_platform_match_score(&p, &again) == 2);
	free(text);
	oci_platform_free(&again);
	oci_platform_free(&p);
}

static void check_digest(const char *s)
{
	struct ct_error err = CT_ERROR_INIT;
	enum oci_digest_algorithm alg;
	const char *hex = NULL;

	if (oci_digest_validate(s, &err) < 0) {
		CHECK(err.message != NULL);
		CHECK(oci_digest_parse(s, &alg, &hex, NULL) < 0);
		ct_error_clear(&err);
		return;
	}
	CHECK(oci_digest_parse(s, &alg, &hex, &err) == 0);
	CHECK(hex && hex > s && hex[-1] == ':');
	CHECK(strlen(hex) == (alg == OCI_DIGEST_SHA256 ? OCI_DIGEST_SHA256_HEX_LEN
						       : OCI_DIGEST_SHA512_HEX_LEN));
	CHECK(strlen(s) < OCI_DIGEST_STRING_MAX);
	CHECK(strncmp(s, oci_digest_algorithm_name(alg), (size_t)(hex - 1 - s)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	CHECK(s);
	char *newline = strchr(s, '\n');
	const char *registry = NULL;

	if (newline) {
		*newline = '\0';
		registry = newline + 1;
	}
	check_ref(s, NULL);
	check_ref(s, "localhost:5000");
	if (registry)
		check_ref(s, registry);
	check_platform(s);
	check_digest(s);
	if (registry) {
		check_platform(registry);
		check_digest(registry);
	}
	free(s);
	return 0;
}
