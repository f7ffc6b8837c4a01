/*
 * The window's rules of a municipality's year (issue #13): photo ID kinds,
 * the inquiry letter's wrong codes, renewal's identity check and its edges,
 * an expired certificate and a new issue, the card's own expiry, the Juki
 * card to the My Number card. Each rule with its negative case.
 */
#include "window_fixture.h"

/* Everything a procedure could change, summed: a refusal leaves it. */
static int64_t snapshot(struct wf *f)
{
	return count(f, "SELECT COUNT(*) FROM audit_log") * 1000000 +
	       count(f, "SELECT COUNT(*) FROM window_application") * 10000 +
	       count(f, "SELECT COUNT(*) FROM window_fee") * 100 +
	       count(f, "SELECT COALESCE(SUM(used), 0) FROM "
			"window_capacity_use");
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


static int64_t audited(struct wf *f, const char *action)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM audit_log WHERE action = '%s'", action);
	return count(f, sql);
}

static struct jpki_date last_day(struct wf *f, const char *serial)
{
	struct jpki_cert_info *info = NULL;
	struct jpki_date d;

	ok(jpki_ca_status(&info, f->ca, serial));
	d = jpki_date_of(info->not_after);
	jpki_cert_info_free(info);
	return d;
}

static void assert_day(struct jpki_date d, const char *want)
{
	char got[11];

	jpki_date_format(&d, got);
	assert_string_equal(got, want);
}

/* ---- photo ID kinds ---------------------------------------------------- */

static void test_photo_id_kinds(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_photo_id_kind *ids = NULL;
	struct jpki_application a;
	char person[64];
	size_t n = 0;
	int64_t before;

	resident(f, person, "1980-06-06", 0);
	ok(jpki_window_photo_ids(&ids, &n, f->st, CODE));
	assert_int_equal(n, 4);
	assert_string_equal(ids[0].word, "driving-licence");
	assert_string_equal(ids[0].label, "運転免許証");
	assert_true(ids[3].national);
	free(ids);

	/* a kind nobody accepts is refused by name, nothing recorded */
	before = snapshot(f);
	req = photo_req(person);
	req.photo_id_kind = "library card";
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"photo ID kind 'library card' is not accepted by 千代田区");
	req.photo_id_kind = "residence-card";
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"'residence-card' is not accepted");
	assert_true(snapshot(f) == before);

	/* the municipality lists its own; another municipality's clerk
	 * cannot, and a national kind cannot be removed */
	refused(jpki_window_photo_id_add(f->st, &f->other, CODE,
					 "residence-card", "在留カード"),
		JPKI_ERR_POLICY, NULL);
	refused(jpki_window_photo_id_add(f->st, &f->clerk, CODE,
					 "Residence Card", NULL),
		JPKI_ERR_INVALID, "lower-case");
	ok(jpki_window_photo_id_add(f->st, &f->clerk, CODE, "residence-card",
				    "在留カード"));
	assert_int_equal(audited(f, "window.photo_id.add"), 1);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.state, JPKI_APP_READY);
	ok(jpki_window_photo_ids(&ids, &n, f->st, CODE));
	assert_int_equal(n, 5);
	assert_string_equal(ids[4].label, "在留カード");
	assert_false(ids[4].national);
	free(ids);
	/* only its own municipality's */
	ok(jpki_window_photo_ids(&ids, &n, f->st, "271004"));
	assert_int_equal(n, 4);
	free(ids);
	refused(jpki_window_photo_id_remove(f->st, &f->clerk, CODE,
					    "passport"),
		JPKI_ERR_POLICY, "cannot be removed");
	ok(jpki_window_photo_id_remove(f->st, &f->clerk, CODE,
				       "residence-card"));
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"not accepted");

	/* an expired photo ID; valid through the day printed */
	req = photo_req(person);
	req.photo_id_expiry = "2026-02-01";
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"expired on 2026-02-01");
	req.photo_id_expiry = "2026-02-31";
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_INVALID,
		"not a date");
	req.photo_id_expiry = "2026-02-02";
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	/* a proxy's own photo ID is checked for its kind too */
	req = photo_req(person);
	req.path = JPKI_ID_PROXY;
	req.power_of_attorney_sealed = 1;
	req.seal_certificate = 1;
	req.proxy_name = "山田　花子";
	req.photo_id_kind = "library-card";
	req.photo_id_address = "大阪府大阪市北区１番";
	refused(jpki_window_apply(&a, f->st, &f->clerk, &req), JPKI_ERR_POLICY,
		"not accepted");
	req.photo_id_kind = "passport";
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	chain_ok(f);
}

