/* Registry client over libcurl: see registry.h for what it promises.
 *
 * Layers, bottom up:
 *   hop_perform     one HTTP request/response on a pooled curl handle
 *   http_exchange   a request and the redirects it leads to (GET/HEAD only)
 *   http_request    retries with back-off, and the 401 authentication dance
 *   registry_*      the distribution API calls, which interpret status codes
 *
 * Redirects are followed by hand rather than by CURLOPT_FOLLOWLOCATION so that the
 * decision to send credentials is ours (only to the origin the request was made to) and
 * every hop gets the same Range header. */
#include "registry.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "oci/digest.h"
#include "oci/media.h"
#include "oci/reference.h"
#include "util.h"

#ifndef CONTAINER_VERSION
#define CONTAINER_VERSION "dev"
#endif

#define HANDLE_POOL_MAX		8
#define MAX_REDIRECTS		5
#define KEEP_BODY_MAX		(64 * 1024) /* error replies and other bodies we only quote */
#define TOKEN_BODY_MAX		(1 << 20)
#define CA_FILE_MAX		(1 << 20)
#define BACKOFF_CAP_MS		10000
#define RETRY_AFTER_CAP_MS	60000
#define TOKEN_DEFAULT_EXPIRY_S	60
#define TOKEN_EXPIRY_MARGIN_MS	5000
#define DEFAULT_CONNECT_TIMEOUT 30000
#define DEFAULT_RETRY_DELAY	250
#define DEFAULT_STALL_TIMEOUT	60000
/* A transfer slower than this for the whole stall timeout is dropped. One byte a
 * second (curl's usual floor) lets a registry that trickles a byte every half second
 * hold a pull for ever; no real layer download is this slow for a minute. */
#define MIN_TRANSFER_RATE 1024
/* An attempt that moved less than this counts against the retry budget even though it
 * made progress, so a registry that hangs up after every few bytes runs out of retries. */
#define PROGRESS_MIN (64 * 1024)

enum auth_kind {
	AUTH_UNKNOWN, /* nothing learned yet: requests go out anonymously */
	AUTH_BASIC,
	AUTH_BEARER,
};

struct token_entry {
	struct token_entry *next;
	char *scope; /* "" for a token without scope (ping) */
	char *token;
	uint64_t expires_ms; /* CLOCK_MONOTONIC */
};

struct registry_client {
	char *host;	/* as given: "127.0.0.1:5000", "docker.io" */
	char *api_host; /* what the URLs name: "registry-1.docker.io" */
	char *scheme;
	char *base;   /* "https://registry-1.docker.io" */
	char *origin; /* base as url_origin() spells it, for comparisons */
	char *username, *password;

	char *certs_dir; /* <certs_dir>/<host>, named in TLS error messages */
	char *ca_blob;	 /* every *.crt there, concatenated */
	size_t ca_len;
	char *client_cert, *client_key;

	int max_retries;
	long connect_timeout_ms, retry_delay_ms, stall_timeout_ms;
	char *user_agent;

	/* DNS and TLS sessions are shared between the pooled handles; connections are not
	 * (libcurl does not support sharing them between threads), each handle keeps its
	 * own. */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t lock; /* everything below */
	enum auth_kind auth_kind;
	struct token_entry *tokens;
	CURL *pool[HANDLE_POOL_MAX];
	int pool_len;
};

/* ---- small helpers ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_ALL);
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A positive number of milliseconds from the environment, else 0. */
static long env_ms(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long ms;

	if (!v || !*v)
		return 0;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno || *end || ms <= 0) {
		log_warn("ignoring %s=\"%s\": not a positive number of milliseconds", name, v);
		return 0;
	}
	return ms;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xcalloc(1, strlen(s) * 3 + 1), *o = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	return out;
}

/* A URL as logs may show it: query strings of storage redirects carry signatures. */
static char *url_for_log(const char *url)
{
	size_t n = strcspn(url, "?#");

	return xasprintf("%.*s%s", (int)n, url, url[n] ? "?…" : "");
}

/* "scheme://host:port", lower case, default port filled in; NULL for a bad URL. */
static char *url_origin(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		out = xasprintf("%s://%s:%s", scheme, host, port);
		for (char *p = out; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return out;
}

static bool same_origin(const char *a, const char *b)
{
	_cleanup_free_ char *oa = url_origin(a);
	_cleanup_free_ char *ob = url_origin(b);

	return oa && ob && strcmp(oa, ob) == 0;
}

/* Resolves a Location header against the URL that sent it. */
static char *url_resolve(const char *base, const char *location)
{
	CURLU *u = curl_url();
	char *resolved = NULL, *out = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &resolved, 0) == CURLUE_OK)
		out = xstrdup(resolved);
	curl_free(resolved);
	curl_url_cleanup(u);
	return out;
}

static bool url_is_http(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static bool reference_is_digest(const char *reference)
{
	return strchr(reference, ':') != NULL;
}

/* ---- insecure default ------------------------------------------------------------- */

bool registry_host_is_insecure_default(const char *host)
{
	char name[256];
	const char *end;
	unsigned char a6[16];
	struct in_addr a4;

	if (!host || !*host)
		return false;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end)
			return false;
		host++;
	} else {
		end = strchr(host, ':');
		/* More than one ':' without brackets: a bare IPv6 address. */
		if (end && strchr(end + 1, ':'))
			end = NULL;
		if (!end)
			end = host + strlen(host);
	}
	if ((size_t)(end - host) >= sizeof(name))
		return false;
	memcpy(name, host, end - host);
	name[end - host] = '\0';

	if (strcasecmp(name, "localhost") == 0 || has_suffix(name, ".localhost"))
		return true;
	if (inet_pton(AF_INET, name, &a4) == 1) {
		uint32_t ip = ntohl(a4.s_addr);

		return (ip >> 24) == 127 || (ip >> 24) == 10 || (ip >> 20) == 0xac1 /* 172.16/12 */
		       || (ip >> 16) == 0xc0a8 /* 192.168/16 */;
	}
	if (inet_pton(AF_INET6, name, a6) == 1) {
		static const unsigned char loopback[16] = {[15] = 1};

		return memcmp(a6, loopback, 16) == 0 || (a6[0] & 0xfe) == 0xfc;
	}
	return false;
}

/* ---- client ----------------------------------------------------------------------- */

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct registry_client *rc = userp;

	pthread_mutex_lock(&rc->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userp)
{
	struct registry_client *rc = userp;

	pthread_mutex_unlock(&rc->share_locks[data]);
}

/* docker's layout of <certs_dir>/<host>/: *.crt are CAs, NAME.cert + NAME.key a client
 * certificate. A missing folder is fine; a half client pair is an error. */
