#include "json_util.h"

#include <string.h>

#include "util.h"

const char *ct_json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static json_t *lookup(json_t *obj, const char *key, bool required, const char *what,
		      struct ct_error *err, int *rc)
{
	json_t *v;

	*rc = 0;
	if (!json_is_object(obj)) {
		*rc = ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s must be a JSON object", what);
		return NULL;
	}
	v = json_object_get(obj, key);
	if (!v && required)
		*rc = ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: field \"%s\" is missing", what,
				   key);
	return v;
}

static int wrong_type(const char *what, const char *key, const char *want, json_t *v,
		      struct ct_error *err)
{
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: field \"%s\" must be %s, not %s",
			    what, key, want, ct_json_type_name(v));
}

int ct_json_get_string(json_t *obj, const char *key, bool required, const char **out,
		       const char *what, struct ct_error *err)
{
	int rc;
	json_t *v = lookup(obj, key, required, what, err, &rc);

	if (!v)
		return rc;
	if (!json_is_string(v))
		return wrong_type(what, key, "a string", v, err);
	*out = json_string_value(v);
	return 0;
}

int ct_json_get_int(json_t *obj, const char *key, bool required, int64_t *out, const char *what,
		    struct ct_error *err)
{
	int rc;
	json_t *v = lookup(obj, key, required, what, err, &rc);

	if (!v)
		return rc;
	if (!json_is_integer(v))
		return wrong_type(what, key, "an integer", v, err);
	*out = json_integer_value(v);
	return 0;
}

int ct_json_get_bool(json_t *obj, const char *key, bool required, bool *out, const char *what,
		     struct ct_error *err)
{
	int rc;
	json_t *v = lookup(obj, key, required, what, err, &rc);

	if (!v)
		return rc;
	if (!json_is_boolean(v))
		return wrong_type(what, key, "a boolean", v, err);
	*out = json_is_true(v);
	return 0;
}

int ct_json_get_object(json_t *obj, const char *key, bool required, json_t **out,
		       const char *what, struct ct_error *err)
{
	int rc;
	json_t *v = lookup(obj, key, required, what, err, &rc);

	if (!v)
		return rc;
	if (!json_is_object(v))
		return wrong_type(what, key, "an object", v, err);
	*out = v;
	return 0;
}

int ct_json_get_array(json_t *obj, const char *key, bool required, json_t **out,
		      const char *what, struct ct_error *err)
{
	int rc;
	json_t *v = lookup(obj, key, required, what, err, &rc);

	if (!v)
		return rc;
	if (!json_is_array(v))
		return wrong_type(what, key, "an array", v, err);
	*out = v;
	return 0;
}

int ct_json_get_string_array(json_t *obj, const char *key, bool required, char ***out,
			     const char *what, struct ct_error *err)
{
	json_t *arr = NULL, *item;
	size_t i;

	if (ct_json_get_array(obj, key, required, &arr, what, err) < 0)
		return -1;
	if (!arr)
		return 0;
	char **v = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	json_array_foreach (arr, i, item) {
		if (!json_is_string(item)) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: field \"%s\" must hold only strings, item %zu is %s",
					    what, key, i, ct_json_type_name(item));
		}
		v[i] = xstrdup(json_string_value(item));
	}
	*out = v;
	return 0;
}

int ct_json_check_keys(json_t *obj, const char *const *allowed, const char *what,
		       struct ct_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0) {
				ok = true;
				break;
			}
		if (!ok)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: unknown field \"%s\"",
					    what, key);
	}
	return 0;
}
