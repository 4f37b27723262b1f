/* Field readers shared by the manifest, index and image config parsers, and the
 * string map they produce for annotations and labels.
 *
 * The readers are strict about types (a string where a number belongs is an error
 * naming the field) but treat a JSON null like an absent optional field, because
 * the Go encoders that write most images emit `"Labels": null` and the like. */
#ifndef CONTAINER_OCI_JSON_H
#define CONTAINER_OCI_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json_util.h" /* _cleanup_json_ */

struct oci_map_entry {
	char *key;
	char *value;
};

/* Keys in document order; the parsers load with JSON_REJECT_DUPLICATES, so keys are unique. */
struct oci_map {
	struct oci_map_entry *entries;
	size_t n;
};

/* The value stored under key, or NULL. */
const char *oci_map_get(const struct oci_map *map, const char *key);
void oci_map_free(struct oci_map *map);

/* NULL-terminated string vectors, as produced by oci_json_get_strv. */
size_t oci_strv_length(char *const *strv);
void oci_strv_free(char **strv);

/* Parses buf as one JSON object. what names the document in messages ("image manifest"). */
int oci_json_load(const char *buf, size_t len, const char *what, json_t **out,
		  struct ct_error *err);

/* "string", "integer", ... for messages. */
const char *oci_json_type_name(const json_t *value);

/* Each reader leaves *out untouched (NULL/empty) when an optional key is absent or null and
 * fails when a required key is. Messages name the key: `"size" must be an integer, got
 * string`. */
int oci_json_get_string(json_t *obj, const char *key, bool required, char **out,
			struct ct_error *err);
int oci_json_get_int64(json_t *obj, const char *key, bool required, int64_t *out,
		       struct ct_error *err);
int oci_json_get_bool(json_t *obj, const char *key, bool *out, struct ct_error *err);
int oci_json_get_strv(json_t *obj, const char *key, char ***out, struct ct_error *err);
/* An object whose values are strings (annotations, labels). */
int oci_json_get_map(json_t *obj, const char *key, struct oci_map *out, struct ct_error *err);
/* The keys of an object whose values are objects ({"80/tcp": {}}): ExposedPorts, Volumes. */
int oci_json_get_keys(json_t *obj, const char *key, char ***out, struct ct_error *err);

#endif
