/* Registry client against real servers, all on 127.0.0.1:
 *
 *  - Debian's docker-registry, started here from a generated config.yml in a mkdtemp
 *    folder: plain HTTP, htpasswd Basic auth, TLS with a CA made here with the openssl
 *    CLI, TLS that requires a client certificate, and token auth;
 *  - a token issuer written here (an HTTP server thread signing RS256 JWTs with OpenSSL,
 *    trusted by the registry through rootcertbundle and the x5c header);
 *  - small scripted HTTP servers (threads) for what a well-behaved registry never does:
 *    drop a blob download halfway, ignore Range, answer 503, redirect to storage on
 *    another origin, send the wrong bytes or too many of them.
 *
 * Every process started here is killed by pid and reaped in the group teardown, and the
 * temporary folder is removed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "cleanup.h"
#include "error.h"
#include "oci/digest.h"
#include "oci/media.h"
#include "registry.h"
#include "util.h"

extern char **environ;

#define USERNAME "tester"
#define PASSWORD "s3cret-pass"
#define SERVICE	 "test-registry"
#define ISSUER	 "test-issuer"

#define assert_err_contains(e, s)                                                                  \
	do {                                                                                       \
		if (!(e).message || !strstr((e).message, (s)))                                     \
			fail_msg("error \"%s\" does not contain \"%s\"",                           \
				 (e).message ? (e).message : "(none)", (s));                       \
	} while (0)

#define assert_err_code(e, c)                                                                      \
	do {                                                                                       \
		if (strcmp((e).code, (c)) != 0)                                                    \
			fail_msg("error code %s, not %s: %s", (e).code, (c),                       \
				 (e).message ? (e).message : "(none)");                            \
	} while (0)

#define assert_ok(expr, e)                                                                         \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			fail_msg("%s failed: %s", #expr, ct_error_message(&(e)));                  \
	} while (0)

/* ---- files and processes ------------------------------------------------------------ */

static char top_dir[PATH_MAX]; /* the group's mkdtemp folder */

static char *path_in(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *path_in(const char *fmt, ...)
{
	char *rel, *out;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	out = xasprintf("%s/%s", top_dir, rel);
	free(rel);
	return out;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void mkdir_or_die(const char *path)
{
	struct ct_error err = CT_ERROR_INIT;

	if (ct_mkdir_p(path, 0700, &err) < 0)
		fail_msg("mkdir %s: %s", path, ct_error_message(&err));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Runs argv (searched in PATH) with stdout and stderr to log (or /dev/null); returns the
 * exit status, -1 when it could not run. */
static int run(const char *log, const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log ? log : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char **)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define RUN(...)                                                                                   \
	do {                                                                                       \
		const char *argv_[] = {__VA_ARGS__, NULL};                                         \
		_cleanup_free_ char *log_ = path_in("commands.log");                               \
		if (run(log_, argv_) != 0)                                                         \
			fail_msg("%s failed; see %s", argv_[0], log_);                             \
	} while (0)

/* A port nothing listens on right now (the kernel's pick for port 0). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- docker-registry ---------------------------------------------------------------- */

enum registry_kind { REG_PLAIN, REG_BASIC, REG_TLS, REG_MTLS, REG_TOKEN, REG_COUNT };

static const char *const registry_kind_names[] = {"plain", "basic", "tls", "mtls", "token"};

struct registry_proc {
	enum registry_kind kind;
	char *dir;
	int port;
	pid_t pid;
	char host[64]; /* "127.0.0.1:PORT" */
};

static struct registry_proc registries[REG_COUNT];

/* Answers when anything HTTP comes back from url (any status). */
static bool http_answers(const char *url, const char *ca, const char *cert, const char *key)
{
	CURL *c = curl_easy_init();
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status > 0;
}

static void write_registry_config(struct registry_proc *r, const char *auth_yaml)
{
	_cleanup_free_ char *config = xasprintf("%s/config.yml", r->dir);
	_cleanup_free_ char *pki = path_in("pki");
	_cleanup_free_ char *tls = NULL;
	_cleanup_free_ char *text = NULL;

	if (r->kind == REG_TLS || r->kind == REG_MTLS)
		tls = xasprintf("  tls:\n"
				"    certificate: %s/server.crt\n"
				"    key: %s/server.key\n"
				"%s%s%s",
				pki, pki, r->kind == REG_MTLS ? "    clientcas:\n      - " : "",
				r->kind == REG_MTLS ? pki : "",
				r->kind == REG_MTLS ? "/ca.crt\n" : "");
	text = xasprintf("version: 0.1\n"
			 "log:\n"
			 "  level: warn\n"
			 "  accesslog:\n"
			 "    disabled: true\n"
			 "storage:\n"
			 "  filesystem:\n"
			 "    rootdirectory: %s/data\n"
			 "  delete:\n"
			 "    enabled: true\n"
			 "  maintenance:\n"
			 "    uploadpurging:\n"
			 "      enabled: false\n"
			 "http:\n"
			 "  addr: 127.0.0.1:%d\n"
			 "  secret: container-registry-test\n"
			 "%s"
			 "%s",
			 r->dir, r->port, tls ? tls : "", auth_yaml ? auth_yaml : "");
	write_text(config, text);
}

static void registry_spawn(struct registry_proc *r, const char *auth_yaml)
{
	_cleanup_free_ char *config = xasprintf("%s/config.yml", r->dir);
	_cleanup_free_ char *log = xasprintf("%s/registry.log", r->dir);
	const char *argv[] = {"docker-registry", "serve", config, NULL};
	posix_spawn_file_actions_t fa;

	r->port = free_port();
	snprintf(r->host, sizeof(r->host), "127.0.0.1:%d", r->port);
	write_registry_config(r, auth_yaml);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawnp(&r->pid, argv[0], &fa, NULL, (char **)argv, environ) != 0)
		r->pid = 0;
	posix_spawn_file_actions_destroy(&fa);
	if (r->pid <= 0)
		fail_msg("cannot start docker-registry");
}

/* Waits for /v2/ to answer; a registry that died (a port taken in between, say) is
 * started again on another port. */
static void registry_wait(struct registry_proc *r, const char *auth_yaml)
{
	_cleanup_free_ char *ca = path_in("pki/ca.crt");
	_cleanup_free_ char *cert = path_in("pki/client.cert");
	_cleanup_free_ char *key = path_in("pki/client.key");
	bool tls = r->kind == REG_TLS || r->kind == REG_MTLS;

	for (int tries = 0; tries < 3; tries++) {
		_cleanup_free_ char *url =
		    xasprintf("%s://127.0.0.1:%d/v2/", tls ? "https" : "http", r->port);

		for (int i = 0; i < 200; i++) {
			int status;

			if (http_answers(url, tls ? ca : NULL, r->kind == REG_MTLS ? cert : NULL,
					 key))
				return;
			if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
				r->pid = 0;
				break;
			}
			sleep_ms(50);
		}
		if (r->pid > 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
			r->pid = 0;
		}
		registry_spawn(r, auth_yaml);
	}
	fail_msg("docker-registry (%s) did not answer; see %s/registry.log",
		 registry_kind_names[r->kind], r->dir);
}

static void registry_stop(struct registry_proc *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
				r->pid = 0;
				break;
			}
			sleep_ms(20);
		}
		if (r->pid > 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
			r->pid = 0;
		}
	}
	free(r->dir);
	r->dir = NULL;
}

/* ---- a scripted HTTP server in a thread --------------------------------------------- */

enum mini_mode {
	MINI_RESUME,	   /* first blob GET dropped halfway; Range honoured afterwards */
	MINI_IGNORE_RANGE, /* first blob GET dropped halfway; later ones get the whole blob */
	MINI_FLAKY,	   /* manifests: `failures` times 503, then the manifest */
	MINI_NOT_FOUND,	   /* manifests: 404 with the registry's error JSON */
	MINI_REDIRECT,	   /* blobs: Basic auth required, then 307 to another origin */
	MINI_STORAGE,	   /* serves the blob, counts requests that carry Authorization */
	MINI_BAD_DIGEST,   /* blobs: one byte changed */
	MINI_TOO_BIG,	   /* blobs: the blob and more; manifests: 5 MiB */
	MINI_TOKEN,	   /* the token issuer */
};

struct mini_request {
	char method[16];
	char path[2048];
	char *headers; /* raw header block */
};

