/*
 * Reading from a replica (src/ca/replica.c): the OCSP answers and the CRLs
 * read a read store beside a heartbeat row, and past the bound answer only
 * what is final. The "replica" here is a read store on the fixture's own
 * database (SQLite, or PostgreSQL with JPKI_TEST_PG); lag is made by
 * setting the heartbeat's mark back, as a replica that stopped replaying
 * would keep it.
 */
#include <openssl/cms.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "jpki/audit.h"

#include "ca_fixture.h"

struct replica {
	struct ca_fixture *f;
	struct jpki_store *rd;
};

static int setup(void **state)
{
	struct replica *r = calloc(1, sizeof(*r));

	if (r == NULL || fx_setup(state) != 0)
		return -1;
	r->f = *state;
	if (jpki_store_open_read(&r->rd, r->f->url) != 0 ||
	    jpki_store_heartbeat(r->f->st, "test") != 0 ||
	    jpki_ca_read_from(r->f->ca, r->rd, "test", 1000) != 0) {
		fprintf(stderr, "replica: %s\n", jpki_err_detail());
		return -1;
	}
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct replica *r = *state;

	/* the CA borrowed the read store: it goes first */
	jpki_ca_free(r->f->ca);
	r->f->ca = NULL;
	jpki_store_free(r->rd);
	*state = r->f;
	fx_teardown(state);
	free(r);
	return 0;
}

/* The heartbeat's mark, `ms` in the past, as a replica that stopped
 * replaying that long ago holds it. */
static void lag_by(struct replica *r, int64_t ms)
{
	struct jpki_value p[] = {JPKI_V_INT(jpki_store_mark_now() - ms),
				 JPKI_V_TEXT("test")};

	assert_int_equal(jpki_store_exec(r->f->st,
					 "UPDATE jpki_heartbeat SET mark = $1"
					 " WHERE id = $2",
					 p, 2, NULL),
			 0);
}

/* The response status, and the certificate's status when successful
 * (-1 otherwise), with its reason. */
static int ask(struct replica *r, X509 *cert, int *status, int *reason)
{
	X509 *issuer = jpki_ca_cert(r->f->ca, JPKI_CERT_SIGN);
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
	unsigned char *der = NULL, *resp_der = NULL;
	const unsigned char *p;
	size_t len = 0;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	int n, rs;

	OCSP_request_add0_id(req, OCSP_CERTID_dup(id));
	n = i2d_OCSP_REQUEST(req, &der);
	assert_true(n > 0);
	assert_int_equal(
	    jpki_ca_ocsp_respond(&resp_der, &len, r->f->ca, der, (size_t)n), 0);
	p = resp_der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	assert_non_null(resp);
	rs = OCSP_response_status(resp);
	*status = -1;
	*reason = -1;
	if (rs == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		assert_non_null(bs = OCSP_response_get1_basic(resp));
		assert_int_equal(OCSP_resp_find_status(bs, id, status, reason,
						       NULL, NULL, NULL),
				 1);
		OCSP_BASICRESP_free(bs);
	}
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	free(resp_der);
	return rs;
}

