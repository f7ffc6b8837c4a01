/*
 * Batch issuance: the request line, each group's callback after its
 * commit, and the rerun after a crash (a line whose person already holds a
 * certificate for the same key gets it back; another key is refused).
 */
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca_fixture.h"

static int counted_groups;

/* The line's fields as jpki_ca_request_line reads them. */
static void test_request_line(void **state)
{
	struct jpki_issue_request req;
	const char *csr = NULL;
	json_t *line = json_loads(
		"{\"csr\":\"r.pem\",\"type\":\"sign\",\"person\":\"P1\","
		"\"municipality_code\":\"131016\",\"birth\":\"1990-01-02\","
		"\"sex\":\"female\",\"card\":\"juki\",\"name\":\"山田 太郎\"}",
		0, NULL);

	(void)state;
	assert_non_null(line);
	assert_int_equal(jpki_ca_request_line(&req, &csr, line), 0);
	assert_string_equal(csr, "r.pem");
	assert_int_equal(req.type, JPKI_CERT_SIGN);
	assert_int_equal(req.card, JPKI_CARD_JUKI);
	assert_int_equal(req.facts.sex, JPKI_SEX_FEMALE);
	assert_string_equal(req.person, "P1");
	assert_int_equal(req.facts.birth.day, 2);
	json_decref(line);
}

/* Unknown keys, wrong types, unknown values and missing fields refused,
 * each with its sentence. */
static void test_request_line_refusals(void **state)
{
	static const struct {
		const char *json;
		int code;
		const char *says;
	} bad[] = {
		{"[1]", JPKI_ERR_PARSE, "JSON object"},
		{"{\"colour\":\"red\"}", JPKI_ERR_PARSE, "colour"},
		{"{\"person\":7}", JPKI_ERR_PARSE, "person"},
		{"{\"type\":\"both\"}", JPKI_ERR_INVALID, "both"},
		{"{\"sex\":\"4\"}", JPKI_ERR_INVALID, "sex"},
		{"{\"type\":\"auth\",\"person\":\"P\"}", JPKI_ERR_INVALID,
		 "birth"},
		{"{\"type\":\"auth\",\"person\":\"P\",\"municipality_code\":"
		 "\"131016\",\"birth\":\"1990-01-01\"}",
		 JPKI_ERR_INVALID, "csr"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jpki_issue_request req;
		const char *csr = NULL;
		json_t *line = json_loads(bad[i].json, 0, NULL);

		assert_non_null(line);
		jpki_err_clear();
		assert_int_equal(jpki_ca_request_line(&req, &csr, line),
				 bad[i].code);
		assert_non_null(strstr(jpki_err_detail(), bad[i].says));
		json_decref(line);
	}
}

static void issue_n(struct ca_fixture *f, struct jpki_issue_result *res,
		    struct jpki_issue_request *reqs, EVP_PKEY **keys, size_t n,
		    int resume)
{
	struct jpki_ca_batch_options opts = JPKI_CA_BATCH_OPTIONS_INIT;

	opts.threads = 2;
	opts.resume = resume;
	assert_int_equal(
		jpki_ca_issue_batch_opts(res, f->ca, reqs, keys, n, &opts), 0);
}

/* A rerun with resume gives each line its certificate of the first run
 * and records nothing; without resume (the old behaviour) each is
 * refused. */
static void test_rerun_same_key(void **state)
{
	struct ca_fixture *f = *state;
	enum { N = 6 };
	struct jpki_issue_request reqs[N];
	struct jpki_issue_result first[N], again[N];
	EVP_PKEY *keys[N];
	char persons[N][16];

	for (int i = 0; i < N; i++) {
		snprintf(persons[i], sizeof(persons[i]), "R%d", i / 2);
		reqs[i] = fx_request(i % 2 ? JPKI_CERT_AUTH : JPKI_CERT_SIGN,
				     persons[i]);
		keys[i] = f->key;
	}
	issue_n(f, first, reqs, keys, N, 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(first[i].code, 0);
		assert_int_equal(first[i].again, 0);
	}
	issue_n(f, again, reqs, keys, N, 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(again[i].code, 0);
		assert_int_equal(again[i].again, 1);
		assert_non_null(again[i].info);
		assert_string_equal(again[i].info->serial,
				    first[i].info->serial);
		assert_int_equal(again[i].info->der_len,
				 first[i].info->der_len);
		assert_memory_equal(again[i].info->der, first[i].info->der,
				    first[i].info->der_len);
		jpki_cert_info_free(again[i].info);
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), N);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_link"), N / 2);
	/* without resume: refused, as a person who holds one */
	issue_n(f, again, reqs, keys, N, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(again[i].code, JPKI_ERR_STATE);
		assert_null(again[i].info);
		assert_non_null(strstr(again[i].message, "already holds"));
		jpki_cert_info_free(first[i].info);
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), N);
}

