/* Registered verifiers: the register, the counts, which CA a request names,
 * and the signed linking look-up. */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <jansson.h>

#include "jpki/audit.h"
#include "ca_fixture.h"

static const struct jpki_actor officer = {.operator_id = "admin",
					  .role = JPKI_ROLE_CA_OFFICER};

static int vx_setup(void **state)
{
	struct ca_fixture *f;

	if (fx_setup(state) != 0)
		return -1;
	f = *state;
	return jpki_audit_migrate(f->st) == 0 ? 0 : -1;
}

/* A self-signed client certificate (DER, caller frees) valid `days` from
 * the service's now, with extended key usage `eku` (NID; 0: none). */
static unsigned char *client_cert(size_t *len, EVP_PKEY *key, int eku,
				  long days, const char *cn)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	unsigned char *der = NULL;
	int n;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffff));
	time_t now = jpki_clock_now(); /* the service's day, not the system's */

	X509_time_adj_ex(X509_getm_notBefore(x), days > 0 ? -1 : (int)days - 2,
			 0, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, &now);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	if (eku != 0) {
		X509_EXTENSION *e;

		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage,
					eku == NID_client_auth ? "clientAuth"
							       : "emailProtection");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, key, EVP_sha256());
	n = i2d_X509(x, &der);
	X509_free(x);
	*len = (size_t)n;
	return der;
}

static void fingerprint(char out[65], const unsigned char *der, size_t len)
{
	unsigned char md[32];
	unsigned mdlen;

	EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02X", md[i]); /* upper: found too */
}

static void test_register_find_remove(void **state)
{
	struct ca_fixture *f = *state;
	size_t len, n = 0;
	unsigned char *der = client_cert(&len, f->key, NID_client_auth, 30,
					 "Example Bank");
	struct jpki_verifier *list = NULL, v;
	char fp[65];

	fingerprint(fp, der, len);
	assert_int_equal(jpki_ca_verifier_find(&v, f->st, fp),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "bank",
					      JPKI_CERT_SIGN, der, len),
			 0);
	assert_int_equal(jpki_ca_verifier_find(&v, f->st, fp), 0);
	assert_string_equal(v.name, "bank");
	assert_int_equal(v.purpose, JPKI_CERT_SIGN);
	assert_true(v.enabled);
	assert_string_equal(v.subject, "CN=Example Bank");
	assert_int_equal(jpki_ca_verifier_list(&list, &n, f->st), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].added_by, "admin");
	free(list);
	/* a certificate is one verifier's, a name one certificate's */
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "bank2",
					      JPKI_CERT_AUTH, der, len),
			 JPKI_ERR_EXISTS);
	{
		size_t len2;
		unsigned char *other = client_cert(&len2, f->key,
						   NID_client_auth, 30, "Other");

		assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "bank",
						      JPKI_CERT_AUTH, other,
						      len2),
				 JPKI_ERR_EXISTS);
		OPENSSL_free(other);
	}
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log"
					 " WHERE action = 'verifier.add'"),
			 1);
	/* removed: refused by name, kept in the list */
	assert_int_equal(jpki_ca_verifier_remove(f->st, &officer, "bank"), 0);
	assert_int_equal(jpki_ca_verifier_find(&v, f->st, fp), JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "bank is removed"));
	assert_int_equal(jpki_ca_verifier_remove(f->st, &officer, "bank"),
			 JPKI_ERR_STATE);
	assert_int_equal(jpki_ca_verifier_remove(f->st, &officer, "nobody"),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_verifier_list(&list, &n, f->st), 0);
	assert_int_equal(n, 1);
	assert_false(list[0].enabled);
	free(list);
	/* and the name cannot be taken again: its usage stays its own */
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "bank",
					      JPKI_CERT_SIGN, der, len),
			 JPKI_ERR_EXISTS);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log"
					 " WHERE action = 'verifier.remove'"),
			 1);
	OPENSSL_free(der);
}

