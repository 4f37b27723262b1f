/* Unit tests of src/lib/paths.c: defaults, CONTAINER_*_ROOT and explicit
 * overrides, relative paths, the install root found from our own binary, and the
 * rootless (XDG) defaults. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "paths.h"
#include "util.h"

static const char *const env_names[] = {
    "CONTAINER_APP_ROOT",
    "CONTAINER_RUN_ROOT",
    "CONTAINER_LOG_ROOT",
    "CONTAINER_INSTALL_ROOT",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
    "HOME",
};
static char *saved_env[ARRAY_SIZE(env_names)];

static int save_env(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
		const char *v = getenv(env_names[i]);
		saved_env[i] = v ? xstrdup(v) : NULL;
		if (i < 4)
			unsetenv(env_names[i]);
	}
	return 0;
}

static int restore_env(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
		if (saved_env[i])
			setenv(env_names[i], saved_env[i], 1);
		else
			unsetenv(env_names[i]);
		free(saved_env[i]);
		saved_env[i] = NULL;
	}
	return 0;
}

/* The folder two levels above our own binary (…/tests/unit/test-paths → …/tests). */
static char *expected_install_root(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	return xstrdup(exe);
}

static void test_root_defaults(void **state)
{
	if (geteuid() != 0)
		skip(); /* before any allocation: skip() jumps past cleanups */

	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *install = expected_install_root();
	struct ct_paths p;

	assert_int_equal(ct_paths_resolve(&p, NULL, NULL, NULL, &err), 0);
	assert_string_equal(p.app_root, "/var/lib/container");
	assert_string_equal(p.run_root, "/run/container");
	assert_string_equal(p.log_root, "/var/log/container");
	assert_string_equal(p.install_root, install);
	ct_paths_free(&p);
	assert_null(p.app_root);
	assert_null(p.install_root);
}

static void test_environment_overrides(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_paths p;

	setenv("CONTAINER_APP_ROOT", "/env/app", 1);
	setenv("CONTAINER_RUN_ROOT", "/env/run", 1);
	setenv("CONTAINER_LOG_ROOT", "/env/log", 1);
	setenv("CONTAINER_INSTALL_ROOT", "/env/install", 1);
	assert_int_equal(ct_paths_resolve(&p, NULL, NULL, NULL, &err), 0);
	assert_string_equal(p.app_root, "/env/app");
	assert_string_equal(p.run_root, "/env/run");
	assert_string_equal(p.log_root, "/env/log");
	assert_string_equal(p.install_root, "/env/install");
	ct_paths_free(&p);

	/* Explicit values beat the environment; empty ones do not count. */
	assert_int_equal(ct_paths_resolve(&p, "/cli/app", "/cli/install", "", &err), 0);
	assert_string_equal(p.app_root, "/cli/app");
	assert_string_equal(p.install_root, "/cli/install");
	assert_string_equal(p.log_root, "/env/log");
	assert_string_equal(p.run_root, "/env/run");
	ct_paths_free(&p);

	/* An empty variable is as good as unset. */
	setenv("CONTAINER_INSTALL_ROOT", "", 1);
	_cleanup_free_ char *install = expected_install_root();
	assert_int_equal(ct_paths_resolve(&p, NULL, NULL, NULL, &err), 0);
	assert_string_equal(p.install_root, install);
	ct_paths_free(&p);
}

static void test_relative_made_absolute(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char cwd[PATH_MAX];
	struct ct_paths p;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	setenv("CONTAINER_RUN_ROOT", "rel/run", 1);
	assert_int_equal(ct_paths_resolve(&p, "rel/app", "inst", "logs", &err), 0);
	_cleanup_free_ char *app = xasprintf("%s/rel/app", cwd);
	_cleanup_free_ char *run = xasprintf("%s/rel/run", cwd);
	_cleanup_free_ char *inst = xasprintf("%s/inst", cwd);
	_cleanup_free_ char *logs = xasprintf("%s/logs", cwd);
	assert_string_equal(p.app_root, app);
	assert_string_equal(p.run_root, run);
	assert_string_equal(p.install_root, inst);
	assert_string_equal(p.log_root, logs);
	ct_paths_free(&p);
}

