/*
 * services: the registry's services around the core (SPEC section 6,
 * docs/REGISTRY.md): identity information for agencies and its disclosure
 * to the resident, copies at any municipality, the simplified move, seal
 * registration. Built on the registry and the audit chain; each part owns
 * its tables under a migration track of its own ("services_<part>").
 */
#ifndef JPKI_SERVICES_H
#define JPKI_SERVICES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jpki/audit.h"
#include "jpki/base.h"
#include "jpki/registry.h"
#include "jpki/store.h"

/*
 * Creates the tables of every part (and the registry's and audit's).
 * Idempotent; run once at the start of a process (jpki serve with the
 * window role, each CLI verb): nothing below migrates.
 */
int jpki_services_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/* ---- identity information for agencies (本人確認情報の提供, agency.c) ----
 *
 * An agency is registered by a registry clerk with its name, the lawful
 * purposes it may ask for, and the client certificate of the
 * installation's infrastructure CA it calls with, pinned by the SHA-256
 * of its DER. A look-up names one purpose and either a resident code
 * (the registry's person id) or a name and date of birth, which must
 * match exactly one resident: none, or two and more, answer "not found"
 * (never a list). Every answer, every "not found" and every refusal is
 * recorded (a row of services_lookup and an entry on the audit chain,
 * "services.lookup" / "services.lookup.refused", actor "agency:NAME") in
 * the same transaction as the read.
 */
#define JPKI_SERVICES_PURPOSES_MAX 16
#define JPKI_SERVICES_PURPOSE_LEN 64

struct jpki_services_agency {
	char name[64];
	char fingerprint[65]; /* SHA-256 of the certificate's DER, hex */
	char subject[256];    /* the certificate's subject (RFC 2253) */
	char purposes[JPKI_SERVICES_PURPOSES_MAX][JPKI_SERVICES_PURPOSE_LEN];
	size_t n_purposes;
	time_t added_at;
};

/*
 * Registers an agency (a registry clerk; JPKI_ERR_POLICY for anyone
 * else): name 1-63 of [A-Za-z0-9._-], a PEM or DER certificate, 1 to
 * JPKI_SERVICES_PURPOSES_MAX purposes (1-63 of [a-z0-9._-]).
 * JPKI_ERR_EXISTS for a taken name or certificate. Audited
 * ("services.agency-add").
 */
int jpki_services_agency_add(struct jpki_store *st, const struct jpki_actor *by,
			     const char *name, const unsigned char *cert,
			     size_t cert_len, const char *const *purposes,
			     size_t n_purposes) JPKI_MUST_CHECK;
/* Removes one (a registry clerk; JPKI_ERR_NOT_FOUND); audited. Its past
 * look-ups stay (the resident's disclosure still lists them). */
int jpki_services_agency_remove(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *name) JPKI_MUST_CHECK;
/* Every agency, by name; free(*out). */
int jpki_services_agency_list(struct jpki_services_agency **out, size_t *n,
			      struct jpki_store *st) JPKI_MUST_CHECK;
/* The agency whose certificate has this SHA-256 (hex); JPKI_ERR_NOT_FOUND. */
int jpki_services_agency_find(struct jpki_services_agency *out,
			      struct jpki_store *st,
			      const char *fingerprint) JPKI_MUST_CHECK;
/* The SHA-256 of a DER certificate as lowercase hex. */
int jpki_services_fingerprint(char out[65], const unsigned char *der,
			      size_t len) JPKI_MUST_CHECK;

/* One look-up request: a JSON object, one line of a batch. */
#define JPKI_SERVICES_LINE_MAX 2048
struct jpki_services_query {
	char id[64]; /* the caller's, echoed in the answer ("" none) */
	char purpose[JPKI_SERVICES_PURPOSE_LEN];
	char resident_code[64]; /* "" when by name and birth */
	char name[256];         /* normalized (jpki_profile_name_normalize) */
	struct jpki_date birth;
};
/*
 * Parses {"purpose":P, "resident_code":X} or {"purpose":P, "name":N,
 * "birth":"YYYY-MM-DD"}, with an optional "id": at most
 * JPKI_SERVICES_LINE_MAX bytes, unknown fields refused. JPKI_ERR_PARSE
 * with a sentence naming what is wrong.
 */
int jpki_services_query_parse(struct jpki_services_query *out, const char *text,
			      size_t len) JPKI_MUST_CHECK;

