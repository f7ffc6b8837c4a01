/*
 * A certificate file as `jpki cert show FILE` reads it: the real JPKI CA
 * certificates of both generations (tests/data/real_ca/), as PEM and as
 * DER, and files cut short, too long or not certificates at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "jpki/client.h"
#include "testutil.h"

#define OU_TAIL "OU=Japan Agency for Local Authority Information Systems"

static const struct real_ca {
	const char *file;
	int type;
	const char *subject, *serial, *from, *until, *key_id;
} real[] = {
    {"auth_ca_2015.pem", JPKI_CERT_AUTH,
     "C=JP, O=JPKI, OU=JPKI for user authentication, " OU_TAIL, "01",
     "2015-10-20", "2025-10-19",
     "95:67:95:1B:5C:A7:0D:84:A0:FF:F1:D8:5A:87:F1:AA:B1:34:03:85"},
    {"auth_ca_2023.pem", JPKI_CERT_AUTH,
     "C=JP, O=JPKI, OU=JPKI for user authentication, " OU_TAIL, "06D18006",
     "2023-07-16", "2033-07-15",
     "1A:C1:00:F5:96:A3:BC:8C:4B:3D:F1:95:E3:26:99:24:9E:9E:30:8A"},
    {"sign_ca_2015.pem", JPKI_CERT_SIGN,
     "C=JP, O=JPKI, OU=JPKI for digital signature, " OU_TAIL, "01",
     "2015-10-20", "2025-10-19",
     "0D:03:4C:BB:34:D0:71:4F:45:E4:5A:1C:AF:D8:FD:14:3F:AB:54:A7"},
    {"sign_ca_2023.pem", JPKI_CERT_SIGN,
     "C=JP, O=JPKI, OU=JPKI for digital signature, " OU_TAIL, "067C6A21",
     "2023-07-16", "2033-07-15",
     "D2:1E:A5:58:95:61:7E:93:AD:BF:96:6B:94:1A:B4:ED:F6:53:F0:8F"},
};

static unsigned char *read_real(const char *name, size_t *len)
{
	unsigned char *data = NULL;
	char *path;

	assert_true(asprintf(&path, "%s/real_ca/%s", JPKI_TEST_DATA, name) > 0);
	assert_int_equal(jpki_file_read(&data, len, path, 65536), 0);
	free(path);
	return data;
}

/* Before 2015-10-20 neither generation is valid yet. */
static void test_not_yet_valid(void **state)
{
	struct jpki_client_cert_summary s;
	size_t len;
	unsigned char *pem = read_real("sign_ca_2015.pem", &len);
	X509 *x = NULL;
	time_t t;

	(void)state;
	assert_int_equal(jpki_clock_parse(&t, "2015-10-19"), 0);
	jpki_clock_freeze(t);
	assert_int_equal(jpki_client_cert_parse(&x, pem, len), 0);
	assert_int_equal(jpki_client_cert_summarize(&s, x), 0);
	assert_true(s.not_yet_valid);
	assert_false(s.expired);
	X509_free(x);
	free(pem);
	assert_int_equal(jpki_clock_parse(&t, "2026-01-10"), 0);
	jpki_clock_freeze(t);
}

/* The DER of a PEM file, through OpenSSL. */
static unsigned char *der_of(const unsigned char *pem, size_t pem_len,
			     size_t *len)
{
	X509 *x = NULL;
	unsigned char *der = NULL;
	int n;

	assert_int_equal(jpki_client_cert_parse(&x, pem, pem_len), 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	X509_free(x);
	*len = (size_t)n;
	return der;
}

static void check_real(const struct real_ca *c, const unsigned char *buf,
		       size_t len)
{
	struct jpki_client_cert_summary s;
	X509 *x = NULL;

	assert_int_equal(jpki_client_cert_parse(&x, buf, len), 0);
	assert_int_equal(jpki_client_cert_summarize(&s, x), 0);
	assert_string_equal(s.subject, c->subject);
	assert_string_equal(s.issuer, c->subject);
	assert_string_equal(s.serial, c->serial);
	assert_string_equal(s.not_before, c->from);
	assert_string_equal(s.not_after, c->until);
	assert_string_equal(s.key_id, c->key_id);
	assert_string_equal(s.authority_key_id,
			    ""); /* the real CAs have none */
	assert_string_equal(s.key, "RSA-2048");
	assert_string_equal(s.key_usage, "keyCertSign, cRLSign");
	assert_true(s.is_ca);
	assert_int_equal(s.path_len, -1);
	assert_true(s.self_signed);
	assert_int_equal(s.type, c->type);
	/* on 2026-01-10 (main) the 2015 generation has expired */
	if (strcmp(c->until, "2025-10-19") == 0) {
		assert_true(s.expired);
		assert_true(s.days_left < 0);
	} else {
		assert_false(s.expired);
		assert_int_equal(s.days_left, 2743); /* to 2033-07-15 */
	}
	assert_false(s.not_yet_valid);
	/* the Japanese names of the subjectAltName come out as UTF-8 */
	assert_non_null(strstr(s.alt_name, "O=公的個人認証サービス"));
	assert_non_null(strstr(s.crl_dp, c->subject));
	X509_free(x);
}

static void test_real_ca_certificates(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		size_t len, der_len;
		unsigned char *pem = read_real(real[i].file, &len);
		unsigned char *der = der_of(pem, len, &der_len);

		print_message("%s\n", real[i].file);
		check_real(&real[i], pem, len);
		check_real(&real[i], der, der_len);
		OPENSSL_free(der);
		free(pem);
	}
}

