/* Unit tests of src/lib/dns: the codec (good queries, each malformed case, replies
 * checked byte by byte) and the server on 127.0.0.1 in a ct_loop run by a thread,
 * queried with dig and with raw UDP and TCP clients. A second server instance acts
 * as the upstream resolver, so no query leaves the machine. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "dns.h"
#include "error.h"
#include "loop.h"
#include "util.h"

#define assert_ok(expr, err)                                                                       \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			fail_msg("%s: %s", #expr, ct_error_message(err));                          \
	} while (0)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A header at p; returns its size. */
static size_t header(uint8_t *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
		     uint16_t ar)
{
	put16(p, id);
	put16(p + 2, flags);
	put16(p + 4, qd);
	put16(p + 6, an);
	put16(p + 8, ns);
	put16(p + 10, ar);
	return DNS_HEADER_SIZE;
}

/* An OPT record with the given UDP size, version and rdata; returns its size. */
static size_t opt_record(uint8_t *p, uint16_t udp_size, uint8_t version, const uint8_t *rdata,
			 uint16_t rdlen)
{
	p[0] = 0;
	put16(p + 1, DNS_TYPE_OPT);
	put16(p + 3, udp_size);
	p[5] = 0;
	p[6] = version;
	put16(p + 7, 0);
	put16(p + 9, rdlen);
	if (rdlen)
		memcpy(p + 11, rdata, rdlen);
	return 11 + (size_t)rdlen;
}

static int parse(const uint8_t *pkt, size_t len, struct dns_query *q, const char *want_why)
{
	const char *why = NULL;
	int rc = dns_parse_query(pkt, len, q, &why);

	if (want_why && (!why || !strstr(why, want_why)))
		fail_msg("reason \"%s\", expected \"%s\"", why ? why : "(none)", want_why);
	return rc;
}

/* The codec: queries */

static void test_build_query_bytes(void **state)
{
	uint8_t p[512];
	ssize_t n = dns_build_query(0x1234, "Web.Test.", DNS_TYPE_AAAA, 0, p, sizeof(p));
	static const uint8_t want[] = {0x12, 0x34, 0x01, 0x00, 0,   1,	 0,   0,   0, 0, 0,  0, 3,
				       'W',  'e',  'b',	 4,    'T', 'e', 's', 't', 0, 0, 28, 0, 1};

	assert_int_equal(n, sizeof(want));
	assert_memory_equal(p, want, sizeof(want));

	/* With EDNS: ARCOUNT 1 and an OPT record for the root. */
	n = dns_build_query(7, "a", DNS_TYPE_A, 1232, p, sizeof(p));
	assert_int_equal(n, 12 + 3 + 4 + 11);
	assert_int_equal(get16(p + 10), 1);
	assert_int_equal(p[19], 0);
	assert_int_equal(get16(p + 20), DNS_TYPE_OPT);
	assert_int_equal(get16(p + 22), 1232);

	/* The root, and names that are not names. */
	assert_int_equal(dns_build_query(1, ".", DNS_TYPE_NS, 0, p, sizeof(p)), 12 + 1 + 4);
	assert_int_equal(dns_build_query(1, "", DNS_TYPE_NS, 0, p, sizeof(p)), 12 + 1 + 4);
	assert_int_equal(dns_build_query(1, "a..b", DNS_TYPE_A, 0, p, sizeof(p)), -1);
	assert_int_equal(dns_build_query(1, ".a", DNS_TYPE_A, 0, p, sizeof(p)), -1);
	char label64[80];
	memset(label64, 'x', 64);
	label64[64] = '\0';
	assert_int_equal(dns_build_query(1, label64, DNS_TYPE_A, 0, p, sizeof(p)), -1);
	label64[63] = '\0';
	assert_int_equal(dns_build_query(1, label64, DNS_TYPE_A, 0, p, sizeof(p)), 12 + 65 + 4);
	/* Too small a buffer. */
	assert_int_equal(dns_build_query(1, "web.test", DNS_TYPE_A, 0, p, 20), -1);
}

