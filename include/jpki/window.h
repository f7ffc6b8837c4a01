/*
 * window: the municipality window's procedures (市区町村窓口), SPEC section
 * 3: applications with their identity check (photo ID, inquiry letter,
 * proxy), eligibility, reception hours, the Juki-card cut-off, the daily
 * capacity, fees, issue at the counter onto a card (key pairs made inside
 * the card as its issuer, certificates from the CA, the resident's PINs,
 * the paper copy of the certificate), renewal, PIN unlock and
 * re-initialisation, loss and card-fault reports. Every procedure takes the
 * acting clerk and lands in the audit chain with its change.
 */
#ifndef JPKI_WINDOW_H
#define JPKI_WINDOW_H

#include <openssl/evp.h>

#include "jpki/audit.h"
#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/reader.h"
#include "jpki/registry.h"

/*
 * The window's card-issuer key (EC P-256, PEM at `path`, mode 0600): loaded,
 * or made when `create` is set and the file does not exist. Cards made with
 * `jpki card new` trust its public half. Caller frees *out.
 */
int jpki_window_issuer_key(EVP_PKEY **out, const char *path,
			   int create) JPKI_MUST_CHECK;

/* Authenticates to the card in `rd` as its issuer (GET CHALLENGE, EXTERNAL
 * AUTHENTICATE); the AP is selected first. */
int jpki_window_card_authenticate(struct jpki_reader *rd,
				  EVP_PKEY *issuer) JPKI_MUST_CHECK;

struct jpki_window_card_request {
	int version;                    /* JPKI_WINDOW_CARD_REQUEST_VERSION */
	struct jpki_issue_request cert; /* person, facts, card expiry; the
					   type is set per certificate */
	const char *auth_pin;           /* NULL: no authentication cert */
	const char *sign_pin;           /* NULL: no signing cert */
};
#define JPKI_WINDOW_CARD_REQUEST_VERSION 1

/* The serials of what was issued ("" for a certificate declined). */
struct jpki_window_card_result {
	char auth_serial[41];
	char sign_serial[41];
};

/*
 * Issues the requested certificates onto the card in `rd`. The PINs are
 * checked against the card kind's rules before anything is done. If a step
 * fails after a certificate was issued, that certificate is revoked
 * (unspecified: destroyed before delivery) so none stays valid off-card.
 */
int jpki_window_issue_card(struct jpki_window_card_result *out,
			   struct jpki_reader *rd, struct jpki_ca *ca,
			   EVP_PKEY *issuer,
			   const struct jpki_window_card_request *req)
	JPKI_MUST_CHECK;

/* The notices every form, inquiry letter and certificate copy carries
 * (SPEC 3): the pages of /window show them as the PDFs print them. */
#define JPKI_WINDOW_NOTICE_FALSE_APPLICATION                                  \
	"虚偽の申請は処罰されます。(A false application is punished.)"
#define JPKI_WINDOW_NOTICE_CARD                                               \
	"カードを他人に貸したり、暗証番号を他人に教えたりしないでください。" \
	"(Do not lend the card to anyone or tell anyone its PINs.)"

/* ---- procedures (SPEC section 3) ------------------------------------------ */

/* Creates the window's tables (and the registry's and audit's). */
int jpki_window_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

enum jpki_identity_path {
	JPKI_ID_PHOTO = 1,    /* in person with photo ID: same day */
	JPKI_ID_NO_PHOTO = 2, /* in person without: inquiry letter first */
	JPKI_ID_PROXY = 3,    /* 代理人: letter answered, never same day */
};

/* What an application is for. */
enum jpki_application_kind {
	JPKI_APP_KIND_ISSUE = 1,     /* certificates: jpki_window_issue */
	JPKI_APP_KIND_RENEWAL = 2,   /* a renewal without a photo ID at the
					counter: jpki_window_renew */
	JPKI_APP_KIND_JUKI_CARD = 3, /* the Juki card itself (fee) */
};

/* Wrong inquiry-letter codes after which an application is locked until a
 * new letter is printed and mailed (docs/SECURITY.md, limits). */
#define JPKI_WINDOW_LETTER_TRIES 3

enum jpki_application_state {
	JPKI_APP_WAITING_LETTER = 1, /* 照会書兼回答書 mailed; not yet back */
	JPKI_APP_READY = 2,          /* may be issued at the counter */
	JPKI_APP_ISSUED = 3,
	JPKI_APP_CANCELLED = 4,
};

