#include "server.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "json_util.h"
#include "log.h"
#include "proto.h"
#include "util.h"

/* A client that sends frames faster than we answer gets at most this many handled
 * per wake-up, so one busy client can't starve the others. */
#define FRAMES_PER_WAKEUP 16

/* New connections taken per wake-up: few enough that a flood of them doesn't push
 * the requests of connected clients to the back of the line. */
#define ACCEPTS_PER_WAKEUP 8

/* A client that sends requests but doesn't read the replies: once this much waits
 * to be sent to it, its requests are left unread (in the socket, where the kernel
 * bounds them) until it catches up. Without this, each such client could make us
 * queue max_out_bytes (64 MiB) of replies before we hung up: a few hundred of them
 * and we are out of memory. */
#define INPUT_PAUSE_BYTES (256u << 10)

/* A frame that was begun must keep moving: a peer that sends half a frame and
 * stalls would otherwise hold its connection slot and buffer for ever. Over a Unix
 * socket a well-behaved peer finishes a 4 MiB frame in milliseconds. */
#define FRAME_STALL_MS 10000
#define STALL_SWEEP_MS 1000

/* At the connection limit, a connection that made requests but has been idle this
 * long may be closed to make room (see conn_eviction_rank). */
#define IDLE_EVICT_MS 1000

/* When accept fails for want of descriptors, the pending connection stays in the
 * backlog and the listening socket stays readable: without a pause the loop would
 * spin on it (and log each failure). */
#define ACCEPT_PAUSE_MS 100

/* Warnings about misbehaving clients: this many a second, then one line that
 * counts the rest, so a hostile client can't flood the log. */
#define CLIENT_WARNINGS_PER_SECOND 10

struct route {
	char *name;
	ct_route_fn fn;
	void *data;
};

struct out_frame {
	char *buf;
	size_t len, off;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds;
	struct out_frame *next;
};

struct conn {
	struct ct_server *srv;
	int fd;
	struct ct_watch *watch;
	struct ct_frame_reader reader;
	struct out_frame *out_head, *out_tail;
	size_t out_bytes;
	uint32_t events; /* what the watch asks for */
	bool closed;
	int refs; /* 1 for the connection itself, 1 per request in flight, 1 per event */
	uint64_t last_active_ms; /* accepted, or bytes last read */
	uint64_t requests;	 /* well-formed requests it made */
	uint64_t out_moved_ms;	 /* output queued or last sent */
	struct ucred peer;
	struct conn *prev, *next;
};

struct ct_request {
	struct conn *conn;
	int64_t id;
	char *route;
	json_t *root;
	json_t *body;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds;
};

struct ct_server {
	struct ct_loop *loop;
	int listen_fd;
	struct ct_watch *listen_watch;
	struct ct_server_options opts;
	char *name;
	struct route *routes;
	size_t nroutes;
	ct_route_fn fallback;
	void *fallback_data;
	struct conn *conns;
	size_t nconns;
	struct ct_timer *stall_sweep;  /* pending while a connection is mid-frame */
	struct ct_timer *accept_pause; /* pending while accepts are paused */
	uint64_t warn_second;
	unsigned warn_count, warn_suppressed;
};

static void client_warn(struct ct_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void client_warn(struct ct_server *srv, const char *fmt, ...)
{
	uint64_t second = ct_now_monotonic_ms() / 1000;
	_cleanup_free_ char *message = NULL;
	va_list ap;

	if (second != srv->warn_second) {
		if (srv->warn_suppressed)
			log_warn("%s: %u more warnings about clients were not shown (at most %d "
				 "a second)",
				 srv->name, srv->warn_suppressed, CLIENT_WARNINGS_PER_SECOND);
		srv->warn_second = second;
		srv->warn_count = srv->warn_suppressed = 0;
	}
	if (srv->warn_count >= CLIENT_WARNINGS_PER_SECOND) {
		srv->warn_suppressed++;
		return;
	}
	srv->warn_count++;
	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	log_warn("%s: %s", srv->name, message ? message : fmt);
}

int ct_server_listen_unix(const char *path, mode_t mode, gid_t gid, struct ct_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(addr.sun_path))
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
		    "socket path %s is longer than %zu bytes; use a shorter run root", path,
		    sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating socket %s", path);
	/* A socket file left by a killed server would make bind fail; the caller
	 * holds the instance lock, so nobody else is serving on it. */
	if (unlink(path) < 0 && errno != ENOENT)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing stale socket %s", path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "binding socket %s", path);
	if (chmod(path, mode) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the mode of %s", path);
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the group of %s", path);
	if (listen(fd, 512) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "listening on %s", path);
	return move_fd(fd);
}

static bool pid_in_group(pid_t pid, gid_t gid)
{
	char path[64];
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if ((gid_t)g == gid)
				return true;
			p = end;
		}
	}
	return false;
}