static void test_register_refusals_change_nothing(void **state)
{
	struct ca_fixture *f = *state;
	const struct jpki_actor clerk = {.operator_id = "c1",
					 .role = JPKI_ROLE_WINDOW_CLERK,
					 .municipality_code = "131016"};
	size_t len, elen, olen, mlen;
	unsigned char *der = client_cert(&len, f->key, NID_client_auth, 30,
					 "A");
	unsigned char *expired = client_cert(&elen, f->key, NID_client_auth,
					     -1, "B");
	unsigned char *mail = client_cert(&mlen, f->key, NID_email_protect,
					  30, "C");
	unsigned char *plain = client_cert(&olen, f->key, 0, 30, "D");
	uint64_t writes = jpki_store_writes(f->st);

	assert_int_equal(jpki_ca_verifier_add(f->st, &clerk, "a",
					      JPKI_CERT_SIGN, der, len),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "a b",
					      JPKI_CERT_SIGN, der, len),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "",
					      JPKI_CERT_SIGN, der, len),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "a", 7, der,
					      len),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "a",
					      JPKI_CERT_SIGN, der, len - 1),
			 JPKI_ERR_PARSE);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "a",
					      JPKI_CERT_SIGN,
					      (const unsigned char *)"x", 1),
			 JPKI_ERR_PARSE);
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "a",
					      JPKI_CERT_SIGN, expired, elen),
			 JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "expired"));
	assert_int_equal(jpki_ca_verifier_add(f->st, &officer, "a",
					      JPKI_CERT_SIGN, mail, mlen),
			 JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "clientAuth"));
	assert_int_equal(jpki_store_writes(f->st), writes);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM ca_verifier"),
			 0);
	/* a store failure at any statement leaves nothing either */
	for (int nth = 1;; nth++) {
		int r;

		jpki_store_fail_after(f->st, nth);
		r = jpki_ca_verifier_add(f->st, &officer, "a", JPKI_CERT_SIGN,
					 plain, olen);
		jpki_store_fail_after(f->st, 0);
		if (r == 0)
			break;
		assert_int_equal(r, JPKI_ERR_STORE);
		assert_int_equal(
		    tu_count(f->st, "SELECT COUNT(*) FROM ca_verifier"), 0);
		assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM "
						 "audit_log"),
				 0);
	}
	/* without an extended key usage a certificate may be a client's */
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM ca_verifier"),
			 1);
	OPENSSL_free(der);
	OPENSSL_free(expired);
	OPENSSL_free(mail);
	OPENSSL_free(plain);
}

static int64_t usage(struct ca_fixture *f, const char *who, const char *day,
		     enum jpki_verifier_query q)
{
	struct jpki_verifier_usage *u = NULL;
	size_t n = 0;
	int64_t total = 0;

	assert_int_equal(jpki_ca_verifier_usage(&u, &n, f->st, NULL), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(u[i].verifier, who) == 0 &&
		    strcmp(u[i].day, day) == 0 && u[i].query == q)
			total += u[i].count;
	free(u);
	return total;
}

static void test_counts_batched(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_usage *u = NULL;
	uint64_t writes;
	size_t rows;

	assert_int_equal(jpki_ca_usage_new(&u, f->st), 0);
	/* counting touches no store: a thousand answers, no write */
	writes = jpki_store_writes(f->st);
	for (int i = 0; i < 1000; i++)
		jpki_ca_usage_count(u, "bank", JPKI_QUERY_OCSP);
	jpki_ca_usage_count(u, "bank", JPKI_QUERY_CRL);
	jpki_ca_usage_count(u, "shop", JPKI_QUERY_OCSP);
	assert_int_equal(jpki_store_writes(f->st), writes);
	assert_int_equal(usage(f, "bank", "2026-01-10", JPKI_QUERY_OCSP), 0);
	/* one flush: one transaction, a row per verifier, day and kind */
	assert_int_equal(jpki_ca_usage_flush(u, &rows), 0);
	assert_int_equal(rows, 3);
	assert_int_equal(jpki_store_writes(f->st), writes + 1);
	assert_int_equal(usage(f, "bank", "2026-01-10", JPKI_QUERY_OCSP), 1000);
	assert_int_equal(usage(f, "bank", "2026-01-10", JPKI_QUERY_CRL), 1);
	assert_int_equal(usage(f, "shop", "2026-01-10", JPKI_QUERY_OCSP), 1);
	/* nothing counted since: no write */
	assert_int_equal(jpki_ca_usage_flush(u, &rows), 0);
	assert_int_equal(rows, 0);
	assert_int_equal(jpki_store_writes(f->st), writes + 1);
	/* the next flush adds to the stored rows */
	jpki_ca_usage_count(u, "bank", JPKI_QUERY_OCSP);
	assert_int_equal(jpki_ca_usage_flush(u, NULL), 0);
	assert_int_equal(usage(f, "bank", "2026-01-10", JPKI_QUERY_OCSP), 1001);
	/* the day is Japan's: 15:00 UTC is the next day there */
	fx_at("2026-01-10T23:59:59");
	jpki_ca_usage_count(u, "bank", JPKI_QUERY_OCSP);
	fx_at("2026-01-11T00:00:00");
	jpki_ca_usage_count(u, "bank", JPKI_QUERY_OCSP);
	/* a failed flush keeps its counts for the next */
	jpki_store_fail_after(f->st, 2);
	assert_int_equal(jpki_ca_usage_flush(u, NULL), JPKI_ERR_STORE);
	jpki_store_fail_after(f->st, 0);
	assert_int_equal(usage(f, "bank", "2026-01-11", JPKI_QUERY_OCSP), 0);
	assert_int_equal(jpki_ca_usage_flush(u, &rows), 0);
	assert_int_equal(rows, 2);
	assert_int_equal(usage(f, "bank", "2026-01-10", JPKI_QUERY_OCSP), 1002);
	assert_int_equal(usage(f, "bank", "2026-01-11", JPKI_QUERY_OCSP), 1);
	{
		struct jpki_verifier_usage *day = NULL;
		struct jpki_date d = {2026, 1, 11};
		size_t n = 0;

		assert_int_equal(jpki_ca_verifier_usage(&day, &n, f->st, &d), 0);
		assert_int_equal(n, 1);
		assert_string_equal(day[0].day, "2026-01-11");
		free(day);
	}
	/* what is held at the end is written by the free */
	jpki_ca_usage_count(u, "shop", JPKI_QUERY_LINK);
	jpki_ca_usage_free(u);
	assert_int_equal(usage(f, "shop", "2026-01-11", JPKI_QUERY_LINK), 1);
}

