/* The card's state: durability, the file format, issuing, the two kinds. */
#include <unistd.h>

#include "card_fixture.h"

#define SELECT_AP "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"

static int tries(struct jpki_card *card, enum jpki_card_pin pin)
{
	struct jpki_card_info info;

	jpki_card_info(card, &info);
	return info.tries[pin];
}

/* A spent try is on disk when the card answers. */
static void test_try_is_durable(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = cf_card(f), *again = NULL;

	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 1B", NULL, NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 20 00 80 06 41 41 41 41 41 31",
				 NULL, NULL),
			 0x63C4);
	/* a second process cannot open it while it is in use */
	assert_int_equal(jpki_card_open(&again, f->card_path), JPKI_ERR_STATE);
	jpki_card_free(card);
	/* what a restarted card reads from the file */
	assert_int_equal(jpki_card_open(&again, f->card_path), 0);
	assert_int_equal(tries(again, JPKI_PIN_SIGN), 4);
	assert_int_equal(tries(again, JPKI_PIN_AUTH), 3);
	jpki_card_free(again);
}

/* When the state cannot be saved the card answers 65 81, compares nothing
 * and spends nothing: no oracle for an attacker who breaks the disk. */
static void test_save_failure_refuses(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = cf_card(f);
	char *moved;

	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 18", NULL, NULL),
			 0x9000);
	assert_true(asprintf(&moved, "%s.moved", f->dir) > 0);
	assert_int_equal(rename(f->dir, moved), 0);
	assert_int_equal(cf_apdu(card, "00 20 00 80 04 31 32 33 34", NULL,
				 NULL),
			 0x6581);
	assert_int_equal(tries(card, JPKI_PIN_AUTH), 3);
	/* and the right PIN did not count as verified */
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 17", NULL, NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "80 2A 00 80 02 01 02 00", NULL, NULL),
			 0x6982);
	assert_int_equal(rename(moved, f->dir), 0);
	free(moved);
	jpki_card_free(card);
}

static void test_damaged_file_refused(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = NULL;
	unsigned char *copy = malloc(f->image_len);

	memcpy(copy, f->image, f->image_len);
	copy[f->image_len / 2] ^= 0x01;
	assert_int_equal(jpki_card_parse(&card, copy, f->image_len),
			 JPKI_ERR_PARSE);
	assert_non_null(strstr(jpki_err_detail(), "card file"));
	assert_null(card);
	for (size_t cut = 0; cut < f->image_len; cut += 97)
		assert_int_equal(jpki_card_parse(&card, f->image, cut),
				 JPKI_ERR_PARSE);
	memcpy(copy, f->image, f->image_len);
	copy[0] = 'X';
	assert_int_equal(jpki_card_parse(&card, copy, f->image_len),
			 JPKI_ERR_PARSE);
	assert_int_equal(jpki_card_parse(&card, f->image, f->image_len), 0);
	jpki_card_free(card);
	free(copy);
	/* a file that is not there, or not a card */
	assert_int_equal(jpki_card_open(&card, "/nonexistent/card"),
			 JPKI_ERR_IO);
	assert_int_equal(jpki_file_write_atomic(f->card_path, "hello", 5, 0600),
			 0);
	assert_int_equal(jpki_card_open(&card, f->card_path), JPKI_ERR_PARSE);
}

static void test_create_refuses_existing(void **state)
{
	struct card_fixture *f = *state;
	struct stat;

	assert_int_equal(jpki_card_create(f->card_path, JPKI_CARD_MYNUMBER,
					  f->issuer),
			 JPKI_ERR_EXISTS);
}

