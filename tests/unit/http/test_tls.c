/*
 * HTTPS and the client certificates of the internal role: the server's
 * files refused at start when wrong, and over a real TLS connection (libcurl)
 * the window's URLs answered only to a client certificate of the client CA
 * while the public ones need none; in --revocation-access registered, OCSP
 * only to a registered verifier's (not a foreign, expired, unregistered or
 * server certificate), each answer counted.
 */
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca_fixture.h"
#include "jpki/audit.h"
#include "jpki/http.h"

struct tls_fixture {
	struct ca_fixture *f;
	char *dir;
};

/* A certificate for `key` named CN=cn, signed by issuer_key (self-signed
 * when issuer is NULL), valid from `from` to `to` days from now. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
		       EVP_PKEY *issuer_key, const char *bc, const char *eku,
		       long from, long to)
{
	static long serial;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(c);
	assert_int_equal(X509_set_version(c, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(c), from * 86400);
	X509_gmtime_adj(X509_getm_notAfter(c), to * 86400);
	X509_set_pubkey(c, key);
	X509V3_set_ctx(&v3, issuer ? issuer : c, c, NULL, NULL, 0);
	assert_non_null(
	    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, bc));
	X509_add_ext(c, ext, -1);
	X509_EXTENSION_free(ext);
	if (eku != NULL) {
		assert_non_null(ext = X509V3_EXT_conf_nid(
				    NULL, &v3, NID_ext_key_usage, eku));
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
		assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &v3,
							  NID_subject_alt_name,
							  "IP:127.0.0.1"));
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(c, issuer_key, EVP_sha256()) > 0);
	return c;
}

static char *path_of(struct tls_fixture *tf, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", tf->dir, name) > 0);
	return p;
}

static void write_pem(struct tls_fixture *tf, const char *name, X509 *cert,
		      EVP_PKEY *key, const char *pass)
{
	char *p = path_of(tf, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(
				     f, key, pass ? EVP_aes_128_cbc() : NULL,
				     (unsigned char *)pass,
				     pass ? (int)strlen(pass) : 0, NULL, NULL),
				 1);
	fclose(f);
	free(p);
}

/* ca.pem, server.pem/.key, client.pem/.key, foreign.pem/.key,
 * expired.pem/.key, wrong.key, locked.key, empty.pem */
static int setup(void **state)
{
	struct tls_fixture *tf = calloc(1, sizeof(*tf));
	void *ca_state = NULL;
	EVP_PKEY *ca_key, *other_key, *k;
	X509 *ca, *other, *c;

	if (tf == NULL || fx_setup(&ca_state) != 0)
		return -1;
	tf->f = ca_state;
	tf->dir = tu_tmpdir();
	ca_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	ca = make_cert(ca_key, "infra CA", NULL, ca_key, "critical,CA:TRUE",
		       NULL, -1, 30);
	other = make_cert(other_key, "foreign CA", NULL, other_key,
			  "critical,CA:TRUE", NULL, -1, 30);
	write_pem(tf, "ca.pem", ca, NULL, NULL);
	static const struct {
		const char *name, *cn, *eku;
		int foreign;
		long from, to;
	} leaves[] = {
	    {"server", "localhost", "serverAuth", 0, -1, 7},
	    {"client", "terminal-01", "clientAuth", 0, -1, 7},
	    {"foreign", "terminal-01", "clientAuth", 1, -1, 7},
	    {"expired", "terminal-02", "clientAuth", 0, -30, -1},
	};
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		char name[32];

		k = EVP_EC_gen("P-256");
		c = make_cert(k, leaves[i].cn, leaves[i].foreign ? other : ca,
			      leaves[i].foreign ? other_key : ca_key,
			      "critical,CA:FALSE", leaves[i].eku,
			      leaves[i].from, leaves[i].to);
		snprintf(name, sizeof(name), "%s.pem", leaves[i].name);
		write_pem(tf, name, c, NULL, NULL);
		snprintf(name, sizeof(name), "%s.key", leaves[i].name);
		write_pem(tf, name, NULL, k, NULL);
		if (i == 0)
			write_pem(tf, "locked.key", NULL, k, "a passphrase");
		X509_free(c);
		EVP_PKEY_free(k);
	}
	write_pem(tf, "wrong.key", NULL, other_key, NULL);
	write_pem(tf, "empty.pem", NULL, NULL, NULL);
	X509_free(ca);
	X509_free(other);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	*state = tf;
	return 0;
}

static int teardown(void **state)
{
	struct tls_fixture *tf = *state;
	void *ca_state = tf->f;

	tu_rmtree(tf->dir);
	free(tf->dir);
	fx_teardown(&ca_state);
	free(tf);
	return 0;
}

