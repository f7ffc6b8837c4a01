/*
 * Operator log-ins over HTTP: guessing answered 429 with Retry-After on
 * the API and the pages alike, a full hashing queue 503, OCSP answered
 * while a flood of log-ins is still being hashed (order of completion, no
 * timing), the session cookie Secure under TLS, and the chain to an
 * auditor only (GET /api/audit).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca_fixture.h"
#include "jpki/audit.h"
#include "jpki/http.h"
#include "jpki/window.h"

static const char *PW = "correct horse battery";

static int setup(void **state)
{
	struct ca_fixture *f;
	struct jpki_actor officer = {.operator_id = "officer",
				     .role = JPKI_ROLE_CA_OFFICER};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	if (fx_setup(state) != 0)
		return -1;
	f = *state;
	if (jpki_window_migrate(f->st) != 0 ||
	    jpki_audit_operator_add(f->st, NULL, "officer",
				    JPKI_ROLE_CA_OFFICER, "", PW) != 0 ||
	    jpki_audit_operator_add(f->st, &officer, "clerk",
				    JPKI_ROLE_WINDOW_CLERK, "131016",
				    PW) != 0 ||
	    jpki_audit_operator_add(f->st, &officer, "auditor",
				    JPKI_ROLE_AUDITOR, "", PW) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	setenv("JPKI_ARGON2_TEST", "1", 1);
	return fx_teardown(state);
}

static struct jpki_http *start(struct ca_fixture *f, const char *cert,
			       const char *key)
{
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	struct jpki_http *srv = NULL;

	opts.listen = "127.0.0.1:0";
	opts.roles = JPKI_ROLE_WINDOW | JPKI_ROLE_OCSP;
	opts.threads = 2;
	opts.ca = f->ca;
	opts.store = f->st;
	opts.tls_cert = cert;
	opts.tls_key = key;
	assert_int_equal(jpki_http_start(&srv, &opts), 0);
	return srv;
}

static struct jpki_http *start_with(struct ca_fixture *f,
				    struct jpki_http_options *opts)
{
	struct jpki_http *srv = NULL;

	opts->listen = "127.0.0.1:0";
	opts->roles = JPKI_ROLE_WINDOW | JPKI_ROLE_OCSP;
	opts->threads = 2;
	opts->ca = f->ca;
	opts->store = f->st;
	assert_int_equal(jpki_http_start(&srv, opts), 0);
	return srv;
}

/* ---- libcurl, for whole exchanges ---------------------------------------- */

struct reply {
	long status;
	char headers[4096];
	char body[8192];
	size_t hlen, blen;
};

/* Appends what fits of p to buf (cap bytes, *used of them taken), which
 * stays a string; the rest is dropped. */
