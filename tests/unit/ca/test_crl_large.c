/*
 * A CRL of a few thousand entries, built the way a million are (entries
 * streamed from the store, encoded on several threads, the TBSCertList
 * encoded once): complete, in serial order, with each entry's reason and
 * date, signed, and byte for byte what OpenSSL encodes from its own
 * objects. Rows are inserted directly, as the benchmark does, reusing one
 * issued certificate's DER: issuing thousands would only test RSA.
 */
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca_fixture.h"
#include "jpki/store.h"

#define ROWS 3000

struct row {
	char serial[33];
	const char *muni;
	int status, reason;
	int64_t revoked_at, not_after;
	int listed; /* in the full signing CRL */
};

/* Number order of the hex serials: shorter first, then as text. */
static int row_cmp(const void *a, const void *b)
{
	const char *x = ((const struct row *)a)->serial;
	const char *y = ((const struct row *)b)->serial;

	if (strlen(x) != strlen(y))
		return strlen(x) < strlen(y) ? -1 : 1;
	return strcmp(x, y);
}

static void insert(struct ca_fixture *f, const struct row *r,
		   const struct jpki_cert_info *real)
{
	struct jpki_value p[] = {
		JPKI_V_TEXT(r->serial), JPKI_V_TEXT(r->muni),
		JPKI_V_INT(r->status),
		r->status ? JPKI_V_INT(r->reason) : JPKI_V_NULL,
		r->status ? JPKI_V_INT(r->revoked_at) : JPKI_V_NULL,
		JPKI_V_INT(r->not_after), JPKI_V_BLOB(real->der, real->der_len)};

	assert_int_equal(
		jpki_store_exec(f->st,
				"INSERT INTO ca_cert (serial, type, card,"
				" person, municipality, subject, status,"
				" reason, revoked_at, version, not_before,"
				" not_after, issued_at, der) VALUES ($1, 1,"
				" 1, 'T', $2, 'CN=t', $3, $4, $5, 2,"
				" 1700000000, $6, 1700000000, $7)",
				p, 7, NULL),
		0);
}

/* Fills rows[]: revoked with every reason, held, good, expired, one
 * revocation date past 2049 (GeneralizedTime), one short serial, two
 * municipalities. */
static size_t fill(struct ca_fixture *f, struct row *rows,
		   const struct jpki_cert_info *real)
{
	static const int reasons[] = {0, 1, 3, 4, 5};
	time_t now = jpki_clock_now();
	size_t listed = 0;

	assert_int_equal(jpki_store_begin(f->st), 0);
	for (int i = 0; i < ROWS; i++) {
		struct row *r = &rows[i];
		unsigned char raw[16];

		assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
		raw[0] = (unsigned char)((raw[0] & 0x3f) | 0x40);
		for (int k = 0; k < 16; k++)
			snprintf(r->serial + 2 * k, 3, "%02X", raw[k]);
		/* A short serial sorts after the long ones as text but
		 * before them as a number: the CRL must sort it. */
		if (i == 7)
			snprintf(r->serial, sizeof(r->serial), "7F01");
		r->muni = i % 3 ? "131016" : "131032";
		r->status = i % 7 == 6 ? 2 : i % 11 == 10 ? 0 : 1;
		r->reason = r->status == 2 ? JPKI_REASON_CERTIFICATE_HOLD
					   : reasons[i % 5];
		r->revoked_at = (int64_t)now - 1 - i * 977;
		if (i == 5)
			r->revoked_at = 2561432767; /* 2051-03-03 */
		r->not_after = i % 13 == 12 ? (int64_t)now - 10
					    : (int64_t)now + 86400 * 365;
		r->listed = r->status != 0 && r->not_after > now;
		listed += (size_t)r->listed;
		insert(f, r, real);
	}
	assert_int_equal(jpki_store_commit(f->st), 0);
	return listed;
}

static X509_CRL *get_crl(struct ca_fixture *f, const char *scope,
			 unsigned char **der, size_t *len)
{
	const unsigned char *p;
	X509_CRL *crl;

	assert_int_equal(jpki_ca_crl_get(der, len, f->ca, scope), 0);
	p = *der;
	crl = d2i_X509_CRL(NULL, &p, (long)*len);
	assert_non_null(crl);
	assert_true(p == *der + *len);
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

/* The CRL lists exactly the rows of `muni` (NULL: all) that are revoked
 * or held and not expired, in this order, with their reasons and dates. */
static void check_entries(X509_CRL *crl, const struct row *rows,
			  const char *muni)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	int k = 0;

	for (int i = 0; i < ROWS; i++) {
		const struct row *r = &rows[i];
		X509_REVOKED *rev;
		ASN1_ENUMERATED *code;
		BIGNUM *bn;
		char *hex;
		struct tm tm;

		if (!r->listed || (muni != NULL && strcmp(r->muni, muni) != 0))
			continue;
		assert_true(k < sk_X509_REVOKED_num(revs));
		rev = sk_X509_REVOKED_value(revs, k++);
		bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(rev),
					NULL);
		hex = BN_bn2hex(bn);
		assert_string_equal(hex, r->serial);
		OPENSSL_free(hex);
		BN_free(bn);
		code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL,
						NULL);
		if (r->reason == JPKI_REASON_UNSPECIFIED) {
			assert_null(code);
			assert_int_equal(X509_REVOKED_get_ext_count(rev), 0);
		} else {
			assert_non_null(code);
			assert_int_equal(ASN1_ENUMERATED_get(code), r->reason);
		}
		ASN1_ENUMERATED_free(code);
		assert_int_equal(
			ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(rev),
					&tm),
			1);
		assert_int_equal((int64_t)timegm(&tm), r->revoked_at);
		assert_int_equal(
			ASN1_STRING_type(X509_REVOKED_get0_revocationDate(rev)),
			r->revoked_at >= 2524608000 ? V_ASN1_GENERALIZEDTIME
						    : V_ASN1_UTCTIME);
	}
	assert_int_equal(k, sk_X509_REVOKED_num(revs));
}

