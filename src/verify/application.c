/*
 * The agency's check of a signed application (SPEC section 4, step 6), in
 * this order:
 *
 *   1. at most JPKI_MAX_SIGNED_APP bytes of DER or PEM CMS;
 *   2. EnvelopedData is opened with the agency's key; what is inside must
 *      be SignedData, as is anything not enveloped;
 *   3. one signer, with its certificate in the SignedData;
 *   4. the signature over the content (attached, or the detached content
 *      the caller gives) and the signed attributes;
 *   5. the certificate: the signing profile (policy and nonRepudiation),
 *      a chain to a trusted signing CA picked by authority key id, the
 *      validity period at jpki_clock_now();
 *   6. revocation (revocation.c), for a chained certificate in its period;
 *   7. the 4 facts, matched against the form (match.c).
 *
 * Steps 1 and 2 stop the check; after them every reason that applies is
 * collected, so the agency hears "the name differs" and "revoked" at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
/* pem.h first: cms.h declares its PEM functions only after it */
#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "verify/verify_internal.h"

const char *jpki_app_refusal_name(enum jpki_app_refusal why)
{
	switch (why) {
	case JPKI_APP_MALFORMED:
		return "malformed";
	case JPKI_APP_TOO_LARGE:
		return "too_large";
	case JPKI_APP_DECRYPT_FAILED:
		return "decrypt_failed";
	case JPKI_APP_NO_CONTENT:
		return "no_content";
	case JPKI_APP_NO_SIGNER:
		return "no_signer";
	case JPKI_APP_BAD_SIGNATURE:
		return "bad_signature";
	case JPKI_APP_NOT_SIGN_CERTIFICATE:
		return "not_signing_certificate";
	case JPKI_APP_UNTRUSTED:
		return "untrusted";
	case JPKI_APP_CERT_EXPIRED:
		return "expired";
	case JPKI_APP_CERT_NOT_YET_VALID:
		return "not_yet_valid";
	case JPKI_APP_REVOKED:
		return "revoked";
	case JPKI_APP_STATUS_UNKNOWN:
		return "status_unknown";
	case JPKI_APP_BAD_FACTS:
		return "bad_facts";
	case JPKI_APP_NAME_MISMATCH:
		return "name_mismatch";
	case JPKI_APP_ADDRESS_MISMATCH:
		return "address_mismatch";
	case JPKI_APP_PDF_CHANGED:
		return "pdf_changed";
	case JPKI_APP_BIRTH_MISMATCH:
		return "birth_mismatch";
	case JPKI_APP_SEX_MISMATCH:
		return "sex_mismatch";
	case JPKI_APP_FORM_INVALID:
		return "form_invalid";
	}
	return "unknown";
}

static void refuse(struct jpki_verify_report *rep, enum jpki_app_refusal why,
		   const char *fmt, ...) JPKI_PRINTF(3, 4);

