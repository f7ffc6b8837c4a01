/* What the files of the signed-application check share. */
#ifndef JPKI_VERIFY_INTERNAL_H
#define JPKI_VERIFY_INTERNAL_H

#include <openssl/x509.h>

#include "jpki/verify.h"

/* What the revocation step learned about one certificate. */
struct verify_revocation {
	enum jpki_verify_status status;
	int reason;         /* CRLReason when revoked */
	time_t revoked_at;  /* when revoked and known */
	const char *source; /* "ocsp", "crl" or "callback" (static) */
	char detail[512];   /* why no source answered */
};

/*
 * Revocation status of `cert`, already chained to `issuer`: by the
 * options' callback, else OCSP, else the CRL. Returns 0 with out->status,
 * 1 when no source could answer (out->detail says why), or a negative
 * jpki_err when the callback or memory fails.
 */
int verify_revocation(struct verify_revocation *out,
		      const struct jpki_verify_options *opts, X509 *cert,
		      X509 *issuer) JPKI_MUST_CHECK;

/* RFC 5280's name of a CRLReason ("keyCompromise"). */
const char *verify_reason_name(int reason);

#endif
