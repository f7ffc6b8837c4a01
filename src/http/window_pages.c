/*
 * The clerk's pages for every procedure of the counter beyond apply, issue,
 * copy and letter (window.c): renewal and PIN reset onto the card in the
 * counter's reader, loss and card-fault reports, the returned inquiry
 * letter, the fee ledger, and the office's hours, daily capacity and
 * counters. Each calls the window module's own function, so its rules,
 * sentences and audit entries are the CLI's and the API's; a refusal is
 * that sentence with the status of its kind (403 a rule, 404, 409, 400).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "jpki/audit.h"
#include "jpki/codec.h"
#include "jpki/window.h"

#define FIELD (HTTP_FIELD_MAX + 1) /* the longest form field kept */

void http_window_nav(FILE *f, const struct jpki_actor *who)
{
	fputs("<nav style=\"display:inline;margin-right:1em\">"
	      "<a style=\"color:#fff\" href=\"/window\">窓口</a> · ",
	      f);
	if (who->role == JPKI_ROLE_WINDOW_CLERK)
		fputs("<a style=\"color:#fff\" id=\"nav-fees\" "
		      "href=\"/window/fees\">手数料 (fees)</a> · "
		      "<a style=\"color:#fff\" id=\"nav-office\" "
		      "href=\"/window/office\">本庁・支所 (offices)</a> · "
		      "<a style=\"color:#fff\" id=\"nav-services\" "
		      "href=\"/window/services\">広域交付・転入転出 "
		      "(services)</a>",
		      f);
	fputs("</nav>", f);
}

/* The identity check, in the apply page's words and field names, with
 * ids of its own (`form` prefixes them). */
/* The photo ID kinds the municipality accepts (jpki_window_photo_ids),
 * its own additions with the national ones; the national ones alone
 * when the list cannot be read (the apply call still decides). */
void http_window_photo_id_options(FILE *f, struct jpki_http *srv,
				  const char *municipality_code)
{
	static const char *const national[][2] = {
	    {"driving-licence", "運転免許証"},
	    {"passport", "旅券"},
	    {"mynumber-card", "個人番号カード"},
	    {"juki-card-photo", "写真付き住基カード"}};
	struct jpki_photo_id_kind *k = NULL;
	size_t n = 0, i;

	if (jpki_window_photo_ids(&k, &n, srv->st, municipality_code) != 0) {
		for (i = 0; i < sizeof national / sizeof national[0]; i++)
			fprintf(f, "<option value=\"%s\">%s</option>",
				national[i][0], national[i][1]);
		return;
	}
	for (i = 0; i < n; i++) {
		fputs("<option value=\"", f);
		http_html_escape(f, k[i].word);
		fputs("\">", f);
		http_html_escape(f, k[i].label[0] ? k[i].label : k[i].word);
		fputs("</option>", f);
	}
	free(k);
}

static void identity_fields(FILE *f, const char *form, struct jpki_http *srv,
			    const char *municipality_code)
{
	fprintf(f,
		"<label for=\"%s_path\">本人確認 (identity check)</label>"
		"<select id=\"%s_path\" name=\"path\">"
		"<option value=\"photo\">顔写真付き本人確認書類 (photo ID)"
		"</option><option value=\"letter\">顔写真なし: 照会書を郵送 "
		"(no photo ID: inquiry letter)</option><option "
		"value=\"proxy\">代理人 (proxy)</option></select>"
		"<label for=\"%s_photo_id\">書類 (document)</label>"
		"<select id=\"%s_photo_id\" name=\"photo_id\">",
		form, form, form, form);
	http_window_photo_id_options(f, srv, municipality_code);
	fputs("</select>", f);
	fprintf(f,
		"<label for=\"%s_photo_id_address\">書類の住所 (address on "
		"the document)</label><input id=\"%s_photo_id_address\" "
		"name=\"photo_id_address\" size=\"50\">",
		form, form);
	fprintf(f,
		"<label for=\"%s_photo_id_expiry\">書類の有効期限 (valid until, "
		"YYYY-MM-DD)</label><input id=\"%s_photo_id_expiry\" "
		"name=\"photo_id_expiry\" size=\"10\">",
		form, form);
}

