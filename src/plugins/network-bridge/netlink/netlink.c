#include "netlink.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

/* Dumps come in messages of up to 32 KiB when the receive buffer allows it (the kernel sizes
 * them after the largest buffer recvmsg was given); a smaller buffer would truncate them. */
#define NL_RECV_SIZE 32768
#define NL_SEND_SIZE 4096

struct nl_sock {
	struct mnl_socket *mnl;
	unsigned int portid;
	unsigned int seq;
	/* One request at a time per socket, so one buffer of each kind is enough. */
	char req[NL_SEND_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	char resp[NL_RECV_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
};

/* The outcome of one request as the kernel gave it. */
struct nl_reply {
	int errnum;	  /* positive errno, 0 on success */
	char extack[256]; /* the kernel's extended-ack message, "" when it gave none */
};

/* Called for each message of a reply that is neither an ack nor the end of a dump; returns
 * 0 or a positive errno, which fails the request (the rest of the reply is still read, so
 * the socket is ready for the next request). */
typedef int (*nl_msg_cb)(const struct nlmsghdr *nlh, void *data);

/* ---- Sockets and requests ---- */

int nl_sock_open(struct nl_sock **out, struct ct_error *err)
{
	struct nl_sock *nl = xcalloc(1, sizeof(*nl));
	int one = 1;

	nl->mnl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->mnl) {
		int saved = errno;

		free(nl);
		errno = saved;
		return ct_error_errno(err,
				      saved == EPERM || saved == EACCES ? CT_ERR_PERMISSION_DENIED
									: CT_ERR_INTERNAL,
				      "opening a netlink socket");
	}
	if (mnl_socket_bind(nl->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int saved = errno;

		mnl_socket_close(nl->mnl);
		free(nl);
		errno = saved;
		return ct_error_errno(err, CT_ERR_INTERNAL, "binding a netlink socket");
	}
	/* The kernel's own explanation of a refusal ("mtu greater than device maximum") is worth
	 * more than EINVAL alone; capping acks keeps our request out of the error message.
	 * Kernels without these options still work, with bare errnos. */
	mnl_socket_setsockopt(nl->mnl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->mnl, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->mnl);
	nl->seq = (unsigned int)time(NULL);
	*out = nl;
	return 0;
}

void nl_sock_close(struct nl_sock *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->mnl);
	free(nl);
}

static struct nlmsghdr *nl_msg_start(struct nl_sock *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(nl->req, 0, sizeof(nl->req));
	nlh = mnl_nlmsg_put_header(nl->req);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_reply *reply = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(reply->extack, sizeof(reply->extack), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* The TLVs after struct nlmsgerr (or after the int of a failed dump's NLMSG_DONE). */
static void nl_parse_extack(const struct nlmsghdr *nlh, size_t offset, struct nl_reply *reply)
{
	size_t len = mnl_nlmsg_get_payload_len(nlh);
	const char *payload = mnl_nlmsg_get_payload(nlh);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len <= offset)
		return;
	mnl_attr_parse_payload(payload + offset, len - offset, extack_attr_cb, reply);
}

/* Sends the request built in nl->req and reads until its ack or the end of its dump.
 * Returns 0, or -1 with reply->errnum set. Messages of other sequence numbers (left over
 * from an earlier request that failed halfway) are skipped. */
static int nl_transact(struct nl_sock *nl, nl_msg_cb cb, void *data, struct nl_reply *reply)
{
	struct nlmsghdr *req = (struct nlmsghdr *)nl->req;
	bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	unsigned int seq;
	int cb_errnum = 0;
	bool interrupted = false, finished = false;

	memset(reply, 0, sizeof(*reply));
	if (!dump)
		req->nlmsg_flags |= NLM_F_ACK;
	seq = req->nlmsg_seq = ++nl->seq;

	if (mnl_socket_sendto(nl->mnl, req, req->nlmsg_len) < 0) {
		reply->errnum = errno;
		return -1;
	}
	while (!finished) {
		ssize_t n = mnl_socket_recvfrom(nl->mnl, nl->resp, sizeof(nl->resp));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->resp;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			reply->errnum = errno;
			return -1;
		}
		len = (int)n;
		for (; !finished && mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != nl->portid)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				interrupted = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
					reply->errnum = EBADMSG;
					return -1;
				}
				if (e->error != 0) {
					size_t offset = sizeof(*e);

					/* Without NLM_F_CAPPED our whole request sits
					 * between the error and its TLVs. */
					if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
					    e->msg.nlmsg_len > sizeof(struct nlmsghdr))
						offset += NLMSG_ALIGN(e->msg.nlmsg_len) -
							  sizeof(struct nlmsghdr);
					reply->errnum = -e->error;
					nl_parse_extack(nlh, offset, reply);
					return -1;
				}
				finished = true; /* the ack */
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
					int status = *(const int *)mnl_nlmsg_get_payload(nlh);

					if (status < 0) {
						reply->errnum = -status;
						nl_parse_extack(nlh, sizeof(int), reply);
						return -1;
					}
				}
				finished = true;
				continue;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue; /* NLMSG_NOOP, NLMSG_OVERRUN */
			if (cb && !cb_errnum)
				cb_errnum = cb(nlh, data);
		}
	}
	if (cb_errnum) {
		reply->errnum = cb_errnum;
		return -1;
	}
	if (interrupted) {
		/* The table changed while the kernel was dumping it: what we have may be
		 * inconsistent, and the caller can simply ask again. */
		reply->errnum = EAGAIN;
		snprintf(reply->extack, sizeof(reply->extack),
			 "the table changed during the dump; try again");
		return -1;
	}
	return 0;
}

