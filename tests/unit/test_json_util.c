/* Unit tests of src/lib/json_util.c: typed getters (missing, optional, wrong
 * type, messages naming the document, the field and both types), string arrays
 * and the strict key check. */
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

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

/* One object holding a value of every type. */
static const char doc_text[] = "{\"s\": \"str\", \"i\": 42, \"neg\": -9007199254740993, "
			       "\"r\": 1.5, \"t\": true, \"f\": false, \"n\": null, "
			       "\"o\": {\"k\": 1}, \"a\": [\"x\", \"y\"], \"e\": [], "
			       "\"mixed\": [\"x\", 2, \"z\"]}";

static int setup_doc(void **state)
{
	json_error_t jerr;

	*state = json_loads(doc_text, 0, &jerr);
	return *state ? 0 : -1;
}

static int teardown_doc(void **state)
{
	json_decref(*state);
	return 0;
}

static void test_type_names(void **state)
{
	json_t *doc = *state;

	assert_string_equal(ct_json_type_name(json_object_get(doc, "o")), "an object");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "a")), "an array");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "s")), "a string");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "i")), "an integer");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "r")), "a number");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "t")), "a boolean");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "f")), "a boolean");
	assert_string_equal(ct_json_type_name(json_object_get(doc, "n")), "null");
}

