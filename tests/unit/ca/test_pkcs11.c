/*
 * CA keys in a PKCS#11 token: a private SoftHSM2 token in a temporary
 * directory, `jpki ca init` with the PKCS#11 option, and everything the CA
 * signs checked against its certificates; the keys must stay in the token
 * (no key file on disk, private objects sensitive and not extractable).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <p11-kit/pkcs11.h>

#include "ca/ca_internal.h"
#include "ca/ca_pkcs11.h"
#include "ca_fixture.h"
#include "jpki/audit.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN "jpki test"
#define PIN "1234"

struct p11_fixture {
	char *dir;
	char *url;
	char *keys;
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *key;
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct p11_fixture *f;
	char *conf = NULL, *text = NULL, *tokens = NULL, *cmd = NULL;
	int r;

	if (access(MODULE, R_OK) != 0 ||
	    system("command -v softhsm2-util >/dev/null") != 0) {
		fprintf(stderr,
			"SKIP: no SoftHSM2 (%s and softhsm2-util); "
			"scripts/setup.sh installs softhsm2\n",
			MODULE);
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	fx_at("2026-01-10");
	f->dir = tu_tmpdir();
	/* SoftHSM2 reads its configuration when the module initializes:
	 * this test's tokens live in its own directory. */
	if (asprintf(&conf, "%s/softhsm2.conf", f->dir) < 0 ||
	    asprintf(&tokens, "%s/tokens", f->dir) < 0 ||
	    asprintf(&text,
		     "directories.tokendir = %s\nobjectstore.backend = file\n"
		     "log.level = ERROR\n",
		     tokens) < 0 ||
	    asprintf(&cmd, "softhsm2-util --init-token --free --label '" TOKEN
			   "' --pin " PIN " --so-pin 5678 >/dev/null") < 0 ||
	    asprintf(&f->keys, "%s/keys", f->dir) < 0)
		return -1;
	if (mkdir(tokens, 0700) != 0 || write_file(conf, text) != 0)
		return -1;
	setenv("SOFTHSM2_CONF", conf, 1);
	if (system(cmd) != 0) {
		fprintf(stderr, "softhsm2-util --init-token failed\n");
		return -1;
	}
	setenv("JPKI_PKCS11_PIN", PIN, 1);
	f->url = tu_store_url(f->dir);
	opts.key_dir = f->keys;
	opts.public_url = "http://127.0.0.1:8080";
	opts.pkcs11_module = MODULE;
	opts.pkcs11_token = TOKEN;
	r = f->url != NULL ? jpki_store_open(&f->st, f->url) : -1;
	if (r == 0)
		r = jpki_ca_init(f->st, &opts);
	if (r == 0)
		r = jpki_ca_open(&f->ca, f->st, NULL);
	free(conf);
	free(tokens);
	free(text);
	free(cmd);
	if (r != 0) {
		fprintf(stderr, "pkcs11 fixture: %s\n", jpki_err_detail());
		return -1;
	}
	f->key = tu_rsa_key(2048);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct p11_fixture *f = *state;

	if (f == NULL)
		return 0;
	jpki_ca_free(f->ca);
	jpki_store_free(f->st);
	tu_store_drop(f->url);
	EVP_PKEY_free(f->key);
	tu_rmtree(f->dir);
	free(f->url);
	free(f->keys);
	free(f->dir);
	free(f);
	jpki_clock_reset();
	return 0;
}

#define NEED_SOFTHSM(f)                                                        \
	do {                                                                   \
		if ((f) == NULL)                                               \
			skip();                                                \
	} while (0)

static struct jpki_cert_info *issue(struct p11_fixture *f, const char *person)
{
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, person);
	struct jpki_cert_info *info = NULL;
	int r = jpki_ca_issue(&info, f->ca, &req, f->key);

	if (r != 0)
		fprintf(stderr, "issue: %s\n", jpki_err_detail());
	assert_int_equal(r, 0);
	return info;
}

static unsigned char *ocsp_request(size_t *len, X509 *cert, X509 *issuer,
				   int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int n;

	OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha256(), cert, issuer));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	n = i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req);
	*len = n > 0 ? (size_t)n : 0;
	return der;
}

