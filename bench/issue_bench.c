/*
 * Certificates issued per second through the CA — profile, RSA-2048
 * signature, durable SQLite commit — beside the raw RSA-2048 signing rate of
 * OpenSSL on the same number of threads, measured in the same process, and
 * beside `openssl ca` and `cfssl` issuing the same number (bench/
 * issue_peers.sh, same run). Then the same batch issuance again with one
 * million certificates already in the store, as a ratio to the empty store.
 *
 * Three ways through the CA:
 *   - one at a time (jpki_ca_issue): one transaction, one fsync each;
 *   - batches on one thread (jpki_ca_issue_batch): one fsync per batch;
 *   - batches on every core: building and signing in parallel, the store's
 *     part on one thread.
 *
 * What bounds the rate: each certificate costs one RSA-2048 private-key
 * operation, the profile's extension building, a handful of indexed
 * look-ups (prior certificates of the person, the serial's uniqueness, the
 * municipality's CRL partition) and the row's insert; the fsync is paid
 * once per batch. Subject keys are made once: key generation is the card's
 * work, not the CA's.
 *
 * The million stored certificates are rows copied from a real certificate
 * (distinct serials and persons, the same indexes) by one INSERT … SELECT:
 * issuing them would take minutes and measures nothing more, since what a
 * full store changes is the depth of the indexes the look-ups and inserts
 * walk.
 *
 * usage: issue_bench [N [STORED]]   (default 6000 certificates, 1000000 stored;
 *        STORED 0 skips the full-store run); $JPKI_BENCH_PEERS names the
 *        peers script (default bench/issue_peers.sh beside the sources).
 */
#include <unistd.h>

#include <openssl/rsa.h>

#include "bench.h"

#define BATCH 2000

/* CPU seconds of the whole process (every thread). On a machine shared
 * with other work the wall-clock rates say how much CPU the bench got as
 * much as what it does; CPU per certificate beside CPU per raw signature
 * is the ratio that other load moves least. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs f and returns its rate; *cpu_each gets CPU seconds per item. */
#define TIMED(rate, cpu_each, items, call)                                  \
	do {                                                                \
		double c0_ = cpu_now(), w0_ = bench_now();                  \
		rate = (call);                                              \
		cpu_each = (cpu_now() - c0_) /                              \
			   ((rate) * (bench_now() - w0_) > 0                 \
				    ? (rate) * (bench_now() - w0_)          \
				    : (double)(items));                     \
	} while (0)

static struct jpki_issue_request request(char *person, size_t size, long i,
					 const char *tag)
{
	struct jpki_issue_request req;

	snprintf(person, size, "%s%ld", tag, i);
	req = bench_request(person);
	req.municipality_code = i % 2 ? "131016" : "131032";
	req.municipality = i % 2 ? "Chiyoda-ku" : "Minato-ku";
	snprintf(req.facts.address, sizeof(req.facts.address),
		 "東京都千代田区千代田１番%ld号", i % 1000);
	return req;
}

/* Certificates per second, one jpki_ca_issue call each. */
static double issue_single(struct jpki_ca *ca, EVP_PKEY *subject, long n,
			   const char *tag)
{
	double start = bench_now();

	for (long i = 0; i < n; i++) {
		char person[32];
		struct jpki_issue_request req =
			request(person, sizeof(person), i, tag);
		struct jpki_cert_info *info = NULL;

		if (jpki_ca_issue(&info, ca, &req, subject) != 0)
			bench_fail("issue");
		jpki_cert_info_free(info);
	}
	return (double)n / (bench_now() - start);
}

/* Certificates per second, BATCH per jpki_ca_issue_batch call. */
static double issue_batches(struct jpki_ca *ca, EVP_PKEY *subject, long n,
			    unsigned threads, const char *tag)
{
	static struct jpki_issue_request reqs[BATCH];
	static struct jpki_issue_result res[BATCH];
	static EVP_PKEY *keys[BATCH];
	static char persons[BATCH][32];
	double start = bench_now();

	for (long done = 0; done < n;) {
		size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;

		for (size_t j = 0; j < k; j++) {
			reqs[j] = request(persons[j], sizeof(persons[j]),
					  done + (long)j, tag);
			keys[j] = subject;
		}
		if (jpki_ca_issue_batch(res, ca, reqs, keys, k, threads) != 0)
			bench_fail("issue batch");
		for (size_t j = 0; j < k; j++) {
			if (res[j].code != 0) {
				fprintf(stderr, "issue_bench: refused: %s\n",
					res[j].message);
				exit(1);
			}
			jpki_cert_info_free(res[j].info);
		}
		done += (long)k;
	}
	return (double)n / (bench_now() - start);
}

