/* libFuzzer target for the layer unpacker (src/plugins/core-images/unpack.c) and, in a
 * second mode, the gzip side of the layer decompressor (decompress.c) in front of it.
 *
 * The first input byte is a mode: bit 0 set gunzips the rest through decompressor_new
 * (OCI_COMPRESSION_GZIP) before unpacking, clear hands the rest over as a raw tar stream;
 * bit 1 unpacks rootless (no devices, user.overlay.opaque); bits 2-4 pick how many bytes
 * the reader hands out per call (all, 1, 7, 511, 512, 513, 4096, 65537), so libarchive's
 * buffering across header and data boundaries is exercised too.
 *
 * Each run unpacks into a fresh mkdtemp directory /tmp/fuzz-unpack-<pid>/snap-XXXXXX,
 * with small limits (max_bytes 1 MiB, max_entries 1000). Next to it are the canaries a
 * layer must never touch: an empty directory outside/ and a file canary (mode 0640,
 * fixed content, times and no xattrs). After the run the target aborts when anything
 * new appeared in /tmp/fuzz-unpack-<pid>/, when outside/ is not empty, when the canary
 * file changed (content, mode, owner, times, xattrs: a chmod/chown/utimens/setxattr
 * through a symlink), or when the run leaked a file descriptor. Then the snapshot is removed
 * with nftw(FTW_PHYS | FTW_DEPTH | FTW_MOUNT), which follows no symlink.
 *
 * It must run as root to reach the privileged paths (mknod, chown, trusted.* xattrs),
 * and it creates device nodes under /tmp while it runs. Build and run from the top of
 * the tree (libarchive, ISA-L, libzstd, jansson and libcrypto from the distribution):
 *
 *   mkdir -p build-fuzz/corpus-unpack
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -DCONTAINER_VERSION='"fuzz"' -I src/lib -I src/plugins/core-images \
 *         tests/fuzz/fuzz_unpack.c src/plugins/core-images/unpack.c \
 *         src/plugins/core-images/decompress.c src/lib/oci/digest.c src/lib/error.c \
 *         src/lib/log.c src/lib/util.c \
 *         -larchive -lisal -lzstd -lcrypto -o build-fuzz/fuzz_unpack
 *   build-fuzz/fuzz_unpack -max_total_time=90 -max_len=65536 -timeout=10 \
 *         build-fuzz/corpus-unpack
 *
 * FUZZ_UNPACK_VERBOSE=1 prints each run's outcome (the error, or what was unpacked):
 * run it with -runs=0 over the seeds to see every hostile layer refused.
 *
 * The seed corpus (plain and hostile layers, raw and gzipped) is tests/fuzz/corpus/unpack/,
 * made by tests/fuzz/make-unpack-seeds.sh; tests/fuzz/run builds and runs this target. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "decompress.h"
#include "error.h"
#include "unpack.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_BYTES   (UINT64_C(1) << 20)
#define MAX_ENTRIES 1000
#define CANARY_TEXT "canary: a layer must never change this file\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char base[64];	      /* /tmp/fuzz-unpack-<pid> */
static char outside[96];      /* base/outside */
static char canary[96];	      /* base/canary */
static struct stat canary_st; /* as created */
static int first_free_fd;     /* the lowest free fd when the run started */
static bool verbose;	      /* FUZZ_UNPACK_VERBOSE=1: print each run's outcome */

struct mem_reader {
	const uint8_t *data;
	size_t len, off, chunk;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, struct ct_error *err)
{
	struct mem_reader *m = ctx;
	size_t n = m->len - m->off;

	(void)err;
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static void note_cb(void *ctx, const char *message)
{
	unsigned *notes = ctx;

	CHECK(message && *message);
	(*notes)++;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT) {
		fprintf(stderr, "fuzz_unpack: removing %s: %s\n", path, strerror(errno));
		abort();
	}
	return 0;
}

static void remove_tree(const char *path)
{
	if (nftw(path, remove_one, 64, FTW_PHYS | FTW_DEPTH | FTW_MOUNT) < 0 && errno != ENOENT) {
		fprintf(stderr, "fuzz_unpack: walking %s: %s\n", path, strerror(errno));
		abort();
	}
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	CHECK(fd >= 0);
	close(fd);
	return fd;
}

/* Every fd the unpacker opened is closed again, on error paths too. */
static void check_fds(void)
{
	char link[64], target[512];
	int fd = lowest_free_fd();
	ssize_t n;

	if (fd == first_free_fd)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", first_free_fd);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "fuzz_unpack: fd %d leaked (%s); the lowest free fd is now %d\n",
		first_free_fd, target, fd);
	abort();
}

