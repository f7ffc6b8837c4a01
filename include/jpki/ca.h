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

#include <stdio.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jpki/audit.h"
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
	int ca_years;             /* CA certificate lifetime; 0 = 10 */
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
	/* Who signs OCSP responses: JPKI_OCSP_SIGNER_DELEGATED (0, the
	 * default) or JPKI_OCSP_SIGNER_CA (docs/CA.md). */
	int ocsp_signer;
	/* Delta CRLs (config crl_delta, docs/CA.md): every scope gets a
	 * delta CRL against its full CRL, issued by
	 * jpki_ca_crl_delta_refresh after each change, and named in the full
	 * CRL by a FreshestCRL extension; a change then regenerates no full
	 * CRL, which waits for its period. 0 = off (every change regenerates
	 * or marks stale the full CRLs, as before). */
	int crl_delta;
};
/* The OCSP response signer (RFC 6960 4.2.2.2). */
enum jpki_ocsp_signer {
	/* The CA's delegated OCSP signer; its certificate goes in every
	 * response (about 1 KB). */
	JPKI_OCSP_SIGNER_DELEGATED = 0,
	/* The CA key itself; no certificate in the response, so the CA key
	 * must be where the responder runs. */
	JPKI_OCSP_SIGNER_CA = 1,
};
/* "delegated" or "ca" into *out; JPKI_ERR_INVALID for anything else. */
int jpki_ca_ocsp_signer_parse(int *out, const char *text) JPKI_MUST_CHECK;
#define JPKI_CA_OPTIONS_VERSION 1
#define JPKI_CA_CRL_INLINE_MAX 1000
#define JPKI_CA_OPTIONS_INIT {.version = JPKI_CA_OPTIONS_VERSION}

/*
 * Opens the CAs held in `st` (which must outlive *out) and loads their keys.
 * `opts` may be NULL for the defaults. Caller frees with jpki_ca_free().
 */
int jpki_ca_open(struct jpki_ca **out, struct jpki_store *st,
		 const struct jpki_ca_options *opts) JPKI_MUST_CHECK;
void jpki_ca_free(struct jpki_ca *ca);

/*
 * Replica reads (docs/PERFORMANCE.md, "Replicas"): from now on the OCSP
 * answers and the repository's CRLs and CA certificates are read from
 * `rd` (a read store on a standby, borrowed: it must outlive the CA), not
 * from the CA's own store, which keeps every write. Each such read also
 * reads the heartbeat row `mark_id` (jpki_store_heartbeat(), which the
 * caller keeps writing on the primary) in the same statement, so it knows
 * how old its data may be; past `max_lag_ms` the responder answers OCSP
 * tryLater for anything but a revocation (final: it cannot be undone; a
 * certificate hold can, and is not answered) and jpki_ca_crl_get() fails
 * with JPKI_ERR_STATE. NULL `rd` reads from the CA's store again.
 */
int jpki_ca_read_from(struct jpki_ca *ca, struct jpki_store *rd,
		      const char *mark_id, long max_lag_ms) JPKI_MUST_CHECK;
/*
 * How far behind the replica may be now: *lag_ms is the age of the
 * newest heartbeat it holds. Returns 0 within the bound (and without a
 * read store, *lag_ms 0), JPKI_ERR_STATE past it or without a heartbeat
 * yet, or the store's error.
 */
int jpki_ca_read_lag(int64_t *lag_ms, struct jpki_ca *ca) JPKI_MUST_CHECK;

/* 1 when the CA keys are in a PKCS#11 token, 0 when they are files (the
 * development form, which the caller should warn about). */
int jpki_ca_keys_in_token(const struct jpki_ca *ca);

/* The CA certificate of one CA (borrowed; its current generation), and
 * the public base URL. */
X509 *jpki_ca_cert(const struct jpki_ca *ca, enum jpki_cert_type type);
X509 *jpki_ca_ocsp_cert(const struct jpki_ca *ca, enum jpki_cert_type type);
const char *jpki_ca_public_url(const struct jpki_ca *ca);