static void append(char *buf, size_t cap, size_t *used, const char *p,
		   size_t len)
{
	size_t room = cap - 1 - *used;

	memcpy(buf + *used, p, len < room ? len : room);
	*used += len < room ? len : room;
	buf[*used] = '\0';
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;

	append(r->body, sizeof(r->body), &r->blen, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;

	append(r->headers, sizeof(r->headers), &r->hlen, p, size * n);
	return size * n;
}

/* One request; body NULL for GET. */
static struct reply call(struct jpki_http *srv, const char *path,
			 const char *type, const char *body, const char *bearer,
			 const char *cainfo)
{
	struct reply r = {0};
	struct curl_slist *h = NULL;
	char url[256], line[160];
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", jpki_http_scheme(srv),
		 jpki_http_port(srv), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (cainfo != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		snprintf(line, sizeof(line), "Content-Type: %s", type);
		h = curl_slist_append(h, line);
		/* a browser's form post names the page's origin: the
		 * clerk's log-in takes only this server's own */
		snprintf(line, sizeof(line), "Origin: %s://127.0.0.1:%u",
			 jpki_http_scheme(srv), jpki_http_port(srv));
		h = curl_slist_append(h, line);
	}
	if (bearer != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s",
			 bearer);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

static struct reply api_login(struct jpki_http *srv, const char *who,
			      const char *pw)
{
	char body[256];

	snprintf(body, sizeof(body),
		 "{\"operator\":\"%s\",\"password\":\"%s\"}", who, pw);
	return call(srv, "/api/login", "application/json", body, NULL, NULL);
}

/* The token of a good log-in (caller frees). */
static char *token_of(struct jpki_http *srv, const char *who)
{
	struct reply r = api_login(srv, who, PW);
	const char *t = strstr(r.body, "\"token\":\"");

	assert_int_equal(r.status, 200);
	assert_non_null(t);
	return strndup(t + 9, 64);
}

static void test_guessing_refused(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv = start(f, NULL, NULL);
	struct reply r;

	/* The clock is frozen: a wait, once due, never passes here. */
	for (int i = 0; i < 5; i++) {
		r = api_login(srv, "clerk", "not the password");
		assert_int_equal(r.status, 401);
		assert_null(strcasestr(r.headers, "Retry-After"));
	}
	r = api_login(srv, "clerk", "not the password");
	assert_int_equal(r.status, 429);
	assert_non_null(strcasestr(r.headers, "Retry-After: 1"));
	assert_non_null(strstr(r.body, "try again in 1 second"));
	/* The right password waits too, and the page says the same. */
	r = api_login(srv, "clerk", PW);
	assert_int_equal(r.status, 429);
	r = call(srv, "/window/login", "application/x-www-form-urlencoded",
		 "operator=clerk&password=correct+horse+battery", NULL, NULL);
	assert_int_equal(r.status, 429);
	assert_non_null(strcasestr(r.headers, "Retry-After: 1"));
	assert_null(strcasestr(r.headers, "Set-Cookie"));
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'audit.login-failed' AND"
				     " detail = '{\"client\":\"127.0.0.1\"}'"),
			 5);
	/* Another operator from the same address is not held up yet. */
	r = api_login(srv, "officer", PW);
	assert_int_equal(r.status, 200);
	/* A disabled operator: 403, whatever the password. */
	{
		struct jpki_actor officer = {.operator_id = "officer",
					     .role = JPKI_ROLE_CA_OFFICER};

		assert_int_equal(
		    jpki_audit_operator_disable(f->st, &officer, "auditor", 1),
		    0);
	}
	r = api_login(srv, "auditor", PW);
	assert_int_equal(r.status, 403);
	r = call(srv, "/window/login", "application/x-www-form-urlencoded",
		 "operator=auditor&password=correct+horse+battery", NULL, NULL);
	assert_int_equal(r.status, 403);
	jpki_http_stop(srv);
}

/* ---- raw sockets, to watch the order of completion ----------------------- */

static int open_send(uint16_t port, const char *req)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t len = strlen(req);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	return fd;
}

/* Whether an answer has begun to arrive on fd (no waiting). */
static int answered(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* The status of the answer on fd (waits up to a minute), and closes it. */
static int status_on(int fd, char *head, size_t size)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[1024];
	ssize_t n;
	int status = 0;

	assert_int_equal(poll(&p, 1, 60000), 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		sscanf(buf, "HTTP/1.%*d %d", &status);
		if (head != NULL)
			snprintf(head, size, "%s", buf);
	}
	close(fd);
	return status;
}

static char *login_request(int i)
{
	char *req = NULL, body[128];

	snprintf(body, sizeof(body),
		 "{\"operator\":\"guess%d\",\"password\":\"wrong guess %d\"}",
		 i, i);
	assert_true(asprintf(&req,
			     "POST /api/login HTTP/1.1\r\nHost: x\r\n"
			     "Content-Type: application/json\r\n"
			     "Connection: close\r\nContent-Length: %zu\r\n\r\n"
			     "%s",
			     strlen(body), body) > 0);
	return req;
}

/* n wrong log-ins (login_request 0..n-1) sent, each on a connection of its
 * own, left unread in fds. */
static void send_logins(struct jpki_http *srv, int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		char *req = login_request(i);

		fds[i] = open_send(jpki_http_port(srv), req);
		free(req);
	}
}

/* As many as the pool queues (16), so none is answered busy; more than
 * the hashing threads can finish while OCSP is asked, even on a fast
 * machine. */
#define FLOOD 16
#define OCSP_ASKS 4

