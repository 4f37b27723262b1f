/* Unit tests of src/lib/config.c: the property validators and the merging of the
 * system and user config files. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "config.h"
#include "error.h"
#include "json_util.h"
#include "util.h"


static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

static void test_defs(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	size_t n = 0;
	const struct ct_property_def *defs = ct_property_defs(&n);

	assert_int_equal(n, 5);
	assert_string_equal(defs[3].key, "image.unpack.maxBytes");
	assert_string_equal(defs[3].default_value, "68719476736");
	assert_string_equal(defs[4].key, "image.unpack.maxEntries");
	assert_string_equal(defs[4].default_value, "2097152");
	assert_string_equal(defs[0].key, "dns.domain");
	assert_string_equal(defs[0].default_value, "test");
	assert_string_equal(defs[1].key, "network.subnet");
	assert_string_equal(defs[1].default_value, "192.168.64.0/24");
	assert_string_equal(defs[2].key, "registry.domain");
	assert_string_equal(defs[2].default_value, "docker.io");
	for (size_t i = 0; i < n; i++) {
		/* Every default passes its own validator, and every key is found. */
		if (ct_property_validate(defs[i].key, defs[i].default_value, &err) < 0)
			fail_msg("default of %s: %s", defs[i].key, ct_error_message(&err));
		assert_ptr_equal(ct_property_find(defs[i].key), &defs[i]);
		assert_non_null(defs[i].description);
		assert_true(strlen(defs[i].description) > 0);
	}
	assert_null(ct_property_find("dns"));
	assert_null(ct_property_find("DNS.DOMAIN"));
	assert_null(ct_property_find(""));
	/* The limits take positive whole numbers only. */
	assert_int_equal(ct_property_validate("image.unpack.maxEntries", "0", &err), -1);
	ct_error_clear(&err);
	assert_int_equal(ct_property_validate("image.unpack.maxBytes", "-5", &err), -1);
	ct_error_clear(&err);
	assert_int_equal(ct_property_validate("image.unpack.maxBytes", "12x", &err), -1);
}

struct value_case {
	const char *key;
	const char *value;
	const char *needle; /* NULL: valid */
};

static char label63[64], label64[65], domain253[254], domain254[255];

static void make_long_values(void)
{
	memset(label63, 'a', 63);
	memset(label64, 'b', 64);
	/* 4 labels of 63 with 3 dots = 255; trim to 253 and 254. */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s.%s.%s.%s", label63, label63, label63, label63);
	memcpy(domain253, buf, 253);
	memcpy(domain254, buf, 254);
}

