/*
 * services: seal registration (印鑑登録) at the window. A resident's seal
 * (the impression's image, a PNG checked by seal_image.c) is registered
 * under a number of the municipality's own (登録番号), after the counter's
 * identity check; one seal is active per resident, and a cancelled one
 * (廃止) stays with its reason, so the kiosk can say why it refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "services/services_internal.h"

static const struct jpki_migration seal_steps[] = {
    {1, "CREATE TABLE services_seal ("
	" number TEXT PRIMARY KEY,"
	" seq BIGINT NOT NULL,"
	" person TEXT NOT NULL,"
	" municipality_code TEXT NOT NULL,"
	" state INTEGER NOT NULL,"
	" image BLOB NOT NULL,"
	" image_sha256 TEXT NOT NULL,"
	" width INTEGER NOT NULL,"
	" height INTEGER NOT NULL,"
	" registered_at BIGINT NOT NULL,"
	" registered_by TEXT NOT NULL,"
	" cancelled_at BIGINT,"
	" cancel_reason TEXT,"
	" cancelled_by TEXT);"
	/* one active seal per resident, whatever the code forgets */
	"CREATE UNIQUE INDEX services_seal_active ON services_seal (person)"
	" WHERE state = 1;"
	"CREATE UNIQUE INDEX services_seal_seq ON services_seal"
	" (municipality_code, seq)"},
    /* the documents the kiosk hands out, by the serial printed on them */
    {2, "CREATE TABLE services_document ("
	" serial TEXT PRIMARY KEY,"
	" kind INTEGER NOT NULL,"
	" person TEXT NOT NULL,"
	" municipality_code TEXT NOT NULL,"
	" holder TEXT NOT NULL,"
	" municipality TEXT NOT NULL,"
	" seal_number TEXT,"
	" login_serial TEXT,"
	" issued_at BIGINT NOT NULL)"},
};

int services_seal_migrate(struct jpki_store *st)
{
	return jpki_store_migrate(st, "services_seal", seal_steps,
				  sizeof(seal_steps) / sizeof(seal_steps[0]));
}

#define SEAL_COLUMNS                                                           \
	"number, person, municipality_code, state, width, height, "            \
	"image_sha256, registered_at, cancelled_at, cancel_reason"

static void seal_from_row(struct jpki_seal *s, const struct jpki_rows *rows,
			  size_t i)
{
	const char *t;

	memset(s, 0, sizeof(*s));
	snprintf(s->number, sizeof(s->number), "%s",
		 jpki_rows_text(rows, i, 0));
	snprintf(s->person, sizeof(s->person), "%s",
		 jpki_rows_text(rows, i, 1));
	snprintf(s->municipality_code, sizeof(s->municipality_code), "%s",
		 jpki_rows_text(rows, i, 2));
	s->state = (enum jpki_seal_state)jpki_rows_int(rows, i, 3);
	s->width = (unsigned)jpki_rows_int(rows, i, 4);
	s->height = (unsigned)jpki_rows_int(rows, i, 5);
	snprintf(s->image_sha256, sizeof(s->image_sha256), "%s",
		 jpki_rows_text(rows, i, 6));
	s->registered_at = (time_t)jpki_rows_int(rows, i, 7);
	if (!jpki_rows_is_null(rows, i, 8))
		s->cancelled_at = (time_t)jpki_rows_int(rows, i, 8);
	if ((t = jpki_rows_text(rows, i, 9)) != NULL)
		snprintf(s->cancel_reason, sizeof(s->cancel_reason), "%s", t);
}

/* Addresses as a person reads them: ASCII and ideographic spaces aside
 * (the window's rule for photo IDs). */
static int same_address(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t' ||
		       (a[0] == '\xE3' && a[1] == '\x80' && a[2] == '\x80'))
			a += *a == '\xE3' ? 3 : 1;
		while (*b == ' ' || *b == '\t' ||
		       (b[0] == '\xE3' && b[1] == '\x80' && b[2] == '\x80'))
			b += *b == '\xE3' ? 3 : 1;
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return 1;
		a++;
		b++;
	}
}

/* A refusal on the chain (its own transaction), the sentence kept. */
static int refused(struct jpki_store *st, const struct jpki_actor *by,
		   const char *action, const char *person, int r)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if (by != NULL && by->operator_id[0] != '\0' &&
	    jpki_audit_record(st, by, action, person, NULL) != 0)
		jpki_log(JPKI_LOG_ERROR, "seal: %s not recorded: %s", action,
			 jpki_err_detail());
	return jpki_err_set(r, "%s", why);
}

