/* container create | run | start: the options docker users type, turned into a
 * container.create request; run = create + start + attach + wait. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "frame.h"
#include "json_util.h"
#include "proto.h"
#include "util.h"

extern char **environ;

static void help(FILE *out, const char *verb)
{
	fprintf(
	    out,
	    "Usage: container %s [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
	    "\n"
	    "Process:    -e, --env K=V (bare K: from here)  --env-file FILE  -u, --user "
	    "USER[:GROUP]\n"
	    "            --uid UID  --gid GID  -w, --workdir DIR  -i, --interactive  -t, --tty\n"
	    "            --ulimit TYPE=SOFT[:HARD]  --entrypoint CMD  --init\n"
	    "Resources:  -c, --cpus N  -m, --memory SIZE  --pids-limit N  --shm-size SIZE\n"
	    "Management: -d, --detach  --rm  --name NAME  -l, --label K=V  --cidfile FILE\n"
	    "            --read-only  --tmpfs PATH[:OPTIONS]  --cap-add CAP  --cap-drop CAP\n"
	    "            --masked-path PATH  --read-only-path PATH  --stop-signal SIG\n"
	    "            --security-opt seccomp=unconfined\n"
	    "Storage:    -v, --volume NAME:PATH[:ro]  (a named volume, made when missing)\n"
	    "            -v HOST_PATH:PATH[:ro]  (a bind mount)  -v PATH  (an anonymous volume)\n"
	    "            --mount type=bind|volume|tmpfs,source=SRC,target=PATH[,readonly]\n"
	    "            [,volume-nocopy][,tmpfs-size=SIZE][,tmpfs-mode=OCTAL]\n"
	    "Network:    --network NAME|none|host  (repeat for eth1, eth2, …; default: the\n"
	    "            network \"default\"; none and host stand alone)\n"
	    "            -p, --publish [IP:][HOST_PORT:]PORT[/tcp|udp]  (8080:80, "
	    "127.0.0.1:8080:80,\n"
	    "            8000-8010:80-90/udp, 0:80 for any free host port)\n"
	    "            --publish-socket HOST_PATH:CONTAINER_PATH  --hostname NAME\n"
	    "            --dns IP  --dns-search DOMAIN  --dns-option OPT  --dns-domain DOMAIN\n"
	    "            --no-dns  (leave the container's DNS unconfigured)\n"
	    "Image:      --platform OS/ARCH  (pulled when missing)\n",
	    verb);
}

/* "512m", "1.5g", "100k", "4096" -> bytes; -1 when malformed. */
static int64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1;

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 'b':
	case 'B':
		break;
	case 'k':
	case 'K':
		mult = 1024;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*end && end[1] && !((end[1] == 'b' || end[1] == 'B') && !end[2]))
		return -1;
	return (int64_t)(v * mult);
}

static const struct {
	const char *name;
	const char *type;
} ulimit_names[] = {
    {"core", "RLIMIT_CORE"},	     {"cpu", "RLIMIT_CPU"},
    {"data", "RLIMIT_DATA"},	     {"fsize", "RLIMIT_FSIZE"},
    {"locks", "RLIMIT_LOCKS"},	     {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},
    {"nofile", "RLIMIT_NOFILE"},     {"nproc", "RLIMIT_NPROC"},
    {"rss", "RLIMIT_RSS"},	     {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},     {"sigpending", "RLIMIT_SIGPENDING"},
    {"stack", "RLIMIT_STACK"},	     {"as", "RLIMIT_AS"},
};

static int64_t parse_limit_value(const char *s)
{
	char *end;

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "-1") == 0)
		return -1; /* RLIM_INFINITY, carried as -1 in JSON */
	long long v = strtoll(s, &end, 10);
	return *end || end == s || v < 0 ? -2 : v;
}

static int add_ulimit(json_t *list, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq)
		return cli_reportf(
		    "--ulimit %s: expected TYPE=SOFT[:HARD], such as nofile=1024:2048", arg);
	_cleanup_free_ char *name = xstrndup(arg, eq - arg);
	const char *type = NULL;
	for (size_t i = 0; i < sizeof(ulimit_names) / sizeof(ulimit_names[0]); i++)
		if (strcmp(name, ulimit_names[i].name) == 0)
			type = ulimit_names[i].type;
	if (!type)
		return cli_reportf("--ulimit: unknown limit \"%s\" (nofile, nproc, core, memlock, "
				   "stack, cpu, fsize, …)",
				   name);
	_cleanup_free_ char *values = xstrdup(eq + 1);
	char *colon = strchr(values, ':');
	if (colon)
		*colon = '\0';
	int64_t soft = parse_limit_value(values),
		hard = colon ? parse_limit_value(colon + 1) : soft;
	if (soft == -2 || hard == -2)
		return cli_reportf("--ulimit %s: limits are numbers or \"unlimited\"", arg);
	if (soft != -1 && hard != -1 && soft > hard)
		return cli_reportf("--ulimit %s: the soft limit is above the hard limit", arg);
	json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "type", type, "soft",
					      (json_int_t)soft, "hard", (json_int_t)hard));
	return 0;
}