static int load_certs(struct registry_client *rc, const char *certs_root, struct ct_error *err)
{
	struct dirent **names = NULL;
	int n, ret = 0;

	rc->certs_dir = xasprintf("%s/%s", certs_root, rc->host);
	n = scandir(rc->certs_dir, &names, NULL, alphasort);
	if (n < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return ct_error_errno(err, CT_ERR_INVALID_ARGUMENT,
				      "reading the certificates folder %s", rc->certs_dir);
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		_cleanup_free_ char *path = xasprintf("%s/%s", rc->certs_dir, name);

		if (ret < 0 || name[0] == '.')
			continue;
		if (has_suffix(name, ".crt")) {
			_cleanup_free_ char *pem = NULL;
			size_t len = 0;

			if (ct_read_file(path, CA_FILE_MAX, &pem, &len, err) < 0) {
				ret = ct_error_prefix(err, "CA certificate for %s", rc->host);
				continue;
			}
			rc->ca_blob = realloc(rc->ca_blob, rc->ca_len + len + 2);
			if (!rc->ca_blob)
				abort();
			memcpy(rc->ca_blob + rc->ca_len, pem, len);
			rc->ca_len += len;
			rc->ca_blob[rc->ca_len++] = '\n';
			rc->ca_blob[rc->ca_len] = '\0';
		} else if (has_suffix(name, ".cert")) {
			_cleanup_free_ char *key =
			    xasprintf("%.*s.key", (int)(strlen(path) - 5), path);

			if (access(key, R_OK) < 0) {
				ret = ct_error_errno(err, CT_ERR_INVALID_ARGUMENT,
						     "client certificate %s has no readable key %s",
						     path, key);
				continue;
			}
			if (rc->client_cert) {
				log_warn("registry %s: ignoring client certificate %s, using %s",
					 rc->host, path, rc->client_cert);
				continue;
			}
			rc->client_cert = move_ptr(path);
			rc->client_key = move_ptr(key);
		} else if (has_suffix(name, ".key")) {
			_cleanup_free_ char *cert =
			    xasprintf("%.*s.cert", (int)(strlen(path) - 4), path);

			if (access(cert, F_OK) < 0)
				ret =
				    ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						 "client key %s has no certificate %s", path, cert);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (ret == 0 && (rc->ca_len || rc->client_cert))
		log_debug("registry %s: TLS material from %s (%s CA, %s client certificate)",
			  rc->host, rc->certs_dir, rc->ca_len ? "extra" : "system",
			  rc->client_cert ? "with" : "no");
	return ret;
}

int registry_client_new(const char *host, const struct registry_options *opts,
			const struct registry_auth *auth, struct registry_client **out,
			struct ct_error *err)
{
	static const struct registry_options no_options;
	struct registry_client *rc;
	const char *scheme, *certs_root;

	*out = NULL;
	if (!opts)
		opts = &no_options;
	if (!host || !*host || strpbrk(host, "/@ \t\r\n?#"))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid registry host \"%s\": expected host[:port]",
				    host ? host : "");
	scheme = opts->scheme && *opts->scheme ? opts->scheme : "auto";
	if (strcmp(scheme, "auto") == 0)
		scheme = registry_host_is_insecure_default(host) ? "http" : "https";
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid registry scheme \"%s\": expected http, https or auto",
				    scheme);

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "initialising libcurl: %s",
				    curl_easy_strerror(curl_init_result));

	rc = xcalloc(1, sizeof(*rc));
	pthread_mutex_init(&rc->lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&rc->share_locks[i], NULL);
	rc->host = xstrdup(host);
	rc->api_host = xstrdup(oci_ref_api_host(host));
	rc->scheme = xstrdup(scheme);
	rc->base = xasprintf("%s://%s", scheme, rc->api_host);
	rc->origin = url_origin(rc->base);
	if (auth && auth->username && *auth->username) {
		rc->username = xstrdup(auth->username);
		rc->password = xstrdup(auth->password ? auth->password : "");
	}
	rc->max_retries = opts->max_retries == 0  ? REGISTRY_DEFAULT_MAX_RETRIES
			  : opts->max_retries < 0 ? 0
						  : opts->max_retries;
	rc->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT;
	rc->retry_delay_ms = opts->retry_delay_ms > 0 ? opts->retry_delay_ms : DEFAULT_RETRY_DELAY;
	rc->stall_timeout_ms = opts->stall_timeout_ms > 0 ? opts->stall_timeout_ms
							  : env_ms(REGISTRY_STALL_TIMEOUT_ENV);
	if (rc->stall_timeout_ms <= 0)
		rc->stall_timeout_ms = DEFAULT_STALL_TIMEOUT;
	rc->user_agent =
	    xstrdup(opts->user_agent && *opts->user_agent ? opts->user_agent
							  : "container/" CONTAINER_VERSION);

	if (!rc->origin) {
		registry_client_free(rc);
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid registry host \"%s\": not usable in a URL", host);
	}

	certs_root =
	    opts->certs_dir && *opts->certs_dir ? opts->certs_dir : getenv(REGISTRY_CERTS_DIR_ENV);
	if (!certs_root || !*certs_root)
		certs_root = REGISTRY_DEFAULT_CERTS_DIR;
	if (load_certs(rc, certs_root, err) < 0) {
		registry_client_free(rc);
		return ct_error_prefix(err, "registry %s", host);
	}

	rc->share = curl_share_init();
	if (!rc->share) {
		registry_client_free(rc);
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	}
	curl_share_setopt(rc->share, CURLSHOPT_USERDATA, rc);
	curl_share_setopt(rc->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(rc->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(rc->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(rc->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

	log_debug("registry %s: %s, %s", host, rc->base,
		  rc->username ? "with credentials" : "anonymous");
	*out = rc;
	return 0;
}

void registry_client_free(struct registry_client *rc)
{
	if (!rc)
		return;
	/* Easy handles first: they hold references into the share. */
	for (int i = 0; i < rc->pool_len; i++)
		curl_easy_cleanup(rc->pool[i]);
	if (rc->share)
		curl_share_cleanup(rc->share);
	while (rc->tokens) {
		struct token_entry *t = rc->tokens;

		rc->tokens = t->next;
		free(t->scope);
		free_secret(t->token);
		free(t);
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&rc->share_locks[i]);
	pthread_mutex_destroy(&rc->lock);
	free(rc->host);
	free(rc->api_host);
	free(rc->scheme);
	free(rc->base);
	free(rc->origin);
	free(rc->username);
	free_secret(rc->password);
	free(rc->certs_dir);
	free(rc->ca_blob);
	free(rc->client_cert);
	free(rc->client_key);
	free(rc->user_agent);
	free(rc);
}

const char *registry_client_host(const struct registry_client *rc)
{
	return rc->host;
}

const char *registry_client_scheme(const struct registry_client *rc)
{
	return rc->scheme;
}

static CURL *handle_get(struct registry_client *rc)
{
	CURL *c = NULL;

	pthread_mutex_lock(&rc->lock);
	if (rc->pool_len > 0)
		c = rc->pool[--rc->pool_len];
	pthread_mutex_unlock(&rc->lock);
	return c ? c : curl_easy_init();
}

static void handle_put(struct registry_client *rc, CURL *c)
{
	/* reset keeps the handle's connection cache: the next request reuses them. */
	curl_easy_reset(c);
	pthread_mutex_lock(&rc->lock);
	if (rc->pool_len < HANDLE_POOL_MAX) {
		rc->pool[rc->pool_len++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&rc->lock);
	if (c)
		curl_easy_cleanup(c);
}

/* ---- token cache ------------------------------------------------------------------ */

static char *token_lookup(struct registry_client *rc, const char *scope)
{
	uint64_t now = ct_now_monotonic_ms();
	char *token = NULL;

	pthread_mutex_lock(&rc->lock);
	for (struct token_entry *t = rc->tokens; t; t = t->next) {
		if (strcmp(t->scope, scope ? scope : "") == 0 && t->expires_ms > now) {
			token = xstrdup(t->token);
			break;
		}
	}
	pthread_mutex_unlock(&rc->lock);
	return token;
}

/* Stores (token non-NULL) or forgets the token for scope; drops expired entries. */
static void token_store(struct registry_client *rc, const char *scope, const char *token,
			int64_t expires_in_s)
{
	uint64_t now = ct_now_monotonic_ms();
	struct token_entry **pp;

	pthread_mutex_lock(&rc->lock);
	pp = &rc->tokens;
	while (*pp) {
		struct token_entry *t = *pp;

		if (t->expires_ms <= now || strcmp(t->scope, scope ? scope : "") == 0) {
			*pp = t->next;
			free(t->scope);
			free_secret(t->token);
			free(t);
		} else {
			pp = &t->next;
		}
	}
	if (token) {
		struct token_entry *t = xcalloc(1, sizeof(*t));
		uint64_t life = (uint64_t)expires_in_s * 1000;

		t->scope = xstrdup(scope ? scope : "");
		t->token = xstrdup(token);
		t->expires_ms =
		    now +
		    (life > 2 * TOKEN_EXPIRY_MARGIN_MS ? life - TOKEN_EXPIRY_MARGIN_MS : life / 2);
		t->next = rc->tokens;
		rc->tokens = t;
	}
	pthread_mutex_unlock(&rc->lock);
}

/* ---- one HTTP request ------------------------------------------------------------- */

struct blob_sink {
	registry_write_fn write;
	registry_restart_fn restart;
	void *ctx;
	const char *digest;
	int64_t expected;
	int64_t offset; /* bytes handed to write() */
	enum oci_digest_algorithm algorithm;
	struct oci_digest_ctx dctx;
};

struct upload_reader {
	registry_read_fn read;
	void *ctx;
	int64_t size;
	int64_t done;
};

struct http_req {
	const char *method; /* GET HEAD PUT POST PATCH DELETE */
	const char *url;
	const char *scope; /* token scope; NULL: none */
	const char *what;  /* "127.0.0.1:5000/busybox: manifest latest", for messages */
	const char *accept;
	const char *content_type;
	char *content_range;
	/* Request body: from memory (can be sent again) or from a reader (once). */
	const char *body;
	size_t body_len;
	struct upload_reader *reader;
	/* Response body: a 2xx body goes to sink when set; otherwise it is kept, up to
	 * max_body bytes (more is an error) or, when max_body is 0, the first KEEP_BODY_MAX. */
	struct blob_sink *sink;
	size_t max_body;
	bool idempotent;    /* may be retried after 5xx, 429 and network errors */
	bool token_request; /* to a token realm: Basic credentials, no challenge handling */
};

struct http_resp {
	long status;
	char *body;
	size_t len;
	char *url; /* the URL that answered, for resolving Location */
	char *content_type, *docker_digest, *location, *www_authenticate, *content_range,
	    *retry_after;
	int64_t content_length; /* -1: unknown */
	bool sent_auth;		/* credentials or a token went with the request */
};

static void resp_reset(struct http_resp *rs)
{
	free(rs->body);
	free(rs->url);
	free(rs->content_type);
	free(rs->docker_digest);
	free(rs->location);
	free(rs->www_authenticate);
	free(rs->content_range);
	free(rs->retry_after);
	memset(rs, 0, sizeof(*rs));
	rs->content_length = -1;
}

#define _cleanup_resp_ __attribute__((cleanup(resp_reset)))

/* State of one hop, seen by the curl callbacks. A callback that fails records why here
 * (failed) and stops the transfer; such failures are never retried. */
struct hop {
	CURL *curl;
	struct http_req *rq;
	struct http_resp *rs;
	size_t body_pos;
	bool started;
	bool to_sink;
	bool failed;
	bool cut_short; /* an error body past KEEP_BODY_MAX: the rest was not read */
	struct ct_error err;
};

static char *header_value(CURL *c, const char *name)
{
	struct curl_header *h = NULL;

	if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return NULL;
	return xstrdup(h->value);
}

/* Every WWW-Authenticate header joined with ", ": one list, as RFC 7230 allows. */
static char *header_all(CURL *c, const char *name)
{
	struct curl_header *h = NULL;
	char *all = NULL;

	if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return NULL;
	all = xstrdup(h->value);
	for (size_t i = 1; i < h->amount; i++) {
		struct curl_header *next = NULL;
		char *joined;

		if (curl_easy_header(c, name, i, CURLH_HEADER, -1, &next) != CURLHE_OK)
			break;
		joined = xasprintf("%s, %s", all, next->value);
		free(all);
		all = joined;
	}
	return all;
}

static int hop_fail(struct hop *h, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int hop_fail(struct hop *h, const char *code, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ct_error_set(&h->err, code, 0, "%s: %s", h->rq->what, msg ? msg : "out of memory");
	free(msg);
	h->failed = true;
	return -1;
}

/* First bytes of a 2xx blob response: is it the continuation we asked for? */
static int sink_begin(struct hop *h, long status)
{
	struct blob_sink *s = h->rq->sink;
	curl_off_t announced = -1;

	if (status == 206) {
		_cleanup_free_ char *range = header_value(h->curl, "Content-Range");
		long long start = -1, end = -1;

		if (!range || sscanf(range, "bytes %lld-%lld", &start, &end) != 2)
			return hop_fail(h, CT_ERR_PROTOCOL,
					"partial content without a valid Content-Range (\"%s\")",
					range ? range : "");
		if (start != s->offset)
			return hop_fail(h, CT_ERR_PROTOCOL,
					"asked to resume at byte %" PRId64
					" but the registry sent bytes %lld-%lld",
					s->offset, start, end);
	} else if (s->offset > 0) {
		/* The server ignored Range and is sending the whole blob again. */
		if (!s->restart)
			return hop_fail(h, CT_ERR_PROTOCOL,
					"the registry ignored the range request resuming at byte "
					"%" PRId64 " and the download can't start over",
					s->offset);
		log_info("%s: the registry ignored the range request, starting over", h->rq->what);
		if (s->restart(s->ctx, &h->err) < 0) {
			h->failed = true;
			return -1;
		}
		oci_digest_ctx_free(&s->dctx);
		if (oci_digest_init(&s->dctx, s->algorithm, &h->err) < 0) {
			h->failed = true;
			return -1;
		}
		s->offset = 0;
	}
	if (s->expected >= 0 &&
	    curl_easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) ==
		CURLE_OK &&
	    announced >= 0 && s->offset + announced > s->expected)
		return hop_fail(h, CT_ERR_PROTOCOL,
				"the registry is sending %" PRId64
				" bytes, more than the expected %" PRId64,
				(int64_t)(s->offset + announced), s->expected);
	return 0;
}

static int sink_write(struct hop *h, const void *data, size_t len)
{
	struct blob_sink *s = h->rq->sink;

	if (s->expected >= 0 && (uint64_t)s->offset + len > (uint64_t)s->expected)
		return hop_fail(h, CT_ERR_PROTOCOL,
				"the registry sent more than the expected %" PRId64 " bytes",
				s->expected);
	if (oci_digest_update(&s->dctx, data, len, &h->err) < 0 ||
	    s->write(s->ctx, data, len, &h->err) < 0) {
		h->failed = true;
		return -1;
	}
	s->offset += len;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct hop *h = userp;
	size_t len = size * nmemb;
	long status = 0;

	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (!h->started) {
		h->started = true;
		h->to_sink = h->rq->sink && status >= 200 && status < 300;
		if (h->to_sink && sink_begin(h, status) < 0)
			return 0;
	}
	if (h->to_sink)
		return sink_write(h, data, len) < 0 ? 0 : len;

	if (status >= 200 && status < 300 && h->rq->max_body) {
		if (h->rs->len + len > h->rq->max_body) {
			hop_fail(h, CT_ERR_PROTOCOL,
				 "the response is larger than the %zu byte limit", h->rq->max_body);
			return 0;
		}
	} else if (h->rs->len + len > KEEP_BODY_MAX) {
		/* Only quoted in messages: keep the start and stop reading, or a registry
		 * that sends an endless error (or redirect) body would hold us for ever. */
		len = KEEP_BODY_MAX - h->rs->len;
		if (len == 0) {
			h->cut_short = true;
			return 0;
		}
	}
	h->rs->body = realloc(h->rs->body, h->rs->len + len + 1);
	if (!h->rs->body)
		abort();
	memcpy(h->rs->body + h->rs->len, data, len);
	h->rs->len += len;
	h->rs->body[h->rs->len] = '\0';
	return size * nmemb;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userp)
{
	struct hop *h = userp;
	struct upload_reader *r = h->rq->reader;
	size_t want = size * nitems;
	ssize_t n;

	if (!r) {
		size_t left = h->rq->body_len - h->body_pos;

		if (want > left)
			want = left;
		memcpy(buf, h->rq->body + h->body_pos, want);
		h->body_pos += want;
		return want;
	}
	if ((int64_t)want > r->size - r->done)
		want = (size_t)(r->size - r->done);
	if (want == 0)
		return 0;
	n = r->read(r->ctx, buf, want, &h->err);
	if (n < 0) {
		h->failed = true;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0) {
		hop_fail(h, CT_ERR_INVALID_ARGUMENT,
			 "the blob ended after %" PRId64 " of its %" PRId64 " bytes", r->done,
			 r->size);
		return CURL_READFUNC_ABORT;
	}
	r->done += n;
	return (size_t)n;
}

static int on_seek(void *userp, curl_off_t offset, int origin)
{
	struct hop *h = userp;

	if (h->rq->reader || origin != SEEK_SET || offset < 0 || (size_t)offset > h->rq->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	h->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

struct auth_material {
	char *token; /* a bearer token for this request, or NULL */
	bool basic;  /* send the username and password */
};

/* One request to url. Returns 0 with rs filled when a response came back, -1 when the
 * transport failed (*cc, errbuf) or a callback did (h->failed). */
static int hop_perform(struct registry_client *rc, struct http_req *rq, const char *url,
		       bool send_auth, const struct auth_material *auth, struct http_resp *rs,
		       struct hop *h, CURLcode *cc, char errbuf[CURL_ERROR_SIZE])
{
	CURL *c = handle_get(rc);
	struct curl_slist *headers = NULL;
	_cleanup_free_ char *accept = NULL, *ctype = NULL, *crange = NULL, *range = NULL;
	_cleanup_free_ char *logurl = url_for_log(url);
	bool registry_origin;
	int64_t upload_size = -1;
	struct curl_blob ca = {0};

	resp_reset(rs);
	memset(h, 0, sizeof(*h));
	h->rq = rq;
	h->rs = rs;
	h->curl = c;
	errbuf[0] = '\0';
	if (!c) {
		*cc = CURLE_OUT_OF_MEMORY;
		return -1;
	}
	rs->url = xstrdup(url);
	registry_origin = same_origin(url, rc->base);

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SHARE, rc->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, rc->user_agent);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rc->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)MIN_TRANSFER_RATE);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (rc->stall_timeout_ms + 999) / 1000);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, h);
	curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(c, CURLOPT_SEEKDATA, h);
	if (rc->ca_len) {
		/* Added to the system's CAs, not instead of them. */
		ca.data = rc->ca_blob;
		ca.len = rc->ca_len;
		ca.flags = CURL_BLOB_NOCOPY;
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (registry_origin && rc->client_cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, rc->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, rc->client_key);
	}

	if (rq->body || rq->reader)
		upload_size = rq->reader ? rq->reader->size : (int64_t)rq->body_len;
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(upload_size < 0 ? 0 : upload_size));
	} else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "PATCH") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(upload_size < 0 ? 0 : upload_size));
		if (strcmp(rq->method, "PATCH") == 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}

	if (rq->accept) {
		accept = xasprintf("Accept: %s", rq->accept);
		headers = curl_slist_append(headers, accept);
	}
	if (rq->content_type) {
		ctype = xasprintf("Content-Type: %s", rq->content_type);
		headers = curl_slist_append(headers, ctype);
	}
	if (rq->content_range) {
		crange = xasprintf("Content-Range: %s", rq->content_range);
		headers = curl_slist_append(headers, crange);
	}
	if (rq->sink && rq->sink->offset > 0) {
		range = xasprintf("Range: bytes=%" PRId64 "-", rq->sink->offset);
		headers = curl_slist_append(headers, range);
	}
	if (headers)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	if (send_auth && auth->token) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, auth->token);
		rs->sent_auth = true;
	} else if (send_auth && auth->basic && rc->username) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, rc->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, rc->password);
		rs->sent_auth = true;
	}

	*cc = curl_easy_perform(c);
	if (*cc == CURLE_WRITE_ERROR && h->cut_short && !h->failed)
		*cc = CURLE_OK; /* the status, the headers and the start of the body are enough */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	if (rs->status > 0) {
		curl_off_t cl = -1;

		rs->content_type = header_value(c, "Content-Type");
		rs->docker_digest = header_value(c, "Docker-Content-Digest");
		rs->location = header_value(c, "Location");
		rs->www_authenticate = header_all(c, "WWW-Authenticate");
		rs->content_range = header_value(c, "Content-Range");
		rs->retry_after = header_value(c, "Retry-After");
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
			rs->content_length = cl;
	}
	log_debug("registry: %s %s -> %ld%s%s", rq->method, logurl, rs->status,
		  *cc != CURLE_OK ? ": " : "",
		  *cc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(*cc)) : "");
	curl_slist_free_all(headers);
	/* The options point at strings freed when this function returns. */
	handle_put(rc, c);
	h->curl = NULL;
	if (h->failed)
		return -1;
	return *cc == CURLE_OK ? 0 : -1;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* A request and its redirects. Credentials go only to the origin of rq->url. */
