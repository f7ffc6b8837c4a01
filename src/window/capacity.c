/*
 * The counter's own rules: reception hours on working days, the daily
 * capacity of certificates a municipality can issue, and the fee ledger.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window/window_internal.h"


int window_next_id(int64_t *out, struct jpki_store *st, const char *table)
{
	struct jpki_rows *rows = NULL;
	char sql[128];
	int r;

	/* ids are allocated under the write lock of the caller's
	 * transaction: no autoincrement in the common SQL subset */
	snprintf(sql, sizeof(sql), "SELECT COALESCE(MAX(id), 0) + 1 FROM %s",
		 table);
	if ((r = jpki_store_query(&rows, st, sql, NULL, 0)) != 0)
		return r;
	*out = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}

int window_check_hours(struct jpki_store *st, const struct jpki_actor *by,
		       const char *municipality_code)
{
	static const char *const days[] = {"Sunday",    "Monday",   "Tuesday",
					   "Wednesday", "Thursday", "Friday",
					   "Saturday"};
	time_t now = jpki_clock_now();
	struct jpki_date today = jpki_date_of(now);
	/* minutes after midnight in Japan (UTC+9, no summer time) */
	int minute = (int)(((now + 9 * 3600) % 86400 + 86400) % 86400 / 60);
	struct jpki_office o;
	int open, close, r;
	char day[11], where[160];

	if ((r = window_office_of(&o, st, by, municipality_code)) != 0)
		return r;
	open = o.open_minute;
	close = o.close_minute;
	window_office_describe(where, sizeof(where), &o);
	jpki_date_format(&today, day);
	if (!window_is_working_day(&today))
		return jpki_err_set(
		    JPKI_ERR_POLICY,
		    "the window of %s is closed on %s %s (%s): it takes "
		    "applications on working days from %02d:%02d to "
		    "%02d:%02d",
		    where, days[window_weekday(&today)], day,
		    window_is_holiday(&today) ? "a national holiday"
		    : (today.month == 12 || today.month == 1)
			? "the year-end holidays"
			: "the weekend",
		    open / 60, open % 60, close / 60, close % 60);
	if (minute < open || minute >= close)
		return jpki_err_set(
		    JPKI_ERR_POLICY,
		    "the window of %s is closed at %02d:%02d: it takes "
		    "applications from %02d:%02d to %02d:%02d",
		    where, minute / 60, minute % 60, open / 60, open % 60,
		    close / 60, close % 60);
	return 0;
}

int jpki_window_set_hours(struct jpki_store *st, const struct jpki_actor *by,
			  const char *municipality_code, int open_minute,
			  int close_minute)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code),
				 JPKI_V_INT(open_minute),
				 JPKI_V_INT(close_minute)};
	struct jpki_office o;
	char detail[96];
	int r = JPKI_ERR_INTERNAL;

	if (municipality_code == NULL || open_minute < 0 ||
	    close_minute > 24 * 60 || open_minute >= close_minute)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "reception hours must be a municipality "
				    "and an opening minute before the closing "
				    "one within the day");
	snprintf(detail, sizeof(detail), "{\"open\":%d,\"close\":%d}",
		 open_minute, close_minute);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	/* `municipality_code` names an office: a municipality's code is
	 * its main office */
	if ((r = window_office_settable(&o, st, by, municipality_code)) != 0 ||
	    (r = jpki_store_exec(
		 st,
		 "INSERT INTO window_hours (municipality_code, "
		 "open_minute, close_minute) VALUES ($1, $2, $3) "
		 "ON CONFLICT (municipality_code) DO UPDATE SET "
		 "open_minute = excluded.open_minute, "
		 "close_minute = excluded.close_minute",
		 p, 3, NULL)) != 0 ||
	    (r = jpki_audit_append(st, by, "window.set_hours",
				   municipality_code, detail)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	return jpki_store_commit(st);
}

int jpki_window_set_capacity(struct jpki_store *st, const struct jpki_actor *by,
			     const char *municipality_code, int per_day)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code),
				 JPKI_V_INT(per_day)};
	struct jpki_office o;
	char detail[64];
	int r = JPKI_ERR_INTERNAL;

	if (municipality_code == NULL || per_day < 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a daily capacity is a municipality and a "
				    "number of certificates (0: no limit)");
	snprintf(detail, sizeof(detail), "{\"per_day\":%d}", per_day);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = window_office_settable(&o, st, by, municipality_code)) != 0 ||
	    (r = jpki_store_exec(
		 st,
		 "INSERT INTO window_capacity (municipality_code, per_day)"
		 " VALUES ($1, $2) ON CONFLICT (municipality_code) DO "
		 "UPDATE SET per_day = excluded.per_day",
		 p, 2, NULL)) != 0 ||
	    (r = jpki_audit_append(st, by, "window.set_capacity",
				   municipality_code, detail)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	return jpki_store_commit(st);
}

