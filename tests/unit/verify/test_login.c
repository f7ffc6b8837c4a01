/*
 * Log-in, the relying party's side (docs/LOGIN.md): an answer signed with
 * the key of an authentication certificate the CA issued is accepted, and
 * every other answer is refused with its own reason, through the verifier
 * the login role builds over the CA (jpki_http_login_new).
 */
#include <pthread.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "ca/ca_fixture.h"
#include "jpki/http.h"
#include "jpki/verify.h"

#define ORIGIN "http://127.0.0.1:8080"

struct login_fixture {
	struct ca_fixture *f;
	struct jpki_verify_login *vl;
};

static int setup(void **state)
{
	struct login_fixture *lf = calloc(1, sizeof(*lf));
	void *ca_state = NULL;

	if (lf == NULL || fx_setup(&ca_state) != 0)
		return -1;
	lf->f = ca_state;
	if (jpki_http_login_new(&lf->vl, lf->f->ca, ORIGIN "/login") != 0) {
		fprintf(stderr, "login: %s\n", jpki_err_detail());
		return -1;
	}
	*state = lf;
	return 0;
}

static int teardown(void **state)
{
	struct login_fixture *lf = *state;
	void *ca_state = lf->f;

	jpki_verify_login_free(lf->vl);
	fx_teardown(&ca_state);
	free(lf);
	return 0;
}

static char *b64(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* What the client does: sign "JPKI-LOGIN-1\n" origin "\n" challenge. */
static char *sign_b64(EVP_PKEY *key, const char *origin, const char *challenge)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);
	char *text = NULL;
	int n = asprintf(&text, "JPKI-LOGIN-1\n%s\n%s", origin, challenge);

	assert_true(n > 0);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key),
			 1);
	assert_int_equal(EVP_DigestSign(md, sig, &sig_len,
					(const unsigned char *)text, (size_t)n),
			 1);
	EVP_MD_CTX_free(md);
	free(text);
	return b64(sig, sig_len);
}

/* An answer's JSON: `origin` is sent, `signed_origin` and `signed_ch` are
 * what the key signs. */
static char *answer_json(const char *challenge, const char *origin,
			 const unsigned char *der, size_t der_len,
			 EVP_PKEY *key, const char *signed_origin,
			 const char *signed_ch)
{
	char *cert = b64(der, der_len);
	char *sig = sign_b64(key, signed_origin, signed_ch);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "challenge", challenge,
			      "origin", origin, "certificate", cert,
			      "signature", sig);
	char *text = json_dumps(j, JSON_COMPACT);

	assert_non_null(text);
	json_decref(j);
	free(cert);
	free(sig);
	return text;
}

/* The answer an honest client gives for `info` with `key`. */
static char *honest(struct jpki_verify_login *vl,
		    const struct jpki_cert_info *info, EVP_PKEY *key,
		    char challenge[44])
{
	struct jpki_verify_challenge ch;

	assert_int_equal(jpki_verify_login_challenge(&ch, vl), 0);
	if (challenge != NULL)
		memcpy(challenge, ch.challenge, 44);
	return answer_json(ch.challenge, ORIGIN, info->der, info->der_len, key,
			   ORIGIN, ch.challenge);
}

static struct jpki_verify_login_result check_text(struct jpki_verify_login *vl,
						  const char *text)
{
	struct jpki_verify_login_result res;

	assert_int_equal(jpki_verify_login_check(&res, vl,
						 (const unsigned char *)text,
						 strlen(text)),
			 0);
	return res;
}

static void assert_refused(const struct jpki_verify_login_result *res,
			   enum jpki_login_refusal why, unsigned status,
			   const char *words)
{
	if (res->why != why || strstr(res->reason, words) == NULL)
		fprintf(stderr, "refused %d: %s\n", res->why, res->reason);
	assert_false(res->accepted);
	assert_int_equal(res->why, why);
	assert_int_equal(res->http_status, status);
	assert_non_null(strstr(res->reason, words));
	assert_string_equal(res->serial, "");
	assert_string_equal(res->account, "");
}

