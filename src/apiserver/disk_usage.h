/* How much disk a folder tree uses, for `system df` and the volume routes. */
#ifndef CONTAINER_APISERVER_DISK_USAGE_H
#define CONTAINER_APISERVER_DISK_USAGE_H

#include <stdint.h>

/* Bytes in use under path, as du counts them: the blocks of each inode once
 * (hardlinks), symlinks not followed, no other file system than path's own
 * entered (a sized volume is a mount at its _data). 0 when path can't be
 * opened. Walks by descriptor with state of its own, so worker threads and
 * forked children may call it; it can take long for a large tree. */
uint64_t disk_usage(const char *path);

#endif
