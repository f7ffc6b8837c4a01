/*
 * ca: the two certification authorities of the service (signing and user
 * authentication): their keys, serials, issue / renew / revoke / hold,
 * linking records, CRLs (full and per municipality) and OCSP responses.
 *
 * Every state change is committed to the store before the call returns, and
 * the CRLs it affects are regenerated in the same transaction.
 */
#ifndef JPKI_CA_H
#define JPKI_CA_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jpki/base.h"
#include "jpki/profile.h"
#include "jpki/store.h"

struct jpki_ca;

/* RFC 5280 CRLReason values the service uses (SPEC section 5). */
enum jpki_reason {
	JPKI_REASON_UNSPECIFIED = 0,         /* destroyed before delivery */
	JPKI_REASON_KEY_COMPROMISE = 1,      /* lost, stolen, card fault */
	JPKI_REASON_AFFILIATION_CHANGED = 3, /* a change of the 4 facts */
	JPKI_REASON_SUPERSEDED = 4,          /* renewal */
	JPKI_REASON_CESSATION = 5,           /* death, removal from register */
	JPKI_REASON_CERTIFICATE_HOLD = 6,
};

/* "keyCompromise" etc. (RFC 5280 spelling, case-insensitive). */
int jpki_ca_reason_parse(enum jpki_reason *out, const char *name) JPKI_MUST_CHECK;
const char *jpki_ca_reason_name(enum jpki_reason reason);

enum jpki_cert_status {
	JPKI_STATUS_GOOD = 0,
	JPKI_STATUS_REVOKED = 1,
	JPKI_STATUS_HOLD = 2,
};
const char *jpki_ca_status_name(enum jpki_cert_status status);

struct jpki_ca_init_options {
	int version;              /* JPKI_CA_INIT_OPTIONS_VERSION */
	const char *key_dir;      /* where the CA and OCSP key files go */
	const char *public_url;   /* base of CRL / OCSP / CA cert URLs */
	int ca_years;             /* CA certificate lifetime; 0 = 12 */
	int ocsp_days;            /* OCSP signer lifetime; 0 = 400 */
	/* Keys in a PKCS#11 token instead of files: the module's path and
	 * the token's label; the user PIN comes from pkcs11_pin_file, or
	 * from $JPKI_PKCS11_PIN when that is NULL, and is never stored. */
	const char *pkcs11_module;
	const char *pkcs11_token;
	const char *pkcs11_pin_file;
};
#define JPKI_CA_INIT_OPTIONS_VERSION 1
#define JPKI_CA_INIT_OPTIONS_INIT {.version = JPKI_CA_INIT_OPTIONS_VERSION}

/*
 * Creates both CAs in `st`: RSA-2048 keys, self-signed roots with the DNs of
 * SPEC section 5, and a delegated OCSP-signing certificate for each. The
 * keys are generated in the PKCS#11 token when opts->pkcs11_module is set
 * (labels sign-ca, sign-ocsp, auth-ca, auth-ocsp; sensitive, not
 * extractable; the store records pkcs11: URIs and the module path), else
 * they are files under key_dir (mode 0600, the development form). The CA
 * certificates go to key_dir as PEM either way. Refuses (JPKI_ERR_EXISTS)
 * if the store already holds CAs or the token already holds those labels.
 */
int jpki_ca_init(struct jpki_store *st,
		 const struct jpki_ca_init_options *opts) JPKI_MUST_CHECK;

struct jpki_ca_options {
	int version;          /* JPKI_CA_OPTIONS_VERSION */
	long crl_period;      /* seconds from thisUpdate to nextUpdate; 0 = 1 day */
	long ocsp_validity;   /* seconds a good OCSP response holds; 0 = 1 hour */
	/* A full CRL listing at least this many entries is not regenerated
	 * in the transaction of each change but marked stale and regenerated
	 * by jpki_ca_crl_refresh_stale; 0 = JPKI_CA_CRL_INLINE_MAX. */
	long crl_inline_max;
	/* For keys in a PKCS#11 token: a file holding the user PIN (config
	 * pkcs11_pin_file); NULL reads $JPKI_PKCS11_PIN. */
	const char *pkcs11_pin_file;
};
#define JPKI_CA_OPTIONS_VERSION 1
#define JPKI_CA_CRL_INLINE_MAX 100000
#define JPKI_CA_OPTIONS_INIT {.version = JPKI_CA_OPTIONS_VERSION}

/*
 * Opens the CAs held in `st` (which must outlive *out) and loads their keys.
 * `opts` may be NULL for the defaults. Caller frees with jpki_ca_free().
 */
int jpki_ca_open(struct jpki_ca **out, struct jpki_store *st,
		 const struct jpki_ca_options *opts) JPKI_MUST_CHECK;
