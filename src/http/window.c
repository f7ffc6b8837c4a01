/*
 * The window role of `jpki serve`: the clerk's pages (server-rendered HTML,
 * forms only, no JavaScript) under /window, and the same procedures as a
 * JSON API under /api. A clerk logs in with the operator's password; the
 * session token travels in an HttpOnly, SameSite=Strict cookie (pages) or
 * an Authorization: Bearer header (API). Every procedure is the window or
 * registry module's own, so its rules, refusals and audit entries are the
 * same whichever way it is reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/http_internal.h"
#include "jpki/audit.h"
#include "jpki/card.h"
#include "jpki/codec.h"
#include "jpki/registry.h"
#include "jpki/services.h"
#include "jpki/window.h"

#define FIELD (HTTP_FIELD_MAX + 1) /* the longest form field kept */

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
		/* every procedure one click away (window_pages.c) */
		http_window_nav(f, who);
		http_html_escape(f, who->operator_id);
		fprintf(f, " (%s %s", jpki_audit_role_name(who->role),
			who->municipality_code);
		if (who->office_code[0] != '\0') {
			fputs(" ", f);
			http_html_escape(f, who->office_code);
		}
		fputs(") ", f);
		fputs("<form class=\"inline\" method=\"post\" "
		      "action=\"/window/logout\">",
		      f);
		http_csrf_field(f);
		fputs("<button>ログアウト (log out)</button></form>", f);
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

/* A read the domain refused or could not do: 403 for a clerk of another
 * municipality or a role that does not read it (the refusal is on the
 * audit chain), 404 for what does not exist. */
static enum MHD_Result read_refused(struct MHD_Connection *conn,
				    const struct jpki_actor *who, int r)
{
	char *buf = NULL, why[600];
	size_t len = 0;
	FILE *f;

	/* A page, not plain text: the clerk reads the refusal in the
	 * window's frame, with the way back to the dashboard. */
	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	page_start(f, "表示できません (refused)", who);
	http_refusal(f, "表示できません (refused)", why);
	fputs("<section><a id=\"back\" href=\"/window\">戻る (back)</a>"
	      "</section>",
	      f);
	return http_page_end(f, &buf, &len, conn, http_window_status(r));
}

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
	http_login_form(f, "職員ログイン (operator log-in)", "/window/login",
			error);
	fputs("</main></body></html>\n", f);
	fclose(f);
	ret = http_send_retry(conn, status, "text/html; charset=utf-8", buf,
			      len, retry_after);
	free(buf);
	return ret;
}

