/* Routes: volume.create, delete, list, inspect, prune; and the volume side of
 * container create, start and delete (see volumes.h). */
#include "volumes.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "container_db.h"
#include "disk_usage.h"
#include "json_util.h"
#include "log.h"
#include "server.h"
#include "trash.h"
#include "util.h"
#include "volume_db.h"
#include "worker.h"

#define NAME_MAX_LEN   64
#define POPULATED_MARK "populated"

/* [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63} */
static bool volume_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NAME_MAX_LEN || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

static int invalid_name(const char *name, struct ct_error *err)
{
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			    "invalid volume name \"%s\": 1 to %d characters, letters, digits, "
			    "'_', '.' and '-', starting with a letter or digit",
			    name, NAME_MAX_LEN);
}

static char *volumes_root(struct apiserver *api)
{
	return xasprintf("%s/volumes", api->paths.app_root);
}

static char *volume_dir(struct apiserver *api, const char *name)
{
	return xasprintf("%s/volumes/%s", api->paths.app_root, name);
}

static char *volume_data(struct apiserver *api, const char *name)
{
	return xasprintf("%s/volumes/%s/_data", api->paths.app_root, name);
}

static char *anonymous_name(void)
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		abort();
	r[6] = (r[6] & 0x0f) | 0x40; /* a version 4 UUID */
	r[8] = (r[8] & 0x3f) | 0x80;
	return xasprintf(
	    "anon-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
	    r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	    r[15]);
}

/* "64m", "1g", "512k", "1048576" (bytes), with an optional trailing b. */
static int64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	int64_t mult = 1;

	if (end == s || v <= 0 || errno)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		return v;
	case 'b':
		break;
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	case 't':
		mult = 1024LL * 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (end[1] && !(tolower((unsigned char)end[1]) == 'b' && !end[2] && mult > 1))
		return -1;
	if (v > INT64_MAX / mult)
		return -1;
	return v * mult;
}

/* The size limit of a volume's options, 0 when it has none. */
static int64_t size_limit(json_t *options)
{
	const char *s = json_string_value(json_object_get(options, "size"));
	int64_t v = s ? parse_size(s) : 0;

	return v > 0 ? v : 0;
}

/* Each volume's users: {volume name: [container name, …]}. */
static json_t *volume_users(struct apiserver *api)
{
	struct container_record *all = NULL;
	size_t n = 0;
	json_t *users = json_object();

	if (container_db_list(api->db, &all, &n, NULL) < 0)
		return users;
	for (size_t i = 0; i < n; i++) {
		json_t *m;
		size_t k;
		json_array_foreach (json_object_get(all[i].options, "mounts"), k, m) {
			const char *name = json_string_value(json_object_get(m, "name"));
			if (!name || strcmp(json_string_value(json_object_get(m, "type")) ?: "",
					    "volume") != 0)
				continue;
			json_t *list = json_object_get(users, name);
			if (!list) {
				list = json_array();
				json_object_set_new(users, name, list);
			}
			json_array_append_new(list, json_string(all[i].name));
		}
	}
	container_records_free(all, n);
	return users;
}

static json_t *describe(struct apiserver *api, json_t *row, json_t *users, int64_t size)
{
	const char *name = json_string_value(json_object_get(row, "name"));
	_cleanup_free_ char *data = volume_data(api, name);
	int64_t limit = size_limit(json_object_get(row, "options"));
	json_t *j = json_deep_copy(row);
	json_t *used = json_object_get(users, name);

	json_object_set_new(j, "driver", json_string("local"));
	json_object_set_new(j, "mountpoint", json_string(data));
	json_object_set_new(j, "sizeLimit", limit ? json_integer(limit) : json_null());
	json_object_set_new(j, "size", json_integer(size));
	json_object_set_new(j, "usedBy", used ? json_incref(used) : json_array());
	return j;
}

/* ---- create and delete ---------------------------------------------------- */

