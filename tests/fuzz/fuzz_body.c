/* libFuzzer target for the JSON request bodies the API server takes from clients:
 * the body of container.create, checked and turned into an OCI runtime spec exactly
 * as route_create and create_image_done do (src/apiserver/containers.c):
 * ct_json_get_string for image and name, then on a deep copy
 * netattach_check_options (networks, -p via src/lib/publish.c, DNS options,
 * --publish-socket; src/apiserver/network_attach.c) and volumes_check_mounts
 * (-v/--mount/--tmpfs, tmpfs sizes; src/apiserver/volumes.c), then spec_build
 * (src/apiserver/spec_builder.c, with etc_files_mounts) against two fixed image
 * configs, one with a command and one without. Every string in the document is also
 * parsed as a -p spec (publish_parse), a subnet and an address (ipnet_parse,
 * ipnet_parse_addr: `network create --subnet`) and a signal (spec_parse_signal).
 *
 * The server state these checks consult is replaced: network_db_get knows the
 * networks "default", "front" and "internal-net" (internal), and every other function
 * of network_attach.c and volumes.c that needs the database, plugins or the loop is a
 * stub that aborts (fuzz_body_stubs.c), so a check that starts to need one shows up.
 * Bind sources and --publish-socket folders are stat()ed on the real host (read only).
 * Not reached: network.create and volume.create past their getters (network_new and
 * volume_create write the database and the disk); their subnet and size parsers are
 * (ipnet_parse here; parse_size through tmpfs size= options).
 *
 * Checked: no crash, leak or undefined behaviour; a failure carries a message; a -p
 * that parses stays within 1-65535 with its whole range; a subnet that parses has a
 * prefix of 8 to 30, no host bits, and formats and parses back to itself; a spec that
 * builds is an object with a non-empty process.args and serialises.
 *
 * Build and run from the top of the tree (jansson and libcap from the distribution),
 * or let tests/fuzz/run do it:
 *
 *   mkdir -p build-fuzz/corpus-body
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -D_GNU_SOURCE -DCONTAINER_VERSION='"fuzz"' -I src/lib -I src/apiserver \
 *         tests/fuzz/fuzz_body.c tests/fuzz/fuzz_body_stubs.c \
 *         src/apiserver/spec_builder.c src/apiserver/etc_files.c \
 *         src/apiserver/network_attach.c src/apiserver/volumes.c src/lib/publish.c \
 *         src/lib/ipnet.c src/lib/json_util.c src/lib/error.c src/lib/util.c src/lib/log.c \
 *         -ljansson -lcap -o build-fuzz/fuzz_body
 *   FUZZ_BODY_SEEDS=build-fuzz/corpus-body build-fuzz/fuzz_body -runs=0
 *   build-fuzz/fuzz_body -max_total_time=60 -max_len=8192 build-fuzz/corpus-body
 *
 * FUZZ_BODY_SEEDS=DIR writes a few valid bodies into DIR to start a corpus from. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver.h"
#include "ipnet.h"
#include "json_util.h"
#include "network_attach.h"
#include "network_db.h"
#include "publish.h"
#include "spec_builder.h"
#include "volumes.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The state database, as far as the create checks look into it. */
int network_db_get(struct state_db *db, const char *name, json_t **out, struct ct_error *err)
{
	(void)db;
	if (strcmp(name, "default") == 0 || strcmp(name, "front") == 0) {
		*out = json_pack("{s:s, s:s, s:b}", "name", name, "subnet", "10.88.0.0/16",
				 "internal", 0);
		return 0;
	}
	if (strcmp(name, "internal-net") == 0) {
		*out = json_pack("{s:s, s:s, s:b}", "name", name, "subnet", "10.90.0.0/24",
				 "internal", 1);
		return 0;
	}
	return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
			    "no network named %s (see `container network list`)", name);
}

