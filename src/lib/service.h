/* The service-plugin side of the `start --socket` contract (DESIGN.md "Plugins"):
 *
 *   bin/<name> start --socket PATH [--resources DIR] [--debug] [plugin flags…]
 *
 * with CONTAINER_*_ROOT in the environment. When CONTAINER_LISTEN_FD is set, the
 * API server already created and bound the socket and passes it on that fd;
 * otherwise the plugin binds PATH itself (so a plugin can be run by hand).
 * SIGTERM and SIGINT end ct_service_run. */
#ifndef CONTAINER_SERVICE_H
#define CONTAINER_SERVICE_H

#include <stdbool.h>

#include "error.h"
#include "loop.h"
#include "paths.h"
#include "server.h"

struct ct_service {
	const char *name;
	char *socket_path;
	char *resources;
	bool debug;
	/* Flags after the contract's own, for the plugin to parse. */
	int argc;
	char **argv;
	struct ct_paths paths;
	struct ct_loop *loop;
	struct ct_server *server;
	int signal_fd;
};

int ct_service_init(struct ct_service *svc, const char *name, int argc, char **argv,
		    struct ct_error *err);
int ct_service_run(struct ct_service *svc, struct ct_error *err);
void ct_service_fini(struct ct_service *svc);

#endif
