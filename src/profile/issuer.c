/*
 * The pre-encoded path of the end-entity profiles (docs/PERFORMANCE.md,
 * Issuance). Building a certificate through OpenSSL 3.0's X509 object costs
 * about 50 microseconds besides the signature, a fifth of it: every setter
 * copies what it is given by encoding and decoding it (the issuer's name is
 * encoded, decoded and encoded again for each certificate), and each
 * extension is parsed from configuration text or built as an object tree,
 * encoded, then encoded again inside the certificate. Most of it is the same
 * for every certificate of a CA.
 *
 * So a jpki_profile_issuer builds one certificate by the plain path
 * (jpki_profile_build) once, and keeps the DER of what every certificate of
 * that CA shares: the issuer's name, the signature algorithm and the
 * extensions that do not depend on the subject. A municipality's
 * cRLDistributionPoints is encoded by the plain path the first time it is
 * asked for and kept, and so is its subject name (C, L, L) with a
 * placeholder of the CN's length, whose bytes each certificate's CN
 * replaces. For each certificate only the subject's own part is encoded:
 * its key (OpenSSL's encoder), the key identifier (a model extension with
 * the SHA-1 put in place), the validity and the facts.
 *
 * The TBSCertificate and the Certificate around it are written here into
 * one buffer each (issue 17): OpenSSL's template encoder built and walked
 * an object tree of the pre-encoded parts twice for each certificate, and
 * the facts went through six GENERAL_NAME objects. What is written here is
 * DER of a fixed shape: tags, lengths, and contents that are either
 * pre-encoded elements or the request's checked UTF-8 strings. The unit
 * tests compare the result with the plain path's, byte for byte.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "profile/profile_internal.h"

struct der {
	unsigned char *p;
	int len;
};

/* Municipalities' cRLDistributionPoints by URL, and their subject names by
 * prefecture and municipality (about 1 900 in Japan). */
#define SLOTS 4096

struct slot {
	char *key;
	/* written once, before key is set; then read only */
	struct der der;
	char *text; /* names: X509_NAME_oneline() of the model */
};

/* The extensions every certificate carries, in the profile's order; the
 * subject's own ones go between them (see jpki_profile_issue). */
enum shared_ext { EXT_KU, EXT_POLICY, EXT_AIA, EXT_AKI, EXT_IAN, EXT_N };

/* The subjectKeyIdentifier extension up to its 20-byte SHA-1. */
#define SKI_MAX 16

struct jpki_profile_issuer {
	enum jpki_cert_type type;
	X509 *issuer;
	EVP_PKEY *key;
	/* EVP_DigestSignInit() done once (it fetches the algorithm and
	 * exports the key to the provider each time); each certificate
	 * signs with a copy */
	EVP_MD_CTX *sign_ctx;
	size_t sig_max; /* EVP_PKEY_get_size() of key */
	EVP_MD *sha1;   /* fetched once: an implicit fetch per digest costs */
	char *ocsp_url;
	char *ca_issuers_url; /* NULL: none */
	struct der sig_alg;
	struct der name;
	struct der ext[EXT_N];
	unsigned char ski[SKI_MAX];
	size_t ski_len;
	struct der fact_oid[7]; /* JPKI_OID_FACTS.1 .. .6 */
	pthread_mutex_t lock;   /* crldp, names */
	struct slot crldp[SLOTS];
	struct slot names[SLOTS];
};

static void der_free(struct der *d)
{
	OPENSSL_free(d->p);
	d->p = NULL;
	d->len = 0;
}

static int ext_der(struct der *out, const X509_EXTENSION *ext)
{
	out->p = NULL;
	out->len = i2d_X509_EXTENSION(ext, &out->p);
	if (out->len <= 0) {
		out->p = NULL;
		return 0;
	}
	return 1;
}

/*
 * The DER writer: a header's size first (to size the buffer), then the
 * header itself. Contents up to 16 MiB; a certificate is a few KiB.
 */
static size_t hdr_len(size_t len)
{
	return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5;
}

