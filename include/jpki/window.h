/*
 * window: the municipality window's procedures (市区町村窓口). Today: putting
 * certificates on a card at the counter — generate the key pairs inside the
 * card, have the CA certify them, write the certificates and set the
 * resident's PINs — as the card's issuer. The identity checks, eligibility,
 * fees and the rest of SPEC section 3 are planned here.
 */
#ifndef JPKI_WINDOW_H
#define JPKI_WINDOW_H

#include <openssl/evp.h>

#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/reader.h"

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

#endif
