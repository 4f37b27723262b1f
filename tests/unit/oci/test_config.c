#include "oci-test.h"

#include "oci/config.h"
#include "oci/media.h"

/* A config as docker writes it, with the nulls Go emits and a field this parser does not
 * know (Healthcheck) that must stay readable through the kept json_t. */
static const char full_config[] =
    "{'architecture': 'arm64', 'variant': 'v8', 'os': 'linux',"
    " 'created': '2024-01-02T03:04:05.123456789Z', 'author': 'Jane <jane@example.com>',"
    " 'config': {"
    "   'User': '1000:1000',"
    "   'Env': ['PATH=/usr/local/bin:/usr/bin', 'LANG=C.UTF-8'],"
    "   'Entrypoint': ['/docker-entrypoint.sh'],"
    "   'Cmd': ['nginx', '-g', 'daemon off;'],"
    "   'WorkingDir': '/srv',"
    "   'Labels': {'maintainer': 'NGINX <docker-maint@nginx.com>', 'version': '1.25'},"
    "   'StopSignal': 'SIGQUIT',"
    "   'ExposedPorts': {'80/tcp': {}, '443/tcp': {}, '53/udp': {}},"
    "   'Volumes': {'/data': {}},"
    "   'Healthcheck': {'Test': ['CMD', 'true'], 'Interval': 30000000000},"
    "   'OnBuild': null"
    " },"
    " 'rootfs': {'type': 'layers', 'diff_ids': ['" DIGEST_0 "', '" DIGEST_1 "']},"
    " 'history': ["
    "   {'created': '2024-01-01T00:00:00Z', 'created_by': '/bin/sh -c #(nop) ADD file:x in /'},"
    "   {'created': '2024-01-01T00:00:01Z', 'created_by': 'CMD [\\'sh\\']',"
    "    'empty_layer': true, 'comment': 'buildkit.dockerfile.v0'},"
    "   {'author': 'Jane', 'created_by': 'RUN make'}"
    " ]}";

static int parse(const char *fixture, const char *media_type, struct oci_image_config *out,
		 struct ct_error *err)
{
	char *json = json_fixture(fixture);
	int rc = oci_config_parse(json, strlen(json), media_type, out, err);

	free(json);
	return rc;
}

