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
	const char *bundle;   /* containers/<id> */
	json_t *image_config; /* the image's config document ({"config": {…}, …}) */
	json_t *snapshots;    /* array of snapshot folders, bottom layer first */
	json_t *options;      /* the create request body, after netattach_check_options
			       * and volumes_check_mounts */
};

/* Returns the spec, or NULL with err naming the bad option. Every field of
 * options it reads is checked first (spec_check_options). */
json_t *spec_build(const struct spec_inputs *in, struct ct_error *err);

/* Checks the type and range of each field of a create request body that
 * spec_build reads (command, env, user, ulimits, tmpfs, memory, hostname, …),
 * so a wrong one is refused with the field named ("request body: command[1]
 * must be a string, not an integer") rather than dropped or passed into the
 * spec. Takes the body in the form spec_build gets it (mounts as
 * volumes_check_mounts stores them), so a caller can refuse it before
 * resolving the image. -1 with err set, or 0. */
int spec_check_options(json_t *options, struct ct_error *err);

/* The stop signal: --stop-signal, else the image's StopSignal, else SIGTERM. */
int spec_stop_signal(json_t *spec);
/* "SIGTERM", "TERM", "15" -> 15; -1 when unknown. */
int spec_parse_signal(const char *s);

#endif