static void test_issue_crl_ocsp_signed_in_token(void **state)
{
	struct p11_fixture *f = *state;
	struct jpki_cert_info *info;
	X509 *ca_cert, *cert, *signer = NULL;
	X509_CRL *crl;
	X509_REVOKED *rev = NULL;
	X509_STORE *trust;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *basic;
	OCSP_CERTID *id;
	unsigned char *der = NULL, *req;
	const unsigned char *p;
	size_t len = 0, req_len;
	int status = -1, reason = -1;

	NEED_SOFTHSM(f);
	assert_int_equal(jpki_ca_keys_in_token(f->ca), 1);
	ca_cert = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	/* the self-signed root was signed in the token too */
	assert_int_equal(X509_verify(ca_cert, X509_get0_pubkey(ca_cert)), 1);
	assert_int_equal(X509_verify(jpki_ca_ocsp_cert(f->ca, JPKI_CERT_SIGN),
				     X509_get0_pubkey(ca_cert)),
			 1);

	info = issue(f, "p11-person-1");
	cert = fx_x509(info);
	assert_non_null(cert);
	assert_int_equal(X509_verify(cert, X509_get0_pubkey(ca_cert)), 1);
	assert_int_equal(
	    jpki_ca_revoke(f->ca, info->serial, JPKI_REASON_KEY_COMPROMISE), 0);

	/* the CRL lists it and verifies against the CA */
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign"), 0);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_cert)), 1);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, cert), 1);
	X509_CRL_free(crl);
	free(der);

	/* the OCSP answer is revoked, signed by the delegated signer */
	req = ocsp_request(&req_len, cert, ca_cert, 1);
	assert_int_equal(jpki_ca_ocsp_respond(&der, &len, f->ca, req, req_len),
			 0);
	p = der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp),
			 OCSP_RESPONSE_STATUS_SUCCESSFUL);
	basic = OCSP_response_get1_basic(resp);
	assert_non_null(basic);
	trust = X509_STORE_new();
	X509_STORE_add_cert(trust, ca_cert);
	assert_int_equal(OCSP_basic_verify(basic, NULL, trust, 0), 1);
	/* and the signer is the delegated OCSP certificate */
	assert_int_equal(OCSP_resp_get0_signer(basic, &signer, NULL), 1);
	assert_int_equal(
	    X509_cmp(signer, jpki_ca_ocsp_cert(f->ca, JPKI_CERT_SIGN)), 0);
	id = OCSP_cert_to_id(EVP_sha256(), cert, ca_cert);
	assert_int_equal(OCSP_resp_find_status(basic, id, &status, &reason,
					       NULL, NULL, NULL),
			 1);
	assert_int_equal(status, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	OCSP_CERTID_free(id);
	X509_STORE_free(trust);
	OCSP_BASICRESP_free(basic);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	free(der);
	X509_free(cert);
	jpki_cert_info_free(info);
}

/* The store names the keys by URI, and no key reached the disk. */
static void test_no_key_on_disk(void **state)
{
	struct p11_fixture *f = *state;
	struct jpki_rows *rows = NULL;
	struct dirent *e;
	DIR *d;
	size_t pem = 0;

	NEED_SOFTHSM(f);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT key_ref, ocsp_key_ref,"
					  " pkcs11_module FROM ca_authority"
					  " ORDER BY type",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_count(rows), 2);
	assert_string_equal(jpki_rows_text(rows, 0, 0),
			    "pkcs11:token=jpki%20test;object=sign-ca");
	assert_string_equal(jpki_rows_text(rows, 0, 1),
			    "pkcs11:token=jpki%20test;object=sign-ocsp");
	assert_string_equal(jpki_rows_text(rows, 1, 0),
			    "pkcs11:token=jpki%20test;object=auth-ca");
	assert_string_equal(jpki_rows_text(rows, 1, 1),
			    "pkcs11:token=jpki%20test;object=auth-ocsp");
	assert_string_equal(jpki_rows_text(rows, 0, 2), MODULE);
	jpki_rows_free(rows);

	/* only the CA certificates are in the key directory */
	d = opendir(f->keys);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		assert_true(n > 4 && strcmp(e->d_name + n - 4, ".pem") == 0);
		pem++;
	}
	closedir(d);
	assert_int_equal(pem, 2);
}

/* Reads CK_BBOOL attributes of each CA private key straight from the
 * token, through a session of our own. */
