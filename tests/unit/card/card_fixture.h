/* A CA and a My Number card issued by it, for the card tests. */
#ifndef JPKI_CARD_FIXTURE_H
#define JPKI_CARD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/x509.h>

#include "jpki/card.h"
#include "jpki/reader.h"
#include "jpki/window.h"
#include "testutil.h"

struct card_fixture {
	char *dir;
	char *card_path;
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *issuer;
	unsigned char *image; /* the issued card file, to start each test from */
	size_t image_len;
};

/* Writes the issued card image back and opens it. */
static inline struct jpki_card *cf_card(struct card_fixture *f)
{
	struct jpki_card *card = NULL;

	assert_int_equal(jpki_file_write_atomic(f->card_path, f->image,
						f->image_len, 0600),
			 0);
	assert_int_equal(jpki_card_open(&card, f->card_path), 0);
	return card;
}

static inline int cf_setup(void **state)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct jpki_window_card_request req = {
		.version = JPKI_WINDOW_CARD_REQUEST_VERSION,
		.cert = JPKI_ISSUE_REQUEST_INIT};
	struct jpki_window_card_result res;
	struct card_fixture *f = calloc(1, sizeof(*f));
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;
	char *db, *keys, *ikey;
	time_t t;

	jpki_log_set_level(JPKI_LOG_ERROR);
	if (jpki_clock_parse(&t, "2026-01-10") != 0)
		return -1;
	jpki_clock_freeze(t);
	f->dir = tu_tmpdir();
	if (asprintf(&db, "%s/jpki.db", f->dir) < 0 ||
	    asprintf(&keys, "%s/keys", f->dir) < 0 ||
	    asprintf(&ikey, "%s/issuer.key", f->dir) < 0 ||
	    asprintf(&f->card_path, "%s/card.jpki", f->dir) < 0)
		return -1;
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
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
	if (jpki_store_open(&f->st, db) != 0 ||
	    jpki_ca_init(f->st, &opts) != 0 ||
	    jpki_ca_open(&f->ca, f->st, NULL) != 0 ||
	    jpki_window_issuer_key(&f->issuer, ikey, 1) != 0 ||
	    jpki_card_create(f->card_path, JPKI_CARD_MYNUMBER, f->issuer) != 0 ||
	    jpki_card_open(&card, f->card_path) != 0 ||
	    jpki_reader_local(&rd, card) != 0 ||
	    jpki_window_issue_card(&res, rd, f->ca, f->issuer, &req) != 0) {
		fprintf(stderr, "card fixture: %s\n", jpki_err_detail());
		return -1;
	}
	jpki_reader_free(rd);
	jpki_card_free(card);
	if (jpki_file_read(&f->image, &f->image_len, f->card_path,
			   1024 * 1024) != 0)
		return -1;
	free(db);
	free(keys);
	free(ikey);
	*state = f;
	return 0;
}

static inline int cf_teardown(void **state)
{
	struct card_fixture *f = *state;

	jpki_ca_free(f->ca);
	jpki_store_free(f->st);
	EVP_PKEY_free(f->issuer);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->card_path);
	free(f->image);
	free(f);
	jpki_clock_reset();
	return 0;
}

/* Sends hex "00 A4 ..." to the card and returns the status word; the
 * response data go to resp (if not NULL). */
static inline unsigned cf_apdu(struct jpki_card *card, const char *hex,
			       uint8_t *resp, size_t *resp_len)
{
	uint8_t apdu[512], out[JPKI_CARD_MAX_RESPONSE];
	size_t n = 0, out_len = 0;
	unsigned v;

	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		assert_int_equal(sscanf(p, "%2x", &v), 1);
		apdu[n++] = (uint8_t)v;
		p += 2;
	}
	if (jpki_card_process(card, apdu, n, out, &out_len) != 0)
		print_message("card state not saved: %s\n", jpki_err_detail());
	assert_true(out_len >= 2);
	if (resp != NULL) {
		memcpy(resp, out, out_len - 2);
		*resp_len = out_len - 2;
	}
	return (unsigned)(out[out_len - 2] << 8 | out[out_len - 1]);
}

#endif
