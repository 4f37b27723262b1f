#include "spec_builder.h"
#include "etc_files.h"

#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CPU_PERIOD   100000 /* microseconds: --cpus 1.5 is a quota of 150000 */

/* docker's default capability set. */
static const char *const default_caps[] = {
	"CAP_CHOWN",	"CAP_DAC_OVERRIDE",	"CAP_FSETID",	  "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW",	"CAP_SETGID",		"CAP_SETUID",	  "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",	  "CAP_AUDIT_WRITE",
};

/* The OCI defaults docker uses: files a container must not read, and kernel
 * knobs it must not write. */
static const char *const masked_paths[] = {
	"/proc/asound",	       "/proc/acpi",	    "/proc/kcore",	 "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi",	       "/sys/firmware",	    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const struct {
	const char *name;
	int number;
} signals[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
	{"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},	 {"KILL", SIGKILL}, {"USR1", SIGUSR1},
	{"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
	{"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
	{"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},	 {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

int spec_parse_signal(const char *s)
{
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long v = strtol(s, &end, 10);
		return *end || v < 1 || v > 64 ? -1 : (int)v;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].number;
	return -1;
}

int spec_stop_signal(json_t *spec)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(spec, "annotations"), "org.container.stopSignal"));
	int sig = spec_parse_signal(s);

	return sig > 0 ? sig : SIGTERM;
}

/* "NET_ADMIN", "cap_net_admin" -> "CAP_NET_ADMIN", checked against the kernel's
 * names (libcap). */
static char *normalise_cap(const char *name, struct ct_error *err)
{
	_cleanup_free_ char *upper = NULL;
	cap_value_t v;

	upper = strncasecmp(name, "CAP_", 4) == 0 ? xstrdup(name) : xasprintf("CAP_%s", name);
	for (char *p = upper; *p; p++)
		*p = toupper((unsigned char)*p);
	if (cap_from_name(upper, &v) < 0) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "unknown capability %s (see capabilities(7) for the names)", name);
		return NULL;
	}
	return move_ptr(upper);
}

static int all_caps(json_t *out)
{
	for (cap_value_t v = 0; cap_valid(v); v++) {
		char *name = cap_to_name(v);
		if (!name)
			break;
		_cleanup_free_ char *upper = xstrdup(name);
		cap_free(name);
		for (char *p = upper; *p; p++)
			*p = toupper((unsigned char)*p);
		/* Numbers stand in for capabilities libcap has no name for. */
		if (strncmp(upper, "CAP_", 4) == 0)
			json_array_append_new(out, json_string(upper));
	}
	return 0;
}

static bool list_has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach (a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* docker's rule: --cap-drop first (ALL empties the set), then --cap-add (ALL
 * adds every capability). */
static json_t *capabilities(json_t *options, struct ct_error *err)
{
	json_t *drop = json_object_get(options, "capDrop"), *add = json_object_get(options, "capAdd"),
	       *lists[] = {drop, add}, *set, *v;
	size_t i;
	bool drop_all = false;

	/* The names are compared as strings below: a client's [1] would be a NULL. */
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		json_array_foreach (lists[l], i, v)
			if (!json_is_string(v)) {
				ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					     "request body: %s[%zu] must be a capability name, not %s",
					     l == 0 ? "capDrop" : "capAdd", i, ct_json_type_name(v));
				return NULL;
			}
	set = json_array();
	json_array_foreach (drop, i, v)
		if (strcasecmp(json_string_value(v), "ALL") == 0)
			drop_all = true;
	if (!drop_all)
		for (size_t k = 0; k < ARRAY_SIZE(default_caps); k++)
			json_array_append_new(set, json_string(default_caps[k]));
	json_array_foreach (drop, i, v) {
		if (strcasecmp(json_string_value(v), "ALL") == 0)
			continue;
		_cleanup_free_ char *c = normalise_cap(json_string_value(v), err);
		if (!c)
			goto fail;
		for (size_t k = 0; k < json_array_size(set); k++)
			if (strcmp(json_string_value(json_array_get(set, k)), c) == 0) {
				json_array_remove(set, k);
				break;
			}
	}
	json_array_foreach (add, i, v) {
		if (strcasecmp(json_string_value(v), "ALL") == 0) {
			json_array_clear(set);
			all_caps(set);
			continue;
		}
		_cleanup_free_ char *c = normalise_cap(json_string_value(v), err);
		if (!c)
			goto fail;
		if (!list_has(set, c))
			json_array_append_new(set, json_string(c));
	}
	return set;
