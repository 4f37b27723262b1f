/* Route: system.df — count, active, size and reclaimable space for images,
 * containers and volumes, as `docker system df` reports them; with "verbose",
 * each item too.
 *
 *   images      size as the images plugin counts it (its layers and config);
 *               active = used by a container; reclaimable = the unused ones
 *   containers  the size of each container's own layer (upper/); active =
 *               running; reclaimable = the stopped ones' (`container prune`)
 *   volumes     the disk blocks under volumes/<name>/_data; active = used by a
 *               container; reclaimable = the unused ones' (`volume prune`)
 *
 * Walking the folders can take a while on large volumes, so a child process
 * measures them (the loop keeps serving) and sends the sizes back on a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiserver.h"
#include "async_client.h"
#include "cleanup.h"
#include "container_db.h"
#include "disk_usage.h"
#include "frame.h"
#include "json_util.h"
#include "log.h"
#include "state.h"
#include "supervisor.h"
#include "util.h"

/* ---- sizes, in a child ------------------------------------------------------ */

struct df_call {
	struct apiserver *api;
	struct ct_request *req;
	bool verbose;
	json_t *images;	    /* the images plugin's list */
	json_t *containers; /* [{id, name, image, imageDigest, running, path}] */
	json_t *volumes;    /* [{name, anonymous, path, usedBy}] */
	int fd;
	struct ct_watch *watch;
	char *buf;
	size_t len, cap;
	pid_t child;
};

static void df_free(struct df_call *d)
{
	if (d->watch)
		ct_loop_unwatch(d->api->loop, d->watch);
	if (d->fd >= 0)
		close(d->fd);
	json_decref(d->images);
	json_decref(d->containers);
	json_decref(d->volumes);
	free(d->buf);
	free(d);
}

/* ---- the report ------------------------------------------------------------- */

static json_t *summary(const char *type, size_t total, size_t active, uint64_t size,
		       uint64_t reclaimable)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I}", "type", type, "total", (json_int_t)total,
			 "active", (json_int_t)active, "size", (json_int_t)size, "reclaimable",
			 (json_int_t)reclaimable);
}

static bool digest_used(json_t *containers, const char *digest)
{
	json_t *c;
	size_t i;

	json_array_foreach (containers, i, c)
		if (strcmp(json_string_value(json_object_get(c, "imageDigest")) ?: "", digest) == 0)
			return true;
	return false;
}

static void df_reply(struct df_call *d, json_t *sizes)
{
	json_t *c, *v, *img, *items = json_array();
	size_t i, active;
	uint64_t size, reclaim;

	/* Images: one per digest (tags of one image count once). */
	_cleanup_json_ json_t *by_digest = json_object();
	json_array_foreach (d->images, i, img) {
		const char *digest = json_string_value(json_object_get(img, "digest"));
		if (!digest)
			continue;
		json_t *entry = json_object_get(by_digest, digest);
		if (!entry) {
			entry =
			    json_pack("{s:s, s:[], s:I, s:b}", "digest", digest, "names", "size",
				      (json_int_t)json_integer_value(json_object_get(img, "size")),
				      "inUse", digest_used(d->containers, digest));
			json_object_set_new(by_digest, digest, entry);
		}
		json_array_append(json_object_get(entry, "names"), json_object_get(img, "name"));
	}
	json_t *image_items = json_array();
	const char *key;
	active = size = reclaim = 0;
	json_object_foreach (by_digest, key, img) {
		uint64_t s = json_integer_value(json_object_get(img, "size"));
		size += s;
		if (json_is_true(json_object_get(img, "inUse")))
			active++;
		else
			reclaim += s;
		json_array_append(image_items, img);
	}
	json_array_append_new(
	    items, summary("images", json_object_size(by_digest), active, size, reclaim));

	json_t *container_items = json_array();
	active = size = reclaim = 0;
	json_array_foreach (d->containers, i, c) {
		uint64_t s = json_integer_value(json_array_get(sizes, i));
		bool running = json_is_true(json_object_get(c, "running"));
		size += s;
		if (running)
			active++;
		else
			reclaim += s;
		json_array_append_new(
		    container_items,
		    json_pack("{s:O, s:O, s:O, s:b, s:I}", "id", json_object_get(c, "id"), "name",
			      json_object_get(c, "name"), "image", json_object_get(c, "image"),
			      "running", running, "size", (json_int_t)s));
	}
	json_array_append_new(
	    items, summary("containers", json_array_size(d->containers), active, size, reclaim));

	json_t *volume_items = json_array();
	size_t offset = json_array_size(d->containers);
	active = size = reclaim = 0;
	json_array_foreach (d->volumes, i, v) {
		uint64_t s = json_integer_value(json_array_get(sizes, offset + i));
		bool used = json_array_size(json_object_get(v, "usedBy")) > 0;
		size += s;
		if (used)
			active++;
		else
			reclaim += s;
		json_array_append_new(volume_items, json_pack("{s:O, s:O, s:I}", "name",
							      json_object_get(v, "name"), "usedBy",
							      json_object_get(v, "usedBy"), "size",
							      (json_int_t)s));
	}
	json_array_append_new(
	    items, summary("volumes", json_array_size(d->volumes), active, size, reclaim));

	json_t *reply = json_pack("{s:o}", "summary", items);
	if (d->verbose) {
		json_object_set_new(reply, "images", image_items);
		json_object_set_new(reply, "containers", container_items);
		json_object_set_new(reply, "volumes", volume_items);
	} else {
		json_decref(image_items);
		json_decref(container_items);
		json_decref(volume_items);
	}
	ct_request_reply(d->req, reply, NULL, 0);
}

