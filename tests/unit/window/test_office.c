/*
 * The window's offices (本庁, 支所・出張所; SPEC section 3, "Branch
 * offices"): each office's hours and capacity, issue limited to the main
 * office, PIN resets and loss reports at any office, operators' offices,
 * and the hours and capacity set before offices existed becoming the main
 * office's.
 */
#include "window_fixture.h"

/* Everything a procedure could change, summed: a refusal leaves it. */
static void two_branches(struct wf *f)
{
	ok(jpki_window_office_add(f->st, &f->clerk, CODE "-kanda", CODE,
				  "神田出張所", 0));
	ok(jpki_window_office_add(f->st, &f->clerk, CODE "-fuji", CODE,
				  "富士見出張所", 0));
}

/* ---- the offices themselves ---------------------------------------------- */

static void test_offices(void **state)
{
	struct wf *f = *state;
	struct jpki_office o, *list = NULL;
	size_t n = 0;

	/* a municipality nobody set up has its main office all the same */
	ok(jpki_window_offices(&list, &n, f->st, CODE));
	assert_int_equal(n, 1);
	assert_string_equal(list[0].code, CODE);
	assert_true(list[0].main && list[0].may_issue);
	assert_int_equal(list[0].open_minute, 9 * 60);
	free(list);

	two_branches(f);
	ok(jpki_window_office_add(f->st, &f->clerk, CODE "-ekimae", CODE,
				  "駅前支所", 1));
	ok(jpki_window_offices(&list, &n, f->st, CODE));
	assert_int_equal(n, 4);
	assert_string_equal(list[0].code, CODE); /* main first */
	assert_true(list[0].main);
	for (size_t i = 1; i < n; i++)
		assert_false(list[i].main);
	free(list);
	ok(jpki_window_office_get(&o, f->st, CODE "-ekimae"));
	assert_true(o.may_issue);
	ok(jpki_window_office_get(&o, f->st, CODE "-kanda"));
	assert_false(o.may_issue);
	assert_string_equal(o.name, "神田出張所");

	/* negatives: a taken code, a code of the wrong form or of another
	 * municipality, a clerk of another municipality, a bad name */
	refused(jpki_window_office_add(f->st, &f->clerk, CODE "-kanda", CODE,
				       "神田", 0),
		JPKI_ERR_EXISTS, "exists");
	refused(
	    jpki_window_office_add(f->st, &f->clerk, "271004-x", CODE, "x", 0),
	    JPKI_ERR_INVALID, "branch");
	refused(
	    jpki_window_office_add(f->st, &f->clerk, CODE "-a b", CODE, "x", 0),
	    JPKI_ERR_INVALID, NULL);
	refused(
	    jpki_window_office_add(f->st, &f->other, CODE "-y", CODE, "y", 0),
	    JPKI_ERR_POLICY, "271004");
	refused(jpki_window_office_add(f->st, &f->clerk, CODE "-z", CODE,
				       "a\nb", 0),
		JPKI_ERR_INVALID, NULL);
	refused(jpki_window_office_get(&o, f->st, CODE "-none"),
		JPKI_ERR_NOT_FOUND, NULL);
	refused(jpki_window_set_counters(f->st, &f->clerk, CODE "-kanda", 0),
		JPKI_ERR_INVALID, NULL);
	ok(jpki_window_set_counters(f->st, &f->clerk, CODE "-kanda", 3));
	ok(jpki_window_office_get(&o, f->st, CODE "-kanda"));
	assert_int_equal(o.counters, 3);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'window.office.add'"),
			 3);
	chain_ok(f);
}

/* ---- hours per office -----------------------------------------------------
 */

