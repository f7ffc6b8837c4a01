/*
 * The JPKI AP's command set, one APDU at a time (ISO 7816-4 short APDUs).
 *
 *   00 A4 04 0C  SELECT the AP by AID          00 A4 02 0C  SELECT an EF by FID
 *   00 B0        READ BINARY                    00 20 00 80  VERIFY (PIN EF)
 *   00 24 01 80  CHANGE REFERENCE DATA          80 2A 00 80  COMPUTE SIGNATURE
 *   00 84 00 00  GET CHALLENGE (8 bytes)        00 82 00 00  EXTERNAL AUTHENTICATE
 *   00 C0        GET RESPONSE
 * issuing window only, after EXTERNAL AUTHENTICATE:
 *   00 47 00 00  GENERATE KEY PAIR (key EF)     00 D6        UPDATE BINARY
 *   00 2C 02 80  RESET RETRY COUNTER + new PIN  00 2C 03 80  RESET RETRY COUNTER
 *
 * No allocation for the common commands; OpenSSL allocates for key
 * generation and signing.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "card/card_internal.h"

#define SW_OK 0x9000
#define SW_MEMORY_FAILURE 0x6581
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982     /* security status not satisfied */
#define SW_AUTH_BLOCKED 0x6983
#define SW_PIN_BLOCKED 0x6984  /* reference data not usable */
#define SW_CONDITIONS 0x6985   /* conditions of use not satisfied */
#define SW_NO_EF 0x6986        /* command not allowed (no current EF) */
#define SW_WRONG_DATA 0x6A80
#define SW_NOT_FOUND 0x6A82
#define SW_NO_SPACE 0x6A84
#define SW_WRONG_P1P2 0x6A86
#define SW_REF_NOT_FOUND 0x6A88
#define SW_WRONG_OFFSET 0x6B00
#define SW_INS 0x6D00
#define SW_CLA 0x6E00
#define SW_AUTH_FAILED 0x6300

/* A parsed command APDU. */
struct cmd {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t le;  /* 0: none expected */
	int has_le;
};

struct rsp {
	uint8_t *buf;
	size_t len;
};

static void sw(struct rsp *r, unsigned word)
{
	r->buf[r->len++] = (uint8_t)(word >> 8);
	r->buf[r->len++] = (uint8_t)word;
}

