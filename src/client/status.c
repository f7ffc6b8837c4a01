/*
 * Is my certificate still good? Expiry from the clock; revocation as a
 * relying party would ask it (the verify module): the CA's OCSP responder
 * named in the certificate, with a nonce, answered under the CA's delegated
 * signer that must chain to the CA certificate from the card — and the
 * municipality's CRL when OCSP does not answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "client/client_internal.h"
#include "jpki/client.h"
#include "jpki/verify.h"

const char *jpki_client_reason_text(int reason)
{
	switch (reason) {
	case 0:
		return "it was cancelled (unspecified)";
	case 1:
		return "the card was reported lost, stolen or broken "
		       "(keyCompromise)";
	case 3:
		return "the holder's name, date of birth, sex or address "
		       "changed (affiliationChanged)";
	case 4:
		return "it was renewed (superseded)";
	case 5:
		return "the holder died or left the resident register "
		       "(cessationOfOperation)";
	case 6:
		return "it is on hold (certificateHold)";
	default:
		return "of an unknown reason";
	}
}

/* The verify module's check: OCSP (nonce, signature, freshness by the
 * service's clock), and the CRL when OCSP cannot answer. */
static int ask(struct jpki_client_status_info *out, X509 *cert, X509 *issuer)
{
	struct jpki_verify_options opts = JPKI_VERIFY_OPTIONS_INIT;
	struct jpki_verify_revocation rv;
	int r = jpki_verify_revocation(&rv, &opts, cert, issuer);

	if (r != 0) {
		snprintf(out->detail, sizeof(out->detail), "%s",
			 r > 0 ? rv.detail : jpki_err_detail());
		return -1;
	}
	if (rv.status == JPKI_VERIFY_GOOD) {
		out->status = JPKI_CLIENT_VALID;
	} else if (rv.status == JPKI_VERIFY_REVOKED) {
		out->status = JPKI_CLIENT_REVOKED;
		out->reason = rv.reason < 0 ? 0 : rv.reason;
		out->revoked_at = rv.revoked_at;
	} else {
		out->status = JPKI_CLIENT_UNKNOWN;
	}
	return 0;
}

int jpki_client_cert_status(struct jpki_client_status_info *out, X509 *cert,
			    X509 *issuer)
{
	time_t now = jpki_clock_now();

	memset(out, 0, sizeof(*out));
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0) {
		out->status = JPKI_CLIENT_EXPIRED;
		return 0;
	}
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0) {
		out->status = JPKI_CLIENT_NOT_YET_VALID;
		return 0;
	}
	if (ask(out, cert, issuer) != 0)
		out->status = JPKI_CLIENT_UNCHECKED;
	return 0;
}

void jpki_client_day(char buf[11], const ASN1_TIME *t)
{
	struct tm tm;
	struct jpki_date d;

	if (!ASN1_TIME_to_tm(t, &tm)) {
		snprintf(buf, 11, "?");
		return;
	}
	d = jpki_date_of(timegm(&tm));
	jpki_date_format(&d, buf);
}

void jpki_client_status_text(char *buf, size_t size,
			     const struct jpki_client_status_info *st,
			     X509 *cert)
{
	char day[11];
	struct jpki_date d;

	switch (st->status) {
	case JPKI_CLIENT_VALID:
		snprintf(buf, size, "valid");
		break;
	case JPKI_CLIENT_REVOKED:
		d = jpki_date_of(st->revoked_at);
		jpki_date_format(&d, day);
		snprintf(buf, size, "revoked on %s because %s", day,
			 jpki_client_reason_text(st->reason));
		break;
	case JPKI_CLIENT_EXPIRED:
		jpki_client_day(day, X509_get0_notAfter(cert));
		snprintf(buf, size,
			 "expired on %s: apply for a new one at the "
			 "municipality window",
			 day);
		break;
	case JPKI_CLIENT_NOT_YET_VALID:
		jpki_client_day(day, X509_get0_notBefore(cert));
		snprintf(buf, size, "not valid before %s", day);
		break;
	case JPKI_CLIENT_UNKNOWN:
		snprintf(buf, size, "not known to the CA");
		break;
	default:
		snprintf(buf, size, "not checked: %s", st->detail);
	}
}
