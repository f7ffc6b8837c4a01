/*
 * Matching what a resident typed in a form against the 4 facts of the
 * signing certificate (SPEC section 4: the agency matches all four).
 *
 * People type the same name with ASCII or full-width letters and digits,
 * half-width katakana, and any spacing; the registry writes one form. So
 * text is brought to Unicode NFKC (ICU's, not a table of our own: it folds
 * full-width ASCII, half-width katakana with their voicing marks, and the
 * ideographic space the same way everywhere), all whitespace is dropped,
 * and what remains must be equal code point for code point. Everything
 * else (kanji variants such as 髙/高, hiragana against katakana, case) must
 * be the same, since a looser match would accept another person.
 *
 * A date of birth is read in the forms people and the certificate write
 * (era or Gregorian, docs/RELYING_PARTY.md), a sex as a word or the
 * certificate's code; text that is neither is an error, never a guess.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "verify/verify_internal.h"

/* ---- text --------------------------------------------------------------- */

/* Bytes of one field at most: a name is 100 characters, an address 200. */
#define FOLD_MAX 4096

/*
 * `utf8` in NFKC without whitespace, as UTF-8 in *out (caller frees).
 * JPKI_ERR_PARSE for bytes that are not UTF-8.
 */
static int fold(char **out, const char *utf8)
{
	UErrorCode e = U_ZERO_ERROR;
	const UNormalizer2 *nfkc = unorm2_getNFKCInstance(&e);
	UChar *u = NULL, *n = NULL;
	int32_t ulen = 0, nlen, k = 0, olen = 0;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	/* a form field is short; this bound also keeps the sizes below
	 * far from int32_t's end */
	if (strlen(utf8) > FOLD_MAX)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the text is longer than %d bytes",
				    FOLD_MAX);
	if (U_FAILURE(e))
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "ICU has no NFKC normaliser: %s",
				    u_errorName(e));
	/* preflight: the UTF-16 length, and strict UTF-8 (no substitution) */
	u_strFromUTF8(NULL, 0, &ulen, utf8, -1, &e);
	if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
		return jpki_err_set(JPKI_ERR_PARSE, "the text is not UTF-8");
	e = U_ZERO_ERROR;
	if ((u = malloc(((size_t)ulen + 1) * sizeof(UChar))) == NULL)
		goto out;
	u_strFromUTF8(u, ulen + 1, NULL, utf8, -1, &e);
	if (U_FAILURE(e)) {
		r = jpki_err_set(JPKI_ERR_PARSE, "the text is not UTF-8");
		goto out;
	}
	/* NFKC grows text by at most a factor of 18 (Unicode's bound) */
	nlen = ulen * 18 + 1;
	if ((n = malloc((size_t)nlen * sizeof(UChar))) == NULL)
		goto out;
	nlen = unorm2_normalize(nfkc, u, ulen, n, nlen, &e);
	if (U_FAILURE(e)) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "NFKC failed: %s",
				 u_errorName(e));
		goto out;
	}
	for (int32_t i = 0; i < nlen;) {
		UChar32 c;
		int32_t at = i;

		U16_NEXT(n, i, nlen, c);
		if (u_isUWhiteSpace(c))
			continue;
		while (at < i)
			n[k++] = n[at++];
	}
	u_strToUTF8(NULL, 0, &olen, n, k, &e);
	if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e)) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "UTF-8 out: %s",
				 u_errorName(e));
		goto out;
	}
	e = U_ZERO_ERROR;
	if ((*out = malloc((size_t)olen + 1)) == NULL)
		goto out;
	u_strToUTF8(*out, olen + 1, NULL, n, k, &e);
	if (U_FAILURE(e)) {
		free(*out);
		*out = NULL;
		r = jpki_err_set(JPKI_ERR_INTERNAL, "UTF-8 out: %s",
				 u_errorName(e));
		goto out;
	}
	r = 0;
out:
	free(u);
	free(n);
	return r;
}

int jpki_verify_text_match(const char *form, const char *cert)
{
	char *a = NULL, *b = NULL;
	int same;

	if (form == NULL || cert == NULL || fold(&a, form) != 0 ||
	    fold(&b, cert) != 0) {
		free(a);
		jpki_err_clear();
		return 0;
	}
	same = strcmp(a, b) == 0;
	free(a);
	free(b);
	return same;
}

/*
 * `s` for a sentence: at most `max` bytes, cut at a character boundary
 * (a report goes into JSON, which must stay UTF-8), "…" when cut, and a
 * placeholder for text that is not UTF-8.
 */
