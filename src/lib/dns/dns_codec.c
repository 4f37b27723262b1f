/* The DNS codec: parsing queries strictly and building their replies. Every read
 * goes through struct reader, which checks the bounds; nothing here allocates. */
#include "dns.h"

#include <string.h>

/* Pointer chains longer than this are refused even when each hop goes backwards
 * (which alone already rules out loops): a name has at most 127 labels, and real
 * encoders never chain more than a few pointers. */
#define NAME_MAX_POINTER_HOPS 32

struct reader {
	const uint8_t *pkt;
	size_t len;
	size_t off;
};

static bool read_u16(struct reader *r, uint16_t *v)
{
	if (r->len - r->off < 2)
		return false;
	*v = (uint16_t)(r->pkt[r->off] << 8 | r->pkt[r->off + 1]);
	r->off += 2;
	return true;
}

static bool read_u32(struct reader *r, uint32_t *v)
{
	if (r->len - r->off < 4)
		return false;
	*v = (uint32_t)r->pkt[r->off] << 24 | (uint32_t)r->pkt[r->off + 1] << 16 |
	     (uint32_t)r->pkt[r->off + 2] << 8 | r->pkt[r->off + 3];
	r->off += 4;
	return true;
}

static bool skip_bytes(struct reader *r, size_t n)
{
	if (r->len - r->off < n)
		return false;
	r->off += n;
	return true;
}

/* Reads the name at r->off into wire (uncompressed, at most DNS_NAME_WIRE_MAX bytes)
 * and leaves r->off after the name's bytes at that place (after the first pointer
 * when it is compressed). A pointer must point to a name that starts after the
 * header and before the label sequence that holds the pointer, so every jump goes
 * strictly backwards and a chain ends. */
static const char *read_name(struct reader *r, uint8_t *wire, size_t *wire_len)
{
	size_t pos = r->off, run_start = r->off, end = 0, wl = 0;
	unsigned hops = 0;
	bool jumped = false;

	for (;;) {
		if (pos >= r->len)
			return "name runs past the end of the message";
		uint8_t c = r->pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= r->len)
				return "compression pointer runs past the end of the message";
			size_t target = (size_t)(c & 0x3f) << 8 | r->pkt[pos + 1];
			if (target >= run_start)
				return "compression pointer does not point backwards";
			if (target < DNS_HEADER_SIZE)
				return "compression pointer into the header";
			if (++hops > NAME_MAX_POINTER_HOPS)
				return "too many compression pointers";
			if (!jumped)
				end = pos + 2;
			jumped = true;
			pos = run_start = target;
			continue;
		}
		if (c & 0xc0)
			return "unsupported label type";
		if (c == 0) {
			/* Room for it was kept by the length check below. */
			wire[wl++] = 0;
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (r->len - pos - 1 < c)
			return "label runs past the end of the message";
		/* The root label that ends the name needs its own byte of the 255. */
		if (wl + 1 + c + 1 > DNS_NAME_WIRE_MAX)
			return "name longer than 255 bytes";
		memcpy(wire + wl, r->pkt + pos, 1 + (size_t)c);
		wl += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
	*wire_len = wl;
	r->off = end;
	return NULL;
}

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Presentation form of a wire name, lowercased, without the trailing dot. The
 * output always fits: 4 characters per byte at most (see DNS_NAME_TEXT_MAX). */
static void name_to_text(const uint8_t *wire, size_t wire_len, char *out, size_t size)
{
	size_t o = 0, i = 0;

	while (i < wire_len && wire[i] != 0) {
		size_t n = wire[i++];
		if (o && o + 1 < size)
			out[o++] = '.';
		for (size_t k = 0; k < n && i < wire_len; k++, i++) {
			uint8_t c = ascii_lower(wire[i]);
			if (o + 5 > size)
				break;
			if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c <= 0x20 || c >= 0x7f) {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			} else {
				out[o++] = (char)c;
			}
		}
	}
	out[o < size ? o : size - 1] = '\0';
}