/* Removes a volume's folder, unmounting its file system first. */
static int remove_volume_dir(struct apiserver *api, const char *name, struct ct_error *err)
{
	_cleanup_free_ char *dir = volume_dir(api, name);

	if (volume_disk_unmount(dir, err) < 0 || ct_remove_tree(dir, err) < 0)
		return ct_error_prefix(err, "removing volume %s", name);
	return 0;
}

static int volume_create(struct apiserver *api, const char *name, json_t *labels, json_t *options,
			 bool anonymous, json_t **out, struct ct_error *err)
{
	_cleanup_json_ json_t *existing = NULL;
	const char *key;
	json_t *v;
	int64_t size = 0;

	if (!volume_name_valid(name))
		return invalid_name(name, err);
	json_object_foreach (labels, key, v)
		if (!json_is_string(v))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "volume label %s: the value must be a string", key);
	json_object_foreach (options, key, v) {
		if (strcmp(key, "size") != 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "unknown volume option \"%s\" (the local driver takes "
					    "size=SIZE, such as size=64m)",
					    key);
		if (!json_is_string(v) || (size = parse_size(json_string_value(v))) < 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "--opt size=%s: expected a size such as 64m or 1g",
					    json_string_value(v) ?: "?");
		if (size < 1024 * 1024)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "--opt size=%s: a sized volume needs at least 1m",
					    json_string_value(v));
	}
	if (volume_db_get(api->db, name, &existing, NULL) == 0)
		return ct_error_set(err, CT_ERR_EXISTS, 0, "a volume named %s exists already",
				    name);

	_cleanup_free_ char *root = volumes_root(api), *dir = volume_dir(api, name),
			    *data = volume_data(api, name);
	if (ct_mkdir_p(root, 0700, err) < 0)
		return -1;
	/* A folder without a row is what a crash between the two left: ours to
	 * replace. */
	if (access(dir, F_OK) == 0 && remove_volume_dir(api, name, err) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", dir);
	if (mkdir(data, 0755) < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", data);
		goto fail;
	}
	if (size > 0 && volume_disk_create(dir, size, err) < 0)
		goto fail;
	char now[32];
	ct_format_time_now(now, sizeof(now));
	json_t *row = json_pack("{s:s, s:O, s:O, s:b, s:s}", "name", name, "labels", labels,
				"options", options, "anonymous", anonymous, "createdAt", now);
	if (volume_db_insert(api->db, row, err) < 0) {
		json_decref(row);
		goto fail;
	}
	log_info("created volume %s%s%s", name, size ? " of size " : "",
		 size ? json_string_value(json_object_get(options, "size")) : "");
	*out = row;
	return 0;
fail : {
	_cleanup_error_ struct ct_error rm = CT_ERROR_INIT;
	if (remove_volume_dir(api, name, &rm) < 0)
		log_warn("%s", ct_error_message(&rm));
}
	return ct_error_prefix(err, "creating volume %s", name);
}

/* Deletes a volume no container uses; users is volume_users()'s map. */
static int volume_delete(struct apiserver *api, const char *name, json_t *users,
			 struct ct_error *err)
{
	_cleanup_json_ json_t *row = NULL;
	json_t *used = json_object_get(users, name);

	if (volume_db_get(api->db, name, &row, err) < 0)
		return -1;
	if (json_array_size(used) > 0) {
		_cleanup_free_ char *list = NULL;
		json_t *c;
		size_t i;
		json_array_foreach (used, i, c) {
			char *more = xasprintf("%s%s%s", list ? list : "", list ? ", " : "",
					       json_string_value(c));
			free(list);
			list = more;
		}
		return ct_error_set(err, CT_ERR_CONFLICT, 0,
				    "volume %s is in use by container%s %s: delete %s first", name,
				    json_array_size(used) > 1 ? "s" : "", list,
				    json_array_size(used) > 1 ? "them" : "it");
	}
	/* Unmounted first: a row without a folder is never left behind, a
	 * folder without a row is replaced by the next create of the name. */
	_cleanup_free_ char *dir = volume_dir(api, name);
	if (volume_disk_unmount(dir, err) < 0)
		return ct_error_prefix(err, "deleting volume %s", name);
	if (volume_db_delete(api->db, name, err) < 0)
		return -1;
	if (trash_tree(api, dir, err) < 0)
		return ct_error_prefix(err, "deleting volume %s (its row is gone)", name);
	log_info("deleted volume %s", name);
	return 0;
}