static void test_derived_paths_and_export(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_paths p;

	assert_int_equal(ct_paths_resolve(&p, "/a", "/i", "/l", &err), 0);
	setenv("CONTAINER_RUN_ROOT", "/r", 1);
	ct_paths_free(&p);
	assert_int_equal(ct_paths_resolve(&p, "/a", "/i", "/l", &err), 0);

	_cleanup_free_ char *sock = ct_paths_apiserver_socket(&p);
	_cleanup_free_ char *pid = ct_paths_apiserver_pidfile(&p);
	_cleanup_free_ char *log = ct_paths_log_file(&p);
	_cleanup_free_ char *db = ct_paths_state_db(&p);
	assert_string_equal(sock, "/r/apiserver.sock");
	assert_string_equal(pid, "/r/apiserver.pid");
	assert_string_equal(log, "/l/container.log");
	assert_string_equal(db, "/a/state.db");

	/* DESIGN.md "Plugins": built-in, then user folders; first match wins. */
	_cleanup_strv_ char **dirs = ct_paths_plugin_dirs(&p);
	assert_string_equal(dirs[0], "/i/libexec/container/plugins");
	assert_string_equal(dirs[1], "/i/libexec/container-plugins");
	assert_string_equal(dirs[2], "/a/user-plugins");
	assert_null(dirs[3]);

	unsetenv("CONTAINER_RUN_ROOT");
	ct_paths_export(&p);
	assert_string_equal(getenv("CONTAINER_APP_ROOT"), "/a");
	assert_string_equal(getenv("CONTAINER_INSTALL_ROOT"), "/i");
	assert_string_equal(getenv("CONTAINER_LOG_ROOT"), "/l");
	assert_string_equal(getenv("CONTAINER_RUN_ROOT"), "/r");
	/* What was exported resolves to the same roots in a child process. */
	struct ct_paths q;
	assert_int_equal(ct_paths_resolve(&q, NULL, NULL, NULL, &err), 0);
	assert_string_equal(q.app_root, p.app_root);
	assert_string_equal(q.run_root, p.run_root);
	assert_string_equal(q.log_root, p.log_root);
	assert_string_equal(q.install_root, p.install_root);
	ct_paths_free(&q);
	ct_paths_free(&p);
}

/* Rootless defaults, checked in a child running as uid 65534. */
static int rootless_child(void)
{
	struct ct_error err = CT_ERROR_INIT;
	struct ct_paths p;

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 10;
	setenv("HOME", "/home/nobody", 1);
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_RUNTIME_DIR");
	if (ct_paths_resolve(&p, NULL, "/i", NULL, &err) < 0)
		return 11;
	if (strcmp(p.app_root, "/home/nobody/.local/share/container") != 0 ||
	    strcmp(p.run_root, "/tmp/container-65534") != 0 ||
	    strcmp(p.log_root, "/home/nobody/.local/share/container/log") != 0)
		return 12;
	ct_paths_free(&p);
	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/65534", 1);
	if (ct_paths_resolve(&p, NULL, "/i", NULL, &err) < 0)
		return 13;
	if (strcmp(p.app_root, "/xdg/data/container") != 0 ||
	    strcmp(p.run_root, "/run/user/65534/container") != 0 ||
	    strcmp(p.log_root, "/xdg/data/container/log") != 0)
		return 14;
	ct_paths_free(&p);
	return 0;
}

static void test_rootless_defaults(void **state)
{
	int status;

	if (geteuid() != 0)
		skip();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(rootless_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("rootless check failed with %d", WEXITSTATUS(status));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_root_defaults, save_env, restore_env),
	    cmocka_unit_test_setup_teardown(test_environment_overrides, save_env, restore_env),
	    cmocka_unit_test_setup_teardown(test_relative_made_absolute, save_env, restore_env),
	    cmocka_unit_test_setup_teardown(test_derived_paths_and_export, save_env, restore_env),
	    cmocka_unit_test_setup_teardown(test_rootless_defaults, save_env, restore_env),
	};

	return cmocka_run_group_tests_name("paths", tests, NULL, NULL);
}
