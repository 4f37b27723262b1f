/* Unit tests of src/plugins/network-bridge/nft: the rules of networks and published
 * ports in our table `inet container`, read back with `nft -j list table` and
 * checked expression by expression; the input checks; and, at the end, real traffic
 * between network namespaces through those rules (masquerade, isolation, internal
 * networks, published TCP and UDP ports on the host's address and on 127.0.0.1).
 *
 * main() moves the whole test into a network namespace of its own before anything
 * runs, so the host's nftables, links and sysctls are never touched; every child
 * (`nft`, `ip`, the namespaces of the traffic test) inherits it. Without root, or
 * where unshare(CLONE_NEWNET) fails, every test is skipped and nothing runs.
 *
 * Tables of others live beside ours the whole time (`table ip other`, `table inet
 * other` and `table ip container`, which has our name in another family); each test
 * ends by checking that they are exactly as they were. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "json_util.h"
#include "util.h"

static bool in_own_netns;
static const char *no_netns_reason = "";
static char *others_before; /* the tables of others, as nft printed them at start */

/* cmocka 1.1's skip() prints "not ok N # SKIP", which meson counts as a failure:
 * a test that can't run here says why in a TAP comment and passes. */
#define SKIP_TEST(...)                                                                             \
	do {                                                                                       \
		printf("# skipped: " __VA_ARGS__);                                                 \
		printf("\n");                                                                      \
		return;                                                                            \
	} while (0)

#define REQUIRE_NETNS()                                                                            \
	do {                                                                                       \
		if (!in_own_netns)                                                                 \
			SKIP_TEST("%s", no_netns_reason);                                          \
	} while (0)

#define assert_ok(expr, err)                                                                       \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			fail_msg("%s: %s", #expr, ct_error_message(err));                          \
	} while (0)

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	if (rc != -1)
		fail_msg("expected a failure with code %s, got %d", code, rc);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
	ct_error_clear(err);
}

/* Shell helpers (inside our namespace) */

static __attribute__((format(printf, 1, 2))) int run(const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int status;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	status = system(cmd);
	if (status != 0)
		printf("# command failed (status %d): %s\n", status, cmd);
	return status == 0 ? 0 : -1;
}

#define run_ok(...)                                                                                \
	do {                                                                                       \
		if (run(__VA_ARGS__) < 0)                                                          \
			fail_msg("command failed, see above");                                     \
	} while (0)

/* What a command prints, or NULL when it fails. */
static char *capture(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (pclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (!buf)
		buf = xstrdup("");
	else
		buf[len] = '\0';
	return buf;
}

static char *other_tables(void)
{
	return capture("nft list table ip other && nft list table inet other && "
		       "nft list table ip container");
}

/* Reading our table with the nft CLI */

/* `nft -j list table inet container`, or NULL if the table does not exist. */
static json_t *ruleset(void)
{
	_cleanup_free_ char *out = capture("nft -j list table inet container 2>/dev/null");
	json_error_t jerr;
	json_t *root;

	if (!out)
		return NULL;
	root = json_loads(out, 0, &jerr);
	if (!root)
		fail_msg("nft printed invalid JSON: %s", jerr.text);
	return root;
}

static json_t *items(json_t *root)
{
	json_t *a = json_object_get(root, "nftables");

	assert_true(json_is_array(a));
	return a;
}

static json_t *find_chain(json_t *root, const char *name)
{
	json_t *list = items(root);

	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *c = json_object_get(json_array_get(list, i), "chain");

		if (c && strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	}
	return NULL;
}

static size_t count_chains(json_t *root)
{
	json_t *list = items(root);
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(list); i++)
		n += json_object_get(json_array_get(list, i), "chain") != NULL;
	return n;
}

/* The rules of a chain (all chains when NULL) whose compact JSON holds every
 * fragment of the NULL-terminated list, e.g. "\"masquerade\":null". */
static size_t count_rules_va(json_t *root, const char *chain, va_list ap)
{
	json_t *list = items(root);
	const char *fragments[16];
	size_t nfrag = 0, n = 0;

	while (nfrag < ARRAY_SIZE(fragments) && (fragments[nfrag] = va_arg(ap, const char *)))
		nfrag++;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *r = json_object_get(json_array_get(list, i), "rule");
		_cleanup_free_ char *text = NULL;
		bool all = true;

		if (!r || (chain && strcmp(json_string_value(json_object_get(r, "chain")), chain)))
			continue;
		text = json_dumps(r, JSON_COMPACT);
		for (size_t f = 0; f < nfrag && all; f++)
			all = strstr(text, fragments[f]) != NULL;
		n += all;
	}
	return n;
}

static size_t count_rules(json_t *root, const char *chain, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, chain);
	n = count_rules_va(root, chain, ap);
	va_end(ap);
	return n;
}

#define assert_rule(root, chain, ...)                                                              \
	do {                                                                                       \
		if (count_rules(root, chain, __VA_ARGS__, NULL) != 1) {                            \
			_cleanup_free_ char *dump_ = json_dumps(root, JSON_COMPACT);               \
			fail_msg("no single rule in %s with %s; table: %s", chain, #__VA_ARGS__,   \
				 dump_);                                                           \
		}                                                                                  \
	} while (0)

#define assert_no_rule(root, chain, ...)                                                           \
	do {                                                                                       \
		if (count_rules(root, chain, __VA_ARGS__, NULL) != 0)                              \
			fail_msg("unexpected rule in %s with %s", chain ? chain : "the table",     \
				 #__VA_ARGS__);                                                    \
	} while (0)

static bool bridges_has(json_t *root, const char *bridge)
{
	json_t *list = items(root);

	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *set = json_object_get(json_array_get(list, i), "set");
		json_t *elems = json_object_get(set, "elem");

		if (!set || strcmp(json_string_value(json_object_get(set, "name")), "bridges") != 0)
			continue;
		/* an element is "name", or {"elem": {"val": "name", "comment": …}} */
		for (size_t j = 0; j < json_array_size(elems); j++) {
			json_t *elem = json_array_get(elems, j);
			json_t *inner = json_object_get(elem, "elem");
			const char *v =
			    json_string_value(inner ? json_object_get(inner, "val") : elem);

			if (v && strcmp(v, bridge) == 0)
				return true;
		}
	}
	return false;
}

/* Fixtures */

static int reset_table(void **state)
{
	struct ct_error err = CT_ERROR_INIT;

	if (!in_own_netns)
		return 0;
	if (nft_teardown(&err) < 0) {
		fprintf(stderr, "reset: %s\n", ct_error_message(&err));
		ct_error_clear(&err);
		return -1;
	}
	return 0;
}

static int check_others_untouched(void **state)
{
	_cleanup_free_ char *now = NULL;

	if (!in_own_netns)
		return 0;
	now = other_tables();
	if (!now || strcmp(now, others_before) != 0) {
		fprintf(stderr, "the tables of others changed:\nbefore:\n%s\nafter:\n%s\n",
			others_before, now ? now : "(missing)");
		return -1;
	}
	return 0;
}

static const char *const alpha_subnets[] = {"10.88.0.0/24", "fd00:88::/64", NULL};
static const char *const beta_subnets[] = {"10.89.0.0/24", NULL};