static void test_fresh_answers_stale_refuses(void **state)
{
	struct replica *r = *state;
	struct jpki_cert_info *good = fx_issue(r->f, JPKI_CERT_SIGN, "R1");
	struct jpki_cert_info *rev = fx_issue(r->f, JPKI_CERT_SIGN, "R2");
	struct jpki_cert_info *held = fx_issue(r->f, JPKI_CERT_SIGN, "R3");
	X509 *xg = fx_x509(good), *xr = fx_x509(rev), *xh = fx_x509(held);
	unsigned char *crl = NULL;
	size_t crl_len = 0;
	int64_t lag = -1;
	int s, why;

	assert_int_equal(
	    jpki_ca_revoke(r->f->ca, rev->serial, JPKI_REASON_KEY_COMPROMISE),
	    0);
	assert_int_equal(jpki_ca_hold(r->f->ca, held->serial), 0);

	/* within the bound: every answer, and the CRL */
	assert_int_equal(jpki_ca_read_lag(&lag, r->f->ca), 0);
	assert_true(lag >= 0 && lag < 1000);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(ask(r, xh, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(why, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	assert_int_equal(jpki_ca_crl_get(&crl, &crl_len, r->f->ca, "sign"), 0);
	free(crl);
	crl = NULL;

	/* past it: no good (the cached answer neither), no hold (it may have
	 * been released), no CRL; a revocation is final and still answered */
	lag_by(r, 1500);
	assert_int_equal(jpki_ca_read_lag(&lag, r->f->ca), JPKI_ERR_STATE);
	assert_true(lag >= 1500);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_TRYLATER);
	assert_int_equal(ask(r, xh, &s, &why), OCSP_RESPONSE_STATUS_TRYLATER);
	assert_int_equal(ask(r, xr, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(why, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(jpki_ca_crl_get(&crl, &crl_len, r->f->ca, "sign"),
			 JPKI_ERR_STATE);
	assert_null(crl);

	/* the next heartbeat: good again */
	assert_int_equal(jpki_store_heartbeat(r->f->st, "test"), 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_GOOD);

	X509_free(xg);
	X509_free(xr);
	X509_free(xh);
	jpki_cert_info_free(good);
	jpki_cert_info_free(rev);
	jpki_cert_info_free(held);
}

/* A replica without this process's heartbeat row holds data of unknown
 * age: nothing but revocations, as past the bound. */
static void test_no_heartbeat_row(void **state)
{
	struct replica *r = *state;
	struct jpki_cert_info *good = fx_issue(r->f, JPKI_CERT_SIGN, "R4");
	X509 *xg = fx_x509(good);
	int64_t lag = 0;
	int s, why;

	assert_int_equal(jpki_ca_read_from(r->f->ca, r->rd, "another", 1000),
			 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_TRYLATER);
	assert_int_equal(jpki_ca_read_lag(&lag, r->f->ca), JPKI_ERR_STATE);
	/* back to the CA's own store: no bound, good */
	assert_int_equal(jpki_ca_read_from(r->f->ca, NULL, NULL, 0), 0);
	assert_int_equal(jpki_ca_read_lag(&lag, r->f->ca), 0);
	assert_int_equal(lag, 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_GOOD);
	X509_free(xg);
	jpki_cert_info_free(good);
}

/* PostgreSQL: answers are kept on a replica too while it is within the
 * bound: with ca_cert locked by another transaction (no reader gets
 * through), a request answered before is answered again (only the status
 * counter and the heartbeat are read); a hold is seen at the next request.
 * A standby that has not replayed the counter's table (migration 9) yet is
 * read as before. */
static void test_pg_kept_on_replica(void **state)
{
	struct replica *r = *state;
	struct jpki_cert_info *good;
	struct jpki_store *rd2 = NULL, *locker = NULL;
	char *url = NULL;
	X509 *xg;
	int s, why;

	if (!tu_store_is_pg())
		return;
	good = fx_issue(r->f, JPKI_CERT_SIGN, "R5");
	xg = fx_x509(good);
	/* a replica whose statements give up after 2 s, rather than wait
	 * for the lock below for ever */
	assert_true(asprintf(&url, "%s%coptions=-c%%20statement_timeout%%3D2000",
			     r->f->url,
			     strchr(r->f->url, '?') != NULL ? '&' : '?') > 0);
	assert_int_equal(jpki_store_open_read(&rd2, url), 0);
	assert_int_equal(jpki_ca_read_from(r->f->ca, rd2, "test", 1000), 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_GOOD);

	assert_int_equal(jpki_store_open(&locker, r->f->url), 0);
	assert_int_equal(jpki_store_begin(locker), 0);
	assert_int_equal(jpki_store_exec(locker,
					 "LOCK TABLE ca_cert IN ACCESS"
					 " EXCLUSIVE MODE",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(jpki_store_heartbeat(r->f->st, "test"), 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_GOOD);
	jpki_store_rollback(locker);

	assert_int_equal(jpki_ca_hold(r->f->ca, good->serial), 0);
	assert_int_equal(jpki_store_heartbeat(r->f->st, "test"), 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_REVOKED);

	/* no counter table on the "standby": the status alone */
	assert_int_equal(jpki_store_exec(locker,
					 "ALTER TABLE ca_status_stamp"
					 " RENAME TO ca_status_stamp_gone",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(jpki_store_heartbeat(r->f->st, "test"), 0);
	assert_int_equal(ask(r, xg, &s, &why), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(s, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(jpki_store_exec(locker,
					 "ALTER TABLE ca_status_stamp_gone"
					 " RENAME TO ca_status_stamp",
					 NULL, 0, NULL),
			 0);

	assert_int_equal(jpki_ca_read_from(r->f->ca, r->rd, "test", 1000), 0);
	jpki_store_free(locker);
	jpki_store_free(rd2);
	free(url);
	X509_free(xg);
	jpki_cert_info_free(good);
}

static void test_read_from_refuses_bad_arguments(void **state)
{
	struct replica *r = *state;

	assert_int_equal(jpki_ca_read_from(r->f->ca, r->rd, NULL, 1000),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_read_from(r->f->ca, r->rd, "", 1000),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_read_from(r->f->ca, r->rd, "test", 0),
			 JPKI_ERR_INVALID);
}

/* The linking look-up (/link/) reads the replica as OCSP does: within
 * the bound it answers, past it or without the heartbeat row it refuses
 * (JPKI_ERR_STATE, 503 at the door) rather than answer what may be old. */
static void test_link_reads_the_replica(void **state)
{
	struct replica *r = *state;
	struct jpki_cert_info *c = fx_issue(r->f, JPKI_CERT_SIGN, "L1");
	unsigned char *der = NULL;
	size_t len = 0;

	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, c->serial),
			 0);
	assert_true(len > 0);
	free(der);
	der = NULL;
	/* a serial the replica does not hold, and a malformed one */
	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, "ABCDEF0123"),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, "not-hex"),
			 JPKI_ERR_INVALID);

	lag_by(r, 1500);
	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, c->serial),
			 JPKI_ERR_STATE);
	assert_null(der);
	assert_int_equal(jpki_store_heartbeat(r->f->st, "test"), 0);
	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, c->serial),
			 0);
	free(der);
	der = NULL;
	assert_int_equal(jpki_ca_read_from(r->f->ca, r->rd, "another", 1000),
			 0);
	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, c->serial),
			 JPKI_ERR_STATE);
	jpki_cert_info_free(c);
}

