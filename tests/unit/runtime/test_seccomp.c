/* Unit tests of the runtime's seccomp module: docker's default profile loaded in
 * a forked child, then syscalls that must pass and syscalls that must fail with
 * EPERM (or ENOSYS). Every refused call uses arguments that, without the filter,
 * fail harmlessly with another errno (checked in test_baseline_errnos), so
 * EPERM can only come from the filter. Runs as root. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "child_check.h"
#include "seccomp_profile.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* Syscall numbers newer than some libcs' headers. */
#define NR_FCHMODAT2	  452
#define NR_LSM_GET_SELF	  459
#define NR_GETXATTRAT	  464
#define NR_OPEN_TREE_ATTR 467

#define SYS_ADMIN CAPS_BIT(CAP_SYS_ADMIN)

/* errno of a raw syscall that failed, or 0 when it succeeded. */
#define ERRNO_OF(call) ((call) < 0 ? errno : 0)

struct filter_case {
	uint64_t caps;
	bool unconfined;
	int (*check)(char *msg, size_t size);
};

static int load(const struct filter_case *c, char *msg, size_t size)
{
	struct ct_error err = CT_ERROR_INIT;
	struct seccomp_program prog;
	int rc;

	if (c->unconfined)
		seccomp_prepare_unconfined(&prog);
	else
		CHILD_CHECK(seccomp_prepare_default(c->caps, &prog, &err) == 0, "prepare: %s",
			    ct_error_message(&err));
	CHILD_CHECK(caps_set_no_new_privs() == 0, "no_new_privs: %s", strerror(errno));
	rc = seccomp_apply(&prog);
	CHILD_CHECK(rc == 0, "seccomp_apply: %s", strerror(-rc));
	return 0;
}

static int filtered_child(void *arg, char *msg, size_t size)
{
	const struct filter_case *c = arg;

	if (load(c, msg, size))
		return 1;
	return c->check(msg, size);
}

static void run_filtered(uint64_t caps, int (*check)(char *, size_t))
{
	struct filter_case c = {.caps = caps, .check = check};

	run_child_check(filtered_child, &c);
}

/* The program */