/* ---- wrong inquiry-letter codes ------------------------------------------ */

static void test_letter_lock(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_application a, back;
	char person[64], code[WINDOW_LETTER_CODE_LEN + 1],
	    wrong[WINDOW_LETTER_CODE_LEN + 1];

	resident(f, person, "1980-06-06", 0);
	req.person = person;
	req.want_auth = 1;
	req.path = JPKI_ID_NO_PHOTO;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	ok(window_letter_code(code, &back, f->st, &f->clerk, a.id));
	at("2026-02-03T10:00:00");
	snprintf(wrong, sizeof(wrong), "%s", code);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	for (int i = 1; i < JPKI_WINDOW_LETTER_TRIES; i++)
		refused(jpki_window_letter_returned(&back, f->st, &f->clerk,
						    a.id, wrong,
						    "health-insurance-card"),
			JPKI_ERR_POLICY, "tries left");
	assert_int_equal(audited(f, "window.letter.locked"), 0);
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id,
					    wrong, "health-insurance-card"),
		JPKI_ERR_POLICY, "locked");
	assert_int_equal(audited(f, "window.letter.wrong_code"),
			 JPKI_WINDOW_LETTER_TRIES);
	assert_int_equal(audited(f, "window.letter.locked"), 1);
	/* locked: even the right code is refused, and not counted */
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id,
					    code, "health-insurance-card"),
		JPKI_ERR_POLICY, "print and mail a new inquiry letter");
	assert_int_equal(audited(f, "window.letter.wrong_code"),
			 JPKI_WINDOW_LETTER_TRIES);
	ok(jpki_window_application(&back, f->st, &f->clerk, a.id));
	assert_int_equal(back.wrong_codes, JPKI_WINDOW_LETTER_TRIES);
	assert_int_equal(back.state, JPKI_APP_WAITING_LETTER);

	/* a new letter: a new code, unlocked, from the next day */
	ok(window_letter_code(code, &back, f->st, &f->clerk, a.id));
	assert_int_equal(back.wrong_codes, 0);
	at("2026-02-04T10:00:00");
	refused(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id,
					    wrong, "health-insurance-card"),
		JPKI_ERR_POLICY, "2 of 3 tries left");
	ok(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
				       "health-insurance-card"));
	assert_int_equal(back.state, JPKI_APP_READY);
	chain_ok(f);
}

/* ---- renewal: its identity check and the 3 months' edges ------------------ */

static void test_renew_identity(void **state)
{
	struct wf *f = *state;
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_window_issue_result res, ren;
	struct jpki_application a, back;
	char person[64], code[WINDOW_LETTER_CODE_LEN + 1];
	enum jpki_reason reason;
	struct tcard c;
	int64_t before;

	/* issued 2026-02-02: last valid day 2030-06-06 (the 5th birthday);
	 * renewal from 2030-03-06, 3 calendar months before */
	resident(f, person, "1980-06-06", 0);
	issue_both(f, person, &res, &c);
	assert_day(last_day(f, res.sign_serial), "2030-06-06");

	rr.person = person;
	rr.photo_id_kind = "driving-licence";
	rr.photo_id_address = ADDRESS;
	at("2030-03-05T16:59:00"); /* the day before: refused */
	before = snapshot(f);
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "can be renewed from 2030-03-06");
	assert_true(snapshot(f) == before);

	at("2030-03-06T09:00:00"); /* the first day: the identity check */
	rr.photo_id_kind = NULL;
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "same-day renewal needs a photo ID");
	rr.photo_id_kind = "library-card";
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "not accepted");
	rr.photo_id_kind = "driving-licence";
	rr.photo_id_expiry = "2030-03-05";
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "expired");
	rr.photo_id_expiry = NULL;
	rr.photo_id_address = "東京都港区芝公園４丁目２番８号";
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "not the registered address");
	/* without a photo ID, or by proxy: never the same day */
	rr.path = JPKI_ID_NO_PHOTO;
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "no same-day renewal");
	rr.path = JPKI_ID_PROXY;
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "a proxy never renews on the day");
	assert_true(snapshot(f) == before);
	assert_int_equal(status_of(f, res.sign_serial, NULL), JPKI_STATUS_GOOD);

	/* with a photo ID: the same day */
	rr.path = JPKI_ID_PHOTO;
	rr.photo_id_address = ADDRESS;
	ok(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     &rr));
	assert_int_equal(status_of(f, res.sign_serial, &reason),
			 JPKI_STATUS_REVOKED);
	assert_int_equal(reason, JPKI_REASON_SUPERSEDED);

	/* the authentication certificate without a photo ID: the renewal
	 * application, its letter, and the renewal the day it comes back */
	req.person = person;
	req.want_auth = 1;
	req.path = JPKI_ID_NO_PHOTO;
	req.kind = JPKI_APP_KIND_RENEWAL;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	assert_int_equal(a.kind, JPKI_APP_KIND_RENEWAL);
	ok(window_letter_code(code, &back, f->st, &f->clerk, a.id));
	rr = (struct jpki_renewal_request)JPKI_RENEWAL_REQUEST_INIT;
	rr.person = person;
	rr.type = JPKI_CERT_AUTH;
	rr.path = JPKI_ID_NO_PHOTO;
	rr.application = a.id;
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_STATE, "waiting for its inquiry letter");
	/* a renewal application is not issued as a new one */
	at("2030-03-07T10:00:00");
	ok(jpki_window_letter_returned(&back, f->st, &f->clerk, a.id, code,
				       "health-insurance-card"));
	refused(jpki_window_issue(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "1234", NULL),
		JPKI_ERR_STATE, "is for a renewal");
	ok(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     &rr));
	assert_true(ren.auth_serial[0] != '\0');
	assert_int_equal(status_of(f, res.auth_serial, NULL),
			 JPKI_STATUS_REVOKED);
	ok(jpki_window_application(&back, f->st, &f->clerk, a.id));
	assert_int_equal(back.state, JPKI_APP_ISSUED);
	assert_string_equal(back.auth_serial, ren.auth_serial);
	/* used once */
	refused(jpki_window_renew(&ren, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_POLICY, "3 months before");
	chain_ok(f);
	close_card(&c);
}

