/* The resident register: each change, its audit entry and its event, and
 * every refusal leaving the register as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/registry.h"
#include "testutil.h"

struct fx {
	char *dir;
	char *url; /* SQLite, or PostgreSQL with JPKI_TEST_PG */
	struct jpki_store *st;
	struct jpki_actor chiyoda; /* registry clerk of 131016 */
	struct jpki_actor osaka;   /* registry clerk of 271004 */
	struct jpki_actor window;  /* window clerk of 131016 */
	struct jpki_actor officer; /* CA officer */
	char person[64];
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

static struct jpki_resident resident(void)
{
	struct jpki_resident r = {0};

	snprintf(r.municipality_code, sizeof(r.municipality_code), "131016");
	snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
	snprintf(r.municipality, sizeof(r.municipality), "千代田区");
	snprintf(r.facts.name, sizeof(r.facts.name), "山田　太郎");
	r.facts.sex = JPKI_SEX_MALE;
	r.facts.birth = (struct jpki_date){1980, 6, 1};
	snprintf(r.facts.address, sizeof(r.facts.address),
		 "東京都千代田区千代田１番１号");
	return r;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct jpki_resident r = resident();
	time_t t;

	if (jpki_clock_parse(&t, "2026-01-10T10:00:00") != 0)
		return -1;
	jpki_clock_freeze(t);
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_registry_migrate(f->st) != 0)
		return -1;
	f->chiyoda = actor("chiyoda", JPKI_ROLE_REGISTRY_CLERK, "131016");
	f->osaka = actor("osaka", JPKI_ROLE_REGISTRY_CLERK, "271004");
	f->window = actor("counter", JPKI_ROLE_WINDOW_CLERK, "131016");
	f->officer = actor("officer", JPKI_ROLE_CA_OFFICER, "");
	if (jpki_registry_register(f->person, f->st, &f->chiyoda, &r) != 0) {
		fprintf(stderr, "register: %s\n", jpki_err_detail());
		return -1;
	}
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

static int64_t audit_count(struct fx *f, const char *action)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(action);
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, f->st,
					  "SELECT COUNT(*) FROM audit_log"
					  " WHERE action = $1",
					  &p, 1),
			 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

/* Everything a refusal must leave alone. */
struct snapshot {
	struct jpki_resident r;
	int64_t residents, events, audit;
};

static struct snapshot snap(struct fx *f)
{
	struct snapshot s;

	assert_int_equal(jpki_registry_get(&s.r, f->st, f->person), 0);
	s.residents = tu_count(f->st, "SELECT COUNT(*) FROM registry_resident");
	s.events = tu_count(f->st, "SELECT COUNT(*) FROM registry_event");
	s.audit = tu_count(f->st, "SELECT COUNT(*) FROM audit_log");
	return s;
}

static void same(struct fx *f, const struct snapshot *a)
{
	struct snapshot b = snap(f);

	assert_memory_equal(&a->r, &b.r, sizeof(a->r));
	assert_int_equal(a->residents, b.residents);
	assert_int_equal(a->events, b.events);
	assert_int_equal(a->audit, b.audit);
}

