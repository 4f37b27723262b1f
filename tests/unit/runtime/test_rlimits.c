/* Unit tests of the runtime's rlimits module: --ulimit parsing and its errors,
 * defaults and clamping against a made-up host (so they don't depend on this
 * machine), and setrlimit in a forked child against the real one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "child_check.h"
#include "cleanup.h"
#include "rlimits.h"

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
	ct_error_clear(err);
}

/* A host like ours: no CAP_SYS_RESOURCE, hard nofile 20000, nr_open 1048576. */
static struct rlimits_host made_up_host(bool can_raise)
{
	struct rlimits_host h = {.nr_open = 1048576, .can_raise = can_raise};

	for (int r = 0; r < RLIMITS_MAX; r++)
		h.current[r] = (struct rlimit){RLIM_INFINITY, RLIM_INFINITY};
	h.current[RLIMIT_NOFILE] = (struct rlimit){1024, 20000};
	h.current[RLIMIT_NPROC] = (struct rlimit){4000, 8000};
	return h;
}

static const struct rlimits_entry *find(const struct rlimits_plan *p, int resource)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->entries[i].resource == resource)
			return &p->entries[i];
	return NULL;
}

static void assert_entry(const struct rlimits_plan *p, int resource, rlim_t soft, rlim_t hard,
			 bool clamped)
{
	const struct rlimits_entry *e = find(p, resource);

	if (!e)
		fail_msg("no entry for %s", rlimits_name(resource));
	if (e->limit.rlim_cur != soft || e->limit.rlim_max != hard || e->clamped != clamped)
		fail_msg("%s: %llu:%llu clamped=%d, expected %llu:%llu clamped=%d",
			 rlimits_name(resource), (unsigned long long)e->limit.rlim_cur,
			 (unsigned long long)e->limit.rlim_max, e->clamped,
			 (unsigned long long)soft, (unsigned long long)hard, clamped);
}

/* Names */

