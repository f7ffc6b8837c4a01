/*
 * The paper the window hands out or mails, as A4 PDFs drawn with cairo in
 * the IPAGothic font: the inquiry-and-answer letter (照会書兼回答書) of an
 * application without same-day issue, and the copy of a certificate
 * (電子証明書の写し) with which a resident checks its validity later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "jpki/paper.h"
#include "window/window_internal.h"

/* ---- drawing: the window's own steps (include/jpki/paper.h has the
 * rest) ------------------------------------------------------------------ */

/* A shaded label cell and its value, one row of a form table; returns the
 * next row's top. */
static double table_row(cairo_t *cr, double y, double label_w, double h,
			const char *label, const char *value)
{
	double x = JPKI_PAPER_MARGIN,
	       w = JPKI_PAPER_WIDTH - 2 * JPKI_PAPER_MARGIN;

	cairo_set_source_rgb(cr, 0.92, 0.92, 0.92);
	cairo_rectangle(cr, x, y, label_w, h);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0, 0, 0);
	jpki_paper_rect(cr, x, y, w, h, 0.8);
	jpki_paper_vline(cr, x + label_w, y, y + h, 0.8);
	jpki_paper_font(cr, 10, 0);
	jpki_paper_text_at(cr, x + 8, y + h / 2 + 4, label);
	jpki_paper_font(cr, 11, 0);
	{
		/* a value too long for one line gets two (a DN, an address) */
		double vw = w - label_w - 16;

		if (jpki_paper_text_width(cr, value) <= vw)
			jpki_paper_text_at(cr, x + label_w + 8, y + h / 2 + 4,
					   value);
		else
			(void)jpki_paper_text_wrapped(
			    cr, x + label_w + 8, y + h / 2 - 3, vw, 14, value);
	}
	return y + h;
}

/* SPEC 3's notices, framed above the footer of every form, letter and
 * copy the window prints. */
static void notices(cairo_t *cr)
{
	double x = JPKI_PAPER_MARGIN,
	       w = JPKI_PAPER_WIDTH - 2 * JPKI_PAPER_MARGIN,
	       y = JPKI_PAPER_HEIGHT - JPKI_PAPER_MARGIN - 58;

	jpki_paper_rect(cr, x, y - 14, w, 50, 0.6);
	jpki_paper_font(cr, 9.5, 1);
	y = jpki_paper_text_wrapped(cr, x + 8, y, w - 16, 14,
				    JPKI_WINDOW_NOTICE_FALSE_APPLICATION);
	jpki_paper_font(cr, 9.5, 0);
	(void)jpki_paper_text_wrapped(cr, x + 8, y, w - 16, 14,
				      JPKI_WINDOW_NOTICE_CARD);
}

static void check_box(cairo_t *cr, double x, double y)
{
	jpki_paper_rect(cr, x, y - 10, 11, 11, 0.8);
}

/* The office that sends the paper, top right. */
static void office(cairo_t *cr, double y, const struct jpki_resident *res,
		   const char *date)
{
	char line[192];

	jpki_paper_font(cr, 10.5, 0);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN, y,
			      date);
	snprintf(line, sizeof(line), "%s%s長", res->prefecture,
		 res->municipality);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN, y + 16,
			      line);
	snprintf(line, sizeof(line), "%s 市民課 電子証明書窓口",
		 res->municipality);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN, y + 32,
			      line);
}

/* ---- 照会書兼回答書
 * --------------------------------------------------------------- */

