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
 * The same is then measured with 100 000 and 1 000 000 certificates
 * already revoked in the store (rows copied from a real certificate, as in
 * issue_bench, spread over 1700 other municipalities, then checkpointed
 * out of SQLite's WAL as crl_bench does), and so is a single
 * revocation (jpki_ca_revoke of a signing certificate, one durable
 * transaction each, its municipality's partition regenerated in it): both
 * should cost the same at every size, for the full CRL they grow is
 * regenerated apart once it lists crl_inline_max entries
 * (jpki_ca_crl_refresh_stale, every second in `jpki serve`).
 *
 * usage: registry_bench [N [REVOKED...]]   (default 1000 residents; 100000
 * then 1000000 revoked; a single 0: the empty store only)
 */
#include <openssl/rsa.h>

#include "bench.h"
#include "jpki/registry.h"

/* Each run's residents live in a municipality of their own, so that each
 * run's partition CRL starts empty, as the first run's does: what differs
 * between runs is only the revoked certificates of other municipalities. */
static const struct {
	const char *code, *name;
} wards[] = {{"131016", "千代田区"}, {"131024", "中央区"},
	     {"131032", "港区"},     {"131041", "新宿区"},
	     {"131059", "文京区"}};

struct run {
	double moves_per_s;
	double revocations_per_s;
	double cpu_us; /* process CPU time per revocation */
	size_t events;
};

/* The process's CPU time: unlike the clock, not the shared disk's fsync. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Registers n residents under `tag`, issues both certificates to each,
 * moves them all and lets the CA catch up. */
static struct run one_run(struct jpki_store *st, struct jpki_ca *ca,
			  EVP_PKEY *key, long n, int ward)
{
	struct jpki_actor clerk = {.operator_id = "bench",
				   .role = JPKI_ROLE_REGISTRY_CLERK};
	const char *code = wards[ward].code, *name = wards[ward].name;
	struct jpki_issue_request *reqs = calloc((size_t)n * 2, sizeof(*reqs));
	struct jpki_issue_result *res = calloc((size_t)n * 2, sizeof(*res));
	EVP_PKEY **keys = calloc((size_t)n * 2, sizeof(*keys));
	char (*persons)[64] = calloc((size_t)n, 64);
	struct run out = {0};
	size_t applied = 0;
	double start, cpu;

	if (reqs == NULL || res == NULL || keys == NULL || persons == NULL)
		bench_fail("memory");
	snprintf(clerk.municipality_code, sizeof(clerk.municipality_code), "%s",
		 code);
	for (long i = 0; i < n; i++) {
		struct jpki_resident r = {0};

		snprintf(r.municipality_code, sizeof(r.municipality_code),
			 "%s", code);
		snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
		snprintf(r.municipality, sizeof(r.municipality), "%s", name);
		snprintf(r.facts.name, sizeof(r.facts.name), "山田　%d番%ld",
			 ward, i);
		snprintf(r.facts.address, sizeof(r.facts.address),
			 "東京都%s１番%ld号", name, i);
		r.facts.sex = JPKI_SEX_FEMALE;
		r.facts.birth = (struct jpki_date){1985, 4, 1};
		if (jpki_registry_register(persons[i], st, &clerk, &r) != 0)
			bench_fail("register");
		for (int t = 0; t < 2; t++) {
			struct jpki_issue_request *q = &reqs[i * 2 + t];

			*q = (struct jpki_issue_request)JPKI_ISSUE_REQUEST_INIT;
			q->type = t == 0 ? JPKI_CERT_SIGN : JPKI_CERT_AUTH;
			q->card = JPKI_CARD_MYNUMBER;
			q->person = persons[i];
			q->municipality_code = code;
			q->prefecture = "東京都";
			q->municipality = name;
			q->facts = r.facts;
			q->card_expiry = (struct jpki_date){2035, 4, 1};
			keys[i * 2 + t] = key;
		}
	}
	if (jpki_ca_issue_batch(res, ca, reqs, keys, (size_t)n * 2, 0) != 0)
		bench_fail("issue");
	for (long i = 0; i < n * 2; i++) {
		if (res[i].code != 0)
			bench_fail(res[i].message);
		jpki_cert_info_free(res[i].info);
	}
	start = bench_now();
	for (long i = 0; i < n; i++) {
		char address[128];

		snprintf(address, sizeof(address), "東京都港区芝公園%ld番", i);
		if (jpki_registry_move(st, &clerk, persons[i], code,
				       "東京都", name, address) != 0)
			bench_fail("move");
	}
	out.moves_per_s = (double)n / (bench_now() - start);
	start = bench_now();
	cpu = cpu_now();
	if (jpki_ca_apply_registry_events(&applied, ca) != 0)
		bench_fail("apply");
	out.revocations_per_s = (double)n / (bench_now() - start);
	out.cpu_us = (cpu_now() - cpu) * 1e6 / (double)n;
	out.events = applied;
	if ((long)applied != n)
		bench_fail("not every event was applied");
	free(reqs);
	free(res);
	free(keys);
	free(persons);
	return out;
}

/* Issues k signing certificates to new persons, then revokes them one at a
 * time. */
static struct run single_run(struct jpki_ca *ca, EVP_PKEY *key, long k,
			     int ward)
{
	struct jpki_issue_request *reqs = calloc((size_t)k, sizeof(*reqs));
	struct jpki_issue_result *res = calloc((size_t)k, sizeof(*res));
	EVP_PKEY **keys = calloc((size_t)k, sizeof(*keys));
	char (*persons)[64] = calloc((size_t)k, 64);
	struct run out = {0};
	double start, cpu;

	if (reqs == NULL || res == NULL || keys == NULL || persons == NULL)
		bench_fail("memory");
	for (long i = 0; i < k; i++) {
		snprintf(persons[i], 64, "R%d-%ld", ward, i);
		reqs[i] = bench_request(persons[i]);
		reqs[i].municipality_code = wards[ward].code;
		reqs[i].municipality = wards[ward].name;
		keys[i] = key;
	}
	if (jpki_ca_issue_batch(res, ca, reqs, keys, (size_t)k, 0) != 0)
		bench_fail("issue");
	start = bench_now();
	cpu = cpu_now();
	for (long i = 0; i < k; i++) {
		if (res[i].code != 0)
			bench_fail(res[i].message);
		if (jpki_ca_revoke(ca, res[i].info->serial,
				   JPKI_REASON_KEY_COMPROMISE) != 0)
			bench_fail("revoke");
	}
	out.revocations_per_s = (double)k / (bench_now() - start);
	out.cpu_us = (cpu_now() - cpu) * 1e6 / (double)k;
	for (long i = 0; i < k; i++)
		jpki_cert_info_free(res[i].info);
	free(reqs);
	free(res);
	free(keys);
	free(persons);
	return out;
}

int main(int argc, char **argv)
{
	struct bench_ca b;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	long sizes[4] = {100000, 1000000}, filled = 0;
	int nsizes = argc > 2 ? argc - 2 : 2;
	struct run empty, full[4], single_empty, single[4];
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *subject, *cakey;
	double raw;

	bench_name = "registry_bench";
	if (n <= 0)
		n = 1000;
	if (nsizes > 4)
		nsizes = 4;
	/* "0": the empty store only (bench/pg_bench.sh) */
	if (argc == 3 && strcmp(argv[2], "0") == 0)
		nsizes = 0;
	for (int i = 0; argc > 2 && i < nsizes; i++)
		if ((sizes[i] = strtol(argv[2 + i], NULL, 10)) <= filled ||
		    sizes[i] <= 0)
			bench_fail("the sizes must grow");
	setenv("JPKI_ARGON2_TEST", "1", 1);
	bench_ca_open(&b);
	st = b.st;
	ca = b.ca;
	if (jpki_registry_migrate(st) != 0)
		bench_fail("registry");
	if ((subject = EVP_RSA_gen(2048)) == NULL ||
	    (cakey = EVP_RSA_gen(2048)) == NULL)
		bench_fail("key generation");

	empty = one_run(st, ca, subject, n, 0);
	single_empty = single_run(ca, subject, n / 4, 0);
	for (int i = 0; i < nsizes; i++) {
		bench_fill_from(st, filled + 1, sizes[i] - filled, 1, b.now);
		bench_checkpoint(st);
		filled = sizes[i];
		full[i] = one_run(st, ca, subject, n, 1 + i);
		single[i] = single_run(ca, subject, n / 4, 1 + i);
	}
	raw = bench_raw_rate(cakey, 0, 1, 2);

	printf("registry changes to revocations, %ld residents moving "
	       "(SQLite WAL synchronous=FULL)\n",
	       n);
	printf("  moves recorded by the registry: %8.0f changes/s (one "
	       "durable transaction each)\n",
	       empty.moves_per_s);
	printf("  revocations applied by the CA:  %8.0f revocations/s "
	       "(batches of %d events), CPU %.0f us each\n",
	       empty.revocations_per_s, JPKI_CA_EVENT_BATCH, empty.cpu_us);
	for (int i = 0; i < nsizes; i++)
		printf("  the same with %7ld revoked already: %8.0f "
		       "revocations/s (ratio to empty %.2f), CPU %.0f us "
		       "(ratio %.2f)\n",
		       sizes[i], full[i].revocations_per_s,
		       full[i].revocations_per_s / empty.revocations_per_s,
		       full[i].cpu_us, empty.cpu_us / full[i].cpu_us);
	printf("  single revocations (jpki_ca_revoke, one durable "
	       "transaction each): %8.0f/s, CPU %.0f us each\n",
	       single_empty.revocations_per_s, single_empty.cpu_us);
	for (int i = 0; i < nsizes; i++)
		printf("  the same with %7ld revoked already: %8.0f "
		       "revocations/s (ratio to empty %.2f), CPU %.0f us "
		       "(ratio %.2f)\n",
		       sizes[i], single[i].revocations_per_s,
		       single[i].revocations_per_s /
			   single_empty.revocations_per_s,
		       single[i].cpu_us, single_empty.cpu_us / single[i].cpu_us);
	printf("  raw RSA-2048 signing, 1 thread: %8.0f signatures/s\n", raw);
	printf("ratio revocations / raw signatures: %.2f\n",
	       empty.revocations_per_s / raw);

	EVP_PKEY_free(subject);
	EVP_PKEY_free(cakey);
	bench_ca_close(&b);
	return 0;
}
