/* container-apiserver: started by `container system start`.
 *
 *   container-apiserver start [--app-root DIR] [--install-root DIR] [--log-root DIR]
 *                             [--debug] [--foreground]
 *
 * Without --foreground it daemonises: the process that was started waits until
 * the daemon is serving (or has failed, and says why on stderr) and exits 0 or 1,
 * so the CLI knows the outcome of the start when its child exits. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apiserver.h"
#include "networks.h"
#include "cleanup.h"
#include "log.h"
#include "router.h"
#include "state.h"
#include "supervisor.h"
#include "util.h"
#include "worker.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: container-apiserver start [--app-root DIR] [--install-root DIR] "
		   "[--log-root DIR] [--debug] [--foreground]\n"
		   "The API server of container; normally started by `container system start`.\n");
}

/* Takes the instance lock on the pid file. Another live server holding it is an
 * error naming its pid. */
static int take_instance_lock(struct apiserver *api, struct ct_error *err)
{
	_cleanup_close_ int fd =
	    open(api->pidfile_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	char buf[32];

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", api->pidfile_path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return ct_error_errno(err, CT_ERR_INTERNAL, "locking %s",
					      api->pidfile_path);
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		return ct_error_set(
		    err, CT_ERR_EXISTS, 0,
		    "container-apiserver is already running (pid %s) with run root %s",
		    buf[0] ? buf : "?", api->paths.run_root);
	}
	int len = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, len, 0) != len)
		return ct_error_errno(err, CT_ERR_INTERNAL, "writing %s", api->pidfile_path);
	api->pidfile_fd = move_fd(fd);
	return 0;
}

/* Reads /etc/group itself rather than getgrnam(3): NSS would load libnss_systemd
 * and libcap into a daemon that stays resident (about 350 kB of RSS) to answer one
 * question about a local group at start. */
static struct group *find_local_group(const char *name)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/group", "re");
	struct group *g;

	if (!f)
		return NULL;
	while ((g = fgetgrent(f)))
		if (strcmp(g->gr_name, name) == 0)
			return g;
	return NULL;
}

/* DESIGN.md: the socket folder is 0700, or 0750 with the socket in group
 * "container" when that group exists, so its members may use the CLI. */
static int prepare_run_root(struct apiserver *api, struct ct_error *err)
{
	struct group *g = find_local_group("container");

	api->socket_gid = g ? g->gr_gid : (gid_t)-1;
	if (ct_mkdir_p(api->paths.run_root, 0700, err) < 0)
		return -1;
	if (chmod(api->paths.run_root, g ? 0750 : 0700) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the mode of %s",
				      api->paths.run_root);
	if (g && chown(api->paths.run_root, (uid_t)-1, g->gr_gid) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the group of %s",
				      api->paths.run_root);
	return 0;
}

static void finished_stopping(void *data)
{
	struct apiserver *api = data;

	log_info("all plugins stopped; exiting");
	ct_loop_quit(api->loop);
}

void apiserver_shutdown(struct apiserver *api, const char *why)
{
	if (api->stopping)
		return;
	api->stopping = true;
	log_info("stopping (%s)", why);
	ct_server_stop_accepting(api->server);
	/* The socket goes first, so new clients are told at once that we are down. */
	unlink(api->socket_path);
	supervisor_stop_all(api->supervisor, finished_stopping, api);
}

static void signal_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct apiserver *api = data;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			supervisor_reap(api->supervisor);
			break;
		case SIGTERM:
		case SIGINT:
			apiserver_shutdown(api, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		case SIGHUP:
			log_info("SIGHUP: rescanning plugin folders");
			supervisor_rescan(api->supervisor);
			break;
		}
	}
}

/* Detaches from the caller: fork, setsid, fork again (so we can never regain a
 * controlling terminal). Returns in the daemon with *ready_fd set; the original
 * process waits for a line on the pipe and exits with the outcome. */
