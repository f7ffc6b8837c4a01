/*
 * Operator management after the first log-in: disable and enable, unlock
 * after too many failures, a new password, sessions listed and ended; and
 * the chain read back with filters (jpki audit show, GET /api/audit).
 *
 * Each change is one transaction that also appends its entry to the chain,
 * so the record and the change land together or not at all. Ending an
 * operator's sessions deletes their rows: the next request that carries
 * such a token finds no session and must log in again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_internal.h"

/* The operator names of this module's entries may only come from the
 * store or from audit_operator_id_check; detail texts are built from
 * them and numbers, so they need no JSON escaping. */

static int need_officer(const struct jpki_actor *by)
{
	return jpki_audit_authorize(by, JPKI_ROLE_CA_OFFICER, NULL);
}

/* Inside a transaction: 0 when the operator exists, else NOT_FOUND. */
static int operator_exists(struct jpki_store *st, const char *id)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(id);
	int r;

	if ((r = jpki_store_query(&rows, st,
				  "SELECT 1 FROM audit_operator WHERE id = $1",
				  &p, 1)) != 0)
		return r;
	r = jpki_rows_count(rows) == 1
		? 0
		: jpki_err_set(JPKI_ERR_NOT_FOUND, "no operator '%s'", id);
	jpki_rows_free(rows);
	return r;
}

static int end_sessions(int64_t *ended, struct jpki_store *st, const char *id)
{
	struct jpki_value p = JPKI_V_TEXT(id);

	return jpki_store_exec(
	    st, "DELETE FROM audit_session WHERE operator_id = $1", &p, 1,
	    ended);
}

/*
 * One change to one operator: checks, then in one transaction `sql` with
 * (id) or (value, id), the sessions ended when `end`, and the entry.
 */
static int change(struct jpki_store *st, const struct jpki_actor *by,
		  const char *id, const char *sql, const char *text_value,
		  int end, const char *action, int64_t *ended_out)
{
	int64_t ended = 0;
	char detail[64];
	int r;

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = audit_operator_id_check(id)) != 0)
		return r;
	if ((r = audit_migrate(st)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = operator_exists(st, id)) != 0)
		goto fail;
	if (sql != NULL) {
		struct jpki_value p[] = {JPKI_V_TEXT(text_value),
					 JPKI_V_TEXT(id)};

		if ((r = jpki_store_exec(st, sql, text_value ? p : p + 1,
					 text_value ? 2 : 1, NULL)) != 0)
			goto fail;
	}
	if (end && (r = end_sessions(&ended, st, id)) != 0)
		goto fail;
	snprintf(detail, sizeof(detail), "{\"sessions_ended\":%" PRId64 "}",
		 ended);
	if ((r = jpki_audit_append(st, by, action, id, end ? detail : NULL)) !=
	    0)
		goto fail;
	if ((r = jpki_store_commit(st)) == 0 && ended_out != NULL)
		*ended_out = ended;
	return r;
fail:
	jpki_store_rollback(st);
	return r;
}

int jpki_audit_operator_disable(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *operator_id, int disabled)
{
	int r;

	if ((r = need_officer(by)) != 0)
		return r;
	if (disabled && operator_id != NULL &&
	    strcmp(by->operator_id, operator_id) == 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a CA officer cannot disable themself "
				    "(another CA officer can)");
	return change(st, by, operator_id,
		      disabled ? "UPDATE audit_operator SET disabled = 1"
				 " WHERE id = $1"
			       : "UPDATE audit_operator SET disabled = 0"
				 " WHERE id = $1",
		      NULL, disabled,
		      disabled ? "audit.operator-disable"
			       : "audit.operator-enable",
		      NULL);
}

int jpki_audit_operator_unlock(struct jpki_store *st,
			       const struct jpki_actor *by,
			       const char *operator_id)
{
	int r;

	if ((r = need_officer(by)) != 0)
		return r;
	return change(st, by, operator_id,
		      "UPDATE audit_operator SET failures = 0, wait_until = 0,"
		      " locked = 0 WHERE id = $1",
		      NULL, 0, "audit.operator-unlock", NULL);
}

/* An office code as the window module makes them: 1-15 of [0-9A-Za-z-]. */
static int office_code_valid(const char *code)
{
	size_t n = strlen(code);

	if (n > 15)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((code[i] >= '0' && code[i] <= '9') ||
		      (code[i] >= 'A' && code[i] <= 'Z') ||
		      (code[i] >= 'a' && code[i] <= 'z') || code[i] == '-'))
			return 0;
	return 1;
}

