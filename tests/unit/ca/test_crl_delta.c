/* Delta CRLs (RFC 5280 5.2.4, 5.2.6): content, base, numbers, OpenSSL. */
#include <openssl/x509v3.h>

#include "ca_fixture.h"
#include "jpki/audit.h"

static X509_CRL *der_crl(unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);

	assert_non_null(crl);
	assert_true(p == der + len);
	free(der);
	return crl;
}

static X509_CRL *full_crl(struct jpki_ca *ca, const char *scope)
{
	unsigned char *der = NULL;
	size_t len = 0;

	assert_int_equal(jpki_ca_crl_get(&der, &len, ca, scope), 0);
	return der_crl(der, len);
}

static X509_CRL *delta_crl(struct jpki_ca *ca, const char *scope)
{
	unsigned char *der = NULL;
	size_t len = 0;

	assert_int_equal(jpki_ca_crl_delta_get(&der, &len, ca, scope), 0);
	return der_crl(der, len);
}

static long ext_int(X509_CRL *crl, int nid, int *crit)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, nid, crit, NULL);
	long n = num ? ASN1_INTEGER_get(num) : -1;

	ASN1_INTEGER_free(num);
	return n;
}

/* The reason of a serial in a CRL: -1 absent, -2 listed without reason. */
static int reason_in(X509_CRL *crl, const char *serial)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);

	for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		X509_REVOKED *rev = sk_X509_REVOKED_value(revs, i);
		BIGNUM *bn = ASN1_INTEGER_to_BN(
		    X509_REVOKED_get0_serialNumber(rev), NULL);
		char *hex = BN_bn2hex(bn);
		int match = strcmp(hex, serial) == 0, reason = -2;
		ASN1_ENUMERATED *code;

		OPENSSL_free(hex);
		BN_free(bn);
		if (!match)
			continue;
		code =
		    X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		if (code != NULL)
			reason = (int)ASN1_ENUMERATED_get(code);
		ASN1_ENUMERATED_free(code);
		return reason;
	}
	return -1;
}

/* No entries: the list is absent (RFC 5280 5.1.2.6), not empty. */
static int entries(X509_CRL *crl)
{
	int n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));

	return n < 0 ? 0 : n;
}

static struct jpki_ca *open_delta(struct ca_fixture *f)
{
	struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_ca *ca = NULL;

	opts.crl_delta = 1;
	assert_int_equal(jpki_ca_open(&ca, f->st, &opts), 0);
	return ca;
}

static void later(int seconds)
{
	jpki_clock_freeze(jpki_clock_now() + seconds);
}

/* The URI of the FreshestCRL extension, or "" without one. */
static void freshest_uri(char out[128], X509_CRL *crl)
{
	CRL_DIST_POINTS *dps =
	    X509_CRL_get_ext_d2i(crl, NID_freshest_crl, NULL, NULL);
	GENERAL_NAME *gn;

	out[0] = '\0';
	if (dps == NULL)
		return;
	gn = sk_GENERAL_NAME_value(
	    sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
	snprintf(out, 128, "%s",
		 (const char *)ASN1_STRING_get0_data(
		     gn->d.uniformResourceIdentifier));
	CRL_DIST_POINTS_free(dps);
}

/* OpenSSL's own answer for `x` with these CRLs, -use_deltas. */
static int openssl_verify(X509 *ca_cert, X509 *x, X509_CRL *full,
			  X509_CRL *delta)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	int err;

	X509_STORE_add_cert(st, ca_cert);
	sk_X509_CRL_push(crls, full);
	if (delta != NULL)
		sk_X509_CRL_push(crls, delta);
	X509_STORE_CTX_init(ctx, st, x, NULL);
	X509_STORE_CTX_set0_crls(ctx, crls);
	/* -extended_crl too: without it OpenSSL 3.0 scores a delta CRL as a
	 * complete one (get_crl_score), whatever its base */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK |
					  X509_V_FLAG_EXTENDED_CRL_SUPPORT |
					  X509_V_FLAG_USE_DELTAS);
	/* the CA's frozen clock, not the system's */
	X509_STORE_CTX_set_time(ctx, 0, jpki_clock_now());
	X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_CRL_free(crls);
	X509_STORE_free(st);
	return err;
}

