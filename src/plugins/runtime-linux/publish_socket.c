#include "publish_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"
#include "log.h"
#include "util.h"

/* Relayed connections at once, all listeners together; past it a client is
 * accepted and closed at once (rather than left in the backlog to time out). */
#define PUBLISH_MAX_RELAYS 256
/* Each relay holds six descriptors: two sockets and a pipe per direction. */
#define RELAY_FDS 6
/* Descriptors kept for everything else the helper does (its socket, exec, logs). */
#define RESERVED_FDS 128
/* Clients taken per wake-up of a listener, so one busy listener can't starve
 * the helper's other work. */
#define ACCEPT_BURST 16
/* Out of descriptors or memory: listening resumes after this pause. */
#define ACCEPT_PAUSE_MS 200

struct publish_sockets;

struct ps_listener {
	struct publish_sockets *owner;
	const struct rt_publish_socket *entry; /* in h->spec */
	int fd;
	struct ct_watch *watch;
	struct ct_timer *resume_timer;
	/* The socket file we made: only that one is ever removed. */
	dev_t dev;
	ino_t ino;
};

/* One direction of a relay: bytes move source socket → pipe → destination
 * socket with splice(), never through our memory. */
struct ps_direction {
	int pipe[2];
	size_t buffered; /* bytes in the pipe */
	bool eof;	 /* the source has no more to send */
	bool shut;	 /* ...and the destination was told so (shutdown SHUT_WR) */
};

enum { SIDE_CLIENT, SIDE_CONTAINER };

/* dir[SIDE_CLIENT] carries what the host client sends, dir[SIDE_CONTAINER]
 * what the container answers: dir[i] reads fd[i] and writes fd[1 - i]. */
struct ps_relay {
	struct publish_sockets *owner;
	const char *host_path; /* for messages */
	int fd[2];
	struct ct_watch *watch[2];
	uint32_t events[2];
	struct ps_direction dir[2];
	struct ps_relay *prev, *next;
};

struct publish_sockets {
	struct helper *h;
	struct ps_listener *listeners;
	size_t n_listeners;
	struct ps_relay *relays;
	size_t n_relays, max_relays;
	bool warned_full;
};

/* ---- reaching the socket inside the container ------------------------------ */

/* Connects to path inside the container: resolved in the container's root as
 * its own processes see it (RESOLVE_IN_ROOT: "..", absolute symlinks and mount
 * crossings can't leave it; RESOLVE_NO_MAGICLINKS: nor /proc/PID/root-style
 * jumps). The socket is then reached through the resolved inode itself, by
 * /proc/self/fd/N, so nothing can swap the path between the check and the
 * connect, and the container's path may be longer than sun_path's 108 bytes. */
