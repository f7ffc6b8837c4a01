/*
 * The life of a certificate at the CA: intake of the request, issue,
 * renewal, revocation, hold and release, and the records (status, lists,
 * linking information). Each change is one store transaction that also
 * regenerates the CRLs it affects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"

#define CERT_COLUMNS                                                          \
	"serial, type, card, person, municipality, subject, status, reason," \
	" revoked_at, not_before, not_after, issued_at, der, version,"       \
	" prefecture_name, municipality_name, birth, card_expiry"

int jpki_ca_csr_parse(EVP_PKEY **out, const unsigned char *data, size_t len)
{
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (data == NULL || len == 0)
		return jpki_err_set(JPKI_ERR_PARSE, "the request is empty");
	if (len > JPKI_MAX_CSR)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "the request is %zu bytes, over the limit "
				    "of %d",
				    len, JPKI_MAX_CSR);
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);

		if (bio != NULL)
			req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = data;

		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (req != NULL && p != data + len) {
			X509_REQ_free(req);
			req = NULL;
		}
	}
	if (req == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "not a PKCS#10 certificate request");
		goto out;
	}
	if ((key = X509_REQ_get_pubkey(req)) == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the request's public key is unreadable");
		goto out;
	}
	if (X509_REQ_verify(req, key) != 1) {
		r = jpki_err_set(JPKI_ERR_SIGNATURE,
				 "the request's signature does not verify: "
				 "it was not made with the key it carries, "
				 "or it was altered");
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(key) != 2048) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the request's key is not RSA-2048 (JPKI "
				 "certificates are RSA-2048 only)");
		goto out;
	}
	*out = key;
	key = NULL;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	return r;
}

void jpki_cert_info_free(struct jpki_cert_info *info)
{
	if (info == NULL)
		return;
	free(info->der);
	free(info);
}

void jpki_cert_info_list_free(struct jpki_cert_info **list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		jpki_cert_info_free(list[i]);
	free(list);
}

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int info_from_row(struct jpki_cert_info **out,
			 const struct jpki_rows *rows, size_t i)
{
	struct jpki_cert_info *info = calloc(1, sizeof(*info));
	const unsigned char *der;
	size_t len;

	*out = NULL;
	if (info == NULL)
		return JPKI_ERR_NOMEM;
	copy_text(info->serial, sizeof(info->serial),
		  jpki_rows_text(rows, i, 0));
	info->type = (enum jpki_cert_type)jpki_rows_int(rows, i, 1);
	info->card = (enum jpki_card_kind)jpki_rows_int(rows, i, 2);
	copy_text(info->person, sizeof(info->person),
		  jpki_rows_text(rows, i, 3));
	copy_text(info->municipality_code, sizeof(info->municipality_code),
		  jpki_rows_text(rows, i, 4));
	copy_text(info->subject, sizeof(info->subject),
		  jpki_rows_text(rows, i, 5));
	info->status = (enum jpki_cert_status)jpki_rows_int(rows, i, 6);
	info->reason = (enum jpki_reason)jpki_rows_int(rows, i, 7);
	info->revoked_at = (time_t)jpki_rows_int(rows, i, 8);
	info->not_before = (time_t)jpki_rows_int(rows, i, 9);
	info->not_after = (time_t)jpki_rows_int(rows, i, 10);
	info->issued_at = (time_t)jpki_rows_int(rows, i, 11);
	der = jpki_rows_blob(rows, i, 12, &len);
	if (der != NULL && len > 0) {
		if ((info->der = malloc(len)) == NULL) {
			free(info);
			return JPKI_ERR_NOMEM;
		}
		memcpy(info->der, der, len);
		info->der_len = len;
	}
	*out = info;
	return 0;
}

/* Reads one certificate's row; NOT_FOUND with a clear message if absent. */
static int load_row(struct jpki_rows **out, struct jpki_ca *ca,
		    const char *serial)
{
	struct jpki_value p = JPKI_V_TEXT(serial);
	int r;

	*out = NULL;
	if (serial == NULL || *serial == '\0' || strlen(serial) > 40 ||
	    strspn(serial, "0123456789ABCDEFabcdef") != strlen(serial))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not a certificate serial number "
				    "(hexadecimal)",
				    serial ? serial : "");
	if ((r = jpki_store_query(out, ca->store,
				  "SELECT " CERT_COLUMNS
				  " FROM ca_cert WHERE serial = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(*out) != 1) {
		jpki_rows_free(*out);
		*out = NULL;
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no certificate with serial %s", serial);
	}
	return 0;
}

/* Serials are stored as BN_bn2hex writes them: upper case, no leading
 * zeros. Accept what a person types in any case. */
static void serial_canon(char out[41], const char *in)
{
	size_t i = 0;

	while (in[0] == '0' && in[1] != '\0')
		in++;
	for (; in[i] && i < 40; i++)
		out[i] = (char)(in[i] >= 'a' && in[i] <= 'f' ? in[i] - 32
							     : in[i]);
	out[i] = '\0';
}

int jpki_ca_status(struct jpki_cert_info **out, struct jpki_ca *ca,
		   const char *serial)
{
	struct jpki_rows *rows = NULL;
	char canon[41];
	int r;

	*out = NULL;
	serial_canon(canon, serial ? serial : "");
	if ((r = load_row(&rows, ca, canon)) != 0)
		return r;
	r = info_from_row(out, rows, 0);
	jpki_rows_free(rows);
	return r;
}

int jpki_ca_list(struct jpki_cert_info ***out, size_t *n, struct jpki_ca *ca,
		 const struct jpki_ca_filter *filter)
{
	struct jpki_ca_filter all = JPKI_CA_FILTER_INIT;
	struct jpki_rows *rows = NULL;
	struct jpki_cert_info **list = NULL;
	size_t count, i;
	int r;

	*out = NULL;
	*n = 0;
	if (filter == NULL)
		filter = &all;
	{
		struct jpki_value p[] = {
			JPKI_V_INT(filter->type),
			JPKI_V_INT(filter->status),
			filter->person ? JPKI_V_TEXT(filter->person)
				       : JPKI_V_NULL,
			filter->municipality_code
				? JPKI_V_TEXT(filter->municipality_code)
				: JPKI_V_NULL,
			JPKI_V_INT(filter->limit ? (int64_t)filter->limit
						 : INT64_MAX),
		};

		if ((r = jpki_store_query(
			     &rows, ca->store,
			     "SELECT " CERT_COLUMNS " FROM ca_cert"
			     " WHERE ($1 = 0 OR type = $1)"
			     " AND ($2 < 0 OR status = $2)"
			     " AND (person = $3 OR $3 IS NULL)"
			     " AND (municipality = $4 OR $4 IS NULL)"
			     " ORDER BY issued_at DESC, serial LIMIT $5",
			     p, 5)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count; i++)
		if ((r = info_from_row(&list[i], rows, i)) != 0)
			goto out;
	*out = list;
	*n = count;
	list = NULL;
	r = 0;
out:
	jpki_cert_info_list_free(list, count);
	jpki_rows_free(rows);
	return r;
}

const char *jpki_ca_link_kind_name(enum jpki_link_kind kind)
{
	switch (kind) {
	case JPKI_LINK_PAIR:
		return "pair";
	case JPKI_LINK_RENEWAL:
		return "renewal";
	case JPKI_LINK_REISSUE:
		return "reissue";
	}
	return "unknown";
}

int jpki_ca_links(struct jpki_link **out, size_t *n, struct jpki_ca *ca,
		  const char *serial)
{
	struct jpki_rows *rows = NULL, *check = NULL;
	struct jpki_link *links;
	char canon[41];
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	serial_canon(canon, serial ? serial : "");
	if ((r = load_row(&check, ca, canon)) != 0)
		return r;
	jpki_rows_free(check);
	{
		struct jpki_value p = JPKI_V_TEXT(canon);

		if ((r = jpki_store_query(
			     &rows, ca->store,
			     "SELECT kind, from_serial, to_serial, at"
			     " FROM ca_link"
			     " WHERE from_serial = $1 OR to_serial = $1"
			     " ORDER BY at, kind",
			     &p, 1)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if ((links = calloc(count ? count : 1, sizeof(*links))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		links[i].kind = (enum jpki_link_kind)jpki_rows_int(rows, i, 0);
		copy_text(links[i].from, sizeof(links[i].from),
			  jpki_rows_text(rows, i, 1));
		copy_text(links[i].to, sizeof(links[i].to),
			  jpki_rows_text(rows, i, 2));
		links[i].at = (time_t)jpki_rows_int(rows, i, 3);
	}
	jpki_rows_free(rows);
	*out = links;
	*n = count;
	return 0;
}

/* A 24-character opaque subject id (upper-case letters and digits). */
static int opaque_id(char out[25])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char pool[64];
	size_t i = 0, used = sizeof(pool);

	while (i < 24) {
		if (used == sizeof(pool)) {
			if (RAND_bytes(pool, sizeof(pool)) != 1)
				return jpki_err_set(JPKI_ERR_CRYPTO,
						    "no randomness");
			used = 0;
		}
		if (pool[used] >= 252) { /* 252 = 7 * 36: keep it uniform */
			used++;
			continue;
		}
		out[i++] = alphabet[pool[used++] % 36];
	}
	OPENSSL_cleanse(pool, sizeof(pool));
	out[24] = '\0';
	return 0;
}

static int check_code(const char *code)
{
	if (code == NULL || strlen(code) != 6 ||
	    strspn(code, "0123456789") != 6)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "municipality code '%s' must be the six "
				    "digits of the local government code",
				    code ? code : "");
	return 0;
}

static int add_link(struct jpki_ca *ca, enum jpki_link_kind kind,
		    const char *from, const char *to, time_t at)
{
	struct jpki_value p[] = {JPKI_V_INT(kind), JPKI_V_TEXT(from),
				 JPKI_V_TEXT(to), JPKI_V_INT(at)};

	return jpki_store_exec(ca->store,
			       "INSERT INTO ca_link (kind, from_serial,"
			       " to_serial, at) VALUES ($1, $2, $3, $4)",
			       p, 4, NULL);
}

/* The newest certificate of `type` the person holds, with its status. */
static int latest_of(char out[41], int *status, struct jpki_ca *ca,
		     const char *person, enum jpki_cert_type type)
{
	struct jpki_value p[] = {JPKI_V_TEXT(person), JPKI_V_INT(type)};
	struct jpki_rows *rows = NULL;
	int r;

	out[0] = '\0';
	*status = -1;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT serial, status FROM ca_cert"
				  " WHERE person = $1 AND type = $2"
				  " ORDER BY issued_at DESC, serial LIMIT 1",
				  p, 2)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1) {
		copy_text(out, 41, jpki_rows_text(rows, 0, 0));
		*status = (int)jpki_rows_int(rows, 0, 1);
	}
	jpki_rows_free(rows);
	return 0;
}

/* Does a CRL of this scope exist yet? */
static int crl_exists(struct jpki_ca *ca, const char *scope, int *exists)
{
	struct jpki_value p = JPKI_V_TEXT(scope);
	struct jpki_rows *rows = NULL;
	int r;

	*exists = 0;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT number FROM ca_crl WHERE scope = $1",
				  &p, 1)) != 0)
		return r;
	*exists = jpki_rows_count(rows) > 0;
	jpki_rows_free(rows);
	return 0;
}

