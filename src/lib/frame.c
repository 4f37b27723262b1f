#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

/* What a frame body gets before its bytes arrive; it doubles up to the frame's
 * length as they do. */
#define FRAME_BODY_FIRST_ALLOC (64u * 1024)

void ct_close_fds(int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

int ct_frame_encode(json_t *msg, size_t max, char **buf, size_t *len, struct ct_error *err)
{
	size_t body = json_dumpb(msg, NULL, 0, JSON_COMPACT);

	if (body == 0)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "encoding a frame: not serialisable");
	if (body > max)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EMSGSIZE,
				    "message of %zu bytes is over the frame limit of %zu bytes",
				    body, max);
	char *b = malloc(CT_FRAME_HEADER_SIZE + body);
	if (!b)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
				    "encoding a frame: out of memory");
	b[0] = (body >> 24) & 0xff;
	b[1] = (body >> 16) & 0xff;
	b[2] = (body >> 8) & 0xff;
	b[3] = body & 0xff;
	json_dumpb(msg, b + CT_FRAME_HEADER_SIZE, body, JSON_COMPACT);
	*buf = b;
	*len = CT_FRAME_HEADER_SIZE + body;
	return 0;
}

int ct_frame_send_some(int fd, const char *buf, size_t len, size_t *off, const int *fds,
		       size_t nfds, struct ct_error *err)
{
	while (*off < len) {
		struct iovec iov = {.iov_base = (char *)buf + *off, .iov_len = len - *off};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		union {
			char buf[CMSG_SPACE(sizeof(int) * CT_FRAME_MAX_FDS)];
			struct cmsghdr align;
		} control;

		if (*off == 0 && nfds > 0) {
			if (nfds > CT_FRAME_MAX_FDS)
				return ct_error_set(
				    err, CT_ERR_INVALID_ARGUMENT, 0,
				    "cannot pass %zu descriptors in one frame (limit %d)", nfds,
				    CT_FRAME_MAX_FDS);
			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return ct_error_errno(err,
					      errno == EPIPE || errno == ECONNRESET
						  ? CT_ERR_UNAVAILABLE
						  : CT_ERR_INTERNAL,
					      "sending a frame");
		}
		*off += n;
	}
	return 1;
}

int ct_frame_send(int fd, json_t *msg, const int *fds, size_t nfds, struct ct_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len, off = 0;

	if (ct_frame_encode(msg, SIZE_MAX, &buf, &len, err) < 0)
		return -1;
	for (;;) {
		int rc = ct_frame_send_some(fd, buf, len, &off, fds, nfds, err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return ct_error_errno(err, CT_ERR_INTERNAL, "waiting to send a frame");
	}
}

void ct_frame_reader_init(struct ct_frame_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : CT_FRAME_MAX_DEFAULT;
}

void ct_frame_reader_reset(struct ct_frame_reader *r)
{
	size_t max = r->max;

	free(r->body);
	ct_close_fds(r->fds, r->nfds);
	ct_frame_reader_init(r, max);
}

/* One recvmsg into [buf, buf+want), collecting any descriptors that come along. */
static ssize_t read_chunk(struct ct_frame_reader *r, int fd, void *buf, size_t want,
			  struct ct_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CT_FRAME_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = want};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;

	/* MSG_DONTWAIT: the caller polls, so a blocking socket can't make us wait
	 * past a timeout for the rest of a frame. */
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -2;
		return ct_error_errno(err,
				      errno == ECONNRESET ? CT_ERR_UNAVAILABLE : CT_ERR_INTERNAL,
				      "receiving a frame");
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *received = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < count; i++) {
			if (r->nfds < CT_FRAME_MAX_FDS)
				r->fds[r->nfds++] = received[i];
			else
				close(received[i]);
		}
	}
	/* The kernel drops descriptors that did not fit and sets MSG_CTRUNC: the peer
	 * sent more than the protocol allows. */
	if (mh.msg_flags & MSG_CTRUNC)
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "peer sent more than %d descriptors with one frame",
				    CT_FRAME_MAX_FDS);
	return n;
}

