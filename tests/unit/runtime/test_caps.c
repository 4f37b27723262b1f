/* Unit tests of the runtime's capability module: names, docker's
 * --cap-add/--cap-drop rules, the plans for root and non-root users, and the
 * sets a forked child ends up with (in /proc/self/status, before and after
 * execve). Runs as root. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "child_check.h"
#include "cleanup.h"

#define ALL_KNOWN ((UINT64_C(1) << (CAPS_LAST_KNOWN + 1)) - 1)
#define NOBODY	  65534

static const struct caps_host full_host = {.last_cap = CAPS_LAST_KNOWN, .available = ALL_KNOWN};

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

static int compute(const char *const *add, size_t n_add, const char *const *drop, size_t n_drop,
		   uint64_t available, uint64_t *out, struct ct_error *err)
{
	struct caps_request req = {.add = add, .n_add = n_add, .drop = drop, .n_drop = n_drop};

	return caps_compute(&req, available, out, err);
}

/* Names */

static void test_default_mask_is_dockers(void **state)
{
	static const int names[] = {
	    CAP_CHOWN,	 CAP_DAC_OVERRIDE, CAP_FSETID,		 CAP_FOWNER,
	    CAP_MKNOD,	 CAP_NET_RAW,	   CAP_SETGID,		 CAP_SETUID,
	    CAP_SETFCAP, CAP_SETPCAP,	   CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
	    CAP_KILL,	 CAP_AUDIT_WRITE};
	uint64_t mask = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		mask |= CAPS_BIT(names[i]);
	assert_true(mask == CAPS_DOCKER_DEFAULT);
	assert_true(CAPS_DOCKER_DEFAULT == UINT64_C(0xa80425fb));
}

static void test_names(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	int cap = -1;

	assert_string_equal(caps_name(CAP_CHOWN), "CAP_CHOWN");
	assert_string_equal(caps_name(CAP_NET_ADMIN), "CAP_NET_ADMIN");
	assert_string_equal(caps_name(CAP_CHECKPOINT_RESTORE), "CAP_CHECKPOINT_RESTORE");
	assert_null(caps_name(CAPS_LAST_KNOWN + 1));
	assert_null(caps_name(-1));
	for (int c = 0; c <= CAPS_LAST_KNOWN; c++) {
		assert_non_null(caps_name(c));
		assert_int_equal(caps_parse_name(caps_name(c), &cap, &err), 0);
		assert_int_equal(cap, c);
	}
	assert_int_equal(caps_parse_name("net_admin", &cap, &err), 0);
	assert_int_equal(cap, CAP_NET_ADMIN);
	assert_int_equal(caps_parse_name("Cap_Net_Admin", &cap, &err), 0);
	assert_int_equal(cap, CAP_NET_ADMIN);
	assert_int_equal(caps_parse_name("SYS_ADMIN", &cap, &err), 0);
	assert_int_equal(cap, CAP_SYS_ADMIN);
	assert_int_equal(caps_parse_name("cap_bpf", &cap, &err), 0);
	assert_int_equal(cap, CAP_BPF);
}

