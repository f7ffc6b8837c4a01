/*
 * The store interface over its SQLite backend, or over PostgreSQL when
 * JPKI_TEST_PG holds a server's URL (a fresh database each test).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jpki/store.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char *path;
	struct jpki_store *st;
};

static const struct jpki_migration steps[] = {
	{1, "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, b BLOB)"},
	{2, "ALTER TABLE t ADD COLUMN extra TEXT;"
	    "CREATE INDEX t_n ON t (n)"},
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_tmpdir();
	if ((f->path = tu_store_url(f->dir)) == NULL)
		return -1;
	if (jpki_store_open(&f->st, f->path) != 0) {
		fprintf(stderr, "setup: %s\n", jpki_err_detail());
		return -1;
	}
	if (jpki_store_migrate(f->st, "test", steps, 2) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	jpki_store_free(f->st);
	tu_store_drop(f->path);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static int64_t count_rows(struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(
		jpki_store_query(&rows, st, "SELECT COUNT(*) FROM t", NULL, 0),
		0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

static void test_types_round_trip(void **state)
{
	struct fixture *f = *state;
	unsigned char blob[] = {0, 1, 2, 0xff};
	struct jpki_value p[] = {JPKI_V_TEXT("キー"), JPKI_V_INT(INT64_MAX),
				 JPKI_V_BLOB(blob, sizeof(blob))};
	struct jpki_value k = JPKI_V_TEXT("キー");
	struct jpki_rows *rows = NULL;
	const unsigned char *b;
	size_t len;

	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO t (k, n, b) "
					 "VALUES ($1, $2, $3)",
					 p, 3, NULL),
			 0);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT k, n, b, extra FROM t "
					  "WHERE k = $1",
					  &k, 1),
			 0);
	assert_int_equal(jpki_rows_count(rows), 1);
	assert_string_equal(jpki_rows_text(rows, 0, 0), "キー");
	assert_true(jpki_rows_int(rows, 0, 1) == INT64_MAX);
	b = jpki_rows_blob(rows, 0, 2, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	assert_true(jpki_rows_is_null(rows, 0, 3));
	assert_null(jpki_rows_text(rows, 0, 3));
	/* out of range reads are NULL/0, never a crash */
	assert_null(jpki_rows_text(rows, 5, 0));
	assert_int_equal(jpki_rows_int(rows, 0, 9), 0);
	jpki_rows_free(rows);
}

/* $2 before $1 must bind by number, not by order of appearance. */
static void test_placeholders_by_number(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p[] = {JPKI_V_TEXT("a"), JPKI_V_INT(7)};
	struct jpki_rows *rows = NULL;

	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO t (n, k) VALUES ($2, $1)",
					 p, 2, NULL),
			 0);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT n FROM t WHERE k = 'a'",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_int(rows, 0, 0), 7);
	jpki_rows_free(rows);
}

static void test_duplicate_key_is_exists(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("dup");

	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 JPKI_ERR_EXISTS);
	assert_int_equal(count_rows(f->st), 1);
}

static void test_rollback_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("x");

	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(count_rows(f->st), 1); /* visible inside */
	jpki_store_rollback(f->st);
	assert_int_equal(count_rows(f->st), 0);
}

static void test_commit_is_durable_across_reopen(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("kept");

	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(jpki_store_commit(f->st), 0);
	jpki_store_free(f->st);
	assert_int_equal(jpki_store_open(&f->st, f->path), 0);
	assert_int_equal(count_rows(f->st), 1);
}

static void test_injected_failure_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("y");

	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	jpki_store_fail_after(f->st, 1); /* the commit */
	assert_int_equal(jpki_store_commit(f->st), JPKI_ERR_STORE);
	assert_int_equal(count_rows(f->st), 0);
	/* and the store still works afterwards */
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(count_rows(f->st), 1);
}

static void test_nested_begin_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_begin(f->st), JPKI_ERR_INTERNAL);
	jpki_store_rollback(f->st);
	assert_int_equal(jpki_store_commit(f->st), JPKI_ERR_INTERNAL);
}

