/* Layer unpacking: tar streams are built here with libarchive's writer, unpacked into a
 * fresh snapshot under a mkdtemp directory, and checked with fstatat/readlinkat/getxattr.
 * Every hostile case also checks that nothing appeared beside the snapshot: the temp
 * directory holds only "snap" and "outside", and "outside" only its untouched file "f". */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <locale.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "unpack.h"

#define IMAGE_NAME "test.example/hostile:1"
#define LAYER_NAME "sha256:1a2b3c"
#define HOST_DATA  "host data\n"

/* One tar entry to write. type 0 means a regular file. */
struct spec {
	const char *name;
	unsigned type;
	unsigned perm;
	const char *data;
	size_t size; /* 0: strlen(data) */
	const char *symlink;
	const char *hardlink;
	int64_t uid, gid;
	time_t mtime;
	unsigned rmajor, rminor;
	const char *xattr, *xattr_value;
	size_t xattr_size;     /* 0: strlen(xattr_value) */
	int64_t sparse_offset; /* > 0: the data sits at this offset of a sparse file */
	int64_t sparse_size;   /* > 0: the data is at 0 of a sparse file this large */
};

struct tarbuf {
	char *data;
	size_t len, cap;
};

struct fixture {
	char tmp[64];
	int tmp_fd;
	int snap_fd;
	struct tarbuf tar;
	struct unpack_options opts;
	struct unpack_stats stats;
	struct ct_error err;
	int notes;
	char last_note[512];
};

static void record_note(void *ctx, const char *message)
{
	struct fixture *fx = ctx;

	fx->notes++;
	snprintf(fx->last_note, sizeof(fx->last_note), "%s", message);
}

static la_ssize_t tarbuf_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct tarbuf *tb = ctx;

	if (tb->len + len > tb->cap) {
		size_t cap = (tb->len + len) * 2;
		char *data = realloc(tb->data, cap);

		if (!data)
			return -1;
		tb->data = data;
		tb->cap = cap;
	}
	memcpy(tb->data + tb->len, buf, len);
	tb->len += len;
	return (la_ssize_t)len;
}

static void write_entry(struct archive *a, const struct spec *s)
{
	struct archive_entry *e = archive_entry_new();
	unsigned type = s->type ? s->type : AE_IFREG;
	size_t size = 0;
	int r;

	assert_non_null(e);
	archive_entry_set_pathname(e, s->name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, s->perm ? s->perm : (type == AE_IFDIR ? 0755 : 0644));
	archive_entry_set_uid(e, s->uid);
	archive_entry_set_gid(e, s->gid);
	archive_entry_set_mtime(e, s->mtime ? s->mtime : 1700000000, 0);
	if (s->symlink)
		archive_entry_set_symlink(e, s->symlink);
	if (s->hardlink)
		archive_entry_set_hardlink(e, s->hardlink);
	if (type == AE_IFCHR || type == AE_IFBLK) {
		archive_entry_set_rdevmajor(e, s->rmajor);
		archive_entry_set_rdevminor(e, s->rminor);
	}
	if (s->xattr)
		archive_entry_xattr_add_entry(e, s->xattr, s->xattr_value,
					      s->xattr_size ? s->xattr_size
							    : strlen(s->xattr_value));
	if (type == AE_IFREG && !s->hardlink) {
		size = s->size ? s->size : (s->data ? strlen(s->data) : 0);
		if (s->sparse_offset > 0) {
			archive_entry_set_size(e, s->sparse_offset + (int64_t)size);
			archive_entry_sparse_add_entry(e, s->sparse_offset, (int64_t)size);
		} else if (s->sparse_size > 0) {
			archive_entry_set_size(e, s->sparse_size);
			archive_entry_sparse_add_entry(e, 0, (int64_t)size);
		} else {
			archive_entry_set_size(e, (int64_t)size);
		}
	}
	/* ARCHIVE_WARN: a name the locale can't convert is written raw (hdrcharset=BINARY) */
	r = archive_write_header(a, e);
	assert_true(r == ARCHIVE_OK || r == ARCHIVE_WARN);
	/* The pax writer takes a sparse file's logical contents and drops the holes; a
	 * trailing hole needs no writing. */
	if (s->sparse_offset > 0) {
		_cleanup_free_ char *zeros = calloc(1, (size_t)s->sparse_offset);

		assert_non_null(zeros);
		assert_int_equal(archive_write_data(a, zeros, (size_t)s->sparse_offset),
				 (la_ssize_t)s->sparse_offset);
	}
	if (size) {
		_cleanup_free_ char *fill = NULL;
		const char *data = s->data;

		if (!data) {
			fill = malloc(size);
			assert_non_null(fill);
			memset(fill, 'z', size);
			data = fill;
		}
		assert_int_equal(archive_write_data(a, data, size), (la_ssize_t)size);
	}
	archive_entry_free(e);
}