static void draw_letter(cairo_t *cr, const struct jpki_application *a,
			const struct jpki_resident *res, const char *code)
{
	double y, x = JPKI_PAPER_MARGIN,
		  w = JPKI_PAPER_WIDTH - 2 * JPKI_PAPER_MARGIN;
	char line[JPKI_FACT_ADDRESS_MAX + 64], day[64], applied[64];
	const char *what;

	jpki_paper_era_day(day, a->letter_mailed_at);
	jpki_paper_era_day(applied, a->applied_at);

	/* the addressee, as on the envelope's window */
	jpki_paper_font(cr, 10.5, 0);
	snprintf(line, sizeof(line), "%s", res->facts.address);
	y = jpki_paper_text_wrapped(cr, x, JPKI_PAPER_MARGIN + 10, 260, 15,
				    line);
	jpki_paper_font(cr, 14, 0);
	snprintf(line, sizeof(line), "%s 様", res->facts.name);
	jpki_paper_text_at(cr, x + 10, y + 12, line);
	office(cr, JPKI_PAPER_MARGIN + 10, res, day);

	jpki_paper_font(cr, 9, 0);
	snprintf(line, sizeof(line), "申請番号 %lld", (long long)a->id);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN,
			      JPKI_PAPER_MARGIN + 70, line);

	/* title */
	jpki_paper_font(cr, 18, 1);
	jpki_paper_text_centered(cr, 160, "電子証明書新規発行／更新");
	jpki_paper_text_centered(cr, 186, "照会書兼回答書");
	jpki_paper_hline(cr, JPKI_PAPER_MARGIN + 110,
			 JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN - 110, 194, 0.6);

	jpki_paper_font(cr, 10.5, 0);
	y = jpki_paper_text_wrapped(
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
	jpki_paper_rect(cr, x, y, w, 34, 0.8);
	jpki_paper_vline(cr, x + 130, y, y + 34, 0.8);
	jpki_paper_font(cr, 10, 0);
	jpki_paper_text_at(cr, x + 8, y + 21, "照会番号");
	jpki_paper_font(cr, 16, 1);
	jpki_paper_text_at(cr, x + 140, y + 23, line);
	y += 34;

	/* the answer */
	y += 26;
	jpki_paper_font(cr, 12, 1);
	jpki_paper_text_at(cr, x, y, "回答欄（ご本人が記入してください）");
	y += 10;
	jpki_paper_rect(cr, x, y, w, 132, 1.4);
	jpki_paper_font(cr, 11, 0);
	jpki_paper_text_at(
	    cr, x + 14, y + 24,
	    "上記の申請について、該当する□に印をつけてください。");
	check_box(cr, x + 24, y + 48);
	jpki_paper_text_at(
	    cr, x + 42, y + 48,
	    "私が申請したものです（電子証明書の発行を希望します）。");
	check_box(cr, x + 24, y + 70);
	jpki_paper_text_at(cr, x + 42, y + 70, "私は申請していません。");
	jpki_paper_text_at(cr, x + 14, y + 98, "回答日");
	jpki_paper_text_at(cr, x + 70, y + 98, "令和　　　年　　　月　　　日");
	jpki_paper_text_at(cr, x + 14, y + 122, "氏名（自署）");
	jpki_paper_hline(cr, x + 100, x + w - 20, y + 124, 0.6);
	y += 132;

	/* what to do with it */
	y += 22;
	jpki_paper_font(cr, 11, 1);
	jpki_paper_text_at(cr, x, y, "ご注意");
	y += 18;
	jpki_paper_font(cr, 9.5, 0);
	y = jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "1. 回答欄にご記入のうえ、本書と、ほかの本人確認書類（健康保険証"
	    "、年金手帳など）をお持ちになって、窓口へお越しください。");
	y = jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "2. 本書を発送した日の当日は受け付けできません。"
	    "翌日以降にお越しください。");
	if (a->path == JPKI_ID_PROXY)
		y = jpki_paper_text_wrapped(
		    cr, x + 10, y, w - 10, 14,
		    "3. 代理人がお越しになる場合は、本書のほか、代理人の写真"
		    "付き本人確認書類をお持ちください。即日の発行はできませ"
		    "ん。");
	else
		y = jpki_paper_text_wrapped(
		    cr, x + 10, y, w - 10, 14,
		    "3. 照会番号は他人に知らせないでください。");
	y = jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "4. 申請した覚えのない場合は、「私は申請していません」に印をつけ"
	    "、すぐに窓口へご連絡ください。");
	(void)jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "受付時間　9時00分から17時00分（土曜日・日曜日・祝日・年末年始"
	    "を除く）");

	/* footer */
	notices(cr);
	snprintf(line, sizeof(line), "%s%s　公的個人認証サービス",
		 res->prefecture, res->municipality);
	char right[96];

	snprintf(right, sizeof(right), "申請番号 %lld", (long long)a->id);
	jpki_paper_footer(cr, line, right);
}

