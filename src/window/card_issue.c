/*
 * Issuing at the counter: the window, as the card's issuer, has the card
 * make its key pairs, gets them certified by the CA and writes the
 * certificates and the resident's PINs onto the card — all over APDUs, so the
 * same code drives a virtual card in-process or a card in a PC/SC reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "jpki/card.h"
#include "jpki/window.h"
#include "window/window_internal.h"

int jpki_window_issuer_key(EVP_PKEY **out, const char *path, int create)
{
	FILE *f = fopen(path, "r");
	BIO *mem = NULL;
	char *data;
	long len;
	int r;

	*out = NULL;
	if (f != NULL) {
		*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (*out == NULL || EVP_PKEY_get_base_id(*out) != EVP_PKEY_EC) {
			EVP_PKEY_free(*out);
			*out = NULL;
			ERR_clear_error();
			return jpki_err_set(JPKI_ERR_CONFIG,
					    "%s is not an EC private key",
					    path);
		}
		return 0;
	}
	if (!create)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no card-issuer key at %s", path);
	if ((*out = EVP_EC_gen("P-256")) == NULL ||
	    (mem = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(mem, *out, NULL, NULL, 0, NULL, NULL)) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot make a card-issuer key");
		goto fail;
	}
	len = BIO_get_mem_data(mem, &data);
	if ((r = jpki_file_write_atomic(path, data, (size_t)len, 0600)) != 0)
		goto fail;
	BIO_free(mem);
	return 0;
fail:
	BIO_free(mem);
	EVP_PKEY_free(*out);
	*out = NULL;
	return r;
}

int jpki_window_card_authenticate(struct jpki_reader *rd, EVP_PKEY *issuer)
{
	static const uint8_t get_challenge[] = {0x00, 0x84, 0x00, 0x00, 0x08};
	static const uint8_t read_token[] = {0x00, 0xB0, 0x00, 0x00, 0xA0};
	uint8_t token[JPKI_READER_MAX_RESPONSE], challenge[16], serial[8];
	uint8_t apdu[5 + 255], *sig = NULL;
	size_t token_len = sizeof(token), ch_len = sizeof(challenge), sig_len;
	int r;

	if ((r = jpki_reader_select_ap(rd)) != 0 ||
	    (r = jpki_reader_select_ef(rd, JPKI_EF_TOKEN_INFO)) != 0 ||
	    (r = jpki_reader_command(rd, read_token, sizeof(read_token), token,
				     &token_len,
				     "reading the token information")) != 0)
		return r;
	/* the card serial: 16 hex digits at offset 80 of CK_TOKEN_INFO */
	if (token_len < 96)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the token information is too short");
	for (int i = 0; i < 8; i++) {
		unsigned v;

		if (sscanf((const char *)token + 80 + 2 * i, "%2X", &v) != 1)
			return jpki_err_set(JPKI_ERR_PARSE,
					    "the card serial is not hex");
		serial[i] = (uint8_t)v;
	}
	if ((r = jpki_reader_command(rd, get_challenge, sizeof(get_challenge),
				     challenge, &ch_len, "GET CHALLENGE")) != 0)
		return r;
	if (ch_len != 8)
		return jpki_err_set(JPKI_ERR_PARSE, "the challenge is not 8 "
						    "bytes");
	if ((r = jpki_card_issuer_sign(&sig, &sig_len, issuer, serial,
				       challenge)) != 0)
		return r;
	apdu[0] = 0x00;
	apdu[1] = 0x82;
	apdu[2] = 0x00;
	apdu[3] = 0x00;
	apdu[4] = (uint8_t)sig_len;
	memcpy(apdu + 5, sig, sig_len);
	free(sig);
	r = jpki_reader_command(
	    rd, apdu, 5 + sig_len, NULL, NULL,
	    "the issuer authentication (is this the window that "
	    "issues this card?)");
	return r;
}

/* UPDATE BINARY of a whole file, in chunks that fit a short APDU. */
static int write_file(struct jpki_reader *rd, uint16_t fid, const uint8_t *data,
		      size_t len)
{
	int r;

	if ((r = jpki_reader_select_ef(rd, fid)) != 0)
		return r;
	for (size_t off = 0; off < len; off += 240) {
		size_t n = len - off < 240 ? len - off : 240;
		uint8_t apdu[5 + 240] = {0x00, 0xD6, (uint8_t)(off >> 8),
					 (uint8_t)off, (uint8_t)n};

		memcpy(apdu + 5, data + off, n);
		if ((r = jpki_reader_command(rd, apdu, 5 + n, NULL, NULL,
					     "writing a certificate")) != 0)
			return r;
	}
	return 0;
}

static int write_cert(struct jpki_reader *rd, uint16_t fid, X509 *cert)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der), r;

	if (n <= 0)
		return jpki_err_set(JPKI_ERR_CRYPTO, "cannot encode");
	r = write_file(rd, fid, der, (size_t)n);
	OPENSSL_free(der);
	return r;
}

