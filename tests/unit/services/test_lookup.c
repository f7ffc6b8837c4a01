/* Agencies and their look-ups (docs/REGISTRY.md): who may register them,
 * each look-up recorded with its read or not at all, refusals recorded,
 * the request line's parser, and who may read the disclosure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "jpki/services.h"
#include "testutil.h"

struct fx {
	char *dir, *url;
	struct jpki_store *st;
	struct jpki_actor reg, win, osaka_win;
	char taro[64];
	struct jpki_services_agency pension;
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

/* A self-signed certificate as PEM text (free()). */
static char *cert_pem(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out;
	long n;

	assert_non_null(key);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
				   MBSTRING_UTF8, (const unsigned char *)cn, -1,
				   -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	return out;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct jpki_resident r = {0};
	const char *purposes[] = {"pension.benefit"};
	struct jpki_services_agency *list = NULL;
	size_t n = 0;
	char *pem;
	time_t t;

	if (jpki_clock_parse(&t, "2026-01-10T10:00:00") != 0)
		return -1;
	jpki_clock_freeze(t);
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_services_migrate(f->st) != 0)
		return -1;
	f->reg = actor("reg", JPKI_ROLE_REGISTRY_CLERK, "131016");
	f->win = actor("win", JPKI_ROLE_WINDOW_CLERK, "131016");
	f->osaka_win = actor("owin", JPKI_ROLE_WINDOW_CLERK, "271004");
	snprintf(r.municipality_code, sizeof(r.municipality_code), "131016");
	snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
	snprintf(r.municipality, sizeof(r.municipality), "千代田区");
	snprintf(r.facts.name, sizeof(r.facts.name), "山田　太郎");
	r.facts.sex = JPKI_SEX_MALE;
	r.facts.birth = (struct jpki_date){1980, 6, 1};
	snprintf(r.facts.address, sizeof(r.facts.address), "千代田１番１号");
	if (jpki_registry_register(f->taro, f->st, &f->reg, &r) != 0)
		return -1;
	pem = cert_pem("pension");
	if (jpki_services_agency_add(f->st, &f->reg, "pension",
				     (const unsigned char *)pem, strlen(pem),
				     purposes, 1) != 0 ||
	    jpki_services_agency_list(&list, &n, f->st) != 0 || n != 1)
		return -1;
	f->pension = list[0];
	free(list);
	free(pem);
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

static struct jpki_services_query by_code(const char *person,
					  const char *purpose)
{
	struct jpki_services_query q = {0};

	snprintf(q.purpose, sizeof(q.purpose), "%s", purpose);
	snprintf(q.resident_code, sizeof(q.resident_code), "%s", person);
	return q;
}

static void test_agency_add_rules(void **state)
{
	struct fx *f = *state;
	const char *ok[] = {"x"}, *bad[] = {"Has Space"};
	char *pem = cert_pem("other");

	/* a window clerk may not; the same certificate twice may not */
	assert_int_equal(jpki_services_agency_add(f->st, &f->win, "other",
						  (const unsigned char *)pem,
						  strlen(pem), ok, 1),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_agency_add(f->st, &f->reg, "bad",
						  (const unsigned char *)pem,
						  strlen(pem), bad, 1),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_services_agency_add(f->st, &f->reg, "other",
						  (const unsigned char *)"x", 1,
						  ok, 1),
			 JPKI_ERR_INVALID);
	assert_int_equal(
	    tu_count(f->st, "SELECT count(*) FROM services_agency"), 1);
	assert_int_equal(jpki_services_agency_add(f->st, &f->reg, "other",
						  (const unsigned char *)pem,
						  strlen(pem), ok, 1),
			 0);
	assert_int_equal(jpki_services_agency_add(f->st, &f->reg, "again",
						  (const unsigned char *)pem,
						  strlen(pem), ok, 1),
			 JPKI_ERR_EXISTS);
	assert_int_equal(jpki_services_agency_remove(f->st, &f->win, "other"),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_services_agency_remove(f->st, &f->reg, "other"),
			 0);
	assert_int_equal(jpki_services_agency_remove(f->st, &f->reg, "other"),
			 JPKI_ERR_NOT_FOUND);
	free(pem);
}

