/*
 * The portal role of `jpki serve`: an agency's site that takes online
 * applications signed with the card (公的個人認証サービスを利用する行政機関
 * のサイト), in the seven steps of SPEC section 4 (seed 004):
 *
 *   1. /portal                 choose the procedure
 *   2. /portal/form?proc=...   fill in the form
 *   3-4. /portal/application   the application text to download and sign
 *                              with the card: jpki sign application.txt
 *                              --to agency.crt (/portal/agency.crt)
 *   5. /portal/submit          send the signed, encrypted file (.p7m) with
 *                              the form's name and address (multipart)
 *   3-5 in the page:           "電子署名" hashes the application's bytes
 *                              and has the card sign the hash through the
 *                              browser bridge (/portal/portal.js, the PIN
 *                              asked by the bridge's own prompt); "送信"
 *                              has the bridge's host encrypt the signed
 *                              application for /portal/agency.crt (op
 *                              "seal") and posts that .p7m as the file
 *                              (docs/BROWSER.md, "The portal")
 *   6. the agency decrypts and verifies it (jpki_verify_application)
 *   7. the receipt page: a receipt number, or the reasons it was refused
 *
 * /portal/inbox shows the agency every submission, behind an operator
 * log-in (a CA officer: the operators of the audit module). Pages are
 * forms; the one script is the application page's own, from this origin
 * under a CSP allowing only self. A POST from a page of another origin
 * (its Origin header) is refused. The multipart body is parsed by
 * libmicrohttpd's post processor, not here. The agency's key and the
 * submissions it keeps are the agency module's (jpki/agency.h): this file
 * holds the pages only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http/http_internal.h"
#include "jpki/agency.h"
#include "jpki/audit.h"
#include "jpki/services.h"
#include "jpki/verify.h"

#define FIELD (HTTP_FIELD_MAX + 1) /* the longest form field kept */
#define NFIELDS 3 /* the fields of a procedure beyond name and address */
#define SITE "公的個人認証サービス — 行政機関のオンライン申請 (agency portal)"
#define COLOUR "#1e5631"

/* What the agency offers. A real agency has its own list; these three are
 * the ones the service's leaflets name. */
static const struct procedure {
	const char *id, *title, *english;
	struct {
		const char *key, *label;
	} fields[NFIELDS];
} procedures[] = {
    {"moving",
     "転居届",
     "notice of moving",
     {{"new_address", "新しい住所 (new address)"},
      {"moving_date", "転居日 (date of moving, YYYY-MM-DD)"},
      {"household_head", "世帯主 (head of household)"}}},
    /* 転入転出の特例: the move-out handed to the registry (services) */
    {"move-out",
     "転出届（マイナンバーカードによる転入手続の特例）",
     "notice of moving out (simplified move for card holders)",
     {{"to", JPKI_MOVE_LABEL_TO},
      {"to_address", JPKI_MOVE_LABEL_ADDRESS},
      {"arrival", JPKI_MOVE_LABEL_ARRIVAL}}},
    {"tax-certificate",
     "納税証明書の交付請求",
     "request for a tax payment certificate",
     {{"tax_year", "年度 (fiscal year)"},
      {"tax_kind", "税目 (tax)"},
      {"purpose", "使用目的 (purpose)"}}},
    {"vehicle",
     "自動車保有関係手続",
     "car ownership procedures",
     {{"registration_number", "自動車登録番号 (registration number)"},
      {"chassis_number", "車台番号 (chassis number)"},
      {"parking_place", "保管場所 (parking place)"}}},
};

/* A filled-in form: the procedure, name, address and its fields. */
struct form {
	const struct procedure *proc;
	char name[FIELD], address[FIELD];
	char birth[FIELD], sex[FIELD]; /* optional: matched when given */
	char values[NFIELDS][FIELD];
};

static const struct procedure *procedure_of(const char *id)
{
	for (size_t i = 0; i < sizeof(procedures) / sizeof(procedures[0]); i++)
		if (strcmp(procedures[i].id, id) == 0)
			return &procedures[i];
	return NULL;
}

/* The application text is line-based: a field must be one line. */
static int one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int form_check(const struct form *fm)
{
	if (fm->proc == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "choose one of the procedures first");
	if (fm->name[0] == '\0' || fm->address[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the name and the address must be filled "
				    "in");
	if (!one_line(fm->name) || !one_line(fm->address) ||
	    !one_line(fm->birth) || !one_line(fm->sex))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the name, date of birth, sex and address "
				    "must each be one line");
	for (int i = 0; i < NFIELDS; i++)
		if (!one_line(fm->values[i]))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "%s must be one line",
					    fm->proc->fields[i].label);
	return 0;
}

/*
 * The application as the resident signs it: UTF-8 lines "label: value".
 * The agency reads back the same lines from the signed content, so the
 * form and the signed text can be compared.
 */
static char *application_text(const struct form *fm, time_t now)
{
	struct jpki_date d = jpki_date_of(now);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	fprintf(f,
		"電子申請書 (online application)\n"
		"手続 (procedure): %s (%s)\n"
		"手続コード (procedure code): %s\n"
		"作成日 (date): %04d-%02d-%02d\n"
		"氏名 (name): %s\n"
		"住所 (address): %s\n",
		fm->proc->title, fm->proc->english, fm->proc->id, d.year,
		d.month, d.day, fm->name, fm->address);
	if (fm->birth[0] != '\0')
		fprintf(f, "生年月日 (date of birth): %s\n", fm->birth);
	if (fm->sex[0] != '\0')
		fprintf(f, "性別 (sex): %s\n", fm->sex);
	for (int i = 0; i < NFIELDS; i++)
		fprintf(f, "%s: %s\n", fm->proc->fields[i].label,
			fm->values[i]);
	fputs("上記のとおり申請します。 (I apply as above.)\n", f);
	fclose(f);
	return buf;
}

/* ---- the submissions ----------------------------------------------------- */

