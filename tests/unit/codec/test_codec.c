/*
 * The records' JSON form: each record decodes what it encodes, and each
 * refusal (unknown field, unknown word, wrong type, number out of range,
 * string too long, control character, missing field) is JPKI_ERR_INVALID
 * with a sentence and jpki_codec_field() naming the field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jpki/codec.h"

static json_t *parse(const char *text)
{
	json_t *o = json_loads(text, 0, NULL);

	assert_non_null(o);
	return o;
}

static const char resident_text[] =
    "{\"municipality_code\":\"131016\",\"prefecture\":\"東京都\","
    "\"municipality\":\"千代田区\",\"name\":\"田中 一\",\"sex\":\"female\","
    "\"birth\":\"1990-01-15\",\"address\":\"千代田５番５号\","
    "\"guardianship\":true}";

static void test_resident_round_trip(void **state)
{
	struct jpki_resident r, back;
	json_t *in = parse(resident_text), *out;

	assert_int_equal(jpki_codec_resident_decode(&r, in), 0);
	assert_string_equal(r.facts.name, "田中\xe3\x80\x80一");
	assert_int_equal(r.facts.sex, JPKI_SEX_FEMALE);
	assert_int_equal(r.guardianship, 1);
	snprintf(r.person, sizeof(r.person), "R0123");
	r.status = JPKI_RESIDENT_REGISTERED;
	assert_non_null(out = jpki_codec_resident_encode(&r));
	assert_string_equal(json_string_value(json_object_get(out, "sex")),
			    "female");
	assert_string_equal(json_string_value(json_object_get(out, "status")),
			    "registered");
	/* what is shown decodes again, less what only the register sets */
	json_object_del(out, "person");
	json_object_del(out, "status");
	assert_int_equal(jpki_codec_resident_decode(&back, out), 0);
	assert_memory_equal(&back.facts, &r.facts, sizeof(r.facts));
	assert_string_equal(back.prefecture, r.prefecture);
	assert_int_equal(back.guardianship, 1);
	json_decref(in);
	json_decref(out);
}