/* What the resident brings and asks for. */
struct jpki_application_request {
	int version; /* JPKI_APPLICATION_REQUEST_VERSION */
	const char *person;
	enum jpki_card_kind card;
	int want_sign, want_auth;
	enum jpki_identity_path path;
	/* JPKI_ID_PHOTO, and the proxy's own ID for JPKI_ID_PROXY */
	const char *photo_id_kind;    /* "driving-licence", "passport", ... */
	const char *photo_id_address; /* as printed; must be the registered
					 address for the resident's own ID */
	/* JPKI_ID_PROXY */
	int power_of_attorney_sealed;  /* signed, sealed with 実印 */
	int seal_certificate;          /* 印鑑登録証明書 of the resident */
	const char *proxy_name;
	/* under 15 or under guardianship asking for a signing certificate */
	const char *special_circumstance; /* NULL: none recorded */
	/* the photo ID's own expiry as printed ("YYYY-MM-DD"); NULL: none
	 * printed. An expired photo ID does not count. */
	const char *photo_id_expiry;
	enum jpki_application_kind kind; /* 0: JPKI_APP_KIND_ISSUE */
};
#define JPKI_APPLICATION_REQUEST_VERSION 1
#define JPKI_APPLICATION_REQUEST_INIT                                         \
	{.version = JPKI_APPLICATION_REQUEST_VERSION, .card = JPKI_CARD_MYNUMBER}

struct jpki_application {
	int64_t id;
	char person[64];
	char municipality_code[8];
	enum jpki_card_kind card;
	int want_sign, want_auth;
	enum jpki_identity_path path;
	enum jpki_application_state state;
	/* the code printed on the inquiry letter is in no struct: it is
	 * made when the letter is printed, only its hash is kept, and the
	 * letter's PDF is the one place it is shown */
	time_t applied_at;
	time_t letter_mailed_at;
	time_t ready_at;
	char sign_serial[41], auth_serial[41]; /* once issued */
	enum jpki_application_kind kind;
	int wrong_codes; /* wrong letter codes since the letter was printed */
};

/*
 * Takes an application at the counter. Refusals, each JPKI_ERR_POLICY with
 * its own sentence, nothing recorded: outside reception hours; resident not
 * registered (or not of the clerk's municipality); a signing certificate for
 * a person under 15 or under guardianship without a special circumstance; a
 * photo ID whose address is not the registered one; a Juki card after
 * 2015-12-22; a proxy without the sealed power of attorney, the seal
 * certificate or the proxy's photo ID; a photo ID of a kind the
 * municipality does not accept (jpki_window_photo_ids), or expired. Photo
 * ID: READY at once. Otherwise
 * WAITING_LETTER, and the inquiry letter is mailed to the registered
 * address (its PDF: jpki_window_letter_pdf). *out gets the application.
 */
int jpki_window_apply(struct jpki_application *out, struct jpki_store *st,
		      const struct jpki_actor *by,
		      const struct jpki_application_request *req) JPKI_MUST_CHECK;

/*
 * The resident (or the proxy) comes back with the letter filled in: the code
 * must match, and for the no-photo path another document
 * (`other_document`, e.g. "health-insurance-card") is needed. Never on the
 * day the letter was mailed. The application becomes READY. Each wrong
 * code is recorded ("window.letter.wrong_code"); the
 * JPKI_WINDOW_LETTER_TRIES-th locks the application
 * ("window.letter.locked"): every code is then refused until a new letter
 * is printed (jpki_window_letter_pdf), which makes a new code and unlocks.
 */
int jpki_window_letter_returned(struct jpki_application *out,
				struct jpki_store *st,
				const struct jpki_actor *by, int64_t app_id,
				const char *letter_code,
				const char *other_document) JPKI_MUST_CHECK;

/*
 * An application as an operator reads it: only a window clerk of its
 * municipality (JPKI_ERR_POLICY for anyone else: registry clerks, the CA
 * officer, the auditor, clerks of other municipalities). Recorded on the
 * chain ("window.application.read"; a refusal as
 * "window.application.read.refused").
 */
int jpki_window_application(struct jpki_application *out, struct jpki_store *st,
			    const struct jpki_actor *by,
			    int64_t app_id) JPKI_MUST_CHECK;

/* The applications of the clerk's own municipality (`municipality_code`
 * NULL, or the clerk's own; another is refused), newest first, recorded
 * ("window.application.list"); free(*out). */
int jpki_window_applications(struct jpki_application **out, size_t *n,
			     struct jpki_store *st, const struct jpki_actor *by,
			     const char *municipality_code,
			     size_t limit) JPKI_MUST_CHECK;