static void test_bad_sql_is_store_error(void **state)
{
	struct fixture *f = *state;
	struct jpki_rows *rows = (struct jpki_rows *)1;

	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO nowhere VALUES (1)",
					 NULL, 0, NULL),
			 JPKI_ERR_STORE);
	assert_non_null(strstr(jpki_err_detail(), "nowhere"));
	assert_int_equal(jpki_store_query(&rows, f->st, "SELEC 1", NULL, 0),
			 JPKI_ERR_STORE);
	assert_null(rows);
}

static void test_migrations_run_once(void **state)
{
	struct fixture *f = *state;
	struct jpki_rows *rows = NULL;

	/* Running them again changes nothing (the ALTER would fail). */
	assert_int_equal(jpki_store_migrate(f->st, "test", steps, 2), 0);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT version FROM jpki_schema "
					  "WHERE module = 'test'",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_int(rows, 0, 0), 2);
	jpki_rows_free(rows);
}

static void test_failed_migration_changes_nothing(void **state)
{
	struct fixture *f = *state;
	static const struct jpki_migration bad[] = {
		{1, "CREATE TABLE u (a INTEGER)"},
		{2, "CREATE TABLE v (a INTEGER); THIS IS NOT SQL"},
	};
	struct jpki_rows *rows = NULL;

	assert_int_equal(jpki_store_migrate(f->st, "bad", bad, 2),
			 JPKI_ERR_STORE);
	/* step 1 is in, step 2 (and its first statement) is not */
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT version FROM jpki_schema "
					  "WHERE module = 'bad'",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_int(rows, 0, 0), 1);
	jpki_rows_free(rows);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO v VALUES (1)",
					 NULL, 0, NULL),
			 JPKI_ERR_STORE);
}

/* A ';' between two "$$" (a PostgreSQL function's body) does not end a
 * statement; one outside does. A step of no statement is recorded. */
static void test_migration_dollar_body(void **state)
{
	struct fixture *f = *state;
	static const struct jpki_migration dollar[] = {
		{1, "CREATE TABLE w (a TEXT);"
		    "INSERT INTO w VALUES ('$$x;y$$');"
		    "INSERT INTO w VALUES ('z')"},
		{2, ""},
	};
	struct jpki_rows *rows = NULL;

	assert_int_equal(jpki_store_migrate(f->st, "dollar", dollar, 2), 0);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT a FROM w ORDER BY a", NULL,
					  0),
			 0);
	assert_int_equal(jpki_rows_count(rows), 2);
	assert_string_equal(jpki_rows_text(rows, 0, 0), "$$x;y$$");
	assert_string_equal(jpki_rows_text(rows, 1, 0), "z");
	jpki_rows_free(rows);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT version FROM jpki_schema "
					  "WHERE module = 'dollar'",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_int(rows, 0, 0), 2);
	jpki_rows_free(rows);
}

static void test_open_errors(void **state)
{
	struct jpki_store *st = (struct jpki_store *)1;

	assert_int_equal(jpki_store_open(&st, "/nonexistent/dir/x.db"),
			 JPKI_ERR_STORE);
	assert_null(st);
	assert_int_equal(jpki_store_open(&st, ""), JPKI_ERR_CONFIG);
	/* nothing listens on port 1: a store error, not a hang */
	assert_int_equal(jpki_store_open(&st, "postgres://127.0.0.1:1/x"
					      "?connect_timeout=5"),
			 JPKI_ERR_STORE);
	assert_null(st);
	assert_non_null(strstr(jpki_err_detail(), "postgres"));
}

static void test_backend_name(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(jpki_store_backend(f->st),
			    tu_store_is_pg() ? "postgres" : "sqlite");
}

/* A statement that failed inside a transaction makes its commit fail on
 * either backend (PostgreSQL would otherwise turn COMMIT into ROLLBACK
 * silently), and nothing of the transaction is kept. */
static void test_commit_after_failed_statement(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("z");

	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 JPKI_ERR_EXISTS);
	if (tu_store_is_pg()) {
		assert_int_equal(jpki_store_commit(f->st), JPKI_ERR_STORE);
		assert_int_equal(count_rows(f->st), 0);
	} else {
		/* SQLite undoes the statement only and commits the rest */
		assert_int_equal(jpki_store_commit(f->st), 0);
		assert_int_equal(count_rows(f->st), 1);
	}
}

