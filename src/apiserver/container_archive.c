/* Routes container.archive (copy out: `cp CTR:/path …`), container.extract (copy
 * in: `cp … CTR:/path`) and container.export: tar streams of a container's files
 * on a descriptor the client sent (a pipe to the CLI, or its stdin/stdout).
 *
 * The tar work runs in a child process, so the loop never blocks on a slow reader
 * or a large tree. The child reports on a status pipe, one JSON object a line:
 *   {"ready": {…}}  the path was found; the stream starts (relayed as progress:
 *                   the CLI learns the source's type or the name to write under)
 *   {"done": {…}}   the stream is complete (the final reply)
 *   {"error": {"code": …, "message": …}}
 * so a missing path or a refused tar entry reaches the user as an error reply.
 *
 * The container's files, seen by descriptor (DESIGN.md: resolved relative to a
 * directory fd, never by string prefix):
 *   - running: /proc/<init pid>/root, the root of its mount namespace, so its
 *     volumes and tmpfs mounts are seen as it sees them;
 *   - stopped (or for export): its overlay (the image's snapshots and its upper
 *     folder) mounted by the child as a detached mount (fsmount) after unsharing
 *     its mount namespace: the mount is nobody else's and ends with the child.
 * Every path from the request is resolved with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS): a symlink in the container (`/tmp/x -> /etc`, `->
 * /../../..`) resolves inside the container, never to the host's files. Below the
 * resolved node, tar_tree reads and the images plugin's unpacker writes with
 * O_NOFOLLOW / RESOLVE_NO_SYMLINKS, and the unpacker refuses `..` and absolute
 * names. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apiserver.h"
#include "cleanup.h"
#include "container_db.h"
#include "json_util.h"
#include "log.h"
#include "tar_tree.h"
#include "unpack.h"
#include "util.h"

/* A status line longer than this is a broken child. */
#define STATUS_LINE_MAX 8192
/* How often a running copy checks that its client is still there. */
#define WATCHDOG_MS 500

enum archive_op {
	ARCHIVE_COPY_OUT,
	ARCHIVE_COPY_IN,
	ARCHIVE_EXPORT,
};

static const char *const op_routes[] = {
    [ARCHIVE_COPY_OUT] = "container.archive",
    [ARCHIVE_COPY_IN] = "container.extract",
    [ARCHIVE_EXPORT] = "container.export",
};

/* Everything the child needs, gathered by the API server before the fork. */
struct archive_plan {
	enum archive_op op;
	char *container; /* its name, for messages */
	char *container_id;
	pid_t init_pid;	 /* running: its root is /proc/<init_pid>/root */
	pid_t helper_pid;
	char **lowers; /* the image's snapshots, topmost first */
	size_t nlowers;
	char *upper, *work;
	char *path; /* in the container, as the user gave it */
	int data_fd;
	/* copy out: the top entry's name in the stream (NULL: the path's last name;
	 * "": a directory's content only) */
	char *tar_name;
	/* copy in: a tar stream to extract into the directory `path` as it is (`cp -`),
	 * or one entry (and what is beneath it) whose name we choose, from the source's
	 * name and type (docker's rules) */
	bool stream;
	char *source_name;
	bool source_dir, source_content;
};

static void plan_clear(struct archive_plan *p)
{
	free(p->container);
	free(p->container_id);
	for (size_t i = 0; i < p->nlowers; i++)
		free(p->lowers[i]);
	free(p->lowers);
	free(p->upper);
	free(p->work);
	free(p->path);
	free(p->tar_name);
	free(p->source_name);
	if (p->data_fd >= 0)
		close(p->data_fd);
	p->data_fd = -1;
}

#define _cleanup_plan_ __attribute__((cleanup(plan_clear)))

/* ---- the child ------------------------------------------------------------- */

/* One status line. Messages quote paths from the container, which may be any
 * bytes; JSON wants UTF-8, so a message that isn't is sent with '?' for the
 * bytes outside ASCII. */
