/* A directory tree as a tar stream: see tar_tree.h. Every node is reached from its
 * parent's directory fd by one name, with AT_SYMLINK_NOFOLLOW or O_NOFOLLOW; a path
 * string is never resolved, so a symlink planted in the tree (a container's
 * `/tmp/x -> /etc`) is stored as a link and never read through. A tree that
 * changes while it is read (a running container) gives a tar of some mix of old
 * and new, never anything from outside the tree: nodes that vanish are skipped, a
 * file that shrinks is padded with zeros and one that grows is cut at the size its
 * header gave. */
#include "tar_tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define READ_BUFFER_SIZE (128 * 1024)
/* Each level of the walk holds its directory open; a tree deeper than this is
 * refused rather than running out of descriptors halfway. */
#define MAX_DEPTH 256
/* A node replaced between inspecting and opening it is looked at again, this often. */
#define MAX_RETRIES 3

struct tar_tree {
	struct archive *archive;
	struct archive_entry_linkresolver *links;
	char *buf;
	struct tar_tree_stats stats;
	unsigned depth;
};

static inline void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}
#define _cleanup_entry_ __attribute__((cleanup(archive_entry_freep)))

const char *tar_tree_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "directory";
	case S_IFREG:
		return "file";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
	case S_IFBLK:
		return "device";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	default:
		return "unknown";
	}
}

struct tar_tree *tar_tree_new(int out_fd, struct ct_error *err)
{
	struct tar_tree *t = xcalloc(1, sizeof(*t));

	t->archive = archive_write_new();
	t->links = archive_entry_linkresolver_new();
	t->buf = malloc(READ_BUFFER_SIZE);
	if (!t->archive || !t->links || !t->buf) {
		ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
		tar_tree_free(t);
		return NULL;
	}
	/* pax: names and link targets of any length, uids past 2^21, nanosecond mtimes. */
	if (archive_write_set_format_pax_restricted(t->archive) != ARCHIVE_OK ||
	    archive_write_add_filter_none(t->archive) != ARCHIVE_OK ||
	    archive_write_open_fd(t->archive, out_fd) != ARCHIVE_OK) {
		ct_error_set(err, CT_ERR_INTERNAL, archive_errno(t->archive),
			     "setting up the tar writer: %s", archive_error_string(t->archive));
		tar_tree_free(t);
		return NULL;
	}
	archive_entry_linkresolver_set_strategy(t->links, archive_format(t->archive));
	return t;
}

void tar_tree_free(struct tar_tree *t)
{
	if (!t)
		return;
	if (t->archive)
		archive_write_free(t->archive);
	if (t->links)
		archive_entry_linkresolver_free(t->links);
	free(t->buf);
	free(t);
}

const struct tar_tree_stats *tar_tree_stats(const struct tar_tree *t)
{
	return &t->stats;
}

/* A failed write to the stream: the reader went away (EPIPE) or the disk is full. */
static int write_failure(struct tar_tree *t, const char *tar_name, struct ct_error *err)
{
	int e = archive_errno(t->archive);
	const char *why = archive_error_string(t->archive);

	return ct_error_set(err, CT_ERR_INTERNAL, e, "writing %s to the tar stream: %s",
			    *tar_name ? tar_name : ".",
			    why ? why : (e ? strerror(e) : "unknown error"));
}

static struct archive_entry *entry_for(const char *tar_name, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		return NULL;
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, tar_name);
	/* docker's tars carry the mtime only; atime and ctime would make every copy of
	 * the same tree differ. */
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	if (!S_ISREG(st->st_mode))
		archive_entry_set_size(e, 0);
	return e;
}

static int write_header(struct tar_tree *t, struct archive_entry *e, const char *tar_name,
			struct ct_error *err)
{
	/* ARCHIVE_WARN: a name that isn't UTF-8 is stored as its bytes (hdrcharset=BINARY),
	 * which is what a Linux file name is. */
	int r = archive_write_header(t->archive, e);

	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return write_failure(t, tar_name, err);
	t->stats.entries++;
	return 0;
}