static int add_env(json_t *env, const char *kv)
{
	if (strchr(kv, '=')) {
		json_array_append_new(env, json_string(kv));
		return 0;
	}
	/* A bare NAME takes its value from our environment, or is left out. */
	const char *v = getenv(kv);
	if (v) {
		_cleanup_free_ char *e = xasprintf("%s=%s", kv, v);
		json_array_append_new(env, json_string(e));
	}
	return 0;
}

static int add_env_file(json_t *env, const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return cli_reportf("--env-file %s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		const char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		add_env(env, p);
	}
	return 0;
}

/* A host path as the API server needs it: absolute (it has another working
 * directory than ours). Caller frees; NULL after printing why. */
static char *host_path(const char *flag, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	if (!cwd) {
		cli_reportf("%s: cannot resolve the relative path %s: %s", flag, path,
			    strerror(errno));
		return NULL;
	}
	while (strncmp(path, "./", 2) == 0)
		path += 2;
	return strcmp(path, ".") == 0 ? xstrdup(cwd) : xasprintf("%s/%s", cwd, path);
}

/* -v NAME:PATH[:OPTS], -v HOST_PATH:PATH[:OPTS] (HOST_PATH starts with / or .),
 * -v PATH (an anonymous volume). OPTS: ro, rw, nocopy, comma-separated. The
 * API server checks names, paths and sources. */
static int add_volume_flag(json_t *mounts, const char *spec)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *parts[3] = {NULL, NULL, NULL};
	size_t n = 0;
	bool ro = false, nocopy = false;

	for (char *p = copy, *colon;; p = colon + 1) {
		if (n == 3)
			return cli_reportf("-v %s: expected NAME:PATH[:ro], HOST_PATH:PATH[:ro] or "
					   "PATH",
					   spec);
		parts[n++] = p;
		if (!(colon = strchr(p, ':')))
			break;
		*colon = '\0';
	}
	if (n == 1) {
		if (parts[0][0] != '/')
			return cli_reportf("-v %s: a single path must be absolute (an anonymous "
					   "volume at that path in the container); for a named "
					   "volume give NAME:PATH",
					   spec);
		json_array_append_new(
		    mounts, json_pack("{s:s, s:s}", "type", "volume", "destination", parts[0]));
		return 0;
	}
	if (!*parts[0] || parts[1][0] != '/')
		return cli_reportf("-v %s: expected SOURCE:PATH with an absolute PATH in the "
				   "container, as in data:/var/lib/data or /srv/www:/www:ro",
				   spec);
	if (parts[2]) {
		char *save = NULL;
		for (char *o = strtok_r(parts[2], ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			if (strcmp(o, "ro") == 0 || strcmp(o, "readonly") == 0)
				ro = true;
			else if (strcmp(o, "rw") == 0)
				ro = false;
			else if (strcmp(o, "nocopy") == 0)
				nocopy = true;
			else
				return cli_reportf(
				    "-v %s: unknown option \"%s\" (ro, rw or nocopy)", spec, o);
		}
	}
	bool bind = parts[0][0] == '/' || parts[0][0] == '.';
	_cleanup_free_ char *source = bind ? host_path("-v", parts[0]) : xstrdup(parts[0]);
	if (!source)
		return -1;
	json_t *m = json_pack("{s:s, s:s, s:s, s:b}", "type", bind ? "bind" : "volume", "source",
			      source, "destination", parts[1], "readOnly", ro);
	if (nocopy)
		json_object_set_new(m, "noCopy", json_true());
	json_array_append_new(mounts, m);
	return 0;
}

