#include "spec_builder.h"
#include "etc_files.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
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
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	       "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",	       "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",	   "CAP_AUDIT_WRITE",
};

/* The OCI defaults docker uses: files a container must not read, and kernel
 * knobs it must not write. */
static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const struct {
	const char *name;
	int number;
} signals[] = {
    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},	   {"ABRT", SIGABRT}, {"BUS", SIGBUS},	   {"FPE", SIGFPE},
    {"KILL", SIGKILL},	   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},	   {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},	   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},	   {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},	   {"SYS", SIGSYS},
};

/* The fields of a create request body that the spec is made of, each checked
 * for its type and range by read_request (strings and arrays borrowed from the
 * body). A missing field is NULL, 0 or false: the defaults. */
struct request {
	json_t *entrypoint, *command, *env;    /* arrays of strings */
	json_t *cap_add, *cap_drop;	       /* arrays of strings */
	json_t *masked_paths, *readonly_paths; /* arrays of strings */
	json_t *ulimits;		       /* [{type, soft, hard}] */
	json_t *tmpfs;			       /* [{path, options}] (--tmpfs) */
	json_t *mounts;			       /* checked by volumes_check_mounts */
	json_t *publish_sockets;	       /* checked by netattach_check_options */
	const char *hostname, *workdir, *user, *stop_signal, *network;
	int64_t memory, pids_limit, shm_size;
	double cpus;
	bool init, tty, read_only, seccomp_unconfined, no_dns;
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
 * adds every capability). Both lists hold only strings (read_request). */
static json_t *capabilities(json_t *drop, json_t *add, struct ct_error *err)
{
	json_t *set, *v;
	size_t i;
	bool drop_all = false;

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
				if (strncmp(json_string_value(json_array_get(out, k)), e, klen) ==
				    0) {
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
static json_t *user_mounts(const struct request *r)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach (r->tmpfs, i, v) {
		const char *path = json_string_value(json_object_get(v, "path"));
		const char *opts = json_string_value(json_object_get(v, "options"));
		json_t *o = json_array();
		append_options(o, opts && *opts ? opts : "nosuid,nodev,noexec");
		json_array_append_new(out,
				      json_pack("{s:s, s:s, s:s, s:o}", "destination", path, "type",
						"tmpfs", "source", "tmpfs", "options", o));
	}
	json_array_foreach (r->mounts, i, v) {
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
						     json_object_get(v, "destination"), "type",
						     type, "source", json_object_get(v, "source"),
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
			const char *d = json_string_value(
			    json_object_get(json_array_get(list, k), "destination"));
			if (d && dest && strcmp(d, dest) == 0)
				json_array_remove(list, k);
			else
				k++;
		}
	}
}

static json_t *mounts(const struct request *r)
{
	int64_t shm = r->shm_size ? r->shm_size : 64 * 1024 * 1024;

	_cleanup_free_ char *shm_opt = xasprintf("size=%lldk", (long long)(shm / 1024));
	json_t *m = json_pack(
	    "[{s:s, s:s, s:s, s:[s, s, s]},"
	    " {s:s, s:s, s:s, s:[s, s, s, s]},"
	    " {s:s, s:s, s:s, s:[s, s, s, s, s, s]},"
	    " {s:s, s:s, s:s, s:[s, s, s, s, s]},"
	    " {s:s, s:s, s:s, s:[s, s, s]},"
	    " {s:s, s:s, s:s, s:[s, s, s, s]}]",
	    "destination", "/proc", "type", "proc", "source", "proc", "options", "nosuid", "noexec",
	    "nodev", "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
	    "strictatime", "mode=755", "size=65536k", "destination", "/dev/pts", "type", "devpts",
	    "source", "devpts", "options", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
	    "mode=0620", "gid=5", "destination", "/dev/shm", "type", "tmpfs", "source", "shm",
	    "options", "nosuid", "noexec", "nodev", "mode=1777", shm_opt, "destination",
	    "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options", "nosuid", "noexec",
	    "nodev", "destination", "/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid",
	    "noexec", "nodev", "ro");
	json_t *user = user_mounts(r);
	drop_replaced(m, user);
	json_array_extend(m, user);
	json_decref(user);
	return m;
}

