/*
 * The agency's check of a signed application: a CA, its repository and
 * OCSP responder served in-process on the port written into its
 * certificates, a software key in the card's place, and one test for each
 * reason to refuse beside the applications that pass.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* pem.h first: cms.h declares its PEM functions only after it */
#include <openssl/pem.h>
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/x509v3.h>

#include "ca/ca_fixture.h"
#include "jpki/client.h"
#include "jpki/http.h"
#include "jpki/verify.h"

#define DOC "申請書: 転入届 / moving-in notification"

struct app_fixture {
	struct ca_fixture f; /* dir, st, ca, key */
	struct jpki_http *srv;
	uint16_t port;
	struct jpki_verify_crl_cache *cache;
};

/* A port nobody listens on right now, for the CA's public URL. */
static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &n) != 0) {
		if (s >= 0)
			close(s);
		return 0;
	}
	close(s);
	return ntohs(a.sin_port);
}

/* Who signs the fixture CA's OCSP answers (setup_ca_signer changes it). */
static int fixture_ocsp_signer = JPKI_OCSP_SIGNER_DELEGATED;

/* A CA in a fresh directory whose URLs name 127.0.0.1:port. */
static int ca_at(struct ca_fixture *f, uint16_t port)
{
	struct jpki_ca_options open_opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	char *db = NULL, *keys = NULL, url[64];
	int r;

	f->dir = tu_tmpdir();
	if (f->dir == NULL || asprintf(&db, "%s/jpki.db", f->dir) < 0 ||
	    asprintf(&keys, "%s/keys", f->dir) < 0)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	opts.key_dir = keys;
	opts.public_url = url;
	r = jpki_store_open(&f->st, db);
	if (r == 0)
		r = jpki_ca_init(f->st, &opts);
	open_opts.ocsp_signer = fixture_ocsp_signer;
	if (r == 0)
		r = jpki_ca_open(&f->ca, f->st, &open_opts);
	free(db);
	free(keys);
	if (r != 0)
		fprintf(stderr, "CA: %s\n", jpki_err_detail());
	return r;
}

static void ca_done(struct ca_fixture *f)
{
	jpki_ca_free(f->ca);
	jpki_store_free(f->st);
	tu_rmtree(f->dir);
	free(f->dir);
}

static int start(struct app_fixture *af, unsigned roles)
{
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	char listen[32];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", af->port);
	opts.listen = listen;
	opts.roles = roles;
	opts.threads = 2;
	opts.ca = af->f.ca;
	if (jpki_http_start(&af->srv, &opts) != 0) {
		fprintf(stderr, "server: %s\n", jpki_err_detail());
		return -1;
	}
	return 0;
}

static int setup_roles(void **state, unsigned roles)
{
	struct app_fixture *af = calloc(1, sizeof(*af));

	fx_at("2026-01-10");
	if (af == NULL || (af->port = free_port()) == 0 ||
	    ca_at(&af->f, af->port) != 0 || start(af, roles) != 0 ||
	    jpki_verify_crl_cache_new(&af->cache) != 0)
		return -1;
	af->f.key = tu_rsa_key(2048);
	*state = af;
	return 0;
}

static int setup(void **state)
{
	fixture_ocsp_signer = JPKI_OCSP_SIGNER_DELEGATED;
	return setup_roles(state, JPKI_ROLE_REPOSITORY | JPKI_ROLE_OCSP);
}

/* OCSP answers signed by the CA key itself, with no certificate. */
static int setup_ca_signer(void **state)
{
	fixture_ocsp_signer = JPKI_OCSP_SIGNER_CA;
	return setup_roles(state, JPKI_ROLE_REPOSITORY | JPKI_ROLE_OCSP);
}

/* The OCSP responder is down: only the repository (CRLs) answers. */
static int setup_repository(void **state)
{
	fixture_ocsp_signer = JPKI_OCSP_SIGNER_DELEGATED;
	return setup_roles(state, JPKI_ROLE_REPOSITORY);
}

static int teardown(void **state)
{
	struct app_fixture *af = *state;

	jpki_http_stop(af->srv);
	jpki_verify_crl_cache_free(af->cache);
	ca_done(&af->f);
	EVP_PKEY_free(af->f.key);
	free(af);
	jpki_clock_reset();
	return 0;
}

/* ---- making applications ------------------------------------------------ */

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob der_of(CMS_ContentInfo *cms)
{
	struct blob b = {0};
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);

	assert_true(n > 0);
	b.p = malloc((size_t)n);
	memcpy(b.p, der, (size_t)n);
	b.n = (size_t)n;
	OPENSSL_free(der);
	return b;
}

/* A SignedData over `doc` by `cert` and `key`, as `jpki sign` makes it. */
static CMS_ContentInfo *signed_cms(X509 *cert, EVP_PKEY *key, const char *doc,
				   int detached)
{
	BIO *in = BIO_new_mem_buf(doc, (int)strlen(doc));
	CMS_ContentInfo *cms = NULL;

	assert_int_equal(
	    jpki_client_cms_sign(&cms, in, cert, key, NULL, detached), 0);
	BIO_free(in);
	return cms;
}

static struct blob sign_doc(X509 *cert, EVP_PKEY *key, const char *doc,
			    int detached)
{
	CMS_ContentInfo *cms = signed_cms(cert, key, doc, detached);
	struct blob b = der_of(cms);

	CMS_ContentInfo_free(cms);
	return b;
}

/* A signing (or other) certificate of this CA for the fixture's key. */
static X509 *issue(struct ca_fixture *f, enum jpki_cert_type type,
		   const char *person, char serial[41])
{
	struct jpki_cert_info *info = fx_issue(f, type, person);
	X509 *x = fx_x509(info);

	assert_non_null(x);
	if (serial != NULL)
		memcpy(serial, info->serial, sizeof(info->serial));
	jpki_cert_info_free(info);
	return x;
}

static struct jpki_verify_options options(struct app_fixture *af,
					  X509 *const *anchors)
{
	struct jpki_verify_options o = JPKI_VERIFY_OPTIONS_INIT;

	o.anchors = anchors;
	o.n_anchors = 1;
	o.crl_cache = af->cache;
	o.timeout_ms = 3000;
	return o;
}

static int has_reason(const struct jpki_verify_report *rep,
		      enum jpki_app_refusal why)
{
	for (size_t i = 0; i < rep->n_reasons; i++)
		if (rep->reasons[i].why == why)
			return 1;
	return 0;
}