static void test_parse_good_query(void **state)
{
	uint8_t p[512];
	struct dns_query q;
	ssize_t n = dns_build_query(0xbeef, "WeB.TeSt.", DNS_TYPE_A, 0, p, sizeof(p));

	assert_true(n > 0);
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	assert_int_equal(q.id, 0xbeef);
	assert_int_equal(q.flags, DNS_FLAG_RD);
	assert_true(q.has_question);
	assert_int_equal(q.qtype, DNS_TYPE_A);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_string_equal(q.name, "web.test");
	/* The wire name keeps the query's case for the reply. */
	assert_int_equal(q.qname_len, 10);
	assert_memory_equal(q.qname, "\3WeB\4TeSt", 10);
	assert_false(q.has_edns);
	assert_int_equal(dns_query_udp_limit(&q), 512);

	/* The root name. */
	n = dns_build_query(1, ".", DNS_TYPE_NS, 0, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	assert_string_equal(q.name, "");
	assert_int_equal(q.qname_len, 1);
}

static void test_parse_edns(void **state)
{
	uint8_t p[512];
	struct dns_query q;
	ssize_t n;

	n = dns_build_query(1, "web.test", DNS_TYPE_A, 4096, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_version, 0);
	assert_int_equal(q.edns_udp_size, 4096);
	assert_int_equal(dns_query_udp_limit(&q), 4096);

	/* Sizes below 512 mean 512; above our limit, our limit. */
	n = dns_build_query(1, "web.test", DNS_TYPE_A, 100, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	assert_int_equal(dns_query_udp_limit(&q), 512);
	n = dns_build_query(1, "web.test", DNS_TYPE_A, 65000, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	assert_int_equal(dns_query_udp_limit(&q), DNS_UDP_MAX);

	/* Options (a cookie, as dig sends) are tolerated. */
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	size_t len = header(p, 2, 0, 1, 0, 0, 1);
	memcpy(p + len, "\1a\0\0\1\0\1", 7);
	len += 7;
	len += opt_record(p + len, 1232, 0, cookie, sizeof(cookie));
	assert_int_equal(parse(p, len, &q, NULL), DNS_PARSE_OK);
	assert_true(q.has_edns);

	/* Another additional record (a TSIG-like one) is skipped. */
	len = header(p, 2, 0, 1, 0, 0, 1);
	memcpy(p + len, "\1a\0\0\1\0\1", 7);
	len += 7;
	memcpy(p + len, "\xc0\x0c\0\xfa\0\xff\0\0\0\0\0\3xyz", 15);
	len += 15;
	assert_int_equal(parse(p, len, &q, NULL), DNS_PARSE_OK);
	assert_false(q.has_edns);
}

static void test_parse_escaped_name(void **state)
{
	uint8_t p[64];
	struct dns_query q;
	size_t len = header(p, 1, 0, 1, 0, 0, 0);

	/* Label "A.b\<1> c" then "x": a dot, a backslash, a control byte and a space
	 * inside a label are escaped; letters are lowercased. */
	static const uint8_t name[] = {7, 'A', '.', 'b', '\\', 1, ' ', 'C', 1, 'x', 0};
	memcpy(p + len, name, sizeof(name));
	len += sizeof(name);
	memcpy(p + len, "\0\1\0\1", 4);
	len += 4;
	assert_int_equal(parse(p, len, &q, NULL), DNS_PARSE_OK);
	assert_string_equal(q.name, "a\\.b\\\\\\001\\032c.x");
}

static void test_parse_512_plus(void **state)
{
	uint8_t p[1100];
	uint8_t padding[600];
	struct dns_query q;
	size_t len;

	/* A 600-byte option (EDNS padding, RFC 7830) makes a valid 630-byte query. */
	memset(padding, 0, sizeof(padding));
	put16(padding, 12);
	put16(padding + 2, sizeof(padding) - 4);
	len = header(p, 3, DNS_FLAG_RD, 1, 0, 0, 1);
	memcpy(p + len, "\3web\4test\0\0\1\0\1", 14);
	len += 14;
	len += opt_record(p + len, 1232, 0, padding, sizeof(padding));
	assert_true(len > 512);
	assert_int_equal(parse(p, len, &q, NULL), DNS_PARSE_OK);
	assert_string_equal(q.name, "web.test");

	/* The same with 400 bytes of garbage after it. */
	memset(p + len, 0xa5, 400);
	assert_int_equal(parse(p, len + 400, &q, "trailing bytes"), DNS_RCODE_FORMERR);
}

/* A question "\1a" at offset 12 and its type and class: the base of the
 * hand-made malformed packets below. */
static size_t question_a(uint8_t *p, uint16_t qd, uint16_t ar)
{
	size_t len = header(p, 0x4242, DNS_FLAG_RD, qd, 0, 0, ar);

	memcpy(p + len, "\1a\0\0\1\0\1", 7);
	return len + 7;
}

static void test_parse_malformed_header(void **state)
{
	uint8_t p[600] = {0};
	struct dns_query q;
	size_t len;

	/* Zero-length, NULL and truncated headers: dropped, no reply possible. */
	assert_int_equal(parse(p, 0, &q, "shorter than a DNS header"), DNS_PARSE_DROP);
	assert_int_equal(parse(NULL, 0, &q, "shorter than a DNS header"), DNS_PARSE_DROP);
	len = question_a(p, 1, 0);
	for (size_t cut = 1; cut < DNS_HEADER_SIZE; cut++)
		assert_int_equal(parse(p, cut, &q, "shorter"), DNS_PARSE_DROP);

	/* A response is never answered. */
	put16(p + 2, DNS_FLAG_QR);
	assert_int_equal(parse(p, len, &q, "a response"), DNS_PARSE_DROP);

	/* Opcode STATUS (2): not implemented, echoing the id and opcode. */
	put16(p + 2, 2 << 11);
	assert_int_equal(parse(p, len, &q, "opcode"), DNS_RCODE_NOTIMP);
	assert_int_equal(q.id, 0x4242);
	assert_false(q.has_question);

	/* QDCOUNT 0 and 2. */
	len = question_a(p, 0, 0);
	assert_int_equal(parse(p, len, &q, "no question"), DNS_RCODE_FORMERR);
	assert_int_equal(q.id, 0x4242);
	len = question_a(p, 2, 0);
	memcpy(p + len, "\1b\0\0\1\0\1", 7);
	assert_int_equal(parse(p, len + 7, &q, "more than one question"), DNS_RCODE_FORMERR);

	/* Answer or authority records in a query. */
	len = question_a(p, 1, 0);
	put16(p + 6, 1);
	assert_int_equal(parse(p, len, &q, "answer or authority"), DNS_RCODE_FORMERR);
	put16(p + 6, 0);
	put16(p + 8, 1);
	assert_int_equal(parse(p, len, &q, "answer or authority"), DNS_RCODE_FORMERR);

	/* ARCOUNT promises a record that isn't there. */
	len = question_a(p, 1, 1);
	assert_int_equal(parse(p, len, &q, "name runs past"), DNS_RCODE_FORMERR);
}

static void test_parse_malformed_names(void **state)
{
	uint8_t p[600];
	struct dns_query q;
	size_t len = header(p, 1, 0, 1, 0, 0, 0);

	/* Label length past the end. */
	memcpy(p + len, "\5ab", 3);
	assert_int_equal(parse(p, len + 3, &q, "label runs past the end"), DNS_RCODE_FORMERR);
	/* No root label. */
	memcpy(p + len, "\2ab", 3);
	assert_int_equal(parse(p, len + 3, &q, "name runs past the end"), DNS_RCODE_FORMERR);
	/* The question's type and class cut short. */
	memcpy(p + len, "\2ab\0\0\1\0", 7);
	assert_int_equal(parse(p, len + 7, &q, "type and class"), DNS_RCODE_FORMERR);
	/* Label types 01 and 10 (RFC 6891 retired them). */
	memcpy(p + len,
	       "\x41"
	       "ab\0\0\1\0\1",
	       8);
	assert_int_equal(parse(p, len + 8, &q, "unsupported label type"), DNS_RCODE_FORMERR);
	memcpy(p + len,
	       "\x81"
	       "ab\0\0\1\0\1",
	       8);
	assert_int_equal(parse(p, len + 8, &q, "unsupported label type"), DNS_RCODE_FORMERR);

	/* A pointer to itself (the shortest loop), forward, into the header, cut short. */
	memcpy(p + len, "\xc0\x0c\0\1\0\1", 6);
	assert_int_equal(parse(p, len + 6, &q, "does not point backwards"), DNS_RCODE_FORMERR);
	memcpy(p + len, "\1a\xc0\x0c\0\1\0\1", 8);
	assert_int_equal(parse(p, len + 8, &q, "does not point backwards"), DNS_RCODE_FORMERR);
	memcpy(p + len, "\1a\xc0\x14\0\1\0\1\0", 9);
	assert_int_equal(parse(p, len + 9, &q, "does not point backwards"), DNS_RCODE_FORMERR);
	memcpy(p + len, "\1a\xc0\x02\0\1\0\1", 8);
	assert_int_equal(parse(p, len + 8, &q, "into the header"), DNS_RCODE_FORMERR);
	memcpy(p + len, "\1a\xc0", 3);
	assert_int_equal(parse(p, len + 3, &q, "compression pointer runs past"), DNS_RCODE_FORMERR);
}

static void test_parse_name_lengths(void **state)
{
	uint8_t p[600];
	struct dns_query q;
	size_t len = header(p, 1, 0, 1, 0, 0, 0);
	size_t at = len;

	/* 3 labels of 63 and one of 61: exactly 255 bytes with the root. */
	for (int i = 0; i < 3; i++) {
		p[at++] = 63;
		memset(p + at, 'a' + i, 63);
		at += 63;
	}
	p[at++] = 61;
	memset(p + at, 'd', 61);
	at += 61;
	p[at++] = 0;
	assert_int_equal(at - len, 255);
	memcpy(p + at, "\0\1\0\1", 4);
	assert_int_equal(parse(p, at + 4, &q, NULL), DNS_PARSE_OK);
	assert_int_equal(q.qname_len, 255);
	assert_int_equal(strlen(q.name), 63 * 3 + 61 + 3);

	/* One more byte in the last label: 256. */
	at = len + 3 * 64;
	p[at++] = 62;
	memset(p + at, 'd', 62);
	at += 62;
	p[at++] = 0;
	memcpy(p + at, "\0\1\0\1", 4);
	assert_int_equal(parse(p, at + 4, &q, "longer than 255"), DNS_RCODE_FORMERR);

	/* Five labels of 63 bytes. */
	at = len;
	for (int i = 0; i < 5; i++) {
		p[at++] = 63;
		memset(p + at, 'x', 63);
		at += 63;
	}
	p[at++] = 0;
	memcpy(p + at, "\0\1\0\1", 4);
	assert_int_equal(parse(p, at + 4, &q, "longer than 255"), DNS_RCODE_FORMERR);

	/* A 64-byte label is a label type 01 length byte. */
	at = len;
	p[at++] = 64;
	memset(p + at, 'x', 64);
	at += 64;
	p[at++] = 0;
	memcpy(p + at, "\0\1\0\1", 4);
	assert_int_equal(parse(p, at + 4, &q, "unsupported label type"), DNS_RCODE_FORMERR);

	/* Compression can build a name longer than 255 from short pieces: an
	 * additional record's name of 200 label bytes pointing to one of 100. */
	len = header(p, 1, 0, 1, 0, 0, 1);
	at = len;
	for (int i = 0; i < 2; i++) {
		p[at++] = 49;
		memset(p + at, 'q', 49);
		at += 49;
	}
	p[at++] = 0;
	memcpy(p + at, "\0\1\0\1", 4);
	at += 4;
	for (int i = 0; i < 4; i++) {
		p[at++] = 49;
		memset(p + at, 'r', 49);
		at += 49;
	}
	p[at++] = 0xc0;
	p[at++] = 12;
	memcpy(p + at, "\0\x29\4\xd0\0\0\0\0\0\0", 10);
	at += 10;
	assert_int_equal(parse(p, at, &q, "longer than 255"), DNS_RCODE_FORMERR);
}

static void test_parse_pointer_chains(void **state)
{
	uint8_t p[600];
	struct dns_query q;

	/* Question: the root. Then a record whose data is a run of pointers, each to
	 * the one before it and the first to the question's root name; then an OPT
	 * record whose name points at pointer number `hops - 1`. */
	for (int hops = 30; hops <= 34; hops++) {
		size_t len = header(p, 1, 0, 1, 0, 0, 2), base;
		memcpy(p + len, "\0\0\1\0\1", 5);
		len += 5;
		memcpy(p + len, "\0\0\x10\0\1\0\0\0\0", 9);
		len += 9;
		put16(p + len, (uint16_t)(2 * (hops - 1)));
		len += 2;
		base = len;
		for (int i = 0; i < hops - 1; i++) {
			uint16_t target = i == 0 ? 12 : (uint16_t)(base + 2 * (i - 1));
			put16(p + len, 0xc000 | target);
			len += 2;
		}
		put16(p + len, (uint16_t)(0xc000 | (base + 2 * (hops - 2))));
		len += 2;
		memcpy(p + len, "\0\x29\4\xd0\0\0\0\0\0\0", 10);
		len += 10;
		/* hops pointers are followed in all. */
		int rc = parse(p, len, &q, hops > 32 ? "too many compression pointers" : NULL);
		assert_int_equal(rc, hops > 32 ? DNS_RCODE_FORMERR : DNS_PARSE_OK);
		if (hops <= 32)
			assert_true(q.has_edns);
	}

	/* An additional record's name pointing at itself: a loop. */
	size_t len = question_a(p, 1, 1);
	put16(p + len, 0xc000 | (uint16_t)len);
	memcpy(p + len + 2, "\0\x29\4\xd0\0\0\0\0\0\0", 10);
	assert_int_equal(parse(p, len + 12, &q, "does not point backwards"), DNS_RCODE_FORMERR);
}

static void test_parse_malformed_records(void **state)
{
	uint8_t p[600];
	struct dns_query q;
	static const uint8_t bad_option[] = {0, 10, 0, 9, 1, 2, 3};
	static const uint8_t stub_option[] = {0, 10, 0};
	size_t len;

	/* Trailing bytes. */
	len = question_a(p, 1, 0);
	p[len] = 0;
	assert_int_equal(parse(p, len + 1, &q, "trailing bytes"), DNS_RCODE_FORMERR);

	/* Two OPT records. */
	len = question_a(p, 1, 2);
	len += opt_record(p + len, 1232, 0, NULL, 0);
	len += opt_record(p + len, 1232, 0, NULL, 0);
	assert_int_equal(parse(p, len, &q, "more than one OPT"), DNS_RCODE_FORMERR);

	/* An OPT record owned by a name other than the root. */
	len = question_a(p, 1, 1);
	memcpy(p + len, "\xc0\x0c\0\x29\4\xd0\0\0\0\0\0\0", 12);
	assert_int_equal(parse(p, len + 12, &q, "not owned by the root"), DNS_RCODE_FORMERR);

	/* RDLENGTH past the end; an option past the end of the rdata; a stub option. */
	len = question_a(p, 1, 1);
	len += opt_record(p + len, 1232, 0, NULL, 0);
	put16(p + len - 2, 5);
	assert_int_equal(parse(p, len, &q, "data runs past the end"), DNS_RCODE_FORMERR);
	len = question_a(p, 1, 1);
	len += opt_record(p + len, 1232, 0, bad_option, sizeof(bad_option));
	assert_int_equal(parse(p, len, &q, "option runs past"), DNS_RCODE_FORMERR);
	len = question_a(p, 1, 1);
	len += opt_record(p + len, 1232, 0, stub_option, sizeof(stub_option));
	assert_int_equal(parse(p, len, &q, "option runs past"), DNS_RCODE_FORMERR);

	/* A record header cut short. */
	len = question_a(p, 1, 1);
	memcpy(p + len, "\0\0\x29\4", 4);
	assert_int_equal(parse(p, len + 4, &q, "record header runs past"), DNS_RCODE_FORMERR);

	/* EDNS version 1: BADVERS, with the question and EDNS known. */
	len = question_a(p, 1, 1);
	len += opt_record(p + len, 1232, 1, NULL, 0);
	assert_int_equal(parse(p, len, &q, "EDNS version"), DNS_RCODE_BADVERS);
	assert_true(q.has_edns);
	assert_true(q.has_question);
}

static void test_parse_type_and_class(void **state)
{
	uint8_t p[64];
	struct dns_query q;
	size_t len = question_a(p, 1, 0);

	/* Chaos class (version.bind and friends): refused, question echoed. */
	put16(p + len - 2, DNS_CLASS_CH);
	assert_int_equal(parse(p, len, &q, "class other than IN"), DNS_RCODE_REFUSED);
	assert_true(q.has_question);
	assert_int_equal(q.qclass, DNS_CLASS_CH);
	put16(p + len - 2, 255);
	assert_int_equal(parse(p, len, &q, "class other than IN"), DNS_RCODE_REFUSED);
	put16(p + len - 2, DNS_CLASS_IN);

	put16(p + len - 4, DNS_TYPE_AXFR);
	assert_int_equal(parse(p, len, &q, "zone transfers"), DNS_RCODE_NOTIMP);
	put16(p + len - 4, DNS_TYPE_IXFR);
	assert_int_equal(parse(p, len, &q, "zone transfers"), DNS_RCODE_NOTIMP);
	put16(p + len - 4, 0);
	assert_int_equal(parse(p, len, &q, "type 0"), DNS_RCODE_FORMERR);
	put16(p + len - 4, DNS_TYPE_OPT);
	assert_int_equal(parse(p, len, &q, "OPT"), DNS_RCODE_FORMERR);
	put16(p + len - 4, DNS_TYPE_ANY);
	assert_int_equal(parse(p, len, &q, NULL), DNS_PARSE_OK);
	put16(p + len - 4, DNS_TYPE_MX);
	assert_int_equal(parse(p, len, &q, NULL), DNS_PARSE_OK);
}

/* The codec: replies */

static void web_answer(struct dns_answer *ans)
{
	uint8_t a1[4] = {10, 88, 0, 5}, a2[4] = {10, 88, 0, 6};
	struct in6_addr a6;

	memset(ans, 0, sizeof(*ans));
	ans->ttl = 30;
	assert_true(dns_answer_add(ans, AF_INET, a1));
	assert_true(dns_answer_add(ans, AF_INET, a2));
	assert_int_equal(inet_pton(AF_INET6, "fd00::5", &a6), 1);
	assert_true(dns_answer_add(ans, AF_INET6, &a6));
}

static void test_response_a(void **state)
{
	uint8_t p[512], r[512];
	struct dns_query q;
	struct dns_answer ans;
	ssize_t n = dns_build_query(0xabcd, "WeB.test", DNS_TYPE_A, 1400, p, sizeof(p));

	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	web_answer(&ans);
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans,
			       DNS_BUILD_AUTHORITATIVE | DNS_BUILD_RECURSION, r, sizeof(r));
	/* header 12, question 10+4, 2 A records of 16, OPT 11 */
	assert_int_equal(n, 12 + 14 + 2 * 16 + 11);
	assert_int_equal(get16(r), 0xabcd);
	assert_int_equal(get16(r + 2),
			 DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD | DNS_FLAG_RA | DNS_RCODE_NOERROR);
	assert_int_equal(get16(r + 4), 1);  /* QDCOUNT */
	assert_int_equal(get16(r + 6), 2);  /* ANCOUNT */
	assert_int_equal(get16(r + 8), 0);  /* NSCOUNT */
	assert_int_equal(get16(r + 10), 1); /* ARCOUNT: OPT */
	/* The question, in the query's case. */
	assert_memory_equal(r + 12, "\3WeB\4test\0", 10);
	assert_int_equal(get16(r + 22), DNS_TYPE_A);
	assert_int_equal(get16(r + 24), DNS_CLASS_IN);
	/* Two answers named by a pointer to offset 12. */
	for (int i = 0; i < 2; i++) {
		const uint8_t *rr = r + 26 + 16 * i;
		assert_int_equal(get16(rr), 0xc00c);
		assert_int_equal(get16(rr + 2), DNS_TYPE_A);
		assert_int_equal(get16(rr + 4), DNS_CLASS_IN);
		assert_int_equal(get32(rr + 6), 30);
		assert_int_equal(get16(rr + 10), 4);
		assert_int_equal(rr[12], 10);
		assert_int_equal(rr[13], 88);
		assert_int_equal(rr[14], 0);
		assert_int_equal(rr[15], 5 + i);
	}
	/* OPT: root, type 41, our UDP size, rcode/version/flags 0, no data. */
	const uint8_t *opt = r + 58;
	assert_int_equal(opt[0], 0);
	assert_int_equal(get16(opt + 1), DNS_TYPE_OPT);
	assert_int_equal(get16(opt + 3), DNS_EDNS_UDP_SIZE);
	assert_int_equal(get32(opt + 5), 0);
	assert_int_equal(get16(opt + 9), 0);

	/* It answers the query, whatever the case of the name. */
	assert_true(dns_reply_matches(r, (size_t)n, 0xabcd, &q));
	assert_false(dns_reply_matches(r, (size_t)n, 0xabce, &q));
	r[13] = 'w';
	assert_true(dns_reply_matches(r, (size_t)n, 0xabcd, &q));
	r[14] = 'x';
	assert_false(dns_reply_matches(r, (size_t)n, 0xabcd, &q));
	assert_false(dns_reply_matches(p, 12, 0xabcd, &q));
	assert_false(dns_reply_matches(r, 5, 0xabcd, &q));
}

static void test_response_aaaa_any_nodata(void **state)
{
	uint8_t p[512], r[512];
	struct dns_query q;
	struct dns_answer ans;
	ssize_t n = dns_build_query(1, "web", DNS_TYPE_AAAA, 0, p, sizeof(p));

	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	web_answer(&ans);
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans, DNS_BUILD_AUTHORITATIVE, r, sizeof(r));
	assert_int_equal(n, 12 + 9 + 28);
	assert_int_equal(get16(r + 2), DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD);
	assert_int_equal(get16(r + 6), 1);
	assert_int_equal(get16(r + 10), 0);
	const uint8_t *rr = r + 21;
	assert_int_equal(get16(rr), 0xc00c);
	assert_int_equal(get16(rr + 2), DNS_TYPE_AAAA);
	assert_int_equal(get16(rr + 4), DNS_CLASS_IN);
	assert_int_equal(get32(rr + 6), 30);
	assert_int_equal(get16(rr + 10), 16);
	char text[INET6_ADDRSTRLEN];
	assert_non_null(inet_ntop(AF_INET6, rr + 12, text, sizeof(text)));
	assert_string_equal(text, "fd00::5");

	/* ANY: both families. */
	n = dns_build_query(1, "web", DNS_TYPE_ANY, 0, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans, 0, r, sizeof(r));
	assert_int_equal(get16(r + 6), 3);
	assert_int_equal(n, 12 + 9 + 2 * 16 + 28);

	/* MX of a name we have: NOERROR, no records. */
	n = dns_build_query(1, "web", DNS_TYPE_MX, 0, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans, DNS_BUILD_AUTHORITATIVE, r, sizeof(r));
	assert_int_equal(n, 12 + 9);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_NOERROR);
	assert_int_equal(get16(r + 6), 0);
}

