/* CA key rollover: two generations in one store, their link certificates,
 * CRLs and OCSP per generation, retirement, and the refusals. */
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca_fixture.h"
#include "jpki/audit.h"

static const struct jpki_actor officer = {"officer", JPKI_ROLE_CA_OFFICER,
					  "", ""};
static const struct jpki_actor clerk = {"clerk", JPKI_ROLE_WINDOW_CLERK,
					"131016", ""};

static int setup(void **state)
{
	struct ca_fixture *f;

	if (fx_setup(state) != 0)
		return -1;
	f = *state;
	return jpki_audit_migrate(f->st) == 0 ? 0 : -1;
}

static void rollover(struct ca_fixture *f, enum jpki_cert_type type)
{
	int r = jpki_ca_rollover(f->ca, &officer, type, NULL);

	if (r != 0)
		fprintf(stderr, "rollover: %s\n", jpki_err_detail());
	assert_int_equal(r, 0);
}

/* A copy of a published certificate. */
static X509 *published(struct ca_fixture *f, const char *name)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x;

	assert_int_equal(jpki_ca_published_get(&der, &len, f->ca, name), 0);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	free(der);
	return x;
}

static int key_id_equal(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
	return a != NULL && b != NULL && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

/* X509_verify_cert of `leaf` with `anchor` as the only trust anchor and
 * `link` (may be NULL) as the only untrusted certificate. */
static int chain_ok(X509 *leaf, X509 *anchor, X509 *link)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok;

	X509_STORE_add_cert(st, anchor);
	if (link != NULL)
		sk_X509_push(untrusted, link);
	X509_STORE_CTX_init(ctx, st, leaf, untrusted);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
				   jpki_clock_now());
	ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	return ok;
}

/* The OCSP status of `cert` asked under `issuer`; -1 when the answer is
 * not successful (*resp_status says what it was). The answer must verify
 * with `issuer` as the only trust anchor. */
static int ocsp_status(struct ca_fixture *f, X509 *cert, X509 *issuer,
		       int *resp_status)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
	unsigned char *der = NULL, *out = NULL;
	const unsigned char *p;
	size_t out_len = 0;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	int len, status = -1, reason;

	OCSP_request_add0_id(req, OCSP_CERTID_dup(id));
	len = i2d_OCSP_REQUEST(req, &der);
	assert_int_equal(jpki_ca_ocsp_respond(&out, &out_len, f->ca, der,
					      (size_t)len),
			 0);
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)out_len);
	assert_non_null(resp);
	*resp_status = OCSP_response_status(resp);
	if (*resp_status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		X509_STORE *trust = X509_STORE_new();
		STACK_OF(X509) *none = sk_X509_new_null();

		bs = OCSP_response_get1_basic(resp);
		X509_STORE_add_cert(trust, issuer);
		assert_int_equal(OCSP_basic_verify(bs, none, trust, 0), 1);
		assert_int_equal(OCSP_resp_find_status(bs, id, &status, &reason,
						       NULL, NULL, NULL),
				 1);
		OCSP_BASICRESP_free(bs);
		sk_X509_free(none);
		X509_STORE_free(trust);
	}
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(id);
	OPENSSL_free(der);
	free(out);
	return status;
}

static X509_CRL *crl_of(struct ca_fixture *f, const char *scope)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509_CRL *crl;

	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, scope), 0);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	free(der);
	return crl;
}

static int crl_lists(X509_CRL *crl, X509 *cert)
{
	X509_REVOKED *rev = NULL;

	return X509_CRL_get0_by_serial(crl, &rev,
				       X509_get0_serialNumber(cert)) == 1;
}

/* Issue before and after, revoke both: each generation answers for its
 * own, with its own key, in its own CRLs and OCSP answers. */
