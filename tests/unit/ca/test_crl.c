/* CRLs: full per CA, partitioned per municipality, numbered, signed. */
#include <openssl/x509v3.h>

#include "ca_fixture.h"

static X509_CRL *get_crl(struct ca_fixture *f, const char *scope)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509_CRL *crl;

	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, scope), 0);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_true(p == der + len);
	free(der);
	return crl;
}

static long crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL,
						 NULL);
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

		OPENSSL_free(hex);
		BN_free(bn);
		if (!match)
			continue;
		{
			ASN1_ENUMERATED *code = X509_REVOKED_get_ext_d2i(
				rev, NID_crl_reason, NULL, NULL);

			if (code != NULL)
				reason = (int)ASN1_ENUMERATED_get(code);
			ASN1_ENUMERATED_free(code);
		}
		return reason;
	}
	return -1;
}

static void test_initial_crls(void **state)
{
	struct ca_fixture *f = *state;
	X509_CRL *s = get_crl(f, "sign"), *a = get_crl(f, "auth");
	unsigned char *der = NULL;
	size_t len;

	assert_int_equal(X509_CRL_verify(s, X509_get0_pubkey(jpki_ca_cert(
						    f->ca, JPKI_CERT_SIGN))),
			 1);
	assert_int_equal(X509_CRL_verify(a, X509_get0_pubkey(jpki_ca_cert(
						    f->ca, JPKI_CERT_AUTH))),
			 1);
	assert_int_equal(X509_CRL_get_version(s), 1); /* v2 */
	assert_null(X509_CRL_get_REVOKED(s)); /* no entries at all */
	assert_int_equal(crl_number(s), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(s),
				       X509_get_subject_name(jpki_ca_cert(
					       f->ca, JPKI_CERT_SIGN))),
			 0);
	/* no partition before a certificate names the municipality */
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign/131016"),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign/../x"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "auth/131016"),
			 JPKI_ERR_INVALID);
	X509_CRL_free(s);
	X509_CRL_free(a);
}

