/* The bounded reader and writer. */
#include <string.h>

#include "jpki/base.h"
#include "testutil.h"

static void test_typed_reads(void **state)
{
	const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04};
	struct jpki_cursor r;
	const uint8_t *p;
	uint8_t b;
	uint16_t w;

	jpki_cursor_init(&r, buf, sizeof(buf));
	assert_int_equal(jpki_cursor_u8(&r, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(jpki_cursor_u16(&r, &w), 0);
	assert_int_equal(w, 0x0203);
	assert_int_equal(jpki_cursor_left(&r), 1);
	assert_int_equal(jpki_cursor_bytes(&r, &p, 1), 0);
	assert_int_equal(p[0], 4);
	assert_int_equal(jpki_cursor_left(&r), 0);
}

static void test_reads_past_end_fail_and_keep_position(void **state)
{
	const uint8_t buf[] = {0xaa};
	struct jpki_cursor r;
	const uint8_t *p = buf;
	uint16_t w;

	jpki_cursor_init(&r, buf, sizeof(buf));
	assert_int_equal(jpki_cursor_u16(&r, &w), JPKI_ERR_PARSE);
	assert_int_equal(r.pos, 0);
	assert_int_equal(jpki_cursor_bytes(&r, &p, SIZE_MAX), JPKI_ERR_PARSE);
	assert_null(p);
	assert_int_equal(r.pos, 0);
	jpki_cursor_init(&r, NULL, 100);
	assert_int_equal(jpki_cursor_left(&r), 0);
}

static void test_tlv(void **state)
{
	const uint8_t buf[] = {0x5f, 0x1f, 0x02, 0xde, 0xad, /* 2-byte tag */
			       0x04, 0x81, 0x01, 0x99,       /* 81 length */
			       0x30, 0x82, 0x00, 0x00};      /* 82 length */
	struct jpki_cursor r;
	const uint8_t *v;
	size_t len;
	unsigned tag;

	jpki_cursor_init(&r, buf, sizeof(buf));
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), 0);
	assert_int_equal(tag, 0x5f1f);
	assert_int_equal(len, 2);
	assert_int_equal(v[0], 0xde);
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), 0);
	assert_int_equal(tag, 0x04);
	assert_int_equal(len, 1);
	assert_int_equal(v[0], 0x99);
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), 0);
	assert_int_equal(tag, 0x30);
	assert_int_equal(len, 0);
	assert_int_equal(jpki_cursor_left(&r), 0);
}

static void test_tlv_malformed(void **state)
{
	const uint8_t overlong[] = {0x04, 0x05, 0x01};      /* 5 > 1 left */
	const uint8_t badlen[] = {0x04, 0x84, 0, 0, 0, 1, 0}; /* 4-byte len */
	const uint8_t longtag[] = {0x5f, 0x81, 0x01, 0x00};
	struct jpki_cursor r;
	const uint8_t *v;
	size_t len;
	unsigned tag;

	jpki_cursor_init(&r, overlong, sizeof(overlong));
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), JPKI_ERR_PARSE);
	assert_int_equal(r.pos, 0);
	jpki_cursor_init(&r, badlen, sizeof(badlen));
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), JPKI_ERR_PARSE);
	assert_int_equal(r.pos, 0);
	jpki_cursor_init(&r, longtag, sizeof(longtag));
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), JPKI_ERR_PARSE);
	jpki_cursor_init(&r, overlong, 0);
	assert_int_equal(jpki_cursor_tlv(&r, &tag, &v, &len), JPKI_ERR_PARSE);
}

static void test_writer_bounds(void **state)
{
	uint8_t buf[3];
	struct jpki_writer w;

	jpki_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(jpki_writer_u16(&w, 0x9000), 0);
	assert_int_equal(jpki_writer_u16(&w, 0x1234), JPKI_ERR_TOO_LARGE);
	assert_int_equal(w.len, 2);
	assert_int_equal(jpki_writer_u8(&w, 7), 0);
	assert_int_equal(jpki_writer_u8(&w, 8), JPKI_ERR_TOO_LARGE);
	assert_int_equal(buf[0], 0x90);
	assert_int_equal(buf[2], 7);
}

static void test_errors_and_secrets(void **state)
{
	char secret[] = "123456";

	assert_int_equal(jpki_err_set(JPKI_ERR_POLICY, "rule %d", 7),
			 JPKI_ERR_POLICY);
	assert_string_equal(jpki_err_detail(), "rule 7");
	jpki_err_clear();
	assert_string_equal(jpki_err_detail(), "");
	assert_string_equal(jpki_strerror(JPKI_ERR_NOT_FOUND), "not found");
	assert_string_equal(jpki_strerror(-999), "unknown error");
	assert_true(jpki_ct_equal("abcd", "abcd", 4));
	assert_false(jpki_ct_equal("abcd", "abce", 4));
	jpki_wipe(secret, sizeof(secret));
	for (size_t i = 0; i < sizeof(secret); i++)
		assert_int_equal(secret[i], 0);
}

static void test_utf8(void **state)
{
	assert_int_equal(jpki_utf8_chars("abc"), 3);
	assert_int_equal(jpki_utf8_chars("山田　太郎"), 5);
	assert_int_equal(jpki_utf8_chars("\xf0\x9f\x98\x80"), 1);
	assert_int_equal(jpki_utf8_chars("\xff"), -1);
	assert_int_equal(jpki_utf8_chars("\xe5\xb1"), -1);   /* truncated */
	assert_int_equal(jpki_utf8_chars("\xc0\xaf"), -1);   /* overlong */
	assert_int_equal(jpki_utf8_chars("\xed\xa0\x80"), -1); /* surrogate */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_reads),
		cmocka_unit_test(test_reads_past_end_fail_and_keep_position),
		cmocka_unit_test(test_tlv),
		cmocka_unit_test(test_tlv_malformed),
		cmocka_unit_test(test_writer_bounds),
		cmocka_unit_test(test_errors_and_secrets),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