static void test_unknown_names(void **state)
{
	static const char *const bad[] = {"NET_ADMINX", "CAP_",	  "",  "CAP_CAP_CHOWN",
					  "ALL",	"chown ", "12"};
	struct ct_error err = CT_ERROR_INIT;
	int cap;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_failure(caps_parse_name(bad[i], &cap, &err), &err, CT_ERR_INVALID_ARGUMENT,
			       "unknown capability");
	assert_failure(caps_parse_name("FOO", &cap, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "unknown capability \"FOO\"");
}

/* docker's rules */

static void test_compute_default(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0;

	assert_int_equal(compute(NULL, 0, NULL, 0, ALL_KNOWN, &caps, &err), 0);
	assert_true(caps == CAPS_DOCKER_DEFAULT);
}

static void test_compute_drop_all_add_one(void **state)
{
	static const char *const add[] = {"NET_ADMIN"}, *const drop[] = {"ALL"};
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0;

	assert_int_equal(compute(add, 1, drop, 1, ALL_KNOWN, &caps, &err), 0);
	assert_true(caps == CAPS_BIT(CAP_NET_ADMIN));
	/* "all" in any case */
	static const char *const drop_lower[] = {"all"};
	assert_int_equal(compute(NULL, 0, drop_lower, 1, ALL_KNOWN, &caps, &err), 0);
	assert_true(caps == 0);
}

static void test_compute_add_all(void **state)
{
	static const char *const add[] = {"ALL"}, *const drop[] = {"sys_admin", "CAP_NET_ADMIN"};
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0;

	assert_int_equal(compute(add, 1, drop, 2, ALL_KNOWN, &caps, &err), 0);
	assert_true(caps == (ALL_KNOWN & ~CAPS_BIT(CAP_SYS_ADMIN) & ~CAPS_BIT(CAP_NET_ADMIN)));
	/* ALL is what the host has; --cap-add ALL wins over --cap-drop ALL (docker). */
	static const char *const drop_all[] = {"ALL"};
	uint64_t host = ALL_KNOWN & ~CAPS_BIT(CAP_SYS_RESOURCE);
	assert_int_equal(compute(add, 1, drop_all, 1, host, &caps, &err), 0);
	assert_true(caps == host);
}

static void test_compute_drop_then_add(void **state)
{
	static const char *const add[] = {"sys_ptrace", "NET_RAW"};
	static const char *const drop[] = {"NET_RAW", "mknod"};
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0;

	/* drop from the defaults, then add: NET_RAW both dropped and added stays. */
	assert_int_equal(compute(add, 2, drop, 2, ALL_KNOWN, &caps, &err), 0);
	assert_true(caps ==
		    ((CAPS_DOCKER_DEFAULT & ~CAPS_BIT(CAP_MKNOD)) | CAPS_BIT(CAP_SYS_PTRACE)));
}

static void test_compute_privileged(void **state)
{
	static const char *const drop[] = {"ALL"};
	struct caps_request req = {.drop = drop, .n_drop = 1, .privileged = true};
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0, host = ALL_KNOWN & ~CAPS_BIT(CAP_SYS_RESOURCE);

	assert_int_equal(caps_compute(&req, host, &caps, &err), 0);
	assert_true(caps == host);
}

static void test_compute_errors(void **state)
{
	static const char *const bad_add[] = {"NET_ADMIN", "FOO"}, *const bad_drop[] = {"BAR"};
	static const char *const resource[] = {"SYS_RESOURCE"};
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0x77, host = ALL_KNOWN & ~CAPS_BIT(CAP_SYS_RESOURCE);

	assert_failure(compute(bad_add, 2, NULL, 0, ALL_KNOWN, &caps, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "--cap-add: unknown capability \"FOO\"");
	assert_failure(compute(NULL, 0, bad_drop, 1, ALL_KNOWN, &caps, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "--cap-drop: unknown capability \"BAR\"");
	/* Adding what the runtime doesn't hold is an error that names it. */
	assert_failure(compute(resource, 1, NULL, 0, host, &caps, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "CAP_SYS_RESOURCE not available");
	assert_true(caps == 0x77);
}

static void test_compute_default_missing_on_host(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	uint64_t caps = 0, host = ALL_KNOWN & ~CAPS_BIT(CAP_MKNOD);

	/* A default the host lacks is left out (with a warning), not an error. */
	assert_int_equal(compute(NULL, 0, NULL, 0, host, &caps, &err), 0);
	assert_true(caps == (CAPS_DOCKER_DEFAULT & ~CAPS_BIT(CAP_MKNOD)));
}

/* Plans */

static void test_plan_root(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct caps_plan p;

	assert_int_equal(caps_prepare(CAPS_DOCKER_DEFAULT, 0, NULL, &full_host, &p, &err), 0);
	assert_true(p.bounding == CAPS_DOCKER_DEFAULT);
	assert_true(p.effective == CAPS_DOCKER_DEFAULT);
	assert_true(p.permitted == CAPS_DOCKER_DEFAULT);
	assert_true(p.inheritable == 0);
	assert_true(p.ambient == 0);
	assert_true(p.clear_ambient);
	assert_false(p.keep_caps);
	assert_int_equal(p.last_cap, CAPS_LAST_KNOWN);
}

static void test_plan_non_root(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct caps_options keep = {.nonroot_keeps_caps = true};
	struct caps_plan p;

	assert_int_equal(caps_prepare(CAPS_DOCKER_DEFAULT, 1000, NULL, &full_host, &p, &err), 0);
	assert_true(p.bounding == CAPS_DOCKER_DEFAULT);
	assert_true(p.effective == 0 && p.permitted == 0 && p.inheritable == 0 && p.ambient == 0);
	assert_false(p.keep_caps);

	assert_int_equal(caps_prepare(CAPS_DOCKER_DEFAULT, 1000, &keep, &full_host, &p, &err), 0);
	assert_true(p.effective == CAPS_DOCKER_DEFAULT && p.permitted == CAPS_DOCKER_DEFAULT);
	assert_true(p.inheritable == CAPS_DOCKER_DEFAULT && p.ambient == CAPS_DOCKER_DEFAULT);
	assert_true(p.keep_caps);
	/* The option changes nothing for root. */
	assert_int_equal(caps_prepare(CAPS_DOCKER_DEFAULT, 0, &keep, &full_host, &p, &err), 0);
	assert_true(p.inheritable == 0 && p.ambient == 0 && !p.keep_caps);
}

static void test_plan_masks_to_kernel(void **state)
{
	struct caps_host old_kernel = {.last_cap = CAP_AUDIT_READ, .available = ALL_KNOWN};
	struct ct_error err = CT_ERROR_INIT;
	struct caps_plan p;

	assert_int_equal(caps_prepare(ALL_KNOWN, 0, NULL, &old_kernel, &p, &err), 0);
	assert_true(p.bounding == (CAPS_BIT(CAP_AUDIT_READ + 1) - 1));
	assert_int_equal(p.last_cap, CAP_AUDIT_READ);
}

static void test_plan_exact(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct caps_plan p;
	uint64_t bpf = CAPS_BIT(CAP_BPF), raw = CAPS_BIT(CAP_NET_RAW);

	assert_int_equal(
	    caps_prepare_exact(ALL_KNOWN, bpf, bpf | raw, raw, raw, &full_host, &p, &err), 0);
	assert_true(p.bounding == ALL_KNOWN && p.effective == bpf && p.permitted == (bpf | raw));
	assert_true(p.inheritable == raw && p.ambient == raw && p.keep_caps);
	/* ambient must be permitted and inheritable */
	assert_failure(caps_prepare_exact(ALL_KNOWN, 0, raw, 0, raw, &full_host, &p, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "CAP_NET_RAW");
}

static void test_mask_from_names(void **state)
{
	static const char *const names[] = {"CAP_CHOWN", "kill"}, *const bad[] = {"ALL"};
	struct ct_error err = CT_ERROR_INIT;
	uint64_t mask = 0;

	assert_int_equal(caps_mask_from_names(names, 2, &mask, &err), 0);
	assert_true(mask == (CAPS_BIT(CAP_CHOWN) | CAPS_BIT(CAP_KILL)));
	assert_failure(caps_mask_from_names(bad, 1, &mask, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "\"ALL\"");
}

static void test_to_json_and_string(void **state)
{
	_cleanup_free_ char *s = caps_to_string(CAPS_BIT(CAP_CHOWN) | CAPS_BIT(CAP_KILL));
	_cleanup_free_ char *none = caps_to_string(0);
	_cleanup_free_ char *unnamed = caps_to_string(CAPS_BIT(50));
	json_t *j = caps_to_json(CAPS_DOCKER_DEFAULT);

	assert_string_equal(s, "CAP_CHOWN,CAP_KILL");
	assert_string_equal(none, "");
	assert_string_equal(unnamed, "CAP_50");
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 14);
	assert_string_equal(json_string_value(json_array_get(j, 0)), "CAP_CHOWN");
	assert_string_equal(json_string_value(json_array_get(j, 13)), "CAP_SETFCAP");
	json_decref(j);
}

static void test_host_read(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct caps_host host;
	int last = -1;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &last), 1);
	fclose(f);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	uint64_t permitted;

	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	permitted = d[0].permitted | ((uint64_t)d[1].permitted << 32);
	assert_int_equal(caps_host_read(&host, &err), 0);
	assert_int_equal(host.last_cap, last);
	for (int cap = 0; cap <= last; cap++)
		assert_int_equal(!!(host.available & CAPS_BIT(cap)),
				 prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
				     (permitted & CAPS_BIT(cap)));
	assert_true(last >= 63 || (host.available >> (last + 1)) == 0);
}

/* In a child: the sets the kernel reports */

struct expect {
	uint64_t plan_caps;
	uid_t uid;
	bool keep;
	uint64_t bnd, eff, prm, inh, amb;
	bool after_exec; /* read the sets of an execve'd /bin/cat, as the container sees them */
};

static int check_sets(const char *status, const struct expect *x, char *msg, size_t size)
{
	static const char *const names[] = {"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"};
	const uint64_t want[] = {x->bnd, x->eff, x->prm, x->inh, x->amb};
	char v[64];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char expected[32];

		snprintf(expected, sizeof(expected), "%016" PRIx64, want[i]);
		CHILD_CHECK(status_field(status, names[i], v, sizeof(v)), "no %s line", names[i]);
		CHILD_CHECK(strcmp(v, expected) == 0, "%s%s: %s, expected %s", names[i],
			    x->after_exec ? " after execve" : "", v, expected);
	}
	return 0;
}

static int apply_child(void *arg, char *msg, size_t size)
{
	const struct expect *x = arg;
	struct ct_error err = CT_ERROR_INIT;
	struct caps_options opts = {.nonroot_keeps_caps = x->keep};
	struct caps_plan plan;
	const char *step = NULL;
	char status[8192], v[64];
	int rc, fds[2];

	CHILD_CHECK(caps_prepare(x->plan_caps, x->uid, &opts, NULL, &plan, &err) == 0,
		    "caps_prepare: %s", ct_error_message(&err));
	rc = caps_apply_identity(&plan, x->uid, x->uid, NULL, 0, &step);
	CHILD_CHECK(rc == 0, "%s: %s", step ? step : "?", strerror(-rc));
	CHILD_CHECK(getuid() == x->uid && geteuid() == x->uid, "uid %u", (unsigned)getuid());
	if (!x->after_exec) {
		CHILD_CHECK(read_self_status(status, sizeof(status)), "reading /proc/self/status");
		return check_sets(status, x, msg, size);
	}

	/* The sets across execve: what the container's first process holds. */
	CHILD_CHECK(caps_set_no_new_privs() == 0, "no_new_privs");
	CHILD_CHECK(pipe(fds) == 0, "pipe");
	pid_t pid = fork();
	CHILD_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execl("/bin/cat", "cat", "/proc/self/status", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], status + got, sizeof(status) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	status[got] = '\0';
	waitpid(pid, NULL, 0);
	CHILD_CHECK(status_field(status, "Uid", v, sizeof(v)), "cat printed no status");
	return check_sets(status, x, msg, size);
}

static void run_expect(struct expect x)
{
	run_child_check(apply_child, &x);
	x.after_exec = true;
	run_child_check(apply_child, &x);
}

static void test_apply_default_root(void **state)
{
	const uint64_t d = CAPS_DOCKER_DEFAULT;

	run_expect((struct expect){.plan_caps = d, .uid = 0, .bnd = d, .eff = d, .prm = d});
}

static void test_apply_drop_all_add_net_admin(void **state)
{
	static const char *const add[] = {"NET_ADMIN"}, *const drop[] = {"ALL"};
	struct ct_error err = CT_ERROR_INIT;
	struct caps_host host;
	uint64_t caps;

	assert_int_equal(caps_host_read(&host, &err), 0);
	assert_int_equal(compute(add, 1, drop, 1, host.available, &caps, &err), 0);
	assert_true(caps == UINT64_C(0x1000));
	run_expect(
	    (struct expect){.plan_caps = caps, .uid = 0, .bnd = caps, .eff = caps, .prm = caps});
}

static void test_apply_non_root(void **state)
{
	const uint64_t d = CAPS_DOCKER_DEFAULT;

	/* docker: a non-root user holds nothing but keeps the bounding set. */
	run_expect((struct expect){.plan_caps = d, .uid = NOBODY, .bnd = d});
}

static void test_apply_non_root_keeping_caps(void **state)
{
	const uint64_t c = CAPS_BIT(CAP_NET_BIND_SERVICE) | CAPS_BIT(CAP_CHOWN);

	run_expect((struct expect){.plan_caps = c,
				   .uid = NOBODY,
				   .keep = true,
				   .bnd = c,
				   .eff = c,
				   .prm = c,
				   .inh = c,
				   .amb = c});
}

static int ambient_cleared_child(void *arg, char *msg, size_t size)
{
	struct ct_error err = CT_ERROR_INIT;
	struct caps_plan plan;
	char status[8192], v[64];
	int rc;

	/* Give this process an ambient capability, then apply the default plan. */
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	CHILD_CHECK(syscall(SYS_capget, &h, d) == 0, "capget");
	d[0].inheritable |= CAP_TO_MASK(CAP_KILL);
	CHILD_CHECK(syscall(SYS_capset, &h, d) == 0, "capset: %s", strerror(errno));
	CHILD_CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) == 0,
		    "raising an ambient capability: %s", strerror(errno));
	CHILD_CHECK(caps_prepare(CAPS_DOCKER_DEFAULT, 0, NULL, NULL, &plan, &err) == 0, "prepare");
	rc = caps_apply_bounding(&plan);
	CHILD_CHECK(rc == 0, "bounding: %s", strerror(-rc));
	rc = caps_apply_final(&plan);
	CHILD_CHECK(rc == 0, "final: %s", strerror(-rc));
	CHILD_CHECK(read_self_status(status, sizeof(status)), "status");
	CHILD_CHECK(status_field(status, "CapAmb", v, sizeof(v)) &&
			strcmp(v, "0000000000000000") == 0,
		    "CapAmb: %s", v);
	CHILD_CHECK(status_field(status, "CapInh", v, sizeof(v)) &&
			strcmp(v, "0000000000000000") == 0,
		    "CapInh: %s", v);
	return 0;
}