/*
 * GENERATE KEY PAIR on the key file of `type` (the issuer authenticated):
 * the card replaces its key and answers the public half. Caller frees *pub.
 */
static int generate_key(EVP_PKEY **pub, struct jpki_reader *rd,
			enum jpki_cert_type type)
{
	static const uint8_t generate[] = {0x00, 0x47, 0x00, 0x00, 0x00};
	uint8_t spki[JPKI_READER_MAX_RESPONSE];
	size_t spki_len = sizeof(spki);
	const unsigned char *p = spki;
	int r;

	*pub = NULL;
	if ((r = jpki_reader_select_ef(rd, type == JPKI_CERT_SIGN
					       ? JPKI_EF_SIGN_KEY
					       : JPKI_EF_AUTH_KEY)) != 0 ||
	    (r = jpki_reader_command(rd, generate, sizeof(generate), spki,
				     &spki_len, "generating the key pair")) !=
		0)
		return r;
	if ((*pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL) {
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the card's public key is unreadable");
	}
	return 0;
}

/* Writes an issued certificate and its CA's certificate to the card. */
static int install_cert(struct jpki_reader *rd, struct jpki_ca *ca,
			enum jpki_cert_type type,
			const struct jpki_cert_info *info)
{
	int sign = type == JPKI_CERT_SIGN;
	const unsigned char *p = info->der;
	X509 *cert = d2i_X509(NULL, &p, (long)info->der_len);
	int r;

	if (cert == NULL)
		return jpki_err_set(JPKI_ERR_INTERNAL, "issued an unreadable "
						       "certificate");
	r = write_cert(rd, sign ? JPKI_EF_SIGN_CERT : JPKI_EF_AUTH_CERT, cert);
	X509_free(cert);
	if (r != 0)
		return r;
	return write_cert(rd, sign ? JPKI_EF_SIGN_CA : JPKI_EF_AUTH_CA,
			  jpki_ca_cert(ca, type));
}

/* One side of the card: key pair, certificate, CA certificate, PIN. */
static int issue_side(char serial_out[41], struct jpki_reader *rd,
		      struct jpki_ca *ca, struct jpki_issue_request *req,
		      enum jpki_cert_type type, const char *pin)
{
	int sign = type == JPKI_CERT_SIGN;
	uint8_t apdu[5 + 16];
	struct jpki_cert_info *info = NULL;
	EVP_PKEY *pub = NULL;
	int r;

