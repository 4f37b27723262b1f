/* container cp SRC DST, container export [-o FILE] CONTAINER.
 *
 * The API server reads and writes the container's files; we read and write the
 * host's, with our own rights. The tar stream goes over a pipe whose other end
 * rides with the request (or over our stdin/stdout for `-`). The server first
 * answers with a progress frame once it has found the container's path: for a
 * copy out, the source's type (so we can refuse, by docker's rules, before
 * touching anything); for a copy in, the name our top entry must have. Then the
 * stream flows, and the final reply says how the server's side ended.
 *
 * Host files are written with the images plugin's unpacker, relative to the
 * destination directory's fd and never through a symlink; they are read with
 * tar_tree, by fd, a symlink archived as itself. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "tar_tree.h"
#include "unpack.h"
#include "util.h"

/* One side of `cp`: CONTAINER:PATH, a host path, or "-". */
struct cp_arg {
	char *container; /* NULL: the host */
	const char *path;
	bool stream;
};

/* docker's rule: a path that starts with "/" or "." is the host's, even with a
 * colon in it; otherwise NAME:PATH names a container. */
static void cp_arg_parse(char *arg, struct cp_arg *out)
{
	char *colon = strchr(arg, ':');

	memset(out, 0, sizeof(*out));
	out->path = arg;
	if (!strcmp(arg, "-")) {
		out->stream = true;
		return;
	}
	if (arg[0] == '/' || arg[0] == '.' || !colon || colon == arg)
		return;
	out->container = xstrndup(arg, (size_t)(colon - arg));
	/* Container paths are from its root: "web:etc" is /etc. */
	out->path = colon[1] ? colon + 1 : "/";
}

/* The state a progress callback shares with the command. */
struct cp_transfer {
	const char *container, *src, *dst;
	int pipe_ours;	 /* our end of the stream's pipe */
	int pipe_theirs; /* the end the server got: ours to close once it has it */
	/* copy out */
	int dest_dir;	   /* the host directory the stream is unpacked into */
	const char *entry; /* the top entry's name when we chose it, else NULL */
	bool need_dir;	   /* the destination asks for a directory (DST/ missing) */
	bool need_nondir;  /* the destination is an existing file */
	/* copy in */
	int src_parent;
	const char *src_name;
	/* our side's failure, when there was one */
	struct ct_error err;
	bool failed;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The unpacker's messages speak of layers; this is a copy. */
static void unlayer_message(struct ct_error *err)
{
	static const char prefix[] = "unpacking a layer: ";

	if (err->message && !strncmp(err->message, prefix, strlen(prefix)))
		memmove(err->message, err->message + strlen(prefix),
			strlen(err->message) - strlen(prefix) + 1);
}

static void unpack_note(void *ctx, const char *message)
{
	/* xattrs not kept and the like: detail for --debug. */
	(void)ctx;
	if (cli.debug)
		fprintf(stderr, "container: note: %s\n", message);
}

/* The server found the source: check the destination against its type, then
 * unpack the stream. Returns 0 to keep waiting for the server's final reply. */
static int copy_out_ready(json_t *progress, void *data)
{
	struct cp_transfer *t = data;
	const char *type = json_string_value(json_object_get(progress, "type")) ?: "";
	const char *name = json_string_value(json_object_get(progress, "name")) ?: "";
	bool is_dir = !strcmp(type, "directory");
	struct stat st;

	close_fd(&t->pipe_theirs);
	t->failed = true;
	if (t->need_nondir && is_dir) {
		ct_error_set(&t->err, CT_ERR_INVALID_ARGUMENT, 0,
			     "cannot copy directory %s:%s onto the file %s", t->container, t->src,
			     t->dst);
	} else if (t->need_dir && !is_dir) {
		ct_error_set(&t->err, CT_ERR_NOT_FOUND, ENOENT,
			     "the destination directory %s does not exist (%s:%s is a %s)", t->dst,
			     t->container, t->src, type);
	} else if (*name && fstatat(t->dest_dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		   S_ISDIR(st.st_mode) != is_dir) {
		/* The unpacker would remove what is there; docker refuses too. */
		ct_error_set(&t->err, CT_ERR_CONFLICT, 0, "cannot overwrite %s %s with a %s",
			     S_ISDIR(st.st_mode) ? "directory" : "non-directory",
			     t->entry ? t->dst : name, is_dir ? "directory" : "non-directory");
	} else {
		struct unpack_options opts = {
		    .max_bytes = UINT64_MAX,
		    .max_entries = UINT64_MAX,
		    /* Without root, files are ours and device nodes are refused. */
		    .rootless = geteuid() != 0,
		    .literal_names = true,
		    .note = unpack_note,
		};
		if (unpack_layer_from_fd(t->pipe_ours, t->dest_dir, &opts, NULL, &t->err) == 0) {
			t->failed = false;
		} else {
			unlayer_message(&t->err);
			ct_error_prefix(&t->err, "writing %s", t->dst);
		}
	}
	/* On failure the server's writer gets EPIPE and ends; its reply may say more
	 * (a read error in the container that cut the stream short). */
	close_fd(&t->pipe_ours);
	return 0;
}

static int copy_in_ready(json_t *progress, void *data)
{
	struct cp_transfer *t = data;
	const char *name = json_string_value(json_object_get(progress, "name")) ?: "";

	close_fd(&t->pipe_theirs);
	struct tar_tree *tree = tar_tree_new(t->pipe_ours, &t->err);
	t->failed = !tree || tar_tree_add(tree, t->src_parent, t->src_name, name, &t->err) < 0 ||
		    tar_tree_finish(tree, &t->err) < 0;
	if (t->failed)
		ct_error_prefix(&t->err, "reading %s", t->src);
	tar_tree_free(tree);
	/* The end of the stream: the server finishes the extraction and replies. */
	close_fd(&t->pipe_ours);
	return 0;
}

/* Runs the call with the pipe end the server gets; reports the outcome. */
static int cp_call(const char *route, json_t *body, struct cp_transfer *t, ct_progress_fn ready)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	struct ct_client client;

	if (cli_connect(&client, &err) < 0)
		return cli_fail(&err);
	struct ct_call_options call = {
	    .fds = &t->pipe_theirs, .nfds = 1, .progress = ready, .progress_data = t};
	int rc = ct_client_call(&client, route, body, &reply, &call, &err);
	ct_client_close(&client);
	/* Ours is the cause when we stopped reading (the server then only saw a
	 * closed pipe); the server's when its side failed first. */
	if (t->failed && (rc == 0 || ct_error_is(&err, CT_ERR_CANCELLED)))
		return cli_fail(&t->err);
	if (rc < 0)
		return cli_fail(&err);
	if (t->failed)
		return cli_fail(&t->err);
	return 0;
}

/* `cp CONTAINER:SRC DST`: the destination decides where the stream goes and
 * under which name, by docker's rules: into an existing directory under the
 * source's name (or its content, for SRC/.); over an existing file; or as a new
 * node named DST. */
static int copy_out(const struct cp_arg *src, const struct cp_arg *dst)
{
	_cleanup_tar_tree_path_ struct tar_tree_path d = {0};
	_cleanup_close_ int dest_dir = -1, pipe_r = -1, pipe_w = -1;
	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:s}", "id", src->container, "path", src->path);
	struct cp_transfer t = {
	    .container = src->container, .src = src->path, .dst = dst->path, .err = CT_ERROR_INIT};
	struct stat st;
	int fds[2];

