#include "plugin.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

#define MANIFEST_MAX (256 * 1024)

static const char *const service_types[] = {"core", "runtime", "network", "auxiliary", NULL};

bool ct_plugin_service_type_valid(const char *type)
{
	for (const char *const *t = service_types; *t; t++)
		if (strcmp(*t, type) == 0)
			return true;
	return false;
}

bool ct_plugin_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

void ct_plugin_manifest_free(struct ct_plugin_manifest *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->dir);
	free(m->binary);
	free(m->resources);
	free(m->abstract);
	free(m->author);
	free(m->version);
	cleanup_strvp(&m->default_args);
	for (size_t i = 0; i < m->nservices; i++) {
		free(m->services[i].type);
		free(m->services[i].description);
		cleanup_strvp(&m->services[i].routes);
	}
	free(m->services);
	memset(m, 0, sizeof(*m));
}

static int parse_route_prefixes(char **routes, const char *what, struct ct_error *err)
{
	for (char **r = routes; r && *r; r++) {
		if (!**r || strlen(*r) > 64)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: a route prefix must be 1 to 64 characters", what);
		for (const char *p = *r; *p; p++)
			if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
				return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
						    "%s: route prefix \"%s\" has a character other "
						    "than letters, digits, '-', '_' and '.'",
						    what, *r);
	}
	return 0;
}

static int parse_services_config(json_t *sc, struct ct_plugin_manifest *m, struct ct_error *err)
{
	static const char *const keys[] = {"loadAtBoot", "runAtLoad", "defaultArguments", "services",
					   NULL};
	static const char *const service_keys[] = {"type", "description", "routes", NULL};
	json_t *services = NULL, *s;
	size_t i;

	if (ct_json_check_keys(sc, keys, "servicesConfig", err) < 0 ||
	    ct_json_get_bool(sc, "loadAtBoot", false, &m->load_at_boot, "servicesConfig", err) < 0 ||
	    ct_json_get_bool(sc, "runAtLoad", false, &m->run_at_load, "servicesConfig", err) < 0 ||
	    ct_json_get_string_array(sc, "defaultArguments", false, &m->default_args,
				     "servicesConfig", err) < 0 ||
	    ct_json_get_array(sc, "services", true, &services, "servicesConfig", err) < 0)
		return -1;
	if (json_array_size(services) == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "servicesConfig: \"services\" must list at least one service");
	m->services = xcalloc(json_array_size(services), sizeof(*m->services));
	json_array_foreach (services, i, s) {
		struct ct_plugin_service *svc = &m->services[i];
		const char *type = NULL, *description = "";
		char what[64];

		snprintf(what, sizeof(what), "servicesConfig.services[%zu]", i);
		m->nservices = i + 1;
		if (!json_is_object(s))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s must be an object",
					    what);
		if (ct_json_check_keys(s, service_keys, what, err) < 0 ||
		    ct_json_get_string(s, "type", true, &type, what, err) < 0 ||
		    ct_json_get_string(s, "description", false, &description, what, err) < 0 ||
		    ct_json_get_string_array(s, "routes", false, &svc->routes, what, err) < 0 ||
		    parse_route_prefixes(svc->routes, what, err) < 0)
			return -1;
		if (!ct_plugin_service_type_valid(type))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s: type \"%s\" is not one of core, runtime, network, "
					    "auxiliary",
					    what, type);
		svc->type = xstrdup(type);
		svc->description = xstrdup(description);
	}
	m->is_service = true;
	return 0;
}

int ct_plugin_manifest_parse(const char *text, const char *name, const char *dir,
			     struct ct_plugin_manifest *out, struct ct_error *err)
{
	static const char *const keys[] = {"abstract", "author", "version", "servicesConfig", NULL};
	_cleanup_json_ json_t *root = NULL;
	json_error_t jerr;
	const char *abstract = NULL, *author = "", *version = "";
	json_t *sc = NULL;

