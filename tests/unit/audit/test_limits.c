/*
 * Log-in limits (per operator and per address, growing delays, the lock
 * an administrator lifts), operator management (disable, enable, unlock,
 * password, sessions) and the chain read back with filters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/audit.h"
#include "testutil.h"

struct fx {
	char *dir;
	char *url;
	struct jpki_store *st;
	struct jpki_actor officer, clerk, auditor;
	time_t t0;
};

static const char *PW = "correct horse battery";
static const char *PW2 = "another long password";

static struct jpki_actor actor(const char *id, enum jpki_role role,
			       const char *mun)
{
	struct jpki_actor a = {0};

	snprintf(a.operator_id, sizeof(a.operator_id), "%s", id);
	a.role = role;
	snprintf(a.municipality_code, sizeof(a.municipality_code), "%s", mun);
	return a;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(jpki_clock_parse(&f->t0, "2026-01-10T09:00:00"), 0);
	jpki_clock_freeze(f->t0);
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_audit_migrate(f->st) != 0)
		return -1;
	f->officer = actor("officer", JPKI_ROLE_CA_OFFICER, "");
	f->clerk = actor("clerk", JPKI_ROLE_WINDOW_CLERK, "131016");
	f->auditor = actor("auditor", JPKI_ROLE_AUDITOR, "");
	if (jpki_audit_operator_add(f->st, NULL, "officer",
				    JPKI_ROLE_CA_OFFICER, "", PW) != 0 ||
	    jpki_audit_operator_add(f->st, &f->officer, "clerk",
				    JPKI_ROLE_WINDOW_CLERK, "131016",
				    PW) != 0 ||
	    jpki_audit_operator_add(f->st, &f->officer, "auditor",
				    JPKI_ROLE_AUDITOR, "", PW) != 0)
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

static int64_t entries(struct fx *f, const char *action)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM audit_log WHERE action = '%s'", action);
	return tu_count(f->st, sql);
}

/* A log-in with options; the token is freed. */
static int try_login(struct fx *f, unsigned *retry, const char *id,
		     const char *pw, const struct jpki_audit_login_opts *o)
{
	char *tok = NULL;
	int r = jpki_audit_login_ex(&tok, retry, f->st, id, pw, o);

	assert_true(r == 0 ? tok != NULL : tok == NULL);
	free(tok);
	return r;
}

static void later(struct fx *f, time_t seconds)
{
	f->t0 += seconds;
	jpki_clock_freeze(f->t0);
}

static void test_account_delay(void **state)
{
	struct fx *f = *state;
	struct jpki_audit_login_opts o = JPKI_AUDIT_LOGIN_OPTS_INIT;
	unsigned retry = 99;

	/* Five failures are free. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(
		    try_login(f, &retry, "clerk", "wrong guess!", &o),
		    JPKI_ERR_POLICY);
		assert_int_equal(retry, 0);
	}
	assert_int_equal(entries(f, "audit.login-failed"), 5);
	/* The free ones set no wait at all (not "until now": another
	 * process's clock may read a moment earlier). */
	{
		struct jpki_audit_login_opts a = o;

		a.client = "192.0.2.9";
		assert_int_equal(
		    try_login(f, &retry, "ghost", "wrong guess!", &a),
		    JPKI_ERR_POLICY);
		assert_int_equal(tu_count(f->st, "SELECT wait_until FROM"
					  " audit_login_addr"),
				 0);
	}
	/* Then 2^0 = 1 second: refused at once, even with the right
	 * password, and without being checked (no entry written). */
	assert_int_equal(try_login(f, &retry, "clerk", PW, &o),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 1);
	assert_non_null(strstr(jpki_err_detail(), "try again in 1 second"));
	assert_int_equal(jpki_audit_login_gate(&retry, f->st, "clerk", &o),
			 JPKI_ERR_POLICY);
	assert_int_equal(entries(f, "audit.login-failed"), 6);
	/* The wait passed: one more guess, then 2 seconds. */
	later(f, 1);
	assert_int_equal(jpki_audit_login_gate(&retry, f->st, "clerk", &o), 0);
	assert_int_equal(try_login(f, &retry, "clerk", "wrong guess!", &o),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 0);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &o),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 2);
	/* The CLI's log-in (jpki_audit_login) keeps the same rules. */
	{
		char *tok = NULL;

		assert_int_equal(jpki_audit_login(&tok, f->st, "clerk", PW, 0),
				 JPKI_ERR_POLICY);
		assert_null(tok);
	}
	/* Other operators are not held up by the clerk's failures. */
	assert_int_equal(try_login(f, &retry, "officer", PW, &o), 0);
	/* After the wait the right password works and clears the count. */
	later(f, 2);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &o), 0);
	assert_int_equal(tu_count(f->st, "SELECT failures FROM audit_operator"
				  " WHERE id = 'clerk'"),
			 0);
	assert_int_equal(try_login(f, &retry, "clerk", "wrong guess!", &o),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 0);
	assert_int_equal(tu_count(f->st, "SELECT wait_until FROM audit_operator"
				  " WHERE id = 'clerk'"),
			 0);
}