/* Refused for `why` alone. */
static void assert_only(const struct jpki_verify_report *rep,
			enum jpki_app_refusal why)
{
	if (rep->n_reasons != 1 || rep->reasons[0].why != why)
		for (size_t i = 0; i < rep->n_reasons; i++)
			fprintf(stderr, "reason %s: %s\n",
				jpki_app_refusal_name(rep->reasons[i].why),
				rep->reasons[i].text);
	assert_false(rep->accepted);
	assert_int_equal(rep->n_reasons, 1);
	assert_int_equal(rep->reasons[0].why, why);
	assert_true(rep->reasons[0].text[0] != '\0');
}

static void assert_accepted(const struct jpki_verify_report *rep)
{
	for (size_t i = 0; i < rep->n_reasons; i++)
		fprintf(stderr, "unexpected %s: %s\n",
			jpki_app_refusal_name(rep->reasons[i].why),
			rep->reasons[i].text);
	assert_true(rep->accepted);
	assert_int_equal(rep->n_reasons, 0);
}

/* ---- tests ----------------------------------------------------------------
 */

static void test_accepted(void **state)
{
	struct app_fixture *af = *state;
	char serial[41];
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", serial);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);
	char *json = NULL;

	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_string_equal(rep.serial, serial);
	assert_string_equal(rep.revocation_source, "ocsp");
	assert_int_equal(rep.revocation_reason, -1);
	assert_int_equal(rep.enveloped, 0);
	assert_true(rep.have_facts);
	assert_string_equal(rep.facts.name, "山田　太郎");
	assert_int_equal(rep.facts.birth.year, 1980);
	assert_true(rep.have_signing_time);
	assert_int_equal(rep.content_len, strlen(DOC));
	assert_memory_equal(rep.content, DOC, strlen(DOC));
	assert_int_equal(jpki_verify_report_json(&json, &rep), 0);
	assert_non_null(strstr(json, "\"accepted\": true"));
	assert_non_null(strstr(json, "\"revocation\": \"ocsp\""));
	assert_non_null(strstr(json, "\"reasons\": []"));
	free(json);
	jpki_verify_report_clear(&rep);
	assert_null(rep.content);

	/* the same as PEM */
	{
		CMS_ContentInfo *cms = signed_cms(cert, af->f.key, DOC, 0);
		BIO *mem = BIO_new(BIO_s_mem());
		BUF_MEM *bm;

		assert_int_equal(PEM_write_bio_CMS(mem, cms), 1);
		BIO_get_mem_ptr(mem, &bm);
		assert_int_equal(
		    jpki_verify_application(&rep, &o, (const uint8_t *)bm->data,
					    bm->length),
		    0);
		assert_accepted(&rep);
		jpki_verify_report_clear(&rep);
		BIO_free(mem);
		CMS_ContentInfo_free(cms);
	}
	free(b.p);
	X509_free(cert);
}

static void test_form_variants_match(void **state)
{
	static const char *const names[] = {
	    "山田　太郎",    "山田 太郎",  "山田太郎",
	    " 山田　 太郎 ", "山田\t太郎",
	};
	static const char *const addresses[] = {
	    "東京都千代田区千代田１番１号",
	    "東京都千代田区千代田1番1号",
	    "東京都 千代田区　千代田 1 番 1 号",
	};
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		o.form_name = names[i];
		o.form_address = addresses[i % 3];
		assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n),
				 0);
		assert_accepted(&rep);
		jpki_verify_report_clear(&rep);
	}

	/* another given name; then another house number */
	o.form_name = "山田　次郎";
	o.form_address = addresses[0];
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_NAME_MISMATCH);
	jpki_verify_report_clear(&rep);
	o.form_name = names[1];
	o.form_address = "東京都千代田区千代田2番1号";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_ADDRESS_MISMATCH);
	jpki_verify_report_clear(&rep);
	/* both, collected */
	o.form_name = "ヤマダ　タロウ";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_int_equal(rep.n_reasons, 2);
	assert_true(has_reason(&rep, JPKI_APP_NAME_MISMATCH));
	assert_true(has_reason(&rep, JPKI_APP_ADDRESS_MISMATCH));
	jpki_verify_report_clear(&rep);

	/* the certificate's name and address, its birth date and sex in
	 * other forms: accepted */
	o.form_name = names[0];
	o.form_address = addresses[0];
	o.form_birth = "昭和55年6月1日";
	o.form_sex = "男";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);
	/* the same, another birth date: refused with that reason */
	o.form_birth = "1980-06-02";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_BIRTH_MISMATCH);
	assert_string_equal(rep.reasons[0].text,
			    "date of birth differs: form 1980-06-02, "
			    "certificate 1980-06-01");
	jpki_verify_report_clear(&rep);
	/* another sex */
	o.form_birth = "1980/6/1";
	o.form_sex = "female";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_SEX_MISMATCH);
	jpki_verify_report_clear(&rep);
	/* a birth date that is no date: refused, never guessed */
	o.form_sex = "1";
	o.form_birth = "1980-06-31";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_FORM_INVALID);
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

/* Flips one byte of DIR/name. */
static void flip(const char *dir, const char *name, size_t at)
{
	char path[1100];
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "r+b"));
	assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
	c = fgetc(f);
	assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
	fputc(c ^ 0x01, f);
	fclose(f);
}