/* ---- expiry is no dead end; the card's own expiry ------------------------- */

static void test_expired_and_card_expiry(void **state)
{
	struct wf *f = *state;
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;
	struct jpki_application_request req;
	struct jpki_window_issue_result res, again;
	struct jpki_window_card wc;
	struct jpki_application a;
	struct tcard c, other;
	char person[64], p2[64];

	resident(f, person, "1980-06-06", 0);
	issue_both(f, person, &res, &c);
	/* the window recorded the card with its own expiry (the 10th
	 * birthday after it was made) */
	ok(jpki_window_card_record(&wc, f->st, c.rd));
	assert_string_equal(wc.person, person);
	assert_day(wc.expires_on, "2035-06-06");
	assert_int_equal(wc.state, JPKI_WINDOW_CARD_IN_USE);

	/* expired: renewal says to apply anew, and a new issue onto the
	 * same card is accepted */
	at("2032-07-01T10:00:00");
	rr.person = person;
	rr.photo_id_kind = "passport";
	rr.photo_id_address = ADDRESS;
	refused(jpki_window_renew(&again, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, &rr),
		JPKI_ERR_STATE, "apply for a new issue");
	req = photo_req(person);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	/* not onto another resident's card */
	resident(f, p2, "1979-01-01", 0);
	{
		struct jpki_window_issue_result r2;

		issue_both(f, p2, &r2, &other);
	}
	refused(jpki_window_issue(&again, f->st, f->ca, other.rd, f->issuer,
				  &f->clerk, a.id, "1234", "ABC123"),
		JPKI_ERR_POLICY, "another resident's card");
	close_card(&other);
	ok(jpki_window_issue(&again, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     a.id, "1234", "ABC123"));
	/* the 5th birthday after 2032-07-01 is 2037-06-06, but the card
	 * made in 2026 expires on 2035-06-06: the certificate ends with it */
	assert_day(last_day(f, again.sign_serial), "2035-06-06");
	assert_day(last_day(f, again.auth_serial), "2035-06-06");
	chain_ok(f);
	close_card(&c);
}

/* A card made for a person under 20 expires on the 5th birthday: once it
 * has, nothing more is issued onto it. */
static void test_card_expired(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res, again;
	struct jpki_application a;
	struct tcard c, fresh;
	char person[64];

	resident(f, person, "2008-06-06", 0); /* 17 */
	issue_both(f, person, &res, &c);
	assert_day(last_day(f, res.sign_serial), "2030-06-06");
	at("2030-06-07T10:00:00");
	req = photo_req(person);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	refused(jpki_window_issue(&again, f->st, f->ca, c.rd, f->issuer,
				  &f->clerk, a.id, "1234", "ABC123"),
		JPKI_ERR_POLICY, "expired on 2030-06-06");
	/* a new card: issued, its expiry counted from today (22: the 10th
	 * birthday after), the certificate to the 5th */
	new_card(f, &fresh, JPKI_CARD_MYNUMBER);
	ok(jpki_window_issue(&again, f->st, f->ca, fresh.rd, f->issuer,
			     &f->clerk, a.id, "1234", "ABC123"));
	assert_day(last_day(f, again.sign_serial), "2035-06-06");
	close_card(&fresh);
	close_card(&c);
}

