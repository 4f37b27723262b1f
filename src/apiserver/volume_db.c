#include "volume_db.h"

#include <sqlite3.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

#define VOLUME_COLUMNS "name, labels, options, anonymous, created_at"

static json_t *json_column(sqlite3_stmt *st, int c)
{
	const char *text = (const char *)sqlite3_column_text(st, c);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	if (!json_is_object(v)) {
		json_decref(v);
		return json_object();
	}
	return v;
}

static json_t *row_to_json(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:o, s:o, s:b, s:s}", "name",
			 (const char *)sqlite3_column_text(st, 0) ?: "", "labels",
			 json_column(st, 1), "options", json_column(st, 2), "anonymous",
			 sqlite3_column_int(st, 3) != 0, "createdAt",
			 (const char *)sqlite3_column_text(st, 4) ?: "");
}

/* Runs a SELECT of VOLUME_COLUMNS with an optional name bound to ?1. */
static int query(struct state_db *db, const char *sql, const char *name, json_t **out,
		 const char *what, struct ct_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(state_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
		return state_db_error(db, err, what);
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	json_t *rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(rows, row_to_json(st));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return state_db_error(db, err, what);
	}
	*out = rows;
	return 0;
}

int volume_db_insert(struct state_db *db, json_t *v, struct ct_error *err)
{
	_cleanup_free_ char *labels =
	    json_dumps(json_object_get(v, "labels") ?: json_object(), JSON_COMPACT);
	_cleanup_free_ char *options =
	    json_dumps(json_object_get(v, "options") ?: json_object(), JSON_COMPACT);
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *created = json_string_value(json_object_get(v, "createdAt"));
	sqlite3_stmt *st;

	if (!name || !created)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "saving a volume: no name or time");
	if (sqlite3_prepare_v2(state_handle(db),
			       "INSERT INTO volumes (" VOLUME_COLUMNS
			       ") VALUES (?1, ?2, ?3, ?4, ?5)",
			       -1, &st, NULL) != SQLITE_OK)
		return state_db_error(db, err, "saving a volume");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, labels, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, options, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, json_is_true(json_object_get(v, "anonymous")));
	sqlite3_bind_text(st, 5, created, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return ct_error_set(err, CT_ERR_EXISTS, 0, "a volume named %s exists already",
				    name);
	if (rc != SQLITE_DONE)
		return state_db_error(db, err, "saving a volume");
	return 0;
}

int volume_db_get(struct state_db *db, const char *name, json_t **out, struct ct_error *err)
{
	json_t *rows;

	if (query(db, "SELECT " VOLUME_COLUMNS " FROM volumes WHERE name = ?1", name, &rows,
		  "reading a volume", err) < 0)
		return -1;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
				    "no such volume: %s (see `container volume list`)", name);
	}
	*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

int volume_db_list(struct state_db *db, json_t **out, struct ct_error *err)
{
	return query(db, "SELECT " VOLUME_COLUMNS " FROM volumes ORDER BY name", NULL, out,
		     "listing volumes", err);
}

int volume_db_delete(struct state_db *db, const char *name, struct ct_error *err)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(state_handle(db), "DELETE FROM volumes WHERE name = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return state_db_error(db, err, "deleting a volume");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return state_db_error(db, err, "deleting a volume");
	return 0;
}
