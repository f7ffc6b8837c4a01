/*
 * Time to produce the signing CA's full CRL with N revoked certificates
 * (default 10 000, 100 000 and 1 000 000), beside `openssl ca -gencrl` over
 * the same N serials measured in the same run, as a ratio (openssl time /
 * our time; above 1 means we are faster).
 *
 * The rows are synthetic. Issuing a million real certificates would take
 * minutes of RSA signing that has nothing to do with CRLs, so the bench
 * issues one real signing certificate and then inserts N rows into ca_cert
 * directly, in one transaction: distinct random 16-byte serials drawn as the
 * CA draws them (top byte 0x40-0x7f), four municipalities, a mix of reasons
 * (unspecified, keyCompromise, affiliationChanged, superseded,
 * cessationOfOperation) and a share on hold, revocation times spread over a
 * year, and the real certificate's DER reused as every row's blob, so the
 * table is as large as a real one. A CRL reads only the serial, the
 * revocation time, the reason, the status, the type, the municipality and
 * notAfter of each row, so what it costs does not depend on whether the rows
 * were written by issuance or by this loop.
 *
 * What is timed for us: one transaction that regenerates the full "sign" CRL
 * (ca_crl_generate: the SELECT, the entries' encoding, the RSA-2048
 * signature, the DER encoding and the store write of the blob) and commits
 * it, three times, the median printed first and used for the ratio (the
 * machine may be shared: other load only ever adds time, and openssl runs
 * once); then the CRL is read back through jpki_ca_crl_get and checked
 * with OpenSSL (entry count, order, signature) and, when openssl ran,
 * against its CRL (the same serials, dates and reasons, entry by entry).
 * Before that, the fill is checkpointed out of SQLite's WAL, as it would
 * have been long since in service. jpki_ca_crl_refresh with
 * force, which rebuilds every scope (both full CRLs and the four municipal
 * partitions, together N entries again), is printed on a second line.
 *
 * Then, with delta CRLs (crl_delta), one revocation beside the N listed
 * and the two delta CRLs it makes due (the full CRL's and the partition's,
 * as jpki serve's tick issues them), no full CRL regenerated: the line
 * "delta CRLs, one revocation".
 *
 * What is timed for openssl: `openssl ca -gencrl` on a directory holding the
 * same CA key and certificate, an index.txt with the same N serials, times
 * and reasons (holds carry holdInstructionNone there, as `openssl ca`
 * demands an instruction), and authorityKeyIdentifier as the CRL extension.
 * That includes loading index.txt, which is its store. It is cut off after
 * 180 s.
 *
 * usage: crl_bench [N ...]
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "bench.h"
#include "ca/ca_internal.h"
#include "jpki/ca.h"
#include "jpki/store.h"

#define BATCH 128
#define COLS 7
#define OPENSSL_CUTOFF 180
#define RUNS 3

static const char *const munis[] = {"131016", "131032", "271004",
				    "011002"};
/* Status 1 with these reasons; every 16th row is on hold instead. */
static const int reasons[] = {
	JPKI_REASON_UNSPECIFIED, JPKI_REASON_KEY_COMPROMISE,
	JPKI_REASON_AFFILIATION_CHANGED, JPKI_REASON_SUPERSEDED,
	JPKI_REASON_CESSATION};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* splitmix64: repeatable serials from run to run. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* UTCTime as index.txt wants it (YYMMDDHHMMSSZ; the bench's dates are
 * before 2050). */
static void utc_time(char out[16], time_t t)
{
	struct tm tm;
	char full[20];

	gmtime_r(&t, &tm);
	strftime(full, sizeof(full), "%Y%m%d%H%M%SZ", &tm);
	memcpy(out, full + 2, 14);
	out[14] = '\0';
}

struct row {
	char serial[33];
	char person[24];
	int status;
	int reason;
	int64_t revoked_at;
	const char *muni;
};

