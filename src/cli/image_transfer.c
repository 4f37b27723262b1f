/* container image push|save|load. The archives of save and load travel as
 * descriptors: the images plugin writes to and reads from the user's file (or
 * pipe) itself, and no byte of an image passes through the API server. */
#include "image_transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "json_util.h"
#include "oci/reference.h"
#include "progress.h"
#include "util.h"

static void push_help(FILE *out)
{
	fprintf(out,
		"Usage: container image push [OPTIONS] REF\n"
		"\n"
		"Send an image to the registry its name says.\n"
		"\n"
		"Options:\n"
		"  --platform os/arch[/variant]  Push one platform of a multi-platform image\n"
		"  --scheme http|https|auto      How to reach the registry (auto: http for\n"
		"                                loopback and private addresses)\n"
		"  --progress auto|plain|none    Progress display (default auto)\n"
		"  --chunk-size N[k|m]           Upload blobs in chunks of N bytes (default: one\n"
		"                                request per blob)\n"
		"  -q, --quiet                   No progress\n");
}

static void save_help(FILE *out)
{
	fprintf(out,
		"Usage: container image save [-o FILE] REF...\n"
		"\n"
		"Write images to an OCI image layout tar (to stdout without -o, or with -o -).\n");
}

static void load_help(FILE *out)
{
	fprintf(out, "Usage: container image load [-i FILE] [--name REPO[:TAG]]\n"
		     "\n"
		     "Read images from an OCI image layout tar (`image save`) or a `docker save`\n"
		     "archive (from stdin without -i, or with -i -). --name names the images the\n"
		     "archive leaves unnamed.\n");
}

/* The registry of what the user typed, with the server's default registry. */
/* "4194304", "512k", "4m" (binary units). */
static int parse_size(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int image_push(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"platform", required_argument, NULL, 'P'},
	    {"scheme", required_argument, NULL, 's'},
	    {"progress", required_argument, NULL, 'p'},
	    {"chunk-size", required_argument, NULL, 'c'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *platform = NULL, *scheme = NULL;
	enum progress_mode mode = PROGRESS_AUTO;
	int64_t chunk = 0;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			platform = optarg;
			break;
		case 's':
			scheme = optarg;
			break;
		case 'p':
			if (progress_parse_mode(optarg, &mode) < 0)
				return EXIT_ENGINE;
			break;
		case 'q':
			mode = PROGRESS_NONE;
			break;
		case 'c':
			if (parse_size(optarg, &chunk) < 0)
				return cli_usage_error("image push",
						       "--chunk-size takes a number of bytes (or "
						       "512k, 4m), not \"%s\"",
						       optarg);
			break;
		case 'h':
			push_help(stdout);
			return 0;
		default:
			return cli_usage_error("image push", "bad option for image push");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("image push", "image push takes one image reference");
	const char *input = argv[optind];

	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:I}", "reference", input, "chunkSize", (json_int_t)chunk);
	if (platform)
		json_object_set_new(body, "platform", json_string(platform));
	if (scheme)
		json_object_set_new(body, "scheme", json_string(scheme));
	_cleanup_free_ char *host = cli_registry_of(input);
	json_t *creds = host ? auth_lookup(host) : NULL;
	if (creds)
		json_object_set_new(body, "auth", creds);

	struct progress pr;
	progress_init(&pr, mode, "Pushing");
	struct ct_client client;
	_cleanup_json_ json_t *reply = NULL;
	if (cli_connect(&client, &err) < 0) {
		progress_finish(&pr);
		return cli_fail(&err);
	}
	struct ct_call_options call = {.progress = progress_update, .progress_data = &pr};
	int rc = ct_client_call(&client, "image.push", body, &reply, &call, &err);
	ct_client_close(&client);
	progress_finish(&pr);
	if (rc < 0)
		return cli_fail(&err);
	if (mode != PROGRESS_NONE) {
		char size[16];
		format_size(json_integer_value(json_object_get(reply, "bytes")), size,
			    sizeof(size));
		fprintf(stderr, "Pushed %lld blobs (%s), mounted %lld, skipped %lld in %.2f s\n",
			(long long)json_integer_value(json_object_get(reply, "pushed")), size,
			(long long)json_integer_value(json_object_get(reply, "mounted")),
			(long long)json_integer_value(json_object_get(reply, "skipped")),
			json_integer_value(json_object_get(reply, "milliseconds")) / 1000.0);
	}
	printf("%s\n", json_string_value(json_object_get(reply, "digest")) ?: "");
	return 0;
}