/* "readonly", "readonly=true|false|1|0": the value of a boolean --mount key. */
static int mount_bool(const char *spec, const char *value, bool *out)
{
	if (!value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*out = false;
	else
		return cli_reportf("--mount %s: \"%s\" is not true or false", spec, value);
	return 0;
}

/* --mount type=bind|volume|tmpfs,source=…,target=…[,readonly] (docker's keys,
 * with src, dst, destination and ro as aliases). */
static int add_mount_flag(json_t *mounts, const char *spec)
{
	_cleanup_free_ char *copy = xstrdup(spec), *tmpfs_opts = NULL;
	const char *type = "volume", *source = NULL, *target = NULL;
	bool ro = false, nocopy = false;
	char *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *value = eq ? eq + 1 : NULL;
		if (eq)
			*eq = '\0';
		if (strcmp(kv, "type") == 0 && value)
			type = value;
		else if ((strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0) && value)
			source = value;
		else if ((strcmp(kv, "target") == 0 || strcmp(kv, "destination") == 0 ||
			  strcmp(kv, "dst") == 0) &&
			 value)
			target = value;
		else if (strcmp(kv, "readonly") == 0 || strcmp(kv, "ro") == 0) {
			if (mount_bool(spec, value, &ro) < 0)
				return -1;
		} else if (strcmp(kv, "volume-nocopy") == 0) {
			if (mount_bool(spec, value, &nocopy) < 0)
				return -1;
		} else if ((strcmp(kv, "tmpfs-size") == 0 || strcmp(kv, "tmpfs-mode") == 0) &&
			   value) {
			char *more = xasprintf("%s%s%s=%s", tmpfs_opts ? tmpfs_opts : "",
					       tmpfs_opts ? "," : "", kv + 6, value);
			free(tmpfs_opts);
			tmpfs_opts = more;
		} else {
			return cli_reportf("--mount %s: unknown or incomplete key \"%s\" (type, "
					   "source, target, readonly, volume-nocopy, tmpfs-size, "
					   "tmpfs-mode)",
					   spec, kv);
		}
	}
	if (!target)
		return cli_reportf("--mount %s: target=PATH is missing", spec);
	if (strcmp(type, "bind") != 0 && strcmp(type, "volume") != 0 && strcmp(type, "tmpfs") != 0)
		return cli_reportf("--mount %s: type is bind, volume or tmpfs, not \"%s\"", spec,
				   type);
	if (strcmp(type, "bind") == 0 && !source)
		return cli_reportf("--mount %s: a bind mount needs source=HOST_PATH", spec);
	if (tmpfs_opts && strcmp(type, "tmpfs") != 0)
		return cli_reportf("--mount %s: tmpfs-size and tmpfs-mode are for type=tmpfs",
				   spec);
	_cleanup_free_ char *src = source && strcmp(type, "bind") == 0
				       ? host_path("--mount", source)
				   : source ? xstrdup(source)
					    : NULL;
	if (source && !src)
		return -1;
	json_t *m =
	    json_pack("{s:s, s:s, s:b}", "type", type, "destination", target, "readOnly", ro);
	if (src)
		json_object_set_new(m, "source", json_string(src));
	if (nocopy)
		json_object_set_new(m, "noCopy", json_true());
	if (tmpfs_opts)
		json_object_set_new(m, "options", json_string(tmpfs_opts));
	json_array_append_new(mounts, m);
	return 0;
}

struct create_opts {
	json_t *body;
	bool detach, rm, interactive, tty;
	const char *cidfile;
	const char *platform;
};

enum {
	OPT_ENV_FILE = 1000,
	OPT_UID,
	OPT_GID,
	OPT_ULIMIT,
	OPT_PIDS,
	OPT_SHM,
	OPT_RM,
	OPT_NAME,
	OPT_ENTRYPOINT,
	OPT_CIDFILE,
	OPT_INIT,
	OPT_READONLY,
	OPT_TMPFS,
	OPT_CAP_ADD,
	OPT_CAP_DROP,
	OPT_MASKED,
	OPT_RO_PATH,
	OPT_NETWORK,
	OPT_PUBLISH_SOCKET,
	OPT_DNS,
	OPT_DNS_SEARCH,
	OPT_DNS_OPTION,
	OPT_DNS_DOMAIN,
	OPT_NO_DNS,
	OPT_HOSTNAME,
	OPT_STOP_SIGNAL,
	OPT_SECURITY,
	OPT_PLATFORM,
	OPT_MOUNT,
};

/* The network flags of create/run, gathered until the options end: --network
 * none|host must stand alone, which only the whole list can tell. */
struct network_opts {
	json_t *networks, *publish, *sockets, *dns, *search, *options;
	const char *domain;
	bool no_dns;
};

static void network_opts_free(struct network_opts *n)
{
	json_decref(n->networks);
	json_decref(n->publish);
	json_decref(n->sockets);
	json_decref(n->dns);
	json_decref(n->search);
	json_decref(n->options);
}

#define _cleanup_network_opts_ __attribute__((cleanup(network_opts_free)))

/* -p [IP:][HOST_PORT:]PORT[/PROTO]: only the container side's shape is checked
 * here, so a typo fails before anything is pulled; the API server parses the
 * whole spec (addresses, ranges, free ports) and has the last word. */
