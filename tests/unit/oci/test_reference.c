#include "oci-test.h"

#include "oci/reference.h"

#define SHA512_DIGEST                                                                              \
	"sha512:"                                                                                  \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23" \
	"a"                                                                                        \
	"3feebbd454d4423643ce80e2a9ac94fa54ca49f"

struct valid_case {
	const char *input;
	const char *default_registry;
	const char *registry;
	const char *repository;
	const char *tag; /* NULL: none */
	const char *digest;
	const char *string;
	const char *familiar;
};

static const struct valid_case valid_cases[] = {
    /* docker.io and the library/ prefix */
    {"busybox", NULL, "docker.io", "library/busybox", "latest", NULL,
     "docker.io/library/busybox:latest", "busybox:latest"},
    {"busybox:1.36", NULL, "docker.io", "library/busybox", "1.36", NULL,
     "docker.io/library/busybox:1.36", "busybox:1.36"},
    {"user/app", NULL, "docker.io", "user/app", "latest", NULL, "docker.io/user/app:latest",
     "user/app:latest"},
    {"docker.io/busybox", NULL, "docker.io", "library/busybox", "latest", NULL,
     "docker.io/library/busybox:latest", "busybox:latest"},
    {"docker.io/library/busybox:musl", NULL, "docker.io", "library/busybox", "musl", NULL,
     "docker.io/library/busybox:musl", "busybox:musl"},
    {"index.docker.io/library/busybox", NULL, "docker.io", "library/busybox", "latest", NULL,
     "docker.io/library/busybox:latest", "busybox:latest"},
    {"index.docker.io/busybox", NULL, "docker.io", "library/busybox", "latest", NULL,
     "docker.io/library/busybox:latest", "busybox:latest"},
    {"docker.io/library/a/b", NULL, "docker.io", "library/a/b", "latest", NULL,
     "docker.io/library/a/b:latest", "library/a/b:latest"},
    {"a/b/c", NULL, "docker.io", "a/b/c", "latest", NULL, "docker.io/a/b/c:latest", "a/b/c:latest"},
    /* registry detection: '.', ':' or exactly localhost */
    {"localhost/x", NULL, "localhost", "x", "latest", NULL, "localhost/x:latest",
     "localhost/x:latest"},
    {"localhost:5000/x", NULL, "localhost:5000", "x", "latest", NULL, "localhost:5000/x:latest",
     "localhost:5000/x:latest"},
    {"localhost:5000/x:1", NULL, "localhost:5000", "x", "1", NULL, "localhost:5000/x:1",
     "localhost:5000/x:1"},
    /* no '/': "localhost:5000" is a repository with a tag, as docker reads it */
    {"localhost:5000", NULL, "docker.io", "library/localhost", "5000", NULL,
     "docker.io/library/localhost:5000", "localhost:5000"},
    {"localhostx/y", NULL, "docker.io", "localhostx/y", "latest", NULL,
     "docker.io/localhostx/y:latest", "localhostx/y:latest"},
    {"127.0.0.1:5000/a/b:1", NULL, "127.0.0.1:5000", "a/b", "1", NULL, "127.0.0.1:5000/a/b:1",
     "127.0.0.1:5000/a/b:1"},
    {"a.b/c", NULL, "a.b", "c", "latest", NULL, "a.b/c:latest", "a.b/c:latest"},
    {"Registry.Example.COM/x", NULL, "Registry.Example.COM", "x", "latest", NULL,
     "Registry.Example.COM/x:latest", "Registry.Example.COM/x:latest"},
    {"ghcr.io/org/team/app:v1.2.3", NULL, "ghcr.io", "org/team/app", "v1.2.3", NULL,
     "ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3"},
    {"my-registry.io:65535/x", NULL, "my-registry.io:65535", "x", "latest", NULL,
     "my-registry.io:65535/x:latest", "my-registry.io:65535/x:latest"},
    {"host:1/x", NULL, "host:1", "x", "latest", NULL, "host:1/x:latest", "host:1/x:latest"},
    /* IPv6 in brackets */
    {"[::1]:5000/a/b:v1", NULL, "[::1]:5000", "a/b", "v1", NULL, "[::1]:5000/a/b:v1",
     "[::1]:5000/a/b:v1"},
    {"[2001:db8::1]/x", NULL, "[2001:db8::1]", "x", "latest", NULL, "[2001:db8::1]/x:latest",
     "[2001:db8::1]/x:latest"},
    /* digests: no default tag */
    {"registry.example:443/ns/img@" DIGEST_A, NULL, "registry.example:443", "ns/img", NULL,
     DIGEST_A, "registry.example:443/ns/img@" DIGEST_A, "registry.example:443/ns/img@" DIGEST_A},
    {"busybox@" DIGEST_B, NULL, "docker.io", "library/busybox", NULL, DIGEST_B,
     "docker.io/library/busybox@" DIGEST_B, "busybox@" DIGEST_B},
    {"busybox:1.36@" DIGEST_C, NULL, "docker.io", "library/busybox", "1.36", DIGEST_C,
     "docker.io/library/busybox:1.36@" DIGEST_C, "busybox:1.36@" DIGEST_C},
    {"localhost:5000/x@" SHA512_DIGEST, NULL, "localhost:5000", "x", NULL, SHA512_DIGEST,
     "localhost:5000/x@" SHA512_DIGEST, "localhost:5000/x@" SHA512_DIGEST},
    /* path component separators */
    {"foo__bar/x.y-z_w", NULL, "docker.io", "foo__bar/x.y-z_w", "latest", NULL,
     "docker.io/foo__bar/x.y-z_w:latest", "foo__bar/x.y-z_w:latest"},
    {"a---b", NULL, "docker.io", "library/a---b", "latest", NULL, "docker.io/library/a---b:latest",
     "a---b:latest"},
    {"0/1", NULL, "docker.io", "0/1", "latest", NULL, "docker.io/0/1:latest", "0/1:latest"},
    /* tags: case, '_' first, '.' and '-' later */
    {"foo:Tag_1.0-x", NULL, "docker.io", "library/foo", "Tag_1.0-x", NULL,
     "docker.io/library/foo:Tag_1.0-x", "foo:Tag_1.0-x"},
    {"foo:_x", NULL, "docker.io", "library/foo", "_x", NULL, "docker.io/library/foo:_x", "foo:_x"},
    /* the default registry */
    {"x", "registry.internal:5000", "registry.internal:5000", "x", "latest", NULL,
     "registry.internal:5000/x:latest", "registry.internal:5000/x:latest"},
    {"a/b", "registry.internal", "registry.internal", "a/b", "latest", NULL,
     "registry.internal/a/b:latest", "registry.internal/a/b:latest"},
    {"x", "docker.io", "docker.io", "library/x", "latest", NULL, "docker.io/library/x:latest",
     "x:latest"},
    {"quay.io/x", "registry.internal", "quay.io", "x", "latest", NULL, "quay.io/x:latest",
     "quay.io/x:latest"},
    {"x", "localhost", "localhost", "x", "latest", NULL, "localhost/x:latest",
     "localhost/x:latest"},
    /* found by fuzzing: a docker.io repository whose first component looks like a
     * registry keeps "docker.io/" in its familiar form, or it would name that registry */
    {"docker.io/a.b/x", NULL, "docker.io", "a.b/x", "latest", NULL, "docker.io/a.b/x:latest",
     "docker.io/a.b/x:latest"},
};