/* The current generation of a CA: 1 after init, one more each rollover. */
int jpki_ca_generation(const struct jpki_ca *ca, enum jpki_cert_type type);

/*
 * The CA certificates of every generation of a CA that still vouches for
 * valid certificates (not retired), current first, into out[0..max), each
 * borrowed; returns how many. A verifier trusts them all, and picks the
 * one a certificate names by its authority key identifier (the
 * generations share one DN).
 */
size_t jpki_ca_certs(X509 **out, size_t max, const struct jpki_ca *ca,
		     enum jpki_cert_type type);

struct jpki_actor;

struct jpki_ca_rollover_options {
	int version;          /* JPKI_CA_ROLLOVER_OPTIONS_VERSION */
	const char *key_dir;  /* the new key files and CA certificate PEM;
				 NULL: beside the current key */
	int ca_years;         /* the new CA certificate's lifetime; 0: as
				 long as the current one's */
	int ocsp_days;        /* its OCSP signer's; 0 = 400 */
};
#define JPKI_CA_ROLLOVER_OPTIONS_VERSION 1
#define JPKI_CA_ROLLOVER_OPTIONS_INIT                                         \
	{.version = JPKI_CA_ROLLOVER_OPTIONS_VERSION}

/*
 * CA key rollover (SPEC 5): a new generation of the CA of `type` under the
 * same DN. A new RSA-2048 key (in the CA's PKCS#11 token, labels
 * "sign-ca-N" / "sign-ocsp-N", or files), a new self-signed CA certificate
 * (jpki_profile_build_ca) with its delegated OCSP signer, and the two link
 * certificates of RFC 4210 5.3.13: OldWithNew (the new key certified by
 * the old key) and NewWithOld (the old key certified by the new key), each
 * with an authority key identifier naming the signer's key. From the
 * commit on, `ca` issues under the new generation; the earlier one keeps
 * signing the CRLs and OCSP answers of its certificates until retired.
 * `by` must be a CA officer; the rollover is on the audit chain
 * ("ca.rollover") in its transaction. Other processes holding the CA open
 * (jpki serve) go on issuing under the old generation until restarted.
 * JPKI_ERR_POLICY for another role; JPKI_ERR_STATE when another process
 * rolled the CA over since `ca` was opened.
 */
int jpki_ca_rollover(struct jpki_ca *ca, const struct jpki_actor *by,
		     enum jpki_cert_type type,
		     const struct jpki_ca_rollover_options *opts) JPKI_MUST_CHECK;

/*
 * Retires every earlier generation whose certificates have all expired
 * (revoked ones too: a CRL lists them until they expire): no more CRLs
 * (its scopes are removed), and OCSP answers `unauthorized` for its
 * CertIDs; its CA and link certificates stay published. *retired gets how
 * many were retired. JPKI_ERR_STATE, retiring nothing else, when there is
 * no earlier generation, or when one still holds certificates that have
 * not expired (the sentence says how many and when the last expires).
 * `by` must be a CA officer; each retirement is on the audit chain
 * ("ca.retire").
 */
int jpki_ca_retire(size_t *retired, struct jpki_ca *ca,
		   const struct jpki_actor *by) JPKI_MUST_CHECK;

/*
 * What the repository publishes under /ca/: the names (no extension) of
 * every generation's CA certificate, "sign-N" and "auth-N" (retired ones
 * too; "sign" and "auth" are generation 1's, which the certificates of
 * generation 1 name), and of the link certificates "sign-link-A-B" (issued
 * by generation A's key for generation B's). Caller frees *names with
 * jpki_ca_scopes_free().
 */
int jpki_ca_published(char ***names, size_t *n,
		      struct jpki_ca *ca) JPKI_MUST_CHECK;

/* The DER of one published name; JPKI_ERR_NOT_FOUND if there is none.
 * Caller frees *der with free(). */
int jpki_ca_published_get(unsigned char **der, size_t *len,
			  struct jpki_ca *ca,
			  const char *name) JPKI_MUST_CHECK;