static void test_full_config(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_image_config c = {0};
	const struct oci_exec_config *x = &c.config;
	json_t *health;

	if (parse(full_config, DOCKER_MEDIA_TYPE_CONFIG, &c, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(c.architecture, "arm64");
	assert_string_equal(c.variant, "v8");
	assert_string_equal(c.os, "linux");
	assert_null(c.os_version);
	assert_string_equal(c.created, "2024-01-02T03:04:05.123456789Z");
	assert_string_equal(c.author, "Jane <jane@example.com>");

	assert_string_equal(x->user, "1000:1000");
	assert_int_equal(oci_strv_length(x->env), 2);
	assert_string_equal(x->env[0], "PATH=/usr/local/bin:/usr/bin");
	assert_string_equal(x->env[1], "LANG=C.UTF-8");
	assert_null(x->env[2]);
	assert_int_equal(oci_strv_length(x->entrypoint), 1);
	assert_string_equal(x->entrypoint[0], "/docker-entrypoint.sh");
	assert_int_equal(oci_strv_length(x->cmd), 3);
	assert_string_equal(x->cmd[2], "daemon off;");
	assert_string_equal(x->working_dir, "/srv");
	assert_int_equal(x->labels.n, 2);
	assert_string_equal(oci_map_get(&x->labels, "version"), "1.25");
	assert_string_equal(x->labels.entries[0].key, "maintainer");
	assert_string_equal(x->stop_signal, "SIGQUIT");
	assert_int_equal(oci_strv_length(x->exposed_ports), 3);
	assert_string_equal(x->exposed_ports[0], "80/tcp");
	assert_string_equal(x->exposed_ports[2], "53/udp");
	assert_int_equal(oci_strv_length(x->volumes), 1);
	assert_string_equal(x->volumes[0], "/data");

	assert_int_equal(c.n_diff_ids, 2);
	assert_string_equal(c.diff_ids[0], DIGEST_0);
	assert_string_equal(c.diff_ids[1], DIGEST_1);
	assert_null(c.diff_ids[2]);

	assert_int_equal(c.n_history, 3);
	assert_false(c.history[0].empty_layer);
	assert_string_equal(c.history[0].created_by, "/bin/sh -c #(nop) ADD file:x in /");
	assert_true(c.history[1].empty_layer);
	assert_string_equal(c.history[1].comment, "buildkit.dockerfile.v0");
	assert_string_equal(c.history[1].created_by, "CMD [\"sh\"]");
	assert_null(c.history[2].created);
	assert_string_equal(c.history[2].author, "Jane");

	/* What the parser does not model is still there for the runtime. */
	assert_non_null(c.json);
	health = json_object_get(json_object_get(c.json, "config"), "Healthcheck");
	assert_true(json_is_object(health));
	assert_int_equal(json_integer_value(json_object_get(health, "Interval")), 30000000000LL);

	oci_config_free(&c);
	assert_null(c.json);
	assert_null(c.diff_ids);
}

static void test_minimal_config_with_nulls(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_image_config c = {0};

	/* Go writes absent slices and maps as null; they mean "not set". */
	assert_int_equal(parse("{'architecture': 'amd64', 'os': 'linux',"
			       " 'config': {'Env': null, 'Entrypoint': null, 'Cmd': null,"
			       "            'Labels': null, 'ExposedPorts': null, 'User': ''},"
			       " 'rootfs': {'type': 'layers', 'diff_ids': []},"
			       " 'history': null}",
			       OCI_MEDIA_TYPE_CONFIG, &c, &err),
			 0);
	assert_null(c.config.env);
	assert_null(c.config.entrypoint);
	assert_null(c.config.cmd);
	assert_int_equal(c.config.labels.n, 0);
	assert_null(c.config.exposed_ports);
	assert_string_equal(c.config.user, "");
	assert_int_equal(c.n_diff_ids, 0);
	assert_non_null(c.diff_ids);
	assert_int_equal(c.n_history, 0);
	oci_config_free(&c);

	/* No "config" at all, and "config": null. */
	assert_int_equal(parse("{'architecture': 'amd64', 'os': 'linux',"
			       " 'rootfs': {'type': 'layers', 'diff_ids': ['" DIGEST_A "']}}",
			       NULL, &c, &err),
			 0);
	assert_null(c.config.cmd);
	assert_int_equal(c.n_diff_ids, 1);
	oci_config_free(&c);
	assert_int_equal(parse("{'architecture': 'amd64', 'os': 'linux', 'config': null,"
			       " 'rootfs': {'type': 'layers', 'diff_ids': []}}",
			       NULL, &c, &err),
			 0);
	oci_config_free(&c);
	/* Empty lists stay empty lists, not absent. */
	assert_int_equal(
	    parse("{'architecture': 'amd64', 'os': 'linux', 'config': {'Entrypoint': []},"
		  " 'rootfs': {'type': 'layers', 'diff_ids': []}}",
		  NULL, &c, &err),
	    0);
	assert_non_null(c.config.entrypoint);
	assert_int_equal(oci_strv_length(c.config.entrypoint), 0);
	oci_config_free(&c);
}

static void test_config_platform(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_image_config c = {0};
	struct oci_platform p = {0};

	assert_int_equal(parse("{'architecture': 'aarch64', 'os': 'linux', 'variant': '8',"
			       " 'rootfs': {'type': 'layers', 'diff_ids': []}}",
			       NULL, &c, &err),
			 0);
	assert_int_equal(oci_config_platform(&c, &p, &err), 0);
	assert_string_equal(p.architecture, "arm64");
	assert_string_equal(p.variant, "v8");
	assert_string_equal(p.os, "linux");
	/* The config keeps what it says. */
	assert_string_equal(c.architecture, "aarch64");
	oci_platform_free(&p);
	oci_config_free(&c);
}

struct failing_case {
	const char *name;
	const char *json;
	const char *media_type;
	const char *message;
	const char *code; /* NULL: CT_ERR_INVALID_ARGUMENT */
};

#define ROOTFS	   "'rootfs': {'type': 'layers', 'diff_ids': []}"
#define PLATFORM   "'architecture': 'amd64', 'os': 'linux'"
#define WITH(exec) "{" PLATFORM ", 'config': " exec ", " ROOTFS "}"

static const struct failing_case failures[] = {
    {"fetched as a manifest type", full_config, OCI_MEDIA_TYPE_MANIFEST,
     "invalid image config: media type \"" OCI_MEDIA_TYPE_MANIFEST "\" is not an image config type",
     NULL},
    {"fetched as a layer type", full_config, DOCKER_MEDIA_TYPE_LAYER_GZIP,
     "is not an image config type", NULL},
    {"not JSON", "{'architecture': ", NULL, "invalid image config: not valid JSON", NULL},
    {"a string", "'amd64'", NULL, "invalid image config: expected a JSON object, got string", NULL},
    {"missing rootfs", "{" PLATFORM "}", NULL,
     "invalid image config: missing required field \"rootfs\"", NULL},
    {"rootfs null", "{" PLATFORM ", 'rootfs': null}", NULL, "missing required field \"rootfs\"",
     NULL},
    {"rootfs a list", "{" PLATFORM ", 'rootfs': []}", NULL,
     "\"rootfs\" must be an object, got array", NULL},
    {"rootfs without type", "{" PLATFORM ", 'rootfs': {'diff_ids': []}}", NULL,
     "rootfs: missing required field \"type\"", NULL},
    {"rootfs of another type", "{" PLATFORM ", 'rootfs': {'type': 'tarball', 'diff_ids': []}}",
     NULL, "rootfs: \"type\" must be \"layers\", got \"tarball\"", NULL},
    {"diff_ids missing", "{" PLATFORM ", 'rootfs': {'type': 'layers'}}", NULL,
     "rootfs: \"diff_ids\" must be an array of digests, got nothing", NULL},
    {"diff_ids a string",
     "{" PLATFORM ", 'rootfs': {'type': 'layers', 'diff_ids': '" DIGEST_A "'}}", NULL,
     "rootfs: \"diff_ids\" must be an array of digests, got string", NULL},
    {"diff_id not a string", "{" PLATFORM ", 'rootfs': {'type': 'layers', 'diff_ids': [1]}}", NULL,
     "rootfs: \"diff_ids\"[0] must be a string, got integer", NULL},
    {"diff_id malformed",
     "{" PLATFORM ", 'rootfs': {'type': 'layers', 'diff_ids': ['" DIGEST_A "', 'sha256:12']}}",
     NULL, "rootfs: diff_ids[1]: invalid digest \"sha256:12\": sha256 needs 64 hex digits, got 2",
     NULL},
    {"diff_id of an unsupported algorithm",
     "{" PLATFORM ", 'rootfs': {'type': 'layers', 'diff_ids': ['sha1:abcd']}}", NULL,
     "invalid image config: rootfs: diff_ids[0]: unsupported digest algorithm \"sha1\"",
     CT_ERR_UNSUPPORTED},
    {"missing architecture", "{'os': 'linux', " ROOTFS "}", NULL,
     "missing required field \"architecture\"", NULL},
    {"missing os", "{'architecture': 'amd64', " ROOTFS "}", NULL, "missing required field \"os\"",
     NULL},
    {"empty os", "{'architecture': 'amd64', 'os': '', " ROOTFS "}", NULL,
     "\"architecture\" and \"os\" must not be empty", NULL},
    {"architecture a number", "{'architecture': 64, 'os': 'linux', " ROOTFS "}", NULL,
     "\"architecture\" must be a string, got integer", NULL},
    {"created a number", "{" PLATFORM ", 'created': 1700000000, " ROOTFS "}", NULL,
     "\"created\" must be a string, got integer", NULL},
    {"config a list", WITH("[]"), NULL, "\"config\" must be an object, got array", NULL},
    {"Env a string", WITH("{'Env': 'PATH=/bin'}"), NULL,
     "config: \"Env\" must be an array of strings, got string", NULL},
    {"Env with a number", WITH("{'Env': ['A=1', 2]}"), NULL,
     "config: \"Env\"[1] must be a string, got integer", NULL},
    {"Cmd a string", WITH("{'Cmd': 'sh'}"), NULL, "config: \"Cmd\" must be an array of strings",
     NULL},
    {"Entrypoint with null", WITH("{'Entrypoint': ['sh', null]}"), NULL,
     "config: \"Entrypoint\"[1] must be a string, got null", NULL},
    {"User a number", WITH("{'User': 0}"), NULL, "config: \"User\" must be a string, got integer",
     NULL},
    {"WorkingDir a bool", WITH("{'WorkingDir': true}"), NULL,
     "config: \"WorkingDir\" must be a string, got boolean", NULL},
    {"Labels a list", WITH("{'Labels': ['a=b']}"), NULL,
     "config: \"Labels\" must be an object of strings, got array", NULL},
    {"Label value a number", WITH("{'Labels': {'a': 1}}"), NULL,
     "config: \"Labels\".\"a\" must be a string, got integer", NULL},
    {"StopSignal a number", WITH("{'StopSignal': 15}"), NULL,
     "config: \"StopSignal\" must be a string, got integer", NULL},
    {"ExposedPorts a list", WITH("{'ExposedPorts': ['80/tcp']}"), NULL,
     "config: \"ExposedPorts\" must be an object, got array", NULL},
    {"ExposedPorts value a string", WITH("{'ExposedPorts': {'80/tcp': ''}}"), NULL,
     "config: \"ExposedPorts\".\"80/tcp\" must be an object, got string", NULL},
    {"Volumes value null", WITH("{'Volumes': {'/data': null}}"), NULL,
     "config: \"Volumes\".\"/data\" must be an object, got null", NULL},
    {"history an object", "{" PLATFORM ", " ROOTFS ", 'history': {}}", NULL,
     "\"history\" must be an array, got object", NULL},
    {"history entry a string", "{" PLATFORM ", " ROOTFS ", 'history': [{}, 'x']}", NULL,
     "history[1] must be an object, got string", NULL},
    {"empty_layer a string", "{" PLATFORM ", " ROOTFS ", 'history': [{'empty_layer': 'true'}]}",
     NULL, "history[0]: \"empty_layer\" must be true or false, got string", NULL},
    {"duplicate keys", "{" PLATFORM ", 'os': 'windows', " ROOTFS "}", NULL, "duplicate object key",
     NULL},
};

static void test_failure(void **state)
{
	const struct failing_case *c = *state;
	struct ct_error err = CT_ERROR_INIT;
	struct oci_image_config config = {0};

	assert_failure(parse(c->json, c->media_type, &config, &err), &err,
		       c->code ? c->code : CT_ERR_INVALID_ARGUMENT, c->message);
	assert_null(config.json);
	assert_null(config.architecture);
	ct_error_clear(&err);
}

int main(void)
{
	struct test_list list = {0};

	test_list_add(&list, test_full_config, NULL, "docker config with every field");
	test_list_add(&list, test_minimal_config_with_nulls, NULL, "minimal config, nulls");
	test_list_add(&list, test_config_platform, NULL, "platform of a config");
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++)
		test_list_add(&list, test_failure, &failures[i], "config refused: %s",
			      failures[i].name);
	return test_list_run(&list, "oci-config");
}
