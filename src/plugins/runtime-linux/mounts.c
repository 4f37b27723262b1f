#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "child.h"

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Opens (creating when missing) the mount target path inside the rootfs: every
 * component resolved as if rootfd were "/". */
static int ensure_target(int rootfd, const char *path, bool file)
{
	char buf[4096];
	int fd;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	fd = openat2_in_root(rootfd, path, O_PATH);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return -errno;
	snprintf(buf, sizeof(buf), "%s", path);
	/* Walk the components, creating what is missing beneath the root. */
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		char saved = *p;
		*p = '\0';
		int existing = openat2_in_root(rootfd, buf, O_PATH);
		if (existing >= 0) {
			close(existing);
		} else if (errno == ENOENT) {
			char *slash = strrchr(buf, '/');
			*slash = '\0';
			int parent = openat2_in_root(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
			*slash = '/';
			if (parent < 0)
				return -errno;
			int rc;
			if (last && file) {
				rc = openat(parent, slash + 1, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW |
								     O_CLOEXEC,
					    0644);
				if (rc >= 0)
					close(rc);
			} else {
				rc = mkdirat(parent, slash + 1, 0755);
			}
			int saved_errno = errno;
			close(parent);
			if (rc < 0 && saved_errno != EEXIST)
				return -saved_errno;
		} else {
			return -errno;
		}
		*p = saved;
		if (last)
			break;
	}
	fd = openat2_in_root(rootfd, path, O_PATH);
	return fd >= 0 ? fd : -errno;
}

static void fd_path(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static int mount_overlay(const struct rt_spec *s, const char *rootfs)
{
	char data[4096];

	if (!s->rootfs_lower)
		return 0; /* root.path is already the root filesystem (a runc-style bundle) */
	/* lowerdir lists grow with the layers and mount data is limited to a page;
	 * the snapshot paths share a prefix, so they are given relative to it (the
	 * same trick as docker's overlay2). */
	const char *lower = s->rootfs_lower;
	char prefix[4096] = "";
	const char *first_colon = strchr(lower, ':');
	const char *fs = strstr(lower, "/snapshots/");
	if (fs && (!first_colon || fs < first_colon)) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(fs - lower + strlen("/snapshots")), lower);
		if (chdir(prefix) < 0)
			return child_fail(errno, "entering the snapshot folder %s", prefix);
	}
	/* Rebuild the list with the prefix stripped. */
	char lowers[3072] = "";
	size_t used = 0, plen = strlen(prefix);
	const char *p = lower;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t whole = end ? (size_t)(end - p) : strlen(p);
		size_t len = whole;
		const char *part = p;
		if (plen && len > plen + 1 && strncmp(p, prefix, plen) == 0 && p[plen] == '/') {
			part = p + plen + 1;
			len -= plen + 1;
		}
		if (used + len + 2 >= sizeof(lowers))
			return child_fail(E2BIG, "mounting the root filesystem: the image has too many "
						 "layers for one overlay mount");
		if (used)
			lowers[used++] = ':';
		memcpy(lowers + used, part, len);
		used += len;
		lowers[used] = '\0';
		p += whole + (end ? 1 : 0);
	}
	int n = snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s,index=off", lowers,
			 s->rootfs_upper, s->rootfs_work);
	if (n >= (int)sizeof(data))
		return child_fail(E2BIG, "mounting the root filesystem: overlay options too long");
	if (mount("overlay", rootfs, "overlay", 0, data) < 0)
		return child_fail(errno, "mounting the overlay root filesystem at %s", rootfs);
	return 0;
}

struct dev_node {
	const char *name;
	mode_t mode;
	unsigned major, minor;
};

static const struct dev_node dev_nodes[] = {
	{"null", S_IFCHR | 0666, 1, 3},	   {"zero", S_IFCHR | 0666, 1, 5},
	{"full", S_IFCHR | 0666, 1, 7},	   {"random", S_IFCHR | 0666, 1, 8},
	{"urandom", S_IFCHR | 0666, 1, 9}, {"tty", S_IFCHR | 0666, 5, 0},
};

static const struct {
	const char *target, *name;
} dev_links[] = {
	{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
};

/* Nodes and links in /dev, when /dev is a tmpfs of ours. */
static int populate_dev(int rootfd)
{
	int dev = openat2_in_root(rootfd, "/dev", O_DIRECTORY | O_RDONLY);

	if (dev < 0)
		return child_fail(errno, "opening /dev in the container");
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		const struct dev_node *d = &dev_nodes[i];
		if (mknodat(dev, d->name, d->mode, makedev(d->major, d->minor)) < 0 &&
		    errno != EEXIST) {
			close(dev);
			return child_fail(errno, "creating /dev/%s", d->name);
		}
		/* mknod honours the umask; the modes must be exact. */
		fchmodat(dev, d->name, d->mode & 07777, 0);
	}
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
		if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0 && errno != EEXIST) {
			close(dev);
			return child_fail(errno, "creating /dev/%s", dev_links[i].name);
		}
	/* /dev/core only where the kernel has /proc/kcore, as runc does. */
	if (access("/proc/kcore", F_OK) == 0)
		symlinkat("/proc/kcore", dev, "core");
	close(dev);
	return 0;
}

static bool is_dev_tmpfs(const struct rt_mount *m)
{
	return strcmp(m->destination, "/dev") == 0 && strcmp(m->type, "tmpfs") == 0;
}

