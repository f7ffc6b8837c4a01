/*
 * application/x-www-form-urlencoded, as HTML forms send it: name=value
 * pairs joined by '&', '+' for a space, %XX for any other byte. The body
 * was capped before it gets here; every read is bounded by len.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"

static int hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes p[0..n) into out; JPKI_ERR_PARSE for a bad escape or no room. */
static int decode(char *out, size_t size, const unsigned char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = p[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hex(p[i + 1])) < 0 ||
			    (lo = hex(p[i + 2])) < 0)
				return jpki_err_set(JPKI_ERR_PARSE,
						    "a form field has a bad "
						    "%%-escape");
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= size)
			return jpki_err_set(JPKI_ERR_PARSE,
					    "a form field is too long or "
					    "holds a NUL");
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int http_form_value(char *out, size_t size, const unsigned char *body,
		    size_t len, const char *key)
{
	size_t klen = strlen(key), pos = 0;

	if (size == 0)
		return JPKI_ERR_INVALID;
	out[0] = '\0';
	while (body != NULL && pos < len) {
		const unsigned char *pair = body + pos, *amp, *eq;
		size_t plen;

		amp = memchr(pair, '&', len - pos);
		plen = amp ? (size_t)(amp - pair) : len - pos;
		eq = memchr(pair, '=', plen);
		if (eq != NULL && (size_t)(eq - pair) == klen &&
		    memcmp(pair, key, klen) == 0)
			return decode(out, size, eq + 1, plen - klen - 1) == 0
				   ? 1
				   : JPKI_ERR_PARSE;
		pos += plen + 1;
	}
	return 0;
}

/* One name or value of a form: JPKI_ERR_PARSE with the end of a sentence
 * ("has a bad %-escape", ...) for a bad escape, a decoded length over max,
 * a NUL or another control character; else 0 and its decoded length. */
static int check_part(const unsigned char *p, size_t n, size_t max,
		      size_t *decoded)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = p[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hex(p[i + 1])) < 0 ||
			    (lo = hex(p[i + 2])) < 0)
				return jpki_err_set(JPKI_ERR_PARSE,
						    "has a bad %%-escape");
			c = hi << 4 | lo;
			i += 2;
		}
		/* one line of text: a form's fields are single-line
		 * inputs, so a control character is an attack, not text */
		if (c < 0x20 || c == 0x7f)
			return jpki_err_set(JPKI_ERR_PARSE,
					    "carries a control character");
		if (++o > max)
			return jpki_err_set(JPKI_ERR_PARSE,
					    "is longer than %zu bytes", max);
	}
	*decoded = o;
	return 0;
}

int http_form_check(const unsigned char *body, size_t len, size_t max,
		    char *name, size_t name_size)
{
	size_t pos = 0;

	if (name_size > 0)
		name[0] = '\0';
	while (body != NULL && pos < len) {
		const unsigned char *pair = body + pos, *amp, *eq;
		size_t plen, klen, vlen, got;
		int r;

		amp = memchr(pair, '&', len - pos);
		plen = amp ? (size_t)(amp - pair) : len - pos;
		eq = memchr(pair, '=', plen);
		klen = eq ? (size_t)(eq - pair) : plen;
		vlen = eq ? plen - klen - 1 : 0;
		pos += plen + 1;
		if (plen == 0)
			continue;
		/* the name first: the sentence names a field only once
		 * the name itself is one */
		if (check_part(pair, klen, max, &got) != 0 ||
		    decode(name, name_size, pair, klen) != 0) {
			if (name_size > 0)
				name[0] = '\0';
			return jpki_err_set(JPKI_ERR_PARSE,
					    "a form field's name is malformed "
					    "or too long");
		}
		if (eq != NULL &&
		    (r = check_part(eq + 1, vlen, max, &got)) != 0) {
			char why[64];

			snprintf(why, sizeof(why), "%s", jpki_err_detail());
			return jpki_err_set(r, "the form field \"%s\" %s", name,
					    why);
		}
	}
	if (name_size > 0)
		name[0] = '\0';
	return 0;
}
