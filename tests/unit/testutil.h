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
/* An RSA key of `bits` (cached per process for 2048, so tests stay fast);
 * caller frees with EVP_PKEY_free(). */
EVP_PKEY *tu_rsa_key(int bits);
/* A fresh, uncached RSA-2048 key. */
EVP_PKEY *tu_rsa_key_fresh(void);

#endif
