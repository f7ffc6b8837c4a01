/*
 * The window's procedures (SPEC section 3): each refusal rule with its
 * negative case, and the paths through to a card in the reader.
 */
#include "window_fixture.h"

/* Everything a procedure could change, summed: a refusal leaves it. */
static int64_t snapshot(struct wf *f)
{
	/* a refusal is recorded as such (window.refused, ...): it
	 * changes nothing else */
	return count(f, "SELECT COUNT(*) FROM audit_log WHERE action NOT"
			" LIKE '%.refused'") *
		   1000000 +
	       count(f, "SELECT COUNT(*) FROM window_application") * 10000 +
	       count(f, "SELECT COUNT(*) FROM window_fee") * 100 +
	       count(f, "SELECT COALESCE(SUM(used), 0) FROM "
			"window_capacity_use");
}

/* A same-day renewal of the signing certificate with a photo ID. */
static int renew_photo(struct wf *f, struct jpki_window_issue_result *res,
		       struct tcard *c, const char *person)
{
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;

	rr.person = person;
	rr.photo_id_kind = "driving-licence";
	rr.photo_id_address = ADDRESS;
	return jpki_window_renew(res, f->st, f->ca, c->rd, f->issuer,
				 &f->clerk, &rr);
}

/* The Juki card itself, applied for with a photo ID and handed over
 * blank (its fee in the ledger), in `c`. */
static void juki_card(struct wf *f, struct tcard *c, const char *person)
{
	struct jpki_application_request req = photo_req(person);
	struct jpki_window_card wc;
	struct jpki_application a;
	int fee = 0;

	req.card = JPKI_CARD_JUKI;
	req.kind = JPKI_APP_KIND_JUKI_CARD;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	new_card(f, c, JPKI_CARD_JUKI);
	ok(jpki_window_juki_card(&wc, &fee, f->st, &f->clerk, a.id, c->rd));
	assert_int_equal(fee, 500);
}

static enum jpki_cert_status status_of(struct wf *f, const char *serial,
				       enum jpki_reason *reason)
{
	struct jpki_cert_info *info = NULL;
	enum jpki_cert_status s;

	ok(jpki_ca_status(&info, f->ca, serial));
	s = info->status;
	if (reason != NULL)
		*reason = info->reason;
	jpki_cert_info_free(info);
	return s;
}

/* ---- same-day issue with photo ID ---------------------------------------- */

static void test_photo_same_day(void **state)
{
	struct wf *f = *state;
	struct jpki_window_issue_result res;
	struct jpki_application a, *list = NULL;
	struct jpki_card_info info;
	struct jpki_fee *fees = NULL;
	struct tcard c;
	char person[64];
	size_t n = 0;

	resident(f, person, "1980-06-01", 0);
	issue_both(f, person, &res, &c);
	assert_int_equal(strlen(res.sign_serial) > 0, 1);
	assert_int_equal(strlen(res.auth_serial) > 0, 1);
	assert_int_equal(res.fee_yen, 0);
	assert_int_equal(status_of(f, res.sign_serial, NULL), JPKI_STATUS_GOOD);
	jpki_card_info(c.card, &info);
	assert_true(info.pin_set[JPKI_PIN_AUTH] && info.pin_set[JPKI_PIN_SIGN]);
	assert_true(info.key_present[JPKI_PIN_AUTH] &&
		    info.key_present[JPKI_PIN_SIGN]);

	ok(jpki_window_applications(&list, &n, f->st, &f->clerk, CODE, 0));
	assert_int_equal(n, 1);
	assert_int_equal(list[0].state, JPKI_APP_ISSUED);
	assert_string_equal(list[0].sign_serial, res.sign_serial);
	ok(jpki_window_application(&a, f->st, &f->clerk, list[0].id));
	assert_string_equal(a.auth_serial, res.auth_serial);
	free(list);

	/* the fee ledger has its row, at 0 yen for a My Number card */
	ok(jpki_window_fees(&fees, &n, f->st, CODE));
	assert_int_equal(n, 1);
	assert_string_equal(fees[0].what, "issue");
	assert_int_equal(fees[0].yen, 0);
	assert_string_equal(fees[0].operator_id, "clerk1");
	assert_string_equal(fees[0].person, person);
	free(fees);
	ok(jpki_window_fees(&fees, &n, f->st, "271004"));
	assert_int_equal(n, 0);
	free(fees);

	/* issued once: a second issue of the same application is refused */
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "1234", "ABC123"),
		JPKI_ERR_STATE, "issued already");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE "
				  "action = 'window.issue'"),
			 1);
	chain_ok(f);
	close_card(&c);
}

static void test_photo_address(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	char person[64];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	before = snapshot(f);
	req = photo_req(person);
	/* a licence still showing the old address */
	req.photo_id_address = "東京都港区芝公園４丁目２番８号";
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"not the registered address");
	req.photo_id_address = NULL;
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"not the registered address");
	/* a photo path without a photo ID */
	req.photo_id_kind = NULL;
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"photo ID");
	assert_true(snapshot(f) == before);
	/* the same address with spaces typed in is the same address */
	req = photo_req(person);
	req.photo_id_address = "東京都 千代田区　千代田１番１号 ";
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.state, JPKI_APP_READY);
}

