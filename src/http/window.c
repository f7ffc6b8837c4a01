/*
 * The window role of `jpki serve`: the clerk's pages (server-rendered HTML,
 * forms only, no JavaScript) under /window, and the same procedures as a
 * JSON API under /api. A clerk logs in with the operator's password; the
 * session token travels in an HttpOnly, SameSite=Strict cookie (pages) or
 * an Authorization: Bearer header (API). Every procedure is the window or
 * registry module's own, so its rules, refusals and audit entries are the
 * same whichever way it is reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/http_internal.h"
#include "jpki/audit.h"
#include "jpki/card.h"
#include "jpki/registry.h"
#include "jpki/window.h"

#define FIELD 512 /* the longest form field kept */

/* ---- pieces -----------------------------------------------------------------
 */

static void page_start(FILE *f, const char *title, const struct jpki_actor *who)
{
	fputs("<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\">"
	      "<title>",
	      f);
	http_html_escape(f, title);
	fputs(" — 市区町村窓口</title><style>"
	      "body{font-family:sans-serif;margin:0;background:#f4f6f8;"
	      "color:#1b2733}"
	      "header{background:#0b3d6b;color:#fff;padding:.8em 1.5em;"
	      "display:flex;justify-content:space-between;align-items:center}"
	      "header h1{font-size:1.2em;margin:0}"
	      "main{max-width:60em;margin:1.5em auto;padding:0 1.5em}"
	      "section{background:#fff;border:1px solid #cfd8e0;"
	      "border-radius:6px;padding:1em 1.5em;margin-bottom:1.2em}"
	      "h2{font-size:1.05em;border-bottom:2px solid #0b3d6b;"
	      "padding-bottom:.3em}"
	      "label{display:block;margin:.5em 0 .2em;font-weight:bold}"
	      "input,select{font-size:1em;padding:.3em;min-width:18em}"
	      "button{font-size:1em;padding:.4em 1.2em;background:#0b3d6b;"
	      "color:#fff;border:0;border-radius:4px;margin-top:.8em}"
	      "table{border-collapse:collapse;width:100%}"
	      "td,th{border-bottom:1px solid #e0e6eb;padding:.35em;"
	      "text-align:left}"
	      ".refused{background:#fdecea;border-color:#e0867c}"
	      ".done{background:#e8f5e9;border-color:#81c784}"
	      ".inline{display:inline}"
	      "</style></head><body><header><h1>公的個人認証サービス "
	      "市区町村窓口</h1><div>",
	      f);
	if (who != NULL) {
		http_html_escape(f, who->operator_id);
		fprintf(f, " (%s %s) ", jpki_audit_role_name(who->role),
			who->municipality_code);
		fputs("<form class=\"inline\" method=\"post\" "
		      "action=\"/window/logout\"><button>ログアウト (log "
		      "out)</button></form>",
		      f);
	}
	fputs("</div></header><main>", f);
}

static const char *state_name(enum jpki_application_state s)
{
	switch (s) {
	case JPKI_APP_WAITING_LETTER:
		return "照会書の返送待ち (waiting for the inquiry letter)";
	case JPKI_APP_READY:
		return "交付可能 (ready to issue)";
	case JPKI_APP_ISSUED:
		return "交付済み (issued)";
	default:
		return "取消 (cancelled)";
	}
}

/* ---- the clerk's pages
 * -------------------------------------------------------- */

/* The log-in form, with the refusal of the last attempt when error is not
 * NULL, answered with `status` (and Retry-After when retry_after > 0). */
static enum MHD_Result login_form(struct MHD_Connection *conn,
				  const char *error, unsigned status,
				  unsigned retry_after)
{
	char *buf = NULL;
	size_t len = 0;
	enum MHD_Result ret;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return MHD_NO;
	page_start(f, "ログイン", NULL);
	if (error != NULL)
		http_refusal(f, "ログインできません (cannot log in)", error);
	fputs("<section><h2>職員ログイン (operator log-in)</h2>"
	      "<form method=\"post\" action=\"/window/login\">"
	      "<label for=\"operator\">職員ID (operator)</label>"
	      "<input id=\"operator\" name=\"operator\" autocomplete=\"off\" "
	      "required>"
	      "<label for=\"password\">パスワード (password)</label>"
	      "<input id=\"password\" name=\"password\" type=\"password\" "
	      "required><br><button id=\"login\">ログイン</button></form>"
	      "</section>",
	      f);
	fputs("</main></body></html>\n", f);
	fclose(f);
	ret = http_send_retry(conn, status, "text/html; charset=utf-8", buf,
			      len, retry_after);
	free(buf);
	return ret;
}

static enum MHD_Result login_page(struct MHD_Connection *conn,
				  const char *error)
{
	return login_form(conn, error,
			  error ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_OK, 0);
}

static void resident_row(FILE *f, const struct jpki_resident *r)
{
	char birth[11];

	jpki_date_format(&r->facts.birth, birth);
	fputs("<tr><td><a href=\"/window/resident?person=", f);
	http_html_escape(f, r->person);
	fputs("\">", f);
	http_html_escape(f, r->person);
	fputs("</a></td><td>", f);
	http_html_escape(f, r->facts.name);
	fprintf(f, "</td><td>%s</td><td>", birth);
	http_html_escape(f, r->prefecture);
	http_html_escape(f, r->municipality);
	http_html_escape(f, r->facts.address);
	fputs("</td></tr>", f);
}

