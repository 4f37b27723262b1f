/* The runtime helper's program as one sealed in-memory copy, shared by every
 * helper the API server starts (see sealed_copy.h for why it is sealed). */
#ifndef CONTAINER_APISERVER_RUNTIME_IMAGE_H
#define CONTAINER_APISERVER_RUNTIME_IMAGE_H

#include "error.h"
#include "sealed_copy.h"

/* Returns the sealed copy of the program at path (close-on-exec, owned by this
 * module) and its identity, made again when the file on disk changed (an
 * upgrade); -1 with err set when no copy can be made. */
int runtime_image_fd(const char *path, char identity[CT_SEALED_IDENTITY_MAX],
		     struct ct_error *err);

#endif
