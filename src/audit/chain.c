/*
 * The audit chain: an append-only table in which every entry carries the
 * hash of the one before it, and the audit module's schema.
 *
 * Entry i stores
 *
 *   hash_i = SHA-256(prev_i || seq_i || at_i || lp(operator_i) || role_i ||
 *                    lp(municipality_i) || lp(action_i) || lp(subject_i) ||
 *                    detail_i)
 *
 * where prev_i is hash_{i-1} as 32 raw bytes (32 zero bytes for entry 1),
 * seq is 8 bytes big-endian, at 8 bytes big-endian (two's complement), role
 * 4 bytes big-endian, lp(s) a 4-byte big-endian byte count followed by the
 * bytes, and detail one byte 0 (NULL) or 1 followed by lp(detail). Every
 * field has a fixed size or a length prefix, so no two different entries
 * encode to the same bytes. The sequence number is hashed too, so an entry
 * cannot be moved to another place without its hash showing it.
 *
 * A one-row table, audit_head, records the last entry's seq and hash in the
 * same transaction; appends continue from it. It is what catches a deleted
 * or forged entry at the end of the chain, which the links alone cannot.
 *
 * How each kind of tampering shows in jpki_audit_verify (walking in seq
 * order):
 *  - edited: an entry's fields (or its stored hash) no longer give its
 *    hash: "entry N was edited".
 *  - deleted: a gap in seq ("entry N is missing"); deleted and the later
 *    entries renumbered to close the gap: the entry now at N hashes only
 *    under a later seq ("entry N is missing: later entries were
 *    renumbered"); the last entry deleted: the head names an entry the
 *    chain no longer has.
 *  - inserted: an entry whose own hash holds (the forger computed it) but
 *    whose prev_hash is not the hash of the entry before it: "entry N was
 *    inserted"; appended after the last with a correct link: the head does
 *    not know it.
 *  - reordered (two entries' contents swapped): the entry at N hashes only
 *    under another seq M, and the one at M under N: "entries N and M were
 *    swapped".
 * The chain has no secret: someone who can write the database and who
 * rewrites every entry from the tampered one on, and the head, leaves a
 * consistent chain. Anchor it outside the database (an auditor notes the
 * last hash) to catch that.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit/audit_internal.h"

#define GENESIS                                                                \
	"0000000000000000000000000000000000000000000000000000000000000000"
#define MAX_ACTION 64
#define MAX_SUBJECT 256
#define MAX_DETAIL (64 * 1024)
#define VERIFY_PAGE 1000

static const struct jpki_migration migrations[] = {
    {1, "CREATE TABLE audit_operator ("
	" id TEXT PRIMARY KEY,"
	" role INTEGER NOT NULL,"
	" municipality TEXT NOT NULL,"
	" password TEXT NOT NULL,"
	" created_at BIGINT NOT NULL);"
	"CREATE TABLE audit_session ("
	" token_hash TEXT PRIMARY KEY,"
	" operator_id TEXT NOT NULL,"
	" ttl BIGINT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" expires_at BIGINT NOT NULL);"
	"CREATE INDEX audit_session_operator ON audit_session (operator_id);"
	"CREATE TABLE audit_log ("
	" seq BIGINT PRIMARY KEY,"
	" at BIGINT NOT NULL,"
	" operator TEXT NOT NULL,"
	" role INTEGER NOT NULL,"
	" municipality TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" detail TEXT,"
	" prev_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE TABLE audit_head ("
	" id INTEGER PRIMARY KEY,"
	" seq BIGINT NOT NULL,"
	" hash TEXT NOT NULL)"},
    /* Log-in limits and disabled operators (operator.c, manage.c). */
    {2, "ALTER TABLE audit_operator ADD COLUMN disabled INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE audit_operator ADD COLUMN failures INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE audit_operator ADD COLUMN wait_until BIGINT NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE audit_operator ADD COLUMN locked INTEGER NOT NULL"
	" DEFAULT 0;"
	"CREATE TABLE audit_login_addr ("
	" addr TEXT PRIMARY KEY,"
	" failures INTEGER NOT NULL,"
	" wait_until BIGINT NOT NULL,"
	" last_at BIGINT NOT NULL);"
	"CREATE INDEX audit_login_addr_last ON audit_login_addr (last_at)"},
    /* The window office an operator works at; "" (every operator added
     * before offices existed) is the municipality's main office. */
    {3, "ALTER TABLE audit_operator ADD COLUMN office TEXT NOT NULL"
	" DEFAULT ''"},
};

