/* CLI plugins: `container NAME args…` runs a plugin folder without
 * servicesConfig (named NAME or container-NAME), or a `container-NAME` program on
 * PATH, with the remaining arguments; its exit status becomes ours. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "plugin.h"
#include "util.h"

static void discover(struct ct_plugin_list *list)
{
	_cleanup_strv_ char **dirs = ct_paths_plugin_dirs(&cli.paths);

	/* Bad manifests are the API server's to report; here they are just absent. */
	ct_plugins_discover(dirs, list, NULL, NULL);
}

void cli_plugin_print_help(FILE *out)
{
	struct ct_plugin_list list;
	bool header = false;

	discover(&list);
	for (size_t i = 0; i < list.n; i++) {
		if (list.items[i].is_service)
			continue;
		if (!header) {
			fprintf(out, "\nPlugins:\n");
			header = true;
		}
		const char *name = list.items[i].name;
		if (ct_str_has_prefix(name, "container-"))
			name += strlen("container-");
		fprintf(out, "  %-10s  %s\n", name, list.items[i].abstract);
	}
	ct_plugin_list_free(&list);
}

static char *find_on_path(const char *program)
{
	const char *path = getenv("PATH");

	if (!path)
		return NULL;
	_cleanup_free_ char *copy = xstrdup(path);
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *candidate = xasprintf("%s/%s", *dir ? dir : ".", program);
		if (access(candidate, F_OK) == 0)
			return candidate;
		free(candidate);
	}
	return NULL;
}

int cli_plugin_exec(const char *name, int argc, char **argv)
{
	struct ct_plugin_list list;
	_cleanup_free_ char *binary = NULL;
	_cleanup_free_ char *prefixed = xasprintf("container-%s", name);

	if (!ct_plugin_name_valid(name))
		return -1;
	discover(&list);
	const struct ct_plugin_manifest *m = ct_plugin_list_find(&list, name);
	if (!m || m->is_service)
		m = ct_plugin_list_find(&list, prefixed);
	if (m && !m->is_service)
		binary = xstrdup(m->binary);
	ct_plugin_list_free(&list);
	if (!binary)
		binary = find_on_path(prefixed);
	if (!binary)
		return -1;

	_cleanup_free_ char **args = xcalloc(argc + 1, sizeof(char *));
	args[0] = binary;
	for (int i = 1; i < argc; i++)
		args[i] = argv[i];

	/* exec, not fork+wait: the plugin becomes this process, so its exit status,
	 * signals and terminal are exactly the user's. */
	fflush(NULL);
	execv(binary, args);
	int code = errno == ENOENT ? EXIT_NOT_FOUND_CMD : EXIT_CANNOT_RUN;
	cli_failf("running plugin %s: %s", binary, strerror(errno));
	return code;
}
