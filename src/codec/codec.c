/*
 * The JSON form of the records (include/jpki/codec.h): the words, one
 * strict decoder driven by a table of fields, and each record's table and
 * encoder. The words are written here once; the CLI and the API take them
 * from here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jpki/codec.h"

/* ---- the words ---------------------------------------------------------- */

const struct jpki_codec_word jpki_codec_sex_words[] = {
    {"male", JPKI_SEX_MALE},
    {"female", JPKI_SEX_FEMALE},
    {"unknown", JPKI_SEX_UNKNOWN},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_type_words[] = {
    {"sign", JPKI_CERT_SIGN},
    {"auth", JPKI_CERT_AUTH},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_card_words[] = {
    {"mynumber", JPKI_CARD_MYNUMBER},
    {"juki", JPKI_CARD_JUKI},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_path_words[] = {
    {"photo", JPKI_ID_PHOTO},
    {"letter", JPKI_ID_NO_PHOTO},
    {"proxy", JPKI_ID_PROXY},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_report_words[] = {
    {"lost", JPKI_LOSS_LOST},
    {"card-fault", JPKI_LOSS_CARD_FAULT},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_purpose_words[] = {
    {"issue", JPKI_APP_KIND_ISSUE},
    {"renewal", JPKI_APP_KIND_RENEWAL},
    {"juki-card", JPKI_APP_KIND_JUKI_CARD},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_state_words[] = {
    {"waiting-letter", JPKI_APP_WAITING_LETTER},
    {"ready", JPKI_APP_READY},
    {"issued", JPKI_APP_ISSUED},
    {"cancelled", JPKI_APP_CANCELLED},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_status_words[] = {
    {"registered", JPKI_RESIDENT_REGISTERED},
    {"dead", JPKI_RESIDENT_DEAD},
    {"removed", JPKI_RESIDENT_REMOVED},
    {NULL, 0},
};
const struct jpki_codec_word jpki_codec_role_words[] = {
    {"registry-clerk", JPKI_ROLE_REGISTRY_CLERK},
    {"window-clerk", JPKI_ROLE_WINDOW_CLERK},
    {"ca-officer", JPKI_ROLE_CA_OFFICER},
    {"auditor", JPKI_ROLE_AUDITOR},
    {NULL, 0},
};

/* The field the thread's last refusal named. */
static _Thread_local char last_field[64];

const char *jpki_codec_field(void)
{
	return last_field;
}

/* Refuses with `fmt` about `field`, remembering the field's name. */
static int refuse(const char *field, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int refuse(const char *field, const char *fmt, ...)
{
	char why[384];
	va_list ap;

	snprintf(last_field, sizeof(last_field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return jpki_err_set(JPKI_ERR_INVALID, "%s", why);
}

const char *jpki_codec_word(const struct jpki_codec_word *words, int value)
{
	for (; words->word != NULL; words++)
		if (words->value == value)
			return words->word;
	return "";
}

int jpki_codec_word_parse(int *out, const struct jpki_codec_word *words,
			  const char *word, const char *field)
{
	char list[160] = "";
	size_t used = 0;

	for (const struct jpki_codec_word *w = words; w->word != NULL; w++) {
		if (word != NULL && strcmp(w->word, word) == 0) {
			*out = w->value;
			return 0;
		}
		used += (size_t)snprintf(list + used, sizeof(list) - used,
					 "%s%s", used ? ", " : "", w->word);
		if (used >= sizeof(list))
			used = sizeof(list) - 1;
	}
	return refuse(field, "\"%s\" must be one of %s, not \"%.40s\"", field,
		      list, word ? word : "");
}

/* ---- the decoder -------------------------------------------------------- */

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "true or false";
	default:
		return "null";
	}
}

static int decode_one(void *out, const struct jpki_codec_field *f,
		      const json_t *v)
{
	char *at = (char *)out + f->offset;
	const char *s;
	size_t len;

	switch (f->type) {
	case JPKI_CODEC_TEXT:
	case JPKI_CODEC_BUF:
	case JPKI_CODEC_WORD:
	case JPKI_CODEC_DATE:
		if (!json_is_string(v))
			return refuse(f->name,
				      "\"%s\" must be a string, not %s",
				      f->name, type_of(v));
		s = json_string_value(v);
		len = json_string_length(v);
		/* a NUL inside would cut the value where C reads it */
		if (strlen(s) != len)
			return refuse(f->name, "\"%s\" must not contain U+0000",
				      f->name);
		break;
	default:
		s = NULL;
		len = 0;
	}
	if (s != NULL && (f->flags & JPKI_CODEC_PRINTABLE)) {
		char what[80];
		int r;

		snprintf(what, sizeof(what), "\"%s\"", f->name);
		if ((r = jpki_text_check(s, what)) != 0) {
			snprintf(last_field, sizeof(last_field), "%s", f->name);
			return r;
		}
	}
	switch (f->type) {
	case JPKI_CODEC_TEXT:
		if (f->size > 0 && len > f->size)
			return refuse(f->name,
				      "\"%s\" has %zu bytes; at most %zu are "
				      "allowed",
				      f->name, len, f->size);
		memcpy(at, &s, sizeof(s));
		return 0;
	case JPKI_CODEC_BUF:
		if (len >= f->size)
			return refuse(f->name,
				      "\"%s\" has %zu bytes; at most %zu are "
				      "allowed",
				      f->name, len, f->size - 1);
		memcpy(at, s, len + 1);
		return 0;
	case JPKI_CODEC_WORD: {
		int value, r;

		if ((r = jpki_codec_word_parse(&value, f->words, s, f->name)) !=
		    0)
			return r;
		memcpy(at, &value, sizeof(value));
		return 0;
	}
	case JPKI_CODEC_DATE: {
		struct jpki_date d;

		if (jpki_date_parse(&d, s) != 0)
			return refuse(f->name,
				      "\"%s\" must be a date YYYY-MM-DD, not "
				      "\"%.40s\"",
				      f->name, s);
		memcpy(at, &d, sizeof(d));
		return 0;
	}
	case JPKI_CODEC_BOOL: {
		int b;

		if (!json_is_boolean(v))
			return refuse(f->name,
				      "\"%s\" must be true or false, not %s",
				      f->name, type_of(v));
		b = json_is_true(v);
		memcpy(at, &b, sizeof(b));
		return 0;
	}
	case JPKI_CODEC_INT: {
		json_int_t n;

		if (!json_is_integer(v))
			return refuse(f->name,
				      "\"%s\" must be an integer, not %s",
				      f->name, type_of(v));
		/* jansson keeps the full 64-bit value (and refuses to parse
		 * a larger one): compare it before any narrowing. */
		n = json_integer_value(v);
		if ((int64_t)n < f->min || (int64_t)n > f->max)
			return refuse(f->name,
				      "\"%s\" must be from %lld to %lld, not "
				      "%lld",
				      f->name, (long long)f->min,
				      (long long)f->max, (long long)n);
		if (f->size == sizeof(int64_t)) {
			int64_t w = (int64_t)n;

			memcpy(at, &w, sizeof(w));
		} else {
			int w = (int)n; /* within min..max, which fit an int */

			memcpy(at, &w, sizeof(w));
		}
		return 0;
	}
	}
	return refuse(f->name, "\"%s\" has no decoder", f->name);
}

int jpki_codec_decode(void *out, const struct jpki_codec_field *fields,
		      size_t n, const json_t *in)
{
	const char *key;
	json_t *v;
	int r;

	last_field[0] = '\0';
	if (!json_is_object(in))
		return refuse("", "the body must be a JSON object, not %s",
			      in ? type_of(in) : "empty");
	/* Unknown members first: a misspelt field must not pass as an
	 * absent one. */
	json_object_foreach((json_t *)in, key, v)
	{
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == n)
			return refuse(key, "\"%.64s\" is not a field here",
				      key);
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(in, fields[i].name);
		if (v == NULL) {
			if (fields[i].flags & JPKI_CODEC_REQUIRED)
				return refuse(fields[i].name,
					      "\"%s\" is required",
					      fields[i].name);
			continue;
		}
		if ((r = decode_one(out, &fields[i], v)) != 0)
			return r;
	}
	return 0;
}

/* ---- the records -------------------------------------------------------- */

#define FIELD(st, member, type, size, min, max, words, flags)                  \
	{                                                                      \
#member, type, offsetof(st, member), size, min, max, words,    \
		    flags                                                      \
	}

json_t *jpki_codec_resident_encode(const struct jpki_resident *r)
{
	char birth[11];

	jpki_date_format(&r->facts.birth, birth);
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "person",
	    r->person, "municipality_code", r->municipality_code, "prefecture",
	    r->prefecture, "municipality", r->municipality, "name",
	    r->facts.name, "sex",
	    jpki_codec_word(jpki_codec_sex_words, (int)r->facts.sex), "birth",
	    birth, "address", r->facts.address, "guardianship", r->guardianship,
	    "status", jpki_codec_word(jpki_codec_status_words, (int)r->status));
}

/* What a register request carries, before the name is normalized. */
struct resident_in {
	char municipality_code[8];
	char prefecture[64];
	char municipality[64];
	const char *name;
	char name_subst[JPKI_FACT_NAME_MAX];
	int sex;
	struct jpki_date birth;
	char address[JPKI_FACT_ADDRESS_MAX];
	char address_subst[JPKI_FACT_ADDRESS_MAX];
	int guardianship;
};

static const struct jpki_codec_field resident_fields[] = {
    FIELD(struct resident_in, municipality_code, JPKI_CODEC_BUF, 7, 0, 0, NULL,
	  JPKI_CODEC_REQUIRED),
    FIELD(struct resident_in, prefecture, JPKI_CODEC_BUF, 64, 0, 0, NULL,
	  JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
    FIELD(struct resident_in, municipality, JPKI_CODEC_BUF, 64, 0, 0, NULL,
	  JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
    FIELD(struct resident_in, name, JPKI_CODEC_TEXT, JPKI_FACT_NAME_MAX - 1, 0,
	  0, NULL, JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
    FIELD(struct resident_in, name_subst, JPKI_CODEC_BUF, JPKI_FACT_NAME_MAX, 0,
	  0, NULL, JPKI_CODEC_PRINTABLE),
    FIELD(struct resident_in, sex, JPKI_CODEC_WORD, 0, 0, 0,
	  jpki_codec_sex_words, JPKI_CODEC_REQUIRED),
    FIELD(struct resident_in, birth, JPKI_CODEC_DATE, 0, 0, 0, NULL,
	  JPKI_CODEC_REQUIRED),
    FIELD(struct resident_in, address, JPKI_CODEC_BUF, JPKI_FACT_ADDRESS_MAX, 0,
	  0, NULL, JPKI_CODEC_REQUIRED | JPKI_CODEC_PRINTABLE),
    FIELD(struct resident_in, address_subst, JPKI_CODEC_BUF,
	  JPKI_FACT_ADDRESS_MAX, 0, 0, NULL, JPKI_CODEC_PRINTABLE),
    FIELD(struct resident_in, guardianship, JPKI_CODEC_BOOL, 0, 0, 0, NULL, 0),
};

int jpki_codec_resident_decode(struct jpki_resident *out, const json_t *in)
{
	struct resident_in ri;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&ri, 0, sizeof(ri));
	if ((r = jpki_codec_decode(
		 &ri, resident_fields,
		 sizeof(resident_fields) / sizeof(resident_fields[0]), in)) !=
	    0)
		return r;
	if (jpki_profile_name_normalize(out->facts.name,
					sizeof(out->facts.name), ri.name) != 0)
		return refuse("name", "\"name\" is too long");
	memcpy(out->municipality_code, ri.municipality_code,
	       sizeof(out->municipality_code));
	memcpy(out->prefecture, ri.prefecture, sizeof(out->prefecture));
	memcpy(out->municipality, ri.municipality, sizeof(out->municipality));
	memcpy(out->facts.name_subst, ri.name_subst,
	       sizeof(out->facts.name_subst));
	out->facts.sex = (enum jpki_sex)ri.sex;
	out->facts.birth = ri.birth;
	memcpy(out->facts.address, ri.address, sizeof(out->facts.address));
	memcpy(out->facts.address_subst, ri.address_subst,
	       sizeof(out->facts.address_subst));
	out->guardianship = ri.guardianship;
	return 0;
}

json_t *jpki_codec_application_encode(const struct jpki_application *a)
{
	return json_pack(
	    /* no letter code: it is shown only on the printed letter */
	    "{s:I, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:i}",
	    "id",
	    (json_int_t)a->id, "person", a->person, "municipality_code",
	    a->municipality_code, "card",
	    jpki_codec_word(jpki_codec_card_words, (int)a->card), "sign",
	    a->want_sign, "auth", a->want_auth, "path",
	    jpki_codec_word(jpki_codec_path_words, (int)a->path), "state",
	    jpki_codec_word(jpki_codec_state_words, (int)a->state),
	    "sign_serial", a->sign_serial,
	    "auth_serial", a->auth_serial, "for",
	    jpki_codec_word(jpki_codec_purpose_words,
			    a->kind ? (int)a->kind : JPKI_APP_KIND_ISSUE),
	    "wrong_codes", a->wrong_codes);
}

/* The request's members under the JSON's names. */
struct application_in {
	const char *person;
	int card;
	int sign, auth;
	int path;
	const char *photo_id, *photo_id_address;
	int power_of_attorney, seal_certificate;
	const char *proxy_name, *special_circumstance;
	int purpose;
	const char *photo_id_expiry;
};

#define APP_TEXT(member, max, flags)                                           \
	FIELD(struct application_in, member, JPKI_CODEC_TEXT, max, 0, 0, NULL, \
	      flags)
#define APP_BOOL(member)                                                       \
	FIELD(struct application_in, member, JPKI_CODEC_BOOL, 0, 0, 0, NULL, 0)

static const struct jpki_codec_field application_fields[] = {
    APP_TEXT(person, 63, JPKI_CODEC_REQUIRED),
    FIELD(struct application_in, card, JPKI_CODEC_WORD, 0, 0, 0,
	  jpki_codec_card_words, 0),
    APP_BOOL(sign),
    APP_BOOL(auth),
    FIELD(struct application_in, path, JPKI_CODEC_WORD, 0, 0, 0,
	  jpki_codec_path_words, JPKI_CODEC_REQUIRED),
    APP_TEXT(photo_id, 63, 0),
    APP_TEXT(photo_id_address, JPKI_FACT_ADDRESS_MAX - 1, 0),
    APP_BOOL(power_of_attorney),
    APP_BOOL(seal_certificate),
    APP_TEXT(proxy_name, JPKI_FACT_NAME_MAX - 1, JPKI_CODEC_PRINTABLE),
    APP_TEXT(special_circumstance, 400, 0),
    /* "for": a C keyword, so the member has another name */
    {"for", JPKI_CODEC_WORD, offsetof(struct application_in, purpose), 0, 0,
     0, jpki_codec_purpose_words, 0},
    APP_TEXT(photo_id_expiry, 10, JPKI_CODEC_PRINTABLE),
};

int jpki_codec_application_decode(struct jpki_application_request *out,
				  const json_t *in)
{
	struct application_in ai;
	int r;

	*out = (struct jpki_application_request)JPKI_APPLICATION_REQUEST_INIT;
	memset(&ai, 0, sizeof(ai));
	ai.card = JPKI_CARD_MYNUMBER;
	if ((r = jpki_codec_decode(&ai, application_fields,
				   sizeof(application_fields) /
				       sizeof(application_fields[0]),
				   in)) != 0)
		return r;
	out->person = ai.person;
	out->card = (enum jpki_card_kind)ai.card;
	out->want_sign = ai.sign;
	out->want_auth = ai.auth;
	out->path = (enum jpki_identity_path)ai.path;
	out->photo_id_kind = ai.photo_id;
	out->photo_id_address = ai.photo_id_address;
	out->power_of_attorney_sealed = ai.power_of_attorney;
	out->seal_certificate = ai.seal_certificate;
	out->proxy_name = ai.proxy_name;
	out->special_circumstance = ai.special_circumstance;
	out->kind = ai.purpose ? (enum jpki_application_kind)ai.purpose
			       : JPKI_APP_KIND_ISSUE;
	out->photo_id_expiry = ai.photo_id_expiry;
	return 0;
}

static void iso_time(char buf[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *jpki_codec_certificate_encode(const struct jpki_cert_info *info)
{
	char nb[32], na[32], issued[32], rev[32];
	json_t *o;

	iso_time(nb, info->not_before);
	iso_time(na, info->not_after);
	iso_time(issued, info->issued_at);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "serial", info->serial, "type",
		      jpki_codec_word(jpki_codec_type_words, (int)info->type),
		      "card",
		      jpki_codec_word(jpki_codec_card_words, (int)info->card),
		      "person", info->person, "municipality_code",
		      info->municipality_code, "subject", info->subject,
		      "status", jpki_ca_status_name(info->status), "not_before",
		      nb, "not_after", na, "issued_at", issued);
	if (o != NULL && info->status != JPKI_STATUS_GOOD) {
		iso_time(rev, info->revoked_at);
		json_object_set_new(
		    o, "reason",
		    json_string(jpki_ca_reason_name(info->reason)));
		json_object_set_new(o, "revoked_at", json_string(rev));
	}
	return o;
}

static const struct jpki_codec_field report_fields[] = {
    FIELD(struct jpki_codec_report, person, JPKI_CODEC_TEXT, 63, 0, 0, NULL,
	  JPKI_CODEC_REQUIRED),
    FIELD(struct jpki_codec_report, kind, JPKI_CODEC_WORD, 0, 0, 0,
	  jpki_codec_report_words, JPKI_CODEC_REQUIRED),
};

int jpki_codec_report_decode(struct jpki_codec_report *out, const json_t *in)
{
	memset(out, 0, sizeof(*out));
	return jpki_codec_decode(
	    out, report_fields,
	    sizeof(report_fields) / sizeof(report_fields[0]), in);
}

json_t *jpki_codec_operator_encode(const struct jpki_actor *who)
{
	return json_pack("{s:s, s:s, s:s}", "operator", who->operator_id,
			 "role",
			 jpki_codec_word(jpki_codec_role_words, (int)who->role),
			 "municipality_code", who->municipality_code);
}
