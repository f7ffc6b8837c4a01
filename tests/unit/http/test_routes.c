/*
 * The route table over a real server (libcurl): every row answers a method
 * it does not take with 405 and its Allow header, a body past its cap with
 * 413, an unknown path with 404, and a caller it does not allow with 401 -
 * all from the table, for every row of every role.
 */
#include <curl/curl.h>

#include "ca/ca_fixture.h"
#include "http/http_internal.h"
#include "jpki/http.h"

struct answer {
	long status;
	char allow[64];
	char *body;
	size_t len;
};

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	char *grown = realloc(a->body, a->len + size * n + 1);

	assert_non_null(grown);
	memcpy(grown + a->len, p, size * n);
	a->len += size * n;
	grown[a->len] = '\0';
	a->body = grown;
	return size * n;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;

	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0) {
		size_t v = len - 7;

		while (v > 0 && (p[7 + v - 1] == '\r' || p[7 + v - 1] == '\n'))
			v--;
		if (v >= sizeof(a->allow))
			v = sizeof(a->allow) - 1;
		memcpy(a->allow, p + 7, v);
		a->allow[v] = '\0';
	}
	return len;
}

/* METHOD path with `body_len` bytes of body (0: none). */
static void call(struct answer *a, struct jpki_http *srv, const char *method,
		 const char *path, size_t body_len)
{
	char url[256];
	char *body = NULL;
	CURL *c = curl_easy_init();

	memset(a, 0, sizeof(*a));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", jpki_http_port(srv),
		 path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	if (body_len > 0) {
		assert_non_null(body = malloc(body_len));
		memset(body, 'x', body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_cleanup(c);
	free(body);
}

static void answer_free(struct answer *a)
{
	free(a->body);
	a->body = NULL;
}

/* METHOD path with `body_len` bytes answers `status` (nothing else read). */
static void expect_status(struct jpki_http *srv, const char *method,
			  const char *path, size_t body_len, long status)
{
	struct answer a;

	call(&a, srv, method, path, body_len);
	if (a.status != status)
		fail_msg("%s %s: %ld, not %ld", method, path, a.status, status);
	answer_free(&a);
}

static struct jpki_http *start(struct ca_fixture *f, unsigned roles)
{
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	struct jpki_http *srv = NULL;

	opts.listen = "127.0.0.1:0";
	opts.roles = roles;
	opts.threads = 2;
	opts.ca = f->ca;
	opts.store = f->st;
	assert_int_equal(jpki_http_start(&srv, &opts), 0);
	return srv;
}

/* A URL the row answers: its path, or below it for a prefix row. */
static void url_of(char *out, size_t size, const struct http_route *rt)
{
	size_t n = strlen(rt->path);

	snprintf(out, size, "%s%s", rt->path,
		 rt->prefix && rt->path[n - 1] == '/' ? "x" : "");
}

static void test_405_with_allow(void **state)
{
	struct ca_fixture *f = *state;
	/* oidc is not in "all": named, its rows are there (503 without a
	 * provider, after the table's own answers) */
	struct jpki_http *srv = start(f, JPKI_ROLE_ALL | JPKI_ROLE_OIDC);
	size_t n;
	const struct http_route *rt = http_route_table(&n);
	struct answer a;
	char url[128];

	assert_true(n > 30);
	for (size_t i = 0; i < n; i++) {
		const char *wrong = rt[i].methods == HTTP_GET    ? "POST"
				    : rt[i].methods == HTTP_POST ? "GET"
								 : "PUT";

		url_of(url, sizeof(url), &rt[i]);
		call(&a, srv, wrong, url, 0);
		if (a.status != 405)
			fail_msg("%s %s: %ld, not 405", wrong, url, a.status);
		assert_string_equal(a.allow, http_route_allow(&rt[i]));
		if (rt[i].flags & HTTP_JSON)
			assert_non_null(strstr(a.body, "\"error\""));
		answer_free(&a);
		/* negative: a method it takes is not refused so */
		call(&a, srv, (rt[i].methods & HTTP_GET) ? "GET" : "POST", url,
		     0);
		if (a.status == 405 || a.status == 0)
			fail_msg("%s: %ld for a method it takes", url,
				 a.status);
		answer_free(&a);
	}
	jpki_http_stop(srv);
}

static void test_413_per_row(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv = start(f, JPKI_ROLE_ALL | JPKI_ROLE_OIDC);
	size_t n;
	const struct http_route *rt = http_route_table(&n);
	struct answer a;
	char url[128];

	for (size_t i = 0; i < n; i++) {
		const char *m = (rt[i].methods & HTTP_POST) ? "POST" : "GET";

		if (rt[i].flags & HTTP_OWN_413)
			continue; /* its handler says so itself, below */
		url_of(url, sizeof(url), &rt[i]);
		call(&a, srv, m, url, rt[i].body_cap + 1);
		if (a.status != 413)
			fail_msg("%s %s with %zu bytes: %ld, not 413", m, url,
				 rt[i].body_cap + 1, a.status);
		answer_free(&a);
	}
	/* negative: a body at the cap passes the table (the OCSP
	 * responder answers it, malformed) */
	expect_status(srv, "POST", "/ocsp", JPKI_MAX_OCSP_REQUEST, 200);
	expect_status(srv, "POST", "/api/login", JPKI_MAX_LOGIN_ANSWER, 400);
	/* the log-in verifier's own verdict past its cap */
	call(&a, srv, "POST", "/login/response", JPKI_MAX_LOGIN_ANSWER + 1);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "64 KiB"));
	answer_free(&a);
	jpki_http_stop(srv);
}