	if (dst->stream) {
		if (isatty(STDOUT_FILENO))
			return cli_failf(
			    "refusing to write a tar archive to a terminal: redirect the "
			    "output or give a host path");
		t.pipe_theirs = STDOUT_FILENO;
		int rc = cp_call("container.archive", body, &t, NULL);
		t.pipe_theirs = -1;
		return rc;
	}
	tar_tree_path_split(dst->path, &d);
	errno = 0;
	bool is_dir = stat(dst->path, &st) == 0 && S_ISDIR(st.st_mode);
	if (is_dir) {
		dest_dir = open(dst->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else if (errno && errno != ENOENT) {
		return cli_failf("%s: %s", dst->path, strerror(errno));
	} else {
		/* A file to replace, or a new node: named by DST, in DST's parent. */
		bool exists = lstat(dst->path, &st) == 0;
		if (!d.base)
			return cli_failf("cannot copy onto %s", dst->path);
		if (exists && d.trailing)
			return cli_failf("%s is not a directory", dst->path);
		t.entry = d.base;
		t.need_nondir = exists;
		t.need_dir = !exists && d.trailing;
		dest_dir = open(d.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dest_dir < 0 && (errno == ENOENT || errno == ENOTDIR))
			return cli_failf("the destination directory %s does not exist", d.dir);
		json_object_set_new(body, "name", json_string(d.base));
	}
	if (dest_dir < 0)
		return cli_failf("opening %s: %s", dst->path, strerror(errno));
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cli_failf("creating a pipe: %s", strerror(errno));
	pipe_r = fds[0];
	pipe_w = fds[1];
	t.dest_dir = dest_dir;
	t.pipe_ours = pipe_r;
	t.pipe_theirs = pipe_w;
	int rc = cp_call("container.archive", body, &t, copy_out_ready);
	/* The callback closed what it used; don't close them twice. */
	pipe_r = t.pipe_ours;
	pipe_w = t.pipe_theirs;
	ct_error_clear(&t.err);
	return rc;
}

/* `cp SRC CONTAINER:DST`: the server decides the name our top entry gets. */
static int copy_in(const struct cp_arg *src, const struct cp_arg *dst)
{
	_cleanup_tar_tree_path_ struct tar_tree_path s = {0};
	_cleanup_close_ int parent = -1, pipe_r = -1, pipe_w = -1;
	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:s}", "id", dst->container, "path", dst->path);
	_cleanup_free_ char *resolved = NULL;
	struct cp_transfer t = {
	    .container = dst->container, .src = src->path, .dst = dst->path, .err = CT_ERROR_INIT};
	const char *name, *source_name;
	struct stat st;
	int fds[2];

	if (src->stream) {
		json_object_set_new(body, "stream", json_true());
		t.pipe_theirs = STDIN_FILENO;
		int rc = cp_call("container.extract", body, &t, NULL);
		t.pipe_theirs = -1;
		return rc;
	}
	/* Should the server stop reading, writes fail with EPIPE; its reply says why. */
	signal(SIGPIPE, SIG_IGN);
	tar_tree_path_split(src->path, &s);
	/* "SRC/" and "SRC/." follow a symlink SRC; "SRC" copies the link itself. */
	if (!s.base || s.trailing) {
		parent = open(s.core, O_PATH | (s.trailing ? O_DIRECTORY : 0) | O_CLOEXEC);
		name = ".";
	} else {
		parent = open(s.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		name = s.base;
	}
	if (parent < 0 || fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return cli_failf("%s: %s", src->path, strerror(errno));
	/* The name it gets in the container: its own, or its real folder's for "." and "..". */
	source_name = s.base;
	if (!source_name) {
		resolved = realpath(s.core, NULL);
		source_name = resolved && strrchr(resolved, '/') ? strrchr(resolved, '/') + 1 : "";
		if (!*source_name && !s.content)
			return cli_failf("%s has no name to copy under: copy %s/. to copy its "
					 "content",
					 src->path, s.core);
		if (!*source_name)
			source_name = "root";
	}
	json_object_set_new(body, "source",
			    json_pack("{s:s, s:s, s:b}", "name", source_name, "type",
				      tar_tree_type_name(st.st_mode), "content", s.content));
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cli_failf("creating a pipe: %s", strerror(errno));
	pipe_r = fds[0];
	pipe_w = fds[1];
	t.src_parent = parent;
	t.src_name = name;
	t.pipe_ours = pipe_w;
	t.pipe_theirs = pipe_r;
	int rc = cp_call("container.extract", body, &t, copy_in_ready);
	pipe_w = t.pipe_ours;
	pipe_r = t.pipe_theirs;
	ct_error_clear(&t.err);
	return rc;
}

static void cp_help(FILE *out)
{
	fprintf(out,
		"Usage: container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
		"       container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n"
		"\n"
		"Copy files and folders between a container (running or stopped) and the host.\n"
		"Modes, numeric owners, times, symlinks and hardlinks are kept. \"-\" is a tar\n"
		"stream on stdin or stdout. SRC_PATH/. copies a folder's content. Paths in the\n"
		"container resolve inside it: its symlinks never lead to the host's files.\n"
		"\n"
		"Options:\n"
		"  -a, --archive  Keep owners (always done; accepted for docker's scripts)\n"
		"  -h, --help     Show this help\n");
}

int cmd_cp(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"archive", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct cp_arg src, dst;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			break;
		case 'h':
			cp_help(stdout);
			return 0;
		default:
			return cli_usage_error("cp", "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("cp", "cp takes a source and a destination");
	cp_arg_parse(argv[optind], &src);
	cp_arg_parse(argv[optind + 1], &dst);
	int rc;
	if (!!src.container == !!dst.container)
		rc = cli_usage_error("cp", "one of the paths must be CONTAINER:PATH and the other "
					   "a host path or \"-\"");
	else if (src.container)
		rc = copy_out(&src, &dst);
	else
		rc = copy_in(&src, &dst);
	free(src.container);
	free(dst.container);
	return rc;
}

static void export_help(FILE *out)
{
	fprintf(out, "Usage: container export [-o FILE] CONTAINER\n"
		     "\n"
		     "Write a container's file system (its image and its changes, without its\n"
		     "volumes and mounts) as a tar archive to FILE or stdout.\n"
		     "\n"
		     "Options:\n"
		     "  -o, --output FILE  Write to FILE instead of stdout\n"
		     "  -h, --help         Show this help\n");
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *output = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			export_help(stdout);
			return 0;
		default:
			return cli_usage_error("export", "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("export", "export takes one container");
	if (!output && isatty(STDOUT_FILENO))
		return cli_failf("refusing to write a tar archive to a terminal: use -o FILE or "
				 "redirect the output");

	/* -o: a temporary file renamed over FILE once complete, so a failed export
	 * (a typo in the name) leaves FILE as it was. */
	_cleanup_free_ char *tmp = output ? xasprintf("%s.XXXXXX", output) : NULL;
	_cleanup_close_ int fd = -1;
	if (tmp) {
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0)
			return cli_failf("creating %s: %s", tmp, strerror(errno));
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(fd, 0666 & ~mask) < 0) {
			unlink(tmp);
			return cli_failf("setting the mode of %s: %s", tmp, strerror(errno));
		}
	}
	_cleanup_json_ json_t *body = json_pack("{s:s}", "id", argv[optind]);
	struct cp_transfer t = {
	    .pipe_theirs = tmp ? fd : STDOUT_FILENO, .pipe_ours = -1, .err = CT_ERROR_INIT};
	int rc = cp_call("container.export", body, &t, NULL);
	if (tmp && rc == 0 && rename(tmp, output) < 0)
		rc = cli_failf("renaming %s to %s: %s", tmp, output, strerror(errno));
	if (tmp && rc != 0)
		unlink(tmp);
	return rc;
}