/* A TLV of `len` bytes of contents. */
static size_t tlv_len(size_t len)
{
	return hdr_len(len) + len;
}

static unsigned char *put_hdr(unsigned char *p, unsigned char tag, size_t len)
{
	size_t n = hdr_len(len) - 2;

	*p++ = tag;
	if (n == 0) {
		*p++ = (unsigned char)len;
		return p;
	}
	*p++ = (unsigned char)(0x80 | n);
	while (n-- > 0)
		*p++ = (unsigned char)(len >> (8 * n));
	return p;
}

static unsigned char *put(unsigned char *p, const void *src, size_t len)
{
	memcpy(p, src, len);
	return p + len;
}

static void slot_free(struct slot *s)
{
	free(s->key);
	der_free(&s->der);
	OPENSSL_free(s->text);
}

void jpki_profile_issuer_free(struct jpki_profile_issuer *iss)
{
	if (iss == NULL)
		return;
	X509_free(iss->issuer);
	EVP_PKEY_free(iss->key);
	EVP_MD_CTX_free(iss->sign_ctx);
	EVP_MD_free(iss->sha1);
	free(iss->ocsp_url);
	free(iss->ca_issuers_url);
	der_free(&iss->sig_alg);
	der_free(&iss->name);
	for (int i = 0; i < EXT_N; i++)
		der_free(&iss->ext[i]);
	for (int i = 0; i < 7; i++)
		der_free(&iss->fact_oid[i]);
	for (size_t i = 0; i < SLOTS; i++) {
		slot_free(&iss->crldp[i]);
		slot_free(&iss->names[i]);
	}
	pthread_mutex_destroy(&iss->lock);
	free(iss);
}

static int keep_shared(struct jpki_profile_issuer *iss, X509 *model)
{
	static const int order_sign[] = {
		NID_key_usage,  NID_certificate_policies,
		NID_subject_alt_name, NID_crl_distribution_points,
		NID_info_access, NID_subject_key_identifier,
		NID_authority_key_identifier, NID_issuer_alt_name};
	static const int order_auth[] = {
		NID_key_usage,   NID_certificate_policies,
		NID_info_access, NID_subject_key_identifier,
		NID_authority_key_identifier, NID_issuer_alt_name};
	int sign = iss->type == JPKI_CERT_SIGN;
	const int *order = sign ? order_sign : order_auth;
	int n = sign ? 8 : 6;

	if (X509_get_ext_count(model) != n)
		return 0;
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *ext = X509_get_ext(model, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		struct der *to = NULL;

		if (nid != order[i])
			return 0;
		switch (nid) {
		case NID_key_usage:
			to = &iss->ext[EXT_KU];
			break;
		case NID_certificate_policies:
			to = &iss->ext[EXT_POLICY];
			break;
		case NID_info_access:
			to = &iss->ext[EXT_AIA];
			break;
		case NID_authority_key_identifier:
			to = &iss->ext[EXT_AKI];
			break;
		case NID_issuer_alt_name:
			to = &iss->ext[EXT_IAN];
			break;
		}
		if (to != NULL && !ext_der(to, ext))
			return 0;
	}
	return 1;
}

/*
 * Keeps the parts of the subject key identifier's extension and the facts'
 * OIDs that do not change between certificates.
 */
