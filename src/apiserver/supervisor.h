/* Plugin discovery, launch and supervision. The API server creates and owns each
 * service plugin's listening socket and hands it to the plugin as fd 3
 * (CONTAINER_LISTEN_FD=3), besides `--socket PATH` as DESIGN.md says: clients can
 * connect while a plugin is still starting or being restarted, and their requests
 * wait in the socket's backlog instead of failing. */
#ifndef CONTAINER_SUPERVISOR_H
#define CONTAINER_SUPERVISOR_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "plugin.h"

struct apiserver;
struct supervisor;
struct plugin_instance;

enum plugin_state {
	PLUGIN_STOPPED,
	PLUGIN_RUNNING,
	PLUGIN_RESTARTING, /* died; waiting out the back-off */
	PLUGIN_STOPPING,
	PLUGIN_FAILED, /* died too often; left down until restarted by hand */
};

typedef void (*plugin_stopped_fn)(void *data);

struct supervisor *supervisor_new(struct apiserver *api);
void supervisor_free(struct supervisor *sup);

/* Re-reads the plugin folders; bad manifests are logged with path and reason. */
void supervisor_rescan(struct supervisor *sup);
const struct ct_plugin_list *supervisor_manifests(struct supervisor *sup);
/* Starts every plugin whose manifest says loadAtBoot. */
void supervisor_boot(struct supervisor *sup);

struct plugin_instance *supervisor_find(struct supervisor *sup, const char *label);
/* Starts the plugin (label = name) unless running; a failed one is started afresh. */
struct plugin_instance *supervisor_load(struct supervisor *sup, const char *name,
					struct ct_error *err);
/* Another instance of a plugin, labelled name.instance, with its own socket
 * and args after the manifest's defaultArguments (one network plugin per
 * network, say). instance NULL is supervisor_load. */
struct plugin_instance *supervisor_load_instance(struct supervisor *sup, const char *name,
						 const char *instance, char *const *args,
						 struct ct_error *err);
/* Stops it; done(data) runs once it has exited (at once when not running). */
void supervisor_unload(struct supervisor *sup, struct plugin_instance *inst, plugin_stopped_fn done,
		       void *data);
/* Stops every plugin; done(data) runs when all have exited. */
void supervisor_stop_all(struct supervisor *sup, plugin_stopped_fn done, void *data);
/* Reaps exited children (call on SIGCHLD). */
void supervisor_reap(struct supervisor *sup);

/* The name of the service plugin serving route's prefix, or NULL. */
const char *supervisor_route_owner(struct supervisor *sup, const char *route);

enum plugin_state plugin_instance_state(const struct plugin_instance *inst);
const char *plugin_instance_socket(const struct plugin_instance *inst);
const char *plugin_instance_label(const struct plugin_instance *inst);
const char *plugin_state_name(enum plugin_state state);

/* {name, kind, abstract, version, author, path, services, loadAtBoot, state, pid,
 *  restarts, lastExit, socket} for a manifest (instance may be NULL). */
json_t *supervisor_describe(struct supervisor *sup, const struct ct_plugin_manifest *m);
json_t *supervisor_describe_instance(struct supervisor *sup, const struct ct_plugin_manifest *m,
				     struct plugin_instance *inst);
/* The instances other than the base one (labels name.instance). */
json_t *supervisor_describe_instances(struct supervisor *sup, const struct ct_plugin_manifest *m);

#endif
