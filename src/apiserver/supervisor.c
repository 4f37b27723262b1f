#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiserver.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

/* Back-off after a crash: 100 ms, doubling to at most 5 s. More than
 * MAX_FAILURES crashes, each within STABLE_MS of its start, mark the plugin
 * failed; a plugin that ran STABLE_MS before dying starts the count afresh. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS	 5000
#define MAX_FAILURES	 5
#define STABLE_MS	 30000
/* Grace between SIGTERM and SIGKILL when stopping a plugin. */
#define STOP_GRACE_MS 5000

struct waiter {
	plugin_stopped_fn fn;
	void *data;
	struct waiter *next;
};

struct plugin_instance {
	struct supervisor *sup;
	char *label;	     /* name, or name.instance */
	char **extra_args;   /* after the manifest's defaultArguments */
	struct ct_plugin_manifest manifest;
	char *socket_path;
	int listen_fd;
	pid_t pid;
	enum plugin_state state;
	int failures;
	int restarts;
	uint64_t started_ms;
	char last_exit[96];
	struct ct_timer *restart_timer;
	struct ct_timer *kill_timer;
	struct waiter *waiters;
	struct plugin_instance *next;
};

struct supervisor {
	struct apiserver *api;
	struct ct_plugin_list manifests;
	struct plugin_instance *instances;
	plugin_stopped_fn all_done;
	void *all_done_data;
};

static void instance_spawn(struct plugin_instance *inst);

const char *plugin_state_name(enum plugin_state state)
{
	switch (state) {
	case PLUGIN_STOPPED:
		return "stopped";
	case PLUGIN_RUNNING:
		return "running";
	case PLUGIN_RESTARTING:
		return "restarting";
	case PLUGIN_STOPPING:
		return "stopping";
	case PLUGIN_FAILED:
		return "failed";
	}
	return "unknown";
}

static void log_skipped(const char *path, const char *reason, void *data)
{
	log_warn("skipping plugin %s: %s", path, reason);
}

struct supervisor *supervisor_new(struct apiserver *api)
{
	struct supervisor *sup = xcalloc(1, sizeof(*sup));

	sup->api = api;
	supervisor_rescan(sup);
	return sup;
}

void supervisor_rescan(struct supervisor *sup)
{
	_cleanup_strv_ char **dirs = ct_paths_plugin_dirs(&sup->api->paths);

	ct_plugin_list_free(&sup->manifests);
	ct_plugins_discover(dirs, &sup->manifests, log_skipped, NULL);
}

const struct ct_plugin_list *supervisor_manifests(struct supervisor *sup)
{
	return &sup->manifests;
}

static void instance_free(struct plugin_instance *inst)
{
	struct ct_loop *loop = inst->sup->api->loop;

	if (inst->restart_timer)
		ct_loop_timer_cancel(loop, inst->restart_timer);
	if (inst->kill_timer)
		ct_loop_timer_cancel(loop, inst->kill_timer);
	if (inst->listen_fd >= 0)
		close(inst->listen_fd);
	if (inst->socket_path)
		unlink(inst->socket_path);
	while (inst->waiters) {
		struct waiter *w = inst->waiters;
		inst->waiters = w->next;
		free(w);
	}
	ct_plugin_manifest_free(&inst->manifest);
	cleanup_strvp(&inst->extra_args);
	free(inst->socket_path);
	free(inst->label);
	free(inst);
}

void supervisor_free(struct supervisor *sup)
{
	if (!sup)
		return;
	while (sup->instances) {
		struct plugin_instance *inst = sup->instances;
		sup->instances = inst->next;
		instance_free(inst);
	}
	ct_plugin_list_free(&sup->manifests);
	free(sup);
}

struct plugin_instance *supervisor_find(struct supervisor *sup, const char *label)
{
	for (struct plugin_instance *i = sup->instances; i; i = i->next)
		if (strcmp(i->label, label) == 0)
			return i;
	return NULL;
}

enum plugin_state plugin_instance_state(const struct plugin_instance *inst)
{
	return inst->state;
}

const char *plugin_instance_socket(const struct plugin_instance *inst)
{
	return inst->socket_path;
}

const char *plugin_instance_label(const struct plugin_instance *inst)
{
	return inst->label;
}

static void run_waiters(struct plugin_instance *inst)
{
	while (inst->waiters) {
		struct waiter *w = inst->waiters;
		inst->waiters = w->next;
		w->fn(w->data);
		free(w);
	}
}

static bool all_stopped(struct supervisor *sup)
{
	for (struct plugin_instance *i = sup->instances; i; i = i->next)
		if (i->pid > 0)
			return false;
	return true;
}

