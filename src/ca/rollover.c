/*
 * CA key rollover (SPEC 5; RFC 4210 5.3.13, root CA key update): a new
 * generation of a CA under the same DN with its own key, OCSP signer and
 * CRLs; the two link certificates between it and the previous generation;
 * the retirement of a generation whose certificates have all expired; and
 * what the repository publishes of every generation.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"
#include "jpki/audit.h"

static time_t cert_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/*
 * A link certificate: `subject_ca`'s certificate (name, key, subject key
 * identifier, CA extensions) as issued by `issuer_ca`'s key, with an
 * authority key identifier naming that key, so that a chain builder picks
 * the signer by key identifier where the names are all the same. Valid from
 * now until the earlier of the two CA certificates ends: neither key vouches
 * for anything beyond its own certificate.
 */
static int link_cert(X509 **out, X509 *subject_ca, X509 *issuer_ca,
		     EVP_PKEY *issuer_key, time_t now)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer_ca);
	time_t a = cert_time(X509_get0_notAfter(subject_ca));
	time_t b = cert_time(X509_get0_notAfter(issuer_ca));
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	ASN1_INTEGER *aserial = ASN1_INTEGER_new();
	ASN1_TIME *t = NULL;
	unsigned char serial[16];
	X509 *c = X509_dup(subject_ca);
	int at, r = JPKI_ERR_CRYPTO;

	*out = NULL;
	if (c == NULL || akid == NULL || aserial == NULL || skid == NULL)
		goto out;
	while ((at = X509_get_ext_by_NID(c, NID_authority_key_identifier,
					 -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(c, at));
	if ((akid->keyid = ASN1_OCTET_STRING_dup(skid)) == NULL ||
	    !X509_add1_ext_i2d(c, NID_authority_key_identifier, akid, 0,
			       X509V3_ADD_DEFAULT) ||
	    !X509_set_issuer_name(c, X509_get_subject_name(issuer_ca)))
		goto out;
	if ((r = ca_random_serial(serial)) != 0)
		goto out;
	r = JPKI_ERR_CRYPTO;
	if (!ASN1_STRING_set(aserial, serial, sizeof(serial)) ||
	    !X509_set_serialNumber(c, aserial) ||
	    (t = ASN1_TIME_set(NULL, now)) == NULL ||
	    !X509_set1_notBefore(c, t) ||
	    ASN1_TIME_set(t, a < b ? a : b) == NULL ||
	    !X509_set1_notAfter(c, t) ||
	    !X509_sign(c, issuer_key, EVP_sha256()))
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	if (r == JPKI_ERR_CRYPTO)
		jpki_err_set(r, "cannot make the link certificate");
	ERR_clear_error();
	X509_free(c);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(aserial);
	ASN1_TIME_free(t);
	return r;
}

/* The directory of the current key files, for a rollover given none. */
static int key_dir_of(char **out, struct jpki_ca *ca, enum jpki_cert_type type)
{
	struct jpki_value p = JPKI_V_INT(type);
	struct jpki_rows *rows = NULL;
	const char *ref, *slash;
	int r;

	*out = NULL;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT key_ref FROM ca_authority"
				  " WHERE type = $1",
				  &p, 1)) != 0)
		return r;
	ref = jpki_rows_count(rows) == 1 ? jpki_rows_text(rows, 0, 0) : NULL;
	if (ref == NULL || strncmp(ref, "pkcs11:", 7) == 0 ||
	    (slash = strrchr(ref, '/')) == NULL) {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the CA keys are not files: give the "
				    "directory for the new CA certificate");
	}
	*out = strndup(ref, (size_t)(slash - ref));
	jpki_rows_free(rows);
	return *out == NULL ? JPKI_ERR_NOMEM : 0;
}

/* Whole years from a certificate's start to its end, at least one. */
static int cert_years(X509 *cert)
{
	struct tm a, b;
	int years;

	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &a) != 1 ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &b) != 1)
		return 1;
	years = b.tm_year - a.tm_year;
	return years < 1 ? 1 : years;
}

/* The new generation's key, certificate, OCSP signer and their CertIDs,
 * made outside the store's transaction. */
