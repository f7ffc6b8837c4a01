/*
 * Signed applications verified per second (jpki_verify_application: CMS
 * parse, the signature, the chain to the signing CA picked by authority key
 * id, the signing policy and validity, revocation, the 4 facts against the
 * form), beside raw RSA-2048 verification in the same process (EVP
 * DigestVerify, SHA-256, PKCS#1 v1.5). An application costs two public-key
 * operations (the signature and the certificate's), so 0.5 of the raw rate
 * is the ceiling of a verifier that did nothing else.
 *
 * The applications are a 4 KiB form signed as the resident's client signs it
 * (jpki_client_cms_sign, attached, the signer's certificate included) by
 * SIGNERS residents, each with a certificate of their own, taken in turn:
 * nothing learned from one application (a certificate already decoded or
 * checked) can serve the next. Their keys are KEYS, shared in turn (key
 * generation takes a while; the verifier decodes each signer's key afresh
 * all the same).
 * Revocation is answered from the CA's own records through the status
 * callback, as the portal does; OCSP over HTTP is measured by ocsp_bench.
 *
 * usage: verify_bench [SECONDS]   (default 3)
 */
#include <openssl/cms.h>
#include <openssl/rsa.h>

#include "bench.h"
#include "jpki/client.h"
#include "jpki/verify.h"

/* Distinct signers, taken in turn, and their keys. */
#define SIGNERS 64
#define KEYS 8

/* The process's CPU time: what the figures are when other work shares the
 * cores, which the clock is not. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	struct jpki_verify_options vo = JPKI_VERIFY_OPTIONS_INIT;
	struct bench_ca b;
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 3;
	unsigned char form[4096], *der[SIGNERS] = {NULL};
	double start, t, rate, raw, cpu, cpu_rate, raw_cpu_rate;
	X509 *anchor;
	EVP_PKEY *keys[KEYS] = {NULL};
	long n = 0;
	int len[SIGNERS];

	bench_name = "verify_bench";
	if (seconds <= 0)
		seconds = 3;
	bench_ca_open(&b);
	anchor = jpki_ca_cert(b.ca, JPKI_CERT_SIGN);
	memset(form, 'a', sizeof(form));
	for (int i = 0; i < SIGNERS; i++) {
		struct jpki_issue_request req;
		struct jpki_cert_info *info = NULL;
		CMS_ContentInfo *cms = NULL;
		const unsigned char *p;
		char person[16];
		EVP_PKEY *subject;
		X509 *cert;
		BIO *in;

		if (i < KEYS && (keys[i] = EVP_RSA_gen(2048)) == NULL)
			bench_fail("key generation");
		subject = keys[i % KEYS];
		snprintf(person, sizeof(person), "P%d", i + 1);
		req = bench_request(person);
		if (jpki_ca_issue(&info, b.ca, &req, subject) != 0)
			bench_fail("issue");
		p = info->der;
		if ((cert = d2i_X509(NULL, &p, (long)info->der_len)) == NULL)
			bench_fail("certificate");
		if ((in = BIO_new_mem_buf(form, sizeof(form))) == NULL ||
		    jpki_client_cms_sign(&cms, in, cert, subject, NULL, 0) !=
			0 ||
		    (len[i] = i2d_CMS_ContentInfo(cms, &der[i])) <= 0)
			bench_fail("signing the application");
		BIO_free(in);
		CMS_ContentInfo_free(cms);
		X509_free(cert);
		jpki_cert_info_free(info);
	}

	vo.anchors = &anchor;
	vo.n_anchors = 1;
	vo.form_name = "山田 太郎";
	vo.form_address = "東京都千代田区千代田1番1号";
	vo.status = from_records;
	vo.status_arg = b.ca;
	start = bench_now();
	cpu = cpu_now();
	do {
		struct jpki_verify_report rep;

		if (jpki_verify_application(&rep, &vo, der[n % SIGNERS],
					    (size_t)len[n % SIGNERS]) != 0)
			bench_fail("verify");
		if (!rep.accepted) {
			fprintf(stderr, "verify_bench: refused: %s\n",
				rep.n_reasons ? rep.reasons[0].text : "?");
			exit(1);
		}
		jpki_verify_report_clear(&rep);
		n++;
		t = bench_now() - start;
	} while (t < seconds);
	rate = (double)n / t;
	cpu_rate = (double)n / (cpu_now() - cpu);
	start = bench_now();
	cpu = cpu_now();
	raw = bench_raw_rate(keys[0], 1, 1, seconds);
	/* one thread: its verifications over the process's CPU time */
	raw_cpu_rate = raw * (bench_now() - start) / (cpu_now() - cpu);

	printf("signed applications (4 KiB form, CMS, %d distinct signers, "
	       "1 thread)\n",
	       SIGNERS);
	printf("  jpki verify:                 %8.0f applications/s\n", rate);
	printf("  raw RSA-2048 verification:   %8.0f verifications/s\n", raw);
	printf("  by CPU time: %8.0f applications/s, %8.0f verifications/s "
	       "(ratio %.3f)\n",
	       cpu_rate, raw_cpu_rate, cpu_rate / raw_cpu_rate);
	printf("ratio applications / raw verifications: %.3f (ceiling 0.5: "
	       "two verifications each)\n",
	       rate / raw);

	for (int i = 0; i < SIGNERS; i++)
		OPENSSL_free(der[i]);
	for (int i = 0; i < KEYS; i++)
		EVP_PKEY_free(keys[i]);
	bench_ca_close(&b);
	return 0;
}