/* What the agency concluded about one submission. */
struct check {
	enum jpki_agency_verdict verdict;
	char serial[41];
	char *report;  /* for the inbox; malloc'd */
	char *reasons; /* for the resident when refused; malloc'd */
	/* receipt evidence when accepted (malloc'd) */
	uint8_t *signed_data;
	size_t signed_data_len;
	uint8_t *ocsp;
	size_t ocsp_len;
	time_t status_time;
	uint8_t *content; /* the signed text, for procedures that read it */
	size_t content_len;
};

static void check_free(struct check *c)
{
	free(c->report);
	free(c->reasons);
	free(c->signed_data);
	free(c->ocsp);
	free(c->content);
}

/*
 * 1 when the signed text holds the line "<label>: <value>" (the procedure
 * the form names). The content is untrusted bytes of any shape: it is only
 * compared, within its length.
 */
static int content_has_line(const uint8_t *content, size_t len,
			    const char *line)
{
	size_t n = strlen(line), pos = 0;

	while (pos < len) {
		const uint8_t *eol = memchr(content + pos, '\n', len - pos);
		size_t l = eol ? (size_t)(eol - (content + pos)) : len - pos;

		if (l > 0 && content[pos + l - 1] == '\r')
			l--;
		if (l == n && memcmp(content + pos, line, n) == 0)
			return 1;
		pos += (eol ? (size_t)(eol - (content + pos)) + 1 : len - pos);
	}
	return 0;
}

/*
 * OCSP from the CA of the installation, asked in-process: the agency
 * runs beside it, and gets the same signed response the responder would
 * send, which it keeps as its receipt evidence.
 */
static int ca_ocsp(void *arg, const uint8_t *req, size_t req_len,
		   uint8_t **resp, size_t *resp_len)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int r = jpki_ca_ocsp_respond(&der, &len, arg, req, req_len);

	*resp = NULL;
	*resp_len = 0;
	if (r != 0)
		return r;
	if ((*resp = malloc(len ? len : 1)) == NULL) {
		free(der);
		return JPKI_ERR_NOMEM;
	}
	memcpy(*resp, der, len);
	*resp_len = len;
	free(der);
	return 0;
}

/*
 * Step 6: the agency decrypts the file with its key and checks the
 * signature, the signing certificate (profile, chain to the signing CA,
 * validity, revocation) and the match of its facts with the form's name
 * and address (jpki_verify_application, every reason collected), and that
 * the signed text is an application for the procedure the form names.
 */
