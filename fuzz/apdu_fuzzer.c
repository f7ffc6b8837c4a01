/*
 * The JPKI AP on arbitrary command APDUs: jpki_card_process() against an
 * issued My Number card (both PINs set, both keys made, all four
 * certificates written), so that VERIFY, CHANGE REFERENCE DATA, COMPUTE
 * SIGNATURE and READ BINARY of every file are reachable, not only the
 * refusals of a blank card.
 *
 * An input is a sequence of records, each a 2-byte big-endian length and
 * then:
 *
 *   0000 .. FFFD  that many bytes: one command APDU (a length running past
 *                 the end of the input takes what is left)
 *   FFFE          no bytes: authenticate as the card's issuer, as the window
 *                 does (GET CHALLENGE, then EXTERNAL AUTHENTICATE with the
 *                 issuer key's signature), which opens the issuing commands
 *   FFFF          no bytes: power cycle (jpki_card_reset)
 *
 * Two bytes of length, not one, so that the longest short APDUs (5 + 255 +
 * 1 bytes) and anything longer can be written. fuzz/corpora/apdu/ holds the
 * exchanges of the vectors in tests/data/apdu/ in this framing.
 *
 * Every input starts from the same card: the issued card's file image is
 * made once per process and parsed afresh for each input; a parsed card is
 * not persisted, so nothing carries over from one input to the next.
 *
 * After every APDU: the response is 2 to JPKI_CARD_MAX_RESPONSE bytes,
 * ends in an ISO 7816-4 status word, carries data only with 90 00 or
 * 61 xx (a READ BINARY crossing the end of a file answers 90 00); the
 * return is 0 or a defined error with 65 81; no PIN counter is above its
 * maximum; no response holds a piece of a private key or a PIN
 * hash; the signing certificate comes out only after its PIN; and without
 * issuer authentication no key, PIN or file has changed.
 *
 * With APDU_FUZZER_TRACE set in the environment, every exchange is written
 * to stderr, which is how to read a crashing input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>

#include "card/card_internal.h"
#include "fuzz_ca.h"
#include "jpki/card.h"
#include "jpki/reader.h"
#include "jpki/window.h"

/* Work per input stays bounded: key generation alone takes a while. */
#define MAX_APDUS 100
#define MAX_KEYGENS 1
#define NEEDLE 16

/* APDU_FUZZER_TRACE set: every exchange on stderr, to read a crash. */
static int trace;
static uint8_t *image;
static size_t image_len;
static EVP_PKEY *issuer;
static uint8_t serial[8];
static struct jpki_card_info pristine;
/* the last 32 bytes of the signing certificate (its signature) */
static uint8_t sign_cert_tail[32];

/* Pieces of what must never leave the card, per key slot. */
struct secrets {
	int valid;
	const EVP_PKEY *key;     /* the key they were taken from */
	uint8_t part[3][NEEDLE]; /* d, p, q */
	int n;
};
static struct secrets secrets[2];

static void cleanup(void)
{
	EVP_PKEY_free(issuer);
	free(image);
}

/* Issues a My Number card in a temporary directory, as the window does, and
 * keeps its file image; the directory is gone again when this returns. */
static void make_card(void)
{
	struct jpki_window_card_request req = {
	    .version = JPKI_WINDOW_CARD_REQUEST_VERSION,
	    .cert = JPKI_ISSUE_REQUEST_INIT};
	struct jpki_window_card_result res;
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;
	char ikey[64], path[64];

	fuzz_ca_setup("http://127.0.0.1:1", cleanup);
	snprintf(ikey, sizeof(ikey), "%s/issuer.key", fuzz_dir);
	snprintf(path, sizeof(path), "%s/card.jpki", fuzz_dir);
	req.cert.card = JPKI_CARD_MYNUMBER;
	req.cert.person = "P1";
	req.cert.municipality_code = "131016";
	req.cert.prefecture = "Tokyo-to";
	req.cert.municipality = "Chiyoda-ku";
	snprintf(req.cert.facts.name, sizeof(req.cert.facts.name),
		 "山田　太郎");
	snprintf(req.cert.facts.address, sizeof(req.cert.facts.address),
		 "東京都千代田区千代田１番１号");
	req.cert.facts.sex = JPKI_SEX_MALE;
	req.cert.facts.birth = (struct jpki_date){1980, 6, 1};
	req.cert.card_expiry = (struct jpki_date){2035, 6, 1};
	req.auth_pin = "1234";
	req.sign_pin = "ABC123";
	if (jpki_window_issuer_key(&issuer, ikey, 1) != 0 ||
	    jpki_card_create(path, JPKI_CARD_MYNUMBER, issuer) != 0 ||
	    jpki_card_open(&card, path) != 0 ||
	    jpki_reader_local(&rd, card) != 0 ||
	    jpki_window_issue_card(&res, rd, fuzz_ca, issuer, &req) != 0)
		fuzz_die("issuing the card");
	jpki_reader_free(rd);
	jpki_card_free(card);
	if (jpki_file_read(&image, &image_len, path, 1024 * 1024) != 0)
		fuzz_die("reading the card file");
}

