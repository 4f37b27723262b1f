#include "spec.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/un.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

static const struct {
	const char *name;
	int flag;
} namespace_types[] = {
	{"pid", CLONE_NEWPID},	   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
	{"ipc", CLONE_NEWIPC},	   {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP},
	{"user", CLONE_NEWUSER},
};

static const struct {
	const char *name;
	int resource;
} rlimit_types[] = {
	{"RLIMIT_AS", RLIMIT_AS},	    {"RLIMIT_CORE", RLIMIT_CORE},
	{"RLIMIT_CPU", RLIMIT_CPU},	    {"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_FSIZE", RLIMIT_FSIZE},	    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", RLIMIT_NICE},	    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"RLIMIT_NPROC", RLIMIT_NPROC},	    {"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

/* Mount options as runc reads them: flags, propagation, and data for the rest. */
static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_options[] = {
	{"ro", false, MS_RDONLY},	  {"rw", true, MS_RDONLY},
	{"nosuid", false, MS_NOSUID},	  {"suid", true, MS_NOSUID},
	{"nodev", false, MS_NODEV},	  {"dev", true, MS_NODEV},
	{"noexec", false, MS_NOEXEC},	  {"exec", true, MS_NOEXEC},
	{"sync", false, MS_SYNCHRONOUS},  {"async", true, MS_SYNCHRONOUS},
	{"noatime", false, MS_NOATIME},	  {"atime", true, MS_NOATIME},
	{"nodiratime", false, MS_NODIRATIME}, {"relatime", false, MS_RELATIME},
	{"strictatime", false, MS_STRICTATIME}, {"remount", false, MS_REMOUNT},
};

static const struct {
	const char *name;
	unsigned long flag;
} propagations[] = {
	{"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
	{"slave", MS_SLAVE},	       {"rslave", MS_SLAVE | MS_REC},
	{"shared", MS_SHARED},	       {"rshared", MS_SHARED | MS_REC},
	{"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static int parse_mount(json_t *m, size_t index, struct rt_mount *out, struct ct_error *err)
{
	char what[48];
	const char *dest = NULL, *type = "", *source = "";
	char **options = NULL;

	snprintf(what, sizeof(what), "mounts[%zu]", index);
	if (ct_json_get_string(m, "destination", true, &dest, what, err) < 0 ||
	    ct_json_get_string(m, "type", false, &type, what, err) < 0 ||
	    ct_json_get_string(m, "source", false, &source, what, err) < 0 ||
	    ct_json_get_string_array(m, "options", false, &options, what, err) < 0)
		return -1;
	if (dest[0] != '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: destination %s must be an absolute path", what, dest);
	out->destination = xstrdup(dest);
	out->type = xstrdup(type);
	out->source = xstrdup(source);
	_cleanup_free_ char *data = NULL;
	for (char **o = options; o && *o; o++) {
		bool known = false;
		if (strcmp(*o, "bind") == 0 || strcmp(*o, "rbind") == 0) {
			out->bind = true;
			out->recursive = (*o)[0] == 'r';
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(mount_options); i++)
			if (strcmp(*o, mount_options[i].name) == 0) {
				if (mount_options[i].clear)
					out->flags &= ~mount_options[i].flag;
				else
					out->flags |= mount_options[i].flag;
				known = true;
			}
		for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
			if (strcmp(*o, propagations[i].name) == 0) {
				out->propagation = propagations[i].flag;
				known = true;
			}
		if (known)
			continue;
		char *joined = data ? xasprintf("%s,%s", data, *o) : xstrdup(*o);
		free(data);
		data = joined;
	}
	cleanup_strvp(&options);
	out->readonly = out->flags & MS_RDONLY;
	out->data = move_ptr(data);
	return 0;
}

static char **caps(json_t *process, const char *set)
{
	char **out = NULL;

	ct_json_get_string_array(json_object_get(process, "capabilities"), set, false, &out,
				 "capabilities", NULL);
	return out ? out : xcalloc(1, sizeof(char *));
}

static int parse_process(json_t *p, struct rt_spec *s, struct ct_error *err)
{
	const char *cwd = "/";
	json_t *user = NULL, *rlimits = NULL, *item;
	int64_t v;
	size_t i;

	if (ct_json_get_bool(p, "terminal", false, &s->terminal, "process", err) < 0 ||
	    ct_json_get_string_array(p, "args", true, &s->args, "process", err) < 0 ||
	    ct_json_get_string_array(p, "env", false, &s->env, "process", err) < 0 ||
	    ct_json_get_string(p, "cwd", false, &cwd, "process", err) < 0 ||
	    ct_json_get_object(p, "user", false, &user, "process", err) < 0 ||
	    ct_json_get_array(p, "rlimits", false, &rlimits, "process", err) < 0 ||
	    ct_json_get_bool(p, "noNewPrivileges", false, &s->no_new_privileges, "process", err) < 0)
		return -1;
	if (!s->args[0])
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "process.args is empty: the image has no Cmd or Entrypoint; give "
				    "a command");
	if (!s->env)
		s->env = xcalloc(1, sizeof(char *));
	if (cwd[0] != '/')
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "process.cwd %s must be an absolute path", cwd);
	s->cwd = xstrdup(cwd);
	if (user) {
		json_t *gids = json_object_get(user, "additionalGids");
		v = 0;
		if (ct_json_get_int(user, "uid", false, &v, "process.user", err) < 0)
			return -1;
		s->uid = v;
		v = 0;
		if (ct_json_get_int(user, "gid", false, &v, "process.user", err) < 0)
			return -1;
		s->gid = v;
		if (json_is_array(gids)) {
			s->additional_gids = xcalloc(json_array_size(gids) + 1, sizeof(gid_t));
			json_array_foreach (gids, i, item)
				s->additional_gids[s->n_additional_gids++] = json_integer_value(item);
		}
	}
	s->caps_bounding = caps(p, "bounding");
	s->caps_effective = caps(p, "effective");
	s->caps_permitted = caps(p, "permitted");
	s->caps_inheritable = caps(p, "inheritable");
	s->caps_ambient = caps(p, "ambient");
	if (json_is_integer(json_object_get(p, "oomScoreAdj"))) {
		s->oom_score_adj = json_integer_value(json_object_get(p, "oomScoreAdj"));
		s->has_oom_score_adj = true;
	}
	s->rlimits = xcalloc(json_array_size(rlimits) + 1, sizeof(*s->rlimits));
	json_array_foreach (rlimits, i, item) {
		const char *type = NULL;
		int64_t soft = 0, hard = 0;
		int resource = -1;
		if (ct_json_get_string(item, "type", true, &type, "process.rlimits", err) < 0 ||
		    ct_json_get_int(item, "soft", true, &soft, "process.rlimits", err) < 0 ||
		    ct_json_get_int(item, "hard", true, &hard, "process.rlimits", err) < 0)
			return -1;
		for (size_t k = 0; k < ARRAY_SIZE(rlimit_types); k++)
			if (strcmp(type, rlimit_types[k].name) == 0)
				resource = rlimit_types[k].resource;
		if (resource < 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "unknown rlimit %s", type);
		s->rlimits[s->n_rlimits++] = (struct rt_rlimit){resource, soft, hard};
	}
	return 0;
}

static int parse_linux(json_t *l, struct rt_spec *s, struct ct_error *err)
{
	json_t *nss = NULL, *ns, *resources = NULL;
	const char *cg = NULL;
	size_t i;

	if (ct_json_get_array(l, "namespaces", false, &nss, "linux", err) < 0 ||
	    ct_json_get_string_array(l, "maskedPaths", false, &s->masked_paths, "linux", err) < 0 ||
	    ct_json_get_string_array(l, "readonlyPaths", false, &s->readonly_paths, "linux", err) <
		    0 ||
	    ct_json_get_string(l, "cgroupsPath", false, &cg, "linux", err) < 0 ||
	    ct_json_get_object(l, "resources", false, &resources, "linux", err) < 0)
		return -1;
	json_array_foreach (nss, i, ns) {
		const char *type = json_string_value(json_object_get(ns, "type"));
		bool found = false;
		if (json_object_get(ns, "path"))
			return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
					    "joining an existing %s namespace by path is not supported",
					    type ? type : "?");
		for (size_t k = 0; type && k < ARRAY_SIZE(namespace_types); k++)
			if (strcmp(type, namespace_types[k].name) == 0) {
				s->namespaces |= namespace_types[k].flag;
				found = true;
			}
		if (!found)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "unknown namespace type %s",
					    type ? type : "(none)");
	}
	if (s->namespaces & CLONE_NEWUSER)
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "user namespaces are not supported by this runtime yet");
	if (!s->masked_paths)
		s->masked_paths = xcalloc(1, sizeof(char *));
	if (!s->readonly_paths)
		s->readonly_paths = xcalloc(1, sizeof(char *));
	s->cgroups_path = cg ? xstrdup(cg) : NULL;
	s->memory_limit = s->memory_swap = s->cpu_quota = s->cpu_period = s->pids_limit = -1;
	json_t *mem = json_object_get(resources, "memory");
	json_t *cpu = json_object_get(resources, "cpu");
	json_t *pids = json_object_get(resources, "pids");
	if (json_is_integer(json_object_get(mem, "limit")))
		s->memory_limit = json_integer_value(json_object_get(mem, "limit"));
	if (json_is_integer(json_object_get(mem, "swap")))
		s->memory_swap = json_integer_value(json_object_get(mem, "swap"));
	if (json_is_integer(json_object_get(cpu, "quota")))
		s->cpu_quota = json_integer_value(json_object_get(cpu, "quota"));
	if (json_is_integer(json_object_get(cpu, "period")))
		s->cpu_period = json_integer_value(json_object_get(cpu, "period"));
	if (json_is_integer(json_object_get(pids, "limit")))
		s->pids_limit = json_integer_value(json_object_get(pids, "limit"));
	return 0;
}

