/*
 * The paper the window hands out or mails, as A4 PDFs drawn with cairo in
 * the IPAGothic font: the inquiry-and-answer letter (照会書兼回答書) of an
 * application without same-day issue, and the copy of a certificate
 * (電子証明書の写し) with which a resident checks its validity later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "window/window_internal.h"

#define PAGE_W 595.28 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 56.0 /* about 20 mm */
#define FONT "IPAGothic"
#define PDF_CAP (4 * 1024 * 1024)

/* ---- drawing
 * ----------------------------------------------------------------- */

struct pdf_buf {
	unsigned char *data;
	size_t len, cap;
	int failed;
};

static cairo_status_t pdf_write(void *closure, const unsigned char *data,
				unsigned int length)
{
	struct pdf_buf *b = closure;

	if (b->failed || length > PDF_CAP - b->len) {
		b->failed = 1;
		return CAIRO_STATUS_WRITE_ERROR;
	}
	if (b->len + length > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		unsigned char *grown;

		while (cap < b->len + length)
			cap *= 2;
		if ((grown = realloc(b->data, cap)) == NULL) {
			b->failed = 1;
			return CAIRO_STATUS_NO_MEMORY;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, length);
	b->len += length;
	return CAIRO_STATUS_SUCCESS;
}

static void font(cairo_t *cr, double size, int bold)
{
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD
				    : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

static void text_at(cairo_t *cr, double x, double y, const char *s)
{
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

static double text_width(cairo_t *cr, const char *s)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	return e.x_advance;
}

static void text_centered(cairo_t *cr, double y, const char *s)
{
	text_at(cr, (PAGE_W - text_width(cr, s)) / 2, y, s);
}

static void text_right(cairo_t *cr, double x_right, double y, const char *s)
{
	text_at(cr, x_right - text_width(cr, s), y, s);
}

/* Length in bytes of the UTF-8 character at s. */
static size_t utf8_len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

	for (size_t i = 1; i < n; i++)
		if (s[i] == '\0')
			return i;
	return n;
}

/*
 * Draws `s` from (x, y) within `width`, breaking lines where the next
 * character would not fit (Japanese has no spaces to break at); returns
 * the baseline after the last line.
 */
static double text_wrapped(cairo_t *cr, double x, double y, double width,
			   double line, const char *s)
{
	char buf[1024];
	size_t n = 0;

	while (*s != '\0') {
		size_t c = utf8_len(s);

		if (n + c >= sizeof(buf))
			break;
		memcpy(buf + n, s, c);
		buf[n + c] = '\0';
		if (n > 0 && text_width(cr, buf) > width) {
			/* Latin text (a DN) breaks after its last space */
			char *space;

			buf[n] = '\0';
			if ((space = strrchr(buf, ' ')) != NULL &&
			    space > buf) {
				s -= n - (size_t)(space + 1 - buf);
				*space = '\0';
			}
			text_at(cr, x, y, buf);
			y += line;
			n = 0;
			continue;
		}
		n += c;
		s += c;
	}
	if (n > 0) {
		buf[n] = '\0';
		text_at(cr, x, y, buf);
		y += line;
	}
	return y;
}

static void rect(cairo_t *cr, double x, double y, double w, double h, double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_rectangle(cr, x, y, w, h);
	cairo_stroke(cr);
}

static void hline(cairo_t *cr, double x0, double x1, double y, double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_move_to(cr, x0, y);
	cairo_line_to(cr, x1, y);
	cairo_stroke(cr);
}

static void vline(cairo_t *cr, double x, double y0, double y1, double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_move_to(cr, x, y0);
	cairo_line_to(cr, x, y1);
	cairo_stroke(cr);
}

/* A shaded label cell and its value, one row of a form table; returns the
 * next row's top. */
static double table_row(cairo_t *cr, double y, double label_w, double h,
			const char *label, const char *value)
{
	double x = MARGIN, w = PAGE_W - 2 * MARGIN;

	cairo_set_source_rgb(cr, 0.92, 0.92, 0.92);
	cairo_rectangle(cr, x, y, label_w, h);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0, 0, 0);
	rect(cr, x, y, w, h, 0.8);
	vline(cr, x + label_w, y, y + h, 0.8);
	font(cr, 10, 0);
	text_at(cr, x + 8, y + h / 2 + 4, label);
	font(cr, 11, 0);
	{
		/* a value too long for one line gets two (a DN, an address) */
		double vw = w - label_w - 16;

		if (text_width(cr, value) <= vw)
			text_at(cr, x + label_w + 8, y + h / 2 + 4, value);
		else
			(void)text_wrapped(cr, x + label_w + 8, y + h / 2 - 3,
					   vw, 14, value);
	}
	return y + h;
}

