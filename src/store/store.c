/*
 * The backend-neutral part of the store: opening by URL, the lock held across
 * a transaction, the read connections of threads that find it taken, fault
 * injection, materialised result rows, and per-module schema migrations.
 *
 * Writes and everything inside a transaction go through the one main
 * connection under the lock. A query outside a transaction takes the main
 * connection too when the lock is free, so a single-threaded program (the
 * CLI, most tests) never opens another; when another thread holds it (a
 * transaction in progress, or another thread's statement), the query runs on
 * the calling thread's own read connection instead of waiting, and sees what
 * was committed before it started: the same answer it would have had had
 * it run just before that transaction. So the OCSP and repository workers
 * of a server read side by side, and beside a writer, without queuing.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jpki/store.h"
#include "store/store_internal.h"

struct jpki_rows {
	size_t columns;
	size_t count;
	size_t cap;
	struct jpki_value *cells; /* count * columns */
};

int jpki_store_open(struct jpki_store **out, const char *url)
{
	*out = NULL;
	if (url == NULL || *url == '\0')
		return jpki_err_set(JPKI_ERR_CONFIG, "no store given");
	if (strncmp(url, "postgres://", 11) == 0 ||
	    strncmp(url, "postgresql://", 13) == 0)
		return jpki_store_postgres_open(out, url);
	if (strncmp(url, "sqlite:", 7) == 0)
		url += 7;
	return jpki_store_sqlite_open(out, url);
}

int jpki_store_open_read(struct jpki_store **out, const char *url)
{
	int r;

	if ((r = jpki_store_open(out, url)) != 0)
		return r;
	(*out)->read_only = 1;
	return 0;
}

/* The refusal of every write on a read store, in one sentence. */
static int refuse_write(void)
{
	return jpki_err_set(JPKI_ERR_STATE,
			    "this store is a read store (a replica): it takes "
			    "no writes; they go to the primary (--store)");
}

struct store_reader {
	struct jpki_store *st;
	void *conn;
	struct store_reader *prev, *next;
	struct store_reader *spare; /* the next one not yet taken */
};

static void reader_unlink(struct store_reader *rd)
{
	struct jpki_store *st = rd->st;

	pthread_mutex_lock(&st->readers_lock);
	if (rd->prev != NULL)
		rd->prev->next = rd->next;
	else
		st->readers = rd->next;
	if (rd->next != NULL)
		rd->next->prev = rd->prev;
	pthread_mutex_unlock(&st->readers_lock);
}

/* The thread-exit destructor of a thread's read connection. */
static void reader_gone(void *p)
{
	struct store_reader *rd = p;

	reader_unlink(rd);
	rd->st->ops->reader_close(rd->conn);
	free(rd);
}

void jpki_store_init(struct jpki_store *st, const struct jpki_store_ops *ops)
{
	pthread_mutexattr_t attr;

	st->ops = ops;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&st->readers_lock, NULL);
	atomic_init(&st->fail_after, 0);
	atomic_init(&st->writes, 0);
	/* Without a key (the process ran out of them) every query goes
	 * through the lock, as it would on a backend without readers. */
	st->have_key = ops->reader_open != NULL &&
		       pthread_key_create(&st->reader_key, reader_gone) == 0;
}

