/*
 * The card's persisted state and its file format.
 *
 * The card file, read and written only here:
 *
 *   "JPKICARD" u8 version (1)
 *   records: u8 tag, u16 length (big-endian), value
 *     0x01 kind (1 byte)            0x02 card serial (8 bytes)
 *     0x03 issuer public key (DER SubjectPublicKeyInfo, EC P-256)
 *     0x10 / 0x11 authentication / signing PIN: present, set, tries, max,
 *                 salt[16], SHA-256(salt || PIN)[32]
 *     0x20 / 0x21 authentication / signing private key (DER), when made
 *     0x30 .. 0x34 the data files (auth cert, sign cert, auth CA, sign CA,
 *                  token information)
 *   0xFF, 32: SHA-256 of every byte before this record
 *
 * Each tag appears at most once; unknown tags, a bad digest or values out of
 * range make the whole file unreadable rather than half-read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "card/card_internal.h"

#define MAGIC "JPKICARD"
#define VERSION 1
#define MAX_CARD_FILE (64 * 1024)

enum {
	TAG_KIND = 0x01,
	TAG_SERIAL = 0x02,
	TAG_ISSUER = 0x03,
	TAG_PIN = 0x10,  /* + enum jpki_card_pin */
	TAG_KEY = 0x20,  /* + enum jpki_card_pin */
	TAG_FILE = 0x30, /* + enum card_file */
	TAG_DIGEST = 0xFF,
};

static const uint16_t file_ids[FILE_COUNT] = {
	JPKI_EF_AUTH_CERT, JPKI_EF_SIGN_CERT, JPKI_EF_AUTH_CA,
	JPKI_EF_SIGN_CA, JPKI_EF_TOKEN_INFO};

int jpki_card_pin_max_tries(enum jpki_card_kind kind, enum jpki_card_pin pin)
{
	if (kind == JPKI_CARD_JUKI)
		return pin == JPKI_PIN_SIGN ? 5 : 0;
	return pin == JPKI_PIN_SIGN ? 5 : 3;
}

int jpki_card_pin_check(enum jpki_card_kind kind, enum jpki_card_pin pin,
			const char *value, size_t len)
{
	size_t letters = 0, digits = 0;

	for (size_t i = 0; i < len; i++) {
		if (value[i] >= '0' && value[i] <= '9')
			digits++;
		else if (value[i] >= 'A' && value[i] <= 'Z')
			letters++;
		else
			return jpki_err_set(JPKI_ERR_INVALID,
					    "a PIN holds only upper-case "
					    "letters A-Z and digits");
	}
	if (kind == JPKI_CARD_JUKI) {
		if (pin != JPKI_PIN_SIGN)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the Juki card has no "
					    "authentication PIN");
		if (len < 4 || len > 16)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the Juki card's PIN has 4 to 16 "
					    "characters");
		return 0;
	}
	if (pin == JPKI_PIN_AUTH) {
		if (len != 4 || digits != 4)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the authentication PIN is exactly "
					    "4 digits");
		return 0;
	}
	if (len < 6 || len > 16 || letters == 0 || digits == 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the signing PIN has 6 to 16 characters, "
				    "upper-case letters and digits, at least "
				    "one of each");
	return 0;
}

