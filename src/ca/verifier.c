/*
 * Registered relying parties (署名検証者 / 利用者証明検証者): their
 * certificates, pinned by SHA-256; the counts of what each was answered,
 * held in memory and flushed in batches; and which CA an OCSP request or a
 * key identifier names, so the server keeps each to its purpose.
 *
 * The tables have a schema name of their own ("ca_verifier"), so that
 * their steps never collide with the CA's own migrations.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"

static const struct jpki_migration migrations[] = {
	{1, "CREATE TABLE ca_verifier ("
	    " name TEXT PRIMARY KEY,"
	    " purpose INTEGER NOT NULL,"
	    " fingerprint TEXT NOT NULL UNIQUE,"
	    " subject TEXT NOT NULL,"
	    " not_after BIGINT NOT NULL,"
	    " der BLOB NOT NULL,"
	    " enabled INTEGER NOT NULL,"
	    " added_at BIGINT NOT NULL,"
	    " added_by TEXT NOT NULL);"
	    "CREATE TABLE ca_verifier_usage ("
	    " verifier TEXT NOT NULL,"
	    " day TEXT NOT NULL,"
	    " query INTEGER NOT NULL,"
	    " count BIGINT NOT NULL,"
	    " PRIMARY KEY (verifier, day, query))"},
};

int jpki_ca_verifier_migrate(struct jpki_store *st)
{
	return jpki_store_migrate(st, "ca_verifier", migrations,
				  sizeof(migrations) / sizeof(migrations[0]));
}

const char *jpki_ca_query_name(enum jpki_verifier_query q)
{
	switch (q) {
	case JPKI_QUERY_OCSP:
		return "ocsp";
	case JPKI_QUERY_CRL:
		return "crl";
	case JPKI_QUERY_LINK:
		return "link";
	}
	return "unknown";
}

static int name_ok(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > JPKI_VERIFIER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' &&
		    name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

/* A certificate as PEM or DER (the first of a PEM file). */
static X509 *cert_parse(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	X509 *c = NULL;
	BIO *mem;

	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		if ((mem = BIO_new_mem_buf(data, (int)len)) != NULL)
			c = PEM_read_bio_X509(mem, NULL, NULL, NULL);
		BIO_free(mem);
	} else {
		c = d2i_X509(NULL, &p, (long)len);
		if (c != NULL && p != data + len) {
			X509_free(c);
			c = NULL;
		}
	}
	ERR_clear_error();
	return c;
}