static void test_accepted(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_login_result res;
	char *text = honest(lf->vl, a, lf->f->key, NULL), *json = NULL;
	json_t *j;

	assert_string_equal(jpki_verify_login_origin(lf->vl), ORIGIN);
	res = check_text(lf->vl, text);
	if (!res.accepted)
		fprintf(stderr, "refused: %s\n", res.reason);
	assert_true(res.accepted);
	assert_int_equal(res.why, JPKI_LOGIN_ACCEPTED);
	assert_int_equal(res.http_status, 200);
	assert_string_equal(res.serial, a->serial);
	assert_int_equal(strlen(res.account), 32);
	assert_int_equal(strspn(res.account, "0123456789abcdef"), 32);
	/* the account names neither the person nor the certificate */
	assert_null(strstr(res.account, "P1"));

	assert_int_equal(jpki_verify_login_result_json(&json, &res), 0);
	j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "result")),
			    "accepted");
	assert_string_equal(json_string_value(json_object_get(j, "serial")),
			    a->serial);
	assert_string_equal(json_string_value(json_object_get(j, "account")),
			    res.account);
	json_decref(j);
	free(json);
	free(text);
	jpki_cert_info_free(a);
}

static void test_challenge_json(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_verify_challenge ch, other;
	char *json = NULL;
	json_t *j;

	assert_int_equal(jpki_verify_login_challenge(&ch, lf->vl), 0);
	assert_int_equal(jpki_verify_login_challenge(&other, lf->vl), 0);
	assert_string_not_equal(ch.challenge, other.challenge);
	assert_int_equal(strlen(ch.challenge), 43);
	assert_int_equal(strspn(ch.challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					      "abcdefghijklmnopqrstuvwxyz"
					      "0123456789-_"),
			 43);
	assert_int_equal(ch.expires, jpki_clock_now() + 120);
	assert_int_equal(jpki_verify_login_challenge_json(&json, lf->vl, &ch),
			 0);
	j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "challenge")),
			    ch.challenge);
	/* the fixture stands on 2026-01-10 10:00 in Japan */
	assert_string_equal(json_string_value(json_object_get(j, "expires")),
			    "2026-01-10T01:02:00Z");
	assert_string_equal(json_string_value(json_object_get(j, "origin")),
			    ORIGIN);
	json_decref(j);
	free(json);
}

static void test_unknown_challenge(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_login *elsewhere = NULL;
	struct jpki_verify_challenge ch;
	struct jpki_verify_login_result res;
	char *text;

	/* a challenge another verifier handed out */
	assert_int_equal(jpki_http_login_new(&elsewhere, lf->f->ca, NULL), 0);
	assert_int_equal(jpki_verify_login_challenge(&ch, elsewhere), 0);
	text = answer_json(ch.challenge, ORIGIN, a->der, a->der_len, lf->f->key,
			   ORIGIN, ch.challenge);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_UNKNOWN_CHALLENGE, 401,
		       "not issued by this site");
	free(text);
	jpki_verify_login_free(elsewhere);
	jpki_cert_info_free(a);
}

static void test_replayed_challenge(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_login_result res;
	char *text = honest(lf->vl, a, lf->f->key, NULL);

	res = check_text(lf->vl, text);
	assert_true(res.accepted);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_USED_CHALLENGE, 401, "already used");
	free(text);
	jpki_cert_info_free(a);
}

/* A refused answer spends its challenge too; a malformed one does not. */
static void test_refused_answer_spends(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_login_result res;
	char ch[44], *good = honest(lf->vl, a, lf->f->key, ch), *bad, *broken;

	/* malformed (bad base64 signature): 400, challenge still usable */
	broken = answer_json(ch, ORIGIN, a->der, a->der_len, lf->f->key, ORIGIN,
			     ch);
	{
		json_t *j = json_loads(broken, 0, NULL);

		json_object_set_new(j, "signature", json_string("%%%"));
		free(broken);
		broken = json_dumps(j, 0);
		json_decref(j);
	}
	res = check_text(lf->vl, broken);
	assert_refused(&res, JPKI_LOGIN_BAD_ENCODING, 400, "signature");
	/* refused for its origin: 401, and the challenge is gone */
	bad = answer_json(ch, "http://evil.example", a->der, a->der_len,
			  lf->f->key, "http://evil.example", ch);
	res = check_text(lf->vl, bad);
	assert_refused(&res, JPKI_LOGIN_WRONG_ORIGIN, 401, "another site");
	res = check_text(lf->vl, good);
	assert_refused(&res, JPKI_LOGIN_USED_CHALLENGE, 401, "already used");
	free(good);
	free(bad);
	free(broken);
	jpki_cert_info_free(a);
}