static void copy_dir(const char *from, const char *to)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static void test_receipt_evidence(void **state)
{
	struct app_fixture *af = *state;
	char serial[41], dir[512], bad[512];
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", serial);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_form form = {"山田 太郎", "昭和55年6月1日", "男",
					NULL};
	struct jpki_verify_report rep;
	struct jpki_verify_receipt *rc = NULL;
	struct blob b = sign_doc(cert, af->f.key, DOC, 1);
	time_t received;

	snprintf(dir, sizeof(dir), "%s/receipt", af->f.dir);
	o.content = (const uint8_t *)DOC;
	o.content_len = strlen(DOC);
	o.form_name = form.name;
	o.form_birth = form.birth;
	o.form_sex = form.sex;

	/* without keep_evidence there is nothing to keep */
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_null(rep.ocsp_response);
	assert_int_equal(jpki_verify_receipt_keep(dir, &rep, &form),
			 JPKI_ERR_INVALID);
	jpki_verify_report_clear(&rep);

	o.keep_evidence = 1;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_non_null(rep.ocsp_response);
	assert_non_null(rep.signed_data);
	assert_true(rep.status_time != 0);
	received = rep.checked_at;
	assert_int_equal(jpki_verify_receipt_keep(dir, &rep, &form), 0);
	/* a directory that exists is never written over */
	assert_int_equal(jpki_verify_receipt_keep(dir, &rep, &form),
			 JPKI_ERR_EXISTS);
	jpki_verify_report_clear(&rep);

	/* revoked later (a move): the check now refuses ... */
	assert_int_equal(
	    jpki_ca_revoke(af->f.ca, serial, JPKI_REASON_AFFILIATION_CHANGED),
	    0);
	o.keep_evidence = 0;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_REVOKED);
	jpki_verify_report_clear(&rep);

	/* ... and as of receipt, from the kept evidence, offline, with the
	 * responder gone, it was accepted */
	jpki_http_stop(af->srv);
	af->srv = NULL;
	assert_int_equal(jpki_verify_receipt_load(&rc, dir), 0);
	assert_int_equal(rc->received, received);
	assert_string_equal(rc->source, "ocsp");
	assert_string_equal(rc->sex, "男");
	assert_null(rc->address);
	assert_int_equal(jpki_verify_as_of_receipt(&rep, &o, rc), 0);
	assert_accepted(&rep);
	assert_string_equal(rep.revocation_source, "ocsp");
	assert_true(rep.status_time <= received + 300);
	jpki_verify_report_clear(&rep);

	/* the same evidence is no good for another time: two days later
	 * the response is out of date */
	rc->received = received + 2 * 86400;
	assert_int_equal(jpki_verify_as_of_receipt(&rep, &o, rc), 0);
	assert_only(&rep, JPKI_APP_STATUS_UNKNOWN);
	assert_non_null(strstr(rep.reasons[0].text, "kept OCSP response"));
	jpki_verify_report_clear(&rep);
	jpki_verify_receipt_free(rc);
	rc = NULL;

	/* a kept form that differs is refused with the fact named */
	{
		struct jpki_verify_receipt *r2 = NULL;

		assert_int_equal(jpki_verify_receipt_load(&r2, dir), 0);
		free(r2->birth);
		r2->birth = strdup("1980-06-02");
		assert_int_equal(jpki_verify_as_of_receipt(&rep, &o, r2), 0);
		assert_only(&rep, JPKI_APP_BIRTH_MISMATCH);
		jpki_verify_report_clear(&rep);
		jpki_verify_receipt_free(r2);
	}

	/* one byte changed in any kept file: refused by its name */
	{
		static const char *const files[] = {
		    "ocsp.der", "application.p7s", "document", "report.json",
		    "receipt.json",
		};

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(bad, sizeof(bad), "%s/bad%zu", af->f.dir, i);
			copy_dir(dir, bad);
			flip(bad, files[i], 7);
			assert_int_equal(jpki_verify_receipt_load(&rc, bad),
					 JPKI_ERR_SIGNATURE);
			assert_null(rc);
			assert_non_null(strstr(jpki_err_detail(), files[i]));
		}
		/* a file gone */
		snprintf(bad, sizeof(bad), "%s/bad0/ocsp.der", af->f.dir);
		assert_int_equal(unlink(bad), 0);
		snprintf(bad, sizeof(bad), "%s/bad0", af->f.dir);
		assert_true(jpki_verify_receipt_load(&rc, bad) != 0);
		assert_non_null(strstr(jpki_err_detail(), "ocsp.der"));
	}
	free(b.p);
	X509_free(cert);
}

static void test_receipt_parsers(void **state)
{
	struct jpki_verify_receipt *rc = NULL;
	char sums[5][65];
	static const char good[] =
	    "{\"version\": 1, \"received\": \"2026-01-10T00:00:00Z\", "
	    "\"form\": {\"name\": \"A\"}, \"revocation\": {\"source\": "
	    "\"crl\", \"status_time\": \"2026-01-09T23:00:00Z\", "
	    "\"crl_number\": \"12\", \"crl_sha256\": \""
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "\"}}";
	static const char *const bad[] = {
	    "[]",
	    "{\"version\": 2}",
	    "{\"version\": 1, \"received\": \"yesterday\"}",
	    "{\"version\": 1, \"received\": \"2026-01-10T00:00:00Z\", "
	    "\"form\": {}, \"revocation\": {\"source\": \"guess\"}}",
	    "{\"version\": 1, \"received\": \"2026-01-10T00:00:00Z\", "
	    "\"form\": {\"name\": 5}, \"revocation\": {}}",
	    "{\"version\": 1, \"received\": \"2026-01-10T00:00:00Z\", "
	    "\"form\": {}, \"revocation\": {\"source\": \"crl\", "
	    "\"status_time\": \"2026-01-09T23:00:00Z\", \"crl_number\": "
	    "\"x\", \"crl_sha256\": \"00\"}}",
	};
	static const char sum_text[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "  receipt.json\n"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "  application.p7s\n"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "  document\n"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "  report.json\n";

	(void)state;
	assert_int_equal(jpki_verify_receipt_parse(&rc, good, strlen(good)), 0);
	assert_string_equal(rc->crl_number, "12");
	assert_string_equal(rc->name, "A");
	assert_null(rc->birth);
	jpki_verify_receipt_free(rc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    jpki_verify_receipt_parse(&rc, bad[i], strlen(bad[i])),
		    JPKI_ERR_PARSE);
		assert_null(rc);
	}
	assert_int_equal(
	    jpki_verify_receipt_sums(sums, sum_text, strlen(sum_text)), 0);
	assert_string_equal(sums[4], "");
	/* a line short of its newline, a name twice, a file missing */
	assert_int_equal(
	    jpki_verify_receipt_sums(sums, sum_text, strlen(sum_text) - 1),
	    JPKI_ERR_PARSE);
	assert_int_equal(jpki_verify_receipt_sums(sums, sum_text, 81),
			 JPKI_ERR_PARSE);
	{
		char twice[sizeof(sum_text) + 90];

		snprintf(twice, sizeof(twice), "%s%.81s", sum_text, sum_text);
		assert_int_equal(
		    jpki_verify_receipt_sums(sums, twice, strlen(twice)),
		    JPKI_ERR_PARSE);
	}
}

