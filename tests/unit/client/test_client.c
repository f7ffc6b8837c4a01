/*
 * The resident's client against an issued virtual card in-process: every
 * APDU it sends is one of SPEC section 5 (recorded on the wire), signatures
 * verify with OpenSSL's CMS, PIN change and the failure messages a resident
 * sees at home.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "card/card_fixture.h"
#include "jpki/client.h"

/* Every command APDU seen on the wire, as hex. */
struct trace {
	char cmd[64][600];
	size_t n;
};

static void on_apdu(void *ctx, const uint8_t *cmd, size_t cmd_len,
		    const uint8_t *rsp, size_t rsp_len)
{
	struct trace *t = ctx;

	if (t->n < 64) {
		char *p = t->cmd[t->n++];

		for (size_t i = 0; i < cmd_len && i < 299; i++)
			p += sprintf(p, "%02X", cmd[i]);
	}
}

struct env {
	struct card_fixture *f;
	struct jpki_card *card;
	struct jpki_reader *rd;
	struct trace trace;
};

static struct env *open_env(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	enum jpki_card_kind kind;

	e->f = *state;
	e->card = cf_card(e->f);
	assert_int_equal(jpki_reader_local(&e->rd, e->card), 0);
	jpki_reader_trace(e->rd, on_apdu, &e->trace);
	assert_int_equal(jpki_client_open_card(&kind, e->rd), 0);
	e->trace.n = 0;
	return e;
}

static void close_env(struct env *e)
{
	jpki_reader_free(e->rd);
	jpki_card_free(e->card);
	free(e);
}

/* Is this command one of the host commands SPEC section 5 lists? */
static int is_spec_apdu(const char *hex)
{
	static const char *const efs[] = {"000A", "0001", "000B",
					  "0002", "0006", "0017",
					  "0018", "001A", "001B"};
	size_t len = strlen(hex);

	if (strcmp(hex, "00A4040C0AD392F000260100000001") == 0)
		return 1; /* SELECT of the JPKI AP */
	if (len == 14 && strncmp(hex, "00A4020C02", 10) == 0) {
		for (size_t i = 0; i < sizeof(efs) / sizeof(efs[0]); i++)
			if (strcmp(hex + 10, efs[i]) == 0)
				return 1;
		return 0;
	}
	if (len == 10 && strncmp(hex, "00B0", 4) == 0)
		return 1; /* READ BINARY offset Le */
	if (strcmp(hex, "00200080") == 0)
		return 1; /* VERIFY without data: tries left */
	if (strncmp(hex, "00200080", 8) == 0 ||
	    strncmp(hex, "00240180", 8) == 0)
		return 1; /* VERIFY / CHANGE REFERENCE DATA with a PIN */
	if (strncmp(hex, "802A0080", 8) == 0 &&
	    strcmp(hex + len - 2, "00") == 0)
		return 1; /* COMPUTE SIGNATURE DigestInfo Le */
	return 0;
}

static void assert_all_spec(const struct trace *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!is_spec_apdu(t->cmd[i]))
			fail_msg("APDU %zu is not of SPEC section 5: %s", i,
				 t->cmd[i]);
	}
}

