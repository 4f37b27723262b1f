#include "oci-test.h"

#include "oci/manifest.h"

/* ---- fixtures (' stands for ") ---- */

#define OCI_MANIFEST_BODY                                                                          \
	"'config': {'mediaType': '" OCI_MEDIA_TYPE_CONFIG "', 'digest': '" DIGEST_C                \
	"', 'size': 1469},"                                                                        \
	"'layers': ["                                                                              \
	"  {'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A                    \
	"', 'size': 3370628},"                                                                     \
	"  {'mediaType': '" OCI_MEDIA_TYPE_LAYER_ZSTD "', 'digest': '" DIGEST_B                    \
	"', 'size': 0, 'annotations': {'org.opencontainers.image.title': 'b.tar.zst'}},"           \
	"  {'mediaType': '" OCI_MEDIA_TYPE_LAYER "', 'digest': '" DIGEST_D "', 'size': 10240}"     \
	"],"                                                                                       \
	"'annotations': {'org.opencontainers.image.created': '2024-01-01T00:00:00Z'}"

static const char oci_manifest[] =
    "{'schemaVersion': 2, 'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "'," OCI_MANIFEST_BODY "}";
/* The OCI spec makes mediaType optional: the shape says what this is. */
static const char oci_manifest_untyped[] = "{'schemaVersion': 2," OCI_MANIFEST_BODY "}";

static const char docker_manifest[] =
    "{'schemaVersion': 2, 'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST "',"
    "'config': {'mediaType': '" DOCKER_MEDIA_TYPE_CONFIG "', 'digest': '" DIGEST_C
    "', 'size': 7023},"
    "'layers': ["
    "  {'mediaType': '" DOCKER_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A "', 'size': 32654},"
    "  {'mediaType': '" DOCKER_MEDIA_TYPE_FOREIGN_LAYER_GZIP "', 'digest': '" DIGEST_B
    "', 'size': 1000, 'urls': ['https://mcr.microsoft.com/a', 'https://b.example/b']},"
    "  {'mediaType': '" DOCKER_MEDIA_TYPE_LAYER "', 'digest': '" DIGEST_D "', 'size': 5}"
    "]}";

#define PLATFORM(os, arch) "'platform': {'os': '" os "', 'architecture': '" arch "'}"
#define PLATFORM_V(os, arch, variant)                                                              \
	"'platform': {'os': '" os "', 'architecture': '" arch "', 'variant': '" variant "'}"

/* What `docker buildx` pushes: three images and a provenance attestation. */
static const char oci_index[] =
    "{'schemaVersion': 2, 'mediaType': '" OCI_MEDIA_TYPE_INDEX "',"
    "'manifests': ["
    "  {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A "', 'size': 1000,"
    "   " PLATFORM(
	"linux",
	"amd64") "},"
		 "  {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_B
		 "', 'size': 1001,"
		 "   " PLATFORM_V(
		     "linux", "arm64",
		     "v8") "},"
			   "  {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_C
			   "', 'size': 1002,"
			   "   " PLATFORM_V(
			       "linux", "arm",
			       "v7") "},"
				     "  {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
				     "', 'digest': '" DIGEST_D "', 'size': 566,"
				     "   " PLATFORM(
					 "unknown",
					 "unknown") ","
						    "   'annotations': "
						    "{'vnd.docker.reference.type': "
						    "'attestation-manifest',"
						    "                   "
						    "'vnd.docker.reference.digest': '" DIGEST_A
						    "'}}"
						    "],"
						    "'annotations': "
						    "{'org.opencontainers.image.ref.name': '1.0'}}";

static const char docker_manifest_list[] =
    "{'schemaVersion': 2, 'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST_LIST "',"
    "'manifests': ["
    "  {'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A "', 'size': 527,"
    "   " PLATFORM(
	"linux", "amd64") "},"
			  "  {'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_B
			  "', 'size': 527,"
			  "   " PLATFORM(
			      "linux", "arm64") "},"
						"  {'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST
						"', 'digest': '" DIGEST_E "', 'size': 527,"
						"   'platform': {'os': 'windows', 'architecture': "
						"'amd64', 'os.version': '10.0.17763.5206',"
						"                'os.features': ['win32k']}}"
						"]}";

static const char docker_config[] =
    "{'architecture': 'amd64', 'os': 'linux', 'created': '2024-01-01T00:00:00Z',"
    "'config': {'Env': ['PATH=/usr/bin'], 'Cmd': ['sh']},"
    "'rootfs': {'type': 'layers', 'diff_ids': ['" DIGEST_0 "', '" DIGEST_1 "', '" DIGEST_F "']}}";

/* ---- helpers ---- */

static int parse_manifest(const char *fixture, const char *media_type, struct oci_manifest *out,
			  struct ct_error *err)
{
	char *json = json_fixture(fixture);
	int rc = oci_manifest_parse(json, strlen(json), media_type, out, err);

	free(json);
	return rc;
}

static int parse_index(const char *fixture, const char *media_type, struct oci_index *out,
		       struct ct_error *err)
{
	char *json = json_fixture(fixture);
	int rc = oci_manifest_index_parse(json, strlen(json), media_type, out, err);

	free(json);
	return rc;
}

static void assert_manifest_fails(const char *fixture, const char *media_type, const char *code,
				  const char *needle)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	assert_failure(parse_manifest(fixture, media_type, &m, &err), &err, code, needle);
	assert_null(m.media_type);
	assert_null(m.layers);
	ct_error_clear(&err);
}

static void assert_index_fails(const char *fixture, const char *media_type, const char *code,
			       const char *needle)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_index idx = {0};

	assert_failure(parse_index(fixture, media_type, &idx, &err), &err, code, needle);
	assert_null(idx.manifests);
	ct_error_clear(&err);
}

/* ---- image manifests ---- */