#define WHAT "request body"

/* Refuses the body: CT_ERR_INVALID_ARGUMENT, "request body: " and fmt. */
#define refuse(err, fmt, ...)                                                                      \
	ct_error_set((err), CT_ERR_INVALID_ARGUMENT, 0, WHAT ": " fmt, ##__VA_ARGS__)

/* An optional JSON number (integer or real); json_util.h has no getter for it. */
static int get_number(json_t *obj, const char *key, double *out, struct ct_error *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_number(v))
		return refuse(err, "field \"%s\" must be a number, not %s", key,
			      ct_json_type_name(v));
	*out = json_number_value(v);
	return 0;
}

/* An optional integer of at least min; `want` says what it is in the message. */
static int get_int_min(json_t *obj, const char *key, int64_t min, const char *want, int64_t *out,
		       struct ct_error *err)
{
	int64_t v = 0;

	if (ct_json_get_int(obj, key, false, &v, WHAT, err) < 0)
		return -1;
	if (!json_object_get(obj, key))
		return 0;
	if (v < min)
		return refuse(err, "field \"%s\" must be %s, not %" PRId64, key, want, v);
	*out = v;
	return 0;
}

/* An optional array of strings; `item` names what each one is ("a path"). */
static int get_strings(json_t *obj, const char *key, const char *item, json_t **out,
		       struct ct_error *err)
{
	json_t *a = NULL, *v;
	size_t i;

	if (ct_json_get_array(obj, key, false, &a, WHAT, err) < 0)
		return -1;
	json_array_foreach (a, i, v)
		if (!json_is_string(v))
			return refuse(err, "%s[%zu] must be %s, not %s", key, i, item,
				      ct_json_type_name(v));
	*out = a;
	return 0;
}

/* An optional array of objects, each checked by check_item. */
static int get_objects(json_t *obj, const char *key, const char *shape,
		       int (*check_item)(json_t *item, const char *what, struct ct_error *err),
		       json_t **out, struct ct_error *err)
{
	json_t *a = NULL, *v;
	size_t i;

	if (ct_json_get_array(obj, key, false, &a, WHAT, err) < 0)
		return -1;
	json_array_foreach (a, i, v) {
		char what[64];
		if (!json_is_object(v))
			return refuse(err, "%s[%zu] must be an object %s, not %s", key, i, shape,
				      ct_json_type_name(v));
		snprintf(what, sizeof(what), WHAT ": %s[%zu]", key, i);
		if (check_item(v, what, err) < 0)
			return -1;
	}
	*out = a;
	return 0;
}

/* The runtime's names (src/plugins/runtime-linux/spec.c). */
static const char *const rlimit_types[] = {
    "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",	   "RLIMIT_DATA",
    "RLIMIT_FSIZE",  "RLIMIT_LOCKS",  "RLIMIT_MEMLOCK",	   "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",   "RLIMIT_NOFILE", "RLIMIT_NPROC",	   "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
};

/* --ulimit: {type: "RLIMIT_NOFILE", soft: N, hard: N}, -1 for unlimited (the
 * runtime's names, and its rule that the soft limit is not above the hard). */
static int check_ulimit(json_t *u, const char *what, struct ct_error *err)
{
	static const char *const keys[] = {"type", "soft", "hard", NULL};
	const char *type = NULL;
	int64_t soft = 0, hard = 0;
	bool known = false;

	if (ct_json_check_keys(u, keys, what, err) < 0 ||
	    ct_json_get_string(u, "type", true, &type, what, err) < 0 ||
	    ct_json_get_int(u, "soft", true, &soft, what, err) < 0 ||
	    ct_json_get_int(u, "hard", true, &hard, what, err) < 0)
		return -1;
	for (size_t k = 0; k < ARRAY_SIZE(rlimit_types); k++)
		known |= strcmp(type, rlimit_types[k]) == 0;
	if (!known)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: field \"type\" must be a limit such as RLIMIT_NOFILE or "
				    "RLIMIT_NPROC, not \"%s\"",
				    what, type);
	if (soft < -1 || hard < -1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: the limits must be 0 or more, or -1 for unlimited, not "
				    "%" PRId64,
				    what, soft < -1 ? soft : hard);
	/* -1 is RLIM_INFINITY, above every number. */
	if (hard != -1 && (soft == -1 || soft > hard)) {
		char soft_text[24] = "unlimited";
		if (soft != -1)
			snprintf(soft_text, sizeof(soft_text), "%" PRId64, soft);
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: the soft limit (%s) is above the hard limit (%" PRId64 ")",
				    what, soft_text, hard);
	}
	return 0;
}