static void test_register(void **state)
{
	struct fx *f = *state;
	struct jpki_resident got, r = resident();
	char other[64];

	assert_int_equal(strlen(f->person), 17);
	assert_int_equal(f->person[0], 'R');
	assert_int_equal(strspn(f->person + 1, "0123456789ABCDEF"), 16);
	assert_int_equal(jpki_registry_get(&got, f->st, f->person), 0);
	assert_string_equal(got.person, f->person);
	assert_string_equal(got.municipality_code, "131016");
	assert_string_equal(got.prefecture, "東京都");
	assert_string_equal(got.facts.name, "山田　太郎");
	assert_int_equal(got.facts.birth.year, 1980);
	assert_int_equal(got.status, JPKI_RESIDENT_REGISTERED);
	assert_int_equal(got.registered_at, jpki_clock_now());
	/* Registered, audited, no event (no certificate can exist yet). */
	assert_int_equal(audit_count(f, "registry.register"), 1);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM registry_event"), 0);

	/* A second resident gets another id. */
	assert_int_equal(jpki_registry_register(other, f->st, &f->chiyoda, &r),
			 0);
	assert_string_not_equal(other, f->person);

	/* Refusals change nothing. */
	{
		struct snapshot s = snap(f);
		struct jpki_resident bad = resident();

		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->osaka, &r),
		    JPKI_ERR_POLICY);
		assert_string_equal(other, "");
		assert_non_null(strstr(jpki_err_detail(), "271004"));
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->window, &r),
		    JPKI_ERR_POLICY);
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->officer, &r),
		    JPKI_ERR_POLICY);
		assert_int_equal(jpki_registry_register(other, f->st, NULL, &r),
				 JPKI_ERR_POLICY);
		bad.facts.name[0] = '\0';
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->chiyoda, &bad),
		    JPKI_ERR_INVALID);
		bad = resident();
		bad.facts.birth = (struct jpki_date){2030, 1, 1};
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->chiyoda, &bad),
		    JPKI_ERR_INVALID);
		bad = resident();
		bad.facts.sex = 7;
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->chiyoda, &bad),
		    JPKI_ERR_INVALID);
		bad = resident();
		snprintf(bad.municipality_code, sizeof(bad.municipality_code),
			 "13101");
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->chiyoda, &bad),
		    JPKI_ERR_INVALID);
		bad = resident();
		bad.prefecture[0] = '\0';
		assert_int_equal(
		    jpki_registry_register(other, f->st, &f->chiyoda, &bad),
		    JPKI_ERR_INVALID);
		same(f, &s);
	}
	assert_int_equal(jpki_registry_get(&got, f->st, "R0000000000000000"),
			 JPKI_ERR_NOT_FOUND);
	assert_non_null(strstr(jpki_err_detail(), "no resident"));
}

/* Text that reaches a certificate or a letter is printable: the rule is
 * the registry's and the profile's, so the CLI and the API share it. */
static void test_printable_only(void **state)
{
	static const char *const bad[] = {
	    "田中\n一", "田中\a一", "田中\x7f一", "田中\xc2\x85一",
	    "田中\xe2\x80\xae一", "田中\xe2\x80\x8f一", "田中\xe2\x81\xa6一",
	};
	struct fx *f = *state;
	struct snapshot s = snap(f);
	struct jpki_resident r;
	char id[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = resident();
		snprintf(r.facts.name, sizeof(r.facts.name), "%s", bad[i]);
		assert_int_equal(jpki_registry_register(id, f->st, &f->chiyoda,
							&r),
				 JPKI_ERR_INVALID);
		assert_non_null(strstr(jpki_err_detail(), "control character"));
		r = resident();
		snprintf(r.facts.address, sizeof(r.facts.address), "%s",
			 bad[i]);
		assert_int_equal(jpki_registry_register(id, f->st, &f->chiyoda,
							&r),
				 JPKI_ERR_INVALID);
		r = resident();
		snprintf(r.prefecture, sizeof(r.prefecture), "%s", bad[i]);
		assert_int_equal(jpki_registry_register(id, f->st, &f->chiyoda,
							&r),
				 JPKI_ERR_INVALID);
		assert_int_equal(jpki_registry_change_name(f->st, &f->chiyoda,
							   f->person, bad[i]),
				 JPKI_ERR_INVALID);
		assert_int_equal(jpki_registry_move(f->st, &f->chiyoda,
						    f->person, "131016",
						    "東京都", bad[i], "千代田１"),
				 JPKI_ERR_INVALID);
	}
	same(f, &s);
	/* negative: the same names without the control are taken */
	r = resident();
	snprintf(r.facts.name, sizeof(r.facts.name), "田中\xe3\x80\x80一");
	assert_int_equal(jpki_registry_register(id, f->st, &f->chiyoda, &r), 0);
}

