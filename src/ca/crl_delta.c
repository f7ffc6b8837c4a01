/*
 * Delta CRLs (RFC 5280 5.2.4), with crl_delta on. Each scope (a CA's full
 * CRL, a municipality's partition) keeps its full CRL for a period, and a
 * delta CRL against it lists every certificate whose status changed since:
 * revoked or held (with its reason), or released from hold (removeFromCRL,
 * as 5.3.1 allows only in a delta). The delta carries a critical
 * DeltaCRLIndicator naming the full CRL's number (the base), the same
 * issuingDistributionPoint as its full CRL, and the next number of the
 * scope's one sequence (5.2.3): full and delta CRLs never share a number.
 * The full CRL names the delta's URL in a FreshestCRL extension (5.2.6),
 * which is what OpenSSL's -use_deltas looks for (a certificate's own
 * FreshestCRL would do too; the end-entity profile is left as it is).
 *
 * A change marks its scopes' deltas due in its own transaction (one
 * UPDATE); jpki serve issues the due ones every tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"

/* A delta holds at most this long (or crl_period, if shorter); it is
 * issued again after half of it even without a change. */
#define DELTA_PERIOD 3600
/*
 * A delta lists the changes from this many seconds before its base's
 * thisUpdate: a change whose transaction took its time before the full
 * CRL was made but committed after the full CRL read the table is in no
 * full CRL. Listing again a change the base already has is harmless: the
 * delta states the certificate's current status.
 */
#define DELTA_MARGIN 300

/* RFC 5280 5.3.1 */
#define REASON_REMOVE_FROM_CRL 8

char *ca_crl_delta_url(const struct jpki_ca *ca, enum jpki_cert_type type,
		       int gen, const char *municipality)
{
	char scope[32], *url = NULL;

	ca_crl_scope_name(scope, type, gen, municipality);
	return asprintf(&url, "%s/crl/%s.delta.crl", ca->public_url, scope) < 0
		   ? NULL
		   : url;
}

int ca_crl_delta_due(struct jpki_ca *ca, const char *scope)
{
	struct jpki_value p = JPKI_V_TEXT(scope);

	/* A count, not a flag: the issuer takes off what it saw, so a change
	 * that comes while a delta is being made is not forgotten. A scope
	 * without a delta yet gets its first one anyway. */
	return jpki_store_exec(ca->store,
			       "UPDATE ca_crl_delta SET due = due + 1"
			       " WHERE scope = $1",
			       &p, 1, NULL);
}

int ca_crl_delta_number(int64_t *out, struct jpki_ca *ca, const char *scope)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(scope);
	int r;

	*out = 0;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT number FROM ca_crl_delta"
				  " WHERE scope = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1)
		*out = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}

int ca_crl_add_freshest(X509_CRL *crl, const char *delta_url)
{
	CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	int ok = 0;

	if (dps == NULL || dp == NULL || gn == NULL || uri == NULL ||
	    !ASN1_STRING_set(uri, delta_url, (int)strlen(delta_url)))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if ((dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL)
		goto out;
	dp->distpoint->type = 0;
	if (!sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	if (!sk_DIST_POINT_push(dps, dp))
		goto out;
	dp = NULL;
	/* RFC 5280 5.2.6: non-critical */
	ok = X509_CRL_add1_ext_i2d(crl, NID_freshest_crl, dps, 0,
				   X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return ok;
}

/* One entry: the serial, when, and the reason (-1: none, unspecified). */
static int add_entry(X509_CRL *crl, const char *serial, int64_t when,
		     int reason)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *sn = ca_serial_from_hex(serial);
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)when);
	ASN1_ENUMERATED *code = NULL;
	int ok = 0;

	if (rev == NULL || sn == NULL || t == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, sn) ||
	    !X509_REVOKED_set_revocationDate(rev, t))
		goto out;
	if (reason >= 0 &&
	    ((code = ASN1_ENUMERATED_new()) == NULL ||
	     !ASN1_ENUMERATED_set(code, reason) ||
	     !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0,
					X509V3_ADD_DEFAULT)))
		goto out;
	if (!X509_CRL_add0_revoked(crl, rev))
		goto out;
	rev = NULL;
	ok = 1;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(code);
	return ok;
}