/* ---- eligibility ------------------------------------------------------------
 */

static void test_under_15(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	char person[64];
	int64_t before;

	resident(f, person, "2012-03-01", 0); /* 13 */
	before = snapshot(f);
	req = photo_req(person);
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"under 15");
	assert_true(snapshot(f) == before);
	/* the authentication certificate alone is fine */
	req.want_sign = 0;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.want_sign, 0);
	assert_int_equal(a.want_auth, 1);
	/* and the signing one with a special circumstance recorded */
	req.want_sign = 1;
	req.special_circumstance = "家庭裁判所の\"許可\" (令和8年1月)";
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.want_sign, 1);
	/* 15 on the day: eligible */
	resident(f, person, "2011-02-02", 0);
	req = photo_req(person);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	chain_ok(f);
}

static void test_guardianship(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	char person[64];
	int64_t before;

	resident(f, person, "1950-04-01", 1);
	before = snapshot(f);
	req = photo_req(person);
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"guardianship");
	assert_true(snapshot(f) == before);
	req.special_circumstance = "成年後見人の同席";
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.state, JPKI_APP_READY);
}

static void test_not_registered(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = photo_req("R00000000000000AA");
	struct jpki_application a;
	char person[64];

	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"resident register");
	resident(f, person, "1980-06-01", 0);
	ok(jpki_registry_death(f->st, &f->reg, person));
	req = photo_req(person);
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"no longer");
}

static void test_other_municipality(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	struct tcard c;
	char person[64];
	size_t n;
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	req = photo_req(person);
	before = snapshot(f);
	refused(jpki_window_apply(&a, f->st, &f->other, &req), JPKI_ERR_POLICY,
		"271004");
	/* nor may a registry clerk of the right one do the window's work */
	refused(jpki_window_apply(&a, f->st, &f->reg, &req), JPKI_ERR_POLICY,
		NULL);
	assert_true(snapshot(f) == before);
	/* the clerk of another municipality is on the chain */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'window.refused' AND operator ="
				  " 'clerk2'"),
			 1);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	new_card(f, &c, JPKI_CARD_MYNUMBER);
	before = snapshot(f);
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->other, a.id, "1234", "ABC123"),
		JPKI_ERR_POLICY, "271004");
	refused(jpki_window_report(&n, f->st, f->ca, &f->other, person,
				   JPKI_LOSS_LOST),
		JPKI_ERR_POLICY, "271004");
	refused(jpki_window_set_capacity(f->st, &f->other, CODE, 5),
		JPKI_ERR_POLICY, "271004");
	assert_true(snapshot(f) == before);
	close_card(&c);
}

/* ---- identity paths
 * ------------------------------------------------------------ */

static void test_letter_path(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_window_issue_result res;
	struct jpki_application a, back;
	struct tcard c;
	char person[64], wrong[17], code[WINDOW_LETTER_CODE_LEN + 1];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	req.person = person;
	req.want_sign = 1;
	req.want_auth = 1;
	req.path = JPKI_ID_NO_PHOTO;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.state, JPKI_APP_WAITING_LETTER);
	assert_true(a.letter_mailed_at == jpki_clock_now());
	/* no code before the letter is printed: nothing to bring back */
	at("2026-02-03T10:00:00");
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id,
					    "ABCDEFGHJKLMNPQR",
					    "health-insurance-card"),
		JPKI_ERR_STATE, "printed");
	at("2026-02-02T10:00:00");
	ok(window_letter_code(code, &a, f->st, &f->clerk, a.id));
	assert_int_equal(strlen(code), 16);

	new_card(f, &c, JPKI_CARD_MYNUMBER);
	before = snapshot(f);
	/* no issue before the letter is back */
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "1234", "ABC123"),
		JPKI_ERR_STATE, "inquiry letter");
	/* not on the day it was mailed, even with the right code */
	at("2026-02-02T16:00:00");
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
					    "health-insurance-card"),
		JPKI_ERR_POLICY, "same day");
	at("2026-02-03T10:00:00");
	snprintf(wrong, sizeof(wrong), "%s", code);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id,
					    wrong, "health-insurance-card"),
		JPKI_ERR_POLICY, "not the one");
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
					    NULL),
		JPKI_ERR_POLICY, "another document");
	refused(jpki_window_letter_returned(&back, f->st, &f->other, a.id, code,
					    "health-insurance-card"),
		JPKI_ERR_POLICY, "271004");
	/* only the wrong code is recorded (window.letter.wrong_code) */
	assert_true(snapshot(f) == before + 1000000);
	ok(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
				       "health-insurance-card"));
	assert_int_equal(back.state, JPKI_APP_READY);
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
					    "health-insurance-card"),
		JPKI_ERR_STATE, NULL);
	ok(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     a.id, "1234", "ABC123"));
	assert_true(res.sign_serial[0] != '\0');
	chain_ok(f);
	close_card(&c);
}

