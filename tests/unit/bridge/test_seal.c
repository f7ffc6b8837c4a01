/*
 * The bridge's "seal" (docs/BROWSER.md, "送信"): the page's detached
 * signature and the document become the attached SignedData of `jpki sign
 * FILE`, in a CMS EnvelopedData the agency's key opens. Refused: a document
 * changed after signing, a recipient that is no encryption certificate
 * (no key usage, signing only, expired), a signature that is not detached
 * or not CMS, a document over JPKI_BRIDGE_DOCUMENT_MAX. No card and no
 * prompt are touched: the options name a reader and a pinentry that do not
 * exist.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bridge/bridge_internal.h"
#include "jpki/bridge.h"
#include "jpki/client.h"
#include "testutil.h"

static const struct jpki_bridge_options no_card = {"/nonexistent",
						   "Nowhere 00 00"};

/* A self-signed certificate for key, with keyUsage `ku` (NULL: none),
 * valid from `from` to `to` days from now. */
static X509 *cert_for(EVP_PKEY *key, const char *cn, const char *ku, long from,
		      long to)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;

	assert_non_null(x);
	assert_true(X509_set_version(x, 2));
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	assert_true(X509_NAME_add_entry_by_txt(
	    name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_subject_name(x, name));
	assert_true(X509_set_issuer_name(x, name));
	X509_NAME_free(name);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from * 86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to * 86400));
	assert_true(X509_set_pubkey(x, key));
	if (ku != NULL) {
		X509_EXTENSION *e;

		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, ku);
		assert_non_null(e);
		assert_true(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static char *b64(const unsigned char *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(s);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

static char *cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	char *s;

	assert_true(n > 0);
	s = b64(der, (size_t)n);
	OPENSSL_free(der);
	return s;
}

/* The detached signature the bridge's "sign" makes, over doc's hash. */
static char *detached_b64(const unsigned char *doc, size_t len, X509 *cert,
			  EVP_PKEY *key)
{
	unsigned char h[32], *der = NULL;
	CMS_ContentInfo *cms = NULL;
	char *s;
	int n;

	assert_true(EVP_Digest(doc, len, h, NULL, EVP_sha256(), NULL));
	assert_int_equal(
	    jpki_client_cms_sign_digest(&cms, h, 32, cert, key, NULL), 0);
	n = i2d_CMS_ContentInfo(cms, &der);
	assert_true(n > 0);
	s = b64(der, (size_t)n);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	return s;
}

/* The reply to a seal of (document, signature, recipient), parsed. */
static json_t *seal(const char *doc_b64, const char *sig_b64,
		    const char *to_b64)
{
	json_t *req =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", "z1", "op",
		      "seal", "origin", "http://127.0.0.1:8080", "document",
		      doc_b64, "signature", sig_b64, "recipient", to_b64);
	char *msg = json_dumps(req, JSON_COMPACT), *reply = NULL;
	json_t *j;

	assert_non_null(msg);
	assert_int_equal(jpki_bridge_handle(&reply, &no_card, msg, strlen(msg)),
			 0);
	j = json_loads(reply, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "z1");
	free(msg);
	free(reply);
	json_decref(req);
	return j;
}

static const char *error_code(json_t *reply)
{
	json_t *e = json_object_get(reply, "error");

	if (json_is_true(json_object_get(reply, "ok")) || e == NULL)
		return "ok";
	return json_string_value(json_object_get(e, "code"));
}

static const char *error_text(json_t *reply)
{
	return json_string_value(
	    json_object_get(json_object_get(reply, "error"), "message"));
}

struct fixture {
	EVP_PKEY *signer_key, *agency_key;
	X509 *signer, *agency;
	char *agency_b64;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->signer_key = tu_rsa_key(2048);
	f->agency_key = tu_rsa_key_fresh();
	f->signer =
	    cert_for(f->signer_key, "resident",
		     "critical,digitalSignature,nonRepudiation", -1, 365);
	f->agency = cert_for(f->agency_key, "agency",
			     "critical,keyEncipherment", -1, 365);
	f->agency_b64 = cert_b64(f->agency);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->signer_key);
	EVP_PKEY_free(f->agency_key);
	X509_free(f->signer);
	X509_free(f->agency);
	free(f->agency_b64);
	free(f);
	return 0;
}

/* Opens the reply's p7m with the agency's key: the attached SignedData
 * over exactly `doc`, verifying. */
