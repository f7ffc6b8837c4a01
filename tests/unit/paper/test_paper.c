/* The papers' PDFs and shared drawing steps (src/paper/paper.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jpki/paper.h"

static void test_begin_end_makes_a_pdf(void **state)
{
	struct jpki_paper *p = NULL;
	unsigned char *pdf = NULL;
	size_t len = 0;
	cairo_t *cr;

	(void)state;
	assert_int_equal(jpki_paper_begin(&p, "試し"), 0);
	cr = jpki_paper_cairo(p);
	jpki_paper_font(cr, 12, 0);
	jpki_paper_text_centered(cr, 100, "表題");
	(void)jpki_paper_attestation(cr, 200, "証明する。", "令和8年1月10日",
				     "東京都千代田区長");
	jpki_paper_footer(cr, "左", "右");
	jpki_paper_next_page(p);
	jpki_paper_text_at(cr, JPKI_PAPER_MARGIN, 100, "二枚目");
	assert_int_equal(jpki_paper_end(&pdf, &len, p), 0);
	assert_true(len > 5);
	assert_memory_equal(pdf, "%PDF-", 5);
	free(pdf);
}

/* A drawing that went wrong is no document: an error, nothing kept. */
static void test_broken_drawing_is_refused(void **state)
{
	struct jpki_paper *p = NULL;
	unsigned char *pdf = (unsigned char *)"x";
	size_t len = 1;

	(void)state;
	assert_int_equal(jpki_paper_begin(&p, "壊れ"), 0);
	cairo_restore(jpki_paper_cairo(p)); /* no save: the context fails */
	assert_int_equal(jpki_paper_end(&pdf, &len, p), JPKI_ERR_INTERNAL);
	assert_null(pdf);
	assert_int_equal(len, 0);
	/* and one dropped before its end frees cleanly */
	assert_int_equal(jpki_paper_begin(&p, "捨て"), 0);
	jpki_paper_free(p);
	jpki_paper_free(NULL);
}

/* Japanese breaks anywhere; a short text stays on one line. */
static void test_text_wrapped(void **state)
{
	struct jpki_paper *p = NULL;
	cairo_t *cr;
	unsigned char *pdf = NULL;
	size_t len = 0;
	double y;

	(void)state;
	assert_int_equal(jpki_paper_begin(&p, "折り返し"), 0);
	cr = jpki_paper_cairo(p);
	jpki_paper_font(cr, 10, 0);
	y = jpki_paper_text_wrapped(cr, 0, 100, 400, 14, "短い");
	assert_true(y == 114);
	y = jpki_paper_text_wrapped(
	    cr, 0, 100, 100, 14,
	    "この写しは、住民票の原本と相違ないことを証明する。");
	assert_true(y >= 100 + 3 * 14);
	assert_true(jpki_paper_text_width(cr, "長い長い") >
		    jpki_paper_text_width(cr, "長い"));
	assert_int_equal(jpki_paper_end(&pdf, &len, p), 0);
	free(pdf);
}

static void test_era_day(void **state)
{
	char out[64];
	time_t t;

	(void)state;
	assert_int_equal(jpki_clock_parse(&t, "2026-02-02"), 0);
	jpki_paper_era_day(out, t);
	assert_string_equal(out, "令和8年2月2日");
	assert_null(strstr(out, "("));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_begin_end_makes_a_pdf),
	    cmocka_unit_test(test_broken_drawing_is_refused),
	    cmocka_unit_test(test_text_wrapped),
	    cmocka_unit_test(test_era_day),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