/* SHA-256 of the certificate's DER as lower-case hex. */
static int cert_fingerprint(char out[65], X509 *c, unsigned char **der,
			    int *der_len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	*der = NULL;
	if ((*der_len = i2d_X509(c, der)) <= 0 ||
	    !EVP_Digest(*der, (size_t)*der_len, md, &mdlen, EVP_sha256(),
			NULL)) {
		OPENSSL_free(*der);
		*der = NULL;
		return JPKI_ERR_NOMEM;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

int jpki_ca_verifier_add(struct jpki_store *st, const struct jpki_actor *by,
			 const char *name, enum jpki_cert_type purpose,
			 const unsigned char *cert, size_t len)
{
	char fp[65], subject[256], detail[512];
	unsigned char *der = NULL;
	struct jpki_rows *rows = NULL;
	X509 *c = NULL;
	BIO *mem = NULL;
	time_t not_after;
	int der_len = 0, began = 0, r = JPKI_ERR_INTERNAL;

	if ((r = jpki_audit_authorize(by, JPKI_ROLE_CA_OFFICER, NULL)) != 0)
		return r;
	if (!name_ok(name))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a verifier's name is 1 to %d letters, "
				    "digits, '.', '_' or '-'",
				    JPKI_VERIFIER_NAME_MAX);
	if (purpose != JPKI_CERT_SIGN && purpose != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a verifier's purpose is sign or auth");
	if (cert == NULL || len == 0 || len > JPKI_MAX_CSR ||
	    (c = cert_parse(cert, len)) == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the verifier's certificate is not one "
				    "PEM or DER certificate of at most %d "
				    "bytes",
				    JPKI_MAX_CSR);
	not_after = asn1_time(X509_get0_notAfter(c));
	if (not_after <= jpki_clock_now()) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the verifier's certificate has expired");
		goto out;
	}
	/* a certificate for other uses only would never be sent as a TLS
	 * client's: refuse it now rather than at every request */
	if ((X509_get_extension_flags(c) & EXFLAG_XKUSAGE) &&
	    !(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT)) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the verifier's certificate is not for TLS "
				 "clients (its extended key usage lacks "
				 "clientAuth)");
		goto out;
	}
	if ((r = cert_fingerprint(fp, c, &der, &der_len)) != 0)
		goto out;
	subject[0] = '\0';
	if ((mem = BIO_new(BIO_s_mem())) != NULL &&
	    X509_NAME_print_ex(mem, X509_get_subject_name(c), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		char *data;
		long n = BIO_get_mem_data(mem, &data);

		snprintf(subject, sizeof(subject), "%.*s", (int)n, data);
	}
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	began = 1;
	{
		struct jpki_value v[] = {JPKI_V_TEXT(name), JPKI_V_TEXT(fp)};

		if ((r = jpki_store_query(&rows, st,
					  "SELECT name FROM ca_verifier"
					  " WHERE name = $1 OR fingerprint = $2",
					  v, 2)) != 0)
			goto out;
		if (jpki_rows_count(rows) > 0) {
			r = jpki_err_set(
			    JPKI_ERR_EXISTS,
			    strcmp(jpki_rows_text(rows, 0, 0), name) == 0
				? "a verifier named %s is registered already "
				  "(removed ones too: choose another name)"
				: "this certificate is registered already, "
				  "as %s",
			    jpki_rows_text(rows, 0, 0));
			goto out;
		}
	}
	{
		struct jpki_value v[] = {
		    JPKI_V_TEXT(name),
		    JPKI_V_INT(purpose),
		    JPKI_V_TEXT(fp),
		    JPKI_V_TEXT(subject),
		    JPKI_V_INT(not_after),
		    JPKI_V_BLOB(der, (size_t)der_len),
		    JPKI_V_INT(jpki_clock_now()),
		    JPKI_V_TEXT(by->operator_id),
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO ca_verifier (name, purpose, fingerprint,"
			 " subject, not_after, der, enabled, added_at,"
			 " added_by) VALUES ($1, $2, $3, $4, $5, $6, 1, $7,"
			 " $8)",
			 v, 8, NULL)) != 0)
			goto out;
	}
	{
		json_t *o = json_pack("{s:s,s:s,s:s}", "purpose",
				      ca_type_name(purpose), "fingerprint", fp,
				      "subject", subject);
		char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

		snprintf(detail, sizeof(detail), "%s", text ? text : "{}");
		free(text);
		json_decref(o);
	}
	if ((r = jpki_audit_append(st, by, "verifier.add", name, detail)) != 0)
		goto out;
	r = jpki_store_commit(st);
	began = 0;
out:
	if (began)
		jpki_store_rollback(st);
	jpki_rows_free(rows);
	OPENSSL_free(der);
	BIO_free(mem);
	X509_free(c);
	return r;
}