static void report(int status_fd, const char *key, json_t *value)
{
	_cleanup_json_ json_t *line = json_pack("{s:o}", key, value);
	_cleanup_free_ char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;

	if (!text)
		return;
	size_t len = strlen(text);
	text[len] = '\n';
	for (size_t off = 0; off <= len;) {
		ssize_t n = write(status_fd, text + off, len + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static void report_error(int status_fd, const struct ct_error *err)
{
	const char *message = ct_error_message(err);
	json_t *m = json_string(message);

	if (!m) {
		_cleanup_free_ char *safe = xstrdup(message);
		for (char *c = safe; *c; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
		m = json_string(safe);
	}
	report(status_fd, "error",
	       json_pack("{s:s, s:o}", "code", err->code[0] ? err->code : CT_ERR_INTERNAL,
			 "message", m ? m : json_string("unknown error")));
}

static int openat2_in_root(int root, const char *path, uint64_t flags)
{
	struct open_how how = {
	    .flags = flags | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	for (int attempt = 0;; attempt++) {
		int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
		/* EAGAIN: a rename raced with the lookup; the kernel asks us to retry. */
		if (fd >= 0 || errno != EAGAIN || attempt == 8)
			return fd;
	}
}

/* Opens path (absolute in the container, or relative to its root) as an O_PATH
 * fd; the last component is followed (inside the root) only when follow is set.
 * Errors name `shown` (the path the user gave) and the container. */
static int resolve(const struct archive_plan *p, int root, const char *path, const char *shown,
		   uint64_t flags, bool follow, struct ct_error *err)
{
	int fd =
	    openat2_in_root(root, *path ? path : "/", O_PATH | flags | (follow ? 0 : O_NOFOLLOW));

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
				    "no such file or directory %s in container %s", shown,
				    p->container);
	case ENOTDIR:
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
				    "%s in container %s is not a directory", shown, p->container);
	case ELOOP:
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ELOOP,
				    "too many levels of symlinks resolving %s in container %s",
				    shown, p->container);
	case ENOSYS:
		return ct_error_set(err, CT_ERR_UNSUPPORTED, ENOSYS,
				    "this kernel has no openat2 (Linux 5.6 or later is needed to "
				    "resolve paths in a container safely)");
	default:
		return ct_error_errno(err, CT_ERR_INTERNAL, "resolving %s in container %s", shown,
				      p->container);
	}
}

/* The node `path` names, as a directory fd and a name in it (for the *at calls
 * that never follow the name): a trailing "/" or "/." follows a last symlink
 * (inside the root), as it does in a shell. */
static int resolve_node(const struct archive_plan *p, int root, const struct tar_tree_path *c,
			int *parent, const char **name, struct stat *st, struct ct_error *err)
{
	_cleanup_close_ int fd = -1;

	if (!c->base || c->trailing) {
		fd = resolve(p, root, c->core, p->path, c->trailing ? O_DIRECTORY : 0, true, err);
		*name = ".";
	} else {
		fd = resolve(p, root, c->dir, p->path, O_DIRECTORY, true, err);
		*name = c->base;
	}
	if (fd < 0)
		return -1;
	if (fstatat(fd, *name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
					    "no such file or directory %s in container %s", p->path,
					    p->container);
		return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting %s in container %s",
				      p->path, p->container);
	}
	*parent = move_fd(fd);
	return 0;
}

/* The container's overlay as a detached, private mount: read-only with its upper
 * folder as the topmost lower layer (no workdir is needed, and a running
 * container's upper folder is only read), or read-write on its upper folder. The
 * fs context's own log says why a mount was refused. */
