/*
 * The certificate profiles of SPEC section 5, built with OpenSSL's X509
 * objects. Every extension is made here, so this file reads as the profile.
 *
 *   CA (self-signed root)     as the real JPKI CAs (2015 and 2023, in
 *                             tests/data/real_ca), in their order:
 *                             keyUsage keyCertSign cRLSign (critical);
 *                             subjectAltName DirName C=JP,
 *                             O=公的個人認証サービス, OU=公的個人認証サービス
 *                             署名用 (or 利用者証明用), OU=地方公共団体情報
 *                             システム機構; basicConstraints CA (critical);
 *                             cRLDistributionPoints DirName = the CA's own
 *                             DN (its authority revocation list); SKI; no
 *                             AKI (docs/CA.md)
 *   OCSP signer               keyUsage digitalSignature (critical), EKU
 *                             OCSPSigning, id-pkix-ocsp-nocheck, SKI, AKI
 *   signing (署名用)           subject C=JP, L=<pref>, L=<muni>, CN=<id>;
 *                             keyUsage digitalSignature nonRepudiation
 *                             (critical); certificatePolicies
 *                             1.2.392.200149.8.5.1.1.20 (critical);
 *                             subjectAltName: six otherNames under
 *                             1.2.392.200149.8.5.5; cRLDistributionPoints of
 *                             the municipality; AIA OCSP; SKI; AKI;
 *                             issuerAltName (the CA's subjectAltName)
 *   authentication (利用者証明用) subject C=JP, CN=<id>; keyUsage
 *                             digitalSignature (critical);
 *                             certificatePolicies 1.2.392.200149.8.5.1.3.30
 *                             (critical); AIA OCSP; SKI; AKI; issuerAltName
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "jpki/profile.h"
#include "profile/profile_internal.h"

#define OU_SIGN "JPKI for digital signature"
#define OU_AUTH "JPKI for user authentication"
#define OU_AGENCY "Japan Agency for Local Authority Information Systems"
#define ALT_O "公的個人認証サービス"
#define ALT_OU_SIGN "公的個人認証サービス署名用"
#define ALT_OU_AUTH "公的個人認証サービス利用者証明用"
#define ALT_OU_AGENCY "地方公共団体情報システム機構"

static int add_text(X509_NAME *name, const char *field, const char *value)
{
	return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
					  (const unsigned char *)value, -1, -1,
					  0);
}

X509_NAME *jpki_profile_ca_name(enum jpki_cert_type type)
{
	X509_NAME *name = X509_NAME_new();

	if (name == NULL || !add_text(name, "C", "JP") ||
	    !add_text(name, "O", "JPKI") ||
	    !add_text(name, "OU",
		      type == JPKI_CERT_AUTH ? OU_AUTH : OU_SIGN) ||
	    !add_text(name, "OU", OU_AGENCY)) {
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}

/* A UTF8String attribute, whatever OpenSSL's default string mask is: the
 * real CAs encode every Japanese value so. */
static int add_utf8(X509_NAME *name, const char *field, const char *value)
{
	return X509_NAME_add_entry_by_txt(name, field, V_ASN1_UTF8STRING,
					  (const unsigned char *)value, -1, -1,
					  0);
}

/*
 * The service's alternative name, a DirName, as the real CA certificates
 * carry it in their subjectAltName: C=JP, O=公的個人認証サービス,
 * OU=公的個人認証サービス署名用 (or 利用者証明用), OU=地方公共団体情報システム
 * 機構. A CA puts it in its subjectAltName, a certificate it issues in its
 * issuerAltName (RFC 5280 4.2.1.7: the issuer's alternative name).
 */
static int add_alt_name(X509 *cert, int nid, enum jpki_cert_type type)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	X509_NAME *dn = X509_NAME_new();
	int ok = 0;

	if (names == NULL || gn == NULL || dn == NULL ||
	    !add_text(dn, "C", "JP") || !add_utf8(dn, "O", ALT_O) ||
	    !add_utf8(dn, "OU",
		      type == JPKI_CERT_AUTH ? ALT_OU_AUTH : ALT_OU_SIGN) ||
	    !add_utf8(dn, "OU", ALT_OU_AGENCY))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
	dn = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto out;
	gn = NULL;
	ok = X509_add1_ext_i2d(cert, nid, names, 0, X509V3_ADD_DEFAULT) == 1;