static int used_up(const char *where, int64_t per_day)
{
	return jpki_err_set(JPKI_ERR_POLICY,
			    "today's capacity of the window of %s (%lld "
			    "certificates a day) is used up; the "
			    "application waits for another day",
			    where, (long long)per_day);
}

int window_capacity_check(struct jpki_store *st, const struct jpki_actor *by,
			  const char *municipality_code, int n)
{
	struct jpki_date today = jpki_date_today();
	struct jpki_rows *rows = NULL;
	struct jpki_office o;
	char day[11], where[160];
	int64_t used;
	int r;

	jpki_date_format(&today, day);
	if ((r = window_office_of(&o, st, by, municipality_code)) != 0)
		return r;
	if (o.per_day == 0)
		return 0;
	{
		struct jpki_value p[] = {JPKI_V_TEXT(o.code), JPKI_V_TEXT(day)};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT COALESCE(SUM(used), 0) FROM window_capacity_use"
			 " WHERE municipality_code = $1 AND day = $2",
			 p, 2)) != 0)
			return r;
	}
	used = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	if (used + n <= o.per_day)
		return 0;
	window_office_describe(where, sizeof(where), &o);
	return used_up(where, o.per_day);
}

int window_capacity_take(struct jpki_store *st, const struct jpki_actor *by,
			 const char *municipality_code, int n,
			 const char *subject)
{
	struct jpki_date today = jpki_date_today();
	char day[11], detail[96];
	int64_t per_day = 0, changes = 0;
	struct jpki_office o;
	char where[160];
	int r = JPKI_ERR_INTERNAL;

	jpki_date_format(&today, day);
	/* the office's own capacity: the rows are keyed by its code (a
	 * main office's is its municipality's) */
	if ((r = window_office_of(&o, st, by, municipality_code)) != 0)
		return r;
	per_day = o.per_day;
	window_office_describe(where, sizeof(where), &o);
	{
		struct jpki_value p[] = {JPKI_V_TEXT(o.code),
					 JPKI_V_TEXT(day), JPKI_V_INT(n),
					 JPKI_V_INT(per_day)};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO window_capacity_use "
			 "(municipality_code, day, used) VALUES ($1, $2, 0)"
			 " ON CONFLICT (municipality_code, day) DO NOTHING",
			 p, 2, NULL)) != 0)
			return r;
		/*
		 * The condition is in the UPDATE itself, so that even a
		 * database that does not serialise whole transactions (a
		 * PostgreSQL READ COMMITTED) re-checks it on the row it
		 * changes: two clerks cannot both take the last slot.
		 */
		if ((r = jpki_store_exec(
			 st,
			 "UPDATE window_capacity_use SET used = used + $3"
			 " WHERE municipality_code = $1 AND day = $2"
			 " AND ($4 = 0 OR used + $3 <= $4)",
			 p, 4, &changes)) != 0)
			return r;
	}
	if (changes != 1)
		return used_up(where, per_day);
	snprintf(detail, sizeof(detail),
		 "{\"day\":\"%s\",\"n\":%d,\"office\":\"%s\"}", day, n,
		 o.code);
	return jpki_audit_append(st, by, "window.capacity.take", subject,
				 detail);
}

