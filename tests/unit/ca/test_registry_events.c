/* The CA consuming the registry's change events: what each revokes, and
 * exactly once even when the process dies in the middle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_fixture.h"
#include "jpki/registry.h"

static const struct jpki_actor chiyoda = {
    .operator_id = "chiyoda",
    .role = JPKI_ROLE_REGISTRY_CLERK,
    .municipality_code = "131016",
};
static const struct jpki_actor osaka = {
    .operator_id = "osaka",
    .role = JPKI_ROLE_REGISTRY_CLERK,
    .municipality_code = "271004",
};

/* Registers a resident of Chiyoda-ku as the fixture's request describes
 * one, into `person`. */
static void enrol(struct ca_fixture *f, char person[64])
{
	struct jpki_resident r = fx_resident();

	assert_int_equal(jpki_registry_migrate(f->st), 0);
	assert_int_equal(jpki_registry_register(person, f->st, &chiyoda, &r),
			 0);
}

static struct jpki_cert_info *status_of(struct ca_fixture *f,
					const char *serial)
{
	struct jpki_cert_info *info = NULL;

	assert_int_equal(jpki_ca_status(&info, f->ca, serial), 0);
	return info;
}

static void expect(struct ca_fixture *f, const char *serial,
		   enum jpki_cert_status status, enum jpki_reason reason)
{
	struct jpki_cert_info *info = status_of(f, serial);

	assert_int_equal(info->status, status);
	if (status != JPKI_STATUS_GOOD)
		assert_int_equal(info->reason, reason);
	jpki_cert_info_free(info);
}

static int64_t revocations_of(struct ca_fixture *f, const char *serial)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(serial);
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT COUNT(*) FROM audit_log"
					  " WHERE action = 'ca.revoke'"
					  " AND subject = $1",
					  &p, 1),
			 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

static int64_t cursor(struct ca_fixture *f)
{
	return fx_count(f, "SELECT COALESCE(MAX(seq), 0) FROM"
			   " ca_registry_cursor");
}

/* The consumer migrates nothing: without the registry's tables it says
 * so and changes nothing; once they exist, an empty outbox is read, not
 * written. */
static void test_no_registry_yet(void **state)
{
	struct ca_fixture *f = *state;
	size_t n = 99;
	uint64_t writes;

	assert_int_not_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cursor(f), 0);
	assert_int_equal(jpki_registry_migrate(f->st), 0);
	writes = jpki_store_writes(f->st);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cursor(f), 0);
	assert_int_equal(jpki_store_writes(f->st), writes);
}

/* Idle means no write transaction at all (no writer lock taken from the
 * clerks); an event means one. */
static void test_idle_consumer_does_not_write(void **state)
{
	struct ca_fixture *f = *state;
	char a[64];
	size_t n = 0;
	uint64_t writes;

	enrol(f, a);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	writes = jpki_store_writes(f->st);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
		assert_int_equal(n, 0);
	}
	assert_int_equal(jpki_store_writes(f->st), writes);
	/* the negative: an event is applied in a write transaction */
	assert_int_equal(jpki_registry_death(f->st, &chiyoda, a), 0);
	writes = jpki_store_writes(f->st);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 1);
	assert_true(jpki_store_writes(f->st) > writes);
	assert_int_equal(cursor(f), 1);
}

/* Another process's consumer holds the consumer lock: this one skips its
 * turn (no queueing on the writer lock) and catches up once it is let go.
 * The lock is PostgreSQL's (SQLite's writers already take turns). */
static void test_consumer_skips_while_another_holds_the_lock(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_store *other = NULL;
	char a[64];
	size_t n = 99;
	int got = 0;

	if (!tu_store_is_pg()) {
		skip();
		return;
	}
	enrol(f, a);
	assert_int_equal(jpki_registry_death(f->st, &chiyoda, a), 0);
	assert_int_equal(jpki_store_open(&other, f->url), 0);
	assert_int_equal(
	    jpki_store_try_lock(other, JPKI_CA_CONSUMER_LOCK, &got), 0);
	assert_int_equal(got, 1);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cursor(f), 0);
	jpki_store_unlock(other, JPKI_CA_CONSUMER_LOCK);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cursor(f), 1);
	jpki_store_free(other);
}