static void test_hours_per_office(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_application a;
	struct jpki_office o;
	char person[64];

	resident(f, person, "1980-06-01", 0);
	two_branches(f);
	/* 神田 opens at 10:30; it is 10:00 */
	ok(jpki_window_set_hours(f->st, &f->clerk, CODE "-kanda", 10 * 60 + 30,
				 16 * 60));
	ok(jpki_window_office_get(&o, f->st, CODE "-kanda"));
	assert_int_equal(o.open_minute, 10 * 60 + 30);
	req = photo_req(person);
	refused(jpki_window_apply(&a, f->st, &f->branch, &req), JPKI_ERR_POLICY,
		"神田出張所 (" CODE "-kanda) is closed at 10:00");
	/* the main office and the other branch keep their own hours */
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	ok(jpki_window_apply(&a, f->st, &f->branch2, &req));
	/* a branch's hours set by a clerk of another municipality: no */
	refused(jpki_window_set_hours(f->st, &f->other, CODE "-kanda", 0, 60),
		JPKI_ERR_POLICY, NULL);
	refused(jpki_window_set_hours(f->st, &f->clerk, CODE "-none", 0, 60),
		JPKI_ERR_NOT_FOUND, NULL);
}

/* ---- capacity per office, and issue at the main office only -------------- */

static void test_issue_main_only(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	struct tcard c;
	char person[64];
	int64_t before;

	resident(f, person, "1980-06-01", 0);
	two_branches(f);
	req = photo_req(person);
	/* the application is taken at the branch ... */
	ok(jpki_window_apply(&a, f->st, &f->branch, &req));
	new_card(f, &c, JPKI_CARD_MYNUMBER);
	before = count(f, "SELECT COUNT(*) FROM window_fee") +
		 count(f, "SELECT COALESCE(SUM(used), 0) FROM "
			  "window_capacity_use");
	/* ... but not issued there, and the refusal is on the chain */
	refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->branch, a.id, "1234", "ABC123"),
		JPKI_ERR_POLICY,
		"certificates are issued at the main office only");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'window.issue.refused' AND"
				  " operator = 'kanda1'"),
			 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM window_fee") +
			     count(f, "SELECT COALESCE(SUM(used), 0) FROM "
				      "window_capacity_use"),
			 before);
	/* renewal makes a certificate too */
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;

	rr.person = person;
	rr.type = JPKI_CERT_AUTH;
	rr.photo_id_kind = "driving-licence";
	rr.photo_id_address = ADDRESS;
	refused(jpki_window_renew(&res, f->st, f->ca, c.rd, f->issuer,
				  &f->branch, &rr),
		JPKI_ERR_POLICY,
		"certificates are issued at the main office only");

	/* the main office's capacity is its own: one a day, and a branch
	 * that may issue has its own */
	ok(jpki_window_set_capacity(f->st, &f->clerk, CODE, 2));
	ok(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     a.id, "1234", "ABC123"));
	assert_int_equal(count(f, "SELECT used FROM window_capacity_use"
				  " WHERE municipality_code = '" CODE "'"),
			 2);
	close_card(&c);
	ok(jpki_window_office_add(f->st, &f->clerk, CODE "-ekimae", CODE,
				  "駅前支所", 1));
	{
		struct jpki_actor ekimae = f->clerk;
		char p2[64];

		snprintf(ekimae.office_code, sizeof(ekimae.office_code),
			 CODE "-ekimae");
		resident(f, p2, "1981-01-01", 0);
		req = photo_req(p2);
		ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
		new_card(f, &c, JPKI_CARD_MYNUMBER);
		/* the main office is full; 駅前 has no limit of its own */
		refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
					  &f->clerk, a.id, "1234", "ABC123"),
			JPKI_ERR_POLICY, "本庁 (" CODE ") (2 certificates");
		ok(jpki_window_set_capacity(f->st, &f->clerk, CODE "-ekimae",
					    1));
		refused(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
					  &ekimae, a.id, "1234", "ABC123"),
			JPKI_ERR_POLICY, "駅前支所");
		ok(jpki_window_set_capacity(f->st, &f->clerk, CODE "-ekimae",
					    5));
		ok(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer,
				     &ekimae, a.id, "1234", "ABC123"));
		assert_int_equal(
		    count(f, "SELECT used FROM window_capacity_use WHERE"
			     " municipality_code = '" CODE "-ekimae'"),
		    2);
		close_card(&c);
	}
	chain_ok(f);
}

/* ---- PIN reset and loss report at any office ------------------------------
 */