static int mount_overlay(const struct archive_plan *p, bool writable, struct ct_error *err)
{
	_cleanup_close_ int fs = -1;

	if (!p->upper || (!p->nlowers && writable))
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "container %s has no overlay root filesystem to open (its "
				    "bundle names no image layers)",
				    p->container);
	if (!p->nlowers) { /* an image with no layers: the upper folder is all there is */
		int fd = open(p->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", p->upper);
		return fd;
	}
	/* Private propagation first: the child's mounts must never reach the host's
	 * namespace, whatever the propagation of / there. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "making a private mount namespace");
	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return ct_error_errno(err, CT_ERR_UNSUPPORTED, "opening an overlay file system");
	/* "lowerdir+" (Linux 6.8) takes one layer a call: no page-size limit on the
	 * list and no escaping of ':' in paths. */
	int rc = 0;
	if (!writable)
		rc = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p->upper, 0);
	for (size_t i = 0; i < p->nlowers && rc == 0; i++)
		rc = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p->lowers[i], 0);
	if (rc == 0 && writable)
		rc = fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", p->upper, 0)
			 ?: fsconfig(fs, FSCONFIG_SET_STRING, "workdir", p->work, 0);
	/* As the runtime mounts it (mounts.c): no inode index. */
	if (rc == 0)
		rc = fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0);
	if (rc == 0)
		rc = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (rc < 0) {
		int saved = errno;
		char log[512];
		ssize_t n = read(fs, log, sizeof(log) - 1);
		log[n > 0 ? n - (log[n - 1] == '\n') : 0] = '\0';
		errno = saved;
		/* The log's lines start with "e " (error), "w " or "i ". */
		return ct_error_errno(
		    err, CT_ERR_INTERNAL,
		    "mounting the file system of container %s (layers under %s)%s%s", p->container,
		    p->upper, n > 2 ? ": " : "", n > 2 ? log + 2 : "");
	}
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC,
			  (writable ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID |
			      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "mounting the file system of container %s", p->container);
	return mnt;
}

/* The running container's root as its init sees it. The pid comes from
 * state.json; that it is still the helper's child (and not a recycled pid) is
 * checked after the root is open, so the fd we hold is the container's. */
static int open_running_root(const struct archive_plan *p, struct ct_error *err)
{
	char path[64], stat_text[512];
	_cleanup_close_ int root = -1, stat_fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)p->init_pid);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return ct_error_errno(err, CT_ERR_CONFLICT,
				      "opening the root of container %s (it may just have stopped; "
				      "try again)",
				      p->container);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p->init_pid);
	stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = stat_fd >= 0 ? read(stat_fd, stat_text, sizeof(stat_text) - 1) : -1;
	stat_text[n > 0 ? n : 0] = '\0';
	/* "pid (comm) state ppid …": comm may hold anything, so parse after the last ')'. */
	const char *after = strrchr(stat_text, ')');
	int ppid = -1;
	char state;
	if (!after || sscanf(after + 1, " %c %d", &state, &ppid) != 2 || ppid != p->helper_pid)
		return ct_error_set(err, CT_ERR_CONFLICT, 0,
				    "container %s stopped while its files were being opened; try "
				    "again",
				    p->container);
	return move_fd(root);
}

static int open_root(const struct archive_plan *p, struct ct_error *err)
{
	/* Export is the container's own files: its overlay without the mounts of a
	 * running container (volumes, tmpfs, /proc). */
	if (p->init_pid > 0 && p->op != ARCHIVE_EXPORT)
		return open_running_root(p, err);
	return mount_overlay(p, p->op == ARCHIVE_COPY_IN, err);
}

static int write_tree(const struct archive_plan *p, int parent, const char *name,
		      const char *tar_name, int status_fd, struct ct_error *err)
{
	struct tar_tree *t = tar_tree_new(p->data_fd, err);

	if (!t)
		return -1;
	int rc = tar_tree_add(t, parent, name, tar_name, err);
	if (rc == 0)
		rc = tar_tree_finish(t, err);
	if (rc == 0) {
		const struct tar_tree_stats *s = tar_tree_stats(t);
		report(status_fd, "done",
		       json_pack("{s:I, s:I}", "entries", (json_int_t)s->entries, "bytes",
				 (json_int_t)s->bytes));
	} else if (err && err->errnum == EPIPE) {
		/* The reader stopped reading: its own error says why. */
		snprintf(err->code, sizeof(err->code), "%s", CT_ERR_CANCELLED);
	}
	tar_tree_free(t);
	return rc;
}

