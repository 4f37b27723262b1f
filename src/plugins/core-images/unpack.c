/* Layer unpacking: libarchive parses the tar stream, and every entry is written here by
 * hand, relative to the snapshot's directory fd. archive_write_disk is not used: its
 * defences (ARCHIVE_EXTRACT_SECURE_*) work on path strings and have had escapes
 * (CVE-2021-31566: modes and times set through a symlink on fixup), and it knows nothing of
 * overlay whiteouts. Container unpackers got this wrong too: CVE-2020-10696 (buildah wrote
 * "../" entries outside the root), CVE-2021-32760 (containerd changed the mode of a host
 * file through a symlink in a layer). Here no path is ever followed through a symlink:
 * parents are opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), the node itself is
 * created with O_EXCL / mkdirat / symlinkat / mknodat / linkat, which never follow a
 * symlink in their last component, after whatever was there has been removed. */
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define READ_BUFFER_SIZE (128 * 1024)
/* Directory times are set once the whole layer is written (creating a child changes its
 * parent's mtime), so their paths are kept until then. Real layers need a few MiB; a
 * hostile one with a million long directory names is refused rather than eating memory. */
#define MAX_DEFERRED_DIR_BYTES (64u << 20)
/* More xattrs than this on one entry is refused. */
#define MAX_XATTRS 1024
/* Notes past this many per layer are dropped (one more note says so). */
#define MAX_NOTES 16

/* OCI image-spec layer.md, "Whiteouts". */
#define WHITEOUT_PREFIX	     ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE	     ".wh..wh..opq"

static inline void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}
#define _cleanup_archive_read_ __attribute__((cleanup(archive_read_freep)))

struct dir_times {
	char *path;
	struct timespec times[2];
};

struct entry_meta {
	uid_t uid;
	gid_t gid;
	mode_t perm;
	struct timespec times[2];
};

struct unpacker {
	int root_fd;
	struct unpack_options opts;
	struct unpack_stats *stats;
	struct archive *archive;

	unpack_read_fn read_fn;
	void *read_ctx;
	char *read_buf;
	bool read_eof;
	/* Why the stream stopped when the reader (or the stream limit) stopped it; libarchive
	 * only sees "read failed". */
	bool read_failed;
	struct ct_error read_err;

	struct dir_times *dirs;
	size_t n_dirs, cap_dirs, dir_bytes;

	unsigned notes;
	/* The current entry's name made printable, for messages. */
	char quoted[256];
};

/* Quotes a name from the layer for a message. Names are hostile input: control bytes
 * (terminal escapes) and anything outside printable ASCII are shown as \xNN. */
static void quote_name(const char *name, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		/* room for an escape, an ellipsis, the quote and the NUL */
		if (o + 4 + 3 + 2 > size) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

static void note(struct unpacker *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct unpacker *u, const char *fmt, ...)
{
	_cleanup_free_ char *body = NULL, *message = NULL;
	va_list ap;

	if (u->notes++ > MAX_NOTES)
		return;
	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	if (!body)
		return;
	if (u->notes > MAX_NOTES) {
		free(body);
		body = strdup("further notes for this layer are not shown");
		if (!body)
			return;
	}
	if (asprintf(&message, "layer %s of %s: %s%s%s", u->opts.layer ? u->opts.layer : "?",
		     u->opts.image ? u->opts.image : "?", u->quoted[0] ? "entry " : "", u->quoted,
		     u->quoted[0] ? ": " : "") < 0 ||
	    !message)
		return;
	if (u->opts.note) {
		_cleanup_free_ char *full = NULL;
		if (asprintf(&full, "%s%s", message, body) >= 0)
			u->opts.note(u->opts.note_ctx, full);
	} else {
		log_warn("%s%s", message, body);
	}
}

/* openat2 confined to dirfd: no "..", no absolute jumps, no symlinks anywhere in the path,
 * no procfs magic links, no mount crossings (a layer cannot create mounts, so one beneath
 * the snapshot is not ours to write into). Returns the fd or -1 with errno. */
static int open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve =
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Turns a name from the tar stream into the canonical relative path used for every lookup:
 * components joined by single slashes, no "." and no empty components; "" is the snapshot
 * root. Absolute names and ".." components are refused, not cleaned: a layer that has them
 * was made to escape (tar-slip, CVE-2020-10696), and silently rewriting it would hide that. */
static int clean_name(const char *raw, const char *what, char **out, struct ct_error *err)
{
	_cleanup_free_ char *clean = NULL;
	size_t len, o = 0;

	if (!raw || !*raw)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s is empty", what);
	len = strlen(raw);
	if (len >= PATH_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s is %zu bytes long, more than PATH_MAX (%d)", what, len,
				    PATH_MAX);
	if (raw[0] == '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing an absolute %s: layer entries are relative to the "
				    "image root",
				    what);
	if (raw[0] == '.' && raw[1] == '/')
		raw += 2;

	clean = malloc(len + 1);
	if (!clean)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "refusing a %s with a \"..\" component: it would reach "
					    "outside the snapshot",
					    what);
		if (n > NAME_MAX)
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "%s has a component of %zu bytes, more than NAME_MAX (%d)", what, n,
			    NAME_MAX);
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o)
				clean[o++] = '/';
			memcpy(clean + o, p, n);
			o += n;
		}
		p = *end ? end + 1 : end;
	}
	clean[o] = '\0';
	*out = move_ptr(clean);
	return 0;
}