static int check_publish(const char *spec)
{
	const char *slash = strrchr(spec, '/');
	const char *colon = strrchr(spec, ':');
	const char *port = colon ? colon + 1 : spec;
	size_t len = slash && slash > port ? (size_t)(slash - port) : strlen(port);
	size_t digits = strspn(port, "0123456789");

	if (slash && slash < port)
		return cli_reportf("-p %s: the protocol goes last, as in 8080:80/udp", spec);
	if (slash && strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "udp") != 0)
		return cli_reportf("-p %s: the protocol is tcp or udp, not \"%s\"", spec,
				   slash + 1);
	if (digits && digits < len && port[digits] == '-')
		digits += 1 + strspn(port + digits + 1, "0123456789");
	if (!len || digits != len || port[len - 1] == '-')
		return cli_reportf("-p %s: expected [IP:][HOST_PORT:]PORT[/tcp|udp] with ports "
				   "such as 80 or 80-90, as in 8080:80 or 127.0.0.1:8080:80/tcp",
				   spec);
	return 0;
}

/* --publish-socket HOST_PATH:CONTAINER_PATH; a relative host path is taken
 * from our working directory, since the API server has another one. */
static int add_publish_socket(json_t *sockets, const char *spec)
{
	const char *colon = strchr(spec, ':');

	if (!colon || colon == spec || colon[1] != '/')
		return cli_reportf("--publish-socket %s: expected HOST_PATH:CONTAINER_PATH with "
				   "an absolute container path, as in ./app.sock:/run/app.sock",
				   spec);
	if (spec[0] == '/') {
		json_array_append_new(sockets, json_string(spec));
		return 0;
	}
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return cli_reportf("--publish-socket %s: cannot resolve the relative host path: "
				   "%s",
				   spec, strerror(errno));
	while (strncmp(spec, "./", 2) == 0)
		spec += 2;
	_cleanup_free_ char *abs = xasprintf("%s/%s", cwd, spec);
	json_array_append_new(sockets, json_string(abs));
	return 0;
}

/* One network flag (c is its option code) into n; -1 after printing why. */
static int network_option(struct network_opts *n, int c, const char *arg)
{
	unsigned char addr[16];

	switch (c) {
	case OPT_NETWORK: {
		json_t *v;
		size_t i;
		if (!*arg)
			return cli_reportf("--network needs a network name, none or host");
		json_array_foreach (n->networks, i, v)
			if (strcmp(json_string_value(v), arg) == 0)
				return cli_reportf("--network %s is given twice; a container joins "
						   "a network once",
						   arg);
		json_array_append_new(n->networks, json_string(arg));
		return 0;
	}
	case 'p':
		if (check_publish(arg) < 0)
			return -1;
		json_array_append_new(n->publish, json_string(arg));
		return 0;
	case OPT_PUBLISH_SOCKET:
		return add_publish_socket(n->sockets, arg);
	case OPT_DNS:
		if (inet_pton(AF_INET, arg, addr) != 1 && inet_pton(AF_INET6, arg, addr) != 1)
			return cli_reportf(
			    "--dns takes a nameserver's IP address, such as 1.1.1.1, "
			    "not \"%s\"",
			    arg);
		json_array_append_new(n->dns, json_string(arg));
		return 0;
	case OPT_DNS_SEARCH:
		json_array_append_new(n->search, json_string(arg));
		return 0;
	case OPT_DNS_OPTION:
		json_array_append_new(n->options, json_string(arg));
		return 0;
	case OPT_DNS_DOMAIN:
		if (!*arg)
			return cli_reportf("--dns-domain needs a domain, such as test");
		n->domain = arg;
		return 0;
	case OPT_NO_DNS:
		n->no_dns = true;
		return 0;
	}
	return cli_reportf("internal error: option %d is not a network option", c);
}

/* A non-empty array into body under key; an empty one stays behind (to be freed). */
static void move_array(json_t *body, const char *key, json_t **array)
{
	if (json_array_size(*array))
		json_object_set_new(body, key, move_ptr(*array));
}

/* Checks the flags against each other and moves them into the create body
 * (fields left out when not given, so the API server's defaults apply). */
