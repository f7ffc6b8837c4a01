/*
 * How long a certificate lives (SPEC sections 2 and 3): the My Number card's
 * 5th birthday after issue, capped by the card's own expiry; the Juki card's
 * 3 years counted from the day of issue, and its end of issue on 22
 * December 2015.
 */
#include "jpki/profile.h"

int jpki_profile_age(const struct jpki_date *birth, const struct jpki_date *on)
{
	int age = on->year - birth->year;
	struct jpki_date bd = jpki_date_add_years(birth, age);

	if (jpki_date_cmp(on, &bd) < 0)
		age--;
	return age;
}

/* The n-th birthday strictly after `day` (a birthday on `day` itself does
 * not count). */
static struct jpki_date nth_birthday_after(const struct jpki_date *birth,
					   const struct jpki_date *day, int n)
{
	int k = day->year - birth->year;
	struct jpki_date b = jpki_date_add_years(birth, k);

	if (jpki_date_cmp(&b, day) <= 0)
		k++;
	return jpki_date_add_years(birth, k + n - 1);
}

struct jpki_date jpki_profile_period_last_day(const struct jpki_date *first,
					      int years)
{
	struct jpki_date same = {first->year + years, first->month,
				 first->day};

	/* no such date that year: the period ends with the month */
	if (same.day > jpki_date_days_in_month(same.year, same.month)) {
		same.day = jpki_date_days_in_month(same.year, same.month);
		return same;
	}
	return jpki_date_of(jpki_date_start(&same) - 1);
}

struct jpki_date jpki_profile_card_expiry(const struct jpki_date *issue,
					  const struct jpki_date *birth)
{
	int n = jpki_profile_age(birth, issue) < 20 ? 5 : 10;

	return nth_birthday_after(birth, issue, n);
}

int jpki_profile_validity(struct jpki_date *out,
			  const struct jpki_validity_input *in)
{
	static const struct jpki_date juki_end = {JPKI_JUKI_LAST_ISSUE_YEAR,
						  JPKI_JUKI_LAST_ISSUE_MONTH,
						  JPKI_JUKI_LAST_ISSUE_DAY};
	struct jpki_date last;

	*out = (struct jpki_date){0, 0, 0};
	if (!jpki_date_valid(&in->issue))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the day of issue is not a date");
	switch (in->card) {
	case JPKI_CARD_JUKI:
		if (jpki_date_cmp(&in->issue, &juki_end) > 0)
			return jpki_err_set(
				JPKI_ERR_POLICY,
				"Juki-card certificates can no longer be "
				"issued or renewed: issue ended on 22 December "
				"2015 (平成27年12月22日)");
		/* 発行の日から起算して3年: the day of issue is day one */
		*out = jpki_profile_period_last_day(&in->issue, 3);
		return 0;
	case JPKI_CARD_MYNUMBER:
		if (!jpki_date_valid(&in->birth))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the date of birth is not a date");
		if (!jpki_date_valid(&in->card_expiry))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the card's expiry is not a date");
		if (jpki_date_cmp(&in->card_expiry, &in->issue) < 0)
			return jpki_err_set(JPKI_ERR_POLICY,
					    "the card has expired: a "
					    "certificate never outlives its "
					    "card");
		last = nth_birthday_after(&in->birth, &in->issue, 5);
		*out = jpki_date_cmp(&in->card_expiry, &last) < 0
			       ? in->card_expiry
			       : last;
		return 0;
	}
	return jpki_err_set(JPKI_ERR_INVALID, "unknown card kind %d",
			    (int)in->card);
}