static void make_row(struct row *r, long i, uint64_t *rng, time_t now)
{
	uint64_t a = next_random(rng), b = next_random(rng);

	snprintf(r->serial, sizeof(r->serial), "%016" PRIX64 "%016" PRIX64,
		 (uint64_t)((a & 0x3fffffffffffffffULL) | 0x4000000000000000ULL),
		 (uint64_t)b);
	snprintf(r->person, sizeof(r->person), "B%ld", i);
	r->muni = munis[i % 4];
	if (i % 16 == 15) {
		r->status = JPKI_STATUS_HOLD;
		r->reason = JPKI_REASON_CERTIFICATE_HOLD;
	} else {
		r->status = JPKI_STATUS_REVOKED;
		r->reason = reasons[i % 5];
	}
	r->revoked_at = (int64_t)now - 1 - (int64_t)(next_random(rng) %
						      (365 * 86400));
}

/* One multi-row INSERT statement for `n` rows. */
static char *insert_sql(size_t n, time_t not_before, time_t not_after,
			time_t now)
{
	size_t cap = 512 + n * 192, len;
	char *sql = malloc(cap);

	if (sql == NULL)
		return NULL;
	len = (size_t)snprintf(sql, cap,
			       "INSERT INTO ca_cert (serial, person,"
			       " municipality, status, reason, revoked_at, der,"
			       " type, card, subject, version, not_before,"
			       " not_after, issued_at) VALUES ");
	for (size_t i = 0; i < n; i++) {
		size_t p = i * COLS;

		len += (size_t)snprintf(
			sql + len, cap - len,
			"%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, 1, 1,"
			" 'CN=bench', 2, %lld, %lld, %lld)",
			i ? ", " : "", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6,
			p + 7, (long long)not_before, (long long)not_after,
			(long long)now);
	}
	return sql;
}

static void fill(struct jpki_store *st, long n, const unsigned char *der,
		 size_t der_len, time_t not_before, time_t not_after,
		 time_t now, FILE *index, uint64_t seed)
{
	struct jpki_value p[BATCH * COLS];
	struct row rows[BATCH];
	char *full = insert_sql(BATCH, not_before, not_after, now);
	char na[16];
	uint64_t rng = seed;

	utc_time(na, not_after);
	if (full == NULL)
		bench_fail("memory");
	if (jpki_store_begin(st) != 0)
		bench_fail("begin");
	for (long done = 0; done < n;) {
		size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;
		char *sql = k == BATCH ? full
				       : insert_sql(k, not_before, not_after,
						    now);

		if (sql == NULL)
			bench_fail("memory");
		for (size_t i = 0; i < k; i++) {
			struct row *r = &rows[i];
			struct jpki_value *v = &p[i * COLS];
			char ra[16];

			make_row(r, done + (long)i, &rng, now);
			v[0] = JPKI_V_TEXT(r->serial);
			v[1] = JPKI_V_TEXT(r->person);
			v[2] = JPKI_V_TEXT(r->muni);
			v[3] = JPKI_V_INT(r->status);
			v[4] = JPKI_V_INT(r->reason);
			v[5] = JPKI_V_INT(r->revoked_at);
			v[6] = JPKI_V_BLOB(der, der_len);
			utc_time(ra, (time_t)r->revoked_at);
			if (r->status == JPKI_STATUS_HOLD)
				fprintf(index,
					"R\t%s\t%s,certificateHold,"
					"holdInstructionNone\t%s\tunknown\t"
					"/CN=x\n",
					na, ra, r->serial);
			else if (r->reason == JPKI_REASON_UNSPECIFIED)
				fprintf(index, "R\t%s\t%s\t%s\tunknown\t/CN=x\n",
					na, ra, r->serial);
			else
				fprintf(index,
					"R\t%s\t%s,%s\t%s\tunknown\t/CN=x\n", na,
					ra, jpki_ca_reason_name(r->reason),
					r->serial);
		}
		if (jpki_store_exec(st, sql, p, k * COLS, NULL) != 0)
			bench_fail("insert");
		if (sql != full)
			free(sql);
		done += (long)k;
	}
	if (jpki_store_commit(st) != 0)
		bench_fail("commit");
	free(full);
}

/* Parses the DER CRL, checks its entry count, order and signature;
 * returns it. */