out:
	X509_NAME_free(dn);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ok;
}

/*
 * cRLDistributionPoints with one point whose full name is the DirName
 * `name`: the real CAs name their own DN, the directory entry of the
 * authority revocation list (ARL) that would revoke a CA certificate.
 */
static int add_crldp_dirname(X509 *cert, const X509_NAME *name)
{
	CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	X509_NAME *dn = X509_NAME_dup(name);
	int ok = 0;

	if (dps == NULL || dp == NULL || gn == NULL || dn == NULL ||
	    (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL)
		goto out;
	dp->distpoint->type = 0; /* fullName */
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
	dn = NULL;
	if (!sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	if (!sk_DIST_POINT_push(dps, dp))
		goto out;
	dp = NULL;
	ok = X509_add1_ext_i2d(cert, NID_crl_distribution_points, dps, 0,
			       X509V3_ADD_DEFAULT) == 1;
out:
	X509_NAME_free(dn);
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return ok;
}

static int add_key_usage(X509 *cert, int bits)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int ok = ku != NULL;

	/* bit numbers of RFC 5280 4.2.1.3 */
	for (int bit = 0; ok && bit < 9; bit++)
		if (bits & (1 << bit))
			ok = ASN1_BIT_STRING_set_bit(ku, bit, 1);
	ok = ok && X509_add1_ext_i2d(cert, NID_key_usage, ku, 1,
				     X509V3_ADD_DEFAULT) == 1;
	ASN1_BIT_STRING_free(ku);
	return ok;
}

#define BIT_DIGITAL_SIGNATURE (1 << 0)
#define BIT_NON_REPUDIATION (1 << 1)
#define BIT_KEY_CERT_SIGN (1 << 5)
#define BIT_CRL_SIGN (1 << 6)

static int add_policy(X509 *cert, const char *oid)
{
	CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
	POLICYINFO *pol = POLICYINFO_new();
	int ok = 0;

	if (pols == NULL || pol == NULL)
		goto out;
	ASN1_OBJECT_free(pol->policyid);
	if ((pol->policyid = OBJ_txt2obj(oid, 1)) == NULL ||
	    !sk_POLICYINFO_push(pols, pol))
		goto out;
	pol = NULL;
	ok = X509_add1_ext_i2d(cert, NID_certificate_policies, pols, 1,
			       X509V3_ADD_DEFAULT) == 1;
out:
	POLICYINFO_free(pol);
	sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
	return ok;
}

/* An extension given in OpenSSL's configuration syntax, in the context of
 * issuer and subject (so "hash" and "keyid" resolve). */
static int add_conf(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int profile_add_conf(X509 *cert, X509 *issuer, int nid, const char *value)
{
	return add_conf(cert, issuer, nid, value);
}

static int set_validity(X509 *cert, time_t not_before, time_t not_after)
{
	return X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0,
				&not_before) != NULL &&
	       X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &not_after) !=
		       NULL;
}

int jpki_profile_build_ca(X509 **out, enum jpki_cert_type type, EVP_PKEY *key,
			  const unsigned char *serial, size_t serial_len,
			  time_t not_before, time_t not_after)
{
	X509 *cert = X509_new();
	X509_NAME *name = jpki_profile_ca_name(type);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	int r = JPKI_ERR_CRYPTO;

	*out = NULL;
	if (cert == NULL || name == NULL || num == NULL ||
	    !ASN1_STRING_set(num, serial, (int)serial_len) ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, num) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, name) ||
	    !set_validity(cert, not_before, not_after) ||
	    !X509_set_pubkey(cert, key) ||
	    /* the real CAs' extensions, in their order */
	    !add_key_usage(cert, BIT_KEY_CERT_SIGN | BIT_CRL_SIGN) ||
	    !add_alt_name(cert, NID_subject_alt_name, type) ||
	    !add_conf(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_crldp_dirname(cert, name) ||
	    !add_conf(cert, cert, NID_subject_key_identifier, "hash") ||
	    !X509_sign(cert, key, EVP_sha256())) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot build the CA certificate");
		goto out;
	}
	*out = cert;
	cert = NULL;
	r = 0;