static void test_account_lock(void **state)
{
	struct fx *f = *state;
	struct jpki_audit_login_opts o = JPKI_AUDIT_LOGIN_OPTS_INIT;
	unsigned retry;

	o.limits.account_free = 100; /* no delays: only the lock */
	o.limits.account_lock = 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    try_login(f, &retry, "clerk", "wrong guess!", &o),
		    JPKI_ERR_POLICY);
	assert_int_equal(entries(f, "audit.operator-locked"), 1);
	/* Locked: the right password is refused too, a day later too. */
	later(f, 86400);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &o), JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "jpki operator unlock"));
	assert_int_equal(retry, 0);
	assert_int_equal(entries(f, "audit.login-failed"), 3);
	/* Only a CA officer lifts it. */
	assert_int_equal(jpki_audit_operator_unlock(f->st, &f->clerk, "clerk"),
			 JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_operator_unlock(f->st, &f->auditor, "clerk"),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_operator_unlock(f->st, &f->officer, "nobody"),
	    JPKI_ERR_NOT_FOUND);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &o), JPKI_ERR_STATE);
	assert_int_equal(
	    jpki_audit_operator_unlock(f->st, &f->officer, "clerk"), 0);
	assert_int_equal(entries(f, "audit.operator-unlock"), 1);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &o), 0);
	assert_int_equal(tu_count(f->st, "SELECT locked + failures FROM"
				  " audit_operator WHERE id = 'clerk'"),
			 0);
	{
		struct jpki_audit_report rep;

		assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
		assert_true(rep.ok);
	}
}

static void test_address_delay(void **state)
{
	struct fx *f = *state;
	struct jpki_audit_login_opts a = JPKI_AUDIT_LOGIN_OPTS_INIT,
				     b = JPKI_AUDIT_LOGIN_OPTS_INIT,
				     cli = JPKI_AUDIT_LOGIN_OPTS_INIT;
	unsigned retry;

	a.client = "192.0.2.1";
	a.limits.address_free = 2;
	b = a;
	b.client = "192.0.2.2";
	cli.limits.address_free = 2;
	/* Guessing across names (which do not exist: no per-operator
	 * state) is held up by the address. */
	assert_int_equal(try_login(f, &retry, "ghost1", "wrong guess!", &a),
			 JPKI_ERR_POLICY);
	assert_int_equal(try_login(f, &retry, "ghost2", "wrong guess!", &a),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 0);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &a),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 1);
	/* Recorded with the address. */
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'audit.login-failed' AND detail ="
				  " '{\"client\":\"192.0.2.1\"}'"),
			 2);
	/* Another address and the CLI (no address) are not held up. */
	assert_int_equal(try_login(f, &retry, "clerk", PW, &b), 0);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &cli), 0);
	later(f, 1);
	assert_int_equal(try_login(f, &retry, "ghost3", "wrong guess!", &a),
			 JPKI_ERR_POLICY);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &a),
			 JPKI_ERR_POLICY);
	assert_int_equal(retry, 2);
	/* A quiet day forgets the address. */
	later(f, 86400 + 1);
	assert_int_equal(try_login(f, &retry, "ghost4", "wrong guess!", &b),
			 JPKI_ERR_POLICY);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_login_addr"
				  " WHERE addr = '192.0.2.1'"),
			 0);
	assert_int_equal(try_login(f, &retry, "clerk", PW, &a), 0);
	/* An address that is no address is kept as "?". */
	a.client = "1.2.3.4\"}";
	assert_int_equal(try_login(f, &retry, "ghost5", "wrong guess!", &a),
			 JPKI_ERR_POLICY);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_login_addr"
				  " WHERE addr = '?'"),
			 1);
}