int audit_migrate(struct jpki_store *st)
{
	return jpki_store_migrate(st, "audit", migrations,
				  sizeof(migrations) / sizeof(migrations[0]));
}

int jpki_audit_migrate(struct jpki_store *st)
{
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	return audit_migrate(st);
}

int audit_code_valid(const char *code)
{
	return code != NULL && strlen(code) == 6 &&
	       strspn(code, "0123456789") == 6;
}

int audit_sha256_hex(char out[65], const void *p, size_t n)
{
	unsigned char md[32];
	unsigned int len = 0;

	out[0] = '\0';
	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != 32)
		return jpki_err_set(JPKI_ERR_CRYPTO, "SHA-256 failed");
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* One entry as stored. */
struct entry {
	int64_t seq;
	int64_t at;
	const char *operator_id;
	int64_t role;
	const char *municipality;
	const char *action;
	const char *subject;
	const char *detail; /* may be NULL */
	const char *prev_hash;
	const char *hash;
};

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* By hand rather than sscanf: it runs twice per entry appended or
 * verified, and sscanf per byte was a tenth of a batch look-up's time. */
static int hex_decode32(unsigned char out[32], const char *hex)
{
	if (hex == NULL || strlen(hex) != 64)
		return 0;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_nibble(hex[2 * i]),
		    lo = hex_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 1;
}

static void hex_encode32(char out[65], const unsigned char md[32])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

/*
 * The bytes an entry hashes, gathered in a buffer and handed to the digest
 * a buffer at a time: one EVP_DigestUpdate per entry instead of one per
 * field (a field by itself was a fifth of an appended entry's time). The
 * bytes are the same as field by field.
 */
struct sink {
	EVP_MD_CTX *ctx;
	size_t len;
	int ok;
	unsigned char buf[512];
};

static void sink_put(struct sink *k, const void *p, size_t n)
{
	if (!k->ok || n == 0)
		return;
	if (n > sizeof(k->buf) - k->len) {
		k->ok = EVP_DigestUpdate(k->ctx, k->buf, k->len);
		k->len = 0;
		if (n > sizeof(k->buf)) {
			k->ok = k->ok && EVP_DigestUpdate(k->ctx, p, n);
			return;
		}
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
}

static void put_be(struct sink *k, uint64_t v, size_t bytes)
{
	unsigned char b[8];

	for (size_t i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	sink_put(k, b, bytes);
}

static void put_lp(struct sink *k, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > UINT32_MAX) {
		k->ok = 0;
		return;
	}
	put_be(k, n, 4);
	sink_put(k, s, n);
}

/*
 * SHA-256 of entry `e` at sequence number `seq` after the entry whose hash
 * is `prev` (32 raw bytes), with the caller's context and digest (an
 * appender keeps one of each for all its entries).
 */
static int entry_digest(unsigned char md[32], EVP_MD_CTX *ctx,
			const EVP_MD *sha, const unsigned char prev[32],
			const struct entry *e, int64_t seq)
{
	struct sink k = {.ctx = ctx, .ok = 1};
	unsigned int len = 0;

	if (!EVP_DigestInit_ex(ctx, sha, NULL))
		return jpki_err_set(JPKI_ERR_CRYPTO, "SHA-256 failed");
	sink_put(&k, prev, 32);
	put_be(&k, (uint64_t)seq, 8);
	put_be(&k, (uint64_t)e->at, 8);
	put_lp(&k, e->operator_id);
	put_be(&k, (uint64_t)(uint32_t)e->role, 4);
	put_lp(&k, e->municipality);
	put_lp(&k, e->action);
	put_lp(&k, e->subject);
	put_be(&k, e->detail != NULL, 1);
	if (e->detail != NULL)
		put_lp(&k, e->detail);
	if (!k.ok || (k.len > 0 && !EVP_DigestUpdate(ctx, k.buf, k.len)) ||
	    !EVP_DigestFinal_ex(ctx, md, &len) || len != 32)
		return jpki_err_set(JPKI_ERR_CRYPTO, "SHA-256 failed");
	return 0;
}

/*
 * The hash entry `e` would have at sequence number `seq`, lower-case hex.
 * Returns 0, or 1 when the stored prev_hash is not a hash at all (the entry
 * was edited), or a negative error.
 */
static int entry_hash(char out[65], const struct entry *e, int64_t seq)
{
	unsigned char prev[32], md[32];
	EVP_MD_CTX *ctx = NULL;
	int r;

	out[0] = '\0';
	if (!hex_decode32(prev, e->prev_hash))
		return 1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = entry_digest(md, ctx, EVP_sha256(), prev, e, seq)) == 0)
		hex_encode32(out, md);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Whether `e`'s stored hash is the hash of its fields at `seq`. */
