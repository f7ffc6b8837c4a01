/*
 * Is my certificate still good? Expiry from the clock, revocation from the
 * CA's OCSP responder named in the certificate (authorityInfoAccess), asked
 * with a nonce over HTTP (libcurl) and answered under the CA's delegated
 * OCSP signer, which must chain to the CA certificate from the card.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "client/client_internal.h"
#include "jpki/client.h"

/* An OCSP answer is small; anything larger is not one. */
#define OCSP_RESPONSE_MAX (64 * 1024)
#define OCSP_TIMEOUT_MS 5000L

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

/* The first OCSP URL of the certificate's authorityInfoAccess. */
static char *ocsp_url(X509 *cert)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	char *url = NULL;

	if (urls != NULL && sk_OPENSSL_STRING_num(urls) > 0)
		url = OPENSSL_strdup(sk_OPENSSL_STRING_value(urls, 0));
	X509_email_free(urls);
	return url;
}

/* Asks the responder; 0 with out->status set, or -1 with out->detail. */
static int ask_ocsp(struct jpki_client_status_info *out, X509 *cert,
		    X509 *issuer)
{
	struct client_body b = {malloc(OCSP_RESPONSE_MAX + 1),
				OCSP_RESPONSE_MAX, 0};
	long code;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer), *asked = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *basic = NULL;
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	ASN1_GENERALIZEDTIME *rev = NULL, *this_upd, *next_upd;
	unsigned char *der = NULL;
	const unsigned char *p;
	char *url = ocsp_url(cert);
	int der_len, status, reason = -1, r = -1;
	struct tm tm;

	if (b.buf == NULL) {
		snprintf(out->detail, sizeof(out->detail), "out of memory");
		goto out;
	}
	if (url == NULL) {
		snprintf(out->detail, sizeof(out->detail),
			 "the certificate names no OCSP responder");
		goto out;
	}
	if (req == NULL || id == NULL || store == NULL || certs == NULL ||
	    OCSP_request_add0_id(req, id) == NULL ||
	    !OCSP_request_add1_nonce(req, NULL, -1) ||
	    (der_len = i2d_OCSP_REQUEST(req, &der)) <= 0) {
		snprintf(out->detail, sizeof(out->detail),
			 "cannot build the OCSP request");
		goto out;
	}
	asked = id; /* the request owns it now; borrowed below */
	id = NULL;
	if (client_http(&b, &code, url, "application/ocsp-request", der,
			(size_t)der_len, OCSP_TIMEOUT_MS) != 0) {
		snprintf(out->detail, sizeof(out->detail),
			 "the CA's OCSP responder: %s", jpki_err_detail());
		goto out;
	}
	if (code != 200) {
		snprintf(out->detail, sizeof(out->detail),
			 "the CA's OCSP responder %s answered HTTP %ld", url,
			 code);
		goto out;
	}
	p = (const unsigned char *)b.buf;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)b.len)) == NULL ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL) {
		snprintf(out->detail, sizeof(out->detail),
			 "the CA's OCSP responder gave no usable answer");
		goto out;
	}
	if (OCSP_check_nonce(req, basic) != 1) {
		snprintf(out->detail, sizeof(out->detail),
			 "the OCSP answer does not carry our nonce");
		goto out;
	}
	/* the CA from the card is the one trust anchor */
	if (!X509_STORE_add_cert(store, issuer) ||
	    OCSP_basic_verify(basic, certs, store, 0) != 1) {
		snprintf(out->detail, sizeof(out->detail),
			 "the OCSP answer is not signed for the card's CA");
		goto out;
	}
	if (!OCSP_resp_find_status(basic, asked, &status, &reason, &rev,
				   &this_upd, &next_upd)) {
		snprintf(out->detail, sizeof(out->detail),
			 "the OCSP answer is about another certificate");
		goto out;
	}
	/* fresh by our clock (OCSP_check_validity reads the system's, and
	 * ours may stand on another day), five minutes' skew either way */
	{
		time_t late = jpki_clock_now() + 300, early = late - 600;

		if (this_upd == NULL || X509_cmp_time(this_upd, &late) > 0 ||
		    (next_upd != NULL &&
		     X509_cmp_time(next_upd, &early) < 0)) {
			snprintf(out->detail, sizeof(out->detail),
				 "the OCSP answer is out of date");
			goto out;
		}
	}
	if (status == V_OCSP_CERTSTATUS_GOOD) {
		out->status = JPKI_CLIENT_VALID;
	} else if (status == V_OCSP_CERTSTATUS_REVOKED) {
		out->status = JPKI_CLIENT_REVOKED;
		out->reason = reason < 0 ? 0 : reason;
		if (rev != NULL && ASN1_TIME_to_tm(rev, &tm))
			out->revoked_at = timegm(&tm);
	} else {
		out->status = JPKI_CLIENT_UNKNOWN;
	}
	r = 0;
out:
	ERR_clear_error();
	free(b.buf);
	OPENSSL_free(url);
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(basic);
	X509_STORE_free(store);
	sk_X509_free(certs);
	return r;
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
	if (ask_ocsp(out, cert, issuer) != 0)
		out->status = JPKI_CLIENT_UNCHECKED;
	return 0;
}

void client_day(char buf[11], const ASN1_TIME *t)
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
		client_day(day, X509_get0_notAfter(cert));
		snprintf(buf, size,
			 "expired on %s: apply for a new one at the "
			 "municipality window",
			 day);
		break;
	case JPKI_CLIENT_NOT_YET_VALID:
		client_day(day, X509_get0_notBefore(cert));
		snprintf(buf, size, "not valid before %s", day);
		break;
	case JPKI_CLIENT_UNKNOWN:
		snprintf(buf, size, "not known to the CA");
		break;
	default:
		snprintf(buf, size, "not checked: %s", st->detail);
	}
}
