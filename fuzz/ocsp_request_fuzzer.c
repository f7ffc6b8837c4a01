/*
 * The OCSP responder on arbitrary bytes: a CA with one good and one revoked
 * certificate in a temporary store; every input must give a DER
 * OCSPResponse, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/rsa.h>

#include "fuzz_ca.h"

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
	if (jpki_ca_issue(&info, fuzz_ca, &req, key) != 0)
		fuzz_die("issue");
	p = info->der;
	cert = d2i_X509(NULL, &p, (long)info->der_len);
	if (type == JPKI_CERT_AUTH &&
	    jpki_ca_revoke(fuzz_ca, info->serial, JPKI_REASON_KEY_COMPROMISE) !=
		0)
		fuzz_die("revoke");
	jpki_cert_info_free(info);
	return cert;
}

/* Asks for one certificate and returns its status, so the target is known
 * to reach the store lookup and the signer. */
static int ask(X509 *cert, enum jpki_cert_type type, int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id =
	    OCSP_cert_to_id(NULL, cert, jpki_ca_cert(fuzz_ca, type));
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
	if (jpki_ca_ocsp_respond(&out, &len, fuzz_ca, der, (size_t)n) != 0)
		fuzz_die("respond");
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	if (bs == NULL ||
	    !OCSP_resp_find_status(bs, id, &status, &reason, NULL, NULL, NULL))
		fuzz_die("self-check response");
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
	EVP_PKEY *key;
	X509 *good, *revoked;

	fuzz_ca_setup("http://127.0.0.1:1", NULL);
	key = EVP_RSA_gen(2048);
	good = issue(JPKI_CERT_SIGN, key);
	revoked = issue(JPKI_CERT_AUTH, key);
	if (ask(good, JPKI_CERT_SIGN, 0) != V_OCSP_CERTSTATUS_GOOD ||
	    ask(good, JPKI_CERT_SIGN, 1) != V_OCSP_CERTSTATUS_GOOD ||
	    ask(revoked, JPKI_CERT_AUTH, 1) != V_OCSP_CERTSTATUS_REVOKED)
		fuzz_die("self-check status");
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

	if (jpki_ca_ocsp_respond(&out, &len, fuzz_ca, data, size) != 0)
		fuzz_die("respond");
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != out + len)
		abort();
	OCSP_RESPONSE_free(resp);
	free(out);
	return 0;
}
