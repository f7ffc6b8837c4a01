/*
 * The papers the services print (docs/ARCHITECTURE.md, module paper): A4
 * PDFs drawn with cairo in the IPAGothic font, made in memory, and the
 * few drawing steps every form shares (text placed, right-aligned,
 * centred or wrapped; frames and rules; the era date). The window's
 * letters and copies and the registry services' seal certificate and
 * disclosure each draw their own page with them.
 */
#ifndef JPKI_PAPER_H
#define JPKI_PAPER_H

#include <stddef.h>
#include <time.h>

#include <cairo.h>

#include "jpki/base.h"

/* A4 in points, and the margin of every page (about 20 mm). */
#define JPKI_PAPER_WIDTH 595.28
#define JPKI_PAPER_HEIGHT 841.89
#define JPKI_PAPER_MARGIN 56.0
/* The largest PDF made: past it the document fails rather than grow. */
#define JPKI_PAPER_PDF_MAX (4 * 1024 * 1024)

/* A PDF being drawn (opaque). */
struct jpki_paper;

/*
 * Starts an A4 PDF in memory titled `title` (metadata; creator
 * "OpenJPKI"), black ink. 0 with *out (free with jpki_paper_end, or
 * jpki_paper_free to drop it), or JPKI_ERR_INTERNAL.
 */
int jpki_paper_begin(struct jpki_paper **out,
		     const char *title) JPKI_MUST_CHECK;
/* The drawing context of the page (borrowed). */
cairo_t *jpki_paper_cairo(struct jpki_paper *p);
/* Ends the page and starts another. */
void jpki_paper_next_page(struct jpki_paper *p);
/*
 * Ends the page and the document: 0 with *pdf (malloc'd, the caller's to
 * free) and *len, or JPKI_ERR_INTERNAL with a sentence. `p` is freed
 * either way.
 */
int jpki_paper_end(unsigned char **pdf, size_t *len,
		   struct jpki_paper *p) JPKI_MUST_CHECK;
/* Drops a document not ended; NULL is fine. */
void jpki_paper_free(struct jpki_paper *p);

/* IPAGothic at `size` points, bold or not. */
void jpki_paper_font(cairo_t *cr, double size, int bold);
/* `s` (UTF-8) with its baseline starting at (x, y). */
void jpki_paper_text_at(cairo_t *cr, double x, double y, const char *s);
/* The advance of `s` in the current font. */
double jpki_paper_text_width(cairo_t *cr, const char *s);
/* `s` centred on the page's width. */
void jpki_paper_text_centered(cairo_t *cr, double y, const char *s);
/* `s` ending at x_right. */
void jpki_paper_text_right(cairo_t *cr, double x_right, double y,
			   const char *s);
/*
 * `s` from (x, y) within `width`, `line` points a line, broken where the
 * next character would not fit (Japanese has no spaces to break at; Latin
 * text breaks after its last space); returns the baseline after the last
 * line.
 */
double jpki_paper_text_wrapped(cairo_t *cr, double x, double y, double width,
			       double line, const char *s);
/* A frame, and rules across and down, `lw` points wide. */
void jpki_paper_rect(cairo_t *cr, double x, double y, double w, double h,
		     double lw);
void jpki_paper_hline(cairo_t *cr, double x0, double x1, double y, double lw);
void jpki_paper_vline(cairo_t *cr, double x, double y0, double y1, double lw);
/*
 * What closes a certificate (証明文): `statement` from (margin + 20, y),
 * the date `day` below it, and `signer` (the mayor, "…市長") right-aligned
 * beside the official seal's place (職印) in red. Returns the signer's
 * baseline.
 */
double jpki_paper_attestation(cairo_t *cr, double y, const char *statement,
			      const char *day, const char *signer);
/* The foot of a page: a rule, `left` and `right` in small type. */
void jpki_paper_footer(cairo_t *cr, const char *left, const char *right);
/* "令和8年2月2日" of an instant in Japan (the profile's era style,
 * without the ISO date it adds in parentheses). */
void jpki_paper_era_day(char out[64], time_t t);

#endif
