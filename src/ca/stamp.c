/*
 * The status stamp of a PostgreSQL store: the counter ca_status_stamp that
 * a trigger bumps in every transaction that changes a certificate's status
 * (authority.c, migration 9), read for the OCSP responder's answers kept by
 * request bytes (ocsp.c), as SQLite's WAL index is read on that backend.
 *
 * Reading it costs a round trip; the server's workers share the reads. A
 * request may use a value only from a read that started after the request
 * arrived: a read started before may have missed a revocation committed
 * before the request, and "revoked at the next request after its commit"
 * would no longer hold. So one read is in flight at a time; whoever comes
 * while it runs waits for the next one, which one of them starts when it
 * ends and which answers all of them. Under load each read serves as many
 * requests as came during the one before (pg_bench.sh: about four).
 */
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>
#include <sys/syscall.h>

#include "ca/ca_internal.h"

void ca_coalesce_init(struct ca_coalesce *c)
{
	atomic_init(&c->state, 0);
	atomic_init(&c->ended, 0);
	atomic_init(&c->gate[0], 0);
	atomic_init(&c->gate[1], 0);
	atomic_init(&c->seq, 0);
	atomic_init(&c->n, 0);
	atomic_init(&c->mark, 0);
	atomic_init(&c->marked, 0);
	atomic_init(&c->r, 0);
	atomic_init(&c->reads, 0);
}

void ca_coalesce_clear(struct ca_coalesce *c)
{
	(void)c;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
	/* returns at once if *word is no longer `expected`; a bound on the
	 * sleep all the same, so that no lost wake-up could hold a request
	 * for longer */
	struct timespec most = {0, 50 * 1000000L};

	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected,
		&most, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL,
		0);
}

/* The last result published; retried while a leader writes it. */
static int last_result(struct ca_stamp *out, struct ca_coalesce *c)
{
	for (;;) {
		uint32_t s1 =
		    atomic_load_explicit(&c->seq, memory_order_acquire);
		int r;

		if (s1 & 1)
			continue;
		out->n = atomic_load_explicit(&c->n, memory_order_relaxed);
		out->mark =
		    atomic_load_explicit(&c->mark, memory_order_relaxed);
		out->marked =
		    atomic_load_explicit(&c->marked, memory_order_relaxed);
		r = atomic_load_explicit(&c->r, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&c->seq, memory_order_relaxed) == s1)
			return r;
	}
}

int ca_coalesce_read(struct ca_stamp *out, struct ca_coalesce *c,
		     ca_stamp_fn fn, void *arg)
{
	uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);
	/* the first read to start from now on */
	uint32_t need = (uint32_t)((s >> 1) + 1);

	memset(out, 0, sizeof(*out));
	for (;;) {
		/* the gate before the end it is opened after (the leader
		 * stores them in the other order) */
		_Atomic uint32_t *gate = &c->gate[need & 1];
		uint32_t g = atomic_load_explicit(gate, memory_order_acquire);
		uint32_t e =
		    atomic_load_explicit(&c->ended, memory_order_acquire);

		/* the last read to end started after this call: reads end
		 * in the order they start, one at a time */
		if ((int32_t)(e - need) >= 0)
			return last_result(out, c);
		s = atomic_load_explicit(&c->state, memory_order_acquire);
		if (s & 1) {
			/* one in flight, started before this call or not:
			 * the end of read `need` opens this gate, and the
			 * end of the one before wakes one of us to start
			 * it */
			futex_wait(gate, g);
			continue;
		}
		/* none in flight: the next one to start is one this call
		 * may use; whoever starts it first reads for all */
		if (atomic_compare_exchange_weak_explicit(
			&c->state, &s, (((s >> 1) + 1) << 1) | 1,
			memory_order_acq_rel, memory_order_acquire)) {
			uint32_t mine = (uint32_t)((s >> 1) + 1);
			struct ca_stamp got;
			int r;

			memset(&got, 0, sizeof(got));
			r = fn(arg, &got);
			atomic_fetch_add_explicit(&c->seq, 1,
						  memory_order_relaxed);
			atomic_thread_fence(memory_order_release);
			atomic_store_explicit(&c->n, got.n,
					      memory_order_relaxed);
			atomic_store_explicit(&c->mark, got.mark,
					      memory_order_relaxed);
			atomic_store_explicit(&c->marked, got.marked,
					      memory_order_relaxed);
			atomic_store_explicit(&c->r, r, memory_order_relaxed);
			atomic_fetch_add_explicit(&c->seq, 1,
						  memory_order_release);
			atomic_fetch_add_explicit(&c->reads, 1,
						  memory_order_relaxed);
			/* ended before running is cleared: a caller that
			 * sees none running sees this read's end too */
			atomic_store_explicit(&c->ended, mine,
					      memory_order_release);
			atomic_fetch_and_explicit(&c->state, ~(uint64_t)1,
						  memory_order_release);
			/* those who needed this read, all; of those who need
			 * the next, one, to start it (the others sleep on
			 * until it ends rather than wake to find it begun) */
			atomic_fetch_add_explicit(&c->gate[mine & 1], 1,
						  memory_order_release);
			futex_wake(&c->gate[mine & 1], INT_MAX);
			atomic_fetch_add_explicit(&c->gate[(mine + 1) & 1], 1,
						  memory_order_release);
			futex_wake(&c->gate[(mine + 1) & 1], 1);
			*out = got;
			return r;
		}
	}
}