static void test_response_errors(void **state)
{
	uint8_t p[512], r[512];
	struct dns_query q;
	ssize_t n = dns_build_query(0x0102, "nope.test", DNS_TYPE_A, 0, p, sizeof(p));
	static const int rcodes[] = {DNS_RCODE_NXDOMAIN, DNS_RCODE_SERVFAIL, DNS_RCODE_REFUSED};

	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	for (size_t i = 0; i < ARRAY_SIZE(rcodes); i++) {
		struct dns_answer ans;
		web_answer(&ans);
		/* Records are never sent with an error, even when given. */
		n = dns_build_response(&q, rcodes[i], &ans, 0, r, sizeof(r));
		assert_int_equal(n, 12 + 11 + 4);
		assert_int_equal(get16(r), 0x0102);
		assert_int_equal(get16(r + 2), DNS_FLAG_QR | DNS_FLAG_RD | rcodes[i]);
		assert_int_equal(get16(r + 4), 1);
		assert_int_equal(get16(r + 6), 0);
		assert_int_equal(get16(r + 8), 0);
		assert_int_equal(get16(r + 10), 0);
		assert_memory_equal(r + 12, "\4nope\4test\0\0\1\0\1", 15);
	}

	/* FORMERR for QDCOUNT 0: the header alone, id and opcode echoed. */
	size_t len = question_a(p, 0, 0);
	assert_int_equal(parse(p, len, &q, NULL), DNS_RCODE_FORMERR);
	n = dns_build_response(&q, DNS_RCODE_FORMERR, NULL, 0, r, sizeof(r));
	assert_int_equal(n, 12);
	assert_int_equal(get16(r), 0x4242);
	assert_int_equal(get16(r + 2), DNS_FLAG_QR | DNS_FLAG_RD | DNS_RCODE_FORMERR);
	assert_int_equal(get16(r + 4), 0);
	assert_int_equal(get16(r + 10), 0);

	/* NOTIMP for opcode 2 keeps the opcode. */
	len = question_a(p, 1, 0);
	put16(p + 2, 2 << 11);
	assert_int_equal(parse(p, len, &q, NULL), DNS_RCODE_NOTIMP);
	n = dns_build_response(&q, DNS_RCODE_NOTIMP, NULL, 0, r, sizeof(r));
	assert_int_equal(n, 12);
	assert_int_equal(get16(r + 2), DNS_FLAG_QR | (2 << 11) | DNS_RCODE_NOTIMP);

	/* BADVERS: rcode 16 is 0 in the header and 1 in the OPT record's top byte. */
	len = question_a(p, 1, 1);
	len += opt_record(p + len, 1232, 1, NULL, 0);
	assert_int_equal(parse(p, len, &q, NULL), DNS_RCODE_BADVERS);
	n = dns_build_response(&q, DNS_RCODE_BADVERS, NULL, 0, r, sizeof(r));
	assert_int_equal(n, 12 + 7 + 11);
	assert_int_equal(get16(r + 2) & 0xf, 0);
	assert_int_equal(get16(r + 10), 1);
	assert_int_equal(r[19], 0);
	assert_int_equal(get16(r + 20), DNS_TYPE_OPT);
	assert_int_equal(get32(r + 24), 1u << 24);

	/* A buffer too small for the header and question. */
	n = dns_build_query(1, "web.test", DNS_TYPE_A, 0, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, r, 11), -1);
	assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, r, 25), -1);
	assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, r, 26), 26);
}