static bool wire_names_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	/* Length bytes are at most 63, below 'A', so lowering every byte is safe. */
	for (size_t i = 0; i < a_len; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

/* One resource record of the additional section; an OPT record sets EDNS0. */
static int read_additional(struct reader *r, struct dns_query *q, const char **why)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wire_len;
	uint16_t type, class, rdlen;
	uint32_t ttl;

	*why = read_name(r, wire, &wire_len);
	if (*why)
		return DNS_RCODE_FORMERR;
	if (!read_u16(r, &type) || !read_u16(r, &class) || !read_u32(r, &ttl) ||
	    !read_u16(r, &rdlen)) {
		*why = "resource record header runs past the end of the message";
		return DNS_RCODE_FORMERR;
	}
	if (r->len - r->off < rdlen) {
		*why = "resource record data runs past the end of the message";
		return DNS_RCODE_FORMERR;
	}
	if (type != DNS_TYPE_OPT) {
		/* TSIG and the like: bounds-checked, otherwise ignored. */
		r->off += rdlen;
		return DNS_PARSE_OK;
	}
	/* RFC 6891 6.1.1: one OPT record, owned by the root. */
	if (q->has_edns) {
		*why = "more than one OPT record";
		return DNS_RCODE_FORMERR;
	}
	if (wire_len != 1) {
		*why = "OPT record not owned by the root";
		return DNS_RCODE_FORMERR;
	}
	struct reader opts = {.pkt = r->pkt, .len = r->off + rdlen, .off = r->off};
	while (opts.off < opts.len) {
		uint16_t code, olen;
		if (!read_u16(&opts, &code) || !read_u16(&opts, &olen) ||
		    !skip_bytes(&opts, olen)) {
			*why = "EDNS option runs past the end of the OPT record";
			return DNS_RCODE_FORMERR;
		}
	}
	r->off += rdlen;
	q->has_edns = true;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_udp_size = class < DNS_UDP_CLASSIC ? DNS_UDP_CLASSIC : class;
	return DNS_PARSE_OK;
}

int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q, const char **why)
{
	struct reader r = {.pkt = pkt, .len = len, .off = 0};
	uint16_t qdcount, ancount, nscount, arcount;
	const char *dummy;
	int rc;

	if (!why)
		why = &dummy;
	*why = NULL;
	memset(q, 0, sizeof(*q));
	q->edns_udp_size = DNS_UDP_CLASSIC;

	if (!pkt || !read_u16(&r, &q->id) || !read_u16(&r, &q->flags) || !read_u16(&r, &qdcount) ||
	    !read_u16(&r, &ancount) || !read_u16(&r, &nscount) || !read_u16(&r, &arcount)) {
		*why = "shorter than a DNS header";
		return DNS_PARSE_DROP;
	}
	/* Never answer a response: two servers would bounce errors forever, and a
	 * spoofed one would make us a reflector. */
	if (q->flags & DNS_FLAG_QR) {
		*why = "a response, not a query";
		return DNS_PARSE_DROP;
	}
	if (DNS_OPCODE(q->flags) != DNS_OPCODE_QUERY) {
		*why = "opcode other than QUERY";
		return DNS_RCODE_NOTIMP;
	}
	if (qdcount != 1) {
		*why = qdcount ? "more than one question" : "no question";
		return DNS_RCODE_FORMERR;
	}
	if (ancount || nscount) {
		*why = "a query with answer or authority records";
		return DNS_RCODE_FORMERR;
	}
	*why = read_name(&r, q->qname, &q->qname_len);
	if (*why)
		return DNS_RCODE_FORMERR;
	if (!read_u16(&r, &q->qtype) || !read_u16(&r, &q->qclass)) {
		*why = "question type and class run past the end of the message";
		return DNS_RCODE_FORMERR;
	}
	name_to_text(q->qname, q->qname_len, q->name, sizeof(q->name));
	q->has_question = true;

	for (unsigned i = 0; i < arcount; i++) {
		rc = read_additional(&r, q, why);
		if (rc != DNS_PARSE_OK)
			return rc;
	}
	if (r.off != r.len) {
		*why = "trailing bytes after the last record";
		return DNS_RCODE_FORMERR;
	}
	if (q->has_edns && q->edns_version != 0) {
		*why = "EDNS version other than 0";
		return DNS_RCODE_BADVERS;
	}
	if (q->qtype == 0 || q->qtype == DNS_TYPE_OPT) {
		*why = "question type 0 or OPT";
		return DNS_RCODE_FORMERR;
	}
	if (q->qtype >= DNS_TYPE_IXFR && q->qtype <= DNS_TYPE_MAILA) {
		*why = "zone transfers and mailbox queries are not served";
		return DNS_RCODE_NOTIMP;
	}
	if (q->qclass != DNS_CLASS_IN) {
		*why = "class other than IN";
		return DNS_RCODE_REFUSED;
	}
	return DNS_PARSE_OK;
}

