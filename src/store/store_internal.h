/*
 * What the store's backends share: the handle's common part, the table of
 * backend operations, the row container and the openers.
 *
 * The backend-neutral code in store.c owns the lock, the transaction flag
 * and fault injection, so every backend gets the same locking discipline and
 * fails the same Nth call; a backend only talks to its database.
 */
#ifndef JPKI_STORE_INTERNAL_H
#define JPKI_STORE_INTERNAL_H

#include <pthread.h>

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
};

/* The first member of every backend's handle. */
struct jpki_store {
	const struct jpki_store_ops *ops;
	pthread_mutex_t lock; /* recursive: held across a transaction */
	int in_txn;
	int fail_after; /* fault injection: countdown, 0 = off */
};

/* Sets up the common part of a freshly allocated (zeroed) handle. */
void jpki_store_init(struct jpki_store *st, const struct jpki_store_ops *ops);

int jpki_store_sqlite_open(struct jpki_store **out, const char *path);
int jpki_store_postgres_open(struct jpki_store **out, const char *url);


#endif