/* ---- offices (本庁, 支所・出張所) ------------------------------------------- */

/*
 * An office of a municipality's window. The main office's code is the
 * municipality's six digits (and is there even if nobody recorded it:
 * default hours, one counter, no capacity limit); a branch's code is the
 * municipality's, '-' and 1-8 letters or digits ("131016-kanda"). Each
 * office has its own reception hours, counters and daily capacity, and may
 * or may not issue certificates (the main office always does). PIN resets,
 * renewals' and issues' identity checks, loss and card-fault reports are
 * taken at any office of the resident's municipality.
 */
struct jpki_office {
	char code[16];
	char municipality_code[8];
	char name[128];
	int main;      /* 本庁 */
	int may_issue; /* certificates issued (and renewed) here */
	int counters;
	int open_minute, close_minute; /* minutes after midnight, Japan */
	int per_day;                   /* 0: no limit */
	int used_today;                /* certificates issued today */
};

/*
 * Adds an office (a window clerk of its municipality; "window.office.add"
 * on the chain). A branch issues only when `may_issue`; naming the main
 * office (code = municipality code) sets its name. JPKI_ERR_EXISTS for a
 * branch code taken, JPKI_ERR_INVALID for a code of the wrong form.
 */
int jpki_window_office_add(struct jpki_store *st, const struct jpki_actor *by,
			   const char *code, const char *municipality_code,
			   const char *name, int may_issue) JPKI_MUST_CHECK;

/* One office with its hours and capacity (the service's own look-up, not
 * recorded: offices are no resident's record). JPKI_ERR_NOT_FOUND. */
int jpki_window_office_get(struct jpki_office *out, struct jpki_store *st,
			   const char *code) JPKI_MUST_CHECK;

/* The offices of a municipality, main office first; free(*out). */
int jpki_window_offices(struct jpki_office **out, size_t *n,
			struct jpki_store *st,
			const char *municipality_code) JPKI_MUST_CHECK;

/* The number of counters of an office (1-1000). */
int jpki_window_set_counters(struct jpki_store *st, const struct jpki_actor *by,
			     const char *office_code,
			     int counters) JPKI_MUST_CHECK;

/* The daily capacity of an office (certificates a day; 0: none set, no
 * limit). `municipality_code` names an office: a municipality's code is
 * its main office. */
int jpki_window_set_capacity(struct jpki_store *st, const struct jpki_actor *by,
			     const char *municipality_code,
			     int per_day) JPKI_MUST_CHECK;

/* Reception hours of an office (a municipality's code: its main office),
 * minutes after midnight Japan time (default 9:00-17:00 on working days). */
int jpki_window_set_hours(struct jpki_store *st, const struct jpki_actor *by,
			  const char *municipality_code, int open_minute,
			  int close_minute) JPKI_MUST_CHECK;

/* The result of issuing at the counter. */
struct jpki_window_issue_result {
	char sign_serial[41], auth_serial[41];
	int fee_yen; /* recorded in the fee ledger */
};

/*
 * Issues a READY application onto the card in `rd`: the day's capacity of
 * the municipality taken atomically (JPKI_ERR_POLICY "today's capacity ...
 * is used up; the application waits" when exhausted, even under concurrent
 * clerks), the PINs checked against the card kind's rules, the fee
 * recorded (500 yen for a Juki card), jpki_window_issue_card(), the
 * application ISSUED. On any failure after certificates were made, they are
 * revoked and the capacity given back.
 */
int jpki_window_issue(struct jpki_window_issue_result *out,
		      struct jpki_store *st, struct jpki_ca *ca,
		      struct jpki_reader *rd, EVP_PKEY *issuer,
		      const struct jpki_actor *by, int64_t app_id,
		      const char *auth_pin,
		      const char *sign_pin) JPKI_MUST_CHECK;

/* What the resident brings to a renewal: the same identity check as a new
 * issue (SPEC 3). */
struct jpki_renewal_request {
	int version; /* JPKI_RENEWAL_REQUEST_VERSION */
	const char *person;
	enum jpki_cert_type type;
	enum jpki_identity_path path;
	/* JPKI_ID_PHOTO: the resident's own photo ID, as for apply */
	const char *photo_id_kind;
	const char *photo_id_address;
	const char *photo_id_expiry; /* "YYYY-MM-DD"; NULL: none printed */
	/* JPKI_ID_NO_PHOTO, JPKI_ID_PROXY: the READY renewal application
	 * (JPKI_APP_KIND_RENEWAL, its inquiry letter answered) */
	int64_t application;
};
#define JPKI_RENEWAL_REQUEST_VERSION 1
#define JPKI_RENEWAL_REQUEST_INIT                                             \
	{.version = JPKI_RENEWAL_REQUEST_VERSION, .type = JPKI_CERT_SIGN,      \
	 .path = JPKI_ID_PHOTO}

