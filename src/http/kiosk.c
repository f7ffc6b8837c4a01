/*
 * The kiosk role of `jpki serve`: the multi-copy machine of a convenience
 * store (コンビニ交付). The resident puts the card in the kiosk's reader
 * and types the 4-digit PIN of the authentication certificate; the kiosk
 * logs in through the real exchange of docs/LOGIN.md with this server's
 * log-in verifier, called in-process (a fresh challenge, the origin
 * binding, the chain and the CA's revocation status are all checked there,
 * not here), maps the
 * accepted certificate to the person through the CA's records, reads the
 * register and prints a copy of the residence certificate (住民票の写し)
 * as a PDF. Every copy handed out lands in the audit chain.
 *
 * The page is public, and a PIN tried is a try spent on whatever card is
 * in the reader: the role runs only with a reader of its own (config
 * kiosk_reader, --kiosk-reader; never "the only card present"), and each
 * terminal (client address) has a small budget of log-ins (kiosk_burst at
 * once, default 2; one more every kiosk_every seconds, default 30: both
 * options of jpki_http_options); past it 429 with Retry-After
 * and the card is not touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "jpki/audit.h"
#include "jpki/client.h"
#include "jpki/registry.h"
#include "jpki/services.h"
#include "jpki/window.h"

#define FIELD 64
#define SITE "コンビニ交付 — 住民票の写し・印鑑登録証明書 (convenience-store kiosk)"
#define COLOUR "#8a3b12"

static enum MHD_Result kiosk_page(struct MHD_Connection *conn,
				  const char *error, unsigned status)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "住民票の写し", SITE, COLOUR);
	if (error != NULL)
		http_refusal(f, "交付できません (cannot issue)", error);
	fputs("<section><h2>証明書の交付 (certificates)</h2>"
	      "<form method=\"post\" action=\"/kiosk\">"
	      "<fieldset><legend>証明書の種類 (which document)</legend>"
	      "<label><input type=\"radio\" name=\"document\" "
	      "value=\"residence-copy\" checked> 住民票の写し (a copy of the "
	      "residence certificate)</label><br>"
	      "<label><input type=\"radio\" name=\"document\" "
	      "value=\"seal-certificate\"> 印鑑登録証明書 (the seal "
	      "registration certificate)</label></fieldset>"
	      "<ol class=\"steps\"><li>マイナンバーカードを"
	      "読み取り機に置いてください。 (Put your card on the reader.)</li>"
	      "<li>利用者証明用電子証明書の暗証番号（数字4桁）を入力してくだ"
	      "さい。 (Type the 4-digit PIN of the authentication "
	      "certificate.)</li></ol>"
	      "<label for=\"pin\">暗証番号 (PIN)</label><input id=\"pin\" "
	      "name=\"pin\" type=\"password\" inputmode=\"numeric\" "
	      "maxlength=\"4\" autocomplete=\"off\" required><br>"
	      "<button id=\"issue\">交付 (print)</button></form>"
	      "<p>暗証番号を3回続けて間違えるとロックされます。ロックの解除は"
	      "お住まいの市区町村の窓口で行ってください。 (Three wrong PINs "
	      "lock the certificate; only your municipality's window can "
	      "unlock it.)</p></section>",
	      f);
	return http_page_end(f, &buf, &len, conn, status);
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

/* Logs in with the card in the kiosk's reader, with this server's own
 * log-in verifier in-process: the same challenge, origin binding, chain
 * and revocation checks as an answer sent to /login/response. */
static int kiosk_login(struct jpki_client_login_result *out,
		       struct jpki_http *srv, const char *pin)
{
	struct jpki_verify_challenge ch;
	struct jpki_verify_login_result res;
	struct jpki_reader *rd = NULL;
	enum jpki_card_kind kind;
	char *answer = NULL;
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (srv->kiosk_reader == NULL)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "the kiosk has no reader of its own");
	if ((r = jpki_verify_login_challenge(&ch, srv->login)) != 0)
		return r;
	if ((r = jpki_reader_pcsc(&rd, srv->kiosk_reader)) != 0)
		return r;
	/* select the JPKI AP first, as any client does; the card signs
	 * for exactly the origin the verifier binds answers to */
	if ((r = jpki_client_open_card(&kind, rd)) != 0 ||
	    (r = jpki_client_login_answer(&answer, rd,
					  jpki_verify_login_origin(srv->login),
					  ch.challenge, pin)) != 0)
		goto out;
	if ((r = jpki_verify_login_check(&res, srv->login,
					 (const unsigned char *)answer,
					 strlen(answer))) != 0)
		goto out;
	out->accepted = res.accepted;
	out->http_status = (int)res.http_status;
	snprintf(out->serial, sizeof(out->serial), "%s", res.serial);
	snprintf(out->account, sizeof(out->account), "%.*s",
		 (int)sizeof(out->account) - 1, res.account);
	snprintf(out->message, sizeof(out->message), "%.*s",
		 (int)sizeof(out->message) - 1,
		 res.accepted ? "accepted" : res.reason);
	r = 0;
