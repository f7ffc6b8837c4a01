/*
 * The resident's side of the JPKI AP: which card this is, the PINs' tries,
 * VERIFY and CHANGE REFERENCE DATA, and reading certificates. Every APDU is
 * one of SPEC section 5; the status words are turned into sentences a
 * resident at home can act on.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "jpki/client.h"

static const char *pin_name(enum jpki_card_pin pin)
{
	return pin == JPKI_PIN_AUTH ? "the authentication PIN (利用者証明用)"
				    : "the signing PIN (署名用)";
}

static uint16_t pin_fid(enum jpki_card_pin pin)
{
	return pin == JPKI_PIN_AUTH ? JPKI_EF_AUTH_PIN : JPKI_EF_SIGN_PIN;
}

void jpki_client_pin_upcase(char *pin)
{
	for (; *pin; pin++)
		if (*pin >= 'a' && *pin <= 'z')
			*pin = (char)(*pin - 'a' + 'A');
}

/* SELECT of a PIN file: 1 selected, 0 the card has no such PIN. */
static int select_pin(struct jpki_reader *rd, enum jpki_card_pin pin)
{
	uint8_t apdu[] = {
	    0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, (uint8_t)pin_fid(pin)};
	uint8_t resp[JPKI_READER_MAX_RESPONSE];
	size_t n = sizeof(resp);
	uint16_t sw;
	int r;

	if ((r = jpki_reader_transmit(rd, apdu, sizeof(apdu), resp, &n, &sw)) !=
	    0)
		return r;
	if (sw == 0x6A82)
		return 0;
	if (sw != 0x9000)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card refused SELECT of %s (status "
				    "%04X)",
				    pin_name(pin), sw);
	return 1;
}

int jpki_client_open_card(enum jpki_card_kind *kind, struct jpki_reader *rd)
{
	int r;

	if ((r = jpki_reader_select_ap(rd)) != 0)
		return r;
	if ((r = select_pin(rd, JPKI_PIN_AUTH)) < 0)
		return r;
	*kind = r == 1 ? JPKI_CARD_MYNUMBER : JPKI_CARD_JUKI;
	return 0;
}

/* Sends VERIFY; *sw gets the card's answer. */
static int send_verify(struct jpki_reader *rd, const char *value, uint16_t *sw)
{
	uint8_t apdu[5 + 16] = {0x00, 0x20, 0x00, 0x80};
	uint8_t resp[JPKI_READER_MAX_RESPONSE];
	size_t len = value ? strlen(value) : 0, n = sizeof(resp), apdu_len = 4;
	int r;

	if (len > 16)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a PIN has at most 16 characters");
	if (len > 0) {
		apdu[4] = (uint8_t)len;
		memcpy(apdu + 5, value, len);
		apdu_len = 5 + len;
	}
	r = jpki_reader_transmit(rd, apdu, apdu_len, resp, &n, sw);
	jpki_wipe(apdu, sizeof(apdu));
	return r;
}

int jpki_client_pin_tries(int *tries, struct jpki_reader *rd,
			  enum jpki_card_pin pin)
{
	uint16_t sw;
	int r;

	*tries = -1;
	if ((r = select_pin(rd, pin)) <= 0)
		return r;
	if ((r = send_verify(rd, NULL, &sw)) != 0)
		return r;
	if ((sw & 0xFFF0) == 0x63C0)
		*tries = sw & 0x0F;
	else if (sw == 0x6984)
		*tries = 0;
	else
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card did not tell the tries left of "
				    "%s (status %04X)",
				    pin_name(pin), sw);
	return 0;
}

static int locked(enum jpki_card_pin pin)
{
	return jpki_err_set(JPKI_ERR_STATE,
			    "%s is locked after too many wrong tries: only "
			    "the municipality window (市区町村窓口) can unlock "
			    "it, with an identity check",
			    pin_name(pin));
}

int jpki_client_pin_verify(struct jpki_reader *rd, enum jpki_card_pin pin,
			   const char *value, int *tries)
{
	char buf[17];
	uint16_t sw;
	int r, dummy;

	if (tries == NULL)
		tries = &dummy;
	*tries = -1;
	if (value == NULL || value[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID, "no PIN given");
	if (strlen(value) >= sizeof(buf))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a PIN has at most 16 characters");
	snprintf(buf, sizeof(buf), "%s", value);
	jpki_client_pin_upcase(buf);
	if ((r = select_pin(rd, pin)) < 0)
		goto out;
	if (r == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND, "this card has no %s",
				 pin_name(pin));
		goto out;
	}
	if ((r = send_verify(rd, buf, &sw)) != 0)
		goto out;
	if (sw == 0x9000) {
		r = 0;
		goto out;
	}
	if (sw == 0x6984 || sw == 0x63C0) {
		*tries = 0;
		r = locked(pin);
	} else if ((sw & 0xFFF0) == 0x63C0) {
		*tries = sw & 0x0F;
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "wrong PIN: %s has %d %s left before it "
				 "locks",
				 pin_name(pin), *tries,
				 *tries == 1 ? "try" : "tries");
	} else {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "the card refused VERIFY (status %04X)", sw);
	}
out:
	jpki_wipe(buf, sizeof(buf));
	return r;
}

int jpki_client_pin_change(struct jpki_reader *rd, enum jpki_card_kind kind,
			   enum jpki_card_pin pin, const char *old_pin,
			   const char *new_pin)
{
	uint8_t apdu[5 + 16] = {0x00, 0x24, 0x01, 0x80};
	char buf[17];
	size_t len;
	int r;

	if (new_pin == NULL || strlen(new_pin) >= sizeof(buf))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the new PIN has at most 16 characters");
	snprintf(buf, sizeof(buf), "%s", new_pin);
	jpki_client_pin_upcase(buf);
	len = strlen(buf);
	/* checked before anything is sent: a refused PIN costs no try */
	if ((r = jpki_card_pin_check(kind, pin, buf, len)) != 0)
		goto out;
	if ((r = jpki_client_pin_verify(rd, pin, old_pin, NULL)) != 0)
		goto out;
	apdu[4] = (uint8_t)len;
	memcpy(apdu + 5, buf, len);
	r = jpki_reader_command(rd, apdu, 5 + len, NULL, NULL,
				"CHANGE REFERENCE DATA");
out:
	jpki_wipe(apdu, sizeof(apdu));
	jpki_wipe(buf, sizeof(buf));
	return r;
}

int jpki_client_read_cert(X509 **out, struct jpki_reader *rd, uint16_t fid)
{
	const unsigned char *p;
	uint8_t *der = NULL;
	size_t len;
	int r;

	*out = NULL;
	if ((r = jpki_reader_read_der(&der, &len, rd, fid)) != 0)
		return r;
	p = der;
	*out = d2i_X509(NULL, &p, (long)len);
	free(der);
	if (*out == NULL) {
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the certificate in file %04X is "
				    "unreadable",
				    fid);
	}
	return 0;
}