static void test_expired_challenge(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_login_result res;
	time_t t0 = jpki_clock_now();
	char *late = honest(lf->vl, a, lf->f->key, NULL), *in_time;

	in_time = honest(lf->vl, a, lf->f->key, NULL);
	jpki_clock_freeze(t0 + 119);
	res = check_text(lf->vl, in_time);
	assert_true(res.accepted);
	jpki_clock_freeze(t0 + 120);
	res = check_text(lf->vl, late);
	assert_refused(&res, JPKI_LOGIN_EXPIRED_CHALLENGE, 401, "expired");
	/* and it stays spent */
	res = check_text(lf->vl, late);
	assert_refused(&res, JPKI_LOGIN_USED_CHALLENGE, 401, "already used");
	free(late);
	free(in_time);
	jpki_cert_info_free(a);
}

static void test_wrong_origin(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_challenge ch;
	struct jpki_verify_login_result res;
	char *text;

	/* a signature captured by another site, sent on honestly */
	assert_int_equal(jpki_verify_login_challenge(&ch, lf->vl), 0);
	text = answer_json(ch.challenge, "https://127.0.0.1:8080", a->der,
			   a->der_len, lf->f->key, "https://127.0.0.1:8080",
			   ch.challenge);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_WRONG_ORIGIN, 401, ORIGIN);
	free(text);
	jpki_cert_info_free(a);
}

static void test_signature_over_other_text(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_challenge ch, other;
	struct jpki_verify_login_result res;
	EVP_PKEY *stranger = tu_rsa_key_fresh();
	char *text;

	/* our origin sent, another site's origin signed */
	assert_int_equal(jpki_verify_login_challenge(&ch, lf->vl), 0);
	text = answer_json(ch.challenge, ORIGIN, a->der, a->der_len, lf->f->key,
			   "http://evil.example", ch.challenge);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_BAD_SIGNATURE, 401, "signature");
	free(text);
	/* another challenge signed */
	assert_int_equal(jpki_verify_login_challenge(&ch, lf->vl), 0);
	assert_int_equal(jpki_verify_login_challenge(&other, lf->vl), 0);
	text = answer_json(ch.challenge, ORIGIN, a->der, a->der_len, lf->f->key,
			   ORIGIN, other.challenge);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_BAD_SIGNATURE, 401, "signature");
	free(text);
	/* the right text, signed by a key that is not the certificate's */
	assert_int_equal(jpki_verify_login_challenge(&ch, lf->vl), 0);
	text = answer_json(ch.challenge, ORIGIN, a->der, a->der_len, stranger,
			   ORIGIN, ch.challenge);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_BAD_SIGNATURE, 401, "signature");
	free(text);
	EVP_PKEY_free(stranger);
	jpki_cert_info_free(a);
}

static void test_signing_certificate_refused(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *s = fx_issue(lf->f, JPKI_CERT_SIGN, "P1");
	struct jpki_verify_login_result res;
	char *text = honest(lf->vl, s, lf->f->key, NULL);

	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_NOT_AUTH_CERTIFICATE, 401,
		       "signing certificate");
	free(text);
	jpki_cert_info_free(s);
}

/* The CA's own certificates name the authentication CA too, but follow no
 * end-entity profile. */
static void test_ca_and_ocsp_certificates_refused(void **state)
{
	struct login_fixture *lf = *state;
	X509 *certs[] = {jpki_ca_cert(lf->f->ca, JPKI_CERT_AUTH),
			 jpki_ca_ocsp_cert(lf->f->ca, JPKI_CERT_AUTH)};

	for (size_t i = 0; i < 2; i++) {
		struct jpki_cert_info info = {0};
		struct jpki_verify_login_result res;
		unsigned char *der = NULL;
		int len = i2d_X509(certs[i], &der);
		char *text;

		assert_true(len > 0);
		info.der = der;
		info.der_len = (size_t)len;
		text = honest(lf->vl, &info, lf->f->key, NULL);
		res = check_text(lf->vl, text);
		assert_refused(&res, JPKI_LOGIN_NOT_AUTH_CERTIFICATE, 401,
			       "authentication profile");
		free(text);
		OPENSSL_free(der);
	}
}

static void test_foreign_ca_refused(void **state)
{
	struct login_fixture *lf = *state;
	void *other_state = NULL;
	struct ca_fixture *other;
	struct jpki_cert_info *a;
	struct jpki_verify_login_result res;
	char *text;

	/* another installation: same CA DN, another key */
	assert_int_equal(fx_setup(&other_state), 0);
	other = other_state;
	a = fx_issue(other, JPKI_CERT_AUTH, "P1");
	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_UNTRUSTED, 401,
		       "not issued by a trusted authentication CA");
	free(text);
	jpki_cert_info_free(a);
	fx_teardown(&other_state);
}