static int verify_submission(struct check *out, struct jpki_http *srv,
			     const struct form *fm, const unsigned char *p7m,
			     size_t len)
{
	struct jpki_verify_options opts = JPKI_VERIFY_OPTIONS_INIT;
	struct jpki_verify_report rep;
	/* every CA generation not yet retired (the verifier picks one by
	 * key identifier) */
	X509 *anchors[8];
	size_t n_anchors = jpki_ca_certs(anchors, 8, srv->ca, JPKI_CERT_SIGN);
	char *json = NULL, *line = NULL, *reasons = NULL;
	size_t rlen = 0;
	FILE *f = NULL;
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	memset(&rep, 0, sizeof(rep));
	opts.anchors = anchors;
	opts.n_anchors = n_anchors;
	opts.agency_key = srv->agency_key;
	opts.agency_cert = srv->agency_cert;
	opts.form_name = fm->name;
	opts.form_address = fm->address;
	opts.form_birth = fm->birth[0] ? fm->birth : NULL;
	opts.form_sex = fm->sex[0] ? fm->sex : NULL;
	opts.ocsp_ask = ca_ocsp;
	opts.ocsp_ask_arg = srv->ca;
	opts.offline = 1;
	opts.keep_evidence = 1;
	if ((r = jpki_verify_application(&rep, &opts, p7m, len)) != 0)
		goto out;
	if ((f = open_memstream(&reasons, &rlen)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < rep.n_reasons; i++)
		fprintf(f, "%s%s", i ? " " : "", rep.reasons[i].text);
	if (asprintf(&line, "手続コード (procedure code): %s", fm->proc->id) <
	    0) {
		line = NULL;
		fclose(f);
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (rep.content != NULL &&
	    !content_has_line(rep.content, rep.content_len, line))
		fprintf(f, "%sthe signed application is not one for %s (%s).",
			rep.n_reasons ? " " : "", fm->proc->english,
			fm->proc->title);
	fclose(f);
	out->verdict =
	    rep.accepted && rlen == 0 ? JPKI_AGENCY_ACCEPTED : JPKI_AGENCY_REFUSED;
	if (rep.content != NULL && rep.content_len > 0) {
		if ((out->content = malloc(rep.content_len)) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		memcpy(out->content, rep.content, rep.content_len);
		out->content_len = rep.content_len;
	}
	snprintf(out->serial, sizeof(out->serial), "%s", rep.serial);
	if (out->verdict == JPKI_AGENCY_ACCEPTED) {
		out->signed_data = rep.signed_data;
		out->signed_data_len = rep.signed_data_len;
		out->ocsp = rep.ocsp_response;
		out->ocsp_len = rep.ocsp_response_len;
		out->status_time = rep.status_time;
		rep.signed_data = NULL;
		rep.ocsp_response = NULL;
	}
	out->reasons = reasons;
	reasons = NULL;
	if ((r = jpki_verify_report_json(&json, &rep)) != 0)
		goto out;
	/* the inbox shows the verdict and the signed text itself */
	if (asprintf(&out->report, "%s%s%s%s%.*s", json,
		     out->reasons && out->reasons[0] ? "\n" : "",
		     out->reasons ? out->reasons : "",
		     rep.content ? "\n---\n" : "",
		     rep.content ? (int)rep.content_len : 0,
		     rep.content ? (const char *)rep.content : "") < 0) {
		out->report = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		check_free(out);
	free(json);
	free(line);
	free(reasons);
	jpki_verify_report_clear(&rep);
	return r;
}

/* Records a submission with the agency (jpki_agency_submit). */
static int store_submission(char receipt[32], struct jpki_store *st,
			    const struct form *fm, const struct check *c,
			    const unsigned char *data, size_t len)
{
	struct jpki_agency_submission s = JPKI_AGENCY_SUBMISSION_INIT;

	s.proc = fm->proc->id;
	s.name = fm->name;
	s.address = fm->address;
	s.verdict = c->verdict;
	s.serial = c->serial;
	s.report = c->report;
	s.data = data;
	s.data_len = len;
	s.signed_data = c->signed_data;
	s.signed_data_len = c->signed_data_len;
	s.ocsp = c->ocsp;
	s.ocsp_len = c->ocsp_len;
	s.birth = fm->birth[0] ? fm->birth : NULL;
	s.sex = fm->sex[0] ? fm->sex : NULL;
	s.status_time = c->status_time;
	return jpki_agency_submit(receipt, st, &s);
}

/* ---- the move-out, handed to the registry ---- */

/*
 * An accepted move-out notice becomes the registry's pending move
 * (jpki_services_move_out, through the portal), with the destination read
 * from the signed text (jpki_services_move_notice_parse), never from the
 * form's fields beside it; the signer is the person the signing
 * certificate was issued to. The outcome, for the receipt page, in `msg`.
 */
static int hand_move_out(char *msg, size_t size, struct jpki_http *srv,
			 const struct check *c)
{
	struct jpki_move_notice n = {.via = JPKI_MOVE_VIA_PORTAL};
	struct jpki_move_notice_text t;
	struct jpki_cert_info *info = NULL;
	char arrival[11];
	int64_t id = 0;
	int r;

	if ((r = jpki_services_move_notice_parse(&t, c->content,
						 c->content_len)) != 0)
		goto out;
	n.to_code = t.to_code;
	n.to_prefecture = t.to_prefecture;
	n.to_municipality = t.to_municipality;
	n.to_address = t.to_address;
	n.arrival = t.arrival;
	if ((r = jpki_ca_status(&info, srv->ca, c->serial)) != 0 ||
	    (r = jpki_services_move_out(&id, srv->st, NULL, info->person,
					info->person, &n)) != 0)
		goto out;
	jpki_date_format(&t.arrival, arrival);
	snprintf(msg, size,
		 "転出届を受け付けました: move %lld is pending; move in at the "
		 "window of %s%s with the card within %d days of %s.",
		 (long long)id, t.to_prefecture, t.to_municipality,
		 JPKI_MOVE_IN_DAYS, arrival);
out:
	if (r != 0)
		snprintf(msg, size,
			 "転出届は登録されませんでした (the move-out is "
			 "not recorded): %.300s",
			 jpki_err_detail());
	jpki_cert_info_free(info);
	return r;
}

/* ---- the multipart upload ------------------------------------------------ */

/* What libmicrohttpd's post processor hands over, field by field. */
struct multipart {
	struct form fm;
	char proc[FIELD];
	unsigned char *file;
	size_t file_len;
	/* the fields of the page before "送信" encrypted: the application's
	 * bytes and its detached signature, sent in the clear */
	int plain;
	int too_long; /* a field or the file went past its cap */
};

static void append_field(char out[FIELD], int *too_long, const char *data,
			 uint64_t off, size_t size)
{
	if (off >= FIELD || size >= FIELD - off) {
		*too_long = 1;
		return;
	}
	memcpy(out + off, data, size);
	out[off + size] = '\0';
}

static enum MHD_Result multipart_field(void *cls, enum MHD_ValueKind kind,
				       const char *key, const char *filename,
				       const char *content_type,
				       const char *transfer_encoding,
				       const char *data, uint64_t off,
				       size_t size)
{
	struct multipart *mp = cls;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (strcmp(key, "file") == 0) {
		unsigned char *grown;

		/* the chunks come in order; a gap or overlap is refused */
		if (off != mp->file_len ||
		    size > JPKI_MAX_SIGNED_APP - mp->file_len) {
			mp->too_long = 1;
			return MHD_NO;
		}
		if (size == 0)
			return MHD_YES;
		if ((grown = realloc(mp->file, mp->file_len + size)) == NULL)
			return MHD_NO;
		memcpy(grown + mp->file_len, data, size);
		mp->file = grown;
		mp->file_len += size;
		return MHD_YES;
	}
	if (strcmp(key, "content") == 0 || strcmp(key, "signature") == 0) {
		/* noted, not kept: such a post is refused whole */
		mp->plain = 1;
		return MHD_YES;
	}
	if (strcmp(key, "proc") == 0)
		append_field(mp->proc, &mp->too_long, data, off, size);
	else if (strcmp(key, "name") == 0)
		append_field(mp->fm.name, &mp->too_long, data, off, size);
	else if (strcmp(key, "address") == 0)
		append_field(mp->fm.address, &mp->too_long, data, off, size);
	else if (strcmp(key, "birth") == 0)
		append_field(mp->fm.birth, &mp->too_long, data, off, size);
	else if (strcmp(key, "sex") == 0)
		append_field(mp->fm.sex, &mp->too_long, data, off, size);
	/* other fields (the procedure's own) are in the signed text */
	return mp->too_long ? MHD_NO : MHD_YES;
}

/* Parses the collected body with libmicrohttpd's post processor. */
static int multipart_parse(struct multipart *mp, struct MHD_Connection *conn,
			   const struct upload *up)
{
	struct MHD_PostProcessor *pp;
	int ok;

	memset(mp, 0, sizeof(*mp));
	if ((pp = MHD_create_post_processor(conn, 16 * 1024, multipart_field,
					    mp)) == NULL)
		return jpki_err_set(JPKI_ERR_PARSE, "the upload is not a form "
						    "(multipart/form-data)");
	ok = up->len == 0 ||
	     MHD_post_process(pp, (const char *)up->data, up->len) == MHD_YES;
	if (MHD_destroy_post_processor(pp) != MHD_YES)
		ok = 0;
	if (mp->too_long)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a field of the form is too long, or the "
				    "file is larger than %d MiB",
				    JPKI_MAX_SIGNED_APP / (1024 * 1024));
	if (!ok)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the upload is not a well-formed form");
	mp->fm.proc = procedure_of(mp->proc);
	return 0;
}

/* ---- pages --------------------------------------------------------------- */

static enum MHD_Result choose_page(struct MHD_Connection *conn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "手続の選択", SITE, COLOUR);
	fputs(
	    "<section><h2>1. 申請・届出の選択 (choose the procedure)</h2>"
	    "<p>公的個人認証サービスの署名用電子証明書で、申請書に電子署名"
	    "して送信できます。 (Sign the application with the signing "
	    "certificate on your card and send it.)</p><ul id=\"procedures\">",
	    f);
	for (size_t i = 0; i < sizeof(procedures) / sizeof(procedures[0]); i++)
		fprintf(f,
			"<li><a id=\"proc-%s\" href=\"/portal/form?proc=%s\">"
			"%s</a> (%s)</li>",
			procedures[i].id, procedures[i].id, procedures[i].title,
			procedures[i].english);
	fputs("</ul><p>必要なもの: 署名用電子証明書が記録されたカード、カード"
	      "リーダ、利用者クライアントソフト (<code>jpki</code>)。 "
	      "(You need the card, a reader and the client software.)</p>"
	      "<p><a href=\"/portal/agency.crt\">この行政機関の証明書 "
	      "(agency.crt)</a></p></section>",
	      f);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}

static void hidden(FILE *f, const char *key, const char *value)
{
	fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"", key);
	http_html_escape(f, value);
	fputs("\">", f);
}

static void text_input(FILE *f, const char *key, const char *label,
		       const char *value)
{
	fprintf(f, "<label for=\"%s\">", key);
	http_html_escape(f, label);
	fprintf(f, "</label><input id=\"%s\" name=\"%s\" size=\"50\" value=\"",
		key, key);
	http_html_escape(f, value);
	fputs("\">", f);
}

static enum MHD_Result form_page(struct MHD_Connection *conn,
				 const struct form *fm, const char *error)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (fm->proc == NULL)
		return http_redirect(conn, "/portal", NULL);
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_page_start(f, fm->proc->title, SITE, COLOUR);
	if (error != NULL)
		http_refusal(f, "入力を確認してください (check the form)",
			     error);
	fprintf(f,
		"<section><h2>2. 必要事項の記入 (fill in the form): %s</h2>"
		"<form method=\"post\" action=\"/portal/application\">",
		fm->proc->title);
	hidden(f, "proc", fm->proc->id);
	text_input(f, "name", "氏名 (name, as on your card)", fm->name);
	text_input(f, "address", "住所 (address, as on your card)",
		   fm->address);
	text_input(f, "birth",
		   "生年月日 (date of birth: 1980-06-01 or 昭和55年6月1日)",
		   fm->birth);
	text_input(f, "sex", "性別 (sex: 男 / 女, male / female)", fm->sex);
	for (int i = 0; i < NFIELDS; i++)
		text_input(f, fm->proc->fields[i].key,
			   fm->proc->fields[i].label, fm->values[i]);
	fputs("<br><button id=\"make\">申請書を作成 (make the application)"
	      "</button></form></section>",
	      f);
	return http_page_end(f, &buf, &len, conn,
			     error ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK);
}

