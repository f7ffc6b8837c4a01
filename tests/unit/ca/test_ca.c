/* The CA: request intake, issue, renew, revoke, hold, records, links. */
#include <ctype.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ca_fixture.h"

static void test_init_twice_refused(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char *keys;

	assert_true(asprintf(&keys, "%s/keys2", f->dir) > 0);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	assert_int_equal(jpki_ca_init(f->st, &opts), JPKI_ERR_EXISTS);
	opts.public_url = "ftp://x";
	assert_int_equal(jpki_ca_init(f->st, &opts), JPKI_ERR_INVALID);
	free(keys);
}

static void test_ca_certificates(void **state)
{
	struct ca_fixture *f = *state;

	for (int t = JPKI_CERT_SIGN; t <= JPKI_CERT_AUTH; t++) {
		X509 *ca = jpki_ca_cert(f->ca, (enum jpki_cert_type)t);
		X509 *ocsp = jpki_ca_ocsp_cert(f->ca, (enum jpki_cert_type)t);
		EVP_PKEY *pub = X509_get0_pubkey(ca);
		X509_NAME *want = jpki_profile_ca_name((enum jpki_cert_type)t);

		assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
		assert_int_equal(X509_verify(ca, pub), 1);
		assert_int_equal(X509_verify(ocsp, pub), 1);
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca), want),
				 0);
		assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(ca), want),
				 0);
		assert_true(X509_get_extended_key_usage(ocsp) & XKU_OCSP_SIGN);
		X509_NAME_free(want);
	}
}

static void test_csr_intake(void **state)
{
	struct ca_fixture *f = *state;
	EVP_PKEY *key = NULL, *small = EVP_RSA_gen(1024);
	unsigned char *der, *bad;
	size_t len, slen;

	der = fx_csr(f->key, &len);
	assert_int_equal(jpki_ca_csr_parse(&key, der, len), 0);
	assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
	EVP_PKEY_free(key);

	/* a flipped byte in the signature */
	bad = malloc(len);
	memcpy(bad, der, len);
	bad[len - 5] ^= 0x01;
	assert_int_equal(jpki_ca_csr_parse(&key, bad, len), JPKI_ERR_SIGNATURE);
	assert_null(key);
	assert_non_null(strstr(jpki_err_detail(), "signature"));
	/* truncated, garbage, empty, oversized */
	assert_int_equal(jpki_ca_csr_parse(&key, der, len - 10), JPKI_ERR_PARSE);
	assert_int_equal(jpki_ca_csr_parse(&key, (const unsigned char *)"\x30"
								       "\x03"
								       "abc",
					   5),
			 JPKI_ERR_PARSE);
	assert_int_equal(jpki_ca_csr_parse(&key, der, 0), JPKI_ERR_PARSE);
	assert_int_equal(jpki_ca_csr_parse(&key, der, JPKI_MAX_CSR + 1),
			 JPKI_ERR_TOO_LARGE);
	assert_int_equal(jpki_ca_csr_parse(&key, (const unsigned char *)
						 "-----BEGIN CERTIFICATE "
						 "REQUEST-----\nxx\n",
					   40),
			 JPKI_ERR_PARSE);
	free(bad);
	OPENSSL_free(der);

	/* a good request for a key the service does not accept */
	der = fx_csr(small, &slen);
	assert_int_equal(jpki_ca_csr_parse(&key, der, slen), JPKI_ERR_POLICY);
	OPENSSL_free(der);
	EVP_PKEY_free(small);
}