int jpki_audit_operator_set_office(struct jpki_store *st,
				   const struct jpki_actor *by,
				   const char *operator_id,
				   const char *office_code)
{
	const char *code = office_code ? office_code : "";
	int r;

	if ((r = need_officer(by)) != 0)
		return r;
	if (!office_code_valid(code))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an office code is 1-15 letters, digits "
				    "or '-'");
	if ((r = audit_operator_id_check(operator_id)) != 0 ||
	    (r = audit_migrate(st)) != 0)
		return r;
	/* as change(), with the office in the entry: the code is checked
	 * above, so it needs no escaping */
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	{
		struct jpki_value p[] = {JPKI_V_TEXT(code),
					 JPKI_V_TEXT(operator_id)};
		int64_t ended = 0;
		char detail[96];

		if ((r = operator_exists(st, operator_id)) != 0 ||
		    (r = jpki_store_exec(st,
					 "UPDATE audit_operator SET office = $1"
					 " WHERE id = $2",
					 p, 2, NULL)) != 0 ||
		    (r = end_sessions(&ended, st, operator_id)) != 0)
			goto fail;
		snprintf(detail, sizeof(detail),
			 "{\"office\":\"%s\",\"sessions_ended\":%" PRId64 "}",
			 code, ended);
		if ((r = jpki_audit_append(st, by, "audit.operator-office",
					   operator_id, detail)) != 0)
			goto fail;
	}
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	return r;
}

int jpki_audit_operator_password(struct jpki_store *st,
				 const struct jpki_actor *by,
				 const char *operator_id, const char *password)
{
	char *enc = NULL;
	int r;

	/* A CA officer sets anyone's; everyone else only their own. */
	if (by == NULL || by->operator_id[0] == '\0')
		return jpki_err_set(JPKI_ERR_POLICY,
				    "no operator is logged in");
	if (operator_id == NULL || strcmp(by->operator_id, operator_id) != 0) {
		if ((r = need_officer(by)) != 0)
			return r;
	}
	if ((r = audit_password_check(password)) != 0)
		return r;
	/* Hash before the transaction (as when adding). */
	if ((r = audit_password_hash(&enc, password)) != 0)
		return r;
	r = change(st, by, operator_id,
		   "UPDATE audit_operator SET password = $1 WHERE id = $2", enc,
		   1, "audit.operator-password", NULL);
	jpki_wipe(enc, strlen(enc));
	free(enc);
	return r;
}

int jpki_audit_sessions_end(size_t *ended, struct jpki_store *st,
			    const struct jpki_actor *by,
			    const char *operator_id)
{
	int64_t n = 0;
	int r;

	if (ended != NULL)
		*ended = 0;
	if ((r = need_officer(by)) != 0)
		return r;
	if ((r = change(st, by, operator_id, NULL, NULL, 1,
			"audit.sessions-end", &n)) != 0)
		return r;
	if (ended != NULL)
		*ended = (size_t)n;
	return 0;
}

/* A CA officer administers sessions; an auditor may look at them. */
static int may_read_sessions(const struct jpki_actor *by)
{
	if (by != NULL && by->role == JPKI_ROLE_AUDITOR)
		return jpki_audit_authorize(by, JPKI_ROLE_AUDITOR, NULL);
	return need_officer(by);
}