static int copy_out(const struct archive_plan *p, int root, int status_fd, struct ct_error *err)
{
	_cleanup_tar_tree_path_ struct tar_tree_path c = {0};
	_cleanup_close_ int parent = -1;
	const char *name;
	struct stat st;

	tar_tree_path_split(p->path, &c);
	if (resolve_node(p, root, &c, &parent, &name, &st, err) < 0)
		return -1;
	if (c.content && !S_ISDIR(st.st_mode))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
				    "%s in container %s is not a directory", p->path, p->container);
	/* Named as docker names it: the last name of the path; a directory's content
	 * for "/." and the root. */
	const char *tar_name = p->tar_name ? p->tar_name : c.content || !c.base ? "" : c.base;
	if (!*tar_name && !S_ISDIR(st.st_mode))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s in container %s is a %s: it needs a name in the archive",
				    p->path, p->container, tar_tree_type_name(st.st_mode));
	report(status_fd, "ready",
	       json_pack("{s:s, s:s}", "type", tar_tree_type_name(st.st_mode), "name", tar_name));
	if (write_tree(p, parent, name, tar_name, status_fd, err) < 0)
		return ct_error_prefix(err, "copying %s out of container %s", p->path,
				       p->container);
	return 0;
}

static int export_all(const struct archive_plan *p, int root, int status_fd, struct ct_error *err)
{
	report(status_fd, "ready", json_pack("{s:s, s:s}", "type", "directory", "name", ""));
	if (write_tree(p, root, ".", "", status_fd, err) < 0)
		return ct_error_prefix(err, "exporting container %s", p->container);
	return 0;
}

/* Where a copy into the container goes, by docker's rules: into an existing
 * directory under the source's name (or its content, for SRC/.); over an existing
 * non-directory; or as a new node named by the path's last name. */
static int extract_target(const struct archive_plan *p, int root, const struct tar_tree_path *c,
			  char **entry_name, struct ct_error *err)
{
	_cleanup_close_ int node = -1;
	struct stat st;

	if (p->stream) {
		*entry_name = xstrdup("");
		return resolve(p, root, p->path, p->path, O_DIRECTORY, true, err);
	}
	node = resolve(p, root, p->path, p->path, 0, true, err);
	if (node >= 0 && fstat(node, &st) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting %s in container %s",
				      p->path, p->container);
	if (node >= 0 && S_ISDIR(st.st_mode)) {
		*entry_name = xstrdup(p->source_content ? "" : p->source_name);
		return move_fd(node);
	}
	if (node >= 0 && p->source_dir)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
				    "cannot copy a directory onto %s in container %s: it is a %s",
				    p->path, p->container, tar_tree_type_name(st.st_mode));
	if (node < 0 && !(ct_error_is(err, CT_ERR_NOT_FOUND)))
		return -1;
	if (node < 0 && c->trailing && !p->source_dir)
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
				    "the destination directory %s does not exist in container %s",
				    p->path, p->container);
	if (!c->base)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "cannot copy onto %s in container %s", p->path, p->container);
	/* The node itself is replaced (a symlink there is replaced, not followed). */
	ct_error_clear(err);
	int dir = resolve(p, root, c->dir, c->dir, O_DIRECTORY, true, err);
	if (dir < 0 && ct_error_is(err, CT_ERR_NOT_FOUND))
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
				    "the destination directory %s does not exist in container %s",
				    c->dir, p->container);
	if (dir < 0)
		return ct_error_prefix(err, "copying to %s", p->path);
	*entry_name = xstrdup(c->base);
	return dir;
}