static void test_issue_sign_and_auth(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *s = fx_issue(f, JPKI_CERT_SIGN, "P1");
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_AUTH, "P1");
	struct jpki_cert_info *st = NULL;
	struct jpki_facts facts;
	X509 *xs = fx_x509(s), *xa = fx_x509(a);
	struct jpki_date end;

	assert_int_equal(strlen(s->serial), 32);
	assert_string_not_equal(s->serial, a->serial);
	assert_int_equal(s->status, JPKI_STATUS_GOOD);
	assert_int_equal(X509_verify(xs, X509_get0_pubkey(jpki_ca_cert(
						 f->ca, JPKI_CERT_SIGN))),
			 1);
	assert_int_equal(X509_verify(xa, X509_get0_pubkey(jpki_ca_cert(
						 f->ca, JPKI_CERT_AUTH))),
			 1);
	/* the signing CA did not sign the auth certificate */
	assert_int_equal(X509_verify(xa, X509_get0_pubkey(jpki_ca_cert(
						 f->ca, JPKI_CERT_SIGN))),
			 0);
	assert_int_equal(jpki_profile_cert_type(xs), JPKI_CERT_SIGN);
	assert_int_equal(jpki_profile_cert_type(xa), JPKI_CERT_AUTH);
	assert_int_equal(jpki_profile_facts_from_cert(&facts, xs), 0);
	assert_string_equal(facts.name, "山田　太郎");
	/* issued 2026-01-10, born 06-01: the 5th birthday after is
	 * 2030-06-01, before the card's 2035 expiry */
	end = jpki_date_of(s->not_after);
	assert_int_equal(end.year, 2030);
	assert_int_equal(end.month, 6);
	assert_int_equal(end.day, 1);
	assert_int_equal(s->not_after, jpki_date_end(&end));
	/* the record reads back */
	assert_int_equal(jpki_ca_status(&st, f->ca, s->serial), 0);
	assert_string_equal(st->person, "P1");
	assert_string_equal(st->municipality_code, "131016");
	assert_int_equal(st->der_len, s->der_len);
	assert_memory_equal(st->der, s->der, s->der_len);
	jpki_cert_info_free(st);
	/* lower case and leading zeros are accepted */
	{
		char lower[41];

		for (size_t i = 0; i <= strlen(s->serial); i++)
			lower[i] = (char)tolower((unsigned char)s->serial[i]);
		assert_int_equal(jpki_ca_status(&st, f->ca, lower), 0);
		jpki_cert_info_free(st);
	}
	X509_free(xs);
	X509_free(xa);
	jpki_cert_info_free(s);
	jpki_cert_info_free(a);
}

static void test_issue_refusals_change_nothing(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "P2");
	struct jpki_cert_info *info = NULL, *first;
	int64_t before = fx_count(f, "SELECT COUNT(*) FROM ca_cert");

	req.municipality_code = "13101";
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_INVALID);
	req = fx_request(JPKI_CERT_SIGN, "P2");
	req.facts.name[0] = '\0';
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_INVALID);
	req = fx_request(JPKI_CERT_SIGN, "");
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_INVALID);
	req = fx_request(JPKI_CERT_SIGN, "P2");
	req.card_expiry = (struct jpki_date){2020, 1, 1};
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_POLICY);
	req = fx_request(JPKI_CERT_AUTH, "P2");
	req.card = JPKI_CARD_JUKI;
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_POLICY);
	assert_null(info);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), before);

	/* one valid certificate of a kind per person */
	first = fx_issue(f, JPKI_CERT_SIGN, "P2");
	req = fx_request(JPKI_CERT_SIGN, "P2");
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), first->serial));
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
			 before + 1);
	jpki_cert_info_free(first);
}

/* A store failure at any step of an issue leaves no trace. */
static void test_issue_store_fault_leaves_nothing(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "P3");
	struct jpki_cert_info *info = NULL;
	int failures = 0;

	for (int nth = 1; nth < 40; nth++) {
		int r;

		jpki_store_fail_after(f->st, nth);
		r = jpki_ca_issue(&info, f->ca, &req, f->key);
		jpki_store_fail_after(f->st, 0);
		if (r == 0) {
			jpki_cert_info_free(info);
			break;
		}
		failures++;
		assert_int_equal(r, JPKI_ERR_STORE);
		assert_null(info);
		assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
				 0);
		assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_crl "
					     "WHERE scope = 'sign/131016'"),
				 0);
	}
	assert_true(failures > 3);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), 1);
}

/* A batch: one commit for all; refusals (bad request, no key, a person
 * twice) stay apart; what is recorded matches what single issue records. */