struct jpki_services_answer {
	int found; /* 0: "not found" (none, or more than one, matched) */
	struct jpki_resident resident;
	char change[64]; /* the latest change: "register", "move", ... */
	time_t change_at;
};

/*
 * One look-up by `agency` (found by its certificate): 0 with the answer
 * (found or not), or JPKI_ERR_POLICY for a purpose the agency is not
 * registered for; either way recorded before it returns.
 */
int jpki_services_lookup(struct jpki_services_answer *out,
			 struct jpki_store *st,
			 const struct jpki_services_agency *agency,
			 const struct jpki_services_query *q) JPKI_MUST_CHECK;
/*
 * n look-ups in one transaction (a batch's chunk): rcs[i] and out[i] as
 * jpki_services_lookup's for q[i]; returns 0 once all are durable, or an
 * error when the store failed (then nothing of the chunk was recorded and
 * nothing may be answered).
 */
int jpki_services_lookup_many(struct jpki_services_answer *out, int *rcs,
			      struct jpki_store *st,
			      const struct jpki_services_agency *agency,
			      const struct jpki_services_query *q,
			      size_t n) JPKI_MUST_CHECK;
/*
 * How many look-ups of a batch go into its next transaction (one
 * jpki_services_lookup_many call), after `done` of them: 1024 at first,
 * doubling as the batch goes on up to 8192, so the first answers leave
 * soon and a long batch shares each commit's fsync among more look-ups.
 * A chunk's answers wait for its commit (the durable-before-answer rule).
 */
#define JPKI_SERVICES_CHUNK_MIN 1024
#define JPKI_SERVICES_CHUNK_MAX 8192
size_t jpki_services_batch_chunk(size_t done);
/*
 * The look-ups' records go to a journal first (services_lookup_recent,
 * durable with the answer, no index to update); this moves the journal
 * into services_lookup, the table the disclosure reads, in one
 * transaction: *n (may be NULL) records moved. Idle, one plain read. The
 * window role runs it once a minute and the disclosure before it reads.
 */
int jpki_services_lookup_fold(size_t *n, struct jpki_store *st) JPKI_MUST_CHECK;
/*
 * A call from a certificate that verified against the client CA but is no
 * registered agency's: recorded ("services.lookup.refused", actor
 * "agency:?", the subject and fingerprint as detail).
 */
int jpki_services_lookup_unknown(struct jpki_store *st, const char *subject,
				 const char *fingerprint) JPKI_MUST_CHECK;
/* The answer as the API gives it: {"id","result":"found"|"not found",
 * "resident_code","name","birth","sex","address","status","change":{
 * "kind","date"}}; free() the text. NULL on no memory. */
char *jpki_services_answer_json(const struct jpki_services_query *q,
				const struct jpki_services_answer *a);

/* ---- disclosure to the resident (提供状況の開示, disclosure.c) ---- */
struct jpki_services_disclosed {
	char agency[64];
	char purpose[JPKI_SERVICES_PURPOSE_LEN];
	time_t at;
};
/*
 * The look-ups answered about `person`, oldest first; free(*out). The read
 * is recorded ("services.disclosure", by `who`: "resident:PERSON" for the
 * resident's own log-in, or the window clerk, who must be of the
 * resident's municipality) in the same transaction.
 */
int jpki_services_disclosure(struct jpki_services_disclosed **out, size_t *n,
			     struct jpki_store *st,
			     const struct jpki_actor *who,
			     const char *person) JPKI_MUST_CHECK;
/* The list on paper: an A4 PDF into *pdf (free()). */
int jpki_services_disclosure_pdf(unsigned char **pdf, size_t *len,
				 const struct jpki_resident *r,
				 const struct jpki_services_disclosed *list,
				 size_t n) JPKI_MUST_CHECK;
/* ---- the simplified move (転入転出の特例), src/services/move.c ---- */

enum jpki_move_state {
	JPKI_MOVE_PENDING = 1, /* move-out noticed, waiting for the move-in */
	JPKI_MOVE_DONE = 2,    /* moved in: the registry's move was made */
	JPKI_MOVE_EXPIRED = 3, /* not moved in within 14 days of arrival */
};

