/*
 * The clerk's pages' CSRF token (src/http/csrf.c): 64 hex digits, the same
 * for one session for the life of the process, another for another
 * session, none without a session. The Origin and form checks over a real
 * browser: tests/browser/window_csrf.mjs; over curl: test_window_api.sh.
 */
#include <string.h>

#include "http/http_internal.h"
#include "testutil.h"

static void test_token(void **state)
{
	char a[HTTP_CSRF_LEN + 1], b[HTTP_CSRF_LEN + 1], c[HTTP_CSRF_LEN + 1];

	(void)state;
	assert_int_equal(http_csrf_token(a, "session-one"), 0);
	assert_int_equal(strlen(a), HTTP_CSRF_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), HTTP_CSRF_LEN);
	assert_int_equal(http_csrf_token(b, "session-one"), 0);
	assert_string_equal(a, b);
	assert_int_equal(http_csrf_token(c, "session-two"), 0);
	assert_string_not_equal(a, c);
	/* the token is not the session, nor readable from it without the
	 * process's key */
	assert_null(strstr(a, "session"));
}

static void test_no_session(void **state)
{
	char a[HTTP_CSRF_LEN + 1];

	(void)state;
	assert_int_equal(http_csrf_token(a, NULL), JPKI_ERR_CRYPTO);
	assert_string_equal(a, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_no_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