static void test_partitions_and_reasons(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "C2");
	struct jpki_cert_info *c1 = fx_issue(f, JPKI_CERT_SIGN, "C1"), *c2 = NULL;
	struct jpki_cert_info *a1 = fx_issue(f, JPKI_CERT_AUTH, "C1");
	X509_CRL *full, *chiyoda, *minato, *auth;
	ISSUING_DIST_POINT *idp;
	GENERAL_NAME *gn;
	X509 *x1 = fx_x509(c1);
	STACK_OF(DIST_POINT) *dps;

	req.municipality_code = "131032"; /* Minato-ku */
	req.municipality = "Minato-ku";
	assert_int_equal(jpki_ca_issue(&c2, f->ca, &req, f->key), 0);
	assert_int_equal(jpki_ca_revoke(f->ca, c1->serial,
					JPKI_REASON_AFFILIATION_CHANGED),
			 0);
	assert_int_equal(jpki_ca_revoke(f->ca, c2->serial,
					JPKI_REASON_UNSPECIFIED),
			 0);
	assert_int_equal(jpki_ca_hold(f->ca, a1->serial), 0);

	full = get_crl(f, "sign");
	chiyoda = get_crl(f, "sign/131016");
	minato = get_crl(f, "sign/131032");
	auth = get_crl(f, "auth");
	assert_int_equal(reason_in(full, c1->serial),
			 JPKI_REASON_AFFILIATION_CHANGED);
	assert_int_equal(reason_in(full, c2->serial), -2); /* unspecified */
	assert_int_equal(reason_in(chiyoda, c1->serial),
			 JPKI_REASON_AFFILIATION_CHANGED);
	assert_int_equal(reason_in(chiyoda, c2->serial), -1);
	assert_int_equal(reason_in(minato, c2->serial), -2);
	assert_int_equal(reason_in(minato, c1->serial), -1);
	assert_int_equal(reason_in(auth, a1->serial),
			 JPKI_REASON_CERTIFICATE_HOLD);
	/* the partition's IDP is the certificate's CRL distribution point */
	idp = X509_CRL_get_ext_d2i(chiyoda, NID_issuing_distribution_point,
				   NULL, NULL);
	assert_non_null(idp);
	assert_true(idp->onlyuser);
	gn = sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0);
	dps = X509_get_ext_d2i(x1, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(dps);
	assert_int_equal(
		GENERAL_NAME_cmp(gn, sk_GENERAL_NAME_value(
					     sk_DIST_POINT_value(dps, 0)
						     ->distpoint->name.fullname,
					     0)),
		0);
	assert_string_equal(
		(const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
		"http://127.0.0.1:8080/crl/sign/131016.crl");
	/* numbers grow with each regeneration of a scope */
	assert_true(crl_number(full) >= 3);
	assert_int_equal(crl_number(chiyoda), 2);
	/* the full CRL has no IDP */
	assert_null(X509_CRL_get_ext_d2i(full, NID_issuing_distribution_point,
					 NULL, NULL));
	/* release takes it off the CRL */
	assert_int_equal(jpki_ca_release(f->ca, a1->serial), 0);
	X509_CRL_free(auth);
	auth = get_crl(f, "auth");
	assert_int_equal(reason_in(auth, a1->serial), -1);

	ISSUING_DIST_POINT_free(idp);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	X509_free(x1);
	X509_CRL_free(full);
	X509_CRL_free(chiyoda);
	X509_CRL_free(minato);
	X509_CRL_free(auth);
	jpki_cert_info_free(c1);
	jpki_cert_info_free(c2);
	jpki_cert_info_free(a1);
}

static void test_periodic_refresh(void **state)
{
	struct ca_fixture *f = *state;
	X509_CRL *before = get_crl(f, "sign"), *after;
	size_t n;
	time_t t;

	/* nothing is due right after init */
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 0, &n), 0);
	assert_int_equal(n, 0);
	/* 13 hours later (period 1 day) both full CRLs are due */
	assert_int_equal(jpki_clock_parse(&t, "2026-01-10T23:00:00"), 0);
	jpki_clock_freeze(t);
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 0, &n), 0);
	assert_int_equal(n, 2);
	after = get_crl(f, "sign");
	assert_int_equal(crl_number(after), crl_number(before) + 1);
	assert_true(ASN1_TIME_compare(X509_CRL_get0_nextUpdate(after),
				      X509_CRL_get0_nextUpdate(before)) > 0);
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n), 0);
	assert_int_equal(n, 2);
	X509_CRL_free(before);
	X509_CRL_free(after);
}

static void test_expired_entries_leave(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "E1");
	X509_CRL *crl;
	size_t n;

	assert_int_equal(jpki_ca_revoke(f->ca, c->serial, 1), 0);
	crl = get_crl(f, "sign");
	assert_int_equal(reason_in(crl, c->serial), 1);
	X509_CRL_free(crl);
	fx_at("2030-06-02"); /* after the certificate's last day */
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n), 0);
	crl = get_crl(f, "sign");
	assert_int_equal(reason_in(crl, c->serial), -1);
	X509_CRL_free(crl);
	jpki_cert_info_free(c);
}

/* A full CRL of crl_inline_max entries or more waits for
 * jpki_ca_crl_refresh_stale; the partition never waits. */
static void test_large_full_crl_waits(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_cert_info *c[3];
	struct jpki_ca *ca = NULL;
	X509_CRL *full, *part;
	size_t n;

	opts.crl_inline_max = 2;
	assert_int_equal(jpki_ca_open(&ca, f->st, &opts), 0);
	for (int i = 0; i < 3; i++) {
		char person[8];

		snprintf(person, sizeof(person), "L%d", i);
		c[i] = fx_issue(f, JPKI_CERT_SIGN, person);
		assert_int_equal(jpki_ca_revoke(ca, c[i]->serial,
						JPKI_REASON_KEY_COMPROMISE),
				 0);
	}
	/* the third revocation found 2 entries listed: stale, not made */
	full = get_crl(f, "sign");
	part = get_crl(f, "sign/131016");
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(full)), 2);
	assert_int_equal(reason_in(full, c[2]->serial), -1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(part)), 3);
	X509_CRL_free(full);
	X509_CRL_free(part);

	assert_int_equal(jpki_ca_crl_refresh_stale(ca, &n), 0);
	assert_int_equal(n, 1);
	full = get_crl(f, "sign");
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(full)), 3);
	assert_int_equal(reason_in(full, c[2]->serial),
			 JPKI_REASON_KEY_COMPROMISE);
	X509_CRL_free(full);
	assert_int_equal(jpki_ca_crl_refresh_stale(ca, &n), 0);
	assert_int_equal(n, 0);

	/* the periodic refresh counts a stale CRL as due, too */
	{
		struct jpki_cert_info *held = fx_issue(f, JPKI_CERT_SIGN, "L9");

		assert_int_equal(jpki_ca_hold(ca, held->serial), 0);
		jpki_cert_info_free(held);
	}
	full = get_crl(f, "sign");
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(full)), 3);
	X509_CRL_free(full);
	assert_int_equal(jpki_ca_crl_refresh(ca, 0, &n), 0);
	full = get_crl(f, "sign");
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(full)), 4);
	X509_CRL_free(full);
	for (int i = 0; i < 3; i++)
		jpki_cert_info_free(c[i]);
	jpki_ca_free(ca);
}

