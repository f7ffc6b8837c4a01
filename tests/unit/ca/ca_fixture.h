/* A fresh store with both CAs, for the CA tests: SQLite, or a fresh
 * PostgreSQL database when JPKI_TEST_PG is set (tu_store_url()). */
#ifndef JPKI_CA_FIXTURE_H
#define JPKI_CA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "jpki/ca.h"
#include "jpki/registry.h"
#include "testutil.h"

struct ca_fixture {
	char *dir;
	char *url;
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *key;
};

static inline void fx_at(const char *when)
{
	time_t t;

	assert_int_equal(jpki_clock_parse(&t, when), 0);
	jpki_clock_freeze(t);
}

static inline int fx_setup(void **state)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct ca_fixture *f = calloc(1, sizeof(*f));
	char *keys = NULL;
	int r;

	fx_at("2026-01-10");
	f->dir = tu_tmpdir();
	if ((f->url = tu_store_url(f->dir)) == NULL ||
	    asprintf(&keys, "%s/keys", f->dir) < 0)
		return -1;
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	r = jpki_store_open(&f->st, f->url);
	if (r == 0)
		r = jpki_ca_init(f->st, &opts);
	if (r == 0)
		r = jpki_ca_open(&f->ca, f->st, NULL);
	free(keys);
	if (r != 0) {
		fprintf(stderr, "fixture: %s\n", jpki_err_detail());
		return -1;
	}
	f->key = tu_rsa_key(2048);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct ca_fixture *f = *state;

	jpki_ca_free(f->ca);
	tu_store_close(f->st, f->url, f->dir);
	EVP_PKEY_free(f->key);
	free(f);
	jpki_clock_reset();
	return 0;
}

/* A signing-certificate request for a resident of Chiyoda-ku. */
static inline struct jpki_issue_request fx_request(enum jpki_cert_type type,
						   const char *person)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;

	req.type = type;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = person;
	req.municipality_code = "131016";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	snprintf(req.facts.address, sizeof(req.facts.address),
		 "東京都千代田区千代田１番１号");
	req.card_expiry = (struct jpki_date){2035, 6, 1};
	return req;
}

static inline struct jpki_cert_info *fx_issue(struct ca_fixture *f,
					      enum jpki_cert_type type,
					      const char *person)
{
	struct jpki_issue_request req = fx_request(type, person);
	struct jpki_cert_info *info = NULL;
	int r = jpki_ca_issue(&info, f->ca, &req, f->key);

	if (r != 0)
		fprintf(stderr, "issue: %s\n", jpki_err_detail());
	assert_int_equal(r, 0);
	assert_non_null(info);
	return info;
}

static inline X509 *fx_x509(const struct jpki_cert_info *info)
{
	const unsigned char *p = info->der;

	return d2i_X509(NULL, &p, (long)info->der_len);
}

/* DER of a PKCS#10 request signed by `key`. */
static inline unsigned char *fx_csr(EVP_PKEY *key, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	int n;

	X509_REQ_set_pubkey(req, key);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
				   MBSTRING_ASC, (const unsigned char *)"x", -1,
				   -1, 0);
	X509_REQ_sign(req, key, EVP_sha256());
	n = i2d_X509_REQ(req, &der);
	X509_REQ_free(req);
	*len = n > 0 ? (size_t)n : 0;
	return der;
}

static inline int64_t fx_count(struct ca_fixture *f, const char *sql)
{
	return tu_count(f->st, sql);
}

/* The resident fx_request() describes (Chiyoda-ku), to register. */
static inline struct jpki_resident fx_resident(void)
{
	struct jpki_issue_request req = fx_request(JPKI_CERT_SIGN, "x");
	struct jpki_resident r = {0};

	snprintf(r.municipality_code, sizeof(r.municipality_code), "%s",
		 req.municipality_code);
	snprintf(r.prefecture, sizeof(r.prefecture), "%s", req.prefecture);
	snprintf(r.municipality, sizeof(r.municipality), "%s",
		 req.municipality);
	r.facts = req.facts;
	return r;
}

#endif
