/* The agency: its key made once then loaded, the submissions and the
 * inbox, each refusal changing nothing. */
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "jpki/agency.h"
#include "testutil.h"

struct fx {
	char *dir;
	char *url;
	struct jpki_store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	jpki_clock_freeze(1767225600); /* 2026-01-01T00:00:00Z */
	assert_int_equal(tu_store_new(&f->st, &f->url, &f->dir), 0);
	assert_int_equal(jpki_agency_migrate(f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_store_close(f->st, f->url, f->dir);
	free(f);
	jpki_clock_reset();
	return 0;
}

static int64_t count(struct fx *f)
{
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT COUNT(*) FROM "
					  "agency_submission",
					  NULL, 0),
			 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

static char *path_in(struct fx *f, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

/* Made on first use (key mode 0600, a certificate of that key for key
 * encipherment), the same pair loaded after; migrating twice is fine. */
static void test_key_made_then_loaded(void **state)
{
	struct fx *f = *state;
	char *kp = path_in(f, "agency.key"), *cp = path_in(f, "agency.crt");
	EVP_PKEY *key = NULL, *key2 = NULL;
	X509 *cert = NULL, *cert2 = NULL;
	struct stat sb;

	assert_int_equal(jpki_agency_key(&key, &cert, kp, cp), 0);
	assert_int_equal(stat(kp, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_true(X509_get_key_usage(cert) & KU_KEY_ENCIPHERMENT);
	assert_int_equal(jpki_agency_key(&key2, &cert2, kp, cp), 0);
	assert_int_equal(EVP_PKEY_eq(key, key2), 1);
	assert_int_equal(X509_cmp(cert, cert2), 0);
	assert_int_equal(jpki_agency_migrate(f->st), 0);
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	X509_free(cert);
	X509_free(cert2);
	free(kp);
	free(cp);
}

/* A key that is not PEM, a missing certificate, a certificate of another
 * key: each refused, nothing returned, the files left as they were. */
static void test_key_refusals(void **state)
{
	struct fx *f = *state;
	char *kp = path_in(f, "agency.key"), *cp = path_in(f, "agency.crt");
	char *kp2 = path_in(f, "other.key"), *cp2 = path_in(f, "other.crt");
	EVP_PKEY *key = NULL, *k2 = NULL;
	X509 *cert = NULL, *c2 = NULL;

	assert_int_equal(jpki_agency_key(&key, &cert, kp, cp), 0);
	assert_int_equal(jpki_agency_key(&k2, &c2, kp2, cp2), 0);
	EVP_PKEY_free(k2);
	X509_free(c2);
	/* the certificate of another key */
	assert_int_equal(jpki_agency_key(&k2, &c2, kp, cp2), JPKI_ERR_INVALID);
	assert_null(k2);
	assert_null(c2);
	assert_non_null(strstr(jpki_err_detail(), "not the certificate"));
	/* no certificate */
	assert_int_equal(unlink(cp2), 0);
	assert_int_equal(jpki_agency_key(&k2, &c2, kp2, cp2), JPKI_ERR_PARSE);
	assert_null(k2);
	assert_int_equal(access(cp2, F_OK), -1); /* not made again */
	/* a key that is not PEM */
	assert_int_equal(jpki_file_write_atomic(kp2, "junk", 4, 0600), 0);
	assert_int_equal(jpki_agency_key(&k2, &c2, kp2, cp), JPKI_ERR_PARSE);
	assert_null(k2);
	assert_null(c2);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(kp);
	free(cp);
	free(kp2);
	free(cp2);
}

static struct jpki_agency_submission sub(const char *name,
					 enum jpki_agency_verdict v)
{
	static const unsigned char data[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	struct jpki_agency_submission s = JPKI_AGENCY_SUBMISSION_INIT;

	s.proc = "tax";
	s.name = name;
	s.address = "東京都千代田区千代田１番１号";
	s.verdict = v;
	s.serial = "4A0B";
	s.report = "{\"accepted\":true}";
	s.data = data;
	s.data_len = sizeof(data);
	return s;
}

/* Receipts numbered in order under today's date; the inbox newest first,
 * limited. */
static void test_submit_and_inbox(void **state)
{
	struct fx *f = *state;
	struct jpki_agency_submission a = sub("山田 太郎", JPKI_AGENCY_ACCEPTED);
	struct jpki_agency_submission b = sub("山田 花子", JPKI_AGENCY_REFUSED);
	struct jpki_agency_entry *list = NULL;
	char r1[32], r2[32];
	size_t n;

	assert_int_equal(jpki_agency_submit(r1, f->st, &a), 0);
	assert_int_equal(jpki_agency_submit(r2, f->st, &b), 0);
	assert_string_equal(r1, "20260101-000001");
	assert_string_equal(r2, "20260101-000002");
	assert_int_equal(jpki_agency_inbox(&list, &n, f->st, 0), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].receipt, r2);
	assert_string_equal(list[0].name, "山田 花子");
	assert_int_equal(list[0].verdict, JPKI_AGENCY_REFUSED);
	assert_string_equal(list[1].receipt, r1);
	assert_int_equal(list[1].verdict, JPKI_AGENCY_ACCEPTED);
	assert_string_equal(list[1].proc, "tax");
	assert_string_equal(list[1].serial, "4A0B");
	assert_string_equal(list[1].report, "{\"accepted\":true}");
	assert_int_equal(list[1].at, 1767225600);
	jpki_agency_inbox_free(list, n);
	assert_int_equal(jpki_agency_inbox(&list, &n, f->st, 1), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].receipt, r2);
	jpki_agency_inbox_free(list, n);
}

/* An empty inbox; a submission without a name, with an unknown verdict or
 * of an unknown version is refused and records nothing; a store failure
 * records nothing either. */
static void test_submit_refusals(void **state)
{
	struct fx *f = *state;
	struct jpki_agency_entry *list = NULL;
	struct jpki_agency_submission s;
	char receipt[32];
	size_t n = 7;
	int failures = 0;

	assert_int_equal(jpki_agency_inbox(&list, &n, f->st, 0), 0);
	assert_int_equal(n, 0);
	jpki_agency_inbox_free(list, n);
	s = sub("", JPKI_AGENCY_ACCEPTED);
	assert_int_equal(jpki_agency_submit(receipt, f->st, &s),
			 JPKI_ERR_INVALID);
	assert_string_equal(receipt, "");
	s = sub("山田 太郎", (enum jpki_agency_verdict)7);
	assert_int_equal(jpki_agency_submit(receipt, f->st, &s),
			 JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "verdict 7"));
	s = sub("山田 太郎", JPKI_AGENCY_ACCEPTED);
	s.version = 2;
	assert_int_equal(jpki_agency_submit(receipt, f->st, &s),
			 JPKI_ERR_INVALID);
	assert_int_equal(count(f), 0);
	s.version = JPKI_AGENCY_SUBMISSION_VERSION;
	for (int nth = 1; nth < 10; nth++) {
		int r;

		jpki_store_fail_after(f->st, nth);
		r = jpki_agency_submit(receipt, f->st, &s);
		jpki_store_fail_after(f->st, 0);
		if (r == 0)
			break;
		failures++;
		assert_string_equal(receipt, "");
		assert_int_equal(count(f), 0);
	}
	assert_true(failures > 0);
	assert_int_equal(count(f), 1);
}

/* A store the portal made before the agency owned its table keeps its
 * submissions. */
static void test_migrates_portal_table(void **state)
{
	struct fx *f = *state;
	struct jpki_store *st = NULL;
	struct jpki_agency_entry *list = NULL;
	char *dir = tu_tmpdir(), *url = tu_store_url(dir);
	static const struct jpki_migration old[] = {
	    {1, "CREATE TABLE portal_submission ("
		" id BIGINT PRIMARY KEY, receipt TEXT NOT NULL UNIQUE,"
		" at BIGINT NOT NULL, proc TEXT NOT NULL, name TEXT NOT NULL,"
		" address TEXT NOT NULL, verdict INTEGER NOT NULL,"
		" serial TEXT NOT NULL, report TEXT NOT NULL,"
		" data BLOB NOT NULL)"},
	};
	size_t n;

	(void)f;
	assert_int_equal(jpki_store_open(&st, url), 0);
	assert_int_equal(jpki_store_migrate(st, "portal", old, 1), 0);
	assert_int_equal(
	    jpki_store_exec(st,
			    "INSERT INTO portal_submission VALUES (1, "
			    "'20251231-000001', 0, 'tax', 'n', 'a', 1, '', "
			    "'', 'x')",
			    NULL, 0, NULL),
	    0);
	assert_int_equal(jpki_agency_migrate(st), 0);
	assert_int_equal(jpki_agency_inbox(&list, &n, st, 0), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].receipt, "20251231-000001");
	jpki_agency_inbox_free(list, n);
	jpki_store_free(st);
	tu_store_drop(url);
	tu_rmtree(dir);
	free(url);
	free(dir);
}

/* Receipt evidence kept beside an accepted submission and read back; the
 * inbox says which have it; evidence with a refused verdict is refused
 * and nothing recorded; a receipt without evidence is not found. */
static void test_evidence(void **state)
{
	static const unsigned char sd[] = {0x30, 0x80, 0x01};
	static const unsigned char ocsp[] = {0x30, 0x03, 0x0a, 0x01, 0x00};
	struct fx *f = *state;
	struct jpki_agency_submission a = sub("山田 太郎", JPKI_AGENCY_ACCEPTED);
	struct jpki_agency_submission b = sub("山田 花子", JPKI_AGENCY_ACCEPTED);
	struct jpki_agency_entry *list = NULL;
	struct jpki_agency_evidence *ev = NULL;
	char r1[32], r2[32];
	size_t n;

	a.signed_data = sd;
	a.signed_data_len = sizeof(sd);
	a.ocsp = ocsp;
	a.ocsp_len = sizeof(ocsp);
	a.birth = "昭和55年6月1日";
	a.status_time = 1767225000;
	assert_int_equal(jpki_agency_submit(r1, f->st, &a), 0);
	assert_int_equal(jpki_agency_submit(r2, f->st, &b), 0);
	assert_int_equal(jpki_agency_evidence(&ev, f->st, r1), 0);
	assert_int_equal(ev->received, 1767225600);
	assert_int_equal(ev->status_time, 1767225000);
	assert_string_equal(ev->name, "山田 太郎");
	assert_string_equal(ev->birth, "昭和55年6月1日");
	assert_null(ev->sex);
	assert_int_equal(ev->signed_data_len, sizeof(sd));
	assert_memory_equal(ev->signed_data, sd, sizeof(sd));
	assert_int_equal(ev->ocsp_len, sizeof(ocsp));
	assert_memory_equal(ev->ocsp, ocsp, sizeof(ocsp));
	jpki_agency_evidence_free(ev);
	assert_int_equal(jpki_agency_evidence(&ev, f->st, r2),
			 JPKI_ERR_NOT_FOUND);
	assert_null(ev);
	assert_int_equal(jpki_agency_evidence(&ev, f->st, "nope"),
			 JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_agency_inbox(&list, &n, f->st, 0), 0);
	assert_int_equal(n, 2);
	assert_false(list[0].has_evidence);
	assert_true(list[1].has_evidence);
	assert_int_equal(list[1].status_time, 1767225000);
	jpki_agency_inbox_free(list, n);

	/* evidence is kept with an accepted submission only */
	b = sub("山田 花子", JPKI_AGENCY_REFUSED);
	b.signed_data = sd;
	b.signed_data_len = sizeof(sd);
	assert_int_equal(jpki_agency_submit(r2, f->st, &b), JPKI_ERR_INVALID);
	assert_int_equal(count(f), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_key_made_then_loaded),
		T(test_key_refusals),
		T(test_submit_and_inbox),
		T(test_submit_refusals),
		T(test_migrates_portal_table),
		T(test_evidence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
