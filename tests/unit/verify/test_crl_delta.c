/*
 * The verifier's CRL path with delta CRLs (RFC 5280 5.2.4): a CA with
 * crl_delta whose repository is served in-process on the port written into
 * its certificates (no OCSP role: the CRLs answer), and
 * jpki_verify_revocation asked about one signing certificate.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ca/ca_fixture.h"
#include "jpki/http.h"
#include "jpki/verify.h"

struct delta_fixture {
	struct ca_fixture f; /* dir, st, ca, key */
	struct jpki_http *srv;
	struct jpki_verify_crl_cache *cache;
	X509 *cert;
	char serial[41];
};

static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &n) != 0) {
		if (s >= 0)
			close(s);
		return 0;
	}
	close(s);
	return ntohs(a.sin_port);
}

static int setup(void **state)
{
	struct delta_fixture *d = calloc(1, sizeof(*d));
	struct jpki_ca_init_options init = JPKI_CA_INIT_OPTIONS_INIT;
	struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_http_options http = JPKI_HTTP_OPTIONS_INIT;
	struct jpki_cert_info *info;
	char *keys = NULL, url[64], listen[32];
	uint16_t port = free_port();
	const unsigned char *p;

	fx_at("2026-01-10");
	if (d == NULL || port == 0 || (d->f.dir = tu_tmpdir()) == NULL ||
	    (d->f.url = tu_store_url(d->f.dir)) == NULL ||
	    asprintf(&keys, "%s/keys", d->f.dir) < 0)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	init.key_dir = keys;
	init.public_url = url;
	opts.crl_delta = 1;
	if (jpki_store_open(&d->f.st, d->f.url) != 0 ||
	    jpki_ca_init(d->f.st, &init) != 0 ||
	    jpki_ca_open(&d->f.ca, d->f.st, &opts) != 0) {
		fprintf(stderr, "CA: %s\n", jpki_err_detail());
		return -1;
	}
	free(keys);
	http.listen = listen;
	http.roles = JPKI_ROLE_REPOSITORY;
	http.threads = 2;
	http.ca = d->f.ca;
	if (jpki_http_start(&d->srv, &http) != 0 ||
	    jpki_verify_crl_cache_new(&d->cache) != 0)
		return -1;
	d->f.key = tu_rsa_key(2048);
	info = fx_issue(&d->f, JPKI_CERT_SIGN, "V1");
	memcpy(d->serial, info->serial, sizeof(d->serial));
	p = info->der;
	d->cert = d2i_X509(NULL, &p, (long)info->der_len);
	jpki_cert_info_free(info);
	*state = d;
	return d->cert != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	struct delta_fixture *d = *state;

	jpki_http_stop(d->srv);
	jpki_verify_crl_cache_free(d->cache);
	X509_free(d->cert);
	jpki_ca_free(d->f.ca);
	tu_store_close(d->f.st, d->f.url, d->f.dir);
	EVP_PKEY_free(d->f.key);
	free(d);
	jpki_clock_reset();
	return 0;
}

static void later(int seconds)
{
	jpki_clock_freeze(jpki_clock_now() + seconds);
}

/* The full CRLs (naming their deltas) and the deltas, as jpki serve's
 * tick and its periodic refresh would make them. */
static void full_and_deltas(struct delta_fixture *d)
{
	size_t n;

	assert_int_equal(jpki_ca_crl_refresh(d->f.ca, 1, &n), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(d->f.ca, &n), 0);
}

static void deltas(struct delta_fixture *d)
{
	size_t n;

	assert_int_equal(jpki_ca_crl_delta_refresh(d->f.ca, &n), 0);
}

static enum jpki_verify_status ask(struct delta_fixture *d,
				   struct jpki_verify_revocation *rv)
{
	struct jpki_verify_options o = JPKI_VERIFY_OPTIONS_INIT;
	X509 *issuer = jpki_ca_cert(d->f.ca, JPKI_CERT_SIGN);

	o.crl_cache = d->cache;
	o.timeout_ms = 3000;
	o.keep_evidence = 1;
	int r = jpki_verify_revocation(rv, &o, d->cert, issuer);

	/* 0 answered, 1 not (the status unknown, rv->detail says why) */
	assert_true(r == 0 || (r == 1 && rv->status == JPKI_VERIFY_UNKNOWN));
	return rv->status;
}

/* The full CRL is kept in the cache; the delta is read every time, so a
 * revocation after the full CRL is seen at once. */
static void test_revoked_by_the_delta(void **state)
{
	struct delta_fixture *d = *state;
	struct jpki_verify_revocation rv;

	later(600);
	full_and_deltas(d);
	assert_int_equal(ask(d, &rv), JPKI_VERIFY_GOOD);
	assert_string_equal(rv.source, "crl");
	assert_int_equal(jpki_verify_crl_cache_count(d->cache), 1);
	jpki_verify_revocation_clear(&rv);

	later(10);
	assert_int_equal(
	    jpki_ca_revoke(d->f.ca, d->serial, JPKI_REASON_AFFILIATION_CHANGED),
	    0);
	deltas(d);
	assert_int_equal(ask(d, &rv), JPKI_VERIFY_REVOKED);
	assert_string_equal(rv.source, "crl");
	assert_int_equal(rv.reason, JPKI_REASON_AFFILIATION_CHANGED);
	/* the evidence is the delta's: the CRL after the full one */
	assert_string_equal(rv.crl_number, "4");
	jpki_verify_revocation_clear(&rv);

	/* a new full CRL and a delta against it: the cached full CRL is
	 * older than the delta's base, and is fetched again */
	later(600);
	full_and_deltas(d);
	assert_int_equal(ask(d, &rv), JPKI_VERIFY_REVOKED);
	assert_int_equal(rv.reason, JPKI_REASON_AFFILIATION_CHANGED);
	jpki_verify_revocation_clear(&rv);
}

/* A hold released after the full CRL: the delta's removeFromCRL wins. */
static void test_release_in_the_delta(void **state)
{
	struct delta_fixture *d = *state;
	struct jpki_verify_revocation rv;

	assert_int_equal(jpki_ca_hold(d->f.ca, d->serial), 0);
	later(600);
	full_and_deltas(d);
	assert_int_equal(ask(d, &rv), JPKI_VERIFY_REVOKED);
	assert_int_equal(rv.reason, JPKI_REASON_CERTIFICATE_HOLD);
	jpki_verify_revocation_clear(&rv);

	later(600);
	assert_int_equal(jpki_ca_release(d->f.ca, d->serial), 0);
	deltas(d);
	assert_int_equal(ask(d, &rv), JPKI_VERIFY_GOOD);
	assert_int_equal(rv.reason, -1);
	jpki_verify_revocation_clear(&rv);
}

/* The full CRL names a delta that is not there: no answer from the CRL
 * (it may be a period old), and a sentence that says so. */
static void test_missing_delta(void **state)
{
	struct delta_fixture *d = *state;
	struct jpki_verify_revocation rv;
	size_t n;

	later(600);
	assert_int_equal(jpki_ca_crl_refresh(d->f.ca, 1, &n), 0);
	assert_int_equal(
	    jpki_store_exec(d->f.st, "DELETE FROM ca_crl_delta", NULL, 0, NULL),
	    0);
	assert_int_equal(ask(d, &rv), JPKI_VERIFY_UNKNOWN);
	assert_non_null(strstr(rv.detail, "its delta CRL"));
	assert_non_null(strstr(rv.detail, ".delta.crl"));
	jpki_verify_revocation_clear(&rv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_revoked_by_the_delta, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_release_in_the_delta, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_delta, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
