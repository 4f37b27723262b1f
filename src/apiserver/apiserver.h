/* container-apiserver: the state owner, plugin supervisor and request router. */
#ifndef CONTAINER_APISERVER_H
#define CONTAINER_APISERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "paths.h"
#include "server.h"

struct state_db;
struct supervisor;
struct dns_host;

struct apiserver {
	struct ct_paths paths;
	bool debug;
	struct ct_loop *loop;
	struct ct_server *server;
	struct state_db *db;
	struct supervisor *supervisor;
	char *socket_path;
	char *pidfile_path;
	int pidfile_fd; /* holds the instance lock (flock) */
	gid_t socket_gid;
	uint64_t started_ms;
	char started_at[32];
	bool stopping;
	struct dns_host *dns; /* <name>.<domain> on 127.0.0.1:2053 */
};

void routes_system_register(struct apiserver *api);
void routes_plugin_register(struct apiserver *api);
void routes_property_register(struct apiserver *api);
void routes_container_register(struct apiserver *api);
/* container.archive, container.extract, container.export (container_archive.c). */
void routes_archive_register(struct apiserver *api);
void routes_network_register(struct apiserver *api);
void routes_dns_register(struct apiserver *api);
void routes_df_register(struct apiserver *api);
/* Also mounts the sized volumes again (after a reboot). */
void routes_volume_register(struct apiserver *api);
/* The host-facing DNS server (dns_host.c). */
void dns_host_start(struct apiserver *api);
void dns_host_stop(struct apiserver *api);
/* The DNS domains changed: the next query reads them again. */
void dns_host_forget_domains(struct apiserver *api);
/* A property's value: `property set`, else the config files, else the default
 * (caller frees; NULL for an unknown key). */
char *apiserver_property(struct apiserver *api, const char *key);
/* Stops every running container (stop signal, SIGKILL after timeout seconds);
 * done(data) when all have stopped. */
void containers_stop_all(struct apiserver *api, int64_t timeout, void (*done)(void *data),
			 void *data);

/* What is being done to a container that stops others from starting, copying
 * into or deleting it ("being started"), or NULL; set with a static string,
 * cleared with NULL. */
const char *containers_busy(const char *id);
void containers_set_busy(const char *id, const char *what);

/* Whether the container runs (its state says so and its helper lives), and
 * its helper's pid. */
bool containers_running(struct apiserver *api, const char *id, pid_t *helper);

/* At boot: reattach to the helpers of running containers' networks, release
 * what stopped containers held. */
void containers_boot(struct apiserver *api);
/* A container's runtime helper has exited: --rm removes it (see containers.c). */
void containers_exited(struct apiserver *api, const char *id);

/* Begins an orderly shutdown: stop accepting, stop plugins, then quit the loop. */
void apiserver_shutdown(struct apiserver *api, const char *why);

#endif
