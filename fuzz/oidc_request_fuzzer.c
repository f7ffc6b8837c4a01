/*
 * The OpenID Connect provider's untrusted input: one fuzz input is split
 * at its first NUL into an /authorize request's claims parameter (with a
 * scope from its first byte) and a /token request's client assertion
 * (a compact JWS the provider splits, base64url-decodes and parses as
 * JSON before any key is tried), also used as the code and the PKCE
 * verifier. Nothing may crash, leak or be accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ca.h"
#include "jpki/oidc.h"

static struct jpki_oidc *op;
static char *client_id;

static void oidc_cleanup(void)
{
	jpki_oidc_free(op);
	free(client_id);
}

static void setup(void)
{
	struct jpki_oidc_options o = JPKI_OIDC_OPTIONS_INIT;
	struct jpki_actor actor = {"fuzz", JPKI_ROLE_CA_OFFICER, "", ""};
	const char *uris[] = {"https://rp.example.jp/cb"};
	char key[96], sec[96], *secret = NULL;

	fuzz_ca_setup("http://127.0.0.1:8080", oidc_cleanup);
	snprintf(key, sizeof(key), "%s/oidc.key", fuzz_dir);
	snprintf(sec, sizeof(sec), "%s/oidc.secret", fuzz_dir);
	o.st = fuzz_st;
	o.ca = fuzz_ca;
	o.issuer = "https://id.example.jp";
	o.key_path = key;
	o.secret_path = sec;
	if (jpki_oidc_migrate(fuzz_st) != 0 || jpki_oidc_new(&op, &o) != 0 ||
	    jpki_oidc_client_add(&client_id, &secret, fuzz_st, &actor, "rp",
				 uris, 1, NULL) != 0)
		fuzz_die("oidc");
	free(secret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const scopes[] = {"openid", "openid profile",
					     "openid address", "profile", ""};
	struct jpki_oidc_authz a = {0};
	struct jpki_oidc_authz_result res;
	struct jpki_oidc_token_req t = {0};
	char *text, *second, *out = NULL;
	unsigned status = 0;

	if (op == NULL)
		setup();
	if ((text = malloc(size + 2)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	text[size + 1] = '\0';
	second = text + strlen(text) + 1;
	if (second > text + size)
		second = text + size;
	a.response_type = "code";
	a.client_id = client_id;
	a.redirect_uri = "https://rp.example.jp/cb";
	a.scope = scopes[size ? data[0] % 5 : 0];
	a.claims = text;
	a.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
	a.code_challenge_method = "S256";
	if (jpki_oidc_authorize(&res, op, &a) == 0)
		jpki_oidc_authz_result_clear(&res);
	t.grant_type = "authorization_code";
	t.code = second;
	t.redirect_uri = "https://rp.example.jp/cb";
	t.code_verifier = second;
	t.client_assertion_type =
	    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
	t.client_assertion = second;
	t.token_endpoint = "https://id.example.jp/oidc/token";
	if (jpki_oidc_token(&out, &status, op, &t) == 0 && status == 200)
		abort(); /* no assertion of random bytes authenticates */
	free(out);
	(void)jpki_oidc_pkce_check(text, second);
	free(text);
	return 0;
}
