/* Routes: container.create, start, wait, stop, kill, delete, list, inspect,
 * logs, prune. The API server keeps what was asked (state.db) and the bundle
 * (containers/<id>/config.json); the runtime helper of each container runs it
 * and writes state.json; we talk to the helper on its socket
 * (<run root>/containers/<id>.sock) and read state.json when it is gone. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiserver.h"
#include "async_client.h"
#include "cleanup.h"
#include "container_db.h"
#include "etc_files.h"
#include "network_attach.h"
#include "frame.h"
#include "json_util.h"
#include "log.h"
#include "proto.h"
#include "runtime_image.h"
#include "spec_builder.h"
#include "supervisor.h"
#include "trash.h"
#include "util.h"
#include "volumes.h"
#include "worker.h"

#define RUNTIME_PLUGIN "container-runtime-linux"

static char *bundle_dir(struct apiserver *api, const char *id)
{
	return xasprintf("%s/containers/%s", api->paths.app_root, id);
}

static char *helper_socket(struct apiserver *api, const char *id)
{
	/* Short: a Unix socket path has a 108-byte limit. */
	return xasprintf("%s/c/%.12s.sock", api->paths.run_root, id);
}

/* state.json, or a "created" state when the container never started. */
static json_t *read_state(struct apiserver *api, const char *id)
{
	_cleanup_free_ char *path =
	    xasprintf("%s/containers/%s/state.json", api->paths.app_root, id);
	_cleanup_free_ char *text = NULL;

	if (ct_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return json_pack("{s:s}", "status", "created");
	json_t *j = json_loads(text, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return json_pack("{s:s}", "status", "unknown");
	}
	/* "running" with its helper gone (the helper was killed, the host
	 * rebooted) is not running. While the helper lives it has the last word:
	 * the container may have exited a moment ago and its final state not be
	 * written yet. */
	if (strcmp(json_string_value(json_object_get(j, "status")) ?: "", "running") == 0) {
		pid_t helper = json_integer_value(json_object_get(j, "helperPid"));
		if (!ct_pid_running(helper)) {
			json_object_set_new(j, "status", json_string("stopped"));
			json_object_set_new(
			    j, "error",
			    json_string("its runtime helper ended without recording "
					"how the container exited"));
		}
	}
	return j;
}

static bool valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

static char *new_id(void)
{
	unsigned char raw[32];
	char *id = xcalloc(65, 1);

	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		abort();
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(id + 2 * i, "%02x", raw[i]);
	return id;
}

/* ---- container.create ---------------------------------------------------- */

struct create_call {
	struct apiserver *api;
	struct ct_request *req;
	json_t *options;
	char *name;
	json_t *query; /* the image.resolve request, for a second try */
	bool retried;
};

static void create_free(struct create_call *c)
{
	json_decref(c->query);
	json_decref(c->options);
	free(c->name);
	free(c);
}

static void resolve_image(struct create_call *c);

static void create_image_done(json_t *image, int *fds, size_t nfds, const struct ct_error *e,
			      void *data)
{
	struct create_call *c = data;
	struct apiserver *api = c->api;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *id = new_id(), *bundle = NULL, *rootfs = NULL, *upper = NULL,
			    *work = NULL, *config = NULL, *text = NULL;
	_cleanup_json_ json_t *spec = NULL;

	ct_close_fds(fds, nfds);
	if (e && async_call_peer_lost(e) && !c->retried && ct_request_alive(c->req)) {
		/* The images plugin died with the request (killed, crashed): the
		 * supervisor restarts it, and the request waits in its socket's
		 * backlog meanwhile. Resolving is idempotent, so once more. */
		c->retried = true;
		log_info("images plugin lost a request for %s (%s); asking again",
			 json_string_value(json_object_get(c->query, "reference")),
			 ct_error_message(e));
		resolve_image(c);
		return;
	}
	if (e) {
		ct_request_error(c->req, e->code, "%s", ct_error_message(e));
		create_free(c);
		return;
	}
	if (!c->name)
		c->name = xstrndup(id, 12);
	/* The platform the image was built for, for `list`. */
	json_t *cfg = json_object_get(image, "config");
	json_object_set_new(c->options, "os",
			    json_incref(json_object_get(cfg, "os")) ?: json_string("linux"));
	json_object_set_new(c->options, "architecture",
			    json_incref(json_object_get(cfg, "architecture")) ?: json_string(""));
	bundle = bundle_dir(api, id);
	struct spec_inputs in = {
	    .id = id,
	    .name = c->name,
	    .bundle = bundle,
	    .image_config = json_object_get(image, "config"),
	    .snapshots = json_object_get(image, "snapshots"),
	    .options = c->options,
	};
	if (!(spec = spec_build(&in, &err)))
		goto fail;
	rootfs = xasprintf("%s/rootfs", bundle);
	upper = xasprintf("%s/upper", bundle);
	work = xasprintf("%s/work", bundle);
	config = xasprintf("%s/config.json", bundle);
	text = json_dumps(spec, JSON_INDENT(2));
	if (ct_mkdir_p(bundle, 0700, &err) < 0 || ct_mkdir_p(rootfs, 0755, &err) < 0 ||
	    ct_mkdir_p(upper, 0755, &err) < 0 || ct_mkdir_p(work, 0700, &err) < 0 ||
	    etc_files_write(api, id, json_string_value(json_object_get(spec, "hostname")),
			    c->options, &err) < 0 ||
	    ct_write_file_atomic(config, text, strlen(text), 0600, &err) < 0 ||
	    volumes_ensure(api, c->options, &err) < 0)
		goto fail;
	char now[32];
	ct_format_time_now(now, sizeof(now));
	struct container_record r = {
	    .id = id,
	    .name = c->name,
	    .image = (char *)json_string_value(json_object_get(image, "name")),
	    .image_digest = (char *)json_string_value(json_object_get(image, "digest")),
	    .created_at = now,
	    .options = c->options,
	};
	if (container_db_insert(api->db, &r, &err) < 0)
		goto fail;
	log_info("created container %s (%s) from %s", c->name, id, r.image);
	ct_request_reply(c->req, json_pack("{s:s, s:s}", "id", id, "name", c->name), NULL, 0);
	create_free(c);
	return;
fail : {
	_cleanup_error_ struct ct_error rm = CT_ERROR_INIT;
	ct_remove_tree(bundle, &rm);
}
	volumes_remove_anonymous(api, c->options);
	state_error_disk_full(&err, api->paths.app_root);
	ct_request_fail(c->req, &err);
	create_free(c);
}

static const struct async_call_handlers create_image_handlers = {.done = create_image_done};

/* The image, resolved by the images plugin (snapshots and config). */
static void resolve_image(struct create_call *c)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct plugin_instance *inst =
	    supervisor_load(c->api->supervisor, "container-core-images", &err);

	if (!inst) {
		ct_request_fail(c->req, &err);
		create_free(c);
		return;
	}
	async_call(c->api->loop, plugin_instance_socket(inst), "plugin container-core-images",
		   "image.resolve", c->query, NULL, 0, &create_image_handlers, c);
}