static void test_find(void **state)
{
	struct fx *f = *state;
	struct jpki_resident r = resident(), *list = NULL;
	char id[64];
	size_t n;

	snprintf(r.facts.name, sizeof(r.facts.name), "佐藤　花子");
	r.facts.sex = JPKI_SEX_FEMALE;
	assert_int_equal(jpki_registry_register(id, f->st, &f->chiyoda, &r), 0);
	r = resident();
	snprintf(r.municipality_code, sizeof(r.municipality_code), "271004");
	snprintf(r.facts.name, sizeof(r.facts.name), "山田　次郎");
	assert_int_equal(jpki_registry_register(id, f->st, &f->osaka, &r), 0);

	assert_int_equal(jpki_registry_find(&list, &n, f->st, NULL, NULL, 0),
			 0);
	assert_int_equal(n, 3);
	free(list);
	assert_int_equal(
	    jpki_registry_find(&list, &n, f->st, "131016", NULL, 0), 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(jpki_registry_find(&list, &n, f->st, NULL, "山田", 0),
			 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(
	    jpki_registry_find(&list, &n, f->st, "271004", "山田", 0), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].facts.name, "山田　次郎");
	free(list);
	/* LIKE's wildcards are literal here. */
	assert_int_equal(jpki_registry_find(&list, &n, f->st, NULL, "%", 0), 0);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(jpki_registry_find(&list, &n, f->st, NULL, NULL, 1),
			 0);
	assert_int_equal(n, 1);
	free(list);
	assert_int_equal(jpki_registry_find(&list, &n, f->st, "x", NULL, 0),
			 JPKI_ERR_INVALID);
	assert_null(list);
}

static void check_event(struct fx *f, int64_t seq,
			enum jpki_registry_event_kind kind, const char *what)
{
	struct jpki_registry_event *ev = NULL;
	size_t n;

	assert_int_equal(jpki_registry_events(&ev, &n, f->st, seq - 1, 1), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].seq, seq);
	assert_int_equal(ev[0].kind, kind);
	assert_string_equal(ev[0].what, what);
	assert_string_equal(ev[0].person, f->person);
	assert_int_equal(ev[0].at, jpki_clock_now());
	free(ev);
}

static void test_changes(void **state)
{
	struct fx *f = *state;
	struct jpki_resident got;
	struct jpki_date birth = {1980, 6, 2};
	struct jpki_registry_event *ev = NULL;
	size_t n;

	/* A move within the municipality. */
	assert_int_equal(jpki_registry_move(f->st, &f->chiyoda, f->person,
					    "131016", "東京都", "千代田区",
					    "東京都千代田区丸の内１番"),
			 0);
	check_event(f, 1, JPKI_EVENT_FACTS_CHANGED, "move");
	assert_int_equal(audit_count(f, "registry.move"), 1);
	/* Into Osaka: the destination's clerk records it, not the source's. */
	assert_int_equal(jpki_registry_move(f->st, &f->chiyoda, f->person,
					    "271004", "大阪府", "大阪市",
					    "大阪府大阪市北区１番"),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_registry_move(f->st, &f->osaka, f->person,
					    "271004", "大阪府", "大阪市",
					    "大阪府大阪市北区１番"),
			 0);
	check_event(f, 2, JPKI_EVENT_FACTS_CHANGED, "move");
	assert_int_equal(jpki_registry_get(&got, f->st, f->person), 0);
	assert_string_equal(got.municipality_code, "271004");
	assert_string_equal(got.municipality, "大阪市");
	assert_string_equal(got.facts.address, "大阪府大阪市北区１番");
	/* Now Chiyoda's clerk no longer may touch the record. */
	assert_int_equal(jpki_registry_change_name(f->st, &f->chiyoda,
						   f->person, "田中　太郎"),
			 JPKI_ERR_POLICY);

	assert_int_equal(jpki_registry_change_name(f->st, &f->osaka, f->person,
						   "田中　太郎"),
			 0);
	check_event(f, 3, JPKI_EVENT_FACTS_CHANGED, "name");
	assert_int_equal(
	    jpki_registry_correct_birth(f->st, &f->osaka, f->person, &birth),
	    0);
	check_event(f, 4, JPKI_EVENT_FACTS_CHANGED, "birth");
	assert_int_equal(jpki_registry_correct_sex(f->st, &f->osaka, f->person,
						   JPKI_SEX_FEMALE),
			 0);
	check_event(f, 5, JPKI_EVENT_FACTS_CHANGED, "sex");
	/* Guardianship: audited, no event. */
	assert_int_equal(
	    jpki_registry_set_guardianship(f->st, &f->osaka, f->person, 1), 0);
	assert_int_equal(audit_count(f, "registry.guardianship"), 1);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM registry_event"), 5);
	assert_int_equal(jpki_registry_get(&got, f->st, f->person), 0);
	assert_string_equal(got.facts.name, "田中　太郎");
	assert_int_equal(got.facts.birth.day, 2);
	assert_int_equal(got.facts.sex, JPKI_SEX_FEMALE);
	assert_int_equal(got.guardianship, 1);

	assert_int_equal(jpki_registry_death(f->st, &f->osaka, f->person), 0);
	check_event(f, 6, JPKI_EVENT_DIED, "death");
	assert_int_equal(jpki_registry_get(&got, f->st, f->person), 0);
	assert_int_equal(got.status, JPKI_RESIDENT_DEAD);
	/* Every change has its audit entry, and the chain holds. */
	assert_int_equal(audit_count(f, "registry.name"), 1);
	assert_int_equal(audit_count(f, "registry.birth"), 1);
	assert_int_equal(audit_count(f, "registry.sex"), 1);
	assert_int_equal(audit_count(f, "registry.death"), 1);
	{
		struct jpki_audit_report rep;

		assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
		assert_true(rep.ok);
	}
	/* Events page in order. */
	assert_int_equal(jpki_registry_events(&ev, &n, f->st, 0, 0), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ev[i].seq, (int64_t)i + 1);
	free(ev);
	assert_int_equal(jpki_registry_events(&ev, &n, f->st, 4, 0), 0);
	assert_int_equal(n, 2);
	free(ev);
	assert_int_equal(jpki_registry_events(&ev, &n, f->st, 6, 0), 0);
	assert_int_equal(n, 0);
	free(ev);
}

