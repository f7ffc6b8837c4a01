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
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* The advisory lock every store transaction takes: "JPKI" in ASCII. */
#define WRITER_LOCK "1246776137"

struct pg_store {
	struct jpki_store base; /* first: the handle is a jpki_store */
	PGconn *conn;
	char *url; /* for the read connections */
};

static PGconn *conn_of(struct jpki_store *st)
{
	return ((struct pg_store *)st)->conn;
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

/* A lost connection (server restart, idle timeout) is re-established
 * between transactions; inside one the transaction is lost anyway and the
 * statement fails. */
static void keep_alive(PGconn *conn, int in_txn)
{
	if (!in_txn && PQstatus(conn) == CONNECTION_BAD)
		PQreset(conn);
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

/* Runs one statement with its parameters; *res is the result, or NULL on
 * failure with the error set. */
static int run(PGresult **res, PGconn *conn, int in_txn, const char *sql,
	       const struct jpki_value *params, size_t n)
{
	const char **values = NULL;
	int *lengths = NULL, *formats = NULL;
	Oid *types = NULL;
	char(*ints)[24] = NULL;
	char *ddl = NULL;
	int r = JPKI_ERR_INTERNAL;

	*res = NULL;
	if (n > 65535)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%zu parameters are more than PostgreSQL "
				    "takes.",
				    n);
	if ((r = ddl_types(&ddl, sql)) != 0)
		return r;
	if (n > 0 && ((values = calloc(n, sizeof(*values))) == NULL ||
		      (lengths = calloc(n, sizeof(*lengths))) == NULL ||
		      (formats = calloc(n, sizeof(*formats))) == NULL ||
		      (types = calloc(n, sizeof(*types))) == NULL ||
		      (ints = calloc(n, sizeof(*ints))) == NULL)) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	/* Integers and text go as untyped text, so the server infers their
	 * type from the context as SQLite's loose typing would; blobs go as
	 * binary bytea. */
	for (size_t i = 0; i < n; i++) {
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
			break;
		}
	}
	keep_alive(conn, in_txn);
	*res = PQexecParams(conn, ddl ? ddl : sql, (int)n, types, values,
			    lengths, formats, 0);
	switch (PQresultStatus(*res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		r = 0;
		break;
	default: {
		const char *state = PQresultErrorField(*res, PG_DIAG_SQLSTATE);

		const char *msg =
		    PQresultErrorField(*res, PG_DIAG_MESSAGE_PRIMARY);

		/* 23505 unique_violation: the key is there already. */
		if (state != NULL && strcmp(state, "23505") == 0)
			r = jpki_err_set(JPKI_ERR_EXISTS, "postgres: %s",
					 msg ? msg : "duplicate key");
		else
			r = pg_error(*res ? PQresultErrorMessage(*res)
					  : PQerrorMessage(conn),
				     "statement");
		PQclear(*res);
		*res = NULL;
		break;
	}
	}
out:
	free(values);
	free(lengths);
	free(formats);
	free(types);
	free(ints);
	free(ddl);
	return r;
}

static int pg_exec(struct jpki_store *st, const char *sql,
		   const struct jpki_value *params, size_t n, int64_t *changes)
{
	PGresult *res = NULL;
	int r;

	if ((r = run(&res, conn_of(st), st->in_txn, sql, params, n)) != 0)
		return r;
	if (changes != NULL)
		*changes = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

/* One result cell as the SQLite backend would give it: integers as INT,
 * bytea as BLOB (unescaped into *bytes, which the caller frees with
 * PQfreemem), everything else as TEXT. */
static int cell_value(struct jpki_value *v, unsigned char **bytes,
		      PGresult *res, int row, int col)
{
	const char *s = PQgetvalue(res, row, col);
	size_t len = 0;

	*v = JPKI_V_NULL;
	*bytes = NULL;
	if (PQgetisnull(res, row, col))
		return 0;
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

static int each_conn(PGconn *conn, int in_txn, const char *sql,
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
	return each_conn(conn_of(st), st->in_txn, sql, params, n, fn, arg);
}

static int pg_begin(struct jpki_store *st)
{
	int r;

	keep_alive(conn_of(st), st->in_txn);
	if ((r = exec_plain(st, "BEGIN")) != 0)
		return r;
	/* Writers queue here, as on SQLite's write lock; the server lets go
	 * at commit or rollback, or when the connection dies. */
	if ((r = exec_plain(st, "SELECT pg_advisory_xact_lock(" WRITER_LOCK
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

	if ((r = run(&res, conn_of(st), st->in_txn,
		     "SELECT pg_try_advisory_lock($1::bigint)", &p, 1)) != 0)
		return r;
	*got = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

static void pg_unlock(struct jpki_store *st, int64_t key)
{
	struct jpki_value p = JPKI_V_INT(key);
	PGresult *res = NULL;

	if (run(&res, conn_of(st), st->in_txn,
		"SELECT pg_advisory_unlock($1::bigint)", &p, 1) == 0)
		PQclear(res);
}

static void pg_close(struct jpki_store *st)
{
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
	PGconn *conn = NULL;
	int r;

	*out = NULL;
	if ((r = connect_url(&conn, ((struct pg_store *)st)->url, 1)) != 0)
		return r;
	*out = conn;
	return 0;
}

static void pg_reader_close(void *conn)
{
	PQfinish(conn);
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
	if ((r = connect_url(&ps->conn, url, 0)) != 0)
		goto out;
	*out = &ps->base;
	ps = NULL;
	r = 0;
out:
	jpki_store_free(ps != NULL ? &ps->base : NULL);
	return r;
}