static int connect_in_container(struct publish_sockets *ps, const char *path, struct ct_error *err)
{
	char proc_root[48];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int rootfd = -1, target = -1, sock = -1;
	struct stat st;

	snprintf(proc_root, sizeof(proc_root), "/proc/%d/root", (int)ps->h->pid);
	rootfd = open(proc_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ct_error_errno(err, CT_ERR_UNAVAILABLE, "opening the container's root %s",
				      proc_root);
	target = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (target < 0)
		return ct_error_errno(err, CT_ERR_NOT_FOUND, "resolving %s in the container", path);
	if (fstat(target, &st) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting %s in the container", path);
	if (!S_ISSOCK(st.st_mode))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s in the container is not a socket", path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a socket");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", target);
	/* A Unix stream connect completes at once or fails; it never goes
	 * EINPROGRESS. EAGAIN means the container's backlog is full. */
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return ct_error_errno(err, CT_ERR_UNAVAILABLE, "connecting to %s in the container",
				      path);
	return move_fd(sock);
}

/* ---- relays ---------------------------------------------------------------- */

static void relay_close(struct ps_relay *r)
{
	struct publish_sockets *ps = r->owner;

	for (int i = 0; i < 2; i++) {
		ct_loop_unwatch(ps->h->loop, r->watch[i]);
		cleanup_closep(&r->fd[i]);
		cleanup_closep(&r->dir[i].pipe[0]);
		cleanup_closep(&r->dir[i].pipe[1]);
	}
	if (r->prev)
		r->prev->next = r->next;
	else
		ps->relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	ps->n_relays--;
	free(r);
}

/* Moves what the pipe of direction d holds to its destination; once the
 * source's EOF has gone through, passes it on as a half-close. */
static int direction_flush(struct ps_relay *r, int d)
{
	struct ps_direction *dir = &r->dir[d];
	int dst = r->fd[1 - d];

	while (dir->buffered > 0) {
		ssize_t n = splice(dir->pipe[0], NULL, dst, NULL, dir->buffered,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n == 0)
			errno = EPIPE;
		if (n <= 0)
			return -1;
		dir->buffered -= (size_t)n;
	}
	if (dir->eof && !dir->shut) {
		/* ENOTCONN: the peer is gone already; the other direction will say so. */
		shutdown(dst, SHUT_WR);
		dir->shut = true;
	}
	return 0;
}

/* Reads from direction d's source into its empty pipe, then flushes. Reading
 * only into an empty pipe keeps the level-triggered loop from spinning on a
 * readable source whose pipe is full. */
static int direction_pump(struct ps_relay *r, int d)
{
	struct ps_direction *dir = &r->dir[d];

	if (dir->buffered == 0 && !dir->eof) {
		ssize_t n = splice(r->fd[d], NULL, dir->pipe[1], NULL, 1 << 20,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n == 0)
			dir->eof = true;
		if (n > 0)
			dir->buffered = (size_t)n;
	}
	return direction_flush(r, d);
}

/* What socket i waits for: readable when its direction's pipe is empty,
 * writable when the other direction has bytes for it. Nothing to wait for is
 * edge-triggered with no events: a hang-up (which epoll always reports) is then
 * reported once instead of waking the loop again and again; the state is
 * looked at again when the other socket makes progress. */
static uint32_t relay_wanted_events(const struct ps_relay *r, int i)
{
	uint32_t ev = 0;

	if (!r->dir[i].eof && r->dir[i].buffered == 0)
		ev |= EPOLLIN;
	if (r->dir[1 - i].buffered > 0)
		ev |= EPOLLOUT;
	return ev ? ev : EPOLLET;
}

/* Returns -1 when the relay is done with (both directions closed) or broken. */
static int relay_update(struct ps_relay *r)
{
	if (r->dir[0].shut && r->dir[1].shut)
		return -1;
	for (int i = 0; i < 2; i++) {
		uint32_t ev = relay_wanted_events(r, i);
		if (ev == r->events[i])
			continue;
		if (ct_loop_watch_modify(r->owner->h->loop, r->watch[i], ev) < 0)
			return -1;
		r->events[i] = ev;
	}
	return 0;
}

static void relay_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct ps_relay *r = data;
	int i = fd == r->fd[SIDE_CLIENT] ? SIDE_CLIENT : SIDE_CONTAINER;

	if (events & EPOLLERR) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		log_debug("container %s: --publish-socket %s: a relayed connection failed on "
			  "the %s side: %s",
			  r->owner->h->id, r->host_path, i == SIDE_CLIENT ? "client" : "container",
			  strerror(soerr));
		relay_close(r);
		return;
	}
	/* A hang-up with data still queued: the reads and writes below find out
	 * what is left (splice returns the bytes, then 0 or EPIPE). */
	if ((r->events[i] & EPOLLOUT) && (events & (EPOLLOUT | EPOLLHUP)) &&
	    direction_flush(r, 1 - i) < 0)
		goto broken;
	if ((r->events[i] & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP)) && direction_pump(r, i) < 0)
		goto broken;
	if (relay_update(r) < 0)
		relay_close(r);
	return;
broken:
	log_debug("container %s: --publish-socket %s: a relayed connection broke: %s",
		  r->owner->h->id, r->host_path, strerror(errno));
	relay_close(r);
}

