/*
 * verify: the relying party's side of the service.
 *
 * Log-in (docs/LOGIN.md): fresh single-use challenges, and the check of the
 * answer a resident's card signed, in the order the format fixes. The
 * module knows no CA: the caller hands it the trusted authentication CA
 * certificates and two callbacks, one for revocation status and one for
 * the resident's stable account id, so a relying party can answer them
 * from its own CA records, from OCSP or from a CRL.
 */
#ifndef JPKI_VERIFY_H
#define JPKI_VERIFY_H

#include <openssl/x509.h>

#include "jpki/base.h"
#include "jpki/profile.h"

/* What the status callback knows about a certificate. */
enum jpki_verify_status {
	JPKI_VERIFY_GOOD = 0,
	JPKI_VERIFY_REVOKED = 1, /* revoked or on hold; see the reason */
	JPKI_VERIFY_UNKNOWN = 2, /* not a certificate the source knows */
};

/* Room for an account id, with its NUL. */
#define JPKI_VERIFY_ACCOUNT_MAX 129

struct jpki_verify_login_options {
	int version;	    /* JPKI_VERIFY_LOGIN_OPTIONS_VERSION */
	const char *origin; /* this relying party, "http://127.0.0.1:8080" */
	/* The trusted authentication CA certificates (borrowed; the context
	 * takes its own references). Several key generations may share one
	 * DN: a certificate's issuer is picked by its authority key id. */
	X509 *const *anchors;
	size_t n_anchors;
	/*
	 * Both callbacks get the certificate and its serial number in
	 * upper-case hex without leading zeros, as jpki_ca records it.
	 *
	 * Revocation status of `cert` (already chained to an anchor): sets
	 * *status, and *reason to an RFC 5280 CRLReason when revoked
	 * (6, certificateHold, for a suspension). Returns 0, or a negative
	 * jpki_err when the source cannot answer (the check then fails with
	 * that error instead of giving a verdict).
	 */
	int (*status)(void *arg, X509 *cert, const char *serial,
		      enum jpki_verify_status *status, int *reason);
	/*
	 * The account id of the person holding `cert` (good, chained, and
	 * its signature verified) as a NUL-terminated string of at most
	 * out_size - 1 characters, the same across the person's renewals.
	 * `origin` is this relying party's, so ids can be made pairwise.
	 * Returns 0 or a negative jpki_err.
	 */
	int (*account)(void *arg, X509 *cert, const char *serial,
		       const char *origin, char *out, size_t out_size);
	void *arg;		 /* given to both callbacks */
	unsigned lifetime;	 /* seconds a challenge lives; 0 = 120 */
	unsigned max_challenges; /* outstanding at most; 0 = 10000 */
};
#define JPKI_VERIFY_LOGIN_OPTIONS_VERSION 1
/* clang-format off */
#define JPKI_VERIFY_LOGIN_OPTIONS_INIT \
	{.version = JPKI_VERIFY_LOGIN_OPTIONS_VERSION}
/* clang-format on */

/* A log-in verifier: its origin, anchors and outstanding challenges. Safe
 * to share between threads. */
struct jpki_verify_login;

/*
 * Creates a verifier. Refuses (JPKI_ERR_INVALID) options without an
 * origin, an anchor or both callbacks. Caller frees *out with
 * jpki_verify_login_free().
 */
int jpki_verify_login_new(struct jpki_verify_login **out,
			  const struct jpki_verify_login_options *opts)
	JPKI_MUST_CHECK;
void jpki_verify_login_free(struct jpki_verify_login *vl);

/* The origin the verifier binds answers to (borrowed). */
const char *jpki_verify_login_origin(const struct jpki_verify_login *vl);

/* A challenge as GET .../challenge hands it out. */
struct jpki_verify_challenge {
	char challenge[44]; /* 32 random bytes, base64url without padding */
	time_t expires;	    /* by jpki_clock_now() */
};

/*
 * Issues a fresh challenge and remembers it until it is answered, expires,
 * or is pushed out as the oldest when max_challenges are outstanding.
 */