static void refuse(struct jpki_verify_report *rep, enum jpki_app_refusal why,
		   const char *fmt, ...)
{
	struct jpki_verify_reason *r;
	va_list ap;

	rep->accepted = 0;
	/* the list is bounded; the first reasons are the weightiest */
	if (rep->n_reasons == JPKI_VERIFY_MAX_REASONS)
		return;
	r = &rep->reasons[rep->n_reasons++];
	r->why = why;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static void day_text(char out[11], time_t t)
{
	struct jpki_date d = jpki_date_of(t);

	jpki_date_format(&d, out);
}

static time_t asn1_time_t(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

/* ---- steps 1 and 2: bytes to SignedData ------------------------------- */

/* DER (the whole input, nothing after it) or PEM; NULL if neither. */
static CMS_ContentInfo *parse_cms(const uint8_t *data, size_t len)
{
	static const char pem[] = "-----BEGIN";
	CMS_ContentInfo *cms = NULL;
	size_t skip = 0;

	while (skip < len && (data[skip] == ' ' || data[skip] == '\t' ||
			      data[skip] == '\r' || data[skip] == '\n'))
		skip++;
	if (len - skip >= sizeof(pem) - 1 &&
	    memcmp(data + skip, pem, sizeof(pem) - 1) == 0) {
		BIO *in = BIO_new_mem_buf(data, (int)len);
		unsigned char *der = NULL;
		const unsigned char *p;
		long n = 0;

		/* the label PEM_read_bio_CMS takes ("CMS" or "PKCS7"),
		 * then the DER as below */
		if (in != NULL && PEM_bytes_read_bio(&der, &n, NULL,
						     PEM_STRING_CMS, in, NULL,
						     NULL) == 1) {
			p = der;
			cms = verify_cms_d2i(&p, n);
		}
		OPENSSL_free(der);
		BIO_free(in);
	} else {
		const unsigned char *p = data;

		cms = verify_cms_d2i(&p, (long)len);
		if (cms != NULL && p != data + len) {
			CMS_ContentInfo_free(cms);
			cms = NULL;
		}
	}
	ERR_clear_error();
	return cms;
}

/* Replaces *cms, EnvelopedData, by the SignedData inside it. Returns 0,
 * or 1 after refusing. */
static int open_envelope(struct jpki_verify_report *rep, CMS_ContentInfo **cms,
			 const struct jpki_verify_options *opts)
{
	BIO *plain = NULL;
	BUF_MEM *mem = NULL;
	CMS_ContentInfo *inner = NULL;
	int refused = 1;

	rep->enveloped = 1;
	if (opts->agency_key == NULL) {
		refuse(rep, JPKI_APP_DECRYPT_FAILED,
		       "the application is encrypted for the agency, and no "
		       "agency key was given to open it");
		goto out;
	}
	if ((plain = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_decrypt(*cms, opts->agency_key, opts->agency_cert, NULL, plain,
			CMS_BINARY) != 1) {
		refuse(rep, JPKI_APP_DECRYPT_FAILED,
		       "the application cannot be decrypted with the agency's "
		       "key: it was encrypted for another recipient, or "
		       "damaged");
		goto out;
	}
	BIO_get_mem_ptr(plain, &mem);
	/* Without padding checks that always fail, a wrong key may give
	 * random bytes: they cannot parse as SignedData either. */
	if (mem == NULL || mem->length > JPKI_MAX_SIGNED_APP ||
	    (inner = parse_cms((const uint8_t *)mem->data, mem->length)) ==
		NULL ||
	    OBJ_obj2nid(CMS_get0_type(inner)) != NID_pkcs7_signed) {
		refuse(rep, JPKI_APP_DECRYPT_FAILED,
		       "the decrypted application is not CMS signed data "
		       "(was it encrypted for another agency key?)");
		goto out;
	}
	CMS_ContentInfo_free(*cms);
	*cms = inner;
	inner = NULL;
	refused = 0;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(inner);
	BIO_free(plain);
	return refused;
}

/* ---- step 4: the signature --------------------------------------------- */

/* Verifies and copies the content into the report; refuses otherwise.
 * Returns a negative jpki_err only for memory. */
static int check_signature(struct jpki_verify_report *rep, CMS_ContentInfo *cms,
			   int detached, const struct jpki_verify_options *opts)
{
	BIO *dcont = NULL, *content = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	int r = JPKI_ERR_NOMEM;

	if (content == NULL)
		goto out;
	if (detached && (dcont = BIO_new_mem_buf(
			     opts->content, (int)opts->content_len)) == NULL)
		goto out;
	/* The signer's certificate is checked by hand below, against the
	 * anchors picked by key id, so that each failure has its reason. */
	if (CMS_verify(cms, NULL, NULL, dcont, content,
		       CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		refuse(rep, JPKI_APP_BAD_SIGNATURE,
		       "the signature does not verify over the document: it "
		       "was changed after signing, or the signature is "
		       "damaged");
		r = 0;
		goto out;
	}
	BIO_get_mem_ptr(content, &mem);
	if (mem == NULL)
		goto out;
	if (!detached && opts->content != NULL &&
	    (mem->length != opts->content_len ||
	     memcmp(mem->data, opts->content, mem->length) != 0)) {
		refuse(rep, JPKI_APP_BAD_SIGNATURE,
		       "the document signed is not the document given");
		r = 0;
		goto out;
	}
	if ((rep->content = malloc(mem->length ? mem->length : 1)) == NULL)
		goto out;
	memcpy(rep->content, mem->data, mem->length);
	rep->content_len = mem->length;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(dcont);
	BIO_free(content);
	return r;
}

static void signing_time(struct jpki_verify_report *rep, CMS_SignerInfo *si)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	X509_ATTRIBUTE *a = idx >= 0 ? CMS_signed_get_attr(si, idx) : NULL;
	ASN1_TYPE *t = a != NULL ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
	time_t when;

	if (t == NULL ||
	    (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
		return;
	if ((when = asn1_time_t(t->value.asn1_string)) != 0) {
		rep->have_signing_time = 1;
		rep->signing_time = when;
	}
	ERR_clear_error();
}

/* ---- step 5: the certificate ------------------------------------------- */

/* The serial as the CA writes it (upper-case hex, no leading zeros). */
static void serial_hex(char out[41], X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;

	out[0] = '\0';
	if (hex != NULL && strlen(hex) <= 40)
		memcpy(out, hex, strlen(hex) + 1);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* The signing profile; returns the certificate's type. */
static int check_profile(struct jpki_verify_report *rep, X509 *cert)
{
	int type = jpki_profile_cert_type(cert);

	if (type == JPKI_CERT_AUTH) {
		refuse(rep, JPKI_APP_NOT_SIGN_CERTIFICATE,
		       "the application is signed with an authentication "
		       "certificate, which proves who logs in but cannot "
		       "sign: use the card's signing certificate");
		return type;
	}
	/* the policy itself: a CA certificate names the signing CA in its
	 * OU, which profile would take for the type */
	if (type != JPKI_CERT_SIGN ||
	    X509_get_ext_by_NID(cert, NID_certificate_policies, -1) < 0 ||
	    X509_check_ca(cert) != 0) {
		refuse(rep, JPKI_APP_NOT_SIGN_CERTIFICATE,
		       "the certificate does not follow the signing profile "
		       "(policy " JPKI_OID_POLICY_SIGN ")");
		return 0;
	}
	if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(cert) & KU_NON_REPUDIATION)) {
		refuse(rep, JPKI_APP_NOT_SIGN_CERTIFICATE,
		       "the certificate's key usage does not include "
		       "nonRepudiation, so it cannot sign an application");
		return 0;
	}
	return type;
}

/* The validity period is reported on its own, so the chain check lets an
 * expired or not yet valid end certificate pass. */
static int leaf_time_ok(int ok, X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);

	if (!ok && X509_STORE_CTX_get_error_depth(ctx) == 0 &&
	    (err == X509_V_ERR_CERT_HAS_EXPIRED ||
	     err == X509_V_ERR_CERT_NOT_YET_VALID))
		return 1;
	return ok;
}

/* 1 if `cert` chains to `anchor` alone at `now`; *err the reason if not,
 * -1 for a failure to set up. */
static int chains_to(int *err, X509 *cert, X509 *anchor, time_t now)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = -1;

	*err = X509_V_OK;
	if (ctx == NULL || verify_anchor_store(&st, anchor) != 0 ||
	    !X509_STORE_CTX_init(ctx, st, cert, NULL))
		goto out;
	/* an anchor need not be self-signed: an agency may trust the
	 * signing CA below a root of its own */
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
				    X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	X509_STORE_CTX_set_verify_cb(ctx, leaf_time_ok);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		*err = X509_STORE_CTX_get_error(ctx);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

/* The anchor `cert` chains to, or NULL after refusing. Generations of the
 * CA share one DN; X509_check_issued also compares the authority key id
 * with each anchor's subject key id, so only the right one is tried. */
static X509 *check_chain(struct jpki_verify_report *rep, X509 *cert,
			 const struct jpki_verify_options *opts, time_t now,
			 int *failed)
{
	int tried = 0, err = X509_V_OK;

	*failed = 0;
	for (size_t i = 0; i < opts->n_anchors; i++) {
		X509 *a = opts->anchors[i];
		int ok;

		if (a == NULL || X509_check_issued(a, cert) != X509_V_OK)
			continue;
		tried = 1;
		if ((ok = chains_to(&err, cert, a, now)) < 0) {
			*failed = 1;
			return NULL;
		}
		if (ok)
			return a;
	}
	if (!tried)
		refuse(rep, JPKI_APP_UNTRUSTED,
		       "the certificate was not issued by a trusted signing "
		       "CA (no trusted CA has its issuer's name and key id)");
	else
		refuse(rep, JPKI_APP_UNTRUSTED,
		       "the certificate does not chain to a trusted signing "
		       "CA (%s)",
		       X509_verify_cert_error_string(err));
	ERR_clear_error();
	return NULL;
}

/* 1 when inside its validity period at `now`, else refuses and 0. */
static int check_validity(struct jpki_verify_report *rep, X509 *cert,
			  time_t now)
{
	char day[11];

	/* X509_cmp_time: -1 at or before `now`, 1 after, 0 unreadable */
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) != 1) {
		day_text(day, asn1_time_t(X509_get0_notAfter(cert)));
		refuse(rep, JPKI_APP_CERT_EXPIRED,
		       "the certificate expired on %s", day);
		return 0;
	}
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) != -1) {
		day_text(day, asn1_time_t(X509_get0_notBefore(cert)));
		refuse(rep, JPKI_APP_CERT_NOT_YET_VALID,
		       "the certificate is not valid before %s", day);
		return 0;
	}
	return 1;
}