static enum MHD_Result dashboard(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 const struct jpki_actor *who)
{
	const char *name = http_query(conn, "name");
	struct jpki_resident *list = NULL;
	struct jpki_application *apps = NULL;
	size_t n = 0, napps = 0, len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	const char *code =
	    who->municipality_code[0] ? who->municipality_code : NULL;

	if (f == NULL)
		return MHD_NO;
	page_start(f, "窓口", who);
	fputs("<section><h2>住民の検索 (find a resident)</h2>"
	      "<form method=\"get\" action=\"/window\">"
	      "<label for=\"name\">氏名 (name)</label>"
	      "<input id=\"name\" name=\"name\" value=\"",
	      f);
	http_html_escape(f, name);
	fputs("\"> <button id=\"find\">検索</button></form>", f);
	if (jpki_registry_find(&list, &n, srv->st, code, name[0] ? name : NULL,
			       50) == 0 &&
	    n > 0) {
		fputs("<table id=\"residents\"><tr><th>ID</th><th>氏名</th>"
		      "<th>生年月日</th><th>住所</th></tr>",
		      f);
		for (size_t i = 0; i < n; i++)
			resident_row(f, &list[i]);
		fputs("</table>", f);
	} else {
		fputs("<p>該当なし (nobody found)</p>", f);
	}
	free(list);
	fputs("</section><section><h2>申請 (applications)</h2>", f);
	if (jpki_window_applications(&apps, &napps, srv->st, code, 20) == 0 &&
	    napps > 0) {
		fputs("<table><tr><th>番号</th><th>住民</th><th>状態</th>"
		      "</tr>",
		      f);
		for (size_t i = 0; i < napps; i++) {
			fprintf(f,
				"<tr><td><a href=\"/window/application?id="
				"%lld\">%lld</a></td><td>",
				(long long)apps[i].id, (long long)apps[i].id);
			http_html_escape(f, apps[i].person);
			fprintf(f, "</td><td>%s</td></tr>",
				state_name(apps[i].state));
		}
		fputs("</table>", f);
	} else {
		fputs("<p>申請なし (none)</p>", f);
	}
	free(apps);
	fputs("</section>", f);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}

static enum MHD_Result resident_page(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     const struct jpki_actor *who,
				     const char *person, const char *error)
{
	struct jpki_resident r;
	char *buf = NULL, born[64];
	size_t len = 0;
	FILE *f;

	if (jpki_registry_get(&r, srv->st, person) != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND,
				      "no such resident\n");
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	page_start(f, r.facts.name, who);
	if (error != NULL)
		http_refusal(f, "受付できません (the application is refused)",
			     error);
	jpki_profile_birth_format(&r.facts.birth, born);
	fputs("<section><h2>住民 (resident)</h2><table id=\"resident\">"
	      "<tr><th>ID</th><td>",
	      f);
	http_html_escape(f, r.person);
	fputs("</td></tr><tr><th>氏名</th><td>", f);
	http_html_escape(f, r.facts.name);
	fprintf(f,
		"</td></tr><tr><th>生年月日</th><td>%s</td></tr>"
		"<tr><th>性別</th><td>%s</td></tr><tr><th>住所</th><td>",
		born,
		r.facts.sex == JPKI_SEX_MALE     ? "男 (male)"
		: r.facts.sex == JPKI_SEX_FEMALE ? "女 (female)"
						 : "不明");
	http_html_escape(f, r.prefecture);
	http_html_escape(f, r.municipality);
	http_html_escape(f, r.facts.address);
	fputs("</td></tr></table></section>", f);
	fputs("<section><h2>電子証明書の発行申請 (apply for certificates)"
	      "</h2><form method=\"post\" action=\"/window/apply\">"
	      "<input type=\"hidden\" name=\"person\" value=\"",
	      f);
	http_html_escape(f, r.person);
	fputs("\"><label for=\"card\">カード (card)</label>"
	      "<select id=\"card\" name=\"card\"><option value=\"mynumber\">"
	      "個人番号カード (My Number card)</option><option value=\"juki\">"
	      "住民基本台帳カード (Juki card)</option></select>"
	      "<label><input type=\"checkbox\" id=\"sign\" name=\"sign\" "
	      "checked> 署名用電子証明書 (signing)</label>"
	      "<label><input type=\"checkbox\" id=\"auth\" name=\"auth\" "
	      "checked> 利用者証明用電子証明書 (authentication)</label>"
	      "<label for=\"path\">本人確認 (identity check)</label>"
	      "<select id=\"path\" name=\"path\">"
	      "<option value=\"photo\">顔写真付き本人確認書類 (photo ID)"
	      "</option><option value=\"none\">顔写真なし: 照会書を郵送 (no "
	      "photo ID: inquiry letter)</option><option value=\"proxy\">"
	      "代理人 (proxy)</option></select>"
	      "<label for=\"photo_id\">書類 (document)</label>"
	      "<select id=\"photo_id\" name=\"photo_id\"><option "
	      "value=\"driving-licence\">運転免許証</option><option "
	      "value=\"passport\">旅券</option><option "
	      "value=\"mynumber-card\">個人番号カード</option></select>"
	      "<label for=\"photo_id_address\">書類の住所 (address on the "
	      "document)</label><input id=\"photo_id_address\" "
	      "name=\"photo_id_address\" size=\"50\">"
	      "<br><button id=\"apply\">受付 (take the application)</button>"
	      "</form></section>",
	      f);
	return http_page_end(f, &buf, &len, conn,
			     error ? MHD_HTTP_FORBIDDEN : MHD_HTTP_OK);
}

