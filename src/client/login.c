/*
 * `jpki login URL`, the resident's side of docs/LOGIN.md: a fresh challenge
 * from the relying party, signed by the card's authentication key together
 * with the origin this client computed from the URL itself (never the one
 * the server suggests), and the answer sent back with the certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "client/client_internal.h"
#include "jpki/client.h"
#include "jpki/verify.h"

#define LOGIN_BODY_MAX (64 * 1024)
#define LOGIN_TIMEOUT_MS 10000L

static char *b64(const unsigned char *p, size_t n)
{
	char *out = OPENSSL_malloc(4 * ((n + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* The card's signature over the LOGIN.md text. */
static int sign_text(unsigned char sig[512], size_t *sig_len, EVP_PKEY *key,
		     const char *text)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	*sig_len = 512;
	ok = md != NULL &&
	     EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestSign(md, sig, sig_len, (const unsigned char *)text,
			    strlen(text)) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		ERR_clear_error();
		if (jpki_err_detail()[0] == '\0')
			jpki_err_set(JPKI_ERR_CRYPTO,
				     "the card did not sign the challenge");
		return JPKI_ERR_CRYPTO;
	}
	return 0;
}

int jpki_client_login_answer(char **out, struct jpki_reader *rd,
			     const char *origin, const char *challenge,
			     const char *pin)
{
	char text[JPKI_MAX_URL + 256];
	unsigned char sig[512], *der = NULL;
	size_t sig_len;
	char *cert64 = NULL, *sig64 = NULL;
	json_t *answer = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r = JPKI_ERR_INTERNAL, der_len;

	*out = NULL;
	if (origin == NULL || challenge == NULL ||
	    strlen(origin) >= JPKI_MAX_URL || strlen(challenge) > 128 ||
	    strchr(challenge, '\n') != NULL || strchr(origin, '\n') != NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "no log-in challenge to answer");
	snprintf(text, sizeof(text), "JPKI-LOGIN-1\n%s\n%s", origin, challenge);
	/* the PIN first: a wrong one must cost no more than one try */
	if ((r = jpki_client_pin_verify(rd, JPKI_PIN_AUTH, pin, NULL)) != 0 ||
	    (r = jpki_client_read_cert(&cert, rd, JPKI_EF_AUTH_CERT)) != 0 ||
	    (r = jpki_client_card_key(&key, rd, JPKI_PIN_AUTH, cert)) != 0 ||
	    (r = sign_text(sig, &sig_len, key, text)) != 0)
		goto out;
	if ((der_len = i2d_X509(cert, &der)) <= 0 ||
	    (cert64 = b64(der, (size_t)der_len)) == NULL ||
	    (sig64 = b64(sig, sig_len)) == NULL ||
	    (answer = json_pack("{s:s, s:s, s:s, s:s}", "challenge", challenge,
				"origin", origin, "certificate", cert64,
				"signature", sig64)) == NULL ||
	    (*out = json_dumps(answer, JSON_COMPACT)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	OPENSSL_free(der);
	OPENSSL_free(cert64);
	OPENSSL_free(sig64);
	json_decref(answer);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int jpki_client_login(struct jpki_client_login_result *out,
		      struct jpki_reader *rd, const char *url, const char *pin)
{
	struct client_body b = {NULL, LOGIN_BODY_MAX, 0};
	char *origin = NULL, endpoint[JPKI_MAX_URL];
	size_t base = strlen(url);
	const char *challenge;
	char *post = NULL;
	json_t *j = NULL;
	int r;
	long code;

	memset(out, 0, sizeof(*out));
	jpki_err_clear();
	while (base > 0 && url[base - 1] == '/')
		base--;
	if (base + sizeof("/challenge") > sizeof(endpoint))
		return jpki_err_set(JPKI_ERR_INVALID, "the URL is too long");
	if ((r = jpki_verify_origin(&origin, url)) != 0)
		return r;
	if ((b.buf = malloc(LOGIN_BODY_MAX + 1)) == NULL) {
		free(origin);
		return JPKI_ERR_NOMEM;
	}
	snprintf(endpoint, sizeof(endpoint), "%.*s/challenge", (int)base, url);
	if ((r = client_http(&b, &code, endpoint, NULL, NULL, 0,
			     LOGIN_TIMEOUT_MS)) != 0)
		goto out;
	if (code != 200 || (j = json_loads(b.buf, 0, NULL)) == NULL ||
	    (challenge = json_string_value(json_object_get(j, "challenge"))) ==
		NULL ||
	    strlen(challenge) > 128 || strchr(challenge, '\n') != NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "%s gave no log-in challenge (HTTP %ld): is "
				 "it a JPKI log-in URL?",
				 endpoint, code);
		goto out;
	}
	if ((r = jpki_client_login_answer(&post, rd, origin, challenge, pin)) !=
	    0)
		goto out;
	snprintf(endpoint, sizeof(endpoint), "%.*s/response", (int)base, url);
	if ((r = client_http(&b, &code, endpoint, "application/json", post,
			     strlen(post), LOGIN_TIMEOUT_MS)) != 0)
		goto out;
	json_decref(j);
	j = json_loads(b.buf, 0, NULL);
	out->http_status = (int)code;
	out->accepted = code == 200 &&
			json_is_string(json_object_get(j, "result")) &&
			strcmp(json_string_value(json_object_get(j, "result")),
			       "accepted") == 0;
	snprintf(out->account, sizeof(out->account), "%s",
		 json_string_value(json_object_get(j, "account"))
		     ? json_string_value(json_object_get(j, "account"))
		     : "");
	snprintf(out->serial, sizeof(out->serial), "%s",
		 json_string_value(json_object_get(j, "serial"))
		     ? json_string_value(json_object_get(j, "serial"))
		     : "");
	snprintf(out->message, sizeof(out->message), "%s",
		 json_string_value(json_object_get(j, "error"))
		     ? json_string_value(json_object_get(j, "error"))
		 : out->accepted ? "accepted"
				 : "refused without a reason");
	r = 0;
out:
	free(origin);
	free(b.buf);
	free(post);
	json_decref(j);
	return r;
}