static int http_exchange(struct registry_client *rc, struct http_req *rq,
			 const struct auth_material *auth, struct http_resp *rs, struct hop *h,
			 CURLcode *cc, char errbuf[CURL_ERROR_SIZE])
{
	_cleanup_free_ char *url = xstrdup(rq->url);
	bool follow = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;

	for (int hops = 0;; hops++) {
		bool send_auth = hops == 0 || same_origin(url, rq->url);
		char *next;

		if (hop_perform(rc, rq, url, send_auth, auth, rs, h, cc, errbuf) < 0)
			return -1;
		if (!follow || !is_redirect(rs->status) || !rs->location)
			return 0;
		if (hops == MAX_REDIRECTS) {
			hop_fail(h, CT_ERR_PROTOCOL, "more than %d redirects", MAX_REDIRECTS);
			return -1;
		}
		next = url_resolve(url, rs->location);
		if (!next || !url_is_http(next)) {
			hop_fail(h, CT_ERR_PROTOCOL, "redirected to an invalid URL");
			free(next);
			return -1;
		}
		free(url);
		url = next;
	}
}

/* ---- errors ----------------------------------------------------------------------- */

static const char *status_code(long status)
{
	if (status == 401 || status == 403)
		return CT_ERR_PERMISSION_DENIED;
	if (status == 404)
		return CT_ERR_NOT_FOUND;
	if (status == 400 || status == 413 || status == 414 || status == 416)
		return CT_ERR_INVALID_ARGUMENT;
	if (status == 405)
		return CT_ERR_UNSUPPORTED;
	if (status == 409)
		return CT_ERR_CONFLICT;
	if (status == 429 || status >= 500)
		return CT_ERR_UNAVAILABLE;
	return CT_ERR_PROTOCOL;
}