/* Only the issuer's key opens the issuing commands. */
static void test_issuer_authentication(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = cf_card(f);
	struct jpki_reader *rd = NULL;
	EVP_PKEY *other = EVP_EC_gen("P-256");

	assert_int_equal(jpki_reader_local(&rd, card), 0);
	assert_int_equal(jpki_window_card_authenticate(rd, other),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "6300"));
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 18", NULL, NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 2C 03 80", NULL, NULL), 0x6982);
	assert_int_equal(jpki_window_card_authenticate(rd, f->issuer), 0);
	/* now the window may unlock a PIN and set a new one */
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 18", NULL, NULL),
			 0x9000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cf_apdu(card, "00 20 00 80 04 30 30 30 30",
					 NULL, NULL),
				 0x63C2 - i);
	assert_int_equal(cf_apdu(card, "00 20 00 80 04 31 32 33 34", NULL,
				 NULL),
			 0x6984);
	assert_int_equal(cf_apdu(card, "00 2C 03 80", NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 20 00 80", NULL, NULL), 0x63C3);
	assert_int_equal(cf_apdu(card, "00 2C 02 80 03 31 32 33", NULL, NULL),
			 0x6A80);
	assert_int_equal(cf_apdu(card, "00 2C 02 80 04 39 38 37 36", NULL,
				 NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 20 00 80 04 39 38 37 36", NULL,
				 NULL),
			 0x9000);
	/* a reset ends the issuer's session */
	jpki_card_reset(card);
	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 18", NULL, NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 2C 03 80", NULL, NULL), 0x6982);
	EVP_PKEY_free(other);
	jpki_reader_free(rd);
	jpki_card_free(card);
}

/* The card's key signs what its certificate says; no command reveals it. */
static void test_signature_matches_certificate(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = cf_card(f);
	struct jpki_reader *rd = NULL;
	uint8_t cert[JPKI_READER_MAX_RESPONSE], sig[300];
	static const uint8_t digest_info[] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	uint8_t hash[32] = {1, 2, 3}, apdu[5 + 51 + 1];
	size_t cert_len = 0, sig_len = sizeof(sig), len;
	const uint8_t *der = jpki_card_public_file(card, JPKI_EF_AUTH_CERT,
						   &len);
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(x), NULL);
	uint16_t sw;

	(void)cert;
	(void)cert_len;
	assert_non_null(x);
	assert_int_equal(jpki_reader_local(&rd, card), 0);
	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 18", NULL, NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 20 00 80 04 31 32 33 34", NULL,
				 NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 17", NULL, NULL),
			 0x9000);
	memcpy(apdu, "\x80\x2A\x00\x80\x33", 5);
	memcpy(apdu + 5, digest_info, sizeof(digest_info));
	memcpy(apdu + 5 + sizeof(digest_info), hash, 32);
	apdu[sizeof(apdu) - 1] = 0x00;
	assert_int_equal(jpki_reader_transmit(rd, apdu, sizeof(apdu), sig,
					      &sig_len, &sw),
			 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(sig_len, 256);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, sig_len, hash, 32), 1);
	hash[0] ^= 1;
	assert_int_not_equal(EVP_PKEY_verify(ctx, sig, sig_len, hash, 32), 1);
	EVP_PKEY_CTX_free(ctx);
	X509_free(x);
	jpki_reader_free(rd);
	jpki_card_free(card);
}

/* The reader follows 61 xx with GET RESPONSE and resends on 6C xx. */
static void test_reader_chaining(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = cf_card(f);
	struct jpki_reader *rd = NULL;
	uint8_t resp[JPKI_READER_MAX_RESPONSE];
	size_t len = sizeof(resp);
	uint16_t sw;
	static const uint8_t challenge4[] = {0x00, 0x84, 0x00, 0x00, 0x04};

	assert_int_equal(jpki_reader_local(&rd, card), 0);
	assert_int_equal(jpki_window_card_authenticate(rd, f->issuer), 0);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 17", NULL, NULL),
			 0x9000);
	/* a new key pair: 294 bytes of public key come in two pieces */
	assert_int_equal(cf_apdu(card, "00 47 00 00 00", resp, &len), 0x6126);
	assert_int_equal(len, 256);
	len = sizeof(resp);
	assert_int_equal(jpki_reader_transmit(rd,
					      (const uint8_t *)"\x00\x47\x00\x00\x00",
					      5, resp, &len, &sw),
			 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(len, 294);
	len = sizeof(resp);
	assert_int_equal(jpki_reader_transmit(rd, challenge4, 5, resp, &len,
					      &sw),
			 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(len, 8);
	jpki_reader_free(rd);
	jpki_card_free(card);
}

static void test_pin_rules(void **state)
{
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_AUTH,
					     "1234", 4),
			 0);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_AUTH,
					     "12345", 5),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_AUTH,
					     "12A4", 4),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_SIGN,
					     "ABC123", 6),
			 0);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_SIGN,
					     "ABCDEF1234567890", 16),
			 0);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_SIGN,
					     "ABCDEF12345678901", 17),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_SIGN,
					     "123456", 6),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_MYNUMBER, JPKI_PIN_SIGN,
					     "abc123", 6),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_JUKI, JPKI_PIN_SIGN,
					     "1234", 4),
			 0);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_JUKI, JPKI_PIN_SIGN,
					     "ABCD", 4),
			 0);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_JUKI, JPKI_PIN_SIGN,
					     "123", 3),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_check(JPKI_CARD_JUKI, JPKI_PIN_AUTH,
					     "1234", 4),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_card_pin_max_tries(JPKI_CARD_MYNUMBER,
						 JPKI_PIN_SIGN),
			 5);
	assert_int_equal(jpki_card_pin_max_tries(JPKI_CARD_MYNUMBER,
						 JPKI_PIN_AUTH),
			 3);
	assert_int_equal(jpki_card_pin_max_tries(JPKI_CARD_JUKI, JPKI_PIN_SIGN),
			 5);
}

