/* docker's copy-up: a new, empty volume mounted over a path of the image is
 * first given that path's content. The image is a stack of snapshot folders
 * (overlay lower layers); we merge them ourselves, lowest layer first so
 * upper layers win, honouring overlay whiteouts (a 0/0 character device
 * deletes the name below it; trusted.overlay.opaque=y on a folder hides
 * what lower layers have there).
 *
 * Every path is walked one name at a time from a directory fd with
 * O_NOFOLLOW and the *at calls: a symlink in the image is copied as a
 * symlink and never followed, on either side, so a hostile image can't
 * make us read or write outside its layers and the volume. */
#include "volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define OPAQUE_XATTR "trusted.overlay.opaque"
#define MAX_DEPTH    256
#define MAX_LAYERS   128

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int dirfd)
{
	char v = 0;

	return fgetxattr(dirfd, OPAQUE_XATTR, &v, 1) == 1 && v == 'y';
}

static int open_dir_at(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The folder at path (absolute, normalised: no "." or "..") in one layer, or
 * -1 when the layer has none there. *hides says whether the layer hides the
 * path in the layers below it: a whiteout, a file or a symlink at the path
 * or on the way to it, or an opaque folder. */
static int layer_lookup(int layer_root, const char *path, bool *hides, struct ct_error *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	int cur = fcntl(layer_root, F_DUPFD_CLOEXEC, 3);
	bool opaque = false;
	char *save = NULL;

	*hides = false;
	if (cur < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "dup");
	for (char *name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		struct stat st;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			close(cur);
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "copying the image's %s: \"%s\" in a path", path, name);
		}
		if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int e = errno;
			close(cur);
			if (e != ENOENT) {
				errno = e;
				return ct_error_errno(err, CT_ERR_INTERNAL,
						      "looking up %s in an image layer", path);
			}
			/* Absent here; an opaque folder above it hides the lower ones. */
			*hides = opaque;
			return -2;
		}
		if (!S_ISDIR(st.st_mode)) {
			/* A whiteout deletes the path; a file or symlink replaces the
			 * folder. Either way nothing below shows through, and we don't
			 * follow symlinks out of the layer. */
			close(cur);
			*hides = true;
			return -2;
		}
		int next = open_dir_at(cur, name);
		close(cur);
		if (next < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s in an image layer",
					      path);
		cur = next;
		opaque = is_opaque(cur);
	}
	*hides = opaque;
	return cur;
}

static int clear_dir(int dirfd, int depth, struct ct_error *err);

/* Removes name from dirfd, a folder with everything in it. */
static int remove_entry(int dirfd, const char *name, int depth, struct ct_error *err)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing %s from the volume", name);
	_cleanup_close_ int sub = open_dir_at(dirfd, name);
	if (sub < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s in the volume", name);
	if (clear_dir(sub, depth + 1, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "removing %s from the volume", name);
	return 0;
}

static DIR *dir_of(int dirfd, struct ct_error *err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		ct_error_errno(err, CT_ERR_INTERNAL, "reading a folder");
		if (fd >= 0)
			close(fd);
	}
	return d;
}

static int clear_dir(int dirfd, int depth, struct ct_error *err)
{
	if (depth > MAX_DEPTH)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "folders nested deeper than %d levels", MAX_DEPTH);
	_cleanup_closedir_ DIR *d = dir_of(dirfd, err);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (remove_entry(dirfd, e->d_name, depth, err) < 0)
			return -1;
	}
	return 0;
}

/* Extended attributes, where the volume's file system takes them; overlay's
 * own (trusted.overlay.*) describe the layer, not the file. */
static void copy_xattrs(int src, int dst)
{
	char names[8192], value[8192];
	ssize_t len = flistxattr(src, names, sizeof(names));

	for (ssize_t off = 0; len > 0 && off < len; off += strlen(names + off) + 1) {
		const char *name = names + off;
		if (strncmp(name, "trusted.overlay.", 16) == 0)
			continue;
		ssize_t vlen = fgetxattr(src, name, value, sizeof(value));
		if (vlen >= 0)
			fsetxattr(dst, name, value, vlen, 0);
	}
}

/* Owner, then mode (chown clears set-id bits), then times. */
static int copy_attrs(int dst, const struct stat *st, const char *name, struct ct_error *err)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};

	if (fchown(dst, st->st_uid, st->st_gid) < 0 || fchmod(dst, st->st_mode & 07777) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the owner and mode of %s",
				      name);
	futimens(dst, times);
	return 0;
}