static void check_str(const char *what, const char *input, const char *actual, const char *expected)
{
	if (!expected && !actual)
		return;
	if (!expected || !actual || strcmp(expected, actual) != 0)
		fail_msg("%s: %s is \"%s\", expected \"%s\"", input, what,
			 actual ? actual : "(null)", expected ? expected : "(null)");
}

static void test_valid_reference(void **state)
{
	const struct valid_case *c = *state;
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref ref = {0};
	char *s, *familiar;

	if (oci_ref_parse(c->input, c->default_registry, &ref, &err) < 0)
		fail_msg("%s: %s", c->input, ct_error_message(&err));
	check_str("registry", c->input, ref.registry, c->registry);
	check_str("repository", c->input, ref.repository, c->repository);
	check_str("tag", c->input, ref.tag, c->tag);
	check_str("digest", c->input, ref.digest, c->digest);
	s = oci_ref_string(&ref);
	familiar = oci_ref_familiar(&ref);
	check_str("string", c->input, s, c->string);
	check_str("familiar form", c->input, familiar, c->familiar);
	free(s);
	free(familiar);
	oci_ref_free(&ref);
	ct_error_clear(&err);
}

struct invalid_case {
	const char *input;
	const char *default_registry;
	const char *code;
	const char *message; /* a substring of the message */
};