static void opens_to(json_t *reply, const struct fixture *f,
		     const unsigned char *doc, size_t len)
{
	const char *p7m = json_string_value(
	    json_object_get(json_object_get(reply, "result"), "p7m"));
	size_t n = strlen(p7m);
	unsigned char *der = malloc(n);
	const unsigned char *p = der;
	CMS_ContentInfo *env, *sd;
	BIO *inner = BIO_new(BIO_s_mem()), *content = BIO_new(BIO_s_mem());
	char *bytes;
	long got;
	int k = EVP_DecodeBlock(der, (const unsigned char *)p7m, (int)n);

	assert_true(k > 0);
	env = d2i_CMS_ContentInfo(NULL, &p, k);
	assert_non_null(env);
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(env)), NID_pkcs7_enveloped);
	assert_int_equal(
	    CMS_decrypt(env, f->agency_key, f->agency, NULL, inner, CMS_BINARY),
	    1);
	got = BIO_get_mem_data(inner, &bytes);
	p = (const unsigned char *)bytes;
	sd = d2i_CMS_ContentInfo(NULL, &p, got);
	assert_non_null(sd);
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(sd)), NID_pkcs7_signed);
	/* attached, as `jpki sign FILE` (without --detached) writes it */
	assert_false(CMS_is_detached(sd));
	assert_int_equal(CMS_verify(sd, NULL, NULL, NULL, content,
				    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY),
			 1);
	got = BIO_get_mem_data(content, &bytes);
	assert_int_equal(got, (long)len);
	assert_memory_equal(bytes, doc, len);
	CMS_ContentInfo_free(sd);
	CMS_ContentInfo_free(env);
	BIO_free(inner);
	BIO_free(content);
	free(der);
}

static void test_seal_good(void **state)
{
	struct fixture *f = *state;
	const char *text = "手続コード (procedure code): moving\n氏名 (name): "
			   "鈴木 一郎\n";
	size_t len = strlen(text);
	char *doc = b64((const unsigned char *)text, len);
	char *sig = detached_b64((const unsigned char *)text, len, f->signer,
				 f->signer_key);
	json_t *reply = seal(doc, sig, f->agency_b64);

	assert_string_equal(error_code(reply), "ok");
	opens_to(reply, f, (const unsigned char *)text, len);
	json_decref(reply);
	free(doc);
	free(sig);
}

static void test_seal_tampered(void **state)
{
	struct fixture *f = *state;
	const char *text = "住所 (address): 千代田５番５号\n";
	const char *changed = "住所 (address): 千代田６番６号\n";
	char *sig = detached_b64((const unsigned char *)text, strlen(text),
				 f->signer, f->signer_key);
	char *doc = b64((const unsigned char *)changed, strlen(changed));
	json_t *reply = seal(doc, sig, f->agency_b64);

	assert_string_equal(error_code(reply), "bad_request");
	assert_non_null(strstr(error_text(reply), "not over this document"));
	assert_null(json_object_get(reply, "result"));
	json_decref(reply);
	free(doc);
	free(sig);
}

static void test_seal_wrong_recipient(void **state)
{
	struct fixture *f = *state;
	const char *text = "申請書\n";
	char *doc = b64((const unsigned char *)text, strlen(text));
	char *sig = detached_b64((const unsigned char *)text, strlen(text),
				 f->signer, f->signer_key);
	X509 *bad[3];
	const char *why[3] = {"keyEncipherment", "keyEncipherment",
			      "not valid now"};

	/* the resident's own signing certificate; one without key usage;
	 * an encryption certificate that expired yesterday */
	bad[0] = X509_dup(f->signer);
	bad[1] = cert_for(f->agency_key, "agency", NULL, -1, 365);
	bad[2] = cert_for(f->agency_key, "agency", "keyEncipherment", -30, -1);
	for (int i = 0; i < 3; i++) {
		char *to = cert_b64(bad[i]);
		json_t *reply = seal(doc, sig, to);

		assert_string_equal(error_code(reply), "bad_request");
		if (strstr(error_text(reply), why[i]) == NULL)
			fail_msg("recipient %d: %s", i, error_text(reply));
		json_decref(reply);
		free(to);
		X509_free(bad[i]);
	}
	/* bytes that are no certificate */
	json_t *reply = seal(doc, sig, "AAAA");
	assert_string_equal(error_code(reply), "bad_request");
	json_decref(reply);
	free(doc);
	free(sig);
}

