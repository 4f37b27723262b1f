/* Where things live (DESIGN.md "On disk"): defaults, environment overrides and
 * command-line overrides, resolved once per program. */
#ifndef CONTAINER_PATHS_H
#define CONTAINER_PATHS_H

#include "error.h"

struct ct_paths {
	char *install_root; /* holds bin/ and libexec/ */
	char *app_root;	    /* state.db, content/, snapshots/, containers/, user-plugins/ */
	char *run_root;	    /* sockets and pid files */
	char *log_root;
};

/* Fills paths from (in order) the explicit overrides (may be NULL), the
 * CONTAINER_*_ROOT variables, and the defaults. All results are absolute. */
int ct_paths_resolve(struct ct_paths *paths, const char *app_root, const char *install_root,
		     const char *log_root, struct ct_error *err);
void ct_paths_free(struct ct_paths *paths);

/* Exports the roots as CONTAINER_*_ROOT so child processes agree with us. */
void ct_paths_export(const struct ct_paths *paths);

/* The folders searched for plugins, first match wins; NULL-terminated, caller frees. */
char **ct_paths_plugin_dirs(const struct ct_paths *paths);

char *ct_paths_apiserver_socket(const struct ct_paths *paths);
char *ct_paths_apiserver_pidfile(const struct ct_paths *paths);
char *ct_paths_log_file(const struct ct_paths *paths);
char *ct_paths_state_db(const struct ct_paths *paths);

#endif
