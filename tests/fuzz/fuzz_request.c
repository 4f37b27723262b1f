/* libFuzzer target for what the API server and the plugin loader read from JSON: the
 * strict getters of src/lib/json_util.c, plugin manifests (src/lib/plugin.c) and
 * configuration properties (src/lib/config.c). The input is loaded with json_loadb;
 * every getter is run over the root and every nested object for each key they hold
 * (and a few they don't), the input is parsed as a plugin manifest, and every string
 * member is validated as the property it is named after and as each known property.
 * Checked: no crash or leak, a failure always carries a message, a getter that
 * fails leaves *out unchanged, and a manifest that parses is complete.
 *
 * Build and run from the top of the tree (jansson from Debian):
 *
 *   mkdir -p build-fuzz/corpus-request
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -DCONTAINER_VERSION='"fuzz"' -I src/lib \
 *         tests/fuzz/fuzz_request.c src/lib/json_util.c src/lib/plugin.c src/lib/config.c \
 *         src/lib/error.c src/lib/util.c -ljansson -o build-fuzz/fuzz_request
 *   FUZZ_REQUEST_SEEDS=build-fuzz/corpus-request build-fuzz/fuzz_request -runs=0
 *   build-fuzz/fuzz_request -max_total_time=60 -max_len=4096 build-fuzz/corpus-request
 *
 * FUZZ_REQUEST_SEEDS=DIR writes a few valid documents into DIR to start a corpus from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json_util.h"
#include "plugin.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void write_seeds(const char *dir)
{
	static const char *const seeds[] = {
	    "{\"abstract\":\"Echo service\",\"author\":\"me\",\"version\":\"1.0\","
	    "\"servicesConfig\":{\"loadAtBoot\":true,\"runAtLoad\":false,"
	    "\"defaultArguments\":[\"start\",\"--debug\"],"
	    "\"services\":[{\"type\":\"auxiliary\",\"description\":\"echo\","
	    "\"routes\":[\"sample\",\"sample.v2\"]}]}}",
	    "{\"abstract\":\"A CLI plugin\"}",
	    "{\"dns.domain\":\"containers.internal\",\"network.subnet\":\"10.0.0.0/8\","
	    "\"registry.domain\":\"localhost:5000\",\"image.unpack.maxBytes\":\"1024\","
	    "\"image.unpack.maxEntries\":\"99\"}",
	    "{\"image\":\"busybox\",\"name\":\"web\",\"args\":[\"sh\",\"-c\",\"true\"],"
	    "\"detach\":true,\"memory\":1048576,\"env\":{\"A\":\"1\"},\"ports\":[]}",
	    "{\"servicesConfig\":{\"services\":[{\"type\":\"core\"},{\"type\":\"network\"}]},"
	    "\"abstract\":\"\"}",
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
	const char *dir = getenv("FUZZ_REQUEST_SEEDS");

	(void)argc;
	(void)argv;
	if (dir)
		write_seeds(dir);
	return 0;
}

/* Runs every getter for key with required false and true. */
static void run_getters(json_t *obj, const char *key)
{
	for (int required = 0; required < 2; required++) {
		struct ct_error err = CT_ERROR_INIT;
		const char *sentinel = "unchanged";
		const char *s = sentinel;
		int64_t i = 0x5a5a;
		bool b = true;
		json_t *o = NULL, *a = NULL;
		char **v = NULL;
		json_t *present = json_is_object(obj) ? json_object_get(obj, key) : NULL;

#define GETTER(call, out, initial)                                                                 \
	do {                                                                                       \
		if ((call) < 0) {                                                                  \
			CHECK(err.message != NULL && err.code[0]);                                 \
			CHECK((out) == (initial));                                                 \
			ct_error_clear(&err);                                                      \
		} else {                                                                           \
			CHECK(err.message == NULL);                                                \
			CHECK(present || !required);                                               \
		}                                                                                  \
	} while (0)

		GETTER(ct_json_get_string(obj, key, required, &s, "fuzz", &err), s, sentinel);
		CHECK(s == sentinel || (json_is_string(present) && s == json_string_value(present)));
		GETTER(ct_json_get_int(obj, key, required, &i, "fuzz", &err), i, 0x5a5a);
		GETTER(ct_json_get_bool(obj, key, required, &b, "fuzz", &err), b, true);
		GETTER(ct_json_get_object(obj, key, required, &o, "fuzz", &err), o, NULL);
		CHECK(!o || o == present);
		GETTER(ct_json_get_array(obj, key, required, &a, "fuzz", &err), a, NULL);
		CHECK(!a || a == present);
		GETTER(ct_json_get_string_array(obj, key, required, &v, "fuzz", &err), v, NULL);
		if (v) {
			size_t n = 0;
			for (; v[n]; n++)
				CHECK(strcmp(v[n], json_string_value(json_array_get(present, n))) == 0);
			CHECK(n == json_array_size(present));
			for (char **p = v; *p; p++)
				free(*p);
			free(v);
		}
#undef GETTER
	}
}