/* Changes the flags of a bind mount just made. The fd the mount was made
 * through names the file underneath it, so the target is opened again.
 *
 * The source's nosuid, nodev, noexec and atime flags are kept: a remount
 * without them would clear them (the kernel refuses that outright when they
 * are locked, in a user namespace), and a bind must never grant what its
 * source withholds. For a read-only recursive bind, every mount beneath is
 * made read-only too (mount_setattr, Linux 5.12): MS_REMOUNT only reaches the
 * top one, and a sized volume or a host mount inside a ro bind would stay
 * writable. */
static int remount_bind(int rootfd, const char *destination, unsigned long flags, bool recursive)
{
	static const struct {
		unsigned long st, ms;
	} kept[] = {
		{ST_NOSUID, MS_NOSUID},	    {ST_NODEV, MS_NODEV},	  {ST_NOEXEC, MS_NOEXEC},
		{ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
	};
	char target[64];
	struct statvfs sv;
	int fd = openat2_in_root(rootfd, destination, O_PATH);

	if (fd < 0)
		return -1;
	fd_path(fd, target, sizeof(target));
	if (fstatvfs(fd, &sv) == 0)
		for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
			if (sv.f_flag & kept[i].st)
				flags |= kept[i].ms;
	int rc = mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | flags, NULL);
	if (rc == 0 && recursive && (flags & MS_RDONLY)) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			    sizeof(attr)) < 0 &&
		    errno != ENOSYS)
			rc = -1;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int do_mount(int rootfd, const struct rt_mount *m)
{
	char target[64];
	struct stat st;
	bool file = false;

	/* A bind of a file needs a file to mount on. */
	if (m->bind && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode))
		file = true;
	int fd = ensure_target(rootfd, m->destination, file);
	if (fd < 0)
		return child_fail(-fd, "preparing the mount point %s", m->destination);
	fd_path(fd, target, sizeof(target));

	int rc;
	if (m->bind) {
		rc = mount(m->source, target, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL);
		/* Bind mounts take their flags only on a remount. */
		if (rc == 0 && (m->flags & ~MS_REMOUNT))
			rc = remount_bind(rootfd, m->destination, m->flags & ~MS_REMOUNT,
					  m->recursive);
	} else {
		rc = mount(m->source[0] ? m->source : m->type, target, m->type, m->flags, m->data);
	}
	if (rc == 0 && m->propagation)
		rc = mount(NULL, target, NULL, m->propagation, NULL);
	int saved = errno;
	close(fd);
	if (rc < 0)
		return child_fail(saved, "mounting %s on %s", m->bind ? m->source : m->type,
				  m->destination);
	return 0;
}

int mounts_setup_rootfs(const struct rt_spec *s, const char *bundle, const char *init_path)
{
	char rootfs[4096];
	int rootfd, rc;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return child_fail(errno, "making the mounts private");
	if (s->root_path[0] == '/')
		snprintf(rootfs, sizeof(rootfs), "%s", s->root_path);
	else
		snprintf(rootfs, sizeof(rootfs), "%s/%s", bundle, s->root_path);
	if ((rc = mount_overlay(s, rootfs)) < 0)
		return rc;
	/* pivot_root needs the new root to be a mount point. */
	if (!s->rootfs_lower && mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return child_fail(errno, "bind-mounting the root filesystem %s", rootfs);
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return child_fail(errno, "opening the root filesystem %s", rootfs);

	bool dev_ours = false;
	for (size_t i = 0; i < s->n_mounts; i++) {
		if ((rc = do_mount(rootfd, &s->mounts[i])) < 0) {
			close(rootfd);
			return rc;
		}
		dev_ours |= is_dev_tmpfs(&s->mounts[i]);
	}
	if (dev_ours && (rc = populate_dev(rootfd)) < 0) {
		close(rootfd);
		return rc;
	}
	if (init_path) {
		/* container-init, read-only, where no image keeps a file. */
		int fd = ensure_target(rootfd, "/dev/init", true);
		char target[64];
		if (fd < 0) {
			close(rootfd);
			return child_fail(-fd, "preparing /dev/init");
		}
		fd_path(fd, target, sizeof(target));
		rc = mount(init_path, target, NULL, MS_BIND, NULL);
		if (rc == 0)
			rc = remount_bind(rootfd, "/dev/init", MS_RDONLY | MS_NOSUID, false);
		int saved = errno;
		close(fd);
		if (rc < 0) {
			close(rootfd);
			return child_fail(saved, "mounting container-init");
		}
	}
	close(rootfd);

	/* pivot_root(".", ".") stacks the old root on the new one; unmounting it
	 * leaves only the container's (runc's technique: no temporary folder). */
	if (chdir(rootfs) < 0)
		return child_fail(errno, "entering %s", rootfs);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return child_fail(errno, "pivot_root into %s", rootfs);
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 || umount2(".", MNT_DETACH) < 0)
		return child_fail(errno, "detaching the host's root");
	if (chdir("/") < 0)
		return child_fail(errno, "entering /");
	return 0;
}

int mounts_finish(const struct rt_spec *s)
{
	for (char **p = s->masked_paths; *p; p++) {
		struct stat st;
		if (lstat(*p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return child_fail(errno, "masking %s", *p);
		}
		int rc = S_ISDIR(st.st_mode)
				 ? mount("tmpfs", *p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
					 "size=0")
				 : mount("/dev/null", *p, NULL, MS_BIND, NULL);
		if (rc < 0)
			return child_fail(errno, "masking %s", *p);
	}
	for (char **p = s->readonly_paths; *p; p++) {
		if (mount(*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return child_fail(errno, "making %s read-only", *p);
		}
		if (mount(NULL, *p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
					       MS_NOEXEC,
			  NULL) < 0)
			return child_fail(errno, "making %s read-only", *p);
	}
	if (s->root_readonly &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return child_fail(errno, "making the root filesystem read-only");
	return 0;
}
