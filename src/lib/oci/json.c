#include "oci/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *oci_map_get(const struct oci_map *map, const char *key)
{
	if (!map)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->entries[i].key, key) == 0)
			return map->entries[i].value;
	return NULL;
}

void oci_map_free(struct oci_map *map)
{
	if (!map)
		return;
	for (size_t i = 0; i < map->n; i++) {
		free(map->entries[i].key);
		free(map->entries[i].value);
	}
	free(map->entries);
	map->entries = NULL;
	map->n = 0;
}

size_t oci_strv_length(char *const *strv)
{
	size_t n = 0;

	if (strv)
		while (strv[n])
			n++;
	return n;
}

void oci_strv_free(char **strv)
{
	if (!strv)
		return;
	for (char **p = strv; *p; p++)
		free(*p);
	free(strv);
}

static int oom(struct ct_error *err)
{
	errno = ENOMEM;
	return ct_error_errno(err, CT_ERR_INTERNAL, "allocating memory");
}

int oci_json_load(const char *buf, size_t len, const char *what, json_t **out, struct ct_error *err)
{
	json_error_t jerr;
	json_t *doc;

	if (!buf)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "invalid %s: no data", what);
	/* Duplicate keys are refused: two readers could otherwise see two different documents
	 * behind one digest. */
	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!doc)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid %s: not valid JSON (line %d, column %d): %s", what,
				    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(doc)) {
		int ret = ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				       "invalid %s: expected a JSON object, got %s", what,
				       oci_json_type_name(doc));
		json_decref(doc);
		return ret;
	}
	*out = doc;
	return 0;
}

const char *oci_json_type_name(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown JSON type";
}

/* The value under key, NULL when absent or null. Fails only for a required key. */
static int get_present(json_t *obj, const char *key, bool required, json_t **out,
		       struct ct_error *err)
{
	json_t *value = json_object_get(obj, key);

	if (!value || json_is_null(value)) {
		*out = NULL;
		if (required)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "missing required field \"%s\"", key);
		return 0;
	}
	*out = value;
	return 0;
}

static int wrong_type(struct ct_error *err, const char *key, const char *expected,
		      const json_t *value)
{
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "\"%s\" must be %s, got %s", key,
			    expected, oci_json_type_name(value));
}

int oci_json_get_string(json_t *obj, const char *key, bool required, char **out,
			struct ct_error *err)
{
	json_t *value;

	if (get_present(obj, key, required, &value, err) < 0)
		return -1;
	if (!value)
		return 0;
	if (!json_is_string(value))
		return wrong_type(err, key, "a string", value);
	*out = strdup(json_string_value(value));
	if (!*out)
		return oom(err);
	return 0;
}

int oci_json_get_int64(json_t *obj, const char *key, bool required, int64_t *out,
		       struct ct_error *err)
{
	json_t *value;

	if (get_present(obj, key, required, &value, err) < 0)
		return -1;
	if (!value)
		return 0;
	if (!json_is_integer(value))
		return wrong_type(err, key, "an integer", value);
	*out = json_integer_value(value);
	return 0;
}

int oci_json_get_bool(json_t *obj, const char *key, bool *out, struct ct_error *err)
{
	json_t *value;

	if (get_present(obj, key, false, &value, err) < 0)
		return -1;
	if (!value)
		return 0;
	if (!json_is_boolean(value))
		return wrong_type(err, key, "true or false", value);
	*out = json_is_true(value);
	return 0;
}

int oci_json_get_strv(json_t *obj, const char *key, char ***out, struct ct_error *err)
{
	char **strv;
	json_t *value, *item;
	size_t i;

	if (get_present(obj, key, false, &value, err) < 0)
		return -1;
	if (!value)
		return 0;
	if (!json_is_array(value))
		return wrong_type(err, key, "an array of strings", value);
	strv = calloc(json_array_size(value) + 1, sizeof(*strv));
	if (!strv)
		return oom(err);
	json_array_foreach(value, i, item)
	{
		if (!json_is_string(item)) {
			oci_strv_free(strv);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "\"%s\"[%zu] must be a string, got %s", key, i,
					    oci_json_type_name(item));
		}
		strv[i] = strdup(json_string_value(item));
		if (!strv[i]) {
			oci_strv_free(strv);
			return oom(err);
		}
	}
	*out = strv;
	return 0;
}

int oci_json_get_map(json_t *obj, const char *key, struct oci_map *out, struct ct_error *err)
{
	struct oci_map map = {0};
	const char *k;
	json_t *value, *item;

	if (get_present(obj, key, false, &value, err) < 0)
		return -1;
	if (!value)
		return 0;
	if (!json_is_object(value))
		return wrong_type(err, key, "an object of strings", value);
	map.entries = calloc(json_object_size(value), sizeof(*map.entries));
	if (!map.entries && json_object_size(value) > 0)
		return oom(err);
	json_object_foreach(value, k, item)
	{
		struct oci_map_entry *entry = &map.entries[map.n];

		if (!json_is_string(item)) {
			oci_map_free(&map);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "\"%s\".\"%s\" must be a string, got %s", key, k,
					    oci_json_type_name(item));
		}
		entry->key = strdup(k);
		entry->value = strdup(json_string_value(item));
		map.n++;
		if (!entry->key || !entry->value) {
			oci_map_free(&map);
			return oom(err);
		}
	}
	*out = map;
	return 0;
}

int oci_json_get_keys(json_t *obj, const char *key, char ***out, struct ct_error *err)
{
	char **strv;
	const char *k;
	json_t *value, *item;
	size_t n = 0;

	if (get_present(obj, key, false, &value, err) < 0)
		return -1;
	if (!value)
		return 0;
	if (!json_is_object(value))
		return wrong_type(err, key, "an object", value);
	strv = calloc(json_object_size(value) + 1, sizeof(*strv));
	if (!strv)
		return oom(err);
	json_object_foreach(value, k, item)
	{
		if (!json_is_object(item)) {
			oci_strv_free(strv);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "\"%s\".\"%s\" must be an object, got %s", key, k,
					    oci_json_type_name(item));
		}
		strv[n] = strdup(k);
		if (!strv[n]) {
			oci_strv_free(strv);
			return oom(err);
		}
		n++;
	}
	*out = strv;
	return 0;
}
