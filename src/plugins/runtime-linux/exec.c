#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cleanup.h"
#include "frame.h"
#include "json_util.h"
#include "log.h"
#include "security_glue.h"
#include "users.h"
#include "util.h"

struct pending_exec {
	pid_t pid;
	struct ct_request *req;
	/* exec -t: the terminal, and the client's descriptors it is copied with. */
	struct helper *h;
	int master, in_fd, out_fd;
	struct ct_watch *master_watch, *in_watch;
	struct pending_exec *next;
};

static struct pending_exec *pending;

/* The order setns needs: the user namespace would come first; mount last,
 * because it changes what "/proc" means for the rest. */
static const struct {
	const char *name;
	int type;
} ns_order[] = {
	{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},	     {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};

/* Copies what the terminal has to the client; false once it is closed. */
static bool drain_master(struct pending_exec *p)
{
	char buf[16384];

	for (;;) {
		ssize_t n = read(p->master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		for (ssize_t off = 0; off < n && p->out_fd >= 0;) {
			ssize_t w = write(p->out_fd, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				break;
			off += w;
		}
	}
}

static void close_terminal(struct pending_exec *p)
{
	if (p->master_watch)
		ct_loop_unwatch(p->h->loop, p->master_watch);
	if (p->in_watch)
		ct_loop_unwatch(p->h->loop, p->in_watch);
	p->master_watch = p->in_watch = NULL;
	if (p->master >= 0)
		close(p->master);
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->master = p->in_fd = p->out_fd = -1;
}

static void master_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct pending_exec *p = data;

	if (!drain_master(p)) {
		ct_loop_unwatch(loop, p->master_watch);
		p->master_watch = NULL;
	}
}

static void input_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct pending_exec *p = data;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ct_loop_unwatch(loop, p->in_watch);
		p->in_watch = NULL;
		return;
	}
	if (write(p->master, buf, n) < 0) {
		/* The process has gone; its exit is reported by the reaper. */
	}
}

bool exec_reaped(struct helper *h, pid_t pid, int status)
{
	for (struct pending_exec **pp = &pending; *pp; pp = &(*pp)->next) {
		struct pending_exec *p = *pp;
		if (p->pid != pid)
			continue;
		*pp = p->next;
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (p->master >= 0) {
			/* The last output before the exit status. */
			drain_master(p);
			close_terminal(p);
		}
		if (p->req)
			ct_request_reply(p->req, json_pack("{s:i}", "exitCode", code), NULL, 0);
		free(p);
		return true;
	}
	return false;
}

/* In the intermediate process, inside the namespaces: the process to exec is
 * forked here so it is really in the container's pid namespace. It reports
 * setup failures over sync_fd like the container's first process. */