static void test_proxy(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_application a, back;
	char person[64], code[WINDOW_LETTER_CODE_LEN + 1];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	req.person = person;
	req.want_sign = 1;
	req.path = JPKI_ID_PROXY;
	req.proxy_name = "山田　花子";
	req.photo_id_kind = "passport";
	req.seal_certificate = 1;
	before = snapshot(f);
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"power of attorney");
	req.power_of_attorney_sealed = 1;
	req.seal_certificate = 0;
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"seal registration");
	req.seal_certificate = 1;
	req.photo_id_kind = NULL;
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"photo ID");
	assert_true(snapshot(f) == before);
	req.photo_id_kind = "passport";
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	/* never same day, even with everything */
	assert_int_equal(a.state, JPKI_APP_WAITING_LETTER);
	ok(window_letter_code(code, &a, f->st, &f->clerk, a.id));
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
					    NULL),
		JPKI_ERR_POLICY, "same day");
	at("2026-02-04T09:00:00");
	ok(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
				       NULL));
	assert_int_equal(back.state, JPKI_APP_READY);
}

/* ---- reception hours
 * ------------------------------------------------------------- */

static void test_hours(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	char person[64];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	req = photo_req(person);
	before = snapshot(f);
	at("2026-02-08T10:00:00"); /* a Sunday */
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"Sunday");
	at("2026-02-11T10:00:00"); /* 建国記念の日 */
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"national holiday");
	at("2025-12-30T10:00:00");
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"year-end");
	at("2026-02-02T08:59:59");
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"closed at 08:59");
	at("2026-02-02T17:00:00");
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"17:00");
	assert_true(snapshot(f) == before);
	at("2026-02-02T16:59:00");
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	at("2026-02-02T09:00:00");
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));

	/* a municipality's own hours */
	refused(jpki_window_set_hours(f->st, &f->clerk, CODE, 12 * 60, 8 * 60),
		JPKI_ERR_INVALID, NULL);
	ok(jpki_window_set_hours(f->st, &f->clerk, CODE, 8 * 60 + 30, 12 * 60));
	at("2026-02-02T08:45:00");
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	at("2026-02-02T12:00:00");
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"12:00");
}

/* ---- PINs, Juki card
 * -------------------------------------------------------------- */

static void test_bad_pin(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	struct tcard c;
	char person[64];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	req = photo_req(person);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	new_card(f, &c, JPKI_CARD_MYNUMBER);
	before = snapshot(f);
	/* the My Number signing PIN needs a letter and a digit */
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "1234", "123456"),
		JPKI_ERR_INVALID, NULL);
	/* fine for a Juki card, too short for a My Number one */
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "1234", "AB12"),
		JPKI_ERR_INVALID, NULL);
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "12345", "ABC123"),
		JPKI_ERR_INVALID, NULL);
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, NULL, "ABC123"),
		JPKI_ERR_INVALID, NULL);
	assert_true(snapshot(f) == before);
	ok(jpki_window_application(&a, f->st, &f->clerk, a.id));
	assert_int_equal(a.state, JPKI_APP_READY);
	close_card(&c);
}

static void test_juki_after_cutoff(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	char person[64];

	resident(f, person, "1980-06-01", 0);
	req = photo_req(person);
	req.card = JPKI_CARD_JUKI;
	req.want_auth = 0;
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"22 December 2015");
	/* and a Juki card never carries an authentication certificate */
	req.want_auth = 1;
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_INVALID,
		NULL);
}

static void test_juki_2015(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	struct jpki_fee *fees = NULL;
	struct tcard c, wrong;
	char person[64];
	size_t n = 0;

	resident(f, person, "1970-01-01", 0);
	req = photo_req(person);
	req.card = JPKI_CARD_JUKI;
	req.want_auth = 0;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.state, JPKI_APP_READY);
	/* a My Number card in the reader is the wrong card */
	new_card(f, &wrong, JPKI_CARD_MYNUMBER);
	refused(jpki_window_issue(&res, f->st, f->ca, wrong.rd, f->issuer,
				  &f->clerk, a.id, NULL, "ABCD"),
		JPKI_ERR_STATE, "Juki");
	close_card(&wrong);
	juki_card(f, &c, person);
	ok(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     a.id, NULL, "ABCD"));
	assert_int_equal(res.fee_yen, 500);
	assert_true(res.sign_serial[0] != '\0');
	assert_true(res.auth_serial[0] == '\0');
	/* the card's fee, then the certificate's */
	ok(jpki_window_fees(&fees, &n, f->st, NULL));
	assert_int_equal(n, 2);
	assert_string_equal(fees[0].what, "juki-card");
	assert_int_equal(fees[1].yen, 500);
	free(fees);

	/* the last day, and the next working day (the 23rd is a holiday) */
	at("2015-12-22T10:00:00");
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	at("2015-12-24T10:00:00");
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"22 December 2015");
	/* nor renewed after it: 3 years on, in the renewal window */
	at("2018-10-01T10:00:00");
	refused(renew_photo(f, &res, &c, person),
		JPKI_ERR_POLICY, "22 December 2015");
	close_card(&c);
}

