/* /etc/hosts, /etc/hostname and /etc/resolv.conf of a container: written by the
 * API server into containers/<id>/etc/ and bind-mounted over the image's, so the
 * image is never changed and a restart gets fresh ones. */
#ifndef CONTAINER_ETC_FILES_H
#define CONTAINER_ETC_FILES_H

#include <jansson.h>

#include "apiserver.h"
#include "error.h"

/* The bind mounts for the spec: {destination, type, source, options}. resolv.conf
 * is left to the image with --no-dns. */
json_t *etc_files_mounts(const char *bundle, json_t *options);

/* Writes the three files for the container's current addresses (none before its
 * networks are attached). hostname is the container's. */
int etc_files_write(struct apiserver *api, const char *id, const char *hostname,
		    json_t *options, struct ct_error *err);

#endif