static void test_removal(void **state)
{
	struct fx *f = *state;
	struct jpki_resident got;

	assert_int_equal(jpki_registry_remove(f->st, &f->osaka, f->person),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_registry_remove(f->st, &f->chiyoda, f->person),
			 0);
	check_event(f, 1, JPKI_EVENT_REMOVED, "removal");
	assert_int_equal(audit_count(f, "registry.removal"), 1);
	assert_int_equal(jpki_registry_get(&got, f->st, f->person), 0);
	assert_int_equal(got.status, JPKI_RESIDENT_REMOVED);
}

static void test_refusals_change_nothing(void **state)
{
	struct fx *f = *state;
	struct jpki_date future = {2027, 1, 1}, bad_day = {1980, 2, 30};
	struct snapshot s = snap(f);
	char long_name[400];

	/* Another municipality's clerk, or another role. */
	assert_int_equal(jpki_registry_change_name(f->st, &f->osaka, f->person,
						   "田中　太郎"),
			 JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(),
			       "registry clerk of 271004 cannot act on a "
			       "resident of 131016"));
	assert_int_equal(jpki_registry_change_name(f->st, &f->window, f->person,
						   "田中　太郎"),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_registry_death(f->st, &f->officer, f->person),
			 JPKI_ERR_POLICY);
	/* Bad facts. */
	assert_int_equal(
	    jpki_registry_change_name(f->st, &f->chiyoda, f->person, ""),
	    JPKI_ERR_INVALID);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(
	    jpki_registry_change_name(f->st, &f->chiyoda, f->person, long_name),
	    JPKI_ERR_INVALID);
	assert_int_equal(jpki_registry_change_name(f->st, &f->chiyoda,
						   f->person, "\xc3\x28"),
			 JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_registry_correct_birth(f->st, &f->chiyoda, f->person, &future),
	    JPKI_ERR_INVALID);
	assert_int_equal(jpki_registry_correct_birth(f->st, &f->chiyoda,
						     f->person, &bad_day),
			 JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_registry_correct_sex(f->st, &f->chiyoda, f->person, 0),
	    JPKI_ERR_INVALID);
	assert_int_equal(jpki_registry_move(f->st, &f->chiyoda, f->person,
					    "131016", "東京都", "千代田区", ""),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_registry_move(f->st, &f->chiyoda, f->person,
					    "1310", "東京都", "千代田区",
					    "東京都千代田区"),
			 JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_registry_set_guardianship(f->st, &f->chiyoda, f->person, 2),
	    JPKI_ERR_INVALID);
	/* Changes that change nothing would revoke a true certificate. */
	assert_int_equal(jpki_registry_change_name(f->st, &f->chiyoda,
						   f->person, "山田　太郎"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_registry_correct_sex(f->st, &f->chiyoda,
						   f->person, JPKI_SEX_MALE),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_registry_move(f->st, &f->chiyoda, f->person,
					    "131016", "東京都", "千代田区",
					    "東京都千代田区千代田１番１号"),
			 JPKI_ERR_INVALID);
	/* Not in the register. */
	assert_int_equal(jpki_registry_change_name(f->st, &f->chiyoda,
						   "R0000000000000000",
						   "田中　太郎"),
			 JPKI_ERR_NOT_FOUND);
	same(f, &s);

	/* Not registered any more. */
	assert_int_equal(jpki_registry_death(f->st, &f->chiyoda, f->person), 0);
	s = snap(f);
	assert_int_equal(jpki_registry_change_name(f->st, &f->chiyoda,
						   f->person, "田中　太郎"),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "dead"));
	assert_int_equal(jpki_registry_death(f->st, &f->chiyoda, f->person),
			 JPKI_ERR_STATE);
	assert_int_equal(jpki_registry_remove(f->st, &f->chiyoda, f->person),
			 JPKI_ERR_STATE);
	assert_int_equal(
	    jpki_registry_set_guardianship(f->st, &f->chiyoda, f->person, 1),
	    JPKI_ERR_STATE);
	/* ... and the other municipality's clerk still learns nothing. */
	assert_int_equal(jpki_registry_remove(f->st, &f->osaka, f->person),
			 JPKI_ERR_POLICY);
	same(f, &s);
}

