#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

static json_t *body_or_empty(json_t *body)
{
	return body ? body : json_object();
}

json_t *ct_msg_request(const char *route, int64_t id, json_t *body)
{
	return json_pack("{s:s, s:I, s:o}", "route", route, "id", (json_int_t)id, "body",
			 body_or_empty(body));
}

json_t *ct_msg_reply(int64_t id, json_t *body)
{
	return json_pack("{s:I, s:o}", "id", (json_int_t)id, "body", body_or_empty(body));
}

json_t *ct_msg_progress(int64_t id, json_t *progress)
{
	return json_pack("{s:I, s:o}", "id", (json_int_t)id, "progress", body_or_empty(progress));
}

/* A copy of s that is valid UTF-8: bytes outside ASCII become '?'. For
 * messages that quote what a peer or an image gave us (paths, tar names). */
static char *ascii_only(const char *s)
{
	char *copy = strdup(s ? s : "");

	for (char *p = copy; p && *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return copy;
}

json_t *ct_msg_error(bool has_id, int64_t id, const char *code, const char *message)
{
	/* jansson refuses invalid UTF-8; an error must still be sent. */
	json_t *valid = message ? json_string(message) : NULL;
	if (message && !valid) {
		char *safe = ascii_only(message);
		json_t *m = ct_msg_error(has_id, id, code, safe);
		free(safe);
		return m;
	}
	json_decref(valid);
	return json_pack("{s:o, s:{s:s, s:s}}", "id",
			 has_id ? json_integer(id) : json_null(), "error", "code",
			 code && *code ? code : CT_ERR_INTERNAL, "message",
			 message ? message : "unknown error");
}

int ct_msg_parse(json_t *root, struct ct_msg *out, struct ct_error *err)
{
	json_t *id, *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(root))
		return ct_error_set(err, CT_ERR_PROTOCOL, 0, "message must be a JSON object");

	id = json_object_get(root, "id");
	if (id && json_is_integer(id)) {
		out->has_id = true;
		out->id = json_integer_value(id);
	} else if (id && !json_is_null(id)) {
		return ct_error_set(err, CT_ERR_PROTOCOL, 0, "field \"id\" must be an integer, not %s",
				    ct_json_type_name(id));
	}

	if ((v = json_object_get(root, "route"))) {
		out->kind = CT_MSG_REQUEST;
		if (!json_is_string(v))
			return ct_error_set(err, CT_ERR_PROTOCOL, 0,
					    "field \"route\" must be a string, not %s",
					    ct_json_type_name(v));
		if (!out->has_id)
			return ct_error_set(err, CT_ERR_PROTOCOL, 0,
					    "request has no integer field \"id\"");
		out->route = json_string_value(v);
		if (!*out->route || strlen(out->route) > CT_ROUTE_MAX)
			return ct_error_set(err, CT_ERR_PROTOCOL, 0,
					    "field \"route\" must be 1 to %d characters", CT_ROUTE_MAX);
		v = json_object_get(root, "body");
		if (v && !json_is_object(v) && !json_is_null(v))
			return ct_error_set(err, CT_ERR_PROTOCOL, 0,
					    "field \"body\" must be an object, not %s",
					    ct_json_type_name(v));
		out->body = json_is_object(v) ? v : NULL;
		return 0;
	}
	if ((v = json_object_get(root, "error"))) {
		const char *code = NULL, *message = NULL;
		out->kind = CT_MSG_ERROR;
		if (ct_json_get_string(v, "code", true, &code, "error reply", err) < 0 ||
		    ct_json_get_string(v, "message", true, &message, "error reply", err) < 0) {
			ct_error_prefix(err, "malformed error reply");
			if (err)
				snprintf(err->code, sizeof(err->code), "%s", CT_ERR_PROTOCOL);
			return -1;
		}
		out->error_code = code;
		out->error_message = message;
		return 0;
	}
	if ((v = json_object_get(root, "progress"))) {
		out->kind = CT_MSG_PROGRESS;
		if (!json_is_object(v))
			return ct_error_set(err, CT_ERR_PROTOCOL, 0,
					    "field \"progress\" must be an object, not %s",
					    ct_json_type_name(v));
		out->body = v;
		return 0;
	}
	v = json_object_get(root, "body");
	if (!out->has_id)
		return ct_error_set(err, CT_ERR_PROTOCOL, 0,
				    "message is neither a request, a reply, an error nor progress");
	if (v && !json_is_object(v))
		return ct_error_set(err, CT_ERR_PROTOCOL, 0, "field \"body\" must be an object, not %s",
				    ct_json_type_name(v));
	out->kind = CT_MSG_REPLY;
	out->body = v;
	return 0;
}

int ct_error_exit_code(const char *code)
{
	/* As docker and podman: 126 when the container's command can't be run, 127
	 * when it isn't found, 125 for every failure of the engine itself. */
	if (code && strcmp(code, CT_ERR_CANNOT_RUN) == 0)
		return 126;
	if (code && strcmp(code, CT_ERR_COMMAND_NOT_FOUND) == 0)
		return 127;
	return 125;
}
