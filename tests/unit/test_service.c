/* Unit tests of src/lib/service.c: the `start --socket` contract of service
 * plugins. ct_service_init blocks signals and opens the log, so the scenarios
 * that get past argument parsing run in forked children. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "cleanup.h"
#include "client.h"
#include "error.h"
#include "json_util.h"
#include "log.h"
#include "service.h"
#include "util.h"

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

static void test_usage_errors(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_service svc;
	char *no_verb[] = {"svc", NULL};
	char *wrong_verb[] = {"svc", "stop", "--socket", "/x", NULL};
	char *no_socket[] = {"svc", "start", "--resources", "/r", "--debug", NULL};
	char *socket_without_value[] = {"svc", "start", "--socket", NULL};

	assert_failure(ct_service_init(&svc, "svc", 1, no_verb, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "usage: svc start --socket PATH");
	ct_service_fini(&svc);
	assert_failure(ct_service_init(&svc, "svc", 4, wrong_verb, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "usage:");
	ct_service_fini(&svc);
	assert_failure(ct_service_init(&svc, "svc", 5, no_socket, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "started by container-apiserver");
	/* What was parsed before the error is freed by fini (LeakSanitizer checks). */
	assert_string_equal(svc.resources, "/r");
	assert_true(svc.debug);
	ct_service_fini(&svc);
	assert_null(svc.resources);
	assert_int_equal(svc.signal_fd, -1);
	assert_failure(ct_service_init(&svc, "svc", 3, socket_without_value, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "usage:");
	ct_service_fini(&svc);
}

/* The scenario */

static char *tmp_dir;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_roots(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	tmp_dir = xstrdup("/tmp/ct-test-service-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	_cleanup_free_ char *log = xasprintf("%s/log", tmp_dir);
	if (ct_mkdir_p(log, 0755, &err) < 0)
		return -1;
	return 0;
}

static int teardown_roots(void **state)
{
	nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp_dir);
	tmp_dir = NULL;
	return 0;
}

static void route_ping(struct ct_request *req, void *data)
{
	struct ct_service *svc = data;

	ct_request_reply(req,
			 json_pack("{s:b, s:i, s:s, s:s?}", "pong", 1, "argc", svc->argc, "first",
				   svc->argc > 0 ? svc->argv[0] : "", "resources", svc->resources),
			 NULL, 0);
}

/* Child exit codes. */
enum {
	SVC_OK = 0,
	SVC_INIT_FAILED = 20,
	SVC_BAD_FIELDS,
	SVC_RUN_FAILED,
	SVC_ENV_LEFT,
	SVC_FD_NOT_CLOEXEC,
	SVC_NO_LOG_FILE,
	SVC_LEAKS,
};

/* Runs a service: init, tell the parent it is ready, serve until SIGTERM. */
static int service_child(int ready_fd, int listen_fd, const char *socket_path)
{
	struct ct_error err = CT_ERROR_INIT;
	struct ct_service svc;
	char *argv[] = {"svc",	  "start", "--socket", (char *)socket_path, "--resources", "/res",
			"--mine", "x",	   NULL};
	int rc = SVC_OK;

	_cleanup_free_ char *log_root = xasprintf("%s/log", tmp_dir);
	_cleanup_free_ char *app = xasprintf("%s/app", tmp_dir);
	setenv("CONTAINER_LOG_ROOT", log_root, 1);
	setenv("CONTAINER_APP_ROOT", app, 1);
	setenv("CONTAINER_RUN_ROOT", tmp_dir, 1);
	setenv("CONTAINER_INSTALL_ROOT", tmp_dir, 1);
	if (listen_fd >= 0) {
		/* As the API server hands it over: inheritable, named in the environment. */
		fcntl(listen_fd, F_SETFD, 0);
		char num[16];
		snprintf(num, sizeof(num), "%d", listen_fd);
		setenv("CONTAINER_LISTEN_FD", num, 1);
	}
	if (ct_service_init(&svc, "svc", 8, argv, &err) < 0) {
		fprintf(stderr, "# %s\n", ct_error_message(&err));
		rc = SVC_INIT_FAILED;
		goto out;
	}
	if (strcmp(svc.socket_path, socket_path) != 0 || strcmp(svc.resources, "/res") != 0 ||
	    svc.debug || svc.argc != 2 || strcmp(svc.argv[0], "--mine") != 0 ||
	    strcmp(svc.paths.log_root, log_root) != 0 || !svc.loop || !svc.server) {
		rc = SVC_BAD_FIELDS;
		goto out;
	}
	if (ct_log_file_fd() < 0) {
		rc = SVC_NO_LOG_FILE;
		goto out;
	}
	if (listen_fd >= 0) {
		if (getenv("CONTAINER_LISTEN_FD")) {
			rc = SVC_ENV_LEFT;
			goto out;
		}
		if (!(fcntl(listen_fd, F_GETFD) & FD_CLOEXEC)) {
			rc = SVC_FD_NOT_CLOEXEC;
			goto out;
		}
	}
	ct_server_route(svc.server, "ping", route_ping, &svc);
	if (write(ready_fd, "r", 1) != 1)
		rc = SVC_RUN_FAILED;
	else if (ct_service_run(&svc, &err) < 0)
		rc = SVC_RUN_FAILED;
out:
	ct_service_fini(&svc);
	ct_error_clear(&err);
#ifdef __SANITIZE_ADDRESS__
	if (rc == SVC_OK && __lsan_do_recoverable_leak_check())
		rc = SVC_LEAKS;
#endif
	return rc;
}

