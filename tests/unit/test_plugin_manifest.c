/* Unit tests of src/lib/plugin.c: strict manifest parsing, plugin names, loading
 * a plugin folder, and discovery over several folders. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "plugin.h"
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

/* Fixtures use ' for " so they stay readable. */
static char *fixture(const char *text)
{
	char *s = xstrdup(text);

	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static const char service_manifest[] =
    "{'abstract': 'Container runtime for Linux namespaces', 'author': 'Me', 'version': '1.2',"
    " 'servicesConfig': {'loadAtBoot': true, 'runAtLoad': false,"
    "   'defaultArguments': ['--flag', 'x'],"
    "   'services': [{'type': 'runtime', 'description': 'runs things',"
    "                 'routes': ['runtime', 'container.exec']},"
    "                {'type': 'auxiliary'}]}}";

static const char cli_manifest[] = "{'abstract': 'Says hello'}";

static void test_parse_service_manifest(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *text = fixture(service_manifest);
	struct ct_plugin_manifest m;

	if (ct_plugin_manifest_parse(text, "runtime-linux", "/opt/p/runtime-linux", &m, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(m.name, "runtime-linux");
	assert_string_equal(m.dir, "/opt/p/runtime-linux");
	assert_string_equal(m.binary, "/opt/p/runtime-linux/bin/runtime-linux");
	assert_null(m.resources);
	assert_string_equal(m.abstract, "Container runtime for Linux namespaces");
	assert_string_equal(m.author, "Me");
	assert_string_equal(m.version, "1.2");
	assert_true(m.is_service);
	assert_true(m.load_at_boot);
	assert_false(m.run_at_load);
	assert_non_null(m.default_args);
	assert_string_equal(m.default_args[0], "--flag");
	assert_string_equal(m.default_args[1], "x");
	assert_null(m.default_args[2]);
	assert_int_equal(m.nservices, 2);
	assert_string_equal(m.services[0].type, "runtime");
	assert_string_equal(m.services[0].description, "runs things");
	assert_non_null(m.services[0].routes);
	assert_string_equal(m.services[0].routes[0], "runtime");
	assert_string_equal(m.services[0].routes[1], "container.exec");
	assert_null(m.services[0].routes[2]);
	assert_string_equal(m.services[1].type, "auxiliary");
	assert_string_equal(m.services[1].description, "");
	assert_null(m.services[1].routes);
	ct_plugin_manifest_free(&m);
	/* free leaves it zeroed: a second free is harmless. */
	assert_null(m.name);
	assert_int_equal(m.nservices, 0);
	ct_plugin_manifest_free(&m);
	ct_plugin_manifest_free(NULL);
}

static void test_parse_minimal_service_manifest(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *text =
	    fixture("{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core'}]}}");
	struct ct_plugin_manifest m;

	assert_int_equal(ct_plugin_manifest_parse(text, "core-x", "/d", &m, &err), 0);
	assert_true(m.is_service);
	assert_false(m.load_at_boot);
	assert_false(m.run_at_load);
	assert_non_null(m.default_args);
	assert_null(m.default_args[0]);
	assert_int_equal(m.nservices, 1);
	ct_plugin_manifest_free(&m);
}

static void test_parse_cli_manifest(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *text = fixture(cli_manifest);
	struct ct_plugin_manifest m;

	assert_int_equal(ct_plugin_manifest_parse(text, "hello", "/x/hello", &m, &err), 0);
	assert_false(m.is_service);
	assert_string_equal(m.abstract, "Says hello");
	/* Optional strings default to "", not NULL. */
	assert_string_equal(m.author, "");
	assert_string_equal(m.version, "");
	assert_string_equal(m.binary, "/x/hello/bin/hello");
	assert_non_null(m.default_args);
	assert_null(m.default_args[0]);
	assert_int_equal(m.nservices, 0);
	assert_null(m.services);
	ct_plugin_manifest_free(&m);
}

struct bad_manifest {
	const char *text;
	const char *needle;
};

static const struct bad_manifest bad_manifests[] = {
    /* not JSON, not an object, duplicate keys */
    {"{'abstract': 'a',", "malformed JSON"},
    {"", "malformed JSON"},
    {"['abstract']", "the manifest must be an object"},
    {"{'abstract': 'a', 'abstract': 'b'}", "malformed JSON"},
    /* top level */
    {"{}", "manifest: field \"abstract\" is missing"},
    {"{'abstract': 'a', 'name': 'x'}", "manifest: unknown field \"name\""},
    {"{'abstract': 'a', 'ServicesConfig': {}}", "unknown field \"ServicesConfig\""},
    {"{'abstract': 5}", "field \"abstract\" must be a string, not an integer"},
    {"{'abstract': 'a', 'author': true}", "field \"author\" must be a string, not a boolean"},
    {"{'abstract': 'a', 'version': 1.0}", "field \"version\" must be a string, not a number"},
    {"{'abstract': 'a', 'servicesConfig': []}",
     "field \"servicesConfig\" must be an object, not an array"},
    {"{'abstract': 'a', 'servicesConfig': null}",
     "field \"servicesConfig\" must be an object, not null"},
    /* servicesConfig */
    {"{'abstract': 'a', 'servicesConfig': {}}", "servicesConfig: field \"services\" is missing"},
    {"{'abstract': 'a', 'servicesConfig': {'services': []}}", "at least one service"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core'}], 'extra': 1}}",
     "servicesConfig: unknown field \"extra\""},
    {"{'abstract': 'a', 'servicesConfig': {'services': {'type': 'core'}}}",
     "field \"services\" must be an array, not an object"},
    {"{'abstract': 'a', 'servicesConfig': {'loadAtBoot': 'yes', 'services': [{'type': "
     "'core'}]}}",
     "field \"loadAtBoot\" must be a boolean, not a string"},
    {"{'abstract': 'a', 'servicesConfig': {'runAtLoad': 1, 'services': [{'type': 'core'}]}}",
     "field \"runAtLoad\" must be a boolean, not an integer"},
    {"{'abstract': 'a', 'servicesConfig': {'defaultArguments': '--x', 'services': [{'type': "
     "'core'}]}}",
     "field \"defaultArguments\" must be an array, not a string"},
    {"{'abstract': 'a', 'servicesConfig': {'defaultArguments': ['--x', 2], 'services': "
     "[{'type': 'core'}]}}",
     "item 1 is an integer"},
    /* services[i] */
    {"{'abstract': 'a', 'servicesConfig': {'services': ['core']}}",
     "servicesConfig.services[0] must be an object"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{}]}}",
     "servicesConfig.services[0]: field \"type\" is missing"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'name': 'x'}]}}",
     "servicesConfig.services[0]: unknown field \"name\""},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core'}, {'type': 3}]}}",
     "servicesConfig.services[1]: field \"type\" must be a string, not an integer"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'description': []}]}}",
     "field \"description\" must be a string, not an array"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'storage'}]}}",
     "type \"storage\" is not one of core, runtime, network, auxiliary"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'Core'}]}}",
     "type \"Core\" is not one of"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': ''}]}}",
     "type \"\" is not one of"},
    /* routes */
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': 'x'}]}}",
     "field \"routes\" must be an array, not a string"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': [1]}]}}",
     "item 0 is an integer"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': ['']}]}}",
     "a route prefix must be 1 to 64 characters"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': ['a b']}]}}",
     "route prefix \"a b\" has a character other"},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': ['a/b']}]}}",
     "route prefix \"a/b\""},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': ['ok', "
     "'x*']}]}}",
     "route prefix \"x*\""},
    {"{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'core', 'routes': "
     "['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']}]}}",
     "1 to 64 characters"},
};