/*
 * Renewal at the counter: a new key pair on the card, the CA's
 * jpki_ca_renew (the old certificate revoked as superseded), the new
 * certificate written to the card, its validity capped by the card's own
 * expiry as the window recorded it. The fee as for an issue.
 * Refused (JPKI_ERR_POLICY, nothing changed): before the day 3 calendar
 * months before the certificate's last valid day (same day number, or the
 * month's last day; last day 2031-05-31 -> from 2031-02-28); a photo ID
 * refused as at apply; a renewal without a photo ID (letter, proxy) that
 * names no READY renewal application of the person's: never same-day.
 * An expired certificate is refused (JPKI_ERR_STATE) with the way out,
 * a new issue. The renewal application, if any, becomes ISSUED.
 */
int jpki_window_renew(struct jpki_window_issue_result *out,
		      struct jpki_store *st, struct jpki_ca *ca,
		      struct jpki_reader *rd, EVP_PKEY *issuer,
		      const struct jpki_actor *by,
		      const struct jpki_renewal_request *req) JPKI_MUST_CHECK;

/* ---- photo ID kinds -------------------------------------------------------- */

/* A kind of photo ID: a stable ASCII word (a-z, 0-9, '-') and its label. */
struct jpki_photo_id_kind {
	char word[33];
	char label[97];
	int national; /* one of the kinds every municipality accepts */
};

/*
 * The photo IDs a municipality accepts, newest last: the national ones
 * (driving-licence 運転免許証, passport 旅券, mynumber-card 個人番号カード,
 * juki-card-photo 写真付き住民基本台帳カード) and the ones it added.
 * free(*out).
 */
int jpki_window_photo_ids(struct jpki_photo_id_kind **out, size_t *n,
			  struct jpki_store *st,
			  const char *municipality_code) JPKI_MUST_CHECK;
/* Adds (a window clerk of that municipality; recorded
 * "window.photo_id.add") or removes ("window.photo_id.remove") a kind of
 * the municipality's own; the national kinds cannot be removed. */
int jpki_window_photo_id_add(struct jpki_store *st, const struct jpki_actor *by,
			     const char *municipality_code, const char *word,
			     const char *label) JPKI_MUST_CHECK;
int jpki_window_photo_id_remove(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *municipality_code,
				const char *word) JPKI_MUST_CHECK;

/*
 * A locked PIN unlocked, or a forgotten one re-initialised to `new_pin`,
 * after a photo-ID check at the counter (`photo_id_address` must be the
 * registered address), on the person's own card: the card's authentication
 * certificate must be one `ca` issued to them (a card without one, such as
 * a Juki card, is left to the clerk's look at it, as at renewal).
 */
int jpki_window_pin_reset(struct jpki_store *st, struct jpki_ca *ca,
			  struct jpki_reader *rd, EVP_PKEY *issuer,
			  const struct jpki_actor *by,
			  const char *person, const char *photo_id_address,
			  enum jpki_cert_type which,
			  const char *new_pin) JPKI_MUST_CHECK;

/*
 * Whose card is in the reader: *person (64 bytes) gets the person the
 * card's authentication certificate was issued to, when `ca` issued it and
 * it is good (the simplified move-in's check of the card). JPKI_ERR_POLICY
 * for a card without one, or with one that is not good.
 */
int jpki_window_card_holder(char person[64], struct jpki_reader *rd,
			    struct jpki_ca *ca) JPKI_MUST_CHECK;

enum jpki_loss_kind {
	JPKI_LOSS_LOST = 1,       /* 紛失届: lost or stolen */
	JPKI_LOSS_CARD_FAULT = 2, /* the card broke */
};

/* Revokes every good certificate of the person at once (keyCompromise);
 * *count gets how many. */
int jpki_window_report(size_t *count, struct jpki_store *st,
		       struct jpki_ca *ca, const struct jpki_actor *by,
		       const char *person,
		       enum jpki_loss_kind kind) JPKI_MUST_CHECK;

/* ---- the cards the window handed over ------------------------------------ */

enum jpki_window_card_state {
	JPKI_WINDOW_CARD_IN_USE = 1,
	JPKI_WINDOW_CARD_RETURNED = 2, /* a Juki card given back when its
					  holder switched to My Number */
};

