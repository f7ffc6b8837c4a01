/*
 * profile: the JPKI certificate profiles (SPEC section 5) and the validity
 * rules of both card kinds (SPEC sections 2 and 3).
 *
 * This module decides what goes into a certificate; it signs nothing. The CA
 * takes the unsigned X509 it builds, sets the serial and signs it.
 */
#ifndef JPKI_PROFILE_H
#define JPKI_PROFILE_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jpki/base.h"

enum jpki_card_kind {
	JPKI_CARD_MYNUMBER = 1, /* 個人番号カード */
	JPKI_CARD_JUKI = 2,     /* 住民基本台帳カード */
};

enum jpki_cert_type {
	JPKI_CERT_SIGN = 1, /* 署名用電子証明書 */
	JPKI_CERT_AUTH = 2, /* 利用者証明用電子証明書 */
};

/* Values of the sex otherName (.3). */
enum jpki_sex {
	JPKI_SEX_MALE = 1,
	JPKI_SEX_FEMALE = 2,
	JPKI_SEX_UNKNOWN = 3,
};

/* Eras of the date-of-birth otherName (.4). */
enum jpki_era {
	JPKI_ERA_UNKNOWN = 0,
	JPKI_ERA_MEIJI = 1,
	JPKI_ERA_TAISHO = 2,
	JPKI_ERA_SHOWA = 3,
	JPKI_ERA_HEISEI = 4,
	JPKI_ERA_REIWA = 5,
};

#define JPKI_OID_POLICY_SIGN "1.2.392.200149.8.5.1.1.20"
#define JPKI_OID_POLICY_AUTH "1.2.392.200149.8.5.1.3.30"
#define JPKI_OID_FACTS "1.2.392.200149.8.5.5" /* .1 .. .6 below it */

#define JPKI_FACT_NAME_MAX (JPKI_MAX_NAME_CHARS * 4 + 1)
#define JPKI_FACT_ADDRESS_MAX (JPKI_MAX_ADDRESS_CHARS * 4 + 1)

/*
 * The 4 basic facts (基本4情報) as the signing certificate carries them.
 * Strings are UTF-8. `name` holds family and given name separated by one
 * U+3000 IDEOGRAPHIC SPACE.
 */
struct jpki_facts {
	char name[JPKI_FACT_NAME_MAX];
	char name_subst[JPKI_FACT_NAME_MAX];       /* substitute positions */
	enum jpki_sex sex;
	struct jpki_date birth;
	char address[JPKI_FACT_ADDRESS_MAX];
	char address_subst[JPKI_FACT_ADDRESS_MAX]; /* substitute positions */
};

/*
 * Checks the facts: valid UTF-8, a name of 1..100 characters, an address of
 * 1..200 characters, a known sex, a real date of birth not after today.
 */
int jpki_profile_facts_check(const struct jpki_facts *facts) JPKI_MUST_CHECK;

/*
 * Sets out->name from a name typed by a person: the first run of ASCII or
 * ideographic spaces between family and given name becomes one U+3000.
 */
int jpki_profile_name_normalize(char *out, size_t out_size,
				const char *typed) JPKI_MUST_CHECK;

/* The era a date falls in (JPKI_ERA_UNKNOWN before Meiji). */
enum jpki_era jpki_profile_era(const struct jpki_date *d);
/* The .4 encoding "EYYYYMMDD" into buf (10 bytes with the NUL). */
void jpki_profile_birth_encode(const struct jpki_date *d, char buf[10]);
/* "昭和55年6月1日 (1980-06-01)" for a person; buf of 64 bytes. */
void jpki_profile_birth_format(const struct jpki_date *d, char buf[64]);

/* ---- validity ------------------------------------------------------------ */

/* The last day on which the Juki card may issue or renew (2015-12-22). */
#define JPKI_JUKI_LAST_ISSUE_YEAR 2015
#define JPKI_JUKI_LAST_ISSUE_MONTH 12
#define JPKI_JUKI_LAST_ISSUE_DAY 22

struct jpki_validity_input {
	enum jpki_card_kind card;
	struct jpki_date issue;       /* the day of the procedure, in Japan */
	struct jpki_date birth;       /* My Number card */
	struct jpki_date card_expiry; /* My Number card: the card's own */
};

/*
 * The last day (inclusive) of a certificate issued under `in`:
 *  - My Number card: the 5th birthday after the day of issue, or the card's
 *    expiry if earlier (a 29 February birthday falls on 28 February in other
 *    years);
 *  - Juki card: 3 years counted from the day of issue (発行の日から起算して
 *    3年), as jpki_profile_period_last_day() counts them; refused
 *    (JPKI_ERR_POLICY) after 22 December 2015.
 */
int jpki_profile_validity(struct jpki_date *out_last_day,
			  const struct jpki_validity_input *in) JPKI_MUST_CHECK;

/*
 * The My Number card's own expiry for a card issued on `issue` to a person
 * born on `birth`: the 10th birthday after issue, or the 5th for a person
 * under 20 on the day of issue.
 */
struct jpki_date jpki_profile_card_expiry(const struct jpki_date *issue,
					  const struct jpki_date *birth);

/*
 * The last day of a period of `years` years whose first day is `first`
 * (the day of issue counts as day one; civil code art. 143): the day
 * before the same date `years` later, or, when that year has no such date
 * (29 February), the last day of that month. 2015-12-22 -> 2018-12-21;
 * 2012-02-29 -> 2015-02-28 (no 29 February in 2015: the end of February);
 * 2012-03-01 -> 2015-02-28.
 */
