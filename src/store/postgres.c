/*
 * The PostgreSQL backend of the store, over libpq.
 *
 * It keeps the SQLite backend's semantics so that modules cannot tell the
 * two apart: `$n` parameters bind by number (PostgreSQL's own syntax), rows
 * are materialised, a transaction serialises against every other writer of
 * the same database (a transaction-scoped advisory lock taken at BEGIN
 * stands in for SQLite's BEGIN IMMEDIATE, so read-then-write code such as
 * "the next id is MAX(id) + 1" stays correct), and commits are durable with
 * the server's default synchronous_commit = on. A thread's read connection
 * (autocommit, default_transaction_read_only) sees every transaction
 * committed before its statement starts, as the main connection would.
 *
 * Migration DDL is written for SQLite; two type names are translated here,
 * in CREATE and ALTER statements only: BLOB becomes BYTEA and INTEGER
 * becomes BIGINT (SQLite's INTEGER holds 64 bits, PostgreSQL's 32).
 *
 * Every connection keeps its statements prepared (parsed and planned once,
 * keyed by their text), as the SQLite backend does, and asks for results in
 * binary where every column is of a type decoded here: a DER certificate or
 * a CRL then comes as its bytes rather than as hex text twice its size.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "jpki/store.h"
#include "store/store_internal.h"

/* Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
 */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_NAME 19
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_NUMERIC 1700

/* How many prepared statements a connection keeps: more than the distinct
 * statements a server runs in its steady state, so that none is evicted
 * and prepared again on the hot path. */
#define STMT_CACHE 128

/* A kept statement is prepared again after this many executions, then
 * after four times as many, and so on. PostgreSQL keeps a statement's
 * generic plan, made after its fifth execution, until the table's
 * statistics change: one made while a table was nearly empty (a new CA's
 * ca_cert) scans it whole, and would still do so thousands of rows later
 * in a process that runs before autovacuum analyses it. Prepared again, it
 * is planned for the table as it is now; a server's steady state prepares
 * a statement a handful of times in its life. */
#define STMT_REPLAN_FIRST 64

/* A statement prepared on one connection, and what it was prepared for. */
struct pg_stmt {
	char *sql;	/* its text as the module wrote it: the key */
	char *types;	/* per parameter 'b' (bytea) or '-' (untyped) */
	uint32_t hash;	/* of both, to skip most comparisons */
	char name[16];	/* the server's name for it, "jpki_<n>" */
	int binary;	/* results in binary: cell_value decodes every column */
	uint64_t runs;	   /* executions so far */
	uint64_t replan_at; /* prepared again at this many */
};

/* A connection with the statements prepared on it. The server forgets them
 * when the session ends, so a reset connection starts with none. */
struct pg_conn {
	PGconn *conn;
	struct pg_stmt stmts[STMT_CACHE];
	size_t used;	/* stmts[0..used) are prepared */
	unsigned named; /* statements named so far */
};

/* The advisory lock every store transaction takes: "JPKI" in ASCII. */
#define WRITER_LOCK "1246776137"

struct pg_store {
	struct jpki_store base; /* first: the handle is a jpki_store */
	struct pg_conn main;
	char *url; /* for the read connections */
};

static struct pg_conn *pc_of(struct jpki_store *st)
{
	return &((struct pg_store *)st)->main;
}

static PGconn *conn_of(struct jpki_store *st)
{
	return pc_of(st)->conn;
}

/* libpq's messages end in a newline; the store's details are sentences. */
static int pg_error(const char *msg, const char *what)
{
	size_t len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	return jpki_err_set(JPKI_ERR_STORE, "postgres %s: %.*s", what, (int)len,
			    msg);
}

static void stmt_clear(struct pg_stmt *s)
{
	free(s->sql);
	free(s->types);
	memset(s, 0, sizeof(*s));
}

/* Forgets every statement kept for the connection (its session is new, or
 * a schema change may have changed what they return); `deallocate` also
 * tells the server, when the session is still the one they were made in. */