static void test_lookup_recorded(void **state)
{
	struct fx *f = *state;
	struct jpki_services_query q = by_code(f->taro, "pension.benefit");
	struct jpki_services_answer a;
	int64_t chain = tu_count(f->st, "SELECT count(*) FROM audit_log");

	assert_int_equal(jpki_services_lookup(&a, f->st, &f->pension, &q), 0);
	assert_true(a.found);
	assert_string_equal(a.resident.person, f->taro);
	assert_string_equal(a.change, "register");
	/* in the journal, linked to its audit entry */
	assert_int_equal(tu_count(f->st,
				  "SELECT count(*) FROM services_lookup_recent"
				  " WHERE outcome = 'found' AND"
				  " agency = 'pension' AND seq = (SELECT"
				  " MAX(seq) FROM audit_log WHERE action ="
				  " 'services.lookup' AND subject = person)"),
			 1);
	assert_int_equal(tu_count(f->st, "SELECT count(*) FROM audit_log"),
			 chain + 1);

	/* a purpose not registered: refused, and recorded too */
	q = by_code(f->taro, "tax.assessment");
	assert_int_equal(jpki_services_lookup(&a, f->st, &f->pension, &q),
			 JPKI_ERR_POLICY);
	assert_false(a.found);
	assert_int_equal(a.resident.person[0], '\0');
	assert_int_equal(tu_count(f->st, "SELECT count(*) FROM audit_log WHERE"
					 " action = 'services.lookup.refused'"),
			 1);
}

/* A look-up whose record cannot be written is not answered, and leaves
 * nothing behind: each statement of a chunk failed in turn. */
static void test_lookup_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct jpki_services_query q[2] = {by_code(f->taro, "pension.benefit"),
					   by_code("R0", "pension.benefit")};
	struct jpki_services_answer a[2];
	int rcs[2];
	int64_t chain = tu_count(f->st, "SELECT count(*) FROM audit_log");
	int nth;

	for (nth = 1; nth < 40; nth++) {
		jpki_store_fail_after(f->st, nth);
		if (jpki_services_lookup_many(a, rcs, f->st, &f->pension, q,
					      2) == 0)
			break;
		jpki_store_fail_after(f->st, 0);
		assert_int_equal(
		    tu_count(f->st,
			     "SELECT count(*) FROM services_lookup_recent"),
		    0);
		assert_int_equal(
		    tu_count(f->st, "SELECT count(*) FROM audit_log"), chain);
	}
	jpki_store_fail_after(f->st, 0);
	assert_true(nth > 5); /* the chunk's statements did fail in turn */
	assert_int_equal(
	    tu_count(f->st, "SELECT count(*) FROM services_lookup_recent"), 2);
	assert_true(a[0].found);
	assert_false(a[1].found);
}

/* The journal goes into services_lookup whole, in one transaction: the
 * disclosure sees look-ups before and after, a failed fold leaves the
 * journal as it was, an idle one writes nothing. */
static void test_lookup_fold(void **state)
{
	struct fx *f = *state;
	struct jpki_services_query q = by_code(f->taro, "pension.benefit");
	struct jpki_services_answer a;
	struct jpki_services_disclosed *list = NULL;
	size_t n = 99;
	uint64_t writes;

	assert_int_equal(jpki_services_lookup_fold(&n, f->st), 0);
	assert_int_equal(n, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    jpki_services_lookup(&a, f->st, &f->pension, &q), 0);
	assert_int_equal(
	    tu_count(f->st, "SELECT count(*) FROM services_lookup_recent"), 3);
	assert_int_equal(
	    tu_count(f->st, "SELECT count(*) FROM services_lookup"), 0);
	/* a fold that fails at its delete moves nothing */
	for (int nth = 1; nth <= 3; nth++) {
		jpki_store_fail_after(f->st, nth);
		assert_int_not_equal(jpki_services_lookup_fold(&n, f->st), 0);
		jpki_store_fail_after(f->st, 0);
		assert_int_equal(
		    tu_count(f->st,
			     "SELECT count(*) FROM services_lookup_recent"),
		    3);
		assert_int_equal(
		    tu_count(f->st, "SELECT count(*) FROM services_lookup"), 0);
	}
	assert_int_equal(jpki_services_lookup_fold(&n, f->st), 0);
	assert_int_equal(n, 3);
	assert_int_equal(
	    tu_count(f->st, "SELECT count(*) FROM services_lookup_recent"), 0);
	assert_int_equal(tu_count(f->st,
				  "SELECT count(*) FROM services_lookup WHERE"
				  " outcome = 'found'"),
			 3);
	/* idle: no write at all */
	writes = jpki_store_writes(f->st);
	assert_int_equal(jpki_services_lookup_fold(&n, f->st), 0);
	assert_int_equal(n, 0);
	assert_int_equal(jpki_store_writes(f->st), writes);
	/* one more in the journal: the disclosure lists all four */
	assert_int_equal(jpki_services_lookup(&a, f->st, &f->pension, &q), 0);
	assert_int_equal(
	    jpki_services_disclosure(&list, &n, f->st, &f->win, f->taro), 0);
	assert_int_equal(n, 4);
	free(list);
	assert_int_equal(
	    tu_count(f->st, "SELECT count(*) FROM services_lookup_recent"), 0);
}