static void check_all_done(struct supervisor *sup)
{
	if (sup->all_done && all_stopped(sup)) {
		plugin_stopped_fn fn = sup->all_done;
		sup->all_done = NULL;
		fn(sup->all_done_data);
	}
}

static void restart_due(struct ct_loop *loop, void *data)
{
	struct plugin_instance *inst = data;

	inst->restart_timer = NULL;
	if (inst->state != PLUGIN_RESTARTING)
		return;
	inst->restarts++;
	log_info("restarting plugin %s (restart %d)", inst->label, inst->restarts);
	instance_spawn(inst);
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended with wait status %d", status);
}

/* Closing the listening socket resets the connections still queued in its
 * backlog, so clients waiting for a plugin that will not come back get an error
 * instead of waiting forever. */
static void instance_close_socket(struct plugin_instance *inst)
{
	if (inst->listen_fd >= 0) {
		close(inst->listen_fd);
		inst->listen_fd = -1;
		unlink(inst->socket_path);
	}
}

static void instance_exited(struct plugin_instance *inst, int status)
{
	struct supervisor *sup = inst->sup;
	uint64_t ran = ct_now_monotonic_ms() - inst->started_ms;

	describe_status(status, inst->last_exit, sizeof(inst->last_exit));
	inst->pid = 0;
	if (inst->kill_timer) {
		ct_loop_timer_cancel(sup->api->loop, inst->kill_timer);
		inst->kill_timer = NULL;
	}
	if (inst->state == PLUGIN_STOPPING || sup->api->stopping) {
		log_info("plugin %s stopped (%s)", inst->label, inst->last_exit);
		inst->state = PLUGIN_STOPPED;
		instance_close_socket(inst);
		run_waiters(inst);
		check_all_done(sup);
		return;
	}

	if (ran >= STABLE_MS)
		inst->failures = 0;
	inst->failures++;
	if (inst->failures > MAX_FAILURES) {
		inst->state = PLUGIN_FAILED;
		instance_close_socket(inst);
		log_error("plugin %s %s after %d restarts; marked failed. See `container system "
			  "logs`, then `container plugin restart %s`",
			  inst->label, inst->last_exit, MAX_FAILURES, inst->label);
		run_waiters(inst);
		return;
	}
	uint64_t delay = BACKOFF_FIRST_MS << (inst->failures - 1);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	inst->state = PLUGIN_RESTARTING;
	log_warn("plugin %s %s after %llu ms; restarting in %llu ms", inst->label, inst->last_exit,
		 (unsigned long long)ran, (unsigned long long)delay);
	inst->restart_timer = ct_loop_timer(sup->api->loop, delay, restart_due, inst);
}

void supervisor_reap(struct supervisor *sup)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		bool known = false;
		for (struct plugin_instance *i = sup->instances; i; i = i->next)
			if (i->pid == pid) {
				instance_exited(i, status);
				known = true;
				break;
			}
		if (!known)
			log_debug("reaped process %d", pid);
	}
}