static void test_revoked_and_held_refused(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_cert_info *b = fx_issue(lf->f, JPKI_CERT_AUTH, "P2");
	struct jpki_verify_login_result res;
	char *text;

	assert_int_equal(jpki_ca_revoke(lf->f->ca, a->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_REVOKED, 401, "keyCompromise");
	free(text);

	assert_int_equal(jpki_ca_hold(lf->f->ca, b->serial), 0);
	text = honest(lf->vl, b, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_REVOKED, 401, "suspended");
	free(text);
	/* lifted: good again */
	assert_int_equal(jpki_ca_release(lf->f->ca, b->serial), 0);
	text = honest(lf->vl, b, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_true(res.accepted);
	free(text);
	jpki_cert_info_free(a);
	jpki_cert_info_free(b);
}

static void test_certificate_validity(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_verify_login_result res;
	struct jpki_cert_info *a;
	char *text;

	/* issued three weeks after the CA, so that before it only the end
	 * certificate is out of its validity */
	fx_at("2026-02-01");
	a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");

	/* the 5th birthday after issue: valid through 2030-06-01 */
	fx_at("2030-06-01T23:00:00");
	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_true(res.accepted);
	free(text);
	fx_at("2030-06-02");
	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_CERT_EXPIRED, 401, "expired");
	free(text);
	fx_at("2026-01-20");
	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_CERT_NOT_YET_VALID, 401, "not valid");
	free(text);
	jpki_cert_info_free(a);
}

static void test_unreadable_certificate(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_cert_info cut = *a;
	struct jpki_verify_login_result res;
	unsigned char longer[4096];
	char *text;

	/* truncated DER */
	cut.der_len = a->der_len / 2;
	text = honest(lf->vl, &cut, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_BAD_CERTIFICATE, 401, "DER");
	free(text);
	/* trailing bytes after the certificate */
	assert_true(a->der_len + 1 <= sizeof(longer));
	memcpy(longer, a->der, a->der_len);
	longer[a->der_len] = 0;
	cut.der = longer;
	cut.der_len = a->der_len + 1;
	text = honest(lf->vl, &cut, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_BAD_CERTIFICATE, 401, "DER");
	free(text);
	jpki_cert_info_free(a);
}

