/*
 * A4 PDFs in memory with cairo (include/jpki/paper.h): the document's
 * bytes grow in a buffer capped at JPKI_PAPER_PDF_MAX, and the drawing
 * steps the window's and the services' papers share. What a page says
 * stays with the module that prints it.
 */
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>

#include "jpki/paper.h"
#include "jpki/profile.h"

#define FONT "IPAGothic"

struct jpki_paper {
	cairo_surface_t *surface;
	cairo_t *cr;
	unsigned char *data;
	size_t len, cap;
	int failed;
};

static cairo_status_t paper_write(void *closure, const unsigned char *data,
				  unsigned int length)
{
	struct jpki_paper *p = closure;

	if (p->failed || length > JPKI_PAPER_PDF_MAX - p->len) {
		p->failed = 1;
		return CAIRO_STATUS_WRITE_ERROR;
	}
	if (p->len + length > p->cap) {
		size_t cap = p->cap ? p->cap : 16384;
		unsigned char *grown;

		while (cap < p->len + length)
			cap *= 2;
		if ((grown = realloc(p->data, cap)) == NULL) {
			p->failed = 1;
			return CAIRO_STATUS_NO_MEMORY;
		}
		p->data = grown;
		p->cap = cap;
	}
	memcpy(p->data + p->len, data, length);
	p->len += length;
	return CAIRO_STATUS_SUCCESS;
}

int jpki_paper_begin(struct jpki_paper **out, const char *title)
{
	struct jpki_paper *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return JPKI_ERR_NOMEM;
	p->surface = cairo_pdf_surface_create_for_stream(
	    paper_write, p, JPKI_PAPER_WIDTH, JPKI_PAPER_HEIGHT);
	if (cairo_surface_status(p->surface) != CAIRO_STATUS_SUCCESS) {
		int r = jpki_err_set(
		    JPKI_ERR_INTERNAL, "cannot start a PDF: %s",
		    cairo_status_to_string(cairo_surface_status(p->surface)));

		jpki_paper_free(p);
		return r;
	}
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_TITLE,
				       title);
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_CREATOR,
				       "OpenJPKI");
	p->cr = cairo_create(p->surface);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
	*out = p;
	return 0;
}

cairo_t *jpki_paper_cairo(struct jpki_paper *p)
{
	return p->cr;
}

void jpki_paper_next_page(struct jpki_paper *p)
{
	cairo_show_page(p->cr);
}

void jpki_paper_free(struct jpki_paper *p)
{
	if (p == NULL)
		return;
	if (p->cr != NULL)
		cairo_destroy(p->cr);
	/* finishing writes the rest of the document into p: before p goes */
	cairo_surface_destroy(p->surface);
	free(p->data);
	free(p);
}

int jpki_paper_end(unsigned char **pdf, size_t *len, struct jpki_paper *p)
{
	cairo_status_t status;
	int r;

	*pdf = NULL;
	*len = 0;
	cairo_show_page(p->cr);
	status = cairo_status(p->cr);
	cairo_destroy(p->cr);
	p->cr = NULL;
	cairo_surface_finish(p->surface);
	if (status == CAIRO_STATUS_SUCCESS)
		status = cairo_surface_status(p->surface);
	if (status != CAIRO_STATUS_SUCCESS || p->failed) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "cannot make the PDF: %s",
				 cairo_status_to_string(status));
		jpki_paper_free(p);
		return r;
	}
	*pdf = p->data;
	*len = p->len;
	p->data = NULL;
	jpki_paper_free(p);
	return 0;
}

/* ---- drawing ------------------------------------------------------------ */

void jpki_paper_font(cairo_t *cr, double size, int bold)
{
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD
				    : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

void jpki_paper_text_at(cairo_t *cr, double x, double y, const char *s)
{
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

double jpki_paper_text_width(cairo_t *cr, const char *s)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	return e.x_advance;
}

void jpki_paper_text_centered(cairo_t *cr, double y, const char *s)
{
	jpki_paper_text_at(
	    cr, (JPKI_PAPER_WIDTH - jpki_paper_text_width(cr, s)) / 2, y, s);
}

void jpki_paper_text_right(cairo_t *cr, double x_right, double y, const char *s)
{
	jpki_paper_text_at(cr, x_right - jpki_paper_text_width(cr, s), y, s);
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

double jpki_paper_text_wrapped(cairo_t *cr, double x, double y, double width,
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
		if (n > 0 && jpki_paper_text_width(cr, buf) > width) {
			/* Latin text (a DN) breaks after its last space */
			char *space;

			buf[n] = '\0';
			if ((space = strrchr(buf, ' ')) != NULL &&
			    space > buf) {
				s -= n - (size_t)(space + 1 - buf);
				*space = '\0';
			}
			jpki_paper_text_at(cr, x, y, buf);
			y += line;
			n = 0;
			continue;
		}
		n += c;
		s += c;
	}
	if (n > 0) {
		buf[n] = '\0';
		jpki_paper_text_at(cr, x, y, buf);
		y += line;
	}
	return y;
}

void jpki_paper_rect(cairo_t *cr, double x, double y, double w, double h,
		     double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_rectangle(cr, x, y, w, h);
	cairo_stroke(cr);
}

void jpki_paper_hline(cairo_t *cr, double x0, double x1, double y, double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_move_to(cr, x0, y);
	cairo_line_to(cr, x1, y);
	cairo_stroke(cr);
}

void jpki_paper_vline(cairo_t *cr, double x, double y0, double y1, double lw)
{
	cairo_set_line_width(cr, lw);
	cairo_move_to(cr, x, y0);
	cairo_line_to(cr, x, y1);
	cairo_stroke(cr);
}

double jpki_paper_attestation(cairo_t *cr, double y, const char *statement,
			      const char *day, const char *signer)
{
	double x = JPKI_PAPER_MARGIN,
	       right = JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN;

	jpki_paper_font(cr, 11.5, 0);
	jpki_paper_text_at(cr, x + 20, y, statement);
	y += 34;
	jpki_paper_text_at(cr, x + 20, y, day);
	y += 30;
	jpki_paper_font(cr, 15, 1);
	jpki_paper_text_right(cr, right - 50, y, signer);
	/* the official seal's place */
	cairo_set_source_rgb(cr, 0.75, 0.1, 0.1);
	jpki_paper_rect(cr, right - 42, y - 30, 40, 40, 1.4);
	jpki_paper_font(cr, 9, 1);
	jpki_paper_text_at(cr, right - 34, y - 12, "職印");
	cairo_set_source_rgb(cr, 0, 0, 0);
	return y;
}

void jpki_paper_footer(cairo_t *cr, const char *left, const char *right)
{
	double bottom = JPKI_PAPER_HEIGHT - JPKI_PAPER_MARGIN;

	jpki_paper_hline(cr, JPKI_PAPER_MARGIN,
			 JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN, bottom - 14,
			 0.4);
	jpki_paper_font(cr, 8, 0);
	jpki_paper_text_at(cr, JPKI_PAPER_MARGIN, bottom, left);
	jpki_paper_text_right(cr, JPKI_PAPER_WIDTH - JPKI_PAPER_MARGIN, bottom,
			      right);
}

void jpki_paper_era_day(char out[64], time_t t)
{
	struct jpki_date d = jpki_date_of(t);
	char *paren;

	jpki_profile_birth_format(&d, out);
	if ((paren = strstr(out, " (")) != NULL)
		*paren = '\0';
}
