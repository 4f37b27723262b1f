/* libFuzzer target for the DNS codec (src/lib/dns/dns_codec.c): every input is
 * parsed as a query; whatever parses is answered with each kind of reply into
 * buffers of every interesting size, and the invariants a server relies on are
 * checked (a reply fits its buffer and answers the query; names stay within their
 * limits and survive a round trip through dns_build_query).
 *
 * Build and run from the top of the tree (the codec needs libc only):
 *
 *   mkdir -p build-fuzz/corpus-dns
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -I src/lib -I src/lib/dns \
 *         tests/fuzz/fuzz_dns.c src/lib/dns/dns_codec.c -o build-fuzz/fuzz_dns
 *   build-fuzz/fuzz_dns -max_total_time=60 -max_len=4096 build-fuzz/corpus-dns
 *
 * FUZZ_DNS_SEEDS=DIR build-fuzz/fuzz_dns -runs=0 writes a few valid queries into
 * DIR to start a corpus from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void write_seeds(const char *dir)
{
	static const struct {
		const char *name;
		uint16_t qtype, edns;
	} seeds[] = {
	    {"web.test", DNS_TYPE_A, 0},	 {"WeB.TeSt.", DNS_TYPE_AAAA, 1232},
	    {"many.test", DNS_TYPE_ANY, 4096},	 {".", DNS_TYPE_NS, 512},
	    {"outside.example", DNS_TYPE_MX, 0},
	};
	uint8_t buf[512];

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		ssize_t n = dns_build_query((uint16_t)i, seeds[i].name, seeds[i].qtype,
					    seeds[i].edns, buf, sizeof(buf));
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || n < 0 || fwrite(buf, 1, (size_t)n, f) != (size_t)n)
			perror(path);
		if (f)
			fclose(f);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_DNS_SEEDS");

	(void)argc;
	(void)argv;
	if (dir)
		write_seeds(dir);
	return 0;
}

static void check_name(const struct dns_query *q)
{
	CHECK(q->qname_len >= 1 && q->qname_len <= DNS_NAME_WIRE_MAX);
	CHECK(q->qname[q->qname_len - 1] == 0);
	CHECK(strlen(q->name) < DNS_NAME_TEXT_MAX);
	for (const char *c = q->name; *c; c++)
		CHECK(!(*c >= 'A' && *c <= 'Z'));

	/* A name without escapes goes back to the same wire name (ignoring case). */
	if (strchr(q->name, '\\'))
		return;
	uint8_t buf[DNS_HEADER_SIZE + DNS_NAME_WIRE_MAX + 4];
	struct dns_query again;
	ssize_t n = dns_build_query(q->id, q->name, q->qtype, 0, buf, sizeof(buf));
	CHECK(n == (ssize_t)(DNS_HEADER_SIZE + q->qname_len + 4));
	int rc = dns_parse_query(buf, (size_t)n, &again, NULL);
	CHECK(again.has_question);
	CHECK(strcmp(again.name, q->name) == 0);
	CHECK(again.qname_len == q->qname_len);
	(void)rc;
}

static void check_replies(const struct dns_query *q, int rc, const uint8_t *data, size_t size)
{
	static const int rcodes[] = {DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN, DNS_RCODE_SERVFAIL,
				     DNS_RCODE_REFUSED, DNS_RCODE_FORMERR,  DNS_RCODE_BADVERS};
	uint8_t out[DNS_UDP_MAX + 16];
	struct dns_answer ans = {.ttl = 60};
	size_t limit = dns_query_udp_limit(q);

	CHECK(limit >= DNS_UDP_CLASSIC && limit <= DNS_UDP_MAX);
	/* The input decides how many records and the buffer sizes tried. */
	size_t n_records = size ? data[size - 1] % (DNS_ANSWER_MAX + 1) : 0;
	for (size_t i = 0; i < n_records; i++) {
		uint8_t addr[16] = {10, 0, 0, (uint8_t)i};
		dns_answer_add(&ans, AF_INET, addr);
		dns_answer_add(&ans, AF_INET6, addr);
	}
	size_t sizes[] = {
	    0, 11, DNS_HEADER_SIZE, DNS_HEADER_SIZE + q->qname_len + 4, size % sizeof(out), limit};
	for (size_t r = 0; r < sizeof(rcodes) / sizeof(rcodes[0]); r++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			/* A canary past the limit: nothing may be written there (ASan
			 * can't tell, the array goes on). */
			memset(out + sizes[s], 0xee, 16);
			ssize_t n = dns_build_response(q, rcodes[r], &ans, DNS_BUILD_RECURSION, out,
						       sizes[s]);
			for (size_t k = sizes[s]; k < sizes[s] + 16; k++)
				CHECK(out[k] == 0xee);
			if (n < 0)
				continue;
			CHECK((size_t)n >= DNS_HEADER_SIZE && (size_t)n <= sizes[s]);
			CHECK((out[0] << 8 | out[1]) == q->id);
			CHECK(out[2] & 0x80);
			if (q->has_question && rc == DNS_PARSE_OK)
				CHECK(dns_reply_matches(out, (size_t)n, q->id, q));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	const char *why = NULL;
	int rc = dns_parse_query(data, size, &q, &why);

	CHECK(rc == DNS_PARSE_OK || why != NULL);
	if (rc == DNS_PARSE_DROP) {
		/* Nothing to reply to: too short or a response. */
		CHECK(size < DNS_HEADER_SIZE || (data[2] & 0x80));
		return 0;
	}
	CHECK(rc == DNS_PARSE_OK || rc == DNS_RCODE_FORMERR || rc == DNS_RCODE_NOTIMP ||
	      rc == DNS_RCODE_REFUSED || rc == DNS_RCODE_BADVERS);
	if (q.has_question)
		check_name(&q);
	check_replies(&q, rc, data, size);

	/* The upstream-reply checker on the same bytes, and the host matcher. */
	(void)dns_reply_matches(data, size, q.id, &q);
	(void)dns_name_matches_host(q.name, "web", "test");
	(void)dns_name_matches_host(q.name, q.name, NULL);
	return 0;
}