size_t dns_query_udp_limit(const struct dns_query *q)
{
	if (!q->has_edns || q->edns_udp_size < DNS_UDP_CLASSIC)
		return DNS_UDP_CLASSIC;
	return q->edns_udp_size > DNS_UDP_MAX ? DNS_UDP_MAX : q->edns_udp_size;
}

bool dns_answer_add(struct dns_answer *ans, int family, const void *addr)
{
	if (family == AF_INET && ans->n_a < DNS_ANSWER_MAX) {
		memcpy(&ans->a[ans->n_a++], addr, sizeof(struct in_addr));
		return true;
	}
	if (family == AF_INET6 && ans->n_aaaa < DNS_ANSWER_MAX) {
		memcpy(&ans->aaaa[ans->n_aaaa++], addr, sizeof(struct in6_addr));
		return true;
	}
	return false;
}

struct writer {
	uint8_t *buf;
	size_t size;
	size_t off;
	bool overflow;
};

static void put_bytes(struct writer *w, const void *p, size_t n)
{
	if (w->overflow || w->size - w->off < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->off, p, n);
	w->off += n;
}

static void put_u16(struct writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put_bytes(w, b, sizeof(b));
}

static void put_u32(struct writer *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	put_bytes(w, b, sizeof(b));
}

static void put_header(struct writer *w, const struct dns_query *q, uint16_t flags, uint16_t qd,
		       uint16_t an, uint16_t ar)
{
	put_u16(w, q->id);
	put_u16(w, flags);
	put_u16(w, qd);
	put_u16(w, an);
	put_u16(w, 0);
	put_u16(w, ar);
}

static void put_question(struct writer *w, const struct dns_query *q)
{
	put_bytes(w, q->qname, q->qname_len);
	put_u16(w, q->qtype);
	put_u16(w, q->qclass);
}

/* Our OPT record: root owner, our UDP size, the upper bits of the rcode, version
 * 0, no DO bit (we don't do DNSSEC), no options. */
static void put_opt(struct writer *w, int rcode)
{
	put_bytes(w, "", 1);
	put_u16(w, DNS_TYPE_OPT);
	put_u16(w, DNS_EDNS_UDP_SIZE);
	put_u32(w, (uint32_t)((rcode >> 4) & 0xff) << 24);
	put_u16(w, 0);
}

/* The answer records are named by a pointer to the question name at offset 12. */
static void put_records(struct writer *w, const struct dns_query *q, const struct dns_answer *ans,
			uint16_t *count)
{
	bool want_a = q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_ANY;
	bool want_aaaa = q->qtype == DNS_TYPE_AAAA || q->qtype == DNS_TYPE_ANY;

	*count = 0;
	if (!ans)
		return;
	for (size_t i = 0; want_a && i < ans->n_a && i < DNS_ANSWER_MAX; i++) {
		put_u16(w, 0xc000 | DNS_HEADER_SIZE);
		put_u16(w, DNS_TYPE_A);
		put_u16(w, DNS_CLASS_IN);
		put_u32(w, ans->ttl);
		put_u16(w, sizeof(struct in_addr));
		put_bytes(w, &ans->a[i], sizeof(struct in_addr));
		(*count)++;
	}
	for (size_t i = 0; want_aaaa && i < ans->n_aaaa && i < DNS_ANSWER_MAX; i++) {
		put_u16(w, 0xc000 | DNS_HEADER_SIZE);
		put_u16(w, DNS_TYPE_AAAA);
		put_u16(w, DNS_CLASS_IN);
		put_u32(w, ans->ttl);
		put_u16(w, sizeof(struct in6_addr));
		put_bytes(w, &ans->aaaa[i], sizeof(struct in6_addr));
		(*count)++;
	}
}