static int make_generation(struct authority *next, char **key_ref,
			   char **okey_ref, struct jpki_ca *ca,
			   const struct authority *cur, const char *dir,
			   const struct jpki_ca_rollover_options *opts,
			   time_t now)
{
	const char *name = ca_type_name(cur->type);
	struct jpki_date today = jpki_date_today(), end;
	ASN1_INTEGER *aserial = NULL;
	unsigned char serial[16];
	char label[32];
	int r;

	next->type = cur->type;
	next->generation = cur->generation + 1;
	snprintf(label, sizeof(label), "%s-ca-%d", name, next->generation);
	if ((r = ca_make_key(&next->key, key_ref, ca->p11, dir, label)) != 0)
		return r;
	snprintf(label, sizeof(label), "%s-ocsp-%d", name, next->generation);
	if ((r = ca_make_key(&next->ocsp_key, okey_ref, ca->p11, dir,
			     label)) != 0)
		return r;
	/* The same profile as the first generation's: the one builder. */
	end = jpki_date_add_years(&today, opts->ca_years > 0
						  ? opts->ca_years
						  : cert_years(cur->cert));
	if ((r = ca_random_serial(serial)) != 0 ||
	    (r = jpki_profile_build_ca(&next->cert, cur->type, next->key,
				       serial, sizeof(serial), now,
				       jpki_date_end(&end))) != 0 ||
	    (r = jpki_profile_build_ocsp_signer(
		     &next->ocsp_cert, next->cert, next->ocsp_key, now,
		     now + 86400L * (opts->ocsp_days > 0 ? opts->ocsp_days
							 : 400))) != 0 ||
	    (r = ca_random_serial(serial)) != 0)
		return r;
	r = JPKI_ERR_CRYPTO;
	if ((aserial = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_STRING_set(aserial, serial, sizeof(serial)) ||
	    !X509_set_serialNumber(next->ocsp_cert, aserial) ||
	    !X509_sign(next->ocsp_cert, next->key, EVP_sha256())) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot sign the OCSP signer certificate");
		goto out;
	}
	for (int i = 0; i < CA_CERTID_HASHES; i++)
		if ((next->ids[i] = OCSP_cert_to_id(ca_certid_md(i), NULL,
						    next->cert)) == NULL) {
			r = jpki_err_set(JPKI_ERR_CRYPTO,
					 "cannot make the new CA's CertID");
			goto out;
		}
	r = 0;
out:
	ERR_clear_error();
	ASN1_INTEGER_free(aserial);
	return r;
}

/* Lower-case hex of a key identifier, for the audit entry. */
static void hex_of(char *out, size_t size, const ASN1_OCTET_STRING *s)
{
	const unsigned char *p = s ? ASN1_STRING_get0_data(s) : NULL;
	int n = s ? ASN1_STRING_length(s) : 0;

	out[0] = '\0';
	for (int i = 0; p != NULL && i < n && (size_t)(2 * i + 2) < size; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Refuses when the store's current generation is not the one `cur` holds:
 * another process rolled the CA over since this one opened it. */
static int still_current(struct jpki_ca *ca, const struct authority *cur)
{
	struct jpki_value p = JPKI_V_INT(cur->type);
	struct jpki_rows *rows = NULL;
	int r, same;

	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT generation FROM ca_authority"
				  " WHERE type = $1",
				  &p, 1)) != 0)
		return r;
	same = jpki_rows_count(rows) == 1 &&
	       jpki_rows_int(rows, 0, 0) == cur->generation;
	jpki_rows_free(rows);
	if (!same)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the %s CA was rolled over by another "
				    "process since this one opened it: open "
				    "it again",
				    ca_type_name(cur->type));
	return 0;
}

int ca_generations_current(struct jpki_ca *ca)
{
	struct jpki_rows *rows = NULL;
	int r;

	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT type, generation FROM ca_authority",
				  NULL, 0)) != 0)
		return r;
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		enum jpki_cert_type t =
			(enum jpki_cert_type)jpki_rows_int(rows, i, 0);
		int64_t gen = jpki_rows_int(rows, i, 1);

		if ((t == JPKI_CERT_SIGN || t == JPKI_CERT_AUTH) &&
		    gen != ca_authority(ca, t)->generation) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "the %s CA rolled over to generation "
					 "%lld after this process opened it: "
					 "restart it, so that it issues under "
					 "the new generation",
					 ca_type_name(t), (long long)gen);
			break;
		}
	}
	jpki_rows_free(rows);
	return r;
}