/*
 * Reads a PKCS#10 request (PEM or DER, at most JPKI_MAX_CSR bytes), checks
 * its signature and returns its public key (RSA-2048 only). Everything else
 * in the request is ignored. Caller frees *out with EVP_PKEY_free().
 */
int jpki_ca_csr_parse(EVP_PKEY **out, const unsigned char *data,
		      size_t len) JPKI_MUST_CHECK;

/* jpki_ca_csr_parse of the file at `path`. */
int jpki_ca_csr_read(EVP_PKEY **out, const char *path) JPKI_MUST_CHECK;

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
 * with links to the person's other certificates. Refused (JPKI_ERR_STATE)
 * while the person holds a certificate of that type that is good and not
 * expired; an expired one never blocks. The check is per card: a My Number
 * card's signing certificate for the holder of a valid Juki-card one is
 * issued, and the Juki one revoked (superseded) in the same transaction.
 * Caller frees *out.
 */
int jpki_ca_issue(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const struct jpki_issue_request *req,
		  EVP_PKEY *subject_key) JPKI_MUST_CHECK;

/* "sign" or "auth". */
int jpki_ca_type_parse(enum jpki_cert_type *out, const char *s) JPKI_MUST_CHECK;

/*
 * Sets one field of `req` by its name in a batch line: card (mynumber,
 * juki), person, municipality_code, prefecture, municipality, name
 * (normalised), name_subst, sex (male, female, unknown), birth,
 * address, address_subst, card_expiry (YYYY-MM-DD). `req` borrows
 * `value` for person, municipality_code, prefecture and municipality.
 * An unknown field is refused (JPKI_ERR_PARSE).
 */
int jpki_ca_request_set(struct jpki_issue_request *req, const char *field,
			const char *value) JPKI_MUST_CHECK;

/*
 * One line of a batch (`jpki ca issue-batch`): a JSON object of strings,
 * "csr" (a file, in *csr), "type" and the fields of jpki_ca_request_set;
 * a My Number card without card_expiry expires as a card issued today
 * would. Unknown keys and non-string values are refused. The request and
 * *csr borrow strings from `line`, which must outlive them.
 */
int jpki_ca_request_line(struct jpki_issue_request *req, const char **csr,
			 json_t *line) JPKI_MUST_CHECK;

/* The certificate of `info` as PEM text; caller frees *out with free(). */
int jpki_cert_info_pem(char **out,
		       const struct jpki_cert_info *info) JPKI_MUST_CHECK;

