/*
 * Japan's national holidays (国民の祝日), so that the window knows its working
 * days. The Act on National Holidays as it stood each year from 1980 to
 * 2099: the fixed dates, the "Happy Monday" holidays (from 2000 and 2003),
 * the equinoxes by the standard approximation the Cabinet Office's almanac
 * agrees with over that range, the substitute holiday (振替休日), the day
 * between two holidays (国民の休日), and the one-off days of 1989-2021.
 * Outside 1980-2099 the equinoxes are not known and are not holidays.
 */
#include "window/window_internal.h"

/* 0 Sunday .. 6 Saturday; 1970-01-01 was a Thursday. */
int window_weekday(const struct jpki_date *d)
{
	static const struct jpki_date epoch = {1970, 1, 1};
	long days = jpki_date_days_between(&epoch, d);

	return (int)(((days % 7) + 7 + 4) % 7);
}

/* The day of the n-th Monday of a month. */
static int nth_monday(int year, int month, int n)
{
	struct jpki_date first = {year, month, 1};
	int wd = window_weekday(&first);
	int day = 1 + (8 - wd) % 7; /* the first Monday */

	return day + 7 * (n - 1);
}

/* 春分日 and 秋分日, valid 1980-2099 (0 outside). */
static int vernal_equinox(int year)
{
	if (year < 1980 || year > 2099)
		return 0;
	return (int)(20.8431 + 0.242194 * (year - 1980) -
		     (double)((year - 1980) / 4));
}

static int autumn_equinox(int year)
{
	if (year < 1980 || year > 2099)
		return 0;
	return (int)(23.2488 + 0.242194 * (year - 1980) -
		     (double)((year - 1980) / 4));
}

/* A holiday by the Act itself (not a substitute or an in-between day). */
static int named_holiday(const struct jpki_date *d)
{
	int y = d->year, m = d->month, day = d->day;

	switch (m) {
	case 1:
		if (day == 1)
			return 1; /* 元日 */
		/* 成人の日 */
		return y >= 2000 ? day == nth_monday(y, 1, 2) : day == 15;
	case 2:
		if (day == 11)
			return 1; /* 建国記念の日 */
		if (y == 1989 && day == 24)
			return 1;              /* 昭和天皇の大喪の礼 */
		return y >= 2020 && day == 23; /* 天皇誕生日 */
	case 3:
		return day == vernal_equinox(y);
	case 4:
		if (day == 29)
			return 1; /* 天皇誕生日, みどりの日, 昭和の日 */
		return y == 2019 && day == 30; /* 即位に伴う休日 */
	case 5:
		if (day == 3 || day == 5)
			return 1; /* 憲法記念日, こどもの日 */
		if (y >= 2007 && day == 4)
			return 1; /* みどりの日 */
		return y == 2019 && (day == 1 || day == 2); /* 即位の日 */
	case 6:
		return y == 1993 && day == 9; /* 皇太子徳仁親王の結婚の儀 */
	case 7:
		/* 海の日, and the Olympic moves of 2020 and 2021 */
		if (y == 2020)
			return day == 23 || day == 24;
		if (y == 2021)
			return day == 22 || day == 23;
		if (y >= 2003)
			return day == nth_monday(y, 7, 3);
		return y >= 1996 && day == 20;
	case 8:
		/* 山の日 */
		if (y == 2020)
			return day == 10;
		if (y == 2021)
			return day == 8;
		return y >= 2016 && day == 11;
	case 9:
		if (day == autumn_equinox(y))
			return 1;
		/* 敬老の日 */
		return y >= 2003 ? day == nth_monday(y, 9, 3) : day == 15;
	case 10:
		if (y == 2019 && day == 22)
			return 1; /* 即位礼正殿の儀 */
		/* 体育の日 / スポーツの日 (2020 and 2021 moved to July) */
		if (y == 2020 || y == 2021)
			return 0;
		return y >= 2000 ? day == nth_monday(y, 10, 2) : day == 10;
	case 11:
		if (y == 1990 && day == 12)
			return 1; /* 即位礼正殿の儀 */
		return day == 3 || day == 23;
	case 12:
		return y >= 1989 && y <= 2018 && day == 23; /* 天皇誕生日 */
	default:
		return 0;
	}
}

static struct jpki_date add_days(const struct jpki_date *d, int n)
{
	struct jpki_date out = *d;

	while (n > 0) {
		if (++out.day > jpki_date_days_in_month(out.year, out.month)) {
			out.day = 1;
			if (++out.month > 12) {
				out.month = 1;
				out.year++;
			}
		}
		n--;
	}
	while (n < 0) {
		if (--out.day < 1) {
			if (--out.month < 1) {
				out.month = 12;
				out.year--;
			}
			out.day = jpki_date_days_in_month(out.year, out.month);
		}
		n++;
	}
	return out;
}

int window_is_holiday(const struct jpki_date *d)
{
	if (named_holiday(d))
		return 1;
	/*
	 * 振替休日: a holiday on a Sunday moves to the next day that is not a
	 * holiday (from 2007; before, only to the Monday, from 1973).
	 */
	if (window_weekday(d) != 0) {
		struct jpki_date prev = add_days(d, -1);
		int back = 1;

		while (named_holiday(&prev)) {
			if (window_weekday(&prev) == 0)
				return d->year >= 2007 || back == 1;
			prev = add_days(&prev, -1);
			back++;
		}
	}
	/* 国民の休日: a weekday between two holidays (from 1988). */
	if (d->year >= 1988 && window_weekday(d) != 0) {
		struct jpki_date before = add_days(d, -1),
				 after = add_days(d, 1);

		if (named_holiday(&before) && named_holiday(&after))
			return 1;
	}
	return 0;
}

int window_is_working_day(const struct jpki_date *d)
{
	int wd = window_weekday(d);

	if (wd == 0 || wd == 6)
		return 0;
	/* 年末年始 */
	if ((d->month == 12 && d->day >= 29) || (d->month == 1 && d->day <= 3))
		return 0;
	return !window_is_holiday(d);
}
