/*
 * card: the JPKI card application (JPKI AP) as an APDU processor over a
 * persisted card state: what a My Number card or a Juki card holds and how it
 * answers, at the APDU level, as SPEC section 5 describes it. See
 * docs/CARD.md for the command set, including the issuing commands that only
 * the issuing window can use.
 *
 * The state lives in one file. Every change (a spent PIN try, a new PIN, new
 * keys, a written file) is written to it atomically and fsync'd before the
 * card answers, so killing the card at any moment never gives a PIN attacker
 * a try back and never leaves a half-written file.
 */
#ifndef JPKI_CARD_H
#define JPKI_CARD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "jpki/base.h"
#include "jpki/profile.h"

struct jpki_card;

/* The JPKI AP's AID and its elementary files. */
#define JPKI_CARD_AID "\xD3\x92\xF0\x00\x26\x01\x00\x00\x00\x01"
#define JPKI_CARD_AID_LEN 10
#define JPKI_EF_AUTH_CERT 0x000A
#define JPKI_EF_SIGN_CERT 0x0001
#define JPKI_EF_AUTH_CA 0x000B
#define JPKI_EF_SIGN_CA 0x0002
#define JPKI_EF_TOKEN_INFO 0x0006
#define JPKI_EF_AUTH_KEY 0x0017
#define JPKI_EF_AUTH_PIN 0x0018
#define JPKI_EF_SIGN_KEY 0x001A
#define JPKI_EF_SIGN_PIN 0x001B

/* The ATR a virtual card presents (the real card's, as OpenSC knows it). */
#define JPKI_CARD_ATR "\x3B\xE0\x00\xFF\x81\x31\xFE\x45\x14"
#define JPKI_CARD_ATR_LEN 9

/* Room for any response: 256 data bytes and the status word. */
#define JPKI_CARD_MAX_RESPONSE 258
/* Largest file the card holds (a certificate). */
#define JPKI_CARD_MAX_FILE 4096

/* The two PINs (and keys) of the card. */
enum jpki_card_pin {
	JPKI_PIN_AUTH = 0, /* 利用者証明用: 4 digits, 3 tries */
	JPKI_PIN_SIGN = 1, /* 署名用: 6-16 (Juki 4-16) letters/digits, 5 tries */
};

/*
 * Checks a PIN against the card kind's rules (SPEC section 2): My Number
 * signing PIN 6-16 upper-case letters and digits with at least one of each;
 * authentication PIN exactly 4 digits; Juki PIN 4-16 upper-case letters or
 * digits. JPKI_ERR_INVALID with a sentence when it does not conform.
 */
int jpki_card_pin_check(enum jpki_card_kind kind, enum jpki_card_pin pin,
			const char *value, size_t len) JPKI_MUST_CHECK;

/* How many tries a PIN has when full. */
int jpki_card_pin_max_tries(enum jpki_card_kind kind, enum jpki_card_pin pin);

/*
 * Creates a blank card of `kind` in a new file `path` (refused if it exists).
 * `issuer` is the public key of the window that may issue it (an EC P-256
 * key): only a holder of its private key can run the issuing commands.
 */
int jpki_card_create(const char *path, enum jpki_card_kind kind,
		     EVP_PKEY *issuer) JPKI_MUST_CHECK;

/*
 * Opens a card file and locks it for this process (a second opener gets
 * JPKI_ERR_STATE). A file that is not a card, or is damaged, is refused
 * (JPKI_ERR_PARSE) and left as it is. Caller frees with jpki_card_free().
 */
int jpki_card_open(struct jpki_card **out, const char *path) JPKI_MUST_CHECK;
void jpki_card_free(struct jpki_card *card);

/* Reads a card file from bytes (the parser behind jpki_card_open; no lock,
 * no persistence: changes made to the result are not saved). */
int jpki_card_parse(struct jpki_card **out, const uint8_t *data,
		    size_t len) JPKI_MUST_CHECK;

/* Power cycle: forgets the session (selection, verified PINs, issuer
 * authentication, pending response). */
void jpki_card_reset(struct jpki_card *card);

/*
 * Processes one command APDU and writes the response (data and status word)
 * into resp (at least JPKI_CARD_MAX_RESPONSE bytes). Every input gets an
 * ISO 7816-4 status word; the return is 0, or an error when the card state
 * could not be saved (the card then answered 65 81 and changed nothing).
 */
int jpki_card_process(struct jpki_card *card, const uint8_t *apdu,
		      size_t apdu_len, uint8_t *resp,
		      size_t *resp_len) JPKI_MUST_CHECK;

/* What anyone may see of a card: never a key or a PIN. */
struct jpki_card_info {
	enum jpki_card_kind kind;
	char serial[17];
	int tries[2];     /* per enum jpki_card_pin; -1 if the PIN is absent */
	int max_tries[2];
	int pin_set[2];
	int key_present[2];
	size_t file_len[5]; /* auth cert, sign cert, auth CA, sign CA, token */
};

void jpki_card_info(const struct jpki_card *card, struct jpki_card_info *out);

/* The contents of a free-to-read file (not the signing certificate, which is
 * behind its PIN); borrowed, NULL if empty. */
const uint8_t *jpki_card_public_file(const struct jpki_card *card,
				     uint16_t fid, size_t *len);

/*
 * The issuer's side of issuer authentication: the signature over a card's
 * challenge that EXTERNAL AUTHENTICATE expects. `serial` is the card serial
 * (8 bytes; its hex is the token information serial). Caller frees *sig.
 */
int jpki_card_issuer_sign(uint8_t **sig, size_t *sig_len, EVP_PKEY *issuer,
			  const uint8_t serial[8],
			  const uint8_t challenge[8]) JPKI_MUST_CHECK;

#endif
