/*
 * CRLs (RFC 5280 section 5): a full CRL for each CA, and for the signing CA
 * one partition per municipality, named by an issuingDistributionPoint that
 * matches the cRLDistributionPoints of the certificates it covers. Each scope
 * has its own CRL number sequence. Revoked certificates stay listed until
 * they expire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"

char *ca_crl_url(const struct jpki_ca *ca, enum jpki_cert_type type,
		 const char *municipality)
{
	char *url = NULL;
	int n;

	if (municipality != NULL)
		n = asprintf(&url, "%s/crl/%s/%s.crl", ca->public_url,
			     ca_type_name(type), municipality);
	else
		n = asprintf(&url, "%s/crl/%s.crl", ca->public_url,
			     ca_type_name(type));
	return n < 0 ? NULL : url;
}

static void scope_name(char out[32], enum jpki_cert_type type,
		       const char *municipality)
{
	if (municipality != NULL)
		snprintf(out, 32, "%s/%s", ca_type_name(type), municipality);
	else
		snprintf(out, 32, "%s", ca_type_name(type));
}

/* Parses "sign", "auth" or "sign/NNNNNN". */
static int scope_parse(enum jpki_cert_type *type, char municipality[7],
		       const char *scope)
{
	municipality[0] = '\0';
	if (scope == NULL)
		goto bad;
	if (strcmp(scope, "sign") == 0 || strcmp(scope, "auth") == 0) {
		*type = scope[0] == 's' ? JPKI_CERT_SIGN : JPKI_CERT_AUTH;
		return 0;
	}
	if (strncmp(scope, "sign/", 5) == 0 && strlen(scope) == 11 &&
	    strspn(scope + 5, "0123456789") == 6) {
		*type = JPKI_CERT_SIGN;
		memcpy(municipality, scope + 5, 7);
		return 0;
	}
bad:
	return jpki_err_set(JPKI_ERR_INVALID,
			    "'%s' is not a CRL scope (sign, auth, or "
			    "sign/<6-digit municipality code>)",
			    scope ? scope : "");
}

