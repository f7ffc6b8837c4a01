/*
 * services: identity information for agencies (本人確認情報の提供).
 *
 * Agencies are registered with their purposes and the certificate they
 * call with (pinned by SHA-256). Each look-up reads the register and
 * records itself (a services_lookup row, for the resident's disclosure,
 * and an audit entry, for the chain) in one transaction, so no answer
 * leaves without its record and no record tells of an answer not given.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "services/services_internal.h"

static const struct jpki_migration migrations[] = {
    {1, "CREATE TABLE services_agency ("
	" name TEXT PRIMARY KEY,"
	" fingerprint TEXT NOT NULL UNIQUE,"
	" subject TEXT NOT NULL,"
	" added_at BIGINT NOT NULL);"
	"CREATE TABLE services_agency_purpose ("
	" agency TEXT NOT NULL,"
	" purpose TEXT NOT NULL,"
	" PRIMARY KEY (agency, purpose));"
	"CREATE TABLE services_lookup ("
	" at BIGINT NOT NULL,"
	" agency TEXT NOT NULL,"
	" person TEXT NOT NULL,"
	" purpose TEXT NOT NULL,"
	" outcome TEXT NOT NULL);"
	"CREATE INDEX services_lookup_person ON services_lookup (person, at);"
	/* The look-up by name and birth, and the latest change of one
	 * resident, each one index probe instead of a scan of the register
	 * (the registry's own indexes serve its municipal listings). */
	"CREATE INDEX services_resident_name"
	" ON registry_resident (name, birth);"
	"CREATE INDEX services_event_person ON registry_event (person, seq)"},
    /* The look-ups' records land here first, in the order they were
     * made and without an index: a batch's random residents kept the
     * (person, at) index of services_lookup rewritten at every commit,
     * more than half of a look-up's cost. jpki_services_lookup_fold
     * moves them into services_lookup a whole journal at a time (each
     * index page written once); seq is the look-up's audit entry. */
    {2, "CREATE TABLE services_lookup_recent ("
	" seq BIGINT NOT NULL,"
	" at BIGINT NOT NULL,"
	" agency TEXT NOT NULL,"
	" person TEXT NOT NULL,"
	" purpose TEXT NOT NULL,"
	" outcome TEXT NOT NULL)"},
};

int services_agency_migrate(struct jpki_store *st)
{
	return jpki_store_migrate(st, "services_agency", migrations,
				  sizeof(migrations) / sizeof(migrations[0]));
}

static int word_ok(const char *s, const char *extra)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
		    !strchr(extra, c))
			return 0;
	}
	return 1;
}

static int name_ok(const char *s)
{
	return word_ok(s, "._-ABCDEFGHIJKLMNOPQRSTUVWXYZ");
}

static int purpose_ok(const char *s)
{
	return word_ok(s, "._-");
}

int jpki_services_fingerprint(char out[65], const unsigned char *der,
			      size_t len)
{
	unsigned char md[32];
	unsigned mdlen = 0;

	out[0] = '\0';
	if (der == NULL || len == 0 ||
	    !EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != sizeof(md))
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "cannot hash the certificate");
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A PEM or DER certificate: its fingerprint and subject. */
static int cert_read(char fp[65], char subject[256], const unsigned char *in,
		     size_t len)
{
	X509 *x = NULL;
	BIO *bio = NULL;
	unsigned char *der = NULL;
	int dlen, r = JPKI_ERR_INVALID;

	if (in == NULL || len == 0 || len > JPKI_MAX_CSR * 4)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "no certificate, or one too large");
	if ((bio = BIO_new_mem_buf(in, (int)len)) == NULL)
		return JPKI_ERR_NOMEM;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x == NULL) {
		const unsigned char *p = in;

		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && p != in + len) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	if (x == NULL) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the agency's certificate is neither PEM nor "
				 "DER");
		goto out;
	}
	if ((dlen = i2d_X509(x, &der)) <= 0) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = jpki_services_fingerprint(fp, der, (size_t)dlen)) != 0)
		goto out;
	{
		BIO *m = BIO_new(BIO_s_mem());
		char *p = NULL;
		long n;

		subject[0] = '\0';
		if (m != NULL &&
		    X509_NAME_print_ex(m, X509_get_subject_name(x), 0,
				       XN_FLAG_RFC2253) >= 0 &&
		    (n = BIO_get_mem_data(m, &p)) > 0)
			snprintf(subject, 256, "%.*s", (int)n, p);
		BIO_free(m);
	}
	r = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return r;
}

static int registry_clerk(const struct jpki_actor *by)
{
	return jpki_audit_authorize(by, JPKI_ROLE_REGISTRY_CLERK, NULL);
}

