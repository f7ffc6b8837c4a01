/*
 * The pre-encoded path (jpki_profile_issuer, jpki_profile_issue) against the
 * plain one (jpki_profile_build, the serial, X509_sign): the same request,
 * subject key and serial give the same certificate, byte for byte (RSA
 * PKCS#1 v1.5 signatures are deterministic), for both profiles, for several
 * municipalities (each one's cRLDistributionPoints encoded once, then
 * reused) and with or without a caIssuers URL.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "testutil.h"

#define OCSP_URL "http://repo.example/ocsp/sign"
#define CA_URL "http://repo.example/ca/sign.crt"

struct fx {
	EVP_PKEY *ca_key;
	X509 *ca;
	EVP_PKEY *key;
	struct jpki_facts facts;
};

static int setup(void **state)
{
	static struct fx f;
	unsigned char serial[] = {0x42};

	f.ca_key = tu_rsa_key_fresh();
	f.key = tu_rsa_key(2048);
	if (jpki_profile_build_ca(&f.ca, JPKI_CERT_SIGN, f.ca_key, serial, 1,
				  time(NULL), time(NULL) + 86400 * 365) != 0)
		return -1;
	snprintf(f.facts.name, sizeof(f.facts.name), "山田　太郎");
	snprintf(f.facts.name_subst, sizeof(f.facts.name_subst), "0102");
	snprintf(f.facts.address, sizeof(f.facts.address),
		 "東京都千代田区千代田１番１号");
	f.facts.sex = JPKI_SEX_FEMALE;
	f.facts.birth = (struct jpki_date){1980, 6, 1};
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	X509_free(f->ca);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->key);
	return 0;
}

static struct jpki_profile_request request(struct fx *f,
					   enum jpki_cert_type type,
					   const char *ca_url)
{
	struct jpki_profile_request req = JPKI_PROFILE_REQUEST_INIT;

	req.type = type;
	req.cn = "ABCDEFGHIJKLMNOPQRSTUVWX";
	req.prefecture = "東京都";
	req.municipality = "千代田区";
	req.crl_url = "http://repo.example/crl/sign/131016.crl";
	req.ocsp_url = OCSP_URL;
	req.ca_issuers_url = ca_url;
	req.facts = &f->facts;
	req.not_before = 1760000000;
	req.not_after = 1760000000 + 86400 * 365 * 5;
	return req;
}

/* Both paths for req with serial n: asserts the same DER and subject. */
static void same_both_ways(struct fx *f, struct jpki_profile_issuer *iss,
			   const struct jpki_profile_request *req, long n)
{
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	X509 *plain = NULL, *back;
	unsigned char *plain_der = NULL, *der = NULL;
	const unsigned char *p;
	char *subject = NULL, *plain_subject;
	size_t len = 0;
	int plain_len;

	assert_non_null(serial);
	assert_true(ASN1_INTEGER_set(serial, n));
	assert_int_equal(jpki_profile_build(&plain, req, f->key, f->ca), 0);
	assert_true(X509_set_serialNumber(plain, serial));
	assert_true(X509_sign(plain, f->ca_key, EVP_sha256()) > 0);
	plain_len = i2d_X509(plain, &plain_der);
	assert_true(plain_len > 0);

	assert_int_equal(jpki_profile_issue(&der, &len, &subject, iss, req,
					    f->key, serial),
			 0);
	assert_int_equal(len, (size_t)plain_len);
	assert_memory_equal(der, plain_der, len);
	plain_subject = X509_NAME_oneline(X509_get_subject_name(plain), NULL,
					  0);
	assert_string_equal(subject, plain_subject);
	/* and it is a certificate OpenSSL reads and the CA signed */
	p = der;
	assert_non_null(back = d2i_X509(NULL, &p, (long)len));
	assert_int_equal(X509_verify(back, f->ca_key), 1);
	assert_int_equal(jpki_profile_cert_type(back), (int)req->type);

	X509_free(back);
	OPENSSL_free(plain_subject);
	OPENSSL_free(subject);
	OPENSSL_free(der);
	OPENSSL_free(plain_der);
	X509_free(plain);
	ASN1_INTEGER_free(serial);
}

static void test_signing_same_bytes(void **state)
{
	struct fx *f = *state;
	struct jpki_profile_issuer *iss = NULL;
	struct jpki_profile_request req = request(f, JPKI_CERT_SIGN, CA_URL);
	static const char *const crls[] = {
		"http://repo.example/crl/sign/131016.crl",
		"http://repo.example/crl/sign/141003.crl",
		"http://repo.example/crl/sign/131016.crl", /* reused */
	};

	assert_int_equal(jpki_profile_issuer_new(&iss, JPKI_CERT_SIGN, f->ca,
						 f->ca_key, OCSP_URL, CA_URL),
			 0);
	for (size_t i = 0; i < sizeof(crls) / sizeof(crls[0]); i++) {
		req.crl_url = crls[i];
		req.municipality = i == 1 ? "横浜市" : "千代田区";
		same_both_ways(f, iss, &req, 1000 + (long)i);
	}
	/* the serial and the facts are the subject's own */
	f->facts.sex = JPKI_SEX_MALE;
	same_both_ways(f, iss, &req, 0x7fffffffL);
	f->facts.sex = JPKI_SEX_FEMALE;
	jpki_profile_issuer_free(iss);
}

static void test_auth_same_bytes(void **state)
{
	struct fx *f = *state;
	struct jpki_profile_issuer *iss = NULL;
	struct jpki_profile_request req = request(f, JPKI_CERT_AUTH, NULL);

	/* without a caIssuers URL the AIA carries OCSP only */
	assert_int_equal(jpki_profile_issuer_new(&iss, JPKI_CERT_AUTH, f->ca,
						 f->ca_key, OCSP_URL, NULL),
			 0);
	same_both_ways(f, iss, &req, 7);
	same_both_ways(f, iss, &req, 8);
	jpki_profile_issuer_free(iss);
}

