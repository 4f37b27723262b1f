/* The DNS server: UDP (and TCP) on one address, answers from a lookup callback,
 * everything else forwarded to upstream resolvers.
 *
 * Memory is bounded whatever arrives: datagrams are handled one at a time in a
 * fixed buffer, forwards in flight live in a table of max_pending slots allocated
 * at creation (when it is full the client gets SERVFAIL at once), and TCP
 * connections are capped at max_tcp, each with a fixed input buffer, one query at
 * a time and an idle timeout.
 *
 * Each forward gets its own UDP socket connect()ed to the upstream: the kernel then
 * drops datagrams from any other source, the source port is random (with the
 * random query id that makes 32 bits an off-path spoofer must guess), and an ICMP
 * port unreachable comes back as ECONNREFUSED, so a dead upstream is skipped at once
 * rather than after the timeout. */
#include "dns.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* Datagrams handled per wakeup before giving other watches a turn. */
#define UDP_BATCH 64

struct dns_tcp_conn;

struct dns_forward {
	struct dns_server *srv;
	bool used;
	/* The client's query: checked against the upstream's reply, echoed in SERVFAIL. */
	struct dns_query q;
	uint16_t upstream_id;
	size_t upstream; /* index into srv->upstreams of the one being asked */
	uint8_t *packet; /* the query as sent upstream (our id) */
	size_t packet_len;
	/* Where the reply goes: a UDP client address, or a TCP connection. */
	struct sockaddr_storage client;
	socklen_t client_len;
	struct dns_tcp_conn *conn;
	int fd;
	struct ct_watch *watch;
	struct ct_timer *timer;
};

struct dns_tcp_conn {
	struct dns_server *srv;
	int fd;
	struct ct_watch *watch;
	struct ct_timer *idle;
	/* The 2-byte length and one query; longer queries close the connection. */
	uint8_t in[2 + DNS_UDP_MAX];
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off;
	struct dns_forward *pending;
	/* conn_process is on the stack: conn_update leaves the work to it. */
	bool busy;
	bool closing;
	struct dns_tcp_conn *prev, *next;
};

struct dns_server {
	struct ct_loop *loop;
	dns_lookup_fn lookup;
	void *data;
	int udp_fd, tcp_fd;
	struct ct_watch *udp_watch, *tcp_watch;
	struct sockaddr_storage bound;
	uint16_t port;
	struct sockaddr_storage upstreams[DNS_MAX_UPSTREAMS];
	size_t n_upstreams;
	unsigned timeout_ms;
	struct dns_forward *fwd;
	size_t max_pending, n_pending;
	struct dns_tcp_conn *conns;
	unsigned max_tcp, n_tcp;
	struct dns_server_stats stats;
	/* Receive buffer for client datagrams and upstream replies: a reply relayed to
	 * a TCP client may be as large as a DNS message gets. */
	uint8_t *rx;
};

/* Where a reply goes. */
struct dns_dest {
	const struct sockaddr_storage *addr;
	socklen_t addr_len;
	struct dns_tcp_conn *conn;
};

static void conn_queue(struct dns_tcp_conn *c, const uint8_t *msg, size_t len);
static void conn_update(struct dns_tcp_conn *c);

/* Addresses */

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

static socklen_t sockaddr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static bool sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

int dns_parse_address(const char *text, uint16_t default_port, struct sockaddr_storage *out,
		      struct ct_error *err)
{
	_cleanup_free_ char *host = xstrdup(text);
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *ai = NULL;
	unsigned long port = default_port;
	char *hash = strchr(host, '#');

	if (hash) {
		char *end;
		*hash = '\0';
		errno = 0;
		port = strtoul(hash + 1, &end, 10);
		if (hash[1] < '0' || hash[1] > '9' || *end || errno || port == 0 || port > 65535)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "bad port in DNS server address \"%s\"", text);
	}
	int rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || !ai)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"%s\" is not a numeric IPv4 or IPv6 address", text);
	memset(out, 0, sizeof(*out));
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
	return 0;
}

