/* The simplified move's state machine (pending -> done, pending ->
 * expired) and the copy at any municipality, each refusal beside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/services.h"
#include "testutil.h"

struct fx {
	char *dir;
	char *url;
	struct jpki_store *st;
	struct jpki_actor chiyoda;   /* registry clerk of 131016 */
	struct jpki_actor counter_a; /* window clerk of 131016 */
	struct jpki_actor counter_b; /* window clerk of 271004 */
	struct jpki_actor counter_c; /* window clerk of 011002 */
	char person[64];
	char other[64];
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

static struct jpki_resident resident(const char *name)
{
	struct jpki_resident r = {0};

	snprintf(r.municipality_code, sizeof(r.municipality_code), "131016");
	snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
	snprintf(r.municipality, sizeof(r.municipality), "千代田区");
	snprintf(r.facts.name, sizeof(r.facts.name), "%s", name);
	r.facts.sex = JPKI_SEX_MALE;
	r.facts.birth = (struct jpki_date){1980, 6, 1};
	snprintf(r.facts.address, sizeof(r.facts.address),
		 "東京都千代田区千代田１番１号");
	return r;
}

static void at(const char *when)
{
	time_t t;

	assert_int_equal(jpki_clock_parse(&t, when), 0);
	jpki_clock_freeze(t);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct jpki_resident r = resident("山田　太郎");
	struct jpki_resident o = resident("佐藤　花子");

	at("2026-01-10T10:00:00");
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_services_migrate(f->st) != 0)
		return -1;
	f->chiyoda = actor("chiyoda", JPKI_ROLE_REGISTRY_CLERK, "131016");
	f->counter_a = actor("counter-a", JPKI_ROLE_WINDOW_CLERK, "131016");
	f->counter_b = actor("counter-b", JPKI_ROLE_WINDOW_CLERK, "271004");
	f->counter_c = actor("counter-c", JPKI_ROLE_WINDOW_CLERK, "011002");
	if (jpki_registry_register(f->person, f->st, &f->chiyoda, &r) != 0 ||
	    jpki_registry_register(f->other, f->st, &f->chiyoda, &o) != 0)
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

static int64_t count_where(struct fx *f, const char *sql, const char *arg)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(arg);
	int64_t n;

	assert_int_equal(jpki_store_query(&rows, f->st, sql, &p, 1), 0);
	n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return n;
}

static int64_t audits(struct fx *f, const char *action)
{
	return count_where(f,
			   "SELECT COUNT(*) FROM audit_log"
			   " WHERE action = $1",
			   action);
}

static int64_t events(struct fx *f)
{
	return tu_count(f->st, "SELECT COUNT(*) FROM registry_event");
}

static struct jpki_move_notice notice(enum jpki_move_via via)
{
	struct jpki_move_notice n = {
	    .to_code = "271004",
	    .to_prefecture = "大阪府",
	    .to_municipality = "大阪市",
	    .to_address = "大阪府大阪市北区中之島１丁目３番２０号",
	    .arrival = {2026, 1, 15},
	    .via = via,
	};
	return n;
}

static void post_notice(struct fx *f)
{
	struct jpki_move_notice n = notice(JPKI_MOVE_VIA_POST);
	int64_t id = 0;

	assert_int_equal(jpki_services_move_out(&id, f->st, &f->counter_a, NULL,
						f->person, &n),
			 0);
	assert_true(id > 0);
}

/* Pending: nothing of the record changes, no event; the move-in at the
 * destination within 14 days makes the registry's move and one event; a
 * replayed move-in is refused and emits nothing. */
