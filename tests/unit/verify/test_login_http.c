/*
 * The login role over HTTP: GET /login/challenge and POST /login/response
 * as docs/LOGIN.md gives them, JSON both ways, the body cap, and a log-in
 * through the server from challenge to account.
 */
#include <curl/curl.h>
#include <jansson.h>

#include "ca/ca_fixture.h"
#include "jpki/http.h"

struct http_fixture {
	struct ca_fixture *f;
	struct jpki_http *srv;
	char base[64];
};

struct reply {
	long status;
	char type[64];
	char *body;
	size_t len;
};

static int setup(void **state)
{
	struct http_fixture *hf = calloc(1, sizeof(*hf));
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	void *ca_state = NULL;

	if (hf == NULL || fx_setup(&ca_state) != 0)
		return -1;
	hf->f = ca_state;
	opts.listen = "127.0.0.1:0";
	opts.roles = JPKI_ROLE_LOGIN;
	opts.threads = 2;
	opts.ca = hf->f->ca;
	if (jpki_http_start(&hf->srv, &opts) != 0) {
		fprintf(stderr, "server: %s\n", jpki_err_detail());
		return -1;
	}
	snprintf(hf->base, sizeof(hf->base), "http://127.0.0.1:%u/login",
		 jpki_http_port(hf->srv));
	*state = hf;
	return 0;
}

static int teardown(void **state)
{
	struct http_fixture *hf = *state;
	void *ca_state = hf->f;

	jpki_http_stop(hf->srv);
	fx_teardown(&ca_state);
	free(hf);
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	char *grown = realloc(r->body, r->len + size * n + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + r->len, p, size * n);
	r->body = grown;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

/* GET (body NULL) or POST of `len` bytes to base + path. */
static struct reply request(struct http_fixture *hf, const char *path,
			    const char *body, size_t len)
{
	struct reply r = {0};
	char url[128];
	char *type = NULL;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", hf->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
	snprintf(r.type, sizeof(r.type), "%s", type ? type : "");
	curl_easy_cleanup(c);
	return r;
}

static const char *field(json_t *j, const char *name)
{
	const char *v = json_string_value(json_object_get(j, name));

	assert_non_null(v);
	return v;
}

static char *b64(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static void test_login_over_http(void **state)
{
	struct http_fixture *hf = *state;
	struct jpki_cert_info *a = fx_issue(hf->f, JPKI_CERT_AUTH, "H1");
	struct reply r = request(hf, "/challenge", NULL, 0);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);
	char *text = NULL, *cert, *sig64, *answer;
	json_t *j = json_loads(r.body, 0, NULL), *ans;
	int n;

	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/json");
	assert_non_null(j);
	/* the origin comes from the CA's public URL, not the listening port */
	assert_string_equal(field(j, "origin"), "http://127.0.0.1:8080");
	assert_int_equal(strlen(field(j, "challenge")), 43);
	assert_string_equal(field(j, "expires"), "2026-01-10T01:02:00Z");

	n = asprintf(&text, "JPKI-LOGIN-1\nhttp://127.0.0.1:8080\n%s",
		     field(j, "challenge"));
	assert_int_equal(
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, hf->f->key),
		1);
	assert_int_equal(EVP_DigestSign(md, sig, &sig_len,
					(const unsigned char *)text, (size_t)n),
			 1);
	cert = b64(a->der, a->der_len);
	sig64 = b64(sig, sig_len);
	ans = json_pack("{s:s, s:s, s:s, s:s}", "challenge",
			field(j, "challenge"), "origin",
			"http://127.0.0.1:8080", "certificate", cert,
			"signature", sig64);
	answer = json_dumps(ans, 0);
	free(r.body);

	r = request(hf, "/response", answer, strlen(answer));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/json");
	json_decref(j);
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(field(j, "result"), "accepted");
	assert_string_equal(field(j, "serial"), a->serial);
	assert_int_equal(strlen(field(j, "account")), 32);
	free(r.body);

	/* the same answer again */
	r = request(hf, "/response", answer, strlen(answer));
	assert_int_equal(r.status, 401);
	json_decref(j);
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(field(j, "result"), "refused");
	assert_string_equal(field(j, "error"),
			    "the challenge was already used");
	free(r.body);

	json_decref(j);
	json_decref(ans);
	free(answer);
	free(cert);
	free(sig64);
	free(text);
	EVP_MD_CTX_free(md);
	jpki_cert_info_free(a);
}

static void test_refusals_over_http(void **state)
{
	struct http_fixture *hf = *state;
	size_t big_len = JPKI_MAX_LOGIN_ANSWER + 1;
	char *big = malloc(big_len);
	struct reply r;
	json_t *j;

	r = request(hf, "/response", "garbage", 7);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "application/json");
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(field(j, "result"), "refused");
	assert_non_null(strstr(field(j, "error"), "JSON"));
	json_decref(j);
	free(r.body);

	/* over the cap: refused without being kept */
	memset(big, ' ', big_len);
	r = request(hf, "/response", big, big_len);
	assert_int_equal(r.status, 400);
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(field(j, "error"),
			    "the answer is larger than 64 KiB");
	json_decref(j);
	free(r.body);

	/* the wrong methods, and the other roles are off */
	r = request(hf, "/response", NULL, 0);
	assert_int_equal(r.status, 405);
	free(r.body);
	r = request(hf, "/challenge", "{}", 2);
	assert_int_equal(r.status, 405);
	free(r.body);
	r = request(hf, "/../ca/auth.crt", NULL, 0);
	assert_int_equal(r.status, 404);
	free(r.body);
	free(big);
}

/* One address gets challenge_burst challenges, then 429 with Retry-After
 * until its bucket refills; the challenges it holds stay valid. */
static void test_challenge_rate_limit(void **state)
{
	struct http_fixture *hf = *state;
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	struct jpki_http *srv = NULL;
	char url[96];

	opts.listen = "127.0.0.1:0";
	opts.roles = JPKI_ROLE_LOGIN;
	opts.threads = 1;
	opts.ca = hf->f->ca;
	opts.challenge_burst = 3;
	opts.challenge_rate = 0.01; /* one more every 100 s */
	assert_int_equal(jpki_http_start(&srv, &opts), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/login/challenge",
		 jpki_http_port(srv));
	for (int i = 0; i < 5; i++) {
		CURL *c = curl_easy_init();
		long status = 0;
		curl_off_t retry = 0;

		assert_non_null(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		{
			struct reply r = {0};

			curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
			assert_int_equal(curl_easy_perform(c), CURLE_OK);
			if (i >= 3)
				assert_non_null(strstr(r.body,
						       "too many log-in"));
			free(r.body);
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry);
		curl_easy_cleanup(c);
		if (i < 3) {
			assert_int_equal(status, 200);
		} else {
			assert_int_equal(status, 429);
			assert_true(retry >= 1 && retry <= 100);
		}
	}
	jpki_http_stop(srv);
}

static void test_roles(void **state)
{
	unsigned roles = 0;

	assert_int_equal(jpki_http_roles_parse(&roles, "login"), 0);
	assert_int_equal(roles, JPKI_ROLE_LOGIN);
	assert_int_equal(jpki_http_roles_parse(&roles, "all"), 0);
	assert_true(roles & JPKI_ROLE_LOGIN);
	assert_int_equal(jpki_http_roles_parse(&roles, "ocsp,logon"),
			 JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "login"));
	(void)state;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_login_over_http),
		T(test_refusals_over_http),
		T(test_roles),
		T(test_challenge_rate_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
