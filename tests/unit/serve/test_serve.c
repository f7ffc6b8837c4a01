/* The server process: which role runs which periodic work, and that an
 * OCSP responder writes nothing while it serves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ocsp.h>

#include "ca/ca_fixture.h"
#include "jpki/registry.h"
#include "jpki/serve.h"
#include "jpki/window.h"

static const struct jpki_actor chiyoda = {
    .operator_id = "chiyoda",
    .role = JPKI_ROLE_REGISTRY_CLERK,
    .municipality_code = "131016",
};

/* The fixture's CA, a registered resident with a signing certificate. */
struct sfx {
	struct ca_fixture *f;
	char person[64];
	X509 *cert;
};

static int setup(void **state)
{
	struct sfx *s = calloc(1, sizeof(*s));
	struct jpki_resident r = fx_resident();
	struct jpki_cert_info *info;

	if (s == NULL || fx_setup((void **)&s->f) != 0)
		return -1;
	if (jpki_window_migrate(s->f->st) != 0 ||
	    jpki_registry_register(s->person, s->f->st, &chiyoda, &r) != 0)
		return -1;
	info = fx_issue(s->f, JPKI_CERT_SIGN, s->person);
	s->cert = fx_x509(info);
	jpki_cert_info_free(info);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct sfx *s = *state;
	void *f = s->f;

	X509_free(s->cert);
	fx_teardown(&f);
	free(s);
	return 0;
}

static struct jpki_serve *start(struct sfx *s, unsigned roles,
				const char *issuer_key)
{
	struct jpki_serve_options o = JPKI_SERVE_OPTIONS_INIT;
	struct jpki_serve *sv = NULL;

	o.store_url = s->f->url;
	o.roles = roles;
	o.listen = "127.0.0.1:0";
	o.threads = 2;
	o.tick_ms = 50;
	o.card_issuer_key = issuer_key;
	if (jpki_serve_start(&sv, &o) != 0)
		fprintf(stderr, "serve: %s\n", jpki_err_detail());
	assert_non_null(sv);
	return sv;
}

static size_t keep(void *p, size_t size, size_t n, void *arg)
{
	size_t len = size * n, *have = arg;
	unsigned char *buf = (unsigned char *)(have + 1);

	if (*have + len > 8192)
		return 0;
	memcpy(buf + *have, p, len);
	*have += len;
	return len;
}

/* The certificate's status as the server's OCSP role answers it over
 * HTTP. */
static int ocsp_status(struct jpki_serve *sv, struct sfx *s)
{
	X509 *issuer = jpki_ca_cert(jpki_serve_ca(sv), JPKI_CERT_SIGN);
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), s->cert, issuer);
	struct {
		size_t have;
		unsigned char buf[8192];
	} body = {0};
	unsigned char *der = NULL;
	const unsigned char *p;
	struct curl_slist *h = NULL;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	char url[64];
	long code = 0;
	int len, status = -1, reason;
	CURL *c = curl_easy_init();

	OCSP_request_add0_id(req, OCSP_CERTID_dup(id));
	len = i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ocsp/sign",
		 jpki_serve_port(sv));
	h = curl_slist_append(h, "Content-Type: application/ocsp-request");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, der);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 200);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	OPENSSL_free(der);
	p = body.buf;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)body.have);
	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp),
			 OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(
	    OCSP_resp_find_status(bs, id, &status, &reason, NULL, NULL, NULL),
	    1);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(id);
	return status;
}