int jpki_window_letter_pdf(unsigned char **pdf, size_t *len,
			   struct jpki_store *st, const struct jpki_actor *by,
			   int64_t app_id)
{
	struct jpki_application a;
	struct jpki_resident res;
	struct jpki_paper *paper = NULL;
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
	if ((r = jpki_paper_begin(&paper, "照会書兼回答書")) != 0)
		goto out;
	draw_letter(jpki_paper_cairo(paper), &a, &res, code);
	r = jpki_paper_end(pdf, len, paper);
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
	double y, x = JPKI_PAPER_MARGIN,
		  w = JPKI_PAPER_WIDTH - 2 * JPKI_PAPER_MARGIN;
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

	jpki_paper_era_day(day, jpki_clock_now());
	if (have_res)
		office(cr, JPKI_PAPER_MARGIN + 10, res, day);
	else {
		jpki_paper_font(cr, 10.5, 0);
		jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN,
				      JPKI_PAPER_MARGIN + 10, day);
	}

	jpki_paper_font(cr, 22, 1);
	jpki_paper_text_centered(cr, 150, "電子証明書の写し");
	jpki_paper_font(cr, 13, 0);
	jpki_paper_text_centered(
	    cr, 176, sign ? "署名用電子証明書" : "利用者証明用電子証明書");
	jpki_paper_hline(cr, JPKI_PAPER_MARGIN + 120,
			 JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN - 120, 186, 0.6);

	y = 210;
	y = table_row(cr, y, 150, 26, "証明書の種類",
		      sign ? "署名用電子証明書" : "利用者証明用電子証明書");
	y = table_row(cr, y, 150, 26, "カードの種類",
		      info->card == JPKI_CARD_JUKI ? "住民基本台帳カード"
						   : "個人番号カード");
	y = table_row(cr, y, 150, 26, "シリアル番号", info->serial);
	y = table_row(cr, y, 150, 40, "発行者", issuer);
	jpki_paper_era_day(day, info->not_before);
	y = table_row(cr, y, 150, 26, "有効期間の開始日", day);
	jpki_paper_era_day(day, info->not_after);
	y = table_row(cr, y, 150, 26, "有効期間の満了日", day);

	if (sign && jpki_profile_facts_from_cert(&facts, cert) == 0) {
		char birth[64];

		y += 22;
		jpki_paper_font(cr, 12, 1);
		jpki_paper_text_at(cr, x, y, "証明書に記録されている基本4情報");
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
	jpki_paper_font(cr, 12, 1);
	jpki_paper_text_at(cr, x, y,
			   "発行者（認証局）の証明書のフィンガープリント");
	y += 8;
	jpki_paper_rect(cr, x, y, w, 46, 0.8);
	jpki_paper_font(cr, 9.5, 0);
	jpki_paper_text_at(cr, x + 8, y + 16, "SHA-256");
	{
		/* 32 bytes as "AB:CD:..." is 95 characters: 16 bytes a line */
		char half[49];

		snprintf(half, sizeof(half), "%.47s", fp);
		jpki_paper_text_at(cr, x + 70, y + 16, half);
		snprintf(half, sizeof(half), "%s",
			 strlen(fp) > 48 ? fp + 48 : "");
		jpki_paper_text_at(cr, x + 70, y + 34, half);
	}
	y += 46;

	y += 26;
	jpki_paper_font(cr, 11, 1);
	jpki_paper_text_at(cr, x, y, "ご注意");
	y += 18;
	jpki_paper_font(cr, 9.5, 0);
	y = jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "1. この写しは、電子証明書の有効期間などを確認するためにお渡し"
	    "するものです。大切に保管してください。");
	y = jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "2. カードの表面に記載されている有効期限は、電子証明書の有効期間"
	    "ではありません。");
	y = jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "3. 有効期間の満了日の3か月前から更新の手続きができます。");
	if (sign)
		y = jpki_paper_text_wrapped(
		    cr, x + 10, y, w - 10, 14,
		    "4. 氏名・生年月日・性別・住所に変更があったときは、署名用"
		    "電子証明書は失効します。");
	(void)jpki_paper_text_wrapped(
	    cr, x + 10, y, w - 10, 14,
	    "フィンガープリントは、公的個人認証サービスポータルサイトで公表"
	    "しているものと照合してください。");

	notices(cr);
	snprintf(line, sizeof(line), "%s%s　公的個人認証サービス",
		 have_res ? res->prefecture : "",
		 have_res ? res->municipality : "");
	char right[96];

	snprintf(right, sizeof(right), "シリアル番号 %s", info->serial);
	jpki_paper_footer(cr, line, right);
}

