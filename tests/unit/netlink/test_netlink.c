/* Unit tests of src/plugins/network-bridge/netlink.
 *
 * The binary first moves into a network namespace of its own (unshare(CLONE_NEWNET) in
 * main, before cmocka starts), so every bridge, veth, address, route and sysctl it makes
 * lives there and goes away with the process: the host's network is never touched. The
 * "container" namespaces are made by a thread that unshares and hands back an fd of its
 * namespace, as the runtime would pass one to the network plugin. Traffic only flows
 * between these namespaces. Without root (or when unshare is refused) the live tests say why
 * in a TAP comment and pass.
 *
 * Every interface is named "nlt…"; the teardown deletes them even when a test fails. */
#include "netlink.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "util.h"

#define BRIDGE	  "nltbr0"
#define HOST_VETH "nltveth0"
#define PEER_TMP  "nltpeer0"
#define MTU	  1400

static bool in_own_netns;
static char netns_skip_reason[128];

static const char *const test_links[] = {BRIDGE, HOST_VETH, "nltv0", "nltv2", "nltbr1"};

/* ---- Helpers ---- */

static void assert_failure(int rc, struct ct_error *err, const char *code, const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (needle && !strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
	printf("# expected error: %s\n", message);
	ct_error_clear(err);
}

#define assert_ok(expr, err)                                                                       \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			fail_msg("%s: %s", #expr, ct_error_message(err));                          \
	} while (0)

/* cmocka 1.1's skip() prints "not ok N # SKIP", which meson counts as a failure:
 * a test that can't run here says why in a TAP comment and passes. */
#define SKIP_TEST(...)                                                                             \
	do {                                                                                       \
		printf("# skipped: " __VA_ARGS__);                                                 \
		printf("\n");                                                                      \
		return;                                                                            \
	} while (0)

#define REQUIRE_OWN_NETNS()                                                                        \
	do {                                                                                       \
		if (!in_own_netns)                                                                 \
			SKIP_TEST("%s", netns_skip_reason);                                        \
	} while (0)

static struct in_addr in4(const char *text)
{
	struct in_addr addr;

	if (inet_pton(AF_INET, text, &addr) != 1)
		fail_msg("bad IPv4 literal %s", text);
	return addr;
}

static int count_fds(void)
{
	_cleanup_closedir_ DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	return n - 1; /* the directory's own fd */
}

static ino_t thread_netns_inode(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

/* A fresh network namespace, held by the returned fd only: a thread unshares into it,
 * opens it and ends, so no process or thread of ours stays inside. */
struct netns_new_job {
	int fd;
	int errnum;
};

static void *netns_new_thread(void *data)
{
	struct netns_new_job *job = data;

	if (unshare(CLONE_NEWNET) < 0) {
		job->errnum = errno;
		return NULL;
	}
	job->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (job->fd < 0)
		job->errnum = errno;
	return NULL;
}

static int netns_new(void)
{
	struct netns_new_job job = {.fd = -1};
	pthread_t thread;

	assert_int_equal(pthread_create(&thread, NULL, netns_new_thread, &job), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	if (job.fd < 0)
		fail_msg("making a network namespace: %s", strerror(job.errnum));
	return job.fd;
}

/* Accept, connect and I/O give up after 10 s instead of hanging the test. Called from
 * nl_in_netns threads too, so it reports errors rather than asserting. */
static int set_timeouts(int fd, struct ct_error *err)
{
	struct timeval tv = {.tv_sec = 10};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "setting socket timeouts");
	return 0;
}

/* A listening TCP socket on addr (port 0: any), with accept and I/O timeouts. */
static int tcp_listen(struct in_addr addr, struct ct_error *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = addr};

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "socket");
	if (set_timeouts(fd, err) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "bind %s", inet_ntoa(addr));
	if (listen(fd, 4) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "listen");
	return move_fd(fd);
}

static int tcp_connect(struct in_addr addr, int port, struct ct_error *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = addr, .sin_port = htons(port)};

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "socket");
	if (set_timeouts(fd, err) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "connecting to %s:%d", inet_ntoa(addr),
				      port);
	return move_fd(fd);
}

