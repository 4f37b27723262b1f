#include "publish.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

/* "80" or "8000-8010": first and count. */
static int parse_range(const char *text, const char *what, const char *whole, bool allow_zero,
		       unsigned *first, unsigned *count, struct ct_error *err)
{
	char *end = NULL;
	unsigned long a, b;

	if (!*text || text[0] < '0' || text[0] > '9')
		goto bad;
	a = strtoul(text, &end, 10);
	b = a;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			goto bad;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end)
		goto bad;
	/* Host port 0: a free one, chosen at start. */
	if (allow_zero && a == 0 && b == 0) {
		*first = 0;
		*count = 1;
		return 0;
	}
	if (a < 1 || a > 65535 || b < 1 || b > 65535)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "-p %s: %s port %s is out of range (1 to 65535)", whole, what, text);
	if (b < a)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "-p %s: %s port range %s ends before it starts", whole, what, text);
	*first = a;
	*count = b - a + 1;
	return 0;
bad:
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "-p %s: %s port \"%s\" is not a port number or range like 8000-8010; "
			    "the form is [ip:][hostport:]containerport[/tcp|udp]",
			    whole, what, text);
}

int publish_parse(const char *text, struct publish_spec *out, struct ct_error *err)
{
	_cleanup_free_ char *copy = xstrdup(text);
	char *spec = copy, *proto = strrchr(copy, '/');

	memset(out, 0, sizeof(*out));
	snprintf(out->proto, sizeof(out->proto), "tcp");
	if (proto) {
		*proto++ = '\0';
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "-p %s: protocol \"%s\" is not supported (tcp or udp)",
					    text, proto);
		snprintf(out->proto, sizeof(out->proto), "%s", proto);
	}
	/* The host address: "[v6]:" or a v4 address before the second-last ':'. */
	char *rest = spec;
	if (spec[0] == '[') {
		char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "-p %s: an IPv6 host address goes in brackets followed "
					    "by ':', like [::1]:8080:80",
					    text);
		*close = '\0';
		snprintf(out->host_ip, sizeof(out->host_ip), "%s", spec + 1);
		rest = close + 2;
		struct in6_addr a6;
		if (inet_pton(AF_INET6, out->host_ip, &a6) != 1)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "-p %s: %s is not an IPv6 address", text, out->host_ip);
	} else {
		char *c1 = strchr(spec, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 && strchr(c2 + 1, ':'))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "-p %s: too many ':' (put an IPv6 address in brackets: "
					    "[::1]:8080:80)",
					    text);
		if (c2) {
			*c1 = '\0';
			snprintf(out->host_ip, sizeof(out->host_ip), "%s", spec);
			rest = c1 + 1;
			struct in_addr a4;
			if (inet_pton(AF_INET, out->host_ip, &a4) != 1)
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "-p %s: %s is not an IPv4 address", text,
						    out->host_ip);
		}
	}
	if (strcmp(out->host_ip, "0.0.0.0") == 0)
		out->host_ip[0] = '\0';

	char *colon = strchr(rest, ':');
	unsigned hcount = 0, ccount = 0;
	if (colon) {
		*colon = '\0';
		if (*rest && parse_range(rest, "host", text, true, &out->host_port, &hcount, err) < 0)
			return -1;
		rest = colon + 1;
	}
	if (parse_range(rest, "container", text, false, &out->container_port, &ccount, err) < 0)
		return -1;
	if (out->host_port == 0)
		hcount = 0;
	if (out->host_port && hcount != ccount)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "-p %s: the host range has %u ports and the container range %u; "
				    "they map one to one and must be the same length",
				    text, hcount, ccount);
	if (!out->host_port && ccount > 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "-p %s: a container port range needs a host port range of the "
				    "same length (like 8000-8010:80-90)",
				    text);
	out->count = ccount;
	return 0;
}

json_t *publish_to_json(const struct publish_spec *p)
{
	return json_pack("{s:s, s:s, s:i, s:i, s:i}", "proto", p->proto, "hostIp", p->host_ip,
			 "hostPort", (int)p->host_port, "containerPort", (int)p->container_port,
			 "count", (int)p->count);
}

int publish_collides(const struct publish_spec *a, const struct publish_spec *b)
{
	if (!a->host_port || !b->host_port || strcmp(a->proto, b->proto) != 0)
		return 0;
	if (a->host_ip[0] && b->host_ip[0] && strcmp(a->host_ip, b->host_ip) != 0)
		return 0;
	return a->host_port < b->host_port + b->count && b->host_port < a->host_port + a->count;
}
