/* What the profile module's files share and nobody else needs. */
#ifndef JPKI_PROFILE_INTERNAL_H
#define JPKI_PROFILE_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* An RSA key's modulus and exponent, both in one call (pubkey.c says
 * why); 1 on success, 0 for a key that is not RSA or on failure. */
int profile_rsa_ne(EVP_PKEY *key, BIGNUM **n, BIGNUM **e);

/* X509_set_pubkey(), without OpenSSL 3.0's slow encoder for RSA keys
 * (pubkey.c says why). 1 on success, as OpenSSL's setters. */
int profile_set_pubkey(X509 *cert, EVP_PKEY *key);

/* The SubjectPublicKeyInfo of `key` by the same fast path; NULL on
 * failure. Caller frees with X509_PUBKEY_free(). */
X509_PUBKEY *profile_pubkey(EVP_PKEY *key);

/* cert.c's pieces that issuer.c (the pre-encoded path) reuses, so both
 * paths encode the same bytes. */
struct jpki_profile_request;
struct jpki_facts;
int profile_check_request(const struct jpki_profile_request *req);
/* The six otherNames of a signing certificate's subjectAltName. */
GENERAL_NAMES *profile_facts_names(const struct jpki_facts *f);
/* An extension in OpenSSL's configuration syntax, in the context of issuer
 * and subject; 1 on success. */
int profile_add_conf(X509 *cert, X509 *issuer, int nid, const char *value);

#endif
