/* Strict, typed access to JSON objects (jansson). Every getter names the field and
 * the expected type in its error, so a malformed request or manifest is reported
 * precisely instead of being half-read. */
#ifndef CONTAINER_JSON_UTIL_H
#define CONTAINER_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

static inline void cleanup_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(cleanup_json_decrefp)))

/* For each getter: a missing key is an error only when required; then *out is
 * left unchanged (so callers pre-set defaults). A present key of the wrong type is
 * always an error. `what` names the document in messages ("request body"). */
int ct_json_get_string(json_t *obj, const char *key, bool required, const char **out,
		       const char *what, struct ct_error *err);
int ct_json_get_int(json_t *obj, const char *key, bool required, int64_t *out, const char *what,
		    struct ct_error *err);
int ct_json_get_bool(json_t *obj, const char *key, bool required, bool *out, const char *what,
		     struct ct_error *err);
int ct_json_get_object(json_t *obj, const char *key, bool required, json_t **out,
		       const char *what, struct ct_error *err);
int ct_json_get_array(json_t *obj, const char *key, bool required, json_t **out,
		      const char *what, struct ct_error *err);
/* An array of strings as a NULL-terminated, newly allocated vector. */
int ct_json_get_string_array(json_t *obj, const char *key, bool required, char ***out,
			     const char *what, struct ct_error *err);

/* Refuses keys not in the NULL-terminated allow list (strict documents). */
int ct_json_check_keys(json_t *obj, const char *const *allowed, const char *what,
		       struct ct_error *err);

const char *ct_json_type_name(const json_t *j);

#endif