static void person_field(FILE *f, const char *person)
{
	fputs("<input type=\"hidden\" name=\"person\" value=\"", f);
	http_html_escape(f, person);
	fputs("\">", f);
}

static void reader_field(FILE *f, struct jpki_http *srv, const char *form)
{
	fprintf(f,
		"<label for=\"%s_reader\">カードリーダ (reader)</label>"
		"<input id=\"%s_reader\" name=\"reader\" value=\"",
		form, form);
	http_html_escape(f, srv->counter_reader ? srv->counter_reader : "");
	fputs("\">", f);
}

static void type_field(FILE *f, const char *form)
{
	fprintf(f,
		"<label for=\"%s_type\">証明書 (certificate)</label>"
		"<select id=\"%s_type\" name=\"type\"><option value=\"auth\">"
		"利用者証明用 (authentication)</option><option "
		"value=\"sign\">署名用 (signing)</option></select>",
		form, form);
}

void http_window_resident_forms(FILE *f, struct jpki_http *srv,
				const struct jpki_resident *r)
{
	/* the resident's disclosure on paper (services.c); the person id
	 * is the register's own ("R" and hex digits), no escaping needed */
	fprintf(f,
		"<section><h2>本人確認情報の提供状況 (agencies' look-ups)</h2>"
		"<p><a id=\"disclosure\" href=\"/window/disclosure?person=%s\">"
		"提供状況の開示 (PDF)</a></p></section>",
		r->person);
	fputs("<section><h2>電子証明書の更新 (renewal, from 3 months before "
	      "expiry)</h2><p>本人確認のうえ、カードをリーダに置いてください。"
	      " (Check the identity as for an application; put the card in "
	      "the reader.)</p><form method=\"post\" "
	      "action=\"/window/renew\">",
	      f);
	http_csrf_field(f);
	person_field(f, r->person);
	type_field(f, "renew");
	identity_fields(f, "renew", srv, r->municipality_code);
	reader_field(f, srv, "renew");
	fputs("<br><button id=\"renew\">更新 (renew)</button></form>"
	      "</section>",
	      f);

	fputs("<section><h2>暗証番号の初期化・ロック解除 (PIN reset or "
	      "unlock)</h2><form method=\"post\" "
	      "action=\"/window/pin-reset\">",
	      f);
	http_csrf_field(f);
	person_field(f, r->person);
	type_field(f, "pin");
	fputs("<label for=\"pin_photo_id_address\">顔写真付き本人確認書類の"
	      "住所 (address on the photo ID)</label><input "
	      "id=\"pin_photo_id_address\" name=\"photo_id_address\" "
	      "size=\"50\"><label for=\"pin_new_pin\">新しい暗証番号 (new "
	      "PIN; empty: unlock and keep the PIN)</label><input "
	      "id=\"pin_new_pin\" name=\"new_pin\" type=\"password\">",
	      f);
	reader_field(f, srv, "pin");
	fputs("<br><button id=\"pin_reset\">初期化 (reset)</button></form>"
	      "</section>",
	      f);

	fputs("<section><h2>紛失届・故障 (loss or card-fault report)</h2>"
	      "<p>届出を受けると、この方の有効な電子証明書はすべて直ちに失効"
	      "します。 (Every valid certificate of this person is revoked "
	      "at once.)</p><form method=\"post\" "
	      "action=\"/window/report\">",
	      f);
	http_csrf_field(f);
	person_field(f, r->person);
	fputs("<button id=\"report_lost\" name=\"kind\" value=\"lost\">紛失届"
	      " (lost or stolen)</button> <button id=\"report_fault\" "
	      "name=\"kind\" value=\"card-fault\">故障 (card fault)</button>"
	      "</form></section>",
	      f);
}

void http_window_returned_form(FILE *f, const struct jpki_application *a)
{
	fputs("<h2>照会書兼回答書の持参 (the inquiry letter brought back)</h2>"
	      "<form method=\"post\" action=\"/window/returned\">",
	      f);
	http_csrf_field(f);
	fprintf(f,
		"<input type=\"hidden\" name=\"id\" value=\"%lld\">"
		"<label for=\"letter_code\">照会番号 (the code on the "
		"letter)</label><input id=\"letter_code\" name=\"code\" "
		"autocomplete=\"off\"><label for=\"document\">もう一つの書類 "
		"(another document)</label><select id=\"document\" "
		"name=\"document\"><option value=\"health-insurance-card\">"
		"健康保険証 (health insurance card)</option><option "
		"value=\"pension-book\">年金手帳 (pension book)</option>"
		"<option value=\"\">なし (none)</option></select>"
		"<br><button id=\"returned\">受付 (accept the letter)</button>"
		"</form>",
		(long long)a->id);
}