/* OpenSSL, encoding the parsed CRL again from its objects, gets the same
 * bytes: the CRL is DER as OpenSSL writes it. */
static void check_reencodes(X509_CRL *crl, const unsigned char *der,
			    size_t len)
{
	unsigned char *tbs = NULL, *again = NULL;
	int n;

	assert_true(i2d_re_X509_CRL_tbs(crl, &tbs) > 0);
	n = i2d_X509_CRL(crl, &again);
	assert_int_equal(n, (int)len);
	assert_memory_equal(again, der, len);
	OPENSSL_free(tbs);
	OPENSSL_free(again);
}

static void test_large_crl(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *real = fx_issue(f, JPKI_CERT_SIGN, "L0");
	struct row *rows = calloc(ROWS, sizeof(*rows));
	X509 *ca_cert = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	unsigned char *der = NULL;
	size_t len = 0, n, listed;
	X509_CRL *crl;

	assert_non_null(rows);
	listed = fill(f, rows, real);
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n), 0);
	qsort(rows, ROWS, sizeof(*rows), row_cmp);

	crl = get_crl(f, "sign", &der, &len);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)),
			 (int)listed);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_cert)), 1);
	assert_int_equal(X509_CRL_get_version(crl), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
				       X509_get_subject_name(ca_cert)),
			 0);
	check_entries(crl, rows, NULL);
	check_reencodes(crl, der, len);
	X509_CRL_free(crl);
	free(der);

	crl = get_crl(f, "sign/131032", &der, &len);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_cert)), 1);
	check_entries(crl, rows, "131032");
	check_reencodes(crl, der, len);
	X509_CRL_free(crl);
	free(der);

	/* the authentication CA's CRL stays empty: no revokedCertificates
	 * field at all (RFC 5280 5.1.2.6) */
	crl = get_crl(f, "auth", &der, &len);
	assert_null(X509_CRL_get_REVOKED(crl));
	check_reencodes(crl, der, len);
	X509_CRL_free(crl);
	free(der);

	free(rows);
	jpki_cert_info_free(real);
}

/* A row the CRL cannot state fails the build, and the CRL in the store
 * stays the one before. */
static void test_bad_rows_leave_crl(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *real = fx_issue(f, JPKI_CERT_SIGN, "L1");
	static const char *const bad[] = {
		"INSERT INTO ca_cert (serial, type, card, person,"
		" municipality, subject, status, reason, revoked_at, version,"
		" not_before, not_after, issued_at, der) VALUES ('NOT-HEX', 1,"
		" 1, 'T', '131016', 'CN=t', 1, 1, 1760000000, 2, 1700000000,"
		" 2000000000, 1700000000, $1)",
		"INSERT INTO ca_cert (serial, type, card, person,"
		" municipality, subject, status, reason, revoked_at, version,"
		" not_before, not_after, issued_at, der) VALUES ('4A', 1, 1,"
		" 'T', '131016', 'CN=t', 1, 7, 1760000000, 2, 1700000000,"
		" 2000000000, 1700000000, $1)",
	};
	unsigned char *der = NULL, *der2 = NULL;
	size_t len, len2, n;
	X509_CRL *crl;
	long number;

	crl = get_crl(f, "sign", &der, &len);
	number = crl_number(crl);
	X509_CRL_free(crl);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jpki_value p = JPKI_V_BLOB(real->der, real->der_len);

		assert_int_equal(jpki_store_exec(f->st, bad[i], &p, 1, NULL), 0);
		assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n),
				 JPKI_ERR_INTERNAL);
		crl = get_crl(f, "sign", &der2, &len2);
		assert_int_equal(crl_number(crl), number);
		assert_int_equal(len2, len);
		assert_memory_equal(der2, der, len);
		X509_CRL_free(crl);
		free(der2);
		assert_int_equal(jpki_store_exec(f->st,
						 "DELETE FROM ca_cert WHERE"
						 " person = 'T'",
						 NULL, 0, NULL),
				 0);
	}
	/* without them it builds again */
	assert_int_equal(jpki_ca_crl_refresh(f->ca, 1, &n), 0);
	crl = get_crl(f, "sign", &der2, &len2);
	assert_int_equal(crl_number(crl), number + 1);
	X509_CRL_free(crl);
	free(der2);
	free(der);
	jpki_cert_info_free(real);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_large_crl),
		T(test_bad_rows_leave_crl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