static void test_two_generations(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_SIGN, "R1");
	X509 *xa = fx_x509(a), *old = X509_dup(jpki_ca_cert(f->ca,
							     JPKI_CERT_SIGN));
	struct jpki_cert_info *b;
	X509 *xb, *now_ca, *anchors[4];
	X509_CRL *crl;
	int rs;

	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_SIGN), 1);
	rollover(f, JPKI_CERT_SIGN);
	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_SIGN), 2);
	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_AUTH), 1);
	now_ca = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	/* same DN, new key */
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(now_ca),
				       X509_get_subject_name(old)),
			 0);
	assert_false(key_id_equal(X509_get0_subject_key_id(now_ca),
				  X509_get0_subject_key_id(old)));
	assert_int_equal(jpki_ca_certs(anchors, 4, f->ca, JPKI_CERT_SIGN), 2);
	assert_ptr_equal(anchors[0], now_ca);
	/* a new issue is under the new generation */
	b = fx_issue(f, JPKI_CERT_SIGN, "R2");
	xb = fx_x509(b);
	assert_true(key_id_equal(X509_get0_authority_key_id(xb),
				 X509_get0_subject_key_id(now_ca)));
	assert_true(key_id_equal(X509_get0_authority_key_id(xa),
				 X509_get0_subject_key_id(old)));
	assert_int_equal(X509_verify(xb, X509_get0_pubkey(now_ca)), 1);
	{
		STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(
			xb, NID_crl_distribution_points, NULL, NULL);
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(
			sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname,
			0);

		assert_string_equal(
			ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
			"http://127.0.0.1:8080/crl/sign-2/131016.crl");
		sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	}
	/* both good, each asked under its own issuer */
	assert_int_equal(ocsp_status(f, xa, old, &rs), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(ocsp_status(f, xb, now_ca, &rs),
			 V_OCSP_CERTSTATUS_GOOD);
	/* a serial asked under the other generation is not that one's */
	assert_int_equal(ocsp_status(f, xa, now_ca, &rs),
			 V_OCSP_CERTSTATUS_UNKNOWN);
	assert_int_equal(ocsp_status(f, xb, old, &rs),
			 V_OCSP_CERTSTATUS_UNKNOWN);
	/* revoke both */
	assert_int_equal(jpki_ca_revoke(f->ca, a->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	assert_int_equal(jpki_ca_revoke(f->ca, b->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	assert_int_equal(ocsp_status(f, xa, old, &rs),
			 V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(ocsp_status(f, xb, now_ca, &rs),
			 V_OCSP_CERTSTATUS_REVOKED);
	/* CRLs per generation, signed by that generation's key */
	crl = crl_of(f, "sign/131016");
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(old)), 1);
	assert_int_not_equal(X509_CRL_verify(crl, X509_get0_pubkey(now_ca)),
			     1);
	assert_true(crl_lists(crl, xa));
	assert_false(crl_lists(crl, xb));
	X509_CRL_free(crl);
	crl = crl_of(f, "sign-2/131016");
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(now_ca)), 1);
	assert_int_not_equal(X509_CRL_verify(crl, X509_get0_pubkey(old)), 1);
	assert_true(crl_lists(crl, xb));
	assert_false(crl_lists(crl, xa));
	X509_CRL_free(crl);
	crl = crl_of(f, "sign-2");
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(now_ca)), 1);
	assert_true(crl_lists(crl, xb));
	assert_false(crl_lists(crl, xa));
	X509_CRL_free(crl);
	crl = crl_of(f, "sign");
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(old)), 1);
	assert_true(crl_lists(crl, xa));
	X509_CRL_free(crl);
	/* a refresh keeps both generations' scopes */
	{
		size_t n;

		assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n), 0);
		assert_int_equal(n, 5); /* sign, sign-2, auth, 2 partitions */
	}
	/* the audit chain holds the rollover */
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'ca.rollover'"),
			 1);
	X509_free(xa);
	X509_free(xb);
	X509_free(old);
	jpki_cert_info_free(a);
	jpki_cert_info_free(b);
}

/* The link certificates take a client that trusts one generation to a
 * certificate of the other, and nothing else does. */