static void __attribute__((noreturn))
exec_inner(struct helper *h, char **args, char **env, const char *cwd, const char *user,
	   int sync_fd, const int stdio[3], bool tty, unsigned short rows, unsigned short cols)
{
	struct rt_spec spec = h->spec;
	spec.terminal = tty;
	spec.args = args;
	spec.env = env;
	spec.cwd = (char *)cwd;
	if (user) {
		spec.user_name = (char *)user;
	}
	pid_t pid = fork();
	if (pid < 0)
		_exit(125);
	if (pid == 0) {
		struct child_args a = {
			.spec = &spec,
			.bundle = h->bundle,
			.sync_fd = sync_fd,
			.stdio = {stdio[0], stdio[1], stdio[2]},
			.tty_rows = rows,
			.tty_cols = cols,
		};
		security_glue_prepare_exec(h, &a);
		child_exec_main(&a);
	}
	close(sync_fd);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	if (WIFSIGNALED(status)) {
		/* Die the same way, so the helper sees the signal. */
		signal(WTERMSIG(status), SIG_DFL);
		kill(getpid(), WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}

void exec_route(struct ct_request *req, void *data)
{
	struct helper *h = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *body = ct_request_body(req);
	_cleanup_strv_ char **args = NULL, **extra_env = NULL;
	const char *cwd = NULL, *user = NULL;
	bool detach = false, interactive = false, tty = false;
	int64_t rows = 0, cols = 0;
	int ns_fds[ARRAY_SIZE(ns_order)];
	int stdio[3] = {-1, -1, -1};

	if (ct_json_get_string_array(body, "args", true, &args, "request body", &err) < 0 ||
	    ct_json_get_string_array(body, "env", false, &extra_env, "request body", &err) < 0 ||
	    ct_json_get_string(body, "cwd", false, &cwd, "request body", &err) < 0 ||
	    ct_json_get_string(body, "user", false, &user, "request body", &err) < 0 ||
	    ct_json_get_bool(body, "detach", false, &detach, "request body", &err) < 0 ||
	    ct_json_get_bool(body, "interactive", false, &interactive, "request body", &err) < 0 ||
	    ct_json_get_bool(body, "tty", false, &tty, "request body", &err) < 0 ||
	    ct_json_get_int(body, "rows", false, &rows, "request body", &err) < 0 ||
	    ct_json_get_int(body, "cols", false, &cols, "request body", &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	if (!args[0]) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "exec needs a command");
		return;
	}
	if (h->exited) {
		ct_request_error(req, CT_ERR_CONFLICT, "container %s is not running", h->id);
		return;
	}
	size_t k = 0, nfds = ct_request_nfds(req);
	if (interactive && k < nfds)
		stdio[0] = ct_request_take_fd(req, k++);
	if (k + 2 <= nfds) {
		stdio[1] = ct_request_take_fd(req, k++);
		stdio[2] = ct_request_take_fd(req, k++);
	}
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3; i++)
		if (stdio[i] < 0)
			stdio[i] = dup(devnull);
	close(devnull);

	/* The container's environment, then the exec's own (a later NAME wins
	 * when the process reads its environment first to last: put them last). */
	size_t n_env = 0, n_extra = 0;
	while (h->spec.env[n_env])
		n_env++;
	while (extra_env && extra_env[n_extra])
		n_extra++;
	_cleanup_free_ char **env = xcalloc(n_env + n_extra + 1, sizeof(char *));
	memcpy(env, h->spec.env, n_env * sizeof(char *));
	for (size_t i = 0; i < n_extra; i++)
		env[n_env + i] = extra_env[i];

	for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", h->pid, ns_order[i].name);
		ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
	}
	int sync[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) {
		ct_request_error(req, CT_ERR_INTERNAL, "socketpair: %s", strerror(errno));
		goto out;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(sync[0]);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		security_glue_enter_cgroup(h);
		for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++) {
			if (ns_fds[i] < 0)
				continue;
			/* A namespace the container shares with the host (--network
			 * host) is ours already. */
			if (setns(ns_fds[i], ns_order[i].type) < 0 && errno != EINVAL) {
				child_fail(errno, "joining the container's %s namespace",
					   ns_order[i].name);
				dprintf(sync[1], "125 %s", child_error);
				_exit(125);
			}
		}
		exec_inner(h, args, env, cwd ? cwd : h->spec.cwd, user, sync[1], stdio, tty && !detach,
			   rows > 0 && rows < 65536 ? rows : 0, cols > 0 && cols < 65536 ? cols : 0);
	}
	close(sync[1]);
	if (pid < 0) {
		close(sync[0]);
		ct_request_error(req, CT_ERR_INTERNAL, "fork: %s", strerror(errno));
		goto out;
	}
	/* The setup's verdict: EOF means the command runs. */
	char msg[1200];
	int master = -1;
	size_t got = child_read_verdict(sync[0], tty && !detach, &master, msg, sizeof(msg));
	close(sync[0]);
	if (got > 0) {
		int status = atoi(msg);
		const char *text = strchr(msg, ' ');
		ct_request_error(req,
				 status == 127	 ? CT_ERR_COMMAND_NOT_FOUND
				 : status == 126 ? CT_ERR_CANNOT_RUN
						 : CT_ERR_INTERNAL,
				 "exec in container %s: %s", h->id, text ? text + 1 : msg);
		/* Reaped by the SIGCHLD handler like any other child; it may be
		 * stuck rather than exited (the set-up timed out). */
		kill(pid, SIGKILL);
		struct pending_exec *p = xcalloc(1, sizeof(*p));
		p->pid = pid;
		p->h = h;
		p->master = p->in_fd = p->out_fd = -1;
		p->next = pending;
		pending = p;
		goto out;
	}
	struct pending_exec *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->req = detach ? NULL : req;
	p->h = h;
	p->master = p->in_fd = p->out_fd = -1;
	if (master >= 0) {
		/* The terminal is ours to copy: keep the client's descriptors. */
		p->master = master;
		ct_set_nonblock(master, true);
		p->out_fd = dup(stdio[1]);
		p->master_watch = ct_loop_watch(h->loop, master, EPOLLIN, master_event, p, NULL);
		if (interactive) {
			p->in_fd = dup(stdio[0]);
			ct_set_nonblock(p->in_fd, true);
			p->in_watch = ct_loop_watch(h->loop, p->in_fd, EPOLLIN, input_event, p, NULL);
		}
	}
	p->next = pending;
	pending = p;
	if (detach)
		ct_request_reply(req, json_pack("{s:i}", "pid", (int)pid), NULL, 0);
	log_debug("exec in container %s: %s (pid %d)", h->id, args[0], pid);
out:
	for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++)
		if (ns_fds[i] >= 0)
			close(ns_fds[i]);
	for (int i = 0; i < 3; i++)
		close(stdio[i]);
}
