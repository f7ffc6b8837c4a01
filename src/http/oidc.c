/*
 * The oidc role's endpoints (docs/OIDC.md): discovery, JWKS, /authorize
 * with the page on which the resident logs in with the card through the
 * browser bridge (docs/LOGIN.md's answer, bound to this provider's origin)
 * and signs the consent when the client asked for the 4 facts, /token and
 * /userinfo. The flow's rules are the oidc module's; here are the HTTP
 * forms and the checks of the card's answers by the verify module.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "http/http_internal.h"

/* The rest of a prefix URL "/oidc/login/<id>/response" split into the
 * request id (43 base64url characters) and what follows. */
static int split_id(char id[44], const char **tail, const char *rest)
{
	size_t n = strcspn(rest, "/");

	if (n != 43)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = rest[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return -1;
	}
	memcpy(id, rest, n);
	id[n] = '\0';
	*tail = rest + n;
	return 0;
}

static enum MHD_Result send_json_cache(struct MHD_Connection *conn,
				       unsigned status, char *json,
				       const char *cache)
{
	enum MHD_Result ret;

	if (json == NULL)
		return MHD_NO;
	ret = http_send(conn, status, "application/json", json, strlen(json),
			cache);
	free(json);
	return ret;
}

/* {"result": "refused", "error": why} */
static enum MHD_Result refused(struct MHD_Connection *conn, unsigned status,
			       const char *why)
{
	json_t *doc =
	    json_pack("{s:s, s:s}", "result", "refused", "error", why);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return send_json_cache(conn, status, text, "no-store");
}

enum MHD_Result http_oidc_discovery(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req)
{
	char *json = NULL;

	(void)req;
	if (jpki_oidc_discovery(&json, srv->oidc) != 0)
		return MHD_NO;
	return send_json_cache(conn, MHD_HTTP_OK, json, "max-age=300, public");
}

enum MHD_Result http_oidc_jwks(struct jpki_http *srv,
			       struct MHD_Connection *conn,
			       struct http_request *req)
{
	char *json = NULL;

	(void)req;
	if (jpki_oidc_jwks(&json, srv->oidc) != 0)
		return MHD_NO;
	return send_json_cache(conn, MHD_HTTP_OK, json, "max-age=300, public");
}

/* A query argument, NULL when absent (the oidc module tells absent from
 * empty). */
static const char *arg(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* A JSON value for a <script type="application/json">: '/' escaped, so
 * no "</script>" can end the element. */
static void script_json(FILE *f, const char *id, json_t *value)
{
	char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_ESCAPE_SLASH);

	fprintf(f, "<script type=\"application/json\" id=\"%s\">%s</script>\n",
		id, text ? text : "null");
	free(text);
}

/*
 * The log-in page. Its script speaks the bridge's page protocol
 * (window.postMessage, docs/BROWSER.md): "login" with the challenge, whose
 * answer goes to .../response; then, when the service asked for the facts,
 * "sign" of the SHA-256 of the consent text, whose CMS goes to consent/.
 * The PINs are asked by the bridge's own prompt, never by this page.
 */
/* clang-format off */
static const char page_script[] =
    "(function () {\n"
    "  const data = (id) => JSON.parse(document.getElementById(id).textContent);\n"
    "  const rid = data('rid'), challenge = data('challenge'), consent = data('consent');\n"
    "  const status = document.getElementById('status');\n"
    "  const say = (t) => { status.textContent = t; };\n"
    "  const pending = new Map();\n"
    "  window.addEventListener('message', (ev) => {\n"
    "    if (ev.source !== window || !ev.data || ev.data.jpki !== 'response') return;\n"
    "    const p = pending.get(ev.data.id); if (!p) return;\n"
    "    pending.delete(ev.data.id);\n"
    "    if (ev.data.ok) p.resolve(ev.data.result);\n"
    "    else p.reject(new Error((ev.data.error && ev.data.error.message) || 'the card refused'));\n"
    "  });\n"
    "  const bridge = (op, fields) => new Promise((resolve, reject) => {\n"
    "    const id = crypto.randomUUID();\n"
    "    pending.set(id, {resolve, reject});\n"
    "    window.postMessage(Object.assign({jpki: 'request', id, op}, fields), window.location.origin);\n"
    "  });\n"
    "  const post = async (path, body) => {\n"
    "    const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},\n"
    "                                 body: JSON.stringify(body)});\n"
    "    const j = await r.json();\n"
    "    if (!r.ok) throw new Error(j.error || ('refused: ' + r.status));\n"
    "    return j;\n"
    "  };\n"
    "  const go = (j) => { say('戻ります / returning to the service'); window.location.assign(j.redirect); };\n"
    "  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));\n"
    "  document.getElementById('login').addEventListener('click', async () => {\n"
    "    try {\n"
    "      say('カードと暗証番号 / card and PIN ...');\n"
    "      const answer = await bridge('login', {challenge});\n"
    "      const j = await post('/oidc/login/' + rid + '/response', answer);\n"
    "      if (!j.consent) return go(await post('/oidc/login/' + rid + '/finish', {}));\n"
    "      document.getElementById('consent-box').hidden = false;\n"
    "      say('同意の署名 / sign the consent');\n"
    "    } catch (e) { say('ログインできません: ' + e.message); }\n"
    "  });\n"
    "  const sign = document.getElementById('sign');\n"
    "  if (sign) sign.addEventListener('click', async () => {\n"
    "    try {\n"
    "      const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(consent));\n"
    "      const res = await bridge('sign', {hash: b64(hash), hashAlgorithm: 'SHA-256',\n"
    "                                        description: 'OpenID Connect consent'});\n"
    "      go(await post('/oidc/consent/' + rid, {cms: res.cms}));\n"
    "    } catch (e) { say('同意できません: ' + e.message); }\n"
    "  });\n"
    "})();\n";
