/* Validity rules of both card kinds, ages, eras and the 4 facts. */
#include <stdio.h>
#include <string.h>

#include "jpki/profile.h"
#include "testutil.h"

#define D(y, m, d) ((struct jpki_date){(y), (m), (d)})

static void assert_date(struct jpki_date got, int y, int m, int d)
{
	assert_int_equal(got.year, y);
	assert_int_equal(got.month, m);
	assert_int_equal(got.day, d);
}

static struct jpki_date mynumber(struct jpki_date issue, struct jpki_date birth,
				 struct jpki_date card, int expect)
{
	struct jpki_validity_input in = {JPKI_CARD_MYNUMBER, issue, birth,
					 card};
	struct jpki_date out;

	assert_int_equal(jpki_profile_validity(&out, &in), expect);
	return out;
}

static void test_fifth_birthday_edges(void **state)
{
	struct jpki_date card = D(2040, 1, 1);

	/* the day before the birthday: that birthday is the 1st */
	assert_date(mynumber(D(2026, 5, 31), D(1980, 6, 1), card, 0), 2030, 6,
		    1);
	/* on the birthday: it does not count, the next one is the 1st */
	assert_date(mynumber(D(2026, 6, 1), D(1980, 6, 1), card, 0), 2031, 6,
		    1);
	/* the day after */
	assert_date(mynumber(D(2026, 6, 2), D(1980, 6, 1), card, 0), 2031, 6,
		    1);
	/* new year's eve and day */
	assert_date(mynumber(D(2026, 12, 31), D(1990, 1, 1), card, 0), 2031, 1,
		    1);
	assert_date(mynumber(D(2027, 1, 1), D(1990, 1, 1), card, 0), 2032, 1,
		    1);
}

static void test_29_february(void **state)
{
	struct jpki_date card = D(2040, 1, 1), born = D(2000, 2, 29);

	/* issued 2026-03-01: birthdays 2027..2031; 2031 has no 29 Feb */
	assert_date(mynumber(D(2026, 3, 1), born, card, 0), 2031, 2, 28);
	/* issued 2027-02-27: 5th birthday is 2031-02-28 */
	assert_date(mynumber(D(2027, 2, 27), born, card, 0), 2031, 2, 28);
	/* issued 2027-03-01: 5th birthday is 2032, a leap year */
	assert_date(mynumber(D(2027, 3, 1), born, card, 0), 2032, 2, 29);
	/* issued on the 28 Feb "birthday" of a common year: not counted */
	assert_date(mynumber(D(2027, 2, 28), born, card, 0), 2032, 2, 29);
	/* issued on 29 Feb itself in a leap year */
	assert_date(mynumber(D(2028, 2, 29), born, card, 0), 2033, 2, 28);
	assert_int_equal(jpki_profile_age(&born, &D(2027, 2, 27)), 26);
	assert_int_equal(jpki_profile_age(&born, &D(2027, 2, 28)), 27);
	assert_int_equal(jpki_profile_age(&born, &D(2028, 2, 28)), 27);
	assert_int_equal(jpki_profile_age(&born, &D(2028, 2, 29)), 28);
}

static void test_card_expiry_caps(void **state)
{
	/* the card ends before the 5th birthday: the card wins */
	assert_date(mynumber(D(2026, 1, 10), D(1980, 6, 1), D(2028, 3, 3), 0),
		    2028, 3, 3);
	/* equal: same day either way */
	assert_date(mynumber(D(2026, 1, 10), D(1980, 6, 1), D(2030, 6, 1), 0),
		    2030, 6, 1);
	/* an expired card gets nothing */
	mynumber(D(2026, 1, 10), D(1980, 6, 1), D(2026, 1, 9), JPKI_ERR_POLICY);
	/* the last day of the card is still good */
	assert_date(mynumber(D(2026, 1, 10), D(1980, 6, 1), D(2026, 1, 10), 0),
		    2026, 1, 10);
	/* not dates */
	mynumber(D(2026, 1, 10), D(1980, 2, 30), D(2030, 1, 1),
		 JPKI_ERR_INVALID);
	mynumber(D(2026, 1, 10), D(1980, 6, 1), D(0, 0, 0), JPKI_ERR_INVALID);
}

