/*
 * What the fuzz targets that stand on a CA share: a CA in a temporary store
 * on a frozen date (2026-01-10), removed again at exit.
 */
#ifndef JPKI_FUZZ_CA_H
#define JPKI_FUZZ_CA_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "jpki/ca.h"

static char fuzz_dir[] = "/tmp/jpki-fuzz-XXXXXX";
static struct jpki_store *fuzz_st;
static struct jpki_ca *fuzz_ca;
static void (*fuzz_cleanup_more)(void);
/* the CA's options, set before fuzz_ca_setup (NULL: the defaults) */
static const struct jpki_ca_options *fuzz_ca_options;

static int fuzz_rm_one(const char *path, const struct stat *sb, int flag,
		       struct FTW *ftw)
{
	return remove(path);
}

static void fuzz_ca_cleanup(void)
{
	if (fuzz_cleanup_more != NULL)
		fuzz_cleanup_more();
	jpki_ca_free(fuzz_ca);
	jpki_store_free(fuzz_st);
	nftw(fuzz_dir, fuzz_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* _Noreturn: clang's -Wsometimes-uninitialized otherwise takes a value
 * set in a condition before fuzz_die() to be used unset after it. */
static _Noreturn void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz setup: %s: %s\n", what, jpki_err_detail());
	abort();
}

/* Makes the directory and the CA; `more` (may be NULL) frees the target's
 * own state at exit, before the CA goes. */
static void fuzz_ca_setup(const char *public_url, void (*more)(void))
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char path[64], keys[64];
	time_t t;

	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	fuzz_cleanup_more = more;
	atexit(fuzz_ca_cleanup);
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (jpki_clock_parse(&t, "2026-01-10") != 0)
		abort();
	jpki_clock_freeze(t);
	snprintf(path, sizeof(path), "%s/jpki.db", fuzz_dir);
	snprintf(keys, sizeof(keys), "%s/keys", fuzz_dir);
	opts.key_dir = keys;
	opts.public_url = public_url;
	if (jpki_store_open(&fuzz_st, path) != 0 ||
	    jpki_ca_init(fuzz_st, &opts) != 0 ||
	    jpki_ca_open(&fuzz_ca, fuzz_st, fuzz_ca_options) != 0)
		fuzz_die("CA");
}

#endif
