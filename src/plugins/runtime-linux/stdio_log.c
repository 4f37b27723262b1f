#include "stdio_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

/* Blocks are taken for the log this far ahead of its end. */
#define STDIO_LOG_PREALLOC (64 * 1024)

/* Room for the last state.json (a few hundred bytes, written to a temporary
 * file and renamed over the old one): one block or page, with margin. */
#define STDIO_LOG_RESERVE (16 * 1024)

/* The app root, for messages: the bundle is <app root>/containers/<id>. */
static char *app_root_of(const char *path)
{
	char *root = xstrdup(path);

	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(root, '/');
		if (!slash || slash == root)
			break;
		*slash = '\0';
	}
	return root;
}

static bool disk_full(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

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

	log->reserve_path = xasprintf("%s/stdio.log.reserve", bundle);
	_cleanup_close_ int fd =
	    open(log->reserve_path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int e = fd < 0 ? errno : posix_fallocate(fd, 0, STDIO_LOG_RESERVE);
	if (e == 0)
		return 0;
	if (fd >= 0)
		unlink(log->reserve_path);
	free(log->reserve_path);
	log->reserve_path = NULL;
	if (!disk_full(e)) {
		/* Without a reserve the container still runs; only the last state
		 * could be lost, and only on a full disk. */
		log_warn("%s/stdio.log.reserve: %s", bundle, strerror(e));
		return 0;
	}
	/* A disk this full could not even take the state file that says the
	 * container runs: refuse now, with the reason, rather than run a
	 * container nobody can see. */
	_cleanup_free_ char *root = app_root_of(log->path);
	close(log->fd);
	log->fd = -1;
	return ct_error_set(err, CT_ERR_UNAVAILABLE, e,
			    "no room for the container's log and state in %s: %s; the disk "
			    "holding %s is full: free space there (`container image prune` "
			    "removes unused images, `container prune` stopped containers) and "
			    "try again",
			    bundle, strerror(e), root);
}

/* Takes the blocks for len more bytes before they are written: a write the
 * disk fills up part-way through would leave half a line, and readers
 * following the file (logs -f) would read it before it could be cut off
 * again. Blocks go in STDIO_LOG_PREALLOC steps, so this costs one call per
 * step, not one per line. Returns 0 or an errno value. */
static int take_room(struct stdio_log *log, size_t len)
{
	if (log->no_prealloc || log->size + len <= log->allocated)
		return 0;
	size_t step = len > STDIO_LOG_PREALLOC ? len : STDIO_LOG_PREALLOC;
	if (fallocate(log->fd, FALLOC_FL_KEEP_SIZE, log->size, step) == 0) {
		log->allocated = log->size + step;
		return 0;
	}
	/* Not a step's worth left: this one line may still fit. */
	if (disk_full(errno) && fallocate(log->fd, FALLOC_FL_KEEP_SIZE, log->size, len) == 0) {
		log->allocated = log->size + len;
		return 0;
	}
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		/* The writes below cut off a half line themselves. */
		log->no_prealloc = true;
		return 0;
	}
	return errno;
}

/* Gives back the blocks taken past the end of the file. */
static void release_room(struct stdio_log *log)
{
	if (log->fd >= 0 && log->allocated > log->size)
		if (ftruncate(log->fd, log->size) < 0)
			log_debug("%s: %s", log->path, strerror(errno));
	log->allocated = log->size;
}

/* The new file is made first and renamed over the log's name last, after the
 * current file got its second name (.1): readers (`logs -f`) never find the
 * name missing, and a failure at any step leaves the current file in use (emit
 * then drops lines past the size limit rather than let one file grow without
 * bound). */
static void rotate(struct stdio_log *log)
{
	char old[4096], next[4096];

	snprintf(old, sizeof(old), "%s.1", log->path);
	snprintf(next, sizeof(next), "%s.next", log->path);
	int fd = open(next, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	if ((unlink(old) < 0 && errno != ENOENT) || link(log->path, old) < 0 ||
	    rename(next, log->path) < 0) {
		close(fd);
		unlink(next);
		return;
	}
	release_room(log);
	close(log->fd);
	log->fd = fd;
	log->size = 0;
	log->allocated = 0;
}

/* A line could not be written: say so once, then count. */
static void write_failed(struct stdio_log *log, int e)
{
	log->dropped_lines++;
	if (log->dropping)
		return;
	log->dropping = true;
	if (disk_full(e)) {
		_cleanup_free_ char *root = app_root_of(log->path);
		log_error("writing the container's log %s: %s; the container keeps running, its "
			  "output is being dropped until there is room again: free space on the "
			  "disk holding %s (`container image prune`, `container prune`)",
			  log->path, strerror(e), root);
	} else {
		log_error("writing the container's log %s: %s; the container keeps running, its "
			  "output is being dropped until writing works again",
			  log->path, strerror(e));
	}
}

static void emit(struct stdio_log *log, int stream, const char *line, size_t len, bool partial)
{
	struct timespec ts;
	struct tm tm;
	/* Time stamp and stream, the line, its newline: one buffer, so that one
	 * write per line keeps lines whole for readers following the file. */
	char buf[64 + sizeof(log->pending[0]) + 1];

	if (log->fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec,
			 stream == 2 ? "stderr" : "stdout", partial ? 'P' : 'F');
	if (len > sizeof(log->pending[0]))
		len = sizeof(log->pending[0]);
	memcpy(buf + n, line, len);
	buf[n + len] = '\n';
	size_t total = n + len + 1, done = 0;
	/* A file that could not be rotated keeps its size limit: lines past it
	 * are dropped (and counted) until a rotation succeeds. */
	if (log->size >= STDIO_LOG_MAX_BYTES) {
		rotate(log);
		if (log->size >= STDIO_LOG_MAX_BYTES) {
			write_failed(log, EFBIG);
			return;
		}
	}
	int e = take_room(log, total);
	if (e) {
		write_failed(log, e);
		return;
	}
	while (done < total) {
		ssize_t w = write(log->fd, buf + done, total - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		done += w;
	}
	if (done < total) {
		/* A disk that filled up part-way through the line took its start:
		 * cut it off again, so the file holds whole lines only (O_APPEND
		 * writes go to the new end). */
		if (done > 0 && ftruncate(log->fd, log->size) < 0)
			log->size += done;
		write_failed(log, e);
		return;
	}
	log->size += total;
	if (log->size > log->allocated)
		log->allocated = log->size;
	if (log->dropping) {
		log->dropping = false;
		log_info("writing the container's log %s again; %llu lines of output were dropped "
			 "(resumed after the disk had room again)",
			 log->path, (unsigned long long)log->dropped_lines);
		log->dropped_lines = 0;
	}
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
	if (log->dropping) {
		log_warn("the container's output ended with %llu lines dropped from %s",
			 (unsigned long long)log->dropped_lines, log->path);
		log->dropping = false;
		log->dropped_lines = 0;
	}
	release_room(log);
	if (log->reserve_path) {
		unlink(log->reserve_path);
		free(log->reserve_path);
		log->reserve_path = NULL;
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
