/*
 * The 4 facts against a form: each normalisation rule of
 * docs/RELYING_PARTY.md ("Matching") with a text it accepts beside one it
 * refuses, and each fact's mismatch named with both values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jpki/verify.h"

static struct jpki_facts cert_facts(void)
{
	struct jpki_facts f;

	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "山田　太郎");
	snprintf(f.address, sizeof(f.address), "東京都千代田区千代田１番１号");
	f.sex = JPKI_SEX_MALE;
	f.birth = (struct jpki_date){1980, 5, 1};
	return f;
}

static void assert_birth(const char *text, int y, int m, int d)
{
	struct jpki_date out;

	if (jpki_verify_parse_birth(&out, text) != 0)
		fail_msg("%s: %s", text, jpki_err_detail());
	assert_int_equal(out.year, y);
	assert_int_equal(out.month, m);
	assert_int_equal(out.day, d);
}

static void assert_no_birth(const char *text)
{
	struct jpki_date out;

	assert_int_equal(jpki_verify_parse_birth(&out, text), JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "date of birth"));
}

static void test_text_width(void **state)
{
	(void)state;
	/* full-width ASCII and digits */
	assert_true(jpki_verify_text_match("ＡＢＣ１２３", "ABC123"));
	assert_false(jpki_verify_text_match("ＡＢＣ１２４", "ABC123"));
	/* half-width katakana, with their voicing marks composed */
	assert_true(jpki_verify_text_match("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ"));
	assert_true(jpki_verify_text_match("ﾊﾟﾝ", "パン"));
	assert_false(jpki_verify_text_match("ﾔﾏﾀ ﾀﾛｳ", "ヤマダ　タロウ"));
	/* hiragana is not katakana, kanji variants are other people */
	assert_false(jpki_verify_text_match("やまだ", "ヤマダ"));
	assert_false(jpki_verify_text_match("髙橋", "高橋"));
	/* case is kept */
	assert_false(jpki_verify_text_match("abc", "ABC"));
}

static void test_text_spaces(void **state)
{
	(void)state;
	assert_true(jpki_verify_text_match("山田 太郎", "山田　太郎"));
	assert_true(jpki_verify_text_match("山田太郎", "山田　太郎"));
	assert_true(jpki_verify_text_match("　山田　 太郎 \t", "山田　太郎"));
	assert_true(jpki_verify_text_match("", " 　"));
	/* spacing never hides a missing or extra character */
	assert_false(jpki_verify_text_match("山田", "山田　太郎"));
	assert_false(jpki_verify_text_match("山田　太郎　", "山田　次郎"));
	/* bytes that are not UTF-8, or nothing */
	assert_false(jpki_verify_text_match("\xff", "\xff"));
	assert_false(jpki_verify_text_match("A\xc0\xa0", "A"));
	assert_false(jpki_verify_text_match(NULL, "A"));
}

static void test_birth_gregorian(void **state)
{
	(void)state;
	assert_birth("1980-05-01", 1980, 5, 1);
	assert_birth("1980/5/1", 1980, 5, 1);
	assert_birth("1980年5月1日", 1980, 5, 1);
	assert_birth("１９８０年５月１日", 1980, 5, 1);
	assert_birth(" 1980 - 05 - 01 ", 1980, 5, 1);
	assert_no_birth("1980-05/01");
	assert_no_birth("1980-02-30");
	assert_no_birth("1980-5");
	assert_no_birth("80-05-01x");
	assert_no_birth("1980年5月1");
	assert_no_birth("May 1, 1980");
	assert_no_birth("");
}

static void test_birth_era(void **state)
{
	(void)state;
	assert_birth("昭和55年5月1日", 1980, 5, 1);
	assert_birth("令和元年5月1日", 2019, 5, 1);
	assert_birth("令和1年5月1日", 2019, 5, 1);
	assert_birth("平成31年4月30日", 2019, 4, 30);
	assert_birth("平成元年1月8日", 1989, 1, 8);
	assert_birth("大正15年12月24日", 1926, 12, 24);
	assert_birth("明治45年7月29日", 1912, 7, 29);
	/* past the era's end, before its start, year 0, an unknown era */
	assert_no_birth("平成31年5月1日");
	assert_no_birth("令和元年4月30日");
	assert_no_birth("昭和0年1月1日");
	assert_no_birth("安政3年1月1日");
	assert_no_birth("S55.5.1");
}

static void test_birth_certificate_form(void **state)
{
	(void)state;
	assert_birth("319800501", 1980, 5, 1);
	assert_birth("520190501", 2019, 5, 1);
	/* the era digit must be the date's era */
	assert_no_birth("419800501");
	assert_no_birth("31980050");
	assert_no_birth("319801301");
}

