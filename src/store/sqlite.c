/*
 * The SQLite backend of the store: the embedded default.
 *
 * WAL journal with synchronous=FULL makes every commit durable; BEGIN
 * IMMEDIATE takes the write lock at the start of a transaction so that two
 * writers (two processes, or a CLI beside a running server) queue on the busy
 * timeout instead of failing at commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "jpki/store.h"
#include "store/store_internal.h"

#define BUSY_TIMEOUT_MS 30000

struct sqlite_store {
	struct jpki_store base; /* first: the handle is a jpki_store */
	sqlite3 *db;
};

static sqlite3 *db_of(struct jpki_store *st)
{
	return ((struct sqlite_store *)st)->db;
}

/* Rewrites $1, $2 ... as ?1, ?2 ... (SQLite reads "$1" as a named
 * parameter numbered by first appearance, not by its digits). */
static char *translate(const char *sql)
{
	char *out = strdup(sql);

	if (out == NULL)
		return NULL;
	for (char *p = out; *p; p++)
		if (p[0] == '$' && p[1] >= '0' && p[1] <= '9')
			*p = '?';
	return out;
}

static int db_error(struct jpki_store *st, const char *what)
{
	return jpki_err_set(JPKI_ERR_STORE, "sqlite %s: %s", what,
			    sqlite3_errmsg(db_of(st)));
}

static int exec_plain(struct jpki_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db_of(st), sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = jpki_err_set(JPKI_ERR_STORE, "sqlite: %s: %s",
				     msg ? msg : "error", sql);
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

static void sqlite_close(struct jpki_store *st)
{
	sqlite3_close(db_of(st));
}

static int sqlite_begin(struct jpki_store *st)
{
	return exec_plain(st, "BEGIN IMMEDIATE");
}

static int sqlite_commit(struct jpki_store *st)
{
	return exec_plain(st, "COMMIT");
}

static void sqlite_rollback(struct jpki_store *st)
{
	(void)exec_plain(st, "ROLLBACK");
}

static int prepare(sqlite3_stmt **out, struct jpki_store *st, const char *sql,
		   const struct jpki_value *params, size_t n)
{
	sqlite3_stmt *stmt = NULL;
	char *text;
	int r = JPKI_ERR_INTERNAL, rc = SQLITE_OK;

	*out = NULL;
	if ((text = translate(sql)) == NULL)
		return JPKI_ERR_NOMEM;
	if (sqlite3_prepare_v2(db_of(st), text, -1, &stmt, NULL) != SQLITE_OK) {
		r = db_error(st, "prepare");
		goto out;
	}
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		int idx = (int)i + 1;

		switch (params[i].type) {
		case JPKI_VALUE_NULL:
			rc = sqlite3_bind_null(stmt, idx);
			break;
		case JPKI_VALUE_INT:
			rc = sqlite3_bind_int64(stmt, idx, params[i].i);
			break;
		case JPKI_VALUE_TEXT:
			rc = params[i].s == NULL
				 ? sqlite3_bind_null(stmt, idx)
				 : sqlite3_bind_text(stmt, idx, params[i].s, -1,
						     SQLITE_STATIC);
			break;
		case JPKI_VALUE_BLOB:
			rc = sqlite3_bind_blob64(stmt, idx, params[i].b,
						 params[i].len, SQLITE_STATIC);
			break;
		}
	}
	if (rc != SQLITE_OK) {
		r = db_error(st, "bind");
		goto out;
	}
	*out = stmt;
	stmt = NULL;
	r = 0;
out:
	sqlite3_finalize(stmt);
	free(text);
	return r;
}

static int sqlite_exec(struct jpki_store *st, const char *sql,
		       const struct jpki_value *params, size_t n,
		       int64_t *changes)
{
	sqlite3_stmt *stmt = NULL;
	int r, rc;

	if ((r = prepare(&stmt, st, sql, params, n)) != 0)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		r = sqlite3_extended_errcode(db_of(st)) ==
				SQLITE_CONSTRAINT_PRIMARYKEY ||
			    sqlite3_extended_errcode(db_of(st)) ==
				SQLITE_CONSTRAINT_UNIQUE
			? jpki_err_set(JPKI_ERR_EXISTS, "sqlite: %s",
				       sqlite3_errmsg(db_of(st)))
			: db_error(st, "step");
		goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes64(db_of(st));
	r = 0;
out:
	sqlite3_finalize(stmt);
	return r;
}

static int sqlite_each(struct jpki_store *st, const char *sql,
		       const struct jpki_value *params, size_t n,
		       jpki_row_fn fn, void *arg)
{
	struct jpki_value *cells = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t columns;
	int r, rc;

	if ((r = prepare(&stmt, st, sql, params, n)) != 0)
		goto out;
	columns = (size_t)sqlite3_column_count(stmt);
	if ((cells = calloc(columns ? columns : 1, sizeof(*cells))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (size_t c = 0; c < columns; c++) {
			int col = (int)c;
			struct jpki_value v = JPKI_V_NULL;

			switch (sqlite3_column_type(stmt, col)) {
			case SQLITE_INTEGER:
				v = JPKI_V_INT(sqlite3_column_int64(stmt, col));
				break;
			case SQLITE_TEXT:
				v = JPKI_V_TEXT(
				    (const char *)sqlite3_column_text(stmt,
								      col));
				break;
			case SQLITE_BLOB:
				v = JPKI_V_BLOB(
				    sqlite3_column_blob(stmt, col),
				    (size_t)sqlite3_column_bytes(stmt, col));
				break;
			case SQLITE_FLOAT:
				v = JPKI_V_INT(
				    (int64_t)sqlite3_column_double(stmt, col));
				break;
			default:
				break;
			}
			cells[c] = v;
		}
		if ((r = fn(arg, cells, columns)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(st, "step");
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(stmt);
	free(cells);
	return r;
}

static const struct jpki_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .exec = sqlite_exec,
    .each = sqlite_each,
};

int jpki_store_sqlite_open(struct jpki_store **out, const char *path)
{
	struct sqlite_store *ss = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return JPKI_ERR_NOMEM;
	jpki_store_init(&ss->base, &sqlite_ops);
	if (sqlite3_open_v2(path, &ss->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		r = jpki_err_set(JPKI_ERR_STORE, "cannot open %s: %s", path,
				 ss->db ? sqlite3_errmsg(ss->db)
					: "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(ss->db, BUSY_TIMEOUT_MS);
	if ((r = exec_plain(&ss->base, "PRAGMA journal_mode=WAL")) != 0 ||
	    (r = exec_plain(&ss->base, "PRAGMA synchronous=FULL")) != 0 ||
	    (r = exec_plain(&ss->base, "PRAGMA foreign_keys=ON")) != 0 ||
	    /* 64 MiB of pages (SQLite's default is 2 MiB): with a million
	     * certificates the indexes' inner pages stay in memory */
	    (r = exec_plain(&ss->base, "PRAGMA cache_size=-65536")) != 0)
		goto out;
	*out = &ss->base;
	ss = NULL;
	r = 0;
out:
	jpki_store_free(ss != NULL ? &ss->base : NULL);
	return r;
}