static void data(struct rsp *r, const uint8_t *p, size_t n)
{
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

/* Cases 1-4 of ISO 7816-3 short APDUs; anything else is a wrong length. */
static int parse(struct cmd *c, const uint8_t *apdu, size_t len)
{
	struct jpki_cursor cur;
	const uint8_t *hdr;
	uint8_t b;

	memset(c, 0, sizeof(*c));
	jpki_cursor_init(&cur, apdu, len);
	if (jpki_cursor_bytes(&cur, &hdr, 4) != 0)
		return -1;
	c->cla = hdr[0];
	c->ins = hdr[1];
	c->p1 = hdr[2];
	c->p2 = hdr[3];
	if (jpki_cursor_left(&cur) == 0)
		return 0; /* case 1 */
	if (jpki_cursor_u8(&cur, &b) != 0)
		return -1;
	if (jpki_cursor_left(&cur) == 0) { /* case 2 */
		c->has_le = 1;
		c->le = b ? b : 256;
		return 0;
	}
	if (b == 0)
		return -1; /* extended lengths are not supported */
	c->lc = b;
	if (jpki_cursor_bytes(&cur, &c->data, c->lc) != 0)
		return -1;
	if (jpki_cursor_left(&cur) == 0)
		return 0; /* case 3 */
	if (jpki_cursor_u8(&cur, &b) != 0 || jpki_cursor_left(&cur) != 0)
		return -1;
	c->has_le = 1; /* case 4 */
	c->le = b ? b : 256;
	return 0;
}

/* Sends up to `le` bytes of a long answer and keeps the rest for GET
 * RESPONSE, announcing it with 61 xx. */
static void long_answer(struct jpki_card *card, struct rsp *r,
			const uint8_t *p, size_t n, size_t le)
{
	size_t first = n < le ? n : le;

	data(r, p, first);
	if (first == n || n - first > sizeof(card->pending)) {
		sw(r, SW_OK);
		return;
	}
	memcpy(card->pending, p + first, n - first);
	card->pending_len = n - first;
	card->pending_off = 0;
	sw(r, 0x6100 | (card->pending_len > 255 ? 0 : card->pending_len));
}

static void get_response(struct jpki_card *card, const struct cmd *c,
			 struct rsp *r)
{
	size_t left = card->pending_len - card->pending_off, n;

	if (left == 0) {
		sw(r, SW_CONDITIONS);
		return;
	}
	if (c->p1 != 0 || c->p2 != 0) {
		sw(r, SW_WRONG_P1P2);
		return;
	}
	/* without Le, as much as one response holds: the rest can be over
	 * 256 bytes (GENERATE KEY PAIR with a small Le) */
	n = c->has_le ? c->le : 256;
	if (n > left)
		n = left;
	data(r, card->pending + card->pending_off, n);
	card->pending_off += n;
	left -= n;
	if (left == 0) {
		card->pending_len = card->pending_off = 0;
		sw(r, SW_OK);
	} else {
		sw(r, 0x6100 | (left > 255 ? 0 : left));
	}
}

static void select_file(struct jpki_card *card, const struct cmd *c,
			struct rsp *r)
{
	uint16_t fid;

	if (c->p2 != 0x0C) {
		sw(r, SW_WRONG_P1P2);
		return;
	}
	if (c->p1 == 0x04) {
		if (c->lc != JPKI_CARD_AID_LEN ||
		    memcmp(c->data, JPKI_CARD_AID, JPKI_CARD_AID_LEN) != 0) {
			sw(r, SW_NOT_FOUND);
			return;
		}
		/* a new selection of the AP starts a fresh security state */
		jpki_card_reset(card);
		card->ap_selected = 1;
		sw(r, SW_OK);
		return;
	}
	if (c->p1 != 0x02) {
		sw(r, SW_WRONG_P1P2);
		return;
	}
	if (c->lc != 2) {
		sw(r, SW_WRONG_LENGTH);
		return;
	}
	if (!card->ap_selected) {
		sw(r, SW_NOT_FOUND);
		return;
	}
	fid = (uint16_t)(c->data[0] << 8 | c->data[1]);
	for (int i = 0; i < FILE_COUNT; i++) {
		int auth_file = fid == JPKI_EF_AUTH_CERT ||
				fid == JPKI_EF_AUTH_CA;

		if (card->files[i].fid != fid)
			continue;
		if (auth_file && !card->pins[JPKI_PIN_AUTH].present)
			break; /* the Juki card has no authentication side */
		card->ef = EF_DATA;
		card->cur_file = i;
		sw(r, SW_OK);
		return;
	}
	for (int i = 0; i < 2; i++) {
		uint16_t key = i ? JPKI_EF_SIGN_KEY : JPKI_EF_AUTH_KEY;
		uint16_t pin = i ? JPKI_EF_SIGN_PIN : JPKI_EF_AUTH_PIN;

		if ((fid == key || fid == pin) && card->pins[i].present) {
			card->ef = fid == key ? EF_KEY : EF_PIN;
			card->cur_pin = i;
			sw(r, SW_OK);
			return;
		}
	}
	card->ef = EF_NONE;
	sw(r, SW_NOT_FOUND);
}

static void read_binary(struct jpki_card *card, const struct cmd *c,
			struct rsp *r)
{
	const struct card_file_data *f;
	size_t off = (size_t)(c->p1 << 8 | c->p2), n;

	if (c->p1 & 0x80) {
		sw(r, SW_WRONG_P1P2); /* short EF identifiers: not supported */
		return;
	}
	if (c->lc != 0 || !c->has_le) {
		sw(r, SW_WRONG_LENGTH);
		return;
	}
	if (card->ef != EF_DATA) {
		sw(r, SW_NO_EF);
		return;
	}
	f = &card->files[card->cur_file];
	if (f->fid == JPKI_EF_SIGN_CERT && !card->verified[JPKI_PIN_SIGN]) {
		sw(r, SW_SECURITY);
		return;
	}
	if (f->len == 0) {
		sw(r, SW_NOT_FOUND);
		return;
	}
	if (off >= f->len) {
		sw(r, SW_WRONG_OFFSET);
		return;
	}
	/* A read crossing the end answers what there is with 90 00, as
	 * clients of the real card expect: those that read fixed chunks until
	 * 6B 00 take 62 82 for an error (issue #19). OpenSC reads exact
	 * lengths. */
	n = f->len - off < c->le ? f->len - off : c->le;
	data(r, f->data + off, n);
	sw(r, SW_OK);
}

/* Counts a try as spent on disk before the PIN is even compared. */
static int verify(struct jpki_card *card, const struct cmd *c, struct rsp *r)
{
	struct card_pin *pin;
	int err;

	if (c->p1 != 0x00 || c->p2 != 0x80) {
		sw(r, SW_WRONG_P1P2);
		return 0;
	}
	if (card->ef != EF_PIN) {
		sw(r, SW_NO_EF);
		return 0;
	}
	pin = &card->pins[card->cur_pin];
	if (c->lc == 0) {
		/* the tries left, spending none */
		sw(r, 0x63C0 | pin->tries);
		return 0;
	}
	if (!pin->set || pin->tries == 0) {
		sw(r, SW_PIN_BLOCKED);
		return 0;
	}
	card->verified[card->cur_pin] = 0;
	pin->tries--;
	if ((err = card_save(card)) != 0) {
		pin->tries++;
		sw(r, SW_MEMORY_FAILURE);
		return err;
	}
	if (!card_pin_matches(pin, c->data, c->lc)) {
		sw(r, 0x63C0 | pin->tries);
		return 0;
	}
	pin->tries = pin->max;
	if ((err = card_save(card)) != 0) {
		/* the try stays spent; refuse rather than half-succeed */
		sw(r, SW_MEMORY_FAILURE);
		return err;
	}
	card->verified[card->cur_pin] = 1;
	sw(r, SW_OK);
	return 0;
}

/* Saves a changed PIN; on failure the caller puts the old one back. */
static int save_pin(struct jpki_card *card, struct rsp *r)
{
	int err = card_save(card);

	sw(r, err != 0 ? SW_MEMORY_FAILURE : SW_OK);
	return err;
}

static int change_pin(struct jpki_card *card, const struct cmd *c,
		      struct rsp *r)
{
	struct card_pin *pin, saved;
	int err;

	if (c->p1 != 0x01 || c->p2 != 0x80) {
		sw(r, SW_WRONG_P1P2);
		return 0;
	}
	if (card->ef != EF_PIN) {
		sw(r, SW_NO_EF);
		return 0;
	}
	if (!card->verified[card->cur_pin]) {
		sw(r, SW_SECURITY);
		return 0;
	}
	if (jpki_card_pin_check(card->kind, (enum jpki_card_pin)card->cur_pin,
				(const char *)c->data, c->lc) != 0) {
		sw(r, SW_WRONG_DATA);
		return 0;
	}
	pin = &card->pins[card->cur_pin];
	saved = *pin;
	if ((err = card_pin_set(pin, c->data, c->lc)) != 0) {
		*pin = saved;
		sw(r, SW_MEMORY_FAILURE);
		return err;
	}
	if ((err = save_pin(card, r)) != 0)
		*pin = saved;
	return err;
}

static void sign(struct jpki_card *card, const struct cmd *c, struct rsp *r)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key;
	uint8_t sig[256];
	size_t len = sizeof(sig);

	if (c->p1 != 0x00 || c->p2 != 0x80) {
		sw(r, SW_WRONG_P1P2);
		return;
	}
	if (card->ef != EF_KEY) {
		sw(r, SW_NO_EF);
		return;
	}
	if ((key = card->keys[card->cur_pin]) == NULL) {
		sw(r, SW_REF_NOT_FOUND);
		return;
	}
	if (!card->verified[card->cur_pin]) {
		sw(r, SW_SECURITY);
		return;
	}
	/* PKCS#1 v1.5 leaves at least 11 bytes of padding */
	if (c->lc == 0 || c->lc > 256 - 11) {
		sw(r, SW_WRONG_DATA);
		return;
	}
	if (c->has_le && c->le != 256) {
		sw(r, 0x6C00); /* exactly 256 bytes come back */
		return;
	}
	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &len, c->data, c->lc) != 1 ||
	    len != sizeof(sig)) {
		ERR_clear_error();
		sw(r, 0x6F00);
	} else {
		data(r, sig, len);
		sw(r, SW_OK);
	}
	EVP_PKEY_CTX_free(ctx);
}

