/* What the files of the signed-application check share. */
#ifndef JPKI_VERIFY_INTERNAL_H
#define JPKI_VERIFY_INTERNAL_H

#include <openssl/cms.h>
#include <openssl/x509.h>

#include "jpki/verify.h"

/* What the revocation step learned about one certificate. */
const char *verify_reason_name(int reason);

/* certs.c: d2i_CMS_ContentInfo leaving the certificates' keys undecoded
 * (the provider decoder costs more than the verification); NULL if not
 * CMS. The caller frees it. */
CMS_ContentInfo *verify_cms_d2i(const unsigned char **p, long len);

/* Decodes the public key of `cert` (left undecoded by verify_cms_d2i) into
 * it. 0 when it is in, or cannot be read (the certificate then stays
 * without a key); in the rare case where `cert` could not take the key
 * with its signed bytes unchanged, *again is `cert` decoded afresh by
 * d2i_X509 (caller frees), to be used instead. Negative: no memory. */
int verify_cert_set_key(X509 **again, X509 *cert);

/* A store trusting `anchor` alone, built once per CA certificate and
 * shared: 0 with *out a new reference (X509_STORE_free), or
 * JPKI_ERR_NOMEM. */
int verify_anchor_store(X509_STORE **out, X509 *anchor) JPKI_MUST_CHECK;

#endif
