/* docker's default seccomp profile, written out as C tables from the facts of
 * moby's profiles/seccomp/default.json (docker 28): default action
 * ERRNO(EPERM), an allow list, a few argument checks, and syscalls allowed only
 * when the container holds a given capability. Compiled with libseccomp,
 * exported as classic BPF into memory, loaded in the child with one syscall. */
#include "seccomp_profile.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

/* Allowed for every container. */
static const char *const allow_always[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    NULL,
};

/* Since Linux 4.8 a seccomp filter is re-run after a tracer changes a syscall,
 * so ptrace can no longer be used to slip past the filter; docker allows it from
 * that version on. */
static const char *const allow_since_4_8[] = {
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    NULL,
};

/* Per host architecture: the profile's "includes": {"arches": […]} groups.
 * The filter of an amd64 host also covers i386 and x32 binaries; libseccomp
 * adds each name to the ABIs that have it. */
#if defined(__x86_64__)
static const char *const allow_arch[] = {
    "arch_prctl",
    "modify_ldt",
    NULL,
};
#elif defined(__aarch64__)
static const char *const allow_arch[] = {
    "arm_fadvise64_64",
    "arm_sync_file_range",
    "sync_file_range2",
    "breakpoint",
    "cacheflush",
    "set_tls",
    NULL,
};
#else
static const char *const allow_arch[] = {NULL};
#endif

static const char *const allow_dac_read_search[] = {"open_by_handle_at", NULL};

static const char *const allow_sys_admin[] = {
    "bpf",
    "clone",
    "clone3",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "lookup_dcookie",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "perf_event_open",
    "quotactl",
    "quotactl_fd",
    "setdomainname",
    "sethostname",
    "setns",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    NULL,
};

static const char *const allow_sys_boot[] = {"reboot", NULL};
static const char *const allow_sys_chroot[] = {"chroot", NULL};
static const char *const allow_sys_module[] = {"delete_module", "init_module", "finit_module",
					       NULL};
static const char *const allow_sys_pacct[] = {"acct", NULL};
static const char *const allow_sys_ptrace[] = {
    "kcmp",   "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
    "ptrace", NULL,
};
static const char *const allow_sys_rawio[] = {"iopl", "ioperm", NULL};
static const char *const allow_sys_time[] = {"settimeofday", "stime", "clock_settime",
					     "clock_settime64", NULL};
static const char *const allow_sys_tty_config[] = {"vhangup", NULL};
static const char *const allow_sys_nice[] = {"get_mempolicy", "mbind", "set_mempolicy",
					     "set_mempolicy_home_node", NULL};
static const char *const allow_syslog[] = {"syslog", NULL};
static const char *const allow_bpf[] = {"bpf", NULL};
static const char *const allow_perfmon[] = {"perf_event_open", NULL};

static const struct {
	int cap;
	const char *const *names;
} allow_with_cap[] = {
    {CAP_DAC_READ_SEARCH, allow_dac_read_search},
    {CAP_SYS_ADMIN, allow_sys_admin},
    {CAP_SYS_BOOT, allow_sys_boot},
    {CAP_SYS_CHROOT, allow_sys_chroot},
    {CAP_SYS_MODULE, allow_sys_module},
    {CAP_SYS_PACCT, allow_sys_pacct},
    {CAP_SYS_PTRACE, allow_sys_ptrace},
    {CAP_SYS_RAWIO, allow_sys_rawio},
    {CAP_SYS_TIME, allow_sys_time},
    {CAP_SYS_TTY_CONFIG, allow_sys_tty_config},
    {CAP_SYS_NICE, allow_sys_nice},
    {CAP_SYSLOG, allow_syslog},
    {CAP_BPF, allow_bpf},
    {CAP_PERFMON, allow_perfmon},
};

/* personality(2) only with the personas programs legitimately switch to:
 * PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query).
 * Others (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, …) weaken the address space. */
static const uint64_t allowed_personalities[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};