static void route_create(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	json_t *body = ct_request_body(req);
	const char *image = NULL, *name = NULL;

	if (ct_json_get_string(body, "image", true, &image, "request body", &err) < 0 ||
	    ct_json_get_string(body, "name", false, &name, "request body", &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	if (name && !valid_name(name)) {
		ct_request_error(
		    req, CT_ERR_INVALID_ARGUMENT,
		    "invalid container name \"%s\": 1 to 64 characters, letters, digits, "
		    "'_', '.' and '-', starting with a letter or digit",
		    name);
		return;
	}
	if (name && container_db_name_taken(api->db, name)) {
		ct_request_error(req, CT_ERR_EXISTS,
				 "the name %s is already in use; remove that container or choose "
				 "another name",
				 name);
		return;
	}
	/* Networks, published ports and DNS options are checked now, so a typo
	 * fails `create` rather than a later `start`. */
	_cleanup_json_ json_t *options = json_deep_copy(body);
	if (netattach_check_options(api, options, &err) < 0 ||
	    volumes_check_mounts(api, options, &err) < 0 || spec_check_options(options, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	struct create_call *c = xcalloc(1, sizeof(*c));
	c->api = api;
	c->req = req;
	c->options = move_ptr(options);
	c->name = name ? xstrdup(name) : NULL;
	c->query = json_pack("{s:s}", "reference", image);
	resolve_image(c);
}

/* ---- container.start ----------------------------------------------------- */

/* Containers something is being done to: a start under way, or a copy into or
 * out of a stopped one (which mounts its overlay). A second start, a delete or
 * a prune of the same container must wait, or two helpers would fight over its
 * cgroup, socket and state.json, or two overlays would share its upper folder. */
struct busy {
	char id[65];
	const char *what; /* "being started" */
	struct busy *next;
};
static struct busy *busy_list;

const char *containers_busy(const char *id)
{
	for (struct busy *b = busy_list; b; b = b->next)
		if (strcmp(b->id, id) == 0)
			return b->what;
	return NULL;
}

void containers_set_busy(const char *id, const char *what)
{
	if (what) {
		struct busy *b = xcalloc(1, sizeof(*b));
		snprintf(b->id, sizeof(b->id), "%s", id);
		b->what = what;
		b->next = busy_list;
		busy_list = b;
		return;
	}
	for (struct busy **pp = &busy_list; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			struct busy *b = *pp;
			*pp = b->next;
			free(b);
			return;
		}
}

static bool is_starting(const char *id)
{
	return containers_busy(id) != NULL;
}

static void set_starting(const char *id, bool on)
{
	containers_set_busy(id, on ? "being started" : NULL);
}

struct start_call {
	struct apiserver *api;
	struct ct_request *req;
	char *id;
	char *name;
	char *binary;
	json_t *options;
	int in_fd, out_fd, err_fd; /* the client's stdio for the container, or -1 */
	bool attach;
	bool networks_retried;
	char tty_size[32];
	int ready_fd;
	struct ct_watch *watch;
	char buf[1200];
	size_t len;
};

static void start_call_free(struct start_call *s)
{
	if (s->watch)
		ct_loop_unwatch(s->api->loop, s->watch);
	if (s->ready_fd >= 0)
		close(s->ready_fd);
	if (s->in_fd >= 0)
		close(s->in_fd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->err_fd >= 0)
		close(s->err_fd);
	set_starting(s->id, false);
	json_decref(s->options);
	free(s->id);
	free(s->name);
	free(s->binary);
	free(s);
}

/* The helper that state.json names, for watching its exit. */
static pid_t helper_pid_of(struct apiserver *api, const char *id)
{
	_cleanup_json_ json_t *state = read_state(api, id);
	return (pid_t)json_integer_value(json_object_get(state, "helperPid"));
}

/* --rm, docker's AutoRemove: a container whose options say rm goes when it
 * exits. The API server removes it when it was started detached; when a
 * client is attached, that client removes it after reading the exit status
 * (removing it here first would race the client's wait). A container that
 * exits while the API server is down, or whose client died, is removed at the
 * next boot (boot_watch_exits). */
struct client_removes {
	char id[65];
	struct client_removes *next;
};
static struct client_removes *client_removes;

static void set_client_removes(const char *id, bool on)
{
	for (struct client_removes **pp = &client_removes; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			struct client_removes *c = *pp;
			*pp = c->next;
			free(c);
			break;
		}
	if (on) {
		struct client_removes *c = xcalloc(1, sizeof(*c));
		snprintf(c->id, sizeof(c->id), "%s", id);
		c->next = client_removes;
		client_removes = c;
	}
}

static bool takes_client_removes(const char *id)
{
	for (struct client_removes *c = client_removes; c; c = c->next)
		if (strcmp(c->id, id) == 0) {
			set_client_removes(id, false);
			return true;
		}
	return false;
}

static int remove_container(struct apiserver *api, struct container_record *r, bool volumes,
			    struct ct_error *err);

void containers_exited(struct apiserver *api, const char *id)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record r;
	pid_t helper;

	if (takes_client_removes(id) || containers_busy(id) ||
	    container_db_find(api->db, id, &r, NULL) < 0)
		return;
	if (json_is_true(json_object_get(r.options, "rm")) &&
	    !containers_running(api, id, &helper) && remove_container(api, &r, true, &err) < 0)
		log_warn("removing container %s (--rm) after its exit: %s", r.name,
			 ct_error_message(&err));
	container_record_free(&r);
}

static void start_finish(struct start_call *s)
{
	s->buf[s->len] = '\0';
	if (strncmp(s->buf, "ok ", 3) == 0) {
		set_client_removes(s->id,
				   s->attach && json_is_true(json_object_get(s->options, "rm")));
		/* Its exit releases its addresses and, with --rm, removes it. */
		netattach_watch(s->api, s->id, helper_pid_of(s->api, s->id));
		ct_request_reply(
		    s->req, json_pack("{s:s, s:i}", "id", s->id, "pid", atoi(s->buf + 3)), NULL, 0);
	} else {
		netattach_release(s->api, s->id);
		if (strncmp(s->buf, "error ", 6) == 0) {
			int status = atoi(s->buf + 6);
			const char *msg = strchr(s->buf + 6, ' ');
			const char *code = status == 127   ? CT_ERR_COMMAND_NOT_FOUND
					   : status == 126 ? CT_ERR_CANNOT_RUN
							   : CT_ERR_INTERNAL;
			ct_request_error(s->req, code, "starting container %.12s: %s", s->id,
					 msg ? msg + 1 : "failed");
		} else {
			ct_request_error(s->req, CT_ERR_INTERNAL,
					 "starting container %.12s: the runtime helper exited "
					 "without saying why; see `container system logs`",
					 s->id);
		}
	}
	start_call_free(s);
}

static void ready_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct start_call *s = data;
	ssize_t n = read(fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		s->len += n;
		if (s->len < sizeof(s->buf) - 1)
			return;
	}
	start_finish(s);
}

/* Forks the runtime helper (from the shared sealed copy of its program when
 * there is one) with the container's stdio, the ready pipe as fd 3, the
 * program as fd 4 and the network namespace as fd 5. */
static void launch_helper(struct start_call *s, int netns_fd)
{
	struct apiserver *api = s->api;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *bundle = bundle_dir(api, s->id);
	_cleanup_free_ char *sock = helper_socket(api, s->id);
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ct_error_errno(&err, CT_ERR_INTERNAL, "pipe");
		goto fail;
	}
	char *argv[14] = {s->binary, "start", "--socket", sock,		"--bundle",
			  bundle,    "--id",  s->id,	  "--tty-size", s->tty_size};
	size_t argc = 10;
	if (s->attach)
		argv[argc++] = "--attach";
	if (api->debug)
		argv[argc++] = "--debug";
	if (netns_fd >= 0) {
		argv[argc++] = "--netns-fd";
		argv[argc++] = "5";
	}
	/* Started from the shared sealed copy, the helper need not copy itself; when
	 * no copy can be made it starts from the file and makes its own. */
	char identity[CT_SEALED_IDENTITY_MAX];
	struct ct_error image_err = CT_ERROR_INIT;
	int image_fd = runtime_image_fd(s->binary, identity, &image_err);
	if (image_fd < 0) {
		log_warn("starting %s from its file: %s", s->id, ct_error_message(&image_err));
		ct_error_clear(&image_err);
	}
	char *sealed_env = image_fd >= 0 ? xasprintf("%s=%s", CT_SEALED_ENV, identity) : NULL;
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Out of the way of the dup2 calls below. */
		int image = image_fd >= 0 ? fcntl(image_fd, F_DUPFD_CLOEXEC, 10) : -1;
		int netns = netns_fd >= 0 ? fcntl(netns_fd, F_DUPFD_CLOEXEC, 10) : -1;
		int devnull = open("/dev/null", O_RDWR);
		dup2(s->in_fd >= 0 ? s->in_fd : devnull, 0);
		dup2(s->out_fd >= 0 ? s->out_fd : devnull, 1);
		dup2(s->err_fd >= 0 ? s->err_fd : devnull, 2);
		dup2(pipefd[1], 3);
		if (netns >= 0)
			dup2(netns, 5); /* without CLOEXEC: the helper's to keep */
		if (image >= 0 && dup3(image, 4, O_CLOEXEC) == 4) {
			close_range(6, ~0U, 0);
			putenv(sealed_env);
			fexecve(4, argv, environ);
		}
		close(4);
		close_range(6, ~0U, 0);
		unsetenv(CT_SEALED_ENV);
		execv(s->binary, argv);
		dprintf(3, "error 125 executing %s: %s", s->binary, strerror(errno));
		_exit(125);
	}
	free(sealed_env);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		ct_error_errno(&err, CT_ERR_INTERNAL, "fork");
		goto fail;
	}
	/* The helper has its copies; a reader of the client's pipes must not wait
	 * for ours. */
	int *stdio[] = {&s->in_fd, &s->out_fd, &s->err_fd};
	for (size_t i = 0; i < ARRAY_SIZE(stdio); i++)
		if (*stdio[i] >= 0) {
			close(*stdio[i]);
			*stdio[i] = -1;
		}
	s->ready_fd = pipefd[0];
	ct_set_nonblock(s->ready_fd, true);
	s->watch = ct_loop_watch(api->loop, s->ready_fd, EPOLLIN, ready_event, s, &err);
	if (!s->watch)
		start_finish(s);
	return;