static void test_text_match(void **state)
{
	(void)state;
	assert_true(jpki_verify_text_match("ＡＢＣ　１２３", "ABC 123"));
	assert_true(jpki_verify_text_match("A B C", "ABC"));
	assert_true(jpki_verify_text_match("", " 　"));
	/* strict on everything else: case, kana, kanji variants */
	assert_false(jpki_verify_text_match("abc", "ABC"));
	/* half-width katakana is the same letter (NFKC) */
	assert_true(jpki_verify_text_match("ｱ", "ア"));
	assert_false(jpki_verify_text_match("髙橋", "高橋"));
	assert_false(jpki_verify_text_match("山田", "山田太郎"));
	assert_false(jpki_verify_text_match("山田太郎", "山田"));
	/* not UTF-8, or an overlong space */
	assert_false(jpki_verify_text_match("\xff", "\xff"));
	assert_false(jpki_verify_text_match("A\xc0\xa0", "A"));
	assert_false(jpki_verify_text_match(NULL, "A"));
}

static void test_tampered(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);
	uint8_t *at = memmem(b.p, b.n, "moving-in", 9);

	assert_non_null(at);
	at[0] = 'M';
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_BAD_SIGNATURE);
	assert_null(rep.content);
	/* the certificate was still checked, and is good */
	assert_string_equal(rep.revocation_source, "ocsp");
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

static void test_foreign_ca(void **state)
{
	struct app_fixture *af = *state;
	struct ca_fixture other = {0};
	X509 *ours = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN), *theirs;
	X509 *both[2];
	X509 *cert, *good;
	struct jpki_verify_options o = options(af, &ours);
	struct jpki_verify_report rep;
	struct blob b, g;

	/* the same DN (every generation has it), another key */
	assert_int_equal(ca_at(&other, af->port), 0);
	other.key = af->f.key; /* borrowed: ca_done() does not free it */
	theirs = jpki_ca_cert(other.ca, JPKI_CERT_SIGN);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ours),
				       X509_get_subject_name(theirs)),
			 0);
	cert = issue(&other, JPKI_CERT_SIGN, "P1", NULL);
	b = sign_doc(cert, af->f.key, DOC, 0);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	assert_string_equal(rep.revocation_source, "");
	jpki_verify_report_clear(&rep);

	/* two generations trusted: each certificate finds its own */
	good = issue(&af->f, JPKI_CERT_SIGN, "P2", NULL);
	g = sign_doc(good, af->f.key, DOC, 0);
	both[0] = theirs;
	both[1] = ours;
	o.anchors = both;
	o.n_anchors = 2;
	assert_int_equal(jpki_verify_application(&rep, &o, g.p, g.n), 0);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);

	/* no anchors at all */
	o.n_anchors = 0;
	assert_int_equal(jpki_verify_application(&rep, &o, g.p, g.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);

	free(b.p);
	free(g.p);
	X509_free(cert);
	X509_free(good);
	ca_done(&other);
}

static int good_status(void *arg, X509 *cert, X509 *issuer,
		       const char *serial, enum jpki_verify_status *status,
		       int *reason)
{
	(void)arg;
	(void)cert;
	(void)issuer;
	(void)serial;
	*status = JPKI_VERIFY_GOOD;
	*reason = -1;
	return 0;
}

/* The verifier keeps a trust store per CA certificate (src/verify/certs.c),
 * shared by later checks: a store kept for one CA never accepts another's
 * certificate, and a CA rolled over is a new certificate with a store of
 * its own, picked up as soon as the caller names it. */
