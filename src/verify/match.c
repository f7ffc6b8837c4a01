/*
 * Matching what a resident typed in a form against the 4 facts of the
 * signing certificate. People type the same name with ASCII or full-width
 * letters and digits and with any spacing; the registry writes one form.
 * So whitespace is dropped and U+FF01 .. U+FF5E fold to ASCII before a
 * byte-exact comparison; everything else (kanji variants, kana, case)
 * must be the same, since a looser match would accept another person.
 */
#include <stdint.h>
#include <string.h>

#include "verify/verify_internal.h"

/*
 * The next code point of a NUL-terminated UTF-8 string: 0 at the end, -1
 * for bytes that are not shortest-form UTF-8 of a scalar value.
 */
static long next_cp(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned long cp;
	size_t n;

	if (s[0] == 0)
		return 0;
	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if ((s[0] & 0xE0) == 0xC0) {
		cp = s[0] & 0x1F;
		n = 1;
	} else if ((s[0] & 0xF0) == 0xE0) {
		cp = s[0] & 0x0F;
		n = 2;
	} else if ((s[0] & 0xF8) == 0xF0) {
		cp = s[0] & 0x07;
		n = 3;
	} else {
		return -1;
	}
	for (size_t i = 1; i <= n; i++) {
		/* a NUL here fails the test too, so we never pass the end */
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
	    (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*p = s + n + 1;
	return (long)cp;
}

static int is_space(long cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
	       cp == '\v' || cp == '\f' || cp == 0xA0 || cp == 0x3000;
}

/* The next code point that counts, folded; 0 at the end, -1 if bad. */
static long next_folded(const unsigned char **p)
{
	long cp;

	do
		cp = next_cp(p);
	while (cp > 0 && is_space(cp));
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		cp = cp - 0xFF01 + 0x21;
	return cp;
}

int jpki_verify_text_match(const char *form, const char *cert)
{
	const unsigned char *a = (const unsigned char *)form;
	const unsigned char *b = (const unsigned char *)cert;

	if (form == NULL || cert == NULL)
		return 0;
	for (;;) {
		long x = next_folded(&a), y = next_folded(&b);

		if (x < 0 || y < 0 || x != y)
			return 0;
		if (x == 0)
			return 1;
	}
}
