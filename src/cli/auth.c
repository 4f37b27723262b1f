#include "auth.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

char *auth_file_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg)
		return xasprintf("%s/container/auth.json", xdg);
	return xasprintf("%s/.config/container/auth.json", home ? home : "/root");
}

static json_t *load(const char *path)
{
	_cleanup_free_ char *text = NULL;

	if (ct_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
		return NULL;
	json_t *j = json_loads(text, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* "auth" is base64("user:password"). */
static json_t *decode_entry(json_t *entry)
{
	const char *b64 = json_string_value(json_object_get(entry, "auth"));
	size_t len;

	if (!b64 || !(len = strlen(b64)) || len % 4)
		return NULL;
	_cleanup_free_ unsigned char *out = xcalloc(len, 1);
	int n = EVP_DecodeBlock(out, (const unsigned char *)b64, len);
	if (n < 0)
		return NULL;
	/* EVP_DecodeBlock counts padding as output bytes. */
	while (len > 0 && b64[--len] == '=')
		n--;
	out[n] = '\0';
	char *colon = strchr((char *)out, ':');
	if (!colon)
		return NULL;
	*colon = '\0';
	return json_pack("{s:s, s:s}", "username", (char *)out, "password", colon + 1);
}

static json_t *lookup_in(const char *path, const char *host)
{
	_cleanup_json_ json_t *cfg = load(path);
	json_t *auths = json_object_get(cfg, "auths");
	json_t *entry = json_object_get(auths, host);

	/* docker writes Docker Hub as its index URL. */
	if (!entry && strcmp(host, "docker.io") == 0)
		entry = json_object_get(auths, "https://index.docker.io/v1/");
	return entry ? decode_entry(entry) : NULL;
}

json_t *auth_lookup(const char *host)
{
	const char *env_host = getenv("CONTAINER_REGISTRY_HOST");
	const char *env_user = getenv("CONTAINER_REGISTRY_USER");
	const char *env_token = getenv("CONTAINER_REGISTRY_TOKEN");

	if (env_host && env_user && env_token && strcmp(env_host, host) == 0)
		return json_pack("{s:s, s:s}", "username", env_user, "password", env_token);
	_cleanup_free_ char *ours = auth_file_path();
	json_t *found = lookup_in(ours, host);
	if (found)
		return found;
	const char *home = getenv("HOME");
	_cleanup_free_ char *docker = xasprintf("%s/.docker/config.json", home ? home : "/root");
	return lookup_in(docker, host);
}

static int save(json_t *cfg, struct ct_error *err)
{
	_cleanup_free_ char *path = auth_file_path();
	_cleanup_free_ char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	if (ct_mkdir_p(dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
	return ct_write_file_atomic(path, text, strlen(text), 0600, err);
}

int auth_store(const char *host, const char *username, const char *password, struct ct_error *err)
{
	_cleanup_free_ char *path = auth_file_path();
	_cleanup_json_ json_t *cfg = load(path);
	_cleanup_free_ char *pair = xasprintf("%s:%s", username, password);
	size_t len = strlen(pair);
	_cleanup_free_ unsigned char *b64 = xcalloc(4 * ((len + 2) / 3) + 1, 1);

	EVP_EncodeBlock(b64, (const unsigned char *)pair, len);
	if (!cfg)
		cfg = json_object();
	json_t *auths = json_object_get(cfg, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(cfg, "auths", auths);
	}
	json_object_set_new(auths, host, json_pack("{s:s}", "auth", (char *)b64));
	explicit_bzero(pair, len);
	return save(cfg, err);
}

int auth_remove(const char *host, struct ct_error *err)
{
	_cleanup_free_ char *path = auth_file_path();
	_cleanup_json_ json_t *cfg = load(path);
	json_t *auths = json_object_get(cfg, "auths");

	if (!json_object_get(auths, host))
		return 0;
	json_object_del(auths, host);
	return save(cfg, err) < 0 ? -1 : 1;
}

json_t *auth_list(struct ct_error *err)
{
	_cleanup_free_ char *path = auth_file_path();
	_cleanup_json_ json_t *cfg = load(path);
	json_t *out = json_object(), *entry;
	const char *host;

	json_object_foreach (json_object_get(cfg, "auths"), host, entry) {
		_cleanup_json_ json_t *c = decode_entry(entry);
		json_object_set_new(out, host,
				    json_string(c ? json_string_value(json_object_get(c, "username"))
						  : "?"));
	}
	return out;
}