/* SHA-256 of up to three byte strings one after another. */
static void sha256_of(uint8_t out[32], const void *a, size_t alen,
		      const void *b, size_t blen, const void *c, size_t clen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	memset(out, 0, 32);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    EVP_DigestUpdate(ctx, b, blen) != 1 ||
	    (clen > 0 && EVP_DigestUpdate(ctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		memset(out, 0, 32);
	EVP_MD_CTX_free(ctx);
}

static void pin_hash(uint8_t out[32], const uint8_t salt[16],
		     const uint8_t *value, size_t len)
{
	sha256_of(out, salt, 16, value, len, NULL, 0);
}

int card_pin_set(struct card_pin *pin, const uint8_t *value, size_t len)
{
	if (RAND_bytes(pin->salt, sizeof(pin->salt)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	pin_hash(pin->hash, pin->salt, value, len);
	pin->set = 1;
	pin->tries = pin->max;
	return 0;
}

int card_pin_matches(const struct card_pin *pin, const uint8_t *value,
		     size_t len)
{
	uint8_t h[32];
	int same;

	pin_hash(h, pin->salt, value, len);
	same = jpki_ct_equal(h, pin->hash, sizeof(h));
	jpki_wipe(h, sizeof(h));
	return same && pin->set;
}

void card_issuer_message(uint8_t out[32], const uint8_t serial[8],
			 const uint8_t challenge[8])
{
	static const char label[] = "OpenJPKI card issuer";

	sha256_of(out, label, sizeof(label) - 1, serial, 8, challenge, 8);
}

int jpki_card_issuer_sign(uint8_t **sig, size_t *sig_len, EVP_PKEY *issuer,
			  const uint8_t serial[8], const uint8_t challenge[8])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t msg[32];
	size_t len = 0;
	int r = JPKI_ERR_CRYPTO;

	*sig = NULL;
	*sig_len = 0;
	card_issuer_message(msg, serial, challenge);
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, issuer) != 1 ||
	    EVP_DigestSign(ctx, NULL, &len, msg, sizeof(msg)) != 1 ||
	    (*sig = malloc(len)) == NULL ||
	    EVP_DigestSign(ctx, *sig, &len, msg, sizeof(msg)) != 1) {
		free(*sig);
		*sig = NULL;
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot sign the card's challenge");
		goto out;
	}
	*sig_len = len;
	r = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return r;
}

/* The PKCS#11 CK_TOKEN_INFO image of EF 0006 (label, manufacturer, model,
 * serial; the numeric fields left zero). */
static void token_info(struct card_file_data *f, const uint8_t serial[8])
{
	char hex[17];

	memset(f->data, ' ', 112);
	memset(f->data + 112, 0, TOKEN_INFO_LEN - 112);
	memcpy(f->data, "JPKIAPICCTOKEN2", 15);
	memcpy(f->data + 32, "OpenJPKI", 8);
	memcpy(f->data + 64, "JPKI AP", 7);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02X", serial[i]);
	memcpy(f->data + 80, hex, 16);
	f->len = TOKEN_INFO_LEN;
}

static struct jpki_card *card_new(void)
{
	struct jpki_card *card = calloc(1, sizeof(*card));

	if (card != NULL) {
		card->lock_fd = -1;
		for (int i = 0; i < FILE_COUNT; i++)
			card->files[i].fid = file_ids[i];
	}
	return card;
}

void jpki_card_free(struct jpki_card *card)
{
	if (card == NULL)
		return;
	EVP_PKEY_free(card->issuer);
	EVP_PKEY_free(card->keys[0]);
	EVP_PKEY_free(card->keys[1]);
	if (card->lock_fd >= 0)
		close(card->lock_fd);
	free(card->path);
	jpki_wipe(card, sizeof(*card));
	free(card);
}

void jpki_card_reset(struct jpki_card *card)
{
	card->ap_selected = 0;
	card->ef = EF_NONE;
	card->verified[0] = card->verified[1] = 0;
	card->issuer_ok = 0;
	card->challenge_valid = 0;
	card->pending_len = card->pending_off = 0;
}

static int put(struct jpki_writer *w, uint8_t tag, const void *v, size_t len)
{
	int r;

	if (len > 0xFFFF)
		return jpki_err_set(JPKI_ERR_TOO_LARGE, "record too large");
	if ((r = jpki_writer_u8(w, tag)) != 0 ||
	    (r = jpki_writer_u16(w, (uint16_t)len)) != 0 ||
	    (r = jpki_writer_bytes(w, v, len)) != 0)
		return r;
	return 0;
}

static int put_der(struct jpki_writer *w, uint8_t tag, EVP_PKEY *key,
		   int private)
{
	unsigned char *der = NULL;
	int n = private ? i2d_PrivateKey(key, &der) : i2d_PUBKEY(key, &der);
	int r;

	if (n <= 0)
		return jpki_err_set(JPKI_ERR_CRYPTO, "cannot encode a key");
	r = put(w, tag, der, (size_t)n);
	OPENSSL_clear_free(der, (size_t)n);
	return r;
}

/* Serialises the state into buf (MAX_CARD_FILE bytes). */
static int serialize(const struct jpki_card *card, uint8_t *buf, size_t *len)
{
	struct jpki_writer w;
	uint8_t digest[32], kind = (uint8_t)card->kind;
	int r;

	jpki_writer_init(&w, buf, MAX_CARD_FILE);
	if ((r = jpki_writer_bytes(&w, MAGIC, 8)) != 0 ||
	    (r = jpki_writer_u8(&w, VERSION)) != 0 ||
	    (r = put(&w, TAG_KIND, &kind, 1)) != 0 ||
	    (r = put(&w, TAG_SERIAL, card->serial, 8)) != 0 ||
	    (r = put_der(&w, TAG_ISSUER, card->issuer, 0)) != 0)
		return r;
	for (int i = 0; i < 2; i++) {
		const struct card_pin *p = &card->pins[i];
		uint8_t rec[52];

		rec[0] = p->present;
		rec[1] = p->set;
		rec[2] = p->tries;
		rec[3] = p->max;
		memcpy(rec + 4, p->salt, 16);
		memcpy(rec + 20, p->hash, 32);
		if ((r = put(&w, (uint8_t)(TAG_PIN + i), rec, sizeof(rec))) !=
		    0)
			return r;
		if (card->keys[i] != NULL &&
		    (r = put_der(&w, (uint8_t)(TAG_KEY + i), card->keys[i],
				 1)) != 0)
			return r;
	}
	for (int i = 0; i < FILE_COUNT; i++)
		if (card->files[i].len > 0 &&
		    (r = put(&w, (uint8_t)(TAG_FILE + i), card->files[i].data,
			     card->files[i].len)) != 0)
			return r;
	sha256_of(digest, buf, w.len, NULL, 0, NULL, 0);
	if ((r = put(&w, TAG_DIGEST, digest, sizeof(digest))) != 0)
		return r;
	*len = w.len;
	return 0;
}

int card_save(struct jpki_card *card)
{
	uint8_t *buf;
	size_t len = 0;
	int r;

	if (card->path == NULL)
		return 0;
	if ((buf = malloc(MAX_CARD_FILE)) == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = serialize(card, buf, &len)) == 0)
		r = jpki_file_write_atomic(card->path, buf, len, 0600);
	jpki_wipe(buf, len);
	free(buf);
	return r;
}