/* DESIGN.md: root, the socket's group, or the same uid; anyone else is refused
 * before a byte is parsed. */
static bool peer_allowed(const struct ct_server *srv, const struct ucred *cred)
{
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	if (srv->opts.allowed_gid == (gid_t)-1)
		return false;
	return cred->gid == srv->opts.allowed_gid || pid_in_group(cred->pid, srv->opts.allowed_gid);
}

static void conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	ct_frame_reader_reset(&c->reader);
	free(c);
}

static void conn_drop_output(struct conn *c)
{
	while (c->out_head) {
		struct out_frame *o = c->out_head;
		c->out_head = o->next;
		ct_close_fds(o->fds, o->nfds);
		free(o->buf);
		free(o);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
}

static void conn_close(struct conn *c)
{
	struct ct_server *srv = c->srv;

	if (c->closed)
		return;
	c->closed = true;
	ct_loop_unwatch(srv->loop, c->watch);
	c->watch = NULL;
	close(c->fd);
	c->fd = -1;
	conn_drop_output(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	conn_unref(c);
}

static bool conn_input_paused(const struct conn *c)
{
	return c->out_bytes > INPUT_PAUSE_BYTES;
}

static void conn_update_events(struct conn *c)
{
	uint32_t events = (conn_input_paused(c) ? 0 : EPOLLIN) | (c->out_head ? EPOLLOUT : 0);

	if (c->closed || events == c->events)
		return;
	/* Reading again after a pause: the time we didn't read is not the
	 * client's stall (stall_sweep). */
	if ((events & EPOLLIN) && !(c->events & EPOLLIN))
		c->last_active_ms = ct_now_monotonic_ms();
	c->events = events;
	ct_loop_watch_modify(c->srv->loop, c->watch, events);
}

/* Returns -1 when the connection was closed. */
static int conn_flush(struct conn *c)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	while (c->out_head) {
		struct out_frame *o = c->out_head;
		size_t before = o->off;
		int rc = ct_frame_send_some(c->fd, o->buf, o->len, &o->off, o->fds, o->nfds, &err);
		if (o->off != before)
			c->out_moved_ms = ct_now_monotonic_ms();
		if (rc < 0) {
			log_debug("%s: dropping client (pid %d): %s", c->srv->name, c->peer.pid,
				  ct_error_message(&err));
			conn_close(c);
			return -1;
		}
		if (rc == 0)
			break;
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->out_bytes -= o->len;
		ct_close_fds(o->fds, o->nfds);
		free(o->buf);
		free(o);
	}
	conn_update_events(c);
	return 0;
}

/* Queues msg (taken) with fds (taken) and sends what the socket accepts now. */
static void conn_send(struct conn *c, json_t *msg, const int *fds, size_t nfds)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct out_frame *o;

	if (c->closed || !msg) {
		json_decref(msg);
		ct_close_fds((int *)fds, nfds);
		return;
	}
	o = xcalloc(1, sizeof(*o));
	if (ct_frame_encode(msg, c->srv->opts.max_frame, &o->buf, &o->len, &err) < 0) {
		/* Too large to send: tell the client instead of silently dropping. */
		json_t *id = json_object_get(msg, "id");
		json_t *e = ct_msg_error(json_is_integer(id), json_integer_value(id),
					 CT_ERR_INTERNAL, ct_error_message(&err));
		ct_error_clear(&err);
		ct_close_fds((int *)fds, nfds);
		nfds = 0;
		if (ct_frame_encode(e, SIZE_MAX, &o->buf, &o->len, &err) < 0) {
			json_decref(e);
			json_decref(msg);
			free(o);
			return;
		}
		json_decref(e);
	}
	json_decref(msg);
	/* A reply or progress is activity too: a client just answered is between
	 * two calls, not idle (conn_eviction_rank). */
	c->last_active_ms = ct_now_monotonic_ms();
	if (nfds > 0)
		memcpy(o->fds, fds, nfds * sizeof(int));
	o->nfds = nfds;
	if (c->out_tail) {
		c->out_tail->next = o;
	} else {
		c->out_head = o;
		c->out_moved_ms = ct_now_monotonic_ms();
	}
	c->out_tail = o;
	c->out_bytes += o->len;
	if (c->out_bytes > c->srv->opts.max_out_bytes) {
		log_warn("%s: client pid %d is not reading its replies (%zu bytes queued); "
			 "closing the connection",
			 c->srv->name, c->peer.pid, c->out_bytes);
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void request_free(struct ct_request *req)
{
	ct_close_fds(req->fds, req->nfds);
	json_decref(req->root);
	free(req->route);
	conn_unref(req->conn);
	free(req);
}

static void send_protocol_error(struct conn *c, bool has_id, int64_t id, const struct ct_error *err)
{
	conn_send(c,
		  ct_msg_error(has_id, id, err->code[0] ? err->code : CT_ERR_PROTOCOL,
			       ct_error_message(err)),
		  NULL, 0);
}

static void dispatch(struct conn *c, json_t *root, int *fds, size_t nfds)
{
	struct ct_server *srv = c->srv;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_msg msg;

	if (ct_msg_parse(root, &msg, &err) < 0) {
		send_protocol_error(c, msg.has_id, msg.id, &err);
		ct_close_fds(fds, nfds);
		json_decref(root);
		return;
	}
	if (msg.kind != CT_MSG_REQUEST) {
		ct_error_set(&err, CT_ERR_PROTOCOL, 0,
			     "expected a request (a message with a route)");
		send_protocol_error(c, msg.has_id, msg.id, &err);
		ct_close_fds(fds, nfds);
		json_decref(root);
		return;
	}

	struct ct_request *req = xcalloc(1, sizeof(*req));
	req->conn = c;
	c->refs++;
	c->requests++;
	req->id = msg.id;
	req->route = xstrdup(msg.route);
	req->root = root;
	req->body = msg.body;
	if (!req->body) {
		req->body = json_object();
		json_object_set_new(root, "body", req->body);
	}
	if (nfds > 0)
		memcpy(req->fds, fds, nfds * sizeof(int));
	req->nfds = nfds;

	log_debug("%s: pid %d: %s (id %" PRId64 ")", srv->name, c->peer.pid, req->route, req->id);
	for (size_t i = 0; i < srv->nroutes; i++)
		if (strcmp(srv->routes[i].name, req->route) == 0) {
			srv->routes[i].fn(req, srv->routes[i].data);
			return;
		}
	if (srv->fallback) {
		srv->fallback(req, srv->fallback_data);
		return;
	}
	ct_request_error(req, CT_ERR_NOT_FOUND, "unknown route \"%s\"", req->route);
}

static bool conn_mid_frame(const struct conn *c)
{
	return c->reader.header_have > 0 || c->reader.nfds > 0;
}

static void stall_sweep(struct ct_loop *loop, void *data);

static void stall_sweep_arm(struct ct_server *srv)
{
	if (!srv->stall_sweep)
		srv->stall_sweep = ct_loop_timer(srv->loop, STALL_SWEEP_MS, stall_sweep, srv);
}

/* Hangs up on peers whose frame has stopped moving (a slowloris on the protocol). */
static void stall_sweep(struct ct_loop *loop, void *data)
{
	struct ct_server *srv = data;
	uint64_t now = ct_now_monotonic_ms();
	bool again = false;

	srv->stall_sweep = NULL;
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (!conn_mid_frame(c))
			continue;
		/* We stopped reading it (its replies pile up), so it can't be blamed. */
		if (conn_input_paused(c) || now - c->last_active_ms < FRAME_STALL_MS) {
			again = true;
			continue;
		}
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		ct_error_set(&err, CT_ERR_TIMEOUT, ETIMEDOUT,
			     "frame not completed: no byte of it for %d s", FRAME_STALL_MS / 1000);
		client_warn(srv, "client pid %d: %s; closing the connection", c->peer.pid,
			    ct_error_message(&err));
		send_protocol_error(c, false, 0, &err);
		conn_close(c);
	}
	if (again)
		stall_sweep_arm(srv);
}

/* How readily a connection gives up its place at the connection limit; 0: never. */
static int conn_eviction_rank(const struct conn *c, uint64_t now)
{
	bool idle = c->refs == 1 && !c->out_head;

	if (idle && c->requests == 0)
		return 3; /* connected and never asked for anything */
	if (idle && now - c->last_active_ms >= IDLE_EVICT_MS)
		return 2; /* a client's spare connection, unused for a while */
	if (c->out_head && now - c->out_moved_ms >= FRAME_STALL_MS)
		return 1; /* not reading what we send it (even with a request in flight) */
	return 0;
}

/* Since when a connection has been what its rank says. */
static uint64_t conn_rank_since(const struct conn *c, int rank)
{
	return rank == 1 ? c->out_moved_ms : c->last_active_ms;
}

/* At the connection limit: the connection to close to make room, if any. A client
 * waiting for a reply or streaming logs or events at its pace, or one answered less
 * than IDLE_EVICT_MS ago (between two calls), is never chosen; one that hasn't read
 * what we sent it for FRAME_STALL_MS may be. Connections that never made a request
 * go first (a flood of new connections is younger than a client that made its last
 * call a moment ago, so age alone would pick the client); in a rank, the one that
 * has been so for longest. */
static struct conn *conn_eviction_victim(struct ct_server *srv)
{
	uint64_t now = ct_now_monotonic_ms();
	struct conn *best = NULL;
	int best_rank = 0;

	for (struct conn *c = srv->conns; c; c = c->next) {
		int rank = conn_eviction_rank(c, now);
		if (rank > best_rank || (rank > 0 && rank == best_rank &&
					 conn_rank_since(c, rank) < conn_rank_since(best, rank))) {
			best = c;
			best_rank = rank;
		}
	}
	return best;
}

static void conn_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	c->refs++; /* a handler may close c under us */
	if ((events & EPOLLOUT) && conn_flush(c) < 0)
		goto out;
	if (conn_input_paused(c)) {
		/* Hang-ups are reported even without EPOLLIN: a peer that is gone will
		 * never read what is queued. */
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(c);
		goto out;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		c->last_active_ms = ct_now_monotonic_ms();
		for (int i = 0; i < FRAMES_PER_WAKEUP && !c->closed && !conn_input_paused(c); i++) {
			int rc = ct_frame_read(&c->reader, c->fd, &err);
			if (rc == CT_FRAME_AGAIN)
				break;
			if (rc == CT_FRAME_EOF) {
				conn_close(c);
				break;
			}
			if (rc < 0) {
				/* The stream is out of step: say why, then hang up. */
				client_warn(c->srv, "client pid %d: %s; closing the connection",
					    c->peer.pid, ct_error_message(&err));
				send_protocol_error(c, false, 0, &err);
				conn_close(c);
				break;
			}
			json_t *root = NULL;
			int fds[CT_FRAME_MAX_FDS];
			size_t nfds = 0;
			if (ct_frame_take(&c->reader, &root, fds, &nfds, &err) < 0) {
				send_protocol_error(c, false, 0, &err);
				ct_error_clear(&err);
				continue;
			}
			dispatch(c, root, fds, nfds);
		}
		if (!c->closed && conn_mid_frame(c))
			stall_sweep_arm(c->srv);
	}
out:
	conn_unref(c);
}