/* The certificates of the scope whose status changed from `since`, not
 * expired: (serial, status, reason, revoked_at, changed_at). A delta is
 * small: its rows are kept, and read from the changed-certificate index. */
static int read_changes(struct jpki_rows **out, struct jpki_ca *ca,
			enum jpki_cert_type type, int gen,
			const char *municipality, int64_t since, time_t now)
{
	struct jpki_value p[] = {JPKI_V_INT(type), JPKI_V_INT(gen),
				 JPKI_V_INT(since), JPKI_V_INT(now),
				 JPKI_V_TEXT(municipality ? municipality : "")};

	if (municipality == NULL)
		return jpki_store_query(out, ca->store,
					"SELECT serial, status, reason,"
					" revoked_at, changed_at FROM ca_cert"
					" WHERE type = $1 AND generation = $2"
					" AND changed_at >= $3"
					" AND not_after > $4 ORDER BY serial",
					p, 4);
	return jpki_store_query(out, ca->store,
				"SELECT serial, status, reason, revoked_at,"
				" changed_at FROM ca_cert"
				" WHERE type = $1 AND generation = $2"
				" AND changed_at >= $3 AND not_after > $4"
				" AND municipality = $5 ORDER BY serial",
				p, 5);
}

/*
 * Issues the delta CRL of one scope inside the caller's transaction, against
 * the scope's current full CRL; `seen` is the count of changes it answers
 * (taken off `due`). JPKI_ERR_NOT_FOUND when the scope has no full CRL.
 */
static int delta_generate(struct jpki_ca *ca, enum jpki_cert_type type, int gen,
			  const char *municipality, int64_t seen)
{
	struct authority *a = ca_authority_gen(ca, type, gen);
	struct jpki_rows *base = NULL, *changes = NULL;
	time_t now = jpki_clock_now();
	long period =
	    ca->crl_period < DELTA_PERIOD ? ca->crl_period : DELTA_PERIOD;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	char scope[32];
	int64_t base_num, prev = 0, num;
	int len, r = JPKI_ERR_INTERNAL;

	ca_crl_scope_name(scope, type, gen, municipality);
	if (a == NULL)
		return jpki_err_set(JPKI_ERR_STATE,
				    "no delta CRL for %s: generation %d of the "
				    "%s CA is retired or unknown",
				    scope, gen, ca_type_name(type));
	{
		struct jpki_value p = JPKI_V_TEXT(scope);

		if ((r = jpki_store_query(&base, ca->store,
					  "SELECT number, this_update"
					  " FROM ca_crl WHERE scope = $1",
					  &p, 1)) != 0)
			goto out;
	}
	if (jpki_rows_count(base) != 1) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no delta CRL for %s: it has no full CRL to "
				 "be the base",
				 scope);
		goto out;
	}
	base_num = jpki_rows_int(base, 0, 0);
	if ((r = ca_crl_delta_number(&prev, ca, scope)) != 0 ||
	    (r = read_changes(&changes, ca, type, gen, municipality,
			      jpki_rows_int(base, 0, 1) - DELTA_MARGIN, now)) !=
		0)
		goto out;
	num = (prev > base_num ? prev : base_num) + 1;
	if ((r = ca_crl_head(&crl, ca, a, type, gen, municipality, now,
			     now + period, num, base_num)) != 0) {
		if (r == JPKI_ERR_CRYPTO)
			goto crypto;
		goto out;
	}
	r = JPKI_ERR_CRYPTO;
	for (size_t i = 0; i < jpki_rows_count(changes); i++) {
		int status = (int)jpki_rows_int(changes, i, 1);
		int reason = (int)jpki_rows_int(changes, i, 2);
		int ok;

		if (status == JPKI_STATUS_GOOD)
			/* released from hold since the base listed it */
			ok = add_entry(crl, jpki_rows_text(changes, i, 0),
				       jpki_rows_int(changes, i, 4),
				       REASON_REMOVE_FROM_CRL);
		else
			/* RFC 5280 5.3.1: the unspecified reason is left
			 * out, as in the full CRL */
			ok = add_entry(
			    crl, jpki_rows_text(changes, i, 0),
			    jpki_rows_int(changes, i, 3),
			    reason == JPKI_REASON_UNSPECIFIED ? -1 : reason);
		if (!ok)
			goto crypto;
	}
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, a->key, EVP_sha256()) ||
	    (len = i2d_X509_CRL(crl, &der)) <= 0)
		goto crypto;
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(scope),
		    JPKI_V_INT(num),
		    JPKI_V_INT(base_num),
		    JPKI_V_INT(now),
		    JPKI_V_INT(now + period),
		    JPKI_V_BLOB(der, (size_t)len),
		    JPKI_V_INT((int64_t)jpki_rows_count(changes)),
		    JPKI_V_INT(seen),
		};

		r = jpki_store_exec(
		    ca->store,
		    prev > 0 ? "UPDATE ca_crl_delta SET number = $2,"
			       " base = $3, this_update = $4,"
			       " next_update = $5, der = $6, entries = $7,"
			       " due = CASE WHEN due > $8 THEN due - $8"
			       " ELSE 0 END WHERE scope = $1"
			     : "INSERT INTO ca_crl_delta (scope, number,"
			       " base, this_update, next_update, der,"
			       " entries, due) VALUES ($1, $2, $3, $4, $5,"
			       " $6, $7, 0)",
		    p, prev > 0 ? 8 : 7, NULL);
	}
	goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the delta CRL of %s",
			 scope);