out:
	ERR_clear_error();
	X509_free(cert);
	X509_NAME_free(name);
	ASN1_INTEGER_free(num);
	return r;
}

int jpki_profile_build_ocsp_signer(X509 **out, X509 *issuer, EVP_PKEY *key,
				   time_t not_before, time_t not_after)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_NULL *nocheck = ASN1_NULL_new();
	int auth = jpki_profile_cert_type(issuer) == JPKI_CERT_AUTH;
	int r = JPKI_ERR_CRYPTO;
	char ou[128] = OU_SIGN;

	*out = NULL;
	/* the OU of the issuing CA, whichever it is */
	{
		X509_NAME *in = X509_get_subject_name(issuer);
		int i = X509_NAME_get_index_by_NID(in, NID_organizationalUnitName,
						   -1);

		if (i >= 0) {
			ASN1_STRING *s = X509_NAME_ENTRY_get_data(
				X509_NAME_get_entry(in, i));

			snprintf(ou, sizeof(ou), "%.*s", ASN1_STRING_length(s),
				 (const char *)ASN1_STRING_get0_data(s));
		}
	}
	(void)auth;
	if (cert == NULL || name == NULL || nocheck == NULL ||
	    !add_text(name, "C", "JP") || !add_text(name, "O", "JPKI") ||
	    !add_text(name, "OU", ou) ||
	    !add_text(name, "CN", "OCSP Responder") ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !set_validity(cert, not_before, not_after) ||
	    !X509_set_pubkey(cert, key) ||
	    !add_key_usage(cert, BIT_DIGITAL_SIGNATURE) ||
	    !add_conf(cert, issuer, NID_ext_key_usage, "OCSPSigning") ||
	    X509_add1_ext_i2d(cert, NID_id_pkix_OCSP_noCheck, nocheck, 0,
			      X509V3_ADD_DEFAULT) != 1 ||
	    !add_conf(cert, issuer, NID_subject_key_identifier, "hash") ||
	    !add_conf(cert, issuer, NID_authority_key_identifier,
		      "keyid:always")) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot build the OCSP signer certificate");
		goto out;
	}
	*out = cert;
	cert = NULL;
	r = 0;
out:
	ERR_clear_error();
	X509_free(cert);
	X509_NAME_free(name);
	ASN1_NULL_free(nocheck);
	return r;
}

/* The six OIDs JPKI_OID_FACTS.1 .. .6, parsed from text once: parsing
 * them for every certificate was a tenth of building one. */
static ASN1_OBJECT *fact_oids[7];
static pthread_once_t fact_oids_once = PTHREAD_ONCE_INIT;

static void fact_oids_make(void)
{
	char text[64];

	for (int arc = 1; arc <= 6; arc++) {
		snprintf(text, sizeof(text), "%s.%d", JPKI_OID_FACTS, arc);
		fact_oids[arc] = OBJ_txt2obj(text, 1);
	}
}

/* A copy of JPKI_OID_FACTS.<arc> the caller owns; NULL on failure. */
static ASN1_OBJECT *fact_oid(int arc)
{
	if (pthread_once(&fact_oids_once, fact_oids_make) != 0 ||
	    fact_oids[arc] == NULL)
		return NULL;
	return OBJ_dup(fact_oids[arc]);
}

/* One otherName of the facts: OID JPKI_OID_FACTS.<arc>, [0] EXPLICIT
 * UTF8String (OpenSSL's OTHERNAME template adds the explicit tag). */
static int push_fact(GENERAL_NAMES *names, int arc, const char *value)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_OBJECT *oid = NULL;
	ASN1_TYPE *val = ASN1_TYPE_new();
	ASN1_UTF8STRING *str = ASN1_UTF8STRING_new();
	int ok = 0;

	if (gn == NULL || val == NULL || str == NULL ||
	    (oid = fact_oid(arc)) == NULL ||
	    !ASN1_STRING_set(str, value, (int)strlen(value)))
		goto out;
	ASN1_TYPE_set(val, V_ASN1_UTF8STRING, str);
	str = NULL;
	if (!GENERAL_NAME_set0_othername(gn, oid, val))
		goto out;
	oid = NULL;
	val = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto out;
	gn = NULL;
	ok = 1;