static void test_apdus_of_the_spec(void **state)
{
	struct env *e = open_env(state);
	enum jpki_card_kind kind;
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *data = BIO_new_mem_buf("application", -1);
	int tries;

	/* the exact sequence for the common reads */
	assert_int_equal(jpki_client_open_card(&kind, e->rd), 0);
	assert_int_equal(kind, JPKI_CARD_MYNUMBER);
	assert_int_equal(jpki_client_pin_tries(&tries, e->rd, JPKI_PIN_AUTH),
			 0);
	assert_int_equal(tries, 3);
	assert_int_equal(e->trace.n, 4);
	assert_string_equal(e->trace.cmd[0], "00A4040C0AD392F000260100000001");
	assert_string_equal(e->trace.cmd[1], "00A4020C020018");
	assert_string_equal(e->trace.cmd[2], "00A4020C020018");
	assert_string_equal(e->trace.cmd[3], "00200080");
	e->trace.n = 0;
	assert_int_equal(jpki_client_read_cert(&cert, e->rd, JPKI_EF_AUTH_CERT),
			 0);
	/* SELECT, 4 header bytes, then 256-byte reads from offset 0 */
	assert_string_equal(e->trace.cmd[0], "00A4020C02000A");
	assert_string_equal(e->trace.cmd[1], "00B0000004");
	assert_string_equal(e->trace.cmd[2], "00B0000000");
	assert_string_equal(e->trace.cmd[3], "00B0010000");
	X509_free(cert);
	cert = NULL;

	/* a whole signing session: only SPEC commands, none of the issuer's */
	e->trace.n = 0;
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "abc123", NULL), 0);
	assert_int_equal(jpki_client_read_cert(&cert, e->rd, JPKI_EF_SIGN_CERT),
			 0);
	assert_int_equal(jpki_client_read_cert(&ca, e->rd, JPKI_EF_SIGN_CA), 0);
	assert_int_equal(jpki_client_card_key(&key, e->rd, JPKI_PIN_SIGN, cert),
			 0);
	assert_int_equal(jpki_client_cms_sign(&cms, data, cert, key, NULL, 0),
			 0);
	assert_int_equal(jpki_client_pin_change(e->rd, JPKI_CARD_MYNUMBER,
						JPKI_PIN_AUTH, "1234", "5678"),
			 0);
	assert_all_spec(&e->trace);
	/* the PIN went up-cased, and the signature was asked for once */
	{
		int sigs = 0, verify_upper = 0;

		for (size_t i = 0; i < e->trace.n; i++) {
			sigs += strncmp(e->trace.cmd[i], "802A", 4) == 0;
			verify_upper += strcmp(e->trace.cmd[i],
					       "0020008006414243313233") == 0;
		}
		assert_int_equal(sigs, 1);
		assert_int_equal(verify_upper, 1);
	}
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_free(ca);
	BIO_free(data);
	close_env(e);
}

static X509_STORE *store_of(X509 *ca)
{
	X509_STORE *st = X509_STORE_new();

	assert_non_null(st);
	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	return st;
}

/* Signs `text` with the card: attached or detached. */
static CMS_ContentInfo *card_sign(struct env *e, const char *text, int detached,
				  X509 **cert, X509 **ca)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	BIO *data = BIO_new_mem_buf(text, -1);
	EVP_PKEY *key = NULL;

	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "ABC123", NULL), 0);
	assert_int_equal(jpki_client_read_cert(cert, e->rd, JPKI_EF_SIGN_CERT),
			 0);
	assert_int_equal(jpki_client_read_cert(ca, e->rd, JPKI_EF_SIGN_CA), 0);
	assert_int_equal(
	    jpki_client_card_key(&key, e->rd, JPKI_PIN_SIGN, *cert), 0);
	sk_X509_push(extra, *ca);
	assert_int_equal(
	    jpki_client_cms_sign(&cms, data, *cert, key, extra, detached), 0);
	sk_X509_free(extra);
	EVP_PKEY_free(key);
	BIO_free(data);
	return cms;
}

static void test_signed_data_verifies(void **state)
{
	struct env *e = open_env(state);
	X509 *cert = NULL, *ca = NULL;
	CMS_ContentInfo *cms = card_sign(e, "申請書: 転入届", 0, &cert, &ca);
	X509_STORE *st = store_of(ca);
	BIO *out = BIO_new(BIO_s_mem()), *content;
	char *got;
	long n;

	/* at the date the certificates hold */
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), jpki_clock_now());
	assert_int_equal(CMS_verify(cms, NULL, st, NULL, out, CMS_BINARY), 1);
	n = BIO_get_mem_data(out, &got);
	assert_int_equal(n, strlen("申請書: 転入届"));
	assert_memory_equal(got, "申請書: 転入届", n);
	/* the signer is the card's signing certificate, and its CA rides along
	 */
	{
		STACK_OF(X509) *signers = CMS_get0_signers(cms);
		STACK_OF(X509) *certs = CMS_get1_certs(cms);

		assert_int_equal(sk_X509_num(signers), 1);
		assert_int_equal(X509_cmp(sk_X509_value(signers, 0), cert), 0);
		assert_int_equal(sk_X509_num(certs), 2);
		sk_X509_free(signers);
		sk_X509_pop_free(certs, X509_free);
	}
	CMS_ContentInfo_free(cms);

	/* detached: verifies over the document, not over another one */
	X509_free(cert);
	X509_free(ca);
	cms = card_sign(e, "the document", 1, &cert, &ca);
	content = BIO_new_mem_buf("the document", -1);
	assert_int_equal(
	    CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED),
	    1);
	BIO_free(content);
	content = BIO_new_mem_buf("the d0cument", -1);
	assert_int_equal(
	    CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED),
	    0);
	ERR_clear_error();
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	X509_STORE_free(st);
	BIO_free(out);
	X509_free(cert);
	X509_free(ca);
	close_env(e);
}

