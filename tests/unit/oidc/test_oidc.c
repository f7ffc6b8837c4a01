/*
 * The OpenID Connect provider's flow without a browser: a CA with a
 * resident's certificates, a registered client, and each rule with its
 * refusal beside it: PKCE S256, redirect URIs matched exactly, client
 * authentication (secret and private_key_jwt), codes good once and for
 * 60 seconds (a reused code revokes its access token), the pairwise
 * subject (per sector, the same across a renewal), the consent signed by
 * the same person, and the ID token's signature under the JWKS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <jose/b64.h>
#include <jose/jwk.h>
#include <jose/jws.h>

#include "ca/ca_fixture.h"
#include "jpki/oidc.h"
#include "oidc/oidc_internal.h"

#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" /* RFC 7636 */
#define RP "https://rp.example.jp/cb"

struct ofx {
	struct ca_fixture f;
	struct jpki_oidc *op;
	char *client, *secret;
	struct jpki_actor actor;
};

static int setup(void **state)
{
	struct ofx *o = calloc(1, sizeof(*o));
	struct jpki_oidc_options opts = JPKI_OIDC_OPTIONS_INIT;
	void *fs = NULL;
	char *key = NULL, *sec = NULL;
	const char *uris[] = {RP, "https://rp.example.jp/other"};

	if (o == NULL || fx_setup(&fs) != 0)
		return -1;
	o->f = *(struct ca_fixture *)fs;
	free(fs);
	o->actor = (struct jpki_actor){"officer", JPKI_ROLE_CA_OFFICER, "", ""};
	if (jpki_oidc_migrate(o->f.st) != 0 ||
	    asprintf(&key, "%s/keys/oidc.key", o->f.dir) < 0 ||
	    asprintf(&sec, "%s/keys/oidc.secret", o->f.dir) < 0)
		return -1;
	opts.st = o->f.st;
	opts.ca = o->f.ca;
	opts.issuer = "https://id.example.jp/";
	opts.key_path = key;
	opts.secret_path = sec;
	if (jpki_oidc_new(&o->op, &opts) != 0 ||
	    jpki_oidc_client_add(&o->client, &o->secret, o->f.st, &o->actor,
				 "市役所", uris, 2, NULL) != 0) {
		fprintf(stderr, "oidc: %s\n", jpki_err_detail());
		return -1;
	}
	free(key);
	free(sec);
	*state = o;
	return 0;
}

static int teardown(void **state)
{
	struct ofx *o = *state;
	void *fs = malloc(sizeof(o->f));

	jpki_oidc_free(o->op);
	free(o->client);
	free(o->secret);
	memcpy(fs, &o->f, sizeof(o->f));
	free(o);
	return fx_teardown(&fs);
}

static struct jpki_oidc_authz authz(const struct ofx *o, const char *scope)
{
	struct jpki_oidc_authz a = {0};

	a.response_type = "code";
	a.client_id = o->client;
	a.redirect_uri = RP;
	a.scope = scope;
	a.state = "st&1";
	a.nonce = "n-0S6";
	a.code_challenge = CHALLENGE;
	a.code_challenge_method = "S256";
	return a;
}

/* A request logged in with `auth` (and consented with `sign` when the
 * scope wants facts); the code from the redirect. */
static char *code_for(struct ofx *o, const char *scope, const char *auth,
		      const char *sign)
{
	struct jpki_oidc_authz a = authz(o, scope);
	struct jpki_oidc_authz_result res;
	struct jpki_facts facts = fx_request(JPKI_CERT_SIGN, "x").facts;
	char *redirect = NULL, *p, *code;

	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(res.refused, 0);
	assert_int_equal(jpki_oidc_request_bind(o->op, res.id, "CH"), 0);
	assert_int_equal(jpki_oidc_request_login(o->op, res.id, "CH", auth), 0);
	if (sign != NULL)
		assert_int_equal(
		    jpki_oidc_request_consent(o->op, res.id, sign, &facts), 0);
	assert_int_equal(jpki_oidc_request_finish(&redirect, o->op, res.id), 0);
	assert_non_null(strstr(redirect, "&state=st%261"));
	assert_true(strncmp(redirect, RP "?code=", strlen(RP) + 6) == 0);
	p = redirect + strlen(RP) + 6;
	code = strndup(p, strcspn(p, "&"));
	free(redirect);
	jpki_oidc_authz_result_clear(&res);
	return code;
}