static enum MHD_Result
application_page(struct jpki_http *srv, struct MHD_Connection *conn,
		 const struct jpki_actor *who, int64_t id, const char *error,
		 const struct jpki_window_issue_result *issued)
{
	struct jpki_application a;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (jpki_window_application(&a, srv->st, id) != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND,
				      "no such application\n");
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	page_start(f, "申請", who);
	if (error != NULL)
		http_refusal(f, "交付できません (cannot issue)", error);
	if (issued != NULL) {
		fputs("<section class=\"done\" id=\"issued\"><h2>交付しました "
		      "(issued)</h2><ul>",
		      f);
		for (int i = 0; i < 2; i++) {
			const char *s =
			    i ? issued->sign_serial : issued->auth_serial;

			if (s[0] == '\0')
				continue;
			fprintf(f,
				"<li>%s <code>%s</code> — <a "
				"href=\"/window/copy?serial=%s\">電子証明書の"
				"写し (PDF)</a></li>",
				i ? "署名用" : "利用者証明用", s, s);
		}
		if (issued->fee_yen > 0)
			fprintf(f, "<li>手数料 (fee): %d 円</li>",
				issued->fee_yen);
		fputs("</ul></section>", f);
	}
	fprintf(f,
		"<section><h2>申請 %lld</h2><table id=\"application\">"
		"<tr><th>住民</th><td><a href=\"/window/resident?person=%s\">"
		"%s</a></td></tr><tr><th>カード</th><td>%s</td></tr>"
		"<tr><th>証明書</th><td>%s%s</td></tr>"
		"<tr><th>状態</th><td id=\"state\">%s</td></tr></table>",
		(long long)a.id, a.person, a.person,
		a.card == JPKI_CARD_JUKI ? "住民基本台帳カード"
					 : "個人番号カード",
		a.want_sign ? "署名用 " : "", a.want_auth ? "利用者証明用" : "",
		state_name(a.state));
	if (a.state == JPKI_APP_WAITING_LETTER)
		fprintf(f,
			"<p><a href=\"/window/letter?id=%lld\">照会書兼回答書 "
			"(inquiry letter, PDF)</a></p>",
			(long long)a.id);
	fputs("</section>", f);
	if (a.state == JPKI_APP_READY) {
		fprintf(f,
			"<section><h2>窓口での交付 (issue at the counter)"
			"</h2><p>カードをリーダに置き、暗証番号を住民に入力"
			"してもらってください。 (Put the card in the reader; "
			"the resident types the PINs.)</p>"
			"<form method=\"post\" action=\"/window/issue\">"
			"<input type=\"hidden\" name=\"id\" value=\"%lld\">"
			"<label for=\"reader\">カードリーダ (reader)</label>"
			"<input id=\"reader\" name=\"reader\" value=\"",
			(long long)a.id);
		http_html_escape(f, srv->counter_reader ? srv->counter_reader
							: "");
		fputs("\">", f);
		if (a.want_auth)
			fputs("<label for=\"auth_pin\">利用者証明用暗証番号 "
			      "(4 digits)</label><input id=\"auth_pin\" "
			      "name=\"auth_pin\" type=\"password\" "
			      "inputmode=\"numeric\">",
			      f);
		if (a.want_sign)
			fputs("<label for=\"sign_pin\">署名用パスワード (6-16 "
			      "letters and digits)</label><input "
			      "id=\"sign_pin\" name=\"sign_pin\" "
			      "type=\"password\">",
			      f);
		fputs("<br><button id=\"issue\">交付 (issue)</button></form>"
		      "</section>",
		      f);
	}
	return http_page_end(f, &buf, &len, conn,
			     error ? MHD_HTTP_FORBIDDEN : MHD_HTTP_OK);
}

