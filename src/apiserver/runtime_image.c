/* One sealed copy of the runtime helper's program for all helpers: each helper
 * would otherwise copy itself into a memfd of its own (about 0.6 MB, more when
 * linked statically) and run a second exec at every container start. */
#include "runtime_image.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static struct {
	char *path;
	char identity[CT_SEALED_IDENTITY_MAX];
	int fd;
} cached = {.fd = -1};

int runtime_image_fd(const char *path, char identity[CT_SEALED_IDENTITY_MAX],
		     struct ct_error *err)
{
	int file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return ct_error_errno(err, CT_ERR_CANNOT_RUN, "cannot open %s", path);
	char current[CT_SEALED_IDENTITY_MAX];
	ct_sealed_identity(file, current);
	if (cached.fd >= 0 && strcmp(cached.path, path) == 0 &&
	    strcmp(cached.identity, current) == 0) {
		close(file);
		memcpy(identity, cached.identity, CT_SEALED_IDENTITY_MAX);
		return cached.fd;
	}
	int fd = ct_sealed_copy(file, path, err);
	close(file);
	if (fd < 0)
		return -1;
	/* Helpers started from the old copy keep it mapped; closing ours is safe. */
	if (cached.fd >= 0)
		close(cached.fd);
	free(cached.path);
	cached.path = xstrdup(path);
	memcpy(cached.identity, current, CT_SEALED_IDENTITY_MAX);
	cached.fd = fd;
	memcpy(identity, current, CT_SEALED_IDENTITY_MAX);
	return fd;
}