static void build_tar(struct fixture *fx, const struct spec *specs, size_t n)
{
	struct archive *a = archive_write_new();

	fx->tar.len = 0;
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_none(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open(a, &fx->tar, NULL, tarbuf_write, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		write_entry(a, &specs[i]);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Feeds the tar to unpack_layer_from_fd through a memfd. */
static int unpack_tar(struct fixture *fx)
{
	_cleanup_close_ int fd = memfd_create("layer", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, fx->tar.data, fx->tar.len), (ssize_t)fx->tar.len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	ct_error_clear(&fx->err);
	return unpack_layer_from_fd(fd, fx->snap_fd, &fx->opts, &fx->stats, &fx->err);
}

static int unpack_specs(struct fixture *fx, const struct spec *specs, size_t n)
{
	build_tar(fx, specs, n);
	return unpack_tar(fx);
}

/* A reader that hands out the tar a few bytes at a time, as a decompressor might. */
struct chunk_reader {
	const char *data;
	size_t len, pos, chunk;
	size_t fail_at; /* 0: never */
	int eof_reads;
};

static ssize_t chunk_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct chunk_reader *r = ctx;
	size_t n = r->len - r->pos;

	if (r->fail_at && r->pos >= r->fail_at)
		return ct_error_set(err, CT_ERR_UNAVAILABLE, ECONNRESET,
				    "fetching blob: connection reset by registry");
	if (n == 0) {
		r->eof_reads++;
		return 0;
	}
	if (n > r->chunk)
		n = r->chunk;
	if (n > len)
		n = len;
	memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	return (ssize_t)n;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_snapshot(struct fixture *fx)
{
	if (fx->snap_fd >= 0) {
		close(fx->snap_fd);
		char path[128];
		snprintf(path, sizeof(path), "%s/snap", fx->tmp);
		rm_rf(path);
	}
	assert_int_equal(mkdirat(fx->tmp_fd, "snap", 0755), 0);
	fx->snap_fd = openat(fx->tmp_fd, "snap", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fx->snap_fd >= 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	snprintf(fx->tmp, sizeof(fx->tmp), "/tmp/unpack-test-XXXXXX");
	assert_non_null(mkdtemp(fx->tmp));
	fx->tmp_fd = open(fx->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fx->tmp_fd >= 0);
	fx->snap_fd = -1;
	make_snapshot(fx);
	assert_int_equal(mkdirat(fx->tmp_fd, "outside", 0755), 0);
	fd = openat(fx->tmp_fd, "outside/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, HOST_DATA, strlen(HOST_DATA)), (ssize_t)strlen(HOST_DATA));
	close(fd);
	fx->err = (struct ct_error)CT_ERROR_INIT;
	fx->opts = (struct unpack_options){
	    .image = IMAGE_NAME,
	    .layer = LAYER_NAME,
	    .note = record_note,
	    .note_ctx = fx,
	};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->snap_fd >= 0)
		close(fx->snap_fd);
	close(fx->tmp_fd);
	rm_rf(fx->tmp);
	free(fx->tar.data);
	ct_error_clear(&fx->err);
	free(fx);
	return 0;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("\"%s\" does not contain \"%s\"", haystack ? haystack : "(null)", needle);
}

static size_t count_dir(int dirfd, const char *path, char names[][64], size_t max)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n < max)
			snprintf(names[n], 64, "%.63s", de->d_name);
		n++;
	}
	return n;
}

/* Nothing escaped: the temp directory holds only snap and outside, outside only its f,
 * and f is unchanged (content, link count, mode). */
static void assert_outside_untouched(struct fixture *fx)
{
	char names[8][64];
	char buf[64] = {0};
	struct stat st;
	int fd;

	assert_int_equal(count_dir(fx->tmp_fd, ".", names, 8), 2);
	assert_true((!strcmp(names[0], "snap") && !strcmp(names[1], "outside")) ||
		    (!strcmp(names[1], "snap") && !strcmp(names[0], "outside")));
	assert_int_equal(count_dir(fx->tmp_fd, "outside", names, 8), 1);
	assert_string_equal(names[0], "f");
	assert_int_equal(fstatat(fx->tmp_fd, "outside/f", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 07777, 0644);
	fd = openat(fx->tmp_fd, "outside/f", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(HOST_DATA));
	close(fd);
	assert_string_equal(buf, HOST_DATA);
}

/* The error is the hostile-content one and names the image, the layer and the entry. */
static void assert_refused(struct fixture *fx, int rc, const char *code, const char *entry)
{
	char quoted[300];

	assert_true(rc < 0);
	if (!ct_error_is(&fx->err, code))
		fail_msg("code %s, want %s: %s", fx->err.code, code, ct_error_message(&fx->err));
	assert_contains(fx->err.message, IMAGE_NAME);
	assert_contains(fx->err.message, LAYER_NAME);
	if (entry) {
		snprintf(quoted, sizeof(quoted), "entry \"%s\"", entry);
		assert_contains(fx->err.message, quoted);
	}
	assert_outside_untouched(fx);
}

static void assert_ok(struct fixture *fx, int rc)
{
	if (rc < 0)
		fail_msg("unpack failed: %s", ct_error_message(&fx->err));
}

static void assert_file(struct fixture *fx, const char *path, const char *content)
{
	char buf[4096] = {0};
	int fd = openat(fx->snap_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		fail_msg("opening %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(content));
	assert_string_equal(buf, content);
}

static void assert_absent(int dirfd, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		fail_msg("%s exists", path);
	assert_int_equal(errno, ENOENT);
}

static void assert_snapshot_empty(struct fixture *fx)
{
	char names[4][64];

	assert_int_equal(count_dir(fx->snap_fd, ".", names, 4), 0);
}

/* ---- what a layer may do ---- */

static void test_regular_file_metadata(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "bin/", .type = AE_IFDIR, .perm = 0750, .mtime = 1111111111},
	    {.name = "bin/su",
	     .perm = 04755,
	     .uid = 1000,
	     .gid = 1000,
	     .mtime = 1234567890,
	     .data = "#!/bin/sh\necho su\n"},
	    {.name = "bin/wall", .perm = 02711, .uid = 1000, .gid = 1000, .data = "w"},
	    {.name = "bin/empty", .perm = 0600},
	};
	struct stat st;

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));

	assert_file(fx, "bin/su", "#!/bin/sh\necho su\n");
	assert_int_equal(fstatat(fx->snap_fd, "bin/su", &st, AT_SYMLINK_NOFOLLOW), 0);
	/* setuid survives the chown that would clear it if the mode were set first */
	assert_int_equal(st.st_mode & 07777, 04755);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mtim.tv_sec, 1234567890);

	assert_int_equal(fstatat(fx->snap_fd, "bin/wall", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 02711);
	assert_int_equal(fstatat(fx->snap_fd, "bin/empty", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* the directory's mtime is the entry's, although children were added after it */
	assert_int_equal(fstatat(fx->snap_fd, "bin", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtim.tv_sec, 1111111111);

	assert_int_equal(fx->stats.entries, 4);
	assert_int_equal(fx->stats.bytes, strlen("#!/bin/sh\necho su\n") + 1);
	assert_int_equal(fx->stats.stream_bytes, fx->tar.len);
	assert_outside_untouched(fx);
}

static void test_symlinks_and_hardlinks(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "etc/", .type = AE_IFDIR},
	    {.name = "etc/shadow", .perm = 0640, .data = "root:x\n"},
	    {.name = "etc/abs",
	     .type = AE_IFLNK,
	     .symlink = "/etc/passwd",
	     .uid = 1000,
	     .gid = 1000,
	     .mtime = 1500000000},
	    {.name = "etc/rel", .type = AE_IFLNK, .symlink = "../outside/f"},
	    {.name = "etc/hard", .hardlink = "etc/shadow"},
	    {.name = "./hard2", .hardlink = "./etc/shadow"},
	    /* a hardlink to a symlink links the symlink itself */
	    {.name = "linktolink", .hardlink = "etc/rel"},
	};
	struct stat st, st2;
	char target[64] = {0};

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));

	assert_int_equal(readlinkat(fx->snap_fd, "etc/abs", target, sizeof(target) - 1), 11);
	assert_string_equal(target, "/etc/passwd");
	assert_int_equal(fstatat(fx->snap_fd, "etc/abs", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mtim.tv_sec, 1500000000);

	assert_int_equal(fstatat(fx->snap_fd, "etc/shadow", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(fstatat(fx->snap_fd, "etc/hard", &st2, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(fstatat(fx->snap_fd, "hard2", &st2, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st2.st_nlink, 3);

	assert_int_equal(fstatat(fx->snap_fd, "linktolink", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_outside_untouched(fx);
}

static void test_fifo_and_devices(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "dev/", .type = AE_IFDIR},
	    {.name = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmajor = 1, .rminor = 3},
	    {.name = "dev/loop0",
	     .type = AE_IFBLK,
	     .perm = 0660,
	     .rmajor = 7,
	     .rminor = 0,
	     .gid = 6},
	    {.name = "run/fifo",
	     .type = AE_IFIFO,
	     .perm = 0640,
	     .uid = 1000,
	     .gid = 1000,
	     .mtime = 1400000000},
	};
	struct stat st;

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));

	assert_int_equal(fstatat(fx->snap_fd, "dev/null", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(fstatat(fx->snap_fd, "dev/loop0", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISBLK(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(7, 0));
	assert_int_equal(st.st_gid, 6);
	assert_int_equal(fstatat(fx->snap_fd, "run/fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mtim.tv_sec, 1400000000);
}

static void test_long_pax_names(void **state)
{
	struct fixture *fx = *state;
	char name[400], target[400], got[400] = {0};
	struct spec specs[2] = {0};

	/* 300 characters: past ustar's 100-byte name and 155-byte prefix, so only PAX holds
	 * it; each component stays under NAME_MAX. */
	snprintf(name, sizeof(name), "long/%0200d/%094d", 0, 0);
	assert_int_equal(strlen(name), 300);
	snprintf(target, sizeof(target), "../%0296d", 0);
	specs[0] = (struct spec){.name = name, .data = "deep\n"};
	specs[1] = (struct spec){.name = "longlink", .type = AE_IFLNK, .symlink = target};
	assert_ok(fx, unpack_specs(fx, specs, 2));

	assert_file(fx, name, "deep\n");
	assert_int_equal(readlinkat(fx->snap_fd, "longlink", got, sizeof(got) - 1), 299);
	assert_string_equal(got, target);
}

/* Non-ASCII names, as Go's archive/tar writes them (a UTF-8 pax path) and as a C-locale
 * libarchive writes them (raw bytes, hdrcharset=BINARY), land byte for byte while the
 * unpacker runs in the C locale, as the plugin does. */
static void test_non_ascii_names_kept_as_bytes(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "caf\xc3\xa9/na\xc3\xafve.txt", .data = "x"},
	    {.name = "l\xc3\xa9", .type = AE_IFLNK, .symlink = "caf\xc3\xa9"},
	};
	char target[16] = {0};

	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	build_tar(fx, specs, ARRAY_SIZE(specs));
	assert_non_null(setlocale(LC_CTYPE, "C"));
	assert_non_null(memmem(fx->tar.data, fx->tar.len, "path=caf\xc3\xa9", 10));
	assert_ok(fx, unpack_tar(fx));
	assert_file(fx, "caf\xc3\xa9/na\xc3\xafve.txt", "x");
	assert_int_equal(readlinkat(fx->snap_fd, "l\xc3\xa9", target, sizeof(target)), 5);
	assert_string_equal(target, "caf\xc3\xa9");

	make_snapshot(fx);
	assert_ok(fx, unpack_specs(fx, specs, 1));
	assert_file(fx, "caf\xc3\xa9/na\xc3\xafve.txt", "x");
}

static void test_xattrs(void **state)
{
	struct fixture *fx = *state;
	/* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted = CAP_NET_BIND_SERVICE */
	static const char caps[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};
	const struct spec specs[] = {
	    {.name = "f", .data = "x", .xattr = "user.test", .xattr_value = "hello"},
	    {.name = "d/", .type = AE_IFDIR, .xattr = "user.dir", .xattr_value = "yes"},
	    {.name = "t", .data = "t", .xattr = "trusted.image", .xattr_value = "kept"},
	    {.name = "ping",
	     .data = "p",
	     .uid = 1000,
	     .perm = 0755,
	     .xattr = "security.capability",
	     .xattr_value = caps,
	     .xattr_size = sizeof(caps)},
	    {.name = "selinux",
	     .data = "s",
	     .xattr = "security.selinux",
	     .xattr_value = "system_u:object_r:shadow_t:s0"},
	    /* overlayfs would read this one from a lower layer */
	    {.name = "redirect/",
	     .type = AE_IFDIR,
	     .xattr = "trusted.overlay.redirect",
	     .xattr_value = "/etc"},
	};
	char buf[64] = {0};

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));

	char path[128];
	snprintf(path, sizeof(path), "%s/snap/f", fx->tmp);
	assert_int_equal(lgetxattr(path, "user.test", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	snprintf(path, sizeof(path), "%s/snap/d", fx->tmp);
	assert_int_equal(lgetxattr(path, "user.dir", buf, sizeof(buf)), 3);
	snprintf(path, sizeof(path), "%s/snap/t", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.image", buf, sizeof(buf)), 4);
	/* set after the chown to 1000, which would have dropped it */
	snprintf(path, sizeof(path), "%s/snap/ping", fx->tmp);
	assert_int_equal(lgetxattr(path, "security.capability", buf, sizeof(buf)), 20);
	assert_memory_equal(buf, caps, 20);
	snprintf(path, sizeof(path), "%s/snap/selinux", fx->tmp);
	assert_int_equal(lgetxattr(path, "security.selinux", buf, sizeof(buf)), -1);
	snprintf(path, sizeof(path), "%s/snap/redirect", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.overlay.redirect", buf, sizeof(buf)), -1);

	assert_int_equal(fx->stats.xattrs_skipped, 2);
	assert_int_equal(fx->notes, 2);
	assert_contains(fx->last_note, "trusted.overlay.redirect");
	assert_contains(fx->last_note, "entry \"redirect/\"");
}

static void test_xattr_on_symlink(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "target", .data = "t"},
	    {.name = "l",
	     .type = AE_IFLNK,
	     .symlink = "target",
	     .xattr = "trusted.on-link",
	     .xattr_value = "link"},
	    /* the kernel refuses user.* on symlinks: noted, not fatal */
	    {.name = "u",
	     .type = AE_IFLNK,
	     .symlink = "target",
	     .xattr = "user.no",
	     .xattr_value = "no"},
	};
	char path[128], buf[16] = {0};

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));
	snprintf(path, sizeof(path), "%s/snap/l", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.on-link", buf, sizeof(buf)), 4);
	/* on the link, not on what it points to */
	snprintf(path, sizeof(path), "%s/snap/target", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.on-link", buf, sizeof(buf)), -1);
	assert_int_equal(fx->stats.xattrs_skipped, 1);
}

static void test_whiteouts(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = ".wh.gone"},
	    {.name = "d/", .type = AE_IFDIR},
	    {.name = "d/.wh..wh..opq"},
	    {.name = "d/new", .data = "n"},
	    {.name = "e/sub/.wh.old"},
	    /* aufs metadata: skipped */
	    {.name = ".wh..wh.plnk/", .type = AE_IFDIR},
	    {.name = ".wh..wh.plnk/123.456", .data = "x"},
	    {.name = ".wh..wh.aufs"},
	};
	char path[128], buf[8] = {0};
	struct stat st;

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));

	assert_int_equal(fstatat(fx->snap_fd, "gone", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	assert_int_equal(fstatat(fx->snap_fd, "e/sub/old", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_absent(fx->snap_fd, ".wh.gone");
	snprintf(path, sizeof(path), "%s/snap/d", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'y');
	assert_file(fx, "d/new", "n");
	assert_absent(fx->snap_fd, "d/.wh..wh..opq");
	assert_absent(fx->snap_fd, ".wh..wh.plnk");
	assert_absent(fx->snap_fd, ".wh..wh.aufs");
	assert_int_equal(fx->stats.whiteouts, 3);
	assert_int_equal(fx->stats.entries, ARRAY_SIZE(specs));
}

static void test_whiteouts_rootless(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "d/.wh..wh..opq"},
	    {.name = ".wh.gone"},
	};
	char path[128], buf[8];
	struct stat st;

	fx->opts.rootless = true;
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));
	snprintf(path, sizeof(path), "%s/snap/d", fx->tmp);
	/* what an overlay mounted with userxattr reads */
	assert_int_equal(lgetxattr(path, "user.overlay.opaque", buf, sizeof(buf)), 1);
	assert_int_equal(lgetxattr(path, "trusted.overlay.opaque", buf, sizeof(buf)), -1);
	assert_int_equal(fstatat(fx->snap_fd, "gone", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
}

/* A whiteout and then a directory of the same name in one layer: delete the lower one,
 * create this one, i.e. an opaque directory. A whiteout after an entry of this layer
 * leaves the entry (whiteouts apply to lower layers only). */
static void test_whiteout_then_directory(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = ".wh.d"},	  {.name = "d/", .type = AE_IFDIR}, {.name = "d/x", .data = "x"},
	    {.name = ".wh.e"},	  {.name = "e/y", .data = "y"},	    {.name = "keep", .data = "k"},
	    {.name = ".wh.keep"},
	};
	char path[128], buf[8];
	struct stat st;

	if (!is_root())
		skip();
	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));
	snprintf(path, sizeof(path), "%s/snap/d", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
	snprintf(path, sizeof(path), "%s/snap/e", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
	assert_file(fx, "d/x", "x");
	assert_file(fx, "e/y", "y");
	assert_int_equal(fstatat(fx->snap_fd, "e", &st, AT_SYMLINK_NOFOLLOW), 0);
	/* an implicit parent is 0755 whatever the umask */
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_file(fx, "keep", "k");
}

static void test_replace_earlier_entries(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "f", .data = "first"},
	    {.name = "f", .data = "second"},
	    {.name = "d/", .type = AE_IFDIR, .perm = 0755},
	    {.name = "d/keep", .data = "k"},
	    {.name = "d/", .type = AE_IFDIR, .perm = 0700},
	    /* a symlink replaced by a file: the file is written in its place, not through it */
	    {.name = "s", .type = AE_IFLNK, .symlink = "../outside/f"},
	    {.name = "s", .data = "not through"},
	    /* a directory tree replaced by a file, a file by a directory */
	    {.name = "t/", .type = AE_IFDIR},
	    {.name = "t/u/v", .data = "v"},
	    {.name = "t", .data = "now a file"},
	    {.name = "g", .data = "g"},
	    {.name = "g/", .type = AE_IFDIR},
	    /* a symlink replaced by a directory is not followed either */
	    {.name = "l", .type = AE_IFLNK, .symlink = "../outside"},
	    {.name = "l/", .type = AE_IFDIR},
	    {.name = "l/new", .data = "in"},
	};
	struct stat st;

	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));
	assert_file(fx, "f", "second");
	assert_file(fx, "d/keep", "k");
	assert_int_equal(fstatat(fx->snap_fd, "d", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_file(fx, "s", "not through");
	assert_file(fx, "t", "now a file");
	assert_int_equal(fstatat(fx->snap_fd, "g", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fstatat(fx->snap_fd, "l", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_file(fx, "l/new", "in");
	assert_outside_untouched(fx);
}

static void test_root_entry_and_implicit_parents(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "./", .type = AE_IFDIR, .perm = 0751, .mtime = 1000000000},
	    {.name = "a/b/c", .data = "c"},
	};
	mode_t old = umask(077);
	struct stat st;
	int rc;

	rc = unpack_specs(fx, specs, ARRAY_SIZE(specs));
	umask(old);
	assert_ok(fx, rc);
	assert_int_equal(fstat(fx->snap_fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(fstatat(fx->snap_fd, "a/b", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_file(fx, "a/b/c", "c");
}

static void test_sparse_file(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "sparse", .data = "tail", .sparse_offset = 1 << 20},
	};
	char buf[8] = {0};
	struct stat st;
	int fd;

	assert_ok(fx, unpack_specs(fx, specs, ARRAY_SIZE(specs)));
	assert_int_equal(fstatat(fx->snap_fd, "sparse", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_size, (1 << 20) + 4);
	fd = openat(fx->snap_fd, "sparse", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 4, 1 << 20), 4);
	assert_string_equal(buf, "tail");
	assert_int_equal(pread(fd, buf, 1, 4096), 1);
	assert_int_equal(buf[0], 0);
	close(fd);
	assert_int_equal(fx->stats.bytes, (1 << 20) + 4);
}

/* The pull pipeline's shape: a reader that returns a few bytes at a time. Bytes after the
 * end-of-archive blocks are read too, so the caller's digest covers the whole blob. */
static void test_reader_streams_and_drains(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "a", .data = "streamed\n"},
	    {.name = "b/c", .size = 70000},
	};
	struct chunk_reader r = {.chunk = 7};
	struct stat st;
	int rc;

	build_tar(fx, specs, ARRAY_SIZE(specs));
	/* trailing padding, as a tar writer with 10 KiB blocks leaves */
	fx->tar.data = realloc(fx->tar.data, fx->tar.len + 8192);
	assert_non_null(fx->tar.data);
	memset(fx->tar.data + fx->tar.len, 0, 8192);
	fx->tar.len += 8192;
	r.data = fx->tar.data;
	r.len = fx->tar.len;

	rc = unpack_layer_from_reader(chunk_read, &r, fx->snap_fd, &fx->opts, &fx->stats, &fx->err);
	assert_ok(fx, rc);
	assert_file(fx, "a", "streamed\n");
	assert_int_equal(fstatat(fx->snap_fd, "b/c", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_size, 70000);
	assert_int_equal(r.pos, r.len);
	assert_int_equal(r.eof_reads, 1);
	assert_int_equal(fx->stats.stream_bytes, fx->tar.len);
}

static void test_reader_error_is_reported(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "big", .size = 100000},
	};
	struct chunk_reader r = {.chunk = 4096, .fail_at = 20000};
	int rc;

	build_tar(fx, specs, ARRAY_SIZE(specs));
	r.data = fx->tar.data;
	r.len = fx->tar.len;
	rc = unpack_layer_from_reader(chunk_read, &r, fx->snap_fd, &fx->opts, &fx->stats, &fx->err);
	assert_true(rc < 0);
	/* the reader's own error, with where it happened */
	assert_true(ct_error_is(&fx->err, CT_ERR_UNAVAILABLE));
	assert_contains(fx->err.message, "connection reset by registry");
	assert_contains(fx->err.message, "unpacking layer " LAYER_NAME " of " IMAGE_NAME);
	assert_contains(fx->err.message, "entry \"big\"");
}

static void test_malformed_streams_refused(void **state)
{
	struct fixture *fx = *state;
	static const char gzip[64] = {0x1f, (char)0x8b, 0x08, 0x00};
	const struct spec specs[] = {{.name = "a", .size = 5000}};

	fx->tar.data = malloc(sizeof(gzip));
	assert_non_null(fx->tar.data);
	memcpy(fx->tar.data, gzip, sizeof(gzip));
	fx->tar.len = sizeof(gzip);
	assert_refused(fx, unpack_tar(fx), CT_ERR_INVALID_ARGUMENT, NULL);
	assert_contains(fx->err.message, "still compressed");
	assert_snapshot_empty(fx);

	/* cut in the middle of the file's data */
	build_tar(fx, specs, 1);
	fx->tar.len = 2048;
	assert_refused(fx, unpack_tar(fx), CT_ERR_INVALID_ARGUMENT, "a");
	assert_contains(fx->err.message, "malformed tar stream");

	/* a component longer than NAME_MAX is hostile content, not an I/O error */
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = '\0';
	const struct spec toolong[] = {{.name = longname, .data = "x"}};
	make_snapshot(fx);
	assert_refused(fx, unpack_specs(fx, toolong, 1), CT_ERR_INVALID_ARGUMENT, NULL);
	assert_contains(fx->err.message, "NAME_MAX");
	assert_snapshot_empty(fx);
}

/* Docker's "empty layer" is a tar of only the end-of-archive blocks. */
static void test_empty_layer(void **state)
{
	struct fixture *fx = *state;

	build_tar(fx, NULL, 0);
	assert_ok(fx, unpack_tar(fx));
	assert_snapshot_empty(fx);
	assert_int_equal(fx->stats.entries, 0);
	assert_int_equal(fx->stats.stream_bytes, fx->tar.len);
}

/* Rootless for real: a child that dropped to nobody unpacks into a directory it owns.
 * Owners it can't set are skipped and counted, trusted.* xattrs are skipped, whiteouts
 * (allowed unprivileged since Linux 5.8) and user.overlay.opaque still work. */
static void test_rootless_unprivileged(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "f", .data = "f", .uid = 1000, .gid = 1000, .perm = 0640},
	    {.name = "fifo", .type = AE_IFIFO, .perm = 0600},
	    {.name = "t", .data = "t", .xattr = "trusted.x", .xattr_value = "1"},
	    {.name = "u", .data = "u", .xattr = "user.x", .xattr_value = "1"},
	    {.name = ".wh.gone"},
	    {.name = "d/.wh..wh..opq"},
	};
	_cleanup_close_ int memfd = memfd_create("layer", MFD_CLOEXEC);
	struct unpack_stats stats = {0};
	char path[128], buf[8];
	int pipefd[2], status;
	struct stat st;
	pid_t pid;

	if (!is_root())
		skip();
	build_tar(fx, specs, ARRAY_SIZE(specs));
	assert_true(memfd >= 0);
	assert_int_equal(write(memfd, fx->tar.data, fx->tar.len), (ssize_t)fx->tar.len);
	assert_int_equal(lseek(memfd, 0, SEEK_SET), 0);
	assert_int_equal(fchown(fx->tmp_fd, 65534, 65534), 0);
	assert_int_equal(fchown(fx->snap_fd, 65534, 65534), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ct_error err = CT_ERROR_INIT;
		struct unpack_options opts = fx->opts;

		opts.rootless = true;
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(77);
		/* a uid change makes us non-dumpable, which closes /proc/self/fd to ourselves;
		 * a real rootless process never changed uid */
		prctl(PR_SET_DUMPABLE, 1);
		if (unpack_layer_from_fd(memfd, fx->snap_fd, &opts, &stats, &err) < 0) {
			fprintf(stderr, "%s\n", ct_error_message(&err));
			_exit(1);
		}
		if (write(pipefd[1], &stats, sizeof(stats)) != sizeof(stats))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(pipefd[0], &stats, sizeof(stats)), sizeof(stats));
	close(pipefd[0]);

	assert_int_equal(fstatat(fx->snap_fd, "f", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(fstatat(fx->snap_fd, "fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* every entry but the two markers names uid 0 or 1000 */
	assert_int_equal(stats.owners_skipped, 4);
	assert_int_equal(stats.xattrs_skipped, 1);
	snprintf(path, sizeof(path), "%s/snap/u", fx->tmp);
	assert_int_equal(lgetxattr(path, "user.x", buf, sizeof(buf)), 1);
	snprintf(path, sizeof(path), "%s/snap/t", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.x", buf, sizeof(buf)), -1);
	assert_int_equal(fstatat(fx->snap_fd, "gone", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	snprintf(path, sizeof(path), "%s/snap/d", fx->tmp);
	assert_int_equal(lgetxattr(path, "user.overlay.opaque", buf, sizeof(buf)), 1);
	assert_int_equal(stats.whiteouts, 2);
}

/* ---- what a layer may not do ---- */

static void test_refuse_dotdot(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"../escape",	   "a/../../escape", "./../escape",
					    "a/b/../../../escape", "ok/..",	     ".."};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct spec specs[] = {{.name = names[i], .data = "escaped"}};
		int rc = unpack_specs(fx, specs, 1);

		assert_refused(fx, rc, CT_ERR_INVALID_ARGUMENT, names[i]);
		assert_contains(fx->err.message, "\"..\"");
		assert_snapshot_empty(fx);
	}
}

static void test_refuse_dotdot_in_directory_and_symlink_names(void **state)
{
	struct fixture *fx = *state;
	const struct spec dir[] = {{.name = "../escape-dir/", .type = AE_IFDIR}};
	const struct spec lnk[] = {{.name = "../escape-link", .type = AE_IFLNK, .symlink = "x"}};

	assert_refused(fx, unpack_specs(fx, dir, 1), CT_ERR_INVALID_ARGUMENT, "../escape-dir/");
	assert_refused(fx, unpack_specs(fx, lnk, 1), CT_ERR_INVALID_ARGUMENT, "../escape-link");
	assert_snapshot_empty(fx);
}

static void test_refuse_absolute(void **state)
{
	struct fixture *fx = *state;
	char abs[128];
	int rc;

	/* inside the temp directory, so a naive open() would show up beside the snapshot */
	snprintf(abs, sizeof(abs), "%s/abs-escape", fx->tmp);
	const struct spec specs[] = {{.name = abs, .data = "escaped"}};
	rc = unpack_specs(fx, specs, 1);
	assert_refused(fx, rc, CT_ERR_INVALID_ARGUMENT, abs);
	assert_contains(fx->err.message, "absolute");
	assert_snapshot_empty(fx);

	const struct spec root[] = {{.name = "/", .type = AE_IFDIR}};
	assert_refused(fx, unpack_specs(fx, root, 1), CT_ERR_INVALID_ARGUMENT, "/");
}

static void test_refuse_write_through_symlink(void **state)
{
	struct fixture *fx = *state;
	char abs_tmp[128], through_root[192], outside[128];

	snprintf(abs_tmp, sizeof(abs_tmp), "%s", fx->tmp);
	snprintf(through_root, sizeof(through_root), "a%s/escaped", fx->tmp);
	snprintf(outside, sizeof(outside), "%s/outside", fx->tmp);
	const struct {
		const char *target, *entry;
	} cases[] = {
	    {"/", through_root},    /* a -> /, then a/tmp/unpack-…/escaped */
	    {abs_tmp, "a/escaped"}, /* a -> the temp directory */
	    {"../outside", "a/f"},  /* a -> ../outside, then overwrite outside/f */
	    {outside, "a/new"},	    /* absolute form of the same */
	    {".", "a/a/../../x"},   /* ".." also refused under a symlink */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct spec specs[] = {
		    {.name = "a", .type = AE_IFLNK, .symlink = cases[i].target},
		    {.name = cases[i].entry, .data = "escaped"},
		};
		int rc;

		make_snapshot(fx);
		rc = unpack_specs(fx, specs, ARRAY_SIZE(specs));
		assert_refused(fx, rc, CT_ERR_INVALID_ARGUMENT, cases[i].entry);
	}
	/* the symlink check itself, not the ".." rule, stopped the first four */
	make_snapshot(fx);
	const struct spec specs[] = {
	    {.name = "a", .type = AE_IFLNK, .symlink = "../outside"},
	    {.name = "a/f", .data = "escaped"},
	};
	assert_refused(fx, unpack_specs(fx, specs, 2), CT_ERR_INVALID_ARGUMENT, "a/f");
	assert_contains(fx->err.message, "symlink \"a\"");
}

/* Even a symlink that stays inside the snapshot is not written through: in the merged
 * rootfs it may resolve elsewhere, and a lower layer's view is not ours to assume. */
static void test_refuse_write_through_inner_symlink(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "real/", .type = AE_IFDIR},
	    {.name = "real/x", .data = "x"},
	    {.name = "a", .type = AE_IFLNK, .symlink = "real"},
	    {.name = "a/file", .data = "through"},
	};
	const struct spec link[] = {
	    {.name = "real/", .type = AE_IFDIR},
	    {.name = "real/x", .data = "x"},
	    {.name = "a", .type = AE_IFLNK, .symlink = "real"},
	    {.name = "h", .hardlink = "a/x"},
	};

	assert_refused(fx, unpack_specs(fx, specs, 4), CT_ERR_INVALID_ARGUMENT, "a/file");
	assert_contains(fx->err.message, "symlink \"a\"");
	assert_absent(fx->snap_fd, "real/file");
	make_snapshot(fx);
	assert_refused(fx, unpack_specs(fx, link, 4), CT_ERR_INVALID_ARGUMENT, "h");
	assert_absent(fx->snap_fd, "h");
}

static void test_refuse_write_through_nested_symlink(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "d/", .type = AE_IFDIR},
	    {.name = "d/l", .type = AE_IFLNK, .symlink = "../../outside"},
	    {.name = "d/l/sub/", .type = AE_IFDIR},
	};
	const struct spec specs2[] = {
	    {.name = "d/", .type = AE_IFDIR},
	    {.name = "d/l", .type = AE_IFLNK, .symlink = "../../outside"},
	    {.name = "d/l/.wh.f"},
	};
	const struct spec specs3[] = {
	    {.name = "l", .type = AE_IFLNK, .symlink = "../outside"},
	    {.name = "l/.wh..wh..opq"},
	};

	assert_refused(fx, unpack_specs(fx, specs, 3), CT_ERR_INVALID_ARGUMENT, "d/l/sub/");
	make_snapshot(fx);
	/* a whiteout must not replace outside/f with a device either */
	assert_refused(fx, unpack_specs(fx, specs2, 3), CT_ERR_INVALID_ARGUMENT, "d/l/.wh.f");
	make_snapshot(fx);
	assert_refused(fx, unpack_specs(fx, specs3, 2), CT_ERR_INVALID_ARGUMENT, "l/.wh..wh..opq");
	char path[128], buf[4];
	snprintf(path, sizeof(path), "%s/outside", fx->tmp);
	assert_int_equal(lgetxattr(path, "trusted.overlay.opaque", buf, sizeof(buf)), -1);
}

