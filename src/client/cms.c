/*
 * The signed application (seed 004, steps 4 and 5): CMS SignedData over the
 * document with the card's key, then, for sending, CMS EnvelopedData to the
 * agency. OpenSSL builds both; the card only ever sees a DigestInfo.
 */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include "jpki/client.h"

int jpki_client_cms_sign(CMS_ContentInfo **out, BIO *data, X509 *signer,
			 EVP_PKEY *key, STACK_OF(X509) * extra, int detached)
{
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	ASN1_TIME *when = NULL;

	*out = NULL;
	jpki_err_clear();
	if (detached)
		flags |= CMS_DETACHED;
	if ((cms = CMS_sign(NULL, NULL, extra, NULL, flags)) == NULL ||
	    (si = CMS_add1_signer(cms, signer, key, EVP_sha256(), flags)) ==
		    NULL)
		goto fail;
	/* the signing time by the service's clock; OpenSSL would take the
	 * system's, which a test or a demo may have moved away from */
	if ((when = ASN1_TIME_set(NULL, jpki_clock_now())) == NULL ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
					 when->type, when, -1)) {
		ASN1_TIME_free(when);
		goto fail;
	}
	ASN1_TIME_free(when);
	/* the card signs here, once, inside CMS_final */
	if (!CMS_final(cms, data, NULL, flags))
		goto fail;
	*out = cms;
	return 0;
fail:
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	if (jpki_err_detail()[0] != '\0')
		return JPKI_ERR_CRYPTO;
	return jpki_err_set(JPKI_ERR_CRYPTO,
			    "cannot build the signed data (does the key "
			    "belong to the certificate?)");
}

int jpki_client_cms_sign_digest(CMS_ContentInfo **out,
				const unsigned char *digest, size_t digest_len,
				X509 *signer, EVP_PKEY *key,
				STACK_OF(X509) * extra)
{
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP |
			 CMS_DETACHED;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	ASN1_TIME *when = NULL;
	int ok;

	*out = NULL;
	jpki_err_clear();
	if (digest == NULL || digest_len != 32)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a SHA-256 hash has 32 bytes, not %zu",
				    digest_len);
	if ((cms = CMS_sign(NULL, NULL, extra, NULL, flags)) == NULL ||
	    !CMS_set_detached(cms, 1) ||
	    (si = CMS_add1_signer(cms, signer, key, EVP_sha256(), flags)) ==
		NULL)
		goto fail;
	/* CMS_final would hash the content; here the hash is given, so the
	 * attributes CMS_final adds are added by hand and the signer signs
	 * them (CMS_SignerInfo_sign), as CMS_REUSE_DIGEST does */
	if (!CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType,
					 V_ASN1_OBJECT,
					 OBJ_nid2obj(NID_pkcs7_data), -1) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
					 V_ASN1_OCTET_STRING, digest,
					 (int)digest_len))
		goto fail;
	if ((when = ASN1_TIME_set(NULL, jpki_clock_now())) == NULL)
		goto fail;
	ok = CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
					 when->type, when, -1);
	ASN1_TIME_free(when);
	/* the card signs here, once */
	if (!ok || !CMS_SignerInfo_sign(si))
		goto fail;
	*out = cms;
	return 0;
fail:
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	if (jpki_err_detail()[0] != '\0')
		return JPKI_ERR_CRYPTO;
	return jpki_err_set(JPKI_ERR_CRYPTO,
			    "cannot build the signed data (does the key "
			    "belong to the certificate?)");
}

