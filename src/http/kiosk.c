/*
 * The kiosk role of `jpki serve`: the multi-copy machine of a convenience
 * store (コンビニ交付), as a terminal page (docs/BROWSER.md). The kiosk is a
 * browser with the OpenJPKI bridge and a reader of its own: the page
 * (/kiosk, its script /kiosk/kiosk.js beside the shared /jpki-bridge.js,
 * bridge_js.c) takes a fresh challenge from the login role, has the card
 * answer it through the bridge (the host asks the
 * 4-digit PIN of the authentication certificate in its own prompt, and
 * binds the answer to the page's origin as the browser reports it) and
 * posts the answer here. This server's log-in verifier checks it
 * in-process (challenge, origin, chain, the CA's revocation status), the
 * accepted certificate is mapped to the person through the CA's records,
 * and the chosen document goes back as a PDF under a serial of the services
 * module that /verify-document checks: the copy of the residence
 * certificate (住民票の写し, the default) or the seal registration
 * certificate (印鑑登録証明書; refused, and the refusal recorded, when no
 * seal is in force). The page's select sends the choice as "document" in
 * the JSON body beside the answer. Every document handed out lands in the
 * audit chain. The server reads no card itself.
 *
 * Each terminal (client address) has a small budget of log-ins (kiosk_burst
 * at once, default 2; one more every kiosk_every seconds, default 30: both
 * options of jpki_http_options); past it 429 with Retry-After and the
 * answer is not looked at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http/http_internal.h"
#include "jpki/audit.h"
#include "jpki/registry.h"
#include "jpki/services.h"
#include "jpki/window.h"

#define SITE "コンビニ交付 — 住民票の写し・印鑑登録証明書 (convenience-store kiosk)"
#define COLOUR "#8a3b12"

/* The page's script, served from this origin only (the page's
 * Content-Security-Policy allows no other script, inline or elsewhere). It
 * speaks the bridge's page protocol (docs/BROWSER.md). */
static const char kiosk_js[] =
    "'use strict';\n"
    "// The kiosk terminal: log in through the OpenJPKI bridge\n"
    "// (/jpki-bridge.js), receive the copy (docs/BROWSER.md).\n"
    "const $ = (id) => document.getElementById(id);\n"
    "function say(state, text) {\n"
    "  $('status').dataset.state = state;\n"
    "  $('status').textContent = text;\n"
    "}\n"
    "async function issue() {\n"
    "  $('issue').disabled = true;\n"
    "  try {\n"
    "    if (!jpkiBridgeHere())\n"
    "      return say('refused', 'この端末にOpenJPKIの拡張機能がありません "
    "(the OpenJPKI bridge is not installed)');\n"
    "    say('busy', 'カードを読み取っています… (reading the card; type "
    "the PIN in the prompt)');\n"
    "    // a refusal of the bridge (a wrong PIN) throws: said below\n"
    "    const answer = await jpkiLogin('/login/challenge');\n"
    "    const resp = await fetch('/kiosk', { method: 'POST', headers: { "
    "'Content-Type': 'application/json' }, body: JSON.stringify({ ...answer, document: $('document').value }) "
    "});\n"
    "    if (resp.status !== 200) {\n"
    "      const t = await resp.text();\n"
    "      let why = t;\n"
    "      try { why = JSON.parse(t).error; } catch (e) { /* text */ }\n"
    "      return say('refused', '交付できません (cannot issue): ' + why);\n"
    "    }\n"
    "    const blob = await resp.blob();\n"
    "    // the document the terminal prints (and the tests read)\n"
    "    window.kioskCopy = blob;\n"
    "    $('copy').href = URL.createObjectURL(blob);\n"
    "    $('copy').hidden = false;\n"
    "    say('done', '交付しました (issued): ' + "
    "resp.headers.get('X-Jpki-Copy-Number'));\n"
    "  } catch (e) {\n"
    "    say('refused', String(e.message || e));\n"
    "  } finally {\n"
    "    $('issue').disabled = false;\n"
    "  }\n"
    "}\n"
    "$('issue').addEventListener('click', issue);\n";