int jpki_services_agency_add(struct jpki_store *st, const struct jpki_actor *by,
			     const char *name, const unsigned char *cert,
			     size_t cert_len, const char *const *purposes,
			     size_t n_purposes)
{
	char fp[65], subject[256], *detail = NULL;
	struct jpki_rows *rows = NULL;
	int r;

	if (st == NULL || by == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store or actor");
	if ((r = registry_clerk(by)) != 0)
		return r;
	if (!name_ok(name))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an agency's name is 1 to 63 of "
				    "A-Z a-z 0-9 . _ -");
	if (n_purposes == 0 || n_purposes > JPKI_SERVICES_PURPOSES_MAX)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an agency needs 1 to %d purposes",
				    JPKI_SERVICES_PURPOSES_MAX);
	for (size_t i = 0; i < n_purposes; i++)
		if (!purpose_ok(purposes[i]))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "purpose '%.64s' is not 1 to 63 of "
					    "a-z 0-9 . _ -",
					    purposes[i] ? purposes[i] : "");
	if ((r = cert_read(fp, subject, cert, cert_len)) != 0)
		return r;
	if (asprintf(&detail, "{\"fingerprint\":\"%s\",\"purposes\":%zu}", fp,
		     n_purposes) < 0)
		return JPKI_ERR_NOMEM;
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	{
		struct jpki_value p[2] = {JPKI_V_TEXT(name), JPKI_V_TEXT(fp)};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT name FROM services_agency"
			 " WHERE name = $1 OR fingerprint = $2",
			 p, 2)) != 0)
			goto fail;
		if (jpki_rows_count(rows) > 0) {
			r = jpki_err_set(JPKI_ERR_EXISTS,
					 "agency %s, or one with this "
					 "certificate, is already registered",
					 name);
			goto fail;
		}
	}
	{
		struct jpki_value p[4] = {JPKI_V_TEXT(name), JPKI_V_TEXT(fp),
					  JPKI_V_TEXT(subject),
					  JPKI_V_INT(jpki_clock_now())};

		if ((r = jpki_store_exec(st,
					 "INSERT INTO services_agency (name,"
					 " fingerprint, subject, added_at)"
					 " VALUES ($1, $2, $3, $4)",
					 p, 4, NULL)) != 0)
			goto fail;
	}
	for (size_t i = 0; i < n_purposes; i++) {
		struct jpki_value p[2] = {JPKI_V_TEXT(name),
					  JPKI_V_TEXT(purposes[i])};

		if ((r = jpki_store_exec(st,
					 "INSERT INTO services_agency_purpose"
					 " (agency, purpose) VALUES ($1, $2)"
					 " ON CONFLICT DO NOTHING",
					 p, 2, NULL)) != 0)
			goto fail;
	}
	if ((r = jpki_audit_append(st, by, "services.agency-add", name,
				   detail)) != 0)
		goto fail;
	r = jpki_store_commit(st);
	goto out;
fail:
	jpki_store_rollback(st);
out:
	jpki_rows_free(rows);
	free(detail);
	return r;
}

int jpki_services_agency_remove(struct jpki_store *st,
				const struct jpki_actor *by, const char *name)
{
	struct jpki_value p = JPKI_V_TEXT(name ? name : "");
	int64_t changes = 0;
	int r;

	if (st == NULL || by == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store or actor");
	if ((r = registry_clerk(by)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_exec(st,
				 "DELETE FROM services_agency WHERE name = $1",
				 &p, 1, &changes)) != 0)
		goto fail;
	if (changes == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND, "no agency %.64s",
				 name ? name : "");
		goto fail;
	}
	if ((r = jpki_store_exec(st,
				 "DELETE FROM services_agency_purpose"
				 " WHERE agency = $1",
				 &p, 1, NULL)) != 0 ||
	    (r = jpki_audit_append(st, by, "services.agency-remove", name,
				   NULL)) != 0)
		goto fail;
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	return r;
}

static int load_purposes(struct jpki_services_agency *a, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(a->name);
	int r;

	if ((r = jpki_store_query(&rows, st,
				  "SELECT purpose FROM services_agency_purpose"
				  " WHERE agency = $1 ORDER BY purpose",
				  &p, 1)) != 0)
		return r;
	a->n_purposes = 0;
	for (size_t i = 0;
	     i < jpki_rows_count(rows) && i < JPKI_SERVICES_PURPOSES_MAX; i++)
		snprintf(a->purposes[a->n_purposes++],
			 JPKI_SERVICES_PURPOSE_LEN, "%s",
			 jpki_rows_text(rows, i, 0));
	jpki_rows_free(rows);
	return 0;
}