/* ---- the Juki card to the My Number card (seed 002) ------------------------ */

static void test_juki_to_mynumber(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result jr, mr;
	struct jpki_window_card wc;
	struct jpki_application a;
	enum jpki_reason reason;
	struct tcard juki, mn;
	char person[64];

	resident(f, person, "1970-01-15", 0);
	req = photo_req(person);
	req.card = JPKI_CARD_JUKI;
	req.want_auth = 0;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	juki_card(f, &juki, person);
	ok(jpki_window_issue(&jr, f->st, f->ca, juki.rd, f->issuer, &f->clerk,
			     a.id, NULL, "ABCD"));
	/* 発行の日から起算して3年 */
	assert_day(last_day(f, jr.sign_serial), "2018-11-30");
	ok(jpki_window_card_record(&wc, f->st, juki.rd));
	assert_int_equal(wc.kind, JPKI_CARD_JUKI);
	assert_int_equal(wc.state, JPKI_WINDOW_CARD_IN_USE);

	/* an authentication certificate alone leaves the Juki card be */
	at("2016-03-01T10:00:00");
	req = photo_req(person);
	req.want_sign = 0;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	new_card(f, &mn, JPKI_CARD_MYNUMBER);
	ok(jpki_window_issue(&mr, f->st, f->ca, mn.rd, f->issuer, &f->clerk,
			     a.id, "1234", NULL));
	assert_int_equal(status_of(f, jr.sign_serial, NULL), JPKI_STATUS_GOOD);
	ok(jpki_window_card_record(&wc, f->st, juki.rd));
	assert_int_equal(wc.state, JPKI_WINDOW_CARD_IN_USE);

	/* the signing certificate on the My Number card: the Juki card is
	 * returned and its certificate revoked (superseded) */
	req = photo_req(person);
	req.want_auth = 0;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	ok(jpki_window_issue(&mr, f->st, f->ca, mn.rd, f->issuer, &f->clerk,
			     a.id, NULL, "ABC123"));
	assert_int_equal(status_of(f, jr.sign_serial, &reason),
			 JPKI_STATUS_REVOKED);
	assert_int_equal(reason, JPKI_REASON_SUPERSEDED);
	assert_int_equal(status_of(f, mr.sign_serial, NULL), JPKI_STATUS_GOOD);
	ok(jpki_window_card_record(&wc, f->st, juki.rd));
	assert_int_equal(wc.state, JPKI_WINDOW_CARD_RETURNED);
	assert_int_equal(
	    count(f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		     "'window.issue' AND detail LIKE "
		     "'%\"juki_cards_returned\":1%'"),
	    1);
	chain_ok(f);
	close_card(&mn);
	close_card(&juki);
}

/* ---- the Juki card itself (seed 000) ------------------------------------ */