int dns_resolv_conf_read(const char *path, bool skip_loopback, struct sockaddr_storage *out,
			 size_t max, size_t *n, struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	size_t len;

	*n = 0;
	if (ct_read_file(path, 1 << 16, &text, &len, err) < 0)
		return ct_error_prefix(err, "reading the resolvers");
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *word_save = NULL, *key = strtok_r(line, " \t\r", &word_save);
		if (!key || strcmp(key, "nameserver") != 0)
			continue;
		char *addr = strtok_r(NULL, " \t\r", &word_save);
		struct sockaddr_storage ss;
		_cleanup_error_ struct ct_error ignored = CT_ERROR_INIT;
		if (!addr || dns_parse_address(addr, 53, &ss, &ignored) < 0) {
			log_debug("%s: ignoring nameserver line: %s", path,
				  ct_error_message(&ignored));
			continue;
		}
		if (skip_loopback && is_loopback(&ss)) {
			log_debug("%s: skipping the local nameserver %s", path, addr);
			continue;
		}
		if (*n < max)
			out[(*n)++] = ss;
	}
	return 0;
}

/* Replies */

static void send_reply(struct dns_server *s, const struct dns_dest *to, const uint8_t *msg,
		       size_t len)
{
	if (len >= 4 && (msg[2] & (DNS_FLAG_TC >> 8)))
		s->stats.truncated++;
	if (to->conn) {
		conn_queue(to->conn, msg, len);
		return;
	}
	ssize_t w;
	do
		w = sendto(s->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to->addr, to->addr_len);
	while (w < 0 && errno == EINTR);
	/* A full socket buffer drops the reply, as the network might have: the client
	 * retries. */
	if (w < 0)
		s->stats.send_errors++;
}

static void reply(struct dns_server *s, const struct dns_dest *to, const struct dns_query *q,
		  int rcode, const struct dns_answer *ans, unsigned flags)
{
	uint8_t buf[DNS_UDP_MAX];
	size_t limit = to->conn ? sizeof(buf) : dns_query_udp_limit(q);

	if (s->n_upstreams)
		flags |= DNS_BUILD_RECURSION;
	ssize_t n = dns_build_response(q, rcode, ans, flags, buf, limit);
	if (n > 0)
		send_reply(s, to, buf, (size_t)n);
}

/* Forwarding */

static void forward_release(struct dns_forward *f)
{
	struct dns_server *s = f->srv;
	struct dns_tcp_conn *c = f->conn;

	if (f->watch)
		ct_loop_unwatch(s->loop, f->watch);
	f->watch = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->timer)
		ct_loop_timer_cancel(s->loop, f->timer);
	f->timer = NULL;
	free(f->packet);
	f->packet = NULL;
	f->conn = NULL;
	f->used = false;
	s->n_pending--;
	if (c) {
		/* Its connection may read the next query now. */
		c->pending = NULL;
		conn_update(c);
	}
}

static struct dns_dest forward_dest(struct dns_forward *f)
{
	return (struct dns_dest){.addr = &f->client, .addr_len = f->client_len, .conn = f->conn};
}

static void forward_fail(struct dns_forward *f)
{
	struct dns_dest to = forward_dest(f);

	f->srv->stats.forward_failures++;
	reply(f->srv, &to, &f->q, DNS_RCODE_SERVFAIL, NULL, 0);
	forward_release(f);
}

static void on_upstream_reply(struct ct_loop *loop, int fd, uint32_t events, void *data);

/* Sends the query to upstream f->upstream, or to the next that takes it; false
 * when none is left. */
static bool forward_send(struct dns_forward *f)
{
	struct dns_server *s = f->srv;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	for (; f->upstream < s->n_upstreams; f->upstream++) {
		const struct sockaddr_storage *up = &s->upstreams[f->upstream];
		_cleanup_close_ int fd =
		    socket(up->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (const struct sockaddr *)up, sockaddr_len(up)) < 0 ||
		    send(fd, f->packet, f->packet_len, MSG_NOSIGNAL) < 0) {
			log_debug("dns: forwarding to upstream %zu: %s", f->upstream,
				  strerror(errno));
			continue;
		}
		f->watch = ct_loop_watch(s->loop, fd, EPOLLIN, on_upstream_reply, f, &err);
		if (!f->watch) {
			log_warn("dns: %s", ct_error_message(&err));
			return false;
		}
		f->fd = move_fd(fd);
		return true;
	}
	return false;
}