/* Without CAP_SYS_ADMIN, clone may not create namespaces. */
#define CLONE_NAMESPACE_FLAGS                                                                      \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

#if defined(__s390x__) || defined(__s390__)
#define CLONE_FLAGS_ARG 1 /* s390 passes the stack first */
#else
#define CLONE_FLAGS_ARG 0
#endif

/* Syscall numbers for names an older libseccomp may not know yet. Since Linux
 * 5.1 (pidfd_send_signal, 424) every new syscall has the same number on every
 * architecture except alpha, so one number serves x86_64 and i386. */
static const struct {
	const char *name;
	int nr;
} unified_syscalls[] = {
    {"pidfd_send_signal", 424},
    {"io_uring_setup", 425},
    {"io_uring_enter", 426},
    {"io_uring_register", 427},
    {"open_tree", 428},
    {"move_mount", 429},
    {"fsopen", 430},
    {"fsconfig", 431},
    {"fsmount", 432},
    {"fspick", 433},
    {"pidfd_open", 434},
    {"clone3", 435},
    {"close_range", 436},
    {"openat2", 437},
    {"pidfd_getfd", 438},
    {"faccessat2", 439},
    {"process_madvise", 440},
    {"epoll_pwait2", 441},
    {"mount_setattr", 442},
    {"quotactl_fd", 443},
    {"landlock_create_ruleset", 444},
    {"landlock_add_rule", 445},
    {"landlock_restrict_self", 446},
    {"memfd_secret", 447},
    {"process_mrelease", 448},
    {"futex_waitv", 449},
    {"set_mempolicy_home_node", 450},
    {"cachestat", 451},
    {"fchmodat2", 452},
    {"map_shadow_stack", 453},
    {"futex_wake", 454},
    {"futex_wait", 455},
    {"futex_requeue", 456},
    {"statmount", 457},
    {"listmount", 458},
    {"lsm_get_self_attr", 459},
    {"lsm_set_self_attr", 460},
    {"lsm_list_modules", 461},
    {"mseal", 462},
    {"setxattrat", 463},
    {"getxattrat", 464},
    {"listxattrat", 465},
    {"removexattrat", 466},
};

_Static_assert(SECCOMP_FIRST_UNDECIDED_SYSCALL == 466 + 1,
	       "the ENOSYS range starts after the newest syscall the profile decides on");

/* Plain allows for syscalls libseccomp could not name, placed in a short BPF
 * prologue ahead of libseccomp's program (see stub_emit). */
struct allow_stub {
	int nr[ARRAY_SIZE(unified_syscalls)];
	size_t n;
};

struct build {
	scmp_filter_ctx ctx;
	struct allow_stub stub;
};

static int unified_syscall_number(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(unified_syscalls); i++)
		if (strcmp(unified_syscalls[i].name, name) == 0)
			return unified_syscalls[i].nr;
	return -1;
}

static void stub_add(struct allow_stub *stub, int nr)
{
	for (size_t i = 0; i < stub->n; i++)
		if (stub->nr[i] == nr)
			return;
	if (stub->n < ARRAY_SIZE(stub->nr))
		stub->nr[stub->n++] = nr;
}

static int rule_error(int rc, const char *name, struct ct_error *err)
{
	return ct_error_set(err, CT_ERR_INTERNAL, -rc, "adding the seccomp rule for %s: %s", name,
			    strerror(-rc));
}

static int allow_name(struct build *b, const char *name, struct ct_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR) {
		int unified = unified_syscall_number(name);

#if defined(__x86_64__)
		if (unified >= 0) {
			stub_add(&b->stub, unified);
			return 0;
		}
#else
		(void)unified;
#endif
		/* docker does the same with a name its libseccomp doesn't know:
		 * the syscall stays denied. */
		log_debug("seccomp: libseccomp does not know syscall %s; it stays denied", name);
		return 0;
	}
	rc = seccomp_rule_add(b->ctx, SCMP_ACT_ALLOW, nr, 0);
	if (rc < 0)
		return rule_error(rc, name, err);
	return 0;
}

