/* container-runtime-linux start --socket PATH --bundle DIR --id ID [--attach]
 *                                [--debug]
 * fd 0: the container's stdin (or /dev/null); with --attach, fds 1 and 2 are
 * where the container's output is copied besides the log; fd 3: the ready pipe,
 * which gets "ok PID" once the container's process runs, or "error STATUS
 * MESSAGE". See helper.h. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "exec.h"
#include "cleanup.h"
#include "helper.h"
#include "json_util.h"
#include "log.h"
#include "paths.h"
#include "publish_socket.h"
#include "sealed_copy.h"
#include "security_glue.h"
#include "state_file.h"
#include "util.h"

#define READY_FD 3

struct waiter {
	struct ct_request *req;
	struct waiter *next;
};

static json_t *state_json(struct helper *h)
{
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:s, s:s}", "id", h->id, "status",
			 h->exited ? "stopped" : "running", "pid", (int)h->pid, "exitCode",
			 h->exit_code, "signal", h->exit_signal, "oomKilled", h->oom_killed,
			 "startedAt", h->started_at, "finishedAt", h->finished_at);
}

int helper_write_state(struct helper *h)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct rt_state st = {
		.id = h->id,
		.status = h->exited ? "stopped" : "running",
		.pid = h->pid,
		.helper_pid = getpid(),
		.exit_code = h->exit_code,
		.signal = h->exit_signal,
		.oom_killed = h->oom_killed,
		.started_at = h->started_at,
		.finished_at = h->finished_at[0] ? h->finished_at : NULL,
	};

	if (rt_state_write(h->bundle, &st, &err) < 0) {
		log_error("container %s: %s", h->id, ct_error_message(&err));
		return -1;
	}
	return 0;
}

static void quit_now(struct ct_loop *loop, void *data)
{
	ct_loop_quit(loop);
}

/* The container is gone and its output drained: record, answer, leave. */
static void finish(struct helper *h)
{
	if (!h->exited || h->out_fd[0] >= 0 || h->out_fd[1] >= 0)
		return;
	stdio_log_flush(&h->log);
	if (h->tty_input_watch) {
		ct_loop_unwatch(h->loop, h->tty_input_watch);
		h->tty_input_watch = NULL;
		close(h->tty_input);
		h->tty_input = -1;
	}
	security_glue_after_exit(h);
	ct_format_time_now(h->finished_at, sizeof(h->finished_at));
	helper_write_state(h);
	/* The name goes now, before anyone hears the container stopped: a start
	 * that follows binds it afresh, and nothing of ours may remove that one. */
	unlink(h->socket_path);
	publish_sockets_stop(h);
	ct_server_stop_accepting(h->server);
	log_info("container %s exited with status %d%s", h->id, h->exit_code,
		 h->oom_killed ? " (killed by the OOM killer)" : "");
	while (h->waiters) {
		struct waiter *w = h->waiters;
		h->waiters = w->next;
		ct_request_reply(w->req, state_json(h), NULL, 0);
		free(w);
	}
	if (h->kill_timer) {
		ct_loop_timer_cancel(h->loop, h->kill_timer);
		h->kill_timer = NULL;
	}
	/* A moment for the replies to reach their clients. */
	ct_loop_timer(h->loop, 50, quit_now, h);
}

static void close_output(struct helper *h, int i)
{
	if (h->out_fd[i] < 0)
		return;
	ct_loop_unwatch(h->loop, h->out_watch[i]);
	h->out_watch[i] = NULL;
	close(h->out_fd[i]);
	h->out_fd[i] = -1;
	finish(h);
}

static void output_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct helper *h = data;
	int i = fd == h->out_fd[0] ? 0 : 1;
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* (A terminal's master reads EIO once the last slave is closed.) */
	if (n <= 0) {
		if (fd == h->tty_master)
			h->tty_master = -1;
		close_output(h, i);
		return;
	}
	stdio_log_write(&h->log, i + 1, buf, n);
	if (h->client_fd[i] >= 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(h->client_fd[i], buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				/* The attached client left; the log still gets everything. */
				close(h->client_fd[i]);
				h->client_fd[i] = -1;
				break;
			}
			off += w;
		}
	}
}

static void reap(struct helper *h)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		/* As subreaper we also inherit the container's orphans when its init
		 * dies first; only init's status matters, and exec'd processes'. */
		if (pid != h->pid) {
			exec_reaped(h, pid, status);
			continue;
		}
		h->exited = true;
		if (WIFEXITED(status)) {
			h->exit_code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			h->exit_signal = WTERMSIG(status);
			h->exit_code = 128 + h->exit_signal;
		}
		finish(h);
	}
}

static void signal_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct helper *h = data;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGCHLD)
			reap(h);
}

static void route_state(struct ct_request *req, void *data)
{
	ct_request_reply(req, state_json(data), NULL, 0);
}