static void test_parse_bad(void **state)
{
	const struct bad_manifest *c = *state;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *text = fixture(c->text);
	struct ct_plugin_manifest m;

	memset(&m, 0xa5, sizeof(m));
	assert_failure(ct_plugin_manifest_parse(text, "p", "/d/p", &m, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, c->needle);
	/* Nothing half-built is handed back (LeakSanitizer checks the rest). */
	assert_null(m.name);
	assert_null(m.services);
	assert_int_equal(m.nservices, 0);
	assert_null(m.default_args);
}

static void test_route_prefix_of_64_is_fine(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *text = fixture(
	    "{'abstract': 'a', 'servicesConfig': {'services': [{'type': 'network', 'routes': "
	    "['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', "
	    "'A-b_c.9']}]}}");
	struct ct_plugin_manifest m;

	if (ct_plugin_manifest_parse(text, "p", "/d/p", &m, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_int_equal(strlen(m.services[0].routes[0]), 64);
	assert_string_equal(m.services[0].routes[1], "A-b_c.9");
	ct_plugin_manifest_free(&m);
}

static void test_plugin_names(void **state)
{
	char name64[65], name65[66];

	memset(name64, 'a', 64);
	name64[64] = '\0';
	memset(name65, 'a', 65);
	name65[65] = '\0';

	assert_true(ct_plugin_name_valid("a"));
	assert_true(ct_plugin_name_valid("0"));
	assert_true(ct_plugin_name_valid("runtime-linux"));
	assert_true(ct_plugin_name_valid("a-b_c.d9"));
	assert_true(ct_plugin_name_valid(name64));

	assert_false(ct_plugin_name_valid(""));
	assert_false(ct_plugin_name_valid(name65));
	assert_false(ct_plugin_name_valid("Sample"));
	assert_false(ct_plugin_name_valid("sAmple"));
	assert_false(ct_plugin_name_valid("-x"));
	assert_false(ct_plugin_name_valid(".x"));
	assert_false(ct_plugin_name_valid("_x"));
	assert_false(ct_plugin_name_valid(".."));
	assert_false(ct_plugin_name_valid("a/b"));
	assert_false(ct_plugin_name_valid("a b"));
	assert_false(ct_plugin_name_valid("caf\xc3\xa9"));
}

static void test_parse_rejects_bad_names(void **state)
{
	static const char *const names[] = {"Sample", "", "-lead", ".hidden", "a/b", "a b"};
	_cleanup_free_ char *text = fixture(cli_manifest);
	char long_name[66];

	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	for (size_t i = 0; i <= ARRAY_SIZE(names); i++) {
		const char *name = i < ARRAY_SIZE(names) ? names[i] : long_name;
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		struct ct_plugin_manifest m;
		char needle[128];

		snprintf(needle, sizeof(needle), "plugin name \"%s\"", name);
		assert_failure(ct_plugin_manifest_parse(text, name, "/d", &m, &err), &err,
			       CT_ERR_INVALID_ARGUMENT, needle);
		assert_null(m.name);
	}
}

static void test_service_types(void **state)
{
	assert_true(ct_plugin_service_type_valid("core"));
	assert_true(ct_plugin_service_type_valid("runtime"));
	assert_true(ct_plugin_service_type_valid("network"));
	assert_true(ct_plugin_service_type_valid("auxiliary"));
	assert_false(ct_plugin_service_type_valid("storage"));
	assert_false(ct_plugin_service_type_valid("Runtime"));
	assert_false(ct_plugin_service_type_valid(""));
	assert_false(ct_plugin_service_type_valid("core "));
}

/* Temporary folders */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup_tmpdir(void **state)
{
	char *dir = xstrdup("/tmp/ct-test-plugin-XXXXXX");

	if (!mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	rm_rf(*state);
	free(*state);
	return 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (ct_write_file_atomic(path, text, strlen(text), mode, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_int_equal(chmod(path, mode), 0);
}

/* Makes <parent>/<name>/ with config.json (manifest fixture, NULL: none) and, when
 * binary_mode is not 0, bin/<name> with that mode. Returns the plugin folder. */
static char *make_plugin(const char *parent, const char *name, const char *manifest,
			 mode_t binary_mode)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char *dir = xasprintf("%s/%s", parent, name);
	_cleanup_free_ char *bin_dir = xasprintf("%s/bin", dir);

	assert_int_equal(ct_mkdir_p(bin_dir, 0755, &err), 0);
	if (manifest) {
		_cleanup_free_ char *path = xasprintf("%s/config.json", dir);
		_cleanup_free_ char *text = fixture(manifest);
		write_text(path, text, 0644);
	}
	if (binary_mode) {
		_cleanup_free_ char *bin = xasprintf("%s/%s", bin_dir, name);
		write_text(bin, "#!/bin/sh\nexit 0\n", binary_mode);
	}
	return dir;
}

static void test_load_valid(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = make_plugin(*state, "sample", service_manifest, 0755);
	_cleanup_free_ char *binary = xasprintf("%s/bin/sample", dir);
	_cleanup_free_ char *resources = xasprintf("%s/resources", dir);
	struct ct_plugin_manifest m;

	if (ct_plugin_manifest_load(dir, &m, &err) < 0)
		fail_msg("%s", ct_error_message(&err));
	assert_string_equal(m.name, "sample");
	assert_string_equal(m.dir, dir);
	assert_string_equal(m.binary, binary);
	assert_null(m.resources);
	assert_true(m.is_service);
	ct_plugin_manifest_free(&m);

	/* With a resources folder. */
	assert_int_equal(mkdir(resources, 0755), 0);
	assert_int_equal(ct_plugin_manifest_load(dir, &m, &err), 0);
	assert_non_null(m.resources);
	assert_string_equal(m.resources, resources);
	ct_plugin_manifest_free(&m);

	/* A file named resources is not a resources folder. */
	assert_int_equal(rmdir(resources), 0);
	write_text(resources, "x", 0644);
	assert_int_equal(ct_plugin_manifest_load(dir, &m, &err), 0);
	assert_null(m.resources);
	ct_plugin_manifest_free(&m);
}

static void test_load_missing_executable(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = make_plugin(*state, "nobin", cli_manifest, 0);
	_cleanup_free_ char *config = xasprintf("%s/config.json", dir);
	_cleanup_free_ char *binary = xasprintf("%s/bin/nobin", dir);
	struct ct_plugin_manifest m;

	assert_failure(ct_plugin_manifest_load(dir, &m, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       binary);
	assert_non_null(strstr(ct_error_message(&err), config));
	assert_non_null(strstr(ct_error_message(&err), "missing or not executable"));
	assert_null(m.name);
}

static void test_load_not_executable(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = make_plugin(*state, "noexec", cli_manifest, 0644);
	_cleanup_free_ char *binary = xasprintf("%s/bin/noexec", dir);
	struct ct_plugin_manifest m;

	/* Root may execute anything with one x bit, but not a file with none. */
	assert_failure(ct_plugin_manifest_load(dir, &m, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       binary);
	assert_non_null(strstr(ct_error_message(&err), "not executable"));
	assert_null(m.name);

	/* A folder where the binary should be is not executable either. */
	assert_int_equal(unlink(binary), 0);
	assert_int_equal(mkdir(binary, 0755), 0);
	assert_failure(ct_plugin_manifest_load(dir, &m, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       binary);
}

static void test_load_missing_or_bad_manifest(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = make_plugin(*state, "nomanifest", NULL, 0755);
	_cleanup_free_ char *config = xasprintf("%s/config.json", dir);
	_cleanup_free_ char *bad = make_plugin(*state, "badmanifest", "{'abstract': 1}", 0755);
	_cleanup_free_ char *bad_config = xasprintf("%s/config.json", bad);
	_cleanup_free_ char *upper = make_plugin(*state, "Upper", cli_manifest, 0755);
	struct ct_plugin_manifest m;

	assert_failure(ct_plugin_manifest_load(dir, &m, &err), &err, CT_ERR_NOT_FOUND, config);
	/* Parse errors are prefixed with the manifest's path. */
	assert_failure(ct_plugin_manifest_load(bad, &m, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       bad_config);
	assert_non_null(strstr(ct_error_message(&err), "must be a string"));
	/* The folder name is the plugin name and must be valid. */
	assert_failure(ct_plugin_manifest_load(upper, &m, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "plugin name \"Upper\"");
}

static void test_load_manifest_too_large(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dir = make_plugin(*state, "huge", NULL, 0755);
	_cleanup_free_ char *config = xasprintf("%s/config.json", dir);
	const size_t size = 300 * 1024;
	_cleanup_free_ char *text = xcalloc(1, size + 1);
	struct ct_plugin_manifest m;

	memset(text, ' ', size);
	memcpy(text, "{\"abstract\": \"a\"}", 17);
	write_text(config, text, 0644);
	assert_failure(ct_plugin_manifest_load(dir, &m, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "larger than the limit");
}

struct skipped {
	char *paths[8];
	char *reasons[8];
	size_t n;
};

static void record_skip(const char *path, const char *reason, void *data)
{
	struct skipped *s = data;

	assert_true(s->n < ARRAY_SIZE(s->paths));
	s->paths[s->n] = xstrdup(path);
	s->reasons[s->n] = xstrdup(reason);
	s->n++;
}

static void skipped_free(struct skipped *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->paths[i]);
		free(s->reasons[i]);
	}
}

static void test_discover(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *a = xasprintf("%s/a", root);
	_cleanup_free_ char *b = xasprintf("%s/b", root);
	_cleanup_free_ char *missing = xasprintf("%s/does-not-exist", root);
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_plugin_list list;
	struct skipped skipped = {0};
	char *p;

	assert_int_equal(ct_mkdir_p(a, 0755, &err), 0);
	assert_int_equal(ct_mkdir_p(b, 0755, &err), 0);
	/* Folder a, made in unsorted order. */
	free(make_plugin(a, "zulu", "{'abstract': 'a/zulu'}", 0755));
	free(make_plugin(a, "dup", "{'abstract': 'a/dup'}", 0755));
	p = make_plugin(a, "broken", "{'abstract': 'a/broken',", 0755);
	_cleanup_free_ char *broken = p;
	free(make_plugin(a, "mike",
			 "{'abstract': 'a/mike', 'servicesConfig': {'services': "
			 "[{'type': 'network'}]}}",
			 0755));
	free(make_plugin(a, ".hidden", "{'abstract': 'a/hidden'}", 0755));
	p = make_plugin(a, "withres", "{'abstract': 'a/withres'}", 0755);
	_cleanup_free_ char *withres = p;
	_cleanup_free_ char *res = xasprintf("%s/resources", withres);
	assert_int_equal(mkdir(res, 0755), 0);
	/* A stray file is not a plugin, and not worth a warning. */
	_cleanup_free_ char *stray = xasprintf("%s/README", a);
	write_text(stray, "hi", 0644);
	/* Folder b. */
	free(make_plugin(b, "dup", "{'abstract': 'b/dup'}", 0755));
	free(make_plugin(b, "alpha", "{'abstract': 'b/alpha'}", 0755));
	free(make_plugin(b, "yankee", "{'abstract': 'b/yankee'}", 0755));

	char *dirs[] = {missing, a, b, NULL};
	ct_plugins_discover(dirs, &list, record_skip, &skipped);

	/* Each folder's entries sorted by name, folders in order; the first folder
	 * holding a name wins. */
	static const char *const expect[][2] = {
	    {"dup", "a/dup"},	{"mike", "a/mike"},   {"withres", "a/withres"},
	    {"zulu", "a/zulu"}, {"alpha", "b/alpha"}, {"yankee", "b/yankee"},
	};
	if (list.n != ARRAY_SIZE(expect)) {
		for (size_t i = 0; i < list.n; i++)
			fprintf(stderr, "# found %s\n", list.items[i].name);
		fail_msg("found %zu plugins, expected %zu", list.n, ARRAY_SIZE(expect));
	}
	for (size_t i = 0; i < list.n; i++) {
		assert_string_equal(list.items[i].name, expect[i][0]);
		assert_string_equal(list.items[i].abstract, expect[i][1]);
	}
	/* Sorted within each folder. */
	for (size_t i = 1; i < 4; i++)
		assert_true(strcmp(list.items[i - 1].name, list.items[i].name) < 0);
	assert_true(strcmp(list.items[4].name, list.items[5].name) < 0);

	const struct ct_plugin_manifest *m = ct_plugin_list_find(&list, "dup");
	assert_non_null(m);
	assert_string_equal(m->abstract, "a/dup");
	assert_true(ct_str_has_prefix(m->dir, a));
	m = ct_plugin_list_find(&list, "mike");
	assert_non_null(m);
	assert_true(m->is_service);
	m = ct_plugin_list_find(&list, "withres");
	assert_non_null(m);
	assert_non_null(m->resources);
	assert_string_equal(m->resources, res);
	assert_null(ct_plugin_list_find(&list, "zulu")->resources);
	assert_null(ct_plugin_list_find(&list, "broken"));
	assert_null(ct_plugin_list_find(&list, ".hidden"));
	assert_null(ct_plugin_list_find(&list, "README"));

	/* The bad manifest was reported with its folder and the reason. */
	assert_int_equal(skipped.n, 1);
	assert_string_equal(skipped.paths[0], broken);
	assert_non_null(strstr(skipped.reasons[0], "malformed JSON"));

	ct_plugin_list_free(&list);
	assert_int_equal(list.n, 0);
	assert_null(list.items);
	skipped_free(&skipped);

	/* A NULL skip callback is allowed. */
	ct_plugins_discover(dirs, &list, NULL, NULL);
	assert_int_equal(list.n, ARRAY_SIZE(expect));
	ct_plugin_list_free(&list);
}

/* A broken plugin in an earlier folder does not hide a good one of the same name
 * in a later folder: the bad one is reported and the later one is used. */
static void test_discover_broken_override(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *a = xasprintf("%s/a", root);
	_cleanup_free_ char *b = xasprintf("%s/b", root);
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_plugin_list list;
	struct skipped skipped = {0};

	assert_int_equal(ct_mkdir_p(a, 0755, &err), 0);
	assert_int_equal(ct_mkdir_p(b, 0755, &err), 0);
	free(make_plugin(a, "tool", "{'abstract': 'a/tool'}", 0644));
	free(make_plugin(b, "tool", "{'abstract': 'b/tool'}", 0755));
	char *dirs[] = {a, b, NULL};
	ct_plugins_discover(dirs, &list, record_skip, &skipped);
	assert_int_equal(skipped.n, 1);
	assert_non_null(strstr(skipped.paths[0], "/a/tool"));
	assert_non_null(strstr(skipped.reasons[0], "not executable"));
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0].abstract, "b/tool");
	ct_plugin_list_free(&list);
	skipped_free(&skipped);
}

static void test_discover_empty(void **state)
{
	struct ct_plugin_list list;

	/* No folders at all. */
	ct_plugins_discover(NULL, &list, NULL, NULL);
	assert_int_equal(list.n, 0);
	ct_plugin_list_free(&list);
	char *none[] = {NULL};
	ct_plugins_discover(none, &list, NULL, NULL);
	assert_int_equal(list.n, 0);
	assert_null(ct_plugin_list_find(&list, "x"));
	ct_plugin_list_free(&list);
}

/* Regression (was a bug): plugin.c ct_plugins_discover calls qsort(names, 0, …) with names == NULL
 * for a folder that exists but holds no entry (or only dot-entries): qsort's
 * base is declared nonnull, and UBSan reports "null pointer passed as argument
 * 1, which is declared to never be null" at plugin.c:217 (fatal under
 * -fno-sanitize-recover). An empty user-plugins folder is the normal case.
 * UBSan recovers by default, so the discovery runs in a child whose stderr is
 * checked for a sanitizer report. */
static void test_discover_empty_folder(void **state)
{

	const char *root = *state;
	_cleanup_free_ char *a = xasprintf("%s/a", root);
	_cleanup_free_ char *hidden = xasprintf("%s/b/.only-hidden", root);
	_cleanup_free_ char *b = xasprintf("%s/b", root);
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char report[4096] = "";
	size_t have = 0;
	int p[2], status;

	assert_int_equal(ct_mkdir_p(a, 0755, &err), 0);
	assert_int_equal(ct_mkdir_p(hidden, 0755, &err), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ct_plugin_list list;
		char *dirs[] = {a, b, NULL};
		dup2(p[1], STDERR_FILENO);
		ct_plugins_discover(dirs, &list, NULL, NULL);
		_exit(list.n == 0 ? 0 : 1);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], report + have, sizeof(report) - 1 - have);
		if (n <= 0)
			break;
		have += n;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (strstr(report, "runtime error"))
		fail_msg("sanitizer report: %s", report);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(bad_manifests) + 32];
	char names[ARRAY_SIZE(bad_manifests)][80];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_service_manifest);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_minimal_service_manifest);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_cli_manifest);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_route_prefix_of_64_is_fine);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_plugin_names);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_parse_rejects_bad_names);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_service_types);
	for (size_t i = 0; i < ARRAY_SIZE(bad_manifests); i++) {
		snprintf(names[i], sizeof(names[i]), "parse_bad %zu: %s", i,
			 bad_manifests[i].needle);
		tests[n++] = (struct CMUnitTest){.name = names[i],
						 .test_func = test_parse_bad,
						 .initial_state = (void *)&bad_manifests[i]};
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_load_valid, setup_tmpdir, teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_load_missing_executable, setup_tmpdir, teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_load_not_executable, setup_tmpdir, teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_load_missing_or_bad_manifest, setup_tmpdir, teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_load_manifest_too_large, setup_tmpdir, teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_discover, setup_tmpdir,
									teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_discover_broken_override, setup_tmpdir, teardown_tmpdir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
	    test_discover_empty, setup_tmpdir, teardown_tmpdir);
	tests[n++] =
	    (struct CMUnitTest){.name = "test_discover_empty_folder",
				.test_func = test_discover_empty_folder,
				.setup_func = setup_tmpdir,
				.teardown_func = teardown_tmpdir};
	return _cmocka_run_group_tests("plugin_manifest", tests, n, NULL, NULL);
}