static void many_answer(struct dns_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	ans->ttl = 5;
	for (int i = 0; i < DNS_ANSWER_MAX; i++) {
		struct in6_addr a6 = {.s6_addr = {0xfd, [15] = (uint8_t)(i + 1)}};
		assert_true(dns_answer_add(ans, AF_INET6, &a6));
	}
	struct in6_addr extra = {{{0}}};
	assert_false(dns_answer_add(ans, AF_INET6, &extra));
}

static void test_response_truncated(void **state)
{
	uint8_t p[512], r[DNS_UDP_MAX];
	struct dns_query q;
	struct dns_answer ans;
	ssize_t n;

	many_answer(&ans);
	/* 32 AAAA records (896 bytes) don't fit in 512: none, with TC. */
	n = dns_build_query(9, "many.test", DNS_TYPE_AAAA, 0, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans, 0, r, dns_query_udp_limit(&q));
	assert_int_equal(n, 12 + 11 + 4);
	assert_int_equal(get16(r + 2), DNS_FLAG_QR | DNS_FLAG_TC | DNS_FLAG_RD);
	assert_int_equal(get16(r + 6), 0);

	/* With EDNS 1232 they do (12 + 15 + 896 + 11 = 934). */
	n = dns_build_query(9, "many.test", DNS_TYPE_AAAA, 1232, p, sizeof(p));
	assert_int_equal(parse(p, (size_t)n, &q, NULL), DNS_PARSE_OK);
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans, 0, r, dns_query_udp_limit(&q));
	assert_int_equal(n, 12 + 15 + 32 * 28 + 11);
	assert_int_equal(get16(r + 2) & DNS_FLAG_TC, 0);
	assert_int_equal(get16(r + 6), 32);
	assert_int_equal(get16(r + 10), 1);

	/* Just one byte short: truncated, and the OPT record still there. */
	n = dns_build_response(&q, DNS_RCODE_NOERROR, &ans, 0, r, 12 + 15 + 32 * 28 + 10);
	assert_int_equal(n, 12 + 15 + 11);
	assert_int_equal(get16(r + 2) & DNS_FLAG_TC, DNS_FLAG_TC);
	assert_int_equal(get16(r + 6), 0);
	assert_int_equal(get16(r + 10), 1);
	assert_int_equal(get16(r + 12 + 15 + 1), DNS_TYPE_OPT);
}