static void test_issue_batch(void **state)
{
	struct ca_fixture *f = *state;
	enum { N = 12 };
	struct jpki_issue_request reqs[N];
	struct jpki_issue_result res[N];
	EVP_PKEY *keys[N];
	char persons[N][16];

	for (int i = 0; i < N; i++) {
		snprintf(persons[i], sizeof(persons[i]), "B%d", i);
		reqs[i] = fx_request(i % 2 ? JPKI_CERT_AUTH : JPKI_CERT_SIGN,
				     persons[i]);
		keys[i] = f->key;
	}
	reqs[3].municipality_code = "1310";         /* bad request */
	keys[5] = NULL;                             /* no key */
	reqs[7] = fx_request(JPKI_CERT_AUTH, "B1"); /* B1 twice */
	assert_int_equal(jpki_ca_issue_batch(res, f->ca, reqs, keys, N, 3), 0);
	for (int i = 0; i < N; i++) {
		if (i == 3 || i == 5) {
			assert_int_equal(res[i].code, JPKI_ERR_INVALID);
			assert_null(res[i].info);
			assert_true(res[i].message[0] != '\0');
			continue;
		}
		if (i == 7) {
			assert_int_equal(res[i].code, JPKI_ERR_STATE);
			assert_non_null(strstr(res[i].message, "B1"));
			assert_null(res[i].info);
			continue;
		}
		assert_int_equal(res[i].code, 0);
		assert_non_null(res[i].info);
		{
			struct jpki_cert_info *back = NULL;
			X509 *x = fx_x509(res[i].info);

			assert_int_equal(jpki_ca_status(&back, f->ca,
							res[i].info->serial),
					 0);
			assert_int_equal(back->der_len, res[i].info->der_len);
			assert_memory_equal(back->der, res[i].info->der,
					    back->der_len);
			assert_string_equal(back->subject,
					    res[i].info->subject);
			assert_int_equal(back->not_after,
					 res[i].info->not_after);
			assert_int_equal(back->type, reqs[i].type);
			assert_int_equal(
				X509_verify(x, X509_get0_pubkey(jpki_ca_cert(
						       f->ca, reqs[i].type))),
				1);
			X509_free(x);
			jpki_cert_info_free(back);
		}
		jpki_cert_info_free(res[i].info);
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), N - 3);
	/* the partition of the municipality exists from the first one */
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_crl "
				     "WHERE scope = 'sign/131016'"),
			 1);
	assert_int_equal(jpki_ca_issue_batch(res, f->ca, reqs, keys,
					     JPKI_ISSUE_MAX_BATCH + 1, 1),
			 JPKI_ERR_TOO_LARGE);
}

/* A store failure anywhere in a batch's transaction records none of it. */
static void test_issue_batch_store_fault(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request reqs[4];
	struct jpki_issue_result res[4];
	EVP_PKEY *keys[4];
	char persons[4][16];
	int failures = 0;

	for (int i = 0; i < 4; i++) {
		snprintf(persons[i], sizeof(persons[i]), "F%d", i);
		reqs[i] = fx_request(JPKI_CERT_SIGN, persons[i]);
		keys[i] = f->key;
	}
	for (int nth = 1; nth < 80; nth++) {
		int r;

		jpki_store_fail_after(f->st, nth);
		r = jpki_ca_issue_batch(res, f->ca, reqs, keys, 4, 2);
		jpki_store_fail_after(f->st, 0);
		if (r == 0)
			break;
		failures++;
		assert_int_equal(r, JPKI_ERR_STORE);
		for (int i = 0; i < 4; i++)
			assert_null(res[i].info);
		assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
				 0);
	}
	assert_true(failures > 8);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(res[i].code, 0);
		jpki_cert_info_free(res[i].info);
	}
}

/* A store failure in a later group keeps the groups committed before it,
 * and says of every other request that it was not recorded. The failure
 * is moved statement by statement until the first group is committed
 * and the second fails: however many statements a group takes. */