/* Symlinks, devices, fifos: a header and no data. */
static int add_special(struct tar_tree *t, int parent, const char *name, const char *tar_name,
		       const struct stat *st, struct ct_error *err)
{
	_cleanup_entry_ struct archive_entry *e = entry_for(tar_name, st);
	struct archive_entry *spare = NULL;

	if (!e)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(parent, name, target, sizeof(target));

		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading symlink %s", tar_name);
		if ((size_t)n >= sizeof(target))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
					    "symlink %s has a target longer than PATH_MAX",
					    tar_name);
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	archive_entry_linkify(t->links, &e, &spare);
	return write_header(t, e, tar_name, err);
}

static void add_capability(int fd, struct archive_entry *e)
{
	char value[256];
	ssize_t n = fgetxattr(fd, "security.capability", value, sizeof(value));

	if (n > 0)
		archive_entry_xattr_add_entry(e, "security.capability", value, (size_t)n);
}

/* fd is the open file, st its fstat. */
static int add_file(struct tar_tree *t, int fd, const char *tar_name, const struct stat *st,
		    struct ct_error *err)
{
	_cleanup_entry_ struct archive_entry *e = entry_for(tar_name, st);
	struct archive_entry *spare = NULL;
	off_t left = st->st_size;

	if (!e)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	add_capability(fd, e);
	/* A second name of a file already in the stream becomes a hardlink entry with
	 * no data (its size is reset to 0). */
	archive_entry_linkify(t->links, &e, &spare);
	if (write_header(t, e, tar_name, err) < 0)
		return -1;
	if (archive_entry_hardlink(e))
		return 0;
	while (left > 0) {
		size_t want = left < READ_BUFFER_SIZE ? (size_t)left : READ_BUFFER_SIZE;
		ssize_t n = read(fd, t->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading %s", tar_name);
		if (n == 0)
			break; /* shrank since its header: libarchive pads with zeros */
		if (archive_write_data(t->archive, t->buf, (size_t)n) < 0)
			return write_failure(t, tar_name, err);
		left -= n;
		t->stats.bytes += (uint64_t)n;
	}
	if (archive_write_finish_entry(t->archive) != ARCHIVE_OK)
		return write_failure(t, tar_name, err);
	return 0;
}

/* The kernel's views (a running container's /proc, /sys, cgroups) are no files
 * to copy: their files claim size 0, and some block or never end. Below the
 * top, such a folder is archived empty, as tar --one-file-system would leave it. */
static bool is_kernel_view(int fd)
{
	static const long types[] = {
	    PROC_SUPER_MAGIC, SYSFS_MAGIC,    CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC,
	    DEBUGFS_MAGIC,    TRACEFS_MAGIC,  SECURITYFS_MAGIC,	  BPF_FS_MAGIC,
	    PSTOREFS_MAGIC,   EFIVARFS_MAGIC,
	};
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if ((long)sfs.f_type == types[i])
			return true;
	return false;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int add_node(struct tar_tree *t, int parent, const char *name, const char *tar_name,
		    bool top, struct ct_error *err);

/* fd is the open directory (taken), st its fstat. Children are added in name
 * order, so the same tree always gives the same stream. */
static int add_dir(struct tar_tree *t, int fd, const char *tar_name, const struct stat *st,
		   bool top, struct ct_error *err)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading directory %s",
				      *tar_name ? tar_name : ".");
	}
	if (*tar_name) {
		_cleanup_entry_ struct archive_entry *e = entry_for(tar_name, st);

		if (!e)
			return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
		if (write_header(t, e, tar_name, err) < 0)
			return -1;
	}
	if (!top && is_kernel_view(dirfd(d))) {
		t->stats.skipped++;
		return 0;
	}
	if (t->depth >= MAX_DEPTH)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, ELOOP,
				    "%s is nested more than %d directories deep", tar_name,
				    MAX_DEPTH);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			char **bigger = reallocarray(names, cap, sizeof(*names));
			if (!bigger) {
				free_names(names, n);
				return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
			}
			names = bigger;
		}
		names[n++] = xstrdup(de->d_name);
	}
	if (errno) {
		free_names(names, n);
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading directory %s",
				      *tar_name ? tar_name : ".");
	}
	if (n)
		qsort(names, n, sizeof(*names), compare_names);
	t->depth++;
	for (size_t i = 0; i < n && rc == 0; i++) {
		_cleanup_free_ char *child =
		    *tar_name ? xasprintf("%s/%s", tar_name, names[i]) : xstrdup(names[i]);
		rc = add_node(t, dirfd(d), names[i], child, false, err);
	}
	t->depth--;
	free_names(names, n);
	return rc;
}