static int keep_models(struct jpki_profile_issuer *iss)
{
	unsigned char zero[20] = {0};
	ASN1_OCTET_STRING *oct = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	struct der ski = {0};
	int ok = 0;

	if (oct == NULL || !ASN1_OCTET_STRING_set(oct, zero, sizeof(zero)) ||
	    (ext = X509V3_EXT_i2d(NID_subject_key_identifier, 0, oct)) ==
		    NULL ||
	    !ext_der(&ski, ext) || ski.len <= 20 || ski.len - 20 > SKI_MAX ||
	    memcmp(ski.p + ski.len - 20, zero, 20) != 0)
		goto out;
	iss->ski_len = (size_t)ski.len - 20;
	memcpy(iss->ski, ski.p, iss->ski_len);
	for (int arc = 1; arc <= 6; arc++) {
		char text[64];
		ASN1_OBJECT *oid;

		snprintf(text, sizeof(text), "%s.%d", JPKI_OID_FACTS, arc);
		if ((oid = OBJ_txt2obj(text, 1)) == NULL)
			goto out;
		iss->fact_oid[arc].p = NULL;
		iss->fact_oid[arc].len = i2d_ASN1_OBJECT(oid,
							 &iss->fact_oid[arc].p);
		ASN1_OBJECT_free(oid);
		if (iss->fact_oid[arc].len <= 0) {
			iss->fact_oid[arc].p = NULL;
			goto out;
		}
	}
	iss->fact_oid[0].p = NULL;
	if ((iss->fact_oid[0].len = i2d_ASN1_OBJECT(
		     OBJ_nid2obj(NID_subject_alt_name), &iss->fact_oid[0].p)) <=
	    0) {
		iss->fact_oid[0].p = NULL;
		goto out;
	}
	ok = 1;
out:
	der_free(&ski);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(oct);
	return ok;
}