out:
	ERR_clear_error();
	jpki_rows_free(base);
	jpki_rows_free(changes);
	X509_CRL_free(crl);
	OPENSSL_free(der);
	return r;
}

int jpki_ca_crl_delta_refresh(struct jpki_ca *ca, size_t *count)
{
	struct jpki_rows *rows = NULL;
	time_t now = jpki_clock_now();
	long period =
	    ca->crl_period < DELTA_PERIOD ? ca->crl_period : DELTA_PERIOD;
	int r;

	*count = 0;
	if (!ca->crl_delta)
		return 0;
	{
		/* Idle, this is one read of the scopes (about 1 700). */
		struct jpki_value p[] = {JPKI_V_INT(now),
					 JPKI_V_INT(period / 2)};

		if ((r = jpki_store_query(
			 &rows, ca->store,
			 "SELECT c.scope, d.due FROM ca_crl c"
			 " LEFT JOIN ca_crl_delta d ON d.scope = c.scope"
			 " WHERE d.scope IS NULL OR d.due > 0"
			 " OR d.base <> c.number"
			 " OR d.next_update - $1 < $2"
			 " ORDER BY c.scope",
			 p, 2)) != 0)
			return r;
	}
	for (size_t i = 0; i < jpki_rows_count(rows) && r == 0; i++) {
		const char *scope = jpki_rows_text(rows, i, 0);
		enum jpki_cert_type type = JPKI_CERT_SIGN;
		char muni[7];
		int gen;

		if (ca_crl_scope_parse(&type, &gen, muni, scope) != 0 ||
		    ca_authority_gen(ca, type, gen) == NULL)
			continue; /* not one of ours to sign, or retired */
		if ((r = jpki_store_begin(ca->store)) != 0)
			break;
		if ((r = delta_generate(ca, type, gen, muni[0] ? muni : NULL,
					jpki_rows_is_null(rows, i, 1)
					    ? 0
					    : jpki_rows_int(rows, i, 1))) !=
		    0) {
			jpki_store_rollback(ca->store);
			break;
		}
		if ((r = jpki_store_commit(ca->store)) == 0)
			(*count)++;
	}
	jpki_rows_free(rows);
	return r;
}

int jpki_ca_crl_delta_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
			  const char *scope)
{
	return ca_crl_der_get(der, len, ca, scope, 1);
}
