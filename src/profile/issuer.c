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
 * asked for and kept. For each certificate only the subject's part is
 * encoded (name, validity, key and its identifier, the facts); OpenSSL's
 * encoder writes the TBSCertificate from the template below, which declares
 * X509_CINF's fields with the shared ones as pre-encoded elements; that DER
 * is signed and goes into the Certificate verbatim, as crl.c does for CRLs.
 * Every byte still comes from an OpenSSL encoder, and the unit tests compare
 * the result with the plain path's, byte for byte.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "profile/profile_internal.h"

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	ASN1_TYPE *sig_alg; /* each ASN1_TYPE: a complete encoding */
	ASN1_TYPE *issuer;
	ASN1_TYPE *validity;
	ASN1_TYPE *subject;
	ASN1_TYPE *spki;
	STACK_OF(ASN1_TYPE) *extensions;
} CERT_TBS;

/* X509_CINF's fields, in its order (RFC 5280 4.1). */
ASN1_SEQUENCE(CERT_TBS) = {
	ASN1_EXP_OPT(CERT_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(CERT_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(CERT_TBS, sig_alg, ASN1_ANY),
	ASN1_SIMPLE(CERT_TBS, issuer, ASN1_ANY),
	ASN1_SIMPLE(CERT_TBS, validity, ASN1_ANY),
	ASN1_SIMPLE(CERT_TBS, subject, ASN1_ANY),
	ASN1_SIMPLE(CERT_TBS, spki, ASN1_ANY),
	ASN1_EXP_SEQUENCE_OF_OPT(CERT_TBS, extensions, ASN1_ANY, 3),
} static_ASN1_SEQUENCE_END(CERT_TBS)

typedef struct {
	ASN1_TYPE *tbs;
	ASN1_TYPE *sig_alg;
	ASN1_BIT_STRING *signature;
} CERT_SIGNED;

ASN1_SEQUENCE(CERT_SIGNED) = {
	ASN1_SIMPLE(CERT_SIGNED, tbs, ASN1_ANY),
	ASN1_SIMPLE(CERT_SIGNED, sig_alg, ASN1_ANY),
	ASN1_SIMPLE(CERT_SIGNED, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CERT_SIGNED)

struct der {
	unsigned char *p;
	int len;
};

/* Municipalities' cRLDistributionPoints, by URL (about 1 900 in Japan). */
#define CRLDP_SLOTS 4096

struct crldp_slot {
	char *url;
	struct der ext; /* written once, before url is set; then read only */
};

/* The extensions every certificate carries, in the profile's order; the
 * subject's own ones go between them (see jpki_profile_issue). */
enum shared_ext { EXT_KU, EXT_POLICY, EXT_AIA, EXT_AKI, EXT_IAN, EXT_N };

struct jpki_profile_issuer {
	enum jpki_cert_type type;
	X509 *issuer;
	EVP_PKEY *key;
	/* EVP_DigestSignInit() done once (it fetches the algorithm and
	 * exports the key to the provider each time); each certificate
	 * signs with a copy */
	EVP_MD_CTX *sign_ctx;
	char *ocsp_url;
	char *ca_issuers_url; /* NULL: none */
	struct der sig_alg;
	struct der name;
	struct der ext[EXT_N];
	pthread_mutex_t lock; /* crldp */
	struct crldp_slot crldp[CRLDP_SLOTS];
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

/* A whole encoding as an ASN1_ANY element (no header of its own added). */
static ASN1_TYPE *any_of(ASN1_TYPE *t, ASN1_STRING *s, const struct der *d)
{
	s->type = V_ASN1_SEQUENCE;
	s->data = d->p;
	s->length = d->len;
	s->flags = 0;
	t->type = V_ASN1_SEQUENCE;
	t->value.sequence = s;
	return t;
}

void jpki_profile_issuer_free(struct jpki_profile_issuer *iss)
{
	if (iss == NULL)
		return;
	X509_free(iss->issuer);
	EVP_PKEY_free(iss->key);
	EVP_MD_CTX_free(iss->sign_ctx);
	free(iss->ocsp_url);
	free(iss->ca_issuers_url);
	der_free(&iss->sig_alg);
	der_free(&iss->name);
	for (int i = 0; i < EXT_N; i++)
		der_free(&iss->ext[i]);
	for (size_t i = 0; i < CRLDP_SLOTS; i++) {
		free(iss->crldp[i].url);
		der_free(&iss->crldp[i].ext);
	}
	pthread_mutex_destroy(&iss->lock);
	free(iss);
}

/*
 * Keeps the shared extensions of `model`, a certificate of the plain path,
 * checking that they come in the order jpki_profile_issue writes them.
 */
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
	if ((iss->sign_ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(iss->sign_ctx, NULL, EVP_sha256(), NULL,
			       issuer_key) != 1 ||
	    !X509_sign(model, issuer_key, EVP_sha256()) ||
	    (iss->sig_alg.len = i2d_X509_ALGOR(X509_get0_tbs_sigalg(model),
					       &iss->sig_alg.p)) <= 0 ||
	    (iss->name.len = i2d_X509_NAME(X509_get_issuer_name(model),
					   &iss->name.p)) <= 0 ||
	    !keep_shared(iss, model))
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

static size_t url_slot(const char *url)
{
	uint32_t h = 2166136261u;

	for (const char *p = url; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % CRLDP_SLOTS;
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

/* The municipality's extension, encoded at its first certificate; the
 * pointer stays valid until the issuer is freed. */
static const struct der *crldp_of(struct jpki_profile_issuer *iss,
				  const char *url, struct der *own)
{
	size_t at = url_slot(url);
	const struct der *found = NULL;

	pthread_mutex_lock(&iss->lock);
	for (size_t i = 0; i < CRLDP_SLOTS; i++) {
		struct crldp_slot *s = &iss->crldp[(at + i) % CRLDP_SLOTS];

		if (s->url == NULL) {
			/* not seen: encode it here, under the lock (once per
			 * municipality) */
			if (crldp_encode(&s->ext, iss->issuer, url) &&
			    (s->url = strdup(url)) != NULL)
				found = &s->ext;
			else
				der_free(&s->ext);
			break;
		}
		if (strcmp(s->url, url) == 0) {
			found = &s->ext;
			break;
		}
	}
	pthread_mutex_unlock(&iss->lock);
	/* a full table (or a failed strdup): this certificate's own */
	if (found == NULL && crldp_encode(own, iss->issuer, url))
		found = own;
	return found;
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

/* subjectKeyIdentifier "hash": SHA-1 of the key's BIT STRING (RFC 5280
 * 4.2.1.2 (1)), as OpenSSL computes it. */
static int ski_encode(struct der *out, X509_PUBKEY *pk)
{
	const unsigned char *bits;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	ASN1_OCTET_STRING *oct = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int bits_len, ok = 0;

	if (oct != NULL &&
	    X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, pk) &&
	    EVP_Digest(bits, (size_t)bits_len, md, &md_len, EVP_sha1(),
		       NULL) &&
	    ASN1_OCTET_STRING_set(oct, md, (int)md_len) &&
	    (ext = X509V3_EXT_i2d(NID_subject_key_identifier, 0, oct)) !=
		    NULL)
		ok = ext_der(out, ext);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(oct);
	return ok;
}

static int facts_encode(struct der *out, const struct jpki_facts *f)
{
	GENERAL_NAMES *names = profile_facts_names(f);
	X509_EXTENSION *ext = NULL;
	int ok = names != NULL &&
		 (ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names)) !=
			 NULL &&
		 ext_der(out, ext);

	X509_EXTENSION_free(ext);
	GENERAL_NAMES_free(names);
	return ok;
}

/* TBS signed by the issuer's key into the Certificate's DER. */
static int sign_wrap(unsigned char **out, size_t *out_len,
		     struct jpki_profile_issuer *iss, const struct der *tbs)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ASN1_BIT_STRING *sig = ASN1_BIT_STRING_new();
	unsigned char *bytes = NULL;
	size_t sig_len = 0;
	ASN1_STRING tbs_str, alg_str;
	ASN1_TYPE tbs_any, alg_any;
	int n, ok = 0;

	*out = NULL;
	if (md == NULL || sig == NULL ||
	    EVP_MD_CTX_copy_ex(md, iss->sign_ctx) != 1 ||
	    EVP_DigestSign(md, NULL, &sig_len, tbs->p, (size_t)tbs->len) !=
		    1 ||
	    (bytes = OPENSSL_malloc(sig_len)) == NULL ||
	    EVP_DigestSign(md, bytes, &sig_len, tbs->p, (size_t)tbs->len) != 1)
		goto out;
	ASN1_STRING_set0(sig, bytes, (int)sig_len);
	bytes = NULL;
	/* No unused bits, whatever the last byte (as ASN1_item_sign). */
	sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	{
		CERT_SIGNED cert = {
			.tbs = any_of(&tbs_any, &tbs_str, tbs),
			.sig_alg = any_of(&alg_any, &alg_str, &iss->sig_alg),
			.signature = sig,
		};

		n = ASN1_item_i2d((ASN1_VALUE *)&cert, out,
				  ASN1_ITEM_rptr(CERT_SIGNED));
		ok = n > 0;
		*out_len = ok ? (size_t)n : 0;
		if (!ok)
			*out = NULL;
	}
out:
	OPENSSL_free(bytes);
	ASN1_BIT_STRING_free(sig);
	EVP_MD_CTX_free(md);
	return ok;
}

int jpki_profile_issue(unsigned char **out_der, size_t *out_len,
		       char **out_subject, struct jpki_profile_issuer *iss,
		       const struct jpki_profile_request *req,
		       EVP_PKEY *subject_key, const ASN1_INTEGER *serial)
{
	ASN1_INTEGER *version = ASN1_INTEGER_new();
	X509_NAME *subject = NULL;
	X509_PUBKEY *pk = NULL;
	ASN1_TIME *nb = NULL, *na = NULL;
	STACK_OF(ASN1_TYPE) *exts = NULL;
	struct der subj = {0}, spki = {0}, val = {0}, ski = {0}, san = {0};
	struct der crldp_own = {0}, tbs = {0};
	const struct der *crldp = NULL;
	ASN1_STRING strs[13];
	ASN1_TYPE types[13];
	int sign = req != NULL && req->type == JPKI_CERT_SIGN, k = 0, r;

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
	if (version == NULL || !ASN1_INTEGER_set(version, 2) ||
	    (subject = subject_of(req)) == NULL ||
	    (subj.len = i2d_X509_NAME(subject, &subj.p)) <= 0 ||
	    (pk = profile_pubkey(subject_key)) == NULL ||
	    (spki.len = i2d_X509_PUBKEY(pk, &spki.p)) <= 0 ||
	    !ski_encode(&ski, pk) ||
	    (nb = ASN1_TIME_set(NULL, req->not_before)) == NULL ||
	    (na = ASN1_TIME_set(NULL, req->not_after)) == NULL)
		goto crypto;
	{
		X509_VAL v = {nb, na};

		if ((val.len = i2d_X509_VAL(&v, &val.p)) <= 0)
			goto crypto;
	}
	if (sign && (!facts_encode(&san, req->facts) ||
		     (crldp = crldp_of(iss, req->crl_url, &crldp_own)) ==
			     NULL))
		goto crypto;
	/* the extensions in the profile's order (cert.c) */
	if ((exts = sk_ASN1_TYPE_new_reserve(NULL, 8)) == NULL)
		goto crypto;
	{
		const struct der *list[8];
		int n = 0;

		list[n++] = &iss->ext[EXT_KU];
		list[n++] = &iss->ext[EXT_POLICY];
		if (sign) {
			list[n++] = &san;
			list[n++] = crldp;
		}
		list[n++] = &iss->ext[EXT_AIA];
		list[n++] = &ski;
		list[n++] = &iss->ext[EXT_AKI];
		list[n++] = &iss->ext[EXT_IAN];
		for (int i = 0; i < n; i++, k++)
			if (!sk_ASN1_TYPE_push(exts, any_of(&types[k], &strs[k],
							    list[i])))
				goto crypto;
	}
	{
		CERT_TBS t = {
			.version = version,
			.serial = (ASN1_INTEGER *)serial,
			.sig_alg = any_of(&types[k], &strs[k], &iss->sig_alg),
			.issuer = any_of(&types[k + 1], &strs[k + 1], &iss->name),
			.validity = any_of(&types[k + 2], &strs[k + 2], &val),
			.subject = any_of(&types[k + 3], &strs[k + 3], &subj),
			.spki = any_of(&types[k + 4], &strs[k + 4], &spki),
			.extensions = exts,
		};

		if ((tbs.len = ASN1_item_i2d((ASN1_VALUE *)&t, &tbs.p,
					     ASN1_ITEM_rptr(CERT_TBS))) <= 0)
			goto crypto;
	}
	if (!sign_wrap(out_der, out_len, iss, &tbs))
		goto crypto;
	if (out_subject != NULL &&
	    (*out_subject = X509_NAME_oneline(subject, NULL, 0)) == NULL) {
		OPENSSL_free(*out_der);
		*out_der = NULL;
		*out_len = 0;
		goto crypto;
	}
	r = 0;
	goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the %s certificate",
			 sign ? "signing" : "authentication");
out:
	ERR_clear_error();
	sk_ASN1_TYPE_free(exts); /* the elements live on the stack */
	ASN1_INTEGER_free(version);
	X509_NAME_free(subject);
	X509_PUBKEY_free(pk);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	der_free(&subj);
	der_free(&spki);
	der_free(&val);
	der_free(&ski);
	der_free(&san);
	der_free(&crldp_own);
	der_free(&tbs);
	return r;
}