/* exec reports how many rows a statement changed; 0 for DDL. */
static void test_changes_counted(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p[] = {JPKI_V_TEXT("c1"), JPKI_V_TEXT("c2")};
	int64_t changes = -1;

	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO t (k, n) VALUES "
					 "($1, 1), ($2, 1)",
					 p, 2, &changes),
			 0);
	assert_int_equal(changes, 2);
	assert_int_equal(jpki_store_exec(f->st,
					 "UPDATE t SET n = 2 WHERE n = 1", NULL,
					 0, &changes),
			 0);
	assert_int_equal(changes, 2);
	assert_int_equal(jpki_store_exec(f->st,
					 "UPDATE t SET n = 3 WHERE k = 'none'",
					 NULL, 0, &changes),
			 0);
	assert_int_equal(changes, 0);
}

/* An empty blob stays an empty blob (not NULL), a NULL blob stays NULL. */
static void test_empty_and_null_blob(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p[] = {JPKI_V_TEXT("e"), JPKI_V_BLOB("", 0)};
	struct jpki_value q[] = {JPKI_V_TEXT("n"), JPKI_V_NULL};
	struct jpki_rows *rows = NULL;
	size_t len = 1;

	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO t (k, b) VALUES ($1, $2)",
					 p, 2, NULL),
			 0);
	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO t (k, b) VALUES ($1, $2)",
					 q, 2, NULL),
			 0);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT b FROM t ORDER BY k", NULL,
					  0),
			 0);
	assert_int_equal(jpki_rows_count(rows), 2);
	assert_false(jpki_rows_is_null(rows, 0, 0));
	assert_non_null(jpki_rows_blob(rows, 0, 0, &len));
	assert_int_equal(len, 0);
	assert_true(jpki_rows_is_null(rows, 1, 0));
	assert_null(jpki_rows_blob(rows, 1, 0, &len));
	jpki_rows_free(rows);
}

/* PostgreSQL only: a connection the server dropped (a restart, an
 * administrator) fails one statement and is made again for the next. */
static void test_pg_reconnects(void **state)
{
	struct fixture *f = *state;
	struct jpki_store *admin = NULL;
	struct jpki_rows *rows = NULL;
	struct jpki_value pid;

	if (!tu_store_is_pg())
		skip();
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT pg_backend_pid()", NULL, 0),
			 0);
	pid = JPKI_V_INT(jpki_rows_int(rows, 0, 0));
	jpki_rows_free(rows);
	/* prepared in the session about to end: made again in the next */
	assert_int_equal(count_rows(f->st), 0);
	assert_int_equal(jpki_store_open(&admin, f->path), 0);
	assert_int_equal(jpki_store_exec(admin,
					 "SELECT pg_terminate_backend($1)",
					 &pid, 1, NULL),
			 0);
	jpki_store_free(admin);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ('r')",
					 NULL, 0, NULL),
			 JPKI_ERR_STORE);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ('r')",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(count_rows(f->st), 1);
}

/* What the row callback of jpki_store_each saw. */
struct seen {
	int rows;
	int stop_at; /* returns JPKI_ERR_STATE at this row (1-based) */
	int64_t sum;
	char last[16];
	size_t blob_len;
};

static int see_row(void *arg, const struct jpki_value *cells, size_t columns)
{
	struct seen *s = arg;

	assert_int_equal(columns, 3);
	assert_int_equal(cells[0].type, JPKI_VALUE_TEXT);
	assert_int_equal(cells[1].type, JPKI_VALUE_INT);
	assert_true(strcmp(cells[0].s, s->last) > 0); /* ORDER BY k */
	snprintf(s->last, sizeof(s->last), "%s", cells[0].s);
	s->sum += cells[1].i;
	if (cells[2].type == JPKI_VALUE_BLOB)
		s->blob_len += cells[2].len;
	else
		assert_int_equal(cells[2].type, JPKI_VALUE_NULL);
	return ++s->rows == s->stop_at ? JPKI_ERR_STATE : 0;
}

