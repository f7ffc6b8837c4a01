/* Seal registration and the kiosk's documents (services module): each
 * procedure with its refusal beside it, and the public check's answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/services.h"
#include "testutil.h"

/* a 32 x 32 grey PNG: a ring, as a seal's impression */
static const unsigned char seal_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
    0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20,
    0x08, 0x00, 0x00, 0x00, 0x00, 0x56, 0x11, 0x25, 0x28, 0x00, 0x00, 0x00,
    0x62, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xcd, 0x93, 0x41, 0x0e, 0xc0,
    0x20, 0x08, 0x04, 0xe7, 0xff, 0x9f, 0xb6, 0x17, 0xb5, 0x48, 0xb7, 0xae,
    0xc6, 0xa4, 0xe9, 0xde, 0x80, 0x49, 0x04, 0x5c, 0x28, 0x46, 0x6c, 0x03,
    0x4c, 0x62, 0x6e, 0x29, 0x80, 0x51, 0x0f, 0x00, 0x34, 0xc1, 0x5b, 0xbd,
    0x11, 0xc4, 0x7a, 0x7a, 0x2e, 0x00, 0xb9, 0xb3, 0x90, 0xa0, 0x87, 0x79,
    0xbc, 0x9a, 0x5b, 0x02, 0x54, 0xbd, 0x67, 0x1b, 0xa0, 0x96, 0xfc, 0x21,
    0xc0, 0x04, 0xe0, 0x2f, 0x4d, 0xfa, 0x4d, 0x9e, 0x7f, 0x96, 0xf7, 0x83,
    0x77, 0x94, 0xf7, 0xa4, 0x77, 0xb5, 0xbf, 0x0b, 0x7f, 0x59, 0x0b, 0xb7,
    0x29, 0x75, 0x01, 0xb6, 0x49, 0xc9, 0x53, 0xa6, 0x69, 0xaf, 0x56, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

struct fx {
	char *dir, *url;
	struct jpki_store *st;
	struct jpki_actor registry; /* registry clerk of 131016 */
	struct jpki_actor window;   /* window clerk of 131016 */
	struct jpki_actor osaka;    /* window clerk of 271004 */
	struct jpki_resident res;
};

static struct jpki_actor actor(const char *id, enum jpki_role role,
			       const char *mun)
{
	struct jpki_actor a = {0};

	snprintf(a.operator_id, sizeof(a.operator_id), "%s", id);
	a.role = role;
	snprintf(a.municipality_code, sizeof(a.municipality_code), "%s", mun);
	return a;
}

#define ADDRESS "千代田１番１号"

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct jpki_resident r = {0};
	char person[64];
	time_t t;

	if (f == NULL || jpki_clock_parse(&t, "2026-11-17T10:00:00") != 0)
		return -1;
	jpki_clock_freeze(t);
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_services_migrate(f->st) != 0)
		return -1;
	f->registry = actor("reg", JPKI_ROLE_REGISTRY_CLERK, "131016");
	f->window = actor("counter", JPKI_ROLE_WINDOW_CLERK, "131016");
	f->osaka = actor("osaka", JPKI_ROLE_WINDOW_CLERK, "271004");
	snprintf(r.municipality_code, sizeof(r.municipality_code), "131016");
	snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
	snprintf(r.municipality, sizeof(r.municipality), "千代田区");
	snprintf(r.facts.name, sizeof(r.facts.name), "山田　太郎");
	r.facts.sex = JPKI_SEX_MALE;
	r.facts.birth = (struct jpki_date){1980, 6, 1};
	snprintf(r.facts.address, sizeof(r.facts.address), ADDRESS);
	if (jpki_registry_register(person, f->st, &f->registry, &r) != 0 ||
	    jpki_registry_get(&f->res, f->st, person) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_store_close(f->st, f->url, f->dir);
	free(f);
	jpki_clock_reset();
	return 0;
}