fail:
	json_decref(set);
	return NULL;
}

/* Image env, then the user's: a later NAME=… replaces an earlier one. */
static json_t *environment(json_t *image_env, json_t *user_env, const char *hostname)
{
	json_t *out = json_array(), *v;
	size_t i;
	bool has_path = false;

	json_t *sources[] = {image_env, user_env};
	for (size_t s = 0; s < 2; s++)
		json_array_foreach (sources[s], i, v) {
			const char *e = json_string_value(v);
			const char *eq = e ? strchr(e, '=') : NULL;
			if (!eq)
				continue;
			size_t klen = eq - e + 1;
			if (strncmp(e, "PATH=", 5) == 0)
				has_path = true;
			for (size_t k = 0; k < json_array_size(out); k++)
				if (strncmp(json_string_value(json_array_get(out, k)), e, klen) == 0) {
					json_array_remove(out, k);
					break;
				}
			json_array_append_new(out, json_string(e));
		}
	if (!has_path)
		json_array_insert_new(out, 0, json_string(DEFAULT_PATH));
	_cleanup_free_ char *h = xasprintf("HOSTNAME=%s", hostname);
	bool has_hostname = false;
	json_array_foreach (out, i, v)
		if (strncmp(json_string_value(v), "HOSTNAME=", 9) == 0)
			has_hostname = true;
	if (!has_hostname)
		json_array_append_new(out, json_string(h));
	return out;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Comma-separated mount options appended to an OCI options array. */
static void append_options(json_t *list, const char *opts)
{
	_cleanup_free_ char *copy = xstrdup(opts ? opts : "");
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(list, json_string(t));
}

static size_t path_depth(const char *path)
{
	size_t n = 0;

	for (; path && *path; path++)
		n += *path == '/';
	return n;
}

/* The container's own mounts: --tmpfs, then -v and --mount (validated and
 * resolved by the API server: a volume's source is its _data folder). Sorted
 * shallowest first (stable), so a mount at /a/b lands inside one at /a. */
static json_t *user_mounts(json_t *options)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach (json_object_get(options, "tmpfs"), i, v) {
		const char *path = json_string_value(json_object_get(v, "path"));
		const char *opts = json_string_value(json_object_get(v, "options"));
		json_t *o = json_array();
		append_options(o, opts && *opts ? opts : "nosuid,nodev,noexec");
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "destination", path,
						     "type", "tmpfs", "source", "tmpfs", "options", o));
	}
	json_array_foreach (json_object_get(options, "mounts"), i, v) {
		const char *type = json_string_value(json_object_get(v, "type"));
		bool ro = json_is_true(json_object_get(v, "readOnly"));
		json_t *o;
		if (type && strcmp(type, "tmpfs") == 0) {
			o = json_pack("[s, s, s]", "nosuid", "nodev", "noexec");
			append_options(o, json_string_value(json_object_get(v, "options")));
		} else {
			/* A bind, then (with ro) a read-only remount of it. */
			o = json_pack("[s]", "rbind");
			type = "bind";
		}
		json_array_append_new(o, json_string(ro ? "ro" : "rw"));
		json_array_append_new(out, json_pack("{s:O, s:s, s:O, s:o}", "destination",
						     json_object_get(v, "destination"), "type", type,
						     "source", json_object_get(v, "source"),
						     "options", o));
	}
	/* Insertion sort: stable, and the lists are short. */
	for (size_t k = 1; k < json_array_size(out); k++) {
		json_t *item = json_incref(json_array_get(out, k));
		size_t depth = path_depth(json_string_value(json_object_get(item, "destination")));
		size_t j = k;
		while (j > 0 && path_depth(json_string_value(json_object_get(
					json_array_get(out, j - 1), "destination"))) > depth)
			j--;
		json_array_remove(out, k);
		json_array_insert_new(out, j, item);
	}
	return out;
}