static const struct invalid_case invalid_cases[] = {
    {"", NULL, CT_ERR_INVALID_ARGUMENT, "invalid reference \"\": reference is empty"},
    {"Foo", NULL, CT_ERR_INVALID_ARGUMENT,
     "invalid reference \"Foo\": repository name must be lowercase"},
    {"docker.io/Library/busybox", NULL, CT_ERR_INVALID_ARGUMENT,
     "repository name must be lowercase"},
    {"Foo/bar", NULL, CT_ERR_INVALID_ARGUMENT, "repository name must be lowercase"},
    {"busybox:", NULL, CT_ERR_INVALID_ARGUMENT, "tag is empty after ':'"},
    {"localhost:5000/x:", NULL, CT_ERR_INVALID_ARGUMENT, "tag is empty after ':'"},
    {"busybox@", NULL, CT_ERR_INVALID_ARGUMENT, "'@' must be followed by a digest"},
    {"busybox:1@", NULL, CT_ERR_INVALID_ARGUMENT, "'@' must be followed by a digest"},
    {"busybox@sha256:abc", NULL, CT_ERR_INVALID_ARGUMENT, "sha256 needs 64 hex digits, got 3"},
    {"busybox@sha256", NULL, CT_ERR_INVALID_ARGUMENT, "expected <algorithm>:<hex>"},
    {"busybox@sha256:" HEX64_A "a", NULL, CT_ERR_INVALID_ARGUMENT, "got 65"},
    {"busybox@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL,
     CT_ERR_INVALID_ARGUMENT, "lowercase hex"},
    {"busybox@md5:d41d8cd98f00b204e9800998ecf8427e", NULL, CT_ERR_UNSUPPORTED,
     "unsupported digest algorithm \"md5\""},
    {"busybox@" DIGEST_A "@" DIGEST_B, NULL, CT_ERR_INVALID_ARGUMENT, "invalid digest"},
    {":latest", NULL, CT_ERR_INVALID_ARGUMENT, "repository name is missing"},
    {"@" DIGEST_A, NULL, CT_ERR_INVALID_ARGUMENT, "repository name is missing"},
    {"localhost:5000/", NULL, CT_ERR_INVALID_ARGUMENT,
     "repository name is missing after the registry"},
    {"a//b", NULL, CT_ERR_INVALID_ARGUMENT, "empty path component"},
    {"a/", NULL, CT_ERR_INVALID_ARGUMENT, "empty path component"},
    {"/a", NULL, CT_ERR_INVALID_ARGUMENT, "empty path component"},
    {"-a", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"-a\" is invalid"},
    {"a-", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"a-\" is invalid"},
    {"a_-b", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"a_-b\" is invalid"},
    {"a___b", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"a___b\" is invalid"},
    {"a..b", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"a..b\" is invalid"},
    {"x/.a", NULL, CT_ERR_INVALID_ARGUMENT, "path component \".a\" is invalid"},
    {"a b", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"a b\" is invalid"},
    {"a/b$", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"b$\" is invalid"},
    {"busybox:-tag", NULL, CT_ERR_INVALID_ARGUMENT, "must not start with '-'"},
    {"busybox:.tag", NULL, CT_ERR_INVALID_ARGUMENT, "must not start with '.'"},
    {"busybox:t+g", NULL, CT_ERR_INVALID_ARGUMENT, "may only contain letters"},
    {"busybox:ta/g", NULL, CT_ERR_INVALID_ARGUMENT, "port \"ta\" must be a number"},
    {"localhost:0/x", NULL, CT_ERR_INVALID_ARGUMENT, "port \"0\" must be a number"},
    {"localhost:65536/x", NULL, CT_ERR_INVALID_ARGUMENT, "port \"65536\""},
    {"localhost:123456/x", NULL, CT_ERR_INVALID_ARGUMENT, "port \"123456\""},
    {"localhost:/x", NULL, CT_ERR_INVALID_ARGUMENT, "port \"\" must be a number"},
    {"localhost:5x/x", NULL, CT_ERR_INVALID_ARGUMENT, "port \"5x\""},
    {"::1/x", NULL, CT_ERR_INVALID_ARGUMENT, "an IPv6 address must be in brackets"},
    {"2001:db8::1/x", NULL, CT_ERR_INVALID_ARGUMENT, "must be in brackets"},
    {"[::1/x", NULL, CT_ERR_INVALID_ARGUMENT, "'[' without a closing ']'"},
    {"[zz::1]:5000/x", NULL, CT_ERR_INVALID_ARGUMENT, "\"zz::1\" is not an IPv6 address"},
    {"[]:5000/x", NULL, CT_ERR_INVALID_ARGUMENT, "not an IPv6 address"},
    {"[::1]x/y", NULL, CT_ERR_INVALID_ARGUMENT, "only \":<port>\" may follow"},
    {"[::1]:0/y", NULL, CT_ERR_INVALID_ARGUMENT, "port \"0\""},
    {"-bad.example/x", NULL, CT_ERR_INVALID_ARGUMENT, "registry \"-bad.example\""},
    {"bad-.example/x", NULL, CT_ERR_INVALID_ARGUMENT, "registry \"bad-.example\""},
    {"bad_host.example/x", NULL, CT_ERR_INVALID_ARGUMENT, "a host name is letters"},
    {"a..example/x", NULL, CT_ERR_INVALID_ARGUMENT, "registry \"a..example\""},
    {".example/x", NULL, CT_ERR_INVALID_ARGUMENT, "registry \".example\""},
    {HEX64_A, NULL, CT_ERR_INVALID_ARGUMENT, "is an image ID"},
    {"x", "bad registry", CT_ERR_INVALID_ARGUMENT, "default registry \"bad registry\""},
    {"x", "", CT_ERR_INVALID_ARGUMENT, "default registry is empty"},
    /* found by fuzzing: "reg/x" would read back as docker.io/reg/x */
    {"x", "reg", CT_ERR_INVALID_ARGUMENT,
     "the default registry must contain '.' or ':' or be localhost"},
    {"busybox:1:2", NULL, CT_ERR_INVALID_ARGUMENT, "path component \"busybox:1\""},
};

