/* What the window's files share; not part of the public interface. */
#ifndef JPKI_WINDOW_INTERNAL_H
#define JPKI_WINDOW_INTERNAL_H

#include "jpki/window.h"

/* ---- reads and the inquiry letter (procedures.c) ---------------------------
 */

#define WINDOW_LETTER_CODE_LEN 16

/* An application as the service itself loads it: no actor, not recorded. */
int window_load_app(struct jpki_application *out, struct jpki_store *st,
		    int64_t app_id) JPKI_MUST_CHECK;

/* Records a refused read (`action`, the acting operator, `subject`) and
 * returns r with the refusal's sentence kept as the error. */
int window_read_refused(struct jpki_store *st, const struct jpki_actor *by,
			const char *action, const char *subject, int r);

/*
 * A fresh code for the inquiry letter of a WAITING_LETTER application
 * (a window clerk of its municipality): only its SHA-256 is stored, the
 * earlier code stops working, the letter counts as mailed now, and
 * "window.letter.print" lands on the chain. `code` is the only copy; the
 * caller prints it on the letter and wipes it. *out gets the application.
 */
int window_letter_code(char code[WINDOW_LETTER_CODE_LEN + 1],
		       struct jpki_application *out, struct jpki_store *st,
		       const struct jpki_actor *by,
		       int64_t app_id) JPKI_MUST_CHECK;

/* ---- photo IDs and cards (rules.c) ----------------------------------------
 */

/* JPKI_ERR_POLICY unless `kind` is a photo ID the resident's municipality
 * accepts and `expiry` (YYYY-MM-DD as printed, NULL: none) is not past. */
int window_check_photo_id(struct jpki_store *st,
			  const struct jpki_resident *res, const char *kind,
			  const char *expiry) JPKI_MUST_CHECK;

/* The card serial (16 hex digits) of the card in `rd`. */
int window_card_serial(char out[17], struct jpki_reader *rd) JPKI_MUST_CHECK;

/*
 * The card in `rd` as the window will issue onto it for `res`: its record
 * if the window issued onto it before (refused if it is another resident's,
 * returned, or expired), else a new record (*fresh set, nothing written:
 * window_card_put() records it with the issue) made today, with the My
 * Number card's own expiry of SPEC 3.
 */
int window_card_for(struct jpki_window_card *out, int *fresh,
		    struct jpki_store *st, struct jpki_reader *rd,
		    const struct jpki_resident *res,
		    enum jpki_card_kind kind) JPKI_MUST_CHECK;
/* Inside the caller's transaction. */
int window_card_put(struct jpki_store *st,
		    const struct jpki_window_card *c) JPKI_MUST_CHECK;
/* The person's Juki cards in use marked returned (inside the caller's
 * transaction); *count gets how many. */
int window_card_retire_juki(int64_t *count, struct jpki_store *st,
			    const char *person) JPKI_MUST_CHECK;

/* ---- calendar (holiday.c) -------------------------------------------------
 */

/* 0 Sunday .. 6 Saturday. */
int window_weekday(const struct jpki_date *d);
/* A national holiday, substitute holiday or day between two holidays
 * (1980-2099; the equinoxes are unknown outside). */
int window_is_holiday(const struct jpki_date *d);
/* Not a Saturday, Sunday, holiday, nor 29 December - 3 January. */
int window_is_working_day(const struct jpki_date *d);

/* ---- counter rules (capacity.c) --------------------------------------------
 */

/* JPKI_ERR_POLICY with a sentence unless the office where `by` works (for
 * a resident of `municipality_code`) takes procedures now (its hours, a
 * working day). */
int window_check_hours(struct jpki_store *st, const struct jpki_actor *by,
		       const char *municipality_code) JPKI_MUST_CHECK;

/*
 * Takes `n` certificates of today's capacity of the office where `by`
 * works for a resident of `municipality_code`, with an
 * audit entry, inside the caller's transaction: JPKI_ERR_POLICY when fewer
 * than `n` are left. window_capacity_give_back() returns them after a
 * failed issue (also inside the caller's transaction).
 */
int window_capacity_take(struct jpki_store *st, const struct jpki_actor *by,
			 const char *municipality_code, int n,
			 const char *subject) JPKI_MUST_CHECK;
/* The same refusal as window_capacity_take, read only: checked before the
 * card is touched, so a full day is said first; the take stays the
 * decision. */
int window_capacity_check(struct jpki_store *st, const struct jpki_actor *by,
			  const char *municipality_code,
			  int n) JPKI_MUST_CHECK;
int window_capacity_give_back(struct jpki_store *st,
			      const struct jpki_actor *by,
			      const char *municipality_code, int n,
			      const char *subject) JPKI_MUST_CHECK;

/* ---- offices (office.c) --------------------------------------------------
 */

/* The office track of migrations, run after the window's own. */
int window_office_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/*
 * The office where `by` works for a resident of `municipality_code`: the
 * clerk's own office when it is of that municipality, otherwise (no office
 * recorded, the CA officer) the municipality's main office.
 */
int window_office_of(struct jpki_office *out, struct jpki_store *st,
		     const struct jpki_actor *by,
		     const char *municipality_code) JPKI_MUST_CHECK;

/* "NAME (CODE)" of an office, for sentences. */
void window_office_describe(char *out, size_t cap,
			    const struct jpki_office *o);

/* The office `code` for a change of its settings by `by` (a window clerk
 * of its municipality); the main office's row recorded if only implied. */
int window_office_settable(struct jpki_office *out, struct jpki_store *st,
			   const struct jpki_actor *by,
			   const char *office_code) JPKI_MUST_CHECK;

/*
 * 0 when the office where `by` works may issue certificates; otherwise
 * JPKI_ERR_POLICY "certificates are issued at the main office only ..."
 * and the refusal recorded as `action` on `subject`.
 */
int window_check_issue(struct jpki_store *st, const struct jpki_actor *by,
		       const char *municipality_code, const char *action,
		       const char *subject) JPKI_MUST_CHECK;

/* Adds a fee row; must run inside the caller's transaction. */
int window_fee_record(struct jpki_store *st, const struct jpki_actor *by,
		      const char *person, const char *municipality_code,
		      const char *what, int yen) JPKI_MUST_CHECK;

/* The next id of a table (inside the caller's transaction). */
int window_next_id(int64_t *out, struct jpki_store *st,
		   const char *table) JPKI_MUST_CHECK;

/* ---- the card, as its issuer (card_issue.c) -------------------------------
 */

/*
 * Renews one side of the card: a new key pair made in the card, the CA's
 * jpki_ca_renew() of `old_serial` for it, the new certificate (and the CA
 * certificate) written to the card. The issuer is authenticated first. If
 * writing fails after the CA issued, the new certificate is revoked.
 */
int window_card_renew(char new_serial[41], struct jpki_reader *rd,
		      struct jpki_ca *ca, EVP_PKEY *issuer,
		      const char *old_serial, enum jpki_cert_type type,
		      const struct jpki_date *card_expiry) JPKI_MUST_CHECK;

/* The kind of the card in `rd` (a Juki card has no authentication PIN). */
int window_card_kind(enum jpki_card_kind *out,
		     struct jpki_reader *rd) JPKI_MUST_CHECK;

/*
 * As the issuer: unblocks the PIN of `which` (new_pin NULL: the same PIN,
 * full counter) or sets it to `new_pin` with a full counter.
 */
int window_card_pin_reset(struct jpki_reader *rd, EVP_PKEY *issuer,
			  enum jpki_card_pin which,
			  const char *new_pin) JPKI_MUST_CHECK;

#endif