static void test_refuse_hardlink_outside(void **state)
{
	struct fixture *fx = *state;
	char abs[128];

	snprintf(abs, sizeof(abs), "%s/outside/f", fx->tmp);
	const char *targets[] = {"../outside/f", abs, "x/../../outside/f"};

	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		const struct spec specs[] = {{.name = "h", .hardlink = targets[i]}};

		assert_refused(fx, unpack_specs(fx, specs, 1), CT_ERR_INVALID_ARGUMENT, "h");
		assert_contains(fx->err.message, "hardlink target");
		assert_snapshot_empty(fx);
	}
}

static void test_refuse_hardlink_through_symlink(void **state)
{
	struct fixture *fx = *state;
	char outside[128];

	snprintf(outside, sizeof(outside), "%s/outside", fx->tmp);
	const char *dirs[] = {"../outside", outside};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		const struct spec specs[] = {
		    {.name = "l", .type = AE_IFLNK, .symlink = dirs[i]},
		    {.name = "h", .hardlink = "l/f"},
		};

		make_snapshot(fx);
		assert_refused(fx, unpack_specs(fx, specs, 2), CT_ERR_INVALID_ARGUMENT, "h");
		assert_contains(fx->err.message, "symlink \"l\"");
		assert_absent(fx->snap_fd, "h");
	}
}

