/*
 * Registry changes turned into revocations per second: N residents of two
 * municipalities, each with a signing and an authentication certificate,
 * move house (a 4-fact change, one registry transaction each, as the clerk
 * records them); then the CA's consumer (jpki_ca_apply_registry_events)
 * turns the N events into N revocations, with their audit entries, the CRLs
 * they touch and the cursor, in batches of JPKI_CA_EVENT_BATCH events per
 * transaction. The reference in the same run is the raw RSA-2048 signing
 * rate: a batch signs one CRL per scope it touches, not one per event.
 *
 * The same is then measured with REVOKED certificates already revoked in
 * the store (rows copied from a real certificate, as in issue_bench), for
 * the full CRL the consumer re-signs grows with them.
 *
 * usage: registry_bench [N [REVOKED]]   (default 1000 residents, 100000)
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jpki/ca.h"
#include "jpki/registry.h"

static const struct jpki_actor clerk = {
	.operator_id = "bench",
	.role = JPKI_ROLE_REGISTRY_CLERK,
	.municipality_code = "131016",
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fail(const char *what)
{
	fprintf(stderr, "registry_bench: %s: %s\n", what, jpki_err_detail());
	exit(1);
}

static double raw_sign_rate(EVP_PKEY *key, double seconds)
{
	unsigned char msg[1024] = {0}, sig[256];
	double start = now_s(), t;
	long n = 0;

	do {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		size_t len = sizeof(sig);

		if (ctx == NULL ||
		    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) !=
			    1 ||
		    EVP_DigestSign(ctx, sig, &len, msg, sizeof(msg)) != 1)
			fail("EVP_DigestSign");
		EVP_MD_CTX_free(ctx);
		msg[n % sizeof(msg)]++;
		n++;
		t = now_s() - start;
	} while (t < seconds);
	return (double)n / t;
}

/* Revoked rows copied from a real certificate, spread over 1700
 * municipalities (the partitions) and all in the full signing CRL. */
static void fill_revoked(struct jpki_store *st, long count, time_t at)
{
	struct jpki_value v[] = {JPKI_V_INT(count), JPKI_V_INT(at)};

	if (jpki_store_begin(st) != 0 ||
	    jpki_store_exec(
		    st,
		    "INSERT INTO ca_cert (serial, type, card, person,"
		    " municipality, prefecture_name, municipality_name,"
		    " subject, birth, card_expiry, status, reason,"
		    " revoked_at, version, not_before, not_after, issued_at,"
		    " der)"
		    " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		    "  SELECT i + 1 FROM n WHERE i < $1)"
		    " SELECT printf('7F%030X', i), 1, c.card,"
		    "  printf('S%d', i), printf('%06d', 10000 + i % 1700),"
		    "  c.prefecture_name, c.municipality_name, c.subject,"
		    "  c.birth, c.card_expiry, 1, 3, $2 - i % 86400, 2,"
		    "  c.not_before, c.not_after, c.issued_at, c.der"
		    " FROM n, (SELECT * FROM ca_cert WHERE type = 1"
		    "  LIMIT 1) AS c",
		    v, 2, NULL) != 0 ||
	    jpki_store_commit(st) != 0)
		fail("filling the store");
}

struct run {
	double moves_per_s;
	double revocations_per_s;
	size_t events;
};

/* Registers n residents under `tag`, issues both certificates to each,
 * moves them all and lets the CA catch up. */