/* Records the new generation, inside the caller's transaction. */
static int record_generation(struct jpki_ca *ca, const struct authority *cur,
			     const struct authority *next, const char *key_ref,
			     const char *okey_ref, X509 *old_with_new,
			     X509 *new_with_old, const struct jpki_actor *by,
			     time_t now)
{
	unsigned char *der = NULL, *oder = NULL, *l1 = NULL, *l2 = NULL;
	size_t der_len, oder_len, l1_len, l2_len;
	char ski[2 * 64 + 1], detail[256];
	int r;

	if ((r = ca_der(&der, &der_len, next->cert)) != 0 ||
	    (r = ca_der(&oder, &oder_len, next->ocsp_cert)) != 0 ||
	    (r = ca_der(&l1, &l1_len, old_with_new)) != 0 ||
	    (r = ca_der(&l2, &l2_len, new_with_old)) != 0 ||
	    (r = still_current(ca, cur)) != 0)
		goto out;
	{
		struct jpki_value p = JPKI_V_INT(cur->type);

		if ((r = jpki_store_exec(
			     ca->store,
			     "INSERT INTO ca_generation (type, generation,"
			     " cert, key_ref, ocsp_cert, ocsp_key_ref,"
			     " pkcs11_module, created_at)"
			     " SELECT type, generation, cert, key_ref,"
			     " ocsp_cert, ocsp_key_ref, pkcs11_module,"
			     " created_at FROM ca_authority WHERE type = $1",
			     &p, 1, NULL)) != 0)
			goto out;
	}
	{
		struct jpki_value p[] = {
			JPKI_V_INT(cur->type),  JPKI_V_INT(next->generation),
			JPKI_V_BLOB(der, der_len), JPKI_V_TEXT(key_ref),
			JPKI_V_BLOB(oder, oder_len), JPKI_V_TEXT(okey_ref),
			JPKI_V_INT(now),
		};

		if ((r = jpki_store_exec(ca->store,
					 "UPDATE ca_authority SET generation"
					 " = $2, cert = $3, key_ref = $4,"
					 " ocsp_cert = $5, ocsp_key_ref = $6,"
					 " created_at = $7 WHERE type = $1",
					 p, 7, NULL)) != 0)
			goto out;
	}
	{
		struct jpki_value p[] = {
			JPKI_V_INT(cur->type),
			JPKI_V_INT(cur->generation),
			JPKI_V_INT(next->generation),
			JPKI_V_BLOB(l1, l1_len),
			JPKI_V_BLOB(l2, l2_len),
		};
		static const char sql[] =
			"INSERT INTO ca_link_cert (type, issuer_gen,"
			" subject_gen, der) VALUES ($1, $2, $3, $4)";

		if ((r = jpki_store_exec(ca->store, sql, p, 4, NULL)) != 0)
			goto out;
		/* NewWithOld: the same with the two generations swapped */
		p[1] = JPKI_V_INT(next->generation);
		p[2] = JPKI_V_INT(cur->generation);
		p[3] = p[4];
		if ((r = jpki_store_exec(ca->store, sql, p, 4, NULL)) != 0)
			goto out;
	}
	hex_of(ski, sizeof(ski), X509_get0_subject_key_id(next->cert));
	snprintf(detail, sizeof(detail),
		 "{\"generation\":%d,\"previous\":%d,\"key_id\":\"%s\"}",
		 next->generation, cur->generation, ski);
	r = jpki_audit_append(ca->store, by, "ca.rollover",
			      ca_type_name(cur->type), detail);
out:
	free(der);
	free(oder);
	free(l1);
	free(l2);
	return r;
}

