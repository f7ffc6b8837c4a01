/*
 * The verifier's CRL path on arbitrary bytes (src/verify/revocation.c,
 * ask_crl and fetch_delta): a full CRL and a delta CRL, fetched over HTTP
 * as a relying party fetches them from a certificate's distribution point
 * and the full CRL's FreshestCRL, decoded, checked (issuer, signature,
 * dates, the distribution point covered, no delta taken for a full CRL,
 * DeltaCRLIndicator and CRL numbers) and read for one certificate.
 *
 * An input is
 *   flags (1 byte) | length of the full CRL (4 bytes, big-endian) |
 *   the full CRL | the delta CRL (the rest)
 * An empty part is answered 404. The flags:
 *   bit 0, bit 1: re-sign the full, the delta CRL with the CA's key before
 *     serving it (each CA of a run has a new key: without this a mutated
 *     CRL never passes the signature, and the number and delta rules
 *     behind it are never reached);
 *   bits 2-3: the serial asked about: 0 the certificate's own, 1 the full
 *     CRL's first entry, 2 the delta's first entry;
 *   bit 4: ask twice through a CRL cache (the second answer from the
 *     cached full CRL and a fresh delta).
 * The CRLs are served by a small HTTP proxy of this target on 127.0.0.1
 * (http_proxy), so the URLs in the seeds (http://repo.fuzz.invalid/...)
 * stay the same from run to run and nothing leaves the machine.
 *
 * What must hold, besides no crash: the verifier answers 0 (a status
 * from the CRLs) or 1 (none, with a sentence); an answer is "crl", good
 * or revoked; it relies only on a full CRL that the CA's key verifies;
 * "revoked" only for a serial one of the served CRLs lists; "good" for a
 * serial the full CRL lists only when the delta lifts it (removeFromCRL);
 * asked twice through the cache, the same status.
 *
 * At start the target makes its own CA (crl_delta on), issues three
 * signing certificates, revokes one before the full CRL and one after it
 * (in the delta only), and checks that the verifier answers revoked,
 * revoked and good: the accepting paths are reachable. With
 * JPKI_FUZZ_CRL_SEEDS=DIR it also writes those CRLs there as seeds
 * (fuzz/corpora/crl was made so). JPKI_FUZZ_VERBOSE prints each answer
 * (0 answered, 1 not; the status; why), to see what a corpus reaches.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "fuzz_ca.h"
#include "jpki/verify.h"

#define PUBLIC_URL "http://repo.fuzz.invalid"
#define MUNICIPALITY "131016"
#define SCOPE "sign/" MUNICIPALITY
#define MAX_CRL (1024 * 1024)

#define F_SIGN_FULL 0x01
#define F_SIGN_DELTA 0x02
#define F_ASK_SHIFT 2
#define F_CACHE 0x10

static X509 *leaf[3]; /* revoked in the full CRL, in the delta, good */
static EVP_PKEY *ca_key;
static int listener = -1;
static pthread_t server;

/* What the proxy serves now (the main thread sets them before a check
 * and waits in the verifier while the proxy answers). */
static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER;
static const unsigned char *served_full, *served_delta;
static size_t served_full_len, served_delta_len;

static void cleanup(void)
{
	if (listener >= 0) {
		shutdown(listener, SHUT_RDWR);
		close(listener);
		pthread_join(server, NULL);
	}
	for (size_t i = 0; i < 3; i++)
		X509_free(leaf[i]);
	EVP_PKEY_free(ca_key);
}

static void send_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = send(fd, c, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		c += n;
		len -= (size_t)n;
	}
}

/* One request a connection: GET of the delta (a target ending in
 * ".delta.crl") or of anything else (the full CRL); CONNECT and the rest
 * are refused. */