/* Splits a canonical path in place into its directory ("" for the root) and last name. */
static void split_path(char *path, const char **dir, const char **base)
{
	char *slash = strrchr(path, '/');

	if (slash) {
		*slash = '\0';
		*dir = path;
		*base = slash + 1;
	} else {
		*dir = "";
		*base = path;
	}
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Removes name in parent, recursively when it is a directory. Never follows a symlink:
 * unlinkat removes the link itself and subdirectories are opened with O_NOFOLLOW. */
static int remove_tree(int parent, const char *name)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -1;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (remove_tree(dirfd(d), de->d_name) < 0)
			return -1;
	}
	if (errno)
		return -1;
	return unlinkat(parent, name, AT_REMOVEDIR);
}

/* Makes room for a new non-directory: an earlier entry of the same name (a file, a symlink,
 * a whole directory) is removed, so the O_EXCL create, symlinkat, mknodat or linkat that
 * follows makes a fresh inode instead of writing through whatever was there. */
static int clear_slot(int parent, const char *base, struct ct_error *err)
{
	if (remove_tree(parent, base) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "removing the earlier entry of this name");
	return 0;
}

static int set_opaque(struct unpacker *u, int dirfd, struct ct_error *err)
{
	/* Rootless overlay mounts use "userxattr" and read user.overlay.* (Linux 5.11). */
	const char *name = u->opts.rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";

	if (fsetxattr(dirfd, name, "y", 1, 0) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "marking the directory opaque (%s); the snapshot filesystem "
				      "must support it for overlay",
				      name);
	return 0;
}

/* Makes sure name in parent is a directory and opens it O_RDONLY. A directory already there
 * is kept with its contents (a layer may list a directory twice, and its parent implicitly
 * before that). A whiteout from earlier in this layer becomes an opaque directory: "remove
 * the lower one, then create this one" is what an opaque directory means to overlayfs.
 * Anything else there is replaced. */
static int ensure_dir(struct unpacker *u, int parent, const char *base, bool *created,
		      struct ct_error *err)
{
	_cleanup_close_ int fd = -1;
	bool opaque = false;
	struct stat st;