static void test_malformed_answers(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_verify_challenge ch;
	const char *c;
	char buf[1024];
	static const struct {
		const char *text;
		enum jpki_login_refusal why;
		const char *words;
	} cases[] = {
		{"", JPKI_LOGIN_NOT_JSON, "not well-formed JSON"},
		{"{", JPKI_LOGIN_NOT_JSON, "not well-formed JSON"},
		{"{} x", JPKI_LOGIN_NOT_JSON, "not well-formed JSON"},
		{"[\"challenge\"]", JPKI_LOGIN_NOT_JSON, "not a JSON object"},
		{"{}", JPKI_LOGIN_MISSING_FIELD, "\"challenge\""},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":\"AA=="
		 "\"}",
		 JPKI_LOGIN_MISSING_FIELD, "\"signature\""},
		{"{\"challenge\":1,\"origin\":\"x\",\"certificate\":\"AA==\","
		 "\"signature\":\"AA==\"}",
		 JPKI_LOGIN_MISSING_FIELD, "\"challenge\""},
		{"{\"challenge\":\"@\",\"origin\":null,\"certificate\":\"AA=="
		 "\","
		 "\"signature\":\"AA==\"}",
		 JPKI_LOGIN_MISSING_FIELD, "\"origin\""},
		{"{\"challenge\":\"@\",\"challenge\":\"@\",\"origin\":\"x\","
		 "\"certificate\":\"AA==\",\"signature\":\"AA==\"}",
		 JPKI_LOGIN_NOT_JSON, "not well-formed JSON"},
		{"{\"challenge\":\"q2v6\",\"origin\":\"x\",\"certificate\":"
		 "\"AA==\",\"signature\":\"AA==\"}",
		 JPKI_LOGIN_BAD_ENCODING, "43 characters"},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":\"AA="
		 "\","
		 "\"signature\":\"AA==\"}",
		 JPKI_LOGIN_BAD_ENCODING, "certificate is not standard"},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":"
		 "\"AA-_\",\"signature\":\"AA==\"}",
		 JPKI_LOGIN_BAD_ENCODING, "certificate is not standard"},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":\"\","
		 "\"signature\":\"AA==\"}",
		 JPKI_LOGIN_BAD_ENCODING, "certificate is not standard"},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":\"AB=="
		 "\","
		 "\"signature\":\"AA==\"}",
		 JPKI_LOGIN_BAD_ENCODING, "certificate is not standard"},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":\"AA=="
		 "\","
		 "\"signature\":\"A A=\"}",
		 JPKI_LOGIN_BAD_ENCODING, "signature is not standard"},
		{"{\"challenge\":\"@\",\"origin\":\"x\",\"certificate\":\"AA=="
		 "\","
		 "\"signature\":\"AA\\u0000=\"}",
		 JPKI_LOGIN_NOT_JSON, "not well-formed JSON"},
	};
	char unknown[44];

	/* "@" stands for a challenge that was issued */
	assert_int_equal(jpki_verify_login_challenge(&ch, lf->vl), 0);
	snprintf(unknown, sizeof(unknown), "%.43s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jpki_verify_login_result res;
		size_t o = 0;

		for (c = cases[i].text; *c && o + 44 < sizeof(buf); c++) {
			if (*c == '@') {
				memcpy(buf + o, ch.challenge, 43);
				o += 43;
			} else {
				buf[o++] = *c;
			}
		}
		buf[o] = '\0';
		res = check_text(lf->vl, buf);
		if (res.why != cases[i].why)
			fprintf(stderr, "case %zu: %s\n", i, buf);
		assert_refused(&res, cases[i].why, 400, cases[i].words);
	}
	/* none of them spent the challenge: it is unknown only to answers
	 * that never named it */
	{
		struct jpki_verify_login_result res;

		snprintf(buf, sizeof(buf),
			 "{\"challenge\":\"%s\",\"origin\":\"x\","
			 "\"certificate\":\"AA==\",\"signature\":\"AA==\"}",
			 ch.challenge);
		res = check_text(lf->vl, buf);
		assert_refused(&res, JPKI_LOGIN_WRONG_ORIGIN, 401,
			       "another site");
		snprintf(buf, sizeof(buf),
			 "{\"challenge\":\"%s\",\"origin\":\"x\","
			 "\"certificate\":\"AA==\",\"signature\":\"AA==\"}",
			 unknown);
		res = check_text(lf->vl, buf);
		assert_refused(&res, JPKI_LOGIN_UNKNOWN_CHALLENGE, 401,
			       "not issued");
	}
}

static void test_oversized_answers(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_verify_login_result res;
	size_t n = JPKI_MAX_LOGIN_ANSWER + 1;
	unsigned char *big = malloc(n);
	char *huge;

	/* a body over the cap, whatever it holds */
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(jpki_verify_login_check(&res, lf->vl, big, n), 0);
	assert_refused(&res, JPKI_LOGIN_TOO_LARGE, 400, "64 KiB");
	/* exactly at the cap it is read (and found wanting) */
	assert_int_equal(jpki_verify_login_check(&res, lf->vl, big, n - 1), 0);
	assert_refused(&res, JPKI_LOGIN_NOT_JSON, 400, "JSON");
	/* a certificate over 16 KiB inside the cap */
	huge = malloc(30000);
	memset(huge, 0, 30000);
	strcpy(huge, "{\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		     "AAAAAA\",\"origin\":\"x\",\"signature\":\"AA==\","
		     "\"certificate\":\"");
	memset(huge + strlen(huge), 'A', 24000);
	strcat(huge, "\"}");
	res = check_text(lf->vl, huge);
	assert_refused(&res, JPKI_LOGIN_BAD_ENCODING, 400, "16 KiB");
	/* a signature longer than any RSA key we take */
	memset(huge, 0, 30000);
	strcpy(huge, "{\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		     "AAAAAA\",\"origin\":\"x\",\"certificate\":\"AA==\","
		     "\"signature\":\"");
	memset(huge + strlen(huge), 'A', 1024);
	strcat(huge, "\"}");
	res = check_text(lf->vl, huge);
	assert_refused(&res, JPKI_LOGIN_BAD_ENCODING, 400, "signature");
	/* NULL with a length is a caller's mistake, not a verdict */
	assert_int_equal(jpki_verify_login_check(&res, lf->vl, NULL, 1),
			 JPKI_ERR_INVALID);
	assert_false(res.accepted);
	assert_int_equal(res.http_status, 500);
	/* NULL and nothing is an empty body */
	assert_int_equal(jpki_verify_login_check(&res, lf->vl, NULL, 0), 0);
	assert_refused(&res, JPKI_LOGIN_NOT_JSON, 400, "JSON");
	free(huge);
	free(big);
}