fail:
	netattach_release(api, s->id);
	ct_request_fail(s->req, &err);
	start_call_free(s);
}

static void start_networks_ready(int netns_fd, const struct ct_error *e, void *data)
{
	struct start_call *s = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *cfg =
	    xasprintf("%s/containers/%s/config.json", s->api->paths.app_root, s->id);
	_cleanup_json_ json_t *spec = json_load_file(cfg, 0, NULL);

	if (e && async_call_peer_lost(e) && !s->networks_retried && ct_request_alive(s->req)) {
		/* A network plugin died with the attach request: what it made lived
		 * in the namespace, which is gone with the last descriptor of it.
		 * The supervisor restarts the plugin; a fresh namespace, once more. */
		s->networks_retried = true;
		log_info("starting container %s: %s; attaching again", s->name,
			 ct_error_message(e));
		netattach_start(s->api, s->id, s->name, s->options, start_networks_ready, s);
		return;
	}
	if (e) {
		ct_request_error(s->req, e->code, "starting container %s: %s", s->name,
				 ct_error_message(e));
		start_call_free(s);
		return;
	}
	/* /etc/hosts and resolv.conf with the addresses just taken. */
	const char *hostname = json_string_value(json_object_get(spec, "hostname")) ?: s->name;
	if (etc_files_write(s->api, s->id, hostname, s->options, &err) < 0) {
		if (netns_fd >= 0)
			close(netns_fd);
		netattach_release(s->api, s->id);
		state_error_disk_full(&err, s->api->paths.app_root);
		ct_request_fail(s->req, &err);
		start_call_free(s);
		return;
	}
	launch_helper(s, netns_fd);
	if (netns_fd >= 0)
		close(netns_fd);
}