	*created = true;
	if (mkdirat(parent, base, 0700) < 0) {
		if (errno != EEXIST)
			return ct_error_errno(err, CT_ERR_INTERNAL, "creating the directory");
		if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting the earlier entry");
		if (S_ISDIR(st.st_mode)) {
			*created = false;
		} else {
			opaque = !u->opts.literal_names && is_whiteout(&st);
			if (unlinkat(parent, base, 0) < 0 || mkdirat(parent, base, 0700) < 0)
				return ct_error_errno(
				    err, CT_ERR_INTERNAL,
				    "replacing the earlier entry with a directory");
		}
	}
	fd = open_beneath(parent, base, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening the directory");
	if (opaque && set_opaque(u, fd, err) < 0)
		return -1;
	return move_fd(fd);
}

/* Opens directory dir (canonical, "" for the root) as O_PATH, one component at a time,
 * refusing symlinks. With create, missing directories are made 0755 root-owned, as docker
 * and containerd do for parents a layer leaves out. */
static int walk_dir(struct unpacker *u, const char *dir, bool create, struct ct_error *err)
{
	_cleanup_free_ char *copy = strdup(dir);
	_cleanup_close_ int cur = open_beneath(u->root_fd, ".", O_PATH | O_DIRECTORY);
	char *save = NULL, q[256];

	if (!copy)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	if (cur < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening the snapshot directory");

	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		/* the path so far, for messages */
		size_t upto = (size_t)(comp - copy) + strlen(comp);
		_cleanup_free_ char *sofar = NULL;
		int next = open_beneath(cur, comp, O_PATH | O_DIRECTORY);
		int saved_errno = errno;

		sofar = strndup(dir, upto);
		if (!sofar) {
			if (next >= 0)
				close(next);
			return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
		}
		quote_name(sofar, q, sizeof(q));
		errno = saved_errno;
		if (next < 0 && create && (errno == ENOENT || errno == ENOTDIR)) {
			struct stat st;
			bool created;

			/* A non-directory parent is only replaced when it is a whiteout. */
			if (errno == ENOTDIR &&
			    (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0 || !is_whiteout(&st)))
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
						    "%s is not a directory", q);
			next = ensure_dir(u, cur, comp, &created, err);
			if (next < 0)
				return ct_error_prefix(err, "parent directory %s", q);
			/* mkdirat's mode is cut by the umask; parents must be traversable */
			if (created && fchmod(next, 0755) < 0) {
				close(next);
				return ct_error_errno(err, CT_ERR_INTERNAL,
						      "setting the mode of parent directory %s", q);
			}
		}
		if (next < 0) {
			switch (errno) {
			case ELOOP:
				return ct_error_set(
				    err, CT_ERR_INVALID_ARGUMENT, ELOOP,
				    "refusing to go through symlink %s: entries are "
				    "written beneath the snapshot, never through a "
				    "symlink",
				    q);
			case ENOTDIR:
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
						    "%s is not a directory", q);
			case ENOENT:
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOENT,
						    "%s does not exist", q);
			case EXDEV:
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EXDEV,
						    "refusing to cross the mount point at %s", q);
			case ENOSYS:
				return ct_error_set(
				    err, CT_ERR_UNSUPPORTED, ENOSYS,
				    "this kernel has no openat2 (Linux 5.6 or later "
				    "is needed to unpack layers safely)");
			default:
				return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", q);
			}
		}
		close(cur);
		cur = next;
	}
	return move_fd(cur);
}

static int open_dir(struct unpacker *u, const char *dir, bool create, struct ct_error *err)
{
	/* The whole path in one call first: it is almost always there already. */
	int fd = open_beneath(u->root_fd, *dir ? dir : ".", O_PATH | O_DIRECTORY);

	if (fd >= 0)
		return fd;
	return walk_dir(u, dir, create, err);
}

/* Reads owner, permissions and times; refuses ids chown(2) can't take. */
static int read_meta(struct archive_entry *e, struct entry_meta *m, struct ct_error *err)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

	/* (uid_t)-1 means "leave unchanged" to chown(2), so it can't name an owner. */
	if (uid < 0 || uid >= (la_int64_t)UINT32_MAX || gid < 0 || gid >= (la_int64_t)UINT32_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing owner %lld:%lld (not a valid uid:gid)",
				    (long long)uid, (long long)gid);
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	m->perm = (mode_t)(archive_entry_perm(e) & 07777);

	m->times[1].tv_nsec = UTIME_OMIT;
	if (archive_entry_mtime_is_set(e)) {
		m->times[1].tv_sec = (time_t)archive_entry_mtime(e);
		m->times[1].tv_nsec = archive_entry_mtime_nsec(e);
	}
	m->times[0] = m->times[1];
	if (archive_entry_atime_is_set(e)) {
		m->times[0].tv_sec = (time_t)archive_entry_atime(e);
		m->times[0].tv_nsec = archive_entry_atime_nsec(e);
	}
	for (int i = 0; i < 2; i++)
		if (m->times[i].tv_nsec != UTIME_OMIT &&
		    (m->times[i].tv_nsec < 0 || m->times[i].tv_nsec >= 1000000000))
			m->times[i].tv_nsec = 0;
	return 0;
}