static void instance_spawn(struct plugin_instance *inst)
{
	struct apiserver *api = inst->sup->api;
	const struct ct_plugin_manifest *m = &inst->manifest;
	size_t nargs = 0, i = 0;

	for (char **a = m->default_args; a && *a; a++)
		nargs++;
	for (char **a = inst->extra_args; a && *a; a++)
		nargs++;
	_cleanup_free_ char **argv = xcalloc(nargs + 8, sizeof(char *));
	argv[i++] = m->binary;
	argv[i++] = "start";
	argv[i++] = "--socket";
	argv[i++] = inst->socket_path;
	if (m->resources) {
		argv[i++] = "--resources";
		argv[i++] = m->resources;
	}
	if (api->debug)
		argv[i++] = "--debug";
	for (char **a = m->default_args; a && *a; a++)
		argv[i++] = *a;
	for (char **a = inst->extra_args; a && *a; a++)
		argv[i++] = *a;
	argv[i] = NULL;

	int log_fd = ct_log_file_fd();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(inst->last_exit, sizeof(inst->last_exit), "could not start: %s",
			 strerror(errno));
		log_error("starting plugin %s: fork: %s", inst->label, strerror(errno));
		inst->state = PLUGIN_FAILED;
		return;
	}
	if (pid == 0) {
		/* The child: only async-signal-safe calls until exec. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		/* Service plugins are supervised children: if the API server dies they
		 * stop too, and the next API server starts fresh ones on the same
		 * sockets. (Runtime helpers are different: they outlive us on purpose.) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (log_fd >= 0) {
			dup2(log_fd, 1);
			dup2(log_fd, 2);
		}
		if (dup2(inst->listen_fd, 3) < 0)
			_exit(126);
		close_range(4, ~0U, 0);
		setenv("CONTAINER_LISTEN_FD", "3", 1);
		setenv("CONTAINER_PLUGIN_LABEL", inst->label, 1);
		execv(m->binary, argv);
		dprintf(2, "container-apiserver: executing plugin %s (%s): %s\n", inst->label,
			m->binary, strerror(errno));
		_exit(127);
	}
	inst->pid = pid;
	inst->state = PLUGIN_RUNNING;
	inst->started_ms = ct_now_monotonic_ms();
	log_info("started plugin %s (pid %d): %s start --socket %s", inst->label, pid, m->binary,
		 inst->socket_path);
}

struct plugin_instance *supervisor_load(struct supervisor *sup, const char *name,
					struct ct_error *err)
{
	return supervisor_load_instance(sup, name, NULL, NULL, err);
}

struct plugin_instance *supervisor_load_instance(struct supervisor *sup, const char *name,
						 const char *instance, char *const *args,
						 struct ct_error *err)
{
	_cleanup_free_ char *label = instance ? xasprintf("%s.%s", name, instance) : xstrdup(name);
	struct plugin_instance *inst = supervisor_find(sup, label);
	const struct ct_plugin_manifest *m;

	if (instance && !ct_plugin_name_valid(instance)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "instance name \"%s\" must be lowercase letters, digits, '-', '_' or "
			     "'.'",
			     instance);
		return NULL;
	}

	if (inst && (inst->state == PLUGIN_RUNNING || inst->state == PLUGIN_RESTARTING))
		return inst;
	if (inst && inst->state == PLUGIN_STOPPING) {
		ct_error_set(err, CT_ERR_CONFLICT, 0, "plugin %s is stopping; try again when it has",
			     label);
		return NULL;
	}
	m = ct_plugin_list_find(&sup->manifests, name);
	if (!m) {
		supervisor_rescan(sup);
		m = ct_plugin_list_find(&sup->manifests, name);
	}
	if (!m) {
		ct_error_set(err, CT_ERR_NOT_FOUND, 0,
			     "no plugin named %s in the plugin folders; `container plugin list` "
			     "shows what is installed",
			     name);
		return NULL;
	}
	if (!m->is_service) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "%s is a CLI plugin (no servicesConfig); run it as `container %s`", name,
			     name);
		return NULL;
	}

	if (!inst) {
		_cleanup_free_ char *dir = xasprintf("%s/plugins", sup->api->paths.run_root);
		if (ct_mkdir_p(dir, 0700, err) < 0)
			return NULL;
		inst = xcalloc(1, sizeof(*inst));
		inst->sup = sup;
		inst->label = xstrdup(label);
		inst->listen_fd = -1;
		inst->socket_path = xasprintf("%s/%s.sock", dir, label);
		inst->next = sup->instances;
		sup->instances = inst;
	}
	/* The arguments of this load replace those of an earlier one. */
	if (args) {
		size_t n = 0;
		while (args[n])
			n++;
		cleanup_strvp(&inst->extra_args);
		inst->extra_args = xcalloc(n + 1, sizeof(char *));
		for (size_t k = 0; k < n; k++)
			inst->extra_args[k] = xstrdup(args[k]);
	}
	/* A fresh copy of the manifest, so a plugin updated on disk is started as it
	 * is now. */
	ct_plugin_manifest_free(&inst->manifest);
	if (ct_plugin_manifest_load(m->dir, &inst->manifest, err) < 0) {
		inst->state = PLUGIN_FAILED;
		snprintf(inst->last_exit, sizeof(inst->last_exit), "bad manifest");
		return NULL;
	}
	if (inst->listen_fd < 0) {
		inst->listen_fd = ct_server_listen_unix(inst->socket_path, 0600, (gid_t)-1, err);
		if (inst->listen_fd < 0) {
			inst->state = PLUGIN_FAILED;
			return NULL;
		}
	}
	inst->failures = 0;
	instance_spawn(inst);
	if (inst->state != PLUGIN_RUNNING) {
		ct_error_set(err, CT_ERR_INTERNAL, 0, "starting plugin %s: %s", label, inst->last_exit);
		return NULL;
	}
	return inst;
}

static void kill_due(struct ct_loop *loop, void *data)
{
	struct plugin_instance *inst = data;

	inst->kill_timer = NULL;
	if (inst->pid > 0) {
		log_warn("plugin %s did not stop within %d ms of SIGTERM; sending SIGKILL",
			 inst->label, STOP_GRACE_MS);
		kill(inst->pid, SIGKILL);
	}
}