static void test_private_keys_not_extractable(void **state)
{
	struct p11_fixture *f = *state;
	static const char *const labels[] = {"sign-ca", "sign-ocsp", "auth-ca",
					     "auth-ocsp"};
	CK_RV (*get_list)(CK_FUNCTION_LIST **);
	CK_FUNCTION_LIST *fl = NULL;
	CK_SLOT_ID slots[8];
	CK_ULONG nslots = 8;
	CK_SESSION_HANDLE s;
	CK_C_INITIALIZE_ARGS args = {0};
	CK_RV rv;
	void *dl;

	NEED_SOFTHSM(f);
	dl = dlopen(MODULE, RTLD_NOW);
	assert_non_null(dl);
	*(void **)&get_list = dlsym(dl, "C_GetFunctionList");
	assert_non_null(get_list);
	assert_int_equal(get_list(&fl), CKR_OK);
	/* the open CA initialized the module already; leave it to finalize */
	args.flags = CKF_OS_LOCKING_OK;
	rv = fl->C_Initialize(&args);
	assert_true(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(fl->C_GetSlotList(CK_TRUE, slots, &nslots), CKR_OK);
	assert_true(nslots >= 1);
	assert_int_equal(
	    fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s),
	    CKR_OK);
	rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)PIN, strlen(PIN));
	assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	for (size_t i = 0; i < 4; i++) {
		CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
		CK_ATTRIBUTE find[] = {
		    {CKA_CLASS, &cls, sizeof(cls)},
		    {CKA_LABEL, (void *)labels[i], strlen(labels[i])},
		};
		CK_OBJECT_HANDLE h;
		CK_ULONG n = 0;
		CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE,
			 never = CK_FALSE, token = CK_FALSE;
		CK_ATTRIBUTE attrs[] = {
		    {CKA_EXTRACTABLE, &extractable, sizeof(CK_BBOOL)},
		    {CKA_SENSITIVE, &sensitive, sizeof(CK_BBOOL)},
		    {CKA_NEVER_EXTRACTABLE, &never, sizeof(CK_BBOOL)},
		    {CKA_TOKEN, &token, sizeof(CK_BBOOL)},
		};
		unsigned char d[512];
		CK_ATTRIBUTE secret = {CKA_PRIVATE_EXPONENT, d, sizeof(d)};

		assert_int_equal(fl->C_FindObjectsInit(s, find, 2), CKR_OK);
		assert_int_equal(fl->C_FindObjects(s, &h, 1, &n), CKR_OK);
		fl->C_FindObjectsFinal(s);
		assert_int_equal(n, 1);
		assert_int_equal(fl->C_GetAttributeValue(s, h, attrs, 4),
				 CKR_OK);
		assert_int_equal(extractable, CK_FALSE);
		assert_int_equal(sensitive, CK_TRUE);
		assert_int_equal(never, CK_TRUE);
		assert_int_equal(token, CK_TRUE);
		/* and the token refuses to give the private exponent */
		assert_int_equal(fl->C_GetAttributeValue(s, h, &secret, 1),
				 CKR_ATTRIBUTE_SENSITIVE);
	}
	fl->C_CloseSession(s);
	dlclose(dl);
}

struct signer_arg {
	struct p11_fixture *f;
	unsigned char *req;
	size_t req_len;
	int failures;
};

static void *sign_many(void *p)
{
	struct signer_arg *a = p;

	for (int i = 0; i < 10; i++) {
		unsigned char *der = NULL;
		size_t len = 0;

		if (jpki_ca_ocsp_respond(&der, &len, a->f->ca, a->req,
					 a->req_len) != 0)
			a->failures++;
		free(der);
	}
	return NULL;
}

/* OCSP answers are signed from several HTTP threads at once: requests
 * with nonces bypass the cache, so every one reaches C_Sign. */
static void test_concurrent_signing(void **state)
{
	struct p11_fixture *f = *state;
	struct signer_arg args[4];
	pthread_t th[4];
	struct jpki_cert_info *info;
	X509 *cert;

	NEED_SOFTHSM(f);
	info = issue(f, "p11-person-2");
	cert = fx_x509(info);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct signer_arg){.f = f};
		args[i].req =
		    ocsp_request(&args[i].req_len, cert,
				 jpki_ca_cert(f->ca, JPKI_CERT_SIGN), 1);
		assert_int_equal(
		    pthread_create(&th[i], NULL, sign_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
		OPENSSL_free(args[i].req);
	}
	X509_free(cert);
	jpki_cert_info_free(info);
}