static int bad(const char *why)
{
	return jpki_err_set(JPKI_ERR_PARSE, "not a usable card file: %s", why);
}

static int parse_pin(struct card_pin *p, const uint8_t *v, size_t len,
		     enum jpki_card_kind kind, enum jpki_card_pin which)
{
	int max = jpki_card_pin_max_tries(kind, which);

	if (len != 52)
		return bad("PIN record length");
	p->present = v[0];
	p->set = v[1];
	p->tries = v[2];
	p->max = v[3];
	memcpy(p->salt, v + 4, 16);
	memcpy(p->hash, v + 20, 32);
	if (p->present > 1 || p->set > 1 || p->tries > p->max ||
	    p->max != (p->present ? max : 0) || (p->present == 0) != (max == 0))
		return bad("PIN record values");
	return 0;
}

int jpki_card_parse(struct jpki_card **out, const uint8_t *data, size_t len)
{
	struct jpki_card *card = NULL;
	struct jpki_cursor c;
	const uint8_t *magic, *v;
	uint8_t version, tag, digest[32];
	uint16_t vlen;
	uint64_t seen = 0;
	int r = JPKI_ERR_PARSE, done = 0;

	*out = NULL;
	if (len > MAX_CARD_FILE)
		return jpki_err_set(JPKI_ERR_TOO_LARGE, "card file too large");
	if ((card = card_new()) == NULL)
		return JPKI_ERR_NOMEM;
	jpki_cursor_init(&c, data, len);
	if (jpki_cursor_bytes(&c, &magic, 8) != 0 ||
	    memcmp(magic, MAGIC, 8) != 0 || jpki_cursor_u8(&c, &version) != 0 ||
	    version != VERSION) {
		r = bad("no card header");
		goto out;
	}
	while (!done) {
		size_t at = c.pos;
		uint64_t bit;

		if (jpki_cursor_u8(&c, &tag) != 0 ||
		    jpki_cursor_u16(&c, &vlen) != 0 ||
		    jpki_cursor_bytes(&c, &v, vlen) != 0) {
			r = bad("truncated");
			goto out;
		}
		bit = tag == TAG_DIGEST ? 1ull << 63
					: 1ull << (tag < 63 ? tag : 62);
		if (seen & bit) {
			r = bad("a record appears twice");
			goto out;
		}
		seen |= bit;
		switch (tag) {
		case TAG_KIND:
			if (vlen != 1 || (v[0] != JPKI_CARD_MYNUMBER &&
					  v[0] != JPKI_CARD_JUKI)) {
				r = bad("card kind");
				goto out;
			}
			card->kind = (enum jpki_card_kind)v[0];
			break;
		case TAG_SERIAL:
			if (vlen != 8) {
				r = bad("serial");
				goto out;
			}
			memcpy(card->serial, v, 8);
			break;
		case TAG_ISSUER: {
			const unsigned char *p = v;

			card->issuer = d2i_PUBKEY(NULL, &p, vlen);
			if (card->issuer == NULL || p != v + vlen ||
			    EVP_PKEY_get_base_id(card->issuer) != EVP_PKEY_EC) {
				r = bad("issuer key");
				goto out;
			}
			break;
		}
		case TAG_PIN + JPKI_PIN_AUTH:
		case TAG_PIN + JPKI_PIN_SIGN:
			if (card->kind == 0) {
				r = bad("PIN before kind");
				goto out;
			}
			if ((r = parse_pin(&card->pins[tag - TAG_PIN], v, vlen,
					   card->kind,
					   (enum jpki_card_pin)(tag - TAG_PIN))) !=
			    0)
				goto out;
			break;
		case TAG_KEY + JPKI_PIN_AUTH:
		case TAG_KEY + JPKI_PIN_SIGN: {
			const unsigned char *p = v;
			EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, vlen);

			if (k == NULL || p != v + vlen ||
			    EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
			    EVP_PKEY_get_bits(k) != 2048) {
				EVP_PKEY_free(k);
				r = bad("private key");
				goto out;
			}
			card->keys[tag - TAG_KEY] = k;
			break;
		}
		case TAG_FILE + FILE_AUTH_CERT:
		case TAG_FILE + FILE_SIGN_CERT:
		case TAG_FILE + FILE_AUTH_CA:
		case TAG_FILE + FILE_SIGN_CA:
		case TAG_FILE + FILE_TOKEN_INFO:
			if (vlen > JPKI_CARD_MAX_FILE) {
				r = bad("file too large");
				goto out;
			}
			memcpy(card->files[tag - TAG_FILE].data, v, vlen);
			card->files[tag - TAG_FILE].len = vlen;
			break;
		case TAG_DIGEST:
			sha256_of(digest, data, at, NULL, 0, NULL, 0);
			if (vlen != 32 || !jpki_ct_equal(digest, v, 32)) {
				r = bad("digest mismatch (damaged)");
				goto out;
			}
			done = 1;
			break;
		default:
			r = bad("unknown record");
			goto out;
		}
	}
	if (jpki_cursor_left(&c) != 0) {
		r = bad("bytes after the digest");
		goto out;
	}
	if ((seen & (1ull << TAG_KIND | 1ull << TAG_SERIAL | 1ull << TAG_ISSUER |
		     1ull << TAG_PIN | 1ull << (TAG_PIN + 1))) !=
	    (1ull << TAG_KIND | 1ull << TAG_SERIAL | 1ull << TAG_ISSUER |
	     1ull << TAG_PIN | 1ull << (TAG_PIN + 1))) {
		r = bad("a required record is missing");
		goto out;
	}
	*out = card;
	card = NULL;
	r = 0;