static X509_CRL *check_crl(const unsigned char *der, size_t len, long n,
			   X509 *issuer, const char *who)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	STACK_OF(X509_REVOKED) *revs;

	if (crl == NULL || p != der + len) {
		fprintf(stderr, "crl_bench: %s CRL does not parse\n", who);
		exit(1);
	}
	revs = X509_CRL_get_REVOKED(crl);
	if ((long)sk_X509_REVOKED_num(revs) != n) {
		fprintf(stderr, "crl_bench: %s CRL has %d entries, not %ld\n",
			who, sk_X509_REVOKED_num(revs), n);
		exit(1);
	}
	for (int i = 1; i < sk_X509_REVOKED_num(revs); i++)
		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(
					     sk_X509_REVOKED_value(revs, i - 1)),
				     X509_REVOKED_get0_serialNumber(
					     sk_X509_REVOKED_value(revs, i))) >=
		    0) {
			fprintf(stderr, "crl_bench: %s CRL out of order at %d\n",
				who, i);
			exit(1);
		}
	if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
		fprintf(stderr, "crl_bench: %s CRL signature fails\n", who);
		exit(1);
	}
	return crl;
}

static int reason_of(const X509_REVOKED *rev)
{
	ASN1_ENUMERATED *code =
		X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	int reason = code ? (int)ASN1_ENUMERATED_get(code) : -1;

	ASN1_ENUMERATED_free(code);
	return reason;
}

/* Both CRLs list the same serials with the same dates and reasons (both
 * are sorted by serial and were checked to be). */
static void same_entries(X509_CRL *ours, X509_CRL *theirs)
{
	STACK_OF(X509_REVOKED) *a = X509_CRL_get_REVOKED(ours);
	STACK_OF(X509_REVOKED) *b = X509_CRL_get_REVOKED(theirs);

	for (int i = 0; i < sk_X509_REVOKED_num(a); i++) {
		const X509_REVOKED *x = sk_X509_REVOKED_value(a, i);
		const X509_REVOKED *y = sk_X509_REVOKED_value(b, i);

		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(x),
				     X509_REVOKED_get0_serialNumber(y)) != 0 ||
		    ASN1_TIME_compare(X509_REVOKED_get0_revocationDate(x),
				      X509_REVOKED_get0_revocationDate(y)) !=
			    0 ||
		    reason_of(x) != reason_of(y)) {
			fprintf(stderr,
				"crl_bench: our CRL and openssl's differ at "
				"entry %d\n",
				i);
			exit(1);
		}
	}
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)size + 1)) == NULL ||
	    fread(buf, 1, (size_t)size, f) != (size_t)size) {
		if (f != NULL)
			fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0 ||
	    fclose(f) != 0)
		bench_fail(path);
}

/* The `openssl ca` directory: config, CA key and certificate, counters.
 * index.txt is written by fill(). */
static void openssl_dir(const char *dir, const char *keys, X509 *cacert)
{
	char path[512], cnf[2048];
	FILE *f;

	snprintf(cnf, sizeof(cnf),
		 "[ ca ]\n"
		 "default_ca = CA_default\n"
		 "[ CA_default ]\n"
		 "dir = %s\n"
		 "database = $dir/index.txt\n"
		 "crlnumber = $dir/crlnumber\n"
		 "serial = $dir/serial\n"
		 "new_certs_dir = $dir\n"
		 "certificate = $dir/ca.pem\n"
		 "private_key = %s/sign-ca.key\n"
		 "default_md = sha256\n"
		 "default_crl_days = 1\n"
		 "unique_subject = no\n"
		 "crl_extensions = crl_ext\n"
		 "[ crl_ext ]\n"
		 "authorityKeyIdentifier = keyid:always\n",
		 dir, keys);
	write_text(dir, "openssl.cnf", cnf);
	write_text(dir, "index.txt.attr", "unique_subject = no\n");
	write_text(dir, "crlnumber", "01\n");
	write_text(dir, "serial", "01\n");
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((f = fopen(path, "w")) == NULL || !PEM_write_X509(f, cacert) ||
	    fclose(f) != 0)
		bench_fail("ca.pem");
}