static void unpack_note(void *ctx, const char *message)
{
	/* Not sent to the user: only kept xattrs and similar details. */
	(void)ctx;
	(void)message;
}

static int copy_in(const struct archive_plan *p, int root, int status_fd, struct ct_error *err)
{
	_cleanup_tar_tree_path_ struct tar_tree_path c = {0};
	_cleanup_free_ char *entry_name = NULL;
	_cleanup_close_ int dir = -1;
	struct stat st;

	tar_tree_path_split(p->path, &c);
	dir = extract_target(p, root, &c, &entry_name, err);
	if (dir < 0)
		return -1;
	/* As docker: a directory is not replaced by a file, nor a file by a directory
	 * (the unpacker would remove what is there). */
	if (*entry_name && fstatat(dir, entry_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) != p->source_dir)
		return ct_error_set(err, CT_ERR_CONFLICT, 0,
				    "cannot overwrite %s %s in %s of container %s with a %s",
				    S_ISDIR(st.st_mode) ? "directory" : "non-directory", entry_name,
				    p->path, p->container,
				    p->source_dir ? "directory" : "non-directory");
	report(status_fd, "ready", json_pack("{s:s}", "name", entry_name));

	struct unpack_options opts = {
	    /* The user's own files: no size limits beyond the disk's. */
	    .max_bytes = UINT64_MAX,
	    .max_entries = UINT64_MAX,
	    .rootless = geteuid() != 0,
	    .literal_names = true,
	    .note = unpack_note,
	};
	struct unpack_stats stats;
	if (unpack_layer_from_fd(p->data_fd, dir, &opts, &stats, err) < 0) {
		/* The unpacker speaks of layers; this is a copy. */
		static const char layer_prefix[] = "unpacking a layer: ";
		if (err && err->message &&
		    !strncmp(err->message, layer_prefix, strlen(layer_prefix)))
			memmove(err->message, err->message + strlen(layer_prefix),
				strlen(err->message) - strlen(layer_prefix) + 1);
		return ct_error_prefix(err, "copying into %s of container %s", p->path,
				       p->container);
	}
	report(status_fd, "done",
	       json_pack("{s:I, s:I}", "entries", (json_int_t)stats.entries, "bytes",
			 (json_int_t)stats.bytes));
	return 0;
}

/* Closes every descriptor but a and b: the child must not hold the API server's
 * sockets, database or pid-file lock while a long copy runs. */
static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

