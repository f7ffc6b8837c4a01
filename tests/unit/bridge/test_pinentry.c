/*
 * The host's PIN prompt: a pinentry spoken to in Assuan (the test pinentry
 * tests/integration/bridge_pinentry.sh, which answers from files). The PIN
 * comes back unescaped; the description goes out escaped; a cancel, a
 * prompt that timed out, a missing program, a program that is no pinentry
 * and a PIN longer than the buffer are errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jpki/bridge.h"

#define PINENTRY JPKI_TEST_DATA "/../integration/bridge_pinentry.sh"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/jpki-pinentry-XXXXXX");
	assert_non_null(mkdtemp(dir));
	setenv("JPKI_TEST_PINENTRY_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_answer(void **state)
{
	char pin[32], log[256] = "", path[128];
	FILE *f;

	put("auth", "12%2534\n");
	assert_int_equal(jpki_bridge_pinentry(pin, sizeof(pin), PINENTRY,
					      "https://a.example asks\n100%",
					      "Authentication PIN:", NULL),
			 0);
	/* Assuan's %XX undone */
	assert_string_equal(pin, "12%34");
	snprintf(path, sizeof(path), "%s/log", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(log, sizeof(log), f));
	fclose(f);
	/* and done on what was sent */
	assert_string_equal(log, "https://a.example asks%0A100%25\n");
	put("sign", "ABC123\n");
	assert_int_equal(jpki_bridge_pinentry(pin, sizeof(pin), PINENTRY,
					      "d", "Signing PIN:", "wrong"),
			 0);
	assert_string_equal(pin, "ABC123");
}

static void test_refusals(void **state)
{
	char pin[32], small[4];

	put("auth", "cancel\n");
	assert_int_equal(jpki_bridge_pinentry(pin, sizeof(pin), PINENTRY, "d",
					      "Authentication PIN:", NULL),
			 JPKI_ERR_STATE);
	assert_string_equal(pin, "");
	assert_non_null(strstr(jpki_err_detail(), "cancelled"));
	put("auth", "timeout\n");
	assert_int_equal(jpki_bridge_pinentry(pin, sizeof(pin), PINENTRY, "d",
					      "Authentication PIN:", NULL),
			 JPKI_ERR_STATE);
	assert_int_equal(jpki_bridge_pinentry(pin, sizeof(pin),
					      "/nonexistent/pinentry", "d",
					      "Authentication PIN:", NULL),
			 JPKI_ERR_IO);
	assert_int_equal(jpki_bridge_pinentry(pin, sizeof(pin), "/bin/true",
					      "d", "Authentication PIN:", NULL),
			 JPKI_ERR_IO);
	put("auth", "123456\n");
	assert_int_equal(jpki_bridge_pinentry(small, sizeof(small), PINENTRY,
					      "d", "Authentication PIN:", NULL),
			 JPKI_ERR_IO);
	assert_string_equal(small, "");
}

static void test_confirm(void **state)
{
	put("confirm", "yes\n");
	assert_int_equal(jpki_bridge_confirm(PINENTRY, "read?"), 0);
	put("confirm", "no\n");
	assert_int_equal(jpki_bridge_confirm(PINENTRY, "read?"),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "did not allow"));
	assert_int_equal(jpki_bridge_confirm("/bin/true", "read?"),
			 JPKI_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answer),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_confirm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
