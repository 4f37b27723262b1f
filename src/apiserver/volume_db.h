/* Volumes in state.db, as JSON objects:
 *   {name, labels {k: v}, options {k: v}, anonymous (bool), createdAt}
 * options holds what `volume create --opt` gave (size=64m); the data lives in
 * <app root>/volumes/<name>/_data. */
#ifndef CONTAINER_VOLUME_DB_H
#define CONTAINER_VOLUME_DB_H

#include <jansson.h>

#include "error.h"
#include "state.h"

/* CT_ERR_EXISTS when the name is taken. */
int volume_db_insert(struct state_db *db, json_t *volume, struct ct_error *err);
/* CT_ERR_NOT_FOUND when there is no such volume. */
int volume_db_get(struct state_db *db, const char *name, json_t **out, struct ct_error *err);
/* Ordered by name. */
int volume_db_list(struct state_db *db, json_t **out, struct ct_error *err);
int volume_db_delete(struct state_db *db, const char *name, struct ct_error *err);

#endif
