#include "container_db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define COLUMNS "id, name, image, image_digest, created_at, options"

int container_db_insert(struct state_db *db, const struct container_record *r, struct ct_error *err)
{
	sqlite3_stmt *st;
	char *options = json_dumps(r->options, JSON_COMPACT);
	int rc;

	if (sqlite3_prepare_v2(state_handle(db),
			       "INSERT INTO containers (" COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		free(options);
		return state_db_error(db, err, "saving a container");
	}
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->image_digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->created_at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, options, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(options);
	if (rc == SQLITE_CONSTRAINT)
		return ct_error_set(err, CT_ERR_EXISTS, 0, "the name %s is already in use",
				    r->name);
	return rc == SQLITE_DONE ? 0 : state_db_error(db, err, "saving a container");
}

static void fill(sqlite3_stmt *st, struct container_record *r)
{
	r->id = xstrdup((const char *)sqlite3_column_text(st, 0));
	r->name = xstrdup((const char *)sqlite3_column_text(st, 1));
	r->image = xstrdup((const char *)sqlite3_column_text(st, 2));
	r->image_digest = xstrdup((const char *)sqlite3_column_text(st, 3));
	r->created_at = xstrdup((const char *)sqlite3_column_text(st, 4));
	r->options = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
	if (!r->options)
		r->options = json_object();
}

int container_db_list(struct state_db *db, struct container_record **out, size_t *n,
		      struct ct_error *err)
{
	sqlite3_stmt *st;
	struct container_record *items = NULL;
	size_t count = 0;
	int rc;

	if (sqlite3_prepare_v2(state_handle(db),
			       "SELECT " COLUMNS " FROM containers ORDER BY created_at DESC", -1,
			       &st, NULL) != SQLITE_OK)
		return state_db_error(db, err, "listing containers");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		items = realloc(items, (count + 1) * sizeof(*items));
		if (!items)
			abort();
		fill(st, &items[count++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		container_records_free(items, count);
		return state_db_error(db, err, "listing containers");
	}
	*out = items;
	*n = count;
	return 0;
}

int container_db_find(struct state_db *db, const char *key, struct container_record *out,
		      struct ct_error *err)
{
	struct container_record *all = NULL;
	size_t n = 0, hit = 0, hits = 0;

	memset(out, 0, sizeof(*out));
	if (container_db_list(db, &all, &n, err) < 0)
		return -1;
	/* An exact id or name wins over a prefix. */
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i].id, key) == 0 || strcmp(all[i].name, key) == 0) {
			hit = i;
			hits = 1;
			goto found;
		}
	for (size_t i = 0; i < n; i++)
		if (strlen(key) >= 1 && strncmp(all[i].id, key, strlen(key)) == 0) {
			hit = i;
			hits++;
		}
found:
	if (hits == 1) {
		*out = all[hit];
		memset(&all[hit], 0, sizeof(all[hit]));
	}
	container_records_free(all, n);
	if (hits == 1)
		return 0;
	if (hits > 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s matches several containers; give more of the id", key);
	return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
			    "no such container: %s (`container list -a` shows them)", key);
}

int container_db_delete(struct state_db *db, const char *id, struct ct_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(state_handle(db), "DELETE FROM containers WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return state_db_error(db, err, "deleting a container");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : state_db_error(db, err, "deleting a container");
}

int container_db_name_taken(struct state_db *db, const char *name)
{
	sqlite3_stmt *st;
	int taken = 0;

	if (sqlite3_prepare_v2(state_handle(db), "SELECT 1 FROM containers WHERE name = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return taken;
}

void container_record_free(struct container_record *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->name);
	free(r->image);
	free(r->image_digest);
	free(r->created_at);
	json_decref(r->options);
	memset(r, 0, sizeof(*r));
}

void container_records_free(struct container_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		container_record_free(&r[i]);
	free(r);
}
