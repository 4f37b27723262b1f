/* The protocol's client side: connect to a server socket and make calls. Used by
 * the CLI, by tests and benchmarks, and by plugins that call the API server. */
#ifndef CONTAINER_CLIENT_H
#define CONTAINER_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

struct ct_client {
	int fd;
	int64_t next_id;
	char *path;
};

/* Called for each progress frame; a negative return cancels the wait (the call
 * then fails with code "cancelled"). */
typedef int (*ct_progress_fn)(json_t *progress, void *data);

struct ct_call_options {
	const int *fds; /* sent with the request */
	size_t nfds;
	int timeout_ms; /* 0: wait forever */
	ct_progress_fn progress;
	void *progress_data;
	int *reply_fds; /* receives up to CT_FRAME_MAX_FDS descriptors of the reply */
	size_t *reply_nfds;
};

/* Errors: code "unavailable" when nothing listens at path (the message says so
 * and names the path), "permissionDenied" when the socket can't be opened. */
int ct_client_connect(struct ct_client *c, const char *path, struct ct_error *err);
void ct_client_close(struct ct_client *c);

/* Sends route+body (body borrowed; NULL = {}) and waits for the final reply. An
 * error reply becomes a -1 return with its code and message in err. */
int ct_client_call(struct ct_client *c, const char *route, json_t *body, json_t **reply,
		   const struct ct_call_options *opts, struct ct_error *err);

#endif