int jpki_profile_issuer_new(struct jpki_profile_issuer **out,
			    enum jpki_cert_type type, X509 *issuer,
			    EVP_PKEY *issuer_key, const char *ocsp_url,
			    const char *ca_issuers_url)
{
	struct jpki_profile_request req = JPKI_PROFILE_REQUEST_INIT;
	struct jpki_facts facts = {.sex = JPKI_SEX_MALE,
				   .birth = {1980, 1, 1}};
	struct jpki_profile_issuer *iss = NULL;
	X509 *model = NULL;
	int r;

	*out = NULL;
	if (issuer == NULL || issuer_key == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no issuer or no key");
	/* A model certificate by the plain path: its subject's fields are
	 * placeholders, only what every certificate shares is kept. */
	memcpy(facts.name, "A", 2);
	memcpy(facts.address, "A", 2);
	req.type = type;
	req.cn = "A";
	req.prefecture = "A";
	req.municipality = "A";
	req.crl_url = "http://a/a.crl";
	req.ocsp_url = ocsp_url;
	req.ca_issuers_url = ca_issuers_url;
	req.facts = &facts;
	req.not_before = 1000000000;
	req.not_after = 1000000001;
	if ((r = jpki_profile_build(&model, &req, X509_get0_pubkey(issuer),
				    issuer)) != 0)
		return r;
	r = JPKI_ERR_NOMEM;
	if ((iss = calloc(1, sizeof(*iss))) == NULL)
		goto out;
	pthread_mutex_init(&iss->lock, NULL);
	iss->type = type;
	if ((iss->ocsp_url = strdup(ocsp_url)) == NULL ||
	    (ca_issuers_url != NULL &&
	     (iss->ca_issuers_url = strdup(ca_issuers_url)) == NULL))
		goto out;
	r = jpki_err_set(JPKI_ERR_CRYPTO,
			 "cannot pre-encode the profile of this CA");
	/* The signature algorithm is what X509_sign() writes for this key. */
	if (!X509_up_ref(issuer))
		goto out;
	iss->issuer = issuer;
	if (!EVP_PKEY_up_ref(issuer_key))
		goto out;
	iss->key = issuer_key;
	if (EVP_PKEY_get_size(issuer_key) <= 0)
		goto out;
	iss->sig_max = (size_t)EVP_PKEY_get_size(issuer_key);
	if ((iss->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL ||
	    (iss->sign_ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(iss->sign_ctx, NULL, EVP_sha256(), NULL,
			       issuer_key) != 1 ||
	    !X509_sign(model, issuer_key, EVP_sha256()) ||
	    (iss->sig_alg.len = i2d_X509_ALGOR(X509_get0_tbs_sigalg(model),
					       &iss->sig_alg.p)) <= 0 ||
	    (iss->name.len = i2d_X509_NAME(X509_get_issuer_name(model),
					   &iss->name.p)) <= 0 ||
	    !keep_shared(iss, model) || !keep_models(iss))
		goto out;
	*out = iss;
	iss = NULL;
	r = 0;
out:
	ERR_clear_error();
	X509_free(model);
	jpki_profile_issuer_free(iss);
	return r;
}

static size_t key_slot(const char *key)
{
	uint32_t h = 2166136261u;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % SLOTS;
}

/*
 * The slot of `key` in `table`, made by make(slot, arg) at the first ask
 * (under the lock: once per municipality). NULL when it cannot be made or
 * the table is full. A slot stays valid and unchanged until the issuer is
 * freed.
 */
static const struct slot *slot_of(struct jpki_profile_issuer *iss,
				  struct slot *table, const char *key,
				  int (*make)(struct slot *, X509 *,
					      const void *),
				  const void *arg)
{
	size_t at = key_slot(key);
	const struct slot *found = NULL;

	pthread_mutex_lock(&iss->lock);
	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *s = &table[(at + i) % SLOTS];

		if (s->key == NULL) {
			if (make(s, iss->issuer, arg) &&
			    (s->key = strdup(key)) != NULL)
				found = s;
			else
				slot_free(s);
			break;
		}
		if (strcmp(s->key, key) == 0) {
			found = s;
			break;
		}
	}
	pthread_mutex_unlock(&iss->lock);
	return found;
}


/* cRLDistributionPoints URI:url as the plain path encodes it. */
static int crldp_encode(struct der *out, X509 *issuer, const char *url)
{
	X509 *scratch = X509_new();
	char *value = NULL;
	int ok = 0;

	out->p = NULL;
	if (scratch != NULL && asprintf(&value, "URI:%s", url) >= 0 &&
	    profile_add_conf(scratch, issuer, NID_crl_distribution_points,
			     value) &&
	    X509_get_ext_count(scratch) == 1)
		ok = ext_der(out, X509_get_ext(scratch, 0));
	free(value);
	X509_free(scratch);
	return ok;
}

static int crldp_make(struct slot *s, X509 *issuer, const void *url)
{
	return crldp_encode(&s->der, issuer, url);
}

static int same_url(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* C=JP, L=prefecture, L=municipality, CN=id, as cert.c's add_text. */
static X509_NAME *subject_of(const struct jpki_profile_request *req)
{
	X509_NAME *name = X509_NAME_new();
	int sign = req->type == JPKI_CERT_SIGN;

#define ADD(nid, v)                                                        \
	X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,               \
				   (const unsigned char *)(v), -1, -1, 0)
	if (name == NULL || !ADD(NID_countryName, "JP") ||
	    (sign && (!ADD(NID_localityName, req->prefecture) ||
		      !ADD(NID_localityName, req->municipality))) ||
	    !ADD(NID_commonName, req->cn)) {
		X509_NAME_free(name);
		return NULL;
	}
#undef ADD
	return name;
}

/* The subject's name and its text, encoded by OpenSSL. */
static int name_encode(struct der *der, char **text,
		       const struct jpki_profile_request *req)
{
	X509_NAME *name = subject_of(req);
	int ok = 0;

	der->p = NULL;
	*text = NULL;
	if (name != NULL && (der->len = i2d_X509_NAME(name, &der->p)) > 0 &&
	    (*text = X509_NAME_oneline(name, NULL, 0)) != NULL)
		ok = 1;
	if (!ok) {
		der_free(der);
		OPENSSL_free(*text);
		*text = NULL;
	}
	X509_NAME_free(name);
	return ok;
}

/* A CN the name's model takes: letters and digits (the opaque ids of
 * issue.c), which every string type OpenSSL could choose holds as they
 * are and X509_NAME_oneline() writes unescaped. */
static int cn_fits(const char *cn, size_t len)
{
	return len > 0 && len <= 64 &&
	       strspn(cn, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789") == len;
}

/* The model of a municipality's names: the request's with a CN of as many
 * 'A's, which must end both the DER and the text. */
static int name_make(struct slot *s, X509 *issuer, const void *arg)
{
	struct jpki_profile_request model = *(const struct jpki_profile_request *)arg;
	size_t len = strlen(model.cn), tl;
	char cn[65];

	memset(cn, 'A', len);
	cn[len] = '\0';
	model.cn = cn;
	if (!name_encode(&s->der, &s->text, &model))
		return 0;
	tl = strlen(s->text);
	return (size_t)s->der.len > len && tl > len &&
	       memcmp(s->der.p + s->der.len - (int)len, cn, len) == 0 &&
	       memcmp(s->text + tl - len, cn, len) == 0;
}

/* UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5), as
 * ASN1_TIME_set() chooses; out has room for 17 bytes. */
static size_t put_time(unsigned char *out, time_t t)
{
	struct tm tm;
	char text[16];
	int utc, n;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 0 ||
	    tm.tm_year > 9999 - 1900)
		return 0;
	utc = tm.tm_year >= 50 && tm.tm_year < 150;
	n = snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec);
	if (n != 15)
		return 0;
	out = put_hdr(out, utc ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME,
		      utc ? 13 : 15);
	memcpy(out, utc ? text + 2 : text, utc ? 13 : 15);
	return utc ? 15 : 17;
}

/* The facts' subjectAltName (cert.c's profile_facts_names): each an
 * otherName [0] { OID, [0] EXPLICIT UTF8String }, the six in a GeneralNames
 * in an OCTET STRING. Writes it at out when out is not NULL; returns its
 * size. */
static size_t facts_put(unsigned char *out,
			const struct jpki_profile_issuer *iss,
			const char *const v[7])
{
	size_t names = 0, octet, ext;

	for (int arc = 1; arc <= 6; arc++)
		names += tlv_len((size_t)iss->fact_oid[arc].len +
				 tlv_len(tlv_len(strlen(v[arc]))));
	octet = tlv_len(tlv_len(names));
	ext = tlv_len((size_t)iss->fact_oid[0].len + octet);
	if (out == NULL)
		return ext;
	out = put_hdr(out, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED,
		      (size_t)iss->fact_oid[0].len + octet);
	out = put(out, iss->fact_oid[0].p, (size_t)iss->fact_oid[0].len);
	out = put_hdr(out, V_ASN1_OCTET_STRING, tlv_len(names));
	out = put_hdr(out, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, names);
	for (int arc = 1; arc <= 6; arc++) {
		size_t vl = strlen(v[arc]);

		out = put_hdr(out, 0xa0,
			      (size_t)iss->fact_oid[arc].len +
				      tlv_len(tlv_len(vl)));
		out = put(out, iss->fact_oid[arc].p,
			  (size_t)iss->fact_oid[arc].len);
		out = put_hdr(out, 0xa0, tlv_len(vl));
		out = put_hdr(out, V_ASN1_UTF8STRING, vl);
		out = put(out, v[arc], vl);
	}
	return ext;
}

/* rsaEncryption with NULL parameters (RFC 3279 2.3.1). */
static const unsigned char rsa_alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86,
					0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
					0x01, 0x05, 0x00};