/* One account for a person across renewal and re-issue; another for
 * another person, and another at another relying party. */
static void test_account_stable_across_renewal(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_cert_info *other = fx_issue(lf->f, JPKI_CERT_AUTH, "P2");
	struct jpki_cert_info *renewed = NULL, *again = NULL;
	struct jpki_verify_login *elsewhere = NULL;
	struct jpki_verify_login_result res;
	EVP_PKEY *new_key = tu_rsa_key_fresh();
	char account[JPKI_VERIFY_ACCOUNT_MAX], *text;

	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_true(res.accepted);
	snprintf(account, sizeof(account), "%s", res.account);
	free(text);

	text = honest(lf->vl, other, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_true(res.accepted);
	assert_string_not_equal(res.account, account);
	free(text);

	/* renewal (opens 3 months before 2030-06-01) with a new key */
	fx_at("2030-04-01");
	assert_int_equal(
		jpki_ca_renew(&renewed, lf->f->ca, a->serial, new_key, NULL),
		0);
	text = honest(lf->vl, renewed, new_key, NULL);
	res = check_text(lf->vl, text);
	assert_true(res.accepted);
	assert_string_equal(res.serial, renewed->serial);
	assert_string_equal(res.account, account);
	free(text);
	/* the superseded one is refused */
	text = honest(lf->vl, a, lf->f->key, NULL);
	res = check_text(lf->vl, text);
	assert_refused(&res, JPKI_LOGIN_REVOKED, 401, "superseded");
	free(text);

	/* a lost card: revoked, and a new certificate issued */
	assert_int_equal(jpki_ca_revoke(lf->f->ca, renewed->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	again = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	jpki_cert_info_free(again);
	/* the newest certificate of P1, the only good one */
	{
		struct jpki_ca_filter flt = JPKI_CA_FILTER_INIT;
		struct jpki_cert_info **list = NULL;
		size_t n = 0;

		flt.type = JPKI_CERT_AUTH;
		flt.person = "P1";
		flt.status = JPKI_STATUS_GOOD;
		assert_int_equal(jpki_ca_list(&list, &n, lf->f->ca, &flt), 0);
		assert_int_equal(n, 1);
		text = honest(lf->vl, list[0], lf->f->key, NULL);
		res = check_text(lf->vl, text);
		assert_true(res.accepted);
		assert_string_equal(res.serial, list[0]->serial);
		assert_string_equal(res.account, account);
		free(text);

		/* pairwise: another relying party sees another id */
		assert_int_equal(jpki_http_login_new(&elsewhere, lf->f->ca,
						     "https://portal.example"),
				 0);
		assert_string_equal(jpki_verify_login_origin(elsewhere),
				    "https://portal.example");
		{
			struct jpki_verify_challenge ch;

			assert_int_equal(
				jpki_verify_login_challenge(&ch, elsewhere), 0);
			text = answer_json(
				ch.challenge, "https://portal.example",
				list[0]->der, list[0]->der_len, lf->f->key,
				"https://portal.example", ch.challenge);
		}
		res = check_text(elsewhere, text);
		assert_true(res.accepted);
		assert_int_equal(strlen(res.account), 32);
		assert_string_not_equal(res.account, account);
		free(text);
		jpki_cert_info_list_free(list, n);
	}
	jpki_verify_login_free(elsewhere);
	EVP_PKEY_free(new_key);
	jpki_cert_info_free(renewed);
	jpki_cert_info_free(other);
	jpki_cert_info_free(a);
}

static void test_origins(void **state)
{
	static const struct {
		const char *url, *origin;
	} ok[] = {
		{"http://127.0.0.1:8080/login", "http://127.0.0.1:8080"},
		{"HTTP://Example.JP:80/login?x=1", "http://example.jp"},
		{"https://example.jp:443", "https://example.jp"},
		{"https://example.jp:8443/", "https://example.jp:8443"},
		{"https://user:pw@example.jp/login", "https://example.jp"},
		{"http://[::1]:8080/login", "http://[::1]:8080"},
		{"http://example.jp:/x", "http://example.jp"},
		{"http://example.jp#frag", "http://example.jp"},
	};
	static const char *const bad[] = {
		"",
		"example.jp",
		"ftp://example.jp",
		"http://",
		"http:///x",
		"http://example.jp:99999",
		"http://example.jp:0",
		"http://example.jp:8o",
		"http://[::1",
		"http://a b/",
		"http://example.jp:1:2",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *o = NULL;

		assert_int_equal(jpki_verify_origin(&o, ok[i].url), 0);
		assert_string_equal(o, ok[i].origin);
		free(o);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *o = (char *)"x";

		if (jpki_verify_origin(&o, bad[i]) != JPKI_ERR_INVALID)
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		assert_int_equal(jpki_verify_origin(&o, bad[i]),
				 JPKI_ERR_INVALID);
		assert_null(o);
	}
	assert_int_equal(jpki_verify_origin((char *[]){NULL}, NULL),
			 JPKI_ERR_INVALID);
	(void)state;
}

/* ---- the verifier on its own, with the caller's callbacks ------------ */

static int good_status(void *arg, X509 *cert, const char *serial,
		       enum jpki_verify_status *status, int *reason)
{
	*status = JPKI_VERIFY_GOOD;
	*reason = 0;
	return 0;
}

static int failing_status(void *arg, X509 *cert, const char *serial,
			  enum jpki_verify_status *status, int *reason)
{
	return jpki_err_set(JPKI_ERR_STORE, "the status source is down");
}

static int unknown_status(void *arg, X509 *cert, const char *serial,
			  enum jpki_verify_status *status, int *reason)
{
	*status = JPKI_VERIFY_UNKNOWN;
	return 0;
}

static int serial_account(void *arg, X509 *cert, const char *serial,
			  const char *origin, char *out, size_t out_size)
{
	snprintf(out, out_size, "acct-%s", serial);
	return 0;
}

static void test_options_and_callbacks(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_verify_login_options opts = JPKI_VERIFY_LOGIN_OPTIONS_INIT;
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	X509 *anchors[] = {jpki_ca_cert(lf->f->ca, JPKI_CERT_SIGN),
			   jpki_ca_cert(lf->f->ca, JPKI_CERT_AUTH)};
	struct jpki_verify_login *vl = NULL;
	struct jpki_verify_login_result res;
	char *text, want[64];

	/* every part is required */
	assert_int_equal(jpki_verify_login_new(&vl, NULL), JPKI_ERR_INVALID);
	assert_int_equal(jpki_verify_login_new(&vl, &opts), JPKI_ERR_INVALID);
	opts.origin = ORIGIN;
	opts.anchors = anchors;
	opts.n_anchors = 2;
	opts.status = good_status;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), JPKI_ERR_INVALID);
	assert_null(vl);
	opts.account = serial_account;
	opts.version = 99;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), JPKI_ERR_INVALID);
	opts.version = JPKI_VERIFY_LOGIN_OPTIONS_VERSION;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), 0);

	/* the issuer is found among several anchors */
	text = honest(vl, a, lf->f->key, NULL);
	res = check_text(vl, text);
	assert_true(res.accepted);
	snprintf(want, sizeof(want), "acct-%s", a->serial);
	assert_string_equal(res.account, want);
	free(text);
	jpki_verify_login_free(vl);

	/* a status the source does not know */
	opts.status = unknown_status;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), 0);
	text = honest(vl, a, lf->f->key, NULL);
	res = check_text(vl, text);
	assert_refused(&res, JPKI_LOGIN_STATUS_UNKNOWN, 401, "unknown");
	free(text);
	jpki_verify_login_free(vl);

	/* a status source that fails: no verdict, an error */
	opts.status = failing_status;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), 0);
	text = honest(vl, a, lf->f->key, NULL);
	assert_int_equal(jpki_verify_login_check(&res, vl,
						 (const unsigned char *)text,
						 strlen(text)),
			 JPKI_ERR_STORE);
	assert_false(res.accepted);
	assert_int_equal(res.http_status, 500);
	assert_string_equal(res.serial, "");
	free(text);
	jpki_verify_login_free(vl);

	/* only the signing CA trusted */
	opts.status = good_status;
	opts.n_anchors = 1;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), 0);
	text = honest(vl, a, lf->f->key, NULL);
	res = check_text(vl, text);
	assert_refused(&res, JPKI_LOGIN_UNTRUSTED, 401, "trusted");
	free(text);
	jpki_verify_login_free(vl);
	jpki_cert_info_free(a);
}