static int daemonise(int *ready_fd)
{
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("container-apiserver: pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("container-apiserver: fork");
		return -1;
	}
	if (pid > 0) {
		char buf[8] = "";
		close(pipefd[1]);
		ssize_t n;
		do
			n = read(pipefd[0], buf, sizeof(buf) - 1);
		while (n < 0 && errno == EINTR);
		/* The daemon reports failures on stderr itself; "ok" means serving. */
		_exit(n >= 2 && strncmp(buf, "ok", 2) == 0 ? 0 : 1);
	}
	close(pipefd[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	*ready_fd = pipefd[1];
	return 0;
}

static void report_ready(int *ready_fd)
{
	if (*ready_fd >= 0) {
		if (write(*ready_fd, "ok\n", 3) < 0) {
			/* The starter is gone; nothing to report to. */
		}
		close(*ready_fd);
		*ready_fd = -1;
	}
}

/* Sanitizer builds (make check): LeakSanitizer's verdict on this exit goes to
 * the log as well as to its report, so the test suite can count the clean
 * exits of every API server it ran (tests/run-tests prints the figure). */
static void leak_check_at_exit(void)
{
#if defined(__SANITIZE_ADDRESS__)
	const char *opts = getenv("ASAN_OPTIONS");
	if (opts && strstr(opts, "detect_leaks=0")) {
		log_info("leak check at exit: disabled (ASAN_OPTIONS)");
		return;
	}
	if (__lsan_do_recoverable_leak_check())
		log_warn("leak check at exit: leaks found (see the LeakSanitizer report)");
	else
		log_info("leak check at exit: no leaks");
#endif
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"app-root", required_argument, NULL, 'a'},
	    {"install-root", required_argument, NULL, 'i'},
	    {"log-root", required_argument, NULL, 'l'},
	    {"debug", no_argument, NULL, 'd'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct apiserver api = {.pidfile_fd = -1};
	const char *app_root = NULL, *install_root = NULL, *log_root = NULL;
	_cleanup_free_ char *log_file = NULL, *db_path = NULL;
	_cleanup_close_ int sfd = -1;
	bool foreground = false;
	int ready_fd = -1, rc = 1, lfd, c;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			app_root = optarg;
			break;
		case 'i':
			install_root = optarg;
			break;
		case 'l':
			log_root = optarg;
			break;
		case 'd':
			api.debug = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "start") != 0) {
		usage(stderr);
		return 2;
	}

	ct_log_init("container-apiserver", api.debug ? CT_LOG_DEBUG : CT_LOG_INFO, true);
	if (ct_paths_resolve(&api.paths, app_root, install_root, log_root, &err) < 0)
		goto fail;
	ct_paths_export(&api.paths);
	api.socket_path = ct_paths_apiserver_socket(&api.paths);
	api.pidfile_path = ct_paths_apiserver_pidfile(&api.paths);

	if (!foreground && daemonise(&ready_fd) < 0)
		goto out;

	/* Everything below runs in the daemon; errors still reach the starter's
	 * stderr until we report ready. */
	log_file = ct_paths_log_file(&api.paths);
	db_path = ct_paths_state_db(&api.paths);
	if (ct_mkdir_p(api.paths.log_root, 0755, &err) < 0 ||
	    ct_mkdir_p(api.paths.app_root, 0700, &err) < 0 || prepare_run_root(&api, &err) < 0)
		goto fail;
	if (ct_log_open_file(log_file) < 0) {
		ct_error_errno(&err, CT_ERR_INTERNAL, "opening log file %s", log_file);
		goto fail;
	}
	if (take_instance_lock(&api, &err) < 0)
		goto fail;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		ct_error_errno(&err, CT_ERR_INTERNAL, "creating a signalfd");
		goto fail;
	}

	api.started_ms = ct_now_monotonic_ms();
	ct_format_time_now(api.started_at, sizeof(api.started_at));
	/* Every client holds a connection: the connection limit is a share of
	 * this one (a host's default soft limit of 1024 would cap it at 768). */
	ct_raise_nofile_limit();
	if (!(api.loop = ct_loop_new(&err)) || state_open(db_path, &api.db, &err) < 0 ||
	    !ct_loop_watch(api.loop, sfd, EPOLLIN, signal_event, &api, &err))
		goto fail;

	lfd = ct_server_listen_unix(api.socket_path, api.socket_gid == (gid_t)-1 ? 0600 : 0660,
				    api.socket_gid, &err);
	if (lfd < 0)
		goto fail;
	struct ct_server_options sopts = {.name = "container-apiserver",
					  .allowed_gid = api.socket_gid};
	if (!(api.server = ct_server_new(api.loop, lfd, &sopts, &err)))
		goto fail;
	routes_system_register(&api);
	routes_property_register(&api);
	routes_plugin_register(&api);
	routes_container_register(&api);
	routes_archive_register(&api);
	routes_network_register(&api);
	routes_dns_register(&api);
	routes_df_register(&api);
	routes_volume_register(&api);
	ct_server_fallback(api.server, router_forward, &api);

	api.supervisor = supervisor_new(&api);
	supervisor_boot(api.supervisor);
	networks_boot(&api);
	containers_boot(&api);
	dns_host_start(&api);

	log_info("serving on %s (version %s, app root %s)", api.socket_path, CONTAINER_VERSION,
		 api.paths.app_root);
	/* From here on the log file is where messages go; stderr is /dev/null. */
	if (!foreground) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			dup2(ct_log_file_fd(), STDERR_FILENO);
			close(devnull);
		}
		ct_log_init("container-apiserver", api.debug ? CT_LOG_DEBUG : CT_LOG_INFO, false);
	}
	report_ready(&ready_fd);

	if (ct_loop_run(api.loop, &err) < 0)
		log_error("%s", ct_error_message(&err));
	log_info("stopped");
	rc = 0;
	goto out;

fail:
	log_error("%s", ct_error_message(&err));
out:
	/* Folder trees still being removed or measured: they finish (their
	 * replies go out with the connections' last writes). */
	ct_worker_shutdown();
	dns_host_stop(&api);
	ct_server_free(api.server);
	supervisor_free(api.supervisor);
	state_close(api.db);
	if (api.pidfile_fd >= 0) {
		/* Only the instance that holds the lock owns these names. */
		unlink(api.socket_path);
		unlink(api.pidfile_path);
		close(api.pidfile_fd);
	}
	ct_loop_free(api.loop);
	free(api.socket_path);
	free(api.pidfile_path);
	ct_paths_free(&api.paths);
	leak_check_at_exit();
	return rc;
}