/* org.container.publishSockets: JSON text, [{"host": PATH, "container": PATH}].
 * The API server checked it; a hand-written bundle gets the same checks here. */
static int parse_publish_sockets(const char *text, struct rt_spec *s, struct ct_error *err)
{
	static const char what[] = "annotation org.container.publishSockets";
	_cleanup_json_ json_t *list = NULL;
	json_error_t jerr;
	json_t *item;
	size_t i;

	list = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_array(list))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s: expected a JSON array of {host, container} (%s)", what,
				    list ? "not an array" : jerr.text);
	s->publish_sockets = xcalloc(json_array_size(list) + 1, sizeof(*s->publish_sockets));
	json_array_foreach (list, i, item) {
		const char *host = NULL, *container = NULL;
		if (ct_json_get_string(item, "host", true, &host, what, err) < 0 ||
		    ct_json_get_string(item, "container", true, &container, what, err) < 0)
			return -1;
		if (host[0] != '/' || container[0] != '/')
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: %s:%s: both paths must be absolute", what, host,
					    container);
		if (strlen(host) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: the host path %s is longer than a Unix socket path "
					    "may be (%zu bytes)",
					    what, host,
					    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		for (size_t k = 0; k < s->n_publish_sockets; k++)
			if (strcmp(s->publish_sockets[k].host_path, host) == 0)
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "--publish-socket: the host path %s is given "
						    "twice; publish each host socket once",
						    host);
		s->publish_sockets[s->n_publish_sockets++] = (struct rt_publish_socket){
			.host_path = xstrdup(host),
			.container_path = xstrdup(container),
		};
	}
	return 0;
}