static const char *nl_errno_code(int errnum)
{
	switch (errnum) {
	case EEXIST:
		return CT_ERR_EXISTS;
	case ENODEV:
	case ENOENT:
	case ESRCH:
	case EADDRNOTAVAIL:
		return CT_ERR_NOT_FOUND;
	case EPERM:
	case EACCES:
		return CT_ERR_PERMISSION_DENIED;
	case EINVAL:
	case ERANGE:
	case EBADF:
	case ENETUNREACH:
		return CT_ERR_INVALID_ARGUMENT;
	case EOPNOTSUPP:
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
		return CT_ERR_UNSUPPORTED;
	case EBUSY:
		return CT_ERR_CONFLICT;
	case EAGAIN:
		return CT_ERR_UNAVAILABLE;
	default:
		return CT_ERR_INTERNAL;
	}
}

/* "<what>: <strerror>[ (kernel: <extack>)][; <hint>]" with the code of the errno. */
static int nl_vfail(struct ct_error *err, const struct nl_reply *reply, const char *hint,
		    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int nl_vfail(struct ct_error *err, const struct nl_reply *reply, const char *hint,
		    const char *fmt, va_list ap)
{
	_cleanup_free_ char *what = NULL;

	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	if (!hint && reply->errnum == EPERM)
		hint = "this needs CAP_NET_ADMIN over the network namespace";
	return ct_error_set(err, nl_errno_code(reply->errnum), reply->errnum, "%s: %s%s%s%s%s%s",
			    what ? what : "netlink request", strerror(reply->errnum),
			    reply->extack[0] ? " (kernel: " : "", reply->extack,
			    reply->extack[0] ? ")" : "", hint ? "; " : "", hint ? hint : "");
}

static int nl_fail(struct ct_error *err, const struct nl_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int nl_fail(struct ct_error *err, const struct nl_reply *reply, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nl_vfail(err, reply, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int nl_fail_hint(struct ct_error *err, const struct nl_reply *reply, const char *hint,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int nl_fail_hint(struct ct_error *err, const struct nl_reply *reply, const char *hint,
			const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nl_vfail(err, reply, hint, fmt, ap);
	va_end(ap);
	return rc;
}

bool nl_ifname_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	/* The kernel's dev_valid_name: '/' would break sysfs, ':' is the alias separator. */
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return false;
	return true;
}

static int check_ifname(const char *name, const char *role, struct ct_error *err)
{
	if (nl_ifname_valid(name))
		return 0;
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
			    "invalid %s name \"%s\": an interface name has 1 to %d characters, "
			    "none of them '/', ':' or white space",
			    role, name ? name : "(null)", IFNAMSIZ - 1);
}

/* ---- Links ---- */

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFLA_MAX) > 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFLA_INFO_MAX) > 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static bool attr_u32(const struct nlattr *attr, uint32_t *out)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return false;
	*out = mnl_attr_get_u32(attr);
	return true;
}

static int parse_link(const struct nlmsghdr *nlh, struct nl_link_info *out)
{
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	uint32_t value;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm))
		return EBADMSG;
	if (mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb) < 0)
		return EBADMSG;

	memset(out, 0, sizeof(*out));
	out->index = ifm->ifi_index;
	out->flags = ifm->ifi_flags;
	out->link_netnsid = -1;
	if (!tb[IFLA_IFNAME] || mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return EBADMSG;
	snprintf(out->name, sizeof(out->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (attr_u32(tb[IFLA_MTU], &value))
		out->mtu = value;
	if (attr_u32(tb[IFLA_MASTER], &value))
		out->master = (int)value;
	if (attr_u32(tb[IFLA_LINK], &value))
		out->link = (int)value;
	if (attr_u32(tb[IFLA_LINK_NETNSID], &value))
		out->link_netnsid = (int)value;
	if (tb[IFLA_OPERSTATE] && mnl_attr_validate(tb[IFLA_OPERSTATE], MNL_TYPE_U8) == 0)
		out->operstate = mnl_attr_get_u8(tb[IFLA_OPERSTATE]);
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(out->mac)) {
		memcpy(out->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(out->mac));
		out->has_mac = true;
	}
	if (tb[IFLA_LINKINFO]) {
		const struct nlattr *info[IFLA_INFO_MAX + 1] = {0};

		if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, info) < 0)
			return EBADMSG;
		if (info[IFLA_INFO_KIND] &&
		    mnl_attr_validate(info[IFLA_INFO_KIND], MNL_TYPE_STRING) == 0)
			snprintf(out->kind, sizeof(out->kind), "%.*s",
				 (int)strnlen(mnl_attr_get_payload(info[IFLA_INFO_KIND]),
					      mnl_attr_get_payload_len(info[IFLA_INFO_KIND])),
				 (const char *)mnl_attr_get_payload(info[IFLA_INFO_KIND]));
	}
	return 0;
}