/* SPEC 3's notices, framed above the footer of every form, letter and
 * copy the window prints. */
static void notices(cairo_t *cr)
{
	double x = MARGIN, w = PAGE_W - 2 * MARGIN, y = PAGE_H - MARGIN - 58;

	rect(cr, x, y - 14, w, 50, 0.6);
	font(cr, 9.5, 1);
	y = text_wrapped(cr, x + 8, y, w - 16, 14,
			 JPKI_WINDOW_NOTICE_FALSE_APPLICATION);
	font(cr, 9.5, 0);
	(void)text_wrapped(cr, x + 8, y, w - 16, 14, JPKI_WINDOW_NOTICE_CARD);
}

static void check_box(cairo_t *cr, double x, double y)
{
	rect(cr, x, y - 10, 11, 11, 0.8);
}

/* "令和8年2月2日" from an instant (the era style of the profile, without
 * the ISO date it adds in parentheses). */
static void era_day(char out[64], time_t t)
{
	struct jpki_date d = jpki_date_of(t);
	char *paren;

	jpki_profile_birth_format(&d, out);
	if ((paren = strstr(out, " (")) != NULL)
		*paren = '\0';
}

/* Starts an A4 PDF in memory. */
static int pdf_begin(cairo_surface_t **surface, cairo_t **cr,
		     struct pdf_buf *buf, const char *title)
{
	*surface =
	    cairo_pdf_surface_create_for_stream(pdf_write, buf, PAGE_W, PAGE_H);
	if (cairo_surface_status(*surface) != CAIRO_STATUS_SUCCESS)
		return jpki_err_set(
		    JPKI_ERR_INTERNAL, "cannot start a PDF: %s",
		    cairo_status_to_string(cairo_surface_status(*surface)));
	cairo_pdf_surface_set_metadata(*surface, CAIRO_PDF_METADATA_TITLE,
				       title);
	cairo_pdf_surface_set_metadata(*surface, CAIRO_PDF_METADATA_CREATOR,
				       "OpenJPKI");
	*cr = cairo_create(*surface);
	cairo_set_source_rgb(*cr, 0, 0, 0);
	return 0;
}

/* Ends the page and the document; *pdf gets the bytes. */
static int pdf_end(unsigned char **pdf, size_t *len, cairo_surface_t *surface,
		   cairo_t *cr, struct pdf_buf *buf)
{
	cairo_status_t status;

	cairo_show_page(cr);
	status = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_finish(surface);
	if (status == CAIRO_STATUS_SUCCESS)
		status = cairo_surface_status(surface);
	cairo_surface_destroy(surface);
	if (status != CAIRO_STATUS_SUCCESS || buf->failed) {
		free(buf->data);
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "cannot make the PDF: %s",
				    cairo_status_to_string(status));
	}
	*pdf = buf->data;
	*len = buf->len;
	return 0;
}

/* The office that sends the paper, top right. */
static void office(cairo_t *cr, double y, const struct jpki_resident *res,
		   const char *date)
{
	char line[192];

	font(cr, 10.5, 0);
	text_right(cr, PAGE_W - MARGIN, y, date);
	snprintf(line, sizeof(line), "%s%s長", res->prefecture,
		 res->municipality);
	text_right(cr, PAGE_W - MARGIN, y + 16, line);
	snprintf(line, sizeof(line), "%s 市民課 電子証明書窓口",
		 res->municipality);
	text_right(cr, PAGE_W - MARGIN, y + 32, line);
}

/* ---- 照会書兼回答書
 * --------------------------------------------------------------- */