static void test_issue_batch_fault_in_second_group(void **state)
{
	struct ca_fixture *f = *state;
	enum { N = JPKI_ISSUE_GROUP + 40 };
	static struct jpki_issue_request reqs[N];
	static struct jpki_issue_result res[N];
	static EVP_PKEY *keys[N];
	static char persons[N][16];
	size_t recorded = 0;
	int nth, r = 0;

	for (int i = 0; i < N; i++) {
		snprintf(persons[i], sizeof(persons[i]), "G%d", i);
		reqs[i] = fx_request(JPKI_CERT_SIGN, persons[i]);
		keys[i] = f->key;
	}
	for (nth = 1; nth < 4 * N; nth++) {
		jpki_store_fail_after(f->st, nth);
		r = jpki_ca_issue_batch(res, f->ca, reqs, keys, N, 2);
		jpki_store_fail_after(f->st, 0);
		assert_int_equal(r, JPKI_ERR_STORE); /* never the whole batch */
		if (res[0].code == 0)
			break;
		/* a failure in the first group: nothing of it */
		assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
				 0);
	}
	assert_true(nth < 4 * N);
	for (int i = 0; i < N; i++) {
		if (i < JPKI_ISSUE_GROUP) {
			assert_int_equal(res[i].code, 0);
			assert_non_null(res[i].info);
			recorded++;
			jpki_cert_info_free(res[i].info);
		} else {
			assert_int_equal(res[i].code, JPKI_ERR_STORE);
			assert_null(res[i].info);
			assert_non_null(strstr(res[i].message,
					       "not recorded"));
		}
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
			 (int64_t)recorded);
}

/* A group costs a few statements, not several a certificate (on
 * PostgreSQL each is a round trip): a full group of new persons is
 * recorded within 40 statements (before: four a certificate, 1024). The
 * injected failure counts them. */
static void test_issue_batch_few_statements(void **state)
{
	struct ca_fixture *f = *state;
	enum { N = JPKI_ISSUE_GROUP };
	static struct jpki_issue_request reqs[N];
	static struct jpki_issue_result res[N];
	static EVP_PKEY *keys[N];
	static char persons[N][16];

	for (int i = 0; i < N; i++) {
		snprintf(persons[i], sizeof(persons[i]), "S%d", i);
		reqs[i] = fx_request(JPKI_CERT_SIGN, persons[i]);
		keys[i] = f->key;
	}
	/* the first group of a new municipality makes its partition: a
	 * dozen statements of ca_crl_generate, once */
	jpki_store_fail_after(f->st, 40);
	assert_int_equal(jpki_ca_issue_batch(res, f->ca, reqs, keys, N, 2), 0);
	jpki_store_fail_after(f->st, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[i].code, 0);
		jpki_cert_info_free(res[i].info);
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), N);
	/* negative: the same budget does not cover twenty certificates one
	 * at a time, which still take their statements each */
	{
		int failed = 0;

		jpki_store_fail_after(f->st, 40);
		for (int i = 0; i < 20; i++) {
			struct jpki_cert_info *info = NULL;
			struct jpki_issue_request req;

			snprintf(persons[i], sizeof(persons[i]), "T%d", i);
			req = fx_request(JPKI_CERT_SIGN, persons[i]);
			if (jpki_ca_issue(&info, f->ca, &req, f->key) ==
			    JPKI_ERR_STORE)
				failed++;
			jpki_cert_info_free(info);
		}
		jpki_store_fail_after(f->st, 0);
		assert_int_equal(failed, 1);
	}
}

/* Within one group, a person's second request sees the first as one by
 * one would: the pair link between a person's signing and authentication
 * certificates, the reissue link to a revoked one, and a second request
 * of the same type refused. */