int jpki_ca_verifier_remove(struct jpki_store *st, const struct jpki_actor *by,
			    const char *name)
{
	struct jpki_rows *rows = NULL;
	int began = 0, r = JPKI_ERR_INTERNAL;

	if ((r = jpki_audit_authorize(by, JPKI_ROLE_CA_OFFICER, NULL)) != 0)
		return r;
	if (!name_ok(name))
		return jpki_err_set(JPKI_ERR_NOT_FOUND, "no verifier named %s",
				    name ? name : "");
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	began = 1;
	{
		struct jpki_value v = JPKI_V_TEXT(name);

		if ((r = jpki_store_query(&rows, st,
					  "SELECT enabled FROM ca_verifier"
					  " WHERE name = $1",
					  &v, 1)) != 0)
			goto out;
		if (jpki_rows_count(rows) == 0) {
			r = jpki_err_set(JPKI_ERR_NOT_FOUND,
					 "no verifier named %s", name);
			goto out;
		}
		if (jpki_rows_int(rows, 0, 0) == 0) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "the verifier %s is removed already",
					 name);
			goto out;
		}
		if ((r = jpki_store_exec(st,
					 "UPDATE ca_verifier SET enabled = 0"
					 " WHERE name = $1",
					 &v, 1, NULL)) != 0)
			goto out;
	}
	if ((r = jpki_audit_append(st, by, "verifier.remove", name, NULL)) !=
	    0)
		goto out;
	r = jpki_store_commit(st);
	began = 0;
out:
	if (began)
		jpki_store_rollback(st);
	jpki_rows_free(rows);
	return r;
}

#define VERIFIER_COLUMNS                                                       \
	"name, purpose, fingerprint, subject, not_after, added_at, added_by,"  \
	" enabled"

static void verifier_from_row(struct jpki_verifier *v,
			      const struct jpki_rows *rows, size_t i)
{
	memset(v, 0, sizeof(*v));
	ca_copy_text(v->name, sizeof(v->name), jpki_rows_text(rows, i, 0));
	v->purpose = (enum jpki_cert_type)jpki_rows_int(rows, i, 1);
	ca_copy_text(v->fingerprint, sizeof(v->fingerprint),
		     jpki_rows_text(rows, i, 2));
	ca_copy_text(v->subject, sizeof(v->subject),
		     jpki_rows_text(rows, i, 3));
	v->not_after = (time_t)jpki_rows_int(rows, i, 4);
	v->added_at = (time_t)jpki_rows_int(rows, i, 5);
	ca_copy_text(v->added_by, sizeof(v->added_by),
		     jpki_rows_text(rows, i, 6));
	v->enabled = jpki_rows_int(rows, i, 7) != 0;
}

int jpki_ca_verifier_list(struct jpki_verifier **out, size_t *n,
			  struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " VERIFIER_COLUMNS
				  " FROM ca_verifier ORDER BY name",
				  NULL, 0)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if ((*out = calloc(count ? count : 1, sizeof(**out))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++)
		verifier_from_row(&(*out)[i], rows, i);
	*n = count;
	jpki_rows_free(rows);
	return 0;
}

/* The fingerprint lower-cased into fp[65]; a length other than 64 is no
 * verifier's. */
static int verifier_fp(char fp[65], const char *fingerprint)
{
	size_t n = fingerprint != NULL ? strlen(fingerprint) : 0;

	if (n != 64)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no verifier has that certificate");
	for (size_t i = 0; i <= n; i++)
		fp[i] = (char)tolower((unsigned char)fingerprint[i]);
	return 0;
}

/* The register's answer from its row (a NULL first column: none), which
 * it frees: found, not found, or removed. */
static int verifier_answer(struct jpki_verifier *out, struct jpki_rows *rows)
{
	int r;

	if (jpki_rows_count(rows) == 0 || jpki_rows_is_null(rows, 0, 0)) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "the client certificate is not that of a "
				 "registered verifier");
	} else {
		verifier_from_row(out, rows, 0);
		r = out->enabled ? 0
				 : jpki_err_set(JPKI_ERR_POLICY,
						"the verifier %s is removed",
						out->name);
	}
	jpki_rows_free(rows);
	return r;
}

int jpki_ca_verifier_find(struct jpki_verifier *out, struct jpki_store *st,
			  const char *fingerprint)
{
	struct jpki_rows *rows = NULL;
	char fp[65];
	struct jpki_value v;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = verifier_fp(fp, fingerprint)) != 0)
		return r;
	v = JPKI_V_TEXT(fp);
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " VERIFIER_COLUMNS " FROM ca_verifier"
				  " WHERE fingerprint = $1",
				  &v, 1)) != 0)
		return r;
	return verifier_answer(out, rows);
}