static void test_ocsp_during_flood(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv;
	int fds[FLOOD], pending = 0;
	static const char ocsp[] = "GET /ocsp/sign/AA== HTTP/1.1\r\nHost: x\r\n"
				   "Connection: close\r\n\r\n";

	/* The production cost (64 MiB, t = 3): each guess keeps a thread
	 * busy for a good while. */
	unsetenv("JPKI_ARGON2_TEST");
	srv = start(f, NULL, NULL);
	send_logins(srv, fds, FLOOD);
	/* Let the flood reach the server before asking OCSP (this wait
	 * asserts nothing; it only puts the log-ins first in line). */
	usleep(100 * 1000);
	/* Each OCSP answer comes while most log-ins are still unanswered:
	 * on the HTTP workers a hash would have held them up behind it. */
	for (int k = 0; k < OCSP_ASKS; k++)
		assert_int_equal(
		    status_on(open_send(jpki_http_port(srv), ocsp), NULL, 0),
		    200);
	for (int i = 0; i < FLOOD; i++)
		pending += !answered(fds[i]);
	fprintf(stderr,
		"log-ins still pending after %d OCSP answers: %d of "
		"%d\n",
		OCSP_ASKS, pending, FLOOD);
	assert_true(pending >= FLOOD / 2);
	/* And every log-in is answered in the end: wrong (401), or, past
	 * the address's tenth failure, told to wait (429). */
	for (int i = 0; i < FLOOD; i++) {
		int s = status_on(fds[i], NULL, 0);

		assert_true(s == 401 || s == 429);
	}
	jpki_http_stop(srv);
}

#define BURST 28

static void test_queue_full(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv;
	int fds[BURST], busy = 0, wrong = 0, wait = 0;
	char head[1024];

	unsetenv("JPKI_ARGON2_TEST");
	srv = start(f, NULL, NULL);
	send_logins(srv, fds, BURST);
	for (int i = 0; i < BURST; i++) {
		int s = status_on(fds[i], head, sizeof(head));

		if (s == 503) {
			busy++;
			assert_non_null(strcasestr(head, "Retry-After: 1"));
		} else if (s == 401) {
			wrong++;
		} else {
			/* the address's tenth failure makes the rest wait,
			 * without hashing */
			assert_int_equal(s, 429);
			wait++;
		}
	}
	fprintf(stderr,
		"burst of %d: %d hashed (401), %d waited (429), %d "
		"busy (503)\n",
		BURST, wrong, wait, busy);
	/* The queue holds 16 and the pool at most 2: the rest, busy. */
	assert_true(busy >= BURST - 16 - 2);
	/* ten free failures for the address; a second hashing thread may
	 * pass the gate beside the tenth */
	assert_true(wrong >= 10 && wrong <= 11);
	/* A stop with nothing in flight is clean; the store holds what the
	 * hashed ones recorded. */
	jpki_http_stop(srv);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'audit.login-failed'"),
			 wrong);
}

/* ---- Secure under TLS ---------------------------------------------------- */

static void write_tls(const char *dir, char **cert, char **key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *out;

	assert_true(asprintf(cert, "%s/server.pem", dir) > 0);
	assert_true(asprintf(key, "%s/server.key", dir) > 0);
	X509_set_version(c, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				   (const unsigned char *)"localhost", -1, -1,
				   0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, name);
	X509_NAME_free(name);
	/* from the real clock: GnuTLS and curl do not see the frozen one */
	X509_gmtime_adj(X509_getm_notBefore(c), -86400);
	X509_gmtime_adj(X509_getm_notAfter(c), 7 * 86400);
	X509_set_pubkey(c, k);
	X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(
			    NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1"));
	X509_add_ext(c, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(c, k, EVP_sha256()) > 0);
	assert_non_null(out = fopen(*cert, "w"));
	PEM_write_X509(out, c);
	fclose(out);
	assert_non_null(out = fopen(*key, "w"));
	PEM_write_PrivateKey(out, k, NULL, NULL, 0, NULL, NULL);
	fclose(out);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void test_secure_cookie(void **state)
{
	struct ca_fixture *f = *state;
	char *cert = NULL, *key = NULL;
	struct jpki_http *srv;
	struct reply r;
	static const char form[] =
	    "operator=clerk&password=correct+horse+battery";

	write_tls(f->dir, &cert, &key);
	srv = start(f, cert, key);
	r = call(srv, "/window/login", "application/x-www-form-urlencoded",
		 form, NULL, cert);
	assert_int_equal(r.status, 303);
	assert_non_null(strcasestr(r.headers, "Set-Cookie: jpki_session="));
	assert_non_null(strstr(r.headers, "; Secure"));
	assert_non_null(strstr(r.headers, "HttpOnly"));
	jpki_http_stop(srv);
	/* Plain HTTP: a Secure cookie would never come back; none. */
	srv = start(f, NULL, NULL);
	r = call(srv, "/window/login", "application/x-www-form-urlencoded",
		 form, NULL, NULL);
	assert_int_equal(r.status, 303);
	assert_non_null(strcasestr(r.headers, "Set-Cookie: jpki_session="));
	assert_null(strstr(r.headers, "Secure"));
	jpki_http_stop(srv);
	free(cert);
	free(key);
}

/* ---- the chain, to an auditor -------------------------------------------- */

static void test_audit_api(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http *srv = start(f, NULL, NULL);
	char *aud, *clerk;
	struct reply r;
	int64_t before;

	aud = token_of(srv, "auditor");
	clerk = token_of(srv, "clerk");
	r = call(srv, "/api/audit?operator=clerk&action=audit.login", NULL,
		 NULL, aud, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"entries\":[{"));
	assert_non_null(strstr(r.body, "\"operator\":\"clerk\""));
	assert_null(strstr(r.body, "\"operator\":\"auditor\""));
	r = call(srv, "/api/audit?action=audit.operator-*&limit=2", NULL, NULL,
		 aud, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "audit.operator-add"));
	/* Refused: other roles, no session, bad filters; nothing shown. */
	before = fx_count(f, "SELECT COUNT(*) FROM audit_log");
	r = call(srv, "/api/audit", NULL, NULL, clerk, NULL);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body, "entries"));
	r = call(srv, "/api/audit", NULL, NULL, NULL, NULL);
	assert_int_equal(r.status, 401);
	r = call(srv, "/api/audit?since=yesterday", NULL, NULL, aud, NULL);
	assert_int_equal(r.status, 400);
	r = call(srv, "/api/audit?limit=0", NULL, NULL, aud, NULL);
	assert_int_equal(r.status, 400);
	r = call(srv, "/api/audit?municipality=13", NULL, NULL, aud, NULL);
	assert_int_equal(r.status, 400);
	assert_int_equal(fx_count(f, "SELECT COUNT(*) FROM audit_log"), before);
	free(aud);
	free(clerk);
	jpki_http_stop(srv);
}