static void take_secrets(struct secrets *s, const EVP_PKEY *key)
{
	static const char *const names[] = {OSSL_PKEY_PARAM_RSA_D,
					    OSSL_PKEY_PARAM_RSA_FACTOR1,
					    OSSL_PKEY_PARAM_RSA_FACTOR2};

	s->valid = 1;
	s->key = key;
	s->n = 0;
	if (key == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		BIGNUM *bn = NULL;
		uint8_t buf[512];
		int len;

		if (!EVP_PKEY_get_bn_param(key, names[i], &bn) ||
		    (len = BN_bn2bin(bn, buf)) < NEEDLE) {
			BN_clear_free(bn);
			abort();
		}
		memcpy(s->part[s->n++], buf, NEEDLE);
		BN_clear_free(bn);
	}
}

static int holds(const uint8_t *hay, size_t n, const uint8_t *needle,
		 size_t len)
{
	return n >= len && memmem(hay, n, needle, len) != NULL;
}

/* What must hold after every APDU, whatever it was. */
static void check(struct jpki_card *card, int r, const uint8_t *resp,
		  size_t len, int issuer_used)
{
	struct jpki_card_info info;
	size_t data_len;
	unsigned sw1, sw2;

	if (len < 2 || len > JPKI_CARD_MAX_RESPONSE)
		abort();
	data_len = len - 2;
	sw1 = resp[len - 2];
	sw2 = resp[len - 1];
	if (r != 0 && (r < JPKI_ERR_CONFIG || r > JPKI_ERR_INTERNAL ||
		       sw1 != 0x65 || sw2 != 0x81))
		abort();
	switch (sw1) {
	case 0x90:
		if (sw2 != 0x00)
			abort();
		break;
	case 0x61:
		break;
	case 0x63:
	case 0x65:
	case 0x67:
	case 0x69:
	case 0x6A:
	case 0x6B:
	case 0x6C:
	case 0x6D:
	case 0x6E:
	case 0x6F:
		if (data_len != 0)
			abort(); /* a refusal carries no data */
		break;
	default:
		abort();
	}
	jpki_card_info(card, &info);
	for (int i = 0; i < 2; i++) {
		if (info.tries[i] > info.max_tries[i])
			abort();
		if (!issuer_used &&
		    (info.pin_set[i] != pristine.pin_set[i] ||
		     info.key_present[i] != pristine.key_present[i]))
			abort();
	}
	if (!issuer_used && memcmp(info.file_len, pristine.file_len,
				   sizeof(info.file_len)) != 0)
		abort();
	if (data_len == 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (!secrets[i].valid || secrets[i].key != card->keys[i])
			take_secrets(&secrets[i], card->keys[i]);
		for (int k = 0; k < secrets[i].n; k++)
			if (holds(resp, data_len, secrets[i].part[k], NEEDLE))
				abort();
		if (holds(resp, data_len, card->pins[i].hash, NEEDLE) ||
		    holds(resp, data_len, card->pins[i].salt, NEEDLE))
			abort();
	}
	/* the issuer may write anything anywhere; others get the signing
	 * certificate only through its PIN */
	if (!issuer_used && !card->verified[JPKI_PIN_SIGN] &&
	    holds(resp, data_len, sign_cert_tail, sizeof(sign_cert_tail)))
		abort();
}

/* Sends one APDU from an exactly sized buffer, so that ASan sees any read
 * past its end, and checks the answer. Returns the status word. */