/* ---- capacity
 * ----------------------------------------------------------------------- */

static void test_capacity(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_application a1, a2, again;
	struct tcard c1, c2, c3;
	char p1[64], p2[64];
	int64_t before;

	resident(f, p1, "1980-06-01", 0);
	resident(f, p2, "1985-07-07", 0);
	ok(jpki_window_set_capacity(f->st, &f->clerk, CODE, 3));
	req = photo_req(p1);
	ok(jpki_window_apply(&a1, f->st, &f->clerk, &req));
	req = photo_req(p2);
	ok(jpki_window_apply(&a2, f->st, &f->clerk, &req));
	new_card(f, &c1, JPKI_CARD_MYNUMBER);
	new_card(f, &c2, JPKI_CARD_MYNUMBER);
	ok(jpki_window_issue(&res, f->st, f->ca, c1.rd, f->issuer, &f->clerk,
			     a1.id, "1234", "ABC123"));
	/* 2 of 3 used: the second pair does not fit */
	before = snapshot(f);
	refused(jpki_window_issue(&res, f->st, f->ca, c2.rd, f->issuer,
				  &f->clerk, a2.id, "1234", "ABC123"),
		JPKI_ERR_POLICY, "capacity");
	assert_true(snapshot(f) == before);
	ok(jpki_window_application(&a2, f->st, &f->clerk, a2.id));
	assert_int_equal(a2.state, JPKI_APP_READY);

	/* a failed issue gives its capacity back: p1 applies again, and
	 * the CA refuses (p1 holds valid certificates already) */
	req = photo_req(p1);
	req.want_sign = 0;
	ok(jpki_window_apply(&again, f->st, &f->clerk, &req));
	new_card(f, &c3, JPKI_CARD_MYNUMBER);
	refused(jpki_window_issue(&res, f->st, f->ca, c3.rd, f->issuer,
				  &f->clerk, again.id, "1234", NULL),
		JPKI_ERR_STATE, "already holds");
	assert_int_equal(count(f, "SELECT used FROM window_capacity_use"), 2);
	ok(jpki_window_application(&again, f->st, &f->clerk, again.id));
	assert_int_equal(again.state, JPKI_APP_READY);

	/* the next day there is room again */
	at("2026-02-03T10:00:00");
	ok(jpki_window_issue(&res, f->st, f->ca, c2.rd, f->issuer, &f->clerk,
			     a2.id, "1234", "ABC123"));
	chain_ok(f);
	close_card(&c1);
	close_card(&c2);
	close_card(&c3);
}

struct racer {
	struct wf *f;
	pthread_barrier_t *go;
	int64_t app;
	char card_path[512];
	int r;
	char why[256];
};

/* One clerk at one counter: its own store connection, CA and card. */
static void *race(void *arg)
{
	struct racer *x = arg;
	struct jpki_window_issue_result res;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;

	x->r = JPKI_ERR_INTERNAL;
	if (jpki_store_open(&st, x->f->db) != 0 ||
	    jpki_ca_open(&ca, st, NULL) != 0 ||
	    jpki_card_open(&card, x->card_path) != 0 ||
	    jpki_reader_local(&rd, card) != 0) {
		snprintf(x->why, sizeof(x->why), "%s", jpki_err_detail());
		pthread_barrier_wait(x->go);
		goto out;
	}
	pthread_barrier_wait(x->go);
	x->r = jpki_window_issue(&res, st, ca, rd, x->f->issuer, &x->f->clerk,
				 x->app, "1234", NULL);
	snprintf(x->why, sizeof(x->why), "%s", jpki_err_detail());
out:
	jpki_reader_free(rd);
	jpki_card_free(card);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return NULL;
}

static void test_capacity_race(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	pthread_barrier_t go;
	struct racer x[2];
	pthread_t t[2];
	int won = 0, lost = 0;

	ok(jpki_window_set_capacity(f->st, &f->clerk, CODE, 1));
	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < 2; i++) {
		char person[64];

		memset(&x[i], 0, sizeof(x[i]));
		resident(f, person, i ? "1990-01-01" : "1991-01-01", 0);
		req = photo_req(person);
		req.want_sign = 0;
		ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
		x[i].f = f;
		x[i].go = &go;
		x[i].app = a.id;
		snprintf(x[i].card_path, sizeof(x[i].card_path),
			 "%s/race%d.jpki", f->dir, i);
		ok(jpki_card_create(x[i].card_path, JPKI_CARD_MYNUMBER,
				    f->issuer));
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &x[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < 2; i++) {
		if (x[i].r == 0)
			won++;
		else if (x[i].r == JPKI_ERR_POLICY &&
			 strstr(x[i].why, "capacity") != NULL)
			lost++;
		else
			fail_msg("racer %d: %d %s", i, x[i].r, x[i].why);
	}
	assert_int_equal(won, 1);
	assert_int_equal(lost, 1);
	assert_int_equal(count(f, "SELECT used FROM window_capacity_use"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM window_application "
				  "WHERE state = 3"),
			 1);
	chain_ok(f);
}