static void test_move_revokes_signing_only(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *sign, *auth;
	struct jpki_audit_report rep;
	unsigned char *der = NULL;
	size_t n, len;
	char person[64];
	X509_CRL *crl;
	const unsigned char *p;

	enrol(f, person);
	sign = fx_issue(f, JPKI_CERT_SIGN, person);
	auth = fx_issue(f, JPKI_CERT_AUTH, person);
	assert_int_equal(jpki_registry_move(f->st, &osaka, person, "271004",
					    "大阪府", "大阪市",
					    "大阪府大阪市北区１番"),
			 0);
	/* Nothing happens at the CA until it consumes the event. */
	expect(f, sign->serial, JPKI_STATUS_GOOD, 0);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 1);
	expect(f, sign->serial, JPKI_STATUS_REVOKED,
	       JPKI_REASON_AFFILIATION_CHANGED);
	expect(f, auth->serial, JPKI_STATUS_GOOD, 0);
	assert_int_equal(revocations_of(f, sign->serial), 1);
	assert_int_equal(revocations_of(f, auth->serial), 0);
	assert_int_equal(cursor(f), 1);
	/* The municipality's CRL lists it already. */
	assert_int_equal(jpki_ca_crl_get(&der, &len, f->ca, "sign/131016"), 0);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
	X509_CRL_free(crl);
	free(der);
	/* Applying again finds nothing to do. */
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 0);
	assert_int_equal(revocations_of(f, sign->serial), 1);
	assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
	assert_true(rep.ok);
	jpki_cert_info_free(sign);
	jpki_cert_info_free(auth);
}

static void test_death_revokes_all(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *sign, *auth, *other;
	char person[64], neighbour[64];
	size_t n;

	enrol(f, person);
	enrol(f, neighbour);
	sign = fx_issue(f, JPKI_CERT_SIGN, person);
	auth = fx_issue(f, JPKI_CERT_AUTH, person);
	other = fx_issue(f, JPKI_CERT_SIGN, neighbour);
	/* A held certificate must not come back to life by a release. */
	assert_int_equal(jpki_ca_hold(f->ca, auth->serial), 0);
	assert_int_equal(jpki_registry_death(f->st, &chiyoda, person), 0);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 1);
	expect(f, sign->serial, JPKI_STATUS_REVOKED, JPKI_REASON_CESSATION);
	expect(f, auth->serial, JPKI_STATUS_REVOKED, JPKI_REASON_CESSATION);
	expect(f, other->serial, JPKI_STATUS_GOOD, 0);
	assert_int_equal(revocations_of(f, sign->serial), 1);
	assert_int_equal(revocations_of(f, auth->serial), 1);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 0);
	jpki_cert_info_free(sign);
	jpki_cert_info_free(auth);
	jpki_cert_info_free(other);
}

static void test_removal_and_later_issue(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *old, *fresh;
	char person[64];
	size_t n;

	enrol(f, person);
	old = fx_issue(f, JPKI_CERT_SIGN, person);
	/* The card was lost and a new certificate issued with the new name
	 * after the registry's change but before the CA heard of it: the new
	 * one already tells the truth and stays good. */
	assert_int_equal(
	    jpki_registry_change_name(f->st, &chiyoda, person, "田中　太郎"),
	    0);
	fx_at("2026-01-11");
	assert_int_equal(
	    jpki_ca_revoke(f->ca, old->serial, JPKI_REASON_KEY_COMPROMISE), 0);
	fresh = fx_issue(f, JPKI_CERT_SIGN, person);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 1);
	expect(f, old->serial, JPKI_STATUS_REVOKED, JPKI_REASON_KEY_COMPROMISE);
	expect(f, fresh->serial, JPKI_STATUS_GOOD, 0);
	/* Removal from the register revokes it. */
	assert_int_equal(jpki_registry_remove(f->st, &chiyoda, person), 0);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	assert_int_equal(n, 1);
	expect(f, fresh->serial, JPKI_STATUS_REVOKED, JPKI_REASON_CESSATION);
	assert_int_equal(cursor(f), 2);
	jpki_cert_info_free(old);
	jpki_cert_info_free(fresh);
}

