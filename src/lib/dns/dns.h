/* DNS for container names: a strict codec for queries and their answers
 * (RFC 1035, RFC 3596 for AAAA, RFC 6891 for EDNS0) and a small server on a ct_loop
 * that answers the names a lookup callback knows and forwards the rest to upstream
 * resolvers.
 *
 * The codec (dns_codec.c) depends on libc only, so the fuzz target
 * (tests/fuzz/fuzz_dns.c) builds it alone. It never allocates and reads every byte
 * through a bounds check: a query is attacker-controlled input from any container
 * on the network. */
#ifndef CONTAINER_DNS_H
#define CONTAINER_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "error.h"

#define DNS_TYPE_A     1
#define DNS_TYPE_NS    2
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA   6
#define DNS_TYPE_PTR   12
#define DNS_TYPE_MX    15
#define DNS_TYPE_TXT   16
#define DNS_TYPE_AAAA  28
#define DNS_TYPE_OPT   41
#define DNS_TYPE_IXFR  251
#define DNS_TYPE_AXFR  252
#define DNS_TYPE_MAILB 253
#define DNS_TYPE_MAILA 254
#define DNS_TYPE_ANY   255

#define DNS_CLASS_IN 1
#define DNS_CLASS_CH 3

#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_FORMERR  1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP   4
#define DNS_RCODE_REFUSED  5
/* Extended rcode (RFC 6891): its upper bits travel in the OPT record. */
#define DNS_RCODE_BADVERS 16

/* Header flag bits (the second 16-bit word of the header). */
#define DNS_FLAG_QR	  0x8000
#define DNS_FLAG_AA	  0x0400
#define DNS_FLAG_TC	  0x0200
#define DNS_FLAG_RD	  0x0100
#define DNS_FLAG_RA	  0x0080
#define DNS_FLAG_AD	  0x0020
#define DNS_FLAG_CD	  0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags)  ((flags)&0xf)
#define DNS_OPCODE_QUERY  0

#define DNS_HEADER_SIZE 12
/* A name on the wire: at most 255 bytes including the length bytes and the root. */
#define DNS_NAME_WIRE_MAX 255
#define DNS_LABEL_MAX	  63
/* A name in presentation form: every byte of 253 could need "\DDD" (4 characters),
 * plus dots and the NUL. */
#define DNS_NAME_TEXT_MAX 1024
/* UDP payload limits: the classic one, the size we announce in our OPT record (the
 * DNS flag day 2020 value, which avoids IP fragmentation) and the largest datagram
 * we accept or build. */
#define DNS_UDP_CLASSIC	  512
#define DNS_EDNS_UDP_SIZE 1232
#define DNS_UDP_MAX	  4096
#define DNS_TCP_MAX	  65535

/* Result of dns_parse_query: 0 when the query can be answered, DNS_PARSE_DROP when
 * no reply may be sent (shorter than a header, or a response rather than a query),
 * otherwise the rcode to reply with (FORMERR, NOTIMP, REFUSED, BADVERS). */
#define DNS_PARSE_OK   0
#define DNS_PARSE_DROP (-1)

struct dns_query {
	uint16_t id;
	uint16_t flags;
	/* The header and the question parsed: a reply can echo the question. */
	bool has_question;
	uint16_t qtype;
	uint16_t qclass;
	/* The question name on the wire, uncompressed, in the query's own case. */
	uint8_t qname[DNS_NAME_WIRE_MAX];
	size_t qname_len;
	/* The same name in presentation form, lowercased (ASCII only, RFC 4343), without
	 * the trailing dot ("" for the root); bytes other than letters, digits, '-' and
	 * '_' and such are escaped as "\DDD", '.' and '\' inside a label as "\." "\\". */
	char name[DNS_NAME_TEXT_MAX];
	/* EDNS0: an OPT record came in the additional section. */
	bool has_edns;
	uint8_t edns_version;
	/* The requestor's UDP payload size, never below 512. */
	uint16_t edns_udp_size;
};

/* Parses one query message (a UDP payload or a TCP message without its length
 * prefix). q is filled as far as parsing got, so an error reply can echo the id
 * and, when has_question is set, the question. why, when not NULL, receives a
 * static description of the first problem found. */
int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q, const char **why);

/* The largest UDP reply the sender of q accepts: 512, or its EDNS0 size capped at
 * DNS_UDP_MAX. */
size_t dns_query_udp_limit(const struct dns_query *q);

/* Addresses for one name, filled by a lookup. */
#define DNS_ANSWER_MAX 32
struct dns_answer {
	uint32_t ttl;
	size_t n_a;
	struct in_addr a[DNS_ANSWER_MAX];
	size_t n_aaaa;
	struct in6_addr aaaa[DNS_ANSWER_MAX];
};

/* Adds one address (AF_INET or AF_INET6, in network byte order); false when full. */
bool dns_answer_add(struct dns_answer *ans, int family, const void *addr);

/* dns_build_response flags. */
#define DNS_BUILD_AUTHORITATIVE 0x1 /* AA: the name is ours */
#define DNS_BUILD_RECURSION	0x2 /* RA: we forward other names */

/* Builds the reply to q with rcode in buf: header, the question (when q has one,
 * in the query's case), the A and/or AAAA records of ans that match the question's
 * type (ans may be NULL), each named by a compression pointer to the question, and
 * an OPT record announcing DNS_EDNS_UDP_SIZE when the query had one. When the
 * records don't fit in size bytes the reply carries none and has TC set, so the
 * client retries over TCP. Returns the length, or -1 when even the header and
 * question don't fit. */