void http_window_page_start(FILE *f, const char *title,
			    const struct jpki_actor *who)
{
	page_start(f, title, who);
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
	/* each search and listing is a recorded read (registry, window);
	 * a role that reads neither is not asked to */
	if (who->role != JPKI_ROLE_REGISTRY_CLERK &&
	    who->role != JPKI_ROLE_WINDOW_CLERK) {
		fputs("<p>この役割では住民の記録を読めません (this role does "
		      "not read residents' records)</p>",
		      f);
	} else if (jpki_registry_search(&list, &n, srv->st, who,
					name[0] ? name : NULL, 50) == 0 &&
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
	if (who->role == JPKI_ROLE_WINDOW_CLERK &&
	    jpki_window_applications(&apps, &napps, srv->st, who, NULL, 20) ==
		0 &&
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
	int err;

	if ((err = jpki_registry_read(&r, srv->st, who, person)) != 0)
		return read_refused(conn, who, err);
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
	      "</h2><form method=\"post\" action=\"/window/apply\">",
	      f);
	http_csrf_field(f);
	fputs("<input type=\"hidden\" name=\"person\" value=\"", f);
	http_html_escape(f, r.person);
	fputs("\"><label for=\"card\">カード (card)</label>"
	      "<select id=\"card\" name=\"card\"><option value=\"mynumber\">"
	      "個人番号カード (My Number card)</option><option value=\"juki\">"
	      "住民基本台帳カード (Juki card)</option><option "
	      "value=\"juki-card\">住民基本台帳カードの交付 (the Juki card "
	      "itself, with its fee)</option></select>"
	      "<label><input type=\"checkbox\" id=\"sign\" name=\"sign\" "
	      "checked> 署名用電子証明書 (signing)</label>"
	      "<label><input type=\"checkbox\" id=\"auth\" name=\"auth\" "
	      "checked> 利用者証明用電子証明書 (authentication)</label>"
	      "<label for=\"path\">本人確認 (identity check)</label>"
	      "<select id=\"path\" name=\"path\">"
	      "<option value=\"photo\">顔写真付き本人確認書類 (photo ID)"
	      "</option><option value=\"letter\">顔写真なし: 照会書を郵送 (no "
	      "photo ID: inquiry letter)</option><option value=\"proxy\">"
	      "代理人 (proxy)</option></select>"
	      "<label for=\"photo_id\">書類 (document)</label>"
	      "<select id=\"photo_id\" name=\"photo_id\">",
	      f);
	http_window_photo_id_options(f, srv, r.municipality_code);
	fputs("</select>"
	      "<label for=\"photo_id_address\">書類の住所 (address on the "
	      "document)</label><input id=\"photo_id_address\" "
	      "name=\"photo_id_address\" size=\"50\">"
	      "<label for=\"photo_id_expiry\">書類の有効期限 (valid until, "
	      "YYYY-MM-DD)</label><input id=\"photo_id_expiry\" "
	      "name=\"photo_id_expiry\" size=\"10\">"
	      "<p class=\"notice\"><strong>" JPKI_WINDOW_NOTICE_FALSE_APPLICATION
	      "</strong><br>" JPKI_WINDOW_NOTICE_CARD "</p>"
	      "<br><button id=\"apply\">受付 (take the application)</button>"
	      "</form></section>",
	      f);
	/* renewal, PIN reset, loss and card-fault reports (window_pages.c) */
	http_window_resident_forms(f, srv, &r);
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
	int err;

	if ((err = jpki_window_application(&a, srv->st, who, id)) != 0)
		return read_refused(conn, who, err);
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
	/* printing makes a fresh code (the earlier one stops working), so
	 * it is a POST with the session's token, never a link */
	if (a.state == JPKI_APP_WAITING_LETTER) {
		fputs("<form method=\"post\" action=\"/window/letter\">", f);
		http_csrf_field(f);
		fprintf(f,
			"<input type=\"hidden\" name=\"id\" value=\"%lld\">"
			"<button id=\"letter\">照会書兼回答書を印刷 (print "
			"the inquiry letter, PDF; a new code voids the "
			"earlier one)</button></form>",
			(long long)a.id);
		http_window_returned_form(f, &a);
	}
	fputs("</section>", f);
	if (a.state == JPKI_APP_READY) {
		fputs("<section><h2>窓口での交付 (issue at the counter)"
		      "</h2><p>カードをリーダに置き、暗証番号を住民に入力"
		      "してもらってください。 (Put the card in the reader; "
		      "the resident types the PINs.)</p>"
		      "<form method=\"post\" action=\"/window/issue\">",
		      f);
		http_csrf_field(f);
		fprintf(f,
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
	char expiry[FIELD];
	int w, r;

	http_field(person, FIELD, up, "person");
	http_field(card, FIELD, up, "card");
	http_field(path, FIELD, up, "path");
	http_field(kind, FIELD, up, "photo_id");
	http_field(addr, FIELD, up, "photo_id_address");
	http_field(expiry, FIELD, up, "photo_id_expiry");
	req.person = person;
	/* the API's words; an unknown one is refused, never guessed.
	 * "juki-card" is the Juki card itself (`window apply --juki-card`) */
	if (strcmp(card, "juki-card") == 0) {
		req.card = JPKI_CARD_JUKI;
		req.kind = JPKI_APP_KIND_JUKI_CARD;
	} else if ((r = jpki_codec_word_parse(&w, jpki_codec_card_words,
					      card[0] ? card : "mynumber",
					      "card")) != 0)
		return r;
	else
		req.card = (enum jpki_card_kind)w;
	http_field(v, FIELD, up, "sign");
	req.want_sign = v[0] != '\0';
	http_field(v, FIELD, up, "auth");
	req.want_auth = v[0] != '\0';
	if ((r = jpki_codec_word_parse(&w, jpki_codec_path_words, path,
				       "path")) != 0)
		return r;
	req.path = (enum jpki_identity_path)w;
	req.photo_id_kind = kind[0] ? kind : NULL;
	req.photo_id_address = addr[0] ? addr : NULL;
	req.photo_id_expiry = expiry[0] ? expiry : NULL;
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

static enum MHD_Result send_pdf(struct MHD_Connection *conn,
				const struct jpki_actor *who, int r,
				unsigned char *pdf, size_t len,
				const char *what)
{
	enum MHD_Result ret;

	if (r != 0)
		return read_refused(conn, who, r);
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
	if (detail == NULL ||
	    jpki_audit_record(srv->st, &who, "window.client", who.operator_id,
			      detail) != 0)
		jpki_log(JPKI_LOG_ERROR, "window: audit of the client: %s",
			 jpki_err_detail());
	free(detail);
}

/* POST /window/login: the password log-in; GET: its form. */
enum MHD_Result http_window_login(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	if (req->post)
		return http_page_login(srv, conn, req->up, "/window", login_form,
				       note_client);
	return login_page(conn, NULL);
}

/* A page's caller without a session: the log-in form. */
enum MHD_Result http_window_login_form(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req)
{
	return login_page(conn, NULL);
}

enum MHD_Result http_window_logout(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	if (jpki_audit_logout(srv->st, req->token) != 0)
		jpki_log(JPKI_LOG_WARN, "logout: %s", jpki_err_detail());
	return http_redirect(conn, "/window",
			     "jpki_session=; Path=/; Max-Age=0");
}

enum MHD_Result http_window_dashboard(struct jpki_http *srv,
				      struct MHD_Connection *conn,
				      struct http_request *req)
{
	return dashboard(srv, conn, &req->who);
}

enum MHD_Result http_window_resident(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	return resident_page(srv, conn, &req->who, http_query(conn, "person"),
			     NULL);
}

enum MHD_Result http_window_application(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	return application_page(srv, conn, &req->who,
				atoll(http_query(conn, "id")), NULL, NULL);
}

enum MHD_Result http_window_apply(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	struct jpki_application app;
	char a[FIELD], to[64];

	if (apply_from_form(&app, srv, &req->who, req->up, a) != 0)
		return resident_page(srv, conn, &req->who, a,
				     jpki_err_detail());
	snprintf(to, sizeof(to), "/window/application?id=%lld",
		 (long long)app.id);
	return http_redirect(conn, to, NULL);
}

enum MHD_Result http_window_issue(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	const struct upload *up = req->up;
	struct jpki_window_issue_result res;
	char a[FIELD], reader[FIELD], ap[FIELD], sp[FIELD];
	int64_t id;
	int r;

	http_field(a, FIELD, up, "id");
	http_field(reader, FIELD, up, "reader");
	http_field(ap, FIELD, up, "auth_pin");
	http_field(sp, FIELD, up, "sign_pin");
	id = atoll(a);
	r = issue_at_counter(&res, srv, &req->who, id, reader, ap, sp);
	jpki_wipe(ap, sizeof(ap));
	jpki_wipe(sp, sizeof(sp));
	return application_page(srv, conn, &req->who, id,
				r ? jpki_err_detail() : NULL, r ? NULL : &res);
}

enum MHD_Result http_window_copy(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 struct http_request *req)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	int r = jpki_window_cert_copy_pdf(&pdf, &len, srv->st, srv->ca,
					  &req->who, http_query(conn, "serial"));

	return send_pdf(conn, &req->who, r, pdf, len, "copy");
}

enum MHD_Result http_window_letter(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	char id[FIELD];
	int r;

	/* a POST: printing makes the letter's code anew (the old one stops
	 * working), so no link or image of another page may do it */
	http_field(id, FIELD, req->up, "id");
	r = jpki_window_letter_pdf(&pdf, &len, srv->st, &req->who, atoll(id));
	return send_pdf(conn, &req->who, r, pdf, len, "letter");
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

enum MHD_Result http_api_error(struct MHD_Connection *conn, unsigned status,
			       const char *why, const char *field)
{
	json_t *o = json_pack("{s:s, s:s}", "result", "refused", "error", why);

	if (o != NULL && field != NULL)
		json_object_set_new(o, "field", json_string(field));
	return send_object(conn, status, o);
}

static enum MHD_Result api_error(struct MHD_Connection *conn, unsigned status,
				 const char *why)
{
	return http_api_error(conn, status, why, NULL);
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

unsigned http_window_status(int r)
{
	return status_of(r);
}

static const char *jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* The key whose value jansson stopped in at byte `pos` of text: the last
 * "key" followed by ':' before it; "" when none (a number in an array). */
static void key_before(char *key, size_t size, const char *text, size_t pos)
{
	size_t i = pos, end, start;

	key[0] = '\0';
	while (i > 0 && text[i - 1] != ':' && text[i - 1] != ',' &&
	       text[i - 1] != '[' && text[i - 1] != '{')
		i--;
	if (i == 0 || text[i - 1] != ':')
		return;
	i--;
	while (i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t' ||
			 text[i - 1] == '\n' || text[i - 1] == '\r'))
		i--;
	if (i < 2 || text[i - 1] != '"')
		return;
	end = i - 1;
	start = end;
	while (start > 0 && text[start - 1] != '"')
		start--;
	if (start == 0 || end - start >= size)
		return;
	/* an escaped key is not named: the sentence says the rest */
	if (memchr(text + start, '\\', end - start) != NULL)
		return;
	memcpy(key, text + start, end - start);
	key[end - start] = '\0';
}

/* The body as a JSON object, or NULL with a sentence in why (and the
 * field it is about in field, "" when none is known). */
static json_t *api_body(const struct upload *up, char *why, size_t why_size,
			char *field, size_t field_size)
{
	json_error_t err;
	json_t *in;

	why[0] = field[0] = '\0';
	in = json_loadb((const char *)up->data, up->len,
			JSON_REJECT_DUPLICATES, &err);
	if (in == NULL &&
	    json_error_code(&err) == json_error_numeric_overflow) {
		/* jansson holds 64-bit integers and doubles; a larger
		 * number is refused, and the clerk is told which field
		 * rather than "not JSON" */
		key_before(field, field_size, (const char *)up->data,
			   (size_t)err.position <= up->len ? (size_t)err.position
							   : up->len);
		if (field[0] != '\0')
			snprintf(why, why_size,
				 "the field \"%s\" holds a number beyond "
				 "64 bits",
				 field);
		else
			snprintf(why, why_size,
				 "the body holds a number beyond 64 bits "
				 "(at byte %d)",
				 err.position);
		return NULL;
	}
	if (!json_is_object(in)) {
		json_decref(in);
		snprintf(why, why_size, "the body is not a JSON object");
		return NULL;
	}
	return in;
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

enum MHD_Result http_api_audit(struct jpki_http *srv,
			       struct MHD_Connection *conn,
			       struct http_request *req)
{
	json_t *out = NULL;
	int r = api_audit(&out, srv, conn, &req->who);

	if (r != 0) {
		json_decref(out);
		return api_error(conn, status_of(r), jpki_err_detail());
	}
	return send_object(conn, MHD_HTTP_OK, out);
}

/* POST /api/login {"operator", "password"}: a session token. */
enum MHD_Result http_api_login(struct jpki_http *srv,
			       struct MHD_Connection *conn,
			       struct http_request *req)
{
	static const struct jpki_codec_field fields[] = {
	    {"operator", JPKI_CODEC_TEXT, 0, 63, 0, 0, NULL,
	     JPKI_CODEC_REQUIRED},
	    {"password", JPKI_CODEC_TEXT, sizeof(const char *), 1024, 0, 0,
	     NULL, JPKI_CODEC_REQUIRED},
	};
	const struct upload *up = req->up;
	const char *strings[2];
	char why[160], field[64];
	json_t *in;
	int r = 0;

	if ((in = api_body(up, why, sizeof(why), field, sizeof(field))) ==
	    NULL)
		return http_api_error(conn, MHD_HTTP_BAD_REQUEST, why,
				      field[0] ? field : NULL);
	if (jpki_codec_decode(strings, fields, 2, in) != 0) {
		json_decref(in);
		return http_api_error(conn, MHD_HTTP_BAD_REQUEST,
				      jpki_err_detail(), jpki_codec_field());
	}
	{
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
}

/*
 * One procedure of the API: its body's fields (NULL for a GET without
 * one) decoded strictly into a struct of `size` bytes, then run. A refusal
 * of the body is a 400 naming the field, before anything is touched.
 */
struct http_api_proc {
	const struct jpki_codec_field *fields;
	size_t nfields;
	/* 1: run() decodes the body by its record's codec (register, apply,
	 * report); else a POST body has only `fields` (none: it is {}) */
	int record;
	int (*run)(json_t **out, struct jpki_http *srv,
		   struct http_request *req, void *in, json_t *body);
};

/* The fields of the bodies, each a struct of its own. */
#define F(st, m, type, size, min, max, words, flags)                          \
	{#m, type, offsetof(st, m), size, min, max, words, flags}
#define PERSON(st) F(st, person, JPKI_CODEC_TEXT, 63, 0, 0, NULL, JPKI_CODEC_REQUIRED)
#define NFIELDS(a) (sizeof(a) / sizeof(a[0]))

struct person_in {
	const char *person;
};
static const struct jpki_codec_field person_fields[] = {
    PERSON(struct person_in)};

static int ok(json_t **out)
{
	*out = json_pack("{s:s}", "result", "ok");
	return 0;
}

static int run_logout(json_t **out, struct jpki_http *srv,
		      struct http_request *req, void *in, json_t *body)
{
	int r;

	if ((r = jpki_audit_logout(srv->st, req->token)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_logout = {NULL, 0, 0, run_logout};

static int run_resident(json_t **out, struct jpki_http *srv,
			struct http_request *req, void *in, json_t *body)
{
	struct jpki_resident res;
	int r;

	if ((r = jpki_registry_read(&res, srv->st, &req->who, req->rest)) != 0)
		return r;
	*out = jpki_codec_resident_encode(&res);
	return 0;
}
const struct http_api_proc http_api_resident = {NULL, 0, 0, run_resident};

static int run_register(json_t **out, struct jpki_http *srv,
			struct http_request *req, void *in, json_t *body)
{
	struct jpki_resident res;
	char person[64];
	int r;

	if ((r = jpki_codec_resident_decode(&res, body)) != 0)
		return r;
	if ((r = jpki_registry_register(person, srv->st, &req->who, &res)) !=
	    0)
		return r;
	*out = json_pack("{s:s}", "person", person);
	return 0;
}
const struct http_api_proc http_api_register = {NULL, 0, 1, run_register};

struct move_in {
	const char *person;
	char municipality_code[8];
	char prefecture[64];
	char municipality[64];
	char address[JPKI_FACT_ADDRESS_MAX];
};
static const struct jpki_codec_field move_fields[] = {
    PERSON(struct move_in),
    F(struct move_in, municipality_code, JPKI_CODEC_BUF, 7, 0, 0, NULL, 0),
    F(struct move_in, prefecture, JPKI_CODEC_BUF, 64, 0, 0, NULL,
      JPKI_CODEC_PRINTABLE),
    F(struct move_in, municipality, JPKI_CODEC_BUF, 64, 0, 0, NULL,
      JPKI_CODEC_PRINTABLE),
    F(struct move_in, address, JPKI_CODEC_BUF, JPKI_FACT_ADDRESS_MAX, 0, 0,
      NULL, JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
};

static int run_move(json_t **out, struct jpki_http *srv,
		    struct http_request *req, void *in, json_t *body)
{
	struct move_in *m = in;
	struct jpki_resident cur;
	int r;

	/* what the body leaves out stays as it is */
	if ((r = jpki_registry_get(&cur, srv->st, m->person)) != 0)
		return r;
	if ((r = jpki_registry_move(
		 srv->st, &req->who, m->person,
		 m->municipality_code[0] ? m->municipality_code
					 : cur.municipality_code,
		 json_object_get(body, "prefecture") ? m->prefecture
						     : cur.prefecture,
		 json_object_get(body, "municipality") ? m->municipality
						       : cur.municipality,
		 m->address)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_move = {move_fields, NFIELDS(move_fields), 0,
					    run_move};

struct name_in {
	const char *person;
	const char *name;
};
static const struct jpki_codec_field name_fields[] = {
    PERSON(struct name_in),
    F(struct name_in, name, JPKI_CODEC_TEXT, JPKI_FACT_NAME_MAX - 1, 0, 0,
      NULL, JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
};

static int run_name(json_t **out, struct jpki_http *srv,
		    struct http_request *req, void *in, json_t *body)
{
	struct name_in *n = in;
	char name[JPKI_FACT_NAME_MAX];
	int r;

	if ((r = jpki_profile_name_normalize(name, sizeof(name), n->name)) !=
		0 ||
	    (r = jpki_registry_change_name(srv->st, &req->who, n->person,
					   name)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_name = {name_fields, NFIELDS(name_fields), 0,
					    run_name};

struct birth_in {
	const char *person;
	struct jpki_date birth;
};
static const struct jpki_codec_field birth_fields[] = {
    PERSON(struct birth_in),
    F(struct birth_in, birth, JPKI_CODEC_DATE, 0, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
};

static int run_birth(json_t **out, struct jpki_http *srv,
		     struct http_request *req, void *in, json_t *body)
{
	struct birth_in *b = in;
	int r;

	if ((r = jpki_registry_correct_birth(srv->st, &req->who, b->person,
					     &b->birth)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_birth = {
    birth_fields, NFIELDS(birth_fields), 0, run_birth};

struct sex_in {
	const char *person;
	int sex;
};
static const struct jpki_codec_field sex_fields[] = {
    PERSON(struct sex_in),
    F(struct sex_in, sex, JPKI_CODEC_WORD, 0, 0, 0, jpki_codec_sex_words,
      JPKI_CODEC_REQUIRED),
};

static int run_sex(json_t **out, struct jpki_http *srv,
		   struct http_request *req, void *in, json_t *body)
{
	struct sex_in *x = in;
	int r;

	if ((r = jpki_registry_correct_sex(srv->st, &req->who, x->person,
					   (enum jpki_sex)x->sex)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_sex = {sex_fields, NFIELDS(sex_fields), 0,
					   run_sex};

struct guardianship_in {
	const char *person;
	int on;
};
static const struct jpki_codec_field guardianship_fields[] = {
    PERSON(struct guardianship_in),
    F(struct guardianship_in, on, JPKI_CODEC_BOOL, 0, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
};

static int run_guardianship(json_t **out, struct jpki_http *srv,
			    struct http_request *req, void *in, json_t *body)
{
	struct guardianship_in *g = in;
	int r;

	if ((r = jpki_registry_set_guardianship(srv->st, &req->who, g->person,
						g->on)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_guardianship = {
    guardianship_fields, NFIELDS(guardianship_fields), 0, run_guardianship};

static int run_death(json_t **out, struct jpki_http *srv,
		     struct http_request *req, void *in, json_t *body)
{
	int r;

	if ((r = jpki_registry_death(srv->st, &req->who,
				     ((struct person_in *)in)->person)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_death = {person_fields, 1, 0, run_death};

static int run_remove(json_t **out, struct jpki_http *srv,
		      struct http_request *req, void *in, json_t *body)
{
	int r;

	if ((r = jpki_registry_remove(srv->st, &req->who,
				      ((struct person_in *)in)->person)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_remove = {person_fields, 1, 0, run_remove};

static int run_apply(json_t **out, struct jpki_http *srv,
		     struct http_request *req, void *in, json_t *body)
{
	struct jpki_application_request ar;
	struct jpki_application app;
	int r;

	if ((r = jpki_codec_application_decode(&ar, body)) != 0)
		return r;
	if ((r = jpki_window_apply(&app, srv->st, &req->who, &ar)) != 0)
		return r;
	*out = jpki_codec_application_encode(&app);
	return 0;
}
const struct http_api_proc http_api_apply = {NULL, 0, 1, run_apply};

struct returned_in {
	int64_t id;
	const char *code, *document;
};
static const struct jpki_codec_field returned_fields[] = {
    F(struct returned_in, id, JPKI_CODEC_INT, 8, 1, INT64_MAX, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct returned_in, code, JPKI_CODEC_TEXT, 64, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct returned_in, document, JPKI_CODEC_TEXT, 63, 0, 0, NULL, 0),
};

static int run_returned(json_t **out, struct jpki_http *srv,
			struct http_request *req, void *in, json_t *body)
{
	struct returned_in *x = in;
	struct jpki_application app;
	int r;

	if ((r = jpki_window_letter_returned(&app, srv->st, &req->who, x->id,
					     x->code,
					     x->document ? x->document : "")) !=
	    0)
		return r;
	*out = jpki_codec_application_encode(&app);
	return 0;
}
const struct http_api_proc http_api_returned = {
    returned_fields, NFIELDS(returned_fields), 0, run_returned};

struct issue_in {
	int64_t id;
	const char *reader, *auth_pin, *sign_pin;
};
static const struct jpki_codec_field issue_fields[] = {
    F(struct issue_in, id, JPKI_CODEC_INT, 8, 1, INT64_MAX, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct issue_in, reader, JPKI_CODEC_TEXT, 255, 0, 0, NULL, 0),
    F(struct issue_in, auth_pin, JPKI_CODEC_TEXT, 16, 0, 0, NULL, 0),
    F(struct issue_in, sign_pin, JPKI_CODEC_TEXT, 16, 0, 0, NULL, 0),
};

static const char *or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static int run_issue(json_t **out, struct jpki_http *srv,
		     struct http_request *req, void *in, json_t *body)
{
	struct issue_in *x = in;
	struct jpki_window_issue_result res;
	int r;

	if ((r = issue_at_counter(&res, srv, &req->who, x->id,
				  or_empty(x->reader), or_empty(x->auth_pin),
				  or_empty(x->sign_pin))) != 0)
		return r;
	*out = json_pack("{s:s, s:s, s:i}", "sign_serial", res.sign_serial,
			 "auth_serial", res.auth_serial, "fee_yen",
			 res.fee_yen);
	return 0;
}
const struct http_api_proc http_api_issue = {issue_fields,
					     NFIELDS(issue_fields), 0, run_issue};

/* renew and pin-reset: the card in the counter's reader */
struct card_in {
	const char *person;
	int type;
	const char *reader, *photo_id_address, *new_pin;
	/* renew: the identity check, as for apply (path photo by default) */
	int path;
	const char *photo_id, *photo_id_expiry;
	int64_t application;
};
static const struct jpki_codec_field renew_fields[] = {
    PERSON(struct card_in),
    F(struct card_in, type, JPKI_CODEC_WORD, 0, 0, 0, jpki_codec_type_words,
      JPKI_CODEC_REQUIRED),
    F(struct card_in, reader, JPKI_CODEC_TEXT, 255, 0, 0, NULL, 0),
    F(struct card_in, path, JPKI_CODEC_WORD, 0, 0, 0, jpki_codec_path_words,
      0),
    F(struct card_in, photo_id, JPKI_CODEC_TEXT, 63, 0, 0, NULL, 0),
    F(struct card_in, photo_id_address, JPKI_CODEC_TEXT,
      JPKI_FACT_ADDRESS_MAX - 1, 0, 0, NULL, 0),
    F(struct card_in, photo_id_expiry, JPKI_CODEC_TEXT, 10, 0, 0, NULL, 0),
    F(struct card_in, application, JPKI_CODEC_INT, 8, 0, INT64_MAX, NULL,
      0),
};
static const struct jpki_codec_field pin_reset_fields[] = {
    PERSON(struct card_in),
    F(struct card_in, type, JPKI_CODEC_WORD, 0, 0, 0, jpki_codec_type_words,
      JPKI_CODEC_REQUIRED),
    F(struct card_in, reader, JPKI_CODEC_TEXT, 255, 0, 0, NULL, 0),
    F(struct card_in, photo_id_address, JPKI_CODEC_TEXT,
      JPKI_FACT_ADDRESS_MAX - 1, 0, 0, NULL, 0),
    F(struct card_in, new_pin, JPKI_CODEC_TEXT, 16, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
};

static int card_proc(json_t **out, struct jpki_http *srv,
		     struct http_request *req, struct card_in *x, int renew)
{
	struct jpki_window_issue_result res;
	struct jpki_reader *rd = NULL;
	const char *reader = or_empty(x->reader);
	int r;

	memset(&res, 0, sizeof(res));
	if (srv->issuer == NULL)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "this server has no card-issuer key");
	if ((r = jpki_reader_pcsc(&rd, reader[0] ? reader : NULL)) != 0)
		return r;
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;

	rr.person = x->person;
	rr.type = (enum jpki_cert_type)x->type;
	rr.path = x->path ? (enum jpki_identity_path)x->path : JPKI_ID_PHOTO;
	rr.photo_id_kind = x->photo_id;
	rr.photo_id_address = x->photo_id_address;
	rr.photo_id_expiry = x->photo_id_expiry;
	rr.application = x->application;
	r = renew ? jpki_window_renew(&res, srv->st, srv->ca, rd, srv->issuer,
				      &req->who, &rr)
		  : jpki_window_pin_reset(srv->st, srv->ca, rd, srv->issuer,
					  &req->who, x->person,
					  or_empty(x->photo_id_address),
					  (enum jpki_cert_type)x->type,
					  x->new_pin);
	jpki_reader_free(rd);
	if (r != 0)
		return r;
	*out = json_pack("{s:s, s:s}", "sign_serial", res.sign_serial,
			 "auth_serial", res.auth_serial);
	return 0;
}

static int run_renew(json_t **out, struct jpki_http *srv,
		     struct http_request *req, void *in, json_t *body)
{
	return card_proc(out, srv, req, in, 1);
}
const struct http_api_proc http_api_renew = {renew_fields,
					     NFIELDS(renew_fields), 0, run_renew};

static int run_pin_reset(json_t **out, struct jpki_http *srv,
			 struct http_request *req, void *in, json_t *body)
{
	return card_proc(out, srv, req, in, 0);
}
const struct http_api_proc http_api_pin_reset = {
    pin_reset_fields, NFIELDS(pin_reset_fields), 0, run_pin_reset};

/* an office's settings: `municipality_code` alone names the
 * municipality's main office, with `office` one of its branches */
struct capacity_in {
	char municipality_code[8];
	char office[16];
	int per_day, open_minute, close_minute, counters;
};
static const struct jpki_codec_field capacity_fields[] = {
    F(struct capacity_in, municipality_code, JPKI_CODEC_BUF, 7, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct capacity_in, office, JPKI_CODEC_BUF, 15, 0, 0, NULL, 0),
    /* 0: no limit */
    F(struct capacity_in, per_day, JPKI_CODEC_INT, 4, 0, 1000000, NULL,
      JPKI_CODEC_REQUIRED),
};
static const struct jpki_codec_field hours_fields[] = {
    F(struct capacity_in, municipality_code, JPKI_CODEC_BUF, 7, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct capacity_in, office, JPKI_CODEC_BUF, 15, 0, 0, NULL, 0),
    F(struct capacity_in, open_minute, JPKI_CODEC_INT, 4, 0, 24 * 60, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct capacity_in, close_minute, JPKI_CODEC_INT, 4, 0, 24 * 60, NULL,
      JPKI_CODEC_REQUIRED),
};
static const struct jpki_codec_field counters_fields[] = {
    F(struct capacity_in, office, JPKI_CODEC_BUF, 15, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct capacity_in, counters, JPKI_CODEC_INT, 4, 1, 1000, NULL,
      JPKI_CODEC_REQUIRED),
};

/* The office a settings body names: a branch's code begins with its
 * municipality's. */
static int office_named(const char **code, const struct capacity_in *c)
{
	*code = c->municipality_code;
	if (c->office[0] == '\0')
		return 0;
	if (strncmp(c->office, c->municipality_code, 6) != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "office %s is not of municipality %s",
				    c->office, c->municipality_code);
	*code = c->office;
	return 0;
}

static int run_capacity(json_t **out, struct jpki_http *srv,
			struct http_request *req, void *in, json_t *body)
{
	struct capacity_in *c = in;
	int r;

	const char *code;

	if ((r = office_named(&code, c)) != 0 ||
	    (r = jpki_window_set_capacity(srv->st, &req->who, code,
					  c->per_day)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_capacity = {
    capacity_fields, NFIELDS(capacity_fields), 0, run_capacity};

static int run_hours(json_t **out, struct jpki_http *srv,
		     struct http_request *req, void *in, json_t *body)
{
	struct capacity_in *c = in;
	int r;

	const char *code;

	if ((r = office_named(&code, c)) != 0 ||
	    (r = jpki_window_set_hours(srv->st, &req->who, code,
				       c->open_minute, c->close_minute)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_hours = {
    hours_fields, NFIELDS(hours_fields), 0, run_hours};

static int run_counters(json_t **out, struct jpki_http *srv,
			struct http_request *req, void *in, json_t *body)
{
	struct capacity_in *c = in;
	int r;

	if ((r = jpki_window_set_counters(srv->st, &req->who, c->office,
					  c->counters)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_counters = {
    counters_fields, NFIELDS(counters_fields), 0, run_counters};

struct office_in {
	const char *code, *name;
	int issue;
};
static const struct jpki_codec_field office_fields[] = {
    F(struct office_in, code, JPKI_CODEC_TEXT, 15, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
    F(struct office_in, name, JPKI_CODEC_TEXT, 127, 0, 0, NULL,
      JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
    F(struct office_in, issue, JPKI_CODEC_BOOL, 0, 0, 0, NULL, 0),
};

/* POST /api/window/office: a branch (or the main office's name) of the
 * clerk's own municipality */
static int run_office_add(json_t **out, struct jpki_http *srv,
			  struct http_request *req, void *in, json_t *body)
{
	struct office_in *o = in;
	int r;

	if ((r = jpki_window_office_add(srv->st, &req->who, o->code,
					req->who.municipality_code, o->name,
					o->issue)) != 0)
		return r;
	return ok(out);
}
const struct http_api_proc http_api_office_add = {
    office_fields, NFIELDS(office_fields), 0, run_office_add};

static json_t *http_office_json(const struct jpki_office *o)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:i, s:i, s:i}",
			 "code", o->code, "municipality_code",
			 o->municipality_code, "name", o->name, "main",
			 o->main, "may_issue", o->may_issue, "counters",
			 o->counters, "open_minute", o->open_minute,
			 "close_minute", o->close_minute, "per_day",
			 o->per_day, "used_today", o->used_today);
}

/* GET /api/window/offices: the clerk's municipality's offices */
static int run_offices(json_t **out, struct jpki_http *srv,
		       struct http_request *req, void *in, json_t *body)
{
	struct jpki_office *list = NULL;
	size_t n = 0;
	int r;

	if ((r = jpki_window_offices(&list, &n, srv->st,
				     req->who.municipality_code)) != 0)
		return r;
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*out, http_office_json(&list[i]));
	free(list);
	return 0;
}
const struct http_api_proc http_api_offices = {NULL, 0, 0, run_offices};

static int run_fees(json_t **out, struct jpki_http *srv,
		    struct http_request *req, void *in, json_t *body)
{
	struct jpki_fee *fees = NULL;
	size_t n = 0;
	int r;

	if ((r = jpki_window_fees(&fees, &n, srv->st,
				  req->who.municipality_code[0]
				      ? req->who.municipality_code
				      : NULL)) != 0)
		return r;
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    *out, json_pack("{s:s, s:s, s:s, s:i, s:s}", "person",
				    fees[i].person, "municipality_code",
				    fees[i].municipality_code, "what",
				    fees[i].what, "yen", fees[i].yen,
				    "operator", fees[i].operator_id));
	free(fees);
	return 0;
}
const struct http_api_proc http_api_fees = {NULL, 0, 0, run_fees};

static int run_report(json_t **out, struct jpki_http *srv,
		      struct http_request *req, void *in, json_t *body)
{
	struct jpki_codec_report rep;
	size_t n = 0;
	int r;

	if ((r = jpki_codec_report_decode(&rep, body)) != 0)
		return r;
	if ((r = jpki_window_report(&n, srv->st, srv->ca, &req->who,
				    rep.person, rep.kind)) != 0)
		return r;
	*out = json_pack("{s:I}", "revoked", (json_int_t)n);
	return 0;
}
const struct http_api_proc http_api_report = {NULL, 0, 1, run_report};

static int run_applications(json_t **out, struct jpki_http *srv,
			    struct http_request *req, void *in, json_t *body)
{
	struct jpki_application *apps = NULL;
	size_t n = 0;
	int r;

	if ((r = jpki_window_applications(&apps, &n, srv->st, &req->who, NULL,
					  100)) != 0)
		return r;
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*out,
				      jpki_codec_application_encode(&apps[i]));
	free(apps);
	return 0;
}
const struct http_api_proc http_api_applications = {NULL, 0, 0,
						    run_applications};

static int run_audit_verify(json_t **out, struct jpki_http *srv,
			    struct http_request *req, void *in, json_t *body)
{
	struct jpki_audit_report rep;
	int r;

	if ((r = jpki_audit_verify(&rep, srv->st)) != 0)
		return r;
	*out = json_pack("{s:b, s:I, s:I, s:s}", "ok", rep.ok, "entries",
			 (json_int_t)rep.entries, "bad_entry",
			 (json_int_t)rep.bad_seq, "why", rep.why);
	return 0;
}
const struct http_api_proc http_api_audit_verify = {NULL, 0, 0,
						    run_audit_verify};

/* The largest struct a procedure's fields decode into. */
/* ---- seal registration (services module, docs/REGISTRY.md) ---- */

struct seal_in {
	const char *person;
	const char *photo_id_address;
	const char *image; /* the PNG in base64 */
	const char *reason;
};
static const struct jpki_codec_field seal_register_fields[] = {
    PERSON(struct seal_in),
    F(struct seal_in, photo_id_address, JPKI_CODEC_TEXT, JPKI_FACT_ADDRESS_MAX,
      0, 0, NULL, JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
    F(struct seal_in, image, JPKI_CODEC_TEXT, HTTP_SEAL_IMAGE_B64, 0, 0, NULL,
      JPKI_CODEC_REQUIRED),
};
static const struct jpki_codec_field seal_cancel_fields[] = {
    PERSON(struct seal_in),
    F(struct seal_in, reason, JPKI_CODEC_TEXT, 255, 0, 0, NULL,
      JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
};

static json_t *seal_encode(const struct jpki_seal *s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:s}",
			 "number", s->number, "person", s->person,
			 "municipality_code", s->municipality_code, "state",
			 s->state == JPKI_SEAL_ACTIVE ? "active" : "cancelled",
			 "width", (int)s->width, "height", (int)s->height,
			 "image_sha256", s->image_sha256, "registered_at",
			 (json_int_t)s->registered_at, "cancel_reason",
			 s->cancel_reason);
}

static int run_seal_register(json_t **out, struct jpki_http *srv,
			     struct http_request *req, void *in, json_t *body)
{
	const struct seal_in *s = in;
	size_t b64 = strlen(s->image);
	unsigned char *png = malloc(b64 / 4 * 3 + 3);
	struct jpki_seal seal;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int n = 0, tail = 0, r = JPKI_ERR_INVALID;

	(void)body;
	if (png == NULL || ctx == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, png, &n, (const unsigned char *)s->image,
			     (int)b64) < 0 ||
	    EVP_DecodeFinal(ctx, png + n, &tail) < 0) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "\"image\" is not base64 of a PNG image");
		goto out;
	}
	if ((r = jpki_services_seal_register(&seal, srv->st, &req->who,
					     s->person, s->photo_id_address,
					     png, (size_t)(n + tail))) == 0)
		*out = seal_encode(&seal);
out:
	EVP_ENCODE_CTX_free(ctx);
	free(png);
	return r;
}
const struct http_api_proc http_api_seal_register = {
    seal_register_fields, NFIELDS(seal_register_fields), 0,
    run_seal_register};

static int run_seal_cancel(json_t **out, struct jpki_http *srv,
			   struct http_request *req, void *in, json_t *body)
{
	const struct seal_in *s = in;
	struct jpki_seal seal;
	int r;

	(void)body;
	if ((r = jpki_services_seal_cancel(&seal, srv->st, &req->who,
					   s->person, s->reason)) == 0)
		*out = seal_encode(&seal);
	return r;
}
const struct http_api_proc http_api_seal_cancel = {
    seal_cancel_fields, NFIELDS(seal_cancel_fields), 0, run_seal_cancel};

union api_in {
	struct seal_in seal;
	struct person_in person;
	struct move_in move;
	struct name_in name;
	struct birth_in birth;
	struct sex_in sex;
	struct guardianship_in guardianship;
	struct returned_in returned;
	struct issue_in issue;
	struct card_in card;
	struct capacity_in capacity;
	struct office_in office;
};

/*
 * Every API row but /api/login: the body (POST) parsed and decoded by the
 * procedure's fields, or by its record's codec, then the procedure; a refusal of the body is 400 with the
 * field's name and nothing is done.
 */
enum MHD_Result http_api_call(struct jpki_http *srv,
			      struct MHD_Connection *conn,
			      struct http_request *req)
{
	const struct http_api_proc *proc = req->route->arg;
	union api_in in;
	json_t *body = NULL, *out = NULL;
	int r;

	memset(&in, 0, sizeof(in));
	if (req->post) {
		char why[160], field[64];

		if ((body = api_body(req->up, why, sizeof(why), field,
				     sizeof(field))) == NULL)
			return http_api_error(conn, MHD_HTTP_BAD_REQUEST, why,
					      field[0] ? field : NULL);
		if (proc->fields != NULL &&
		    jpki_codec_decode(&in, proc->fields, proc->nfields, body) !=
			0) {
			json_decref(body);
			return http_api_error(conn, MHD_HTTP_BAD_REQUEST,
					      jpki_err_detail(),
					      jpki_codec_field());
		}
		if (proc->fields == NULL && !proc->record &&
		    json_object_size(body) > 0) {
			/* logout: a body, if any, is empty */
			char key[65], no[128];

			snprintf(key, sizeof(key), "%s",
				 json_object_iter_key(json_object_iter(body)));
			snprintf(no, sizeof(no), "\"%s\" is not a field here",
				 key);
			json_decref(body);
			return http_api_error(conn, MHD_HTTP_BAD_REQUEST, no,
					      key);
		}
	}
	r = proc->run(&out, srv, req, &in, body);
	if (r == JPKI_ERR_INVALID && proc->record &&
	    jpki_codec_field()[0] != '\0') {
		/* the record's codec refused the body */
		char why_copy[512];

		snprintf(why_copy, sizeof(why_copy), "%s", jpki_err_detail());
		json_decref(body);
		return http_api_error(conn, MHD_HTTP_BAD_REQUEST, why_copy,
				      jpki_codec_field());
	}
	json_decref(body);
	if (r != 0) {
		json_decref(out);
		return api_error(conn, status_of(r), jpki_err_detail());
	}
	return send_object(conn, MHD_HTTP_OK, out);
}