static void test_apply_clears_inherited_ambient(void **state)
{
	run_child_check(ambient_cleared_child, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_mask_is_dockers),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_unknown_names),
	    cmocka_unit_test(test_compute_default),
	    cmocka_unit_test(test_compute_drop_all_add_one),
	    cmocka_unit_test(test_compute_add_all),
	    cmocka_unit_test(test_compute_drop_then_add),
	    cmocka_unit_test(test_compute_privileged),
	    cmocka_unit_test(test_compute_errors),
	    cmocka_unit_test(test_compute_default_missing_on_host),
	    cmocka_unit_test(test_plan_root),
	    cmocka_unit_test(test_plan_non_root),
	    cmocka_unit_test(test_plan_masks_to_kernel),
	    cmocka_unit_test(test_plan_exact),
	    cmocka_unit_test(test_mask_from_names),
	    cmocka_unit_test(test_to_json_and_string),
	    cmocka_unit_test(test_host_read),
	    cmocka_unit_test(test_apply_default_root),
	    cmocka_unit_test(test_apply_drop_all_add_net_admin),
	    cmocka_unit_test(test_apply_non_root),
	    cmocka_unit_test(test_apply_non_root_keeping_caps),
	    cmocka_unit_test(test_apply_clears_inherited_ambient),
	};

	return cmocka_run_group_tests_name("runtime-caps", tests, NULL, NULL);
}