/* fd is the node itself (O_PATH is fine). */
static int set_owner(struct unpacker *u, int fd, const struct entry_meta *m, struct ct_error *err)
{
	if (fchownat(fd, "", m->uid, m->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* Rootless: EINVAL is an id outside our user namespace's map, EPERM no CAP_CHOWN at
	 * all. The node stays owned by the unpacking user, as with containers/storage's
	 * ignore_chown_errors; the count tells the caller it happened. */
	if (u->opts.rootless && (errno == EINVAL || errno == EPERM)) {
		u->stats->owners_skipped++;
		return 0;
	}
	return ct_error_errno(err, CT_ERR_INTERNAL, "setting owner %u:%u", (unsigned)m->uid,
			      (unsigned)m->gid);
}

static bool xattr_kept(const char *name)
{
	/* overlayfs reads its own xattrs from lower layers (redirect, metacopy, origin,
	 * whiteout, opaque): taken from an image they would let a layer steer the merged view,
	 * e.g. a metacopy file whose data comes from another path. Only .wh. entries become
	 * overlay markers. */
	if (!strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13))
		return false;
	return !strncmp(name, "user.", 5) || !strncmp(name, "trusted.", 8) ||
	       !strcmp(name, "security.capability");
}

/* Sets the entry's xattrs on fd. A regular file or directory fd takes fsetxattr; other nodes
 * are only held by an O_PATH fd, which fsetxattr refuses, so they go through the
 * /proc/self/fd magic link, which lands on the node itself (a symlink is not followed
 * further). */
static int set_xattrs(struct unpacker *u, struct archive_entry *e, int fd, mode_t type,
		      struct ct_error *err)
{
	struct xattr {
		const char *name;
		const void *value;
		size_t size;
	};
	_cleanup_free_ struct xattr *list = NULL;
	bool via_proc = type != S_IFREG && type != S_IFDIR;
	char proc_path[64], q[128];
	int count = archive_entry_xattr_reset(e), n = 0;

	if (count <= 0)
		return 0;
	/* A few KiB of xattrs fit in an inode; thousands only make the dedup below slow. */
	if (count > MAX_XATTRS)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing an entry with %d xattrs (at most %d)", count,
				    MAX_XATTRS);
	list = calloc((size_t)count, sizeof(*list));
	if (!list)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	while (n < count && archive_entry_xattr_next(e, &list[n].name, &list[n].value,
						     &list[n].size) == ARCHIVE_OK)
		n++;

	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	for (int i = 0; i < n; i++) {
		const char *name = list[i].name;
		bool later = false;
		int r;

		if (!name)
			continue;
		/* libarchive's writer stores each xattr twice (LIBARCHIVE.xattr. and
		 * SCHILY.xattr.) and the reader returns both: the last one of a name counts. */
		for (int j = i + 1; j < n && !later; j++)
			later = list[j].name && !strcmp(list[j].name, name);
		if (later)
			continue;
		quote_name(name, q, sizeof(q));
		if (!xattr_kept(name)) {
			u->stats->xattrs_skipped++;
			note(u,
			     "xattr %s not kept (only user.*, trusted.* and security.capability "
			     "are, and no overlay ones)",
			     q);
			continue;
		}
		r = via_proc ? setxattr(proc_path, name, list[i].value, list[i].size, 0)
			     : fsetxattr(fd, name, list[i].value, list[i].size, 0);
		if (r == 0)
			continue;
		/* Not fatal: the snapshot's filesystem lacks the namespace (ENOTSUP), a rootless
		 * user may not set trusted.* or security.capability (EPERM), and the kernel
		 * allows user.* only on regular files and directories (EPERM). */
		if (errno == ENOTSUP || errno == EOPNOTSUPP ||
		    (errno == EPERM && (u->opts.rootless || via_proc))) {
			u->stats->xattrs_skipped++;
			note(u, "xattr %s not kept: %s", q, strerror(errno));
			continue;
		}
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting xattr %s", q);
	}
	return 0;
}

/* Owner, then mode (chown clears setuid/setgid, and the kernel drops security.capability
 * on chown), then xattrs. Times are left to the caller. */
static int set_meta(struct unpacker *u, struct archive_entry *e, int fd, mode_t type,
		    const struct entry_meta *m, struct ct_error *err)
{
	if (set_owner(u, fd, m, err) < 0)
		return -1;
	if (type == S_IFREG || type == S_IFDIR) {
		if (fchmod(fd, m->perm) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "setting mode %04o", m->perm);
	} else if (type != S_IFLNK) {
		char proc_path[64];

		snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
		if (chmod(proc_path, m->perm) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "setting mode %04o", m->perm);
	}
	return set_xattrs(u, e, fd, type, err);
}

static int defer_dir_times(struct unpacker *u, const char *path, const struct entry_meta *m,
			   struct ct_error *err)
{
	size_t len = strlen(path) + 1;