static void draw_letter(cairo_t *cr, const struct jpki_application *a,
			const struct jpki_resident *res, const char *code)
{
	double y, x = MARGIN, w = PAGE_W - 2 * MARGIN;
	char line[JPKI_FACT_ADDRESS_MAX + 64], day[64], applied[64];
	const char *what;

	era_day(day, a->letter_mailed_at);
	era_day(applied, a->applied_at);

	/* the addressee, as on the envelope's window */
	font(cr, 10.5, 0);
	snprintf(line, sizeof(line), "%s", res->facts.address);
	y = text_wrapped(cr, x, MARGIN + 10, 260, 15, line);
	font(cr, 14, 0);
	snprintf(line, sizeof(line), "%s 様", res->facts.name);
	text_at(cr, x + 10, y + 12, line);
	office(cr, MARGIN + 10, res, day);

	font(cr, 9, 0);
	snprintf(line, sizeof(line), "申請番号 %lld", (long long)a->id);
	text_right(cr, PAGE_W - MARGIN, MARGIN + 70, line);

	/* title */
	font(cr, 18, 1);
	text_centered(cr, 160, "電子証明書新規発行／更新");
	text_centered(cr, 186, "照会書兼回答書");
	hline(cr, MARGIN + 110, PAGE_W - MARGIN - 110, 194, 0.6);

	font(cr, 10.5, 0);
	y = text_wrapped(
	    cr, x, 218, w, 17,
	    a->path == JPKI_ID_PROXY
		? "あなたの代理人から、次のとおり公的個人認証サービスの電子"
		  "証明書の発行申請がありました。この申請があなたご本人の"
		  "意思によるものかを確認するため、住民登録のある住所へ本書"
		  "をお送りしています。"
		: "あなたから、次のとおり公的個人認証サービスの電子証明書の"
		  "発行申請がありました。写真付きの本人確認書類の提示がなか"
		  "ったため、この申請があなたご本人の意思によるものかを確認"
		  "するため、住民登録のある住所へ本書をお送りしています。");

	/* what was applied for */
	y += 8;
	snprintf(line, sizeof(line), "%s", applied);
	y = table_row(cr, y, 130, 26, "申請日", line);
	what = a->want_sign && a->want_auth
		   ? "署名用電子証明書・利用者証明用電子証明書"
	       : a->want_sign ? "署名用電子証明書"
			      : "利用者証明用電子証明書";
	y = table_row(cr, y, 130, 26, "申請の内容", what);
	y = table_row(cr, y, 130, 26, "カードの種類",
		      a->card == JPKI_CARD_JUKI ? "住民基本台帳カード"
						: "個人番号カード");
	y = table_row(cr, y, 130, 26, "申請の方法",
		      a->path == JPKI_ID_PROXY
			  ? "代理人による申請"
			  : "ご本人による申請"
			    "（写真付き本人確認書類なし）");
	/* the code, spaced in fours so that it is read back without slips */
	snprintf(line, sizeof(line), "%.4s %.4s %.4s %.4s", code, code + 4,
		 code + 8, code + 12);
	cairo_set_source_rgb(cr, 0.92, 0.92, 0.92);
	cairo_rectangle(cr, x, y, 130, 34);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0, 0, 0);
	rect(cr, x, y, w, 34, 0.8);
	vline(cr, x + 130, y, y + 34, 0.8);
	font(cr, 10, 0);
	text_at(cr, x + 8, y + 21, "照会番号");
	font(cr, 16, 1);
	text_at(cr, x + 140, y + 23, line);
	y += 34;

	/* the answer */
	y += 26;
	font(cr, 12, 1);
	text_at(cr, x, y, "回答欄（ご本人が記入してください）");
	y += 10;
	rect(cr, x, y, w, 132, 1.4);
	font(cr, 11, 0);
	text_at(cr, x + 14, y + 24,
		"上記の申請について、該当する□に印をつけてください。");
	check_box(cr, x + 24, y + 48);
	text_at(cr, x + 42, y + 48,
		"私が申請したものです（電子証明書の発行を希望します）。");
	check_box(cr, x + 24, y + 70);
	text_at(cr, x + 42, y + 70, "私は申請していません。");
	text_at(cr, x + 14, y + 98, "回答日");
	text_at(cr, x + 70, y + 98, "令和　　　年　　　月　　　日");
	text_at(cr, x + 14, y + 122, "氏名（自署）");
	hline(cr, x + 100, x + w - 20, y + 124, 0.6);
	y += 132;

	/* what to do with it */
	y += 22;
	font(cr, 11, 1);
	text_at(cr, x, y, "ご注意");
	y += 18;
	font(cr, 9.5, 0);
	y = text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "1. 回答欄にご記入のうえ、本書と、ほかの本人確認書類（健康保険証"
	    "、年金手帳など）をお持ちになって、窓口へお越しください。");
	y = text_wrapped(cr, x + 10, y, w - 10, 14,
			 "2. 本書を発送した日の当日は受け付けできません。"
			 "翌日以降にお越しください。");
	if (a->path == JPKI_ID_PROXY)
		y = text_wrapped(
		    cr, x + 10, y, w - 10, 14,
		    "3. 代理人がお越しになる場合は、本書のほか、代理人の写真"
		    "付き本人確認書類をお持ちください。即日の発行はできませ"
		    "ん。");
	else
		y = text_wrapped(cr, x + 10, y, w - 10, 14,
				 "3. 照会番号は他人に知らせないでください。");
	y = text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "4. 申請した覚えのない場合は、「私は申請していません」に印をつけ"
	    "、すぐに窓口へご連絡ください。");
	(void)text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "受付時間　9時00分から17時00分（土曜日・日曜日・祝日・年末年始"
	    "を除く）");

	/* footer */
	notices(cr);
	hline(cr, MARGIN, PAGE_W - MARGIN, PAGE_H - MARGIN - 14, 0.4);
	font(cr, 8, 0);
	snprintf(line, sizeof(line), "%s%s　公的個人認証サービス",
		 res->prefecture, res->municipality);
	text_at(cr, MARGIN, PAGE_H - MARGIN, line);
	snprintf(line, sizeof(line), "申請番号 %lld", (long long)a->id);
	text_right(cr, PAGE_W - MARGIN, PAGE_H - MARGIN, line);
}

