/* Builds a container's OCI runtime spec (config.json) from its image and the
 * options of `container create`/`run`, with docker's defaults: the default
 * capability set, masked and read-only paths, /proc /dev /sys mounts, new pid,
 * mount, ipc, uts, cgroup and network namespaces, no_new_privs. */
#ifndef CONTAINER_SPEC_BUILDER_H
#define CONTAINER_SPEC_BUILDER_H

#include <jansson.h>

#include "error.h"

struct spec_inputs {
	const char *id;
	const char *name;
	const char *bundle;	/* containers/<id> */
	json_t *image_config; /* the image's config document ({"config": {…}, …}) */
	json_t *snapshots;    /* array of snapshot folders, bottom layer first */
	json_t *options;      /* the create request body (validated) */
};

/* Returns the spec, or NULL with err naming the bad option. */
json_t *spec_build(const struct spec_inputs *in, struct ct_error *err);

/* The stop signal: --stop-signal, else the image's StopSignal, else SIGTERM. */
int spec_stop_signal(json_t *spec);
/* "SIGTERM", "TERM", "15" -> 15; -1 when unknown. */
int spec_parse_signal(const char *s);

#endif