	if (u->dir_bytes + len > MAX_DEFERRED_DIR_BYTES)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing a layer with more than %u MiB of directory names",
				    MAX_DEFERRED_DIR_BYTES >> 20);
	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		struct dir_times *dirs = reallocarray(u->dirs, cap, sizeof(*dirs));

		if (!dirs)
			return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
		u->dirs = dirs;
		u->cap_dirs = cap;
	}
	u->dirs[u->n_dirs].path = strdup(path);
	if (!u->dirs[u->n_dirs].path)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	memcpy(u->dirs[u->n_dirs].times, m->times, sizeof(m->times));
	u->n_dirs++;
	u->dir_bytes += len;
	return 0;
}

static int apply_dir_times(struct unpacker *u, struct ct_error *err)
{
	for (size_t i = 0; i < u->n_dirs; i++) {
		_cleanup_free_ char *path = strdup(u->dirs[i].path);
		_cleanup_close_ int parent = -1;
		const char *dir, *base;
		char q[256];

		if (!path)
			return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
		quote_name(u->dirs[i].path, q, sizeof(q));
		if (!*path) {
			_cleanup_close_ int root =
			    open_beneath(u->root_fd, ".", O_RDONLY | O_DIRECTORY);

			if (root < 0 || futimens(root, u->dirs[i].times) < 0)
				return ct_error_errno(err, CT_ERR_INTERNAL,
						      "setting the times of the snapshot root");
			continue;
		}
		split_path(path, &dir, &base);
		parent = open_beneath(u->root_fd, *dir ? dir : ".", O_PATH | O_DIRECTORY);
		/* A later entry replaced the directory or a parent: nothing to set. */
		if (parent < 0)
			continue;
		if (utimensat(parent, base, u->dirs[i].times, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT)
			return ct_error_errno(err, CT_ERR_INTERNAL, "setting the times of %s", q);
	}
	return 0;
}

/* Reads from the caller's reader, counting the stream against max_bytes: a decompression
 * bomb stops here, whatever the entries declare. */
static ssize_t read_stream(struct unpacker *u, void *buf, size_t len)
{
	ssize_t n;

	if (u->read_failed)
		return -1;
	if (u->read_eof)
		return 0;
	n = u->read_fn(u->read_ctx, buf, len, &u->read_err);
	if (n < 0) {
		if (!u->read_err.message)
			ct_error_set(&u->read_err, CT_ERR_INTERNAL, 0, "reading the layer failed");
		u->read_failed = true;
		return -1;
	}
	if ((size_t)n > len) {
		ct_error_set(&u->read_err, CT_ERR_INTERNAL, 0,
			     "the layer reader returned %zd bytes for a %zu-byte buffer", n, len);
		u->read_failed = true;
		return -1;
	}
	if (n == 0)
		u->read_eof = true;
	u->stats->stream_bytes += (uint64_t)n;
	if (u->stats->stream_bytes > u->opts.max_bytes) {
		ct_error_set(&u->read_err, CT_ERR_INVALID_ARGUMENT, 0,
			     "refusing a layer whose tar stream is larger than the limit of %llu "
			     "bytes",
			     (unsigned long long)u->opts.max_bytes);
		u->read_failed = true;
		return -1;
	}
	return n;
}

static la_ssize_t archive_read_cb(struct archive *a, void *data, const void **buf)
{
	struct unpacker *u = data;
	ssize_t n = read_stream(u, u->read_buf, READ_BUFFER_SIZE);

	if (n < 0) {
		archive_set_error(a, EIO, "the layer reader failed");
		return ARCHIVE_FATAL;
	}
	*buf = u->read_buf;
	return n;
}

static int take_read_error(struct unpacker *u, struct ct_error *err)
{
	if (err)
		ct_error_move(err, &u->read_err);
	return -1;
}

/* The error for a libarchive failure: the reader's own error when it stopped the stream,
 * otherwise a malformed tar stream. */
static int archive_failure(struct unpacker *u, const char *doing, struct ct_error *err)
{
	const char *why = archive_error_string(u->archive);

	if (u->read_failed)
		return take_read_error(u, err);
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, archive_errno(u->archive),
			    "%s: malformed tar stream: %s%s", doing, why ? why : "unknown error",
			    why && strstr(why, "Unrecognized archive format")
				? " (is the layer still compressed?)"
				: "");
}