/* The table holds at most max_challenges: the oldest goes first. */
static void test_bounded_table(void **state)
{
	struct login_fixture *lf = *state;
	struct jpki_verify_login_options opts = JPKI_VERIFY_LOGIN_OPTIONS_INIT;
	X509 *anchor = jpki_ca_cert(lf->f->ca, JPKI_CERT_AUTH);
	struct jpki_cert_info *a = fx_issue(lf->f, JPKI_CERT_AUTH, "P1");
	struct jpki_verify_login *vl = NULL;
	struct jpki_verify_login_result res;
	char *texts[5], *fresh;
	time_t t0 = jpki_clock_now();

	opts.origin = ORIGIN;
	opts.anchors = &anchor;
	opts.n_anchors = 1;
	opts.status = good_status;
	opts.account = serial_account;
	opts.max_challenges = 4;
	opts.lifetime = 30;
	assert_int_equal(jpki_verify_login_new(&vl, &opts), 0);
	for (int i = 0; i < 5; i++)
		texts[i] = honest(vl, a, lf->f->key, NULL);
	res = check_text(vl, texts[0]);
	assert_refused(&res, JPKI_LOGIN_UNKNOWN_CHALLENGE, 401, "forgotten");
	for (int i = 1; i < 5; i++) {
		res = check_text(vl, texts[i]);
		assert_true(res.accepted);
	}
	/* spent ones are remembered for a lifetime after they expire, then
	 * forgotten when a new challenge needs room */
	jpki_clock_freeze(t0 + 30);
	res = check_text(vl, texts[4]);
	assert_refused(&res, JPKI_LOGIN_USED_CHALLENGE, 401, "already used");
	jpki_clock_freeze(t0 + 60);
	fresh = honest(vl, a, lf->f->key, NULL);
	res = check_text(vl, texts[4]);
	assert_refused(&res, JPKI_LOGIN_UNKNOWN_CHALLENGE, 401, "not issued");
	res = check_text(vl, fresh);
	assert_true(res.accepted);
	/* many more than fit: the table wraps around */
	for (int i = 0; i < 50; i++) {
		char *t = honest(vl, a, lf->f->key, NULL);

		if (i % 3 == 0) {
			res = check_text(vl, t);
			assert_true(res.accepted);
		}
		free(t);
	}
	free(fresh);
	for (int i = 0; i < 5; i++)
		free(texts[i]);
	jpki_verify_login_free(vl);
	jpki_cert_info_free(a);
}