/* Nothing but outside/, canary and the snapshot in base; outside/ empty; canary intact. */
static void check_no_escape(const char *snap_name)
{
	char text[sizeof(CANARY_TEXT) + 16];
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;
	int fd;

	d = opendir(base);
	CHECK(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "outside") || !strcmp(de->d_name, "canary") ||
		    !strcmp(de->d_name, snap_name))
			continue;
		fprintf(stderr, "fuzz_unpack: ESCAPE: %s/%s was created outside the snapshot\n",
			base, de->d_name);
		abort();
	}
	closedir(d);

	d = opendir(outside);
	CHECK(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fprintf(stderr, "fuzz_unpack: ESCAPE: %s/%s was created outside the snapshot\n",
			outside, de->d_name);
		abort();
	}
	closedir(d);
	CHECK(lstat(outside, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	CHECK(llistxattr(outside, text, sizeof(text)) == 0);

	CHECK(lstat(canary, &st) == 0);
	if (!S_ISREG(st.st_mode) || st.st_mode != canary_st.st_mode ||
	    st.st_uid != canary_st.st_uid || st.st_gid != canary_st.st_gid ||
	    st.st_size != canary_st.st_size || st.st_nlink != 1 ||
	    st.st_mtim.tv_sec != canary_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != canary_st.st_mtim.tv_nsec || st.st_ino != canary_st.st_ino) {
		fprintf(stderr,
			"fuzz_unpack: ESCAPE: %s changed: mode %o uid %u gid %u size %lld "
			"nlink %lu mtime %lld\n",
			canary, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
			(unsigned long)st.st_nlink, (long long)st.st_mtim.tv_sec);
		abort();
	}
	if (llistxattr(canary, text, sizeof(text)) != 0) {
		fprintf(stderr, "fuzz_unpack: ESCAPE: %s got xattrs\n", canary);
		abort();
	}
	fd = open(canary, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, text, sizeof(text));
	close(fd);
	CHECK(n == (ssize_t)strlen(CANARY_TEXT) && !memcmp(text, CANARY_TEXT, (size_t)n));
}

static void remove_base(void)
{
	if (base[0])
		remove_tree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
	int fd;

	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "/tmp/fuzz-unpack-%d", (int)getpid());
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(canary, sizeof(canary), "%s/canary", base);
	remove_tree(base); /* a leftover from a recycled pid */
	if (mkdir(base, 0700) < 0 || mkdir(outside, 0755) < 0 || chmod(outside, 0755) < 0) {
		perror(base);
		exit(1);
	}
	fd = open(canary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, CANARY_TEXT, strlen(CANARY_TEXT)) != (ssize_t)strlen(CANARY_TEXT) ||
	    fchmod(fd, 0640) < 0 || futimens(fd, times) < 0 || close(fd) < 0 ||
	    lstat(canary, &canary_st) < 0) {
		perror(canary);
		exit(1);
	}
	atexit(remove_base);
	verbose = getenv("FUZZ_UNPACK_VERBOSE") && *getenv("FUZZ_UNPACK_VERBOSE") == '1';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {0, 1, 7, 511, 512, 513, 4096, 65537};
	struct ct_error err = CT_ERROR_INIT;
	struct unpack_stats stats;
	struct decompressor *dec = NULL;
	struct mem_reader mem;
	struct unpack_options opts;
	unsigned notes = 0;
	char snap[128];
	const char *snap_name;
	int dirfd, r;

	if (size < 1)
		return 0;
	/* Taken per run: between runs libFuzzer may open fds of its own (the pipes to
	 * llvm-symbolizer when it prints NEW_FUNC). */
	first_free_fd = lowest_free_fd();
	mem = (struct mem_reader){
	    .data = data + 1, .len = size - 1, .chunk = chunks[(data[0] >> 2) & 7]};
	opts = (struct unpack_options){
	    .max_bytes = MAX_BYTES,
	    .max_entries = MAX_ENTRIES,
	    .rootless = data[0] & 2,
	    .image = "fuzz.test/image:latest",
	    .layer = "sha256:fuzz",
	    .note = note_cb,
	    .note_ctx = &notes,
	};

	snprintf(snap, sizeof(snap), "%s/snap-XXXXXX", base);
	CHECK(mkdtemp(snap));
	snap_name = strrchr(snap, '/') + 1;
	dirfd = open(snap, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd >= 0);

	if (data[0] & 1) {
		r = decompressor_new(OCI_COMPRESSION_GZIP, mem_read, &mem, &dec, &err);
		CHECK(r == 0 && dec);
		r = unpack_layer_from_reader(decompressor_read, dec, dirfd, &opts, &stats, &err);
		decompressor_free(dec);
	} else {
		r = unpack_layer_from_reader(mem_read, &mem, dirfd, &opts, &stats, &err);
	}
	CHECK(r == 0 || r == -1);
	if (r < 0) {
		CHECK(err.code[0] && err.message && *err.message);
	} else {
		CHECK(!err.message);
		CHECK(stats.entries <= MAX_ENTRIES);
		CHECK(stats.bytes <= MAX_BYTES);
		CHECK(stats.stream_bytes <= MAX_BYTES);
		/* the whole blob is read, past the end-of-archive blocks */
		if (!(data[0] & 1))
			CHECK(stats.stream_bytes == size - 1 && mem.off == mem.len);
	}
	CHECK(notes <= 17);
	if (verbose)
		fprintf(stderr, "fuzz_unpack: mode %#x: %s (%llu entries, %llu bytes)\n", data[0],
			r < 0 ? err.message : "unpacked", (unsigned long long)stats.entries,
			(unsigned long long)stats.bytes);
	ct_error_clear(&err);
	close(dirfd);

	check_no_escape(snap_name);
	remove_tree(snap);
	check_fds();
	return 0;
}