/* --tmpfs PATH[:OPTIONS]: {path, options}. */
static int check_tmpfs(json_t *t, const char *what, struct ct_error *err)
{
	static const char *const keys[] = {"path", "options", NULL};
	const char *path = NULL, *opts = NULL;

	if (ct_json_check_keys(t, keys, what, err) < 0 ||
	    ct_json_get_string(t, "path", true, &path, what, err) < 0 ||
	    ct_json_get_string(t, "options", false, &opts, what, err) < 0)
		return -1;
	if (path[0] != '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: field \"path\" must be an absolute path in the container, "
				    "not \"%s\"",
				    what, path);
	return 0;
}

/* -v and --mount in the form volumes_check_mounts stores them: the fields
 * user_mounts reads, with their types (a direct caller of spec_build gets no
 * further checks of paths and sources). */
static int check_mount(json_t *m, const char *what, struct ct_error *err)
{
	const char *s = NULL;
	bool b;

	if (ct_json_get_string(m, "type", false, &s, what, err) < 0 ||
	    ct_json_get_string(m, "source", true, &s, what, err) < 0 ||
	    ct_json_get_string(m, "destination", true, &s, what, err) < 0 ||
	    ct_json_get_bool(m, "readOnly", false, &b, what, err) < 0 ||
	    ct_json_get_string(m, "options", false, &s, what, err) < 0)
		return -1;
	return 0;
}

/* -e: NAME=VALUE (the CLI resolves a bare NAME from its own environment). */
static int check_env(json_t *env, struct ct_error *err)
{
	json_t *v;
	size_t i;

	json_array_foreach (env, i, v) {
		const char *e = json_string_value(v);
		if (!strchr(e, '=') || e[0] == '=')
			return refuse(err, "env[%zu] must be NAME=VALUE, not \"%s\"", i, e);
	}
	return 0;
}

/* -l: {KEY: VALUE}, stored with the container (not in the spec). */
static int check_labels(json_t *opts, struct ct_error *err)
{
	json_t *labels = NULL, *v;
	const char *key;

	if (ct_json_get_object(opts, "labels", false, &labels, WHAT, err) < 0)
		return -1;
	json_object_foreach (labels, key, v)
		if (!json_is_string(v))
			return refuse(err, "labels.%s must be a string, not %s", key,
				      ct_json_type_name(v));
	return 0;
}

/* The kernel's limit (HOST_NAME_MAX; sethostname fails above it), and no
 * whitespace or control characters: the name is written into /etc/hosts and
 * /etc/hostname, where a newline would start a line of its own. */
static int check_hostname(const char *h, struct ct_error *err)
{
	size_t len = strlen(h);

	if (len == 0 || len > 64)
		return refuse(err,
			      "field \"hostname\" must be 1 to 64 characters, not %zu (leave "
			      "it out for the container's name)",
			      len);
	for (const char *p = h; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return refuse(err, "field \"hostname\" must not contain spaces or control "
					   "characters");
	return 0;
}

/* A uid or gid of -u (digits): (uid_t)-1 means "unchanged" to setresuid, so
 * the largest is 2^32 - 2. */
static bool parse_id(const char *digits, json_int_t *out)
{
	errno = 0;
	unsigned long long v = strtoull(digits, NULL, 10);
	if (errno || v >= UINT32_MAX)
		return false;
	*out = (json_int_t)v;
	return true;
}

/* -u USER[:GROUP], or the image's User: numbers go in the spec's process.user
 * (*uid, *gid); names are resolved inside the rootfs (*is_name: the
 * org.container.user annotation). from says where user came from, for the
 * message. */
static int parse_user(const char *user, const char *from, json_int_t *uid, json_int_t *gid,
		      bool *is_name, struct ct_error *err)
{
	*uid = *gid = 0;
	*is_name = false;
	if (!user || !*user)
		return 0;
	_cleanup_free_ char *copy = xstrdup(user);
	char *colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	if (!all_digits(copy) || (colon && !all_digits(colon + 1))) {
		*is_name = true;
		return 0;
	}
	if (!parse_id(copy, uid) || (colon && !parse_id(colon + 1, gid)))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s \"%s\": a uid or gid is at most %u", from, user,
				    UINT32_MAX - 1);
	return 0;
}