/*
 * One certificate on its way through the CA. Issuing is three steps so that
 * the expensive one runs outside the store's lock: build (the profile, no
 * store access), sign (a random serial and the CA's signature, no store
 * access, safe on several threads at once) and record (the person's prior
 * certificates, the serial's uniqueness, the rows, the links, inside the
 * caller's transaction).
 */
struct pending {
	const struct jpki_issue_request *req;
	EVP_PKEY *key;
	X509 *cert;
	char *serial;
	time_t now;
	/* what the record needs of the signed certificate */
	unsigned char *der;
	size_t der_len;
	char *subject;
	time_t not_before, not_after;
	int code; /* 0, or why this one was refused */
	char message[256];
	int signed_; /* the batch's signing threads are done with it */
};

static void pending_clear(struct pending *p)
{
	X509_free(p->cert);
	free(p->serial);
	free(p->der);
	OPENSSL_free(p->subject);
	p->cert = NULL;
	p->serial = NULL;
	p->der = NULL;
	p->subject = NULL;
}

static void pending_refuse(struct pending *p, int code)
{
	p->code = code;
	snprintf(p->message, sizeof(p->message), "%s",
		 jpki_err_detail()[0] ? jpki_err_detail()
				      : jpki_strerror(code));
}

/* The unsigned certificate of p->req for p->key, valid from p->now. */
static int issue_build(struct jpki_ca *ca, struct pending *p)
{
	const struct jpki_issue_request *req = p->req;
	struct jpki_profile_request preq = JPKI_PROFILE_REQUEST_INIT;
	struct jpki_validity_input vin = {0};
	struct authority *a = ca_authority(ca, req->type);
	struct jpki_date last;
	char cn[25], *crl_url = NULL, *ocsp_url = NULL, *ca_url = NULL;
	struct tm ca_tm;
	int r;

	vin.card = req->card;
	vin.issue = jpki_date_of(p->now);
	vin.birth = req->facts.birth;
	vin.card_expiry = req->card_expiry;
	if (req->card == JPKI_CARD_JUKI && req->type != JPKI_CERT_SIGN)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the Juki card carries a signing "
				    "certificate only");
	if ((r = jpki_profile_validity(&last, &vin)) != 0 ||
	    (r = opaque_id(cn)) != 0)
		return r;
	if ((crl_url = ca_crl_url(ca, JPKI_CERT_SIGN,
				  req->municipality_code)) == NULL ||
	    asprintf(&ocsp_url, "%s/ocsp/%s", ca->public_url,
		     ca_type_name(req->type)) < 0 ||
	    asprintf(&ca_url, "%s/ca/%s.crt", ca->public_url,
		     ca_type_name(req->type)) < 0) {
		ocsp_url = ca_url = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	preq.type = req->type;
	preq.cn = cn;
	preq.prefecture = req->prefecture;
	preq.municipality = req->municipality;
	preq.crl_url = crl_url;
	preq.ocsp_url = ocsp_url;
	preq.ca_issuers_url = ca_url;
	preq.facts = &req->facts;
	preq.not_before = p->now;
	preq.not_after = jpki_date_end(&last);
	/* A certificate never outlives the CA that vouches for it. */
	if (ASN1_TIME_to_tm(X509_get0_notAfter(a->cert), &ca_tm) == 1 &&
	    preq.not_after > timegm(&ca_tm))
		preq.not_after = timegm(&ca_tm);
	r = jpki_profile_build(&p->cert, &preq, p->key, a->cert);
out:
	free(crl_url);
	free(ocsp_url);
	free(ca_url);
	return r;
}

