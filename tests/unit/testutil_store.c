/* The helpers of testutil.h that open a store: a library member of their
 * own, so that only tests of modules above the store link it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jpki/store.h"
#include "testutil.h"

int tu_store_is_pg(void)
{
	const char *pg = getenv("JPKI_TEST_PG");

	return pg != NULL && *pg != '\0';
}

/* The database name part of a PostgreSQL URL, for ours and the admin's. */
static char *pg_url_with_db(const char *url, const char *db)
{
	const char *host = strstr(url, "://");
	const char *end, *query;
	char *out;

	host = host ? host + 3 : url;
	end = host + strcspn(host, "/?");
	query = strchr(end, '?');
	if (asprintf(&out, "%.*s/%s%s", (int)(end - url), url, db,
		     query ? query : "") < 0)
		return NULL;
	return out;
}

static int pg_admin(const char *sql)
{
	struct jpki_store *st = NULL;
	int r;

	if ((r = jpki_store_open(&st, getenv("JPKI_TEST_PG"))) == 0)
		r = jpki_store_exec(st, sql, NULL, 0, NULL);
	if (r != 0)
		fprintf(stderr, "testutil: %s: %s\n", sql, jpki_err_detail());
	jpki_store_free(st);
	return r;
}

char *tu_store_url(const char *dir)
{
	static unsigned counter;
	char name[64], sql[128], *url;

	if (!tu_store_is_pg()) {
		if (asprintf(&url, "sqlite:%s/jpki.db", dir) < 0)
			return NULL;
		return url;
	}
	/* time, pid and counter: unique even beside a crashed run's leftovers
	 */
	snprintf(name, sizeof(name), "jpki_test_%lld_%ld_%u",
		 (long long)time(NULL), (long)getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	if (pg_admin(sql) != 0)
		return NULL;
	return pg_url_with_db(getenv("JPKI_TEST_PG"), name);
}

void tu_store_drop(const char *url)
{
	const char *name;
	char sql[128];

	if (url == NULL || !tu_store_is_pg())
		return;
	name = strrchr(url, '/');
	if (name == NULL)
		return;
	name++;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
		 (int)strcspn(name, "?"), name);
	(void)pg_admin(sql);
}

int tu_store_new(struct jpki_store **st, char **url, char **dir)
{
	*st = NULL;
	*url = NULL;
	if ((*dir = tu_tmpdir()) == NULL)
		return -1;
	if ((*url = tu_store_url(*dir)) == NULL)
		return -1;
	if (jpki_store_open(st, *url) != 0) {
		fprintf(stderr, "store open: %s\n", jpki_err_detail());
		return -1;
	}
	return 0;
}

void tu_store_close(struct jpki_store *st, char *url, char *dir)
{
	jpki_store_free(st);
	if (url != NULL)
		tu_store_drop(url);
	free(url);
	if (dir != NULL)
		tu_rmtree(dir);
	free(dir);
}

int64_t tu_count(struct jpki_store *st, const char *sql)
{
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, st, sql, NULL, 0), 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}
