#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <pty.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mounts.h"
#include "users.h"
#include "util.h"

char child_error[1024];

int child_fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(child_error, sizeof(child_error), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(child_error))
		snprintf(child_error + n, sizeof(child_error) - n, ": %s", strerror(err));
	return -(err ? err : EINVAL);
}

static __attribute__((noreturn)) void report_and_exit(int sync_fd, int status)
{
	char msg[1100];
	int n = snprintf(msg, sizeof(msg), "%d %s", status, child_error);

	if (write(sync_fd, msg, n) < 0) {
		/* The parent is gone; nobody to tell. */
	}
	_exit(status);
}

static int loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return child_fail(errno, "bringing up lo");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(fd);
	return rc < 0 ? child_fail(saved, "bringing up lo") : 0;
}

static const char *env_get(char **env, const char *name)
{
	size_t len = strlen(name);

	for (char **e = env; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

/* The program to exec: args[0] itself when it has a '/', else the first match
 * on the container's PATH (execvpe would search ours). */
static int find_program(const char *name, char **env, char *out, size_t size)
{
	if (strchr(name, '/')) {
		snprintf(out, size, "%s", name);
		return access(out, F_OK) == 0 ? 0 : -errno;
	}
	const char *path = env_get(env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int found_unusable = 0;
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		snprintf(out, size, "%.*s/%s", (int)len, len ? path : ".", name);
		struct stat st;
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			found_unusable = -EACCES;
		}
		path += len + (end ? 1 : 0);
	}
	return found_unusable ? found_unusable : -ENOENT;
}

static int set_home(char ***env, const char *home)
{
	size_t n = 0;

	if (env_get(*env, "HOME"))
		return 0;
	while ((*env)[n])
		n++;
	char **grown = calloc(n + 2, sizeof(char *));
	if (!grown)
		return -ENOMEM;
	memcpy(grown, *env, n * sizeof(char *));
	if (asprintf(&grown[n], "HOME=%s", home) < 0)
		return -ENOMEM;
	*env = grown;
	return 0;
}

/* Resets what the runtime's own event loop set up, and installs stdio. */
static void child_common_start(const struct child_args *a)
{
	/* The runtime blocks and ignores signals for its own event loop; exec keeps
	 * both, and a container whose init can't see SIGTERM can't be stopped
	 * gracefully. Start clean. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);

	/* The container's stdio. dup2 clears CLOEXEC on the copies. */
	for (int i = 0; i < 3; i++)
		if (a->stdio[i] != i && dup2(a->stdio[i], i) < 0) {
			child_fail(errno, "setting up stdio");
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
}

static void child_start(const struct child_args *a)
{
	const struct rt_spec *s = a->spec;

	/* The runtime blocks and ignores signals for its own event loop; exec keeps
	 * both, and a container whose init can't see SIGTERM can't be stopped
	 * gracefully. Start clean. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);

	/* The container's stdio. dup2 clears CLOEXEC on the copies. */
	for (int i = 0; i < 3; i++)
		if (a->stdio[i] != i && dup2(a->stdio[i], i) < 0) {
			child_fail(errno, "setting up stdio");
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
	/* Joining the cgroup first, then a new cgroup namespace rooted there. */
	for (size_t i = 0; i < a->n_cgroup_fds; i++)
		if (write(a->cgroup_fds[i], "0", 1) < 0) {
			child_fail(errno, "joining the container's cgroup");
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
	if ((s->namespaces & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
		child_fail(errno, "creating the cgroup namespace");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}
	if (setsid() < 0) {
		child_fail(errno, "setsid");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}
	if (s->hostname && (s->namespaces & CLONE_NEWUTS) &&
	    sethostname(s->hostname, strlen(s->hostname)) < 0) {
		child_fail(errno, "setting the hostname %s", s->hostname);
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}
	/* The network namespace the API server made: its interfaces were plumbed
	 * before we were started, so the process finds eth0 up from its first
	 * instruction. Joined before any mount, as /sys shows the mounter's. */
	if (a->netns_fd >= 0) {
		if (setns(a->netns_fd, CLONE_NEWNET) < 0) {
			child_fail(errno, "joining the container's network namespace");
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
		close(a->netns_fd);
	}
	if ((s->namespaces & CLONE_NEWNET) && loopback_up() < 0)
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	if (mounts_setup_rootfs(s, a->bundle, a->init_path) < 0 || mounts_finish(s) < 0)
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
}

/* The part shared with exec: who the process runs as, where, its limits and
 * confinement, then exec. "/" is the container's when this runs. */
static int open_in_root(const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return -errno;
	int fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	int saved = errno;
	close(root);
	return fd < 0 ? -saved : fd;
}

/* chdir to path inside the container, creating what is missing. */
static int chdir_in_root(const char *path, uid_t uid, gid_t gid)
{
	int fd = open_in_root(path);

	if (fd == -ENOENT) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%s", path);
		for (char *p = buf + 1;; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			char saved = *p;
			*p = '\0';
			int dir = open_in_root(buf);
			if (dir == -ENOENT) {
				char *slash = strrchr(buf, '/');
				*slash = '\0';
				int parent = open_in_root(buf[0] ? buf : "/");
				*slash = '/';
				if (parent < 0)
					return parent;
				int rc = mkdirat(parent, slash + 1, 0755);
				if (rc == 0 && uid != 0 && fchownat(parent, slash + 1, uid, gid,
								    AT_SYMLINK_NOFOLLOW) < 0)
					rc = -1;
				int err = errno;
				close(parent);
				if (rc < 0 && err != EEXIST)
					return -err;
			} else if (dir >= 0) {
				close(dir);
			} else {
				return dir;
			}
			*p = saved;
			if (!saved)
				break;
		}
		fd = open_in_root(path);
	}
	if (fd < 0)
		return fd;
	int rc = fchdir(fd);
	int err = errno;
	close(fd);
	return rc < 0 ? -err : 0;
}

/* -t: a terminal from the container's own devpts. The process gets the
 * slave as its controlling terminal and stdio; the master goes to the runtime
 * over the sync socket, announced by one byte 'T'. */
static void setup_terminal(int sync_fd, unsigned short rows, unsigned short cols)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[64];

	if (master < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0) {
		child_fail(errno, "allocating a terminal");
		report_and_exit(sync_fd, CHILD_EXIT_SETUP);
	}
	/* A controlling terminal needs a session of our own (exec's processes
	 * have none yet; the container's first one made it already). */
	setsid();
	int slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
		child_fail(errno, "opening the terminal %s", name);
		report_and_exit(sync_fd, CHILD_EXIT_SETUP);
	}
	/* The client's window size before the process can ask for it. */
	if (rows && cols) {
		struct winsize ws = {.ws_row = rows, .ws_col = cols};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	for (int i = 0; i < 3; i++)
		dup2(slave, i);
	if (slave > 2)
		close(slave);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = {0};
	char tag = 'T';
	struct iovec iov = {.iov_base = &tag, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sync_fd, &mh, 0) != 1) {
		child_fail(errno, "handing the terminal to the runtime");
		report_and_exit(sync_fd, CHILD_EXIT_SETUP);
	}
	close(master);
}

static void __attribute__((noreturn)) child_finish(const struct child_args *a)
{
	const struct rt_spec *s = a->spec;
	char **env = s->env;
	char program[4096];
	int rc;

	if (s->terminal)
		setup_terminal(a->sync_fd, a->tty_rows, a->tty_cols);

	/* Who the process runs as, from the image's own files. */
	struct resolved_user user = {.uid = s->uid, .gid = s->gid};
	snprintf(user.home, sizeof(user.home), "/");
	if (s->user_name) {
		const char *what = "user";
		rc = users_resolve(s->user_name, &user, &what);
		if (rc < 0) {
			child_fail(0, "unable to find %s in the image's /etc/%s (-u %s)", what,
				   strcmp(what, "user") == 0 ? "passwd" : "group", s->user_name);
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
	} else {
		for (size_t i = 0; i < s->n_additional_gids && i < USERS_MAX_GROUPS; i++)
			user.groups[user.n_groups++] = s->additional_gids[i];
		if (s->uid == 0)
			snprintf(user.home, sizeof(user.home), "/root");
	}
	if (set_home(&env, user.home) < 0) {
		child_fail(ENOMEM, "setting HOME");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}

	/* Nothing of the runtime's may stay open past this point: a descriptor
	 * of a host folder (a cgroup's, say) would let a working directory like
	 * /proc/self/fd/N lead out of the rootfs (CVE-2024-21626 class). Only the
	 * sync socket stays, and it closes at exec. */
	if (a->sync_fd > 3)
		syscall(SYS_close_range, 3, a->sync_fd - 1, 0);
	syscall(SYS_close_range, a->sync_fd + 1, ~0U, 0);

	/* The working directory: created when missing (docker does), and resolved
	 * beneath "/" (the container's) with no magic links, then entered by fd. */
	int cwd = chdir_in_root(s->cwd, user.uid, user.gid);
	if (cwd < 0) {
		child_fail(-cwd, "changing to the working directory %s", s->cwd);
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}

	if (s->has_oom_score_adj) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dprintf(fd, "%d", s->oom_score_adj);
			close(fd);
		}
	}
	if (a->apply_rlimits && (rc = a->apply_rlimits(a->security)) < 0) {
		if (!child_error[0])
			child_fail(-rc, "setting rlimits");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}

	/* Before exec, find the program while we may still read everything. */
	rc = find_program(s->args[0], env, program, sizeof(program));
	if (rc < 0) {
		child_fail(0, "%s: %s", s->args[0],
			   rc == -ENOENT ? "executable file not found in $PATH"
					 : "permission denied (not executable)");
		report_and_exit(a->sync_fd,
				rc == -ENOENT ? CHILD_EXIT_NOT_FOUND : CHILD_EXIT_CANNOT_RUN);
	}

	if (a->apply_identity) {
		rc = a->apply_identity(a->security, user.uid, user.gid, user.groups, user.n_groups);
		if (rc < 0) {
			if (!child_error[0])
				child_fail(-rc, "switching to uid %u gid %u", user.uid, user.gid);
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
	} else {
		if (setgroups(user.n_groups, user.groups) < 0 || setresgid(user.gid, user.gid, user.gid) < 0 ||
		    setresuid(user.uid, user.uid, user.uid) < 0) {
			child_fail(errno, "switching to uid %u gid %u", user.uid, user.gid);
			report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
		}
	}
	/* The helper is the container's keeper: killed, nothing would record how
	 * the container ended or release its address, ports and names, and the
	 * API server already counts it as stopped. So the container's init ends
	 * with it. Set after the switch of user, which clears it; kept across exec
	 * (no_new_privs below rules out the set-user-ID exec that would clear it). */
	if (a->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		child_fail(errno, "setting the parent-death signal");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}
	/* Always: a security line that never moves, and what lets an unprivileged
	 * process load the seccomp filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		child_fail(errno, "setting no_new_privs");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}
	if (a->apply_seccomp && (rc = a->apply_seccomp(a->security)) < 0) {
		if (!child_error[0])
			child_fail(-rc, "loading the seccomp filter");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}

	/* Only 0, 1 and 2 survive exec: everything else (the sync socket included,
	 * whose EOF tells the parent the exec happened) is marked close-on-exec. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		child_fail(errno, "closing descriptors");
		report_and_exit(a->sync_fd, CHILD_EXIT_SETUP);
	}
	execve(program, s->args, env);
	rc = errno;
	child_fail(rc, "executing %s", program);
	report_and_exit(a->sync_fd, rc == ENOENT ? CHILD_EXIT_NOT_FOUND : CHILD_EXIT_CANNOT_RUN);
	_exit(CHILD_EXIT_SETUP);
}

void child_main(const struct child_args *a)
{
	child_common_start(a);
	child_start(a);
	child_finish(a);
}

void child_exec_main(const struct child_args *a)
{
	/* Not dumpable until exec: the container's processes must not reach this
	 * one's memory or descriptors through /proc while it still holds the
	 * runtime's (CVE-2016-9962 class). execve makes it dumpable again. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	child_common_start(a);
	child_finish(a);
}

size_t child_read_verdict(int sync_fd, bool tty, int *master, char *msg, size_t size)
{
	size_t got = 0;
	ssize_t n;

	if (tty) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		char tag = 0;
		struct iovec iov = {.iov_base = &tag, .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.buf,
				    .msg_controllen = sizeof(control.buf)};
		n = recvmsg(sync_fd, &mh, MSG_CMSG_CLOEXEC);
		struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&mh) : NULL;
		if (n == 1 && tag == 'T' && c && c->cmsg_type == SCM_RIGHTS)
			memcpy(master, CMSG_DATA(c), sizeof(int));
		else if (n > 0)
			msg[got++] = tag; /* an error message's first byte */
	}
	/* A setup that hangs (a FIFO where a file should be, a stuck mount) must
	 * not hang the start: after the deadline it is an error. */
	uint64_t deadline = ct_now_monotonic_ms() + CHILD_SETUP_TIMEOUT_MS;
	for (;;) {
		uint64_t now = ct_now_monotonic_ms();
		struct pollfd p = {.fd = sync_fd, .events = POLLIN};
		if (now >= deadline || poll(&p, 1, deadline - now) == 0) {
			got = snprintf(msg, size, "125 the container's set-up did not finish within %d s",
				       CHILD_SETUP_TIMEOUT_MS / 1000);
			if (got >= size)
				got = size - 1;
			if (*master >= 0) {
				close(*master);
				*master = -1;
			}
			return got;
		}
		if (got + 1 >= size)
			break;
		n = read(sync_fd, msg + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	msg[got] = '\0';
	if (got > 0 && *master >= 0) {
		close(*master);
		*master = -1;
	}
	return got;
}