static void test_juki(void **state)
{
	struct jpki_validity_input in = {.card = JPKI_CARD_JUKI,
					  .issue = D(2013, 4, 10)};
	struct jpki_date out;

	/* 発行の日から起算して3年: the day before the third anniversary */
	assert_int_equal(jpki_profile_validity(&out, &in), 0);
	assert_date(out, 2016, 4, 9);
	/* issued on 29 February: 2015 has none, the period ends with
	 * February; issued on 1 March, the day before 1 March */
	in.issue = D(2012, 2, 29);
	assert_int_equal(jpki_profile_validity(&out, &in), 0);
	assert_date(out, 2015, 2, 28);
	in.issue = D(2012, 3, 1);
	assert_int_equal(jpki_profile_validity(&out, &in), 0);
	assert_date(out, 2015, 2, 28);
	/* across a month's and a year's end */
	in.issue = D(2013, 1, 1);
	assert_int_equal(jpki_profile_validity(&out, &in), 0);
	assert_date(out, 2015, 12, 31);
	/* the last day of issue (last valid day 2018-12-21, not the 22nd),
	 * and the day after */
	in.issue = D(2015, 12, 22);
	assert_int_equal(jpki_profile_validity(&out, &in), 0);
	assert_date(out, 2018, 12, 21);
	assert_int_equal(jpki_date_end(&out), 1545404399); /* 14:59:59Z */
	in.issue = D(2015, 12, 23);
	assert_int_equal(jpki_profile_validity(&out, &in), JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "22 December 2015"));
	assert_int_equal(out.year, 0);
	in.issue = D(2026, 1, 10);
	assert_int_equal(jpki_profile_validity(&out, &in), JPKI_ERR_POLICY);
	in.card = (enum jpki_card_kind)9;
	assert_int_equal(jpki_profile_validity(&out, &in), JPKI_ERR_INVALID);
}

/* The period rule itself, where the Juki cut-off does not reach: a leap
 * day into a leap year keeps its date, into another ends with February. */
static void test_period_last_day(void **state)
{
	struct jpki_date e;

	(void)state;
	e = jpki_profile_period_last_day(&D(2016, 2, 29), 3);
	assert_date(e, 2019, 2, 28);
	e = jpki_profile_period_last_day(&D(2016, 2, 29), 4);
	assert_date(e, 2020, 2, 28);
	e = jpki_profile_period_last_day(&D(2016, 2, 28), 3);
	assert_date(e, 2019, 2, 27);
	e = jpki_profile_period_last_day(&D(2016, 3, 1), 3);
	assert_date(e, 2019, 2, 28);
	e = jpki_profile_period_last_day(&D(2015, 12, 22), 3);
	assert_date(e, 2018, 12, 21);
}

static void test_card_expiry_rule(void **state)
{
	/* 19 on the day of issue: the 5th birthday after */
	struct jpki_date e = jpki_profile_card_expiry(&D(2026, 1, 10),
						      &D(2006, 6, 1));

	assert_date(e, 2030, 6, 1);
	/* 20 on the day of issue (birthday that very day): the 10th */
	e = jpki_profile_card_expiry(&D(2026, 6, 1), &D(2006, 6, 1));
	assert_date(e, 2036, 6, 1);
	/* the day before turning 20: still under 20 */
	e = jpki_profile_card_expiry(&D(2026, 5, 31), &D(2006, 6, 1));
	assert_date(e, 2030, 6, 1);
}