int jpki_ca_rollover(struct jpki_ca *ca, const struct jpki_actor *by,
		     enum jpki_cert_type type,
		     const struct jpki_ca_rollover_options *opts_in)
{
	struct jpki_ca_rollover_options opts = JPKI_CA_ROLLOVER_OPTIONS_INIT;
	struct authority next = {0}, *cur, *grown;
	X509 *old_with_new = NULL, *new_with_old = NULL;
	char *dir = NULL, *key_ref = NULL, *okey_ref = NULL, *pem = NULL;
	char label[2][32];
	time_t now = jpki_clock_now();
	size_t count;
	int r, made = 0;

	if (opts_in != NULL)
		opts = *opts_in;
	if (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "CA type must be sign or auth");
	if (by == NULL)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a CA key rollover is a CA officer's "
				    "act: who is acting?");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_CA_OFFICER, NULL)) != 0)
		return r;
	cur = ca_authority(ca, type);
	if (opts.key_dir != NULL)
		dir = strdup(opts.key_dir);
	else if ((r = key_dir_of(&dir, ca, type)) != 0)
		return r;
	if (dir == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = jpki_mkdir_p(dir)) != 0)
		goto out;
	snprintf(label[0], sizeof(label[0]), "%s-ca-%d", ca_type_name(type),
		 cur->generation + 1);
	snprintf(label[1], sizeof(label[1]), "%s-ocsp-%d", ca_type_name(type),
		 cur->generation + 1);
	if ((r = still_current(ca, cur)) != 0)
		goto out;
	/* Never mix with (or later destroy) keys someone else put there. */
	for (int i = 0; i < 2; i++) {
		char *path = NULL;
		int exists;

		if (ca->p11 != NULL) {
			if ((r = ca_p11_absent(ca->p11, label[i])) != 0)
				goto out;
			continue;
		}
		if (asprintf(&path, "%s/%s.key", dir, label[i]) < 0) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		exists = access(path, F_OK) == 0;
		free(path);
		if (exists) {
			r = jpki_err_set(JPKI_ERR_EXISTS,
					 "%s/%s.key exists already: a key "
					 "file is never overwritten",
					 dir, label[i]);
			goto out;
		}
	}
	made = 1;
	if ((r = make_generation(&next, &key_ref, &okey_ref, ca, cur, dir,
				 &opts, now)) != 0 ||
	    (r = link_cert(&old_with_new, next.cert, cur->cert, cur->key,
			   now)) != 0 ||
	    (r = link_cert(&new_with_old, cur->cert, next.cert, next.key,
			   now)) != 0)
		goto out;
	if (asprintf(&pem, "%s/%s.pem", dir, label[0]) < 0) {
		pem = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = ca_pem_save(pem, NULL, next.cert)) != 0)
		goto out;
	if ((grown = realloc(ca->older, (ca->n_older + 1) *
						sizeof(*ca->older))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	ca->older = grown;
	if ((r = jpki_store_begin(ca->store)) != 0)
		goto out;
	if ((r = record_generation(ca, cur, &next, key_ref, okey_ref,
				   old_with_new, new_with_old, by, now)) !=
	    0) {
		jpki_store_rollback(ca->store);
		goto out;
	}
	if ((r = jpki_store_commit(ca->store)) != 0)
		goto out;
	made = 0;
	/* From here this process issues under the new generation; the old
	 * one answers for its own certificates. */
	ca->older[ca->n_older++] = *cur;
	*cur = next;
	memset(&next, 0, sizeof(next));
	jpki_log(JPKI_LOG_INFO, "the %s CA rolled over to generation %d",
		 ca_type_name(type), cur->generation);
	/* The new generation's first (empty) full CRL, so its URL answers
	 * from the start; refresh makes every scope that is missing. */
	r = jpki_ca_crl_refresh(ca, 0, &count);
out:
	if (made) {
		/* nothing names them: the keys go too */
		for (int i = 0; ca->p11 != NULL && i < 2; i++)
			ca_p11_destroy(ca->p11, label[i]);
		if (ca->p11 == NULL && key_ref != NULL)
			unlink(key_ref);
		if (ca->p11 == NULL && okey_ref != NULL)
			unlink(okey_ref);
		if (pem != NULL)
			unlink(pem);
	}
	ca_authority_clear(&next);
	X509_free(old_with_new);
	X509_free(new_with_old);
	free(dir);
	free(key_ref);
	free(okey_ref);
	free(pem);
	return r;
}

/* How many certificates of one generation have not expired at `now`, and
 * when the last of them expires. */
static int unexpired(int64_t *count, time_t *last, struct jpki_ca *ca,
		     const struct authority *a, time_t now)
{
	struct jpki_value p[] = {JPKI_V_INT(a->type),
				 JPKI_V_INT(a->generation), JPKI_V_INT(now)};
	struct jpki_rows *rows = NULL;
	int r;

	*count = 0;
	*last = 0;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT COUNT(*), MAX(not_after) FROM ca_cert"
				  " WHERE type = $1 AND generation = $2"
				  " AND not_after >= $3",
				  p, 3)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1) {
		*count = jpki_rows_int(rows, 0, 0);
		*last = (time_t)jpki_rows_int(rows, 0, 1);
	}
	jpki_rows_free(rows);
	return 0;
}