/* One read of the counter, beside the heartbeat on a replica (replica.c:
 * in the same statement, so the mark bounds the counter's age). */
static int stamp_read(void *arg, struct ca_stamp *out)
{
	struct jpki_ca *ca = arg;
	struct jpki_rows *rows = NULL;
	struct jpki_value id = JPKI_V_TEXT(ca->read_mark);
	int r;

	if ((r = jpki_store_query(
		 &rows, ca_read_store(ca),
		 ca->read == NULL ? "SELECT n FROM ca_status_stamp WHERE id = 1"
				  : "SELECT s.n, h.mark FROM ca_status_stamp s"
				    " LEFT JOIN jpki_heartbeat h ON h.id = $1"
				    " WHERE s.id = 1",
		 &id, ca->read == NULL ? 0 : 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1) {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_STATE, "no status stamp row");
	}
	out->n = jpki_rows_int(rows, 0, 0);
	out->marked = ca->read != NULL && !jpki_rows_is_null(rows, 0, 1);
	out->mark = out->marked ? jpki_rows_int(rows, 0, 1) : 0;
	jpki_rows_free(rows);
	return 0;
}

void ca_stamp_bytes(struct jpki_store_stamp *out, int64_t n)
{
	memset(out, 0, sizeof(*out));
	out->b[0] = 'P'; /* never a WAL index header, which starts 3007000 */
	memcpy(out->b + 8, &n, sizeof(n));
}

/* The stamp of what a read gave, unless a replica is past its bound: its
 * counter may then be of any age. */
static int stamp_of(struct jpki_store_stamp *out, struct jpki_ca *ca,
		    const struct ca_stamp *s)
{
	if (ca->read != NULL && ca_read_stale(ca, s->marked ? &s->mark : NULL))
		return JPKI_ERR_STATE;
	ca_stamp_bytes(out, s->n);
	return 0;
}

int ca_status_stamp(struct jpki_store_stamp *out, struct jpki_ca *ca)
{
	struct ca_stamp s;

	memset(out, 0, sizeof(*out));
	if (!ca->pg_stamp ||
	    ca_coalesce_read(&s, &ca->stamps, stamp_read, ca) != 0)
		return JPKI_ERR_STATE;
	return stamp_of(out, ca, &s);
}

int jpki_ca_ocsp_stamp_wanted(const struct jpki_ca *ca)
{
	return ca != NULL && ca->pg_stamp;
}

int jpki_ca_ocsp_stamp_read(struct jpki_store_stamp *out, struct jpki_ca *ca)
{
	struct ca_stamp s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if (ca == NULL || !ca->pg_stamp || stamp_read(ca, &s) != 0)
		return JPKI_ERR_STATE;
	return stamp_of(out, ca, &s);
}
