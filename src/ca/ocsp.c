/*
 * The OCSP responder (RFC 6960) of both CAs.
 *
 * A request is read only by OpenSSL's DER parser, after the size cap. Each
 * CertID is matched to a CA by issuer name and key hash (whatever hash the
 * client chose among SHA-1 and SHA-2), and answered from the store, signed by
 * that CA's delegated OCSP signer (its certificate in the response), or,
 * with JPKI_OCSP_SIGNER_CA, by the CA key itself with no certificate in the
 * response (RFC 6960 4.2.2.2: the client has the CA certificate already;
 * 1.5 KB become about 0.5). A request for one certificate without a
 * nonce is answered from a cache of signed responses that is keyed by the
 * certificate's status version, so a status change is visible at once.
 * A nonce outside RFC 9654's bounds (1..32 octets) is malformedRequest.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "ca/ca_internal.h"

static int response_der(unsigned char **out, size_t *out_len,
			OCSP_RESPONSE *resp)
{
	unsigned char *buf = NULL;
	int n = i2d_OCSP_RESPONSE(resp, &buf);

	*out = NULL;
	*out_len = 0;
	if (n <= 0)
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "cannot encode the OCSP response");
	if ((*out = malloc((size_t)n)) == NULL) {
		OPENSSL_free(buf);
		return JPKI_ERR_NOMEM;
	}
	memcpy(*out, buf, (size_t)n);
	*out_len = (size_t)n;
	OPENSSL_free(buf);
	return 0;
}

/* RFC 9654 section 2.1: Nonce ::= OCTET STRING (SIZE(1..32)). */
#define OCSP_NONCE_MAX 32

/*
 * Whether the request's nonce, if it has one, is one RFC 9654 lets a
 * responder echo: a single extension whose value is one DER OCTET STRING
 * of 1 to 32 octets. An empty nonce protects nothing, and a long one makes
 * the responder sign and send back whatever a client chose (7.8 KB were
 * echoed).
 */
static int nonce_acceptable(OCSP_REQUEST *oreq)
{
	int at = OCSP_REQUEST_get_ext_by_NID(oreq, NID_id_pkix_OCSP_Nonce, -1);
	const ASN1_OCTET_STRING *value;
	ASN1_OCTET_STRING *nonce;
	const unsigned char *p;
	int len;

	if (at < 0)
		return 1;
	if (OCSP_REQUEST_get_ext_by_NID(oreq, NID_id_pkix_OCSP_Nonce, at) >= 0)
		return 0; /* two nonces: which would be echoed? */
	value = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(oreq, at));
	p = ASN1_STRING_get0_data(value);
	len = ASN1_STRING_length(value);
	nonce = d2i_ASN1_OCTET_STRING(NULL, &p, len);
	if (nonce == NULL)
		return 0;
	len = p == ASN1_STRING_get0_data(value) + ASN1_STRING_length(value)
		      ? ASN1_STRING_length(nonce)
		      : -1; /* bytes after the OCTET STRING */
	ASN1_OCTET_STRING_free(nonce);
	return len >= 1 && len <= OCSP_NONCE_MAX;
}

/* An unsigned error response (malformedRequest, unauthorized, ...). */
static int error_response(unsigned char **out, size_t *out_len, int status)
{
	OCSP_RESPONSE *resp = OCSP_response_create(status, NULL);
	int r;

	if (resp == NULL)
		return JPKI_ERR_NOMEM;
	r = response_der(out, out_len, resp);
	OCSP_RESPONSE_free(resp);
	return r;
}

const EVP_MD *ca_certid_md(int i)
{
	switch (i) {
	case 0:
		return EVP_sha1();
	case 1:
		return EVP_sha256();
	case 2:
		return EVP_sha384();
	case 3:
		return EVP_sha512();
	}
	return NULL;
}