static json_t *token(struct ofx *o, const char *code, const char *verifier,
		     const char *secret, unsigned want_status)
{
	struct jpki_oidc_token_req t = {0};
	unsigned status = 0;
	char *body = NULL;
	json_t *doc;

	t.grant_type = "authorization_code";
	t.code = code;
	t.redirect_uri = RP;
	t.code_verifier = verifier;
	t.client_id = o->client;
	t.client_secret = secret;
	t.basic = 1;
	t.token_endpoint = "https://id.example.jp/oidc/token";
	assert_int_equal(jpki_oidc_token(&body, &status, o->op, &t), 0);
	if (status != want_status)
		fprintf(stderr, "token: %u %s\n", status, body);
	assert_int_equal(status, want_status);
	doc = json_loads(body, 0, NULL);
	free(body);
	assert_non_null(doc);
	return doc;
}

static const char *str(const json_t *doc, const char *k)
{
	return json_string_value(json_object_get(doc, k));
}

/* The ID token's claims after its signature verified under the JWKS. */
static json_t *id_claims(struct ofx *o, const char *compact)
{
	char *jwks_text = NULL;
	json_t *jwks, *jws, *claims;
	const char *d1 = strchr(compact, '.'), *d2 = strrchr(compact, '.');

	assert_int_equal(jpki_oidc_jwks(&jwks_text, o->op), 0);
	jwks = json_loads(jwks_text, 0, NULL);
	free(jwks_text);
	assert_null(json_object_get(
	    json_array_get(json_object_get(jwks, "keys"), 0), "d"));
	jws = json_pack("{s:s%, s:s%, s:s}", "protected", compact,
			(size_t)(d1 - compact), "payload", d1 + 1,
			(size_t)(d2 - d1 - 1), "signature", d2 + 1);
	assert_true(jose_jws_ver(NULL, jws, NULL, jwks, false));
	claims = jose_b64_dec_load(json_object_get(jws, "payload"));
	json_decref(jws);
	json_decref(jwks);
	return claims;
}

static void test_pkce(void **state)
{
	(void)state;
	assert_int_equal(jpki_oidc_pkce_check(VERIFIER, CHALLENGE), 1);
	assert_int_equal(jpki_oidc_pkce_check(VERIFIER "x", CHALLENGE), 0);
	assert_int_equal(jpki_oidc_pkce_check("short", CHALLENGE), 0);
	/* the challenge itself is no verifier (a "plain" downgrade) */
	assert_int_equal(jpki_oidc_pkce_check(CHALLENGE, CHALLENGE), 0);
	assert_int_equal(jpki_oidc_pkce_check(NULL, CHALLENGE), 0);
	assert_int_equal(
	    jpki_oidc_pkce_check("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+",
				 CHALLENGE),
	    0);
}

static void test_redirect_exact(void **state)
{
	struct ofx *o = *state;
	struct jpki_oidc_authz a = authz(o, "openid");
	struct jpki_oidc_authz_result res;
	static const char *const bad[] = {RP "/",
					  RP "?x=1",
					  "https://rp.example.jp/CB",
					  "https://rp.example.jp:443/cb",
					  "https://evil.example/cb",
					  NULL};

	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(res.refused, 0);
	jpki_oidc_authz_result_clear(&res);
	for (size_t i = 0; bad[i]; i++) {
		a.redirect_uri = bad[i];
		assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
		/* a page, never a redirect to an unregistered URI */
		assert_int_equal(res.refused, 1);
		assert_null(res.redirect);
		jpki_oidc_authz_result_clear(&res);
	}
	a = authz(o, "openid");
	a.client_id = "nobody";
	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(res.refused, 1);
	jpki_oidc_authz_result_clear(&res);
	/* no PKCE, or plain: back to the client with the error */
	a = authz(o, "openid");
	a.code_challenge_method = "plain";
	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(res.refused, 2);
	assert_non_null(strstr(res.redirect, RP "?error=invalid_request&"));
	assert_non_null(strstr(res.redirect, "state=st%261"));
	jpki_oidc_authz_result_clear(&res);
	a = authz(o, "profile");
	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(res.refused, 2);
	jpki_oidc_authz_result_clear(&res);
}