static void expect_parse_error(const unsigned char *buf, size_t len, int err,
			       const char *words)
{
	X509 *x = (X509 *)1;

	assert_int_equal(jpki_client_cert_parse(&x, buf, len), err);
	assert_null(x);
	if (strstr(jpki_err_detail(), words) == NULL)
		fail_msg("'%s' does not say '%s'", jpki_err_detail(), words);
}

/* Every cut of the file fails, and says the certificate is cut short. */
static void test_cut_short(void **state)
{
	size_t len, der_len;
	unsigned char *pem = read_real("sign_ca_2023.pem", &len);
	unsigned char *der = der_of(pem, len, &der_len);
	char words[80];

	(void)state;
	for (size_t cut = 2; cut < der_len; cut++) {
		snprintf(words, sizeof(words), "there are %zu", cut);
		expect_parse_error(der, cut, JPKI_ERR_PARSE,
				   cut < 4 ? "cut short" : words);
	}
	/* PEM cut anywhere after its BEGIN line */
	for (size_t cut = 30; cut + 1 < len; cut += 37)
		expect_parse_error(pem, cut, JPKI_ERR_PARSE,
				   "cut short: no END CERTIFICATE line");
	/* PEM whose middle lines are gone */
	{
		const char *end = strstr((char *)pem, "-----END");
		char *lines = NULL;

		assert_non_null(end);
		assert_true(asprintf(&lines, "%.*s%s", 28 + 65 * 5,
				     (const char *)pem, end) > 0);
		expect_parse_error((unsigned char *)lines, strlen(lines),
				   JPKI_ERR_PARSE, "its DER header claims");
		free(lines);
	}
	OPENSSL_free(der);
	free(pem);
}

static void test_not_a_certificate(void **state)
{
	size_t len, der_len;
	unsigned char *pem = read_real("auth_ca_2023.pem", &len);
	unsigned char *der = der_of(pem, len, &der_len);
	unsigned char *longer = malloc(der_len + 2), *big;
	const unsigned char text[] = "hello\n";
	const unsigned char huge[] = {0x30, 0x83, 0x01, 0x00, 0x00};

	(void)state;
	memcpy(longer, der, der_len);
	longer[der_len] = 0x00;
	longer[der_len + 1] = 0x00;
	expect_parse_error(longer, der_len + 2, JPKI_ERR_PARSE,
			   "2 bytes follow the certificate");
	expect_parse_error(text, 0, JPKI_ERR_PARSE, "the file is empty");
	expect_parse_error(text, sizeof(text) - 1, JPKI_ERR_PARSE,
			   "neither PEM nor DER");
	expect_parse_error(huge, sizeof(huge), JPKI_ERR_PARSE,
			   "DER length (83)");
	/* a SEQUENCE of the right length holding no certificate */
	longer[0] = 0x30;
	longer[1] = 0x03;
	longer[2] = 0x02;
	longer[3] = 0x01;
	longer[4] = 0x00;
	expect_parse_error(longer, 5, JPKI_ERR_PARSE,
			   "not a readable X.509 certificate");
	/* over the cap, whatever it holds */
	big = calloc(1, JPKI_CLIENT_MAX_CERT_FILE + 1);
	expect_parse_error(big, JPKI_CLIENT_MAX_CERT_FILE + 1,
			   JPKI_ERR_TOO_LARGE, "over");
	/* a damaged signature is still read, but is no longer self-signed */
	{
		struct jpki_client_cert_summary s;
		X509 *x = NULL;

		memcpy(longer, der, der_len);
		longer[der_len - 5] ^= 0x01;
		assert_int_equal(jpki_client_cert_parse(&x, longer, der_len),
				 0);
		assert_int_equal(jpki_client_cert_summarize(&s, x), 0);
		assert_false(s.self_signed);
		assert_true(s.is_ca);
		X509_free(x);
	}
	free(big);
	free(longer);
	OPENSSL_free(der);
	free(pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_ca_certificates),
	    cmocka_unit_test(test_not_yet_valid),
	    cmocka_unit_test(test_cut_short),
	    cmocka_unit_test(test_not_a_certificate),
	};

	time_t t;

	if (jpki_clock_parse(&t, "2026-01-10") != 0)
		return 1;
	jpki_clock_freeze(t);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