static void get_challenge(struct jpki_card *card, const struct cmd *c,
			  struct rsp *r)
{
	if (c->p1 != 0 || c->p2 != 0) {
		sw(r, SW_WRONG_P1P2);
		return;
	}
	if (!c->has_le || c->lc != 0) {
		sw(r, SW_WRONG_LENGTH);
		return;
	}
	if (c->le != 8) {
		sw(r, 0x6C08);
		return;
	}
	if (RAND_bytes(card->challenge, 8) != 1) {
		sw(r, 0x6F00);
		return;
	}
	card->challenge_valid = 1;
	data(r, card->challenge, 8);
	sw(r, SW_OK);
}

static void external_authenticate(struct jpki_card *card, const struct cmd *c,
				  struct rsp *r)
{
	EVP_MD_CTX *ctx;
	uint8_t msg[32];
	int ok;

	if (c->p1 != 0 || c->p2 != 0) {
		sw(r, SW_WRONG_P1P2);
		return;
	}
	if (!card->challenge_valid) {
		sw(r, SW_CONDITIONS);
		return;
	}
	/* one answer per challenge */
	card->challenge_valid = 0;
	card_issuer_message(msg, card->serial, card->challenge);
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	     EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, card->issuer) ==
		     1 &&
	     EVP_DigestVerify(ctx, c->data, c->lc, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	card->issuer_ok = ok;
	sw(r, ok ? SW_OK : SW_AUTH_FAILED);
}

