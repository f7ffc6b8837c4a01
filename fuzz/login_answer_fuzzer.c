/*
 * The log-in answer checker (docs/LOGIN.md) on arbitrary bytes, through the
 * verifier the login role builds over a CA in a temporary store. Every input
 * must give a verdict (200, 400 or 401), never a crash or an error.
 *
 * So that inputs can reach past the challenge table, the origin check and
 * into the certificate and signature checks, a few tokens in the input are
 * replaced before the check:
 *   @C@  a challenge issued for this input       @O@  the verifier's origin
 *   @A@  base64 of a good authentication cert    @S@  ... of a signing cert
 *   @R@  ... of a revoked authentication cert
 *   @G@  base64 of the good key's signature over this input's challenge
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "fuzz_ca.h"
#include "jpki/http.h"
#include "jpki/verify.h"

#define ORIGIN "http://127.0.0.1:8080"
/* Past this the input is checked as it came, over the cap or not. */
#define MAX_EXPANDED (2 * JPKI_MAX_LOGIN_ANSWER)

static struct jpki_verify_login *vl;
static EVP_PKEY *key;
static char *auth_b64, *sign_b64, *revoked_b64;

static void cleanup(void)
{
	jpki_verify_login_free(vl);
	EVP_PKEY_free(key);
	free(auth_b64);
	free(sign_b64);
	free(revoked_b64);
}

static char *b64(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out == NULL)
		fuzz_die("memory");
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static char *issue(enum jpki_cert_type type, const char *person, int revoke)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_cert_info *info = NULL;
	char *text;

	req.type = type;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = person;
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
	if (revoke && jpki_ca_revoke(fuzz_ca, info->serial,
				     JPKI_REASON_KEY_COMPROMISE) != 0)
		fuzz_die("revoke");
	text = b64(info->der, info->der_len);
	jpki_cert_info_free(info);
	return text;
}

static char *signature(const char *challenge)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);
	char text[256];
	int n = snprintf(text, sizeof(text), "JPKI-LOGIN-1\n%s\n%s", ORIGIN,
			 challenge);

	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)text,
			   (size_t)n) != 1)
		fuzz_die("sign");
	EVP_MD_CTX_free(md);
	return b64(sig, sig_len);
}

/* The input with its tokens replaced; NULL if it grows too large. */
static char *expand(size_t *out_len, const uint8_t *data, size_t size,
		    const char *challenge)
{
	char *out = malloc(MAX_EXPANDED), *sig = NULL;
	size_t o = 0;

	if (out == NULL)
		fuzz_die("memory");
	for (size_t i = 0; i < size;) {
		const char *with = NULL;

		if (size - i >= 3 && data[i] == '@' && data[i + 2] == '@') {
			switch (data[i + 1]) {
			case 'C':
				with = challenge;
				break;
			case 'O':
				with = ORIGIN;
				break;
			case 'A':
				with = auth_b64;
				break;
			case 'S':
				with = sign_b64;
				break;
			case 'R':
				with = revoked_b64;
				break;
			case 'G':
				if (sig == NULL)
					sig = signature(challenge);
				with = sig;
				break;
			}
		}
		if (with != NULL) {
			size_t n = strlen(with);

			if (n > MAX_EXPANDED - o)
				goto too_large;
			memcpy(out + o, with, n);
			o += n;
			i += 3;
		} else {
			if (o == MAX_EXPANDED)
				goto too_large;
			out[o++] = (char)data[i++];
		}
	}
	free(sig);
	*out_len = o;
	return out;
too_large:
	free(sig);
	free(out);
	return NULL;
}

/* Checks one answer and the verdict's invariants. */
static struct jpki_verify_login_result check(const uint8_t *body, size_t len)
{
	struct jpki_verify_login_result res;
	char *json = NULL;

	if (jpki_verify_login_check(&res, vl, body, len) != 0)
		fuzz_die("check");
	if (res.accepted != (res.http_status == 200) ||
	    (res.http_status != 200 && res.http_status != 400 &&
	     res.http_status != 401) ||
	    (res.http_status == 400) != (res.why >= JPKI_LOGIN_TOO_LARGE &&
					 res.why <= JPKI_LOGIN_BAD_ENCODING) ||
	    (!res.accepted && res.reason[0] == '\0') ||
	    (res.accepted && (res.serial[0] == '\0' || res.account[0] == '\0')))
		abort();
	if (jpki_verify_login_result_json(&json, &res) != 0)
		fuzz_die("result JSON");
	free(json);
	return res;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char good[] = "{\"challenge\": \"@C@\", \"origin\": "
				   "\"@O@\", \"certificate\": \"@A@\", "
				   "\"signature\": \"@G@\"}";
	struct jpki_verify_challenge ch;
	char *body;
	size_t len;

	fuzz_ca_setup(ORIGIN, cleanup);
	if (jpki_http_login_new(&vl, fuzz_ca, NULL) != 0)
		fuzz_die("setup");
	if ((key = EVP_RSA_gen(2048)) == NULL)
		fuzz_die("key");
	auth_b64 = issue(JPKI_CERT_AUTH, "P1", 0);
	sign_b64 = issue(JPKI_CERT_SIGN, "P1", 0);
	revoked_b64 = issue(JPKI_CERT_AUTH, "P2", 1);
	/* the target reaches acceptance, and a replay is refused */
	if (jpki_verify_login_challenge(&ch, vl) != 0)
		fuzz_die("challenge");
	body = expand(&len, (const uint8_t *)good, strlen(good), ch.challenge);
	if (body == NULL || !check((const uint8_t *)body, len).accepted ||
	    check((const uint8_t *)body, len).why != JPKI_LOGIN_USED_CHALLENGE)
		fuzz_die("self-check");
	free(body);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jpki_verify_challenge ch;
	size_t len = 0;
	char *body;

	/* the raw bytes, then with the tokens filled in for a fresh
	 * challenge */
	check(data, size);
	if (jpki_verify_login_challenge(&ch, vl) != 0)
		fuzz_die("challenge");
	if ((body = expand(&len, data, size, ch.challenge)) != NULL) {
		check((const uint8_t *)body, len);
		free(body);
	}
	return 0;
}
