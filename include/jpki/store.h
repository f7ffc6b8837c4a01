/*
 * store: one storage interface over SQL databases.
 *
 * Modules own their tables and their SQL; the store only runs statements,
 * transactions and per-module schema migrations. SQL is written in the
 * common subset of SQLite and PostgreSQL with `$1`, `$2`, ... placeholders;
 * each backend translates what it must. The SQLite backend (the embedded
 * default) runs in WAL mode with synchronous=FULL, so a committed
 * transaction survives a crash or power loss; the PostgreSQL backend
 * (libpq) relies on the server's synchronous_commit=on for the same.
 *
 * A store handle is safe to share between threads: a transaction holds the
 * handle from jpki_store_begin() to commit or rollback, and statements run
 * outside a transaction hold it for their own duration. A query outside a
 * transaction that finds the handle held by another thread does not wait: it
 * runs on the calling thread's own read connection (opened on first need,
 * closed at thread exit or jpki_store_free()) and sees what was committed
 * when it started. jpki_store_free() is called once no other thread uses the
 * handle.
 */
#ifndef JPKI_STORE_H
#define JPKI_STORE_H

#include <stdint.h>

#include "jpki/base.h"

struct jpki_store;
struct jpki_rows;

enum jpki_value_type {
	JPKI_VALUE_NULL = 0,
	JPKI_VALUE_INT,
	JPKI_VALUE_TEXT,
	JPKI_VALUE_BLOB,
};

/* A statement parameter; the pointers are borrowed for the call. */
struct jpki_value {
	enum jpki_value_type type;
	int64_t i;
	const char *s;
	const void *b;
	size_t len;
};

#define JPKI_V_NULL ((struct jpki_value){.type = JPKI_VALUE_NULL})
#define JPKI_V_INT(x) ((struct jpki_value){.type = JPKI_VALUE_INT, .i = (x)})
#define JPKI_V_TEXT(x) ((struct jpki_value){.type = JPKI_VALUE_TEXT, .s = (x)})
#define JPKI_V_BLOB(p, n)                                                     \
	((struct jpki_value){.type = JPKI_VALUE_BLOB, .b = (p), .len = (n)})

/*
 * Opens a store. `url` is "sqlite:PATH" or a plain PATH (SQLite), or
 * "postgres://..." / "postgresql://..." (a libpq connection URI). The
 * caller frees *out with jpki_store_free().
 */
int jpki_store_open(struct jpki_store **out, const char *url) JPKI_MUST_CHECK;
void jpki_store_free(struct jpki_store *st);

/*
 * Opens a store to read from only: a PostgreSQL streaming-replication
 * standby (a hot standby), or any URL jpki_store_open() takes. Every write
 * (jpki_store_begin, _exec, _migrate, _try_lock) is refused with
 * JPKI_ERR_STATE before it reaches the database, so a write sent to a
 * replica by mistake fails the same way on every backend. libpq's
 * target_session_attrs in the URL ("standby", "prefer-standby") picks the
 * server among several hosts. The caller frees *out with jpki_store_free().
 */
int jpki_store_open_read(struct jpki_store **out,
			 const char *url) JPKI_MUST_CHECK;

/* "sqlite" or "postgres". */
const char *jpki_store_backend(const struct jpki_store *st);

/* One schema step of a module: applied once, in version order. */
struct jpki_migration {
	int version;
	const char *sql; /* one or more statements separated by ';' */
};

/*
 * Brings `module`'s tables to the newest version in `steps` (ascending), each
 * step in its own transaction, and records the version reached.
 */
int jpki_store_migrate(struct jpki_store *st, const char *module,
		       const struct jpki_migration *steps,
		       size_t n) JPKI_MUST_CHECK;

/*
 * Starts a write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN
 * and one advisory lock shared by all the store's transactions), so two
 * writers serialise instead of failing at commit. Every begin is followed by
 * exactly one jpki_store_commit() or jpki_store_rollback().
 */
int jpki_store_begin(struct jpki_store *st) JPKI_MUST_CHECK;
/* Makes the transaction durable; on failure it is rolled back. */
int jpki_store_commit(struct jpki_store *st) JPKI_MUST_CHECK;
void jpki_store_rollback(struct jpki_store *st);

/* Runs a statement that returns no rows; *changes (if not NULL) gets the
 * number of rows it changed. */
int jpki_store_exec(struct jpki_store *st, const char *sql,
		    const struct jpki_value *params, size_t n,
		    int64_t *changes) JPKI_MUST_CHECK;

/* Runs a query and keeps all its rows; caller frees *out. */
int jpki_store_query(struct jpki_rows **out, struct jpki_store *st,
		     const char *sql, const struct jpki_value *params,
		     size_t n) JPKI_MUST_CHECK;