static void test_eras(void **state)
{
	char buf[64], enc[10];

	assert_int_equal(jpki_profile_era(&D(1868, 10, 22)), JPKI_ERA_UNKNOWN);
	assert_int_equal(jpki_profile_era(&D(1868, 10, 23)), JPKI_ERA_MEIJI);
	assert_int_equal(jpki_profile_era(&D(1912, 7, 29)), JPKI_ERA_MEIJI);
	assert_int_equal(jpki_profile_era(&D(1912, 7, 30)), JPKI_ERA_TAISHO);
	assert_int_equal(jpki_profile_era(&D(1926, 12, 25)), JPKI_ERA_SHOWA);
	assert_int_equal(jpki_profile_era(&D(1989, 1, 7)), JPKI_ERA_SHOWA);
	assert_int_equal(jpki_profile_era(&D(1989, 1, 8)), JPKI_ERA_HEISEI);
	assert_int_equal(jpki_profile_era(&D(2019, 4, 30)), JPKI_ERA_HEISEI);
	assert_int_equal(jpki_profile_era(&D(2019, 5, 1)), JPKI_ERA_REIWA);
	jpki_profile_birth_encode(&D(1980, 6, 1), enc);
	assert_string_equal(enc, "319800601");
	jpki_profile_birth_encode(&D(1850, 1, 2), enc);
	assert_string_equal(enc, "018500102");
	jpki_profile_birth_format(&D(1980, 6, 1), buf);
	assert_string_equal(buf, "昭和55年6月1日 (1980-06-01)");
	jpki_profile_birth_format(&D(1989, 1, 8), buf);
	assert_string_equal(buf, "平成元年1月8日 (1989-01-08)");
	jpki_profile_birth_format(&D(2019, 5, 1), buf);
	assert_string_equal(buf, "令和元年5月1日 (2019-05-01)");
}

static struct jpki_facts good_facts(void)
{
	struct jpki_facts f = {0};

	snprintf(f.name, sizeof(f.name), "山田　太郎");
	snprintf(f.address, sizeof(f.address), "東京都千代田区千代田１番１号");
	f.sex = JPKI_SEX_FEMALE;
	f.birth = D(1980, 6, 1);
	return f;
}

static void test_facts_check(void **state)
{
	struct jpki_facts f = good_facts();
	time_t t;

	assert_int_equal(jpki_profile_facts_check(&f), 0);
	f.name[0] = '\0';
	assert_int_equal(jpki_profile_facts_check(&f), JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "name"));
	f = good_facts();
	memset(f.address, 0, sizeof(f.address));
	for (int i = 0; i < 201; i++)
		strcat(f.address, "あ");
	assert_int_equal(jpki_profile_facts_check(&f), JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "201"));
	f.address[strlen(f.address) - 3] = '\0'; /* 200 is fine */
	assert_int_equal(jpki_profile_facts_check(&f), 0);
	f = good_facts();
	f.name[1] = (char)0xff;
	assert_int_equal(jpki_profile_facts_check(&f), JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "UTF-8"));
	f = good_facts();
	f.sex = (enum jpki_sex)4;
	assert_int_equal(jpki_profile_facts_check(&f), JPKI_ERR_INVALID);
	f = good_facts();
	assert_int_equal(jpki_clock_parse(&t, "2026-01-10"), 0);
	jpki_clock_freeze(t);
	f.birth = D(2026, 1, 11);
	assert_int_equal(jpki_profile_facts_check(&f), JPKI_ERR_INVALID);
	f.birth = D(2026, 1, 10);
	assert_int_equal(jpki_profile_facts_check(&f), 0);
	jpki_clock_reset();
}

static void test_name_normalize(void **state)
{
	char out[64], tiny[8];

	assert_int_equal(jpki_profile_name_normalize(out, sizeof(out),
						     "山田 太郎"),
			 0);
	assert_string_equal(out, "山田　太郎");
	assert_int_equal(jpki_profile_name_normalize(out, sizeof(out),
						     "  山田 　 太郎　"),
			 0);
	assert_string_equal(out, "山田　太郎");
	assert_int_equal(jpki_profile_name_normalize(out, sizeof(out),
						     "山田太郎"),
			 0);
	assert_string_equal(out, "山田太郎");
	assert_int_equal(jpki_profile_name_normalize(out, sizeof(out),
						     "SMITH JOHN PAUL"),
			 0);
	assert_string_equal(out, "SMITH　JOHN PAUL");
	assert_int_equal(jpki_profile_name_normalize(tiny, sizeof(tiny),
						     "山田 太郎"),
			 JPKI_ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifth_birthday_edges),
		cmocka_unit_test(test_29_february),
		cmocka_unit_test(test_card_expiry_caps),
		cmocka_unit_test(test_juki),
		cmocka_unit_test(test_period_last_day),
		cmocka_unit_test(test_card_expiry_rule),
		cmocka_unit_test(test_eras),
		cmocka_unit_test(test_facts_check),
		cmocka_unit_test(test_name_normalize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