int jpki_window_letter_pdf(unsigned char **pdf, size_t *len,
			   struct jpki_store *st, const struct jpki_actor *by,
			   int64_t app_id)
{
	struct jpki_application a;
	struct jpki_resident res;
	struct pdf_buf buf = {0};
	cairo_surface_t *surface = NULL;
	cairo_t *cr = NULL;
	char code[WINDOW_LETTER_CODE_LEN + 1];
	int r = JPKI_ERR_INTERNAL;

	*pdf = NULL;
	*len = 0;
	/* the code is made (and recorded) first: a print that fails after
	 * it leaves a code nobody saw, and the clerk prints again */
	if ((r = window_letter_code(code, &a, st, by, app_id)) != 0)
		return r;
	if ((r = jpki_registry_get(&res, st, a.person)) != 0)
		goto out;
	if ((r = pdf_begin(&surface, &cr, &buf, "照会書兼回答書")) != 0) {
		cairo_surface_destroy(surface);
		goto out;
	}
	draw_letter(cr, &a, &res, code);
	r = pdf_end(pdf, len, surface, cr, &buf);
out:
	jpki_wipe(code, sizeof(code));
	return r;
}

/* ---- 電子証明書の写し
 * ---------------------------------------------------------------- */

static void draw_copy(cairo_t *cr, const struct jpki_cert_info *info,
		      X509 *cert, X509 *ca_cert,
		      const struct jpki_resident *res, int have_res)
{
	int sign = info->type == JPKI_CERT_SIGN;
	double y, x = MARGIN, w = PAGE_W - 2 * MARGIN;
	char line[512], day[64], fp[96], issuer[512] = "";
	struct jpki_facts facts;

	/* the issuer DN as one line of UTF-8 */
	{
		BIO *mem = BIO_new(BIO_s_mem());
		char *data;
		long n;

		if (mem != NULL &&
		    X509_NAME_print_ex(mem, X509_get_issuer_name(cert), 0,
				       XN_FLAG_ONELINE &
					   ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
		    (n = BIO_get_mem_data(mem, &data)) > 0)
			snprintf(issuer, sizeof(issuer), "%.*s", (int)n, data);
		BIO_free(mem);
	}
	jpki_profile_fingerprint(fp, ca_cert);

	era_day(day, jpki_clock_now());
	if (have_res)
		office(cr, MARGIN + 10, res, day);
	else {
		font(cr, 10.5, 0);
		text_right(cr, PAGE_W - MARGIN, MARGIN + 10, day);
	}

	font(cr, 22, 1);
	text_centered(cr, 150, "電子証明書の写し");
	font(cr, 13, 0);
	text_centered(cr, 176,
		      sign ? "署名用電子証明書" : "利用者証明用電子証明書");
	hline(cr, MARGIN + 120, PAGE_W - MARGIN - 120, 186, 0.6);

	y = 210;
	y = table_row(cr, y, 150, 26, "証明書の種類",
		      sign ? "署名用電子証明書" : "利用者証明用電子証明書");
	y = table_row(cr, y, 150, 26, "カードの種類",
		      info->card == JPKI_CARD_JUKI ? "住民基本台帳カード"
						   : "個人番号カード");
	y = table_row(cr, y, 150, 26, "シリアル番号", info->serial);
	y = table_row(cr, y, 150, 40, "発行者", issuer);
	era_day(day, info->not_before);
	y = table_row(cr, y, 150, 26, "有効期間の開始日", day);
	era_day(day, info->not_after);
	y = table_row(cr, y, 150, 26, "有効期間の満了日", day);

	if (sign && jpki_profile_facts_from_cert(&facts, cert) == 0) {
		char birth[64];

		y += 22;
		font(cr, 12, 1);
		text_at(cr, x, y, "証明書に記録されている基本4情報");
		y += 8;
		y = table_row(cr, y, 150, 26, "氏名", facts.name);
		jpki_profile_birth_format(&facts.birth, birth);
		y = table_row(cr, y, 150, 26, "生年月日", birth);
		y = table_row(cr, y, 150, 26, "性別",
			      facts.sex == JPKI_SEX_MALE     ? "男"
			      : facts.sex == JPKI_SEX_FEMALE ? "女"
							     : "不明");
		y = table_row(cr, y, 150, 40, "住所", facts.address);
	} else {
		jpki_err_clear();
	}

	y += 22;
	font(cr, 12, 1);
	text_at(cr, x, y, "発行者（認証局）の証明書のフィンガープリント");
	y += 8;
	rect(cr, x, y, w, 46, 0.8);
	font(cr, 9.5, 0);
	text_at(cr, x + 8, y + 16, "SHA-256");
	{
		/* 32 bytes as "AB:CD:..." is 95 characters: 16 bytes a line */
		char half[49];

		snprintf(half, sizeof(half), "%.47s", fp);
		text_at(cr, x + 70, y + 16, half);
		snprintf(half, sizeof(half), "%s",
			 strlen(fp) > 48 ? fp + 48 : "");
		text_at(cr, x + 70, y + 34, half);
	}
	y += 46;

	y += 26;
	font(cr, 11, 1);
	text_at(cr, x, y, "ご注意");
	y += 18;
	font(cr, 9.5, 0);
	y = text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "1. この写しは、電子証明書の有効期間などを確認するためにお渡し"
	    "するものです。大切に保管してください。");
	y = text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "2. カードの表面に記載されている有効期限は、電子証明書の有効期間"
	    "ではありません。");
	y = text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "3. 有効期間の満了日の3か月前から更新の手続きができます。");
	if (sign)
		y = text_wrapped(
		    cr, x + 10, y, w - 10, 14,
		    "4. 氏名・生年月日・性別・住所に変更があったときは、署名用"
		    "電子証明書は失効します。");
	(void)text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "フィンガープリントは、公的個人認証サービスポータルサイトで公表"
	    "しているものと照合してください。");

	notices(cr);
	hline(cr, MARGIN, PAGE_W - MARGIN, PAGE_H - MARGIN - 14, 0.4);
	font(cr, 8, 0);
	snprintf(line, sizeof(line), "%s%s　公的個人認証サービス",
		 have_res ? res->prefecture : "",
		 have_res ? res->municipality : "");
	text_at(cr, MARGIN, PAGE_H - MARGIN, line);
	snprintf(line, sizeof(line), "シリアル番号 %s", info->serial);
	text_right(cr, PAGE_W - MARGIN, PAGE_H - MARGIN, line);
}