static int hash_holds(int *holds, const struct entry *e, int64_t seq)
{
	char h[65];
	int r;

	*holds = 0;
	if ((r = entry_hash(h, e, seq)) < 0)
		return r;
	*holds = r == 0 && e->hash != NULL && strlen(e->hash) == 64 &&
		 CRYPTO_memcmp(h, e->hash, 64) == 0;
	return 0;
}

/* UTF-8: ASCII (every entry of a look-up batch) passes at a glance, the
 * rest through the full check from its first non-ASCII byte (a character
 * boundary, as all before it is ASCII). */
static int utf8_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80)
			return jpki_utf8_chars((const char *)p) >= 0;
	return 1;
}

static int text_ok(const char *s, size_t max, int may_be_empty)
{
	size_t n;

	if (s == NULL)
		return may_be_empty;
	n = strlen(s);
	return (n > 0 || may_be_empty) && n <= max && utf8_ok(s);
}

/*
 * An appender: the chain's head read once, entries hashed one after the
 * other in memory and written AUDIT_ROWS at a time by one multi-row INSERT,
 * the head written once at the end. A batch of look-ups then costs the
 * chain two statements plus one per AUDIT_ROWS entries instead of three
 * per entry, with the very hashes N single appends give (each entry is
 * hashed as jpki_audit_append would, from the entry before it). Its rows
 * are fixed slots reused from one INSERT to the next, and one digest
 * context serves every entry: a batch allocates nothing per entry.
 */
#define AUDIT_ROWS 64
#define AUDIT_COLS 10

struct audit_row {
	int64_t seq, at, role;
	char op[sizeof(((struct jpki_actor *)0)->operator_id) + 1];
	char mun[sizeof(((struct jpki_actor *)0)->municipality_code) + 1];
	char action[MAX_ACTION + 1];
	char subject[MAX_SUBJECT + 1];
	char prev[65], hash[65];
	int has_detail;
	char *detail; /* kept from one use of the slot to the next */
	size_t detail_cap;
};

struct jpki_audit_appender {
	struct jpki_store *st;
	EVP_MD *sha;
	EVP_MD_CTX *ctx;
	int64_t seq;   /* the last entry's, appended or not yet written */
	char prev[65]; /* its hash */
	unsigned char prev_md[32];
	int prev_ok; /* prev is a hash (the head may be damaged) */
	size_t n;    /* entries waiting in `rows` */
	struct audit_row rows[AUDIT_ROWS];
};

#define INSERT_HEAD                                                            \
	"INSERT INTO audit_log (seq, at, operator, role, municipality,"        \
	" action, subject, detail, prev_hash, hash) VALUES "

/* The INSERT of n rows ($1 ... $n*10). */
static void insert_sql(char *sql, size_t size, size_t n)
{
	size_t len = (size_t)snprintf(sql, size, INSERT_HEAD);

	for (size_t i = 0, k = 0; i < n && len < size; i++, k += AUDIT_COLS)
		len += (size_t)snprintf(
		    sql + len, size - len,
		    "%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu,"
		    " $%zu)",
		    i ? ", " : "", k + 1, k + 2, k + 3, k + 4, k + 5, k + 6,
		    k + 7, k + 8, k + 9, k + 10);
}

/* The INSERT of a full AUDIT_ROWS, written once: the same text each time
 * finds the store's prepared statement. */
static char full_sql[sizeof(INSERT_HEAD) + AUDIT_ROWS * 80];
static pthread_once_t full_sql_once = PTHREAD_ONCE_INIT;