static bool has_jeq(const struct seccomp_program *p, uint32_t k)
{
	for (unsigned i = 0; i < p->len; i++)
		if (p->filter[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && p->filter[i].k == k)
			return true;
	return false;
}

static void test_prepare_default(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct seccomp_program prog;

	assert_int_equal(seccomp_prepare_default(CAPS_DOCKER_DEFAULT, &prog, &err), 0);
	assert_false(prog.unconfined);
	assert_non_null(prog.filter);
	assert_true(prog.len > 100 && prog.len <= BPF_MAXINSNS);
	/* The last instruction returns: a program may not fall off its end. */
	assert_int_equal(BPF_CLASS(prog.filter[prog.len - 1].code), BPF_RET);
#if defined(__x86_64__)
	/* amd64 filters also cover i386 binaries (x32 shares AUDIT_ARCH_X86_64). */
	assert_true(has_jeq(&prog, AUDIT_ARCH_X86_64));
	assert_true(has_jeq(&prog, AUDIT_ARCH_I386));
#endif
	seccomp_program_free(&prog);
	assert_null(prog.filter);
	seccomp_program_free(&prog); /* twice is harmless */
}

static void test_prepare_unconfined(void **state)
{
	struct seccomp_program prog;

	seccomp_prepare_unconfined(&prog);
	assert_true(prog.unconfined);
	assert_null(prog.filter);
	assert_int_equal(seccomp_apply(&prog), 0); /* no filter: does nothing, even here */
	seccomp_program_free(&prog);
}

static void test_cap_gated_filter_is_larger(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct seccomp_program def, admin;

	assert_int_equal(seccomp_prepare_default(CAPS_DOCKER_DEFAULT, &def, &err), 0);
	assert_int_equal(seccomp_prepare_default(CAPS_DOCKER_DEFAULT | SYS_ADMIN, &admin, &err), 0);
	assert_true(admin.len != def.len);
	seccomp_program_free(&def);
	seccomp_program_free(&admin);
}

/* What the refused calls do without a filter: anything but EPERM. */
static int check_baseline(char *msg, size_t size)
{
	int e;

	e = ERRNO_OF(mount("none", "/nonexistent-ct-test/x", "tmpfs", 0, NULL));
	CHILD_CHECK(e != EPERM, "mount baseline is EPERM");
	e = ERRNO_OF(syscall(SYS_reboot, 0, 0, 0, NULL));
	CHILD_CHECK(e == EINVAL, "reboot with a bad magic: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
	CHILD_CHECK(e != EPERM, "keyctl baseline is EPERM");
	e = ERRNO_OF(syscall(SYS_bpf, -1, NULL, 0));
	CHILD_CHECK(e != EPERM, "bpf baseline is EPERM");
	e = ERRNO_OF(syscall(SYS_setns, -1, 0));
	CHILD_CHECK(e == EBADF, "setns(-1): %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_clone3, NULL, 0));
	CHILD_CHECK(e == EINVAL, "clone3 with size 0: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_open_by_handle_at, -1, NULL, 0));
	CHILD_CHECK(e != EPERM, "open_by_handle_at baseline is EPERM");
	e = ERRNO_OF(syscall(SYS_acct, "/nonexistent-ct-test/x"));
	CHILD_CHECK(e == ENOENT, "acct on a missing file: %s", strerror(e));
	return 0;
}

static int baseline_child(void *arg, char *msg, size_t size)
{
	return check_baseline(msg, size);
}

static void test_baseline_errnos(void **state)
{
	run_child_check(baseline_child, NULL);
}

/* Seccomp: 2 and NoNewPrivs: 1 */

static int check_status(char *msg, size_t size)
{
	char status[8192], v[64];

	CHILD_CHECK(read_self_status(status, sizeof(status)), "reading /proc/self/status");
	CHILD_CHECK(status_field(status, "Seccomp", v, sizeof(v)) && strcmp(v, "2") == 0,
		    "Seccomp: %s", v);
	CHILD_CHECK(status_field(status, "NoNewPrivs", v, sizeof(v)) && strcmp(v, "1") == 0,
		    "NoNewPrivs: %s", v);
	return 0;
}

static void test_status_shows_filter(void **state)
{
	run_filtered(CAPS_DOCKER_DEFAULT, check_status);
}

static int check_unconfined_status(char *msg, size_t size)
{
	char status[8192], v[64];

	CHILD_CHECK(read_self_status(status, sizeof(status)), "reading /proc/self/status");
	CHILD_CHECK(status_field(status, "Seccomp", v, sizeof(v)) && strcmp(v, "0") == 0,
		    "Seccomp: %s", v);
	return 0;
}

static void test_unconfined_loads_nothing(void **state)
{
	struct filter_case c = {.unconfined = true, .check = check_unconfined_status};

	run_child_check(filtered_child, &c);
}

/* Allowed */

static void *thread_main(void *arg)
{
	return arg;
}

static int check_allowed(char *msg, size_t size)
{
	char buf[4] = "";
	int fds[2], fd, status, e;
	pid_t pid;
	void *p, *ret;
	pthread_t t;

	CHILD_CHECK(getpid() > 0, "getpid");
	CHILD_CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
	CHILD_CHECK(write(fds[1], "ok", 2) == 2, "write: %s", strerror(errno));
	CHILD_CHECK(read(fds[0], buf, 2) == 2 && memcmp(buf, "ok", 2) == 0, "read: %s",
		    strerror(errno));
	close(fds[0]);
	close(fds[1]);
	fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHILD_CHECK(fd >= 0, "openat: %s", strerror(errno));
	close(fd);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	munmap(p, 4096);

	/* fork: clone without namespace flags. */
	pid = fork();
	CHILD_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(7);
	CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			WEXITSTATUS(status) == 7,
		    "fork's child did not exit 7");
	/* A thread: glibc tries clone3, gets ENOSYS from the filter, falls back to clone. */
	e = pthread_create(&t, NULL, thread_main, (void *)0x5);
	CHILD_CHECK(e == 0, "pthread_create: %s", strerror(e));
	CHILD_CHECK(pthread_join(t, &ret) == 0 && ret == (void *)0x5, "pthread_join");

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(fd >= 0, "socket(AF_UNIX): %s", strerror(errno));
	close(fd);
	CHILD_CHECK(personality(0xffffffff) >= 0, "personality(query): %s", strerror(errno));
	CHILD_CHECK(personality(PER_LINUX) >= 0, "personality(PER_LINUX): %s", strerror(errno));
	/* ptrace is allowed on kernels >= 4.8 (docker's rule). */
	e = ERRNO_OF(ptrace(PTRACE_PEEKUSER, 999999999, NULL, NULL));
	CHILD_CHECK(e == ESRCH, "ptrace on a missing pid: %s", strerror(e));
	/* CAP_SYS_CHROOT is in docker's default set. */
	e = ERRNO_OF(chroot("/nonexistent-ct-test"));
	CHILD_CHECK(e == ENOENT, "chroot: %s", strerror(e));
	/* Newer syscalls: known to libseccomp (fchmodat2) or only to our table (getxattrat). */
	e = ERRNO_OF(syscall(NR_FCHMODAT2, AT_FDCWD, "/nonexistent-ct-test", 0644, 0));
	CHILD_CHECK(e == ENOENT || e == ENOSYS, "fchmodat2: %s", strerror(e));
	e = ERRNO_OF(
	    syscall(NR_GETXATTRAT, AT_FDCWD, "/nonexistent-ct-test", 0, "user.x", NULL, 0));
	CHILD_CHECK(e != EPERM, "getxattrat refused by the filter");
	return 0;
}

static void test_default_allows(void **state)
{
	run_filtered(CAPS_DOCKER_DEFAULT, check_allowed);
}

/* Refused */

static int check_refused(char *msg, size_t size)
{
	long rc;
	int e;

	e = ERRNO_OF(unshare(CLONE_NEWNS));
	CHILD_CHECK(e == EPERM, "unshare(CLONE_NEWNS): %s", strerror(e));
	e = ERRNO_OF(mount("none", "/nonexistent-ct-test/x", "tmpfs", 0, NULL));
	CHILD_CHECK(e == EPERM, "mount: %s", strerror(e));
	e = ERRNO_OF(umount2("/nonexistent-ct-test/x", 0));
	CHILD_CHECK(e == EPERM, "umount2: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_setns, -1, 0));
	CHILD_CHECK(e == EPERM, "setns: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0));
	CHILD_CHECK(e == EPERM, "keyctl: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_add_key, "user", "ct-test", "x", 1, KEY_SPEC_PROCESS_KEYRING));
	CHILD_CHECK(e == EPERM, "add_key: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_request_key, "user", "ct-test", NULL, 0));
	CHILD_CHECK(e == EPERM, "request_key: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_reboot, 0, 0, 0, NULL));
	CHILD_CHECK(e == EPERM, "reboot: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL));
	CHILD_CHECK(e == EPERM, "kexec_load: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_open_by_handle_at, -1, NULL, 0));
	CHILD_CHECK(e == EPERM, "open_by_handle_at: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_bpf, -1, NULL, 0));
	CHILD_CHECK(e == EPERM, "bpf: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	CHILD_CHECK(e == EPERM, "perf_event_open: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_settimeofday, NULL, NULL));
	CHILD_CHECK(e == EPERM, "settimeofday: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_init_module, NULL, 0, ""));
	CHILD_CHECK(e == EPERM, "init_module: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
	CHILD_CHECK(e == EPERM, "syslog: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_acct, "/nonexistent-ct-test/x"));
	CHILD_CHECK(e == EPERM, "acct: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0));
	CHILD_CHECK(e == EPERM, "kcmp: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_userfaultfd, 0));
	CHILD_CHECK(e == EPERM, "userfaultfd: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_swapon, "/nonexistent-ct-test", 0));
	CHILD_CHECK(e == EPERM, "swapon: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_lookup_dcookie, 0, NULL, 0));
	CHILD_CHECK(e == EPERM, "lookup_dcookie: %s", strerror(e));
	/* Unknown to libseccomp here and gated on CAP_SYS_ADMIN: the default action. */
	e = ERRNO_OF(syscall(NR_LSM_GET_SELF, 0, NULL, NULL, 0));
	CHILD_CHECK(e == EPERM, "lsm_get_self_attr: %s", strerror(e));

	/* personality: only the listed personas. */
	e = ERRNO_OF(personality(ADDR_NO_RANDOMIZE));
	CHILD_CHECK(e == EPERM, "personality(ADDR_NO_RANDOMIZE): %s", strerror(e));
	e = ERRNO_OF(personality(0x1234));
	CHILD_CHECK(e == EPERM, "personality(0x1234): %s", strerror(e));
	/* socket: every family but AF_VSOCK. */
	e = ERRNO_OF(socket(AF_VSOCK, SOCK_STREAM, 0));
	CHILD_CHECK(e == EPERM, "socket(AF_VSOCK): %s", strerror(e));
	/* clone: no namespaces without CAP_SYS_ADMIN. */
	rc = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, NULL, NULL, NULL, 0);
	if (rc == 0)
		_exit(0);
	e = rc < 0 ? errno : 0;
	if (rc > 0)
		waitpid((pid_t)rc, NULL, 0);
	CHILD_CHECK(e == EPERM, "clone(CLONE_NEWUTS) was %s", rc > 0 ? "allowed" : strerror(e));
	/* clone3: ENOSYS, so that libcs fall back to clone. */
	e = ERRNO_OF(syscall(SYS_clone3, NULL, 0));
	CHILD_CHECK(e == ENOSYS, "clone3: %s", strerror(e));
	/* Syscalls newer than the profile: ENOSYS, as a kernel without them says. */
	e = ERRNO_OF(syscall(NR_OPEN_TREE_ATTR, -1, NULL, 0, NULL, 0));
	CHILD_CHECK(e == ENOSYS, "open_tree_attr: %s", strerror(e));
	e = ERRNO_OF(syscall(SECCOMP_FIRST_UNDECIDED_SYSCALL + 40));
	CHILD_CHECK(e == ENOSYS, "an unassigned syscall number: %s", strerror(e));
	return 0;
}

static void test_default_refuses(void **state)
{
	run_filtered(CAPS_DOCKER_DEFAULT, check_refused);
}

/* Capability-gated syscalls */

static int check_sys_admin(char *msg, size_t size)
{
	int e;

	e = ERRNO_OF(mount("none", "/nonexistent-ct-test/x", "tmpfs", 0, NULL));
	CHILD_CHECK(e != EPERM, "mount refused with CAP_SYS_ADMIN");
	e = ERRNO_OF(umount2("/nonexistent-ct-test/x", 0));
	CHILD_CHECK(e != EPERM, "umount2 refused with CAP_SYS_ADMIN");
	e = ERRNO_OF(unshare(0x1)); /* no such flag: EINVAL once past the filter */
	CHILD_CHECK(e == EINVAL, "unshare(bad flag): %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_setns, -1, 0));
	CHILD_CHECK(e == EBADF, "setns(-1): %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_clone3, NULL, 0));
	CHILD_CHECK(e == EINVAL, "clone3 with size 0: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_bpf, -1, NULL, 0));
	CHILD_CHECK(e != EPERM, "bpf refused with CAP_SYS_ADMIN");
	/* Namespaces by clone: allowed now (the child leaves at once). */
	long rc = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, NULL, NULL, NULL, 0);
	if (rc == 0)
		_exit(0);
	CHILD_CHECK(rc > 0, "clone(CLONE_NEWUTS): %s", strerror(errno));
	waitpid((pid_t)rc, NULL, 0);
	/* Still refused: keyring, kexec, reboot (no CAP_SYS_BOOT). */
	e = ERRNO_OF(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0));
	CHILD_CHECK(e == EPERM, "keyctl: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_reboot, 0, 0, 0, NULL));
	CHILD_CHECK(e == EPERM, "reboot: %s", strerror(e));
	return 0;
}

static void test_sys_admin_allows_mount(void **state)
{
	run_filtered(CAPS_DOCKER_DEFAULT | SYS_ADMIN, check_sys_admin);
}

static int check_other_caps(char *msg, size_t size)
{
	int e;

	e = ERRNO_OF(syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
	CHILD_CHECK(e == 0, "syslog with CAP_SYSLOG: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0));
	CHILD_CHECK(e == 0, "kcmp with CAP_SYS_PTRACE: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_settimeofday, NULL, NULL)); /* sets nothing */
	CHILD_CHECK(e == 0, "settimeofday with CAP_SYS_TIME: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_reboot, 0, 0, 0, NULL));
	CHILD_CHECK(e == EINVAL, "reboot with CAP_SYS_BOOT and a bad magic: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_acct, "/nonexistent-ct-test/x"));
	CHILD_CHECK(e == ENOENT, "acct with CAP_SYS_PACCT: %s", strerror(e));
	e = ERRNO_OF(syscall(SYS_open_by_handle_at, -1, NULL, 0));
	CHILD_CHECK(e != EPERM, "open_by_handle_at with CAP_DAC_READ_SEARCH refused");
	/* Still no mount without CAP_SYS_ADMIN. */
	e = ERRNO_OF(mount("none", "/nonexistent-ct-test/x", "tmpfs", 0, NULL));
	CHILD_CHECK(e == EPERM, "mount: %s", strerror(e));
	return 0;
}

static void test_other_caps_allow_their_syscalls(void **state)
{
	run_filtered(CAPS_DOCKER_DEFAULT | CAPS_BIT(CAP_SYSLOG) | CAPS_BIT(CAP_SYS_PTRACE) |
			 CAPS_BIT(CAP_SYS_TIME) | CAPS_BIT(CAP_SYS_BOOT) | CAPS_BIT(CAP_SYS_PACCT) |
			 CAPS_BIT(CAP_DAC_READ_SEARCH),
		     check_other_caps);
}

/* Loading needs no_new_privs once CAP_SYS_ADMIN is gone. */

static int apply_without_nnp_child(void *arg, char *msg, size_t size)
{
	struct ct_error err = CT_ERROR_INIT;
	struct seccomp_program prog;
	struct caps_plan plan = {0};
	int rc;

	CHILD_CHECK(seccomp_prepare_default(CAPS_DOCKER_DEFAULT, &prog, &err) == 0, "prepare: %s",
		    ct_error_message(&err));
	plan.effective = plan.permitted = CAPS_DOCKER_DEFAULT;
	plan.bounding = ~UINT64_C(0);
	plan.last_cap = CAPS_LAST_KNOWN;
	rc = caps_apply_final(&plan);
	CHILD_CHECK(rc == 0, "dropping CAP_SYS_ADMIN: %s", strerror(-rc));
	rc = seccomp_apply(&prog);
	CHILD_CHECK(rc == -EACCES, "seccomp_apply without no_new_privs nor CAP_SYS_ADMIN: %d", rc);
	CHILD_CHECK(caps_set_no_new_privs() == 0, "no_new_privs");
	rc = seccomp_apply(&prog);
	CHILD_CHECK(rc == 0, "seccomp_apply after no_new_privs: %s", strerror(-rc));
	return 0;
}

static void test_apply_needs_no_new_privs(void **state)
{
	run_child_check(apply_without_nnp_child, NULL);
}

static int apply_empty_child(void *arg, char *msg, size_t size)
{
	struct seccomp_program empty = {0};

	CHILD_CHECK(seccomp_apply(&empty) == -EINVAL, "an empty program was accepted");
	return 0;
}

static void test_apply_refuses_empty_program(void **state)
{
	run_child_check(apply_empty_child, NULL);
}

/* The i386 ABI of an amd64 host goes through the same profile. */

#if defined(__x86_64__)
static long int80(long nr, long a, long b)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b) : "memory");
	return ret;
}

#define I386_GETPID  20
#define I386_UNSHARE 310
#define I386_KEYCTL  288

static int i386_baseline_child(void *arg, char *msg, size_t size)
{
	CHILD_CHECK(int80(I386_GETPID, 0, 0) == getpid(), "no i386 emulation");
	return 0;
}

static int check_i386(char *msg, size_t size)
{
	long rc;

	rc = int80(I386_GETPID, 0, 0);
	CHILD_CHECK(rc == getpid(), "i386 getpid: %ld", rc);
	rc = int80(I386_UNSHARE, CLONE_NEWNS, 0);
	CHILD_CHECK(rc == -EPERM, "i386 unshare: %ld", rc);
	rc = int80(I386_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING);
	CHILD_CHECK(rc == -EPERM, "i386 keyctl: %ld", rc);
	rc = int80(SECCOMP_FIRST_UNDECIDED_SYSCALL + 40, 0, 0);
	CHILD_CHECK(rc == -ENOSYS, "i386 unassigned syscall: %ld", rc);
	return 0;
}

/* x32 shares AUDIT_ARCH_X86_64 and marks its numbers with bit 30. The filter
 * sees them even on kernels that have x32 turned off (seccomp runs before
 * the syscall is dispatched), so a refused call is EPERM either way. */
#define X32_BIT	    0x40000000L
#define X32_GETPID  39
#define X32_UNSHARE 272
#define X32_KEYCTL  250

static int check_x32(char *msg, size_t size)
{
	int e;

	e = ERRNO_OF(syscall(X32_BIT | X32_UNSHARE, CLONE_NEWNS));
	CHILD_CHECK(e == EPERM, "x32 unshare: %s", strerror(e));
	e = ERRNO_OF(
	    syscall(X32_BIT | X32_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING));
	CHILD_CHECK(e == EPERM, "x32 keyctl: %s", strerror(e));
	/* Allowed by the filter: the kernel's own answer (ENOSYS without x32). */
	e = ERRNO_OF(syscall(X32_BIT | X32_GETPID));
	CHILD_CHECK(e == 0 || e == ENOSYS, "x32 getpid: %s", strerror(e));
	return 0;
}

static void test_x32_abi(void **state)
{
	run_filtered(CAPS_DOCKER_DEFAULT, check_x32);
}

static void test_i386_abi(void **state)
{
	pid_t pid;
	int status;

	/* ia32 emulation may be compiled out or off (ia32_emulation=0). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char msg[256];

		_exit(i386_baseline_child(NULL, msg, sizeof(msg)));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		skip();
	run_filtered(CAPS_DOCKER_DEFAULT, check_i386);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepare_default),
		cmocka_unit_test(test_prepare_unconfined),
		cmocka_unit_test(test_cap_gated_filter_is_larger),
		cmocka_unit_test(test_baseline_errnos),
		cmocka_unit_test(test_status_shows_filter),
		cmocka_unit_test(test_unconfined_loads_nothing),
		cmocka_unit_test(test_default_allows),
		cmocka_unit_test(test_default_refuses),
		cmocka_unit_test(test_sys_admin_allows_mount),
		cmocka_unit_test(test_other_caps_allow_their_syscalls),
		cmocka_unit_test(test_apply_needs_no_new_privs),
		cmocka_unit_test(test_apply_refuses_empty_program),
#if defined(__x86_64__)
		cmocka_unit_test(test_i386_abi),
		cmocka_unit_test(test_x32_abi),
#endif
	};

	return cmocka_run_group_tests_name("runtime-seccomp", tests, NULL, NULL);
}