static int write_regular(struct unpacker *u, struct archive_entry *e, int parent, const char *base,
			 const struct entry_meta *m, struct ct_error *err)
{
	la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	_cleanup_close_ int fd = -1;
	uint64_t end = 0;

	if (size < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "negative size");
	/* Checked on the declared size, before anything is written; a sparse file's holes
	 * count, so a tiny stream can't declare terabytes. */
	if ((uint64_t)size > u->opts.max_bytes - u->stats->bytes)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing a layer whose files add up to more than the limit of "
				    "%llu bytes",
				    (unsigned long long)u->opts.max_bytes);
	u->stats->bytes += (uint64_t)size;

	/* 0600 until owner and mode are set, so nobody opens it half made. */
	fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (clear_slot(parent, base, err) < 0)
			return -1;
		fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
	}
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating the file");

	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(u->archive, &buf, &len, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return archive_failure(u, "reading the file's data", err);
		if (off < 0 || off > size || len > (uint64_t)(size - off))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "file data past the declared size of %lld bytes",
					    (long long)size);
		for (size_t done = 0; done < len;) {
			ssize_t w = pwrite(fd, (const char *)buf + done, len - done,
					   (off_t)off + (off_t)done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return ct_error_errno(err, CT_ERR_INTERNAL, "writing the file");
			done += (size_t)w;
		}
		if ((uint64_t)off + len > end)
			end = (uint64_t)off + len;
	}
	/* A sparse file may end in a hole. */
	if (end < (uint64_t)size && ftruncate(fd, (off_t)size) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the file's size");

	if (set_meta(u, e, fd, S_IFREG, m, err) < 0)
		return -1;
	if (futimens(fd, m->times) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the file's times");
	return 0;
}

static int write_dir(struct unpacker *u, struct archive_entry *e, int parent, const char *base,
		     const char *path, const struct entry_meta *m, struct ct_error *err)
{
	_cleanup_close_ int fd = -1;
	bool created;

	if (*path)
		fd = ensure_dir(u, parent, base, &created, err);
	else if ((fd = open_beneath(u->root_fd, ".", O_RDONLY | O_DIRECTORY)) < 0)
		ct_error_errno(err, CT_ERR_INTERNAL, "opening the snapshot root");
	if (fd < 0)
		return -1;
	if (set_meta(u, e, fd, S_IFDIR, m, err) < 0)
		return -1;
	return defer_dir_times(u, path, m, err);
}

/* Symlinks, devices and fifos: created by name (the call never follows a symlink in its last
 * component), then held by an O_PATH fd for the metadata. */
static int write_special(struct unpacker *u, struct archive_entry *e, int parent, const char *base,
			 mode_t type, const struct entry_meta *m, struct ct_error *err)
{
	const char *target = archive_entry_symlink(e);
	dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	_cleanup_close_ int fd = -1;
	int r = -1;

	if (type == S_IFLNK && (!target || !*target))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "symlink with an empty target");
	if ((type == S_IFCHR || type == S_IFBLK) && u->opts.rootless)
		return ct_error_set(err, CT_ERR_PERMISSION_DENIED, EPERM,
				    "refusing %s device %u:%u: rootless unpacking does not create "
				    "device nodes",
				    type == S_IFCHR ? "character" : "block", major(dev),
				    minor(dev));

	for (int attempt = 0; attempt < 2; attempt++) {
		if (type == S_IFLNK)
			r = symlinkat(target, parent, base);
		else
			r = mknodat(parent, base, type | 0600, type == S_IFIFO ? 0 : dev);
		if (r == 0 || errno != EEXIST || attempt)
			break;
		if (clear_slot(parent, base, err) < 0)
			return -1;
	}
	if (r < 0) {
		if (errno == ENAMETOOLONG)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, errno,
					    "symlink target too long");
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating the %s",
				      type == S_IFLNK ? "symlink" : "node");
	}
	fd = openat(parent, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening the new node");
	if (set_meta(u, e, fd, type, m, err) < 0)
		return -1;
	if (utimensat(parent, base, m->times, AT_SYMLINK_NOFOLLOW) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the times");
	return 0;
}

/* A hardlink's target is an earlier entry, resolved beneath the snapshot like any name, and a
 * target reached through a symlink is refused: a link to a host file would hand the
 * container that file (to read, or to write when it is writable). */
static int write_hardlink(struct unpacker *u, struct archive_entry *e, int parent, const char *base,
			  const char *path, struct ct_error *err)
{
	_cleanup_free_ char *src = NULL;
	_cleanup_close_ int src_parent = -1;
	const char *src_dir, *src_base;
	struct stat st;
	char q[256];
	int r;

	if (clean_name(archive_entry_hardlink(e), "hardlink target", &src, err) < 0)
		return -1;
	quote_name(src, q, sizeof(q));
	if (!*src)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing a hardlink to the snapshot root");
	/* Removing the destination first would remove the target too. */
	if (!strcmp(src, path))
		return 0;
	split_path(src, &src_dir, &src_base);
	src_parent = open_dir(u, src_dir, false, err);
	if (src_parent < 0)
		return ct_error_prefix(err, "hardlink target %s", q);
	if (fstatat(src_parent, src_base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOENT,
					    "hardlink target %s is not in the layer", q);
		return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting hardlink target %s", q);
	}
	if (S_ISDIR(st.st_mode))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, EPERM,
				    "refusing a hardlink to directory %s", q);

	/* flags 0: a symlink target is linked itself, never followed. */
	r = linkat(src_parent, src_base, parent, base, 0);
	if (r < 0 && errno == EEXIST) {
		if (clear_slot(parent, base, err) < 0)
			return -1;
		r = linkat(src_parent, src_base, parent, base, 0);
	}
	if (r < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "linking to %s", q);
	return 0;
}

