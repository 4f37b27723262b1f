/* WWW-Authenticate parsing (RFC 7235 section 4.1, with the leniency real registries need).
 *
 *   WWW-Authenticate = 1#challenge
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * Commas separate both the parameters of one challenge and the challenges themselves, so
 * a name followed by something other than '=' starts the next challenge. Quoted strings
 * may hold commas, spaces and backslash escapes (scope="repository:a/b:pull,push").
 * Unquoted values are taken up to the next comma or space, which also accepts the
 * unquoted URLs some servers send as realm. */
#include "registry.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "util.h"

static bool is_tchar(char c)
{
	return c && (isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
	return c && (isalnum((unsigned char)c) || strchr("-._~+/", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *strndup_lower(const char *s, size_t len)
{
	char *d = xcalloc(1, len + 1);

	for (size_t i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	return d;
}

static int malformed(struct ct_error *err, const char *header, const char *p, const char *why)
{
	return ct_error_set(err, CT_ERR_PROTOCOL, 0,
			    "malformed WWW-Authenticate header \"%s\": %s at offset %zu", header,
			    why, (size_t)(p - header));
}

/* A quoted-string starting at *pp (on the opening quote): unescaped into a new string. */
static int parse_quoted(const char *header, const char **pp, char **out, struct ct_error *err)
{
	const char *p = *pp + 1;
	size_t len = 0;
	_cleanup_free_ char *value = xcalloc(1, strlen(p) + 1);

	for (;;) {
		if (*p == '\0')
			return malformed(err, header, p, "unterminated quoted string");
		if (*p == '"')
			break;
		if (*p == '\\') {
			p++;
			if (*p == '\0')
				return malformed(err, header, p, "unterminated quoted string");
		}
		value[len++] = *p++;
	}
	*pp = p + 1;
	*out = move_ptr(value);
	return 0;
}

static int challenge_rank(const struct registry_challenge *c)
{
	if (strcmp(c->scheme, "bearer") == 0)
		return 3;
	if (strcmp(c->scheme, "basic") == 0)
		return 2;
	return 1;
}

static void set_param(struct registry_challenge *c, const char *name, size_t name_len, char **value)
{
	static const struct {
		const char *name;
		size_t offset;
	} known[] = {
	    {"realm", offsetof(struct registry_challenge, realm)},
	    {"service", offsetof(struct registry_challenge, service)},
	    {"scope", offsetof(struct registry_challenge, scope)},
	    {"error", offsetof(struct registry_challenge, error)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		char **field = (char **)((char *)c + known[i].offset);

		if (strlen(known[i].name) == name_len &&
		    strncasecmp(known[i].name, name, name_len) == 0) {
			/* The first occurrence wins; a repeated parameter is a server bug. */
			if (!*field)
				*field = move_ptr(*value);
			return;
		}
	}
}

/* Parses the parameters of one challenge, from just after its scheme. Stops at the end of
 * the header or at the name of the next challenge (*pp left there). */
static int parse_params(const char *header, const char **pp, struct registry_challenge *c,
			struct ct_error *err)
{
	const char *p = skip_ws(*pp);
	const char *q = p;

	/* token68 (Basic's base64 blob and the like): a run of its characters, '=' padding,
	 * then the end of this challenge. It carries nothing we use. */
	while (is_token68_char(*q))
		q++;
	if (q > p) {
		const char *r = q;

		while (*r == '=')
			r++;
		r = skip_ws(r);
		if (*r == '\0' || *r == ',') {
			*pp = r;
			return 0;
		}
	}

	for (;;) {
		const char *name, *after;
		size_t name_len;
		_cleanup_free_ char *value = NULL;

		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		if (*p == '\0')
			break;
		name = p;
		while (is_tchar(*p))
			p++;
		if (p == name)
			return malformed(err, header, p, "expected a parameter name");
		name_len = p - name;
		after = skip_ws(p);
		if (*after != '=') {
			/* Not a parameter: the next challenge's scheme. */
			p = name;
			break;
		}
		p = skip_ws(after + 1);
		if (*p == '"') {
			if (parse_quoted(header, &p, &value, err) < 0)
				return -1;
		} else {
			const char *v = p;

			while (*p && *p != ',' && *p != ' ' && *p != '\t')
				p++;
			value = strndup(v, p - v);
			if (!value)
				return ct_error_set(err, CT_ERR_INTERNAL, 0, "out of memory");
		}
		set_param(c, name, name_len, &value);
		p = skip_ws(p);
		if (*p != ',' && *p != '\0')
			return malformed(err, header, p, "expected ',' after a parameter");
	}
	*pp = p;
	return 0;
}

int registry_challenge_parse(const char *header, struct registry_challenge *out,
			     struct ct_error *err)
{
	struct registry_challenge best = {0};
	const char *p = header ? header : "";

	memset(out, 0, sizeof(*out));
	for (;;) {
		struct registry_challenge c = {0};
		const char *scheme;

		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		if (*p == '\0')
			break;
		scheme = p;
		while (is_tchar(*p))
			p++;
		if (p == scheme) {
			registry_challenge_free(&best);
			return malformed(err, header, p, "expected an authentication scheme");
		}
		c.scheme = strndup_lower(scheme, p - scheme);
		if (parse_params(header, &p, &c, err) < 0) {
			registry_challenge_free(&c);
			registry_challenge_free(&best);
			return -1;
		}
		if (!best.scheme || challenge_rank(&c) > challenge_rank(&best)) {
			registry_challenge_free(&best);
			best = c;
		} else {
			registry_challenge_free(&c);
		}
	}
	if (!best.scheme)
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "WWW-Authenticate header \"%s\" holds no challenge",
				    header ? header : "");
	*out = best;
	return 0;
}

void registry_challenge_free(struct registry_challenge *c)
{
	if (!c)
		return;
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}
