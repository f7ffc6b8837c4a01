/*
 * The subject public key of a certificate being built. X509_set_pubkey() on a
 * key held by OpenSSL 3.0's default provider encodes the
 * SubjectPublicKeyInfo through the provider encoder framework, which costs
 * about half a millisecond on this class of machine: twice the RSA-2048
 * signature that issues the certificate. The same SubjectPublicKeyInfo
 * comes out of the ASN.1 method of a legacy RSA object in about 20
 * microseconds, so for RSA keys this file builds one from the key's modulus
 * and exponent; RSA_new() and friends are marked deprecated in 3.0, so this
 * one file asks for them. Any other kind of key takes the ordinary path.
 */
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "profile/profile_internal.h"

int profile_set_pubkey(X509 *cert, EVP_PKEY *key)
{
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *legacy = NULL;
	RSA *rsa = NULL;
	int ok = 0;

	if (!EVP_PKEY_is_a(key, "RSA"))
		return X509_set_pubkey(cert, key);
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) ||
	    (rsa = RSA_new()) == NULL || !RSA_set0_key(rsa, n, e, NULL))
		goto out;
	n = e = NULL; /* rsa owns them */
	if ((legacy = EVP_PKEY_new()) == NULL ||
	    !EVP_PKEY_assign_RSA(legacy, rsa))
		goto out;
	rsa = NULL; /* legacy owns it */
	ok = X509_set_pubkey(cert, legacy);
out:
	BN_free(n);
	BN_free(e);
	RSA_free(rsa);
	EVP_PKEY_free(legacy);
	return ok;
}
