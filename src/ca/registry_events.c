/*
 * The CA's side of the registry's outbox: each change event revokes what no
 * longer tells the truth.
 *
 * One transaction per batch of events (JPKI_CA_EVENT_BATCH) holds their
 * revocations, their audit entries, one regeneration of each CRL they touch
 * and the move of the CA's cursor past the last. A process killed anywhere
 * in it leaves the events unapplied and the cursor before them, so the next
 * run applies them whole; a committed event is never applied again. The
 * batch is what keeps a burst of changes (a merger of municipalities, a
 * day's moves) from regenerating the CA's full CRL once per event. Two
 * consumers running together serialise on the store's writer lock and each
 * reads the cursor inside its own transaction, so they cannot apply one
 * event twice either; and they rarely run together: the consumer holds a
 * cross-process lock (jpki_store_try_lock) while it applies, and another
 * that finds it taken skips its turn.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_internal.h"
#include "jpki/registry.h"

#define CURSOR_NAME "registry"


static int read_cursor(int64_t *seq, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(CURSOR_NAME);
	int r;

	*seq = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT seq FROM ca_registry_cursor"
				  " WHERE name = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1)
		*seq = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}

static int write_cursor(struct jpki_store *st, int64_t seq)
{
	struct jpki_value p[] = {JPKI_V_TEXT(CURSOR_NAME), JPKI_V_INT(seq)};

	return jpki_store_exec(st,
			       "INSERT INTO ca_registry_cursor (name, seq)"
			       " VALUES ($1, $2) ON CONFLICT (name)"
			       " DO UPDATE SET seq = excluded.seq",
			       p, 2, NULL);
}

/* What an event revokes: the certificate type (0: both) and the reason. */
static int event_rule(enum jpki_cert_type *type, enum jpki_reason *reason,
		      const struct jpki_registry_event *ev)
{
	switch (ev->kind) {
	case JPKI_EVENT_FACTS_CHANGED:
		/* The authentication certificate carries no facts. */
		*type = JPKI_CERT_SIGN;
		*reason = JPKI_REASON_AFFILIATION_CHANGED;
		return 0;
	case JPKI_EVENT_DIED:
	case JPKI_EVENT_REMOVED:
		*type = 0;
		*reason = JPKI_REASON_CESSATION;
		return 0;
	}
	/* Stop rather than skip: an event this CA does not understand may
	 * well require a revocation. */
	return jpki_err_set(JPKI_ERR_STATE,
			    "registry event %lld is of a kind (%d) this CA "
			    "does not know: update the CA before it can go "
			    "on",
			    (long long)ev->seq, (int)ev->kind);
}

/* What a batch of events revoked: each certificate once, for the CRLs
 * and the OCSP caches. */
struct revoked {
	char serial[41];
	enum jpki_cert_type type;
	int gen; /* the CA generation that issued it */
	char municipality[8];
	enum jpki_reason reason;
	int64_t seq;
	char what[64];
	char person[64];
};

struct revoked_list {
	struct revoked *v;
	size_t n, cap;
};

static int revoked_push(struct revoked_list *l, const struct revoked *one)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct revoked *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return JPKI_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *one;
	return 0;
}

/* Regenerates each CRL that lists one of the revoked certificates, once:
 * a full CRL per type and generation, a partition per municipality too. */
static int regenerate_crls(struct jpki_ca *ca, const struct revoked_list *l)
{
	int r;

	for (size_t i = 0; i < l->n; i++) {
		const struct revoked *v = &l->v[i];
		int seen_full = 0, seen_part = 0;

		for (size_t j = 0; j < i; j++) {
			const struct revoked *w = &l->v[j];

			if (w->type != v->type || w->gen != v->gen)
				continue;
			seen_full = 1;
			seen_part = seen_part ||
				    strcmp(w->municipality, v->municipality) ==
					    0;
		}
		if (v->type == JPKI_CERT_SIGN && !seen_part &&
		    (r = ca_crl_touch(ca, JPKI_CERT_SIGN, v->gen,
				      v->municipality)) != 0)
			return r;
		if (!seen_full &&
		    (r = ca_crl_touch(ca, v->type, v->gen, NULL)) != 0)
			return r;
	}
	return 0;
}

/*
 * The certificates of a batch's persons, read by one query for the whole
 * batch (on PostgreSQL every statement is a round trip: one a person made
 * the consumer wait on them), and kept up to date as the batch revokes, so
 * that a person's second event sees the first's revocations as a query
 * would.
 */
#define PERSON_IN JPKI_CA_EVENT_BATCH

struct held {
	const char *person, *serial, *municipality; /* borrowed from rows */
	enum jpki_cert_type type;
	int gen, status;
	int64_t issued_at;
};

struct held_set {
	struct jpki_rows *rows;
	struct held *v; /* by person, then serial */
	size_t n;
};

static int held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = strcmp(x->person, y->person);

	return c != 0 ? c : strcmp(x->serial, y->serial);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "... WHERE person IN ($1, ..., $PERSON_IN)", made once. */
static char held_sql[256 + PERSON_IN * 8];
static pthread_once_t held_once = PTHREAD_ONCE_INIT;

