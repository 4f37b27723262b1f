#include "state.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

struct state_db {
	sqlite3 *db;
};

/* Append-only: migration N takes the schema from version N to N+1. Never edit a
 * released step; add a new one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE properties ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL"
    ");",
    /* 1 -> 2: image references, written by the images plugin. name is the full
     * reference (docker.io/library/busybox:latest); digest and media_type name the
     * index or manifest it points at in the content store. */
    "CREATE TABLE images ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  media_type TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  created_at TEXT NOT NULL"
    ");"
    "CREATE INDEX images_digest ON images(digest);",
    /* 2 -> 3: containers. options is the create request as the API server
     * normalised it; the runtime state lives in the bundle's state.json. */
    "CREATE TABLE containers ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL UNIQUE,"
    "  image TEXT NOT NULL,"
    "  image_digest TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  options TEXT NOT NULL"
    ");",
    /* 3 -> 4: networks, the addresses of containers on them while they run,
     * and the DNS domains containers answer under. An allocation row lives
     * from a container's start to its exit; ports holds what was published,
     * with the host ports actually chosen. */
    "CREATE TABLE networks ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  subnet TEXT NOT NULL UNIQUE,"
    "  gateway TEXT NOT NULL,"
    "  bridge TEXT NOT NULL UNIQUE,"
    "  internal INTEGER NOT NULL,"
    "  labels TEXT NOT NULL,"
    "  created_at TEXT NOT NULL"
    ");"
    "CREATE TABLE ip_allocations ("
    "  network TEXT NOT NULL REFERENCES networks(name),"
    "  address TEXT NOT NULL,"
    "  container_id TEXT NOT NULL,"
    "  interface TEXT NOT NULL,"
    "  host_interface TEXT NOT NULL,"
    "  mac TEXT NOT NULL,"
    "  ports TEXT NOT NULL,"
    "  PRIMARY KEY (network, address),"
    "  UNIQUE (container_id, network)"
    ");"
    "CREATE TABLE dns_domains ("
    "  domain TEXT PRIMARY KEY NOT NULL,"
    "  created_at TEXT NOT NULL"
    ");",
    /* 4 -> 5: volumes. labels and options are JSON objects (options: what
     * `volume create --opt` gave, such as size); the data is in
     * volumes/<name>/_data. */
    "CREATE TABLE volumes ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  labels TEXT NOT NULL,"
    "  options TEXT NOT NULL,"
    "  anonymous INTEGER NOT NULL,"
    "  created_at TEXT NOT NULL"
    ");",
};

int state_latest_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

int state_error_disk_full(struct ct_error *err, const char *dir)
{
	char code[sizeof(err->code)];

	/* Once is enough, when several layers of the call chain ask. */
	if ((err->errnum != ENOSPC && err->errnum != EDQUOT) ||
	    strstr(ct_error_message(err), "is full: free space there"))
		return -1;
	snprintf(code, sizeof(code), "%s", err->code);
	return ct_error_set(err, code, err->errnum,
			    "%s; the disk holding %s is full: free space there (`container "
			    "image prune` removes unused images, `container prune` stopped "
			    "containers) and try again",
			    ct_error_message(err), dir);
}

/* "state.db: [WHAT: ]WHY", with the disk-full advice for SQLITE_FULL. */
static int set_db_error(struct state_db *db, struct ct_error *err, const char *what,
			const char *why)
{
	/* A failed write rolls back (each is one statement or transaction), so
	 * the database stays as it was; only the advice differs. */
	bool full = (sqlite3_errcode(db->db) & 0xff) == SQLITE_FULL;

	ct_error_set(err, full ? CT_ERR_UNAVAILABLE : CT_ERR_INTERNAL, full ? ENOSPC : 0,
		     "state.db: %s%s%s", what ? what : "", what ? ": " : "", why);
	if (full) {
		_cleanup_free_ char *dir = xstrdup(sqlite3_db_filename(db->db, "main") ?: "");
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		state_error_disk_full(err, *dir ? dir : "state.db");
	}
	return -1;
}

int state_db_error(struct state_db *db, struct ct_error *err, const char *what)
{
	return set_db_error(db, err, what, sqlite3_errmsg(db->db));
}

static int exec_sql(struct state_db *db, const char *sql, struct ct_error *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (err)
			set_db_error(db, err, NULL, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3 *state_handle(struct state_db *db)
{
	return db->db;
}

int state_schema_version(struct state_db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct state_db *db, struct ct_error *err)
{
	int version = state_schema_version(db);

	if (version < 0)
		return state_db_error(db, err, "reading the schema version");
	if (version > state_latest_version())
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "state.db has schema version %d, newer than this build "
				    "understands (%d); use a newer container or another app root",
				    version, state_latest_version());
	for (int v = version; v < state_latest_version(); v++) {
		_cleanup_free_ char *sql = xasprintf(
		    "BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;", migrations[v], v + 1);
		if (exec_sql(db, sql, err) < 0) {
			exec_sql(db, "ROLLBACK", NULL);
			return ct_error_prefix(err, "migrating the schema from version %d", v);
		}
		log_info("state.db migrated to schema version %d", v + 1);
	}
	return 0;
}

int state_open(const char *path, struct state_db **out, struct ct_error *err)
{
	struct state_db *db = xcalloc(1, sizeof(*db));

	if (sqlite3_open_v2(path, &db->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		ct_error_set(err, CT_ERR_INTERNAL, 0, "opening %s: %s", path,
			     db->db ? sqlite3_errmsg(db->db) : "out of memory");
		state_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db->db, 5000);
	/* WAL: readers never block the writer; synchronous=NORMAL is crash-safe in WAL
	 * mode (a power loss may drop the last commits, never corrupt). */
	if (exec_sql(db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		     "PRAGMA foreign_keys=ON;",
		     err) < 0 ||
	    migrate(db, err) < 0) {
		ct_error_prefix(err, "%s", path);
		state_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void state_close(struct state_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db);
}

int state_property_get(struct state_db *db, const char *key, char **value, struct ct_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*value = NULL;
	if (sqlite3_prepare_v2(db->db, "SELECT value FROM properties WHERE key = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return state_db_error(db, err, "reading a property");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return state_db_error(db, err, "reading a property");
	return 0;
}

int state_property_set(struct state_db *db, const char *key, const char *value,
		       struct ct_error *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	ct_format_time_now(now, sizeof(now));
	if (sqlite3_prepare_v2(db->db,
			       "INSERT INTO properties (key, value, updated_at) VALUES (?, ?, ?) "
			       "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
			       "updated_at = excluded.updated_at",
			       -1, &st, NULL) != SQLITE_OK)
		return state_db_error(db, err, "saving a property");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return state_db_error(db, err, "saving a property");
	return 0;
}

int state_property_clear(struct state_db *db, const char *key, struct ct_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->db, "DELETE FROM properties WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return state_db_error(db, err, "clearing a property");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return state_db_error(db, err, "clearing a property");
	return sqlite3_changes(db->db) > 0 ? 1 : 0;
}