static void test_move_in_time(void **state)
{
	struct fx *f = *state;
	struct jpki_resident res;
	struct jpki_move m;

	post_notice(f);
	assert_int_equal(
	    jpki_services_move_get(&m, f->st, &f->counter_b, f->person), 0);
	assert_int_equal(m.state, JPKI_MOVE_PENDING);
	assert_int_equal(events(f), 0);
	assert_int_equal(jpki_registry_get(&res, f->st, f->person), 0);
	assert_string_equal(res.municipality_code, "131016");

	at("2026-01-29T12:00:00"); /* arrival + 14 days: still in time */
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_b,
					       f->person, f->person),
			 0);
	assert_int_equal(m.state, JPKI_MOVE_DONE);
	assert_int_equal(jpki_registry_get(&res, f->st, f->person), 0);
	assert_string_equal(res.municipality_code, "271004");
	assert_string_equal(res.facts.address,
			    "大阪府大阪市北区中之島１丁目３番２０号");
	assert_int_equal(events(f), 1);
	assert_int_equal(audits(f, "registry.move"), 1);
	assert_int_equal(audits(f, "services.move.in"), 1);

	/* the replay */
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_b,
					       f->person, f->person),
			 JPKI_ERR_STATE);
	assert_int_equal(events(f), 1);
	assert_int_equal(audits(f, "registry.move"), 1);
}

/* Only the destination's clerk, only with the person's own card. */
static void test_move_in_refusals(void **state)
{
	struct fx *f = *state;
	struct jpki_resident res;
	struct jpki_move m;

	post_notice(f);
	at("2026-01-16T10:00:00");
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_a,
					       f->person, f->person),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_c,
					       f->person, f->person),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_b,
					       f->person, f->other),
			 JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_services_move_in(&m, f->st, &f->counter_b, f->person, NULL),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_services_move_in(&m, f->st, &f->counter_b, f->other, f->other),
	    JPKI_ERR_NOT_FOUND);
	assert_int_equal(events(f), 0);
	assert_int_equal(jpki_registry_get(&res, f->st, f->person), 0);
	assert_string_equal(res.municipality_code, "131016");
	assert_int_equal(
	    jpki_services_move_get(&m, f->st, &f->counter_b, f->person), 0);
	assert_int_equal(m.state, JPKI_MOVE_PENDING);
	/* a third municipality's clerk does not even see it, and the try
	 * is on the chain */
	assert_int_equal(
	    jpki_services_move_get(&m, f->st, &f->counter_c, f->person),
	    JPKI_ERR_POLICY);
	assert_int_equal(audits(f, "services.move.read.refused"), 1);
	assert_true(audits(f, "services.move.read") >= 1);
	/* no resident code: asked for, not "no notice of  is recorded" */
	assert_int_equal(jpki_services_move_get(&m, f->st, &f->counter_b, ""),
			 JPKI_ERR_INVALID);
	assert_non_null(strstr(jpki_err_detail(), "resident code"));
}

/* Fifteen days after arrival: refused, expired, and it stays so. */
static void test_move_in_late(void **state)
{
	struct fx *f = *state;
	struct jpki_resident res;
	struct jpki_move m;

	post_notice(f);
	at("2026-01-30T09:00:00");
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_b,
					       f->person, f->person),
			 JPKI_ERR_STATE);
	assert_non_null(strstr(jpki_err_detail(), "regular 転入届"));
	assert_int_equal(events(f), 0);
	assert_int_equal(jpki_registry_get(&res, f->st, f->person), 0);
	assert_string_equal(res.municipality_code, "131016");
	assert_int_equal(
	    jpki_services_move_get(&m, f->st, &f->counter_a, f->person), 0);
	assert_int_equal(m.state, JPKI_MOVE_EXPIRED);
	assert_int_equal(audits(f, "services.move.expired"), 1);
	assert_int_equal(jpki_services_move_in(&m, f->st, &f->counter_b,
					       f->person, f->person),
			 JPKI_ERR_STATE);
	assert_int_equal(audits(f, "services.move.expired"), 1);
	/* an expired move leaves room for a new notice */
	at("2026-02-01T09:00:00");
	{
		struct jpki_move_notice n = notice(JPKI_MOVE_VIA_POST);
		int64_t id = 0;

		n.arrival = (struct jpki_date){2026, 2, 3};
		assert_int_equal(jpki_services_move_out(&id, f->st,
							&f->counter_a, NULL,
							f->person, &n),
				 0);
	}
}