static void held_sql_build(void)
{
	size_t size = sizeof(held_sql), len;

	len = (size_t)snprintf(held_sql, size,
			       "SELECT person, serial, type, municipality,"
			       " generation, status, issued_at FROM ca_cert"
			       " WHERE person IN ");
	if (len < size)
		ca_sql_in(held_sql + len, size - len, 1, PERSON_IN);
}

static int held_read(struct held_set *h, struct jpki_store *st,
		     const struct jpki_registry_event *ev, size_t n)
{
	const char *persons[PERSON_IN];
	struct jpki_value p[PERSON_IN];
	size_t m = 0;
	int r;

	memset(h, 0, sizeof(*h));
	if (n > PERSON_IN)
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "%zu registry events in one batch", n);
	for (size_t i = 0; i < n; i++)
		persons[i] = ev[i].person;
	qsort(persons, n, sizeof(*persons), str_cmp);
	/* each person once; the unused places NULL, which matches none */
	for (size_t i = 0; i < n; i++)
		if (m == 0 || strcmp(persons[m - 1], persons[i]) != 0)
			persons[m++] = persons[i];
	for (size_t i = 0; i < PERSON_IN; i++)
		p[i] = i < m ? JPKI_V_TEXT(persons[i]) : JPKI_V_NULL;
	pthread_once(&held_once, held_sql_build);
	if ((r = jpki_store_query(&h->rows, st, held_sql, p, PERSON_IN)) != 0)
		return r;
	if ((h->v = calloc(jpki_rows_count(h->rows) + 1, sizeof(*h->v))) ==
	    NULL)
		return JPKI_ERR_NOMEM;
	for (size_t i = 0; i < jpki_rows_count(h->rows); i++) {
		struct held *c = &h->v[h->n];

		c->person = jpki_rows_text(h->rows, i, 0);
		c->serial = jpki_rows_text(h->rows, i, 1);
		c->municipality = jpki_rows_text(h->rows, i, 3);
		if (c->person == NULL || c->serial == NULL)
			continue;
		if (c->municipality == NULL)
			c->municipality = "";
		c->type = (enum jpki_cert_type)jpki_rows_int(h->rows, i, 2);
		c->gen = (int)jpki_rows_int(h->rows, i, 4);
		c->status = (int)jpki_rows_int(h->rows, i, 5);
		c->issued_at = jpki_rows_int(h->rows, i, 6);
		h->n++;
	}
	qsort(h->v, h->n, sizeof(*h->v), held_cmp);
	return 0;
}