int jpki_window_cert_copy_pdf(unsigned char **pdf, size_t *len,
			      struct jpki_store *st, struct jpki_ca *ca,
			      const struct jpki_actor *by, const char *serial)
{
	struct jpki_cert_info *info = NULL;
	struct jpki_resident res;
	struct jpki_paper *paper = NULL;
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
	if ((r = jpki_paper_begin(&paper, "電子証明書の写し")) != 0)
		goto out;
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
		draw_copy(jpki_paper_cairo(paper), info, cert, issuer, &res,
			  have_res);
	}
	r = jpki_paper_end(pdf, len, paper);
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
	double y, x = JPKI_PAPER_MARGIN,
		  w = JPKI_PAPER_WIDTH - 2 * JPKI_PAPER_MARGIN;
	char line[JPKI_FACT_ADDRESS_MAX + 192], day[64], birth[64];
	char *paren;

	jpki_paper_era_day(day, issued_at);
	jpki_paper_font(cr, 9, 0);
	snprintf(line, sizeof(line), "証明書番号 %s", number);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN,
			      JPKI_PAPER_MARGIN, line);

	jpki_paper_font(cr, 22, 1);
	jpki_paper_text_centered(cr, 110, "住 民 票 の 写 し");
	jpki_paper_hline(cr, JPKI_PAPER_MARGIN + 130,
			 JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN - 130, 120, 0.6);

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
	jpki_paper_era_day(line, res->registered_at);
	y = table_row(cr, y, 130, 26, "住民となった年月日", line);
	/* A copy made at another municipality's window (広域交付) may not
	 * carry the permanent domicile at all: not even its row. */
	if (issued_by == NULL)
		y = table_row(cr, y, 130, 26, "本籍・筆頭者", "（記載省略）");
	y = table_row(cr, y, 130, 26, "個人番号", "（記載省略）");
	y = table_row(cr, y, 130, 26, "住民票コード", "（記載省略）");

	/* the attestation and the issuer, as on every copy */
	snprintf(line, sizeof(line), "%s%s長", res->prefecture,
		 res->municipality);
	y = jpki_paper_attestation(
	    cr, y + 40, "この写しは、住民票の原本と相違ないことを証明する。",
	    day, line);

	y += 46;
	jpki_paper_font(cr, 9.5, 0);
	if (issued_by == NULL)
		y = jpki_paper_text_wrapped(
		    cr, x, y, w, 14,
		    "コンビニ交付（マイナンバーカードの利用者証明"
		    "用電子証明書による本人確認）により交付。");
	else {
		snprintf(line, sizeof(line),
			 "広域交付（%sの窓口で、写真付き本人確認書類による"
			 "本人確認のうえ交付）。",
			 issued_by);
		y = jpki_paper_text_wrapped(cr, x, y, w, 14, line);
	}
	snprintf(line, sizeof(line),
		 "この証明書は偽造・改ざん防止の措置が施されています。証明書"
		 "番号 %s により、%s%s で交付の事実を確認できます。",
		 number, res->prefecture, res->municipality);
	(void)jpki_paper_text_wrapped(cr, x, y, w, 14, line);

	snprintf(line, sizeof(line), "%s%s　住民票の写し（%s）",
		 res->prefecture, res->municipality,
		 issued_by == NULL ? "コンビニ交付" : "広域交付");
	char right[96];

	snprintf(right, sizeof(right), "証明書番号 %s", number);
	jpki_paper_footer(cr, line, right);
}

static int residence_pdf(unsigned char **pdf, size_t *len,
			 const struct jpki_resident *res, const char *number,
			 time_t issued_at, const char *issued_by)
{
	struct jpki_paper *paper = NULL;
	int r = JPKI_ERR_INTERNAL;

	*pdf = NULL;
	*len = 0;
	if (res == NULL || number == NULL || number[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a residence copy needs the resident and "
				    "its number");
	if ((r = jpki_paper_begin(&paper, "住民票の写し")) != 0)
		return r;
	draw_residence(jpki_paper_cairo(paper), res, number, issued_at,
		       issued_by);
	return jpki_paper_end(pdf, len, paper);
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
