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
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "profile/profile_internal.h"

/*
 * Modulus and exponent are asked for in one call, into buffers of the
 * key's size: EVP_PKEY_get_bn_param() asks one at a time into 2 KiB, which
 * the provider fills in constant time, byte by byte (about 7 microseconds
 * for the two).
 */
int profile_rsa_ne(EVP_PKEY *key, BIGNUM **n, BIGNUM **e)
{
	int size = EVP_PKEY_get_size(key);
	unsigned char *buf = NULL;
	OSSL_PARAM params[3];
	int ok = 0;

	*n = *e = NULL;
	if (!EVP_PKEY_is_a(key, "RSA") || size <= 0 || size > 2048 ||
	    (buf = OPENSSL_malloc(2 * (size_t)size)) == NULL)
		return 0;
	params[0] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, buf,
					    (size_t)size);
	params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, buf + size,
					    (size_t)size);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_get_params(key, params) &&
	    OSSL_PARAM_modified(&params[0]) &&
	    OSSL_PARAM_modified(&params[1]) &&
	    OSSL_PARAM_get_BN(&params[0], n) &&
	    OSSL_PARAM_get_BN(&params[1], e) && !BN_is_zero(*n) &&
	    !BN_is_zero(*e))
		ok = 1;
	OPENSSL_free(buf);
	if (!ok) {
		BN_free(*n);
		BN_free(*e);
		*n = *e = NULL;
	}
	return ok;
}

/* The legacy RSA twin of a provider RSA key (its public half), or NULL. */
static EVP_PKEY *legacy_rsa(EVP_PKEY *key)
{
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *legacy = NULL;
	RSA *rsa = NULL;

	if (!profile_rsa_ne(key, &n, &e) || (rsa = RSA_new()) == NULL ||
	    !RSA_set0_key(rsa, n, e, NULL))
		goto out;
	n = e = NULL; /* rsa owns them */
	if ((legacy = EVP_PKEY_new()) == NULL ||
	    !EVP_PKEY_assign_RSA(legacy, rsa)) {
		EVP_PKEY_free(legacy);
		legacy = NULL;
		goto out;
	}
	rsa = NULL; /* legacy owns it */
out:
	BN_free(n);
	BN_free(e);
	RSA_free(rsa);
	return legacy;
}

int profile_set_pubkey(X509 *cert, EVP_PKEY *key)
{
	EVP_PKEY *legacy;
	int ok;

	if (!EVP_PKEY_is_a(key, "RSA"))
		return X509_set_pubkey(cert, key);
	if ((legacy = legacy_rsa(key)) == NULL)
		return 0;
	ok = X509_set_pubkey(cert, legacy);
	EVP_PKEY_free(legacy);
	return ok;
}

X509_PUBKEY *profile_pubkey(EVP_PKEY *key)
{
	EVP_PKEY *legacy = NULL;
	X509_PUBKEY *pk = NULL;

	if (EVP_PKEY_is_a(key, "RSA") && (legacy = legacy_rsa(key)) == NULL)
		return NULL;
	if (!X509_PUBKEY_set(&pk, legacy != NULL ? legacy : key))
		pk = NULL;
	EVP_PKEY_free(legacy);
	return pk;
}