static void test_each_streams_rows(void **state)
{
	struct fixture *f = *state;
	struct seen all = {0}, stopped = {.stop_at = 2}, none = {0};

	assert_int_equal(jpki_store_begin(f->st), 0);
	for (int i = 0; i < 5; i++) {
		char k[8];
		struct jpki_value p[] = {JPKI_V_TEXT(k), JPKI_V_INT(i),
					 i % 2 ? JPKI_V_BLOB("abc", 3)
					       : JPKI_V_NULL};

		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(jpki_store_exec(f->st,
						 "INSERT INTO t (k, n, b)"
						 " VALUES ($1, $2, $3)",
						 p, 3, NULL),
				 0);
	}
	assert_int_equal(jpki_store_commit(f->st), 0);
	assert_int_equal(jpki_store_each(f->st,
					 "SELECT k, n, b FROM t ORDER BY k",
					 NULL, 0, see_row, &all),
			 0);
	assert_int_equal(all.rows, 5);
	assert_int_equal(all.sum, 0 + 1 + 2 + 3 + 4);
	assert_int_equal(all.blob_len, 6);
	/* the callback's error stops the rows and comes back */
	assert_int_equal(jpki_store_each(f->st,
					 "SELECT k, n, b FROM t ORDER BY k",
					 NULL, 0, see_row, &stopped),
			 JPKI_ERR_STATE);
	assert_int_equal(stopped.rows, 2);
	/* a bad statement calls nothing */
	assert_int_equal(jpki_store_each(f->st, "SELECT nope FROM t", NULL, 0,
					 see_row, &none),
			 JPKI_ERR_STORE);
	assert_int_equal(none.rows, 0);
	/* the store is usable afterwards */
	assert_int_equal(count_rows(f->st), 5);
}

struct reader_arg {
	struct jpki_store *st;
	const char *sql; /* NULL: count t's rows */
	int r;
	int64_t count;
};

/* Another thread's query: runs while the caller holds a transaction. */
static void *count_in_thread(void *p)
{
	struct reader_arg *a = p;
	struct jpki_rows *rows = NULL;

	a->count = -1;
	a->r = jpki_store_query(&rows, a->st,
				a->sql ? a->sql : "SELECT COUNT(*) FROM t",
				NULL, 0);
	if (a->r == 0)
		a->count = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return NULL;
}

static struct reader_arg count_from_thread(struct jpki_store *st)
{
	struct reader_arg a = {.st = st};
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, count_in_thread, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return a;
}

/* A query from a thread that does not own the open transaction runs beside
 * it (it used to wait for the commit) and sees only what was committed; the
 * owner sees its own uncommitted row. */