/*
 * A crash anywhere: the store fails at the 1st, 2nd, ... statement of a
 * run; each failed run must have left every event either applied whole
 * (cursor past it, its certificates revoked once) or not at all. The clock
 * moves on between runs, so a second revocation would show in the time.
 */
static void test_crash_anywhere(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c[5];
	time_t first[5] = {0}, t0;
	char a[64], b[64], d[64];
	int failures = 0, done = 0;
	struct jpki_audit_report rep;

	enrol(f, a);
	enrol(f, b);
	enrol(f, d);
	c[0] = fx_issue(f, JPKI_CERT_SIGN, a);
	c[1] = fx_issue(f, JPKI_CERT_AUTH, a);
	c[2] = fx_issue(f, JPKI_CERT_SIGN, b);
	c[3] = fx_issue(f, JPKI_CERT_AUTH, b);
	c[4] = fx_issue(f, JPKI_CERT_SIGN, d);
	assert_int_equal(jpki_registry_move(f->st, &osaka, a, "271004",
					    "大阪府", "大阪市",
					    "大阪府大阪市北区１番"),
			 0); /* event 1 */
	assert_int_equal(jpki_registry_death(f->st, &chiyoda, b), 0); /* 2 */
	assert_int_equal(
	    jpki_registry_correct_sex(f->st, &chiyoda, d, JPKI_SEX_UNKNOWN),
	    0); /* event 3 */
	t0 = jpki_clock_now();
	for (int nth = 1; nth < 400 && !done; nth++) {
		size_t n = 0;
		int r;

		jpki_clock_freeze(t0 + nth);
		jpki_store_fail_after(f->st, nth);
		r = jpki_ca_apply_registry_events(&n, f->ca);
		jpki_store_fail_after(f->st, 0);
		if (r == 0)
			done = 1;
		else {
			failures++;
			assert_int_equal(r, JPKI_ERR_STORE);
		}
		/* What the cursor says is exactly what happened. */
		{
			int64_t cur = cursor(f);
			/* which event revokes each certificate */
			static const int64_t by_event[5] = {1, 0, 2, 2, 3};

			for (int i = 0; i < 5; i++) {
				struct jpki_cert_info *s =
				    status_of(f, c[i]->serial);
				int should =
				    by_event[i] != 0 && by_event[i] <= cur;

				assert_int_equal(s->status,
						 should ? JPKI_STATUS_REVOKED
							: JPKI_STATUS_GOOD);
				assert_int_equal(
				    revocations_of(f, c[i]->serial),
				    should ? 1 : 0);
				if (should && first[i] == 0)
					first[i] = s->revoked_at;
				if (should)
					assert_int_equal(s->revoked_at,
							 first[i]);
				jpki_cert_info_free(s);
			}
		}
	}
	assert_true(done);
	assert_true(failures > 10);
	assert_int_equal(cursor(f), 3);
	/* The three events are one batch, which commits whole: every
	 * certificate was revoked by the one run that got through. */
	assert_true(first[0] == first[4]);
	assert_true(first[0] == first[2]);
	assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
	assert_true(rep.ok);
	for (int i = 0; i < 5; i++)
		jpki_cert_info_free(c[i]);
}

/* An event of a kind the CA does not know stops the consumer at it: the
 * events before it in the same batch are applied, nothing after it. */
/* A batch costs a few statements, not five a revocation (on PostgreSQL
 * each is a round trip): thirty moves and a death applied within 40
 * statements (before: over 150), counted by the injected failure; a
 * person's second event in the batch sees the first's revocation. */
