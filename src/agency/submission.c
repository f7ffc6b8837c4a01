/*
 * The agency's submissions: each file received, with the form's name and
 * address, the verdict and the report, under a receipt number; and the
 * inbox that lists them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/agency.h"

int jpki_agency_migrate(struct jpki_store *st)
{
	/* Step 1 is the table the portal made under its own name before
	 * the agency module owned it (IF NOT EXISTS: such stores have it);
	 * step 2 gives it the module's name. */
	static const struct jpki_migration steps[] = {
	    {1, "CREATE TABLE IF NOT EXISTS portal_submission ("
		" id BIGINT PRIMARY KEY,"
		" receipt TEXT NOT NULL UNIQUE,"
		" at BIGINT NOT NULL,"
		" proc TEXT NOT NULL,"
		" name TEXT NOT NULL,"
		" address TEXT NOT NULL,"
		" verdict INTEGER NOT NULL,"
		" serial TEXT NOT NULL,"
		" report TEXT NOT NULL,"
		" data BLOB NOT NULL)"},
	    {2, "ALTER TABLE portal_submission RENAME TO agency_submission"},
	};

	/* Receipt evidence beside each accepted submission, under a key of
	 * its own so the submission table's steps stay as they are. */
	static const struct jpki_migration evidence[] = {
	    {1, "CREATE TABLE agency_evidence ("
		" submission BIGINT PRIMARY KEY,"
		" birth TEXT,"
		" sex TEXT,"
		" status_time BIGINT NOT NULL,"
		" signed_data BLOB NOT NULL,"
		" ocsp BLOB)"},
	};
	int r = jpki_store_migrate(st, "agency", steps,
				   sizeof(steps) / sizeof(steps[0]));

	if (r == 0)
		r = jpki_store_migrate(st, "agency_evidence", evidence,
				       sizeof(evidence) / sizeof(evidence[0]));
	return r;
}

static int submission_check(const struct jpki_agency_submission *s)
{
	if (s == NULL || s->version != JPKI_AGENCY_SUBMISSION_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a submission of an unknown version");
	if (s->proc == NULL || s->proc[0] == '\0' || s->name == NULL ||
	    s->name[0] == '\0' || s->address == NULL ||
	    s->address[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a submission needs its procedure, name "
				    "and address");
	switch (s->verdict) {
	case JPKI_AGENCY_NOT_VERIFIED:
	case JPKI_AGENCY_ACCEPTED:
	case JPKI_AGENCY_REFUSED:
		break;
	default:
		return jpki_err_set(JPKI_ERR_INVALID,
				    "verdict %d is not one the agency gives",
				    (int)s->verdict);
	}
	if (s->data == NULL && s->data_len > 0)
		return jpki_err_set(JPKI_ERR_INVALID, "no data");
	if (s->signed_data != NULL &&
	    (s->verdict != JPKI_AGENCY_ACCEPTED || s->signed_data_len == 0 ||
	     (s->ocsp == NULL && s->ocsp_len > 0)))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "receipt evidence is kept with an accepted "
				    "submission only, and whole");
	return 0;
}

int jpki_agency_submit(char receipt[32], struct jpki_store *st,
		       const struct jpki_agency_submission *s)
{
	struct jpki_rows *rows = NULL;
	time_t now = jpki_clock_now();
	struct jpki_date d = jpki_date_of(now);
	int64_t id;
	int r = JPKI_ERR_INTERNAL;

	receipt[0] = '\0';
	if ((r = submission_check(s)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT COALESCE(MAX(id), 0) + 1 FROM "
				  "agency_submission",
				  NULL, 0)) != 0)
		goto fail;
	id = jpki_rows_int(rows, 0, 0);
	snprintf(receipt, 32, "%04d%02d%02d-%06lld", d.year, d.month, d.day,
		 (long long)id);
	{
		static const unsigned char none[1];
		struct jpki_value v[] = {
		    JPKI_V_INT(id),
		    JPKI_V_TEXT(receipt),
		    JPKI_V_INT((int64_t)now),
		    JPKI_V_TEXT(s->proc),
		    JPKI_V_TEXT(s->name),
		    JPKI_V_TEXT(s->address),
		    JPKI_V_INT(s->verdict),
		    JPKI_V_TEXT(s->serial ? s->serial : ""),
		    JPKI_V_TEXT(s->report ? s->report : ""),
		    JPKI_V_BLOB(s->data ? s->data : none, s->data_len),
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO agency_submission (id, receipt, at, "
			 "proc, name, address, verdict, serial, report, "
			 "data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
			 "$9, $10)",
			 v, sizeof(v) / sizeof(v[0]), NULL)) != 0)
			goto fail;
	}
	if (s->signed_data != NULL) {
		struct jpki_value v[] = {
		    JPKI_V_INT(id),
		    s->birth ? JPKI_V_TEXT(s->birth) : JPKI_V_NULL,
		    s->sex ? JPKI_V_TEXT(s->sex) : JPKI_V_NULL,
		    JPKI_V_INT((int64_t)s->status_time),
		    JPKI_V_BLOB(s->signed_data, s->signed_data_len),
		    s->ocsp ? JPKI_V_BLOB(s->ocsp, s->ocsp_len) : JPKI_V_NULL,
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO agency_evidence (submission, birth, "
			 "sex, status_time, signed_data, ocsp) VALUES ($1, "
			 "$2, $3, $4, $5, $6)",
			 v, sizeof(v) / sizeof(v[0]), NULL)) != 0)
			goto fail;
	}
	jpki_rows_free(rows);
	rows = NULL;
	if ((r = jpki_store_commit(st)) != 0)
		goto fail_committed;
	return 0;
