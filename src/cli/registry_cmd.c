/* container registry login|logout|list */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "cleanup.h"
#include "cli.h"
#include "json_util.h"
#include "util.h"

static void help(FILE *out)
{
	fprintf(out, "Usage: container registry COMMAND\n"
		     "\n"
		     "  login [-u USER] [--password-stdin] [--scheme http|https|auto] HOST\n"
		     "                 Check credentials against HOST, then save them in\n"
		     "                 ~/.config/container/auth.json\n"
		     "  logout HOST    Forget the credentials for HOST\n"
		     "  list           Hosts with saved credentials [--format json|table] [-q]\n");
}

/* Reads one line; without echo when stdin is a terminal. */
static char *read_secret(const char *prompt)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;

	if (tty) {
		fputs(prompt, stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n <= 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

static int login(int argc, char **argv)
{
	static const struct option opts[] = {
		{"username", required_argument, NULL, 'u'},
		{"password-stdin", no_argument, NULL, 'P'},
		{"scheme", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *user = NULL, *password = NULL;
	const char *scheme = NULL;
	bool from_stdin = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			free(user);
			user = xstrdup(optarg);
			break;
		case 'P':
			from_stdin = true;
			break;
		case 's':
			scheme = optarg;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("registry", "bad option for registry login");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("registry", "registry login takes one HOST");
	const char *host = argv[optind];
	if (!user) {
		if (from_stdin || !isatty(STDIN_FILENO))
			return cli_usage_error("registry", "give the user with -u when the password "
							   "comes from stdin");
		fputs("Username: ", stderr);
		size_t cap = 0;
		if (getline(&user, &cap, stdin) <= 0)
			return cli_failf("no username given");
		user[strcspn(user, "\r\n")] = '\0';
	}
	if (!from_stdin && !isatty(STDIN_FILENO))
		return cli_usage_error("registry", "stdin is not a terminal: use --password-stdin");
	password = read_secret("Password: ");
	if (!password || !*password)
		return cli_failf("no password given");

	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "host", host, "username", user,
						"password", password);
	if (scheme)
		json_object_set_new(body, "scheme", json_string(scheme));
	int rc = cli_call("registry.login", body, &reply, &err);
	if (rc < 0)
		return cli_fail(&err);
	if (auth_store(host, user, password, &err) < 0)
		return cli_fail(&err);
	explicit_bzero(password, strlen(password));
	printf("Login succeeded (%s as %s)\n", host, user);
	return 0;
}

static int logout(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (argc != 2)
		return cli_usage_error("registry", "registry logout takes one HOST");
	int rc = auth_remove(argv[1], &err);
	if (rc < 0)
		return cli_fail(&err);
	printf(rc ? "Removed the credentials for %s\n" : "No credentials saved for %s\n", argv[1]);
	return 0;
}

static int list(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	enum cli_format format = FORMAT_TABLE;
	bool quiet = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			quiet = true;
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			if (cli_parse_format(argv[++i], &format) < 0)
				return EXIT_ENGINE;
		} else
			return cli_usage_error("registry", "bad argument %s", argv[i]);
	}
	_cleanup_json_ json_t *hosts = auth_list(&err);
	const char *host;
	json_t *user;
	if (format == FORMAT_JSON) {
		cli_print_json(hosts);
		return 0;
	}
	static const char *const headers[] = {"HOST", "USERNAME"};
	struct cli_table *t = cli_table_new(2, headers);
	json_object_foreach (hosts, host, user) {
		if (quiet) {
			printf("%s\n", host);
			continue;
		}
		const char *cells[] = {host, json_string_value(user)};
		cli_table_add(t, cells);
	}
	if (!quiet)
		cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

int cmd_registry(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ENGINE : 0;
	}
	if (strcmp(argv[1], "login") == 0)
		return login(argc - 1, argv + 1);
	if (strcmp(argv[1], "logout") == 0)
		return logout(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
		return list(argc - 1, argv + 1);
	return cli_usage_error("registry", "unknown command \"registry %s\"", argv[1]);
}