static void relay_open(struct ps_listener *l, int client_fd)
{
	struct publish_sockets *ps = l->owner;
	_cleanup_close_ int client = client_fd, upstream = -1;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct ps_relay *r = NULL;

	upstream = connect_in_container(ps, l->entry->container_path, &err);
	if (upstream < 0) {
		/* The container may not have made its socket yet: the client learns
		 * by the closed connection, as when nobody listens. */
		log_debug("container %s: --publish-socket %s: %s; closing the client", ps->h->id,
			  l->entry->host_path, ct_error_message(&err));
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->owner = ps;
	r->host_path = l->entry->host_path;
	r->fd[0] = r->fd[1] = -1;
	for (int i = 0; i < 2; i++)
		r->dir[i].pipe[0] = r->dir[i].pipe[1] = -1;
	for (int i = 0; i < 2; i++)
		if (pipe2(r->dir[i].pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
			log_warn("container %s: --publish-socket %s: creating a pipe: %s; closing "
				 "the client",
				 ps->h->id, l->entry->host_path, strerror(errno));
			goto fail;
		}
	r->fd[SIDE_CLIENT] = move_fd(client);
	r->fd[SIDE_CONTAINER] = move_fd(upstream);
	for (int i = 0; i < 2; i++) {
		r->events[i] = relay_wanted_events(r, i);
		r->watch[i] =
			ct_loop_watch(ps->h->loop, r->fd[i], r->events[i], relay_event, r, &err);
		if (!r->watch[i]) {
			log_warn("container %s: --publish-socket %s: %s; closing the client",
				 ps->h->id, l->entry->host_path, ct_error_message(&err));
			goto fail;
		}
	}
	r->next = ps->relays;
	if (ps->relays)
		ps->relays->prev = r;
	ps->relays = move_ptr(r);
	ps->n_relays++;
	return;
fail:
	for (int i = 0; i < 2; i++) {
		ct_loop_unwatch(ps->h->loop, r->watch[i]);
		cleanup_closep(&r->fd[i]);
		cleanup_closep(&r->dir[i].pipe[0]);
		cleanup_closep(&r->dir[i].pipe[1]);
	}
}

/* ---- listeners ------------------------------------------------------------- */

static void listener_event(struct ct_loop *loop, int fd, uint32_t events, void *data);

static void listener_resume(struct ct_loop *loop, void *data)
{
	struct ps_listener *l = data;

	l->resume_timer = NULL;
	if (l->watch)
		ct_loop_watch_modify(loop, l->watch, EPOLLIN);
}

static void listener_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct ps_listener *l = data;
	struct publish_sockets *ps = l->owner;

	for (int k = 0; k < ACCEPT_BURST; k++) {
		_cleanup_close_ int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (client < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of descriptors or memory: the client would stay in the
			 * backlog and wake us at once again; pause instead. */
			log_warn("container %s: --publish-socket %s: accepting a client: %s; "
				 "pausing for %d ms",
				 ps->h->id, l->entry->host_path, strerror(errno), ACCEPT_PAUSE_MS);
			if (!l->resume_timer && ct_loop_watch_modify(loop, l->watch, EPOLLET) == 0)
				l->resume_timer =
					ct_loop_timer(loop, ACCEPT_PAUSE_MS, listener_resume, l);
			return;
		}
		/* Exited but not yet finished: its pid must not be looked up any
		 * more (once reaped, it may name another process). */
		if (ps->h->exited)
			continue;
		if (ps->n_relays >= ps->max_relays) {
			if (!ps->warned_full)
				log_warn("container %s: --publish-socket: %zu connections are "
					 "relayed already; refusing more until some close",
					 ps->h->id, ps->n_relays);
			ps->warned_full = true;
			continue;
		}
		ps->warned_full = false;
		relay_open(l, move_fd(client));
	}
}

/* A socket file at path from an earlier run (a helper that was killed) is
 * removed; a live one (someone accepts on it: another container's?) and any
 * other kind of file are left alone and refused. */
static int remove_stale_socket(const char *path, struct ct_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int probe = -1;
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting %s", path);
	}
	if (!S_ISSOCK(st.st_mode))
		return ct_error_set(err, CT_ERR_EXISTS, 0,
				    "%s exists and is not a socket; remove it or publish on "
				    "another path",
				    path);
	strcpy(addr.sun_path, path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a socket");
	if (connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0 || errno == EAGAIN)
		return ct_error_set(err, CT_ERR_CONFLICT, 0,
				    "%s is in use: a running program (another container?) "
				    "serves it; stop that one or publish on another path",
				    path);
	if (errno != ECONNREFUSED)
		return ct_error_errno(err, CT_ERR_INTERNAL, "checking whether %s is in use", path);
	/* Between the checks and here only someone who may write the folder
	 * could swap the file, and they could remove it themselves. */
	if (unlink(path) < 0 && errno != ENOENT)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing the stale socket %s", path);
	return 0;
}

static int listener_open(struct ps_listener *l, struct ct_error *err)
{
	const char *path = l->entry->host_path;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (strlen(path) >= sizeof(addr.sun_path))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the host path %s is longer than %zu bytes", path,
				    sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, path);
	if (remove_stale_socket(path, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a socket");
	/* The file is born 0660 (bind has no mode argument; a chmod after it would
	 * leave a moment with the umask's mode). We are single-threaded. */
	mode_t old_umask = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	int bind_errno = errno;
	umask(old_umask);
	if (rc < 0) {
		errno = bind_errno;
		if (errno == ENOENT)
			return ct_error_set(
			    err, CT_ERR_NOT_FOUND, ENOENT,
			    "binding %s: its folder does not exist; create it first", path);
		return ct_error_errno(err, CT_ERR_INTERNAL, "binding %s", path);
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "%s changed while it was being made; is another program "
				      "using it?",
				      path);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (listen(fd, 128) < 0) {
		int saved = errno;
		unlink(path);
		errno = saved;
		return ct_error_errno(err, CT_ERR_INTERNAL, "listening on %s", path);
	}
	l->fd = move_fd(fd);
	return 0;
}

/* Removes the host socket file if it is still the one we made: after a fast
 * restart, the next helper may have bound its own there already. */
static void listener_close(struct publish_sockets *ps, struct ps_listener *l)
{
	struct stat st;

	if (l->resume_timer) {
		ct_loop_timer_cancel(ps->h->loop, l->resume_timer);
		l->resume_timer = NULL;
	}
	ct_loop_unwatch(ps->h->loop, l->watch);
	l->watch = NULL;
	if (l->fd < 0)
		return;
	if (lstat(l->entry->host_path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino &&
	    unlink(l->entry->host_path) < 0)
		log_warn("container %s: removing the published socket %s: %s", ps->h->id,
			 l->entry->host_path, strerror(errno));
	close(l->fd);
	l->fd = -1;
}

/* The relay bound: PUBLISH_MAX_RELAYS, fewer when the descriptor limit would
 * not hold that many. */
static size_t max_relays(void)
{
	struct rlimit rl;
	size_t max = PUBLISH_MAX_RELAYS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		size_t fit = rl.rlim_cur > RESERVED_FDS + RELAY_FDS
				 ? (rl.rlim_cur - RESERVED_FDS) / RELAY_FDS
				 : 1;
		if (fit < max)
			max = fit;
	}
	return max;
}

int publish_sockets_start(struct helper *h, struct ct_error *err)
{
	const struct rt_spec *spec = &h->spec;

	if (spec->n_publish_sockets == 0)
		return 0;
	struct publish_sockets *ps = xcalloc(1, sizeof(*ps));
	ps->h = h;
	ps->max_relays = max_relays();
	ps->listeners = xcalloc(spec->n_publish_sockets, sizeof(*ps->listeners));
	h->publish_sockets = ps;
	for (size_t i = 0; i < spec->n_publish_sockets; i++) {
		struct ps_listener *l = &ps->listeners[i];
		l->owner = ps;
		l->entry = &spec->publish_sockets[i];
		l->fd = -1;
		ps->n_listeners++;
		if (listener_open(l, err) < 0 ||
		    !(l->watch = ct_loop_watch(h->loop, l->fd, EPOLLIN, listener_event, l, err))) {
			ct_error_prefix(err, "--publish-socket %s:%s", l->entry->host_path,
					l->entry->container_path);
			publish_sockets_free(h);
			return -1;
		}
		log_info("container %s: relaying %s on the host to %s in the container", h->id,
			 l->entry->host_path, l->entry->container_path);
	}
	return 0;
}

void publish_sockets_stop(struct helper *h)
{
	struct publish_sockets *ps = h->publish_sockets;

	for (size_t i = 0; ps && i < ps->n_listeners; i++)
		listener_close(ps, &ps->listeners[i]);
}

void publish_sockets_free(struct helper *h)
{
	struct publish_sockets *ps = h->publish_sockets;

	if (!ps)
		return;
	publish_sockets_stop(h);
	while (ps->relays)
		relay_close(ps->relays);
	free(ps->listeners);
	free(ps);
	h->publish_sockets = NULL;
}