static const char *status_text(long status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "authentication required";
	case 403:
		return "access denied";
	case 404:
		return "not found";
	case 405:
		return "operation not supported by this registry";
	case 409:
		return "conflict";
	case 413:
		return "too large";
	case 416:
		return "range not satisfiable";
	case 429:
		return "too many requests";
	case 500:
		return "internal server error";
	case 502:
		return "bad gateway";
	case 503:
		return "service unavailable";
	case 504:
		return "gateway timeout";
	default:
		return "unexpected response";
	}
}

/* The registry's own words: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}. */
static void registry_error_json(const struct http_resp *rs, char **code, char **message)
{
	_cleanup_json_ json_t *doc = NULL;
	json_t *errors, *first;
	const char *c = NULL, *m = NULL;

	*code = *message = NULL;
	if (!rs->body || !rs->len)
		return;
	doc = json_loadb(rs->body, rs->len, 0, NULL);
	errors = doc ? json_object_get(doc, "errors") : NULL;
	first = json_is_array(errors) ? json_array_get(errors, 0) : NULL;
	if (!json_is_object(first))
		return;
	c = json_string_value(json_object_get(first, "code"));
	m = json_string_value(json_object_get(first, "message"));
	if (c && *c)
		*code = xstrdup(c);
	if (m && *m)
		*message = xstrdup(m);
}

static int status_error(const char *what, const struct http_resp *rs, const char *hint,
			struct ct_error *err)
{
	_cleanup_free_ char *code = NULL, *message = NULL;

	registry_error_json(rs, &code, &message);
	return ct_error_set(err, status_code(rs->status), 0, "%s: %s (%ld%s%s)%s%s", what,
			    message ? message : status_text(rs->status), rs->status,
			    code ? " " : "", code ? code : "", hint ? ": " : "", hint ? hint : "");
}