/* ---- routes ------------------------------------------------------------- */

static void route_create(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *body = ct_request_body(req), *labels = NULL, *options = NULL, *row = NULL;
	const char *name = NULL;
	static const char *const keys[] = {"name", "labels", "options", NULL};

	if (ct_json_check_keys(body, keys, "request body", &err) < 0 ||
	    ct_json_get_string(body, "name", true, &name, "request body", &err) < 0 ||
	    ct_json_get_object(body, "labels", false, &labels, "request body", &err) < 0 ||
	    ct_json_get_object(body, "options", false, &options, "request body", &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *no_labels = json_object(), *no_options = json_object();
	if (volume_create(api, name, labels ?: no_labels, options ?: no_options, false, &row,
			  &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *users = json_object();
	_cleanup_free_ char *fresh = volume_data(api, name);
	ct_request_reply(req, describe(api, row, users, (int64_t)disk_usage(fresh)), NULL, 0);
	json_decref(row);
}

static void route_delete(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *name = NULL;

	if (ct_json_get_string(ct_request_body(req), "name", true, &name, "request body", &err) <
	    0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *users = volume_users(api);
	if (volume_delete(api, name, users, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	ct_request_reply(req, json_pack("{s:s}", "name", name), NULL, 0);
}

/* list, inspect and prune need each volume's size: a large volume takes
 * long to walk, so the sizes are measured on a worker thread and the reply
 * is made when they are in. */
struct sized {
	struct apiserver *api;
	struct ct_request *req;
	json_t *rows; /* the volumes' rows */
	char **data;  /* their _data folders, plain copies for the worker */
	int64_t *size;
	size_t n;
	void (*reply)(struct sized *s);
};

static void sized_free(struct sized *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	free(s->data);
	free(s->size);
	json_decref(s->rows);
	free(s);
}

static void sized_work(void *arg)
{
	struct sized *s = arg;

	for (size_t i = 0; i < s->n; i++)
		s->size[i] = (int64_t)disk_usage(s->data[i]);
}

static void sized_done(void *arg)
{
	struct sized *s = arg;

	s->reply(s);
	sized_free(s);
}

/* Measures the volumes of rows (taken), then calls reply on the loop thread. */
static void with_sizes(struct apiserver *api, struct ct_request *req, json_t *rows,
		       void (*reply)(struct sized *s))
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct sized *s = xcalloc(1, sizeof(*s));
	json_t *row;
	size_t i;

	s->api = api;
	s->req = req;
	s->rows = rows;
	s->reply = reply;
	s->n = json_array_size(rows);
	s->data = xcalloc(s->n + 1, sizeof(*s->data));
	s->size = xcalloc(s->n + 1, sizeof(*s->size));
	json_array_foreach (rows, i, row)
		s->data[i] = volume_data(api, json_string_value(json_object_get(row, "name")));
	if (ct_worker_start(api->loop, sized_work, sized_done, s, &err) < 0) {
		ct_request_fail(req, &err);
		sized_free(s);
	}
}

static void list_reply(struct sized *s)
{
	_cleanup_json_ json_t *users = volume_users(s->api);
	json_t *items = json_array(), *row;
	size_t i;

	json_array_foreach (s->rows, i, row)
		json_array_append_new(items, describe(s->api, row, users, s->size[i]));
	ct_request_reply(s->req, json_pack("{s:o}", "volumes", items), NULL, 0);
}

static void route_list(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *rows = NULL;

	if (volume_db_list(api->db, &rows, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	with_sizes(api, req, rows, list_reply);
}

static void inspect_reply(struct sized *s)
{
	_cleanup_json_ json_t *users = volume_users(s->api);

	ct_request_reply(s->req, describe(s->api, json_array_get(s->rows, 0), users, s->size[0]),
			 NULL, 0);
}

static void route_inspect(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *row = NULL;
	const char *name = NULL;

	if (ct_json_get_string(ct_request_body(req), "name", true, &name, "request body", &err) <
		0 ||
	    volume_db_get(api->db, name, &row, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	json_t *rows = json_array();
	json_array_append_new(rows, row);
	with_sizes(api, req, rows, inspect_reply);
}

/* The users are looked up again once the sizes are in: a container created
 * meanwhile keeps its volume. */
static void prune_reply(struct sized *s)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *users = volume_users(s->api);
	json_t *deleted = json_array(), *row;
	int64_t reclaimed = 0;
	size_t i;

	json_array_foreach (s->rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		if (json_array_size(json_object_get(users, name)) > 0)
			continue;
		if (volume_delete(s->api, name, users, &err) < 0) {
			if (!ct_error_is(&err, CT_ERR_NOT_FOUND))
				log_warn("volume prune: %s", ct_error_message(&err));
			ct_error_clear(&err);
			continue;
		}
		reclaimed += s->size[i];
		json_array_append_new(deleted, json_string(name));
	}
	ct_request_reply(
	    s->req, json_pack("{s:o, s:I}", "deleted", deleted, "reclaimed", (json_int_t)reclaimed),
	    NULL, 0);
}

static void route_prune(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	size_t i;

	if (volume_db_list(api->db, &rows, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *users = volume_users(api);
	json_t *unused = json_array();
	json_array_foreach (rows, i, row)
		if (json_array_size(json_object_get(
			users, json_string_value(json_object_get(row, "name")))) == 0)
			json_array_append(unused, row);
	with_sizes(api, req, unused, prune_reply);
}

/* At start (after a reboot, say): the sized volumes' file systems mounted
 * again, so containers and `volume list` find their data. */
static void volumes_boot(struct apiserver *api)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *rows = NULL;
	json_t *row;
	size_t i;

	_cleanup_free_ char *root = volumes_root(api);
	trash_boot(api, root);
	if (volume_db_list(api->db, &rows, &err) < 0) {
		log_warn("mounting the sized volumes: %s", ct_error_message(&err));
		return;
	}
	json_array_foreach (rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		if (!size_limit(json_object_get(row, "options")))
			continue;
		_cleanup_free_ char *dir = volume_dir(api, name);
		if (volume_disk_mount(dir, &err) < 0) {
			log_warn("mounting volume %s: %s (containers using it will fail to start "
				 "until it can be mounted)",
				 name, ct_error_message(&err));
			ct_error_clear(&err);
		}
	}
}

void routes_volume_register(struct apiserver *api)
{
	ct_server_route(api->server, "volume.create", route_create, api);
	ct_server_route(api->server, "volume.delete", route_delete, api);
	ct_server_route(api->server, "volume.list", route_list, api);
	ct_server_route(api->server, "volume.inspect", route_inspect, api);
	ct_server_route(api->server, "volume.prune", route_prune, api);
	volumes_boot(api);
}

/* ---- containers' mounts ----------------------------------------------------- */

/* An absolute path without "//", a trailing "/", "." or ".." (caller frees);
 * NULL when path is not absolute or has "..". */
static char *clean_path(const char *path)
{
	if (!path || path[0] != '/' || strlen(path) >= 4096)
		return NULL;
	_cleanup_free_ char *copy = xstrdup(path);
	char *out = xcalloc(1, strlen(path) + 2), *save = NULL;
	size_t len = 0;

	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			free(out);
			return NULL;
		}
		out[len++] = '/';
		memcpy(out + len, c, strlen(c));
		len += strlen(c);
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return out;
}

/* tmpfs options of --mount: size=SIZE and mode=OCTAL only, so nothing else
 * reaches the mount call. */
static int check_tmpfs_options(const char *opts, struct ct_error *err)
{
	_cleanup_free_ char *copy = xstrdup(opts);
	char *save = NULL;

	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "size=", 5) == 0 && parse_size(o + 5) > 0)
			continue;
		if (strncmp(o, "mode=", 5) == 0 && o[5] &&
		    strspn(o + 5, "01234567") == strlen(o + 5) && strlen(o + 5) <= 4)
			continue;
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "tmpfs option \"%s\": expected size=SIZE or mode=OCTAL", o);
	}
	return 0;
}

static bool destination_taken(json_t *seen, const char *dest)
{
	json_t *v;
	size_t i;

	json_array_foreach (seen, i, v)
		if (strcmp(json_string_value(v), dest) == 0)
			return true;
	return false;
}

/* One request mount into its stored form. */
static json_t *check_mount(struct apiserver *api, json_t *m, size_t index, json_t *seen,
			   struct ct_error *err)
{
	static const char *const keys[] = {"type",   "source",	"destination", "readOnly",
					   "noCopy", "options", "name",	       NULL};
	const char *type = "volume", *source = NULL, *dest = NULL, *opts = NULL;
	bool ro = false, nocopy = false;
	char what[32];

	snprintf(what, sizeof(what), "mounts[%zu]", index);
	if (!json_is_object(m)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: expected an object", what);
		return NULL;
	}
	if (ct_json_check_keys(m, keys, what, err) < 0 ||
	    ct_json_get_string(m, "type", false, &type, what, err) < 0 ||
	    ct_json_get_string(m, "source", false, &source, what, err) < 0 ||
	    ct_json_get_string(m, "destination", true, &dest, what, err) < 0 ||
	    ct_json_get_bool(m, "readOnly", false, &ro, what, err) < 0 ||
	    ct_json_get_bool(m, "noCopy", false, &nocopy, what, err) < 0 ||
	    ct_json_get_string(m, "options", false, &opts, what, err) < 0)
		return NULL;
	_cleanup_free_ char *clean = clean_path(dest);
	if (!clean || strcmp(clean, "/") == 0) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "mount destination \"%s\": expected an absolute path in the container "
			     "other than /, without \"..\"",
			     dest);
		return NULL;
	}
	if (destination_taken(seen, clean)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "%s is the destination of two mounts; give each path once", clean);
		return NULL;
	}
	json_array_append_new(seen, json_string(clean));
	if (source && !*source)
		source = NULL;

	if (strcmp(type, "bind") == 0) {
		_cleanup_free_ char *src = source ? clean_path(source) : NULL;
		struct stat st;
		if (!src) {
			ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				     "bind mount on %s: the source must be an absolute host path "
				     "without \"..\"%s%s",
				     clean, source ? ", not " : "", source ? source : "");
			return NULL;
		}
		if (stat(src, &st) < 0) {
			if (errno == ENOENT)
				ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					     "bind source %s does not exist: create it first, or "
					     "use a volume (-v NAME:%s)",
					     src, clean);
			else
				ct_error_errno(err, CT_ERR_INVALID_ARGUMENT, "bind source %s", src);
			return NULL;
		}
		return json_pack("{s:s, s:s, s:s, s:b}", "type", "bind", "source", src,
				 "destination", clean, "readOnly", ro);
	}
	if (strcmp(type, "volume") == 0) {
		_cleanup_free_ char *name = source ? xstrdup(source) : anonymous_name();
		if (!volume_name_valid(name)) {
			invalid_name(name, err);
			return NULL;
		}
		_cleanup_free_ char *data = volume_data(api, name);
		json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "volume", "name", name,
					"source", data, "destination", clean, "readOnly", ro);
		if (nocopy)
			json_object_set_new(out, "noCopy", json_true());
		if (!source)
			json_object_set_new(out, "anonymous", json_true());
		return out;
	}
	if (strcmp(type, "tmpfs") == 0) {
		if (source) {
			ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				     "tmpfs mount on %s takes no source (\"%s\")", clean, source);
			return NULL;
		}
		if (opts && check_tmpfs_options(opts, err) < 0)
			return NULL;
		return json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "tmpfs", "source", "tmpfs",
				 "destination", clean, "readOnly", ro, "options", opts ? opts : "");
	}
	ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
		     "mount type \"%s\" on %s: expected bind, volume or tmpfs", type, clean);
	return NULL;
}