/* PAdES B-B (ETSI EN 319 142-1): detached, content-type, message-digest and
 * signing-certificate-v2 signed, no signing-time (the PDF's /M says when). */
static void test_pades_signed_data(void **state)
{
	struct env *e = open_env(state);
	static const uint8_t ranges[] = "%PDF-1.7 ... the bytes a range covers";
	X509 *cert = NULL, *ca = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	EVP_PKEY *key = NULL;
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t der_len = 0;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_STORE *st;
	BIO *content;

	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "ABC123", NULL), 0);
	assert_int_equal(jpki_client_read_cert(&cert, e->rd, JPKI_EF_SIGN_CERT),
			 0);
	assert_int_equal(jpki_client_read_cert(&ca, e->rd, JPKI_EF_SIGN_CA), 0);
	assert_int_equal(jpki_client_card_key(&key, e->rd, JPKI_PIN_SIGN, cert),
			 0);
	sk_X509_push(extra, ca);
	/* the card's key with another certificate: refused, nothing made */
	assert_int_equal(jpki_client_pades_sign(&der, &der_len, ranges,
						sizeof(ranges), ca, key, extra),
			 JPKI_ERR_CRYPTO);
	assert_null(der);
	assert_int_equal(jpki_client_pades_sign(&der, &der_len, ranges,
						sizeof(ranges), cert, key,
						extra),
			 0);
	p = der;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len));
	assert_int_equal(CMS_is_detached(cms), 1);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) >=
		    0);
	assert_true(
	    CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1) >= 0);
	assert_true(CMS_signed_get_attr_by_NID(
			si, NID_id_smime_aa_signingCertificateV2, -1) >= 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) <
		    0);
	st = store_of(ca);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), jpki_clock_now());
	content = BIO_new_mem_buf(ranges, sizeof(ranges));
	assert_int_equal(
	    CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED),
	    1);
	BIO_free(content);
	/* over other bytes it does not verify */
	content = BIO_new_mem_buf(ranges, sizeof(ranges) - 2);
	assert_int_equal(
	    CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED),
	    0);
	ERR_clear_error();
	BIO_free(content);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
	sk_X509_free(extra);
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_free(ca);
	close_env(e);
}

/* The browser bridge's signature: the page hashed the document, the card
 * signs signed attributes holding that hash; it verifies over the document
 * and over no other, and a hash of the wrong size is refused. */
static void test_signed_digest(void **state)
{
	struct env *e = open_env(state);
	unsigned char digest[32];
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	X509_STORE *st;
	BIO *content;

	SHA256((const unsigned char *)"the document", 12, digest);
	assert_int_equal(jpki_client_read_cert(&ca, e->rd, JPKI_EF_SIGN_CA), 0);
	st = store_of(ca);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), jpki_clock_now());
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "ABC123", NULL), 0);
	assert_int_equal(jpki_client_read_cert(&cert, e->rd, JPKI_EF_SIGN_CERT),
			 0);
	assert_int_equal(jpki_client_card_key(&key, e->rd, JPKI_PIN_SIGN, cert),
			 0);
	sk_X509_push(extra, ca);
	assert_int_equal(jpki_client_cms_sign_digest(&cms, digest, 31, cert,
						     key, extra),
			 JPKI_ERR_INVALID);
	assert_null(cms);
	assert_int_equal(jpki_client_cms_sign_digest(&cms, digest, 32, cert,
						     key, extra),
			 0);
	content = BIO_new_mem_buf("the document", -1);
	assert_int_equal(
	    CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED),
	    1);
	BIO_free(content);
	content = BIO_new_mem_buf("the d0cument", -1);
	assert_int_equal(
	    CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED),
	    0);
	ERR_clear_error();
	BIO_free(content);
	{
		/* detached: no content inside */
		ASN1_OCTET_STRING **pos = CMS_get0_content(cms);

		assert_true(pos == NULL || *pos == NULL);
	}
	CMS_ContentInfo_free(cms);
	cms = NULL;
	/* after a new selection of the AP the PIN is no longer verified:
	 * the card refuses to sign */
	enum jpki_card_kind kind;
	assert_int_equal(jpki_client_open_card(&kind, e->rd), 0);
	assert_int_not_equal(jpki_client_cms_sign_digest(&cms, digest, 32, cert,
							 key, extra),
			     0);
	assert_null(cms);
	sk_X509_pop_free(extra, X509_free);
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_STORE_free(st);
	close_env(e);
}