static void test_refuse_hardlink_to_directory(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "d/", .type = AE_IFDIR},
	    {.name = "h", .hardlink = "d"},
	};
	const struct spec root[] = {{.name = "h", .hardlink = "./"}};
	const struct spec missing[] = {{.name = "h", .hardlink = "nothere"}};

	assert_refused(fx, unpack_specs(fx, specs, 2), CT_ERR_INVALID_ARGUMENT, "h");
	assert_contains(fx->err.message, "directory");
	assert_absent(fx->snap_fd, "h");
	assert_refused(fx, unpack_specs(fx, root, 1), CT_ERR_INVALID_ARGUMENT, "h");
	assert_refused(fx, unpack_specs(fx, missing, 1), CT_ERR_INVALID_ARGUMENT, "h");
}

static void test_refuse_bad_whiteouts(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {".wh.",	 "d/.wh.",  ".wh..",	  ".wh...",
					    "x/.wh.y/z", ".wh.a/b", "./.wh./../x"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct spec specs[] = {{.name = names[i]}};

		make_snapshot(fx);
		assert_refused(fx, unpack_specs(fx, specs, 1), CT_ERR_INVALID_ARGUMENT, names[i]);
		assert_snapshot_empty(fx);
	}
}

static void test_refuse_entry_limit(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "1", .data = "1"},
	    {.name = "2", .data = "2"},
	    {.name = "3", .data = "3"},
	    {.name = "4", .data = "4"},
	};

	fx->opts.max_entries = 4;
	assert_ok(fx, unpack_specs(fx, specs, 4));
	make_snapshot(fx);
	fx->opts.max_entries = 3;
	assert_refused(fx, unpack_specs(fx, specs, 4), CT_ERR_INVALID_ARGUMENT, "4");
	assert_contains(fx->err.message, "more than 3 entries");
	assert_absent(fx->snap_fd, "4");
	assert_int_equal(fx->stats.entries, 3);
}