/* Which of ca_certid_md()'s hashes a CertID uses; -1 for another. */
static int certid_hash(OCSP_CERTID *cid)
{
	ASN1_OBJECT *alg = NULL;

	if (!OCSP_id_get0_info(NULL, &alg, NULL, NULL, cid) || alg == NULL)
		return -1;
	switch (OBJ_obj2nid(alg)) {
	case NID_sha1:
		return 0;
	case NID_sha256:
		return 1;
	case NID_sha384:
		return 2;
	case NID_sha512:
		return 3;
	}
	return -1;
}

/* Which of our CAs, and which generation of it, issued the certificate a
 * CertID names (the generations share a name: the key hash tells them
 * apart); NULL if none, or a retired generation. */
static struct authority *match_ca(struct jpki_ca *ca, OCSP_CERTID *cid)
{
	struct authority *a;
	int h = certid_hash(cid);

	if (h < 0)
		return NULL;
	for (size_t i = 0; (a = ca_authority_at(ca, i)) != NULL; i++) {
		OCSP_CERTID *mine = a->ids[h];

		if (mine != NULL && OCSP_id_issuer_cmp(mine, cid) == 0)
			return a;
	}
	return NULL;
}

struct status {
	int known;
	int status; /* V_OCSP_CERTSTATUS_* */
	int reason;
	time_t revoked_at;
	int64_t version;
	char serial[41];
	int later; /* a replica past its bound: answer tryLater */
	/* PostgreSQL: the status counter read in the same statement, the
	 * stamp the answer is kept under (stamp.c) */
	int64_t stamp;
	int stamped;
};

static int lookup(struct status *st, struct jpki_ca *ca,
		  const struct authority *a, OCSP_CERTID *cid)
{
	ASN1_INTEGER *num = NULL;
	struct jpki_rows *rows = NULL;
	char *hex;
	int r, counted = ca->pg_stamp;

	memset(st, 0, sizeof(*st));
	st->status = V_OCSP_CERTSTATUS_UNKNOWN;
	if (!OCSP_id_get0_info(NULL, NULL, NULL, &num, cid) || num == NULL ||
	    (hex = ca_serial_hex(num)) == NULL)
		return 0; /* unknown */
	snprintf(st->serial, sizeof(st->serial), "%s", hex);
	if (strlen(hex) > 40) {
		free(hex);
		return 0;
	}
	{
		/* a serial of another generation is not this issuer's; on a
		 * replica, its heartbeat in the same statement (replica.c) */
		struct jpki_value p[] = {JPKI_V_TEXT(hex), JPKI_V_INT(a->type),
					 JPKI_V_INT(a->generation),
					 JPKI_V_TEXT(ca->read_mark)};

		/* on PostgreSQL with the status counter (stamp.c): the
		 * answer is kept under the counter this statement saw */
		static const char *const sql[2][2] = {
			{"SELECT status, reason, revoked_at,"
			 " version FROM ca_cert"
			 " WHERE serial = $1 AND type = $2"
			 " AND generation = $3",
			 "SELECT status, reason, revoked_at, version,"
			 " (SELECT n FROM ca_status_stamp WHERE id = 1)"
			 " FROM ca_cert"
			 " WHERE serial = $1 AND type = $2"
			 " AND generation = $3"},
			{"SELECT c.status, c.reason, c.revoked_at,"
			 " c.version, h.mark FROM jpki_heartbeat h"
			 " LEFT JOIN ca_cert c ON c.serial = $1"
			 " AND c.type = $2 AND c.generation = $3"
			 " WHERE h.id = $4",
			 "SELECT c.status, c.reason, c.revoked_at,"
			 " c.version, h.mark,"
			 " (SELECT n FROM ca_status_stamp WHERE id = 1)"
			 " FROM jpki_heartbeat h"
			 " LEFT JOIN ca_cert c ON c.serial = $1"
			 " AND c.type = $2 AND c.generation = $3"
			 " WHERE h.id = $4"}};

		r = jpki_store_query(&rows, ca_read_store(ca),
				     sql[ca->read != NULL][counted], p,
				     ca->read == NULL ? 3 : 4);
		/* a standby that has not replayed migration 9 yet: the
		 * status alone, kept under no stamp */
		if (r != 0 && counted && ca->read != NULL) {
			counted = 0;
			r = jpki_store_query(&rows, ca_read_store(ca),
					     sql[1][0], p, 4);
		}
	}
	free(hex);
	if (r != 0)
		return r;
	if (ca->read != NULL) {
		int64_t mark = jpki_rows_int(rows, 0, 4);
		int s = (int)jpki_rows_int(rows, 0, 0);

		/* Past the bound only a revocation is answered: it is final.
		 * A hold may have been released since, an unknown serial
		 * issued, a good one revoked: tryLater (jpki_ca_ocsp_respond).
		 */
		if ((jpki_rows_is_null(rows, 0, 0) ||
		     s != JPKI_STATUS_REVOKED) &&
		    ca_read_stale(ca, jpki_rows_count(rows) == 1 ? &mark
								  : NULL) !=
			    0) {
			st->later = 1;
			jpki_rows_free(rows);
			return JPKI_ERR_STATE;
		}
	}
	if (jpki_rows_count(rows) == 1 && !jpki_rows_is_null(rows, 0, 0)) {
		int s = (int)jpki_rows_int(rows, 0, 0);

		st->known = 1;
		st->status = s == JPKI_STATUS_GOOD ? V_OCSP_CERTSTATUS_GOOD
						   : V_OCSP_CERTSTATUS_REVOKED;
		st->reason = (int)jpki_rows_int(rows, 0, 1);
		st->revoked_at = (time_t)jpki_rows_int(rows, 0, 2);
		st->version = jpki_rows_int(rows, 0, 3);
	}
	{
		size_t col = ca->read != NULL ? 5 : 4;

		if (counted && jpki_rows_count(rows) == 1 &&
		    !jpki_rows_is_null(rows, 0, col)) {
			st->stamp = jpki_rows_int(rows, 0, col);
			st->stamped = 1;
		}
	}
	jpki_rows_free(rows);
	return 0;
}

