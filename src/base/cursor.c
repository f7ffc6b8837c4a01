/*
 * Bounded reader and writer. Length checks are written as subtractions from
 * what is left, so they cannot wrap.
 */
#include <string.h>

#include "jpki/base.h"

void jpki_cursor_init(struct jpki_cursor *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = buf == NULL ? 0 : len;
	r->pos = 0;
}

size_t jpki_cursor_left(const struct jpki_cursor *r)
{
	return r->len - r->pos;
}

int jpki_cursor_bytes(struct jpki_cursor *r, const uint8_t **out, size_t n)
{
	*out = NULL;
	if (n > jpki_cursor_left(r))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "truncated: %zu bytes wanted, %zu left", n,
				    jpki_cursor_left(r));
	*out = r->buf + r->pos;
	r->pos += n;
	return 0;
}

int jpki_cursor_u8(struct jpki_cursor *r, uint8_t *out)
{
	const uint8_t *p;
	int rc;

	if ((rc = jpki_cursor_bytes(r, &p, 1)) != 0)
		return rc;
	*out = p[0];
	return 0;
}

int jpki_cursor_u16(struct jpki_cursor *r, uint16_t *out)
{
	const uint8_t *p;
	int rc;

	if ((rc = jpki_cursor_bytes(r, &p, 2)) != 0)
		return rc;
	*out = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

int jpki_cursor_tlv(struct jpki_cursor *r, unsigned *tag, const uint8_t **value,
		    size_t *value_len)
{
	size_t start = r->pos;
	uint8_t b, b2;
	size_t len;
	int rc;

	*value = NULL;
	*value_len = 0;
	if ((rc = jpki_cursor_u8(r, &b)) != 0)
		goto fail;
	*tag = b;
	if ((b & 0x1f) == 0x1f) {
		if ((rc = jpki_cursor_u8(r, &b2)) != 0)
			goto fail;
		if (b2 & 0x80) {
			rc = jpki_err_set(JPKI_ERR_PARSE,
					  "tags longer than two bytes are not "
					  "supported");
			goto fail;
		}
		*tag = (unsigned)b << 8 | b2;
	}
	if ((rc = jpki_cursor_u8(r, &b)) != 0)
		goto fail;
	if (b < 0x80) {
		len = b;
	} else if (b == 0x81) {
		if ((rc = jpki_cursor_u8(r, &b2)) != 0)
			goto fail;
		len = b2;
	} else if (b == 0x82) {
		uint16_t l16;

		if ((rc = jpki_cursor_u16(r, &l16)) != 0)
			goto fail;
		len = l16;
	} else {
		rc = jpki_err_set(JPKI_ERR_PARSE, "unsupported TLV length "
						  "byte 0x%02x",
				  b);
		goto fail;
	}
	if ((rc = jpki_cursor_bytes(r, value, len)) != 0)
		goto fail;
	*value_len = len;
	return 0;
fail:
	r->pos = start;
	return rc;
}

void jpki_writer_init(struct jpki_writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf == NULL ? 0 : cap;
	w->len = 0;
}

int jpki_writer_bytes(struct jpki_writer *w, const void *p, size_t n)
{
	if (n > w->cap - w->len)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "output buffer full: %zu bytes do not fit "
				    "in %zu",
				    n, w->cap - w->len);
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int jpki_writer_u8(struct jpki_writer *w, uint8_t v)
{
	return jpki_writer_bytes(w, &v, 1);
}

int jpki_writer_u16(struct jpki_writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	return jpki_writer_bytes(w, b, 2);
}