/* clang-format on */

enum MHD_Result http_oidc_authorize(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req)
{
	struct jpki_oidc_authz a = {0};
	struct jpki_oidc_authz_result res;
	struct jpki_verify_challenge ch;
	char *consent = NULL, bound[44], *buf = NULL;
	size_t len = 0;
	FILE *f;
	json_t *v;
	enum MHD_Result ret;

	(void)req;
	a.response_type = arg(conn, "response_type");
	a.client_id = arg(conn, "client_id");
	a.redirect_uri = arg(conn, "redirect_uri");
	a.scope = arg(conn, "scope");
	a.state = arg(conn, "state");
	a.nonce = arg(conn, "nonce");
	a.code_challenge = arg(conn, "code_challenge");
	a.code_challenge_method = arg(conn, "code_challenge_method");
	a.claims = arg(conn, "claims");
	a.prompt = arg(conn, "prompt");
	if (jpki_oidc_authorize(&res, srv->oidc, &a) != 0) {
		jpki_log(JPKI_LOG_WARN, "oidc: authorize: %s",
			 jpki_err_detail());
		return http_send_text(
		    conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the provider cannot take a log-in now\n");
	}
	if (res.refused == 2) {
		ret = http_redirect(conn, res.redirect, NULL);
		jpki_oidc_authz_result_clear(&res);
		return ret;
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		jpki_oidc_authz_result_clear(&res);
		return MHD_NO;
	}
	http_page_start(f, "マイナンバーカードでログイン", "OpenJPKI ID",
			"#1a5276");
	if (res.refused == 1) {
		http_refusal(f, "このログインは受け付けられません", res.reason);
		jpki_oidc_authz_result_clear(&res);
		return http_page_end(f, &buf, &len, conn, MHD_HTTP_BAD_REQUEST);
	}
	if (jpki_verify_login_challenge(&ch, srv->oidc_login) != 0 ||
	    jpki_oidc_request_bind(srv->oidc, res.id, ch.challenge) != 0 ||
	    jpki_oidc_request_info(&consent, bound, srv->oidc, res.id) != 0) {
		http_refusal(f, "ログインを始められません", jpki_err_detail());
		jpki_oidc_authz_result_clear(&res);
		return http_page_end(f, &buf, &len, conn,
				     MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	fputs("<h2>", f);
	http_html_escape(f, res.client_name);
	fputs(" にマイナンバーカードでログインします</h2>\n"
	      "<p>カードをリーダーに置き、「ログイン」を押してください。"
	      "暗証番号（4桁）はブラウザ拡張の画面で入力します。</p>\n"
	      "<p><button id=\"login\">ログイン / Log in</button></p>\n",
	      f);
	if (consent != NULL) {
		fputs("<div id=\"consent-box\" hidden>\n<h3>情報提供の同意"
		      "</h3>\n<pre id=\"consent-text\">",
		      f);
		http_html_escape(f, consent);
		fputs("</pre>\n<p>署名用電子証明書で同意に署名します"
		      "（署名用パスワード）。</p>\n<p><button id=\"sign\">"
		      "同意して署名 / Consent and sign</button></p>\n</div>\n",
		      f);
	}
	fputs("<p id=\"status\" role=\"status\"></p>\n", f);
	v = json_string(res.id);
	script_json(f, "rid", v);
	json_decref(v);
	v = json_string(bound);
	script_json(f, "challenge", v);
	json_decref(v);
	v = consent ? json_string(consent) : json_null();
	script_json(f, "consent", v);
	json_decref(v);
	fprintf(f, "<script>\n%s</script>\n", page_script);
	free(consent);
	jpki_oidc_authz_result_clear(&res);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}

/* The answer to an accepted log-in: docs/LOGIN.md's, with the consent
 * text when the service asked for the facts (the page shows it and has it
 * signed); the code comes from .../finish. */
static enum MHD_Result logged_in(struct jpki_http *srv,
				 struct MHD_Connection *conn, const char *id,
				 const char *serial)
{
	char *consent = NULL, ch[44], *text;
	json_t *doc;

	if (jpki_oidc_request_info(&consent, ch, srv->oidc, id) != 0)
		return refused(conn, MHD_HTTP_UNAUTHORIZED, jpki_err_detail());
	doc = json_pack("{s:s, s:s, s:s, s:o}", "result", "accepted", "serial",
			serial, "account", "", "consent",
			consent ? json_string(consent) : json_null());
	free(consent);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return send_json_cache(conn, MHD_HTTP_OK, text, "no-store");
}

/* When the request has all it needs: {"redirect": URI with the code}. */
static enum MHD_Result finish(struct jpki_http *srv,
			      struct MHD_Connection *conn, const char *id)
{
	char *redirect = NULL, *text;
	json_t *doc;
	int r;

	if ((r = jpki_oidc_request_finish(&redirect, srv->oidc, id)) != 0)
		return refused(conn,
			       r == JPKI_ERR_POLICY || r == JPKI_ERR_NOT_FOUND
				   ? MHD_HTTP_UNAUTHORIZED
				   : MHD_HTTP_SERVICE_UNAVAILABLE,
			       jpki_err_detail());
	doc =
	    json_pack("{s:s, s:s}", "result", "accepted", "redirect", redirect);
	free(redirect);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return send_json_cache(conn, MHD_HTTP_OK, text, "no-store");
}

/*
 * /oidc/login/<id>/challenge and /oidc/login/<id>/response: docs/LOGIN.md
 * at a log-in base of its own per request, so `jpki login URL` answers it
 * as well as the bridge does. A new challenge replaces the one bound.
 * /oidc/login/<id>/finish: the redirect with the code once the log-in (and
 * the consent, when asked for) is done; the request is spent.
 */
enum MHD_Result http_oidc_login(struct jpki_http *srv,
				struct MHD_Connection *conn,
				struct http_request *req)
{
	struct jpki_verify_login_result res;
	struct jpki_verify_challenge ch;
	const char *tail;
	char id[44], *json = NULL;
	json_t *body;
	int r;

	if (split_id(id, &tail, req->rest) != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(tail, "/challenge") == 0 && !req->post) {
		if (jpki_verify_login_challenge(&ch, srv->oidc_login) != 0 ||
		    jpki_oidc_request_bind(srv->oidc, id, ch.challenge) != 0)
			return refused(conn, MHD_HTTP_NOT_FOUND,
				       jpki_err_detail());
		if (jpki_verify_login_challenge_json(&json, srv->oidc_login,
						     &ch) != 0)
			return MHD_NO;
		return send_json_cache(conn, MHD_HTTP_OK, json, "no-store");
	}
	if (strcmp(tail, "/finish") == 0)
		return finish(srv, conn, id);
	if (strcmp(tail, "/response") != 0 || !req->post)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (req->up->too_large)
		return refused(conn, MHD_HTTP_BAD_REQUEST,
			       "the answer is too large");
	if (jpki_verify_login_check(&res, srv->oidc_login, req->up->data,
				    req->up->len) != 0)
		jpki_log(JPKI_LOG_ERROR, "oidc: login: %s", jpki_err_detail());
	if (!res.accepted) {
		jpki_log(JPKI_LOG_INFO, "oidc: log-in refused: %s", res.reason);
		return refused(conn, res.http_status, res.reason);
	}
	/* the verifier spent the challenge; it must be this request's */
	body = json_loadb((const char *)req->up->data, req->up->len, 0, NULL);
	r = jpki_oidc_request_login(
	    srv->oidc, id,
	    json_string_value(json_object_get(body, "challenge")), res.serial);
	json_decref(body);
	if (r != 0) {
		jpki_log(JPKI_LOG_INFO, "oidc: log-in of %s refused: %s",
			 res.serial, jpki_err_detail());
		return refused(conn, MHD_HTTP_UNAUTHORIZED, jpki_err_detail());
	}
	jpki_log(JPKI_LOG_INFO, "oidc: logged in with certificate %s",
		 res.serial);
	return logged_in(srv, conn, id, res.serial);
}

/*
 * /oidc/consent/<id>: {"cms": "<base64 DER>"}, the bridge's "sign" result
 * over SHA-256 of the consent text: a detached CMS the verify module checks
 * against the text (chain to the signing CA, validity, revocation from the
 * CA's records); its 4 facts become the claims.
 */
enum MHD_Result http_oidc_consent(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	struct jpki_verify_options opts = JPKI_VERIFY_OPTIONS_INIT;
	struct jpki_verify_report rep = {0};
	X509 *anchor = jpki_ca_cert(srv->ca, JPKI_CERT_SIGN);
	const char *tail, *b64;
	char id[44], *consent = NULL, ch[44];
	unsigned char *der = NULL;
	json_t *body = NULL;
	enum MHD_Result ret;
	int n, r;

	if (split_id(id, &tail, req->rest) != 0 || tail[0] != '\0')
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (req->up->too_large)
		return refused(conn, MHD_HTTP_BAD_REQUEST,
			       "the consent is too large");
	body = json_loadb((const char *)req->up->data, req->up->len,
			  JSON_REJECT_DUPLICATES, NULL);
	b64 = json_string_value(json_object_get(body, "cms"));
	if (b64 == NULL || json_object_size(body) != 1 || strlen(b64) < 4 ||
	    strlen(b64) % 4 != 0 || strlen(b64) > JPKI_MAX_LOGIN_ANSWER) {
		ret = refused(conn, MHD_HTTP_BAD_REQUEST,
			      "the body must be {\"cms\": \"<base64>\"}");
		goto out;
	}
	if ((r = jpki_oidc_request_info(&consent, ch, srv->oidc, id)) != 0 ||
	    consent == NULL) {
		ret = refused(conn, MHD_HTTP_UNAUTHORIZED,
			      r ? jpki_err_detail()
				: "this log-in asks for no consent");
		goto out;
	}
	if ((der = malloc(strlen(b64) / 4 * 3 + 1)) == NULL ||
	    (n = EVP_DecodeBlock(der, (const unsigned char *)b64,
				 (int)strlen(b64))) < 0) {
		ret = refused(conn, MHD_HTTP_BAD_REQUEST,
			      "the cms is not base64");
		goto out;
	}
	n -= (b64[strlen(b64) - 1] == '=') + (b64[strlen(b64) - 2] == '=');
	opts.anchors = &anchor;
	opts.n_anchors = 1;
	opts.content = (const uint8_t *)consent;
	opts.content_len = strlen(consent);
	opts.status = http_sign_status;
	opts.status_arg = srv->ca;
	opts.offline = 1;
	if ((r = jpki_verify_application(&rep, &opts, der, (size_t)n)) != 0) {
		jpki_log(JPKI_LOG_ERROR, "oidc: consent: %s",
			 jpki_err_detail());
		ret = refused(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			      "the consent cannot be checked now");
		goto out;
	}
	if (!rep.accepted || !rep.have_facts) {
		ret = refused(conn, MHD_HTTP_UNAUTHORIZED,
			      rep.n_reasons ? rep.reasons[0].text
					    : "the consent is not signed");
		goto out;
	}
	if (jpki_oidc_request_consent(srv->oidc, id, rep.serial, &rep.facts) !=
	    0) {
		jpki_log(JPKI_LOG_INFO, "oidc: consent by %s refused: %s",
			 rep.serial, jpki_err_detail());
		ret = refused(conn, MHD_HTTP_UNAUTHORIZED, jpki_err_detail());
		goto out;
	}
	jpki_log(JPKI_LOG_INFO, "oidc: consent signed with certificate %s",
		 rep.serial);
	ret = finish(srv, conn, id);
out:
	jpki_verify_report_clear(&rep);
	json_decref(body);
	free(der);
	free(consent);
	return ret;
}

/* application/x-www-form-urlencoded decoding in place (RFC 6749 2.3.1
 * encodes the Basic pair so); -1 for a bad escape or a NUL. */
static int form_decode(char *s)
{
	char *w = s;

	for (const char *p = s; *p; p++) {
		if (*p == '+')
			*w++ = ' ';
		else if (*p == '%') {
			unsigned v;

			if (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]) ||
			    sscanf(p + 1, "%2x", &v) != 1 || v == 0)
				return -1;
			*w++ = (char)v;
			p += 2;
		} else
			*w++ = *p;
	}
	*w = '\0';
	return 0;
}

/* The Basic header's client id and secret (RFC 6749 2.3.1: each
 * form-urlencoded), into the buffers; 0 none, 1 found, -1 malformed. */
static int basic_auth(char *id, size_t id_size, char *secret,
		      size_t secret_size, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char dec[512];
	size_t n;
	int len;
	char *colon;

	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	h += 6;
	n = strlen(h);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(dec))
		return -1;
	if ((len = EVP_DecodeBlock(dec, (const unsigned char *)h, (int)n)) < 0)
		return -1;
	len -= (h[n - 1] == '=') + (h[n - 2] == '=');
	dec[len] = '\0';
	if ((colon = strchr((char *)dec, ':')) == NULL ||
	    strlen((char *)dec) != (size_t)len)
		return -1;
	*colon = '\0';
	if (strlen((char *)dec) >= id_size || strlen(colon + 1) >= secret_size)
		return -1;
	strcpy(id, (char *)dec);
	strcpy(secret, colon + 1);
	jpki_wipe(dec, sizeof(dec));
	if (form_decode(id) != 0 || form_decode(secret) != 0)
		return -1;
	return 1;
}