int jpki_verify_login_challenge(struct jpki_verify_challenge *out,
				struct jpki_verify_login *vl) JPKI_MUST_CHECK;

/* The JSON body of GET .../challenge for `ch`. Caller frees *out. */
int jpki_verify_login_challenge_json(
	char **out, const struct jpki_verify_login *vl,
	const struct jpki_verify_challenge *ch) JPKI_MUST_CHECK;

/* Why an answer was refused: one code for each sentence. */
enum jpki_login_refusal {
	JPKI_LOGIN_ACCEPTED = 0,
	/* 400: the answer is malformed (the challenge stays unspent) */
	JPKI_LOGIN_TOO_LARGE,
	JPKI_LOGIN_NOT_JSON,
	JPKI_LOGIN_MISSING_FIELD,
	JPKI_LOGIN_BAD_ENCODING,
	/* 401 */
	JPKI_LOGIN_UNKNOWN_CHALLENGE,
	JPKI_LOGIN_USED_CHALLENGE,
	JPKI_LOGIN_EXPIRED_CHALLENGE,
	JPKI_LOGIN_WRONG_ORIGIN,
	JPKI_LOGIN_BAD_CERTIFICATE,
	JPKI_LOGIN_NOT_AUTH_CERTIFICATE,
	JPKI_LOGIN_UNTRUSTED,
	JPKI_LOGIN_CERT_EXPIRED,
	JPKI_LOGIN_CERT_NOT_YET_VALID,
	JPKI_LOGIN_REVOKED,
	JPKI_LOGIN_STATUS_UNKNOWN,
	JPKI_LOGIN_BAD_SIGNATURE,
};

/* The verdict on one answer. */
struct jpki_verify_login_result {
	int accepted;		     /* 1 or 0 */
	enum jpki_login_refusal why; /* JPKI_LOGIN_ACCEPTED when accepted */
	unsigned http_status;	     /* 200, 400 (malformed) or 401 */
	char serial[41]; /* accepted: upper-case hex, as the CA writes it */
	char account[JPKI_VERIFY_ACCOUNT_MAX]; /* accepted */
	char reason[256]; /* refused: one sentence for a person */
};

/*
 * Checks an answer, the JSON body of POST .../response (untrusted bytes of
 * any shape), in the order of docs/LOGIN.md, and spends the challenge it
 * names. Returns 0 with the verdict in *out, accepted or refused; a
 * negative jpki_err only when the verifier itself fails (memory, a
 * callback), with *out refused and http_status 500.
 */
int jpki_verify_login_check(struct jpki_verify_login_result *out,
			    struct jpki_verify_login *vl,
			    const unsigned char *body,
			    size_t len) JPKI_MUST_CHECK;

/* The JSON body answering POST .../response for a verdict. Caller frees
 * *out. */
int jpki_verify_login_result_json(
	char **out, const struct jpki_verify_login_result *res) JPKI_MUST_CHECK;

/*
 * The origin of an http:// or https:// URL as LOGIN.md computes it:
 * scheme://host[:port], scheme and host in lower case, the port only when
 * it is not the scheme's default; path, query and user info dropped.
 * Caller frees *out.
 */
int jpki_verify_origin(char **out, const char *url) JPKI_MUST_CHECK;

/* ---- signed applications ------------------------------------------------ */

/*
 * The agency's side of an online application (SPEC section 4, step 6): a
 * CMS SignedData made with a card's signing key, attached or detached,
 * possibly inside a CMS EnvelopedData for the agency. The check opens it,
 * verifies the signature, the signing certificate (profile, chain to a
 * trusted signing CA, validity, revocation by OCSP and else the CRL) and
 * matches the 4 facts against the form, collecting every reason to refuse.
 */