static unsigned transmit(struct jpki_card *card, const uint8_t *apdu, size_t n,
			 uint8_t *resp, size_t *resp_len, int issuer_used)
{
	uint8_t *copy = calloc(n ? n : 1, 1);
	int r;

	if (copy == NULL)
		abort();
	if (n > 0)
		memcpy(copy, apdu, n);
	*resp_len = 0;
	r = jpki_card_process(card, copy, n, resp, resp_len);
	free(copy);
	if (trace) {
		fprintf(stderr, ">");
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %02X", apdu[i]);
		fprintf(stderr, "\n<");
		for (size_t i = 0; i < *resp_len && i < JPKI_CARD_MAX_RESPONSE;
		     i++)
			fprintf(stderr, " %02X", resp[i]);
		fprintf(stderr, "\n");
	}
	check(card, r, resp, *resp_len, issuer_used);
	return (unsigned)(resp[*resp_len - 2] << 8 | resp[*resp_len - 1]);
}

/* The window's half of issuer authentication; it must always succeed. */
static void authenticate(struct jpki_card *card, uint8_t *resp)
{
	static const uint8_t get_challenge[] = {0x00, 0x84, 0x00, 0x00, 0x08};
	uint8_t apdu[5 + 255], *sig = NULL;
	size_t len = 0, sig_len = 0;

	if (transmit(card, get_challenge, sizeof(get_challenge), resp, &len,
		     1) != 0x9000 ||
	    len != 10)
		abort();
	if (jpki_card_issuer_sign(&sig, &sig_len, issuer, serial, resp) != 0 ||
	    sig_len > 255)
		fuzz_die("signing the challenge");
	memcpy(apdu, "\x00\x82\x00\x00", 4);
	apdu[4] = (uint8_t)sig_len;
	memcpy(apdu + 5, sig, sig_len);
	free(sig);
	if (transmit(card, apdu, 5 + sig_len, resp, &len, 1) != 0x9000)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct jpki_card *card = NULL;
	const struct card_file_data *f;

	trace = getenv("APDU_FUZZER_TRACE") != NULL;
	jpki_log_set_level(JPKI_LOG_ERROR);
	make_card();
	if (jpki_card_parse(&card, image, image_len) != 0)
		fuzz_die("parsing the issued card");
	jpki_card_info(card, &pristine);
	for (int i = 0; i < 2; i++)
		if (!pristine.pin_set[i] || !pristine.key_present[i])
			fuzz_die("the card is not fully issued");
	for (int i = 0; i < FILE_COUNT; i++)
		if (pristine.file_len[i] < sizeof(sign_cert_tail))
			fuzz_die("a file of the card is empty");
	memcpy(serial, card->serial, sizeof(serial));
	f = &card->files[FILE_SIGN_CERT];
	memcpy(sign_cert_tail, f->data + f->len - sizeof(sign_cert_tail),
	       sizeof(sign_cert_tail));
	jpki_card_free(card);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jpki_card *card = NULL;
	struct jpki_cursor cur;
	uint8_t *resp = malloc(JPKI_CARD_MAX_RESPONSE);
	int issuer_used = 0, apdus = 0, keygens = 0;

	if (resp == NULL || jpki_card_parse(&card, image, image_len) != 0)
		abort();
	/* a key of an earlier input may have had the same address */
	secrets[0].valid = secrets[1].valid = 0;
	jpki_cursor_init(&cur, data, size);
	while (apdus < MAX_APDUS) {
		const uint8_t *apdu;
		uint16_t len;
		size_t n, resp_len;

		if (jpki_cursor_u16(&cur, &len) != 0)
			break;
		if (len == 0xFFFF) {
			jpki_card_reset(card);
			continue;
		}
		if (len == 0xFFFE) {
			authenticate(card, resp);
			issuer_used = 1;
			apdus += 2;
			continue;
		}
		n = len < jpki_cursor_left(&cur) ? len : jpki_cursor_left(&cur);
		if (jpki_cursor_bytes(&cur, &apdu, n) != 0)
			abort();
		/* GENERATE KEY PAIR makes an RSA key: at most one an input */
		if (n >= 2 && apdu[0] == 0x00 && apdu[1] == 0x47 &&
		    keygens++ >= MAX_KEYGENS)
			continue;
		transmit(card, apdu, n, resp, &resp_len, issuer_used);
		apdus++;
	}
	jpki_card_free(card);
	free(resp);
	return 0;
}