/* The DER, subject and validity the record stores, read off the signed
 * certificate (here, on the signing thread, not under the store's lock). */
static int issue_encode(struct pending *p)
{
	struct tm tm;

	free(p->der);
	OPENSSL_free(p->subject);
	p->der = NULL;
	p->subject = NULL;
	if (ca_der(&p->der, &p->der_len, p->cert) != 0 ||
	    (p->subject = X509_NAME_oneline(X509_get_subject_name(p->cert),
					    NULL, 0)) == NULL ||
	    ASN1_TIME_to_tm(X509_get0_notBefore(p->cert), &tm) != 1 ||
	    (p->not_before = timegm(&tm)) < 0 ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(p->cert), &tm) != 1 ||
	    (p->not_after = timegm(&tm)) < 0) {
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "cannot read back the signed certificate");
	}
	return 0;
}

/* A fresh random serial (2^126 of them) and the CA's signature. */
static int issue_sign(struct jpki_ca *ca, struct pending *p)
{
	struct authority *a = ca_authority(ca, p->req->type);
	unsigned char raw[16];
	ASN1_INTEGER *aserial = NULL;
	int r = 0;

	free(p->serial);
	p->serial = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
	if ((aserial = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_STRING_set(aserial, raw, sizeof(raw)) ||
	    !X509_set_serialNumber(p->cert, aserial) ||
	    (p->serial = ca_serial_hex(aserial)) == NULL)
		r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot set serial");
	else if (!X509_sign(p->cert, a->key, EVP_sha256()))
		r = jpki_err_set(JPKI_ERR_CRYPTO, "signing failed");
	ASN1_INTEGER_free(aserial);
	ERR_clear_error();
	if (r == 0)
		r = issue_encode(p);
	return r;
}

static int serial_taken(struct jpki_ca *ca, const char *serial, int *taken)
{
	struct jpki_value p = JPKI_V_TEXT(serial);
	struct jpki_rows *rows = NULL;
	int r;

	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT 1 FROM ca_cert WHERE serial = $1",
				  &p, 1)) != 0)
		return r;
	*taken = jpki_rows_count(rows) > 0;
	jpki_rows_free(rows);
	return 0;
}