static size_t cache_slot(enum jpki_cert_type type, const char *serial)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;

	for (const char *p = serial; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % OCSP_CACHE_SLOTS;
}

/* A copy of the cached response for this exact status version, if fresh. */
static int cache_get(unsigned char **out, size_t *out_len, time_t *produced,
		     struct jpki_ca *ca, enum jpki_cert_type type,
		     const struct status *st)
{
	struct ocsp_cached *c;
	int hit = 0;

	*out = NULL;
	pthread_mutex_lock(&ca->cache_lock);
	c = &ca->cache[cache_slot(type, st->serial)];
	if (c->der != NULL && c->type == type &&
	    strcmp(c->serial, st->serial) == 0 && c->version == st->version &&
	    jpki_clock_now() - c->produced < ca->ocsp_validity / 2 &&
	    jpki_clock_now() >= c->produced &&
	    (*out = malloc(c->der_len)) != NULL) {
		memcpy(*out, c->der, c->der_len);
		*out_len = c->der_len;
		*produced = c->produced;
		hit = 1;
	}
	pthread_mutex_unlock(&ca->cache_lock);
	return hit;
}

static void cache_put(struct jpki_ca *ca, enum jpki_cert_type type,
		      const struct status *st, time_t produced,
		      const unsigned char *der, size_t len)
{
	unsigned char *copy = malloc(len);
	struct ocsp_cached *c;

	if (copy == NULL)
		return;
	memcpy(copy, der, len);
	pthread_mutex_lock(&ca->cache_lock);
	c = &ca->cache[cache_slot(type, st->serial)];
	free(c->der);
	c->type = type;
	snprintf(c->serial, sizeof(c->serial), "%s", st->serial);
	c->version = st->version;
	c->produced = produced;
	c->der = copy;
	c->der_len = len;
	pthread_mutex_unlock(&ca->cache_lock);
}

