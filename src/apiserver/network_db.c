#include "network_db.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

/* Prepares sql and binds the NULL-terminated text arguments to ?1, ?2… */
static sqlite3_stmt *prepare(struct state_db *db, const char *sql, const char *const *args)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(state_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (int i = 0; args && args[i]; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
	return st;
}

/* Rows as objects keyed by column name (the SELECTs alias them to the JSON
 * names). Columns holding JSON (labels, ports) are parsed; "internal" is a
 * boolean. */
static int query(struct state_db *db, const char *sql, const char *const *args, json_t **out,
		 const char *what, struct ct_error *err)
{
	sqlite3_stmt *st = prepare(db, sql, args);
	int rc;

	if (!st)
		return state_db_error(db, err, what);
	json_t *rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const char *name = sqlite3_column_name(st, c);
			json_t *v;
			if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
				v = strcmp(name, "internal") == 0
					? json_boolean(sqlite3_column_int64(st, c))
					: json_integer(sqlite3_column_int64(st, c));
			else if (strcmp(name, "labels") == 0 || strcmp(name, "ports") == 0)
				v = json_loads((const char *)sqlite3_column_text(st, c), 0, NULL)
					?: json_object();
			else
				v = json_string((const char *)sqlite3_column_text(st, c) ?: "");
			json_object_set_new(row, name, v);
		}
		json_array_append_new(rows, row);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return state_db_error(db, err, what);
	}
	*out = rows;
	return 0;
}

/* One statement that changes rows; returns the number changed. */
static int change(struct state_db *db, const char *sql, const char *const *args, const char *what,
		  struct ct_error *err)
{
	sqlite3_stmt *st = prepare(db, sql, args);

	if (!st)
		return state_db_error(db, err, what);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return ct_error_set(err, CT_ERR_EXISTS, 0, "state.db: %s: %s", what,
				    sqlite3_errmsg(state_handle(db)));
	if (rc != SQLITE_DONE)
		return state_db_error(db, err, what);
	return sqlite3_changes(state_handle(db));
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

#define NETWORK_COLUMNS "name, subnet, gateway, bridge, internal, labels, created_at AS createdAt"

int network_db_insert(struct state_db *db, json_t *n, struct ct_error *err)
{
	_cleanup_free_ char *labels =
	    json_dumps(json_object_get(n, "labels") ?: json_object(), JSON_COMPACT);
	const char *args[] = {str(n, "name"),
			      str(n, "subnet"),
			      str(n, "gateway"),
			      str(n, "bridge"),
			      json_is_true(json_object_get(n, "internal")) ? "1" : "0",
			      labels,
			      str(n, "createdAt"),
			      NULL};

	return change(db,
		      "INSERT INTO networks (name, subnet, gateway, bridge, internal, labels, "
		      "created_at) VALUES (?1, ?2, ?3, ?4, CAST(?5 AS INTEGER), ?6, ?7)",
		      args, "saving a network", err) < 0
		   ? -1
		   : 0;
}

int network_db_get(struct state_db *db, const char *name, json_t **out, struct ct_error *err)
{
	const char *args[] = {name, NULL};
	json_t *rows;

	if (query(db, "SELECT " NETWORK_COLUMNS " FROM networks WHERE name = ?1", args, &rows,
		  "reading a network", err) < 0)
		return -1;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
				    "no network named %s (see `container network list`)", name);
	}
	*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

int network_db_list(struct state_db *db, json_t **out, struct ct_error *err)
{
	/* default first, then by creation. */
	return query(db,
		     "SELECT " NETWORK_COLUMNS " FROM networks "
		     "ORDER BY name <> 'default', created_at, name",
		     NULL, out, "listing networks", err);
}

int network_db_delete(struct state_db *db, const char *name, struct ct_error *err)
{
	const char *args[] = {name, NULL};

	return change(db, "DELETE FROM networks WHERE name = ?1", args, "deleting a network", err) <
		       0
		   ? -1
		   : 0;
}

/* Bumped by every change to ip_allocations (this process is its only writer). */
static uint64_t alloc_generation = 1;

uint64_t alloc_db_generation(void)
{
	return alloc_generation;
}

int alloc_db_insert(struct state_db *db, json_t *a, struct ct_error *err)
{
	alloc_generation++;
	_cleanup_free_ char *ports =
	    json_dumps(json_object_get(a, "ports") ?: json_array(), JSON_COMPACT);
	const char *args[] = {str(a, "network"),
			      str(a, "address"),
			      str(a, "containerId"),
			      str(a, "interface"),
			      str(a, "hostInterface"),
			      str(a, "mac"),
			      ports,
			      NULL};

	return change(db,
		      "INSERT INTO ip_allocations (network, address, container_id, interface, "
		      "host_interface, mac, ports) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		      args, "saving an address", err) < 0
		   ? -1
		   : 0;
}

int alloc_db_set_ports(struct state_db *db, const char *container_id, const char *network,
		       json_t *ports, struct ct_error *err)
{
	_cleanup_free_ char *text = json_dumps(ports, JSON_COMPACT);
	const char *args[] = {text, container_id, network, NULL};

	return change(db,
		      "UPDATE ip_allocations SET ports = ?1 WHERE container_id = ?2 AND "
		      "network = ?3",
		      args, "saving published ports", err) < 0
		   ? -1
		   : 0;
}

int alloc_db_list(struct state_db *db, const char *network, const char *container_id, json_t **out,
		  struct ct_error *err)
{
	const char *args[] = {network ?: "", container_id ?: "", NULL};

	return query(db,
		     "SELECT network, address, container_id AS containerId, interface, "
		     "host_interface AS hostInterface, mac, ports FROM ip_allocations "
		     "WHERE (?1 = '' OR network = ?1) AND (?2 = '' OR container_id = ?2) "
		     "ORDER BY container_id, length(interface), interface",
		     args, out, "listing addresses", err);
}

int alloc_db_delete(struct state_db *db, const char *container_id, const char *network,
		    struct ct_error *err)
{
	const char *args[] = {container_id, network ?: "", NULL};

	alloc_generation++;
	return change(db,
		      "DELETE FROM ip_allocations WHERE container_id = ?1 AND "
		      "(?2 = '' OR network = ?2)",
		      args, "releasing addresses", err) < 0
		   ? -1
		   : 0;
}

int dns_db_insert(struct state_db *db, const char *domain, struct ct_error *err)
{
	char now[32];
	ct_format_time_now(now, sizeof(now));
	const char *args[] = {domain, now, NULL};

	int rc = change(db, "INSERT INTO dns_domains (domain, created_at) VALUES (?1, ?2)", args,
			"saving a DNS domain", err);
	if (rc < 0 && ct_error_is(err, CT_ERR_EXISTS)) {
		ct_error_clear(err);
		return ct_error_set(err, CT_ERR_EXISTS, 0, "the DNS domain %s exists already",
				    domain);
	}
	return rc < 0 ? -1 : 0;
}

int dns_db_delete(struct state_db *db, const char *domain, struct ct_error *err)
{
	const char *args[] = {domain, NULL};
	int rc = change(db, "DELETE FROM dns_domains WHERE domain = ?1", args,
			"deleting a DNS domain", err);

	if (rc == 0)
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
				    "no DNS domain %s (see `container system dns list`)", domain);
	return rc < 0 ? -1 : 0;
}

int dns_db_list(struct state_db *db, json_t **out, struct ct_error *err)
{
	return query(db, "SELECT domain, created_at AS createdAt FROM dns_domains ORDER BY domain",
		     NULL, out, "listing DNS domains", err);
}