/* ".wh.NAME": NAME from a lower layer is deleted. An entry of that name earlier in this
 * layer stays: whiteouts apply only to lower layers (image-spec layer.md). */
static int write_whiteout(struct unpacker *u, int parent, const char *name, struct ct_error *err)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting the whited-out name");
	/* Unprivileged users may make this one device since Linux 5.8 (a3c751a50fe6, "vfs:
	 * allow unprivileged whiteout creation"), so rootless layers get them too. */
	if (mknodat(parent, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating the whiteout");
	u->stats->whiteouts++;
	return 0;
}

static int unpack_entry(struct unpacker *u, struct archive_entry *e, struct ct_error *err)
{
	_cleanup_free_ char *path = NULL, *full = NULL;
	_cleanup_close_ int parent = -1;
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	const char *dir, *base;
	struct entry_meta m;

	if (clean_name(archive_entry_pathname(e), "name", &path, err) < 0)
		return -1;
	full = strdup(path);
	if (!full)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	split_path(path, &dir, &base);

	if (!*full && (hardlink || type != S_IFDIR))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "refusing to replace the snapshot root with a non-directory");

	/* Whiteout names. A ".wh." component can't be a directory: it is a marker, and a
	 * bare ".wh." or ".wh.." would white out the parent or the directory itself. */
	for (const char *p = u->opts.literal_names ? "" : dir; *p;) {
		const char *end = strchrnul(p, '/');

		if (!strncmp(p, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)))
			return 0; /* aufs metadata (.wh..wh.plnk/…): docker skips it too */
		if (!strncmp(p, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "refusing a whiteout name used as a directory");
		p = *end ? end + 1 : end;
	}
	if (!u->opts.literal_names && !strcmp(base, WHITEOUT_OPAQUE)) {
		_cleanup_close_ int dirfd = -1;

		parent = open_dir(u, dir, true, err);
		if (parent < 0)
			return -1;
		dirfd = open_beneath(parent, ".", O_RDONLY | O_DIRECTORY);
		if (dirfd < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening the opaque directory");
		if (set_opaque(u, dirfd, err) < 0)
			return -1;
		u->stats->whiteouts++;
		return 0;
	}
	if (!u->opts.literal_names && !strncmp(base, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)))
		return 0;
	if (!u->opts.literal_names && !strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX))) {
		const char *name = base + strlen(WHITEOUT_PREFIX);

		if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "refusing a whiteout that names no entry");
		parent = open_dir(u, dir, true, err);
		if (parent < 0)
			return -1;
		return write_whiteout(u, parent, name, err);
	}

	parent = open_dir(u, dir, true, err);
	if (parent < 0)
		return -1;
	if (hardlink)
		return write_hardlink(u, e, parent, base, full, err);
	if (read_meta(e, &m, err) < 0)
		return -1;
	switch (type) {
	case S_IFREG:
		return write_regular(u, e, parent, base, &m, err);
	case S_IFDIR:
		return write_dir(u, e, parent, base, full, &m, err);
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		return write_special(u, e, parent, base, type, &m, err);
	default:
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "unsupported entry type %#o (a socket?)", (unsigned)type);
	}
}