/* Table and networks */

static void test_init_idempotent(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *c;

	REQUIRE_NETNS();
	assert_ok(nft_init(&err), &err);
	assert_ok(nft_init(&err), &err);
	{
		_cleanup_json_ json_t *root = ruleset();

		assert_non_null(root);
		assert_int_equal(count_chains(root), 4);
		assert_int_equal(count_rules(root, NULL, NULL), 0);
		c = find_chain(root, "prerouting");
		assert_non_null(c);
		assert_string_equal(json_string_value(json_object_get(c, "type")), "nat");
		assert_string_equal(json_string_value(json_object_get(c, "hook")), "prerouting");
		assert_int_equal(json_integer_value(json_object_get(c, "prio")), -100);
		c = find_chain(root, "output");
		assert_non_null(c);
		assert_string_equal(json_string_value(json_object_get(c, "type")), "nat");
		assert_string_equal(json_string_value(json_object_get(c, "hook")), "output");
		assert_int_equal(json_integer_value(json_object_get(c, "prio")), -100);
		c = find_chain(root, "postrouting");
		assert_non_null(c);
		assert_string_equal(json_string_value(json_object_get(c, "type")), "nat");
		assert_int_equal(json_integer_value(json_object_get(c, "prio")), 100);
		c = find_chain(root, "forward");
		assert_non_null(c);
		assert_string_equal(json_string_value(json_object_get(c, "type")), "filter");
		assert_string_equal(json_string_value(json_object_get(c, "policy")), "accept");
		assert_false(bridges_has(root, "ctbr-a"));
	}

	/* A later init keeps the networks that exist. */
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	{
		_cleanup_json_ json_t *before = ruleset();
		_cleanup_json_ json_t *after = NULL;

		assert_ok(nft_init(&err), &err);
		after = ruleset();
		assert_true(json_equal(before, after));
	}
}

static void test_network_rules(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *root = NULL;

	REQUIRE_NETNS();
	/* No init: adding a network creates the table. */
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	root = ruleset();
	assert_non_null(root);

	assert_non_null(find_chain(root, "net-alpha-dnat"));
	assert_non_null(find_chain(root, "net-alpha-post"));
	assert_non_null(find_chain(root, "net-alpha-fwd"));
	assert_true(bridges_has(root, "ctbr-a"));

	/* The jumps, one per base chain, found by their comment */
	assert_int_equal(count_rules(root, NULL, "\"comment\":\"net alpha\"", NULL), 4);
	assert_rule(root, "prerouting", "\"comment\":\"net alpha\"",
		    "{\"fib\":{\"result\":\"type\",\"flags\":[\"daddr\"]}},\"right\":\"local\"",
		    "{\"jump\":{\"target\":\"net-alpha-dnat\"}}");
	assert_rule(root, "output", "\"comment\":\"net alpha\"", "\"right\":\"local\"",
		    "{\"jump\":{\"target\":\"net-alpha-dnat\"}}");
	assert_rule(root, "postrouting", "\"comment\":\"net alpha\"",
		    "{\"jump\":{\"target\":\"net-alpha-post\"}}");
	assert_rule(root, "forward", "\"comment\":\"net alpha\"",
		    "{\"jump\":{\"target\":\"net-alpha-fwd\"}}");

	/* Masquerade of each subnet leaving through another interface */
	assert_rule(
	    root, "net-alpha-post",
	    "{\"protocol\":\"ip\",\"field\":\"saddr\"}},\"right\":{\"prefix\":{\"addr\":"
	    "\"10.88.0.0\",\"len\":24}}",
	    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"ctbr-a\"}",
	    "{\"masquerade\":null}");
	assert_rule(
	    root, "net-alpha-post",
	    "{\"protocol\":\"ip6\",\"field\":\"saddr\"}},\"right\":{\"prefix\":{\"addr\":"
	    "\"fd00:88::\",\"len\":64}}",
	    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"ctbr-a\"}",
	    "{\"masquerade\":null}");
	/* Hairpin, per subnet, and 127.0.0.0/8 towards the bridge */
	assert_int_equal(count_rules(root, "net-alpha-post",
				     "{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"oifname\"}},"
				     "\"right\":\"ctbr-a\"}",
				     "{\"ct\":{\"key\":\"status\"}},\"right\":\"dnat\"}",
				     "{\"masquerade\":null}", NULL),
			 2);
	/* …for containers only: the host's own connections keep their address. */
	assert_int_equal(count_rules(root, "net-alpha-post",
				     "{\"fib\":{\"result\":\"type\",\"flags\":[\"saddr\"]}},"
				     "\"right\":\"local\"}",
				     NULL),
			 2);
	assert_rule(root, "net-alpha-post", "\"right\":\"ctbr-a\"",
		    "{\"prefix\":{\"addr\":\"127.0.0.0\",\"len\":8}}", "{\"masquerade\":null}");
	assert_int_equal(count_rules(root, "net-alpha-post", NULL), 5);

	/* Isolation from the other bridges of ours, published ports excepted */
	assert_rule(
	    root, "net-alpha-fwd",
	    "{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"iifname\"}},\"right\":\"ctbr-a\"}",
	    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"ctbr-a\"}",
	    "{\"meta\":{\"key\":\"oifname\"}},\"right\":\"@bridges\"}",
	    "{\"op\":\"!\",\"left\":{\"ct\":{\"key\":\"status\"}},\"right\":\"dnat\"}",
	    "{\"drop\":null}");
	assert_int_equal(count_rules(root, "net-alpha-fwd", NULL), 1);
	assert_int_equal(count_rules(root, "net-alpha-dnat", NULL), 0);

	assert_int_equal(nft_network_exists("alpha", &err), 1);
	assert_int_equal(nft_network_exists("beta", &err), 0);
}