struct link_get_ctx {
	struct nl_link_info *out;
	bool found;
};

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_get_ctx *ctx = data;
	int rc;

	if (ctx->found)
		return 0;
	rc = parse_link(nlh, ctx->out);
	if (rc == 0)
		ctx->found = true;
	return rc;
}

/* RTM_GETLINK of one interface, by index when index > 0, else by name. */
static int link_get(struct nl_sock *nl, int index, const char *name, struct nl_link_info *out,
		    struct nl_reply *reply)
{
	struct link_get_ctx ctx = {.out = out};
	struct nlmsghdr *nlh = nl_msg_start(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = index > 0 ? index : 0;
	if (index <= 0)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (nl_transact(nl, link_get_cb, &ctx, reply) < 0)
		return -1;
	if (!ctx.found) {
		reply->errnum = ENODEV;
		return -1;
	}
	return 0;
}

int nl_link_get(struct nl_sock *nl, const char *name, struct nl_link_info *out,
		struct ct_error *err)
{
	struct nl_reply reply;

	if (check_ifname(name, "interface", err) < 0)
		return -1;
	if (link_get(nl, 0, name, out, &reply) < 0) {
		if (reply.errnum == ENODEV)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENODEV, "no interface named %s",
					    name);
		return nl_fail(err, &reply, "looking up interface %s", name);
	}
	return 0;
}

int nl_link_get_index(struct nl_sock *nl, int index, struct nl_link_info *out, struct ct_error *err)
{
	struct nl_reply reply;

	if (index <= 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "invalid interface index %d", index);
	if (link_get(nl, index, NULL, out, &reply) < 0) {
		if (reply.errnum == ENODEV)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENODEV,
					    "no interface with index %d", index);
		return nl_fail(err, &reply, "looking up interface %d", index);
	}
	return 0;
}

int nl_link_index(struct nl_sock *nl, const char *name, struct ct_error *err)
{
	struct nl_link_info info;

	if (nl_link_get(nl, name, &info, err) < 0)
		return -1;
	return info.index;
}

/* "eth0" for messages about an interface known by its index, "interface 7" when even that
 * lookup fails. */
static void link_label(struct nl_sock *nl, int index, char *buf, size_t size)
{
	struct nl_link_info info;
	struct nl_reply reply;

	if (index > 0 && link_get(nl, index, NULL, &info, &reply) == 0)
		snprintf(buf, size, "%s", info.name);
	else
		snprintf(buf, size, "interface %d", index);
}

struct link_list_ctx {
	struct nl_link_info *links;
	size_t count, cap;
};

static int link_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_list_ctx *ctx = data;

	if (ctx->count == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 16;
		struct nl_link_info *links = reallocarray(ctx->links, cap, sizeof(*links));

		if (!links)
			return ENOMEM;
		ctx->links = links;
		ctx->cap = cap;
	}
	if (parse_link(nlh, &ctx->links[ctx->count]) == 0)
		ctx->count++;
	return 0;
}

int nl_link_list(struct nl_sock *nl, struct nl_link_info **out, size_t *count, struct ct_error *err)
{
	struct link_list_ctx ctx = {0};
	struct nl_reply reply;
	struct nlmsghdr *nlh = nl_msg_start(nl, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (nl_transact(nl, link_list_cb, &ctx, &reply) < 0) {
		free(ctx.links);
		return nl_fail(err, &reply, "listing interfaces");
	}
	*out = ctx.links;
	*count = ctx.count;
	return 0;
}

int nl_bridge_create(struct nl_sock *nl, const char *name, unsigned int mtu, struct ct_error *err)
{
	struct nl_link_info info;
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *linkinfo;

	if (check_ifname(name, "bridge", err) < 0)
		return -1;
	nlh = nl_msg_start(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, linkinfo);

	if (nl_transact(nl, NULL, NULL, &reply) < 0 && reply.errnum != EEXIST)
		return nl_fail(err, &reply, "creating bridge %s", name);

	/* Created now or before: either way what matters is that it is a bridge. */
	if (nl_link_get(nl, name, &info, err) < 0)
		return ct_error_prefix(err, "creating bridge %s", name);
	if (strcmp(info.kind, "bridge") != 0)
		return ct_error_set(err, CT_ERR_EXISTS, EEXIST,
				    "creating bridge %s: an interface of that name already exists "
				    "and is %s%s, not a bridge; choose another name or delete it",
				    name, info.kind[0] ? "a " : "a device without a kind",
				    info.kind);
	if (reply.errnum == EEXIST) {
		log_debug("bridge %s exists (index %d); reusing it", name, info.index);
		if (mtu && info.mtu != mtu && nl_link_set_mtu(nl, name, mtu, err) < 0)
			return ct_error_prefix(err, "reusing bridge %s", name);
	}
	return info.index;
}

int nl_veth_create(struct nl_sock *nl, const char *host_name, const char *peer_name,
		   int peer_netns_fd, unsigned int mtu, struct ct_error *err)
{
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *linkinfo, *data, *peer;
	const char *where = peer_netns_fd >= 0 ? " in the container's namespace" : "";
	int index;

	if (check_ifname(host_name, "veth", err) < 0 ||
	    check_ifname(peer_name, "veth peer", err) < 0)
		return -1;
	if (peer_netns_fd < 0 && strcmp(host_name, peer_name) == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "creating veth pair %s: both ends in one namespace need "
				    "different names",
				    host_name);

	nlh = nl_msg_start(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* VETH_INFO_PEER holds a whole ifinfomsg and its attributes: the peer is described
	 * like a link of its own, which is how it gets its own namespace. */
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (peer_netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);

	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		if (reply.errnum == EEXIST) {
			struct nl_link_info info;
			struct nl_reply lookup;

			/* Say which of the two names is taken. */
			if (link_get(nl, 0, host_name, &info, &lookup) == 0)
				return ct_error_set(err, CT_ERR_EXISTS, EEXIST,
						    "creating veth pair %s/%s: an interface named "
						    "%s already exists",
						    host_name, peer_name, host_name);
			return ct_error_set(err, CT_ERR_EXISTS, EEXIST,
					    "creating veth pair %s/%s: an interface named %s "
					    "already exists%s",
					    host_name, peer_name, peer_name, where);
		}
		if (peer_netns_fd >= 0 && (reply.errnum == EINVAL || reply.errnum == EBADF))
			return nl_fail_hint(err, &reply, "is it an open network namespace fd?",
					    "creating veth pair %s/%s with the peer in the "
					    "namespace of fd %d",
					    host_name, peer_name, peer_netns_fd);
		return nl_fail(err, &reply, "creating veth pair %s/%s%s", host_name, peer_name,
			       where);
	}
	index = nl_link_index(nl, host_name, err);
	if (index < 0)
		return ct_error_prefix(err, "creating veth pair %s/%s", host_name, peer_name);
	log_debug("created veth pair %s/%s%s", host_name, peer_name, where);
	return index;
}

int nl_link_delete(struct nl_sock *nl, const char *name, struct ct_error *err)
{
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;

	if (check_ifname(name, "interface", err) < 0)
		return -1;
	nlh = nl_msg_start(nl, RTM_DELLINK, 0);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		if (reply.errnum == ENODEV)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENODEV,
					    "deleting interface %s: no interface of that name",
					    name);
		return nl_fail(err, &reply, "deleting interface %s", name);
	}
	return 0;
}