out:
	ERR_clear_error();
	jpki_card_free(card);
	return r;
}

int jpki_card_create(const char *path, enum jpki_card_kind kind,
		     EVP_PKEY *issuer)
{
	struct jpki_card *card = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, r = JPKI_ERR_INTERNAL;

	if (kind != JPKI_CARD_MYNUMBER && kind != JPKI_CARD_JUKI)
		return jpki_err_set(JPKI_ERR_INVALID, "unknown card kind");
	if (issuer == NULL || EVP_PKEY_get_base_id(issuer) != EVP_PKEY_EC)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the issuer key must be an EC key");
	if ((card = card_new()) == NULL)
		return JPKI_ERR_NOMEM;
	card->kind = kind;
	if (RAND_bytes(card->serial, sizeof(card->serial)) != 1) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
		goto out;
	}
	if (!EVP_PKEY_up_ref(issuer)) {
		r = JPKI_ERR_CRYPTO;
		goto out;
	}
	card->issuer = issuer;
	for (int i = 0; i < 2; i++) {
		card->pins[i].max = (uint8_t)jpki_card_pin_max_tries(
			kind, (enum jpki_card_pin)i);
		card->pins[i].present = card->pins[i].max > 0;
		/* full from the start; unusable until the window sets it */
		card->pins[i].tries = card->pins[i].max;
	}
	token_info(&card->files[FILE_TOKEN_INFO], card->serial);
	if ((buf = malloc(MAX_CARD_FILE)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = serialize(card, buf, &len)) != 0)
		goto out;
	/* O_EXCL: never overwrite a card someone already has */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = jpki_err_set(errno == EEXIST ? JPKI_ERR_EXISTS
						 : JPKI_ERR_IO,
				 "%s: %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	r = jpki_file_write_atomic(path, buf, len, 0600);
out:
	free(buf);
	jpki_card_free(card);
	return r;
}