void jpki_ca_free(struct jpki_ca *ca);

/* 1 when the CA keys are in a PKCS#11 token, 0 when they are files (the
 * development form, which the caller should warn about). */
int jpki_ca_keys_in_token(const struct jpki_ca *ca);

/* The CA certificate of one CA (borrowed), and the public base URL. */
X509 *jpki_ca_cert(const struct jpki_ca *ca, enum jpki_cert_type type);
X509 *jpki_ca_ocsp_cert(const struct jpki_ca *ca, enum jpki_cert_type type);
const char *jpki_ca_public_url(const struct jpki_ca *ca);

/*
 * Reads a PKCS#10 request (PEM or DER, at most JPKI_MAX_CSR bytes), checks
 * its signature and returns its public key (RSA-2048 only). Everything else
 * in the request is ignored. Caller frees *out with EVP_PKEY_free().
 */
int jpki_ca_csr_parse(EVP_PKEY **out, const unsigned char *data,
		      size_t len) JPKI_MUST_CHECK;

/* What a certificate is about, as the CA records it. */
struct jpki_issue_request {
	int version; /* JPKI_ISSUE_REQUEST_VERSION */
	enum jpki_cert_type type;
	enum jpki_card_kind card;
	const char *person;            /* the resident's opaque registry id */
	const char *municipality_code; /* 6-digit local government code */
	const char *prefecture;        /* signing: subject L= */
	const char *municipality;      /* signing: subject L= */
	struct jpki_facts facts;       /* signing: all; auth: birth only */
	struct jpki_date card_expiry;  /* My Number card */
};
#define JPKI_ISSUE_REQUEST_VERSION 1
#define JPKI_ISSUE_REQUEST_INIT {.version = JPKI_ISSUE_REQUEST_VERSION}

/* One certificate as the CA's records hold it. */
struct jpki_cert_info {
	char serial[41]; /* upper-case hex */
	enum jpki_cert_type type;
	enum jpki_card_kind card;
	char person[129];
	char municipality_code[8];
	char subject[512];
	enum jpki_cert_status status;
	enum jpki_reason reason;  /* when not good */
	time_t revoked_at;        /* when not good */
	time_t not_before;
	time_t not_after;
	time_t issued_at;
	unsigned char *der;
	size_t der_len;
};
void jpki_cert_info_free(struct jpki_cert_info *info);
void jpki_cert_info_list_free(struct jpki_cert_info **list, size_t n);

/*
 * Issues a certificate of req->type for `subject_key` with a fresh random
 * serial, the validity of the card kind counted from today, and records it,
 * with links to the person's other certificates. Caller frees *out.
 */
int jpki_ca_issue(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const struct jpki_issue_request *req,
		  EVP_PKEY *subject_key) JPKI_MUST_CHECK;

/* What became of one request of a batch. */
struct jpki_issue_result {
	int code;                    /* 0, or the JPKI_ERR_* of a refusal */
	char message[256];           /* why, when code != 0 */
	struct jpki_cert_info *info; /* when code == 0; caller frees */
};

#define JPKI_ISSUE_MAX_BATCH 100000
#define JPKI_ISSUE_MAX_THREADS 64
#define JPKI_ISSUE_GROUP 256

/*
 * Issues a batch with group commit: every request is checked, built and
 * signed on `threads` threads (0: one per core; a PKCS#11 token signs one
 * at a time whatever the count), while the calling thread records them in
 * order, JPKI_ISSUE_GROUP to a transaction, so that a group's durable
 * commit overlaps the signing of the next. A request the CA refuses (bad
 * request, a person who already holds a valid certificate, also earlier in
 * the same batch) gets its code and message in results[i] and does not stop
 * the others. A failure of the store stops the batch and is returned: the
 * groups committed before it keep their certificates (results[i].info), the
 * failing group and every later request get that error in results[i].code
 * and nothing of them is recorded. `results` has room for `n` (at most
 * JPKI_ISSUE_MAX_BATCH); a certificate is durable when its info is set.
 */
int jpki_ca_issue_batch(struct jpki_issue_result *results, struct jpki_ca *ca,
			const struct jpki_issue_request *reqs,
			EVP_PKEY *const *keys, size_t n,
			unsigned threads) JPKI_MUST_CHECK;

/*
 * Renews `old_serial`: allowed from 3 months before its expiry while it is
 * good; revokes it as superseded and issues a new one for `subject_key` with
 * the same facts and validity counted from today, in one transaction.
 * `card_expiry` (may be NULL) replaces the recorded card expiry.
 */
int jpki_ca_renew(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const char *old_serial, EVP_PKEY *subject_key,
		  const struct jpki_date *card_expiry) JPKI_MUST_CHECK;

