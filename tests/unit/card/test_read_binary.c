/*
 * READ BINARY at the end of a file, as clients of the real card read it
 * (issue #19): a read crossing the end answers the bytes there are with
 * 90 00, a read at or past the end 6B 00, Le = 00 asks for 256 bytes, and
 * offsets above 255 go through P1. Every file the card has is read so.
 */
#include "card/card_internal.h"
#include "card_fixture.h"

#define SELECT_AP "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"

static const uint16_t files[] = {JPKI_EF_AUTH_CERT, JPKI_EF_AUTH_CA,
				 JPKI_EF_SIGN_CERT, JPKI_EF_SIGN_CA,
				 JPKI_EF_TOKEN_INFO};

/* The card a test has open, closed by close_card() even when the test
 * failed half-way (an open card holds its lock: the next test could not
 * open it). */
static struct jpki_card *open_card;

static int close_card(void **state)
{
	(void)state;
	jpki_card_free(open_card);
	open_card = NULL;
	return 0;
}

/* A card with the AP selected and the signing PIN verified, so that every
 * data file (0001 too) can be read. */
static struct jpki_card *ready_card(struct card_fixture *f)
{
	struct jpki_card *card = open_card = cf_card(f);

	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	assert_int_equal(cf_apdu(card, "00 A4 02 0C 02 00 1B", NULL, NULL),
			 0x9000);
	assert_int_equal(
	    cf_apdu(card, "00 20 00 80 06 41 42 43 31 32 33", NULL, NULL),
	    0x9000);
	return card;
}

static void select_ef(struct jpki_card *card, uint16_t fid)
{
	char hex[32];

	snprintf(hex, sizeof(hex), "00 A4 02 0C 02 %02X %02X", fid >> 8,
		 fid & 0xFF);
	assert_int_equal(cf_apdu(card, hex, NULL, NULL), 0x9000);
}

/* READ BINARY at off with Le (1..256; 256 is sent as 00). */
static unsigned read_at(struct jpki_card *card, size_t off, size_t le,
			uint8_t *out, size_t *out_len)
{
	char hex[32];

	snprintf(hex, sizeof(hex), "00 B0 %02X %02X %02X", (unsigned)(off >> 8),
		 (unsigned)(off & 0xFF), (unsigned)(le & 0xFF));
	return cf_apdu(card, hex, out, out_len);
}

/* The file's bytes as the card holds them (and its length): from the
 * card's state, as jpki_card_public_file() never gives out 0001. */
static const uint8_t *file_of(struct jpki_card *card, uint16_t fid, size_t *len)
{
	for (int i = 0; i < FILE_COUNT; i++)
		if (card->files[i].fid == fid) {
			*len = card->files[i].len;
			assert_true(*len > 0);
			return card->files[i].data;
		}
	fail_msg("no file %04X", fid);
	return NULL;
}

/* The chunk that crosses the end: the bytes that are left, and 90 00. */
static void test_read_crossing_end(void **state)
{
	struct jpki_card *card = ready_card(*state);
	uint8_t buf[JPKI_CARD_MAX_RESPONSE];
	size_t len, n;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const uint8_t *want = file_of(card, files[i], &len);

		select_ef(card, files[i]);
		for (size_t left = 1; left <= 10; left++) {
			assert_int_equal(
			    read_at(card, len - left, 255, buf, &n), 0x9000);
			assert_int_equal(n, left);
			assert_memory_equal(buf, want + len - left, left);
		}
	}
}

/* Exactly to the end, then at the end: a read of what is left answers
 * 90 00 and the next read 6B 00; reading 255-byte chunks from 0 until
 * 6B 00 gives the whole file. */
static void test_read_exactly_at_end(void **state)
{
	struct jpki_card *card = ready_card(*state);
	uint8_t buf[JPKI_CARD_MAX_RESPONSE], got[JPKI_CARD_MAX_FILE];
	size_t len, n;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const uint8_t *want = file_of(card, files[i], &len);
		size_t off = 0, reads = 0;
		unsigned w;

		select_ef(card, files[i]);
		assert_int_equal(read_at(card, len - 7, 7, buf, &n), 0x9000);
		assert_int_equal(n, 7);
		assert_memory_equal(buf, want + len - 7, 7);
		assert_int_equal(read_at(card, len, 1, buf, &n), 0x6B00);
		assert_int_equal(n, 0);
		/* the client's loop */
		while ((w = read_at(card, off, 255, buf, &n)) == 0x9000) {
			assert_true(n > 0 && off + n <= len);
			memcpy(got + off, buf, n);
			off += n;
			assert_true(++reads < 20);
		}
		assert_int_equal(w, 0x6B00);
		assert_int_equal(off, len);
		assert_memory_equal(got, want, len);
	}
}

/* Past the end: 6B 00 and no data, wherever the read starts; and the
 * file is still read whole afterwards. */
