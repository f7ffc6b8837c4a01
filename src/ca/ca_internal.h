/* What the files of the CA module share. */
#ifndef JPKI_CA_INTERNAL_H
#define JPKI_CA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/ocsp.h>

#include "ca/ca_pkcs11.h"
#include "jpki/ca.h"

/* One of the two CAs: its certificate, key and delegated OCSP signer. */
/* The hashes an OCSP request may name its issuer by, in ca_certid_md()'s
 * order. */
#define CA_CERTID_HASHES 4

struct authority {
	enum jpki_cert_type type;
	/* 1 for the CA `jpki ca init` made, one more at each rollover; all
	 * generations of a CA share its DN and differ by key. */
	int generation;
	X509 *cert;
	EVP_PKEY *key;
	X509 *ocsp_cert;
	EVP_PKEY *ocsp_key;
	/* This CA as an issuer in a CertID, under each hash, made once at
	 * open (hashing its name and key for every OCSP request was a
	 * measurable part of answering one). */
	OCSP_CERTID *ids[CA_CERTID_HASHES];
	/* What every certificate it issues shares, pre-encoded at its first
	 * issue (issue.c); NULL until then. */
	struct jpki_profile_issuer *profile;
};

/* The i-th hash a CertID may use (SHA-1, SHA-256, -384, -512); NULL past
 * the last. */
const EVP_MD *ca_certid_md(int i);

#define OCSP_CACHE_SLOTS 4096

/* A signed good/revoked answer for one serial, reused until the
 * certificate's status version changes or half its validity has passed. */
struct ocsp_cached {
	enum jpki_cert_type type;
	char serial[41];
	int64_t version;
	time_t produced;
	unsigned char *der;
	size_t der_len;
};

/*
 * A whole answer to the exact bytes of a request (one CertID, no nonce),
 * reused while the store's change stamp is the one it was answered under:
 * no transaction committed since, so no status changed (ocsp.c).
 */
#define OCSP_REQ_SLOTS 4096

struct ocsp_req_cached {
	unsigned char *req;
	size_t req_len;
	struct jpki_store_stamp stamp;
	time_t produced;
	unsigned char *der;
	size_t der_len;
};

/*
 * Reads shared by concurrent callers (stamp.c): one in flight at a time, and
 * each caller gets the result of a read that started after it called.
 */
struct ca_stamp {
	int64_t n;     /* ca_status_stamp's counter */
	int64_t mark;  /* a replica's heartbeat read beside it */
	int marked;    /* the heartbeat row was there */
};

typedef int (*ca_stamp_fn)(void *arg, struct ca_stamp *out);

/* Lock-free, the waiters asleep on a futex: with a mutex and a condition
 * variable, every waiter woken took the mutex again in turn, and most of
 * them slept once more on it (a sixth of the responder's time). */
struct ca_coalesce {
	/* reads started so far (numbered from 1) << 1 | one is in flight */
	_Atomic uint64_t state;
	/* the number of the last read that ended (its low 32 bits) */
	_Atomic uint32_t ended;
	/* what the callers that need read k sleep on: gate[k & 1], bumped
	 * at the end of read k and of read k - 1 */
	_Atomic uint32_t gate[2];
	/* what it read, under a sequence lock (odd: being written) */
	_Atomic uint32_t seq;
	_Atomic int64_t n, mark;
	_Atomic int marked, r;
	_Atomic uint64_t reads; /* reads made (tests, logs) */
};

void ca_coalesce_init(struct ca_coalesce *c);
void ca_coalesce_clear(struct ca_coalesce *c);
/* Sets *out to what a call of fn(arg) that started after this call read,
 * and returns what that call returned: fn's own value or one shared with
 * the other callers that came while the one before it ran. */
int ca_coalesce_read(struct ca_stamp *out, struct ca_coalesce *c,
		     ca_stamp_fn fn, void *arg);

