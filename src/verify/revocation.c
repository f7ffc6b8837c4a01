/*
 * Revocation status of a signing certificate for the agency: OCSP first
 * (the responder named in the certificate's authorityInfoAccess, asked
 * with a nonce, answered under the issuer or its delegated signer, fresh
 * by thisUpdate / nextUpdate), and when the responder cannot answer, the
 * CRL of the certificate's distribution point (its municipality's
 * partition), fetched over HTTP, verified with the issuer's key, and kept
 * in a cache until its nextUpdate. OpenSSL reads every byte; libcurl
 * moves them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "verify/verify_internal.h"

/* An OCSP answer is small; a CRL of a large city is not. Anything over
 * these is not what we asked for. */
#define OCSP_RESPONSE_MAX (64 * 1024)
#define CRL_MAX (16 * 1024 * 1024)
#define DEFAULT_TIMEOUT_MS 5000L
#define DEFAULT_SKEW 300L
/* Japan has about 1,700 municipalities, one signing CRL each. */
#define CACHE_MAX_ENTRIES 4096

const char *verify_reason_name(int reason)
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

const char *jpki_verify_crl_reason_name(int reason)
{
	return verify_reason_name(reason);
}

/* ---- HTTP --------------------------------------------------------------- */

struct body {
	unsigned char *buf;
	size_t cap, len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n;

	if (len > b->cap - b->len)
		return 0; /* over the cap: curl fails the transfer */
	if (b->buf == NULL && (b->buf = malloc(b->cap)) == NULL)
		return 0;
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	return len;
}

/* GET, or POST of `post` when not NULL. 0 with an HTTP 200 body in *b
 * (caller frees b->buf), or -1 with a sentence in detail. */
static int fetch(struct body *b, char *detail, size_t detail_size,
		 const char *url, const char *content_type, const void *post,
		 size_t post_len, long timeout_ms)
{
	struct curl_slist *hdr = NULL;
	char err[CURL_ERROR_SIZE] = "", ctype[128];
	CURL *c = curl_easy_init();
	CURLcode rc;
	long code = 0;

	b->len = 0;
	if (c == NULL) {
		snprintf(detail, detail_size, "out of memory");
		return -1;
	}
	if (post != NULL) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 content_type);
		hdr = curl_slist_append(hdr, ctype);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)post_len);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* a URL in a certificate must not reach file:// or other schemes */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(detail, detail_size, "%s is not reachable: %s", url,
			 err[0] ? err : curl_easy_strerror(rc));
		return -1;
	}
	if (code != 200) {
		snprintf(detail, detail_size, "%s answered HTTP %ld", url,
			 code);
		return -1;
	}
	if (b->len == 0) {
		snprintf(detail, detail_size, "%s answered nothing", url);
		return -1;
	}
	return 0;
}

