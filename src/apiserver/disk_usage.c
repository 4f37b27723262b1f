#include "disk_usage.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

/* Inodes with more than one link already counted. */
struct seen {
	struct {
		dev_t dev;
		ino_t ino;
	} * list;
	size_t n, cap;
};

static bool counted_before(struct seen *s, const struct stat *st)
{
	if (st->st_nlink < 2 || S_ISDIR(st->st_mode))
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->list[i].dev == st->st_dev && s->list[i].ino == st->st_ino)
			return true;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->list = realloc(s->list, s->cap * sizeof(*s->list));
		if (!s->list)
			abort();
	}
	s->list[s->n].dev = st->st_dev;
	s->list[s->n].ino = st->st_ino;
	s->n++;
	return false;
}

/* The entries under dirfd (taken), recursively. */
static uint64_t tree_usage(int dirfd, dev_t dev, int depth, struct seen *s)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	uint64_t total = 0;

	if (!d) {
		close(dirfd);
		return 0;
	}
	while ((e = readdir(d))) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev ||
		    counted_before(s, &st))
			continue;
		total += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode) && depth < 256) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += tree_usage(sub, dev, depth + 1, s);
		}
	}
	closedir(d);
	return total;
}

uint64_t disk_usage(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct seen s = {0};
	struct stat st;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	uint64_t total = (uint64_t)st.st_blocks * 512 + tree_usage(fd, st.st_dev, 0, &s);
	free(s.list);
	return total;
}