static void test_batch_few_statements(void **state)
{
	struct ca_fixture *f = *state;
	enum { N = 30 };
	char persons[N][64];
	struct jpki_cert_info *sign[N], *auth;
	struct jpki_audit_report rep;
	size_t n = 0;

	for (int i = 0; i < N; i++) {
		enrol(f, persons[i]);
		sign[i] = fx_issue(f, JPKI_CERT_SIGN, persons[i]);
	}
	auth = fx_issue(f, JPKI_CERT_AUTH, persons[0]);
	for (int i = 0; i < N; i++)
		assert_int_equal(jpki_registry_move(f->st, &osaka, persons[i],
						    "271004", "大阪府",
						    "大阪市",
						    "大阪府大阪市北区１番"),
				 0);
	assert_int_equal(jpki_registry_death(f->st, &osaka, persons[0]), 0);
	/* negative: five statements are not enough, and leave nothing */
	jpki_store_fail_after(f->st, 5);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca),
			 JPKI_ERR_STORE);
	jpki_store_fail_after(f->st, 0);
	assert_int_equal(cursor(f), 0);
	expect(f, sign[0]->serial, JPKI_STATUS_GOOD, 0);
	jpki_store_fail_after(f->st, 40);
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca), 0);
	jpki_store_fail_after(f->st, 0);
	assert_int_equal(n, N + 1);
	for (int i = 0; i < N; i++) {
		expect(f, sign[i]->serial, JPKI_STATUS_REVOKED,
		       JPKI_REASON_AFFILIATION_CHANGED);
		assert_int_equal(revocations_of(f, sign[i]->serial), 1);
		jpki_cert_info_free(sign[i]);
	}
	/* the death revoked what the move left: the authentication one */
	expect(f, auth->serial, JPKI_STATUS_REVOKED, JPKI_REASON_CESSATION);
	assert_int_equal(revocations_of(f, auth->serial), 1);
	assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
	assert_true(rep.ok);
	jpki_cert_info_free(auth);
}

static void test_unknown_kind_stops_the_batch(void **state)
{
	struct ca_fixture *f = *state;
	struct jpki_cert_info *c1, *c2;
	char a[64], b[64];
	size_t n = 0;

	enrol(f, a);
	enrol(f, b);
	c1 = fx_issue(f, JPKI_CERT_SIGN, a);
	c2 = fx_issue(f, JPKI_CERT_SIGN, b);
	assert_int_equal(jpki_registry_death(f->st, &chiyoda, a), 0); /* 1 */
	{
		struct jpki_value v[] = {JPKI_V_TEXT(b),
					 JPKI_V_INT(jpki_clock_now())};

		assert_int_equal(
		    jpki_store_exec(f->st,
				    "INSERT INTO registry_event (seq, kind,"
				    " person, what, at) VALUES (2, 99, $1,"
				    " 'future', $2)",
				    v, 2, NULL),
		    0);
	}
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "does not know"));
	assert_int_equal(n, 1);
	assert_int_equal(cursor(f), 1);
	expect(f, c1->serial, JPKI_STATUS_REVOKED, JPKI_REASON_CESSATION);
	expect(f, c2->serial, JPKI_STATUS_GOOD, 0);
	/* and again: it stays stopped, applies nothing twice */
	assert_int_equal(jpki_ca_apply_registry_events(&n, f->ca),
			 JPKI_ERR_STATE);
	assert_int_equal(n, 0);
	assert_int_equal(revocations_of(f, c1->serial), 1);
	jpki_cert_info_free(c1);
	jpki_cert_info_free(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_idle_consumer_does_not_write,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_consumer_skips_while_another_holds_the_lock, fx_setup,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(test_no_registry_yet, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_move_revokes_signing_only,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_death_revokes_all, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_removal_and_later_issue,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_anywhere, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_few_statements,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_kind_stops_the_batch,
					    fx_setup, fx_teardown),
	};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
