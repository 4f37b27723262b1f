/* Containers in state.db: what was asked at create time. */
#ifndef CONTAINER_CONTAINER_DB_H
#define CONTAINER_CONTAINER_DB_H

#include <jansson.h>

#include "error.h"
#include "state.h"

struct container_record {
	char *id;
	char *name;
	char *image;
	char *image_digest;
	char *created_at;
	json_t *options;
};

int container_db_insert(struct state_db *db, const struct container_record *r,
			struct ct_error *err);
/* By id, unique id prefix, or name. CT_ERR_NOT_FOUND, or CT_ERR_INVALID_ARGUMENT
 * for an ambiguous prefix. */
int container_db_find(struct state_db *db, const char *key, struct container_record *out,
		      struct ct_error *err);
int container_db_list(struct state_db *db, struct container_record **out, size_t *n,
		      struct ct_error *err);
int container_db_delete(struct state_db *db, const char *id, struct ct_error *err);
int container_db_name_taken(struct state_db *db, const char *name);
void container_record_free(struct container_record *r);
void container_records_free(struct container_record *r, size_t n);

#endif