static void test_anchor_stores(void **state)
{
	static const struct jpki_actor officer = {
	    "officer", JPKI_ROLE_CA_OFFICER, "", ""};
	struct app_fixture *af = *state;
	struct ca_fixture other = {0};
	X509 *ours = X509_dup(jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN));
	X509 *theirs, *mine, *foreign, *rolled, *gens[8];
	struct jpki_verify_options o = options(af, &ours);
	struct jpki_verify_report rep;
	struct blob m, fo, ro;
	size_t n;

	assert_non_null(ours);
	o.status = good_status;
	assert_int_equal(ca_at(&other, af->port), 0);
	other.key = af->f.key; /* borrowed: ca_done() does not free it */
	theirs = jpki_ca_cert(other.ca, JPKI_CERT_SIGN);
	mine = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	foreign = issue(&other, JPKI_CERT_SIGN, "P2", NULL);
	m = sign_doc(mine, af->f.key, DOC, 0);
	fo = sign_doc(foreign, af->f.key, DOC, 0);

	/* each CA's store made and kept, each accepting its own */
	for (int round = 0; round < 2; round++) {
		o.anchors = &ours;
		assert_int_equal(jpki_verify_application(&rep, &o, m.p, m.n),
				 0);
		assert_accepted(&rep);
		jpki_verify_report_clear(&rep);
		o.anchors = &theirs;
		assert_int_equal(
		    jpki_verify_application(&rep, &o, fo.p, fo.n), 0);
		assert_accepted(&rep);
		jpki_verify_report_clear(&rep);
	}
	/* and never the other's, though both are kept */
	o.anchors = &ours;
	assert_int_equal(jpki_verify_application(&rep, &o, fo.p, fo.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);
	o.anchors = &theirs;
	assert_int_equal(jpki_verify_application(&rep, &o, m.p, m.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);

	/* a rollover: the new generation's certificate chains only once
	 * the new CA certificate is an anchor */
	assert_int_equal(jpki_audit_migrate(af->f.st), 0);
	assert_int_equal(
	    jpki_ca_rollover(af->f.ca, &officer, JPKI_CERT_SIGN, NULL), 0);
	rolled = issue(&af->f, JPKI_CERT_SIGN, "P3", NULL);
	ro = sign_doc(rolled, af->f.key, DOC, 0);
	o.anchors = &ours;
	assert_int_equal(jpki_verify_application(&rep, &o, ro.p, ro.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);
	n = jpki_ca_certs(gens, 8, af->f.ca, JPKI_CERT_SIGN);
	assert_int_equal(n, 2);
	o.anchors = gens;
	o.n_anchors = n;
	assert_int_equal(jpki_verify_application(&rep, &o, ro.p, ro.n), 0);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);
	assert_int_equal(jpki_verify_application(&rep, &o, m.p, m.n), 0);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);
	/* the new generation alone: the old one's certificate is refused */
	o.n_anchors = 1;
	assert_int_equal(X509_cmp(gens[0], ours) != 0, 1);
	assert_int_equal(jpki_verify_application(&rep, &o, m.p, m.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);

	free(m.p);
	free(fo.p);
	free(ro.p);
	X509_free(mine);
	X509_free(foreign);
	X509_free(rolled);
	X509_free(ours);
	ca_done(&other);
}

/* `from` with its key's rsaEncryption parameters left out (DER has NULL
 * there) and signed again by the fixture's signing CA: OpenSSL reads it,
 * but encoding the key again does not give its bytes back. */
static X509 *absent_params(struct app_fixture *af, X509 *from, int spoil)
{
	static const unsigned char alg[] = {
	    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	    0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
	unsigned char *der = NULL, *out, *o, sig[512];
	size_t siglen = sizeof(sig), at = 0;
	int n = i2d_X509(from, &der), tbs_len, tbs_end;
	const unsigned char *p;
	char path[512];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *ca_key;
	FILE *f;
	X509 *x;

	assert_true(n > 8 && der[0] == 0x30 && der[1] == 0x82 &&
		    der[4] == 0x30 && der[5] == 0x82);
	while (at + sizeof(alg) < (size_t)n &&
	       memcmp(der + at, alg, sizeof(alg)) != 0)
		at++;
	assert_true(at >= 4 && der[at - 4] == 0x30 && der[at - 3] == 0x82);
	/* the algorithm without its NULL, two bytes off the key's and the
	 * TBSCertificate's lengths */
	der[at + 1] = 0x0b;
	memmove(der + at + 13, der + at + 15, (size_t)n - at - 15);
	n -= 2;
	der[at - 1] -= 2;
	tbs_len = ((der[6] << 8) | der[7]) - 2;
	der[6] = (unsigned char)(tbs_len >> 8);
	der[7] = (unsigned char)tbs_len;
	tbs_end = 8 + tbs_len;

	snprintf(path, sizeof(path), "%s/keys/sign-ca.key", af->f.dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
					    ca_key),
			 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, der + 4,
					(size_t)tbs_end - 4),
			 1);
	assert_int_equal(siglen, 256);
	sig[10] ^= (unsigned char)spoil;

	/* TBSCertificate, the signature algorithm (15 bytes) as it was,
	 * the signature as a BIT STRING */
	assert_non_null(out = malloc((size_t)tbs_end + 15 + 5 + 256));
	o = out + 4;
	memcpy(o, der + 4, (size_t)tbs_end - 4);
	o += tbs_end - 4;
	memcpy(o, der + tbs_end, 15);
	o += 15;
	memcpy(o, "\x03\x82\x01\x01\x00", 5);
	memcpy(o + 5, sig, 256);
	o += 5 + 256;
	out[0] = 0x30;
	out[1] = 0x82;
	out[2] = (unsigned char)((o - out - 4) >> 8);
	out[3] = (unsigned char)(o - out - 4);
	p = out;
	x = d2i_X509(NULL, &p, o - out);
	assert_non_null(x);
	assert_non_null(X509_get0_pubkey(x));
	free(out);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ca_key);
	return x;
}

/* A signer's certificate whose key does not encode back to its bytes: the
 * key decoded apart and set into it (src/verify/certs.c), its signature is
 * still checked over the bytes the CA signed: accepted, and refused once
 * they are not the bytes signed. */
static void test_signer_key_reencoded(void **state)
{
	struct app_fixture *af = *state;
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *odd = absent_params(af, cert, 0), *bad = absent_params(af, cert, 1);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(odd, af->f.key, DOC, 0);
	struct blob v = sign_doc(bad, af->f.key, DOC, 0);

	o.status = good_status;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);
	assert_int_equal(jpki_verify_application(&rep, &o, v.p, v.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);
	free(b.p);
	free(v.p);
	X509_free(cert);
	X509_free(odd);
	X509_free(bad);
}

/* ---- the signer's signed attributes, as CMS_verify checks them --------- */

/* The signed attributes' DER as a signer signs them: a DER SET OF, sorted
 * as they will be sent (RFC 5652 5.4). */
typedef STACK_OF(X509_ATTRIBUTE) TEST_ATTRS;

ASN1_ITEM_TEMPLATE(TEST_ATTRS) = ASN1_EX_TEMPLATE_TYPE(
    ASN1_TFLG_SET_OF, 0, TestAttributes,
    X509_ATTRIBUTE) static_ASN1_ITEM_TEMPLATE_END(TEST_ATTRS)

/* Signs `si`'s signed attributes again with `key`, as they stand now:
 * whatever was changed in them, the signature holds. */
static void resign_attrs(CMS_SignerInfo *si, EVP_PKEY *key)
{
	TEST_ATTRS *attrs = sk_X509_ATTRIBUTE_new_null();
	unsigned char *der = NULL, sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int n;

	for (int i = 0; i < CMS_signed_get_attr_count(si); i++)
		sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i));
	n = ASN1_item_i2d((ASN1_VALUE *)attrs, &der,
			  ASN1_ITEM_rptr(TEST_ATTRS));
	assert_true(n > 0);
	assert_int_equal(
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, der, (size_t)n), 1);
	assert_int_equal(ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig,
					 (int)siglen),
			 1);
	OPENSSL_free(der);
	sk_X509_ATTRIBUTE_free(attrs);
	EVP_MD_CTX_free(md);
}

static CMS_SignerInfo *only_signer(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

	assert_int_equal(sk_CMS_SignerInfo_num(sis), 1);
	return sk_CMS_SignerInfo_value(sis, 0);
}

static void verify_cms(struct jpki_verify_report *rep,
		       const struct jpki_verify_options *o,
		       CMS_ContentInfo *cms)
{
	struct blob b = der_of(cms);

	assert_int_equal(jpki_verify_application(rep, o, b.p, b.n), 0);
	free(b.p);
}

/* `cms` is refused for its signature alone, and freed. */
static void assert_bad_signature(const struct jpki_verify_options *o,
				 CMS_ContentInfo *cms)
{
	struct jpki_verify_report rep;

	verify_cms(&rep, o, cms);
	assert_only(&rep, JPKI_APP_BAD_SIGNATURE);
	jpki_verify_report_clear(&rep);
	CMS_ContentInfo_free(cms);
}

