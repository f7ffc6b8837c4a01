/*
 * Status changes: revoke, hold and release, each one transaction that
 * also regenerates the CRLs listing the certificate.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ca/ca_internal.h"

int ca_status_set_locked(struct jpki_ca *ca, const char *serial,
			 enum jpki_cert_type type, int gen,
			 const char *municipality,
			 enum jpki_cert_status status, enum jpki_reason reason,
			 int crls)
{
	time_t now = jpki_clock_now();
	int r;
	struct jpki_value p[] = {
		JPKI_V_INT(status),
		status == JPKI_STATUS_GOOD ? JPKI_V_NULL : JPKI_V_INT(reason),
		status == JPKI_STATUS_GOOD ? JPKI_V_NULL : JPKI_V_INT(now),
		JPKI_V_TEXT(serial),
		JPKI_V_INT(now),
	};

	/* changed_at: what a delta CRL lists, a release from hold too */
	if ((r = jpki_store_exec(ca->store,
				 "UPDATE ca_cert SET status = $1, reason = $2,"
				 " revoked_at = $3, version = version + 1,"
				 " changed_at = $5 WHERE serial = $4",
				 p, 5, NULL)) != 0)
		return r;
	if (!crls)
		return 0;
	/* The CRLs of the generation that issued it, signed by its key. */
	if ((r = ca_crl_touch(ca, type, gen, NULL)) != 0)
		return r;
	if (type == JPKI_CERT_SIGN &&
	    (r = ca_crl_touch(ca, type, gen, municipality)) != 0)
		return r;
	return 0;
}

/*
 * Moves a certificate (the row loaded by ca_load_row) to a new status inside
 * the caller's transaction and regenerates the CRLs that list it.
 */
int ca_status_set_row(struct jpki_ca *ca, const struct jpki_rows *row,
			     enum jpki_cert_status status,
			     enum jpki_reason reason)
{
	return ca_status_set_locked(
		ca, jpki_rows_text(row, 0, 0),
		(enum jpki_cert_type)jpki_rows_int(row, 0, 1),
		(int)jpki_rows_int(row, 0, CERT_COLUMN_GENERATION),
		jpki_rows_text(row, 0, 4), status, reason, 1);
}

/* "UPDATE ... WHERE serial IN ($3, ..., $CA_REVOKE_IN+2)", made once. */
static char revoke_many_sql[320 + CA_REVOKE_IN * 8];
static pthread_once_t revoke_many_once = PTHREAD_ONCE_INIT;

static void revoke_many_build(void)
{
	size_t size = sizeof(revoke_many_sql), len;

	len = (size_t)snprintf(revoke_many_sql, size,
			       "UPDATE ca_cert SET status = %d, reason = $1,"
			       " revoked_at = $2, version = version + 1,"
			       " changed_at = $2 WHERE serial IN ",
			       (int)JPKI_STATUS_REVOKED);
	if (len < size)
		ca_sql_in(revoke_many_sql + len, size - len, 3, CA_REVOKE_IN);
}

int ca_status_revoke_many(struct jpki_ca *ca, const char *const *serials,
			  size_t n, enum jpki_reason reason)
{
	time_t now = jpki_clock_now();
	int r;

	pthread_once(&revoke_many_once, revoke_many_build);
	for (size_t from = 0; from < n; from += CA_REVOKE_IN) {
		struct jpki_value p[2 + CA_REVOKE_IN];

		p[0] = JPKI_V_INT(reason);
		p[1] = JPKI_V_INT(now);
		/* the unused places NULL, which matches no serial: one
		 * statement text, prepared once */
		for (size_t i = 0; i < CA_REVOKE_IN; i++)
			p[2 + i] = from + i < n ? JPKI_V_TEXT(serials[from + i])
						: JPKI_V_NULL;
		if ((r = jpki_store_exec(ca->store, revoke_many_sql, p,
					 2 + CA_REVOKE_IN, NULL)) != 0)
			return r;
	}
	return 0;
}

enum change { CHANGE_REVOKE, CHANGE_HOLD, CHANGE_RELEASE };

static int change_status(struct jpki_ca *ca, const char *serial_in,
			 enum change change, enum jpki_reason reason)
{
	struct jpki_rows *rows = NULL;
	char serial[41];
	int r, status;

	ca_serial_canon(serial, serial_in ? serial_in : "");
	if ((r = jpki_store_begin(ca->store)) != 0)
		return r;
	if ((r = ca_load_row(&rows, ca, serial)) != 0)
		goto fail;
	status = (int)jpki_rows_int(rows, 0, 6);
	if (status == JPKI_STATUS_REVOKED) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "certificate %s is already revoked (%s)",
				 serial,
				 jpki_ca_reason_name((enum jpki_reason)
							     jpki_rows_int(
								     rows, 0,
								     7)));
		goto fail;
	}
	switch (change) {
	case CHANGE_REVOKE:
		r = ca_status_set_row(ca, rows, JPKI_STATUS_REVOKED, reason);
		break;
	case CHANGE_HOLD:
		if (status == JPKI_STATUS_HOLD) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "certificate %s is already on hold",
					 serial);
			goto fail;
		}
		r = ca_status_set_row(ca, rows, JPKI_STATUS_HOLD,
				      JPKI_REASON_CERTIFICATE_HOLD);
		break;
	case CHANGE_RELEASE:
		if (status != JPKI_STATUS_HOLD) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "certificate %s is not on hold",
					 serial);
			goto fail;
		}
		r = ca_status_set_row(ca, rows, JPKI_STATUS_GOOD,
				      JPKI_REASON_UNSPECIFIED);
		break;
	}
	if (r != 0)
		goto fail;
	jpki_rows_free(rows);
	rows = NULL;
	if ((r = jpki_store_commit(ca->store)) != 0)
		return r;
	ca_ocsp_forget(ca, JPKI_CERT_SIGN, serial);
	ca_ocsp_forget(ca, JPKI_CERT_AUTH, serial);
	jpki_log(JPKI_LOG_INFO, "certificate %s: %s", serial,
		 change == CHANGE_REVOKE ? jpki_ca_reason_name(reason)
		 : change == CHANGE_HOLD ? "on hold"
					 : "hold released");
	return 0;
fail:
	jpki_rows_free(rows);
	jpki_store_rollback(ca->store);
	return r;
}

int jpki_ca_revoke(struct jpki_ca *ca, const char *serial,
		   enum jpki_reason reason)
{
	switch (reason) {
	case JPKI_REASON_UNSPECIFIED:
	case JPKI_REASON_KEY_COMPROMISE:
	case JPKI_REASON_AFFILIATION_CHANGED:
	case JPKI_REASON_SUPERSEDED:
	case JPKI_REASON_CESSATION:
		break;
	case JPKI_REASON_CERTIFICATE_HOLD:
		return jpki_err_set(JPKI_ERR_INVALID,
				    "certificateHold is not a revocation: "
				    "use hold");
	default:
		return jpki_err_set(JPKI_ERR_INVALID,
				    "revocation reason %d is not one the "
				    "service uses",
				    (int)reason);
	}
	return change_status(ca, serial, CHANGE_REVOKE, reason);
}

int jpki_ca_hold(struct jpki_ca *ca, const char *serial)
{
	return change_status(ca, serial, CHANGE_HOLD,
			     JPKI_REASON_CERTIFICATE_HOLD);
}

int jpki_ca_release(struct jpki_ca *ca, const char *serial)
{
	return change_status(ca, serial, CHANGE_RELEASE,
			     JPKI_REASON_UNSPECIFIED);
}