out:
	free(answer);
	jpki_reader_free(rd);
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

/* A PDF handed out, not cached anywhere on the way. */
static enum MHD_Result send_pdf(struct MHD_Connection *conn, unsigned char *pdf,
				size_t len, const char *filename)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, pdf, MHD_RESPMEM_MUST_FREE);
	char disposition[96];
	enum MHD_Result ret;

	if (resp == NULL) {
		free(pdf);
		return MHD_NO;
	}
	snprintf(disposition, sizeof(disposition), "inline; filename=\"%s\"",
		 filename);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/pdf");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "Content-Disposition", disposition);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * What the kiosk hands out once the card's log-in proved `res`: the chosen
 * document under a fresh serial, recorded (services module: the serial's
 * row and the audit entry in one transaction) before it is printed. A seal
 * certificate needs a seal in force: none, or one cancelled, is refused
 * with the reason and the refusal recorded.
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
			return kiosk_page(conn,
					  "the certificate cannot be printed "
					  "now; ask the municipality's window",
					  MHD_HTTP_INTERNAL_SERVER_ERROR);
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
		return kiosk_page(conn, why, MHD_HTTP_FORBIDDEN);
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
		return kiosk_page(conn,
				  r == JPKI_ERR_STATE
				      ? jpki_err_detail()
				      : "the document cannot be printed now; "
					"ask the municipality's window",
				  r == JPKI_ERR_STATE
				      ? MHD_HTTP_FORBIDDEN
				      : MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
	free(png);
	jpki_log(JPKI_LOG_INFO, "kiosk: %s %s for %s",
		 jpki_services_document_kind_name(kind), serial, res->person);
	return send_pdf(conn, pdf, len,
			kind == JPKI_DOC_SEAL_CERTIFICATE ? "inkan.pdf"
							  : "juminhyo.pdf");
}

static enum MHD_Result issue(struct jpki_http *srv, struct MHD_Connection *conn,
			     const struct upload *up)
{
	struct jpki_client_login_result login;
	struct jpki_resident res;
	enum jpki_document_kind kind = JPKI_DOC_RESIDENCE_COPY;
	char pin[FIELD];
	int r;

	/* the budget before the card: a log-in refused here spends no try */
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
	/* which document: before the card, so a wrong word spends no try
	 * (absent: the residence copy, as the kiosk always gave) */
	{
		char doc[FIELD];
		int n = http_form_value(doc, sizeof(doc), up->data, up->len,
					"document");

		if (n < 0 || (n > 0 && strcmp(doc, "residence-copy") != 0 &&
			      strcmp(doc, "seal-certificate") != 0))
			return http_form_refused(
			    conn, "the form field \"document\" is "
				  "residence-copy or seal-certificate");
		kind = n > 0 && strcmp(doc, "seal-certificate") == 0
			   ? JPKI_DOC_SEAL_CERTIFICATE
			   : JPKI_DOC_RESIDENCE_COPY;
	}
	/* a PIN that does not fit is refused, never tried as "" */
	if ((r = http_form_value(pin, sizeof(pin), up->data, up->len, "pin")) <
	    0)
		return http_form_refused(conn, "the form field \"pin\" is "
					       "too long or malformed");
	if (r == 0)
		pin[0] = '\0';
	r = kiosk_login(&login, srv, pin);
	jpki_wipe(pin, sizeof(pin));
	if (r != 0) {
		/* wrong PIN (with the tries left), locked, no card, ... */
		jpki_log(JPKI_LOG_INFO, "kiosk: %s", jpki_err_detail());
		return kiosk_page(conn, jpki_err_detail(),
				  r == JPKI_ERR_POLICY || r == JPKI_ERR_STATE
				      ? MHD_HTTP_FORBIDDEN
				      : MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	if (!login.accepted) {
		char why[600];

		snprintf(why, sizeof(why),
			 "この電子証明書は使えません (the certificate was "
			 "refused): %s",
			 login.message);
		jpki_log(JPKI_LOG_INFO, "kiosk: log-in refused: %s",
			 login.message);
		return kiosk_page(conn, why, MHD_HTTP_FORBIDDEN);
	}
	if ((r = person_of(&res, srv, login.serial)) != 0)
		return kiosk_page(conn, jpki_err_detail(), MHD_HTTP_FORBIDDEN);
	return hand_out(srv, conn, &res, login.serial, kind);
}

enum MHD_Result http_kiosk(struct jpki_http *srv, struct MHD_Connection *conn,
			   const char *url, const char *method,
			   const struct upload *up, int *handled)
{
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	*handled = 0;
	if (strcmp(url, "/kiosk") != 0 && strcmp(url, "/kiosk/") != 0)
		return MHD_NO;
	*handled = 1;
	if (srv->st == NULL || srv->login == NULL)
		return http_send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      "the kiosk needs the store and the "
				      "login role\n");
	if (!post)
		return kiosk_page(conn, NULL, MHD_HTTP_OK);
	if (up->too_large)
		return http_send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				      "the form is too large\n");
	return issue(srv, conn, up);
}