/* The written parts at their edges: facts long enough for two-byte
 * lengths, empty substitutes, a CN the names' model does not take (other
 * characters, another length: OpenSSL encodes that name) and one it takes
 * after them, and a validity past 2049 (GeneralizedTime). */
static void test_edges_same_bytes(void **state)
{
	struct fx *f = *state;
	struct jpki_profile_issuer *iss = NULL;
	struct jpki_profile_request req = request(f, JPKI_CERT_SIGN, CA_URL);
	struct jpki_facts saved = f->facts;
	size_t at = 0;

	assert_int_equal(jpki_profile_issuer_new(&iss, JPKI_CERT_SIGN, f->ca,
						 f->ca_key, OCSP_URL, CA_URL),
			 0);
	for (int i = 0; i < 100; i++) /* 100 characters, 300 bytes */
		at += (size_t)snprintf(f->facts.name + at,
				       sizeof(f->facts.name) - at, "山");
	at = 0;
	for (int i = 0; i < 200; i++) /* 200 characters, 600 bytes */
		at += (size_t)snprintf(f->facts.address + at,
				       sizeof(f->facts.address) - at, "東");
	f->facts.name_subst[0] = '\0';
	snprintf(f->facts.address_subst, sizeof(f->facts.address_subst),
		 "0001,0002");
	same_both_ways(f, iss, &req, 21);
	req.cn = "abc-def ghi"; /* not the model's characters */
	same_both_ways(f, iss, &req, 22);
	req.cn = "é"; /* UTF-8 */
	same_both_ways(f, iss, &req, 23);
	req.cn = "Short12"; /* another length: a model of its own */
	same_both_ways(f, iss, &req, 24);
	/* names that a joined key would not tell apart */
	req.prefecture = "東京都\037a";
	req.municipality = "b";
	same_both_ways(f, iss, &req, 28);
	req.prefecture = "東京都";
	req.municipality = "a\037b";
	same_both_ways(f, iss, &req, 29);
	req.municipality = "千代田区";
	req.cn = "ZYXWVUTSRQPONMLKJIHGFEDC";
	req.not_after = 2556144000; /* 2051-01-01 */
	same_both_ways(f, iss, &req, 25);
	f->facts = saved;
	{
		/* a subject key of another size (its modulus' top byte
		 * decides the INTEGER's leading zero), and one that is not
		 * RSA (OpenSSL's encoder) */
		EVP_PKEY *rsa = f->key, *other;

		assert_non_null(other = EVP_RSA_gen(1028));
		f->key = other;
		same_both_ways(f, iss, &req, 26);
		EVP_PKEY_free(other);
		assert_non_null(other = EVP_EC_gen("P-256"));
		f->key = other;
		same_both_ways(f, iss, &req, 27);
		EVP_PKEY_free(other);
		f->key = rsa;
	}
	jpki_profile_issuer_free(iss);
}

/* Requests the pre-encoded profile does not fit, or the plain path would
 * refuse, are refused with nothing made. */
static void test_refused(void **state)
{
	struct fx *f = *state;
	struct jpki_profile_issuer *iss = NULL;
	struct jpki_profile_request req = request(f, JPKI_CERT_SIGN, CA_URL);
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	unsigned char *der = (unsigned char *)"x";
	char *subject = (char *)"x";
	size_t len = 1;

	assert_true(ASN1_INTEGER_set(serial, 5));
	assert_int_equal(jpki_profile_issuer_new(&iss, JPKI_CERT_SIGN, NULL,
						 f->ca_key, OCSP_URL, CA_URL),
			 JPKI_ERR_INVALID);
	assert_null(iss);
	assert_int_equal(jpki_profile_issuer_new(&iss, JPKI_CERT_SIGN, f->ca,
						 f->ca_key, OCSP_URL, CA_URL),
			 0);

	req.ocsp_url = "http://elsewhere.example/ocsp/sign";
	assert_int_equal(jpki_profile_issue(&der, &len, &subject, iss, &req,
					    f->key, serial),
			 JPKI_ERR_INVALID);
	assert_null(der);
	assert_null(subject);
	assert_int_equal(len, 0);
	assert_non_null(strstr(jpki_err_detail(), "pre-encoded"));

	req = request(f, JPKI_CERT_SIGN, NULL); /* caIssuers missing */
	assert_int_equal(jpki_profile_issue(&der, &len, NULL, iss, &req,
					    f->key, serial),
			 JPKI_ERR_INVALID);
	req = request(f, JPKI_CERT_AUTH, CA_URL); /* another profile */
	assert_int_equal(jpki_profile_issue(&der, &len, NULL, iss, &req,
					    f->key, serial),
			 JPKI_ERR_INVALID);
	req = request(f, JPKI_CERT_SIGN, CA_URL);
	req.cn = ""; /* what jpki_profile_build refuses */
	assert_int_equal(jpki_profile_issue(&der, &len, NULL, iss, &req,
					    f->key, serial),
			 JPKI_ERR_INVALID);
	req = request(f, JPKI_CERT_SIGN, CA_URL);
	assert_int_equal(jpki_profile_issue(&der, &len, NULL, iss, &req, NULL,
					    serial),
			 JPKI_ERR_INVALID);
	assert_null(der);
	jpki_profile_issuer_free(iss);
	ASN1_INTEGER_free(serial);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_same_bytes),
		cmocka_unit_test(test_auth_same_bytes),
		cmocka_unit_test(test_edges_same_bytes),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