static void test_name_matches_host(void **state)
{
	assert_true(dns_name_matches_host("web", "web", "test"));
	assert_true(dns_name_matches_host("web.test", "web", "test"));
	assert_true(dns_name_matches_host("web.test", "Web.", "TEST."));
	assert_true(dns_name_matches_host("web", "web", NULL));
	assert_false(dns_name_matches_host("web.test", "web", NULL));
	assert_false(dns_name_matches_host("web.test2", "web", "test"));
	assert_false(dns_name_matches_host("web.tes", "web", "test"));
	assert_false(dns_name_matches_host("we", "web", "test"));
	assert_false(dns_name_matches_host("webx", "web", "test"));
	assert_false(dns_name_matches_host("web.", "web", "test"));
	assert_false(dns_name_matches_host("web.test.evil", "web", "test"));
	assert_false(dns_name_matches_host("", "web", "test"));
	assert_false(dns_name_matches_host("web", "", "test"));
}

static void test_resolv_conf(void **state)
{
	char path[] = "/tmp/test-dns-resolv-XXXXXX";
	_cleanup_close_ int fd = mkstemp(path);
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	static const char text[] = "# generated by someone\n"
				   "search example.com\n"
				   "nameserver 127.0.0.53\n"
				   "options edns0 trust-ad\n"
				   "nameserver\t192.0.2.1   # a comment after\n"
				   "nameserver ::1\n"
				   "nameserver not-an-address\n"
				   "nameserver 2001:db8::1\n"
				   "nameserver\n"
				   "  nameserver 198.51.100.1#5353\n"
				   "nameserver 192.0.2.2#0\n";
	struct sockaddr_storage ss[DNS_MAX_UPSTREAMS];
	char text_addr[INET6_ADDRSTRLEN];
	size_t n;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));

	assert_ok(dns_resolv_conf_read(path, true, ss, DNS_MAX_UPSTREAMS, &n, &err), &err);
	assert_int_equal(n, 3);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss[0];
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 53);
	assert_string_equal(inet_ntop(AF_INET, &s4->sin_addr, text_addr, sizeof(text_addr)),
			    "192.0.2.1");
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss[1];
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, text_addr, sizeof(text_addr)),
			    "2001:db8::1");
	s4 = (struct sockaddr_in *)&ss[2];
	assert_int_equal(ntohs(s4->sin_port), 5353);

	/* Without skipping, the loopback ones too; and at most max. */
	assert_ok(dns_resolv_conf_read(path, false, ss, DNS_MAX_UPSTREAMS, &n, &err), &err);
	assert_int_equal(n, 5);
	assert_ok(dns_resolv_conf_read(path, false, ss, 2, &n, &err), &err);
	assert_int_equal(n, 2);

	unlink(path);
	assert_int_equal(dns_resolv_conf_read(path, false, ss, 2, &n, &err), -1);
	assert_string_equal(err.code, CT_ERR_NOT_FOUND);
	assert_non_null(strstr(ct_error_message(&err), path));
}