static void test_any_office(void **state)
{
	struct wf *f = *state;
	struct jpki_application_request req;
	struct jpki_window_issue_result res;
	struct jpki_application a;
	struct tcard c;
	char person[64];
	size_t n = 0;

	resident(f, person, "1980-06-01", 0);
	two_branches(f);
	req = photo_req(person);
	ok(jpki_window_apply(&a, f->st, &f->clerk, &req));
	new_card(f, &c, JPKI_CARD_MYNUMBER);
	ok(jpki_window_issue(&res, f->st, f->ca, c.rd, f->issuer, &f->clerk,
			     a.id, "1234", "ABC123"));
	/* a PIN reset at one branch ... */
	ok(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->branch,
				 person, ADDRESS, JPKI_CERT_AUTH, "5678"));
	/* ... and at the other, which keeps its own hours */
	ok(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer, &f->branch2,
				 person, ADDRESS, JPKI_CERT_AUTH, "2468"));
	ok(jpki_window_set_hours(f->st, &f->clerk, CODE "-fuji", 13 * 60,
				 17 * 60));
	refused(jpki_window_pin_reset(f->st, f->ca, c.rd, f->issuer,
				      &f->branch2, person, ADDRESS,
				      JPKI_CERT_AUTH, "1357"),
		JPKI_ERR_POLICY, "富士見出張所");
	/* a loss report at a branch revokes at once */
	ok(jpki_window_report(&n, f->st, f->ca, &f->branch, person,
			      JPKI_LOSS_LOST));
	assert_int_equal(n, 2);
	/* the clerk of another municipality: refused and recorded */
	refused(jpki_window_report(&n, f->st, f->ca, &f->other, person,
				   JPKI_LOSS_LOST),
		JPKI_ERR_POLICY, "271004");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'window.refused' AND operator ="
				  " 'clerk2'"),
			 1);
	close_card(&c);
	chain_ok(f);
}

/* ---- the fee ledger as a clerk reads it -----------------------------------
 */

static void test_fees_read(void **state)
{
	struct wf *f = *state;
	struct jpki_fee *fees = NULL;
	size_t n = 7;

	ok(jpki_window_fees_read(&fees, &n, f->st, &f->branch));
	assert_int_equal(n, 0);
	free(fees);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'window.fees.read' AND subject ="
				  " '" CODE "'"),
			 1);
	/* a registry clerk does not read it; the refusal is recorded */
	refused(jpki_window_fees_read(&fees, &n, f->st, &f->reg),
		JPKI_ERR_POLICY, "does not read");
	assert_null(fees);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'window.fees.read.refused'"),
			 1);
	chain_ok(f);
}

/* ---- the hours and capacity set before offices became the main office's - */

static void test_migration(void **state)
{
	struct wf *f = *state;
	struct jpki_office *list = NULL;
	size_t n = 0;

	/* as a store from before: hours and a capacity per municipality,
	 * no office table */
	ok(jpki_store_exec(f->st, "DROP TABLE window_office", NULL, 0, NULL));
	ok(jpki_store_exec(f->st,
			   "DELETE FROM jpki_schema WHERE module ="
			   " 'window_office'",
			   NULL, 0, NULL));
	ok(jpki_store_exec(
	    f->st, "INSERT INTO window_hours VALUES ('" CODE "', 510, 1035)",
	    NULL, 0, NULL));
	ok(jpki_store_exec(f->st,
			   "INSERT INTO window_capacity VALUES ('" CODE
			   "', 40), ('271004', 7)",
			   NULL, 0, NULL));
	ok(jpki_window_migrate(f->st));
	assert_int_equal(count(f, "SELECT COUNT(*) FROM window_office"), 2);
	ok(jpki_window_offices(&list, &n, f->st, CODE));
	assert_int_equal(n, 1);
	assert_true(list[0].main && list[0].may_issue);
	assert_int_equal(list[0].open_minute, 510);
	assert_int_equal(list[0].close_minute, 1035);
	assert_int_equal(list[0].per_day, 40);
	free(list);
	ok(jpki_window_offices(&list, &n, f->st, "271004"));
	assert_int_equal(n, 1);
	assert_int_equal(list[0].per_day, 7);
	assert_int_equal(list[0].open_minute, 9 * 60);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_offices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hours_per_office, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_issue_main_only, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_any_office, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fees_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
