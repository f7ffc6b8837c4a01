/*
 * Log-in with the authentication certificate, the relying party's side of
 * docs/LOGIN.md: challenges handed out and remembered, and the answer
 * checked in the order the page gives.
 *
 *   GET  .../challenge  {"challenge": <43 chars of base64url>,
 *                        "expires": "YYYY-MM-DDTHH:MM:SSZ",
 *                        "origin": <ours>}
 *   POST .../response   {"challenge", "origin", "certificate" (base64 DER),
 *                        "signature" (base64)}, at most 64 KiB
 *   signed text         "JPKI-LOGIN-1\n" origin "\n" challenge
 *                       (RSA PKCS#1 v1.5, SHA-256)
 *   verdict             200 {"result": "accepted", "serial", "account"}
 *                       400 / 401 {"result": "refused", "error"}
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "jpki/verify.h"

#define CHALLENGE_BYTES 32
#define CHALLENGE_CHARS 43 /* base64url of 32 bytes, no padding */
#define DEFAULT_LIFETIME 120
#define DEFAULT_MAX_CHALLENGES 10000
#define MAX_SIGNATURE 512 /* RSA-4096 */
#define NO_SLOT UINT32_MAX
#define LOGIN_DOMAIN "JPKI-LOGIN-1"

/*
 * One challenge handed out. It stays in the table after it is spent or
 * expires, for one more lifetime, so that a late or repeated answer hears
 * "already used" or "expired" rather than "unknown".
 */
struct slot {
	unsigned char value[CHALLENGE_BYTES];
	time_t expires;
	int spent;
	uint32_t next; /* the next slot in the same hash bucket */
};

/*
 * The table: a ring of slots in the order they were issued (the oldest at
 * the tail goes first when the ring is full) with a chained hash index on
 * the value. Challenges are random, so their first bytes hash well; an
 * answer can only look up, never insert, so chosen values cannot lengthen
 * a chain.
 */
struct jpki_verify_login {
	char *origin;
	X509_STORE *store;
	STACK_OF(X509) * anchors;
	int (*status)(void *arg, X509 *cert, const char *serial,
		      enum jpki_verify_status *status, int *reason);
	int (*account)(void *arg, X509 *cert, const char *serial,
		       const char *origin, char *out, size_t out_size);
	void *arg;
	time_t lifetime;

	pthread_mutex_t lock;
	struct slot *slots;
	uint32_t cap;   /* slots in the ring */
	uint32_t head;  /* where the next challenge goes */
	uint32_t count; /* slots in use, ending just before head */
	uint32_t *buckets;
	uint32_t mask; /* buckets - 1, a power of two minus one */
};