static void test_invalid_reference(void **state)
{
	const struct invalid_case *c = *state;
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref ref = {0};
	char prefix[512];
	int rc;

	rc = oci_ref_parse(c->input, c->default_registry, &ref, &err);
	if (rc == 0)
		fail_msg("%s: parsed, expected \"%s\"", c->input, c->message);
	assert_failure(rc, &err, c->code, c->message);
	/* Every message names the reference it is about. */
	snprintf(prefix, sizeof(prefix), "invalid reference \"%s\": ", c->input);
	if (strncmp(ct_error_message(&err), prefix, strlen(prefix)) != 0)
		fail_msg("%s: message \"%s\" does not start with \"%s\"", c->input,
			 ct_error_message(&err), prefix);
	/* A failed parse leaves nothing to free in out. */
	assert_null(ref.registry);
	assert_null(ref.repository);
	assert_null(ref.tag);
	assert_null(ref.digest);
	ct_error_clear(&err);
}

static void test_null_reference(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref ref = {0};

	assert_failure(oci_ref_parse(NULL, NULL, &ref, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "reference is empty");
	ct_error_clear(&err);
}

/* Builds "<prefix><n times c>" for the length limits. */
static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t plen = strlen(prefix), slen = strlen(suffix);
	char *s = malloc(plen + n + slen + 1);

	assert_non_null(s);
	memcpy(s, prefix, plen);
	memset(s + plen, c, n);
	memcpy(s + plen + n, suffix, slen + 1);
	return s;
}

