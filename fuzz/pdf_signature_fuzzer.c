/*
 * The extraction of a PDF's last signature (jpki_pdf_signature_read) on
 * arbitrary bytes: it either refuses with one of its codes, or gives a
 * byte range inside the input that starts at 0 and leaves out exactly the
 * /Contents string, signed bytes that are the input outside that hole, a
 * CMS no longer than the hole's bytes, and DSS items within their caps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/pdf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy, so a read past the end is the sanitizer's to see */
	uint8_t *pdf = malloc(size ? size : 1);
	struct jpki_pdf_signature sig;
	int r;

	if (pdf == NULL)
		abort();
	memcpy(pdf, data, size);
	r = jpki_pdf_signature_read(&sig, pdf, size);
	if (r != 0 && r != JPKI_ERR_PARSE && r != JPKI_ERR_NOT_FOUND &&
	    r != JPKI_ERR_INVALID && r != JPKI_ERR_TOO_LARGE &&
	    r != JPKI_ERR_NOMEM)
		abort();
	if (r == 0) {
		const size_t *g = sig.range;

		if (g[0] != 0 || g[1] >= g[2] || g[2] > size ||
		    g[3] > size - g[2] || sig.signed_end != g[2] + g[3] ||
		    sig.signed_len != g[1] + g[3] || pdf[g[1]] != '<' ||
		    pdf[g[2] - 1] != '>' || 2 * sig.cms_len > g[2] - g[1] - 2 ||
		    memcmp(sig.signed_data, pdf, g[1]) != 0 ||
		    memcmp(sig.signed_data + g[1], pdf + g[2], g[3]) != 0 ||
		    sig.later != (sig.signed_end < size) ||
		    sig.n_ocsps > JPKI_PDF_DSS_MAX_ITEMS ||
		    sig.n_certs > JPKI_PDF_DSS_MAX_ITEMS ||
		    memchr(sig.subfilter, '\0', sizeof(sig.subfilter)) ==
			NULL ||
		    memchr(sig.changed, '\0', sizeof(sig.changed)) == NULL)
			abort();
		for (size_t i = 0; i < sig.n_ocsps; i++)
			if (sig.ocsps[i].len == 0 ||
			    sig.ocsps[i].len > JPKI_PDF_DSS_MAX_ITEM)
				abort();
	}
	jpki_pdf_signature_clear(&sig);
	free(pdf);
	return 0;
}