int jpki_window_cert_copy_pdf(unsigned char **pdf, size_t *len,
			      struct jpki_store *st, struct jpki_ca *ca,
			      const struct jpki_actor *by, const char *serial)
{
	struct jpki_cert_info *info = NULL;
	struct jpki_resident res;
	struct pdf_buf buf = {0};
	cairo_surface_t *surface = NULL;
	cairo_t *cr = NULL;
	const unsigned char *p;
	X509 *cert = NULL;
	int have_res, r = JPKI_ERR_INTERNAL;

	*pdf = NULL;
	*len = 0;
	if ((r = jpki_ca_status(&info, ca, serial)) != 0)
		return r;
	p = info->der;
	if ((cert = d2i_X509(NULL, &p, (long)info->der_len)) == NULL) {
		r = jpki_err_set(JPKI_ERR_INTERNAL,
				 "certificate %s is unreadable", serial);
		goto out;
	}
	/* the office's name from the register; the copy can do without */
	have_res = jpki_registry_get(&res, st, info->person) == 0;
	if (!have_res)
		jpki_err_clear();
	/* printed by the window of where the person lives now (the
	 * certificate's own municipality when the register forgot them) */
	if ((r = jpki_audit_authorize_read(
		 by, JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK),
		 have_res ? res.municipality_code : info->municipality_code)) !=
	    0) {
		r = window_read_refused(st, by, "window.copy.print.refused",
					info->serial, r);
		goto out;
	}
	{
		char detail[96];

		snprintf(detail, sizeof(detail), "{\"serial\":\"%s\"}",
			 info->serial);
		if ((r = jpki_audit_record(st, by, "window.copy.print",
					   info->person, detail)) != 0)
			goto out;
	}
	if ((r = pdf_begin(&surface, &cr, &buf, "電子証明書の写し")) != 0) {
		cairo_surface_destroy(surface);
		goto out;
	}
	{
		/* the generation that issued it, by key identifier (all
		 * generations share the DN) */
		X509 *gens[8], *issuer = jpki_ca_cert(ca, info->type);
		size_t n = jpki_ca_certs(gens, 8, ca, info->type);

		for (size_t i = 0; i < n; i++)
			if (X509_check_issued(gens[i], cert) == X509_V_OK) {
				issuer = gens[i];
				break;
			}
		draw_copy(cr, info, cert, issuer, &res, have_res);
	}
	r = pdf_end(pdf, len, surface, cr, &buf);
