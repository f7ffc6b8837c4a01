/*
 * services: the simplified move (転入転出の特例).
 *
 * A card holder's move-out notice (転出届, signed through the portal or sent
 * by post) becomes a pending move: no fact changes yet, so the signing
 * certificate stays good while the person is between homes. The
 * destination's window completes it with the card within 14 days of the
 * arrival day; only then is the registry's move made, in the same
 * transaction, and its event is what the CA revokes the signing
 * certificate on (exactly once, by its cursor). A move not completed in
 * time expires: the periodic work or the next look marks it, and the
 * resident must then move in with a regular 転入届.
 *
 * States: pending -> done (move-in in time), pending -> expired. Nothing
 * leaves done or expired.
 */
#include <stdio.h>
#include <string.h>

#include "services/services_internal.h"

static const struct jpki_migration migrations[] = {
    {1, "CREATE TABLE services_move ("
	" id BIGINT PRIMARY KEY,"
	" person TEXT NOT NULL,"
	" from_code TEXT NOT NULL,"
	" to_code TEXT NOT NULL,"
	" to_prefecture TEXT NOT NULL,"
	" to_municipality TEXT NOT NULL,"
	" to_address TEXT NOT NULL,"
	" arrival TEXT NOT NULL,"
	" via INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" noticed_at BIGINT NOT NULL,"
	" closed_at BIGINT NOT NULL);"
	"CREATE INDEX services_move_person ON services_move (person, id);"
	"CREATE INDEX services_move_state ON services_move (state, arrival)"},
};

#define MOVE_COLUMNS                                                           \
	"id, person, from_code, to_code, to_prefecture, to_municipality,"      \
	" to_address, arrival, via, state, noticed_at, closed_at"

int services_move_migrate(struct jpki_store *st)
{
	return jpki_store_migrate(st, "services_move", migrations,
				  sizeof(migrations) / sizeof(migrations[0]));
}

const char *jpki_move_state_name(enum jpki_move_state s)
{
	switch (s) {
	case JPKI_MOVE_PENDING:
		return "pending";
	case JPKI_MOVE_DONE:
		return "done";
	case JPKI_MOVE_EXPIRED:
		return "expired";
	}
	return "unknown";
}

const char *jpki_move_via_name(enum jpki_move_via v)
{
	return v == JPKI_MOVE_VIA_PORTAL ? "portal"
	       : v == JPKI_MOVE_VIA_POST ? "post"
					 : "unknown";
}

const char *jpki_move_state_sentence(enum jpki_move_state s)
{
	switch (s) {
	case JPKI_MOVE_PENDING:
		return "pending: the move-out is noticed; the move-in is taken "
		       "at the destination's window with the card within 14 "
		       "days of arrival";
	case JPKI_MOVE_DONE:
		return "done: moved in; the signing certificate was revoked "
		       "by the change, the authentication certificate goes on";
	case JPKI_MOVE_EXPIRED:
		return "expired: the resident must move in with a regular "
		       "転入届 at the window";
	}
	return "unknown";
}

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int move_from_row(struct jpki_move *m, const struct jpki_rows *rows,
			 size_t i)
{
	memset(m, 0, sizeof(*m));
	m->id = jpki_rows_int(rows, i, 0);
	copy_text(m->person, sizeof(m->person), jpki_rows_text(rows, i, 1));
	copy_text(m->from_code, sizeof(m->from_code),
		  jpki_rows_text(rows, i, 2));
	copy_text(m->to_code, sizeof(m->to_code), jpki_rows_text(rows, i, 3));
	copy_text(m->to_prefecture, sizeof(m->to_prefecture),
		  jpki_rows_text(rows, i, 4));
	copy_text(m->to_municipality, sizeof(m->to_municipality),
		  jpki_rows_text(rows, i, 5));
	copy_text(m->to_address, sizeof(m->to_address),
		  jpki_rows_text(rows, i, 6));
	if (jpki_rows_text(rows, i, 7) == NULL ||
	    jpki_date_parse(&m->arrival, jpki_rows_text(rows, i, 7)) != 0)
		return jpki_err_set(JPKI_ERR_STORE,
				    "move %lld has an unreadable arrival day",
				    (long long)m->id);
	m->via = (enum jpki_move_via)jpki_rows_int(rows, i, 8);
	m->state = (enum jpki_move_state)jpki_rows_int(rows, i, 9);
	m->noticed_at = (time_t)jpki_rows_int(rows, i, 10);
	m->closed_at = (time_t)jpki_rows_int(rows, i, 11);
	return 0;
}