/* Removes the one signed attribute `nid` of `si`, which must be there. */
static void drop_signed_attr(CMS_SignerInfo *si, int nid)
{
	int at = CMS_signed_get_attr_by_NID(si, nid, -1);

	assert_true(at >= 0);
	X509_ATTRIBUTE_free(CMS_signed_delete_attr(si, at));
}

/*
 * The signed attributes are covered by the signature (a signing time
 * changed after signing is refused), and the rules OpenSSL's CMS_verify
 * keeps for them are kept (RFC 5652 11): a content type and a message
 * digest present, once each, with one value; a signing time at most once;
 * a countersignature never signed. Each refused application below carries
 * a signature that holds over its attributes as they are.
 */
static void test_signed_attributes(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	ASN1_TIME *when;

	o.status = good_status;

	/* signed again as it is: accepted (the helper itself is right) */
	cms = signed_cms(cert, af->f.key, DOC, 0);
	resign_attrs(only_signer(cms), af->f.key);
	verify_cms(&rep, &o, cms);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);
	CMS_ContentInfo_free(cms);

	/* the signing time moved a day after signing, not signed again */
	cms = signed_cms(cert, af->f.key, DOC, 0);
	si = only_signer(cms);
	drop_signed_attr(si, NID_pkcs9_signingTime);
	when = ASN1_TIME_set(NULL, jpki_clock_now() + 86400);
	assert_int_equal(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
						     when->type, when, -1),
			 1);
	verify_cms(&rep, &o, cms);
	assert_only(&rep, JPKI_APP_BAD_SIGNATURE);
	jpki_verify_report_clear(&rep);
	/* the same, signed again: accepted */
	resign_attrs(si, af->f.key);
	verify_cms(&rep, &o, cms);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);

	/* a second signing time, signed */
	assert_int_equal(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
						     when->type, when, -1),
			 1);
	resign_attrs(si, af->f.key);
	ASN1_TIME_free(when);
	assert_bad_signature(&o, cms);

	/* no content type, signed */
	cms = signed_cms(cert, af->f.key, DOC, 0);
	si = only_signer(cms);
	drop_signed_attr(si, NID_pkcs9_contentType);
	resign_attrs(si, af->f.key);
	assert_bad_signature(&o, cms);

	/* a message digest of another document, signed: the content no
	 * longer matches it */
	cms = signed_cms(cert, af->f.key, DOC, 0);
	si = only_signer(cms);
	drop_signed_attr(si, NID_pkcs9_messageDigest);
	{
		unsigned char md[32];

		SHA256((const unsigned char *)"another", 7, md);
		assert_int_equal(
		    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
						V_ASN1_OCTET_STRING, md, 32),
		    1);
	}
	resign_attrs(si, af->f.key);
	assert_bad_signature(&o, cms);

	/* a countersignature among the signed attributes, signed */
	cms = signed_cms(cert, af->f.key, DOC, 0);
	si = only_signer(cms);
	assert_int_equal(
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_countersignature,
					V_ASN1_OCTET_STRING, "x", 1),
	    1);
	resign_attrs(si, af->f.key);
	assert_bad_signature(&o, cms);
	X509_free(cert);
}

/* A signer whose form is not the usual one (SHA-384 here) is checked by
 * CMS_verify as before: accepted, and refused once the content changed. */
static void test_other_digest(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
	BIO *in = BIO_new_mem_buf(DOC, (int)strlen(DOC));
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	struct blob b;
	uint8_t *at;

	o.status = good_status;
	assert_non_null(cms);
	assert_non_null(
	    CMS_add1_signer(cms, cert, af->f.key, EVP_sha384(), flags));
	assert_int_equal(CMS_final(cms, in, NULL, flags), 1);
	b = der_of(cms);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_int_equal(rep.content_len, strlen(DOC));
	jpki_verify_report_clear(&rep);
	assert_non_null(at = memmem(b.p, b.n, "moving-in", 9));
	at[0] = 'M';
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_BAD_SIGNATURE);
	jpki_verify_report_clear(&rep);
	free(b.p);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	X509_free(cert);
}

/* `from` with its keyUsage replaced by `usage` (a v3 value such as
 * "critical,digitalSignature"), signed again by the fixture's signing CA. */
static X509 *with_key_usage(struct app_fixture *af, X509 *from,
			    const char *usage)
{
	X509 *x = X509_dup(from);
	X509_EXTENSION *ext;
	char path[512];
	EVP_PKEY *ca_key;
	FILE *f;
	int at;

	assert_non_null(x);
	at = X509_get_ext_by_NID(x, NID_key_usage, -1);
	assert_true(at >= 0);
	X509_EXTENSION_free(X509_delete_ext(x, at));
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, usage);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, at), 1);
	X509_EXTENSION_free(ext);
	snprintf(path, sizeof(path), "%s/keys/sign-ca.key", af->f.dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	EVP_PKEY_free(ca_key);
	return x;
}

/* A certificate of the trusted CA whose key usage lacks nonRepudiation
 * cannot sign an application; the same certificate with it can. */
static void test_key_usage(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	X509 *nr = with_key_usage(af, cert, "critical,nonRepudiation");
	X509 *ds = with_key_usage(af, cert, "critical,digitalSignature");
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(nr, af->f.key, DOC, 0);

	o.status = good_status;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	jpki_verify_report_clear(&rep);
	free(b.p);
	b = sign_doc(ds, af->f.key, DOC, 0);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_NOT_SIGN_CERTIFICATE);
	assert_non_null(strstr(rep.reasons[0].text, "nonRepudiation"));
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(nr);
	X509_free(ds);
	X509_free(cert);
}

static void test_revoked_ocsp(void **state)
{
	struct app_fixture *af = *state;
	char serial[41];
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", serial);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);
	char *json = NULL;

	assert_int_equal(
	    jpki_ca_revoke(af->f.ca, serial, JPKI_REASON_KEY_COMPROMISE), 0);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_REVOKED);
	assert_string_equal(rep.revocation_source, "ocsp");
	assert_int_equal(rep.revocation_reason, 1);
	assert_non_null(strstr(rep.reasons[0].text, "keyCompromise"));
	assert_int_equal(jpki_verify_report_json(&json, &rep), 0);
	assert_non_null(strstr(json, "\"code\": \"revoked\""));
	free(json);
	jpki_verify_report_clear(&rep);

	/* a wrong name and revoked: both said */
	o.form_name = "山田　花子";
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_int_equal(rep.n_reasons, 2);
	assert_true(has_reason(&rep, JPKI_APP_REVOKED));
	assert_true(has_reason(&rep, JPKI_APP_NAME_MISMATCH));
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