/* A card as the window recorded it when it first issued onto it. */
struct jpki_window_card {
	char serial[17]; /* the card serial (token information) */
	enum jpki_card_kind kind;
	char person[64];
	char municipality_code[8];
	struct jpki_date made_on;
	struct jpki_date expires_on; /* My Number card: SPEC 3; Juki: none */
	enum jpki_window_card_state state;
	time_t returned_at;
};

/* The card in `rd` as recorded: JPKI_ERR_NOT_FOUND for a card the window
 * never issued onto. */
int jpki_window_card_record(struct jpki_window_card *out, struct jpki_store *st,
			    struct jpki_reader *rd) JPKI_MUST_CHECK;

/*
 * The Juki card itself (SPEC 3, seed 000): a READY application of kind
 * JPKI_APP_KIND_JUKI_CARD (the identity check as for any application)
 * hands over the blank Juki card in `rd`: the card recorded as the
 * person's, the municipality's fee (jpki_window_set_juki_card_fee; 500 yen
 * unless set) in the fee ledger ("juki-card"), the application ISSUED,
 * "window.juki_card" on the chain. jpki_window_issue refuses a Juki card
 * the window did not hand over this way. Refused after 2015-12-22.
 */
int jpki_window_juki_card(struct jpki_window_card *out, int *fee_yen,
			  struct jpki_store *st, const struct jpki_actor *by,
			  int64_t app_id,
			  struct jpki_reader *rd) JPKI_MUST_CHECK;
int jpki_window_set_juki_card_fee(struct jpki_store *st,
				  const struct jpki_actor *by,
				  const char *municipality_code,
				  int yen) JPKI_MUST_CHECK;

/* One line of the fee ledger. */
struct jpki_fee {
	int64_t id;
	char person[64];
	char municipality_code[8];
	char what[32]; /* "issue", "renewal", "juki-card" */
	int yen;
	time_t at;
	char operator_id[64];
};
int jpki_window_fees(struct jpki_fee **out, size_t *n, struct jpki_store *st,
		     const char *municipality_code) JPKI_MUST_CHECK;
/* The fee ledger of the clerk's municipality as a window clerk reads it:
 * refused for anyone else, recorded ("window.fees.read", a refusal as
 * "window.fees.read.refused"); free(*out). */
int jpki_window_fees_read(struct jpki_fee **out, size_t *n,
			  struct jpki_store *st,
			  const struct jpki_actor *by) JPKI_MUST_CHECK;

/*
 * The paper a person takes home, as PDF bytes (caller frees *pdf), each
 * printed by a window clerk of the resident's municipality only and
 * recorded on the chain: the inquiry-and-answer letter (照会書兼回答書) of
 * an application waiting for it ("window.letter.print"), with a fresh
 * 照会番号 made for this print (the earlier one stops working; the letter
 * counts as mailed now; the PDF is the only place the code ever appears),
 * and the copy of an issued certificate (電子証明書の写し,
 * "window.copy.print") with its serial, validity, the 4 facts for a
 * signing certificate and the CA's fingerprint.
 */
int jpki_window_letter_pdf(unsigned char **pdf, size_t *len,
			   struct jpki_store *st, const struct jpki_actor *by,
			   int64_t app_id) JPKI_MUST_CHECK;
int jpki_window_cert_copy_pdf(unsigned char **pdf, size_t *len,
			      struct jpki_store *st, struct jpki_ca *ca,
			      const struct jpki_actor *by,
			      const char *serial) JPKI_MUST_CHECK;

/*
 * A copy of the residence certificate (住民票の写し) of `res`, as the
 * convenience-store kiosk prints it: name, birth in era form, sex, the
 * full address, the day the person became a resident, the date of issue,
 * `number` (the copy's verification number) and the head of the
 * municipality as issuer. PDF bytes in *pdf; the caller frees them.
 */
int jpki_window_residence_pdf(unsigned char **pdf, size_t *len,
			      const struct jpki_resident *res,
			      const char *number,
			      time_t issued_at) JPKI_MUST_CHECK;

/* The same copy issued at another municipality's window (広域交付,
 * jpki_services_copy_any): no 本籍 row at all, and `issued_by` (the
 * issuing municipality's name) named as the window that issued it. */
int jpki_window_residence_copy_any_pdf(unsigned char **pdf, size_t *len,
				       const struct jpki_resident *res,
				       const char *number, time_t issued_at,
				       const char *issued_by) JPKI_MUST_CHECK;

#endif