/* The person's latest move; JPKI_ERR_NOT_FOUND when none. */
static int latest(struct jpki_move *m, struct jpki_store *st,
		  const char *person)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(person);
	int r;

	if ((r = jpki_store_query(&rows, st,
				  "SELECT " MOVE_COLUMNS " FROM services_move"
				  " WHERE person = $1 ORDER BY id DESC LIMIT 1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no move-out notice of %s is recorded",
				 person);
	else
		r = move_from_row(m, rows, 0);
	jpki_rows_free(rows);
	return r;
}

/* Whether a pending move's time is out: today after arrival + 14 days. */
static int overdue(const struct jpki_move *m)
{
	struct jpki_date today = jpki_date_today();

	return jpki_date_days_between(&m->arrival, &today) > JPKI_MOVE_IN_DAYS;
}

/* The registry network's own actor, recording on a municipality's chain
 * what no operator of it did (an expiry, the portal's notice). */
static void system_actor(struct jpki_actor *a, const char *who,
			 const char *municipality_code)
{
	memset(a, 0, sizeof(*a));
	copy_text(a->operator_id, sizeof(a->operator_id), who);
	a->role = JPKI_ROLE_REGISTRY_CLERK;
	copy_text(a->municipality_code, sizeof(a->municipality_code),
		  municipality_code);
}

/* Marks `m` expired inside the caller's transaction, on the chain of the
 * resident's municipality. */
static int expire_one(struct jpki_store *st, struct jpki_move *m)
{
	struct jpki_actor sys;
	char detail[96];
	int r;
	struct jpki_value p[] = {
	    JPKI_V_INT(JPKI_MOVE_EXPIRED), JPKI_V_INT(jpki_clock_now()),
	    JPKI_V_INT(m->id), JPKI_V_INT(JPKI_MOVE_PENDING)};

	if ((r = jpki_store_exec(st,
				 "UPDATE services_move SET state = $1,"
				 " closed_at = $2 WHERE id = $3 AND state = $4",
				 p, 4, NULL)) != 0)
		return r;
	system_actor(&sys, "system", m->from_code);
	snprintf(detail, sizeof(detail),
		 "{\"move\":%lld,\"from\":\"%s\",\"to\":\"%s\"}",
		 (long long)m->id, m->from_code, m->to_code);
	if ((r = jpki_audit_append(st, &sys, "services.move.expired", m->person,
				   detail)) != 0)
		return r;
	m->state = JPKI_MOVE_EXPIRED;
	m->closed_at = jpki_clock_now();
	return 0;
}

/* ---- the signed notice's text ------------------------------------------ */

/*
 * The value of the one line "<label>: <value>" of `t` into `out` (`size`
 * bytes). A second line with the label, a value that does not fit, holds a
 * control character or is not UTF-8: JPKI_ERR_INVALID.
 */
static int notice_value(char *out, size_t size, const uint8_t *t, size_t len,
			const char *label)
{
	size_t n = strlen(label), pos = 0;
	int found = 0;

	out[0] = '\0';
	while (pos < len) {
		const uint8_t *eol = memchr(t + pos, '\n', len - pos);
		size_t line = eol ? (size_t)(eol - (t + pos)) : len - pos;
		size_t l = line;

		if (l > 0 && t[pos + l - 1] == '\r')
			l--;
		if (l >= n + 2 && memcmp(t + pos, label, n) == 0 &&
		    t[pos + n] == ':' && t[pos + n + 1] == ' ') {
			size_t v = l - n - 2;

			if (found++)
				return jpki_err_set(JPKI_ERR_INVALID,
						    "the notice has two lines "
						    "'%s'",
						    label);
			if (v == 0 || v >= size)
				return jpki_err_set(
				    JPKI_ERR_INVALID,
				    "the notice's '%s' is empty "
				    "or too long",
				    label);
			memcpy(out, t + pos + n + 2, v);
			out[v] = '\0';
			if (memchr(out, '\0', v) != NULL ||
			    jpki_utf8_chars(out) < 0 ||
			    jpki_text_check(out, label) != 0)
				return jpki_err_set(JPKI_ERR_INVALID,
						    "the notice's '%s' is not "
						    "one line of text",
						    label);
		}
		pos += line + 1;
	}
	if (!found)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the notice has no line '%s'", label);
	return 0;
}

/* "CODE PREFECTURE MUNICIPALITY", single spaces. */
static int split_destination(struct jpki_move_notice_text *out, char *to)
{
	char *a = strchr(to, ' '), *b = a ? strchr(a + 1, ' ') : NULL;

	if (a == NULL || b == NULL || strchr(b + 1, ' ') != NULL ||
	    (size_t)(a - to) != 6 || strspn(to, "0123456789") != 6 ||
	    b == a + 1 || b[1] == '\0' ||
	    (size_t)(b - a - 1) >= sizeof(out->to_prefecture) ||
	    strlen(b + 1) >= sizeof(out->to_municipality))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the destination is the six-digit "
				    "municipality code, the prefecture and the "
				    "municipality, separated by spaces");
	memcpy(out->to_code, to, 6);
	out->to_code[6] = '\0';
	memcpy(out->to_prefecture, a + 1, (size_t)(b - a - 1));
	out->to_prefecture[b - a - 1] = '\0';
	snprintf(out->to_municipality, sizeof(out->to_municipality), "%s",
		 b + 1);
	return 0;
}