/* An RTM_SETLINK for one interface: by index when index > 0, else by name. */
static struct nlmsghdr *setlink_start(struct nl_sock *nl, int index, const char *name,
				      struct ifinfomsg **ifmp)
{
	struct nlmsghdr *nlh = nl_msg_start(nl, RTM_SETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = index > 0 ? index : 0;
	if (index <= 0)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (ifmp)
		*ifmp = ifm;
	return nlh;
}

static int setlink_fail(struct ct_error *err, const struct nl_reply *reply, const char *name,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int setlink_fail(struct ct_error *err, const struct nl_reply *reply, const char *name,
			const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (reply->errnum == ENODEV)
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENODEV, "%s: no interface named %s",
				    what ? what : "changing an interface", name);
	return nl_fail(err, reply, "%s", what ? what : "changing an interface");
}

static int link_set_up(struct nl_sock *nl, int index, const char *name, bool up,
		       struct ct_error *err)
{
	struct nl_reply reply;
	struct ifinfomsg *ifm;

	setlink_start(nl, index, name, &ifm);
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = up ? IFF_UP : 0;
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		char label[IFNAMSIZ + 16];

		if (index <= 0)
			return setlink_fail(err, &reply, name, "bringing %s %s", name,
					    up ? "up" : "down");
		if (reply.errnum == ENODEV)
			return ct_error_set(
			    err, CT_ERR_NOT_FOUND, ENODEV,
			    "bringing interface %d %s: no interface with that index", index,
			    up ? "up" : "down");
		link_label(nl, index, label, sizeof(label));
		return nl_fail(err, &reply, "bringing %s %s", label, up ? "up" : "down");
	}
	return 0;
}

int nl_link_set_up(struct nl_sock *nl, const char *name, bool up, struct ct_error *err)
{
	if (check_ifname(name, "interface", err) < 0)
		return -1;
	return link_set_up(nl, 0, name, up, err);
}

int nl_link_set_up_index(struct nl_sock *nl, int index, bool up, struct ct_error *err)
{
	if (index <= 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "invalid interface index %d", index);
	return link_set_up(nl, index, NULL, up, err);
}

int nl_link_set_mtu(struct nl_sock *nl, const char *name, unsigned int mtu, struct ct_error *err)
{
	struct nl_reply reply;
	struct nlmsghdr *nlh;

	if (check_ifname(name, "interface", err) < 0)
		return -1;
	if (mtu == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "setting MTU 0 on %s: an MTU must be positive", name);
	nlh = setlink_start(nl, 0, name, NULL);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (nl_transact(nl, NULL, NULL, &reply) < 0)
		return setlink_fail(err, &reply, name, "setting MTU %u on %s", mtu, name);
	return 0;
}

int nl_link_set_mac(struct nl_sock *nl, const char *name, const uint8_t mac[6],
		    struct ct_error *err)
{
	char text[NL_MAC_STRLEN];
	struct nl_reply reply;
	struct nlmsghdr *nlh;

	if (check_ifname(name, "interface", err) < 0)
		return -1;
	nl_mac_format(mac, text);
	if (mac[0] & 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "setting MAC %s on %s: a multicast address can't be an "
				    "interface's own",
				    text, name);
	nlh = setlink_start(nl, 0, name, NULL);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	if (nl_transact(nl, NULL, NULL, &reply) < 0)
		return setlink_fail(err, &reply, name, "setting MAC %s on %s", text, name);
	return 0;
}

