/*
 * The SQLite backend of the store: the embedded default.
 *
 * WAL journal with synchronous=FULL makes every commit durable; BEGIN
 * IMMEDIATE takes the write lock at the start of a transaction so that two
 * writers (two processes, or a CLI beside a running server) queue on the busy
 * timeout instead of failing at commit. In WAL mode readers never wait for a
 * writer, so a thread's read connection (query_only) answers from the last
 * commit while a transaction is open on the main one.
 */
#include <stdatomic.h>
#include <stdint.h>
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
	char *path; /* NULL for a database other connections cannot share */
	/* The WAL index (SQLite's shared memory, region 0) for
	 * sqlite_change_stamp, mapped at its first call; NULL until then or
	 * when it cannot be had. */
	const volatile unsigned char *_Atomic shm;
	atomic_int shm_tried;
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

static int db_error(sqlite3 *db, const char *what)
{
	return jpki_err_set(JPKI_ERR_STORE, "sqlite %s: %s", what,
			    sqlite3_errmsg(db));
}

static int exec_db(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = jpki_err_set(JPKI_ERR_STORE, "sqlite: %s: %s",
				     msg ? msg : "error", sql);
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

static int exec_plain(struct jpki_store *st, const char *sql)
{
	return exec_db(db_of(st), sql);
}

/* Closes a connection with the statements it kept. */
static void close_db(sqlite3 *db)
{
	sqlite3_stmt *s;

	if (db == NULL)
		return;
	while ((s = sqlite3_next_stmt(db, NULL)) != NULL)
		sqlite3_finalize(s);
	sqlite3_close(db);
}

static void sqlite_close(struct jpki_store *st)
{
	close_db(db_of(st));
	free(((struct sqlite_store *)st)->path);
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

/* Hands a statement back for reuse: its read or write lock and its
 * borrowed parameters let go. */
static void release(sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* How many prepared statements a connection keeps for reuse. */
#define STMT_CACHE 32

/*
 * A prepared statement for `sql` with its parameters bound: one the
 * connection kept from an earlier call when there is one (the OCSP
 * responder runs the same query for every request, and parsing it was a
 * tenth of the time), else a new one. The caller hands it back with
 * release(). A connection is used by one thread at a time (the main one
 * under the store's lock, a reader by its own thread), so its idle
 * statements are its own to reuse.
 */
static int prepare(sqlite3_stmt **out, sqlite3 *db, const char *sql,
		   const struct jpki_value *params, size_t n)
{
	sqlite3_stmt *stmt = NULL, *s;
	char *text;
	int r = JPKI_ERR_INTERNAL, rc = SQLITE_OK, kept = 0;

	*out = NULL;
	if ((text = translate(sql)) == NULL)
		return JPKI_ERR_NOMEM;
	for (s = sqlite3_next_stmt(db, NULL); s != NULL;
	     s = sqlite3_next_stmt(db, s)) {
		const char *t = sqlite3_sql(s);

		kept++;
		if (stmt == NULL && !sqlite3_stmt_busy(s) && t != NULL &&
		    strcmp(t, text) == 0)
			stmt = s;
	}
	if (stmt == NULL && kept >= STMT_CACHE) {
		/* Full: start again rather than track which is oldest. */
		sqlite3_stmt *next;

		for (s = sqlite3_next_stmt(db, NULL); s != NULL; s = next) {
			next = sqlite3_next_stmt(db, s);
			if (!sqlite3_stmt_busy(s))
				sqlite3_finalize(s);
		}
	}
	if (stmt == NULL &&
	    sqlite3_prepare_v3(db, text, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
			       NULL) != SQLITE_OK) {
		r = db_error(db, "prepare");
		sqlite3_finalize(stmt);
		stmt = NULL;
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
		r = db_error(db, "bind");
		goto out;
	}
	*out = stmt;
	stmt = NULL;
	r = 0;
out:
	release(stmt);
	free(text);
	return r;
}

static int sqlite_exec(struct jpki_store *st, const char *sql,
		       const struct jpki_value *params, size_t n,
		       int64_t *changes)
{
	sqlite3_stmt *stmt = NULL;
	int r, rc;

	if ((r = prepare(&stmt, db_of(st), sql, params, n)) != 0)
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
			: db_error(db_of(st), "step");
		goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes64(db_of(st));
	r = 0;
out:
	release(stmt);
	return r;
}

static int each_db(sqlite3 *db, const char *sql,
		   const struct jpki_value *params, size_t n, jpki_row_fn fn,
		   void *arg)
{
	struct jpki_value *cells = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t columns;
	int r, rc;

	if ((r = prepare(&stmt, db, sql, params, n)) != 0)
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
		r = db_error(db, "step");
		goto out;
	}
	r = 0;
out:
	release(stmt);
	free(cells);
	return r;
}

static int sqlite_each(struct jpki_store *st, const char *sql,
		       const struct jpki_value *params, size_t n,
		       jpki_row_fn fn, void *arg)
{
	return each_db(db_of(st), sql, params, n, fn, arg);
}

/* One thread's connection: no mutex of SQLite's own, query_only so that a
 * write sent here by mistake fails instead of escaping the lock. */
static int sqlite_reader_open(void **out, struct jpki_store *st)
{
	const char *path = ((struct sqlite_store *)st)->path;
	sqlite3 *db = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (path == NULL)
		return jpki_err_set(JPKI_ERR_STATE,
				    "an in-memory database has one connection");
	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		r = jpki_err_set(JPKI_ERR_STORE, "cannot open %s: %s", path,
				 db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if ((r = exec_db(db, "PRAGMA query_only=1")) != 0 ||
	    (r = exec_db(db, "PRAGMA foreign_keys=ON")) != 0)
		goto out;
	*out = db;
	db = NULL;
	r = 0;
out:
	sqlite3_close(db);
	return r;
}

static void sqlite_reader_close(void *conn)
{
	close_db(conn);
}

static int sqlite_reader_each(void *conn, const char *sql,
			      const struct jpki_value *params, size_t n,
			      jpki_row_fn fn, void *arg)
{
	return each_db(conn, sql, params, n, fn, arg);
}

/*
 * The change stamp: the header of the WAL index, which every connection to
 * a WAL database, in any process, shares in memory (SQLite's -shm file,
 * https://www.sqlite.org/walformat.html). Each commit rewrites it (iChange
 * is "incremented with each transaction", mxFrame and the checksums move
 * with the frames, the salts when the WAL restarts) before the commit
 * returns; SQLite's own readers decide from it alone whether their cached
 * pages still hold. It is read here as they read it: two copies of 48
 * bytes, the first, a barrier, the second, equal and initialised or not
 * trusted (a writer is between the two). A read transaction would cost two
 * file locks (fcntl) and their system calls; this costs a memory read.
 *
 * The region is asked of SQLite through the VFS (xShmMap of the database
 * file), not mapped here: it is the mapping SQLite itself uses, valid while
 * the main connection is open.
 */
#define WAL_HDR_SIZE 48
#define WAL_INDEX_VERSION 3007000u

static const volatile unsigned char *shm_map(struct sqlite_store *ss)
{
	sqlite3_file *f = NULL;
	volatile void *region = NULL;

	/* Under the handle's lock (the main connection is SQLite's), once;
	 * a thread that finds it taken tries at its next call. */
	if (pthread_mutex_trylock(&ss->base.lock) != 0)
		return NULL;
	if (atomic_load(&ss->shm_tried) == 0 && ss->path != NULL &&
	    sqlite3_file_control(ss->db, "main", SQLITE_FCNTL_FILE_POINTER,
				 &f) == SQLITE_OK &&
	    f != NULL && f->pMethods != NULL && f->pMethods->iVersion >= 2 &&
	    f->pMethods->xShmMap != NULL) {
		/* a read transaction first: it opens the WAL index if this
		 * connection has not read yet */
		if (exec_db(ss->db, "SELECT 1 FROM sqlite_master LIMIT 1") ==
			    0 &&
		    f->pMethods->xShmMap(f, 0, 32768, 0, &region) ==
			    SQLITE_OK &&
		    region != NULL)
			atomic_store(&ss->shm,
				     (const volatile unsigned char *)region);
		atomic_store(&ss->shm_tried, 1);
	} else {
		atomic_store(&ss->shm_tried, 1);
	}
	pthread_mutex_unlock(&ss->base.lock);
	return atomic_load(&ss->shm);
}

static int sqlite_change_stamp(struct jpki_store *st,
			       struct jpki_store_stamp *out)
{
	struct sqlite_store *ss = (struct sqlite_store *)st;
	const volatile unsigned char *hdr = atomic_load(&ss->shm);
	unsigned char second[WAL_HDR_SIZE];
	uint32_t version;

	_Static_assert(sizeof(out->b) == WAL_HDR_SIZE, "one header");
	if (hdr == NULL &&
	    (atomic_load(&ss->shm_tried) || (hdr = shm_map(ss)) == NULL))
		return JPKI_ERR_STATE;
	for (size_t i = 0; i < WAL_HDR_SIZE; i++)
		out->b[i] = hdr[i];
	atomic_thread_fence(memory_order_acquire);
	for (size_t i = 0; i < WAL_HDR_SIZE; i++)
		second[i] = hdr[WAL_HDR_SIZE + i];
	memcpy(&version, out->b, sizeof(version));
	/* isInit is the 13th byte (after iVersion, unused, iChange) */
	if (memcmp(out->b, second, WAL_HDR_SIZE) != 0 || out->b[12] == 0 ||
	    version != WAL_INDEX_VERSION)
		return JPKI_ERR_STATE;
	return 0;
}

static const struct jpki_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .exec = sqlite_exec,
    .each = sqlite_each,
    .reader_open = sqlite_reader_open,
    .reader_close = sqlite_reader_close,
    .reader_each = sqlite_reader_each,
    .change_stamp = sqlite_change_stamp,
};

/* SQLite's allocation statistics take one process-wide mutex on every
 * malloc, which the server's threads then contend for; nothing reads
 * them. Only possible before SQLite's first use in the process. */
static void configure_once(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int jpki_store_sqlite_open(struct jpki_store **out, const char *path)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sqlite_store *ss = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	pthread_once(&once, configure_once);
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
	{
		/* Absolute, and "" for a database only this connection
		 * sees (in memory, temporary). */
		const char *file = sqlite3_db_filename(ss->db, "main");

		if (file != NULL && *file != '\0' &&
		    (ss->path = strdup(file)) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	if ((r = exec_plain(&ss->base, "PRAGMA journal_mode=WAL")) != 0 ||
	    (r = exec_plain(&ss->base, "PRAGMA synchronous=FULL")) != 0 ||
	    (r = exec_plain(&ss->base, "PRAGMA foreign_keys=ON")) != 0 ||
	    /* statement journals and sort files in memory: inside a
	     * transaction each write statement kept one in a file under
	     * /var/tmp, two thirds of a look-up batch's writes (they are
	     * not the database's durability, which is the WAL's) */
	    (r = exec_plain(&ss->base, "PRAGMA temp_store=MEMORY")) != 0 ||
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
