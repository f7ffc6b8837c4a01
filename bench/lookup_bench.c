/*
 * Agency look-ups per second (本人確認情報の提供, docs/REGISTRY.md): a batch
 * of N look-ups by resident code, as POST /api/services/batch runs them
 * (jpki_services_lookup_many, a transaction of jpki_services_batch_chunk()
 * look-ups, 1024 growing to 8192: each answer's record, a row of the
 * look-ups' journal and an audit entry, durable before the chunk's
 * answers), against the raw rate of the same single-row SELECT by
 * resident code through the store API, in the same run. The residents
 * (RESIDENTS of them) are put into the register by one INSERT ... SELECT:
 * registering them one by one would take minutes and change nothing the
 * look-ups see. After the look-ups, the journal's fold into the
 * disclosure's indexed table (jpki_services_lookup_fold) is timed too and
 * a second ratio counts it.
 *
 * usage: lookup_bench [N [RESIDENTS]]   (default 100000, 10000)
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jpki/services.h"

static _Noreturn void fail(const char *what)
{
	fprintf(stderr, "lookup_bench: %s: %s\n", what, jpki_err_detail());
	exit(1);
}

/* The process's CPU time: the look-ups' own cost, without the wait for
 * the disk's fsync at each commit. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static long count(struct jpki_store *st, const char *table)
{
	struct jpki_rows *rows = NULL;
	char sql[96];
	long c;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if (jpki_store_query(&rows, st, sql, NULL, 0) != 0)
		fail("count");
	c = (long)jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return c;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long residents = argc > 2 ? atol(argv[2]) : 10000;
	char dir[32] = "/tmp/jpki-bench-XXXXXX", db[64], person[64];
	struct jpki_services_agency agency = {0};
	struct jpki_services_query *q;
	struct jpki_services_answer *a;
	struct jpki_store *st = NULL;
	double t0, c0, raw, looked, raw_cpu, looked_cpu, looked_s, looked_cpu_s,
	    fold_s, fold_cpu_s;
	size_t folded = 0;
	int *rcs;

	if (n <= 0 || residents <= 0)
		fail("usage: lookup_bench [N [RESIDENTS]]");
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp");
	snprintf(db, sizeof(db), "%s/jpki.db", dir);
	if (jpki_store_open(&st, db) != 0 || jpki_services_migrate(st) != 0)
		fail("store");
	{
		struct jpki_value v = JPKI_V_INT(residents);

		if (jpki_store_begin(st) != 0 ||
		    jpki_store_exec(
			st,
			"INSERT INTO registry_resident (person, municipality,"
			" prefecture_name, municipality_name, name, name_subst,"
			" sex, birth, address, address_subst, guardianship,"
			" status, registered_at, changed_at)"
			" WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
			"  SELECT i + 1 FROM n WHERE i < $1)"
			" SELECT printf('R%016X', i), '131016', '東京都',"
			"  '千代田区', printf('山田　%d', i), '', 1,"
			"  '1980-06-01', printf('千代田１番%d号', i), '', 0, 1,"
			"  1767225600, 1767225600 FROM n",
			&v, 1, NULL) != 0 ||
		    jpki_store_commit(st) != 0)
			fail("filling the register");
	}
	snprintf(agency.name, sizeof(agency.name), "pension");
	snprintf(agency.purposes[0], sizeof(agency.purposes[0]),
		 "pension.benefit");
	agency.n_purposes = 1;

	/* the raw read: the look-up's own SELECT by resident code */
	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < n; i++) {
		struct jpki_rows *rows = NULL;
		struct jpki_value v;

		snprintf(person, sizeof(person), "R%016lX",
			 1 + (i * 7919) % residents);
		v = JPKI_V_TEXT(person);
		if (jpki_store_query(&rows, st,
				     "SELECT person FROM registry_resident"
				     " WHERE person = $1",
				     &v, 1) != 0 ||
		    jpki_rows_count(rows) != 1)
			fail("raw read");
		jpki_rows_free(rows);
	}
	raw = (double)n / (now_s() - t0);
	raw_cpu = (double)n / (cpu_s() - c0);

	q = calloc(JPKI_SERVICES_CHUNK_MAX, sizeof(*q));
	a = calloc(JPKI_SERVICES_CHUNK_MAX, sizeof(*a));
	rcs = calloc(JPKI_SERVICES_CHUNK_MAX, sizeof(*rcs));
	if (q == NULL || a == NULL || rcs == NULL)
		fail("memory");
	/* the caller's buffers touched before the clock starts: their first
	 * touch (22 MB of page faults) is the bench's, not the look-ups' */
	memset(q, 0, JPKI_SERVICES_CHUNK_MAX * sizeof(*q));
	memset(a, 0xff, JPKI_SERVICES_CHUNK_MAX * sizeof(*a));
	memset(rcs, 0xff, JPKI_SERVICES_CHUNK_MAX * sizeof(*rcs));
	t0 = now_s();
	c0 = cpu_s();
	for (long done = 0; done < n;) {
		size_t chunk = jpki_services_batch_chunk((size_t)done);
		size_t k =
		    (size_t)(n - done) < chunk ? (size_t)(n - done) : chunk;

		for (size_t j = 0; j < k; j++) {
			memset(&q[j], 0, sizeof(q[j]));
			snprintf(q[j].purpose, sizeof(q[j].purpose),
				 "pension.benefit");
			snprintf(q[j].resident_code, sizeof(q[j].resident_code),
				 "R%016lX",
				 1 + ((done + (long)j) * 7919) % residents);
		}
		if (jpki_services_lookup_many(a, rcs, st, &agency, q, k) != 0)
			fail("look-ups");
		for (size_t j = 0; j < k; j++)
			if (rcs[j] != 0 || !a[j].found)
				fail("a look-up was not answered");
		done += (long)k;
	}
	looked_s = now_s() - t0;
	looked_cpu_s = cpu_s() - c0;
	looked = (double)n / looked_s;
	looked_cpu = (double)n / looked_cpu_s;
	if (count(st, "services_lookup_recent") != n)
		fail("not every look-up was recorded");
	/* the journal into the disclosure's indexed table, as the window
	 * role does once a minute: timed apart, and added to the look-ups'
	 * time for the ratio with it */
	t0 = now_s();
	c0 = cpu_s();
	if (jpki_services_lookup_fold(&folded, st) != 0 ||
	    folded != (size_t)n || count(st, "services_lookup") != n)
		fail("the fold");
	fold_s = now_s() - t0;
	fold_cpu_s = cpu_s() - c0;
	printf("agency look-ups: %ld by resident code over %ld residents "
	       "(SQLite, synchronous=FULL, %d to %d a transaction)\n",
	       n, residents, JPKI_SERVICES_CHUNK_MIN, JPKI_SERVICES_CHUNK_MAX);
	printf("  raw single-row read (store API): %10.0f /s\n", raw);
	printf("  agency look-up, recorded:        %10.0f /s\n", looked);
	printf("  ratio: %.2f (target >= 0.5)\n", looked / raw);
	printf("  by CPU time alone (without the fsync waits): %.0f /s "
	       "against %.0f /s, ratio %.2f\n",
	       looked_cpu, raw_cpu, looked_cpu / raw_cpu);
	printf("  the fold of the %ld records into the disclosure's table: "
	       "%.3f s (CPU %.3f s); with it: %.0f /s, ratio %.2f (CPU "
	       "%.2f)\n",
	       n, fold_s, fold_cpu_s, (double)n / (looked_s + fold_s),
	       (double)n / (looked_s + fold_s) / raw,
	       (double)n / (looked_cpu_s + fold_cpu_s) / raw_cpu);
	free(q);
	free(a);
	free(rcs);
	jpki_store_free(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
