/*
 * The office an operator works at (本庁 or a branch): set by a CA officer
 * only, a code of the window's form, carried by the operator's sessions,
 * "" (the main office) for operators from before offices existed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/audit.h"
#include "testutil.h"

static const char *PW = "correct horse battery";

struct fx {
	char *dir, *url;
	struct jpki_store *st;
	struct jpki_actor officer, clerk;
};

static int64_t count(struct fx *f, const char *sql)
{
	struct jpki_rows *rows = NULL;
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, f->st, sql, NULL, 0), 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	time_t t;

	setenv("JPKI_ARGON2_TEST", "1", 1);
	jpki_log_set_level(JPKI_LOG_ERROR);
	if (f == NULL || jpki_clock_parse(&t, "2026-01-10T09:00:00") != 0)
		return -1;
	jpki_clock_freeze(t);
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_audit_migrate(f->st) != 0 ||
	    jpki_audit_operator_add(f->st, NULL, "officer",
				    JPKI_ROLE_CA_OFFICER, "", PW) != 0)
		return -1;
	snprintf(f->officer.operator_id, sizeof(f->officer.operator_id),
		 "officer");
	f->officer.role = JPKI_ROLE_CA_OFFICER;
	if (jpki_audit_operator_add(f->st, &f->officer, "clerk1",
				    JPKI_ROLE_WINDOW_CLERK, "131016", PW) != 0)
		return -1;
	snprintf(f->clerk.operator_id, sizeof(f->clerk.operator_id), "clerk1");
	f->clerk.role = JPKI_ROLE_WINDOW_CLERK;
	snprintf(f->clerk.municipality_code, sizeof(f->clerk.municipality_code),
		 "131016");
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

static void session_office(struct fx *f, const char *want)
{
	struct jpki_actor who;
	char *token = NULL;

	assert_int_equal(jpki_audit_login(&token, f->st, "clerk1", PW, 0), 0);
	assert_int_equal(jpki_audit_session(&who, f->st, token), 0);
	assert_string_equal(who.office_code, want);
	free(token);
}

static void test_office(void **state)
{
	struct fx *f = *state;
	struct jpki_actor who;
	char *token = NULL;

	/* added before any office: the main office ("") */
	session_office(f, "");
	assert_int_equal(jpki_audit_login(&token, f->st, "clerk1", PW, 0), 0);
	assert_int_equal(jpki_audit_operator_set_office(
			     f->st, &f->officer, "clerk1", "131016-kanda"),
			 0);
	/* the session from before the move is ended */
	assert_int_not_equal(jpki_audit_session(&who, f->st, token), 0);
	free(token);
	session_office(f, "131016-kanda");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'audit.operator-office' AND detail"
				  " LIKE '%131016-kanda%'"),
			 1);

	/* negatives: not a CA officer, a bad code, no such operator */
	assert_int_equal(jpki_audit_operator_set_office(f->st, &f->clerk,
							"clerk1", "131016"),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_operator_set_office(f->st, &f->officer,
							"clerk1", "a\"b"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_operator_set_office(f->st, &f->officer,
							"clerk1",
							"131016-much-too-long"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_operator_set_office(f->st, &f->officer,
							"nobody", "131016"),
			 JPKI_ERR_NOT_FOUND);
	session_office(f, "131016-kanda");
	/* back to the main office */
	assert_int_equal(
	    jpki_audit_operator_set_office(f->st, &f->officer, "clerk1", ""),
	    0);
	session_office(f, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_office, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