static int allow_names(struct build *b, const char *const *names, struct ct_error *err)
{
	for (; *names; names++)
		if (allow_name(b, *names, err) < 0)
			return -1;
	return 0;
}

static bool has_cap(uint64_t mask, int cap)
{
	return cap >= 0 && cap < 64 && (mask & (UINT64_C(1) << cap));
}

static bool kernel_at_least(int want_major, int want_minor)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return true; /* no way to tell: assume a current kernel */
	return major > want_major || (major == want_major && minor >= want_minor);
}

static int add_conditional_rules(struct build *b, uint64_t caps, struct ct_error *err)
{
	int rc;

	/* socket: every family but AF_VSOCK, which reaches the host's (or the
	 * hypervisor's) vsock services from inside the container. */
	rc = seccomp_rule_add(b->ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_NE, AF_VSOCK, 0));
	if (rc < 0)
		return rule_error(rc, "socket", err);

	for (size_t i = 0; i < ARRAY_SIZE(allowed_personalities); i++) {
		rc = seccomp_rule_add(b->ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
				      SCMP_A0(SCMP_CMP_EQ, allowed_personalities[i], 0));
		if (rc < 0)
			return rule_error(rc, "personality", err);
	}

	if (!has_cap(caps, CAP_SYS_ADMIN)) {
		rc = seccomp_rule_add(
		    b->ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0));
		if (rc < 0)
			return rule_error(rc, "clone", err);
		/* clone3 passes its flags in a struct that seccomp can't read, so it
		 * can't get clone's check: it fails with ENOSYS, which makes glibc
		 * (2.34+) fall back to clone. */
		rc = seccomp_rule_add(b->ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
		if (rc < 0)
			return rule_error(rc, "clone3", err);
	}
	return 0;
}

static int add_arches(scmp_filter_ctx ctx, struct ct_error *err)
{
#if defined(__x86_64__)
	static const uint32_t extra[] = {SCMP_ARCH_X86, SCMP_ARCH_X32};
#elif defined(__aarch64__)
	static const uint32_t extra[] = {SCMP_ARCH_ARM};
#else
	static const uint32_t extra[] = {0};
#endif

	for (size_t i = 0; i < ARRAY_SIZE(extra); i++) {
		int rc;

		if (!extra[i])
			continue;
		rc = seccomp_arch_add(ctx, extra[i]);
		if (rc < 0 && rc != -EEXIST)
			return ct_error_set(err, CT_ERR_INTERNAL, -rc,
					    "adding architecture 0x%x to the seccomp filter: %s",
					    extra[i], strerror(-rc));
	}
	return 0;
}

/* The prologue. libseccomp can only name the syscalls of its own tables, and
 * the kernel may be newer: on x86_64 and i386 this prologue allows the listed
 * syscall numbers libseccomp could not resolve, and answers ENOSYS (as runc's
 * own prologue does) for numbers past the newest syscall the profile decides
 * on, so a C library probing a newer syscall falls back instead of failing with
 * EPERM. x32 calls (bit 30 set) and other architectures go straight on to
 * libseccomp's program, whose first step kills unknown architectures. */
#define X32_SYSCALL_BIT 0x40000000u

static unsigned char jump_offset(size_t from, size_t to)
{
	/* A conditional jump lands at from + 1 + offset; the prologue is short. */
	return (unsigned char)(to - from - 1);
}

