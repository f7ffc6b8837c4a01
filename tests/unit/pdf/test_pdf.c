/*
 * The pdf module without a card: signing with a stand-in signer that
 * returns fixed DER, reading the signature back through qpdf, the DSS
 * update, and later updates that do or do not change the signed document.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "jpki/pdf.h"

/* a DER SEQUENCE with a NULL inside, ending in a zero byte as a CMS may:
 * the reader must keep it, not strip it as padding */
static const uint8_t fake_cms[] = {0x30, 0x04, 0x05, 0x00, 0x05, 0x00};

struct seen {
	uint8_t *data;
	size_t len;
	size_t give; /* bytes of CMS to return; 0 = fake_cms */
	int fail;
};

static int stand_in(void *arg, uint8_t **cms, size_t *cms_len,
		    const uint8_t *data, size_t len)
{
	struct seen *s = arg;

	if (s->fail)
		return jpki_err_set(JPKI_ERR_CRYPTO, "the card said no");
	s->data = malloc(len);
	memcpy(s->data, data, len);
	s->len = len;
	*cms_len = s->give ? s->give : sizeof(fake_cms);
	*cms = OPENSSL_zalloc(*cms_len);
	if (!s->give)
		memcpy(*cms, fake_cms, sizeof(fake_cms));
	return 0;
}

static uint8_t *load(size_t *len)
{
	unsigned char *d = NULL;

	assert_int_equal(jpki_file_read(&d, len,
					JPKI_TEST_DATA "/pdf/application.pdf",
					JPKI_MAX_PDF),
			 0);
	return d;
}

static uint8_t *sign_it(size_t *out_len, const uint8_t *pdf, size_t len,
			struct seen *s)
{
	struct jpki_pdf_sign_options o = JPKI_PDF_SIGN_OPTIONS_INIT;
	uint8_t *out = NULL;

	o.when = 1764806400; /* 2025-12-04T00:00:00Z */
	o.name = "山田　花子";
	assert_int_equal(
	    jpki_pdf_sign(&out, out_len, pdf, len, &o, stand_in, s), 0);
	return out;
}

static void test_sign_then_read(void **state)
{
	struct seen s = {0};
	struct jpki_pdf_signature sig;
	size_t len, out_len;
	uint8_t *pdf = load(&len), *out = sign_it(&out_len, pdf, len, &s);

	/* the original bytes first, untouched */
	assert_true(out_len > len);
	assert_memory_equal(out, pdf, len);
	assert_int_equal(jpki_pdf_signature_read(&sig, out, out_len), 0);
	assert_int_equal(sig.n_signatures, 1);
	assert_string_equal(sig.subfilter, "ETSI.CAdES.detached");
	assert_string_equal(sig.when, "D:20251204000000Z");
	assert_int_equal(sig.range[0], 0);
	assert_int_equal(sig.range[2] - sig.range[1],
			 2 * JPKI_PDF_CONTENTS_MAX + 2);
	assert_int_equal(sig.signed_end, out_len);
	assert_false(sig.later);
	/* what the signer saw is what the range covers */
	assert_int_equal(sig.signed_len, s.len);
	assert_memory_equal(sig.signed_data, s.data, s.len);
	assert_int_equal(sig.cms_len, sizeof(fake_cms));
	assert_memory_equal(sig.cms, fake_cms, sizeof(fake_cms));
	jpki_pdf_signature_clear(&sig);

	/* one more signature over the signed file: the last one is read */
	{
		struct seen s2 = {0};
		size_t twice_len;
		uint8_t *twice = sign_it(&twice_len, out, out_len, &s2);

		assert_int_equal(
		    jpki_pdf_signature_read(&sig, twice, twice_len), 0);
		assert_int_equal(sig.n_signatures, 2);
		assert_int_equal(sig.signed_end, twice_len);
		assert_true(sig.range[1] > out_len);
		jpki_pdf_signature_clear(&sig);
		free(twice);
		free(s2.data);
	}
	free(s.data);
	free(out);
	free(pdf);
}