/* Retires one generation inside the caller's transaction: its CRLs go
 * (no more are made), the row says when. */
static int retire_one(struct jpki_ca *ca, const struct authority *a,
		      const struct jpki_actor *by, time_t now)
{
	char full[32], part[40], name[32], detail[96];
	int r;

	ca_crl_scope_name(full, a->type, a->generation, NULL);
	snprintf(part, sizeof(part), "%s/%%", full);
	{
		struct jpki_value p[] = {JPKI_V_INT(a->type),
					 JPKI_V_INT(a->generation),
					 JPKI_V_INT(now)};

		if ((r = jpki_store_exec(ca->store,
					 "UPDATE ca_generation SET retired_at"
					 " = $3 WHERE type = $1 AND"
					 " generation = $2",
					 p, 3, NULL)) != 0)
			return r;
	}
	{
		struct jpki_value p[] = {JPKI_V_TEXT(full), JPKI_V_TEXT(part)};

		if ((r = jpki_store_exec(ca->store,
					 "DELETE FROM ca_crl WHERE scope = $1"
					 " OR scope LIKE $2",
					 p, 2, NULL)) != 0 ||
		    /* and their delta CRLs (crl_delta.c) */
		    (r = jpki_store_exec(ca->store,
					 "DELETE FROM ca_crl_delta"
					 " WHERE scope = $1 OR scope LIKE $2",
					 p, 2, NULL)) != 0 ||
		    /* and their entry counts and stale marks */
		    (r = jpki_store_exec(ca->store,
					 "DELETE FROM ca_crl_state"
					 " WHERE scope = $1 OR scope LIKE $2",
					 p, 2, NULL)) != 0)
			return r;
	}
	snprintf(name, sizeof(name), "%s-%d", ca_type_name(a->type),
		 a->generation);
	snprintf(detail, sizeof(detail), "{\"generation\":%d}",
		 a->generation);
	return jpki_audit_append(ca->store, by, "ca.retire", name, detail);
}

int jpki_ca_retire(size_t *retired, struct jpki_ca *ca,
		   const struct jpki_actor *by)
{
	time_t now = jpki_clock_now();
	char why[256] = "";
	int *gone = NULL, r;
	size_t n = 0;

	*retired = 0;
	if (by == NULL)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "retiring a CA generation is a CA "
				    "officer's act: who is acting?");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_CA_OFFICER, NULL)) != 0)
		return r;
	if (ca->n_older == 0)
		return jpki_err_set(JPKI_ERR_STATE,
				    "there is no earlier CA generation to "
				    "retire (no rollover yet, or all "
				    "retired)");
	if ((gone = calloc(ca->n_older, sizeof(*gone))) == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = jpki_store_begin(ca->store)) != 0)
		goto out;
	for (size_t i = 0; i < ca->n_older; i++) {
		const struct authority *a = &ca->older[i];
		int64_t count;
		time_t last;

		if ((r = unexpired(&count, &last, ca, a, now)) != 0)
			goto fail;
		if (count > 0) {
			struct jpki_date d = jpki_date_of(last);
			char day[11];

			jpki_date_format(&d, day);
			if (why[0] == '\0')
				snprintf(why, sizeof(why),
					 "generation %d of the %s CA still "
					 "holds %lld certificate%s that ha%s "
					 "not expired (the last on %s): it "
					 "answers for them until then",
					 a->generation, ca_type_name(a->type),
					 (long long)count, count == 1 ? "" : "s",
					 count == 1 ? "s" : "ve", day);
			continue;
		}
		if ((r = retire_one(ca, a, by, now)) != 0)
			goto fail;
		gone[i] = 1;
		n++;
	}
	if (n == 0) {
		r = jpki_err_set(JPKI_ERR_STATE, "%s", why);
		goto fail;
	}
	if ((r = jpki_store_commit(ca->store)) != 0)
		goto out;
	/* This process stops answering for them at once. */
	for (size_t i = 0, k = 0, m = ca->n_older; i < m; i++) {
		if (gone[i]) {
			jpki_log(JPKI_LOG_INFO,
				 "generation %d of the %s CA retired",
				 ca->older[i].generation,
				 ca_type_name(ca->older[i].type));
			ca_authority_clear(&ca->older[i]);
			ca->n_older--;
			continue;
		}
		ca->older[k++] = ca->older[i];
	}
	*retired = n;
	r = 0;
	goto out;