/* RFC 3986 percent-encoding for a data: URL. */
static void percent_encode(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

/* The application page's script (docs/BROWSER.md, "The portal"): steps
 * 3-5 in the page through the browser bridge. Served from this origin
 * only; the page's CSP allows no other script. */
static const char portal_js[] =
    "'use strict';\n"
    "const $ = (id) => document.getElementById(id);\n"
    "let signature = null; // the detached CMS from 電子署名\n"
    "function say(state, text) {\n"
    "  $('sign-status').dataset.state = state;\n"
    "  $('sign-status').textContent = text;\n"
    "}\n"
    "async function esign() {\n"
    "  $('esign').disabled = true;\n"
    "  try {\n"
    "    if (document.documentElement.dataset.jpkiBridge !== '1')\n"
    "      return say('refused', 'OpenJPKIの拡張機能がありません (the "
    "OpenJPKI bridge is not installed): jpki sign をお使いください');\n"
    "    say('busy', '電子署名しています… (type the signing PIN in the "
    "prompt)');\n"
    "    // the application's canonical bytes, exactly as the agency "
    "made them\n"
    "    const bytes = Uint8Array.from(atob($('content').value), (c) => "
    "c.charCodeAt(0));\n"
    "    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', "
    "bytes));\n"
    "    const r = await jpkiBridge({ jpki: 'request', op: 'sign', hash: "
    "btoa(String.fromCharCode(...h)), hashAlgorithm: 'SHA-256', "
    "description: $('esign').dataset.description });\n"
    "    if (!r.ok) return say('refused', r.error.message + ' (' + "
    "r.error.code + ')');\n"
    "    signature = r.result.cms;\n"
    "    $('esend').disabled = false;\n"
    "    say('signed', '電子署名しました。「送信」を押してください。 "
    "(signed: press send)');\n"
    "  } catch (e) {\n"
    "    say('refused', String(e.message || e));\n"
    "  } finally {\n"
    "    $('esign').disabled = false;\n"
    "  }\n"
    "}\n"
    "// 送信 (seed 004 step 6): the application, its signature and "
    "certificate\n"
    "// encrypted for the agency. The bridge's host makes the "
    "EnvelopedData\n"
    "// (OpenSSL): this script never holds a content-encryption key.\n"
    "async function esend() {\n"
    "  $('esend').disabled = true;\n"
    "  try {\n"
    "    if (signature === null) return say('refused', "
    "'先に電子署名してください (sign first)');\n"
    "    say('busy', '行政機関あてに暗号化しています… (encrypting for the "
    "agency)');\n"
    "    const pem = await (await fetch('/portal/agency.crt', { cache: "
    "'no-store' })).text();\n"
    "    const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+\\/=\\s]+)"
    "-----END CERTIFICATE-----/.exec(pem);\n"
    "    if (m === null) return say('refused', "
    "'この行政機関の証明書を取得できません (no agency certificate)');\n"
    "    const r = await jpkiBridge({ jpki: 'request', op: 'seal', document: "
    "$('content').value, signature, recipient: m[1].replace(/\\s+/g, "
    "'') });\n"
    "    if (!r.ok) return say('refused', r.error.message + ' (' + "
    "r.error.code + ')');\n"
    "    const der = Uint8Array.from(atob(r.result.p7m), (c) => "
    "c.charCodeAt(0));\n"
    "    // posted as the file, exactly as an upload of `jpki sign --to`\n"
    "    const dt = new DataTransfer();\n"
    "    dt.items.add(new File([der], 'application.txt.p7m', { type: "
    "'application/pkcs7-mime' }));\n"
    "    $('sealed').files = dt.files;\n"
    "    say('sealed', '暗号化しました。送信しています… (encrypted for the "
    "agency: sending)');\n"
    "    $('signed-form').submit();\n"
    "  } catch (e) {\n"
    "    say('refused', String(e.message || e));\n"
    "  } finally {\n"
    "    $('esend').disabled = false;\n"
    "  }\n"
    "}\n"
    "$('esign').addEventListener('click', esign);\n"
    "$('esend').addEventListener('click', esend);\n";

/* Steps 3 to 5: the text to sign, how to sign it, and the upload. */
static enum MHD_Result application_page(struct MHD_Connection *conn,
					const struct form *fm)
{
	char *text = application_text(fm, jpki_clock_now());
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (text == NULL || (f = open_memstream(&buf, &len)) == NULL) {
		free(text);
		return MHD_NO;
	}
	http_page_start(f, fm->proc->title, SITE, COLOUR);
	fputs("<section><h2>申請書 (the application)</h2>"
	      "<pre id=\"application\">",
	      f);
	http_html_escape(f, text);
	fputs("</pre></section>"
	      "<section id=\"inpage\"><h2>3-5. 電子署名と送信 (sign and send "
	      "in the browser)</h2><p>カードをリーダにセットし、「電子署名」を"
	      "押して署名用パスワードを入力します (OpenJPKI のブラウザ拡張の画"
	      "面)。 (Put the card in the reader, press 電子署名 and type the "
	      "signing PIN in the bridge's prompt.)</p><p>「送信」を押すと、"
	      "申請書、電子署名、電子証明書が行政機関あてに暗号化されて送られ"
	      "ます。 (送信 encrypts the application, the signature and the "
	      "certificate for the agency, then sends them.)</p>"
	      "<form method=\"post\" action=\"/portal/submit\" "
	      "enctype=\"multipart/form-data\" id=\"signed-form\">",
	      f);
	hidden(f, "proc", fm->proc->id);
	hidden(f, "name", fm->name);
	hidden(f, "address", fm->address);
	hidden(f, "birth", fm->birth);
	hidden(f, "sex", fm->sex);
	{
		size_t n = strlen(text);
		unsigned char *b64 = malloc((n + 2) / 3 * 4 + 1);

		if (b64 == NULL) {
			fclose(f);
			free(buf);
			free(text);
			return MHD_NO;
		}
		EVP_EncodeBlock(b64, (const unsigned char *)text, (int)n);
		fprintf(f,
			"<input type=\"hidden\" id=\"content\" "
			"value=\"%s\">",
			b64);
		free(b64);
	}
	/* the application's bytes stay in the page (no name: never posted
	 * in the clear); the file is the .p7m 送信 has the bridge make */
	fputs("<input type=\"file\" id=\"sealed\" name=\"file\" hidden>"
	      "<button type=\"button\" id=\"esign\" data-description=\"",
	      f);
	http_html_escape(f, fm->proc->title);
	fputs("\">電子署名 (sign)</button> <button type=\"button\" "
	      "id=\"esend\" disabled>"
	      "送信 (send)</button></form><p id=\"sign-status\" "
	      "data-state=\"ready\"></p></section>"
	      "<section><h2>コマンドで署名する (or sign with the command "
	      "line)</h2>"
	      "<p><a id=\"download\" download=\"application.txt\" "
	      "href=\"data:text/plain;charset=utf-8,",
	      f);
	percent_encode(f, text);
	fputs(
	    "\">申請書をダウンロード (download application.txt)</a></p>"
	    "</section>"
	    "<section><h2>3-4. ICカードで電子署名 (sign with the card)</h2>"
	    "<ol class=\"steps\"><li>カードをリーダにセットします。 (Put the "
	    "card in the reader.)</li><li><a id=\"agency\" "
	    "href=\"/portal/agency.crt\" download=\"agency.crt\">この行政機関"
	    "の証明書 (agency.crt)</a> をダウンロードします。</li>"
	    "<li>署名用パスワードを入力して電子署名し、この行政機関あてに暗号化"
	    "します (enter the signing PIN when asked):<br>"
	    "<code>jpki sign application.txt --to agency.crt</code><br>"
	    "→ <code>application.txt.p7m</code></li></ol></section>"
	    "<section><h2>5. 送信 (send)</h2>"
	    "<form method=\"post\" action=\"/portal/submit\" "
	    "enctype=\"multipart/form-data\">",
	    f);
	hidden(f, "proc", fm->proc->id);
	hidden(f, "name", fm->name);
	hidden(f, "address", fm->address);
	hidden(f, "birth", fm->birth);
	hidden(f, "sex", fm->sex);
	fputs("<label for=\"file\">署名・暗号化した申請書 (the signed file, "
	      ".p7m)</label><input id=\"file\" name=\"file\" type=\"file\" "
	      "accept=\".p7m\" required><br><button id=\"send\">送信 (send)"
	      "</button></form></section>"
	      "<script src=\"/jpki-bridge.js\"></script>"
	      "<script src=\"/portal/portal.js\"></script></main></body>"
	      "</html>\n",
	      f);
	free(text);
	fclose(f);
	return http_send_csp(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
			     buf, len, MHD_RESPMEM_MUST_FREE, NULL);
}

/* Step 7: the receipt, or why the agency cannot accept the application. */
static enum MHD_Result receipt_page(struct MHD_Connection *conn,
				    const struct form *fm, const char *receipt,
				    const struct check *c, const char *handed)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned status = MHD_HTTP_OK;

	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "受付結果", SITE, COLOUR);
	switch (c->verdict) {
	case JPKI_AGENCY_ACCEPTED:
		fputs("<section class=\"done\" id=\"accepted\"><h2>7. 受け付け"
		      "ました (accepted)</h2><p>受付番号 (receipt number): "
		      "<strong id=\"receipt\">",
		      f);
		http_html_escape(f, receipt);
		fputs("</strong></p><p>", f);
		http_html_escape(f, fm->proc->title);
		fputs("の申請を受け付けました。受付番号はお問い合わせの際に必要"
		      "です。</p>",
		      f);
		if (handed != NULL && handed[0] != '\0') {
			fputs("<p id=\"handed\">", f);
			http_html_escape(f, handed);
			fputs("</p>", f);
		}
		fputs("</section>", f);
		break;
	case JPKI_AGENCY_REFUSED:
		status = MHD_HTTP_FORBIDDEN;
		fputs("<section class=\"refused\" id=\"refused\"><h2>受け付け"
		      "できません (not accepted)</h2><p id=\"reasons\">",
		      f);
		http_html_escape(f, c->reasons ? c->reasons : "");
		fputs("</p><p>到達番号 (arrival number, for inquiries): "
		      "<span id=\"receipt\">",
		      f);
		http_html_escape(f, receipt);
		fputs("</span></p></section>", f);
		break;
	default:
		fputs("<section class=\"pending\" id=\"pending\"><h2>到達しまし"
		      "た — 未検証 (received, not verified yet)</h2>"
		      "<p>到達番号 (arrival number): <strong id=\"receipt\">",
		      f);
		http_html_escape(f, receipt);
		fputs("</strong></p><p>申請書は保存されました。署名の検証はまだ"
		      "行われていません。 (The file is kept; its signature is "
		      "not verified yet.)</p></section>",
		      f);
	}
	fputs("<p><a href=\"/portal\">トップへ (back)</a></p>", f);
	return http_page_end(f, &buf, &len, conn, status);
}