/* The page a procedure answers with: what was done (`done`, HTML already
 * escaped by the caller) or the refusal of `r`, and the way back. */
static enum MHD_Result result_page(struct MHD_Connection *conn,
				   const struct jpki_actor *who,
				   const char *title, const char *person, int r,
				   const char *done)
{
	char *buf = NULL, why[600];
	size_t len = 0;
	FILE *f;

	snprintf(why, sizeof(why), "%s", r != 0 ? jpki_err_detail() : "");
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_window_page_start(f, title, who);
	if (r != 0) {
		http_refusal(f, "受付できません (refused; nothing was done)",
			     why);
	} else {
		fputs("<section class=\"done\" id=\"done\"><h2>", f);
		http_html_escape(f, title);
		fprintf(f, "</h2><p>%s</p></section>", done);
	}
	if (person != NULL && person[0] != '\0') {
		fputs("<section><a id=\"back\" href=\"/window/resident?person=",
		      f);
		http_html_escape(f, person);
		fputs(
		    "\">住民の画面に戻る (back to the resident)</a></section>",
		    f);
	}
	return http_page_end(f, &buf, &len, conn,
			     r != 0 ? http_window_status(r) : MHD_HTTP_OK);
}

/* The card in the counter's reader for renewal and PIN reset, as
 * /window/issue opens it. */
static int counter_reader(struct jpki_reader **rd, struct jpki_http *srv,
			  const char *reader)
{
	*rd = NULL;
	if (srv->issuer == NULL)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "this server has no card-issuer key "
				    "(DATA/keys/card-issuer.key)");
	return jpki_reader_pcsc(rd, reader[0] ? reader : NULL);
}

enum MHD_Result http_window_renew(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	struct jpki_window_issue_result res;
	struct jpki_reader *rd = NULL;
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;
	char person[FIELD], type[FIELD], reader[FIELD], path[FIELD],
	    kind[FIELD], addr[FIELD], expiry[FIELD], app[FIELD], done[256];
	char *end = NULL;
	int t = 0, w = 0, r;

	memset(&res, 0, sizeof(res));
	http_field(person, FIELD, req->up, "person");
	http_field(type, FIELD, req->up, "type");
	http_field(reader, FIELD, req->up, "reader");
	http_field(path, FIELD, req->up, "path");
	http_field(kind, FIELD, req->up, "photo_id");
	http_field(addr, FIELD, req->up, "photo_id_address");
	http_field(expiry, FIELD, req->up, "photo_id_expiry");
	http_field(app, FIELD, req->up, "application");
	/* the identity check of a new issue, as the apply page sends it; a
	 * renewal without a photo ID names its READY renewal application */
	if ((r = jpki_codec_word_parse(&t, jpki_codec_type_words, type,
				       "type")) == 0 &&
	    (r = jpki_codec_word_parse(&w, jpki_codec_path_words,
				       path[0] ? path : "photo", "path")) ==
		0) {
		rr.person = person;
		rr.type = (enum jpki_cert_type)t;
		rr.path = (enum jpki_identity_path)w;
		rr.photo_id_kind = kind[0] ? kind : NULL;
		rr.photo_id_address = addr[0] ? addr : NULL;
		rr.photo_id_expiry = expiry[0] ? expiry : NULL;
		if (app[0] != '\0') {
			rr.application = strtoll(app, &end, 10);
			if (*end != '\0' || rr.application <= 0)
				r = jpki_err_set(JPKI_ERR_INVALID,
						 "application: not a number");
		}
	}
	if (r == 0 && (r = counter_reader(&rd, srv, reader)) == 0)
		r = jpki_window_renew(&res, srv->st, srv->ca, rd, srv->issuer,
				      &req->who, &rr);
	jpki_reader_free(rd);
	snprintf(done, sizeof(done),
		 "新しい証明書 <code id=\"serial\">%s</code> をカードに書き込み"
		 "ました。 (the new certificate is on the card) 手数料 (fee): "
		 "<span id=\"fee\">%d</span> 円",
		 t == JPKI_CERT_SIGN ? res.sign_serial : res.auth_serial,
		 res.fee_yen);
	return result_page(conn, &req->who, "電子証明書の更新 (renewal)",
			   person, r, done);
}