static void test_reader_beside_transaction(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("a");
	struct reader_arg a;

	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	a = count_from_thread(f->st); /* would deadlock before: joined */
	assert_int_equal(a.r, 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(count_rows(f->st), 1);
	assert_int_equal(jpki_store_commit(f->st), 0);
	a = count_from_thread(f->st);
	assert_int_equal(a.r, 0);
	assert_int_equal(a.count, 1);
}

/* Fault injection counts the read connection's queries too, and a failed
 * read leaves the transaction beside it alone. */
static void test_reader_fault_injected(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("b");
	struct reader_arg a;

	assert_int_equal(jpki_store_begin(f->st), 0);
	jpki_store_fail_after(f->st, 1);
	a = count_from_thread(f->st);
	assert_int_equal(a.r, JPKI_ERR_STORE);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(jpki_store_commit(f->st), 0);
	assert_int_equal(count_rows(f->st), 1);
}

/* A read connection takes no writes, even one sent there by mistake as a
 * query. */
static void test_reader_refuses_writes(void **state)
{
	struct fixture *f = *state;
	struct reader_arg a = {.st = f->st};
	pthread_t t;

	assert_int_equal(jpki_store_begin(f->st), 0);
	a.sql = "INSERT INTO t (k) VALUES ('w') RETURNING k";
	assert_int_equal(pthread_create(&t, NULL, count_in_thread, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.r, JPKI_ERR_STORE);
	jpki_store_rollback(f->st);
	assert_int_equal(count_rows(f->st), 0);
}

/* A read store (a replica) refuses every write before the database sees
 * it, and reads as any store; the same writes on the store itself work
 * (the tests above). */
static void test_read_store_refuses_writes(void **state)
{
	struct fixture *f = *state;
	struct jpki_store *rd = NULL;
	int got = -1;

	assert_int_equal(jpki_store_open_read(&rd, f->path), 0);
	assert_int_equal(jpki_store_begin(rd), JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "read store"));
	assert_int_equal(jpki_store_exec(rd, "INSERT INTO t (k) VALUES ('x')",
					 NULL, 0, NULL),
			 JPKI_ERR_STATE);
	assert_int_equal(jpki_store_migrate(rd, "test", steps, 2),
			 JPKI_ERR_STATE);
	assert_int_equal(jpki_store_try_lock(rd, 42, &got), JPKI_ERR_STATE);
	assert_int_equal(got, 0);
	assert_int_equal(jpki_store_heartbeat(rd, "r"), JPKI_ERR_STATE);
	assert_int_equal(jpki_store_writes(rd), 0);
	/* reads: what the writer committed */
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ('y')",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(count_rows(rd), 1);
	jpki_store_free(rd);
	assert_int_equal(jpki_store_open_read(&rd, ""), JPKI_ERR_CONFIG);
	assert_null(rd);
}

static int64_t heartbeat_mark(struct jpki_store *st, const char *id)
{
	struct jpki_value p = JPKI_V_TEXT(id);
	struct jpki_rows *rows = NULL;
	int64_t mark;

	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT mark FROM jpki_heartbeat"
					  " WHERE id = $1",
					  &p, 1),
			 0);
	mark = jpki_rows_count(rows) == 1 ? jpki_rows_int(rows, 0, 0) : -1;
	jpki_rows_free(rows);
	return mark;
}

/* The heartbeat row holds the writer's monotonic clock, moves forward with
 * each beat and goes at the end; an id is required. */
static void test_heartbeat(void **state)
{
	struct fixture *f = *state;
	int64_t before = jpki_store_mark_now(), first, second;

	assert_int_equal(jpki_store_heartbeat(f->st, "a"), 0);
	first = heartbeat_mark(f->st, "a");
	assert_true(first >= before && first <= jpki_store_mark_now());
	usleep(20 * 1000);
	assert_int_equal(jpki_store_heartbeat(f->st, "a"), 0);
	second = heartbeat_mark(f->st, "a");
	assert_true(second >= first + 20);
	assert_int_equal(jpki_store_heartbeat(f->st, "b"), 0);
	jpki_store_heartbeat_end(f->st, "a");
	assert_int_equal(heartbeat_mark(f->st, "a"), -1);
	assert_true(heartbeat_mark(f->st, "b") > 0);
	assert_int_equal(jpki_store_heartbeat(f->st, ""), JPKI_ERR_INVALID);
	assert_int_equal(jpki_store_heartbeat(f->st, NULL), JPKI_ERR_INVALID);
}

/* With target_session_attrs=read-write in the URL, a thread still reads
 * beside a transaction: its read-only connection used to be refused by
 * libpq ("session is read-only"), and it waited for the commit instead
 * (here: for ever, so the transaction ends after 5 s and the test fails). */
