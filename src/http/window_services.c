/*
 * The clerk's pages and API rows of the registry's services at the counter
 * (services/copy.c, services/move.c; docs/REGISTRY.md): the copy of the
 * residence certificate of a resident of any municipality (広域交付), the
 * move-out notice received by post and the move-in with the card
 * (転入転出の特例), a move's state, and seal registration (印鑑登録: the
 * seal's scanned image as the file of a multipart form, multipart.c) and
 * its cancellation. Each calls the services module's own function, so the
 * rules, sentences and audit entries are the CLI's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "http/http_internal.h"
#include "jpki/audit.h"
#include "jpki/services.h"
#include "jpki/window.h"

#define FIELD (HTTP_FIELD_MAX + 1) /* the longest form field kept */

static void input(FILE *f, const char *id, const char *label)
{
	fprintf(f,
		"<label for=\"%s\">%s</label><input id=\"%s\" name=\"%s\" "
		"size=\"50\">",
		id, label, id, id);
}

enum MHD_Result http_window_services(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)srv;
	if (f == NULL)
		return MHD_NO;
	http_window_page_start(
	    f, "広域交付・転入転出の特例・印鑑登録 (services)", &req->who);
	fputs("<section><h2>住民票の写しの広域交付 (a copy for a resident of "
	      "any municipality)</h2><p>住民票コードと、登録された住所の顔写真"
	      "付き本人確認書類で交付します。本籍は記載されません。 (The "
	      "resident code and a photo ID showing the registered address; "
	      "no 本籍 is printed.)</p><form method=\"post\" "
	      "action=\"/window/residence-copy\">",
	      f);
	http_csrf_field(f);
	input(f, "person", "住民票コード (resident code)");
	input(f, "photo_id_address", "書類の住所 (address on the photo ID)");
	fputs("<br><button id=\"residence_copy\">交付 (issue the copy, PDF)"
	      "</button></form></section>",
	      f);

	fputs("<section><h2>転出届の受付（郵送） (a move-out notice received "
	      "by post)</h2><form method=\"post\" action=\"/window/move-out\">",
	      f);
	http_csrf_field(f);
	input(f, "person", "住民票コード (resident code)");
	input(f, "to", "転出先の市区町村コード (destination code)");
	input(f, "to_prefecture", "転出先の都道府県 (prefecture)");
	input(f, "to_municipality", "転出先の市区町村 (municipality)");
	input(f, "to_address", "転出先の住所 (new address)");
	input(f, "arrival", "転出予定日 (day of arrival, YYYY-MM-DD)");
	fputs("<br><button id=\"move_out\">受付 (record)</button></form>"
	      "</section>",
	      f);

	fputs("<section><h2>転入届（特例） (the move-in with the card, within "
	      "14 days)</h2><p>カードをリーダに置いてください。 (Put the "
	      "resident's card in the reader.)</p><form method=\"post\" "
	      "action=\"/window/move-in\">",
	      f);
	http_csrf_field(f);
	input(f, "person", "住民票コード (resident code)");
	fputs("<label for=\"reader\">カードリーダ (reader)</label><input "
	      "id=\"reader\" name=\"reader\" value=\"",
	      f);
	http_html_escape(f, srv->counter_reader ? srv->counter_reader : "");
	fputs("\"><br><button id=\"move_in\">転入 (move in)</button></form>"
	      "</section>",
	      f);

	/* a plain file input: the browser sends the image's bytes as they
	 * are, in a multipart form that carries the CSRF token too */
	fprintf(f,
		"<section><h2>印鑑登録 (seal registration)</h2><p>印影の画像"
		"（PNG、%d KiB まで、一辺 %d〜%d ピクセル）と、登録された住所の"
		"顔写真付き本人確認書類で登録します。 (The seal's scanned "
		"impression as a PNG of at most %d KiB, and a photo ID showing "
		"the registered address.)</p><form method=\"post\" "
		"action=\"/window/seal/register\" "
		"enctype=\"multipart/form-data\">",
		JPKI_SEAL_IMAGE_MAX / 1024, JPKI_SEAL_SIDE_MIN,
		JPKI_SEAL_SIDE_MAX, JPKI_SEAL_IMAGE_MAX / 1024);
	http_csrf_field(f);
	input(f, "person", "住民票コード (resident code)");
	input(f, "photo_id_address", "書類の住所 (address on the photo ID)");
	fputs("<label for=\"image\">印影の画像 (the seal's image, PNG)</label>"
	      "<input id=\"image\" name=\"image\" type=\"file\" "
	      "accept=\"image/png\"><br><button id=\"seal_register\">登録 "
	      "(register)</button></form></section>",
	      f);

	fputs("<section><h2>印鑑登録の廃止 (cancel a seal)</h2><form "
	      "method=\"post\" action=\"/window/seal/cancel\">",
	      f);
	http_csrf_field(f);
	input(f, "person", "住民票コード (resident code)");
	input(f, "reason", "廃止の理由 (reason: lost, changed, ...)");
	fputs("<br><button id=\"seal_cancel\">廃止 (cancel)</button></form>"
	      "</section>",
	      f);

	fputs("<section><h2>転出・転入の状況 (a move's state)</h2><form "
	      "method=\"get\" action=\"/window/move-status\">",
	      f);
	input(f, "person", "住民票コード (resident code)");
	fputs("<br><button id=\"move_status\">表示 (show)</button></form>"
	      "</section>",
	      f);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}