fail:
	jpki_store_rollback(ca->store);
out:
	free(gone);
	return r;
}

/*
 * A published name: "sign" / "auth" (generation 1), "sign-N", or
 * "sign-link-A-B". *link_to is 0 for a CA certificate.
 */
static int published_parse(enum jpki_cert_type *type, int *gen, int *link_to,
			   const char *name)
{
	const char *p = name;
	char *end;
	long a, b;

	*gen = 1;
	*link_to = 0;
	if (name == NULL)
		return -1;
	if (strncmp(p, "sign", 4) == 0)
		*type = JPKI_CERT_SIGN;
	else if (strncmp(p, "auth", 4) == 0)
		*type = JPKI_CERT_AUTH;
	else
		return -1;
	p += 4;
	if (*p == '\0')
		return 0;
	if (strncmp(p, "-link-", 6) == 0) {
		p += 6;
		if (*p < '1' || *p > '9')
			return -1;
		a = strtol(p, &end, 10);
		if (*end != '-' || end[1] < '1' || end[1] > '9')
			return -1;
		b = strtol(end + 1, &end, 10);
		if (*end != '\0' || a > 999 || b > 999 || a == b)
			return -1;
		*gen = (int)a;
		*link_to = (int)b;
		return 0;
	}
	if (*p != '-' || p[1] < '1' || p[1] > '9')
		return -1;
	a = strtol(p + 1, &end, 10);
	if (*end != '\0' || a > 999)
		return -1;
	*gen = (int)a;
	return 0;
}

int jpki_ca_published_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
			  const char *name)
{
	enum jpki_cert_type type;
	struct jpki_rows *rows = NULL;
	const unsigned char *p;
	size_t n;
	int gen, link_to, r;

	*der = NULL;
	*len = 0;
	if (published_parse(&type, &gen, &link_to, name) != 0)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no published certificate '%s'",
				    name ? name : "");
	{
		struct jpki_value v[] = {JPKI_V_INT(type), JPKI_V_INT(gen),
					 JPKI_V_INT(link_to)};

		r = jpki_store_query(
			&rows, ca_read_store(ca),
			link_to ? "SELECT der FROM ca_link_cert WHERE type = $1"
				  " AND issuer_gen = $2 AND subject_gen = $3"
				: "SELECT cert FROM ca_authority WHERE type = $1"
				  " AND generation = $2 UNION ALL"
				  " SELECT cert FROM ca_generation"
				  " WHERE type = $1 AND generation = $2",
			v, link_to ? 3 : 2);
	}
	if (r != 0)
		return r;
	p = jpki_rows_count(rows) == 1 ? jpki_rows_blob(rows, 0, 0, &n) : NULL;
	if (p == NULL) {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no published certificate '%s'", name);
	}
	if ((*der = malloc(n)) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	memcpy(*der, p, n);
	*len = n;
	jpki_rows_free(rows);
	return 0;
}

int jpki_ca_published(char ***names, size_t *n, struct jpki_ca *ca)
{
	struct jpki_rows *rows = NULL;
	char **list = NULL;
	size_t count;
	int r;

	*names = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, ca_read_store(ca),
				  "SELECT type, generation, 0 FROM ca_authority"
				  " UNION ALL SELECT type, generation, 0"
				  " FROM ca_generation UNION ALL"
				  " SELECT type, issuer_gen, subject_gen"
				  " FROM ca_link_cert ORDER BY 1, 3, 2",
				  NULL, 0)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const char *type = ca_type_name(
			(enum jpki_cert_type)jpki_rows_int(rows, i, 0));
		long long a = jpki_rows_int(rows, i, 1);
		long long b = jpki_rows_int(rows, i, 2);
		int k = b ? asprintf(&list[i], "%s-link-%lld-%lld", type, a, b)
			  : asprintf(&list[i], "%s-%lld", type, a);

		if (k < 0) {
			list[i] = NULL;
			jpki_ca_scopes_free(list, i);
			list = NULL;
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	*names = list;
	*n = count;
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}
