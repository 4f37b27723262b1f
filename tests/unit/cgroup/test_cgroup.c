/* Unit tests of src/plugins/runtime-linux/cgroup: the parsers and formatters for
 * every layout, then the live behaviour on this host's own layout (root only):
 * creation, limits, attaching and entering before exec, statistics, OOM kills,
 * the pids limit, killing and destroying. On a hybrid host the v2 backend also runs
 * against the cgroup2 mount beside the v1 controllers (which holds no controller
 * we use), so its directory, process and kill paths are exercised there too.
 *
 * Every cgroup is "container-test-<pid>/<n>" (and "container-test-<pid>-v2/<n>" on
 * the cgroup2 mount of a hybrid host); the teardown kills what the test forked and
 * removes the cgroup even when a test fails. */
#define CGROUP_BACKEND
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "util.h"

#define MiB (1024 * 1024)

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

#define assert_ok(expr, err)                                                                       \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			fail_msg("%s: %s", #expr, ct_error_message(err));                          \
	} while (0)

/* Parsers and formatters */

static void test_cpu_max(void **state)
{
	char buf[48];
	int64_t quota, period;

	assert_int_equal(cgroup_format_cpu_max(150000, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "150000 100000");
	assert_int_equal(cgroup_format_cpu_max(-1, -1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "max 100000");
	assert_int_equal(cgroup_format_cpu_max(-1, 250000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "max 250000");
	assert_int_equal(cgroup_format_cpu_max(50000, -1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "50000 100000");
	assert_int_equal(cgroup_format_cpu_max(150000, 100000, buf, 8), -ENOSPC);

	assert_int_equal(cgroup_parse_cpu_max("max 100000\n", &quota, &period), 0);
	assert_true(quota == -1 && period == 100000);
	assert_int_equal(cgroup_parse_cpu_max("150000 100000\n", &quota, &period), 0);
	assert_true(quota == 150000 && period == 100000);
	assert_int_equal(cgroup_parse_cpu_max("max", &quota, &period), 0);
	assert_true(quota == -1 && period == 100000);
	assert_int_equal(cgroup_parse_cpu_max("2000 1000", &quota, &period), 0);
	assert_true(quota == 2000 && period == 1000);

	static const char *const bad[] = {"",	 "maxx 1", "max  1", "-1 100000", "1 -1",
					  "1 0", "1 2 3",  "abc",    "1\t2",	  "1 2x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (cgroup_parse_cpu_max(bad[i], &quota, &period) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);

	/* Round trip */
	assert_int_equal(cgroup_format_cpu_max(123456, 654321, buf, sizeof(buf)), 0);
	assert_int_equal(cgroup_parse_cpu_max(buf, &quota, &period), 0);
	assert_true(quota == 123456 && period == 654321);
}

static void test_limits_cpus(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_limits l;

	cgroup_limits_init(&l);
	assert_true(l.memory == -1 && l.memory_swap == 0 && l.cpu_quota_us == -1 &&
		    l.cpu_period_us == -1 && l.pids == -1);
	assert_ok(cgroup_limits_set_cpus(&l, 0.5, &err), &err);
	assert_true(l.cpu_quota_us == 50000 && l.cpu_period_us == 100000);
	assert_ok(cgroup_limits_set_cpus(&l, 1, &err), &err);
	assert_true(l.cpu_quota_us == 100000);
	assert_ok(cgroup_limits_set_cpus(&l, 0.01, &err), &err);
	assert_true(l.cpu_quota_us == 1000);
	assert_failure(cgroup_limits_set_cpus(&l, 0, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "must be positive");
	assert_failure(cgroup_limits_set_cpus(&l, -2, &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
	assert_failure(cgroup_limits_set_cpus(&l, 0.001, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "the range is 0.01 to");
	assert_failure(cgroup_limits_set_cpus(&l, 100000, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "CPUs online");
	assert_true(l.cpu_quota_us == 1000); /* unchanged by a refusal */
}

static void test_limits_swap(void **state)
{
	struct cgroup_limits l;

	cgroup_limits_init(&l);
	assert_true(cgroup_limits_memory_swap(&l) == -1);
	l.memory = 64 * MiB;
	assert_true(cgroup_limits_memory_swap(&l) == 128 * MiB); /* docker: 2 x memory */
	l.memory_swap = -1;
	assert_true(cgroup_limits_memory_swap(&l) == -1);
	l.memory_swap = 64 * MiB;
	assert_true(cgroup_limits_memory_swap(&l) == 64 * MiB);
	l.memory_swap = 100 * MiB;
	assert_true(cgroup_limits_memory_swap(&l) == 100 * MiB);
	l.memory = -1;
	assert_true(cgroup_limits_memory_swap(&l) == -1);
}

static void test_limits_validate(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_limits l;

	cgroup_limits_init(&l);
	assert_ok(cgroup_limits_validate(&l, &err), &err);
	l.memory = 32 * MiB;
	l.memory_swap = 32 * MiB;
	l.cpu_quota_us = 50000;
	l.cpu_period_us = 100000;
	l.pids = 5;
	assert_ok(cgroup_limits_validate(&l, &err), &err);

	l.memory_swap = 16 * MiB;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "must be at least the memory limit");
	l.memory_swap = -2;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
	l.memory_swap = 64 * MiB;
	l.memory = -1;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "needs a memory limit");
	l.memory_swap = 0;
	l.memory = 1 * MiB;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "minimum is 6 MiB");
	l.memory = 0;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
	l.memory = -1;
	l.cpu_quota_us = 999;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "CPU quota");
	l.cpu_quota_us = -1;
	l.cpu_period_us = 999;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "CPU period");
	l.cpu_period_us = 1000001;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
	l.cpu_period_us = -1;
	l.pids = 0;
	assert_failure(cgroup_limits_validate(&l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "pids limit");
}

static void test_parse_numbers(void **state)
{
	char buf[32];
	uint64_t v;

	cgroup_format_limit(-1, true, buf, sizeof(buf));
	assert_string_equal(buf, "max");
	cgroup_format_limit(-1, false, buf, sizeof(buf));
	assert_string_equal(buf, "-1");
	cgroup_format_limit(33554432, true, buf, sizeof(buf));
	assert_string_equal(buf, "33554432");
	cgroup_format_limit(0, false, buf, sizeof(buf));
	assert_string_equal(buf, "0");

	assert_int_equal(cgroup_parse_u64("max\n", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cgroup_parse_u64("9223372036854771712\n", &v), 0);
	assert_true(v == 9223372036854771712ULL);
	assert_int_equal(cgroup_parse_u64(" 42 ", &v), 0);
	assert_true(v == 42);
	assert_int_equal(cgroup_parse_u64("", &v), -EINVAL);
	assert_int_equal(cgroup_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(cgroup_parse_u64("12ab", &v), -EINVAL);
	assert_int_equal(cgroup_parse_u64("maxi", &v), -EINVAL);
	assert_int_equal(cgroup_parse_u64("99999999999999999999999", &v), -ERANGE);
}

static void test_parse_keyed(void **state)
{
	const char *oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
	const char *events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
	const char *cpu_stat = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567";
	uint64_t v = 7;

	assert_int_equal(cgroup_parse_keyed(oom_control, "oom_kill", &v), 0);
	assert_true(v == 3);
	assert_int_equal(cgroup_parse_keyed(oom_control, "under_oom", &v), 0);
	assert_true(v == 0);
	assert_int_equal(cgroup_parse_keyed(events, "oom_kill", &v), 0);
	assert_true(v == 1);
	assert_int_equal(cgroup_parse_keyed(events, "oom", &v), 0);
	assert_true(v == 2); /* not "oom_kill" nor "oom_group_kill" */
	assert_int_equal(cgroup_parse_keyed(events, "max", &v), 0);
	assert_true(v == 12);
	assert_int_equal(cgroup_parse_keyed(cpu_stat, "system_usec", &v), 0); /* no newline */
	assert_true(v == 234567);
	assert_int_equal(cgroup_parse_keyed(cpu_stat, "usage", &v), -ENOENT);
	assert_int_equal(cgroup_parse_keyed("", "oom_kill", &v), -ENOENT);
	assert_int_equal(cgroup_parse_keyed("oom_kill x\n", "oom_kill", &v), -EINVAL);
	assert_int_equal(cgroup_parse_keyed("oom_kill \n", "oom_kill", &v), -EINVAL);
}

static void test_parse_io(void **state)
{
	const char *v1 = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n"
			 "8:0 Discard 0\n8:0 Total 12288\n8:16 Read 100\n8:16 Write 1\n"
			 "Total 12389\n";
	const char *v2 = "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
			 "8:16 rbytes=100 wbytes=1 rios=1 wios=1 dbytes=0 dios=0\n";
	uint64_t r = 9, w = 9;

	cgroup_parse_blkio_v1(v1, &r, &w);
	assert_true(r == 4196 && w == 8193);
	cgroup_parse_blkio_v1("", &r, &w);
	assert_true(r == 0 && w == 0);
	cgroup_parse_io_stat(v2, &r, &w);
	assert_true(r == 4196 && w == 8193);
	cgroup_parse_io_stat("8:0 rbytes=5", &r, &w);
	assert_true(r == 5 && w == 0);
	cgroup_parse_io_stat("", &r, &w);
	assert_true(r == 0 && w == 0);
}

static void test_parse_pids(void **state)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 9;

	assert_int_equal(cgroup_parse_pids("12\n345\n0\n6\n", &pids, &n), 0);
	assert_int_equal(n, 3); /* 0: a process of another pid namespace */
	assert_true(pids[0] == 12 && pids[1] == 345 && pids[2] == 6);
	free(pids);
	pids = NULL;
	assert_int_equal(cgroup_parse_pids("", &pids, &n), 0);
	assert_int_equal(n, 0);
	free(pids);
	pids = NULL;
	assert_int_equal(cgroup_parse_pids("12\nx\n", &pids, &n), -EINVAL);
	assert_int_equal(cgroup_parse_pids("-3\n", &pids, &n), -EINVAL);
	assert_int_equal(cgroup_parse_pids("12 13\n", &pids, &n), -EINVAL);
}

static void test_name_valid(void **state)
{
	static const char *const good[] = {"container/abc123", "a", "container-test-12/3",
					   "x.y/z_w:1@2", "machine.slice/c"};
	static const char *const bad[] = {"",	 "/container", "container/", "a//b", "a/../b", "..",
					  "./a", "a/.",	       "a b",	     "a\nb", "a/b\\c"};
	char long_name[300];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!cgroup_name_valid(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (cgroup_name_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(cgroup_name_valid(NULL));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(cgroup_name_valid(long_name));
}

/* A systemd hybrid host: cpu,cpuacct co-mounted, a named hierarchy, a duplicate
 * mount elsewhere, an escaped space. */
static const char mountinfo_hybrid[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "25 30 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "40 0 0:29 / /mnt/my\\040memory rw - cgroup cgroup rw,memory\n"
    "26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
    "31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory\n"
    "32 25 0:30 / /sys/fs/cgroup/pids rw shared:16 shared:99 - cgroup cgroup rw,pids\n"
    "33 25 0:31 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
    "34 25 0:32 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
    "41 0 0:33 / /other/pids rw - cgroup cgroup rw,pids\n"
    "bad line\n";

static void test_mountinfo(void **state)
{
	struct cgroup_layout l = {0};

	assert_int_equal(cgroup_parse_mountinfo(mountinfo_hybrid, &l), 0);
	assert_string_equal(l.unified, "/sys/fs/cgroup/unified");
	assert_string_equal(l.v1[CGROUP_CTRL_CPU], "/sys/fs/cgroup/cpu,cpuacct");
	assert_string_equal(l.v1[CGROUP_CTRL_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct");
	assert_string_equal(l.v1[CGROUP_CTRL_MEMORY], "/sys/fs/cgroup/memory");
	assert_string_equal(l.v1[CGROUP_CTRL_PIDS], "/sys/fs/cgroup/pids");
	assert_string_equal(l.v1[CGROUP_CTRL_BLKIO], "/sys/fs/cgroup/blkio");
	assert_null(l.v1[CGROUP_CTRL_FREEZER]);
	assert_int_equal(cgroup_mode_decide(false, &l), CGROUP_MODE_HYBRID);
	cgroup_layout_clear(&l);

	/* Plain v1: no cgroup2 anywhere; a memory hierarchy only outside. */
	assert_int_equal(cgroup_parse_mountinfo("40 0 0:29 / /mnt/my\\040memory rw - cgroup "
						"cgroup rw,memory\n"
						"41 0 0:30 / /cg/freezer rw - cgroup cgroup "
						"rw,freezer\n",
						&l),
			 0);
	assert_string_equal(l.v1[CGROUP_CTRL_MEMORY], "/mnt/my memory");
	assert_string_equal(l.v1[CGROUP_CTRL_FREEZER], "/cg/freezer");
	assert_null(l.unified);
	assert_int_equal(cgroup_mode_decide(false, &l), CGROUP_MODE_V1);
	cgroup_layout_clear(&l);

	/* Unified. */
	assert_int_equal(cgroup_parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 "
						"cgroup2 rw,nsdelegate,memory_recursiveprot\n",
						&l),
			 0);
	assert_string_equal(l.unified, "/sys/fs/cgroup");
	assert_int_equal(cgroup_mode_decide(true, &l), CGROUP_MODE_V2);
	assert_int_equal(cgroup_mode_decide(false, &l), CGROUP_MODE_V2);
	cgroup_layout_clear(&l);

	assert_int_equal(cgroup_parse_mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", &l), 0);
	assert_int_equal(cgroup_mode_decide(false, &l), CGROUP_MODE_NONE);
	cgroup_layout_clear(&l);
}

/* The live tests */

static bool is_root;
static const struct cgroup_layout *host_layout;
static struct cgroup_layout v2_side; /* the hybrid host's cgroup2 mount, run as v2 */
static char parent_name[64], v2_parent_name[64];
static int serial;

struct fixture {
	struct cgroup *cg;
	const struct cgroup_layout *layout;
	char name[96];
	pid_t children[16];
	size_t n_children;
	int fds[8];
	size_t n_fds;
};

static struct fixture fx;

static bool have_swap(void)
{
	struct sysinfo si;

	return sysinfo(&si) == 0 && si.totalswap > 0;
}

static int group_setup(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct statfs sfs;

	is_root = geteuid() == 0;
	snprintf(parent_name, sizeof(parent_name), "container-test-%d", (int)getpid());
	snprintf(v2_parent_name, sizeof(v2_parent_name), "container-test-%d-v2", (int)getpid());
	if (cgroup_host_layout(&host_layout, &err) < 0) {
		printf("# no cgroup layout: %s\n", ct_error_message(&err));
		host_layout = NULL;
		return 0;
	}
	printf("# cgroup layout: %s\n", cgroup_mode_name());
	for (int c = 0; c < CGROUP_CTRL_COUNT; c++)
		printf("#   %-8s %s\n", cgroup_controller_name(c),
		       host_layout->v1[c] ? host_layout->v1[c] : "(not on v1)");
	printf("#   cgroup2  %s\n", host_layout->unified ? host_layout->unified : "(none)");
	printf("# swap: %s\n", have_swap() ? "configured" : "none configured on this host");
	if (host_layout->mode == CGROUP_MODE_HYBRID && statfs(host_layout->unified, &sfs) == 0 &&
	    sfs.f_type == CGROUP2_SUPER_MAGIC) {
		v2_side.mode = CGROUP_MODE_V2;
		v2_side.unified = xstrdup(host_layout->unified);
	}
	/* Orphaned grandchildren come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

static void remove_parent(const struct cgroup_layout *layout, const char *name)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup *cg = NULL;

	if (!layout || cgroup_open_with(layout, name, &cg, &err) < 0)
		return;
	if (cgroup_destroy(cg, &err) < 0)
		printf("# removing %s: %s\n", name, ct_error_message(&err));
	cgroup_free(cg);
}

static int group_teardown(void **state)
{
	if (is_root) {
		remove_parent(host_layout, parent_name);
		remove_parent(v2_side.unified ? &v2_side : NULL, v2_parent_name);
	}
	cgroup_layout_clear(&v2_side);
	return 0;
}

static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int fixture_setup_on(const struct cgroup_layout *layout, const char *parent)
{
	memset(&fx, 0, sizeof(fx));
	fx.layout = layout;
	snprintf(fx.name, sizeof(fx.name), "%s/%d", parent, serial++);
	return 0;
}

static int setup(void **state)
{
	return fixture_setup_on(host_layout, parent_name);
}

static int setup_v2_side(void **state)
{
	return fixture_setup_on(&v2_side, v2_parent_name);
}

static int teardown(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	for (size_t i = 0; i < fx.n_children; i++)
		if (fx.children[i] > 0) {
			kill(fx.children[i], SIGKILL);
			waitpid(fx.children[i], NULL, 0);
		}
	cgroup_close_fds(fx.fds, fx.n_fds);
	if (fx.cg && !fx.cg->destroyed) {
		if (cgroup_kill_all(fx.cg, SIGKILL, &err) < 0)
			printf("# teardown: %s\n", ct_error_message(&err));
		reap_all();
		if (cgroup_destroy(fx.cg, &err) < 0)
			printf("# teardown: %s\n", ct_error_message(&err));
	}
	cgroup_free(fx.cg);
	reap_all();
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* cmocka 1.1's skip() prints "not ok N # SKIP", which meson counts as a failure:
 * a test that can't run here says why in a TAP comment and passes. */
#define SKIP_TEST(...)                                                                             \
	do {                                                                                       \
		printf("# skipped: " __VA_ARGS__);                                                 \
		printf("\n");                                                                      \
		return;                                                                            \
	} while (0)

#define REQUIRE_LIVE()                                                                             \
	do {                                                                                       \
		if (!is_root)                                                                      \
			SKIP_TEST("needs root to make cgroups");                                   \
		if (!fx.layout)                                                                    \
			SKIP_TEST("no cgroup file system on this host");                           \
	} while (0)

static void create_fx(const struct cgroup_limits *limits)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	assert_ok(cgroup_create_with(fx.layout, fx.name, limits, &fx.cg, &err), &err);
}

/* Reads a control file of the cgroup as a string (static buffer). */
static const char *ctl(enum cgroup_controller ctrl, const char *file)
{
	static char buf[4096];
	_cleanup_free_ char *text = NULL;
	struct cgroup_dir *dir = cgroup_dir_for(fx.cg, ctrl);
	int rc;

	if (!dir)
		fail_msg("no directory for the %s controller", cgroup_controller_name(ctrl));
	rc = cgroup_read_raw(dir->fd, file, &text);
	if (rc < 0)
		fail_msg("reading %s/%s: %s", dir->path, file, strerror(-rc));
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(text, "\n"), text);
	return buf;
}

static bool is_v2(void)
{
	return fx.cg && cgroup_get_mode(fx.cg) == CGROUP_MODE_V2;
}

static void track(pid_t pid)
{
	assert_true(fx.n_children < ARRAY_SIZE(fx.children));
	fx.children[fx.n_children++] = pid;
}

typedef int (*child_fn)(const void *arg, int ready_fd);

/* Forks a child that joins the cgroup through the fds (as the runtime's child
 * does before exec), then runs fn. *ready: the read end of a pipe the child may
 * write to. */
static pid_t spawn(child_fn fn, const void *arg, int *ready)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	int fds[CGROUP_MAX_FDS];
	size_t n = ARRAY_SIZE(fds);
	int p[2];
	pid_t pid;

	assert_ok(cgroup_procs_fds(fx.cg, fds, &n, &err), &err);
	assert_true(n == fx.cg->n_dirs);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (cgroup_enter_fds(fds, n) < 0)
			_exit(100);
		_exit(fn(arg, p[1]));
	}
	cgroup_close_fds(fds, n);
	close(p[1]);
	track(pid);
	if (ready)
		*ready = p[0];
	else
		close(p[0]);
	return pid;
}

/* The byte the child writes when ready, or -1 after timeout_ms. */
static int read_ready(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	unsigned char c;

	if (poll(&pfd, 1, timeout_ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

static int wait_child(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (size_t i = 0; i < fx.n_children; i++)
		if (fx.children[i] == pid)
			fx.children[i] = 0;
	return status;
}

static bool pids_contain(pid_t pid)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	assert_ok(cgroup_pids(fx.cg, &pids, &n, &err), &err);
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

static size_t pids_count(void)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	assert_ok(cgroup_pids(fx.cg, &pids, &n, &err), &err);
	return n;
}

static void touch(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(101);
	for (size_t off = 0; off < bytes; off += 4096)
		((volatile char *)p)[off] = 1;
}

static void pause_forever(void)
{
	for (;;)
		pause();
}

static int child_pause(const void *arg, int ready_fd)
{
	if (write(ready_fd, "r", 1) != 1)
		return 102;
	pause_forever();
	return 0;
}

struct hog {
	size_t bytes;
	int forks;
};

/* Touches bytes, forks children that pause, says ready, pauses. */
static int child_hog(const void *arg, int ready_fd)
{
	const struct hog *h = arg;

	touch(h->bytes);
	for (int i = 0; i < h->forks; i++) {
		pid_t pid = fork();

		if (pid == 0)
			pause_forever();
		if (pid < 0)
			return 103;
	}
	if (write(ready_fd, "r", 1) != 1)
		return 102;
	pause_forever();
	return 0;
}

/* Busy for 300 ms of CPU time. */
static int child_busy(const void *arg, int ready_fd)
{
	struct timespec ts;

	do {
		if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
			return 104;
	} while (ts.tv_sec == 0 && ts.tv_nsec < 300000000L);
	return 0;
}

static int child_oom(const void *arg, int ready_fd)
{
	touch(200 * (size_t)MiB);
	return 0; /* survived: the limit did not hold */
}

/* Forks 10 children; reports how many forks succeeded and whether one failed
 * with EAGAIN. */
static int child_fork_10(const void *arg, int ready_fd)
{
	unsigned char report;
	int ok = 0, eagain = 0, other = 0;

	for (int i = 0; i < 10; i++) {
		pid_t pid = fork();

		if (pid == 0)
			pause_forever();
		if (pid > 0)
			ok++;
		else if (errno == EAGAIN)
			eagain++;
		else
			other++;
	}
	report = (unsigned char)(ok | (eagain ? 0x40 : 0) | (other ? 0x80 : 0));
	if (write(ready_fd, &report, 1) != 1)
		return 102;
	pause_forever();
	return 0;
}

/* A fork tree: 3 children, one of which forks 2 more. */
static int child_tree(const void *arg, int ready_fd)
{
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			if (i == 0)
				for (int j = 0; j < 2; j++)
					if (fork() == 0)
						pause_forever();
			pause_forever();
		}
		if (pid < 0)
			return 103;
	}
	/* Wait for the tree to stand: 6 processes. */
	if (write(ready_fd, "r", 1) != 1)
		return 102;
	pause_forever();
	return 0;
}

static void wait_pids_count(size_t want, int timeout_ms)
{
	uint64_t deadline = ct_now_monotonic_ms() + (uint64_t)timeout_ms;
	size_t n;

	while ((n = pids_count()) != want) {
		if (ct_now_monotonic_ms() > deadline)
			fail_msg("cgroup %s holds %zu processes, expected %zu", fx.name, n, want);
		cgroup_sleep_ms(5);
	}
}

static void test_host_layout(void **state)
{
	struct statfs root, unified;
	const char *name = cgroup_mode_name();

	if (!host_layout)
		SKIP_TEST("no cgroup file system on this host");
	assert_int_equal(statfs("/sys/fs/cgroup", &root), 0);
	if (root.f_type == CGROUP2_SUPER_MAGIC) {
		assert_string_equal(name, "v2");
	} else if (statfs("/sys/fs/cgroup/unified", &unified) == 0 &&
		   unified.f_type == CGROUP2_SUPER_MAGIC) {
		assert_string_equal(name, "hybrid");
		assert_string_equal(host_layout->unified, "/sys/fs/cgroup/unified");
	} else {
		assert_string_equal(name, "v1");
	}
}

static void test_create_destroy(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup *again = NULL;
	_cleanup_free_ char **paths = NULL;
	size_t n;
	struct stat st;

	REQUIRE_LIVE();
	create_fx(NULL);
	n = fx.cg->n_dirs;
	assert_true(n >= 1);
	assert_string_equal(cgroup_name(fx.cg), fx.name);
	paths = xcalloc(n, sizeof(*paths));
	for (size_t i = 0; i < n; i++) {
		paths[i] = fx.cg->dirs[i].path;
		assert_int_equal(stat(paths[i], &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	if (!is_v2()) {
		/* Every v1 controller we use, co-mounted ones sharing a directory. */
		static const enum cgroup_controller want[] = {
		    CGROUP_CTRL_MEMORY, CGROUP_CTRL_CPU,   CGROUP_CTRL_CPUACCT,
		    CGROUP_CTRL_PIDS,	CGROUP_CTRL_BLKIO, CGROUP_CTRL_FREEZER};

		for (size_t i = 0; i < ARRAY_SIZE(want); i++)
			assert_true(!fx.layout->v1[want[i]] == !cgroup_dir_for(fx.cg, want[i]));
	}

	assert_failure(cgroup_create_with(fx.layout, fx.name, NULL, &again, &err), &err,
		       CT_ERR_EXISTS, "already exists");
	assert_null(again);

	assert_ok(cgroup_destroy(fx.cg, &err), &err);
	for (size_t i = 0; i < n; i++)
		assert_true(stat(paths[i], &st) < 0 && errno == ENOENT);
	assert_ok(cgroup_destroy(fx.cg, &err), &err); /* twice is fine */
	assert_failure(cgroup_open_with(fx.layout, fx.name, &again, &err), &err, CT_ERR_NOT_FOUND,
		       "does not exist");
	assert_failure(cgroup_attach(fx.cg, getpid(), &err), &err, CT_ERR_NOT_FOUND,
		       "was destroyed");

	assert_failure(cgroup_create_with(fx.layout, "../escape", NULL, &again, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "relative path");
}

static void test_limits_readback(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_limits l;
	bool memsw;

	cgroup_limits_init(&l);
	l.memory = 64 * MiB;
	l.memory_swap = 128 * MiB;
	assert_ok(cgroup_limits_set_cpus(&l, 0.5, &err), &err);
	l.pids = 20;
	REQUIRE_LIVE();
	create_fx(&l);

	if (is_v2()) {
		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.max"), "67108864");
		memsw = cgroup_file_exists(&fx.cg->dirs[0], "memory.swap.max");
		if (memsw)
			assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.swap.max"), "67108864");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.max"), "50000 100000");
	} else {
		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.limit_in_bytes"), "67108864");
		memsw = cgroup_file_exists(cgroup_dir_for(fx.cg, CGROUP_CTRL_MEMORY),
					   "memory.memsw.limit_in_bytes");
		if (memsw)
			assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.memsw.limit_in_bytes"),
					    "134217728");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.cfs_quota_us"), "50000");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.cfs_period_us"), "100000");
	}
	if (!memsw)
		printf("# no swap accounting: the memory+swap limit is not checked\n");
	assert_string_equal(ctl(CGROUP_CTRL_PIDS, "pids.max"), "20");

	/* Lower: memory+swap shrinks, so memory goes first on v1. docker's default
	 * swap: twice the memory. No CPU or pids limit any more. */
	cgroup_limits_init(&l);
	l.memory = 32 * MiB;
	assert_ok(cgroup_update(fx.cg, &l, &err), &err);
	if (is_v2()) {
		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.max"), "33554432");
		if (memsw)
			assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.swap.max"), "33554432");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.max"), "max 100000");
	} else {
		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.limit_in_bytes"), "33554432");
		if (memsw)
			assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.memsw.limit_in_bytes"),
					    "67108864");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.cfs_quota_us"), "-1");
	}
	assert_string_equal(ctl(CGROUP_CTRL_PIDS, "pids.max"), "max");

	/* Raise memory above the old memory+swap, swap unlimited: memsw first. */
	l.memory = 256 * MiB;
	l.memory_swap = -1;
	l.cpu_quota_us = 25000;
	l.cpu_period_us = 50000;
	assert_ok(cgroup_update(fx.cg, &l, &err), &err);
	if (is_v2()) {
		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.max"), "268435456");
		if (memsw)
			assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.swap.max"), "max");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.max"), "25000 50000");
	} else {
		uint64_t v = 0;

		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.limit_in_bytes"), "268435456");
		if (memsw) {
			assert_int_equal(
			    cgroup_parse_u64(ctl(CGROUP_CTRL_MEMORY, "memory.memsw.limit_in_bytes"),
					     &v),
			    0);
			assert_true(v > (uint64_t)1 << 60); /* the kernel's "unlimited" */
		}
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.cfs_quota_us"), "25000");
		assert_string_equal(ctl(CGROUP_CTRL_CPU, "cpu.cfs_period_us"), "50000");
	}

	/* Everything off. */
	cgroup_limits_init(&l);
	assert_ok(cgroup_update(fx.cg, &l, &err), &err);
	if (is_v2())
		assert_string_equal(ctl(CGROUP_CTRL_MEMORY, "memory.max"), "max");
	else
		assert_true(strlen(ctl(CGROUP_CTRL_MEMORY, "memory.limit_in_bytes")) >= 18);

	/* A refused update changes nothing. */
	l.memory = 64 * MiB;
	l.memory_swap = 32 * MiB;
	assert_failure(cgroup_update(fx.cg, &l, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "at least the memory limit");
}

static void test_invalid_limits_create_nothing(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup *cg = NULL;
	struct cgroup_limits l;

	REQUIRE_LIVE();
	cgroup_limits_init(&l);
	l.memory = 64 * MiB;
	l.memory_swap = 32 * MiB;
	assert_failure(cgroup_create_with(fx.layout, fx.name, &l, &cg, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "memory+swap");
	assert_failure(cgroup_open_with(fx.layout, fx.name, &cg, &err), &err, CT_ERR_NOT_FOUND,
		       NULL);
}

static void test_missing_controller(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_layout no_pids = {0};
	struct cgroup *cg = NULL;
	struct cgroup_limits l;
	int rc;

	REQUIRE_LIVE();
	if (fx.layout->mode == CGROUP_MODE_V2)
		SKIP_TEST("a v1 test (a v2 host gets its controllers from "
			  "cgroup.subtree_control; see test_v2_side_limits_refused)");
	/* This host's layout without its pids hierarchy. */
	no_pids.mode = fx.layout->mode;
	no_pids.unified = fx.layout->unified;
	for (int c = 0; c < CGROUP_CTRL_COUNT; c++)
		no_pids.v1[c] = c == CGROUP_CTRL_PIDS ? NULL : fx.layout->v1[c];
	cgroup_limits_init(&l);
	l.pids = 5;
	rc = cgroup_create_with(&no_pids, fx.name, &l, &cg, &err);
	assert_failure(rc, &err, CT_ERR_UNSUPPORTED,
		       "the pids controller is not mounted at /sys/fs/cgroup/pids");
	assert_failure(cgroup_open_with(fx.layout, fx.name, &cg, &err), &err, CT_ERR_NOT_FOUND,
		       NULL);

	/* Without a pids limit the cgroup is made, and has no pids statistics. */
	cgroup_limits_init(&l);
	assert_ok(cgroup_create_with(&no_pids, fx.name, &l, &fx.cg, &err), &err);
	assert_null(cgroup_dir_for(fx.cg, CGROUP_CTRL_PIDS));
	l.pids = 5;
	assert_failure(cgroup_update(fx.cg, &l, &err), &err, CT_ERR_UNSUPPORTED,
		       "pids controller is not mounted");
}

static void test_attach(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *proc_cgroup = NULL;
	char path[64], line[160];
	size_t len;
	pid_t pid;
	int p[2];

	REQUIRE_LIVE();
	create_fx(NULL);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		close(p[1]);
		(void)!read(p[0], &c, 1); /* until the parent has moved us */
		pause_forever();
	}
	close(p[0]);
	track(pid);
	assert_false(pids_contain(pid));
	assert_ok(cgroup_attach(fx.cg, pid, &err), &err);
	close(p[1]);
	assert_true(pids_contain(pid));
	/* In every hierarchy. */
	for (size_t i = 0; i < fx.cg->n_dirs; i++) {
		_cleanup_free_ char *procs = NULL;

		snprintf(line, sizeof(line), "%d\n", (int)pid);
		assert_int_equal(cgroup_read_raw(fx.cg->dirs[i].fd, "cgroup.procs", &procs), 0);
		if (strncmp(procs, line, strlen(line)) != 0 && !strstr(procs, line))
			fail_msg("%s/cgroup.procs: \"%s\" lacks %d", fx.cg->dirs[i].path, procs,
				 (int)pid);
	}
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	assert_ok(ct_read_file(path, 1 << 16, &proc_cgroup, &len, &err), &err);
	snprintf(line, sizeof(line), ":/%s\n", fx.name);
	assert_non_null(strstr(proc_cgroup, line));

	assert_failure(cgroup_attach(fx.cg, 999999999, &err), &err, CT_ERR_NOT_FOUND,
		       "no such process");
}

static void test_enter_fds_before_exec(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char path[64], comm[32] = "";
	uint64_t deadline;
	size_t n = 1;
	pid_t pid;

	REQUIRE_LIVE();
	create_fx(NULL);
	/* Too little room is refused before anything is opened. */
	if (fx.cg->n_dirs > 1) {
		assert_failure(cgroup_procs_fds(fx.cg, fx.fds, &n, &err), &err, CT_ERR_INTERNAL,
			       "room for 1");
		assert_int_equal(n, 0);
	}
	n = ARRAY_SIZE(fx.fds);
	assert_ok(cgroup_procs_fds(fx.cg, fx.fds, &n, &err), &err);
	fx.n_fds = n;
	for (size_t i = 0; i < n; i++)
		assert_true(fcntl(fx.fds[i], F_GETFD) & FD_CLOEXEC);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (cgroup_enter_fds(fx.fds, fx.n_fds) < 0)
			_exit(100);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	track(pid);
	/* Inside once it has exec'd. */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	deadline = ct_now_monotonic_ms() + 5000;
	for (;;) {
		FILE *f = fopen(path, "re");

		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		if (strcmp(comm, "sleep\n") == 0)
			break;
		if (ct_now_monotonic_ms() > deadline)
			fail_msg("the child did not exec (comm \"%s\")", comm);
		cgroup_sleep_ms(2);
	}
	assert_true(pids_contain(pid));
	assert_int_equal(pids_count(), 1);

	/* The same fds serve a second child. */
	{
		int ready = -1;
		pid_t second = spawn(child_pause, NULL, &ready);

		assert_int_equal(read_ready(ready, 5000), 'r');
		close(ready);
		assert_true(pids_contain(second));
		assert_int_equal(pids_count(), 2);
	}
	/* cgroup_enter_fds on a bad fd reports -errno. */
	{
		int bad = 12345;

		assert_int_equal(cgroup_enter_fds(&bad, 1), -EBADF);
	}
}

static void test_stats_cpu(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_stats before, after;
	pid_t pid;
	int status;

	REQUIRE_LIVE();
	create_fx(NULL);
	assert_ok(cgroup_stats(fx.cg, &before, &err), &err);
	pid = spawn(child_busy, NULL, NULL);
	status = wait_child(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_ok(cgroup_stats(fx.cg, &after, &err), &err);
	printf("# cpu usage: %" PRIu64 " -> %" PRIu64 " ns\n", before.cpu_usage_ns,
	       after.cpu_usage_ns);
	assert_true(after.cpu_usage_ns >= before.cpu_usage_ns + 250000000ULL);
	assert_true(after.cpu_usage_ns < 60ULL * 1000000000ULL);
}

static void test_stats_memory_pids(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct hog hog = {.bytes = 20 * MiB, .forks = 3};
	struct cgroup_stats st;
	struct sysinfo si;
	int ready = -1;

	REQUIRE_LIVE();
	create_fx(NULL);
	assert_ok(cgroup_stats(fx.cg, &st, &err), &err);
	assert_true(st.memory_usage < 8 * MiB);
	assert_true(st.pids_current == 0 && st.pids_limit == 0);
	spawn(child_hog, &hog, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);
	assert_ok(cgroup_stats(fx.cg, &st, &err), &err);
	printf("# memory usage %" PRIu64 " bytes, limit %" PRIu64 ", pids %" PRIu64 "\n",
	       st.memory_usage, st.memory_limit, st.pids_current);
	assert_true(st.memory_usage >= 20 * MiB);
	assert_true(st.memory_usage < 200 * MiB);
	/* Unlimited: docker shows the host's memory. */
	assert_int_equal(sysinfo(&si), 0);
	assert_true(st.memory_limit == (uint64_t)si.totalram * si.mem_unit);
	assert_true(st.pids_current == 4);
	assert_int_equal(pids_count(), 4);
	assert_false(st.oom_killed);
	assert_true(st.oom_kills == 0);
}

/* Writes 4 MiB with O_DIRECT to a file of /var/tmp (on a block device), then
 * fsync. */
static int child_write_direct(const void *arg, int ready_fd)
{
	const char *path = arg;
	void *buf = NULL;
	int fd;

	if (posix_memalign(&buf, 4096, MiB) != 0)
		return 105;
	memset(buf, 'x', MiB);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return 106;
	for (int i = 0; i < 4; i++)
		if (write(fd, buf, MiB) != MiB)
			return 107;
	if (fsync(fd) < 0)
		return 108;
	close(fd);
	return 0;
}

static void test_stats_blkio(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_stats st;
	bool throttle_note = false;
	char path[96];
	struct statfs sfs;
	int status;
	pid_t pid;

	REQUIRE_LIVE();
	if (statfs("/var/tmp", &sfs) < 0 || sfs.f_type == TMPFS_MAGIC ||
	    sfs.f_type == OVERLAYFS_SUPER_MAGIC)
		SKIP_TEST("/var/tmp is not on a block device");
	create_fx(NULL);
	if (!cgroup_dir_for(fx.cg, CGROUP_CTRL_BLKIO))
		SKIP_TEST("no blkio/io controller for this cgroup");
	if (!is_v2()) {
		/* Linux 6.x counts v1 blkio only for a cgroup with a throttle rule on
		 * the device (docker's numbers are 0 there too): set a rule far above
		 * any disk's speed. */
		struct stat var_tmp;
		char rule[64];

		assert_int_equal(stat("/var/tmp", &var_tmp), 0);
		snprintf(rule, sizeof(rule), "%u:%u 1000000000000", major(var_tmp.st_dev),
			 minor(var_tmp.st_dev));
		if (cgroup_write_raw(cgroup_dir_for(fx.cg, CGROUP_CTRL_BLKIO)->fd,
				     "blkio.throttle.write_bps_device", rule) < 0)
			throttle_note = true;
	}
	snprintf(path, sizeof(path), "/var/tmp/container-test-%d.io", (int)getpid());
	pid = spawn(child_write_direct, path, NULL);
	status = wait_child(pid);
	unlink(path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 106)
		SKIP_TEST("O_DIRECT is refused on /var/tmp");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_ok(cgroup_stats(fx.cg, &st, &err), &err);
	printf("# block I/O: read %" PRIu64 ", written %" PRIu64 " bytes\n", st.blkio_read,
	       st.blkio_write);
	if (throttle_note && st.blkio_write == 0)
		SKIP_TEST("v1 blkio counts only throttled I/O, and no throttle rule could be "
			  "set on the device of /var/tmp");
	assert_true(st.blkio_write >= 4 * MiB);
}

static void test_oom_kill(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_close_ int oom_fd = -1;
	struct cgroup_stats st;
	struct cgroup_limits l;
	struct pollfd pfd;
	bool killed = true;
	int status;
	pid_t pid;

	cgroup_limits_init(&l);
	l.memory = 32 * MiB;
	l.memory_swap = 32 * MiB; /* no swapping out of the limit */
	REQUIRE_LIVE();
	create_fx(&l);
	if (!have_swap())
		printf("# no swap configured on this host: memory+swap = memory changes nothing\n");
	oom_fd = cgroup_oom_fd(fx.cg, &err);
	assert_ok(oom_fd, &err);
	assert_true(fcntl(oom_fd, F_GETFD) & FD_CLOEXEC);
	assert_ok(cgroup_oom_killed(fx.cg, &killed, &err), &err);
	assert_false(killed);
	pfd = (struct pollfd){.fd = oom_fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 0);

	pid = spawn(child_oom, NULL, NULL);
	status = wait_child(pid);
	if (!WIFSIGNALED(status))
		fail_msg("the 200 MB child was not killed (exit status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	assert_int_equal(WTERMSIG(status), SIGKILL);

	pfd = (struct pollfd){.fd = oom_fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pfd.revents & POLLIN);
	assert_ok(cgroup_oom_killed(fx.cg, &killed, &err), &err);
	assert_true(killed);
	assert_ok(cgroup_stats(fx.cg, &st, &err), &err);
	assert_true(st.oom_killed);
	assert_true(st.oom_kills >= 1);
	assert_true(st.memory_limit == 32 * MiB);
	printf("# OOM kills recorded: %" PRIu64 "\n", st.oom_kills);
}

static void test_pids_limit(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_limits l;
	struct cgroup_stats st;
	int ready = -1, report;

	cgroup_limits_init(&l);
	l.pids = 5;
	REQUIRE_LIVE();
	create_fx(&l);
	spawn(child_fork_10, NULL, &ready);
	report = read_ready(ready, 10000);
	close(ready);
	assert_true(report >= 0);
	if (report & 0x80)
		fail_msg("a fork failed with another error than EAGAIN");
	assert_true(report & 0x40);	    /* EAGAIN seen */
	assert_int_equal(report & 0x3f, 4); /* 1 + 4 = 5 */
	assert_ok(cgroup_stats(fx.cg, &st, &err), &err);
	assert_true(st.pids_current == 5 && st.pids_limit == 5);
}

static void test_kill_all(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	int ready = -1, status;
	pid_t pid;

	REQUIRE_LIVE();
	create_fx(NULL);
	pid = spawn(child_tree, NULL, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);
	wait_pids_count(6, 5000);
	assert_ok(cgroup_kill_all(fx.cg, SIGKILL, &err), &err);
	assert_int_equal(pids_count(), 0);
	status = wait_child(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	reap_all();

	/* Another signal: delivered once to each, no waiting. */
	pid = spawn(child_tree, NULL, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);
	wait_pids_count(6, 5000);
	assert_ok(cgroup_kill_all(fx.cg, SIGTERM, &err), &err);
	status = wait_child(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	wait_pids_count(0, 5000);
	/* Nothing frozen is left behind. */
	if (is_v2())
		assert_string_equal(ctl(CGROUP_CTRL_CPUACCT, "cgroup.freeze"), "0");
	else if (cgroup_dir_for(fx.cg, CGROUP_CTRL_FREEZER))
		assert_string_equal(ctl(CGROUP_CTRL_FREEZER, "freezer.state"), "THAWED");

	/* An empty cgroup is fine. */
	assert_ok(cgroup_kill_all(fx.cg, SIGKILL, &err), &err);
}

/* A paused (frozen) container stays paused through a signal, and dies on
 * SIGKILL. */
static void check_kill_all_paused(void)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *state_file = is_v2() ? "cgroup.freeze" : "freezer.state";
	enum cgroup_controller ctrl = is_v2() ? CGROUP_CTRL_CPUACCT : CGROUP_CTRL_FREEZER;
	struct cgroup_dir *dir = cgroup_dir_for(fx.cg, CGROUP_CTRL_FREEZER);
	int ready = -1, status;
	uint64_t deadline;
	pid_t pid;

	if (!dir)
		SKIP_TEST("no freezer for this cgroup");
	pid = spawn(child_pause, NULL, &ready);
	assert_int_equal(read_ready(ready, 5000), 'r');
	close(ready);
	assert_int_equal(cgroup_write_raw(dir->fd, state_file, is_v2() ? "1" : "FROZEN"), 0);
	deadline = ct_now_monotonic_ms() + 2000;
	while (strcmp(ctl(ctrl, state_file), is_v2() ? "1" : "FROZEN") != 0 ||
	       (is_v2() && !strstr(ctl(ctrl, "cgroup.events"), "frozen 1") &&
		ct_now_monotonic_ms() < deadline)) {
		if (ct_now_monotonic_ms() > deadline)
			fail_msg("%s/%s: not frozen", dir->path, state_file);
		cgroup_sleep_ms(2);
	}
	assert_ok(cgroup_kill_all(fx.cg, SIGTERM, &err), &err);
	assert_string_equal(ctl(ctrl, state_file), is_v2() ? "1" : "FROZEN");
	/* A v1 frozen task takes the signal once thawed; the v2 freezer lets a
	 * fatal signal through at once. */
	if (!is_v2())
		assert_true(pids_contain(pid));
	assert_ok(cgroup_kill_all(fx.cg, SIGKILL, &err), &err);
	assert_int_equal(pids_count(), 0);
	status = wait_child(pid);
	assert_true(WIFSIGNALED(status));
}

static void test_kill_all_paused(void **state)
{
	REQUIRE_LIVE();
	create_fx(NULL);
	check_kill_all_paused();
}

static void test_open_existing(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_cgroup_ struct cgroup *other = NULL;
	struct hog hog = {.bytes = 8 * MiB, .forks = 2};
	struct cgroup_stats a, b;
	struct cgroup_limits l;
	int ready = -1;
	uint64_t diff;

	cgroup_limits_init(&l);
	l.memory = 64 * MiB;
	l.pids = 10;
	REQUIRE_LIVE();
	create_fx(&l);
	spawn(child_hog, &hog, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);

	assert_ok(cgroup_open_with(fx.layout, fx.name, &other, &err), &err);
	assert_int_equal(other->n_dirs, fx.cg->n_dirs);
	assert_int_equal(cgroup_get_mode(other), cgroup_get_mode(fx.cg));
	assert_ok(cgroup_stats(fx.cg, &a, &err), &err);
	assert_ok(cgroup_stats(other, &b, &err), &err);
	assert_true(a.pids_current == 3 && b.pids_current == 3);
	assert_true(a.pids_limit == 10 && b.pids_limit == 10);
	assert_true(a.memory_limit == 64 * MiB && b.memory_limit == 64 * MiB);
	diff = a.memory_usage > b.memory_usage ? a.memory_usage - b.memory_usage
					       : b.memory_usage - a.memory_usage;
	assert_true(diff < 2 * MiB);
	assert_true(b.cpu_usage_ns >= a.cpu_usage_ns);
	assert_true(b.cpu_usage_ns - a.cpu_usage_ns < 100000000ULL);
	assert_true(a.memory_usage >= 8 * MiB);

	/* The reopened handle controls the same processes. */
	assert_ok(cgroup_kill_all(other, SIGKILL, &err), &err);
	assert_int_equal(pids_count(), 0);
}

static void test_destroy_busy(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char pid_text[16];
	int ready = -1;
	pid_t pid;

	REQUIRE_LIVE();
	create_fx(NULL);
	pid = spawn(child_pause, NULL, &ready);
	assert_int_equal(read_ready(ready, 5000), 'r');
	close(ready);
	snprintf(pid_text, sizeof(pid_text), "%d", (int)pid);
	assert_failure(cgroup_destroy(fx.cg, &err), &err, CT_ERR_CONFLICT, pid_text);
	assert_int_equal(err.errnum, EBUSY);
	assert_non_null(strstr(ct_error_message(&err), "still inside"));
	assert_true(pids_contain(pid)); /* untouched */

	assert_ok(cgroup_kill_all(fx.cg, SIGKILL, &err), &err);
	assert_ok(cgroup_destroy(fx.cg, &err), &err);
	for (size_t i = 0; i < fx.cg->n_dirs; i++)
		assert_true(access(fx.cg->dirs[i].path, F_OK) < 0 && errno == ENOENT);
}

static void test_destroy_nested(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	REQUIRE_LIVE();
	create_fx(NULL);
	/* A container that made cgroups of its own below its cgroup. */
	for (size_t i = 0; i < fx.cg->n_dirs; i++) {
		assert_int_equal(mkdirat(fx.cg->dirs[i].fd, "sub", 0755), 0);
		assert_int_equal(mkdirat(fx.cg->dirs[i].fd, "sub/deeper", 0755), 0);
	}
	assert_ok(cgroup_destroy(fx.cg, &err), &err);
	for (size_t i = 0; i < fx.cg->n_dirs; i++)
		assert_true(access(fx.cg->dirs[i].path, F_OK) < 0 && errno == ENOENT);
}

static void test_update_below_usage(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct hog hog = {.bytes = 40 * MiB, .forks = 0};
	struct cgroup_limits l;
	int ready = -1;

	REQUIRE_LIVE();
	if (have_swap())
		SKIP_TEST("with swap the kernel makes room by swapping out");
	cgroup_limits_init(&l);
	l.memory = 64 * MiB;
	l.memory_swap = 64 * MiB;
	REQUIRE_LIVE();
	create_fx(&l);
	spawn(child_hog, &hog, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);
	l.memory = 16 * MiB;
	l.memory_swap = 16 * MiB;
	assert_failure(cgroup_update(fx.cg, &l, &err), &err, CT_ERR_CONFLICT, "uses");
	printf("# %s\n", ct_error_message(&err));
	assert_int_equal(err.errnum, EBUSY);
	assert_int_equal(pids_count(), 1); /* not killed */
}

static void test_v2_host_only(void **state)
{
	if (host_layout && host_layout->mode == CGROUP_MODE_V2)
		return; /* the live tests above ran on v2 */
	SKIP_TEST("this host is %s; the v2 limits (memory.max, memory.swap.max, cpu.max, "
		  "pids.max), subtree_control delegation, memory.events and the inotify OOM "
		  "fd run only where cgroup v2 is the layout",
		  cgroup_mode_name());
}

/* The v2 backend on the cgroup2 mount of a hybrid host: no controller we use is
 * there, but directories, cgroup.procs, cgroup.kill, cgroup.freeze and cpu.stat
 * are. */

#define REQUIRE_V2_SIDE()                                                                          \
	do {                                                                                       \
		REQUIRE_LIVE();                                                                    \
		if (!v2_side.unified)                                                              \
			SKIP_TEST("not a hybrid host (the live tests ran on its own layout)");     \
	} while (0)

static void test_v2_side_processes(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup_stats st;
	int ready = -1, status;
	pid_t pid;

	REQUIRE_V2_SIDE();
	REQUIRE_LIVE();
	create_fx(NULL);
	assert_int_equal(cgroup_get_mode(fx.cg), CGROUP_MODE_V2);
	assert_int_equal(fx.cg->n_dirs, 1);
	assert_null(cgroup_dir_for(fx.cg, CGROUP_CTRL_MEMORY));

	/* Enter before exec, stats from cpu.stat. */
	pid = spawn(child_busy, NULL, NULL);
	status = wait_child(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_ok(cgroup_stats(fx.cg, &st, &err), &err);
	assert_true(st.cpu_usage_ns >= 250000000ULL);
	assert_true(st.memory_usage == 0 && st.pids_current == 0);

	/* Attach; SIGTERM under cgroup.freeze; SIGKILL through cgroup.kill. */
	pid = spawn(child_tree, NULL, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);
	wait_pids_count(6, 5000);
	assert_ok(cgroup_kill_all(fx.cg, SIGTERM, &err), &err);
	status = wait_child(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	wait_pids_count(0, 5000);
	assert_string_equal(ctl(CGROUP_CTRL_CPUACCT, "cgroup.freeze"), "0");

	pid = spawn(child_tree, NULL, &ready);
	assert_int_equal(read_ready(ready, 10000), 'r');
	close(ready);
	wait_pids_count(6, 5000);
	assert_failure(cgroup_destroy(fx.cg, &err), &err, CT_ERR_CONFLICT, "still inside");
	assert_int_equal(err.errnum, EBUSY);
	assert_ok(cgroup_kill_all(fx.cg, SIGKILL, &err), &err);
	assert_int_equal(pids_count(), 0);
	status = wait_child(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_ok(cgroup_destroy(fx.cg, &err), &err);
	assert_true(access(fx.cg->dirs[0].path, F_OK) < 0 && errno == ENOENT);
}

static void test_v2_side_kill_all_paused(void **state)
{
	REQUIRE_V2_SIDE();
	create_fx(NULL);
	check_kill_all_paused();
}

static void test_v2_side_limits_refused(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct cgroup *cg = NULL;
	struct cgroup_limits l;
	bool killed;

	REQUIRE_V2_SIDE();
	cgroup_limits_init(&l);
	l.memory = 64 * MiB;
	assert_failure(cgroup_create_with(fx.layout, fx.name, &l, &cg, &err), &err,
		       CT_ERR_UNSUPPORTED, "the memory controller is not available in");
	assert_failure(cgroup_open_with(fx.layout, fx.name, &cg, &err), &err, CT_ERR_NOT_FOUND,
		       NULL);

	cgroup_limits_init(&l);
	REQUIRE_LIVE();
	create_fx(&l);
	l.pids = 3;
	assert_failure(cgroup_update(fx.cg, &l, &err), &err, CT_ERR_UNSUPPORTED,
		       "the pids controller is not enabled");
	assert_failure(cgroup_oom_fd(fx.cg, &err), &err, CT_ERR_UNSUPPORTED, "memory controller");
	assert_failure(cgroup_oom_killed(fx.cg, &killed, &err), &err, CT_ERR_UNSUPPORTED, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu_max),
	    cmocka_unit_test(test_limits_cpus),
	    cmocka_unit_test(test_limits_swap),
	    cmocka_unit_test(test_limits_validate),
	    cmocka_unit_test(test_parse_numbers),
	    cmocka_unit_test(test_parse_keyed),
	    cmocka_unit_test(test_parse_io),
	    cmocka_unit_test(test_parse_pids),
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_mountinfo),
	    cmocka_unit_test(test_host_layout),
	    cmocka_unit_test_setup_teardown(test_create_destroy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_readback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_limits_create_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_controller, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enter_fds_before_exec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_cpu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_memory_pids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_blkio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oom_kill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pids_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill_all_paused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_existing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_nested, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_below_usage, setup, teardown),
	    cmocka_unit_test(test_v2_host_only),
	    cmocka_unit_test_setup_teardown(test_v2_side_processes, setup_v2_side, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_side_kill_all_paused, setup_v2_side, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_side_limits_refused, setup_v2_side, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