static void route_stats(struct ct_request *req, void *data)
{
	struct helper *h = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *stats = h->exited ? NULL : security_glue_stats(h, &err);

	if (h->exited)
		ct_request_error(req, CT_ERR_CONFLICT, "container %s is not running", h->id);
	else if (!stats)
		ct_request_fail(req, &err);
	else
		ct_request_reply(req, stats, NULL, 0);
}

/* -t: what the attached client types goes to the terminal. */
static void tty_input_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct helper *h = data;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || h->tty_master < 0) {
		ct_loop_unwatch(loop, h->tty_input_watch);
		h->tty_input_watch = NULL;
		close(h->tty_input);
		h->tty_input = -1;
		return;
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(h->tty_master, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += w;
	}
}

static void route_resize(struct ct_request *req, void *data)
{
	struct helper *h = data;
	int64_t rows = 0, cols = 0;

	ct_json_get_int(ct_request_body(req), "rows", false, &rows, "request body", NULL);
	ct_json_get_int(ct_request_body(req), "cols", false, &cols, "request body", NULL);
	if (h->tty_master < 0) {
		ct_request_error(req, CT_ERR_CONFLICT, "container %s has no terminal", h->id);
		return;
	}
	struct winsize ws = {.ws_row = rows, .ws_col = cols};
	if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535 ||
	    ioctl(h->tty_master, TIOCSWINSZ, &ws) < 0) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "cannot resize to %lldx%lld",
				 (long long)cols, (long long)rows);
		return;
	}
	ct_request_reply(req, NULL, NULL, 0);
}

static void add_waiter(struct helper *h, struct ct_request *req)
{
	struct waiter *w = xcalloc(1, sizeof(*w));

	w->req = req;
	w->next = h->waiters;
	h->waiters = w;
}

static void route_wait(struct ct_request *req, void *data)
{
	struct helper *h = data;

	if (h->exited && h->finished_at[0])
		ct_request_reply(req, state_json(h), NULL, 0);
	else
		add_waiter(h, req);
}

static int signal_from_body(struct ct_request *req, int fallback)
{
	int64_t sig = fallback;

	ct_json_get_int(ct_request_body(req), "signal", false, &sig, "request body", NULL);
	return sig > 0 && sig < 65 ? (int)sig : -1;
}

static void route_kill(struct ct_request *req, void *data)
{
	struct helper *h = data;
	int sig = signal_from_body(req, SIGKILL);

	if (sig < 0) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "signal must be 1 to 64");
		return;
	}
	if (h->exited) {
		ct_request_error(req, CT_ERR_CONFLICT, "container %s is not running", h->id);
		return;
	}
	if (kill(h->pid, sig) < 0) {
		ct_request_error(req, CT_ERR_INTERNAL, "signalling container %s: %s", h->id,
				 strerror(errno));
		return;
	}
	ct_request_reply(req, json_pack("{s:i}", "signal", sig), NULL, 0);
}

static void kill_due(struct ct_loop *loop, void *data)
{
	struct helper *h = data;

	h->kill_timer = NULL;
	if (!h->exited) {
		log_info("container %s did not stop in time; sending SIGKILL", h->id);
		kill(h->pid, SIGKILL);
	}
}

/* stop: the stop signal, then SIGKILL after the grace time; replies once the
 * container has exited. */
static void route_stop(struct ct_request *req, void *data)
{
	struct helper *h = data;
	int sig = signal_from_body(req, SIGTERM);
	int64_t timeout = 10;

	ct_json_get_int(ct_request_body(req), "timeout", false, &timeout, "request body", NULL);
	if (sig < 0) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "signal must be 1 to 64");
		return;
	}
	if (h->exited) {
		route_wait(req, data);
		return;
	}
	add_waiter(h, req);
	kill(h->pid, sig);
	if (!h->kill_timer)
		h->kill_timer = ct_loop_timer(h->loop, timeout > 0 ? timeout * 1000 : 0, kill_due, h);
}

/* Protects the runtime binary (CVE-2019-5736): run from a sealed in-memory copy,
 * so no process can reach our executable for writing through /proc/PID/exe. The
 * API server starts us from one sealed copy that all helpers share (their program
 * pages are then shared too); started any other way, we make our own copy. */
static void reexec_sealed(char **argv)
{
	struct ct_error err = CT_ERROR_INIT;
	int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0) {
		ct_error_errno(&err, CT_ERR_INTERNAL, "open /proc/self/exe");
		goto fail;
	}
	if (getenv(CT_SEALED_ENV) && ct_is_sealed(exe)) {
		close(exe);
		return;
	}
	int memfd = ct_sealed_copy(exe, "/proc/self/exe", &err);
	if (memfd < 0)
		goto fail;
	/* Who we were on disk, for caches keyed by this build (security_glue.c). */
	char identity[CT_SEALED_IDENTITY_MAX];
	ct_sealed_identity(exe, identity);
	close(exe);
	setenv(CT_SEALED_ENV, identity, 1);
	extern char **environ;
	fexecve(memfd, argv, environ);
	ct_error_errno(&err, CT_ERR_INTERNAL, "fexecve");