struct jpki_ca {
	struct jpki_store *store;
	struct authority auth[2]; /* [type - 1], the current generations */
	/* The earlier generations not yet retired (rollover.c): they still
	 * sign the CRLs and OCSP answers of the certificates they issued. */
	struct authority *older;
	size_t n_older;
	char *public_url;
	long crl_period;
	long crl_inline_max; /* ca_crl_touch: larger full CRLs wait */
	int crl_delta; /* delta CRLs; full CRLs wait for their period */
	long ocsp_validity;
	int ocsp_signer; /* enum jpki_ocsp_signer */
	pthread_mutex_t cache_lock;
	struct ocsp_cached cache[OCSP_CACHE_SLOTS];
	struct ocsp_req_cached req_cache[OCSP_REQ_SLOTS]; /* cache_lock */
	struct ca_p11 *p11; /* the token session, when keys are there */
	char *pkcs11_pin_file;
	/* jpki_ca_read_from(): the replica the OCSP answers and the
	 * repository read from (NULL: `store`), the heartbeat row read with
	 * them and the bound on their age */
	struct jpki_store *read;
	char *read_mark;
	long read_max_lag_ms;
	/* PostgreSQL: the status counter (stamp.c) stands for SQLite's
	 * change stamp, its reads shared by the workers */
	int pg_stamp;
	struct ca_coalesce stamps;
};

/* The stamp of the store's certificate statuses now, read coalesced
 * (stamp.c): equal stamps, no status changed in between. JPKI_ERR_STATE
 * when there is none (not PostgreSQL, the read failed, a replica past its
 * bound): the caller reads the status as without. */
int ca_status_stamp(struct jpki_store_stamp *out, struct jpki_ca *ca);
/* The stamp bytes of counter value n. */
void ca_stamp_bytes(struct jpki_store_stamp *out, int64_t n);

/* Where the OCSP answers and the repository read: the replica if there
 * is one, else the CA's own store. */
static inline struct jpki_store *ca_read_store(struct jpki_ca *ca)
{
	return ca->read != NULL ? ca->read : ca->store;
}

/* A replica's data whose heartbeat `mark` (NULL when the row was not
 * there) is older than the bound; sets the error sentence. 0 when
 * fresh. */
int ca_read_stale(struct jpki_ca *ca, const int64_t *mark) JPKI_MUST_CHECK;

static inline struct authority *ca_authority(struct jpki_ca *ca,
					     enum jpki_cert_type type)
{
	return &ca->auth[type == JPKI_CERT_AUTH ? 1 : 0];
}

/* The authority of generation `gen` of a CA (current or earlier, not
 * retired); NULL if there is none. */
struct authority *ca_authority_gen(struct jpki_ca *ca, enum jpki_cert_type type,
				   int gen);

/* The i-th live authority: the two current ones, then the earlier
 * generations; NULL past the last. */
struct authority *ca_authority_at(struct jpki_ca *ca, size_t i);

/* Loads a CA certificate, its OCSP signer and their keys from the row
 * (type, cert, key_ref, ocsp_cert, ocsp_key_ref, public_url,
 * pkcs11_module, generation) into `a`. */
int ca_authority_load(struct jpki_ca *ca, struct authority *a,
		      struct jpki_rows *rows, size_t row) JPKI_MUST_CHECK;
void ca_authority_clear(struct authority *a);

/* Refuses (JPKI_ERR_STATE) when a CA was rolled over in the store since
 * `ca` was opened: this process would issue under a generation that is no
 * longer the current one. Inside the issuing transaction. */
int ca_generations_current(struct jpki_ca *ca) JPKI_MUST_CHECK;

/* The earlier, unretired generations of both CAs, into ca->older. */
int ca_older_load(struct jpki_ca *ca) JPKI_MUST_CHECK;

/*
 * Sets a certificate's status (reason and time for anything but good) and
 * bumps its status version, inside the caller's transaction. With `crls`
 * it also regenerates the CRLs that list it (the CA's full CRL, and for a
 * signing certificate its municipality's); without, the caller does, once
 * for a batch. The caller forgets the OCSP answers after the commit.
 */
int ca_status_set_locked(struct jpki_ca *ca, const char *serial,
			 enum jpki_cert_type type, int gen,
			 const char *municipality,
			 enum jpki_cert_status status, enum jpki_reason reason,
			 int crls) JPKI_MUST_CHECK;