static int add_idp(X509_CRL *crl, const char *url)
{
	ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	int ok = 0;

	if (idp == NULL || gn == NULL || uri == NULL ||
	    !ASN1_STRING_set(uri, url, (int)strlen(url)))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if ((idp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (idp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL)
		goto out;
	idp->distpoint->type = 0;
	if (!sk_GENERAL_NAME_push(idp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	idp->onlyuser = 0xff;
	/* RFC 5280 5.2.5: the extension is critical. */
	ok = X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1,
				   X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	ISSUING_DIST_POINT_free(idp);
	return ok;
}

static int add_entry(X509_CRL *crl, const char *serial, time_t when,
		     int reason)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *num = ca_serial_from_hex(serial);
	ASN1_TIME *t = ASN1_TIME_set(NULL, when);
	ASN1_ENUMERATED *code = NULL;
	int ok = 0;

	if (rev == NULL || num == NULL || t == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, num) ||
	    !X509_REVOKED_set_revocationDate(rev, t))
		goto out;
	/* RFC 5280 5.3.1: the unspecified reason is left out. */
	if (reason != JPKI_REASON_UNSPECIFIED) {
		if ((code = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(code, reason) ||
		    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0,
					       X509V3_ADD_DEFAULT))
			goto out;
	}
	if (!X509_CRL_add0_revoked(crl, rev))
		goto out;
	rev = NULL;
	ok = 1;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(code);
	return ok;
}

int ca_crl_generate(struct jpki_ca *ca, enum jpki_cert_type type,
		    const char *municipality)
{
	struct authority *a = ca_authority(ca, type);
	struct jpki_rows *rows = NULL, *prev = NULL;
	time_t now = jpki_clock_now(), next = now + ca->crl_period;
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *number = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	unsigned char *der = NULL;
	char scope[32], *url = NULL;
	int64_t num = 1;
	int len, r = JPKI_ERR_INTERNAL;

	scope_name(scope, type, municipality);
	{
		struct jpki_value p = JPKI_V_TEXT(scope);

		if ((r = jpki_store_query(&prev, ca->store,
					  "SELECT number FROM ca_crl"
					  " WHERE scope = $1",
					  &p, 1)) != 0)
			goto out;
		if (jpki_rows_count(prev) == 1)
			num = jpki_rows_int(prev, 0, 0) + 1;
	}
	{
		struct jpki_value p[] = {
			JPKI_V_INT(type), JPKI_V_INT(now),
			municipality ? JPKI_V_TEXT(municipality) : JPKI_V_NULL};

		if ((r = jpki_store_query(&rows, ca->store,
					  "SELECT serial, revoked_at, reason"
					  " FROM ca_cert WHERE type = $1"
					  " AND status <> 0 AND not_after > $2"
					  " AND (municipality = $3 OR"
					  " $3 IS NULL)",
					  p, 3)) != 0)
			goto out;
	}
	r = JPKI_ERR_CRYPTO;
	if ((crl = X509_CRL_new()) == NULL || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(a->cert)) ||
	    (t = ASN1_TIME_set(NULL, now)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_set(t, next) == NULL || !X509_CRL_set1_nextUpdate(crl, t))
		goto crypto;
	for (size_t i = 0; i < jpki_rows_count(rows); i++)
		if (!add_entry(crl, jpki_rows_text(rows, i, 0),
			       (time_t)jpki_rows_int(rows, i, 1),
			       (int)jpki_rows_int(rows, i, 2)))
			goto crypto;
	X509V3_set_ctx(&ctx, a->cert, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx,
				       NID_authority_key_identifier,
				       "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, aki, -1))
		goto crypto;
	if ((number = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(number, num) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0,
				   X509V3_ADD_DEFAULT))
		goto crypto;
	if (municipality != NULL) {
		if ((url = ca_crl_url(ca, type, municipality)) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		if (!add_idp(crl, url))
			goto crypto;
	}
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, a->key, EVP_sha256()) ||
	    (len = i2d_X509_CRL(crl, &der)) <= 0)
		goto crypto;
	{
		struct jpki_value p[] = {
			JPKI_V_TEXT(scope), JPKI_V_INT(num), JPKI_V_INT(now),
			JPKI_V_INT(next), JPKI_V_BLOB(der, (size_t)len)};

		r = jpki_store_exec(
			ca->store,
			"INSERT INTO ca_crl (scope, number, this_update,"
			" next_update, der) VALUES ($1, $2, $3, $4, $5)"
			" ON CONFLICT (scope) DO UPDATE SET"
			" number = excluded.number,"
			" this_update = excluded.this_update,"
			" next_update = excluded.next_update,"
			" der = excluded.der",
			p, 5, NULL);
	}
	goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the %s CRL", scope);
out:
	ERR_clear_error();
	jpki_rows_free(rows);
	jpki_rows_free(prev);
	X509_CRL_free(crl);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(number);
	X509_EXTENSION_free(aki);
	OPENSSL_free(der);
	free(url);
	return r;
}

int jpki_ca_crl_refresh(struct jpki_ca *ca, int force, size_t *count)
{
	struct jpki_rows *rows = NULL, *have = NULL;
	time_t now = jpki_clock_now();
	size_t n;
	int r;

	*count = 0;
	/* Every scope that should exist: both full CRLs, and a partition
	 * for each municipality that has signing certificates. */
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT DISTINCT municipality FROM ca_cert"
				  " WHERE type = 1 ORDER BY municipality",
				  NULL, 0)) != 0)
		return r;
	n = jpki_rows_count(rows) + 2;
	for (size_t i = 0; i < n && r == 0; i++) {
		enum jpki_cert_type type = i == 1 ? JPKI_CERT_AUTH
						  : JPKI_CERT_SIGN;
		const char *muni = i < 2 ? NULL : jpki_rows_text(rows, i - 2, 0);
		char scope[32];
		int due = force;

		scope_name(scope, type, muni);
		if (!due) {
			struct jpki_value p = JPKI_V_TEXT(scope);

			if ((r = jpki_store_query(&have, ca->store,
						  "SELECT next_update FROM"
						  " ca_crl WHERE scope = $1",
						  &p, 1)) != 0)
				break;
			due = jpki_rows_count(have) == 0 ||
			      jpki_rows_int(have, 0, 0) - now <
				      ca->crl_period / 2;
			jpki_rows_free(have);
			have = NULL;
		}
		if (!due)
			continue;
		if ((r = jpki_store_begin(ca->store)) != 0)
			break;
		if ((r = ca_crl_generate(ca, type, muni)) != 0) {
			jpki_store_rollback(ca->store);
			break;
		}
		if ((r = jpki_store_commit(ca->store)) != 0)
			break;
		(*count)++;
	}
	jpki_rows_free(rows);
	return r;
}

int jpki_ca_crl_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
		    const char *scope)
{
	enum jpki_cert_type type;
	char muni[7], name[32];
	struct jpki_rows *rows = NULL;
	const unsigned char *p;
	size_t n;
	int r;

	*der = NULL;
	*len = 0;
	if ((r = scope_parse(&type, muni, scope)) != 0)
		return r;
	scope_name(name, type, muni[0] ? muni : NULL);
	{
		struct jpki_value v = JPKI_V_TEXT(name);

		if ((r = jpki_store_query(&rows, ca->store,
					  "SELECT der FROM ca_crl"
					  " WHERE scope = $1",
					  &v, 1)) != 0)
			return r;
	}
	p = jpki_rows_blob(rows, 0, 0, &n);
	if (jpki_rows_count(rows) != 1 || p == NULL) {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no CRL for scope %s (no certificate of "
				    "that municipality yet)",
				    name);
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

void jpki_ca_scopes_free(char **scopes, size_t n)
{
	for (size_t i = 0; scopes != NULL && i < n; i++)
		free(scopes[i]);
	free(scopes);
}

int jpki_ca_crl_scopes(char ***out, size_t *n, struct jpki_ca *ca)
{
	struct jpki_rows *rows = NULL;
	char **list;
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT scope FROM ca_crl ORDER BY scope",
				  NULL, 0)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++)
		if ((list[i] = strdup(jpki_rows_text(rows, i, 0))) == NULL) {
			jpki_ca_scopes_free(list, i);
			jpki_rows_free(rows);
			return JPKI_ERR_NOMEM;
		}
	jpki_rows_free(rows);
	*out = list;
	*n = count;
	return 0;
}
