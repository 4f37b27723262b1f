/* container image pull|list|inspect|tag|delete|prune|import */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "image_transfer.h"
#include "json_util.h"
#include "oci/reference.h"
#include "progress.h"
#include "util.h"

static void help(FILE *out)
{
	fprintf(
	    out,
	    "Usage: container image COMMAND\n"
	    "\n"
	    "Commands:\n"
	    "  pull REF            Fetch an image [--platform os/arch[/variant]] [--arch A] [--os "
	    "O]\n"
	    "                      [--scheme http|https|auto] [--progress auto|plain|none]\n"
	    "                      [--max-concurrent-downloads N]\n"
	    "  list, ls            List images [-q] [-v] [--format json|table]\n"
	    "  inspect REF...      Show images as JSON\n"
	    "  tag SRC DST         Give an image another name\n"
	    "  delete, rm REF...   Remove images [-a|--all] [-f|--force]\n"
	    "  prune               Remove content no image needs [-a: remove every image]\n"
	    "  import FILE|- REF   Make an image from a root filesystem tar (plain, gzip, zstd)\n"
	    "                      [-c|--change 'CMD [\"sh\"]'] (CMD, ENTRYPOINT, ENV, WORKDIR,\n"
	    "                      USER, LABEL, EXPOSE, STOPSIGNAL)\n"
	    "  push REF            Send an image to its registry [--platform] [--scheme]\n"
	    "                      [--progress auto|plain|none] [--chunk-size N]\n"
	    "  save -o FILE REF... Write images to an OCI image layout tar (-o - or none: stdout)\n"
	    "  load -i FILE        Read images from an OCI layout tar or a `docker save` archive\n"
	    "                      (no -i: stdin) [--name REPO[:TAG]]\n");
}

char *cli_registry_of(const char *input)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *prop = NULL, *body = json_pack("{s:s}", "key", "registry.domain");
	struct oci_ref ref;
	const char *def = NULL;

	if (cli_call("property.get", body, &prop, &err) == 0)
		def = json_string_value(json_object_get(prop, "value"));
	if (oci_ref_parse(input, def, &ref, &err) < 0)
		return NULL;
	char *host = xstrdup(ref.registry);
	oci_ref_free(&ref);
	return host;
}

static int pull(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"platform", required_argument, NULL, 'P'},
	    {"arch", required_argument, NULL, 'A'},
	    {"os", required_argument, NULL, 'O'},
	    {"scheme", required_argument, NULL, 's'},
	    {"progress", required_argument, NULL, 'p'},
	    {"max-concurrent-downloads", required_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	const char *platform = NULL, *arch = NULL, *os = NULL, *scheme = NULL;
	enum progress_mode mode = PROGRESS_AUTO;
	long max_conc = 3;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			platform = optarg;
			break;
		case 'A':
			arch = optarg;
			break;
		case 'O':
			os = optarg;
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
		case 'm': {
			char *end;
			max_conc = strtol(optarg, &end, 10);
			if (*end || max_conc < 1 || max_conc > 32)
				return cli_usage_error(
				    "image",
				    "--max-concurrent-downloads takes 1 to 32, not "
				    "\"%s\"",
				    optarg);
			break;
		}
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("image", "bad option for image pull");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("image", "image pull takes one image reference");
	const char *input = argv[optind];

	_cleanup_free_ char *plat = NULL;
	if (!platform && (arch || os))
		plat = xasprintf("%s/%s", os ? os : "linux", arch ? arch : "amd64");
	_cleanup_json_ json_t *body = json_pack("{s:s, s:I}", "reference", input,
						"maxConcurrentDownloads", (json_int_t)max_conc);
	if (platform || plat)
		json_object_set_new(body, "platform", json_string(platform ? platform : plat));
	if (scheme)
		json_object_set_new(body, "scheme", json_string(scheme));
	_cleanup_free_ char *host = cli_registry_of(input);
	json_t *creds = host ? auth_lookup(host) : NULL;
	if (creds)
		json_object_set_new(body, "auth", creds);

	struct progress pr;
	progress_init(&pr, mode, "Pulling");
	struct ct_client client;
	_cleanup_json_ json_t *reply = NULL;
	if (cli_connect(&client, &err) < 0) {
		progress_finish(&pr);
		return cli_fail(&err);
	}
	struct ct_call_options call = {.progress = progress_update, .progress_data = &pr};
	int rc = ct_client_call(&client, "image.pull", body, &reply, &call, &err);
	ct_client_close(&client);
	progress_finish(&pr);
	if (rc < 0)
		return cli_fail(&err);
	char size[16];
	format_size(json_integer_value(json_object_get(reply, "bytesFetched")), size, sizeof(size));
	if (mode != PROGRESS_NONE)
		fprintf(stderr, "Fetched %lld of %lld layers (%s) in %.2f s\n",
			(long long)json_integer_value(json_object_get(reply, "layersFetched")),
			(long long)json_integer_value(json_object_get(reply, "layers")), size,
			json_integer_value(json_object_get(reply, "milliseconds")) / 1000.0);
	printf("%s\n", cli_str(reply, "name"));
	return 0;
}

