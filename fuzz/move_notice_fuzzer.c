/*
 * The move-out notice's parser (services/move.c) on arbitrary bytes, as
 * the portal hands it the signed text: it either refuses and leaves the
 * result zeroed, or gives fields that are NUL-terminated, fit, a six-digit
 * code and a valid date.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct jpki_move_notice_text zero;
	struct jpki_move_notice_text t;
	/* an exact copy, so a read past the end is the sanitizer's to see */
	uint8_t *text = malloc(size ? size : 1);
	int r;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	r = jpki_services_move_notice_parse(&t, text, size);
	if (r != 0) {
		if (r != JPKI_ERR_INVALID || memcmp(&t, &zero, sizeof(t)) != 0)
			abort();
	} else {
		if (strlen(t.to_code) != 6 ||
		    strspn(t.to_code, "0123456789") != 6 ||
		    memchr(t.to_prefecture, '\0', sizeof(t.to_prefecture)) ==
			NULL ||
		    memchr(t.to_municipality, '\0',
			   sizeof(t.to_municipality)) == NULL ||
		    memchr(t.to_address, '\0', sizeof(t.to_address)) == NULL ||
		    t.to_prefecture[0] == '\0' || t.to_address[0] == '\0' ||
		    !jpki_date_valid(&t.arrival))
			abort();
	}
	free(text);
	return 0;
}