int volumes_check_mounts(struct apiserver *api, json_t *options, struct ct_error *err)
{
	json_t *mounts = json_object_get(options, "mounts"), *m, *t;
	_cleanup_json_ json_t *seen = json_array();
	size_t i;

	if (!mounts)
		return 0;
	if (!json_is_array(mounts))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "request body: \"mounts\" must be an array");
	/* --tmpfs paths count as destinations too. */
	json_array_foreach (json_object_get(options, "tmpfs"), i, t) {
		_cleanup_free_ char *clean =
		    clean_path(json_string_value(json_object_get(t, "path")));
		if (clean)
			json_array_append_new(seen, json_string(clean));
	}
	json_t *out = json_array();
	json_array_foreach (mounts, i, m) {
		json_t *checked = check_mount(api, m, i, seen, err);
		if (!checked) {
			json_decref(out);
			return -1;
		}
		json_array_append_new(out, checked);
	}
	json_object_set_new(options, "mounts", out);
	return 0;
}

/* Deletes the volumes named in made (an array of names), logging failures. */
static void delete_made(struct apiserver *api, json_t *made)
{
	_cleanup_json_ json_t *users = json_object();
	json_t *v;
	size_t i;

	json_array_foreach (made, i, v) {
		_cleanup_error_ struct ct_error e = CT_ERROR_INIT;
		if (volume_delete(api, json_string_value(v), users, &e) < 0)
			log_warn("%s", ct_error_message(&e));
	}
}