/* The periodic expiry: on day 14 nothing, on day 15 the one, once. */
static void test_move_expire(void **state)
{
	struct fx *f = *state;
	size_t n = 9;
	int64_t audit;

	post_notice(f);
	at("2026-01-29T23:00:00");
	audit = tu_count(f->st, "SELECT COUNT(*) FROM audit_log");
	assert_int_equal(jpki_services_move_expire(&n, f->st), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log"),
			 audit);
	at("2026-01-30T00:30:00");
	assert_int_equal(jpki_services_move_expire(&n, f->st), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jpki_services_move_expire(&n, f->st), 0);
	assert_int_equal(n, 0);
	assert_int_equal(audits(f, "services.move.expired"), 1);
	assert_int_equal(count_where(f,
				     "SELECT COUNT(*) FROM services_move"
				     " WHERE person = $1 AND state = 3",
				     f->person),
			 1);
}

/* The notice's own refusals, each leaving no move behind. */
static void test_move_out_refusals(void **state)
{
	struct fx *f = *state;
	struct jpki_move_notice n = notice(JPKI_MOVE_VIA_POST);
	int64_t id = 0;

	assert_int_equal(jpki_services_move_out(&id, f->st, &f->counter_b, NULL,
						f->person, &n),
			 JPKI_ERR_POLICY);
	n.to_code = "131016";
	assert_int_equal(jpki_services_move_out(&id, f->st, &f->counter_a, NULL,
						f->person, &n),
			 JPKI_ERR_INVALID);
	n = notice(JPKI_MOVE_VIA_POST);
	n.arrival = (struct jpki_date){2026, 1, 9};
	assert_int_equal(jpki_services_move_out(&id, f->st, &f->counter_a, NULL,
						f->person, &n),
			 JPKI_ERR_INVALID);
	n = notice(JPKI_MOVE_VIA_PORTAL);
	assert_int_equal(
	    jpki_services_move_out(&id, f->st, NULL, f->other, f->person, &n),
	    JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_move_out(&id, f->st, &f->counter_a,
						f->person, f->person, &n),
			 JPKI_ERR_POLICY);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM services_move"),
			 0);
	/* through the portal, signed by the person: recorded by "portal" */
	assert_int_equal(
	    jpki_services_move_out(&id, f->st, NULL, f->person, f->person, &n),
	    0);
	assert_int_equal(count_where(f,
				     "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'services.move.out' AND"
				     " operator = $1",
				     "portal"),
			 1);
	/* a second notice while one is pending */
	n = notice(JPKI_MOVE_VIA_POST);
	assert_int_equal(jpki_services_move_out(&id, f->st, &f->counter_a, NULL,
						f->person, &n),
			 JPKI_ERR_STATE);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM services_move"),
			 1);
}

/* A's clerk copies B's resident: on both chains; a wrong address, a
 * registry clerk, and reading the record itself are refused. */
static void test_copy_any(void **state)
{
	struct fx *f = *state;
	struct jpki_resident res;

	assert_int_equal(
	    jpki_services_copy_any(&res, f->st, &f->counter_b, f->person,
				   "東京都千代田区千代田1番1号", "C-1"),
	    JPKI_ERR_POLICY);
	assert_string_equal(res.person, "");
	assert_int_equal(audits(f, "services.copy.refused"), 1);
	assert_int_equal(
	    jpki_services_copy_any(&res, f->st, &f->chiyoda, f->person,
				   "東京都千代田区千代田１番１号", "C-1"),
	    JPKI_ERR_POLICY);
	assert_int_equal(audits(f, "services.copy.issue"), 0);

	assert_int_equal(
	    jpki_services_copy_any(&res, f->st, &f->counter_b, f->person,
				   "東京都千代田区千代田１番１号", "C-2"),
	    0);
	assert_string_equal(res.person, f->person);
	assert_int_equal(count_where(f,
				     "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'services.copy.issue' AND"
				     " municipality = $1",
				     "271004"),
			 1);
	assert_int_equal(count_where(f,
				     "SELECT COUNT(*) FROM audit_log WHERE"
				     " action = 'services.copy.notice' AND"
				     " municipality = $1",
				     "131016"),
			 1);
	/* the procedure opens no other door */
	assert_int_equal(
	    jpki_registry_read(&res, f->st, &f->counter_b, f->person),
	    JPKI_ERR_POLICY);
}