static int read_request(json_t *opts, struct request *r, struct ct_error *err)
{
	*r = (struct request){0};
	if (get_strings(opts, "entrypoint", "a string", &r->entrypoint, err) < 0 ||
	    get_strings(opts, "command", "a string", &r->command, err) < 0 ||
	    get_strings(opts, "env", "NAME=VALUE", &r->env, err) < 0 ||
	    check_env(r->env, err) < 0 ||
	    ct_json_get_string(opts, "user", false, &r->user, WHAT, err) < 0 ||
	    ct_json_get_string(opts, "workdir", false, &r->workdir, WHAT, err) < 0 ||
	    ct_json_get_bool(opts, "tty", false, &r->tty, WHAT, err) < 0 ||
	    ct_json_get_bool(opts, "init", false, &r->init, WHAT, err) < 0 ||
	    get_objects(opts, "ulimits", "{type, soft, hard}", check_ulimit, &r->ulimits, err) <
		0 ||
	    get_number(opts, "cpus", &r->cpus, err) < 0 ||
	    ct_json_get_int(opts, "memory", false, &r->memory, WHAT, err) < 0 ||
	    get_int_min(opts, "pidsLimit", 0, "a number of processes (0: no limit)", &r->pids_limit,
			err) < 0 ||
	    get_int_min(opts, "shmSize", 1024,
			"a size of at least 1024 bytes (leave it out for 64 MiB)", &r->shm_size,
			err) < 0 ||
	    check_labels(opts, err) < 0 ||
	    ct_json_get_bool(opts, "readOnly", false, &r->read_only, WHAT, err) < 0 ||
	    get_objects(opts, "tmpfs", "{path, options}", check_tmpfs, &r->tmpfs, err) < 0 ||
	    get_objects(opts, "mounts", "{type, source, destination, …}", check_mount, &r->mounts,
			err) < 0 ||
	    get_strings(opts, "capAdd", "a capability name", &r->cap_add, err) < 0 ||
	    get_strings(opts, "capDrop", "a capability name", &r->cap_drop, err) < 0 ||
	    get_strings(opts, "maskedPaths", "a path", &r->masked_paths, err) < 0 ||
	    get_strings(opts, "readOnlyPaths", "a path", &r->readonly_paths, err) < 0 ||
	    ct_json_get_string(opts, "stopSignal", false, &r->stop_signal, WHAT, err) < 0 ||
	    ct_json_get_bool(opts, "seccompUnconfined", false, &r->seccomp_unconfined, WHAT, err) <
		0 ||
	    ct_json_get_string(opts, "hostname", false, &r->hostname, WHAT, err) < 0 ||
	    ct_json_get_string(opts, "network", false, &r->network, WHAT, err) < 0 ||
	    ct_json_get_array(opts, "publishSockets", false, &r->publish_sockets, WHAT, err) < 0 ||
	    ct_json_get_bool(opts, "noDns", false, &r->no_dns, WHAT, err) < 0)
		return -1;
	/* 0 is no limit, as when the field is left out. The limits must fit the
	 * spec's integers: memory+swap is twice the memory limit, the CPU quota is
	 * cpus times the period. */
	if (r->memory < 0)
		return refuse(err,
			      "field \"memory\" must be a number of bytes (0: no limit), not "
			      "%" PRId64,
			      r->memory);
	if (r->memory > LLONG_MAX / 2)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--memory %lld: the limit can be at most %lld bytes",
				    (long long)r->memory, LLONG_MAX / 2);
	if (r->cpus < 0)
		return refuse(err, "field \"cpus\" must be a number of CPUs (0: no limit), not %g",
			      r->cpus);
	if (!(r->cpus * CPU_PERIOD < (double)LLONG_MAX))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--cpus %g: give at most the number of CPUs the host has",
				    r->cpus);
	if (r->stop_signal && spec_parse_signal(r->stop_signal) < 0)
		return refuse(err,
			      "field \"stopSignal\" must be a signal such as SIGTERM, TERM or 15, "
			      "not \"%s\"",
			      r->stop_signal);
	if (r->hostname && check_hostname(r->hostname, err) < 0)
		return -1;
	/* "" is the image's (or /), as the CLI sends for -w "". */
	if (r->workdir && *r->workdir && r->workdir[0] != '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the working directory %s must be an absolute path",
				    r->workdir);
	json_int_t uid, gid;
	bool is_name;
	return parse_user(r->user, WHAT ": user", &uid, &gid, &is_name, err);
}

