/* state.db: the API server's SQLite database (WAL mode). Every write is one
 * transaction, so a crash at any point leaves the previous or the new state.
 * The schema is versioned with PRAGMA user_version and migrated forward at open. */
#ifndef CONTAINER_STATE_H
#define CONTAINER_STATE_H

#include <jansson.h>

#include "error.h"

struct state_db;

int state_open(const char *path, struct state_db **out, struct ct_error *err);
void state_close(struct state_db *db);
int state_schema_version(struct state_db *db);
/* The connection, for the other tables' modules (container_db.c). */
struct sqlite3 *state_handle(struct state_db *db);
/* An error from SQLite's last failure on db, "state.db: WHAT: why". SQLITE_FULL
 * (the disk is full) becomes errno ENOSPC with state_error_disk_full's advice. */
int state_db_error(struct state_db *db, struct ct_error *err, const char *what);
/* When err comes from a full disk (errno ENOSPC or EDQUOT), adds where and what
 * to do: "the disk holding DIR is full: free space there ... and try again".
 * Returns -1. */
int state_error_disk_full(struct ct_error *err, const char *dir);
/* The schema version this build migrates to. */
int state_latest_version(void);

/* Properties set with `system property set`: NULL *value when unset. */
int state_property_get(struct state_db *db, const char *key, char **value, struct ct_error *err);
int state_property_set(struct state_db *db, const char *key, const char *value,
		       struct ct_error *err);
/* Returns 1 when a value was removed, 0 when none was set. */
int state_property_clear(struct state_db *db, const char *key, struct ct_error *err);

#endif
