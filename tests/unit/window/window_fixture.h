/* The window tests' fixture: a fresh store with both CAs, the card
 * issuer's key and the window's tables (SQLite, or a fresh PostgreSQL
 * database when JPKI_TEST_PG is set: tu_store_url()), the registry's and
 * the window's clerks, residents, virtual cards in a local reader and a
 * photo-ID application request. Shared by test_procedures.c, test_rules.c
 * and test_office.c. */
#ifndef JPKI_WINDOW_FIXTURE_H
#define JPKI_WINDOW_FIXTURE_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "jpki/card.h"
#include "jpki/reader.h"
#include "jpki/window.h"
#include "testutil.h"
#include "window/window_internal.h"

#define ADDRESS "東京都千代田区千代田１番１号"
#define CODE "131016"

struct wf {
	char *dir;
	char *db;
	struct jpki_store *st;
	struct jpki_ca *ca;
	EVP_PKEY *issuer;
	struct jpki_actor reg, clerk, other, branch, branch2;
	int cards;
};

struct tcard {
	struct jpki_card *card;
	struct jpki_reader *rd;
};

static inline void at(const char *when)
{
	time_t t;

	assert_int_equal(jpki_clock_parse(&t, when), 0);
	jpki_clock_freeze(t);
}

static inline int setup_at(void **state, const char *when)
{
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct wf *f = calloc(1, sizeof(*f));
	char *keys = NULL, *ikey = NULL;
	time_t t;

	jpki_log_set_level(JPKI_LOG_ERROR);
	setenv("JPKI_ARGON2_TEST", "1", 1);
	if (f == NULL || jpki_clock_parse(&t, when) != 0)
		return -1;
	jpki_clock_freeze(t);
	f->dir = tu_tmpdir();
	if ((f->db = tu_store_url(f->dir)) == NULL ||
	    asprintf(&keys, "%s/keys", f->dir) < 0 ||
	    asprintf(&ikey, "%s/issuer.key", f->dir) < 0)
		return -1;
	opts.key_dir = keys;
	opts.public_url = "http://127.0.0.1:8080";
	if (jpki_store_open(&f->st, f->db) != 0 ||
	    jpki_ca_init(f->st, &opts) != 0 ||
	    jpki_ca_open(&f->ca, f->st, NULL) != 0 ||
	    jpki_window_issuer_key(&f->issuer, ikey, 1) != 0 ||
	    jpki_window_migrate(f->st) != 0) {
		fprintf(stderr, "window fixture: %s\n", jpki_err_detail());
		return -1;
	}
	free(keys);
	free(ikey);
	f->reg = (struct jpki_actor){.operator_id = "reg1",
				     .role = JPKI_ROLE_REGISTRY_CLERK,
				     .municipality_code = CODE};
	f->clerk = (struct jpki_actor){.operator_id = "clerk1",
				       .role = JPKI_ROLE_WINDOW_CLERK,
				       .municipality_code = CODE};
	f->other = (struct jpki_actor){.operator_id = "clerk2",
				       .role = JPKI_ROLE_WINDOW_CLERK,
				       .municipality_code = "271004"};
	/* two branch offices' clerks (test_office.c) */
	f->branch = f->clerk;
	snprintf(f->branch.operator_id, sizeof(f->branch.operator_id),
		 "kanda1");
	snprintf(f->branch.office_code, sizeof(f->branch.office_code),
		 CODE "-kanda");
	f->branch2 = f->clerk;
	snprintf(f->branch2.operator_id, sizeof(f->branch2.operator_id),
		 "fuji1");
	snprintf(f->branch2.office_code, sizeof(f->branch2.office_code),
		 CODE "-fuji");
	*state = f;
	return 0;
}

/* A Monday, 10:00 in Japan. */
static inline int setup(void **state)
{
	return setup_at(state, "2026-02-02T10:00:00");
}

/* Before the Juki card's end, with a CA valid then. */
static inline int setup_2015(void **state)
{
	return setup_at(state, "2015-12-01T10:00:00");
}

static inline int teardown(void **state)
{
	struct wf *f = *state;

	jpki_ca_free(f->ca);
	jpki_store_free(f->st);
	EVP_PKEY_free(f->issuer);
	tu_store_drop(f->db);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	jpki_clock_reset();
	return 0;
}

static inline void resident(struct wf *f, char person[64], const char *birth,
		     int guardianship)
{
	struct jpki_resident r;

	memset(&r, 0, sizeof(r));
	snprintf(r.municipality_code, sizeof(r.municipality_code), CODE);
	snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
	snprintf(r.municipality, sizeof(r.municipality), "千代田区");
	snprintf(r.facts.name, sizeof(r.facts.name), "山田　太郎");
	snprintf(r.facts.address, sizeof(r.facts.address), ADDRESS);
	r.facts.sex = JPKI_SEX_MALE;
	assert_int_equal(jpki_date_parse(&r.facts.birth, birth), 0);
	if (jpki_registry_register(person, f->st, &f->reg, &r) != 0)
		fail_msg("register: %s", jpki_err_detail());
	if (guardianship)
		assert_int_equal(
		    jpki_registry_set_guardianship(f->st, &f->reg, person, 1),
		    0);
}

static inline void new_card(struct wf *f, struct tcard *c, enum jpki_card_kind kind)
{
	char *path;

	assert_true(asprintf(&path, "%s/card%d.jpki", f->dir, f->cards++) > 0);
	assert_int_equal(jpki_card_create(path, kind, f->issuer), 0);
	assert_int_equal(jpki_card_open(&c->card, path), 0);
	assert_int_equal(jpki_reader_local(&c->rd, c->card), 0);
	free(path);
}

static inline void close_card(struct tcard *c)
{
	jpki_reader_free(c->rd);
	jpki_card_free(c->card);
}

static inline struct jpki_application_request photo_req(const char *person)
{
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;

	req.person = person;
	req.want_sign = 1;
	req.want_auth = 1;
	req.path = JPKI_ID_PHOTO;
	req.photo_id_kind = "driving-licence";
	req.photo_id_address = ADDRESS;
	return req;
}

static inline int64_t count(struct wf *f, const char *sql)
{
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, f->st, sql, NULL, 0), 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

static inline void refused(int r, int want, const char *needle)
{
	if (r != want)
		fail_msg("expected %d, got %d: %s", want, r, jpki_err_detail());
	if (needle != NULL && strstr(jpki_err_detail(), needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, jpki_err_detail());
}

static inline void ok(int r)
{
	if (r != 0)
		fail_msg("failed (%d): %s", r, jpki_err_detail());
}

static inline void chain_ok(struct wf *f)
{
	struct jpki_audit_report rep;

	ok(jpki_audit_verify(&rep, f->st));
	if (!rep.ok)
		fail_msg("audit chain: %s", rep.why);
}

/* An application taken with photo ID and issued onto a fresh card. */
static inline void issue_both(struct wf *f, const char *person,
		       struct jpki_window_issue_result *res, struct tcard *c)
{
	struct jpki_application_request req = photo_req(person);
	struct jpki_application a;

	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.state, JPKI_APP_READY);
	new_card(f, c, JPKI_CARD_MYNUMBER);
	ok(jpki_window_issue(res, f->st, f->ca, c->rd, f->issuer, &f->clerk,
			     a.id, "1234", "ABC123"));
}

#endif