int rt_spec_load(const char *path, struct rt_spec *s, struct ct_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *root = NULL;
	json_t *process = NULL, *rootobj = NULL, *mounts = NULL, *linux_obj = NULL, *ann = NULL, *m;
	const char *hostname = NULL, *root_path = "rootfs";
	json_error_t jerr;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (ct_read_file(path, 4 << 20, &text, NULL, err) < 0)
		return -1;
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: not a JSON object (%s)",
				    path, root ? "" : jerr.text);
	if (ct_json_get_object(root, "process", true, &process, "config.json", err) < 0 ||
	    ct_json_get_object(root, "root", false, &rootobj, "config.json", err) < 0 ||
	    ct_json_get_array(root, "mounts", false, &mounts, "config.json", err) < 0 ||
	    ct_json_get_object(root, "linux", false, &linux_obj, "config.json", err) < 0 ||
	    ct_json_get_object(root, "annotations", false, &ann, "config.json", err) < 0 ||
	    ct_json_get_string(root, "hostname", false, &hostname, "config.json", err) < 0 ||
	    (rootobj && (ct_json_get_string(rootobj, "path", false, &root_path, "root", err) < 0 ||
			 ct_json_get_bool(rootobj, "readonly", false, &s->root_readonly, "root",
					  err) < 0)) ||
	    parse_process(process, s, err) < 0 || (linux_obj && parse_linux(linux_obj, s, err) < 0))
		goto fail;
	if (!linux_obj) {
		s->masked_paths = xcalloc(1, sizeof(char *));
		s->readonly_paths = xcalloc(1, sizeof(char *));
		s->memory_limit = s->memory_swap = s->cpu_quota = s->cpu_period = s->pids_limit = -1;
	}
	s->root_path = xstrdup(root_path);
	s->hostname = hostname ? xstrdup(hostname) : NULL;
	s->mounts = xcalloc(json_array_size(mounts) + 1, sizeof(*s->mounts));
	json_array_foreach (mounts, i, m) {
		if (parse_mount(m, i, &s->mounts[i], err) < 0)
			goto fail;
		s->n_mounts = i + 1;
	}
	const char *v;
	if ((v = json_string_value(json_object_get(ann, "org.container.rootfs.lower"))))
		s->rootfs_lower = xstrdup(v);
	if ((v = json_string_value(json_object_get(ann, "org.container.rootfs.upper"))))
		s->rootfs_upper = xstrdup(v);
	if ((v = json_string_value(json_object_get(ann, "org.container.rootfs.work"))))
		s->rootfs_work = xstrdup(v);
	if ((v = json_string_value(json_object_get(ann, "org.container.user"))))
		s->user_name = xstrdup(v);
	v = json_string_value(json_object_get(ann, "org.container.seccomp"));
	s->seccomp_unconfined = v && strcmp(v, "unconfined") == 0;
	v = json_string_value(json_object_get(ann, "org.container.init"));
	s->init = v && strcmp(v, "true") == 0;
	if ((v = json_string_value(json_object_get(ann, "org.container.publishSockets"))) &&
	    parse_publish_sockets(v, s, err) < 0)
		goto fail;
	return 0;
fail:
	ct_error_prefix(err, "%s", path);
	rt_spec_free(s);
	return -1;
}

void rt_spec_free(struct rt_spec *s)
{
	cleanup_strvp(&s->args);
	cleanup_strvp(&s->env);
	free(s->cwd);
	free(s->additional_gids);
	free(s->user_name);
	cleanup_strvp(&s->caps_bounding);
	cleanup_strvp(&s->caps_effective);
	cleanup_strvp(&s->caps_permitted);
	cleanup_strvp(&s->caps_inheritable);
	cleanup_strvp(&s->caps_ambient);
	free(s->rlimits);
	free(s->root_path);
	free(s->hostname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
	}
	free(s->mounts);
	cleanup_strvp(&s->masked_paths);
	cleanup_strvp(&s->readonly_paths);
	free(s->cgroups_path);
	free(s->rootfs_lower);
	free(s->rootfs_upper);
	free(s->rootfs_work);
	for (size_t i = 0; i < s->n_publish_sockets; i++) {
		free(s->publish_sockets[i].host_path);
		free(s->publish_sockets[i].container_path);
	}
	free(s->publish_sockets);
	memset(s, 0, sizeof(*s));
}