static void test_registration(void **state)
{
	struct ofx *o = *state;
	struct jpki_oidc_client **list = NULL;
	char *id = NULL, *secret = NULL;
	size_t n = 0;
	const char *http_elsewhere[] = {"http://rp.example.jp/cb"};
	const char *fragment[] = {"https://rp.example.jp/cb#x"};
	const char *loopback[] = {"http://127.0.0.1:9999/cb"};

	assert_int_equal(jpki_oidc_client_add(&id, &secret, o->f.st, &o->actor,
					      "x", http_elsewhere, 1, NULL),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_oidc_client_add(&id, &secret, o->f.st, &o->actor,
					      "x", fragment, 1, NULL),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_oidc_client_add(&id, &secret, o->f.st, &o->actor,
					      "x", loopback, 1, "{}"),
			 JPKI_ERR_INVALID);
	assert_int_equal(tu_count(o->f.st, "SELECT COUNT(*) FROM oidc_client"),
			 1);
	assert_int_equal(jpki_oidc_client_add(&id, &secret, o->f.st, &o->actor,
					      "dev", loopback, 1, NULL),
			 0);
	assert_int_equal(jpki_oidc_client_list(&list, &n, o->f.st), 0);
	assert_int_equal(n, 2);
	assert_true(strcmp(list[0]->redirect_uris[0], loopback[0]) == 0 ||
		    strcmp(list[1]->redirect_uris[0], loopback[0]) == 0);
	jpki_oidc_client_list_free(list, n);
	/* only the secret's hash is kept */
	assert_int_equal(tu_count(o->f.st, "SELECT COUNT(*) FROM oidc_client "
					   "WHERE secret_sha256 IS NOT NULL "
					   "AND length(secret_sha256) = 64"),
			 2);
	assert_int_equal(jpki_oidc_client_remove(o->f.st, &o->actor, id), 0);
	assert_int_equal(jpki_oidc_client_remove(o->f.st, &o->actor, id),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(tu_count(o->f.st, "SELECT COUNT(*) FROM audit_log "
					   "WHERE action LIKE 'oidc.client.%'"),
			 3);
	free(id);
	free(secret);
}

static void test_flow_and_code_single_use(void **state)
{
	struct ofx *o = *state;
	struct jpki_cert_info *auth = fx_issue(&o->f, JPKI_CERT_AUTH, "P1");
	char *code = code_for(o, "openid", auth->serial, NULL), *out = NULL;
	json_t *tok, *again, *claims;
	unsigned status = 0;

	tok = token(o, code, VERIFIER, o->secret, 200);
	assert_string_equal(str(tok, "token_type"), "Bearer");
	claims = id_claims(o, str(tok, "id_token"));
	assert_string_equal(str(claims, "iss"), "https://id.example.jp");
	assert_string_equal(str(claims, "aud"), o->client);
	assert_string_equal(str(claims, "nonce"), "n-0S6");
	assert_null(json_object_get(claims, "name")); /* not asked */
	assert_int_equal(
	    jpki_oidc_userinfo(&out, &status, o->op, str(tok, "access_token")),
	    0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(out, str(claims, "sub")));
	free(out);
	/* the second use is refused and revokes the access token */
	again = token(o, code, VERIFIER, o->secret, 400);
	assert_string_equal(str(again, "error"), "invalid_grant");
	assert_int_equal(
	    jpki_oidc_userinfo(&out, &status, o->op, str(tok, "access_token")),
	    0);
	assert_int_equal(status, 401);
	free(out);
	json_decref(again);
	json_decref(claims);
	json_decref(tok);
	free(code);
	jpki_cert_info_free(auth);
}

static void test_code_refusals(void **state)
{
	struct ofx *o = *state;
	struct jpki_cert_info *auth = fx_issue(&o->f, JPKI_CERT_AUTH, "P1");
	char *code;
	json_t *r;

	/* a wrong verifier spends the code */
	code = code_for(o, "openid", auth->serial, NULL);
	r = token(o, code, VERIFIER "A", o->secret, 400);
	assert_string_equal(str(r, "error"), "invalid_grant");
	json_decref(r);
	r = token(o, code, VERIFIER, o->secret, 400);
	json_decref(r);
	free(code);
	/* a wrong secret: invalid_client, and the code stays good */
	code = code_for(o, "openid", auth->serial, NULL);
	r = token(o, code, VERIFIER, "not-the-secret", 401);
	assert_string_equal(str(r, "error"), "invalid_client");
	json_decref(r);
	r = token(o, code, VERIFIER, o->secret, 200);
	json_decref(r);
	free(code);
	/* 60 seconds */
	code = code_for(o, "openid", auth->serial, NULL);
	jpki_clock_freeze(jpki_clock_now() + 61);
	r = token(o, code, VERIFIER, o->secret, 400);
	assert_non_null(strstr(str(r, "error_description"), "expired"));
	json_decref(r);
	free(code);
	code = code_for(o, "openid", auth->serial, NULL);
	jpki_clock_freeze(jpki_clock_now() + 59);
	r = token(o, code, VERIFIER, o->secret, 200);
	json_decref(r);
	free(code);
	jpki_cert_info_free(auth);
}

static void test_revoked_cannot_log_in(void **state)
{
	struct ofx *o = *state;
	struct jpki_cert_info *auth = fx_issue(&o->f, JPKI_CERT_AUTH, "P1");
	struct jpki_oidc_authz a = authz(o, "openid");
	struct jpki_oidc_authz_result res;

	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(jpki_oidc_request_bind(o->op, res.id, "CH"), 0);
	/* the challenge must be the one bound to this request */
	assert_int_equal(
	    jpki_oidc_request_login(o->op, res.id, "OTHER", auth->serial),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_ca_revoke(o->f.ca, auth->serial, JPKI_REASON_KEY_COMPROMISE),
	    0);
	assert_int_equal(
	    jpki_oidc_request_login(o->op, res.id, "CH", auth->serial),
	    JPKI_ERR_POLICY);
	jpki_oidc_authz_result_clear(&res);
	jpki_cert_info_free(auth);
}

static void test_pairwise_subject(void **state)
{
	struct ofx *o = *state;
	struct jpki_oidc_client other = {.id = "another"};
	char *uris[] = {"https://rp.example.jp/cb"};
	char *uris2[] = {"https://other.example.jp/cb"};
	char a[44], b[44], c[44], d[44];

	other.redirect_uris = uris;
	other.n_redirect = 1;
	assert_int_equal(jpki_oidc_subject(a, o->op, &other, "P1"), 0);
	/* same sector host: same subject, whatever the client id */
	snprintf(other.id, sizeof(other.id), "yet-another");
	assert_int_equal(jpki_oidc_subject(b, o->op, &other, "P1"), 0);
	assert_string_equal(a, b);
	other.redirect_uris = uris2;
	assert_int_equal(jpki_oidc_subject(c, o->op, &other, "P1"), 0);
	assert_string_not_equal(a, c);
	assert_int_equal(jpki_oidc_subject(d, o->op, &other, "P2"), 0);
	assert_string_not_equal(c, d);
	assert_int_equal(strlen(a), 43);
	assert_null(strstr(a, "P1"));
}

static void test_subject_across_renewal(void **state)
{
	struct ofx *o = *state;
	struct jpki_cert_info *auth = fx_issue(&o->f, JPKI_CERT_AUTH, "P1");
	struct jpki_cert_info *renewed = NULL;
	char *code;
	json_t *t1, *t2, *c1, *c2;

	code = code_for(o, "openid", auth->serial, NULL);
	t1 = token(o, code, VERIFIER, o->secret, 200);
	free(code);
	/* renewal opens 3 months before the end */
	fx_at("2030-03-02");
	if (jpki_ca_renew(&renewed, o->f.ca, auth->serial, o->f.key, NULL))
		fprintf(stderr, "renew: %s\n", jpki_err_detail());
	assert_non_null(renewed);
	code = code_for(o, "openid", renewed->serial, NULL);
	t2 = token(o, code, VERIFIER, o->secret, 200);
	free(code);
	c1 = id_claims(o, str(t1, "id_token"));
	c2 = id_claims(o, str(t2, "id_token"));
	assert_string_equal(str(c1, "sub"), str(c2, "sub"));
	json_decref(c1);
	json_decref(c2);
	json_decref(t1);
	json_decref(t2);
	jpki_cert_info_free(auth);
	jpki_cert_info_free(renewed);
}

static void test_consent_same_person(void **state)
{
	struct ofx *o = *state;
	struct jpki_cert_info *auth = fx_issue(&o->f, JPKI_CERT_AUTH, "P1");
	struct jpki_cert_info *sign = fx_issue(&o->f, JPKI_CERT_SIGN, "P1");
	struct jpki_cert_info *other = fx_issue(&o->f, JPKI_CERT_SIGN, "P2");
	struct jpki_oidc_authz a = authz(o, "openid profile address");
	struct jpki_oidc_authz_result res;
	struct jpki_facts facts = fx_request(JPKI_CERT_SIGN, "x").facts;
	char *redirect = NULL, *consent = NULL, ch[44], *code;
	json_t *tok, *claims;

	assert_int_equal(jpki_oidc_authorize(&res, o->op, &a), 0);
	assert_int_equal(res.wants_facts, 1);
	assert_int_equal(jpki_oidc_request_bind(o->op, res.id, "CH"), 0);
	assert_int_equal(jpki_oidc_request_info(&consent, ch, o->op, res.id),
			 0);
	assert_non_null(strstr(consent, res.id));
	assert_non_null(strstr(consent, "市役所"));
	free(consent);
	/* consent before log-in, and by another card: refused */
	assert_int_equal(
	    jpki_oidc_request_consent(o->op, res.id, sign->serial, &facts),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_oidc_request_login(o->op, res.id, "CH", auth->serial), 0);
	assert_int_equal(jpki_oidc_request_finish(&redirect, o->op, res.id),
			 JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_oidc_request_consent(o->op, res.id, other->serial, &facts),
	    JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "another person"));
	/* an authentication certificate is no consent */
	assert_int_equal(
	    jpki_oidc_request_consent(o->op, res.id, auth->serial, &facts),
	    JPKI_ERR_POLICY);
	jpki_oidc_authz_result_clear(&res);
	code =
	    code_for(o, "openid profile address", auth->serial, sign->serial);
	tok = token(o, code, VERIFIER, o->secret, 200);
	claims = id_claims(o, str(tok, "id_token"));
	assert_string_equal(str(claims, "name"), "山田　太郎");
	assert_string_equal(str(claims, "birthdate"), "1980-06-01");
	assert_string_equal(str(claims, "gender"), "male");
	assert_string_equal(
	    str(json_object_get(claims, "address"), "formatted"),
	    "東京都千代田区千代田１番１号");
	json_decref(claims);
	json_decref(tok);
	free(code);
	jpki_cert_info_free(auth);
	jpki_cert_info_free(sign);
	jpki_cert_info_free(other);
}