int nl_link_set_master(struct nl_sock *nl, const char *name, const char *bridge,
		       struct ct_error *err)
{
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	int master = 0;

	if (check_ifname(name, "interface", err) < 0)
		return -1;
	if (bridge) {
		master = nl_link_index(nl, bridge, err);
		if (master < 0)
			return ct_error_prefix(err, "attaching %s to bridge %s", name, bridge);
	}
	nlh = setlink_start(nl, 0, name, NULL);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		if (bridge && reply.errnum == EOPNOTSUPP)
			return nl_fail_hint(err, &reply, "is it a bridge?",
					    "attaching %s to bridge %s", name, bridge);
		if (bridge)
			return setlink_fail(err, &reply, name, "attaching %s to bridge %s", name,
					    bridge);
		return setlink_fail(err, &reply, name, "detaching %s from its bridge", name);
	}
	return 0;
}

int nl_link_set_hairpin(struct nl_sock *nl, const char *name, bool on, struct ct_error *err)
{
	struct nl_reply reply;
	struct ifinfomsg *ifm;
	struct nlattr *protinfo;
	struct nlmsghdr *nlh;
	int index;

	if (check_ifname(name, "interface", err) < 0)
		return -1;
	/* The bridge's own setlink (AF_BRIDGE) finds the port by index only. */
	index = nl_link_index(nl, name, err);
	if (index < 0)
		return ct_error_prefix(err, "setting hairpin mode on %s", name);
	nlh = nl_msg_start(nl, RTM_SETLINK, 0);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_BRIDGE;
	ifm->ifi_index = index;
	protinfo = mnl_attr_nest_start(nlh, IFLA_PROTINFO | NLA_F_NESTED);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on ? 1 : 0);
	mnl_attr_nest_end(nlh, protinfo);
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		if (reply.errnum == EOPNOTSUPP || reply.errnum == EINVAL)
			return nl_fail_hint(err, &reply, "is it a port of a bridge?",
					    "setting hairpin mode on %s", name);
		return setlink_fail(err, &reply, name, "setting hairpin mode on %s", name);
	}
	return 0;
}

int nl_link_rename(struct nl_sock *nl, const char *name, const char *new_name, struct ct_error *err)
{
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	int index;

	if (check_ifname(new_name, "new interface", err) < 0)
		return -1;
	index = nl_link_index(nl, name, err);
	if (index < 0)
		return ct_error_prefix(err, "renaming %s to %s", name, new_name);
	/* With an index, IFLA_IFNAME is the new name rather than the one to look up. */
	nlh = setlink_start(nl, index, NULL, NULL);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		if (reply.errnum == EEXIST)
			return ct_error_set(err, CT_ERR_EXISTS, EEXIST,
					    "renaming %s to %s: an interface named %s already "
					    "exists",
					    name, new_name, new_name);
		if (reply.errnum == EBUSY)
			return ct_error_set(err, CT_ERR_CONFLICT, EBUSY,
					    "renaming %s to %s: it is up; bring it down first",
					    name, new_name);
		return setlink_fail(err, &reply, name, "renaming %s to %s", name, new_name);
	}
	return 0;
}

/* ---- Addresses and routes ---- */

static int addr_size(int family)
{
	switch (family) {
	case AF_INET:
		return sizeof(struct in_addr);
	case AF_INET6:
		return sizeof(struct in6_addr);
	default:
		return -1;
	}
}

/* Room for an IPv6 address, "/" and any int. */
#define ADDR_TEXT_SIZE 64

/* "10.123.0.2/24" (prefixlen < 0: no prefix). */
static void format_addr(int family, const void *addr, int prefixlen, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, text, sizeof(text)))
		snprintf(text, sizeof(text), "(address of family %d)", family);
	if (prefixlen >= 0)
		snprintf(buf, size, "%s/%d", text, prefixlen);
	else
		snprintf(buf, size, "%s", text);
}

static int check_addr_args(int index, int family, const void *addr, unsigned int prefixlen,
			   const char *what, struct ct_error *err)
{
	int size = addr_size(family);

	if (size < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EAFNOSUPPORT,
				    "%s: address family %d is neither AF_INET nor AF_INET6", what,
				    family);
	if (!addr)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL, "%s: no address", what);
	if (prefixlen > (unsigned int)size * 8) {
		char text[ADDR_TEXT_SIZE];

		format_addr(family, addr, -1, text, sizeof(text));
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "%s: prefix length %u of %s is longer than the %d bits of "
				    "the address",
				    what, prefixlen, text, size * 8);
	}
	if (index <= 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "%s: invalid interface index %d", what, index);
	return size;
}