/* A delta lists only what changed since its base, with the base's number,
 * the next number of the scope's sequence, and the full CRL names it. */
static void test_delta_lists_changes_since_base(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca *ca = open_delta(f);
	struct jpki_cert_info *c0 = fx_issue(f, JPKI_CERT_SIGN, "D0");
	struct jpki_cert_info *c1 = fx_issue(f, JPKI_CERT_SIGN, "D1");
	X509_CRL *full, *delta, *part, *pdelta;
	ISSUING_DIST_POINT *idp_full, *idp_delta;
	unsigned char *a = NULL, *b = NULL;
	char uri[128];
	int crit = 0, la, lb;
	size_t n;
	long base;

	assert_int_equal(
	    jpki_ca_revoke(ca, c0->serial, JPKI_REASON_KEY_COMPROMISE), 0);
	later(600);
	assert_int_equal(jpki_ca_crl_refresh(ca, 1, &n), 0);
	full = full_crl(ca, "sign");
	base = ext_int(full, NID_crl_number, NULL);
	assert_int_equal(reason_in(full, c0->serial),
			 JPKI_REASON_KEY_COMPROMISE);
	freshest_uri(uri, full);
	assert_string_equal(uri, "http://127.0.0.1:8080/crl/sign.delta.crl");
	X509_CRL_free(full);

	later(600);
	assert_int_equal(
	    jpki_ca_revoke(ca, c1->serial, JPKI_REASON_AFFILIATION_CHANGED), 0);
	/* the full CRLs wait for their period: only the delta says it */
	full = full_crl(ca, "sign");
	assert_int_equal(ext_int(full, NID_crl_number, NULL), base);
	assert_int_equal(reason_in(full, c1->serial), -1);
	X509_CRL_free(full);
	part = full_crl(ca, "sign/131016");
	assert_int_equal(reason_in(part, c1->serial), -1);

	/* sign, auth and the partition had none yet */
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	assert_int_equal(n, 3);
	delta = delta_crl(ca, "sign");
	assert_int_equal(X509_CRL_verify(delta, X509_get0_pubkey(jpki_ca_cert(
						    ca, JPKI_CERT_SIGN))),
			 1);
	assert_int_equal(X509_CRL_get_version(delta), 1);
	assert_int_equal(ext_int(delta, NID_delta_crl, &crit), base);
	assert_int_equal(crit, 1);
	assert_int_equal(ext_int(delta, NID_crl_number, NULL), base + 1);
	assert_int_equal(entries(delta), 1);
	assert_int_equal(reason_in(delta, c1->serial),
			 JPKI_REASON_AFFILIATION_CHANGED);
	assert_int_equal(reason_in(delta, c0->serial), -1); /* in the base */
	assert_null(X509_CRL_get_ext_d2i(delta, NID_issuing_distribution_point,
					 NULL, NULL));
	/* the partition's delta: its own base, the same IDP bytes */
	pdelta = delta_crl(ca, "sign/131016");
	assert_int_equal(ext_int(pdelta, NID_delta_crl, NULL),
			 ext_int(part, NID_crl_number, NULL));
	assert_int_equal(reason_in(pdelta, c1->serial),
			 JPKI_REASON_AFFILIATION_CHANGED);
	idp_full = X509_CRL_get_ext_d2i(part, NID_issuing_distribution_point,
					NULL, NULL);
	idp_delta = X509_CRL_get_ext_d2i(pdelta, NID_issuing_distribution_point,
					 NULL, NULL);
	assert_non_null(idp_full);
	assert_non_null(idp_delta);
	la = i2d_ISSUING_DIST_POINT(idp_full, &a);
	lb = i2d_ISSUING_DIST_POINT(idp_delta, &b);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, (size_t)la);
	/* nothing changed since: nothing to issue */
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	assert_int_equal(n, 0);

	OPENSSL_free(a);
	OPENSSL_free(b);
	ISSUING_DIST_POINT_free(idp_full);
	ISSUING_DIST_POINT_free(idp_delta);
	X509_CRL_free(delta);
	X509_CRL_free(part);
	X509_CRL_free(pdelta);
	jpki_cert_info_free(c0);
	jpki_cert_info_free(c1);
	jpki_ca_free(ca);
}