static bool curl_transient(CURLcode cc, const char *errbuf)
{
	/* A TLS alert (a client certificate the server refused, say) arrives as a receive
	 * error with TLS 1.3; trying again would only repeat it. */
	if (strstr(errbuf, "alert"))
		return false;
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int curl_error(struct registry_client *rc, const char *what, const char *url, CURLcode cc,
		      const char *errbuf, struct ct_error *err)
{
	const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);
	bool on_registry = same_origin(url, rc->base);
	_cleanup_free_ char *origin = url_origin(url);
	const char *where = on_registry ? rc->host : (origin ? origin : "the server");

	/* The server's TLS alert about our certificate: the error code varies with the TLS
	 * version and the moment it arrives, the text does not. */
	if (cc == CURLE_SSL_CLIENTCERT ||
	    (strstr(detail, "alert") &&
	     (strstr(detail, "certificate required") || strstr(detail, "bad certificate") ||
	      strstr(detail, "unknown ca") || strstr(detail, "certificate unknown"))))
		return ct_error_set(err, CT_ERR_PERMISSION_DENIED, 0,
				    "%s: %s refused the TLS client certificate%s (%s): put "
				    "client.cert and client.key in %s",
				    what, where, rc->client_cert ? "" : " (none was sent)", detail,
				    rc->certs_dir);
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		return ct_error_set(
		    err, CT_ERR_UNAVAILABLE, 0,
		    "%s: the TLS certificate of %s is not trusted (%s): put the certificate of "
		    "the CA that signed it in %s/ca.crt, or use --scheme http if the registry "
		    "serves plain HTTP",
		    what, where, detail, on_registry ? rc->certs_dir : "the certificates folder");
	case CURLE_SSL_CERTPROBLEM:
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: the client certificate %s can't be used: %s", what,
				    rc->client_cert ? rc->client_cert : "", detail);
	case CURLE_SSL_CONNECT_ERROR:
		return ct_error_set(err, CT_ERR_UNAVAILABLE, 0,
				    "%s: TLS handshake with %s failed (%s); if the registry serves "
				    "plain HTTP, use --scheme http",
				    what, where, detail);
	case CURLE_COULDNT_CONNECT:
		return ct_error_set(err, CT_ERR_UNAVAILABLE, 0, "%s: cannot connect to %s (%s)",
				    what, where, detail);
	case CURLE_COULDNT_RESOLVE_HOST:
		return ct_error_set(err, CT_ERR_UNAVAILABLE, 0, "%s: cannot resolve %s (%s)", what,
				    where, detail);
	case CURLE_OPERATION_TIMEDOUT:
		return ct_error_set(err, CT_ERR_TIMEOUT, 0, "%s: %s timed out (%s)", what, where,
				    detail);
	default:
		break;
	}
	return ct_error_set(err, CT_ERR_UNAVAILABLE, 0, "%s: talking to %s: %s", what, where,
			    detail);
}

/* ---- retries and authentication --------------------------------------------------- */

static void backoff(struct registry_client *rc, const char *what, int attempt, const char *reason,
		    const char *retry_after)
{
	static __thread unsigned seed;
	long delay = rc->retry_delay_ms;
	struct timespec ts;

	for (int i = 0; i < attempt && delay < BACKOFF_CAP_MS; i++)
		delay *= 2;
	if (delay > BACKOFF_CAP_MS)
		delay = BACKOFF_CAP_MS;
	/* Half fixed, half random, so that parallel layer downloads don't retry in step. */
	if (!seed)
		seed = (unsigned)ct_now_monotonic_ms() ^ (unsigned)(uintptr_t)&seed;
	delay = delay / 2 + rand_r(&seed) % (delay / 2 + 1);
	if (retry_after) {
		char *end;
		long secs = strtol(retry_after, &end, 10);

		if (end != retry_after && *end == '\0' && secs >= 0)
			delay = secs * 1000 > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS
				: secs * 1000 > delay		 ? secs * 1000
								 : delay;
	}
	log_warn("%s: %s; retrying in %ld ms (retry %d of %d)", what, reason, delay, attempt + 1,
		 rc->max_retries);
	ts.tv_sec = delay / 1000;
	ts.tv_nsec = (delay % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int http_request(struct registry_client *rc, struct http_req *rq, struct http_resp *rs,
			struct ct_error *err);

static int login_hint(struct registry_client *rc, char **hint)
{
	*hint =
	    rc->username ? NULL : xasprintf("log in with `container registry login %s`", rc->host);
	return 0;
}

/* GETs a token for scopes (space separated; NULL: none) from realm, with the
 * credentials as Basic auth when there are some. */
static int fetch_token(struct registry_client *rc, const char *what, const char *realm,
		       const char *service, const char *scopes, char **token, int64_t *expires_in,
		       struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *query = xstrdup(""), *hint = NULL;
	_cleanup_free_ char *token_what = NULL, *realm_origin = url_origin(realm);
	_cleanup_json_ json_t *doc = NULL;
	_cleanup_resp_ struct http_resp rs = {0};
	const char *tok = NULL;
	int64_t expiry = TOKEN_DEFAULT_EXPIRY_S;
	json_error_t jerr;

	if (!url_is_http(realm) || !realm_origin)
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "%s: the registry names an invalid token realm \"%s\"", what,
				    realm);
	if (service && *service) {
		_cleanup_free_ char *s = url_escape(service);
		char *q = xasprintf("%s&service=%s", query, s);

		free(query);
		query = q;
	}
	if (scopes) {
		_cleanup_free_ char *copy = xstrdup(scopes);
		char *save = NULL;

		for (char *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
			_cleanup_free_ char *e = url_escape(s);
			char *q = xasprintf("%s&scope=%s", query, e);

			free(query);
			query = q;
		}
	}
	if (rc->username) {
		_cleanup_free_ char *e = url_escape(rc->username);
		char *q = xasprintf("%s&account=%s", query, e);

		free(query);
		query = q;
	}
	url = xasprintf("%s%s%s", realm, strchr(realm, '?') ? "&" : "?", query + 1);
	token_what = xasprintf("%s: getting a token from %s", what, realm_origin);

	struct http_req rq = {
	    .method = "GET",
	    .url = url,
	    .what = token_what,
	    .max_body = TOKEN_BODY_MAX,
	    .idempotent = true,
	    .token_request = true,
	};
	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status == 401 || rs.status == 403) {
		login_hint(rc, &hint);
		if (rc->username)
			return ct_error_set(err, CT_ERR_PERMISSION_DENIED, 0,
					    "%s: wrong username or password (the token server "
					    "answered %ld)",
					    token_what, rs.status);
		return status_error(token_what, &rs, hint, err);
	}
	if (rs.status != 200)
		return status_error(token_what, &rs, NULL, err);
	doc = json_loadb(rs.body ? rs.body : "", rs.len, 0, &jerr);
	if (!json_is_object(doc))
		return ct_error_set(err, CT_ERR_PROTOCOL, 0, "%s: the answer is not a JSON object",
				    token_what);
	if (ct_json_get_string(doc, "token", false, &tok, "token response", err) < 0 ||
	    (!tok &&
	     ct_json_get_string(doc, "access_token", false, &tok, "token response", err) < 0) ||
	    ct_json_get_int(doc, "expires_in", false, &expiry, "token response", err) < 0)
		return ct_error_prefix(err, "%s", token_what);
	if (!tok || !*tok)
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "%s: the answer holds neither \"token\" nor \"access_token\"",
				    token_what);
	/* As docker does: the spec's default, and a floor against servers that say 0. */
	if (expiry < TOKEN_DEFAULT_EXPIRY_S)
		expiry = TOKEN_DEFAULT_EXPIRY_S;
	*token = xstrdup(tok);
	*expires_in = expiry;
	log_debug("registry %s: got a token for scope \"%s\" valid for %" PRId64 " s", rc->host,
		  scopes ? scopes : "", expiry);
	return 0;
}

/* What to send with the next attempt, from what the client has learned so far. */
static int auth_prepare(struct registry_client *rc, struct http_req *rq, struct auth_material *auth,
			struct ct_error *err)
{
	enum auth_kind kind;

