/* registry.login: checks credentials against a registry (GET /v2/ with the whole
 * authentication dance) before the CLI saves them.
 * Body: {"host": "127.0.0.1:5000", "username", "password", "scheme"} */
#include "images.h"
#include "json_util.h"
#include "log.h"
#include "registry.h"

static int login_job(struct job *job, json_t **result, struct ct_error *err)
{
	json_t *body = job_body(job);
	const char *host = NULL, *scheme = NULL;
	struct registry_auth auth = {0};
	struct registry_options opts = {0};
	struct registry_client *rc = NULL;

	if (ct_json_get_string(body, "host", true, &host, "request body", err) < 0 ||
	    ct_json_get_string(body, "username", true, &auth.username, "request body", err) < 0 ||
	    ct_json_get_string(body, "password", true, &auth.password, "request body", err) < 0 ||
	    ct_json_get_string(body, "scheme", false, &scheme, "request body", err) < 0)
		return -1;
	opts.scheme = scheme;
	if (registry_client_new(host, &opts, &auth, &rc, err) < 0)
		return -1;
	int rv = registry_ping(rc, err);
	registry_client_free(rc);
	if (rv < 0)
		return ct_error_prefix(err, "logging in to %s", host);
	log_info("credentials for %s checked (user %s)", host, auth.username);
	*result = json_pack("{s:s, s:s}", "host", host, "username", auth.username);
	return 0;
}

static void route_login(struct ct_request *req, void *data)
{
	struct images *im = data;

	job_start(im->svc->loop, req, login_job, im);
}

void registry_register_routes(struct images *im)
{
	ct_server_route(im->svc->server, "registry.login", route_login, im);
}