static int network_opts_apply(struct network_opts *n, json_t *body)
{
	const char *first = json_string_value(json_array_get(n->networks, 0));
	bool alone = first && (strcmp(first, "none") == 0 || strcmp(first, "host") == 0);
	json_t *v;
	size_t i;

	json_array_foreach (n->networks, i, v) {
		const char *name = json_string_value(v);
		if ((strcmp(name, "none") == 0 || strcmp(name, "host") == 0) &&
		    json_array_size(n->networks) > 1)
			return cli_reportf("--network %s can't be combined with other networks; "
					   "give either --network %s or named networks",
					   name, name);
	}
	if (alone && (json_array_size(n->publish) || json_array_size(n->sockets)))
		return cli_reportf("--network %s: nothing to publish to (-p and --publish-socket "
				   "need a network: drop --network %s or the publish flags)",
				   first, first);
	if (n->no_dns && (json_array_size(n->dns) || json_array_size(n->search) ||
			  json_array_size(n->options) || n->domain))
		return cli_reportf("--no-dns leaves the container's DNS unconfigured: drop it or "
				   "the other --dns flags");
	move_array(body, "networks", &n->networks);
	move_array(body, "publish", &n->publish);
	move_array(body, "publishSockets", &n->sockets);
	move_array(body, "dns", &n->dns);
	move_array(body, "dnsSearch", &n->search);
	move_array(body, "dnsOptions", &n->options);
	if (n->domain)
		json_object_set_new(body, "dnsDomain", json_string(n->domain));
	if (n->no_dns)
		json_object_set_new(body, "noDns", json_true());
	return 0;
}