/* The resident behind a seal procedure, and a clerk who may act on them. */
static int seal_resident(struct jpki_resident *res, struct jpki_store *st,
			 const struct jpki_actor *by, const char *person,
			 const char *refused_action)
{
	int r;

	if (by == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no acting clerk");
	if (person == NULL || *person == '\0')
		return jpki_err_set(JPKI_ERR_INVALID, "no resident named");
	if ((r = jpki_registry_get(res, st, person)) != 0)
		return r == JPKI_ERR_NOT_FOUND
			   ? jpki_err_set(JPKI_ERR_NOT_FOUND,
					  "%s is not in the resident register",
					  person)
			   : r;
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      res->municipality_code)) != 0)
		return refused(st, by, refused_action, person, r);
	return 0;
}

static int active_seal(struct jpki_seal *out, struct jpki_store *st,
		       const char *person)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p[] = {JPKI_V_TEXT(person)};
	int r;

	if ((r = jpki_store_query(&rows, st,
				  "SELECT " SEAL_COLUMNS " FROM services_seal "
				  "WHERE person = $1 AND state = 1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 0)
		r = JPKI_ERR_NOT_FOUND;
	else
		seal_from_row(out, rows, 0);
	jpki_rows_free(rows);
	return r;
}

int jpki_services_seal_register(struct jpki_seal *out, struct jpki_store *st,
				const struct jpki_actor *by, const char *person,
				const char *photo_id_address,
				const unsigned char *png, size_t len)
{
	struct jpki_resident res;
	struct jpki_seal_image im;
	struct jpki_rows *rows = NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *hex = NULL, detail[256];
	int64_t seq;
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if ((r = seal_resident(&res, st, by, person,
			       "services.seal.register.refused")) != 0)
		return r;
	if (res.status != JPKI_RESIDENT_REGISTERED)
		return jpki_err_set(JPKI_ERR_STATE,
				    "%s is no longer in the resident register: "
				    "only its residents register a seal",
				    person);
	if (photo_id_address == NULL ||
	    !same_address(photo_id_address, res.facts.address)) {
		jpki_err_set(JPKI_ERR_POLICY,
			     "a seal is registered only after a photo ID "
			     "showing the registered address");
		return refused(st, by, "services.seal.register.refused", person,
			       JPKI_ERR_POLICY);
	}
	if ((r = jpki_services_seal_image_check(&im, png, len)) != 0)
		return r;
	if (!EVP_Digest(png, len, md, &mdlen, EVP_sha256(), NULL) ||
	    (hex = jpki_hex(md, mdlen)) == NULL)
		return jpki_err_set(JPKI_ERR_CRYPTO, "cannot hash the image");
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	if (active_seal(out, st, res.person) == 0) {
		jpki_store_rollback(st);
		r = jpki_err_set(JPKI_ERR_EXISTS,
				 "%s already has a registered seal (%s): "
				 "cancel it first",
				 res.person, out->number);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	{
		struct jpki_value p[] = {JPKI_V_TEXT(res.municipality_code)};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT COALESCE(MAX(seq), 0) + 1 FROM services_seal "
			 "WHERE municipality_code = $1",
			 p, 1)) != 0)
			goto fail;
		seq = jpki_rows_int(rows, 0, 0);
		jpki_rows_free(rows);
		rows = NULL;
	}
	snprintf(out->number, sizeof(out->number), "%s-%06lld",
		 res.municipality_code, (long long)seq);
	snprintf(out->person, sizeof(out->person), "%s", res.person);
	snprintf(out->municipality_code, sizeof(out->municipality_code), "%s",
		 res.municipality_code);
	snprintf(out->image_sha256, sizeof(out->image_sha256), "%s", hex);
	out->state = JPKI_SEAL_ACTIVE;
	out->width = im.width;
	out->height = im.height;
	out->registered_at = jpki_clock_now();
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(out->number),
		    JPKI_V_INT(seq),
		    JPKI_V_TEXT(out->person),
		    JPKI_V_TEXT(out->municipality_code),
		    JPKI_V_BLOB(png, len),
		    JPKI_V_TEXT(out->image_sha256),
		    JPKI_V_INT(im.width),
		    JPKI_V_INT(im.height),
		    JPKI_V_INT((int64_t)out->registered_at),
		    JPKI_V_TEXT(by->operator_id),
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO services_seal (number, seq, person, "
			 "municipality_code, state, image, image_sha256, "
			 "width, height, registered_at, registered_by) VALUES "
			 "($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10)",
			 p, sizeof(p) / sizeof(p[0]), NULL)) != 0)
			goto fail;
	}
	snprintf(detail, sizeof(detail),
		 "{\"number\":\"%s\",\"image_sha256\":\"%s\"}", out->number,
		 out->image_sha256);
	if ((r = jpki_audit_append(st, by, "services.seal.register",
				   out->person, detail)) != 0)
		goto fail;
	r = jpki_store_commit(st);
	goto out;
