/*
 * The offices of a municipality's window (本庁, 支所・出張所): where a clerk
 * works decides whose hours and whose daily capacity apply, and whether
 * certificates may be issued there at all (SPEC section 3, "Branch
 * offices").
 *
 * The main office's code is the municipality's own code, so the hours and
 * capacity rows kept per municipality before offices existed
 * (window_hours, window_capacity, window_capacity_use, keyed by that
 * code) are the main office's without a change; a branch's rows sit
 * beside them under the branch's code ("131016-kanda"). A municipality
 * nobody set up has its main office all the same: found by its code, with
 * the default hours, one counter, no capacity limit, and issuing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window/window_internal.h"

#define DEFAULT_OPEN (9 * 60)
#define DEFAULT_CLOSE (17 * 60)
#define MAIN_NAME "本庁"

/*
 * Its own migration track ("window_office"), after the window's: the
 * main office of every municipality that already had hours or a capacity
 * is recorded, so `office list` shows what was set before.
 */
static const struct jpki_migration migrations[] = {
    {1, "CREATE TABLE window_office ("
	" code TEXT PRIMARY KEY,"
	" municipality_code TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" main INTEGER NOT NULL,"
	" may_issue INTEGER NOT NULL,"
	" counters INTEGER NOT NULL);"
	"CREATE INDEX window_office_municipality ON window_office"
	" (municipality_code, code);"
	"INSERT INTO window_office (code, municipality_code, name, main,"
	" may_issue, counters)"
	" SELECT municipality_code, municipality_code, '" MAIN_NAME "', 1,"
	" 1, 1 FROM window_hours"
	" UNION SELECT municipality_code, municipality_code, '" MAIN_NAME
	"', 1, 1, 1 FROM window_capacity"},
};

int window_office_migrate(struct jpki_store *st)
{
	return jpki_store_migrate(st, "window_office", migrations,
				  sizeof(migrations) / sizeof(migrations[0]));
}