static void test_image_check(void **state)
{
	struct jpki_seal_image im;
	unsigned char bad[sizeof(seal_png)];

	(void)state;
	assert_int_equal(
	    jpki_services_seal_image_check(&im, seal_png, sizeof(seal_png)), 0);
	assert_int_equal(im.width, 32);
	assert_int_equal(im.height, 32);
	/* negatives: cut short, a flipped byte in the data, not a PNG */
	assert_int_equal(jpki_services_seal_image_check(&im, seal_png,
							sizeof(seal_png) - 20),
			 JPKI_ERR_INVALID);
	memcpy(bad, seal_png, sizeof(bad));
	bad[60] ^= 0x55;
	assert_int_equal(jpki_services_seal_image_check(&im, bad, sizeof(bad)),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_services_seal_image_check(
			     &im, (const unsigned char *)"GIF89a....", 10),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_services_seal_image_check(
			     &im, seal_png, JPKI_SEAL_IMAGE_MAX + 1),
			 JPKI_ERR_TOO_LARGE);
}

static void test_register_and_cancel(void **state)
{
	struct fx *f = *state;
	struct jpki_seal s, got;
	const char *p = f->res.person;

	/* refusals first: nothing is kept */
	assert_int_equal(jpki_services_seal_register(&s, f->st, &f->osaka, p,
						     ADDRESS, seal_png,
						     sizeof(seal_png)),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_seal_register(&s, f->st, &f->registry, p,
						     ADDRESS, seal_png,
						     sizeof(seal_png)),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_seal_register(&s, f->st, &f->window, p,
						     "千代田２番２号", seal_png,
						     sizeof(seal_png)),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_seal_register(&s, f->st, &f->window, p,
						     ADDRESS, seal_png, 40),
			 JPKI_ERR_INVALID);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM services_seal"),
			 0);
	assert_int_equal(
	    tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE action = "
			    "'services.seal.register.refused'"),
	    3);
	assert_int_equal(jpki_services_seal_get(&got, NULL, NULL, f->st, p),
			 JPKI_ERR_NOT_FOUND);

	/* the registration; the address typed with a space still matches */
	assert_int_equal(jpki_services_seal_register(
			     &s, f->st, &f->window, p, "千代田 １番１号",
			     seal_png, sizeof(seal_png)),
			 0);
	assert_string_equal(s.number, "131016-000001");
	assert_int_equal(s.state, JPKI_SEAL_ACTIVE);
	assert_int_equal(strlen(s.image_sha256), 64);
	assert_int_equal(jpki_services_seal_register(&s, f->st, &f->window, p,
						     ADDRESS, seal_png,
						     sizeof(seal_png)),
			 JPKI_ERR_EXISTS);
	{
		unsigned char *img = NULL;
		size_t n = 0;

		assert_int_equal(
		    jpki_services_seal_get(&got, &img, &n, f->st, p), 0);
		assert_int_equal(n, sizeof(seal_png));
		assert_memory_equal(img, seal_png, n);
		free(img);
	}

	/* cancel: a reason is needed, another municipality may not */
	assert_int_equal(
	    jpki_services_seal_cancel(&s, f->st, &f->window, p, ""),
	    JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_services_seal_cancel(&s, f->st, &f->osaka, p, "lost"),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_services_seal_cancel(&s, f->st, &f->window, p, "lost"), 0);
	assert_int_equal(s.state, JPKI_SEAL_CANCELLED);
	assert_int_equal(
	    jpki_services_seal_cancel(&s, f->st, &f->window, p, "lost"),
	    JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_services_seal_get(&got, NULL, NULL, f->st, p), 0);
	assert_int_equal(got.state, JPKI_SEAL_CANCELLED);
	assert_string_equal(got.cancel_reason, "lost");

	/* a new seal after the cancel: the next number */
	assert_int_equal(jpki_services_seal_register(&s, f->st, &f->window, p,
						     ADDRESS, seal_png,
						     sizeof(seal_png)),
			 0);
	assert_string_equal(s.number, "131016-000002");
	assert_int_equal(jpki_services_seal_get(&got, NULL, NULL, f->st, p), 0);
	assert_int_equal(got.state, JPKI_SEAL_ACTIVE);
	assert_int_equal(
	    tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE action IN "
			    "('services.seal.register', "
			    "'services.seal.cancel')"),
	    3);
}