/* The caller's copy of what was recorded, without reading it back. */
static int info_of(struct jpki_cert_info **out, const struct pending *p)
{
	struct jpki_cert_info *info = calloc(1, sizeof(*info));

	if (info == NULL || (info->der = malloc(p->der_len)) == NULL) {
		free(info);
		return JPKI_ERR_NOMEM;
	}
	memcpy(info->der, p->der, p->der_len);
	info->der_len = p->der_len;
	copy_text(info->serial, sizeof(info->serial), p->serial);
	info->type = p->req->type;
	info->card = p->req->card;
	copy_text(info->person, sizeof(info->person), p->req->person);
	copy_text(info->municipality_code, sizeof(info->municipality_code),
		  p->req->municipality_code);
	copy_text(info->subject, sizeof(info->subject), p->subject);
	info->status = JPKI_STATUS_GOOD;
	info->not_before = p->not_before;
	info->not_after = p->not_after;
	info->issued_at = p->now;
	*out = info;
	return 0;
}

/*
 * Records a signed certificate inside the caller's transaction, with links
 * to the person's other certificates. `renewed` names the certificate it
 * replaces by renewal. A refusal (the person already holds a valid one)
 * sets *refused and writes nothing; any other failure leaves the
 * transaction to be rolled back.
 */