static void test_issue_batch_same_person_in_group(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request reqs[5];
	struct jpki_issue_result res[5];
	EVP_PKEY *keys[5];
	struct jpki_cert_info *old = fx_issue(f, JPKI_CERT_SIGN, "R1");

	assert_int_equal(jpki_ca_revoke(f->ca, old->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	reqs[0] = fx_request(JPKI_CERT_SIGN, "Q1");
	reqs[1] = fx_request(JPKI_CERT_AUTH, "Q1");
	reqs[2] = fx_request(JPKI_CERT_SIGN, "R1");
	reqs[3] = fx_request(JPKI_CERT_SIGN, "Q1"); /* Q1 holds one now */
	reqs[4] = fx_request(JPKI_CERT_AUTH, "R1");
	for (int i = 0; i < 5; i++)
		keys[i] = f->key;
	assert_int_equal(jpki_ca_issue_batch(res, f->ca, reqs, keys, 5, 2), 0);
	assert_int_equal(res[3].code, JPKI_ERR_STATE);
	assert_non_null(strstr(res[3].message, res[0].info->serial));
	for (int i = 0; i < 5; i++)
		if (i != 3)
			assert_int_equal(res[i].code, 0);
	/* pairs: Q1's two, R1's new signing one with its authentication
	 * one; the reissue: R1's revoked one to its new one */
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_link"), 3);
	{
		char sql[256];

		snprintf(sql, sizeof(sql),
			 "SELECT COUNT(*) FROM ca_link WHERE from_serial = '%s'"
			 " AND to_serial = '%s'",
			 res[0].info->serial, res[1].info->serial);
		assert_int_equal(fx_count(f, sql), 1);
		snprintf(sql, sizeof(sql),
			 "SELECT COUNT(*) FROM ca_link WHERE from_serial = '%s'"
			 " AND to_serial = '%s'",
			 res[2].info->serial, res[4].info->serial);
		assert_int_equal(fx_count(f, sql), 1);
		snprintf(sql, sizeof(sql),
			 "SELECT COUNT(*) FROM ca_link WHERE from_serial = '%s'"
			 " AND to_serial = '%s'",
			 old->serial, res[2].info->serial);
		assert_int_equal(fx_count(f, sql), 1);
	}
	for (int i = 0; i < 5; i++)
		jpki_cert_info_free(res[i].info);
	jpki_cert_info_free(old);
}

static void test_every_reason(void **state)
{
	struct ca_fixture *f = *state;
	static const enum jpki_reason reasons[] = {
		JPKI_REASON_UNSPECIFIED, JPKI_REASON_KEY_COMPROMISE,
		JPKI_REASON_AFFILIATION_CHANGED, JPKI_REASON_SUPERSEDED,
		JPKI_REASON_CESSATION};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		char person[16];
		struct jpki_cert_info *c, *st = NULL;
		enum jpki_reason parsed;

		snprintf(person, sizeof(person), "R%zu", i);
		c = fx_issue(f, JPKI_CERT_SIGN, person);
		assert_int_equal(jpki_ca_revoke(f->ca, c->serial, reasons[i]),
				 0);
		assert_int_equal(jpki_ca_status(&st, f->ca, c->serial), 0);
		assert_int_equal(st->status, JPKI_STATUS_REVOKED);
		assert_int_equal(st->reason, reasons[i]);
		assert_int_equal(st->revoked_at, jpki_clock_now());
		/* a second revocation is refused and changes nothing */
		assert_int_equal(jpki_ca_revoke(f->ca, c->serial,
						JPKI_REASON_KEY_COMPROMISE),
				 JPKI_ERR_STATE);
		jpki_cert_info_free(st);
		assert_int_equal(jpki_ca_status(&st, f->ca, c->serial), 0);
		assert_int_equal(st->reason, reasons[i]);
		assert_int_equal(jpki_ca_reason_parse(
					 &parsed,
					 jpki_ca_reason_name(reasons[i])),
				 0);
		assert_int_equal(parsed, reasons[i]);
		jpki_cert_info_free(st);
		jpki_cert_info_free(c);
	}
}

static void test_revoke_bad_input(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_SIGN, "B1"), *st;
	enum jpki_reason r;

	assert_int_equal(jpki_ca_revoke(f->ca, "4000000000000000", 1),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_revoke(f->ca, "not-hex", 1), JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_revoke(f->ca, c->serial,
					JPKI_REASON_CERTIFICATE_HOLD),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_revoke(f->ca, c->serial, (enum jpki_reason)2),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_reason_parse(&r, "lostMyCard"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_status(&st, f->ca, c->serial), 0);
	assert_int_equal(st->status, JPKI_STATUS_GOOD);
	jpki_cert_info_free(st);
	st = (struct jpki_cert_info *)1;
	assert_int_equal(jpki_ca_status(&st, f->ca, "5000"), JPKI_ERR_NOT_FOUND);
	assert_null(st);
	jpki_cert_info_free(c);
}

static void test_hold_and_release(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c = fx_issue(f, JPKI_CERT_AUTH, "H1"), *st;

	assert_int_equal(jpki_ca_release(f->ca, c->serial), JPKI_ERR_STATE);
	assert_int_equal(jpki_ca_hold(f->ca, c->serial), 0);
	assert_int_equal(jpki_ca_hold(f->ca, c->serial), JPKI_ERR_STATE);
	assert_int_equal(jpki_ca_status(&st, f->ca, c->serial), 0);
	assert_int_equal(st->status, JPKI_STATUS_HOLD);
	assert_int_equal(st->reason, JPKI_REASON_CERTIFICATE_HOLD);
	jpki_cert_info_free(st);
	assert_int_equal(jpki_ca_release(f->ca, c->serial), 0);
	assert_int_equal(jpki_ca_status(&st, f->ca, c->serial), 0);
	assert_int_equal(st->status, JPKI_STATUS_GOOD);
	jpki_cert_info_free(st);
	/* a held certificate can be revoked for good; then nothing more */
	assert_int_equal(jpki_ca_hold(f->ca, c->serial), 0);
	assert_int_equal(jpki_ca_revoke(f->ca, c->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	assert_int_equal(jpki_ca_release(f->ca, c->serial), JPKI_ERR_STATE);
	assert_int_equal(jpki_ca_hold(f->ca, c->serial), JPKI_ERR_STATE);
	jpki_cert_info_free(c);
}

static void test_renewal_window_and_links(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *s = fx_issue(f, JPKI_CERT_SIGN, "N1");
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_AUTH, "N1");
	struct jpki_cert_info *renewed = NULL, *old = NULL;
	struct jpki_link *links = NULL;
	struct jpki_date end;
	size_t n;

	/* expires 2030-06-01: renewal opens 2030-03-01 */
	fx_at("2030-02-28");
	assert_int_equal(jpki_ca_renew(&renewed, f->ca, s->serial, f->key, NULL),
			 JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "2030-03-01"));
	assert_null(renewed);
	fx_at("2030-03-01");
	assert_int_equal(jpki_ca_renew(&renewed, f->ca, s->serial, f->key, NULL),
			 0);
	/* the old one is revoked as superseded */
	assert_int_equal(jpki_ca_status(&old, f->ca, s->serial), 0);
	assert_int_equal(old->status, JPKI_STATUS_REVOKED);
	assert_int_equal(old->reason, JPKI_REASON_SUPERSEDED);
	/* the new validity counts from the day of the procedure: the 5th
	 * birthday after 2030-03-01 is 2034-06-01 */
	end = jpki_date_of(renewed->not_after);
	assert_int_equal(end.year, 2034);
	assert_int_equal(end.month, 6);
	assert_int_equal(end.day, 1);
	assert_int_equal(jpki_date_of(renewed->not_before).year, 2030);
	/* renewing the superseded one again is refused */
	{
		struct jpki_cert_info *twice = NULL;

		assert_int_equal(jpki_ca_renew(&twice, f->ca, s->serial,
					       f->key, NULL),
				 JPKI_ERR_STATE);
		assert_null(twice);
	}

	/* links: pair (sign s, auth a), renewal s -> new, pair new -> a */
	assert_int_equal(jpki_ca_links(&links, &n, f->ca, a->serial), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(links[i].kind, JPKI_LINK_PAIR);
		assert_string_equal(links[i].to, a->serial);
	}
	free(links);
	assert_int_equal(jpki_ca_links(&links, &n, f->ca, s->serial), 0);
	assert_int_equal(n, 2);
	assert_int_equal(links[1].kind, JPKI_LINK_RENEWAL);
	assert_string_equal(links[1].from, s->serial);
	free(links);
	assert_int_equal(jpki_ca_links(&links, &n, f->ca, "77"),
			 JPKI_ERR_NOT_FOUND);

	jpki_cert_info_free(old);
	jpki_cert_info_free(s);
	jpki_cert_info_free(a);
	assert_int_equal(jpki_ca_status(&s, f->ca, "00"), JPKI_ERR_NOT_FOUND);
	/* the renewed one cannot be renewed after it expires */
	fx_at("2034-06-02");
	{
		struct jpki_cert_info *again = NULL;
		char serial[41];

		snprintf(serial, sizeof(serial), "%s", renewed->serial);
		jpki_cert_info_free(renewed);
		assert_int_equal(jpki_ca_renew(&again, f->ca, serial, f->key,
					       NULL),
				 JPKI_ERR_STATE);
		assert_non_null(strstr(jpki_err_detail(), "expired"));
	}
}

static void test_reissue_after_move_is_linked(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *s = fx_issue(f, JPKI_CERT_SIGN, "M1"), *s2;
	struct jpki_link *links = NULL;
	size_t n;

	assert_int_equal(jpki_ca_revoke(f->ca, s->serial,
					JPKI_REASON_AFFILIATION_CHANGED),
			 0);
	s2 = fx_issue(f, JPKI_CERT_SIGN, "M1");
	assert_int_equal(jpki_ca_links(&links, &n, f->ca, s2->serial), 0);
	assert_int_equal(n, 1);
	assert_int_equal(links[0].kind, JPKI_LINK_REISSUE);
	assert_string_equal(links[0].from, s->serial);
	assert_string_equal(links[0].to, s2->serial);
	free(links);
	jpki_cert_info_free(s);
	jpki_cert_info_free(s2);
}

static void test_juki_cutoff(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "J1");
	struct jpki_cert_info *info = NULL;
	struct jpki_date end;

	req.card = JPKI_CARD_JUKI;
	fx_at("2015-12-23");
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_POLICY);
	assert_null(info);
	fx_at("2015-12-22");
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key), 0);
	/* 発行の日から起算して3年: the last valid day is 2018-12-21, its
	 * last second 23:59:59 in Japan */
	end = jpki_date_of(info->not_after);
	assert_int_equal(end.year, 2018);
	assert_int_equal(end.month, 12);
	assert_int_equal(end.day, 21);
	assert_int_equal(info->not_after, 1545404399);
	assert_int_equal(info->card, JPKI_CARD_JUKI);
	jpki_cert_info_free(info);
}

