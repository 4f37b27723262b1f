/* Small file-system, string and time helpers shared by every program. */
#ifndef CONTAINER_UTIL_H
#define CONTAINER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* asprintf that aborts on out-of-memory: for building paths and messages, where
 * failing to allocate a few bytes leaves nothing sensible to do. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* The process exists and has not exited: a zombie (exited, not yet reaped by
 * a parent or an init that may be slow to reap orphans) counts as gone. */
bool ct_pid_running(pid_t pid);
void *xcalloc(size_t n, size_t size);

/* mkdir -p with mode for the folders it creates; existing folders are kept. */
int ct_mkdir_p(const char *path, mode_t mode, struct ct_error *err);
/* Reads a whole file (at most max bytes, else an error) into a NUL-terminated buffer. */
int ct_read_file(const char *path, size_t max, char **out, size_t *len, struct ct_error *err);
/* Writes through a temporary file and rename(2), so readers see the old or the new
 * content, never a part. */
int ct_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct ct_error *err);
/* The same without fsync: for files made again whenever they are needed (a
 * container's /etc/hosts at each start), where surviving a power cut is
 * worthless and the fsync is a millisecond on the start path. */
int ct_write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
			  struct ct_error *err);

/* rm -rf that never follows symlinks nor crosses mounts. */
int ct_remove_tree(const char *path, struct ct_error *err);

uint64_t ct_now_monotonic_ms(void);
/* Raises the soft limit on open descriptors to the hard one (servers that
 * hold many connections or sockets; containers get their own limits). */
void ct_raise_nofile_limit(void);
/* Current time as RFC 3339 UTC with milliseconds: 2026-11-27T22:51:18.123Z. */
void ct_format_time_now(char *buf, size_t size);
/* Parses "90s", "5m", "2h", "1d" or plain seconds; returns -1 on a bad value. */
int64_t ct_parse_duration_seconds(const char *s);

bool ct_str_has_prefix(const char *s, const char *prefix);
int ct_set_nonblock(int fd, bool on);

#endif