enum jpki_move_via {
	JPKI_MOVE_VIA_PORTAL = 1, /* signed with the signing certificate */
	JPKI_MOVE_VIA_POST = 2,   /* by post, recorded by the window */
};

/* Days after the arrival day within which the move-in is taken. */
#define JPKI_MOVE_IN_DAYS 14

/* The move-out notice (転出届): where to, and the day of arrival there
 * (the planned move day; the 14 days of the move-in count from it). */
struct jpki_move_notice {
	const char *to_code; /* the destination's six-digit code */
	const char *to_prefecture;
	const char *to_municipality;
	const char *to_address;
	struct jpki_date arrival;
	enum jpki_move_via via;
};

struct jpki_move {
	int64_t id;
	char person[64];
	char from_code[8];
	char to_code[8];
	char to_prefecture[64];
	char to_municipality[64];
	char to_address[JPKI_FACT_ADDRESS_MAX];
	struct jpki_date arrival;
	enum jpki_move_via via;
	enum jpki_move_state state;
	time_t noticed_at;
	time_t closed_at; /* moved in or expired; 0 while pending */
};

/* "pending", "done", "expired"; "portal", "post". */
const char *jpki_move_state_name(enum jpki_move_state s);
const char *jpki_move_via_name(enum jpki_move_via v);

/* The state of a move as a sentence for the person ("expired: the
 * resident must move in with a regular 転入届 at the window"). */
const char *jpki_move_state_sentence(enum jpki_move_state s);

/*
 * The move-out notice as the portal's signed application text carries it:
 * UTF-8 lines "<label>: <value>" among others, with these three labels
 * (the portal's form builds the text with the same ones). The destination
 * is "CODE 都道府県 市区町村", separated by single spaces.
 */
#define JPKI_MOVE_LABEL_TO "転出先 (destination: code 都道府県 市区町村)"
#define JPKI_MOVE_LABEL_ADDRESS "転出先の住所 (new address)"
#define JPKI_MOVE_LABEL_ARRIVAL "転出予定日 (day of arrival, YYYY-MM-DD)"

/* A parsed notice; its strings are NUL-terminated and fit. */
struct jpki_move_notice_text {
	char to_code[8];
	char to_prefecture[64];
	char to_municipality[64];
	char to_address[JPKI_FACT_ADDRESS_MAX];
	struct jpki_date arrival;
};

/*
 * Reads the notice's three lines out of untrusted bytes `text` (the signed
 * content, at most JPKI_MAX_SIGNED_APP): each label exactly once, each
 * value one line of printable UTF-8 that fits its field, a six-digit code
 * and a valid date. 0, or JPKI_ERR_INVALID naming what is wrong (*out is
 * then zeroed).
 */
int jpki_services_move_notice_parse(struct jpki_move_notice_text *out,
				    const uint8_t *text,
				    size_t len) JPKI_MUST_CHECK;

/*
 * Records a move-out notice for `person`: a pending move, no change of
 * the 4 facts yet. By post: `by` is a window or registry clerk of the
 * resident's municipality. Through the portal: `by` is NULL and
 * `signer_person` the person whose signing certificate signed the notice,
 * as the verify module and the CA found it (the caller checks the
 * signature); it must be `person`. The arrival day may not lie in the
 * past. JPKI_ERR_STATE for a resident not registered or with a move
 * already pending; JPKI_ERR_INVALID for a move to the same municipality
 * (a move within one is an ordinary change at its window). *id gets the
 * move's number. Recorded ("services.move.out") in the same transaction.
 */
int jpki_services_move_out(int64_t *id, struct jpki_store *st,
			   const struct jpki_actor *by,
			   const char *signer_person, const char *person,
			   const struct jpki_move_notice *n) JPKI_MUST_CHECK;

/*
 * The move-in (転入届) at the destination's window with the card: `by` a
 * window clerk of the destination, `card_person` the person the presented
 * card's authentication certificate belongs to (the caller reads the card
 * and asks the CA: jpki_window_card_holder). Within JPKI_MOVE_IN_DAYS of
 * the arrival day the registry's move is made (jpki_registry_move_in_tx:
 * its event revokes the signing certificate) and the move is done, in one
 * transaction. Later, the move is marked expired (committed) and
 * JPKI_ERR_STATE returned with that sentence. JPKI_ERR_NOT_FOUND without a
 * pending move, JPKI_ERR_POLICY for a clerk of another municipality or
 * another person's card. A second move-in of a done move is JPKI_ERR_STATE
 * and emits nothing.
 */
