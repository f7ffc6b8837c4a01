/*
 * The seal registration certificate (印鑑登録証明書) as the kiosk prints it:
 * an A4 PDF drawn with cairo in IPAGothic, the registered impression in a
 * framed box beside the holder's facts, the serial a third party checks on
 * the municipality's page. The page is the services module's; the PDF
 * and the drawing steps are the paper module's, which the window's papers
 * use too (services sits beside the window, not above it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/paper.h"
#include "services/services_internal.h"

/* the PNG, read by cairo from memory */
struct png_bytes {
	const unsigned char *data;
	size_t len, pos;
};

/* cairo reads the PNG (checked at registration) from memory. */
static cairo_status_t get(void *closure, unsigned char *data,
			  unsigned int length)
{
	struct png_bytes *b = closure;

	if (length > b->len - b->pos)
		return CAIRO_STATUS_READ_ERROR;
	memcpy(data, b->data + b->pos, length);
	b->pos += length;
	return CAIRO_STATUS_SUCCESS;
}

static double row(cairo_t *cr, double x, double y, double w, double lw,
		  const char *label, const char *value)
{
	cairo_set_source_rgb(cr, 0.92, 0.92, 0.92);
	cairo_rectangle(cr, x, y, lw, 28);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 0.8);
	cairo_rectangle(cr, x, y, w, 28);
	cairo_move_to(cr, x + lw, y);
	cairo_line_to(cr, x + lw, y + 28);
	cairo_stroke(cr);
	jpki_paper_font(cr, 10, 0);
	jpki_paper_text_at(cr, x + 8, y + 18, label);
	jpki_paper_font(cr, value != NULL && strlen(value) > 60 ? 8.5 : 11, 0);
	jpki_paper_text_at(cr, x + lw + 8, y + 18, value != NULL ? value : "");
	return y + 28;
}

static void draw(cairo_t *cr, cairo_surface_t *seal,
		 const struct jpki_resident *res, const struct jpki_seal *s,
		 const char *serial, time_t issued_at)
{
	double x = JPKI_PAPER_MARGIN, y, box = 150;
	char line[JPKI_FACT_ADDRESS_MAX + 192], day[64], birth[64];

	jpki_paper_font(cr, 9, 0);
	snprintf(line, sizeof(line), "証明書番号 %s", serial);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN,
			      JPKI_PAPER_MARGIN, line);
	jpki_paper_font(cr, 22, 1);
	jpki_paper_text_centered(cr, 110, "印 鑑 登 録 証 明 書");

	/* the impression, scaled into its box */
	y = 140;
	jpki_paper_rect(cr, x, y, box, box, 1.2);
	jpki_paper_font(cr, 9, 0);
	jpki_paper_text_at(cr, x + 4, y + box + 14, "登録印影");
	{
		double w = cairo_image_surface_get_width(seal);
		double h = cairo_image_surface_get_height(seal);
		double k = (box - 16) / (w > h ? w : h);

		cairo_save(cr);
		cairo_translate(cr, x + (box - w * k) / 2,
				y + (box - h * k) / 2);
		cairo_scale(cr, k, k);
		cairo_set_source_surface(cr, seal, 0, 0);
		cairo_paint(cr);
		cairo_restore(cr);
	}
	{
		double tx = x + box + 16,
		       tw = JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN - tx;
		double ty = y;

		ty = row(cr, tx, ty, tw, 90, "登録番号", s->number);
		ty = row(cr, tx, ty, tw, 90, "氏名", res->facts.name);
		jpki_profile_birth_format(&res->facts.birth, birth);
		{
			char *paren = strstr(birth, " (");

			if (paren != NULL)
				*paren = '\0';
		}
		ty = row(cr, tx, ty, tw, 90, "生年月日", birth);
		ty = row(cr, tx, ty, tw, 90, "性別",
			 res->facts.sex == JPKI_SEX_MALE     ? "男"
			 : res->facts.sex == JPKI_SEX_FEMALE ? "女"
							     : "不明");
		snprintf(line, sizeof(line), "%s%s%s", res->prefecture,
			 res->municipality, res->facts.address);
		(void)row(cr, tx, ty, tw, 90, "住所", line);
	}

	jpki_paper_era_day(day, issued_at);
	snprintf(line, sizeof(line), "%s%s長", res->prefecture,
		 res->municipality);
	y = jpki_paper_attestation(
	    cr, y + box + 60,
	    "この写しは、登録されている印影と相違ないこと"
	    "を証明する。",
	    day, line);

	y += 46;
	jpki_paper_font(cr, 9.5, 0);
	jpki_paper_text_at(cr, x, y,
			   "コンビニ交付（マイナンバーカードの利用者証明用電子"
			   "証明書による本人確認）により交付。");
	snprintf(line, sizeof(line),
		 "証明書番号 %s は %s%s のページ (/verify-document) "
		 "で確認できます。",
		 serial, res->prefecture, res->municipality);
	jpki_paper_text_at(cr, x, y + 16, line);

	snprintf(line, sizeof(line), "%s%s　印鑑登録証明書（コンビニ交付）",
		 res->prefecture, res->municipality);
	char right[96];

	snprintf(right, sizeof(right), "証明書番号 %s", serial);
	jpki_paper_footer(cr, line, right);
}

int jpki_services_seal_certificate_pdf(unsigned char **pdf, size_t *len,
				       const struct jpki_resident *res,
				       const struct jpki_seal *seal,
				       const unsigned char *png, size_t png_len,
				       const char *serial, time_t issued_at)
{
	struct png_bytes in = {png, png_len, 0};
	struct jpki_paper *paper = NULL;
	cairo_surface_t *image = NULL;
	int r = JPKI_ERR_INTERNAL;

	*pdf = NULL;
	*len = 0;
	if (res == NULL || seal == NULL || png == NULL || serial == NULL ||
	    serial[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a seal certificate needs the resident, "
				    "the seal, its image and a serial");
	image = cairo_image_surface_create_from_png_stream(get, &in);
	if (cairo_surface_status(image) != CAIRO_STATUS_SUCCESS) {
		r = jpki_err_set(
		    JPKI_ERR_INVALID, "the seal's image cannot be drawn: %s",
		    cairo_status_to_string(cairo_surface_status(image)));
		goto out;
	}
	if ((r = jpki_paper_begin(&paper, "印鑑登録証明書")) != 0)
		goto out;
	draw(jpki_paper_cairo(paper), image, res, seal, serial, issued_at);
	r = jpki_paper_end(pdf, len, paper);
out:
	cairo_surface_destroy(image);
	return r;
}