int jpki_client_cms_envelope(CMS_ContentInfo **out, CMS_ContentInfo *signed_,
			     X509 *recipient)
{
	STACK_OF(X509) *to = sk_X509_new_null();
	unsigned char *der = NULL;
	BIO *in = NULL;
	int n;

	*out = NULL;
	if (to == NULL || !sk_X509_push(to, recipient) ||
	    (n = i2d_CMS_ContentInfo(signed_, &der)) <= 0 ||
	    (in = BIO_new_mem_buf(der, n)) == NULL ||
	    (*out = CMS_encrypt(to, in, EVP_aes_256_cbc(), CMS_BINARY)) ==
		NULL) {
		ERR_clear_error();
		sk_X509_free(to);
		BIO_free(in);
		OPENSSL_free(der);
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "cannot encrypt for the agency (is its "
				    "certificate an RSA encryption "
				    "certificate?)");
	}
	sk_X509_free(to);
	BIO_free(in);
	OPENSSL_free(der);
	return 0;
}

/*
 * PAdES B-B (ETSI EN 319 142-1 5.2, 6.3): a detached CMS whose signed
 * attributes are content-type (id-data), message-digest and ESS
 * signing-certificate-v2, and no signing-time: the claimed time is the
 * signature dictionary's /M. OpenSSL's CMS_SignerInfo_sign adds a
 * signing-time whenever there is none, so the signature over the signed
 * attributes is made here with the same DER OpenSSL would sign
 * (the attributes as a DER SET OF) and put into the SignerInfo.
 */
int jpki_client_pades_sign(uint8_t **out, size_t *out_len,
			   const uint8_t *data, size_t len, X509 *signer,
			   EVP_PKEY *key, STACK_OF(X509) * extra)
{
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_DETACHED |
			 CMS_NOSMIMECAP | CMS_CADES;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	STACK_OF(X509_ATTRIBUTE) *attrs = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL, *sig = NULL;
	unsigned int md_len = 0;
	size_t sig_len = 0;
	EVP_MD_CTX *ctx = NULL;
	int der_len, n;

	*out = NULL;
	*out_len = 0;
	jpki_err_clear();
	if ((cms = CMS_sign(NULL, NULL, extra, NULL, flags)) == NULL ||
	    (si = CMS_add1_signer(cms, signer, key, EVP_sha256(), flags)) ==
		NULL ||
	    !EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType,
					 V_ASN1_OBJECT,
					 OBJ_nid2obj(NID_pkcs7_data), -1) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
					 V_ASN1_OCTET_STRING, md,
					 (int)md_len))
		goto fail;
	if ((attrs = sk_X509_ATTRIBUTE_new_null()) == NULL)
		goto fail;
	n = CMS_signed_get_attr_count(si);
	for (int i = 0; i < n; i++)
		if (!sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)))
			goto fail;
	/* PKCS7_ATTR_SIGN is the same DER SET OF as CMS_Attributes_Sign */
	if ((der_len = ASN1_item_i2d((ASN1_VALUE *)attrs, &der,
				     ASN1_ITEM_rptr(PKCS7_ATTR_SIGN))) <= 0 ||
	    (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) <= 0 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, der, (size_t)der_len) <= 0 ||
	    (sig = OPENSSL_malloc(sig_len)) == NULL ||
	    /* the card signs here, once */
	    EVP_DigestSign(ctx, sig, &sig_len, der, (size_t)der_len) <= 0)
		goto fail;
	ASN1_STRING_set0(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len);
	sig = NULL;
	if ((n = i2d_CMS_ContentInfo(cms, out)) <= 0) {
		*out = NULL;
		goto fail;
	}
	*out_len = (size_t)n;
	sk_X509_ATTRIBUTE_free(attrs);
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	CMS_ContentInfo_free(cms);
	return 0;
fail:
	ERR_clear_error();
	sk_X509_ATTRIBUTE_free(attrs);
	OPENSSL_free(der);
	OPENSSL_free(sig);
	EVP_MD_CTX_free(ctx);
	CMS_ContentInfo_free(cms);
	if (jpki_err_detail()[0] != '\0')
		return JPKI_ERR_CRYPTO;
	return jpki_err_set(JPKI_ERR_CRYPTO,
			    "cannot build the PDF signature (does the key "
			    "belong to the certificate?)");
}