int ct_frame_read(struct ct_frame_reader *r, int fd, struct ct_error *err)
{
	while (r->header_have < CT_FRAME_HEADER_SIZE) {
		ssize_t n = read_chunk(r, fd, r->header + r->header_have,
				       CT_FRAME_HEADER_SIZE - r->header_have, err);
		if (n == -2)
			return CT_FRAME_AGAIN;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (r->header_have == 0 && r->nfds == 0)
				return CT_FRAME_EOF;
			return ct_error_set(
			    err, CT_ERR_PROTOCOL, 0,
			    "peer closed the connection in the middle of a frame header");
		}
		r->header_have += n;
		if (r->header_have == CT_FRAME_HEADER_SIZE) {
			size_t len = ((size_t)r->header[0] << 24) | ((size_t)r->header[1] << 16) |
				     ((size_t)r->header[2] << 8) | r->header[3];
			if (len == 0)
				return ct_error_set(err, CT_ERR_PROTOCOL, 0, "frame of length 0");
			if (len > r->max)
				return ct_error_set(
				    err, CT_ERR_PROTOCOL, EMSGSIZE,
				    "frame of %zu bytes is over the limit of %zu bytes", len,
				    r->max);
			r->body_len = len;
			r->body_have = 0;
			r->body_cap = len < FRAME_BODY_FIRST_ALLOC ? len : FRAME_BODY_FIRST_ALLOC;
			r->body = malloc(r->body_cap + 1);
			if (!r->body)
				return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
						    "receiving a frame: out of memory");
		}
	}
	while (r->body_have < r->body_len) {
		if (r->body_have == r->body_cap) {
			size_t cap = r->body_cap * 2 < r->body_len ? r->body_cap * 2 : r->body_len;
			char *grown = realloc(r->body, cap + 1);
			if (!grown)
				return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
						    "receiving a frame: out of memory");
			r->body = grown;
			r->body_cap = cap;
		}
		ssize_t n =
		    read_chunk(r, fd, r->body + r->body_have, r->body_cap - r->body_have, err);
		if (n == -2)
			return CT_FRAME_AGAIN;
		if (n < 0)
			return -1;
		if (n == 0)
			return ct_error_set(
			    err, CT_ERR_PROTOCOL, 0,
			    "peer closed the connection after %zu of %zu bytes of a frame",
			    r->body_have, r->body_len);
		r->body_have += n;
	}
	r->body[r->body_len] = '\0';
	return CT_FRAME_READY;
}

int ct_frame_take(struct ct_frame_reader *r, json_t **msg, int *fds, size_t *nfds,
		  struct ct_error *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = 0;

	if (!j) {
		rc = ct_error_set(err, CT_ERR_PROTOCOL, 0, "malformed JSON in frame: %s at byte %d",
				  jerr.text, jerr.position);
	} else if (!json_is_object(j)) {
		rc = ct_error_set(err, CT_ERR_PROTOCOL, 0, "frame must hold a JSON object, not %s",
				  ct_json_type_name(j));
		json_decref(j);
		j = NULL;
	}
	if (rc == 0) {
		*msg = j;
		if (fds && nfds) {
			if (r->nfds > 0)
				memcpy(fds, r->fds, r->nfds * sizeof(int));
			*nfds = r->nfds;
			r->nfds = 0;
		}
	}
	ct_frame_reader_reset(r);
	return rc;
}

int ct_frame_recv(int fd, size_t max, int timeout_ms, json_t **msg, int *fds, size_t *nfds,
		  struct ct_error *err)
{
	struct ct_frame_reader r;
	uint64_t deadline = timeout_ms >= 0 ? ct_now_monotonic_ms() + timeout_ms : 0;
	int rc;

	ct_frame_reader_init(&r, max);
	for (;;) {
		/* Read first: a frame already buffered is returned even with a timeout
		 * of 0. */
		rc = ct_frame_read(&r, fd, err);
		if (rc != CT_FRAME_AGAIN)
			break;
		int wait = -1;
		if (timeout_ms >= 0) {
			uint64_t now = ct_now_monotonic_ms();
			if (now >= deadline) {
				ct_frame_reader_reset(&r);
				return ct_error_set(err, CT_ERR_TIMEOUT, ETIMEDOUT,
						    "no reply within %d ms", timeout_ms);
			}
			wait = deadline - now;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, wait) < 0 && errno != EINTR) {
			ct_frame_reader_reset(&r);
			return ct_error_errno(err, CT_ERR_INTERNAL, "waiting for a frame");
		}
	}
	if (rc == CT_FRAME_READY)
		return ct_frame_take(&r, msg, fds, nfds, err);
	ct_frame_reader_reset(&r);
	if (rc == CT_FRAME_EOF)
		return ct_error_set(err, CT_ERR_UNAVAILABLE, ECONNRESET,
				    "connection closed by the peer");
	return -1;
}
