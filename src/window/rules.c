/*
 * The window's rules about what the resident brings and what it was handed
 * before (SPEC 3): the photo IDs a municipality accepts, and the cards the
 * window issued onto, each with its own expiry, so that a certificate
 * written onto an existing card never outlives it and a Juki card is
 * recorded as returned when its holder switches to a My Number card.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/card.h"
#include "window/window_internal.h"

/* The kinds every municipality accepts (seeds 000-003), in the codec's
 * style: a stable ASCII word and its Japanese label. */
static const struct {
	const char *word, *label;
} national_ids[] = {
    {"driving-licence", "運転免許証"},
    {"passport", "旅券 (パスポート)"},
    {"mynumber-card", "個人番号カード"},
    {"juki-card-photo", "写真付き住民基本台帳カード"},
};
#define NATIONAL_IDS (sizeof(national_ids) / sizeof(national_ids[0]))

static int valid_word(const char *w)
{
	size_t n = w != NULL ? strlen(w) : 0;

	if (n == 0 || n > 32 || w[0] == '-')
		return 0;
	return strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int jpki_window_photo_ids(struct jpki_photo_id_kind **out, size_t *n,
			  struct jpki_store *st, const char *municipality_code)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code)};
	struct jpki_photo_id_kind *list;
	struct jpki_rows *rows = NULL;
	size_t own;
	int r;

	*out = NULL;
	*n = 0;
	if (municipality_code == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no municipality named");
	if ((r = jpki_store_query(&rows, st,
				  "SELECT word, label FROM window_photo_id"
				  " WHERE municipality_code = $1 ORDER BY"
				  " added_at, word",
				  p, 1)) != 0)
		return r;
	own = jpki_rows_count(rows);
	if ((list = calloc(NATIONAL_IDS + own, sizeof(*list))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < NATIONAL_IDS; i++) {
		snprintf(list[i].word, sizeof(list[i].word), "%s",
			 national_ids[i].word);
		snprintf(list[i].label, sizeof(list[i].label), "%s",
			 national_ids[i].label);
		list[i].national = 1;
	}
	for (size_t i = 0; i < own; i++) {
		const char *label = jpki_rows_text(rows, i, 1);

		snprintf(list[NATIONAL_IDS + i].word,
			 sizeof(list[NATIONAL_IDS + i].word), "%s",
			 jpki_rows_text(rows, i, 0));
		snprintf(list[NATIONAL_IDS + i].label,
			 sizeof(list[NATIONAL_IDS + i].label), "%s",
			 label != NULL ? label : "");
	}
	jpki_rows_free(rows);
	*out = list;
	*n = NATIONAL_IDS + own;
	return 0;
}

static int is_national(const char *word)
{
	for (size_t i = 0; i < NATIONAL_IDS; i++)
		if (strcmp(word, national_ids[i].word) == 0)
			return 1;
	return 0;
}

int jpki_window_photo_id_add(struct jpki_store *st, const struct jpki_actor *by,
			     const char *municipality_code, const char *word,
			     const char *label)
{
	char detail[256];
	int r = JPKI_ERR_INTERNAL;

	if (!valid_word(word))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a photo ID kind is a word of 1 to 32 "
				    "lower-case letters, digits and '-' (e.g. "
				    "residence-card)");
	if (label != NULL && (strlen(label) > 96 || strchr(label, '"') ||
			      strchr(label, '\\') || strchr(label, '\n')))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the label is at most 96 bytes, without "
				    "quotes, backslashes or line breaks");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      municipality_code)) != 0)
		return r;
	if (is_national(word))
		return jpki_err_set(JPKI_ERR_STATE,
				    "'%s' is accepted everywhere already",
				    word);
	snprintf(detail, sizeof(detail), "{\"kind\":\"%s\",\"label\":\"%s\"}",
		 word, label ? label : "");
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(municipality_code), JPKI_V_TEXT(word),
		    label ? JPKI_V_TEXT(label) : JPKI_V_NULL,
		    JPKI_V_INT((int64_t)jpki_clock_now())};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO window_photo_id (municipality_code,"
			 " word, label, added_at) VALUES ($1, $2, $3, $4)"
			 " ON CONFLICT (municipality_code, word) DO UPDATE"
			 " SET label = excluded.label",
			 p, 4, NULL)) != 0 ||
		    (r = jpki_audit_append(st, by, "window.photo_id.add",
					   municipality_code, detail)) != 0) {
			jpki_store_rollback(st);
			return r;
		}
	}
	return jpki_store_commit(st);
}

