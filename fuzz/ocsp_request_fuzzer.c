/*
 * The OCSP responder on arbitrary bytes: a CA with one good and one revoked
 * certificate in a temporary store; every input must give a DER
 * OCSPResponse, never a crash.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/rsa.h>

#include "jpki/ca.h"

static char dir[] = "/tmp/jpki-fuzz-XXXXXX";
static struct jpki_store *st;
static struct jpki_ca *ca;

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void cleanup(void)
{
	jpki_ca_free(ca);
	jpki_store_free(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what)
{
	fprintf(stderr, "ocsp_request_fuzzer: %s: %s\n", what,
		jpki_err_detail());
	abort();
}

static X509 *issue(enum jpki_cert_type type, EVP_PKEY *key)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_cert_info *info = NULL;
	const unsigned char *p;
	X509 *cert;

	req.type = type;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = "P1";
	req.municipality_code = "131016";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	snprintf(req.facts.address, sizeof(req.facts.address), "東京都");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	req.card_expiry = (struct jpki_date){2030, 1, 1};
	if (jpki_ca_issue(&info, ca, &req, key) != 0)
		die("issue");
	p = info->der;
	cert = d2i_X509(NULL, &p, (long)info->der_len);
	if (type == JPKI_CERT_AUTH &&
	    jpki_ca_revoke(ca, info->serial, JPKI_REASON_KEY_COMPROMISE) != 0)
		die("revoke");
	jpki_cert_info_free(info);
	return cert;
}

/* Asks for one certificate and returns its status, so the target is known
 * to reach the store lookup and the signer. */
static int ask(X509 *cert, enum jpki_cert_type type, int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, jpki_ca_cert(ca, type));
	unsigned char *der = NULL, *out = NULL;
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	size_t len = 0;
	int n, status = -1, reason;

	OCSP_request_add0_id(req, OCSP_CERTID_dup(id));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	n = i2d_OCSP_REQUEST(req, &der);
	if (jpki_ca_ocsp_respond(&out, &len, ca, der, (size_t)n) != 0)
		die("respond");
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	if (bs == NULL || !OCSP_resp_find_status(bs, id, &status, &reason,
						 NULL, NULL, NULL))
		die("self-check response");
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	free(out);
	return status;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char path[64], keys[64];
	EVP_PKEY *key;
	X509 *good, *revoked;
	time_t t;

	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (jpki_clock_parse(&t, "2026-01-10") != 0)
		abort();
	jpki_clock_freeze(t);
	snprintf(path, sizeof(path), "%s/jpki.db", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:1";
	if (jpki_store_open(&st, path) != 0 || jpki_ca_init(st, &opts) != 0 ||
	    jpki_ca_open(&ca, st, NULL) != 0)
		die("setup");
	key = EVP_RSA_gen(2048);
	good = issue(JPKI_CERT_SIGN, key);
	revoked = issue(JPKI_CERT_AUTH, key);
	if (ask(good, JPKI_CERT_SIGN, 0) != V_OCSP_CERTSTATUS_GOOD ||
	    ask(good, JPKI_CERT_SIGN, 1) != V_OCSP_CERTSTATUS_GOOD ||
	    ask(revoked, JPKI_CERT_AUTH, 1) != V_OCSP_CERTSTATUS_REVOKED)
		die("self-check status");
	X509_free(good);
	X509_free(revoked);
	EVP_PKEY_free(key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL;
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	size_t len = 0;

	if (jpki_ca_ocsp_respond(&out, &len, ca, data, size) != 0)
		die("respond");
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != out + len)
		abort();
	OCSP_RESPONSE_free(resp);
	free(out);
	return 0;
}