int jpki_services_move_notice_parse(struct jpki_move_notice_text *out,
				    const uint8_t *text, size_t len)
{
	char to[8 + 64 + 64 + 2], arrival[16];
	int r;

	memset(out, 0, sizeof(*out));
	if (text == NULL || len > JPKI_MAX_SIGNED_APP)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "no notice, or one too large");
	if ((r = notice_value(to, sizeof(to), text, len, JPKI_MOVE_LABEL_TO)) !=
		0 ||
	    (r = notice_value(out->to_address, sizeof(out->to_address), text,
			      len, JPKI_MOVE_LABEL_ADDRESS)) != 0 ||
	    (r = notice_value(arrival, sizeof(arrival), text, len,
			      JPKI_MOVE_LABEL_ARRIVAL)) != 0 ||
	    (r = split_destination(out, to)) != 0)
		goto fail;
	if (jpki_date_parse(&out->arrival, arrival) != 0) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the day of arrival is YYYY-MM-DD");
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}

static int check_notice(const struct jpki_resident *res,
			const struct jpki_move_notice *n)
{
	struct jpki_date today = jpki_date_today();

	if (n->to_code == NULL || strlen(n->to_code) != 6 ||
	    strspn(n->to_code, "0123456789") != 6)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the destination must be a six-digit "
				    "municipality code");
	if (n->to_prefecture == NULL || *n->to_prefecture == '\0' ||
	    strlen(n->to_prefecture) >= 64 || n->to_municipality == NULL ||
	    *n->to_municipality == '\0' || strlen(n->to_municipality) >= 64)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the destination's prefecture and "
				    "municipality are 1 to 63 bytes");
	if (n->to_address == NULL || *n->to_address == '\0' ||
	    strlen(n->to_address) >= JPKI_FACT_ADDRESS_MAX)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the new address is missing or too long");
	if (n->via != JPKI_MOVE_VIA_PORTAL && n->via != JPKI_MOVE_VIA_POST)
		return jpki_err_set(
		    JPKI_ERR_INVALID,
		    "a move-out notice comes through the portal "
		    "or by post");
	if (!jpki_date_valid(&n->arrival) ||
	    jpki_date_cmp(&n->arrival, &today) < 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the arrival day must be a date, today or "
				    "later");
	if (strcmp(n->to_code, res->municipality_code) == 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a move within %s is an ordinary change at "
				    "its window, not a move-out",
				    res->municipality);
	return 0;
}

