/* Helpers shared by the OCI unit tests. */
#ifndef CONTAINER_TESTS_OCI_TEST_H
#define CONTAINER_TESTS_OCI_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

#define HEX64_A	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX64_B	 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX64_C	 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEX64_D	 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define HEX64_E	 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define HEX64_F	 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define HEX64_0	 "0000000000000000000000000000000000000000000000000000000000000000"
#define HEX64_1	 "1111111111111111111111111111111111111111111111111111111111111111"
#define DIGEST_A "sha256:" HEX64_A
#define DIGEST_B "sha256:" HEX64_B
#define DIGEST_C "sha256:" HEX64_C
#define DIGEST_D "sha256:" HEX64_D
#define DIGEST_E "sha256:" HEX64_E
#define DIGEST_F "sha256:" HEX64_F
#define DIGEST_0 "sha256:" HEX64_0
#define DIGEST_1 "sha256:" HEX64_1

/* Fails the test unless rc is -1 and err carries code and a message containing needle;
 * prints the message so a reader of the TAP output sees what users would. */
static inline void assert_failure(int rc, struct ct_error *err, const char *code,
				  const char *needle)
{
	const char *message = ct_error_message(err);

	assert_int_equal(rc, -1);
	if (!strstr(message, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
	if (strcmp(err->code, code) != 0)
		fail_msg("code \"%s\" (message \"%s\"), expected \"%s\"", err->code, message, code);
}

/* JSON fixtures are written with ' for " so they stay readable in C; swap them back. */
static inline char *json_fixture(const char *text)
{
	char *s = strdup(text);

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

/* Table-driven tests run one cmocka test per row, so the TAP output names the row that
 * failed and the count says how many cases ran. */
struct test_list {
	struct CMUnitTest *tests;
	size_t n;
};

__attribute__((format(printf, 4, 5))) static inline void test_list_add(struct test_list *list,
								       CMUnitTestFunction func,
								       const void *state,
								       const char *fmt, ...)
{
	struct CMUnitTest *grown;
	char *name = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&name, fmt, ap) >= 0);
	va_end(ap);
	grown = realloc(list->tests, (list->n + 1) * sizeof(*grown));
	assert_non_null(grown);
	list->tests = grown;
	list->tests[list->n++] = (struct CMUnitTest){
	    .name = name,
	    .test_func = func,
	    .initial_state = (void *)state,
	};
}

static inline int test_list_run(struct test_list *list, const char *group)
{
	int failed = _cmocka_run_group_tests(group, list->tests, list->n, NULL, NULL);

	for (size_t i = 0; i < list->n; i++)
		free((char *)list->tests[i].name);
	free(list->tests);
	return failed;
}

#endif