static void forward_next(struct dns_forward *f)
{
	ct_loop_unwatch(f->srv->loop, f->watch);
	f->watch = NULL;
	close(f->fd);
	f->fd = -1;
	f->upstream++;
	if (!forward_send(f))
		forward_fail(f);
}

static void on_upstream_reply(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct dns_forward *f = data;
	struct dns_server *s = f->srv;
	ssize_t n;

	for (;;) {
		n = recv(fd, s->rx, DNS_TCP_MAX, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			/* ECONNREFUSED from an ICMP port unreachable, or the like. */
			log_debug("dns: upstream %zu: %s", f->upstream, strerror(errno));
			forward_next(f);
			return;
		}
		/* Anything else is ignored: a late reply to an earlier query on a reused
		 * port, or a spoofing attempt. */
		if (dns_reply_matches(s->rx, (size_t)n, f->upstream_id, &f->q))
			break;
	}

	struct dns_dest to = forward_dest(f);
	size_t limit = f->conn ? DNS_TCP_MAX : dns_query_udp_limit(&f->q);
	s->stats.forward_replies++;
	if ((size_t)n > limit) {
		/* Larger than the client takes (its size was in the query we relayed, so
		 * only a careless upstream does this): tell it to retry over TCP. */
		uint8_t buf[DNS_UDP_MAX];
		ssize_t m = dns_build_response(&f->q, DNS_RCODE_NOERROR, NULL, DNS_BUILD_RECURSION,
					       buf, sizeof(buf));
		if (m > 0) {
			buf[2] |= DNS_FLAG_TC >> 8;
			send_reply(s, &to, buf, (size_t)m);
		}
	} else {
		s->rx[0] = (uint8_t)(f->q.id >> 8);
		s->rx[1] = (uint8_t)f->q.id;
		send_reply(s, &to, s->rx, (size_t)n);
	}
	forward_release(f);
}

static void on_forward_timeout(struct ct_loop *loop, void *data)
{
	struct dns_forward *f = data;

	f->timer = NULL; /* the loop frees a timer that fired */
	log_debug("dns: no answer from upstream for %s", f->q.name);
	forward_fail(f);
}

static void forward_start(struct dns_server *s, const struct dns_dest *to,
			  const struct dns_query *q, const uint8_t *pkt, size_t len)
{
	struct dns_forward *f = NULL;
	uint16_t id;

	for (size_t i = 0; i < s->max_pending; i++)
		if (!s->fwd[i].used) {
			f = &s->fwd[i];
			break;
		}
	if (!f) {
		s->stats.pending_full++;
		reply(s, to, q, DNS_RCODE_SERVFAIL, NULL, 0);
		return;
	}
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = (uint16_t)(ct_now_monotonic_ms() ^ (uintptr_t)f);
	f->packet = malloc(len);
	if (!f->packet) {
		reply(s, to, q, DNS_RCODE_SERVFAIL, NULL, 0);
		return;
	}
	memcpy(f->packet, pkt, len);
	f->packet[0] = (uint8_t)(id >> 8);
	f->packet[1] = (uint8_t)id;
	f->packet_len = len;
	f->upstream_id = id;
	f->upstream = 0;
	f->q = *q;
	f->fd = -1;
	f->conn = to->conn;
	if (to->addr) {
		memcpy(&f->client, to->addr, to->addr_len);
		f->client_len = to->addr_len;
	}
	f->used = true;
	s->n_pending++;
	if (f->conn)
		f->conn->pending = f;
	s->stats.forwarded++;
	if (!forward_send(f)) {
		forward_fail(f);
		return;
	}
	f->timer = ct_loop_timer(s->loop, s->timeout_ms, on_forward_timeout, f);
}

