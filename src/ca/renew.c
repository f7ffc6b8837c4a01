/*
 * Renewal: the old certificate revoked as superseded and a new one for
 * the same facts, in one transaction.
 */
#include <string.h>

#include "ca/ca_internal.h"

/* Rebuilds the issue request of a recorded certificate. */
static int request_from_row(struct jpki_issue_request *req, X509 **cert_out,
			    const struct jpki_rows *rows)
{
	const unsigned char *p;
	size_t len;
	X509 *cert;
	int r;

	*cert_out = NULL;
	req->type = (enum jpki_cert_type)jpki_rows_int(rows, 0, 1);
	req->card = (enum jpki_card_kind)jpki_rows_int(rows, 0, 2);
	req->person = jpki_rows_text(rows, 0, 3);
	req->municipality_code = jpki_rows_text(rows, 0, 4);
	req->prefecture = jpki_rows_text(rows, 0, 14);
	req->municipality = jpki_rows_text(rows, 0, 15);
	p = jpki_rows_blob(rows, 0, 12, &len);
	if (p == NULL || (cert = d2i_X509(NULL, &p, (long)len)) == NULL)
		return jpki_err_set(JPKI_ERR_STORE,
				    "the recorded certificate is unreadable");
	*cert_out = cert;
	if (req->type == JPKI_CERT_SIGN &&
	    (r = jpki_profile_facts_from_cert(&req->facts, cert)) != 0)
		return r;
	if (jpki_rows_text(rows, 0, 16) != NULL &&
	    (r = jpki_date_parse(&req->facts.birth,
				 jpki_rows_text(rows, 0, 16))) != 0)
		return r;
	if (jpki_rows_text(rows, 0, 17) != NULL &&
	    (r = jpki_date_parse(&req->card_expiry,
				 jpki_rows_text(rows, 0, 17))) != 0)
		return r;
	return 0;
}

int jpki_ca_renew(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const char *old_serial, EVP_PKEY *subject_key,
		  const struct jpki_date *card_expiry)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_rows *rows = NULL;
	struct jpki_date last, from, today = jpki_date_today();
	char serial[41], day[11];
	X509 *old = NULL;
	int r;

	*out = NULL;
	ca_serial_canon(serial, old_serial ? old_serial : "");
	if (subject_key == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no subject public key");
	if (card_expiry != NULL && !jpki_date_valid(card_expiry))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the new card expiry is not a date");
	if ((r = jpki_store_begin(ca->store)) != 0)
		return r;
	if ((r = ca_load_row(&rows, ca, serial)) != 0)
		goto fail;
	if (jpki_rows_int(rows, 0, 6) != JPKI_STATUS_GOOD) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "certificate %s is %s: only a valid "
				 "certificate can be renewed; apply for a "
				 "new issue",
				 serial,
				 jpki_ca_status_name((enum jpki_cert_status)
							     jpki_rows_int(
								     rows, 0,
								     6)));
		goto fail;
	}
	last = jpki_date_of((time_t)jpki_rows_int(rows, 0, 10));
	if (jpki_clock_now() > (time_t)jpki_rows_int(rows, 0, 10)) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "certificate %s has expired and cannot be "
				 "renewed: apply for a new issue (an expired "
				 "certificate never blocks one)",
				 serial);
		goto fail;
	}
	from = jpki_date_add_months(&last, -3);
	if (jpki_date_cmp(&today, &from) < 0) {
		jpki_date_format(&from, day);
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "certificate %s can be renewed from %s "
				 "(3 months before it expires)",
				 serial, day);
		goto fail;
	}
	if ((r = request_from_row(&req, &old, rows)) != 0)
		goto fail;
	if (card_expiry != NULL)
		req.card_expiry = *card_expiry;
	if ((r = ca_status_set_row(ca, rows, JPKI_STATUS_REVOKED,
				   JPKI_REASON_SUPERSEDED)) != 0 ||
	    (r = ca_issue_renewal(out, ca, &req, subject_key, serial)) != 0)
		goto fail;
	jpki_rows_free(rows);
	X509_free(old);
	if ((r = jpki_store_commit(ca->store)) != 0) {
		jpki_cert_info_free(*out);
		*out = NULL;
		return r;
	}
	ca_ocsp_forget(ca, req.type, serial);
	return 0;
fail:
	jpki_cert_info_free(*out);
	*out = NULL;
	jpki_rows_free(rows);
	X509_free(old);
	jpki_store_rollback(ca->store);
	return r;
}