static int list(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format = FORMAT_TABLE;
	bool quiet = false, verbose = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (cli_parse_format(optarg, &format) < 0)
				return EXIT_ENGINE;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("image", "bad option for image list");
		}
	}
	if (cli_call("image.list", NULL, &reply, &err) < 0)
		return cli_fail(&err);
	json_t *items = json_object_get(reply, "images"), *im;
	size_t i;
	if (format == FORMAT_JSON) {
		cli_print_json(items);
		return 0;
	}
	if (quiet) {
		json_array_foreach (items, i, im)
			printf("%.12s\n", cli_str(im, "digest") + strlen("sha256:"));
		return 0;
	}
	static const char *const headers[] = {"NAME", "TAG",	 "DIGEST",
					      "SIZE", "CREATED", "PLATFORM"};
	struct cli_table *t = cli_table_new(verbose ? 6 : 5, headers);
	json_array_foreach (items, i, im) {
		char size[16], ago[32], digest[20];
		format_size(json_integer_value(json_object_get(im, "size")), size, sizeof(size));
		format_ago(cli_str(im, "created"), ago, sizeof(ago));
		snprintf(digest, sizeof(digest), "%.12s",
			 cli_str(im, "digest") + strlen("sha256:"));
		const char *cells[] = {
		    cli_str(im, "repository"), cli_str(im, "tag"), digest, size, ago,
		    cli_str(im, "platform")};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

static int inspect(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *out = json_array();
	int rc = 0;

	if (argc < 2)
		return cli_usage_error("image", "image inspect takes one or more images");
	for (int i = 1; i < argc; i++) {
		_cleanup_json_ json_t *body = json_pack("{s:s}", "reference", argv[i]);
		json_t *reply = NULL;
		if (cli_call("image.inspect", body, &reply, &err) < 0) {
			rc = cli_fail(&err);
			ct_error_clear(&err);
			continue;
		}
		json_array_append_new(out, reply);
	}
	if (json_array_size(out))
		cli_print_json(out);
	return rc;
}

static int tag(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;

	if (argc != 3)
		return cli_usage_error("image", "image tag takes SOURCE and TARGET");
	_cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "source", argv[1], "target", argv[2]);
	if (cli_call("image.tag", body, &reply, &err) < 0)
		return cli_fail(&err);
	return 0;
}

static int delete (int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	bool all = false, force = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("image", "bad option for image delete");
		}
	}
	if (!all && optind >= argc)
		return cli_usage_error("image", "image delete takes one or more images, or --all");
	_cleanup_json_ json_t *body =
	    json_pack("{s:[], s:b, s:b}", "references", "all", all, "force", force);
	for (int i = optind; i < argc; i++)
		json_array_append_new(json_object_get(body, "references"), json_string(argv[i]));
	if (cli_call("image.delete", body, &reply, &err) < 0)
		return cli_fail(&err);
	json_t *d;
	size_t i;
	json_array_foreach (json_object_get(reply, "deleted"), i, d)
		printf("Deleted: %s\n", json_string_value(d));
	char size[16];
	format_size(json_integer_value(json_object_get(reply, "reclaimedBytes")), size,
		    sizeof(size));
	printf("Reclaimed %s\n", size);
	return 0;
}

static int prune(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	bool all = argc == 2 && (strcmp(argv[1], "-a") == 0 || strcmp(argv[1], "--all") == 0);

	if (argc > 2 || (argc == 2 && !all))
		return cli_usage_error("image", "image prune takes only -a/--all");
	_cleanup_json_ json_t *body = json_pack("{s:b}", "all", all);
	if (cli_call("image.prune", body, &reply, &err) < 0)
		return cli_fail(&err);
	json_t *d;
	size_t i;
	json_array_foreach (json_object_get(reply, "deleted"), i, d)
		printf("Deleted: %s\n", json_string_value(d));
	char size[16];
	format_size(json_integer_value(json_object_get(reply, "reclaimedBytes")), size,
		    sizeof(size));
	printf("Reclaimed %s\n", size);
	return 0;
}

/* One Dockerfile-style instruction of --change into the import's changes; -1
 * after printing what is wrong. */
