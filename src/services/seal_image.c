/*
 * The seal's image as the window receives it: outside bytes, decoded whole
 * by libpng's simplified API (signature, chunk CRCs, the compressed data)
 * before anything is stored, with the size caps of include/jpki/services.h
 * checked on the header, before the pixels are inflated.
 */
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "services/services_internal.h"

int jpki_services_seal_image_check(struct jpki_seal_image *out,
				   const unsigned char *png, size_t len)
{
	png_image img;
	unsigned char *pixels = NULL;
	int r = JPKI_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	if (png == NULL || len == 0)
		return jpki_err_set(JPKI_ERR_INVALID, "no seal image given");
	if (len > JPKI_SEAL_IMAGE_MAX)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "the seal image is %zu bytes; at most %d "
				    "are taken",
				    len, JPKI_SEAL_IMAGE_MAX);
	if (len < 8 || png_sig_cmp(png, 0, 8) != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the seal image is not a PNG image");
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, png, len)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the seal image is not a readable PNG: %s",
				 img.message);
		goto out;
	}
	if (img.width < JPKI_SEAL_SIDE_MIN || img.height < JPKI_SEAL_SIDE_MIN ||
	    img.width > JPKI_SEAL_SIDE_MAX || img.height > JPKI_SEAL_SIDE_MAX) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the seal image is %u x %u pixels; a seal's "
				 "image is %d to %d pixels a side",
				 (unsigned)img.width, (unsigned)img.height,
				 JPKI_SEAL_SIDE_MIN, JPKI_SEAL_SIDE_MAX);
		goto out;
	}
	/* the whole image inflated: a truncated or corrupt stream shows
	 * here, not when the kiosk prints it */
	img.format = PNG_FORMAT_GA;
	if ((pixels = malloc(PNG_IMAGE_SIZE(img))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (!png_image_finish_read(&img, NULL, pixels, 0, NULL)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the seal image's data is damaged: %s",
				 img.message);
		goto out;
	}
	out->width = img.width;
	out->height = img.height;
	r = 0;
out:
	png_image_free(&img);
	free(pixels);
	return r;
}
