/*
 * client: the resident's software (利用者クライアントソフト) over any reader —
 * the certificates on the card and their status, the PINs' tries left and
 * PIN change, signing with the card's key (CMS SignedData, optionally inside
 * EnvelopedData for the receiving agency), and log-in with the
 * authentication certificate. It speaks only the APDUs of SPEC section 5, so
 * a real My Number card in a real reader works as the virtual one does.
 */
#ifndef JPKI_CLIENT_H
#define JPKI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cms.h>
#include <openssl/x509.h>

#include "jpki/base.h"
#include "jpki/card.h"
#include "jpki/profile.h"
#include "jpki/reader.h"

/* ---- the card ------------------------------------------------------------ */

/*
 * Selects the JPKI AP and tells the card kind: a card without the
 * authentication PIN file is a Juki card. JPKI_ERR_NOT_FOUND with a
 * sentence for a card that is not a JPKI card.
 */
int jpki_client_open_card(enum jpki_card_kind *kind,
			  struct jpki_reader *rd) JPKI_MUST_CHECK;

/*
 * The tries left of a PIN without spending one (VERIFY without data):
 * *tries 0 when the PIN is locked, -1 when the card has no such PIN.
 */
int jpki_client_pin_tries(int *tries, struct jpki_reader *rd,
			  enum jpki_card_pin pin) JPKI_MUST_CHECK;

/*
 * VERIFY of a PIN (upper-cased first, as the real client does). Wrong:
 * JPKI_ERR_POLICY, "wrong PIN: n tries left"; locked (or locked by this
 * try): JPKI_ERR_STATE, "... locked: only the municipality window can
 * unlock it"; *tries (may be NULL) gets the tries left.
 */
int jpki_client_pin_verify(struct jpki_reader *rd, enum jpki_card_pin pin,
			   const char *value, int *tries) JPKI_MUST_CHECK;

/*
 * Changes a PIN knowing the old one. The new PIN is upper-cased and checked
 * against the rules of the card kind before anything is sent
 * (JPKI_ERR_INVALID); then VERIFY of the old and CHANGE REFERENCE DATA.
 */
int jpki_client_pin_change(struct jpki_reader *rd, enum jpki_card_kind kind,
			   enum jpki_card_pin pin, const char *old_pin,
			   const char *new_pin) JPKI_MUST_CHECK;

/* Upper-cases a PIN in place (ASCII letters only). */
void jpki_client_pin_upcase(char *pin);

/*
 * Reads a certificate from the card: JPKI_EF_AUTH_CERT, JPKI_EF_SIGN_CERT
 * (after its PIN), JPKI_EF_AUTH_CA, JPKI_EF_SIGN_CA. Caller frees *out.
 */
int jpki_client_read_cert(X509 **out, struct jpki_reader *rd,
			  uint16_t fid) JPKI_MUST_CHECK;

/*
 * A key whose private operation is the card's COMPUTE SIGNATURE: the host
 * hands the card a DigestInfo, the card pads and signs. `cert` gives the
 * public half. The reader is borrowed and must outlive the key; the PIN must
 * have been verified before a signature is asked for. Caller frees *out with
 * EVP_PKEY_free().
 */
int jpki_client_card_key(EVP_PKEY **out, struct jpki_reader *rd,
			 enum jpki_card_pin which, X509 *cert) JPKI_MUST_CHECK;

/* ---- certificates for a person ------------------------------------------ */

enum jpki_client_status {
	JPKI_CLIENT_UNCHECKED = 0, /* the CA's OCSP could not be reached */
	JPKI_CLIENT_VALID,
	JPKI_CLIENT_REVOKED,
	JPKI_CLIENT_EXPIRED,
	JPKI_CLIENT_NOT_YET_VALID,
	JPKI_CLIENT_UNKNOWN, /* the CA does not know it */
};

struct jpki_client_status_info {
	enum jpki_client_status status;
	time_t revoked_at;
	int reason;       /* CRL reason code when revoked */
	char detail[512]; /* why unchecked, for the person */
};

/*
 * The certificate's status: expiry and validity from the clock, then the
 * CA's OCSP (the responder named in the certificate, a nonce, the answer
 * verified against `issuer`). An unreachable responder is no error:
 * JPKI_CLIENT_UNCHECKED with the reason in detail.
 */
int jpki_client_cert_status(struct jpki_client_status_info *out, X509 *cert,
			    X509 *issuer) JPKI_MUST_CHECK;

/* The day in Japan of a certificate's time (notBefore, notAfter) as
 * YYYY-MM-DD into buf; "?" when the time cannot be read. */
void jpki_client_day(char buf[11], const ASN1_TIME *t);

/* "valid", "revoked on 2026-11-23 because ...", "expired on ...": one line
 * for a person. */
void jpki_client_status_text(char *buf, size_t size,
			     const struct jpki_client_status_info *st,
			     X509 *cert);

/* The service's words for a CRL reason code ("the card was lost, stolen or
 * broken", ...). */
const char *jpki_client_reason_text(int reason);

/* ---- a certificate file (jpki cert show FILE) ---------------------------- */

/* The largest certificate file read: a PEM of JPKI_MAX_CERT bytes of DER
 * with room for text around it. */
#define JPKI_CLIENT_MAX_CERT_FILE (4 * JPKI_MAX_CERT)

/*
 * One certificate from a file's bytes, PEM (the first CERTIFICATE block)
 * or DER (the whole input, nothing after it). JPKI_ERR_PARSE with a
 * sentence saying what is wrong, e.g. that the certificate is cut short
 * (its DER header claims more bytes than there are, or the PEM block has no
 * END line); JPKI_ERR_TOO_LARGE over JPKI_CLIENT_MAX_CERT_FILE. Caller frees
 * *out.
 */