static void stmts_forget(struct pg_conn *pc, int deallocate)
{
	if (deallocate && pc->used > 0 && PQstatus(pc->conn) == CONNECTION_OK)
		PQclear(PQexec(pc->conn, "DEALLOCATE ALL"));
	for (size_t i = 0; i < pc->used; i++)
		stmt_clear(&pc->stmts[i]);
	pc->used = 0;
}

/* A lost connection (server restart, idle timeout) is re-established
 * between transactions; inside one the transaction is lost anyway and the
 * statement fails. The new session has none of the old one's statements. */
static void keep_alive(struct pg_conn *pc, int in_txn)
{
	if (!in_txn && PQstatus(pc->conn) == CONNECTION_BAD) {
		stmts_forget(pc, 0);
		PQreset(pc->conn);
	}
}

static int exec_plain(struct jpki_store *st, const char *sql)
{
	PGresult *res = PQexec(conn_of(st), sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		r = pg_error(PQerrorMessage(conn_of(st)), sql);
	PQclear(res);
	return r;
}

static int word_is(const char *p, const char *word)
{
	size_t len = strlen(word);

	return strncasecmp(p, word, len) == 0 &&
	       !(isalnum((unsigned char)p[len]) || p[len] == '_');
}

/*
 * For CREATE and ALTER statements: a copy with the SQLite type names BLOB
 * and INTEGER replaced by BYTEA and BIGINT outside quotes; NULL (and *out
 * NULL) for any other statement, which runs as written.
 */
static int ddl_types(char **out, const char *sql)
{
	const char *p = sql;
	char *copy, *o;
	char quote = 0;

	*out = NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (!word_is(p, "CREATE") && !word_is(p, "ALTER"))
		return 0;
	/* Each replacement grows by at most 2 bytes per 4 or 7 read. */
	if ((copy = malloc(strlen(sql) * 2 + 1)) == NULL)
		return JPKI_ERR_NOMEM;
	o = copy;
	for (p = sql; *p != '\0'; p++) {
		int boundary = p == sql ||
			       !(isalnum((unsigned char)p[-1]) || p[-1] == '_');

		if (quote != 0) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (boundary && word_is(p, "BLOB")) {
			o = stpcpy(o, "BYTEA");
			p += 3;
			continue;
		} else if (boundary && word_is(p, "INTEGER")) {
			o = stpcpy(o, "BIGINT");
			p += 6;
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	*out = copy;
	return 0;
}

/* The error of a failed result (NULL: out of memory or a lost connection):
 * a unique key's violation is JPKI_ERR_EXISTS, anything else a store error
 * in the server's words. */
static int result_error(PGresult *res, PGconn *conn, const char *what)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	/* 23505 unique_violation: the key is there already. */
	if (state != NULL && strcmp(state, "23505") == 0)
		return jpki_err_set(JPKI_ERR_EXISTS, "postgres: %s",
				    msg ? msg : "duplicate key");
	return pg_error(res ? PQresultErrorMessage(res) : PQerrorMessage(conn),
			what);
}

static int result_ok(const PGresult *res)
{
	return PQresultStatus(res) == PGRES_COMMAND_OK ||
	       PQresultStatus(res) == PGRES_TUPLES_OK;
}

/* Whether a failure means the kept statement itself is gone or stale: the
 * server no longer knows its name (26000, after a DISCARD or DEALLOCATE
 * by someone else), or a table it reads changed its columns since it was
 * prepared (0A000 "cached plan must not change result type"). Prepared
 * again, it runs. */
static int stale_statement(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && (strcmp(state, "26000") == 0 ||
				 strcmp(state, "0A000") == 0);
}

/* FNV-1a over the text and the parameter types. */
static uint32_t stmt_hash(const char *sql, const char *types)
{
	uint32_t h = 2166136261u;

	for (const char *p = sql; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = types; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* Whether binary results of these columns are what cell_value decodes:
 * integers, booleans, floats, bytea and text types (sent as their bytes,
 * which libpq ends with a zero byte as it does text). A statement with
 * any other column (numeric, timestamps) keeps text results. */
static int binary_columns(const PGresult *desc)
{
	for (int c = 0; c < PQnfields(desc); c++) {
		switch (PQftype(desc, c)) {
		case OID_BOOL:
		case OID_BYTEA:
		case OID_NAME:
		case OID_INT8:
		case OID_INT2:
		case OID_INT4:
		case OID_TEXT:
		case OID_OID:
		case OID_FLOAT4:
		case OID_FLOAT8:
		case OID_BPCHAR:
		case OID_VARCHAR:
			break;
		default:
			return 0;
		}
	}
	return 1;
}

/* Prepares a kept statement again under a new name (see
 * STMT_REPLAN_FIRST) and lets the server free the old one. Where that
 * fails (inside a failed transaction) the old one stays, to be prepared
 * again at its next run. */
static void replan(struct pg_conn *pc, struct pg_stmt *s, const char *sql,
		   const Oid *oids, int n)
{
	char name[sizeof(s->name)], sql_free[40];
	PGresult *res;
	int binary;

	snprintf(name, sizeof(name), "jpki_%u", pc->named++);
	res = PQprepare(pc->conn, name, sql, n, oids);
	if (!result_ok(res)) {
		PQclear(res);
		return;
	}
	PQclear(res);
	/* its columns again: another session's DDL may have changed them */
	res = PQdescribePrepared(pc->conn, name);
	if (!result_ok(res)) {
		PQclear(res);
		return;
	}
	binary = binary_columns(res);
	PQclear(res);
	s->binary = binary;
	snprintf(sql_free, sizeof(sql_free), "DEALLOCATE %s", s->name);
	PQclear(PQexec(pc->conn, sql_free));
	memcpy(s->name, name, sizeof(name));
	s->replan_at = s->runs * 4;
}

/*
 * The connection's prepared statement for `sql` with these parameter types
 * (`types` as in struct pg_stmt): the kept one, or one prepared now (a
 * PQprepare and a PQdescribePrepared, once per connection and statement).
 */
static int statement(struct pg_stmt **out, struct pg_conn *pc,
		     const char *sql, const char *types, const Oid *oids,
		     int n)
{
	uint32_t h = stmt_hash(sql, types);
	struct pg_stmt *s;
	PGresult *res = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	for (size_t i = 0; i < pc->used; i++) {
		s = &pc->stmts[i];
		if (s->hash == h && strcmp(s->sql, sql) == 0 &&
		    strcmp(s->types, types) == 0) {
			if (++s->runs >= s->replan_at)
				replan(pc, s, sql, oids, n);
			*out = s;
			return 0;
		}
	}
	/* Full: start again rather than track which is oldest, as the
	 * SQLite backend does; a server's steady state never gets here. */
	if (pc->used == STMT_CACHE)
		stmts_forget(pc, 1);
	s = &pc->stmts[pc->used];
	snprintf(s->name, sizeof(s->name), "jpki_%u", pc->named++);
	res = PQprepare(pc->conn, s->name, sql, n, oids);
	if (!result_ok(res)) {
		r = result_error(res, pc->conn, "statement");
		goto out;
	}
	PQclear(res);
	res = PQdescribePrepared(pc->conn, s->name);
	if (!result_ok(res)) {
		r = result_error(res, pc->conn, "statement");
		goto out;
	}
	if ((s->sql = strdup(sql)) == NULL ||
	    (s->types = strdup(types)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	s->hash = h;
	s->binary = binary_columns(res);
	s->runs = 1;
	s->replan_at = STMT_REPLAN_FIRST;
	pc->used++;
	*out = s;
	r = 0;
out:
	PQclear(res);
	/* A name the server may hold is never given again: the statement
	 * is forgotten with its session. */
	if (r != 0)
		stmt_clear(s);
	return r;
}

/* Runs one statement with its parameters; *res is the result, or NULL on
 * failure with the error set. DDL runs unprepared (and makes the
 * connection forget its statements, whose results it may change); every
 * other statement runs prepared. */
static int run(PGresult **res, struct pg_conn *pc, int in_txn, const char *sql,
	       const struct jpki_value *params, size_t n)
{
	const char **values = NULL;
	int *lengths = NULL, *formats = NULL;
	Oid *types = NULL;
	char(*ints)[24] = NULL;
	char *ddl = NULL, *sig = NULL;
	int r = JPKI_ERR_INTERNAL;

	*res = NULL;
	if (n > 65535)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%zu parameters are more than PostgreSQL "
				    "takes.",
				    n);
	if ((r = ddl_types(&ddl, sql)) != 0)
		return r;
	if ((sig = calloc(n + 1, 1)) == NULL ||
	    (n > 0 && ((values = calloc(n, sizeof(*values))) == NULL ||
		       (lengths = calloc(n, sizeof(*lengths))) == NULL ||
		       (formats = calloc(n, sizeof(*formats))) == NULL ||
		       (types = calloc(n, sizeof(*types))) == NULL ||
		       (ints = calloc(n, sizeof(*ints))) == NULL))) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	/* Integers and text go as untyped text, so the server infers their
	 * type from the context as SQLite's loose typing would; blobs go as
	 * binary bytea. */
	for (size_t i = 0; i < n; i++) {
		sig[i] = '-';
		switch (params[i].type) {
		case JPKI_VALUE_NULL:
			break;
		case JPKI_VALUE_INT:
			snprintf(ints[i], sizeof(ints[i]), "%" PRId64,
				 params[i].i);
			values[i] = ints[i];
			break;
		case JPKI_VALUE_TEXT:
			values[i] = params[i].s;
			break;
		case JPKI_VALUE_BLOB:
			if (params[i].len > INT32_MAX) {
				r = jpki_err_set(JPKI_ERR_TOO_LARGE,
						 "a %zu-byte blob is too large "
						 "for one parameter.",
						 params[i].len);
				goto out;
			}
			/* libpq reads a NULL value as SQL NULL. */
			values[i] = params[i].len ? params[i].b : "";
			lengths[i] = (int)params[i].len;
			formats[i] = 1;
			types[i] = OID_BYTEA;
			sig[i] = 'b';
			break;
		}
	}
	keep_alive(pc, in_txn);
	if (ddl != NULL) {
		stmts_forget(pc, 1);
		*res = PQexecParams(pc->conn, ddl, (int)n, types, values,
				    lengths, formats, 0);
	} else {
		for (int attempt = 0;; attempt++) {
			struct pg_stmt *s = NULL;

			if ((r = statement(&s, pc, sql, sig, types, (int)n)) !=
			    0)
				goto out;
			*res = PQexecPrepared(pc->conn, s->name, (int)n,
					      values, lengths, formats,
					      s->binary);
			if (result_ok(*res) || !stale_statement(*res))
				break;
			/* Prepared again and run once more, where a failed
			 * statement has not aborted a transaction. */
			stmts_forget(pc, 1);
			if (in_txn || attempt > 0)
				break;
			PQclear(*res);
			*res = NULL;
		}
	}
	if (result_ok(*res)) {
		r = 0;
	} else {
		r = result_error(*res, pc->conn, "statement");
		PQclear(*res);
		*res = NULL;
	}
out:
	free(values);
	free(lengths);
	free(formats);
	free(types);
	free(ints);
	free(ddl);
	free(sig);
	return r;
}

static int pg_exec(struct jpki_store *st, const char *sql,
		   const struct jpki_value *params, size_t n, int64_t *changes)
{
	PGresult *res = NULL;
	int r;

	if ((r = run(&res, pc_of(st), st->in_txn, sql, params, n)) != 0)
		return r;
	if (changes != NULL)
		*changes = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

/* A big-endian integer of `len` bytes (binary results). */
static uint64_t big_endian(const char *s, int len)
{
	uint64_t v = 0;

	for (int i = 0; i < len; i++)
		v = v << 8 | (unsigned char)s[i];
	return v;
}

/* A binary cell of one of binary_columns()'s types. */
static int binary_value(struct jpki_value *v, const char *s, int len, Oid type)
{
	int want = 0;

	switch (type) {
	case OID_BOOL:
		want = 1;
		break;
	case OID_INT2:
		want = 2;
		break;
	case OID_INT4:
	case OID_OID:
	case OID_FLOAT4:
		want = 4;
		break;
	case OID_INT8:
	case OID_FLOAT8:
		want = 8;
		break;
	case OID_BYTEA:
		/* the bytes themselves, borrowed from the result */
		*v = JPKI_V_BLOB(s, (size_t)len);
		return 0;
	default:
		/* text types: their bytes, and libpq's zero byte after */
		*v = JPKI_V_TEXT(s);
		return 0;
	}
	if (len != want)
		return jpki_err_set(JPKI_ERR_STORE,
				    "postgres: a %d-byte binary value of type "
				    "%u",
				    len, (unsigned)type);
	switch (type) {
	case OID_BOOL:
		*v = JPKI_V_INT(*s != 0);
		break;
	case OID_INT2:
		*v = JPKI_V_INT((int16_t)big_endian(s, 2));
		break;
	case OID_INT4:
		*v = JPKI_V_INT((int32_t)big_endian(s, 4));
		break;
	case OID_OID:
		*v = JPKI_V_INT((uint32_t)big_endian(s, 4));
		break;
	case OID_INT8:
		*v = JPKI_V_INT((int64_t)big_endian(s, 8));
		break;
	case OID_FLOAT4: {
		uint32_t bits = (uint32_t)big_endian(s, 4);
		float f;

		memcpy(&f, &bits, sizeof(f));
		*v = JPKI_V_INT((int64_t)f);
		break;
	}
	case OID_FLOAT8: {
		uint64_t bits = big_endian(s, 8);
		double d;

		memcpy(&d, &bits, sizeof(d));
		*v = JPKI_V_INT((int64_t)d);
		break;
	}
	}
	return 0;
}

/* One result cell as the SQLite backend would give it: integers as INT,
 * bytea as BLOB, everything else as TEXT. A binary result's blob is
 * borrowed from the result; a text one is unescaped into *bytes, which the
 * caller frees with PQfreemem. */
static int cell_value(struct jpki_value *v, unsigned char **bytes,
		      PGresult *res, int row, int col)
{
	const char *s = PQgetvalue(res, row, col);
	size_t len = 0;

	*v = JPKI_V_NULL;
	*bytes = NULL;
	if (PQgetisnull(res, row, col))
		return 0;
	if (PQfformat(res, col) == 1)
		return binary_value(v, s, PQgetlength(res, row, col),
				    PQftype(res, col));
	switch (PQftype(res, col)) {
	case OID_BOOL:
		*v = JPKI_V_INT(*s == 't');
		break;
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
	case OID_NUMERIC:
		*v = JPKI_V_INT(strtoll(s, NULL, 10));
		break;
	case OID_FLOAT4:
	case OID_FLOAT8:
		*v = JPKI_V_INT((int64_t)strtod(s, NULL));
		break;
	case OID_BYTEA:
		if ((*bytes = PQunescapeBytea((const unsigned char *)s,
					      &len)) == NULL)
			return JPKI_ERR_NOMEM;
		*v = JPKI_V_BLOB(*bytes, len);
		break;
	default:
		*v = JPKI_V_TEXT(s);
		break;
	}
	return 0;
}

static int each_conn(struct pg_conn *conn, int in_txn, const char *sql,
		     const struct jpki_value *params, size_t n, jpki_row_fn fn,
		     void *arg)
{
	PGresult *res = NULL;
	struct jpki_value *cells = NULL;
	unsigned char **bytes = NULL;
	size_t columns = 0;
	int r;

	if ((r = run(&res, conn, in_txn, sql, params, n)) != 0)
		goto out;
	columns = (size_t)PQnfields(res);
	if ((cells = calloc(columns ? columns : 1, sizeof(*cells))) == NULL ||
	    (bytes = calloc(columns ? columns : 1, sizeof(*bytes))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		for (size_t c = 0; c < columns && r == 0; c++)
			r = cell_value(&cells[c], &bytes[c], res, i, (int)c);
		if (r == 0)
			r = fn(arg, cells, columns);
		for (size_t c = 0; c < columns; c++) {
			PQfreemem(bytes[c]);
			bytes[c] = NULL;
		}
	}
out:
	PQclear(res);
	free(cells);
	free(bytes);
	return r;
}

static int pg_each(struct jpki_store *st, const char *sql,
		   const struct jpki_value *params, size_t n, jpki_row_fn fn,
		   void *arg)
{
	return each_conn(pc_of(st), st->in_txn, sql, params, n, fn, arg);
}

static int pg_begin(struct jpki_store *st)
{
	int r;

	keep_alive(pc_of(st), st->in_txn);
	/* Writers queue here, as on SQLite's write lock; the server lets go
	 * at commit or rollback, or when the connection dies. Both in one
	 * round trip (one simple query of two statements). */
	if ((r = exec_plain(st, "BEGIN; SELECT pg_advisory_xact_lock(" WRITER_LOCK
				")")) != 0)
		(void)exec_plain(st, "ROLLBACK");
	return r;
}

static int pg_commit(struct jpki_store *st)
{
	PGresult *res = PQexec(conn_of(st), "COMMIT");
	int r = 0;

	/* COMMIT of a transaction in which a statement failed succeeds as a
	 * ROLLBACK: that is a failed commit. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_error(PQerrorMessage(conn_of(st)), "commit");
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		r = jpki_err_set(JPKI_ERR_STORE,
				 "postgres commit: the transaction was rolled "
				 "back after an earlier failure.");
	PQclear(res);
	return r;
}

static void pg_rollback(struct jpki_store *st)
{
	/* After a failed COMMIT there is no transaction left; the server's
	 * warning about it goes to the silenced notice processor. */
	(void)exec_plain(st, "ROLLBACK");
}

/* Session-level (not transaction-level) advisory locks: held across the
 * transactions the holder runs, and let go by the server if the process
 * dies. A key of its own, never WRITER_LOCK. */
static int pg_try_lock(struct jpki_store *st, int64_t key, int *got)
{
	struct jpki_value p = JPKI_V_INT(key);
	PGresult *res = NULL;
	int r;

	struct jpki_value v = JPKI_V_NULL;
	unsigned char *bytes = NULL;

	if ((r = run(&res, pc_of(st), st->in_txn,
		     "SELECT pg_try_advisory_lock($1::bigint)", &p, 1)) != 0)
		return r;
	if (PQntuples(res) == 1 && PQnfields(res) == 1 &&
	    (r = cell_value(&v, &bytes, res, 0, 0)) == 0)
		*got = v.type == JPKI_VALUE_INT && v.i == 1;
	PQfreemem(bytes);
	PQclear(res);
	return r;
}

static void pg_unlock(struct jpki_store *st, int64_t key)
{
	struct jpki_value p = JPKI_V_INT(key);
	PGresult *res = NULL;

	if (run(&res, pc_of(st), st->in_txn,
		"SELECT pg_advisory_unlock($1::bigint)", &p, 1) == 0)
		PQclear(res);
}

static void pg_close(struct jpki_store *st)
{
	stmts_forget(pc_of(st), 0);
	PQfinish(conn_of(st));
	free(((struct pg_store *)st)->url);
}

/* Notices (such as "there is no transaction in progress") are not errors;
 * the store reports failures through its return codes. */
static void quiet(void *arg, const char *message)
{
}

/*
 * A read connection is made read-only by its options, which libpq's
 * target_session_attrs=read-write then refuses ("session is read-only"),
 * so that every thread waited for the main connection instead. For it,
 * "primary" picks the same server (not a standby) among the URL's hosts.
 * 1 when the URL asks for read-write.
 */
static int asks_read_write(const char *url)
{
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	int yes = 0;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "target_session_attrs") == 0 &&
		    o->val != NULL && strcmp(o->val, "read-write") == 0)
			yes = 1;
	PQconninfoFree(opts);
	return yes;
}

/* The main connection and the read ones alike. */
static int connect_url(PGconn **out, const char *url, int read_only)
{
	const char *keys[] = {"dbname", "client_encoding", "options",
			      "target_session_attrs", NULL};
	const char *values[] = {url, "UTF8",
				"-c default_transaction_read_only=on",
				"primary", NULL};
	int r = JPKI_ERR_INTERNAL;

	/* The URL may carry a password: the error names the server's answer,
	 * not the URL. */
	/* The encoding goes with the connection options, so that PQreset()
	 * after a lost connection keeps it. */
	if (!read_only)
		keys[2] = NULL;
	else if (!asks_read_write(url))
		keys[3] = NULL;
	if ((*out = PQconnectdbParams(keys, values, 1)) == NULL)
		return JPKI_ERR_NOMEM;
	if (PQstatus(*out) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(*out);
		size_t len = strlen(msg);

		while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
			len--;
		/* libpq's sentence says what failed; which of the URL's
		 * parameters to look at is ours to add */
		if (strstr(msg, "SSL") != NULL ||
		    strstr(msg, "certificate") != NULL ||
		    strstr(msg, "pg_hba.conf") != NULL)
			r = jpki_err_set(JPKI_ERR_STORE,
					 "postgres connect: %.*s (the link's "
					 "TLS: sslmode, sslrootcert, sslcert "
					 "and sslkey in the store URL)",
					 (int)len, msg);
		else
			r = pg_error(msg, "connect");
		PQfinish(*out);
		*out = NULL;
		return r;
	}
	PQsetNoticeProcessor(*out, quiet, NULL);
	return 0;
}

static int pg_reader_open(void **out, struct jpki_store *st)
{
	struct pg_conn *pc = calloc(1, sizeof(*pc));
	int r;

	*out = NULL;
	if (pc == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = connect_url(&pc->conn, ((struct pg_store *)st)->url, 1)) !=
	    0) {
		free(pc);
		return r;
	}
	*out = pc;
	return 0;
}

static void pg_reader_close(void *conn)
{
	struct pg_conn *pc = conn;

	stmts_forget(pc, 0);
	PQfinish(pc->conn);
	free(pc);
}

static int pg_reader_each(void *conn, const char *sql,
			  const struct jpki_value *params, size_t n,
			  jpki_row_fn fn, void *arg)
{
	return each_conn(conn, 0, sql, params, n, fn, arg);
}

static const struct jpki_store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec = pg_exec,
    .each = pg_each,
    .reader_open = pg_reader_open,
    .reader_close = pg_reader_close,
    .reader_each = pg_reader_each,
    .try_lock = pg_try_lock,
    .unlock = pg_unlock,
};

int jpki_store_postgres_open(struct jpki_store **out, const char *url)
{
	struct pg_store *ps = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return JPKI_ERR_NOMEM;
	jpki_store_init(&ps->base, &pg_ops);
	if ((ps->url = strdup(url)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = connect_url(&ps->main.conn, url, 0)) != 0)
		goto out;
	*out = &ps->base;
	ps = NULL;
	r = 0;
out:
	jpki_store_free(ps != NULL ? &ps->base : NULL);
	return r;
}