static void walk(json_t *j, int depth)
{
	static const char *const allowed[] = {"abstract", "author", "version", "servicesConfig",
					      "route", "id", "body", NULL};
	const char *key;
	json_t *v;
	size_t i;

	if (depth > 32)
		return;
	if (json_is_array(j)) {
		json_array_foreach (j, i, v)
			walk(v, depth + 1);
		return;
	}
	if (json_is_string(j)) {
		(void)ct_plugin_name_valid(json_string_value(j));
		(void)ct_plugin_service_type_valid(json_string_value(j));
		return;
	}
	/* Non-objects too: every getter must refuse them with a message. */
	run_getters(j, "");
	run_getters(j, "missing");
	if (!json_is_object(j))
		return;

	struct ct_error err = CT_ERROR_INIT;
	if (ct_json_check_keys(j, allowed, "fuzz", &err) < 0) {
		CHECK(err.message != NULL);
		ct_error_clear(&err);
	}
	json_object_foreach (j, key, v) {
		run_getters(j, key);
		if (json_is_string(v)) {
			size_t n;
			const struct ct_property_def *defs = ct_property_defs(&n);
			if (ct_property_validate(key, json_string_value(v), &err) < 0) {
				CHECK(err.message != NULL);
				ct_error_clear(&err);
			} else {
				CHECK(ct_property_find(key) != NULL);
			}
			for (size_t d = 0; d < n; d++) {
				if (ct_property_validate(defs[d].key, json_string_value(v), &err) < 0) {
					CHECK(err.message != NULL);
					ct_error_clear(&err);
				}
			}
		}
		walk(v, depth + 1);
	}
}

static void check_manifest(const char *text, const char *name)
{
	struct ct_error err = CT_ERROR_INIT;
	struct ct_plugin_manifest m;

	if (ct_plugin_manifest_parse(text, name, "/plugins/x", &m, &err) < 0) {
		CHECK(err.message != NULL);
		ct_error_clear(&err);
		return;
	}
	CHECK(err.message == NULL);
	CHECK(ct_plugin_name_valid(name));
	CHECK(m.name && m.dir && m.binary && m.abstract && m.author && m.version);
	CHECK(m.default_args);
	CHECK(m.is_service == (m.nservices > 0));
	for (size_t i = 0; i < m.nservices; i++) {
		CHECK(m.services[i].type && ct_plugin_service_type_valid(m.services[i].type));
		CHECK(m.services[i].description);
		for (char **r = m.services[i].routes; r && *r; r++)
			CHECK(**r && strlen(*r) <= 64);
	}
	ct_plugin_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);

	if (root) {
		walk(root, 0);
		json_decref(root);
	}

	char *text = strndup((const char *)data, size);
	CHECK(text);
	check_manifest(text, "sample");
	/* The plugin name comes from a folder name: any string may arrive. */
	check_manifest(text, text + strlen(text) / 2);
	free(text);
	return 0;
}
