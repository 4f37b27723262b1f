/* Unit tests of src/lib/publish.c (the -p syntax) and src/lib/ipnet.c (subnets
 * and the allocator's arithmetic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "ipnet.h"
#include "publish.h"

static void parse_ok(const char *text, const char *proto, const char *ip, unsigned host,
		     unsigned ctr, unsigned count)
{
	struct ct_error err = CT_ERROR_INIT;
	struct publish_spec p;

	if (publish_parse(text, &p, &err) < 0)
		fail_msg("-p %s: %s", text, ct_error_message(&err));
	assert_string_equal(p.proto, proto);
	assert_string_equal(p.host_ip, ip);
	assert_int_equal(p.host_port, host);
	assert_int_equal(p.container_port, ctr);
	assert_int_equal(p.count, count);
}

static void parse_bad(const char *text, const char *needle)
{
	struct ct_error err = CT_ERROR_INIT;
	struct publish_spec p;

	assert_int_equal(publish_parse(text, &p, &err), -1);
	assert_string_equal(err.code, CT_ERR_INVALID_ARGUMENT);
	if (!strstr(ct_error_message(&err), needle))
		fail_msg("-p %s: \"%s\" lacks \"%s\"", text, ct_error_message(&err), needle);
	ct_error_clear(&err);
}

static void test_publish_forms(void **state)
{
	parse_ok("80", "tcp", "", 0, 80, 1);
	parse_ok("8080:80", "tcp", "", 8080, 80, 1);
	parse_ok("0:80", "tcp", "", 0, 80, 1);
	parse_ok("127.0.0.1:8080:80/udp", "udp", "127.0.0.1", 8080, 80, 1);
	parse_ok("127.0.0.1::80", "tcp", "127.0.0.1", 0, 80, 1);
	parse_ok("0.0.0.0:53:53/udp", "udp", "", 53, 53, 1);
	parse_ok("[::1]:8080:80", "tcp", "::1", 8080, 80, 1);
	parse_ok("8000-8010:80-90", "tcp", "", 8000, 80, 11);
	parse_ok("53/udp", "udp", "", 0, 53, 1);
	parse_ok("65535:1", "tcp", "", 65535, 1, 1);
}

static void test_publish_refused(void **state)
{
	parse_bad("", "not a port number");
	parse_bad("80/sctp", "not supported");
	parse_bad("0", "out of range");
	parse_bad("70000:80", "out of range");
	parse_bad("8080:x", "not a port number");
	parse_bad("-1:80", "not a port number");
	parse_bad("8010-8000:80-90", "ends before it starts");
	parse_bad("8000-8010:80-85", "same length");
	parse_bad("8000-8010:80", "same length");
	parse_bad("80-90", "needs a host port range");
	parse_bad("300.1.1.1:80:80", "not an IPv4 address");
	parse_bad("[::1:80:80", "brackets");
	parse_bad("1:2:3:4", "too many");
	parse_bad("80:80 ", "not a port number");
}

static void test_publish_collides(void **state)
{
	struct publish_spec a, b;

	assert_int_equal(publish_parse("8000-8010:80-90", &a, NULL), 0);
	assert_int_equal(publish_parse("8010:80", &b, NULL), 0);
	assert_true(publish_collides(&a, &b));
	assert_int_equal(publish_parse("8011:80", &b, NULL), 0);
	assert_false(publish_collides(&a, &b));
	assert_int_equal(publish_parse("8005:80/udp", &b, NULL), 0);
	assert_false(publish_collides(&a, &b));
	assert_int_equal(publish_parse("127.0.0.1:8005:80", &b, NULL), 0);
	assert_true(publish_collides(&a, &b)); /* every address includes 127.0.0.1 */
	assert_int_equal(publish_parse("127.0.0.1:9000:80", &a, NULL), 0);
	assert_int_equal(publish_parse("127.0.0.2:9000:80", &b, NULL), 0);
	assert_false(publish_collides(&a, &b));
	assert_int_equal(publish_parse("80", &a, NULL), 0);
	assert_int_equal(publish_parse("80", &b, NULL), 0);
	assert_false(publish_collides(&a, &b)); /* two free ports */
}

static void test_ipnet(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	struct ipnet a, b;
	char buf[IPNET_STRLEN], addr[16];

	assert_int_equal(ipnet_parse("10.89.0.0/24", &a, &err), 0);
	ipnet_format(&a, buf);
	assert_string_equal(buf, "10.89.0.0/24");
	assert_int_equal(ipnet_host_count(&a), 254);
	ipnet_format_addr(ipnet_gateway(&a), addr);
	assert_string_equal(addr, "10.89.0.1");
	assert_int_equal(ipnet_parse("10.89.0.0/16", &b, &err), 0);
	assert_true(ipnet_overlaps(&a, &b));
	assert_int_equal(ipnet_parse("10.90.0.0/24", &b, &err), 0);
	assert_false(ipnet_overlaps(&a, &b));
	uint32_t x;
	assert_int_equal(ipnet_parse_addr("10.89.0.77", &x, &err), 0);
	assert_true(ipnet_contains(&a, x));
	assert_false(ipnet_contains(&b, x));

	assert_int_equal(ipnet_parse("10.89.0.5/24", &a, &err), -1);
	assert_non_null(strstr(ct_error_message(&err), "did you mean 10.89.0.0/24"));
	ct_error_clear(&err);
	const char *bad[] = {"10.89.0.0", "10.89.0.0/31", "10.0.0.0/7", "10.89.0.0/x",
			     "10.89.0.0/-1", "fd00::/64", "10.89.0/24", "10.89.0.0/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ipnet_parse(bad[i], &a, &err) != -1)
			fail_msg("%s was accepted", bad[i]);
		assert_string_equal(err.code, CT_ERR_INVALID_ARGUMENT);
		ct_error_clear(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_forms),
		cmocka_unit_test(test_publish_refused),
		cmocka_unit_test(test_publish_collides),
		cmocka_unit_test(test_ipnet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