/* ---- step 6: revocation ------------------------------------------------ */

static int check_revocation(struct jpki_verify_report *rep, X509 *cert,
			    X509 *issuer,
			    const struct jpki_verify_options *opts)
{
	struct jpki_verify_revocation rv;
	char day[11] = "";
	int r = jpki_verify_revocation(&rv, opts, cert, issuer);
	int answered = r == 0; /* 1: no source could answer */

	if (r < 0)
		goto out;
	r = 0;
	if (answered) {
		/* what was relied on, good or not: the report shows it */
		rep->status_time = rv.this_update;
		rep->ocsp_produced_at = rv.produced_at;
		rep->ocsp_response = rv.ocsp_der;
		rep->ocsp_response_len = rv.ocsp_der_len;
		rv.ocsp_der = NULL;
		memcpy(rep->crl_number, rv.crl_number, sizeof(rv.crl_number));
		memcpy(rep->crl_sha256, rv.crl_sha256, sizeof(rv.crl_sha256));
	}
	if (!answered) {
		refuse(rep, JPKI_APP_STATUS_UNKNOWN,
		       "revocation status unknown, so the certificate cannot "
		       "be relied on: %s",
		       rv.detail);
		goto out;
	}
	snprintf(rep->revocation_source, sizeof(rep->revocation_source), "%s",
		 rv.source);
	if (rv.status == JPKI_VERIFY_GOOD)
		goto out;
	if (rv.status != JPKI_VERIFY_REVOKED) {
		refuse(rep, JPKI_APP_STATUS_UNKNOWN,
		       "the certificate is unknown to its CA (%s)", rv.source);
		goto out;
	}
	rep->revocation_reason = rv.reason;
	rep->revoked_at = rv.revoked_at;
	if (rv.revoked_at != 0)
		day_text(day, rv.revoked_at);
	if (rv.reason == 6)
		refuse(rep, JPKI_APP_REVOKED,
		       "the certificate is suspended (certificateHold%s%s)",
		       day[0] ? " since " : "", day);
	else
		refuse(rep, JPKI_APP_REVOKED,
		       "the certificate has been revoked (%s%s%s)",
		       verify_reason_name(rv.reason), day[0] ? ", on " : "",
		       day);
out:
	jpki_verify_revocation_clear(&rv);
	return r;
}