static void test_sign_refusals(void **state)
{
	struct jpki_pdf_sign_options o = JPKI_PDF_SIGN_OPTIONS_INIT;
	struct seen s = {0};
	size_t len, out_len = 7;
	uint8_t *pdf = load(&len), *out = (uint8_t *)"x";

	/* a CMS larger than the hole: nothing comes out */
	s.give = JPKI_PDF_CONTENTS_MAX + 1;
	assert_int_equal(
	    jpki_pdf_sign(&out, &out_len, pdf, len, &o, stand_in, &s),
	    JPKI_ERR_TOO_LARGE);
	assert_null(out);
	assert_int_equal(out_len, 0);
	free(s.data);

	/* the signer's error comes back as it is */
	memset(&s, 0, sizeof(s));
	s.fail = 1;
	assert_int_equal(
	    jpki_pdf_sign(&out, &out_len, pdf, len, &o, stand_in, &s),
	    JPKI_ERR_CRYPTO);
	assert_null(out);
	assert_string_equal(jpki_err_detail(), "the card said no");

	/* not a PDF, a damaged one, no options */
	s.fail = 0;
	assert_int_equal(jpki_pdf_sign(&out, &out_len, (const uint8_t *)"hello",
				       5, &o, stand_in, &s),
			 JPKI_ERR_PARSE);
	assert_int_equal(jpki_pdf_sign(&out, &out_len,
				       (const uint8_t *)"%PDF-1.7\nno\n", 12,
				       &o, stand_in, &s),
			 JPKI_ERR_PARSE);
	assert_int_equal(
	    jpki_pdf_sign(&out, &out_len, pdf, len, NULL, stand_in, &s),
	    JPKI_ERR_INVALID);
	assert_null(s.data);
	free(pdf);
}

static void test_read_refusals(void **state)
{
	struct jpki_pdf_signature sig;
	struct seen s = {0};
	size_t len, out_len;
	uint8_t *pdf = load(&len), *out;

	assert_int_equal(jpki_pdf_signature_read(&sig, pdf, len),
			 JPKI_ERR_NOT_FOUND);
	jpki_pdf_signature_clear(&sig);
	assert_int_equal(
	    jpki_pdf_signature_read(&sig, (const uint8_t *)"%PDF", 4),
	    JPKI_ERR_PARSE);
	jpki_pdf_signature_clear(&sig);

	out = sign_it(&out_len, pdf, len, &s);
	/* the first range made to start one byte later: same length, so
	 * qpdf still reads the file, and the range check refuses it */
	{
		char *br = strstr((char *)out, "/ByteRange [0 ");

		assert_non_null(br);
		br[12] = '1';
		assert_int_equal(jpki_pdf_signature_read(&sig, out, out_len),
				 JPKI_ERR_INVALID);
		assert_non_null(strstr(jpki_err_detail(), "/ByteRange"));
		jpki_pdf_signature_clear(&sig);
		br[12] = '0';
	}
	/* the signed revision cut short: the range runs past the end */
	assert_int_not_equal(jpki_pdf_signature_read(&sig, out, out_len - 1),
			     0);
	jpki_pdf_signature_clear(&sig);
	free(s.data);
	free(out);
	free(pdf);
}

/* Appends an update that writes object `id` again as `text`. */
static uint8_t *append_object(size_t *out_len, const uint8_t *pdf, size_t len,
			      int id, const char *text)
{
	const char *sx = NULL, *size = NULL;
	size_t prev;
	char *upd = NULL, *tail;
	size_t upd_len;
	FILE *f = open_memstream(&upd, &upd_len);
	uint8_t *out;

	/* the test's own update, written the way the module writes one */
	for (size_t i = len - 9; i > len - 200; i--)
		if (memcmp(pdf + i, "startxref", 9) == 0) {
			sx = (const char *)pdf + i;
			break;
		}
	assert_non_null(sx);
	prev = strtoul(sx + 10, &tail, 10);
	/* qpdf wants /Size one above the highest number: keep the last one */
	for (const char *p = sx; p > (const char *)pdf; p--)
		if (memcmp(p, "/Size ", 6) == 0) {
			size = p + 6;
			break;
		}
	assert_non_null(size);
	fprintf(f, "%d 0 obj\n%s\nendobj\n", id, text);
	fflush(f);
	{
		size_t xref = len + (size_t)ftell(f);

		fprintf(f,
			"xref\n%d 1\n%010zu 00000 n\r\ntrailer\n<< /Size %ld "
			"/Root 1 0 R /Prev %zu >>\nstartxref\n%zu\n%%%%EOF\n",
			id, len, strtol(size, NULL, 10), prev, xref);
	}
	fclose(f);
	out = malloc(len + upd_len);
	memcpy(out, pdf, len);
	memcpy(out + len, upd, upd_len);
	*out_len = len + upd_len;
	free(upd);
	return out;
}