static enum MHD_Result submit(struct jpki_http *srv,
			      struct MHD_Connection *conn,
			      const struct upload *up)
{
	struct multipart mp;
	struct check c = {0};
	char receipt[32], handed[512] = "";
	char *buf = NULL;
	size_t len = 0;
	const char *origin =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	FILE *f;
	enum MHD_Result ret;
	int r;

	memset(&mp, 0, sizeof(mp));
	/* A browser names the page a POST comes from: a page of another
	 * site cannot submit into this form. A script (curl) sends none. */
	if (origin != NULL && !http_same_origin(srv, conn))
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the form was sent from a page of another "
				 "site (Origin %.100s)",
				 origin);
	else if (up->too_large)
		r = jpki_err_set(JPKI_ERR_TOO_LARGE,
				 "the upload is larger than %d MiB",
				 JPKI_MAX_SIGNED_APP / (1024 * 1024));
	else if ((r = multipart_parse(&mp, conn, up)) == 0 &&
		 (r = form_check(&mp.fm)) == 0) {
		/* seed 004: what is sent is encrypted for the agency. The
		 * page's 送信 has the bridge make the .p7m; the application
		 * and its signature in the clear are not taken. */
		if (mp.plain)
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "the application and its signature "
					 "were sent in the clear: they must "
					 "come encrypted for the agency (the "
					 ".p7m that 送信 makes through the "
					 "OpenJPKI bridge, or jpki sign --to "
					 "agency.crt)");
		else if (mp.file_len == 0)
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "sign the application first (電子署名), "
					 "or choose the signed file (.p7m) to "
					 "send");
	}
	if (r == 0 &&
	    (r = verify_submission(&c, srv, &mp.fm, mp.file,
				   mp.file_len)) == 0 &&
	    (r = store_submission(receipt, srv->st, &mp.fm, &c, mp.file,
				  mp.file_len)) == 0) {
		jpki_log(JPKI_LOG_INFO, "portal: submission %s: %s", receipt,
			 c.verdict == JPKI_AGENCY_ACCEPTED  ? "accepted"
			 : c.verdict == JPKI_AGENCY_REFUSED ? "refused"
							: "not verified");
		if (c.verdict == JPKI_AGENCY_ACCEPTED &&
		    strcmp(mp.fm.proc->id, "move-out") == 0 &&
		    hand_move_out(handed, sizeof(handed), srv, &c) != 0)
			jpki_log(JPKI_LOG_INFO, "portal: %s", handed);
		ret = receipt_page(conn, &mp.fm, receipt, &c, handed);
		goto out;
	}
	if (r != JPKI_ERR_TOO_LARGE && r != JPKI_ERR_PARSE &&
	    r != JPKI_ERR_INVALID && r != JPKI_ERR_POLICY)
		jpki_log(JPKI_LOG_ERROR, "portal: %s", jpki_err_detail());
	if ((f = open_memstream(&buf, &len)) == NULL) {
		ret = MHD_NO;
		goto out;
	}
	http_page_start(f, "送信できません", SITE, COLOUR);
	http_refusal(f, "送信できません (the upload is refused)",
		     jpki_err_detail());
	fputs("<p><a href=\"/portal\">トップへ (back)</a></p>", f);
	ret = http_page_end(f, &buf, &len, conn,
			    r == JPKI_ERR_TOO_LARGE ? MHD_HTTP_CONTENT_TOO_LARGE
			    : r == JPKI_ERR_POLICY  ? MHD_HTTP_FORBIDDEN
			    : r == JPKI_ERR_PARSE || r == JPKI_ERR_INVALID
				? MHD_HTTP_BAD_REQUEST
				: MHD_HTTP_INTERNAL_SERVER_ERROR);
