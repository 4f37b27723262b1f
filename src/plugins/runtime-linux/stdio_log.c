#include "stdio_log.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int stdio_log_open(struct stdio_log *log, const char *bundle, struct ct_error *err)
{
	struct stat st;

	memset(log, 0, sizeof(*log));
	log->path = xasprintf("%s/stdio.log", bundle);
	log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log->fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", log->path);
	if (fstat(log->fd, &st) == 0)
		log->size = st.st_size;
	return 0;
}

static void rotate(struct stdio_log *log)
{
	char old[4096];

	snprintf(old, sizeof(old), "%s.1", log->path);
	if (rename(log->path, old) < 0)
		return;
	int fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	close(log->fd);
	log->fd = fd;
	log->size = 0;
}

static void emit(struct stdio_log *log, int stream, const char *line, size_t len, bool partial)
{
	struct timespec ts;
	struct tm tm;
	char head[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(head, sizeof(head), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec, stream == 2 ? "stderr" : "stdout",
			 partial ? 'P' : 'F');
	struct iovec iov[3] = {{head, n}, {(void *)line, len}, {"\n", 1}};
	/* One writev per line keeps lines whole for readers following the file. */
	ssize_t w = writev(log->fd, iov, 3);
	if (w > 0)
		log->size += w;
	else if (w < 0 && errno == ENOSPC)
		log_warn("%s: disk full; container output is being dropped", log->path);
	if (log->size >= STDIO_LOG_MAX_BYTES)
		rotate(log);
}

void stdio_log_write(struct stdio_log *log, int stream, const char *data, size_t len)
{
	int s = stream == 2 ? 1 : 0;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t chunk = nl ? (size_t)(nl - data) : len;
		size_t room = sizeof(log->pending[s]) - log->pending_len[s];

		if (chunk > room) {
			/* A very long line: write what we have as a partial line. */
			memcpy(log->pending[s] + log->pending_len[s], data, room);
			emit(log, stream, log->pending[s], sizeof(log->pending[s]), true);
			log->pending_len[s] = 0;
			data += room;
			len -= room;
			continue;
		}
		memcpy(log->pending[s] + log->pending_len[s], data, chunk);
		log->pending_len[s] += chunk;
		if (!nl)
			return;
		emit(log, stream, log->pending[s], log->pending_len[s], false);
		log->pending_len[s] = 0;
		data += chunk + 1;
		len -= chunk + 1;
	}
}

void stdio_log_flush(struct stdio_log *log)
{
	for (int s = 0; s < 2; s++)
		if (log->pending_len[s]) {
			emit(log, s + 1, log->pending[s], log->pending_len[s], true);
			log->pending_len[s] = 0;
		}
}

void stdio_log_close(struct stdio_log *log)
{
	stdio_log_flush(log);
	if (log->fd >= 0)
		close(log->fd);
	free(log->path);
	memset(log, 0, sizeof(*log));
	log->fd = -1;
}