static void test_pg_reader_with_read_write_attrs(void **state)
{
	struct fixture *f = *state;
	struct jpki_store *st = NULL;
	struct reader_arg a = {0};
	struct timespec until;
	pthread_t t;
	char *url = NULL;
	int joined;

	if (!tu_store_is_pg())
		skip();
	assert_true(asprintf(&url, "%s%ctarget_session_attrs=read-write",
			     f->path, strchr(f->path, '?') ? '&' : '?') > 0);
	assert_int_equal(jpki_store_open(&st, url), 0);
	a.st = st;
	assert_int_equal(jpki_store_begin(st), 0);
	assert_int_equal(pthread_create(&t, NULL, count_in_thread, &a), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	joined = pthread_timedjoin_np(t, NULL, &until) == 0;
	jpki_store_rollback(st);
	if (!joined)
		assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(joined);
	assert_int_equal(a.r, 0);
	jpki_store_free(st);
	free(url);
}

/* Where the tests that only run statements put their rows. */
static struct jpki_rows *rows_sink;

/* Sessions of the fixture's database other than the asking one. */
static int64_t other_sessions(struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT count(*) FROM pg_stat_activity"
					  " WHERE datname = current_database()"
					  " AND pid <> pg_backend_pid()",
					  NULL, 0),
			 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

/* How many statements of this text the asking session has prepared. */
static int64_t prepared(struct jpki_store *st, const char *sql)
{
	struct jpki_value p = JPKI_V_TEXT(sql);
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT count(*) FROM "
					  "pg_prepared_statements "
					  "WHERE statement = $1",
					  &p, 1),
			 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

/* PostgreSQL only: a statement is prepared once per connection and reused
 * (no new one for the second run); DDL is never prepared. */
static void test_pg_statements_prepared(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT k FROM t WHERE k = $1";
	struct jpki_value p = JPKI_V_TEXT("none");
	struct jpki_rows *rows = NULL;

	if (!tu_store_is_pg())
		skip();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(jpki_store_query(&rows, f->st, q, &p, 1), 0);
		assert_int_equal(jpki_rows_count(rows), 0);
		jpki_rows_free(rows);
	}
	assert_int_equal(prepared(f->st, q), 1);
	/* DDL runs as written, and its connection starts its cache again */
	assert_int_equal(jpki_store_exec(f->st, "CREATE TABLE u (x INTEGER)",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(prepared(f->st, "CREATE TABLE u (x INTEGER)"), 0);
	assert_int_equal(prepared(f->st, q), 0);
}

/* The name under which the asking session prepared this text ("" when
 * none): kept in *out (16 bytes). */
static void prepared_name(char *out, struct jpki_store *st, const char *sql)
{
	struct jpki_value p = JPKI_V_TEXT(sql);
	struct jpki_rows *rows = NULL;

	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT name FROM "
					  "pg_prepared_statements "
					  "WHERE statement = $1",
					  &p, 1),
			 0);
	snprintf(out, 16, "%s",
		 jpki_rows_count(rows) == 1 ? jpki_rows_text(rows, 0, 0) : "");
	jpki_rows_free(rows);
}

/* PostgreSQL only: a statement run many times is prepared again now and
 * then (so that its plan follows a table that grew since), the old one
 * freed: one at a time, under a new name. */
static void test_pg_statement_prepared_again(void **state)
{
	struct fixture *f = *state;
	const char *q = "SELECT n FROM t WHERE k = $1";
	struct jpki_value p = JPKI_V_TEXT("x");
	char first[16], later[16];

	if (!tu_store_is_pg())
		skip();
	assert_int_equal(jpki_store_query(&rows_sink, f->st, q, &p, 1), 0);
	jpki_rows_free(rows_sink);
	prepared_name(first, f->st, q);
	assert_string_not_equal(first, "");
	for (int i = 0; i < 200; i++) {
		assert_int_equal(jpki_store_query(&rows_sink, f->st, q, &p, 1),
				 0);
		jpki_rows_free(rows_sink);
	}
	prepared_name(later, f->st, q); /* fails with two: the old one kept */
	assert_string_not_equal(later, "");
	assert_string_not_equal(later, first);
	assert_int_equal(prepared(f->st, q), 1);
}

/* PostgreSQL only: a kept statement whose table another session changed
 * (its columns no longer those it was prepared with) is prepared again
 * rather than failing. */