ssize_t dns_build_response(const struct dns_query *q, int rcode, const struct dns_answer *ans,
			   unsigned flags, uint8_t *buf, size_t size);

/* Builds a query for name (dotted, a trailing dot tolerated) and qtype with the
 * RD bit; edns_udp_size > 0 adds an OPT record. Returns the length, or -1 when the
 * name is not a valid name or buf is too small. */
ssize_t dns_build_query(uint16_t id, const char *name, uint16_t qtype, uint16_t edns_udp_size,
			uint8_t *buf, size_t size);

/* Reads the question of a reply message (header flags, id, question name, type and
 * class) and checks that it answers q: QR set, same id as upstream_id, one question
 * equal to q's (names compared case-insensitively). Returns true when it does. */
bool dns_reply_matches(const uint8_t *pkt, size_t len, uint16_t upstream_id,
		       const struct dns_query *q);

/* True when name (lowercased, as given to a lookup) is host, or host.domain;
 * host and domain may carry a trailing dot and any case; domain may be NULL. */
bool dns_name_matches_host(const char *name, const char *host, const char *domain);

/* The server */

enum dns_lookup_result {
	DNS_LOOKUP_FOUND = 0, /* ours; out holds its addresses (maybe none of qtype) */
	DNS_LOOKUP_NOT_FOUND, /* in our domain but nobody has it: NXDOMAIN */
	DNS_LOOKUP_NOT_OURS,  /* forward to the upstream resolvers (REFUSED without) */
};

/* name: lowercased, no trailing dot (see struct dns_query). out comes zeroed with
 * ttl set to DNS_DEFAULT_TTL; the callback may change it. Runs on the loop. */
typedef int (*dns_lookup_fn)(void *data, const char *name, int qtype, struct dns_answer *out);

#define DNS_DEFAULT_TTL		10
#define DNS_MAX_UPSTREAMS	8
#define DNS_FORWARD_TIMEOUT_MS	2000
#define DNS_DEFAULT_MAX_PENDING 256
#define DNS_MAX_PENDING_LIMIT	4096
#define DNS_DEFAULT_MAX_TCP	32
#define DNS_TCP_IDLE_TIMEOUT_MS 10000

struct dns_server_config {
	/* Numeric address to listen on ("10.88.0.1", "127.0.0.1", "fd00::1"): a
	 * specific one, so replies leave from the address the client asked. */
	const char *address;
	uint16_t port; /* 0: an ephemeral port (see dns_server_port) */
	bool tcp;      /* also listen on TCP, same port (2-byte length framing) */
	dns_lookup_fn lookup;
	void *data;
	/* Upstream resolvers for names that are not ours: the nameserver lines of
	 * resolv_conf (NULL: none) and then the upstreams list ("1.1.1.1",
	 * "2606:4700::1111", "127.0.0.1#5353": address, optionally '#' and a port). At
	 * most DNS_MAX_UPSTREAMS in all. */
	const char *resolv_conf;
	const char *const *upstreams;
	size_t n_upstreams;
	/* Ignore loopback nameservers in resolv_conf (systemd-resolved's 127.0.0.53,
	 * dnsmasq's 127.0.1.1): they are unreachable from a container's namespace and a
	 * host-side forwarder pointing at one may loop back to itself. */
	bool skip_loopback_nameservers;
	unsigned forward_timeout_ms; /* 0: DNS_FORWARD_TIMEOUT_MS */
	unsigned max_pending;	     /* forwards in flight; 0: DNS_DEFAULT_MAX_PENDING */
	unsigned max_tcp;	     /* TCP connections; 0: DNS_DEFAULT_MAX_TCP */
};

struct dns_server_stats {
	uint64_t queries;	   /* well-formed queries */
	uint64_t answered;	   /* answered from the lookup (found or NXDOMAIN) */
	uint64_t refused;	   /* not ours and nowhere to forward, or a class not IN */
	uint64_t forwarded;	   /* sent upstream */
	uint64_t forward_replies;  /* upstream replies relayed */
	uint64_t forward_failures; /* SERVFAIL after timeout or upstream errors */
	uint64_t pending_full;	   /* SERVFAIL because the pending table was full */
	uint64_t malformed;	   /* dropped or answered FORMERR/NOTIMP */
	uint64_t truncated;	   /* replies sent with TC */
	uint64_t send_errors;	   /* replies the socket would not take */
	uint64_t tcp_connections;  /* accepted */
	uint64_t tcp_rejected;	   /* closed at once: too many connections */
};

struct ct_loop;
struct dns_server;

struct dns_server *dns_server_new(struct ct_loop *loop, const struct dns_server_config *cfg,
				  struct ct_error *err);
/* Stops listening, abandons forwards in flight, closes TCP connections. */
void dns_server_free(struct dns_server *s);
/* The port actually bound (useful with port 0). */
uint16_t dns_server_port(const struct dns_server *s);
void dns_server_get_stats(const struct dns_server *s, struct dns_server_stats *out);
size_t dns_server_upstream_count(const struct dns_server *s);

/* Reads the nameserver lines of a resolv.conf (address, or our extension
 * "address#port"; default port 53) into out, at most max. Lines that aren't
 * nameserver lines are ignored, as the C library does. */
int dns_resolv_conf_read(const char *path, bool skip_loopback, struct sockaddr_storage *out,
			 size_t max, size_t *n, struct ct_error *err);

/* Parses "address" or "address#port" (numeric only; IPv6 may carry "%scope"). */
int dns_parse_address(const char *text, uint16_t default_port, struct sockaddr_storage *out,
		      struct ct_error *err);

#endif