static void test_link_certificates(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_SIGN, "L1");
	struct jpki_cert_info *b;
	X509 *xa = fx_x509(a), *xb, *g1, *g2, *l12, *l21;
	char **names = NULL;
	size_t n = 0;

	rollover(f, JPKI_CERT_SIGN);
	b = fx_issue(f, JPKI_CERT_SIGN, "L2");
	xb = fx_x509(b);
	g1 = published(f, "sign-1");
	g2 = published(f, "sign-2");
	l12 = published(f, "sign-link-1-2");
	l21 = published(f, "sign-link-2-1");
	/* "sign" stays generation 1, which its certificates name */
	{
		X509 *s = published(f, "sign");

		assert_int_equal(X509_cmp(s, g1), 0);
		X509_free(s);
	}
	/* OldWithNew: the new key under the old one, AKI naming the old */
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(l12),
				     X509_get0_pubkey(g2)),
			 1);
	assert_int_equal(X509_verify(l12, X509_get0_pubkey(g1)), 1);
	assert_true(key_id_equal(X509_get0_authority_key_id(l12),
				 X509_get0_subject_key_id(g1)));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(l21),
				     X509_get0_pubkey(g1)),
			 1);
	assert_int_equal(X509_verify(l21, X509_get0_pubkey(g2)), 1);
	assert_true(key_id_equal(X509_get0_authority_key_id(l21),
				 X509_get0_subject_key_id(g2)));
	/* old root + OldWithNew -> new generation's certificate */
	assert_true(chain_ok(xb, g1, l12));
	assert_false(chain_ok(xb, g1, NULL));
	assert_false(chain_ok(xb, g1, l21));
	/* new root + NewWithOld -> old generation's certificate */
	assert_true(chain_ok(xa, g2, l21));
	assert_false(chain_ok(xa, g2, NULL));
	/* listed for the repository */
	assert_int_equal(jpki_ca_published(&names, &n, f->ca), 0);
	assert_int_equal(n, 5);
	assert_string_equal(names[0], "sign-1");
	assert_string_equal(names[1], "sign-2");
	assert_string_equal(names[2], "sign-link-2-1");
	assert_string_equal(names[3], "sign-link-1-2");
	assert_string_equal(names[4], "auth-1");
	jpki_ca_scopes_free(names, n);
	{
		unsigned char *der = NULL;
		size_t len;

		assert_int_equal(jpki_ca_published_get(&der, &len, f->ca,
							"sign-3"),
				 JPKI_ERR_NOT_FOUND);
		assert_int_equal(jpki_ca_published_get(&der, &len, f->ca,
							"sign-link-1-1"),
				 JPKI_ERR_NOT_FOUND);
		assert_int_equal(jpki_ca_published_get(&der, &len, f->ca,
							"sign-02"),
				 JPKI_ERR_NOT_FOUND);
	}
	X509_free(xa);
	X509_free(xb);
	X509_free(g1);
	X509_free(g2);
	X509_free(l12);
	X509_free(l21);
	jpki_cert_info_free(a);
	jpki_cert_info_free(b);
}

/* Retirement waits for the last certificate of the generation to expire;
 * then no CRL and no OCSP answer for it, in this process and the next. */
static void test_retire(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_SIGN, "T1");
	X509 *xa = fx_x509(a), *old = X509_dup(jpki_ca_cert(f->ca,
							     JPKI_CERT_SIGN));
	struct jpki_ca *again = NULL;
	X509 *anchors[4];
	size_t n = 9;
	int rs;

	/* nothing to retire before a rollover */
	assert_int_equal(jpki_ca_retire(&n, f->ca, &officer), JPKI_ERR_STATE);
	rollover(f, JPKI_CERT_SIGN);
	/* refused while a certificate of generation 1 is valid, revoked
	 * or not (a CRL lists it until it expires) */
	assert_int_equal(jpki_ca_revoke(f->ca, a->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	assert_int_equal(jpki_ca_retire(&n, f->ca, &officer), JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "still holds 1 "));
	assert_int_equal(n, 0);
	assert_int_equal(ocsp_status(f, xa, old, &rs),
			 V_OCSP_CERTSTATUS_REVOKED);
	/* a day after its last certificate expired */
	jpki_clock_freeze(a->not_after + 86400);
	assert_int_equal(jpki_ca_retire(&n, f->ca, &clerk), JPKI_ERR_POLICY);
	assert_int_equal(jpki_ca_retire(&n, f->ca, &officer), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jpki_ca_certs(anchors, 4, f->ca, JPKI_CERT_SIGN), 1);
	assert_int_equal(ocsp_status(f, xa, old, &rs), -1);
	assert_int_equal(rs, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	{
		unsigned char *der = NULL;
		size_t len;

		assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign"),
				 JPKI_ERR_NOT_FOUND);
		assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca,
						 "sign/131016"),
				 JPKI_ERR_NOT_FOUND);
		/* no refresh brings them back */
		assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &len), 0);
		assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign"),
				 JPKI_ERR_NOT_FOUND);
		assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign-2"),
				 0);
		free(der);
	}
	/* still published as history */
	X509_free(published(f, "sign-1"));
	X509_free(published(f, "sign-link-1-2"));
	/* once retired, a second retire has nothing to do */
	assert_int_equal(jpki_ca_retire(&n, f->ca, &officer), JPKI_ERR_STATE);
	/* another process opening the CA sees it retired */
	assert_int_equal(jpki_ca_open(&again, f->st, NULL), 0);
	assert_int_equal(jpki_ca_certs(anchors, 4, again, JPKI_CERT_SIGN), 1);
	assert_int_equal(jpki_ca_generation(again, JPKI_CERT_SIGN), 2);
	jpki_ca_free(again);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'ca.retire'"),
			 1);
	X509_free(xa);
	X509_free(old);
	jpki_cert_info_free(a);
}