/* The volumes are ready: the client's descriptors are taken and the network
 * namespace is made. */
static void start_volumes_ready(const struct ct_error *e, void *data)
{
	struct start_call *s = data;
	struct ct_request *req = s->req;

	if (e || ct_worker_stopping()) {
		if (e)
			ct_request_error(req, e->code, "starting container %s: %s", s->name,
					 ct_error_message(e));
		else
			ct_request_error(req, CT_ERR_UNAVAILABLE,
					 "starting container %s: the API server is stopping",
					 s->name);
		start_call_free(s);
		return;
	}
	/* The client's descriptors: [stdin] stdout stderr, as the request says. */
	size_t nfds = ct_request_nfds(req);
	bool interactive = false;
	ct_json_get_bool(ct_request_body(req), "interactive", false, &interactive, "request body",
			 NULL);
	size_t k = 0;
	if (interactive && nfds > k)
		s->in_fd = ct_request_take_fd(req, k++);
	if (s->attach && nfds >= k + 2) {
		s->out_fd = ct_request_take_fd(req, k++);
		s->err_fd = ct_request_take_fd(req, k++);
	}
	int64_t rows = 0, cols = 0;
	ct_json_get_int(ct_request_body(req), "rows", false, &rows, "request body", NULL);
	ct_json_get_int(ct_request_body(req), "cols", false, &cols, "request body", NULL);
	snprintf(s->tty_size, sizeof(s->tty_size), "%u,%u",
		 (unsigned)(rows > 0 && rows < 65536 ? rows : 0),
		 (unsigned)(cols > 0 && cols < 65536 ? cols : 0));
	/* The container's network namespace, plumbed, before its helper starts. */
	netattach_start(s->api, s->id, s->name, s->options, start_networks_ready, s);
}

