/* The container's output log, <bundle>/stdio.log, in the CRI format docker and
 * Kubernetes tools read: one line per chunk,
 *   2026-11-27T23:51:18.123456789Z stdout F the line
 * (P instead of F for a partial line). Rotated at a size limit: the current file
 * becomes stdio.log.1.
 *
 * A full disk never stops the container (docker's behaviour): its output is
 * dropped, whole lines only, with one error in the helper's log when that starts
 * and a note with the count when writing works again. stdio.log.reserve holds a
 * little space, given back when the output ends, so that the helper can still
 * record how the container exited on a disk the output filled. */
#ifndef CONTAINER_RUNTIME_STDIO_LOG_H
#define CONTAINER_RUNTIME_STDIO_LOG_H

#include <stdbool.h>
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
	/* The file's blocks are taken ahead of the writes, up to here, so a full
	 * disk refuses a whole line, never half of one. */
	uint64_t allocated;
	bool no_prealloc; /* the file system can't (fallocate) */
	/* Writing failed (a full disk): lines are dropped until one goes in. */
	bool dropping;
	uint64_t dropped_lines;
	char *reserve_path;
};

int stdio_log_open(struct stdio_log *log, const char *bundle, struct ct_error *err);
/* stream: 1 stdout, 2 stderr. */
void stdio_log_write(struct stdio_log *log, int stream, const char *data, size_t len);
/* The output has ended: writes what is left of unfinished lines and gives back
 * the reserve (for the state file written next). */
void stdio_log_flush(struct stdio_log *log);
void stdio_log_close(struct stdio_log *log);

#endif
