/*
 * The OCSP responder's answers by request bytes (ocsp.c): a request
 * answered before, with nothing committed since, is answered again without
 * reading the store; a commit by another connection, a request with a
 * nonce, or half the answer's validity passed, and it is read and signed as
 * before. On SQLite the stamp is the WAL index's; on PostgreSQL the CA's
 * status counter (stamp.c), the one statement a repeat runs.
 */
#include <openssl/ocsp.h>

#include "ca_fixture.h"

static unsigned char *make_request(size_t *len, X509 *cert, X509 *issuer,
				   int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int l;

	OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), cert, issuer));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	l = i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req);
	*len = (size_t)l;
	return der;
}

/* The status of `cert` in the answer, and its thisUpdate. */
static int status_in(struct ca_fixture *f, const unsigned char *der,
		     size_t len, X509 *cert, time_t *this_update)
{
	X509 *issuer = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int status = -1, reason = -1;
	struct tm tm;

	assert_non_null(resp);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	assert_int_equal(OCSP_resp_find_status(bs, id, &status, &reason, &rev,
					       &thisupd, &nextupd),
			 1);
	assert_int_equal(ASN1_TIME_to_tm(thisupd, &tm), 1);
	*this_update = timegm(&tm);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return status;
}

static int skip_on_pg(void)
{
	if (tu_store_is_pg()) {
		fprintf(stderr, "# PostgreSQL: see "
				"test_pg_repeat_reads_only_the_counter\n");
		return 1;
	}
	return 0;
}

/* Answered again from memory: with every store call failing, the same
 * request still gets the same bytes; a request with a nonce does not. */
static void test_repeat_reads_nothing(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c;
	X509 *x, *issuer;
	unsigned char *req, *nreq, *d1 = NULL, *d2 = NULL;
	size_t len, nlen, l1 = 0, l2 = 0;

	if (skip_on_pg())
		return;
	c = fx_issue(f, JPKI_CERT_SIGN, "S1");
	x = fx_x509(c);
	issuer = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	req = make_request(&len, x, issuer, 0);
	nreq = make_request(&nlen, x, issuer, 1);
	assert_int_equal(jpki_ca_ocsp_respond(&d1, &l1, f->ca, req, len), 0);

	jpki_store_fail_after(f->st, 1);
	assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, f->ca, req, len), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	free(d2);
	d2 = NULL;
	/* a nonce makes it a new answer, read and signed */
	assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, f->ca, nreq, nlen),
			 JPKI_ERR_STORE);
	assert_null(d2);
	jpki_store_fail_after(f->st, 0);

	free(d1);
	OPENSSL_free(req);
	OPENSSL_free(nreq);
	X509_free(x);
	jpki_cert_info_free(c);
}

/* PostgreSQL: a repeat reads the status counter only. With ca_cert locked
 * by another transaction (ACCESS EXCLUSIVE: no reader gets through), the
 * same request is answered again, the same bytes; a request with a nonce
 * must read the status row and waits for it (here until the statement
 * timeout). */
static void test_pg_repeat_reads_only_the_counter(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c;
	struct jpki_store *st2 = NULL;
	X509 *x, *issuer;
	unsigned char *req, *nreq, *d1 = NULL, *d2 = NULL;
	size_t len, nlen, l1 = 0, l2 = 0;

	if (!tu_store_is_pg())
		return; /* test_repeat_reads_nothing */
	c = fx_issue(f, JPKI_CERT_SIGN, "S4");
	x = fx_x509(c);
	issuer = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	req = make_request(&len, x, issuer, 0);
	nreq = make_request(&nlen, x, issuer, 1);
	assert_int_equal(jpki_ca_ocsp_respond(&d1, &l1, f->ca, req, len), 0);

	assert_int_equal(jpki_store_exec(f->st, "SET statement_timeout = 2000",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(jpki_store_open(&st2, f->url), 0);
	assert_int_equal(jpki_store_begin(st2), 0);
	assert_int_equal(jpki_store_exec(st2,
					 "LOCK TABLE ca_cert IN ACCESS"
					 " EXCLUSIVE MODE",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, f->ca, req, len), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	free(d2);
	d2 = NULL;
	assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, f->ca, nreq, nlen),
			 JPKI_ERR_STORE);
	assert_null(d2);
	jpki_store_rollback(st2);
	jpki_store_free(st2);
	assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, f->ca, nreq, nlen), 0);
	free(d2);

	free(d1);
	OPENSSL_free(req);
	OPENSSL_free(nreq);
	X509_free(x);
	jpki_cert_info_free(c);
}

