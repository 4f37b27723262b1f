/* libFuzzer target for the OCI manifest, index and image config parsers
 * (src/lib/oci/manifest.c, config.c and the json/media/platform/digest helpers they
 * use). The first input byte picks the media type the rest was "fetched as" (an OCI or
 * Docker index, manifest or config type, one with parameters, a schema 1 type, or NULL);
 * the rest goes through oci_manifest_kind, oci_manifest_parse, oci_manifest_index_parse
 * (+ oci_manifest_index_select for the host platform and for a fixed one), and
 * oci_config_parse (+ oci_config_platform, and oci_manifest_check_config when a manifest
 * parsed too). Everything is freed, so LeakSanitizer sees any leak on an error path, and
 * a failure must always come with a message.
 *
 * Build and run from the top of the tree (jansson and libcrypto from the distribution):
 *
 *   mkdir -p build-fuzz/corpus-manifest
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -DCONTAINER_VERSION='"fuzz"' -I src/lib \
 *         tests/fuzz/fuzz_manifest.c src/lib/oci/manifest.c src/lib/oci/config.c \
 *         src/lib/oci/json.c src/lib/oci/media.c src/lib/oci/platform.c \
 *         src/lib/oci/digest.c src/lib/error.c src/lib/json_util.c src/lib/util.c \
 *         -ljansson -lcrypto -o build-fuzz/fuzz_manifest
 *   FUZZ_MANIFEST_SEEDS=build-fuzz/corpus-manifest build-fuzz/fuzz_manifest -runs=0
 *   build-fuzz/fuzz_manifest -max_total_time=90 -max_len=8192 build-fuzz/corpus-manifest
 *
 * FUZZ_MANIFEST_SEEDS=DIR writes a few valid documents (each behind every media-type
 * byte that fits it) into DIR to start a corpus from. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "oci/config.h"
#include "oci/manifest.h"
#include "oci/media.h"
#include "oci/platform.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *const media_types[] = {
    OCI_MEDIA_TYPE_INDEX,
    DOCKER_MEDIA_TYPE_MANIFEST_LIST,
    OCI_MEDIA_TYPE_MANIFEST,
    DOCKER_MEDIA_TYPE_MANIFEST,
    OCI_MEDIA_TYPE_CONFIG,
    DOCKER_MEDIA_TYPE_CONFIG,
    NULL,
    " application/vnd.oci.image.manifest.v1+json ; charset=utf-8",
    DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED,
    OCI_MEDIA_TYPE_EMPTY,
    "",
    "text/plain",
};
#define N_MEDIA_TYPES (sizeof(media_types) / sizeof(media_types[0]))

/* A failure leaves a code and a message; success leaves the error untouched. */
static void check_result(int r, struct ct_error *err)
{
	CHECK(r == 0 || r == -1);
	if (r < 0) {
		CHECK(err->code[0] != '\0');
		CHECK(err->message && err->message[0]);
	} else {
		CHECK(err->message == NULL);
	}
	ct_error_clear(err);
}