static int addr_change(struct nl_sock *nl, uint16_t type, int index, int family, const void *addr,
		       unsigned int prefixlen, struct ct_error *err)
{
	const char *verb = type == RTM_NEWADDR ? "adding" : "removing";
	char text[ADDR_TEXT_SIZE], label[IFNAMSIZ + 16];
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int size;

	size =
	    check_addr_args(index, family, addr, prefixlen,
			    type == RTM_NEWADDR ? "adding an address" : "removing an address", err);
	if (size < 0)
		return -1;
	nlh = nl_msg_start(nl, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)index;
	mnl_attr_put(nlh, IFA_LOCAL, (size_t)size, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, (size_t)size, addr);
	if (type == RTM_NEWADDR && family == AF_INET && prefixlen < 31) {
		struct in_addr brd = *(const struct in_addr *)addr;

		brd.s_addr |= htonl(prefixlen ? 0xffffffffu >> prefixlen : 0xffffffffu);
		mnl_attr_put(nlh, IFA_BROADCAST, sizeof(brd), &brd);
	}
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		format_addr(family, addr, (int)prefixlen, text, sizeof(text));
		link_label(nl, index, label, sizeof(label));
		if (reply.errnum == ENODEV)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENODEV,
					    "%s address %s: no interface with index %d", verb, text,
					    index);
		if (reply.errnum == EADDRNOTAVAIL && type == RTM_DELADDR)
			return ct_error_set(err, CT_ERR_NOT_FOUND, EADDRNOTAVAIL,
					    "removing address %s from %s: it has no such address",
					    text, label);
		return nl_fail(err, &reply, "%s address %s %s %s", verb, text,
			       type == RTM_NEWADDR ? "to" : "from", label);
	}
	return 0;
}

int nl_addr_add(struct nl_sock *nl, int index, int family, const void *addr, unsigned int prefixlen,
		struct ct_error *err)
{
	return addr_change(nl, RTM_NEWADDR, index, family, addr, prefixlen, err);
}

int nl_addr_del(struct nl_sock *nl, int index, int family, const void *addr, unsigned int prefixlen,
		struct ct_error *err)
{
	return addr_change(nl, RTM_DELADDR, index, family, addr, prefixlen, err);
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFA_MAX) > 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

struct addr_list_ctx {
	int index, family;
	struct nl_addr *addrs;
	size_t count, cap;
};

static int addr_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_list_ctx *ctx = data;
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	struct nl_addr *a;
	int size;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return EBADMSG;
	if ((ctx->index > 0 && (int)ifa->ifa_index != ctx->index) ||
	    (ctx->family != AF_UNSPEC && ifa->ifa_family != ctx->family))
		return 0;
	size = addr_size(ifa->ifa_family);
	if (size < 0)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return EBADMSG;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a
	 * point-to-point link, and the only one IPv6 sends. */
	attr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!attr || mnl_attr_get_payload_len(attr) != (uint16_t)size)
		return 0;
	if (ctx->count == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 8;
		struct nl_addr *addrs = reallocarray(ctx->addrs, cap, sizeof(*addrs));

		if (!addrs)
			return ENOMEM;
		ctx->addrs = addrs;
		ctx->cap = cap;
	}
	a = &ctx->addrs[ctx->count++];
	memset(a, 0, sizeof(*a));
	a->index = (int)ifa->ifa_index;
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	memcpy(&a->addr, mnl_attr_get_payload(attr), (size_t)size);
	return 0;
}

int nl_addr_list(struct nl_sock *nl, int index, int family, struct nl_addr **out, size_t *count,
		 struct ct_error *err)
{
	struct addr_list_ctx ctx = {.index = index, .family = family};
	struct nl_reply reply;
	struct nlmsghdr *nlh = nl_msg_start(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)family;
	if (nl_transact(nl, addr_list_cb, &ctx, &reply) < 0) {
		free(ctx.addrs);
		return nl_fail(err, &reply, "listing addresses");
	}
	*out = ctx.addrs;
	*count = ctx.count;
	return 0;
}

int nl_route_add_default(struct nl_sock *nl, int index, int family, const void *gateway,
			 struct ct_error *err)
{
	char text[ADDR_TEXT_SIZE], label[IFNAMSIZ + 16];
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int size;

	size = check_addr_args(index, family, gateway, 0, "adding a default route", err);
	if (size < 0)
		return -1;
	nlh = nl_msg_start(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, (size_t)size, gateway);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
	if (nl_transact(nl, NULL, NULL, &reply) < 0) {
		format_addr(family, gateway, -1, text, sizeof(text));
		link_label(nl, index, label, sizeof(label));
		if (reply.errnum == EEXIST)
			return ct_error_set(err, CT_ERR_EXISTS, EEXIST,
					    "adding default route via %s dev %s: the namespace "
					    "already has a default route",
					    text, label);
		if (reply.errnum == ENETUNREACH)
			return nl_fail_hint(err, &reply,
					    "the gateway must be in a subnet of the interface, "
					    "which must be up",
					    "adding default route via %s dev %s", text, label);
		return nl_fail(err, &reply, "adding default route via %s dev %s", text, label);
	}
	return 0;
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, RTA_MAX) > 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

struct route_default_ctx {
	int family;
	struct nl_route *out;
	bool found;
};