static int add_node(struct tar_tree *t, int parent, const char *name, const char *tar_name,
		    bool top, struct ct_error *err)
{
	const char *shown = *tar_name ? tar_name : ".";

	for (int attempt = 0;; attempt++) {
		struct stat st;
		int fd;

		if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT && !top) {
				t->stats.skipped++; /* removed while we walked */
				return 0;
			}
			return ct_error_errno(err,
					      errno == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_INTERNAL,
					      "inspecting %s", shown);
		}
		if (S_ISSOCK(st.st_mode)) {
			t->stats.skipped++; /* as docker and tar do: a socket can't be copied */
			return 0;
		}
		if (!S_ISDIR(st.st_mode) && !*tar_name)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, ENOTDIR,
					    "only a directory's content can be archived without a "
					    "name, and this is a %s",
					    tar_tree_type_name(st.st_mode));
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			return add_special(t, parent, name, tar_name, &st, err);

		/* O_NONBLOCK: should the file have become a fifo since fstatat, opening it
		 * must not wait for a writer. */
		int flags = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK;
		fd = openat(parent, name, flags | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) &&
		    attempt < MAX_RETRIES)
			continue; /* replaced since fstatat: look again */
		if (fd < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", shown);
		if (fstat(fd, &st) < 0) {
			close(fd);
			return ct_error_errno(err, CT_ERR_INTERNAL, "inspecting %s", shown);
		}
		if (S_ISDIR(st.st_mode))
			return add_dir(t, fd, tar_name, &st, top, err);
		int rc = S_ISREG(st.st_mode) ? add_file(t, fd, tar_name, &st, err)
					     : add_special(t, parent, name, tar_name, &st, err);
		close(fd);
		return rc;
	}
}

int tar_tree_add(struct tar_tree *t, int parent_fd, const char *name, const char *tar_name,
		 struct ct_error *err)
{
	return add_node(t, parent_fd, name, tar_name, true, err);
}

int tar_tree_finish(struct tar_tree *t, struct ct_error *err)
{
	if (archive_write_close(t->archive) != ARCHIVE_OK)
		return write_failure(t, "the end of the archive", err);
	return 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

void tar_tree_path_split(const char *path, struct tar_tree_path *out)
{
	size_t len = strlen(path);
	bool absolute = path[0] == '/';

	memset(out, 0, sizeof(*out));
	out->content = !strcmp(path, ".") || ends_with(path, len, "/.");
	out->trailing = out->content || ends_with(path, len, "/");
	out->core = xstrdup(path);
	for (;;) {
		if (ends_with(out->core, len, "/."))
			len -= 2;
		else if (ends_with(out->core, len, "/"))
			len--;
		else
			break;
		out->core[len] = '\0';
	}
	if (!len || !strcmp(out->core, ".")) {
		free(out->core);
		out->core = xstrdup(absolute ? "/" : ".");
		return;
	}
	char *slash = strrchr(out->core, '/');
	const char *base = slash ? slash + 1 : out->core;
	if (!strcmp(base, ".") || !strcmp(base, ".."))
		return;
	out->base = base;
	if (!slash)
		out->dir = xstrdup(".");
	else if (slash == out->core)
		out->dir = xstrdup("/");
	else
		out->dir = xstrndup(out->core, (size_t)(slash - out->core));
}

void tar_tree_path_clear(struct tar_tree_path *p)
{
	free(p->core);
	free(p->dir);
	memset(p, 0, sizeof(*p));
}
