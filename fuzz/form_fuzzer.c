/*
 * The window's form parser on arbitrary bytes: every lookup either finds a
 * NUL-terminated value that fits, finds nothing, or refuses; never reads
 * past the body. The whole-body check (http_form_check) either passes, and
 * then every value it let through fits and holds no control character, or
 * refuses with a name that fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"person", "pin", "a", "", "x=y"};
	/* an exact copy, so a read past the end is the sanitizer's to see */
	unsigned char *body = malloc(size ? size : 1);
	char out[64];

	if (body == NULL)
		abort();
	memcpy(body, data, size);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int r = http_form_value(out, sizeof(out), body, size, keys[i]);

		if (r == 1 && strlen(out) >= sizeof(out))
			abort();
		if (r != 1 && r != 0 && r != JPKI_ERR_PARSE)
			abort();
	}
	{
		char name[16];
		int r = http_form_check(body, size, 32, name, sizeof(name));

		if (r != 0 && r != JPKI_ERR_PARSE)
			abort();
		if (strlen(name) >= sizeof(name))
			abort();
		if (r == 0 && size > 0 && memchr(body, '\0', size) != NULL)
			abort(); /* a raw NUL is a control character */
	}
	free(body);
	return 0;
}
