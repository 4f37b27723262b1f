#include "oci-test.h"

#include <sys/utsname.h>

#include "oci/platform.h"

struct parse_case {
	const char *input;
	const char *os;
	const char *architecture;
	const char *variant;
	const char *formatted;
};

static const struct parse_case parse_cases[] = {
    {"linux/amd64", "linux", "amd64", NULL, "linux/amd64"},
    {"linux/x86_64", "linux", "amd64", NULL, "linux/amd64"},
    {"linux/x86-64", "linux", "amd64", NULL, "linux/amd64"},
    {"Linux/AMD64", "linux", "amd64", NULL, "linux/amd64"},
    {"linux/amd64/v1", "linux", "amd64", NULL, "linux/amd64"},
    {"linux/amd64/v3", "linux", "amd64", "v3", "linux/amd64/v3"},
    {"linux/aarch64", "linux", "arm64", NULL, "linux/arm64"},
    {"linux/arm64", "linux", "arm64", NULL, "linux/arm64"},
    {"linux/arm64/v8", "linux", "arm64", "v8", "linux/arm64/v8"},
    {"linux/arm64/8", "linux", "arm64", "v8", "linux/arm64/v8"},
    {"linux/aarch64/V8", "linux", "arm64", "v8", "linux/arm64/v8"},
    {"linux/arm64/v8.0", "linux", "arm64", "v8", "linux/arm64/v8"},
    {"linux/armhf", "linux", "arm", "v7", "linux/arm/v7"},
    {"linux/armv7l", "linux", "arm", "v7", "linux/arm/v7"},
    {"linux/armel", "linux", "arm", "v6", "linux/arm/v6"},
    {"linux/armv6l", "linux", "arm", "v6", "linux/arm/v6"},
    {"linux/arm/7", "linux", "arm", "v7", "linux/arm/v7"},
    {"linux/arm/v5", "linux", "arm", "v5", "linux/arm/v5"},
    {"linux/arm", "linux", "arm", NULL, "linux/arm"},
    {"linux/i386", "linux", "386", NULL, "linux/386"},
    {"linux/i686", "linux", "386", NULL, "linux/386"},
    {"linux/386", "linux", "386", NULL, "linux/386"},
    {"linux/ppc64el", "linux", "ppc64le", NULL, "linux/ppc64le"},
    {"linux/ppc64le", "linux", "ppc64le", NULL, "linux/ppc64le"},
    {"linux/s390x", "linux", "s390x", NULL, "linux/s390x"},
    {"linux/riscv64", "linux", "riscv64", NULL, "linux/riscv64"},
    {"windows/amd64", "windows", "amd64", NULL, "windows/amd64"},
    {"macos/arm64", "darwin", "arm64", NULL, "darwin/arm64"},
};

static void test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct ct_error err = CT_ERROR_INIT;
	struct oci_platform p = {0};
	char *formatted;

	if (oci_platform_parse(c->input, &p, &err) < 0)
		fail_msg("%s: %s", c->input, ct_error_message(&err));
	assert_string_equal(p.os, c->os);
	assert_string_equal(p.architecture, c->architecture);
	if (c->variant)
		assert_string_equal(p.variant, c->variant);
	else
		assert_null(p.variant);
	assert_null(p.os_version);
	formatted = oci_platform_format(&p);
	assert_string_equal(formatted, c->formatted);
	free(formatted);
	oci_platform_free(&p);
}

static const char *const invalid_platforms[] = {
    "",
    "linux",
    "linux/",
    "/amd64",
    "linux//v8",
    "linux/amd64/",
    "linux/amd64/v8/x",
    "linux/amd 64",
    "linux/amd64:1",
    "a/b/c/d",
};

