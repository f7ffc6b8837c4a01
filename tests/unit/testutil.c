#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/rsa.h>

#include "testutil.h"

char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/jpki-test-XXXXXX", base) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

void tu_rmtree(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

EVP_PKEY *tu_rsa_key_fresh(void)
{
	return EVP_RSA_gen(2048);
}

EVP_PKEY *tu_rsa_key(int bits)
{
	static EVP_PKEY *cached;

	if (bits != 2048)
		return EVP_RSA_gen((unsigned)bits);
	if (cached == NULL)
		cached = EVP_RSA_gen(2048);
	if (cached != NULL)
		EVP_PKEY_up_ref(cached);
	return cached;
}