enum MHD_Result http_window_pin_reset(struct jpki_http *srv,
				      struct MHD_Connection *conn,
				      struct http_request *req)
{
	struct jpki_reader *rd = NULL;
	char person[FIELD], type[FIELD], reader[FIELD], addr[FIELD], pin[FIELD];
	int t = 0, r;

	http_field(person, FIELD, req->up, "person");
	http_field(type, FIELD, req->up, "type");
	http_field(reader, FIELD, req->up, "reader");
	http_field(addr, FIELD, req->up, "photo_id_address");
	http_field(pin, FIELD, req->up, "new_pin");
	if ((r = jpki_codec_word_parse(&t, jpki_codec_type_words, type,
				       "type")) == 0 &&
	    (r = counter_reader(&rd, srv, reader)) == 0)
		r = jpki_window_pin_reset(
		    srv->st, srv->ca, rd, srv->issuer, &req->who, person, addr,
		    (enum jpki_cert_type)t, pin[0] ? pin : NULL);
	jpki_wipe(pin, sizeof(pin));
	jpki_reader_free(rd);
	return result_page(
	    conn, &req->who, "暗証番号の初期化 (PIN reset)", person, r,
	    "暗証番号を設定し、ロックを解除しました。 (the PIN is "
	    "set and unlocked)");
}

enum MHD_Result http_window_report(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	char person[FIELD], kind[FIELD], done[160];
	size_t n = 0;
	int k = 0, r;

	http_field(person, FIELD, req->up, "person");
	http_field(kind, FIELD, req->up, "kind");
	if ((r = jpki_codec_word_parse(&k, jpki_codec_report_words, kind,
				       "kind")) == 0)
		r = jpki_window_report(&n, srv->st, srv->ca, &req->who, person,
				       (enum jpki_loss_kind)k);
	snprintf(done, sizeof(done),
		 "<span id=\"revoked\">%zu</span> 件の電子証明書を失効させ"
		 "ました。 (certificates revoked)",
		 n);
	return result_page(conn, &req->who,
			   k == JPKI_LOSS_CARD_FAULT
			       ? "故障の届出 (card-fault report)"
			       : "紛失届 (loss report)",
			   person, r, done);
}

enum MHD_Result http_window_returned(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	struct jpki_application app;
	char id[FIELD], code[FIELD], doc[FIELD], to[64];
	int r;

	http_field(id, FIELD, req->up, "id");
	http_field(code, FIELD, req->up, "code");
	http_field(doc, FIELD, req->up, "document");
	r = jpki_window_letter_returned(&app, srv->st, &req->who, atoll(id),
					code, doc);
	jpki_wipe(code, sizeof(code));
	if (r == 0) {
		snprintf(to, sizeof(to), "/window/application?id=%lld",
			 (long long)app.id);
		return http_redirect(conn, to, NULL);
	}
	return result_page(conn, &req->who, "照会書の受付 (the inquiry letter)",
			   NULL, r, "");
}

enum MHD_Result http_window_fees(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 struct http_request *req)
{
	struct jpki_fee *fees = NULL;
	char *buf = NULL, when[32];
	size_t n = 0, len = 0;
	long total = 0;
	FILE *f;
	int r;

