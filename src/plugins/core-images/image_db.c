#include "image_db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "json_util.h"
#include "util.h"

struct image_db {
	sqlite3 *db;
};

static int db_error(struct image_db *db, struct ct_error *err, const char *what)
{
	/* SQLITE_FULL is the disk (or the file system's inodes) running out: say
	 * so with errno's word, so callers can tell what to do about it. */
	int full = (sqlite3_errcode(db->db) & 0xff) == SQLITE_FULL;

	return ct_error_set(err, full ? CT_ERR_UNAVAILABLE : CT_ERR_INTERNAL, full ? ENOSPC : 0,
			    "state.db: %s: %s", what, sqlite3_errmsg(db->db));
}

int image_db_open(const char *path, struct image_db **out, struct ct_error *err)
{
	struct image_db *db = xcalloc(1, sizeof(*db));
	sqlite3_stmt *st;

	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		ct_error_set(err, CT_ERR_INTERNAL, 0, "opening %s: %s", path,
			     db->db ? sqlite3_errmsg(db->db) : "out of memory");
		image_db_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db->db, 10000);
	/* The table comes from the API server's migrations; say so if it is missing
	 * (a plugin run against an old API server). */
	if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM images LIMIT 1", -1, &st, NULL) !=
	    SQLITE_OK) {
		ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
			     "%s has no images table (%s); restart container-apiserver so it "
			     "migrates the schema",
			     path, sqlite3_errmsg(db->db));
		image_db_close(db);
		return -1;
	}
	sqlite3_finalize(st);
	*out = db;
	return 0;
}

void image_db_close(struct image_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db);
}

int image_db_put(struct image_db *db, const char *name, const char *digest, const char *media_type,
		 int64_t size, struct ct_error *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	ct_format_time_now(now, sizeof(now));
	if (sqlite3_prepare_v2(
		db->db,
		"INSERT INTO images (name, digest, media_type, size, created_at) "
		"VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
		"digest = excluded.digest, media_type = excluded.media_type, "
		"size = excluded.size, created_at = CASE WHEN images.digest = "
		"excluded.digest THEN images.created_at ELSE excluded.created_at END",
		-1, &st, NULL) != SQLITE_OK)
		return db_error(db, err, "saving an image reference");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, media_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, size);
	sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(db, err, "saving an image reference");
}

static void fill_record(sqlite3_stmt *st, struct image_record *r)
{
	r->name = xstrdup((const char *)sqlite3_column_text(st, 0));
	r->digest = xstrdup((const char *)sqlite3_column_text(st, 1));
	r->media_type = xstrdup((const char *)sqlite3_column_text(st, 2));
	r->size = sqlite3_column_int64(st, 3);
	r->created_at = xstrdup((const char *)sqlite3_column_text(st, 4));
}

int image_db_get(struct image_db *db, const char *name, struct image_record *out,
		 struct ct_error *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db->db,
			       "SELECT name, digest, media_type, size, created_at FROM images "
			       "WHERE name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(db, err, "reading an image reference");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fill_record(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0, "no image %s", name);
	return db_error(db, err, "reading an image reference");
}

int image_db_list(struct image_db *db, struct image_record **out, size_t *n, struct ct_error *err)
{
	sqlite3_stmt *st;
	struct image_record *items = NULL;
	size_t count = 0;
	int rc;

	if (sqlite3_prepare_v2(db->db,
			       "SELECT name, digest, media_type, size, created_at FROM images "
			       "ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(db, err, "listing images");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		items = realloc(items, (count + 1) * sizeof(*items));
		if (!items)
			abort();
		fill_record(st, &items[count++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		image_records_free(items, count);
		return db_error(db, err, "listing images");
	}
	*out = items;
	*n = count;
	return 0;
}

int image_db_delete(struct image_db *db, const char *name, struct ct_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->db, "DELETE FROM images WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_error(db, err, "deleting an image reference");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(db, err, "deleting an image reference");
	return sqlite3_changes(db->db) > 0 ? 1 : 0;
}

int image_db_count_digest(struct image_db *db, const char *digest, struct ct_error *err)
{
	sqlite3_stmt *st;
	int count = -1;

	if (sqlite3_prepare_v2(db->db, "SELECT COUNT(*) FROM images WHERE digest = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return db_error(db, err, "counting image references");
	sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return count < 0 ? db_error(db, err, "counting image references") : count;
}

void image_record_free(struct image_record *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->digest);
	free(r->media_type);
	free(r->created_at);
	memset(r, 0, sizeof(*r));
}

void image_records_free(struct image_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_record_free(&r[i]);
	free(r);
}

char *image_db_property(struct image_db *db, const char *key)
{
	const struct ct_property_def *def = ct_property_find(key);
	sqlite3_stmt *st;
	char *value = NULL;

	if (sqlite3_prepare_v2(db->db, "SELECT value FROM properties WHERE key = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			value = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (value)
		return value;
	_cleanup_json_ json_t *files = ct_config_load_files(NULL);
	const char *from_file =
	    json_string_value(json_object_get(json_object_get(files, key), "value"));
	if (from_file)
		return xstrdup(from_file);
	return def ? xstrdup(def->default_value) : NULL;
}

char *image_db_user(struct image_db *db, const char *name)
{
	sqlite3_stmt *st;
	char *user = NULL;

	/* The containers table is the API server's; an older schema has none. */
	if (sqlite3_prepare_v2(db->db, "SELECT name FROM containers WHERE image = ? LIMIT 1", -1,
			       &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		user = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return user;
}

char **image_db_container_digests(struct image_db *db)
{
	sqlite3_stmt *st;
	char **out = xcalloc(1, sizeof(char *));
	size_t n = 0;

	if (sqlite3_prepare_v2(db->db, "SELECT DISTINCT image_digest FROM containers", -1, &st,
			       NULL) != SQLITE_OK)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		out = realloc(out, (n + 2) * sizeof(char *));
		if (!out)
			abort();
		out[n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
		out[n] = NULL;
	}
	sqlite3_finalize(st);
	return out;
}
