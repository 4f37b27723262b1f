/* Unit tests of src/apiserver/spec_builder.c: the OCI spec built from a create
 * request body, and the bodies it must refuse rather than crash or overflow on
 * (found by tests/fuzz/fuzz_body.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/apiserver/spec_builder.h"
#include "error.h"

/* spec_builder.c's one call into etc_files.c, whose other half needs the state
 * database: the /etc bind mounts are not what these tests look at. */
json_t *etc_files_mounts(const char *bundle, json_t *options);
json_t *etc_files_mounts(const char *bundle, json_t *options)
{
	(void)bundle;
	(void)options;
	return json_array();
}

/* spec_build for body (JSON text) over an image whose Cmd is /bin/sh; NULL with
 * err set when it refuses. */
static json_t *build(const char *body, struct ct_error *err)
{
	json_t *options = json_loads(body, 0, NULL);
	json_t *image =
	    json_pack("{s:{s:[s], s:[s]}}", "config", "Env", "PATH=/bin", "Cmd", "/bin/sh");
	json_t *snapshots = json_pack("[s]", "/var/lib/container/snapshots/a");
	struct spec_inputs in = {
	    .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    .name = "web",
	    .bundle = "/var/lib/container/containers/0123456789ab",
	    .image_config = image,
	    .snapshots = snapshots,
	    .options = options,
	};

	assert_non_null(options);
	json_t *spec = spec_build(&in, err);
	json_decref(options);
	json_decref(image);
	json_decref(snapshots);
	return spec;
}

static void refused(const char *body, const char *needle)
{
	struct ct_error err = CT_ERROR_INIT;

	assert_null(build(body, &err));
	assert_string_equal(err.code, CT_ERR_INVALID_ARGUMENT);
	if (!strstr(ct_error_message(&err), needle))
		fail_msg("%s: \"%s\" lacks \"%s\"", body, ct_error_message(&err), needle);
	ct_error_clear(&err);
}

static void test_spec_limits(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *spec = build("{\"memory\":268435456,\"cpus\":1.5,\"capDrop\":[\"ALL\"],"
			     "\"capAdd\":[\"net_admin\"]}",
			     &err);

	(void)state;
	assert_non_null(spec);
	json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")),
	    2 * 268435456LL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")),
			 150000);
	json_t *caps = json_object_get(
	    json_object_get(json_object_get(spec, "process"), "capabilities"), "bounding");
	assert_int_equal(json_array_size(caps), 1);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "CAP_NET_ADMIN");
	json_decref(spec);
}

/* fuzz_body: a capability that is not a string reached strcasecmp as NULL (a
 * segfault of the API server on `{"image":"a","capDrop":[1]}`). */
static void test_spec_caps_not_strings(void **state)
{
	(void)state;
	refused("{\"capDrop\":[1]}", "capDrop[0] must be a capability name, not an integer");
	refused("{\"capAdd\":[\"NET_ADMIN\",null]}", "capAdd[1] must be a capability name");
	refused("{\"capAdd\":[{}],\"capDrop\":[\"ALL\"]}", "capAdd[0]");
	refused("{\"capAdd\":[\"NOT_A_CAP\"]}", "unknown capability NOT_A_CAP");
}

/* fuzz_body: memory+swap (twice the limit) and the CPU quota (cpus times the
 * period) overflowed the spec's 64-bit integers. */
static void test_spec_limits_overflow(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *spec;

	(void)state;
	refused("{\"memory\":9223372036854775807}", "--memory 9223372036854775807");
	refused("{\"memory\":4611686018427387904}", "at most 4611686018427387903 bytes");
	refused("{\"cpus\":1e300}", "--cpus 1e+300");
	refused("{\"cpus\":92233720368547.76}", "--cpus");
	spec = build("{\"memory\":4611686018427387903,\"cpus\":1024}", &err);
	assert_non_null(spec);
	json_decref(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_limits),
	    cmocka_unit_test(test_spec_caps_not_strings),
	    cmocka_unit_test(test_spec_limits_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