/* What a move procedure answers: the move's state, or the refusal under
 * the heading `refused`. */
static enum MHD_Result move_page(struct MHD_Connection *conn,
				 const struct jpki_actor *who,
				 const char *title, const char *refused,
				 int r, const struct jpki_move *m)
{
	char *buf = NULL, why[600], arrival[11];
	size_t len = 0;
	FILE *f;

	snprintf(why, sizeof(why), "%s", r != 0 ? jpki_err_detail() : "");
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_window_page_start(f, title, who);
	if (r != 0) {
		http_refusal(f, refused, why);
	} else {
		jpki_date_format(&m->arrival, arrival);
		fputs("<section class=\"done\" id=\"done\"><h2>", f);
		http_html_escape(f, title);
		fprintf(f, "</h2><p>move <span id=\"move\">%lld</span>: ",
			(long long)m->id);
		http_html_escape(f, m->person);
		fprintf(f, " %s → %s (", m->from_code, m->to_code);
		http_html_escape(f, m->to_prefecture);
		http_html_escape(f, m->to_municipality);
		fprintf(f,
			"), arrival %s, via %s</p><p id=\"state\" "
			"data-state=\"%s\">",
			arrival, jpki_move_via_name(m->via),
			jpki_move_state_name(m->state));
		http_html_escape(f, jpki_move_state_sentence(m->state));
		fputs("</p></section>", f);
	}
	fputs("<section><a id=\"back\" href=\"/window/services\">戻る "
	      "(back)</a></section>",
	      f);
	return http_page_end(f, &buf, &len, conn,
			     r != 0 ? http_window_status(r) : MHD_HTTP_OK);
}