/* ---- the whole check ---------------------------------------------------- */

int jpki_verify_application(struct jpki_verify_report *out,
			    const struct jpki_verify_options *opts,
			    const uint8_t *data, size_t len)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_SignerInfo *si;
	X509 *signer = NULL, *issuer = NULL, *held = NULL;
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL, nid, detached, type, failed;

	memset(out, 0, sizeof(*out));
	out->revocation_reason = -1;
	if (opts != NULL && opts->at != 0)
		now = opts->at;
	out->checked_at = now;
	if (opts == NULL || opts->version != JPKI_VERIFY_OPTIONS_VERSION ||
	    (data == NULL && len > 0) ||
	    (opts->anchors == NULL && opts->n_anchors > 0) ||
	    (opts->content == NULL && opts->content_len > 0) ||
	    opts->content_len > JPKI_MAX_SIGNED_APP) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the options of the application check are "
				 "not usable");
		goto out;
	}

	/* 1 */
	if (len > JPKI_MAX_SIGNED_APP) {
		refuse(out, JPKI_APP_TOO_LARGE,
		       "the application is larger than %d MiB",
		       JPKI_MAX_SIGNED_APP / (1024 * 1024));
		goto verdict;
	}
	if (len == 0 || (cms = parse_cms(data, len)) == NULL) {
		refuse(out, JPKI_APP_MALFORMED,
		       "the application is not CMS (PKCS #7) data in DER or "
		       "PEM");
		goto verdict;
	}

	/* 2 */
	nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (nid == NID_pkcs7_enveloped && open_envelope(out, &cms, opts))
		goto verdict;
	else if (nid != NID_pkcs7_enveloped && nid != NID_pkcs7_signed) {
		refuse(out, JPKI_APP_MALFORMED,
		       "the application is CMS but neither signed nor "
		       "enveloped data");
		goto verdict;
	}

	if (opts->keep_evidence) {
		unsigned char *der = NULL;
		int n = i2d_CMS_ContentInfo(cms, &der);

		if (n <= 0 || (out->signed_data = malloc((size_t)n)) == NULL) {
			OPENSSL_free(der);
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		memcpy(out->signed_data, der, (size_t)n);
		out->signed_data_len = (size_t)n;
		OPENSSL_free(der);
	}

	/* 3 */
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		refuse(out, JPKI_APP_NO_SIGNER,
		       "the application must carry exactly one signature, "
		       "it carries %d",
		       sis ? sk_CMS_SignerInfo_num(sis) : 0);
		goto verdict;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	if (CMS_set1_signers_certs(cms, NULL, 0) < 0)
		ERR_clear_error();
	CMS_SignerInfo_get0_algs(si, NULL, &signer, NULL, NULL);
	if (signer == NULL) {
		refuse(out, JPKI_APP_NO_SIGNER,
		       "the application does not include the signer's "
		       "certificate");
		goto verdict;
	}
	serial_hex(out->serial, signer);
	signing_time(out, si);

	/* The CMS left the signer's key undecoded (certs.c); decoded here,
	 * it goes into the signer's certificate, which the CMS signature and
	 * the chain both take it from. */
	if (X509_get0_pubkey(signer) == NULL) {
		ERR_clear_error();
		if (verify_cert_set_key(&held, signer) < 0) {
			r = jpki_err_set(JPKI_ERR_NOMEM,
					 "no memory for the signer's key");
			goto out;
		}
		if (held != NULL)
			signer = held;
		/* again: the signer info took the key when it had none */
		CMS_SignerInfo_set1_signer_cert(si, signer);
		/* a key that cannot be read stays absent: CMS_verify then
		 * refuses, as it did when d2i_X509 could not decode it */
		ERR_clear_error();
	}

	/* 4 */
	if ((detached = CMS_is_detached(cms)) < 0) {
		refuse(out, JPKI_APP_MALFORMED,
		       "the signed data is damaged (no content type)");
		goto verdict;
	}
	if (detached && opts->content == NULL) {
		refuse(out, JPKI_APP_NO_CONTENT,
		       "the signature is detached and the signed document was "
		       "not given");
		goto verdict;
	}
	if ((r = check_signature(out, cms, detached, opts)) != 0)
		goto out;
	r = JPKI_ERR_INTERNAL;

	/* 5 */
	type = check_profile(out, signer);
	issuer = check_chain(out, signer, opts, now, &failed);
	if (failed) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot set up certificate verification");
		goto out;
	}

	/* 6: meaningless for a certificate we cannot place or date */
	if (check_validity(out, signer, now) && issuer != NULL) {
		if ((r = check_revocation(out, signer, issuer, opts)) != 0)
			goto out;
		r = JPKI_ERR_INTERNAL;
	}

	/* 7 */
	if (type == JPKI_CERT_SIGN) {
		if (jpki_profile_facts_from_cert(&out->facts, signer) == 0)
			out->have_facts = 1;
		else
			refuse(out, JPKI_APP_BAD_FACTS,
			       "the signing certificate's name, date of birth, "
			       "sex and address cannot be read");
		jpki_err_clear();
	}
	if (out->have_facts) {
		struct jpki_verify_form form = {opts->form_name,
						opts->form_birth, opts->form_sex,
						opts->form_address};
		struct jpki_verify_mismatches mm;

		if ((r = jpki_verify_facts_match(&mm, &form, &out->facts)) !=
		    0)
			goto out;
		for (size_t i = 0; i < mm.n; i++)
			refuse(out, mm.m[i].why, "%s", mm.m[i].text);
		r = JPKI_ERR_INTERNAL;
	}