ssize_t dns_build_response(const struct dns_query *q, int rcode, const struct dns_answer *ans,
			   unsigned flags, uint8_t *buf, size_t size)
{
	struct writer w = {.buf = buf, .size = size};
	uint16_t hflags, an = 0;
	bool question = q->has_question && q->qname_len > 0;

	/* Extended rcodes need the OPT record; without one, say FORMERR. */
	if (rcode > 0xf && !q->has_edns)
		rcode = DNS_RCODE_FORMERR;
	hflags = DNS_FLAG_QR | (q->flags & (0xf << 11)) | (q->flags & (DNS_FLAG_RD | DNS_FLAG_CD)) |
		 (rcode & 0xf);
	if (flags & DNS_BUILD_AUTHORITATIVE)
		hflags |= DNS_FLAG_AA;
	if (flags & DNS_BUILD_RECURSION)
		hflags |= DNS_FLAG_RA;

	/* Answers only make sense for a question we could read. */
	put_header(&w, q, hflags, question, 0, q->has_edns);
	if (question)
		put_question(&w, q);
	if (w.overflow)
		return -1;
	size_t records_at = w.off;
	if (question && rcode == DNS_RCODE_NOERROR)
		put_records(&w, q, ans, &an);
	if (q->has_edns)
		put_opt(&w, rcode);
	if (w.overflow && an > 0) {
		/* RFC 2181 9: if the whole RRset doesn't fit, send none of it with TC. */
		w.overflow = false;
		w.off = records_at;
		an = 0;
		hflags |= DNS_FLAG_TC;
		buf[2] = (uint8_t)(hflags >> 8);
		buf[3] = (uint8_t)hflags;
		if (q->has_edns)
			put_opt(&w, rcode);
	}
	if (w.overflow)
		return -1;
	buf[6] = (uint8_t)(an >> 8);
	buf[7] = (uint8_t)an;
	return (ssize_t)w.off;
}

ssize_t dns_build_query(uint16_t id, const char *name, uint16_t qtype, uint16_t edns_udp_size,
			uint8_t *buf, size_t size)
{
	struct writer w = {.buf = buf, .size = size};
	size_t wire_len = 0;
	const char *p = name;

	put_u16(&w, id);
	put_u16(&w, DNS_FLAG_RD);
	put_u16(&w, 1);
	put_u16(&w, 0);
	put_u16(&w, 0);
	put_u16(&w, edns_udp_size ? 1 : 0);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		/* Empty labels are invalid, except the whole name being "." */
		if (n == 0 && !(p == name && dot && dot[1] == '\0'))
			return -1;
		if (n > DNS_LABEL_MAX || wire_len + 1 + n + 1 > DNS_NAME_WIRE_MAX)
			return -1;
		if (n) {
			uint8_t len = (uint8_t)n;
			put_bytes(&w, &len, 1);
			put_bytes(&w, p, n);
			wire_len += 1 + n;
		}
		if (!dot)
			break;
		p = dot + 1;
	}
	put_bytes(&w, "", 1);
	put_u16(&w, qtype);
	put_u16(&w, DNS_CLASS_IN);
	if (edns_udp_size) {
		put_bytes(&w, "", 1);
		put_u16(&w, DNS_TYPE_OPT);
		put_u16(&w, edns_udp_size);
		put_u32(&w, 0);
		put_u16(&w, 0);
	}
	return w.overflow ? -1 : (ssize_t)w.off;
}

bool dns_reply_matches(const uint8_t *pkt, size_t len, uint16_t upstream_id,
		       const struct dns_query *q)
{
	struct reader r = {.pkt = pkt, .len = len, .off = 0};
	uint16_t id, flags, qdcount, skip, qtype, qclass;
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wire_len;

	if (!read_u16(&r, &id) || !read_u16(&r, &flags) || !read_u16(&r, &qdcount) ||
	    !read_u16(&r, &skip) || !read_u16(&r, &skip) || !read_u16(&r, &skip))
		return false;
	if (id != upstream_id || !(flags & DNS_FLAG_QR) || qdcount != 1)
		return false;
	if (read_name(&r, wire, &wire_len) || !read_u16(&r, &qtype) || !read_u16(&r, &qclass))
		return false;
	return qtype == q->qtype && qclass == q->qclass &&
	       wire_names_equal(wire, wire_len, q->qname, q->qname_len);
}

/* Compares a prefix of name with s, ignoring a trailing dot of s and its case;
 * returns the length of name it matched, or 0. */
static size_t match_label_run(const char *name, const char *s)
{
	size_t n = strlen(s), i;

	if (n && s[n - 1] == '.')
		n--;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (name[i] == '\0' || name[i] != (char)ascii_lower((uint8_t)s[i]))
			return 0;
	return n;
}

bool dns_name_matches_host(const char *name, const char *host, const char *domain)
{
	size_t n = match_label_run(name, host);

	if (n == 0)
		return false;
	if (name[n] == '\0')
		return true;
	if (name[n] != '.' || !domain)
		return false;
	size_t d = match_label_run(name + n + 1, domain);
	return d > 0 && name[n + 1 + d] == '\0';
}
