/*
 * The seal registration certificate (印鑑登録証明書) as the kiosk prints it:
 * an A4 PDF drawn with cairo in IPAGothic, the registered impression in a
 * framed box beside the holder's facts, the serial a third party checks on
 * the municipality's page. The window module draws its own papers; this one
 * is the services module's, which sits beside it, not above it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>

#include "services/services_internal.h"

#define PAGE_W 595.28 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 56.0
#define FONT "IPAGothic"
#define PDF_CAP (4 * 1024 * 1024)

struct bytes {
	unsigned char *data;
	size_t len, cap, pos;
	int failed;
};

static cairo_status_t put(void *closure, const unsigned char *data,
			  unsigned int length)
{
	struct bytes *b = closure;

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

/* cairo reads the PNG (checked at registration) from memory. */
static cairo_status_t get(void *closure, unsigned char *data,
			  unsigned int length)
{
	struct bytes *b = closure;

	if (length > b->len - b->pos)
		return CAIRO_STATUS_READ_ERROR;
	memcpy(data, b->data + b->pos, length);
	b->pos += length;
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

static void text_right(cairo_t *cr, double x, double y, const char *s)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	text_at(cr, x - e.x_advance, y, s);
}

static void text_centered(cairo_t *cr, double y, const char *s)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	text_at(cr, (PAGE_W - e.x_advance) / 2, y, s);
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
	font(cr, 10, 0);
	text_at(cr, x + 8, y + 18, label);
	font(cr, value != NULL && strlen(value) > 60 ? 8.5 : 11, 0);
	text_at(cr, x + lw + 8, y + 18, value != NULL ? value : "");
	return y + 28;
}

/* "令和8年11月17日" of an instant, without the ISO date in parentheses. */
static void era_day(char out[64], time_t t)
{
	struct jpki_date d = jpki_date_of(t);
	char *paren;

	jpki_profile_birth_format(&d, out);
	if ((paren = strstr(out, " (")) != NULL)
		*paren = '\0';
}

static void draw(cairo_t *cr, cairo_surface_t *seal,
		 const struct jpki_resident *res, const struct jpki_seal *s,
		 const char *serial, time_t issued_at)
{
	double x = MARGIN, y, box = 150;
	char line[JPKI_FACT_ADDRESS_MAX + 192], day[64], birth[64];

	font(cr, 9, 0);
	snprintf(line, sizeof(line), "証明書番号 %s", serial);
	text_right(cr, PAGE_W - MARGIN, MARGIN, line);
	font(cr, 22, 1);
	text_centered(cr, 110, "印 鑑 登 録 証 明 書");

	/* the impression, scaled into its box */
	y = 140;
	cairo_set_line_width(cr, 1.2);
	cairo_rectangle(cr, x, y, box, box);
	cairo_stroke(cr);
	font(cr, 9, 0);
	text_at(cr, x + 4, y + box + 14, "登録印影");
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
		double tx = x + box + 16, tw = PAGE_W - MARGIN - tx;
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

	y += box + 60;
	era_day(day, issued_at);
	font(cr, 11.5, 0);
	text_at(cr, x + 20, y,
		"この写しは、登録されている印影と相違ないことを"
		"証明する。");
	y += 34;
	text_at(cr, x + 20, y, day);
	y += 30;
	font(cr, 15, 1);
	snprintf(line, sizeof(line), "%s%s長", res->prefecture,
		 res->municipality);
	text_right(cr, PAGE_W - MARGIN - 50, y, line);
	cairo_set_source_rgb(cr, 0.75, 0.1, 0.1);
	cairo_set_line_width(cr, 1.4);
	cairo_rectangle(cr, PAGE_W - MARGIN - 42, y - 30, 40, 40);
	cairo_stroke(cr);
	font(cr, 9, 1);
	text_at(cr, PAGE_W - MARGIN - 34, y - 12, "職印");
	cairo_set_source_rgb(cr, 0, 0, 0);

	y += 46;
	font(cr, 9.5, 0);
	text_at(cr, x, y,
		"コンビニ交付（マイナンバーカードの利用者証明用電子"
		"証明書による本人確認）により交付。");
	snprintf(line, sizeof(line),
		 "証明書番号 %s は %s%s のページ (/verify-document) "
		 "で確認できます。",
		 serial, res->prefecture, res->municipality);
	text_at(cr, x, y + 16, line);

	cairo_set_line_width(cr, 0.4);
	cairo_move_to(cr, MARGIN, PAGE_H - MARGIN - 14);
	cairo_line_to(cr, PAGE_W - MARGIN, PAGE_H - MARGIN - 14);
	cairo_stroke(cr);
	font(cr, 8, 0);
	snprintf(line, sizeof(line), "%s%s　印鑑登録証明書（コンビニ交付）",
		 res->prefecture, res->municipality);
	text_at(cr, MARGIN, PAGE_H - MARGIN, line);
	snprintf(line, sizeof(line), "証明書番号 %s", serial);
	text_right(cr, PAGE_W - MARGIN, PAGE_H - MARGIN, line);
}

int jpki_services_seal_certificate_pdf(unsigned char **pdf, size_t *len,
				       const struct jpki_resident *res,
				       const struct jpki_seal *seal,
				       const unsigned char *png, size_t png_len,
				       const char *serial, time_t issued_at)
{
	struct bytes out = {0}, in = {0};
	cairo_surface_t *surface = NULL, *image = NULL;
	cairo_t *cr = NULL;
	cairo_status_t status;
	int r = JPKI_ERR_INTERNAL;

	*pdf = NULL;
	*len = 0;
	if (res == NULL || seal == NULL || png == NULL || serial == NULL ||
	    serial[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a seal certificate needs the resident, "
				    "the seal, its image and a serial");
	in.data = (unsigned char *)png;
	in.len = png_len;
	image = cairo_image_surface_create_from_png_stream(get, &in);
	if (cairo_surface_status(image) != CAIRO_STATUS_SUCCESS) {
		r = jpki_err_set(
		    JPKI_ERR_INVALID, "the seal's image cannot be drawn: %s",
		    cairo_status_to_string(cairo_surface_status(image)));
		goto out;
	}
	surface =
	    cairo_pdf_surface_create_for_stream(put, &out, PAGE_W, PAGE_H);
	if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "cannot start a PDF");
		goto out;
	}
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE,
				       "印鑑登録証明書");
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR,
				       "OpenJPKI");
	cr = cairo_create(surface);
	cairo_set_source_rgb(cr, 0, 0, 0);
	draw(cr, image, res, seal, serial, issued_at);
	cairo_show_page(cr);
	status = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_finish(surface);
	if (status == CAIRO_STATUS_SUCCESS)
		status = cairo_surface_status(surface);
	if (status != CAIRO_STATUS_SUCCESS || out.failed) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "cannot make the PDF: %s",
				 cairo_status_to_string(status));
		goto out;
	}
	*pdf = out.data;
	*len = out.len;
	out.data = NULL;
	r = 0;
out:
	cairo_surface_destroy(surface);
	cairo_surface_destroy(image);
	free(out.data);
	return r;
}