int jpki_services_move_out(int64_t *id, struct jpki_store *st,
			   const struct jpki_actor *by,
			   const char *signer_person, const char *person,
			   const struct jpki_move_notice *n)
{
	struct jpki_resident res;
	struct jpki_move prev;
	struct jpki_actor sys;
	const struct jpki_actor *actor = by;
	struct jpki_rows *rows = NULL;
	char arrival[11], detail[160];
	int r = JPKI_ERR_INTERNAL;

	*id = 0;
	if (st == NULL || n == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a move-out needs a store and a notice");
	if ((r = jpki_registry_get(&res, st, person)) != 0)
		return r;
	/* Who: the origin's clerk for a notice by post; for one through the
	 * portal, the signer must be the person (the signature is the
	 * caller's to have checked). */
	if (n->via == JPKI_MOVE_VIA_PORTAL) {
		if (by != NULL || signer_person == NULL ||
		    strcmp(signer_person, res.person) != 0)
			return jpki_err_set(
			    JPKI_ERR_POLICY,
			    "a move-out through the portal must "
			    "be signed by the resident's own "
			    "signing certificate");
		system_actor(&sys, "portal", res.municipality_code);
		actor = &sys;
	} else if ((r = jpki_audit_authorize_read(
			by,
			JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_REGISTRY_CLERK) |
			    JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK),
			res.municipality_code)) != 0)
		return r;
	if (res.status != JPKI_RESIDENT_REGISTERED)
		return jpki_err_set(JPKI_ERR_STATE,
				    "resident %s is no longer registered",
				    res.person);
	if ((r = check_notice(&res, n)) != 0)
		return r;

	if ((r = jpki_store_begin(st)) != 0)
		return r;
	r = latest(&prev, st, res.person);
	if (r == 0 && prev.state == JPKI_MOVE_PENDING && overdue(&prev))
		r = expire_one(st, &prev);
	if (r == 0 && prev.state == JPKI_MOVE_PENDING) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "a move of %s to %s%s is already pending "
				 "(move %lld)",
				 res.person, prev.to_prefecture,
				 prev.to_municipality, (long long)prev.id);
		goto fail;
	}
	if (r != 0 && r != JPKI_ERR_NOT_FOUND)
		goto fail;
	jpki_err_clear();
	if ((r = jpki_store_query(&rows, st,
				  "SELECT COALESCE(MAX(id), 0) + 1"
				  " FROM services_move",
				  NULL, 0)) != 0)
		goto fail;
	*id = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	jpki_date_format(&n->arrival, arrival);
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(*id),
		    JPKI_V_TEXT(res.person),
		    JPKI_V_TEXT(res.municipality_code),
		    JPKI_V_TEXT(n->to_code),
		    JPKI_V_TEXT(n->to_prefecture),
		    JPKI_V_TEXT(n->to_municipality),
		    JPKI_V_TEXT(n->to_address),
		    JPKI_V_TEXT(arrival),
		    JPKI_V_INT(n->via),
		    JPKI_V_INT(JPKI_MOVE_PENDING),
		    JPKI_V_INT(jpki_clock_now()),
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO services_move (" MOVE_COLUMNS ")"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
			 " $11, 0)",
			 p, 11, NULL)) != 0)
			goto fail;
	}
	snprintf(detail, sizeof(detail),
		 "{\"move\":%lld,\"from\":\"%s\",\"to\":\"%s\","
		 "\"arrival\":\"%s\",\"via\":\"%s\"}",
		 (long long)*id, res.municipality_code, n->to_code, arrival,
		 jpki_move_via_name(n->via));
	if ((r = jpki_audit_append(st, actor, "services.move.out", res.person,
				   detail)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0) {
		*id = 0;
		return r;
	}
	return 0;
fail:
	*id = 0;
	jpki_store_rollback(st);
	return r;
}