/* Runs `op` with the store failing at its 1st, 2nd, ... statement until it
 * succeeds; every failure must leave the register as it was. */
static void walk_faults(struct fx *f, int (*op)(struct fx *f),
			int64_t events_after)
{
	struct snapshot s = snap(f);
	int failures = 0;

	for (int nth = 1; nth < 200; nth++) {
		int r;

		jpki_store_fail_after(f->st, nth);
		r = op(f);
		jpki_store_fail_after(f->st, 0);
		if (r == 0)
			break;
		failures++;
		assert_int_equal(r, JPKI_ERR_STORE);
		same(f, &s);
	}
	assert_true(failures >= 4);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM registry_event"),
			 events_after);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log"),
			 s.audit + 1);
	{
		struct jpki_audit_report rep;

		assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
		assert_true(rep.ok);
	}
}

static int op_register(struct fx *f)
{
	struct jpki_resident r = resident();
	char id[64];

	return jpki_registry_register(id, f->st, &f->chiyoda, &r);
}

static int op_move(struct fx *f)
{
	return jpki_registry_move(f->st, &f->osaka, f->person, "271004",
				  "大阪府", "大阪市", "大阪府大阪市北区１番");
}

static int op_name(struct fx *f)
{
	return jpki_registry_change_name(f->st, &f->osaka, f->person,
					 "田中　太郎");
}

static int op_birth(struct fx *f)
{
	struct jpki_date d = {1980, 6, 3};

	return jpki_registry_correct_birth(f->st, &f->osaka, f->person, &d);
}

static int op_sex(struct fx *f)
{
	return jpki_registry_correct_sex(f->st, &f->osaka, f->person,
					 JPKI_SEX_UNKNOWN);
}

static int op_guardianship(struct fx *f)
{
	return jpki_registry_set_guardianship(f->st, &f->osaka, f->person, 1);
}

static int op_removal(struct fx *f)
{
	return jpki_registry_remove(f->st, &f->osaka, f->person);
}

static void test_faults_leave_nothing(void **state)
{
	struct fx *f = *state;

	walk_faults(f, op_register, 0);
	walk_faults(f, op_move, 1);
	walk_faults(f, op_name, 2);
	walk_faults(f, op_birth, 3);
	walk_faults(f, op_sex, 4);
	walk_faults(f, op_guardianship, 4);
	walk_faults(f, op_removal, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_register, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_printable_only, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_find, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_faults_leave_nothing, setup,
					    teardown),
	};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