int volumes_ensure(struct apiserver *api, json_t *options, struct ct_error *err)
{
	_cleanup_json_ json_t *made = json_array();
	json_t *m;
	size_t i;

	json_array_foreach (json_object_get(options, "mounts"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		_cleanup_json_ json_t *row = NULL;
		if (!name || volume_db_get(api->db, name, &row, NULL) == 0)
			continue;
		_cleanup_json_ json_t *labels = json_object(), *opts = json_object();
		bool anonymous = json_is_true(json_object_get(m, "anonymous"));
		if (volume_create(api, name, labels, opts, anonymous, &row, err) < 0) {
			delete_made(api, made);
			return -1;
		}
		json_array_append_new(made, json_string(name));
	}
	return 0;
}

/* Fills a volume from the image the first time a container mounts it. Runs on
 * a worker thread (a large copy would stall the loop): the file system only. */
static int populate(const char *dir, const char *name, const char *lower, const char *destination,
		    struct ct_error *err)
{
	_cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", dir);
	if (faccessat(dirfd, POPULATED_MARK, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	_cleanup_close_ int data =
	    openat(dirfd, "_data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool empty;
	if (data < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s/_data", dir);
	if (volume_dir_is_empty(data, &empty, err) < 0)
		return -1;
	if (empty && lower && volume_fill(lower, destination, data, err) < 0)
		return ct_error_prefix(err, "filling volume %s", name);
	_cleanup_close_ int mark =
	    openat(dirfd, POPULATED_MARK, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mark < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "marking volume %s as filled", name);
	return 0;
}

struct fill {
	char *dir, *name, *lower, *destination;
};

struct prepare {
	struct fill *fills;
	size_t n;
	struct ct_error err;
	volumes_ready_fn done;
	void *data;
};

/* Two starts that share a new volume fill it once: fills run one at a time
 * and each checks the volume's mark first. */
static pthread_mutex_t fill_lock = PTHREAD_MUTEX_INITIALIZER;

static void prepare_work(void *arg)
{
	struct prepare *p = arg;

	pthread_mutex_lock(&fill_lock);
	for (size_t i = 0; i < p->n; i++)
		if (populate(p->fills[i].dir, p->fills[i].name, p->fills[i].lower,
			     p->fills[i].destination, &p->err) < 0)
			break;
	pthread_mutex_unlock(&fill_lock);
}

static void prepare_done(void *arg)
{
	struct prepare *p = arg;

	p->done(p->err.code[0] ? &p->err : NULL, p->data);
	for (size_t i = 0; i < p->n; i++) {
		free(p->fills[i].dir);
		free(p->fills[i].name);
		free(p->fills[i].lower);
		free(p->fills[i].destination);
	}
	free(p->fills);
	ct_error_clear(&p->err);
	free(p);
}

void volumes_prepare_start(struct apiserver *api, const char *bundle, json_t *options,
			   volumes_ready_fn done, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *config = xasprintf("%s/config.json", bundle);
	_cleanup_json_ json_t *spec = NULL;
	struct prepare *p = xcalloc(1, sizeof(*p));
	json_t *mounts = json_object_get(options, "mounts"), *m;
	size_t i;

	p->done = done;
	p->data = data;
	p->fills = xcalloc(json_array_size(mounts) + 1, sizeof(*p->fills));
	json_array_foreach (mounts, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *dest = json_string_value(json_object_get(m, "destination"));
		_cleanup_json_ json_t *row = NULL;
		if (!name)
			continue;
		if (volume_db_get(api->db, name, &row, &err) < 0) {
			ct_error_prefix(&err, "the container's volume at %s", dest);
			goto fail;
		}
		_cleanup_free_ char *dir = volume_dir(api, name);
		if (size_limit(json_object_get(row, "options")) &&
		    volume_disk_mount(dir, &err) < 0) {
			ct_error_prefix(&err, "mounting volume %s", name);
			goto fail;
		}
		if (json_is_true(json_object_get(m, "noCopy")))
			continue;
		_cleanup_free_ char *mark = xasprintf("%s/" POPULATED_MARK, dir);
		if (access(mark, F_OK) == 0)
			continue;
		if (!spec)
			spec = json_load_file(config, 0, NULL);
		const char *lower = json_string_value(json_object_get(
		    json_object_get(spec, "annotations"), "org.container.rootfs.lower"));
		p->fills[p->n++] = (struct fill){.dir = move_ptr(dir),
						 .name = xstrdup(name),
						 .lower = lower ? xstrdup(lower) : NULL,
						 .destination = xstrdup(dest)};
	}
	if (p->n == 0) {
		prepare_done(p);
		return;
	}
	if (ct_worker_start(api->loop, prepare_work, prepare_done, p, &err) == 0)
		return;
fail:
	ct_error_move(&p->err, &err);
	prepare_done(p);
}

void volumes_remove_anonymous(struct apiserver *api, json_t *options)
{
	_cleanup_json_ json_t *users = NULL;
	json_t *m;
	size_t i;

	json_array_foreach (json_object_get(options, "mounts"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		_cleanup_json_ json_t *row = NULL;
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
		/* Only the volumes made for this container: a -v anon-…:/path names
		 * one another container left, which is not this one's to delete. */
		if (!name || !json_is_true(json_object_get(m, "anonymous")) ||
		    volume_db_get(api->db, name, &row, NULL) < 0 ||
		    !json_is_true(json_object_get(row, "anonymous")))
			continue;
		if (!users)
			users = volume_users(api);
		if (json_array_size(json_object_get(users, name)) > 0)
			continue;
		if (volume_delete(api, name, users, &err) < 0)
			log_warn("removing the anonymous volume %s: %s", name,
				 ct_error_message(&err));
	}
}