/* Why an application was refused: one code for each kind of sentence. */
enum jpki_app_refusal {
	JPKI_APP_MALFORMED = 1,        /* not CMS signed or enveloped data */
	JPKI_APP_TOO_LARGE,            /* over JPKI_MAX_SIGNED_APP */
	JPKI_APP_DECRYPT_FAILED,       /* enveloped: the agency key fails */
	JPKI_APP_NO_CONTENT,           /* detached and no content given */
	JPKI_APP_NO_SIGNER,            /* not one signer with its certificate */
	JPKI_APP_BAD_SIGNATURE,        /* the signature does not verify */
	JPKI_APP_NOT_SIGN_CERTIFICATE, /* e.g. the authentication cert */
	JPKI_APP_UNTRUSTED,            /* no chain to a trusted signing CA */
	JPKI_APP_CERT_EXPIRED,
	JPKI_APP_CERT_NOT_YET_VALID,
	JPKI_APP_REVOKED,        /* revoked, or on hold */
	JPKI_APP_STATUS_UNKNOWN, /* neither OCSP nor the CRL answered */
	JPKI_APP_BAD_FACTS,      /* the certificate's 4 facts cannot be read */
	JPKI_APP_NAME_MISMATCH,
	JPKI_APP_ADDRESS_MISMATCH,
	JPKI_APP_PDF_CHANGED, /* a PDF changed after its signature */
	JPKI_APP_BIRTH_MISMATCH,
	JPKI_APP_SEX_MISMATCH,
	JPKI_APP_FORM_INVALID, /* the form's birth date or sex unreadable */
};

/* A short stable name for a refusal code ("revoked"), for JSON. */
const char *jpki_app_refusal_name(enum jpki_app_refusal why);

/*
 * Signing CRLs fetched from the certificates' distribution points, kept in
 * memory until their nextUpdate, so a relying party does not fetch a
 * municipality's CRL for every application. Safe to share between
 * threads; holds at most one CRL per URL and a bounded number of URLs.
 */
struct jpki_verify_crl_cache;

/* Caller frees *out with jpki_verify_crl_cache_free(). */
int jpki_verify_crl_cache_new(struct jpki_verify_crl_cache **out)
    JPKI_MUST_CHECK;
void jpki_verify_crl_cache_free(struct jpki_verify_crl_cache *cache);
/* How many CRLs the cache holds (tests, statistics). */
size_t jpki_verify_crl_cache_count(struct jpki_verify_crl_cache *cache);