/* Writes "($first, ..., $first+count-1)" into buf (the IN lists of the
 * batch paths: issue_group.c, status.c, registry_events.c); returns its
 * length, as snprintf does. */
size_t ca_sql_in(char *buf, size_t size, size_t first, size_t count);

/*
 * ca_status_set_locked(..., JPKI_STATUS_REVOKED, reason, 0) of `n`
 * certificates at once, by one UPDATE a CA_REVOKE_IN of them (a registry
 * batch's revocations: on PostgreSQL every statement is a round trip). The
 * same columns, set to the same values. */
#define CA_REVOKE_IN 64
int ca_status_revoke_many(struct jpki_ca *ca, const char *const *serials,
			  size_t n, enum jpki_reason reason) JPKI_MUST_CHECK;

/* "sign" / "auth" */
const char *ca_type_name(enum jpki_cert_type type);

/* Regenerates the CRL of one scope inside the caller's transaction:
 * municipality NULL for the CA's full CRL. */
/*
 * A change in the caller's transaction affects this scope's CRL: a
 * municipality's partition, or a full CRL of fewer than crl_inline_max
 * entries, is regenerated at once; a larger full CRL is marked stale, for
 * jpki_ca_crl_refresh_stale (jpki serve, every second) or the next
 * jpki_ca_crl_refresh.
 */
int ca_crl_touch(struct jpki_ca *ca, enum jpki_cert_type type, int gen,
		 const char *municipality) JPKI_MUST_CHECK;

/* Every CRL scope is one generation's: generation 1 keeps the names it
 * had before any rollover ("sign", "sign/131016"), generation N > 1 is
 * "sign-N", "sign-N/131016". */
int ca_crl_generate(struct jpki_ca *ca, enum jpki_cert_type type, int gen,
		    const char *municipality) JPKI_MUST_CHECK;
void ca_crl_scope_name(char out[32], enum jpki_cert_type type, int gen,
		       const char *municipality);

/* "sign", "auth-2", "sign/131016" ... into its parts (municipality ""
 * for a full CRL); JPKI_ERR_INVALID with a sentence for anything else. */
/* A scope's full CRL (delta 0) or delta CRL (1) as published, through
 * the read store when there is one (crl.c). */
int ca_crl_der_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
		   const char *scope, int delta) JPKI_MUST_CHECK;
int ca_crl_scope_parse(enum jpki_cert_type *type, int *gen,
		       char municipality[7], const char *scope) JPKI_MUST_CHECK;

/*
 * What a full CRL and a delta CRL of a scope share (crl.c): version 2,
 * the generation's name as issuer, this and next update, the AKI, the CRL
 * number, for a delta (base >= 0) the critical DeltaCRLIndicator naming
 * its base, and for a partition the critical issuingDistributionPoint (the
 * same bytes in the full CRL and its delta, as RFC 5280 5.2.4 asks).
 * Returns 0, JPKI_ERR_NOMEM, or JPKI_ERR_CRYPTO with no sentence set (the
 * caller names the CRL).
 */
int ca_crl_head(X509_CRL **out, struct jpki_ca *ca,
		const struct authority *a, enum jpki_cert_type type, int gen,
		const char *municipality, time_t this_update,
		time_t next_update, int64_t number, int64_t base);

/* Delta CRLs (crl_delta.c). The URL of a scope's delta, as the full CRL's
 * FreshestCRL names it: <url>/crl/<scope>.delta.crl. */
char *ca_crl_delta_url(const struct jpki_ca *ca, enum jpki_cert_type type,
		       int gen, const char *municipality);
/* A change in the caller's transaction waits for the scope's next delta. */
int ca_crl_delta_due(struct jpki_ca *ca, const char *scope) JPKI_MUST_CHECK;
/* The highest CRL number the scope's delta took (0 if none): a full CRL
 * continues the one sequence of both (RFC 5280 5.2.3). */
int ca_crl_delta_number(int64_t *out, struct jpki_ca *ca,
			const char *scope) JPKI_MUST_CHECK;
/* The FreshestCRL extension (RFC 5280 5.2.6, non-critical) naming the
 * scope's delta, added to its full CRL. 1 on success, as OpenSSL. */