	memset(auth, 0, sizeof(*auth));
	if (rq->token_request) {
		auth->basic = rc->username != NULL;
		return 0;
	}
	pthread_mutex_lock(&rc->lock);
	kind = rc->auth_kind;
	pthread_mutex_unlock(&rc->lock);
	if (kind == AUTH_BASIC)
		auth->basic = rc->username != NULL;
	else if (kind == AUTH_BEARER)
		auth->token = token_lookup(rc, rq->scope);
	/* No cached token: the request goes out without one, and its 401 challenge says
	 * where to get one (the realm and scope it names are the authority, not a
	 * remembered realm). */
	return 0;
}

static bool scope_contains(const char *scopes, const char *scope)
{
	size_t n = strlen(scope);

	for (const char *p = scopes; p && (p = strstr(p, scope)); p += n)
		if ((p == scopes || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

/* A 401 came back: learn the scheme and get what it asks for. 0: try again. */
static int auth_challenge(struct registry_client *rc, struct http_req *rq,
			  const struct http_resp *rs, struct ct_error *err)
{
	_cleanup_free_ char *hint = NULL, *scopes = NULL, *token = NULL;
	struct registry_challenge c = {0};
	int64_t expires_in = 0;
	int ret;

	login_hint(rc, &hint);
	if (!rs->www_authenticate)
		return status_error(rq->what, rs, hint, err);
	if (registry_challenge_parse(rs->www_authenticate, &c, err) < 0)
		return ct_error_prefix(err, "%s", rq->what);

	if (strcmp(c.scheme, "basic") == 0) {
		pthread_mutex_lock(&rc->lock);
		rc->auth_kind = AUTH_BASIC;
		pthread_mutex_unlock(&rc->lock);
		registry_challenge_free(&c);
		if (!rc->username)
			return status_error(rq->what, rs, hint, err);
		if (rs->sent_auth)
			return ct_error_set(err, CT_ERR_PERMISSION_DENIED, 0,
					    "%s: wrong username or password (401)", rq->what);
		return 0;
	}
	if (strcmp(c.scheme, "bearer") != 0) {
		ret = ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				   "%s: the registry asks for \"%s\" authentication, which is not "
				   "supported (Basic and Bearer are)",
				   rq->what, c.scheme);
		registry_challenge_free(&c);
		return ret;
	}
	if (!c.realm) {
		registry_challenge_free(&c);
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "%s: the registry's Bearer challenge names no realm", rq->what);
	}
	pthread_mutex_lock(&rc->lock);
	rc->auth_kind = AUTH_BEARER;
	pthread_mutex_unlock(&rc->lock);

	/* Ask for our scope and for the one the registry names, when it names another. */
	if (rq->scope && c.scope && !scope_contains(rq->scope, c.scope))
		scopes = xasprintf("%s %s", rq->scope, c.scope);
	else
		scopes = xstrdup(rq->scope ? rq->scope : c.scope ? c.scope : "");
	token_store(rc, rq->scope, NULL, 0);
	ret = fetch_token(rc, rq->what, c.realm, c.service, *scopes ? scopes : NULL, &token,
			  &expires_in, err);
	registry_challenge_free(&c);
	if (ret < 0)
		return -1;
	token_store(rc, rq->scope, token, expires_in);
	explicit_bzero(token, strlen(token));
	return 0;
}

static int auth_denied(struct registry_client *rc, struct http_req *rq, const struct http_resp *rs,
		       struct ct_error *err)
{
	_cleanup_free_ char *hint = NULL;
	enum auth_kind kind;

	pthread_mutex_lock(&rc->lock);
	kind = rc->auth_kind;
	pthread_mutex_unlock(&rc->lock);
	if (kind == AUTH_BASIC && rs->sent_auth)
		return ct_error_set(err, CT_ERR_PERMISSION_DENIED, 0,
				    "%s: wrong username or password (401)", rq->what);
	if (kind == AUTH_BEARER && rs->sent_auth && rc->username && rq->scope)
		hint = xasprintf("the token issued to %s does not grant \"%s\"", rc->username,
				 rq->scope);
	else
		login_hint(rc, &hint);
	return status_error(rq->what, rs, hint, err);
}

/* A request with retries and authentication. 0 with rs filled: an HTTP answer the caller
 * interprets (any status but a 401 it could not get past, which is an error). */
static int http_request(struct registry_client *rc, struct http_req *rq, struct http_resp *rs,
			struct ct_error *err)
{
	bool challenged = false, refreshed = false;
	int attempt = 0;

	for (;;) {
		struct auth_material auth;
		struct hop h;
		CURLcode cc = CURLE_OK;
		char errbuf[CURL_ERROR_SIZE];
		int64_t offset_before = rq->sink ? rq->sink->offset : 0;
		bool replayable, retry;
		int r;

		if (auth_prepare(rc, rq, &auth, err) < 0)
			return -1;
		r = http_exchange(rc, rq, &auth, rs, &h, &cc, errbuf);
		if (auth.token) {
			explicit_bzero(auth.token, strlen(auth.token));
			free(auth.token);
		}
		if (h.failed) {
			ct_error_move(err, &h.err);
			return -1;
		}
		ct_error_clear(&h.err);
		replayable = !rq->reader || rq->reader->done == 0;
		/* Progress refills the retry budget, but not a trickle: an attempt that ended
		 * because the transfer was too slow, or that moved only a few bytes, still
		 * counts (a registry that hangs up after every few bytes, or sends a byte now
		 * and then, must not keep a pull going for ever). */
		if (rq->sink && rq->sink->offset - offset_before >= PROGRESS_MIN &&
		    cc != CURLE_OPERATION_TIMEDOUT)
			attempt = 0;

		if (r < 0) {
			retry = curl_transient(cc, errbuf) && rq->idempotent && replayable &&
				attempt < rc->max_retries;
			if (!retry)
				return curl_error(rc, rq->what, rs->url ? rs->url : rq->url, cc,
						  errbuf, err);
			backoff(rc, rq->what, attempt++,
				errbuf[0] ? errbuf : curl_easy_strerror(cc), NULL);
			continue;
		}
		if (rs->status == 401 && !rq->token_request) {
			/* One challenge answered for a request that went without credentials,
			 * and one fresh token for a request whose (cached) token was refused. */
			bool *round = rs->sent_auth ? &refreshed : &challenged;

			if (*round || !replayable)
				return auth_denied(rc, rq, rs, err);
			*round = true;
			if (auth_challenge(rc, rq, rs, err) < 0)
				return -1;
			continue;
		}
		if ((rs->status >= 500 || rs->status == 429) && rq->idempotent && replayable &&
		    attempt < rc->max_retries) {
			char reason[64];

			snprintf(reason, sizeof(reason), "HTTP %ld", rs->status);
			backoff(rc, rq->what, attempt++, reason, rs->retry_after);
			continue;
		}
		return 0;
	}
}

/* ---- the distribution API --------------------------------------------------------- */

static int check_repo(const char *repo, struct ct_error *err)
{
	if (!repo || !*repo || repo[0] == '/' || strpbrk(repo, " \t\r\n?#@:"))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid repository name \"%s\"", repo ? repo : "");
	return 0;
}

static char *pull_scope(const char *repo)
{
	return xasprintf("repository:%s:pull", repo);
}

static char *push_scope(const char *repo)
{
	return xasprintf("repository:%s:pull,push", repo);
}

int registry_ping(struct registry_client *rc, struct ct_error *err)
{
	_cleanup_free_ char *url = xasprintf("%s/v2/", rc->base);
	_cleanup_resp_ struct http_resp rs = {0};
	struct http_req rq = {
	    .method = "GET",
	    .url = url,
	    .what = rc->host,
	    .idempotent = true,
	};

	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status == 200)
		return 0;
	if (rs.status == 404)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "%s: %s/v2/ not found: not a registry (API v2)", rc->host,
				    rc->base);
	return status_error(rc->host, &rs, NULL, err);
}

