/* Helpers shared by the unit tests. */
#ifndef JPKI_TESTUTIL_H
#define JPKI_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>

/* A fresh empty directory under $TMPDIR; caller frees the string. */
char *tu_tmpdir(void);
/* Removes a directory tree made by tu_tmpdir(). */
void tu_rmtree(const char *path);
/*
 * A store URL for one test: a SQLite file in `dir`, or, when JPKI_TEST_PG
 * holds a PostgreSQL URL, a database created for this test on that server,
 * so that runs never see each other's tables. NULL on failure; the caller
 * drops it with tu_store_drop() and frees the string.
 */
char *tu_store_url(const char *dir);
/* Drops the database tu_store_url() created on PostgreSQL (for SQLite the
 * file goes with its directory). Every store on it must be closed. */
void tu_store_drop(const char *url);
/* Whether the tests run against PostgreSQL. */
int tu_store_is_pg(void);
struct jpki_store;
/*
 * A store for one test: a fresh directory (tu_tmpdir), its URL
 * (tu_store_url) and the store open on it. 0, or -1 with the reason on
 * stderr; tu_store_close() undoes it.
 */
int tu_store_new(struct jpki_store **st, char **url, char **dir);
/* Closes the store, drops its database, removes the directory and frees
 * url and dir (each may be NULL). */
void tu_store_close(struct jpki_store *st, char *url, char *dir);
/* The integer in the first column of the first row of `sql` (no
 * parameters); fails the test when the query does. */
int64_t tu_count(struct jpki_store *st, const char *sql);
/* An RSA key of `bits` (cached per process for 2048, so tests stay fast);
 * caller frees with EVP_PKEY_free(). */
EVP_PKEY *tu_rsa_key(int bits);
/* A fresh, uncached RSA-2048 key. */
EVP_PKEY *tu_rsa_key_fresh(void);

#endif