static void run_scenario(bool inherit)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *path = xasprintf("%s/svc.sock", tmp_dir);
	_cleanup_free_ char *unbound = xasprintf("%s/never-bound.sock", tmp_dir);
	int ready[2], status, listen_fd = -1;
	char c;

	if (inherit) {
		listen_fd = ct_server_listen_unix(path, 0600, (gid_t)-1, &err);
		assert_true(listen_fd >= 0);
	}
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		_exit(service_child(ready[1], listen_fd, inherit ? unbound : path));
	}
	close(ready[1]);
	if (listen_fd >= 0)
		close(listen_fd);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(pid, &status, 0);
		close(ready[0]);
		fail_msg("service did not start (status %#x)", status);
	}
	close(ready[0]);

	struct ct_client client;
	struct ct_call_options opts = {.timeout_ms = 5000};
	json_t *reply = NULL;
	assert_int_equal(ct_client_connect(&client, path, &err), 0);
	if (ct_client_call(&client, "ping", NULL, &reply, &opts, &err) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("ping: %s", ct_error_message(&err));
	}
	assert_true(json_is_true(json_object_get(reply, "pong")));
	assert_int_equal(json_integer_value(json_object_get(reply, "argc")), 2);
	assert_string_equal(json_string_value(json_object_get(reply, "first")), "--mine");
	assert_string_equal(json_string_value(json_object_get(reply, "resources")), "/res");
	json_decref(reply);
	ct_client_close(&client);
	if (inherit)
		assert_int_equal(access(unbound, F_OK), -1);

	/* SIGTERM ends ct_service_run; the child cleans up and exits 0. */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != SVC_OK)
		fail_msg("service child exited with %d", WEXITSTATUS(status));

	/* It logged to <log root>/container.log. */
	_cleanup_free_ char *log_file = xasprintf("%s/log/container.log", tmp_dir);
	_cleanup_free_ char *text = NULL;
	assert_int_equal(ct_read_file(log_file, 1 << 20, &text, NULL, &err), 0);
	assert_non_null(strstr(text, "info svc["));
	assert_non_null(strstr(text, "svc serving on"));
	assert_non_null(strstr(text, "received signal 15; stopping"));
}

static void test_serve_own_socket(void **state)
{
	run_scenario(false);
}

static void test_serve_inherited_socket(void **state)
{
	run_scenario(true);
}

static int bad_fd_child(void)
{
	struct ct_error err = CT_ERROR_INIT;
	struct ct_service svc;
	_cleanup_free_ char *path = xasprintf("%s/x.sock", tmp_dir);
	char *argv[] = {"svc", "start", "--socket", path, NULL};
	int rc = 0;

	setenv("CONTAINER_LOG_ROOT", tmp_dir, 1);
	setenv("CONTAINER_LISTEN_FD", "2", 1);
	if (ct_service_init(&svc, "svc", 4, argv, &err) == 0 ||
	    !ct_error_is(&err, CT_ERR_INVALID_ARGUMENT) ||
	    !strstr(ct_error_message(&err), "CONTAINER_LISTEN_FD=2 is not a valid descriptor"))
		rc = 1;
	ct_service_fini(&svc);
	ct_error_clear(&err);
	return rc;
}

static void test_bad_listen_fd(void **state)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(bad_fd_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test_setup_teardown(test_serve_own_socket, setup_roots, teardown_roots),
	    cmocka_unit_test_setup_teardown(test_serve_inherited_socket, setup_roots,
					    teardown_roots),
	    cmocka_unit_test_setup_teardown(test_bad_listen_fd, setup_roots, teardown_roots),
	};

	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
