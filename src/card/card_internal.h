/* What the card module's files share: the card's state and session. */
#ifndef JPKI_CARD_INTERNAL_H
#define JPKI_CARD_INTERNAL_H

#include "jpki/card.h"

/* Data files, in the order of jpki_card_info.file_len. */
enum card_file {
	FILE_AUTH_CERT = 0,
	FILE_SIGN_CERT,
	FILE_AUTH_CA,
	FILE_SIGN_CA,
	FILE_TOKEN_INFO,
	FILE_COUNT
};

#define TOKEN_INFO_LEN 160

struct card_pin {
	uint8_t present; /* the card kind has this PIN */
	uint8_t set;     /* a value has been set at issue */
	uint8_t tries;   /* tries left */
	uint8_t max;
	uint8_t salt[16];
	uint8_t hash[32]; /* SHA-256(salt || PIN) */
};

struct card_file_data {
	uint16_t fid;
	uint16_t len;
	uint8_t data[JPKI_CARD_MAX_FILE];
};

/* What the current selection points at. */
enum card_ef {
	EF_NONE = 0,
	EF_DATA,  /* one of files[] (index in cur_file) */
	EF_PIN,   /* pins[cur_pin] */
	EF_KEY,   /* keys[cur_pin] */
};

struct jpki_card {
	/* persisted */
	enum jpki_card_kind kind;
	uint8_t serial[8];
	EVP_PKEY *issuer; /* public key of the issuing window */
	struct card_pin pins[2];
	EVP_PKEY *keys[2]; /* private keys: never leave the card */
	struct card_file_data files[FILE_COUNT];

	/* the file behind it; NULL for a parsed-only card */
	char *path;
	int lock_fd;

	/* session: cleared by a reset */
	int ap_selected;
	enum card_ef ef;
	int cur_file;
	int cur_pin;
	int verified[2];
	int issuer_ok;
	int challenge_valid;
	uint8_t challenge[8];
	uint8_t pending[512]; /* the rest of a response, for GET RESPONSE */
	size_t pending_len;
	size_t pending_off;
};

/* Writes the whole state to its file atomically (no-op without a path). */
int card_save(struct jpki_card *card) JPKI_MUST_CHECK;
/* Sets a PIN's value (salted hash) and fills its tries. */
int card_pin_set(struct card_pin *pin, const uint8_t *value,
		 size_t len) JPKI_MUST_CHECK;
/* Compares a candidate with a PIN's value in constant time. */
int card_pin_matches(const struct card_pin *pin, const uint8_t *value,
		     size_t len);
/* The byte string EXTERNAL AUTHENTICATE's signature covers. */
void card_issuer_message(uint8_t out[32], const uint8_t serial[8],
			 const uint8_t challenge[8]);

#endif