fail:
	jpki_rows_free(rows);
	jpki_store_rollback(st);
fail_committed:
	receipt[0] = '\0';
	return r;
}

void jpki_agency_inbox_free(struct jpki_agency_entry *list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++) {
		free(list[i].proc);
		free(list[i].name);
		free(list[i].serial);
		free(list[i].report);
	}
	free(list);
}

static char *dup_text(const char *s)
{
	return strdup(s ? s : "");
}

int jpki_agency_inbox(struct jpki_agency_entry **out, size_t *n,
		      struct jpki_store *st, size_t limit)
{
	struct jpki_value p =
	    JPKI_V_INT(limit ? (int64_t)limit : INT64_MAX);
	struct jpki_rows *rows = NULL;
	struct jpki_agency_entry *list = NULL;
	size_t count = 0;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT s.receipt, s.at, s.proc, s.name, "
				  "s.verdict, s.serial, s.report, "
				  "e.status_time FROM agency_submission s "
				  "LEFT JOIN agency_evidence e ON "
				  "e.submission = s.id "
				  "ORDER BY s.id DESC LIMIT $1",
				  &p, 1)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		struct jpki_agency_entry *e = &list[i];

		snprintf(e->receipt, sizeof(e->receipt), "%s",
			 jpki_rows_text(rows, i, 0) ? jpki_rows_text(rows, i, 0)
						    : "");
		e->at = (time_t)jpki_rows_int(rows, i, 1);
		e->verdict = (enum jpki_agency_verdict)jpki_rows_int(rows, i, 4);
		e->has_evidence = !jpki_rows_is_null(rows, i, 7);
		e->status_time = (time_t)jpki_rows_int(rows, i, 7);
		if ((e->proc = dup_text(jpki_rows_text(rows, i, 2))) == NULL ||
		    (e->name = dup_text(jpki_rows_text(rows, i, 3))) == NULL ||
		    (e->serial = dup_text(jpki_rows_text(rows, i, 5))) ==
			NULL ||
		    (e->report = dup_text(jpki_rows_text(rows, i, 6))) ==
			NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	*out = list;
	*n = count;
	list = NULL;
	r = 0;
out:
	jpki_agency_inbox_free(list, count);
	jpki_rows_free(rows);
	return r;
}

void jpki_agency_evidence_free(struct jpki_agency_evidence *ev)
{
	if (ev == NULL)
		return;
	free(ev->name);
	free(ev->birth);
	free(ev->sex);
	free(ev->address);
	free(ev->signed_data);
	free(ev->ocsp);
	free(ev);
}

/* A copy of a BLOB column, or NULL with *len 0 for NULL. -1 for memory. */
static int dup_blob(unsigned char **out, size_t *len, struct jpki_rows *rows,
		    size_t row, int col)
{
	const unsigned char *p = jpki_rows_blob(rows, row, col, len);

	*out = NULL;
	if (p == NULL) {
		*len = 0;
		return 0;
	}
	if ((*out = malloc(*len ? *len : 1)) == NULL)
		return -1;
	memcpy(*out, p, *len);
	return 0;
}

int jpki_agency_evidence(struct jpki_agency_evidence **out,
			 struct jpki_store *st, const char *receipt)
{
	struct jpki_value p = JPKI_V_TEXT(receipt ? receipt : "");
	struct jpki_rows *rows = NULL;
	struct jpki_agency_evidence *ev = NULL;
	int r;

	*out = NULL;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT s.at, e.status_time, s.name, "
				  "e.birth, e.sex, s.address, e.signed_data, "
				  "e.ocsp FROM agency_submission s JOIN "
				  "agency_evidence e ON e.submission = s.id "
				  "WHERE s.receipt = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no receipt evidence is kept for %s",
				 receipt ? receipt : "(none)");
		goto out;
	}
	r = JPKI_ERR_NOMEM;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		goto out;
	ev->received = (time_t)jpki_rows_int(rows, 0, 0);
	ev->status_time = (time_t)jpki_rows_int(rows, 0, 1);
	if ((ev->name = dup_text(jpki_rows_text(rows, 0, 2))) == NULL ||
	    (!jpki_rows_is_null(rows, 0, 3) &&
	     (ev->birth = dup_text(jpki_rows_text(rows, 0, 3))) == NULL) ||
	    (!jpki_rows_is_null(rows, 0, 4) &&
	     (ev->sex = dup_text(jpki_rows_text(rows, 0, 4))) == NULL) ||
	    (ev->address = dup_text(jpki_rows_text(rows, 0, 5))) == NULL ||
	    dup_blob(&ev->signed_data, &ev->signed_data_len, rows, 0, 6) != 0 ||
	    dup_blob(&ev->ocsp, &ev->ocsp_len, rows, 0, 7) != 0)
		goto out;
	*out = ev;
	ev = NULL;
	r = 0;
out:
	jpki_agency_evidence_free(ev);
	jpki_rows_free(rows);
	return r;
}