static void test_counts_past_the_table(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_usage *u = NULL;
	char name[32];

	assert_int_equal(jpki_ca_usage_new(&u, f->st), 0);
	/* more distinct rows than the table holds: flushed, none lost */
	for (int i = 0; i < JPKI_CA_USAGE_SLOTS + 10; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		jpki_ca_usage_count(u, name, JPKI_QUERY_OCSP);
	}
	jpki_ca_usage_free(u);
	assert_int_equal(tu_count(f->st, "SELECT SUM(count) FROM "
					 "ca_verifier_usage"),
			 JPKI_CA_USAGE_SLOTS + 10);
}

static unsigned char *ocsp_request(size_t *len, X509 *cert, X509 *issuer)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;

	OCSP_request_add0_id(req, OCSP_cert_to_id(NULL, cert, issuer));
	*len = (size_t)i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req);
	return der;
}

static void test_which_ca(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *s = fx_issue(f, JPKI_CERT_SIGN, "W1");
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_AUTH, "W1");
	X509 *sx = fx_x509(s), *ax = fx_x509(a);
	unsigned types;
	size_t len;
	unsigned char *der;
	enum jpki_cert_type type;
	const ASN1_OCTET_STRING *ski;
	char *hex;

	der = ocsp_request(&len, sx, jpki_ca_cert(f->ca, JPKI_CERT_SIGN));
	jpki_ca_ocsp_request_types(&types, f->ca, der, len);
	assert_int_equal(types, 1u << JPKI_CERT_SIGN);
	jpki_ca_ocsp_request_types(&types, f->ca, der, len - 1);
	assert_int_equal(types, 0);
	OPENSSL_free(der);
	der = ocsp_request(&len, ax, jpki_ca_cert(f->ca, JPKI_CERT_AUTH));
	jpki_ca_ocsp_request_types(&types, f->ca, der, len);
	assert_int_equal(types, 1u << JPKI_CERT_AUTH);
	OPENSSL_free(der);
	/* a CA not ours */
	der = ocsp_request(&len, ax, sx);
	jpki_ca_ocsp_request_types(&types, f->ca, der, len);
	assert_int_equal(types, 0);
	OPENSSL_free(der);

	ski = X509_get0_subject_key_id(jpki_ca_cert(f->ca, JPKI_CERT_AUTH));
	hex = jpki_hex(ASN1_STRING_get0_data(ski),
		       (size_t)ASN1_STRING_length(ski));
	assert_int_equal(jpki_ca_key_id_type(&type, f->ca, hex), 0);
	assert_int_equal(type, JPKI_CERT_AUTH);
	hex[0] = hex[0] == '0' ? '1' : '0';
	assert_int_equal(jpki_ca_key_id_type(&type, f->ca, hex),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_key_id_type(&type, f->ca, "zz"),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_key_id_type(&type, f->ca, "abc"),
			 JPKI_ERR_NOT_FOUND);
	free(hex);
	X509_free(sx);
	X509_free(ax);
	jpki_cert_info_free(s);
	jpki_cert_info_free(a);
}