static void __attribute__((noreturn)) child_main(struct archive_plan *p, int status_fd)
{
	struct ct_error err = CT_ERROR_INIT;
	sigset_t none;
	int rc = -1;

	/* The API server blocks the signals its signalfd takes; a copy can be killed. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_all_but(status_fd, p->data_fd);
	int root = open_root(p, &err);
	if (root >= 0) {
		switch (p->op) {
		case ARCHIVE_COPY_OUT:
			rc = copy_out(p, root, status_fd, &err);
			break;
		case ARCHIVE_COPY_IN:
			rc = copy_in(p, root, status_fd, &err);
			break;
		case ARCHIVE_EXPORT:
			rc = export_all(p, root, status_fd, &err);
			break;
		}
	}
	if (rc < 0)
		report_error(status_fd, &err);
	_exit(rc < 0 ? 1 : 0);
}

/* ---- the API server's side -------------------------------------------------- */

struct archive_job {
	struct apiserver *api;
	struct ct_request *req;
	enum archive_op op;
	char *container;
	char *container_id;
	pid_t pid;
	int pidfd;
	int status_fd;
	struct ct_watch *watch;
	struct ct_timer *watchdog;
	bool answered;
	bool marked_busy; /* a stopped container: its overlay is ours while we run */
	size_t len;
	char buf[STATUS_LINE_MAX];
};

static void job_free(struct archive_job *j)
{
	if (j->marked_busy)
		containers_set_busy(j->container_id, NULL);
	if (j->watch)
		ct_loop_unwatch(j->api->loop, j->watch);
	if (j->watchdog)
		ct_loop_timer_cancel(j->api->loop, j->watchdog);
	if (j->status_fd >= 0)
		close(j->status_fd);
	if (j->pidfd >= 0)
		close(j->pidfd);
	free(j->container);
	free(j->container_id);
	free(j);
}

static void job_line(struct archive_job *j, const char *line)
{
	_cleanup_json_ json_t *msg = json_loads(line, 0, NULL);
	json_t *v;

	if (j->answered)
		return;
	if ((v = json_object_get(msg, "ready"))) {
		ct_request_progress(j->req, json_incref(v));
	} else if ((v = json_object_get(msg, "done"))) {
		j->answered = true;
		ct_request_reply(j->req, json_incref(v), NULL, 0);
	} else if ((v = json_object_get(msg, "error"))) {
		j->answered = true;
		ct_request_error(
		    j->req, json_string_value(json_object_get(v, "code")) ?: CT_ERR_INTERNAL, "%s",
		    json_string_value(json_object_get(v, "message")) ?: "failed");
	} else {
		log_warn("%s for container %s: ignoring a malformed status line from the copy "
			 "process",
			 op_routes[j->op], j->container);
	}
}

static void job_status_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct archive_job *j = data;
	ssize_t n = read(fd, j->buf + j->len, sizeof(j->buf) - 1 - j->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		j->len += (size_t)n;
		j->buf[j->len] = '\0';
		char *start = j->buf, *nl;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			job_line(j, start);
			start = nl + 1;
		}
		j->len -= (size_t)(start - j->buf);
		memmove(j->buf, start, j->len);
		if (j->len < sizeof(j->buf) - 1)
			return;
		log_warn("%s for container %s: the copy process sent a status line over %d bytes",
			 op_routes[j->op], j->container, STATUS_LINE_MAX);
		pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
	}
	/* End of the status pipe: the child has exited (it is reaped with the
	 * plugins' children, by waitpid(-1) on SIGCHLD). */
	if (!j->answered)
		ct_request_error(
		    j->req, CT_ERR_INTERNAL,
		    "%s for container %s: the copy process ended without a result; see "
		    "`container system logs`",
		    op_routes[j->op], j->container);
	job_free(j);
}

/* A client that went away (Ctrl-C on `container export`) stops its copy, which
 * would otherwise run on into a file nobody waits for. */
static void job_watchdog(struct ct_loop *loop, void *data)
{
	struct archive_job *j = data;

	j->watchdog = NULL;
	if (!ct_request_alive(j->req)) {
		log_info("%s for container %s: the client went away; stopping the copy",
			 op_routes[j->op], j->container);
		pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
		return;
	}
	j->watchdog = ct_loop_timer(loop, WATCHDOG_MS, job_watchdog, j);
}

static int read_json(const char *path, json_t **out, struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;

	if (ct_read_file(path, 4 << 20, &text, NULL, err) < 0)
		return -1;
	*out = json_loads(text, 0, &jerr);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "%s: %s", path,
				    jerr.text[0] ? jerr.text : "not a JSON object");
	}
	return 0;
}

/* Is it running, and where are its layers: from state.json and the bundle. */
static int plan_container(struct apiserver *api, const struct container_record *r,
			  struct archive_plan *p, struct ct_error *err)
{
	_cleanup_free_ char *state_path =
	    xasprintf("%s/containers/%s/state.json", api->paths.app_root, r->id);
	_cleanup_free_ char *config_path =
	    xasprintf("%s/containers/%s/config.json", api->paths.app_root, r->id);
	_cleanup_json_ json_t *state = json_load_file(state_path, 0, NULL);
	_cleanup_json_ json_t *spec = NULL;