static int generate_key(struct jpki_card *card, const struct cmd *c,
			struct rsp *r)
{
	EVP_PKEY *key, *old;
	unsigned char *spki = NULL;
	int n, err;

	if (c->p1 != 0 || c->p2 != 0) {
		sw(r, SW_WRONG_P1P2);
		return 0;
	}
	if (card->ef != EF_KEY) {
		sw(r, SW_NO_EF);
		return 0;
	}
	if ((key = EVP_RSA_gen(2048)) == NULL ||
	    (n = i2d_PUBKEY(key, &spki)) <= 0) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		sw(r, 0x6F00);
		return 0;
	}
	old = card->keys[card->cur_pin];
	card->keys[card->cur_pin] = key;
	if ((err = card_save(card)) != 0) {
		card->keys[card->cur_pin] = old;
		EVP_PKEY_free(key);
		OPENSSL_free(spki);
		sw(r, SW_MEMORY_FAILURE);
		return err;
	}
	EVP_PKEY_free(old);
	/* the public half only, as DER SubjectPublicKeyInfo */
	long_answer(card, r, spki, (size_t)n, c->has_le ? c->le : 256);
	OPENSSL_free(spki);
	return 0;
}

static int update_binary(struct jpki_card *card, const struct cmd *c,
			 struct rsp *r)
{
	struct card_file_data *f, saved;
	size_t off = (size_t)(c->p1 << 8 | c->p2);
	int err;