/* SPEC 3: an expired certificate never blocks a new issue; until it has
 * expired, a good one does. Renewing an expired one says to apply anew. */
static void test_expired_not_dead_end(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "E1");
	struct jpki_cert_info *s = fx_issue(f, JPKI_CERT_SIGN, "E1");
	struct jpki_cert_info *info = NULL;

	/* expires 2030-06-01 (the 5th birthday): its last day still
	 * blocks a new issue */
	fx_at("2030-06-01T23:59:00");
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "already holds"));
	assert_null(info);
	/* the next day it has expired: renewal is refused with the way
	 * out, a new issue is accepted and linked to the expired one */
	fx_at("2030-06-02T09:00:00");
	assert_int_equal(jpki_ca_renew(&info, f->ca, s->serial, f->key, NULL),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "apply for a new issue"));
	assert_null(info);
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key), 0);
	assert_int_equal(jpki_date_of(info->not_after).year, 2035);
	{
		struct jpki_link *links = NULL;
		size_t n = 0;

		assert_int_equal(jpki_ca_links(&links, &n, f->ca,
					       info->serial),
				 0);
		assert_int_equal(n, 1);
		assert_int_equal(links[0].kind, JPKI_LINK_REISSUE);
		assert_string_equal(links[0].from, s->serial);
		free(links);
	}
	jpki_cert_info_free(info);
	/* and the new one, valid, blocks a third */
	assert_int_equal(jpki_ca_issue(&info, f->ca, &req, f->key),
			 JPKI_ERR_STATE);
	jpki_cert_info_free(s);
}