static void test_names(void **state)
{
	assert_int_equal(rlimits_resource_from_name("nofile"), RLIMIT_NOFILE);
	assert_int_equal(rlimits_resource_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_int_equal(rlimits_resource_from_name("NoFile"), RLIMIT_NOFILE);
	assert_int_equal(rlimits_resource_from_name("nproc"), RLIMIT_NPROC);
	assert_int_equal(rlimits_resource_from_name("core"), RLIMIT_CORE);
	assert_int_equal(rlimits_resource_from_name("memlock"), RLIMIT_MEMLOCK);
	assert_int_equal(rlimits_resource_from_name("stack"), RLIMIT_STACK);
	assert_int_equal(rlimits_resource_from_name("cpu"), RLIMIT_CPU);
	assert_int_equal(rlimits_resource_from_name("fsize"), RLIMIT_FSIZE);
	assert_int_equal(rlimits_resource_from_name("rttime"), RLIMIT_RTTIME);
	assert_int_equal(rlimits_resource_from_name("files"), -1);
	assert_int_equal(rlimits_resource_from_name(""), -1);
	assert_int_equal(rlimits_resource_from_name("RLIMIT_"), -1);
	assert_string_equal(rlimits_name(RLIMIT_NOFILE), "nofile");
	assert_string_equal(rlimits_name(RLIMIT_SIGPENDING), "sigpending");
	assert_null(rlimits_name(999));
	/* every resource the kernel has, has a name */
	for (int r = 0; r < RLIMITS_MAX; r++)
		assert_non_null(rlimits_name(r));
}

/* Parsing */

static void test_parse_valid(void **state)
{
	static const struct {
		const char *spec;
		int resource;
		rlim_t soft, hard;
	} cases[] = {
	    {"nofile=1024:2048", RLIMIT_NOFILE, 1024, 2048},
	    {"nofile=1024", RLIMIT_NOFILE, 1024, 1024},
	    {"nproc=0:0", RLIMIT_NPROC, 0, 0},
	    {"core=-1", RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY},
	    {"core=unlimited", RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY},
	    {"core=0:unlimited", RLIMIT_CORE, 0, RLIM_INFINITY},
	    {"core=0:-1", RLIMIT_CORE, 0, RLIM_INFINITY},
	    {"memlock=-1:-1", RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY},
	    {"stack=8388608:UNLIMITED", RLIMIT_STACK, 8388608, RLIM_INFINITY},
	    {"RLIMIT_CPU=10:20", RLIMIT_CPU, 10, 20},
	    {"rtprio=99", RLIMIT_RTPRIO, 99, 99},
	};
	struct ct_error err = CT_ERROR_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rlimit_setting s;

		if (rlimits_parse_ulimit(cases[i].spec, &s, &err) < 0)
			fail_msg("%s: %s", cases[i].spec, ct_error_message(&err));
		assert_int_equal(s.resource, cases[i].resource);
		assert_true(s.soft == cases[i].soft);
		assert_true(s.hard == cases[i].hard);
	}
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *spec, *needle;
	} cases[] = {
	    {"nofile", "expected TYPE=SOFT[:HARD]"},
	    {"", "expected TYPE=SOFT[:HARD]"},
	    {"=10", "unknown type \"\""},
	    {"files=10", "unknown type \"files\" (known: as, core,"},
	    {"nofile=", "non-negative number"},
	    {"nofile=abc", "non-negative number"},
	    {"nofile=-2", "non-negative number"},
	    {"nofile=+5", "non-negative number"},
	    {"nofile= 5", "non-negative number"},
	    {"nofile=1:2:3", "non-negative number"},
	    {"nofile=1:", "non-negative number"},
	    {"nofile=18446744073709551615", "non-negative number"},
	    {"nofile=99999999999999999999999", "non-negative number"},
	    {"nofile=2048:1024", "the soft limit (2048) is above the hard limit (1024)"},
	    {"core=unlimited:10", "the soft limit (unlimited) is above the hard limit (10)"},
	};
	struct ct_error err = CT_ERROR_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rlimit_setting s;
		int rc = rlimits_parse_ulimit(cases[i].spec, &s, &err);

		if (rc == 0)
			fail_msg("\"%s\" was accepted", cases[i].spec);
		if (!strstr(ct_error_message(&err), cases[i].spec))
			fail_msg("message \"%s\" does not quote \"%s\"", ct_error_message(&err),
				 cases[i].spec);
		assert_failure(rc, &err, CT_ERR_INVALID_ARGUMENT, cases[i].needle);
	}
}

/* Defaults and clamping */

static void test_default_nofile_clamped_to_host_hard(void **state)
{
	struct rlimits_host host = made_up_host(false);
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(NULL, 0, true, &host, &p, &err), 0);
	assert_int_equal(p.n, 1);
	assert_entry(&p, RLIMIT_NOFILE, 20000, 20000, true);
	/* No default for nproc (see rlimits_prepare). */
	assert_null(find(&p, RLIMIT_NPROC));
}

static void test_default_nofile_clamped_to_nr_open(void **state)
{
	struct rlimits_host host = made_up_host(true);
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(NULL, 0, true, &host, &p, &err), 0);
	assert_entry(&p, RLIMIT_NOFILE, RLIMITS_DEFAULT_NOFILE, RLIMITS_DEFAULT_NOFILE, false);
	host.nr_open = 65536;
	assert_int_equal(rlimits_prepare(NULL, 0, true, &host, &p, &err), 0);
	assert_entry(&p, RLIMIT_NOFILE, 65536, 65536, true);
}

static void test_no_defaults(void **state)
{
	struct rlimits_host host = made_up_host(false);
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(NULL, 0, false, &host, &p, &err), 0);
	assert_int_equal(p.n, 0);
}

static void test_requested_within_limits(void **state)
{
	struct rlimits_host host = made_up_host(false);
	struct rlimit_setting req[] = {
	    {RLIMIT_NOFILE, 1000, 2000},
	    {RLIMIT_CORE, 0, 0},
	    {RLIMIT_NPROC, 100, 8000},
	};
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(req, ARRAY_SIZE(req), true, &host, &p, &err), 0);
	assert_int_equal(p.n, 3); /* the request replaces the default nofile */
	assert_entry(&p, RLIMIT_NOFILE, 1000, 2000, false);
	assert_entry(&p, RLIMIT_CORE, 0, 0, false);
	assert_entry(&p, RLIMIT_NPROC, 100, 8000, false);
	/* In the order given. */
	assert_int_equal(p.entries[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p.entries[2].resource, RLIMIT_NPROC);
}