/* The latest change as the registry has it, read here on its own. */
static void latest(char what[64], time_t *at, struct jpki_store *st,
		   const char *person)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(person);

	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT what, at FROM registry_event"
					  " WHERE person = $1 ORDER BY seq DESC"
					  " LIMIT 1",
					  &p, 1),
			 0);
	if (jpki_rows_count(rows) == 1) {
		snprintf(what, 64, "%s", jpki_rows_text(rows, 0, 0));
		*at = (time_t)jpki_rows_int(rows, 0, 1);
	} else
		what[0] = '\0';
	jpki_rows_free(rows);
}

/* A batch of more look-ups than one read group (64), with the same code
 * twice, unknown codes, a purpose refused, a name and birth, and
 * residents with and without changes: each answer is the one a single
 * look-up gives, its resident the registry's own record, its change the
 * latest event; the chain has one entry a look-up, in the batch's order. */
static void test_lookup_batch_same(void **state)
{
	enum { N = 150 };
	struct fx *f = *state;
	struct jpki_services_query *q = calloc(N, sizeof(*q));
	struct jpki_services_answer *a = calloc(N, sizeof(*a)), one;
	int rcs[N];
	char people[5][64];
	int64_t chain;

	assert_non_null(q);
	assert_non_null(a);
	snprintf(people[0], 64, "%s", f->taro);
	for (int i = 1; i < 5; i++) {
		struct jpki_resident r = {0};

		snprintf(r.municipality_code, sizeof(r.municipality_code),
			 "131016");
		snprintf(r.prefecture, sizeof(r.prefecture), "東京都");
		snprintf(r.municipality, sizeof(r.municipality), "千代田区");
		snprintf(r.facts.name, sizeof(r.facts.name), "鈴木　%d", i);
		r.facts.sex = JPKI_SEX_FEMALE;
		r.facts.birth = (struct jpki_date){1990, 1, (unsigned)i};
		snprintf(r.facts.address, sizeof(r.facts.address),
			 "千代田２番%d号", i);
		assert_int_equal(
		    jpki_registry_register(people[i], f->st, &f->reg, &r), 0);
	}
	assert_int_equal(
	    jpki_registry_change_name(f->st, &f->reg, people[1], "鈴木　花子"),
	    0);
	assert_int_equal(jpki_registry_death(f->st, &f->reg, people[2]), 0);
	for (int i = 0; i < N; i++) {
		if (i % 7 == 3)
			q[i] = by_code("R00000000DEADBEEF", "pension.benefit");
		else if (i % 11 == 5)
			q[i] = by_code(people[i % 5], "tax.assessment");
		else if (i % 13 == 6) {
			q[i] = by_code("", "pension.benefit");
			snprintf(q[i].name, sizeof(q[i].name), "鈴木　3");
			q[i].birth = (struct jpki_date){1990, 1, 3};
		} else
			q[i] = by_code(people[i % 5], "pension.benefit");
		snprintf(q[i].id, sizeof(q[i].id), "%d", i);
	}
	chain = tu_count(f->st, "SELECT count(*) FROM audit_log");
	assert_int_equal(
	    jpki_services_lookup_many(a, rcs, f->st, &f->pension, q, N), 0);
	assert_int_equal(tu_count(f->st, "SELECT count(*) FROM audit_log"),
			 chain + N);
	for (int i = 0; i < N; i++) {
		int rc = jpki_services_lookup(&one, f->st, &f->pension, &q[i]);
		char what[64];
		time_t at = 0;

		assert_int_equal(rcs[i], rc);
		assert_int_equal(a[i].found, one.found);
		assert_memory_equal(&a[i], &one, sizeof(one));
		if (!a[i].found) {
			assert_true(i % 7 == 3 || i % 11 == 5);
			continue;
		}
		{
			struct jpki_resident r;

			assert_int_equal(
			    jpki_registry_get(&r, f->st, a[i].resident.person),
			    0);
			assert_memory_equal(&r, &a[i].resident, sizeof(r));
		}
		latest(what, &at, f->st, a[i].resident.person);
		if (what[0] != '\0') {
			assert_string_equal(a[i].change, what);
			assert_int_equal(a[i].change_at, at);
		} else {
			assert_string_equal(a[i].change, "register");
			assert_int_equal(a[i].change_at,
					 a[i].resident.registered_at);
		}
	}
	assert_string_equal(a[1].change, "name");
	assert_string_equal(a[2].change, "death");
	/* the batch's entries in its order, each with its subject */
	for (int i = 0; i < N; i++) {
		struct jpki_rows *rows = NULL;
		struct jpki_value p = JPKI_V_INT(chain + 1 + i);

		assert_int_equal(
		    jpki_store_query(&rows, f->st,
				     "SELECT subject, action FROM audit_log"
				     " WHERE seq = $1",
				     &p, 1),
		    0);
		assert_string_equal(jpki_rows_text(rows, 0, 0),
				    i % 7 == 3    ? ""
				    : i % 11 == 5 ? people[i % 5]
						  : a[i].resident.person);
		assert_string_equal(jpki_rows_text(rows, 0, 1),
				    i % 11 == 5 && i % 7 != 3
					? "services.lookup.refused"
					: "services.lookup");
		jpki_rows_free(rows);
	}
	free(q);
	free(a);
}