struct mini_server {
	enum mini_mode mode;
	int fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int requests;
	atomic_int with_auth;
	atomic_int blob_gets;
	int failures;
	const char *blob;
	size_t blob_len;
	const char *manifest;
	char manifest_digest[OCI_DIGEST_STRING_MAX];
	int redirect_port;
	/* token issuer */
	EVP_PKEY *key;
	char *cert_b64;
	atomic_bool first_token_expired;
	bool access_token_field;
};

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

static void respond(int fd, int status, const char *reason, const char *extra_headers,
		    const void *body, size_t len)
{
	_cleanup_free_ char *head =
	    xasprintf("HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		      status, reason, len, extra_headers ? extra_headers : "");

	send_all(fd, head, strlen(head));
	if (body && len)
		send_all(fd, body, len);
}

static char *request_header(const struct mini_request *rq, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = rq->headers; line && *line;) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ')
				v++;
			return strndup(v, len - (v - line));
		}
		line = end ? end + 2 : NULL;
	}
	return NULL;
}

/* Reads one request head (and discards a body): 0, or -1 when the peer went away. */
static int read_request(int fd, struct mini_request *rq)
{
	char buf[16384];
	size_t len = 0;
	char *end = NULL, *cl;

	memset(rq, 0, sizeof(*rq));
	while (!end) {
		ssize_t n;

		if (len == sizeof(buf) - 1)
			return -1;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	*end = '\0';
	if (sscanf(buf, "%15s %2047s", rq->method, rq->path) != 2)
		return -1;
	rq->headers = xstrdup(strstr(buf, "\r\n") ? strstr(buf, "\r\n") + 2 : "");
	cl = request_header(rq, "Content-Length");
	if (cl) {
		long long body = atoll(cl), have = (long long)(len - (end + 4 - buf));

		while (have < body) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0)
				break;
			have += n;
		}
		free(cl);
	}
	return 0;
}

static char *b64url(const unsigned char *data, size_t len)
{
	char *out = xcalloc(1, 4 * ((len + 2) / 3) + 1);
	int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return out;
}

static char *url_decode(const char *s, size_t len)
{
	char *out = xcalloc(1, len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len) {
			char hex[3] = {s[i + 1], s[i + 2], 0};

			*o++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	return out;
}

/* The access claim for the scopes asked: everything asked is granted. */
static json_t *token_access(const char *query)
{
	json_t *access = json_array();

	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > 6 && strncmp(p, "scope=", 6) == 0) {
			_cleanup_free_ char *scope = url_decode(p + 6, len - 6);
			char *first = strchr(scope, ':'), *last = strrchr(scope, ':');

			/* Repositories under forbidden/ are granted nothing. */
			if (first && last && first != last &&
			    strncmp(first + 1, "forbidden/", 10) != 0) {
				json_t *actions = json_array();
				char *save = NULL;

				*first = *last = '\0';
				for (char *a = strtok_r(last + 1, ",", &save); a;
				     a = strtok_r(NULL, ",", &save))
					json_array_append_new(actions, json_string(a));
				json_array_append_new(access, json_pack("{s:s,s:s,s:o}", "type",
									scope, "name", first + 1,
									"actions", actions));
			}
		}
		p = amp ? amp + 1 : NULL;
	}
	return access;
}

static char *make_jwt(struct mini_server *s, const char *query, bool expired)
{
	time_t now = time(NULL);
	json_t *header =
	    json_pack("{s:s,s:s,s:[s]}", "typ", "JWT", "alg", "RS256", "x5c", s->cert_b64);
	json_t *claims = json_pack(
	    "{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o}", "iss", ISSUER, "sub", USERNAME, "aud", SERVICE,
	    "exp", (json_int_t)(expired ? now - 3600 : now + 600), "nbf", (json_int_t)(now - 7200),
	    "iat", (json_int_t)(now - 7200), "jti", "test-token", "access", token_access(query));
	_cleanup_free_ char *h = json_dumps(header, JSON_COMPACT);
	_cleanup_free_ char *c = json_dumps(claims, JSON_COMPACT);
	_cleanup_free_ char *hb = b64url((unsigned char *)h, strlen(h));
	_cleanup_free_ char *cb = b64url((unsigned char *)c, strlen(c));
	_cleanup_free_ char *input = xasprintf("%s.%s", hb, cb);
	_cleanup_free_ char *sb = NULL;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	json_decref(header);
	json_decref(claims);
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input)) != 1)
		abort();
	EVP_MD_CTX_free(md);
	sb = b64url(sig, siglen);
	return xasprintf("%s.%s", input, sb);
}

static void serve_token(struct mini_server *s, int fd, const struct mini_request *rq)
{
	_cleanup_free_ char *auth = request_header(rq, "Authorization");
	_cleanup_free_ char *want = NULL, *token = NULL, *body = NULL;
	unsigned char enc[256];
	const char *query = strchr(rq->path, '?');

	EVP_EncodeBlock(enc, (const unsigned char *)USERNAME ":" PASSWORD,
			strlen(USERNAME ":" PASSWORD));
	want = xasprintf("Basic %s", enc);
	if (!auth || strcmp(auth, want) != 0) {
		static const char denied[] = "{\"details\":\"invalid credentials\"}";

		respond(fd, 401, "Unauthorized",
			"Content-Type: application/json\r\nWWW-Authenticate: Basic "
			"realm=\"token\"\r\n",
			denied, strlen(denied));
		return;
	}
	token =
	    make_jwt(s, query ? query + 1 : "", atomic_exchange(&s->first_token_expired, false));
	body =
	    xasprintf("{\"%s\":\"%s\",\"expires_in\":300,\"issued_at\":\"2026-01-01T00:00:00Z\"}",
		      s->access_token_field ? "access_token" : "token", token);
	respond(fd, 200, "OK", "Content-Type: application/json\r\n", body, strlen(body));
}

static void serve_blob_bytes(int fd, const char *data, size_t len, size_t send_len)
{
	_cleanup_free_ char *head = xasprintf("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
					      "Content-Type: application/octet-stream\r\n"
					      "Connection: close\r\n\r\n",
					      len);

	send_all(fd, head, strlen(head));
	send_all(fd, data, send_len);
}

static void mini_handle(struct mini_server *s, int fd, const struct mini_request *rq)
{
	_cleanup_free_ char *range = request_header(rq, "Range");
	_cleanup_free_ char *auth = request_header(rq, "Authorization");
	bool blob = strstr(rq->path, "/blobs/") != NULL || strncmp(rq->path, "/storage/", 9) == 0;
	bool manifest = strstr(rq->path, "/manifests/") != NULL;

	atomic_fetch_add(&s->requests, 1);
	if (auth)
		atomic_fetch_add(&s->with_auth, 1);
	if (s->mode == MINI_TOKEN) {
		serve_token(s, fd, rq);
		return;
	}
	if (strcmp(rq->path, "/v2/") == 0) {
		respond(fd, 200, "OK", "Content-Type: application/json\r\n", "{}", 2);
		return;
	}
	if (blob) {
		int n = atomic_fetch_add(&s->blob_gets, 1);
		long long from = -1;

		if (range)
			sscanf(range, "bytes=%lld-", &from);
		switch (s->mode) {
		case MINI_RESUME:
		case MINI_IGNORE_RANGE:
			if (n == 0) {
				/* An odd cut, not on any buffer boundary. */
				serve_blob_bytes(fd, s->blob, s->blob_len, s->blob_len / 2 + 7);
			} else if (s->mode == MINI_RESUME && from >= 0) {
				_cleanup_free_ char *hdrs =
				    xasprintf("Content-Range: bytes %lld-%zu/%zu\r\n", from,
					      s->blob_len - 1, s->blob_len);

				respond(fd, 206, "Partial Content", hdrs, s->blob + from,
					s->blob_len - from);
			} else {
				serve_blob_bytes(fd, s->blob, s->blob_len, s->blob_len);
			}
			return;
		case MINI_REDIRECT: {
			_cleanup_free_ char *loc = NULL;

			if (!auth) {
				respond(fd, 401, "Unauthorized",
					"WWW-Authenticate: Basic realm=\"mini\"\r\n", NULL, 0);
				return;
			}
			loc = xasprintf("Location: http://127.0.0.1:%d/storage/blob?X-Signature="
					"abc\r\n",
					s->redirect_port);
			respond(fd, 307, "Temporary Redirect", loc, NULL, 0);
			return;
		}
		case MINI_STORAGE:
			serve_blob_bytes(fd, s->blob, s->blob_len, s->blob_len);
			return;
		case MINI_BAD_DIGEST: {
			_cleanup_free_ char *copy = xcalloc(1, s->blob_len);

			memcpy(copy, s->blob, s->blob_len);
			copy[s->blob_len / 3] ^= 0x40;
			serve_blob_bytes(fd, copy, s->blob_len, s->blob_len);
			return;
		}
		case MINI_TOO_BIG: {
			_cleanup_free_ char *more = xcalloc(1, s->blob_len + 100);

			memcpy(more, s->blob, s->blob_len);
			serve_blob_bytes(fd, more, s->blob_len + 100, s->blob_len + 100);
			return;
		}
		default:
			break;
		}
	}
	if (manifest) {
		if (s->mode == MINI_FLAKY && atomic_load(&s->requests) <= s->failures) {
			static const char busy[] = "{\"errors\":[{\"code\":\"UNAVAILABLE\","
						   "\"message\":\"try later\"}]}";

			respond(fd, 503, "Service Unavailable",
				"Retry-After: 0\r\nContent-Type: application/json\r\n", busy,
				strlen(busy));
			return;
		}
		if (s->mode == MINI_FLAKY) {
			_cleanup_free_ char *hdrs =
			    xasprintf("Content-Type: %s\r\nDocker-Content-Digest: %s\r\n",
				      OCI_MEDIA_TYPE_MANIFEST, s->manifest_digest);

			respond(fd, 200, "OK", hdrs, s->manifest, strlen(s->manifest));
			return;
		}
		if (s->mode == MINI_TOO_BIG) {
			size_t big = 5 << 20;
			_cleanup_free_ char *body = xcalloc(1, big);

			memset(body, ' ', big);
			respond(fd, 200, "OK", "Content-Type: " OCI_MEDIA_TYPE_MANIFEST "\r\n",
				body, big);
			return;
		}
	}
	{
		static const char unknown[] =
		    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
		    "unknown\",\"detail\":{\"Tag\":\"latest\"}}]}";

		respond(fd, 404, "Not Found", "Content-Type: application/json\r\n", unknown,
			strlen(unknown));
	}
}