static void write_seeds(const char *dir)
{
	static const char *const seeds[] = {
	    /* container run busybox */
	    "{\"image\":\"busybox\"}",
	    /* run -d --name web -p 8080:80 -p 127.0.0.1::443/udp -e A=1 -w /srv -u 1000:1000 */
	    "{\"image\":\"docker.io/library/nginx:1.25\",\"name\":\"web\","
	    "\"command\":[\"nginx\",\"-g\",\"daemon off;\"],\"env\":[\"A=1\",\"PATH=/bin\"],"
	    "\"workdir\":\"/srv\",\"user\":\"1000:1000\",\"hostname\":\"web1\","
	    "\"publish\":[\"8080:80\",\"127.0.0.1::443/udp\",\"[::1]:9000-9002:9000-9002\"],"
	    "\"networks\":[\"default\",\"front\"],\"tty\":true,\"init\":true}",
	    /* -v, --mount, --tmpfs */
	    "{\"image\":\"alpine\",\"command\":[\"sh\"],"
	    "\"mounts\":[{\"type\":\"volume\",\"source\":\"data\",\"destination\":\"/data\"},"
	    "{\"type\":\"volume\",\"destination\":\"/cache\",\"noCopy\":true},"
	    "{\"type\":\"bind\",\"source\":\"/tmp\",\"destination\":\"/host/tmp\","
	    "\"readOnly\":true},"
	    "{\"type\":\"tmpfs\",\"destination\":\"/run/x\",\"options\":\"size=64m,mode=1777\"}],"
	    "\"tmpfs\":[{\"path\":\"/scratch\",\"options\":\"size=1g\"},{\"path\":\"/t\"}]}",
	    /* capabilities, limits, signals, paths */
	    "{\"image\":\"alpine\",\"entrypoint\":[\"/bin/sh\",\"-c\"],\"command\":[\"true\"],"
	    "\"capAdd\":[\"NET_ADMIN\",\"cap_sys_time\"],\"capDrop\":[\"ALL\"],"
	    "\"memory\":268435456,\"cpus\":1.5,\"pidsLimit\":100,\"shmSize\":134217728,"
	    "\"stopSignal\":\"SIGQUIT\",\"readOnly\":true,\"seccompUnconfined\":true,"
	    "\"ulimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096}],"
	    "\"maskedPaths\":[\"/proc/x\"],\"readOnlyPaths\":[\"/proc/y\"]}",
	    /* DNS and sockets, host and none networks, the legacy form */
	    "{\"image\":\"alpine\",\"dns\":[\"1.1.1.1\"],\"dnsSearch\":[\"example.com\"],"
	    "\"dnsOptions\":[\"ndots:2\"],\"dnsDomain\":\"test\",\"noDns\":false,"
	    "\"publishSockets\":[\"/tmp/app.sock:/run/app.sock\"]}",
	    "{\"image\":\"alpine\",\"networks\":[\"host\"],\"capAdd\":[\"ALL\"]}",
	    "{\"image\":\"alpine\",\"network\":\"none\",\"noDns\":true,\"user\":\"app\"}",
	    "{\"image\":\"alpine\",\"networks\":[\"internal-net\"],\"publish\":[\"80\"]}",
	    /* network create --subnet, as a bare string */
	    "\"10.89.0.0/24\"",
	    "[\"192.168.0.0/16\",\"10.89.0.5\",\"SIGKILL\",\"9\",\"8000-8010:80-90/tcp\"]",
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, strlen(seeds[i]), f) != strlen(seeds[i]))
			perror(path);
		if (f)
			fclose(f);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_BODY_SEEDS");

	(void)argc;
	(void)argv;
	if (dir)
		write_seeds(dir);
	return 0;
}

static void check_failure(int r, struct ct_error *err)
{
	if (r < 0)
		CHECK(err->code[0] && err->message && *err->message);
	else
		CHECK(!err->message);
	ct_error_clear(err);
}