static void full_sql_build(void)
{
	insert_sql(full_sql, sizeof(full_sql), AUDIT_ROWS);
}

/* Writes the waiting entries: one INSERT of AUDIT_ROWS when full, else
 * INSERTs of 32, 16, ... 1 rows (one for each bit of the count), so that a
 * backend keeps at most seven statement texts prepared rather than one per
 * count (a PostgreSQL connection keeps a bounded number, and the registry
 * consumer's batches end at any count). */
static int rows_flush(struct jpki_audit_appender *ap)
{
	struct jpki_value p[AUDIT_ROWS * AUDIT_COLS];
	char partial[sizeof(full_sql)];
	int r = 0;

	for (size_t from = 0; from < ap->n && r == 0;) {
		size_t n = AUDIT_ROWS, k = 0;
		const char *sql = full_sql;

		while (n > ap->n - from)
			n /= 2;
		if (n == AUDIT_ROWS)
			pthread_once(&full_sql_once, full_sql_build);
		else {
			insert_sql(partial, sizeof(partial), n);
			sql = partial;
		}
		for (size_t i = from; i < from + n; i++) {
			const struct audit_row *w = &ap->rows[i];

			p[k++] = JPKI_V_INT(w->seq);
			p[k++] = JPKI_V_INT(w->at);
			p[k++] = JPKI_V_TEXT(w->op);
			p[k++] = JPKI_V_INT(w->role);
			p[k++] = JPKI_V_TEXT(w->mun);
			p[k++] = JPKI_V_TEXT(w->action);
			p[k++] = JPKI_V_TEXT(w->subject);
			p[k++] = w->has_detail ? JPKI_V_TEXT(w->detail)
					       : JPKI_V_NULL;
			p[k++] = JPKI_V_TEXT(w->prev);
			p[k++] = JPKI_V_TEXT(w->hash);
		}
		r = jpki_store_exec(ap->st, sql, p, k, NULL);
		from += n;
	}
	ap->n = 0;
	return r;
}

int jpki_audit_appender_open(struct jpki_audit_appender **out,
			     struct jpki_store *st)
{
	struct jpki_audit_appender *ap;
	struct jpki_rows *rows = NULL;
	int r;

	if (out == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no appender");
	*out = NULL;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an audit entry needs a store");
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return JPKI_ERR_NOMEM;
	ap->st = st;
	/* fetched once for the batch: EVP_sha256() would look the
	 * implementation up again at every entry's init */
	if ((ap->sha = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (ap->ctx = EVP_MD_CTX_new()) == NULL) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "no SHA-256");
		goto out;
	}
	snprintf(ap->prev, sizeof(ap->prev), GENESIS);
	/* Continue from the head, not from the last row: a deleted last
	 * entry then stays a visible gap instead of being written over. */
	if ((r = jpki_store_query(&rows, st,
				  "SELECT seq, hash FROM audit_head"
				  " WHERE id = 1",
				  NULL, 0)) != 0)
		goto out;
	if (jpki_rows_count(rows) == 0) {
		jpki_rows_free(rows);
		rows = NULL;
		if ((r = jpki_store_query(&rows, st,
					  "SELECT seq, hash FROM audit_log"
					  " ORDER BY seq DESC LIMIT 1",
					  NULL, 0)) != 0)
			goto out;
	}
	if (jpki_rows_count(rows) == 1) {
		ap->seq = jpki_rows_int(rows, 0, 0);
		snprintf(ap->prev, sizeof(ap->prev), "%s",
			 jpki_rows_text(rows, 0, 1) ? jpki_rows_text(rows, 0, 1)
						    : "");
	}
	ap->prev_ok = hex_decode32(ap->prev_md, ap->prev);
	*out = ap;
	ap = NULL;
	r = 0;
out:
	jpki_rows_free(rows);
	jpki_audit_appender_free(ap);
	return r;
}

/* s into a slot's field of `size` bytes; 0 when it does not fit. */
static int put_field(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		return 0;
	memcpy(dst, s, n + 1);
	return 1;
}