static void test_404_and_roles(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv = start(f, JPKI_ROLE_ALL);
	struct answer a;

	expect_status(srv, "GET", "/nowhere", 0, 404);
	call(&a, srv, "POST", "/api/window/nothing", 2);
	assert_int_equal(a.status, 404);
	assert_non_null(strstr(a.body, "\"error\""));
	answer_free(&a);
	/* a prefix row takes only what is below it */
	expect_status(srv, "GET", "/ocspx", 0, 404);
	expect_status(srv, "GET", "/ca/sign.pem", 0, 200);
	jpki_http_stop(srv);

	/* the rows of roles not served are not there */
	srv = start(f, JPKI_ROLE_OCSP);
	expect_status(srv, "GET", "/", 0, 404);
	expect_status(srv, "GET", "/api/window/fees", 0, 404);
	expect_status(srv, "GET", "/ocsp/AA==", 0, 200);
	expect_status(srv, "GET", "/healthz", 0, 200);
	jpki_http_stop(srv);
}

static void test_callers(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv = start(f, JPKI_ROLE_ALL);
	size_t n;
	const struct http_route *rt = http_route_table(&n);
	struct answer a;
	char url[128];

	/* every row that needs an operator refuses a caller without one:
	 * JSON 401, or the log-in form of the pages */
	for (size_t i = 0; i < n; i++) {
		const char *m = (rt[i].methods & HTTP_GET) ? "GET" : "POST";

		if (rt[i].callers == HTTP_PUBLIC)
			continue;
		url_of(url, sizeof(url), &rt[i]);
		call(&a, srv, m, url, 0);
		if (rt[i].role == JPKI_ROLE_PORTAL) {
			/* no agency key in this fixture: 503 first */
			assert_int_equal(a.status, 503);
		} else if (rt[i].deny == NULL) {
			if (a.status != 401)
				fail_msg("%s %s: %ld, not 401", m, url,
					 a.status);
		} else if (a.status == 0 || a.body == NULL ||
			   strstr(a.body, "password") == NULL) {
			fail_msg("%s %s: no log-in form", m, url);
		}
		answer_free(&a);
	}
	/* negative: a public row answers without a session */
	expect_status(srv, "GET", "/login/challenge", 0, 200);
	jpki_http_stop(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_405_with_allow, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_413_per_row, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_404_and_roles, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_callers, fx_setup,
					    fx_teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