static enum MHD_Result kiosk_page(struct MHD_Connection *conn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "住民票の写し", SITE, COLOUR);
	fputs("<section><h2>証明書の交付 (certificates)</h2>"
	      "<label for=\"document\">証明書の種類 (which document)</label>"
	      "<select id=\"document\"><option value=\"residence-copy\" "
	      "selected>住民票の写し (a copy of the residence certificate)"
	      "</option><option value=\"seal-certificate\">印鑑登録証明書 "
	      "(the seal registration certificate)</option></select>"
	      "<ol class=\"steps\"><li>マイナンバーカードを"
	      "読み取り機に置いてください。 (Put your card on the reader.)</li>"
	      "<li>「交付」を押し、表示される画面で利用者証明用電子証明書の暗証"
	      "番号（数字4桁）を入力してください。 (Press the button and type "
	      "the 4-digit PIN of the authentication certificate in the "
	      "prompt that opens.)</li></ol>"
	      "<button id=\"issue\" type=\"button\">交付 (print)"
	      "</button><p id=\"status\" data-state=\"ready\"></p>"
	      "<p><a id=\"copy\" hidden target=\"_blank\">証明書 "
	      "(the document, PDF)</a></p>"
	      "<p>暗証番号を3回続けて間違えるとロックされます。ロックの解除は"
	      "お住まいの市区町村の窓口で行ってください。 (Three wrong PINs "
	      "lock the certificate; only your municipality's window can "
	      "unlock it.)</p></section>"
	      "<script src=\"/jpki-bridge.js\"></script>"
	      "<script src=\"/kiosk/kiosk.js\"></script></main></body></html>\n",
	      f);
	fclose(f);
	return http_send_csp(conn, MHD_HTTP_OK, "text/html; charset=utf-8", buf, len,
			MHD_RESPMEM_MUST_FREE, NULL);
}

/* A refusal for the page's script: {"result":"refused","error":...}. */
static enum MHD_Result refused(struct MHD_Connection *conn, unsigned status,
			       const char *why)
{
	return http_api_error(conn, status, why, NULL);
}

/* The person the kiosk's log-in proved, as the CA recorded the serial. */
static int person_of(struct jpki_resident *res, struct jpki_http *srv,
		     const char *serial)
{
	struct jpki_cert_info *info = NULL;
	int r = JPKI_ERR_INTERNAL;

	if ((r = jpki_ca_status(&info, srv->ca, serial)) != 0)
		return r;
	if (info->type != JPKI_CERT_AUTH) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the log-in did not use an authentication "
				 "certificate");
		goto out;
	}
	if ((r = jpki_registry_get(res, srv->st, info->person)) != 0)
		goto out;
	if (res->status != JPKI_RESIDENT_REGISTERED)
		r = jpki_err_set(JPKI_ERR_STATE,
				 "this person is no longer in the register: "
				 "ask the municipality's window");
out:
	jpki_cert_info_free(info);
	return r;
}

/* 429 with Retry-After: this terminal has used its log-ins for now. */
static enum MHD_Result too_many(struct MHD_Connection *conn, unsigned retry)
{
	static const char text[] =
	    "too many log-ins from this terminal: try again later\n";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
	char after[16];
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	snprintf(after, sizeof(after), "%u", retry);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
	ret = MHD_queue_response(conn, MHD_HTTP_TOO_MANY_REQUESTS, resp);
	MHD_destroy_response(resp);
	return ret;
}

int http_kiosk_limit_new(struct http_limit **out, const struct jpki_http *srv)
{
	return http_limit_new(out, 1.0 / srv->kiosk_every, srv->kiosk_burst);
}

/* 1 when the request says it carries JSON: a page of another origin
 * cannot send that without a CORS preflight, which this server never
 * grants, so a cross-site form cannot post here. */
static int is_json(struct MHD_Connection *conn)
{
	const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    "Content-Type");
	size_t n = strlen("application/json");

	return t != NULL && strncasecmp(t, "application/json", n) == 0 &&
	       (t[n] == '\0' || t[n] == ';');
}

/*
 * Which document the body asks for: "document" beside the log-in answer,
 * "residence-copy" (also when absent: what the kiosk always gave) or
 * "seal-certificate". 0, or -1 when it is present and something else (a
 * body that is no JSON object is left to the verifier, which refuses it).
 */
