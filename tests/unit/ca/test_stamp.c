/*
 * The shared reads of the status stamp (stamp.c): a caller gets the result
 * of a read that started after it called, never of one already in flight
 * when it came (that one may have missed a revocation committed before the
 * request); reads are shared when callers come together; a failed read's
 * error reaches the callers it serves. And on PostgreSQL, the counter the
 * reads return moves with every status change (migration 9's trigger) and
 * not with issuance.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ca/ca_internal.h"
#include "ca_fixture.h"

/* The fake read: numbers itself at its start and takes a while, so that
 * other callers come while it runs. */
struct fake {
	atomic_long begun; /* reads started */
	long sleep_us;
	int fail; /* return this (0: success) */
	/* the broken rule, to show the test catches it: struct joining */
	int join_in_flight;
};

static int fake_read(void *arg, struct ca_stamp *out)
{
	struct fake *f = arg;
	struct timespec ts = {0, f->sleep_us * 1000};

	out->n = atomic_fetch_add(&f->begun, 1) + 1;
	nanosleep(&ts, NULL);
	return f->fail;
}

/* A plain "single flight", the rule broken on purpose: a caller that comes
 * while a read runs takes that read's result. */
struct joining {
	pthread_mutex_t lock;
	pthread_cond_t ended;
	int running;
	struct ca_stamp last;
};

static int joining_read(struct ca_stamp *out, struct joining *j, struct fake *f)
{
	pthread_mutex_lock(&j->lock);
	if (j->running) {
		while (j->running)
			pthread_cond_wait(&j->ended, &j->lock);
		*out = j->last;
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	j->running = 1;
	pthread_mutex_unlock(&j->lock);
	fake_read(f, out);
	pthread_mutex_lock(&j->lock);
	j->last = *out;
	j->running = 0;
	pthread_cond_broadcast(&j->ended);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

struct caller {
	struct ca_coalesce *c;
	struct joining *j; /* instead of c */
	struct fake *f;
	int calls;
	int violations; /* results of reads started before the call */
	int errors;
};

static void *caller_run(void *arg)
{
	struct caller *k = arg;

	for (int i = 0; i < k->calls; i++) {
		/* every read numbered up to this started before the call */
		long before = atomic_load(&k->f->begun);
		struct ca_stamp s;
		int r = k->j != NULL
			    ? joining_read(&s, k->j, k->f)
			    : ca_coalesce_read(&s, k->c, fake_read, k->f);

		if (r != 0)
			k->errors++;
		else if (s.n <= before)
			k->violations++;
	}
	return NULL;
}

/* 8 callers, 200 calls each: returns the violations, *reads the reads. */
static int run_callers(struct fake *f, uint64_t *reads, int *errors)
{
	struct ca_coalesce c;
	struct joining j = {.lock = PTHREAD_MUTEX_INITIALIZER,
			    .ended = PTHREAD_COND_INITIALIZER};
	struct caller k[8];
	pthread_t t[8];
	int bad = 0;

	ca_coalesce_init(&c);
	*errors = 0;
	for (int i = 0; i < 8; i++) {
		k[i] = (struct caller){.c = &c,
				       .j = f->join_in_flight ? &j : NULL,
				       .f = f,
				       .calls = 200};
		assert_int_equal(pthread_create(&t[i], NULL, caller_run, &k[i]),
				 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		bad += k[i].violations;
		*errors += k[i].errors;
	}
	*reads = atomic_load(&c.reads);
	ca_coalesce_clear(&c);
	return bad;
}

/* Never a read that began before the call; fewer reads than calls. */
static void test_reads_start_after_the_call(void **state)
{
	struct fake f = {.sleep_us = 300};
	uint64_t reads;
	int errors;

	(void)state;
	assert_int_equal(run_callers(&f, &reads, &errors), 0);
	assert_int_equal(errors, 0);
	assert_true(reads < 1600);
	assert_true(reads == (uint64_t)atomic_load(&f.begun));
	fprintf(stderr, "# 1600 calls, %llu reads\n",
		(unsigned long long)reads);
}

/* The check above catches a coalescer that joins the read in flight. */
static void test_joining_the_read_in_flight_is_caught(void **state)
{
	struct fake f = {.sleep_us = 300, .join_in_flight = 1};
	uint64_t reads;
	int errors;

	(void)state;
	assert_true(run_callers(&f, &reads, &errors) > 0);
}

/* A failed read fails every call it serves; the next read is made anew. */
static void test_failure_reaches_its_callers(void **state)
{
	struct fake f = {.sleep_us = 100, .fail = JPKI_ERR_STORE};
	struct ca_coalesce c;
	struct ca_stamp s;
	uint64_t reads;
	int errors;

	(void)state;
	assert_int_equal(run_callers(&f, &reads, &errors), 0);
	assert_int_equal(errors, 1600);
	f.fail = 0;
	ca_coalesce_init(&c);
	assert_int_equal(ca_coalesce_read(&s, &c, fake_read, &f), 0);
	assert_int_equal(s.n, atomic_load(&f.begun));
	/* alone, each call is its own read */
	assert_int_equal(ca_coalesce_read(&s, &c, fake_read, &f), 0);
	assert_int_equal(atomic_load(&c.reads), 2);
	ca_coalesce_clear(&c);
}

/* On PostgreSQL: a hold, a release and a revocation each move the stamp,
 * by whichever connection; issuing does not. SQLite has none (its WAL
 * index is the stamp there). */
static void test_pg_counter_moves_with_status(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_store_stamp s0, s1, s2;
	struct jpki_cert_info *c;

	if (!tu_store_is_pg()) {
		assert_int_equal(ca_status_stamp(&s0, f->ca), JPKI_ERR_STATE);
		return;
	}
	c = fx_issue(f, JPKI_CERT_SIGN, "T1");
	assert_int_equal(ca_status_stamp(&s0, f->ca), 0);
	jpki_cert_info_free(fx_issue(f, JPKI_CERT_SIGN, "T2"));
	assert_int_equal(ca_status_stamp(&s1, f->ca), 0);
	assert_memory_equal(&s0, &s1, sizeof(s0));
	assert_int_equal(jpki_ca_hold(f->ca, c->serial), 0);
	assert_int_equal(ca_status_stamp(&s1, f->ca), 0);
	assert_memory_not_equal(&s0, &s1, sizeof(s0));
	assert_int_equal(jpki_ca_release(f->ca, c->serial), 0);
	assert_int_equal(ca_status_stamp(&s2, f->ca), 0);
	assert_memory_not_equal(&s1, &s2, sizeof(s1));
	/* a failed read is no stamp */
	jpki_store_fail_after(f->st, 1);
	assert_int_equal(ca_status_stamp(&s2, f->ca), JPKI_ERR_STATE);
	jpki_store_fail_after(f->st, 0);
	jpki_cert_info_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_start_after_the_call),
	    cmocka_unit_test(test_joining_the_read_in_flight_is_caught),
	    cmocka_unit_test(test_failure_reaches_its_callers),
	    cmocka_unit_test_setup_teardown(test_pg_counter_moves_with_status,
					    fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