struct jpki_verify_options {
	int version; /* JPKI_VERIFY_OPTIONS_VERSION */
	/* The trusted signing CA certificates (borrowed). Several key
	 * generations may share one DN: the issuer is picked by the
	 * certificate's authority key id. */
	X509 *const *anchors;
	size_t n_anchors;
	/* The signed bytes of a detached signature (borrowed), else NULL. */
	const uint8_t *content;
	size_t content_len;
	/* The agency's decryption key and certificate (borrowed), for
	 * enveloped data; without them enveloped data is refused. */
	EVP_PKEY *agency_key;
	X509 *agency_cert;
	/* What the resident typed in the form (UTF-8), or NULL: matched
	 * against the certificate's name and address by
	 * jpki_verify_facts_match's rules (NFKC, whitespace dropped). */
	const char *form_name;
	const char *form_address;
	/*
	 * Revocation. With `status` set, it alone answers (the same contract
	 * as the log-in callback; `issuer` is the anchor the certificate
	 * chains to). Otherwise OCSP at the certificate's responder, and when
	 * that cannot answer, the CRL of its distribution point (kept in
	 * `crl_cache` if given). `offline` forbids any fetch: without a
	 * callback the status is then unknown and the application refused.
	 */
	int (*status)(void *arg, X509 *cert, X509 *issuer, const char *serial,
		      enum jpki_verify_status *status, int *reason);
	void *status_arg;
	int offline;
	struct jpki_verify_crl_cache *crl_cache; /* borrowed, may be NULL */
	long timeout_ms; /* per HTTP exchange; 0 = 5000 */
	long max_skew;   /* seconds of clock skew allowed; 0 = 300 */
	/* The form's date of birth and sex as typed (UTF-8), or NULL:
	 * read and matched by jpki_verify_facts_match's rules. */
	const char *form_birth;
	const char *form_sex;
	/*
	 * Receipt evidence (docs/RELYING_PARTY.md). `keep_evidence`: the
	 * report keeps the SignedData and what revocation relied on (the
	 * OCSP response's bytes, or the CRL's number and SHA-256). `at`:
	 * check as of that time instead of jpki_clock_now() (0 = now).
	 * `ocsp_response`: an OCSP response kept at receipt (borrowed)
	 * answers revocation alone, verified as of `at`, nothing fetched.
	 * `ocsp_url`: ask this responder instead of the certificate's.
	 */
	int keep_evidence;
	time_t at;
	const uint8_t *ocsp_response;
	size_t ocsp_response_len;
	const char *ocsp_url;
	/*
	 * With `ocsp_ask` set (and no `status`), OCSP alone answers, through
	 * it instead of HTTP (a relying party beside its CA asks the CA
	 * in-process): it gets the DER request and sets *resp (malloc'd,
	 * the caller's to free) to the DER response; 0 or a negative
	 * jpki_err. The answer is checked as one from the network (nonce,
	 * signature, freshness) and kept with keep_evidence.
	 */
	int (*ocsp_ask)(void *arg, const uint8_t *req, size_t req_len,
			uint8_t **resp, size_t *resp_len);
	void *ocsp_ask_arg;
};
#define JPKI_VERIFY_OPTIONS_VERSION 1
/* clang-format off */
#define JPKI_VERIFY_OPTIONS_INIT {.version = JPKI_VERIFY_OPTIONS_VERSION}
/* clang-format on */

/* What one revocation check found (jpki_verify_revocation). */
struct jpki_verify_revocation {
	enum jpki_verify_status status;
	int reason;         /* CRLReason when revoked */
	time_t revoked_at;  /* when revoked and known */
	const char *source; /* "ocsp", "crl" or "callback" (static) */
	char detail[512];   /* why no source answered */
	time_t this_update; /* OCSP thisUpdate, or the CRL's */
	time_t produced_at; /* OCSP producedAt */
	/* with opts->keep_evidence: the OCSP response relied on (owned,
	 * freed by jpki_verify_revocation_clear), or the CRL's number
	 * (decimal) and the SHA-256 of its DER (hex) */
	uint8_t *ocsp_der;
	size_t ocsp_der_len;
	char crl_number[41];
	char crl_sha256[65];
};

/*
 * The revocation status of `cert` issued by `issuer`, as the application
 * check asks it (opts: the callback, offline, CRL cache, timeout, skew; the
 * rest is ignored): 0 when a source answered, 1 with out->detail when none
 * could, or a negative error from the callback. The resident's client
 * asks it too, with default options.
 */
int jpki_verify_revocation(struct jpki_verify_revocation *out,
			   const struct jpki_verify_options *opts, X509 *cert,
			   X509 *issuer) JPKI_MUST_CHECK;
/* RFC 5280's name of a CRLReason ("affiliationChanged"; static). */
const char *jpki_verify_crl_reason_name(int reason);

/* Frees what a revocation answer owns (the kept OCSP bytes). */
void jpki_verify_revocation_clear(struct jpki_verify_revocation *rv);

#define JPKI_VERIFY_MAX_REASONS 8

/* One reason to refuse. */
struct jpki_verify_reason {
	enum jpki_app_refusal why;
	char text[256]; /* one sentence for a person */
};

