/*
 * agency: the relying party's own state, for an agency that takes signed
 * online applications (SPEC section 4): its key and certificate, to which
 * residents encrypt their applications, and the submissions it received
 * with its verdict on each (the inbox). The checking itself is the verify
 * module's; the pages are http's portal.
 */
#ifndef JPKI_AGENCY_H
#define JPKI_AGENCY_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jpki/base.h"
#include "jpki/store.h"

/* Creates or updates the agency's tables (idempotent). */
int jpki_agency_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/*
 * The agency's key (RSA-2048, PEM at key_path, mode 0600) and its
 * self-signed certificate (PEM at cert_path): loaded, or both made when
 * the key file does not exist. A key that is not PEM, a certificate that
 * is missing or not the key's, is refused. A real agency uses its own
 * certificate from a CA it trusts; this one exists so an installation can
 * run the whole procedure. Caller frees *key and *cert.
 */
int jpki_agency_key(EVP_PKEY **key, X509 **cert, const char *key_path,
		    const char *cert_path) JPKI_MUST_CHECK;

/* What the agency concluded about a submission. */
enum jpki_agency_verdict {
	JPKI_AGENCY_NOT_VERIFIED = 0,
	JPKI_AGENCY_ACCEPTED = 1,
	JPKI_AGENCY_REFUSED = 2,
};

/* One submission as received (every string borrowed). */
struct jpki_agency_submission {
	int version;         /* JPKI_AGENCY_SUBMISSION_VERSION */
	const char *proc;    /* the procedure's id */
	const char *name;    /* the form's name and address */
	const char *address;
	enum jpki_agency_verdict verdict;
	const char *serial;  /* the signing certificate's, "" if none */
	const char *report;  /* the verification report shown in the inbox */
	const unsigned char *data; /* the file as sent (.p7m) */
	size_t data_len;
	/* Receipt evidence of an accepted submission (docs/RELYING_PARTY.md),
	 * kept beside it in agency_evidence; signed_data NULL for none. */
	const unsigned char *signed_data; /* the SignedData DER */
	size_t signed_data_len;
	const unsigned char *ocsp; /* the OCSP response relied on, or NULL */
	size_t ocsp_len;
	const char *birth, *sex; /* the form's, or NULL */
	time_t status_time;	 /* when the status was known good */
};
#define JPKI_AGENCY_SUBMISSION_VERSION 1
#define JPKI_AGENCY_SUBMISSION_INIT {.version = JPKI_AGENCY_SUBMISSION_VERSION}

/*
 * Records a submission in one transaction and gives it a receipt number
 * "YYYYMMDD-NNNNNN" (today's date in Japan, a sequence that runs across
 * days) in `receipt`. A submission without proc, name or address, or with
 * an unknown verdict, is refused (JPKI_ERR_INVALID) and nothing recorded.
 */
int jpki_agency_submit(char receipt[32], struct jpki_store *st,
		       const struct jpki_agency_submission *s) JPKI_MUST_CHECK;

/* A submission as the inbox lists it. */
struct jpki_agency_entry {
	char receipt[32];
	time_t at;
	enum jpki_agency_verdict verdict;
	char *proc;
	char *name;
	char *serial;
	char *report;
	int has_evidence; /* receipt evidence is kept (agency_evidence) */
	time_t status_time; /* its OCSP thisUpdate, when has_evidence */
};

/* The newest `limit` submissions (0: all), newest first. Caller frees
 * with jpki_agency_inbox_free(). */
int jpki_agency_inbox(struct jpki_agency_entry **out, size_t *n,
		      struct jpki_store *st, size_t limit) JPKI_MUST_CHECK;
void jpki_agency_inbox_free(struct jpki_agency_entry *list, size_t n);

/* The receipt evidence kept with one submission. */
struct jpki_agency_evidence {
	time_t received;
	time_t status_time;
	char *name, *birth, *sex, *address; /* the form; birth, sex may be NULL */
	unsigned char *signed_data;
	size_t signed_data_len;
	unsigned char *ocsp;
	size_t ocsp_len;
};

/*
 * The evidence kept with submission `receipt`: JPKI_ERR_NOT_FOUND when
 * there is no such submission or none was kept (refused ones keep
 * none). Caller frees *out with jpki_agency_evidence_free().
 */
int jpki_agency_evidence(struct jpki_agency_evidence **out,
			 struct jpki_store *st,
			 const char *receipt) JPKI_MUST_CHECK;
void jpki_agency_evidence_free(struct jpki_agency_evidence *ev);

#endif
