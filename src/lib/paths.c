#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

static char *absolute(const char *path, struct ct_error *err, const char *what)
{
	if (path[0] == '/')
		return xstrdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		ct_error_errno(err, CT_ERR_INTERNAL, "resolving %s %s", what, path);
		return NULL;
	}
	return xasprintf("%s/%s", cwd, path);
}

static char *pick(const char *explicit_value, const char *env_name, const char *fallback,
		  const char *what, struct ct_error *err)
{
	const char *v = explicit_value;

	if (!v || !*v)
		v = getenv(env_name);
	if (!v || !*v)
		v = fallback;
	return absolute(v, err, what);
}

/* The install root is the parent of the folder holding our own binary, so a build
 * tree's staged install and /usr/local both work without configuration. */
static char *install_root_from_exe(struct ct_error *err)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "reading /proc/self/exe");
		return NULL;
	}
	exe[n] = '\0';
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return xstrdup(exe[0] ? exe : "/");
}

int ct_paths_resolve(struct ct_paths *paths, const char *app_root, const char *install_root,
		     const char *log_root, struct ct_error *err)
{
	memset(paths, 0, sizeof(*paths));
	bool root = geteuid() == 0;
	_cleanup_free_ char *user_data = NULL, *user_run = NULL, *user_log = NULL;

	if (!root) {
		/* Rootless: per-user folders, following the XDG base directory spec. */
		const char *home = getenv("HOME") ? getenv("HOME") : "/tmp";
		const char *xdg_data = getenv("XDG_DATA_HOME");
		const char *xdg_run = getenv("XDG_RUNTIME_DIR");
		user_data = xdg_data ? xasprintf("%s/container", xdg_data)
				     : xasprintf("%s/.local/share/container", home);
		user_run = xdg_run ? xasprintf("%s/container", xdg_run)
				   : xasprintf("/tmp/container-%u", (unsigned)geteuid());
		user_log = xasprintf("%s/log", user_data);
	}

	paths->app_root = pick(app_root, "CONTAINER_APP_ROOT", root ? "/var/lib/container" : user_data,
			       "app root", err);
	paths->run_root = pick(NULL, "CONTAINER_RUN_ROOT", root ? "/run/container" : user_run,
			       "run root", err);
	paths->log_root = pick(log_root, "CONTAINER_LOG_ROOT", root ? "/var/log/container" : user_log,
			       "log root", err);
	if (install_root && *install_root)
		paths->install_root = absolute(install_root, err, "install root");
	else if (getenv("CONTAINER_INSTALL_ROOT") && *getenv("CONTAINER_INSTALL_ROOT"))
		paths->install_root = absolute(getenv("CONTAINER_INSTALL_ROOT"), err, "install root");
	else
		paths->install_root = install_root_from_exe(err);

	if (!paths->app_root || !paths->run_root || !paths->log_root || !paths->install_root) {
		ct_paths_free(paths);
		return -1;
	}
	return 0;
}

void ct_paths_free(struct ct_paths *paths)
{
	free(paths->install_root);
	free(paths->app_root);
	free(paths->run_root);
	free(paths->log_root);
	memset(paths, 0, sizeof(*paths));
}

void ct_paths_export(const struct ct_paths *paths)
{
	setenv("CONTAINER_INSTALL_ROOT", paths->install_root, 1);
	setenv("CONTAINER_APP_ROOT", paths->app_root, 1);
	setenv("CONTAINER_RUN_ROOT", paths->run_root, 1);
	setenv("CONTAINER_LOG_ROOT", paths->log_root, 1);
}

char **ct_paths_plugin_dirs(const struct ct_paths *paths)
{
	char **dirs = xcalloc(4, sizeof(char *));

	dirs[0] = xasprintf("%s/libexec/container/plugins", paths->install_root);
	dirs[1] = xasprintf("%s/libexec/container-plugins", paths->install_root);
	dirs[2] = xasprintf("%s/user-plugins", paths->app_root);
	return dirs;
}

char *ct_paths_apiserver_socket(const struct ct_paths *paths)
{
	return xasprintf("%s/apiserver.sock", paths->run_root);
}

char *ct_paths_apiserver_pidfile(const struct ct_paths *paths)
{
	return xasprintf("%s/apiserver.pid", paths->run_root);
}

char *ct_paths_log_file(const struct ct_paths *paths)
{
	return xasprintf("%s/container.log", paths->log_root);
}

char *ct_paths_state_db(const struct ct_paths *paths)
{
	return xasprintf("%s/state.db", paths->app_root);
}