static void *mini_thread(void *arg)
{
	struct mini_server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		struct mini_request rq;
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (read_request(fd, &rq) == 0)
			mini_handle(s, fd, &rq);
		free(rq.headers);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

static struct mini_server *mini_start(enum mini_mode mode)
{
	struct mini_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	s->mode = mode;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, mini_thread, s), 0);
	return s;
}

static void mini_stop(struct mini_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	free(s);
}

static char *mini_host(const struct mini_server *s)
{
	return xasprintf("127.0.0.1:%d", s->port);
}

/* ---- test data ---------------------------------------------------------------------- */

static char *random_bytes(size_t len, uint32_t seed)
{
	char *b = xcalloc(1, len ? len : 1);
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (char)x;
	}
	return b;
}

static void digest_of(const void *data, size_t len, char out[OCI_DIGEST_STRING_MAX])
{
	struct ct_error err = CT_ERROR_INIT;

	assert_ok(oci_digest_buffer(OCI_DIGEST_SHA256, data, len, out, &err), err);
}

struct sink {
	char *data;
	size_t len;
	int restarts;
	int fail_after; /* > 0: fail once this many bytes arrived */
};

static int sink_write(void *ctx, const void *data, size_t len, struct ct_error *err)
{
	struct sink *s = ctx;

	if (s->fail_after > 0 && s->len + len >= (size_t)s->fail_after)
		return ct_error_set(err, CT_ERR_CANCELLED, 0, "cancelled by the test");
	s->data = realloc(s->data, s->len + len + 1);
	assert_non_null(s->data);
	memcpy(s->data + s->len, data, len);
	s->len += len;
	return 0;
}

static int sink_restart(void *ctx, struct ct_error *err)
{
	struct sink *s = ctx;

	s->len = 0;
	s->restarts++;
	return 0;
}

struct source {
	const char *data;
	size_t len, pos;
};

/* Hands out odd-sized pieces, so uploads see short reads. */
static ssize_t source_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct source *s = ctx;
	size_t n = s->len - s->pos;

	if (n > len)
		n = len;
	if (n > 7001)
		n = 7001;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static struct registry_client *client_for(const char *host, const char *scheme, const char *certs,
					  const char *user, const char *password)
{
	_cleanup_free_ char *empty = path_in("certs-empty");
	struct registry_options opts = {
	    .scheme = scheme,
	    .certs_dir = certs ? certs : empty,
	    .retry_delay_ms = 5,
	    .connect_timeout_ms = 5000,
	    .user_agent = "container-test",
	};
	struct registry_auth auth = {.username = user, .password = password};
	struct registry_client *rc = NULL;
	struct ct_error err = CT_ERROR_INIT;

	assert_ok(registry_client_new(host, &opts, &auth, &rc, &err), err);
	return rc;
}

static struct registry_client *client_of(enum registry_kind kind, bool with_auth)
{
	_cleanup_free_ char *certs = path_in("certs-%s", registry_kind_names[kind]);
	bool tls = kind == REG_TLS || kind == REG_MTLS;

	return client_for(registries[kind].host, tls ? "https" : "http", tls ? certs : NULL,
			  with_auth ? USERNAME : NULL, with_auth ? PASSWORD : NULL);
}

static void push_blob(struct registry_client *rc, const char *repo, const char *data, size_t len,
		      int64_t chunk, char digest[OCI_DIGEST_STRING_MAX])
{
	struct ct_error err = CT_ERROR_INIT;
	struct source src = {.data = data, .len = len};

	digest_of(data, len, digest);
	assert_ok(registry_put_blob(rc, repo, digest, (int64_t)len, source_read, &src, chunk, &err),
		  err);
	assert_int_equal(src.pos, len);
}

static void pull_blob_equal(struct registry_client *rc, const char *repo, const char *digest,
			    const char *data, size_t len)
{
	struct ct_error err = CT_ERROR_INIT;
	struct sink sink = {0};

	assert_ok(registry_get_blob(rc, repo, digest, (int64_t)len, sink_write, sink_restart, &sink,
				    &err),
		  err);
	assert_int_equal(sink.len, len);
	assert_memory_equal(sink.data, data, len);
	free(sink.data);
}

/* Pushes a one-layer OCI image to repo:tag; returns its manifest (malloc'd). */
static char *push_image(struct registry_client *rc, const char *repo, const char *tag,
			char manifest_digest[OCI_DIGEST_STRING_MAX])
{
	static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
				     "\"type\":\"layers\",\"diff_ids\":[]}}";
	char config_digest[OCI_DIGEST_STRING_MAX], layer_digest[OCI_DIGEST_STRING_MAX];
	_cleanup_free_ char *layer = random_bytes(4096, 77);
	struct ct_error err = CT_ERROR_INIT;
	char *manifest, *pushed = NULL;

	push_blob(rc, repo, config, strlen(config), 0, config_digest);
	push_blob(rc, repo, layer, 4096, 0, layer_digest);
	manifest = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
			     "\"%s\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
			     "\"%s\",\"digest\":\"%s\",\"size\":4096}]}",
			     OCI_MEDIA_TYPE_MANIFEST, OCI_MEDIA_TYPE_CONFIG, config_digest,
			     strlen(config), OCI_MEDIA_TYPE_LAYER_GZIP, layer_digest);
	assert_ok(registry_put_manifest(rc, repo, tag, OCI_MEDIA_TYPE_MANIFEST, manifest,
					strlen(manifest), &pushed, &err),
		  err);
	digest_of(manifest, strlen(manifest), manifest_digest);
	assert_string_equal(pushed, manifest_digest);
	free(pushed);
	return manifest;
}

/* ---- group setup -------------------------------------------------------------------- */

static struct mini_server *token_server;

