/*
 * A kept receipt directory's two parsers on arbitrary bytes (the directory
 * is outside bytes when it is read back years later): receipt.json either
 * parses into a receipt whose strings are NUL-terminated and whose source
 * is ocsp or crl, or is refused with JPKI_ERR_PARSE / _TOO_LARGE; the
 * SHA256SUMS reader either gives 64-hex sums of the known files or is
 * refused, never reading past the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy, so a read past the end is the sanitizer's to see */
	char *text = malloc(size ? size : 1);
	struct jpki_verify_receipt *rc = NULL;
	char sums[5][65];
	int r;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	r = jpki_verify_receipt_parse(&rc, text, size);
	if (r == 0) {
		if (rc == NULL || rc->received <= 0 ||
		    (strcmp(rc->source, "ocsp") != 0 &&
		     strcmp(rc->source, "crl") != 0) ||
		    (rc->name != NULL && strlen(rc->name) > size))
			abort();
	} else if ((r != JPKI_ERR_PARSE && r != JPKI_ERR_TOO_LARGE &&
		    r != JPKI_ERR_NOMEM) ||
		   rc != NULL) {
		abort();
	}
	jpki_verify_receipt_free(rc);
	r = jpki_verify_receipt_sums(sums, text, size);
	if (r != 0 && r != JPKI_ERR_PARSE)
		abort();
	for (int i = 0; r == 0 && i < 5; i++)
		if (strlen(sums[i]) != 0 && strlen(sums[i]) != 64)
			abort();
	free(text);
	return 0;
}
