/* The certificate profiles, field by field. */
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "testutil.h"

struct fx {
	EVP_PKEY *ca_key;
	X509 *ca;
	EVP_PKEY *key;
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

static struct jpki_facts facts(void)
{
	struct jpki_facts f = {0};

	snprintf(f.name, sizeof(f.name), "山田　太郎");
	snprintf(f.name_subst, sizeof(f.name_subst), "0102");
	snprintf(f.address, sizeof(f.address), "東京都千代田区千代田１番１号");
	f.sex = JPKI_SEX_MALE;
	f.birth = (struct jpki_date){1980, 6, 1};
	return f;
}

static struct jpki_profile_request request(enum jpki_cert_type type,
					   const struct jpki_facts *f)
{
	struct jpki_profile_request req = JPKI_PROFILE_REQUEST_INIT;

	req.type = type;
	req.cn = "ABCDEFGHIJKLMNOPQRSTUVWX";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	req.crl_url = "http://repo.example/crl/sign/131016.crl";
	req.ocsp_url = "http://repo.example/ocsp/sign";
	req.facts = f;
	req.not_before = time(NULL);
	req.not_after = time(NULL) + 86400;
	return req;
}

static X509 *build_signed(struct fx *fx, const struct jpki_profile_request *r)
{
	X509 *cert = NULL;

	assert_int_equal(jpki_profile_build(&cert, r, fx->key, fx->ca), 0);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	assert_true(X509_sign(cert, fx->ca_key, EVP_sha256()) > 0);
	return cert;
}

static int critical(X509 *cert, int nid)
{
	int i = X509_get_ext_by_NID(cert, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(cert, i));
}

static void test_ca_profile(void **state)
{
	struct fx *f = *state;
	char buf[256];

	assert_int_equal(X509_verify(f->ca, f->ca_key), 1);
	assert_true(X509_check_ca(f->ca));
	assert_true(critical(f->ca, NID_basic_constraints));
	assert_true(critical(f->ca, NID_key_usage));
	assert_int_equal(X509_get_key_usage(f->ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	X509_NAME_oneline(X509_get_subject_name(f->ca), buf, sizeof(buf));
	assert_string_equal(buf, "/C=JP/O=JPKI/OU=JPKI for digital signature"
				 "/OU=Japan Agency for Local Authority "
				 "Information Systems");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(f->ca),
				       X509_get_issuer_name(f->ca)),
			 0);
	assert_int_equal(jpki_profile_cert_type(f->ca), JPKI_CERT_SIGN);
	/* as the real CAs: the service's name as subjectAltName, a CRL
	 * distribution point, no issuerAltName and no authority key id */
	assert_true(X509_get_ext_by_NID(f->ca, NID_subject_alt_name, -1) >= 0);
	assert_true(X509_get_ext_by_NID(f->ca, NID_crl_distribution_points,
					-1) >= 0);
	assert_int_equal(X509_get_ext_by_NID(f->ca, NID_issuer_alt_name, -1),
			 -1);
	assert_null(X509_get0_authority_key_id(f->ca));
	assert_non_null(X509_get0_subject_key_id(f->ca));
}

static ASN1_OCTET_STRING *ext_data(X509 *cert, int nid)
{
	int i = X509_get_ext_by_NID(cert, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_data(X509_get_ext(cert, i));
}

/* The CA's subjectAltName: DirName C=JP, O=公的個人認証サービス,
 * OU=公的個人認証サービス署名用, OU=地方公共団体情報システム機構, every
 * Japanese value a UTF8String; a certificate it issues names the same in
 * its issuerAltName. */
static void test_alt_name(void **state)
{
	struct fx *f = *state;
	GENERAL_NAMES *san = X509_get_ext_d2i(f->ca, NID_subject_alt_name, NULL,
					      NULL);
	static const char *want[] = {"公的個人認証サービス",
				     "公的個人認証サービス署名用",
				     "地方公共団体情報システム機構"};
	struct jpki_facts in = facts();
	struct jpki_profile_request req = request(JPKI_CERT_SIGN, &in);
	X509 *cert = build_signed(f, &req);
	GENERAL_NAME *gn;
	X509_NAME *dn;

	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	gn = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(gn->type, GEN_DIRNAME);
	dn = gn->d.directoryName;
	assert_int_equal(X509_NAME_entry_count(dn), 4);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(
				 X509_NAME_get_entry(dn, 0))),
			 NID_countryName);
	for (int i = 1; i < 4; i++) {
		ASN1_STRING *v =
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(dn, i));