/* The Juki card: a signing side only, issued until 2015-12-22. */
static void test_juki_card(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_window_card_request req = {
		.version = JPKI_WINDOW_CARD_REQUEST_VERSION,
		.cert = JPKI_ISSUE_REQUEST_INIT};
	struct jpki_window_card_result res;
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;
	char *path;
	time_t t;

	assert_true(asprintf(&path, "%s/juki.jpki", f->dir) > 0);
	assert_int_equal(jpki_card_create(path, JPKI_CARD_JUKI, f->issuer), 0);
	assert_int_equal(jpki_card_open(&card, path), 0);
	assert_int_equal(jpki_reader_local(&rd, card), 0);
	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 18", NULL, NULL),
			 0x6A82);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 0A", NULL, NULL),
			 0x6A82);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 1B", NULL, NULL),
			 0x9000);
	assert_int_equal(cf_apdu(card, "00 20 00 80", NULL, NULL), 0x63C5);
	req.cert.card = JPKI_CARD_JUKI;
	req.cert.person = "J1";
	req.cert.municipality_code = "131016";
	req.cert.prefecture = "Tokyo-to";
	req.cert.municipality = "Chiyoda-ku";
	snprintf(req.cert.facts.name, sizeof(req.cert.facts.name), "佐藤　花子");
	snprintf(req.cert.facts.address, sizeof(req.cert.facts.address),
		 "東京都千代田区");
	req.cert.facts.sex = JPKI_SEX_FEMALE;
	req.cert.facts.birth = (struct jpki_date){1970, 2, 3};
	req.sign_pin = "AB12";
	/* after the end of Juki-card issue: refused, and nothing stays */
	assert_int_equal(jpki_window_issue_card(&res, rd, f->ca, f->issuer,
						&req),
			 JPKI_ERR_POLICY);
	assert_string_equal(res.sign_serial, "");
	assert_int_equal(jpki_clock_parse(&t, "2015-12-22"), 0);
	jpki_clock_freeze(t);
	req.auth_pin = "1234";
	assert_int_equal(jpki_window_issue_card(&res, rd, f->ca, f->issuer,
						&req),
			 JPKI_ERR_INVALID); /* no authentication PIN on Juki */
	req.auth_pin = NULL;
	assert_int_equal(jpki_window_issue_card(&res, rd, f->ca, f->issuer,
						&req),
			 0);
	assert_int_equal(strlen(res.sign_serial), 32);
	jpki_reader_free(rd);
	jpki_card_free(card);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_try_is_durable),
		cmocka_unit_test(test_save_failure_refuses),
		cmocka_unit_test(test_damaged_file_refused),
		cmocka_unit_test(test_create_refuses_existing),
		cmocka_unit_test(test_issuer_authentication),
		cmocka_unit_test(test_signature_matches_certificate),
		cmocka_unit_test(test_reader_chaining),
		cmocka_unit_test(test_pin_rules),
		cmocka_unit_test(test_juki_card),
	};

	return cmocka_run_group_tests(tests, cf_setup, cf_teardown);
}