static void route_start(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record r;
	const char *key = NULL;
	bool attach = false;

	if (ct_json_get_string(ct_request_body(req), "id", true, &key, "request body", &err) < 0 ||
	    ct_json_get_bool(ct_request_body(req), "attach", false, &attach, "request body", &err) <
		0 ||
	    container_db_find(api->db, key, &r, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *state = read_state(api, r.id);
	const char *status = json_string_value(json_object_get(state, "status"));
	if ((status && strcmp(status, "running") == 0) || is_starting(r.id)) {
		ct_request_error(req, CT_ERR_CONFLICT, "container %s is already %s", r.name,
				 is_starting(r.id) ? containers_busy(r.id) : "running");
		container_record_free(&r);
		return;
	}
	const struct ct_plugin_manifest *m =
	    ct_plugin_list_find(supervisor_manifests(api->supervisor), RUNTIME_PLUGIN);
	if (!m) {
		ct_request_error(req, CT_ERR_UNAVAILABLE,
				 "the runtime plugin %s is not installed (looked in the plugin "
				 "folders under %s)",
				 RUNTIME_PLUGIN, api->paths.install_root);
		container_record_free(&r);
		return;
	}
	_cleanup_free_ char *bundle = bundle_dir(api, r.id);
	_cleanup_free_ char *sockdir = xasprintf("%s/c", api->paths.run_root);
	if (ct_mkdir_p(sockdir, 0700, &err) < 0) {
		ct_request_fail(req, &err);
		container_record_free(&r);
		return;
	}
	/* A restart: the last run's state goes; its output stays in the log. */
	_cleanup_free_ char *state_path = xasprintf("%s/state.json", bundle);
	unlink(state_path);
	struct start_call *s = xcalloc(1, sizeof(*s));
	s->api = api;
	s->req = req;
	s->id = xstrdup(r.id);
	s->name = xstrdup(r.name);
	s->binary = xstrdup(m->binary);
	s->options = json_incref(r.options);
	s->in_fd = s->out_fd = s->err_fd = -1;
	s->attach = attach;
	s->ready_fd = -1;
	set_starting(r.id, true);
	container_record_free(&r);
	/* Sized volumes mounted, new ones filled from the image (on a worker). */
	volumes_prepare_start(api, bundle, s->options, start_volumes_ready, s);
}

/* ---- calls to a running container's helper -------------------------------- */

struct helper_call {
	struct apiserver *api;
	struct ct_request *req;
	char *id;
};

static void helper_done(json_t *body, int *fds, size_t nfds, const struct ct_error *e, void *data)
{
	struct helper_call *h = data;

	ct_close_fds(fds, nfds);
	if (e && ct_error_is(e, CT_ERR_UNAVAILABLE)) {
		/* Unreachable and gone: the container has stopped, state.json says how.
		 * Unreachable but alive (a full backlog, a reply cut short) is an error,
		 * never a reason to act as if it had stopped. */
		json_t *state = read_state(h->api, h->id);
		const char *status = json_string_value(json_object_get(state, "status"));
		if (status && strcmp(status, "running") == 0) {
			json_decref(state);
			ct_request_fail(h->req, e);
		} else {
			ct_request_reply(h->req, state, NULL, 0);
		}
	} else if (e) {
		ct_request_fail(h->req, e);
	} else {
		ct_request_reply(h->req, json_incref(body), NULL, 0);
	}
	free(h->id);
	free(h);
}

static bool helper_wanted(void *data)
{
	return ct_request_alive(((struct helper_call *)data)->req);
}

static const struct async_call_handlers helper_handlers = {.done = helper_done,
							   .wanted = helper_wanted};

/* Sends route to the container's helper; when it is not running, stopped
 * containers answer from state.json (wait, stop) or with a conflict (kill). */
static void call_helper(struct apiserver *api, struct ct_request *req, const char *route,
			json_t *body, bool needs_running)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record r;
	const char *key = NULL;

	if (ct_json_get_string(ct_request_body(req), "id", true, &key, "request body", &err) < 0 ||
	    container_db_find(api->db, key, &r, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *state = read_state(api, r.id);
	const char *status = json_string_value(json_object_get(state, "status"));
	if (!status || strcmp(status, "running") != 0) {
		if (needs_running)
			ct_request_error(req, CT_ERR_CONFLICT, "container %s is not running",
					 r.name);
		else
			ct_request_reply(req, json_incref(state), NULL, 0);
		container_record_free(&r);
		return;
	}
	struct helper_call *h = xcalloc(1, sizeof(*h));
	h->api = api;
	h->req = req;
	h->id = xstrdup(r.id);
	_cleanup_free_ char *sock = helper_socket(api, r.id);
	_cleanup_free_ char *peer = xasprintf("the runtime helper of container %s", r.name);
	/* Descriptors the client sent (exec's stdio) go on to the helper. */
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds = ct_request_nfds(req);
	for (size_t i = 0; i < nfds; i++)
		fds[i] = ct_request_take_fd(req, i);
	async_call(api->loop, sock, peer, route, body, fds, nfds, &helper_handlers, h);
	container_record_free(&r);
}

static void route_wait(struct ct_request *req, void *data)
{
	call_helper(data, req, "wait", NULL, false);
}

static void route_kill(struct ct_request *req, void *data)
{
	const char *name = NULL;
	int64_t number = SIGKILL;
	json_t *body = ct_request_body(req);

	if (ct_json_get_string(body, "signal", false, &name, "request body", NULL) == 0 && name) {
		number = spec_parse_signal(name);
		if (number < 0) {
			ct_request_error(req, CT_ERR_INVALID_ARGUMENT,
					 "unknown signal %s (use a name like TERM or a number)",
					 name);
			return;
		}
	}
	_cleanup_json_ json_t *q = json_pack("{s:I}", "signal", (json_int_t)number);
	call_helper(data, req, "kill", q, true);
}

static void route_stop(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	json_t *body = ct_request_body(req);
	const char *name = NULL, *key = NULL;
	int64_t timeout = 10;
	int sig = -1;

	ct_json_get_int(body, "timeout", false, &timeout, "request body", NULL);
	if (ct_json_get_string(body, "signal", false, &name, "request body", NULL) == 0 && name) {
		sig = spec_parse_signal(name);
		if (sig < 0) {
			ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "unknown signal %s", name);
			return;
		}
	}
	if (sig < 0 && ct_json_get_string(body, "id", true, &key, "request body", NULL) == 0) {
		/* The image's StopSignal, from the bundle. */
		struct container_record r;
		if (container_db_find(api->db, key, &r, NULL) == 0) {
			_cleanup_free_ char *cfg =
			    xasprintf("%s/containers/%s/config.json", api->paths.app_root, r.id);
			_cleanup_json_ json_t *spec = json_load_file(cfg, 0, NULL);
			sig = spec_stop_signal(spec);
			container_record_free(&r);
		}
	}
	_cleanup_json_ json_t *q = json_pack("{s:i, s:I}", "signal", sig > 0 ? sig : SIGTERM,
					     "timeout", (json_int_t)timeout);
	call_helper(api, req, "stop", q, false);
}

static void route_resize(struct ct_request *req, void *data)
{
	call_helper(data, req, "resize", ct_request_body(req), true);
}

static void route_stats(struct ct_request *req, void *data)
{
	call_helper(data, req, "stats", NULL, true);
}

static void route_exec(struct ct_request *req, void *data)
{
	call_helper(data, req, "exec", ct_request_body(req), true);
}

/* ---- list, inspect, logs, delete, prune ----------------------------------- */

static json_t *describe(struct apiserver *api, struct container_record *r, bool full)
{
	json_t *state = read_state(api, r->id);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", r->id, "name", r->name,
			      "image", r->image, "imageDigest", r->image_digest, "createdAt",
			      r->created_at, "state", state);
	_cleanup_free_ char *cfg =
	    xasprintf("%s/containers/%s/config.json", api->paths.app_root, r->id);
	json_t *spec = json_load_file(cfg, 0, NULL);
	json_object_set_new(j, "command",
			    json_incref(json_object_get(json_object_get(spec, "process"), "args")));
	json_object_set_new(j, "labels",
			    json_incref(json_object_get(r->options, "labels")) ?: json_object());
	json_object_set_new(j, "network",
			    json_incref(json_object_get(r->options, "network"))
				?: json_string("none"));
	json_object_set_new(j, "mounts",
			    json_incref(json_object_get(r->options, "mounts")) ?: json_array());
	/* Addresses and published ports while it runs. */
	json_t *net = netattach_describe(api, r->id);
	json_object_update(j, net);
	json_decref(net);
	json_object_set_new(j, "os",
			    json_incref(json_object_get(r->options, "os")) ?: json_string("linux"));
	json_object_set_new(j, "architecture",
			    json_incref(json_object_get(r->options, "architecture"))
				?: json_string(""));
	if (full) {
		json_object_set_new(j, "options", json_incref(r->options));
		json_object_set_new(j, "spec", spec);
		_cleanup_free_ char *bundle = bundle_dir(api, r->id);
		json_object_set_new(j, "bundle", json_string(bundle));
	} else {
		json_decref(spec);
	}
	return j;
}

static void route_list(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record *all = NULL;
	size_t n = 0;
	bool everything = false;

	ct_json_get_bool(ct_request_body(req), "all", false, &everything, "request body", NULL);
	if (container_db_list(api->db, &all, &n, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *d = describe(api, &all[i], false);
		const char *status =
		    json_string_value(json_object_get(json_object_get(d, "state"), "status"));
		if (!everything && (!status || strcmp(status, "running") != 0)) {
			json_decref(d);
			continue;
		}
		json_array_append_new(items, d);
	}
	container_records_free(all, n);
	ct_request_reply(req, json_pack("{s:o}", "containers", items), NULL, 0);
}

static void route_inspect(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record r;
	const char *key = NULL;

	if (ct_json_get_string(ct_request_body(req), "id", true, &key, "request body", &err) < 0 ||
	    container_db_find(api->db, key, &r, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	ct_request_reply(req, describe(api, &r, true), NULL, 0);
	container_record_free(&r);
}

/* The log file travels as a read-only descriptor: the CLI reads and follows it
 * itself, and the bytes never pass through us. */
static void route_logs(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record r;
	const char *key = NULL;

	if (ct_json_get_string(ct_request_body(req), "id", true, &key, "request body", &err) < 0 ||
	    container_db_find(api->db, key, &r, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_free_ char *path =
	    xasprintf("%s/containers/%s/stdio.log", api->paths.app_root, r.id);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		/* Never started: an empty log. */
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		ct_request_error(req, CT_ERR_INTERNAL, "opening %s: %s", path, strerror(errno));
		container_record_free(&r);
		return;
	}
	ct_request_reply(req, describe(api, &r, false), &fd, 1);
	container_record_free(&r);
}

/* volumes: also its anonymous volumes (docker rm -v; always for --rm). */
/* The container's cgroup folders (container/<id> in each v1 hierarchy and in
 * the unified one), when empty: its helper removes them when the container
 * exits, but a helper that was killed can't. rmdir only takes an empty cgroup,
 * so a cgroup still in use is never touched. */
static void remove_cgroups(const char *id)
{
	_cleanup_closedir_ DIR *root = opendir("/sys/fs/cgroup");
	struct dirent *d;

	if (!root)
		return;
	_cleanup_free_ char *own = xasprintf("/sys/fs/cgroup/container/%s", id);
	rmdir(own);
	while ((d = readdir(root))) {
		if (d->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path =
		    xasprintf("/sys/fs/cgroup/%s/container/%s", d->d_name, id);
		if (rmdir(path) == 0)
			log_info("removed the cgroup %s left by container %.12s", path, id);
	}
}

static int remove_container(struct apiserver *api, struct container_record *r, bool volumes,
			    struct ct_error *err)
{
	_cleanup_free_ char *bundle = bundle_dir(api, r->id);

	netattach_release(api, r->id);
	remove_cgroups(r->id);
	/* The row goes first: a crash before the bundle is aside leaves a bundle
	 * without a row, which the next boot removes. */
	if (container_db_delete(api->db, r->id, err) < 0 || trash_tree(api, bundle, err) < 0)
		return -1;
	log_info("deleted container %s (%s)", r->name, r->id);
	if (volumes || json_is_true(json_object_get(r->options, "rm")))
		volumes_remove_anonymous(api, r->options);
	return 0;
}

struct delete_call {
	struct apiserver *api;
	struct ct_request *req;
	struct container_record r;
	bool volumes;
};

static void delete_after_kill(json_t *body, int *fds, size_t nfds, const struct ct_error *e,
			      void *data)
{
	struct delete_call *d = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	ct_close_fds(fds, nfds);
	_cleanup_json_ json_t *state = e ? read_state(d->api, d->r.id) : NULL;
	const char *status = state ? json_string_value(json_object_get(state, "status")) : NULL;
	if (e &&
	    (!ct_error_is(e, CT_ERR_UNAVAILABLE) || (status && strcmp(status, "running") == 0)))
		ct_request_fail(d->req, e);
	else if (remove_container(d->api, &d->r, d->volumes, &err) < 0)
		ct_request_fail(d->req, &err);
	else
		ct_request_reply(d->req, json_pack("{s:s, s:s}", "id", d->r.id, "name", d->r.name),
				 NULL, 0);
	container_record_free(&d->r);
	free(d);
}

static const struct async_call_handlers delete_handlers = {.done = delete_after_kill};

static void route_delete(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record r;
	const char *key = NULL;
	bool force = false, volumes = false;

	if (ct_json_get_string(ct_request_body(req), "id", true, &key, "request body", &err) < 0 ||
	    ct_json_get_bool(ct_request_body(req), "force", false, &force, "request body", &err) <
		0 ||
	    ct_json_get_bool(ct_request_body(req), "volumes", false, &volumes, "request body",
			     &err) < 0 ||
	    container_db_find(api->db, key, &r, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	_cleanup_json_ json_t *state = read_state(api, r.id);
	const char *status = json_string_value(json_object_get(state, "status"));
	if (is_starting(r.id)) {
		ct_request_error(req, CT_ERR_CONFLICT, "container %s is %s; try again in a moment",
				 r.name, containers_busy(r.id));
		container_record_free(&r);
		return;
	}
	if (status && strcmp(status, "running") == 0) {
		if (!force) {
			ct_request_error(req, CT_ERR_CONFLICT,
					 "container %s is running: stop it first, or use --force",
					 r.name);
			container_record_free(&r);
			return;
		}
		/* stop with no grace: SIGKILL, and the helper replies once it is gone. */
		struct delete_call *d = xcalloc(1, sizeof(*d));
		d->api = api;
		d->req = req;
		d->r = r;
		d->volumes = volumes;
		_cleanup_free_ char *sock = helper_socket(api, r.id);
		_cleanup_json_ json_t *q = json_pack("{s:i, s:i}", "signal", SIGKILL, "timeout", 0);
		async_call(api->loop, sock, "the container's runtime helper", "stop", q, NULL, 0,
			   &delete_handlers, d);
		return;
	}
	if (remove_container(api, &r, volumes, &err) < 0)
		ct_request_fail(req, &err);
	else
		ct_request_reply(req, json_pack("{s:s, s:s}", "id", r.id, "name", r.name), NULL, 0);
	container_record_free(&r);
}

static void route_prune(struct ct_request *req, void *data)
{
	struct apiserver *api = data;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record *all = NULL;
	size_t n = 0;

	if (container_db_list(api->db, &all, &n, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	json_t *deleted = json_array();
	for (size_t i = 0; i < n; i++) {
		_cleanup_json_ json_t *state = read_state(api, all[i].id);
		const char *status = json_string_value(json_object_get(state, "status"));
		if ((status && strcmp(status, "running") == 0) || is_starting(all[i].id))
			continue;
		if (remove_container(api, &all[i], false, &err) < 0) {
			log_warn("prune: %s", ct_error_message(&err));
			ct_error_clear(&err);
			continue;
		}
		json_array_append_new(deleted, json_string(all[i].id));
	}
	container_records_free(all, n);
	ct_request_reply(req, json_pack("{s:o}", "deleted", deleted), NULL, 0);
}

void routes_container_register(struct apiserver *api)
{
	ct_server_route(api->server, "container.create", route_create, api);
	ct_server_route(api->server, "container.start", route_start, api);
	ct_server_route(api->server, "container.wait", route_wait, api);
	ct_server_route(api->server, "container.stop", route_stop, api);
	ct_server_route(api->server, "container.kill", route_kill, api);
	ct_server_route(api->server, "container.exec", route_exec, api);
	ct_server_route(api->server, "container.stats", route_stats, api);
	ct_server_route(api->server, "container.resize", route_resize, api);
	ct_server_route(api->server, "container.delete", route_delete, api);
	ct_server_route(api->server, "container.list", route_list, api);
	ct_server_route(api->server, "container.inspect", route_inspect, api);
	ct_server_route(api->server, "container.logs", route_logs, api);
	ct_server_route(api->server, "container.prune", route_prune, api);
}

struct stop_all {
	size_t pending;
	void (*done)(void *data);
	void *data;
};

static void stop_all_one(json_t *body, int *fds, size_t nfds, const struct ct_error *e, void *data)
{
	struct stop_all *s = data;

	ct_close_fds(fds, nfds);
	if (--s->pending == 0) {
		s->done(s->data);
		free(s);
	}
}

static const struct async_call_handlers stop_all_handlers = {.done = stop_all_one};

void containers_stop_all(struct apiserver *api, int64_t timeout, void (*done)(void *data),
			 void *data)
{
	struct stop_all *s = xcalloc(1, sizeof(*s));
	struct container_record *all = NULL;
	size_t n = 0;

	s->done = done;
	s->data = data;
	s->pending = 1; /* ours, released below: done runs once, after the last */
	if (container_db_list(api->db, &all, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			_cleanup_json_ json_t *state = read_state(api, all[i].id);
			const char *status = json_string_value(json_object_get(state, "status"));
			if (!status || strcmp(status, "running") != 0)
				continue;
			_cleanup_free_ char *cfg = xasprintf("%s/containers/%s/config.json",
							     api->paths.app_root, all[i].id);
			_cleanup_json_ json_t *spec = json_load_file(cfg, 0, NULL);
			_cleanup_free_ char *sock = helper_socket(api, all[i].id);
			_cleanup_json_ json_t *q =
			    json_pack("{s:i, s:I}", "signal", spec_stop_signal(spec), "timeout",
				      (json_int_t)timeout);
			log_info("stopping container %s", all[i].name);
			s->pending++;
			async_call(api->loop, sock, "a container's runtime helper", "stop", q, NULL,
				   0, &stop_all_handlers, s);
		}
		container_records_free(all, n);
	}
	stop_all_one(NULL, NULL, 0, NULL, s);
}

bool containers_running(struct apiserver *api, const char *id, pid_t *helper)
{
	_cleanup_json_ json_t *state = read_state(api, id);
	const char *status = json_string_value(json_object_get(state, "status"));

	*helper = (pid_t)json_integer_value(json_object_get(state, "helperPid"));
	return status && strcmp(status, "running") == 0 && *helper > 0;
}

/* A bundle with no row is what an API server killed between writing a bundle
 * and its row (create), or between removing the row and the bundle (delete),
 * left behind. Nothing refers to it: it goes, with its cgroup folders. One
 * whose helper still runs is left alone (and logged): only a delete removes a
 * container that runs. */
static void remove_orphan_bundles(struct apiserver *api)
{
	_cleanup_free_ char *dir = xasprintf("%s/containers", api->paths.app_root);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct container_record *all = NULL;
	size_t n = 0;
	struct dirent *e;
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	trash_boot(api, dir);
	if (!d || container_db_list(api->db, &all, &n, &err) < 0)
		return;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 64 || strspn(e->d_name, "0123456789abcdef") != 64)
			continue;
		bool known = false;
		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(all[i].id, e->d_name) == 0;
		pid_t helper;
		if (known)
			continue;
		if (containers_running(api, e->d_name, &helper) && ct_pid_running(helper)) {
			log_warn("container %.12s has no record but its runtime helper (pid %d) "
				 "runs; leaving its bundle",
				 e->d_name, (int)helper);
			continue;
		}
		_cleanup_free_ char *bundle = bundle_dir(api, e->d_name);
		if (trash_tree(api, bundle, &err) < 0) {
			log_warn("removing the unrecorded bundle %s: %s", bundle,
				 ct_error_message(&err));
			ct_error_clear(&err);
			continue;
		}
		remove_cgroups(e->d_name);
		log_info("removed the bundle of container %.12s, which has no record (an "
			 "interrupted create or delete)",
			 e->d_name);
	}
	container_records_free(all, n);
}

/* At boot: the exits of running containers are watched again (for --rm and
 * their addresses); --rm containers that exited while no API server ran go. */
static void boot_watch_exits(struct apiserver *api)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct container_record *all = NULL;
	size_t n = 0;
	pid_t helper;

	if (container_db_list(api->db, &all, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (containers_running(api, all[i].id, &helper)) {
			netattach_watch(api, all[i].id, helper);
			continue;
		}
		if (!json_is_true(json_object_get(all[i].options, "rm")))
			continue;
		if (remove_container(api, &all[i], true, &err) < 0) {
			log_warn("removing container %s (--rm), which exited: %s", all[i].name,
				 ct_error_message(&err));
			ct_error_clear(&err);
		}
	}
	container_records_free(all, n);
}

void containers_boot(struct apiserver *api)
{
	remove_orphan_bundles(api);
	boot_watch_exits(api);
	netattach_boot(api, containers_running);
}
