/*
 * The 4 basic facts (基本4情報) as the signing certificate carries them, and
 * the Japanese eras of the date-of-birth encoding.
 */
#include <stdio.h>
#include <string.h>

#include "jpki/profile.h"

#define IDEOGRAPHIC_SPACE "\xe3\x80\x80" /* U+3000 */

static int check_text(const char *value, const char *field, long min,
		      long max)
{
	long n;
	int r;

	/* The facts go into the signing certificate: printable only. */
	if ((r = jpki_text_check(value, field)) != 0)
		return r;
	n = jpki_utf8_chars(value);
	if (n < min)
		return jpki_err_set(JPKI_ERR_INVALID, "%s is empty", field);
	if (n > max)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%s has %ld characters; at most %ld are "
				    "allowed",
				    field, n, max);
	return 0;
}

int jpki_profile_facts_check(const struct jpki_facts *facts)
{
	struct jpki_date today = jpki_date_today();
	int r;

	if ((r = check_text(facts->name, "the name", 1,
			    JPKI_MAX_NAME_CHARS)) != 0 ||
	    (r = check_text(facts->name_subst,
			    "the substitute positions of the name", 0,
			    JPKI_MAX_NAME_CHARS)) != 0 ||
	    (r = check_text(facts->address, "the address", 1,
			    JPKI_MAX_ADDRESS_CHARS)) != 0 ||
	    (r = check_text(facts->address_subst,
			    "the substitute positions of the address", 0,
			    JPKI_MAX_ADDRESS_CHARS)) != 0)
		return r;
	if (facts->sex != JPKI_SEX_MALE && facts->sex != JPKI_SEX_FEMALE &&
	    facts->sex != JPKI_SEX_UNKNOWN)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "sex must be 1 (male), 2 (female) or 3 "
				    "(unknown), not %d",
				    (int)facts->sex);
	if (!jpki_date_valid(&facts->birth))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth is not a real date");
	if (jpki_date_cmp(&facts->birth, &today) > 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth is in the future");
	return 0;
}

/* Length of a space (ASCII or U+3000) at s, or 0. */
static size_t space_at(const char *s)
{
	if (*s == ' ' || *s == '\t')
		return 1;
	if (strncmp(s, IDEOGRAPHIC_SPACE, 3) == 0)
		return 3;
	return 0;
}

int jpki_profile_name_normalize(char *out, size_t out_size, const char *typed)
{
	const char *start = typed, *end, *p;
	size_t n = 0, sp;
	int separated = 0;

	if (out_size > 0)
		out[0] = '\0';
	while ((sp = space_at(start)) != 0)
		start += sp;
	end = start + strlen(start);
	/* trailing spaces: walk forward, remembering the last non-space */
	for (p = start; *p;) {
		if ((sp = space_at(p)) != 0) {
			const char *q = p;

			while ((sp = space_at(q)) != 0)
				q += sp;
			if (*q == '\0') {
				end = p;
				break;
			}
			p = q;
		} else {
			p++;
		}
	}
	for (p = start; p < end;) {
		const char *piece = p;
		size_t len = 1;

		if ((sp = space_at(p)) != 0) {
			while (p < end && (sp = space_at(p)) != 0)
				p += sp;
			if (!separated) {
				piece = IDEOGRAPHIC_SPACE;
				len = 3;
				separated = 1;
			} else {
				/* later spaces are kept as typed */
				piece = " ";
				len = 1;
			}
		} else {
			p++;
		}
		if (len >= out_size - n)
			return jpki_err_set(JPKI_ERR_TOO_LARGE,
					    "the name is too long");
		memcpy(out + n, piece, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}

static const struct {
	enum jpki_era era;
	struct jpki_date start;
	const char *name;
} eras[] = {
	{JPKI_ERA_REIWA, {2019, 5, 1}, "令和"},
	{JPKI_ERA_HEISEI, {1989, 1, 8}, "平成"},
	{JPKI_ERA_SHOWA, {1926, 12, 25}, "昭和"},
	{JPKI_ERA_TAISHO, {1912, 7, 30}, "大正"},
	{JPKI_ERA_MEIJI, {1868, 10, 23}, "明治"},
};

enum jpki_era jpki_profile_era(const struct jpki_date *d)
{
	for (size_t i = 0; i < sizeof(eras) / sizeof(eras[0]); i++)
		if (jpki_date_cmp(d, &eras[i].start) >= 0)
			return eras[i].era;
	return JPKI_ERA_UNKNOWN;
}

void jpki_profile_birth_encode(const struct jpki_date *d, char buf[10])
{
	snprintf(buf, 10, "%u%04u%02u%02u", (unsigned)jpki_profile_era(d) % 10u,
		 (unsigned)d->year % 10000u, (unsigned)d->month % 100u,
		 (unsigned)d->day % 100u);
}

void jpki_profile_birth_format(const struct jpki_date *d, char buf[64])
{
	char iso[11];

	jpki_date_format(d, iso);
	for (size_t i = 0; i < sizeof(eras) / sizeof(eras[0]); i++) {
		int year;

		if (jpki_date_cmp(d, &eras[i].start) < 0)
			continue;
		year = d->year - eras[i].start.year + 1;
		if (year == 1)
			snprintf(buf, 64, "%s元年%d月%d日 (%s)", eras[i].name,
				 d->month, d->day, iso);
		else
			snprintf(buf, 64, "%s%d年%d月%d日 (%s)", eras[i].name,
				 year, d->month, d->day, iso);
		return;
	}
	snprintf(buf, 64, "%s", iso);
}