int jpki_audit_appender_add(struct jpki_audit_appender *ap,
			    const struct jpki_actor *actor, const char *action,
			    const char *subject, const char *detail)
{
	struct audit_row *w;
	struct entry e = {0};
	unsigned char md[32];
	size_t dlen = 0;
	int r;

	if (ap == NULL || actor == NULL)
		return jpki_err_set(
		    JPKI_ERR_INVALID,
		    "an audit entry needs a store and an actor");
	if (ap->n == AUDIT_ROWS && (r = rows_flush(ap)) != 0)
		return r;
	w = &ap->rows[ap->n];
	/* The actor is a fixed-size struct from the caller: read it only
	 * within its bounds. */
	memcpy(w->op, actor->operator_id, sizeof(actor->operator_id));
	w->op[sizeof(actor->operator_id)] = '\0';
	memcpy(w->mun, actor->municipality_code,
	       sizeof(actor->municipality_code));
	w->mun[sizeof(actor->municipality_code)] = '\0';
	if (w->op[0] == '\0' || !text_ok(w->op, sizeof(w->op), 0) ||
	    !text_ok(w->mun, sizeof(w->mun), 1))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an audit entry needs the acting "
				    "operator's name");
	if (!text_ok(action, MAX_ACTION, 0))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an audit entry needs an action of 1 to "
				    "%d bytes",
				    MAX_ACTION);
	if (!text_ok(subject, MAX_SUBJECT, 1))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an audit entry's subject must be UTF-8 "
				    "of at most %d bytes",
				    MAX_SUBJECT);
	if (detail != NULL && !text_ok(detail, MAX_DETAIL, 1))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an audit entry's detail must be UTF-8 of "
				    "at most %d bytes",
				    MAX_DETAIL);
	if (!ap->prev_ok)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the audit chain's head is damaged: run "
				    "the audit verifier");
	if (!put_field(w->action, sizeof(w->action), action) ||
	    !put_field(w->subject, sizeof(w->subject), subject ? subject : ""))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an audit entry's action or subject is "
				    "too long");
	w->has_detail = detail != NULL;
	if (detail != NULL) {
		dlen = strlen(detail);
		if (dlen + 1 > w->detail_cap) {
			char *d = realloc(w->detail, dlen + 1);

			if (d == NULL)
				return JPKI_ERR_NOMEM;
			w->detail = d;
			w->detail_cap = dlen + 1;
		}
		memcpy(w->detail, detail, dlen + 1);
	}
	e.seq = ap->seq + 1;
	e.at = jpki_clock_now();
	e.operator_id = w->op;
	e.role = actor->role;
	e.municipality = w->mun;
	e.action = w->action;
	e.subject = w->subject;
	e.detail = w->has_detail ? w->detail : NULL;
	if ((r = entry_digest(md, ap->ctx, ap->sha, ap->prev_md, &e, e.seq)) !=
	    0)
		return r;
	w->seq = e.seq;
	w->at = e.at;
	w->role = e.role;
	memcpy(w->prev, ap->prev, sizeof(w->prev));
	hex_encode32(w->hash, md);
	ap->n++;
	ap->seq = e.seq;
	memcpy(ap->prev, w->hash, sizeof(ap->prev));
	memcpy(ap->prev_md, md, sizeof(md));
	return 0;
}

int64_t jpki_audit_appender_seq(const struct jpki_audit_appender *ap)
{
	return ap != NULL ? ap->seq : 0;
}

