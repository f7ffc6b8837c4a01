/*
 * What the C benchmarks share: the clock, a CA in a temporary directory at
 * a fixed date, and OpenSSL's raw RSA-2048 rates that the figures are
 * measured against.
 */
#ifndef JPKI_BENCH_H
#define JPKI_BENCH_H

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "jpki/ca.h"

/* The program's name in messages; each bench sets it first. */
static const char *bench_name = "bench";

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* _Noreturn: without it clang (-Wsometimes-uninitialized) takes every
 * `if (... || (x = f()) == NULL) bench_fail(...)` to go on with x unset. */
static inline _Noreturn void bench_fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", bench_name, what, jpki_err_detail());
	exit(1);
}

/* A signing certificate's request of `person` (borrowed): Yamada Taro of
 * Chiyoda-ku on a My Number card, what each bench changes set after. */
static inline struct jpki_issue_request bench_request(const char *person)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;

	req.type = JPKI_CERT_SIGN;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = person;
	req.municipality_code = "131016";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	snprintf(req.facts.address, sizeof(req.facts.address),
		 "東京都千代田区千代田１番１号");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	req.card_expiry = (struct jpki_date){2035, 6, 1};
	return req;
}

/* A bench's CA: both CAs with file keys in a fresh temporary directory,
 * the clock frozen at 2026-01-10; its store a SQLite file there, or the
 * (empty) database $JPKI_BENCH_STORE names (bench/pg_bench.sh runs the
 * benches on PostgreSQL that way). */
struct bench_ca {
	char dir[32];
	struct jpki_store *st;
	struct jpki_ca *ca;
	time_t now;
};

static inline void bench_ca_open(struct bench_ca *b)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char db[64], keys[64];
	const char *url = db;

	snprintf(b->dir, sizeof(b->dir), "/tmp/jpki-bench-XXXXXX");
	if (mkdtemp(b->dir) == NULL)
		bench_fail("mkdtemp");
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (jpki_clock_parse(&b->now, "2026-01-10") != 0)
		bench_fail("clock");
	jpki_clock_freeze(b->now);
	snprintf(db, sizeof(db), "%s/jpki.db", b->dir);
	snprintf(keys, sizeof(keys), "%s/keys", b->dir);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	if (getenv("JPKI_BENCH_STORE") != NULL &&
	    *getenv("JPKI_BENCH_STORE") != '\0')
		url = getenv("JPKI_BENCH_STORE");
	if (jpki_store_open(&b->st, url) != 0 ||
	    jpki_ca_init(b->st, &opts) != 0 ||
	    jpki_ca_open(&b->ca, b->st, NULL) != 0)
		bench_fail("setting up the CA");
}