out:
	free(mp.file);
	check_free(&c);
	return ret;
}

/* ---- the agency's inbox ----------------------------------------------------
 */

/* The inbox's log-in form, with the refusal of the last attempt when error
 * is not NULL, answered with `status` (and Retry-After when retry_after >
 * 0). */
static enum MHD_Result inbox_login_status(struct MHD_Connection *conn,
					  const char *error, unsigned status,
					  unsigned retry_after)
{
	char *buf = NULL;
	size_t len = 0;
	enum MHD_Result ret;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "職員ログイン", SITE, COLOUR);
	http_login_form(f, "受付箱 — 職員ログイン (the inbox: operator log-in)",
			"/portal/login", error);
	fputs("</main></body></html>\n", f);
	fclose(f);
	ret = http_send_retry(conn, status, "text/html; charset=utf-8", buf,
			      len, retry_after);
	free(buf);
	return ret;
}

static enum MHD_Result inbox_login(struct MHD_Connection *conn,
				   const char *error)
{
	return inbox_login_status(
	    conn, error, error ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_OK, 0);
}

static const char *verdict_name(enum jpki_agency_verdict v)
{
	switch (v) {
	case JPKI_AGENCY_ACCEPTED:
		return "受付 (accepted)";
	case JPKI_AGENCY_REFUSED:
		return "不受理 (refused)";
	default:
		return "未検証 (not verified yet)";
	}
}