out:
	X509_free(cert);
	jpki_cert_info_free(info);
	return r;
}

/* ---- 住民票の写し
 * ------------------------------------------------------------------ */

static void draw_residence(cairo_t *cr, const struct jpki_resident *res,
			   const char *number, time_t issued_at,
			   const char *issued_by)
{
	double y, x = MARGIN, w = PAGE_W - 2 * MARGIN;
	char line[JPKI_FACT_ADDRESS_MAX + 192], day[64], birth[64];
	char *paren;

	era_day(day, issued_at);
	font(cr, 9, 0);
	snprintf(line, sizeof(line), "証明書番号 %s", number);
	text_right(cr, PAGE_W - MARGIN, MARGIN, line);

	font(cr, 22, 1);
	text_centered(cr, 110, "住 民 票 の 写 し");
	hline(cr, MARGIN + 130, PAGE_W - MARGIN - 130, 120, 0.6);

	y = 150;
	snprintf(line, sizeof(line), "%s%s%s", res->prefecture,
		 res->municipality, res->facts.address);
	y = table_row(cr, y, 130, 40, "住所", line);
	y = table_row(cr, y, 130, 30, "氏名", res->facts.name);
	jpki_profile_birth_format(&res->facts.birth, birth);
	if ((paren = strstr(birth, " (")) != NULL)
		*paren = '\0';
	y = table_row(cr, y, 130, 26, "生年月日", birth);
	y = table_row(cr, y, 130, 26, "性別",
		      res->facts.sex == JPKI_SEX_MALE     ? "男"
		      : res->facts.sex == JPKI_SEX_FEMALE ? "女"
							  : "不明");
	y = table_row(cr, y, 130, 26, "世帯主・続柄", "（記載省略）");
	era_day(line, res->registered_at);
	y = table_row(cr, y, 130, 26, "住民となった年月日", line);
	/* A copy made at another municipality's window (広域交付) may not
	 * carry the permanent domicile at all: not even its row. */
	if (issued_by == NULL)
		y = table_row(cr, y, 130, 26, "本籍・筆頭者", "（記載省略）");
	y = table_row(cr, y, 130, 26, "個人番号", "（記載省略）");
	y = table_row(cr, y, 130, 26, "住民票コード", "（記載省略）");

	/* the attestation and the issuer, as on every copy */
	y += 40;
	font(cr, 11.5, 0);
	text_at(cr, x + 20, y,
		"この写しは、住民票の原本と相違ないことを証明する。");
	y += 34;
	text_at(cr, x + 20, y, day);
	y += 30;
	font(cr, 15, 1);
	snprintf(line, sizeof(line), "%s%s長", res->prefecture,
		 res->municipality);
	text_right(cr, PAGE_W - MARGIN - 50, y, line);
	/* the official seal's place (職印) */
	cairo_set_source_rgb(cr, 0.75, 0.1, 0.1);
	rect(cr, PAGE_W - MARGIN - 42, y - 30, 40, 40, 1.4);
	font(cr, 9, 1);
	text_at(cr, PAGE_W - MARGIN - 34, y - 12, "職印");
	cairo_set_source_rgb(cr, 0, 0, 0);

	y += 46;
	font(cr, 9.5, 0);
	if (issued_by == NULL)
		y = text_wrapped(cr, x, y, w, 14,
				 "コンビニ交付（マイナンバーカードの利用者証明"
				 "用電子証明書による本人確認）により交付。");
	else {
		snprintf(line, sizeof(line),
			 "広域交付（%sの窓口で、写真付き本人確認書類による"
			 "本人確認のうえ交付）。",
			 issued_by);
		y = text_wrapped(cr, x, y, w, 14, line);
	}
	snprintf(line, sizeof(line),
		 "この証明書は偽造・改ざん防止の措置が施されています。証明書"
		 "番号 %s により、%s%s で交付の事実を確認できます。",
		 number, res->prefecture, res->municipality);
	(void)text_wrapped(cr, x, y, w, 14, line);

	hline(cr, MARGIN, PAGE_W - MARGIN, PAGE_H - MARGIN - 14, 0.4);
	font(cr, 8, 0);
	snprintf(line, sizeof(line), "%s%s　住民票の写し（%s）",
		 res->prefecture, res->municipality,
		 issued_by == NULL ? "コンビニ交付" : "広域交付");
	text_at(cr, MARGIN, PAGE_H - MARGIN, line);
	snprintf(line, sizeof(line), "証明書番号 %s", number);
	text_right(cr, PAGE_W - MARGIN, PAGE_H - MARGIN, line);
}