	if ((r = jpki_window_fees_read(&fees, &n, srv->st, &req->who)) != 0)
		return result_page(conn, &req->who, "手数料 (fee ledger)", NULL,
				   r, "");
	if ((f = open_memstream(&buf, &len)) == NULL) {
		free(fees);
		return MHD_NO;
	}
	http_window_page_start(f, "手数料", &req->who);
	fputs("<section><h2>手数料の記録 (fee ledger)</h2><table "
	      "id=\"fees\"><tr><th>日時</th><th>住民</th><th>内容</th>"
	      "<th>金額</th><th>職員</th></tr>",
	      f);
	for (size_t i = 0; i < n; i++) {
		time_t jst = fees[i].at + 9 * 3600;
		struct tm tm;

		gmtime_r(&jst, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		fprintf(f, "<tr><td>%s</td><td>", when);
		http_html_escape(f, fees[i].person);
		fputs("</td><td>", f);
		http_html_escape(f, fees[i].what);
		fprintf(f, "</td><td>%d 円</td><td>", fees[i].yen);
		http_html_escape(f, fees[i].operator_id);
		fputs("</td></tr>", f);
		total += fees[i].yen;
	}
	fprintf(f,
		"</table><p>合計 (total): <span id=\"total\">%ld</span> 円"
		"</p></section>",
		total);
	free(fees);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}

static void office_row(FILE *f, const struct jpki_office *o)
{
	char limit[32];

	if (o->per_day > 0)
		snprintf(limit, sizeof(limit), "%d", o->per_day);
	else
		snprintf(limit, sizeof(limit), "制限なし (no limit)");
	fputs("<tr><td>", f);
	http_html_escape(f, o->code);
	fputs("</td><td>", f);
	http_html_escape(f, o->name);
	fprintf(f,
		"%s</td><td>%02d:%02d–%02d:%02d</td><td>%d</td>"
		"<td>%d / %s</td><td>%s</td></tr>",
		o->main ? " (main office)" : "", o->open_minute / 60,
		o->open_minute % 60, o->close_minute / 60, o->close_minute % 60,
		o->counters, o->used_today, limit,
		o->may_issue ? "交付する (issues)"
			     : "交付しない (no issue: 本庁のみ)");
}

static void office_select(FILE *f, const struct jpki_office *list, size_t n,
			  const char *form, const char *mine)
{
	fprintf(f,
		"<label for=\"%s_office\">庁舎 (office)</label><select "
		"id=\"%s_office\" name=\"office\">",
		form, form);
	for (size_t i = 0; i < n; i++) {
		fputs("<option value=\"", f);
		http_html_escape(f, list[i].code);
		fputs(strcmp(list[i].code, mine) == 0 ? "\" selected>" : "\">",
		      f);
		http_html_escape(f, list[i].name);
		fputs("</option>", f);
	}
	fputs("</select>", f);
}

/* The offices of the clerk's municipality, with today's use and the forms
 * that set an office's hours, capacity and counters. */
static enum MHD_Result offices_page(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    const struct jpki_actor *who, int r,
				    const char *done)
{
	struct jpki_office *list = NULL;
	char *buf = NULL, why[600], mine[16];
	size_t n = 0, len = 0;
	FILE *f;
	int lr;

	snprintf(why, sizeof(why), "%s", r != 0 ? jpki_err_detail() : "");
	if ((lr = jpki_window_offices(&list, &n, srv->st,
				      who->municipality_code)) != 0)
		return result_page(conn, who, "本庁・支所 (offices)", NULL, lr,
				   "");
	snprintf(mine, sizeof(mine), "%s",
		 who->office_code[0] ? who->office_code
				     : who->municipality_code);
	if ((f = open_memstream(&buf, &len)) == NULL) {
		free(list);
		return MHD_NO;
	}
	http_window_page_start(f, "本庁・支所", who);
	if (r != 0)
		http_refusal(f, "設定できません (refused; nothing was changed)",
			     why);
	else if (done != NULL)
		fprintf(f,
			"<section class=\"done\" id=\"done\"><p>%s</p>"
			"</section>",
			done);
	fputs("<section><h2>本庁・支所・出張所 (offices)</h2><table "
	      "id=\"offices\"><tr><th>コード</th><th>名称</th><th>受付時間"
	      "</th><th>窓口数</th><th>本日の交付 / 上限 (today / a day)</th>"
	      "<th>証明書の交付</th></tr>",
	      f);
	for (size_t i = 0; i < n; i++)
		office_row(f, &list[i]);
	fputs("</table></section>", f);

	fputs("<section><h2>受付時間 (reception hours)</h2><form "
	      "method=\"post\" action=\"/window/office\">",
	      f);
	http_csrf_field(f);
	fputs("<input type=\"hidden\" name=\"what\" value=\"hours\">", f);
	office_select(f, list, n, "hours", mine);
	fputs("<label for=\"hours_open\">開庁 (opens, HH:MM)</label><input "
	      "id=\"hours_open\" name=\"open\" placeholder=\"08:30\">"
	      "<label for=\"hours_close\">閉庁 (closes, HH:MM)</label><input "
	      "id=\"hours_close\" name=\"close\" placeholder=\"17:15\">"
	      "<br><button id=\"set_hours\">設定 (set)</button></form>"
	      "</section>",
	      f);

	fputs("<section><h2>1日の交付上限 (daily capacity)</h2><form "
	      "method=\"post\" action=\"/window/office\">",
	      f);
	http_csrf_field(f);
	fputs("<input type=\"hidden\" name=\"what\" value=\"capacity\">", f);
	office_select(f, list, n, "capacity", mine);
	fputs("<label for=\"capacity_per_day\">証明書の枚数 (certificates a "
	      "day; 0: no limit)</label><input id=\"capacity_per_day\" "
	      "name=\"per_day\" inputmode=\"numeric\">"
	      "<br><button id=\"set_capacity\">設定 (set)</button></form>"
	      "</section>",
	      f);

	fputs("<section><h2>窓口数 (counters)</h2><form method=\"post\" "
	      "action=\"/window/office\">",
	      f);
	http_csrf_field(f);
	fputs("<input type=\"hidden\" name=\"what\" value=\"counters\">", f);
	office_select(f, list, n, "counters", mine);
	fputs("<label for=\"counters_n\">窓口の数 (counters)</label><input "
	      "id=\"counters_n\" name=\"counters\" inputmode=\"numeric\">"
	      "<br><button id=\"set_counters\">設定 (set)</button></form>"
	      "</section>",
	      f);
	free(list);
	return http_page_end(f, &buf, &len, conn,
			     r != 0 ? http_window_status(r) : MHD_HTTP_OK);
}

static int parse_minute(int *out, const char *s)
{
	int h, m;
	char extra;

	if (sscanf(s, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 ||
	    m < 0 || m > 59 || h * 60 + m > 24 * 60)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "reception hours are HH:MM, e.g. 08:30");
	*out = h * 60 + m;
	return 0;
}

static int parse_number(int *out, const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%s is a number from 0 to 1000000", what);
	*out = (int)v;
	return 0;
}

enum MHD_Result http_window_office(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	char what[FIELD], office[FIELD], a[FIELD], b[FIELD], done[256];
	int x = 0, y = 0, r;

	if (!req->post)
		return offices_page(srv, conn, &req->who, 0, NULL);
	http_field(what, FIELD, req->up, "what");
	http_field(office, FIELD, req->up, "office");
	if (strcmp(what, "hours") == 0) {
		http_field(a, FIELD, req->up, "open");
		http_field(b, FIELD, req->up, "close");
		if ((r = parse_minute(&x, a)) == 0 &&
		    (r = parse_minute(&y, b)) == 0)
			r = jpki_window_set_hours(srv->st, &req->who, office, x,
						  y);
		snprintf(done, sizeof(done),
			 "受付時間を %02d:%02d–%02d:%02d にしました。 (hours "
			 "set)",
			 x / 60, x % 60, y / 60, y % 60);
	} else if (strcmp(what, "capacity") == 0) {
		http_field(a, FIELD, req->up, "per_day");
		if ((r = parse_number(&x, a, "the daily capacity")) == 0)
			r = jpki_window_set_capacity(srv->st, &req->who, office,
						     x);
		snprintf(done, sizeof(done),
			 "1日の交付上限を %d にしました。 (capacity set)", x);
	} else if (strcmp(what, "counters") == 0) {
		http_field(a, FIELD, req->up, "counters");
		if ((r = parse_number(&x, a, "the number of counters")) == 0)
			r = jpki_window_set_counters(srv->st, &req->who, office,
						     x);
		snprintf(done, sizeof(done),
			 "窓口数を %d にしました。 (counters set)", x);
	} else {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "set the hours, the capacity or the "
				 "counters");
	}
	return offices_page(srv, conn, &req->who, r, done);
}
