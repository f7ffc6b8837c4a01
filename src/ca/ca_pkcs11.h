/*
 * The CA keys in a PKCS#11 token: generated there, never exported, and
 * presented to OpenSSL as EVP_PKEYs whose private operation is C_Sign.
 */
#ifndef JPKI_CA_PKCS11_H
#define JPKI_CA_PKCS11_H

#include <openssl/evp.h>

#include "jpki/base.h"

/* One logged-in session on one token of one module; reference counted,
 * since every key made from it holds a reference. */
struct ca_p11;

/*
 * Loads `module` (a PKCS#11 library path), finds the token labelled
 * `token` and logs in as the user with the PIN read from `pin_file`, or from
 * $JPKI_PKCS11_PIN when pin_file is NULL. Caller frees with ca_p11_free().
 */
int ca_p11_open(struct ca_p11 **out, const char *module, const char *token,
		const char *pin_file) JPKI_MUST_CHECK;
void ca_p11_free(struct ca_p11 *t);

/* The token label and module path the session was opened with (borrowed). */
const char *ca_p11_token(const struct ca_p11 *t);
const char *ca_p11_module(const struct ca_p11 *t);

/* Fails with JPKI_ERR_EXISTS if the token holds an object labelled `label`. */
int ca_p11_absent(struct ca_p11 *t, const char *label) JPKI_MUST_CHECK;

/* Generates an RSA-2048 pair in the token, private half sensitive and not
 * extractable, both labelled `label` (also their CKA_ID). */
int ca_p11_generate(struct ca_p11 *t, const char *label) JPKI_MUST_CHECK;

/* Destroys every object labelled `label` (undoing a failed init). */
void ca_p11_destroy(struct ca_p11 *t, const char *label);

/* The private key labelled `label` as an EVP_PKEY that signs in the token;
 * it holds a reference to `t`. Caller frees with EVP_PKEY_free(). */
int ca_p11_key(EVP_PKEY **out, struct ca_p11 *t,
	       const char *label) JPKI_MUST_CHECK;

/* "pkcs11:token=T;object=O" (RFC 7512, percent-encoded) and back. */
char *ca_p11_uri(const char *token, const char *object);
int ca_p11_uri_parse(char **token, char **object,
		     const char *uri) JPKI_MUST_CHECK;

#endif