static void held_free(struct held_set *h)
{
	jpki_rows_free(h->rows);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* Revokes what one event makes untrue, inside the batch's transaction:
 * recorded in `done` and the audit appender, the rows' UPDATE after the
 * batch's last event (revoke_done). */
static int apply_event(struct jpki_store *st,
		       const struct jpki_registry_event *ev,
		       struct held_set *h, struct jpki_audit_appender **ap,
		       struct revoked_list *done)
{
	static const struct jpki_actor system_actor = {
		.operator_id = "system",
		.role = JPKI_ROLE_CA_OFFICER,
		.municipality_code = "",
	};
	enum jpki_cert_type type = JPKI_CERT_SIGN;
	enum jpki_reason reason = JPKI_REASON_AFFILIATION_CHANGED;
	size_t lo = 0, hi = h->n;
	int r;

	if ((r = event_rule(&type, &reason, ev)) != 0)
		return r;
	/* the person's first certificate: they are sorted by person */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(h->v[mid].person, ev->person) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Held certificates too: a dead person's suspended certificate must
	 * not come back by a release. Certificates issued after the event
	 * already tell the new truth. In serial order, as one query each
	 * read them. */
	for (size_t i = lo; i < h->n && strcmp(h->v[i].person, ev->person) == 0;
	     i++) {
		struct held *c = &h->v[i];
		struct revoked one = {.reason = reason, .seq = ev->seq};
		char detail[192];

		if ((type != 0 && c->type != type) ||
		    c->status == JPKI_STATUS_REVOKED || c->issued_at > ev->at)
			continue;
		c->status = JPKI_STATUS_REVOKED;
		snprintf(one.serial, sizeof(one.serial), "%s", c->serial);
		one.type = c->type;
		one.gen = c->gen;
		snprintf(one.municipality, sizeof(one.municipality), "%s",
			 c->municipality);
		snprintf(one.what, sizeof(one.what), "%s", ev->what);
		snprintf(one.person, sizeof(one.person), "%s", ev->person);
		snprintf(detail, sizeof(detail),
			 "{\"reason\":\"%s\",\"event\":%lld,\"what\":\"%s\","
			 "\"person\":\"%s\"}",
			 jpki_ca_reason_name(reason), (long long)ev->seq,
			 ev->what, ev->person);
		/* the chain's head read at the batch's first revocation */
		if ((*ap == NULL &&
		     (r = jpki_audit_appender_open(ap, st)) != 0) ||
		    (r = jpki_audit_appender_add(*ap, &system_actor,
						 "ca.revoke", one.serial,
						 detail)) != 0 ||
		    (r = revoked_push(done, &one)) != 0)
			return r;
	}
	return 0;
}

/* The batch's revocations written: one UPDATE a CA_REVOKE_IN of them of
 * each reason (ca_status_revoke_many). */
static int revoke_done(struct jpki_ca *ca, const struct revoked_list *l)
{
	const char *serials[CA_REVOKE_IN];
	int r;

	for (size_t i = 0; i < l->n; i++) {
		size_t m = 0;
		int first = 1;

		/* each reason once, at its first revocation */
		for (size_t j = 0; j < i && first; j++)
			first = l->v[j].reason != l->v[i].reason;
		if (!first)
			continue;
		for (size_t j = i; j < l->n; j++) {
			if (l->v[j].reason != l->v[i].reason)
				continue;
			serials[m++] = l->v[j].serial;
			if (m == CA_REVOKE_IN) {
				if ((r = ca_status_revoke_many(
					     ca, serials, m, l->v[i].reason)) !=
				    0)
					return r;
				m = 0;
			}
		}
		if (m > 0 && (r = ca_status_revoke_many(ca, serials, m,
							l->v[i].reason)) != 0)
			return r;
	}
	return 0;
}

/*
 * Applies up to `limit` events after the cursor in one transaction: their
 * revocations, one regeneration of each CRL they touch, and the cursor's
 * move past the last. An event of a kind this CA does not know ends the
 * batch before it (the next call stops at it). *applied: events applied.
 * A few statements a batch: the events, their persons' certificates, the
 * revocations' UPDATEs and audit entries by many rows at a time.
 */
static int apply_batch(struct jpki_ca *ca, size_t limit, size_t *applied)
{
	struct jpki_store *st = ca->store;
	struct jpki_registry_event *ev = NULL;
	struct jpki_audit_appender *ap = NULL;
	struct revoked_list done = {0};
	struct held_set held = {0};
	int64_t cursor;
	size_t n = 0, i = 0;
	int r;

	*applied = 0;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = read_cursor(&cursor, st)) != 0 ||
	    (r = jpki_registry_events(&ev, &n, st, cursor, limit)) != 0)
		goto fail;
	if (n == 0) {
		jpki_store_rollback(st);
		goto out;
	}
	if ((r = held_read(&held, st, ev, n)) != 0)
		goto fail;
	for (; i < n; i++) {
		enum jpki_cert_type type;
		enum jpki_reason reason;

		if (i > 0 && event_rule(&type, &reason, &ev[i]) != 0)
			break; /* applied up to here; the next call stops */
		if ((r = apply_event(st, &ev[i], &held, &ap, &done)) != 0)
			goto fail;
	}
	if ((r = revoke_done(ca, &done)) != 0 ||
	    (ap != NULL && (r = jpki_audit_appender_finish(ap)) != 0) ||
	    (r = regenerate_crls(ca, &done)) != 0 ||
	    (r = write_cursor(st, ev[i - 1].seq)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	for (size_t k = 0; k < done.n; k++) {
		ca_ocsp_forget(ca, done.v[k].type, done.v[k].serial);
		jpki_log(JPKI_LOG_INFO,
			 "certificate %s: %s (registry event %lld, %s of %s)",
			 done.v[k].serial,
			 jpki_ca_reason_name(done.v[k].reason),
			 (long long)done.v[k].seq, done.v[k].what,
			 done.v[k].person);
	}
	*applied = i;
	goto out;
fail:
	jpki_store_rollback(st);
out:
	jpki_audit_appender_free(ap);
	held_free(&held);
	free(done.v);
	free(ev);
	return r;
}

int jpki_ca_apply_registry_events(size_t *count, struct jpki_ca *ca)
{
	size_t applied = 1;
	int64_t cursor, last;
	int got = 0, r = JPKI_ERR_INTERNAL;

	*count = 0;
	if (ca == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no CA");
	/* Plain reads first: a consumer with nothing to do (the usual tick
	 * of a server) opens no write transaction, so it neither takes the
	 * writer lock from the window's clerks nor queues behind them. The
	 * tables are the caller's to create at its start
	 * (jpki_registry_migrate): nothing here migrates. */
	if ((r = read_cursor(&cursor, ca->store)) != 0 ||
	    (r = jpki_registry_last_event(&last, ca->store)) != 0)
		return r;
	if (last <= cursor)
		return 0;
	/* One consumer at a time across every process on the database: the
	 * others skip this round instead of queueing on the writer lock for
	 * events the holder is applying. Correctness does not rest on it:
	 * each batch reads the cursor inside its own transaction. */
	if ((r = jpki_store_try_lock(ca->store, JPKI_CA_CONSUMER_LOCK,
				     &got)) != 0)
		return r;
	if (!got)
		return 0;
	while (applied > 0) {
		if ((r = apply_batch(ca, JPKI_CA_EVENT_BATCH, &applied)) != 0)
			break;
		*count += applied;
	}
	jpki_store_unlock(ca->store, JPKI_CA_CONSUMER_LOCK);
	return r;
}