static void test_pg_statement_after_schema_change(void **state)
{
	struct fixture *f = *state;
	struct jpki_store *admin = NULL;
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT("s");

	if (!tu_store_is_pg())
		skip();
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	assert_int_equal(jpki_store_query(&rows, f->st, "SELECT * FROM t",
					  NULL, 0),
			 0);
	jpki_rows_free(rows);
	assert_int_equal(jpki_store_open(&admin, f->path), 0);
	assert_int_equal(jpki_store_exec(admin,
					 "ALTER TABLE t ADD COLUMN more TEXT",
					 NULL, 0, NULL),
			 0);
	jpki_store_free(admin);
	assert_int_equal(jpki_store_query(&rows, f->st, "SELECT * FROM t",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_count(rows), 1);
	assert_true(jpki_rows_is_null(rows, 0, 5)); /* the new column */
	jpki_rows_free(rows);
}

/* PostgreSQL only: every column type the backend decodes in binary comes
 * back as the SQLite backend would give it, and a statement with a type
 * it does not (numeric, a timestamp) as text, as before. */
static void test_pg_result_types(void **state)
{
	struct fixture *f = *state;
	unsigned char blob[] = {0, 0xff, 0, 'a'};
	struct jpki_value p = JPKI_V_BLOB(blob, sizeof(blob));
	struct jpki_rows *rows = NULL;
	const unsigned char *b;
	size_t len = 0;

	if (!tu_store_is_pg())
		skip();
	assert_int_equal(
		jpki_store_query(&rows, f->st,
				 "SELECT true, false, (-7)::int2, (-70000)::int4,"
				 " (-5000000000)::int8, 2.75::float8,"
				 " (-1.5)::float4, 'v'::varchar, 'c'::char(3),"
				 " 'テキスト'::text, $1::bytea, ''::bytea,"
				 " NULL::int8, 26::oid, 'nm'::name",
				 &p, 1),
		0);
	assert_int_equal(jpki_rows_count(rows), 1);
	assert_int_equal(jpki_rows_int(rows, 0, 0), 1);
	assert_int_equal(jpki_rows_int(rows, 0, 1), 0);
	assert_int_equal(jpki_rows_int(rows, 0, 2), -7);
	assert_int_equal(jpki_rows_int(rows, 0, 3), -70000);
	assert_true(jpki_rows_int(rows, 0, 4) == -5000000000LL);
	assert_int_equal(jpki_rows_int(rows, 0, 5), 2);
	assert_int_equal(jpki_rows_int(rows, 0, 6), -1);
	assert_string_equal(jpki_rows_text(rows, 0, 7), "v");
	assert_string_equal(jpki_rows_text(rows, 0, 8), "c  ");
	assert_string_equal(jpki_rows_text(rows, 0, 9), "テキスト");
	b = jpki_rows_blob(rows, 0, 10, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	assert_non_null(jpki_rows_blob(rows, 0, 11, &len));
	assert_int_equal(len, 0);
	assert_true(jpki_rows_is_null(rows, 0, 12));
	assert_int_equal(jpki_rows_int(rows, 0, 13), 26);
	assert_string_equal(jpki_rows_text(rows, 0, 14), "nm");
	jpki_rows_free(rows);
	/* numeric and timestamp: the statement's results stay text */
	assert_int_equal(
		jpki_store_query(&rows, f->st,
				 "SELECT 12345678901234::numeric,"
				 " '2026-01-02 03:04:05'::timestamp, $1::bytea",
				 &p, 1),
		0);
	assert_true(jpki_rows_int(rows, 0, 0) == 12345678901234LL);
	assert_string_equal(jpki_rows_text(rows, 0, 1), "2026-01-02 03:04:05");
	b = jpki_rows_blob(rows, 0, 2, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	jpki_rows_free(rows);
}

/* Read connections opened ahead are there before any query needs one
 * (PostgreSQL: sessions the server counts), and the first thread that
 * reads beside a transaction takes one of them rather than opening
 * another. */
static void test_readers_opened_ahead(void **state)
{
	struct fixture *f = *state;
	struct jpki_value p = JPKI_V_TEXT("o");
	struct reader_arg a;
	int64_t before = 0;

	if (tu_store_is_pg())
		before = other_sessions(f->st);
	assert_int_equal(jpki_store_open_readers(f->st, 2), 0);
	if (tu_store_is_pg())
		assert_int_equal(other_sessions(f->st), before + 2);
	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st, "INSERT INTO t (k) VALUES ($1)",
					 &p, 1, NULL),
			 0);
	a = count_from_thread(f->st);
	assert_int_equal(a.r, 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(jpki_store_commit(f->st), 0);
	/* the thread took one of the two (and closed it at its exit; the
	 * server ends the session a moment later): one is left, where a
	 * connection of its own would have left both */
	if (tu_store_is_pg()) {
		int64_t n = 0;

		for (int i = 0; i < 200; i++) {
			if ((n = other_sessions(f->st)) == before + 1)
				break;
			usleep(10 * 1000);
		}
		assert_int_equal(n, before + 1);
	}
}

/* A database no second connection shares opens none ahead, and that is
 * not an error. */
static void test_readers_ahead_none(void **state)
{
	struct jpki_store *st = NULL;

	(void)state;
	assert_int_equal(jpki_store_open(&st, ":memory:"), 0);
	assert_int_equal(jpki_store_open_readers(st, 3), 0);
	jpki_store_free(st);
}

/* Writes are counted, reads are not: what the serve tests rest on. */
static void test_writes_counted(void **state)
{
	struct fixture *f = *state;
	struct jpki_value v[] = {JPKI_V_TEXT("w"), JPKI_V_INT(1)};
	struct jpki_rows *rows = NULL;
	uint64_t w = jpki_store_writes(f->st);

	/* reads and a failed begin: none */
	assert_int_equal(jpki_store_query(&rows, f->st, "SELECT k FROM t",
					  NULL, 0),
			 0);
	jpki_rows_free(rows);
	(void)count_rows(f->st);
	jpki_store_fail_after(f->st, 1);
	assert_int_equal(jpki_store_begin(f->st), JPKI_ERR_STORE);
	assert_int_equal(jpki_store_writes(f->st), w);
	/* a transaction with two statements: one */
	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO t (k, n) VALUES ($1, $2)",
					 v, 2, NULL),
			 0);
	assert_int_equal(jpki_store_exec(f->st, "UPDATE t SET n = 2", NULL, 0,
					 NULL),
			 0);
	assert_int_equal(jpki_store_commit(f->st), 0);
	assert_int_equal(jpki_store_writes(f->st), w + 1);
	/* a statement outside a transaction is one of its own */
	assert_int_equal(
	    jpki_store_exec(f->st, "UPDATE t SET n = 3", NULL, 0, NULL), 0);
	assert_int_equal(jpki_store_writes(f->st), w + 2);
}