static size_t stub_emit(const struct allow_stub *stub, struct sock_filter *out)
{
#if defined(__x86_64__)
	const size_t compare = 7, ge = compare + stub->n, allow = ge + 1, enosys = allow + 1,
		     end = enosys + 1;
	size_t i = 0;

	if (!out)
		return end;
	out[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						offsetof(struct seccomp_data, arch));
	out[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
					      jump_offset(i, 5));
	i++;
	out[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						offsetof(struct seccomp_data, nr));
	out[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT,
					      jump_offset(i, end), 0);
	i++;
	out[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t)(compare - i - 1), 0, 0);
	i++;
	out[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0,
					      jump_offset(i, end));
	i++;
	out[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						offsetof(struct seccomp_data, nr));
	for (size_t k = 0; k < stub->n; k++, i++)
		out[i] = (struct sock_filter)BPF_JUMP(
		    BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)stub->nr[k], jump_offset(i, allow), 0);
	out[i] =
	    (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SECCOMP_FIRST_UNDECIDED_SYSCALL,
					 jump_offset(i, enosys), jump_offset(i, end));
	i++;
	out[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	out[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	return i;
#else
	(void)stub;
	(void)out;
	return 0;
#endif
}

static int export_program(const struct build *b, struct seccomp_program *out, struct ct_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ struct sock_filter *filter = NULL;
	size_t stub_len = stub_emit(&b->stub, NULL), n, total, done = 0;
	struct stat st;
	int rc;

	fd = memfd_create("container-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "creating a memfd for the seccomp filter");
	rc = seccomp_export_bpf(b->ctx, fd);
	if (rc < 0)
		return ct_error_set(err, CT_ERR_INTERNAL, -rc, "exporting the seccomp filter: %s",
				    strerror(-rc));
	if (fstat(fd, &st) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading the seccomp filter's size");
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0)
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "libseccomp exported a seccomp filter of %lld bytes, not a "
				    "whole number of BPF instructions",
				    (long long)st.st_size);
	n = (size_t)st.st_size / sizeof(struct sock_filter);
	total = stub_len + n;
	if (total > BPF_MAXINSNS)
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "the seccomp filter has %zu instructions; the kernel takes at "
				    "most %d",
				    total, BPF_MAXINSNS);
	filter = calloc(total, sizeof(*filter));
	if (!filter)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	stub_emit(&b->stub, filter);
	while (done < (size_t)st.st_size) {
		ssize_t r = pread(fd, (char *)(filter + stub_len) + done, (size_t)st.st_size - done,
				  (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL,
					      "reading the seccomp filter back");
		if (r == 0)
			return ct_error_set(err, CT_ERR_INTERNAL, 0,
					    "the exported seccomp filter ended early");
		done += (size_t)r;
	}
	out->unconfined = false;
	out->len = (unsigned short)total;
	out->filter = move_ptr(filter);
	return 0;
}

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

int seccomp_prepare_default(const uint64_t effective_caps_mask, struct seccomp_program *out,
			    struct ct_error *err)
{
	__attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx = NULL;
	struct build b = {0};

	*out = (struct seccomp_program){0};
	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
				    "initialising libseccomp (out of memory?)");
	b.ctx = ctx;
	if (add_arches(ctx, err) < 0)
		goto fail;
	if (allow_names(&b, allow_always, err) < 0 || allow_names(&b, allow_arch, err) < 0)
		goto fail;
	if (kernel_at_least(4, 8) && allow_names(&b, allow_since_4_8, err) < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(allow_with_cap); i++)
		if (has_cap(effective_caps_mask, allow_with_cap[i].cap) &&
		    allow_names(&b, allow_with_cap[i].names, err) < 0)
			goto fail;
	if (add_conditional_rules(&b, effective_caps_mask, err) < 0)
		goto fail;
	if (export_program(&b, out, err) < 0)
		goto fail;
	return 0;
fail:
	return ct_error_prefix(err, "building the default seccomp profile");
}

void seccomp_prepare_unconfined(struct seccomp_program *out)
{
	*out = (struct seccomp_program){.unconfined = true};
}

int seccomp_apply(const struct seccomp_program *p)
{
	struct sock_fprog prog;

	if (p->unconfined)
		return 0;
	if (!p->filter || p->len == 0)
		return -EINVAL;
	prog.len = p->len;
	prog.filter = p->filter;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Kernels before 3.17 have only the prctl interface. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	return -errno;
}

void seccomp_program_free(struct seccomp_program *p)
{
	if (!p)
		return;
	free(p->filter);
	p->filter = NULL;
	p->len = 0;
}