static int municipality_code_valid(const char *s)
{
	if (s == NULL || strlen(s) != 6)
		return 0;
	for (int i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* A branch's code: its municipality's code, '-', 1-8 of [0-9A-Za-z]. */
static int branch_code_valid(const char *code, const char *municipality)
{
	size_t n = strlen(code);

	if (n < 8 || n > 15 || strncmp(code, municipality, 6) != 0 ||
	    code[6] != '-')
		return 0;
	for (size_t i = 7; i < n; i++)
		if (!((code[i] >= '0' && code[i] <= '9') ||
		      (code[i] >= 'A' && code[i] <= 'Z') ||
		      (code[i] >= 'a' && code[i] <= 'z')))
			return 0;
	return 1;
}

/* Fills hours and capacity of `o` from their rows (defaults if none). */
static int office_settings(struct jpki_office *o, struct jpki_store *st)
{
	struct jpki_value p[] = {JPKI_V_TEXT(o->code)};
	struct jpki_rows *rows = NULL;
	int r;

	o->open_minute = DEFAULT_OPEN;
	o->close_minute = DEFAULT_CLOSE;
	o->per_day = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT open_minute, close_minute FROM "
				  "window_hours WHERE municipality_code = $1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1) {
		o->open_minute = (int)jpki_rows_int(rows, 0, 0);
		o->close_minute = (int)jpki_rows_int(rows, 0, 1);
	}
	jpki_rows_free(rows);
	if ((r = jpki_store_query(&rows, st,
				  "SELECT per_day FROM window_capacity"
				  " WHERE municipality_code = $1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1)
		o->per_day = (int)jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	{
		struct jpki_date today = jpki_date_today();
		char day[11];
		struct jpki_value q[] = {JPKI_V_TEXT(o->code),
					 JPKI_V_TEXT(day)};

		jpki_date_format(&today, day);
		if ((r = jpki_store_query(&rows, st,
					  "SELECT used FROM window_capacity_use"
					  " WHERE municipality_code = $1 AND"
					  " day = $2",
					  q, 2)) != 0)
			return r;
		o->used_today = jpki_rows_count(rows) == 1
				    ? (int)jpki_rows_int(rows, 0, 0)
				    : 0;
		jpki_rows_free(rows);
	}
	return 0;
}

static void office_from_row(struct jpki_office *o, struct jpki_rows *rows,
			    size_t i)
{
	const char *s;

	memset(o, 0, sizeof(*o));
	s = jpki_rows_text(rows, i, 0);
	snprintf(o->code, sizeof(o->code), "%s", s ? s : "");
	s = jpki_rows_text(rows, i, 1);
	snprintf(o->municipality_code, sizeof(o->municipality_code), "%s",
		 s ? s : "");
	s = jpki_rows_text(rows, i, 2);
	snprintf(o->name, sizeof(o->name), "%s", s ? s : "");
	o->main = jpki_rows_int(rows, i, 3) != 0;
	o->may_issue = jpki_rows_int(rows, i, 4) != 0;
	o->counters = (int)jpki_rows_int(rows, i, 5);
}

#define OFFICE_COLUMNS                                                         \
	"code, municipality_code, name, main, may_issue, counters"

int jpki_window_office_get(struct jpki_office *out, struct jpki_store *st,
			   const char *code)
{
	struct jpki_value p[] = {JPKI_V_TEXT(code)};
	struct jpki_rows *rows = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (code == NULL || code[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID, "no office named");
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " OFFICE_COLUMNS " FROM window_office"
				  " WHERE code = $1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1) {
		office_from_row(out, rows, 0);
	} else if (municipality_code_valid(code)) {
		/* the main office of a municipality nobody set up */
		snprintf(out->code, sizeof(out->code), "%s", code);
		snprintf(out->municipality_code, sizeof(out->municipality_code),
			 "%s", code);
		snprintf(out->name, sizeof(out->name), MAIN_NAME);
		out->main = 1;
		out->may_issue = 1;
		out->counters = 1;
	} else {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_NOT_FOUND, "no office %s", code);
	}
	jpki_rows_free(rows);
	return office_settings(out, st);
}

int jpki_window_offices(struct jpki_office **out, size_t *n,
			struct jpki_store *st, const char *municipality_code)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code)};
	struct jpki_rows *rows = NULL;
	struct jpki_office *list = NULL;
	size_t count, have_main = 0;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if (!municipality_code_valid(municipality_code))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "offices are listed per municipality: give "
				    "its six-digit code");
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " OFFICE_COLUMNS " FROM window_office"
				  " WHERE municipality_code = $1"
				  " ORDER BY main DESC, code",
				  p, 1)) != 0)
		return r;
	count = jpki_rows_count(rows);
	have_main = count > 0 && jpki_rows_int(rows, 0, 3) != 0;
	/* one more for the main office nobody recorded */
	if ((list = calloc(count + 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (!have_main &&
	    (r = jpki_window_office_get(&list[0], st, municipality_code)) != 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		struct jpki_office *o = &list[i + !have_main];

		office_from_row(o, rows, i);
		if ((r = office_settings(o, st)) != 0)
			goto out;
	}
	*out = list;
	*n = count + !have_main;
	list = NULL;
	r = 0;
out:
	free(list);
	jpki_rows_free(rows);
	return r;
}

/* Records the main office of `municipality_code` if it is only implied,
 * inside the caller's transaction. */
static int main_office_record(struct jpki_store *st,
			      const char *municipality_code)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code)};

	return jpki_store_exec(
	    st,
	    "INSERT INTO window_office (code, municipality_code, name, main,"
	    " may_issue, counters) VALUES ($1, $1, '" MAIN_NAME "', 1, 1, 1)"
	    " ON CONFLICT (code) DO NOTHING",
	    p, 1, NULL);
}

int jpki_window_office_add(struct jpki_store *st, const struct jpki_actor *by,
			   const char *code, const char *municipality_code,
			   const char *name, int may_issue)
{
	int main_office = code != NULL && municipality_code != NULL &&
			  strcmp(code, municipality_code) == 0;
	char detail[96];
	int64_t changes = 0;
	int r = JPKI_ERR_INTERNAL;

	if (!municipality_code_valid(municipality_code) || code == NULL ||
	    (!main_office && !branch_code_valid(code, municipality_code)))
		return jpki_err_set(
		    JPKI_ERR_INVALID,
		    "an office is the main one (its code is the "
		    "municipality's six digits) or a branch (the "
		    "municipality's code, '-', 1-8 letters or digits, e.g. "
		    "131016-kanda)");
	if (name == NULL || name[0] == '\0' || strlen(name) > 127 ||
	    jpki_text_check(name, "office name") != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an office needs a printable name of at "
				    "most 127 bytes");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      municipality_code)) != 0)
		return r;
	/* the main office issues: a municipality issues somewhere */
	if (main_office)
		may_issue = 1;
	snprintf(detail, sizeof(detail), "{\"main\":%s,\"may_issue\":%s}",
		 main_office ? "true" : "false", may_issue ? "true" : "false");
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if (!main_office &&
	    (r = main_office_record(st, municipality_code)) != 0)
		goto fail;
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(code), JPKI_V_TEXT(municipality_code),
		    JPKI_V_TEXT(name), JPKI_V_INT(main_office),
		    JPKI_V_INT(may_issue != 0)};

		/* the main office may be there already, implied: its name
		 * is the one thing to set */
		if ((r = jpki_store_exec(
			 st,
			 main_office
			     ? "INSERT INTO window_office (code, "
			       "municipality_code, name, main, may_issue, "
			       "counters) VALUES ($1, $2, $3, $4, $5, 1) ON "
			       "CONFLICT (code) DO UPDATE SET name = "
			       "excluded.name"
			     : "INSERT INTO window_office (code, "
			       "municipality_code, name, main, may_issue, "
			       "counters) VALUES ($1, $2, $3, $4, $5, 1) ON "
			       "CONFLICT (code) DO NOTHING",
			 p, 5, &changes)) != 0)
			goto fail;
	}
	if (changes != 1) {
		r = jpki_err_set(JPKI_ERR_EXISTS, "office %s exists already",
				 code);
		goto fail;
	}
	if ((r = jpki_audit_append(st, by, "window.office.add", code,
				   detail)) != 0)
		goto fail;
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	return r;
}