/* ---- counting ------------------------------------------------------------ */

struct usage_slot {
	char verifier[JPKI_VERIFIER_NAME_MAX + 1];
	char day[11];
	enum jpki_verifier_query query;
	int64_t count;
};

struct jpki_ca_usage {
	struct jpki_store *st;
	pthread_mutex_t lock;    /* the slots */
	pthread_mutex_t flushing; /* one flush at a time */
	struct usage_slot *slots;
	size_t n;
};

int jpki_ca_usage_new(struct jpki_ca_usage **out, struct jpki_store *st)
{
	struct jpki_ca_usage *u;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->slots = calloc(JPKI_CA_USAGE_SLOTS, sizeof(*u->slots))) ==
		NULL) {
		free(u);
		return JPKI_ERR_NOMEM;
	}
	u->st = st;
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->flushing, NULL);
	*out = u;
	return 0;
}

/* Adds `add` into the slots (the lock held): 0, or -1 when full. */
static int slots_add(struct jpki_ca_usage *u, const struct usage_slot *add)
{
	/* a few verifiers a day: a linear look is shorter than a hash */
	for (size_t i = 0; i < u->n; i++) {
		struct usage_slot *s = &u->slots[i];

		if (s->query == add->query && strcmp(s->day, add->day) == 0 &&
		    strcmp(s->verifier, add->verifier) == 0) {
			s->count += add->count;
			return 0;
		}
	}
	if (u->n == JPKI_CA_USAGE_SLOTS)
		return -1;
	u->slots[u->n++] = *add;
	return 0;
}

void jpki_ca_usage_count(struct jpki_ca_usage *u, const char *verifier,
			 enum jpki_verifier_query q)
{
	struct usage_slot add;
	struct jpki_date today = jpki_date_of(jpki_clock_now());
	int full;

	if (u == NULL || verifier == NULL)
		return;
	memset(&add, 0, sizeof(add));
	ca_copy_text(add.verifier, sizeof(add.verifier), verifier);
	jpki_date_format(&today, add.day);
	add.query = q;
	add.count = 1;
	pthread_mutex_lock(&u->lock);
	full = slots_add(u, &add);
	pthread_mutex_unlock(&u->lock);
	if (full == 0)
		return;
	/* a table full within a second: more distinct rows than verifiers
	 * exist, save them now rather than drop a count */
	if (jpki_ca_usage_flush(u, NULL) != 0)
		jpki_log(JPKI_LOG_ERROR, "verifier usage: %s",
			 jpki_err_detail());
	pthread_mutex_lock(&u->lock);
	if (slots_add(u, &add) != 0)
		jpki_log(JPKI_LOG_ERROR,
			 "verifier usage: a query of %s was not counted",
			 verifier);
	pthread_mutex_unlock(&u->lock);
}

int jpki_ca_usage_flush(struct jpki_ca_usage *u, size_t *rows)
{
	struct usage_slot *taken = NULL;
	size_t n, done = 0;
	int began = 0, r = JPKI_ERR_INTERNAL;

	if (rows != NULL)
		*rows = 0;
	if (u == NULL)
		return 0;
	pthread_mutex_lock(&u->flushing);
	/* take the counts out under the lock, write them outside it, so
	 * the requests counting meanwhile never wait for the store */
	pthread_mutex_lock(&u->lock);
	n = u->n;
	if (n > 0 && (taken = malloc(n * sizeof(*taken))) != NULL) {
		memcpy(taken, u->slots, n * sizeof(*taken));
		u->n = 0;
	}
	pthread_mutex_unlock(&u->lock);
	if (n == 0) {
		r = 0;
		goto out;
	}
	if (taken == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = jpki_store_begin(u->st)) != 0)
		goto out;
	began = 1;
	for (; done < n; done++) {
		struct jpki_value v[] = {
		    JPKI_V_TEXT(taken[done].verifier),
		    JPKI_V_TEXT(taken[done].day),
		    JPKI_V_INT(taken[done].query),
		    JPKI_V_INT(taken[done].count),
		};

		if ((r = jpki_store_exec(
			 u->st,
			 "INSERT INTO ca_verifier_usage (verifier, day, query,"
			 " count) VALUES ($1, $2, $3, $4)"
			 " ON CONFLICT (verifier, day, query) DO UPDATE"
			 " SET count = ca_verifier_usage.count + excluded.count",
			 v, 4, NULL)) != 0)
			goto out;
	}
	if ((r = jpki_store_commit(u->st)) != 0) {
		began = 0;
		goto out;
	}
	began = 0;
	if (rows != NULL)
		*rows = n;
	n = 0; /* written */