/* The signed notice's text: the three lines read; a missing, repeated,
 * too long or malformed one refused with nothing kept. */
static void test_notice_parse(void **state)
{
	static const char good[] =
	    "手続コード (procedure code): move-out\n"
	    "氏名 (name): 山田 太郎\n" JPKI_MOVE_LABEL_TO
	    ": 271004 大阪府 大阪市北区\r\n" JPKI_MOVE_LABEL_ADDRESS
	    ": 梅田１番\n" JPKI_MOVE_LABEL_ARRIVAL ": 2026-11-20\n";
	static const char *const bad[] = {
	    /* no arrival */
	    JPKI_MOVE_LABEL_TO
	    ": 271004 大阪府 大阪市北区\n" JPKI_MOVE_LABEL_ADDRESS
	    ": 梅田１番\n",
	    /* the destination twice */
	    JPKI_MOVE_LABEL_TO
	    ": 271004 大阪府 大阪市北区\n" JPKI_MOVE_LABEL_TO
	    ": 011002 北海道 札幌市\n" JPKI_MOVE_LABEL_ADDRESS
	    ": 梅田１番\n" JPKI_MOVE_LABEL_ARRIVAL ": 2026-11-20\n",
	    /* a five-digit code */
	    JPKI_MOVE_LABEL_TO
	    ": 27100 大阪府 大阪市北区\n" JPKI_MOVE_LABEL_ADDRESS
	    ": 梅田１番\n" JPKI_MOVE_LABEL_ARRIVAL ": 2026-11-20\n",
	    /* no date */
	    JPKI_MOVE_LABEL_TO
	    ": 271004 大阪府 大阪市北区\n" JPKI_MOVE_LABEL_ADDRESS
	    ": 梅田１番\n" JPKI_MOVE_LABEL_ARRIVAL ": 2026-02-30\n",
	    /* a control character in the address */
	    JPKI_MOVE_LABEL_TO
	    ": 271004 大阪府 大阪市北区\n" JPKI_MOVE_LABEL_ADDRESS
	    ": 梅\x01田\n" JPKI_MOVE_LABEL_ARRIVAL ": 2026-11-20\n",
	};
	struct jpki_move_notice_text t;

	(void)state;
	assert_int_equal(jpki_services_move_notice_parse(
			     &t, (const uint8_t *)good, strlen(good)),
			 0);
	assert_string_equal(t.to_code, "271004");
	assert_string_equal(t.to_prefecture, "大阪府");
	assert_string_equal(t.to_municipality, "大阪市北区");
	assert_string_equal(t.to_address, "梅田１番");
	assert_int_equal(t.arrival.day, 20);
	/* cut short: the last line's value goes, and with it the notice */
	assert_int_equal(jpki_services_move_notice_parse(
			     &t, (const uint8_t *)good, strlen(good) - 12),
			 JPKI_ERR_INVALID);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    jpki_services_move_notice_parse(&t, (const uint8_t *)bad[i],
						    strlen(bad[i])),
		    JPKI_ERR_INVALID);
		assert_string_equal(t.to_code, "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_move_in_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move_in_refusals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_move_in_late, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move_out_refusals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_copy_any, setup, teardown),
	    cmocka_unit_test(test_notice_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