/*
 * Runs a query and hands its rows to `fn` one at a time, as the database
 * yields them, without keeping them: for results too large to hold twice
 * (a CRL's million revoked certificates). `cells` has `columns` values,
 * borrowed until `fn` returns. A non-zero return from `fn` stops the query
 * and is what jpki_store_each() returns; so does a database error.
 */
typedef int (*jpki_row_fn)(void *arg, const struct jpki_value *cells,
			   size_t columns);
int jpki_store_each(struct jpki_store *st, const char *sql,
		    const struct jpki_value *params, size_t n,
		    jpki_row_fn fn, void *arg) JPKI_MUST_CHECK;

size_t jpki_rows_count(const struct jpki_rows *rows);
int jpki_rows_is_null(const struct jpki_rows *rows, size_t row, size_t col);
int64_t jpki_rows_int(const struct jpki_rows *rows, size_t row, size_t col);
/* Borrowed, valid until jpki_rows_free(); NULL for SQL NULL. */
const char *jpki_rows_text(const struct jpki_rows *rows, size_t row,
			   size_t col);
const unsigned char *jpki_rows_blob(const struct jpki_rows *rows, size_t row,
				    size_t col, size_t *len);
void jpki_rows_free(struct jpki_rows *rows);

/*
 * Write transactions begun on this handle since it was opened: each
 * jpki_store_begin(), and each jpki_store_exec() outside a transaction
 * (the database runs it as a transaction of its own). Reads are not
 * counted. For tests that a path writes nothing (an OCSP responder, an
 * idle consumer), and for the logs.
 */
uint64_t jpki_store_writes(const struct jpki_store *st);

/*
 * A stamp of the database's committed state: two stamps that compare equal
 * (memcmp) were taken with no transaction committed in between, by this
 * process or any other. For a reader that keeps what it derived from the
 * database (the OCSP responder's answers) and must see every change at the
 * next request after its commit, at the cost of a memory read rather than
 * a query.
 */
struct jpki_store_stamp {
	unsigned char b[48];
};

/*
 * Sets *out to the current stamp; 0 on success. Nonzero (without a
 * message: this is a fast path) when the backend cannot tell cheaply now
 * (PostgreSQL, an in-memory database, a header being written this very
 * moment): the caller then reads the database as it would without stamps.
 */
int jpki_store_change_stamp(struct jpki_store_stamp *out,
			    struct jpki_store *st) JPKI_MUST_CHECK;

/*
 * A lock named by `key` across every process on the same database, taken
 * without waiting: *got is 1 when this handle now holds it (until
 * jpki_store_unlock() or jpki_store_free()), 0 when another handle holds
 * it. For work one process at a time should do, where the others should
 * skip rather than queue on the writer lock (the CA's registry consumer).
 * PostgreSQL: a session advisory lock (pg_try_advisory_lock) on the main
 * connection, freed by the server when that connection dies. SQLite:
 * always taken: a file's writers already take turns at BEGIN IMMEDIATE, so
 * callers must be correct without the lock and use it only to save work.
 * Not inside a transaction.
 */
int jpki_store_try_lock(struct jpki_store *st, int64_t key,
			int *got) JPKI_MUST_CHECK;
void jpki_store_unlock(struct jpki_store *st, int64_t key);

/*
 * The replication heartbeat (docs/PERFORMANCE.md, "Replicas"). A process
 * that reads from a replica writes, every few hundred ms, its own clock
 * (jpki_store_mark_now(): CLOCK_MONOTONIC in ms, meaningful only to the
 * process that wrote it) into its row `id` of the table
 *
 *   jpki_heartbeat (id TEXT PRIMARY KEY, mark INTEGER, written INTEGER)
 *
 * on the primary. A statement on the replica that reads the row beside
 * the data it answers from bounds that data's age:
 * jpki_store_mark_now() - mark. The table is made on the first call;
 * rows of processes gone for a day are deleted then too.
 */
int jpki_store_heartbeat(struct jpki_store *primary,
			 const char *id) JPKI_MUST_CHECK;
/* Deletes row `id` (a clean stop); failures are ignored. */
void jpki_store_heartbeat_end(struct jpki_store *primary, const char *id);
/* This process's heartbeat clock: CLOCK_MONOTONIC, in ms. */
int64_t jpki_store_mark_now(void);

/*
 * Opens `n` read connections now, for the first `n` threads that will query
 * beside a writer (the server's workers), so that no request pays for a
 * connection: on PostgreSQL a new session costs milliseconds. Threads past
 * those open their own at first need, as before. Returns 0 (also for a
 * database no second connection can share, such as an in-memory SQLite
 * one, which opens none) or the error of the connection that failed; the
 * ones opened stay the handle's, closed by jpki_store_free().
 */
int jpki_store_open_readers(struct jpki_store *st, unsigned n) JPKI_MUST_CHECK;

/*
 * Fault injection for tests: the `nth` statement or commit from now fails
 * with JPKI_ERR_STORE (0 turns it off).
 */
void jpki_store_fail_after(struct jpki_store *st, int nth);

#endif