static void test_parse_address(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct sockaddr_storage ss;

	assert_ok(dns_parse_address("10.88.0.1", 53, &ss, &err), &err);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 53);
	assert_ok(dns_parse_address("fd00::1#2053", 53, &ss, &err), &err);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 2053);
	assert_int_equal(dns_parse_address("example.com", 53, &ss, &err), -1);
	assert_non_null(strstr(ct_error_message(&err), "not a numeric"));
	assert_int_equal(dns_parse_address("10.0.0.1#", 53, &ss, &err), -1);
	assert_int_equal(dns_parse_address("10.0.0.1#70000", 53, &ss, &err), -1);
	assert_int_equal(dns_parse_address("10.0.0.1#-1", 53, &ss, &err), -1);
	assert_int_equal(dns_parse_address("10.0.0.1#53x", 53, &ss, &err), -1);
	assert_non_null(strstr(ct_error_message(&err), "bad port"));
}

/* The server, on a loop in a thread */

static struct ct_loop *loop;
static pthread_t loop_tid;
static int quit_fd = -1;
static struct ct_watch *quit_watch;
static struct dns_server *srv_main, *srv_upstream, *srv_dead, *srv_hole, *srv_noup, *srv_resolv;
static int hole_fd = -1;
static char resolv_path[64];

static int main_lookup(void *data, const char *name, int qtype, struct dns_answer *out)
{
	size_t len = strlen(name);

	if (dns_name_matches_host(name, "web", "test")) {
		uint8_t a[4] = {10, 88, 0, 5};
		struct in6_addr a6;
		inet_pton(AF_INET6, "fd00::5", &a6);
		dns_answer_add(out, AF_INET, a);
		dns_answer_add(out, AF_INET6, &a6);
		out->ttl = 30;
		return DNS_LOOKUP_FOUND;
	}
	if (dns_name_matches_host(name, "many", "test")) {
		many_answer(out);
		return DNS_LOOKUP_FOUND;
	}
	if (strcmp(name, "test") == 0 || (len > 5 && strcmp(name + len - 5, ".test") == 0))
		return DNS_LOOKUP_NOT_FOUND;
	return DNS_LOOKUP_NOT_OURS;
}

static int upstream_lookup(void *data, const char *name, int qtype, struct dns_answer *out)
{
	if (strcmp(name, "outside.example") == 0) {
		uint8_t a[4] = {192, 0, 2, 7};
		dns_answer_add(out, AF_INET, a);
		return DNS_LOOKUP_FOUND;
	}
	return DNS_LOOKUP_NOT_FOUND;
}

static void on_quit(struct ct_loop *l, int fd, uint32_t events, void *data)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == sizeof(v))
		ct_loop_quit(l);
}

static void *loop_thread(void *arg)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (ct_loop_run(loop, &err) < 0)
		fprintf(stderr, "loop: %s\n", ct_error_message(&err));
	return NULL;
}

static void loop_start(void)
{
	assert_int_equal(pthread_create(&loop_tid, NULL, loop_thread, NULL), 0);
}

/* Stops the loop thread: after this the servers' state may be read. */
static void loop_stop(void)
{
	uint64_t one = 1;

	assert_int_equal(write(quit_fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(pthread_join(loop_tid, NULL), 0);
}

/* A free UDP port on 127.0.0.1 (bound, then closed) or one held by fd_out. */
static uint16_t udp_port(int *fd_out)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return ntohs(sin.sin_port);
}

static struct dns_server *start_server(const struct dns_server_config *cfg)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct dns_server *s = dns_server_new(loop, cfg, &err);

	if (!s)
		fail_msg("dns_server_new: %s", ct_error_message(&err));
	return s;
}

static int servers_setup(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char up[32], dead[32], hole[32];

	loop = ct_loop_new(&err);
	assert_non_null(loop);
	quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(quit_fd >= 0);
	quit_watch = ct_loop_watch(loop, quit_fd, EPOLLIN, on_quit, NULL, &err);
	assert_non_null(quit_watch);

	struct dns_server_config cfg = {.address = "127.0.0.1", .lookup = upstream_lookup};
	srv_upstream = start_server(&cfg);
	snprintf(up, sizeof(up), "127.0.0.1#%u", dns_server_port(srv_upstream));
	snprintf(dead, sizeof(dead), "127.0.0.1#%u", udp_port(NULL));
	snprintf(hole, sizeof(hole), "127.0.0.1#%u", udp_port(&hole_fd));

	const char *main_up[] = {up};
	cfg = (struct dns_server_config){.address = "127.0.0.1",
					 .tcp = true,
					 .lookup = main_lookup,
					 .upstreams = main_up,
					 .n_upstreams = 1};
	srv_main = start_server(&cfg);
	assert_int_equal(dns_server_upstream_count(srv_main), 1);

	const char *dead_up[] = {dead};
	cfg.tcp = false;
	cfg.upstreams = dead_up;
	srv_dead = start_server(&cfg);

	/* The black hole takes datagrams and never answers: the timeout fires. */
	const char *hole_up[] = {hole};
	cfg.upstreams = hole_up;
	cfg.forward_timeout_ms = 300;
	cfg.max_pending = 2;
	srv_hole = start_server(&cfg);

	cfg = (struct dns_server_config){.address = "127.0.0.1", .lookup = main_lookup};
	srv_noup = start_server(&cfg);
	assert_int_equal(dns_server_upstream_count(srv_noup), 0);

	/* resolv.conf: a dead resolver first, then the live one. */
	snprintf(resolv_path, sizeof(resolv_path), "/tmp/test-dns-resolv-XXXXXX");
	_cleanup_close_ int fd = mkstemp(resolv_path);
	assert_true(fd >= 0);
	dprintf(fd, "nameserver %s\nnameserver %s\n", dead, up);
	cfg.resolv_conf = resolv_path;
	srv_resolv = start_server(&cfg);
	assert_int_equal(dns_server_upstream_count(srv_resolv), 2);

	loop_start();
	return 0;
}

static int servers_teardown(void **state)
{
	loop_stop();
	dns_server_free(srv_main);
	dns_server_free(srv_upstream);
	dns_server_free(srv_dead);
	dns_server_free(srv_hole);
	dns_server_free(srv_noup);
	dns_server_free(srv_resolv);
	ct_loop_unwatch(loop, quit_watch);
	ct_loop_free(loop);
	close(quit_fd);
	close(hole_fd);
	unlink(resolv_path);
	return 0;
}

/* Raw clients */

static int udp_client(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Receives the reply with the given id within timeout_ms, skipping others. */
static ssize_t udp_recv_id(int fd, uint16_t id, uint8_t *buf, size_t size, int timeout_ms)
{
	uint64_t deadline = ct_now_monotonic_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = ct_now_monotonic_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return -1;
		ssize_t n = recv(fd, buf, size, 0);
		if (n >= 2 && get16(buf) == id)
			return n;
	}
}

static ssize_t udp_query(uint16_t port, const char *name, uint16_t qtype, uint16_t edns,
			 uint16_t id, uint8_t *reply, size_t size)
{
	uint8_t p[512];
	_cleanup_close_ int fd = udp_client(port);
	ssize_t n = dns_build_query(id, name, qtype, edns, p, sizeof(p));

	assert_true(n > 0);
	assert_int_equal(send(fd, p, (size_t)n, 0), n);
	return udp_recv_id(fd, id, reply, size, 5000);
}