static struct run one_run(struct jpki_store *st, struct jpki_ca *ca,
			  EVP_PKEY *key, long n, const char *tag)
{
	struct jpki_issue_request *reqs = calloc((size_t)n * 2, sizeof(*reqs));
	struct jpki_issue_result *res = calloc((size_t)n * 2, sizeof(*res));
	EVP_PKEY **keys = calloc((size_t)n * 2, sizeof(*keys));
	char (*persons)[64] = calloc((size_t)n, 64);
	struct run out = {0};
	size_t applied = 0;
	double start;

	if (reqs == NULL || res == NULL || keys == NULL || persons == NULL)
		fail("memory");
	for (long i = 0; i < n; i++) {
		struct jpki_resident r = {0};

		snprintf(r.municipality_code, sizeof(r.municipality_code),
			 "131016");
		snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
		snprintf(r.municipality, sizeof(r.municipality), "千代田区");
		snprintf(r.facts.name, sizeof(r.facts.name), "山田　%s%ld",
			 tag, i);
		snprintf(r.facts.address, sizeof(r.facts.address),
			 "東京都千代田区千代田１番%ld号", i);
		r.facts.sex = JPKI_SEX_FEMALE;
		r.facts.birth = (struct jpki_date){1985, 4, 1};
		if (jpki_registry_register(persons[i], st, &clerk, &r) != 0)
			fail("register");
		for (int t = 0; t < 2; t++) {
			struct jpki_issue_request *q = &reqs[i * 2 + t];

			*q = (struct jpki_issue_request)JPKI_ISSUE_REQUEST_INIT;
			q->type = t == 0 ? JPKI_CERT_SIGN : JPKI_CERT_AUTH;
			q->card = JPKI_CARD_MYNUMBER;
			q->person = persons[i];
			q->municipality_code = "131016";
			q->prefecture = "東京都";
			q->municipality = "千代田区";
			q->facts = r.facts;
			q->card_expiry = (struct jpki_date){2035, 4, 1};
			keys[i * 2 + t] = key;
		}
	}
	if (jpki_ca_issue_batch(res, ca, reqs, keys, (size_t)n * 2, 0) != 0)
		fail("issue");
	for (long i = 0; i < n * 2; i++) {
		if (res[i].code != 0)
			fail(res[i].message);
		jpki_cert_info_free(res[i].info);
	}
	start = now_s();
	for (long i = 0; i < n; i++) {
		char address[128];

		snprintf(address, sizeof(address), "東京都港区芝公園%ld番", i);
		if (jpki_registry_move(st, &clerk, persons[i], "131016",
				       "東京都", "千代田区", address) != 0)
			fail("move");
	}
	out.moves_per_s = (double)n / (now_s() - start);
	start = now_s();
	if (jpki_ca_apply_registry_events(&applied, ca) != 0)
		fail("apply");
	out.revocations_per_s = (double)n / (now_s() - start);
	out.events = applied;
	if ((long)applied != n)
		fail("not every event was applied");
	free(reqs);
	free(res);
	free(keys);
	free(persons);
	return out;
}

int main(int argc, char **argv)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char dir[] = "/tmp/jpki-bench-XXXXXX", db[64], keys[64];
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	long revoked = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
	struct run empty, full = {0};
	EVP_PKEY *subject, *cakey;
	double raw;
	time_t t;

	if (n <= 0)
		n = 1000;
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp");
	jpki_log_set_level(JPKI_LOG_ERROR);
	setenv("JPKI_ARGON2_TEST", "1", 1);
	if (jpki_clock_parse(&t, "2026-01-10") != 0)
		fail("clock");
	jpki_clock_freeze(t);
	snprintf(db, sizeof(db), "%s/jpki.db", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	if (jpki_store_open(&st, db) != 0 || jpki_ca_init(st, &opts) != 0 ||
	    jpki_ca_open(&ca, st, NULL) != 0 ||
	    jpki_registry_migrate(st) != 0)
		fail("setup");
	if ((subject = EVP_RSA_gen(2048)) == NULL ||
	    (cakey = EVP_RSA_gen(2048)) == NULL)
		fail("key generation");

	empty = one_run(st, ca, subject, n, "A");
	if (revoked > 0) {
		fill_revoked(st, revoked, t);
		full = one_run(st, ca, subject, n, "B");
	}
	raw = raw_sign_rate(cakey, 2);

	printf("registry changes to revocations, %ld residents moving "
	       "(SQLite WAL synchronous=FULL)\n",
	       n);
	printf("  moves recorded by the registry: %8.0f changes/s (one "
	       "durable transaction each)\n",
	       empty.moves_per_s);
	printf("  revocations applied by the CA:  %8.0f revocations/s "
	       "(batches of %d events)\n",
	       empty.revocations_per_s, JPKI_CA_EVENT_BATCH);
	if (revoked > 0)
		printf("  the same with %ld revoked already: %8.0f "
		       "revocations/s (ratio to empty %.2f)\n",
		       revoked, full.revocations_per_s,
		       full.revocations_per_s / empty.revocations_per_s);
	printf("  raw RSA-2048 signing, 1 thread: %8.0f signatures/s\n", raw);
	printf("ratio revocations / raw signatures: %.2f\n",
	       empty.revocations_per_s / raw);

	EVP_PKEY_free(subject);
	EVP_PKEY_free(cakey);
	jpki_ca_free(ca);
	jpki_store_free(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