/* A fresh copy number: "W" (a window's) and 12 hex digits. */
static int copy_number(char out[32])
{
	unsigned char rnd[6];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	snprintf(out, 32, "W%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5]);
	return 0;
}

/* The copy as PDF bytes: the services' check and record, then the paper,
 * naming the clerk's office as the issuing window. */
static int residence_copy(unsigned char **pdf, size_t *len, char number[32],
			  struct jpki_http *srv, const struct jpki_actor *who,
			  const char *person, const char *photo_id_address)
{
	struct jpki_resident res;
	struct jpki_office office;
	char issuer[160];
	int r;

	*pdf = NULL;
	*len = 0;
	if ((r = copy_number(number)) != 0 ||
	    (r = jpki_services_copy_any(&res, srv->st, who, person,
					photo_id_address, number)) != 0)
		return r;
	if (jpki_window_office_get(&office, srv->st, who->municipality_code) ==
		0 &&
	    office.name[0] != '\0')
		snprintf(issuer, sizeof(issuer), "%s", office.name);
	else
		snprintf(issuer, sizeof(issuer), "市区町村コード%.8s",
			 who->municipality_code);
	jpki_err_clear();
	return jpki_window_residence_copy_any_pdf(pdf, len, &res, number,
						  jpki_clock_now(), issuer);
}

enum MHD_Result http_window_residence_copy(struct jpki_http *srv,
					   struct MHD_Connection *conn,
					   struct http_request *req)
{
	char person[FIELD], addr[FIELD], number[32], *buf = NULL;
	unsigned char *pdf = NULL;
	size_t len = 0;
	enum MHD_Result ret;
	FILE *f;
	int r;

	http_field(person, FIELD, req->up, "person");
	http_field(addr, FIELD, req->up, "photo_id_address");
	if ((r = residence_copy(&pdf, &len, number, srv, &req->who, person,
				addr)) == 0) {
		ret = http_send(conn, MHD_HTTP_OK, "application/pdf", pdf, len,
				"no-store");
		free(pdf);
		return ret;
	}
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_window_page_start(f, "住民票の写し（広域交付）", &req->who);
	http_refusal(f, "交付できません (refused; nothing was issued)",
		     jpki_err_detail());
	return http_page_end(f, &buf, &len, conn, http_window_status(r));
}

enum MHD_Result http_window_move_out(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	char person[FIELD], to[FIELD], pref[FIELD], mun[FIELD], addr[FIELD],
	    arrival[FIELD];
	struct jpki_move_notice n = {.via = JPKI_MOVE_VIA_POST};
	struct jpki_move m;
	int64_t id = 0;
	int r;

	memset(&m, 0, sizeof(m));
	http_field(person, FIELD, req->up, "person");
	http_field(to, FIELD, req->up, "to");
	http_field(pref, FIELD, req->up, "to_prefecture");
	http_field(mun, FIELD, req->up, "to_municipality");
	http_field(addr, FIELD, req->up, "to_address");
	http_field(arrival, FIELD, req->up, "arrival");
	n.to_code = to;
	n.to_prefecture = pref;
	n.to_municipality = mun;
	n.to_address = addr;
	if (jpki_date_parse(&n.arrival, arrival) != 0)
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the day of arrival is YYYY-MM-DD");
	else if ((r = jpki_services_move_out(&id, srv->st, &req->who, NULL,
					     person, &n)) == 0)
		r = jpki_services_move_get(&m, srv->st, &req->who, person);
	return move_page(conn, &req->who, "転出届の受付 (move-out recorded)",
			 "受付できません (refused)", r, &m);
}

enum MHD_Result http_window_move_in(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req)
{
	struct jpki_reader *rd = NULL;
	struct jpki_move m;
	char person[FIELD], reader[FIELD], holder[64];
	int r;

	memset(&m, 0, sizeof(m));
	http_field(person, FIELD, req->up, "person");
	http_field(reader, FIELD, req->up, "reader");
	if ((r = jpki_reader_pcsc(&rd, reader[0] ? reader : NULL)) == 0 &&
	    (r = jpki_window_card_holder(holder, rd, srv->ca)) == 0)
		r = jpki_services_move_in(&m, srv->st, &req->who, person,
					  holder);
	jpki_reader_free(rd);
	return move_page(conn, &req->who, "転入届（特例） (moved in)",
			 "転入できません (refused)", r, &m);
}

enum MHD_Result http_window_move_status(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	const char *person = http_query(conn, "person");
	struct jpki_move m;
	int r;

	memset(&m, 0, sizeof(m));
	r = jpki_services_move_get(&m, srv->st, &req->who,
				   person ? person : "");
	return move_page(conn, &req->who, "転出・転入の状況 (a move's state)",
			 "表示できません (refused)", r, &m);
}

/* ---- seal registration (印鑑登録) ------------------------------------------
 */

/* What a seal procedure answers: the seal, or the refusal under the
 * heading `refused` (a file over the cap: 413). */
static enum MHD_Result seal_page(struct MHD_Connection *conn,
				 const struct jpki_actor *who,
				 const char *title, const char *refused, int r,
				 const struct jpki_seal *s)
{
	char *buf = NULL, why[600];
	size_t len = 0;
	FILE *f;

	snprintf(why, sizeof(why), "%s", r != 0 ? jpki_err_detail() : "");
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_window_page_start(f, title, who);
	if (r != 0) {
		http_refusal(f, refused, why);
	} else {
		struct jpki_date d = jpki_date_of(s->state == JPKI_SEAL_ACTIVE
						      ? s->registered_at
						      : s->cancelled_at);
		char day[11];

		jpki_date_format(&d, day);
		fputs("<section class=\"done\" id=\"done\"><h2>", f);
		http_html_escape(f, title);
		fputs("</h2><p>登録番号 (registration number) <span "
		      "id=\"seal_number\">",
		      f);
		http_html_escape(f, s->number);
		fputs("</span>: ", f);
		http_html_escape(f, s->person);
		fprintf(f,
			", %u x %u px, SHA-256 %.16s…</p><p id=\"state\" "
			"data-state=\"%s\">%s %s",
			s->width, s->height, s->image_sha256,
			s->state == JPKI_SEAL_ACTIVE ? "active" : "cancelled",
			s->state == JPKI_SEAL_ACTIVE
			    ? "登録しました (registered)"
			    : "廃止しました (cancelled)",
			day);
		if (s->state != JPKI_SEAL_ACTIVE) {
			fputs(": ", f);
			http_html_escape(f, s->cancel_reason);
		}
		fputs("</p></section>", f);
	}
	fputs("<section><a id=\"back\" href=\"/window/services\">戻る "
	      "(back)</a></section>",
	      f);
	return http_page_end(f, &buf, &len, conn,
			     r == JPKI_ERR_TOO_LARGE
				 ? MHD_HTTP_CONTENT_TOO_LARGE
			     : r != 0 ? http_window_status(r)
				      : MHD_HTTP_OK);
}

enum MHD_Result http_window_seal_register(struct jpki_http *srv,
					  struct MHD_Connection *conn,
					  struct http_request *req)
{
	struct http_multipart mp;
	struct jpki_seal seal;
	const char *person, *addr;
	int r;

	memset(&seal, 0, sizeof(seal));
	/* the table checked the Origin and the CSRF part; the image is
	 * kept up to the services' own cap, and checked there (libpng) */
	if ((r = http_multipart_parse(&mp, conn, req->up, "image",
				      JPKI_SEAL_IMAGE_MAX)) == 0) {
		person = http_multipart_value(&mp, "person");
		addr = http_multipart_value(&mp, "photo_id_address");
		if (mp.file_len == 0)
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "choose the file of the seal's image "
					 "(PNG)");
		else
			r = jpki_services_seal_register(
			    &seal, srv->st, &req->who, person ? person : "",
			    addr ? addr : "", mp.file, mp.file_len);
		http_multipart_free(&mp);
	}
	if (r != 0)
		jpki_log(JPKI_LOG_INFO, "window: seal registration refused: %s",
			 jpki_err_detail());
	return seal_page(conn, &req->who, "印鑑登録 (seal registered)",
			 "登録できません (refused; nothing was registered)", r,
			 &seal);
}