/* The renewal chain is followed on the replica too: the answer names the
 * certificate that replaced the one asked about. */
static void test_link_follows_renewal_on_the_replica(void **state)
{
	struct replica *r = *state;
	struct jpki_cert_info *c = fx_issue(r->f, JPKI_CERT_SIGN, "L2");
	struct jpki_cert_info *n = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	CMS_ContentInfo *cms;
	BIO *out = BIO_new(BIO_s_mem());
	char *body;
	long blen;

	fx_at("2030-03-01"); /* within the renewal window */
	assert_int_equal(jpki_ca_renew(&n, r->f->ca, c->serial, r->f->key, NULL),
			 0);
	assert_int_equal(jpki_ca_link_answer(&der, &len, r->f->ca,
					     JPKI_CERT_SIGN, c->serial),
			 0);
	p = der;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_int_equal(CMS_verify(cms, NULL, NULL, NULL, out,
				    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY),
			 1);
	blen = BIO_get_mem_data(out, &body);
	assert_non_null(memmem(body, (size_t)blen, n->serial,
			       strlen(n->serial)));
	assert_non_null(memmem(body, (size_t)blen, "\"renewal\"", 9));
	CMS_ContentInfo_free(cms);
	BIO_free(out);
	free(der);
	jpki_cert_info_free(c);
	jpki_cert_info_free(n);
}

/* A self-signed client certificate (DER, caller frees). */
static unsigned char *client_cert(size_t *len, EVP_PKEY *key)
{
	X509 *x = X509_new();
	unsigned char *der = NULL;
	time_t now = jpki_clock_now();
	int n;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), 30, 0, &now);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"Example Bank", -1,
				   -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	n = i2d_X509(x, &der);
	X509_free(x);
	*len = (size_t)n;
	return der;
}

/* The registered verifiers' door reads the register on the replica with
 * the same bound; registering and removing (and the counts) are writes on
 * the primary. */
static void test_verifier_register_on_the_replica(void **state)
{
	static const struct jpki_actor officer = {
	    .operator_id = "admin", .role = JPKI_ROLE_CA_OFFICER};
	struct replica *r = *state;
	struct jpki_verifier v;
	size_t len;
	unsigned char *der = client_cert(&len, r->f->key), md[32];
	unsigned mdlen;
	char fp[65];

	EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(fp + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(jpki_audit_migrate(r->f->st), 0);
	assert_int_equal(jpki_ca_verifier_migrate(r->f->st), 0);
	assert_int_equal(jpki_ca_verifier_find_read(&v, r->f->ca, fp),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_verifier_add(r->f->st, &officer, "bank",
					      JPKI_CERT_SIGN, der, len),
			 0);
	assert_int_equal(jpki_ca_verifier_find_read(&v, r->f->ca, fp), 0);
	assert_string_equal(v.name, "bank");
	assert_int_equal(jpki_ca_verifier_find_read(&v, r->f->ca, "00"),
			 JPKI_ERR_NOT_FOUND);

	lag_by(r, 1500);
	assert_int_equal(jpki_ca_verifier_find_read(&v, r->f->ca, fp),
			 JPKI_ERR_STATE);
	assert_int_equal(jpki_store_heartbeat(r->f->st, "test"), 0);
	assert_int_equal(jpki_ca_verifier_remove(r->f->st, &officer, "bank"),
			 0);
	assert_int_equal(jpki_ca_verifier_find_read(&v, r->f->ca, fp),
			 JPKI_ERR_POLICY);
	/* without a replica: the CA's own store, no bound */
	assert_int_equal(jpki_ca_read_from(r->f->ca, NULL, NULL, 0), 0);
	assert_int_equal(jpki_ca_verifier_find_read(&v, r->f->ca, fp),
			 JPKI_ERR_POLICY);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_fresh_answers_stale_refuses),
	    T(test_no_heartbeat_row),
	    T(test_pg_kept_on_replica),
	    T(test_read_from_refuses_bad_arguments),
	    T(test_link_reads_the_replica),
	    T(test_link_follows_renewal_on_the_replica),
	    T(test_verifier_register_on_the_replica),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