static void test_documents(void **state)
{
	struct fx *f = *state;
	struct jpki_seal s;
	struct jpki_document_check chk;
	char copy[JPKI_DOCUMENT_SERIAL_LEN + 1],
	    cert[JPKI_DOCUMENT_SERIAL_LEN + 1];
	unsigned char *pdf = NULL;
	size_t len = 0;
	time_t now = jpki_clock_now();

	assert_int_equal(
	    jpki_services_seal_register(&s, f->st, &f->window, f->res.person,
					ADDRESS, seal_png, sizeof(seal_png)),
	    0);
	assert_int_equal(jpki_services_document_issue(copy, f->st,
						      JPKI_DOC_RESIDENCE_COPY,
						      &f->res, NULL, "ABCDEF"),
			 0);
	assert_int_equal(
	    jpki_services_document_issue(cert, f->st, JPKI_DOC_SEAL_CERTIFICATE,
					 &f->res, s.number, "ABCDEF"),
	    0);
	assert_int_equal(strlen(cert), JPKI_DOCUMENT_SERIAL_LEN);
	assert_string_not_equal(copy, cert);
	assert_int_equal(
	    jpki_services_seal_certificate_pdf(
		&pdf, &len, &f->res, &s, seal_png, sizeof(seal_png), cert, now),
	    0);
	assert_true(len > 1000 && memcmp(pdf, "%PDF-", 5) == 0);
	free(pdf);

	assert_int_equal(jpki_services_document_check(&chk, f->st, cert), 0);
	assert_int_equal(chk.kind, JPKI_DOC_SEAL_CERTIFICATE);
	assert_true(chk.valid);
	/* 山田　太郎: the first character, a ＊ for each other but the space */
	assert_string_equal(chk.holder, "山＊＊＊");
	assert_string_equal(chk.municipality, "東京都千代田区");
	assert_int_equal(chk.issued_at, now);
	/* negatives: a serial of the wrong form, one never issued */
	assert_int_equal(jpki_services_document_check(&chk, f->st, "K1' OR 1"),
			 JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_services_document_check(&chk, f->st, "K0000000000000000"),
	    JPKI_ERR_NOT_FOUND);

	/* the seal cancelled: the certificate is no longer valid, the copy
	 * is; no new certificate for it */
	assert_int_equal(jpki_services_seal_cancel(&s, f->st, &f->window,
						   f->res.person, "changed"),
			 0);
	assert_int_equal(jpki_services_document_check(&chk, f->st, cert), 0);
	assert_false(chk.valid);
	assert_non_null(strstr(chk.why, "cancelled"));
	assert_int_equal(jpki_services_document_check(&chk, f->st, copy), 0);
	assert_true(chk.valid);
	assert_int_equal(
	    jpki_services_document_issue(cert, f->st, JPKI_DOC_SEAL_CERTIFICATE,
					 &f->res, s.number, "ABCDEF"),
	    JPKI_ERR_STATE);
	assert_int_equal(
	    tu_count(f->st, "SELECT COUNT(*) FROM services_document"), 2);

	/* 91 days on, the copy is past the page's period */
	jpki_clock_freeze(now + 91 * 86400);
	assert_int_equal(jpki_services_document_check(&chk, f->st, copy), 0);
	assert_false(chk.valid);
	assert_int_equal(
	    tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE action IN "
			    "('kiosk.residence_copy', "
			    "'kiosk.seal_certificate')"),
	    2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_image_check),
	    cmocka_unit_test_setup_teardown(test_register_and_cancel, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_documents, setup, teardown),
	};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