void jpki_store_free(struct jpki_store *st)
{
	if (st == NULL)
		return;
	if (st->in_txn)
		st->ops->rollback(st);
	/* Threads still running keep a dangling key value, never read again:
	 * a deleted key runs no destructors and a new one starts at NULL. */
	if (st->have_key)
		pthread_key_delete(st->reader_key);
	while (st->readers != NULL) {
		struct store_reader *rd = st->readers;

		st->readers = rd->next;
		st->ops->reader_close(rd->conn);
		free(rd);
	}
	st->ops->close(st);
	pthread_mutex_destroy(&st->readers_lock);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

const char *jpki_store_backend(const struct jpki_store *st)
{
	return st->ops->name;
}

/* Counts down atomically: read connections count without the lock. */
static int fault(struct jpki_store *st)
{
	int n = atomic_load(&st->fail_after);

	while (n > 0)
		if (atomic_compare_exchange_weak(&st->fail_after, &n, n - 1))
			return n == 1 ? jpki_err_set(JPKI_ERR_STORE,
						     "injected store failure")
				      : 0;
	return 0;
}

void jpki_store_fail_after(struct jpki_store *st, int nth)
{
	atomic_store(&st->fail_after, nth);
}

int jpki_store_begin(struct jpki_store *st)
{
	int r;

	if (st->read_only)
		return refuse_write();
	pthread_mutex_lock(&st->lock);
	if (st->in_txn) {
		pthread_mutex_unlock(&st->lock);
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "nested store transaction");
	}
	if ((r = fault(st)) != 0 || (r = st->ops->begin(st)) != 0) {
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	st->in_txn = 1;
	atomic_fetch_add(&st->writes, 1);
	return 0; /* the lock stays held until commit or rollback */
}

int jpki_store_commit(struct jpki_store *st)
{
	int r;

	if (!st->in_txn)
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "commit without a transaction");
	if ((r = fault(st)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		st->in_txn = 0;
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	st->in_txn = 0;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void jpki_store_rollback(struct jpki_store *st)
{
	if (!st->in_txn)
		return;
	st->ops->rollback(st);
	st->in_txn = 0;
	pthread_mutex_unlock(&st->lock);
}

int jpki_store_exec(struct jpki_store *st, const char *sql,
		    const struct jpki_value *params, size_t n, int64_t *changes)
{
	int r;

	if (changes != NULL)
		*changes = 0;
	if (st->read_only)
		return refuse_write();
	pthread_mutex_lock(&st->lock);
	/* Outside a transaction the statement is one of its own. */
	if (!st->in_txn)
		atomic_fetch_add(&st->writes, 1);
	if ((r = fault(st)) == 0)
		r = st->ops->exec(st, sql, params, n, changes);
	pthread_mutex_unlock(&st->lock);
	return r;
}

uint64_t jpki_store_writes(const struct jpki_store *st)
{
	return atomic_load(&((struct jpki_store *)st)->writes);
}

int jpki_store_change_stamp(struct jpki_store_stamp *out,
			    struct jpki_store *st)
{
	memset(out, 0, sizeof(*out));
	if (st->ops->change_stamp == NULL)
		return JPKI_ERR_STATE;
	return st->ops->change_stamp(st, out);
}

int jpki_store_try_lock(struct jpki_store *st, int64_t key, int *got)
{
	int r = 0;

	*got = 0;
	if (st->read_only)
		return refuse_write();
	pthread_mutex_lock(&st->lock);
	if (st->in_txn)
		r = jpki_err_set(JPKI_ERR_INTERNAL,
				 "a cross-process lock taken inside a "
				 "transaction");
	else if ((r = fault(st)) == 0) {
		if (st->ops->try_lock != NULL)
			r = st->ops->try_lock(st, key, got);
		else
			*got = 1;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

void jpki_store_unlock(struct jpki_store *st, int64_t key)
{
	pthread_mutex_lock(&st->lock);
	if (st->ops->unlock != NULL)
		st->ops->unlock(st, key);
	pthread_mutex_unlock(&st->lock);
}

/* Puts a freshly opened read connection on the handle's list. */
static void reader_link(struct jpki_store *st, struct store_reader *rd)
{
	pthread_mutex_lock(&st->readers_lock);
	rd->next = st->readers;
	if (st->readers != NULL)
		st->readers->prev = rd;
	st->readers = rd;
	pthread_mutex_unlock(&st->readers_lock);
}

int jpki_store_open_readers(struct jpki_store *st, unsigned n)
{
	if (!st->have_key)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct store_reader *rd = calloc(1, sizeof(*rd));
		int r;

		if (rd == NULL)
			return JPKI_ERR_NOMEM;
		rd->st = st;
		if ((r = st->ops->reader_open(&rd->conn, st)) != 0) {
			free(rd);
			/* a database only one connection sees (in-memory
			 * SQLite) has no readers to open, ahead or later */
			return r == JPKI_ERR_STATE ? 0 : r;
		}
		reader_link(st, rd);
		pthread_mutex_lock(&st->readers_lock);
		rd->spare = st->spare;
		st->spare = rd;
		pthread_mutex_unlock(&st->readers_lock);
	}
	return 0;
}

/* The calling thread's read connection: its own, else one opened ahead,
 * else one opened now; NULL when none can be had (the caller then waits
 * for the lock). */
static struct store_reader *reader_of_thread(struct jpki_store *st)
{
	struct store_reader *rd;

	if (!st->have_key)
		return NULL;
	if ((rd = pthread_getspecific(st->reader_key)) != NULL)
		return rd;
	pthread_mutex_lock(&st->readers_lock);
	if ((rd = st->spare) != NULL)
		st->spare = rd->spare;
	pthread_mutex_unlock(&st->readers_lock);
	if (rd != NULL) {
		if (pthread_setspecific(st->reader_key, rd) == 0)
			return rd;
		pthread_mutex_lock(&st->readers_lock);
		rd->spare = st->spare;
		st->spare = rd;
		pthread_mutex_unlock(&st->readers_lock);
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return NULL;
	rd->st = st;
	if (st->ops->reader_open(&rd->conn, st) != 0 ||
	    pthread_setspecific(st->reader_key, rd) != 0) {
		if (rd->conn != NULL)
			st->ops->reader_close(rd->conn);
		free(rd);
		return NULL;
	}
	reader_link(st, rd);
	return rd;
}

int jpki_store_each(struct jpki_store *st, const char *sql,
		    const struct jpki_value *params, size_t n,
		    jpki_row_fn fn, void *arg)
{
	struct store_reader *rd;
	int r;

	/* The lock is free, or this thread holds it (its own transaction,
	 * whose uncommitted rows it must see): the main connection. */
	if (pthread_mutex_trylock(&st->lock) == 0) {
		if ((r = fault(st)) == 0)
			r = st->ops->each(st, sql, params, n, fn, arg);
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	/* Another thread holds it: read beside it rather than after it. */
	if ((rd = reader_of_thread(st)) != NULL) {
		if ((r = fault(st)) == 0)
			r = st->ops->reader_each(rd->conn, sql, params, n, fn,
						 arg);
		return r;
	}
	pthread_mutex_lock(&st->lock);
	if ((r = fault(st)) == 0)
		r = st->ops->each(st, sql, params, n, fn, arg);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int keep_row(void *arg, const struct jpki_value *cells,
		    size_t columns);

int jpki_store_query(struct jpki_rows **out, struct jpki_store *st,
		     const char *sql, const struct jpki_value *params, size_t n)
{
	struct jpki_rows *rows = calloc(1, sizeof(*rows));
	int r;

	*out = NULL;
	if (rows == NULL)
		return JPKI_ERR_NOMEM;
	/* Columns are known at the first row; a query without rows keeps
	 * none, and reads none. */
	if ((r = jpki_store_each(st, sql, params, n, keep_row, rows)) != 0) {
		jpki_rows_free(rows);
		return r;
	}
	*out = rows;
	return 0;
}

/* Appends a row, text and blobs copied. */
static int keep_row(void *arg, const struct jpki_value *cells, size_t columns)
{
	struct jpki_rows *rows = arg;
	struct jpki_value *row;

	if (rows->count == 0 && rows->cap == 0)
		rows->columns = columns;
	if (columns != rows->columns)
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "a row of %zu columns among rows of %zu",
				    columns, rows->columns);
	if (rows->count == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 16;
		struct jpki_value *grown;

		grown = realloc(rows->cells,
				cap * (columns ? columns : 1) * sizeof(*grown));
		if (grown == NULL)
			return JPKI_ERR_NOMEM;
		rows->cells = grown;
		rows->cap = cap;
	}
	row = rows->cells + rows->count * columns;
	for (size_t c = 0; c < columns; c++)
		row[c] = JPKI_V_NULL;
	/* Counted before the copies, so that a failed copy is freed with
	 * the rest. */
	rows->count++;
	for (size_t c = 0; c < columns; c++) {
		struct jpki_value v = cells[c];

		if (v.type == JPKI_VALUE_TEXT && v.s != NULL) {
			if ((v.s = strdup(v.s)) == NULL)
				return JPKI_ERR_NOMEM;
		} else if (v.type == JPKI_VALUE_BLOB) {
			void *b = malloc(v.len ? v.len : 1);

			if (b == NULL)
				return JPKI_ERR_NOMEM;
			if (v.len)
				memcpy(b, v.b, v.len);
			v.b = b;
		}
		row[c] = v;
	}
	return 0;
}

static const struct jpki_value *cell(const struct jpki_rows *rows, size_t row,
				     size_t col)
{
	if (rows == NULL || row >= rows->count || col >= rows->columns)
		return NULL;
	return &rows->cells[row * rows->columns + col];
}

size_t jpki_rows_count(const struct jpki_rows *rows)
{
	return rows ? rows->count : 0;
}

int jpki_rows_is_null(const struct jpki_rows *rows, size_t row, size_t col)
{
	const struct jpki_value *v = cell(rows, row, col);

	return v == NULL || v->type == JPKI_VALUE_NULL;
}

int64_t jpki_rows_int(const struct jpki_rows *rows, size_t row, size_t col)
{
	const struct jpki_value *v = cell(rows, row, col);

	if (v == NULL)
		return 0;
	if (v->type == JPKI_VALUE_TEXT && v->s != NULL)
		return strtoll(v->s, NULL, 10);
	return v->type == JPKI_VALUE_INT ? v->i : 0;
}

const char *jpki_rows_text(const struct jpki_rows *rows, size_t row,
			   size_t col)
{
	const struct jpki_value *v = cell(rows, row, col);

	return v != NULL && v->type == JPKI_VALUE_TEXT ? v->s : NULL;
}

const unsigned char *jpki_rows_blob(const struct jpki_rows *rows, size_t row,
				    size_t col, size_t *len)
{
	const struct jpki_value *v = cell(rows, row, col);

	*len = 0;
	if (v == NULL || v->type != JPKI_VALUE_BLOB)
		return NULL;
	*len = v->len;
	return v->b;
}

void jpki_rows_free(struct jpki_rows *rows)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < rows->count * rows->columns; i++) {
		if (rows->cells[i].type == JPKI_VALUE_TEXT)
			free((void *)rows->cells[i].s);
		else if (rows->cells[i].type == JPKI_VALUE_BLOB)
			free((void *)rows->cells[i].b);
	}
	free(rows->cells);
	free(rows);
}

/* Runs each ';'-separated statement of a migration step; a ';' between
 * two "$$" (a PostgreSQL function's body) does not separate. */
static int exec_script(struct jpki_store *st, const char *sql)
{
	char *copy = strdup(sql), *s;
	int r = 0;

	if (copy == NULL)
		return JPKI_ERR_NOMEM;
	s = copy;
	while (*s != '\0' && r == 0) {
		char *end = s, *p = s;
		int body = 0;

		for (; *end != '\0' && (body || *end != ';'); end++)
			if (end[0] == '$' && end[1] == '$') {
				body = !body;
				end++;
			}
		if (*end == ';')
			*end++ = '\0';
		while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
			p++;
		if (*p != '\0')
			r = jpki_store_exec(st, p, NULL, 0, NULL);
		s = end;
	}
	free(copy);
	return r;
}

static int schema_version(int64_t *out, struct jpki_store *st,
			  const char *module)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value key = JPKI_V_TEXT(module);
	int r;

	*out = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT version FROM jpki_schema "
				  "WHERE module = $1",
				  &key, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1)
		*out = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}

int jpki_store_migrate(struct jpki_store *st, const char *module,
		       const struct jpki_migration *steps, size_t n)
{
	int r;

	if (st->read_only)
		return refuse_write();
	/* In a transaction too: PostgreSQL's CREATE TABLE IF NOT EXISTS is
	 * not safe against itself (two processes starting on an empty
	 * database both create, and one fails on the catalog's unique
	 * index); the transaction's advisory lock makes them take turns. */
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_exec(st,
				 "CREATE TABLE IF NOT EXISTS jpki_schema ("
				 "module TEXT PRIMARY KEY, "
				 "version INTEGER NOT NULL)",
				 NULL, 0, NULL)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct jpki_value p[2] = {JPKI_V_TEXT(module),
					  JPKI_V_INT(steps[i].version)};
		int64_t current;

		/* Read the version inside the write transaction, so two
		 * processes starting together apply each step once. */
		if ((r = jpki_store_begin(st)) != 0)
			return r;
		if ((r = schema_version(&current, st, module)) != 0)
			goto fail;
		if (steps[i].version <= current) {
			jpki_store_rollback(st);
			continue;
		}
		if ((r = exec_script(st, steps[i].sql)) != 0 ||
		    (r = jpki_store_exec(
			     st,
			     "INSERT INTO jpki_schema (module, version) "
			     "VALUES ($1, $2) ON CONFLICT (module) "
			     "DO UPDATE SET version = excluded.version",
			     p, 2, NULL)) != 0)
			goto fail;
		if ((r = jpki_store_commit(st)) != 0)
			return r;
	}
	return 0;
fail:
	jpki_store_rollback(st);
	return r;
}

int64_t jpki_store_mark_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jpki_store_heartbeat(struct jpki_store *primary, const char *id)
{
	static const struct jpki_migration steps[] = {
		{1, "CREATE TABLE jpki_heartbeat ("
		    "id TEXT PRIMARY KEY, mark INTEGER NOT NULL, "
		    "written INTEGER NOT NULL)"},
	};
	/* The wall clock only dates rows for the clean-up of processes
	 * gone; the mark is the writer's monotonic clock, which no change
	 * of the system's time moves. */
	int64_t wall = (int64_t)time(NULL);
	struct jpki_value p[] = {JPKI_V_TEXT(id),
				 JPKI_V_INT(jpki_store_mark_now()),
				 JPKI_V_INT(wall)};
	int r;

	if (id == NULL || *id == '\0')
		return jpki_err_set(JPKI_ERR_INVALID, "a heartbeat needs an id");
	if (!primary->heartbeat_ready) {
		struct jpki_value old = JPKI_V_INT(wall - 86400);

		if ((r = jpki_store_migrate(primary, "heartbeat", steps, 1)) !=
			    0 ||
		    (r = jpki_store_exec(primary,
					 "DELETE FROM jpki_heartbeat"
					 " WHERE written < $1",
					 &old, 1, NULL)) != 0)
			return r;
		primary->heartbeat_ready = 1;
	}
	/* One statement, outside any transaction: it takes no writer lock,
	 * so a long transaction of the CA's does not delay it. */
	return jpki_store_exec(primary,
			       "INSERT INTO jpki_heartbeat (id, mark, written)"
			       " VALUES ($1, $2, $3) ON CONFLICT (id)"
			       " DO UPDATE SET mark = excluded.mark,"
			       " written = excluded.written",
			       p, 3, NULL);
}

void jpki_store_heartbeat_end(struct jpki_store *primary, const char *id)
{
	struct jpki_value p = JPKI_V_TEXT(id);

	if (primary != NULL && primary->heartbeat_ready &&
	    jpki_store_exec(primary, "DELETE FROM jpki_heartbeat WHERE id = $1",
			    &p, 1, NULL) != 0)
		jpki_log(JPKI_LOG_WARN, "heartbeat row %s: %s", id,
			 jpki_err_detail());
}