/* The media type a manifest came with; the body's own field when the header is
 * missing or generic. */
static char *manifest_media_type(const struct http_resp *rs)
{
	_cleanup_free_ char *essence =
	    rs->content_type ? oci_media_type_essence(rs->content_type) : NULL;

	if (!essence || !*essence || strcmp(essence, "application/json") == 0 ||
	    strcmp(essence, "text/plain") == 0 ||
	    strcmp(essence, "application/octet-stream") == 0) {
		_cleanup_json_ json_t *doc = json_loadb(rs->body, rs->len, 0, NULL);
		const char *mt = doc ? json_string_value(json_object_get(doc, "mediaType")) : NULL;

		if (mt && *mt)
			return xstrdup(mt);
	}
	return essence ? move_ptr(essence) : xstrdup("");
}

/* Checks body against the digest a header announced (other algorithms are skipped). */
static int check_announced_digest(const char *what, const char *announced, const char *computed,
				  const void *body, size_t len, struct ct_error *err)
{
	enum oci_digest_algorithm alg;
	char actual[OCI_DIGEST_STRING_MAX];
	_cleanup_error_ struct ct_error ignored = CT_ERROR_INIT;

	if (!announced || !*announced)
		return 0;
	if (oci_digest_parse(announced, &alg, NULL, &ignored) < 0) {
		log_debug("%s: ignoring Docker-Content-Digest \"%s\": %s", what, announced,
			  ct_error_message(&ignored));
		return 0;
	}
	if (oci_digest_buffer(alg, body, len, actual, err) < 0)
		return -1;
	if (!oci_digest_equal(actual, announced))
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "%s: the registry announced digest %s but the content has %s",
				    what, announced, computed ? computed : actual);
	return 0;
}

int registry_get_manifest(struct registry_client *rc, const char *repo, const char *reference,
			  const char *const *accept, char **body, size_t *len, char **media_type,
			  char **digest, struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *scope = NULL, *accept_list = NULL;
	_cleanup_resp_ struct http_resp rs = {0};
	enum oci_digest_algorithm alg = OCI_DIGEST_SHA256;
	char computed[OCI_DIGEST_STRING_MAX];
	bool by_digest;

	*body = NULL;
	if (check_repo(repo, err) < 0)
		return -1;
	if (!reference || !*reference || strpbrk(reference, "/?# \t\r\n"))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "invalid tag or digest \"%s\"",
				    reference ? reference : "");
	what = xasprintf("%s/%s: manifest %s", rc->host, repo, reference);
	by_digest = reference_is_digest(reference);
	if (by_digest && oci_digest_parse(reference, &alg, NULL, err) < 0)
		return ct_error_prefix(err, "%s", what);
	if (accept && accept[0]) {
		accept_list = xstrdup(accept[0]);
		for (size_t i = 1; accept[i]; i++) {
			char *joined = xasprintf("%s, %s", accept_list, accept[i]);

			free(accept_list);
			accept_list = joined;
		}
	}
	url = xasprintf("%s/v2/%s/manifests/%s", rc->base, repo, reference);
	scope = pull_scope(repo);

	struct http_req rq = {
	    .method = "GET",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .accept = accept_list ? accept_list : OCI_MEDIA_ACCEPT_MANIFESTS,
	    .max_body = REGISTRY_MANIFEST_MAX,
	    .idempotent = true,
	};
	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status != 200)
		return status_error(what, &rs, NULL, err);
	if (!rs.body) {
		rs.body = xstrdup("");
		rs.len = 0;
	}
	if (oci_digest_buffer(alg, rs.body, rs.len, computed, err) < 0)
		return ct_error_prefix(err, "%s", what);
	if (by_digest && !oci_digest_equal(computed, reference))
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "%s: the registry sent content with digest %s", what, computed);
	if (check_announced_digest(what, rs.docker_digest, NULL, rs.body, rs.len, err) < 0)
		return -1;

	if (media_type)
		*media_type = manifest_media_type(&rs);
	if (digest)
		*digest = xstrdup(computed);
	if (len)
		*len = rs.len;
	*body = move_ptr(rs.body);
	return 0;
}

int registry_get_blob(struct registry_client *rc, const char *repo, const char *digest,
		      int64_t expected_size, registry_write_fn write, registry_restart_fn restart,
		      void *ctx, struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *scope = NULL;
	_cleanup_resp_ struct http_resp rs = {0};
	struct blob_sink sink = {
	    .write = write,
	    .restart = restart,
	    .ctx = ctx,
	    .digest = digest,
	    .expected = expected_size < 0 ? -1 : expected_size,
	};
	char actual[OCI_DIGEST_STRING_MAX];
	int ret = -1;

	if (check_repo(repo, err) < 0)
		return -1;
	what = xasprintf("%s/%s: blob %s", rc->host, repo, digest ? digest : "");
	if (oci_digest_parse(digest, &sink.algorithm, NULL, err) < 0)
		return ct_error_prefix(err, "%s", what);
	if (oci_digest_init(&sink.dctx, sink.algorithm, err) < 0)
		return ct_error_prefix(err, "%s", what);
	url = xasprintf("%s/v2/%s/blobs/%s", rc->base, repo, digest);
	scope = pull_scope(repo);

	struct http_req rq = {
	    .method = "GET",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .sink = &sink,
	    .idempotent = true,
	};
	if (http_request(rc, &rq, &rs, err) < 0)
		goto out;
	if (rs.status != 200 && rs.status != 206) {
		status_error(what, &rs, NULL, err);
		goto out;
	}
	if (sink.expected >= 0 && sink.offset != sink.expected) {
		ct_error_set(err, CT_ERR_PROTOCOL, 0,
			     "%s: the registry sent %" PRId64 " bytes, expected %" PRId64, what,
			     sink.offset, sink.expected);
		goto out;
	}
	if (oci_digest_final(&sink.dctx, actual, err) < 0) {
		ct_error_prefix(err, "%s", what);
		goto out;
	}
	if (!oci_digest_equal(actual, digest)) {
		ct_error_set(err, CT_ERR_PROTOCOL, 0,
			     "%s: the content the registry sent has digest %s", what, actual);
		goto out;
	}
	ret = 0;
out:
	oci_digest_ctx_free(&sink.dctx);
	return ret;
}

int registry_blob_exists(struct registry_client *rc, const char *repo, const char *digest,
			 int64_t *size, struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *scope = NULL;
	_cleanup_resp_ struct http_resp rs = {0};

	if (check_repo(repo, err) < 0)
		return -1;
	what = xasprintf("%s/%s: blob %s", rc->host, repo, digest ? digest : "");
	if (oci_digest_validate(digest, err) < 0)
		return ct_error_prefix(err, "%s", what);
	url = xasprintf("%s/v2/%s/blobs/%s", rc->base, repo, digest);
	scope = pull_scope(repo);

	struct http_req rq = {
	    .method = "HEAD",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .idempotent = true,
	};
	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status == 404)
		return 0;
	if (rs.status != 200)
		return status_error(what, &rs, NULL, err);
	if (size)
		*size = rs.content_length;
	return 1;
}

/* Best effort: an upload the registry opened and we won't use. */
static void cancel_upload(struct registry_client *rc, const char *location, const char *scope,
			  const char *what)
{
	_cleanup_resp_ struct http_resp rs = {0};
	_cleanup_error_ struct ct_error ignored = CT_ERROR_INIT;
	struct http_req rq = {
	    .method = "DELETE",
	    .url = location,
	    .scope = scope,
	    .what = what,
	};

	if (http_request(rc, &rq, &rs, &ignored) < 0)
		log_debug("%s: cancelling the upload: %s", what, ct_error_message(&ignored));
}