/* ---- renewal
 * ------------------------------------------------------------------------- */

static void test_renew(void **state)
{
	struct wf *f = *state;
	struct jpki_window_issue_result res, ren;
	struct jpki_cert_info *info = NULL;
	struct jpki_date day;
	enum jpki_reason reason;
	struct tcard c, other;
	char person[64], p2[64], when[32], daytext[11];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	issue_both(f, person, &res, &c);

	/* too early: more than 3 months before expiry */
	at("2026-02-03T10:00:00");
	before = snapshot(f);
	refused(renew_photo(f, &ren, &c, person),
		JPKI_ERR_POLICY, "3 months before");
	assert_true(snapshot(f) == before);
	assert_int_equal(status_of(f, res.sign_serial, NULL), JPKI_STATUS_GOOD);

	/* two months before expiry, on a working day */
	ok(jpki_ca_status(&info, f->ca, res.sign_serial));
	day = jpki_date_of(info->not_after);
	jpki_cert_info_free(info);
	day = jpki_date_add_months(&day, -2);
	while (!window_is_working_day(&day))
		day = jpki_date_of(jpki_date_start(&day) + 86400);
	jpki_date_format(&day, daytext);
	snprintf(when, sizeof(when), "%sT10:00:00", daytext);
	at(when);

	/* someone else's card is refused */
	resident(f, p2, "1979-01-01", 0);
	issue_both(f, p2, &ren, &other);
	refused(renew_photo(f, &ren, &other, person),
		JPKI_ERR_POLICY, "not");
	close_card(&other);

	ok(renew_photo(f, &ren, &c, person));
	assert_true(ren.sign_serial[0] != '\0');
	assert_true(ren.auth_serial[0] == '\0');
	assert_string_not_equal(ren.sign_serial, res.sign_serial);
	assert_int_equal(ren.fee_yen, 0);
	assert_int_equal(status_of(f, res.sign_serial, &reason),
			 JPKI_STATUS_REVOKED);
	assert_int_equal(reason, JPKI_REASON_SUPERSEDED);
	assert_int_equal(status_of(f, ren.sign_serial, NULL), JPKI_STATUS_GOOD);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM window_fee WHERE "
				  "what = 'renewal'"),
			 1);
	/* the new certificate is on the card: verify the signing PIN and
	 * read it back */
	{
		uint8_t *der = NULL;
		size_t len = 0;
		static const uint8_t verify[] = {
		    0x00, 0x20, 0x00, 0x80, 0x06, 'A', 'B', 'C', '1', '2', '3'};
		struct jpki_cert_info *now = NULL;

		ok(jpki_reader_select_ap(c.rd));
		ok(jpki_reader_select_ef(c.rd, JPKI_EF_SIGN_PIN));
		ok(jpki_reader_command(c.rd, verify, sizeof(verify), NULL, NULL,
				       "verify"));
		ok(jpki_reader_read_der(&der, &len, c.rd, JPKI_EF_SIGN_CERT));
		ok(jpki_ca_status(&now, f->ca, ren.sign_serial));
		assert_int_equal(len, now->der_len);
		assert_memory_equal(der, now->der, len);
		jpki_cert_info_free(now);
		free(der);
	}
	chain_ok(f);
	close_card(&c);
}

/* ---- PIN reset
 * ----------------------------------------------------------------------- */

static unsigned verify_sign(struct tcard *c, const char *pin)
{
	uint8_t apdu[5 + 16], resp[16];
	size_t n = strlen(pin), resp_len = sizeof(resp);
	uint16_t sw = 0;

	apdu[0] = 0x00;
	apdu[1] = 0x20;
	apdu[2] = 0x00;
	apdu[3] = 0x80;
	apdu[4] = (uint8_t)n;
	memcpy(apdu + 5, pin, n);
	ok(jpki_reader_select_ap(c->rd));
	ok(jpki_reader_select_ef(c->rd, JPKI_EF_SIGN_PIN));
	ok(jpki_reader_transmit(c->rd, apdu, 5 + n, resp, &resp_len, &sw));
	return sw;
}