static int document_of(enum jpki_document_kind *kind, const struct upload *up)
{
	json_t *j = json_loadb(up->len ? (const char *)up->data : "", up->len,
			       0, NULL);
	json_t *v = json_object_get(j, "document");
	const char *doc = json_string_value(v);
	int r = 0;

	*kind = JPKI_DOC_RESIDENCE_COPY;
	if (v != NULL && doc == NULL)
		r = -1;
	else if (doc != NULL && strcmp(doc, "seal-certificate") == 0)
		*kind = JPKI_DOC_SEAL_CERTIFICATE;
	else if (doc != NULL && strcmp(doc, "residence-copy") != 0)
		r = -1;
	json_decref(j);
	return r;
}

/*
 * What the kiosk hands out once the bridge's log-in proved `res`: the
 * chosen document under a fresh serial, recorded (services module: the
 * serial's row and the audit entry in one transaction) before it is
 * printed. A seal certificate needs a seal in force: none, or one
 * cancelled, is refused with the reason and the refusal recorded.
 */
static enum MHD_Result hand_out(struct jpki_http *srv,
				struct MHD_Connection *conn,
				const struct jpki_resident *res,
				const char *login_serial,
				enum jpki_document_kind kind)
{
	struct jpki_seal seal;
	unsigned char *pdf = NULL, *png = NULL;
	char serial[JPKI_DOCUMENT_SERIAL_LEN + 1];
	size_t len = 0, png_len = 0;
	int r;

	if (kind == JPKI_DOC_SEAL_CERTIFICATE) {
		char why[512], day[32];

		r = jpki_services_seal_get(&seal, &png, &png_len, srv->st,
					   res->person);
		if (r == 0 && seal.state == JPKI_SEAL_ACTIVE)
			goto issue;
		if (r != 0 && r != JPKI_ERR_NOT_FOUND) {
			jpki_log(JPKI_LOG_ERROR, "kiosk: %s",
				 jpki_err_detail());
			return refused(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the certificate cannot be printed "
				       "now; ask the municipality's window");
		}
		if (r == 0) {
			struct jpki_date d = jpki_date_of(seal.cancelled_at);

			snprintf(day, sizeof(day), "%04d-%02d-%02d", d.year,
				 d.month, d.day);
			snprintf(why, sizeof(why),
				 "印鑑登録は廃止されています (the seal "
				 "registration %s was cancelled on %s): "
				 "印鑑登録証明書は交付できません。窓口で"
				 "新たに登録してください。",
				 seal.number, day);
		} else {
			snprintf(why, sizeof(why),
				 "印鑑登録がありません (no seal is "
				 "registered): register one at the "
				 "municipality's window first.");
		}
		free(png);
		{
			struct jpki_actor kiosk = {
			    .operator_id = "kiosk",
			    .role = JPKI_ROLE_REGISTRY_CLERK};

			snprintf(kiosk.municipality_code,
				 sizeof(kiosk.municipality_code), "%s",
				 res->municipality_code);
			if (jpki_audit_record(
				srv->st, &kiosk,
				"kiosk.seal_certificate.refused", res->person,
				r == 0 ? "{\"why\":\"cancelled\"}"
				       : "{\"why\":\"none\"}") != 0)
				jpki_log(JPKI_LOG_ERROR,
					 "kiosk: refusal not recorded: %s",
					 jpki_err_detail());
		}
		jpki_log(JPKI_LOG_INFO, "kiosk: seal certificate refused for %s",
			 res->person);
		return refused(conn, MHD_HTTP_FORBIDDEN, why);
	}
issue:
	if ((r = jpki_services_document_issue(
		 serial, srv->st, kind, res,
		 kind == JPKI_DOC_SEAL_CERTIFICATE ? seal.number : NULL,
		 login_serial)) != 0 ||
	    (r = kind == JPKI_DOC_SEAL_CERTIFICATE
		     ? jpki_services_seal_certificate_pdf(
			   &pdf, &len, res, &seal, png, png_len, serial,
			   jpki_clock_now())
		     : jpki_window_residence_pdf(&pdf, &len, res, serial,
						 jpki_clock_now())) != 0) {
		jpki_log(JPKI_LOG_ERROR, "kiosk: %s", jpki_err_detail());
		free(png);
		free(pdf);
		return refused(conn,
			       r == JPKI_ERR_STATE
				   ? MHD_HTTP_FORBIDDEN
				   : MHD_HTTP_INTERNAL_SERVER_ERROR,
			       r == JPKI_ERR_STATE
				   ? jpki_err_detail()
				   : "the document cannot be printed now; "
				     "ask the municipality's window");
	}
	free(png);
	jpki_log(JPKI_LOG_INFO, "kiosk: %s %s for %s",
		 jpki_services_document_kind_name(kind), serial, res->person);
	return http_send_csp(conn, MHD_HTTP_OK, "application/pdf", pdf, len,
			     MHD_RESPMEM_MUST_FREE, serial);
}