static void agency_from_row(struct jpki_services_agency *a,
			    const struct jpki_rows *rows, size_t i)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", jpki_rows_text(rows, i, 0));
	snprintf(a->fingerprint, sizeof(a->fingerprint), "%s",
		 jpki_rows_text(rows, i, 1));
	snprintf(a->subject, sizeof(a->subject), "%s",
		 jpki_rows_text(rows, i, 2));
	a->added_at = (time_t)jpki_rows_int(rows, i, 3);
}

int jpki_services_agency_list(struct jpki_services_agency **out, size_t *n,
			      struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT name, fingerprint, subject, added_at"
				  " FROM services_agency ORDER BY name",
				  NULL, 0)) != 0)
		return r;
	if (jpki_rows_count(rows) > 0 &&
	    (*out = calloc(jpki_rows_count(rows), sizeof(**out))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		agency_from_row(&(*out)[i], rows, i);
		if ((r = load_purposes(&(*out)[i], st)) != 0) {
			free(*out);
			*out = NULL;
			jpki_rows_free(rows);
			return r;
		}
	}
	*n = jpki_rows_count(rows);
	jpki_rows_free(rows);
	return 0;
}

int jpki_services_agency_find(struct jpki_services_agency *out,
			      struct jpki_store *st, const char *fingerprint)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(fingerprint ? fingerprint : "");
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = jpki_store_query(
		 &rows, st,
		 "SELECT name, fingerprint, subject, added_at"
		 " FROM services_agency WHERE fingerprint = $1",
		 &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "the certificate is no registered agency's");
	else {
		agency_from_row(out, rows, 0);
		r = load_purposes(out, st);
	}
	jpki_rows_free(rows);
	return r;
}

/* ---- the request ---------------------------------------------------- */

static int text_field(char *out, size_t size, json_t *v, const char *name)
{
	const char *s;

	if (!json_is_string(v))
		return jpki_err_set(JPKI_ERR_PARSE, "\"%s\" must be a string",
				    name);
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s) || strlen(s) >= size ||
	    s[0] == '\0')
		return jpki_err_set(JPKI_ERR_PARSE,
				    "\"%s\" must be 1 to %zu bytes without NUL",
				    name, size - 1);
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return jpki_err_set(JPKI_ERR_PARSE,
					    "\"%s\" holds a control character",
					    name);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int jpki_services_query_parse(struct jpki_services_query *out, const char *text,
			      size_t len)
{
	json_error_t jerr;
	json_t *o = NULL, *v;
	const char *key;
	char birth[16] = "";
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (text == NULL || len == 0 || len > JPKI_SERVICES_LINE_MAX)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "a request is 1 to %d bytes of JSON",
				    JPKI_SERVICES_LINE_MAX);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return jpki_err_set(JPKI_ERR_PARSE,
				    "a request is one JSON object");
	}
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "id") == 0)
			r = text_field(out->id, sizeof(out->id), v, key);
		else if (strcmp(key, "purpose") == 0)
			r = text_field(out->purpose, sizeof(out->purpose), v,
				       key);
		else if (strcmp(key, "resident_code") == 0)
			r = text_field(out->resident_code,
				       sizeof(out->resident_code), v, key);
		else if (strcmp(key, "name") == 0) {
			char raw[256];

			if ((r = text_field(raw, sizeof(raw), v, key)) == 0 &&
			    jpki_profile_name_normalize(
				out->name, sizeof(out->name), raw) != 0)
				r = jpki_err_set(JPKI_ERR_PARSE,
						 "\"name\" is not a name");
		} else if (strcmp(key, "birth") == 0) {
			if ((r = text_field(birth, sizeof(birth), v, key)) ==
				0 &&
			    jpki_date_parse(&out->birth, birth) != 0)
				r = jpki_err_set(JPKI_ERR_PARSE,
						 "\"birth\" must be a date "
						 "YYYY-MM-DD");
		} else
			r = jpki_err_set(JPKI_ERR_PARSE,
					 "unknown field \"%.32s\"", key);
		if (r != 0)
			break;
	}
	json_decref(o);
	if (r == 0 && !purpose_ok(out->purpose))
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "\"purpose\" (1 to 63 of a-z 0-9 . _ -) is "
				 "needed");
	else if (r == 0 && out->resident_code[0] != '\0' &&
		 (out->name[0] != '\0' || birth[0] != '\0'))
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "ask by \"resident_code\" or by \"name\" and "
				 "\"birth\", not both");
	else if (r == 0 && out->resident_code[0] == '\0' &&
		 (out->name[0] == '\0' || birth[0] == '\0'))
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "\"resident_code\", or \"name\" and "
				 "\"birth\", are needed");
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* ---- the look-up ---------------------------------------------------- */