/* Decoding `text` as a resident is refused, naming `field`. */
static void resident_refused(const char *key, const char *value,
			     const char *field)
{
	struct jpki_resident r;
	json_t *in = parse(resident_text),
	       *v = json_loads(value, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	json_object_set_new(in, key, v);
	assert_int_equal(jpki_codec_resident_decode(&r, in), JPKI_ERR_INVALID);
	if (strcmp(jpki_codec_field(), field) != 0)
		fail_msg("%s=%s: field '%s', not '%s' (%s)", key, value,
			 jpki_codec_field(), field, jpki_err_detail());
	assert_non_null(strstr(jpki_err_detail(), field));
	json_decref(in);
}

static void test_resident_refusals(void **state)
{
	char long_pref[200];

	resident_refused("sex", "\"x\"", "sex");
	resident_refused("sex", "1", "sex");
	resident_refused("sex", "4294967297", "sex");
	resident_refused("guardianship", "\"yes\"", "guardianship");
	resident_refused("birth", "\"1990-02-30\"", "birth");
	resident_refused("birth", "19900115", "birth");
	resident_refused("nickname", "\"x\"", "nickname");
	resident_refused("name", "null", "name");
	resident_refused("name", "\"田中\\n一\"", "name");
	resident_refused("name", "\"田中\\u0007一\"", "name");
	resident_refused("name", "\"田中\\u202e一\"", "name");
	resident_refused("address", "\"a\\u2066b\"", "address");
	/* 22 three-byte characters: 66 bytes, past the 63 of the field */
	strcpy(long_pref, "\"");
	for (int i = 0; i < 22; i++)
		strcat(long_pref, "東");
	strcat(long_pref, "\"");
	resident_refused("prefecture", long_pref, "prefecture");
	resident_refused("municipality", long_pref, "municipality");
	resident_refused("municipality_code", "\"1310161\"",
			 "municipality_code");
}

static void test_resident_missing(void **state)
{
	struct jpki_resident r;
	json_t *in = parse(resident_text);

	json_object_del(in, "birth");
	assert_int_equal(jpki_codec_resident_decode(&r, in), JPKI_ERR_INVALID);
	assert_string_equal(jpki_codec_field(), "birth");
	json_decref(in);
	in = parse("[1]");
	assert_int_equal(jpki_codec_resident_decode(&r, in), JPKI_ERR_INVALID);
	assert_string_equal(jpki_codec_field(), "");
	json_decref(in);
}

static void test_application_round_trip(void **state)
{
	struct jpki_application_request req;
	struct jpki_application a;
	json_t *in = parse("{\"person\":\"R1\",\"card\":\"juki\",\"sign\":true,"
			   "\"auth\":false,\"path\":\"letter\","
			   "\"proxy_name\":\"代理 人\"}"),
	       *out;

	assert_int_equal(jpki_codec_application_decode(&req, in), 0);
	assert_string_equal(req.person, "R1");
	assert_int_equal(req.card, JPKI_CARD_JUKI);
	assert_int_equal(req.want_sign, 1);
	assert_int_equal(req.want_auth, 0);
	assert_int_equal(req.path, JPKI_ID_NO_PHOTO);
	memset(&a, 0, sizeof(a));
	a.id = 7;
	snprintf(a.person, sizeof(a.person), "%s", req.person);
	a.card = req.card;
	a.want_sign = req.want_sign;
	a.path = req.path;
	a.state = JPKI_APP_WAITING_LETTER;
	assert_non_null(out = jpki_codec_application_encode(&a));
	assert_string_equal(json_string_value(json_object_get(out, "state")),
			    "waiting-letter");
	assert_string_equal(json_string_value(json_object_get(out, "path")),
			    "letter");
	assert_string_equal(json_string_value(json_object_get(out, "card")),
			    "juki");
	/* an application says what it is for: a new issue unless told */
	assert_int_equal(req.kind, JPKI_APP_KIND_ISSUE);
	assert_string_equal(json_string_value(json_object_get(out, "for")),
			    "issue");
	json_decref(in);
	json_decref(out);
}

/* What an application is for, and the photo ID's expiry (issue #13). */
static void test_application_purpose(void **state)
{
	struct jpki_application_request req;
	struct jpki_application a;
	json_t *in = parse("{\"person\":\"R1\",\"path\":\"letter\","
			   "\"for\":\"renewal\","
			   "\"photo_id_expiry\":\"2027-03-31\"}"),
	       *out;

	(void)state;
	assert_int_equal(jpki_codec_application_decode(&req, in), 0);
	assert_int_equal(req.kind, JPKI_APP_KIND_RENEWAL);
	assert_string_equal(req.photo_id_expiry, "2027-03-31");
	json_decref(in);
	in = parse("{\"person\":\"R1\",\"path\":\"letter\","
		   "\"for\":\"juki-card\"}");
	assert_int_equal(jpki_codec_application_decode(&req, in), 0);
	assert_int_equal(req.kind, JPKI_APP_KIND_JUKI_CARD);
	json_decref(in);
	memset(&a, 0, sizeof(a));
	a.kind = JPKI_APP_KIND_JUKI_CARD;
	a.wrong_codes = 2;
	assert_non_null(out = jpki_codec_application_encode(&a));
	assert_string_equal(json_string_value(json_object_get(out, "for")),
			    "juki-card");
	assert_int_equal(json_integer_value(json_object_get(out, "wrong_codes")),
			 2);
	json_decref(out);
	/* an unknown purpose and an over-long expiry are refused by name */
	in = parse("{\"person\":\"R1\",\"path\":\"letter\",\"for\":\"x\"}");
	assert_int_equal(jpki_codec_application_decode(&req, in),
			 JPKI_ERR_INVALID);
	assert_string_equal(jpki_codec_field(), "for");
	json_decref(in);
	in = parse("{\"person\":\"R1\",\"path\":\"letter\","
		   "\"photo_id_expiry\":\"2027-03-31T00\"}");
	assert_int_equal(jpki_codec_application_decode(&req, in),
			 JPKI_ERR_INVALID);
	json_decref(in);
}

static void application_refused(const char *text, const char *field)
{
	struct jpki_application_request req;
	json_t *in = parse(text);

	assert_int_equal(jpki_codec_application_decode(&req, in),
			 JPKI_ERR_INVALID);
	if (strcmp(jpki_codec_field(), field) != 0)
		fail_msg("%s: field '%s', not '%s'", text, jpki_codec_field(),
			 field);
	json_decref(in);
}

static void test_application_refusals(void **state)
{
	application_refused("{\"person\":\"R1\",\"path\":\"foo\"}", "path");
	application_refused("{\"person\":\"R1\",\"path\":\"none\"}", "path");
	application_refused("{\"person\":\"R1\",\"path\":\"photo\",\"card\":"
			    "\"x\"}",
			    "card");
	application_refused("{\"person\":\"R1\",\"path\":\"photo\",\"sign\":"
			    "1}",
			    "sign");
	application_refused("{\"person\":\"R1\"}", "path");
	application_refused("{\"person\":\"R1\",\"path\":\"photo\",\"extra\":"
			    "1}",
			    "extra");
	application_refused("{\"person\":\"R1\",\"path\":\"proxy\","
			    "\"proxy_name\":\"a\\u202eb\"}",
			    "proxy_name");
}

static void test_report(void **state)
{
	struct jpki_codec_report rep;
	json_t *in = parse("{\"person\":\"R1\",\"kind\":\"card-fault\"}");

	assert_int_equal(jpki_codec_report_decode(&rep, in), 0);
	assert_int_equal(rep.kind, JPKI_LOSS_CARD_FAULT);
	assert_string_equal(rep.person, "R1");
	json_decref(in);
	in = parse("{\"person\":\"R1\",\"kind\":\"nonsense\"}");
	assert_int_equal(jpki_codec_report_decode(&rep, in), JPKI_ERR_INVALID);
	assert_string_equal(jpki_codec_field(), "kind");
	assert_non_null(strstr(jpki_err_detail(), "lost, card-fault"));
	json_decref(in);
	in = parse("{\"person\":7,\"kind\":\"lost\"}");
	assert_int_equal(jpki_codec_report_decode(&rep, in), JPKI_ERR_INVALID);
	assert_string_equal(jpki_codec_field(), "person");
	json_decref(in);
}

static void test_certificate_and_operator(void **state)
{
	struct jpki_cert_info info;
	struct jpki_actor who;
	json_t *o;

	memset(&info, 0, sizeof(info));
	snprintf(info.serial, sizeof(info.serial), "0A");
	info.type = JPKI_CERT_AUTH;
	info.card = JPKI_CARD_MYNUMBER;
	info.status = JPKI_STATUS_GOOD;
	assert_non_null(o = jpki_codec_certificate_encode(&info));
	assert_string_equal(json_string_value(json_object_get(o, "type")),
			    "auth");
	assert_string_equal(json_string_value(json_object_get(o, "card")),
			    "mynumber");
	assert_null(json_object_get(o, "reason"));
	json_decref(o);
	memset(&who, 0, sizeof(who));
	snprintf(who.operator_id, sizeof(who.operator_id), "win1");
	who.role = JPKI_ROLE_WINDOW_CLERK;
	assert_non_null(o = jpki_codec_operator_encode(&who));
	assert_string_equal(json_string_value(json_object_get(o, "role")),
			    "window-clerk");
	json_decref(o);
}

/* The integer decoder checks the 64-bit value before any narrowing. */
static void test_integers(void **state)
{
	struct {
		int per_day;
		int64_t id;
	} v;
	static const struct jpki_codec_field fields[] = {
	    {"per_day", JPKI_CODEC_INT, 0, 4, 0, 1000, NULL, 0},
	    {"id", JPKI_CODEC_INT, 8, 8, 1, INT64_MAX, NULL, 0},
	};
	json_t *in = parse("{\"per_day\":40,\"id\":9007199254740993}");

	assert_int_equal(offsetof(__typeof__(v), id), 8);
	memset(&v, 0, sizeof(v));
	assert_int_equal(jpki_codec_decode(&v, fields, 2, in), 0);
	assert_int_equal(v.per_day, 40);
	assert_true(v.id == 9007199254740993LL);
	json_decref(in);
	for (size_t i = 0; i < 4; i++) {
		static const char *const bad[] = {
		    "{\"per_day\":4294967297}", "{\"per_day\":-1}",
		    "{\"per_day\":\"ten\"}", "{\"per_day\":1.5}"};

		in = parse(bad[i]);
		assert_int_equal(jpki_codec_decode(&v, fields, 2, in),
				 JPKI_ERR_INVALID);
		assert_string_equal(jpki_codec_field(), "per_day");
		json_decref(in);
	}
	assert_int_equal(v.per_day, 40);
}

static void test_text_check(void **state)
{
	assert_int_equal(jpki_text_check("田中\xe3\x80\x80一", "the name"), 0);
	assert_int_equal(jpki_text_check("a b-c.", "x"), 0);
	assert_int_equal(jpki_text_check("a\tb", "x"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_text_check("a\x7f", "x"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_text_check("a\xc2\x85", "x"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_text_check("a\xe2\x80\x8f", "x"),
			 JPKI_ERR_INVALID); /* U+200F */
	assert_int_equal(jpki_text_check("a\xe2\x81\xa9", "x"),
			 JPKI_ERR_INVALID);                         /* U+2069 */
	assert_int_equal(jpki_text_check("a\xe2\x81\xaa", "x"), 0); /* U+206A */
	assert_int_equal(jpki_text_check("\xc0\xaf", "the name"),
			 JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "the name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resident_round_trip),
	    cmocka_unit_test(test_resident_refusals),
	    cmocka_unit_test(test_resident_missing),
	    cmocka_unit_test(test_application_round_trip),
	    cmocka_unit_test(test_application_refusals),
	    cmocka_unit_test(test_application_purpose),
	    cmocka_unit_test(test_report),
	    cmocka_unit_test(test_certificate_and_operator),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_text_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