static void test_query_parse(void **state)
{
	struct jpki_services_query q;
	static const char *bad[] = {
	    "",
	    "[]",
	    "{\"purpose\":\"p\"}",
	    "{\"resident_code\":\"R1\"}",
	    "{\"purpose\":\"p\",\"resident_code\":\"R1\",\"name\":\"a\"}",
	    "{\"purpose\":\"p\",\"name\":\"a\"}",
	    "{\"purpose\":\"p\",\"name\":\"a\",\"birth\":\"1980-02-30\"}",
	    "{\"purpose\":\"P Q\",\"resident_code\":\"R1\"}",
	    "{\"purpose\":\"p\",\"resident_code\":\"R1\",\"x\":1}",
	    "{\"purpose\":\"p\",\"purpose\":\"q\",\"resident_code\":\"R1\"}",
	    "{\"purpose\":\"p\",\"resident_code\":\"R\\u0000\"}",
	    "{\"purpose\":\"p\",\"resident_code\":\"R\\n\"}",
	    "{\"purpose\":\"p\",\"resident_code\":5}",
	};
	const char *good =
	    "{\"id\":\"a\",\"purpose\":\"p.q\",\"name\":\"山田 太郎\","
	    "\"birth\":\"1980-06-01\"}";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    jpki_services_query_parse(&q, bad[i], strlen(bad[i])),
		    JPKI_ERR_PARSE);
	assert_int_equal(jpki_services_query_parse(&q, good, strlen(good)), 0);
	assert_string_equal(q.name, "山田　太郎");
	assert_string_equal(q.id, "a");
	assert_int_equal(q.birth.day, 1);
}

static void test_disclosure_readers(void **state)
{
	struct fx *f = *state;
	struct jpki_services_query q = by_code(f->taro, "pension.benefit");
	struct jpki_services_answer a;
	struct jpki_services_disclosed *list = NULL;
	struct jpki_actor self = {0}, other = {0};
	size_t n = 0;

	assert_int_equal(jpki_services_lookup(&a, f->st, &f->pension, &q), 0);
	snprintf(self.operator_id, sizeof(self.operator_id), "resident:%.48s",
		 f->taro);
	snprintf(other.operator_id, sizeof(other.operator_id),
		 "resident:R0000000000000001");
	assert_int_equal(
	    jpki_services_disclosure(&list, &n, f->st, &self, f->taro), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].agency, "pension");
	assert_string_equal(list[0].purpose, "pension.benefit");
	free(list);
	assert_int_equal(
	    jpki_services_disclosure(&list, &n, f->st, &other, f->taro),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_services_disclosure(&list, &n, f->st, &f->osaka_win, f->taro),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_services_disclosure(&list, &n, f->st, &f->win, f->taro), 0);
	free(list);
	assert_int_equal(tu_count(f->st, "SELECT count(*) FROM audit_log WHERE"
					 " action = 'services.disclosure'"),
			 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_agency_add_rules, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_recorded, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_all_or_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_fold, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_batch_same, setup,
					    teardown),
	    cmocka_unit_test(test_query_parse),
	    cmocka_unit_test_setup_teardown(test_disclosure_readers, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