static void sizes_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct df_call *d = data;

	if (d->len == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 4096;
		d->buf = realloc(d->buf, d->cap + 1);
		if (!d->buf)
			abort();
	}
	ssize_t n = read(fd, d->buf + d->len, d->cap - d->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		d->len += n;
		return;
	}
	d->buf[d->len] = '\0';
	/* The child is reaped by the supervisor's waitpid(-1). */
	_cleanup_json_ json_t *sizes = json_loads(d->buf, 0, NULL);
	if (!json_is_array(sizes))
		ct_request_error(d->req, CT_ERR_INTERNAL,
				 "measuring disk use: the measuring process ended early");
	else
		df_reply(d, sizes);
	df_free(d);
}

/* Measures every container's upper/ and every volume's _data in a child. */
static void measure(struct df_call *d)
{
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ct_request_error(d->req, CT_ERR_INTERNAL, "pipe: %s", strerror(errno));
		df_free(d);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		json_t *out = json_array(), *item;
		size_t i;
		json_array_foreach (d->containers, i, item)
			json_array_append_new(
			    out, json_integer((json_int_t)disk_usage(
				     json_string_value(json_object_get(item, "path")))));
		json_array_foreach (d->volumes, i, item)
			json_array_append_new(
			    out, json_integer((json_int_t)disk_usage(
				     json_string_value(json_object_get(item, "path")))));
		char *text = json_dumps(out, JSON_COMPACT);
		size_t len = text ? strlen(text) : 0;
		for (size_t off = 0; off < len;) {
			ssize_t w = write(pipefd[1], text + off, len - off);
			if (w <= 0)
				_exit(1);
			off += w;
		}
		_exit(0);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		ct_request_error(d->req, CT_ERR_INTERNAL, "fork: %s", strerror(errno));
		df_free(d);
		return;
	}
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	d->fd = pipefd[0];
	ct_set_nonblock(d->fd, true);
	if (!(d->watch = ct_loop_watch(d->api->loop, d->fd, EPOLLIN, sizes_event, d, &err))) {
		ct_request_fail(d->req, &err);
		df_free(d);
	}
}

/* ---- what there is ------------------------------------------------------------ */

static bool running_now(struct apiserver *api, const char *id)
{
	pid_t helper;

	return containers_running(api, id, &helper);
}

/* Names of the volumes a container's options mount. */
static bool mounts_volume(json_t *options, const char *volume)
{
	json_t *m;
	size_t i;

	json_array_foreach (json_object_get(options, "mounts"), i, m) {
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *name = json_string_value(json_object_get(m, "name"))
				       ?: json_string_value(json_object_get(m, "source"));
		if (type && strcmp(type, "volume") == 0 && name && strcmp(name, volume) == 0)
			return true;
	}
	return false;
}

static void collect(struct df_call *d)
{
	struct apiserver *api = d->api;
	struct container_record *all = NULL;
	size_t n = 0;

	d->containers = json_array();
	d->volumes = json_array();
	if (container_db_list(api->db, &all, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *upper =
			    xasprintf("%s/containers/%s/upper", api->paths.app_root, all[i].id);
			json_array_append_new(
			    d->containers,
			    json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", all[i].id, "name",
				      all[i].name, "image", all[i].image, "imageDigest",
				      all[i].image_digest, "running", running_now(api, all[i].id),
				      "path", upper));
		}
	}
	/* Volumes, when this build has them (the table comes with the volumes
	 * migration). */
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(state_handle(api->db), "SELECT name FROM volumes ORDER BY name", -1,
			       &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);
			_cleanup_free_ char *path =
			    xasprintf("%s/volumes/%s/_data", api->paths.app_root, name);
			json_t *used = json_array();
			for (size_t i = 0; i < n; i++)
				if (mounts_volume(all[i].options, name))
					json_array_append_new(used, json_string(all[i].name));
			json_array_append_new(d->volumes, json_pack("{s:s, s:s, s:o}", "name", name,
								    "path", path, "usedBy", used));
		}
	}
	sqlite3_finalize(st);
	container_records_free(all, n);
}

static void images_listed(json_t *body, int *fds, size_t nfds, const struct ct_error *e, void *data)
{
	struct df_call *d = data;

	ct_close_fds(fds, nfds);
	if (e) {
		ct_request_error(d->req, e->code, "listing images: %s", ct_error_message(e));
		df_free(d);
		return;
	}
	d->images = json_incref(json_object_get(body, "images")) ?: json_array();
	collect(d);
	measure(d);
}

static const struct async_call_handlers images_handlers = {.done = images_listed};

static void route_df(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	bool verbose = false;

	if (ct_json_get_bool(ct_request_body(req), "verbose", false, &verbose, "request body",
			     &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	struct plugin_instance *inst =
	    supervisor_load(api->supervisor, "container-core-images", &err);
	if (!inst) {
		ct_request_fail(req, &err);
		return;
	}
	struct df_call *d = xcalloc(1, sizeof(*d));
	d->api = api;
	d->req = req;
	d->verbose = verbose;
	d->fd = -1;
	async_call(api->loop, plugin_instance_socket(inst), "plugin container-core-images",
		   "image.list", NULL, NULL, 0, &images_handlers, d);
}

void routes_df_register(struct apiserver *api)
{
	ct_server_route(api->server, "system.df", route_df, api);
}
