/*
 * Signed applications verified per second (jpki_verify_application: CMS
 * parse, the signature, the chain to the signing CA picked by authority key
 * id, the signing policy and validity, revocation, the 4 facts against the
 * form), beside raw RSA-2048 verification in the same process (EVP
 * DigestVerify, SHA-256, PKCS#1 v1.5). An application costs two public-key
 * operations (the signature and the certificate's), so 0.5 of the raw rate
 * is the ceiling of a verifier that did nothing else.
 *
 * The application is a 4 KiB form signed as the resident's client signs it
 * (jpki_client_cms_sign, attached, signer and CA certificates included).
 * Revocation is answered from the CA's own records through the status
 * callback, as the portal does; OCSP over HTTP is measured by ocsp_bench.
 *
 * usage: verify_bench [SECONDS]   (default 3)
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jpki/ca.h"
#include "jpki/client.h"
#include "jpki/verify.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fail(const char *what)
{
	fprintf(stderr, "verify_bench: %s: %s\n", what, jpki_err_detail());
	exit(1);
}

static double raw_verify_rate(EVP_PKEY *key, double seconds)
{
	unsigned char msg[1024] = {0}, sig[256];
	size_t len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	double start = now_s(), t;
	long n = 0;

	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &len, msg, sizeof(msg)) != 1)
		fail("EVP_DigestSign");
	EVP_MD_CTX_free(ctx);
	do {
		ctx = EVP_MD_CTX_new();
		if (ctx == NULL ||
		    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) !=
			    1 ||
		    EVP_DigestVerify(ctx, sig, len, msg, sizeof(msg)) != 1)
			fail("EVP_DigestVerify");
		EVP_MD_CTX_free(ctx);
		n++;
		t = now_s() - start;
	} while (t < seconds);
	return (double)n / t;
}

/* The CA's records answer, as the portal's callback does. */
static int from_records(void *arg, X509 *cert, X509 *issuer,
			const char *serial, enum jpki_verify_status *status,
			int *reason)
{
	struct jpki_cert_info *info = NULL;
	int r;

	(void)cert;
	(void)issuer;
	if ((r = jpki_ca_status(&info, arg, serial)) != 0)
		return r;
	*status = info->status == JPKI_STATUS_GOOD ? JPKI_VERIFY_GOOD
						   : JPKI_VERIFY_REVOKED;
	*reason = info->status == JPKI_STATUS_GOOD ? -1 : (int)info->reason;
	jpki_cert_info_free(info);
	return 0;
}

int main(int argc, char **argv)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_verify_options vo = JPKI_VERIFY_OPTIONS_INIT;
	char dir[] = "/tmp/jpki-bench-XXXXXX", db[64], keys[64];
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 3;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	struct jpki_cert_info *info = NULL;
	CMS_ContentInfo *cms = NULL;
	unsigned char form[4096], *der = NULL;
	const unsigned char *p;
	double start, t, rate, raw;
	X509 *cert, *anchor;
	EVP_PKEY *subject;
	BIO *in;
	long n = 0;
	int len;
	time_t now;

	if (seconds <= 0)
		seconds = 3;
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp");
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (jpki_clock_parse(&now, "2026-01-10") != 0)
		fail("clock");
	jpki_clock_freeze(now);
	snprintf(db, sizeof(db), "%s/jpki.db", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	if (jpki_store_open(&st, db) != 0 || jpki_ca_init(st, &opts) != 0 ||
	    jpki_ca_open(&ca, st, NULL) != 0)
		fail("setup");
	if ((subject = EVP_RSA_gen(2048)) == NULL)
		fail("key generation");
	req.type = JPKI_CERT_SIGN;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = "P1";
	req.municipality_code = "131016";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	snprintf(req.facts.address, sizeof(req.facts.address),
		 "東京都千代田区千代田１番１号");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	req.card_expiry = (struct jpki_date){2035, 6, 1};
	if (jpki_ca_issue(&info, ca, &req, subject) != 0)
		fail("issue");
	p = info->der;
	if ((cert = d2i_X509(NULL, &p, (long)info->der_len)) == NULL)
		fail("certificate");
	anchor = jpki_ca_cert(ca, JPKI_CERT_SIGN);
	memset(form, 'a', sizeof(form));
	if ((in = BIO_new_mem_buf(form, sizeof(form))) == NULL ||
	    jpki_client_cms_sign(&cms, in, cert, subject, NULL, 0) != 0 ||
	    (len = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		fail("signing the application");
	BIO_free(in);

	vo.anchors = &anchor;
	vo.n_anchors = 1;
	vo.form_name = "山田 太郎";
	vo.form_address = "東京都千代田区千代田1番1号";
	vo.status = from_records;
	vo.status_arg = ca;
	start = now_s();
	do {
		struct jpki_verify_report rep;

		if (jpki_verify_application(&rep, &vo, der, (size_t)len) != 0)
			fail("verify");
		if (!rep.accepted) {
			fprintf(stderr, "verify_bench: refused: %s\n",
				rep.n_reasons ? rep.reasons[0].text : "?");
			exit(1);
		}
		jpki_verify_report_clear(&rep);
		n++;
		t = now_s() - start;
	} while (t < seconds);
	rate = (double)n / t;
	raw = raw_verify_rate(subject, seconds);

	printf("signed applications (4 KiB form, CMS, 1 thread)\n");
	printf("  jpki verify:                 %8.0f applications/s\n", rate);
	printf("  raw RSA-2048 verification:   %8.0f verifications/s\n", raw);
	printf("ratio applications / raw verifications: %.3f (ceiling 0.5: "
	       "two verifications each)\n",
	       rate / raw);

	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	X509_free(cert);
	EVP_PKEY_free(subject);
	jpki_cert_info_free(info);
	jpki_ca_free(ca);
	jpki_store_free(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
