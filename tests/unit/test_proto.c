/* Unit tests of src/lib/proto.c: the shapes of the four messages and
 * ct_msg_parse's classification and type checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "json_util.h"
#include "proto.h"

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

/* Compares a message with the JSON text it should equal exactly. */
static void assert_json(json_t *got, const char *expect_text)
{
	json_error_t jerr;
	_cleanup_json_ json_t *expect = json_loads(expect_text, 0, &jerr);

	if (!expect)
		fail_msg("bad fixture %s: %s", expect_text, jerr.text);
	assert_non_null(got);
	if (!json_equal(got, expect)) {
		char *s = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(stderr, "# got %s, expected %s\n", s, expect_text);
		free(s);
		fail();
	}
}

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!j)
		fail_msg("bad fixture %s: %s", text, jerr.text);
	return j;
}

static void test_request_shape(void **state)
{
	_cleanup_json_ json_t *a =
	    ct_msg_request("container.create", 7, json_pack("{s:s}", "n", "x"));
	_cleanup_json_ json_t *b = ct_msg_request("ping", 8, NULL);
	_cleanup_json_ json_t *c = ct_msg_request("big", INT64_MAX, NULL);

	assert_json(a, "{\"route\": \"container.create\", \"id\": 7, \"body\": {\"n\": \"x\"}}");
	/* No body becomes {} so receivers always get an object. */
	assert_json(b, "{\"route\": \"ping\", \"id\": 8, \"body\": {}}");
	assert_int_equal(json_integer_value(json_object_get(c, "id")), INT64_MAX);
	assert_int_equal(json_object_size(a), 3);
}

static void test_reply_shape(void **state)
{
	_cleanup_json_ json_t *a = ct_msg_reply(7, json_pack("{s:[i]}", "items", 1));
	_cleanup_json_ json_t *b = ct_msg_reply(0, NULL);

	assert_json(a, "{\"id\": 7, \"body\": {\"items\": [1]}}");
	assert_json(b, "{\"id\": 0, \"body\": {}}");
}

static void test_progress_shape(void **state)
{
	_cleanup_json_ json_t *a = ct_msg_progress(9, json_pack("{s:i}", "done", 3));
	_cleanup_json_ json_t *b = ct_msg_progress(9, NULL);

	assert_json(a, "{\"id\": 9, \"progress\": {\"done\": 3}}");
	assert_json(b, "{\"id\": 9, \"progress\": {}}");
}

static void test_error_shape(void **state)
{
	_cleanup_json_ json_t *a = ct_msg_error(true, 7, CT_ERR_NOT_FOUND, "no such thing");
	_cleanup_json_ json_t *b = ct_msg_error(false, 7, CT_ERR_PROTOCOL, "bad frame");
	_cleanup_json_ json_t *c = ct_msg_error(true, 1, NULL, NULL);
	_cleanup_json_ json_t *d = ct_msg_error(true, 1, "", "m");

	assert_json(a, "{\"id\": 7, \"error\": {\"code\": \"notFound\", \"message\": \"no such "
		       "thing\"}}");
	/* has_id false: "id": null, present, not missing. */
	assert_json(b, "{\"id\": null, \"error\": {\"code\": \"protocol\", \"message\": \"bad "
		       "frame\"}}");
	assert_true(json_is_null(json_object_get(b, "id")));
	/* Missing code and message still make a well-formed error. */
	assert_json(c, "{\"id\": 1, \"error\": {\"code\": \"internal\", \"message\": \"unknown "
		       "error\"}}");
	assert_json(d, "{\"id\": 1, \"error\": {\"code\": \"internal\", \"message\": \"m\"}}");
}