static void test_disable(void **state)
{
	struct fx *f = *state;
	struct jpki_actor who;
	char *tok = NULL;
	unsigned retry;

	assert_int_equal(jpki_audit_login(&tok, f->st, "clerk", PW, 0), 0);
	assert_int_equal(
	    jpki_audit_operator_disable(f->st, &f->clerk, "clerk", 1),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_operator_disable(f->st, &f->officer, "officer", 1),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_operator_disable(f->st, &f->officer, "nobody", 1),
	    JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_audit_session(&who, f->st, tok), 0);
	assert_int_equal(
	    jpki_audit_operator_disable(f->st, &f->officer, "clerk", 1), 0);
	/* Its session ended, and it cannot log in, without a hash. */
	assert_int_equal(jpki_audit_session(&who, f->st, tok), JPKI_ERR_POLICY);
	assert_int_equal(try_login(f, &retry, "clerk", PW, NULL),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "disabled"));
	assert_int_equal(entries(f, "audit.operator-disable"), 1);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'audit.operator-disable' AND"
				  " detail = '{\"sessions_ended\":1}'"),
			 1);
	assert_int_equal(
	    jpki_audit_operator_disable(f->st, &f->officer, "clerk", 0), 0);
	assert_int_equal(entries(f, "audit.operator-enable"), 1);
	assert_int_equal(try_login(f, &retry, "clerk", PW, NULL), 0);
	free(tok);
}

static void test_password(void **state)
{
	struct fx *f = *state;
	struct jpki_actor who;
	char *tok = NULL;
	unsigned retry;

	assert_int_equal(jpki_audit_login(&tok, f->st, "clerk", PW, 0), 0);
	/* Refused: too short, another's password, unknown operator. */
	assert_int_equal(
	    jpki_audit_operator_password(f->st, &f->clerk, "clerk", "short"),
	    JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_audit_operator_password(f->st, &f->clerk, "officer", PW2),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_operator_password(f->st, &f->officer, "nobody", PW2),
	    JPKI_ERR_NOT_FOUND);
	assert_int_equal(jpki_audit_session(&who, f->st, tok), 0);
	assert_int_equal(entries(f, "audit.operator-password"), 0);
	/* The clerk's own change ends its sessions. */
	assert_int_equal(
	    jpki_audit_operator_password(f->st, &f->clerk, "clerk", PW2), 0);
	assert_int_equal(jpki_audit_session(&who, f->st, tok), JPKI_ERR_POLICY);
	assert_int_equal(try_login(f, &retry, "clerk", PW, NULL),
			 JPKI_ERR_POLICY);
	assert_int_equal(try_login(f, &retry, "clerk", PW2, NULL), 0);
	/* A CA officer sets anyone's. */
	assert_int_equal(
	    jpki_audit_operator_password(f->st, &f->officer, "clerk", PW), 0);
	assert_int_equal(try_login(f, &retry, "clerk", PW, NULL), 0);
	assert_int_equal(entries(f, "audit.operator-password"), 2);
	free(tok);
}

static void test_sessions(void **state)
{
	struct fx *f = *state;
	struct jpki_audit_session_info *list = NULL;
	struct jpki_actor who;
	char *t1 = NULL, *t2 = NULL, *t3 = NULL;
	size_t n = 9, ended = 9;

	assert_int_equal(jpki_audit_login(&t1, f->st, "clerk", PW, 0), 0);
	later(f, 1);
	assert_int_equal(jpki_audit_login(&t2, f->st, "clerk", PW, 0), 0);
	assert_int_equal(jpki_audit_login(&t3, f->st, "officer", PW, 0), 0);
	assert_int_equal(jpki_audit_sessions(&list, &n, f->st, &f->clerk, NULL),
			 JPKI_ERR_POLICY);
	assert_null(list);
	assert_int_equal(
	    jpki_audit_sessions(&list, &n, f->st, &f->auditor, NULL), 0);
	assert_int_equal(n, 3);
	free(list);
	assert_int_equal(
	    jpki_audit_sessions(&list, &n, f->st, &f->officer, "clerk"), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].operator_id, "clerk");
	assert_int_equal(strlen(list[0].id), 12);
	assert_true(list[0].created_at < list[1].created_at);
	free(list);
	/* Ending: the CA officer only, and only the named operator's. */
	assert_int_equal(
	    jpki_audit_sessions_end(&ended, f->st, &f->auditor, "clerk"),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_sessions_end(&ended, f->st, &f->officer, "nobody"),
	    JPKI_ERR_NOT_FOUND);
	assert_int_equal(
	    jpki_audit_sessions_end(&ended, f->st, &f->officer, "clerk"), 0);
	assert_int_equal(ended, 2);
	assert_int_equal(jpki_audit_session(&who, f->st, t1), JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_session(&who, f->st, t2), JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_session(&who, f->st, t3), 0);
	assert_int_equal(entries(f, "audit.sessions-end"), 1);
	free(t1);
	free(t2);
	free(t3);
}