static int route_default_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_default_ctx *ctx = data;
	const struct nlattr *tb[RTA_MAX + 1] = {0};
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	uint32_t table, oif;
	int size;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return EBADMSG;
	if (ctx->found || rtm->rtm_family != ctx->family || rtm->rtm_dst_len != 0 ||
	    rtm->rtm_type != RTN_UNICAST)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb) < 0)
		return EBADMSG;
	/* rtm_table holds only 8 bits; RTA_TABLE has the whole id. */
	if (!attr_u32(tb[RTA_TABLE], &table))
		table = rtm->rtm_table;
	if (table != RT_TABLE_MAIN)
		return 0;
	memset(ctx->out, 0, sizeof(*ctx->out));
	ctx->out->family = rtm->rtm_family;
	if (attr_u32(tb[RTA_OIF], &oif))
		ctx->out->oif = (int)oif;
	size = addr_size(rtm->rtm_family);
	if (size > 0 && tb[RTA_GATEWAY] &&
	    mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == (uint16_t)size) {
		memcpy(&ctx->out->gateway, mnl_attr_get_payload(tb[RTA_GATEWAY]), (size_t)size);
		ctx->out->has_gateway = true;
	}
	ctx->found = true;
	return 0;
}

int nl_route_get_default(struct nl_sock *nl, int family, struct nl_route *out, struct ct_error *err)
{
	struct route_default_ctx ctx = {.family = family, .out = out};
	struct nl_reply reply;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (addr_size(family) < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EAFNOSUPPORT,
				    "looking up the default route: address family %d is neither "
				    "AF_INET nor AF_INET6",
				    family);
	nlh = nl_msg_start(nl, RTM_GETROUTE, NLM_F_DUMP);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	if (nl_transact(nl, route_default_cb, &ctx, &reply) < 0)
		return nl_fail(err, &reply, "looking up the default route");
	if (!ctx.found)
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
				    "no %s default route in the main table",
				    family == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

/* ---- Inside a container's network namespace ---- */

struct netns_job {
	int netns_fd;
	nl_netns_fn fn;
	void *arg;
	int rc;
	struct ct_error err;
};

static void *netns_thread(void *data)
{
	struct netns_job *job = data;
	_cleanup_nl_sock_ struct nl_sock *nl = NULL;

	/* CLONE_NEWNET is one of the namespaces a thread may join on its own: only this
	 * thread moves, and it ends when the job does. */
	if (job->netns_fd >= 0 && setns(job->netns_fd, CLONE_NEWNET) < 0) {
		int errnum = errno;

		job->rc = ct_error_set(
		    &job->err, errnum == EPERM ? CT_ERR_PERMISSION_DENIED : CT_ERR_INVALID_ARGUMENT,
		    errnum, "entering the network namespace of fd %d: %s%s", job->netns_fd,
		    strerror(errnum), errnum == EINVAL ? " (it is not a network namespace)" : "");
		return NULL;
	}
	if (nl_sock_open(&nl, &job->err) < 0) {
		job->rc = -1;
		return NULL;
	}
	job->rc = job->fn(nl, job->arg, &job->err);
	if (job->rc < 0 && !job->err.message)
		ct_error_set(&job->err, CT_ERR_INTERNAL, 0,
			     "work in a network namespace failed without saying why");
	return NULL;
}

int nl_in_netns(int netns_fd, nl_netns_fn fn, void *arg, struct ct_error *err)
{
	struct netns_job job = {.netns_fd = netns_fd, .fn = fn, .arg = arg, .err = CT_ERROR_INIT};
	sigset_t all, old;
	pthread_t thread;
	int rc;

	/* Signals belong to the threads that handle them, not to a worker that is gone a
	 * moment later; the worker inherits the mask it is created with. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&thread, NULL, netns_thread, &job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "starting a thread to work in a network namespace");
	}
	pthread_join(thread, NULL);
	if (job.rc < 0) {
		if (err)
			ct_error_move(err, &job.err);
		ct_error_clear(&job.err);
		return job.rc;
	}
	ct_error_clear(&job.err);
	return job.rc;
}

static int iface_configure_here(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	const struct nl_iface_config *cfg = arg;
	const char *name = cfg->name ? cfg->name : cfg->peer_name;
	int index;

	if (cfg->name && strcmp(cfg->name, cfg->peer_name) != 0 &&
	    nl_link_rename(nl, cfg->peer_name, cfg->name, err) < 0)
		return -1;
	index = nl_link_index(nl, name, err);
	if (index < 0)
		return -1;
	if (cfg->has_mac && nl_link_set_mac(nl, name, cfg->mac, err) < 0)
		return -1;
	if (cfg->mtu && nl_link_set_mtu(nl, name, cfg->mtu, err) < 0)
		return -1;
	if (cfg->family && nl_addr_add(nl, index, cfg->family, &cfg->addr, cfg->prefixlen, err) < 0)
		return -1;
	if (nl_link_set_up_index(nl, index, true, err) < 0)
		return -1;
	if (nl_link_set_up(nl, "lo", true, err) < 0)
		return -1;
	if (cfg->has_gateway &&
	    nl_route_add_default(nl, index, cfg->family, &cfg->gateway, err) < 0)
		return -1;
	return index;
}

int nl_iface_configure(int netns_fd, const struct nl_iface_config *cfg, struct ct_error *err)
{
	const char *name;
	int rc;

	if (check_ifname(cfg->peer_name, "interface", err) < 0 ||
	    (cfg->name && check_ifname(cfg->name, "interface", err) < 0))
		return -1;
	name = cfg->name ? cfg->name : cfg->peer_name;
	if (cfg->family && cfg->family != AF_INET && cfg->family != AF_INET6)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EAFNOSUPPORT,
				    "configuring %s: address family %d is neither AF_INET nor "
				    "AF_INET6",
				    name, cfg->family);
	if (cfg->has_gateway && !cfg->family)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "configuring %s: a default route needs an address family "
				    "and an address on the interface",
				    name);
	rc = nl_in_netns(netns_fd, iface_configure_here, (void *)cfg, err);
	if (rc < 0)
		return ct_error_prefix(err, "configuring %s in %s network namespace", name,
				       netns_fd >= 0 ? "the container's" : "this");
	return rc;
}

/* ---- sysctl ---- */

static int sysctl_open(const char *path, int flags, struct ct_error *err)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_close_ int fd = -1;
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
	    .resolve =
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	struct statfs sfs;

	if (!path || !*path || path[0] == '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "invalid sysctl path \"%s\": give it relative to /proc/sys, "
				    "as in net/ipv4/ip_forward",
				    path ? path : "(null)");
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, "/");

		if ((len == 2 && p[0] == '.' && p[1] == '.') || len == 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
					    "invalid sysctl path \"%s\": empty and \"..\" "
					    "components are refused",
					    path);
		p += len;
		if (*p == '/')
			p++;
	}

	dirfd = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return ct_error_errno(err, CT_ERR_UNAVAILABLE, "opening /proc/sys");
	if (fstatfs(dirfd, &sfs) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "checking /proc/sys");
	if (sfs.f_type != PROC_SUPER_MAGIC)
		return ct_error_set(err, CT_ERR_PERMISSION_DENIED, 0,
				    "/proc/sys is not procfs (something is mounted over it); "
				    "refusing to write sysctls there");

	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		/* Before Linux 5.6: ".." was refused above, and the fstatfs below still
		 * catches a file that is not procfs's own. */
		fd = openat(dirfd, path, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
					    "no sysctl /proc/sys/%s in this namespace (does the "
					    "interface it names exist?)",
					    path);
		return ct_error_errno(err,
				      errno == EACCES || errno == EPERM || errno == EROFS
					  ? CT_ERR_PERMISSION_DENIED
					  : CT_ERR_INVALID_ARGUMENT,
				      "opening /proc/sys/%s", path);
	}
	if (fstatfs(fd, &sfs) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "checking /proc/sys/%s", path);
	if (sfs.f_type != PROC_SUPER_MAGIC)
		return ct_error_set(err, CT_ERR_PERMISSION_DENIED, 0,
				    "/proc/sys/%s is not on procfs; refusing to use it", path);
	return move_fd(fd);
}

