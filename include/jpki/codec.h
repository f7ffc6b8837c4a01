/*
 * codec: the one JSON form of each record the service shows or takes -
 * resident, application, certificate, report, operator - shared by the
 * CLI's --json output and the window's JSON API, so both speak the same
 * words:
 *
 *   sex          male, female, unknown
 *   type         sign, auth
 *   card         mynumber, juki
 *   path         photo, letter, proxy        (how identity was checked)
 *   kind         lost, card-fault            (a report)
 *   state        waiting-letter, ready, issued, cancelled
 *   for          issue, renewal, juki-card   (what an application is for)
 *   status       registered, dead, removed   (a resident)
 *   role         registry-clerk, window-clerk, ca-officer, auditor
 *
 * Decoding is strict: an unknown field, an unknown word, a value of the
 * wrong JSON type, a number out of its range (checked on the 64-bit value,
 * never cast), a string longer than its field (never cut) and a missing
 * required field are each refused with JPKI_ERR_INVALID and a sentence that
 * names the field; jpki_codec_field() then names it alone (for the API's
 * {"error":..., "field":...}). Nothing is written to the output on refusal
 * beyond what the caller must discard anyway.
 */
#ifndef JPKI_CODEC_H
#define JPKI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jpki/audit.h"
#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/profile.h"
#include "jpki/registry.h"
#include "jpki/window.h"

/* ---- the words ---------------------------------------------------------- */

/* One word of an enumeration and the value it stands for. */
struct jpki_codec_word {
	const char *word;
	int value;
};

/* The tables, each ended by {NULL, 0}. */
extern const struct jpki_codec_word jpki_codec_sex_words[];
extern const struct jpki_codec_word jpki_codec_type_words[];
extern const struct jpki_codec_word jpki_codec_card_words[];
extern const struct jpki_codec_word jpki_codec_path_words[];
extern const struct jpki_codec_word jpki_codec_report_words[];
extern const struct jpki_codec_word jpki_codec_state_words[];
extern const struct jpki_codec_word jpki_codec_purpose_words[];
extern const struct jpki_codec_word jpki_codec_status_words[];
extern const struct jpki_codec_word jpki_codec_role_words[];

/* The word for `value` in `words`, "" when it has none (borrowed). */
const char *jpki_codec_word(const struct jpki_codec_word *words, int value);
/*
 * The value of `word` in `words` into *out; JPKI_ERR_INVALID naming `field`
 * and listing the words when it is not one of them.
 */
int jpki_codec_word_parse(int *out, const struct jpki_codec_word *words,
			  const char *word, const char *field) JPKI_MUST_CHECK;

/* ---- a strict object decoder -------------------------------------------- */

enum jpki_codec_type {
	JPKI_CODEC_TEXT = 1, /* const char * at offset, borrowed from the
				JSON; size: most bytes (0: any) */
	JPKI_CODEC_BUF,      /* char[size] at offset, copied, never cut */
	JPKI_CODEC_BOOL,     /* int at offset: 0 or 1, from true/false */
	JPKI_CODEC_INT,      /* int (size 4) or int64_t (size 8) at offset,
				min..max */
	JPKI_CODEC_WORD,     /* int-sized enum at offset, from words */
	JPKI_CODEC_DATE,     /* struct jpki_date at offset, "YYYY-MM-DD" */
};

#define JPKI_CODEC_REQUIRED 1u
/* a string that may reach a certificate or a letter: jpki_text_check() */
#define JPKI_CODEC_PRINTABLE 2u

/* One field of an object. */
struct jpki_codec_field {
	const char *name;
	enum jpki_codec_type type;
	size_t offset;
	size_t size;
	int64_t min, max;
	const struct jpki_codec_word *words;
	unsigned flags;
};

/*
 * Decodes the object `in` into the struct at `out` by `fields` (n of them):
 * every member of `in` must be one of the fields, of its type and range.
 * Fields absent from `in` keep what *out held. Returns 0 or
 * JPKI_ERR_INVALID naming the field (see jpki_codec_field()). Strings of
 * JPKI_CODEC_TEXT point into `in`, which must outlive their use.
 */
int jpki_codec_decode(void *out, const struct jpki_codec_field *fields,
		      size_t n, const json_t *in) JPKI_MUST_CHECK;

/* The field the calling thread's last refusal of a decoder named ("" for
 * the object as a whole); borrowed until its next call. */
const char *jpki_codec_field(void);

/* ---- the records -------------------------------------------------------- */

/* A resident as shown: person, municipality_code, prefecture,
 * municipality, name, sex, birth, address, guardianship, status. NULL when
 * out of memory; caller json_decref()s. */
json_t *jpki_codec_resident_encode(const struct jpki_resident *r);
/*
 * A resident to register: municipality_code, prefecture, municipality,
 * name (normalized: jpki_profile_name_normalize), name_subst, sex, birth,
 * address, address_subst, guardianship; all but the two substitutes and
 * guardianship required. *out is zeroed first.
 */
int jpki_codec_resident_decode(struct jpki_resident *out,
			       const json_t *in) JPKI_MUST_CHECK;

/* An application as shown: id, person, municipality_code, card, sign,
 * auth, path, state, letter_code, sign_serial, auth_serial. */
json_t *jpki_codec_application_encode(const struct jpki_application *a);
/*
 * An application as asked for: person (required), card, sign, auth, path
 * (required), photo_id, photo_id_address, power_of_attorney,
 * seal_certificate, proxy_name, special_circumstance. Strings borrow from
 * `in`. *out is set to JPKI_APPLICATION_REQUEST_INIT first.
 */
int jpki_codec_application_decode(struct jpki_application_request *out,
				  const json_t *in) JPKI_MUST_CHECK;

/* A certificate's record as shown: serial, type, card, person,
 * municipality_code, subject, status, not_before, not_after, issued_at
 * (UTC, ISO 8601), and reason and revoked_at once revoked. */
json_t *jpki_codec_certificate_encode(const struct jpki_cert_info *info);

/* A loss report: person and kind, both required. */
struct jpki_codec_report {
	const char *person; /* borrowed from the JSON */
	enum jpki_loss_kind kind;
};
int jpki_codec_report_decode(struct jpki_codec_report *out,
			     const json_t *in) JPKI_MUST_CHECK;

/* An operator as shown: operator, role, municipality_code. */
json_t *jpki_codec_operator_encode(const struct jpki_actor *who);

#endif