static void test_dss_and_later_updates(void **state)
{
	struct jpki_pdf_signature sig;
	struct seen s = {0};
	uint8_t ocsp_der[] = {0x30, 0x03, 0x0A, 0x01, 0x00};
	uint8_t cert_der[] = {0x30, 0x00};
	struct jpki_pdf_blob ocsp = {ocsp_der, sizeof(ocsp_der)};
	struct jpki_pdf_blob cert = {cert_der, sizeof(cert_der)};
	size_t len, out_len, lt_len, bad_len;
	uint8_t *pdf = load(&len), *out = sign_it(&out_len, pdf, len, &s);
	uint8_t *lt = NULL, *bad;

	assert_int_equal(
	    jpki_pdf_add_dss(&lt, &lt_len, out, out_len, NULL, 0, NULL, 0),
	    JPKI_ERR_INVALID);
	assert_null(lt);
	assert_int_equal(
	    jpki_pdf_add_dss(&lt, &lt_len, out, out_len, &cert, 1, &ocsp, 1),
	    0);
	assert_memory_equal(lt, out, out_len);
	assert_int_equal(jpki_pdf_signature_read(&sig, lt, lt_len), 0);
	assert_true(sig.later);
	assert_true(sig.later_dss_only);
	assert_int_equal(sig.signed_end, out_len);
	assert_int_equal(sig.n_ocsps, 1);
	assert_int_equal(sig.ocsps[0].len, sizeof(ocsp_der));
	assert_memory_equal(sig.ocsps[0].data, ocsp_der, sizeof(ocsp_der));
	assert_int_equal(sig.n_certs, 1);
	jpki_pdf_signature_clear(&sig);

	/* a later update that changes the page is not validation data */
	bad = append_object(&bad_len, lt, lt_len, 3,
			    "<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 10 "
			    "10 ] >>");
	assert_int_equal(jpki_pdf_signature_read(&sig, bad, bad_len), 0);
	assert_true(sig.later);
	assert_false(sig.later_dss_only);
	assert_non_null(strstr(sig.changed, "3 0 obj"));
	jpki_pdf_signature_clear(&sig);
	free(bad);

	/* nor is one that adds a key to the catalog beside the DSS */
	bad = append_object(&bad_len, out, out_len, 1,
			    "<< /AcroForm << /Fields [ 7 0 R ] /SigFlags 3 >> "
			    "/OpenAction [ 3 0 R /Fit ] /Pages 2 0 R /Type "
			    "/Catalog >>");
	assert_int_equal(jpki_pdf_signature_read(&sig, bad, bad_len), 0);
	assert_false(sig.later_dss_only);
	assert_non_null(strstr(sig.changed, "1 0 obj"));
	jpki_pdf_signature_clear(&sig);
	free(bad);

	/* signed again over the B-LT file, and a second DSS replacing the
	 * first: still only validation data after the last signature */
	{
		struct seen s2 = {0};
		size_t again_len, lt2_len;
		uint8_t *again = sign_it(&again_len, lt, lt_len, &s2), *lt2;

		assert_int_equal(jpki_pdf_add_dss(&lt2, &lt2_len, again,
						  again_len, &cert, 1, &ocsp,
						  1),
				 0);
		assert_int_equal(jpki_pdf_signature_read(&sig, lt2, lt2_len),
				 0);
		assert_int_equal(sig.n_signatures, 2);
		assert_int_equal(sig.signed_end, again_len);
		assert_true(sig.later);
		assert_true(sig.later_dss_only);
		jpki_pdf_signature_clear(&sig);
		free(lt2);
		free(again);
		free(s2.data);
	}

	free(lt);
	free(s.data);
	free(out);
	free(pdf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_then_read),
	    cmocka_unit_test(test_sign_refusals),
	    cmocka_unit_test(test_read_refusals),
	    cmocka_unit_test(test_dss_and_later_updates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
