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