/* One number sequence (RFC 5280 5.2.3): a new full CRL comes after the
 * delta, and the next delta names it as its base. */
static void test_numbers_and_new_base(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca *ca = open_delta(f);
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_AUTH, "N0");
	X509_CRL *full, *delta;
	size_t n;
	long d1;

	later(600);
	assert_int_equal(jpki_ca_revoke(ca, c->serial, JPKI_REASON_SUPERSEDED),
			 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	delta = delta_crl(ca, "auth");
	d1 = ext_int(delta, NID_crl_number, NULL);
	X509_CRL_free(delta);
	later(600);
	assert_int_equal(jpki_ca_crl_refresh(ca, 1, &n), 0);
	full = full_crl(ca, "auth");
	assert_int_equal(ext_int(full, NID_crl_number, NULL), d1 + 1);
	assert_int_equal(reason_in(full, c->serial), JPKI_REASON_SUPERSEDED);
	X509_CRL_free(full);
	/* the delta's base is old now: a new one, with nothing since */
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	assert_true(n >= 1);
	delta = delta_crl(ca, "auth");
	assert_int_equal(ext_int(delta, NID_delta_crl, NULL), d1 + 1);
	assert_int_equal(ext_int(delta, NID_crl_number, NULL), d1 + 2);
	assert_int_equal(entries(delta), 0);
	X509_CRL_free(delta);
	/* deltas off again (f->ca): the full CRL still comes after them,
	 * and names no delta */
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n), 0);
	full = full_crl(ca, "auth");
	assert_int_equal(ext_int(full, NID_crl_number, NULL), d1 + 3);
	assert_int_equal(X509_CRL_get_ext_by_NID(full, NID_freshest_crl, -1),
			 -1);
	X509_CRL_free(full);
	jpki_cert_info_free(c);
	jpki_ca_free(ca);
}

