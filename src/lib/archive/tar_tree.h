/* A directory tree as a tar stream (pax format, libarchive): what `container cp`
 * and `container export` send. The API server archives a container's files with it
 * (copy out, export), the CLI the host's (copy in).
 *
 * The tree is read by descriptor: each node is inspected and opened relative to
 * its parent directory's fd with AT_SYMLINK_NOFOLLOW / O_NOFOLLOW, so a symlink
 * in the tree is archived as a symlink and never followed, wherever it points.
 * Kept: type, mode (setuid, setgid, sticky), numeric owner, mtime, symlink
 * targets, device numbers, hardlinks between the files archived, and the
 * security.capability xattr (as docker keeps it). Sockets are skipped. */
#ifndef CONTAINER_TAR_TREE_H
#define CONTAINER_TAR_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct tar_tree;

struct tar_tree_stats {
	uint64_t entries; /* entries written */
	uint64_t bytes;	  /* regular-file bytes written */
	uint64_t skipped; /* sockets, and nodes that vanished while the tree was read */
};

/* Writes to out_fd (not closed; a pipe, a file or a socket). */
struct tar_tree *tar_tree_new(int out_fd, struct ct_error *err);
void tar_tree_free(struct tar_tree *t);

/* Adds node `name` of directory parent_fd ("." for parent_fd itself; O_PATH fds
 * are fine) and, when it is a directory, everything beneath it. Entries are named
 * tar_name, tar_name/child, …; with an empty tar_name a directory adds only its
 * content (child, …), without an entry for itself. */
int tar_tree_add(struct tar_tree *t, int parent_fd, const char *name, const char *tar_name,
		 struct ct_error *err);

/* Writes the end-of-archive blocks and flushes. */
int tar_tree_finish(struct tar_tree *t, struct ct_error *err);

const struct tar_tree_stats *tar_tree_stats(const struct tar_tree *t);

/* "directory", "file", "symlink", "device", "fifo", "socket" or "unknown": how the
 * copy protocol names a node's type. */
const char *tar_tree_type_name(mode_t mode);

/* A path as `cp` takes it, split by docker's rules: "a/b/" must be a directory,
 * "a/b/." means the directory's content, anything else the node itself (a symlink
 * as a symlink). */
struct tar_tree_path {
	char *core;	  /* without trailing "/" and "/."; "/" or "." when nothing else is left */
	char *dir;	  /* core's parent ("/" or "." at the top); NULL when base is */
	const char *base; /* core's last name (in core); NULL when core is a directory to open
			     whole: "/", ".", "..", "a/.." */
	bool trailing;	  /* ended in "/" or "/.": it must be a directory, a symlink is followed */
	bool content;	  /* ended in "/." (or is "."): the directory's content */
};

void tar_tree_path_split(const char *path, struct tar_tree_path *out);
void tar_tree_path_clear(struct tar_tree_path *p);
#define _cleanup_tar_tree_path_ __attribute__((cleanup(tar_tree_path_clear)))

#endif