/* A person who holds a certificate for another key is refused; a person
 * twice in the batch is refused the second time, also on a rerun; a
 * revoked certificate is not given back (a new one is issued). */
static void test_rerun_other_key_and_twice(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_issue_request reqs[3];
	struct jpki_issue_result res[3];
	EVP_PKEY *other = tu_rsa_key_fresh();
	EVP_PKEY *keys[3] = {f->key, f->key, f->key};
	struct jpki_cert_info *held = fx_issue(f, JPKI_CERT_SIGN, "K0");
	struct jpki_cert_info *revoked = fx_issue(f, JPKI_CERT_SIGN, "K2");

	assert_int_equal(jpki_ca_revoke(f->ca, revoked->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	reqs[0] = fx_request(JPKI_CERT_SIGN, "K0");
	keys[0] = other;
	reqs[1] = fx_request(JPKI_CERT_SIGN, "K2");
	reqs[2] = fx_request(JPKI_CERT_SIGN, "K2");
	for (int run = 0; run < 2; run++) {
		issue_n(f, res, reqs, keys, 3, 1);
		assert_int_equal(res[0].code, JPKI_ERR_STATE);
		assert_non_null(strstr(res[0].message, held->serial));
		assert_null(res[0].info);
		assert_int_equal(res[1].code, 0);
		assert_int_equal(res[1].again, run == 1);
		assert_string_not_equal(res[1].info->serial, revoked->serial);
		assert_int_equal(res[2].code, JPKI_ERR_STATE);
		assert_null(res[2].info);
		jpki_cert_info_free(res[1].info);
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), 3);
	jpki_cert_info_free(held);
	jpki_cert_info_free(revoked);
	EVP_PKEY_free(other);
}

/* on_group sees each group after its commit (its rows are in the store,
 * the next group's are not), and its failure stops the batch there. */
static int count_group(void *arg, struct jpki_issue_result *res, size_t from,
		       size_t to)
{
	struct ca_fixture *f = arg;

	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
			 (int64_t)to);
	for (size_t i = from; i < to; i++) {
		assert_int_equal(res[i].code, 0);
		assert_non_null(res[i].info);
	}
	counted_groups++;
	return counted_groups == 1
		       ? 0
		       : jpki_err_set(JPKI_ERR_IO, "the disk is full");
}

static void test_on_group(void **state)
{
	struct ca_fixture *f = *state;
	enum { N = 2 * JPKI_ISSUE_GROUP + 5 };
	static struct jpki_issue_request reqs[N];
	static struct jpki_issue_result res[N];
	static EVP_PKEY *keys[N];
	static char persons[N][16];
	struct jpki_ca_batch_options opts = JPKI_CA_BATCH_OPTIONS_INIT;

	for (int i = 0; i < N; i++) {
		snprintf(persons[i], sizeof(persons[i]), "G%d", i);
		reqs[i] = fx_request(JPKI_CERT_AUTH, persons[i]);
		keys[i] = f->key;
	}
	opts.threads = 2;
	opts.on_group = count_group;
	opts.arg = f;
	counted_groups = 0;
	assert_int_equal(
		jpki_ca_issue_batch_opts(res, f->ca, reqs, keys, N, &opts),
		JPKI_ERR_IO);
	assert_int_equal(counted_groups, 2);
	for (int i = 0; i < N; i++) {
		if (i < 2 * JPKI_ISSUE_GROUP) {
			assert_int_equal(res[i].code, 0);
			jpki_cert_info_free(res[i].info);
		} else {
			assert_int_equal(res[i].code, JPKI_ERR_IO);
			assert_null(res[i].info);
			assert_non_null(strstr(res[i].message, "disk is full"));
		}
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"),
			 2 * JPKI_ISSUE_GROUP);
	opts.version = 99;
	assert_int_equal(
		jpki_ca_issue_batch_opts(res, f->ca, reqs, keys, 1, &opts),
		JPKI_ERR_INVALID);
}

/* A batch file: lines read, issued, each certificate written; with the
 * files lost (a crash before they were written), a rerun writes them
 * again from the store. */