/* What the CA's records say now of a certificate received earlier. */
struct now_status {
	const char *status; /* "good", "revoked", "unknown" */
	char since[32];     /* revoked: when, UTC */
	const char *reason; /* revoked: the CRLReason's name */
};

static void utc_text(char out[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void status_now(struct now_status *out, struct jpki_http *srv,
		       const char *serial)
{
	struct jpki_cert_info *info = NULL;

	memset(out, 0, sizeof(*out));
	out->status = "unknown";
	if (jpki_ca_status(&info, srv->ca, serial) != 0) {
		jpki_err_clear();
		return;
	}
	if (info->status == JPKI_STATUS_GOOD) {
		out->status = "good";
	} else {
		out->status = "revoked";
		utc_text(out->since, info->revoked_at);
		out->reason = info->status == JPKI_STATUS_HOLD
				  ? "certificateHold"
				  : jpki_verify_crl_reason_name((int)info->reason);
	}
	jpki_cert_info_free(info);
}

/*
 * The decision at receipt, which stands, and what the CA's records say
 * now (SPEC section 4): "OCSP good at ..." kept at receipt, then "still
 * good", or "revoked since ... (reason)" after a move.
 */
static void evidence_cell(FILE *f, struct jpki_http *srv,
			  const struct jpki_agency_entry *e)
{
	struct now_status now;
	char when[32];

	utc_text(when, e->status_time);
	status_now(&now, srv, e->serial);
	fprintf(f,
		"<div class=\"at-receipt\">受付時 (at receipt): OCSP good at "
		"%s</div><div class=\"now\">現在 (now): ",
		when);
	if (strcmp(now.status, "good") == 0)
		fputs("still good</div>", f);
	else if (strcmp(now.status, "revoked") == 0)
		fprintf(f, "revoked since %s (%s)</div>", now.since,
			now.reason);
	else
		fputs("unknown to the CA</div>", f);
}

/* GET /portal/inbox.json: the inbox for a program, each accepted
 * submission with its decision at receipt and the status now. */
static enum MHD_Result inbox_json(struct jpki_http *srv,
				  struct MHD_Connection *conn)
{
	struct jpki_agency_entry *list = NULL;
	json_t *arr = json_array();
	size_t n = 0;
	char *out;

	if (arr == NULL || jpki_agency_inbox(&list, &n, srv->st, 200) != 0) {
		json_decref(arr);
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      "the submissions cannot be read\n");
	}
	for (size_t i = 0; i < n; i++) {
		const struct jpki_agency_entry *e = &list[i];
		json_t *o;
		char at[32];

		utc_text(at, e->at);
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "receipt",
			      e->receipt, "received", at, "procedure",
			      e->proc, "name", e->name, "serial", e->serial,
			      "verdict",
			      e->verdict == JPKI_AGENCY_ACCEPTED   ? "accepted"
			      : e->verdict == JPKI_AGENCY_REFUSED ? "refused"
								   : "not_verified");
		if (o != NULL && e->has_evidence) {
			struct now_status now;
			char when[32];

			utc_text(when, e->status_time);
			status_now(&now, srv, e->serial);
			json_object_set_new(
			    o, "at_receipt",
			    json_pack("{s:s, s:s}", "revocation", "ocsp",
				      "status_time", when));
			json_object_set_new(
			    o, "now",
			    now.reason != NULL
				? json_pack("{s:s, s:s, s:s}", "status",
					    now.status, "revoked_at", now.since,
					    "reason", now.reason)
				: json_pack("{s:s}", "status", now.status));
		}
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			jpki_agency_inbox_free(list, n);
			return MHD_NO;
		}
	}
	jpki_agency_inbox_free(list, n);
	out = json_dumps(arr, JSON_SORT_KEYS);
	json_decref(arr);
	if (out == NULL)
		return MHD_NO;
	return http_send_json(conn, MHD_HTTP_OK, out);
}