out:
	GENERAL_NAME_free(gn);
	ASN1_OBJECT_free(oid);
	ASN1_TYPE_free(val);
	ASN1_UTF8STRING_free(str);
	return ok;
}

GENERAL_NAMES *profile_facts_names(const struct jpki_facts *f)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	char sex[2] = {(char)('0' + f->sex), '\0'}, birth[10];

	jpki_profile_birth_encode(&f->birth, birth);
	if (names != NULL && push_fact(names, 1, f->name) &&
	    push_fact(names, 2, f->name_subst) && push_fact(names, 3, sex) &&
	    push_fact(names, 4, birth) && push_fact(names, 5, f->address) &&
	    push_fact(names, 6, f->address_subst))
		return names;
	GENERAL_NAMES_free(names);
	return NULL;
}

static int add_facts(X509 *cert, const struct jpki_facts *f)
{
	GENERAL_NAMES *names = profile_facts_names(f);
	int ok = names != NULL &&
		 X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0,
				   X509V3_ADD_DEFAULT) == 1;

	GENERAL_NAMES_free(names);
	return ok;
}

static int nonempty(const char *s)
{
	return s != NULL && *s != '\0';
}

static int check_url(const char *url, const char *what)
{
	if (!nonempty(url) || strpbrk(url, ",\n\r ") != NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the %s URL is missing or has a comma or "
				    "space",
				    what);
	return 0;
}

int profile_check_request(const struct jpki_profile_request *req)
{
	int r;

	if (req == NULL || req->version != JPKI_PROFILE_REQUEST_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "profile request of an unknown version");
	if (req->type != JPKI_CERT_SIGN && req->type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "unknown certificate type %d",
				    (int)req->type);
	if (!nonempty(req->cn) || jpki_utf8_chars(req->cn) < 0 ||
	    strlen(req->cn) > 64)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the subject id (CN) must be 1 to 64 "
				    "bytes of UTF-8");
	if ((r = check_url(req->ocsp_url, "OCSP")) != 0)
		return r;
	if (req->ca_issuers_url != NULL &&
	    (r = check_url(req->ca_issuers_url, "CA issuers")) != 0)
		return r;
	if (req->not_after <= req->not_before)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the validity period is empty");
	if (req->type == JPKI_CERT_AUTH)
		return 0;
	if (!nonempty(req->prefecture) || !nonempty(req->municipality) ||
	    jpki_utf8_chars(req->prefecture) < 0 ||
	    jpki_utf8_chars(req->municipality) < 0 ||
	    strlen(req->prefecture) > 128 || strlen(req->municipality) > 128)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a signing certificate needs the "
				    "prefecture and municipality (UTF-8, at "
				    "most 128 bytes each)");
	if ((r = check_url(req->crl_url, "CRL")) != 0)
		return r;
	if (req->facts == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a signing certificate needs the 4 facts");
	return jpki_profile_facts_check(req->facts);
}