static void test_batch_file_rerun_writes(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_ca_batch *b = NULL;
	char *csr_path, *out_dir, *text = NULL, serial[41];
	size_t len, textlen;
	unsigned char *der = fx_csr(f->key, &len);
	FILE *in;

	assert_true(asprintf(&csr_path, "%s/r.der", f->dir) > 0);
	assert_true(asprintf(&out_dir, "%s/out", f->dir) > 0);
	assert_int_equal(mkdir(out_dir, 0700), 0);
	assert_int_equal(jpki_file_write_atomic(csr_path, der, len, 0600), 0);
	assert_true(asprintf(&text,
			     "{\"csr\":\"%s\",\"type\":\"auth\",\"person\":"
			     "\"L1\",\"municipality_code\":\"131016\","
			     "\"birth\":\"1990-01-01\"}\n"
			     "not JSON\n"
			     "{\"csr\":\"%s/missing\",\"type\":\"auth\","
			     "\"person\":\"L2\",\"municipality_code\":"
			     "\"131016\",\"birth\":\"1990-01-01\"}\n",
			     csr_path, f->dir) > 0);
	textlen = strlen(text);
	for (int run = 0; run < 2; run++) {
		char *pem_path;

		assert_non_null(in = fmemopen(text, textlen, "r"));
		assert_int_equal(jpki_ca_batch_read(&b, in, 2), 0);
		fclose(in);
		assert_int_equal(jpki_ca_batch_count(b), 3);
		assert_int_equal(jpki_ca_batch_issue(b, f->ca, out_dir, 2), 0);
		assert_int_equal(jpki_ca_batch_result(b, 0)->code, 0);
		assert_int_equal(jpki_ca_batch_result(b, 0)->again, run);
		assert_int_equal(jpki_ca_batch_result(b, 1)->code,
				 JPKI_ERR_PARSE);
		assert_non_null(strstr(jpki_ca_batch_result(b, 1)->message,
				       "not JSON"));
		assert_int_not_equal(jpki_ca_batch_result(b, 2)->code, 0);
		assert_null(jpki_ca_batch_file(b, 1));
		assert_null(jpki_ca_batch_file(b, 2));
		if (run == 1)
			assert_string_equal(
				jpki_ca_batch_result(b, 0)->info->serial,
				serial);
		snprintf(serial, sizeof(serial), "%s",
			 jpki_ca_batch_result(b, 0)->info->serial);
		assert_true(asprintf(&pem_path, "%s/%s.pem", out_dir,
				     serial) > 0);
		assert_string_equal(jpki_ca_batch_file(b, 0), pem_path);
		assert_int_equal(access(pem_path, R_OK), 0);
		/* the crash: the file is gone, the record is not */
		assert_int_equal(unlink(pem_path), 0);
		free(pem_path);
		jpki_ca_batch_free(b);
		b = NULL;
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), 1);
	free(text);
	free(der);
	free(csr_path);
	free(out_dir);
}

/* A line too long refuses the whole file, and nothing is returned. */
static void test_batch_file_line_too_long(void **state)
{
	struct jpki_ca_batch *b = (void *)1;
	size_t len = JPKI_CA_LINE_MAX + 10;
	char *text = malloc(len + 1);
	FILE *in;

	(void)state;
	memset(text, 'x', len);
	text[len] = '\0';
	assert_non_null(in = fmemopen(text, len, "r"));
	assert_int_equal(jpki_ca_batch_read(&b, in, 1), JPKI_ERR_TOO_LARGE);
	assert_null(b);
	assert_non_null(strstr(jpki_err_detail(), "longer than"));
	fclose(in);
	free(text);
}

/*
 * A person whose revoked certificate and its successor were issued in the
 * same second (the clock is frozen here) holds the successor: a third
 * request is refused. Their issued_at ties and the random serial broke the
 * tie, so before the valid one came first, about every second person got
 * a second valid certificate.
 */
static void test_holder_is_the_valid_one(void **state)
{
	struct ca_fixture *f = *state;

	for (int i = 0; i < 12; i++) {
		char person[16];
		struct jpki_issue_request req;
		struct jpki_cert_info *a, *b, *c = NULL;

		snprintf(person, sizeof(person), "T%d", i);
		req = fx_request(JPKI_CERT_AUTH, person);
		a = fx_issue(f, JPKI_CERT_AUTH, person);
		assert_int_equal(jpki_ca_revoke(f->ca, a->serial,
						JPKI_REASON_KEY_COMPROMISE),
				 0);
		b = fx_issue(f, JPKI_CERT_AUTH, person);
		assert_int_equal(jpki_ca_issue(&c, f->ca, &req, f->key),
				 JPKI_ERR_STATE);
		assert_null(c);
		assert_non_null(strstr(jpki_err_detail(), b->serial));
		jpki_cert_info_free(a);
		jpki_cert_info_free(b);
	}
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM ca_cert"), 24);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_request_line_refusals),
		T(test_rerun_same_key),
		T(test_rerun_other_key_and_twice),
		T(test_holder_is_the_valid_one),
		T(test_on_group),
		T(test_batch_file_rerun_writes),
		cmocka_unit_test(test_batch_file_line_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