static void test_sex(void **state)
{
	static const struct {
		const char *text;
		enum jpki_sex sex;
	} ok[] = {
	    {"male", JPKI_SEX_MALE},       {"Male", JPKI_SEX_MALE},
	    {"男", JPKI_SEX_MALE},         {"男性", JPKI_SEX_MALE},
	    {"1", JPKI_SEX_MALE},          {"１", JPKI_SEX_MALE},
	    {"female", JPKI_SEX_FEMALE},   {"女", JPKI_SEX_FEMALE},
	    {"女性", JPKI_SEX_FEMALE},     {"2", JPKI_SEX_FEMALE},
	    {"unknown", JPKI_SEX_UNKNOWN}, {"不明", JPKI_SEX_UNKNOWN},
	    {" 3 ", JPKI_SEX_UNKNOWN},
	};
	static const char *const bad[] = {"m", "4", "0", "男女", "", "\xff"};
	enum jpki_sex s;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(jpki_verify_parse_sex(&s, ok[i].text), 0);
		assert_int_equal(s, ok[i].sex);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(jpki_verify_parse_sex(&s, bad[i]),
				 JPKI_ERR_INVALID);
		assert_non_null(strstr(jpki_err_detail(), "sex"));
	}
}

static void test_facts_all_match(void **state)
{
	struct jpki_facts f = cert_facts();
	struct jpki_verify_form form = {"山田 太郎", "昭和55年5月1日", "男",
					"東京都千代田区千代田1番1号"};
	struct jpki_verify_mismatches mm;

	(void)state;
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 0);
	/* a field the form does not ask is not matched */
	form = (struct jpki_verify_form){NULL, NULL, NULL, NULL};
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 0);
	assert_int_equal(jpki_verify_facts_match(&mm, NULL, &f),
			 JPKI_ERR_INVALID);
}

static void test_facts_each_named(void **state)
{
	struct jpki_facts f = cert_facts();
	struct jpki_verify_form form = {"山田 太郎", "1980-05-02", "male",
					"東京都千代田区千代田１番１号"};
	struct jpki_verify_mismatches mm;

	(void)state;
	/* a birth date off by one day */
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 1);
	assert_int_equal(mm.m[0].why, JPKI_APP_BIRTH_MISMATCH);
	assert_string_equal(mm.m[0].text, "date of birth differs: form "
					  "1980-05-02, certificate 1980-05-01");
	/* another sex */
	form.birth = "1980-05-01";
	form.sex = "女性";
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 1);
	assert_int_equal(mm.m[0].why, JPKI_APP_SEX_MISMATCH);
	assert_string_equal(mm.m[0].text,
			    "sex differs: form female, certificate male");
	/* all four at once, in order */
	form = (struct jpki_verify_form){"山田 次郎", "1980-05-02", "2",
					 "千代田２番２号"};
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 4);
	assert_int_equal(mm.m[0].why, JPKI_APP_NAME_MISMATCH);
	assert_string_equal(mm.m[0].text, "name differs: form 山田 次郎, "
					  "certificate 山田　太郎");
	assert_int_equal(mm.m[1].why, JPKI_APP_BIRTH_MISMATCH);
	assert_int_equal(mm.m[2].why, JPKI_APP_SEX_MISMATCH);
	assert_int_equal(mm.m[3].why, JPKI_APP_ADDRESS_MISMATCH);
	assert_non_null(strstr(mm.m[3].text, "address differs: form "
					     "千代田２番２号"));
}

static void test_facts_unreadable_form(void **state)
{
	struct jpki_facts f = cert_facts();
	struct jpki_verify_form form = {NULL, "1980-13-01", "M", NULL};
	struct jpki_verify_mismatches mm;
	char longname[400];

	(void)state;
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 2);
	assert_int_equal(mm.m[0].why, JPKI_APP_FORM_INVALID);
	assert_non_null(strstr(mm.m[0].text, "1980-13-01"));
	assert_int_equal(mm.m[1].why, JPKI_APP_FORM_INVALID);
	assert_non_null(strstr(mm.m[1].text, "\"M\""));
	/* a long name is cut at a character, so the sentence stays UTF-8 */
	memset(longname, 0, sizeof(longname));
	for (size_t i = 0; i + 3 < sizeof(longname); i += 3)
		memcpy(longname + i, "山", 3);
	form = (struct jpki_verify_form){longname, NULL, NULL, NULL};
	assert_int_equal(jpki_verify_facts_match(&mm, &form, &f), 0);
	assert_int_equal(mm.n, 1);
	assert_true(jpki_verify_text_match(mm.m[0].text, mm.m[0].text));
	assert_non_null(strstr(mm.m[0].text, "…"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_width),
	    cmocka_unit_test(test_text_spaces),
	    cmocka_unit_test(test_birth_gregorian),
	    cmocka_unit_test(test_birth_era),
	    cmocka_unit_test(test_birth_certificate_form),
	    cmocka_unit_test(test_sex),
	    cmocka_unit_test(test_facts_all_match),
	    cmocka_unit_test(test_facts_each_named),
	    cmocka_unit_test(test_facts_unreadable_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