/* A client that signs its assertions with its own key. */
static void test_private_key_jwt(void **state)
{
	struct ofx *o = *state;
	struct jpki_cert_info *auth = fx_issue(&o->f, JPKI_CERT_AUTH, "P1");
	json_t *priv = json_pack("{s:s, s:i}", "kty", "RSA", "bits", 2048);
	json_t *pub, *set, *jws, *sig, *claims;
	char *set_text, *id = NULL, *secret = NULL, *assertion, *body = NULL;
	const char *uris[] = {RP};
	struct jpki_oidc_token_req t = {0};
	unsigned status = 0;

	assert_true(jose_jwk_gen(NULL, priv));
	pub = json_deep_copy(priv);
	assert_true(jose_jwk_pub(NULL, pub));
	set = json_pack("{s:[O]}", "keys", pub);
	set_text = json_dumps(set, 0);
	/* a private key is refused at registration */
	{
		json_t *bad = json_pack("{s:[O]}", "keys", priv);
		char *bad_text = json_dumps(bad, 0);

		assert_int_equal(jpki_oidc_client_add(&id, &secret, o->f.st,
						      &o->actor, "jwt", uris, 1,
						      bad_text),
				 JPKI_ERR_INVALID);
		free(bad_text);
		json_decref(bad);
	}
	assert_int_equal(jpki_oidc_client_add(&id, &secret, o->f.st, &o->actor,
					      "jwt", uris, 1, set_text),
			 0);
	assert_null(secret);
	free(o->client);
	o->client = id;
	for (int round = 0; round < 3; round++) {
		char *code = code_for(o, "openid", auth->serial, NULL);
		char *payload;
		json_t *s;

		claims =
		    json_pack("{s:s, s:s, s:s, s:s, s:I}", "iss", id, "sub", id,
			      "aud", "https://id.example.jp/oidc/token", "jti",
			      round == 0   ? "j1"
			      : round == 1 ? "j1"
					   : "j2",
			      "exp", (json_int_t)jpki_clock_now() + 60);
		payload = json_dumps(claims, JSON_COMPACT);
		jws = json_pack("{s:o}", "payload",
				jose_b64_enc(payload, strlen(payload)));
		sig = json_pack("{s:{s:s}}", "protected", "alg", "RS256");
		assert_true(jose_jws_sig(NULL, jws, sig, priv));
		s = json_object_get(jws, "signature");
		assert_true(asprintf(&assertion, "%s.%s.%s",
				     str(jws, "protected"), str(jws, "payload"),
				     json_string_value(s)) > 0);
		memset(&t, 0, sizeof(t));
		t.grant_type = "authorization_code";
		t.code = code;
		t.redirect_uri = RP;
		t.code_verifier = VERIFIER;
		t.client_assertion_type = "urn:ietf:params:oauth:"
					  "client-assertion-type:jwt-bearer";
		t.client_assertion = assertion;
		t.token_endpoint = "https://id.example.jp/oidc/token";
		if (round == 2)
			/* another key's signature */
			assertion[strlen(assertion) - 5] ^= 1;
		assert_int_equal(jpki_oidc_token(&body, &status, o->op, &t), 0);
		/* round 1 replays jti j1 */
		assert_int_equal(status, round == 0 ? 200 : 401);
		free(body);
		free(payload);
		free(assertion);
		free(code);
		json_decref(claims);
		json_decref(jws);
		json_decref(sig);
	}
	/* the secret path is closed to a JWT client */
	{
		char *code = code_for(o, "openid", auth->serial, NULL);
		json_t *r = token(o, code, VERIFIER, "anything", 401);

		json_decref(r);
		free(code);
	}
	free(set_text);
	json_decref(set);
	json_decref(pub);
	json_decref(priv);
	jpki_cert_info_free(auth);
}

static void test_discovery(void **state)
{
	struct ofx *o = *state;
	char *text = NULL;
	json_t *doc;

	assert_int_equal(jpki_oidc_discovery(&text, o->op), 0);
	doc = json_loads(text, 0, NULL);
	assert_string_equal(str(doc, "issuer"), "https://id.example.jp");
	assert_string_equal(str(doc, "token_endpoint"),
			    "https://id.example.jp/oidc/token");
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(doc, "code_challenge_methods_supported"), 0)),
	    "S256");
	json_decref(doc);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkce),
	    cmocka_unit_test_setup_teardown(test_redirect_exact, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_registration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flow_and_code_single_use,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_code_refusals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_cannot_log_in, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pairwise_subject, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_subject_across_renewal, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_consent_same_person, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_private_key_jwt, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
