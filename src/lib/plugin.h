/* Plugin folders and their manifests (DESIGN.md "Plugins"):
 *   <dir>/<name>/config.json, <dir>/<name>/bin/<name>, optional <dir>/<name>/resources/
 * A manifest with servicesConfig describes a service plugin that the API server
 * launches; one without is a CLI plugin that `container <name>` executes.
 *
 * Our manifest adds one field to Apple's format: each service may list "routes",
 * the route prefixes it serves ("sample" serves "sample.echo"). */
#ifndef CONTAINER_PLUGIN_H
#define CONTAINER_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct ct_plugin_service {
	char *type; /* core, runtime, network, auxiliary */
	char *description;
	char **routes; /* NULL-terminated route prefixes */
};

struct ct_plugin_manifest {
	char *name;
	char *dir;	 /* the plugin's folder */
	char *binary;	 /* dir/bin/name */
	char *resources; /* dir/resources, or NULL when absent */
	char *abstract;
	char *author;
	char *version;
	bool is_service;
	bool load_at_boot;
	bool run_at_load;
	char **default_args; /* NULL-terminated */
	struct ct_plugin_service *services;
	size_t nservices;
};

struct ct_plugin_list {
	struct ct_plugin_manifest *items;
	size_t n;
};

/* Reads <plugin_dir>/config.json strictly: unknown fields, wrong types, an invalid
 * service type or a missing executable are errors naming the path. */
int ct_plugin_manifest_load(const char *plugin_dir, struct ct_plugin_manifest *out,
			    struct ct_error *err);
/* Parses manifest text; name/dir fill the derived fields (tests use it directly). */
int ct_plugin_manifest_parse(const char *text, const char *name, const char *dir,
			     struct ct_plugin_manifest *out, struct ct_error *err);
void ct_plugin_manifest_free(struct ct_plugin_manifest *m);

typedef void (*ct_plugin_skip_fn)(const char *path, const char *reason, void *data);

/* Scans the folders in order (NULL-terminated); the first folder holding a name
 * wins. Bad manifests are reported through skip (may be NULL) and left out. */
void ct_plugins_discover(char **dirs, struct ct_plugin_list *out, ct_plugin_skip_fn skip,
			 void *data);
void ct_plugin_list_free(struct ct_plugin_list *list);
const struct ct_plugin_manifest *ct_plugin_list_find(const struct ct_plugin_list *list,
						     const char *name);

bool ct_plugin_name_valid(const char *name);
bool ct_plugin_service_type_valid(const char *type);

#endif