static void clip(char *out, size_t size, const char *s, size_t max)
{
	UErrorCode e = U_ZERO_ERROR;
	size_t n = strlen(s);

	u_strFromUTF8(NULL, 0, NULL, s, -1, &e);
	if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e)) {
		snprintf(out, size, "(not UTF-8)");
		return;
	}
	if (n <= max) {
		snprintf(out, size, "%s", s);
		return;
	}
	while (n > max || (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80))
		n--;
	snprintf(out, size, "%.*s…", (int)n, s);
}

/* ---- date of birth ------------------------------------------------------ */

static const struct {
	const char *name;
	enum jpki_era era;
	int first_year; /* Gregorian year of the era's 元年 */
} eras[] = {
    {"令和", JPKI_ERA_REIWA, 2019}, {"平成", JPKI_ERA_HEISEI, 1989},
    {"昭和", JPKI_ERA_SHOWA, 1926}, {"大正", JPKI_ERA_TAISHO, 1912},
    {"明治", JPKI_ERA_MEIJI, 1868},
};

/* 1 and *p past `s` when the text goes on with it. */
static int lit(const char **p, const char *s)
{
	size_t n = strlen(s);

	if (strncmp(*p, s, n) != 0)
		return 0;
	*p += n;
	return 1;
}

/* 1..max ASCII digits into *v; 0 if none or too many. */
static int num(const char **p, int max, int *v)
{
	int n = 0;

	*v = 0;
	while (**p >= '0' && **p <= '9') {
		if (++n > max)
			return 0;
		*v = *v * 10 + (**p - '0');
		(*p)++;
	}
	return n > 0;
}

#define BIRTH_FORMS                                                                  \
	"write it as 1980-06-01, 1980/6/1, 1980年6月1日, 昭和55年6月1日 or " \
	"the "                                                                       \
	"certificate's 319800601"

/* The date in `t` (folded), or JPKI_ERR_INVALID naming what is wrong. */
static int birth_of(struct jpki_date *out, const char *t, const char *shown)
{
	const char *p = t;
	int y = 0, m = 0, d = 0, era = -1;

	if (strlen(t) == 9 && strspn(t, "0123456789") == 9) {
		/* the certificate's own EYYYYMMDD */
		era = t[0] - '0';
		if (sscanf(t + 1, "%4d%2d%2d", &y, &m, &d) != 3)
			goto bad;
	} else if (num(&p, 4, &y) && (*p == '-' || *p == '/')) {
		char sep = *p++;

		if (!num(&p, 2, &m) || *p++ != sep || !num(&p, 2, &d) ||
		    *p != '\0')
			goto bad;
	} else if (p != t) {
		if (!lit(&p, "年") || !num(&p, 2, &m) || !lit(&p, "月") ||
		    !num(&p, 2, &d) || !lit(&p, "日") || *p != '\0')
			goto bad;
	} else {
		size_t i;
		int n;

		for (i = 0; i < sizeof(eras) / sizeof(eras[0]); i++)
			if (lit(&p, eras[i].name))
				break;
		if (i == sizeof(eras) / sizeof(eras[0]))
			goto bad;
		if (lit(&p, "元"))
			n = 1;
		else if (!num(&p, 2, &n) || n == 0)
			goto bad;
		if (!lit(&p, "年") || !num(&p, 2, &m) || !lit(&p, "月") ||
		    !num(&p, 2, &d) || !lit(&p, "日") || *p != '\0')
			goto bad;
		era = (int)eras[i].era;
		y = eras[i].first_year + n - 1;
	}
	*out = (struct jpki_date){y, m, d};
	if (!jpki_date_valid(out))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth in the form, \"%s\", is "
				    "not a day of the calendar",
				    shown);
	/* an era year past the era's end (平成31年5月1日) names no day */
	if (era >= 0 && (int)jpki_profile_era(out) != era)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth in the form, \"%s\", "
				    "does not fall in the era it names",
				    shown);
	return 0;
bad:
	return jpki_err_set(JPKI_ERR_INVALID,
			    "the date of birth in the form, \"%s\", cannot be "
			    "read: " BIRTH_FORMS,
			    shown);
}

int jpki_verify_parse_birth(struct jpki_date *out, const char *text)
{
	char *t = NULL, shown[96];
	int r;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no date of birth");
	clip(shown, sizeof(shown), text, 80);
	if (fold(&t, text) != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth in the form is not "
				    "UTF-8 text");
	r = birth_of(out, t, shown);
	free(t);
	return r;
}

/* ---- sex ---------------------------------------------------------------- */

