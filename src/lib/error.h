/* One error type for the whole project (after crun's libcrun_error_t): a protocol
 * code, the errno that caused it (or 0) and a message that grows context as it is
 * passed up ("pulling layer 2/5: connecting to 127.0.0.1:5000: connection refused").
 *
 * Functions that can fail take `struct ct_error *err` as their last argument and
 * return a negative value after filling it. */
#ifndef CONTAINER_ERROR_H
#define CONTAINER_ERROR_H

#include <stdbool.h>

/* Protocol error codes: they travel in error replies and map to CLI exit codes. */
#define CT_ERR_INTERNAL		 "internal"
#define CT_ERR_INVALID_ARGUMENT	 "invalidArgument"
#define CT_ERR_NOT_FOUND	 "notFound"
#define CT_ERR_EXISTS		 "exists"
#define CT_ERR_CONFLICT		 "conflict"
#define CT_ERR_PERMISSION_DENIED "permissionDenied"
#define CT_ERR_UNAVAILABLE	 "unavailable"
#define CT_ERR_UNSUPPORTED	 "unsupported"
#define CT_ERR_TIMEOUT		 "timeout"
#define CT_ERR_PROTOCOL		 "protocol"
#define CT_ERR_CANCELLED	 "cancelled"
/* A container's command could not be run (exit 126) or was not found (127). */
#define CT_ERR_CANNOT_RUN	 "cannotRun"
#define CT_ERR_COMMAND_NOT_FOUND "commandNotFound"

struct ct_error {
	char code[32];
	int errnum;
	char *message;
};

#define CT_ERROR_INIT {.code = "", .errnum = 0, .message = NULL}

/* Sets the error (replacing any earlier one) and returns -1. */
int ct_error_set(struct ct_error *err, const char *code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Like ct_error_set with the current errno appended as ": strerror". */
int ct_error_errno(struct ct_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends context: "what we were doing: <old message>". Returns -1. */
int ct_error_prefix(struct ct_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool ct_error_is(const struct ct_error *err, const char *code);
void ct_error_clear(struct ct_error *err);
/* Moves src into dst (dst is cleared first); src is left empty. */
void ct_error_move(struct ct_error *dst, struct ct_error *src);
const char *ct_error_message(const struct ct_error *err);

#define _cleanup_error_ __attribute__((cleanup(ct_error_clear)))

#endif