int spec_check_options(json_t *options, struct ct_error *err)
{
	struct request r;

	return read_request(options, &r, err);
}

json_t *spec_build(const struct spec_inputs *in, struct ct_error *err)
{
	json_t *opts = in->options;
	json_t *img = json_object_get(in->image_config, "config");
	json_t *entrypoint = json_object_get(img, "Entrypoint");
	json_t *cmd = json_object_get(img, "Cmd");
	struct request r;

	if (read_request(opts, &r, err) < 0)
		return NULL;
	/* docker's rules: a command replaces the image's Cmd; an --entrypoint
	 * replaces the Entrypoint and also drops the image's Cmd. */
	if (r.entrypoint) {
		entrypoint = r.entrypoint;
		cmd = NULL;
	}
	if (json_array_size(r.command))
		cmd = r.command;
	_cleanup_json_ json_t *args = json_array();
	if (r.init) {
		json_array_append_new(args, json_string("/dev/init"));
		json_array_append_new(args, json_string("--"));
	}
	if (json_is_array(entrypoint))
		json_array_extend(args, entrypoint);
	if (json_is_array(cmd))
		json_array_extend(args, cmd);
	if (json_array_size(args) == (r.init ? 2u : 0u)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "the image has no command (no Cmd or Entrypoint); give one after the "
			     "image name");
		return NULL;
	}

	const char *hostname = r.hostname ? r.hostname : in->name;
	_cleanup_json_ json_t *caps = capabilities(r.cap_drop, r.cap_add, err);
	if (!caps)
		return NULL;

	const char *cwd = r.workdir;
	if (!cwd || !*cwd)
		cwd = json_string_value(json_object_get(img, "WorkingDir"));
	if (!cwd || !*cwd)
		cwd = "/";
	if (cwd[0] != '/') {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
			     "the working directory %s must be an absolute path", cwd);
		return NULL;
	}

	/* -u, else the image's User. */
	const char *user =
	    r.user && *r.user ? r.user : json_string_value(json_object_get(img, "User"));
	json_int_t uid, gid;
	bool user_is_name;
	if (parse_user(user, user == r.user ? WHAT ": user" : "the image's User", &uid, &gid,
		       &user_is_name, err) < 0)
		return NULL;
	const char *user_annotation = user_is_name ? user : NULL;

	json_t *env = environment(json_object_get(img, "Env"), r.env, hostname);
	json_t *lower = json_array();
	size_t i;
	json_t *snap, *v;
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
	json_array_foreach (r.ulimits, i, v)
		json_array_append_new(ulimits, json_pack("{s:O, s:O, s:O}", "type",
							 json_object_get(v, "type"), "soft",
							 json_object_get(v, "soft"), "hard",
							 json_object_get(v, "hard")));

	json_t *namespaces = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type",
				       "mount", "type", "ipc", "type", "uts", "type", "cgroup");
	if (!r.network || strcmp(r.network, "host") != 0)
		json_array_append_new(namespaces, json_pack("{s:s}", "type", "network"));

	json_t *resources = json_object();
	if (r.memory > 0) {
		/* docker: with a memory limit and no swap setting, memory+swap is twice
		 * the limit. */
		json_object_set_new(resources, "memory",
				    json_pack("{s:I, s:I}", "limit", (json_int_t)r.memory, "swap",
					      (json_int_t)(2 * r.memory)));
	}
	if (r.cpus > 0) {
		json_int_t period = CPU_PERIOD;
		json_object_set_new(resources, "cpu",
				    json_pack("{s:I, s:I}", "quota", (json_int_t)(r.cpus * period),
					      "period", period));
	}
	if (r.pids_limit > 0)
		json_object_set_new(resources, "pids",
				    json_pack("{s:I}", "limit", (json_int_t)r.pids_limit));

	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", in->bundle);
	_cleanup_free_ char *upper = xasprintf("%s/upper", in->bundle);
	_cleanup_free_ char *work = xasprintf("%s/work", in->bundle);
	_cleanup_free_ char *cgroups_path = xasprintf("container/%s", in->id);
	const char *stop_signal = r.stop_signal;
	if (!stop_signal)
		stop_signal = json_string_value(json_object_get(img, "StopSignal"));

	json_t *masked = json_array(), *readonly = json_array();
	for (size_t k = 0; k < ARRAY_SIZE(masked_paths); k++)
		json_array_append_new(masked, json_string(masked_paths[k]));
	for (size_t k = 0; k < ARRAY_SIZE(readonly_paths); k++)
		json_array_append_new(readonly, json_string(readonly_paths[k]));
	if (r.masked_paths)
		json_array_extend(masked, r.masked_paths);
	if (r.readonly_paths)
		json_array_extend(readonly, r.readonly_paths);

	json_t *annotations = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s}", "org.container.rootfs.lower", lower_joined,
	    "org.container.rootfs.upper", upper, "org.container.rootfs.work", work,
	    "org.container.seccomp", r.seccomp_unconfined ? "unconfined" : "default",
	    "org.container.init", r.init ? "true" : "false", "org.container.name", in->name);
	if (user_annotation)
		json_object_set_new(annotations, "org.container.user",
				    json_string(user_annotation));
	if (stop_signal)
		json_object_set_new(annotations, "org.container.stopSignal",
				    json_string(stop_signal));
	/* --publish-socket: [{host, container}] as JSON text (annotations are strings). */
	if (json_array_size(r.publish_sockets) > 0) {
		char *text = json_dumps(r.publish_sockets, JSON_COMPACT);
		json_object_set_new(annotations, "org.container.publishSockets", json_string(text));
		free(text);
	}

	/* /etc/hosts, /etc/hostname, /etc/resolv.conf: ours, over the image's. */
	json_t *all_mounts = mounts(&r), *etc_mounts = etc_files_mounts(in->bundle, opts);
	json_t *own = user_mounts(&r);
	drop_replaced(etc_mounts, own);
	json_decref(own);
	json_array_extend(all_mounts, etc_mounts);
	json_decref(etc_mounts);

	return json_pack(
	    "{s:s, s:{s:b, s:{s:I, s:I}, s:O, s:s, s:o, s:{s:O, s:O, s:O, s:[], s:[]}, s:o,"
	    " s:b}, s:{s:s, s:b}, s:s, s:o, s:{s:o, s:o, s:o, s:o, s:s}, s:o}",
	    "ociVersion", "1.0.2", "process", "terminal", r.tty, "user", "uid", uid, "gid", gid,
	    "args", args, "cwd", cwd, "env", env, "capabilities", "bounding", caps, "effective",
	    caps, "permitted", caps, "inheritable", "ambient", "rlimits", ulimits,
	    "noNewPrivileges", 1, "root", "path", rootfs, "readonly", r.read_only, "hostname",
	    hostname, "mounts", all_mounts, "linux", "namespaces", namespaces, "maskedPaths",
	    masked, "readonlyPaths", readonly, "resources", resources, "cgroupsPath", cgroups_path,
	    "annotations", annotations);
}