enum MHD_Result http_window_seal_cancel(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	char person[FIELD], reason[FIELD];
	struct jpki_seal seal;
	int r;

	memset(&seal, 0, sizeof(seal));
	http_field(person, FIELD, req->up, "person");
	http_field(reason, FIELD, req->up, "reason");
	r = jpki_services_seal_cancel(&seal, srv->st, &req->who, person,
				      reason);
	return seal_page(conn, &req->who, "印鑑登録の廃止 (seal cancelled)",
			 "廃止できません (refused)", r, &seal);
}

/* ---- the JSON API ----------------------------------------------------------
 */

static enum MHD_Result api_answer(struct MHD_Connection *conn, int r, json_t *o)
{
	char *text;

	if (r != 0) {
		json_decref(o);
		return http_api_error(conn, http_window_status(r),
				      jpki_err_detail(), NULL);
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return http_send_json(conn, MHD_HTTP_OK, text);
}

static json_t *move_json(const struct jpki_move *m)
{
	char arrival[11];

	jpki_date_format(&m->arrival, arrival);
	return json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
	    (json_int_t)m->id, "person", m->person, "from", m->from_code, "to",
	    m->to_code, "arrival", arrival, "via", jpki_move_via_name(m->via),
	    "state", jpki_move_state_name(m->state), "explanation",
	    jpki_move_state_sentence(m->state), "to_address", m->to_address);
}