static int local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* Sends "ping" from a to b and "pong" back. */
static void exchange(int a, int b)
{
	char buf[8] = {0};

	assert_int_equal(write(a, "ping", 4), 4);
	assert_int_equal(read(b, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(write(b, "pong", 4), 4);
	assert_int_equal(read(a, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
}

/* ---- Fixture ---- */

struct fixture {
	struct nl_sock *nl;
	int netns_fd;
	int fds_before;
};

static int setup(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	fx->netns_fd = -1;
	fx->fds_before = count_fds();
	if (in_own_netns && nl_sock_open(&fx->nl, &err) < 0) {
		fprintf(stderr, "%s\n", ct_error_message(&err));
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->nl) {
		for (size_t i = 0; i < ARRAY_SIZE(test_links); i++) {
			_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

			nl_link_delete(fx->nl, test_links[i], &err);
		}
		nl_sock_close(fx->nl);
	}
	if (fx->netns_fd >= 0)
		close(fx->netns_fd);
	free(fx);
	return 0;
}

/* ---- Pure functions ---- */

static void test_mac(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct in_addr addr = in4("10.123.0.2");
	uint8_t mac[6], parsed[6];
	char text[NL_MAC_STRLEN];

	nl_mac_from_ipv4(&addr, mac);
	nl_mac_format(mac, text);
	assert_string_equal(text, "02:42:0a:7b:00:02");
	/* Locally administered, unicast. */
	assert_int_equal(mac[0] & 0x02, 0x02);
	assert_int_equal(mac[0] & 0x01, 0);

	addr = in4("172.17.255.254");
	nl_mac_from_ipv4(&addr, mac);
	nl_mac_format(mac, text);
	assert_string_equal(text, "02:42:ac:11:ff:fe");

	assert_ok(nl_mac_parse("02:42:AC:11:ff:FE", parsed, &err), &err);
	assert_memory_equal(parsed, mac, 6);

	const char *bad[] = {"",
			     "02:42:ac:11:ff",
			     "02:42:ac:11:ff:fe:00",
			     "02-42-ac-11-ff-fe",
			     "0g:42:ac:11:ff:fe",
			     "02:42:ac:11:ff:f",
			     " 2:42:ac:11:ff:fe"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(parsed, 0xee, sizeof(parsed));
		assert_failure(nl_mac_parse(bad[i], parsed, &err), &err, CT_ERR_INVALID_ARGUMENT,
			       "invalid MAC address");
		assert_int_equal(parsed[0], 0xee); /* untouched on failure */
	}
	assert_failure(nl_mac_parse(NULL, parsed, &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
}

static void test_ifname_valid(void **state)
{
	assert_true(nl_ifname_valid("eth0"));
	assert_true(nl_ifname_valid("a"));
	assert_true(nl_ifname_valid("abcdefghijklmno")); /* 15 characters */
	assert_true(nl_ifname_valid("veth-1.2_x"));
	assert_false(nl_ifname_valid(NULL));
	assert_false(nl_ifname_valid(""));
	assert_false(nl_ifname_valid("abcdefghijklmnop")); /* 16 */
	assert_false(nl_ifname_valid("."));
	assert_false(nl_ifname_valid(".."));
	assert_false(nl_ifname_valid("a/b"));
	assert_false(nl_ifname_valid("eth0:1"));
	assert_false(nl_ifname_valid("a b"));
	assert_false(nl_ifname_valid("a\tb"));
}

static void test_sysctl_paths(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	char buf[64];

	assert_failure(nl_sysctl_set("/proc/sys/net/ipv4/ip_forward", "1", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "relative to /proc/sys");
	assert_failure(nl_sysctl_set("net/../../etc/passwd", "1", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "\"..\"");
	assert_failure(nl_sysctl_set("..", "1", &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
	assert_failure(nl_sysctl_set("net//ipv4/ip_forward", "1", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, NULL);
	assert_failure(nl_sysctl_set("", "1", &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);
	assert_failure(nl_sysctl_set("net/ipv4/ip_forward", NULL, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, NULL);
	assert_failure(
	    nl_sysctl_get("net/ipv4/conf/nltnone0/route_localnet", buf, sizeof(buf), &err), &err,
	    CT_ERR_NOT_FOUND, "nltnone0");
	assert_failure(nl_sysctl_get("net/ipv4/ip_forward", buf, 1, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, NULL);
	/* Reading is harmless anywhere. */
	assert_ok(nl_sysctl_get("net/ipv4/ip_forward", buf, sizeof(buf), &err), &err);
	assert_true(strcmp(buf, "0") == 0 || strcmp(buf, "1") == 0);
}

/* ---- Links ---- */

static void test_bridge_create_idempotent(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	struct nl_link_info info;
	int index, again;

	REQUIRE_OWN_NETNS();
	index = nl_bridge_create(fx->nl, BRIDGE, MTU, &err);
	assert_ok(index, &err);
	assert_true(index > 0);
	assert_ok(nl_link_get(fx->nl, BRIDGE, &info, &err), &err);
	assert_int_equal(info.index, index);
	assert_string_equal(info.name, BRIDGE);
	assert_string_equal(info.kind, "bridge");
	assert_int_equal(info.mtu, MTU);
	assert_int_equal(info.master, 0);
	assert_false(info.flags & IFF_UP);
	assert_int_equal(nl_link_index(fx->nl, BRIDGE, &err), index);
	assert_ok(nl_link_get_index(fx->nl, index, &info, &err), &err);
	assert_string_equal(info.name, BRIDGE);

	/* Again: the same bridge, with the MTU asked for now. */
	again = nl_bridge_create(fx->nl, BRIDGE, 1450, &err);
	assert_ok(again, &err);
	assert_int_equal(again, index);
	assert_ok(nl_link_get(fx->nl, BRIDGE, &info, &err), &err);
	assert_int_equal(info.mtu, 1450);
	/* And with mtu 0, the MTU stays. */
	assert_int_equal(nl_bridge_create(fx->nl, BRIDGE, 0, &err), index);
	assert_ok(nl_link_get(fx->nl, BRIDGE, &info, &err), &err);
	assert_int_equal(info.mtu, 1450);

	/* Up, down, and up by index. */
	assert_ok(nl_link_set_up(fx->nl, BRIDGE, true, &err), &err);
	assert_ok(nl_link_get(fx->nl, BRIDGE, &info, &err), &err);
	assert_true(info.flags & IFF_UP);
	assert_ok(nl_link_set_up_index(fx->nl, index, false, &err), &err);
	assert_ok(nl_link_get(fx->nl, BRIDGE, &info, &err), &err);
	assert_false(info.flags & IFF_UP);
	/* Setting a state it already has is fine. */
	assert_ok(nl_link_set_up(fx->nl, BRIDGE, false, &err), &err);

	assert_ok(nl_link_delete(fx->nl, BRIDGE, &err), &err);
	assert_failure(nl_link_index(fx->nl, BRIDGE, &err), &err, CT_ERR_NOT_FOUND, BRIDGE);
	assert_failure(nl_link_get_index(fx->nl, index, &info, &err), &err, CT_ERR_NOT_FOUND, NULL);
}

static void test_name_taken(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	struct nl_link_info v0, v1;
	int index;

	REQUIRE_OWN_NETNS();
	index = nl_veth_create(fx->nl, "nltv0", "nltv1", -1, 0, &err);
	assert_ok(index, &err);
	assert_ok(nl_link_get(fx->nl, "nltv0", &v0, &err), &err);
	assert_ok(nl_link_get(fx->nl, "nltv1", &v1, &err), &err);
	assert_int_equal(v0.index, index);
	assert_string_equal(v0.kind, "veth");
	/* Each end names the other, both here. */
	assert_int_equal(v0.link, v1.index);
	assert_int_equal(v1.link, v0.index);
	assert_int_equal(v0.link_netnsid, -1);
	assert_true(v0.has_mac);

	/* A bridge can't take a veth's name, and nothing about the veth changes. */
	assert_failure(nl_bridge_create(fx->nl, "nltv0", 0, &err), &err, CT_ERR_EXISTS, "nltv0");
	assert_failure(nl_bridge_create(fx->nl, "nltv1", 0, &err), &err, CT_ERR_EXISTS, "veth");
	assert_ok(nl_link_get(fx->nl, "nltv0", &v0, &err), &err);
	assert_string_equal(v0.kind, "veth");
	/* Neither a veth (either end's name) nor lo's. */
	assert_failure(nl_veth_create(fx->nl, "nltv0", "nltv9", -1, 0, &err), &err, CT_ERR_EXISTS,
		       "named nltv0");
	assert_failure(nl_veth_create(fx->nl, "nltv2", "nltv1", -1, 0, &err), &err, CT_ERR_EXISTS,
		       "named nltv1");
	assert_failure(nl_link_index(fx->nl, "nltv2", &err), &err, CT_ERR_NOT_FOUND, NULL);
	assert_failure(nl_bridge_create(fx->nl, "lo", 0, &err), &err, CT_ERR_EXISTS,
		       "without a kind");
	assert_failure(nl_veth_create(fx->nl, "nltv3", "nltv3", -1, 0, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "different names");

	/* Renaming: refused to a taken name, fine otherwise (whether an interface that is up
	 * can be renamed depends on the kernel: 6.2 and later allow it). */
	assert_failure(nl_link_rename(fx->nl, "nltv1", "nltv0", &err), &err, CT_ERR_EXISTS,
		       "nltv0");
	assert_ok(nl_link_rename(fx->nl, "nltv1", "nltv5", &err), &err);
	assert_int_equal(nl_link_index(fx->nl, "nltv5", &err), v1.index);

	/* Deleting one end deletes the pair. */
	assert_ok(nl_link_delete(fx->nl, "nltv0", &err), &err);
	assert_failure(nl_link_index(fx->nl, "nltv5", &err), &err, CT_ERR_NOT_FOUND, "nltv5");
}

static void test_missing_links(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	struct in_addr addr = in4("10.123.0.9");
	uint8_t mac[6] = {0x02, 0x42, 1, 2, 3, 4};

	REQUIRE_OWN_NETNS();
	assert_failure(nl_link_delete(fx->nl, "nltmissing0", &err), &err, CT_ERR_NOT_FOUND,
		       "nltmissing0");
	assert_int_equal(err.errnum, 0); /* cleared by assert_failure */
	assert_failure(nl_link_index(fx->nl, "nltmissing0", &err), &err, CT_ERR_NOT_FOUND,
		       "nltmissing0");
	assert_failure(nl_link_set_up(fx->nl, "nltmissing0", true, &err), &err, CT_ERR_NOT_FOUND,
		       "nltmissing0");
	assert_failure(nl_link_set_up_index(fx->nl, 99999, true, &err), &err, CT_ERR_NOT_FOUND,
		       "99999");
	assert_failure(nl_link_set_mtu(fx->nl, "nltmissing0", 1400, &err), &err, CT_ERR_NOT_FOUND,
		       "nltmissing0");
	assert_failure(nl_link_set_mac(fx->nl, "nltmissing0", mac, &err), &err, CT_ERR_NOT_FOUND,
		       "nltmissing0");
	assert_failure(nl_link_rename(fx->nl, "nltmissing0", "nltmissing1", &err), &err,
		       CT_ERR_NOT_FOUND, "nltmissing0");
	assert_failure(nl_addr_add(fx->nl, 99999, AF_INET, &addr, 24, &err), &err, CT_ERR_NOT_FOUND,
		       "10.123.0.9/24");

	/* A port for a bridge that isn't there, and a missing port for one that is. */
	assert_ok(nl_veth_create(fx->nl, "nltv0", "nltv1", -1, 0, &err), &err);
	assert_failure(nl_link_set_master(fx->nl, "nltv0", "nltbrmissing", &err), &err,
		       CT_ERR_NOT_FOUND, "nltbrmissing");
	assert_ok(nl_bridge_create(fx->nl, BRIDGE, 0, &err), &err);
	assert_failure(nl_link_set_master(fx->nl, "nltmissing0", BRIDGE, &err), &err,
		       CT_ERR_NOT_FOUND, "nltmissing0");
	/* A veth is no master. */
	assert_failure(nl_link_set_master(fx->nl, "nltv0", "nltv1", &err), &err, CT_ERR_UNSUPPORTED,
		       "nltv0");
}

static void test_bad_arguments(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	struct in_addr addr = in4("10.123.0.2"), gw = in4("10.99.0.1");
	uint8_t multicast[6] = {0x03, 0x42, 1, 2, 3, 4};
	int index;

	REQUIRE_OWN_NETNS();
	assert_failure(nl_bridge_create(fx->nl, "bad/name", 0, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "bad/name");
	assert_failure(nl_bridge_create(fx->nl, "nltwaytoolongname", 0, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "nltwaytoolongname");
	assert_failure(nl_veth_create(fx->nl, "nltv0", "", -1, 0, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "veth peer");
	assert_failure(nl_link_delete(fx->nl, NULL, &err), &err, CT_ERR_INVALID_ARGUMENT, NULL);

	index = nl_veth_create(fx->nl, "nltv0", "nltv1", -1, 0, &err);
	assert_ok(index, &err);

	/* Prefix lengths past the address's bits, unknown families, bad indexes. */
	assert_failure(nl_addr_add(fx->nl, index, AF_INET, &addr, 33, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "prefix length 33");
	assert_failure(nl_addr_add(fx->nl, index, AF_INET6, &(struct in6_addr){0}, 129, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "129");
	assert_failure(nl_addr_add(fx->nl, index, AF_UNIX, &addr, 24, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "family");
	assert_failure(nl_addr_add(fx->nl, 0, AF_INET, &addr, 24, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "index 0");
	assert_failure(nl_addr_add(fx->nl, index, AF_INET, NULL, 24, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, NULL);

	/* The kernel's own refusals come with its errno and explanation. */
	assert_failure(nl_link_set_mtu(fx->nl, "nltv0", 70000, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       "setting MTU 70000 on nltv0");
	assert_failure(nl_link_set_mtu(fx->nl, "nltv0", 0, &err), &err, CT_ERR_INVALID_ARGUMENT,
		       NULL);
	assert_failure(nl_link_set_mac(fx->nl, "nltv0", multicast, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "multicast");

	/* Adding an address twice; removing one it doesn't have. */
	assert_ok(nl_addr_add(fx->nl, index, AF_INET, &addr, 24, &err), &err);
	assert_failure(nl_addr_add(fx->nl, index, AF_INET, &addr, 24, &err), &err, CT_ERR_EXISTS,
		       "nltv0");
	assert_ok(nl_addr_del(fx->nl, index, AF_INET, &addr, 24, &err), &err);
	assert_failure(nl_addr_del(fx->nl, index, AF_INET, &addr, 24, &err), &err, CT_ERR_NOT_FOUND,
		       "10.123.0.2/24");

	/* A gateway on no connected subnet. */
	assert_failure(nl_route_add_default(fx->nl, index, AF_INET, &gw, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "10.99.0.1");
	assert_failure(nl_route_add_default(fx->nl, index, 12345, &gw, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "family");
}

static void test_sysctl_live(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	char here[16], after[16];
	const char *flipped;

	REQUIRE_OWN_NETNS();
	assert_ok(nl_sysctl_get("net/ipv4/ip_forward", here, sizeof(here), &err), &err);
	flipped = strcmp(here, "1") == 0 ? "0" : "1";
	assert_ok(nl_sysctl_set("net/ipv4/ip_forward", flipped, &err), &err);
	assert_ok(nl_sysctl_get("net/ipv4/ip_forward", after, sizeof(after), &err), &err);
	assert_string_equal(after, flipped);
	assert_ok(nl_sysctl_set("net/ipv4/ip_forward", "1\n", &err), &err);
	assert_ok(nl_sysctl_get("net/ipv4/ip_forward", after, sizeof(after), &err), &err);
	assert_string_equal(after, "1");
	assert_failure(nl_sysctl_set("net/ipv4/ip_forward", "yes", &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "net/ipv4/ip_forward");

	/* Per interface, once the interface exists. */
	assert_failure(nl_sysctl_set("net/ipv4/conf/" BRIDGE "/route_localnet", "1", &err), &err,
		       CT_ERR_NOT_FOUND, BRIDGE);
	assert_ok(nl_bridge_create(fx->nl, BRIDGE, 0, &err), &err);
	assert_ok(nl_sysctl_set("net/ipv4/conf/" BRIDGE "/route_localnet", "1", &err), &err);
	assert_ok(
	    nl_sysctl_get("net/ipv4/conf/" BRIDGE "/route_localnet", after, sizeof(after), &err),
	    &err);
	assert_string_equal(after, "1");
}

/* ---- Inside a namespace ---- */

struct sysctl_job {
	const char *path;
	char value[16];
};

static int sysctl_read_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	struct sysctl_job *job = arg;

	return nl_sysctl_get(job->path, job->value, sizeof(job->value), err);
}

static int netns_inode_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	*(ino_t *)arg = thread_netns_inode();
	return 42;
}

static int failing_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	return nl_link_delete(nl, "nltinside0", err);
}

static int silent_failing_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	return -3;
}

static void test_in_netns(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct fixture *fx = *state;
	ino_t ours = thread_netns_inode(), seen = 0;
	struct sysctl_job job = {.path = "net/ipv4/ip_forward"};
	char here[16];

	REQUIRE_OWN_NETNS();
	fx->netns_fd = netns_new();

	/* The callback runs elsewhere, its return value comes back, and this thread stays. */
	assert_int_equal(nl_in_netns(fx->netns_fd, netns_inode_fn, &seen, &err), 42);
	assert_true(seen != 0);
	assert_true(seen != ours);
	assert_int_equal(thread_netns_inode(), ours);
	/* -1: the caller's namespace. */
	assert_int_equal(nl_in_netns(-1, netns_inode_fn, &seen, &err), 42);
	assert_int_equal(seen, ours);

	/* Sysctls read inside are the namespace's own: flip ours, theirs stays. */
	assert_int_equal(nl_in_netns(fx->netns_fd, sysctl_read_fn, &job, &err), 0);
	assert_ok(
	    nl_sysctl_set("net/ipv4/ip_forward", strcmp(job.value, "1") == 0 ? "0" : "1", &err),
	    &err);
	assert_ok(nl_sysctl_get("net/ipv4/ip_forward", here, sizeof(here), &err), &err);
	assert_string_not_equal(here, job.value);
	{
		struct sysctl_job again = {.path = job.path};

		assert_int_equal(nl_in_netns(fx->netns_fd, sysctl_read_fn, &again, &err), 0);
		assert_string_equal(again.value, job.value);
	}

	/* Errors inside come out with their message and code. */
	assert_failure(nl_in_netns(fx->netns_fd, failing_fn, NULL, &err), &err, CT_ERR_NOT_FOUND,
		       "nltinside0");
	assert_int_equal(nl_in_netns(fx->netns_fd, silent_failing_fn, NULL, &err), -3);
	assert_string_equal(err.code, CT_ERR_INTERNAL);
	ct_error_clear(&err);
	/* Something that is not a network namespace. */
	assert_true(devnull >= 0);
	assert_failure(nl_in_netns(devnull, netns_inode_fn, &seen, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "not a network namespace");
	assert_failure(nl_veth_create(fx->nl, HOST_VETH, PEER_TMP, devnull, 0, &err), &err,
		       CT_ERR_INVALID_ARGUMENT, "network namespace");
	assert_failure(nl_link_index(fx->nl, HOST_VETH, &err), &err, CT_ERR_NOT_FOUND, NULL);
}

/* What the container's side looks like, gathered inside its namespace with netlink and,
 * independently of this module, with the old ioctls and /proc/thread-self/net/route. */
struct inside_view {
	struct in_addr gateway; /* in: the route to look for in procfs */
	struct nl_link_info eth0, lo;
	bool tmp_name_gone;
	struct nl_addr *addrs;
	size_t addr_count;
	struct nl_route route;
	struct in_addr ioctl_addr, ioctl_mask;
	int ioctl_mtu, ioctl_flags;
	uint8_t ioctl_mac[6];
	bool proc_route_found;
};

static int inside_view_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	struct inside_view *v = arg;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	_cleanup_fclose_ FILE *routes = NULL;
	struct ifreq ifr;
	char line[256];

	if (nl_link_get(nl, "eth0", &v->eth0, err) < 0 || nl_link_get(nl, "lo", &v->lo, err) < 0)
		return -1;
	v->tmp_name_gone =
	    nl_link_index(nl, PEER_TMP, err) < 0 && ct_error_is(err, CT_ERR_NOT_FOUND);
	ct_error_clear(err);
	if (nl_addr_list(nl, v->eth0.index, AF_INET, &v->addrs, &v->addr_count, err) < 0 ||
	    nl_route_get_default(nl, AF_INET, &v->route, err) < 0)
		return -1;

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "SIOCGIFADDR");
	v->ioctl_addr = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;
	if (ioctl(fd, SIOCGIFNETMASK, &ifr) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "SIOCGIFNETMASK");
	v->ioctl_mask = ((struct sockaddr_in *)&ifr.ifr_netmask)->sin_addr;
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "SIOCGIFMTU");
	v->ioctl_mtu = ifr.ifr_mtu;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "SIOCGIFHWADDR");
	memcpy(v->ioctl_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "SIOCGIFFLAGS");
	v->ioctl_flags = ifr.ifr_flags;

	/* Iface Destination Gateway …, addresses as the hex of the network-order word. */
	routes = fopen("/proc/thread-self/net/route", "re");
	if (!routes)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening /proc/thread-self/net/route");
	while (fgets(line, sizeof(line), routes)) {
		char iface[IFNAMSIZ + 1];
		unsigned int dst, gw;

		if (sscanf(line, "%16s %x %x", iface, &dst, &gw) == 3 &&
		    strcmp(iface, "eth0") == 0 && dst == 0 && gw == v->gateway.s_addr)
			v->proc_route_found = true;
	}
	return 0;
}

static int listen_inside_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	return tcp_listen(*(struct in_addr *)arg, err);
}

struct connect_job {
	struct in_addr addr;
	int port;
};

static int connect_inside_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	struct connect_job *job = arg;

	return tcp_connect(job->addr, job->port, err);
}

static int eth0_gone_fn(struct nl_sock *nl, void *arg, struct ct_error *err)
{
	_cleanup_free_ struct nl_link_info *links = NULL;
	size_t count = 0;

	if (nl_link_index(nl, "eth0", err) >= 0)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "eth0 is still there");
	if (!ct_error_is(err, CT_ERR_NOT_FOUND))
		return -1;
	ct_error_clear(err);
	if (nl_link_list(nl, &links, &count, err) < 0)
		return -1;
	return (int)count; /* lo only */
}

static void test_bridge_and_veth_into_netns(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	struct in_addr gw = in4("10.123.0.1"), ct = in4("10.123.0.2"), far = in4("10.200.0.1");
	struct nl_iface_config cfg = {
	    .peer_name = PEER_TMP,
	    .name = "eth0",
	    .family = AF_INET,
	    .addr.v4 = ct,
	    .prefixlen = 24,
	    .has_gateway = true,
	    .gateway.v4 = gw,
	    .has_mac = true,
	    .mtu = MTU,
	};
	struct inside_view view = {.gateway = gw};
	struct nl_link_info host, br;
	_cleanup_free_ struct nl_addr *br_addrs = NULL;
	size_t br_addr_count = 0;
	int br_index, host_index, eth0_index;
	char mac_text[NL_MAC_STRLEN];

	REQUIRE_OWN_NETNS();
	fx->netns_fd = netns_new();

	/* The network's side: a bridge with the gateway address, up. A /32 beyond the subnet
	 * stands for "the outside", reachable from the container only by its default route. */
	br_index = nl_bridge_create(fx->nl, BRIDGE, MTU, &err);
	assert_ok(br_index, &err);
	assert_ok(nl_addr_add(fx->nl, br_index, AF_INET, &gw, 24, &err), &err);
	assert_ok(nl_addr_add(fx->nl, br_index, AF_INET, &far, 32, &err), &err);
	assert_ok(nl_link_set_up(fx->nl, BRIDGE, true, &err), &err);

	/* The veth, its peer born in the container's namespace: never visible here. */
	host_index = nl_veth_create(fx->nl, HOST_VETH, PEER_TMP, fx->netns_fd, MTU, &err);
	assert_ok(host_index, &err);
	assert_failure(nl_link_index(fx->nl, PEER_TMP, &err), &err, CT_ERR_NOT_FOUND, PEER_TMP);
	/* Again: the host name is taken. */
	assert_failure(nl_veth_create(fx->nl, HOST_VETH, "nltpeer1", fx->netns_fd, MTU, &err), &err,
		       CT_ERR_EXISTS, HOST_VETH);
	/* A fresh host name but the peer's name is taken over there. */
	assert_failure(nl_veth_create(fx->nl, "nltv2", PEER_TMP, fx->netns_fd, MTU, &err), &err,
		       CT_ERR_EXISTS, "container's namespace");
	assert_ok(nl_link_set_master(fx->nl, HOST_VETH, BRIDGE, &err), &err);
	assert_ok(nl_link_set_up_index(fx->nl, host_index, true, &err), &err);

	/* The container's side, configured from inside. */
	nl_mac_from_ipv4(&ct, cfg.mac);
	eth0_index = nl_iface_configure(fx->netns_fd, &cfg, &err);
	assert_ok(eth0_index, &err);
	/* Configuring again fails at the first step that can't be repeated, and says where. */
	assert_failure(nl_iface_configure(fx->netns_fd, &cfg, &err), &err, CT_ERR_NOT_FOUND,
		       PEER_TMP);

	/* Host side. */
	assert_ok(nl_link_get(fx->nl, HOST_VETH, &host, &err), &err);
	assert_string_equal(host.kind, "veth");
	assert_int_equal(host.master, br_index);
	assert_int_equal(host.mtu, MTU);
	assert_true(host.flags & IFF_UP);
	assert_true(host.link_netnsid >= 0); /* its peer lives in another namespace */
	assert_int_equal(host.link, eth0_index);
	assert_ok(nl_link_get(fx->nl, BRIDGE, &br, &err), &err);
	assert_true(br.flags & IFF_UP);
	assert_ok(nl_addr_list(fx->nl, br_index, AF_INET, &br_addrs, &br_addr_count, &err), &err);
	assert_int_equal(br_addr_count, 2);
	assert_int_equal(br_addrs[0].addr.v4.s_addr, gw.s_addr);
	assert_int_equal(br_addrs[0].prefixlen, 24);
	assert_int_equal(br_addrs[1].addr.v4.s_addr, far.s_addr);
	assert_int_equal(br_addrs[1].prefixlen, 32);

	/* Container side, seen from inside. */
	assert_int_equal(nl_in_netns(fx->netns_fd, inside_view_fn, &view, &err), 0);
	assert_int_equal(view.eth0.index, eth0_index);
	assert_string_equal(view.eth0.kind, "veth");
	assert_int_equal(view.eth0.mtu, MTU);
	assert_true(view.eth0.has_mac);
	assert_memory_equal(view.eth0.mac, cfg.mac, 6);
	nl_mac_format(view.eth0.mac, mac_text);
	assert_string_equal(mac_text, "02:42:0a:7b:00:02");
	assert_true(view.eth0.flags & IFF_UP);
	assert_int_equal(view.eth0.master, 0);
	assert_int_equal(view.eth0.link, host_index);
	assert_true(view.lo.flags & IFF_UP);
	assert_true(view.tmp_name_gone);
	assert_int_equal(view.addr_count, 1);
	assert_int_equal(view.addrs[0].addr.v4.s_addr, ct.s_addr);
	assert_int_equal(view.addrs[0].prefixlen, 24);
	assert_int_equal(view.route.oif, eth0_index);
	assert_true(view.route.has_gateway);
	assert_int_equal(view.route.gateway.v4.s_addr, gw.s_addr);
	free(view.addrs);
	/* The same through ioctls and procfs. */
	assert_int_equal(view.ioctl_addr.s_addr, ct.s_addr);
	assert_int_equal(view.ioctl_mask.s_addr, in4("255.255.255.0").s_addr);
	assert_int_equal(view.ioctl_mtu, MTU);
	assert_memory_equal(view.ioctl_mac, cfg.mac, 6);
	assert_true(view.ioctl_flags & IFF_UP);
	assert_true(view.proc_route_found);

	/* Traffic: the host connects to a server in the container across the bridge... */
	{
		_cleanup_close_ int server = -1, client = -1, conn = -1;

		server = nl_in_netns(fx->netns_fd, listen_inside_fn, &ct, &err);
		assert_ok(server, &err);
		client = tcp_connect(ct, local_port(server), &err);
		assert_ok(client, &err);
		conn = accept4(server, NULL, NULL, SOCK_CLOEXEC);
		assert_true(conn >= 0);
		exchange(client, conn);
	}
	/* ...and the container reaches "the outside" through its default route, not NATed. */
	{
		_cleanup_close_ int server = -1, client = -1, conn = -1;
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		struct connect_job job = {.addr = far};

		server = tcp_listen(far, &err);
		assert_ok(server, &err);
		job.port = local_port(server);
		client = nl_in_netns(fx->netns_fd, connect_inside_fn, &job, &err);
		assert_ok(client, &err);
		conn = accept4(server, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
		assert_true(conn >= 0);
		assert_int_equal(peer.sin_addr.s_addr, ct.s_addr);
		exchange(client, conn);
	}

	/* Detaching from the bridge and attaching again. */
	assert_ok(nl_link_set_master(fx->nl, HOST_VETH, NULL, &err), &err);
	assert_ok(nl_link_get(fx->nl, HOST_VETH, &host, &err), &err);
	assert_int_equal(host.master, 0);
	assert_ok(nl_link_set_master(fx->nl, HOST_VETH, BRIDGE, &err), &err);

	/* Cleanup: deleting the host end takes eth0 with it; the bridge goes last. */
	assert_ok(nl_link_delete(fx->nl, HOST_VETH, &err), &err);
	assert_int_equal(nl_in_netns(fx->netns_fd, eth0_gone_fn, NULL, &err), 1);
	assert_ok(nl_link_delete(fx->nl, BRIDGE, &err), &err);
	assert_failure(nl_link_delete(fx->nl, BRIDGE, &err), &err, CT_ERR_NOT_FOUND, BRIDGE);
}

/* MTU and MAC changes on their own, and a peer created in this namespace. */
static void test_set_mtu_mac(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;
	struct nl_link_info info;
	uint8_t mac[6] = {0x02, 0x42, 0xde, 0xad, 0xbe, 0xef};

	REQUIRE_OWN_NETNS();
	assert_ok(nl_veth_create(fx->nl, "nltv0", "nltv1", -1, 9000, &err), &err);
	assert_ok(nl_link_get(fx->nl, "nltv1", &info, &err), &err);
	assert_int_equal(info.mtu, 9000);
	assert_ok(nl_link_set_mtu(fx->nl, "nltv1", 1280, &err), &err);
	assert_ok(nl_link_set_mac(fx->nl, "nltv1", mac, &err), &err);
	assert_ok(nl_link_get(fx->nl, "nltv1", &info, &err), &err);
	assert_int_equal(info.mtu, 1280);
	assert_memory_equal(info.mac, mac, 6);
	/* The other end keeps its own. */
	assert_ok(nl_link_get(fx->nl, "nltv0", &info, &err), &err);
	assert_int_equal(info.mtu, 9000);
	assert_memory_not_equal(info.mac, mac, 6);
}

static int read_hairpin(const char *name)
{
	_cleanup_free_ char *path = xasprintf("/sys/class/net/%s/brport/hairpin_mode", name);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	int value = -1;

	if (!f || fscanf(f, "%d", &value) != 1)
		return -1;
	return value;
}

/* Hairpin mode on a bridge port, and the errors when there is no port. */
static void test_hairpin(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct fixture *fx = *state;

	REQUIRE_OWN_NETNS();
	assert_ok(nl_bridge_create(fx->nl, BRIDGE, 0, &err), &err);
	assert_ok(nl_veth_create(fx->nl, "nltv0", "nltv1", -1, 0, &err), &err);
	/* Not a bridge port yet: the kernel refuses, and the message says why. */
	assert_int_equal(nl_link_set_hairpin(fx->nl, "nltv0", true, &err), -1);
	assert_non_null(strstr(ct_error_message(&err), "bridge"));
	printf("# expected error: %s\n", ct_error_message(&err));
	ct_error_clear(&err);
	assert_failure(nl_link_set_hairpin(fx->nl, "nltnone0", true, &err), &err, CT_ERR_NOT_FOUND,
		       "nltnone0");
	assert_ok(nl_link_set_master(fx->nl, "nltv0", BRIDGE, &err), &err);
	assert_ok(nl_link_set_hairpin(fx->nl, "nltv0", true, &err), &err);
	/* sysfs shows the namespace of whoever mounted it: the value can be read back only
	 * when that is ours (the e2e test checks it with `bridge -d link`). */
	if (read_hairpin("nltv0") < 0)
		SKIP_TEST("can't read hairpin_mode back: /sys belongs to another namespace");
	assert_int_equal(read_hairpin("nltv0"), 1);
	assert_ok(nl_link_set_hairpin(fx->nl, "nltv0", false, &err), &err);
	assert_int_equal(read_hairpin("nltv0"), 0);
}

/* Runs last: nothing any test made is left, and no fd leaked (a leaked namespace fd would
 * keep a namespace alive). */
static void test_nothing_left(void **state)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	_cleanup_free_ struct nl_link_info *links = NULL;
	struct fixture *fx = *state;
	size_t count = 0;

	REQUIRE_OWN_NETNS();
	assert_ok(nl_link_list(fx->nl, &links, &count, &err), &err);
	for (size_t i = 0; i < count; i++)
		printf("# left: %s (%s)\n", links[i].name, links[i].kind);
	assert_int_equal(count, 1);
	assert_string_equal(links[0].name, "lo");
}

static int fd_check_teardown(void **state)
{
	struct fixture *fx = *state;
	int before = fx->fds_before;

	teardown(state);
	if (count_fds() != before) {
		fprintf(stderr, "fds: %d before the test, %d after\n", before, count_fds());
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_ifname_valid),
	    cmocka_unit_test(test_sysctl_paths),
	    cmocka_unit_test_setup_teardown(test_bridge_create_idempotent, setup,
					    fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_name_taken, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_links, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_sysctl_live, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_in_netns, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_bridge_and_veth_into_netns, setup,
					    fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_set_mtu_mac, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_hairpin, setup, fd_check_teardown),
	    cmocka_unit_test_setup_teardown(test_nothing_left, setup, fd_check_teardown),
	};

	/* Before anything else, and before any thread exists: from here on this process's
	 * network is a namespace of its own, so the tests can't touch the host's. */
	if (geteuid() != 0)
		snprintf(netns_skip_reason, sizeof(netns_skip_reason),
			 "needs root to make a network namespace");
	else if (unshare(CLONE_NEWNET) < 0)
		snprintf(netns_skip_reason, sizeof(netns_skip_reason), "unshare(CLONE_NEWNET): %s",
			 strerror(errno));
	else
		in_own_netns = true;
	if (!in_own_netns)
		printf("# live tests skipped: %s\n", netns_skip_reason);

	return cmocka_run_group_tests(tests, NULL, NULL);
}
