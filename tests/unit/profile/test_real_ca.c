/*
 * Our CA certificates against the real JPKI ones (tests/data/real_ca, both
 * generations): the same DN, the same extensions in the same order and
 * criticality, and the same extension values but for the key identifier,
 * which is of our own key.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "testutil.h"

static X509 *real_ca(const char *name)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/real_ca/%s.pem", JPKI_TEST_DATA, name);
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static X509 *our_ca(enum jpki_cert_type type)
{
	EVP_PKEY *key = tu_rsa_key(2048);
	unsigned char serial[] = {0x01};
	X509 *x = NULL;

	assert_int_equal(jpki_profile_build_ca(&x, type, key, serial, 1,
					       time(NULL),
					       time(NULL) + 86400L * 3650),
			 0);
	EVP_PKEY_free(key);
	return x;
}

/*
 * Whether `ours` carries the extensions of `real`: the same OIDs in the
 * same order with the same criticality, and the same DER value for every
 * one but the subject key identifier. Says the first difference in `why`.
 */
static int same_extensions(X509 *ours, X509 *real, char why[256])
{
	int n = X509_get_ext_count(real);

	if (X509_get_ext_count(ours) != n) {
		snprintf(why, 256, "%d extensions, the real CA has %d",
			 X509_get_ext_count(ours), n);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *a = X509_get_ext(ours, i),
			       *b = X509_get_ext(real, i);
		char oa[80], ob[80];

		OBJ_obj2txt(oa, sizeof(oa), X509_EXTENSION_get_object(a), 1);
		OBJ_obj2txt(ob, sizeof(ob), X509_EXTENSION_get_object(b), 1);
		if (strcmp(oa, ob) != 0) {
			snprintf(why, 256, "extension %d is %s, real %s", i, oa,
				 ob);
			return 0;
		}
		if (X509_EXTENSION_get_critical(a) !=
		    X509_EXTENSION_get_critical(b)) {
			snprintf(why, 256, "%s differs in criticality", oa);
			return 0;
		}
		if (OBJ_obj2nid(X509_EXTENSION_get_object(a)) !=
			NID_subject_key_identifier &&
		    ASN1_STRING_cmp(X509_EXTENSION_get_data(a),
				    X509_EXTENSION_get_data(b)) != 0) {
			snprintf(why, 256, "%s differs in value", oa);
			return 0;
		}
	}
	return 1;
}

static void check_type(enum jpki_cert_type type, const char *real_2023,
		       const char *real_2015)
{
	const char *names[] = {real_2023, real_2015};
	X509 *ours = our_ca(type);
	char why[256] = "";

	for (int g = 0; g < 2; g++) {
		X509 *real = real_ca(names[g]);
		unsigned char *a = NULL, *b = NULL;
		int na, nb;

		if (!same_extensions(ours, real, why))
			fail_msg("%s: %s", names[g], why);
		/* the DN byte for byte (string types included) */
		na = i2d_X509_NAME(X509_get_subject_name(ours), &a);
		nb = i2d_X509_NAME(X509_get_subject_name(real), &b);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, (size_t)na);
		OPENSSL_free(a);
		OPENSSL_free(b);
		assert_int_equal(X509_get_signature_nid(ours),
				 X509_get_signature_nid(real));
		assert_int_equal(X509_get_version(ours),
				 X509_get_version(real));
		X509_free(real);
	}
	X509_free(ours);
}

static void test_sign_ca_as_real(void **state)
{
	(void)state;
	check_type(JPKI_CERT_SIGN, "sign_ca_2023", "sign_ca_2015");
}

static void test_auth_ca_as_real(void **state)
{
	(void)state;
	check_type(JPKI_CERT_AUTH, "auth_ca_2023", "auth_ca_2015");
}

/* The comparison sees each kind of difference: the other CA's names, an
 * extra extension (the authority key id our CAs used to carry), a changed
 * criticality. */
static void test_differences_seen(void **state)
{
	X509 *ours = our_ca(JPKI_CERT_SIGN), *auth = our_ca(JPKI_CERT_AUTH);
	X509 *real = real_ca("sign_ca_2023");
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	char why[256] = "";

	(void)state;
	assert_true(same_extensions(ours, real, why));
	assert_false(same_extensions(auth, real, why));
	assert_non_null(strstr(why, "differs in value"));
	X509_EXTENSION_set_critical(X509_get_ext(ours, 3), 1);
	assert_false(same_extensions(ours, real, why));
	assert_non_null(strstr(why, "criticality"));
	X509_EXTENSION_set_critical(X509_get_ext(ours, 3), 0);
	assert_true(same_extensions(ours, real, why));
	X509V3_set_ctx(&ctx, ours, ours, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
				  "keyid:always");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(ours, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_false(same_extensions(ours, real, why));
	assert_non_null(strstr(why, "6 extensions"));
	X509_free(ours);
	X509_free(auth);
	X509_free(real);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_ca_as_real),
	    cmocka_unit_test(test_auth_ca_as_real),
	    cmocka_unit_test(test_differences_seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