/* What became of one request of a batch. */
struct jpki_issue_result {
	int code;                    /* 0, or the JPKI_ERR_* of a refusal */
	char message[256];           /* why, when code != 0 */
	struct jpki_cert_info *info; /* when code == 0; caller frees */
	/* With `resume`: the certificate in info was issued for this
	 * request by an earlier run, and nothing new was recorded. */
	int again;
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

struct jpki_ca_batch_options {
	int version;      /* JPKI_CA_BATCH_OPTIONS_VERSION */
	unsigned threads; /* signing threads; 0: one per core */
	/*
	 * A rerun after a crash: a request whose person already holds a good
	 * certificate of its type for the same public key (the first request
	 * of that person and type in the batch) gets that certificate back
	 * in info with `again` set, instead of a refusal. For a different key
	 * the request is refused as without it.
	 */
	int resume;
	/*
	 * Called on the calling thread after each group's commit, with
	 * results[from, to) final (a refusal's code and message, or a
	 * durable certificate). It may turn an issued line into a failure
	 * (set code and message; info stays set, the certificate is
	 * recorded). Non-zero stops the batch like a store failure: no
	 * later group is recorded, and the call returns that value.
	 */
	int (*on_group)(void *arg, struct jpki_issue_result *results,
			size_t from, size_t to);
	void *arg;
};
#define JPKI_CA_BATCH_OPTIONS_VERSION 1
#define JPKI_CA_BATCH_OPTIONS_INIT {.version = JPKI_CA_BATCH_OPTIONS_VERSION}

/* jpki_ca_issue_batch with the options above (`opts` NULL: defaults). */
int jpki_ca_issue_batch_opts(struct jpki_issue_result *results,
			     struct jpki_ca *ca,
			     const struct jpki_issue_request *reqs,
			     EVP_PKEY *const *keys, size_t n,
			     const struct jpki_ca_batch_options *opts)
	JPKI_MUST_CHECK;

/* The bytes of one batch line at most, its newline included. */
#define JPKI_CA_LINE_MAX 8192

/* A batch file: its lines, their requests and what became of each. */
struct jpki_ca_batch;

/*
 * Reads a batch file from `in`: every line first (at most
 * JPKI_ISSUE_MAX_BATCH, each under JPKI_CA_LINE_MAX bytes, else the whole
 * file is refused and nothing is returned), then each line parsed
 * (jpki_ca_request_line) and its CSR file read and checked on `threads`
 * threads (0: every core). A line that cannot be read gets its refusal in
 * its result and is not issued. Caller frees *out with
 * jpki_ca_batch_free().
 */
int jpki_ca_batch_read(struct jpki_ca_batch **out, FILE *in,
		       unsigned threads) JPKI_MUST_CHECK;

/*
 * Issues the lines of `b` that were read (jpki_ca_issue_batch_opts with
 * resume) and writes each certificate to out_dir/SERIAL.pem: a group's
 * files are written and made durable right after the group's commit, so
 * that a crash loses no file of a committed certificate that a rerun of
 * the same file would not write again. A certificate issued by an
 * earlier, interrupted run of the same lines is written again (`again`
 * set) instead of refused. A file that cannot be written fails its line
 * ("issued as SERIAL, but not written") and stops the batch after that
 * group. Returns 0, or the error that stopped the batch.
 */
int jpki_ca_batch_issue(struct jpki_ca_batch *b, struct jpki_ca *ca,
			const char *out_dir, unsigned threads) JPKI_MUST_CHECK;

/* The number of lines, each line's result and the file its certificate
 * was written to (NULL if none), borrowed from `b`. */
size_t jpki_ca_batch_count(const struct jpki_ca_batch *b);
const struct jpki_issue_result *jpki_ca_batch_result(
	const struct jpki_ca_batch *b, size_t i);
const char *jpki_ca_batch_file(const struct jpki_ca_batch *b, size_t i);
void jpki_ca_batch_free(struct jpki_ca_batch *b);

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

/*
 * Delta CRLs (with crl_delta on; RFC 5280 5.2.4): issues, one transaction
 * each, the delta CRL of every scope that has a change since its last
 * delta, whose base is no longer the scope's full CRL, that has none yet,
 * or whose delta is past half its validity. Without crl_delta it does
 * nothing. `jpki serve` (repository role) calls it every tick, so a
 * revocation is in a delta within a second. *count: how many it issued.
 */
int jpki_ca_crl_delta_refresh(struct jpki_ca *ca,
			      size_t *count) JPKI_MUST_CHECK;

/* The current delta CRL of a scope (as jpki_ca_crl_get; served at
 * /crl/<scope>.delta.crl); JPKI_ERR_NOT_FOUND when it has none. */
int jpki_ca_crl_delta_get(unsigned char **der, size_t *len,
			  struct jpki_ca *ca,
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
 * The same, for a server that makes the stamp read itself. An answer kept
 * by request bytes is reused only under a stamp of the store taken after
 * the request came (jpki_store_change_stamp on SQLite, a memory read). On
 * PostgreSQL that stamp is the CA's status counter, a round trip: a server
 * answering many requests at once makes one read for all those that came
 * before it started, without holding a worker for each, and answers each
 * with it.
 *   jpki_ca_ocsp_stamp_wanted(): 1 when the stamp is such a read
 *     (PostgreSQL), 0 when jpki_ca_ocsp_respond() takes its own cheaply.
 *   jpki_ca_ocsp_stamp_read(): one read, started now; nonzero when there
 *     is none to use (the read failed, a replica past its bound).
 *   jpki_ca_ocsp_respond_stamped(): jpki_ca_ocsp_respond() under `stamp`,
 *     which must come from a read that started after the request came
 *     ("revoked at the next request after its commit"); NULL: none, every
 *     status read.
 */
int jpki_ca_ocsp_stamp_wanted(const struct jpki_ca *ca);
int jpki_ca_ocsp_stamp_read(struct jpki_store_stamp *out, struct jpki_ca *ca);
int jpki_ca_ocsp_respond_stamped(unsigned char **out, size_t *out_len,
				 struct jpki_ca *ca, const unsigned char *req,
				 size_t req_len,
				 const struct jpki_store_stamp *stamp)
	JPKI_MUST_CHECK;

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

/*
 * Registered relying parties (署名検証者 / 利用者証明検証者, SPEC section 5):
 * the businesses and agencies to which `jpki serve --revocation-access
 * registered` gives OCSP, CRLs and linking look-ups. Each is known by its
 * TLS client certificate, pinned by the SHA-256 of its DER, and has one
 * purpose: JPKI_CERT_SIGN (signing certificates' revocation and linking)
 * or JPKI_CERT_AUTH (the authentication ones). The tables are
 * ca_verifier and ca_verifier_usage, migrated by jpki_ca_open() under
 * their own schema name ("ca_verifier").
 */
#define JPKI_VERIFIER_NAME_MAX 64
struct jpki_verifier {
	char name[JPKI_VERIFIER_NAME_MAX + 1];
	enum jpki_cert_type purpose;
	char fingerprint[65];  /* SHA-256 of the certificate's DER, hex */
	char subject[256];     /* RFC 2253 */
	time_t not_after;      /* of the certificate */
	time_t added_at;
	char added_by[64];
	int enabled;           /* 0 after jpki_ca_verifier_remove() */
};

int jpki_ca_verifier_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/*
 * Registers `name` (letters, digits, '.', '_', '-'; 1 to
 * JPKI_VERIFIER_NAME_MAX) with the client certificate in `cert` (PEM or
 * DER, at most JPKI_MAX_CSR bytes; not expired; if it has an extended key
 * usage, clientAuth among it) for `purpose`, by a CA officer (`by`), with
 * its audit entry ("verifier.add") in the same transaction. Refuses a name
 * or a certificate already registered (JPKI_ERR_EXISTS), also a removed
 * one: the usage kept under a name stays that verifier's.
 */
int jpki_ca_verifier_add(struct jpki_store *st, const struct jpki_actor *by,
			 const char *name, enum jpki_cert_type purpose,
			 const unsigned char *cert,
			 size_t len) JPKI_MUST_CHECK;
/* Disables a verifier (its row and usage are kept), by a CA officer, with
 * its audit entry ("verifier.remove"). JPKI_ERR_NOT_FOUND, JPKI_ERR_STATE
 * when already removed. */
int jpki_ca_verifier_remove(struct jpki_store *st, const struct jpki_actor *by,
			    const char *name) JPKI_MUST_CHECK;
/* Every verifier, by name; caller frees *out with free(). */
int jpki_ca_verifier_list(struct jpki_verifier **out, size_t *n,
			  struct jpki_store *st) JPKI_MUST_CHECK;
/*
 * The enabled verifier whose certificate has SHA-256 `fingerprint` (hex,
 * either case): 0 with *out filled; JPKI_ERR_NOT_FOUND for none,
 * JPKI_ERR_POLICY for a removed one (a sentence saying which). One indexed
 * read: the server calls it for every request in registered mode.
 */
int jpki_ca_verifier_find(struct jpki_verifier *out, struct jpki_store *st,
			  const char *fingerprint) JPKI_MUST_CHECK;
/*
 * The same on the CA's read store (jpki_ca_read_from), as the OCSP answers
 * read it: with a replica, its heartbeat in the same statement, and
 * JPKI_ERR_STATE past the bound (the server answers 503); without one,
 * jpki_ca_verifier_find on the CA's store.
 */
int jpki_ca_verifier_find_read(struct jpki_verifier *out, struct jpki_ca *ca,
			       const char *fingerprint) JPKI_MUST_CHECK;

/* What a verifier was answered: kinds of query. */
enum jpki_verifier_query {
	JPKI_QUERY_OCSP = 0,
	JPKI_QUERY_CRL = 1,
	JPKI_QUERY_LINK = 2,
};
const char *jpki_ca_query_name(enum jpki_verifier_query q);

/*
 * The counts of answered queries per verifier, day (in Japan) and kind,
 * kept in memory by jpki_ca_usage_count() (a mutex and a small table, no
 * store access: the OCSP hot path) and added to ca_verifier_usage by
 * jpki_ca_usage_flush() in one transaction (an UPSERT per verifier, day
 * and kind counted since the last flush). `jpki serve` flushes every
 * second and at stop: a crash loses at most the last second's counts.
 */
struct jpki_ca_usage;
int jpki_ca_usage_new(struct jpki_ca_usage **out,
		      struct jpki_store *st) JPKI_MUST_CHECK;
/* One answered query of `verifier` now (jpki_clock_now()). Never fails:
 * past JPKI_CA_USAGE_SLOTS distinct rows since the last flush it flushes
 * first (on the caller's thread). */
#define JPKI_CA_USAGE_SLOTS 4096
void jpki_ca_usage_count(struct jpki_ca_usage *u, const char *verifier,
			 enum jpki_verifier_query q);
/* Writes the counts held; on failure they stay held for the next try.
 * *rows: how many rows were written (may be NULL). */
int jpki_ca_usage_flush(struct jpki_ca_usage *u, size_t *rows) JPKI_MUST_CHECK;
/* Flushes what is held (a failure is logged) and frees; NULL accepted. */
void jpki_ca_usage_free(struct jpki_ca_usage *u);

struct jpki_verifier_usage {
	char verifier[JPKI_VERIFIER_NAME_MAX + 1];
	char day[11]; /* YYYY-MM-DD, Japan */
	enum jpki_verifier_query query;
	int64_t count;
};
/* The stored counts of one day (`day` NULL: every day), by day, verifier
 * and kind; caller frees *out with free(). */
int jpki_ca_verifier_usage(struct jpki_verifier_usage **out, size_t *n,
			   struct jpki_store *st,
			   const struct jpki_date *day) JPKI_MUST_CHECK;

/*
 * Which of our CAs the single requests of a DER OCSP request name, as bits
 * 1u << JPKI_CERT_SIGN and 1u << JPKI_CERT_AUTH in *types (0 for bytes
 * that are not a request or name no CA of ours: the responder answers those
 * malformedRequest or unauthorized, which tells nothing). Lets the server
 * keep a verifier of one purpose to its own CA's certificates.
 */
void jpki_ca_ocsp_request_types(unsigned *types, struct jpki_ca *ca,
				const unsigned char *req, size_t len);

/* The CA whose certificate has subject key identifier `key_id` (hex, either
 * case, colons allowed): 0 with *type; JPKI_ERR_NOT_FOUND for none. */
int jpki_ca_key_id_type(enum jpki_cert_type *type, struct jpki_ca *ca,
			const char *key_id) JPKI_MUST_CHECK;

/*
 * The linking look-up (証明書新旧紐付け情報) of `serial`, a certificate
 * of the CA of `type`: the renewal and reissue links from it to the
 * person's newest certificate of that type, and that certificate when it is
 * good or on hold ("current"), or "none" when the last one is revoked with
 * no successor (death, removal from the register). The answer is a JSON
 * object (docs/RELYING_PARTY.md, "Linking look-ups") signed as CMS
 * SignedData (content attached, signing time, the OCSP signer's
 * certificate inside) by that CA's OCSP signer, DER in *out; caller frees
 * with free(). JPKI_ERR_NOT_FOUND: no certificate of that CA has the
 * serial.
 */
int jpki_ca_link_answer(unsigned char **out, size_t *len, struct jpki_ca *ca,
			enum jpki_cert_type type,
			const char *serial) JPKI_MUST_CHECK;

#endif