	if ((r = generate_key(&pub, rd, type)) != 0)
		return r;
	req->type = type;
	r = jpki_ca_issue(&info, ca, req, pub);
	EVP_PKEY_free(pub);
	if (r != 0)
		return r;
	snprintf(serial_out, 41, "%s", info->serial);
	r = install_cert(rd, ca, type, info);
	jpki_cert_info_free(info);
	if (r != 0 ||
	    (r = jpki_reader_select_ef(rd, sign ? JPKI_EF_SIGN_PIN
						: JPKI_EF_AUTH_PIN)) != 0)
		return r;
	apdu[0] = 0x00;
	apdu[1] = 0x2C;
	apdu[2] = 0x02;
	apdu[3] = 0x80;
	apdu[4] = (uint8_t)strlen(pin);
	memcpy(apdu + 5, pin, strlen(pin));
	r = jpki_reader_command(rd, apdu, 5 + strlen(pin), NULL, NULL,
				"setting the PIN");
	jpki_wipe(apdu, sizeof(apdu));
	return r;
}

int jpki_window_issue_card(struct jpki_window_card_result *out,
			   struct jpki_reader *rd, struct jpki_ca *ca,
			   EVP_PKEY *issuer,
			   const struct jpki_window_card_request *req)
{
	struct jpki_issue_request cert;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (req == NULL || req->version != JPKI_WINDOW_CARD_REQUEST_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "card request of an unknown version");
	if (req->auth_pin == NULL && req->sign_pin == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "neither certificate was asked for");
	cert = req->cert;
	/* the resident's chosen PINs, checked before the card is touched */
	if ((req->auth_pin != NULL &&
	     (r = jpki_card_pin_check(cert.card, JPKI_PIN_AUTH, req->auth_pin,
				      strlen(req->auth_pin))) != 0) ||
	    (req->sign_pin != NULL &&
	     (r = jpki_card_pin_check(cert.card, JPKI_PIN_SIGN, req->sign_pin,
				      strlen(req->sign_pin))) != 0))
		return r;
	if ((r = jpki_window_card_authenticate(rd, issuer)) != 0)
		return r;
	if (req->auth_pin != NULL &&
	    (r = issue_side(out->auth_serial, rd, ca, &cert, JPKI_CERT_AUTH,
			    req->auth_pin)) != 0)
		goto fail;
	if (req->sign_pin != NULL &&
	    (r = issue_side(out->sign_serial, rd, ca, &cert, JPKI_CERT_SIGN,
			    req->sign_pin)) != 0)
		goto fail;
	return 0;
fail:
	/* nothing issued may stay valid without its card */
	{
		char why[512];

		snprintf(why, sizeof(why), "%s", jpki_err_detail());
		if (out->auth_serial[0] != '\0' &&
		    jpki_ca_revoke(ca, out->auth_serial,
				   JPKI_REASON_UNSPECIFIED) != 0)
			jpki_log(JPKI_LOG_ERROR, "could not revoke %s: %s",
				 out->auth_serial, jpki_err_detail());
		if (out->sign_serial[0] != '\0' &&
		    jpki_ca_revoke(ca, out->sign_serial,
				   JPKI_REASON_UNSPECIFIED) != 0)
			jpki_log(JPKI_LOG_ERROR, "could not revoke %s: %s",
				 out->sign_serial, jpki_err_detail());
		jpki_err_set(r, "%s", why);
	}
	memset(out, 0, sizeof(*out));
	return r;
}

int window_card_renew(char new_serial[41], struct jpki_reader *rd,
		      struct jpki_ca *ca, EVP_PKEY *issuer,
		      const char *old_serial, enum jpki_cert_type type,
		      const struct jpki_date *card_expiry)
{
	struct jpki_cert_info *info = NULL;
	EVP_PKEY *pub = NULL;
	int r = JPKI_ERR_INTERNAL;

	new_serial[0] = '\0';
	if ((r = jpki_window_card_authenticate(rd, issuer)) != 0 ||
	    (r = generate_key(&pub, rd, type)) != 0)
		goto out;
	if ((r = jpki_ca_renew(&info, ca, old_serial, pub,
				 card_expiry)) != 0)
		goto out;
	if ((r = install_cert(rd, ca, type, info)) != 0) {
		char why[512];

		/* the new certificate must not stay valid off the card */
		snprintf(why, sizeof(why), "%s", jpki_err_detail());
		if (jpki_ca_revoke(ca, info->serial, JPKI_REASON_UNSPECIFIED) !=
		    0)
			jpki_log(JPKI_LOG_ERROR, "could not revoke %s: %s",
				 info->serial, jpki_err_detail());
		jpki_err_set(r, "%s", why);
		goto out;
	}
	snprintf(new_serial, 41, "%s", info->serial);
	r = 0;
out:
	jpki_cert_info_free(info);
	EVP_PKEY_free(pub);
	return r;
}

int window_card_kind(enum jpki_card_kind *out, struct jpki_reader *rd)
{
	/* SELECT of the authentication PIN file: 6A 82 on a Juki card */
	static const uint8_t select_auth_pin[] = {0x00, 0xA4, 0x02, 0x0C,
						  0x02, 0x00, 0x18};
	uint8_t resp[JPKI_READER_MAX_RESPONSE];
	size_t resp_len = sizeof(resp);
	uint16_t sw = 0;
	int r;

	*out = JPKI_CARD_MYNUMBER;
	if ((r = jpki_reader_select_ap(rd)) != 0 ||
	    (r = jpki_reader_transmit(rd, select_auth_pin,
				      sizeof(select_auth_pin), resp, &resp_len,
				      &sw)) != 0)
		return r;
	if (sw == 0x6A82)
		*out = JPKI_CARD_JUKI;
	else if (sw != 0x9000)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card answered %04X to selecting its "
				    "authentication PIN",
				    sw);
	return 0;
}

int window_card_pin_reset(struct jpki_reader *rd, EVP_PKEY *issuer,
			  enum jpki_card_pin which, const char *new_pin)
{
	uint8_t apdu[5 + 16];
	size_t len = new_pin != NULL ? strlen(new_pin) : 0;
	int r;

	if (len > 16)
		return jpki_err_set(JPKI_ERR_INVALID, "the PIN is too long");
	if ((r = jpki_window_card_authenticate(rd, issuer)) != 0 ||
	    (r = jpki_reader_select_ef(rd, which == JPKI_PIN_SIGN
					       ? JPKI_EF_SIGN_PIN
					       : JPKI_EF_AUTH_PIN)) != 0)
		return r;
	/* RESET RETRY COUNTER: 02 sets a new PIN, 03 unblocks the old one */
	apdu[0] = 0x00;
	apdu[1] = 0x2C;
	apdu[2] = new_pin != NULL ? 0x02 : 0x03;
	apdu[3] = 0x80;
	apdu[4] = (uint8_t)len;
	if (len > 0)
		memcpy(apdu + 5, new_pin, len);
	r = jpki_reader_command(rd, apdu, len > 0 ? 5 + len : 4, NULL, NULL,
				new_pin != NULL ? "setting the PIN"
						: "unlocking the PIN");
	jpki_wipe(apdu, sizeof(apdu));
	return r;
}