/* What the constructors build, ct_msg_parse reads back as the same kind. */
static void test_roundtrip_through_parse(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *req = ct_msg_request("a.b", 5, json_pack("{s:i}", "x", 1));
	_cleanup_json_ json_t *rep = ct_msg_reply(5, NULL);
	_cleanup_json_ json_t *pro = ct_msg_progress(5, json_pack("{s:i}", "p", 2));
	_cleanup_json_ json_t *er = ct_msg_error(true, 5, CT_ERR_CONFLICT, "busy");
	_cleanup_json_ json_t *ern = ct_msg_error(false, 0, CT_ERR_PROTOCOL, "bad");
	struct ct_msg m;

	assert_int_equal(ct_msg_parse(req, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_REQUEST);
	assert_true(m.has_id);
	assert_int_equal(m.id, 5);
	assert_string_equal(m.route, "a.b");
	assert_ptr_equal(m.body, json_object_get(req, "body"));
	assert_int_equal(json_integer_value(json_object_get(m.body, "x")), 1);

	assert_int_equal(ct_msg_parse(rep, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_REPLY);
	assert_int_equal(m.id, 5);
	assert_true(json_is_object(m.body));
	assert_null(m.route);

	assert_int_equal(ct_msg_parse(pro, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_PROGRESS);
	assert_int_equal(m.id, 5);
	assert_int_equal(json_integer_value(json_object_get(m.body, "p")), 2);

	assert_int_equal(ct_msg_parse(er, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_ERROR);
	assert_true(m.has_id);
	assert_int_equal(m.id, 5);
	assert_string_equal(m.error_code, "conflict");
	assert_string_equal(m.error_message, "busy");

	assert_int_equal(ct_msg_parse(ern, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_ERROR);
	assert_false(m.has_id);
	assert_string_equal(m.error_code, "protocol");
}

static void test_parse_request_details(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_msg m;
	json_t *j;

	/* Body absent or null: accepted, body NULL (the server supplies {}). */
	j = load("{\"route\": \"r\", \"id\": 1}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_REQUEST);
	assert_null(m.body);
	json_decref(j);
	j = load("{\"route\": \"r\", \"id\": 1, \"body\": null}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_null(m.body);
	json_decref(j);

	/* Negative and zero ids are ids. */
	j = load("{\"route\": \"r\", \"id\": -3}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(m.id, -3);
	json_decref(j);

	/* Route of exactly CT_ROUTE_MAX characters is fine. */
	char route[CT_ROUTE_MAX + 2];
	memset(route, 'r', CT_ROUTE_MAX);
	route[CT_ROUTE_MAX] = '\0';
	j = json_pack("{s:s, s:i}", "route", route, "id", 1);
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(strlen(m.route), CT_ROUTE_MAX);
	json_decref(j);
}

struct bad_case {
	const char *text;
	const char *needle;
	bool expect_has_id; /* what out->has_id says after the failure (for error replies) */
};

static const struct bad_case bad_cases[] = {
    /* not an object */
    {"[1]", "must be a JSON object", false},
    {"\"x\"", "must be a JSON object", false},
    /* id of the wrong type */
    {"{\"route\": \"r\", \"id\": \"7\"}", "\"id\" must be an integer, not a string", false},
    {"{\"route\": \"r\", \"id\": 7.5}", "\"id\" must be an integer, not a number", false},
    {"{\"id\": true, \"body\": {}}", "\"id\" must be an integer, not a boolean", false},
    {"{\"id\": [1], \"body\": {}}", "\"id\" must be an integer, not an array", false},
    /* request: route of the wrong type, empty, too long; no id */
    {"{\"route\": 5, \"id\": 1}", "\"route\" must be a string, not an integer", true},
    {"{\"route\": null, \"id\": 1}", "\"route\" must be a string, not null", true},
    {"{\"route\": \"\", \"id\": 1}", "\"route\" must be 1 to 128 characters", true},
    {"{\"route\": \"r\"}", "request has no integer field \"id\"", false},
    {"{\"route\": \"r\", \"id\": null}", "request has no integer field \"id\"", false},
    /* request body of the wrong type */
    {"{\"route\": \"r\", \"id\": 1, \"body\": [1]}", "\"body\" must be an object, not an array",
     true},
    {"{\"route\": \"r\", \"id\": 1, \"body\": \"b\"}", "\"body\" must be an object, not a string",
     true},
    {"{\"route\": \"r\", \"id\": 1, \"body\": 3}", "\"body\" must be an object, not an integer",
     true},
    /* reply body of the wrong type */
    {"{\"id\": 1, \"body\": [1]}", "\"body\" must be an object, not an array", true},
    {"{\"id\": 1, \"body\": \"s\"}", "\"body\" must be an object, not a string", true},
    /* error without code / message, or with the wrong types */
    {"{\"id\": 1, \"error\": {\"message\": \"m\"}}", "\"code\" is missing", true},
    {"{\"id\": 1, \"error\": {\"code\": \"c\"}}", "\"message\" is missing", true},
    {"{\"id\": 1, \"error\": {}}", "malformed error reply", true},
    {"{\"id\": 1, \"error\": {\"code\": 3, \"message\": \"m\"}}", "\"code\" must be a string",
     true},
    {"{\"id\": 1, \"error\": {\"code\": \"c\", \"message\": null}}", "\"message\" must be a string",
     true},
    {"{\"id\": 1, \"error\": \"boom\"}", "malformed error reply", true},
    {"{\"id\": null, \"error\": []}", "malformed error reply", false},
    /* progress not an object */
    {"{\"id\": 1, \"progress\": [1]}", "\"progress\" must be an object, not an array", true},
    {"{\"id\": 1, \"progress\": 50}", "\"progress\" must be an object, not an integer", true},
    {"{\"id\": 1, \"progress\": null}", "\"progress\" must be an object, not null", true},
    /* nothing recognisable */
    {"{}", "neither a request, a reply, an error nor progress", false},
    {"{\"foo\": 1}", "neither a request, a reply, an error nor progress", false},
    {"{\"body\": {}}", "neither a request, a reply, an error nor progress", false},
    {"{\"id\": null}", "neither a request, a reply, an error nor progress", false},
};

static void test_parse_bad(void **state)
{
	const struct bad_case *c = *state;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *j = load(c->text);
	struct ct_msg m;

	assert_failure(ct_msg_parse(j, &m, &err), &err, CT_ERR_PROTOCOL, c->needle);
	/* The server answers a bad request with this id when it could read one. */
	assert_int_equal(m.has_id, c->expect_has_id);
	if (c->expect_has_id)
		assert_int_equal(m.id, 1);
	/* Without an error struct it still fails, and does not crash. */
	assert_int_equal(ct_msg_parse(j, &m, NULL), -1);
}

static void test_parse_route_too_long(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char route[CT_ROUTE_MAX + 2];
	struct ct_msg m;

	memset(route, 'r', CT_ROUTE_MAX + 1);
	route[CT_ROUTE_MAX + 1] = '\0';
	_cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "route", route, "id", 4);
	assert_failure(ct_msg_parse(j, &m, &err), &err, CT_ERR_PROTOCOL, "1 to 128 characters");
	assert_true(m.has_id);
	assert_int_equal(m.id, 4);
}

/* A route wins over the other keys: {"route", "error"} is a request. */
static void test_parse_classification_precedence(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_msg m;
	json_t *j;

	j = load("{\"route\": \"r\", \"id\": 1, \"error\": 5}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_REQUEST);
	json_decref(j);

	j = load("{\"id\": 2, \"error\": {\"code\": \"c\", \"message\": \"m\"}, \"progress\": {}}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_ERROR);
	json_decref(j);

	j = load("{\"id\": 3, \"progress\": {}, \"body\": {}}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_PROGRESS);
	json_decref(j);

	/* A reply needs no body. */
	j = load("{\"id\": 4}");
	assert_int_equal(ct_msg_parse(j, &m, &err), 0);
	assert_int_equal(m.kind, CT_MSG_REPLY);
	assert_null(m.body);
	json_decref(j);
}

static void test_exit_code(void **state)
{
	assert_int_equal(ct_error_exit_code(CT_ERR_INTERNAL), 125);
	assert_int_equal(ct_error_exit_code(CT_ERR_NOT_FOUND), 125);
	assert_int_equal(ct_error_exit_code("anything"), 125);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(bad_cases) + 16];
	char names[ARRAY_SIZE(bad_cases)][64];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_request_shape);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reply_shape);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_progress_shape);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_error_shape);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_roundtrip_through_parse);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_request_details);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_route_too_long);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_classification_precedence);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_exit_code);
	/* One test per bad message, so the TAP output names the one that failed. */
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		snprintf(names[i], sizeof(names[i]), "parse_bad %.50s", bad_cases[i].text);
		tests[n++] = (struct CMUnitTest){.name = names[i],
						 .test_func = test_parse_bad,
						 .initial_state = (void *)&bad_cases[i]};
	}
	return _cmocka_run_group_tests("proto", tests, n, NULL, NULL);
}
