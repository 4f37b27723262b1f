/* Registry client: the OCI distribution API (docker registry HTTP API v2) over libcurl.
 *
 * One client talks to one registry host. It is safe to use from several threads at once:
 * each call takes an idle curl handle from the client's pool (a curl handle, and with it
 * its open connections, is only ever used by one thread at a time), and the token cache
 * and the learned authentication scheme sit under a mutex.
 *
 * Authentication: the first request goes out anonymously unless the client already knows
 * the registry's scheme; a 401 names it in WWW-Authenticate. Basic sends the credentials;
 * Bearer fetches a token for the request's scope ("repository:<repo>:pull" or
 * "...:pull,push") from the challenge's realm, with the credentials as Basic auth when
 * there are some, and caches it per scope until it expires. A 401 after a cached token
 * fetches a fresh one, once. Credentials and tokens are never logged.
 *
 * Transport: 5xx, 429 and dropped connections are retried with exponential back-off
 * (Retry-After honoured); a blob download resumes where it broke off with a Range request.
 * Redirects (blob storage) are followed for GET and HEAD, at most 5, and the Authorization
 * header only goes to the registry's own scheme://host:port.
 *
 * TLS: `<certs_dir>/<host[:port]>/` as docker lays it out: every `*.crt` is a CA trusted in
 * addition to the system's, and `NAME.cert` with `NAME.key` is the client certificate.
 *
 * Errors start with the registry and repository they concern and end with the HTTP
 * status and the registry's own error code when it sent one:
 *   "127.0.0.1:5000/busybox: manifest latest: manifest unknown (404 MANIFEST_UNKNOWN)"
 * 401/403 map to CT_ERR_PERMISSION_DENIED, 404 to CT_ERR_NOT_FOUND, 5xx, 429 and network
 * failures to CT_ERR_UNAVAILABLE, a digest or size that does not check out to
 * CT_ERR_PROTOCOL. */
#ifndef CONTAINER_IMAGES_REGISTRY_H
#define CONTAINER_IMAGES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define REGISTRY_DEFAULT_CERTS_DIR   "/etc/container/certs.d"
#define REGISTRY_CERTS_DIR_ENV	     "CONTAINER_CERTS_DIR"
#define REGISTRY_DEFAULT_MAX_RETRIES 4
/* The stall timeout when the options leave it 0: for tests and for hosts behind very
 * slow links (a system property should carry it; see stall_timeout_ms). */
#define REGISTRY_STALL_TIMEOUT_ENV "CONTAINER_REGISTRY_STALL_TIMEOUT_MS"
#define REGISTRY_MANIFEST_MAX	   (4 << 20)

struct registry_client;

/* Both NULL: anonymous. */
struct registry_auth {
	const char *username;
	const char *password; /* a password or an identity token */
};

/* Every field may be left 0/NULL for its default; the whole struct may be NULL. */
struct registry_options {
	/* "http", "https" or "auto" (the default): auto is http for localhost, loopback and
	 * private (RFC 1918, IPv6 ULA) addresses, https for everything else. */
	const char *scheme;
	/* Default: $CONTAINER_CERTS_DIR, else /etc/container/certs.d. */
	const char *certs_dir;
	/* Retries of a failed request after the first attempt: 0 means the default (4); a
	 * negative value means none. A blob download that made progress gets a fresh count. */
	int max_retries;
	long connect_timeout_ms; /* default 30 s */
	long retry_delay_ms;	 /* first back-off, doubled each retry (capped at 10 s); 250 ms */
	/* A transfer that moves less than 1 KiB/s for this long is dropped (and retried; an
	 * attempt that moved less than 64 KiB or was dropped as too slow uses up a retry even
	 * when it made progress). 0: $CONTAINER_REGISTRY_STALL_TIMEOUT_MS, else 60 s. */
	long stall_timeout_ms;
	const char *user_agent; /* default "container/<version>" */
};

/* host: "host[:port]" as written in the image reference ("docker.io" is served by
 * registry-1.docker.io). opts and auth may be NULL; both are copied. */
int registry_client_new(const char *host, const struct registry_options *opts,
			const struct registry_auth *auth, struct registry_client **out,
			struct ct_error *err);
void registry_client_free(struct registry_client *rc);

/* The host as given to registry_client_new, and the scheme in use ("http"/"https"). */
const char *registry_client_host(const struct registry_client *rc);
const char *registry_client_scheme(const struct registry_client *rc);

/* True when --scheme auto means plain http for host[:port]: "localhost" (and
 * *.localhost), 127.0.0.0/8, ::1, 10/8, 172.16/12, 192.168/16 and fc00::/7. Only literal
 * addresses count: names are not resolved. */