static void refuse(int fd, const char *code, const char *message)
{
	json_t *e = ct_msg_error(false, 0, code, message);
	char *buf = NULL;
	size_t len = 0, off = 0;

	if (ct_frame_encode(e, SIZE_MAX, &buf, &len, NULL) == 0)
		ct_frame_send_some(fd, buf, len, &off, NULL, 0, NULL);
	free(buf);
	json_decref(e);
	close(fd);
}

static void accept_resume(struct ct_loop *loop, void *data)
{
	struct ct_server *srv = data;

	srv->accept_pause = NULL;
	if (srv->listen_watch)
		ct_loop_watch_modify(srv->loop, srv->listen_watch, EPOLLIN);
}

static void accept_pause(struct ct_server *srv)
{
	if (srv->accept_pause || !srv->listen_watch)
		return;
	ct_loop_watch_modify(srv->loop, srv->listen_watch, 0);
	srv->accept_pause = ct_loop_timer(srv->loop, ACCEPT_PAUSE_MS, accept_resume, srv);
}

static void accept_event(struct ct_loop *loop, int lfd, uint32_t events, void *data)
{
	struct ct_server *srv = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				client_warn(srv, "accept: %s; not accepting for %d ms",
					    strerror(errno), ACCEPT_PAUSE_MS);
				accept_pause(srv);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				client_warn(srv, "accept: %s", strerror(errno));
			}
			return;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		if (!peer_allowed(srv, &cred)) {
			char message[256];
			client_warn(
			    srv,
			    "refused a client with uid %u (pid %d): not root, not uid %u and "
			    "not in the socket's group",
			    cred.uid, cred.pid, geteuid());
			snprintf(
			    message, sizeof(message),
			    "permission denied: uid %u may not use %s; run as root or as a member "
			    "of the socket's group",
			    cred.uid, srv->name);
			refuse(fd, CT_ERR_PERMISSION_DENIED, message);
			continue;
		}
		if (srv->nconns >= srv->opts.max_conns) {
			/* Idle connections must not lock everyone else out: the one idle for
			 * longest makes room. */
			struct conn *victim = conn_eviction_victim(srv);
			if (!victim) {
				client_warn(srv, "refused a client: %zu connections open, all busy",
					    srv->nconns);
				refuse(fd, CT_ERR_UNAVAILABLE, "too many connections; try again");
				continue;
			}
			client_warn(
			    srv,
			    "%zu connections open: closing an idle or stuck one (client pid "
			    "%d) to make room",
			    srv->nconns, victim->peer.pid);
			_cleanup_error_ struct ct_error full = CT_ERROR_INIT;
			ct_error_set(
			    &full, CT_ERR_UNAVAILABLE, 0,
			    "closed: the server is at its limit of %zu connections and this "
			    "one was idle or not reading its replies",
			    srv->opts.max_conns);
			send_protocol_error(victim, false, 0, &full);
			conn_close(victim);
		}
		struct conn *c = xcalloc(1, sizeof(*c));
		c->srv = srv;
		c->fd = fd;
		c->peer = cred;
		c->refs = 1;
		c->events = EPOLLIN;
		c->last_active_ms = ct_now_monotonic_ms();
		ct_frame_reader_init(&c->reader, srv->opts.max_frame);
		c->watch = ct_loop_watch(srv->loop, fd, EPOLLIN, conn_event, c, &err);
		if (!c->watch) {
			log_warn("%s: %s", srv->name, ct_error_message(&err));
			close(fd);
			free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nconns++;
	}
}