/* A positive INTEGER's contents: its big-endian bytes, with a leading zero
 * when the top bit is set. */
static size_t int_len(const BIGNUM *bn)
{
	return (size_t)BN_num_bytes(bn) + (BN_num_bits(bn) % 8 == 0);
}

static unsigned char *put_int(unsigned char *p, const BIGNUM *bn)
{
	size_t len = int_len(bn);

	p = put_hdr(p, V_ASN1_INTEGER, len);
	if (len > (size_t)BN_num_bytes(bn))
		*p++ = 0;
	return p + BN_bn2bin(bn, p);
}

/*
 * The SubjectPublicKeyInfo of an RSA key written here, as OpenSSL's
 * encoder writes it: SEQUENCE { rsaEncryption, BIT STRING { RSAPublicKey
 * } }. pubkey.c's path still built a legacy RSA object, an X509_PUBKEY
 * and an encoding for each certificate. *key_at: where the RSAPublicKey
 * (what the key identifier hashes) starts, *key_len its size. 0 for a key
 * that is not RSA, or on failure (the caller takes the ordinary path).
 */
static int rsa_spki(struct der *out, size_t *key_at, size_t *key_len,
		    EVP_PKEY *key)
{
	unsigned char *p;
	BIGNUM *n = NULL, *e = NULL;
	size_t ints, seq, bits, total;
	int ok = 0;

	out->p = NULL;
	out->len = 0;
	if (!profile_rsa_ne(key, &n, &e))
		goto out;
	ints = tlv_len(int_len(n)) + tlv_len(int_len(e));
	seq = tlv_len(ints);
	bits = tlv_len(1 + seq);
	total = tlv_len(sizeof(rsa_alg) + bits);
	if ((out->p = OPENSSL_malloc(total)) == NULL)
		goto out;
	p = put_hdr(out->p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED,
		    sizeof(rsa_alg) + bits);
	p = put(p, rsa_alg, sizeof(rsa_alg));
	p = put_hdr(p, V_ASN1_BIT_STRING, 1 + seq);
	*p++ = 0; /* no unused bits */
	*key_at = (size_t)(p - out->p);
	*key_len = seq;
	p = put_hdr(p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, ints);
	p = put_int(p, n);
	p = put_int(p, e);
	if ((size_t)(p - out->p) != total) {
		der_free(out);
		goto out;
	}
	out->len = (int)total;
	ok = 1;
out:
	BN_free(n);
	BN_free(e);
	return ok;
}