static int has_purpose(const struct jpki_services_agency *a, const char *p)
{
	for (size_t i = 0; i < a->n_purposes && i < JPKI_SERVICES_PURPOSES_MAX;
	     i++)
		if (strcmp(a->purposes[i], p) == 0)
			return 1;
	return 0;
}

/* The person the query names: "" when none or more than one matches
 * (*ambiguous set for the latter). */
static int resolve(char person[64], int *ambiguous, struct jpki_store *st,
		   const struct jpki_services_query *q)
{
	struct jpki_rows *rows = NULL;
	char birth[11];
	int r;

	person[0] = '\0';
	*ambiguous = 0;
	if (q->resident_code[0] != '\0') {
		struct jpki_value p = JPKI_V_TEXT(q->resident_code);

		r = jpki_store_query(&rows, st,
				     "SELECT person FROM registry_resident"
				     " WHERE person = $1",
				     &p, 1);
	} else {
		struct jpki_value p[2];

		jpki_date_format(&q->birth, birth);
		p[0] = JPKI_V_TEXT(q->name);
		p[1] = JPKI_V_TEXT(birth);
		r = jpki_store_query(&rows, st,
				     "SELECT person FROM registry_resident"
				     " WHERE name = $1 AND birth = $2 LIMIT 2",
				     p, 2);
	}
	if (r != 0)
		return r;
	if (jpki_rows_count(rows) == 1)
		snprintf(person, 64, "%s", jpki_rows_text(rows, 0, 0));
	else if (jpki_rows_count(rows) > 1)
		*ambiguous = 1;
	jpki_rows_free(rows);
	return 0;
}

