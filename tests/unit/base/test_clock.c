/* The injectable clock, dates in Japan time, and configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jpki/base.h"
#include "testutil.h"

static void test_parse_forms(void **state)
{
	time_t t;

	/* a date alone is 10:00 in Japan = 01:00 UTC */
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22"), 0);
	assert_int_equal((long long)t, 1450746000LL);
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22T00:00:00"), 0);
	assert_int_equal((long long)t, 1450710000LL);
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22T00:00:00Z"), 0);
	assert_int_equal((long long)t, 1450742400LL);
}

static void test_parse_rejects(void **state)
{
	time_t t = 5;

	assert_int_equal(jpki_clock_parse(&t, "2015-02-29"), JPKI_ERR_INVALID);
	assert_int_equal(t, 0);
	assert_int_equal(jpki_clock_parse(&t, "tomorrow"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22T25:00:00"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22X"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_clock_parse(&t, NULL), JPKI_ERR_INVALID);
}

static void test_freeze_and_shift(void **state)
{
	time_t t, now;

	assert_int_equal(jpki_clock_parse(&t, "2015-12-21"), 0);
	jpki_clock_freeze(t);
	assert_int_equal(jpki_clock_now(), t);
	jpki_clock_set(t);
	now = jpki_clock_now();
	assert_true(now >= t && now < t + 5);
	jpki_clock_reset();
	assert_true(jpki_clock_now() - time(NULL) < 5);
}

/* Two processes handed the same JPKI_NOW and JPKI_NOW_AT read one clock,
 * however long after the anchor each of them starts. */
static void test_anchor(void **state)
{
	time_t t, real = time(NULL);

	assert_int_equal(jpki_clock_parse(&t, "2026-11-17T01:00:00Z"), 0);
	jpki_clock_set_at(t, real - 90); /* anchored 90 s ago */
	assert_true(jpki_clock_now() >= t + 90 && jpki_clock_now() <= t + 92);
	jpki_clock_set_at(t, real);
	assert_true(jpki_clock_now() >= t && jpki_clock_now() <= t + 2);
	/* an anchor in the future: the clock has not reached t yet */
	jpki_clock_set_at(t, real + 60);
	assert_true(jpki_clock_now() <= t - 58);
	jpki_clock_reset();
	(void)state;
}

static void test_day_in_japan(void **state)
{
	struct jpki_date d;
	time_t t;

	/* 2015-12-22 15:00 UTC is already 12-23 in Japan */
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22T15:00:00Z"), 0);
	d = jpki_date_of(t);
	assert_int_equal(d.year, 2015);
	assert_int_equal(d.month, 12);
	assert_int_equal(d.day, 23);
	d = jpki_date_of(t - 1);
	assert_int_equal(d.day, 22);
	assert_int_equal(jpki_date_end(&d), t - 1);
	assert_int_equal(jpki_date_start(&d), t - 86400);
	jpki_clock_freeze(t);
	d = jpki_date_today();
	assert_int_equal(d.day, 23);
	jpki_clock_reset();
}

static void test_date_arithmetic(void **state)
{
	struct jpki_date leap = {2012, 2, 29}, d, a = {2015, 12, 31},
			 b = {2016, 3, 1};

	d = jpki_date_add_years(&leap, 1);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 28);
	d = jpki_date_add_years(&leap, 4);
	assert_int_equal(d.day, 29);
	d = jpki_date_add_months(&a, 2);
	assert_int_equal(d.year, 2016);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 29);
	d = jpki_date_add_months(&a, -3);
	assert_int_equal(d.month, 9);
	assert_int_equal(d.day, 30);
	assert_int_equal(jpki_date_days_between(&a, &b), 61);
	assert_true(jpki_date_cmp(&a, &b) < 0);
	assert_true(jpki_date_is_leap_year(2000));
	assert_false(jpki_date_is_leap_year(1900));
}

static void test_date_parse(void **state)
{
	struct jpki_date d;
	char buf[11];

	assert_int_equal(jpki_date_parse(&d, "1980-06-01"), 0);
	jpki_date_format(&d, buf);
	assert_string_equal(buf, "1980-06-01");
	assert_int_equal(jpki_date_parse(&d, "1980-6-1"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_date_parse(&d, "1981-02-29"), JPKI_ERR_INVALID);
	assert_int_equal(jpki_date_parse(&d, "1980-06-01x"), JPKI_ERR_INVALID);
	assert_int_equal(d.year, 0);
}

static void test_config(void **state)
{
	char *dir = tu_tmpdir(), *path;
	struct jpki_config *cfg = NULL;
	FILE *f;
	long n;

	assert_true(asprintf(&path, "%s/jpki.conf", dir) > 0);
	f = fopen(path, "w");
	fputs("# comment\n listen = 127.0.0.1:9 \ncrl_period=60 # one "
	      "minute\n\nbad_int = x\n",
	      f);
	fclose(f);
	assert_int_equal(jpki_config_load(&cfg, path, 0), 0);
	assert_string_equal(jpki_config_get(cfg, "listen", NULL),
			    "127.0.0.1:9");
	assert_int_equal(jpki_config_get_int(cfg, "crl_period", 1, &n), 0);
	assert_int_equal(n, 60);
	assert_int_equal(jpki_config_get_int(cfg, "bad_int", 1, &n),
			 JPKI_ERR_CONFIG);
	assert_string_equal(jpki_config_get(cfg, "absent", "dflt"), "dflt");
	/* the environment overrides the file; an explicit set wins */
	setenv("JPKI_CRL_PERIOD", "120", 1);
	assert_int_equal(jpki_config_get_int(cfg, "crl_period", 1, &n), 0);
	assert_int_equal(n, 120);
	assert_int_equal(jpki_config_set(cfg, "crl_period", "30"), 0);
	assert_int_equal(jpki_config_get_int(cfg, "crl_period", 1, &n), 0);
	assert_int_equal(n, 30);
	unsetenv("JPKI_CRL_PERIOD");
	jpki_config_free(cfg);

	/* a line without '=' is an error that names the line */
	f = fopen(path, "w");
	fputs("a = 1\nnonsense\n", f);
	fclose(f);
	cfg = (struct jpki_config *)1;
	assert_int_equal(jpki_config_load(&cfg, path, 0), JPKI_ERR_CONFIG);
	assert_null(cfg);
	assert_non_null(strstr(jpki_err_detail(), ":2:"));
	unlink(path);
	assert_int_equal(jpki_config_load(&cfg, path, 0), JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_config_load(&cfg, path, 1), 0);
	jpki_config_free(cfg);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_freeze_and_shift),
		cmocka_unit_test(test_anchor),
		cmocka_unit_test(test_day_in_japan),
		cmocka_unit_test(test_date_arithmetic),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