int jpki_profile_build(X509 **out, const struct jpki_profile_request *req,
		       EVP_PKEY *subject_key, X509 *issuer)
{
	X509 *cert = NULL;
	X509_NAME *subject = NULL;
	char *aia = NULL, *crldp = NULL;
	int sign, r;

	*out = NULL;
	if ((r = profile_check_request(req)) != 0)
		return r;
	if (subject_key == NULL || issuer == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "no subject key or no issuer");
	sign = req->type == JPKI_CERT_SIGN;
	if (req->ca_issuers_url != NULL
		    ? asprintf(&aia, "OCSP;URI:%s,caIssuers;URI:%s",
			       req->ocsp_url, req->ca_issuers_url) < 0
		    : asprintf(&aia, "OCSP;URI:%s", req->ocsp_url) < 0) {
		aia = NULL;
		return JPKI_ERR_NOMEM;
	}
	if (sign && asprintf(&crldp, "URI:%s", req->crl_url) < 0) {
		crldp = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = JPKI_ERR_CRYPTO;
	if ((cert = X509_new()) == NULL || (subject = X509_NAME_new()) == NULL ||
	    !add_text(subject, "C", "JP"))
		goto crypto;
	if (sign && (!add_text(subject, "L", req->prefecture) ||
		     !add_text(subject, "L", req->municipality)))
		goto crypto;
	if (!add_text(subject, "CN", req->cn) ||
	    !X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_subject_name(cert, subject) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !set_validity(cert, req->not_before, req->not_after) ||
	    !profile_set_pubkey(cert, subject_key))
		goto crypto;
	if (!add_key_usage(cert, sign ? BIT_DIGITAL_SIGNATURE |
						BIT_NON_REPUDIATION
				      : BIT_DIGITAL_SIGNATURE) ||
	    !add_policy(cert, sign ? JPKI_OID_POLICY_SIGN
				   : JPKI_OID_POLICY_AUTH) ||
	    (sign && !add_facts(cert, req->facts)) ||
	    (sign && !add_conf(cert, issuer, NID_crl_distribution_points,
			       crldp)) ||
	    !add_conf(cert, issuer, NID_info_access, aia) ||
	    !add_conf(cert, issuer, NID_subject_key_identifier, "hash") ||
	    !add_conf(cert, issuer, NID_authority_key_identifier,
		      "keyid:always") ||
	    !add_alt_name(cert, NID_issuer_alt_name, req->type))
		goto crypto;
	*out = cert;
	cert = NULL;
	r = 0;
	goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the %s certificate",
			 sign ? "signing" : "authentication");
out:
	ERR_clear_error();
	X509_free(cert);
	X509_NAME_free(subject);
	free(aia);
	free(crldp);
	return r;
}

void jpki_profile_fingerprint(char out[96], X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t pos = 0;

	out[0] = '\0';
	if (!X509_digest(cert, EVP_sha256(), md, &n))
		return;
	for (unsigned i = 0; i < n && pos + 3 < 96; i++)
		pos += (size_t)snprintf(out + pos, 96 - pos, "%s%02X",
					i ? ":" : "", md[i]);
}

int jpki_profile_cert_type(X509 *cert)
{
	CERTIFICATEPOLICIES *pols;
	int type = 0;
	char oid[80];

	/* a CA certificate carries no policy: tell it by its OU */
	pols = X509_get_ext_d2i(cert, NID_certificate_policies, NULL, NULL);
	if (pols == NULL) {
		X509_NAME *name = X509_get_subject_name(cert);
		int i = -1;

		while ((i = X509_NAME_get_index_by_NID(
				name, NID_organizationalUnitName, i)) >= 0) {
			ASN1_STRING *s = X509_NAME_ENTRY_get_data(
				X509_NAME_get_entry(name, i));
			const char *d = (const char *)ASN1_STRING_get0_data(s);
			int n = ASN1_STRING_length(s);

			if (n == (int)strlen(OU_AUTH) &&
			    memcmp(d, OU_AUTH, (size_t)n) == 0)
				return JPKI_CERT_AUTH;
			if (n == (int)strlen(OU_SIGN) &&
			    memcmp(d, OU_SIGN, (size_t)n) == 0)
				return JPKI_CERT_SIGN;
		}
		ERR_clear_error();
		return 0;
	}
	for (int i = 0; i < sk_POLICYINFO_num(pols) && type == 0; i++) {
		OBJ_obj2txt(oid, sizeof(oid),
			    sk_POLICYINFO_value(pols, i)->policyid, 1);
		if (strcmp(oid, JPKI_OID_POLICY_SIGN) == 0)
			type = JPKI_CERT_SIGN;
		else if (strcmp(oid, JPKI_OID_POLICY_AUTH) == 0)
			type = JPKI_CERT_AUTH;
	}
	sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
	return type;
}