/* Parses argv into o; returns the index of IMAGE, or -1 after printing why. */
static int parse_create(int argc, char **argv, const char *verb, struct create_opts *o)
{
	static const struct option opts[] = {
	    {"env", required_argument, NULL, 'e'},
	    {"env-file", required_argument, NULL, OPT_ENV_FILE},
	    {"user", required_argument, NULL, 'u'},
	    {"uid", required_argument, NULL, OPT_UID},
	    {"gid", required_argument, NULL, OPT_GID},
	    {"workdir", required_argument, NULL, 'w'},
	    {"cwd", required_argument, NULL, 'w'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"ulimit", required_argument, NULL, OPT_ULIMIT},
	    {"cpus", required_argument, NULL, 'c'},
	    {"memory", required_argument, NULL, 'm'},
	    {"pids-limit", required_argument, NULL, OPT_PIDS},
	    {"shm-size", required_argument, NULL, OPT_SHM},
	    {"detach", no_argument, NULL, 'd'},
	    {"rm", no_argument, NULL, OPT_RM},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
	    {"label", required_argument, NULL, 'l'},
	    {"cidfile", required_argument, NULL, OPT_CIDFILE},
	    {"init", no_argument, NULL, OPT_INIT},
	    {"read-only", no_argument, NULL, OPT_READONLY},
	    {"tmpfs", required_argument, NULL, OPT_TMPFS},
	    {"cap-add", required_argument, NULL, OPT_CAP_ADD},
	    {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
	    {"masked-path", required_argument, NULL, OPT_MASKED},
	    {"read-only-path", required_argument, NULL, OPT_RO_PATH},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"net", required_argument, NULL, OPT_NETWORK},
	    {"publish", required_argument, NULL, 'p'},
	    {"publish-socket", required_argument, NULL, OPT_PUBLISH_SOCKET},
	    {"dns", required_argument, NULL, OPT_DNS},
	    {"dns-search", required_argument, NULL, OPT_DNS_SEARCH},
	    {"dns-option", required_argument, NULL, OPT_DNS_OPTION},
	    {"dns-opt", required_argument, NULL, OPT_DNS_OPTION},
	    {"dns-domain", required_argument, NULL, OPT_DNS_DOMAIN},
	    {"no-dns", no_argument, NULL, OPT_NO_DNS},
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},
	    {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
	    {"security-opt", required_argument, NULL, OPT_SECURITY},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"volume", required_argument, NULL, 'v'},
	    {"mount", required_argument, NULL, OPT_MOUNT},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	json_t *b = o->body;
	json_t *env = json_array(), *labels = json_object(), *ulimits = json_array(),
	       *tmpfs = json_array(), *cap_add = json_array(), *cap_drop = json_array(),
	       *masked = json_array(), *ro_paths = json_array(), *mounts = json_array();
	_cleanup_network_opts_ struct network_opts net = {
	    .networks = json_array(),
	    .publish = json_array(),
	    .sockets = json_array(),
	    .dns = json_array(),
	    .search = json_array(),
	    .options = json_array(),
	};
	const char *uid = NULL, *gid = NULL;
	int c;

	json_object_set_new(b, "env", env);
	json_object_set_new(b, "labels", labels);
	json_object_set_new(b, "ulimits", ulimits);
	json_object_set_new(b, "tmpfs", tmpfs);
	json_object_set_new(b, "capAdd", cap_add);
	json_object_set_new(b, "capDrop", cap_drop);
	json_object_set_new(b, "maskedPaths", masked);
	json_object_set_new(b, "readOnlyPaths", ro_paths);
	json_object_set_new(b, "mounts", mounts);
	optind = 0;
	while ((c = getopt_long(argc, argv, "+e:u:w:itc:m:dl:p:v:h", opts, NULL)) != -1) {
		int64_t size;
		switch (c) {
		case 'e':
			add_env(env, optarg);
			break;
		case OPT_ENV_FILE:
			if (add_env_file(env, optarg) < 0)
				return -1;
			break;
		case 'u':
			json_object_set_new(b, "user", json_string(optarg));
			break;
		case OPT_UID:
			uid = optarg;
			break;
		case OPT_GID:
			gid = optarg;
			break;
		case 'w':
			json_object_set_new(b, "workdir", json_string(optarg));
			break;
		case 'i':
			o->interactive = true;
			break;
		case 't':
			o->tty = true;
			break;
		case OPT_ULIMIT:
			if (add_ulimit(ulimits, optarg) < 0)
				return -1;
			break;
		case 'c': {
			char *end;
			double cpus = strtod(optarg, &end);
			if (*end || cpus <= 0 || !isfinite(cpus))
				return cli_reportf(
				    "--cpus takes a positive number such as 0.5 or 2, "
				    "not \"%s\"",
				    optarg);
			json_object_set_new(b, "cpus", json_real(cpus));
			break;
		}
		case 'm':
			size = parse_size(optarg);
			if (size < 4 * 1024 * 1024)
				return cli_reportf(
				    "--memory takes a size of at least 4m, such as 512m "
				    "or 1g, not \"%s\"",
				    optarg);
			json_object_set_new(b, "memory", json_integer(size));
			break;
		case OPT_PIDS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1)
				return cli_reportf("--pids-limit takes a positive number");
			json_object_set_new(b, "pidsLimit", json_integer(v));
			break;
		}
		case OPT_SHM:
			size = parse_size(optarg);
			if (size <= 0)
				return cli_reportf("--shm-size takes a size such as 64m");
			json_object_set_new(b, "shmSize", json_integer(size));
			break;
		case 'd':
			o->detach = true;
			break;
		case OPT_RM:
			o->rm = true;
			break;
		case OPT_NAME:
			json_object_set_new(b, "name", json_string(optarg));
			break;
		case OPT_ENTRYPOINT: {
			/* docker: one word; "" clears the image's entrypoint. */
			json_t *ep = json_array();
			if (*optarg)
				json_array_append_new(ep, json_string(optarg));
			json_object_set_new(b, "entrypoint", ep);
			break;
		}
		case 'l':
			if (cli_add_label(labels, optarg) < 0)
				return -1;
			break;
		case OPT_CIDFILE:
			o->cidfile = optarg;
			break;
		case OPT_INIT:
			json_object_set_new(b, "init", json_true());
			break;
		case OPT_READONLY:
			json_object_set_new(b, "readOnly", json_true());
			break;
		case OPT_TMPFS: {
			const char *colon = strchr(optarg, ':');
			_cleanup_free_ char *path =
			    colon ? xstrndup(optarg, colon - optarg) : xstrdup(optarg);
			if (path[0] != '/')
				return cli_reportf("--tmpfs %s: the path must be absolute", optarg);
			json_array_append_new(tmpfs, json_pack("{s:s, s:s}", "path", path,
							       "options", colon ? colon + 1 : ""));
			break;
		}
		case OPT_CAP_ADD:
			json_array_append_new(cap_add, json_string(optarg));
			break;
		case OPT_CAP_DROP:
			json_array_append_new(cap_drop, json_string(optarg));
			break;
		case OPT_MASKED:
			json_array_append_new(masked, json_string(optarg));
			break;
		case OPT_RO_PATH:
			json_array_append_new(ro_paths, json_string(optarg));
			break;
		case OPT_NETWORK:
		case 'p':
		case OPT_PUBLISH_SOCKET:
		case OPT_DNS:
		case OPT_DNS_SEARCH:
		case OPT_DNS_OPTION:
		case OPT_DNS_DOMAIN:
		case OPT_NO_DNS:
			if (network_option(&net, c, optarg) < 0)
				return -1;
			break;
		case OPT_HOSTNAME:
			json_object_set_new(b, "hostname", json_string(optarg));
			break;
		case OPT_STOP_SIGNAL:
			json_object_set_new(b, "stopSignal", json_string(optarg));
			break;
		case OPT_SECURITY:
			if (strcmp(optarg, "seccomp=unconfined") == 0)
				json_object_set_new(b, "seccompUnconfined", json_true());
			else
				return cli_reportf("--security-opt %s is not supported (only "
						   "seccomp=unconfined)",
						   optarg);
			break;
		case OPT_PLATFORM:
			o->platform = optarg;
			break;
		case 'v':
			if (add_volume_flag(mounts, optarg) < 0)
				return -1;
			break;
		case OPT_MOUNT:
			if (add_mount_flag(mounts, optarg) < 0)
				return -1;
			break;
		case 'h':
			help(stdout, verb);
			exit(0);
		default:
			cli_usage_error(verb, "bad option for %s", verb);
			return -1;
		}
	}
	if (network_opts_apply(&net, b) < 0)
		return -1;
	if (uid || gid) {
		_cleanup_free_ char *u =
		    xasprintf("%s%s%s", uid ? uid : "0", gid ? ":" : "", gid ? gid : "");
		json_object_set_new(b, "user", json_string(u));
	}
	if (optind >= argc) {
		cli_usage_error(verb, "%s needs an image", verb);
		return -1;
	}
	json_object_set_new(b, "image", json_string(argv[optind]));
	if (optind + 1 < argc) {
		json_t *cmd = json_array();
		for (int i = optind + 1; i < argc; i++)
			json_array_append_new(cmd, json_string(argv[i]));
		json_object_set_new(b, "command", cmd);
	}
	json_object_set_new(b, "tty", json_boolean(o->tty));
	json_object_set_new(b, "interactive", json_boolean(o->interactive));
	json_object_set_new(b, "rm", json_boolean(o->rm));
	return optind;
}