static void test_crl_when_ocsp_is_down(void **state)
{
	struct app_fixture *af = *state;
	char serial[41];
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", serial);
	X509 *good = issue(&af->f, JPKI_CERT_SIGN, "P2", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);
	struct blob g = sign_doc(good, af->f.key, DOC, 0);

	assert_int_equal(
	    jpki_ca_revoke(af->f.ca, serial, JPKI_REASON_CESSATION), 0);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_REVOKED);
	assert_string_equal(rep.revocation_source, "crl");
	assert_int_equal(rep.revocation_reason, 5);
	jpki_verify_report_clear(&rep);
	/* the municipality's CRL is kept */
	assert_int_equal(jpki_verify_crl_cache_count(af->cache), 1);

	/* with the server gone, the cached CRL still answers ... */
	jpki_http_stop(af->srv);
	af->srv = NULL;
	assert_int_equal(jpki_verify_application(&rep, &o, g.p, g.n), 0);
	assert_accepted(&rep);
	assert_string_equal(rep.revocation_source, "crl");
	jpki_verify_report_clear(&rep);

	/* ... until its nextUpdate (a day) */
	fx_at("2026-01-12");
	assert_int_equal(jpki_verify_application(&rep, &o, g.p, g.n), 0);
	assert_only(&rep, JPKI_APP_STATUS_UNKNOWN);
	assert_non_null(strstr(rep.reasons[0].text, "revocation status"));
	jpki_verify_report_clear(&rep);

	free(b.p);
	free(g.p);
	X509_free(cert);
	X509_free(good);
}

static void test_status_unknown(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	jpki_http_stop(af->srv);
	af->srv = NULL;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_STATUS_UNKNOWN);
	assert_non_null(strstr(rep.reasons[0].text, "OCSP"));
	assert_non_null(strstr(rep.reasons[0].text, "CRL"));
	jpki_verify_report_clear(&rep);

	/* offline, without a callback: unknown too, and nothing fetched */
	o.offline = 1;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_STATUS_UNKNOWN);
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

static int held(void *arg, X509 *cert, X509 *issuer, const char *serial,
		enum jpki_verify_status *status, int *reason)
{
	(void)cert;
	(void)issuer;
	assert_string_equal(serial, (const char *)arg);
	*status = JPKI_VERIFY_REVOKED;
	*reason = 6;
	return 0;
}

static int failing(void *arg, X509 *cert, X509 *issuer, const char *serial,
		   enum jpki_verify_status *status, int *reason)
{
	return jpki_err_set(JPKI_ERR_STORE, "the records are not readable");
}

static void test_status_callback(void **state)
{
	struct app_fixture *af = *state;
	char serial[41];
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", serial);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	o.status = held;
	o.status_arg = serial;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_REVOKED);
	assert_non_null(strstr(rep.reasons[0].text, "suspended"));
	assert_string_equal(rep.revocation_source, "callback");
	jpki_verify_report_clear(&rep);

	o.status = failing;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n),
			 JPKI_ERR_STORE);
	assert_false(rep.accepted);
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

static void test_expired(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	/* the 5th birthday after issue was 2031-06-01 */
	fx_at("2031-06-02");
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_CERT_EXPIRED);
	assert_string_equal(rep.revocation_source, "");
	jpki_verify_report_clear(&rep);
	/* and before it was issued */
	fx_at("2025-12-01");
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_true(has_reason(&rep, JPKI_APP_CERT_NOT_YET_VALID));
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

static void test_auth_certificate(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_AUTH, "P1", NULL);
	X509 *anchors[2] = {jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN),
			    jpki_ca_cert(af->f.ca, JPKI_CERT_AUTH)};
	struct jpki_verify_options o = options(af, anchors);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	/* even with the authentication CA trusted as well */
	o.n_anchors = 2;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_NOT_SIGN_CERTIFICATE);
	assert_non_null(strstr(rep.reasons[0].text, "authentication"));
	jpki_verify_report_clear(&rep);
	/* the usual setting: the signing CA alone */
	o.n_anchors = 1;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_true(has_reason(&rep, JPKI_APP_NOT_SIGN_CERTIFICATE));
	assert_true(has_reason(&rep, JPKI_APP_UNTRUSTED));
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

/* A self-signed RSA certificate for an agency. */
static X509 *agency_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
				   (const unsigned char *)"agency", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, NULL);
	X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static void test_enveloped(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	EVP_PKEY *akey = tu_rsa_key_fresh(), *other = tu_rsa_key_fresh();
	X509 *acert = agency_cert(akey), *ocert = agency_cert(other);
	CMS_ContentInfo *sig = signed_cms(cert, af->f.key, DOC, 0), *env;
	struct blob b;

	assert_int_equal(jpki_client_cms_envelope(&env, sig, acert), 0);
	b = der_of(env);

	o.agency_key = akey;
	o.agency_cert = acert;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_true(rep.enveloped);
	assert_memory_equal(rep.content, DOC, strlen(DOC));
	jpki_verify_report_clear(&rep);

	/* another agency's key, with and without its certificate */
	o.agency_key = other;
	o.agency_cert = ocert;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_DECRYPT_FAILED);
	assert_null(rep.content);
	jpki_verify_report_clear(&rep);
	o.agency_cert = NULL;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_DECRYPT_FAILED);
	jpki_verify_report_clear(&rep);
	/* no key at all */
	o.agency_key = NULL;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_DECRYPT_FAILED);
	jpki_verify_report_clear(&rep);

	free(b.p);
	CMS_ContentInfo_free(sig);
	CMS_ContentInfo_free(env);
	X509_free(acert);
	X509_free(ocert);
	EVP_PKEY_free(akey);
	EVP_PKEY_free(other);
	X509_free(cert);
}