static void test_read_past_end(void **state)
{
	struct jpki_card *card = ready_card(*state);
	uint8_t buf[JPKI_CARD_MAX_RESPONSE];
	size_t len, n;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const uint8_t *want = file_of(card, files[i], &len);
		/* where a 255-byte reader goes after the chunk crossing the
		 * end */
		size_t next = (len / 255 + 1) * 255;

		select_ef(card, files[i]);
		assert_int_equal(read_at(card, next - 255, 255, buf, &n),
				 0x9000);
		assert_int_equal(n, len - (next - 255));
		assert_memory_equal(buf, want + next - 255, n);
		assert_int_equal(read_at(card, next, 255, buf, &n), 0x6B00);
		assert_int_equal(n, 0);
		assert_int_equal(read_at(card, len + 1, 1, buf, &n), 0x6B00);
		assert_int_equal(read_at(card, len, 256, buf, &n), 0x6B00);
		assert_int_equal(read_at(card, 0x7FFF, 255, buf, &n), 0x6B00);
		assert_int_equal(n, 0);
		assert_int_equal(read_at(card, 0, 4, buf, &n), 0x9000);
		assert_memory_equal(buf, want, 4);
	}
}

/* Le = 00: 256 bytes where there are, the rest with 90 00 at the end. */
static void test_read_le_00(void **state)
{
	struct jpki_card *card = ready_card(*state);
	uint8_t buf[JPKI_CARD_MAX_RESPONSE], got[JPKI_CARD_MAX_FILE];
	size_t len, n;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const uint8_t *want = file_of(card, files[i], &len);
		size_t off = 0;
		unsigned w;

		select_ef(card, files[i]);
		while ((w = read_at(card, off, 256, buf, &n)) == 0x9000) {
			assert_int_equal(n, len - off < 256 ? len - off : 256);
			memcpy(got + off, buf, n);
			off += n;
		}
		assert_int_equal(w, 0x6B00);
		assert_int_equal(off, len);
		assert_memory_equal(got, want, len);
	}
	/* the certificates are longer than 256 bytes: one full answer */
	select_ef(card, JPKI_EF_AUTH_CERT);
	assert_int_equal(cf_apdu(card, "00 B0 00 00 00", buf, &n), 0x9000);
	assert_int_equal(n, 256);
}

/* Offsets above 255 are P1 (high byte) and P2 (low byte). */
static void test_read_offsets_p1p2(void **state)
{
	struct jpki_card *card = ready_card(*state);
	uint8_t buf[JPKI_CARD_MAX_RESPONSE];
	size_t len, n;
	const uint8_t *want = file_of(card, JPKI_EF_AUTH_CERT, &len);
	const size_t offs[] = {0x00FF, 0x0100, 0x0123, 0x01FF, 0x0201, 0x0300};

	assert_true(len > 0x0300 + 16);
	select_ef(card, JPKI_EF_AUTH_CERT);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		assert_int_equal(read_at(card, offs[i], 16, buf, &n), 0x9000);
		assert_int_equal(n, 16);
		assert_memory_equal(buf, want + offs[i], 16);
	}
	/* the end of the file, reached through P1 */
	assert_int_equal(read_at(card, len - 3, 200, buf, &n), 0x9000);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, want + len - 3, 3);
	assert_int_equal(read_at(card, len, 200, buf, &n), 0x6B00);
	/* a short EF identifier (P1 top bit) is still refused */
	assert_int_equal(cf_apdu(card, "00 B0 81 00 10", NULL, NULL), 0x6A86);
}

/* The signing certificate stays behind its PIN at the end too. */
static void test_read_sign_cert_needs_pin(void **state)
{
	struct card_fixture *f = *state;
	struct jpki_card *card = open_card = cf_card(f);
	uint8_t buf[JPKI_CARD_MAX_RESPONSE];
	size_t len, n;

	file_of(card, JPKI_EF_SIGN_CERT, &len);
	assert_int_equal(cf_apdu(card, SELECT_AP, NULL, NULL), 0x9000);
	select_ef(card, JPKI_EF_SIGN_CERT);
	assert_int_equal(read_at(card, len - 10, 255, buf, &n), 0x6982);
	assert_int_equal(n, 0);
	assert_int_equal(read_at(card, len, 255, buf, &n), 0x6982);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_read_crossing_end, close_card),
	    cmocka_unit_test_teardown(test_read_exactly_at_end, close_card),
	    cmocka_unit_test_teardown(test_read_past_end, close_card),
	    cmocka_unit_test_teardown(test_read_le_00, close_card),
	    cmocka_unit_test_teardown(test_read_offsets_p1p2, close_card),
	    cmocka_unit_test_teardown(test_read_sign_cert_needs_pin,
				      close_card),
	};

	return cmocka_run_group_tests(tests, cf_setup, cf_teardown);
}
