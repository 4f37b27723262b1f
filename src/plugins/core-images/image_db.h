/* Image references in state.db (table "images", created by the API server's
 * schema migrations). The images plugin is the only writer of this table. */
#ifndef CONTAINER_IMAGE_DB_H
#define CONTAINER_IMAGE_DB_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"

struct image_db;

struct image_record {
	char *name;	  /* docker.io/library/busybox:latest */
	char *digest;	  /* of the index or manifest */
	char *media_type; /* of that document */
	int64_t size;
	char *created_at; /* when the reference was stored */
};

int image_db_open(const char *path, struct image_db **out, struct ct_error *err);
void image_db_close(struct image_db *db);

/* Creates or moves the reference. */
int image_db_put(struct image_db *db, const char *name, const char *digest, const char *media_type,
		 int64_t size, struct ct_error *err);
/* CT_ERR_NOT_FOUND when absent. */
int image_db_get(struct image_db *db, const char *name, struct image_record *out,
		 struct ct_error *err);
/* All references, sorted by name. */
int image_db_list(struct image_db *db, struct image_record **out, size_t *n, struct ct_error *err);
/* Returns 1 when removed, 0 when absent. */
int image_db_delete(struct image_db *db, const char *name, struct ct_error *err);
/* How many references point at digest. */
int image_db_count_digest(struct image_db *db, const char *digest, struct ct_error *err);

/* The name of a container created from the image called name, or NULL when
 * none is (caller frees). */
char *image_db_user(struct image_db *db, const char *name);
/* Manifest digests that containers were created from (NULL-terminated; the
 * caller frees): garbage collection keeps what they need. */
char **image_db_container_digests(struct image_db *db);

/* A property's effective value for plugins: set with `property set`, else the
 * config files, else the default (caller frees). */
char *image_db_property(struct image_db *db, const char *key);

void image_record_free(struct image_record *r);
void image_records_free(struct image_record *r, size_t n);

#endif