static int apply_from_form(struct jpki_application *out, struct jpki_http *srv,
			   const struct jpki_actor *who,
			   const struct upload *up, char person[FIELD])
{
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	char card[FIELD], path[FIELD], kind[FIELD], addr[FIELD], v[FIELD];

	http_field(person, FIELD, up, "person");
	http_field(card, FIELD, up, "card");
	http_field(path, FIELD, up, "path");
	http_field(kind, FIELD, up, "photo_id");
	http_field(addr, FIELD, up, "photo_id_address");
	req.person = person;
	req.card =
	    strcmp(card, "juki") == 0 ? JPKI_CARD_JUKI : JPKI_CARD_MYNUMBER;
	http_field(v, FIELD, up, "sign");
	req.want_sign = v[0] != '\0';
	http_field(v, FIELD, up, "auth");
	req.want_auth = v[0] != '\0';
	req.path = strcmp(path, "none") == 0    ? JPKI_ID_NO_PHOTO
		   : strcmp(path, "proxy") == 0 ? JPKI_ID_PROXY
						: JPKI_ID_PHOTO;
	req.photo_id_kind = kind[0] ? kind : NULL;
	req.photo_id_address = addr[0] ? addr : NULL;
	return jpki_window_apply(out, srv->st, who, &req);
}

/* Issues onto the card in the counter's reader. */
static int issue_at_counter(struct jpki_window_issue_result *res,
			    struct jpki_http *srv, const struct jpki_actor *who,
			    int64_t id, const char *reader,
			    const char *auth_pin, const char *sign_pin)
{
	struct jpki_reader *rd = NULL;
	int r;

	if (srv->issuer == NULL)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "this server has no card-issuer key "
				    "(DATA/keys/card-issuer.key)");
	if ((r = jpki_reader_pcsc(&rd, reader[0] ? reader : NULL)) != 0)
		return r;
	r = jpki_window_issue(res, srv->st, srv->ca, rd, srv->issuer, who, id,
			      auth_pin[0] ? auth_pin : NULL,
			      sign_pin[0] ? sign_pin : NULL);
	jpki_reader_free(rd);
	return r;
}

static enum MHD_Result send_pdf(struct MHD_Connection *conn, int r,
				unsigned char *pdf, size_t len,
				const char *what)
{
	enum MHD_Result ret;

	if (r != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND,
				      jpki_err_detail());
	ret = http_send(conn, MHD_HTTP_OK, "application/pdf", pdf, len,
			"no-store");
	free(pdf);
	(void)what;
	return ret;
}

/* A clerk who logs in through a verified client certificate
 * (--tls-client-ca): the terminal's certificate goes into the log and onto
 * the audit chain beside the log-in, so the record says which terminal. */
static void note_client(struct jpki_http *srv, const char *token,
			const struct upload *up)
{
	struct jpki_actor who;
	json_t *o;
	char *detail = NULL;

	if (up->client[0] == '\0')
		return;
	if (jpki_audit_session(&who, srv->st, token) != 0) {
		jpki_log(JPKI_LOG_WARN, "window: log-in through %s: %s",
			 up->client, jpki_err_detail());
		return;
	}
	jpki_log(JPKI_LOG_INFO,
		 "window: %s logged in through client certificate %s",
		 who.operator_id, up->client);
	if ((o = json_pack("{s:s}", "client_certificate", up->client)) != NULL)
		detail = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (detail == NULL || jpki_store_begin(srv->st) != 0) {
		jpki_log(JPKI_LOG_ERROR, "window: audit of the client: %s",
			 jpki_err_detail());
	} else if (jpki_audit_append(srv->st, &who, "window.client",
				     who.operator_id, detail) != 0) {
		jpki_log(JPKI_LOG_ERROR, "window: audit of the client: %s",
			 jpki_err_detail());
		jpki_store_rollback(srv->st);
	} else if (jpki_store_commit(srv->st) != 0) {
		jpki_log(JPKI_LOG_ERROR, "window: audit of the client: %s",
			 jpki_err_detail());
	}
	free(detail);
}