/* ---- base64 ----------------------------------------------------------- */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(char *out, const unsigned char *p, size_t n)
{
	size_t i = 0, o = 0;

	for (; n - i >= 3; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = b64_url[v >> 18 & 63];
		out[o++] = b64_url[v >> 12 & 63];
		out[o++] = b64_url[v >> 6 & 63];
		out[o++] = b64_url[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64_url[p[i] >> 2];
		out[o++] = b64_url[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];

		out[o++] = b64_url[v >> 10 & 63];
		out[o++] = b64_url[v >> 4 & 63];
		out[o++] = b64_url[(v & 15) << 2];
	}
	out[o] = '\0';
}

static int b64_value(const char *alphabet, char c)
{
	const char *at = c != '\0' ? strchr(alphabet, c) : NULL;

	return at != NULL ? (int)(at - alphabet) : -1;
}

/*
 * Strict decoding: only the alphabet, padding exactly where `padded` asks
 * for it, and the unused low bits of the last character zero, so every
 * byte string has one text and nothing else is accepted. Writes at most
 * `cap` bytes; returns the count, or -1 for text that is not base64 or
 * would not fit.
 */
static long b64_decode(unsigned char *out, size_t cap, const char *alphabet,
		       int padded, const char *in, size_t n)
{
	size_t pad = 0, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (padded) {
		if (n % 4 != 0)
			return -1;
		while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
			pad++;
	} else if (n % 4 == 1) {
		return -1;
	}
	n -= pad;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(alphabet, in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* 2 or 4 bits left over; anything else was a bad length */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

/* ---- origins ---------------------------------------------------------- */

int jpki_verify_origin(char **out, const char *url)
{
	/* libcurl's URL parser, the one the client's requests go through */
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r = 0;

	*out = NULL;
	if (u == NULL)
		return JPKI_ERR_NOMEM;
	/* libcurl reads "http:///x" as host x; an origin needs it named */
	if (url == NULL || strstr(url, ":///") != NULL ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0' ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "'%s' is not an http:// or https:// URL with "
				 "a host",
				 url ? url : "");
		goto out;
	}
	for (char *h = host; *h; h++)
		if (*h >= 'A' && *h <= 'Z')
			*h = (char)(*h - 'A' + 'a');
	/* without CURLU_DEFAULT_PORT: only a port the URL names */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (port != NULL && strcmp(port, "0") == 0) {
		r = jpki_err_set(JPKI_ERR_INVALID, "'%s' names port 0", url);
		goto out;
	}
	if (port != NULL &&
	    strcmp(port, strcmp(scheme, "https") == 0 ? "443" : "80") == 0) {
		curl_free(port);
		port = NULL;
	}
	if (asprintf(out, "%s://%s%s%s", scheme, host, port ? ":" : "",
		     port ? port : "") < 0) {
		*out = NULL;
		r = JPKI_ERR_NOMEM;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

/* ---- the verifier ----------------------------------------------------- */

int jpki_verify_login_new(struct jpki_verify_login **out,
			  const struct jpki_verify_login_options *opts)
{
	struct jpki_verify_login *vl = NULL;
	X509_VERIFY_PARAM *param;
	uint32_t nbuckets = 1;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (opts == NULL ||
	    opts->version != JPKI_VERIFY_LOGIN_OPTIONS_VERSION ||
	    opts->origin == NULL || *opts->origin == '\0' ||
	    opts->anchors == NULL || opts->n_anchors == 0 ||
	    opts->status == NULL || opts->account == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a log-in verifier needs an origin, a "
				    "trusted CA and both callbacks");
	if (opts->max_challenges > 1u << 24)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "at most %u outstanding challenges",
				    1u << 24);
	if ((vl = calloc(1, sizeof(*vl))) == NULL)
		return JPKI_ERR_NOMEM;
	if (pthread_mutex_init(&vl->lock, NULL) != 0) {
		free(vl);
		return JPKI_ERR_INTERNAL;
	}
	vl->status = opts->status;
	vl->account = opts->account;
	vl->arg = opts->arg;
	vl->lifetime =
	    opts->lifetime ? (time_t)opts->lifetime : DEFAULT_LIFETIME;
	vl->cap = opts->max_challenges ? opts->max_challenges
				       : DEFAULT_MAX_CHALLENGES;
	while (nbuckets < vl->cap)
		nbuckets <<= 1;
	vl->mask = nbuckets - 1;
	if ((vl->origin = strdup(opts->origin)) == NULL ||
	    (vl->slots = calloc(vl->cap, sizeof(*vl->slots))) == NULL ||
	    (vl->buckets = malloc(nbuckets * sizeof(*vl->buckets))) == NULL ||
	    (vl->anchors = sk_X509_new_null()) == NULL ||
	    (vl->store = X509_STORE_new()) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nbuckets; i++)
		vl->buckets[i] = NO_SLOT;
	for (size_t i = 0; i < opts->n_anchors; i++) {
		if (opts->anchors[i] == NULL ||
		    !X509_STORE_add_cert(vl->store, opts->anchors[i]) ||
		    !sk_X509_push(vl->anchors, opts->anchors[i])) {
			r = jpki_err_set(JPKI_ERR_CRYPTO,
					 "trusted CA %zu cannot be used", i);
			goto out;
		}
		X509_up_ref(opts->anchors[i]);
	}
	/* An anchor need not be self-signed: a relying party may trust the
	 * authentication CA below some root of its own. */
	param = X509_STORE_get0_param(vl->store);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	*out = vl;
	vl = NULL;
	r = 0;
out:
	ERR_clear_error();
	jpki_verify_login_free(vl);
	return r;
}

void jpki_verify_login_free(struct jpki_verify_login *vl)
{
	if (vl == NULL)
		return;
	pthread_mutex_destroy(&vl->lock);
	free(vl->origin);
	X509_STORE_free(vl->store);
	sk_X509_pop_free(vl->anchors, X509_free);
	free(vl->slots);
	free(vl->buckets);
	free(vl);
}

const char *jpki_verify_login_origin(const struct jpki_verify_login *vl)
{
	return vl->origin;
}

/* ---- the table of challenges ----------------------------------------- */

static uint32_t bucket_of(const struct jpki_verify_login *vl,
			  const unsigned char value[CHALLENGE_BYTES])
{
	uint32_t h = (uint32_t)value[0] | (uint32_t)value[1] << 8 |
		     (uint32_t)value[2] << 16 | (uint32_t)value[3] << 24;

	return h & vl->mask;
}

static void unlink_slot(struct jpki_verify_login *vl, uint32_t i)
{
	uint32_t *link = &vl->buckets[bucket_of(vl, vl->slots[i].value)];

	while (*link != NO_SLOT && *link != i)
		link = &vl->slots[*link].next;
	if (*link == i)
		*link = vl->slots[i].next;
	vl->slots[i].next = NO_SLOT;
}

static uint32_t tail_of(const struct jpki_verify_login *vl)
{
	return (vl->head + vl->cap - vl->count) % vl->cap;
}

/* Forgets from the tail what nobody needs to hear about any more, then the
 * oldest if the ring is still full. */
static void make_room_locked(struct jpki_verify_login *vl, time_t now)
{
	while (vl->count > 0) {
		uint32_t t = tail_of(vl);

		if (now - vl->slots[t].expires < vl->lifetime &&
		    vl->count < vl->cap)
			break;
		unlink_slot(vl, t);
		vl->count--;
	}
}

int jpki_verify_login_challenge(struct jpki_verify_challenge *out,
				struct jpki_verify_login *vl)
{
	unsigned char value[CHALLENGE_BYTES];
	time_t now = jpki_clock_now();
	struct slot *s;
	uint32_t b;

	memset(out, 0, sizeof(*out));
	if (RAND_bytes(value, sizeof(value)) != 1) {
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	}
	pthread_mutex_lock(&vl->lock);
	make_room_locked(vl, now);
	s = &vl->slots[vl->head];
	memcpy(s->value, value, sizeof(value));
	s->expires = now + vl->lifetime;
	s->spent = 0;
	b = bucket_of(vl, value);
	s->next = vl->buckets[b];
	vl->buckets[b] = vl->head;
	vl->head = (vl->head + 1) % vl->cap;
	vl->count++;
	pthread_mutex_unlock(&vl->lock);
	b64url_encode(out->challenge, value, sizeof(value));
	out->expires = now + vl->lifetime;
	return 0;
}

/* Spends the challenge; says what it was before. */
static enum jpki_login_refusal spend(struct jpki_verify_login *vl,
				     const unsigned char value[CHALLENGE_BYTES])
{
	enum jpki_login_refusal why = JPKI_LOGIN_UNKNOWN_CHALLENGE;
	time_t now = jpki_clock_now();

	pthread_mutex_lock(&vl->lock);
	for (uint32_t i = vl->buckets[bucket_of(vl, value)]; i != NO_SLOT;
	     i = vl->slots[i].next) {
		struct slot *s = &vl->slots[i];

		if (CRYPTO_memcmp(s->value, value, CHALLENGE_BYTES) != 0)
			continue;
		if (s->spent)
			why = JPKI_LOGIN_USED_CHALLENGE;
		else if (now >= s->expires)
			why = JPKI_LOGIN_EXPIRED_CHALLENGE;
		else
			why = JPKI_LOGIN_ACCEPTED;
		s->spent = 1;
		break;
	}
	pthread_mutex_unlock(&vl->lock);
	return why;
}

static void utc_text(char out[21], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int jpki_verify_login_challenge_json(char **out,
				     const struct jpki_verify_login *vl,
				     const struct jpki_verify_challenge *ch)
{
	char expires[21];
	json_t *j;

	*out = NULL;
	utc_text(expires, ch->expires);
	j = json_pack("{s:s, s:s, s:s}", "challenge", ch->challenge, "expires",
		      expires, "origin", vl->origin);
	if (j == NULL || (*out = json_dumps(j, 0)) == NULL) {
		json_decref(j);
		return JPKI_ERR_NOMEM;
	}
	json_decref(j);
	return 0;
}

/* ---- checking an answer ----------------------------------------------- */

static void refuse(struct jpki_verify_login_result *res,
		   enum jpki_login_refusal why, const char *fmt, ...)
    JPKI_PRINTF(3, 4);

static void refuse(struct jpki_verify_login_result *res,
		   enum jpki_login_refusal why, const char *fmt, ...)
{
	va_list ap;

	res->accepted = 0;
	res->why = why;
	res->http_status = why <= JPKI_LOGIN_BAD_ENCODING ? 400 : 401;
	res->serial[0] = '\0';
	res->account[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

static const char *reason_name(int reason)
{
	static const char *const names[] = {
	    "unspecified",        "keyCompromise", "cACompromise",
	    "affiliationChanged", "superseded",    "cessationOfOperation",
	    "certificateHold",    "(unused)",      "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise",
	};

	if (reason < 0 || (size_t)reason >= sizeof(names) / sizeof(names[0]))
		return "unknown reason";
	return names[reason];
}

/* The four strings of an answer, as sent. */
struct answer {
	const char *challenge, *origin, *certificate, *signature;
	size_t certificate_len, signature_len;
};

/* Step 1: at most 64 KiB of JSON, an object with the four strings in the
 * shapes LOGIN.md gives them. Refuses into *res and returns 1, or 0. */
static int read_answer(struct jpki_verify_login_result *res, json_t **j,
		       struct answer *a, const unsigned char *body, size_t len)
{
	static const char *const names[] = {"challenge", "origin",
					    "certificate", "signature"};
	const char **fields[] = {&a->challenge, &a->origin, &a->certificate,
				 &a->signature};
	json_error_t err;

	if (len > JPKI_MAX_LOGIN_ANSWER) {
		refuse(res, JPKI_LOGIN_TOO_LARGE,
		       "the answer is larger than %d KiB",
		       JPKI_MAX_LOGIN_ANSWER / 1024);
		return 1;
	}
	/* Duplicate keys are refused: two "challenge" members would let the
	 * checker and a logger see different answers. */
	*j = json_loadb(len ? (const char *)body : "", len,
			JSON_REJECT_DUPLICATES, &err);
	if (*j == NULL) {
		refuse(res, JPKI_LOGIN_NOT_JSON,
		       "the answer is not well-formed JSON (at character %d)",
		       err.position);
		return 1;
	}
	if (!json_is_object(*j)) {
		refuse(res, JPKI_LOGIN_NOT_JSON,
		       "the answer is not a JSON object");
		return 1;
	}
	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(*j, names[i]);

		if (!json_is_string(v)) {
			refuse(res, JPKI_LOGIN_MISSING_FIELD,
			       "the answer has no string \"%s\"", names[i]);
			return 1;
		}
		*fields[i] = json_string_value(v);
	}
	a->certificate_len = strlen(a->certificate);
	a->signature_len = strlen(a->signature);
	return 0;
}

/* Step 4's first part: the profile of an authentication certificate. */
static int profile_refused(struct jpki_verify_login_result *res, X509 *cert)
{
	int type = jpki_profile_cert_type(cert);
	EVP_PKEY *key = X509_get0_pubkey(cert);

	if (type == JPKI_CERT_SIGN) {
		refuse(res, JPKI_LOGIN_NOT_AUTH_CERTIFICATE,
		       "the certificate is a signing certificate, not the "
		       "card's authentication certificate");
		return 1;
	}
	/* The policy itself, not the issuer's OU that profile falls back
	 * on for CA certificates: the OCSP signer and the CA certificate
	 * name the authentication CA too. */
	if (type != JPKI_CERT_AUTH ||
	    X509_get_ext_by_NID(cert, NID_certificate_policies, -1) < 0 ||
	    X509_check_ca(cert) != 0) {
		refuse(res, JPKI_LOGIN_NOT_AUTH_CERTIFICATE,
		       "the certificate does not follow the authentication "
		       "profile (policy " JPKI_OID_POLICY_AUTH ")");
		return 1;
	}
	if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE)) {
		refuse(res, JPKI_LOGIN_NOT_AUTH_CERTIFICATE,
		       "the certificate's key usage does not allow digital "
		       "signatures");
		return 1;
	}
	if (key == NULL || !EVP_PKEY_is_a(key, "RSA")) {
		refuse(res, JPKI_LOGIN_NOT_AUTH_CERTIFICATE,
		       "the certificate's key is not an RSA key");
		return 1;
	}
	return 0;
}

/* Step 4's second part: issued by an anchor (picked by authority key id,
 * as CA generations share a DN), a good chain, within validity now. */
static int chain_refused(struct jpki_verify_login_result *res,
			 struct jpki_verify_login *vl, X509 *cert, int *failed)
{
	X509_STORE_CTX *ctx = NULL;
	int issued = 0, refused = 1, err, depth;

	*failed = 0;
	for (int i = 0; i < sk_X509_num(vl->anchors) && !issued; i++)
		issued = X509_check_issued(sk_X509_value(vl->anchors, i),
					   cert) == X509_V_OK;
	if (!issued) {
		refuse(res, JPKI_LOGIN_UNTRUSTED,
		       "the certificate was not issued by a trusted "
		       "authentication CA");
		return 1;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, vl->store, cert, NULL)) {
		*failed = 1;
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
				   jpki_clock_now());
	if (X509_verify_cert(ctx) == 1) {
		refused = 0;
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	depth = X509_STORE_CTX_get_error_depth(ctx);
	if (depth == 0 && err == X509_V_ERR_CERT_HAS_EXPIRED)
		refuse(res, JPKI_LOGIN_CERT_EXPIRED,
		       "the certificate has expired");
	else if (depth == 0 && err == X509_V_ERR_CERT_NOT_YET_VALID)
		refuse(res, JPKI_LOGIN_CERT_NOT_YET_VALID,
		       "the certificate is not valid yet");
	else if (depth == 0)
		refuse(res, JPKI_LOGIN_UNTRUSTED,
		       "the certificate does not chain to a trusted "
		       "authentication CA (%s)",
		       X509_verify_cert_error_string(err));
	else
		refuse(res, JPKI_LOGIN_UNTRUSTED,
		       "the authentication CA's certificate cannot be relied "
		       "on (%s)",
		       X509_verify_cert_error_string(err));
out:
	X509_STORE_CTX_free(ctx);
	return refused;
}

/* The serial as the CA writes it (BN_bn2hex: upper case, no leading
 * zeros); 0, or -1 for a serial outside RFC 5280's 20 positive bytes. */
static int serial_hex(char out[41], X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;
	int r = -1;

	if (hex != NULL && strlen(hex) <= 40) {
		memcpy(out, hex, strlen(hex) + 1);
		r = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

/* Step 5: RSA PKCS#1 v1.5 with SHA-256 over the three lines. */
static int signature_ok(X509 *cert, const char *origin, const char *challenge,
			const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	char *text = NULL;
	int n, ok = 0;

	n = asprintf(&text, LOGIN_DOMAIN "\n%s\n%s", origin, challenge);
	if (md != NULL && n >= 0 &&
	    EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
				 X509_get0_pubkey(cert)) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1)
		ok = EVP_DigestVerify(md, sig, sig_len,
				      (const unsigned char *)text,
				      (size_t)n) == 1;
	if (n < 0)
		text = NULL;
	free(text);
	EVP_MD_CTX_free(md);
	return ok;
}

int jpki_verify_login_check(struct jpki_verify_login_result *out,
			    struct jpki_verify_login *vl,
			    const unsigned char *body, size_t len)
{
	unsigned char value[CHALLENGE_BYTES], sig[MAX_SIGNATURE];
	unsigned char *der = NULL;
	const unsigned char *p;
	struct answer a = {0};
	enum jpki_verify_status status = JPKI_VERIFY_UNKNOWN;
	enum jpki_login_refusal why;
	json_t *j = NULL;
	X509 *cert = NULL;
	long der_len, sig_len;
	int r = JPKI_ERR_INTERNAL, reason = 0, failed;

	memset(out, 0, sizeof(*out));
	out->http_status = 500;
	snprintf(out->reason, sizeof(out->reason),
		 "the log-in service failed; try again later");
	if (body == NULL && len > 0) {
		r = jpki_err_set(JPKI_ERR_INVALID, "no answer bytes");
		goto out;
	}

	/* 1. well-formed */
	if (read_answer(out, &j, &a, body, len))
		goto verdict;
	if (strlen(a.challenge) != CHALLENGE_CHARS ||
	    b64_decode(value, sizeof(value), b64_url, 0, a.challenge,
		       CHALLENGE_CHARS) != CHALLENGE_BYTES) {
		refuse(out, JPKI_LOGIN_BAD_ENCODING,
		       "the challenge is not %d characters of base64url",
		       CHALLENGE_CHARS);
		goto verdict;
	}
	if (a.certificate_len > (JPKI_MAX_CERT + 2) / 3 * 4) {
		refuse(out, JPKI_LOGIN_BAD_ENCODING,
		       "the certificate is larger than %d KiB",
		       JPKI_MAX_CERT / 1024);
		goto verdict;
	}
	if ((der = malloc(a.certificate_len / 4 * 3 + 1)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((der_len = b64_decode(der, a.certificate_len / 4 * 3, b64_std, 1,
				  a.certificate, a.certificate_len)) <= 0) {
		refuse(out, JPKI_LOGIN_BAD_ENCODING,
		       "the certificate is not standard base64");
		goto verdict;
	}
	if ((sig_len = b64_decode(sig, sizeof(sig), b64_std, 1, a.signature,
				  a.signature_len)) <= 0) {
		refuse(out, JPKI_LOGIN_BAD_ENCODING,
		       "the signature is not standard base64 of at most %d "
		       "bytes",
		       MAX_SIGNATURE);
		goto verdict;
	}

	/* 2. our challenge, spent now whatever follows */
	if ((why = spend(vl, value)) != JPKI_LOGIN_ACCEPTED) {
		refuse(out, why,
		       why == JPKI_LOGIN_USED_CHALLENGE
			   ? "the challenge was already used"
		       : why == JPKI_LOGIN_EXPIRED_CHALLENGE
			   ? "the challenge has expired; fetch a new one"
			   : "the challenge was not issued by this site, "
			     "or has been forgotten");
		goto verdict;
	}

	/* 3. bound to us; the sent origin is not echoed back, it is
	 * whatever the sender chose */
	if (strcmp(a.origin, vl->origin) != 0) {
		refuse(out, JPKI_LOGIN_WRONG_ORIGIN,
		       "the answer was made for another site, not %s",
		       vl->origin);
		goto verdict;
	}

	/* 4. an authentication certificate we trust, good today */
	p = der;
	if ((cert = d2i_X509(NULL, &p, der_len)) == NULL ||
	    p != der + der_len) {
		refuse(out, JPKI_LOGIN_BAD_CERTIFICATE,
		       "the certificate is not a DER X.509 certificate");
		goto verdict;
	}
	if (serial_hex(out->serial, cert) != 0) {
		refuse(out, JPKI_LOGIN_BAD_CERTIFICATE,
		       "the certificate's serial number is not a positive "
		       "number of at most 20 bytes");
		goto verdict;
	}
	if (profile_refused(out, cert))
		goto verdict;
	if (chain_refused(out, vl, cert, &failed)) {
		if (failed) {
			r = jpki_err_set(JPKI_ERR_CRYPTO,
					 "cannot set up chain verification");
			goto out;
		}
		goto verdict;
	}
	if ((r = vl->status(vl->arg, cert, out->serial, &status, &reason)) != 0)
		goto out;
	r = JPKI_ERR_INTERNAL;
	if (status == JPKI_VERIFY_REVOKED && reason == 6) {
		refuse(out, JPKI_LOGIN_REVOKED,
		       "the certificate is suspended (certificateHold)");
		goto verdict;
	}
	if (status == JPKI_VERIFY_REVOKED) {
		refuse(out, JPKI_LOGIN_REVOKED,
		       "the certificate has been revoked (%s)",
		       reason_name(reason));
		goto verdict;
	}
	if (status != JPKI_VERIFY_GOOD) {
		refuse(out, JPKI_LOGIN_STATUS_UNKNOWN,
		       "the certificate is unknown to its CA");
		goto verdict;
	}

	/* 5. the card signed our origin and the challenge */
	if (!signature_ok(cert, vl->origin, a.challenge, sig,
			  (size_t)sig_len)) {
		refuse(out, JPKI_LOGIN_BAD_SIGNATURE,
		       "the signature does not verify with the certificate's "
		       "key over this site's challenge");
		goto verdict;
	}

	if ((r = vl->account(vl->arg, cert, out->serial, vl->origin,
			     out->account, sizeof(out->account))) != 0)
		goto out;
	out->account[sizeof(out->account) - 1] = '\0';
	out->accepted = 1;
	out->why = JPKI_LOGIN_ACCEPTED;
	out->http_status = 200;
	out->reason[0] = '\0';
verdict:
	r = 0;
out:
	if (r != 0) {
		out->accepted = 0;
		out->http_status = 500;
		out->serial[0] = '\0';
		out->account[0] = '\0';
		snprintf(out->reason, sizeof(out->reason),
			 "the log-in service failed; try again later");
	}
	ERR_clear_error();
	X509_free(cert);
	free(der);
	json_decref(j);
	return r;
}

int jpki_verify_login_result_json(char **out,
				  const struct jpki_verify_login_result *res)
{
	json_t *j;

	*out = NULL;
	if (res->accepted)
		j = json_pack("{s:s, s:s, s:s}", "result", "accepted", "serial",
			      res->serial, "account", res->account);
	else
		j = json_pack("{s:s, s:s}", "result", "refused", "error",
			      res->reason);
	if (j == NULL || (*out = json_dumps(j, 0)) == NULL) {
		json_decref(j);
		return JPKI_ERR_NOMEM;
	}
	json_decref(j);
	return 0;
}