static void make_pki(void)
{
	_cleanup_free_ char *pki = path_in("pki");
	_cleanup_free_ char *ca_key = path_in("pki/ca.key"), *ca_crt = path_in("pki/ca.crt");
	_cleanup_free_ char *srv_key = path_in("pki/server.key"),
			    *srv_csr = path_in("pki/server.csr");
	_cleanup_free_ char *srv_crt = path_in("pki/server.crt"),
			    *srv_ext = path_in("pki/server.ext");
	_cleanup_free_ char *cl_key = path_in("pki/client.key"),
			    *cl_csr = path_in("pki/client.csr");
	_cleanup_free_ char *cl_crt = path_in("pki/client.cert"),
			    *cl_ext = path_in("pki/client.ext");
	_cleanup_free_ char *tok_key = path_in("pki/token.key"),
			    *tok_crt = path_in("pki/token.crt");

	mkdir_or_die(pki);
	write_text(srv_ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
	write_text(cl_ext, "extendedKeyUsage=clientAuth\n");
	RUN("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
	    "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj",
	    "/CN=container test CA");
	RUN("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
	    "-keyout", srv_key, "-out", srv_csr, "-subj", "/CN=127.0.0.1");
	RUN("openssl", "x509", "-req", "-in", srv_csr, "-CA", ca_crt, "-CAkey", ca_key,
	    "-CAcreateserial", "-out", srv_crt, "-days", "2", "-extfile", srv_ext);
	RUN("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
	    "-keyout", cl_key, "-out", cl_csr, "-subj", "/CN=container test client");
	RUN("openssl", "x509", "-req", "-in", cl_csr, "-CA", ca_crt, "-CAkey", ca_key,
	    "-CAcreateserial", "-out", cl_crt, "-days", "2", "-extfile", cl_ext);
	RUN("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tok_key, "-out",
	    tok_crt, "-days", "2", "-subj", "/CN=container test token issuer");
}

/* certs-<kind>/<host>/: what a user would put in /etc/container/certs.d. */
static void make_certs_dirs(void)
{
	for (int k = REG_TLS; k <= REG_MTLS; k++) {
		_cleanup_free_ char *dir =
		    path_in("certs-%s/%s", registry_kind_names[k], registries[k].host);
		_cleanup_free_ char *ca = path_in("pki/ca.crt");
		_cleanup_free_ char *ca_link = xasprintf("%s/ca.crt", dir);

		mkdir_or_die(dir);
		assert_int_equal(symlink(ca, ca_link), 0);
		if (k == REG_MTLS) {
			_cleanup_free_ char *cert = path_in("pki/client.cert");
			_cleanup_free_ char *key = path_in("pki/client.key");
			_cleanup_free_ char *cert_link = xasprintf("%s/client.cert", dir);
			_cleanup_free_ char *key_link = xasprintf("%s/client.key", dir);

			assert_int_equal(symlink(cert, cert_link), 0);
			assert_int_equal(symlink(key, key_link), 0);
		}
	}
	/* Only the CA, no client certificate, for the mTLS registry. */
	{
		_cleanup_free_ char *dir =
		    path_in("certs-mtls-nocert/%s", registries[REG_MTLS].host);
		_cleanup_free_ char *ca = path_in("pki/ca.crt");
		_cleanup_free_ char *ca_link = xasprintf("%s/ca.crt", dir);

		mkdir_or_die(dir);
		assert_int_equal(symlink(ca, ca_link), 0);
	}
}

static void load_token_key(struct mini_server *s)
{
	_cleanup_free_ char *key_path = path_in("pki/token.key");
	_cleanup_free_ char *crt_path = path_in("pki/token.crt");
	FILE *kf = fopen(key_path, "r"), *cf = fopen(crt_path, "r");
	X509 *cert;
	unsigned char *der = NULL;
	int der_len;

	assert_non_null(kf);
	assert_non_null(cf);
	s->key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
	cert = PEM_read_X509(cf, NULL, NULL, NULL);
	fclose(kf);
	fclose(cf);
	assert_non_null(s->key);
	assert_non_null(cert);
	der_len = i2d_X509(cert, &der);
	assert_true(der_len > 0);
	s->cert_b64 = xcalloc(1, 4 * ((der_len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s->cert_b64, der, der_len);
	OPENSSL_free(der);
	X509_free(cert);
}

static char *auth_yaml_for(enum registry_kind kind)
{
	if (kind == REG_BASIC)
		return xasprintf(
		    "auth:\n  htpasswd:\n    realm: test-realm\n    path: %s/htpasswd\n", top_dir);
	if (kind == REG_TOKEN)
		return xasprintf("auth:\n  token:\n    realm: http://127.0.0.1:%d/token\n"
				 "    service: %s\n    issuer: %s\n    rootcertbundle: "
				 "%s/pki/token.crt\n",
				 token_server->port, SERVICE, ISSUER, top_dir);
	return NULL;
}

static int group_setup(void **state)
{
	char tmpl[] = "/tmp/container-registry-test.XXXXXX";
	_cleanup_free_ char *htpasswd = NULL, *empty = NULL;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_ALL);
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(top_dir, sizeof(top_dir), "%s", tmpl);
	empty = path_in("certs-empty");
	mkdir_or_die(empty);
	make_pki();
	htpasswd = path_in("htpasswd");
	RUN("htpasswd", "-Bbc", htpasswd, USERNAME, PASSWORD);

	token_server = mini_start(MINI_TOKEN);
	load_token_key(token_server);

	for (int k = 0; k < REG_COUNT; k++) {
		_cleanup_free_ char *auth = auth_yaml_for(k);

		registries[k].kind = k;
		registries[k].dir = path_in("registry-%s", registry_kind_names[k]);
		mkdir_or_die(registries[k].dir);
		registry_spawn(&registries[k], auth);
	}
	for (int k = 0; k < REG_COUNT; k++) {
		_cleanup_free_ char *auth = auth_yaml_for(k);

		registry_wait(&registries[k], auth);
	}
	make_certs_dirs();
	return 0;
}

static int group_teardown(void **state)
{
	for (int k = 0; k < REG_COUNT; k++)
		registry_stop(&registries[k]);
	if (token_server) {
		EVP_PKEY_free(token_server->key);
		free(token_server->cert_b64);
		mini_stop(token_server);
		token_server = NULL;
	}
	if (top_dir[0] && !getenv("REGISTRY_TEST_KEEP"))
		nftw(top_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	top_dir[0] = '\0';
	curl_global_cleanup();
	return 0;
}

/* When the group setup fails half way cmocka skips the teardown: the registries started
 * so far are still killed (by pid) and the folder removed. */
static void cleanup_at_exit(void)
{
	for (int k = 0; k < REG_COUNT; k++) {
		if (registries[k].pid > 0) {
			kill(registries[k].pid, SIGKILL);
			waitpid(registries[k].pid, NULL, 0);
			registries[k].pid = 0;
		}
	}
	if (top_dir[0] && !getenv("REGISTRY_TEST_KEEP"))
		nftw(top_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- pure functions ----------------------------------------------------------------- */

static void test_challenge_bearer(void **state)
{
	struct registry_challenge c;
	struct ct_error err = CT_ERROR_INIT;

	assert_ok(registry_challenge_parse(
		      "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker."
		      "io\",scope=\"repository:samalba/my-app:pull,push\"",
		      &c, &err),
		  err);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:samalba/my-app:pull,push");
	assert_null(c.error);
	registry_challenge_free(&c);

	/* Case, spaces around '=', escapes, an unknown parameter, several scopes. */
	assert_ok(registry_challenge_parse(
		      "BEARER  Realm = \"http://127.0.0.1:1/t\\\"x\" , Service=reg , "
		      "foo=\"a,b\", scope=\"repository:a/b:pull,push repository:c:pull\", "
		      "error=\"insufficient_scope\"",
		      &c, &err),
		  err);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "http://127.0.0.1:1/t\"x");
	assert_string_equal(c.service, "reg");
	assert_string_equal(c.scope, "repository:a/b:pull,push repository:c:pull");
	assert_string_equal(c.error, "insufficient_scope");
	registry_challenge_free(&c);

	/* An unquoted URL as realm, as some servers send it. */
	assert_ok(registry_challenge_parse("Bearer realm=https://r.example/token?x=1,service=s", &c,
					   &err),
		  err);
	assert_string_equal(c.realm, "https://r.example/token?x=1");
	assert_string_equal(c.service, "s");
	registry_challenge_free(&c);
}

static void test_challenge_several(void **state)
{
	struct registry_challenge c;
	struct ct_error err = CT_ERROR_INIT;

	/* Bearer wins over Basic whatever the order; commas inside quotes don't split. */
	assert_ok(registry_challenge_parse("Basic realm=\"a, b\", Bearer realm=\"https://x/t\", "
					   "service=\"s,1\"",
					   &c, &err),
		  err);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://x/t");
	assert_string_equal(c.service, "s,1");
	registry_challenge_free(&c);

	/* A token68 challenge before a Basic one; an empty list element. */
	assert_ok(registry_challenge_parse("Negotiate YWJj==, , Basic realm=\"Registry Realm\"", &c,
					   &err),
		  err);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "Registry Realm");
	registry_challenge_free(&c);

	/* A scheme without parameters. */
	assert_ok(registry_challenge_parse("Basic", &c, &err), err);
	assert_string_equal(c.scheme, "basic");
	assert_null(c.realm);
	registry_challenge_free(&c);
}

static void test_challenge_malformed(void **state)
{
	struct registry_challenge c;
	struct ct_error err = CT_ERROR_INIT;

	assert_int_equal(registry_challenge_parse("Bearer realm=\"https://x/t", &c, &err), -1);
	assert_err_code(err, CT_ERR_PROTOCOL);
	assert_err_contains(err, "unterminated");
	assert_int_equal(registry_challenge_parse("", &c, &err), -1);
	assert_err_contains(err, "no challenge");
	assert_int_equal(registry_challenge_parse("=abc", &c, &err), -1);
	assert_int_equal(registry_challenge_parse("Bearer realm=\"x\" junk=", &c, &err), -1);
	assert_int_equal(registry_challenge_parse("Bearer realm=\"x\\", &c, &err), -1);
	assert_null(c.scheme);
	ct_error_clear(&err);
}

static void test_insecure_default(void **state)
{
	static const char *const yes[] = {"localhost",	    "localhost:5000",
					  "127.0.0.1",	    "127.1.2.3:80",
					  "10.0.0.1:5000",  "172.16.0.1",
					  "172.31.255.255", "192.168.1.1:443",
					  "[::1]:5000",	    "::1",
					  "[fd00::1]:5000", "registry.localhost:5000"};
	static const char *const no[] = {"docker.io",
					 "registry-1.docker.io",
					 "172.32.0.1",
					 "172.15.0.1",
					 "192.169.0.1",
					 "8.8.8.8:5000",
					 "[2001:db8::1]:5000",
					 "localhost.example.com",
					 "",
					 "11.0.0.1",
					 "quay.io:443"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!registry_host_is_insecure_default(yes[i]))
			fail_msg("%s should default to http", yes[i]);
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (registry_host_is_insecure_default(no[i]))
			fail_msg("%s should default to https", no[i]);
}

static void test_client_options(void **state)
{
	struct registry_client *rc = NULL;
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *empty = path_in("certs-empty");
	struct registry_options opts = {.certs_dir = empty};

	assert_ok(registry_client_new("127.0.0.1:5000", &opts, NULL, &rc, &err), err);
	assert_string_equal(registry_client_scheme(rc), "http");
	registry_client_free(rc);
	assert_ok(registry_client_new("docker.io", &opts, NULL, &rc, &err), err);
	assert_string_equal(registry_client_scheme(rc), "https");
	assert_string_equal(registry_client_host(rc), "docker.io");
	registry_client_free(rc);
	opts.scheme = "ftp";
	assert_int_equal(registry_client_new("x.io", &opts, NULL, &rc, &err), -1);
	assert_err_code(err, CT_ERR_INVALID_ARGUMENT);
	opts.scheme = NULL;
	assert_int_equal(registry_client_new("x.io/evil", &opts, NULL, &rc, &err), -1);
	assert_null(rc);
	ct_error_clear(&err);
}

/* ---- scripted servers --------------------------------------------------------------- */

static void test_resume_with_range(void **state)
{
	size_t len = 300001;
	_cleanup_free_ char *blob = random_bytes(len, 42);
	char digest[OCI_DIGEST_STRING_MAX];
	struct mini_server *s = mini_start(MINI_RESUME);
	_cleanup_free_ char *host = mini_host(s);
	struct registry_client *rc = client_for(host, "http", NULL, NULL, NULL);
	struct sink sink = {0};
	struct ct_error err = CT_ERROR_INIT;

	s->blob = blob;
	s->blob_len = len;
	digest_of(blob, len, digest);
	assert_ok(registry_get_blob(rc, "test/blob", digest, (int64_t)len, sink_write, sink_restart,
				    &sink, &err),
		  err);
	assert_int_equal(sink.restarts, 0);
	assert_int_equal(sink.len, len);
	assert_memory_equal(sink.data, blob, len);
	assert_int_equal(atomic_load(&s->blob_gets), 2);
	free(sink.data);
	registry_client_free(rc);
	mini_stop(s);
}

static void test_resume_range_ignored(void **state)
{
	size_t len = 200003;
	_cleanup_free_ char *blob = random_bytes(len, 43);
	char digest[OCI_DIGEST_STRING_MAX];
	struct mini_server *s = mini_start(MINI_IGNORE_RANGE);
	_cleanup_free_ char *host = mini_host(s);
	struct registry_client *rc = client_for(host, "http", NULL, NULL, NULL);
	struct sink sink = {0};
	struct ct_error err = CT_ERROR_INIT;

	s->blob = blob;
	s->blob_len = len;
	digest_of(blob, len, digest);
	assert_ok(registry_get_blob(rc, "test/blob", digest, (int64_t)len, sink_write, sink_restart,
				    &sink, &err),
		  err);
	assert_int_equal(sink.restarts, 1);
	assert_int_equal(sink.len, len);
	assert_memory_equal(sink.data, blob, len);
	free(sink.data);

	/* Without a restart callback the client can't take the whole blob again. */
	memset(&sink, 0, sizeof(sink));
	atomic_store(&s->blob_gets, 0);
	assert_int_equal(
	    registry_get_blob(rc, "test/blob", digest, (int64_t)len, sink_write, NULL, &sink, &err),
	    -1);
	assert_err_contains(err, "ignored the range request");
	free(sink.data);
	ct_error_clear(&err);
	registry_client_free(rc);
	mini_stop(s);
}

static void test_retry_on_503(void **state)
{
	struct mini_server *s = mini_start(MINI_FLAKY);
	_cleanup_free_ char *host = mini_host(s);
	struct registry_client *rc = client_for(host, "http", NULL, NULL, NULL);
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *body = NULL, *mt = NULL, *digest = NULL;
	size_t len = 0;

	s->manifest = "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\"}";
	digest_of(s->manifest, strlen(s->manifest), s->manifest_digest);
	s->failures = 2;
	assert_ok(registry_get_manifest(rc, "a/b", "v1", NULL, &body, &len, &mt, &digest, &err),
		  err);
	assert_int_equal(atomic_load(&s->requests), 3);
	assert_string_equal(body, s->manifest);
	assert_string_equal(mt, OCI_MEDIA_TYPE_MANIFEST);
	assert_string_equal(digest, s->manifest_digest);
	free(body);
	body = NULL;
	registry_client_free(rc);

	/* More failures than retries: an error that says so, after 1 + max_retries tries. */
	atomic_store(&s->requests, 0);
	s->failures = 100;
	{
		_cleanup_free_ char *empty = path_in("certs-empty");
		struct registry_options opts = {
		    .scheme = "http", .certs_dir = empty, .max_retries = 2, .retry_delay_ms = 1};

		assert_ok(registry_client_new(host, &opts, NULL, &rc, &err), err);
	}
	assert_int_equal(
	    registry_get_manifest(rc, "a/b", "v1", NULL, &body, &len, &mt, &digest, &err), -1);
	assert_err_code(err, CT_ERR_UNAVAILABLE);
	assert_err_contains(err, "try later (503 UNAVAILABLE)");
	assert_int_equal(atomic_load(&s->requests), 3);
	ct_error_clear(&err);
	registry_client_free(rc);
	mini_stop(s);
}

static void test_no_retry_on_404(void **state)
{
	struct mini_server *s = mini_start(MINI_NOT_FOUND);
	_cleanup_free_ char *host = mini_host(s);
	struct registry_client *rc = client_for(host, "http", NULL, NULL, NULL);
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *body = NULL, *want = NULL;

	assert_int_equal(
	    registry_get_manifest(rc, "busybox", "latest", NULL, &body, NULL, NULL, NULL, &err),
	    -1);
	assert_null(body);
	assert_err_code(err, CT_ERR_NOT_FOUND);
	want =
	    xasprintf("%s/busybox: manifest latest: manifest unknown (404 MANIFEST_UNKNOWN)", host);
	assert_string_equal(err.message, want);
	assert_int_equal(atomic_load(&s->requests), 1);
	ct_error_clear(&err);
	registry_client_free(rc);
	mini_stop(s);
}

static void test_redirect_drops_auth(void **state)
{
	size_t len = 70000;
	_cleanup_free_ char *blob = random_bytes(len, 44);
	char digest[OCI_DIGEST_STRING_MAX];
	struct mini_server *reg = mini_start(MINI_REDIRECT), *storage = mini_start(MINI_STORAGE);
	_cleanup_free_ char *host = mini_host(reg);
	struct registry_client *rc = client_for(host, "http", NULL, USERNAME, PASSWORD);

	reg->redirect_port = storage->port;
	storage->blob = blob;
	storage->blob_len = len;
	digest_of(blob, len, digest);
	pull_blob_equal(rc, "test/blob", digest, blob, len);
	/* 401, then 307 with credentials; the storage origin never sees them. */
	assert_int_equal(atomic_load(&reg->requests), 2);
	assert_int_equal(atomic_load(&reg->with_auth), 1);
	assert_int_equal(atomic_load(&storage->requests), 1);
	assert_int_equal(atomic_load(&storage->with_auth), 0);
	registry_client_free(rc);
	mini_stop(reg);
	mini_stop(storage);
}

static void test_bad_content(void **state)
{
	size_t len = 50000;
	_cleanup_free_ char *blob = random_bytes(len, 45);
	char digest[OCI_DIGEST_STRING_MAX];
	struct mini_server *bad = mini_start(MINI_BAD_DIGEST), *big = mini_start(MINI_TOO_BIG);
	_cleanup_free_ char *bad_host = mini_host(bad), *big_host = mini_host(big);
	struct registry_client *rc_bad = client_for(bad_host, "http", NULL, NULL, NULL);
	struct registry_client *rc_big = client_for(big_host, "http", NULL, NULL, NULL);
	struct ct_error err = CT_ERROR_INIT;
	struct sink sink = {0};
	_cleanup_free_ char *body = NULL;

	bad->blob = big->blob = blob;
	bad->blob_len = big->blob_len = len;
	digest_of(blob, len, digest);

	assert_int_equal(registry_get_blob(rc_bad, "a", digest, (int64_t)len, sink_write,
					   sink_restart, &sink, &err),
			 -1);
	assert_err_code(err, CT_ERR_PROTOCOL);
	assert_err_contains(err, "has digest sha256:");
	free(sink.data);
	memset(&sink, 0, sizeof(sink));

	/* More bytes than expected: refused before the surplus reaches the writer. */
	assert_int_equal(registry_get_blob(rc_big, "a", digest, (int64_t)len, sink_write,
					   sink_restart, &sink, &err),
			 -1);
	assert_err_code(err, CT_ERR_PROTOCOL);
	assert_err_contains(err, "more than the expected");
	assert_true(sink.len <= len);
	free(sink.data);
	memset(&sink, 0, sizeof(sink));

	/* A writer that fails stops the download with its own error, not retried. */
	sink.fail_after = 1000;
	assert_int_equal(
	    registry_get_blob(rc_bad, "a", digest, -1, sink_write, sink_restart, &sink, &err), -1);
	assert_err_code(err, CT_ERR_CANCELLED);
	free(sink.data);

	/* Manifests are limited to 4 MiB. */
	assert_int_equal(
	    registry_get_manifest(rc_big, "a", "latest", NULL, &body, NULL, NULL, NULL, &err), -1);
	assert_err_contains(err, "larger than the 4194304 byte limit");
	assert_null(body);
	ct_error_clear(&err);
	registry_client_free(rc_bad);
	registry_client_free(rc_big);
	mini_stop(bad);
	mini_stop(big);
}

static void test_connection_refused(void **state)
{
	int port = free_port();
	_cleanup_free_ char *host = xasprintf("127.0.0.1:%d", port);
	_cleanup_free_ char *empty = path_in("certs-empty");
	struct registry_options opts = {
	    .scheme = "http", .certs_dir = empty, .max_retries = 2, .retry_delay_ms = 1};
	struct registry_client *rc = NULL;
	struct ct_error err = CT_ERROR_INIT;

	assert_ok(registry_client_new(host, &opts, NULL, &rc, &err), err);
	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_code(err, CT_ERR_UNAVAILABLE);
	assert_err_contains(err, "cannot connect to");
	assert_err_contains(err, host);
	ct_error_clear(&err);
	registry_client_free(rc);
}

/* ---- docker-registry: plain HTTP ---------------------------------------------------- */

static void test_plain_ping(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	struct ct_error err = CT_ERROR_INIT;

	assert_ok(registry_ping(rc, &err), err);
	registry_client_free(rc);
}

static void test_plain_blob_monolithic(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	size_t len = 1000003;
	_cleanup_free_ char *blob = random_bytes(len, 1);
	char digest[OCI_DIGEST_STRING_MAX];
	struct ct_error err = CT_ERROR_INIT;
	int64_t size = 0;

	digest_of(blob, len, digest);
	assert_int_equal(registry_blob_exists(rc, "mono/blob", digest, &size, &err), 0);
	push_blob(rc, "mono/blob", blob, len, 0, digest);
	assert_int_equal(registry_blob_exists(rc, "mono/blob", digest, &size, &err), 1);
	assert_int_equal(size, (int64_t)len);
	pull_blob_equal(rc, "mono/blob", digest, blob, len);

	/* An empty blob. */
	push_blob(rc, "mono/blob", "", 0, 0, digest);
	pull_blob_equal(rc, "mono/blob", digest, "", 0);
	registry_client_free(rc);
}

static void test_plain_blob_chunked(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	size_t len = 300000; /* 4 chunks of 65536 and a short one */
	_cleanup_free_ char *blob = random_bytes(len, 2);
	char digest[OCI_DIGEST_STRING_MAX];
	struct ct_error err = CT_ERROR_INIT;
	struct source src = {.data = blob, .len = len};
	int64_t size = 0;

	push_blob(rc, "chunked/blob", blob, len, 65536, digest);
	assert_int_equal(registry_blob_exists(rc, "chunked/blob", digest, &size, &err), 1);
	assert_int_equal(size, (int64_t)len);
	pull_blob_equal(rc, "chunked/blob", digest, blob, len);

	/* One chunk bigger than the blob. */
	push_blob(rc, "chunked/one", blob, 1000, 65536, digest);
	pull_blob_equal(rc, "chunked/one", digest, blob, 1000);

	/* A digest that does not match the bytes is refused by the registry. */
	digest_of("other", 5, digest);
	assert_int_equal(registry_put_blob(rc, "chunked/bad", digest, (int64_t)len, source_read,
					   &src, 100000, &err),
			 -1);
	assert_err_contains(err, "DIGEST_INVALID");
	/* A reader shorter than the size given. */
	src.pos = 0;
	digest_of(blob, len, digest);
	assert_int_equal(registry_put_blob(rc, "chunked/bad", digest, (int64_t)len + 10,
					   source_read, &src, 100000, &err),
			 -1);
	assert_err_contains(err, "ended after 300000 of its 300010 bytes");
	src.pos = 0;
	assert_int_equal(registry_put_blob(rc, "chunked/bad", digest, (int64_t)len + 10,
					   source_read, &src, 0, &err),
			 -1);
	assert_err_contains(err, "ended after 300000 of its 300010 bytes");
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_plain_blob_wrong_size(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	size_t len = 100000;
	_cleanup_free_ char *blob = random_bytes(len, 3);
	char digest[OCI_DIGEST_STRING_MAX];
	struct ct_error err = CT_ERROR_INIT;
	struct sink sink = {0};

	push_blob(rc, "size/blob", blob, len, 0, digest);
	assert_int_equal(registry_get_blob(rc, "size/blob", digest, (int64_t)len - 1, sink_write,
					   sink_restart, &sink, &err),
			 -1);
	assert_err_code(err, CT_ERR_PROTOCOL);
	assert_err_contains(err, "more than the expected 99999");
	free(sink.data);
	memset(&sink, 0, sizeof(sink));
	assert_int_equal(registry_get_blob(rc, "size/blob", digest, (int64_t)len + 1, sink_write,
					   sink_restart, &sink, &err),
			 -1);
	assert_err_code(err, CT_ERR_PROTOCOL);
	assert_err_contains(err, "sent 100000 bytes, expected 100001");
	free(sink.data);
	memset(&sink, 0, sizeof(sink));

	/* Unknown blob. */
	digest_of("nothing", 7, digest);
	assert_int_equal(
	    registry_get_blob(rc, "size/blob", digest, -1, sink_write, sink_restart, &sink, &err),
	    -1);
	assert_err_code(err, CT_ERR_NOT_FOUND);
	assert_err_contains(err, "(404 BLOB_UNKNOWN)");
	assert_int_equal(sink.len, 0);
	free(sink.data);
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_plain_manifest(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	char digest[OCI_DIGEST_STRING_MAX];
	_cleanup_free_ char *manifest = push_image(rc, "app/one", "v1", digest);
	_cleanup_free_ char *body = NULL, *mt = NULL, *got = NULL, *idx_digest = NULL;
	_cleanup_free_ char *index = NULL;
	struct ct_error err = CT_ERROR_INIT;
	size_t len = 0;
	static const char *const accept_oci[] = {OCI_MEDIA_TYPE_MANIFEST, OCI_MEDIA_TYPE_INDEX,
						 NULL};

	/* By tag. */
	assert_ok(registry_get_manifest(rc, "app/one", "v1", NULL, &body, &len, &mt, &got, &err),
		  err);
	assert_int_equal(len, strlen(manifest));
	assert_string_equal(body, manifest);
	assert_string_equal(mt, OCI_MEDIA_TYPE_MANIFEST);
	assert_string_equal(got, digest);
	free(body);
	free(mt);
	free(got);
	body = mt = got = NULL;

	/* By digest, with an explicit Accept list. */
	assert_ok(
	    registry_get_manifest(rc, "app/one", digest, accept_oci, &body, &len, &mt, &got, &err),
	    err);
	assert_string_equal(body, manifest);
	assert_string_equal(got, digest);

	/* An index pointing at it, pushed by digest. */
	index = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{"
			  "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{"
			  "\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
			  OCI_MEDIA_TYPE_INDEX, OCI_MEDIA_TYPE_MANIFEST, digest, strlen(manifest));
	{
		char want[OCI_DIGEST_STRING_MAX];
		_cleanup_free_ char *ibody = NULL, *imt = NULL;

		digest_of(index, strlen(index), want);
		assert_ok(registry_put_manifest(rc, "app/one", want, OCI_MEDIA_TYPE_INDEX, index,
						strlen(index), &idx_digest, &err),
			  err);
		assert_string_equal(idx_digest, want);
		assert_ok(registry_get_manifest(rc, "app/one", want, NULL, &ibody, NULL, &imt, NULL,
						&err),
			  err);
		assert_string_equal(imt, OCI_MEDIA_TYPE_INDEX);
		assert_string_equal(ibody, index);
	}

	/* A digest reference that does not match the body is refused before sending. */
	assert_int_equal(registry_put_manifest(rc, "app/one", digest, OCI_MEDIA_TYPE_INDEX, index,
					       strlen(index), NULL, &err),
			 -1);
	assert_err_contains(err, "the manifest's digest is");

	/* A manifest naming a blob the repository lacks. */
	{
		char missing[OCI_DIGEST_STRING_MAX];
		_cleanup_free_ char *bad = NULL;

		digest_of("missing", 7, missing);
		bad = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
				"\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":7},\"layers\":[]}",
				OCI_MEDIA_TYPE_MANIFEST, OCI_MEDIA_TYPE_CONFIG, missing);
		assert_int_equal(registry_put_manifest(rc, "app/one", "bad",
						       OCI_MEDIA_TYPE_MANIFEST, bad, strlen(bad),
						       NULL, &err),
				 -1);
		assert_err_contains(err, "app/one: pushing manifest bad:");
		assert_err_contains(err, "MANIFEST_BLOB_UNKNOWN");
	}
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_plain_manifest_not_found(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *body = NULL, *want = NULL;
	char digest[OCI_DIGEST_STRING_MAX];

	assert_int_equal(
	    registry_get_manifest(rc, "busybox", "latest", NULL, &body, NULL, NULL, NULL, &err),
	    -1);
	assert_err_code(err, CT_ERR_NOT_FOUND);
	want = xasprintf("%s/busybox: manifest latest: manifest unknown (404 MANIFEST_UNKNOWN)",
			 registries[REG_PLAIN].host);
	assert_string_equal(err.message, want);

	digest_of("x", 1, digest);
	assert_int_equal(
	    registry_get_manifest(rc, "busybox", digest, NULL, &body, NULL, NULL, NULL, &err), -1);
	assert_err_code(err, CT_ERR_NOT_FOUND);
	assert_err_contains(err, "(404 MANIFEST_UNKNOWN)");
	assert_int_equal(
	    registry_get_manifest(rc, "busybox", "sha256:zz", NULL, &body, NULL, NULL, NULL, &err),
	    -1);
	assert_err_code(err, CT_ERR_INVALID_ARGUMENT);
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_plain_mount(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	size_t len = 20000;
	_cleanup_free_ char *blob = random_bytes(len, 4);
	char digest[OCI_DIGEST_STRING_MAX], other[OCI_DIGEST_STRING_MAX];
	struct ct_error err = CT_ERROR_INIT;

	push_blob(rc, "mount/src", blob, len, 0, digest);
	assert_int_equal(registry_blob_exists(rc, "mount/dst", digest, NULL, &err), 0);
	assert_int_equal(registry_mount_blob(rc, "mount/dst", digest, "mount/src", &err), 1);
	assert_int_equal(registry_blob_exists(rc, "mount/dst", digest, NULL, &err), 1);
	pull_blob_equal(rc, "mount/dst", digest, blob, len);

	/* A blob the source doesn't have: not mounted, the caller uploads. */
	digest_of("absent", 6, other);
	assert_int_equal(registry_mount_blob(rc, "mount/dst", other, "mount/src", &err), 0);
	registry_client_free(rc);
}

struct parallel_job {
	struct registry_client *rc;
	const char *digest;
	const char *data;
	size_t len;
	int ok;
};

static void *parallel_pull(void *arg)
{
	struct parallel_job *j = arg;
	struct ct_error err = CT_ERROR_INIT;

	for (int i = 0; i < 5; i++) {
		struct sink sink = {0};

		if (registry_get_blob(j->rc, "parallel/blob", j->digest, (int64_t)j->len,
				      sink_write, sink_restart, &sink, &err) == 0 &&
		    sink.len == j->len && memcmp(sink.data, j->data, j->len) == 0)
			j->ok++;
		free(sink.data);
		ct_error_clear(&err);
	}
	return NULL;
}

static void test_plain_parallel(void **state)
{
	struct registry_client *rc = client_of(REG_PLAIN, false);
	size_t len = 500000;
	_cleanup_free_ char *blob = random_bytes(len, 5);
	char digest[OCI_DIGEST_STRING_MAX];
	struct parallel_job jobs[6];
	pthread_t threads[6];

	push_blob(rc, "parallel/blob", blob, len, 0, digest);
	for (int i = 0; i < 6; i++) {
		jobs[i] = (struct parallel_job){rc, digest, blob, len, 0};
		assert_int_equal(pthread_create(&threads[i], NULL, parallel_pull, &jobs[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(jobs[i].ok, 5);
	}
	registry_client_free(rc);
}

/* ---- docker-registry: htpasswd Basic auth ------------------------------------------- */

static void test_basic_auth(void **state)
{
	struct registry_client *rc = client_of(REG_BASIC, true);
	struct ct_error err = CT_ERROR_INIT;
	char digest[OCI_DIGEST_STRING_MAX];
	_cleanup_free_ char *manifest = NULL, *body = NULL;
	size_t len = 70000;
	_cleanup_free_ char *blob = random_bytes(len, 6);

	assert_ok(registry_ping(rc, &err), err);
	push_blob(rc, "basic/blob", blob, len, 0, digest);
	pull_blob_equal(rc, "basic/blob", digest, blob, len);
	push_blob(rc, "basic/blob", blob, len, 30000, digest);
	manifest = push_image(rc, "basic/img", "1", digest);
	assert_ok(registry_get_manifest(rc, "basic/img", "1", NULL, &body, NULL, NULL, NULL, &err),
		  err);
	assert_string_equal(body, manifest);
	registry_client_free(rc);
}

static void test_basic_wrong_password(void **state)
{
	struct registry_client *rc =
	    client_for(registries[REG_BASIC].host, "http", NULL, USERNAME, "not-the-password");
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *body = NULL;

	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	assert_err_contains(err, "wrong username or password");
	assert_err_contains(err, registries[REG_BASIC].host);
	assert_int_equal(
	    registry_get_manifest(rc, "basic/img", "1", NULL, &body, NULL, NULL, NULL, &err), -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	assert_err_contains(err, "wrong username or password");
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_basic_no_credentials(void **state)
{
	struct registry_client *rc = client_of(REG_BASIC, false);
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *want = NULL;

	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	want = xasprintf("%s: authentication required (401 UNAUTHORIZED): log in with `container "
			 "registry login %s`",
			 registries[REG_BASIC].host, registries[REG_BASIC].host);
	assert_string_equal(err.message, want);
	ct_error_clear(&err);
	registry_client_free(rc);
}

/* ---- docker-registry: TLS ----------------------------------------------------------- */

static void test_tls_with_ca(void **state)
{
	struct registry_client *rc = client_of(REG_TLS, false);
	struct ct_error err = CT_ERROR_INIT;
	char digest[OCI_DIGEST_STRING_MAX];
	size_t len = 250000;
	_cleanup_free_ char *blob = random_bytes(len, 7);
	_cleanup_free_ char *manifest = NULL;

	assert_string_equal(registry_client_scheme(rc), "https");
	assert_ok(registry_ping(rc, &err), err);
	push_blob(rc, "tls/blob", blob, len, 100000, digest);
	pull_blob_equal(rc, "tls/blob", digest, blob, len);
	manifest = push_image(rc, "tls/img", "1", digest);
	registry_client_free(rc);

	/* CONTAINER_CERTS_DIR is where the client looks when the options don't say. */
	{
		_cleanup_free_ char *certs = path_in("certs-tls");
		struct registry_options opts = {.scheme = "https", .retry_delay_ms = 1};

		setenv("CONTAINER_CERTS_DIR", certs, 1);
		assert_ok(registry_client_new(registries[REG_TLS].host, &opts, NULL, &rc, &err),
			  err);
		unsetenv("CONTAINER_CERTS_DIR");
		assert_ok(registry_ping(rc, &err), err);
		registry_client_free(rc);
	}
}

static void test_tls_without_ca(void **state)
{
	struct registry_client *rc =
	    client_for(registries[REG_TLS].host, "https", NULL, NULL, NULL);
	struct ct_error err = CT_ERROR_INIT;

	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_code(err, CT_ERR_UNAVAILABLE);
	assert_err_contains(err, "TLS certificate of");
	assert_err_contains(err, "not trusted");
	assert_err_contains(err, "ca.crt");
	registry_client_free(rc);

	/* Plain HTTP against a TLS port. */
	rc = client_for(registries[REG_TLS].host, "http", NULL, NULL, NULL);
	assert_int_equal(registry_ping(rc, &err), -1);
	ct_error_clear(&err);
	registry_client_free(rc);

	/* https against a plain HTTP registry: a handshake error that suggests --scheme http. */
	rc = client_for(registries[REG_PLAIN].host, "https", NULL, NULL, NULL);
	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_contains(err, "--scheme http");
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_tls_client_certificate(void **state)
{
	struct registry_client *rc = client_of(REG_MTLS, false);
	struct ct_error err = CT_ERROR_INIT;
	char digest[OCI_DIGEST_STRING_MAX];
	size_t len = 5000;
	_cleanup_free_ char *blob = random_bytes(len, 8);
	_cleanup_free_ char *nocert = path_in("certs-mtls-nocert");

	assert_ok(registry_ping(rc, &err), err);
	push_blob(rc, "mtls/blob", blob, len, 0, digest);
	pull_blob_equal(rc, "mtls/blob", digest, blob, len);
	registry_client_free(rc);

	rc = client_for(registries[REG_MTLS].host, "https", nocert, NULL, NULL);
	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	assert_err_contains(err, "client certificate");
	assert_err_contains(err, "client.cert");
	ct_error_clear(&err);
	registry_client_free(rc);
}

/* ---- docker-registry: token auth ---------------------------------------------------- */

static void test_token_auth(void **state)
{
	struct registry_client *rc = client_of(REG_TOKEN, true);
	struct ct_error err = CT_ERROR_INIT;
	char digest[OCI_DIGEST_STRING_MAX], mdigest[OCI_DIGEST_STRING_MAX];
	size_t len = 123457;
	_cleanup_free_ char *blob = random_bytes(len, 9);
	_cleanup_free_ char *manifest = NULL;
	int tokens;

	atomic_store(&token_server->requests, 0);
	assert_ok(registry_ping(rc, &err), err);
	assert_int_equal(atomic_load(&token_server->requests), 1);

	push_blob(rc, "tok/blob", blob, len, 50000, digest);
	pull_blob_equal(rc, "tok/blob", digest, blob, len);
	manifest = push_image(rc, "tok/img", "v1", mdigest);

	/* Tokens are cached per scope: pulling again asks for none. */
	tokens = atomic_load(&token_server->requests);
	pull_blob_equal(rc, "tok/blob", digest, blob, len);
	{
		_cleanup_free_ char *body = NULL, *mt = NULL;

		assert_ok(
		    registry_get_manifest(rc, "tok/img", "v1", NULL, &body, NULL, &mt, NULL, &err),
		    err);
		assert_string_equal(body, manifest);
	}
	assert_int_equal(atomic_load(&token_server->requests), tokens + 1 /* tok/img pull */);

	/* Mount across repositories: one token for push here and pull there. */
	assert_int_equal(registry_mount_blob(rc, "tok/other", digest, "tok/blob", &err), 1);
	pull_blob_equal(rc, "tok/other", digest, blob, len);
	registry_client_free(rc);
}

static void test_token_access_token_and_refresh(void **state)
{
	struct registry_client *rc = client_of(REG_TOKEN, true);
	struct ct_error err = CT_ERROR_INIT;
	char digest[OCI_DIGEST_STRING_MAX];
	size_t len = 1000;
	_cleanup_free_ char *blob = random_bytes(len, 10);

	token_server->access_token_field = true;
	push_blob(rc, "tok/refresh", blob, len, 0, digest);

	/* The next token the issuer hands out has already expired although it claims 300 s:
	 * the registry refuses it, the client fetches a fresh one once and succeeds. */
	registry_client_free(rc);
	rc = client_of(REG_TOKEN, true);
	atomic_store(&token_server->requests, 0);
	atomic_store(&token_server->first_token_expired, true);
	pull_blob_equal(rc, "tok/refresh", digest, blob, len);
	assert_int_equal(atomic_load(&token_server->requests), 2);
	token_server->access_token_field = false;
	registry_client_free(rc);
	ct_error_clear(&err);
}

static void test_token_wrong_password(void **state)
{
	struct registry_client *rc =
	    client_for(registries[REG_TOKEN].host, "http", NULL, USERNAME, "wrong");
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *body = NULL;

	assert_int_equal(registry_ping(rc, &err), -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	assert_err_contains(err, "wrong username or password");
	assert_err_contains(err, "getting a token from http://127.0.0.1:");
	registry_client_free(rc);

	/* Anonymous: the issuer refuses, and the message says how to log in. */
	rc = client_of(REG_TOKEN, false);
	assert_int_equal(
	    registry_get_manifest(rc, "tok/img", "v1", NULL, &body, NULL, NULL, NULL, &err), -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	assert_err_contains(err, "container registry login");
	ct_error_clear(&err);
	registry_client_free(rc);
}

static void test_token_insufficient_scope(void **state)
{
	struct registry_client *rc = client_of(REG_TOKEN, true);
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *body = NULL;

	assert_int_equal(
	    registry_get_manifest(rc, "forbidden/img", "v1", NULL, &body, NULL, NULL, NULL, &err),
	    -1);
	assert_err_code(err, CT_ERR_PERMISSION_DENIED);
	assert_err_contains(err, "(401 UNAUTHORIZED)");
	assert_err_contains(err, "does not grant \"repository:forbidden/img:pull\"");
	ct_error_clear(&err);
	registry_client_free(rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_challenge_bearer),
	    cmocka_unit_test(test_challenge_several),
	    cmocka_unit_test(test_challenge_malformed),
	    cmocka_unit_test(test_insecure_default),
	    cmocka_unit_test(test_client_options),
	    cmocka_unit_test(test_resume_with_range),
	    cmocka_unit_test(test_resume_range_ignored),
	    cmocka_unit_test(test_retry_on_503),
	    cmocka_unit_test(test_no_retry_on_404),
	    cmocka_unit_test(test_redirect_drops_auth),
	    cmocka_unit_test(test_bad_content),
	    cmocka_unit_test(test_connection_refused),
	    cmocka_unit_test(test_plain_ping),
	    cmocka_unit_test(test_plain_blob_monolithic),
	    cmocka_unit_test(test_plain_blob_chunked),
	    cmocka_unit_test(test_plain_blob_wrong_size),
	    cmocka_unit_test(test_plain_manifest),
	    cmocka_unit_test(test_plain_manifest_not_found),
	    cmocka_unit_test(test_plain_mount),
	    cmocka_unit_test(test_plain_parallel),
	    cmocka_unit_test(test_basic_auth),
	    cmocka_unit_test(test_basic_wrong_password),
	    cmocka_unit_test(test_basic_no_credentials),
	    cmocka_unit_test(test_tls_with_ca),
	    cmocka_unit_test(test_tls_without_ca),
	    cmocka_unit_test(test_tls_client_certificate),
	    cmocka_unit_test(test_token_auth),
	    cmocka_unit_test(test_token_access_token_and_refresh),
	    cmocka_unit_test(test_token_wrong_password),
	    cmocka_unit_test(test_token_insufficient_scope),
	};

	atexit(cleanup_at_exit);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