static enum MHD_Result pages(struct jpki_http *srv, struct MHD_Connection *conn,
			     const char *url, int post, const struct upload *up)
{
	struct jpki_actor who;
	const char *token = http_session_token(conn);
	char a[FIELD], b[FIELD];

	if (strcmp(url, "/window/login") == 0 && post) {
		const struct http_login_result *res;
		char cookie[192];
		int r;

		/* The password is checked on the hashing pool while this
		 * connection waits suspended (login_pool.c). */
		http_field(a, FIELD, up, "operator");
		http_field(b, FIELD, up, "password");
		r = http_login_step(&res, srv, conn, up, a, b);
		jpki_wipe(b, sizeof(b));
		if (r == 1)
			return MHD_YES;
		if (r < 0)
			return MHD_NO;
		if (res->r != 0)
			return login_form(conn, res->why, res->status,
					  res->retry_after);
		note_client(srv, res->token, up);
		snprintf(cookie, sizeof(cookie), "jpki_session=%s%s",
			 res->token, http_cookie_attributes(srv));
		return http_redirect(conn, "/window", cookie);
	}
	if (token == NULL || jpki_audit_session(&who, srv->st, token) != 0)
		return login_page(conn, NULL);
	if (strcmp(url, "/window/logout") == 0 && post) {
		if (jpki_audit_logout(srv->st, token) != 0)
			jpki_log(JPKI_LOG_WARN, "logout: %s",
				 jpki_err_detail());
		return http_redirect(conn, "/window",
				     "jpki_session=; Path=/; Max-Age=0");
	}
	if (strcmp(url, "/window") == 0 || strcmp(url, "/window/") == 0)
		return dashboard(srv, conn, &who);
	if (strcmp(url, "/window/resident") == 0)
		return resident_page(srv, conn, &who,
				     http_query(conn, "person"), NULL);
	if (strcmp(url, "/window/application") == 0)
		return application_page(
		    srv, conn, &who, atoll(http_query(conn, "id")), NULL, NULL);
	if (strcmp(url, "/window/apply") == 0 && post) {
		struct jpki_application app;
		char to[64];

		if (apply_from_form(&app, srv, &who, up, a) != 0)
			return resident_page(srv, conn, &who, a,
					     jpki_err_detail());
		snprintf(to, sizeof(to), "/window/application?id=%lld",
			 (long long)app.id);
		return http_redirect(conn, to, NULL);
	}
	if (strcmp(url, "/window/issue") == 0 && post) {
		struct jpki_window_issue_result res;
		char reader[FIELD], ap[FIELD], sp[FIELD];
		int64_t id;
		int r;

		http_field(a, FIELD, up, "id");
		http_field(reader, FIELD, up, "reader");
		http_field(ap, FIELD, up, "auth_pin");
		http_field(sp, FIELD, up, "sign_pin");
		id = atoll(a);
		r = issue_at_counter(&res, srv, &who, id, reader, ap, sp);
		jpki_wipe(ap, sizeof(ap));
		jpki_wipe(sp, sizeof(sp));
		return application_page(srv, conn, &who, id,
					r ? jpki_err_detail() : NULL,
					r ? NULL : &res);
	}
	if (strcmp(url, "/window/copy") == 0) {
		unsigned char *pdf = NULL;
		size_t len = 0;
		int r = jpki_window_cert_copy_pdf(&pdf, &len, srv->st, srv->ca,
						  http_query(conn, "serial"));

		return send_pdf(conn, r, pdf, len, "copy");
	}
	if (strcmp(url, "/window/letter") == 0) {
		unsigned char *pdf = NULL;
		size_t len = 0;
		int r = jpki_window_letter_pdf(&pdf, &len, srv->st,
					       atoll(http_query(conn, "id")));

		return send_pdf(conn, r, pdf, len, "letter");
	}
	return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- the JSON API
 * ---------------------------------------------------------------- */

/* Sends `o` as the answer and drops the reference to it. */
static enum MHD_Result send_object(struct MHD_Connection *conn, unsigned status,
				   json_t *o)
{
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return http_send_json(conn, status, text);
}

static enum MHD_Result api_error(struct MHD_Connection *conn, unsigned status,
				 const char *why)
{
	return send_object(
	    conn, status,
	    json_pack("{s:s, s:s}", "result", "refused", "error", why));
}

/* A refused log-in: its status, and Retry-After when it must wait. */
static enum MHD_Result api_refusal(struct MHD_Connection *conn,
				   const struct http_login_result *res)
{
	json_t *o =
	    json_pack("{s:s, s:s}", "result", "refused", "error", res->why);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	enum MHD_Result ret;

	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	ret = http_send_retry(conn, res->status, "application/json", text,
			      strlen(text), res->retry_after);
	free(text);
	return ret;
}

/* The status for a refusal of a procedure. */
static unsigned status_of(int r)
{
	switch (r) {
	case JPKI_ERR_POLICY:
		return MHD_HTTP_FORBIDDEN;
	case JPKI_ERR_NOT_FOUND:
		return MHD_HTTP_NOT_FOUND;
	case JPKI_ERR_STATE:
	case JPKI_ERR_EXISTS:
		return MHD_HTTP_CONFLICT;
	case JPKI_ERR_INVALID:
	case JPKI_ERR_PARSE:
	case JPKI_ERR_TOO_LARGE:
		return MHD_HTTP_BAD_REQUEST;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static const char *jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static json_t *resident_json(const struct jpki_resident *r)
{
	char birth[11];

	jpki_date_format(&r->facts.birth, birth);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:b, s:i}",
			 "person", r->person, "municipality_code",
			 r->municipality_code, "prefecture", r->prefecture,
			 "municipality", r->municipality, "name", r->facts.name,
			 "sex", (int)r->facts.sex, "birth", birth, "address",
			 r->facts.address, "guardianship", r->guardianship,
			 "status", (int)r->status);
}

static json_t *application_json(const struct jpki_application *a)
{
	return json_pack(
	    "{s:I, s:s, s:i, s:s, s:s, s:s}", "id", (json_int_t)a->id, "person",
	    a->person, "state", (int)a->state, "letter_code", a->letter_code,
	    "sign_serial", a->sign_serial, "auth_serial", a->auth_serial);
}

/* A registry change named by the URL, with the body's fields. */
static int api_registry_change(struct jpki_http *srv,
			       const struct jpki_actor *who, const char *verb,
			       json_t *in)
{
	const char *person = jstr(in, "person");
	struct jpki_resident cur;
	int r;

	if (strcmp(verb, "move") == 0) {
		if ((r = jpki_registry_get(&cur, srv->st, person)) != 0)
			return r;
		return jpki_registry_move(
		    srv->st, who, person,
		    json_object_get(in, "municipality_code")
			? jstr(in, "municipality_code")
			: cur.municipality_code,
		    json_object_get(in, "prefecture") ? jstr(in, "prefecture")
						      : cur.prefecture,
		    json_object_get(in, "municipality")
			? jstr(in, "municipality")
			: cur.municipality,
		    jstr(in, "address"));
	}
	if (strcmp(verb, "name") == 0) {
		char name[JPKI_FACT_NAME_MAX];

		if ((r = jpki_profile_name_normalize(name, sizeof(name),
						     jstr(in, "name"))) != 0)
			return r;
		return jpki_registry_change_name(srv->st, who, person, name);
	}
	if (strcmp(verb, "birth") == 0) {
		struct jpki_date d;

		if ((r = jpki_date_parse(&d, jstr(in, "birth"))) != 0)
			return r;
		return jpki_registry_correct_birth(srv->st, who, person, &d);
	}
	if (strcmp(verb, "sex") == 0)
		return jpki_registry_correct_sex(
		    srv->st, who, person,
		    (enum jpki_sex)json_integer_value(
			json_object_get(in, "sex")));
	if (strcmp(verb, "guardianship") == 0)
		return jpki_registry_set_guardianship(
		    srv->st, who, person,
		    json_is_true(json_object_get(in, "on")));
	if (strcmp(verb, "death") == 0)
		return jpki_registry_death(srv->st, who, person);
	if (strcmp(verb, "remove") == 0)
		return jpki_registry_remove(srv->st, who, person);
	return jpki_err_set(JPKI_ERR_NOT_FOUND, "no registry procedure '%s'",
			    verb);
}

static int api_register(char person[64], struct jpki_http *srv,
			const struct jpki_actor *who, json_t *in)
{
	struct jpki_resident r;
	int err;

	memset(&r, 0, sizeof(r));
	snprintf(r.municipality_code, sizeof(r.municipality_code), "%s",
		 jstr(in, "municipality_code"));
	snprintf(r.prefecture, sizeof(r.prefecture), "%s",
		 jstr(in, "prefecture"));
	snprintf(r.municipality, sizeof(r.municipality), "%s",
		 jstr(in, "municipality"));
	snprintf(r.facts.address, sizeof(r.facts.address), "%s",
		 jstr(in, "address"));
	r.facts.sex =
	    (enum jpki_sex)json_integer_value(json_object_get(in, "sex"));
	r.guardianship = json_is_true(json_object_get(in, "guardianship"));
	if ((err = jpki_profile_name_normalize(
		 r.facts.name, sizeof(r.facts.name), jstr(in, "name"))) != 0 ||
	    (err = jpki_date_parse(&r.facts.birth, jstr(in, "birth"))) != 0)
		return err;
	return jpki_registry_register(person, srv->st, who, &r);
}

#define AUDIT_PAGE 1000      /* entries of GET /api/audit by default */
#define AUDIT_PAGE_MAX 10000 /* and at most */

static int audit_entry_json(void *ctx, const struct jpki_audit_entry *e)
{
	json_t *list = ctx, *o, *detail = NULL;

	if (e->detail != NULL)
		detail = json_loads(e->detail, 0, NULL);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o?, s:s}", "seq",
		      (json_int_t)e->seq, "at", (json_int_t)e->at, "operator",
		      e->operator_id, "role", jpki_audit_role_name(e->role),
		      "municipality", e->municipality, "action", e->action,
		      "subject", e->subject, "detail", detail, "hash", e->hash);
	if (o == NULL || json_array_append_new(list, o) != 0)
		return JPKI_ERR_NOMEM;
	return 0;
}