static const struct value_case value_cases[] = {
    /* dns.domain */
    {"dns.domain", "test", NULL},
    {"dns.domain", "containers.internal", NULL},
    {"dns.domain", "a", NULL},
    {"dns.domain", "a-b.c-d", NULL},
    {"dns.domain", "x1.2y.Z3", NULL},
    {"dns.domain", label63, NULL},
    {"dns.domain", domain253, NULL},
    {"dns.domain", "", "not a valid DNS domain"},
    {"dns.domain", ".", "not a valid DNS domain"},
    {"dns.domain", "a..b", "\"a..b\" is not a valid DNS domain"},
    {"dns.domain", ".a", "not a valid DNS domain"},
    {"dns.domain", "a.", "not a valid DNS domain"},
    {"dns.domain", "my_domain", "\"my_domain\" is not a valid DNS domain"},
    {"dns.domain", "a.b_c", "not a valid DNS domain"},
    {"dns.domain", "-a", "not a valid DNS domain"},
    {"dns.domain", "a.-b", "not a valid DNS domain"},
    {"dns.domain", "a-", "not a valid DNS domain"},
    {"dns.domain", "a.b-", "not a valid DNS domain"},
    {"dns.domain", "a b", "not a valid DNS domain"},
    {"dns.domain", "a/b", "not a valid DNS domain"},
    {"dns.domain", "caf\xc3\xa9", "not a valid DNS domain"},
    {"dns.domain", label64, "not a valid DNS domain"},
    {"dns.domain", domain254, "not a valid DNS domain"},
    /* network.subnet */
    {"network.subnet", "192.168.64.0/24", NULL},
    {"network.subnet", "10.0.0.0/8", NULL},
    {"network.subnet", "172.16.0.0/12", NULL},
    {"network.subnet", "10.1.2.4/30", NULL},
    {"network.subnet", "10.1.2.0/23", NULL},
    {"network.subnet", "10.1.3.0/23", "has host bits set"},
    {"network.subnet", "192.168.64.1/24", "\"192.168.64.1/24\" has host bits set"},
    {"network.subnet", "10.1.2.5/30", "has host bits set"},
    {"network.subnet", "10.0.0.0/31", "prefix from /8 to /30"},
    {"network.subnet", "10.0.0.0/32", "prefix from /8 to /30"},
    {"network.subnet", "10.0.0.0/7", "prefix from /8 to /30"},
    {"network.subnet", "10.0.0.0/0", "prefix from /8 to /30"},
    {"network.subnet", "10.0.0.0/-8", "not an IPv4 subnet"},
    {"network.subnet", "10.0.0.0", "not an IPv4 subnet"},
    {"network.subnet", "10.0.0.0/", "not an IPv4 subnet"},
    {"network.subnet", "10.0.0.0/x", "not an IPv4 subnet"},
    {"network.subnet", "10.0.0.0/24x", "not an IPv4 subnet"},
    {"network.subnet", "300.1.1.0/24", "not an IPv4 subnet"},
    {"network.subnet", "10.0.0/24", "not an IPv4 subnet"},
    {"network.subnet", "1.2.3.4.5/24", "not an IPv4 subnet"},
    {"network.subnet", "fd00::/64", "not an IPv4 subnet"},
    {"network.subnet", "192.168.064.000000000/24", "not an IPv4 subnet"},
    {"network.subnet", "/24", "not an IPv4 subnet"},
    {"network.subnet", "", "not an IPv4 subnet"},
    {"network.subnet", "example.com/24", "not an IPv4 subnet"},
    /* registry.domain */
    {"registry.domain", "docker.io", NULL},
    {"registry.domain", "localhost:5000", NULL},
    {"registry.domain", "registry.example.com:443", NULL},
    {"registry.domain", "127.0.0.1:5000", NULL},
    {"registry.domain", "a:1", NULL},
    {"registry.domain", "a:65535", NULL},
    {"registry.domain", "", "not a registry host"},
    {"registry.domain", ":5000", "not a registry host"},
    {"registry.domain", "localhost", NULL},
    {"registry.domain", "reg", "not a registry host"},
    {"registry.domain", "host:", "\"host:\" is not a registry host"},
    {"registry.domain", "host:0", "not a registry host"},
    {"registry.domain", "host:65536", "not a registry host"},
    {"registry.domain", "host:-1", "not a registry host"},
    {"registry.domain", "host:abc", "not a registry host"},
    {"registry.domain", "host:50x", "not a registry host"},
    {"registry.domain", "a:b:5000", "not a registry host"},
    {"registry.domain", "ho st", "not a registry host"},
    {"registry.domain", "host/path", "not a registry host"},
    {"registry.domain", "user@host", "not a registry host"},
    {"registry.domain", "https://docker.io", "not a registry host"},
    {"registry.domain", "ho_st:5000", "not a registry host"},
};

static void test_value(void **state)
{
	const struct value_case *c = *state;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	int rc = ct_property_validate(c->key, c->value, &err);

	if (!c->needle) {
		if (rc != 0)
			fail_msg("%s=\"%s\" refused: %s", c->key, c->value, ct_error_message(&err));
		return;
	}
	if (rc == 0)
		fail_msg("%s=\"%s\" accepted", c->key, c->value);
	assert_failure(rc, &err, CT_ERR_INVALID_ARGUMENT, c->needle);
	/* The message names the property, then says what a good value looks like. */
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "property %s: ", c->key);
	assert_true(ct_str_has_prefix(ct_error_message(&err), prefix));
}