static void test_wrong_pin(void **state)
{
	struct p11_fixture *f = *state;
	struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_ca *ca = NULL;
	char *pin_file = NULL;

	NEED_SOFTHSM(f);
	assert_true(asprintf(&pin_file, "%s/wrong.pin", f->dir) > 0);
	assert_int_equal(write_file(pin_file, "9999\n"), 0);
	/* closing the open CA ends the login, so the PIN is checked again */
	jpki_ca_free(f->ca);
	f->ca = NULL;
	opts.pkcs11_pin_file = pin_file;
	assert_int_equal(jpki_ca_open(&ca, f->st, &opts), JPKI_ERR_CONFIG);
	assert_null(ca);
	assert_non_null(strstr(jpki_err_detail(), "PIN"));
	assert_non_null(strstr(jpki_err_detail(), "is wrong"));

	/* the right PIN from a file opens it */
	assert_int_equal(write_file(pin_file, PIN "\n"), 0);
	assert_int_equal(jpki_ca_open(&f->ca, f->st, &opts), 0);
	free(pin_file);
}

static void test_no_pin(void **state)
{
	struct p11_fixture *f = *state;
	struct jpki_ca *ca = NULL;

	NEED_SOFTHSM(f);
	jpki_ca_free(f->ca);
	f->ca = NULL;
	unsetenv("JPKI_PKCS11_PIN");
	assert_int_equal(jpki_ca_open(&ca, f->st, NULL), JPKI_ERR_CONFIG);
	assert_non_null(strstr(jpki_err_detail(), "JPKI_PKCS11_PIN"));
	setenv("JPKI_PKCS11_PIN", PIN, 1);
	assert_int_equal(jpki_ca_open(&f->ca, f->st, NULL), 0);
}

/* A second init on the same token refuses, and leaves the keys in place. */
static void test_init_refuses_used_token(void **state)
{
	struct p11_fixture *f = *state;
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct jpki_store *st = NULL;
	char *dir, *url, *keys = NULL;

	NEED_SOFTHSM(f);
	dir = tu_tmpdir();
	url = tu_store_url(dir);
	assert_non_null(url);
	assert_true(asprintf(&keys, "%s/keys", dir) > 0);
	assert_int_equal(jpki_store_open(&st, url), 0);
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	opts.pkcs11_module = MODULE;
	opts.pkcs11_token = TOKEN;
	assert_int_equal(jpki_ca_init(st, &opts), JPKI_ERR_EXISTS);
	assert_non_null(strstr(jpki_err_detail(), "sign-ca"));
	/* an unknown token is named in the error */
	opts.pkcs11_token = "no such token";
	assert_int_equal(jpki_ca_init(st, &opts), JPKI_ERR_NOT_FOUND);
	assert_non_null(strstr(jpki_err_detail(), "no such token"));
	jpki_store_free(st);
	tu_store_drop(url);
	tu_rmtree(dir);
	free(url);
	free(dir);
	free(keys);

	/* the first CA still signs with its keys */
	jpki_cert_info_free(issue(f, "p11-person-3"));
}

/* A key rollover in the token: the new generation's keys are made there
 * (sign-ca-2, sign-ocsp-2), the old ones keep signing for their
 * certificates, and a reopened CA finds both. Last: it changes the CA. */