static int issue_record(struct jpki_cert_info **out, int *refused,
			struct jpki_ca *ca, struct pending *p,
			const char *renewed)
{
	const struct jpki_issue_request *req = p->req;
	char prior[41], birth[11] = "", expiry[11] = "", scope[32];
	int r, prior_status, other_status, exists;

	*out = NULL;
	*refused = 0;
	if ((r = latest_of(prior, &prior_status, ca, req->person,
			   req->type)) != 0)
		return r;
	if (renewed == NULL && prior_status == JPKI_STATUS_GOOD) {
		*refused = 1;
		return jpki_err_set(JPKI_ERR_STATE,
				    "%s already holds a valid %s certificate "
				    "(serial %s): renew it, or revoke it first",
				    req->person, ca_type_name(req->type),
				    prior);
	}
	/* The primary key would catch a colliding serial (2^-126); draw
	 * again and sign again instead of failing. */
	for (int attempt = 0;; attempt++) {
		if ((r = serial_taken(ca, p->serial, &exists)) != 0)
			return r;
		if (!exists)
			break;
		if (attempt > 8)
			return jpki_err_set(JPKI_ERR_INTERNAL,
					    "cannot find a free serial");
		if ((r = issue_sign(ca, p)) != 0)
			return r;
	}
	if (jpki_date_valid(&req->facts.birth))
		jpki_date_format(&req->facts.birth, birth);
	if (jpki_date_valid(&req->card_expiry))
		jpki_date_format(&req->card_expiry, expiry);
	{
		struct jpki_value v[] = {
			JPKI_V_TEXT(p->serial),
			JPKI_V_INT(req->type),
			JPKI_V_INT(req->card),
			JPKI_V_TEXT(req->person),
			JPKI_V_TEXT(req->municipality_code),
			JPKI_V_TEXT(req->prefecture),
			JPKI_V_TEXT(req->municipality),
			JPKI_V_TEXT(p->subject),
			birth[0] ? JPKI_V_TEXT(birth) : JPKI_V_NULL,
			expiry[0] ? JPKI_V_TEXT(expiry) : JPKI_V_NULL,
			JPKI_V_INT(p->not_before),
			JPKI_V_INT(p->not_after),
			JPKI_V_INT(p->now),
			JPKI_V_BLOB(p->der, p->der_len),
		};

		if ((r = jpki_store_exec(
			     ca->store,
			     "INSERT INTO ca_cert (serial, type, card, person,"
			     " municipality, prefecture_name,"
			     " municipality_name, subject, birth,"
			     " card_expiry, status, version, not_before,"
			     " not_after, issued_at, der) VALUES ($1, $2, $3,"
			     " $4, $5, $6, $7, $8, $9, $10, 0, 1, $11, $12,"
			     " $13, $14)",
			     v, 14, NULL)) != 0)
			return r;
	}
	/* Linking information: the replaced certificate, and the person's
	 * valid certificate of the other kind. */
	if (renewed != NULL)
		r = add_link(ca, JPKI_LINK_RENEWAL, renewed, p->serial,
			     p->now);
	else if (prior[0] != '\0')
		r = add_link(ca, JPKI_LINK_REISSUE, prior, p->serial, p->now);
	if (r != 0)
		return r;
	if ((r = latest_of(prior, &other_status, ca, req->person,
			   req->type == JPKI_CERT_SIGN ? JPKI_CERT_AUTH
						       : JPKI_CERT_SIGN)) != 0)
		return r;
	if (other_status == JPKI_STATUS_GOOD &&
	    (r = add_link(ca, JPKI_LINK_PAIR,
			  req->type == JPKI_CERT_SIGN ? p->serial : prior,
			  req->type == JPKI_CERT_SIGN ? prior : p->serial,
			  p->now)) != 0)
		return r;
	/* The municipality's CRL partition must answer from the first
	 * certificate that names it. */
	if (req->type == JPKI_CERT_SIGN) {
		snprintf(scope, sizeof(scope), "sign/%s",
			 req->municipality_code);
		if ((r = crl_exists(ca, scope, &exists)) != 0)
			return r;
		if (!exists && (r = ca_crl_generate(ca, JPKI_CERT_SIGN,
						    req->municipality_code)) !=
				       0)
			return r;
	}
	return info_of(out, p);
}

/* Build and sign, outside any transaction. */
static int issue_make(struct jpki_ca *ca, struct pending *p)
{
	int r;

	if ((r = issue_build(ca, p)) != 0 || (r = issue_sign(ca, p)) != 0)
		pending_clear(p);
	return r;
}

static int check_request(const struct jpki_issue_request *req)
{
	int r;

	if (req == NULL || req->version != JPKI_ISSUE_REQUEST_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "issue request of an unknown version");
	if (req->type != JPKI_CERT_SIGN && req->type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "certificate type must be sign or auth");
	if (req->card != JPKI_CARD_MYNUMBER && req->card != JPKI_CARD_JUKI)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "card kind must be mynumber or juki");
	if (req->person == NULL || *req->person == '\0' ||
	    strlen(req->person) > 128)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the resident's id (person) must be 1 to "
				    "128 bytes");
	if ((r = check_code(req->municipality_code)) != 0)
		return r;
	if (req->type == JPKI_CERT_SIGN &&
	    (r = jpki_profile_facts_check(&req->facts)) != 0)
		return r;
	if (!jpki_date_valid(&req->facts.birth))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth is needed for the "
				    "validity period");
	return 0;
}

