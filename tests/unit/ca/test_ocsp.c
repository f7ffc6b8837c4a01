/* The OCSP responder, driven with requests as OpenSSL clients build them. */
#include <openssl/ocsp.h>

#include "ca_fixture.h"

/* A DER request for the given certificates (all of one issuer). */
static unsigned char *make_request(size_t *len, X509 **certs, int n,
				   X509 *issuer, const EVP_MD *md, int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int l;

	for (int i = 0; i < n; i++)
		OCSP_request_add0_id(req, OCSP_cert_to_id(md, certs[i], issuer));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	l = i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req);
	*len = (size_t)l;
	return der;
}

static OCSP_RESPONSE *respond(struct ca_fixture *f, const unsigned char *req,
			      size_t len)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t dlen = 0;
	OCSP_RESPONSE *resp;

	assert_int_equal(jpki_ca_ocsp_respond(&der, &dlen, f->ca, req, len),
			 0);
	p = der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)dlen);
	assert_non_null(resp);
	free(der);
	return resp;
}

/* Verifies the response as a client trusting only the CA does, and
 * returns the status of `cert` (with reason and revocation time). */
static int status_md(struct ca_fixture *f, OCSP_RESPONSE *resp, X509 *cert,
		     enum jpki_cert_type type, const EVP_MD *md, int *reason,
		     time_t *rev_at)
{
	X509 *issuer = jpki_ca_cert(f->ca, type);
	OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
	X509_STORE *trust = X509_STORE_new();
	STACK_OF(X509) *none = sk_X509_new_null();
	OCSP_CERTID *id = OCSP_cert_to_id(md, cert, issuer);
	struct tm tm;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int status = -1;

	assert_int_equal(OCSP_response_status(resp),
			 OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs);
	X509_STORE_add_cert(trust, issuer);
	assert_int_equal(OCSP_basic_verify(bs, none, trust, 0), 1);
	assert_int_equal(OCSP_resp_find_status(bs, id, &status, reason, &rev,
					       &thisupd, &nextupd),
			 1);
	/* produced now by the service's clock, good for an hour */
	assert_int_equal(ASN1_TIME_to_tm(thisupd, &tm), 1);
	assert_int_equal(timegm(&tm), jpki_clock_now());
	assert_int_equal(ASN1_TIME_to_tm(nextupd, &tm), 1);
	assert_int_equal(timegm(&tm), jpki_clock_now() + 3600);
	if (rev != NULL && rev_at != NULL) {
		ASN1_TIME_to_tm(rev, &tm);
		*rev_at = timegm(&tm);
	}
	OCSP_CERTID_free(id);
	sk_X509_free(none);
	X509_STORE_free(trust);
	OCSP_BASICRESP_free(bs);
	return status;
}

static int status_of(struct ca_fixture *f, OCSP_RESPONSE *resp, X509 *cert,
		     enum jpki_cert_type type, int *reason, time_t *rev_at)
{
	return status_md(f, resp, cert, type, EVP_sha1(), reason, rev_at);
}

