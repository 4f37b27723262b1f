/* Sized volumes: an ext4 file system in <volume>/disk.img (sparse, so only
 * what is written takes space), attached to a loop device and mounted on
 * <volume>/_data. The file system's size is the limit: a write past it fails
 * with ENOSPC inside the container, as on a full disk. The loop device is
 * configured with LO_FLAGS_AUTOCLEAR, so it goes away with the last unmount
 * and nothing is left to detach. */
#include "volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define DISK_IMAGE "disk.img"
#define MKFS	   "mkfs.ext4"

/* mkfs.ext4 from PATH, else the sbin folders a daemon's PATH may lack. */
static char *find_mkfs(void)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = xasprintf("%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *candidate = xasprintf("%s/%s", d, MKFS);
		if (access(candidate, X_OK) == 0)
			return move_ptr(candidate);
	}
	return NULL;
}

/* Runs mkfs.ext4 on the image; its own message becomes the error. */
static int make_filesystem(const char *image, struct ct_error *err)
{
	_cleanup_free_ char *mkfs = find_mkfs();
	int pipefd[2];

	if (!mkfs)
		return ct_error_set(err, CT_ERR_UNAVAILABLE, 0,
				    "sized volumes need %s: install e2fsprogs (make deps)", MKFS);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "pipe");
	/* No reserved blocks (-m 0): the whole size is the volume's. */
	char *argv[] = {mkfs, "-q", "-F", "-m", "0", "-E", "nodiscard", (char *)image, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	pid_t pid;
	int rc = posix_spawn(&pid, mkfs, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		errno = rc;
		return ct_error_errno(err, CT_ERR_INTERNAL, "running %s", mkfs);
	}
	char out[512];
	size_t len = 0;
	ssize_t n;
	while ((n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			len += n;
	close(pipefd[0]);
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "%s %s failed (status %d)%s%s", MKFS,
				    image, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				    len ? ": " : "", out);
	return 0;
}

/* Attaches backing to a free loop device (LOOP_CONFIGURE, one call since
 * Linux 5.8; LOOP_SET_FD + LOOP_SET_STATUS64 before). Another process may take
 * the device we were offered before we configure it (EBUSY): ask again. */
static int loop_attach(int backing, const char *image, char *dev, size_t devsize,
		       struct ct_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);

	if (ctl < 0)
		return ct_error_errno(err, CT_ERR_UNAVAILABLE,
				      "opening /dev/loop-control (sized volumes need the loop "
				      "driver: modprobe loop)");
	for (int attempt = 0; attempt < 32; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return ct_error_errno(err, CT_ERR_UNAVAILABLE,
					      "finding a free loop device");
		snprintf(dev, devsize, "/dev/loop%d", n);
		int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", dev);
		struct loop_config cfg = {.fd = (unsigned)backing};
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, LO_NAME_SIZE, "%s", image);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		if (errno == EINVAL || errno == ENOTTY) {
			/* A kernel before 5.8. */
			if (ioctl(fd, LOOP_SET_FD, backing) == 0) {
				if (ioctl(fd, LOOP_SET_STATUS64, &cfg.info) == 0)
					return fd;
				int saved = errno;
				ioctl(fd, LOOP_CLR_FD, 0);
				errno = saved;
			}
		}
		int saved = errno;
		close(fd);
		if (saved != EBUSY) {
			errno = saved;
			return ct_error_errno(err, CT_ERR_INTERNAL, "attaching %s to %s", image,
					      dev);
		}
	}
	return ct_error_set(err, CT_ERR_UNAVAILABLE, 0,
			    "attaching %s: every free loop device was taken before we could use it",
			    image);
}

/* Whether _data is a mount point: its device differs from its folder's. */
static int data_mounted(int voldir, bool *mounted, struct ct_error *err)
{
	struct stat dir, data;

	if (fstat(voldir, &dir) < 0 || fstatat(voldir, "_data", &data, AT_SYMLINK_NOFOLLOW) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "checking the volume's _data");
	*mounted = dir.st_dev != data.st_dev;
	return 0;
}

int volume_disk_mount(const char *voldir_path, struct ct_error *err)
{
	_cleanup_close_ int voldir =
	    open(voldir_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool mounted;

	if (voldir < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", voldir_path);
	if (data_mounted(voldir, &mounted, err) < 0)
		return -1;
	if (mounted)
		return 0;
	_cleanup_free_ char *image = xasprintf("%s/%s", voldir_path, DISK_IMAGE);
	_cleanup_close_ int backing = openat(voldir, DISK_IMAGE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (backing < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", image);
	_cleanup_close_ int data =
	    openat(voldir, "_data", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (data < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s/_data", voldir_path);
	char dev[32], target[64];
	/* Our reference to the loop device is dropped when we return: from then
	 * on the mount holds it, and AUTOCLEAR detaches it at the last unmount
	 * (or now, when the mount failed). */
	_cleanup_close_ int loop = loop_attach(backing, image, dev, sizeof(dev), err);
	if (loop < 0)
		return -1;
	snprintf(target, sizeof(target), "/proc/self/fd/%d", data);
	if (mount(dev, target, "ext4", MS_NODEV, NULL) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "mounting %s (%s) on %s/_data", image,
				      dev, voldir_path);
	return 0;
}

int volume_disk_create(const char *voldir_path, int64_t size, struct ct_error *err)
{
	_cleanup_close_ int voldir =
	    open(voldir_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_free_ char *image = xasprintf("%s/%s", voldir_path, DISK_IMAGE);

	if (voldir < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", voldir_path);
	_cleanup_close_ int fd =
	    openat(voldir, DISK_IMAGE, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating %s", image);
	/* Sparse: the size is a limit, not an allocation. */
	if (ftruncate(fd, size) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "sizing %s to %lld bytes", image,
				      (long long)size);
	if (make_filesystem(image, err) < 0 || volume_disk_mount(voldir_path, err) < 0)
		return -1;
	/* A fresh volume is an empty folder, as an unsized one is: without
	 * lost+found (e2fsck makes it again when it needs one). */
	_cleanup_close_ int data =
	    openat(voldir, "_data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (data >= 0 && unlinkat(data, "lost+found", AT_REMOVEDIR) < 0 && errno != ENOENT)
		log_warn("removing lost+found from %s/_data: %s", voldir_path, strerror(errno));
	return 0;
}

int volume_disk_unmount(const char *voldir_path, struct ct_error *err)
{
	_cleanup_close_ int voldir =
	    open(voldir_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool mounted;

	if (voldir < 0)
		return errno == ENOENT
			   ? 0
			   : ct_error_errno(err, CT_ERR_INTERNAL, "opening %s", voldir_path);
	if (data_mounted(voldir, &mounted, err) < 0)
		return -1;
	if (!mounted)
		return 0;
	_cleanup_free_ char *data = xasprintf("%s/_data", voldir_path);
	if (umount2(data, UMOUNT_NOFOLLOW) < 0)
		return ct_error_errno(err, errno == EBUSY ? CT_ERR_CONFLICT : CT_ERR_INTERNAL,
				      "unmounting %s%s", data,
				      errno == EBUSY ? " (a process on the host is using it)" : "");
	return 0;
}