int jpki_window_set_counters(struct jpki_store *st, const struct jpki_actor *by,
			     const char *office_code, int counters)
{
	struct jpki_office o;
	char detail[64];
	int r = JPKI_ERR_INTERNAL;

	if (counters < 1 || counters > 1000)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an office has 1 to 1000 counters");
	if ((r = jpki_window_office_get(&o, st, office_code)) != 0 ||
	    (r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      o.municipality_code)) != 0)
		return r;
	snprintf(detail, sizeof(detail), "{\"counters\":%d}", counters);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	{
		struct jpki_value p[] = {JPKI_V_TEXT(o.code),
					 JPKI_V_INT(counters)};

		if ((o.main &&
		     (r = main_office_record(st, o.municipality_code)) != 0) ||
		    (r = jpki_store_exec(st,
					 "UPDATE window_office SET counters ="
					 " $2 WHERE code = $1",
					 p, 2, NULL)) != 0 ||
		    (r = jpki_audit_append(st, by, "window.office.counters",
					   o.code, detail)) != 0) {
			jpki_store_rollback(st);
			return r;
		}
	}
	return jpki_store_commit(st);
}

int window_office_settable(struct jpki_office *out, struct jpki_store *st,
			   const struct jpki_actor *by, const char *office_code)
{
	int r;

	if ((r = jpki_window_office_get(out, st, office_code)) != 0)
		return r;
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      out->municipality_code)) != 0)
		return r;
	/* the main office gets its row when first set up */
	if (out->main)
		return main_office_record(st, out->municipality_code);
	return 0;
}

int window_office_of(struct jpki_office *out, struct jpki_store *st,
		     const struct jpki_actor *by, const char *municipality_code)
{
	int r;

	/* a clerk at a branch of this municipality works there; everyone
	 * else (no office recorded, the CA officer) at its main office */
	if (by != NULL && by->office_code[0] != '\0' &&
	    strncmp(by->office_code, municipality_code, 6) == 0) {
		if ((r = jpki_window_office_get(out, st, by->office_code)) != 0)
			return r;
		if (strcmp(out->municipality_code, municipality_code) == 0)
			return 0;
	}
	return jpki_window_office_get(out, st, municipality_code);
}

void window_office_describe(char *out, size_t cap, const struct jpki_office *o)
{
	snprintf(out, cap, "%s (%s)", o->name, o->code);
}

int window_check_issue(struct jpki_store *st, const struct jpki_actor *by,
		       const char *municipality_code, const char *action,
		       const char *subject)
{
	struct jpki_office o;
	char where[160];
	int r;

	if ((r = window_office_of(&o, st, by, municipality_code)) != 0)
		return r;
	if (o.may_issue)
		return 0;
	window_office_describe(where, sizeof(where), &o);
	jpki_err_set(JPKI_ERR_POLICY,
		     "certificates are issued at the main office only: %s "
		     "takes PIN resets and loss reports",
		     where);
	return window_read_refused(st, by, action, subject, JPKI_ERR_POLICY);
}

int jpki_window_fees_read(struct jpki_fee **out, size_t *n,
			  struct jpki_store *st, const struct jpki_actor *by)
{
	char code[sizeof(by->municipality_code) + 1];
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_audit_authorize_read(
		 by, JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK), NULL)) != 0)
		return window_read_refused(st, by, "window.fees.read.refused",
					   "", r);
	snprintf(code, sizeof(code), "%.*s", (int)sizeof(by->municipality_code),
		 by->municipality_code);
	if ((r = jpki_audit_record(st, by, "window.fees.read", code, NULL)) !=
	    0)
		return r;
	return jpki_window_fees(out, n, st, code);
}