int jpki_window_photo_id_remove(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *municipality_code, const char *word)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code),
				 JPKI_V_TEXT(word)};
	char detail[96];
	int64_t changes = 0;
	int r = JPKI_ERR_INTERNAL;

	if (!valid_word(word))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not a photo ID kind",
				    word ? word : "");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      municipality_code)) != 0)
		return r;
	if (is_national(word))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "'%s' is accepted by every municipality "
				    "and cannot be removed",
				    word);
	snprintf(detail, sizeof(detail), "{\"kind\":\"%s\"}", word);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_exec(st,
				 "DELETE FROM window_photo_id WHERE"
				 " municipality_code = $1 AND word = $2",
				 p, 2, &changes)) != 0)
		goto fail;
	if (changes != 1) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "%s does not list '%s'", municipality_code,
				 word);
		goto fail;
	}
	if ((r = jpki_audit_append(st, by, "window.photo_id.remove",
				   municipality_code, detail)) != 0)
		goto fail;
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	return r;
}

int window_check_photo_id(struct jpki_store *st,
			  const struct jpki_resident *res, const char *kind,
			  const char *expiry)
{
	struct jpki_rows *rows = NULL;
	struct jpki_date until, today = jpki_date_today();
	char day[11];
	int r, listed = 0;

	if (kind == NULL || *kind == '\0')
		return jpki_err_set(JPKI_ERR_POLICY, "no photo ID shown");
	if (is_national(kind)) {
		listed = 1;
	} else if (valid_word(kind)) {
		struct jpki_value p[] = {JPKI_V_TEXT(res->municipality_code),
					 JPKI_V_TEXT(kind)};

		if ((r = jpki_store_query(&rows, st,
					  "SELECT 1 FROM window_photo_id WHERE"
					  " municipality_code = $1 AND word ="
					  " $2",
					  p, 2)) != 0)
			return r;
		listed = jpki_rows_count(rows) > 0;
		jpki_rows_free(rows);
	}
	if (!listed)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "photo ID kind '%s' is not accepted by "
				    "%s (%s): jpki window photo-ids %s lists "
				    "the kinds it accepts",
				    kind, res->municipality,
				    res->municipality_code,
				    res->municipality_code);
	if (expiry == NULL || *expiry == '\0')
		return 0;
	if (jpki_date_parse(&until, expiry) != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the photo ID's expiry '%s' is not a date "
				    "(YYYY-MM-DD)",
				    expiry);
	if (jpki_date_cmp(&until, &today) < 0) {
		jpki_date_format(&until, day);
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the %s expired on %s: an expired photo "
				    "ID does not count",
				    kind, day);
	}
	return 0;
}

/* ---- cards ------------------------------------------------------------------
 */

int window_card_serial(char out[17], struct jpki_reader *rd)
{
	static const uint8_t read_token[] = {0x00, 0xB0, 0x00, 0x00, 0xA0};
	uint8_t token[JPKI_READER_MAX_RESPONSE];
	size_t len = sizeof(token);
	int r;

	out[0] = '\0';
	if ((r = jpki_reader_select_ap(rd)) != 0 ||
	    (r = jpki_reader_select_ef(rd, JPKI_EF_TOKEN_INFO)) != 0 ||
	    (r = jpki_reader_command(rd, read_token, sizeof(read_token), token,
				     &len,
				     "reading the token information")) != 0)
		return r;
	/* 16 hex digits at offset 80 of CK_TOKEN_INFO, as at issuer
	 * authentication */
	if (len < 96 || strspn((const char *)token + 80,
			       "0123456789ABCDEFabcdef") < 16)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the card serial is unreadable");
	memcpy(out, token + 80, 16);
	out[16] = '\0';
	return 0;
}

static int card_lookup(struct jpki_window_card *out, struct jpki_store *st,
		       const char *serial)
{
	struct jpki_value p[] = {JPKI_V_TEXT(serial)};
	struct jpki_rows *rows = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = jpki_store_query(&rows, st,
				  "SELECT serial, kind, person,"
				  " municipality_code, made_on, expires_on,"
				  " state, returned_at FROM window_card"
				  " WHERE serial = $1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1) {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "card %s was never issued at the window",
				    serial);
	}
	snprintf(out->serial, sizeof(out->serial), "%s",
		 jpki_rows_text(rows, 0, 0));
	out->kind = (enum jpki_card_kind)jpki_rows_int(rows, 0, 1);
	snprintf(out->person, sizeof(out->person), "%s",
		 jpki_rows_text(rows, 0, 2));
	snprintf(out->municipality_code, sizeof(out->municipality_code), "%s",
		 jpki_rows_text(rows, 0, 3));
	r = jpki_date_parse(&out->made_on, jpki_rows_text(rows, 0, 4));
	if (r == 0 && jpki_rows_text(rows, 0, 5) != NULL)
		r = jpki_date_parse(&out->expires_on,
				    jpki_rows_text(rows, 0, 5));
	out->state = (enum jpki_window_card_state)jpki_rows_int(rows, 0, 6);
	out->returned_at = (time_t)jpki_rows_int(rows, 0, 7);
	jpki_rows_free(rows);
	if (r != 0)
		return jpki_err_set(JPKI_ERR_STORE,
				    "the record of card %s is unreadable",
				    serial);
	return 0;
}