int window_capacity_give_back(struct jpki_store *st,
			      const struct jpki_actor *by,
			      const char *municipality_code, int n,
			      const char *subject)
{
	struct jpki_date today = jpki_date_today();
	char day[11], detail[96];
	struct jpki_office o;
	int r = JPKI_ERR_INTERNAL;

	jpki_date_format(&today, day);
	if ((r = window_office_of(&o, st, by, municipality_code)) != 0)
		return r;
	snprintf(detail, sizeof(detail),
		 "{\"day\":\"%s\",\"n\":%d,\"office\":\"%s\"}", day, n,
		 o.code);
	{
		struct jpki_value p[] = {JPKI_V_TEXT(o.code),
					 JPKI_V_TEXT(day), JPKI_V_INT(n)};

		if ((r = jpki_store_exec(st,
					 "UPDATE window_capacity_use SET used ="
					 " used - $3 WHERE municipality_code ="
					 " $1 AND day = $2 AND used >= $3",
					 p, 3, NULL)) != 0)
			return r;
	}
	return jpki_audit_append(st, by, "window.capacity.give_back", subject,
				 detail);
}

int window_fee_record(struct jpki_store *st, const struct jpki_actor *by,
		      const char *person, const char *municipality_code,
		      const char *what, int yen)
{
	int64_t id;
	int r;

	if ((r = window_next_id(&id, st, "window_fee")) != 0)
		return r;
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(id),
		    JPKI_V_TEXT(person),
		    JPKI_V_TEXT(municipality_code),
		    JPKI_V_TEXT(what),
		    JPKI_V_INT(yen),
		    JPKI_V_INT((int64_t)jpki_clock_now()),
		    JPKI_V_TEXT(by->operator_id),
		};

		return jpki_store_exec(st,
				       "INSERT INTO window_fee (id, person, "
				       "municipality_code, what, yen, at, "
				       "operator_id) VALUES ($1, $2, $3, $4, "
				       "$5, $6, $7)",
				       p, 7, NULL);
	}
}

int jpki_window_fees(struct jpki_fee **out, size_t *n, struct jpki_store *st,
		     const char *municipality_code)
{
	struct jpki_value p[] = {
	    municipality_code ? JPKI_V_TEXT(municipality_code) : JPKI_V_NULL};
	struct jpki_rows *rows = NULL;
	struct jpki_fee *fees = NULL;
	size_t count;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT id, person, municipality_code, what,"
				  " yen, at, operator_id FROM window_fee"
				  " WHERE municipality_code = $1 OR $1 IS NULL"
				  " ORDER BY id",
				  p, 1)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if (count > 0 && (fees = calloc(count, sizeof(*fees))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s;

		fees[i].id = jpki_rows_int(rows, i, 0);
		s = jpki_rows_text(rows, i, 1);
		snprintf(fees[i].person, sizeof(fees[i].person), "%s",
			 s ? s : "");
		s = jpki_rows_text(rows, i, 2);
		snprintf(fees[i].municipality_code,
			 sizeof(fees[i].municipality_code), "%s", s ? s : "");
		s = jpki_rows_text(rows, i, 3);
		snprintf(fees[i].what, sizeof(fees[i].what), "%s", s ? s : "");
		fees[i].yen = (int)jpki_rows_int(rows, i, 4);
		fees[i].at = (time_t)jpki_rows_int(rows, i, 5);
		s = jpki_rows_text(rows, i, 6);
		snprintf(fees[i].operator_id, sizeof(fees[i].operator_id), "%s",
			 s ? s : "");
	}
	*out = fees;
	*n = count;
	fees = NULL;
	r = 0;
out:
	free(fees);
	jpki_rows_free(rows);
	return r;
}
