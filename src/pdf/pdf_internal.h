/* What the reading and the writing of PDF signatures share. */
#ifndef JPKI_PDF_INTERNAL_H
#define JPKI_PDF_INTERNAL_H

#include <qpdf/qpdf-c.h>

#include "jpki/pdf.h"

/*
 * Opens `len` bytes of `pdf` with qpdf (which borrows them: they must
 * outlive *out), without its recovery of damaged files, since a signature
 * over offsets that had to be guessed would mean nothing. JPKI_ERR_PARSE
 * with qpdf's sentence. Caller frees with qpdf_cleanup().
 */
int pdf_open(qpdf_data *out, const uint8_t *pdf, size_t len,
	     const char *what) JPKI_MUST_CHECK;

/* After a run of qpdf calls: 0 when qpdf reported no error and no warning,
 * else JPKI_ERR_PARSE naming `doing` and qpdf's sentence. */
int pdf_check(qpdf_data q, const char *doing) JPKI_MUST_CHECK;

/* The value of an integer key of a dictionary, or -1. */
long long pdf_int(qpdf_data q, qpdf_oh dict, const char *key);

#endif