int jpki_services_move_in(struct jpki_move *out, struct jpki_store *st,
			  const struct jpki_actor *by, const char *person,
			  const char *card_person)
{
	struct jpki_move m;
	char detail[96];
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (st == NULL || person == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a move-in needs a store and a person");
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = latest(&m, st, person)) != 0)
		goto fail;
	/* The destination's clerk only; checked before the state, so a
	 * clerk of a third municipality learns nothing of the move. */
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK, m.to_code)) !=
	    0)
		goto fail;
	if (m.state == JPKI_MOVE_PENDING && overdue(&m)) {
		char arrival[11];

		if ((r = expire_one(st, &m)) != 0 ||
		    (r = jpki_store_commit(st)) != 0)
			return r;
		jpki_date_format(&m.arrival, arrival);
		*out = m;
		return jpki_err_set(JPKI_ERR_STATE,
				    "the move-in is refused: more than %d days "
				    "after the arrival day %s; the move is %s",
				    JPKI_MOVE_IN_DAYS, arrival,
				    jpki_move_state_sentence(m.state));
	}
	if (m.state != JPKI_MOVE_PENDING) {
		r = jpki_err_set(JPKI_ERR_STATE, "move %lld of %s is %s",
				 (long long)m.id, m.person,
				 jpki_move_state_sentence(m.state));
		goto fail;
	}
	if (card_person == NULL || strcmp(card_person, m.person) != 0) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the card presented is not %s's card: the "
				 "simplified move-in needs the resident's own "
				 "card",
				 m.person);
		goto fail;
	}
	if ((r = jpki_registry_move_in_tx(st, by, m.person, m.to_code,
					  m.to_prefecture, m.to_municipality,
					  m.to_address)) != 0)
		goto fail;
	{
		struct jpki_value p[] = {JPKI_V_INT(JPKI_MOVE_DONE),
					 JPKI_V_INT(jpki_clock_now()),
					 JPKI_V_INT(m.id)};

		if ((r = jpki_store_exec(st,
					 "UPDATE services_move SET state = $1,"
					 " closed_at = $2 WHERE id = $3",
					 p, 3, NULL)) != 0)
			goto fail;
	}
	snprintf(detail, sizeof(detail),
		 "{\"move\":%lld,\"from\":\"%s\",\"to\":\"%s\"}",
		 (long long)m.id, m.from_code, m.to_code);
	if ((r = jpki_audit_append(st, by, "services.move.in", m.person,
				   detail)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	m.state = JPKI_MOVE_DONE;
	m.closed_at = jpki_clock_now();
	*out = m;
	return 0;
fail:
	jpki_store_rollback(st);
	return r;
}

int jpki_services_move_get(struct jpki_move *out, struct jpki_store *st,
			   const struct jpki_actor *by, const char *person)
{
	struct jpki_move m;
	unsigned readers = JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_REGISTRY_CLERK) |
			   JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK);
	int r;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if (person == NULL || person[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a move's state needs the resident code");
	if ((r = latest(&m, st, person)) != 0)
		return r;
	if (jpki_audit_authorize_read(by, readers, m.from_code) != 0 &&
	    (r = jpki_audit_authorize_read(by, readers, m.to_code)) != 0) {
		/* who tried to learn where a resident moves is on the chain */
		char why[512];

		snprintf(why, sizeof(why), "%s", jpki_err_detail());
		if (by != NULL && by->operator_id[0] != '\0' &&
		    jpki_audit_record(st, by, "services.move.read.refused",
				      person, NULL) != 0)
			jpki_log(JPKI_LOG_ERROR,
				 "services: a refused read not recorded: %s",
				 jpki_err_detail());
		return jpki_err_set(r, "%s", why);
	}
	if ((r = jpki_audit_record(st, by, "services.move.read", m.person,
				   NULL)) != 0)
		return r;
	if (m.state == JPKI_MOVE_PENDING && overdue(&m)) {
		if ((r = jpki_store_begin(st)) != 0)
			return r;
		if ((r = expire_one(st, &m)) != 0) {
			jpki_store_rollback(st);
			return r;
		}
		if ((r = jpki_store_commit(st)) != 0)
			return r;
	}
	*out = m;
	return 0;
}

int jpki_services_move_expire(size_t *n, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	struct jpki_date today = jpki_date_today(), last;
	char cutoff[11];
	size_t count;
	int r = JPKI_ERR_INTERNAL;

	*n = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	/* Arrival days before today - 14 are out of time; the dates are
	 * ISO text, so they compare as strings. A plain read first: an idle
	 * tick writes nothing. */
	last = today;
	for (int i = 0; i < JPKI_MOVE_IN_DAYS; i++) {
		struct jpki_date prev = last;

		if (--prev.day < 1) {
			if (--prev.month < 1) {
				prev.month = 12;
				prev.year--;
			}
			prev.day =
			    jpki_date_days_in_month(prev.year, prev.month);
		}
		last = prev;
	}
	jpki_date_format(&last, cutoff);
	{
		struct jpki_value p[] = {JPKI_V_INT(JPKI_MOVE_PENDING),
					 JPKI_V_TEXT(cutoff)};

		if ((r = jpki_store_query(&rows, st,
					  "SELECT " MOVE_COLUMNS
					  " FROM services_move WHERE state = $1"
					  " AND arrival < $2 ORDER BY id",
					  p, 2)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if (count == 0) {
		jpki_rows_free(rows);
		return 0;
	}
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		struct jpki_move m;

		if ((r = move_from_row(&m, rows, i)) != 0 ||
		    (r = expire_one(st, &m)) != 0) {
			jpki_store_rollback(st);
			goto out;
		}
	}
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	*n = count;
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}