static void test_name_length_limit(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref ref = {0};
	char *name;

	/* "docker.io/" is 10 characters, "a/" 2: 243 more make 255 exactly. */
	name = repeat("a/", 'b', 243, "");
	assert_int_equal(oci_ref_parse(name, NULL, &ref, &err), 0);
	assert_int_equal(strlen(ref.registry) + 1 + strlen(ref.repository), 255);
	oci_ref_free(&ref);
	free(name);

	name = repeat("a/", 'b', 244, "");
	assert_failure(oci_ref_parse(name, NULL, &ref, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "name is 256 characters long with its registry; the limit is 255");
	ct_error_clear(&err);
	free(name);

	/* The library/ prefix counts, as in docker: 237 characters become 255... */
	name = repeat("", 'c', 237, ":tag");
	assert_int_equal(oci_ref_parse(name, NULL, &ref, &err), 0);
	assert_string_equal(ref.tag, "tag");
	oci_ref_free(&ref);
	free(name);
	/* ...and 238 become 256. */
	name = repeat("", 'c', 238, "");
	assert_failure(oci_ref_parse(name, NULL, &ref, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "the limit is 255");
	ct_error_clear(&err);
	free(name);

	/* A long tag does not count against the name. */
	name = repeat("x:", 't', 128, "");
	assert_int_equal(oci_ref_parse(name, NULL, &ref, &err), 0);
	assert_int_equal(strlen(ref.tag), 128);
	oci_ref_free(&ref);
	free(name);
	name = repeat("x:", 't', 129, "");
	assert_failure(oci_ref_parse(name, NULL, &ref, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "tag is 129 characters long; the limit is 128");
	ct_error_clear(&err);
	free(name);
}

static void test_name_and_api_host(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref ref = {0};
	char *name;

	assert_int_equal(oci_ref_parse("busybox:1@" DIGEST_A, NULL, &ref, &err), 0);
	name = oci_ref_name(&ref);
	assert_string_equal(name, "docker.io/library/busybox");
	assert_string_equal(oci_ref_api_host(ref.registry), "registry-1.docker.io");
	free(name);
	oci_ref_free(&ref);

	assert_int_equal(oci_ref_parse("localhost:5000/a/b", NULL, &ref, &err), 0);
	name = oci_ref_name(&ref);
	assert_string_equal(name, "localhost:5000/a/b");
	assert_string_equal(oci_ref_api_host(ref.registry), "localhost:5000");
	free(name);
	oci_ref_free(&ref);

	assert_string_equal(oci_ref_api_host("index.docker.io"), "registry-1.docker.io");
	assert_string_equal(oci_ref_api_host("quay.io"), "quay.io");
	assert_null(oci_ref_api_host(NULL));
}

/* The normalised string, and the familiar one, parse back to the same reference. */
static void test_round_trip(void **state)
{
	const struct valid_case *c = *state;
	struct ct_error err = CT_ERROR_INIT;
	struct oci_ref first = {0}, second = {0}, third = {0};
	char *s, *familiar;

	assert_int_equal(oci_ref_parse(c->input, c->default_registry, &first, &err), 0);
	s = oci_ref_string(&first);
	familiar = oci_ref_familiar(&first);
	if (oci_ref_parse(s, NULL, &second, &err) < 0)
		fail_msg("%s: %s", s, ct_error_message(&err));
	check_str("re-parsed registry", s, second.registry, first.registry);
	check_str("re-parsed repository", s, second.repository, first.repository);
	check_str("re-parsed tag", s, second.tag, first.tag);
	check_str("re-parsed digest", s, second.digest, first.digest);
	/* The familiar form drops only docker.io, so parse it with the same default. */
	if (oci_ref_parse(familiar, c->default_registry, &third, &err) < 0)
		fail_msg("%s: %s", familiar, ct_error_message(&err));
	check_str("familiar registry", familiar, third.registry, first.registry);
	check_str("familiar repository", familiar, third.repository, first.repository);
	check_str("familiar tag", familiar, third.tag, first.tag);
	oci_ref_free(&third);
	free(s);
	free(familiar);
	oci_ref_free(&first);
	oci_ref_free(&second);
}

/* Every prefix of a reference using every feature parses or fails with a message that
 * names it; what parses must print as something that parses to the same reference. */
static void test_every_prefix(void **state)
{
	static const char full[] = "registry.example:443/ns/img_x-y:v1.2@" DIGEST_A;

	for (size_t len = 0; len <= strlen(full); len++) {
		struct ct_error err = CT_ERROR_INIT;
		struct oci_ref ref = {0}, again = {0};
		char *prefix = strndup(full, len), *s;

		assert_non_null(prefix);
		if (oci_ref_parse(prefix, NULL, &ref, &err) < 0) {
			assert_non_null(strstr(ct_error_message(&err), "invalid reference \""));
			ct_error_clear(&err);
			free(prefix);
			continue;
		}
		s = oci_ref_string(&ref);
		assert_int_equal(oci_ref_parse(s, NULL, &again, &err), 0);
		assert_string_equal(again.repository, ref.repository);
		free(s);
		free(prefix);
		oci_ref_free(&ref);
		oci_ref_free(&again);
	}
}

int main(void)
{
	struct test_list list = {0};

	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++)
		test_list_add(&list, test_valid_reference, &valid_cases[i], "valid %s%s%s",
			      valid_cases[i].input,
			      valid_cases[i].default_registry ? " with default registry " : "",
			      valid_cases[i].default_registry ? valid_cases[i].default_registry
							      : "");
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++)
		test_list_add(&list, test_round_trip, &valid_cases[i], "round trip %s",
			      valid_cases[i].input);
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++)
		test_list_add(&list, test_invalid_reference, &invalid_cases[i],
			      "invalid \"%s\"%s%s (%s)", invalid_cases[i].input,
			      invalid_cases[i].default_registry ? " with default registry " : "",
			      invalid_cases[i].default_registry ? invalid_cases[i].default_registry
								: "",
			      invalid_cases[i].message);
	test_list_add(&list, test_null_reference, NULL, "NULL reference");
	test_list_add(&list, test_name_length_limit, NULL, "name and tag length limits");
	test_list_add(&list, test_name_and_api_host, NULL, "name and registry API host");
	test_list_add(&list, test_every_prefix, NULL, "every prefix of a full reference");
	return test_list_run(&list, "oci-reference");
}
