/* The window's calendar: Japan's national holidays and working days. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "window/window_internal.h"

static struct jpki_date d(const char *s)
{
	struct jpki_date out;

	assert_int_equal(jpki_date_parse(&out, s), 0);
	return out;
}

static void check(const char *day, int holiday)
{
	struct jpki_date x = d(day);

	if (window_is_holiday(&x) != holiday)
		fail_msg("%s: expected %s", day,
			 holiday ? "a holiday" : "no holiday");
}

/* Every holiday of 2026 as the Cabinet Office lists it, and only those. */
static void test_2026(void **state)
{
	static const char *const list[] = {
	    "2026-01-01", "2026-01-12", "2026-02-11", "2026-02-23",
	    "2026-03-20", "2026-04-29", "2026-05-03", "2026-05-04",
	    "2026-05-05", "2026-05-06", "2026-07-20", "2026-08-11",
	    "2026-09-21", "2026-09-22", "2026-09-23", "2026-10-12",
	    "2026-11-03", "2026-11-23",
	};
	struct jpki_date x = {2026, 1, 1};
	size_t found = 0;

	for (int i = 0; i < 365; i++) {
		char buf[11];
		int listed = 0;

		jpki_date_format(&x, buf);
		for (size_t j = 0; j < sizeof(list) / sizeof(list[0]); j++)
			listed |= strcmp(buf, list[j]) == 0;
		if (window_is_holiday(&x) != listed)
			fail_msg("%s: expected %s", buf,
				 listed ? "a holiday" : "no holiday");
		found += (size_t)listed;
		if (++x.day > jpki_date_days_in_month(x.year, x.month)) {
			x.day = 1;
			x.month++;
		}
	}
	assert_int_equal(found, sizeof(list) / sizeof(list[0]));
}

static void test_history(void **state)
{
	/* substitute holiday (振替休日), Sunday 2019-11-03 */
	check("2019-11-04", 1);
	/* the accession of 2019 and the Olympic moves */
	check("2019-04-30", 1);
	check("2019-05-01", 1);
	check("2019-05-02", 1);
	check("2019-10-22", 1);
	check("2020-07-24", 1);
	check("2020-10-12", 0);
	check("2021-08-08", 1);
	check("2021-08-09", 1); /* its substitute */
	/* the Emperor's birthday moved */
	check("2018-12-23", 1);
	check("2019-12-23", 0);
	check("2019-02-23", 0);
	check("2020-02-23", 1);
	check("2020-02-24", 1); /* its substitute */
	/* before Happy Monday */
	check("1999-01-15", 1);
	check("1999-01-11", 0);
	check("2002-09-15", 1);
	/* the equinoxes at the ends of the formula's range */
	check("1980-03-20", 1);
	check("1980-09-23", 1);
	check("2099-03-20", 1);
	check("2099-09-23", 1);
	/* Showa's funeral, and an ordinary day */
	check("1989-02-24", 1);
	check("2026-01-13", 0);
	check("2026-05-07", 0);
}

static void test_working_day(void **state)
{
	struct jpki_date mon = d("2026-02-02"), sat = d("2026-02-07"),
			 sun = d("2026-02-08"), dec29 = d("2025-12-29"),
			 jan3 = d("2028-01-03"), jan5 = d("2026-01-05"),
			 holiday = d("2026-02-11");

	assert_int_equal(window_weekday(&mon), 1);
	assert_int_equal(window_weekday(&sun), 0);
	assert_true(window_is_working_day(&mon));
	assert_true(window_is_working_day(&jan5));
	assert_false(window_is_working_day(&sat));
	assert_false(window_is_working_day(&sun));
	assert_false(window_is_working_day(&dec29)); /* a Monday */
	assert_false(window_is_working_day(&jan3));  /* a Monday */
	assert_false(window_is_working_day(&holiday));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_2026),
	    cmocka_unit_test(test_history),
	    cmocka_unit_test(test_working_day),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