static void test_valid_value_examples(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	/* The examples the error messages suggest are valid themselves. */
	assert_failure(ct_property_validate("network.subnet", "x", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "such as 192.168.64.0/24");
	assert_int_equal(ct_property_validate("network.subnet", "192.168.64.0/24", &err), 0);
	assert_failure(ct_property_validate("dns.domain", "_", &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "such as \"test\" or \"containers.internal\"");
	assert_failure(ct_property_validate("registry.domain", "_", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "such as docker.io or localhost:5000");
}

/* Regression (was a bug): config.c validate_domain only refuses a '-' at the very end of the whole
 * value (value[len - 1]); a label ending in '-' before a dot ("a-.test") is
 * accepted although RFC 1123 host names may not end a label with '-'. */
static void test_domain_label_trailing_hyphen(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	assert_failure(ct_property_validate("dns.domain", "a-.test", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not a valid DNS domain");
	assert_failure(ct_property_validate("dns.domain", "foo-.bar.baz", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not a valid DNS domain");
}

/* Regression (was a bug): the subnet prefix and the registry port are read with strtol, which
 * skips leading white space and takes a sign, so "10.0.0.0/ 8", "10.0.0.0/+24"
 * and "localhost: 5000" / "localhost:+5000" are accepted and stored verbatim,
 * although none is CIDR or host:port. */
static void test_numbers_strictly_digits(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	assert_failure(ct_property_validate("network.subnet", "10.0.0.0/ 8", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not an IPv4 subnet");
	assert_failure(ct_property_validate("network.subnet", "10.0.0.0/+24", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not an IPv4 subnet");
	assert_failure(ct_property_validate("registry.domain", "localhost: 5000", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not a registry host");
	assert_failure(ct_property_validate("registry.domain", "localhost:+5000", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not a registry host");
}

static void test_unknown_key(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	assert_failure(ct_property_validate("dns.domian", "test", &err), &err, CT_ERR_NOT_FOUND,
		       "unknown property \"dns.domian\"");
	assert_non_null(
	    strstr(ct_error_message(&err), "known: dns.domain, network.subnet, registry.domain"));
	assert_failure(ct_property_validate("", "x", &err), &err, CT_ERR_NOT_FOUND,
		       "unknown property \"\"");
}

/* The config files */

static char *tmp_root;
static char *warnings[16];
static size_t nwarnings;

static void record_warning(const char *message)
{
	assert_true(nwarnings < ARRAY_SIZE(warnings));
	warnings[nwarnings++] = xstrdup(message);
}

static void clear_warnings(void)
{
	for (size_t i = 0; i < nwarnings; i++)
		free(warnings[i]);
	nwarnings = 0;
}

/* The warning that contains all the needles, or a failure listing them all. */
static const char *find_warning(const char *a, const char *b)
{
	for (size_t i = 0; i < nwarnings; i++)
		if (strstr(warnings[i], a) && (!b || strstr(warnings[i], b)))
			return warnings[i];
	for (size_t i = 0; i < nwarnings; i++)
		fprintf(stderr, "# warning: %s\n", warnings[i]);
	fail_msg("no warning with \"%s\" and \"%s\"", a, b ? b : "");
	return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *system_path(void)
{
	return xasprintf("%s/system.json", tmp_root);
}

static char *user_path(void)
{
	return xasprintf("%s/xdg/container/config.json", tmp_root);
}

static int setup_files(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	tmp_root = xstrdup("/tmp/ct-test-config-XXXXXX");
	if (!mkdtemp(tmp_root))
		return -1;
	_cleanup_free_ char *sys = system_path();
	_cleanup_free_ char *xdg = xasprintf("%s/xdg", tmp_root);
	_cleanup_free_ char *user_dir = xasprintf("%s/xdg/container", tmp_root);
	if (ct_mkdir_p(user_dir, 0755, &err) < 0)
		return -1;
	setenv("CONTAINER_SYSTEM_CONFIG", sys, 1);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	clear_warnings();
	return 0;
}

static int teardown_files(void **state)
{
	nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp_root);
	tmp_root = NULL;
	unsetenv("CONTAINER_SYSTEM_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	clear_warnings();
	return 0;
}

static void write_json(const char *path, const char *text)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *t = xstrdup(text);

	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (ct_write_file_atomic(path, t, strlen(t), 0644, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
}

static void assert_property(json_t *props, const char *key, const char *value, const char *source)
{
	json_t *p = json_object_get(props, key);

	if (!p)
		fail_msg("property %s missing", key);
	assert_int_equal(json_object_size(p), 2);
	assert_string_equal(json_string_value(json_object_get(p, "value")), value);
	assert_string_equal(json_string_value(json_object_get(p, "source")), source);
}

static void test_paths_from_environment(void **state)
{
	_cleanup_free_ char *sys = system_path();
	_cleanup_free_ char *user = user_path();
	_cleanup_free_ char *got = ct_config_user_path();

	assert_string_equal(ct_config_system_path(), sys);
	assert_string_equal(got, user);

	/* Unset or empty: the defaults. */
	setenv("CONTAINER_SYSTEM_CONFIG", "", 1);
	assert_string_equal(ct_config_system_path(), "/etc/container/config.json");
	unsetenv("CONTAINER_SYSTEM_CONFIG");
	assert_string_equal(ct_config_system_path(), "/etc/container/config.json");

	const char *old_home = getenv("HOME");
	_cleanup_free_ char *saved_home = old_home ? xstrdup(old_home) : NULL;
	setenv("HOME", "/home/someone", 1);
	setenv("XDG_CONFIG_HOME", "", 1);
	_cleanup_free_ char *home_based = ct_config_user_path();
	assert_string_equal(home_based, "/home/someone/.config/container/config.json");
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
}

static void test_missing_files(void **state)
{
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);

	assert_non_null(props);
	assert_true(json_is_object(props));
	assert_int_equal(json_object_size(props), 0);
	/* Absent files are normal: no warning. */
	assert_int_equal(nwarnings, 0);
}

static void test_user_overrides_system(void **state)
{
	_cleanup_free_ char *sys = system_path();
	_cleanup_free_ char *user = user_path();

	write_json(sys, "{'dns.domain': 'sys.example', 'network.subnet': '10.0.0.0/16'}");
	write_json(user, "{'dns.domain': 'user.example', 'registry.domain': 'localhost:5000'}");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(nwarnings, 0);
	assert_int_equal(json_object_size(props), 3);
	assert_property(props, "dns.domain", "user.example", user);
	assert_property(props, "network.subnet", "10.0.0.0/16", sys);
	assert_property(props, "registry.domain", "localhost:5000", user);
}

static void test_only_one_file(void **state)
{
	_cleanup_free_ char *user = user_path();

	write_json(user, "{'registry.domain': 'r.example:444'}");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(nwarnings, 0);
	assert_int_equal(json_object_size(props), 1);
	assert_property(props, "registry.domain", "r.example:444", user);
}

static void test_bad_entries_warned_and_left_out(void **state)
{
	_cleanup_free_ char *sys = system_path();
	_cleanup_free_ char *user = user_path();

	write_json(sys, "{'dns.domain': 'bad_domain', 'network.subnet': 24, "
			"'bogus.key': 'x', 'registry.domain': 'ok.example'}");
	/* An invalid user value does not clobber a valid system one. */
	write_json(user, "{'registry.domain': 'no spaces', 'network.subnet': '10.0.0.0/24'}");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);

	assert_int_equal(json_object_size(props), 2);
	assert_property(props, "registry.domain", "ok.example", sys);
	assert_property(props, "network.subnet", "10.0.0.0/24", user);
	assert_null(json_object_get(props, "dns.domain"));
	assert_null(json_object_get(props, "bogus.key"));

	assert_int_equal(nwarnings, 4);
	/* Each warning names the file and the key, and says the entry was ignored. */
	const char *w = find_warning(sys, "bad_domain");
	assert_non_null(strstr(w, "property dns.domain"));
	assert_non_null(strstr(w, "ignored"));
	w = find_warning(sys, "\"network.subnet\" must be a string");
	assert_non_null(strstr(w, "ignored"));
	w = find_warning(sys, "unknown property \"bogus.key\"");
	assert_non_null(strstr(w, "ignored"));
	w = find_warning(user, "property registry.domain");
	assert_non_null(strstr(w, "ignored"));
}

static void test_non_string_values(void **state)
{
	_cleanup_free_ char *sys = system_path();

	write_json(sys, "{'dns.domain': null, 'network.subnet': ['10.0.0.0/8'], "
			"'registry.domain': {'host': 'x'}}");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(json_object_size(props), 0);
	assert_int_equal(nwarnings, 3);
	find_warning("\"dns.domain\" must be a string", sys);
	find_warning("\"network.subnet\" must be a string", sys);
	find_warning("\"registry.domain\" must be a string", sys);
}

static void test_malformed_json_warned(void **state)
{
	_cleanup_free_ char *sys = system_path();
	_cleanup_free_ char *user = user_path();

	write_json(sys, "{'dns.domain': 'a',");
	write_json(user, "['dns.domain']");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(json_object_size(props), 0);
	assert_int_equal(nwarnings, 2);
	find_warning(sys, "malformed JSON");
	find_warning(user, "must be a JSON object");
	/* Nothing from a broken file is used, not even the part before the error. */
	assert_null(json_object_get(props, "dns.domain"));
}

/* Regression (was a bug): config.c merge_file reports a file that is valid JSON but not an object
 * as "not a JSON object (wrong type, line -1); ignored": jerr is only filled in
 * by a parse failure, so its line is jansson's initial -1. */
static void test_not_object_message(void **state)
{

	_cleanup_free_ char *sys = system_path();

	write_json(sys, "['dns.domain']");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(nwarnings, 1);
	if (strstr(warnings[0], "line -1"))
		fail_msg("warning with a bogus line number: %s", warnings[0]);
}

static void test_duplicate_keys_warned(void **state)
{
	_cleanup_free_ char *sys = system_path();

	write_json(sys, "{'dns.domain': 'a', 'dns.domain': 'b'}");
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(json_object_size(props), 0);
	assert_int_equal(nwarnings, 1);
	find_warning(sys, "duplicate");
}

static void test_unreadable_path_warned(void **state)
{
	_cleanup_free_ char *sys = system_path();

	/* A folder where the file should be: reading fails, which is worth a warning
	 * (unlike a missing file). */
	assert_int_equal(mkdir(sys, 0755), 0);
	_cleanup_json_ json_t *props = ct_config_load_files(record_warning);
	assert_int_equal(json_object_size(props), 0);
	assert_int_equal(nwarnings, 1);
	find_warning(sys, NULL);
}

static void test_null_warn_callback(void **state)
{
	_cleanup_free_ char *sys = system_path();
	_cleanup_free_ char *user = user_path();

	write_json(sys, "{'dns.domain': 'bad_domain', 'network.subnet': 1, 'x': 'y', "
			"'registry.domain': 'ok.example'}");
	write_json(user, "not json");
	_cleanup_json_ json_t *props = ct_config_load_files(NULL);
	assert_int_equal(json_object_size(props), 1);
	assert_property(props, "registry.domain", "ok.example", sys);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(value_cases) + 32];
	char names[ARRAY_SIZE(value_cases)][96];
	size_t n = 0;

	make_long_values();
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defs);
	for (size_t i = 0; i < ARRAY_SIZE(value_cases); i++) {
		snprintf(names[i], sizeof(names[i]), "%s %s=\"%.40s\"",
			 value_cases[i].needle ? "refuses" : "accepts", value_cases[i].key,
			 value_cases[i].value);
		tests[n++] = (struct CMUnitTest){.name = names[i],
						 .test_func = test_value,
						 .initial_state = (void *)&value_cases[i]};
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_valid_value_examples);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_domain_label_trailing_hyphen);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_numbers_strictly_digits);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unknown_key);
#define FILE_TEST(f)                                                                               \
	(struct CMUnitTest) cmocka_unit_test_setup_teardown(f, setup_files, teardown_files)
	tests[n++] = FILE_TEST(test_paths_from_environment);
	tests[n++] = FILE_TEST(test_missing_files);
	tests[n++] = FILE_TEST(test_user_overrides_system);
	tests[n++] = FILE_TEST(test_only_one_file);
	tests[n++] = FILE_TEST(test_bad_entries_warned_and_left_out);
	tests[n++] = FILE_TEST(test_non_string_values);
	tests[n++] = FILE_TEST(test_malformed_json_warned);
	tests[n++] =
	    (struct CMUnitTest){.name = "test_not_object_message",
				.test_func = test_not_object_message,
				.setup_func = setup_files,
				.teardown_func = teardown_files};
	tests[n++] = FILE_TEST(test_duplicate_keys_warned);
	tests[n++] = FILE_TEST(test_unreadable_path_warned);
	tests[n++] = FILE_TEST(test_null_warn_callback);
	return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