/* GET /api/audit?operator=&municipality=&action=&since=&until=&limit=:
 * the chain's entries, to an auditor only (the audit module decides). */
static int api_audit(json_t **out, struct jpki_http *srv,
		     struct MHD_Connection *conn, const struct jpki_actor *who)
{
	struct jpki_audit_filter f = {0};
	const char *since = http_query(conn, "since"),
		   *until = http_query(conn, "until"),
		   *limit = http_query(conn, "limit");
	json_t *list = json_array();
	char *end = NULL;
	int r;

	*out = NULL;
	if (list == NULL)
		return JPKI_ERR_NOMEM;
	f.operator_id = http_query(conn, "operator");
	f.municipality = http_query(conn, "municipality");
	f.action =
	    http_query(conn, "action")[0] ? http_query(conn, "action") : NULL;
	f.limit = AUDIT_PAGE;
	if (limit[0] != '\0') {
		unsigned long n = strtoul(limit, &end, 10);

		if (*end != '\0' || n == 0 || n > AUDIT_PAGE_MAX ||
		    limit[0] == '-') {
			json_decref(list);
			return jpki_err_set(JPKI_ERR_INVALID,
					    "limit is 1 to %d entries",
					    AUDIT_PAGE_MAX);
		}
		f.limit = n;
	}
	if ((since[0] != '\0' &&
	     (r = jpki_clock_parse(&f.since, since)) != 0) ||
	    (until[0] != '\0' &&
	     (r = jpki_clock_parse(&f.until, until)) != 0)) {
		json_decref(list);
		return jpki_err_set(JPKI_ERR_INVALID,
				    "since and until are times like "
				    "2026-01-10T09:00:00 (Japan) or "
				    "2026-01-10T00:00:00Z");
	}
	if ((r = jpki_audit_show(srv->st, who, &f, audit_entry_json, list)) !=
	    0) {
		json_decref(list);
		return r;
	}
	*out = json_pack("{s:o}", "entries", list);
	return *out != NULL ? 0 : JPKI_ERR_NOMEM;
}