out:
	if (began)
		jpki_store_rollback(u->st);
	if (taken != NULL && n > 0) {
		/* not written: back into the table for the next flush */
		pthread_mutex_lock(&u->lock);
		for (size_t i = 0; i < n; i++)
			if (slots_add(u, &taken[i]) != 0)
				jpki_log(JPKI_LOG_ERROR,
					 "verifier usage: %lld queries of %s "
					 "on %s lost",
					 (long long)taken[i].count,
					 taken[i].verifier, taken[i].day);
		pthread_mutex_unlock(&u->lock);
	}
	free(taken);
	pthread_mutex_unlock(&u->flushing);
	return r;
}

void jpki_ca_usage_free(struct jpki_ca_usage *u)
{
	if (u == NULL)
		return;
	if (jpki_ca_usage_flush(u, NULL) != 0)
		jpki_log(JPKI_LOG_ERROR, "verifier usage at stop: %s",
			 jpki_err_detail());
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->flushing);
	free(u->slots);
	free(u);
}

int jpki_ca_verifier_usage(struct jpki_verifier_usage **out, size_t *n,
			   struct jpki_store *st, const struct jpki_date *day)
{
	struct jpki_rows *rows = NULL;
	char d[11] = "";
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if (day != NULL)
		jpki_date_format(day, d);
	{
		struct jpki_value v = d[0] ? JPKI_V_TEXT(d) : JPKI_V_NULL;

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT verifier, day, query, count"
			 " FROM ca_verifier_usage"
			 " WHERE (day = $1 OR $1 IS NULL)"
			 " ORDER BY day, verifier, query",
			 &v, 1)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if ((*out = calloc(count ? count : 1, sizeof(**out))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		struct jpki_verifier_usage *u = &(*out)[i];

		ca_copy_text(u->verifier, sizeof(u->verifier),
			     jpki_rows_text(rows, i, 0));
		ca_copy_text(u->day, sizeof(u->day),
			     jpki_rows_text(rows, i, 1));
		u->query = (enum jpki_verifier_query)jpki_rows_int(rows, i, 2);
		u->count = jpki_rows_int(rows, i, 3);
	}
	*n = count;
	jpki_rows_free(rows);
	return 0;
}

/* ---- which CA ------------------------------------------------------------ */

static int certid_hash_index(OCSP_CERTID *cid)
{
	ASN1_OBJECT *alg = NULL;

	if (!OCSP_id_get0_info(NULL, &alg, NULL, NULL, cid) || alg == NULL)
		return -1;
	switch (OBJ_obj2nid(alg)) {
	case NID_sha1:
		return 0;
	case NID_sha256:
		return 1;
	case NID_sha384:
		return 2;
	case NID_sha512:
		return 3;
	}
	return -1;
}

void jpki_ca_ocsp_request_types(unsigned *types, struct jpki_ca *ca,
				const unsigned char *req, size_t len)
{
	const unsigned char *p = req;
	OCSP_REQUEST *r;
	int n;

	*types = 0;
	if (req == NULL || len == 0 || len > JPKI_MAX_OCSP_REQUEST ||
	    (r = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return;
	}
	n = OCSP_request_onereq_count(r);
	for (int i = 0; i < n && i < JPKI_MAX_OCSP_ONEREQS; i++) {
		OCSP_CERTID *cid =
		    OCSP_onereq_get0_id(OCSP_request_onereq_get0(r, i));
		int h = certid_hash_index(cid);

		for (int a = 0; h >= 0 && a < 2; a++) {
			OCSP_CERTID *mine = ca->auth[a].ids[h];

			if (mine != NULL && OCSP_id_issuer_cmp(mine, cid) == 0)
				*types |= 1u << ca->auth[a].type;
		}
	}
	OCSP_REQUEST_free(r);
}

int jpki_ca_key_id_type(enum jpki_cert_type *type, struct jpki_ca *ca,
			const char *key_id)
{
	unsigned char want[64];
	size_t n = 0;

	*type = 0;
	for (const char *s = key_id ? key_id : ""; *s; s++) {
		int hi, lo;

		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)s[0]) ||
		    !isxdigit((unsigned char)s[1]) || n == sizeof(want))
			return jpki_err_set(JPKI_ERR_NOT_FOUND,
					    "the issuer's key id is not hex");
		hi = isdigit((unsigned char)s[0]) ? s[0] - '0'
						  : tolower(s[0]) - 'a' + 10;
		lo = isdigit((unsigned char)s[1]) ? s[1] - '0'
						  : tolower(s[1]) - 'a' + 10;
		want[n++] = (unsigned char)(hi << 4 | lo);
		s++;
	}
	for (int a = 0; a < 2; a++) {
		const ASN1_OCTET_STRING *ski =
		    X509_get0_subject_key_id(ca->auth[a].cert);

		if (ski != NULL && n > 0 &&
		    (size_t)ASN1_STRING_length(ski) == n &&
		    memcmp(ASN1_STRING_get0_data(ski), want, n) == 0) {
			*type = ca->auth[a].type;
			return 0;
		}
	}
	return jpki_err_set(JPKI_ERR_NOT_FOUND,
			    "no CA of this service has that key id");
}