/*
 * The answer cache by request bytes. A request that has been answered
 * before, with no transaction committed anywhere on the database since
 * (the store's change stamp is the same), gets the same answer without
 * being parsed or its status read: the status row cannot have changed. So
 * a revocation is still answered at the next request after its commit, as
 * by the status read: its commit changes the stamp. On PostgreSQL the stamp
 * is the CA's status counter (stamp.c), which only a status change moves:
 * one read of it, shared by the requests that came while the one before ran,
 * stands for each request's status read. Where there is no stamp (a
 * replica past its bound, a failed read), every request is read as before.
 */
static size_t req_slot(const unsigned char *req, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ req[i]) * 16777619u;
	return h % OCSP_REQ_SLOTS;
}

static int req_cache_get(unsigned char **out, size_t *out_len,
			 struct jpki_ca *ca, const unsigned char *req,
			 size_t len, const struct jpki_store_stamp *stamp)
{
	struct ocsp_req_cached *c = &ca->req_cache[req_slot(req, len)];
	time_t now = jpki_clock_now();
	int hit = 0;

	pthread_mutex_lock(&ca->cache_lock);
	if (c->der != NULL && c->req_len == len &&
	    memcmp(c->req, req, len) == 0 &&
	    memcmp(&c->stamp, stamp, sizeof(*stamp)) == 0 &&
	    now - c->produced < ca->ocsp_validity / 2 && now >= c->produced &&
	    (*out = malloc(c->der_len)) != NULL) {
		memcpy(*out, c->der, c->der_len);
		*out_len = c->der_len;
		hit = 1;
	}
	pthread_mutex_unlock(&ca->cache_lock);
	return hit;
}

static void req_cache_put(struct jpki_ca *ca, const unsigned char *req,
			  size_t len, const struct jpki_store_stamp *stamp,
			  time_t produced, const unsigned char *der,
			  size_t der_len)
{
	unsigned char *req_copy = malloc(len), *der_copy = malloc(der_len);
	struct ocsp_req_cached *c = &ca->req_cache[req_slot(req, len)];

	if (req_copy == NULL || der_copy == NULL) {
		free(req_copy);
		free(der_copy);
		return;
	}
	memcpy(req_copy, req, len);
	memcpy(der_copy, der, der_len);
	pthread_mutex_lock(&ca->cache_lock);
	free(c->req);
	free(c->der);
	c->req = req_copy;
	c->req_len = len;
	c->stamp = *stamp;
	c->produced = produced;
	c->der = der_copy;
	c->der_len = der_len;
	pthread_mutex_unlock(&ca->cache_lock);
}

/* The stamp an answer read as `st` is kept under, in *stamp: on
 * PostgreSQL the counter its own statement saw (so an answer read on a
 * standby behind the one the stamp came from is kept under that standby's
 * older value); elsewhere the store's stamp taken before any read, which
 * `stamped` says *stamp holds. 0 when it is not to be kept. */
static int answer_stamp(struct jpki_store_stamp *stamp,
			const struct jpki_ca *ca, const struct status *st,
			int stamped)
{
	if (!ca->pg_stamp)
		return stamped;
	if (!st->stamped)
		return 0;
	ca_stamp_bytes(stamp, st->stamp);
	return 1;
}

void ca_ocsp_forget(struct jpki_ca *ca, enum jpki_cert_type type,
		    const char *serial)
{
	struct ocsp_cached *c;

	pthread_mutex_lock(&ca->cache_lock);
	c = &ca->cache[cache_slot(type, serial)];
	if (c->der != NULL && c->type == type &&
	    strcmp(c->serial, serial) == 0) {
		free(c->der);
		c->der = NULL;
	}
	pthread_mutex_unlock(&ca->cache_lock);
}