static enum MHD_Result api(struct jpki_http *srv, struct MHD_Connection *conn,
			   const char *url, int post, const struct upload *up)
{
	json_t *in = NULL, *out = NULL;
	struct jpki_actor who;
	const char *token = http_session_token(conn);
	int r = 0;

	if (post) {
		if (up->too_large)
			return api_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
					 "the request body is too large");
		in = json_loadb((const char *)up->data, up->len,
				JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(in)) {
			json_decref(in);
			return api_error(conn, MHD_HTTP_BAD_REQUEST,
					 "the body is not a JSON object");
		}
	}
	if (strcmp(url, "/api/login") == 0 && post) {
		const struct http_login_result *res;

		/* As the page's: checked on the hashing pool. */
		r = http_login_step(&res, srv, conn, up, jstr(in, "operator"),
				    jstr(in, "password"));
		json_decref(in);
		if (r == 1)
			return MHD_YES;
		if (r < 0)
			return MHD_NO;
		if (res->r != 0)
			return api_refusal(conn, res);
		note_client(srv, res->token, up);
		return send_object(conn, MHD_HTTP_OK,
				   json_pack("{s:s}", "token", res->token));
	}
	if (token == NULL || jpki_audit_session(&who, srv->st, token) != 0) {
		json_decref(in);
		return api_error(conn, MHD_HTTP_UNAUTHORIZED,
				 "log in first (POST /api/login)");
	}
	if (strcmp(url, "/api/logout") == 0 && post) {
		r = jpki_audit_logout(srv->st, token);
		out = json_pack("{s:s}", "result", "ok");
	} else if (strcmp(url, "/api/audit") == 0 && !post) {
		r = api_audit(&out, srv, conn, &who);
	} else if (strncmp(url, "/api/residents/", 15) == 0 && !post) {
		struct jpki_resident res;

		if ((r = jpki_registry_get(&res, srv->st, url + 15)) == 0)
			out = resident_json(&res);
	} else if (strcmp(url, "/api/registry/register") == 0 && post) {
		char person[64];

		if ((r = api_register(person, srv, &who, in)) == 0)
			out = json_pack("{s:s}", "person", person);
	} else if (strncmp(url, "/api/registry/", 14) == 0 && post) {
		if ((r = api_registry_change(srv, &who, url + 14, in)) == 0)
			out = json_pack("{s:s}", "result", "ok");
	} else if (strcmp(url, "/api/window/apply") == 0 && post) {
		struct jpki_application_request req =
		    JPKI_APPLICATION_REQUEST_INIT;
		struct jpki_application app;
		const char *path = jstr(in, "path");

		req.person = jstr(in, "person");
		req.card = strcmp(jstr(in, "card"), "juki") == 0
			       ? JPKI_CARD_JUKI
			       : JPKI_CARD_MYNUMBER;
		req.want_sign = json_is_true(json_object_get(in, "sign"));
		req.want_auth = json_is_true(json_object_get(in, "auth"));
		req.path = strcmp(path, "none") == 0    ? JPKI_ID_NO_PHOTO
			   : strcmp(path, "proxy") == 0 ? JPKI_ID_PROXY
							: JPKI_ID_PHOTO;
		req.photo_id_kind =
		    json_string_value(json_object_get(in, "photo_id"));
		req.photo_id_address =
		    json_string_value(json_object_get(in, "photo_id_address"));
		req.power_of_attorney_sealed =
		    json_is_true(json_object_get(in, "power_of_attorney"));
		req.seal_certificate =
		    json_is_true(json_object_get(in, "seal_certificate"));
		req.proxy_name =
		    json_string_value(json_object_get(in, "proxy_name"));
		req.special_circumstance = json_string_value(
		    json_object_get(in, "special_circumstance"));
		if ((r = jpki_window_apply(&app, srv->st, &who, &req)) == 0)
			out = application_json(&app);
	} else if (strcmp(url, "/api/window/returned") == 0 && post) {
		struct jpki_application app;

		if ((r = jpki_window_letter_returned(
			 &app, srv->st, &who,
			 json_integer_value(json_object_get(in, "id")),
			 jstr(in, "code"), jstr(in, "document"))) == 0)
			out = application_json(&app);
	} else if (strcmp(url, "/api/window/issue") == 0 && post) {
		struct jpki_window_issue_result res;

		if ((r = issue_at_counter(
			 &res, srv, &who,
			 json_integer_value(json_object_get(in, "id")),
			 jstr(in, "reader"), jstr(in, "auth_pin"),
			 jstr(in, "sign_pin"))) == 0)
			out =
			    json_pack("{s:s, s:s, s:i}", "sign_serial",
				      res.sign_serial, "auth_serial",
				      res.auth_serial, "fee_yen", res.fee_yen);
	} else if ((strcmp(url, "/api/window/renew") == 0 ||
		    strcmp(url, "/api/window/pin-reset") == 0) &&
		   post) {
		enum jpki_cert_type type = strcmp(jstr(in, "type"), "auth") == 0
					       ? JPKI_CERT_AUTH
					       : JPKI_CERT_SIGN;
		struct jpki_window_issue_result res;
		struct jpki_reader *rd = NULL;
		const char *reader = jstr(in, "reader");

		memset(&res, 0, sizeof(res));
		if (srv->issuer == NULL)
			r = jpki_err_set(JPKI_ERR_CONFIG,
					 "this server has no card-issuer key");
		else if ((r = jpki_reader_pcsc(&rd,
					       reader[0] ? reader : NULL)) == 0)
			r = url[12] == 'r'
				? jpki_window_renew(&res, srv->st, srv->ca, rd,
						    srv->issuer, &who,
						    jstr(in, "person"), type)
				: jpki_window_pin_reset(
				      srv->st, srv->ca, rd, srv->issuer, &who,
				      jstr(in, "person"),
				      jstr(in, "photo_id_address"), type,
				      jstr(in, "new_pin"));
		jpki_reader_free(rd);
		if (r == 0)
			out = json_pack("{s:s, s:s}", "sign_serial",
					res.sign_serial, "auth_serial",
					res.auth_serial);
	} else if (strcmp(url, "/api/window/capacity") == 0 && post) {
		if ((r = jpki_window_set_capacity(
			 srv->st, &who, jstr(in, "municipality_code"),
			 (int)json_integer_value(
			     json_object_get(in, "per_day")))) == 0)
			out = json_pack("{s:s}", "result", "ok");
	} else if (strcmp(url, "/api/window/hours") == 0 && post) {
		if ((r = jpki_window_set_hours(
			 srv->st, &who, jstr(in, "municipality_code"),
			 (int)json_integer_value(
			     json_object_get(in, "open_minute")),
			 (int)json_integer_value(
			     json_object_get(in, "close_minute")))) == 0)
			out = json_pack("{s:s}", "result", "ok");
	} else if (strcmp(url, "/api/window/fees") == 0 && !post) {
		struct jpki_fee *fees = NULL;
		size_t n = 0;

		if ((r = jpki_window_fees(&fees, &n, srv->st,
					  who.municipality_code[0]
					      ? who.municipality_code
					      : NULL)) == 0) {
			out = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(
				    out,
				    json_pack("{s:s, s:s, s:s, s:i, s:s}",
					      "person", fees[i].person,
					      "municipality_code",
					      fees[i].municipality_code, "what",
					      fees[i].what, "yen", fees[i].yen,
					      "operator", fees[i].operator_id));
		}
		free(fees);
	} else if (strcmp(url, "/api/window/report") == 0 && post) {
		size_t n = 0;

		if ((r = jpki_window_report(
			 &n, srv->st, srv->ca, &who, jstr(in, "person"),
			 strcmp(jstr(in, "kind"), "card-fault") == 0
			     ? JPKI_LOSS_CARD_FAULT
			     : JPKI_LOSS_LOST)) == 0)
			out = json_pack("{s:I}", "revoked", (json_int_t)n);
	} else if (strcmp(url, "/api/window/applications") == 0 && !post) {
		struct jpki_application *apps = NULL;
		size_t n = 0;

		if ((r = jpki_window_applications(&apps, &n, srv->st,
						  who.municipality_code[0]
						      ? who.municipality_code
						      : NULL,
						  100)) == 0) {
			out = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(
				    out, application_json(&apps[i]));
		}
		free(apps);
	} else if (strcmp(url, "/api/audit/verify") == 0 && !post) {
		struct jpki_audit_report rep;

		if ((r = jpki_audit_verify(&rep, srv->st)) == 0)
			out = json_pack("{s:b, s:I, s:I, s:s}", "ok", rep.ok,
					"entries", (json_int_t)rep.entries,
					"bad_entry", (json_int_t)rep.bad_seq,
					"why", rep.why);
	} else {
		json_decref(in);
		return api_error(conn, MHD_HTTP_NOT_FOUND, "no such procedure");
	}
	json_decref(in);
	if (r != 0) {
		json_decref(out);
		return api_error(conn, status_of(r), jpki_err_detail());
	}
	return send_object(conn, MHD_HTTP_OK, out);
}

int http_window_owns(const char *url)
{
	return strncmp(url, "/window", 7) == 0 || strncmp(url, "/api/", 5) == 0;
}

enum MHD_Result http_window(struct jpki_http *srv, struct MHD_Connection *conn,
			    const char *url, const char *method,
			    const struct upload *up, int *handled)
{
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	*handled = 0;
	if (!http_window_owns(url))
		return MHD_NO;
	*handled = 1;
	if (srv->st == NULL)
		return http_send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      "the window role has no store\n");
	if (post && up->too_large && url[1] == 'w')
		return http_send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				      "the form is too large\n");
	if (url[1] == 'w')
		return pages(srv, conn, url, post, up);
	return api(srv, conn, url, post, up);
}