static enum MHD_Result issue(struct jpki_http *srv, struct MHD_Connection *conn,
			     const struct upload *up)
{
	struct jpki_verify_login_result login;
	struct jpki_resident res;
	enum jpki_document_kind kind;
	int r;

	if (!is_json(conn))
		return refused(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			       "the kiosk takes the bridge's log-in answer as "
			       "application/json");
	/* which document: before the budget and the verifier, so a wrong
	 * word spends neither a log-in nor the challenge */
	if (document_of(&kind, up) != 0)
		return refused(conn, MHD_HTTP_BAD_REQUEST,
			       "\"document\" is residence-copy or "
			       "seal-certificate");
	/* the budget before the verifier: an answer over it is not looked
	 * at (nor its challenge spent) */
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned retry = srv->kiosk_every;

		if (srv->kiosk_limit == NULL ||
		    !http_limit_take(srv->kiosk_limit,
				     ci != NULL ? ci->client_addr : NULL,
				     &retry)) {
			jpki_log(JPKI_LOG_WARN,
				 "kiosk: log-in refused, over the terminal's "
				 "budget");
			return too_many(conn, retry);
		}
	}
	/* this server's verifier: the challenge it gave, the origin it is
	 * bound to (an answer the bridge made for another origin's page is
	 * refused here), the chain and the CA's revocation status */
	if ((r = jpki_verify_login_check(&login, srv->login, up->data,
					 up->len)) != 0) {
		jpki_log(JPKI_LOG_ERROR, "kiosk: %s", jpki_err_detail());
		return refused(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			       "the log-in cannot be checked now");
	}
	if (!login.accepted) {
		char why[600];

		snprintf(why, sizeof(why),
			 "この電子証明書は使えません (the log-in was "
			 "refused): %s",
			 login.reason);
		jpki_log(JPKI_LOG_INFO, "kiosk: log-in refused: %s",
			 login.reason);
		return refused(conn, MHD_HTTP_FORBIDDEN, why);
	}
	if ((r = person_of(&res, srv, login.serial)) != 0)
		return refused(conn, MHD_HTTP_FORBIDDEN, jpki_err_detail());
	return hand_out(srv, conn, &res, login.serial, kind);
}

enum MHD_Result http_kiosk(struct jpki_http *srv, struct MHD_Connection *conn,
			   const char *url, const char *method,
			   const struct upload *up, int *handled)
{
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	*handled = 0;
	if (strcmp(url, "/kiosk/kiosk.js") == 0) {
		*handled = 1;
		return http_send_csp(conn, MHD_HTTP_OK,
				"text/javascript; charset=utf-8", kiosk_js,
				sizeof(kiosk_js) - 1, MHD_RESPMEM_PERSISTENT,
				NULL);
	}
	if (strcmp(url, "/kiosk") != 0 && strcmp(url, "/kiosk/") != 0)
		return MHD_NO;
	*handled = 1;
	if (srv->st == NULL || srv->login == NULL)
		return http_send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      "the kiosk needs the store and the "
				      "login role\n");
	if (!post)
		return kiosk_page(conn);
	if (up->too_large)
		return refused(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			       "the answer is too large");
	return issue(srv, conn, up);
}
