/*
 * What the store's backends share: the handle's common part, the table of
 * backend operations, the row container and the openers.
 *
 * The backend-neutral code in store.c owns the lock, the transaction flag,
 * the per-thread read connections and fault injection, so every backend gets
 * the same locking discipline and fails the same Nth call; a backend only
 * talks to its database.
 */
#ifndef JPKI_STORE_INTERNAL_H
#define JPKI_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "jpki/store.h"

struct jpki_store_ops {
	const char *name;
	/* Closes the connection and frees the backend's part of the handle
	 * (not the handle itself). */
	void (*close)(struct jpki_store *st);
	/* Start, end and abandon a write transaction. */
	int (*begin)(struct jpki_store *st);
	int (*commit)(struct jpki_store *st);
	void (*rollback)(struct jpki_store *st);
	/* One statement; called with the lock held. */
	int (*exec)(struct jpki_store *st, const char *sql,
		    const struct jpki_value *params, size_t n,
		    int64_t *changes);
/* A query, row by row (see jpki_store_each); jpki_store_query
	 * keeps the rows it is given. */
	int (*each)(struct jpki_store *st, const char *sql,
		    const struct jpki_value *params, size_t n,
		    jpki_row_fn fn, void *arg);
	/* A second connection to the same database, used by one thread for
	 * queries outside any transaction (NULL: the backend has none, and
	 * every query goes through the lock). Fails when the database cannot
	 * be shared, such as an in-memory SQLite one. */
	int (*reader_open)(void **out, struct jpki_store *st);
	void (*reader_close)(void *conn);
	int (*reader_each)(void *conn, const char *sql,
			   const struct jpki_value *params, size_t n,
			   jpki_row_fn fn, void *arg);
	/* The cross-process lock of jpki_store_try_lock (NULL: always
	 * granted); called with the handle's lock held. */
	int (*try_lock)(struct jpki_store *st, int64_t key, int *got);
	void (*unlock)(struct jpki_store *st, int64_t key);
	/* jpki_store_change_stamp (NULL: the backend cannot tell). */
	int (*change_stamp)(struct jpki_store *st,
			    struct jpki_store_stamp *out);
};

struct store_reader;

/* The first member of every backend's handle. */
struct jpki_store {
	const struct jpki_store_ops *ops;
	pthread_mutex_t lock; /* recursive: held across a transaction */
	int in_txn;
	atomic_int fail_after; /* fault injection: countdown, 0 = off */
	atomic_uint_fast64_t writes; /* write transactions begun */
	/* Each thread's read connection (opened on its first query that
	 * finds the lock taken), and the list of them all, so that
	 * jpki_store_free() closes those of threads still running. */
	pthread_key_t reader_key;
	int have_key;
	pthread_mutex_t readers_lock;
	struct store_reader *readers;
	/* jpki_store_open_read(): writes are refused before they reach the
	 * database */
	int read_only;
	int heartbeat_ready; /* jpki_heartbeat made and swept once */
	/* Those of them opened ahead (jpki_store_open_readers) and not yet
	 * taken by a thread, linked by their `spare` member. */
	struct store_reader *spare;
};

/* Sets up the common part of a freshly allocated (zeroed) handle. */
void jpki_store_init(struct jpki_store *st, const struct jpki_store_ops *ops);

int jpki_store_sqlite_open(struct jpki_store **out, const char *path);
int jpki_store_postgres_open(struct jpki_store **out, const char *url);


#endif