/* The verdict on one application. */
struct jpki_verify_report {
	int accepted;  /* 1 only when n_reasons is 0 */
	int enveloped; /* it came encrypted for the agency */
	size_t n_reasons;
	struct jpki_verify_reason reasons[JPKI_VERIFY_MAX_REASONS];
	char serial[41]; /* the signer's, upper-case hex; "" if none */
	int have_facts;
	struct jpki_facts facts;    /* when have_facts */
	char revocation_source[16]; /* "ocsp", "crl", "callback" or "" */
	int revocation_reason;      /* CRLReason when revoked, else -1 */
	time_t revoked_at;          /* when revoked and known, else 0 */
	int have_signing_time;
	time_t signing_time; /* the signer's signingTime attribute */
	uint8_t *content;    /* the signed bytes, owned; NULL if
			      * the signature did not verify */
	size_t content_len;
	time_t checked_at; /* the time the check was made as of */
	/* with opts->keep_evidence (owned): the SignedData as DER (opened
	 * from the envelope), the OCSP response relied on, or the CRL's
	 * number and SHA-256; and when the status was known good */
	uint8_t *signed_data;
	size_t signed_data_len;
	uint8_t *ocsp_response;
	size_t ocsp_response_len;
	char crl_number[41];
	char crl_sha256[65];
	time_t status_time; /* OCSP thisUpdate or the CRL's, 0 if none */
	time_t ocsp_produced_at;
};

/*
 * Checks one application, `data` of `len` untrusted bytes (DER or PEM).
 * Returns 0 with the verdict in *out, accepted or refused with every
 * reason that applies; a negative jpki_err only when the check itself
 * cannot run (bad options, memory, a failing status callback), with *out
 * refused. The caller releases *out with jpki_verify_report_clear() in
 * every case.
 */
int jpki_verify_application(struct jpki_verify_report *out,
			    const struct jpki_verify_options *opts,
			    const uint8_t *data, size_t len) JPKI_MUST_CHECK;

/* Frees what the report owns (the content) and zeroes it. */
void jpki_verify_report_clear(struct jpki_verify_report *rep);

/* The report as a JSON object (without the content bytes, with their
 * length). Caller frees *out. */
int jpki_verify_report_json(char **out, const struct jpki_verify_report *rep)
    JPKI_MUST_CHECK;

/* ---- signed PDFs (PAdES, docs/RELYING_PARTY.md "PDFs") ------------------ */

/* What the PDF around the signature showed. */
struct jpki_verify_pdf_info {
	size_t n_signatures; /* signature fields with a value */
	char subfilter[64];
	char when[64];	  /* the signature dictionary's /M, "" if none */
	size_t signed_end; /* the signed revision's length */
	size_t file_len;
	int later;	    /* bytes follow the signed revision */
	int later_dss_only; /* and they only add a DSS */
	char changed[256];  /* else what they changed */
	size_t n_dss_ocsps; /* OCSP responses in the DSS */
	int used_dss;	    /* revocation was answered from the DSS */
};

/*
 * Checks a signed PDF (`len` untrusted bytes): its last signature is found
 * through qpdf (jpki_pdf_signature_read), the byte range must cover the
 * file but for the /Contents hole, and the CMS in /Contents is checked
 * over the ranges exactly as jpki_verify_application checks a detached
 * application (opts as there; its content is ignored), with the same
 * report. A PDF changed after the signed revision other than by adding a
 * DSS is refused (JPKI_APP_PDF_CHANGED). With opts->offline and no status
 * callback, the OCSP responses of the PDF's DSS (PAdES B-LT) answer for
 * revocation: signed for the certificate's CA, about it, produced no
 * earlier than the signature's /M less the allowed skew. *info (may be
 * NULL) gets what the PDF showed. Returns as jpki_verify_application;
 * release *out with jpki_verify_report_clear().
 */
int jpki_verify_pdf(struct jpki_verify_report *out,
		    struct jpki_verify_pdf_info *info,
		    const struct jpki_verify_options *opts, const uint8_t *pdf,
		    size_t len) JPKI_MUST_CHECK;

/* ---- the 4 facts against a form (docs/RELYING_PARTY.md, "Matching") ---- */

/*
 * 1 if the form's text and the certificate's say the same once both are
 * in Unicode NFKC (full-width ASCII and half-width katakana folded, ICU's
 * normaliser) with all whitespace dropped; 0 if not, or if either is not
 * valid UTF-8 or longer than 4096 bytes.
 */