/* Runs `openssl ca -gencrl`; returns seconds, or -1 when it failed and -2
 * when it ran past the cut-off. */
static double openssl_gencrl(const char *dir)
{
	char cmd[1024];
	double start;
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "timeout %d openssl ca -batch -gencrl -config %s/openssl.cnf"
		 " -out %s/openssl.crl 2>%s/openssl.err",
		 OPENSSL_CUTOFF, dir, dir, dir);
	start = bench_now();
	rc = system(cmd);
	if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 124)
		return -2;
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
		return -1;
	return bench_now() - start;
}

static void run(long n, uint64_t seed)
{
	struct jpki_issue_request req;
	struct bench_ca b;
	char keys[64], ref[64], path[128], *dir = b.dir;
	struct jpki_cert_info *info = NULL;
	struct jpki_store *st;
	struct jpki_ca *ca;
	unsigned char *der = NULL, *oder;
	size_t len, olen, count;
	double start, fill_s, ours, refresh, theirs, runs[RUNS];
	double delta_revoke = 0, delta_issue = 0;
	char load[64] = "?";
	FILE *la;
	EVP_PKEY *subject;
	X509_CRL *ours_crl;
	FILE *index;
	time_t t;

	bench_ca_open(&b);
	st = b.st;
	ca = b.ca;
	t = b.now;
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(ref, sizeof(ref), "%s/openssl", dir);
	if ((subject = EVP_RSA_gen(2048)) == NULL)
		bench_fail("key generation");
	req = bench_request("P0");
	req.municipality_code = munis[0];
	if (jpki_ca_issue(&info, ca, &req, subject) != 0)
		bench_fail("issue");

	if (mkdir(ref, 0700) != 0)
		bench_fail("mkdir");
	openssl_dir(ref, keys, jpki_ca_cert(ca, JPKI_CERT_SIGN));
	snprintf(path, sizeof(path), "%s/index.txt", ref);
	if ((index = fopen(path, "w")) == NULL)
		bench_fail("index.txt");
	start = bench_now();
	fill(st, n, info->der, info->der_len, info->not_before,
	     info->not_after, t, index, seed);
	if (fclose(index) != 0)
		bench_fail("index.txt");
	fill_s = bench_now() - start;

	bench_checkpoint(st);

	/* Ours: the full signing CRL, one transaction, as revocation and
	 * the refresh loop make it; RUNS times, since the machine may be
	 * shared. */
	for (int i = 0; i < RUNS; i++) {
		start = bench_now();
		if (jpki_store_begin(st) != 0)
			bench_fail("begin");
		if (ca_crl_generate(ca, JPKI_CERT_SIGN, 1, NULL) != 0) {
			jpki_store_rollback(st);
			bench_fail("CRL");
		}
		if (jpki_store_commit(st) != 0)
			bench_fail("commit");
		runs[i] = bench_now() - start;
	}
	qsort(runs, RUNS, sizeof(runs[0]), cmp_double);
	ours = runs[RUNS / 2];
	if (jpki_ca_crl_get(&der, &len, ca, "sign") != 0)
		bench_fail("CRL get");
	/* The issued certificate is still good: N entries exactly. */
	ours_crl = check_crl(der, len, n, jpki_ca_cert(ca, JPKI_CERT_SIGN),
			     "our");

	start = bench_now();
	if (jpki_ca_crl_refresh(ca, 1, &count) != 0)
		bench_fail("refresh");
	refresh = bench_now() - start;

	theirs = openssl_gencrl(ref);
	if (theirs >= 0) {
		snprintf(path, sizeof(path), "%s/openssl.crl", ref);
		if ((oder = read_file(path, &olen)) == NULL)
			bench_fail("openssl.crl");
		/* PEM by default: the count check wants DER. */
		{
			BIO *bio = BIO_new_mem_buf(oder, (int)olen);
			X509_CRL *c = bio ? PEM_read_bio_X509_CRL(bio, NULL,
								 NULL, NULL)
					  : NULL;
			unsigned char *d = NULL;
			int dl = c ? i2d_X509_CRL(c, &d) : -1;

			if (dl <= 0)
				bench_fail("openssl CRL");
			X509_CRL_free(check_crl(d, (size_t)dl, n,
						jpki_ca_cert(ca, JPKI_CERT_SIGN),
						"openssl"));
			same_entries(ours_crl, c);
			OPENSSL_free(d);
			X509_CRL_free(c);
			BIO_free(bio);
		}
		free(oder);
	}

	/* Delta CRLs (crl_delta): one revocation beside the N listed, and
	 * the deltas it makes due (the full CRL's and the municipality's),
	 * as the repository's tick issues them; the full CRLs are not
	 * regenerated. The first deltas of every scope are made before. */
	{
		struct jpki_ca_options dopts = JPKI_CA_OPTIONS_INIT;
		struct jpki_ca *dca = NULL;
		size_t made = 0;

		dopts.crl_delta = 1;
		if (jpki_ca_open(&dca, st, &dopts) != 0 ||
		    jpki_ca_crl_refresh(dca, 1, &count) != 0 ||
		    jpki_ca_crl_delta_refresh(dca, &made) != 0)
			bench_fail("delta CA");
		start = bench_now();
		if (jpki_ca_revoke(dca, info->serial,
				   JPKI_REASON_KEY_COMPROMISE) != 0)
			bench_fail("revoke");
		delta_revoke = bench_now() - start;
		if (jpki_ca_crl_delta_refresh(dca, &made) != 0 || made != 2)
			bench_fail("delta");
		delta_issue = bench_now() - start - delta_revoke;
		jpki_ca_free(dca);
	}

	if ((la = fopen("/proc/loadavg", "r")) != NULL) {
		if (fgets(load, sizeof(load), la) != NULL)
			load[strcspn(load, "\n")] = '\0';
		fclose(la);
	}
	printf("N = %ld (rows written in %.1f s; CRL %zu bytes; loadavg %s)\n",
	       n, fill_s, len, load);
	printf("  ours, full sign CRL:         %8.3f s  %10.0f entries/s"
	       "  (median of %d; best %.3f s, worst %.3f s)\n",
	       ours, (double)n / ours, RUNS, runs[0], runs[RUNS - 1]);
	printf("  ours, refresh of %zu scopes:  %8.3f s  (%ld entries in "
	       "all)\n",
	       count, refresh, 2 * n);
	printf("  delta CRLs, one revocation:  %8.3f s  (the revocation "
	       "%.3f s, then its 2 deltas %.3f s; no full CRL made)\n",
	       delta_revoke + delta_issue, delta_revoke, delta_issue);
	if (theirs >= 0)
		printf("  openssl ca -gencrl:          %8.3f s  %10.0f "
		       "entries/s\n  ratio openssl / ours:        %8.2f\n",
		       theirs, (double)n / theirs, theirs / ours);
	else if (theirs == -2)
		printf("  openssl ca -gencrl:          not measured: still "
		       "running after %d s, stopped\n",
		       OPENSSL_CUTOFF);
	else
		printf("  openssl ca -gencrl:          failed (see %s/"
		       "openssl.err, kept)\n",
		       ref);
	fflush(stdout);

	free(der);
	X509_CRL_free(ours_crl);
	EVP_PKEY_free(subject);
	jpki_cert_info_free(info);
	if (theirs != -1) {
		bench_ca_close(&b);
	} else {
		jpki_ca_free(ca);
		jpki_store_free(st);
	}
}

int main(int argc, char **argv)
{
	static const long defaults[] = {10000, 100000, 1000000};

	bench_name = "crl_bench";

	jpki_log_set_level(JPKI_LOG_ERROR);
	printf("crl_bench: RSA-2048 / SHA-256 CRLs; %s\n",
	       OpenSSL_version(OPENSSL_VERSION));
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			char *end;
			long n = strtol(argv[i], &end, 10);

			if (*end != '\0' || n <= 0) {
				fprintf(stderr,
					"usage: crl_bench [N ...] (N > 0)\n");
				return 2;
			}
			run(n, (uint64_t)n * 7919);
		}
	} else {
		for (size_t i = 0; i < 3; i++)
			run(defaults[i], (uint64_t)defaults[i] * 7919);
	}
	return 0;
}