int ca_crl_add_freshest(X509_CRL *crl, const char *delta_url);

/* The URL of a scope's CRL as certificates and the IDP name it. */
char *ca_crl_url(const struct jpki_ca *ca, enum jpki_cert_type type, int gen,
		 const char *municipality);

/* Serial number helpers: hex (upper case, as BN_bn2hex) <-> ASN1_INTEGER. */
char *ca_serial_hex(const ASN1_INTEGER *serial);
ASN1_INTEGER *ca_serial_from_hex(const char *hex);

/* Forgets the cached OCSP answer for a serial after a status change. */
void ca_ocsp_forget(struct jpki_ca *ca, enum jpki_cert_type type,
		    const char *serial);

/* Writes a key (mode 0600) or a certificate (0644) as PEM, atomically. */
int ca_pem_save(const char *path, EVP_PKEY *key, X509 *cert) JPKI_MUST_CHECK;
/* 16 random bytes for a serial, positive and of fixed length. */
int ca_random_serial(unsigned char serial[16]) JPKI_MUST_CHECK;
/* A new RSA-2048 key and the reference the store keeps for it: made in
 * the token `t` under `label`, or written to dir/label.key. */
int ca_make_key(EVP_PKEY **out, char **ref, struct ca_p11 *t,
		const char *dir, const char *label) JPKI_MUST_CHECK;

/* Loads a private key file (PEM). */
int ca_key_load(EVP_PKEY **out, const char *ref) JPKI_MUST_CHECK;

/* DER of a certificate into a fresh buffer. */
int ca_der(unsigned char **out, size_t *len, X509 *cert) JPKI_MUST_CHECK;
/* The columns of ca_cert that ca_info_from_row and renewal read. */
#define CERT_COLUMNS                                                          \
	"serial, type, card, person, municipality, subject, status, reason," \
	" revoked_at, not_before, not_after, issued_at, der, version,"       \
	" prefecture_name, municipality_name, birth, card_expiry, generation"
/* The column of CERT_COLUMNS that holds the issuing CA's generation. */
#define CERT_COLUMN_GENERATION 18

/*
 * One certificate on its way through the CA. Issuing is three steps so that
 * the expensive one runs outside the store's lock: build (the profile, no
 * store access), sign (a random serial and the CA's signature, no store
 * access, safe on several threads at once) and record (the person's prior
 * certificates, the serial's uniqueness, the rows, the links, inside the
 * caller's transaction).
 */
struct pending {
	const struct jpki_issue_request *req;
	EVP_PKEY *key;
	char *serial;
	time_t now;
	/* what the record needs of the signed certificate */
	unsigned char *der;
	size_t der_len;
	char *subject;
	time_t not_before, not_after;
	int code; /* 0, or why this one was refused */
	char message[256];
	int signed_; /* the batch's signing threads are done with it */
	/* in: a good certificate of the person's for this key may stand
	 * for the new one (a batch's rerun); out: it did, nothing new was
	 * recorded */
	int resume;
	int again;
	/* out: the Juki card's signing certificate this My Number card's
	 * replaced (revoked as superseded), "" if none */
	char superseded[41];
};

void ca_pending_clear(struct pending *p);
/* Marks p refused with `code` and the thread's error sentence. */
void ca_pending_refuse(struct pending *p, int code);

/* The checks every issue request passes before anything is built. */
int ca_issue_check(const struct jpki_issue_request *req) JPKI_MUST_CHECK;
/* Build and sign p, outside any transaction; clears p on failure. */
int ca_issue_make(struct jpki_ca *ca, struct pending *p) JPKI_MUST_CHECK;
/*
 * Records a signed certificate inside the caller's transaction, with links
 * to the person's other certificates. `renewed` names the certificate it
 * replaces by renewal. A refusal (the person already holds a valid one)
 * sets *refused and writes nothing; any other failure leaves the
 * transaction to be rolled back.
 */
int ca_issue_record(struct jpki_cert_info **out, int *refused,
		    struct jpki_ca *ca, struct pending *p,
		    const char *renewed) JPKI_MUST_CHECK;