/* One message from a client */

static void handle_query(struct dns_server *s, const uint8_t *pkt, size_t len,
			 const struct dns_dest *to)
{
	struct dns_query q;
	const char *why;
	int rc = dns_parse_query(pkt, len, &q, &why);

	if (rc == DNS_PARSE_DROP) {
		s->stats.malformed++;
		log_debug("dns: dropping a %zu-byte message: %s", len, why);
		return;
	}
	if (rc != DNS_PARSE_OK) {
		if (rc == DNS_RCODE_REFUSED)
			s->stats.refused++;
		else
			s->stats.malformed++;
		log_debug("dns: rcode %d for a %zu-byte message: %s", rc, len, why);
		reply(s, to, &q, rc, NULL, 0);
		return;
	}
	s->stats.queries++;

	struct dns_answer ans = {.ttl = DNS_DEFAULT_TTL};
	int found = s->lookup ? s->lookup(s->data, q.name, q.qtype, &ans) : DNS_LOOKUP_NOT_OURS;
	switch (found) {
	case DNS_LOOKUP_FOUND:
		s->stats.answered++;
		reply(s, to, &q, DNS_RCODE_NOERROR, &ans, DNS_BUILD_AUTHORITATIVE);
		return;
	case DNS_LOOKUP_NOT_FOUND:
		s->stats.answered++;
		reply(s, to, &q, DNS_RCODE_NXDOMAIN, NULL, DNS_BUILD_AUTHORITATIVE);
		return;
	default:
		if (s->n_upstreams) {
			forward_start(s, to, &q, pkt, len);
		} else {
			s->stats.refused++;
			reply(s, to, &q, DNS_RCODE_REFUSED, NULL, 0);
		}
	}
}

static void on_udp_readable(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct dns_server *s = data;

	for (int i = 0; i < UDP_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		/* MSG_TRUNC: the real length, to tell an oversized datagram from one that
		 * just fits. */
		ssize_t n = recvfrom(fd, s->rx, DNS_UDP_MAX, MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &from_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("dns: receiving: %s", strerror(errno));
			return;
		}
		if ((size_t)n > DNS_UDP_MAX) {
			s->stats.malformed++;
			continue;
		}
		struct dns_dest to = {.addr = &from, .addr_len = from_len};
		handle_query(s, s->rx, (size_t)n, &to);
	}
}

/* TCP (RFC 1035 4.2.2, RFC 7766): each message is preceded by its 2-byte length. */

