/*
 * The seal image check (jpki_services_seal_image_check, libpng underneath)
 * on arbitrary bytes: it accepts, and then the sides are within the caps,
 * or refuses with JPKI_ERR_INVALID or JPKI_ERR_TOO_LARGE; nothing else,
 * and never a read past the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy, so a read past the end is the sanitizer's to see */
	unsigned char *png = malloc(size ? size : 1);
	struct jpki_seal_image im;
	int r;

	if (png == NULL)
		abort();
	memcpy(png, data, size);
	r = jpki_services_seal_image_check(&im, png, size);
	if (r == 0 &&
	    (im.width < JPKI_SEAL_SIDE_MIN || im.width > JPKI_SEAL_SIDE_MAX ||
	     im.height < JPKI_SEAL_SIDE_MIN || im.height > JPKI_SEAL_SIDE_MAX))
		abort();
	if (r != 0 && r != JPKI_ERR_INVALID && r != JPKI_ERR_TOO_LARGE)
		abort();
	free(png);
	return 0;
}