static int copy_file(int srcdir, int dstdir, const char *name, const struct stat *st,
		     struct ct_error *err)
{
	_cleanup_close_ int in = openat(srcdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s in the image", name);
	_cleanup_close_ int out =
	    openat(dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s in the volume", name);
	for (off_t left = st->st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, left, 0);
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
			char buf[65536];
			n = read(in, buf, sizeof(buf));
			if (n > 0 && write(out, buf, n) != n)
				n = -1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "copying %s into the volume",
					      name);
		if (n == 0)
			break; /* the file shrank meanwhile */
		left -= n;
	}
	copy_xattrs(in, out);
	return copy_attrs(out, st, name, err);
}

static int copy_other(int srcdir, int dstdir, const char *name, const struct stat *st,
		      struct ct_error *err)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};

	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(srcdir, name, target, sizeof(target) - 1);
		if (n < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading the symlink %s", name);
		target[n] = '\0';
		if (symlinkat(target, dstdir, name) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "creating the symlink %s",
					      name);
	} else if (mknodat(dstdir, name, st->st_mode, st->st_rdev) < 0) {
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s in the volume", name);
	}
	if (fchownat(dstdir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the owner of %s", name);
	if (!S_ISLNK(st->st_mode) && fchmodat(dstdir, name, st->st_mode & 07777, 0) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting the mode of %s", name);
	utimensat(dstdir, name, times, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Merges one layer's folder src into dst. */
static int merge_dir(int src, int dst, int depth, struct ct_error *err)
{
	if (depth > MAX_DEPTH)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the image has folders nested deeper than %d levels",
				    MAX_DEPTH);
	_cleanup_closedir_ DIR *d = dir_of(src, err);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		const char *name = e->d_name;
		struct stat st, existing;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "reading %s in the image",
					      name);
		bool exists = fstatat(dst, name, &existing, AT_SYMLINK_NOFOLLOW) == 0;
		if (is_whiteout(&st)) {
			if (exists && remove_entry(dst, name, depth, err) < 0)
				return -1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (exists && remove_entry(dst, name, depth, err) < 0)
				return -1;
			int rc = S_ISREG(st.st_mode) ? copy_file(src, dst, name, &st, err)
						     : copy_other(src, dst, name, &st, err);
			if (rc < 0)
				return -1;
			continue;
		}
		if (exists && !S_ISDIR(existing.st_mode)) {
			if (remove_entry(dst, name, depth, err) < 0)
				return -1;
			exists = false;
		}
		if (!exists && mkdirat(dst, name, 0700) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s in the volume",
					      name);
		_cleanup_close_ int sub_src = open_dir_at(src, name);
		_cleanup_close_ int sub_dst = open_dir_at(dst, name);
		if (sub_src < 0 || sub_dst < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening the folder %s", name);
		/* An opaque folder replaces what lower layers put there. */
		if (exists && is_opaque(sub_src) && clear_dir(sub_dst, depth + 1, err) < 0)
			return -1;
		if (merge_dir(sub_src, sub_dst, depth + 1, err) < 0)
			return -1;
		copy_xattrs(sub_src, sub_dst);
		if (copy_attrs(sub_dst, &st, name, err) < 0)
			return -1;
	}
	return 0;
}

int volume_dir_is_empty(int dirfd, bool *empty, struct ct_error *err)
{
	_cleanup_closedir_ DIR *d = dir_of(dirfd, err);
	struct dirent *e;

	if (!d)
		return -1;
	*empty = true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			*empty = false;
			break;
		}
	return 0;
}

int volume_fill(const char *lower, const char *destination, int data, struct ct_error *err)
{
	int layers[MAX_LAYERS];
	size_t n = 0;
	_cleanup_free_ char *copy = xstrdup(lower);
	char *save = NULL;
	int rc = 0;

	/* lower lists the layers as overlay takes them: the top one first. */
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		bool hides;
		if (root < 0) {
			rc =
			    ct_error_errno(err, CT_ERR_INTERNAL, "opening the image layer %s", dir);
			goto out;
		}
		int fd = layer_lookup(root, destination, &hides, err);
		if (fd == -1) {
			rc = -1;
			goto out;
		}
		if (fd >= 0) {
			if (n == MAX_LAYERS) {
				close(fd);
				rc = ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
						  "the image has more than %d layers", MAX_LAYERS);
				goto out;
			}
			layers[n++] = fd;
		}
		if (hides)
			break;
	}
	/* Lowest first: what an upper layer has replaces it. */
	for (size_t i = n; i-- > 0;)
		if (merge_dir(layers[i], data, 0, err) < 0) {
			rc = ct_error_prefix(err, "copying the image's %s into the volume",
					     destination);
			goto out;
		}
	/* The volume's root takes the image folder's owner and mode, as docker's. */
	if (n > 0) {
		struct stat st;
		if (fstat(layers[0], &st) == 0) {
			copy_xattrs(layers[0], data);
			rc = copy_attrs(data, &st, destination, err);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		close(layers[i]);
	return rc;
}