static int residence_pdf(unsigned char **pdf, size_t *len,
			 const struct jpki_resident *res, const char *number,
			 time_t issued_at, const char *issued_by)
{
	struct pdf_buf buf = {0};
	cairo_surface_t *surface = NULL;
	cairo_t *cr = NULL;
	int r = JPKI_ERR_INTERNAL;

	*pdf = NULL;
	*len = 0;
	if (res == NULL || number == NULL || number[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a residence copy needs the resident and "
				    "its number");
	if ((r = pdf_begin(&surface, &cr, &buf, "住民票の写し")) != 0) {
		cairo_surface_destroy(surface);
		return r;
	}
	draw_residence(cr, res, number, issued_at, issued_by);
	return pdf_end(pdf, len, surface, cr, &buf);
}

int jpki_window_residence_pdf(unsigned char **pdf, size_t *len,
			      const struct jpki_resident *res,
			      const char *number, time_t issued_at)
{
	return residence_pdf(pdf, len, res, number, issued_at, NULL);
}

int jpki_window_residence_copy_any_pdf(unsigned char **pdf, size_t *len,
				       const struct jpki_resident *res,
				       const char *number, time_t issued_at,
				       const char *issued_by)
{
	*pdf = NULL;
	*len = 0;
	if (issued_by == NULL || issued_by[0] == '\0' ||
	    strlen(issued_by) >= 128)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a copy at another municipality names "
				    "the issuing window");
	return residence_pdf(pdf, len, res, number, issued_at, issued_by);
}