static void test_requested_above_host_is_clamped(void **state)
{
	struct rlimits_host host = made_up_host(false);
	struct rlimit_setting req[] = {
	    {RLIMIT_NOFILE, 30000, 40000},
	    {RLIMIT_NPROC, 100, 9000},
	    {RLIMIT_CORE, 0, RLIM_INFINITY},
	};
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(req, ARRAY_SIZE(req), true, &host, &p, &err), 0);
	/* Without CAP_SYS_RESOURCE the runtime's own hard limit is the ceiling. */
	assert_entry(&p, RLIMIT_NOFILE, 20000, 20000, true);
	assert_entry(&p, RLIMIT_NPROC, 100, 8000, true); /* soft stays below */
	assert_entry(&p, RLIMIT_CORE, 0, RLIM_INFINITY, false);
}

static void test_nr_open_caps_even_with_sys_resource(void **state)
{
	struct rlimits_host host = made_up_host(true);
	struct rlimit_setting req[] = {
	    {RLIMIT_NOFILE, RLIM_INFINITY, RLIM_INFINITY},
	    {RLIMIT_NPROC, 100, 1000000},
	};
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(req, ARRAY_SIZE(req), true, &host, &p, &err), 0);
	assert_entry(&p, RLIMIT_NOFILE, 1048576, 1048576, true);
	/* With CAP_SYS_RESOURCE a hard limit above ours can be set. */
	assert_entry(&p, RLIMIT_NPROC, 100, 1000000, false);
}

static void test_later_request_wins(void **state)
{
	struct rlimits_host host = made_up_host(false);
	struct rlimit_setting req[] = {
	    {RLIMIT_NOFILE, 100, 200},
	    {RLIMIT_CORE, 1, 1},
	    {RLIMIT_NOFILE, 300, 400},
	};
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_int_equal(rlimits_prepare(req, ARRAY_SIZE(req), false, &host, &p, &err), 0);
	assert_int_equal(p.n, 2);
	assert_entry(&p, RLIMIT_NOFILE, 300, 400, false);
}

static void test_prepare_errors(void **state)
{
	struct rlimits_host host = made_up_host(false);
	struct rlimit_setting soft_above[] = {{RLIMIT_NOFILE, 200, 100}};
	struct rlimit_setting unknown[] = {{RLIMITS_MAX + 3, 1, 1}};
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_plan p;

	assert_failure(rlimits_prepare(soft_above, 1, true, &host, &p, &err), &err,
		       CT_ERR_INVALID_ARGUMENT,
		       "ulimit nofile: the soft limit (200) is above the hard limit (100)");
	assert_failure(rlimits_prepare(unknown, 1, true, &host, &p, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "unknown resource");
}

static void test_host_read(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_host host;
	struct rlimit nofile;
	unsigned long long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &nr_open), 1);
	fclose(f);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	assert_int_equal(rlimits_host_read(&host, &err), 0);
	assert_true(host.nr_open == nr_open);
	assert_true(host.current[RLIMIT_NOFILE].rlim_max == nofile.rlim_max);
	assert_true(host.current[RLIMIT_NOFILE].rlim_cur == nofile.rlim_cur);
}

/* Applying, in a child */

struct apply_case {
	const char *const *ulimits;
	size_t n;
};