/* A hold released after the base is in the delta as removeFromCRL. */
static void test_release_is_remove_from_crl(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca *ca = open_delta(f);
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_AUTH, "H0");
	X509_CRL *full, *delta;
	size_t n;

	assert_int_equal(jpki_ca_hold(ca, c->serial), 0);
	later(600);
	assert_int_equal(jpki_ca_crl_refresh(ca, 1, &n), 0);
	full = full_crl(ca, "auth");
	assert_int_equal(reason_in(full, c->serial),
			 JPKI_REASON_CERTIFICATE_HOLD);
	later(600);
	assert_int_equal(jpki_ca_release(ca, c->serial), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	delta = delta_crl(ca, "auth");
	assert_int_equal(reason_in(delta, c->serial), 8); /* removeFromCRL */
	X509_CRL_free(delta);
	/* and hold again: certificateHold, not removeFromCRL */
	later(1);
	assert_int_equal(jpki_ca_hold(ca, c->serial), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	assert_int_equal(n, 1);
	delta = delta_crl(ca, "auth");
	assert_int_equal(reason_in(delta, c->serial),
			 JPKI_REASON_CERTIFICATE_HOLD);
	X509_CRL_free(delta);
	X509_CRL_free(full);
	jpki_cert_info_free(c);
	jpki_ca_free(ca);
}

/* OpenSSL (-use_deltas) takes full + delta: revoked only by the delta; a
 * delta whose base is a newer full CRL than the one held is not used. */
static void test_openssl_uses_delta(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca *ca = open_delta(f);
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_AUTH, "O0");
	X509 *x = fx_x509(c), *ca_cert = jpki_ca_cert(ca, JPKI_CERT_AUTH);
	X509_CRL *old_full, *delta, *late_delta;
	size_t n;

	/* a full CRL of the delta-making CA: it names its delta */
	later(600);
	assert_int_equal(jpki_ca_crl_refresh(ca, 1, &n), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	old_full = full_crl(ca, "auth");
	assert_int_equal(
	    jpki_ca_revoke(ca, c->serial, JPKI_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	delta = delta_crl(ca, "auth");
	assert_int_equal(openssl_verify(ca_cert, x, old_full, NULL), X509_V_OK);
	assert_int_equal(openssl_verify(ca_cert, x, old_full, delta),
			 X509_V_ERR_CERT_REVOKED);
	/* a new full CRL, and a delta against it (which lists the
	 * revocation again: within DELTA_MARGIN): not for the old one */
	later(10);
	assert_int_equal(jpki_ca_crl_refresh(ca, 1, &n), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	late_delta = delta_crl(ca, "auth");
	assert_true(ext_int(late_delta, NID_delta_crl, NULL) >
		    ext_int(old_full, NID_crl_number, NULL));
	assert_int_equal(reason_in(late_delta, c->serial),
			 JPKI_REASON_KEY_COMPROMISE);
	assert_int_equal(openssl_verify(ca_cert, x, late_delta, NULL),
			 X509_V_ERR_UNABLE_TO_GET_CRL);
	assert_int_equal(openssl_verify(ca_cert, x, old_full, late_delta),
			 X509_V_OK);
	X509_CRL_free(old_full);
	X509_CRL_free(delta);
	X509_CRL_free(late_delta);
	X509_free(x);
	jpki_cert_info_free(c);
	jpki_ca_free(ca);
}

/* Without crl_delta: no delta, no FreshestCRL, the full CRL as before. */
static void test_off_by_default(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "F0");
	unsigned char *der = NULL;
	X509_CRL *full;
	char uri[128];
	size_t n = 9, len = 0;

	assert_int_equal(
	    jpki_ca_revoke(f->ca, c->serial, JPKI_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(f->ca, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(jpki_ca_crl_delta_get(&der, &len, f->ca, "sign"),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_crl_delta_get(&der, &len, f->ca, "sign/x"),
			 JPKI_ERR_INVALID);
	full = full_crl(f->ca, "sign");
	freshest_uri(uri, full);
	assert_string_equal(uri, "");
	assert_int_equal(reason_in(full, c->serial),
			 JPKI_REASON_KEY_COMPROMISE);
	X509_CRL_free(full);
	jpki_cert_info_free(c);
}

/* A retired generation's deltas go with its CRLs; the new one's stay. */
static void test_retired_generation_has_no_delta(void **state)
{
	static const struct jpki_actor officer = {"officer",
						  JPKI_ROLE_CA_OFFICER, "", ""};
	struct ca_fixture *f = *state;
	struct jpki_ca *ca = open_delta(f);
	unsigned char *der = NULL;
	size_t n, len = 0;
	X509_CRL *delta;

	assert_int_equal(jpki_audit_migrate(f->st), 0);
	assert_int_equal(jpki_ca_rollover(ca, &officer, JPKI_CERT_SIGN, NULL),
			 0);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	assert_int_equal(n, 3); /* sign, sign-2, auth */
	delta = delta_crl(ca, "sign");
	X509_CRL_free(delta);
	/* generation 1 issued nothing: it retires at once */
	assert_int_equal(jpki_ca_retire(&n, ca, &officer), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jpki_ca_crl_delta_get(&der, &len, ca, "sign"),
			 JPKI_ERR_NOT_FOUND);
	delta = delta_crl(ca, "sign-2");
	assert_int_equal(X509_CRL_verify(delta, X509_get0_pubkey(jpki_ca_cert(
						    ca, JPKI_CERT_SIGN))),
			 1);
	X509_CRL_free(delta);
	assert_int_equal(jpki_ca_crl_delta_refresh(ca, &n), 0);
	assert_int_equal(n, 0);
	jpki_ca_free(ca);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_delta_lists_changes_since_base),
	    T(test_numbers_and_new_base),
	    T(test_release_is_remove_from_crl),
	    T(test_openssl_uses_delta),
	    T(test_off_by_default),
	    T(test_retired_generation_has_no_delta),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