/* Seed 002: a Juki-card holder switches to a My Number card; the check is
 * per card, and the Juki card's certificate is revoked (superseded) in the
 * same transaction as the issue. */
static void test_juki_to_mynumber(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request juki = fx_request(JPKI_CERT_SIGN, "J2");
	struct jpki_issue_request mn = fx_request(JPKI_CERT_SIGN, "J2");
	struct jpki_cert_info *j = NULL, *m = NULL, *st = NULL;

	juki.card = JPKI_CARD_JUKI;
	fx_at("2015-12-01T10:00:00");
	assert_int_equal(jpki_ca_issue(&j, f->ca, &juki, f->key), 0);
	/* a second Juki certificate is refused: same card kind */
	assert_int_equal(jpki_ca_issue(&st, f->ca, &juki, f->key),
			 JPKI_ERR_STATE);
	assert_null(st);

	fx_at("2016-03-01T10:00:00");
	assert_int_equal(jpki_ca_issue(&m, f->ca, &mn, f->key), 0);
	assert_int_equal(m->card, JPKI_CARD_MYNUMBER);
	assert_int_equal(jpki_ca_status(&st, f->ca, j->serial), 0);
	assert_int_equal(st->status, JPKI_STATUS_REVOKED);
	assert_int_equal(st->reason, JPKI_REASON_SUPERSEDED);
	jpki_cert_info_free(st);
	st = NULL;
	/* the My Number card's certificate is now the valid one: a second
	 * is refused, and the refusal revokes nothing */
	assert_int_equal(jpki_ca_issue(&st, f->ca, &mn, f->key),
			 JPKI_ERR_STATE);
	assert_null(st);
	assert_int_equal(jpki_ca_status(&st, f->ca, m->serial), 0);
	assert_int_equal(st->status, JPKI_STATUS_GOOD);
	jpki_cert_info_free(st);
	jpki_cert_info_free(j);
	jpki_cert_info_free(m);
}