int jpki_ca_issue(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const struct jpki_issue_request *req, EVP_PKEY *subject_key)
{
	struct pending p = {.req = req, .key = subject_key};
	int r, refused;

	*out = NULL;
	if ((r = check_request(req)) != 0)
		return r;
	if (subject_key == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no subject public key");
	p.now = jpki_clock_now();
	if ((r = issue_make(ca, &p)) != 0)
		return r;
	if ((r = jpki_store_begin(ca->store)) != 0)
		goto out;
	if ((r = issue_record(out, &refused, ca, &p, NULL)) != 0) {
		jpki_store_rollback(ca->store);
		goto out;
	}
	if ((r = jpki_store_commit(ca->store)) != 0) {
		jpki_cert_info_free(*out);
		*out = NULL;
	}
out:
	pending_clear(&p);
	return r;
}

/* A renewal's new certificate, inside the renewal's transaction. */
static int issue_renewal(struct jpki_cert_info **out, struct jpki_ca *ca,
			 const struct jpki_issue_request *req, EVP_PKEY *key,
			 const char *renewed)
{
	struct pending p = {.req = req, .key = key, .now = jpki_clock_now()};
	int r, refused;

	if ((r = issue_make(ca, &p)) == 0)
		r = issue_record(out, &refused, ca, &p, renewed);
	pending_clear(&p);
	return r;
}

/*
 * A batch is a pipeline: the signing threads take the next request by index
 * and mark it signed; the calling thread records the requests in order, one
 * group (JPKI_ISSUE_GROUP) per transaction, so that one group's commit
 * waits for the disk while the threads sign the next ones.
 */
struct batch {
	struct jpki_ca *ca;
	struct pending *items;
	size_t n;
	size_t next; /* the next request to sign */
	size_t waiting_for; /* the recorder sleeps until this one is signed */
	int stop;    /* the store failed: sign no more */
	pthread_mutex_t lock;
	pthread_cond_t signed_cond;
};

static void *batch_worker(void *arg)
{
	struct batch *b = arg;

	for (;;) {
		struct pending *p = NULL;
		int r;

		pthread_mutex_lock(&b->lock);
		if (!b->stop && b->next < b->n)
			p = &b->items[b->next++];
		pthread_mutex_unlock(&b->lock);
		if (p == NULL)
			return NULL;
		jpki_err_set(0, "%s", "");
		if (p->code == 0 && (r = issue_make(b->ca, p)) != 0)
			pending_refuse(p, r);
		pthread_mutex_lock(&b->lock);
		p->signed_ = 1;
		/* wake the recorder only for the item it waits on, not for
		 * every certificate */
		if ((size_t)(p - b->items) == b->waiting_for)
			pthread_cond_signal(&b->signed_cond);
		pthread_mutex_unlock(&b->lock);
	}
}

/* Records items [from, to) in one transaction, once they are all signed. */
static int batch_record_group(struct jpki_issue_result *results,
			      struct batch *b, size_t from, size_t to)
{
	int r, refused;

	pthread_mutex_lock(&b->lock);
	for (size_t i = from; i < to; i++)
		while (!b->items[i].signed_) {
			b->waiting_for = i;
			pthread_cond_wait(&b->signed_cond, &b->lock);
		}
	pthread_mutex_unlock(&b->lock);
	if ((r = jpki_store_begin(b->ca->store)) != 0)
		return r;
	for (size_t i = from; i < to; i++) {
		struct pending *p = &b->items[i];

		if (p->code != 0)
			continue;
		jpki_err_set(0, "%s", "");
		r = issue_record(&results[i].info, &refused, b->ca, p, NULL);
		if (r != 0 && refused) {
			pending_refuse(p, r);
			r = 0;
		} else if (r != 0) {
			jpki_store_rollback(b->ca->store);
			break;
		}
	}
	if (r == 0 && (r = jpki_store_commit(b->ca->store)) == 0)
		return 0;
	for (size_t i = from; i < to; i++) {
		jpki_cert_info_free(results[i].info);
		results[i].info = NULL;
	}
	return r;
}

int jpki_ca_issue_batch(struct jpki_issue_result *results, struct jpki_ca *ca,
			const struct jpki_issue_request *reqs,
			EVP_PKEY *const *keys, size_t n, unsigned threads)
{
	struct batch b = {.ca = ca, .n = n, .waiting_for = (size_t)-1};
	pthread_t tid[JPKI_ISSUE_MAX_THREADS];
	unsigned started = 0;
	time_t now = jpki_clock_now();
	size_t from, failed_from = n;
	int r = 0;
	char why[256] = "";

	if (results == NULL || (n > 0 && (reqs == NULL || keys == NULL)))
		return jpki_err_set(JPKI_ERR_INVALID, "no requests");
	if (n > JPKI_ISSUE_MAX_BATCH)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a batch holds at most %d requests, not "
				    "%zu",
				    JPKI_ISSUE_MAX_BATCH, n);
	memset(results, 0, n * sizeof(*results));
	if (n == 0)
		return 0;
	if ((b.items = calloc(n, sizeof(*b.items))) == NULL)
		return JPKI_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &b.items[i];

		p->req = &reqs[i];
		p->key = keys[i];
		p->now = now;
		jpki_err_set(0, "%s", "");
		if ((r = check_request(p->req)) != 0)
			pending_refuse(p, r);
		else if (p->key == NULL)
			pending_refuse(p, jpki_err_set(JPKI_ERR_INVALID,
						       "no subject public "
						       "key"));
	}
	if (threads == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cores > 0 ? (unsigned)cores : 1;
	}
	if (threads > JPKI_ISSUE_MAX_THREADS)
		threads = JPKI_ISSUE_MAX_THREADS;
	if (threads > n)
		threads = (unsigned)n;
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.signed_cond, NULL);
	for (; started < threads; started++)
		if (pthread_create(&tid[started], NULL, batch_worker, &b) != 0)
			break;
	if (started == 0) /* no thread to be had: sign here */
		batch_worker(&b);
	for (from = 0; from < n; from += JPKI_ISSUE_GROUP) {
		size_t to = n - from < JPKI_ISSUE_GROUP ? n
							 : from + JPKI_ISSUE_GROUP;

		if ((r = batch_record_group(results, &b, from, to)) != 0) {
			snprintf(why, sizeof(why), "%s",
				 jpki_err_detail()[0] ? jpki_err_detail()
						      : jpki_strerror(r));
			failed_from = from;
			pthread_mutex_lock(&b.lock);
			b.stop = 1;
			pthread_mutex_unlock(&b.lock);
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_cond_destroy(&b.signed_cond);
	pthread_mutex_destroy(&b.lock);
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &b.items[i];

		if (i >= failed_from && p->code == 0) {
			p->code = r;
			snprintf(p->message, sizeof(p->message),
				 "not recorded: %.240s", why);
		}
		results[i].code = p->code;
		memcpy(results[i].message, p->message,
		       sizeof(results[i].message));
		pending_clear(p);
	}
	free(b.items);
	if (r != 0)
		jpki_err_set(r, "%s", why);
	return r;
}