/* 100 files of 1000 bytes: 100000 bytes of data, but 153600 bytes of tar stream. */
static void test_refuse_byte_limit_stream(void **state)
{
	struct fixture *fx = *state;
	struct spec specs[100];
	char names[100][8];

	for (size_t i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "f%03zu", i);
		specs[i] = (struct spec){.name = names[i], .size = 1000};
	}
	fx->opts.max_bytes = 160000;
	assert_ok(fx, unpack_specs(fx, specs, 100));
	make_snapshot(fx);
	fx->opts.max_bytes = 120000;
	assert_refused(fx, unpack_specs(fx, specs, 100), CT_ERR_INVALID_ARGUMENT, NULL);
	assert_contains(fx->err.message, "tar stream is larger than the limit of 120000 bytes");
	assert_true(fx->stats.bytes <= 120000);
}

/* Bytes after the end-of-archive blocks count too: they are read, for the digest. */
static void test_refuse_byte_limit_trailing_data(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {{.name = "a", .data = "a"}};
	size_t tail = 1 << 20;

	struct chunk_reader r = {.chunk = 512};
	int rc;

	fx->opts.max_bytes = 65536;
	build_tar(fx, specs, 1);
	fx->tar.data = realloc(fx->tar.data, fx->tar.len + tail);
	assert_non_null(fx->tar.data);
	memset(fx->tar.data + fx->tar.len, 0, tail);
	fx->tar.len += tail;
	r.data = fx->tar.data;
	r.len = fx->tar.len;
	rc = unpack_layer_from_reader(chunk_read, &r, fx->snap_fd, &fx->opts, &fx->stats, &fx->err);
	assert_refused(fx, rc, CT_ERR_INVALID_ARGUMENT, NULL);
	/* the entry itself was fine */
	assert_file(fx, "a", "a");
	assert_contains(fx->err.message, "past the end of the tar stream");
	assert_contains(fx->err.message, "larger than the limit of 65536 bytes");
}