/* bench/issue_peers.sh prints "openssl_ca RATE" and "cfssl RATE". */
static void peers(long n, double *openssl_ca, double *cfssl)
{
	const char *script = getenv("JPKI_BENCH_PEERS");
	char cmd[1024], line[256];
	FILE *p;

	*openssl_ca = *cfssl = 0;
	snprintf(cmd, sizeof(cmd), "bash '%s' %ld",
		 script ? script : JPKI_SOURCE_DIR "/bench/issue_peers.sh", n);
	if ((p = popen(cmd, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), p) != NULL) {
		double rate;

		fputs(line, stdout);
		if (sscanf(line, "openssl_ca %lf", &rate) == 1)
			*openssl_ca = rate;
		else if (sscanf(line, "cfssl %lf", &rate) == 1)
			*cfssl = rate;
	}
	pclose(p);
}

int main(int argc, char **argv)
{
	struct bench_ca b;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 6000;
	long stored = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cores > 0 && cores < 16 ? (unsigned)cores : 1;
	double single, batch1, batchn, raw1, rawn, ossl, cfssl, full = 0;
	double cpu_b1, cpu_bn, cpu_r1, cpu_rn;
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *subject, *cakey;

	bench_name = "issue_bench";
	if (n <= 0)
		n = 6000;
	if (stored < 0)
		stored = 0;
	bench_ca_open(&b);
	st = b.st;
	ca = b.ca;
	if ((subject = EVP_RSA_gen(2048)) == NULL ||
	    (cakey = EVP_RSA_gen(2048)) == NULL)
		bench_fail("key generation");

	printf("issuance, %ld certificates each way, RSA-2048, SQLite WAL "
	       "synchronous=FULL, %u cores\n",
	       n, threads);
	single = issue_single(ca, subject, n / 10 > 0 ? n / 10 : 1, "A");
	TIMED(batch1, cpu_b1, n, issue_batches(ca, subject, n, 1, "B"));
	TIMED(raw1, cpu_r1, 0, bench_raw_rate(cakey, 0, 1, 2));
	TIMED(batchn, cpu_bn, n, issue_batches(ca, subject, n, threads, "C"));
	TIMED(rawn, cpu_rn, 0, bench_raw_rate(cakey, 0, threads, 2));

	printf("  jpki, one at a time (fsync each):   %8.0f certificates/s\n",
	       single);
	printf("  jpki, batches of %d, 1 thread:     %8.0f certificates/s\n",
	       BATCH, batch1);
	printf("  raw RSA-2048 signing, 1 thread:     %8.0f signatures/s\n",
	       raw1);
	printf("  jpki, batches of %d, %u threads:    %8.0f certificates/s\n",
	       BATCH, threads, batchn);
	printf("  raw RSA-2048 signing, %u threads:    %8.0f signatures/s\n",
	       threads, rawn);
	peers(n, &ossl, &cfssl);
	printf("ratio batch 1 thread / raw 1 thread:   %.3f\n", batch1 / raw1);
	printf("ratio batch %u threads / raw %u threads: %.3f (target 0.80)\n",
	       threads, threads, batchn / rawn);
	printf("ratio one at a time / raw 1 thread:    %.3f\n", single / raw1);
	printf("CPU per certificate, batch 1 thread: %.1f us; per raw "
	       "signature: %.1f us; ratio %.3f\n",
	       cpu_b1 * 1e6, cpu_r1 * 1e6, cpu_r1 / cpu_b1);
	printf("CPU per certificate, batch %u threads: %.1f us; per raw "
	       "signature: %.1f us; ratio %.3f (load-independent form of "
	       "the target)\n",
	       threads, cpu_bn * 1e6, cpu_rn * 1e6, cpu_rn / cpu_bn);
	if (ossl > 0)
		printf("ratio jpki batch / openssl ca:         %.2f\n",
		       batchn / ossl);
	if (cfssl > 0)
		printf("ratio jpki batch / cfssl:              %.2f\n",
		       batchn / cfssl);
	if (cfssl > 0)
		printf("ratio cfssl / raw %u threads:           %.3f\n", threads,
		       cfssl / rawn);

	if (stored > 0) {
		double took = bench_fill(st, stored, 50, b.now);

		printf("stored %ld more certificates in %.1f s\n", stored, took);
		bench_checkpoint(st);
		full = issue_batches(ca, subject, n, 1, "D");
		printf("  jpki, batches of %d, 1 thread, %ld stored: %8.0f "
		       "certificates/s\n",
		       BATCH, stored, full);
		printf("ratio full store / empty store:        %.3f (target "
		       "0.90 or more)\n",
		       full / batch1);
	}

	EVP_PKEY_free(subject);
	EVP_PKEY_free(cakey);
	bench_ca_close(&b);
	return 0;
}