static void answer(int fd)
{
	char req[4096], head[160];
	size_t got = 0;
	const unsigned char *body = NULL;
	size_t body_len = 0;
	char *end, *sp;

	while (got < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + got, sizeof(req) - 1 - got, 0);

		if (n <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (strncmp(req, "GET ", 4) == 0 && (sp = strchr(req + 4, ' ')) &&
	    (end = strstr(req, "\r\n")) != NULL && sp < end) {
		size_t tlen = (size_t)(sp - (req + 4));
		int delta =
		    tlen >= 10 && memcmp(sp - 10, ".delta.crl", 10) == 0;

		pthread_mutex_lock(&served_lock);
		body = delta ? served_delta : served_full;
		body_len = delta ? served_delta_len : served_full_len;
		if (body_len > 0) {
			snprintf(head, sizeof(head),
				 "HTTP/1.1 200 OK\r\nContent-Type: "
				 "application/pkix-crl\r\nContent-Length: "
				 "%zu\r\nConnection: close\r\n\r\n",
				 body_len);
			send_all(fd, head, strlen(head));
			send_all(fd, body, body_len);
		}
		pthread_mutex_unlock(&served_lock);
		if (body_len > 0)
			return;
	}
	snprintf(head, sizeof(head),
		 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
		 "Connection: close\r\n\r\n");
	send_all(fd, head, strlen(head));
}

static void *serve(void *arg)
{
	struct timeval tv = {2, 0};

	(void)arg;
	for (;;) {
		int fd = accept(listener, NULL, NULL);

		if (fd < 0)
			return NULL; /* the listener was shut down */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		answer(fd);
		close(fd);
	}
}

static void proxy_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	char url[64];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((listener = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(listener, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(listener, (struct sockaddr *)&a, &n) != 0 ||
	    listen(listener, 16) != 0 ||
	    pthread_create(&server, NULL, serve, NULL) != 0)
		fuzz_die("proxy");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(a.sin_port));
	/* every URL a CRL may name goes to the proxy: nothing is resolved
	 * or fetched elsewhere */
	setenv("http_proxy", url, 1);
	setenv("https_proxy", url, 1);
	setenv("all_proxy", url, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
}

static X509_CRL *crl_d2i(const unsigned char *p, size_t len)
{
	return len > 0 ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
}

/* The CRL re-signed with the CA's key, as DER in *out (OPENSSL_free);
 * the bytes as they are when they do not decode. */
static size_t resign(unsigned char **out, const unsigned char *p, size_t len)
{
	X509_CRL *crl = crl_d2i(p, len);
	int n;

	*out = NULL;
	if (crl != NULL && X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0 &&
	    (n = i2d_X509_CRL(crl, out)) > 0) {
		X509_CRL_free(crl);
		return (size_t)n;
	}
	X509_CRL_free(crl);
	ERR_clear_error();
	*out = NULL;
	return 0;
}

/* The leaf certificate to ask about, with the serial `serial` (NULL: its
 * own) and no OCSP responder, so the CRLs alone answer. */
static X509 *asked_cert(const ASN1_INTEGER *serial)
{
	X509 *c = X509_dup(leaf[2]);
	int i;

	if (c == NULL)
		fuzz_die("X509_dup");
	while ((i = X509_get_ext_by_NID(c, NID_info_access, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(c, i));
	if (serial != NULL) {
		ASN1_INTEGER *copy = ASN1_INTEGER_dup(serial);

		if (copy == NULL || !X509_set_serialNumber(c, copy))
			fuzz_die("serial");
		ASN1_INTEGER_free(copy);
	}
	return c;
}

static const ASN1_INTEGER *first_entry(X509_CRL *crl)
{
	STACK_OF(X509_REVOKED) *revs = crl ? X509_CRL_get_REVOKED(crl) : NULL;

	if (revs == NULL || sk_X509_REVOKED_num(revs) == 0)
		return NULL;
	return X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, 0));
}

static int ask(struct jpki_verify_revocation *rv, X509 *cert,
	       struct jpki_verify_crl_cache *cache)
{
	struct jpki_verify_options o = JPKI_VERIFY_OPTIONS_INIT;
	X509 *issuer = jpki_ca_cert(fuzz_ca, JPKI_CERT_SIGN);
	int r;

	o.crl_cache = cache;
	o.timeout_ms = 3000;
	o.keep_evidence = 1;
	r = jpki_verify_revocation(rv, &o, cert, issuer);
	if (r != 0 && r != 1)
		fuzz_die("jpki_verify_revocation failed without a callback");
	if (r == 1 && (rv->status != JPKI_VERIFY_UNKNOWN || !rv->detail[0]))
		fuzz_die("no answer, yet a status or no sentence");
	if (r == 0 && (rv->source == NULL || strcmp(rv->source, "crl") != 0 ||
		       (rv->status != JPKI_VERIFY_GOOD &&
			rv->status != JPKI_VERIFY_REVOKED)))
		fuzz_die("an answer that is not a CRL's good or revoked");
	return r;
}

/* Checks one full/delta pair for `cert`, the invariants of the header;
 * returns the status (UNKNOWN when none answered). */
static enum jpki_verify_status check(const unsigned char *full, size_t full_len,
				     const unsigned char *delta,
				     size_t delta_len, X509 *cert, int cached)
{
	struct jpki_verify_revocation rv;
	struct jpki_verify_crl_cache *cache = NULL;
	X509_CRL *f = crl_d2i(full, full_len), *d = crl_d2i(delta, delta_len);
	X509_REVOKED *entry;
	enum jpki_verify_status first;
	int r, in_full, in_delta;

	pthread_mutex_lock(&served_lock);
	served_full = full;
	served_full_len = full_len;
	served_delta = delta;
	served_delta_len = delta_len;
	pthread_mutex_unlock(&served_lock);
	if (cached && jpki_verify_crl_cache_new(&cache) != 0)
		fuzz_die("cache");
	r = ask(&rv, cert, cache);
	first = rv.status;
	if (getenv("JPKI_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "crl: %d %d %s\n", r, (int)rv.status,
			rv.detail);
	in_full = f != NULL ? X509_CRL_get0_by_cert(f, &entry, cert) : 0;
	in_delta = d != NULL ? X509_CRL_get0_by_cert(d, &entry, cert) : 0;
	if (r == 0) {
		if (f == NULL ||
		    X509_CRL_verify(f, X509_get0_pubkey(jpki_ca_cert(
					   fuzz_ca, JPKI_CERT_SIGN))) != 1)
			fuzz_die("an answer from a full CRL the CA did not "
				 "sign");
		if (X509_CRL_get_ext_by_NID(f, NID_delta_crl, -1) >= 0)
			fuzz_die("a delta CRL taken for a full one");
		if (rv.status == JPKI_VERIFY_REVOKED && in_full != 1 &&
		    in_delta != 1)
			fuzz_die("revoked, but no CRL lists the serial");
		if (rv.status == JPKI_VERIFY_GOOD && in_full == 1 &&
		    in_delta != 2)
			fuzz_die("good, but the full CRL lists the serial and "
				 "no delta lifts it");
	}
	jpki_verify_revocation_clear(&rv);
	if (cached) {
		if (ask(&rv, cert, cache) != r || rv.status != first)
			fuzz_die("the cached CRL answered otherwise");
		jpki_verify_revocation_clear(&rv);
	}
	/* The proxy may still be inside send() (the client has the bytes
	 * already): the caller frees them only once it is out. */
	pthread_mutex_lock(&served_lock);
	served_full = served_delta = NULL;
	served_full_len = served_delta_len = 0;
	pthread_mutex_unlock(&served_lock);
	jpki_verify_crl_cache_free(cache);
	X509_CRL_free(f);
	X509_CRL_free(d);
	ERR_clear_error();
	return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *full_signed = NULL, *delta_signed = NULL;
	const unsigned char *full, *delta;
	size_t full_len, delta_len;
	X509_CRL *crl = NULL;
	const ASN1_INTEGER *serial = NULL;
	X509 *cert;
	uint8_t flags;

	if (size < 5)
		return 0;
	flags = data[0];
	full_len = (size_t)data[1] << 24 | (size_t)data[2] << 16 |
		   (size_t)data[3] << 8 | data[4];
	if (full_len > size - 5 || full_len > MAX_CRL ||
	    size - 5 - full_len > MAX_CRL)
		return 0;
	full = data + 5;
	delta = full + full_len;
	delta_len = size - 5 - full_len;
	if (flags & F_SIGN_FULL) {
		full_len = resign(&full_signed, full, full_len);
		full = full_signed;
	}
	if (flags & F_SIGN_DELTA) {
		delta_len = resign(&delta_signed, delta, delta_len);
		delta = delta_signed;
	}
	switch ((flags >> F_ASK_SHIFT) & 3) {
	case 1:
		crl = crl_d2i(full, full_len);
		break;
	case 2:
		crl = crl_d2i(delta, delta_len);
		break;
	}
	serial = first_entry(crl);
	cert = asked_cert(serial);
	check(full, full_len, delta, delta_len, cert, flags & F_CACHE);
	X509_free(cert);
	X509_CRL_free(crl);
	OPENSSL_free(full_signed);
	OPENSSL_free(delta_signed);
	return 0;
}

/* ---- the CA, the self-check and the seeds -------------------------------- */

static X509 *issue(const char *person)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_cert_info *info = NULL;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	const unsigned char *p;
	X509 *cert;

	req.type = JPKI_CERT_SIGN;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = person;
	req.municipality_code = MUNICIPALITY;
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	snprintf(req.facts.address, sizeof(req.facts.address), "東京都");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	req.card_expiry = (struct jpki_date){2030, 1, 1};
	if (key == NULL || jpki_ca_issue(&info, fuzz_ca, &req, key) != 0)
		fuzz_die("issue");
	p = info->der;
	cert = d2i_X509(NULL, &p, (long)info->der_len);
	jpki_cert_info_free(info);
	EVP_PKEY_free(key);
	if (cert == NULL)
		fuzz_die("issued certificate");
	return cert;
}

static char *serial_hex(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	BN_free(bn);
	if (hex == NULL)
		fuzz_die("serial");
	return hex;
}

static void revoke_cert(X509 *cert)
{
	char *hex = serial_hex(cert);

	if (jpki_ca_revoke(fuzz_ca, hex, JPKI_REASON_KEY_COMPROMISE) != 0)
		fuzz_die("revoke");
	OPENSSL_free(hex);
}

/* One seed: the input format of the header. */
static void write_seed(const char *dir, const char *name, uint8_t flags,
		       const unsigned char *full, size_t full_len,
		       const unsigned char *delta, size_t delta_len)
{
	char path[512];
	unsigned char head[5] = {flags, (uint8_t)(full_len >> 24),
				 (uint8_t)(full_len >> 16),
				 (uint8_t)(full_len >> 8), (uint8_t)full_len};
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(head, 1, sizeof(head), f) != sizeof(head) ||
	    fwrite(full, 1, full_len, f) != full_len ||
	    fwrite(delta, 1, delta_len, f) != delta_len || fclose(f) != 0)
		fuzz_die(path);
}

static void seeds(const char *dir, const unsigned char *full, size_t fl,
		  const unsigned char *delta, size_t dl)
{
	const uint8_t both = F_SIGN_FULL | F_SIGN_DELTA;

	write_seed(dir, "full_entry_revoked.bin", both | 1 << F_ASK_SHIFT, full,
		   fl, delta, dl);
	write_seed(dir, "delta_entry_revoked.bin", both | 2 << F_ASK_SHIFT,
		   full, fl, delta, dl);
	write_seed(dir, "good.bin", both, full, fl, delta, dl);
	write_seed(dir, "cached.bin", both | F_CACHE | 2 << F_ASK_SHIFT, full,
		   fl, delta, dl);
	write_seed(dir, "signed_by_another_key.bin", 1 << F_ASK_SHIFT, full, fl,
		   delta, dl);
	write_seed(dir, "no_delta.bin", F_SIGN_FULL, full, fl, NULL, 0);
	write_seed(dir, "delta_as_full.bin", both, delta, dl, delta, dl);
	write_seed(dir, "full_as_delta.bin", both, full, fl, full, fl);
	write_seed(dir, "delta_by_another_key.bin", F_SIGN_FULL, full, fl,
		   delta, dl);
	write_seed(dir, "truncated.bin", 0, full, fl / 2, delta, dl / 2);
}

static void self_check(void)
{
	unsigned char *full = NULL, *delta = NULL;
	size_t fl = 0, dl = 0, n;
	const char *dir = getenv("JPKI_FUZZ_CRL_SEEDS");
	X509 *cert;

	for (size_t i = 0; i < 3; i++)
		leaf[i] = issue(i == 0 ? "P1" : i == 1 ? "P2" : "P3");
	revoke_cert(leaf[0]);
	if (jpki_ca_crl_refresh(fuzz_ca, 1, &n) != 0 ||
	    jpki_ca_crl_delta_refresh(fuzz_ca, &n) != 0)
		fuzz_die("full CRLs");
	jpki_clock_freeze(jpki_clock_now() + 10);
	revoke_cert(leaf[1]);
	if (jpki_ca_crl_delta_refresh(fuzz_ca, &n) != 0 ||
	    jpki_ca_crl_get(&full, &fl, fuzz_ca, SCOPE) != 0 ||
	    jpki_ca_crl_delta_get(&delta, &dl, fuzz_ca, SCOPE) != 0)
		fuzz_die("delta CRL");
	for (size_t i = 0; i < 3; i++) {
		static const enum jpki_verify_status want[] = {
		    JPKI_VERIFY_REVOKED, JPKI_VERIFY_REVOKED, JPKI_VERIFY_GOOD};

		cert = asked_cert(X509_get0_serialNumber(leaf[i]));
		if (check(full, fl, delta, dl, cert, i == 1) != want[i])
			fuzz_die("self-check: the CA's own CRLs");
		X509_free(cert);
	}
	/* and the negatives: the delta missing, a delta for the full CRL */
	cert = asked_cert(X509_get0_serialNumber(leaf[1]));
	if (check(full, fl, NULL, 0, cert, 0) != JPKI_VERIFY_UNKNOWN ||
	    check(delta, dl, delta, dl, cert, 0) != JPKI_VERIFY_UNKNOWN)
		fuzz_die("self-check: refusals");
	X509_free(cert);
	if (dir != NULL)
		seeds(dir, full, fl, delta, dl);
	free(full);
	free(delta);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	char path[128];
	BIO *in;

	(void)argc;
	(void)argv;
	opts.crl_delta = 1;
	fuzz_ca_options = &opts;
	fuzz_ca_setup(PUBLIC_URL, cleanup);
	snprintf(path, sizeof(path), "%s/keys/sign-ca.key", fuzz_dir);
	if ((in = BIO_new_file(path, "r")) == NULL ||
	    (ca_key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL)) == NULL)
		fuzz_die("the CA's key");
	BIO_free(in);
	proxy_start();
	self_check();
	return 0;
}