/* Revokes for good (a held certificate may be revoked). */
int jpki_ca_revoke(struct jpki_ca *ca, const char *serial,
		   enum jpki_reason reason) JPKI_MUST_CHECK;
/* Suspends (certificateHold) and lifts the suspension. */
int jpki_ca_hold(struct jpki_ca *ca, const char *serial) JPKI_MUST_CHECK;
int jpki_ca_release(struct jpki_ca *ca, const char *serial) JPKI_MUST_CHECK;

int jpki_ca_status(struct jpki_cert_info **out, struct jpki_ca *ca,
		   const char *serial) JPKI_MUST_CHECK;

struct jpki_ca_filter {
	enum jpki_cert_type type; /* 0: both */
	int status;               /* -1: any, else enum jpki_cert_status */
	const char *person;       /* NULL: anyone */
	const char *municipality_code; /* NULL: every municipality */
	size_t limit;             /* 0: no limit */
};
#define JPKI_CA_FILTER_INIT {.status = -1}

/* Certificates matching `filter`, newest first. */
int jpki_ca_list(struct jpki_cert_info ***out, size_t *n, struct jpki_ca *ca,
		 const struct jpki_ca_filter *filter) JPKI_MUST_CHECK;

enum jpki_link_kind {
	JPKI_LINK_PAIR = 1,    /* signing and authentication of one person */
	JPKI_LINK_RENEWAL = 2, /* `to` replaced `from` by renewal */
	JPKI_LINK_REISSUE = 3, /* `to` replaced `from` after revocation */
};

/* A linking record (証明書新旧紐付け情報). */
struct jpki_link {
	enum jpki_link_kind kind;
	char from[41];
	char to[41];
	time_t at;
};
const char *jpki_ca_link_kind_name(enum jpki_link_kind kind);

/* Every linking record that names `serial`, oldest first; free(*out). */
int jpki_ca_links(struct jpki_link **out, size_t *n, struct jpki_ca *ca,
		  const char *serial) JPKI_MUST_CHECK;

/*
 * CRLs. A scope is "sign" or "auth" (the full CRL of that CA) or
 * "sign/<municipality code>" (that municipality's partition of the signing
 * CA). Each scope has its own CRL number sequence.
 */

/* Regenerates every CRL whose nextUpdate is less than half a period away,
 * or all of them with `force`. Returns the number regenerated in *count. */
int jpki_ca_crl_refresh(struct jpki_ca *ca, int force,
			size_t *count) JPKI_MUST_CHECK;

/*
 * Regenerates the full CRLs that a change marked stale (those of at least
 * crl_inline_max entries, which changes do not regenerate themselves).
 * `jpki serve` calls it every second. *count: how many it regenerated.
 */
int jpki_ca_crl_refresh_stale(struct jpki_ca *ca,
			      size_t *count) JPKI_MUST_CHECK;

/* The current DER CRL of a scope; caller frees *der with free(). */
int jpki_ca_crl_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
		    const char *scope) JPKI_MUST_CHECK;

/* Every scope that has a CRL; caller frees with jpki_ca_scopes_free(). */
int jpki_ca_crl_scopes(char ***out, size_t *n, struct jpki_ca *ca) JPKI_MUST_CHECK;
void jpki_ca_scopes_free(char **scopes, size_t n);

/*
 * Answers one DER OCSP request (RFC 6960). Always produces a DER response in
 * *out (malformedRequest for bytes that are not a request, unauthorized for a
 * CA that is not ours) unless memory or the signer fails. Caller frees *out.
 */
int jpki_ca_ocsp_respond(unsigned char **out, size_t *out_len,
			 struct jpki_ca *ca, const unsigned char *req,
			 size_t req_len) JPKI_MUST_CHECK;

/*
 * Consumes the resident registry's change events (registry.h) after the
 * CA's own cursor: a 4-fact change revokes the person's good signing
 * certificates (affiliationChanged); death or removal revokes every good
 * certificate (cessationOfOperation). Exactly once: the revocations of up
 * to JPKI_CA_EVENT_BATCH events, one regeneration of each CRL they touch and
 * the cursor move commit in one transaction, so a process killed at any
 * point neither skips an event nor applies one twice. *count gets the
 * number of events applied. With no event after the cursor it only reads
 * (no write transaction); while another process's consumer holds the
 * consumer lock it skips (*count 0) and the next call catches up. The
 * registry's tables must exist (jpki_registry_migrate(), run once at the
 * caller's start).
 */
#define JPKI_CA_EVENT_BATCH 256
/* The key of the consumer's cross-process lock (jpki_store_try_lock):
 * "JPRE" in ASCII; the store's writer lock is "JPKI". */
#define JPKI_CA_CONSUMER_LOCK 1246777925
int jpki_ca_apply_registry_events(size_t *count,
				  struct jpki_ca *ca) JPKI_MUST_CHECK;

#endif
