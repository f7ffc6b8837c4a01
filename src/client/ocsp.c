/*
 * The signer's own OCSP response, kept: PAdES B-LT puts it in the PDF's
 * DSS so a relying party can check the signature later without asking the
 * responder (ETSI EN 319 142-1 5.4). The checks are those of the verify
 * module's live OCSP: our nonce, a signature for the certificate's CA,
 * the status of this certificate.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "client/client_internal.h"
#include "jpki/client.h"

#define OCSP_ANSWER_MAX (64 * 1024)
#define OCSP_TIMEOUT_MS 5000

int jpki_client_ocsp_fetch(uint8_t **out, size_t *out_len, X509 *cert,
			   X509 *issuer)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer), *asked;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *basic = NULL;
	X509_STORE *store = X509_STORE_new();
	struct client_body b = {malloc(OCSP_ANSWER_MAX + 1), OCSP_ANSWER_MAX,
				0};
	unsigned char *der = NULL;
	const unsigned char *p;
	const char *url = NULL;
	int der_len, status, reason, r = JPKI_ERR_NOMEM;
	long code = 0;

	*out = NULL;
	*out_len = 0;
	if (urls != NULL && sk_OPENSSL_STRING_num(urls) > 0)
		url = sk_OPENSSL_STRING_value(urls, 0);
	if (url == NULL) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "the signing certificate names no OCSP "
				 "responder");
		goto out;
	}
	if (b.buf == NULL || req == NULL || id == NULL || store == NULL ||
	    OCSP_request_add0_id(req, id) == NULL)
		goto out;
	asked = id; /* the request owns it now */
	id = NULL;
	if (!OCSP_request_add1_nonce(req, NULL, -1) ||
	    (der_len = i2d_OCSP_REQUEST(req, &der)) <= 0)
		goto out;
	if ((r = client_http(&b, &code, url, "application/ocsp-request", der,
			     (size_t)der_len, OCSP_TIMEOUT_MS)) != 0)
		goto out;
	r = JPKI_ERR_IO;
	p = (const unsigned char *)b.buf;
	if (code != 200 ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)b.len)) == NULL ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL) {
		r = jpki_err_set(JPKI_ERR_IO,
				 "the OCSP responder %s gave no usable answer "
				 "(HTTP %ld)",
				 url, code);
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store),
				   jpki_clock_now());
	if (OCSP_check_nonce(req, basic) != 1 ||
	    !X509_STORE_add_cert(store, issuer) ||
	    OCSP_basic_verify(basic, NULL, store, 0) != 1 ||
	    !OCSP_resp_find_status(basic, asked, &status, &reason, NULL, NULL,
				   NULL)) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "the OCSP answer is not for this certificate, "
				 "signed for its CA, with our nonce");
		goto out;
	}
	if (status != V_OCSP_CERTSTATUS_GOOD) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the OCSP responder says the signing "
				 "certificate is %s",
				 status == V_OCSP_CERTSTATUS_REVOKED
				     ? "revoked"
				     : "unknown");
		goto out;
	}
	/* the response as DER, without anything the server sent after it */
	der_len = (int)(p - (const unsigned char *)b.buf);
	if ((*out = OPENSSL_memdup(b.buf, (size_t)der_len)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	*out_len = (size_t)der_len;
	r = 0;
out:
	ERR_clear_error();
	free(b.buf);
	X509_email_free(urls);
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(basic);
	X509_STORE_free(store);
	return r;
}
