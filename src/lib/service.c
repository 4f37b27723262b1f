#include "service.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

static void signal_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct ct_service *svc = data;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("%s: received signal %d; stopping", svc->name, si.ssi_signo);
		ct_loop_quit(loop);
	}
}

static int usage(const char *name, struct ct_error *err)
{
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "usage: %s start --socket PATH [--resources DIR] [--debug] [flags…]; "
			    "plugins are started by container-apiserver",
			    name);
}

int ct_service_init(struct ct_service *svc, const char *name, int argc, char **argv,
		    struct ct_error *err)
{
	int i = 2;

	memset(svc, 0, sizeof(*svc));
	svc->name = name;
	svc->signal_fd = -1;
	if (argc < 2 || strcmp(argv[1], "start") != 0)
		return usage(name, err);
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			svc->socket_path = xstrdup(argv[++i]);
		else if (strcmp(argv[i], "--resources") == 0 && i + 1 < argc)
			svc->resources = xstrdup(argv[++i]);
		else if (strcmp(argv[i], "--debug") == 0)
			svc->debug = true;
		else
			break;
	}
	svc->argc = argc - i;
	svc->argv = argv + i;
	if (!svc->socket_path)
		return usage(name, err);

	ct_log_init(name, svc->debug ? CT_LOG_DEBUG : CT_LOG_INFO, false);
	if (ct_paths_resolve(&svc->paths, NULL, NULL, NULL, err) < 0)
		return -1;
	_cleanup_free_ char *log_file = ct_paths_log_file(&svc->paths);
	if (ct_log_open_file(log_file) < 0)
		/* Without a log file, messages go to stderr (which the API server points
		 * at the same file anyway). */
		ct_log_init(name, svc->debug ? CT_LOG_DEBUG : CT_LOG_INFO, true);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (svc->signal_fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a signalfd");

	int lfd;
	const char *inherited = getenv("CONTAINER_LISTEN_FD");
	if (inherited && *inherited) {
		lfd = atoi(inherited);
		/* Not for our children: they must not hold our socket. */
		unsetenv("CONTAINER_LISTEN_FD");
		if (lfd < 3)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "CONTAINER_LISTEN_FD=%s is not a valid descriptor",
					    inherited);
		if (fcntl(lfd, F_SETFD, FD_CLOEXEC) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "using the inherited socket fd %d",
					      lfd);
	} else {
		lfd = ct_server_listen_unix(svc->socket_path, 0600, (gid_t)-1, err);
		if (lfd < 0)
			return -1;
	}
	if (!(svc->loop = ct_loop_new(err)))
		return -1;
	struct ct_server_options opts = {.name = name, .allowed_gid = (gid_t)-1};
	if (!(svc->server = ct_server_new(svc->loop, lfd, &opts, err)))
		return -1;
	if (!ct_loop_watch(svc->loop, svc->signal_fd, EPOLLIN, signal_event, svc, err))
		return -1;
	return 0;
}

int ct_service_run(struct ct_service *svc, struct ct_error *err)
{
	log_info("%s serving on %s (pid %d)", svc->name, svc->socket_path, getpid());
	return ct_loop_run(svc->loop, err);
}

void ct_service_fini(struct ct_service *svc)
{
	ct_server_free(svc->server);
	ct_loop_free(svc->loop);
	if (svc->signal_fd >= 0)
		close(svc->signal_fd);
	free(svc->socket_path);
	free(svc->resources);
	ct_paths_free(&svc->paths);
	memset(svc, 0, sizeof(*svc));
	svc->signal_fd = -1;
}