	memset(out, 0, sizeof(*out));
	if (!ct_plugin_name_valid(name))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "plugin name \"%s\" must be 1 to 64 lowercase letters, digits, "
				    "'-', '_' or '.'",
				    name);
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "malformed JSON: %s (line %d)",
				    jerr.text, jerr.line);
	if (!json_is_object(root))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "the manifest must be an object");
	if (ct_json_check_keys(root, keys, "manifest", err) < 0 ||
	    ct_json_get_string(root, "abstract", true, &abstract, "manifest", err) < 0 ||
	    ct_json_get_string(root, "author", false, &author, "manifest", err) < 0 ||
	    ct_json_get_string(root, "version", false, &version, "manifest", err) < 0 ||
	    ct_json_get_object(root, "servicesConfig", false, &sc, "manifest", err) < 0)
		return -1;
	out->name = xstrdup(name);
	out->dir = xstrdup(dir);
	out->binary = xasprintf("%s/bin/%s", dir, name);
	out->abstract = xstrdup(abstract);
	out->author = xstrdup(author);
	out->version = xstrdup(version);
	if (sc && parse_services_config(sc, out, err) < 0) {
		ct_plugin_manifest_free(out);
		return -1;
	}
	if (!out->default_args)
		out->default_args = xcalloc(1, sizeof(char *));
	return 0;
}

int ct_plugin_manifest_load(const char *plugin_dir, struct ct_plugin_manifest *out,
			    struct ct_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", plugin_dir);
	_cleanup_free_ char *text = NULL;
	const char *name = strrchr(plugin_dir, '/');
	struct stat st;

	name = name ? name + 1 : plugin_dir;
	if (ct_read_file(path, MANIFEST_MAX, &text, NULL, err) < 0)
		return -1;
	if (ct_plugin_manifest_parse(text, name, plugin_dir, out, err) < 0)
		return ct_error_prefix(err, "%s", path);
	if (stat(out->binary, &st) < 0 || !S_ISREG(st.st_mode) || access(out->binary, X_OK) < 0) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "%s: %s is missing or not executable",
			     path, out->binary);
		ct_plugin_manifest_free(out);
		return -1;
	}
	_cleanup_free_ char *resources = xasprintf("%s/resources", plugin_dir);
	if (stat(resources, &st) == 0 && S_ISDIR(st.st_mode))
		out->resources = move_ptr(resources);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ct_plugins_discover(char **dirs, struct ct_plugin_list *out, ct_plugin_skip_fn skip,
			 void *data)
{
	memset(out, 0, sizeof(*out));
	for (char **d = dirs; d && *d; d++) {
		_cleanup_closedir_ DIR *dir = opendir(*d);
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;

		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			names = realloc(names, (n + 1) * sizeof(char *));
			if (!names)
				abort();
			names[n++] = xstrdup(de->d_name);
		}
		/* Sorted, so listings and the choice among duplicates are stable. */
		if (n > 1)
			qsort(names, n, sizeof(char *), compare_names);
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *pdir = xasprintf("%s/%s", *d, names[i]);
			_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
			struct ct_plugin_manifest m;
			struct stat st;

			if (stat(pdir, &st) < 0 || !S_ISDIR(st.st_mode) ||
			    ct_plugin_list_find(out, names[i]))
				continue;
			if (ct_plugin_manifest_load(pdir, &m, &err) < 0) {
				if (skip)
					skip(pdir, ct_error_message(&err), data);
				continue;
			}
			out->items = realloc(out->items, (out->n + 1) * sizeof(*out->items));
			if (!out->items)
				abort();
			out->items[out->n++] = m;
		}
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
}

void ct_plugin_list_free(struct ct_plugin_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		ct_plugin_manifest_free(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

const struct ct_plugin_manifest *ct_plugin_list_find(const struct ct_plugin_list *list,
						     const char *name)
{
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->items[i].name, name) == 0)
			return &list->items[i];
	return NULL;
}
