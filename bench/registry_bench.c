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
 * the CRLs the consumer re-signs grow with them: the municipality's
 * partition always, the full CRL until it lists crl_inline_max entries
 * (after that `jpki serve` regenerates it apart, every second).
 *
 * usage: registry_bench [N [REVOKED]]   (default 1000 residents, 100000)
 */
#include <openssl/rsa.h>

#include "bench.h"
#include "jpki/registry.h"

static const struct jpki_actor clerk = {
	.operator_id = "bench",
	.role = JPKI_ROLE_REGISTRY_CLERK,
	.municipality_code = "131016",
};

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
		bench_fail("memory");
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
			bench_fail("register");
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
		if (jpki_registry_move(st, &clerk, persons[i], "131016",
				       "東京都", "千代田区", address) != 0)
			bench_fail("move");
	}
	out.moves_per_s = (double)n / (bench_now() - start);
	start = bench_now();
	if (jpki_ca_apply_registry_events(&applied, ca) != 0)
		bench_fail("apply");
	out.revocations_per_s = (double)n / (bench_now() - start);
	out.events = applied;
	if ((long)applied != n)
		bench_fail("not every event was applied");
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
	long revoked = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
	struct run empty, full = {0};
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *subject, *cakey;
	double raw;

	bench_name = "registry_bench";
	if (n <= 0)
		n = 1000;
	setenv("JPKI_ARGON2_TEST", "1", 1);
	bench_ca_open(&b);
	st = b.st;
	ca = b.ca;
	if (jpki_registry_migrate(st) != 0)
		bench_fail("registry");
	if ((subject = EVP_RSA_gen(2048)) == NULL ||
	    (cakey = EVP_RSA_gen(2048)) == NULL)
		bench_fail("key generation");

	empty = one_run(st, ca, subject, n, "A");
	if (revoked > 0) {
		bench_fill(st, revoked, 1, b.now);
		full = one_run(st, ca, subject, n, "B");
	}
	raw = bench_raw_rate(cakey, 0, 1, 2);

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
	bench_ca_close(&b);
	return 0;
}