/* Drops from list the mounts whose destination one of user's takes: a
 * user's mount at /dev/shm or /etc/hosts replaces ours, as in docker. */
static void drop_replaced(json_t *list, json_t *user)
{
	json_t *u;
	size_t i;

	json_array_foreach (user, i, u) {
		const char *dest = json_string_value(json_object_get(u, "destination"));
		for (size_t k = 0; k < json_array_size(list);) {
			const char *d =
				json_string_value(json_object_get(json_array_get(list, k), "destination"));
			if (d && dest && strcmp(d, dest) == 0)
				json_array_remove(list, k);
			else
				k++;
		}
	}
}

static json_t *mounts(json_t *options)
{
	json_int_t shm = 64 * 1024 * 1024;

	if (json_is_integer(json_object_get(options, "shmSize")))
		shm = json_integer_value(json_object_get(options, "shmSize"));
	_cleanup_free_ char *shm_opt = xasprintf("size=%lldk", (long long)(shm / 1024));
	json_t *m = json_pack(
		"[{s:s, s:s, s:s, s:[s, s, s]},"
		" {s:s, s:s, s:s, s:[s, s, s, s]},"
		" {s:s, s:s, s:s, s:[s, s, s, s, s, s]},"
		" {s:s, s:s, s:s, s:[s, s, s, s, s]},"
		" {s:s, s:s, s:s, s:[s, s, s]},"
		" {s:s, s:s, s:s, s:[s, s, s, s]}]",
		"destination", "/proc", "type", "proc", "source", "proc", "options", "nosuid",
		"noexec", "nodev", "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options",
		"nosuid", "strictatime", "mode=755", "size=65536k", "destination", "/dev/pts", "type",
		"devpts", "source", "devpts", "options", "nosuid", "noexec", "newinstance",
		"ptmxmode=0666", "mode=0620", "gid=5", "destination", "/dev/shm", "type", "tmpfs",
		"source", "shm", "options", "nosuid", "noexec", "nodev", "mode=1777", shm_opt,
		"destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options",
		"nosuid", "noexec", "nodev", "destination", "/sys", "type", "sysfs", "source",
		"sysfs", "options", "nosuid", "noexec", "nodev", "ro");
	json_t *user = user_mounts(options);
	drop_replaced(m, user);
	json_array_extend(m, user);
	json_decref(user);
	return m;
}