static int tcp_client(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 5};

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool read_full(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static ssize_t tcp_read_msg(int fd, uint8_t *buf, size_t size)
{
	uint8_t lenb[2];

	if (!read_full(fd, lenb, 2) || get16(lenb) > size || !read_full(fd, buf, get16(lenb)))
		return -1;
	return get16(lenb);
}

/* dig, when installed */

static char *dig(uint16_t port, const char *args)
{
	char cmd[512], out[8192];
	size_t have = 0;

	snprintf(cmd, sizeof(cmd), "dig @127.0.0.1 -p %u +time=3 +tries=1 %s 2>&1", port, args);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	while (have < sizeof(out) - 1) {
		size_t n = fread(out + have, 1, sizeof(out) - 1 - have, f);
		if (n == 0)
			break;
		have += n;
	}
	out[have] = '\0';
	int status = pclose(f);
	if (status != 0)
		fail_msg("%s: status %d:\n%s", cmd, status, out);
	return xstrdup(out);
}

static bool have_dig(void)
{
	return system("command -v dig >/dev/null 2>&1") == 0;
}

static void test_server_dig(void **state)
{
	uint16_t port = dns_server_port(srv_main);

	if (!have_dig())
		skip();
	_cleanup_free_ char *a = dig(port, "web.test A +short");
	assert_string_equal(a, "10.88.0.5\n");
	_cleanup_free_ char *bare = dig(port, "WEB A +short");
	assert_string_equal(bare, "10.88.0.5\n");
	_cleanup_free_ char *aaaa = dig(port, "web.test AAAA +short");
	assert_string_equal(aaaa, "fd00::5\n");
	_cleanup_free_ char *nx = dig(port, "nobody.test A");
	if (!strstr(nx, "status: NXDOMAIN"))
		fail_msg("no NXDOMAIN in:\n%s", nx);
	if (!strstr(nx, "flags: qr aa rd ra"))
		fail_msg("flags are not qr aa rd ra in:\n%s", nx);
	/* The case of the question comes back as asked. */
	_cleanup_free_ char *mixed = dig(port, "WeB.TeSt A +noall +answer");
	if (!strstr(mixed, "WeB.TeSt.\t\t30\tIN\tA\t10.88.0.5"))
		fail_msg("no answer for WeB.TeSt. in:\n%s", mixed);
	/* Forwarded to the upstream instance. */
	_cleanup_free_ char *fwd = dig(port, "outside.example A +short");
	assert_string_equal(fwd, "192.0.2.7\n");
	/* 32 AAAA records: truncated over UDP without EDNS, dig retries over TCP. */
	_cleanup_free_ char *many = dig(port, "many.test AAAA +noedns +short");
	size_t lines = 0;
	for (const char *c = many; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 32);
	_cleanup_free_ char *tcp = dig(port, "web.test A +tcp +short");
	assert_string_equal(tcp, "10.88.0.5\n");
}

static void test_server_udp_answers(void **state)
{
	uint8_t r[DNS_UDP_MAX];
	uint16_t port = dns_server_port(srv_main);
	ssize_t n;

	n = udp_query(port, "Web.Test", DNS_TYPE_A, 0, 0x1111, r, sizeof(r));
	assert_int_equal(n, 12 + 14 + 16);
	assert_int_equal(get16(r + 2),
			 DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD | DNS_FLAG_RA | DNS_RCODE_NOERROR);
	assert_int_equal(get16(r + 6), 1);
	assert_memory_equal(r + 12, "\3Web\4Test\0", 10);
	assert_int_equal(get16(r + 26), 0xc00c);
	assert_int_equal(get32(r + 32), 30);
	assert_memory_equal(r + 38, "\x0a\x58\x00\x05", 4);

	n = udp_query(port, "web", DNS_TYPE_AAAA, 1232, 0x2222, r, sizeof(r));
	assert_int_equal(n, 12 + 9 + 28 + 11);
	assert_int_equal(get16(r + 6), 1);
	assert_int_equal(get16(r + 21 + 2), DNS_TYPE_AAAA);

	n = udp_query(port, "nobody.test", DNS_TYPE_A, 0, 0x3333, r, sizeof(r));
	assert_true(n > 12);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_NXDOMAIN);
	assert_int_equal(get16(r + 6), 0);

	/* Truncated without EDNS, whole with it. */
	n = udp_query(port, "many.test", DNS_TYPE_AAAA, 0, 0x4444, r, sizeof(r));
	assert_true(n > 12);
	assert_true(get16(r + 2) & DNS_FLAG_TC);
	assert_int_equal(get16(r + 6), 0);
	n = udp_query(port, "many.test", DNS_TYPE_AAAA, 4096, 0x4445, r, sizeof(r));
	assert_int_equal(get16(r + 2) & DNS_FLAG_TC, 0);
	assert_int_equal(get16(r + 6), 32);

	/* Forwarded: the client's id comes back, with the upstream's answer. */
	n = udp_query(port, "outside.example", DNS_TYPE_A, 0, 0xbeef, r, sizeof(r));
	assert_int_equal(n, 12 + 21 + 16);
	assert_int_equal(get16(r), 0xbeef);
	assert_int_equal(get16(r + 6), 1);
	assert_memory_equal(r + n - 4, "\xc0\x00\x02\x07", 4);
	n = udp_query(port, "elsewhere.example", DNS_TYPE_A, 0, 0xbef0, r, sizeof(r));
	assert_true(n >= 12);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_NXDOMAIN);

	/* No upstream: REFUSED for what isn't ours; ours still answered. */
	n = udp_query(dns_server_port(srv_noup), "outside.example", DNS_TYPE_A, 0, 5, r, sizeof(r));
	assert_true(n >= 12);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_REFUSED);
	assert_int_equal(get16(r + 2) & DNS_FLAG_RA, 0);
	n = udp_query(dns_server_port(srv_noup), "web.test", DNS_TYPE_A, 0, 6, r, sizeof(r));
	assert_int_equal(get16(r + 6), 1);
}

