/* container-plugin-sample: a service plugin for the tests only (not installed).
 * It proves loading, routing (with descriptors both ways and progress frames),
 * crash-restart and crash-loop handling. Routes, all under "sample.":
 *   sample.echo      replies with the request body plus the plugin's pid
 *   sample.progress  {count}: that many progress frames, then a reply
 *   sample.sleep     {ms}: replies after ms without blocking other requests
 *   sample.fd        writes a line to the descriptor it was sent and replies
 *                    with the read end of a pipe holding "from-sample\n"
 *   sample.crash     exits at once with status 3, replying nothing
 * Flags (from the manifest's defaultArguments): --crash-at-start exits 1 at once. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "service.h"

static void route_echo(struct ct_request *req, void *data)
{
	json_t *body = json_deep_copy(ct_request_body(req));

	json_object_set_new(body, "pid", json_integer(getpid()));
	ct_request_reply(req, body, NULL, 0);
}

static void route_progress(struct ct_request *req, void *data)
{
	json_int_t count = json_integer_value(json_object_get(ct_request_body(req), "count"));

	for (json_int_t i = 0; i < count; i++)
		ct_request_progress(req, json_pack("{s:I}", "step", i + 1));
	ct_request_reply(req, json_pack("{s:I}", "steps", count), NULL, 0);
}

static void sleep_done(struct ct_loop *loop, void *data)
{
	ct_request_reply(data, json_pack("{s:b}", "slept", 1), NULL, 0);
}

static void route_sleep(struct ct_request *req, void *data)
{
	struct ct_service *svc = data;
	json_int_t ms = json_integer_value(json_object_get(ct_request_body(req), "ms"));

	ct_loop_timer(svc->loop, ms > 0 ? ms : 0, sleep_done, req);
}

static void route_fd(struct ct_request *req, void *data)
{
	int pipefd[2];

	if (ct_request_nfds(req) != 1) {
		ct_request_error(req, CT_ERR_INVALID_ARGUMENT, "sample.fd wants exactly one descriptor");
		return;
	}
	int fd = ct_request_take_fd(req, 0);
	dprintf(fd, "written-by-sample\n");
	close(fd);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ct_request_error(req, CT_ERR_INTERNAL, "pipe failed");
		return;
	}
	dprintf(pipefd[1], "from-sample\n");
	close(pipefd[1]);
	ct_request_reply(req, json_pack("{s:b}", "ok", 1), &pipefd[0], 1);
}

static void route_crash(struct ct_request *req, void *data)
{
	log_info("sample.crash: exiting with status 3 as asked");
	_exit(3);
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_service svc;
	int rc = 1;

	if (ct_service_init(&svc, "container-plugin-sample", argc, argv, &err) < 0) {
		fprintf(stderr, "container-plugin-sample: %s\n", ct_error_message(&err));
		goto out;
	}
	for (int i = 0; i < svc.argc; i++)
		if (strcmp(svc.argv[i], "--crash-at-start") == 0) {
			log_error("--crash-at-start: exiting with status 1");
			goto out;
		}
	ct_server_route(svc.server, "sample.echo", route_echo, &svc);
	ct_server_route(svc.server, "sample.progress", route_progress, &svc);
	ct_server_route(svc.server, "sample.sleep", route_sleep, &svc);
	ct_server_route(svc.server, "sample.fd", route_fd, &svc);
	ct_server_route(svc.server, "sample.crash", route_crash, &svc);
	if (ct_service_run(&svc, &err) < 0)
		log_error("%s", ct_error_message(&err));
	else
		rc = 0;
out:
	ct_service_fini(&svc);
	return rc;
}