int jpki_client_cert_parse(X509 **out, const uint8_t *buf,
			   size_t len) JPKI_MUST_CHECK;

/* What a person checking a certificate (a CA's, to trust it) wants to see.
 * Names are one line, UTF-8 ("C=JP, O=JPKI, OU=..."); "" when absent. */
struct jpki_client_cert_summary {
	char subject[512];
	char issuer[512];
	char alt_name[512]; /* subjectAltName, directory names and URIs */
	char crl_dp[512];   /* CRL distribution points, the same way */
	char serial[80];    /* upper-case hex */
	char not_before[11], not_after[11]; /* the day in Japan, YYYY-MM-DD */
	/* "RSA-2048", "EC P-256" ... */
	char key[32];
	/* subjectKeyIdentifier, AA:BB:...; "" when absent */
	char key_id[64];
	char authority_key_id[64];
	char key_usage[128]; /* "keyCertSign, cRLSign" */
	int is_ca;           /* basicConstraints cA */
	long path_len;       /* -1: no limit */
	int self_signed;     /* issuer = subject and its own key verifies it */
	/* JPKI_CERT_SIGN / _AUTH by jpki_profile_cert_type(), or 0 */
	int type;
	/* against today in Japan (jpki_clock_now()): days from today to the
	 * last valid day, negative once expired; not yet valid before
	 * not_before */
	long days_left;
	int expired, not_yet_valid;
};

/* Fills *out from cert. JPKI_ERR_PARSE if an extension it reads
 * (basicConstraints, key identifiers, key usage, names) is malformed. */
int jpki_client_cert_summarize(struct jpki_client_cert_summary *out,
			       X509 *cert) JPKI_MUST_CHECK;

/* ---- signing ------------------------------------------------------------- */

/*
 * CMS SignedData (RFC 5652) over `data`: signed attributes built here,
 * SHA-256, the signature made by `key` (the card's), the signer's
 * certificate and `extra` certificates (its CA) included. `detached` leaves
 * the content out. Caller frees *out.
 */
int jpki_client_cms_sign(CMS_ContentInfo **out, BIO *data, X509 *signer,
			 EVP_PKEY *key, STACK_OF(X509) * extra,
			 int detached) JPKI_MUST_CHECK;

/*
 * Detached CMS SignedData over a document the caller hashed (the browser
 * bridge: the page hashes, the host signs): signed attributes contentType
 * data, messageDigest = `digest` (SHA-256, 32 bytes), signingTime by the
 * service's clock; the card signs only their DER. Signer and `extra` (its
 * CA) are included. JPKI_ERR_INVALID for a digest that is not 32 bytes.
 * Caller frees *out.
 */
int jpki_client_cms_sign_digest(CMS_ContentInfo **out,
				const unsigned char *digest, size_t digest_len,
				X509 *signer, EVP_PKEY *key,
				STACK_OF(X509) * extra) JPKI_MUST_CHECK;

/*
 * CMS EnvelopedData for the receiving agency: `signed` (its DER) encrypted
 * with AES-256-CBC under a key wrapped for `recipient`. Caller frees *out.
 */
int jpki_client_cms_envelope(CMS_ContentInfo **out, CMS_ContentInfo *signed_,
			     X509 *recipient) JPKI_MUST_CHECK;

/*
 * The CMS of a PAdES B-B signature over `data` (the bytes a PDF signature's
 * byte range covers): detached, SHA-256, signed attributes content-type,
 * message-digest and ESS signing-certificate-v2 and no signing-time
 * (ETSI EN 319 142-1), the signer's certificate and `extra` included. DER
 * in *out, which the caller frees with OPENSSL_free().
 */
int jpki_client_pades_sign(uint8_t **out, size_t *out_len,
			   const uint8_t *data, size_t len, X509 *signer,
			   EVP_PKEY *key, STACK_OF(X509) * extra) JPKI_MUST_CHECK;

/*
 * The OCSP response (DER) about `cert` from the responder it names, its
 * signature checked against `issuer`, for a PDF's DSS (PAdES B-LT). Caller
 * frees *out with OPENSSL_free(). JPKI_ERR_IO when the responder cannot be
 * reached, JPKI_ERR_POLICY when it says other than good.
 */
int jpki_client_ocsp_fetch(uint8_t **out, size_t *out_len, X509 *cert,
			   X509 *issuer) JPKI_MUST_CHECK;

/* ---- log-in (docs/LOGIN.md) ---------------------------------------------- */

struct jpki_client_login_result {
	int accepted;
	int http_status;
	char account[128]; /* the relying party's stable id for the person */
	char serial[64];   /* of the certificate it saw */
	char message[512]; /* its reason when refused */
};

/*
 * Logs in at the relying party whose log-in base is `url`: fetches a
 * challenge, verifies the authentication PIN, has the card sign the
 * challenge bound to the origin of `url` (jpki_verify_origin(), the
 * relying party's own rule), sends the answer. 0 when the
 * exchange happened (out->accepted tells the verdict); an error when it
 * could not (unreachable, wrong PIN, locked card, ...).
 */
int jpki_client_login(struct jpki_client_login_result *out,
		      struct jpki_reader *rd, const char *url,
		      const char *pin) JPKI_MUST_CHECK;

/*
 * The card's part of a log-in, for a program that posts the answer itself
 * (the browser bridge's host, for the page's origin): verifies the authentication PIN, has the card sign `challenge`
 * bound to `origin`, and gives the JSON answer of POST .../response in
 * *out (caller frees). Errors as jpki_client_login's.
 */
int jpki_client_login_answer(char **out, struct jpki_reader *rd,
			     const char *origin, const char *challenge,
			     const char *pin) JPKI_MUST_CHECK;

#endif