static int64_t cursor(struct sfx *s)
{
	return fx_count(s->f, "SELECT COALESCE(MAX(seq), 0) FROM"
			      " ca_registry_cursor");
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* An OCSP-only server serves for a second with a registry event waiting:
 * it runs no consumer (the event stays unapplied, the certificate good)
 * and its store sees not one write transaction. */
static void test_ocsp_role_writes_nothing(void **state)
{
	struct sfx *s = *state;
	struct jpki_serve *sv = start(s, JPKI_ROLE_OCSP, NULL);
	uint64_t writes = jpki_store_writes(jpki_serve_store(sv));
	uint64_t ticks = jpki_serve_ticks(sv);
	double t0 = now_s();
	int answers = 0;

	/* made by another handle, as the CLI would */
	assert_int_equal(jpki_registry_death(s->f->st, &chiyoda, s->person), 0);
	while (now_s() - t0 < 1.0) {
		assert_int_equal(ocsp_status(sv, s), V_OCSP_CERTSTATUS_GOOD);
		answers++;
	}
	assert_true(answers >= 3);
	assert_true(jpki_serve_ticks(sv) - ticks >= 5);
	assert_int_equal(jpki_store_writes(jpki_serve_store(sv)), writes);
	assert_int_equal(cursor(s), 0);
	jpki_serve_stop(sv);
}

/* The negative: the window role does run the consumer, and writes only
 * when there is an event (idle ticks are reads). */
static void test_window_role_consumes(void **state)
{
	struct sfx *s = *state;
	struct jpki_serve *sv =
	    start(s, JPKI_ROLE_WINDOW | JPKI_ROLE_OCSP, NULL);
	struct jpki_store *st = jpki_serve_store(sv);
	uint64_t writes = jpki_store_writes(st), ticks = jpki_serve_ticks(sv);
	double t0;

	while (jpki_serve_ticks(sv) - ticks < 10)
		usleep(20 * 1000);
	assert_int_equal(jpki_store_writes(st), writes);
	assert_int_equal(ocsp_status(sv, s), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(jpki_registry_death(s->f->st, &chiyoda, s->person), 0);
	for (t0 = now_s(); cursor(s) == 0 && now_s() - t0 < 5.0;)
		usleep(20 * 1000);
	assert_int_equal(cursor(s), 1);
	assert_true(jpki_store_writes(st) > writes);
	assert_int_equal(ocsp_status(sv, s), V_OCSP_CERTSTATUS_REVOKED);
	jpki_serve_stop(sv);
}

/* A card-issuer key made after start (jpki card new) reaches the window
 * without a restart; before it is made the window has none. */
static void test_card_issuer_key_after_start(void **state)
{
	struct sfx *s = *state;
	char *path = NULL;
	struct jpki_serve *sv;
	EVP_PKEY *key = NULL;
	double t0;

	assert_true(asprintf(&path, "%s/keys/card-issuer.key", s->f->dir) > 0);
	sv = start(s, JPKI_ROLE_WINDOW, path);
	usleep(300 * 1000);
	assert_int_equal(jpki_serve_has_card_issuer(sv), 0);
	assert_int_equal(jpki_window_issuer_key(&key, path, 1), 0);
	for (t0 = now_s();
	     !jpki_serve_has_card_issuer(sv) && now_s() - t0 < 5.0;)
		usleep(20 * 1000);
	assert_int_equal(jpki_serve_has_card_issuer(sv), 1);
	jpki_serve_stop(sv);
	/* and a server started with the key has it at once */
	sv = start(s, JPKI_ROLE_WINDOW, path);
	assert_int_equal(jpki_serve_has_card_issuer(sv), 1);
	jpki_serve_stop(sv);
	/* a role without the window looks for no key */
	sv = start(s, JPKI_ROLE_OCSP, path);
	assert_int_equal(jpki_serve_has_card_issuer(sv), 0);
	jpki_serve_stop(sv);
	EVP_PKEY_free(key);
	free(path);
}

static int64_t heartbeat_mark(struct sfx *s)
{
	return fx_count(s->f, "SELECT COALESCE(MAX(mark), -1)"
			      " FROM jpki_heartbeat");
}

/* With a read store (here the same database read through a read store) the
 * server beats: its row on the primary moves on every max_lag_ms / 5, on a
 * connection of its own (the server's store still sees no write), the CA
 * reads within the bound and answers good; the row goes at stop. A read
 * store that cannot be opened stops the start. */
static void test_read_store_heartbeat(void **state)
{
	struct sfx *s = *state;
	struct jpki_serve_options o = JPKI_SERVE_OPTIONS_INIT;
	struct jpki_serve *sv = NULL;
	uint64_t writes;
	int64_t lag = -1, m1, m2;

	o.store_url = s->f->url;
	o.read_store_url = s->f->url;
	o.max_lag_ms = 500;
	o.roles = JPKI_ROLE_OCSP;
	o.listen = "127.0.0.1:0";
	o.threads = 2;
	if (jpki_serve_start(&sv, &o) != 0)
		fprintf(stderr, "serve: %s\n", jpki_err_detail());
	assert_non_null(sv);
	writes = jpki_store_writes(jpki_serve_store(sv));
	assert_int_equal(jpki_ca_read_lag(&lag, jpki_serve_ca(sv)), 0);
	assert_true(lag >= 0 && lag < 500);
	assert_int_equal(ocsp_status(sv, s), V_OCSP_CERTSTATUS_GOOD);
	m1 = heartbeat_mark(s);
	usleep(350 * 1000);
	m2 = heartbeat_mark(s);
	assert_true(m1 > 0 && m2 >= m1 + 100);
	assert_int_equal(jpki_ca_read_lag(&lag, jpki_serve_ca(sv)), 0);
	assert_int_equal(jpki_store_writes(jpki_serve_store(sv)), writes);
	jpki_serve_stop(sv);
	assert_int_equal(fx_count(s->f, "SELECT COUNT(*) FROM jpki_heartbeat"),
			 0);

	sv = (void *)1;
	o.read_store_url = "sqlite:/nonexistent-dir/x/y.db";
	assert_int_not_equal(jpki_serve_start(&sv, &o), 0);
	assert_null(sv);
}

/* Bad options are refused before anything opens. */
static void test_bad_options(void **state)
{
	struct jpki_serve_options o = JPKI_SERVE_OPTIONS_INIT;
	struct jpki_serve *sv = (void *)1;

	(void)state;
	assert_int_equal(jpki_serve_start(&sv, &o), JPKI_ERR_INVALID);
	assert_null(sv);
	o.store_url = "sqlite::memory:";
	o.version = JPKI_SERVE_OPTIONS_VERSION + 1;
	assert_int_equal(jpki_serve_start(&sv, &o), JPKI_ERR_INVALID);
	assert_null(sv);
	o.version = JPKI_SERVE_OPTIONS_VERSION;
	o.store_url = "sqlite:/nonexistent-dir/x/y.db";
	assert_int_not_equal(jpki_serve_start(&sv, &o), 0);
	assert_null(sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ocsp_role_writes_nothing,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_window_role_consumes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_card_issuer_key_after_start,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_store_heartbeat, setup,
					    teardown),
	    cmocka_unit_test(test_bad_options),
	};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