	if (c->p1 & 0x80) {
		sw(r, SW_WRONG_P1P2);
		return 0;
	}
	if (card->ef != EF_DATA) {
		sw(r, SW_NO_EF);
		return 0;
	}
	f = &card->files[card->cur_file];
	if (c->lc == 0) {
		sw(r, SW_WRONG_LENGTH);
		return 0;
	}
	if (off > f->len) {
		sw(r, SW_WRONG_OFFSET); /* no holes */
		return 0;
	}
	if (c->lc > JPKI_CARD_MAX_FILE - off) {
		sw(r, SW_NO_SPACE);
		return 0;
	}
	saved = *f;
	memcpy(f->data + off, c->data, c->lc);
	/* a write ends the file: rewriting from 0 replaces it */
	f->len = (uint16_t)(off + c->lc);
	if ((err = card_save(card)) != 0) {
		*f = saved;
		sw(r, SW_MEMORY_FAILURE);
		return err;
	}
	sw(r, SW_OK);
	return 0;
}

static int reset_retry_counter(struct jpki_card *card, const struct cmd *c,
			       struct rsp *r)
{
	struct card_pin *pin, saved;
	int err;

	if ((c->p1 != 0x02 && c->p1 != 0x03) || c->p2 != 0x80) {
		sw(r, SW_WRONG_P1P2);
		return 0;
	}
	if (card->ef != EF_PIN) {
		sw(r, SW_NO_EF);
		return 0;
	}
	pin = &card->pins[card->cur_pin];
	saved = *pin;
	if (c->p1 == 0x03) {
		/* unlock: the same PIN, full tries */
		if (c->lc != 0) {
			sw(r, SW_WRONG_LENGTH);
			return 0;
		}
		if (!pin->set) {
			sw(r, SW_CONDITIONS);
			return 0;
		}
		pin->tries = pin->max;
	} else {
		if (jpki_card_pin_check(card->kind,
					(enum jpki_card_pin)card->cur_pin,
					(const char *)c->data, c->lc) != 0) {
			sw(r, SW_WRONG_DATA);
			return 0;
		}
		if ((err = card_pin_set(pin, c->data, c->lc)) != 0) {
			*pin = saved;
			sw(r, SW_MEMORY_FAILURE);
			return err;
		}
	}
	if ((err = save_pin(card, r)) != 0)
		*pin = saved;
	return err;
}

int jpki_card_process(struct jpki_card *card, const uint8_t *apdu,
		      size_t apdu_len, uint8_t *resp, size_t *resp_len)
{
	struct rsp r = {resp, 0};
	struct cmd c;
	int err = 0;

	if (parse(&c, apdu, apdu_len) != 0) {
		sw(&r, SW_WRONG_LENGTH);
		goto out;
	}
	if (c.ins != 0xC0)
		card->pending_len = card->pending_off = 0;
	if (c.cla == 0x80) {
		if (c.ins == 0x2A)
			sign(card, &c, &r);
		else
			sw(&r, SW_INS);
		goto out;
	}
	if (c.cla != 0x00) {
		sw(&r, SW_CLA);
		goto out;
	}
	switch (c.ins) {
	case 0xA4:
		select_file(card, &c, &r);
		break;
	case 0xB0:
		read_binary(card, &c, &r);
		break;
	case 0x20:
		err = verify(card, &c, &r);
		break;
	case 0x24:
		err = change_pin(card, &c, &r);
		break;
	case 0x84:
		get_challenge(card, &c, &r);
		break;
	case 0x82:
		external_authenticate(card, &c, &r);
		break;
	case 0xC0:
		get_response(card, &c, &r);
		break;
	case 0x47:
	case 0xD6:
	case 0x2C:
		if (!card->issuer_ok) {
			sw(&r, SW_SECURITY);
			break;
		}
		err = c.ins == 0x47   ? generate_key(card, &c, &r)
		      : c.ins == 0xD6 ? update_binary(card, &c, &r)
				      : reset_retry_counter(card, &c, &r);
		break;
	default:
		sw(&r, SW_INS);
	}
out:
	*resp_len = r.len;
	return err;
}