/* container.create, pulling the image first when it is not here (as docker run
 * does). */
static int create(struct create_opts *o, json_t **reply, struct ct_error *err)
{
	if (cli_call("container.create", o->body, reply, err) == 0)
		return 0;
	if (!ct_error_is(err, CT_ERR_NOT_FOUND) || !strstr(ct_error_message(err), "no image"))
		return -1;
	const char *image = json_string_value(json_object_get(o->body, "image"));
	fprintf(stderr, "Unable to find image '%s' here; pulling it\n", image);
	ct_error_clear(err);
	char *pull[6] = {"pull", "--progress", "plain", (char *)image, NULL, NULL};
	if (o->platform) {
		pull[1] = "--platform";
		pull[2] = (char *)o->platform;
	}
	if (cmd_image_pull(4, pull) != 0)
		return ct_error_set(err, CT_ERR_NOT_FOUND, 0, "could not get the image %s", image);
	return cli_call("container.create", o->body, reply, err);
}

/* Waits for the container to exit while forwarding the signals we get (docker's
 * sig-proxy); returns the exit status. */
/* Tells the container's terminal our window size. */
static void send_size(const char *id)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return;
	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:i, s:i}", "id", id, "rows", ws.ws_row, "cols", ws.ws_col);
	cli_call("container.resize", body, &reply, &err);
}

static int wait_forwarding(const char *id, bool tty, struct ct_error *err)
{
	struct ct_client client;
	sigset_t mask, old;
	int exit_code = -1;

	sigemptyset(&mask);
	if (tty)
		sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, &old);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (cli_connect(&client, err) < 0)
		return -1;
	_cleanup_json_ json_t *q = json_pack("{s:s}", "id", id);
	_cleanup_json_ json_t *msg = ct_msg_request("container.wait", 1, json_incref(q));
	if (ct_frame_send(client.fd, msg, NULL, 0, err) < 0) {
		ct_client_close(&client);
		return -1;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = client.fd, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGWINCH) {
				send_size(id);
			} else if (si.ssi_signo != SIGWINCH) {
				_cleanup_error_ struct ct_error kerr = CT_ERROR_INIT;
				char sig[16];
				snprintf(sig, sizeof(sig), "%u", si.ssi_signo);
				_cleanup_json_ json_t *k =
				    json_pack("{s:s, s:s}", "id", id, "signal", sig);
				_cleanup_json_ json_t *r = NULL;
				cli_call("container.kill", k, &r, &kerr);
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			json_t *reply = NULL;
			struct ct_msg m;
			if (ct_frame_recv(client.fd, CT_FRAME_MAX_DEFAULT, 1000, &reply, NULL, NULL,
					  err) < 0)
				break;
			if (ct_msg_parse(reply, &m, err) == 0) {
				if (m.kind == CT_MSG_ERROR)
					ct_error_set(err, m.error_code, 0, "%s", m.error_message);
				else if (m.kind == CT_MSG_REPLY)
					exit_code =
					    json_integer_value(json_object_get(m.body, "exitCode"));
			}
			json_decref(reply);
			if (m.kind != CT_MSG_PROGRESS)
				break;
		}
	}
	ct_client_close(&client);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return exit_code;
}

static int write_cidfile(const char *path, const char *id)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return cli_reportf("--cidfile %s: %s%s", path, strerror(errno),
				   errno == EEXIST ? " (remove it first)" : "");
	dprintf(fd, "%s", id);
	close(fd);
	return 0;
}