static time_t asn1_time_t(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

/* ---- OCSP --------------------------------------------------------------- */

/*
 * Reads the status of `id` from a response `der` (the bytes as the
 * responder sent them) issued for `issuer`, checked as of `now`: signed
 * by the issuer or its delegated signer, thisUpdate not after `now`, not
 * out of date. With `req`, its nonce must be answered
 * (a live exchange; a kept response was checked for it when it came).
 * 0 answered into *out, -1 with a sentence in why.
 */
static int read_ocsp(struct jpki_verify_revocation *out, char *why,
		     size_t why_size, const unsigned char *der, size_t len,
		     OCSP_REQUEST *req, OCSP_CERTID *id, X509 *issuer,
		     time_t now, long skew)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *basic = NULL;
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *signers = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *this_upd = NULL, *next_upd = NULL;
	const ASN1_GENERALIZEDTIME *produced;
	int status, reason = -1, r = -1;

	if (store == NULL) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	if (len > OCSP_RESPONSE_MAX ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL) {
		snprintf(why, why_size, "it is no usable OCSP answer");
		goto out;
	}
	/* a replayed answer would hide a revocation made since */
	if (req != NULL && OCSP_check_nonce(req, basic) != 1) {
		snprintf(why, why_size, "the OCSP answer does not carry our "
					"nonce");
		goto out;
	}
	/* The issuer the certificate chained to is the only anchor: the
	 * answer must come from it or a signer it delegated to, checked at
	 * our clock's time, not the system's. The issuer is also offered as
	 * the signer, for an answer signed by the CA key itself, which
	 * carries no certificate (jpki serve --ocsp-signer ca). */
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), now);
	if ((signers = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(signers, issuer) ||
	    !X509_STORE_add_cert(store, issuer) ||
	    OCSP_basic_verify(basic, signers, store, 0) != 1) {
		snprintf(why, why_size,
			 "the OCSP answer is not signed for the certificate's "
			 "CA");
		goto out;
	}
	if (!OCSP_resp_find_status(basic, id, &status, &reason, &rev,
				   &this_upd, &next_upd)) {
		snprintf(why, why_size,
			 "the OCSP answer is about another certificate");
		goto out;
	}
	/* Recorded, not compared: OpenSSL stamps producedAt from the system
	 * clock when the CA signs, while the service's clock may be moved
	 * (JPKI_NOW); thisUpdate is the CA's own clock. */
	produced = OCSP_resp_get0_produced_at(basic);
	/* OCSP_check_validity reads the system clock; ours may be moved */
	if (this_upd == NULL || asn1_time_t(this_upd) > now + skew ||
	    (next_upd != NULL && asn1_time_t(next_upd) < now - skew) ||
	    (next_upd == NULL && asn1_time_t(this_upd) < now - skew)) {
		snprintf(why, why_size, "the OCSP answer is out of date");
		goto out;
	}
	if (status == V_OCSP_CERTSTATUS_GOOD) {
		out->status = JPKI_VERIFY_GOOD;
	} else if (status == V_OCSP_CERTSTATUS_REVOKED) {
		out->status = JPKI_VERIFY_REVOKED;
		out->reason = reason < 0 ? 0 : reason;
		out->revoked_at = asn1_time_t(rev);
	} else {
		out->status = JPKI_VERIFY_UNKNOWN;
	}
	out->this_update = asn1_time_t(this_upd);
	out->produced_at = asn1_time_t(produced);
	out->source = "ocsp";
	r = 0;
out:
	ERR_clear_error();
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(basic);
	sk_X509_free(signers);
	X509_STORE_free(store);
	return r;
}

/* Hands the response bytes to the caller who asked to keep them. */
static void keep_ocsp(struct jpki_verify_revocation *out,
		      const struct jpki_verify_options *opts, struct body *b)
{
	if (!opts->keep_evidence)
		return;
	out->ocsp_der = b->buf;
	out->ocsp_der_len = b->len;
	b->buf = NULL;
}

/* 0 answered into *out, -1 with out->detail. */
static int ask_ocsp(struct jpki_verify_revocation *out,
		    const struct jpki_verify_options *opts, X509 *cert,
		    X509 *issuer, long timeout_ms, long skew, time_t now)
{
	struct body b = {NULL, OCSP_RESPONSE_MAX, 0};
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	const char *url = opts->ocsp_url;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer), *asked;
	unsigned char *der = NULL;
	char why[320];
	int der_len, r = -1;

	if (url == NULL && urls != NULL && sk_OPENSSL_STRING_num(urls) > 0)
		url = sk_OPENSSL_STRING_value(urls, 0);
	if (url == NULL && opts->ocsp_ask != NULL)
		url = "(in-process)";
	if (url == NULL) {
		snprintf(out->detail, sizeof(out->detail),
			 "the certificate names no OCSP responder");
		goto out;
	}
	if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) == NULL) {
		snprintf(out->detail, sizeof(out->detail),
			 "cannot build the OCSP request");
		goto out;
	}
	asked = id; /* the request owns it now; borrowed below */
	id = NULL;
	if (!OCSP_request_add1_nonce(req, NULL, -1) ||
	    (der_len = i2d_OCSP_REQUEST(req, &der)) <= 0) {
		snprintf(out->detail, sizeof(out->detail),
			 "cannot build the OCSP request");
		goto out;
	}
	if (opts->ocsp_ask != NULL) {
		if (opts->ocsp_ask(opts->ocsp_ask_arg, der, (size_t)der_len,
				   &b.buf, &b.len) != 0 ||
		    b.buf == NULL) {
			snprintf(out->detail, sizeof(out->detail),
				 "the OCSP responder did not answer: %s",
				 jpki_err_detail());
			goto out;
		}
	} else if (fetch(&b, why, sizeof(why), url,
			 "application/ocsp-request", der, (size_t)der_len,
			 timeout_ms) != 0) {
		snprintf(out->detail, sizeof(out->detail),
			 "the OCSP responder: %s", why);
		goto out;
	}
	if (read_ocsp(out, why, sizeof(why), b.buf, b.len, req, asked, issuer,
		      now, skew) != 0) {
		snprintf(out->detail, sizeof(out->detail),
			 "the OCSP responder %s: %s", url, why);
		goto out;
	}
	keep_ocsp(out, opts, &b);
	r = 0;