static void test_list_filters(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_filter filter = JPKI_CA_FILTER_INIT;
	struct jpki_cert_info **list = NULL, *a, *b, *c;
	size_t n;

	a = fx_issue(f, JPKI_CERT_SIGN, "L1");
	b = fx_issue(f, JPKI_CERT_AUTH, "L1");
	c = fx_issue(f, JPKI_CERT_SIGN, "L2");
	assert_int_equal(jpki_ca_revoke(f->ca, c->serial, 1), 0);
	assert_int_equal(jpki_ca_list(&list, &n, f->ca, NULL), 0);
	assert_int_equal(n, 3);
	jpki_cert_info_list_free(list, n);
	filter.person = "L1";
	assert_int_equal(jpki_ca_list(&list, &n, f->ca, &filter), 0);
	assert_int_equal(n, 2);
	jpki_cert_info_list_free(list, n);
	filter.person = NULL;
	filter.status = JPKI_STATUS_REVOKED;
	assert_int_equal(jpki_ca_list(&list, &n, f->ca, &filter), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0]->serial, c->serial);
	jpki_cert_info_list_free(list, n);
	filter.status = -1;
	filter.type = JPKI_CERT_AUTH;
	assert_int_equal(jpki_ca_list(&list, &n, f->ca, &filter), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0]->serial, b->serial);
	jpki_cert_info_list_free(list, n);
	filter.type = 0;
	filter.limit = 2;
	assert_int_equal(jpki_ca_list(&list, &n, f->ca, &filter), 0);
	assert_int_equal(n, 2);
	jpki_cert_info_list_free(list, n);
	jpki_cert_info_free(a);
	jpki_cert_info_free(b);
	jpki_cert_info_free(c);
}

/* Serials are random: many issues, all distinct, all 16 bytes, positive. */
static void test_serials_random_and_unique(void **state)
{
	struct ca_fixture *f = *state;
	char seen[40][41];

	for (int i = 0; i < 40; i++) {
		char person[16];
		struct jpki_cert_info *c;

		snprintf(person, sizeof(person), "U%d", i);
		c = fx_issue(f, JPKI_CERT_AUTH, person);
		assert_int_equal(strlen(c->serial), 32);
		assert_true(c->serial[0] >= '4' && c->serial[0] <= '7');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[j], c->serial);
		snprintf(seen[i], sizeof(seen[i]), "%s", c->serial);
		jpki_cert_info_free(c);
	}
}

static void test_reopen_needs_keys(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca *again = NULL;
	char *path;

	assert_int_equal(jpki_ca_open(&again, f->st, NULL), 0);
	jpki_ca_free(again);
	assert_true(asprintf(&path, "%s/keys/sign-ca.key", f->dir) > 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(jpki_ca_open(&again, f->st, NULL), JPKI_ERR_NOT_FOUND);
	assert_null(again);
	free(path);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_init_twice_refused),
		T(test_ca_certificates),
		T(test_csr_intake),
		T(test_issue_sign_and_auth),
		T(test_issue_refusals_change_nothing),
		T(test_issue_store_fault_leaves_nothing),
		T(test_issue_batch),
		T(test_issue_batch_store_fault),
		T(test_issue_batch_fault_in_second_group),
	T(test_issue_batch_few_statements),
	T(test_issue_batch_same_person_in_group),
		T(test_every_reason),
		T(test_revoke_bad_input),
		T(test_hold_and_release),
		T(test_renewal_window_and_links),
		T(test_reissue_after_move_is_linked),
		T(test_juki_cutoff),
		T(test_expired_not_dead_end),
		T(test_juki_to_mynumber),
		T(test_list_filters),
		T(test_serials_random_and_unique),
		T(test_reopen_needs_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