/* With the default crl_inline_max a full CRL of a thousand entries waits
 * for jpki_ca_crl_refresh_stale: regenerating it in each revocation would
 * cost more than the revocation's own commit, and grow with the CRL
 * (docs/PERFORMANCE.md). Its mark is kept apart from the CRL's row, which
 * SQLite would write again whole. The partition never waits. */
static void test_default_full_crl_waits(void **state)
{
	struct ca_fixture *f = *state;
	size_t n = 1000, count = 0; /* JPKI_CA_CRL_INLINE_MAX */
	struct jpki_issue_request *reqs = calloc(n, sizeof(*reqs));
	struct jpki_issue_result *res = calloc(n, sizeof(*res));
	EVP_PKEY **keys = calloc(n, sizeof(*keys));
	char (*persons)[16] = calloc(n, 16), sql[160];
	struct jpki_cert_info *late;
	X509_CRL *full, *part;
	long number;

	assert_non_null(reqs);
	assert_non_null(res);
	assert_non_null(keys);
	assert_non_null(persons);
	for (size_t i = 0; i < n; i++) {
		snprintf(persons[i], 16, "B%zu", i);
		reqs[i] = fx_request(JPKI_CERT_SIGN, persons[i]);
		keys[i] = f->key;
	}
	assert_int_equal(jpki_ca_issue_batch(res, f->ca, reqs, keys, n, 0), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].code, 0);
		jpki_cert_info_free(res[i].info);
	}
	/* revoked at once, as a bulk load would leave them */
	snprintf(sql, sizeof(sql),
		 "UPDATE ca_cert SET status = %d, reason = %d,"
		 " revoked_at = %lld WHERE type = %d",
		 JPKI_STATUS_REVOKED, JPKI_REASON_KEY_COMPROMISE,
		 (long long)jpki_clock_now(), JPKI_CERT_SIGN);
	assert_int_equal(jpki_store_exec(f->st, sql, NULL, 0, NULL), 0);
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &count), 0);
	full = get_crl(f, "sign");
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(full)), n);
	number = crl_number(full);
	X509_CRL_free(full);

	late = fx_issue(f, JPKI_CERT_SIGN, "late");
	assert_int_equal(jpki_ca_revoke(f->ca, late->serial,
					JPKI_REASON_AFFILIATION_CHANGED),
			 0);
	full = get_crl(f, "sign");
	part = get_crl(f, "sign/131016");
	assert_int_equal(crl_number(full), number);
	assert_int_equal(reason_in(full, late->serial), -1);
	assert_int_equal(reason_in(part, late->serial),
			 JPKI_REASON_AFFILIATION_CHANGED);
	X509_CRL_free(full);
	X509_CRL_free(part);

	assert_int_equal(jpki_ca_crl_refresh_stale(f->ca, &count), 0);
	assert_int_equal(count, 1);
	full = get_crl(f, "sign");
	assert_int_equal(crl_number(full), number + 1);
	assert_int_equal(reason_in(full, late->serial),
			 JPKI_REASON_AFFILIATION_CHANGED);
	X509_CRL_free(full);
	jpki_cert_info_free(late);
	free(reqs);
	free(res);
	free(keys);
	free(persons);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_initial_crls),
		T(test_partitions_and_reasons),
		T(test_periodic_refresh),
		T(test_expired_entries_leave),
		T(test_large_full_crl_waits),
		T(test_default_full_crl_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