void supervisor_unload(struct supervisor *sup, struct plugin_instance *inst, plugin_stopped_fn done,
		       void *data)
{
	if (inst->restart_timer) {
		ct_loop_timer_cancel(sup->api->loop, inst->restart_timer);
		inst->restart_timer = NULL;
	}
	if (inst->pid <= 0) {
		inst->state = PLUGIN_STOPPED;
		instance_close_socket(inst);
		if (done)
			done(data);
		return;
	}
	if (done) {
		struct waiter *w = xcalloc(1, sizeof(*w));
		w->fn = done;
		w->data = data;
		w->next = inst->waiters;
		inst->waiters = w;
	}
	if (inst->state != PLUGIN_STOPPING) {
		inst->state = PLUGIN_STOPPING;
		log_info("stopping plugin %s (pid %d)", inst->label, inst->pid);
		kill(inst->pid, SIGTERM);
		inst->kill_timer = ct_loop_timer(sup->api->loop, STOP_GRACE_MS, kill_due, inst);
	}
}

void supervisor_stop_all(struct supervisor *sup, plugin_stopped_fn done, void *data)
{
	sup->all_done = done;
	sup->all_done_data = data;
	for (struct plugin_instance *i = sup->instances; i; i = i->next)
		supervisor_unload(sup, i, NULL, NULL);
	check_all_done(sup);
}

void supervisor_boot(struct supervisor *sup)
{
	for (size_t i = 0; i < sup->manifests.n; i++) {
		const struct ct_plugin_manifest *m = &sup->manifests.items[i];
		_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

		if (!m->is_service || !m->load_at_boot)
			continue;
		/* A copy of the name: supervisor_load may rescan the list. */
		_cleanup_free_ char *name = xstrdup(m->name);
		if (!supervisor_load(sup, name, &err))
			log_error("loading plugin %s at boot: %s", name, ct_error_message(&err));
	}
}

const char *supervisor_route_owner(struct supervisor *sup, const char *route)
{
	const char *dot = strchr(route, '.');
	size_t len = dot ? (size_t)(dot - route) : strlen(route);

	for (size_t i = 0; i < sup->manifests.n; i++) {
		const struct ct_plugin_manifest *m = &sup->manifests.items[i];
		for (size_t s = 0; s < m->nservices; s++)
			for (char **r = m->services[s].routes; r && *r; r++)
				if (strlen(*r) == len && strncmp(*r, route, len) == 0)
					return m->name;
	}
	return NULL;
}

json_t *supervisor_describe(struct supervisor *sup, const struct ct_plugin_manifest *m)
{
	return supervisor_describe_instance(sup, m, supervisor_find(sup, m->name));
}

json_t *supervisor_describe_instances(struct supervisor *sup, const struct ct_plugin_manifest *m)
{
	json_t *out = json_array();
	size_t len = strlen(m->name);

	for (struct plugin_instance *i = sup->instances; i; i = i->next)
		if (strncmp(i->label, m->name, len) == 0 && i->label[len] == '.')
			json_array_append_new(out, supervisor_describe_instance(sup, m, i));
	return out;
}

json_t *supervisor_describe_instance(struct supervisor *sup, const struct ct_plugin_manifest *m,
				     struct plugin_instance *inst)
{
	json_t *services = json_array();
	json_t *types = json_array();

	for (size_t s = 0; s < m->nservices; s++) {
		json_t *routes = json_array();
		for (char **r = m->services[s].routes; r && *r; r++)
			json_array_append_new(routes, json_string(*r));
		json_array_append_new(services, json_pack("{s:s, s:s, s:o}", "type",
							  m->services[s].type, "description",
							  m->services[s].description, "routes", routes));
		json_array_append_new(types, json_string(m->services[s].type));
	}
	const char *state = m->is_service ? plugin_state_name(inst ? inst->state : PLUGIN_STOPPED)
					  : "cli";
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:s, s:i, s:i, s:s, s:s*}",
			 "name", inst ? inst->label : m->name, "kind", m->is_service ? "service" : "cli", "abstract",
			 m->abstract, "version", m->version, "author", m->author, "path", m->dir,
			 "types", types, "services", services, "loadAtBoot", m->load_at_boot,
			 "state", state, "pid", inst ? (int)inst->pid : 0, "restarts",
			 inst ? inst->restarts : 0, "lastExit", inst ? inst->last_exit : "",
			 "socket", inst ? inst->socket_path : NULL);
}