int nl_sysctl_set(const char *path, const char *value, struct ct_error *err)
{
	_cleanup_close_ int fd = -1;
	size_t len, done = 0;

	if (!value)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "setting sysctl %s: no value", path ? path : "(null)");
	fd = sysctl_open(path, O_WRONLY, err);
	if (fd < 0)
		return -1;
	len = strlen(value);
	/* A sysctl takes the value in one write; a short write means it took a part. */
	while (done < len) {
		ssize_t n = write(fd, value + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ct_error_errno(err,
					      errno == EINVAL || errno == ERANGE
						  ? CT_ERR_INVALID_ARGUMENT
						  : CT_ERR_INTERNAL,
					      "writing \"%s\" to /proc/sys/%s", value, path);
		}
		if (n == 0)
			return ct_error_set(err, CT_ERR_INTERNAL, EIO,
					    "writing \"%s\" to /proc/sys/%s: nothing written",
					    value, path);
		done += (size_t)n;
	}
	return 0;
}

int nl_sysctl_get(const char *path, char *buf, size_t size, struct ct_error *err)
{
	_cleanup_close_ int fd = -1;
	size_t done = 0;

	if (!buf || size < 2)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "reading sysctl %s: no room for the value",
				    path ? path : "(null)");
	fd = sysctl_open(path, O_RDONLY, err);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf + done, size - 1 - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading /proc/sys/%s", path);
		}
		if (n == 0)
			break;
		done += (size_t)n;
		if (done == size - 1)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOSPC,
					    "reading /proc/sys/%s: the value is longer than %zu "
					    "bytes",
					    path, size - 2);
	}
	while (done > 0 && buf[done - 1] == '\n')
		done--;
	buf[done] = '\0';
	return 0;
}

/* ---- MAC addresses ---- */

void nl_mac_from_ipv4(const struct in_addr *addr, uint8_t mac[6])
{
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x42;
	memcpy(mac + 2, &addr->s_addr, 4); /* network order: 10.123.0.2 → 0a:7b:00:02 */
}

void nl_mac_format(const uint8_t mac[6], char buf[NL_MAC_STRLEN])
{
	snprintf(buf, NL_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nl_mac_parse(const char *text, uint8_t mac[6], struct ct_error *err)
{
	uint8_t out[6];
	bool ok = text && strlen(text) == NL_MAC_STRLEN - 1;

	for (int i = 0; ok && i < 6; i++) {
		const char *p = text + i * 3;
		int hi = hex_value(p[0]), lo = hex_value(p[1]);

		ok = hi >= 0 && lo >= 0 && (i == 5 || p[2] == ':');
		if (ok)
			out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!ok)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EINVAL,
				    "invalid MAC address \"%s\": expected six hex pairs like "
				    "02:42:0a:7b:00:02",
				    text ? text : "(null)");
	memcpy(mac, out, sizeof(out));
	return 0;
}