static int apply_child(void *arg, char *msg, size_t size)
{
	const struct apply_case *c = arg;
	struct rlimit_setting req[8];
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_host host;
	struct rlimits_plan p;
	size_t failed = 99;
	int rc;

	for (size_t i = 0; i < c->n; i++)
		CHILD_CHECK(rlimits_parse_ulimit(c->ulimits[i], &req[i], &err) == 0, "%s: %s",
			    c->ulimits[i], ct_error_message(&err));
	CHILD_CHECK(rlimits_host_read(&host, &err) == 0, "%s", ct_error_message(&err));
	CHILD_CHECK(rlimits_prepare(req, c->n, true, NULL, &p, &err) == 0, "%s",
		    ct_error_message(&err));
	rc = rlimits_apply(&p, &failed);
	CHILD_CHECK(rc == 0, "rlimits_apply: %s (entry %zu)", strerror(-rc), failed);
	for (size_t i = 0; i < p.n; i++) {
		struct rlimit now;

		CHILD_CHECK(getrlimit(p.entries[i].resource, &now) == 0, "getrlimit");
		CHILD_CHECK(now.rlim_cur == p.entries[i].limit.rlim_cur &&
				now.rlim_max == p.entries[i].limit.rlim_max,
			    "%s is %llu:%llu", rlimits_name(p.entries[i].resource),
			    (unsigned long long)now.rlim_cur, (unsigned long long)now.rlim_max);
	}
	/* The default nofile: as high as this host lets us go. */
	if (c->n == 0) {
		rlim_t want = RLIMITS_DEFAULT_NOFILE;
		struct rlimit now;

		if (host.nr_open < want)
			want = host.nr_open;
		if (!host.can_raise && host.current[RLIMIT_NOFILE].rlim_max < want)
			want = host.current[RLIMIT_NOFILE].rlim_max;
		CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == want &&
				now.rlim_max == want,
			    "default nofile %llu:%llu, expected %llu",
			    (unsigned long long)now.rlim_cur, (unsigned long long)now.rlim_max,
			    (unsigned long long)want);
	}
	return 0;
}

static void test_apply_defaults(void **state)
{
	struct apply_case c = {0};

	run_child_check(apply_child, &c);
}

static void test_apply_requested(void **state)
{
	static const char *const ulimits[] = {"nofile=1024:2048", "core=0:0", "nproc=512:1024",
					      "cpu=100:unlimited"};
	struct apply_case c = {ulimits, ARRAY_SIZE(ulimits)};

	run_child_check(apply_child, &c);
}

static int apply_failure_child(void *arg, char *msg, size_t size)
{
	struct ct_error err = CT_ERROR_INIT;
	struct rlimits_host host;
	struct rlimits_plan p = {0};
	size_t failed = 99;
	int rc;

	CHILD_CHECK(rlimits_host_read(&host, &err) == 0, "%s", ct_error_message(&err));
	/* Past fs.nr_open: no process can set it, whatever it holds. */
	p.n = 2;
	p.entries[0] = (struct rlimits_entry){RLIMIT_CORE, {0, 0}, false};
	p.entries[1] =
	    (struct rlimits_entry){RLIMIT_NOFILE, {host.nr_open + 1, host.nr_open + 1}, false};
	rc = rlimits_apply(&p, &failed);
	CHILD_CHECK(rc == -EPERM, "rlimits_apply: %d", rc);
	CHILD_CHECK(failed == 1, "failed entry %zu", failed);
	rlimits_describe_failure(&p, failed, rc, &err);
	CHILD_CHECK(strstr(ct_error_message(&err), "setting ulimit nofile=") &&
			strstr(ct_error_message(&err), strerror(EPERM)),
		    "message: %s", ct_error_message(&err));
	CHILD_CHECK(err.errnum == EPERM, "errnum %d", err.errnum);
	ct_error_clear(&err);
	return 0;
}

static void test_apply_failure_is_reported(void **state)
{
	run_child_check(apply_failure_child, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_default_nofile_clamped_to_host_hard),
	    cmocka_unit_test(test_default_nofile_clamped_to_nr_open),
	    cmocka_unit_test(test_no_defaults),
	    cmocka_unit_test(test_requested_within_limits),
	    cmocka_unit_test(test_requested_above_host_is_clamped),
	    cmocka_unit_test(test_nr_open_caps_even_with_sys_resource),
	    cmocka_unit_test(test_later_request_wins),
	    cmocka_unit_test(test_prepare_errors),
	    cmocka_unit_test(test_host_read),
	    cmocka_unit_test(test_apply_defaults),
	    cmocka_unit_test(test_apply_requested),
	    cmocka_unit_test(test_apply_failure_is_reported),
	};

	return cmocka_run_group_tests_name("runtime-rlimits", tests, NULL, NULL);
}