int ca_status_set_locked(struct jpki_ca *ca, const char *serial,
			 enum jpki_cert_type type, const char *municipality,
			 enum jpki_cert_status status, enum jpki_reason reason,
			 int crls)
{
	time_t now = jpki_clock_now();
	int r;
	struct jpki_value p[] = {
		JPKI_V_INT(status),
		status == JPKI_STATUS_GOOD ? JPKI_V_NULL : JPKI_V_INT(reason),
		status == JPKI_STATUS_GOOD ? JPKI_V_NULL : JPKI_V_INT(now),
		JPKI_V_TEXT(serial),
	};

	if ((r = jpki_store_exec(ca->store,
				 "UPDATE ca_cert SET status = $1, reason = $2,"
				 " revoked_at = $3, version = version + 1"
				 " WHERE serial = $4",
				 p, 4, NULL)) != 0)
		return r;
	if (!crls)
		return 0;
	if ((r = ca_crl_touch(ca, type, NULL)) != 0)
		return r;
	if (type == JPKI_CERT_SIGN &&
	    (r = ca_crl_generate(ca, type, municipality)) != 0)
		return r;
	return 0;
}

/*
 * Moves a certificate (the row loaded by load_row) to a new status inside
 * the caller's transaction and regenerates the CRLs that list it.
 */
static int set_status_locked(struct jpki_ca *ca, const struct jpki_rows *row,
			     enum jpki_cert_status status,
			     enum jpki_reason reason)
{
	return ca_status_set_locked(
		ca, jpki_rows_text(row, 0, 0),
		(enum jpki_cert_type)jpki_rows_int(row, 0, 1),
		jpki_rows_text(row, 0, 4), status, reason, 1);
}

enum change { CHANGE_REVOKE, CHANGE_HOLD, CHANGE_RELEASE };

static int change_status(struct jpki_ca *ca, const char *serial_in,
			 enum change change, enum jpki_reason reason)
{
	struct jpki_rows *rows = NULL;
	char serial[41];
	int r, status;

	serial_canon(serial, serial_in ? serial_in : "");
	if ((r = jpki_store_begin(ca->store)) != 0)
		return r;
	if ((r = load_row(&rows, ca, serial)) != 0)
		goto fail;
	status = (int)jpki_rows_int(rows, 0, 6);
	if (status == JPKI_STATUS_REVOKED) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "certificate %s is already revoked (%s)",
				 serial,
				 jpki_ca_reason_name((enum jpki_reason)
							     jpki_rows_int(
								     rows, 0,
								     7)));
		goto fail;
	}
	switch (change) {
	case CHANGE_REVOKE:
		r = set_status_locked(ca, rows, JPKI_STATUS_REVOKED, reason);
		break;
	case CHANGE_HOLD:
		if (status == JPKI_STATUS_HOLD) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "certificate %s is already on hold",
					 serial);
			goto fail;
		}
		r = set_status_locked(ca, rows, JPKI_STATUS_HOLD,
				      JPKI_REASON_CERTIFICATE_HOLD);
		break;
	case CHANGE_RELEASE:
		if (status != JPKI_STATUS_HOLD) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "certificate %s is not on hold",
					 serial);
			goto fail;
		}
		r = set_status_locked(ca, rows, JPKI_STATUS_GOOD,
				      JPKI_REASON_UNSPECIFIED);
		break;
	}
	if (r != 0)
		goto fail;
	jpki_rows_free(rows);
	rows = NULL;
	if ((r = jpki_store_commit(ca->store)) != 0)
		return r;
	ca_ocsp_forget(ca, JPKI_CERT_SIGN, serial);
	ca_ocsp_forget(ca, JPKI_CERT_AUTH, serial);
	jpki_log(JPKI_LOG_INFO, "certificate %s: %s", serial,
		 change == CHANGE_REVOKE ? jpki_ca_reason_name(reason)
		 : change == CHANGE_HOLD ? "on hold"
					 : "hold released");
	return 0;
fail:
	jpki_rows_free(rows);
	jpki_store_rollback(ca->store);
	return r;
}