static void conn_close(struct dns_tcp_conn *c)
{
	struct dns_server *s = c->srv;

	if (c->pending) {
		/* The forward has nowhere to reply now. */
		c->pending->conn = NULL;
		forward_release(c->pending);
	}
	if (c->idle)
		ct_loop_timer_cancel(s->loop, c->idle);
	ct_loop_unwatch(s->loop, c->watch);
	close(c->fd);
	free(c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_tcp--;
	free(c);
}

static void on_conn_idle(struct ct_loop *loop, void *data)
{
	struct dns_tcp_conn *c = data;

	c->idle = NULL;
	conn_close(c);
}

static void conn_touch(struct dns_tcp_conn *c)
{
	if (c->idle)
		ct_loop_timer_cancel(c->srv->loop, c->idle);
	c->idle = ct_loop_timer(c->srv->loop, DNS_TCP_IDLE_TIMEOUT_MS, on_conn_idle, c);
}

static void conn_flush(struct dns_tcp_conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w < 0) {
			c->closing = true;
			return;
		}
		c->out_off += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* Never closes c: the caller does once it is done with it (see closing). */
static void conn_queue(struct dns_tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (c->out || len > DNS_TCP_MAX) {
		c->closing = true;
		return;
	}
	c->out = malloc(len + 2);
	if (!c->out) {
		c->closing = true;
		return;
	}
	c->out[0] = (uint8_t)(len >> 8);
	c->out[1] = (uint8_t)len;
	memcpy(c->out + 2, msg, len);
	c->out_len = len + 2;
	c->out_off = 0;
	conn_flush(c);
}

/* Handles the complete queries in c->in, one at a time: the next waits until the
 * reply to this one is on its way. */
static void conn_process(struct dns_tcp_conn *c)
{
	while (!c->closing && !c->pending && !c->out && c->in_len >= 2) {
		size_t mlen = (size_t)c->in[0] << 8 | c->in[1];
		if (mlen > sizeof(c->in) - 2) {
			c->srv->stats.malformed++;
			c->closing = true;
			return;
		}
		if (c->in_len < 2 + mlen)
			return;
		struct dns_dest to = {.conn = c};
		handle_query(c->srv, c->in + 2, mlen, &to);
		memmove(c->in, c->in + 2 + mlen, c->in_len - 2 - mlen);
		c->in_len -= 2 + mlen;
		conn_touch(c);
	}
}

/* Handles what c has read, then closes c when it is marked, else watches for what
 * it waits on. Replies and forwards finishing while a query is handled call this
 * again: that inner call returns at once, the outer one sees the new state. */
static void conn_update(struct dns_tcp_conn *c)
{
	uint32_t events = 0;

	if (c->busy)
		return;
	c->busy = true;
	conn_process(c);
	c->busy = false;
	if (c->closing) {
		conn_close(c);
		return;
	}
	if (c->out)
		events = EPOLLOUT;
	else if (!c->pending)
		events = EPOLLIN;
	if (ct_loop_watch_modify(c->srv->loop, c->watch, events) < 0)
		conn_close(c);
}

static void on_conn_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct dns_tcp_conn *c = data;

	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	if ((events & EPOLLOUT) && c->out)
		conn_flush(c);
	if ((events & EPOLLIN) && !c->closing && c->in_len < sizeof(c->in)) {
		ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			c->closing = true;
		else if (n > 0)
			c->in_len += (size_t)n;
	}
	conn_update(c);
}

static void on_tcp_accept(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct dns_server *s = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	for (;;) {
		_cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (s->n_tcp >= s->max_tcp) {
			s->stats.tcp_rejected++;
			continue;
		}
		struct dns_tcp_conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->watch = ct_loop_watch(loop, cfd, EPOLLIN, on_conn_event, c, &err);
		if (!c->watch) {
			log_warn("dns: %s", ct_error_message(&err));
			free(c);
			continue;
		}
		c->fd = move_fd(cfd);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_tcp++;
		s->stats.tcp_connections++;
		conn_touch(c);
	}
}

/* Setting up */

static int bind_socket(const struct sockaddr_storage *addr, int type, struct ct_error *err)
{
	_cleanup_close_ int fd = socket(addr->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating a socket");
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, sockaddr_len(addr)) < 0)
		return ct_error_errno(err, errno == EADDRINUSE ? CT_ERR_CONFLICT : CT_ERR_INTERNAL,
				      "binding");
	if (type == SOCK_STREAM && listen(fd, 64) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "listening");
	return move_fd(fd);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Binds UDP, then TCP on the same port. With an ephemeral port the TCP one may be
 * taken: then try another pair. */
static int server_bind(struct dns_server *s, const struct dns_server_config *cfg,
		       struct ct_error *err)
{
	struct sockaddr_storage addr;

	if (dns_parse_address(cfg->address, cfg->port, &addr, err) < 0)
		return -1;
	for (int attempt = 0;; attempt++) {
		socklen_t len = sizeof(s->bound);
		set_port(&addr, cfg->port);
		s->udp_fd = bind_socket(&addr, SOCK_DGRAM, err);
		if (s->udp_fd < 0)
			return -1;
		if (getsockname(s->udp_fd, (struct sockaddr *)&s->bound, &len) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading the bound address");
		s->port = get_port(&s->bound);
		if (!cfg->tcp)
			return 0;
		set_port(&addr, s->port);
		s->tcp_fd = bind_socket(&addr, SOCK_STREAM, err);
		if (s->tcp_fd >= 0)
			return 0;
		if (cfg->port != 0 || attempt >= 16 || !ct_error_is(err, CT_ERR_CONFLICT))
			return ct_error_prefix(err, "TCP");
		close(s->udp_fd);
		s->udp_fd = -1;
	}
}

static int server_add_upstreams(struct dns_server *s, const struct dns_server_config *cfg,
				struct ct_error *err)
{
	struct sockaddr_storage found[DNS_MAX_UPSTREAMS];
	size_t n = 0;