static void test_parse_invalid(void **state)
{
	const char *input = *state;
	struct ct_error err = CT_ERROR_INIT;
	struct oci_platform p = {0};
	char expected[256];

	snprintf(expected, sizeof(expected),
		 "invalid platform \"%s\": expected os/arch[/variant], like linux/amd64", input);
	assert_failure(oci_platform_parse(input, &p, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       expected);
	assert_null(p.os);
	assert_null(p.architecture);
	ct_error_clear(&err);
}

static void test_parse_null(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_platform p = {0};

	assert_failure(oci_platform_parse(NULL, &p, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "invalid platform \"\"");
	ct_error_clear(&err);
}

struct match_case {
	const char *want;
	const char *have;
	int score;
};

/* Platforms are written raw (not parsed) so matching's own normalisation is tested. */
static const struct match_case match_cases[] = {
    {"linux/amd64", "linux/amd64", 2},	    {"linux/amd64", "linux/arm64", 0},
    {"linux/amd64", "windows/amd64", 0},    {"linux/amd64", "linux/amd64/v3", 1},
    {"linux/amd64/v2", "linux/amd64", 1},   {"linux/amd64/v2", "linux/amd64/v3", 0},
    {"linux/amd64/v1", "linux/amd64", 2},   {"linux/x86_64", "linux/amd64", 2},
    {"Linux/amd64", "linux/AMD64", 2},	    {"linux/arm64", "linux/arm64/v8", 2},
    {"linux/arm64/v8", "linux/arm64", 2},   {"linux/aarch64", "linux/arm64/v8", 2},
    {"linux/arm64/8", "linux/arm64/v8", 2}, {"linux/arm64", "linux/arm64/v9", 0},
    {"linux/arm64/v9", "linux/arm64", 0},   {"linux/arm64", "linux/arm/v7", 0},
    {"linux/arm", "linux/arm/v7", 2},	    {"linux/armhf", "linux/arm/v7", 2},
    {"linux/armv7l", "linux/arm", 2},	    {"linux/arm/v6", "linux/arm/v7", 0},
    {"linux/arm/v6", "linux/arm", 0},	    {"linux/i686", "linux/386", 2},
    {"linux/386", "linux/amd64", 0},	    {"linux/riscv64", "linux/riscv64", 2},
};

static void split(const char *s, struct oci_platform *p)
{
	char *copy = strdup(s), *save = NULL, *part;

	assert_non_null(copy);
	*p = (struct oci_platform){0};
	part = strtok_r(copy, "/", &save);
	p->os = strdup(part);
	part = strtok_r(NULL, "/", &save);
	p->architecture = strdup(part);
	part = strtok_r(NULL, "/", &save);
	if (part)
		p->variant = strdup(part);
	free(copy);
}

static void test_match(void **state)
{
	const struct match_case *c = *state;
	struct oci_platform want, have;
	int score;

	split(c->want, &want);
	split(c->have, &have);
	score = oci_platform_match_score(&want, &have);
	if (score != c->score)
		fail_msg("want %s, have %s: score %d, expected %d", c->want, c->have, score,
			 c->score);
	assert_int_equal(oci_platform_match(&want, &have), c->score > 0);
	/* Matching does not rewrite its arguments. */
	assert_int_equal(strncmp(want.architecture, c->want + strcspn(c->want, "/") + 1,
				 strlen(want.architecture)),
			 0);
	oci_platform_free(&want);
	oci_platform_free(&have);
}

static void test_match_incomplete(void **state)
{
	struct oci_platform full = {.os = "linux", .architecture = "amd64"};
	struct oci_platform no_arch = {.os = "linux"};

	assert_false(oci_platform_match(&full, &no_arch));
	assert_false(oci_platform_match(&no_arch, &full));
	assert_false(oci_platform_match(NULL, &full));
	assert_false(oci_platform_match(&full, NULL));
}

static void test_host(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_platform host = {0};
	struct utsname uts;

	assert_int_equal(uname(&uts), 0);
	assert_int_equal(oci_platform_host(&host, &err), 0);
	assert_string_equal(host.os, "linux");
	if (strcmp(uts.machine, "x86_64") == 0) {
		assert_string_equal(host.architecture, "amd64");
		assert_null(host.variant);
	} else if (strcmp(uts.machine, "aarch64") == 0) {
		assert_string_equal(host.architecture, "arm64");
		assert_string_equal(host.variant, "v8");
	} else {
		assert_true(strlen(host.architecture) > 0);
	}
	oci_platform_free(&host);
}

static void test_copy_and_normalize(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct oci_platform src = {
	    .os = "Linux", .architecture = "aarch64", .variant = "8", .os_version = "10.0.17763"};
	struct oci_platform copy = {0}, missing = {0};

	assert_int_equal(oci_platform_copy(&copy, &src, &err), 0);
	assert_ptr_not_equal(copy.os, src.os);
	assert_string_equal(copy.os_version, "10.0.17763");
	assert_int_equal(oci_platform_normalize(&copy, &err), 0);
	assert_string_equal(copy.os, "linux");
	assert_string_equal(copy.architecture, "arm64");
	assert_string_equal(copy.variant, "v8");
	assert_string_equal(copy.os_version, "10.0.17763");
	/* The source is untouched. */
	assert_string_equal(src.architecture, "aarch64");
	oci_platform_free(&copy);
	assert_null(copy.os);

	missing.os = strdup("linux");
	assert_failure(oci_platform_normalize(&missing, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "needs both an os and an architecture");
	oci_platform_free(&missing);
	ct_error_clear(&err);
}

static void test_format_variant_and_empty(void **state)
{
	struct oci_platform p = {.os = "linux", .architecture = "arm", .variant = "v6"};
	char *s = oci_platform_format(&p);

	assert_string_equal(s, "linux/arm/v6");
	free(s);
}

int main(void)
{
	struct test_list list = {0};

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++)
		test_list_add(&list, test_parse, &parse_cases[i], "parse %s -> %s",
			      parse_cases[i].input, parse_cases[i].formatted);
	for (size_t i = 0; i < sizeof(invalid_platforms) / sizeof(invalid_platforms[0]); i++)
		test_list_add(&list, test_parse_invalid, invalid_platforms[i],
			      "invalid platform \"%s\"", invalid_platforms[i]);
	test_list_add(&list, test_parse_null, NULL, "NULL platform");
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++)
		test_list_add(&list, test_match, &match_cases[i], "want %s, have %s: %s",
			      match_cases[i].want, match_cases[i].have,
			      match_cases[i].score == 2	  ? "exact"
			      : match_cases[i].score == 1 ? "through an absent variant"
							  : "no match");
	test_list_add(&list, test_match_incomplete, NULL, "incomplete platforms never match");
	test_list_add(&list, test_host, NULL, "host platform");
	test_list_add(&list, test_copy_and_normalize, NULL, "copy and normalise");
	test_list_add(&list, test_format_variant_and_empty, NULL, "format with a variant");
	return test_list_run(&list, "oci-platform");
}
