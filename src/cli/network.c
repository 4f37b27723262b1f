/* container network create | delete | list | inspect | prune */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "json_util.h"
#include "util.h"

/* The network that always exists; `delete -a` leaves it alone. */
#define DEFAULT_NETWORK "default"

static void help(FILE *out)
{
	fprintf(out,
		"Usage: container network COMMAND\n"
		"\n"
		"Commands:\n"
		"  create NAME [--subnet CIDR] [--internal] [-l KEY=VALUE]...\n"
		"                  Create a bridged network; without --subnet the API server\n"
		"                  picks a free range; --internal: no route beyond the host\n"
		"  delete, rm [-a] NAME...\n"
		"                  Delete networks without containers (-a: every one but \"%s\")\n"
		"  list, ls [--format json|table] [-q]\n"
		"                  NETWORK STATE SUBNET GATEWAY INTERNAL CREATED\n"
		"  inspect NAME... Show networks and their containers as JSON\n"
		"  prune           Delete every network no container uses (not \"%s\")\n"
		"\n"
		"Containers join networks with `container run --network NAME` (repeatable: eth0,\n"
		"eth1, …); without it they join \"%s\".\n",
		DEFAULT_NETWORK, DEFAULT_NETWORK, DEFAULT_NETWORK);
}

/* "10.90.0.0/24" or "fd00:90::/64": an address and a prefix length that fits it.
 * Whether the range is free is the API server's to say. */
static int check_subnet(const char *cidr)
{
	const char *slash = strchr(cidr, '/');
	unsigned char addr[16];
	char *end;

	if (!slash || slash == cidr || !slash[1])
		return cli_reportf("--subnet %s: expected ADDRESS/PREFIX, such as 10.90.0.0/24",
				   cidr);
	_cleanup_free_ char *host = xstrndup(cidr, slash - cidr);
	long prefix = strtol(slash + 1, &end, 10);
	int max;
	if (inet_pton(AF_INET, host, addr) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		max = 128;
	else
		return cli_reportf("--subnet %s: \"%s\" is not an IP address", cidr, host);
	if (*end || prefix < 0 || prefix > max)
		return cli_reportf("--subnet %s: the prefix length must be a number from 0 to %d",
				   cidr, max);
	return 0;
}

static int create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"subnet", required_argument, NULL, 's'},
	    {"internal", no_argument, NULL, 'i'},
	    {"label", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body = json_object();
	json_t *labels = json_object();
	int c;

	json_object_set_new(body, "labels", labels);
	/* Options may follow the name, as docker allows: `network create web --internal`. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (check_subnet(optarg) < 0)
				return EXIT_ENGINE;
			json_object_set_new(body, "subnet", json_string(optarg));
			break;
		case 'i':
			json_object_set_new(body, "internal", json_true());
			break;
		case 'l':
			if (cli_add_label(labels, optarg) < 0)
				return EXIT_ENGINE;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("network", "bad option for network create");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("network", "network create takes one NAME");
	json_object_set_new(body, "name", json_string(argv[optind]));
	if (json_object_size(labels) == 0)
		json_object_del(body, "labels");
	if (cli_call("network.create", body, &reply, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", cli_str(reply, "name"));
	return 0;
}

/* Deletes one network, printing its name or the error; 0 or the exit status. */
static int delete_one(const char *name)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	_cleanup_json_ json_t *body = json_pack("{s:s}", "name", name);

	if (cli_call("network.delete", body, &reply, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", name);
	return 0;
}

static int delete_all(void)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	json_t *n;
	size_t i;
	int rc = 0;

	if (cli_call("network.list", NULL, &reply, &err) < 0)
		return cli_fail(&err);
	json_array_foreach (json_object_get(reply, "networks"), i, n) {
		const char *name = cli_str(n, "name");
		if (!*name || strcmp(name, DEFAULT_NETWORK) == 0)
			continue;
		int one = delete_one(name);
		if (one)
			rc = one;
	}
	return rc;
}

static int delete (int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	bool all = false;
	int c, rc = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			return cli_usage_error("network", "bad option for network delete");
		}
	}
	if (all && optind < argc)
		return cli_usage_error("network",
				       "network delete takes NAME... or --all, not both");
	if (all)
		return delete_all();
	if (optind >= argc)
		return cli_usage_error("network", "network delete takes one or more networks, or "
						  "--all");
	for (int i = optind; i < argc; i++) {
		int one = delete_one(argv[i]);
		if (one)
			rc = one;
	}
	return rc;
}

static int list(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *reply = NULL;
	enum cli_format format;
	bool quiet;
	int rc = cli_list_options(argc, argv, "network", "list", help, &format, &quiet);

	if (rc >= 0)
		return rc;
	json_t *items, *n;
	size_t i;
	rc = cli_list_fetch("network.list", "networks", format, quiet, "name", &reply, &items);
	if (rc > 0)
		return rc == 1 ? 0 : rc;
	static const char *const headers[] = {"NETWORK", "STATE",    "SUBNET",
					      "GATEWAY", "INTERNAL", "CREATED"};
	struct cli_table *t = cli_table_new(6, headers);
	json_array_foreach (items, i, n) {
		char ago[32];
		format_ago(cli_str(n, "createdAt"), ago, sizeof(ago));
		const char *cells[] = {cli_str(n, "name"),
				       cli_str(n, "state"),
				       cli_str(n, "subnet"),
				       cli_str(n, "gateway"),
				       json_is_true(json_object_get(n, "internal")) ? "yes" : "no",
				       ago};
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

static int inspect(int argc, char **argv)
{
	return cli_inspect_names(argc, argv, "network", "network.inspect", help);
}

static int prune(int argc, char **argv)
{
	return cli_prune(argc, argv, "network", "network.prune", help);
}

int cmd_network(int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
	    {"create", create}, {"delete", delete},   {"rm", delete},	{"list", list},
	    {"ls", list},	{"inspect", inspect}, {"prune", prune},
	};

	return cli_dispatch(argc, argv, "network", subs, ARRAY_SIZE(subs), help);
}
