/* The `container` command line: shared context and helpers for the command files. */
#ifndef CONTAINER_CLI_H
#define CONTAINER_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "error.h"
#include "paths.h"

/* Exit statuses (docker's convention). */
#define EXIT_ENGINE	   125 /* the engine itself failed, or bad usage */
#define EXIT_CANNOT_RUN	   126
#define EXIT_NOT_FOUND_CMD 127

struct cli {
	bool debug;
	struct ct_paths paths;
	char *socket_path;
};

extern struct cli cli;

/* Prints "container: error: <message>" and returns EXIT_ENGINE. */
int cli_fail(const struct ct_error *err);
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error for a command: message plus a pointer to --help. */
/* Prints the error like cli_failf and returns -1: for helpers whose callers
 * test for a negative result. */
int cli_reportf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Connects to the API server. When nothing listens, err says:
 *   cannot reach container-apiserver at <socket> — run `container system start` */
int cli_connect(struct ct_client *client, struct ct_error *err);
/* Connect + one call; the common case for commands. */
int cli_call(const char *route, json_t *body, json_t **reply, struct ct_error *err);

/* Output formats of listings. */
enum cli_format {
	FORMAT_TABLE,
	FORMAT_JSON,
};
int cli_parse_format(const char *value, enum cli_format *out);
/* The options of a plain listing: --format json|table, -q (names only), -h, and no
 * arguments. Returns -1 to go on listing, or the exit status to end with now
 * (after help, or a usage error naming group and command). */
int cli_list_options(int argc, char **argv, const char *group, const char *command,
		     void (*help)(FILE *out), enum cli_format *format, bool *quiet);
void cli_print_json(json_t *j);
/* Fetches a listing (ROUTE's reply, the array under KEY, into *reply and *items)
 * and prints it when --format json or -q (the NAME_KEY of each item) says how.
 * Returns 1 when printed, 0 when the caller prints the table, or the exit status
 * of a failed call (> 1). */
int cli_list_fetch(const char *route, const char *key, enum cli_format format, bool quiet,
		   const char *name_key, json_t **reply, json_t **items);
/* `GROUP inspect NAME…`: ROUTE {"name": NAME} for each, printed as one JSON array;
 * an error for one name is printed and makes the exit status, the others still
 * print. */
int cli_inspect_names(int argc, char **argv, const char *group, const char *route,
		      void (*help)(FILE *out));
/* `GROUP prune` (no arguments): ROUTE, then "Deleted: NAME" for each name it
 * deleted and, when the reply counts it, the space given back. */
int cli_prune(int argc, char **argv, const char *group, const char *route, void (*help)(FILE *out));
/* A command group's subcommands (`container GROUP NAME …`). */
struct cli_subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
};
/* Runs the subcommand argv[1] names with argv shifted by one; no argument
 * prints help to stderr (EXIT_ENGINE), -h/--help to stdout (0), an unknown
 * name is a usage error naming `GROUP NAME`. */
int cli_dispatch(int argc, char **argv, const char *group, const struct cli_subcommand *subs,
		 size_t n, void (*help)(FILE *out));
/* A string field, or "" when absent or not a string: for printing. */
const char *cli_str(json_t *obj, const char *key);

/* One -l/--label KEY=VALUE (a bare KEY gets "") into the labels object; -1
 * after printing why when the key is empty. */
int cli_add_label(json_t *labels, const char *kv);

/* A table: columns sized to their widest cell, as docker prints them. */
struct cli_table;
struct cli_table *cli_table_new(size_t ncols, const char *const *headers);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);

/* Command groups, each in its own file. argv[0] is the group's name. */
int cmd_system(int argc, char **argv);
int cmd_plugin(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_network(int argc, char **argv);
int cmd_volume(int argc, char **argv);
/* The registry host of an image reference as the user typed it, with the
 * server's registry.domain as the default (caller frees; NULL when invalid). */
char *cli_registry_of(const char *input);
/* `image pull` with argv[0] = "pull", for `run` pulling a missing image. */
int cmd_image_pull(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_stats(int argc, char **argv);
/* container_cp.c */
int cmd_cp(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_system_logs(int argc, char **argv);
int cmd_system_property(int argc, char **argv);
int cmd_system_dns(int argc, char **argv);
int cmd_system_df(int argc, char **argv);

/* Runs `container NAME args…` as a CLI plugin; returns its exit status, or
 * -1 when no plugin of that name exists. */
int cli_plugin_exec(const char *name, int argc, char **argv);
/* Lists CLI plugins for --help. */
void cli_plugin_print_help(FILE *out);

#endif