int jpki_verify_text_match(const char *form, const char *cert);

/*
 * A date of birth as a form gives it, in NFKC without whitespace:
 * YYYY-MM-DD, YYYY/MM/DD, YYYY年M月D日, an era (令和 平成 昭和 大正 明治)
 * with its year (元 for 1) 年M月D日, or the certificate's EYYYYMMDD.
 * JPKI_ERR_INVALID with the reason for anything else, a day that does not
 * exist, or an era year outside its era (平成31年5月1日); never a guess.
 */
int jpki_verify_parse_birth(struct jpki_date *out,
			    const char *text) JPKI_MUST_CHECK;

/*
 * A sex as a form gives it: male / female / unknown (any case), 男 男性 /
 * 女 女性 / 不明, or the certificate's code 1 / 2 / 3. JPKI_ERR_INVALID with
 * the reason for anything else.
 */
int jpki_verify_parse_sex(enum jpki_sex *out, const char *text) JPKI_MUST_CHECK;

/* "male", "female", "unknown" (static). */
const char *jpki_verify_sex_word(enum jpki_sex sex);

/* What a person typed into a form's four fields (UTF-8, borrowed); a
 * field the form does not ask is NULL and is not matched. */
struct jpki_verify_form {
	const char *name;
	const char *birth;
	const char *sex;
	const char *address;
};

#define JPKI_VERIFY_MAX_MISMATCHES 4

/* Each fact that differs, in the order name, birth, sex, address. */
struct jpki_verify_mismatches {
	size_t n;
	struct jpki_verify_reason m[JPKI_VERIFY_MAX_MISMATCHES];
};

/*
 * Matches a form against a certificate's facts: one entry per fact that
 * differs, each named with both values ("date of birth differs: form
 * 1980-05-02, certificate 1980-05-01"), or JPKI_APP_FORM_INVALID with the
 * reason when the form's date or sex cannot be read. Returns 0 (n = 0:
 * all asked facts match), or JPKI_ERR_INVALID for NULL arguments. Used by
 * every kind of signed document the agency receives.
 */
int jpki_verify_facts_match(struct jpki_verify_mismatches *out,
			    const struct jpki_verify_form *form,
			    const struct jpki_facts *facts) JPKI_MUST_CHECK;

/* ---- receipt evidence (docs/RELYING_PARTY.md, "Receipt evidence") ------- */

/* A receipt directory read back, every file checked against SHA256SUMS. */
struct jpki_verify_receipt {
	time_t received;    /* the receipt time: the check was made as of it */
	char *name, *birth, *sex, *address; /* the form, NULL if not asked */
	char source[8];     /* "ocsp" or "crl" */
	time_t status_time; /* OCSP thisUpdate or the CRL's */
	char crl_number[41];
	char crl_sha256[65];
	uint8_t *application; /* the SignedData DER */
	size_t application_len;
	uint8_t *document; /* the signed bytes */
	size_t document_len;
	char *report; /* report.json at receipt, NUL-terminated */
	uint8_t *ocsp; /* the OCSP response relied on, NULL for a CRL */
	size_t ocsp_len;
};

/*
 * Keeps an accepted application's evidence in a new directory `dir`:
 * receipt.json (the receipt time, the form, the revocation evidence),
 * application.p7s, document, report.json, ocsp.der (OCSP only) and
 * SHA256SUMS, written under a temporary name, fsync'd and renamed into
 * place. `rep` must be accepted and made with opts.keep_evidence; `form`
 * is what was matched (may be NULL). JPKI_ERR_EXISTS when `dir` exists
 * (never written over); nothing is left behind on failure.
 */
int jpki_verify_receipt_keep(const char *dir,
			     const struct jpki_verify_report *rep,
			     const struct jpki_verify_form *form)
    JPKI_MUST_CHECK;