	p->container = xstrdup(r->name);
	p->container_id = xstrdup(r->id);
	const char *status = json_string_value(json_object_get(state, "status"));
	pid_t helper = (pid_t)json_integer_value(json_object_get(state, "helperPid"));
	if (status && !strcmp(status, "running") && helper > 0 && ct_pid_running(helper)) {
		p->init_pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
		p->helper_pid = helper;
		if (p->init_pid <= 0)
			return ct_error_set(err, CT_ERR_INTERNAL, 0,
					    "%s says container %s runs, with no pid", state_path,
					    r->name);
	}
	if (read_json(config_path, &spec, err) < 0)
		return ct_error_prefix(err, "reading the bundle of container %s", r->name);
	json_t *ann = json_object_get(spec, "annotations");
	const char *lower = json_string_value(json_object_get(ann, "org.container.rootfs.lower"));
	const char *upper = json_string_value(json_object_get(ann, "org.container.rootfs.upper"));
	const char *work = json_string_value(json_object_get(ann, "org.container.rootfs.work"));
	if (upper && work) {
		p->upper = xstrdup(upper);
		p->work = xstrdup(work);
	}
	/* The list is "top:…:bottom", as overlay's lowerdir takes it. */
	if (lower && *lower) {
		_cleanup_free_ char *copy = xstrdup(lower);
		char *save = NULL;
		for (char *s = strtok_r(copy, ":", &save); s; s = strtok_r(NULL, ":", &save)) {
			p->lowers = reallocarray(p->lowers, p->nlowers + 1, sizeof(*p->lowers));
			if (!p->lowers)
				abort();
			p->lowers[p->nlowers++] = xstrdup(s);
		}
	}
	return 0;
}

static int plan_request(struct apiserver *api, struct ct_request *req, enum archive_op op,
			struct archive_plan *p, struct ct_error *err)
{
	json_t *body = ct_request_body(req), *source = NULL;
	const char *key = NULL, *path = "/", *tar_name = NULL, *type = NULL, *source_name = NULL;
	struct container_record r;

	p->op = op;
	if (ct_json_get_string(body, "id", true, &key, "request body", err) < 0 ||
	    (op != ARCHIVE_EXPORT &&
	     ct_json_get_string(body, "path", true, &path, "request body", err) < 0) ||
	    ct_json_get_string(body, "name", false, &tar_name, "request body", err) < 0 ||
	    ct_json_get_bool(body, "stream", false, &p->stream, "request body", err) < 0 ||
	    ct_json_get_object(body, "source", false, &source, "request body", err) < 0)
		return -1;
	if (op == ARCHIVE_COPY_IN && !p->stream) {
		if (!source)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "request body: \"source\" ({name, type, content}) or "
					    "\"stream\": true is required");
		if (ct_json_get_string(source, "name", true, &source_name, "source", err) < 0 ||
		    ct_json_get_string(source, "type", true, &type, "source", err) < 0 ||
		    ct_json_get_bool(source, "content", false, &p->source_content, "source", err) <
			0)
			return -1;
		if (!*source_name || strchr(source_name, '/') || !strcmp(source_name, ".") ||
		    !strcmp(source_name, ".."))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "source name \"%s\" must be one file name",
					    source_name);
		p->source_name = xstrdup(source_name);
		p->source_dir = !strcmp(type, "directory");
		if (p->source_content && !p->source_dir)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "only a directory's content can be copied");
	}
	if (tar_name &&
	    (strchr(tar_name, '/') || !strcmp(tar_name, ".") || !strcmp(tar_name, "..")))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "name \"%s\" must be one file name, or empty", tar_name);
	p->path = xstrdup(path);
	p->tar_name = tar_name ? xstrdup(tar_name) : NULL;

	/* The stream's descriptor: written for copy out and export, read for copy in. */
	if (ct_request_nfds(req) != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s takes one descriptor (%s the tar stream), not %zu",
				    op_routes[op], op == ARCHIVE_COPY_IN ? "to read" : "to write",
				    ct_request_nfds(req));
	p->data_fd = ct_request_take_fd(req, 0);
	int mode = fcntl(p->data_fd, F_GETFL);
	bool ok = mode >= 0 && (op == ARCHIVE_COPY_IN ? (mode & O_ACCMODE) != O_WRONLY
						      : (mode & O_ACCMODE) != O_RDONLY);
	if (!ok)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the descriptor sent with %s is not open for %s", op_routes[op],
				    op == ARCHIVE_COPY_IN ? "reading" : "writing");

	if (container_db_find(api->db, key, &r, err) < 0)
		return -1;
	int rc = plan_container(api, &r, p, err);
	container_record_free(&r);
	return rc;
}

