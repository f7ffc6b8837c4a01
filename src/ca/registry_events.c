/*
 * The CA's side of the registry's outbox: each change event revokes what no
 * longer tells the truth.
 *
 * One transaction per event holds the revocations, their CRLs, their audit
 * entries and the move of the CA's cursor past the event. A process killed
 * anywhere in it leaves the event unapplied and the cursor before it, so the
 * next run applies it whole; a committed event is never applied again. Two
 * consumers running together serialise on the store's writer lock and each
 * reads the cursor inside its own transaction, so they cannot apply one
 * event twice either.
 */
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

/* Regenerates each CRL that lists one of the revoked `rows` once. */
static int regenerate_crls(struct jpki_ca *ca, const struct jpki_rows *rows)
{
	size_t n = jpki_rows_count(rows);
	int sign = 0, auth = 0, r;

	for (size_t i = 0; i < n; i++) {
		enum jpki_cert_type type =
		    (enum jpki_cert_type)jpki_rows_int(rows, i, 1);
		const char *mun = jpki_rows_text(rows, i, 2);
		int seen = 0;

		if (type == JPKI_CERT_AUTH) {
			auth = 1;
			continue;
		}
		sign = 1;
		for (size_t j = 0; j < i; j++)
			if (jpki_rows_int(rows, j, 1) == JPKI_CERT_SIGN &&
			    strcmp(jpki_rows_text(rows, j, 2), mun) == 0)
				seen = 1;
		if (!seen &&
		    (r = ca_crl_generate(ca, JPKI_CERT_SIGN, mun)) != 0)
			return r;
	}
	if (sign && (r = ca_crl_generate(ca, JPKI_CERT_SIGN, NULL)) != 0)
		return r;
	if (auth && (r = ca_crl_generate(ca, JPKI_CERT_AUTH, NULL)) != 0)
		return r;
	return 0;
}

/* Applies the first event after the cursor, if any (*applied 1). */
static int apply_next(struct jpki_ca *ca, int *applied)
{
	static const struct jpki_actor system_actor = {
	    .operator_id = "system",
	    .role = JPKI_ROLE_CA_OFFICER,
	    .municipality_code = "",
	};
	struct jpki_store *st = ca->store;
	struct jpki_registry_event *ev = NULL;
	struct jpki_rows *rows = NULL;
	enum jpki_cert_type type = JPKI_CERT_SIGN;
	enum jpki_reason reason = JPKI_REASON_AFFILIATION_CHANGED;
	int64_t cursor;
	size_t n = 0;
	int r = JPKI_ERR_INTERNAL;

	*applied = 0;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = read_cursor(&cursor, st)) != 0 ||
	    (r = jpki_registry_events(&ev, &n, st, cursor, 1)) != 0)
		goto fail;
	if (n == 0) {
		jpki_store_rollback(st);
		r = 0;
		goto out;
	}
	if ((r = event_rule(&type, &reason, ev)) != 0)
		goto fail;
	{
		/* Held certificates too: a dead person's suspended
		 * certificate must not come back by a release. Certificates
		 * issued after the event already tell the new truth. */
		struct jpki_value p[] = {JPKI_V_TEXT(ev->person),
					 JPKI_V_INT(type), JPKI_V_INT(ev->at)};

		if ((r = jpki_store_query(&rows, st,
					  "SELECT serial, type, municipality"
					  " FROM ca_cert WHERE person = $1"
					  " AND ($2 = 0 OR type = $2)"
					  " AND status <> 1 AND issued_at <= $3"
					  " ORDER BY serial",
					  p, 3)) != 0)
			goto fail;
	}
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		const char *serial = jpki_rows_text(rows, i, 0);
		char detail[192];

		snprintf(detail, sizeof(detail),
			 "{\"reason\":\"%s\",\"event\":%lld,\"what\":\"%s\","
			 "\"person\":\"%s\"}",
			 jpki_ca_reason_name(reason), (long long)ev->seq,
			 ev->what, ev->person);
		if ((r = ca_status_set_locked(
			 ca, serial,
			 (enum jpki_cert_type)jpki_rows_int(rows, i, 1),
			 jpki_rows_text(rows, i, 2), JPKI_STATUS_REVOKED,
			 reason, 0)) != 0 ||
		    (r = jpki_audit_append(st, &system_actor, "ca.revoke",
					   serial, detail)) != 0)
			goto fail;
	}
	if ((r = regenerate_crls(ca, rows)) != 0 ||
	    (r = write_cursor(st, ev->seq)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		ca_ocsp_forget(ca, JPKI_CERT_SIGN, jpki_rows_text(rows, i, 0));
		ca_ocsp_forget(ca, JPKI_CERT_AUTH, jpki_rows_text(rows, i, 0));
		jpki_log(JPKI_LOG_INFO,
			 "certificate %s: %s (registry event %lld, %s of %s)",
			 jpki_rows_text(rows, i, 0),
			 jpki_ca_reason_name(reason), (long long)ev->seq,
			 ev->what, ev->person);
	}
	*applied = 1;
	r = 0;
	goto out;
fail:
	jpki_store_rollback(st);
out:
	jpki_rows_free(rows);
	free(ev);
	return r;
}

int jpki_ca_apply_registry_events(size_t *count, struct jpki_ca *ca)
{
	int applied = 1, r;

	*count = 0;
	if (ca == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no CA");
	/* A store with no registry yet has no events: its empty tables
	 * say so without a special case. */
	if ((r = jpki_registry_migrate(ca->store)) != 0)
		return r;
	while (applied) {
		if ((r = apply_next(ca, &applied)) != 0)
			return r;
		*count += (size_t)applied;
	}
	return 0;
}
