/* The image config (OCI "application/vnd.oci.image.config.v1+json" and Docker
 * "application/vnd.docker.container.image.v1+json"): what the runtime needs to start a
 * container, the layers' uncompressed digests and the history.
 *
 * The parsed fields are C strings; the whole document stays available as json_t so the
 * runtime can read fields this parser does not know (Healthcheck, Shell, OnBuild...). */
#ifndef CONTAINER_OCI_CONFIG_H
#define CONTAINER_OCI_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "oci/json.h"
#include "oci/platform.h"

/* The "config" object: defaults for a container's process. Absent and null fields are
 * NULL (or empty maps); string lists are NULL-terminated. */
struct oci_exec_config {
	char *user;
	char **env; /* "NAME=value" */
	char **entrypoint;
	char **cmd;
	char *working_dir;
	struct oci_map labels;
	char *stop_signal;
	char **exposed_ports; /* keys: "80/tcp", "53/udp" */
	char **volumes;	      /* keys: "/data" */
};

struct oci_history {
	char *created;
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
};

struct oci_image_config {
	char *architecture;
	char *os;
	char *variant;
	char *os_version;
	char *created; /* RFC 3339, as written */
	char *author;
	struct oci_exec_config config;
	char **diff_ids; /* NULL-terminated; one per layer, bottom first */
	size_t n_diff_ids;
	struct oci_history *history;
	size_t n_history;
	json_t *json; /* the whole document; owned, released by oci_config_free */
};

/* media_type is what the config was fetched as (the manifest's config descriptor type),
 * or NULL when unknown; anything but an image config type is refused. */
int oci_config_parse(const char *buf, size_t len, const char *media_type,
		     struct oci_image_config *out, struct ct_error *err);
void oci_config_free(struct oci_image_config *config);

#define _cleanup_config_ __attribute__((cleanup(oci_config_free)))

/* The platform the image was built for (normalised). */
int oci_config_platform(const struct oci_image_config *config, struct oci_platform *out,
			struct ct_error *err);

#endif
