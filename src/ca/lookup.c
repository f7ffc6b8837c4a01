/*
 * The linking look-up a registered verifier makes (証明書新旧紐付け情報):
 * from a serial it received to the person's current certificate of the
 * same type, or "none", as a JSON body inside CMS SignedData signed by the
 * CA's OCSP signer, so the verifier can keep it as evidence and anyone can
 * check it with the CA certificate (`openssl cms -verify`).
 *
 * The body, one object:
 *   {"version":1, "type":"sign", "issuer_key_id":HEX, "serial":ASKED,
 *    "result":"current"|"none",
 *    "current":{"serial","status","not_before","not_after"} or null,
 *    "last":{"serial","status","reason","revoked_at"},
 *    "links":[{"from","to","kind","reason","at"}...],
 *    "produced_at":TIME}
 * Times are UTC, "YYYY-MM-DDTHH:MM:SSZ". "links" runs from the serial
 * asked to the last certificate, each link's reason being why `from` ended.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "ca/ca_internal.h"

/* The longest chain followed: renewals every five years for centuries. */
#define LOOKUP_MAX_LINKS 64

static json_t *utc(time_t t)
{
	char buf[32];
	struct tm tm;

	if (t <= 0 || gmtime_r(&t, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/*
 * Every read of the look-up goes to the CA's read store (replica.c): with
 * a replica, each statement also reads this process's heartbeat row, and
 * data past the bound is refused (JPKI_ERR_STATE, 503 at the door) rather
 * than answered: a link made or a certificate revoked on the primary
 * since would be missing. Each statement checks its own row, since two
 * statements may reach two standbys (a thread's read connection beside
 * the main one). `sql` is the primary's statement; `sql_replica` the same
 * with the heartbeat row joined and its mark in column `mark_col`, the
 * row's id bound after the n parameters (p has room for it).
 */
static int read_rows(struct jpki_rows **out, struct jpki_ca *ca,
		     const char *sql, const char *sql_replica, size_t mark_col,
		     struct jpki_value *p, size_t n)
{
	struct jpki_rows *rows = NULL;
	int r;

	*out = NULL;
	if (ca->read == NULL)
		return jpki_store_query(out, ca->store, sql, p, n);
	p[n] = (struct jpki_value)JPKI_V_TEXT(ca->read_mark);
	if ((r = jpki_store_query(&rows, ca->read, sql_replica, p, n + 1)) !=
	    0)
		return r;
	if (jpki_rows_count(rows) == 0)
		r = ca_read_stale(ca, NULL);
	else {
		int64_t mark = jpki_rows_int(rows, 0, mark_col);

		r = ca_read_stale(ca, &mark);
	}
	if (r != 0) {
		jpki_rows_free(rows);
		return r;
	}
	*out = rows;
	return 0;
}

/* One certificate's record, as jpki_ca_status reads it from the primary. */
static int read_cert(struct jpki_cert_info **out, struct jpki_ca *ca,
		     const char *serial)
{
	struct jpki_value p[2];
	struct jpki_rows *rows = NULL;
	char canon[41];
	int r;

	*out = NULL;
	if ((r = ca_serial_check(serial)) != 0)
		return r;
	ca_serial_canon(canon, serial);
	p[0] = (struct jpki_value)JPKI_V_TEXT(canon);
	if ((r = read_rows(&rows, ca,
			   "SELECT " CERT_COLUMNS " FROM ca_cert"
			   " WHERE serial = $1",
			   "SELECT " CERT_COLUMNS ", h.mark"
			   " FROM jpki_heartbeat h LEFT JOIN ca_cert"
			   " ON serial = $1 WHERE h.id = $2",
			   CERT_COLUMN_GENERATION + 1, p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1 || jpki_rows_is_null(rows, 0, 0))
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no certificate with serial %s", canon);
	else
		r = ca_info_from_row(out, rows, 0);
	jpki_rows_free(rows);
	return r;
}

/* The renewal or reissue link out of `serial`, the newest if several;
 * *found 0 for none. */
static int next_link(struct jpki_link *out, int *found, struct jpki_ca *ca,
		     const char *serial)
{
	struct jpki_value p[3] = {JPKI_V_TEXT(serial),
				  JPKI_V_INT(JPKI_LINK_PAIR)};
	struct jpki_rows *rows = NULL;
	int r;

	*found = 0;
	/* the last of the primary's ORDER BY at, kind (jpki_ca_links) */
	if ((r = read_rows(&rows, ca,
			   "SELECT kind, from_serial, to_serial, at"
			   " FROM ca_link WHERE from_serial = $1"
			   " AND kind <> $2 ORDER BY at DESC, kind DESC"
			   " LIMIT 1",
			   "SELECT l.kind, l.from_serial, l.to_serial, l.at,"
			   " h.mark FROM jpki_heartbeat h LEFT JOIN ca_link l"
			   " ON l.from_serial = $1 AND l.kind <> $2"
			   " WHERE h.id = $3"
			   " ORDER BY l.at DESC, l.kind DESC LIMIT 1",
			   4, p, 2)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1 && !jpki_rows_is_null(rows, 0, 0)) {
		out->kind = (enum jpki_link_kind)jpki_rows_int(rows, 0, 0);
		ca_copy_text(out->from, sizeof(out->from),
			     jpki_rows_text(rows, 0, 1));
		ca_copy_text(out->to, sizeof(out->to),
			     jpki_rows_text(rows, 0, 2));
		out->at = (time_t)jpki_rows_int(rows, 0, 3);
		*found = 1;
	}
	jpki_rows_free(rows);
	return 0;
}

/* The JSON body of the answer; caller frees *out with free(). */
static int answer_body(char **out, struct jpki_ca *ca,
		       enum jpki_cert_type type, const char *serial)
{
	struct jpki_cert_info *cur = NULL, *next = NULL;
	json_t *body = NULL, *links = NULL, *current = NULL;
	const ASN1_OCTET_STRING *ski;
	char *keyid = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if ((r = read_cert(&cur, ca, serial)) != 0)
		goto out;
	if (cur->type != type) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no %s certificate has serial %s",
				 ca_type_name(type), cur->serial);
		goto out;
	}
	ski = X509_get0_subject_key_id(ca_authority(ca, type)->cert);
	if (ski != NULL)
		keyid = jpki_hex(ASN1_STRING_get0_data(ski),
				 (size_t)ASN1_STRING_length(ski));
	if ((links = json_array()) == NULL ||
	    (body = json_pack("{s:i,s:s,s:s,s:s}", "version", 1, "type",
			      ca_type_name(type), "issuer_key_id",
			      keyid ? keyid : "", "serial", cur->serial)) ==
		NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (int steps = 0;; steps++) {
		struct jpki_link l;
		int found;

		if ((r = next_link(&l, &found, ca, cur->serial)) != 0)
			goto out;
		if (!found)
			break;
		if (steps == LOOKUP_MAX_LINKS) {
			r = jpki_err_set(JPKI_ERR_INTERNAL,
					 "the links from %s run past %d "
					 "certificates",
					 serial, LOOKUP_MAX_LINKS);
			goto out;
		}
		if ((r = read_cert(&next, ca, l.to)) != 0)
			goto out;
		if (json_array_append_new(
			links,
			json_pack("{s:s,s:s,s:s,s:s?,s:o}", "from", l.from, "to",
				  l.to, "kind", jpki_ca_link_kind_name(l.kind),
				  "reason",
				  cur->status != JPKI_STATUS_GOOD
				      ? jpki_ca_reason_name(cur->reason)
				      : NULL,
				  "at", utc(l.at))) != 0) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		jpki_cert_info_free(cur);
		cur = next;
		next = NULL;
	}
	if (cur->status == JPKI_STATUS_REVOKED)
		current = json_null();
	else
		current = json_pack("{s:s,s:s,s:o,s:o}", "serial", cur->serial,
				    "status", jpki_ca_status_name(cur->status),
				    "not_before", utc(cur->not_before),
				    "not_after", utc(cur->not_after));
	if (current == NULL ||
	    json_object_set_new(body, "result",
				json_string(cur->status == JPKI_STATUS_REVOKED
						? "none"
						: "current")) != 0 ||
	    json_object_set_new(body, "current", current) != 0 ||
	    json_object_set_new(
		body, "last",
		json_pack("{s:s,s:s,s:s?,s:o}", "serial", cur->serial,
			  "status", jpki_ca_status_name(cur->status), "reason",
			  cur->status != JPKI_STATUS_GOOD
			      ? jpki_ca_reason_name(cur->reason)
			      : NULL,
			  "revoked_at",
			  cur->status != JPKI_STATUS_GOOD ? utc(cur->revoked_at)
							  : json_null())) !=
		0 ||
	    json_object_set(body, "links", links) != 0 ||
	    json_object_set_new(body, "produced_at", utc(jpki_clock_now())) !=
		0 ||
	    (*out = json_dumps(body, JSON_COMPACT)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	jpki_cert_info_free(cur);
	jpki_cert_info_free(next);
	json_decref(links);
	json_decref(body);
	free(keyid);
	return r;
}

int jpki_ca_link_answer(unsigned char **out, size_t *len, struct jpki_ca *ca,
			enum jpki_cert_type type, const char *serial)
{
	struct authority *a;
	char *body = NULL;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	int n, r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	if (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID, "no such CA");
	a = ca_authority(ca, type);
	if ((r = answer_body(&body, ca, type, serial)) != 0)
		goto out;
	if ((in = BIO_new_mem_buf(body, (int)strlen(body))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	/* binary: the JSON's bytes are signed as they are, no MIME
	 * canonicalisation; the signer's certificate goes inside */
	if ((cms = CMS_sign(a->ocsp_cert, a->ocsp_key, NULL, in, CMS_BINARY)) ==
		NULL ||
	    (n = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		ERR_clear_error();
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "the linking answer cannot be signed");
		goto out;
	}
	if ((*out = malloc((size_t)n)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	memcpy(*out, der, (size_t)n);
	*len = (size_t)n;
	r = 0;
out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	free(body);
	return r;
}