/* The certificate of a type a person holds, as ca_issue_record finds it:
 * the valid one if there is one, else the newest; status -1: none. */
struct issue_prior {
	char serial[41];
	int status;
	enum jpki_card_kind card;
	time_t not_after;
};

/*
 * A batch group's recording (issue_group.c): ca_issue_group_open reads,
 * inside the group's transaction and after ca_generations_current, what
 * ca_issue_record would read of each of items[0..n) (all signed; n at
 * most JPKI_ISSUE_GROUP) in three queries; ca_issue_record_in then takes
 * its answers from the group and queues the rows it writes, which
 * ca_issue_group_flush writes (before the commit, and before any statement
 * of the per-certificate way). The caller frees the group after the
 * transaction, whatever its end.
 */
struct issue_group;
int ca_issue_group_open(struct issue_group **out, struct jpki_ca *ca,
			const struct pending *items, size_t n) JPKI_MUST_CHECK;
void ca_issue_group_free(struct issue_group *g);
int ca_issue_group_flush(struct issue_group *g) JPKI_MUST_CHECK;
/* 1 and both[] set when the group knows the person; 0 otherwise. */
int ca_issue_group_prior(struct issue_prior both[2], struct issue_group *g,
			 const char *person);
/* 1 when the serial is known free: not in the store at the group's start,
 * not recorded by it since. */
int ca_issue_group_serial_free(struct issue_group *g, const char *serial);
/* 1 when the partition `scope` is known to exist. */
int ca_issue_group_scope_known(struct issue_group *g, const char *scope);
void ca_issue_group_scope_made(struct issue_group *g, const char *scope);
/* Queue a certificate's row (p borrowed until the flush) or a link. */
int ca_issue_group_cert(struct issue_group *g, const struct pending *p,
			int gen, const char *birth,
			const char *expiry) JPKI_MUST_CHECK;
int ca_issue_group_link(struct issue_group *g, int kind, const char *from,
			const char *to, time_t at) JPKI_MUST_CHECK;
/* p was recorded: the person's newest of its type, its serial taken. */
int ca_issue_group_recorded(struct issue_group *g,
			    const struct pending *p) JPKI_MUST_CHECK;
/* ca_issue_record within a group (NULL: ca_issue_record itself). */
int ca_issue_record_in(struct jpki_cert_info **out, int *refused,
		       struct jpki_ca *ca, struct pending *p,
		       const char *renewed,
		       struct issue_group *g) JPKI_MUST_CHECK;
/* A renewal's new certificate, inside the renewal's transaction. */
int ca_issue_renewal(struct jpki_cert_info **out, struct jpki_ca *ca,
		     const struct jpki_issue_request *req, EVP_PKEY *key,
		     const char *renewed) JPKI_MUST_CHECK;

/* snprintf of a possibly NULL string (as empty). */
void ca_copy_text(char *dst, size_t size, const char *src);
/* Serials are stored as BN_bn2hex writes them: upper case, no leading
 * zeros; this makes what a person typed, in any case, into that. */
void ca_serial_canon(char out[41], const char *in);
/* 0 for a serial of 1 to 40 hexadecimal digits; INVALID, naming it,
 * otherwise. */
int ca_serial_check(const char *serial) JPKI_MUST_CHECK;
/* Reads one certificate's row (CERT_COLUMNS); NOT_FOUND with a clear
 * message if absent. Caller frees *out. */
int ca_load_row(struct jpki_rows **out, struct jpki_ca *ca,
		const char *serial) JPKI_MUST_CHECK;
/* Row i of CERT_COLUMNS as a cert info the caller frees. */
int ca_info_from_row(struct jpki_cert_info **out, const struct jpki_rows *rows,
		     size_t i) JPKI_MUST_CHECK;
/*
 * Moves a certificate (the row read by ca_load_row) to a new status inside
 * the caller's transaction and regenerates the CRLs that list it.
 */
int ca_status_set_row(struct jpki_ca *ca, const struct jpki_rows *row,
		      enum jpki_cert_status status,
		      enum jpki_reason reason) JPKI_MUST_CHECK;

#endif