static void test_pin_reset(void **state)
{
	struct wf *f = *state;
	struct jpki_window_issue_result res;
	struct jpki_card_info info;
	struct tcard c;
	char person[64], someone[64];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	resident(f, someone, "1985-02-03", 0);
	issue_both(f, person, &res, &c);
	for (int i = 0; i < 5; i++)
		verify_sign(&c, "WRONG1");
	assert_int_equal(verify_sign(&c, "ABC123"), 0x6984);
	jpki_card_info(c.card, &info);
	assert_int_equal(info.tries[JPKI_PIN_SIGN], 0);

	before = snapshot(f);
	refused(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->clerk, person,
				      "東京都港区芝公園４丁目", JPKI_CERT_SIGN,
				      NULL),
		JPKI_ERR_POLICY, "photo ID");
	refused(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->clerk, person,
				      ADDRESS, JPKI_CERT_SIGN, "abc"),
		JPKI_ERR_INVALID, NULL);
	refused(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->clerk, person,
				      ADDRESS, JPKI_CERT_AUTH, "12345"),
		JPKI_ERR_INVALID, NULL);
	refused(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->other, person,
				      ADDRESS, JPKI_CERT_SIGN, NULL),
		JPKI_ERR_POLICY, "271004");
	{
		/* another resident, same address, same photo ID: not with
		 * this card */
		refused(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer,
					      &f->clerk, someone, ADDRESS,
					      JPKI_CERT_SIGN, NULL),
			JPKI_ERR_POLICY, "is not");
	}
	assert_true(snapshot(f) == before);
	jpki_card_info(c.card, &info);
	assert_int_equal(info.tries[JPKI_PIN_SIGN], 0);

	/* unlocked: the same PIN, a full counter */
	ok(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->clerk, person,
				 ADDRESS, JPKI_CERT_SIGN, NULL));
	jpki_card_info(c.card, &info);
	assert_int_equal(info.tries[JPKI_PIN_SIGN], 5);
	assert_int_equal(verify_sign(&c, "ABC123"), 0x9000);

	/* forgotten: a new one */
	ok(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->clerk, person,
				 ADDRESS, JPKI_CERT_SIGN, "XYZ789"));
	assert_int_equal(verify_sign(&c, "ABC123") & 0xFFF0, 0x63C0);
	assert_int_equal(verify_sign(&c, "XYZ789"), 0x9000);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE "
				  "action = 'window.pin_reset'"),
			 2);
	chain_ok(f);
	close_card(&c);
}

/* ---- loss report
 * ---------------------------------------------------------------------- */

static void test_report(void **state)
{
	struct wf *f = *state;
	struct jpki_window_issue_result res;
	enum jpki_reason reason;
	struct tcard c;
	char person[64];
	size_t n = 99;

	resident(f, person, "1980-06-01", 0);
	issue_both(f, person, &res, &c);
	/* at night, on a Sunday: a lost card is stopped at once */
	at("2026-02-08T23:30:00");
	ok(jpki_window_report(&n, f->st, f->ca, &f->clerk, person,
			      JPKI_LOSS_LOST));
	assert_int_equal(n, 2);
	assert_int_equal(status_of(f, res.sign_serial, &reason),
			 JPKI_STATUS_REVOKED);
	assert_int_equal(reason, JPKI_REASON_KEY_COMPROMISE);
	assert_int_equal(status_of(f, res.auth_serial, &reason),
			 JPKI_STATUS_REVOKED);
	assert_int_equal(reason, JPKI_REASON_KEY_COMPROMISE);
	ok(jpki_window_report(&n, f->st, f->ca, &f->clerk, person,
			      JPKI_LOSS_CARD_FAULT));
	assert_int_equal(n, 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM window_report"), 2);
	chain_ok(f);
	close_card(&c);
}

/* ---- paper
 * --------------------------------------------------------------------------------
 */

/* The text of a PDF by pdftotext, or NULL when it is not installed. */
static char *pdf_text(struct wf *f, const unsigned char *pdf, size_t len,
		      const char *name)
{
	char *path, *cmd, *text = NULL;
	size_t n = 0, cap = 0;
	char buf[4096];
	const char *keep = getenv("JPKI_TEST_PDF_DIR");
	FILE *p;

	assert_true(len > 1000);
	assert_memory_equal(pdf, "%PDF", 4);
	assert_true(asprintf(&path, "%s/%s", keep ? keep : f->dir, name) > 0);
	ok(jpki_file_write_atomic(path, pdf, len, 0600));
	if (system("command -v pdftotext >/dev/null 2>&1") != 0) {
		free(path);
		return NULL;
	}
	assert_true(asprintf(&cmd, "pdftotext -enc UTF-8 '%s' -", path) > 0);
	assert_non_null(p = popen(cmd, "r"));
	for (size_t got; (got = fread(buf, 1, sizeof(buf), p)) > 0;) {
		if (n + got + 1 > cap) {
			cap = (n + got + 1) * 2;
			assert_non_null(text = realloc(text, cap));
		}
		memcpy(text + n, buf, got);
		n += got;
	}
	assert_int_equal(pclose(p), 0);
	if (text != NULL)
		text[n] = '\0';
	free(cmd);
	free(path);
	return text;
}

static void has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("\"%s\" not in the PDF's text:\n%s", needle, text);
}