struct jpki_date jpki_profile_period_last_day(const struct jpki_date *first,
					      int years);

/* Completed years of age on `on` of a person born on `birth`. */
int jpki_profile_age(const struct jpki_date *birth, const struct jpki_date *on);

/* ---- certificates ---------------------------------------------------------- */

/* The DN of a CA (same for every key generation); caller frees. */
X509_NAME *jpki_profile_ca_name(enum jpki_cert_type type);

/*
 * A self-signed CA certificate for `key` (already signed, sha256WithRSA),
 * with the extensions of the real JPKI CAs in their order: keyUsage
 * keyCertSign + cRLSign (critical), subjectAltName DirName C=JP,
 * O=公的個人認証サービス, OU=公的個人認証サービス署名用 (利用者証明用),
 * OU=地方公共団体情報システム機構, basicConstraints CA (critical),
 * cRLDistributionPoints DirName (its own DN), subject key identifier; no
 * authority key identifier. Every CA generation is built here.
 */
int jpki_profile_build_ca(X509 **out, enum jpki_cert_type type, EVP_PKEY *key,
			  const unsigned char *serial, size_t serial_len,
			  time_t not_before, time_t not_after) JPKI_MUST_CHECK;

/*
 * An unsigned delegated OCSP-signing certificate (extendedKeyUsage
 * OCSPSigning, id-pkix-ocsp-nocheck) for `key` under `issuer`.
 */
int jpki_profile_build_ocsp_signer(X509 **out, X509 *issuer, EVP_PKEY *key,
				   time_t not_before,
				   time_t not_after) JPKI_MUST_CHECK;

struct jpki_profile_request {
	int version; /* JPKI_PROFILE_REQUEST_VERSION */
	enum jpki_cert_type type;
	const char *cn;                /* opaque subject id */
	const char *prefecture;        /* signing: subject L= (1st) */
	const char *municipality;      /* signing: subject L= (2nd) */
	const char *crl_url;           /* signing: CRL distribution point */
	const char *ocsp_url;          /* authorityInfoAccess OCSP */
	const char *ca_issuers_url;    /* authorityInfoAccess caIssuers, or NULL */
	const struct jpki_facts *facts; /* signing: the six otherNames */
	time_t not_before;
	time_t not_after;
};
#define JPKI_PROFILE_REQUEST_VERSION 1
#define JPKI_PROFILE_REQUEST_INIT {.version = JPKI_PROFILE_REQUEST_VERSION}

/*
 * An unsigned end-entity certificate for `subject_key` under `issuer` with
 * every field of the profile of req->type. The serial is left for the CA.
 */
int jpki_profile_build(X509 **out, const struct jpki_profile_request *req,
		       EVP_PKEY *subject_key, X509 *issuer) JPKI_MUST_CHECK;

/*
 * The pre-encoded path: what every certificate of one CA (one type, one
 * generation) shares, encoded once: the issuer's name, the signature
 * algorithm, keyUsage, certificatePolicies, authorityInfoAccess (the
 * `ocsp_url` and `ca_issuers_url` given here), authorityKeyIdentifier and
 * issuerAltName, and each municipality's cRLDistributionPoints the first
 * time it is asked for. jpki_profile_issue() then encodes only the
 * subject's part and signs. The bytes are those of jpki_profile_build(),
 * the same serial and X509_sign() with SHA-256 (tests/unit/profile
 * compares them). The object is shared by threads; caller frees.
 */
struct jpki_profile_issuer;

int jpki_profile_issuer_new(struct jpki_profile_issuer **out,
			    enum jpki_cert_type type, X509 *issuer,
			    EVP_PKEY *issuer_key, const char *ocsp_url,
			    const char *ca_issuers_url) JPKI_MUST_CHECK;
void jpki_profile_issuer_free(struct jpki_profile_issuer *iss);

/*
 * The signed certificate for req (whose type and URLs must be those `iss`
 * was made with) and `subject_key`, with `serial`: its DER into *out_der
 * (OPENSSL_free) and, when out_subject is not NULL, its subject as
 * X509_NAME_oneline() writes it (OPENSSL_free).
 */
int jpki_profile_issue(unsigned char **out_der, size_t *out_len,
		       char **out_subject, struct jpki_profile_issuer *iss,
		       const struct jpki_profile_request *req,
		       EVP_PKEY *subject_key,
		       const ASN1_INTEGER *serial) JPKI_MUST_CHECK;

/* The SHA-256 fingerprint as colon-separated upper-case hex, as the portal
 * publishes it for a person to compare ("" if it cannot be computed). */
void jpki_profile_fingerprint(char out[96], X509 *cert);

/*
 * The DER DigestInfo (RFC 8017: SEQUENCE { AlgorithmIdentifier of digest
 * `md_nid` with NULL parameters, OCTET STRING digest }) that a PKCS#1 v1.5
 * signature covers, for keys that sign it elsewhere (a card, a token).
 * Returns its length, or -1; caller frees *out with OPENSSL_free().
 */
int jpki_profile_digest_info(unsigned char **out, int md_nid,
			     const unsigned char *m, unsigned int m_len);

/* Which profile a certificate follows, by its policy OID; 0 if neither. */
int jpki_profile_cert_type(X509 *cert);

/* Reads the six otherNames of a signing certificate back into facts. */
int jpki_profile_facts_from_cert(struct jpki_facts *out,
				 X509 *cert) JPKI_MUST_CHECK;

#endif