static void test_enveloped_for_the_agency(void **state)
{
	struct env *e = open_env(state);
	X509 *cert = NULL, *ca = NULL, *agency = X509_new(),
	     *other = X509_new();
	EVP_PKEY *akey = EVP_RSA_gen(2048), *okey = EVP_RSA_gen(2048);
	CMS_ContentInfo *cms = card_sign(e, "tax return", 0, &cert, &ca), *env;
	BIO *plain = BIO_new(BIO_s_mem());
	const unsigned char *p;
	char *der;
	long n;

	/* the agency's certificate: self-signed is enough for encryption */
	X509 *certs[2] = {agency, other};
	EVP_PKEY *keys[2] = {akey, okey};

	for (int i = 0; i < 2; i++) {
		X509_set_version(certs[i], 2);
		ASN1_INTEGER_set(X509_get_serialNumber(certs[i]), 7 + i);
		X509_gmtime_adj(X509_getm_notBefore(certs[i]), 0);
		X509_gmtime_adj(X509_getm_notAfter(certs[i]), 3600);
		X509_set_pubkey(certs[i], keys[i]);
		X509_NAME_add_entry_by_txt(
		    X509_get_subject_name(certs[i]), "CN", MBSTRING_ASC,
		    (const unsigned char *)"Agency", -1, -1, 0);
		X509_set_issuer_name(certs[i], X509_get_subject_name(certs[i]));
		assert_true(X509_sign(certs[i], keys[i], EVP_sha256()) > 0);
	}
	assert_int_equal(jpki_client_cms_envelope(&env, cms, agency), 0);
	assert_int_equal(CMS_decrypt(env, akey, agency, NULL, plain, 0), 1);
	n = BIO_get_mem_data(plain, &der);
	p = (const unsigned char *)der;
	{
		CMS_ContentInfo *inner = d2i_CMS_ContentInfo(NULL, &p, n);
		X509_STORE *st = store_of(ca);

		assert_non_null(inner);
		X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st),
					   jpki_clock_now());
		assert_int_equal(
		    CMS_verify(inner, NULL, st, NULL, NULL, CMS_BINARY), 1);
		CMS_ContentInfo_free(inner);
		X509_STORE_free(st);
	}
	/* nobody else can open it */
	assert_int_equal(CMS_decrypt(env, okey, other, NULL, plain, 0), 0);
	ERR_clear_error();
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(cms);
	BIO_free(plain);
	X509_free(agency);
	X509_free(other);
	EVP_PKEY_free(akey);
	EVP_PKEY_free(okey);
	X509_free(cert);
	X509_free(ca);
	close_env(e);
}

static void test_pin_change(void **state)
{
	struct env *e = open_env(state);
	int tries;

	/* a new PIN against the card kind's rules: refused before any APDU */
	e->trace.n = 0;
	assert_int_equal(jpki_client_pin_change(e->rd, JPKI_CARD_MYNUMBER,
						JPKI_PIN_SIGN, "ABC123",
						"ABCDEF"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_client_pin_change(e->rd, JPKI_CARD_MYNUMBER,
						JPKI_PIN_AUTH, "1234", "12345"),
			 JPKI_ERR_INVALID);
	assert_int_equal(e->trace.n, 0);

	/* lower case taken as upper case, as the real client does */
	assert_int_equal(jpki_client_pin_change(e->rd, JPKI_CARD_MYNUMBER,
						JPKI_PIN_SIGN, "ABC123",
						"newpin9"),
			 0);
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "ABC123", &tries),
	    JPKI_ERR_POLICY);
	assert_int_equal(tries, 4);
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "NEWPIN9", NULL), 0);
	assert_int_equal(jpki_client_pin_tries(&tries, e->rd, JPKI_PIN_SIGN),
			 0);
	assert_int_equal(tries, 5);
	/* a wrong old PIN changes nothing and costs one try */
	assert_int_equal(jpki_client_pin_change(e->rd, JPKI_CARD_MYNUMBER,
						JPKI_PIN_SIGN, "WRONG1",
						"OTHER22"),
			 JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_SIGN, "NEWPIN9", NULL), 0);
	close_env(e);
}

