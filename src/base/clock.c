/*
 * The injectable clock and calendar dates in Japan Standard Time (UTC+9,
 * no daylight saving). Dates are converted with the days-from-civil
 * arithmetic of the proleptic Gregorian calendar, so nothing depends on the
 * machine's time zone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/base.h"

#define JST_OFFSET (9 * 3600)

enum clock_mode { CLOCK_SYSTEM, CLOCK_SHIFTED, CLOCK_FROZEN };

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static enum clock_mode mode = CLOCK_SYSTEM;
static time_t shift;  /* CLOCK_SHIFTED: added to the system time */
static time_t frozen; /* CLOCK_FROZEN: the answer */
static int env_read;

/* JPKI_NOW_AT: the system time at which JPKI_NOW held, or `fallback`. */
static time_t env_anchor(time_t fallback)
{
	const char *v = getenv("JPKI_NOW_AT");
	char *end;
	long long at;

	if (v == NULL || *v == '\0')
		return fallback;
	at = strtoll(v, &end, 10);
	if (*end != '\0' || at <= 0) {
		jpki_log(JPKI_LOG_WARN, "ignoring JPKI_NOW_AT=%s: not a Unix "
					"time",
			 v);
		return fallback;
	}
	return (time_t)at;
}

static void read_env_locked(void)
{
	const char *v;
	time_t t;

	if (env_read)
		return;
	env_read = 1;
	v = getenv("JPKI_NOW");
	if (v == NULL || *v == '\0')
		return;
	if (jpki_clock_parse(&t, v) != 0) {
		jpki_log(JPKI_LOG_WARN, "ignoring JPKI_NOW=%s: %s", v,
			 jpki_err_detail());
		return;
	}
	mode = CLOCK_SHIFTED;
	shift = t - env_anchor(time(NULL));
}

time_t jpki_clock_now(void)
{
	time_t t;

	pthread_mutex_lock(&clock_lock);
	read_env_locked();
	switch (mode) {
	case CLOCK_FROZEN:
		t = frozen;
		break;
	case CLOCK_SHIFTED:
		t = time(NULL) + shift;
		break;
	default:
		t = time(NULL);
	}
	pthread_mutex_unlock(&clock_lock);
	return t;
}

void jpki_clock_set(time_t t)
{
	pthread_mutex_lock(&clock_lock);
	env_read = 1;
	mode = CLOCK_SHIFTED;
	shift = t - time(NULL);
	pthread_mutex_unlock(&clock_lock);
}

void jpki_clock_set_at(time_t t, time_t at)
{
	pthread_mutex_lock(&clock_lock);
	env_read = 1;
	mode = CLOCK_SHIFTED;
	shift = t - at;
	pthread_mutex_unlock(&clock_lock);
}

void jpki_clock_freeze(time_t t)
{
	pthread_mutex_lock(&clock_lock);
	env_read = 1;
	mode = CLOCK_FROZEN;
	frozen = t;
	pthread_mutex_unlock(&clock_lock);
}

void jpki_clock_reset(void)
{
	pthread_mutex_lock(&clock_lock);
	env_read = 1;
	mode = CLOCK_SYSTEM;
	pthread_mutex_unlock(&clock_lock);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static struct jpki_date civil_from_days(long z)
{
	struct jpki_date out;
	long era, doe, yoe, y, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	out.day = (int)(doy - (153 * mp + 2) / 5 + 1);
	out.month = (int)(mp < 10 ? mp + 3 : mp - 9);
	out.year = (int)(y + (out.month <= 2));
	return out;
}

int jpki_date_is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int jpki_date_days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && jpki_date_is_leap_year(year))
		return 29;
	return days[month - 1];
}

int jpki_date_valid(const struct jpki_date *d)
{
	return d->year >= 1800 && d->year <= 9999 && d->month >= 1 &&
	       d->month <= 12 && d->day >= 1 &&
	       d->day <= jpki_date_days_in_month(d->year, d->month);
}

int jpki_date_cmp(const struct jpki_date *a, const struct jpki_date *b)
{
	if (a->year != b->year)
		return a->year < b->year ? -1 : 1;
	if (a->month != b->month)
		return a->month < b->month ? -1 : 1;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	return 0;
}

struct jpki_date jpki_date_of(time_t t)
{
	long long s = (long long)t + JST_OFFSET;
	long long days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);

	return civil_from_days((long)days);
}

struct jpki_date jpki_date_today(void)
{
	return jpki_date_of(jpki_clock_now());
}

time_t jpki_date_start(const struct jpki_date *d)
{
	return (time_t)days_from_civil(d->year, d->month, d->day) * 86400 -
	       JST_OFFSET;
}

time_t jpki_date_end(const struct jpki_date *d)
{
	return jpki_date_start(d) + 86399;
}

struct jpki_date jpki_date_add_years(const struct jpki_date *d, int years)
{
	struct jpki_date out = {d->year + years, d->month, d->day};
	int last = jpki_date_days_in_month(out.year, out.month);

	if (out.day > last)
		out.day = last;
	return out;
}

struct jpki_date jpki_date_add_months(const struct jpki_date *d, int months)
{
	long idx = (long)d->year * 12 + (d->month - 1) + months;
	struct jpki_date out = {(int)(idx / 12), (int)(idx % 12) + 1, d->day};
	int last = jpki_date_days_in_month(out.year, out.month);

	if (out.day > last)
		out.day = last;
	return out;
}

long jpki_date_days_between(const struct jpki_date *a,
			    const struct jpki_date *b)
{
	return days_from_civil(b->year, b->month, b->day) -
	       days_from_civil(a->year, a->month, a->day);
}

int jpki_date_parse(struct jpki_date *out, const char *text)
{
	struct jpki_date d;
	int n = 0;

	memset(out, 0, sizeof(*out));
	if (text == NULL ||
	    sscanf(text, "%4d-%2d-%2d%n", &d.year, &d.month, &d.day, &n) != 3 ||
	    n != 10 || strlen(text) != 10)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not a date of the form YYYY-MM-DD",
				    text ? text : "(null)");
	if (!jpki_date_valid(&d))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not a real calendar date", text);
	*out = d;
	return 0;
}

void jpki_date_format(const struct jpki_date *d, char buf[11])
{
	snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)d->year % 10000u,
		 (unsigned)d->month % 100u, (unsigned)d->day % 100u);
}

int jpki_clock_parse(time_t *out, const char *text)
{
	struct jpki_date d;
	char date[11];
	int hh, mm, ss, n = 0;
	size_t len;

	*out = 0;
	len = text ? strlen(text) : 0;
	if (len < 10)
		goto bad;
	memcpy(date, text, 10);
	date[10] = '\0';
	if (jpki_date_parse(&d, date) != 0)
		goto bad;
	if (len == 10) {
		*out = jpki_date_start(&d) + 10 * 3600;
		return 0;
	}
	if (sscanf(text + 10, "T%2d:%2d:%2d%n", &hh, &mm, &ss, &n) != 3 ||
	    n != 9 || hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 ||
	    ss < 0)
		goto bad;
	*out = jpki_date_start(&d) + hh * 3600 + mm * 60 + ss;
	if (len == 19)
		return 0;
	if (len == 20 && text[19] == 'Z') {
		*out += JST_OFFSET;
		return 0;
	}
bad:
	return jpki_err_set(JPKI_ERR_INVALID,
			    "'%s' is not a time: use YYYY-MM-DD, "
			    "YYYY-MM-DDTHH:MM:SS (Japan) or "
			    "YYYY-MM-DDTHH:MM:SSZ (UTC)",
			    text ? text : "(null)");
}