static void test_pdfs(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	unsigned char *pdf = NULL;
	size_t len = 0;
	char person[64], group[8], fp[96], *text;
	struct tcard c;

	resident(f, person, "1980-06-01", 0);
	req.person = person;
	req.want_sign = 1;
	req.want_auth = 1;
	req.path = JPKI_ID_NO_PHOTO;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	ok(jpki_window_letter_pdf(&pdf, &len, f->st, &f->clerk, a.id));
	if ((text = pdf_text(f, pdf, len, "letter.pdf")) != NULL) {
		has(text, "照会書兼回答書");
		has(text, "山田");
		has(text, "千代田区");
		has(text, "申請日");
		has(text, "令和8年2月2日");
		has(text, "私が申請したものです");
		has(text, "健康保険証");
		/* the code's four groups of four */
		has(text, "照会番号");
		free(text);
	} else {
		print_message("pdftotext missing: text of the letter not "
			      "checked\n");
	}
	free(pdf);
	refused(jpki_window_letter_pdf(&pdf, &len, f->st, &f->clerk, 999),
		JPKI_ERR_NOT_FOUND, NULL);

	/* the copies of the certificates of a same-day issue */
	issue_both(f, person, &res, &c);
	refused(jpki_window_letter_pdf(&pdf, &len, f->st, &f->clerk, a.id + 1),
		JPKI_ERR_STATE, "no inquiry letter");
	jpki_profile_fingerprint(fp, jpki_ca_cert(f->ca, JPKI_CERT_SIGN));
	ok(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &f->clerk,
				     res.sign_serial));
	if ((text = pdf_text(f, pdf, len, "copy-sign.pdf")) != NULL) {
		has(text, "電子証明書の写し");
		has(text, "署名用電子証明書");
		has(text, res.sign_serial);
		has(text, "JPKI for digital signature");
		has(text, "山田");
		has(text, "昭和55年6月1日");
		has(text, "千代田１番１号");
		has(text, "男");
		snprintf(group, sizeof(group), "%.5s", fp);
		has(text, group);
		free(text);
	}
	free(pdf);
	ok(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &f->clerk,
				     res.auth_serial));
	if ((text = pdf_text(f, pdf, len, "copy-auth.pdf")) != NULL) {
		has(text, "利用者証明用電子証明書");
		has(text, res.auth_serial);
		if (strstr(text, "生年月日") != NULL)
			fail_msg("the authentication copy shows facts");
		free(text);
	}
	free(pdf);
	refused(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &f->clerk,
					  "00"),
		JPKI_ERR_NOT_FOUND, NULL);
	close_card(&c);
}

/* ---- who reads what (issue 18 item 1) ------------------------------------
 */

static int64_t audited(struct wf *f, const char *action)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM audit_log WHERE action = '%s'", action);
	return count(f, sql);
}

/* Residents, applications, letters and copies are read only by the
 * clerks of the resident's municipality, and every read and refusal is
 * on the chain. */
static void test_reads_bound(void **state)
{
	struct wf *f = *state;
	struct jpki_window_issue_result res;
	struct jpki_application a, *list = NULL;
	struct jpki_resident r, *found = NULL;
	struct jpki_actor auditor = {.operator_id = "aud1",
				     .role = JPKI_ROLE_AUDITOR},
			  officer = {.operator_id = "ca1",
				     .role = JPKI_ROLE_CA_OFFICER},
			  other_reg = {.operator_id = "reg2",
				       .role = JPKI_ROLE_REGISTRY_CLERK,
				       .municipality_code = "271004"};
	unsigned char *pdf = NULL;
	size_t n = 0, len = 0;
	char person[64];
	struct tcard c;

	resident(f, person, "1980-06-01", 0);
	issue_both(f, person, &res, &c);

	/* the resident: both clerks of 131016, recorded */
	ok(jpki_registry_read(&r, f->st, &f->reg, person));
	assert_string_equal(r.person, person);
	ok(jpki_registry_read(&r, f->st, &f->clerk, person));
	assert_int_equal(audited(f, "registry.read"), 2);
	refused(jpki_registry_read(&r, f->st, &f->other, person),
		JPKI_ERR_POLICY, "271004");
	assert_string_equal(r.person, "");
	refused(jpki_registry_read(&r, f->st, &other_reg, person),
		JPKI_ERR_POLICY, "271004");
	refused(jpki_registry_read(&r, f->st, &auditor, person),
		JPKI_ERR_POLICY, "does not read");
	refused(jpki_registry_read(&r, f->st, &officer, person),
		JPKI_ERR_POLICY, "does not read");
	assert_int_equal(audited(f, "registry.read.refused"), 4);
	assert_int_equal(audited(f, "registry.read"), 2);
	refused(jpki_registry_read(&r, f->st, &f->clerk, "R0000000000000000"),
		JPKI_ERR_NOT_FOUND, NULL);

	/* the search: one's own municipality only */
	ok(jpki_registry_search(&found, &n, f->st, &f->reg, NULL, 0));
	assert_int_equal(n, 1);
	free(found);
	ok(jpki_registry_search(&found, &n, f->st, &f->other, NULL, 0));
	assert_int_equal(n, 0);
	free(found);
	refused(jpki_registry_search(&found, &n, f->st, &auditor, NULL, 0),
		JPKI_ERR_POLICY, NULL);
	assert_null(found);
	assert_int_equal(audited(f, "registry.search"), 2);

	/* applications: the window clerk of 131016 only */
	ok(jpki_window_applications(&list, &n, f->st, &f->clerk, NULL, 0));
	assert_int_equal(n, 1);
	ok(jpki_window_application(&a, f->st, &f->clerk, list[0].id));
	assert_int_equal(audited(f, "window.application.read"), 1);
	assert_int_equal(audited(f, "window.application.list"), 1);
	refused(jpki_window_application(&a, f->st, &f->other, list[0].id),
		JPKI_ERR_POLICY, "271004");
	assert_string_equal(a.person, "");
	refused(jpki_window_application(&a, f->st, &f->reg, list[0].id),
		JPKI_ERR_POLICY, NULL);
	refused(jpki_window_application(&a, f->st, &auditor, list[0].id),
		JPKI_ERR_POLICY, NULL);
	assert_int_equal(audited(f, "window.application.read.refused"), 3);
	free(list);
	refused(jpki_window_applications(&list, &n, f->st, &f->other, CODE, 0),
		JPKI_ERR_POLICY, NULL);
	assert_null(list);
	refused(jpki_window_applications(&list, &n, f->st, &auditor, NULL, 0),
		JPKI_ERR_POLICY, NULL);
	refused(jpki_window_applications(&list, &n, f->st, &f->reg, NULL, 0),
		JPKI_ERR_POLICY, NULL);
	ok(jpki_window_applications(&list, &n, f->st, &f->other, NULL, 0));
	assert_int_equal(n, 0);
	free(list);

	/* the certificate's copy */
	refused(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &f->other,
					  res.sign_serial),
		JPKI_ERR_POLICY, "271004");
	assert_null(pdf);
	refused(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &auditor,
					  res.sign_serial),
		JPKI_ERR_POLICY, NULL);
	assert_int_equal(audited(f, "window.copy.print.refused"), 2);
	ok(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &f->clerk,
				     res.sign_serial));
	free(pdf);
	assert_int_equal(audited(f, "window.copy.print"), 1);
	chain_ok(f);
	close_card(&c);
}