int jpki_ca_ocsp_respond(unsigned char **out, size_t *out_len,
			 struct jpki_ca *ca, const unsigned char *req,
			 size_t req_len)
{
	struct jpki_store_stamp stamp;
	int stamped;

	/* malformed: answered so without a stamp */
	if (req == NULL || req_len == 0 || req_len > JPKI_MAX_OCSP_REQUEST)
		return jpki_ca_ocsp_respond_stamped(out, out_len, ca, req,
						    req_len, NULL);
	/* the stamp before any read: a commit after it changes it. Not on a
	 * read store (replica.c): the primary's stamp says nothing of the
	 * replica's data, and every answer there must pass the lag check. */
	stamped = ca->read == NULL &&
		  jpki_store_change_stamp(&stamp, ca->store) == 0;
	/* PostgreSQL: the status counter, from a read that started after
	 * this request came (stamp.c); on a replica only within its bound */
	if (!stamped && ca->pg_stamp)
		stamped = ca_status_stamp(&stamp, ca) == 0;
	return jpki_ca_ocsp_respond_stamped(out, out_len, ca, req, req_len,
					    stamped ? &stamp : NULL);
}

int jpki_ca_ocsp_respond_stamped(unsigned char **out, size_t *out_len,
				 struct jpki_ca *ca, const unsigned char *req,
				 size_t req_len,
				 const struct jpki_store_stamp *given)
{
	const unsigned char *p = req;
	OCSP_REQUEST *oreq = NULL;
	OCSP_BASICRESP *basic = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_TIME *this_upd = NULL, *next_upd = NULL, *rev_time = NULL;
	struct authority *signer = NULL;
	struct status st = {0};
	struct jpki_store_stamp stamp;
	time_t now = jpki_clock_now(), produced;
	int r = JPKI_ERR_INTERNAL, count, cacheable, stamped;

	*out = NULL;
	*out_len = 0;
	if (req == NULL || req_len == 0 || req_len > JPKI_MAX_OCSP_REQUEST)
		return error_response(out, out_len,
				      OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	stamped = given != NULL;
	if (stamped)
		stamp = *given;
	if (stamped && req_cache_get(out, out_len, ca, req, req_len, &stamp))
		return 0;
	oreq = d2i_OCSP_REQUEST(NULL, &p, (long)req_len);
	if (oreq == NULL || p != req + req_len ||
	    (count = OCSP_request_onereq_count(oreq)) <= 0 ||
	    count > JPKI_MAX_OCSP_ONEREQS || !nonce_acceptable(oreq)) {
		r = error_response(out, out_len,
				   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
		goto out;
	}
	/* Every CertID must survive re-encoding into the response: a hash
	 * algorithm with odd parameters parses but cannot be answered. */
	for (int i = 0; i < count; i++) {
		OCSP_CERTID *copy = OCSP_CERTID_dup(OCSP_onereq_get0_id(
			OCSP_request_onereq_get0(oreq, i)));

		OCSP_CERTID_free(copy);
		if (copy == NULL) {
			r = error_response(
				out, out_len,
				OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
			goto out;
		}
	}
	/* The responder signs for the CA of the first CertID it knows. */
	for (int i = 0; i < count && signer == NULL; i++)
		signer = match_ca(ca, OCSP_onereq_get0_id(
					      OCSP_request_onereq_get0(oreq, i)));
	if (signer == NULL) {
		r = error_response(out, out_len,
				   OCSP_RESPONSE_STATUS_UNAUTHORIZED);
		goto out;
	}
	cacheable = count == 1 &&
		    OCSP_REQUEST_get_ext_by_NID(oreq, NID_id_pkix_OCSP_Nonce,
						-1) < 0;
	if (cacheable) {
		OCSP_CERTID *cid =
			OCSP_onereq_get0_id(OCSP_request_onereq_get0(oreq, 0));

		if ((r = lookup(&st, ca, signer, cid)) != 0)
			goto out;
		if (st.known && cache_get(out, out_len, &produced, ca,
					  signer->type, &st)) {
			if (answer_stamp(&stamp, ca, &st, stamped))
				req_cache_put(ca, req, req_len, &stamp,
					      produced, *out, *out_len);
			r = 0;
			goto out;
		}
	}
	r = JPKI_ERR_CRYPTO;
	if ((basic = OCSP_BASICRESP_new()) == NULL ||
	    (this_upd = ASN1_TIME_set(NULL, now)) == NULL ||
	    (next_upd = ASN1_TIME_set(NULL, now + ca->ocsp_validity)) ==
		    NULL ||
	    (rev_time = ASN1_TIME_new()) == NULL)
		goto crypto;
	for (int i = 0; i < count; i++) {
		OCSP_CERTID *cid =
			OCSP_onereq_get0_id(OCSP_request_onereq_get0(oreq, i));
		int reason = -1;

		memset(&st, 0, sizeof(st));
		st.status = V_OCSP_CERTSTATUS_UNKNOWN;
		/* one signer per response: CertIDs of another CA or
		 * generation are unknown to it */
		if (match_ca(ca, cid) == signer &&
		    (r = lookup(&st, ca, signer, cid)) != 0)
			goto out;
		if (st.status == V_OCSP_CERTSTATUS_REVOKED) {
			reason = st.reason;
			if (ASN1_TIME_set(rev_time, st.revoked_at) == NULL)
				goto crypto;
		}
		if (OCSP_basic_add1_status(
			    basic, cid, st.status, reason,
			    st.status == V_OCSP_CERTSTATUS_REVOKED ? rev_time
								   : NULL,
			    this_upd, next_upd) == NULL)
			goto crypto;
	}
	if (OCSP_copy_nonce(basic, oreq) <= 0 ||
	    !(ca->ocsp_signer == JPKI_OCSP_SIGNER_CA
		      ? OCSP_basic_sign(basic, signer->cert, signer->key,
					EVP_sha256(), NULL,
					OCSP_RESPID_KEY | OCSP_NOCERTS)
		      : OCSP_basic_sign(basic, signer->ocsp_cert,
					signer->ocsp_key, EVP_sha256(), NULL,
					OCSP_RESPID_KEY)) ||
	    (resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
					 basic)) == NULL)
		goto crypto;
	if ((r = response_der(out, out_len, resp)) != 0)
		goto out;
	if (cacheable && st.known) {
		cache_put(ca, signer->type, &st, now, *out, *out_len);
		if (answer_stamp(&stamp, ca, &st, stamped))
			req_cache_put(ca, req, req_len, &stamp, now, *out,
				      *out_len);
	}
	r = 0;
	goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot sign the OCSP response");
out:
	/* RFC 6960 2.3: "try again later" rather than an answer from data
	 * older than the replica's bound (lookup) */
	if (r != 0 && st.later) {
		jpki_log(JPKI_LOG_DEBUG, "OCSP: tryLater: %s", jpki_err_detail());
		free(*out);
		r = error_response(out, out_len,
				   OCSP_RESPONSE_STATUS_TRYLATER);
	}
	ERR_clear_error();
	OCSP_REQUEST_free(oreq);
	OCSP_BASICRESP_free(basic);
	OCSP_RESPONSE_free(resp);
	ASN1_TIME_free(this_upd);
	ASN1_TIME_free(next_upd);
	ASN1_TIME_free(rev_time);
	return r;
}

int jpki_ca_ocsp_signer_parse(int *out, const char *text)
{
	if (text != NULL && strcmp(text, "delegated") == 0)
		*out = JPKI_OCSP_SIGNER_DELEGATED;
	else if (text != NULL && strcmp(text, "ca") == 0)
		*out = JPKI_OCSP_SIGNER_CA;
	else
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the OCSP signer is 'delegated' or 'ca', "
				    "not '%s'",
				    text != NULL ? text : "");
	return 0;
}