out:
	ERR_clear_error();
	free(b.buf);
	X509_email_free(urls);
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	return r;
}

/* The status from an OCSP response kept at receipt, as of opts->at: 0
 * answered, -1 with out->detail. */
static int kept_ocsp(struct jpki_verify_revocation *out,
		     const struct jpki_verify_options *opts, X509 *cert,
		     X509 *issuer, long skew, time_t now)
{
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
	char why[320];
	int r = -1;

	if (id == NULL)
		snprintf(why, sizeof(why), "cannot name the certificate");
	else if (read_ocsp(out, why, sizeof(why), opts->ocsp_response,
			   opts->ocsp_response_len, NULL, id, issuer, now,
			   skew) == 0)
		r = 0;
	if (r != 0)
		snprintf(out->detail, sizeof(out->detail),
			 "the kept OCSP response: %s", why);
	ERR_clear_error();
	OCSP_CERTID_free(id);
	return r;
}

/* ---- the CRL cache ---------------------------------------------------------
 */

struct cache_entry {
	char *url;
	X509_CRL *crl;
	time_t next_update;
};

struct jpki_verify_crl_cache {
	pthread_mutex_t lock;
	struct cache_entry *e;
	size_t n;
};

int jpki_verify_crl_cache_new(struct jpki_verify_crl_cache **out)
{
	struct jpki_verify_crl_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return JPKI_ERR_NOMEM;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return JPKI_ERR_INTERNAL;
	}
	*out = c;
	return 0;
}

void jpki_verify_crl_cache_free(struct jpki_verify_crl_cache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->n; i++) {
		free(cache->e[i].url);
		X509_CRL_free(cache->e[i].crl);
	}
	free(cache->e);
	pthread_mutex_destroy(&cache->lock);
	free(cache);
}

size_t jpki_verify_crl_cache_count(struct jpki_verify_crl_cache *cache)
{
	size_t n;

	pthread_mutex_lock(&cache->lock);
	n = cache->n;
	pthread_mutex_unlock(&cache->lock);
	return n;
}

/* A new reference to the cached CRL of `url` while it is current. */
static X509_CRL *cache_get(struct jpki_verify_crl_cache *c, const char *url,
			   time_t now)
{
	X509_CRL *crl = NULL;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].url, url) == 0) {
			if (now <= c->e[i].next_update &&
			    X509_CRL_up_ref(c->e[i].crl))
				crl = c->e[i].crl;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return crl;
}

/* Keeps `crl` (a new reference is taken) for `url`; replaces an older one,
 * and when full, drops the one that expires first. Best effort: a cache
 * that cannot grow only costs a fetch next time. */
static void cache_put(struct jpki_verify_crl_cache *c, const char *url,
		      X509_CRL *crl, time_t next_update)
{
	struct cache_entry *slot = NULL;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n && slot == NULL; i++)
		if (strcmp(c->e[i].url, url) == 0)
			slot = &c->e[i];
	if (slot == NULL && c->n == CACHE_MAX_ENTRIES) {
		slot = &c->e[0];
		for (size_t i = 1; i < c->n; i++)
			if (c->e[i].next_update < slot->next_update)
				slot = &c->e[i];
	}
	if (slot == NULL) {
		struct cache_entry *grown =
		    realloc(c->e, (c->n + 1) * sizeof(*c->e));
		char *copy = strdup(url);

		if (grown == NULL || copy == NULL) {
			free(copy);
			if (grown != NULL)
				c->e = grown;
			goto out;
		}
		c->e = grown;
		slot = &c->e[c->n++];
		slot->url = copy;
		slot->crl = NULL;
	} else if (strcmp(slot->url, url) != 0) {
		char *copy = strdup(url);

		if (copy == NULL)
			goto out;
		free(slot->url);
		slot->url = copy;
	}
	if (!X509_CRL_up_ref(crl))
		goto out;
	X509_CRL_free(slot->crl);
	slot->crl = crl;
	slot->next_update = next_update;
out:
	pthread_mutex_unlock(&c->lock);
}

/* ---- CRL -------------------------------------------------------------- */

/* The first URI of the certificate's CRL distribution points; borrowed
 * from `dps`. */