/* The limits are the server's options: 2 free failures, and the third
 * wrong password already waits (the default lets 5 go, see above). */
static void test_configured_limits(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	struct jpki_http *srv;
	struct reply r;

	opts.login_account_free = 2;
	opts.login_account_lock = 4;
	srv = start_with(f, &opts);
	for (int i = 0; i < 2; i++) {
		r = api_login(srv, "clerk", "not the password");
		assert_int_equal(r.status, 401);
	}
	r = api_login(srv, "clerk", "not the password");
	assert_int_equal(r.status, 429);
	assert_non_null(strcasestr(r.headers, "Retry-After: 1"));
	jpki_http_stop(srv);
	/* the refused third try is not hashed, so not counted */
	assert_int_equal(fx_count(f, "SELECT failures FROM audit_operator"
				     " WHERE id = 'clerk'"),
			 2);
}

/* Out of range: refused at start with a sentence, nothing listens. */
static void test_limits_out_of_range(void **state)
{
	struct ca_fixture *f = *state;
	static const struct {
		unsigned free_, lock, addr, wait, burst, every;
		const char *says;
	} bad[] = {
	    {1001, 0, 0, 0, 0, 0, "free failures per operator is 1001"},
	    {0, 100001, 0, 0, 0, 0, "lock an operator is 100001"},
	    {0, 0, 100001, 0, 0, 0, "per address is 100001"},
	    {0, 0, 0, 86401, 0, 0, "longest wait (seconds) is 86401"},
	    {0, 0, 0, 0, 101, 0, "at once per terminal is 101"},
	    {0, 0, 0, 0, 0, 3601, "one more log-in is 3601"},
	    {21, 0, 0, 0, 0, 0,
	     "(20) must be more than the free failures (21)"},
	    {0, 5, 0, 0, 0, 0, "(5) must be more than the free failures (5)"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
		struct jpki_http *srv = NULL;

		opts.listen = "127.0.0.1:0";
		opts.roles = JPKI_ROLE_WINDOW;
		opts.ca = f->ca;
		opts.store = f->st;
		opts.login_account_free = bad[i].free_;
		opts.login_account_lock = bad[i].lock;
		opts.login_address_free = bad[i].addr;
		opts.login_max_wait = bad[i].wait;
		opts.kiosk_burst = bad[i].burst;
		opts.kiosk_every = bad[i].every;
		if (jpki_http_start(&srv, &opts) != JPKI_ERR_CONFIG)
			fail_msg("row %zu started", i);
		assert_null(srv);
		if (strstr(jpki_err_detail(), bad[i].says) == NULL)
			fail_msg("row %zu: \"%s\" does not say \"%s\"", i,
				 jpki_err_detail(), bad[i].says);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_guessing_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_during_flood, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secure_cookie, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_audit_api, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_configured_limits, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_limits_out_of_range, setup,
					    teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
