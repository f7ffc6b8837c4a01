/*
 * Certificates issued per second through the CA — profile, RSA-2048
 * signature, durable SQLite commit — beside the raw RSA-2048 signing rate of
 * OpenSSL measured in the same process (and `openssl speed`, when the
 * command is there), as a ratio.
 *
 * What bounds the rate: each certificate costs one RSA-2048 private-key
 * operation (the certificate's signature), one fsync'd SQLite commit in WAL
 * mode, a handful of indexed look-ups (prior certificates of the person, the
 * municipality's CRL partition, the serial's uniqueness) and the profile's
 * extension building. Subject keys are made once: key generation is the
 * card's work, not the CA's.
 *
 * usage: issue_bench [N]   (default 200 certificates)
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jpki/ca.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void fail(const char *what)
{
	fprintf(stderr, "issue_bench: %s: %s\n", what, jpki_err_detail());
	exit(1);
}

/* Signatures per second of EVP_DigestSign (SHA-256, RSA-2048, PKCS#1 v1.5)
 * over 1 KiB, on one thread, for about `seconds`. */
static double raw_sign_rate(EVP_PKEY *key, double seconds)
{
	unsigned char msg[1024] = {0}, sig[256];
	double start = now_s(), t;
	long n = 0;

	do {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		size_t len = sizeof(sig);

		if (ctx == NULL ||
		    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) !=
			    1 ||
		    EVP_DigestSign(ctx, sig, &len, msg, sizeof(msg)) != 1)
			fail("EVP_DigestSign");
		EVP_MD_CTX_free(ctx);
		msg[n % sizeof(msg)]++;
		n++;
		t = now_s() - start;
	} while (t < seconds);
	return (double)n / t;
}

/* `openssl speed -mr` prints "+F2:<i>:<bits>:<sign>:<verify>": OpenSSL 3
 * gives operations per second there, older releases seconds per operation. */
static int openssl_speed(double *rate)
{
	FILE *p = popen("openssl speed -seconds 2 -mr rsa2048 2>/dev/null", "r");
	char line[256];
	int found = 0;

	if (p == NULL)
		return 0;
	while (fgets(line, sizeof(line), p) != NULL) {
		int idx, bits;
		double sign_s, verify_s;

		if (sscanf(line, "+F2:%d:%d:%lf:%lf", &idx, &bits, &sign_s,
			   &verify_s) == 4 &&
		    bits == 2048 && sign_s > 0) {
			*rate = sign_s < 1.0 ? 1.0 / sign_s : sign_s;
			found = 1;
		}
	}
	pclose(p);
	return found;
}

int main(int argc, char **argv)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char dir[] = "/tmp/jpki-bench-XXXXXX", db[64], keys[64];
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
	double start, issue_s, issue_rate, raw, speed;
	EVP_PKEY *subject, *cakey;
	time_t t;

	if (n <= 0)
		n = 200;
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp");
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (jpki_clock_parse(&t, "2026-01-10") != 0)
		fail("clock");
	jpki_clock_freeze(t);
	snprintf(db, sizeof(db), "%s/jpki.db", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	if (jpki_store_open(&st, db) != 0 || jpki_ca_init(st, &opts) != 0 ||
	    jpki_ca_open(&ca, st, NULL) != 0)
		fail("setup");
	if ((subject = EVP_RSA_gen(2048)) == NULL ||
	    (cakey = EVP_RSA_gen(2048)) == NULL)
		fail("key generation");

	start = now_s();
	for (long i = 0; i < n; i++) {
		struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
		struct jpki_cert_info *info = NULL;
		char person[32];

		snprintf(person, sizeof(person), "P%ld", i);
		req.type = JPKI_CERT_SIGN;
		req.card = JPKI_CARD_MYNUMBER;
		req.person = person;
		req.municipality_code = i % 2 ? "131016" : "131032";
		req.prefecture = "Tokyo-to";
		req.municipality = i % 2 ? "Chiyoda-ku" : "Minato-ku";
		snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
		snprintf(req.facts.address, sizeof(req.facts.address),
			 "東京都千代田区千代田１番%ld号", i);
		req.facts.sex = JPKI_SEX_MALE;
		req.facts.birth = (struct jpki_date){1980, 6, 1};
		req.card_expiry = (struct jpki_date){2035, 6, 1};
		if (jpki_ca_issue(&info, ca, &req, subject) != 0)
			fail("issue");
		jpki_cert_info_free(info);
	}
	issue_s = now_s() - start;
	issue_rate = (double)n / issue_s;
	raw = raw_sign_rate(cakey, issue_s < 2 ? 2 : issue_s);

	printf("issued %ld certificates in %.2f s: %.1f certificates/s\n", n,
	       issue_s, issue_rate);
	printf("raw RSA-2048 signing (EVP_DigestSign, same process): %.1f "
	       "signatures/s\n",
	       raw);
	if (openssl_speed(&speed))
		printf("openssl speed rsa2048: %.1f signs/s\n", speed);
	else
		printf("openssl speed rsa2048: not measured (command missing "
		       "or output not understood)\n");
	printf("ratio issuance / raw signing: %.3f\n", issue_rate / raw);

	EVP_PKEY_free(subject);
	EVP_PKEY_free(cakey);
	jpki_ca_free(ca);
	jpki_store_free(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
