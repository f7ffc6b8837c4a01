/*
 * The signed application (seed 004, steps 4 and 5): CMS SignedData over the
 * document with the card's key, then, for sending, CMS EnvelopedData to the
 * agency. OpenSSL builds both; the card only ever sees a DigestInfo.
 */
#include <openssl/cms.h>
#include <openssl/err.h>

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