	if (cfg->resolv_conf &&
	    dns_resolv_conf_read(cfg->resolv_conf, cfg->skip_loopback_nameservers, found,
				 DNS_MAX_UPSTREAMS, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		struct sockaddr_storage ss;
		if (dns_parse_address(cfg->upstreams[i], 53, &ss, err) < 0)
			return ct_error_prefix(err, "upstream resolver");
		if (n < DNS_MAX_UPSTREAMS)
			found[n++] = ss;
	}
	for (size_t i = 0; i < n; i++) {
		/* Forwarding to ourselves would loop until the pending table fills. */
		if (sockaddr_equal(&found[i], &s->bound))
			continue;
		s->upstreams[s->n_upstreams++] = found[i];
	}
	return 0;
}

struct dns_server *dns_server_new(struct ct_loop *loop, const struct dns_server_config *cfg,
				  struct ct_error *err)
{
	struct dns_server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->lookup = cfg->lookup;
	s->data = cfg->data;
	s->udp_fd = s->tcp_fd = -1;
	s->timeout_ms = cfg->forward_timeout_ms ? cfg->forward_timeout_ms : DNS_FORWARD_TIMEOUT_MS;
	s->max_pending = cfg->max_pending ? cfg->max_pending : DNS_DEFAULT_MAX_PENDING;
	if (s->max_pending > DNS_MAX_PENDING_LIMIT)
		s->max_pending = DNS_MAX_PENDING_LIMIT;
	s->max_tcp = cfg->max_tcp ? cfg->max_tcp : DNS_DEFAULT_MAX_TCP;
	s->fwd = xcalloc(s->max_pending, sizeof(*s->fwd));
	for (size_t i = 0; i < s->max_pending; i++) {
		s->fwd[i].srv = s;
		s->fwd[i].fd = -1;
	}
	s->rx = xcalloc(1, DNS_TCP_MAX);

	if (!cfg->address) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "no address to listen on");
		goto fail;
	}
	if (server_bind(s, cfg, err) < 0 || server_add_upstreams(s, cfg, err) < 0)
		goto fail;
	s->udp_watch = ct_loop_watch(loop, s->udp_fd, EPOLLIN, on_udp_readable, s, err);
	if (!s->udp_watch)
		goto fail;
	if (s->tcp_fd >= 0) {
		s->tcp_watch = ct_loop_watch(loop, s->tcp_fd, EPOLLIN, on_tcp_accept, s, err);
		if (!s->tcp_watch)
			goto fail;
	}
	log_debug("dns: listening on %s port %u with %zu upstream resolvers", cfg->address, s->port,
		  s->n_upstreams);
	return s;
fail:
	ct_error_prefix(err, "starting the DNS server on %s port %u",
			cfg->address ? cfg->address : "(none)", cfg->port);
	dns_server_free(s);
	return NULL;
}

void dns_server_free(struct dns_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	for (size_t i = 0; i < s->max_pending; i++)
		if (s->fwd[i].used)
			forward_release(&s->fwd[i]);
	if (s->udp_watch)
		ct_loop_unwatch(s->loop, s->udp_watch);
	if (s->tcp_watch)
		ct_loop_unwatch(s->loop, s->tcp_watch);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	free(s->fwd);
	free(s->rx);
	free(s);
}

uint16_t dns_server_port(const struct dns_server *s)
{
	return s->port;
}

void dns_server_get_stats(const struct dns_server *s, struct dns_server_stats *out)
{
	*out = s->stats;
}

size_t dns_server_upstream_count(const struct dns_server *s)
{
	return s->n_upstreams;
}