/* container.start with our stdio attached (or not), then for attached runs the
 * wait; returns the exit status to use. */
static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal(void)
{
	if (termios_saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
}

/* -t -i on a terminal: raw mode, so keys reach the container as typed (Ctrl-C
 * included, which the container's terminal turns into SIGINT). */
static void raw_terminal(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return;
	termios_saved = true;
	atexit(restore_terminal);
	raw = saved_termios;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST; /* keep \n -> \r\n for our own messages */
	tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
}

/* --rm of an attached run: the container is removed here, once its exit
 * status is read (the API server removes detached ones itself). An API server
 * that is restarting gets a few seconds; one that is down for longer removes
 * the container at its next boot, and one that got there first answers "not
 * found", which is just as good. */
static int remove_after_run(const char *id, struct ct_error *err)
{
	_cleanup_json_ json_t *d = json_pack("{s:s, s:b, s:b}", "id", id, "force", 1, "volumes", 1);
	for (int attempt = 0;; attempt++) {
		_cleanup_error_ struct ct_error e = CT_ERROR_INIT;
		_cleanup_json_ json_t *reply = NULL;
		if (cli_call("container.delete", d, &reply, &e) == 0 ||
		    ct_error_is(&e, CT_ERR_NOT_FOUND))
			return 0;
		if (!ct_error_is(&e, CT_ERR_UNAVAILABLE) || attempt >= 50) {
			if (err)
				ct_error_move(err, &e);
			return -1;
		}
		usleep(100 * 1000);
	}
}

static int start_and_wait(const char *id, bool attach, bool interactive, bool rm, bool tty)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:b, s:b}", "id", id, "attach", attach, "interactive", interactive);
	struct winsize ws;
	if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		json_object_set_new(body, "rows", json_integer(ws.ws_row));
		json_object_set_new(body, "cols", json_integer(ws.ws_col));
	}
	struct ct_client client;
	int fds[3], n = 0;

	if (interactive)
		fds[n++] = STDIN_FILENO;
	if (attach) {
		fds[n++] = STDOUT_FILENO;
		fds[n++] = STDERR_FILENO;
	}
	if (cli_connect(&client, &err) < 0)
		return cli_fail(&err);
	/* Our stdio goes to the container's runtime helper as descriptors: the
	 * output never flows through the API server. */
	struct ct_call_options call = {.fds = fds, .nfds = n};
	int rc = ct_client_call(&client, "container.start", body, &reply, &call, &err);
	ct_client_close(&client);
	if (rc < 0) {
		int code = cli_fail(&err);
		if (rm)
			remove_after_run(id, NULL);
		return code;
	}
	if (!attach) {
		printf("%s\n", id);
		return 0;
	}
	if (tty && interactive)
		raw_terminal();
	int status = wait_forwarding(id, tty, &err);
	restore_terminal();
	termios_saved = false;
	if (status < 0)
		return cli_fail(&err);
	if (rm && remove_after_run(id, &err) < 0)
		cli_fail(&err);
	return status;
}

static int create_or_run(int argc, char **argv, bool run)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	struct create_opts o = {.body = json_object()};
	const char *verb = run ? "run" : "create";
	int rc;

	if (parse_create(argc, argv, verb, &o) < 0) {
		json_decref(o.body);
		return EXIT_ENGINE;
	}
	if (run && o.rm)
		json_object_set_new(o.body, "rm", json_true());
	rc = create(&o, &reply, &err);
	json_decref(o.body);
	if (rc < 0)
		return cli_fail(&err);
	const char *id = json_string_value(json_object_get(reply, "id"));
	if (o.cidfile && write_cidfile(o.cidfile, id) < 0)
		return EXIT_ENGINE;
	if (!run) {
		printf("%s\n", id);
		return 0;
	}
	return start_and_wait(id, !o.detach, o.interactive && !o.detach, o.rm && !o.detach, o.tty);
}

int cmd_run(int argc, char **argv)
{
	return create_or_run(argc, argv, true);
}

int cmd_create(int argc, char **argv)
{
	return create_or_run(argc, argv, false);
}

int cmd_start(int argc, char **argv)
{
	bool attach = false, interactive = false;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--attach") == 0)
			attach = true;
		else if (strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--interactive") == 0)
			interactive = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("Usage: container start [-a] [-i] CONTAINER\n");
			return 0;
		} else
			return cli_usage_error("start", "unknown option %s", argv[i]);
	}
	if (i + 1 != argc)
		return cli_usage_error("start", "start takes one container");
	return start_and_wait(argv[i], attach || interactive, interactive, false, false);
}