static void test_juki_card_application(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_window_card wc;
	struct jpki_application card_app, cert_app, other;
	struct jpki_fee *fees = NULL;
	struct tcard blank, c;
	char person[64];
	size_t n = 0;
	int fee = 0;

	resident(f, person, "1970-01-15", 0);
	req = photo_req(person);
	req.card = JPKI_CARD_JUKI;
	req.want_auth = 0;
	ok(jpki_window_apply(&cert_app, f->st, &f->clerk, &req));
	/* a Juki card nobody applied and paid for: no certificate onto it */
	new_card(f, &blank, JPKI_CARD_JUKI);
	refused(jpki_window_issue(&res, f->st, f->ca, blank.rd, f->issuer,
				  &f->clerk, cert_app.id, NULL, "ABCD"),
		JPKI_ERR_POLICY, "applied for and paid for first");
	close_card(&blank);

	/* the application for the card: an identity check as any other */
	req.kind = JPKI_APP_KIND_JUKI_CARD;
	req.photo_id_kind = "library-card";
	refused(jpki_window_apply(&card_app, f->st, &f->clerk, &req),
		JPKI_ERR_POLICY, "not accepted");
	req.photo_id_kind = "driving-licence";
	req.card = JPKI_CARD_MYNUMBER;
	refused(jpki_window_apply(&card_app, f->st, &f->clerk, &req),
		JPKI_ERR_INVALID, "for a Juki card");
	req.card = JPKI_CARD_JUKI;
	ok(jpki_window_apply(&card_app, f->st, &f->clerk, &req));
	assert_int_equal(card_app.kind, JPKI_APP_KIND_JUKI_CARD);
	refused(jpki_window_issue(&res, f->st, f->ca, blank.rd, f->issuer,
				  &f->clerk, card_app.id, NULL, "ABCD"),
		JPKI_ERR_STATE, "Juki card itself");
	/* the municipality's own fee */
	refused(jpki_window_set_juki_card_fee(f->st, &f->other, CODE, 600),
		JPKI_ERR_POLICY, NULL);
	ok(jpki_window_set_juki_card_fee(f->st, &f->clerk, CODE, 600));
	new_card(f, &c, JPKI_CARD_JUKI);
	ok(jpki_window_juki_card(&wc, &fee, f->st, &f->clerk, card_app.id,
				 c.rd));
	assert_int_equal(fee, 600);
	assert_string_equal(wc.person, person);
	assert_int_equal(wc.kind, JPKI_CARD_JUKI);
	ok(jpki_window_fees(&fees, &n, f->st, CODE));
	assert_int_equal(n, 1);
	assert_string_equal(fees[0].what, "juki-card");
	assert_int_equal(fees[0].yen, 600);
	free(fees);
	/* once: the application is used, the card handed over */
	refused(jpki_window_juki_card(&wc, &fee, f->st, &f->clerk, card_app.id,
				      c.rd),
		JPKI_ERR_STATE, "issued already");
	ok(jpki_window_apply(&other, f->st, &f->clerk, &req));
	refused(jpki_window_juki_card(&wc, &fee, f->st, &f->clerk, other.id,
				      c.rd),
		JPKI_ERR_STATE, "handed over before");
	/* now the certificate onto it */
	ok(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     cert_app.id, NULL, "ABCD"));
	/* and no Juki card after 2015-12-22 */
	at("2015-12-24T10:00:00");
	refused(jpki_window_apply(&other, f->st, &f->clerk, &req),
		JPKI_ERR_POLICY, "22 December 2015");
	chain_ok(f);
	close_card(&c);
}

/* ---- notices on the paper ------------------------------------------------ */

/* The text of a PDF as pdftotext (poppler-utils) reads it. */
static char *pdf_text(struct wf *f, const unsigned char *pdf, size_t len)
{
	char *path = NULL, *cmd = NULL, *text = calloc(1, 65536);
	FILE *fp;
	size_t n;

	assert_non_null(text);
	assert_true(asprintf(&path, "%s/paper.pdf", f->dir) > 0);
	assert_true(asprintf(&cmd, "pdftotext '%s' -", path) > 0);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(pdf, 1, len, fp), len);
	fclose(fp);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	n = fread(text, 1, 65535, fp);
	text[n] = '\0';
	assert_int_equal(pclose(fp), 0);
	free(path);
	free(cmd);
	return text;
}

static void test_notices(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req = JPKI_APPLICATION_REQUEST_INIT;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	unsigned char *pdf = NULL;
	struct tcard c;
	char person[64], *text;
	size_t len = 0;

	resident(f, person, "1980-06-06", 0);
	req.person = person;
	req.want_auth = 1;
	req.path = JPKI_ID_NO_PHOTO;
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	ok(jpki_window_letter_pdf(&pdf, &len, f->st, &f->clerk, a.id));
	text = pdf_text(f, pdf, len);
	assert_non_null(strstr(text, "照会書"));
	assert_non_null(strstr(text, "虚偽の申請は処罰されます"));
	assert_non_null(strstr(text, "暗証番号を他人に教えたりしないでください"));
	free(text);
	free(pdf);

	issue_both(f, person, &res, &c);
	ok(jpki_window_cert_copy_pdf(&pdf, &len, f->st, f->ca, &f->clerk,
				     res.sign_serial));
	text = pdf_text(f, pdf, len);
	assert_non_null(strstr(text, res.sign_serial));
	assert_non_null(strstr(text, "虚偽の申請は処罰されます"));
	assert_non_null(strstr(text, "カードを他人に貸したり"));
	free(text);
	free(pdf);
	close_card(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_photo_id_kinds, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_letter_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_identity, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_expired_and_card_expiry, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_card_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_juki_to_mynumber, setup_2015,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_juki_card_application,
					    setup_2015, teardown),
	    cmocka_unit_test_setup_teardown(test_notices, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