static void test_oci_manifest(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	if (parse_manifest(oci_manifest, OCI_MEDIA_TYPE_MANIFEST, &m, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(m.media_type, OCI_MEDIA_TYPE_MANIFEST);
	assert_string_equal(m.config.media_type, OCI_MEDIA_TYPE_CONFIG);
	assert_string_equal(m.config.digest, DIGEST_C);
	assert_int_equal(m.config.size, 1469);
	assert_null(m.config.platform);
	assert_int_equal(m.n_layers, 3);
	assert_string_equal(m.layers[0].desc.digest, DIGEST_A);
	assert_int_equal(m.layers[0].desc.size, 3370628);
	assert_int_equal(m.layers[0].compression, OCI_COMPRESSION_GZIP);
	assert_false(m.layers[0].nondistributable);
	assert_int_equal(m.layers[1].compression, OCI_COMPRESSION_ZSTD);
	assert_int_equal(m.layers[1].desc.size, 0);
	assert_string_equal(
	    oci_map_get(&m.layers[1].desc.annotations, "org.opencontainers.image.title"),
	    "b.tar.zst");
	assert_int_equal(m.layers[2].compression, OCI_COMPRESSION_NONE);
	assert_string_equal(m.layers[2].desc.digest, DIGEST_D);
	assert_int_equal(m.annotations.n, 1);
	assert_string_equal(oci_map_get(&m.annotations, "org.opencontainers.image.created"),
			    "2024-01-01T00:00:00Z");
	assert_null(oci_map_get(&m.annotations, "missing"));
	assert_null(m.subject);
	oci_manifest_free(&m);
	assert_null(m.layers);
	assert_int_equal(m.n_layers, 0);
}

static void test_docker_manifest(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	if (parse_manifest(docker_manifest, DOCKER_MEDIA_TYPE_MANIFEST, &m, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(m.media_type, DOCKER_MEDIA_TYPE_MANIFEST);
	assert_string_equal(m.config.media_type, DOCKER_MEDIA_TYPE_CONFIG);
	assert_int_equal(m.config.size, 7023);
	assert_int_equal(m.n_layers, 3);
	assert_int_equal(m.layers[0].compression, OCI_COMPRESSION_GZIP);
	assert_false(m.layers[0].nondistributable);
	assert_null(m.layers[0].desc.urls);
	assert_int_equal(m.layers[1].compression, OCI_COMPRESSION_GZIP);
	assert_true(m.layers[1].nondistributable);
	assert_int_equal(oci_strv_length(m.layers[1].desc.urls), 2);
	assert_string_equal(m.layers[1].desc.urls[0], "https://mcr.microsoft.com/a");
	assert_string_equal(m.layers[1].desc.urls[1], "https://b.example/b");
	assert_int_equal(m.layers[2].compression, OCI_COMPRESSION_NONE);
	oci_manifest_free(&m);
}

static void test_manifest_type_from_document(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	/* Fetched as unknown: the document's mediaType decides. */
	assert_int_equal(parse_manifest(docker_manifest, NULL, &m, &err), 0);
	assert_string_equal(m.media_type, DOCKER_MEDIA_TYPE_MANIFEST);
	oci_manifest_free(&m);
	/* No mediaType anywhere: the shape makes it an OCI manifest. */
	assert_int_equal(parse_manifest(oci_manifest_untyped, NULL, &m, &err), 0);
	assert_string_equal(m.media_type, OCI_MEDIA_TYPE_MANIFEST);
	assert_int_equal(m.n_layers, 3);
	oci_manifest_free(&m);
	/* No mediaType in the document: the fetched type, when it agrees with the shape. */
	assert_int_equal(parse_manifest(oci_manifest_untyped, DOCKER_MEDIA_TYPE_MANIFEST, &m, &err),
			 0);
	assert_string_equal(m.media_type, DOCKER_MEDIA_TYPE_MANIFEST);
	oci_manifest_free(&m);
}

static void test_content_type_parameters(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	assert_int_equal(
	    parse_manifest(oci_manifest, " " OCI_MEDIA_TYPE_MANIFEST " ; charset=utf-8", &m, &err),
	    0);
	assert_string_equal(m.media_type, OCI_MEDIA_TYPE_MANIFEST);
	oci_manifest_free(&m);
	assert_int_equal(parse_manifest(oci_manifest_untyped,
					OCI_MEDIA_TYPE_MANIFEST "; charset=utf-8", &m, &err),
			 0);
	assert_string_equal(m.media_type, OCI_MEDIA_TYPE_MANIFEST);
	oci_manifest_free(&m);
}

static void test_manifest_with_subject(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	assert_int_equal(parse_manifest("{'schemaVersion': 2, " OCI_MANIFEST_BODY ","
					"'subject': {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
					"', 'digest': '" DIGEST_E "', 'size': 12}}",
					OCI_MEDIA_TYPE_MANIFEST, &m, &err),
			 0);
	assert_non_null(m.subject);
	assert_string_equal(m.subject->digest, DIGEST_E);
	assert_int_equal(m.subject->size, 12);
	oci_manifest_free(&m);

	assert_manifest_fails("{'schemaVersion': 2, " OCI_MANIFEST_BODY ","
			      "'subject': {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
			      "', 'digest': 'sha256:1', 'size': 12}}",
			      NULL, CT_ERR_INVALID_ARGUMENT,
			      "invalid image manifest: subject: invalid digest \"sha256:1\"");
}

static void test_empty_layers(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	assert_int_equal(
	    parse_manifest("{'schemaVersion': 2, 'config': {'mediaType': '" OCI_MEDIA_TYPE_CONFIG
			   "', 'digest': '" DIGEST_C "', 'size': 2}, 'layers': []}",
			   OCI_MEDIA_TYPE_MANIFEST, &m, &err),
	    0);
	assert_int_equal(m.n_layers, 0);
	oci_manifest_free(&m);
}

/* Each row: a document, what it was fetched as, and the message it must fail with. */
struct failing_case {
	const char *name;
	const char *json;
	const char *media_type;
	const char *code;
	const char *message;
};

#define CONFIG_DESC                                                                                \
	"'config': {'mediaType': '" OCI_MEDIA_TYPE_CONFIG "', 'digest': '" DIGEST_C "', 'size': "  \
	"2}"
#define MANIFEST_WITH_LAYER(layer)   "{'schemaVersion': 2, " CONFIG_DESC ", 'layers': [" layer "]}"
#define MANIFEST_WITH_CONFIG(config) "{'schemaVersion': 2, 'config': " config ", 'layers': []}"

static const struct failing_case manifest_failures[] = {
    {"lying mediaType: docker document fetched as OCI", docker_manifest, OCI_MEDIA_TYPE_MANIFEST,
     CT_ERR_INVALID_ARGUMENT,
     "invalid image manifest: fetched as " OCI_MEDIA_TYPE_MANIFEST
     " but the document's mediaType is " DOCKER_MEDIA_TYPE_MANIFEST},
    {"lying mediaType: manifest fetched as index", oci_manifest, OCI_MEDIA_TYPE_INDEX,
     CT_ERR_INVALID_ARGUMENT,
     "fetched as " OCI_MEDIA_TYPE_INDEX
     " but the document's mediaType is " OCI_MEDIA_TYPE_MANIFEST},
    {"lying shape: untyped manifest fetched as index", oci_manifest_untyped, OCI_MEDIA_TYPE_INDEX,
     CT_ERR_INVALID_ARGUMENT,
     "fetched as " OCI_MEDIA_TYPE_INDEX " but the document has \"layers\", so it is an image "
     "manifest"},
    {"lying mediaType: declares an index, has layers",
     "{'schemaVersion': 2, 'mediaType': '" OCI_MEDIA_TYPE_INDEX "', " OCI_MANIFEST_BODY "}", NULL,
     CT_ERR_INVALID_ARGUMENT,
     "the document's mediaType is " OCI_MEDIA_TYPE_INDEX
     " but the document has \"layers\", so it is an image manifest"},
    {"an index given to the manifest parser", oci_index, NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid image manifest: " OCI_MEDIA_TYPE_INDEX " is an index, not an image manifest"},
    {"both manifests and layers", "{'schemaVersion': 2, 'manifests': [], " OCI_MANIFEST_BODY "}",
     NULL, CT_ERR_INVALID_ARGUMENT, "has both \"manifests\" (an index) and \"layers\""},
    {"neither manifests nor layers", "{'schemaVersion': 2}", NULL, CT_ERR_INVALID_ARGUMENT,
     "it is neither an index nor an image manifest"},
    {"schemaVersion 1", "{'schemaVersion': 1, 'name': 'x', 'tag': 'latest', 'fsLayers': []}", NULL,
     CT_ERR_UNSUPPORTED, "schemaVersion 1 (Docker's deprecated schema 1) is not supported"},
    {"fetched as schema 1", oci_manifest_untyped, DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED,
     CT_ERR_UNSUPPORTED,
     "fetched as \"" DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED "\" is Docker's deprecated schema 1"},
    {"declares schema 1", "{'schemaVersion': 1, 'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST_V1 "'}",
     NULL, CT_ERR_UNSUPPORTED, "deprecated schema 1"},
    {"schemaVersion 3", "{'schemaVersion': 3, " OCI_MANIFEST_BODY "}", NULL,
     CT_ERR_INVALID_ARGUMENT, "schemaVersion must be 2, got 3"},
    {"schemaVersion missing", "{" OCI_MANIFEST_BODY "}", NULL, CT_ERR_INVALID_ARGUMENT,
     "missing required field \"schemaVersion\""},
    {"schemaVersion as a string", "{'schemaVersion': '2', " OCI_MANIFEST_BODY "}", NULL,
     CT_ERR_INVALID_ARGUMENT, "\"schemaVersion\" must be an integer, got string"},
    {"mediaType not a string", "{'schemaVersion': 2, 'mediaType': 5, " OCI_MANIFEST_BODY "}", NULL,
     CT_ERR_INVALID_ARGUMENT, "\"mediaType\" must be a string, got integer"},
    {"unknown document mediaType",
     "{'schemaVersion': 2, 'mediaType': 'application/json', " OCI_MANIFEST_BODY "}", NULL,
     CT_ERR_UNSUPPORTED, "mediaType \"application/json\" is not a manifest or index media type"},
    {"fetched as something else", oci_manifest, "application/octet-stream", CT_ERR_UNSUPPORTED,
     "fetched as \"application/octet-stream\" is not a manifest or index media type"},
    {"not JSON", "{'schemaVersion': 2,", NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid image manifest: not valid JSON (line 1"},
    {"not an object", "[1, 2]", NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid image manifest: expected a JSON object, got array"},
    {"duplicate keys", "{'schemaVersion': 2, 'schemaVersion': 2, " OCI_MANIFEST_BODY "}", NULL,
     CT_ERR_INVALID_ARGUMENT, "duplicate object key"},
    {"missing config", "{'schemaVersion': 2, 'layers': []}", OCI_MEDIA_TYPE_MANIFEST,
     CT_ERR_INVALID_ARGUMENT, "invalid image manifest: missing required field \"config\""},
    {"missing layers", "{'schemaVersion': 2, " CONFIG_DESC "}", OCI_MEDIA_TYPE_MANIFEST,
     CT_ERR_INVALID_ARGUMENT, "missing required field \"layers\""},
    {"layers is an object", "{'schemaVersion': 2, " CONFIG_DESC ", 'layers': {}}", NULL,
     CT_ERR_INVALID_ARGUMENT, "\"layers\" must be an array, got object"},
    {"config is a string", MANIFEST_WITH_CONFIG("'" DIGEST_C "'"), NULL, CT_ERR_INVALID_ARGUMENT,
     "config: a descriptor must be an object, got string"},
    {"config without digest",
     MANIFEST_WITH_CONFIG("{'mediaType': '" OCI_MEDIA_TYPE_CONFIG "', 'size': 2}"), NULL,
     CT_ERR_INVALID_ARGUMENT, "config: missing required field \"digest\""},
    {"config without size",
     MANIFEST_WITH_CONFIG("{'mediaType': '" OCI_MEDIA_TYPE_CONFIG "', 'digest': '" DIGEST_C "'}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "config: missing required field \"size\""},
    {"config without mediaType", MANIFEST_WITH_CONFIG("{'digest': '" DIGEST_C "', 'size': 2}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "config: missing required field \"mediaType\""},
    {"config of an artifact",
     MANIFEST_WITH_CONFIG("{'mediaType': 'application/vnd.cncf.helm.config.v1+json', "
			  "'digest': '" DIGEST_C "', 'size': 2}"),
     NULL, CT_ERR_UNSUPPORTED,
     "config media type \"application/vnd.cncf.helm.config.v1+json\" is not an image config"},
    {"size as a string",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': '123'}"),
     NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid image manifest: layers[0]: \"size\" must be an integer, got string"},
    {"size with a fraction",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': 1.5}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "layers[0]: \"size\" must be an integer, got real number"},
    {"negative size",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': -1}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "layers[0]: \"size\" must not be negative, got -1"},
    {"size too large for JSON integers",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': 99999999999999999999}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "not valid JSON"},
    {"size null",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': null}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "layers[0]: missing required field \"size\""},
    {"short layer digest",
     "{'schemaVersion': 2, " CONFIG_DESC ", 'layers': ["
     "{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A "', 'size': 1},"
     "{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': 'sha256:abc', 'size': 1}]}",
     NULL, CT_ERR_INVALID_ARGUMENT,
     "layers[1]: invalid digest \"sha256:abc\": sha256 needs 64 hex digits, got 3"},
    {"uppercase layer digest",
     MANIFEST_WITH_LAYER(
	 "{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP
	 "', 'digest': 'sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', "
	 "'size': 1}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "lowercase hex"},
    {"layer digest as a number",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': 5, 'size': 1}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "layers[0]: \"digest\" must be a string, got integer"},
    {"config digest with an unsupported algorithm",
     MANIFEST_WITH_CONFIG("{'mediaType': '" OCI_MEDIA_TYPE_CONFIG
			  "', 'digest': 'md5:d41d8cd98f00b204e9800998ecf8427e', 'size': 2}"),
     NULL, CT_ERR_UNSUPPORTED, "config: unsupported digest algorithm \"md5\""},
    {"unknown layer media type",
     MANIFEST_WITH_LAYER("{'mediaType': 'application/vnd.oci.image.layer.v1.tar+lz4', "
			 "'digest': '" DIGEST_A "', 'size': 1}"),
     NULL, CT_ERR_UNSUPPORTED,
     "layers[0]: unsupported layer media type \"application/vnd.oci.image.layer.v1.tar+lz4\""},
    {"encrypted layer",
     MANIFEST_WITH_LAYER("{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted', "
			 "'digest': '" DIGEST_A "', 'size': 1}"),
     NULL, CT_ERR_UNSUPPORTED, "tar+gzip+encrypted\""},
    {"malformed descriptor media type",
     MANIFEST_WITH_LAYER("{'mediaType': 'layer', 'digest': '" DIGEST_A "', 'size': 1}"), NULL,
     CT_ERR_INVALID_ARGUMENT, "\"mediaType\" \"layer\" is not a media type"},
    {"urls not an array",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': 1, 'urls': 'https://x'}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"urls\" must be an array of strings, got string"},
    {"urls holding a number",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': 1, 'urls': ['https://x', 7]}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"urls\"[1] must be a string, got integer"},
    {"annotation value not a string",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': 1, 'annotations': {'a': true}}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"annotations\".\"a\" must be a string, got boolean"},
    {"manifest annotations not an object",
     "{'schemaVersion': 2, " CONFIG_DESC ", 'layers': [], 'annotations': 'x'}", NULL,
     CT_ERR_INVALID_ARGUMENT, "\"annotations\" must be an object of strings, got string"},
    {"data not a string",
     MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP "', 'digest': '" DIGEST_A
			 "', 'size': 1, 'data': 5}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"data\" must be a base64 string, got integer"},
};

static void test_manifest_failure(void **state)
{
	const struct failing_case *c = *state;

	assert_manifest_fails(c->json, c->media_type, c->code, c->message);
}

static void test_unknown_fields_ignored(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};

	assert_int_equal(parse_manifest("{'schemaVersion': 2, 'future': {'x': [1]}, " CONFIG_DESC
					", 'layers': [{'mediaType': '" OCI_MEDIA_TYPE_LAYER
					"', 'digest': '" DIGEST_A "', 'size': 1, 'newField': 3}]}",
					NULL, &m, &err),
			 0);
	assert_int_equal(m.n_layers, 1);
	oci_manifest_free(&m);
}

static void test_kind(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	enum oci_manifest_kind kind;
	char *json;

	json = json_fixture(oci_index);
	assert_int_equal(oci_manifest_kind(json, strlen(json), OCI_MEDIA_TYPE_INDEX, &kind, &err),
			 0);
	assert_int_equal(kind, OCI_MANIFEST_KIND_INDEX);
	assert_failure(
	    oci_manifest_kind(json, strlen(json), DOCKER_MEDIA_TYPE_MANIFEST, &kind, &err), &err,
	    CT_ERR_INVALID_ARGUMENT,
	    "invalid manifest: fetched as " DOCKER_MEDIA_TYPE_MANIFEST
	    " but the document's mediaType is " OCI_MEDIA_TYPE_INDEX);
	free(json);

	json = json_fixture(oci_manifest_untyped);
	assert_int_equal(oci_manifest_kind(json, strlen(json), NULL, &kind, &err), 0);
	assert_int_equal(kind, OCI_MANIFEST_KIND_IMAGE);
	free(json);

	json = json_fixture(docker_manifest_list);
	assert_int_equal(oci_manifest_kind(json, strlen(json), NULL, &kind, &err), 0);
	assert_int_equal(kind, OCI_MANIFEST_KIND_INDEX);
	free(json);
	ct_error_clear(&err);
}

/* ---- indexes ---- */

static void test_oci_index(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_index idx = {0};

	if (parse_index(oci_index, OCI_MEDIA_TYPE_INDEX, &idx, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(idx.media_type, OCI_MEDIA_TYPE_INDEX);
	assert_int_equal(idx.n_manifests, 4);
	assert_string_equal(idx.manifests[0].digest, DIGEST_A);
	assert_int_equal(idx.manifests[0].size, 1000);
	assert_string_equal(idx.manifests[0].platform->os, "linux");
	assert_string_equal(idx.manifests[0].platform->architecture, "amd64");
	assert_null(idx.manifests[0].platform->variant);
	assert_string_equal(idx.manifests[1].platform->variant, "v8");
	assert_string_equal(idx.manifests[2].platform->architecture, "arm");
	assert_string_equal(oci_map_get(&idx.manifests[3].annotations, "vnd.docker.reference.type"),
			    "attestation-manifest");
	assert_string_equal(oci_map_get(&idx.annotations, "org.opencontainers.image.ref.name"),
			    "1.0");
	oci_manifest_index_free(&idx);
	assert_null(idx.manifests);
}

static void test_docker_manifest_list(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_index idx = {0};

	if (parse_index(docker_manifest_list, DOCKER_MEDIA_TYPE_MANIFEST_LIST, &idx, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(idx.media_type, DOCKER_MEDIA_TYPE_MANIFEST_LIST);
	assert_int_equal(idx.n_manifests, 3);
	assert_string_equal(idx.manifests[2].platform->os, "windows");
	assert_string_equal(idx.manifests[2].platform->os_version, "10.0.17763.5206");
	assert_string_equal(idx.manifests[1].media_type, DOCKER_MEDIA_TYPE_MANIFEST);
	oci_manifest_index_free(&idx);
}

static void test_index_platform_normalised(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_index idx = {0};

	assert_int_equal(
	    parse_index("{'schemaVersion': 2, 'manifests': [{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
			"', 'digest': '" DIGEST_A
			"', 'size': 1, " PLATFORM("Linux", "x86_64") "}]}",
			NULL, &idx, &err),
	    0);
	assert_string_equal(idx.media_type, OCI_MEDIA_TYPE_INDEX);
	assert_string_equal(idx.manifests[0].platform->os, "linux");
	assert_string_equal(idx.manifests[0].platform->architecture, "amd64");
	oci_manifest_index_free(&idx);
}

#define INDEX_WITH(entry) "{'schemaVersion': 2, 'manifests': [" entry "]}"

static const struct failing_case index_failures[] = {
    {"lying mediaType: docker list fetched as OCI index", docker_manifest_list,
     OCI_MEDIA_TYPE_INDEX, CT_ERR_INVALID_ARGUMENT,
     "invalid index: fetched as " OCI_MEDIA_TYPE_INDEX
     " but the document's mediaType is " DOCKER_MEDIA_TYPE_MANIFEST_LIST},
    {"lying mediaType: index fetched as a manifest", oci_index, OCI_MEDIA_TYPE_MANIFEST,
     CT_ERR_INVALID_ARGUMENT,
     "fetched as " OCI_MEDIA_TYPE_MANIFEST
     " but the document's mediaType is " OCI_MEDIA_TYPE_INDEX},
    {"lying shape: untyped index fetched as a manifest",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1}"),
     DOCKER_MEDIA_TYPE_MANIFEST, CT_ERR_INVALID_ARGUMENT,
     "fetched as " DOCKER_MEDIA_TYPE_MANIFEST
     " but the document has \"manifests\", so it is an index"},
    {"lying mediaType: declares a manifest, has manifests",
     "{'schemaVersion': 2, 'mediaType': '" DOCKER_MEDIA_TYPE_MANIFEST "', 'manifests': []}", NULL,
     CT_ERR_INVALID_ARGUMENT,
     "the document's mediaType is " DOCKER_MEDIA_TYPE_MANIFEST
     " but the document has \"manifests\", so it is an index"},
    {"a manifest given to the index parser", oci_manifest, NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid index: " OCI_MEDIA_TYPE_MANIFEST " is an image manifest, not an index"},
    {"schemaVersion 1", "{'schemaVersion': 1, 'manifests': []}", NULL, CT_ERR_UNSUPPORTED,
     "schemaVersion 1"},
    {"schemaVersion as a real", "{'schemaVersion': 2.0, 'manifests': []}", NULL,
     CT_ERR_INVALID_ARGUMENT, "\"schemaVersion\" must be an integer, got real number"},
    {"manifests not an array", "{'schemaVersion': 2, 'manifests': 'x'}", NULL,
     CT_ERR_INVALID_ARGUMENT, "\"manifests\" must be an array, got string"},
    {"manifests null",
     "{'schemaVersion': 2, 'mediaType': '" OCI_MEDIA_TYPE_INDEX "', 'manifests': null}", NULL,
     CT_ERR_INVALID_ARGUMENT, "missing required field \"manifests\""},
    {"entry with a negative size",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1}, {'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_B
		"', 'size': -5}"),
     NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid index: manifests[1]: \"size\" must not be negative, got -5"},
    {"entry with a bad digest",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': 'sha256:', 'size': 1}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "manifests[0]: invalid digest \"sha256:\""},
    {"platform without os",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1, 'platform': {'architecture': 'amd64'}}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "manifests[0]: platform: missing required field \"os\""},
    {"platform architecture as a number",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1, 'platform': {'os': 'linux', 'architecture': 64}}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "platform: \"architecture\" must be a string, got integer"},
    {"platform as a string",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1, 'platform': 'linux/amd64'}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"platform\" must be an object, got string"},
    {"platform with empty os",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1, 'platform': {'os': '', 'architecture': 'amd64'}}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"architecture\" and \"os\" must not be empty"},
    {"os.features not strings",
     INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
		"', 'size': 1, 'platform': {'os': 'windows', 'architecture': 'amd64', "
		"'os.features': [1]}}"),
     NULL, CT_ERR_INVALID_ARGUMENT, "\"os.features\"[0] must be a string, got integer"},
    {"index annotations not an object",
     "{'schemaVersion': 2, 'manifests': [], 'annotations': ['a']}", NULL, CT_ERR_INVALID_ARGUMENT,
     "\"annotations\" must be an object of strings, got array"},
};

static void test_index_failure(void **state)
{
	const struct failing_case *c = *state;

	assert_index_fails(c->json, c->media_type, c->code, c->message);
}

/* ---- selection ---- */

static const struct oci_descriptor *select_in(const struct oci_index *idx, const char *platform,
					      struct ct_error *err, int *rc)
{
	const struct oci_descriptor *desc = NULL;
	struct oci_platform p = {0};

	assert_int_equal(oci_platform_parse(platform, &p, err), 0);
	*rc = oci_manifest_index_select(idx, &p, &desc, err);
	oci_platform_free(&p);
	return desc;
}

static void test_select(void **state)
{
	static const struct {
		const char *platform;
		const char *digest;
	} cases[] = {
	    {"linux/amd64", DIGEST_A},	  {"linux/x86_64", DIGEST_A},  {"linux/arm64", DIGEST_B},
	    {"linux/arm64/v8", DIGEST_B}, {"linux/aarch64", DIGEST_B}, {"linux/arm/v7", DIGEST_C},
	    {"linux/armhf", DIGEST_C},	  {"linux/arm", DIGEST_C},
	};
	struct ct_error err = CT_ERROR_INIT;
	struct oci_index idx = {0};

	assert_int_equal(parse_index(oci_index, NULL, &idx, &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;
		const struct oci_descriptor *desc = select_in(&idx, cases[i].platform, &err, &rc);

		if (rc < 0)
			fail_msg("%s: %s", cases[i].platform, ct_error_message(&err));
		if (strcmp(desc->digest, cases[i].digest) != 0)
			fail_msg("%s selected %s, expected %s", cases[i].platform, desc->digest,
				 cases[i].digest);
		/* The result points into the index. */
		assert_true(desc >= idx.manifests && desc < idx.manifests + idx.n_manifests);
	}
	oci_manifest_index_free(&idx);
}

static void test_select_no_match(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	const struct oci_descriptor *desc;
	struct oci_index idx = {0};
	int rc;

	assert_int_equal(parse_index(oci_index, NULL, &idx, &err), 0);
	desc = select_in(&idx, "linux/s390x", &err, &rc);
	assert_null(desc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND,
		       "no image for platform linux/s390x in the index (it has: linux/amd64, "
		       "linux/arm64/v8, linux/arm/v7); choose one of those with --platform");
	/* The attestation is neither offered nor selectable. */
	assert_null(strstr(ct_error_message(&err), "unknown"));
	desc = select_in(&idx, "unknown/unknown", &err, &rc);
	assert_null(desc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND, "no image for platform unknown/unknown");
	/* A variant the index does not have. */
	desc = select_in(&idx, "linux/arm/v6", &err, &rc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND, "no image for platform linux/arm/v6");
	desc = select_in(&idx, "windows/amd64", &err, &rc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND, "no image for platform windows/amd64");
	oci_manifest_index_free(&idx);
	ct_error_clear(&err);
}

static void test_select_prefers_exact_variant(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	const struct oci_descriptor *desc;
	struct oci_index idx = {0};
	int rc;

	assert_int_equal(
	    parse_index(
		INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
			   "', 'size': 1, " PLATFORM_V(
			       "linux", "amd64",
			       "v3") "},"
				     "{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
				     "', 'digest': '" DIGEST_B "', 'size': 1, " PLATFORM(
					 "linux", "amd64") "},"
							   "{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
							   "', 'digest': '" DIGEST_C
							   "', 'size': 1, " PLATFORM("linux",
										     "amd64") "}"),
		NULL, &idx, &err),
	    0);
	desc = select_in(&idx, "linux/amd64", &err, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(desc->digest, DIGEST_B);
	desc = select_in(&idx, "linux/amd64/v3", &err, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(desc->digest, DIGEST_A);
	/* v2 has no exact entry: the first that matches through an absent variant. */
	desc = select_in(&idx, "linux/amd64/v2", &err, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(desc->digest, DIGEST_B);
	oci_manifest_index_free(&idx);
}

static void test_select_without_platforms(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	const struct oci_descriptor *desc;
	struct oci_index idx = {0};
	int rc;

	/* An entry without a platform is taken when nothing matches better. */
	assert_int_equal(parse_index(INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
						"', 'digest': '" DIGEST_A "', 'size': 1},"
						"{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
						"', 'digest': '" DIGEST_B
						"', 'size': 1, " PLATFORM("linux", "riscv64") "}"),
				     NULL, &idx, &err),
			 0);
	desc = select_in(&idx, "linux/riscv64", &err, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(desc->digest, DIGEST_B);
	desc = select_in(&idx, "linux/amd64", &err, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(desc->digest, DIGEST_A);
	oci_manifest_index_free(&idx);

	/* Nested indexes and artifacts are not images to run. */
	assert_int_equal(
	    parse_index(
		INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_INDEX "', 'digest': '" DIGEST_A
			   "', 'size': 1, " PLATFORM(
			       "linux", "amd64") "},"
						 "{'mediaType': 'application/vnd.example.sbom', "
						 "'digest': '" DIGEST_B "', 'size': 1}"),
		NULL, &idx, &err),
	    0);
	desc = select_in(&idx, "linux/amd64", &err, &rc);
	assert_null(desc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND, "(it has: none)");
	oci_manifest_index_free(&idx);

	/* An empty index. */
	assert_int_equal(parse_index("{'schemaVersion': 2, 'manifests': []}", NULL, &idx, &err), 0);
	assert_int_equal(idx.n_manifests, 0);
	desc = select_in(&idx, "linux/amd64", &err, &rc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND, "(it has: none)");
	oci_manifest_index_free(&idx);
	ct_error_clear(&err);
}

static void test_select_lists_each_platform_once(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	const struct oci_descriptor *desc;
	struct oci_index idx = {0};
	int rc;

	assert_int_equal(
	    parse_index(
		INDEX_WITH("{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST "', 'digest': '" DIGEST_A
			   "', 'size': 1, " PLATFORM(
			       "linux",
			       "arm64") "},"
					"{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
					"', 'digest': '" DIGEST_B "', 'size': 1, " PLATFORM_V(
					    "linux", "arm",
					    "v6") "},"
						  "{'mediaType': '" OCI_MEDIA_TYPE_MANIFEST
						  "', 'digest': '" DIGEST_C
						  "', 'size': 1, " PLATFORM("linux", "arm64") "}"),
		NULL, &idx, &err),
	    0);
	desc = select_in(&idx, "linux/ppc64le", &err, &rc);
	assert_null(desc);
	assert_failure(rc, &err, CT_ERR_NOT_FOUND, "(it has: linux/arm64, linux/arm/v6);");
	oci_manifest_index_free(&idx);
	ct_error_clear(&err);
}

static void test_select_host_default(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	const struct oci_descriptor *by_default = NULL, *explicit = NULL;
	struct oci_platform host = {0};
	struct oci_index idx = {0};
	int rc_default, rc_explicit;

	assert_int_equal(parse_index(docker_manifest_list, NULL, &idx, &err), 0);
	assert_int_equal(oci_platform_host(&host, &err), 0);
	rc_default = oci_manifest_index_select(&idx, NULL, &by_default, &err);
	rc_explicit = oci_manifest_index_select(&idx, &host, &explicit, &err);
	assert_int_equal(rc_default, rc_explicit);
	assert_ptr_equal(by_default, explicit);
	if (strcmp(host.architecture, "amd64") == 0) {
		assert_int_equal(rc_default, 0);
		assert_string_equal(by_default->digest, DIGEST_A);
	} else if (strcmp(host.architecture, "arm64") == 0) {
		assert_int_equal(rc_default, 0);
		assert_string_equal(by_default->digest, DIGEST_B);
	}
	oci_platform_free(&host);
	oci_manifest_index_free(&idx);
	ct_error_clear(&err);
}

/* ---- manifest and config together ---- */

static void test_check_config(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_manifest m = {0};
	struct oci_image_config config = {0};
	char *json = json_fixture(docker_config);

	assert_int_equal(
	    oci_config_parse(json, strlen(json), DOCKER_MEDIA_TYPE_CONFIG, &config, &err), 0);
	free(json);
	assert_int_equal(config.n_diff_ids, 3);

	assert_int_equal(parse_manifest(docker_manifest, NULL, &m, &err), 0);
	assert_int_equal(oci_manifest_check_config(&m, &config, &err), 0);
	oci_manifest_free(&m);

	assert_int_equal(
	    parse_manifest(MANIFEST_WITH_LAYER("{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP
					       "', 'digest': '" DIGEST_A "', 'size': 1},"
					       "{'mediaType': '" OCI_MEDIA_TYPE_LAYER_GZIP
					       "', 'digest': '" DIGEST_B "', 'size': 1}"),
			   NULL, &m, &err),
	    0);
	assert_int_equal(m.n_layers, 2);
	assert_failure(oci_manifest_check_config(&m, &config, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "image config lists 3 layer diff_ids but the manifest has 2 layers");
	oci_manifest_free(&m);

	assert_int_equal(parse_manifest(MANIFEST_WITH_LAYER(""), NULL, &m, &err), 0);
	assert_failure(oci_manifest_check_config(&m, &config, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "lists 3 layer diff_ids but the manifest has 0 layers");
	oci_manifest_free(&m);
	oci_config_free(&config);
	ct_error_clear(&err);
}

static void test_media_types(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	enum oci_compression compression = OCI_COMPRESSION_ZSTD;
	bool nondistributable = true;

	assert_true(oci_media_type_is_index(OCI_MEDIA_TYPE_INDEX));
	assert_true(oci_media_type_is_index(DOCKER_MEDIA_TYPE_MANIFEST_LIST));
	assert_false(oci_media_type_is_index(OCI_MEDIA_TYPE_MANIFEST));
	assert_true(oci_media_type_is_manifest(DOCKER_MEDIA_TYPE_MANIFEST));
	assert_false(oci_media_type_is_manifest(DOCKER_MEDIA_TYPE_MANIFEST_V1));
	assert_true(oci_media_type_is_config(OCI_MEDIA_TYPE_CONFIG));
	assert_true(oci_media_type_is_config(DOCKER_MEDIA_TYPE_CONFIG));
	assert_false(oci_media_type_is_config(OCI_MEDIA_TYPE_EMPTY));
	assert_true(oci_media_type_equal("Application/VND.OCI.image.index.v1+json; x=y",
					 OCI_MEDIA_TYPE_INDEX));
	assert_false(oci_media_type_equal(OCI_MEDIA_TYPE_INDEX "x", OCI_MEDIA_TYPE_INDEX));
	assert_false(oci_media_type_equal(NULL, OCI_MEDIA_TYPE_INDEX));

	assert_int_equal(
	    oci_media_type_layer(OCI_MEDIA_TYPE_LAYER, &compression, &nondistributable, &err), 0);
	assert_int_equal(compression, OCI_COMPRESSION_NONE);
	assert_false(nondistributable);
	assert_int_equal(oci_media_type_layer(OCI_MEDIA_TYPE_LAYER_ND_ZSTD, &compression,
					      &nondistributable, &err),
			 0);
	assert_int_equal(compression, OCI_COMPRESSION_ZSTD);
	assert_true(nondistributable);
	assert_int_equal(oci_media_type_layer(DOCKER_MEDIA_TYPE_LAYER_GZIP, &compression,
					      &nondistributable, &err),
			 0);
	assert_int_equal(compression, OCI_COMPRESSION_GZIP);
	assert_false(nondistributable);
	assert_failure(oci_media_type_layer(OCI_MEDIA_TYPE_CONFIG, &compression, NULL, &err), &err,
		       CT_ERR_UNSUPPORTED,
		       "unsupported layer media type \"" OCI_MEDIA_TYPE_CONFIG "\"");
	assert_string_equal(oci_compression_name(OCI_COMPRESSION_GZIP), "gzip");
	assert_string_equal(oci_compression_name(OCI_COMPRESSION_ZSTD), "zstd");
	assert_string_equal(oci_compression_name(OCI_COMPRESSION_NONE), "none");
	assert_non_null(strstr(OCI_MEDIA_ACCEPT_MANIFESTS, DOCKER_MEDIA_TYPE_MANIFEST_LIST));
	ct_error_clear(&err);
}

static void test_media_type_essence(void **state)
{
	char *s = oci_media_type_essence("  " OCI_MEDIA_TYPE_INDEX " ; charset=utf-8");

	assert_string_equal(s, OCI_MEDIA_TYPE_INDEX);
	free(s);
	s = oci_media_type_essence(OCI_MEDIA_TYPE_CONFIG);
	assert_string_equal(s, OCI_MEDIA_TYPE_CONFIG);
	free(s);
	s = oci_media_type_essence("; x");
	assert_string_equal(s, "");
	free(s);
}

/* Every truncation of a valid document is refused with a message, and damaged bytes never
 * crash the parsers (the sanitizer build turns a memory error into a failure here). */
static void test_damaged_documents(void **state)
{
	const char *fixtures[] = {oci_manifest, docker_manifest, oci_index, docker_manifest_list};
	unsigned int seed = 12345;

	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		char *json = json_fixture(fixtures[f]);
		size_t len = strlen(json);

		for (size_t cut = 0; cut < len; cut++) {
			struct ct_error err = CT_ERROR_INIT;
			struct oci_manifest m = {0};
			struct oci_index idx = {0};

			assert_int_equal(oci_manifest_parse(json, cut, NULL, &m, &err), -1);
			assert_non_null(err.message);
			assert_int_equal(oci_manifest_index_parse(json, cut, NULL, &idx, &err), -1);
			assert_non_null(err.message);
			ct_error_clear(&err);
		}
		for (int round = 0; round < 2000; round++) {
			struct ct_error err = CT_ERROR_INIT;
			struct oci_manifest m = {0};
			struct oci_index idx = {0};
			char *copy = strdup(json);
			size_t pos;

			assert_non_null(copy);
			seed = seed * 1103515245 + 12345;
			pos = (seed >> 8) % len;
			seed = seed * 1103515245 + 12345;
			copy[pos] = (char)(" \"{}[]:,0-9aZ\\\x01\xff"[(seed >> 8) % 17]);
			if (oci_manifest_parse(copy, len, NULL, &m, &err) == 0)
				oci_manifest_free(&m);
			if (oci_manifest_index_parse(copy, len, NULL, &idx, &err) == 0)
				oci_manifest_index_free(&idx);
			ct_error_clear(&err);
			free(copy);
		}
		free(json);
	}
}

int main(void)
{
	struct test_list list = {0};

	test_list_add(&list, test_oci_manifest, NULL, "OCI image manifest");
	test_list_add(&list, test_docker_manifest, NULL, "Docker schema 2 manifest, foreign layer");
	test_list_add(&list, test_manifest_type_from_document, NULL,
		      "type from the document or its shape");
	test_list_add(&list, test_content_type_parameters, NULL, "Content-Type parameters");
	test_list_add(&list, test_manifest_with_subject, NULL, "subject descriptor");
	test_list_add(&list, test_empty_layers, NULL, "empty layers");
	test_list_add(&list, test_unknown_fields_ignored, NULL, "unknown fields are ignored");
	for (size_t i = 0; i < sizeof(manifest_failures) / sizeof(manifest_failures[0]); i++)
		test_list_add(&list, test_manifest_failure, &manifest_failures[i],
			      "manifest refused: %s", manifest_failures[i].name);
	test_list_add(&list, test_kind, NULL, "document kind");
	test_list_add(&list, test_oci_index, NULL, "OCI index");
	test_list_add(&list, test_docker_manifest_list, NULL, "Docker manifest list");
	test_list_add(&list, test_index_platform_normalised, NULL, "index platforms normalised");
	for (size_t i = 0; i < sizeof(index_failures) / sizeof(index_failures[0]); i++)
		test_list_add(&list, test_index_failure, &index_failures[i], "index refused: %s",
			      index_failures[i].name);
	test_list_add(&list, test_select, NULL, "select by platform");
	test_list_add(&list, test_select_no_match, NULL, "select without a match");
	test_list_add(&list, test_select_prefers_exact_variant, NULL,
		      "select prefers an exact variant");
	test_list_add(&list, test_select_without_platforms, NULL, "select without platforms");
	test_list_add(&list, test_select_lists_each_platform_once, NULL,
		      "no-match message lists each platform once");
	test_list_add(&list, test_select_host_default, NULL, "select for the host by default");
	test_list_add(&list, test_check_config, NULL, "diff_ids against layers");
	test_list_add(&list, test_media_types, NULL, "media types and compression");
	test_list_add(&list, test_media_type_essence, NULL, "media type without parameters");
	test_list_add(&list, test_damaged_documents, NULL, "truncated and damaged documents");
	return test_list_run(&list, "oci-manifest");
}