static void test_good_then_revoked(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O1");
	X509 *x = fx_x509(c);
	unsigned char *req;
	size_t len;
	OCSP_RESPONSE *resp;
	int reason = -5;
	time_t at = 0;

	req = make_request(&len, &x, 1, jpki_ca_cert(f->ca, JPKI_CERT_SIGN),
			   EVP_sha1(), 0);
	resp = respond(f, req, len);
	assert_int_equal(status_of(f, resp, x, JPKI_CERT_SIGN, &reason, NULL),
			 V_OCSP_CERTSTATUS_GOOD);
	OCSP_RESPONSE_free(resp);
	/* the same request again is served (from the cache) identically */
	{
		unsigned char *d1 = NULL, *d2 = NULL;
		size_t l1, l2;

		assert_int_equal(jpki_ca_ocsp_respond(&d1, &l1, f->ca, req, len),
				 0);
		assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, f->ca, req, len),
				 0);
		assert_int_equal(l1, l2);
		assert_memory_equal(d1, d2, l1);
		free(d1);
		free(d2);
	}
	/* a status change is seen at once, cache or not */
	fx_at("2026-01-10T12:00:00");
	assert_int_equal(jpki_ca_revoke(f->ca, c->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	resp = respond(f, req, len);
	assert_int_equal(status_of(f, resp, x, JPKI_CERT_SIGN, &reason, &at),
			 V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(at, jpki_clock_now());
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	X509_free(x);
	jpki_cert_info_free(c);
}

/* A cache that another process cannot invalidate in memory still follows
 * the stored status: the status version decides. */
static void test_change_by_another_handle_is_seen(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_AUTH, "O2");
	struct jpki_ca *other = NULL;
	X509 *x = fx_x509(c);
	unsigned char *req;
	size_t len;
	OCSP_RESPONSE *resp;
	int reason;

	req = make_request(&len, &x, 1, jpki_ca_cert(f->ca, JPKI_CERT_AUTH),
			   EVP_sha256(), 0);
	resp = respond(f, req, len);
	assert_int_equal(status_md(f, resp, x, JPKI_CERT_AUTH, EVP_sha256(),
				   &reason, NULL),
			 V_OCSP_CERTSTATUS_GOOD);
	OCSP_RESPONSE_free(resp);
	assert_int_equal(jpki_ca_open(&other, f->st, NULL), 0);
	assert_int_equal(jpki_ca_hold(other, c->serial), 0);
	resp = respond(f, req, len);
	assert_int_equal(status_md(f, resp, x, JPKI_CERT_AUTH, EVP_sha256(),
				   &reason, NULL),
			 V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	OCSP_RESPONSE_free(resp);
	assert_int_equal(jpki_ca_release(other, c->serial), 0);
	resp = respond(f, req, len);
	assert_int_equal(status_md(f, resp, x, JPKI_CERT_AUTH, EVP_sha256(),
				   &reason, NULL),
			 V_OCSP_CERTSTATUS_GOOD);
	OCSP_RESPONSE_free(resp);
	jpki_ca_free(other);
	OPENSSL_free(req);
	X509_free(x);
	jpki_cert_info_free(c);
}

static void test_nonce_is_echoed(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O3");
	X509 *x = fx_x509(c);
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	int len;

	OCSP_request_add0_id(req, OCSP_cert_to_id(NULL, x,
						  jpki_ca_cert(f->ca,
							       JPKI_CERT_SIGN)));
	OCSP_request_add1_nonce(req, NULL, -1);
	len = i2d_OCSP_REQUEST(req, &der);
	resp = respond(f, der, (size_t)len);
	bs = OCSP_response_get1_basic(resp);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	X509_free(x);
	jpki_cert_info_free(c);
}

static void test_unknown_serial_and_several_ids(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O4");
	X509 *certs[2] = {fx_x509(c), fx_x509(c)};
	ASN1_INTEGER *bogus = ASN1_INTEGER_new();
	unsigned char *req;
	size_t len;
	OCSP_RESPONSE *resp;
	int reason;

	/* the second certificate: same issuer, a serial never issued */
	ASN1_INTEGER_set(bogus, 12345);
	X509_set_serialNumber(certs[1], bogus);
	req = make_request(&len, certs, 2, jpki_ca_cert(f->ca, JPKI_CERT_SIGN),
			   EVP_sha1(), 1);
	resp = respond(f, req, len);
	assert_int_equal(status_of(f, resp, certs[0], JPKI_CERT_SIGN, &reason,
				   NULL),
			 V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(status_of(f, resp, certs[1], JPKI_CERT_SIGN, &reason,
				   NULL),
			 V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	/* an auth-CA serial asked of the signing CA is unknown */
	ASN1_INTEGER_free(bogus);
	X509_free(certs[0]);
	X509_free(certs[1]);
	jpki_cert_info_free(c);
}

static int error_status(struct ca_fixture *f, const unsigned char *req,
			size_t len)
{
	OCSP_RESPONSE *resp = respond(f, req, len);
	int s = OCSP_response_status(resp);

	assert_null(OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	return s;
}

/* A request for x whose nonce extension's value is `value` (the DER that
 * should be one OCTET STRING), `times` times. */
static unsigned char *nonce_request(size_t *len, struct ca_fixture *f, X509 *x,
				    const unsigned char *value, size_t n,
				    int times)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	int l;

	OCSP_request_add0_id(req, OCSP_cert_to_id(NULL, x,
						  jpki_ca_cert(f->ca,
							       JPKI_CERT_SIGN)));
	assert_true(ASN1_OCTET_STRING_set(data, value, (int)n));
	for (int i = 0; i < times; i++) {
		X509_EXTENSION *ext = X509_EXTENSION_create_by_NID(
			NULL, NID_id_pkix_OCSP_Nonce, 0, data);

		assert_non_null(ext);
		assert_true(OCSP_REQUEST_add_ext(req, ext, -1));
		X509_EXTENSION_free(ext);
	}
	l = i2d_OCSP_REQUEST(req, &der);
	assert_true(l > 0);
	ASN1_OCTET_STRING_free(data);
	OCSP_REQUEST_free(req);
	*len = (size_t)l;
	return der;
}

/* A request with `times` such nonces is answered malformedRequest. */
static void nonce_malformed(struct ca_fixture *f, X509 *x,
			    const unsigned char *value, size_t n, int times)
{
	size_t len;
	unsigned char *req = nonce_request(&len, f, x, value, n, times);

	assert_int_equal(error_status(f, req, len),
			 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OPENSSL_free(req);
}

/* RFC 9654: a nonce is 1 to 32 octets; an empty one, a longer one, one
 * that is not an OCTET STRING and two of them are malformedRequest. */
static void test_nonce_bounds(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O7");
	X509 *x = fx_x509(c);
	unsigned char value[64], *req;
	size_t len;
	OCSP_RESPONSE *resp;

	memset(value, 0x5a, sizeof(value));
	/* 1 and 32 octets: answered */
	for (size_t n = 1; n <= 32; n += 31) {
		value[0] = 0x04;
		value[1] = (unsigned char)n;
		req = nonce_request(&len, f, x, value, 2 + n, 1);
		resp = respond(f, req, len);
		assert_int_equal(status_of(f, resp, x, JPKI_CERT_SIGN, NULL,
					   NULL),
				 V_OCSP_CERTSTATUS_GOOD);
		OCSP_RESPONSE_free(resp);
		OPENSSL_free(req);
	}
	/* 0 and 33 octets */
	for (size_t n = 0; n <= 33; n += 33) {
		value[0] = 0x04;
		value[1] = (unsigned char)n;
		nonce_malformed(f, x, value, 2 + n, 1);
	}
	/* 7.8 KB, as was once echoed */
	{
		unsigned char big[4 + 7800];

		memset(big, 0x5a, sizeof(big));
		big[0] = 0x04;
		big[1] = 0x82;
		big[2] = 7800 >> 8;
		big[3] = 7800 & 0xff;
		nonce_malformed(f, x, big, sizeof(big), 1);
	}
	/* raw bytes, not an OCTET STRING; an OCTET STRING with bytes after
	 * it; two nonces */
	value[0] = 0x02;
	value[1] = 16;
	nonce_malformed(f, x, value, 18, 1);
	value[0] = 0x04;
	value[1] = 16;
	nonce_malformed(f, x, value, 19, 1);
	nonce_malformed(f, x, value, 18, 2);
	X509_free(x);
	jpki_cert_info_free(c);
}

static void test_malformed_requests(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O5");
	X509 *x = fx_x509(c), *many[20];
	unsigned char *req, junk[64], *big;
	size_t len;
	int64_t crls = fx_count(f, "SELECT SUM(number) FROM ca_crl");

	req = make_request(&len, &x, 1, jpki_ca_cert(f->ca, JPKI_CERT_SIGN),
			   EVP_sha1(), 1);
	/* every truncation of a valid request */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(error_status(f, req, cut),
				 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	/* trailing garbage after a valid request */
	{
		unsigned char *longer = malloc(len + 1);

		memcpy(longer, req, len);
		longer[len] = 0;
		assert_int_equal(error_status(f, longer, len + 1),
				 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
		free(longer);
	}
	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(error_status(f, junk, sizeof(junk)),
			 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	big = calloc(1, JPKI_MAX_OCSP_REQUEST + 1);
	assert_int_equal(error_status(f, big, JPKI_MAX_OCSP_REQUEST + 1),
			 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	free(big);
	OPENSSL_free(req);
	/* more certificate ids than the cap */
	for (int i = 0; i < 20; i++)
		many[i] = x;
	req = make_request(&len, many, 20, jpki_ca_cert(f->ca, JPKI_CERT_SIGN),
			   EVP_sha1(), 0);
	assert_int_equal(error_status(f, req, len),
			 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OPENSSL_free(req);
	/* a hash algorithm whose parameters parse but do not re-encode
	 * (found by the fuzzer): malformed, not a failure to sign */
	req = make_request(&len, &x, 1, jpki_ca_cert(f->ca, JPKI_CERT_SIGN),
			   EVP_sha256(), 0);
	{
		static const unsigned char oid_null[] = {
			0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
			0x03, 0x04, 0x02, 0x01, 0x05, 0x00};
		unsigned char *at = NULL;

		for (size_t i = 0; i + sizeof(oid_null) <= len; i++)
			if (memcmp(req + i, oid_null, sizeof(oid_null)) == 0)
				at = req + i;
		assert_non_null(at);
		at[11] = 0x20; /* NULL -> constructed end-of-contents */
		assert_int_equal(error_status(f, req, len),
				 OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	}
	OPENSSL_free(req);
	/* nothing in the store moved */
	assert_int_equal(fx_count(f, "SELECT SUM(number) FROM ca_crl"), crls);
	X509_free(x);
	jpki_cert_info_free(c);
}

static void test_foreign_ca_is_unauthorized(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O6");
	X509 *x = fx_x509(c), *foreign = X509_new();
	EVP_PKEY *k = tu_rsa_key_fresh();
	unsigned char *req;
	size_t len;

	/* an issuer with the same DN but another key: a foreign CA */
	X509_set_subject_name(foreign, X509_get_subject_name(jpki_ca_cert(
					       f->ca, JPKI_CERT_SIGN)));
	X509_set_pubkey(foreign, k);
	req = make_request(&len, &x, 1, foreign, EVP_sha1(), 0);
	assert_int_equal(error_status(f, req, len),
			 OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OPENSSL_free(req);
	EVP_PKEY_free(k);
	X509_free(foreign);
	X509_free(x);
	jpki_cert_info_free(c);
}

/* The two signers: the delegated one puts its certificate in the answer;
 * the CA key (JPKI_OCSP_SIGNER_CA) signs with none, and a client that
 * holds the CA certificate verifies it with that alone. */
static OCSP_BASICRESP *basic_of(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs;

	assert_non_null(resp);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	OCSP_RESPONSE_free(resp);
	return bs;
}

static void test_ca_key_signer(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "O9");
	struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_ca *byca = NULL;
	X509 *x = fx_x509(c), *issuer = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	X509_STORE *trust = X509_STORE_new();
	STACK_OF(X509) *cas = sk_X509_new_null();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), x, issuer);
	unsigned char *req, *d1 = NULL, *d2 = NULL;
	size_t len, l1 = 0, l2 = 0;
	OCSP_BASICRESP *bs;
	int status = -1, type = -1;

	X509_STORE_add_cert(trust, issuer);
	sk_X509_push(cas, issuer);
	req = make_request(&len, &x, 1, issuer, EVP_sha1(), 1);
	/* delegated (the default): one certificate, the OCSP signer's */
	assert_int_equal(jpki_ca_ocsp_respond(&d1, &l1, f->ca, req, len), 0);
	bs = basic_of(d1, l1);
	assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	assert_int_equal(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0),
				  jpki_ca_ocsp_cert(f->ca, JPKI_CERT_SIGN)),
			 0);
	OCSP_BASICRESP_free(bs);

	/* the CA key: no certificate, verified with the CA certificate */
	opts.ocsp_signer = JPKI_OCSP_SIGNER_CA;
	assert_int_equal(jpki_ca_open(&byca, f->st, &opts), 0);
	assert_int_equal(jpki_ca_ocsp_respond(&d2, &l2, byca, req, len), 0);
	bs = basic_of(d2, l2);
	/* (no certificates: the optional field is absent, a NULL stack) */
	assert_true(sk_X509_num(OCSP_resp_get0_certs(bs)) <= 0);
	assert_int_equal(OCSP_basic_verify(bs, cas, trust, 0), 1);
	assert_int_equal(OCSP_resp_find_status(bs, id, &status, &type, NULL,
					       NULL, NULL),
			 1);
	assert_int_equal(status, V_OCSP_CERTSTATUS_GOOD);
	/* the responder id names the CA's own key */
	{
		X509 *signer = NULL;

		assert_int_equal(OCSP_resp_get0_signer(bs, &signer, cas), 1);
		assert_ptr_equal(signer, issuer);
	}
	assert_true(l2 + 500 < l1);
	OCSP_BASICRESP_free(bs);
	/* another CA's certificate does not verify it */
	{
		X509_STORE *other = X509_STORE_new();
		STACK_OF(X509) *oc = sk_X509_new_null();

		X509_STORE_add_cert(other, jpki_ca_cert(f->ca, JPKI_CERT_AUTH));
		sk_X509_push(oc, jpki_ca_cert(f->ca, JPKI_CERT_AUTH));
		bs = basic_of(d2, l2);
		assert_int_not_equal(OCSP_basic_verify(bs, oc, other, 0), 1);
		OCSP_BASICRESP_free(bs);
		sk_X509_free(oc);
		X509_STORE_free(other);
	}
	jpki_ca_free(byca);
	byca = NULL;
	/* an unknown signer is refused */
	opts.ocsp_signer = 7;
	assert_int_equal(jpki_ca_open(&byca, f->st, &opts), JPKI_ERR_INVALID);
	assert_null(byca);
	free(d1);
	free(d2);
	OCSP_CERTID_free(id);
	sk_X509_free(cas);
	X509_STORE_free(trust);
	OPENSSL_free(req);
	X509_free(x);
	jpki_cert_info_free(c);
}

static void test_ocsp_signer_parse(void **state)
{
	int s = -1;

	(void)state;
	assert_int_equal(jpki_ca_ocsp_signer_parse(&s, "ca"), 0);
	assert_int_equal(s, JPKI_OCSP_SIGNER_CA);
	assert_int_equal(jpki_ca_ocsp_signer_parse(&s, "delegated"), 0);
	assert_int_equal(s, JPKI_OCSP_SIGNER_DELEGATED);
	assert_int_equal(jpki_ca_ocsp_signer_parse(&s, "CA"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_ocsp_signer_parse(&s, ""), JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_ocsp_signer_parse(&s, NULL), JPKI_ERR_INVALID);
	assert_int_equal(s, JPKI_OCSP_SIGNER_DELEGATED);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_then_revoked),
		T(test_change_by_another_handle_is_seen),
		T(test_nonce_is_echoed),
		T(test_nonce_bounds),
		T(test_unknown_serial_and_several_ids),
		T(test_malformed_requests),
		T(test_foreign_ca_is_unauthorized),
		T(test_ca_key_signer),
		cmocka_unit_test(test_ocsp_signer_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
