/* What the profile module's files share and nobody else needs. */
#ifndef JPKI_PROFILE_INTERNAL_H
#define JPKI_PROFILE_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* X509_set_pubkey(), without OpenSSL 3.0's slow encoder for RSA keys
 * (pubkey.c says why). 1 on success, as OpenSSL's setters. */
int profile_set_pubkey(X509 *cert, EVP_PKEY *key);

#endif