int jpki_services_move_in(struct jpki_move *out, struct jpki_store *st,
			  const struct jpki_actor *by, const char *person,
			  const char *card_person) JPKI_MUST_CHECK;

/*
 * The latest move of `person` (a pending one past its 14 days is marked
 * expired first: "at the next look"), for a clerk of the origin or the
 * destination; the read is recorded ("services.move.read", a refusal as
 * "services.move.read.refused"). JPKI_ERR_NOT_FOUND when there is none.
 */
int jpki_services_move_get(struct jpki_move *out, struct jpki_store *st,
			   const struct jpki_actor *by,
			   const char *person) JPKI_MUST_CHECK;

/* Marks every pending move past its 14 days expired (the window role's
 * periodic work); *n gets how many. Writes nothing when none is due. */
int jpki_services_move_expire(size_t *n, struct jpki_store *st) JPKI_MUST_CHECK;

/* ---- copies at any municipality (広域交付), src/services/copy.c ---- */

/*
 * The copy of the residence certificate of a resident of another
 * municipality, issued by a window clerk of any municipality after a
 * photo ID showing the registered address: *out gets only the record
 * the copy prints (the caller draws it with 本籍 omitted), nothing is
 * listed or searched. Recorded twice in one transaction: in the issuing
 * municipality ("services.copy.issue", by the clerk) and in the
 * resident's ("services.copy.notice", by the registry network's
 * "system" on the resident's municipality), each naming both, so the
 * audit view of either shows it. JPKI_ERR_POLICY for a wrong address
 * (recorded as "services.copy.refused"), JPKI_ERR_STATE for a resident
 * not registered.
 */
int jpki_services_copy_any(struct jpki_resident *out, struct jpki_store *st,
			   const struct jpki_actor *by, const char *person,
			   const char *photo_id_address,
			   const char *number) JPKI_MUST_CHECK;
/* ---- seal registration (印鑑登録) and the kiosk's documents: seal.c,
 * seal_image.c, document.c, seal_paper.c ----------------------------------- */

/* A seal's image: a PNG of at most JPKI_SEAL_IMAGE_MAX bytes whose sides
 * are JPKI_SEAL_SIDE_MIN..JPKI_SEAL_SIDE_MAX pixels (a seal of 8-25 mm
 * scanned at up to 1000 dpi fits). */
#define JPKI_SEAL_IMAGE_MAX (512 * 1024)
#define JPKI_SEAL_SIDE_MIN 32
#define JPKI_SEAL_SIDE_MAX 1024

struct jpki_seal_image {
	unsigned width, height;
};

/*
 * Decodes `png` whole with libpng (signature, every chunk's CRC, the
 * image data) and checks the caps: 0, or JPKI_ERR_INVALID with a sentence
 * ("not a PNG image", "the image is 5000 x 20 pixels; a seal's image is
 * 32 to 1024 pixels a side", ...). Nothing is kept.
 */
int jpki_services_seal_image_check(struct jpki_seal_image *out,
				   const unsigned char *png,
				   size_t len) JPKI_MUST_CHECK;

enum jpki_seal_state {
	JPKI_SEAL_ACTIVE = 1,
	JPKI_SEAL_CANCELLED = 2, /* 廃止 */
};

struct jpki_seal {
	char number[24]; /* 登録番号: municipality code, '-', 6 digits */
	char person[64];
	char municipality_code[8];
	enum jpki_seal_state state;
	unsigned width, height;
	char image_sha256[65]; /* hex */
	time_t registered_at;
	time_t cancelled_at; /* 0 while active */
	char cancel_reason[256];
};

/*
 * Registers the seal of `person` (a window clerk of the resident's
 * municipality), after the identity check of the counter: the resident's
 * photo ID must show the registered address (`photo_id_address`). The
 * image is checked (jpki_services_seal_image_check) and kept with its
 * SHA-256. One active seal per resident: JPKI_ERR_EXISTS while one is,
 * JPKI_ERR_STATE for a resident no longer registered, JPKI_ERR_POLICY for
 * a clerk of another municipality or a failed identity check (on the
 * chain as "services.seal.register.refused"). The seal, its number and
 * the audit entry "services.seal.register" land in one transaction.
 */