static int apply_change(json_t *changes, const char *change)
{
	const char *sp = strpbrk(change, " \t");
	if (!sp)
		return cli_reportf("--change \"%s\": expected INSTRUCTION VALUE", change);
	_cleanup_free_ char *word = strndup(change, sp - change);
	const char *value = sp + strspn(sp, " \t");
	for (char *p = word; *p; p++)
		*p = (*p >= 'a' && *p <= 'z') ? *p - 32 : *p;

	if (strcmp(word, "CMD") == 0 || strcmp(word, "ENTRYPOINT") == 0) {
		json_t *arr;
		if (value[0] == '[') {
			arr = json_loads(value, 0, NULL);
			size_t i;
			json_t *v;
			bool ok = json_is_array(arr);
			json_array_foreach (arr, i, v)
				ok = ok && json_is_string(v);
			if (!ok) {
				json_decref(arr);
				return cli_reportf(
				    "--change %s: the exec form must be a JSON array of "
				    "strings, such as [\"sh\", \"-c\", \"echo hi\"]",
				    word);
			}
		} else {
			/* The shell form, as docker runs it. */
			arr = json_pack("[s, s, s]", "/bin/sh", "-c", value);
		}
		json_object_set_new(changes, strcmp(word, "CMD") == 0 ? "cmd" : "entrypoint", arr);
	} else if (strcmp(word, "ENV") == 0) {
		json_t *env = json_object_get(changes, "env");
		if (!env)
			json_object_set_new(changes, "env", env = json_array());
		if (!strchr(value, '='))
			return cli_reportf("--change ENV takes NAME=value, not \"%s\"", value);
		json_array_append_new(env, json_string(value));
	} else if (strcmp(word, "WORKDIR") == 0) {
		json_object_set_new(changes, "workingDir", json_string(value));
	} else if (strcmp(word, "USER") == 0) {
		json_object_set_new(changes, "user", json_string(value));
	} else if (strcmp(word, "STOPSIGNAL") == 0) {
		json_object_set_new(changes, "stopSignal", json_string(value));
	} else if (strcmp(word, "LABEL") == 0) {
		const char *eq = strchr(value, '=');
		if (!eq)
			return cli_reportf("--change LABEL takes key=value, not \"%s\"", value);
		json_t *labels = json_object_get(changes, "labels");
		if (!labels)
			json_object_set_new(changes, "labels", labels = json_object());
		_cleanup_free_ char *k = strndup(value, eq - value);
		json_object_set_new(labels, k, json_string(eq + 1));
	} else if (strcmp(word, "EXPOSE") == 0) {
		json_t *ports = json_object_get(changes, "exposedPorts");
		if (!ports)
			json_object_set_new(changes, "exposedPorts", ports = json_array());
		_cleanup_free_ char *port =
		    strchr(value, '/') ? xstrdup(value) : xasprintf("%s/tcp", value);
		json_array_append_new(ports, json_string(port));
	} else {
		return cli_reportf(
		    "--change %s is not supported; use CMD, ENTRYPOINT, ENV, WORKDIR, "
		    "USER, LABEL, EXPOSE or STOPSIGNAL",
		    word);
	}
	return 0;
}

static int import(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"change", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *changes = json_object();
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (apply_change(changes, optarg) < 0)
				return EXIT_ENGINE;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("image", "bad option for image import");
		}
	}
	if (optind + 2 != argc)
		return cli_usage_error("image", "image import takes FILE (or -) and a reference");
	const char *file = argv[optind];
	_cleanup_close_ int fd =
	    strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_failf("opening %s: %s", file, strerror(errno));
	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:O}", "reference", argv[optind + 1], "changes", changes);
	struct ct_client client;
	if (cli_connect(&client, &err) < 0)
		return cli_fail(&err);
	/* The archive travels as a descriptor: its bytes never pass through the API
	 * server. */
	struct ct_call_options call = {.fds = &fd, .nfds = 1};
	int rc = ct_client_call(&client, "image.import", body, &reply, &call, &err);
	ct_client_close(&client);
	if (rc < 0)
		return cli_fail(&err);
	printf("%s\n", cli_str(reply, "digest"));
	return 0;
}

int cmd_image(int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
	    {"pull", pull},	{"list", list},	      {"ls", list},	    {"inspect", inspect},
	    {"tag", tag},	{"delete", delete},   {"rm", delete},	    {"prune", prune},
	    {"import", import}, {"push", image_push}, {"save", image_save}, {"load", image_load},
	};

	return cli_dispatch(argc, argv, "image", subs, ARRAY_SIZE(subs), help);
}

int cmd_image_pull(int argc, char **argv)
{
	return pull(argc, argv);
}