int jpki_ca_revoke(struct jpki_ca *ca, const char *serial,
		   enum jpki_reason reason)
{
	switch (reason) {
	case JPKI_REASON_UNSPECIFIED:
	case JPKI_REASON_KEY_COMPROMISE:
	case JPKI_REASON_AFFILIATION_CHANGED:
	case JPKI_REASON_SUPERSEDED:
	case JPKI_REASON_CESSATION:
		break;
	case JPKI_REASON_CERTIFICATE_HOLD:
		return jpki_err_set(JPKI_ERR_INVALID,
				    "certificateHold is not a revocation: "
				    "use hold");
	default:
		return jpki_err_set(JPKI_ERR_INVALID,
				    "revocation reason %d is not one the "
				    "service uses",
				    (int)reason);
	}
	return change_status(ca, serial, CHANGE_REVOKE, reason);
}

int jpki_ca_hold(struct jpki_ca *ca, const char *serial)
{
	return change_status(ca, serial, CHANGE_HOLD,
			     JPKI_REASON_CERTIFICATE_HOLD);
}

int jpki_ca_release(struct jpki_ca *ca, const char *serial)
{
	return change_status(ca, serial, CHANGE_RELEASE,
			     JPKI_REASON_UNSPECIFIED);
}

/* Rebuilds the issue request of a recorded certificate. */
static int request_from_row(struct jpki_issue_request *req, X509 **cert_out,
			    const struct jpki_rows *rows)
{
	const unsigned char *p;
	size_t len;
	X509 *cert;
	int r;

	*cert_out = NULL;
	req->type = (enum jpki_cert_type)jpki_rows_int(rows, 0, 1);
	req->card = (enum jpki_card_kind)jpki_rows_int(rows, 0, 2);
	req->person = jpki_rows_text(rows, 0, 3);
	req->municipality_code = jpki_rows_text(rows, 0, 4);
	req->prefecture = jpki_rows_text(rows, 0, 14);
	req->municipality = jpki_rows_text(rows, 0, 15);
	p = jpki_rows_blob(rows, 0, 12, &len);
	if (p == NULL || (cert = d2i_X509(NULL, &p, (long)len)) == NULL)
		return jpki_err_set(JPKI_ERR_STORE,
				    "the recorded certificate is unreadable");
	*cert_out = cert;
	if (req->type == JPKI_CERT_SIGN &&
	    (r = jpki_profile_facts_from_cert(&req->facts, cert)) != 0)
		return r;
	if (jpki_rows_text(rows, 0, 16) != NULL &&
	    (r = jpki_date_parse(&req->facts.birth,
				 jpki_rows_text(rows, 0, 16))) != 0)
		return r;
	if (jpki_rows_text(rows, 0, 17) != NULL &&
	    (r = jpki_date_parse(&req->card_expiry,
				 jpki_rows_text(rows, 0, 17))) != 0)
		return r;
	return 0;
}

int jpki_ca_renew(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const char *old_serial, EVP_PKEY *subject_key,
		  const struct jpki_date *card_expiry)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_rows *rows = NULL;
	struct jpki_date last, from, today = jpki_date_today();
	char serial[41], day[11];
	X509 *old = NULL;
	int r;

	*out = NULL;
	serial_canon(serial, old_serial ? old_serial : "");
	if (subject_key == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no subject public key");
	if (card_expiry != NULL && !jpki_date_valid(card_expiry))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the new card expiry is not a date");
	if ((r = jpki_store_begin(ca->store)) != 0)
		return r;
	if ((r = load_row(&rows, ca, serial)) != 0)
		goto fail;
	if (jpki_rows_int(rows, 0, 6) != JPKI_STATUS_GOOD) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "certificate %s is %s: only a valid "
				 "certificate can be renewed; issue a new one",
				 serial,
				 jpki_ca_status_name((enum jpki_cert_status)
							     jpki_rows_int(
								     rows, 0,
								     6)));
		goto fail;
	}
	last = jpki_date_of((time_t)jpki_rows_int(rows, 0, 10));
	if (jpki_clock_now() > (time_t)jpki_rows_int(rows, 0, 10)) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "certificate %s has expired: a new "
				 "certificate can be issued, not a renewal",
				 serial);
		goto fail;
	}
	from = jpki_date_add_months(&last, -3);
	if (jpki_date_cmp(&today, &from) < 0) {
		jpki_date_format(&from, day);
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "certificate %s can be renewed from %s "
				 "(3 months before it expires)",
				 serial, day);
		goto fail;
	}
	if ((r = request_from_row(&req, &old, rows)) != 0)
		goto fail;
	if (card_expiry != NULL)
		req.card_expiry = *card_expiry;
	if ((r = set_status_locked(ca, rows, JPKI_STATUS_REVOKED,
				   JPKI_REASON_SUPERSEDED)) != 0 ||
	    (r = issue_renewal(out, ca, &req, subject_key, serial)) != 0)
		goto fail;
	jpki_rows_free(rows);
	X509_free(old);
	if ((r = jpki_store_commit(ca->store)) != 0) {
		jpki_cert_info_free(*out);
		*out = NULL;
		return r;
	}
	ca_ocsp_forget(ca, req.type, serial);
	return 0;
fail:
	jpki_cert_info_free(*out);
	*out = NULL;
	jpki_rows_free(rows);
	X509_free(old);
	jpki_store_rollback(ca->store);
	return r;
}