/* The output of save: a temporary file beside FILE, renamed over it once the archive
 * is complete, so a failed save never leaves half an archive under the name. */
struct save_output {
	int fd;
	char *tmp;
	const char *final;
};

static int save_output_open(struct save_output *o, const char *file)
{
	o->fd = -1;
	o->tmp = NULL;
	o->final = NULL;
	if (!file || strcmp(file, "-") == 0) {
		if (!file && isatty(STDOUT_FILENO))
			return cli_reportf("refusing to write an image archive to a terminal: give "
					   "-o FILE, or redirect the output");
		o->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (o->fd < 0)
			return cli_reportf("duplicating stdout: %s", strerror(errno));
		return 0;
	}
	_cleanup_free_ char *copy = xstrdup(file);
	_cleanup_free_ char *copy2 = xstrdup(file);
	o->tmp = xasprintf("%s/.%s.XXXXXX", dirname(copy), basename(copy2));
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		int e = errno;
		free(o->tmp);
		o->tmp = NULL;
		return cli_reportf("creating %s: %s", file, strerror(e));
	}
	/* What open(2) would have given the file. */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(o->fd, 0666 & ~mask) < 0) {
		/* Not fatal: the archive is only readable by its owner. */
	}
	o->final = file;
	return 0;
}

static int save_output_finish(struct save_output *o, bool ok)
{
	int rc = 0;

	if (o->fd >= 0 && o->tmp && ok && fsync(o->fd) < 0)
		rc = cli_reportf("writing %s: %s", o->final, strerror(errno));
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp) {
		if (ok && rc == 0 && rename(o->tmp, o->final) < 0)
			rc =
			    cli_reportf("renaming %s to %s: %s", o->tmp, o->final, strerror(errno));
		if (!ok || rc < 0)
			unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
	return rc;
}

int image_save(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *file = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			file = optarg;
			break;
		case 'h':
			save_help(stdout);
			return 0;
		default:
			return cli_usage_error("image save", "bad option for image save");
		}
	}
	if (optind >= argc)
		return cli_usage_error("image save", "image save takes one or more images");
	_cleanup_json_ json_t *body = json_pack("{s:[]}", "references");
	for (int i = optind; i < argc; i++)
		json_array_append_new(json_object_get(body, "references"), json_string(argv[i]));

	struct save_output out;
	if (save_output_open(&out, file) < 0)
		return EXIT_ENGINE;
	struct ct_client client;
	_cleanup_json_ json_t *reply = NULL;
	int rc = cli_connect(&client, &err);
	if (rc == 0) {
		struct ct_call_options call = {.fds = &out.fd, .nfds = 1};
		rc = ct_client_call(&client, "image.save", body, &reply, &call, &err);
		ct_client_close(&client);
	}
	if (save_output_finish(&out, rc == 0) < 0)
		return EXIT_ENGINE;
	if (rc < 0)
		return cli_fail(&err);
	return 0;
}

int image_load(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"name", required_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *file = NULL, *name = NULL;
	bool quiet = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			file = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			load_help(stdout);
			return 0;
		default:
			return cli_usage_error("image load", "bad option for image load");
		}
	}
	if (optind != argc)
		return cli_usage_error("image load",
				       "image load takes no arguments; give the archive "
				       "with -i FILE or on stdin");
	if (!file && isatty(STDIN_FILENO))
		return cli_usage_error("image load", "give the archive with -i FILE, or on stdin");
	_cleanup_close_ int fd = !file || strcmp(file, "-") == 0
				     ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
				     : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_failf("opening %s: %s", file ? file : "stdin", strerror(errno));
	_cleanup_json_ json_t *body = json_object();
	if (name)
		json_object_set_new(body, "name", json_string(name));

	struct ct_client client;
	_cleanup_json_ json_t *reply = NULL;
	if (cli_connect(&client, &err) < 0)
		return cli_fail(&err);
	struct ct_call_options call = {.fds = &fd, .nfds = 1};
	int rc = ct_client_call(&client, "image.load", body, &reply, &call, &err);
	ct_client_close(&client);
	if (rc < 0)
		return cli_fail(&err);
	json_t *im;
	size_t i;
	json_array_foreach(json_object_get(reply, "images"), i, im)
	{
		const char *n = json_string_value(json_object_get(im, "name"));
		if (quiet)
			printf("%s\n", n ? n : "");
		else
			printf("Loaded image: %s\n", n ? n : "");
	}
	return 0;
}