		assert_int_equal(ASN1_STRING_type(v), V_ASN1_UTF8STRING);
		assert_int_equal(ASN1_STRING_length(v), (int)strlen(want[i - 1]));
		assert_memory_equal(ASN1_STRING_get0_data(v), want[i - 1],
				    strlen(want[i - 1]));
	}
	GENERAL_NAMES_free(san);
	assert_int_equal(ASN1_STRING_cmp(ext_data(cert, NID_issuer_alt_name),
					 ext_data(f->ca, NID_subject_alt_name)),
			 0);
	X509_free(cert);
}

static void test_signing_profile(void **state)
{
	struct fx *f = *state;
	struct jpki_facts in = facts(), out;
	struct jpki_profile_request req = request(JPKI_CERT_SIGN, &in);
	X509 *cert = build_signed(f, &req);
	char buf[256];
	CERTIFICATEPOLICIES *pols;
	AUTHORITY_INFO_ACCESS *aia;

	assert_int_equal(X509_verify(cert, f->ca_key), 1);
	assert_int_equal(X509_get_version(cert), X509_VERSION_3);
	X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
	assert_string_equal(buf, "/C=JP/L=Tokyo-to/L=Chiyoda-ku/"
				 "CN=ABCDEFGHIJKLMNOPQRSTUVWX");
	assert_true(critical(cert, NID_key_usage));
	assert_int_equal(X509_get_key_usage(cert),
			 KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	assert_true(critical(cert, NID_certificate_policies));
	pols = X509_get_ext_d2i(cert, NID_certificate_policies, NULL, NULL);
	assert_int_equal(sk_POLICYINFO_num(pols), 1);
	OBJ_obj2txt(buf, sizeof(buf), sk_POLICYINFO_value(pols, 0)->policyid,
		    1);
	assert_string_equal(buf, JPKI_OID_POLICY_SIGN);
	sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
	assert_false(critical(cert, NID_subject_alt_name));
	aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
	assert_int_equal(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, 0)->method),
			 NID_ad_OCSP);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	assert_true(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1) >=
		    0);
	assert_true(X509_get0_authority_key_id(cert) != NULL);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
					       X509_get0_subject_key_id(f->ca)),
			 0);
	assert_int_equal(jpki_profile_cert_type(cert), JPKI_CERT_SIGN);
	/* the six otherNames read back exactly */
	assert_int_equal(jpki_profile_facts_from_cert(&out, cert), 0);
	assert_string_equal(out.name, in.name);
	assert_string_equal(out.name_subst, "0102");
	assert_string_equal(out.address, in.address);
	assert_string_equal(out.address_subst, "");
	assert_int_equal(out.sex, JPKI_SEX_MALE);
	assert_int_equal(jpki_date_cmp(&out.birth, &in.birth), 0);
	X509_free(cert);
}

/* The otherName encoding on the wire: [0] EXPLICIT UTF8String. */
static void test_othername_der(void **state)
{
	struct fx *f = *state;
	struct jpki_facts in = facts();
	struct jpki_profile_request req = request(JPKI_CERT_SIGN, &in);
	X509 *cert = build_signed(f, &req);
	ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_get_ext(
		cert, X509_get_ext_by_NID(cert, NID_subject_alt_name, -1)));
	const unsigned char *p = ASN1_STRING_get0_data(data);
	/* otherName 1.2.392.200149.8.5.5.1: A0 len, OID, A0 len, 0C len */
	static const unsigned char want[] = {
		0xa0, 0x1f, 0x06, 0x0a, 0x2a, 0x83, 0x08, 0x8c, 0x9b,
		0x55, 0x08, 0x05, 0x05, 0x01, 0xa0, 0x11, 0x0c, 0x0f};
	size_t hdr = p[1] & 0x80 ? 2 + (p[1] & 0x7f) : 2;

	assert_int_equal(p[0], 0x30); /* GeneralNames SEQUENCE */
	assert_memory_equal(p + hdr, want, sizeof(want));
	assert_memory_equal(p + hdr + sizeof(want), "山田　太郎",
			    strlen("山田　太郎"));
	X509_free(cert);
}