json_t *spec_build(const struct spec_inputs *in, struct ct_error *err)
{
	json_t *opts = in->options;
	json_t *img = json_object_get(in->image_config, "config");
	json_t *entrypoint = json_object_get(img, "Entrypoint");
	json_t *cmd = json_object_get(img, "Cmd");
	json_t *v;

	/* docker's rules: a command replaces the image's Cmd; an --entrypoint
	 * replaces the Entrypoint and also drops the image's Cmd. */
	if ((v = json_object_get(opts, "entrypoint"))) {
		entrypoint = v;
		cmd = NULL;
	}
	if ((v = json_object_get(opts, "command")) && json_array_size(v))
		cmd = v;
	/* The limits must fit the spec's integers: memory+swap is twice the memory
	 * limit, the CPU quota is cpus times the period. */
	json_int_t memory = json_integer_value(json_object_get(opts, "memory"));
	if (memory > LLONG_MAX / 2) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "--memory %lld: the limit can be at most %lld bytes", (long long)memory,
			     LLONG_MAX / 2);
		return NULL;
	}
	double cpus = json_number_value(json_object_get(opts, "cpus"));
	if (!(cpus * CPU_PERIOD < (double)LLONG_MAX)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "--cpus %g: give at most the number of CPUs the host has", cpus);
		return NULL;
	}
	json_t *args = json_array();
	if (json_object_get(opts, "init") == json_true()) {
		json_array_append_new(args, json_string("/dev/init"));
		json_array_append_new(args, json_string("--"));
	}
	if (json_is_array(entrypoint))
		json_array_extend(args, entrypoint);
	if (json_is_array(cmd))
		json_array_extend(args, cmd);
	bool has_command = json_array_size(args) >
			   (json_object_get(opts, "init") == json_true() ? 2u : 0u);
	if (!has_command) {
		json_decref(args);
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "the image has no command (no Cmd or Entrypoint); give one after the "
			     "image name");
		return NULL;
	}

	const char *hostname = json_string_value(json_object_get(opts, "hostname"));
	if (!hostname)
		hostname = in->name;
	json_t *caps = capabilities(opts, err);
	if (!caps) {
		json_decref(args);
		return NULL;
	}

	const char *cwd = json_string_value(json_object_get(opts, "workdir"));
	if (!cwd || !*cwd)
		cwd = json_string_value(json_object_get(img, "WorkingDir"));
	if (!cwd || !*cwd)
		cwd = "/";
	if (cwd[0] != '/') {
		json_decref(args);
		json_decref(caps);
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "the working directory %s must be an absolute path", cwd);
		return NULL;
	}

	/* -u: numbers go in the spec; names are resolved inside the rootfs. */
	const char *user = json_string_value(json_object_get(opts, "user"));
	if (!user || !*user)
		user = json_string_value(json_object_get(img, "User"));
	json_t *process_user = json_pack("{s:i, s:i}", "uid", 0, "gid", 0);
	const char *user_annotation = NULL;
	if (user && *user) {
		_cleanup_free_ char *copy = xstrdup(user);
		char *colon = strchr(copy, ':');
		if (colon)
			*colon = '\0';
		if (all_digits(copy) && (!colon || all_digits(colon + 1))) {
			json_object_set_new(process_user, "uid", json_integer(atoll(copy)));
			json_object_set_new(process_user, "gid",
					    json_integer(colon ? atoll(colon + 1) : 0));
		} else {
			user_annotation = user;
		}
	}

	json_t *env = environment(json_object_get(img, "Env"), json_object_get(opts, "env"),
				  hostname);
	json_t *lower = json_array();
	size_t i;
	json_t *snap;
	json_array_foreach (in->snapshots, i, snap) {
		_cleanup_free_ char *fs = xasprintf("%s/fs", json_string_value(snap));
		json_array_insert_new(lower, 0, json_string(fs));
	}
	_cleanup_free_ char *lower_joined = NULL;
	json_array_foreach (lower, i, snap) {
		char *j = lower_joined ? xasprintf("%s:%s", lower_joined, json_string_value(snap))
				       : xstrdup(json_string_value(snap));
		free(lower_joined);
		lower_joined = j;
	}
	json_decref(lower);

	json_t *ulimits = json_array();
	json_array_foreach (json_object_get(opts, "ulimits"), i, v)
		json_array_append_new(ulimits,
				      json_pack("{s:O, s:O, s:O}", "type", json_object_get(v, "type"),
						"soft", json_object_get(v, "soft"), "hard",
						json_object_get(v, "hard")));

	const char *network = json_string_value(json_object_get(opts, "network"));
	json_t *namespaces = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type",
				       "mount", "type", "ipc", "type", "uts", "type", "cgroup");
	if (!network || strcmp(network, "host") != 0)
		json_array_append_new(namespaces, json_pack("{s:s}", "type", "network"));

	json_t *resources = json_object();
	if ((v = json_object_get(opts, "memory")) && json_integer_value(v) > 0) {
		json_int_t mem = json_integer_value(v);
		/* docker: with a memory limit and no swap setting, memory+swap is twice
		 * the limit. */
		json_object_set_new(resources, "memory",
				    json_pack("{s:I, s:I}", "limit", mem, "swap", 2 * mem));
	}
	if ((v = json_object_get(opts, "cpus")) && json_number_value(v) > 0) {
		json_int_t period = CPU_PERIOD;
		json_object_set_new(resources, "cpu",
				    json_pack("{s:I, s:I}", "quota",
					      (json_int_t)(json_number_value(v) * period), "period",
					      period));
	}
	if ((v = json_object_get(opts, "pidsLimit")) && json_integer_value(v) > 0)
		json_object_set_new(resources, "pids", json_pack("{s:O}", "limit", v));

	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", in->bundle);
	_cleanup_free_ char *upper = xasprintf("%s/upper", in->bundle);
	_cleanup_free_ char *work = xasprintf("%s/work", in->bundle);
	_cleanup_free_ char *cgroups_path = xasprintf("container/%s", in->id);
	const char *stop_signal = json_string_value(json_object_get(opts, "stopSignal"));
	if (!stop_signal)
		stop_signal = json_string_value(json_object_get(img, "StopSignal"));

	json_t *masked = json_array(), *readonly = json_array();
	for (size_t k = 0; k < ARRAY_SIZE(masked_paths); k++)
		json_array_append_new(masked, json_string(masked_paths[k]));
	for (size_t k = 0; k < ARRAY_SIZE(readonly_paths); k++)
		json_array_append_new(readonly, json_string(readonly_paths[k]));
	json_array_foreach (json_object_get(opts, "maskedPaths"), i, v)
		json_array_append(masked, v);
	json_array_foreach (json_object_get(opts, "readOnlyPaths"), i, v)
		json_array_append(readonly, v);

	json_t *annotations = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s}", "org.container.rootfs.lower", lower_joined,
		"org.container.rootfs.upper", upper, "org.container.rootfs.work", work,
		"org.container.seccomp",
		json_object_get(opts, "seccompUnconfined") == json_true() ? "unconfined" : "default",
		"org.container.init", json_object_get(opts, "init") == json_true() ? "true" : "false",
		"org.container.name", in->name);
	if (user_annotation)
		json_object_set_new(annotations, "org.container.user", json_string(user_annotation));
	if (stop_signal)
		json_object_set_new(annotations, "org.container.stopSignal", json_string(stop_signal));
	/* --publish-socket: [{host, container}] as JSON text (annotations are strings). */
	if (json_array_size(json_object_get(opts, "publishSockets")) > 0) {
		char *text = json_dumps(json_object_get(opts, "publishSockets"), JSON_COMPACT);
		json_object_set_new(annotations, "org.container.publishSockets", json_string(text));
		free(text);
	}

	/* /etc/hosts, /etc/hostname, /etc/resolv.conf: ours, over the image's. */
	json_t *all_mounts = mounts(opts), *etc_mounts = etc_files_mounts(in->bundle, opts);
	json_t *own = user_mounts(opts);
	drop_replaced(etc_mounts, own);
	json_decref(own);
	json_array_extend(all_mounts, etc_mounts);
	json_decref(etc_mounts);

	json_t *spec = json_pack(
		"{s:s, s:{s:b, s:o, s:o, s:s, s:o, s:{s:O, s:O, s:O, s:o, s:[]}, s:o, s:b},"
		" s:{s:s, s:b}, s:s, s:o, s:{s:o, s:o, s:o, s:o, s:s}, s:o}",
		"ociVersion", "1.0.2", "process", "terminal",
		json_object_get(opts, "tty") == json_true(), "user", process_user, "args", args, "cwd",
		cwd, "env", env, "capabilities", "bounding", caps, "effective", caps, "permitted",
		caps, "inheritable", json_array(), "ambient", "rlimits", ulimits, "noNewPrivileges", 1,
		"root", "path", rootfs, "readonly", json_object_get(opts, "readOnly") == json_true(),
		"hostname", hostname, "mounts", all_mounts, "linux", "namespaces", namespaces,
		"maskedPaths", masked, "readonlyPaths", readonly, "resources", resources, "cgroupsPath",
		cgroups_path, "annotations", annotations);
	json_decref(caps);
	return spec;
}