bool registry_host_is_insecure_default(const char *host);

/* GET /v2/ with the whole authentication dance, with no repository scope: what
 * `registry login` uses to check credentials. Wrong credentials fail with
 * CT_ERR_PERMISSION_DENIED and a message that says so. */
int registry_ping(struct registry_client *rc, struct ct_error *err);

/* Fetches a manifest or index by tag or digest. accept: NULL-terminated media types
 * (NULL: every OCI and Docker manifest and index type). The body is checked against the
 * reference when that is a digest and against Docker-Content-Digest when the registry
 * sent one; it may be at most REGISTRY_MANIFEST_MAX bytes. *body is NUL-terminated;
 * *media_type is the Content-Type without parameters (or the body's "mediaType" when the
 * registry sent none or a generic JSON type); *digest is "sha256:<hex>" of the body (the
 * reference's algorithm when that is a digest). Any of len, media_type, digest may be
 * NULL. On failure nothing is returned. */
int registry_get_manifest(struct registry_client *rc, const char *repo, const char *reference,
			  const char *const *accept, char **body, size_t *len, char **media_type,
			  char **digest, struct ct_error *err);

/* Receives the next bytes of a blob. A negative return (with err filled) stops the
 * transfer and is what registry_get_blob reports. */
typedef int (*registry_write_fn)(void *ctx, const void *data, size_t len, struct ct_error *err);
/* The server ignored a Range request while resuming: everything written so far must be
 * dropped, the blob starts again at byte 0. */
typedef int (*registry_restart_fn)(void *ctx, struct ct_error *err);

/* Streams a blob to write(): every byte exactly once, in order, also across retries
 * (resumed with Range: bytes=N-; restart() is called when the server answers a resume
 * with the whole blob, and without restart() that is an error). expected_size >= 0: a
 * blob that grows past it is cut off, one that ends short of it is an error. The bytes
 * are checked against digest before success is returned; on a mismatch the error is
 * CT_ERR_PROTOCOL and the caller must discard what it was given. */
int registry_get_blob(struct registry_client *rc, const char *repo, const char *digest,
		      int64_t expected_size, registry_write_fn write, registry_restart_fn restart,
		      void *ctx, struct ct_error *err);

/* HEAD of a blob: 1 when the registry has it (*size, optional, gets its length), 0 when
 * not, negative on error. */
int registry_blob_exists(struct registry_client *rc, const char *repo, const char *digest,
			 int64_t *size, struct ct_error *err);

/* Cross-repository mount: 1 when the registry linked from_repo's blob into repo, 0 when it
 * did not (then the caller uploads; the upload session the registry opened is cancelled),
 * negative on error. */
int registry_mount_blob(struct registry_client *rc, const char *repo, const char *digest,
			const char *from_repo, struct ct_error *err);

/* Fills buf with up to len bytes of the blob being uploaded: the count, 0 at its end, or a
 * negative value after filling err. */
typedef ssize_t (*registry_read_fn)(void *ctx, void *buf, size_t len, struct ct_error *err);

/* Uploads a blob of exactly size bytes, read from read(): chunk_size 0 sends it in one
 * PUT, chunk_size > 0 in PATCH requests of that many bytes and a closing PUT. The
 * registry's digest must match. The start of the upload is retried like any request;
 * once bytes have been read the upload is not (the reader can't be rewound): the caller
 * retries the whole blob. */
int registry_put_blob(struct registry_client *rc, const char *repo, const char *digest,
		      int64_t size, registry_read_fn read, void *ctx, int64_t chunk_size,
		      struct ct_error *err);

/* PUTs a manifest or index under a tag or digest. *digest (optional) gets its
 * "sha256:<hex>"; a reference that is a digest must match the body. */
int registry_put_manifest(struct registry_client *rc, const char *repo, const char *reference,
			  const char *media_type, const char *body, size_t len, char **digest,
			  struct ct_error *err);

/* One WWW-Authenticate challenge, as registry_challenge_parse picked it. */
struct registry_challenge {
	char *scheme; /* lower case: "bearer", "basic", ... */
	char *realm;
	char *service;
	char *scope; /* may hold several scopes separated by spaces */
	char *error; /* "insufficient_scope", "invalid_token", ... */
};

/* Parses a WWW-Authenticate value (RFC 7235: several challenges, comma separated
 * parameters, quoted strings with escapes and commas, token68) and returns the challenge
 * to answer: Bearer before Basic before anything else. Unknown parameters are ignored. */
int registry_challenge_parse(const char *header, struct registry_challenge *out,
			     struct ct_error *err);
void registry_challenge_free(struct registry_challenge *c);

#endif
