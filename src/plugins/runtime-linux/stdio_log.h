/* The container's output log, <bundle>/stdio.log, in the CRI format docker and
 * Kubernetes tools read: one line per chunk,
 *   2026-11-27T23:51:18.123456789Z stdout F the line
 * (P instead of F for a partial line). Rotated at a size limit: the current file
 * becomes stdio.log.1. */
#ifndef CONTAINER_RUNTIME_STDIO_LOG_H
#define CONTAINER_RUNTIME_STDIO_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define STDIO_LOG_MAX_BYTES (10u * 1024 * 1024)

struct stdio_log {
	char *path;
	int fd;
	uint64_t size;
	/* A line not ended yet, per stream (stdout, stderr). */
	char pending[2][16384];
	size_t pending_len[2];
};

int stdio_log_open(struct stdio_log *log, const char *bundle, struct ct_error *err);
/* stream: 1 stdout, 2 stderr. */
void stdio_log_write(struct stdio_log *log, int stream, const char *data, size_t len);
/* Writes what is left of unfinished lines. */
void stdio_log_flush(struct stdio_log *log);
void stdio_log_close(struct stdio_log *log);

#endif
