#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

bool exec_reaped(struct helper *h, pid_t pid, int status)
{
	for (struct pending_exec **pp = &pending; *pp; pp = &(*pp)->next) {
		struct pending_exec *p = *pp;
		if (p->pid != pid)
			continue;
		*pp = p->next;
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
	   int sync_fd, const int stdio[3])
{
	struct rt_spec spec = h->spec;
	spec.terminal = false; /* exec -t is not supported yet */
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
	bool detach = false, interactive = false;
	int ns_fds[ARRAY_SIZE(ns_order)];
	int stdio[3] = {-1, -1, -1};

	if (ct_json_get_string_array(body, "args", true, &args, "request body", &err) < 0 ||
	    ct_json_get_string_array(body, "env", false, &extra_env, "request body", &err) < 0 ||
	    ct_json_get_string(body, "cwd", false, &cwd, "request body", &err) < 0 ||
	    ct_json_get_string(body, "user", false, &user, "request body", &err) < 0 ||
	    ct_json_get_bool(body, "detach", false, &detach, "request body", &err) < 0 ||
	    ct_json_get_bool(body, "interactive", false, &interactive, "request body", &err) < 0) {
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
		exec_inner(h, args, env, cwd ? cwd : h->spec.cwd, user, sync[1], stdio);
	}
	close(sync[1]);
	if (pid < 0) {
		close(sync[0]);
		ct_request_error(req, CT_ERR_INTERNAL, "fork: %s", strerror(errno));
		goto out;
	}
	/* The setup's verdict: EOF means the command runs. */
	char msg[1200];
	ssize_t n, got = 0;
	while ((n = read(sync[0], msg + got, sizeof(msg) - 1 - got)) > 0)
		got += n;
	close(sync[0]);
	if (got > 0) {
		msg[got] = '\0';
		int status = atoi(msg);
		const char *text = strchr(msg, ' ');
		ct_request_error(req,
				 status == 127	 ? CT_ERR_COMMAND_NOT_FOUND
				 : status == 126 ? CT_ERR_CANNOT_RUN
						 : CT_ERR_INTERNAL,
				 "exec in container %s: %s", h->id, text ? text + 1 : msg);
		/* Reaped by the SIGCHLD handler like any other child. */
		struct pending_exec *p = xcalloc(1, sizeof(*p));
		p->pid = pid;
		p->next = pending;
		pending = p;
		goto out;
	}
	struct pending_exec *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->req = detach ? NULL : req;
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