/* The cross-process try-lock: PostgreSQL refuses a second holder and
 * grants it once let go; SQLite always grants. Never inside a
 * transaction. */
static void test_try_lock(void **state)
{
	struct fixture *f = *state;
	struct jpki_store *other = NULL;
	int got = -1;

	assert_int_equal(jpki_store_open(&other, f->path), 0);
	assert_int_equal(jpki_store_try_lock(f->st, 42, &got), 0);
	assert_int_equal(got, 1);
	assert_int_equal(jpki_store_try_lock(other, 42, &got), 0);
	assert_int_equal(got, tu_store_is_pg() ? 0 : 1);
	/* another key is another lock */
	assert_int_equal(jpki_store_try_lock(other, 43, &got), 0);
	assert_int_equal(got, 1);
	jpki_store_unlock(other, 43);
	jpki_store_unlock(f->st, 42);
	assert_int_equal(jpki_store_try_lock(other, 42, &got), 0);
	assert_int_equal(got, 1);
	jpki_store_unlock(other, 42);
	/* the handle's close lets go too (the server ends the session a
	 * moment after the client has gone) */
	assert_int_equal(jpki_store_try_lock(other, 44, &got), 0);
	jpki_store_free(other);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(jpki_store_try_lock(f->st, 44, &got), 0);
		if (got)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(got, 1);
	jpki_store_unlock(f->st, 44);
	/* inside a transaction: refused */
	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_store_try_lock(f->st, 45, &got),
			 JPKI_ERR_INTERNAL);
	assert_int_equal(got, 0);
	jpki_store_rollback(f->st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_streams_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_types_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_placeholders_by_number,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key_is_exists,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit_is_durable_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_injected_failure_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_begin_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sql_is_store_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations_run_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_migration_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_dollar_body,
						setup, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_backend_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_commit_after_failed_statement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_counted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_null_blob,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_reconnects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reader_beside_transaction,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_fault_injected,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_counted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_try_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reader_refuses_writes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_store_refuses_writes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_pg_reader_with_read_write_attrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_statements_prepared,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pg_statement_after_schema_change, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pg_statement_prepared_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_result_types, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readers_opened_ahead,
						setup, teardown),
		cmocka_unit_test(test_readers_ahead_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