static const char *crl_url(CRL_DIST_POINTS *dps)
{
	for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (int j = 0;
		     j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
		     j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(
			    dp->distpoint->name.fullname, j);
			int type;
			ASN1_IA5STRING *uri =
			    GENERAL_NAME_get0_value(gn, &type);

			if (type == GEN_URI && uri != NULL)
				return (const char *)ASN1_STRING_get0_data(uri);
		}
	}
	return NULL;
}

/*
 * A partition must say it covers `url`: otherwise another municipality's
 * CRL, as validly signed, would pass for this certificate's. A CRL with
 * no distribution point of its own is a full CRL and covers everything.
 */
static int crl_covers(X509_CRL *crl, const char *url)
{
	int crit = 0, found = 0;
	ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(
	    crl, NID_issuing_distribution_point, &crit, NULL);

	if (idp == NULL)
		return crit == -1; /* absent, not malformed */
	if (idp->distpoint != NULL && idp->distpoint->type == 0) {
		GENERAL_NAMES *names = idp->distpoint->name.fullname;

		for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
			int type;
			ASN1_IA5STRING *uri = GENERAL_NAME_get0_value(
			    sk_GENERAL_NAME_value(names, i), &type);

			found =
			    type == GEN_URI && uri != NULL &&
			    (size_t)ASN1_STRING_length(uri) == strlen(url) &&
			    memcmp(ASN1_STRING_get0_data(uri), url,
				   strlen(url)) == 0;
		}
	} else if (idp->distpoint == NULL) {
		found = 1;
	}
	found = found && !idp->onlyCA && !idp->onlyattr &&
		idp->onlysomereasons == NULL;
	ISSUING_DIST_POINT_free(idp);
	return found;
}

/* Checks a CRL for `cert` under `issuer`: 0, or -1 with a sentence. */
static int crl_usable(char *detail, size_t size, X509_CRL *crl, X509 *issuer,
		      const char *url, time_t now, long skew)
{
	EVP_PKEY *key = X509_get0_pubkey(issuer);
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
			  X509_get_subject_name(issuer)) != 0 ||
	    key == NULL || X509_CRL_verify(crl, key) != 1) {
		snprintf(detail, size,
			 "the CRL %s is not signed by the "
			 "certificate's CA",
			 url);
		return -1;
	}
	if (asn1_time_t(X509_CRL_get0_lastUpdate(crl)) > now + skew ||
	    next == NULL || asn1_time_t(next) < now - skew) {
		snprintf(detail, size, "the CRL %s is out of date", url);
		return -1;
	}
	if (!crl_covers(crl, url)) {
		snprintf(detail, size,
			 "the CRL %s does not cover the "
			 "certificate's distribution point",
			 url);
		return -1;
	}
	return 0;
}

/* What identifies the CRL relied on: its number and the SHA-256 of its
 * DER, so the CA's archived copy can be found and recognised later. */
static void crl_evidence(struct jpki_verify_revocation *out, X509_CRL *crl)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL,
						 NULL);
	BIGNUM *bn = num ? ASN1_INTEGER_to_BN(num, NULL) : NULL;
	char *dec = bn ? BN_bn2dec(bn) : NULL;
	unsigned char md[32], *der = NULL;
	int len = i2d_X509_CRL(crl, &der);

	if (dec != NULL && strlen(dec) < sizeof(out->crl_number))
		memcpy(out->crl_number, dec, strlen(dec) + 1);
	if (len > 0 && SHA256(der, (size_t)len, md) != NULL)
		for (size_t i = 0; i < sizeof(md); i++)
			snprintf(out->crl_sha256 + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
	OPENSSL_free(dec);
	BN_free(bn);
	ASN1_INTEGER_free(num);
	ERR_clear_error();
}

/* A CRL extension's INTEGER (CRLNumber, BaseCRLNumber); NULL if absent or
 * malformed. Caller frees. */
static ASN1_INTEGER *crl_int(X509_CRL *crl, int nid)
{
	return X509_CRL_get_ext_d2i(crl, nid, NULL, NULL);
}

/*
 * The delta CRL that the complete CRL `full` names in its FreshestCRL
 * extension (RFC 5280 5.2.6), fetched afresh (a delta is small and changes
 * with every revocation, so it is never cached), checked as the full CRL
 * is (issuer, signature, dates, the same distribution point) and against
 * it: a DeltaCRLIndicator whose base number is not above the full CRL's,
 * and a CRL number above it (5.2.4; what OpenSSL's -use_deltas checks).
 * 0 with *out (NULL: no FreshestCRL, or a delta no newer than the full
 * CRL, which then says everything), 1 when the delta is against a newer
 * full CRL than `full` (fetch that one), -1 with a sentence in why.
 */