/* One string through every text parser a body's strings meet. */
static void parse_string(const char *s)
{
	struct ct_error err = CT_ERROR_INIT;
	struct publish_spec p;
	struct ipnet n;
	uint32_t addr;
	int r;

	r = publish_parse(s, &p, &err);
	check_failure(r, &err);
	if (r == 0) {
		CHECK(strcmp(p.proto, "tcp") == 0 || strcmp(p.proto, "udp") == 0);
		CHECK(p.count >= 1);
		CHECK(p.container_port >= 1 && p.container_port + p.count - 1 <= 65535);
		CHECK(p.host_port == 0 || p.host_port + p.count - 1 <= 65535);
		if (p.host_ip[0]) {
			unsigned char buf[sizeof(struct in6_addr)];
			CHECK(inet_pton(AF_INET, p.host_ip, buf) == 1 ||
			      inet_pton(AF_INET6, p.host_ip, buf) == 1);
		}
		CHECK(publish_collides(&p, &p) == (p.host_port != 0));
		json_decref(publish_to_json(&p));
	}

	r = ipnet_parse(s, &n, &err);
	check_failure(r, &err);
	if (r == 0) {
		char text[IPNET_STRLEN];
		struct ipnet again;
		CHECK(n.prefix >= 8 && n.prefix <= 30);
		CHECK(ipnet_contains(&n, n.network) && ipnet_contains(&n, ipnet_gateway(&n)));
		CHECK(ipnet_host_count(&n) >= 2);
		CHECK(ipnet_overlaps(&n, &n));
		ipnet_format(&n, text);
		CHECK(ipnet_parse(text, &again, &err) == 0);
		CHECK(again.network == n.network && again.prefix == n.prefix);
	}

	r = ipnet_parse_addr(s, &addr, &err);
	check_failure(r, &err);
	if (r == 0) {
		char text[16];
		uint32_t again;
		ipnet_format_addr(addr, text);
		CHECK(ipnet_parse_addr(text, &again, &err) == 0 && again == addr);
	}

	r = spec_parse_signal(s);
	CHECK(r == -1 || (r >= 1 && r <= 64));
}

static void parse_strings(json_t *j, int depth)
{
	const char *key;
	json_t *v;
	size_t i;

	if (depth > 16)
		return;
	if (json_is_string(j))
		parse_string(json_string_value(j));
	json_object_foreach (j, key, v)
		parse_strings(v, depth + 1);
	json_array_foreach (j, i, v)
		parse_strings(v, depth + 1);
}

/* create_image_done: the spec from the checked options and the image's config. */
static void build_spec(json_t *options, json_t *image_config, const char *name)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *snapshots = json_pack("[s, s]", "/var/lib/container-fuzz/snapshots/aaa",
				      "/var/lib/container-fuzz/snapshots/bbb");
	struct spec_inputs in = {
	    .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    .name = name ? name : "0123456789ab",
	    .bundle = "/var/lib/container-fuzz/containers/0123456789ab",
	    .image_config = image_config,
	    .snapshots = snapshots,
	    .options = options,
	};
	json_t *spec = spec_build(&in, &err);

	check_failure(spec ? 0 : -1, &err);
	if (spec) {
		json_t *args = json_object_get(json_object_get(spec, "process"), "args");
		CHECK(json_is_object(spec));
		CHECK(json_array_size(args) > 0);
		char *text = json_dumps(spec, JSON_COMPACT);
		CHECK(text);
		free(text);
		int sig = spec_stop_signal(spec);
		CHECK(sig >= 1 && sig <= 64);
	}
	json_decref(spec);
	json_decref(snapshots);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apiserver api = {.paths = {.app_root = (char *)"/var/lib/container-fuzz"}};
	struct ct_error err = CT_ERROR_INIT;
	const char *image = NULL, *name = NULL;
	json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	int r;

	if (!body)
		return 0;
	parse_strings(body, 0);

	/* route_create */
	r = ct_json_get_string(body, "image", true, &image, "request body", &err);
	if (r == 0)
		r = ct_json_get_string(body, "name", false, &name, "request body", &err);
	check_failure(r, &err);
	if (r == 0) {
		json_t *options = json_deep_copy(body);
		r = netattach_check_options(&api, options, &err);
		check_failure(r, &err);
		if (r == 0) {
			r = volumes_check_mounts(&api, options, &err);
			check_failure(r, &err);
		}
		if (r == 0) {
			json_t *with_cmd =
			    json_pack("{s:{s:[s, s], s:[s], s:s, s:s, s:s}}", "config", "Env",
				      "PATH=/usr/bin:/bin", "HOME=/root", "Cmd", "/bin/sh",
				      "WorkingDir", "/srv", "User", "app", "StopSignal", "SIGQUIT");
			json_t *without = json_pack("{s:{s:[s]}}", "config", "Env", "LANG=C");
			build_spec(options, with_cmd, name);
			build_spec(options, without, name);
			json_decref(with_cmd);
			json_decref(without);
		}
		json_decref(options);
	}
	json_decref(body);
	return 0;
}
