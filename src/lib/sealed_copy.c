/* Sealed in-memory copies of an executable; see sealed_copy.h. */
#include "sealed_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

void ct_sealed_identity(int fd, char identity[CT_SEALED_IDENTITY_MAX])
{
	struct stat st;

	snprintf(identity, CT_SEALED_IDENTITY_MAX, "1");
	if (fstat(fd, &st) == 0)
		snprintf(identity, CT_SEALED_IDENTITY_MAX, "%llx-%llx-%llx",
			 (unsigned long long)st.st_size,
			 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec,
			 (unsigned long long)st.st_ino);
}

int ct_sealed_copy(int fd, const char *what, struct ct_error *err)
{
	int memfd = memfd_create("container-runtime-linux", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "memfd_create for %s", what);
	struct stat st;
	off_t offset = 0;
	if (fstat(fd, &st) < 0)
		goto fail;
	/* sendfile copies in the kernel; fall back to read/write where it cannot. */
	while (offset < st.st_size) {
		ssize_t n = sendfile(memfd, fd, &offset, (size_t)(st.st_size - offset));
		if (n > 0)
			continue;
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		goto fail;
	}
	if (offset != st.st_size) {
		errno = EIO;
		goto fail;
	}
	if (fcntl(memfd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
		goto fail;
	return memfd;
fail:;
	int saved = errno;
	close(memfd);
	errno = saved;
	return ct_error_errno(err, CT_ERR_INTERNAL, "cannot make a sealed copy of %s", what);
}

bool ct_is_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}