static int fetch_delta(X509_CRL **out, char *why, size_t size, X509_CRL *full,
		       X509 *issuer, const char *url, long timeout_ms,
		       time_t now, long skew)
{
	int crit = 0, r = -1;
	CRL_DIST_POINTS *dps =
	    X509_CRL_get_ext_d2i(full, NID_freshest_crl, &crit, NULL);
	const char *delta_url = crl_url(dps);
	struct body b = {NULL, CRL_MAX, 0};
	X509_CRL *delta = NULL;
	ASN1_INTEGER *base = NULL, *full_num = NULL, *delta_num = NULL;
	const unsigned char *p;
	char inner[320];

	*out = NULL;
	if (dps == NULL && crit == -1)
		return 0; /* no delta CRLs for this scope */
	if (delta_url == NULL) {
		snprintf(why, size,
			 "the CRL %s names its delta CRL in no URL it can "
			 "read",
			 url);
		goto out;
	}
	if (fetch(&b, inner, sizeof(inner), delta_url, NULL, NULL, 0,
		  timeout_ms) != 0) {
		snprintf(why, size, "its delta CRL: %.240s", inner);
		goto out;
	}
	p = b.buf;
	if ((delta = d2i_X509_CRL(NULL, &p, (long)b.len)) == NULL ||
	    p != b.buf + b.len) {
		snprintf(why, size, "%s did not answer a DER CRL", delta_url);
		goto out;
	}
	if (crl_usable(inner, sizeof(inner), delta, issuer, url, now, skew) !=
	    0) {
		snprintf(why, size, "the delta CRL %.60s: %.200s", delta_url,
			 inner);
		goto out;
	}
	if ((base = crl_int(delta, NID_delta_crl)) == NULL ||
	    (delta_num = crl_int(delta, NID_crl_number)) == NULL ||
	    (full_num = crl_int(full, NID_crl_number)) == NULL) {
		snprintf(why, size,
			 "%s is not a delta CRL (no base or CRL number) for "
			 "the numbered CRL %s",
			 delta_url, url);
		goto out;
	}
	if (ASN1_INTEGER_cmp(base, full_num) > 0) {
		snprintf(why, size,
			 "the delta CRL %s is against CRL number %ld, newer "
			 "than the CRL %s (number %ld)",
			 delta_url, ASN1_INTEGER_get(base), url,
			 ASN1_INTEGER_get(full_num));
		r = 1;
		goto out;
	}
	r = 0;
	/* issued before the full CRL: the full CRL already says it all */
	if (ASN1_INTEGER_cmp(delta_num, full_num) <= 0)
		goto out;
	*out = delta;
	delta = NULL;
out:
	ERR_clear_error();
	free(b.buf);
	X509_CRL_free(delta);
	ASN1_INTEGER_free(base);
	ASN1_INTEGER_free(full_num);
	ASN1_INTEGER_free(delta_num);
	CRL_DIST_POINTS_free(dps);
	return r;
}

/* Reads `cert`'s entry in `crl` into *out: 1 listed, 0 not. */
static int crl_entry(struct jpki_verify_revocation *out, X509_CRL *crl,
		     X509 *cert)
{
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *code;
	int found = X509_CRL_get0_by_cert(crl, &rev, cert);

	/* 2: listed as removeFromCRL (RFC 5280 5.3.1): good again */
	if (found == 2) {
		out->status = JPKI_VERIFY_GOOD;
		out->reason = -1;
		out->revoked_at = 0;
		return 1;
	}
	if (found != 1)
		return 0;
	code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	out->status = JPKI_VERIFY_REVOKED;
	out->reason = code ? (int)ASN1_ENUMERATED_get(code) : 0;
	out->revoked_at = asn1_time_t(X509_REVOKED_get0_revocationDate(rev));
	ASN1_ENUMERATED_free(code);
	return 1;
}

