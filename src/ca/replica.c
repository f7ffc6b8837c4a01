/*
 * Reading from a replica (docs/PERFORMANCE.md, "Replicas"): which store the
 * OCSP answers and the repository read, and how old what they read may be.
 *
 * The age is never taken from the replica's own replay timestamps: when the
 * primary is idle they stay old though nothing is missing, and they say
 * nothing of what the primary committed but has not sent. Instead the
 * serving process writes its own monotonic clock into a heartbeat row on
 * the primary (jpki_store_heartbeat) and each read on the replica reads
 * that row in the same statement as its data: whatever the replica shows
 * beside a mark M holds every commit made on the primary before M was
 * written, so its data is at most now - M old, on one clock, whatever the
 * hosts' clocks say and whichever standby a connection reached.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_internal.h"

int jpki_ca_read_from(struct jpki_ca *ca, struct jpki_store *rd,
		      const char *mark_id, long max_lag_ms)
{
	char *copy = NULL;

	if (rd != NULL &&
	    (mark_id == NULL || *mark_id == '\0' || max_lag_ms <= 0))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a read store needs a heartbeat row and a "
				    "bound above 0 ms");
	if (rd != NULL && (copy = strdup(mark_id)) == NULL)
		return JPKI_ERR_NOMEM;
	free(ca->read_mark);
	ca->read = rd;
	ca->read_mark = copy;
	ca->read_max_lag_ms = rd != NULL ? max_lag_ms : 0;
	return 0;
}

int ca_read_stale(struct jpki_ca *ca, const int64_t *mark)
{
	int64_t lag;

	if (ca->read == NULL)
		return 0;
	if (mark == NULL)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the replica holds no heartbeat of this "
				    "process yet: its data may be of any age");
	lag = jpki_store_mark_now() - *mark;
	if (lag > ca->read_max_lag_ms)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the replica is %" PRId64
				    " ms behind, past the bound of %ld ms",
				    lag, ca->read_max_lag_ms);
	return 0;
}

int jpki_ca_read_lag(int64_t *lag_ms, struct jpki_ca *ca)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value id;
	int64_t mark;
	int r;

	*lag_ms = 0;
	if (ca->read == NULL)
		return 0;
	id = JPKI_V_TEXT(ca->read_mark);
	if ((r = jpki_store_query(
		 &rows, ca->read,
		 "SELECT mark FROM jpki_heartbeat WHERE id = $1", &id, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1) {
		jpki_rows_free(rows);
		*lag_ms = INT64_MAX;
		return ca_read_stale(ca, NULL);
	}
	mark = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	*lag_ms = jpki_store_mark_now() - mark;
	return ca_read_stale(ca, &mark);
}