static void test_auth_profile(void **state)
{
	struct fx *f = *state;
	struct jpki_profile_request req = request(JPKI_CERT_AUTH, NULL);
	struct jpki_facts out;
	X509 *cert;
	char buf[128];

	req.ocsp_url = "http://repo.example/ocsp/auth";
	cert = build_signed(f, &req);
	X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
	assert_string_equal(buf, "/C=JP/CN=ABCDEFGHIJKLMNOPQRSTUVWX");
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_true(critical(cert, NID_key_usage));
	assert_true(critical(cert, NID_certificate_policies));
	assert_int_equal(jpki_profile_cert_type(cert), JPKI_CERT_AUTH);
	assert_int_equal(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1),
			 -1);
	assert_int_equal(X509_get_ext_by_NID(cert, NID_crl_distribution_points,
					     -1),
			 -1);
	assert_int_equal(jpki_profile_facts_from_cert(&out, cert),
			 JPKI_ERR_PARSE);
	X509_free(cert);
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	struct jpki_facts in = facts();
	struct jpki_profile_request req;
	X509 *cert = (X509 *)1;

	req = request(JPKI_CERT_SIGN, NULL);
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	assert_null(cert);
	req = request(JPKI_CERT_SIGN, &in);
	req.prefecture = "";
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	req = request(JPKI_CERT_SIGN, &in);
	req.crl_url = "http://a,URI:http://b";
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	req = request(JPKI_CERT_SIGN, &in);
	req.not_after = req.not_before;
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	req = request(JPKI_CERT_AUTH, NULL);
	req.cn = "";
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	req.version = 99;
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	memset(in.address, 0, sizeof(in.address));
	for (int i = 0; i < 201; i++)
		strcat(in.address, "区");
	req = request(JPKI_CERT_SIGN, &in);
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca),
			 JPKI_ERR_INVALID);
	assert_null(cert);
}

/* A certificate whose otherNames lie about their contents is refused. */
static void test_facts_from_tampered_san(void **state)
{
	struct fx *f = *state;
	struct jpki_facts in = facts(), out;
	struct jpki_profile_request req = request(JPKI_CERT_SIGN, &in);
	X509 *cert = NULL;

	in.birth = (struct jpki_date){1980, 6, 1};
	assert_int_equal(jpki_profile_build(&cert, &req, f->key, f->ca), 0);
	/* replace the SAN by one with a bad sex value */
	{
		GENERAL_NAMES *names = X509_get_ext_d2i(
			cert, NID_subject_alt_name, NULL, NULL);
		ASN1_OBJECT *obj;
		ASN1_TYPE *val;

		for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
			char oid[64];

			GENERAL_NAME_get0_otherName(
				sk_GENERAL_NAME_value(names, i), &obj, &val);
			OBJ_obj2txt(oid, sizeof(oid), obj, 1);
			if (strcmp(oid, JPKI_OID_FACTS ".3") == 0)
				ASN1_STRING_set(val->value.utf8string, "9", 1);
		}
		X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0,
				  X509V3_ADD_REPLACE);
		GENERAL_NAMES_free(names);
	}
	assert_int_equal(jpki_profile_facts_from_cert(&out, cert),
			 JPKI_ERR_PARSE);
	assert_non_null(strstr(jpki_err_detail(), "sex"));
	X509_free(cert);
}

static void test_ocsp_signer(void **state)
{
	struct fx *f = *state;
	X509 *cert = NULL;

	assert_int_equal(jpki_profile_build_ocsp_signer(&cert, f->ca, f->key,
							time(NULL),
							time(NULL) + 3600),
			 0);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 9);
	assert_true(X509_sign(cert, f->ca_key, EVP_sha256()) > 0);
	assert_true(X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN);
	assert_true(X509_get_ext_by_NID(cert, NID_id_pkix_OCSP_noCheck, -1) >=
		    0);
	assert_int_equal(X509_check_issued(f->ca, cert), X509_V_OK);
	X509_free(cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_profile),
		cmocka_unit_test(test_alt_name),
		cmocka_unit_test(test_signing_profile),
		cmocka_unit_test(test_othername_der),
		cmocka_unit_test(test_auth_profile),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_facts_from_tampered_san),
		cmocka_unit_test(test_ocsp_signer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