fail:
	fprintf(stderr, "container-runtime-linux: cannot run from a sealed copy: %s\n",
		ct_error_message(&err));
	_exit(CHILD_EXIT_SETUP);
}

static void ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdprintf(READY_FD, fmt, ap);
	va_end(ap);
	close(READY_FD);
}

/* Starts the container's process; returns its pid or -1 after reporting. */
static pid_t start_container(struct helper *h, int stdin_fd, struct ct_error *err)
{
	int sync[2], out[2], errp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating pipes");
	struct child_args a = {
		.spec = &h->spec,
		.bundle = h->bundle,
		.sync_fd = sync[1],
		.stdio = {stdin_fd, out[1], errp[1]},
		.tty_rows = h->tty_rows,
		.tty_cols = h->tty_cols,
		.netns_fd = h->netns_fd,
		.die_with_parent = true,
	};
	if (security_glue_prepare(h, &a, err) < 0)
		return -1;

	int flags = h->spec.namespaces & ~CLONE_NEWCGROUP; /* cgroupns: after joining */
	if (h->netns_fd >= 0)
		flags &= ~CLONE_NEWNET; /* joined in the child instead */
	pid_t pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating the container's namespaces");
	if (pid == 0) {
		close(sync[0]);
		close(out[0]);
		close(errp[0]);
		child_main(&a);
	}
	close(sync[1]);
	close(out[1]);
	close(errp[1]);
	if (h->netns_fd >= 0) {
		/* The container holds its namespace now; the veth dies with it. */
		close(h->netns_fd);
		h->netns_fd = -1;
	}
	security_glue_after_clone(h, &a);

	/* EOF: the child exec'd; a message: it failed, and why. */
	char msg[1200];
	size_t got = child_read_verdict(sync[0], h->spec.terminal, &h->tty_master, msg, sizeof(msg));
	close(sync[0]);
	if (got > 0) {
		int status = atoi(msg);
		const char *text = strchr(msg, ' ');
		/* It may be stuck rather than exited (the set-up timed out). */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(out[0]);
		close(errp[0]);
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, status, "%s", text ? text + 1 : msg);
		return -1;
	}
	if (h->tty_master >= 0) {
		/* The terminal carries everything: no pipes. */
		close(out[0]);
		close(errp[0]);
		h->out_fd[0] = h->tty_master;
		h->out_fd[1] = -1;
	} else {
		h->out_fd[0] = out[0];
		h->out_fd[1] = errp[0];
	}
	return pid;
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct helper h = {.out_fd = {-1, -1},
			   .client_fd = {-1, -1},
			   .log = {.fd = -1},
			   .tty_master = -1,
			   .tty_input = -1,
			   .netns_fd = -1};
	const char *socket_path = NULL;
	bool attach = false, debug = false;
	struct ct_paths paths;

	reexec_sealed(argv);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strcmp(argv[i], "--bundle") == 0 && i + 1 < argc)
			h.bundle = argv[++i];
		else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
			h.id = argv[++i];
		else if (strcmp(argv[i], "--attach") == 0)
			attach = true;
		else if (strcmp(argv[i], "--tty-size") == 0 && i + 1 < argc)
			sscanf(argv[++i], "%hu,%hu", &h.tty_rows, &h.tty_cols);
		else if (strcmp(argv[i], "--debug") == 0)
			debug = true;
		else if (strcmp(argv[i], "--netns-fd") == 0 && i + 1 < argc)
			h.netns_fd = atoi(argv[++i]);
	}
	if (h.netns_fd >= 0 && fcntl(h.netns_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "container-runtime-linux: --netns-fd %d: %s\n", h.netns_fd,
			strerror(errno));
		return 2;
	}
	if (argc < 2 || strcmp(argv[1], "start") != 0 || !socket_path || !h.bundle || !h.id) {
		fprintf(stderr, "usage: container-runtime-linux start --socket PATH --bundle DIR "
				"--id ID [--attach] [--netns-fd N] [--debug]\n");
		return 2;
	}
	ct_log_init("container-runtime-linux", debug ? CT_LOG_DEBUG : CT_LOG_INFO, false);
	if (ct_paths_resolve(&paths, NULL, NULL, NULL, &err) == 0) {
		_cleanup_free_ char *log_file = ct_paths_log_file(&paths);
		ct_log_open_file(log_file);
		ct_paths_free(&paths);
	}

	/* Detach: a new session, and not the API server's child, so neither its
	 * exit nor its signals reach us or the container. */
	pid_t pid = fork();
	if (pid < 0) {
		ready("error 125 fork: %s", strerror(errno));
		return 1;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	int stdin_fd = dup(STDIN_FILENO);
	if (attach) {
		h.client_fd[0] = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 4);
		h.client_fd[1] = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 4);
	}
	/* Our own stdio is not the container's business any more. */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	if (ct_log_file_fd() >= 0)
		dup2(ct_log_file_fd(), STDERR_FILENO);

	_cleanup_free_ char *config = xasprintf("%s/config.json", h.bundle);
	int sfd = -1;
	if (rt_spec_load(config, &h.spec, &err) < 0 || stdio_log_open(&h.log, h.bundle, &err) < 0 ||
	    !(h.loop = ct_loop_new(&err)))
		goto fail;
	int lfd = ct_server_listen_unix(socket_path, 0600, (gid_t)-1, &err);
	if (lfd < 0)
		goto fail;
	struct ct_server_options sopts = {.name = "container-runtime-linux", .allowed_gid = (gid_t)-1};
	if (!(h.server = ct_server_new(h.loop, lfd, &sopts, &err)))
		goto fail;
	h.socket_path = xstrdup(socket_path);

	ct_format_time_now(h.started_at, sizeof(h.started_at));
	h.pid = start_container(&h, stdin_fd, &err);
	if (h.tty_master >= 0 && attach)
		h.tty_input = stdin_fd; /* typed input is copied to the terminal */
	else
		close(stdin_fd);
	if (h.pid < 0 || publish_sockets_start(&h, &err) < 0)
		goto fail;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	for (int i = 0; i < 2; i++) {
		if (h.out_fd[i] < 0)
			continue;
		ct_set_nonblock(h.out_fd[i], true);
		h.out_watch[i] = ct_loop_watch(h.loop, h.out_fd[i], EPOLLIN, output_event, &h, &err);
	}
	ct_loop_watch(h.loop, sfd, EPOLLIN, signal_event, &h, &err);
	ct_server_route(h.server, "state", route_state, &h);
	ct_server_route(h.server, "wait", route_wait, &h);
	ct_server_route(h.server, "kill", route_kill, &h);
	ct_server_route(h.server, "stop", route_stop, &h);
	ct_server_route(h.server, "exec", exec_route, &h);
	ct_server_route(h.server, "stats", route_stats, &h);
	ct_server_route(h.server, "resize", route_resize, &h);
	if (h.tty_master >= 0 && h.tty_input >= 0) {
		ct_set_nonblock(h.tty_input, true);
		h.tty_input_watch =
			ct_loop_watch(h.loop, h.tty_input, EPOLLIN, tty_input_event, &h, &err);
	}
	helper_write_state(&h);
	log_info("container %s started (pid %d)", h.id, h.pid);
	ready("ok %d\n", h.pid);
	/* Compiling the seccomp filter and parsing the spec left freed heap behind;
	 * give it back: this process stays for the container's whole life. */
	malloc_trim(0);
	/* The container may have exited already. */
	reap(&h);

	if (ct_loop_run(h.loop, &err) < 0)
		log_error("container %s: %s", h.id, ct_error_message(&err));
	ct_server_free(h.server);
	free(h.socket_path);
	stdio_log_close(&h.log);
	while (h.waiters) {
		struct waiter *w = h.waiters;
		h.waiters = w->next;
		free(w);
	}
	publish_sockets_free(&h);
	security_glue_free(&h);
	ct_loop_free(h.loop);
	close(sfd);
	rt_spec_free(&h.spec);
	return 0;

fail:
	log_error("container %s: %s", h.id, ct_error_message(&err));
	if (h.pid > 0) {
		/* It runs already (what failed came after): a failed start leaves
		 * nothing running, and it is gone before anyone hears of the error. */
		kill(h.pid, SIGKILL);
		waitpid(h.pid, NULL, 0);
	}
	{
		/* A child's own status (126, 127) or 125: errno values are not exit codes. */
		int code = err.errnum == 126 || err.errnum == 127 ? err.errnum : 125;
		struct rt_state st = {.id = h.id, .status = "stopped", .exit_code = code,
				      .started_at = h.started_at, .error = ct_error_message(&err)};
		char now[32];
		ct_format_time_now(now, sizeof(now));
		st.finished_at = now;
		rt_state_write(h.bundle, &st, NULL);
	}
	ready("error %d %s", err.errnum == 126 || err.errnum == 127 ? err.errnum : 125,
	      ct_error_message(&err));
	if (h.server) {
		ct_server_free(h.server);
		unlink(socket_path);
	}
	free(h.socket_path);
	stdio_log_close(&h.log);
	security_glue_free(&h);
	ct_loop_free(h.loop);
	rt_spec_free(&h.spec);
	return 1;
}