static void start_job(struct apiserver *api, struct ct_request *req, enum archive_op op)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_plan_ struct archive_plan plan = {.data_fd = -1};
	int pipefd[2];

	if (plan_request(api, req, op, &plan, &err) < 0) {
		ct_request_fail(req, &err);
		return;
	}
	/* A stopped container's overlay is mounted by the copy: no start, delete
	 * or other copy of it meanwhile. */
	const char *busy = containers_busy(plan.container_id);
	if (busy) {
		ct_request_error(req, CT_ERR_CONFLICT, "container %s is %s; try again in a moment",
				 plan.container, busy);
		return;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ct_request_error(req, CT_ERR_INTERNAL, "%s: creating a pipe: %s", op_routes[op],
				 strerror(errno));
		return;
	}
	/* fork, not posix_spawn: the child runs this file's code (it has no program
	 * of its own to exec), and the API server is small and single-threaded here. */
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		child_main(&plan, pipefd[1]);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		ct_request_error(req, CT_ERR_INTERNAL, "%s: fork: %s", op_routes[op],
				 strerror(errno));
		return;
	}
	struct archive_job *j = xcalloc(1, sizeof(*j));
	j->api = api;
	j->req = req;
	j->op = op;
	j->container = xstrdup(plan.container);
	j->container_id = xstrdup(plan.container_id);
	if (plan.init_pid <= 0) {
		containers_set_busy(j->container_id, "being copied to or from");
		j->marked_busy = true;
	}
	j->pid = pid;
	j->status_fd = pipefd[0];
	/* A pidfd, not the pid: the child is reaped elsewhere (waitpid(-1)), after
	 * which its pid may name another process. It can't have been reaped yet: that
	 * happens in the loop. */
	j->pidfd = pidfd_open(pid, 0);
	log_debug("%s for container %s: copy process %d (%s)", op_routes[op], plan.container,
		  (int)pid, plan.init_pid > 0 ? "running" : "stopped");
	ct_set_nonblock(j->status_fd, true);
	j->watch = ct_loop_watch(api->loop, j->status_fd, EPOLLIN, job_status_event, j, &err);
	if (!j->watch) {
		if (j->pidfd >= 0)
			pidfd_send_signal(j->pidfd, SIGKILL, NULL, 0);
		ct_request_fail(req, &err);
		job_free(j);
		return;
	}
	if (j->pidfd >= 0)
		j->watchdog = ct_loop_timer(api->loop, WATCHDOG_MS, job_watchdog, j);
}

static void route_archive(struct ct_request *req, void *data)
{
	start_job(data, req, ARCHIVE_COPY_OUT);
}

static void route_extract(struct ct_request *req, void *data)
{
	start_job(data, req, ARCHIVE_COPY_IN);
}

static void route_export(struct ct_request *req, void *data)
{
	start_job(data, req, ARCHIVE_EXPORT);
}

void routes_archive_register(struct apiserver *api)
{
	ct_server_route(api->server, "container.archive", route_archive, api);
	ct_server_route(api->server, "container.extract", route_extract, api);
	ct_server_route(api->server, "container.export", route_export, api);
}
