#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void error_store(struct ct_error *err, const char *code, int errnum, char *message)
{
	if (!err) {
		free(message);
		return;
	}
	free(err->message);
	snprintf(err->code, sizeof(err->code), "%s", code ? code : CT_ERR_INTERNAL);
	err->errnum = errnum;
	err->message = message ? message : strdup("out of memory");
}

int ct_error_set(struct ct_error *err, const char *code, int errnum, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	error_store(err, code, errnum, message);
	return -1;
}

int ct_error_errno(struct ct_error *err, const char *code, const char *fmt, ...)
{
	int errnum = errno;
	char *head = NULL, *message = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&head, fmt, ap) < 0)
		head = NULL;
	va_end(ap);
	if (head && asprintf(&message, "%s: %s", head, strerror(errnum)) < 0)
		message = NULL;
	free(head);
	error_store(err, code, errnum, message);
	return -1;
}

int ct_error_prefix(struct ct_error *err, const char *fmt, ...)
{
	char *head = NULL, *message = NULL;
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&head, fmt, ap) < 0)
		head = NULL;
	va_end(ap);
	if (head && asprintf(&message, "%s: %s", head, err->message ? err->message : "unknown error") < 0)
		message = NULL;
	free(head);
	if (message) {
		free(err->message);
		err->message = message;
	}
	if (!err->code[0])
		snprintf(err->code, sizeof(err->code), "%s", CT_ERR_INTERNAL);
	return -1;
}

bool ct_error_is(const struct ct_error *err, const char *code)
{
	return err && strcmp(err->code, code) == 0;
}

void ct_error_clear(struct ct_error *err)
{
	if (!err)
		return;
	free(err->message);
	err->message = NULL;
	err->code[0] = '\0';
	err->errnum = 0;
}

void ct_error_move(struct ct_error *dst, struct ct_error *src)
{
	ct_error_clear(dst);
	*dst = *src;
	src->message = NULL;
	src->code[0] = '\0';
	src->errnum = 0;
}

const char *ct_error_message(const struct ct_error *err)
{
	if (!err || !err->message)
		return "unknown error";
	return err->message;
}