static enum MHD_Result inbox(struct jpki_http *srv, struct MHD_Connection *conn,
			     const struct jpki_actor *who)
{
	struct jpki_agency_entry *list = NULL;
	size_t n = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (jpki_agency_inbox(&list, &n, srv->st, 200) != 0)
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      "the submissions cannot be read\n");
	if ((f = open_memstream(&buf, &len)) == NULL) {
		jpki_agency_inbox_free(list, n);
		return MHD_NO;
	}
	http_page_start(f, "受付箱", SITE, COLOUR);
	fputs("<section><h2>受付箱 (inbox) — ", f);
	http_html_escape(f, who->operator_id);
	fputs("</h2>", f);
	if (n == 0)
		fputs("<p>申請なし (no submissions)</p>", f);
	else
		fputs("<table id=\"inbox\"><tr><th>番号</th><th>日時 (UTC)"
		      "</th><th>手続</th><th>氏名</th><th>結果</th>"
		      "<th>検証結果 (report)</th></tr>",
		      f);
	for (size_t i = 0; i < n; i++) {
		const struct procedure *p = procedure_of(list[i].proc);
		struct tm tm;
		char when[32];

		gmtime_r(&list[i].at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fputs("<tr><td class=\"receipt\">", f);
		http_html_escape(f, list[i].receipt);
		fprintf(f, "</td><td>%s</td><td>", when);
		http_html_escape(f, p ? p->title : list[i].proc);
		fputs("</td><td class=\"name\">", f);
		http_html_escape(f, list[i].name);
		fprintf(f, "</td><td class=\"verdict\">%s",
			verdict_name(list[i].verdict));
		if (list[i].has_evidence)
			evidence_cell(f, srv, &list[i]);
		fputs("</td><td><pre>", f);
		http_html_escape(f, list[i].report);
		fputs("</pre></td></tr>", f);
	}
	if (n > 0)
		fputs("</table>", f);
	fputs("</section>", f);
	jpki_agency_inbox_free(list, n);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}

static enum MHD_Result agency_cert(struct jpki_http *srv,
				   struct MHD_Connection *conn)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long n;
	enum MHD_Result ret;

	if (mem == NULL || !PEM_write_bio_X509(mem, srv->agency_cert)) {
		BIO_free(mem);
		return MHD_NO;
	}
	n = BIO_get_mem_data(mem, &data);
	ret = http_send(conn, MHD_HTTP_OK, "application/x-pem-file", data,
			(size_t)n, "max-age=3600");
	BIO_free(mem);
	return ret;
}

static void form_from_urlencoded(struct form *fm, const struct upload *up)
{
	char proc[FIELD];

	memset(fm, 0, sizeof(*fm));
	http_field(proc, FIELD, up, "proc");
	fm->proc = procedure_of(proc);
	http_field(fm->name, FIELD, up, "name");
	http_field(fm->address, FIELD, up, "address");
	http_field(fm->birth, FIELD, up, "birth");
	http_field(fm->sex, FIELD, up, "sex");
	if (fm->proc != NULL)
		for (int i = 0; i < NFIELDS; i++)
			http_field(fm->values[i], FIELD, up,
				   fm->proc->fields[i].key);
}

enum MHD_Result http_portal_choose(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	return choose_page(conn);
}

enum MHD_Result http_portal_agency_cert(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	return agency_cert(srv, conn);
}

enum MHD_Result http_portal_script(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	(void)srv;
	(void)req;
	return http_send_csp(conn, MHD_HTTP_OK,
			     "text/javascript; charset=utf-8", portal_js,
			     sizeof(portal_js) - 1, MHD_RESPMEM_PERSISTENT,
			     NULL);
}

enum MHD_Result http_portal_submit(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	return submit(srv, conn, req->up);
}

enum MHD_Result http_portal_form(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 struct http_request *req)
{
	struct form fm;

	memset(&fm, 0, sizeof(fm));
	fm.proc = procedure_of(http_query(conn, "proc"));
	return form_page(conn, &fm, NULL);
}

enum MHD_Result http_portal_application(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	struct form fm;

	form_from_urlencoded(&fm, req->up);
	if (form_check(&fm) != 0)
		return form_page(conn, &fm, jpki_err_detail());
	return application_page(conn, &fm);
}

enum MHD_Result http_portal_login(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	/* as the window's: the Origin, the hashing pool, the limits */
	return http_page_login(srv, conn, req->up, "/portal/inbox",
			       inbox_login_status, NULL);
}

/* The table lets only a CA officer's session through. */
enum MHD_Result http_portal_inbox(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req)
{
	return inbox(srv, conn, &req->who);
}

enum MHD_Result http_portal_inbox_json(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req)
{
	(void)req;
	return inbox_json(srv, conn);
}

/* The inbox's caller without a CA officer's session: the log-in form,
 * saying why when a session was shown. */
enum MHD_Result http_portal_inbox_login(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req)
{
	return inbox_login(conn, req->token ? jpki_err_detail() : NULL);
}

/*
 * Revocation status of a signing certificate from the CA's own records,
 * for a verifier running beside the CA of the installation (the OpenID
 * Connect provider's consent check): the record must be this very
 * certificate; one that is not the CA's is unknown.
 */
int http_sign_status(void *arg, X509 *cert, X509 *issuer, const char *serial,
		     enum jpki_verify_status *status, int *reason)
{
	struct jpki_ca *ca = arg;
	struct jpki_cert_info *info = NULL;
	unsigned char *der = NULL;
	int len, r = JPKI_ERR_INTERNAL;

	(void)issuer;
	*status = JPKI_VERIFY_UNKNOWN;
	*reason = 0;
	if ((r = jpki_ca_status(&info, ca, serial)) != 0) {
		if (r == JPKI_ERR_NOT_FOUND || r == JPKI_ERR_INVALID) {
			jpki_err_clear();
			r = 0;
		}
		goto out;
	}
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (info->type != JPKI_CERT_SIGN || info->der_len != (size_t)len ||
	    memcmp(info->der, der, (size_t)len) != 0) {
		r = 0;
		goto out;
	}
	if (info->status == JPKI_STATUS_GOOD) {
		*status = JPKI_VERIFY_GOOD;
	} else {
		*status = JPKI_VERIFY_REVOKED;
		*reason = info->status == JPKI_STATUS_HOLD
			      ? JPKI_REASON_CERTIFICATE_HOLD
			      : (int)info->reason;
	}
	r = 0;
out:
	OPENSSL_free(der);
	jpki_cert_info_free(info);
	return r;
}