enum MHD_Result http_oidc_token(struct jpki_http *srv,
				struct MHD_Connection *conn,
				struct http_request *req)
{
	static const char *const names[] = {"grant_type",
					    "code",
					    "redirect_uri",
					    "code_verifier",
					    "client_id",
					    "client_secret",
					    "client_assertion_type",
					    "client_assertion"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	char *v[N] = {0}, bid[128], bsecret[256], *endpoint = NULL;
	struct jpki_oidc_token_req t = {0};
	char *json = NULL;
	unsigned status = 0;
	enum MHD_Result ret = MHD_NO;
	int basic;

	if ((basic = basic_auth(bid, sizeof(bid), bsecret, sizeof(bsecret),
				conn)) < 0)
		return refused(conn, MHD_HTTP_BAD_REQUEST,
			       "the Authorization header is not Basic "
			       "id:secret");
	for (size_t i = 0; i < N; i++) {
		char buf[16384];
		int r = http_form_value(buf, sizeof(buf), req->up->data,
					req->up->len, names[i]);

		if (r < 0) {
			ret = refused(conn, MHD_HTTP_BAD_REQUEST,
				      "a form field is badly escaped or too "
				      "long");
			goto out;
		}
		if (r == 1 && (v[i] = strdup(buf)) == NULL)
			goto out;
	}
	if (asprintf(&endpoint, "%s/oidc/token", jpki_oidc_issuer(srv->oidc)) <
	    0) {
		endpoint = NULL;
		goto out;
	}
	t.grant_type = v[0];
	t.code = v[1];
	t.redirect_uri = v[2];
	t.code_verifier = v[3];
	t.client_id = v[4];
	t.client_secret = v[5];
	t.client_assertion_type = v[6];
	t.client_assertion = v[7];
	t.token_endpoint = endpoint;
	if (basic == 1) {
		if (v[5] != NULL || (v[4] != NULL && strcmp(v[4], bid) != 0)) {
			ret = refused(conn, MHD_HTTP_BAD_REQUEST,
				      "one way of client authentication at "
				      "a time");
			goto out;
		}
		t.client_id = bid;
		t.client_secret = bsecret;
		t.basic = 1;
	}
	if (jpki_oidc_token(&json, &status, srv->oidc, &t) != 0) {
		jpki_log(JPKI_LOG_ERROR, "oidc: token: %s", jpki_err_detail());
		ret = http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "the provider failed\n");
		goto out;
	}
	if (status != MHD_HTTP_OK)
		jpki_log(JPKI_LOG_INFO, "oidc: token refused: %s", json);
	ret = send_json_cache(conn, status, json, "no-store");
out:
	for (size_t i = 0; i < N; i++) {
		if (v[i] != NULL)
			jpki_wipe(v[i], strlen(v[i]));
		free(v[i]);
	}
	jpki_wipe(bsecret, sizeof(bsecret));
	free(endpoint);
	return ret;
}

enum MHD_Result http_oidc_userinfo(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	char *json = NULL;
	unsigned status = 0;

	(void)req;
	if (jpki_oidc_userinfo(&json, &status, srv->oidc,
			       http_bearer_token(conn)) != 0)
		return MHD_NO;
	return send_json_cache(conn, status, json, "no-store");
}