int jpki_window_card_record(struct jpki_window_card *out, struct jpki_store *st,
			    struct jpki_reader *rd)
{
	char serial[17];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = window_card_serial(serial, rd)) != 0)
		return r;
	return card_lookup(out, st, serial);
}

int window_card_for(struct jpki_window_card *out, int *fresh,
		    struct jpki_store *st, struct jpki_reader *rd,
		    const struct jpki_resident *res, enum jpki_card_kind kind)
{
	struct jpki_date today = jpki_date_today();
	char serial[17], day[11];
	int r;

	*fresh = 0;
	if ((r = window_card_serial(serial, rd)) != 0)
		return r;
	r = card_lookup(out, st, serial);
	if (r == JPKI_ERR_NOT_FOUND) {
		/* a card first seen now is the one handed over now */
		jpki_err_clear();
		memset(out, 0, sizeof(*out));
		snprintf(out->serial, sizeof(out->serial), "%s", serial);
		out->kind = kind;
		snprintf(out->person, sizeof(out->person), "%s", res->person);
		snprintf(out->municipality_code,
			 sizeof(out->municipality_code), "%s",
			 res->municipality_code);
		out->made_on = today;
		if (kind == JPKI_CARD_MYNUMBER)
			out->expires_on =
			    jpki_profile_card_expiry(&today, &res->facts.birth);
		out->state = JPKI_WINDOW_CARD_IN_USE;
		*fresh = 1;
		return 0;
	}
	if (r != 0)
		return r;
	if (strcmp(out->person, res->person) != 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the card in the reader (%s) is another "
				    "resident's card",
				    serial);
	if (out->state == JPKI_WINDOW_CARD_RETURNED)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card in the reader (%s) was returned "
				    "to the municipality and is no longer in "
				    "use",
				    serial);
	if (jpki_date_valid(&out->expires_on) &&
	    jpki_date_cmp(&out->expires_on, &today) < 0) {
		jpki_date_format(&out->expires_on, day);
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the card in the reader expired on %s: a "
				    "certificate never outlives its card; a "
				    "new card is needed",
				    day);
	}
	return 0;
}

int window_card_put(struct jpki_store *st, const struct jpki_window_card *c)
{
	char made[11], expires[11] = "";
	struct jpki_value p[7];

	jpki_date_format(&c->made_on, made);
	if (jpki_date_valid(&c->expires_on))
		jpki_date_format(&c->expires_on, expires);
	p[0] = JPKI_V_TEXT(c->serial);
	p[1] = JPKI_V_INT(c->kind);
	p[2] = JPKI_V_TEXT(c->person);
	p[3] = JPKI_V_TEXT(c->municipality_code);
	p[4] = JPKI_V_TEXT(made);
	p[5] = expires[0] ? JPKI_V_TEXT(expires)
			  : JPKI_V_NULL;
	p[6] = JPKI_V_INT(JPKI_WINDOW_CARD_IN_USE);
	return jpki_store_exec(st,
			       "INSERT INTO window_card (serial, kind, person,"
			       " municipality_code, made_on, expires_on,"
			       " state) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			       p, 7, NULL);
}

int window_card_retire_juki(int64_t *count, struct jpki_store *st,
			    const char *person)
{
	struct jpki_value p[] = {JPKI_V_TEXT(person),
				 JPKI_V_INT(JPKI_CARD_JUKI),
				 JPKI_V_INT(JPKI_WINDOW_CARD_IN_USE),
				 JPKI_V_INT(JPKI_WINDOW_CARD_RETURNED),
				 JPKI_V_INT((int64_t)jpki_clock_now())};

	*count = 0;
	return jpki_store_exec(st,
			       "UPDATE window_card SET state = $4,"
			       " returned_at = $5 WHERE person = $1 AND"
			       " kind = $2 AND state = $3",
			       p, 5, count);
}