/* The content of a linking answer, its signature verified with the CA
 * certificate (the signer inside, an OCSP signer). */
static json_t *answer(struct ca_fixture *f, enum jpki_cert_type type,
		      const char *serial)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	CMS_ContentInfo *cms;
	X509_STORE *store = X509_STORE_new();
	BIO *out = BIO_new(BIO_s_mem());
	char *data;
	long n;
	json_t *o;

	assert_int_equal(jpki_ca_link_answer(&der, &len, f->ca, type, serial),
			 0);
	p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	assert_non_null(cms);
	X509_STORE_add_cert(store, jpki_ca_cert(f->ca, type));
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	assert_int_equal(CMS_verify(cms, NULL, store, NULL, out, CMS_BINARY),
			 1);
	n = BIO_get_mem_data(out, &data);
	o = json_loadb(data, (size_t)n, 0, NULL);
	assert_non_null(o);
	/* the other CA's certificate does not verify it */
	{
		X509_STORE *other = X509_STORE_new();

		X509_STORE_add_cert(other,
				    jpki_ca_cert(f->ca, type == JPKI_CERT_SIGN
							    ? JPKI_CERT_AUTH
							    : JPKI_CERT_SIGN));
		X509_STORE_set_purpose(other, X509_PURPOSE_ANY);
		assert_int_not_equal(
		    CMS_verify(cms, NULL, other, NULL, NULL, CMS_BINARY), 1);
		X509_STORE_free(other);
		ERR_clear_error();
	}
	CMS_ContentInfo_free(cms);
	X509_STORE_free(store);
	BIO_free(out);
	free(der);
	return o;
}

static const char *str(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

static void test_link_answer(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *s = fx_issue(f, JPKI_CERT_SIGN, "L1");
	struct jpki_cert_info *a = fx_issue(f, JPKI_CERT_AUTH, "L1");
	struct jpki_cert_info *r1 = NULL, *r2 = NULL;
	unsigned char *der = NULL;
	size_t len;
	json_t *o;

	/* not renewed: itself */
	o = answer(f, JPKI_CERT_SIGN, s->serial);
	assert_string_equal(str(o, "result", NULL), "current");
	assert_string_equal(str(o, "current", "serial"), s->serial);
	assert_int_equal(json_array_size(json_object_get(o, "links")), 0);
	json_decref(o);
	/* renewed twice: the newest, through both links */
	fx_at("2030-03-01");
	assert_int_equal(jpki_ca_renew(&r1, f->ca, s->serial, f->key, NULL), 0);
	fx_at("2034-03-01");
	assert_int_equal(jpki_ca_renew(&r2, f->ca, r1->serial, f->key, NULL),
			 0);
	o = answer(f, JPKI_CERT_SIGN, s->serial);
	assert_string_equal(str(o, "result", NULL), "current");
	assert_string_equal(str(o, "current", "serial"), r2->serial);
	assert_string_equal(str(o, "current", "status"), "good");
	assert_int_equal(json_array_size(json_object_get(o, "links")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o, "links"), 1), "to")),
	    r2->serial);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o, "links"), 0), "reason")),
	    "superseded");
	json_decref(o);
	/* the pair link is no replacement: the authentication one stays */
	o = answer(f, JPKI_CERT_AUTH, a->serial);
	assert_string_equal(str(o, "current", "serial"), a->serial);
	json_decref(o);
	/* death: none, and why */
	assert_int_equal(jpki_ca_revoke(f->ca, r2->serial,
					JPKI_REASON_CESSATION),
			 0);
	o = answer(f, JPKI_CERT_SIGN, s->serial);
	assert_string_equal(str(o, "result", NULL), "none");
	assert_true(json_is_null(json_object_get(o, "current")));
	assert_string_equal(str(o, "last", "serial"), r2->serial);
	assert_string_equal(str(o, "last", "reason"), "cessationOfOperation");
	json_decref(o);
	/* a serial of the other CA, or of none */
	assert_int_equal(jpki_ca_link_answer(&der, &len, f->ca, JPKI_CERT_AUTH,
					     s->serial),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_ca_link_answer(&der, &len, f->ca, JPKI_CERT_SIGN,
					     "ABCDEF"),
			 JPKI_ERR_NOT_FOUND);
	assert_null(der);
	jpki_cert_info_free(s);
	jpki_cert_info_free(a);
	jpki_cert_info_free(r1);
	jpki_cert_info_free(r2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, vx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_register_find_remove),
		T(test_register_refusals_change_nothing),
		T(test_counts_batched),
		T(test_counts_past_the_table),
		T(test_which_ca),
		T(test_link_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