/* Many threads issue and spend at once (the server's thread pool). */
struct racer {
	struct jpki_verify_login *vl;
	int refusals;
};

static void *race(void *arg)
{
	struct racer *rc = arg;

	for (int i = 0; i < 300; i++) {
		struct jpki_verify_challenge ch;
		struct jpki_verify_login_result res;
		char buf[256];
		int n;

		if (jpki_verify_login_challenge(&ch, rc->vl) != 0)
			return NULL;
		n = snprintf(buf, sizeof(buf),
			     "{\"challenge\":\"%s\",\"origin\":\"x\","
			     "\"certificate\":\"AA==\",\"signature\":\"AA==\"}",
			     ch.challenge);
		for (int k = 0; k < 2; k++)
			if (jpki_verify_login_check(&res, rc->vl,
						    (unsigned char *)buf,
						    (size_t)n) == 0 &&
			    res.why == (k ? JPKI_LOGIN_USED_CHALLENGE
					  : JPKI_LOGIN_WRONG_ORIGIN))
				rc->refusals++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct login_fixture *lf = *state;
	struct racer rc[8];
	pthread_t th[8];

	for (int i = 0; i < 8; i++) {
		rc[i].vl = lf->vl;
		rc[i].refusals = 0;
		assert_int_equal(pthread_create(&th[i], NULL, race, &rc[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(rc[i].refusals, 600);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_accepted),
		T(test_challenge_json),
		T(test_unknown_challenge),
		T(test_replayed_challenge),
		T(test_refused_answer_spends),
		T(test_expired_challenge),
		T(test_wrong_origin),
		T(test_signature_over_other_text),
		T(test_signing_certificate_refused),
		T(test_ca_and_ocsp_certificates_refused),
		T(test_foreign_ca_refused),
		T(test_revoked_and_held_refused),
		T(test_certificate_validity),
		T(test_unreadable_certificate),
		T(test_malformed_answers),
		T(test_oversized_answers),
		T(test_account_stable_across_renewal),
		T(test_origins),
		T(test_options_and_callbacks),
		T(test_bounded_table),
		T(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