/* Through a reader with small chunks the header arrives long before the data: the
 * declared size is refused before the file is created. */
static void test_refuse_byte_limit_declared(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "small", .size = 1000},
	    {.name = "big", .size = 300000},
	};
	struct chunk_reader r = {.chunk = 512};
	int rc;

	fx->opts.max_bytes = 200000;
	build_tar(fx, specs, 2);
	r.data = fx->tar.data;
	r.len = fx->tar.len;
	rc = unpack_layer_from_reader(chunk_read, &r, fx->snap_fd, &fx->opts, &fx->stats, &fx->err);
	assert_refused(fx, rc, CT_ERR_INVALID_ARGUMENT, "big");
	assert_contains(fx->err.message, "files add up to more than the limit of 200000");
	assert_absent(fx->snap_fd, "big");
	assert_int_equal(fx->stats.bytes, 1000);
}

/* A sparse file is a few bytes in the stream and gigabytes on read: its declared size
 * counts. */
static void test_refuse_sparse_bomb(void **state)
{
	struct fixture *fx = *state;
	const struct spec specs[] = {
	    {.name = "bomb", .data = "x", .sparse_size = INT64_C(1) << 40},
	};

	fx->opts.max_bytes = 1 << 20;
	build_tar(fx, specs, 1);
	assert_true(fx->tar.len < 8192);
	assert_refused(fx, unpack_tar(fx), CT_ERR_INVALID_ARGUMENT, "bomb");
	assert_absent(fx->snap_fd, "bomb");
}