static int unpack_stream(struct unpacker *u, struct ct_error *err)
{
	_cleanup_archive_read_ struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r;

	if (!a)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	u->archive = a;
	/* tar only (ustar, pax, gnutar): no other format's parser is exposed to the layer. */
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(a) != ARCHIVE_OK)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "setting up libarchive: %s",
				    archive_error_string(a));
	if (archive_read_open(a, u, NULL, archive_read_cb, NULL) != ARCHIVE_OK)
		return archive_failure(u, "opening the tar stream", err);

	for (;;) {
		u->quoted[0] = '\0';
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return archive_failure(u, "reading the next entry", err);
		quote_name(archive_entry_pathname(e) ? archive_entry_pathname(e) : "", u->quoted,
			   sizeof(u->quoted));
		/* Tar names are bytes, and bytes are what the kernel takes: libarchive warns
		 * that a UTF-8 pax name doesn't convert to the C locale, then hands over the
		 * bytes unchanged, which is right. Other warnings are worth a note. */
		if (r == ARCHIVE_WARN && archive_error_string(a) &&
		    !strstr(archive_error_string(a), "can't be converted"))
			note(u, "libarchive: %s", archive_error_string(a));
		if (u->stats->entries >= u->opts.max_entries)
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "entry %s: refusing a layer with more than %llu entries", u->quoted,
			    (unsigned long long)u->opts.max_entries);
		u->stats->entries++;
		if (unpack_entry(u, e, err) < 0)
			return ct_error_prefix(err, "entry %s", u->quoted);
	}
	u->quoted[0] = '\0';

	/* The tar end-of-archive blocks are not the end of the blob: read the rest so the
	 * caller's digest sees every byte, as containerd does after applying a layer. */
	for (;;) {
		ssize_t n = read_stream(u, u->read_buf, READ_BUFFER_SIZE);

		if (n < 0) {
			take_read_error(u, err);
			return ct_error_prefix(err, "reading past the end of the tar stream");
		}
		if (n == 0)
			break;
	}
	return apply_dir_times(u, err);
}

static void unpacker_free(struct unpacker *u)
{
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	free(u->read_buf);
	ct_error_clear(&u->read_err);
}

int unpack_layer_from_reader(unpack_read_fn read_fn, void *read_ctx, int snapshot_dirfd,
			     const struct unpack_options *opts, struct unpack_stats *stats,
			     struct ct_error *err)
{
	struct unpack_stats local_stats;
	struct unpacker u = {
	    .root_fd = snapshot_dirfd,
	    .read_fn = read_fn,
	    .read_ctx = read_ctx,
	    .read_err = CT_ERROR_INIT,
	};
	struct stat st;
	int r;

	if (opts)
		u.opts = *opts;
	if (!u.opts.max_bytes)
		u.opts.max_bytes = UNPACK_DEFAULT_MAX_BYTES;
	if (!u.opts.max_entries)
		u.opts.max_entries = UNPACK_DEFAULT_MAX_ENTRIES;
	u.stats = stats ? stats : &local_stats;
	memset(u.stats, 0, sizeof(*u.stats));

	if (!read_fn)
		r = ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "no layer reader");
	else if (fstat(snapshot_dirfd, &st) < 0)
		r = ct_error_errno(err, CT_ERR_INVALID_ARGUMENT,
				   "inspecting the snapshot directory");
	else if (!S_ISDIR(st.st_mode))
		r = ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
				 "the snapshot is not a directory");
	else if (!(u.read_buf = malloc(READ_BUFFER_SIZE)))
		r = ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	else
		r = unpack_stream(&u, err);
	unpacker_free(&u);
	if (r >= 0)
		return 0;

	if (u.opts.layer && u.opts.image)
		return ct_error_prefix(err, "unpacking layer %s of %s", u.opts.layer, u.opts.image);
	if (u.opts.layer)
		return ct_error_prefix(err, "unpacking layer %s", u.opts.layer);
	if (u.opts.image)
		return ct_error_prefix(err, "unpacking a layer of %s", u.opts.image);
	return ct_error_prefix(err, "unpacking a layer");
}

static ssize_t fd_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading the layer");
	}
}

int unpack_layer_from_fd(int tar_fd, int snapshot_dirfd, const struct unpack_options *opts,
			 struct unpack_stats *stats, struct ct_error *err)
{
	return unpack_layer_from_reader(fd_read, &tar_fd, snapshot_dirfd, opts, stats, err);
}