/* A string member of the body, or NULL. */
static const char *member(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The body as a JSON object (a form-encoded body is no API call). */
static int api_body(json_t **out, const struct upload *up)
{
	json_error_t e;

	*out = NULL;
	if (up == NULL || up->len == 0 ||
	    (*out = json_loadb((const char *)up->data, up->len, 0, &e)) ==
		NULL ||
	    !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the body must be a JSON object");
	}
	return 0;
}

/* POST /api/window/residence-copy {"person","photo_id_address"}:
 * {"number","pdf" (base64)} */
enum MHD_Result http_api_residence_copy(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	json_t *body = NULL, *o = NULL;
	unsigned char *pdf = NULL, *b64 = NULL;
	size_t len = 0;
	char number[32];
	int r;

	if ((r = api_body(&body, req->up)) == 0 &&
	    (r = residence_copy(&pdf, &len, number, srv, &req->who,
				member(body, "person"),
				member(body, "photo_id_address"))) == 0) {
		if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
			r = JPKI_ERR_NOMEM;
		else {
			EVP_EncodeBlock(b64, pdf, (int)len);
			o = json_pack("{s:s, s:s, s:s}", "result", "ok",
				      "number", number, "pdf", (char *)b64);
		}
	}
	free(b64);
	free(pdf);
	json_decref(body);
	return api_answer(conn, r, o);
}

/* POST /api/window/move-out {"person","to","to_prefecture",
 * "to_municipality","to_address","arrival"}: the move */
enum MHD_Result http_api_move_out(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	struct jpki_move_notice n = {.via = JPKI_MOVE_VIA_POST};
	json_t *body = NULL, *o = NULL;
	struct jpki_move m;
	const char *arrival;
	int64_t id = 0;
	int r;

	if ((r = api_body(&body, req->up)) == 0) {
		n.to_code = member(body, "to");
		n.to_prefecture = member(body, "to_prefecture");
		n.to_municipality = member(body, "to_municipality");
		n.to_address = member(body, "to_address");
		arrival = member(body, "arrival");
		if (arrival == NULL ||
		    jpki_date_parse(&n.arrival, arrival) != 0)
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "arrival is YYYY-MM-DD");
		else if ((r = jpki_services_move_out(
			      &id, srv->st, &req->who, NULL,
			      member(body, "person"), &n)) == 0 &&
			 (r = jpki_services_move_get(&m, srv->st, &req->who,
						     member(body, "person"))) ==
			     0)
			o = move_json(&m);
	}
	json_decref(body);
	return api_answer(conn, r, o);
}

/* GET /api/window/move?person=: the person's latest move */
enum MHD_Result http_api_move_status(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	const char *person = http_query(conn, "person");
	json_t *o = NULL;
	struct jpki_move m;
	int r;

	if ((r = jpki_services_move_get(&m, srv->st, &req->who,
					person ? person : "")) == 0)
		o = move_json(&m);
	return api_answer(conn, r, o);
}