static void test_server_forward_failures(void **state)
{
	uint8_t r[DNS_UDP_MAX];
	ssize_t n;

	/* The upstream is a closed port: ICMP refuses at once, SERVFAIL. */
	n = udp_query(dns_server_port(srv_dead), "outside.example", DNS_TYPE_A, 0, 0x5151, r,
		      sizeof(r));
	assert_int_equal(n, 12 + 21);
	assert_int_equal(get16(r), 0x5151);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_SERVFAIL);

	/* The upstream never answers: SERVFAIL after the timeout. */
	n = udp_query(dns_server_port(srv_hole), "outside.example", DNS_TYPE_A, 0, 0x5252, r,
		      sizeof(r));
	assert_int_equal(n, 12 + 21);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_SERVFAIL);

	/* resolv.conf: the first resolver is dead, the second answers. */
	n = udp_query(dns_server_port(srv_resolv), "outside.example", DNS_TYPE_A, 0, 0x5353, r,
		      sizeof(r));
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_NOERROR);
	assert_int_equal(get16(r + 6), 1);

	/* A full pending table (2 slots here): the rest get SERVFAIL at once, and
	 * every query gets an answer. */
	_cleanup_close_ int fd = udp_client(dns_server_port(srv_hole));
	uint8_t p[512];
	for (uint16_t id = 100; id < 106; id++) {
		ssize_t len = dns_build_query(id, "outside.example", DNS_TYPE_A, 0, p, sizeof(p));
		assert_int_equal(send(fd, p, (size_t)len, 0), len);
	}
	/* The immediate SERVFAILs come before the two that time out. */
	unsigned seen = 0;
	for (int i = 0; i < 6; i++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		n = recv(fd, r, sizeof(r), 0);
		assert_true(n >= 12);
		assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_SERVFAIL);
		assert_in_range(get16(r), 100, 105);
		seen |= 1u << (get16(r) - 100);
	}
	assert_int_equal(seen, 0x3f);

	loop_stop();
	struct dns_server_stats st;
	dns_server_get_stats(srv_hole, &st);
	assert_true(st.pending_full >= 4);
	assert_int_equal(st.forward_failures, 3);
	dns_server_get_stats(srv_dead, &st);
	assert_int_equal(st.forward_failures, 1);
	dns_server_get_stats(srv_resolv, &st);
	assert_int_equal(st.forward_replies, 1);
	assert_int_equal(st.forward_failures, 0);
	loop_start();
}

static void test_server_tcp(void **state)
{
	uint8_t p[1024], r[DNS_TCP_MAX];
	uint16_t port = dns_server_port(srv_main);
	_cleanup_close_ int fd = tcp_client(port);
	ssize_t n, a, b;

	/* Two queries in one write: two replies, in order, the second forwarded. */
	a = dns_build_query(0x0a0a, "many.test", DNS_TYPE_AAAA, 0, p + 2, 500);
	put16(p, (uint16_t)a);
	b = dns_build_query(0x0b0b, "outside.example", DNS_TYPE_A, 0, p + 4 + a, 500);
	put16(p + 2 + a, (uint16_t)b);
	assert_int_equal(write(fd, p, (size_t)(a + b + 4)), a + b + 4);
	n = tcp_read_msg(fd, r, sizeof(r));
	assert_int_equal(n, 12 + 15 + 32 * 28);
	assert_int_equal(get16(r), 0x0a0a);
	assert_int_equal(get16(r + 2) & DNS_FLAG_TC, 0);
	assert_int_equal(get16(r + 6), 32);
	n = tcp_read_msg(fd, r, sizeof(r));
	assert_true(n > 12);
	assert_int_equal(get16(r), 0x0b0b);
	assert_int_equal(get16(r + 6), 1);

	/* A query split over several writes. */
	a = dns_build_query(0x0c0c, "web.test", DNS_TYPE_A, 0, p + 2, 500);
	put16(p, (uint16_t)a);
	for (ssize_t i = 0; i < a + 2; i++) {
		assert_int_equal(write(fd, p + i, 1), 1);
		usleep(1000);
	}
	n = tcp_read_msg(fd, r, sizeof(r));
	assert_int_equal(n, 12 + 14 + 16);
	assert_int_equal(get16(r), 0x0c0c);

	/* Garbage in a frame: FORMERR (a header's worth) or nothing, and the
	 * connection keeps working. */
	memset(p + 2, 0x00, 20);
	put16(p, 20);
	assert_int_equal(write(fd, p, 22), 22);
	n = tcp_read_msg(fd, r, sizeof(r));
	assert_true(n >= 12);
	assert_int_equal(get16(r + 2) & 0xf, DNS_RCODE_FORMERR);

	/* A frame longer than any query: the connection is closed. */
	put16(p, 60000);
	assert_int_equal(write(fd, p, 2), 2);
	assert_int_equal(read(fd, r, 1), 0);
}

static void test_server_garbage(void **state)
{
	uint16_t port = dns_server_port(srv_main);
	_cleanup_close_ int fd = udp_client(port);
	uint8_t p[700], r[DNS_UDP_MAX];
	uint32_t seed = 12345;
	struct dns_server_stats before, after;

	loop_stop();
	dns_server_get_stats(srv_main, &before);
	loop_start();

	for (int i = 0; i < 1000; i++) {
		size_t len = (size_t)(i % 600);
		for (size_t k = 0; k < len; k++) {
			seed = seed * 1103515245 + 12345;
			p[k] = (uint8_t)(seed >> 16);
		}
		/* Every fourth one looks like a query header with one question, so the
		 * name and record parsers see garbage too. */
		if (i % 4 == 0 && len >= 12) {
			header(p, (uint16_t)i, 0, 1, 0, 0, (uint16_t)(i % 3));
			if (i % 8 == 0)
				p[2] = 0x80; /* a response */
		}
		/* The server answers FORMERR or drops. Read what came back, so our own
		 * socket buffer has room for the answer we wait for at the end, and pace
		 * ourselves so the server's buffer doesn't overflow either. */
		assert_int_equal(send(fd, p, len, 0), (ssize_t)len);
		while (recv(fd, r, sizeof(r), MSG_DONTWAIT) > 0)
			;
		if (i % 50 == 0)
			usleep(2000);
	}
	/* Like any client, retry a lost datagram. */
	ssize_t n = -1;
	for (int attempt = 0; attempt < 3 && n < 0; attempt++) {
		n = dns_build_query(0x7777, "web.test", DNS_TYPE_A, 0, p, sizeof(p));
		assert_int_equal(send(fd, p, (size_t)n, 0), n);
		n = udp_recv_id(fd, 0x7777, r, sizeof(r), 2000);
	}
	assert_int_equal(n, 12 + 14 + 16);
	assert_memory_equal(r + 38, "\x0a\x58\x00\x05", 4);

	loop_stop();
	dns_server_get_stats(srv_main, &after);
	loop_start();
	assert_true(after.malformed - before.malformed >= 500);
	assert_true(after.answered > before.answered);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_query_bytes),
	    cmocka_unit_test(test_parse_good_query),
	    cmocka_unit_test(test_parse_edns),
	    cmocka_unit_test(test_parse_escaped_name),
	    cmocka_unit_test(test_parse_512_plus),
	    cmocka_unit_test(test_parse_malformed_header),
	    cmocka_unit_test(test_parse_malformed_names),
	    cmocka_unit_test(test_parse_name_lengths),
	    cmocka_unit_test(test_parse_pointer_chains),
	    cmocka_unit_test(test_parse_malformed_records),
	    cmocka_unit_test(test_parse_type_and_class),
	    cmocka_unit_test(test_response_a),
	    cmocka_unit_test(test_response_aaaa_any_nodata),
	    cmocka_unit_test(test_response_errors),
	    cmocka_unit_test(test_response_truncated),
	    cmocka_unit_test(test_name_matches_host),
	    cmocka_unit_test(test_resolv_conf),
	    cmocka_unit_test(test_parse_address),
	    cmocka_unit_test(test_server_udp_answers),
	    cmocka_unit_test(test_server_dig),
	    cmocka_unit_test(test_server_forward_failures),
	    cmocka_unit_test(test_server_tcp),
	    cmocka_unit_test(test_server_garbage),
	};
	/* The servers started by the group setup serve the test_server_* tests. */
	return cmocka_run_group_tests_name("dns", tests, servers_setup, servers_teardown);
}