static void test_detached(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 1);
	static const char other[] = "申請書: 転出届";

	assert_null(memmem(b.p, b.n, "moving-in", 9));
	o.content = (const uint8_t *)DOC;
	o.content_len = strlen(DOC);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_int_equal(rep.content_len, strlen(DOC));
	jpki_verify_report_clear(&rep);

	o.content = NULL;
	o.content_len = 0;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_NO_CONTENT);
	jpki_verify_report_clear(&rep);

	o.content = (const uint8_t *)other;
	o.content_len = strlen(other);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_BAD_SIGNATURE);
	jpki_verify_report_clear(&rep);
	free(b.p);

	/* attached, and another document given beside it */
	b = sign_doc(cert, af->f.key, DOC, 0);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_BAD_SIGNATURE);
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

static void test_malformed(void **state)
{
	struct app_fixture *af = *state;
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor), bad = o;
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);
	uint8_t *big = calloc(1, JPKI_MAX_SIGNED_APP + 1);

	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n - 1), 0);
	assert_only(&rep, JPKI_APP_MALFORMED);
	jpki_verify_report_clear(&rep);
	assert_int_equal(
	    jpki_verify_application(&rep, &o, (const uint8_t *)"garbage", 7),
	    0);
	assert_only(&rep, JPKI_APP_MALFORMED);
	jpki_verify_report_clear(&rep);
	assert_int_equal(jpki_verify_application(&rep, &o, NULL, 0), 0);
	assert_only(&rep, JPKI_APP_MALFORMED);
	jpki_verify_report_clear(&rep);
	assert_int_equal(
	    jpki_verify_application(&rep, &o, big, JPKI_MAX_SIGNED_APP + 1), 0);
	assert_only(&rep, JPKI_APP_TOO_LARGE);
	jpki_verify_report_clear(&rep);

	bad.version = 99;
	assert_int_equal(jpki_verify_application(&rep, &bad, b.p, b.n),
			 JPKI_ERR_INVALID);
	assert_false(rep.accepted);
	jpki_verify_report_clear(&rep);
	assert_int_equal(jpki_verify_application(&rep, NULL, b.p, b.n),
			 JPKI_ERR_INVALID);
	jpki_verify_report_clear(&rep);
	free(big);
	free(b.p);
	X509_free(cert);
}

/* ---- the real profile ----------------------------------------------------
 */

static X509 *real_ca(const char *name)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/real_ca/%s.pem", JPKI_TEST_DATA, name);
	assert_non_null(f = fopen(path, "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/*
 * The fixture CA carries the real signing CA's name and extensions (its
 * own key: the real one is not ours), and the verifier accepts an
 * application signed under a certificate of the real end-entity profile it
 * issued, with both real generations beside it as anchors (they load and
 * are passed over: their key ids differ). With the real CAs alone it is
 * untrusted.
 */
static void test_real_profile(void **state)
{
	struct app_fixture *af = *state;
	X509 *r2015 = real_ca("sign_ca_2015"), *r2023 = real_ca("sign_ca_2023");
	X509 *fixture = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", NULL);
	X509 *all[] = {r2015, r2023, fixture};
	struct jpki_verify_options o = options(af, all);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(fixture),
				       X509_get_subject_name(r2023)),
			 0);
	assert_int_equal(X509_get_ext_count(fixture),
			 X509_get_ext_count(r2023));
	for (int i = 0; i < X509_get_ext_count(r2023); i++) {
		X509_EXTENSION *a = X509_get_ext(fixture, i),
			       *e = X509_get_ext(r2023, i);

		assert_int_equal(OBJ_cmp(X509_EXTENSION_get_object(a),
					 X509_EXTENSION_get_object(e)),
				 0);
		assert_int_equal(X509_EXTENSION_get_critical(a),
				 X509_EXTENSION_get_critical(e));
	}
	/* the end-entity certificate names the CA's alternative name */
	assert_int_equal(
	    ASN1_STRING_cmp(
		X509_EXTENSION_get_data(X509_get_ext(
		    cert, X509_get_ext_by_NID(cert, NID_issuer_alt_name, -1))),
		X509_EXTENSION_get_data(X509_get_ext(
		    fixture,
		    X509_get_ext_by_NID(fixture, NID_subject_alt_name, -1)))),
	    0);

	o.n_anchors = 3;
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_string_equal(rep.revocation_source, "ocsp");
	jpki_verify_report_clear(&rep);

	o.n_anchors = 2; /* the real CAs only */
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_UNTRUSTED);
	jpki_verify_report_clear(&rep);

	free(b.p);
	X509_free(cert);
	X509_free(r2015);
	X509_free(r2023);
}

/* OCSP answers signed by the CA key itself (no certificate in them) are
 * checked against the anchor and answer the status; revoked shows. */
static void test_ca_key_ocsp(void **state)
{
	struct app_fixture *af = *state;
	char serial[41];
	X509 *cert = issue(&af->f, JPKI_CERT_SIGN, "P1", serial);
	X509 *anchor = jpki_ca_cert(af->f.ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = options(af, &anchor);
	struct jpki_verify_report rep;
	struct blob b = sign_doc(cert, af->f.key, DOC, 0);

	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_accepted(&rep);
	assert_string_equal(rep.revocation_source, "ocsp");
	jpki_verify_report_clear(&rep);

	assert_int_equal(jpki_ca_revoke(af->f.ca, serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	assert_int_equal(jpki_verify_application(&rep, &o, b.p, b.n), 0);
	assert_only(&rep, JPKI_APP_REVOKED);
	assert_string_equal(rep.revocation_source, "ocsp");
	jpki_verify_report_clear(&rep);
	free(b.p);
	X509_free(cert);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_accepted),
	    T(test_form_variants_match),
	    cmocka_unit_test(test_text_match),
	    cmocka_unit_test_setup_teardown(test_receipt_evidence, setup,
					    teardown),
	    cmocka_unit_test(test_receipt_parsers),
	    T(test_tampered),
	    T(test_foreign_ca),
	    T(test_anchor_stores),
	    T(test_signer_key_reencoded),
	    T(test_signed_attributes),
	    T(test_other_digest),
	    T(test_key_usage),
	    T(test_revoked_ocsp),
	    cmocka_unit_test_setup_teardown(test_crl_when_ocsp_is_down,
					    setup_repository, teardown),
	    T(test_status_unknown),
	    T(test_status_callback),
	    T(test_expired),
	    T(test_auth_certificate),
	    T(test_enveloped),
	    T(test_detached),
	    T(test_malformed),
	    T(test_real_profile),
	    cmocka_unit_test_setup_teardown(test_ca_key_ocsp, setup_ca_signer,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