int jpki_card_open(struct jpki_card **out, const char *path)
{
	struct jpki_card *card = NULL;
	unsigned char *data = NULL;
	char *lock = NULL;
	size_t len = 0;
	int fd = -1, r;

	*out = NULL;
	if (asprintf(&lock, "%s.lock", path) < 0)
		return JPKI_ERR_NOMEM;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (fd < 0)
		return jpki_err_set(JPKI_ERR_IO, "%s.lock: %s", path,
				    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return jpki_err_set(JPKI_ERR_STATE,
				    "%s is in use by another process", path);
	}
	if ((r = jpki_file_read(&data, &len, path, MAX_CARD_FILE)) != 0 ||
	    (r = jpki_card_parse(&card, data, len)) != 0) {
		close(fd);
		goto out;
	}
	if ((card->path = strdup(path)) == NULL) {
		close(fd);
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	card->lock_fd = fd;
	*out = card;
	card = NULL;
out:
	if (data != NULL)
		jpki_wipe(data, len);
	free(data);
	jpki_card_free(card);
	return r;
}

void jpki_card_info(const struct jpki_card *card, struct jpki_card_info *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = card->kind;
	for (int i = 0; i < 8; i++)
		snprintf(out->serial + 2 * i, 3, "%02X", card->serial[i]);
	for (int i = 0; i < 2; i++) {
		out->tries[i] = card->pins[i].present ? card->pins[i].tries : -1;
		out->max_tries[i] = card->pins[i].max;
		out->pin_set[i] = card->pins[i].set;
		out->key_present[i] = card->keys[i] != NULL;
	}
	for (int i = 0; i < FILE_COUNT; i++)
		out->file_len[i] = card->files[i].len;
}

const uint8_t *jpki_card_public_file(const struct jpki_card *card,
				     uint16_t fid, size_t *len)
{
	*len = 0;
	for (int i = 0; i < FILE_COUNT; i++)
		if (card->files[i].fid == fid && fid != JPKI_EF_SIGN_CERT &&
		    card->files[i].len > 0) {
			*len = card->files[i].len;
			return card->files[i].data;
		}
	return NULL;
}