/* A reopened CA holds both generations and answers for both. */
static void test_reopen(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_AUTH, "O1");
	X509 *xa = fx_x509(a), *old = X509_dup(jpki_ca_cert(f->ca,
							     JPKI_CERT_AUTH));
	X509 *anchors[4];
	int rs;

	rollover(f, JPKI_CERT_AUTH);
	jpki_ca_free(f->ca);
	f->ca = NULL;
	assert_int_equal(jpki_ca_open(&f->ca, f->st, NULL), 0);
	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_AUTH), 2);
	assert_int_equal(jpki_ca_certs(anchors, 4, f->ca, JPKI_CERT_AUTH), 2);
	assert_int_equal(X509_cmp(anchors[1], old), 0);
	assert_int_equal(ocsp_status(f, xa, old, &rs), V_OCSP_CERTSTATUS_GOOD);
	/* and a third generation after a second rollover */
	rollover(f, JPKI_CERT_AUTH);
	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_AUTH), 3);
	assert_int_equal(jpki_ca_certs(anchors, 4, f->ca, JPKI_CERT_AUTH), 3);
	assert_int_equal(ocsp_status(f, xa, old, &rs), V_OCSP_CERTSTATUS_GOOD);
	X509_free(xa);
	X509_free(old);
	jpki_cert_info_free(a);
}

static void test_refusals(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct jpki_ca *other = NULL;
	char *keys = NULL;

	/* not a CA officer, or nobody */
	assert_int_equal(jpki_ca_rollover(f->ca, &clerk, JPKI_CERT_SIGN, NULL),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_ca_rollover(f->ca, NULL, JPKI_CERT_SIGN, NULL),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_SIGN), 1);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_generation"), 0);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_link_cert"), 0);
	/* a second init is refused and points to the rollover */
	assert_true(asprintf(&keys, "%s/keys2", f->dir) > 0);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	assert_int_equal(jpki_ca_init(f->st, &opts), JPKI_ERR_EXISTS);
	assert_non_null(strstr(jpki_err_detail(), "jpki ca rollover"));
	free(keys);
	/* a process whose CA was rolled over by another must reopen */
	assert_int_equal(jpki_ca_open(&other, f->st, NULL), 0);
	rollover(f, JPKI_CERT_SIGN);
	assert_int_equal(jpki_ca_rollover(other, &officer, JPKI_CERT_SIGN,
					  NULL),
			 JPKI_ERR_STATE);
	/* nor does it issue under the generation it opened */
	{
		struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "S1");
		struct jpki_cert_info *info = NULL;

		assert_int_equal(jpki_ca_issue(&info, other, &req, f->key),
				 JPKI_ERR_STATE);
		assert_non_null(strstr(jpki_err_detail(), "restart"));
		assert_null(info);
		assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
				 0);
	}
	jpki_ca_free(other);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_generation"), 1);
	assert_int_equal(jpki_ca_generation(f->ca, JPKI_CERT_SIGN), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_two_generations), T(test_link_certificates),
		T(test_retire),          T(test_reopen),
		T(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