static inline int bench_rm_one(const char *path, const struct stat *sb,
			       int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Frees the CA and removes its directory. */
static inline void bench_ca_close(struct bench_ca *b)
{
	jpki_ca_free(b->ca);
	jpki_store_free(b->st);
	nftw(b->dir, bench_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/*
 * Adds `count` certificate rows copied from the store's first signing
 * certificate, with distinct serials ("7F..."), persons ("S<i>") and 1700
 * municipalities, by one INSERT ... SELECT (SQLite): issuing them would take
 * minutes and change nothing the measured look-ups, inserts and CRLs see.
 * Every `revoked_every`-th row (0: none) is revoked (affiliationChanged)
 * up to a day before `at`. The rows are numbered from `first`, so a second
 * fill can add to a first. Returns the seconds it took.
 */
static inline double bench_fill_from(struct jpki_store *st, long first,
				     long count, long revoked_every,
				     time_t at)
{
	struct jpki_value v[] = {JPKI_V_INT(first + count - 1),
				 JPKI_V_INT(revoked_every), JPKI_V_INT(at),
				 JPKI_V_INT(first)};
	double start = bench_now();

	if (jpki_store_begin(st) != 0 ||
	    jpki_store_exec(
		    st,
		    "INSERT INTO ca_cert (serial, type, card, person,"
		    " municipality, prefecture_name, municipality_name,"
		    " subject, birth, card_expiry, status, reason,"
		    " revoked_at, version, not_before, not_after, issued_at,"
		    " der)"
		    " WITH RECURSIVE n(i) AS (SELECT $4 UNION ALL"
		    "  SELECT i + 1 FROM n WHERE i < $1),"
		    " r(i, revoked) AS (SELECT i, $2 > 0 AND i % $2 = 0"
		    "  FROM n)"
		    " SELECT printf('7F%030X', i), c.type, c.card,"
		    "  printf('S%d', i), printf('%06d', 10000 + i % 1700),"
		    "  c.prefecture_name, c.municipality_name, c.subject,"
		    "  c.birth, c.card_expiry, revoked,"
		    "  CASE WHEN revoked THEN 3 END,"
		    "  CASE WHEN revoked THEN $3 - i % 86400 END,"
		    "  1 + revoked, c.not_before, c.not_after,"
		    "  c.issued_at - 1 - i % 86400, c.der"
		    " FROM r, (SELECT * FROM ca_cert WHERE type = 1"
		    "  LIMIT 1) AS c",
		    v, 4, NULL) != 0 ||
	    jpki_store_commit(st) != 0)
		bench_fail("filling the store");
	return bench_now() - start;
}

/* A fill goes into SQLite's WAL in one transaction; folds it into the
 * database file, as SQLite's automatic checkpoints would have over the
 * months those rows took, instead of inside the first measured commit. */
static inline void bench_checkpoint(struct jpki_store *st)
{
	struct jpki_rows *ck = NULL;

	if (strcmp(jpki_store_backend(st), "sqlite") != 0)
		return;
	if (jpki_store_query(&ck, st, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
			     0) != 0)
		bench_fail("checkpoint");
	jpki_rows_free(ck);
}

/* bench_fill_from, numbered from 1. */
static inline double bench_fill(struct jpki_store *st, long count,
				long revoked_every, time_t at)
{
	return bench_fill_from(st, 1, count, revoked_every, at);
}

struct bench_raw_run {
	EVP_PKEY *key;
	int verify;
	double seconds;
	long n;
};

/* EVP_DigestSign or EVP_DigestVerify (SHA-256, RSA-2048, PKCS#1 v1.5) over
 * 1 KiB, in a loop for run->seconds. */
static inline void *bench_raw_loop(void *arg)
{
	struct bench_raw_run *run = arg;
	unsigned char msg[1024] = {0}, sig[256];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	double start = bench_now();

	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, run->key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, sizeof(msg)) != 1)
		bench_fail("EVP_DigestSign");
	EVP_MD_CTX_free(ctx);
	do {
		size_t len = sizeof(sig);
		int ok;

		if ((ctx = EVP_MD_CTX_new()) == NULL)
			bench_fail("memory");
		if (run->verify)
			ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
						  run->key) == 1 &&
			     EVP_DigestVerify(ctx, sig, siglen, msg,
					      sizeof(msg)) == 1;
		else
			ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
						run->key) == 1 &&
			     EVP_DigestSign(ctx, sig, &len, msg,
					    sizeof(msg)) == 1;
		if (!ok)
			bench_fail(run->verify ? "EVP_DigestVerify"
					       : "EVP_DigestSign");
		EVP_MD_CTX_free(ctx);
		if (!run->verify)
			msg[run->n % sizeof(msg)]++;
		run->n++;
	} while (bench_now() - start < run->seconds);
	return NULL;
}

/* Signatures (or verifications) per second on `threads` threads for about
 * `seconds`. */
static inline double bench_raw_rate(EVP_PKEY *key, int verify,
				    unsigned threads, double seconds)
{
	struct bench_raw_run runs[16];
	pthread_t tid[16];
	double start = bench_now(), total = 0;

	if (threads < 1)
		threads = 1;
	if (threads > 16)
		threads = 16;
	for (unsigned i = 0; i < threads; i++) {
		runs[i] = (struct bench_raw_run){
			.key = key, .verify = verify, .seconds = seconds};
		if (pthread_create(&tid[i], NULL, bench_raw_loop, &runs[i]) !=
		    0)
			bench_fail("pthread_create");
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		total += (double)runs[i].n;
	}
	return total / (bench_now() - start);
}

#endif
