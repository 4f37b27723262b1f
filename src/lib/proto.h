/* Messages of the protocol (DESIGN.md):
 *   request  {"route": "container.create", "id": 7, "body": {…}}
 *   reply    {"id": 7, "body": {…}}
 *   error    {"id": 7, "error": {"code": "notFound", "message": "…"}}
 *   progress {"id": 7, "progress": {…}}   (zero or more before the reply)
 * An error about a frame whose id could not be read carries "id": null. */
#ifndef CONTAINER_PROTO_H
#define CONTAINER_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define CT_PROTOCOL_VERSION 1
/* Route names are short dotted words; anything longer is refused before lookup. */
#define CT_ROUTE_MAX 128

enum ct_msg_kind {
	CT_MSG_REQUEST,
	CT_MSG_REPLY,
	CT_MSG_ERROR,
	CT_MSG_PROGRESS,
};

struct ct_msg {
	enum ct_msg_kind kind;
	bool has_id;
	int64_t id;
	const char *route;	   /* request */
	json_t *body;		   /* request/reply body, progress object (borrowed) */
	const char *error_code;	   /* error */
	const char *error_message; /* error */
};

/* The constructors take ownership of body/progress (may be NULL = {}). */
json_t *ct_msg_request(const char *route, int64_t id, json_t *body);
json_t *ct_msg_reply(int64_t id, json_t *body);
json_t *ct_msg_progress(int64_t id, json_t *progress);
/* has_id false writes "id": null. */
json_t *ct_msg_error(bool has_id, int64_t id, const char *code, const char *message);

/* Classifies and type-checks a received object; fields borrow from root. */
int ct_msg_parse(json_t *root, struct ct_msg *out, struct ct_error *err);

/* Maps a protocol error code to the CLI's exit status (docker's convention: 125
 * for the engine's own failures). */
int ct_error_exit_code(const char *code);

#endif