static void test_network_internal(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *root = NULL;
	uint64_t handle = 0;
	const struct nft_port_spec port = {.network = "inner",
					   .proto = "tcp",
					   .host_port = 8080,
					   .container_ip = "10.90.0.2",
					   .container_port = 80};

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	assert_ok(nft_network_add("inner", "ctbr-i", NULL, true, &err), &err);
	/* Subnets of an internal network change nothing. */
	assert_ok(nft_network_add("inner2", "ctbr-i2", (const char *[]){"10.91.0.0/24", NULL}, true,
				  &err),
		  &err);
	root = ruleset();
	assert_non_null(root);

	assert_true(bridges_has(root, "ctbr-i"));
	assert_null(find_chain(root, "net-inner-dnat"));
	assert_null(find_chain(root, "net-inner-post"));
	assert_non_null(find_chain(root, "net-inner-fwd"));
	assert_null(find_chain(root, "net-inner2-post"));
	/* No masquerade and no published ports: its only jump is the forward one. */
	assert_no_rule(root, NULL, "\"masquerade\"", "ctbr-i");
	assert_no_rule(root, NULL, "10.91.0.0");
	assert_int_equal(count_rules(root, NULL, "\"comment\":\"net inner\"", NULL), 1);
	assert_rule(root, "forward", "\"comment\":\"net inner\"",
		    "{\"jump\":{\"target\":\"net-inner-fwd\"}}");
	/* Drops between the bridge and any other interface, both ways */
	assert_int_equal(count_rules(root, "net-inner-fwd", NULL), 2);
	assert_rule(
	    root, "net-inner-fwd",
	    "{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"iifname\"}},\"right\":\"ctbr-i\"}",
	    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"ctbr-i\"}",
	    "{\"drop\":null}");
	assert_rule(
	    root, "net-inner-fwd",
	    "{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"ctbr-i\"}",
	    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"iifname\"}},\"right\":\"ctbr-i\"}",
	    "{\"drop\":null}");

	assert_failure(nft_port_add(&port, &handle, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "on network inner: the network is internal");
	assert_int_equal(nft_network_exists("inner", &err), 1);
}

static void test_networks_isolated(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *root = NULL;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	assert_ok(nft_network_add("beta", "ctbr-b", beta_subnets, false, &err), &err);
	root = ruleset();
	assert_non_null(root);

	assert_true(bridges_has(root, "ctbr-a"));
	assert_true(bridges_has(root, "ctbr-b"));
	/* Each network drops what leaves its bridge for another of ours: together both
	 * directions. */
	assert_rule(root, "net-alpha-fwd", "\"right\":\"ctbr-a\"", "\"right\":\"@bridges\"",
		    "{\"drop\":null}");
	assert_rule(root, "net-beta-fwd", "\"right\":\"ctbr-b\"", "\"right\":\"@bridges\"",
		    "{\"drop\":null}");
	assert_rule(root, "forward", "{\"jump\":{\"target\":\"net-alpha-fwd\"}}");
	assert_rule(root, "forward", "{\"jump\":{\"target\":\"net-beta-fwd\"}}");
	/* Each masquerades its own subnet only */
	assert_rule(root, "net-beta-post", "\"10.89.0.0\"",
		    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"ctbr-b\"}",
		    "{\"masquerade\":null}");
	assert_no_rule(root, "net-beta-post", "10.88.0.0");

	/* A bridge belongs to one network. */
	assert_failure(nft_network_add("gamma", "ctbr-a", beta_subnets, false, &err), &err,
		       CT_ERR_CONFLICT, "bridge ctbr-a already belongs to net alpha");
	assert_int_equal(nft_network_exists("gamma", &err), 0);
}

/* Published ports */

static uint64_t publish(const char *network, const char *proto, const char *host_ip,
			unsigned int host_port, const char *container_ip,
			unsigned int container_port, unsigned int count)
{
	struct ct_error err = CT_ERROR_INIT;
	const struct nft_port_spec spec = {.network = network,
					   .proto = proto,
					   .host_ip = host_ip,
					   .host_port = host_port,
					   .container_ip = container_ip,
					   .container_port = container_port,
					   .count = count};
	uint64_t handle = 0;

	assert_ok(nft_port_add(&spec, &handle, &err), &err);
	assert_true(handle > 0);
	return handle;
}

static void assert_port(const struct nft_port *p, uint64_t handle, const char *proto,
			const char *host_ip, unsigned int host_port, const char *container_ip,
			unsigned int container_port, unsigned int count)
{
	assert_int_equal(p->handle, handle);
	assert_string_equal(p->network, "alpha");
	assert_string_equal(p->proto, proto);
	assert_string_equal(p->host_ip, host_ip);
	assert_int_equal(p->host_port, host_port);
	assert_string_equal(p->container_ip, container_ip);
	assert_int_equal(p->container_port, container_port);
	assert_int_equal(p->count, count);
}

static void test_port_publish(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct nft_port *ports = NULL;
	char handle_frag[64];
	uint64_t h_tcp, h_udp, h_range, h_same, h_v6;
	size_t n;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	h_tcp = publish("alpha", "tcp", NULL, 8080, "10.88.0.2", 80, 0);
	h_udp = publish("alpha", "udp", "127.0.0.1", 5353, "10.88.0.2", 53, 1);
	h_range = publish("alpha", "tcp", "0.0.0.0", 8000, "10.88.0.3", 9000, 3);
	h_same = publish("alpha", "tcp", "", 7000, "10.88.0.3", 7000, 2);
	h_v6 = publish("alpha", "tcp", "fd00::1", 8443, "fd00:88::2", 443, 1);
	{
		_cleanup_json_ json_t *root = ruleset();

		assert_int_equal(count_rules(root, "net-alpha-dnat", NULL), 5);
		snprintf(handle_frag, sizeof(handle_frag), "\"handle\":%" PRIu64 ",", h_tcp);
		assert_rule(root, "net-alpha-dnat", handle_frag,
			    "\"comment\":\"publish tcp *:8080 -> 10.88.0.2:80\"",
			    "{\"meta\":{\"key\":\"nfproto\"}},\"right\":\"ipv4\"}",
			    "{\"protocol\":\"tcp\",\"field\":\"dport\"}},\"right\":8080}",
			    "{\"dnat\":{\"family\":\"ip\",\"addr\":\"10.88.0.2\",\"port\":80}}");
		snprintf(handle_frag, sizeof(handle_frag), "\"handle\":%" PRIu64 ",", h_udp);
		assert_rule(root, "net-alpha-dnat", handle_frag,
			    "{\"protocol\":\"ip\",\"field\":\"daddr\"}},\"right\":\"127.0.0.1\"}",
			    "{\"protocol\":\"udp\",\"field\":\"dport\"}},\"right\":5353}",
			    "{\"dnat\":{\"family\":\"ip\",\"addr\":\"10.88.0.2\",\"port\":53}}");
		snprintf(handle_frag, sizeof(handle_frag), "\"handle\":%" PRIu64 ",", h_range);
		assert_rule(root, "net-alpha-dnat", handle_frag,
			    "\"comment\":\"publish tcp *:8000-8002 -> 10.88.0.3:9000-9002\"",
			    "\"right\":{\"range\":[8000,8002]}",
			    "\"data\":{\"set\":[[8000,9000],[8001,9001],[8002,9002]]}");
		snprintf(handle_frag, sizeof(handle_frag), "\"handle\":%" PRIu64 ",", h_same);
		assert_rule(root, "net-alpha-dnat", handle_frag,
			    "\"right\":{\"range\":[7000,7001]}",
			    "{\"dnat\":{\"family\":\"ip\",\"addr\":\"10.88.0.3\"}}");
		snprintf(handle_frag, sizeof(handle_frag), "\"handle\":%" PRIu64 ",", h_v6);
		assert_rule(root, "net-alpha-dnat", handle_frag,
			    "\"comment\":\"publish tcp [fd00::1]:8443 -> [fd00:88::2]:443\"",
			    "{\"protocol\":\"ip6\",\"field\":\"daddr\"}},\"right\":\"fd00::1\"}",
			    "{\"dnat\":{\"family\":\"ip6\",\"addr\":\"fd00:88::2\",\"port\":443}}");
		/* Reached from outside and from the host itself */
		assert_rule(root, "prerouting", "\"target\":\"net-alpha-dnat\"");
		assert_rule(root, "output", "\"target\":\"net-alpha-dnat\"");
	}

	assert_ok(nft_port_list("alpha", &ports, &n, &err), &err);
	assert_int_equal(n, 5);
	assert_port(&ports[0], h_tcp, "tcp", "", 8080, "10.88.0.2", 80, 1);
	assert_port(&ports[1], h_udp, "udp", "127.0.0.1", 5353, "10.88.0.2", 53, 1);
	assert_port(&ports[2], h_range, "tcp", "", 8000, "10.88.0.3", 9000, 3);
	assert_port(&ports[3], h_same, "tcp", "", 7000, "10.88.0.3", 7000, 2);
	assert_port(&ports[4], h_v6, "tcp", "fd00::1", 8443, "fd00:88::2", 443, 1);
	free(ports);
	ports = NULL;

	/* Removal by handle takes exactly that rule. */
	assert_ok(nft_port_remove("alpha", h_tcp, &err), &err);
	{
		_cleanup_json_ json_t *root = ruleset();

		assert_int_equal(count_rules(root, "net-alpha-dnat", NULL), 4);
		assert_no_rule(root, NULL, "8080");
	}
	assert_failure(nft_port_remove("alpha", h_tcp, &err), &err, CT_ERR_NOT_FOUND,
		       "No such file or directory");
	assert_ok(nft_port_list(NULL, &ports, &n, &err), &err);
	assert_int_equal(n, 4);
	assert_int_equal(ports[0].handle, h_udp);
}

static void test_port_conflicts(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct nft_port_spec spec = {.network = "alpha",
				     .proto = "tcp",
				     .host_port = 8080,
				     .container_ip = "10.88.0.9",
				     .container_port = 80};
	uint64_t handle = 0;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	assert_ok(nft_network_add("beta", "ctbr-b", beta_subnets, false, &err), &err);
	publish("alpha", "tcp", NULL, 8080, "10.88.0.2", 80, 1);
	publish("alpha", "tcp", "127.0.0.1", 9090, "10.88.0.2", 90, 1);

	assert_failure(nft_port_add(&spec, &handle, &err), &err, CT_ERR_CONFLICT,
		       "tcp *:8080 is already published by network alpha (to 10.88.0.2 port 80)");
	spec.host_ip = "127.0.0.1";
	assert_failure(nft_port_add(&spec, &handle, &err), &err, CT_ERR_CONFLICT, "*:8080");
	spec.host_ip = NULL;
	spec.host_port = 8075;
	spec.count = 6; /* 8075-8080 */
	assert_failure(nft_port_add(&spec, &handle, &err), &err, CT_ERR_CONFLICT, "*:8080");
	spec.network = "beta";
	spec.host_port = 8080;
	spec.count = 1;
	spec.container_ip = "10.89.0.2";
	assert_failure(nft_port_add(&spec, &handle, &err), &err, CT_ERR_CONFLICT,
		       "published by network alpha");
	/* Any address covers 127.0.0.1 too. */
	spec.host_port = 9090;
	assert_failure(nft_port_add(&spec, &handle, &err), &err, CT_ERR_CONFLICT,
		       "tcp 127.0.0.1:9090");

	/* Not conflicts: another protocol, another port, another family, another address */
	publish("beta", "udp", NULL, 8080, "10.89.0.2", 80, 1);
	publish("beta", "tcp", NULL, 8081, "10.89.0.2", 80, 1);
	publish("alpha", "tcp", NULL, 8080, "fd00:88::2", 80, 1);
	publish("beta", "tcp", "10.0.0.1", 9090, "10.89.0.2", 90, 1);
	{
		_cleanup_json_ json_t *root = ruleset();

		/* IPv6 "any" leaves ::1 alone, which no DNAT can serve. */
		assert_rule(root, "net-alpha-dnat",
			    "{\"op\":\"!=\",\"left\":{\"payload\":{\"protocol\":\"ip6\",\"field\":"
			    "\"daddr\"}},\"right\":\"::1\"}",
			    "\"right\":8080}", "\"addr\":\"fd00:88::2\"");
	}
}

static void test_port_remove_container(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct nft_port *ports = NULL;
	size_t n, removed = 99;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	publish("alpha", "tcp", NULL, 8080, "10.88.0.2", 80, 1);
	publish("alpha", "udp", NULL, 8080, "10.88.0.2", 80, 1);
	publish("alpha", "tcp", NULL, 8000, "10.88.0.3", 80, 1);
	publish("alpha", "tcp", NULL, 8001, "10.88.0.2", 81, 5);

	assert_ok(nft_port_remove_container("alpha", "10.88.0.2", &removed, &err), &err);
	assert_int_equal(removed, 3);
	assert_ok(nft_port_list("alpha", &ports, &n, &err), &err);
	assert_int_equal(n, 1);
	assert_string_equal(ports[0].container_ip, "10.88.0.3");
	assert_ok(nft_port_remove_container("alpha", "10.88.0.2", &removed, &err), &err);
	assert_int_equal(removed, 0);
	assert_failure(nft_port_remove_container("alpha", "10.88.0", &removed, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "10.88.0");
}

static void test_network_remove_exact(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_json_ json_t *before = NULL;
	_cleanup_json_ json_t *after = NULL;
	_cleanup_json_ json_t *with_both = NULL;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("beta", "ctbr-b", beta_subnets, false, &err), &err);
	publish("beta", "tcp", NULL, 8080, "10.89.0.2", 80, 1);
	assert_ok(nft_network_add("inner", "ctbr-i", NULL, true, &err), &err);
	before = ruleset();

	/* A name that is a prefix of another's must not take the other's rules. */
	assert_ok(
	    nft_network_add("bet", "ctbr-bet", (const char *[]){"10.87.0.0/24", NULL}, false, &err),
	    &err);
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	publish("alpha", "tcp", NULL, 8081, "10.88.0.2", 80, 1);
	publish("alpha", "udp", "127.0.0.1", 53, "10.88.0.2", 53, 1);
	with_both = ruleset();
	assert_non_null(find_chain(with_both, "net-alpha-dnat"));

	assert_ok(nft_network_remove("alpha", &err), &err);
	assert_ok(nft_network_remove("bet", &err), &err);
	after = ruleset();
	/* Exactly as before: beta's and inner's rules, handles and set element intact */
	if (!json_equal(before, after)) {
		_cleanup_free_ char *b = json_dumps(before, JSON_COMPACT);
		_cleanup_free_ char *a = json_dumps(after, JSON_COMPACT);

		fail_msg("the table differs after removing alpha:\nbefore: %s\nafter:  %s", b, a);
	}
	assert_false(bridges_has(after, "ctbr-a"));
	assert_no_rule(after, NULL, "alpha");

	assert_failure(nft_network_remove("alpha", &err), &err, CT_ERR_NOT_FOUND,
		       "of network alpha: the network has no rules");
	assert_ok(nft_network_remove("inner", &err), &err);
	assert_ok(nft_network_remove("beta", &err), &err);
	{
		_cleanup_json_ json_t *empty = ruleset();

		assert_int_equal(count_chains(empty), 4);
		assert_int_equal(count_rules(empty, NULL, NULL), 0);
		assert_false(bridges_has(empty, "ctbr-b"));
	}
}

static void test_network_replace(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct nft_port *ports = NULL;
	size_t n;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	publish("alpha", "tcp", NULL, 8080, "10.88.0.2", 80, 1);
	assert_ok(nft_network_add("alpha", "ctbr-a2", beta_subnets, false, &err), &err);
	{
		_cleanup_json_ json_t *root = ruleset();

		assert_int_equal(count_rules(root, NULL, "\"comment\":\"net alpha\"", NULL), 4);
		assert_false(bridges_has(root, "ctbr-a"));
		assert_true(bridges_has(root, "ctbr-a2"));
		assert_no_rule(root, NULL, "10.88.0.0");
		assert_no_rule(root, NULL, "\"ctbr-a\"");
		assert_rule(root, "net-alpha-post", "\"10.89.0.0\"",
			    "{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},"
			    "\"right\":\"ctbr-a2\"}");
	}
	assert_ok(nft_port_list("alpha", &ports, &n, &err), &err);
	assert_int_equal(n, 0);

	/* Becoming internal drops the NAT chains. */
	assert_ok(nft_network_add("alpha", "ctbr-a2", NULL, true, &err), &err);
	{
		_cleanup_json_ json_t *root = ruleset();

		assert_null(find_chain(root, "net-alpha-dnat"));
		assert_null(find_chain(root, "net-alpha-post"));
		assert_int_equal(count_rules(root, "net-alpha-fwd", NULL), 2);
		assert_int_equal(count_rules(root, NULL, "\"comment\":\"net alpha\"", NULL), 1);
	}
}

static void test_teardown(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct nft_port *ports = NULL;
	_cleanup_free_ char *dump = NULL;
	json_t *root;
	size_t n = 1;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	publish("alpha", "tcp", NULL, 8080, "10.88.0.2", 80, 1);
	assert_ok(nft_table_dump(false, &dump, &err), &err);
	assert_non_null(strstr(dump, "table inet container {"));
	assert_non_null(strstr(dump, "chain net-alpha-dnat {"));

	assert_ok(nft_teardown(&err), &err);
	root = ruleset();
	assert_null(root);
	assert_ok(nft_teardown(&err), &err);

	assert_failure(nft_network_remove("alpha", &err), &err, CT_ERR_NOT_FOUND, "alpha");
	assert_int_equal(nft_network_exists("alpha", &err), 0);
	assert_ok(nft_port_list(NULL, &ports, &n, &err), &err);
	assert_int_equal(n, 0);
	free(dump);
	dump = NULL;
	assert_failure(nft_table_dump(true, &dump, &err), &err, CT_ERR_NOT_FOUND,
		       "listing table inet container: nft: ");
}

/* Bad input */

static void test_bad_input(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	static const struct {
		const char *cidr;
		const char *needle;
	} bad_subnets[] = {
	    {"10.88.0.0", "expected ADDRESS/PREFIX"},
	    {"10.88.0.0/33", "prefix length must be 1 to 32"},
	    {"10.88.0.0/0", "prefix length must be 1 to 32"},
	    {"10.88.0.0/", "prefix length"},
	    {"10.88.0.0/24x", "prefix length"},
	    {"10.88.0.0/-1", "prefix length"},
	    {"10.88.0.0/99999999999999999999999", "prefix length"},
	    {"fd00::/129", "prefix length must be 1 to 128"},
	    {"10.88.0.5/24", "host bits are set (did you mean 10.88.0.0/24?)"},
	    {"fd00::1/64", "did you mean fd00::/64?"},
	    {"nonsense/8", "\"nonsense\" is not an IPv4 or IPv6 address"},
	    {"10.88.0.256/24", "is not an IPv4 or IPv6 address"},
	    {"", "missing subnet"},
	};
	static const struct {
		const char *name;
		const char *needle;
	} bad_names[] = {
	    {"", "missing network name"},
	    {"a b", "invalid network name \"a b\""},
	    {"a\"b", "invalid network name"},
	    {"-x", "starting with a letter or digit"},
	    {"x;flush ruleset", "invalid network name"},
	    {"0123456789012345678901234567890123456789012345678901234567890123456789",
	     "is too long"},
	};
	const char *bad_bridges[] = {"", "averyverylongname", "br 0", "br\"0", "..", "br/0"};
	static const struct {
		struct nft_port_spec spec;
		const char *code;
		const char *needle;
	} bad_ports[] = {
	    {{"alpha", "tcp", NULL, 0, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid host port 0: it must be 1 to 65535"},
	    {{"alpha", "tcp", NULL, 65536, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid host port 65536"},
	    {{"alpha", "tcp", NULL, 8080, "10.88.0.2", 0, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid container port 0"},
	    {{"alpha", "udp", NULL, 8080, "10.88.0.2", 70000, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid container port 70000"},
	    {{"alpha", "tcp", NULL, 65535, "10.88.0.2", 80, 2},
	     CT_ERR_INVALID_ARGUMENT,
	     "host port range 65535-65536: it ends past 65535"},
	    {{"alpha", "tcp", NULL, 8000, "10.88.0.2", 65530, 10},
	     CT_ERR_INVALID_ARGUMENT,
	     "container port range 65530-65539"},
	    {{"alpha", "sctp", NULL, 8080, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "unknown protocol \"sctp\": use tcp or udp"},
	    {{"alpha", "TCP ", NULL, 8080, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "unknown protocol"},
	    {{"alpha", NULL, NULL, 8080, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "unknown protocol \"(none)\""},
	    {{"alpha", "tcp", NULL, 8080, "10.88.0.300", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid container address \"10.88.0.300\""},
	    {{"alpha", "tcp", NULL, 8080, NULL, 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "missing container address"},
	    {{"alpha", "tcp", "localhost", 8080, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid host address \"localhost\""},
	    {{"alpha", "tcp", "fd00::1", 8080, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "different families"},
	    {{"alpha", "tcp", "::1", 8080, "fd00:88::2", 80, 1},
	     CT_ERR_UNSUPPORTED,
	     "publishing on ::1"},
	    {{"a b", "tcp", NULL, 8080, "10.88.0.2", 80, 1},
	     CT_ERR_INVALID_ARGUMENT,
	     "invalid network name"},
	    {{"nosuch", "tcp", NULL, 8080, "10.88.0.2", 80, 1},
	     CT_ERR_NOT_FOUND,
	     "on network nosuch: the network has no rules in table inet container (add the "
	     "network first)"},
	};
	_cleanup_json_ json_t *before = NULL;
	_cleanup_json_ json_t *after = NULL;
	uint64_t handle = 0;
	int family = 0;

	REQUIRE_NETNS();
	assert_ok(nft_network_add("alpha", "ctbr-a", alpha_subnets, false, &err), &err);
	before = ruleset();

	for (size_t i = 0; i < ARRAY_SIZE(bad_subnets); i++) {
		const char *subnets[] = {"10.86.0.0/24", bad_subnets[i].cidr, NULL};

		assert_failure(nft_network_add("gamma", "ctbr-g", subnets, false, &err), &err,
			       CT_ERR_INVALID_ARGUMENT, bad_subnets[i].needle);
		assert_failure(nft_parse_cidr(bad_subnets[i].cidr, &family, &err), &err,
			       CT_ERR_INVALID_ARGUMENT, bad_subnets[i].needle);
	}
	assert_ok(nft_parse_cidr("fd00:88::/64", &family, &err), &err);
	assert_int_equal(family, AF_INET6);
	assert_ok(nft_parse_cidr("192.168.0.0/16", &family, &err), &err);
	assert_int_equal(family, AF_INET);
	assert_failure(nft_network_add("gamma", "ctbr-g", NULL, false, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "needs at least one subnet");
	assert_failure(nft_network_add("gamma", "ctbr-g", (const char *[]){NULL}, false, &err),
		       &err, CT_ERR_INVALID_ARGUMENT, "needs at least one subnet");

	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		assert_failure(
		    nft_network_add(bad_names[i].name, "ctbr-g", beta_subnets, false, &err), &err,
		    CT_ERR_INVALID_ARGUMENT, bad_names[i].needle);
		assert_failure(nft_network_remove(bad_names[i].name, &err), &err,
			       CT_ERR_INVALID_ARGUMENT, bad_names[i].needle);
	}
	assert_failure(nft_network_add(NULL, "ctbr-g", beta_subnets, false, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "missing network name");
	for (size_t i = 0; i < ARRAY_SIZE(bad_bridges); i++)
		assert_failure(nft_network_add("gamma", bad_bridges[i], beta_subnets, false, &err),
			       &err, CT_ERR_INVALID_ARGUMENT, "bridge name");
	assert_failure(nft_network_add("gamma", NULL, beta_subnets, false, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "missing bridge name");

	for (size_t i = 0; i < ARRAY_SIZE(bad_ports); i++)
		assert_failure(nft_port_add(&bad_ports[i].spec, &handle, &err), &err,
			       bad_ports[i].code, bad_ports[i].needle);
	assert_failure(nft_port_remove("alpha", 0, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "rule handle 0 is not valid");
	/* A handle that is no port of this network: nft's own error, passed up whole */
	assert_failure(nft_port_remove("alpha", 999999, &err), &err, CT_ERR_NOT_FOUND,
		       "removing the published port with rule handle 999999 of network alpha: "
		       "nft: Could not process rule: No such file or directory");
	assert_failure(nft_port_remove("nosuch", 1, &err), &err, CT_ERR_NOT_FOUND, "nosuch");

	/* Nothing above changed the table. */
	after = ruleset();
	assert_true(json_equal(before, after));
	assert_int_equal(nft_network_exists("gamma", &err), 0);
}

/* Without CAP_NET_ADMIN: a child that became nobody (which drops every capability)
 * gets a permission error that says what is missing. */
static void test_permission_denied(void **state)
{
	int status;
	pid_t pid;

	REQUIRE_NETNS();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ct_error err = CT_ERROR_INIT;
		const char *prefix = "creating nftables table inet container: nft: ";
		const char *want = "Operation not permitted (changing nftables needs root or "
				   "CAP_NET_ADMIN)";
		int rc;

		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		rc = nft_init(&err);
		if (rc != -1 || !ct_error_is(&err, CT_ERR_PERMISSION_DENIED) ||
		    !ct_str_has_prefix(ct_error_message(&err), prefix) ||
		    !strstr(ct_error_message(&err), want)) {
			fprintf(stderr, "nft_init as nobody: rc %d, code %s, message \"%s\"\n", rc,
				err.code, ct_error_message(&err));
			_exit(1);
		}
		ct_error_clear(&err);
		rc = nft_network_remove("alpha", &err);
		if (rc != -1 || !ct_error_is(&err, CT_ERR_PERMISSION_DENIED)) {
			fprintf(stderr, "nft_network_remove as nobody: rc %d, code %s, \"%s\"\n",
				rc, err.code, ct_error_message(&err));
			_exit(1);
		}
		ct_error_clear(&err);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Traffic through the rules, between network namespaces made here
 *
 *   outside ns    198.51.100.2 ── vo-o/vo-h ── 198.51.100.1  (the "host's address")
 *   test ns (the host): ctbr-e2ea 10.231.1.1  ctbr-e2eb 10.231.2.1  ctbr-e2ei 10.231.3.1
 *   ns A (e2ea)   10.231.1.2    ns B (e2eb) 10.231.2.2    ns I (e2ei, internal) 10.231.3.2
 *
 * Each namespace is held by a server process that answers every TCP connection and
 * UDP datagram with "peer <source address it saw>", which shows both reachability
 * and whether (and to what) the source was masqueraded. */

#define E2E_PORT 80

enum probe_result {
	PROBE_ANSWERED = 0,
	PROBE_TIMEOUT = 1,
	PROBE_REFUSED = 2,
	PROBE_ERROR = 3,
};

static pid_t e2e_pids[8];
static size_t e2e_npids;

static void e2e_cleanup(void)
{
	for (size_t i = 0; i < e2e_npids; i++) {
		kill(e2e_pids[i], SIGKILL);
		waitpid(e2e_pids[i], NULL, 0);
	}
	e2e_npids = 0;
	/* The veth ends go with the namespaces; the bridges are ours to delete. */
	(void)!system("for l in ctbr-e2ea ctbr-e2eb ctbr-e2ei vo-h; do "
		      "ip link del $l 2>/dev/null; done; true");
}

static int e2e_teardown(void **state)
{
	if (in_own_netns)
		e2e_cleanup();
	return check_others_untouched(state);
}

static __attribute__((noreturn)) void serve(int ready_fd)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(E2E_PORT)};
	struct pollfd fds[2];
	int one = 1;

	fds[0].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fds[1].fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fds[0].fd < 0 || fds[1].fd < 0)
		_exit(1);
	setsockopt(fds[0].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fds[0].fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    bind(fds[1].fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fds[0].fd, 16) < 0)
		_exit(1);
	fds[0].events = fds[1].events = POLLIN;
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		char text[64], ip[INET_ADDRSTRLEN], buf[64];

		if (poll(fds, 2, -1) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int c = accept4(fds[0].fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

			if (c >= 0) {
				inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
				snprintf(text, sizeof(text), "peer %s", ip);
				(void)!write(c, text, strlen(text));
				close(c);
			}
		}
		if (fds[1].revents & POLLIN) {
			len = sizeof(peer);
			if (recvfrom(fds[1].fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer,
				     &len) >= 0) {
				inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
				snprintf(text, sizeof(text), "peer %s", ip);
				sendto(fds[1].fd, text, strlen(text), 0, (struct sockaddr *)&peer,
				       len);
			}
		}
	}
}

/* Forks a server in a new network namespace (lo up) and returns its pid. */
static pid_t spawn_namespace(void)
{
	int pipefd[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (unshare(CLONE_NEWNET) < 0 || system("ip link set lo up") != 0)
			_exit(1);
		serve(pipefd[1]);
	}
	close(pipefd[1]);
	e2e_pids[e2e_npids++] = pid;
	if (read(pipefd[0], &c, 1) != 1)
		fail_msg("the namespace server %d did not start", (int)pid);
	close(pipefd[0]);
	return pid;
}

static enum probe_result probe_child(int type, const char *ip, unsigned int port, int timeout_ms,
				     int out_fd)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct pollfd pfd;
	char reply[64];
	int fd, soerr = 0;
	socklen_t len = sizeof(soerr);
	ssize_t n;

	inet_pton(AF_INET, ip, &addr.sin_addr);
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PROBE_ERROR;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
		return errno == ECONNREFUSED ? PROBE_REFUSED : PROBE_ERROR;
	pfd.fd = fd;
	if (type == SOCK_STREAM) {
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) == 0)
			return PROBE_TIMEOUT;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr)
			return soerr == ECONNREFUSED ? PROBE_REFUSED : PROBE_ERROR;
	} else if (send(fd, "hello", 5, 0) != 5) {
		return PROBE_ERROR;
	}
	pfd.events = POLLIN;
	if (poll(&pfd, 1, timeout_ms) == 0)
		return PROBE_TIMEOUT;
	n = recv(fd, reply, sizeof(reply), 0);
	if (n < 0)
		return errno == ECONNREFUSED ? PROBE_REFUSED : PROBE_ERROR;
	if (write(out_fd, reply, (size_t)n) != n)
		return PROBE_ERROR;
	return PROBE_ANSWERED;
}

/* Connects (TCP) or sends a datagram (UDP) from the namespace of ns_pid (0: the
 * test's own) and returns what happened within timeout_ms, the answer in reply. */
static enum probe_result probe(pid_t ns_pid, int type, const char *ip, unsigned int port,
			       int timeout_ms, char *reply, size_t size)
{
	int pipefd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (ns_pid) {
			char path[64];
			int nsfd;

			snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)ns_pid);
			nsfd = open(path, O_RDONLY | O_CLOEXEC);
			if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
				_exit(PROBE_ERROR);
		}
		_exit(probe_child(type, ip, port, timeout_ms, pipefd[1]));
	}
	close(pipefd[1]);
	while (len + 1 < size && (n = read(pipefd[0], reply + len, size - len - 1)) > 0)
		len += (size_t)n;
	reply[len] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return (enum probe_result)WEXITSTATUS(status);
}

static void expect_answer(pid_t from, int type, const char *ip, unsigned int port, const char *peer,
			  const char *what)
{
	char reply[64];
	enum probe_result r = probe(from, type, ip, port, 2000, reply, sizeof(reply));

	if (r != PROBE_ANSWERED)
		fail_msg("%s: %s %s:%u got no answer (%d)", what,
			 type == SOCK_STREAM ? "tcp" : "udp", ip, port, r);
	if (strcmp(reply + strlen("peer "), peer) != 0)
		fail_msg("%s: the server saw \"%s\", expected peer %s", what, reply, peer);
	printf("# ok: %s (server saw %s)\n", what, reply);
}

static void expect_no_answer(pid_t from, int type, const char *ip, unsigned int port,
			     enum probe_result expected, const char *what)
{
	char reply[64];
	/* An answer inside these namespaces takes well under a millisecond. */
	enum probe_result r = probe(from, type, ip, port, 400, reply, sizeof(reply));

	if (r != expected)
		fail_msg("%s: %s:%u gave %d (answer \"%s\"), expected %d", what, ip, port, r, reply,
			 expected);
	printf("# ok: %s (%s)\n", what, expected == PROBE_TIMEOUT ? "dropped" : "refused");
}

/* A network namespace attached to a new bridge, as the plugin will do it. */
static pid_t attach(const char *bridge, const char *veth, int third_octet)
{
	pid_t pid = spawn_namespace();

	run_ok("ip link add %s type bridge && ip addr add 10.231.%d.1/24 dev %s && "
	       "ip link set %s up",
	       bridge, third_octet, bridge, bridge);
	/* Hairpin mode, as docker sets it: with br_netfilter (loaded on our machines) a
	 * container's call to its own published port is DNAT'ed at the bridge and must
	 * leave by the port it came in on. */
	run_ok("ip link add %s type veth peer name eth0 netns %d && ip link set %s master %s up && "
	       "ip link set %s type bridge_slave hairpin on",
	       veth, (int)pid, veth, bridge, veth);
	run_ok("nsenter --net=/proc/%d/ns/net sh -c 'ip addr add 10.231.%d.2/24 dev eth0 && "
	       "ip link set eth0 up && ip route add default via 10.231.%d.1'",
	       (int)pid, third_octet, third_octet);
	return pid;
}

#define BR_NETFILTER_SYSCTL "/proc/sys/net/bridge/bridge-nf-call-iptables"

/* The whole path twice: routed, and with br_netfilter passing bridged frames through
 * the inet hooks (iifname and oifname are then the bridge on both sides, and a
 * container's call to its own published port is DNAT'ed at the bridge). */
static void e2e_traffic(bool br_netfilter)
{
	struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ char *dump = NULL;
	pid_t outside, a, b, in;
	uint64_t h_tcp, h_local;

	REQUIRE_NETNS();
	if (run("command -v ip >/dev/null && command -v nsenter >/dev/null") < 0)
		SKIP_TEST("needs ip (iproute2) and nsenter");
	if (run("ip link add ctbr-e2ea type bridge 2>/dev/null && ip link del ctbr-e2ea") < 0)
		SKIP_TEST("this kernel can't create a bridge in a network namespace");
	/* The sysctl exists once br_netfilter is loaded, and is per network namespace;
	 * loading the module is the host's business, not a test's. */
	if (access(BR_NETFILTER_SYSCTL, W_OK) < 0) {
		if (br_netfilter)
			SKIP_TEST("br_netfilter is not loaded on this host");
	} else {
		run_ok("echo %d > " BR_NETFILTER_SYSCTL, br_netfilter ? 1 : 0);
	}

	outside = spawn_namespace();
	run_ok("ip link add vo-h type veth peer name vo-o netns %d && "
	       "ip addr add 198.51.100.1/24 dev vo-h && ip link set vo-h up",
	       (int)outside);
	run_ok("nsenter --net=/proc/%d/ns/net sh -c 'ip addr add 198.51.100.2/24 dev vo-o && "
	       "ip link set vo-o up'",
	       (int)outside);
	a = attach("ctbr-e2ea", "va-h", 1);
	b = attach("ctbr-e2eb", "vb-h", 2);
	in = attach("ctbr-e2ei", "vi-h", 3);
	/* Both in the test's own namespace: forwarding, and 127.0.0.1 leaving via the
	 * bridge of the published port (see BASELINES.md). */
	run_ok("echo 1 > /proc/sys/net/ipv4/ip_forward && "
	       "echo 1 > /proc/sys/net/ipv4/conf/ctbr-e2ea/route_localnet");

	/* Before any rule, the outside can't answer the containers (no route back). */
	expect_no_answer(a, SOCK_STREAM, "198.51.100.2", E2E_PORT, PROBE_TIMEOUT,
			 "no masquerade without our rules");

	assert_ok(nft_network_add("e2ea", "ctbr-e2ea", (const char *[]){"10.231.1.0/24", NULL},
				  false, &err),
		  &err);
	assert_ok(nft_network_add("e2eb", "ctbr-e2eb", (const char *[]){"10.231.2.0/24", NULL},
				  false, &err),
		  &err);
	assert_ok(nft_network_add("e2ei", "ctbr-e2ei", (const char *[]){"10.231.3.0/24", NULL},
				  true, &err),
		  &err);
	h_tcp = publish("e2ea", "tcp", NULL, 8080, "10.231.1.2", E2E_PORT, 1);
	publish("e2ea", "udp", NULL, 5353, "10.231.1.2", E2E_PORT, 1);
	h_local = publish("e2ea", "tcp", "127.0.0.1", 9090, "10.231.1.2", E2E_PORT, 1);
	publish("e2ea", "tcp", NULL, 7000, "10.231.1.2", E2E_PORT - 1, 2); /* 7001 -> 80 */

	assert_ok(nft_table_dump(false, &dump, &err), &err);
	printf("# the table of this test:\n# ");
	for (const char *p = dump; *p; p++)
		printf(*p == '\n' && p[1] ? "\n# " : "%c", *p);
	printf("\n");

	/* Masquerade: the outside sees the host's address. */
	expect_answer(a, SOCK_STREAM, "198.51.100.2", E2E_PORT, "198.51.100.1",
		      "container A reaches the outside, masqueraded");
	expect_answer(b, SOCK_DGRAM, "198.51.100.2", E2E_PORT, "198.51.100.1",
		      "container B reaches the outside over UDP, masqueraded");
	/* Published ports, from every side; a client outside keeps its address. */
	expect_answer(outside, SOCK_STREAM, "198.51.100.1", 8080, "198.51.100.2",
		      "the outside reaches A's published port on the host's address");
	expect_answer(outside, SOCK_DGRAM, "198.51.100.1", 5353, "198.51.100.2",
		      "the outside reaches A's published UDP port");
	expect_answer(outside, SOCK_STREAM, "198.51.100.1", 7001, "198.51.100.2",
		      "a port range maps one to one (7001 -> 80)");
	expect_answer(0, SOCK_STREAM, "198.51.100.1", 8080, "198.51.100.1",
		      "the host reaches the published port on its own address");
	expect_answer(0, SOCK_STREAM, "127.0.0.1", 8080, "10.231.1.1",
		      "the host reaches the published port on 127.0.0.1");
	expect_answer(0, SOCK_DGRAM, "127.0.0.1", 5353, "10.231.1.1",
		      "the host reaches the published UDP port on 127.0.0.1");
	expect_answer(0, SOCK_STREAM, "127.0.0.1", 9090, "10.231.1.1",
		      "a port published on 127.0.0.1 only");
	expect_no_answer(outside, SOCK_STREAM, "198.51.100.1", 9090, PROBE_REFUSED,
			 "a port published on 127.0.0.1 is not on the host's address");
	expect_answer(a, SOCK_STREAM, "198.51.100.1", 8080, "10.231.1.1",
		      "A reaches its own published port (hairpin)");
	expect_answer(b, SOCK_STREAM, "198.51.100.1", 8080, "10.231.1.1",
		      "B reaches A's published port through the host");
	/* Isolation */
	expect_no_answer(b, SOCK_STREAM, "10.231.1.2", E2E_PORT, PROBE_TIMEOUT,
			 "B can't reach A directly");
	expect_no_answer(a, SOCK_STREAM, "10.231.2.2", E2E_PORT, PROBE_TIMEOUT,
			 "A can't reach B directly");
	expect_no_answer(in, SOCK_STREAM, "198.51.100.2", E2E_PORT, PROBE_TIMEOUT,
			 "the internal network has no route out");
	expect_no_answer(in, SOCK_STREAM, "10.231.1.2", E2E_PORT, PROBE_TIMEOUT,
			 "the internal network can't reach A");
	expect_no_answer(a, SOCK_STREAM, "10.231.3.2", E2E_PORT, PROBE_TIMEOUT,
			 "A can't reach the internal network");

	/* Removing a port or a network takes its traffic away. */
	assert_ok(nft_port_remove("e2ea", h_tcp, &err), &err);
	assert_ok(nft_port_remove("e2ea", h_local, &err), &err);
	expect_no_answer(0, SOCK_STREAM, "127.0.0.1", 8080, PROBE_REFUSED,
			 "a removed port is no longer forwarded");
	expect_answer(0, SOCK_DGRAM, "127.0.0.1", 5353, "10.231.1.1", "the other ports stay");
	assert_ok(nft_network_remove("e2eb", &err), &err);
	expect_no_answer(b, SOCK_STREAM, "198.51.100.2", E2E_PORT, PROBE_TIMEOUT,
			 "a removed network is no longer masqueraded");
	assert_ok(nft_teardown(&err), &err);
	expect_no_answer(a, SOCK_STREAM, "198.51.100.2", E2E_PORT, PROBE_TIMEOUT,
			 "nothing is masqueraded after the teardown");
}

static void test_e2e_routed(void **state)
{
	e2e_traffic(false);
}

static void test_e2e_br_netfilter(void **state)
{
	e2e_traffic(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_idempotent, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_network_rules, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_network_internal, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_networks_isolated, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_port_publish, reset_table, check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_port_conflicts, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_port_remove_container, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_network_remove_exact, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_network_replace, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_teardown, reset_table, check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_bad_input, reset_table, check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_permission_denied, reset_table,
					    check_others_untouched),
	    cmocka_unit_test_setup_teardown(test_e2e_routed, reset_table, e2e_teardown),
	    cmocka_unit_test_setup_teardown(test_e2e_br_netfilter, reset_table, e2e_teardown),
	};
	int rc;

	/* Everything below runs in a network namespace of this process's own: the
	 * host's rules are out of reach even if a test goes wrong. */
	if (geteuid() != 0) {
		no_netns_reason = "needs root for a network namespace of its own";
	} else if (unshare(CLONE_NEWNET) < 0) {
		no_netns_reason = "unshare(CLONE_NEWNET) failed";
	} else if (system("ip link set lo up") != 0 ||
		   system("nft -f - <<'EOF'\n"
			  "table ip other {\n"
			  "  set s { type ipv4_addr; elements = { 192.0.2.7 }; }\n"
			  "  chain input {\n"
			  "    type filter hook input priority 0; policy accept;\n"
			  "    ip saddr @s accept comment \"not ours\"\n"
			  "  }\n"
			  "  chain post { type nat hook postrouting priority 100; }\n"
			  "}\n"
			  "table inet other {\n"
			  "  chain forward_other {\n"
			  "    type filter hook forward priority 10; policy accept;\n"
			  "    ct state invalid accept\n"
			  "  }\n"
			  "}\n"
			  "table ip container { chain c { ip daddr 192.0.2.8 accept; }; }\n"
			  "EOF\n") != 0 ||
		   !(others_before = other_tables())) {
		no_netns_reason = "can't set up the network namespace (ip or nft failing)";
		fprintf(stderr, "%s\n", no_netns_reason);
		return 1;
	} else {
		in_own_netns = true;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(others_before);
	return rc;
}