static void test_get_string(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *doc = *state;
	const char *v = "default";

	assert_int_equal(ct_json_get_string(doc, "s", true, &v, "doc", &err), 0);
	assert_string_equal(v, "str");

	/* Optional and missing: success, out unchanged. */
	v = "default";
	assert_int_equal(ct_json_get_string(doc, "missing", false, &v, "doc", &err), 0);
	assert_string_equal(v, "default");

	/* Required and missing. */
	assert_failure(ct_json_get_string(doc, "missing", true, &v, "request body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "request body: field \"missing\" is missing");
	assert_string_equal(v, "default");

	/* Wrong type, required or not; out unchanged. */
	assert_failure(ct_json_get_string(doc, "i", false, &v, "request body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT,
		       "request body: field \"i\" must be a string, not an integer");
	assert_failure(ct_json_get_string(doc, "n", true, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "field \"n\" must be a string, not null");
	assert_failure(ct_json_get_string(doc, "o", true, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "must be a string, not an object");
	assert_string_equal(v, "default");
}

static void test_get_int(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *doc = *state;
	int64_t v = 7;

	assert_int_equal(ct_json_get_int(doc, "i", true, &v, "doc", &err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ct_json_get_int(doc, "neg", true, &v, "doc", &err), 0);
	assert_true(v == -9007199254740993LL);

	v = 7;
	assert_int_equal(ct_json_get_int(doc, "missing", false, &v, "doc", &err), 0);
	assert_int_equal(v, 7);
	assert_failure(ct_json_get_int(doc, "missing", true, &v, "opts", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "opts: field \"missing\" is missing");
	/* A real is not an integer, nor is a numeric string. */
	assert_failure(ct_json_get_int(doc, "r", false, &v, "opts", &err), &err,
		       CT_ERR_INVALID_ARGUMENT,
		       "opts: field \"r\" must be an integer, not a number");
	assert_failure(ct_json_get_int(doc, "s", false, &v, "opts", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "field \"s\" must be an integer, not a string");
	assert_failure(ct_json_get_int(doc, "t", false, &v, "opts", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "must be an integer, not a boolean");
	assert_int_equal(v, 7);
}

static void test_get_bool(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *doc = *state;
	bool v = false;

	assert_int_equal(ct_json_get_bool(doc, "t", true, &v, "doc", &err), 0);
	assert_true(v);
	assert_int_equal(ct_json_get_bool(doc, "f", true, &v, "doc", &err), 0);
	assert_false(v);

	v = true;
	assert_int_equal(ct_json_get_bool(doc, "missing", false, &v, "doc", &err), 0);
	assert_true(v);
	assert_failure(ct_json_get_bool(doc, "missing", true, &v, "cfg", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "cfg: field \"missing\" is missing");
	/* No truthiness: 1 and "true" are not booleans. */
	assert_failure(ct_json_get_bool(doc, "i", false, &v, "cfg", &err), &err,
		       CT_ERR_INVALID_ARGUMENT,
		       "cfg: field \"i\" must be a boolean, not an integer");
	assert_failure(ct_json_get_bool(doc, "s", false, &v, "cfg", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "must be a boolean, not a string");
	assert_failure(ct_json_get_bool(doc, "n", false, &v, "cfg", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "must be a boolean, not null");
	assert_true(v);
}

static void test_get_object(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *doc = *state;
	json_t *v = NULL;

	assert_int_equal(ct_json_get_object(doc, "o", true, &v, "doc", &err), 0);
	/* Borrowed, the very node. */
	assert_ptr_equal(v, json_object_get(doc, "o"));

	v = NULL;
	assert_int_equal(ct_json_get_object(doc, "missing", false, &v, "doc", &err), 0);
	assert_null(v);
	assert_failure(ct_json_get_object(doc, "missing", true, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "doc: field \"missing\" is missing");
	assert_failure(ct_json_get_object(doc, "a", false, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "doc: field \"a\" must be an object, not an array");
	assert_failure(ct_json_get_object(doc, "n", false, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "must be an object, not null");
	assert_null(v);
}

static void test_get_array(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *doc = *state;
	json_t *v = NULL;

	assert_int_equal(ct_json_get_array(doc, "a", true, &v, "doc", &err), 0);
	assert_ptr_equal(v, json_object_get(doc, "a"));
	assert_int_equal(ct_json_get_array(doc, "e", true, &v, "doc", &err), 0);
	assert_int_equal(json_array_size(v), 0);

	v = NULL;
	assert_int_equal(ct_json_get_array(doc, "missing", false, &v, "doc", &err), 0);
	assert_null(v);
	assert_failure(ct_json_get_array(doc, "missing", true, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "doc: field \"missing\" is missing");
	assert_failure(ct_json_get_array(doc, "o", false, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "doc: field \"o\" must be an array, not an object");
	assert_failure(ct_json_get_array(doc, "s", false, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "must be an array, not a string");
	assert_null(v);
}

static void test_get_string_array(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *doc = *state;
	char **v = NULL;

	assert_int_equal(ct_json_get_string_array(doc, "a", true, &v, "doc", &err), 0);
	assert_non_null(v);
	assert_string_equal(v[0], "x");
	assert_string_equal(v[1], "y");
	assert_null(v[2]);
	/* Copies, not borrowed. */
	assert_ptr_not_equal(v[0], json_string_value(json_array_get(json_object_get(doc, "a"), 0)));
	cleanup_strvp(&v);

	v = NULL;
	assert_int_equal(ct_json_get_string_array(doc, "e", true, &v, "doc", &err), 0);
	assert_non_null(v);
	assert_null(v[0]);
	cleanup_strvp(&v);

	v = NULL;
	assert_int_equal(ct_json_get_string_array(doc, "missing", false, &v, "doc", &err), 0);
	assert_null(v);
	assert_failure(ct_json_get_string_array(doc, "missing", true, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "doc: field \"missing\" is missing");
	assert_failure(ct_json_get_string_array(doc, "s", true, &v, "doc", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "doc: field \"s\" must be an array, not a string");
	/* A non-string item: names the index and its type, frees what it built
	 * (LeakSanitizer checks), leaves out unchanged. */
	assert_failure(ct_json_get_string_array(doc, "mixed", true, &v, "manifest", &err), &err,
		       CT_ERR_INVALID_ARGUMENT,
		       "manifest: field \"mixed\" must hold only strings, item 1 is an integer");
	assert_null(v);
}

static void test_string_array_non_string_first(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *doc = json_pack("{s:[n]}", "args");
	_cleanup_json_ json_t *doc2 = json_pack("{s:[s,s,{}]}", "args", "a", "b");
	char **v = NULL;

	assert_failure(ct_json_get_string_array(doc, "args", true, &v, "d", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "item 0 is null");
	assert_failure(ct_json_get_string_array(doc2, "args", true, &v, "d", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "item 2 is an object");
	assert_null(v);
}

/* Getters on something that is not an object: an error naming the document,
 * even for optional keys. */
static void test_getters_on_non_object(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *arr = json_array();
	const char *s = NULL;
	int64_t i = 0;
	bool b = false;
	json_t *o = NULL;
	char **v = NULL;

	assert_failure(ct_json_get_string(arr, "k", false, &s, "the body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "the body must be a JSON object");
	assert_failure(ct_json_get_int(arr, "k", false, &i, "the body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "the body must be a JSON object");
	assert_failure(ct_json_get_bool(NULL, "k", false, &b, "the body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "the body must be a JSON object");
	assert_failure(ct_json_get_object(arr, "k", true, &o, "the body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "the body must be a JSON object");
	assert_failure(ct_json_get_array(arr, "k", true, &o, "the body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "the body must be a JSON object");
	assert_failure(ct_json_get_string_array(arr, "k", false, &v, "the body", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "the body must be a JSON object");
}

static void test_check_keys(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	static const char *const allowed[] = {"name", "image", "env", NULL};
	static const char *const none[] = {NULL};
	_cleanup_json_ json_t *ok = json_pack("{s:s, s:s}", "name", "n", "image", "i");
	_cleanup_json_ json_t *empty = json_object();
	_cleanup_json_ json_t *bad = json_pack("{s:s, s:s}", "name", "n", "imgae", "i");
	_cleanup_json_ json_t *case_diff = json_pack("{s:s}", "Name", "n");

	assert_int_equal(ct_json_check_keys(ok, allowed, "create", &err), 0);
	assert_int_equal(ct_json_check_keys(empty, allowed, "create", &err), 0);
	assert_int_equal(ct_json_check_keys(empty, none, "create", &err), 0);
	assert_failure(ct_json_check_keys(bad, allowed, "create request", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "create request: unknown field \"imgae\"");
	/* Exact, case-sensitive names. */
	assert_failure(ct_json_check_keys(case_diff, allowed, "create", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "unknown field \"Name\"");
	assert_failure(ct_json_check_keys(ok, none, "create", &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "unknown field");
	/* A prefix of an allowed key is not allowed. */
	_cleanup_json_ json_t *prefix = json_pack("{s:i}", "nam", 1);
	assert_failure(ct_json_check_keys(prefix, allowed, "create", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "unknown field \"nam\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_type_names, setup_doc, teardown_doc),
	    cmocka_unit_test_setup_teardown(test_get_string, setup_doc, teardown_doc),
	    cmocka_unit_test_setup_teardown(test_get_int, setup_doc, teardown_doc),
	    cmocka_unit_test_setup_teardown(test_get_bool, setup_doc, teardown_doc),
	    cmocka_unit_test_setup_teardown(test_get_object, setup_doc, teardown_doc),
	    cmocka_unit_test_setup_teardown(test_get_array, setup_doc, teardown_doc),
	    cmocka_unit_test_setup_teardown(test_get_string_array, setup_doc, teardown_doc),
	    cmocka_unit_test(test_string_array_non_string_first),
	    cmocka_unit_test(test_getters_on_non_object),
	    cmocka_unit_test(test_check_keys),
	};

	return cmocka_run_group_tests_name("json_util", tests, NULL, NULL);
}