/* Starts the window and OCSP roles (no store: the window answers 503 once
 * past the gate) with these files; 0 or the error. */
static int start(struct jpki_http **srv, struct tls_fixture *tf,
		 const char *cert, const char *key, const char *client_ca)
{
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	char *c = cert ? path_of(tf, cert) : NULL;
	char *k = key ? path_of(tf, key) : NULL;
	char *a = client_ca ? path_of(tf, client_ca) : NULL;
	int r;

	opts.listen = "127.0.0.1:0";
	opts.roles = JPKI_ROLE_WINDOW | JPKI_ROLE_OCSP;
	opts.threads = 2;
	opts.ca = tf->f->ca;
	opts.tls_cert = c;
	opts.tls_key = k;
	opts.tls_client_ca = a;
	r = jpki_http_start(srv, &opts);
	free(c);
	free(k);
	free(a);
	return r;
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	return size * n;
}

/* The status of GET path over HTTPS with the client certificate `who`
 * (NULL: none); 0 when no HTTP answer came. */
static long get(struct tls_fixture *tf, struct jpki_http *srv,
		const char *scheme, const char *path, const char *who)
{
	char url[128], name[32];
	char *ca = path_of(tf, "ca.pem"), *cert = NULL, *key = NULL;
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", scheme,
		 jpki_http_port(srv), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (who != NULL) {
		snprintf(name, sizeof(name), "%s.pem", who);
		cert = path_of(tf, name);
		snprintf(name, sizeof(name), "%s.key", who);
		key = path_of(tf, name);
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	free(ca);
	free(cert);
	free(key);
	return status;
}

static void test_start_refusals(void **state)
{
	struct tls_fixture *tf = *state;
	struct jpki_http *srv = NULL;

	assert_int_equal(start(&srv, tf, "server.pem", "wrong.key", NULL),
			 JPKI_ERR_CONFIG);
	assert_non_null(strstr(jpki_err_detail(), "is not the key"));
	assert_int_equal(start(&srv, tf, "server.pem", "none.key", NULL),
			 JPKI_ERR_CONFIG);
	assert_non_null(strstr(jpki_err_detail(), "cannot be read"));
	assert_int_equal(start(&srv, tf, "server.pem", "locked.key", NULL),
			 JPKI_ERR_CONFIG);
	assert_non_null(strstr(jpki_err_detail(), "unencrypted"));
	assert_int_equal(start(&srv, tf, "empty.pem", "server.key", NULL),
			 JPKI_ERR_CONFIG);
	assert_non_null(strstr(jpki_err_detail(), "no PEM certificate"));
	assert_int_equal(
	    start(&srv, tf, "server.pem", "server.key", "empty.pem"),
	    JPKI_ERR_CONFIG);
	assert_int_equal(start(&srv, tf, "server.pem", NULL, NULL),
			 JPKI_ERR_CONFIG);
	assert_int_equal(start(&srv, tf, NULL, NULL, "ca.pem"),
			 JPKI_ERR_CONFIG);
	assert_null(srv);
}

static void test_client_certificates(void **state)
{
	struct tls_fixture *tf = *state;
	struct jpki_http *srv = NULL;

	assert_int_equal(start(&srv, tf, "server.pem", "server.key", "ca.pem"),
			 0);
	assert_string_equal(jpki_http_scheme(srv), "https");
	/* public: no certificate needed */
	assert_int_equal(get(tf, srv, "https", "/healthz", NULL), 200);
	assert_int_equal(get(tf, srv, "https", "/ocsp/sign/AA==", NULL), 200);
	/* internal: past the gate only with the client CA's certificate (no
	 * store behind it here: 503) */
	assert_int_equal(get(tf, srv, "https", "/api/window/fees", "client"),
			 503);
	assert_int_equal(get(tf, srv, "https", "/window", "client"), 503);
	assert_int_equal(get(tf, srv, "https", "/api/window/fees", NULL), 403);
	assert_int_equal(get(tf, srv, "https", "/window", NULL), 403);
	assert_int_equal(get(tf, srv, "https", "/api/window/fees", "foreign"),
			 403);
	assert_int_equal(get(tf, srv, "https", "/api/window/fees", "expired"),
			 403);
	/* a server certificate is not for TLS clients */
	assert_int_equal(get(tf, srv, "https", "/api/window/fees", "server"),
			 403);
	/* no plain HTTP on the TLS listener */
	assert_int_equal(get(tf, srv, "http", "/healthz", NULL), 0);
	jpki_http_stop(srv);
}

static void test_https_without_client_ca(void **state)
{
	struct tls_fixture *tf = *state;
	struct jpki_http *srv = NULL;

	assert_int_equal(start(&srv, tf, "server.pem", "server.key", NULL), 0);
	assert_int_equal(get(tf, srv, "https", "/api/window/fees", NULL), 503);
	jpki_http_stop(srv);
	/* and without any: plain HTTP as before */
	assert_int_equal(start(&srv, tf, NULL, NULL, NULL), 0);
	assert_string_equal(jpki_http_scheme(srv), "http");
	assert_int_equal(get(tf, srv, "http", "/api/window/fees", NULL), 503);
	jpki_http_stop(srv);
}

/* start() in --revocation-access registered, with the fixture's store
 * (NULL: none) behind it. */
static int start_registered(struct jpki_http **srv, struct tls_fixture *tf,
			    const char *client_ca, struct jpki_store *st)
{
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	char *c = path_of(tf, "server.pem"), *k = path_of(tf, "server.key");
	char *a = client_ca ? path_of(tf, client_ca) : NULL;
	int r;

	opts.listen = "127.0.0.1:0";
	opts.roles = JPKI_ROLE_OCSP;
	opts.threads = 2;
	opts.ca = tf->f->ca;
	opts.tls_cert = c;
	opts.tls_key = k;
	opts.tls_client_ca = a;
	opts.store = st;
	opts.revocation_access = JPKI_REVOCATION_REGISTERED;
	r = jpki_http_start(srv, &opts);
	free(c);
	free(k);
	free(a);
	return r;
}

static void register_verifier(struct tls_fixture *tf, const char *who)
{
	static const struct jpki_actor officer = {
	    .operator_id = "admin", .role = JPKI_ROLE_CA_OFFICER};
	char name[32], *path;
	unsigned char *pem = NULL;
	size_t len = 0;

	snprintf(name, sizeof(name), "%s.pem", who);
	path = path_of(tf, name);
	assert_int_equal(jpki_file_read(&pem, &len, path, JPKI_MAX_CSR), 0);
	assert_int_equal(jpki_ca_verifier_add(tf->f->st, &officer, who,
					      JPKI_CERT_SIGN, pem, len),
			 0);
	free(pem);
	free(path);
}

static void test_registered_verifiers(void **state)
{
	struct tls_fixture *tf = *state;
	struct jpki_http *srv = NULL;

	assert_int_equal(jpki_audit_migrate(tf->f->st), 0);
	/* it needs the client CA and the store */
	assert_int_equal(start_registered(&srv, tf, NULL, tf->f->st),
			 JPKI_ERR_CONFIG);
	assert_non_null(strstr(jpki_err_detail(), "--tls-client-ca"));
	assert_int_equal(start_registered(&srv, tf, "ca.pem", NULL),
			 JPKI_ERR_CONFIG);
	assert_null(srv);
	/* the clock is frozen in January: the expired one registers, and
	 * the TLS check at the system's time refuses it */
	register_verifier(tf, "client");
	register_verifier(tf, "expired");
	assert_int_equal(start_registered(&srv, tf, "ca.pem", tf->f->st), 0);
	assert_int_equal(get(tf, srv, "https", "/healthz", NULL), 200);
	assert_int_equal(get(tf, srv, "https", "/ocsp/sign/AA==", "client"),
			 200);
	assert_int_equal(get(tf, srv, "https", "/ocsp/sign/AA==", NULL), 403);
	assert_int_equal(get(tf, srv, "https", "/ocsp/sign/AA==", "foreign"),
			 403);
	assert_int_equal(get(tf, srv, "https", "/ocsp/sign/AA==", "expired"),
			 403);
	/* a server certificate verifies to the CA but is not for clients,
	 * nor registered */
	assert_int_equal(get(tf, srv, "https", "/ocsp/sign/AA==", "server"),
			 403);
	/* the second time from the verified-lately table */
	assert_int_equal(get(tf, srv, "https", "/ocsp/auth/AA==", "client"),
			 200);
	jpki_http_stop(srv); /* flushes the counts */
	assert_int_equal(tu_count(tf->f->st, "SELECT SUM(count) FROM "
					     "ca_verifier_usage WHERE "
					     "verifier = 'client'"),
			 2);
	assert_int_equal(tu_count(tf->f->st, "SELECT COUNT(*) FROM "
					     "ca_verifier_usage WHERE "
					     "verifier <> 'client'"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_start_refusals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_client_certificates, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_https_without_client_ca, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_registered_verifiers, setup,
					    teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
