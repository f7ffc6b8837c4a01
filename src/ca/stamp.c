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
 * while it runs waits for the next one, which the first of them starts
 * when it ends and which answers all of them. Under load each read serves
 * as many requests as came during the one before.
 */
#include <string.h>

#include "ca/ca_internal.h"

void ca_coalesce_init(struct ca_coalesce *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->ended, NULL);
}

void ca_coalesce_clear(struct ca_coalesce *c)
{
	pthread_cond_destroy(&c->ended);
	pthread_mutex_destroy(&c->lock);
}

int ca_coalesce_read(struct ca_stamp *out, struct ca_coalesce *c,
		     ca_stamp_fn fn, void *arg)
{
	uint64_t need;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	/* the first read to start from now on */
	need = c->started + 1;
	while (c->ended_n < need) {
		if (!c->running) {
			struct ca_stamp got;

			/* none in flight, so none started since this request
			 * came: this one is the read it needs */
			c->running = 1;
			need = ++c->started;
			pthread_mutex_unlock(&c->lock);
			memset(&got, 0, sizeof(got));
			r = fn(arg, &got);
			pthread_mutex_lock(&c->lock);
			c->running = 0;
			c->ended_n = need;
			c->last = got;
			c->last_r = r;
			c->reads++;
			pthread_cond_broadcast(&c->ended);
			break;
		}
		pthread_cond_wait(&c->ended, &c->lock);
	}
	/* ended_n >= need: the last read to end started after this request
	 * came (reads end in the order they start: one at a time) */
	*out = c->last;
	r = c->last_r;
	pthread_mutex_unlock(&c->lock);
	return r;
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
		     ca->read == NULL
			     ? "SELECT n FROM ca_status_stamp WHERE id = 1"
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

int ca_status_stamp(struct jpki_store_stamp *out, struct jpki_ca *ca)
{
	struct ca_stamp s;

	memset(out, 0, sizeof(*out));
	if (!ca->pg_stamp || ca_coalesce_read(&s, &ca->stamps, stamp_read,
					      ca) != 0)
		return JPKI_ERR_STATE;
	/* a replica past its bound: its counter may be of any age */
	if (ca->read != NULL && ca_read_stale(ca, s.marked ? &s.mark : NULL))
		return JPKI_ERR_STATE;
	ca_stamp_bytes(out, s.n);
	return 0;
}