static void test_seal_bad_signature(void **state)
{
	struct fixture *f = *state;
	const char *text = "申請書\n";
	char *doc = b64((const unsigned char *)text, strlen(text));
	BIO *in = BIO_new_mem_buf(text, (int)strlen(text));
	CMS_ContentInfo *att = NULL;
	unsigned char *der = NULL;
	json_t *reply;
	char *s;
	int n;

	/* an attached SignedData is not what "sign" makes: refused */
	assert_int_equal(
	    jpki_client_cms_sign(&att, in, f->signer, f->signer_key, NULL, 0),
	    0);
	n = i2d_CMS_ContentInfo(att, &der);
	s = b64(der, (size_t)n);
	reply = seal(doc, s, f->agency_b64);
	assert_string_equal(error_code(reply), "bad_request");
	assert_non_null(strstr(error_text(reply), "detached"));
	json_decref(reply);
	free(s);
	/* a certificate where the CMS should be */
	reply = seal(doc, f->agency_b64, f->agency_b64);
	assert_string_equal(error_code(reply), "bad_request");
	json_decref(reply);
	/* not canonical base64 */
	reply = seal("QQ==\n", f->agency_b64, f->agency_b64);
	assert_string_equal(error_code(reply), "bad_request");
	json_decref(reply);
	OPENSSL_free(der);
	CMS_ContentInfo_free(att);
	BIO_free(in);
	free(doc);
}

static void test_seal_size(void **state)
{
	struct fixture *f = *state;
	size_t max = JPKI_BRIDGE_DOCUMENT_MAX;
	unsigned char *text = malloc(max + 1);
	json_t *reply;
	char *doc, *sig;

	memset(text, 'a', max + 1);
	/* exactly the limit: sealed */
	doc = b64(text, max);
	sig = detached_b64(text, max, f->signer, f->signer_key);
	reply = seal(doc, sig, f->agency_b64);
	assert_string_equal(error_code(reply), "ok");
	opens_to(reply, f, text, max);
	json_decref(reply);
	free(doc);
	free(sig);
	/* one byte more: too_large, however well signed */
	doc = b64(text, max + 1);
	sig = detached_b64(text, max + 1, f->signer, f->signer_key);
	reply = seal(doc, sig, f->agency_b64);
	assert_string_equal(error_code(reply), "too_large");
	assert_non_null(strstr(error_text(reply), "\"document\""));
	json_decref(reply);
	free(doc);
	free(sig);
	free(text);
}

static void test_seal_parse(void **state)
{
	struct jpki_bridge_request req;
	const char *code;
	const char *good = "{\"id\":\"p\",\"op\":\"seal\",\"origin\":"
			   "\"https://a.example\",\"document\":\"QUI=\","
			   "\"signature\":\"MAA=\",\"recipient\":\"MAA=\"}";
	const char *extra = "{\"id\":\"p\",\"op\":\"seal\",\"origin\":"
			    "\"https://a.example\",\"document\":\"QUI=\","
			    "\"signature\":\"MAA=\",\"recipient\":\"MAA=\","
			    "\"hash\":\"QUI=\"}";
	const char *missing = "{\"id\":\"p\",\"op\":\"seal\",\"origin\":"
			      "\"https://a.example\",\"document\":\"QUI=\","
			      "\"signature\":\"MAA=\"}";
	const char *number = "{\"id\":\"p\",\"op\":\"seal\",\"origin\":"
			     "\"https://a.example\",\"document\":1,"
			     "\"signature\":\"MAA=\",\"recipient\":\"MAA=\"}";
	const char *noncanon = "{\"id\":\"p\",\"op\":\"seal\",\"origin\":"
			       "\"https://a.example\",\"document\":\"QUJ=\","
			       "\"signature\":\"MAA=\",\"recipient\":\"MAA=\"}";
	const char *empty = "{\"id\":\"p\",\"op\":\"seal\",\"origin\":"
			    "\"https://a.example\",\"document\":\"\","
			    "\"signature\":\"MAA=\",\"recipient\":\"MAA=\"}";

	assert_int_equal(jpki_bridge_parse(&req, &code, good, strlen(good)), 0);
	assert_int_equal(req.op, JPKI_BRIDGE_SEAL);
	assert_int_equal(req.document_len, 2);
	assert_memory_equal(req.document, "AB", 2);
	assert_int_equal(req.signature_len, 2);
	assert_int_equal(req.recipient_len, 2);
	jpki_bridge_request_clear(&req);
	assert_null(req.document);
	const char *bad[] = {extra, missing, number, noncanon, empty};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(
		    jpki_bridge_parse(&req, &code, bad[i], strlen(bad[i])), 0);
		assert_string_equal(code, "bad_request");
		assert_string_equal(req.id, "p");
		/* a refusal leaves nothing to free */
		assert_null(req.document);
		assert_null(req.signature);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_parse),
	    cmocka_unit_test_setup_teardown(test_seal_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seal_tampered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_seal_wrong_recipient, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_seal_bad_signature, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_seal_size, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
