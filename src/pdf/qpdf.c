/* The few ways this module talks to qpdf that both sides share. */
#include <string.h>

#include "pdf/pdf_internal.h"

int jpki_pdf_is_pdf(const uint8_t *data, size_t len)
{
	return data != NULL && len >= 5 && memcmp(data, "%PDF-", 5) == 0;
}

int pdf_check(qpdf_data q, const char *doing)
{
	if (qpdf_has_error(q)) {
		qpdf_error e = qpdf_get_error(q);

		return jpki_err_set(JPKI_ERR_PARSE, "%s: %s", doing,
				    qpdf_get_error_full_text(q, e));
	}
	if (qpdf_more_warnings(q)) {
		qpdf_error e = qpdf_next_warning(q);

		/* a warning means qpdf guessed at something; a signature
		 * over a guess is not one */
		return jpki_err_set(JPKI_ERR_PARSE,
				    "%s: the PDF is damaged: %s", doing,
				    qpdf_get_error_full_text(q, e));
	}
	return 0;
}

int pdf_open(qpdf_data *out, const uint8_t *pdf, size_t len, const char *what)
{
	qpdf_data q;
	int r;

	*out = NULL;
	if (len > JPKI_MAX_PDF)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "%s is larger than %d MiB", what,
				    JPKI_MAX_PDF / (1024 * 1024));
	if (!jpki_pdf_is_pdf(pdf, len))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "%s is not a PDF (it does not start with "
				    "%%PDF-)",
				    what);
	if ((q = qpdf_init()) == NULL)
		return JPKI_ERR_NOMEM;
	/* errors come back through qpdf_get_error, not on stderr */
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, 1);
	qpdf_set_attempt_recovery(q, 0);
	if ((qpdf_read_memory(q, what, (const char *)pdf,
			      (unsigned long long)len, NULL) &
	     QPDF_ERRORS) != 0 ||
	    qpdf_more_warnings(q)) {
		r = pdf_check(q, "qpdf cannot read it");
		if (r == 0)
			r = jpki_err_set(JPKI_ERR_PARSE, "qpdf cannot read %s",
					 what);
		qpdf_cleanup(&q);
		return r;
	}
	*out = q;
	return 0;
}

long long pdf_int(qpdf_data q, qpdf_oh dict, const char *key)
{
	qpdf_oh v = qpdf_oh_get_key(q, dict, key);
	long long n = -1;

	if (qpdf_oh_is_integer(q, v))
		n = qpdf_oh_get_int_value(q, v);
	qpdf_oh_release(q, v);
	return n;
}