/*
 * The register read at the door of a server that reads a replica
 * (jpki_ca_read_from): the same look-up as jpki_ca_verifier_find, on the
 * read store, with this process's heartbeat row in the same statement; a
 * verifier removed on the primary is refused once the replica shows it,
 * within the bound, and past the bound nobody is let in on the replica's
 * word (JPKI_ERR_STATE). Without a replica, the CA's own store.
 */
int jpki_ca_verifier_find_read(struct jpki_verifier *out, struct jpki_ca *ca,
			       const char *fingerprint)
{
	struct jpki_rows *rows = NULL;
	char fp[65];
	int64_t mark;
	int r;

	if (ca->read == NULL)
		return jpki_ca_verifier_find(out, ca->store, fingerprint);
	memset(out, 0, sizeof(*out));
	if ((r = verifier_fp(fp, fingerprint)) != 0)
		return r;
	{
		struct jpki_value v[] = {JPKI_V_TEXT(fp),
					 JPKI_V_TEXT(ca->read_mark)};

		/* the mark is column 8, after VERIFIER_COLUMNS */
		if ((r = jpki_store_query(&rows, ca->read,
					  "SELECT " VERIFIER_COLUMNS ", h.mark"
					  " FROM jpki_heartbeat h"
					  " LEFT JOIN ca_verifier"
					  " ON fingerprint = $1"
					  " WHERE h.id = $2",
					  v, 2)) != 0)
			return r;
	}
	mark = jpki_rows_count(rows) == 1 ? jpki_rows_int(rows, 0, 8) : 0;
	if ((r = ca_read_stale(ca, jpki_rows_count(rows) == 1 ? &mark
							       : NULL)) != 0) {
		jpki_rows_free(rows);
		return r;
	}
	return verifier_answer(out, rows);
}