static int latest_change(struct jpki_services_answer *a, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(a->resident.person);
	int r;

	if ((r = jpki_store_query(
		 &rows, st,
		 "SELECT what, at FROM registry_event"
		 " WHERE person = $1 ORDER BY seq DESC LIMIT 1",
		 &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1) {
		snprintf(a->change, sizeof(a->change), "%s",
			 jpki_rows_text(rows, 0, 0));
		a->change_at = (time_t)jpki_rows_int(rows, 0, 1);
	} else {
		snprintf(a->change, sizeof(a->change), "register");
		a->change_at = a->resident.registered_at;
	}
	jpki_rows_free(rows);
	return 0;
}

/* ---- the look-ups by code, a group at a time ------------------------ */

/*
 * The residents of up to READ_GROUP look-ups by code, each with its latest
 * change, are read by one statement: the codes in one IN list (places not
 * needed bound to NULL, which matches nothing, so the text is always the
 * same and the store's prepared statement serves every group), the latest
 * change by a join on the (person, seq) index. One statement for a group
 * instead of two per look-up, decoded as it is read (no result rows
 * copied first): the reads were half of a batch look-up's time.
 */
#define READ_GROUP 64
#define READ_SLOTS (4 * READ_GROUP) /* a power of two */

#define READ_SQL_HEAD                                                          \
	"SELECT r.person, r.municipality, r.prefecture_name,"                  \
	" r.municipality_name, r.name, r.name_subst, r.sex, r.birth,"          \
	" r.address, r.address_subst, r.guardianship, r.status,"               \
	" r.registered_at, r.changed_at, e.what, e.at"                         \
	" FROM registry_resident r LEFT JOIN registry_event e"                 \
	" ON e.seq = (SELECT MAX(x.seq) FROM registry_event x"                 \
	" WHERE x.person = r.person)"                                          \
	" WHERE r.person IN ("

static char read_sql[sizeof(READ_SQL_HEAD) + READ_GROUP * 6 + 2];
static pthread_once_t read_sql_once = PTHREAD_ONCE_INIT;

static void read_sql_build(void)
{
	size_t len =
	    (size_t)snprintf(read_sql, sizeof(read_sql), "%s", READ_SQL_HEAD);

	for (size_t i = 0; i < READ_GROUP; i++)
		len += (size_t)snprintf(read_sql + len, sizeof(read_sql) - len,
					"%s$%zu", i ? ", " : "", i + 1);
	snprintf(read_sql + len, sizeof(read_sql) - len, ")");
}

struct group {
	struct jpki_services_answer *out; /* the batch's answers */
	const struct jpki_services_query *q;
	size_t k;                 /* look-ups of the group asking by code */
	size_t idx[READ_GROUP];   /* their places in q and out */
	size_t first[READ_GROUP]; /* the place of the first asking for the
				     same code (itself when it is first) */
	unsigned char slot[READ_SLOTS]; /* code's hash -> 1 + j, or 0 */
};

static size_t code_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (READ_SLOTS - 1);
}

/* j of the look-up asking for `code`, or -1. */
static long group_find(const struct group *g, const char *code)
{
	for (size_t h = code_hash(code);; h = (h + 1) & (READ_SLOTS - 1)) {
		unsigned j = g->slot[h];

		if (j == 0)
			return -1;
		if (strcmp(g->q[g->idx[j - 1]].resident_code, code) == 0)
			return (long)j - 1;
	}
}

static void group_add(struct group *g, size_t i)
{
	const char *code = g->q[i].resident_code;
	size_t h = code_hash(code), j = g->k++;

	g->idx[j] = i;
	g->first[j] = i;
	for (;; h = (h + 1) & (READ_SLOTS - 1)) {
		unsigned s = g->slot[h];

		if (s == 0) {
			g->slot[h] = (unsigned char)(j + 1);
			return;
		}
		if (strcmp(g->q[g->idx[s - 1]].resident_code, code) == 0) {
			g->first[j] = g->idx[s - 1];
			return;
		}
	}
}

static const char *cell_text(const struct jpki_value *c)
{
	return c->type == JPKI_VALUE_TEXT && c->s != NULL ? c->s : "";
}

/* src into dst of `size` bytes, cut as snprintf("%s") would. */
static void copy_cell(char *dst, size_t size, const struct jpki_value *c)
{
	const char *src = cell_text(c);
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* "YYYY-MM-DD" as the registry writes it; anything else as
 * jpki_date_parse reads it. */
static int birth_parse(struct jpki_date *d, const char *s)
{
	static const char digits[] = "dddd-dd-dd";

	for (size_t i = 0; i < 10; i++)
		if (digits[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != '-')
			return jpki_date_parse(d, s);
	if (s[10] != '\0')
		return jpki_date_parse(d, s);
	d->year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
		  (s[3] - '0');
	d->month = (s[5] - '0') * 10 + (s[6] - '0');
	d->day = (s[8] - '0') * 10 + (s[9] - '0');
	return jpki_date_valid(d) ? 0 : JPKI_ERR_INVALID;
}

/* One row of the group's statement into the answer of its look-up. */
static int group_row(void *arg, const struct jpki_value *c, size_t columns)
{
	struct group *g = arg;
	struct jpki_services_answer *a;
	struct jpki_resident *res;
	long j;

	if (columns != 16 || (j = group_find(g, cell_text(&c[0]))) < 0)
		return 0;
	a = &g->out[g->idx[j]];
	res = &a->resident;
	copy_cell(res->person, sizeof(res->person), &c[0]);
	copy_cell(res->municipality_code, sizeof(res->municipality_code),
		  &c[1]);
	copy_cell(res->prefecture, sizeof(res->prefecture), &c[2]);
	copy_cell(res->municipality, sizeof(res->municipality), &c[3]);
	copy_cell(res->facts.name, sizeof(res->facts.name), &c[4]);
	copy_cell(res->facts.name_subst, sizeof(res->facts.name_subst), &c[5]);
	res->facts.sex = (enum jpki_sex)c[6].i;
	if (c[7].type != JPKI_VALUE_TEXT ||
	    birth_parse(&res->facts.birth, cell_text(&c[7])) != 0)
		return jpki_err_set(JPKI_ERR_STORE,
				    "resident %s has an unreadable date of "
				    "birth in the store",
				    res->person);
	copy_cell(res->facts.address, sizeof(res->facts.address), &c[8]);
	copy_cell(res->facts.address_subst, sizeof(res->facts.address_subst),
		  &c[9]);
	res->guardianship = c[10].i != 0;
	res->status = (enum jpki_resident_status)c[11].i;
	res->registered_at = (time_t)c[12].i;
	res->changed_at = (time_t)c[13].i;
	if (c[14].type == JPKI_VALUE_TEXT) {
		copy_cell(a->change, sizeof(a->change), &c[14]);
		a->change_at = (time_t)c[15].i;
	} else {
		memcpy(a->change, "register", sizeof("register"));
		a->change_at = res->registered_at;
	}
	a->found = 1;
	return 0;
}

/* Reads the residents of the group's look-ups by code into their answers
 * (found set for those registered). */
static int group_read(struct group *g, struct jpki_store *st)
{
	struct jpki_value p[READ_GROUP];
	size_t n = 0;
	int r;

	if (g->k == 0)
		return 0;
	pthread_once(&read_sql_once, read_sql_build);
	for (size_t j = 0; j < g->k; j++)
		if (g->first[j] == g->idx[j])
			p[n++] = JPKI_V_TEXT(g->q[g->idx[j]].resident_code);
	while (n < READ_GROUP)
		p[n++] = JPKI_V_NULL;
	if ((r = jpki_store_each(st, read_sql, p, READ_GROUP, group_row, g)) !=
	    0)
		return r;
	for (size_t j = 0; j < g->k; j++)
		if (g->first[j] != g->idx[j] && g->out[g->first[j]].found)
			g->out[g->idx[j]] = g->out[g->first[j]];
	return 0;
}

/*
 * A batch's records waiting to be written, inside its transaction: the
 * services_lookup rows go LOOKUP_ROWS at a time in one multi-row INSERT
 * and the audit entries through one appender (the chain's head read and
 * written once a batch), so a look-up costs a share of a read and a few
 * writes instead of six statements. All of it lands at the commit.
 */
#define LOOKUP_ROWS 64

#define LOOKUP_INSERT_HEAD                                                     \
	"INSERT INTO services_lookup_recent (seq, at, agency, person,"         \
	" purpose, outcome) VALUES "

struct lookup_row {
	int64_t seq, at;
	char person[64];
	char purpose[JPKI_SERVICES_PURPOSE_LEN];
	char outcome[16];
};

struct batch {
	struct jpki_store *st;
	struct jpki_audit_appender *ap;
	const char *agency;
	struct jpki_actor actor; /* the agency, as the chain names it */
	size_t n;
	struct lookup_row rows[LOOKUP_ROWS];
};

static void lookup_sql(char *sql, size_t size, size_t n)
{
	size_t len = (size_t)snprintf(sql, size, "%s", LOOKUP_INSERT_HEAD);

	for (size_t i = 0, k = 0; i < n && len < size; i++, k += 6)
		len += (size_t)snprintf(
		    sql + len, size - len,
		    "%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu)", i ? ", " : "",
		    k + 1, k + 2, k + 3, k + 4, k + 5, k + 6);
}

/* The INSERT of a full LOOKUP_ROWS, written once. */
static char lookup_full_sql[sizeof(LOOKUP_INSERT_HEAD) + LOOKUP_ROWS * 48];
static pthread_once_t lookup_full_once = PTHREAD_ONCE_INIT;

static void lookup_full_build(void)
{
	lookup_sql(lookup_full_sql, sizeof(lookup_full_sql), LOOKUP_ROWS);
}

static int batch_flush(struct batch *b)
{
	struct jpki_value p[LOOKUP_ROWS * 6];
	char partial[sizeof(lookup_full_sql)];
	const char *sql = lookup_full_sql;
	size_t k = 0;
	int r;

	if (b->n == 0)
		return 0;
	if (b->n == LOOKUP_ROWS)
		pthread_once(&lookup_full_once, lookup_full_build);
	else {
		lookup_sql(partial, sizeof(partial), b->n);
		sql = partial;
	}
	for (size_t i = 0; i < b->n; i++) {
		p[k++] = JPKI_V_INT(b->rows[i].seq);
		p[k++] = JPKI_V_INT(b->rows[i].at);
		p[k++] = JPKI_V_TEXT(b->agency);
		p[k++] = JPKI_V_TEXT(b->rows[i].person);
		p[k++] = JPKI_V_TEXT(b->rows[i].purpose);
		p[k++] = JPKI_V_TEXT(b->rows[i].outcome);
	}
	r = jpki_store_exec(b->st, sql, p, k, NULL);
	b->n = 0;
	return r;
}

/* s into dst of `size` bytes, cut as snprintf("%s") would. */
static void copy_text(char *dst, size_t size, const char *s)
{
	size_t n = strnlen(s, size - 1);

	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* One look-up's row and audit entry, into the batch. */
static int record(struct batch *b, const char *municipality, const char *person,
		  const char *purpose, const char *outcome, const char *by)
{
	char detail[64 + JPKI_SERVICES_PURPOSE_LEN + 64], *d = detail;
	int r;

	/* {"purpose":P,"by":B,"outcome":O}: P is a parser's word (checked
	 * in jpki_services_lookup_many), B and O are ours */
	d = stpcpy(d, "{\"purpose\":\"");
	d = stpcpy(d, purpose);
	d = stpcpy(d, "\",\"by\":\"");
	d = stpcpy(d, by);
	d = stpcpy(d, "\",\"outcome\":\"");
	d = stpcpy(d, outcome);
	stpcpy(d, "\"}");
	copy_text(b->actor.municipality_code,
		  sizeof(b->actor.municipality_code),
		  municipality ? municipality : "");
	if (b->n == LOOKUP_ROWS && (r = batch_flush(b)) != 0)
		return r;
	if ((r = jpki_audit_appender_add(b->ap, &b->actor,
					 strcmp(outcome, "refused") == 0
					     ? "services.lookup.refused"
					     : "services.lookup",
					 person, detail)) != 0)
		return r;
	b->rows[b->n].seq = jpki_audit_appender_seq(b->ap);
	b->rows[b->n].at = jpki_clock_now();
	copy_text(b->rows[b->n].person, sizeof(b->rows[b->n].person), person);
	copy_text(b->rows[b->n].purpose, sizeof(b->rows[b->n].purpose),
		  purpose);
	copy_text(b->rows[b->n].outcome, sizeof(b->rows[b->n].outcome),
		  outcome);
	b->n++;
	return 0;
}

/* Moves the journal into services_lookup inside the caller's transaction
 * (every writer's transaction holds the store's writer lock, so nothing
 * lands in the journal between the copy and the delete). */
int services_lookup_fold_tx(int64_t *moved, struct jpki_store *st)
{
	int r;

	*moved = 0;
	if ((r = jpki_store_exec(st,
				 "INSERT INTO services_lookup (at, agency,"
				 " person, purpose, outcome)"
				 " SELECT at, agency, person, purpose, outcome"
				 " FROM services_lookup_recent"
				 " ORDER BY person, at, seq",
				 NULL, 0, moved)) != 0)
		return r;
	return jpki_store_exec(st, "DELETE FROM services_lookup_recent", NULL,
			       0, NULL);
}

int jpki_services_lookup_fold(size_t *n, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	int64_t moved = 0;
	int r;

	if (n != NULL)
		*n = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	/* idle: one plain read, no transaction */
	if ((r = jpki_store_query(
		 &rows, st, "SELECT 1 FROM services_lookup_recent LIMIT 1",
		 NULL, 0)) != 0)
		return r;
	if (jpki_rows_count(rows) == 0) {
		jpki_rows_free(rows);
		return 0;
	}
	jpki_rows_free(rows);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = services_lookup_fold_tx(&moved, st)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	if (n != NULL)
		*n = (size_t)moved;
	return 0;
}

/* One look-up inside the caller's transaction, its resident already read
 * when it asks by code (group_read): 0 with *rc the answer's (0, or
 * JPKI_ERR_POLICY for the purpose), or a store error. */
static int lookup_one(struct jpki_services_answer *out, int *rc, char why[256],
		      struct batch *b,
		      const struct jpki_services_agency *agency,
		      const struct jpki_services_query *q)
{
	struct jpki_store *st = b->st;
	const char *by = q->resident_code[0] ? "resident_code" : "name+birth";
	char person[64];
	int ambiguous = 0, r;

	*rc = 0;
	if (!has_purpose(agency, q->purpose)) {
		*rc = JPKI_ERR_POLICY;
		snprintf(why, 256,
			 "agency %s is not registered for the purpose %s",
			 agency->name, q->purpose);
		/* who asked for whom matters even when refused, but a
		 * refused query is not resolved: the subject is the code
		 * asked for, or nothing for a name */
		return record(b, NULL, q->resident_code, q->purpose, "refused",
			      by);
	}
	if (q->resident_code[0] != '\0') {
		if (out->found)
			return record(b, out->resident.municipality_code,
				      out->resident.person, q->purpose, "found",
				      by);
		return record(b, NULL, "", q->purpose, "not found", by);
	}
	if ((r = resolve(person, &ambiguous, st, q)) != 0)
		return r;
	if (person[0] != '\0') {
		if ((r = jpki_registry_get(&out->resident, st, person)) != 0 ||
		    (r = latest_change(out, st)) != 0)
			return r;
		out->found = 1;
		return record(b, out->resident.municipality_code, person,
			      q->purpose, "found", by);
	}
	return record(b, NULL, "", q->purpose,
		      ambiguous ? "ambiguous" : "not found", by);
}

size_t jpki_services_batch_chunk(size_t done)
{
	/* The first answers leave after a small chunk; a long batch then
	 * grows its transactions, each commit's fsync shared by more
	 * look-ups (a chunk's answers wait for its commit). */
	size_t chunk = JPKI_SERVICES_CHUNK_MIN;

	while (chunk < JPKI_SERVICES_CHUNK_MAX && done >= 2 * chunk)
		chunk *= 2;
	return chunk;
}

int jpki_services_lookup_many(struct jpki_services_answer *out, int *rcs,
			      struct jpki_store *st,
			      const struct jpki_services_agency *agency,
			      const struct jpki_services_query *q, size_t n)
{
	struct batch *b = NULL;
	struct group *g = NULL;
	char why[256] = "";
	int r;

	if (st == NULL || agency == NULL ||
	    (n > 0 && (q == NULL || out == NULL || rcs == NULL)))
		return jpki_err_set(JPKI_ERR_INVALID, "no store or agency");
	if (n == 0)
		return 0;
	/* the purpose goes into the audit entry's JSON as it is: only the
	 * parser's words (a caller may fill a query by hand) */
	for (size_t i = 0; i < n; i++)
		if (!purpose_ok(q[i].purpose) ||
		    strnlen(q[i].resident_code, sizeof(q[i].resident_code)) ==
			sizeof(q[i].resident_code))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "look-up %zu has no valid purpose "
					    "or resident code",
					    i + 1);
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (g = calloc(1, sizeof(*g))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	b->st = st;
	b->agency = agency->name;
	/* as the single append had it: the name cut to the field */
	memcpy(b->actor.operator_id, "agency:", 7);
	copy_text(b->actor.operator_id + 7, sizeof(b->actor.operator_id) - 7,
		  agency->name);
	/* no operator role: an agency is a system, not a clerk */
	b->actor.role = (enum jpki_role)0;
	g->out = out;
	g->q = q;
	memset(out, 0, n * sizeof(*out));
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	if ((r = jpki_audit_appender_open(&b->ap, st)) != 0)
		goto fail;
	for (size_t at = 0; at < n; at += READ_GROUP) {
		size_t end = n - at < READ_GROUP ? n : at + READ_GROUP;

		g->k = 0;
		memset(g->slot, 0, sizeof(g->slot));
		for (size_t i = at; i < end; i++)
			if (q[i].resident_code[0] != '\0' &&
			    has_purpose(agency, q[i].purpose))
				group_add(g, i);
		if ((r = group_read(g, st)) != 0)
			goto fail;
		for (size_t i = at; i < end; i++)
			if ((r = lookup_one(&out[i], &rcs[i], why, b, agency,
					    &q[i])) != 0)
				goto fail;
	}
	if ((r = batch_flush(b)) != 0 ||
	    (r = jpki_audit_appender_finish(b->ap)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	/* the sentence of the last refusal, for a single look-up's caller */
	if (why[0] != '\0')
		(void)jpki_err_set(JPKI_ERR_POLICY, "%s", why);
	r = 0;
	goto out;
fail:
	jpki_store_rollback(st);
out:
	if (r != 0 && out != NULL)
		memset(out, 0, n * sizeof(*out));
	if (b != NULL)
		jpki_audit_appender_free(b->ap);
	free(b);
	free(g);
	return r;
}

int jpki_services_lookup(struct jpki_services_answer *out,
			 struct jpki_store *st,
			 const struct jpki_services_agency *agency,
			 const struct jpki_services_query *q)
{
	int rc = 0, r;

	if ((r = jpki_services_lookup_many(out, &rc, st, agency, q, 1)) != 0)
		return r;
	return rc;
}

int jpki_services_lookup_unknown(struct jpki_store *st, const char *subject,
				 const char *fingerprint)
{
	struct jpki_actor actor;
	json_t *d;
	char *detail;
	int r;

	memset(&actor, 0, sizeof(actor));
	snprintf(actor.operator_id, sizeof(actor.operator_id), "agency:?");
	d = json_pack("{s:s,s:s,s:s}", "outcome", "unregistered certificate",
		      "subject", subject ? subject : "", "fingerprint",
		      fingerprint ? fingerprint : "");
	detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (detail == NULL)
		return JPKI_ERR_NOMEM;
	r = jpki_audit_record(st, &actor, "services.lookup.refused", "",
			      detail);
	free(detail);
	return r;
}

static const char *sex_word(enum jpki_sex s)
{
	switch (s) {
	case JPKI_SEX_MALE:
		return "male";
	case JPKI_SEX_FEMALE:
		return "female";
	default:
		return "unknown";
	}
}

static const char *status_word(enum jpki_resident_status s)
{
	switch (s) {
	case JPKI_RESIDENT_REGISTERED:
		return "registered";
	case JPKI_RESIDENT_DEAD:
		return "dead";
	default:
		return "removed";
	}
}

char *jpki_services_answer_json(const struct jpki_services_query *q,
				const struct jpki_services_answer *a)
{
	json_t *o;
	char *text, birth[11], day[11], address[1024];

	if (!a->found)
		o = json_pack("{s:s,s:s}", "id", q ? q->id : "", "result",
			      "not found");
	else {
		struct jpki_date d = jpki_date_of(a->change_at);

		jpki_date_format(&a->resident.facts.birth, birth);
		jpki_date_format(&d, day);
		/* the 4th fact whole, as the residence certificate gives it */
		snprintf(address, sizeof(address), "%s%s%s",
			 a->resident.prefecture, a->resident.municipality,
			 a->resident.facts.address);
		o = json_pack(
		    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "id",
		    q ? q->id : "", "result", "found", "resident_code",
		    a->resident.person, "name", a->resident.facts.name, "birth",
		    birth, "sex", sex_word(a->resident.facts.sex), "address",
		    address, "status", status_word(a->resident.status),
		    "change", "kind", a->change, "date", day);
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}
