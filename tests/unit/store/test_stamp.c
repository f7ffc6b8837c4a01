/*
 * jpki_store_change_stamp on SQLite: equal while only reads happen, changed
 * by a commit of this handle, of another handle (another connection) and
 * of another process; refused where it cannot be had (an in-memory
 * database), so that the caller reads instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jpki/store.h"
#include "testutil.h"

#define TABLE "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, n BIGINT)"

static char *db_path(const char *dir)
{
	char *path = NULL;

	assert_true(asprintf(&path, "sqlite:%s/stamp.db", dir) > 0);
	return path;
}

static void stamp(struct jpki_store_stamp *out, struct jpki_store *st)
{
	assert_int_equal(jpki_store_change_stamp(out, st), 0);
}

static int same(const struct jpki_store_stamp *a,
		const struct jpki_store_stamp *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void insert(struct jpki_store *st, const char *k)
{
	struct jpki_value p[] = {JPKI_V_TEXT(k), JPKI_V_INT(1)};

	assert_int_equal(jpki_store_exec(st, "INSERT INTO t (k, n) VALUES "
					     "($1, $2)",
					 p, 2, NULL),
			 0);
}

static void test_reads_keep_it_commits_change_it(void **state)
{
	char *dir = tu_tmpdir(), *url = db_path(dir);
	struct jpki_store *st = NULL, *other = NULL;
	struct jpki_store_stamp a, b;
	struct jpki_rows *rows = NULL;

	(void)state;
	assert_int_equal(jpki_store_open(&st, url), 0);
	assert_int_equal(jpki_store_exec(st, TABLE, NULL, 0, NULL), 0);
	insert(st, "a");
	stamp(&a, st);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(jpki_store_query(&rows, st,
						  "SELECT k, n FROM t", NULL,
						  0),
				 0);
		jpki_rows_free(rows);
	}
	stamp(&b, st);
	assert_true(same(&a, &b));

	/* a commit on this handle */
	insert(st, "b");
	stamp(&b, st);
	assert_false(same(&a, &b));

	/* a commit on another connection to the same file */
	assert_int_equal(jpki_store_open(&other, url), 0);
	stamp(&a, st);
	assert_int_equal(jpki_store_begin(other), 0);
	insert(other, "c");
	stamp(&b, st);
	assert_true(same(&a, &b)); /* not committed yet */
	assert_int_equal(jpki_store_commit(other), 0);
	stamp(&b, st);
	assert_false(same(&a, &b));

	jpki_store_free(other);
	jpki_store_free(st);
	tu_rmtree(dir);
	free(url);
	free(dir);
}

/* The commit of a process that has its own SQLite, forked before this one
 * opened the database (SQLite's state must not cross a fork). */
static void test_commit_of_another_process(void **state)
{
	char *dir = tu_tmpdir(), *url = db_path(dir);
	struct jpki_store *st = NULL;
	struct jpki_store_stamp a, b;
	int go[2], status = -1;
	pid_t child;
	char c;

	(void)state;
	assert_int_equal(pipe(go), 0);
	if ((child = fork()) == 0) {
		struct jpki_store *mine = NULL;
		struct jpki_value p[] = {JPKI_V_TEXT("from-child"),
					 JPKI_V_INT(2)};

		close(go[1]);
		if (read(go[0], &c, 1) != 1 || jpki_store_open(&mine, url) != 0 ||
		    jpki_store_exec(mine, "INSERT INTO t (k, n) VALUES ($1, "
					  "$2)",
				    p, 2, NULL) != 0)
			_exit(1);
		jpki_store_free(mine);
		_exit(0);
	}
	assert_true(child > 0);
	close(go[0]);
	assert_int_equal(jpki_store_open(&st, url), 0);
	assert_int_equal(jpki_store_exec(st, TABLE, NULL, 0, NULL), 0);
	insert(st, "a");
	stamp(&a, st);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(tu_count(st, "SELECT count(*) FROM t"), 2);
	stamp(&b, st);
	assert_false(same(&a, &b));
	close(go[1]);
	jpki_store_free(st);
	tu_rmtree(dir);
	free(url);
	free(dir);
}

static void test_in_memory_has_none(void **state)
{
	struct jpki_store *st = NULL;
	struct jpki_store_stamp a;

	(void)state;
	assert_int_equal(jpki_store_open(&st, "sqlite::memory:"), 0);
	assert_int_equal(jpki_store_exec(st, TABLE, NULL, 0, NULL), 0);
	assert_int_not_equal(jpki_store_change_stamp(&a, st), 0);
	insert(st, "a");
	assert_int_not_equal(jpki_store_change_stamp(&a, st), 0);
	jpki_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_keep_it_commits_change_it),
		cmocka_unit_test(test_commit_of_another_process),
		cmocka_unit_test(test_in_memory_has_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