struct ct_server *ct_server_new(struct ct_loop *loop, int listen_fd,
				const struct ct_server_options *opts, struct ct_error *err)
{
	struct ct_server *srv = xcalloc(1, sizeof(*srv));

	srv->loop = loop;
	srv->listen_fd = listen_fd;
	if (opts)
		srv->opts = *opts;
	else
		srv->opts.allowed_gid = (gid_t)-1;
	srv->name = xstrdup(srv->opts.name ? srv->opts.name : "server");
	srv->opts.name = srv->name;
	if (!srv->opts.max_frame)
		srv->opts.max_frame = CT_FRAME_MAX_DEFAULT;
	if (!srv->opts.max_conns)
		srv->opts.max_conns = 1024;
	/* Connections must run out before descriptors do: past the descriptor limit
	 * every accept fails, and so does everything else the process opens (plugin
	 * relays, the database). A quarter of the limit stays for those. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		size_t room = rl.rlim_cur > 256 ? rl.rlim_cur - rl.rlim_cur / 4 : rl.rlim_cur / 2;
		if (srv->opts.max_conns > room)
			srv->opts.max_conns = room;
	}
	if (!srv->opts.max_out_bytes)
		srv->opts.max_out_bytes = 64u << 20;
	ct_set_nonblock(listen_fd, true);
	srv->listen_watch = ct_loop_watch(loop, listen_fd, EPOLLIN, accept_event, srv, err);
	if (!srv->listen_watch) {
		close(listen_fd);
		free(srv->name);
		free(srv);
		return NULL;
	}
	return srv;
}

void ct_server_stop_accepting(struct ct_server *srv)
{
	if (srv->accept_pause) {
		ct_loop_timer_cancel(srv->loop, srv->accept_pause);
		srv->accept_pause = NULL;
	}
	if (srv->listen_watch) {
		ct_loop_unwatch(srv->loop, srv->listen_watch);
		srv->listen_watch = NULL;
	}
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
}

void ct_server_free(struct ct_server *srv)
{
	if (!srv)
		return;
	ct_server_stop_accepting(srv);
	if (srv->stall_sweep)
		ct_loop_timer_cancel(srv->loop, srv->stall_sweep);
	while (srv->conns)
		conn_close(srv->conns);
	for (size_t i = 0; i < srv->nroutes; i++)
		free(srv->routes[i].name);
	free(srv->routes);
	free(srv->name);
	free(srv);
}

void ct_server_route(struct ct_server *srv, const char *route, ct_route_fn fn, void *data)
{
	srv->routes = realloc(srv->routes, (srv->nroutes + 1) * sizeof(*srv->routes));
	if (!srv->routes)
		abort();
	srv->routes[srv->nroutes++] =
	    (struct route){.name = xstrdup(route), .fn = fn, .data = data};
}

void ct_server_fallback(struct ct_server *srv, ct_route_fn fn, void *data)
{
	srv->fallback = fn;
	srv->fallback_data = data;
}

size_t ct_server_connections(const struct ct_server *srv)
{
	return srv->nconns;
}

const char *ct_request_route(const struct ct_request *req)
{
	return req->route;
}

int64_t ct_request_id(const struct ct_request *req)
{
	return req->id;
}

json_t *ct_request_body(const struct ct_request *req)
{
	return req->body;
}

size_t ct_request_nfds(const struct ct_request *req)
{
	return req->nfds;
}

int ct_request_take_fd(struct ct_request *req, size_t index)
{
	if (index >= req->nfds)
		return -1;
	return move_fd(req->fds[index]);
}

const struct ucred *ct_request_peer(const struct ct_request *req)
{
	return &req->conn->peer;
}

bool ct_request_alive(const struct ct_request *req)
{
	return !req->conn->closed;
}

void ct_request_progress(struct ct_request *req, json_t *progress)
{
	conn_send(req->conn, ct_msg_progress(req->id, progress), NULL, 0);
}

void ct_request_reply(struct ct_request *req, json_t *body, const int *fds, size_t nfds)
{
	conn_send(req->conn, ct_msg_reply(req->id, body), fds, nfds);
	request_free(req);
}

void ct_request_error(struct ct_request *req, const char *code, const char *fmt, ...)
{
	_cleanup_free_ char *message = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	/* Not the server's name: a request may outlive its server. */
	log_debug("request %s (id %" PRId64 ") failed: %s", req->route, req->id,
		  message ? message : "?");
	conn_send(req->conn, ct_msg_error(true, req->id, code, message), NULL, 0);
	request_free(req);
}

void ct_request_fail(struct ct_request *req, const struct ct_error *err)
{
	ct_request_error(req, err->code[0] ? err->code : CT_ERR_INTERNAL, "%s",
			 ct_error_message(err));
}