verdict:
	out->accepted = out->n_reasons == 0;
	r = 0;
out:
	if (r != 0)
		out->accepted = 0;
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	X509_free(held);
	return r;
}

void jpki_verify_report_clear(struct jpki_verify_report *rep)
{
	if (rep == NULL)
		return;
	if (rep->content != NULL)
		jpki_wipe(rep->content, rep->content_len);
	free(rep->content);
	free(rep->signed_data);
	free(rep->ocsp_response);
	memset(rep, 0, sizeof(*rep));
	rep->revocation_reason = -1;
}

static void utc_text(char out[21], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds `v` under `key`, taking it; 0 or -1. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

int jpki_verify_report_json(char **out, const struct jpki_verify_report *rep)
{
	json_t *j = json_object(), *reasons = json_array();
	char when[21], birth[11];
	int bad = j == NULL || reasons == NULL;

	*out = NULL;
	for (size_t i = 0; !bad && i < rep->n_reasons; i++)
		bad = json_array_append_new(
			  reasons,
			  json_pack("{s:s, s:s}", "code",
				    jpki_app_refusal_name(rep->reasons[i].why),
				    "reason", rep->reasons[i].text)) != 0;
	if (bad)
		goto fail;
	bad =
	    put(j, "accepted", json_boolean(rep->accepted)) ||
	    put(j, "enveloped", json_boolean(rep->enveloped)) ||
	    put(j, "reasons", json_incref(reasons)) ||
	    put(j, "serial",
		rep->serial[0] ? json_string(rep->serial) : json_null()) ||
	    put(j, "revocation",
		rep->revocation_source[0] ? json_string(rep->revocation_source)
					  : json_null()) ||
	    put(j, "content_length",
		json_integer((json_int_t)rep->content_len));
	if (!bad && rep->revocation_reason >= 0)
		bad = put(
		    j, "revocation_reason",
		    json_string(verify_reason_name(rep->revocation_reason)));
	if (!bad && rep->revoked_at != 0) {
		utc_text(when, rep->revoked_at);
		bad = put(j, "revoked_at", json_string(when));
	}
	if (!bad && rep->have_signing_time) {
		utc_text(when, rep->signing_time);
		bad = put(j, "signing_time", json_string(when));
	}
	if (!bad && rep->checked_at != 0) {
		utc_text(when, rep->checked_at);
		bad = put(j, "checked_at", json_string(when));
	}
	if (!bad && rep->status_time != 0) {
		utc_text(when, rep->status_time);
		bad = put(j, "status_time", json_string(when));
	}
	if (!bad && rep->ocsp_produced_at != 0) {
		utc_text(when, rep->ocsp_produced_at);
		bad = put(j, "ocsp_produced_at", json_string(when));
	}
	if (!bad && rep->crl_number[0] != '\0')
		bad = put(j, "crl_number", json_string(rep->crl_number)) ||
		      put(j, "crl_sha256", json_string(rep->crl_sha256));
	if (!bad && rep->have_facts) {
		jpki_date_format(&rep->facts.birth, birth);
		bad = put(j, "facts",
			  json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "name",
				    rep->facts.name, "name_subst",
				    rep->facts.name_subst, "sex",
				    (int)rep->facts.sex, "birth", birth,
				    "address", rep->facts.address,
				    "address_subst", rep->facts.address_subst));
	}
	if (bad || (*out = json_dumps(j, JSON_SORT_KEYS)) == NULL)
		goto fail;
	json_decref(reasons);
	json_decref(j);
	return 0;
fail:
	json_decref(reasons);
	json_decref(j);
	return JPKI_ERR_NOMEM;
}