/* subjectKeyIdentifier "hash": SHA-1 of the key's BIT STRING (RFC 5280
 * 4.2.1.2 (1)), as OpenSSL computes it, in the model's extension. */
static int ski_put(unsigned char out[SKI_MAX + 20],
		   const struct jpki_profile_issuer *iss,
		   const unsigned char *bits, size_t bits_len)
{
	unsigned int md_len = 0;

	memcpy(out, iss->ski, iss->ski_len);
	return EVP_Digest(bits, bits_len, out + iss->ski_len, &md_len,
			  iss->sha1, NULL) &&
	       md_len == 20;
}

/* The subject's SubjectPublicKeyInfo, and the key bits in it: written
 * here for RSA, by OpenSSL otherwise. */
static int spki_of(struct der *out, const unsigned char **bits,
		   size_t *bits_len, EVP_PKEY *key)
{
	X509_PUBKEY *pk = NULL;
	const unsigned char *b;
	size_t at;
	int len, ok = 0;

	if (rsa_spki(out, &at, bits_len, key)) {
		*bits = out->p + at;
		return 1;
	}
	ERR_clear_error();
	if ((pk = profile_pubkey(key)) == NULL ||
	    (out->len = i2d_X509_PUBKEY(pk, &out->p)) <= 0 ||
	    !X509_PUBKEY_get0_param(NULL, &b, &len, NULL, pk) || len <= 0 ||
	    len > out->len)
		goto out;
	/* the same bytes end the encoding (the BIT STRING is last) */
	*bits = out->p + out->len - len;
	*bits_len = (size_t)len;
	ok = memcmp(*bits, b, (size_t)len) == 0;
out:
	X509_PUBKEY_free(pk);
	if (!ok)
		der_free(out);
	return ok;
}

/* The TBS signed with a copy of the CA's context; sig has room for
 * iss->sig_max. */