/* 0 answered into *out, -1 with out->detail (appended to OCSP's). */
static int ask_crl(struct jpki_verify_revocation *out,
		   const struct jpki_verify_options *opts, X509 *cert,
		   X509 *issuer, long timeout_ms, long skew, time_t now)
{
	CRL_DIST_POINTS *dps =
	    X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	const char *url = crl_url(dps);
	struct body b = {NULL, CRL_MAX, 0};
	X509_CRL *crl = NULL, *delta = NULL;
	char why[320];
	int r = -1, cached = 0, d;

	if (url == NULL) {
		snprintf(why, sizeof(why),
			 "the certificate names no CRL distribution point");
		goto fail;
	}
	if (opts->crl_cache != NULL &&
	    (crl = cache_get(opts->crl_cache, url, now)) != NULL &&
	    crl_usable(why, sizeof(why), crl, issuer, url, now, skew) != 0) {
		X509_CRL_free(crl);
		crl = NULL;
	}
	cached = crl != NULL;
again:
	if (crl == NULL) {
		const unsigned char *p;

		if (fetch(&b, why, sizeof(why), url, NULL, NULL, 0,
			  timeout_ms) != 0)
			goto fail;
		p = b.buf;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)b.len)) == NULL ||
		    p != b.buf + b.len) {
			snprintf(why, sizeof(why),
				 "%s did not answer a DER "
				 "CRL",
				 url);
			goto fail;
		}
		if (crl_usable(why, sizeof(why), crl, issuer, url, now, skew) !=
		    0)
			goto fail;
		/* a delta lists changes only: taken for a complete CRL it
		 * would hide every earlier revocation */
		if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
			snprintf(why, sizeof(why),
				 "%s answered a delta CRL, not a complete one",
				 url);
			goto fail;
		}
		if (opts->crl_cache != NULL)
			cache_put(opts->crl_cache, url, crl,
				  asn1_time_t(X509_CRL_get0_nextUpdate(crl)));
	}
	/* With a FreshestCRL, the delta too: without it the full CRL can be
	 * a period old. A delta against a newer full CRL than the cached one
	 * sends for that one, once. */
	if ((d = fetch_delta(&delta, why, sizeof(why), crl, issuer, url,
			     timeout_ms, now, skew)) == 1 && cached) {
		X509_CRL_free(crl);
		crl = NULL;
		cached = 0;
		goto again;
	}
	if (d != 0)
		goto fail;
	out->status = JPKI_VERIFY_GOOD;
	if (delta == NULL || !crl_entry(out, delta, cert))
		crl_entry(out, crl, cert);
	out->source = "crl";
	out->this_update = asn1_time_t(
		X509_CRL_get0_lastUpdate(delta != NULL ? delta : crl));
	/* the delta names its base by number: it identifies both */
	if (opts->keep_evidence)
		crl_evidence(out, delta != NULL ? delta : crl);
	r = 0;
	goto out;
fail : {
	size_t used = strlen(out->detail);

	snprintf(out->detail + used, sizeof(out->detail) - used,
		 "%sthe CRL: %s", used ? "; " : "", why);
}
out:
	ERR_clear_error();
	free(b.buf);
	X509_CRL_free(crl);
	X509_CRL_free(delta);
	CRL_DIST_POINTS_free(dps);
	return r;
}

int jpki_verify_revocation(struct jpki_verify_revocation *out,
		      const struct jpki_verify_options *opts, X509 *cert,
		      X509 *issuer)
{
	long timeout_ms =
	    opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	long skew = opts->max_skew > 0 ? opts->max_skew : DEFAULT_SKEW;
	time_t now = opts->at != 0 ? opts->at : jpki_clock_now();

	memset(out, 0, sizeof(*out));
	out->status = JPKI_VERIFY_UNKNOWN;
	out->reason = -1;
	if (opts->status != NULL) {
		BIGNUM *bn =
		    ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		int r;

		BN_free(bn);
		if (hex == NULL)
			return JPKI_ERR_NOMEM;
		r = opts->status(opts->status_arg, cert, issuer, hex,
				 &out->status, &out->reason);
		OPENSSL_free(hex);
		out->source = "callback";
		return r;
	}
	if (opts->ocsp_response != NULL)
		return kept_ocsp(out, opts, cert, issuer, skew, now) == 0 ? 0
									  : 1;
	if (opts->ocsp_ask != NULL)
		return ask_ocsp(out, opts, cert, issuer, timeout_ms, skew,
				now) == 0
			   ? 0
			   : 1;
	if (opts->offline) {
		snprintf(out->detail, sizeof(out->detail),
			 "revocation is not checked offline");
		return 1;
	}
	if (ask_ocsp(out, opts, cert, issuer, timeout_ms, skew, now) == 0)
		return 0;
	if (ask_crl(out, opts, cert, issuer, timeout_ms, skew, now) == 0)
		return 0;
	return 1;
}

void jpki_verify_revocation_clear(struct jpki_verify_revocation *rv)
{
	if (rv == NULL)
		return;
	free(rv->ocsp_der);
	memset(rv, 0, sizeof(*rv));
	rv->reason = -1;
}