int jpki_audit_appender_finish(struct jpki_audit_appender *ap)
{
	struct jpki_value p[2];
	int r;

	if (ap == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no appender");
	if ((r = rows_flush(ap)) != 0)
		return r;
	if (ap->seq == 0)
		return 0;
	p[0] = JPKI_V_INT(ap->seq);
	p[1] = JPKI_V_TEXT(ap->prev);
	return jpki_store_exec(ap->st,
			       "INSERT INTO audit_head (id, seq, hash)"
			       " VALUES (1, $1, $2) ON CONFLICT (id)"
			       " DO UPDATE SET seq = excluded.seq,"
			       " hash = excluded.hash",
			       p, 2, NULL);
}

void jpki_audit_appender_free(struct jpki_audit_appender *ap)
{
	if (ap == NULL)
		return;
	for (size_t i = 0; i < AUDIT_ROWS; i++)
		free(ap->rows[i].detail);
	EVP_MD_CTX_free(ap->ctx);
	EVP_MD_free(ap->sha);
	free(ap);
}

int jpki_audit_append(struct jpki_store *st, const struct jpki_actor *actor,
		      const char *action, const char *subject,
		      const char *detail)
{
	struct jpki_audit_appender *ap = NULL;
	int r;

	if (st == NULL || actor == NULL)
		return jpki_err_set(
		    JPKI_ERR_INVALID,
		    "an audit entry needs a store and an actor");
	if ((r = jpki_audit_appender_open(&ap, st)) == 0 &&
	    (r = jpki_audit_appender_add(ap, actor, action, subject, detail)) ==
		0)
		r = jpki_audit_appender_finish(ap);
	jpki_audit_appender_free(ap);
	return r;
}

int jpki_audit_record(struct jpki_store *st, const struct jpki_actor *actor,
		      const char *action, const char *subject,
		      const char *detail)
{
	int r;

	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_audit_append(st, actor, action, subject, detail)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	return jpki_store_commit(st);
}

static void entry_from_row(struct entry *e, const struct jpki_rows *rows,
			   size_t i)
{
	e->seq = jpki_rows_int(rows, i, 0);
	e->at = jpki_rows_int(rows, i, 1);
	e->operator_id = jpki_rows_text(rows, i, 2);
	e->role = jpki_rows_int(rows, i, 3);
	e->municipality = jpki_rows_text(rows, i, 4);
	e->action = jpki_rows_text(rows, i, 5);
	e->subject = jpki_rows_text(rows, i, 6);
	e->detail = jpki_rows_text(rows, i, 7);
	e->prev_hash = jpki_rows_text(rows, i, 8);
	e->hash = jpki_rows_text(rows, i, 9);
}

#define ENTRY_COLUMNS                                                          \
	"seq, at, operator, role, municipality, action, subject, detail,"      \
	" prev_hash, hash"

static void bad(struct jpki_audit_report *report, int64_t seq, const char *fmt,
		...) JPKI_PRINTF(3, 4);

static void bad(struct jpki_audit_report *report, int64_t seq, const char *fmt,
		...)
{
	va_list ap;

	report->ok = 0;
	report->bad_seq = (uint64_t)seq;
	va_start(ap, fmt);
	vsnprintf(report->why, sizeof(report->why), fmt, ap);
	va_end(ap);
}

/* Loads the entry stored at `seq` (rows NULL if none). */
static int load_at(struct jpki_rows **rows, struct jpki_store *st, int64_t seq)
{
	struct jpki_value p = JPKI_V_INT(seq);
	int r;

	if ((r = jpki_store_query(rows, st,
				  "SELECT " ENTRY_COLUMNS
				  " FROM audit_log WHERE seq = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(*rows) == 0) {
		jpki_rows_free(*rows);
		*rows = NULL;
	}
	return 0;
}

/*
 * Entry `e` at its place does not hash: find out whether its content
 * belongs at another place (reordered, or renumbered after a deletion) or
 * was edited, and say so in the report.
 */
static int explain_mismatch(struct jpki_audit_report *report,
			    struct jpki_store *st, const struct entry *e,
			    int64_t last_seq)
{
	struct jpki_rows *other = NULL;
	int holds = 0, r;

	for (int64_t m = 1; m <= last_seq + 1; m++) {
		if (m == e->seq)
			continue;
		if ((r = hash_holds(&holds, e, m)) != 0)
			return r;
		if (holds) {
			struct entry o;
			int back = 0;

			if ((r = load_at(&other, st, m)) != 0)
				return r;
			if (other != NULL) {
				entry_from_row(&o, other, 0);
				r = hash_holds(&back, &o, e->seq);
				jpki_rows_free(other);
				if (r != 0)
					return r;
			}
			if (back)
				bad(report, e->seq,
				    "entries %" PRId64 " and %" PRId64
				    " were swapped: each holds the other's "
				    "content",
				    e->seq, m);
			else if (m > e->seq)
				bad(report, e->seq,
				    "entry %" PRId64 " is missing: later "
				    "entries were renumbered to close the gap",
				    e->seq);
			else
				bad(report, e->seq,
				    "entry %" PRId64 " holds the content of "
				    "entry %" PRId64 ": entries were reordered",
				    e->seq, m);
			return 0;
		}
	}
	bad(report, e->seq,
	    "entry %" PRId64 " was edited: its content does not match its "
	    "hash",
	    e->seq);
	return 0;
}

/* After the walk: the head must name the last entry. */
static int check_head(struct jpki_audit_report *report, struct jpki_store *st,
		      int64_t last_seq, const char *last_hash)
{
	struct jpki_rows *rows = NULL;
	int64_t seq;
	const char *hash;
	int r;

	if ((r = jpki_store_query(&rows, st,
				  "SELECT seq, hash FROM audit_head"
				  " WHERE id = 1",
				  NULL, 0)) != 0)
		return r;
	if (jpki_rows_count(rows) == 0) {
		if (last_seq > 0)
			bad(report, last_seq,
			    "the chain's head record is gone (the chain has "
			    "%" PRId64 " entries)",
			    last_seq);
		goto out;
	}
	seq = jpki_rows_int(rows, 0, 0);
	hash = jpki_rows_text(rows, 0, 1);
	if (seq > last_seq)
		bad(report, last_seq + 1,
		    "entry %" PRId64 " is missing: the chain ends at entry "
		    "%" PRId64 " but its head records entry %" PRId64,
		    last_seq + 1, last_seq, seq);
	else if (seq < last_seq)
		bad(report, seq + 1,
		    "entry %" PRId64 " was inserted: the chain's head "
		    "records only %" PRId64 " entries",
		    seq + 1, seq);
	else if (hash == NULL || strlen(hash) != 64 || last_hash == NULL ||
		 CRYPTO_memcmp(hash, last_hash, 64) != 0)
		bad(report, last_seq,
		    "entry %" PRId64 " was rewritten: the chain's head "
		    "records another hash for it",
		    last_seq);
out:
	jpki_rows_free(rows);
	return 0;
}

int jpki_audit_verify(struct jpki_audit_report *report, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL, *max = NULL;
	char prev[65] = GENESIS;
	int64_t expect = 1, last_seq = 0;
	int r = JPKI_ERR_INTERNAL;

	memset(report, 0, sizeof(*report));
	report->ok = 1;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = audit_migrate(st)) != 0)
		return r;
	if ((r = jpki_store_query(&max, st,
				  "SELECT COALESCE(MAX(seq), 0) FROM audit_log",
				  NULL, 0)) != 0)
		return r;
	last_seq = jpki_rows_int(max, 0, 0);
	jpki_rows_free(max);
	for (;;) {
		struct jpki_value p[] = {JPKI_V_INT(expect - 1),
					 JPKI_V_INT(VERIFY_PAGE)};
		size_t n;

		if ((r = jpki_store_query(&rows, st,
					  "SELECT " ENTRY_COLUMNS
					  " FROM audit_log WHERE seq > $1"
					  " ORDER BY seq LIMIT $2",
					  p, 2)) != 0)
			goto out;
		n = jpki_rows_count(rows);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			struct entry e;
			int holds;

			entry_from_row(&e, rows, i);
			if (e.seq != expect) {
				bad(report, expect,
				    "entry %" PRId64 " is missing: the chain "
				    "goes from entry %" PRId64
				    " to entry %" PRId64,
				    expect, expect - 1, e.seq);
				goto done;
			}
			report->entries++;
			if ((r = hash_holds(&holds, &e, e.seq)) != 0)
				goto out;
			if (!holds) {
				if ((r = explain_mismatch(report, st, &e,
							  last_seq)) != 0)
					goto out;
				goto done;
			}
			if (e.prev_hash == NULL ||
			    strcmp(e.prev_hash, prev) != 0) {
				bad(report, e.seq,
				    "entry %" PRId64 " was inserted: it does "
				    "not follow entry %" PRId64
				    " (its link does not hold)",
				    e.seq, e.seq - 1);
				goto done;
			}
			snprintf(prev, sizeof(prev), "%s", e.hash);
			expect++;
		}
		jpki_rows_free(rows);
		rows = NULL;
	}
	if ((r = check_head(report, st, expect - 1, prev)) != 0)
		goto out;
done:
	if (!report->ok)
		jpki_log(JPKI_LOG_WARN, "audit chain: %s", report->why);
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}