static int sign_tbs(unsigned char *sig, size_t *sig_len,
		    struct jpki_profile_issuer *iss, const unsigned char *tbs,
		    size_t tbs_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_MD_CTX_copy_ex(md, iss->sign_ctx) == 1;

	/* used once: without the flag EVP_DigestSignFinal() copies the
	 * context again to leave it reusable */
	if (ok)
		EVP_MD_CTX_set_flags(md, EVP_MD_CTX_FLAG_FINALISE);
	*sig_len = iss->sig_max;
	ok = ok && EVP_DigestSign(md, sig, sig_len, tbs, tbs_len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

int jpki_profile_issue(unsigned char **out_der, size_t *out_len,
		       char **out_subject, struct jpki_profile_issuer *iss,
		       const struct jpki_profile_request *req,
		       EVP_PKEY *subject_key, const ASN1_INTEGER *serial)
{
	static const unsigned char version[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
	struct der spki = {0}, crldp_own = {0}, own_name = {0};
	const struct der *crldp = NULL, *name;
	const struct slot *model = NULL, *crldp_slot;
	char *own_text = NULL, sex[2], birth[10];
	const char *facts[7] = {NULL};
	unsigned char serial_der[64], *sp = serial_der, val[36];
	unsigned char ski[SKI_MAX + 20], *buf = NULL, *p, *sig, *cert = NULL;
	const unsigned char *bits = NULL;
	size_t bits_len = 0;
	size_t cn_len = 0, serial_len, val_len, exts_len = 0, san_len = 0;
	size_t tbs_content, tbs_len, sig_len, cert_len;
	int sign = req != NULL && req->type == JPKI_CERT_SIGN, r;
	int n_ext = 0;
	const struct der *list[8];

	*out_der = NULL;
	*out_len = 0;
	if (out_subject != NULL)
		*out_subject = NULL;
	if ((r = profile_check_request(req)) != 0)
		goto out;
	r = JPKI_ERR_INVALID;
	if (iss == NULL || subject_key == NULL || serial == NULL) {
		r = jpki_err_set(r, "no issuer, subject key or serial");
		goto out;
	}
	if (req->type != iss->type || !same_url(req->ocsp_url, iss->ocsp_url) ||
	    !same_url(req->ca_issuers_url, iss->ca_issuers_url)) {
		r = jpki_err_set(r, "the request's type or URLs are not those "
				    "the CA's profile was pre-encoded with");
		goto out;
	}
	/* the subject's name: the municipality's model, or OpenSSL's */
	cn_len = strlen(req->cn);
	if (cn_fits(req->cn, cn_len)) {
		/* lengths first: no two requests' names share a key */
		const char *pref = sign ? req->prefecture : "";
		const char *muni = sign ? req->municipality : "";
		char key[320];

		if (snprintf(key, sizeof(key), "%zu:%s%zu:%s%zu",
			     strlen(pref), pref, strlen(muni), muni,
			     cn_len) < (int)sizeof(key))
			model = slot_of(iss, iss->names, key, name_make, req);
	}
	if (model == NULL && !name_encode(&own_name, &own_text, req))
		goto crypto;
	name = model != NULL ? &model->der : &own_name;
	if ((serial_len = (size_t)i2d_ASN1_INTEGER(serial, NULL)) == 0 ||
	    serial_len > sizeof(serial_der) ||
	    i2d_ASN1_INTEGER(serial, &sp) != (int)serial_len ||
	    !spki_of(&spki, &bits, &bits_len, subject_key) ||
	    !ski_put(ski, iss, bits, bits_len))
		goto crypto;
	{
		size_t a = put_time(val + 2, req->not_before), b;

		if (a == 0 || (b = put_time(val + 2 + a, req->not_after)) == 0)
			goto crypto;
		put_hdr(val, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, a + b);
		val_len = 2 + a + b;
	}
	if (sign) {
		sex[0] = (char)('0' + req->facts->sex);
		sex[1] = '\0';
		jpki_profile_birth_encode(&req->facts->birth, birth);
		facts[1] = req->facts->name;
		facts[2] = req->facts->name_subst;
		facts[3] = sex;
		facts[4] = birth;
		facts[5] = req->facts->address;
		facts[6] = req->facts->address_subst;
		san_len = facts_put(NULL, iss, facts);
		if ((crldp_slot = slot_of(iss, iss->crldp, req->crl_url,
					  crldp_make, req->crl_url)) != NULL)
			crldp = &crldp_slot->der;
		else if (crldp_encode(&crldp_own, iss->issuer, req->crl_url))
			crldp = &crldp_own; /* a full table: its own */
		else
			goto crypto;
	}
	/* the extensions in the profile's order (cert.c); the facts' one
	 * (NULL in the list) is written in place */
	list[n_ext++] = &iss->ext[EXT_KU];
	list[n_ext++] = &iss->ext[EXT_POLICY];
	if (sign) {
		list[n_ext++] = NULL;
		list[n_ext++] = crldp;
	}
	list[n_ext++] = &iss->ext[EXT_AIA];
	list[n_ext++] = NULL; /* the key identifier */
	list[n_ext++] = &iss->ext[EXT_AKI];
	list[n_ext++] = &iss->ext[EXT_IAN];
	for (int i = 0; i < n_ext; i++)
		exts_len += list[i] != NULL ? (size_t)list[i]->len : 0;
	exts_len += san_len + iss->ski_len + 20;
	tbs_content = sizeof(version) + serial_len + (size_t)iss->sig_alg.len +
		      (size_t)iss->name.len + val_len + (size_t)name->len +
		      (size_t)spki.len + tlv_len(tlv_len(exts_len));
	tbs_len = tlv_len(tbs_content);
	if ((buf = malloc(tbs_len + iss->sig_max)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	p = put_hdr(buf, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, tbs_content);
	p = put(p, version, sizeof(version));
	p = put(p, serial_der, serial_len);
	p = put(p, iss->sig_alg.p, (size_t)iss->sig_alg.len);
	p = put(p, iss->name.p, (size_t)iss->name.len);
	p = put(p, val, val_len);
	p = put(p, name->p, (size_t)name->len);
	if (model != NULL) /* the CN in place of the model's */
		memcpy(p - cn_len, req->cn, cn_len);
	p = put(p, spki.p, (size_t)spki.len);
	p = put_hdr(p, 0xa3, tlv_len(exts_len));
	p = put_hdr(p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, exts_len);
	for (int i = 0, nulls = 0; i < n_ext; i++) {
		if (list[i] != NULL) {
			p = put(p, list[i]->p, (size_t)list[i]->len);
		} else if (sign && nulls++ == 0) {
			p += facts_put(p, iss, facts);
		} else {
			p = put(p, ski, iss->ski_len + 20);
		}
	}
	if ((size_t)(p - buf) != tbs_len)
		goto crypto;
	sig = buf + tbs_len;
	if (!sign_tbs(sig, &sig_len, iss, buf, tbs_len))
		goto crypto;
	cert_len = tlv_len(tbs_len + (size_t)iss->sig_alg.len +
			   tlv_len(sig_len + 1));
	if ((cert = OPENSSL_malloc(cert_len)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	p = put_hdr(cert, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED,
		    tbs_len + (size_t)iss->sig_alg.len + tlv_len(sig_len + 1));
	p = put(p, buf, tbs_len);
	p = put(p, iss->sig_alg.p, (size_t)iss->sig_alg.len);
	/* the signature as a BIT STRING with no unused bits (as
	 * ASN1_item_sign) */
	p = put_hdr(p, V_ASN1_BIT_STRING, sig_len + 1);
	*p++ = 0;
	p = put(p, sig, sig_len);
	if (out_subject != NULL) {
		const char *text = model != NULL ? model->text : own_text;
		size_t tl = strlen(text);

		if ((*out_subject = OPENSSL_malloc(tl + 1)) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		memcpy(*out_subject, text, tl + 1);
		if (model != NULL)
			memcpy(*out_subject + tl - cn_len, req->cn, cn_len);
	}
	*out_der = cert;
	*out_len = cert_len;
	cert = NULL;
	r = 0;
	goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the %s certificate",
			 sign ? "signing" : "authentication");
out:
	ERR_clear_error();
	OPENSSL_free(cert);
	free(buf);
	der_free(&spki);
	der_free(&own_name);
	OPENSSL_free(own_text);
	der_free(&crldp_own);
	return r;
}