static const struct {
	const char *word;
	enum jpki_sex sex;
} sexes[] = {
    {"male", JPKI_SEX_MALE},       {"男", JPKI_SEX_MALE},
    {"男性", JPKI_SEX_MALE},       {"1", JPKI_SEX_MALE},
    {"female", JPKI_SEX_FEMALE},   {"女", JPKI_SEX_FEMALE},
    {"女性", JPKI_SEX_FEMALE},     {"2", JPKI_SEX_FEMALE},
    {"unknown", JPKI_SEX_UNKNOWN}, {"不明", JPKI_SEX_UNKNOWN},
    {"3", JPKI_SEX_UNKNOWN},
};

int jpki_verify_parse_sex(enum jpki_sex *out, const char *text)
{
	char *t = NULL, shown[96];

	*out = 0;
	if (text == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no sex");
	clip(shown, sizeof(shown), text, 80);
	if (fold(&t, text) != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the sex in the form is not UTF-8 text");
	for (size_t i = 0; i < sizeof(sexes) / sizeof(sexes[0]); i++)
		if (strcasecmp(t, sexes[i].word) == 0) {
			*out = sexes[i].sex;
			free(t);
			return 0;
		}
	free(t);
	return jpki_err_set(JPKI_ERR_INVALID,
			    "the sex in the form, \"%s\", cannot be read: "
			    "write male, female or unknown, 男, 女 or 不明, or "
			    "the certificate's code 1, 2 or 3",
			    shown);
}

const char *jpki_verify_sex_word(enum jpki_sex sex)
{
	switch (sex) {
	case JPKI_SEX_MALE:
		return "male";
	case JPKI_SEX_FEMALE:
		return "female";
	case JPKI_SEX_UNKNOWN:
		return "unknown";
	}
	return "(none)";
}

/* ---- the four facts ----------------------------------------------------- */

static void add(struct jpki_verify_mismatches *out, enum jpki_app_refusal why,
		const char *fmt, ...) JPKI_PRINTF(3, 4);

static void add(struct jpki_verify_mismatches *out, enum jpki_app_refusal why,
		const char *fmt, ...)
{
	struct jpki_verify_reason *m;
	va_list ap;

	if (out->n == JPKI_VERIFY_MAX_MISMATCHES)
		return;
	m = &out->m[out->n++];
	m->why = why;
	va_start(ap, fmt);
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
	va_end(ap);
}

/* "name differs: form A, certificate B", each side clipped to fit. */
static void text_fact(struct jpki_verify_mismatches *out,
		      enum jpki_app_refusal why, const char *what,
		      const char *form, const char *cert)
{
	char a[112], b[112];

	if (jpki_verify_text_match(form, cert))
		return;
	clip(a, sizeof(a), form, 100);
	clip(b, sizeof(b), cert, 100);
	add(out, why, "%s differs: form %s, certificate %s", what, a, b);
}

int jpki_verify_facts_match(struct jpki_verify_mismatches *out,
			    const struct jpki_verify_form *form,
			    const struct jpki_facts *facts)
{
	memset(out, 0, sizeof(*out));
	if (form == NULL || facts == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "no form or no facts to match");
	if (form->name != NULL)
		text_fact(out, JPKI_APP_NAME_MISMATCH, "name", form->name,
			  facts->name);
	if (form->birth != NULL) {
		struct jpki_date d;
		char a[11], b[11];

		if (jpki_verify_parse_birth(&d, form->birth) != 0) {
			add(out, JPKI_APP_FORM_INVALID, "%s",
			    jpki_err_detail());
		} else if (jpki_date_cmp(&d, &facts->birth) != 0) {
			jpki_date_format(&d, a);
			jpki_date_format(&facts->birth, b);
			add(out, JPKI_APP_BIRTH_MISMATCH,
			    "date of birth differs: form %s, certificate %s", a,
			    b);
		}
	}
	if (form->sex != NULL) {
		enum jpki_sex s;

		if (jpki_verify_parse_sex(&s, form->sex) != 0)
			add(out, JPKI_APP_FORM_INVALID, "%s",
			    jpki_err_detail());
		else if (s != facts->sex)
			add(out, JPKI_APP_SEX_MISMATCH,
			    "sex differs: form %s, certificate %s",
			    jpki_verify_sex_word(s),
			    jpki_verify_sex_word(facts->sex));
	}
	if (form->address != NULL)
		text_fact(out, JPKI_APP_ADDRESS_MISMATCH, "address",
			  form->address, facts->address);
	jpki_err_clear();
	return 0;
}