static void check_descriptor(const struct oci_descriptor *d)
{
	CHECK(d->media_type && d->digest);
	CHECK(d->size >= 0);
	if (d->platform)
		CHECK(d->platform->os && d->platform->architecture);
	for (size_t i = 0; i < d->annotations.n; i++)
		CHECK(d->annotations.entries[i].key && d->annotations.entries[i].value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest manifest = {0};
	struct oci_index index = {0};
	struct oci_image_config config = {0};
	struct oci_platform platform = {0};
	const struct oci_descriptor *chosen;
	enum oci_manifest_kind kind;
	const char *media_type;
	const char *buf;
	size_t len;
	bool have_manifest, have_config;
	int r;

	if (size < 1)
		return 0;
	media_type = media_types[data[0] % N_MEDIA_TYPES];
	/* A copy of exactly len bytes, no NUL: ASan catches a parser reading past the end. */
	len = size - 1;
	buf = len ? memcpy(malloc(len), data + 1, len) : NULL;
	if (!buf && len)
		abort();

	r = oci_manifest_kind(buf ? buf : "", len, media_type, &kind, &err);
	check_result(r, &err);
	if (r == 0)
		CHECK(kind == OCI_MANIFEST_KIND_INDEX || kind == OCI_MANIFEST_KIND_IMAGE);

	r = oci_manifest_parse(buf ? buf : "", len, media_type, &manifest, &err);
	check_result(r, &err);
	have_manifest = r == 0;
	if (have_manifest) {
		CHECK(manifest.media_type);
		CHECK(oci_media_type_is_config(manifest.config.media_type));
		check_descriptor(&manifest.config);
		for (size_t i = 0; i < manifest.n_layers; i++)
			check_descriptor(&manifest.layers[i].desc);
		if (manifest.subject)
			check_descriptor(manifest.subject);
	}

	r = oci_manifest_index_parse(buf ? buf : "", len, media_type, &index, &err);
	check_result(r, &err);
	if (r == 0) {
		CHECK(index.media_type);
		CHECK(!have_manifest); /* a document is one or the other */
		for (size_t i = 0; i < index.n_manifests; i++)
			check_descriptor(&index.manifests[i]);
		r = oci_manifest_index_select(&index, NULL, &chosen, &err);
		check_result(r, &err);
		if (r == 0)
			CHECK(chosen >= index.manifests && chosen < index.manifests + index.n_manifests);
		if (oci_platform_parse("linux/arm/v7", &platform, &err) == 0) {
			r = oci_manifest_index_select(&index, &platform, &chosen, &err);
			check_result(r, &err);
			if (r == 0)
				CHECK(chosen >= index.manifests &&
				      chosen < index.manifests + index.n_manifests);
		}
		ct_error_clear(&err);
		oci_platform_free(&platform);
	}

	r = oci_config_parse(buf ? buf : "", len, media_type, &config, &err);
	check_result(r, &err);
	have_config = r == 0;
	/* And as the manifest's own config descriptor says it is, as pull does. */
	if (!have_config && have_manifest) {
		r = oci_config_parse(buf ? buf : "", len, manifest.config.media_type, &config, &err);
		check_result(r, &err);
		have_config = r == 0;
	}
	if (have_config) {
		CHECK(oci_strv_length(config.diff_ids) == config.n_diff_ids);
		r = oci_config_platform(&config, &platform, &err);
		check_result(r, &err);
		oci_platform_free(&platform);
		if (have_manifest) {
			r = oci_manifest_check_config(&manifest, &config, &err);
			check_result(r, &err);
			CHECK((r == 0) == (manifest.n_layers == config.n_diff_ids));
		}
	}

	oci_config_free(&config);
	oci_manifest_index_free(&index);
	oci_manifest_free(&manifest);
	free((void *)buf);
	return 0;
}

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void write_seeds(const char *dir)
{
	static const char *const docs[] = {
	    /* OCI manifest, two layers, subject and annotations */
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1
	    "\",\"size\":7023},"
	    "\"layers\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER_GZIP "\",\"digest\":\"" D2
	    "\",\"size\":32654},{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER_ZSTD "\",\"digest\":\"" D1
	    "\",\"size\":16724,\"annotations\":{\"a\":\"b\"}}],"
	    "\"subject\":{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D2
	    "\",\"size\":1},\"annotations\":{\"org.opencontainers.image.title\":\"x\"}}",
	    /* Docker manifest with a foreign layer */
	    "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" DOCKER_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1
	    "\",\"size\":1},"
	    "\"layers\":[{\"mediaType\":\"" DOCKER_MEDIA_TYPE_FOREIGN_LAYER_GZIP "\",\"digest\":\"" D2
	    "\",\"size\":5,\"urls\":[\"https://example.test/l\"]},{\"mediaType\":\"" DOCKER_MEDIA_TYPE_LAYER_GZIP
	    "\",\"digest\":\"" D1 "\",\"size\":3}]}",
	    /* OCI index with platforms (one with variant and os.version, one attestation) */
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\",\"manifests\":["
	    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":7,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":7,"
	    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
	    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":7,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.17763.1\"}},"
	    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":7,"
	    "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},"
	    "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}}]}",
	    /* Docker manifest list, no platform on one entry */
	    "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST_LIST "\",\"manifests\":["
	    "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":7},"
	    "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":7,"
	    "\"platform\":{\"architecture\":\"aarch64\",\"os\":\"linux\"}}]}",
	    /* index without mediaType: the shape decides */
	    "{\"schemaVersion\":2,\"manifests\":[]}",
	    /* image config */
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
	    "\"author\":\"a\",\"config\":{\"User\":\"1000:1000\",\"Env\":[\"PATH=/bin\"],"
	    "\"Entrypoint\":[\"/bin/sh\"],\"Cmd\":[\"-c\",\"true\"],\"WorkingDir\":\"/w\","
	    "\"Labels\":{\"k\":\"v\"},\"StopSignal\":\"SIGTERM\",\"ExposedPorts\":{\"80/tcp\":{}},"
	    "\"Volumes\":{\"/data\":{}}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2
	    "\"]},\"history\":[{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"x\","
	    "\"empty_layer\":true},{\"comment\":\"c\"}]}",
	    /* one object that is both a manifest and a config: check_config pairs them */
	    "{\"schemaVersion\":2,\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\","
	    "\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1
	    "\",\"size\":1},\"layers\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER "\",\"digest\":\"" D2
	    "\",\"size\":3}],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D2 "\"]}}",
	};
	char path[4096];

	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++)
		for (size_t t = 0; t < N_MEDIA_TYPES; t++) {
			FILE *f;

			snprintf(path, sizeof(path), "%s/seed-%zu-%zu", dir, d, t);
			f = fopen(path, "w");
			if (!f) {
				perror(path);
				exit(1);
			}
			fputc((int)t, f);
			fputs(docs[d], f);
			fclose(f);
		}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MANIFEST_SEEDS");

	(void)argc;
	(void)argv;
	if (dir && *dir)
		write_seeds(dir);
	return 0;
}
