/*
 * services: the disclosure to the resident (本人確認情報の提供状況の開示):
 * which agencies were given the resident's identity information, when and
 * for what; as a list (the resident's page and JSON) and on paper (the
 * window's PDF). Each reading is itself on the audit chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>

#include "services/services_internal.h"

/* Who may read a resident's disclosure: the resident (logged in with the
 * card: "resident:PERSON") or a clerk of the resident's municipality. */
static int may_read(struct jpki_store *st, const struct jpki_actor *who,
		    const char *person)
{
	struct jpki_resident res;
	char self[64];
	int r;

	snprintf(self, sizeof(self), "resident:%s", person);
	if (strcmp(who->operator_id, self) == 0)
		return 0;
	if (strncmp(who->operator_id, "resident:", 9) == 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a resident sees only their own "
				    "disclosure");
	if ((r = jpki_registry_get(&res, st, person)) != 0)
		return r;
	return jpki_audit_authorize_read(
	    who,
	    JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK) |
		JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_REGISTRY_CLERK),
	    res.municipality_code);
}

int jpki_services_disclosure(struct jpki_services_disclosed **out, size_t *n,
			     struct jpki_store *st,
			     const struct jpki_actor *who, const char *person)
{
	struct jpki_rows *rows = NULL;
	int64_t moved = 0;
	struct jpki_value p = JPKI_V_TEXT(person ? person : "");
	int r;

	*out = NULL;
	*n = 0;
	if (st == NULL || who == NULL || person == NULL || person[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a disclosure needs a store, a reader and "
				    "a resident");
	if ((r = may_read(st, who, person)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	/* the look-ups not yet folded are read too: fold them first */
	if ((r = services_lookup_fold_tx(&moved, st)) != 0 ||
	    (r = jpki_store_query(&rows, st,
				  "SELECT agency, purpose, at FROM"
				  " services_lookup WHERE person = $1 AND"
				  " outcome = 'found' ORDER BY at",
				  &p, 1)) != 0 ||
	    (r = jpki_audit_append(st, who, "services.disclosure", person,
				   NULL)) != 0) {
		jpki_store_rollback(st);
		goto out;
	}
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	if (jpki_rows_count(rows) > 0 &&
	    (*out = calloc(jpki_rows_count(rows), sizeof(**out))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		snprintf((*out)[i].agency, sizeof((*out)[i].agency), "%s",
			 jpki_rows_text(rows, i, 0));
		snprintf((*out)[i].purpose, sizeof((*out)[i].purpose), "%s",
			 jpki_rows_text(rows, i, 1));
		(*out)[i].at = (time_t)jpki_rows_int(rows, i, 2);
	}
	*n = jpki_rows_count(rows);
out:
	jpki_rows_free(rows);
	return r;
}

/* ---- on paper ------------------------------------------------------- */

#define PAGE_W 595.28 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 56.0
#define FONT "IPAGothic"
#define PDF_CAP (4 * 1024 * 1024)

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

static void line(cairo_t *cr, double x, double y, double size, const char *s)
{
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

int jpki_services_disclosure_pdf(unsigned char **pdf, size_t *len,
				 const struct jpki_resident *r,
				 const struct jpki_services_disclosed *list,
				 size_t n)
{
	struct pdf_buf buf = {0};
	cairo_surface_t *surface;
	cairo_status_t status;
	cairo_t *cr;
	char text[1024];
	double y = MARGIN + 20;

	*pdf = NULL;
	*len = 0;
	surface = cairo_pdf_surface_create_for_stream(pdf_write, &buf, PAGE_W,
						      PAGE_H);
	if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(surface);
		return jpki_err_set(JPKI_ERR_INTERNAL, "cannot start a PDF");
	}
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE,
				       "本人確認情報の提供状況");
	cr = cairo_create(surface);
	cairo_set_source_rgb(cr, 0, 0, 0);
	line(cr, MARGIN, y, 18, "本人確認情報の提供状況の開示");
	y += 34;
	snprintf(text, sizeof(text), "氏名 %s　住民票コード %s", r->facts.name,
		 r->person);
	line(cr, MARGIN, y, 11, text);
	y += 18;
	snprintf(text, sizeof(text), "住所 %s%s%s", r->prefecture,
		 r->municipality, r->facts.address);
	line(cr, MARGIN, y, 11, text);
	y += 30;
	line(cr, MARGIN, y, 11,
	     "提供日時 (日本時間)　　　提供先　　　利用目的");
	y += 18;
	if (n == 0) {
		line(cr, MARGIN, y, 11, "提供の記録はありません。");
		y += 16;
	}
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = list[i].at + 9 * 3600; /* Japan has no DST */
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		snprintf(text, sizeof(text), "%s　　%s　　%s", when,
			 list[i].agency, list[i].purpose);
		if (y > PAGE_H - MARGIN) {
			cairo_show_page(cr);
			y = MARGIN + 20;
		}
		line(cr, MARGIN, y, 10, text);
		y += 15;
	}
	cairo_show_page(cr);
	status = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_finish(surface);
	if (status == CAIRO_STATUS_SUCCESS)
		status = cairo_surface_status(surface);
	cairo_surface_destroy(surface);
	if (status != CAIRO_STATUS_SUCCESS || buf.failed) {
		free(buf.data);
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "cannot make the PDF: %s",
				    cairo_status_to_string(status));
	}
	*pdf = buf.data;
	*len = buf.len;
	return 0;
}