/* Copies a UTF8String otherName value into a bounded field. */
static int take_string(char *dst, size_t size, const ASN1_TYPE *v,
		       const char *what)
{
	const ASN1_STRING *s;
	int n;

	if (v == NULL || v->type != V_ASN1_UTF8STRING)
		return jpki_err_set(JPKI_ERR_PARSE, "%s is not a UTF8String",
				    what);
	s = v->value.utf8string;
	n = ASN1_STRING_length(s);
	if (n < 0 || (size_t)n >= size ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)n) != NULL)
		return jpki_err_set(JPKI_ERR_PARSE, "%s is too long or has a "
						    "NUL",
				    what);
	memcpy(dst, ASN1_STRING_get0_data(s), (size_t)n);
	dst[n] = '\0';
	if (jpki_utf8_chars(dst) < 0)
		return jpki_err_set(JPKI_ERR_PARSE, "%s is not valid UTF-8",
				    what);
	return 0;
}

static int decode_birth(struct jpki_date *out, const char *s)
{
	int era, y, m, d;

	/* nine digits read by hand: sscanf cost a sixth of the facts */
	if (strlen(s) != 9 || strspn(s, "0123456789") != 9 ||
	    (era = s[0] - '0') > JPKI_ERA_REIWA)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "date of birth '%s' is not EYYYYMMDD", s);
	y = (s[1] - '0') * 1000 + (s[2] - '0') * 100 + (s[3] - '0') * 10 +
	    (s[4] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[7] - '0') * 10 + (s[8] - '0');
	*out = (struct jpki_date){y, m, d};
	if (!jpki_date_valid(out))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "date of birth '%s' is not a real date", s);
	return 0;
}

int jpki_profile_facts_from_cert(struct jpki_facts *out, X509 *cert)
{
	GENERAL_NAMES *names;
	char birth[16] = "", sex[4] = "";
	unsigned seen = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (pthread_once(&fact_oids_once, fact_oids_make) != 0)
		return jpki_err_set(JPKI_ERR_INTERNAL, "cannot set up the "
						       "facts' OIDs");
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (names == NULL) {
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the certificate carries no 4 facts (no "
				    "subjectAltName)");
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(names) && r == 0; i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		ASN1_OBJECT *obj = NULL;
		ASN1_TYPE *val = NULL;
		int arc = 0;

		if (!GENERAL_NAME_get0_otherName(gn, &obj, &val))
			continue;
		/* against the OIDs parsed once (their text per name was a
		 * third of reading the facts) */
		for (int a = 1; a <= 6 && arc == 0; a++)
			if (fact_oids[a] != NULL && OBJ_cmp(obj, fact_oids[a]) == 0)
				arc = a;
		switch (arc) {
		case 1:
			r = take_string(out->name, sizeof(out->name), val,
					"the name");
			break;
		case 2:
			r = take_string(out->name_subst,
					sizeof(out->name_subst), val,
					"the name's substitutes");
			break;
		case 3:
			r = take_string(sex, sizeof(sex), val, "the sex");
			break;
		case 4:
			r = take_string(birth, sizeof(birth), val,
					"the date of birth");
			break;
		case 5:
			r = take_string(out->address, sizeof(out->address), val,
					"the address");
			break;
		case 6:
			r = take_string(out->address_subst,
					sizeof(out->address_subst), val,
					"the address's substitutes");
			break;
		default:
			continue;
		}
		seen |= 1u << arc;
	}
	GENERAL_NAMES_free(names);
	if (r != 0)
		return r;
	if ((seen & 0x3a) != 0x3a) /* .1 .3 .4 .5 */
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the certificate lacks one of name, sex, "
				    "date of birth, address");
	if (strlen(sex) != 1 || sex[0] < '1' || sex[0] > '3')
		return jpki_err_set(JPKI_ERR_PARSE, "sex '%s' is not 1, 2 or 3",
				    sex);
	out->sex = (enum jpki_sex)(sex[0] - '0');
	return decode_birth(&out->birth, birth);
}

int jpki_profile_digest_info(unsigned char **out, int md_nid,
			     const unsigned char *m, unsigned int m_len)
{
	X509_SIG *sig = X509_SIG_new();
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *digest;
	int n = -1;

	if (sig == NULL)
		return -1;
	X509_SIG_getm(sig, &alg, &digest);
	if (OBJ_nid2obj(md_nid) != NULL &&
	    X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_NULL, NULL) &&
	    ASN1_OCTET_STRING_set(digest, m, (int)m_len))
		n = i2d_X509_SIG(sig, out);
	X509_SIG_free(sig);
	return n;
}