/*
 * Reads a receipt directory: SHA256SUMS first, then each file checked
 * against it, so a changed or missing file is refused by its name
 * (JPKI_ERR_SIGNATURE "ocsp.der was changed since receipt ..."). Caller
 * frees *out with jpki_verify_receipt_free().
 */
int jpki_verify_receipt_load(struct jpki_verify_receipt **out,
			     const char *dir) JPKI_MUST_CHECK;
void jpki_verify_receipt_free(struct jpki_verify_receipt *rc);

/* The two parsers of a receipt's outside bytes (fuzzed): receipt.json
 * into a receipt without its files, and SHA256SUMS into the sums of the
 * five files (receipt.json, application.p7s, document, report.json,
 * ocsp.der; "" for one not listed). JPKI_ERR_PARSE with the reason. */
int jpki_verify_receipt_parse(struct jpki_verify_receipt **out,
			      const char *json, size_t len) JPKI_MUST_CHECK;
int jpki_verify_receipt_sums(char sums[][65], const char *text,
			     size_t len) JPKI_MUST_CHECK;

/*
 * Checks a kept application again, offline, as of its receipt time:
 * signature, chain to opts' anchors and validity at that time, the kept
 * OCSP response verified against the CA as of that time (thisUpdate not
 * after it and not out of date; producedAt is only recorded), and the kept form's facts. A CRL receipt is
 * answered by its kept record. Only opts' anchors, skew and timeouts are
 * used. Returns as jpki_verify_application.
 */
int jpki_verify_as_of_receipt(struct jpki_verify_report *out,
			      const struct jpki_verify_options *opts,
			      const struct jpki_verify_receipt *rc)
    JPKI_MUST_CHECK;

/*
 * The linking look-up as a registered verifier makes it (docs/
 * RELYING_PARTY.md, "Linking look-ups"): GET {url}/link/{issuer_key_id}/
 * {serial} over HTTP(S) with the verifier's client certificate, then
 * jpki_verify_link_check() of the answer against `ca`.
 */
struct jpki_verify_link_options {
	int version;               /* JPKI_VERIFY_LINK_OPTIONS_VERSION */
	const char *url;           /* the service's base URL */
	const char *serial;        /* the serial received, hex */
	const char *issuer_key_id; /* its issuer's key identifier, hex */
	X509 *ca;                  /* the CA certificate (borrowed) */
	const char *client_cert;   /* PEM file; NULL: none */
	const char *client_key;    /* its key, PEM file */
	const char *tls_ca;        /* PEM file trusted for the server's
				    * certificate; NULL: the system's */
	long timeout_ms;           /* 0 = 10000 */
};
#define JPKI_VERIFY_LINK_OPTIONS_VERSION 1
#define JPKI_VERIFY_LINK_OPTIONS_INIT {.version = JPKI_VERIFY_LINK_OPTIONS_VERSION}

/*
 * Fetches and checks a linking answer: 0 with the signed JSON text in
 * *body and the CMS as received in *der (both the caller's, free()), or
 * a negative jpki_err with a sentence (unreachable, HTTP status and the
 * server's sentence, or what the check refused).
 */
int jpki_verify_link_lookup(char **body, unsigned char **der, size_t *len,
			    const struct jpki_verify_link_options *o)
	JPKI_MUST_CHECK;

/*
 * Checks `len` untrusted bytes (at most JPKI_MAX_LINK_ANSWER) as a linking
 * answer: CMS SignedData whose signer's certificate is issued by `ca` and
 * is an OCSP signer (extended key usage OCSPSigning), the signature over
 * the content verified, and the content a JSON object answering `serial`
 * of `issuer_key_id` (either may be NULL: not compared) with "result"
 * "current" or "none". 0 with the content in *body (caller frees), else
 * JPKI_ERR_PARSE, JPKI_ERR_SIGNATURE or JPKI_ERR_POLICY with a sentence.
 */
int jpki_verify_link_check(char **body, const unsigned char *der, size_t len,
			   X509 *ca, const char *serial,
			   const char *issuer_key_id) JPKI_MUST_CHECK;

#endif