struct seen {
	int n;
	char actions[16][64];
};

static int collect(void *ctx, const struct jpki_audit_entry *e)
{
	struct seen *s = ctx;

	if (s->n < 16)
		snprintf(s->actions[s->n], 64, "%s/%s", e->action,
			 e->operator_id);
	s->n++;
	return 0;
}

static struct seen show(struct fx *f, int expect,
			const struct jpki_audit_filter *filter)
{
	struct seen s = {0};

	assert_int_equal(
	    jpki_audit_show(f->st, &f->auditor, filter, collect, &s), expect);
	return s;
}

static void test_show(void **state)
{
	struct fx *f = *state;
	struct jpki_audit_filter flt = {0};
	struct seen s;
	time_t start = f->t0;

	/* The setup left 3 operator-add entries; add log-ins later on. */
	later(f, 3600);
	assert_int_equal(
	    jpki_audit_append(f->st, &f->clerk, "window.issue", "P1", NULL), 0);
	later(f, 3600);
	assert_int_equal(
	    jpki_audit_append(f->st, &f->officer, "ca.revoke", "42", NULL), 0);
	/* Only the auditor reads, and nothing is shown to anyone else. */
	{
		struct seen none = {0};

		assert_int_equal(
		    jpki_audit_show(f->st, &f->officer, NULL, collect, &none),
		    JPKI_ERR_POLICY);
		assert_int_equal(
		    jpki_audit_show(f->st, &f->clerk, NULL, collect, &none),
		    JPKI_ERR_POLICY);
		assert_int_equal(none.n, 0);
	}
	s = show(f, 0, NULL);
	assert_int_equal(s.n, 6); /* 3 adds, 2 appends, this show */
	assert_string_equal(s.actions[5], "audit.show/auditor");
	flt.operator_id = "clerk";
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.actions[0], "window.issue/clerk");
	flt.operator_id = NULL;
	flt.municipality = "131016";
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 1);
	flt.municipality = "271004";
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 0);
	flt.municipality = NULL;
	flt.action = "audit.operator-add";
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 3);
	flt.action = "audit.*";
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 3 + 6); /* the adds and the shows, this one too */
	flt.action = "ca.revoke";
	flt.since = start + 3600;
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 1);
	flt.action = NULL;
	flt.until = start + 3600;
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.actions[0], "window.issue/clerk");
	flt.since = 0;
	flt.until = 0;
	flt.limit = 2;
	s = show(f, 0, &flt);
	assert_int_equal(s.n, 2);
	/* Bad filters are refused, and nothing is shown or recorded. */
	{
		int64_t before = tu_count(f->st, "SELECT COUNT(*) FROM audit_log");
		struct jpki_audit_filter bad = {0};

		bad.action = "x'; DROP TABLE audit_log; --";
		s = show(f, JPKI_ERR_INVALID, &bad);
		bad.action = NULL;
		bad.municipality = "13101";
		s = show(f, JPKI_ERR_INVALID, &bad);
		bad.municipality = NULL;
		bad.operator_id = "a b";
		s = show(f, JPKI_ERR_INVALID, &bad);
		bad.operator_id = NULL;
		bad.since = start + 10;
		bad.until = start;
		s = show(f, JPKI_ERR_INVALID, &bad);
		assert_int_equal(s.n, 0);
		assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log"),
				 before);
	}
	assert_int_equal(entries(f, "audit.show"), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_account_delay, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_account_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_address_delay, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_disable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_show, setup, teardown),
	};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