int jpki_audit_sessions(struct jpki_audit_session_info **out, size_t *n,
			struct jpki_store *st, const struct jpki_actor *by,
			const char *operator_id)
{
	struct jpki_rows *rows = NULL;
	struct jpki_audit_session_info *list = NULL;
	size_t count;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = may_read_sessions(by)) != 0)
		return r;
	if (operator_id != NULL &&
	    (r = audit_operator_id_check(operator_id)) != 0)
		return r;
	{
		struct jpki_value p[] = {operator_id ? JPKI_V_TEXT(operator_id)
						     : JPKI_V_NULL,
					 JPKI_V_INT(jpki_clock_now())};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT token_hash, operator_id, created_at,"
			 " expires_at FROM audit_session"
			 " WHERE (operator_id = $1 OR $1 IS NULL)"
			 " AND expires_at > $2"
			 " ORDER BY created_at, token_hash",
			 p, 2)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if (count > 0 && (list = calloc(count, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		snprintf(list[i].id, sizeof(list[i].id), "%.12s",
			 jpki_rows_text(rows, i, 0));
		snprintf(list[i].operator_id, sizeof(list[i].operator_id), "%s",
			 jpki_rows_text(rows, i, 1));
		list[i].created_at = (time_t)jpki_rows_int(rows, i, 2);
		list[i].expires_at = (time_t)jpki_rows_int(rows, i, 3);
	}
	*out = list;
	*n = count;
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}

/* Actions are dotted lower-case words ("window.issue"); a filter may end
 * in '*' for a prefix. */
static int action_filter_ok(const char *a)
{
	size_t n = strlen(a);

	if (n > 0 && a[n - 1] == '*')
		n--;
	return n <= 64 &&
	       strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789.-_") == n &&
	       a[n] == (n == strlen(a) ? '\0' : '*');
}

struct show_ctx {
	jpki_audit_entry_fn fn;
	void *ctx;
};

static int show_row(void *arg, const struct jpki_value *c, size_t columns)
{
	struct show_ctx *sc = arg;
	struct jpki_audit_entry e;

	if (columns != 9)
		return jpki_err_set(JPKI_ERR_INTERNAL, "audit_log columns");
	e.seq = c[0].i;
	e.at = (time_t)c[1].i;
	e.operator_id = c[2].s ? c[2].s : "";
	e.role = (enum jpki_role)c[3].i;
	e.municipality = c[4].s ? c[4].s : "";
	e.action = c[5].s ? c[5].s : "";
	e.subject = c[6].s ? c[6].s : "";
	e.detail = c[7].type == JPKI_VALUE_NULL ? NULL : c[7].s;
	e.hash = c[8].s ? c[8].s : "";
	return sc->fn(sc->ctx, &e);
}

int jpki_audit_show(struct jpki_store *st, const struct jpki_actor *by,
		    const struct jpki_audit_filter *filter,
		    jpki_audit_entry_fn fn, void *ctx)
{
	struct jpki_audit_filter f = {0};
	struct show_ctx sc = {fn, ctx};
	char detail[320], prefix[65] = "";
	size_t plen = 0;
	int r;

	if (st == NULL || fn == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store or callback");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_AUDITOR, NULL)) != 0)
		return r;
	if (filter != NULL)
		f = *filter;
	if (f.operator_id != NULL && f.operator_id[0] != '\0' &&
	    strcmp(f.operator_id, "system") != 0 &&
	    strcmp(f.operator_id, "-") != 0 &&
	    (r = audit_operator_id_check(f.operator_id)) != 0)
		return r;
	if (f.municipality != NULL && f.municipality[0] != '\0' &&
	    !audit_code_valid(f.municipality))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a municipality is its six-digit code");
	if (f.action != NULL && !action_filter_ok(f.action))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an action is like window.issue, or a "
				    "prefix ending in '*' (window.*)");
	if (f.since != 0 && f.until != 0 && f.until < f.since)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the end of the period is before its "
				    "start");
	if (f.operator_id != NULL && f.operator_id[0] == '\0')
		f.operator_id = NULL;
	if (f.municipality != NULL && f.municipality[0] == '\0')
		f.municipality = NULL;
	if (f.action != NULL) {
		plen = strlen(f.action);
		if (plen > 0 && f.action[plen - 1] == '*') {
			snprintf(prefix, sizeof(prefix), "%.*s",
				 (int)(plen - 1), f.action);
			plen--;
			f.action = NULL;
		}
	}
	/* Who read what goes on the chain before the reading. The fields
	 * were checked above to need no JSON escaping. */
	snprintf(detail, sizeof(detail),
		 "{\"operator\":\"%s\",\"municipality\":\"%s\","
		 "\"action\":\"%s%s\",\"since\":%lld,\"until\":%lld}",
		 f.operator_id ? f.operator_id : "",
		 f.municipality ? f.municipality : "",
		 f.action ? f.action : prefix, prefix[0] ? "*" : "",
		 (long long)f.since, (long long)f.until);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_audit_append(st, by, "audit.show", "", detail)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	{
		struct jpki_value p[] = {
		    f.operator_id ? JPKI_V_TEXT(f.operator_id) : JPKI_V_NULL,
		    f.municipality ? JPKI_V_TEXT(f.municipality) : JPKI_V_NULL,
		    f.action ? JPKI_V_TEXT(f.action) : JPKI_V_NULL,
		    JPKI_V_INT((int64_t)plen),
		    prefix[0] ? JPKI_V_TEXT(prefix) : JPKI_V_NULL,
		    JPKI_V_INT(f.since),
		    JPKI_V_INT(f.until ? (int64_t)f.until : INT64_MAX),
		    JPKI_V_INT(f.limit ? (int64_t)f.limit : INT64_MAX),
		};

		r = jpki_store_each(
		    st,
		    "SELECT seq, at, operator, role, municipality, action,"
		    " subject, detail, hash FROM audit_log"
		    " WHERE (operator = $1 OR $1 IS NULL)"
		    " AND (municipality = $2 OR $2 IS NULL)"
		    " AND (action = $3 OR $3 IS NULL)"
		    " AND (substr(action, 1, $4) = $5 OR $5 IS NULL)"
		    " AND at >= $6 AND at <= $7 ORDER BY seq LIMIT $8",
		    p, 8, show_row, &sc);
	}
	return r;
}