/* A revocation committed on another connection (as `jpki ca revoke` in
 * another process does) is answered at the next request, however often
 * the same request was answered before; so is a release. */
static void test_commit_elsewhere_is_seen(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "S2");
	X509 *x = fx_x509(c);
	struct jpki_store *st2 = NULL;
	struct jpki_ca *other = NULL;
	unsigned char *req, *d = NULL;
	size_t len, l = 0;
	time_t at;

	req = make_request(&len, x, jpki_ca_cert(f->ca, JPKI_CERT_SIGN), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(jpki_ca_ocsp_respond(&d, &l, f->ca, req, len),
				 0);
		assert_int_equal(status_in(f, d, l, x, &at),
				 V_OCSP_CERTSTATUS_GOOD);
		free(d);
	}
	assert_int_equal(jpki_store_open(&st2, f->url), 0);
	assert_int_equal(jpki_ca_open(&other, st2, NULL), 0);
	assert_int_equal(jpki_ca_hold(other, c->serial), 0);
	assert_int_equal(jpki_ca_ocsp_respond(&d, &l, f->ca, req, len), 0);
	assert_int_equal(status_in(f, d, l, x, &at),
			 V_OCSP_CERTSTATUS_REVOKED);
	free(d);
	assert_int_equal(jpki_ca_release(other, c->serial), 0);
	assert_int_equal(jpki_ca_ocsp_respond(&d, &l, f->ca, req, len), 0);
	assert_int_equal(status_in(f, d, l, x, &at), V_OCSP_CERTSTATUS_GOOD);
	free(d);
	jpki_ca_free(other);
	jpki_store_free(st2);
	OPENSSL_free(req);
	X509_free(x);
	jpki_cert_info_free(c);
}

/* An answer is not served past half its validity: a new one is signed. */
static void test_stale_answer_is_renewed(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "S3");
	X509 *x = fx_x509(c);
	unsigned char *req, *d = NULL;
	size_t len, l = 0;
	time_t first, later;

	req = make_request(&len, x, jpki_ca_cert(f->ca, JPKI_CERT_SIGN), 0);
	assert_int_equal(jpki_ca_ocsp_respond(&d, &l, f->ca, req, len), 0);
	assert_int_equal(status_in(f, d, l, x, &first),
			 V_OCSP_CERTSTATUS_GOOD);
	free(d);
	/* within half of the hour it is valid: the same answer */
	jpki_clock_freeze(first + 20 * 60);
	assert_int_equal(jpki_ca_ocsp_respond(&d, &l, f->ca, req, len), 0);
	assert_int_equal(status_in(f, d, l, x, &later),
			 V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(later, first);
	free(d);
	jpki_clock_freeze(first + 31 * 60); /* past it: signed anew */
	assert_int_equal(jpki_ca_ocsp_respond(&d, &l, f->ca, req, len), 0);
	assert_int_equal(status_in(f, d, l, x, &later),
			 V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(later, jpki_clock_now());
	free(d);
	OPENSSL_free(req);
	X509_free(x);
	jpki_cert_info_free(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_repeat_reads_nothing),
		T(test_pg_repeat_reads_only_the_counter),
		T(test_commit_elsewhere_is_seen),
		T(test_stale_answer_is_renewed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
