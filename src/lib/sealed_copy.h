/* Sealed in-memory copies of an executable (CVE-2019-5736): a process run from one
 * cannot have its program rewritten through /proc/PID/exe, because the memfd is
 * sealed against writes and the file on disk is never mapped. */
#ifndef CONTAINER_SEALED_COPY_H
#define CONTAINER_SEALED_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* The environment variable that tells the runtime helper it already runs from a
 * sealed copy; its value is the identity of the file the copy was made from. */
#define CT_SEALED_ENV "CONTAINER_RUNTIME_SEALED"

/* Who a file on disk is, for caches keyed by one build of a program: size,
 * modification time and inode, as "%llx-%llx-%llx". */
#define CT_SEALED_IDENTITY_MAX 96
void ct_sealed_identity(int fd, char identity[CT_SEALED_IDENTITY_MAX]);

/* Copies the executable open at fd into a new memfd (close-on-exec) and seals it
 * against any change. Returns the memfd, or -1 with err set. */
int ct_sealed_copy(int fd, const char *what, struct ct_error *err);

/* True when fd is a memfd sealed against writes, growing and shrinking. */
bool ct_is_sealed(int fd);

#endif