static void test_refuse_device_rootless(void **state)
{
	struct fixture *fx = *state;
	const struct spec chr[] = {{.name = "dev/mem", .type = AE_IFCHR, .rmajor = 1, .rminor = 1}};
	const struct spec blk[] = {{.name = "sda", .type = AE_IFBLK, .rmajor = 8, .rminor = 0}};
	const struct spec fifo[] = {{.name = "fifo", .type = AE_IFIFO}};
	struct stat st;

	fx->opts.rootless = true;
	assert_refused(fx, unpack_specs(fx, chr, 1), CT_ERR_PERMISSION_DENIED, "dev/mem");
	assert_contains(fx->err.message, "rootless");
	assert_absent(fx->snap_fd, "dev/mem");
	assert_refused(fx, unpack_specs(fx, blk, 1), CT_ERR_PERMISSION_DENIED, "sda");
	assert_absent(fx->snap_fd, "sda");
	/* fifos need no privilege */
	assert_ok(fx, unpack_specs(fx, fifo, 1));
	assert_int_equal(fstatat(fx->snap_fd, "fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISFIFO(st.st_mode));
}

static void test_refuse_bad_owner_and_root_replacement(void **state)
{
	struct fixture *fx = *state;
	/* (uid_t)-1 is "leave unchanged" to chown(2) */
	const struct spec owner[] = {{.name = "f", .data = "x", .uid = UINT32_MAX}};
	const struct spec root[] = {{.name = "./", .type = AE_IFLNK, .symlink = "/"}};

	assert_refused(fx, unpack_specs(fx, owner, 1), CT_ERR_INVALID_ARGUMENT, "f");
	assert_refused(fx, unpack_specs(fx, root, 1), CT_ERR_INVALID_ARGUMENT, "./");
	assert_snapshot_empty(fx);
}

/* A pax path with a NUL inside: whatever libarchive makes of it, nothing lands outside. */
static void test_nul_in_pax_name(void **state)
{
	struct fixture *fx = *state;
	char name[130];
	const struct spec specs[] = {{.name = name, .data = "x"}};
	static const char evil[] = "ok\0/../../outside/f";
	char *p;
	int rc;

	memset(name, 'A', 120);
	name[120] = '\0';
	build_tar(fx, specs, 1);
	p = memmem(fx->tar.data, fx->tar.len, "path=AAAA", 9);
	assert_non_null(p);
	memcpy(p + 5, evil, sizeof(evil) - 1);
	rc = unpack_tar(fx);
	assert_outside_untouched(fx);
	if (rc == 0) {
		char names[4][64];

		/* the name ends at the NUL */
		assert_int_equal(count_dir(fx->snap_fd, ".", names, 4), 1);
		assert_string_equal(names[0], "ok");
	}
}

/* The snapshots work as overlay lower layers: a whiteout hides the lower file, an opaque
 * directory hides the lower directory's contents. */
static void test_overlay_mount(void **state)
{
	struct fixture *fx = *state;
	const struct spec lower[] = {
	    {.name = "gone", .data = "g"},
	    {.name = "d/old", .data = "o"},
	    {.name = "keep", .data = "k"},
	};
	const struct spec upper[] = {
	    {.name = ".wh.gone"},
	    {.name = "d/.wh..wh..opq"},
	    {.name = "d/new", .data = "n"},
	};
	int status;
	pid_t pid;

	if (!is_root())
		skip();
	assert_int_equal(mkdirat(fx->tmp_fd, "outside/l1", 0755), 0);
	assert_int_equal(mkdirat(fx->tmp_fd, "outside/l2", 0755), 0);
	assert_int_equal(mkdirat(fx->tmp_fd, "outside/merged", 0755), 0);
	close(fx->snap_fd);
	fx->snap_fd = openat(fx->tmp_fd, "outside/l1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_ok(fx, unpack_specs(fx, lower, ARRAY_SIZE(lower)));
	close(fx->snap_fd);
	fx->snap_fd = openat(fx->tmp_fd, "outside/l2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_ok(fx, unpack_specs(fx, upper, ARRAY_SIZE(upper)));

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char opts[256], merged[128], path[192];
		struct stat st;

		snprintf(opts, sizeof(opts), "lowerdir=%s/outside/l2:%s/outside/l1", fx->tmp,
			 fx->tmp);
		snprintf(merged, sizeof(merged), "%s/outside/merged", fx->tmp);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("overlay", merged, "overlay", MS_RDONLY, opts) < 0)
			_exit(77);
		snprintf(path, sizeof(path), "%s/gone", merged);
		if (stat(path, &st) == 0 || errno != ENOENT)
			_exit(1);
		snprintf(path, sizeof(path), "%s/d/old", merged);
		if (stat(path, &st) == 0 || errno != ENOENT)
			_exit(2);
		snprintf(path, sizeof(path), "%s/d/new", merged);
		if (stat(path, &st) < 0)
			_exit(3);
		snprintf(path, sizeof(path), "%s/keep", merged);
		if (stat(path, &st) < 0)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	_cleanup_close_ int file = openat(fx->tmp_fd, "outside/f", O_RDONLY | O_CLOEXEC);
	const struct spec specs[] = {{.name = "a", .data = "a"}};

	assert_true(file >= 0);
	build_tar(fx, specs, 1);
	assert_true(unpack_layer_from_reader(NULL, NULL, fx->snap_fd, NULL, NULL, &fx->err) < 0);
	assert_true(ct_error_is(&fx->err, CT_ERR_INVALID_ARGUMENT));
	assert_true(unpack_layer_from_fd(file, file, NULL, NULL, &fx->err) < 0);
	assert_contains(fx->err.message, "not a directory");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_regular_file_metadata),
	    T(test_symlinks_and_hardlinks),
	    T(test_fifo_and_devices),
	    T(test_long_pax_names),
	    T(test_non_ascii_names_kept_as_bytes),
	    T(test_xattrs),
	    T(test_xattr_on_symlink),
	    T(test_whiteouts),
	    T(test_whiteouts_rootless),
	    T(test_whiteout_then_directory),
	    T(test_replace_earlier_entries),
	    T(test_root_entry_and_implicit_parents),
	    T(test_sparse_file),
	    T(test_reader_streams_and_drains),
	    T(test_reader_error_is_reported),
	    T(test_malformed_streams_refused),
	    T(test_empty_layer),
	    T(test_rootless_unprivileged),
	    T(test_refuse_dotdot),
	    T(test_refuse_dotdot_in_directory_and_symlink_names),
	    T(test_refuse_absolute),
	    T(test_refuse_write_through_symlink),
	    T(test_refuse_write_through_inner_symlink),
	    T(test_refuse_write_through_nested_symlink),
	    T(test_refuse_hardlink_outside),
	    T(test_refuse_hardlink_through_symlink),
	    T(test_refuse_hardlink_to_directory),
	    T(test_refuse_bad_whiteouts),
	    T(test_refuse_entry_limit),
	    T(test_refuse_byte_limit_stream),
	    T(test_refuse_byte_limit_trailing_data),
	    T(test_refuse_byte_limit_declared),
	    T(test_refuse_sparse_bomb),
	    T(test_refuse_device_rootless),
	    T(test_refuse_bad_owner_and_root_replacement),
	    T(test_nul_in_pax_name),
	    T(test_overlay_mount),
	    T(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