fail:
	jpki_store_rollback(st);
out:
	if (r != 0 && r != JPKI_ERR_EXISTS)
		memset(out, 0, sizeof(*out));
	free(hex);
	return r;
}

int jpki_services_seal_cancel(struct jpki_seal *out, struct jpki_store *st,
			      const struct jpki_actor *by, const char *person,
			      const char *reason)
{
	struct jpki_resident res;
	char detail[400];
	int64_t changes = 0;
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > 255)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a cancellation needs its reason (1-255 "
				    "characters)");
	for (const char *c = reason; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\')
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the reason may not hold control "
					    "characters, quotes or "
					    "backslashes");
	/* a resident who died or left is cancelled too: no status check */
	if ((r = seal_resident(&res, st, by, person,
			       "services.seal.cancel.refused")) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = active_seal(out, st, res.person)) != 0) {
		jpki_store_rollback(st);
		if (r == JPKI_ERR_NOT_FOUND)
			r = jpki_err_set(JPKI_ERR_NOT_FOUND,
					 "%s has no registered seal",
					 res.person);
		memset(out, 0, sizeof(*out));
		return r;
	}
	out->state = JPKI_SEAL_CANCELLED;
	out->cancelled_at = jpki_clock_now();
	snprintf(out->cancel_reason, sizeof(out->cancel_reason), "%s", reason);
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(out->number),
		    JPKI_V_INT((int64_t)out->cancelled_at),
		    JPKI_V_TEXT(reason),
		    JPKI_V_TEXT(by->operator_id),
		};

		if ((r = jpki_store_exec(
			 st,
			 "UPDATE services_seal SET state = 2, cancelled_at = "
			 "$2, cancel_reason = $3, cancelled_by = $4 WHERE "
			 "number = $1 AND state = 1",
			 p, 4, &changes)) != 0)
			goto fail;
	}
	if (changes != 1) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "the seal did not change");
		goto fail;
	}
	snprintf(detail, sizeof(detail),
		 "{\"number\":\"%s\",\"reason\":\"%s\"}", out->number, reason);
	if ((r = jpki_audit_append(st, by, "services.seal.cancel", out->person,
				   detail)) != 0)
		goto fail;
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	memset(out, 0, sizeof(*out));
	return r;
}

int jpki_services_seal_get(struct jpki_seal *out, unsigned char **image,
			   size_t *image_len, struct jpki_store *st,
			   const char *person)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p[] = {JPKI_V_TEXT(person != NULL ? person : "")};
	const unsigned char *blob;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (image != NULL) {
		*image = NULL;
		*image_len = 0;
	}
	/* the active one first, else the last cancelled */
	if ((r = jpki_store_query(
		 &rows, st,
		 "SELECT " SEAL_COLUMNS ", image FROM services_seal WHERE "
		 "person = $1 ORDER BY state ASC, registered_at DESC, seq DESC",
		 p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND, "no seal is registered");
		goto out;
	}
	seal_from_row(out, rows, 0);
	if (image != NULL && (blob = jpki_rows_blob(rows, 0, 10, &n)) != NULL) {
		if ((*image = malloc(n)) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		memcpy(*image, blob, n);
		*image_len = n;
	}
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}

int jpki_services_seals(struct jpki_seal **out, size_t *n,
			struct jpki_store *st, const struct jpki_actor *by,
			size_t limit)
{
	struct jpki_rows *rows = NULL;
	char detail[64];
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_audit_authorize_read(
		 by, JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK), NULL)) != 0)
		return refused(st, by, "services.seal.list.refused", "", r);
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(by->municipality_code),
		    JPKI_V_INT(limit ? (int64_t)limit : 100)};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT " SEAL_COLUMNS " FROM services_seal WHERE "
			 "municipality_code = $1 ORDER BY seq DESC LIMIT $2",
			 p, 2)) != 0)
			return r;
	}
	if (jpki_rows_count(rows) > 0 &&
	    (*out = calloc(jpki_rows_count(rows), sizeof(**out))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < jpki_rows_count(rows); i++)
		seal_from_row(&(*out)[i], rows, i);
	*n = jpki_rows_count(rows);
	jpki_rows_free(rows);
	snprintf(detail, sizeof(detail), "{\"count\":%zu}", *n);
	if ((r = jpki_audit_record(st, by, "services.seal.list",
				   by->municipality_code, detail)) != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}