int registry_mount_blob(struct registry_client *rc, const char *repo, const char *digest,
			const char *from_repo, struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *scope = NULL, *edigest = NULL,
			    *efrom = NULL, *from_scope = NULL, *push = NULL, *location = NULL;
	_cleanup_resp_ struct http_resp rs = {0};

	if (check_repo(repo, err) < 0 || check_repo(from_repo, err) < 0)
		return -1;
	what = xasprintf("%s/%s: mounting blob %s from %s", rc->host, repo, digest ? digest : "",
			 from_repo);
	if (oci_digest_validate(digest, err) < 0)
		return ct_error_prefix(err, "%s", what);
	edigest = url_escape(digest);
	efrom = url_escape(from_repo);
	url = xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", rc->base, repo, edigest, efrom);
	push = push_scope(repo);
	from_scope = pull_scope(from_repo);
	scope = xasprintf("%s %s", push, from_scope);

	struct http_req rq = {
	    .method = "POST",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .idempotent = true,
	};
	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status == 201)
		return 1;
	if (rs.status != 202)
		return status_error(what, &rs, NULL, err);
	if (rs.location) {
		location = url_resolve(rs.url, rs.location);
		if (location)
			cancel_upload(rc, location, scope, what);
	}
	return 0;
}

static char *upload_location(const struct http_resp *rs, const char *what, struct ct_error *err)
{
	char *loc;

	if (!rs->location) {
		ct_error_set(err, CT_ERR_PROTOCOL, 0, "%s: the registry sent no upload location",
			     what);
		return NULL;
	}
	loc = url_resolve(rs->url, rs->location);
	if (!loc || !url_is_http(loc)) {
		free(loc);
		ct_error_set(err, CT_ERR_PROTOCOL, 0, "%s: invalid upload location \"%s\"", what,
			     rs->location);
		return NULL;
	}
	return loc;
}

static char *url_with_digest(const char *location, const char *digest)
{
	_cleanup_free_ char *e = url_escape(digest);

	return xasprintf("%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", e);
}

/* Reads until buf is full or the reader ends. */
static ssize_t read_full(registry_read_fn read, void *ctx, char *buf, size_t len,
			 struct ct_error *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(ctx, buf + got, len - got, err);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += n;
	}
	return (ssize_t)got;
}

static int finish_upload(struct registry_client *rc, const char *what, const char *scope,
			 const char *location, const char *digest, struct upload_reader *reader,
			 struct ct_error *err)
{
	_cleanup_free_ char *url = url_with_digest(location, digest);
	_cleanup_resp_ struct http_resp rs = {0};
	struct http_req rq = {
	    .method = "PUT",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .content_type = "application/octet-stream",
	    .reader = reader,
	    /* Without a body the closing PUT may be repeated. */
	    .idempotent = reader == NULL,
	};

	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status != 201 && rs.status != 204)
		return status_error(what, &rs, NULL, err);
	if (rs.docker_digest && !oci_digest_equal(rs.docker_digest, digest))
		return ct_error_set(err, CT_ERR_PROTOCOL, 0, "%s: the registry stored it as %s",
				    what, rs.docker_digest);
	return 0;
}

int registry_put_blob(struct registry_client *rc, const char *repo, const char *digest,
		      int64_t size, registry_read_fn read, void *ctx, int64_t chunk_size,
		      struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *scope = NULL, *location = NULL;
	_cleanup_free_ char *chunk = NULL;
	_cleanup_resp_ struct http_resp rs = {0};
	struct upload_reader reader = {.read = read, .ctx = ctx, .size = size};
	int64_t offset = 0;
	ssize_t extra;

	if (check_repo(repo, err) < 0)
		return -1;
	what = xasprintf("%s/%s: uploading blob %s", rc->host, repo, digest ? digest : "");
	if (oci_digest_validate(digest, err) < 0)
		return ct_error_prefix(err, "%s", what);
	if (size < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: invalid size %" PRId64,
				    what, size);
	url = xasprintf("%s/v2/%s/blobs/uploads/", rc->base, repo);
	scope = push_scope(repo);

	struct http_req start = {
	    .method = "POST",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .idempotent = true,
	};
	if (http_request(rc, &start, &rs, err) < 0)
		return -1;
	if (rs.status != 202)
		return status_error(what, &rs, NULL, err);
	location = upload_location(&rs, what, err);
	if (!location)
		return -1;

	if (chunk_size <= 0) {
		if (finish_upload(rc, what, scope, location, digest, &reader, err) < 0)
			goto fail;
		return 0;
	}

	chunk = xcalloc(1, (size_t)(chunk_size < size ? chunk_size : size > 0 ? size : 1));
	while (offset < size) {
		int64_t want = size - offset < chunk_size ? size - offset : chunk_size;
		ssize_t n = read_full(read, ctx, chunk, (size_t)want, err);
		_cleanup_resp_ struct http_resp prs = {0};

		if (n < 0)
			goto fail;
		if (n < want) {
			ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				     "%s: the blob ended after %" PRId64 " of its %" PRId64
				     " bytes",
				     what, offset + n, size);
			goto fail;
		}
		struct http_req patch = {
		    .method = "PATCH",
		    .url = location,
		    .scope = scope,
		    .what = what,
		    .content_type = "application/octet-stream",
		    .content_range =
			xasprintf("%" PRId64 "-%" PRId64, offset, offset + (int64_t)n - 1),
		    .body = chunk,
		    .body_len = (size_t)n,
		};
		int r = http_request(rc, &patch, &prs, err);

		free(patch.content_range);
		if (r < 0)
			goto fail;
		if (prs.status != 202) {
			status_error(what, &prs, NULL, err);
			goto fail;
		}
		offset += n;
		if (prs.location) {
			char *next = upload_location(&prs, what, err);

			if (!next)
				goto fail;
			free(location);
			location = next;
		}
	}
	/* The reader must end where the caller said. */
	extra = read_full(read, ctx, chunk, 1, err);
	if (extra != 0) {
		if (extra > 0)
			ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				     "%s: the blob is longer than its %" PRId64 " bytes", what,
				     size);
		goto fail;
	}
	if (finish_upload(rc, what, scope, location, digest, NULL, err) < 0)
		goto fail;
	return 0;
fail:
	cancel_upload(rc, location, scope, what);
	return -1;
}

int registry_put_manifest(struct registry_client *rc, const char *repo, const char *reference,
			  const char *media_type, const char *body, size_t len, char **digest,
			  struct ct_error *err)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *scope = NULL;
	_cleanup_resp_ struct http_resp rs = {0};
	enum oci_digest_algorithm alg = OCI_DIGEST_SHA256;
	char computed[OCI_DIGEST_STRING_MAX];
	bool by_digest;

	if (check_repo(repo, err) < 0)
		return -1;
	if (!reference || !*reference || strpbrk(reference, "/?# \t\r\n"))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "invalid tag or digest \"%s\"",
				    reference ? reference : "");
	what = xasprintf("%s/%s: pushing manifest %s", rc->host, repo, reference);
	if (!media_type || !*media_type)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: no media type", what);
	if (len > REGISTRY_MANIFEST_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: %zu bytes, more than the %d byte limit", what, len,
				    REGISTRY_MANIFEST_MAX);
	by_digest = reference_is_digest(reference);
	if (by_digest && oci_digest_parse(reference, &alg, NULL, err) < 0)
		return ct_error_prefix(err, "%s", what);
	if (oci_digest_buffer(alg, body, len, computed, err) < 0)
		return ct_error_prefix(err, "%s", what);
	if (by_digest && !oci_digest_equal(computed, reference))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: the manifest's digest is %s", what, computed);
	url = xasprintf("%s/v2/%s/manifests/%s", rc->base, repo, reference);
	scope = push_scope(repo);

	struct http_req rq = {
	    .method = "PUT",
	    .url = url,
	    .scope = scope,
	    .what = what,
	    .content_type = media_type,
	    .body = body ? body : "",
	    .body_len = len,
	    .idempotent = true,
	};
	if (http_request(rc, &rq, &rs, err) < 0)
		return -1;
	if (rs.status != 201 && rs.status != 200 && rs.status != 204)
		return status_error(what, &rs, NULL, err);
	if (check_announced_digest(what, rs.docker_digest, computed, body ? body : "", len, err) <
	    0)
		return -1;
	if (digest)
		*digest = xstrdup(computed);
	return 0;
}