int jpki_services_seal_register(struct jpki_seal *out, struct jpki_store *st,
				const struct jpki_actor *by,
				const char *person,
				const char *photo_id_address,
				const unsigned char *png,
				size_t len) JPKI_MUST_CHECK;

/*
 * Cancels (廃止) the active seal of `person` with `reason` (1-255
 * characters, e.g. "lost", "changed"); JPKI_ERR_NOT_FOUND when none is
 * active. Same clerks as registration; "services.seal.cancel" on the chain.
 */
int jpki_services_seal_cancel(struct jpki_seal *out, struct jpki_store *st,
			      const struct jpki_actor *by, const char *person,
			      const char *reason) JPKI_MUST_CHECK;

/*
 * The service's own look-up (the kiosk's resident; not recorded): the
 * person's active seal, else the one cancelled last (its state says so),
 * else JPKI_ERR_NOT_FOUND. `image` (may be NULL) gets the PNG, which the
 * caller frees.
 */
int jpki_services_seal_get(struct jpki_seal *out, unsigned char **image,
			   size_t *image_len, struct jpki_store *st,
			   const char *person) JPKI_MUST_CHECK;

/* The seals of the clerk's own municipality, newest first, recorded
 * ("services.seal.list"); free(*out). */
int jpki_services_seals(struct jpki_seal **out, size_t *n,
			struct jpki_store *st, const struct jpki_actor *by,
			size_t limit) JPKI_MUST_CHECK;

/* ---- documents handed out with a serial a third party checks ---- */

enum jpki_document_kind {
	JPKI_DOC_RESIDENCE_COPY = 1,   /* 住民票の写し */
	JPKI_DOC_SEAL_CERTIFICATE = 2, /* 印鑑登録証明書 */
};

/* A document's serial: "K" and 16 hex digits (64 random bits). */
#define JPKI_DOCUMENT_SERIAL_LEN 17
/* The days after issue in which the municipality's page calls a document
 * valid (what relying parties ask for: issued within 3 months). */
#define JPKI_DOCUMENT_VALID_DAYS 90

/*
 * Records a document handed out by the kiosk: a fresh serial in *serial,
 * the document's row and its audit entry ("kiosk.residence_copy" or
 * "kiosk.seal_certificate", with the log-in certificate's serial) in one
 * transaction. `seal_number` for a seal certificate (its seal must be
 * active: JPKI_ERR_STATE otherwise), NULL for a copy.
 */
int jpki_services_document_issue(char serial[JPKI_DOCUMENT_SERIAL_LEN + 1],
				 struct jpki_store *st,
				 enum jpki_document_kind kind,
				 const struct jpki_resident *res,
				 const char *seal_number,
				 const char *login_serial) JPKI_MUST_CHECK;

/* What the municipality's public page tells about a serial: nothing more. */
struct jpki_document_check {
	enum jpki_document_kind kind;
	time_t issued_at;
	char holder[192];       /* the name masked: first character, then ＊ */
	char municipality[192]; /* "東京都千代田区" */
	int valid;
	const char *why; /* a static sentence when not valid */
};

/*
 * Looks a serial up (`serial` of the wrong form: JPKI_ERR_INVALID; unknown:
 * JPKI_ERR_NOT_FOUND). Valid: issued at most JPKI_DOCUMENT_VALID_DAYS ago
 * and, for a seal certificate, the seal still registered. Not recorded
 * (a public page; the caller rate-limits it).
 */
int jpki_services_document_check(struct jpki_document_check *out,
				 struct jpki_store *st,
				 const char *serial) JPKI_MUST_CHECK;

/* The kind's name, "residence-copy" / "seal-certificate". */
const char *jpki_services_document_kind_name(enum jpki_document_kind kind);

/*
 * The seal registration certificate (印鑑登録証明書) of `res` as the kiosk
 * prints it: the seal's image from `png` (already checked), the
 * registration number, name, birth, sex, address, the date of issue, the
 * document's `serial` and the head of the municipality as issuer. PDF
 * bytes in *pdf; the caller frees them.
 */
int jpki_services_seal_certificate_pdf(unsigned char **pdf, size_t *len,
				       const struct jpki_resident *res,
				       const struct jpki_seal *seal,
				       const unsigned char *png,
				       size_t png_len, const char *serial,
				       time_t issued_at) JPKI_MUST_CHECK;

#endif