static void test_rollover_in_token(void **state)
{
	static const struct jpki_actor officer = {"officer",
						  JPKI_ROLE_CA_OFFICER, "", ""};
	struct jpki_ca_rollover_options opts = JPKI_CA_ROLLOVER_OPTIONS_INIT;
	struct p11_fixture *f = *state;
	struct jpki_cert_info *old, *young;
	struct jpki_rows *rows = NULL;
	struct jpki_ca *stale = NULL, *again = NULL;
	X509 *g1, *g2, *xo, *xy, *anchors[4];
	unsigned char *der = NULL;
	size_t len;

	NEED_SOFTHSM(f);
	assert_int_equal(jpki_audit_migrate(f->st), 0);
	old = issue(f, "p11-roll-1");
	g1 = X509_dup(jpki_ca_cert(f->ca, JPKI_CERT_SIGN));
	assert_int_equal(jpki_ca_open(&stale, f->st, NULL), 0);
	opts.key_dir = f->keys;
	assert_int_equal(jpki_ca_rollover(f->ca, &officer, JPKI_CERT_SIGN,
					  &opts),
			 0);
	g2 = jpki_ca_cert(f->ca, JPKI_CERT_SIGN);
	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT key_ref, ocsp_key_ref"
					  " FROM ca_authority WHERE type = 1",
					  NULL, 0),
			 0);
	assert_string_equal(jpki_rows_text(rows, 0, 0),
			    "pkcs11:token=jpki%20test;object=sign-ca-2");
	assert_string_equal(jpki_rows_text(rows, 0, 1),
			    "pkcs11:token=jpki%20test;object=sign-ocsp-2");
	jpki_rows_free(rows);
	young = issue(f, "p11-roll-2");
	xo = fx_x509(old);
	xy = fx_x509(young);
	assert_int_equal(X509_verify(xy, X509_get0_pubkey(g2)), 1);
	assert_int_equal(X509_verify(xo, X509_get0_pubkey(g1)), 1);
	/* each generation's CRL, signed in the token by its own key */
	assert_int_equal(jpki_ca_revoke(f->ca, old->serial,
					JPKI_REASON_KEY_COMPROMISE),
			 0);
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign-2/131016"),
			 0);
	{
		const unsigned char *p = der;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);

		assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(g2)),
				 1);
		X509_CRL_free(crl);
	}
	free(der);
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign/131016"), 0);
	{
		const unsigned char *p = der;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);

		assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(g1)),
				 1);
		X509_CRL_free(crl);
	}
	free(der);
	/* a CA opened before the rollover makes no key in the token */
	assert_int_equal(jpki_ca_rollover(stale, &officer, JPKI_CERT_SIGN,
					  &opts),
			 JPKI_ERR_STATE);
	assert_int_equal(ca_p11_absent(f->ca->p11, "sign-ca-3"), 0);
	assert_int_equal(ca_p11_absent(f->ca->p11, "sign-ca-2"),
			 JPKI_ERR_EXISTS);
	jpki_ca_free(stale);
	/* reopened: both generations' keys from the token */
	assert_int_equal(jpki_ca_open(&again, f->st, NULL), 0);
	assert_int_equal(jpki_ca_certs(anchors, 4, again, JPKI_CERT_SIGN), 2);
	assert_int_equal(jpki_ca_generation(again, JPKI_CERT_SIGN), 2);
	jpki_ca_free(again);
	X509_free(xo);
	X509_free(xy);
	X509_free(g1);
	jpki_cert_info_free(old);
	jpki_cert_info_free(young);
}

static void test_uri(void **state)
{
	char *uri = ca_p11_uri("CA token;1", "sign-ca");
	char *token = NULL, *object = NULL;

	assert_string_equal(uri, "pkcs11:token=CA%20token%3B1;object=sign-ca");
	assert_int_equal(ca_p11_uri_parse(&token, &object, uri), 0);
	assert_string_equal(token, "CA token;1");
	assert_string_equal(object, "sign-ca");
	free(token);
	free(object);
	free(uri);
	assert_int_equal(
	    ca_p11_uri_parse(&token, &object, "pkcs11:token=x;object=a%2"),
	    JPKI_ERR_STORE);
	assert_int_equal(ca_p11_uri_parse(&token, &object, "pkcs11:token=x"),
			 JPKI_ERR_STORE);
	assert_int_equal(ca_p11_uri_parse(&token, &object, "/keys/sign-ca.key"),
			 JPKI_ERR_STORE);
	assert_null(token);
	assert_null(object);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uri),
	    cmocka_unit_test(test_issue_crl_ocsp_signed_in_token),
	    cmocka_unit_test(test_no_key_on_disk),
	    cmocka_unit_test(test_private_keys_not_extractable),
	    cmocka_unit_test(test_concurrent_signing),
	    cmocka_unit_test(test_wrong_pin),
	    cmocka_unit_test(test_no_pin),
	    cmocka_unit_test(test_init_refuses_used_token),
	    cmocka_unit_test(test_rollover_in_token),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