static void test_wrong_pin_and_lock(void **state)
{
	struct env *e = open_env(state);
	int tries;

	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_AUTH, "0000", &tries),
	    JPKI_ERR_POLICY);
	assert_int_equal(tries, 2);
	assert_non_null(strstr(jpki_err_detail(), "2 tries left"));
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_AUTH, "0000", &tries),
	    JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "1 try left"));
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_AUTH, "0000", &tries),
	    JPKI_ERR_STATE);
	assert_int_equal(tries, 0);
	assert_non_null(strstr(jpki_err_detail(), "municipality window"));
	/* locked: the right PIN too is refused, and says so */
	assert_int_equal(
	    jpki_client_pin_verify(e->rd, JPKI_PIN_AUTH, "1234", &tries),
	    JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "locked"));
	assert_int_equal(jpki_client_pin_tries(&tries, e->rd, JPKI_PIN_AUTH),
			 0);
	assert_int_equal(tries, 0);
	/* the other PIN is untouched */
	assert_int_equal(jpki_client_pin_tries(&tries, e->rd, JPKI_PIN_SIGN),
			 0);
	assert_int_equal(tries, 5);
	/* the signing certificate stays behind its PIN */
	{
		X509 *cert = NULL;

		assert_int_equal(
		    jpki_client_read_cert(&cert, e->rd, JPKI_EF_SIGN_CERT),
		    JPKI_ERR_STATE);
		assert_null(cert);
	}
	close_env(e);
}

static void test_status_by_the_clock(void **state)
{
	struct env *e = open_env(state);
	struct jpki_client_status_info st;
	X509 *cert = NULL, *ca = NULL;
	char text[512];
	time_t t;

	assert_int_equal(jpki_client_read_cert(&cert, e->rd, JPKI_EF_AUTH_CERT),
			 0);
	assert_int_equal(jpki_client_read_cert(&ca, e->rd, JPKI_EF_AUTH_CA), 0);
	/* the 5th birthday after 2026-01-10 is 2030-06-01 */
	assert_int_equal(jpki_clock_parse(&t, "2030-06-02"), 0);
	jpki_clock_freeze(t);
	assert_int_equal(jpki_client_cert_status(&st, cert, ca), 0);
	assert_int_equal(st.status, JPKI_CLIENT_EXPIRED);
	jpki_client_status_text(text, sizeof(text), &st, cert);
	assert_non_null(strstr(text, "expired on 2030-06-01"));
	/* in force, but no responder listening: said plainly, no error */
	assert_int_equal(jpki_clock_parse(&t, "2026-02-01"), 0);
	jpki_clock_freeze(t);
	assert_int_equal(jpki_client_cert_status(&st, cert, ca), 0);
	assert_int_equal(st.status, JPKI_CLIENT_UNCHECKED);
	jpki_client_status_text(text, sizeof(text), &st, cert);
	assert_non_null(strstr(text, "not checked"));
	assert_int_equal(jpki_clock_parse(&t, "2026-01-10"), 0);
	jpki_clock_freeze(t);
	X509_free(cert);
	X509_free(ca);
	close_env(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apdus_of_the_spec),
	    cmocka_unit_test(test_signed_data_verifies),
	    cmocka_unit_test(test_pades_signed_data),
	    cmocka_unit_test(test_signed_digest),
	    cmocka_unit_test(test_enveloped_for_the_agency),
	    cmocka_unit_test(test_pin_change),
	    cmocka_unit_test(test_wrong_pin_and_lock),
	    cmocka_unit_test(test_status_by_the_clock),
	};

	return cmocka_run_group_tests(tests, cf_setup, cf_teardown);
}