/* The letter's code: made when printed, kept only as a hash, a reprint
 * voids the earlier one, each print recorded, printed only by the
 * window clerk of the resident's municipality. */
static void test_letter_code(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_application a, back;
	char person[64], first[WINDOW_LETTER_CODE_LEN + 1],
	    second[WINDOW_LETTER_CODE_LEN + 1], sql[256];
	unsigned char *pdf = NULL;
	struct jpki_rows *rows = NULL;
	size_t len = 0;
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	req.person = person;
	req.want_auth = 1;
	req.path = JPKI_ID_NO_PHOTO;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));

	/* nobody else prints it, and a refusal makes no code */
	refused(window_letter_code(first, &back, f->st, &f->other, a.id),
		JPKI_ERR_POLICY, "271004");
	refused(jpki_window_letter_pdf(&pdf, &len, f->st, &f->reg, a.id),
		JPKI_ERR_POLICY, NULL);
	assert_null(pdf);
	assert_int_equal(audited(f, "window.letter.print.refused"), 2);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM window_application "
				  "WHERE letter_hash IS NOT NULL"),
			 0);

	ok(window_letter_code(first, &back, f->st, &f->clerk, a.id));
	/* the store holds neither the code nor anything but its hash */
	snprintf(sql, sizeof(sql),
		 "SELECT letter_code, letter_hash FROM window_application "
		 "WHERE id = %lld",
		 (long long)a.id);
	assert_int_equal(jpki_store_query(&rows, f->st, sql, NULL, 0), 0);
	assert_null(jpki_rows_text(rows, 0, 0));
	assert_int_equal(strlen(jpki_rows_text(rows, 0, 1)), 64);
	assert_null(strstr(jpki_rows_text(rows, 0, 1), first));
	jpki_rows_free(rows);

	ok(window_letter_code(second, &back, f->st, &f->clerk, a.id));
	assert_string_not_equal(first, second);
	assert_int_equal(audited(f, "window.letter.print"), 2);
	/* the chain says which print voided a code printed before */
	assert_int_equal(
	    count(f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		     "'window.letter.print' AND detail LIKE "
		     "'%\"earlier_code_void\":false%'"),
	    1);
	assert_int_equal(
	    count(f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		     "'window.letter.print' AND detail LIKE "
		     "'%\"earlier_code_void\":true%'"),
	    1);

	at("2026-02-03T10:00:00");
	before = snapshot(f);
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id,
					    first, "health-insurance-card"),
		JPKI_ERR_POLICY, "not the one");
	/* the wrong code is recorded, nothing else */
	assert_true(snapshot(f) == before + 1000000);
	ok(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, second,
				       "health-insurance-card"));
	assert_int_equal(back.state, JPKI_APP_READY);
	/* and no letter once it is back */
	refused(window_letter_code(first, &back, f->st, &f->clerk, a.id),
		JPKI_ERR_STATE, "no inquiry letter");
	chain_ok(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_photo_same_day, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_photo_address, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_under_15, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guardianship, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_registered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_other_municipality, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_letter_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proxy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hours, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_juki_after_cutoff, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_juki_2015, setup_2015,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capacity_race, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_renew, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pdfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reads_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_letter_code, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
