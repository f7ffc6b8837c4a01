/* Operators, sessions, authorisation and the hash chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jpki/audit.h"
#include "testutil.h"

struct fx {
	char *dir;
	char *url; /* SQLite, or PostgreSQL with JPKI_TEST_PG */
	struct jpki_store *st;
	struct jpki_actor officer;
};

static const char *PW = "correct horse battery";

static void at(const char *when)
{
	time_t t;

	assert_int_equal(jpki_clock_parse(&t, when), 0);
	jpki_clock_freeze(t);
}

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

	at("2026-01-10T09:00:00");
	if (tu_store_new(&f->st, &f->url, &f->dir) != 0 ||
	    jpki_audit_migrate(f->st) != 0)
		return -1;
	f->officer = actor("officer", JPKI_ROLE_CA_OFFICER, "");
	if (jpki_audit_operator_add(f->st, NULL, "officer",
				    JPKI_ROLE_CA_OFFICER, "", PW) != 0) {
		fprintf(stderr, "bootstrap: %s\n", jpki_err_detail());
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

static void exec(struct fx *f, const char *sql)
{
	assert_int_equal(jpki_store_exec(f->st, sql, NULL, 0, NULL), 0);
}

static void test_roles(void **state)
{
	enum jpki_role role;

	(void)state;
	assert_int_equal(jpki_audit_role_parse(&role, "window-clerk"), 0);
	assert_int_equal(role, JPKI_ROLE_WINDOW_CLERK);
	assert_string_equal(jpki_audit_role_name(JPKI_ROLE_AUDITOR), "auditor");
	assert_int_equal(jpki_audit_role_parse(&role, "admin"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_role_parse(&role, NULL), JPKI_ERR_INVALID);
}

static void test_bootstrap_once(void **state)
{
	struct fx *f = *state;
	struct jpki_actor clerk =
	    actor("clerk", JPKI_ROLE_REGISTRY_CLERK, "131016");

	/* The first operator exists: nobody else comes in by the back door. */
	assert_int_equal(jpki_audit_operator_add(f->st, NULL, "second",
						 JPKI_ROLE_CA_OFFICER, "", PW),
			 JPKI_ERR_POLICY);
	/* Only a CA officer adds operators. */
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "clerk",
						 JPKI_ROLE_REGISTRY_CLERK,
						 "131016", PW),
			 0);
	assert_int_equal(jpki_audit_operator_add(f->st, &clerk, "clerk2",
						 JPKI_ROLE_REGISTRY_CLERK,
						 "131016", PW),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "clerk",
						 JPKI_ROLE_REGISTRY_CLERK,
						 "131016", PW),
			 JPKI_ERR_EXISTS);
	/* Bad input changes nothing. */
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "short",
						 JPKI_ROLE_WINDOW_CLERK,
						 "131016", "tooshort"),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "nomun",
						 JPKI_ROLE_WINDOW_CLERK, "",
						 PW),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "aud",
						 JPKI_ROLE_AUDITOR, "131016",
						 PW),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "system",
						 JPKI_ROLE_CA_OFFICER, "", PW),
			 JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "a b",
						 JPKI_ROLE_CA_OFFICER, "", PW),
			 JPKI_ERR_INVALID);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_operator"), 2);
	/* Each addition is on the chain; the password is not, anywhere. */
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'audit.operator-add'"),
			 2);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_operator WHERE"
				  " password LIKE '$argon2id$%'"),
			 2);
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_operator WHERE"
				  " password LIKE '%horse%'"),
			 0);
}

static void test_login_and_sessions(void **state)
{
	struct fx *f = *state;
	struct jpki_actor who;
	char *token = NULL, *other = NULL;
	char detail_unknown[256];

	assert_int_equal(jpki_audit_operator_add(f->st, &f->officer, "wclerk",
						 JPKI_ROLE_WINDOW_CLERK,
						 "271004", PW),
			 0);
	/* Wrong password and unknown name read the same. */
	assert_int_equal(jpki_audit_login(&token, f->st, "nobody", PW, 0),
			 JPKI_ERR_POLICY);
	snprintf(detail_unknown, sizeof(detail_unknown), "%s",
		 jpki_err_detail());
	assert_null(token);
	assert_int_equal(
	    jpki_audit_login(&token, f->st, "wclerk", "wrong password!", 0),
	    JPKI_ERR_POLICY);
	assert_null(token);
	assert_string_equal(jpki_err_detail(), detail_unknown);
	assert_string_equal(detail_unknown, "wrong operator or password");
	assert_int_equal(tu_count(f->st, "SELECT COUNT(*) FROM audit_log WHERE"
				  " action = 'audit.login-failed'"),
			 2);

	assert_int_equal(jpki_audit_login(&token, f->st, "wclerk", PW, 600), 0);
	assert_non_null(token);
	assert_int_equal(strlen(token), 64);
	/* Only the token's hash is stored. */
	{
		struct jpki_rows *rows = NULL;
		struct jpki_value p = JPKI_V_TEXT(token);

		assert_int_equal(jpki_store_query(&rows, f->st,
						  "SELECT COUNT(*) FROM"
						  " audit_session WHERE"
						  " token_hash = $1",
						  &p, 1),
				 0);
		assert_int_equal(jpki_rows_int(rows, 0, 0), 0);
		jpki_rows_free(rows);
	}
	assert_int_equal(jpki_audit_session(&who, f->st, token), 0);
	assert_string_equal(who.operator_id, "wclerk");
	assert_int_equal(who.role, JPKI_ROLE_WINDOW_CLERK);
	assert_string_equal(who.municipality_code, "271004");

	/* Use refreshes: 500 s later, then 500 s after that, still alive. */
	at("2026-01-10T09:08:20");
	assert_int_equal(jpki_audit_session(&who, f->st, token), 0);
	at("2026-01-10T09:16:40");
	assert_int_equal(jpki_audit_session(&who, f->st, token), 0);
	/* Idle for the whole ttl: gone. */
	at("2026-01-10T09:26:40");
	assert_int_equal(jpki_audit_session(&who, f->st, token),
			 JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "expired"));
	assert_string_equal(who.operator_id, "");
	assert_int_equal(jpki_audit_session(&who, f->st, token),
			 JPKI_ERR_POLICY);

	/* Logout ends a session at once; garbage tokens are refused. */
	assert_int_equal(jpki_audit_login(&other, f->st, "wclerk", PW, 0), 0);
	assert_int_equal(jpki_audit_session(&who, f->st, other), 0);
	assert_int_equal(jpki_audit_logout(f->st, other), 0);
	assert_int_equal(jpki_audit_session(&who, f->st, other),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_logout(f->st, other), 0);
	assert_int_equal(jpki_audit_session(&who, f->st, "not a token"),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_session(&who, f->st, NULL),
			 JPKI_ERR_POLICY);
	free(token);
	assert_int_equal(jpki_audit_login(&token, f->st, "wclerk", PW, -1),
			 JPKI_ERR_INVALID);
	assert_null(token);
	free(other);
}

static void test_authorize(void **state)
{
	struct jpki_actor reg = actor("r1", JPKI_ROLE_REGISTRY_CLERK, "131016");
	struct jpki_actor win = actor("w1", JPKI_ROLE_WINDOW_CLERK, "131016");
	struct jpki_actor off = actor("o1", JPKI_ROLE_CA_OFFICER, "");
	struct jpki_actor aud = actor("a1", JPKI_ROLE_AUDITOR, "");
	struct jpki_actor bad = actor("x1", JPKI_ROLE_WINDOW_CLERK, "");

	(void)state;
	assert_int_equal(
	    jpki_audit_authorize(&reg, JPKI_ROLE_REGISTRY_CLERK, "131016"), 0);
	assert_int_equal(
	    jpki_audit_authorize(&win, JPKI_ROLE_WINDOW_CLERK, "271004"),
	    JPKI_ERR_POLICY);
	assert_string_equal(jpki_err_detail(),
			    "a window clerk of 131016 cannot act on a "
			    "resident of 271004");
	/* Roles do not stand in for each other. */
	assert_int_equal(
	    jpki_audit_authorize(&win, JPKI_ROLE_REGISTRY_CLERK, "131016"),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_authorize(&off, JPKI_ROLE_REGISTRY_CLERK, "131016"),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_authorize(&off, JPKI_ROLE_CA_OFFICER, "271004"), 0);
	/* The auditor reads anywhere and changes nothing. */
	assert_int_equal(
	    jpki_audit_authorize(&aud, JPKI_ROLE_AUDITOR, "271004"), 0);
	assert_int_equal(
	    jpki_audit_authorize(&aud, JPKI_ROLE_WINDOW_CLERK, "271004"),
	    JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_authorize(&aud, JPKI_ROLE_CA_OFFICER, NULL),
			 JPKI_ERR_POLICY);
	/* A clerk without a municipality is a misconfiguration, not "all". */
	assert_int_equal(
	    jpki_audit_authorize(&bad, JPKI_ROLE_WINDOW_CLERK, "131016"),
	    JPKI_ERR_POLICY);
	assert_int_equal(
	    jpki_audit_authorize(NULL, JPKI_ROLE_WINDOW_CLERK, "131016"),
	    JPKI_ERR_POLICY);
}

/* Reads are bound like changes: the roles allowed, the municipality. */
static void test_authorize_read(void **state)
{
	struct jpki_actor reg = actor("r1", JPKI_ROLE_REGISTRY_CLERK, "131016");
	struct jpki_actor win = actor("w1", JPKI_ROLE_WINDOW_CLERK, "011002");
	struct jpki_actor off = actor("o1", JPKI_ROLE_CA_OFFICER, "");
	struct jpki_actor aud = actor("a1", JPKI_ROLE_AUDITOR, "");
	struct jpki_actor bad = actor("x1", JPKI_ROLE_WINDOW_CLERK, "");
	unsigned clerks = JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_REGISTRY_CLERK) |
			  JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK);

	(void)state;
	assert_int_equal(jpki_audit_authorize_read(&reg, clerks, "131016"), 0);
	assert_int_equal(jpki_audit_authorize_read(&reg, clerks, NULL), 0);
	assert_int_equal(jpki_audit_authorize_read(&win, clerks, "131016"),
			 JPKI_ERR_POLICY);
	assert_string_equal(jpki_err_detail(),
			    "a window clerk of 011002 cannot act on a "
			    "resident of 131016");
	/* a role outside the readers reads nothing, "" municipality or not */
	assert_int_equal(
	    jpki_audit_authorize_read(
		&reg, JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK), "131016"),
	    JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_authorize_read(&aud, clerks, "131016"),
			 JPKI_ERR_POLICY);
	assert_non_null(strstr(jpki_err_detail(), "does not read"));
	assert_int_equal(jpki_audit_authorize_read(&off, clerks, NULL),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_authorize_read(&bad, clerks, NULL),
			 JPKI_ERR_POLICY);
	assert_int_equal(jpki_audit_authorize_read(NULL, clerks, "131016"),
			 JPKI_ERR_POLICY);
}

/* Ten entries, committed one by one. */
static void fill(struct fx *f, int n)
{
	struct jpki_actor a = actor("r1", JPKI_ROLE_REGISTRY_CLERK, "131016");

	for (int i = 0; i < n; i++) {
		char subject[24];

		snprintf(subject, sizeof(subject), "R%016d", i);
		assert_int_equal(jpki_store_begin(f->st), 0);
		assert_int_equal(jpki_audit_append(f->st, &a, "registry.name",
						   subject,
						   i % 2 ? "{\"n\":1}" : NULL),
				 0);
		assert_int_equal(jpki_store_commit(f->st), 0);
	}
}

static void verify_bad(struct fx *f, uint64_t seq, const char *word)
{
	struct jpki_audit_report rep;

	assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
	if (rep.ok || rep.bad_seq != seq || strstr(rep.why, word) == NULL)
		fprintf(stderr, "report: ok=%d bad=%llu why=%s\n", rep.ok,
			(unsigned long long)rep.bad_seq, rep.why);
	assert_false(rep.ok);
	assert_int_equal(rep.bad_seq, seq);
	assert_non_null(strstr(rep.why, word));
}

/* The entries `n` single appends or one appender would add after 3 single
 * ones, into a fresh store. */
static void chain_of(struct jpki_store **st, char **url, char **dir, int n,
		     int batch)
{
	struct jpki_actor a = actor("agency:p", (enum jpki_role)0, "131016");
	struct jpki_audit_appender *ap = NULL;

	assert_int_equal(tu_store_new(st, url, dir), 0);
	assert_int_equal(jpki_audit_migrate(*st), 0);
	for (int i = 0; i < n + 3; i++) {
		char subject[24];

		snprintf(subject, sizeof(subject), "R%016d", i);
		if (i < 3 || !batch) {
			assert_int_equal(jpki_store_begin(*st), 0);
			assert_int_equal(
			    jpki_audit_append(*st, &a, "services.lookup",
					      subject,
					      i % 2 ? "{\"n\":1}" : NULL),
			    0);
			assert_int_equal(jpki_store_commit(*st), 0);
			continue;
		}
		if (ap == NULL) {
			assert_int_equal(jpki_store_begin(*st), 0);
			assert_int_equal(jpki_audit_appender_open(&ap, *st), 0);
		}
		assert_int_equal(jpki_audit_appender_add(
				     ap, &a, "services.lookup", subject,
				     i % 2 ? "{\"n\":1}" : NULL),
				 0);
	}
	if (ap != NULL) {
		assert_int_equal(jpki_audit_appender_finish(ap), 0);
		assert_int_equal(jpki_store_commit(*st), 0);
		jpki_audit_appender_free(ap);
	}
}

static char *chain_text(struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	char *s = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&s, &len);

	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT seq, at, subject, detail,"
					  " prev_hash, hash FROM audit_log"
					  " ORDER BY seq",
					  NULL, 0),
			 0);
	for (size_t i = 0; i < jpki_rows_count(rows); i++)
		fprintf(m, "%lld %lld %s %s %s %s\n",
			(long long)jpki_rows_int(rows, i, 0),
			(long long)jpki_rows_int(rows, i, 1),
			jpki_rows_text(rows, i, 2),
			jpki_rows_text(rows, i, 3) ? jpki_rows_text(rows, i, 3)
						   : "-",
			jpki_rows_text(rows, i, 4), jpki_rows_text(rows, i, 5));
	jpki_rows_free(rows);
	assert_int_equal(jpki_store_query(&rows, st,
					  "SELECT seq, hash FROM audit_head",
					  NULL, 0),
			 0);
	assert_int_equal(jpki_rows_count(rows), 1);
	fprintf(m, "head %lld %s\n", (long long)jpki_rows_int(rows, 0, 0),
		jpki_rows_text(rows, 0, 1));
	jpki_rows_free(rows);
	fclose(m);
	return s;
}

/* A batch through the appender (more entries than one multi-row INSERT
 * holds) is byte for byte the chain of as many single appends, verifies,
 * and an edited entry of it is named. */
static void test_chain_appender(void **state)
{
	struct jpki_store *one = NULL, *many = NULL;
	char *url1, *dir1, *url2, *dir2, *t1, *t2;
	struct jpki_audit_report rep;
	struct jpki_audit_appender *ap = NULL;
	struct jpki_actor bad = actor("", JPKI_ROLE_REGISTRY_CLERK, "131016");

	(void)state;
	at("2026-01-10T09:00:00");
	chain_of(&one, &url1, &dir1, 150, 0);
	chain_of(&many, &url2, &dir2, 150, 1);
	t1 = chain_text(one);
	t2 = chain_text(many);
	assert_string_equal(t1, t2);
	assert_non_null(strstr(t2, "head 153 "));
	assert_int_equal(jpki_audit_verify(&rep, many), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.entries, 153);
	/* what it cannot record is refused, and a rolled-back batch leaves
	 * nothing */
	assert_int_equal(jpki_store_begin(many), 0);
	assert_int_equal(jpki_audit_appender_open(&ap, many), 0);
	assert_int_equal(
	    jpki_audit_appender_add(ap, &bad, "services.lookup", "x", NULL),
	    JPKI_ERR_INVALID);
	assert_int_equal(jpki_audit_appender_add(ap, &(struct jpki_actor){
						      .operator_id = "a"},
						  "services.lookup", "x", NULL),
			 0);
	assert_int_equal(jpki_audit_appender_finish(ap), 0);
	jpki_audit_appender_free(ap);
	jpki_store_rollback(many);
	free(t2);
	t2 = chain_text(many);
	assert_string_equal(t1, t2);
	assert_int_equal(jpki_store_exec(many,
					 "UPDATE audit_log SET subject = 'R9'"
					 " WHERE seq = 100",
					 NULL, 0, NULL),
			 0);
	assert_int_equal(jpki_audit_verify(&rep, many), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.bad_seq, 100);
	free(t1);
	free(t2);
	tu_store_close(one, url1, dir1);
	tu_store_close(many, url2, dir2);
	jpki_clock_reset();
}

/* The hash of an entry, computed here from the layout chain.c documents
 * (not through the module): the bytes hashed must never change, or every
 * chain written before would stop verifying. Details around the size of
 * the hasher's buffer (512) and far beyond it. */
static void be(unsigned char **p, uint64_t v, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++)
		*(*p)++ = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

static void lp(unsigned char **p, const char *s)
{
	be(p, strlen(s), 4);
	memcpy(*p, s, strlen(s));
	*p += strlen(s);
}

static void test_chain_hash_layout(void **state)
{
	struct fx *f = *state;
	struct jpki_actor a = actor("r1", JPKI_ROLE_REGISTRY_CLERK, "131016");
	size_t sizes[] = {0, 1, 380, 420, 511, 512, 3000};
	char *detail = malloc(3001);

	assert_non_null(detail);
	for (size_t t = 0; t <= sizeof(sizes) / sizeof(sizes[0]); t++) {
		int with = t < sizeof(sizes) / sizeof(sizes[0]);
		struct jpki_rows *rows = NULL;
		unsigned char *buf = malloc(8192), *p = buf, md[32];
		char hex[65];
		unsigned len = 0;

		assert_non_null(buf);
		if (with) {
			memset(detail, 'a' + (int)t, sizes[t]);
			detail[sizes[t]] = '\0';
		}
		assert_int_equal(jpki_audit_record(f->st, &a, "test.layout",
						   "R0123", with ? detail
								 : NULL),
				 0);
		assert_int_equal(
		    jpki_store_query(&rows, f->st,
				     "SELECT seq, at, operator, role,"
				     " municipality, action, subject, detail,"
				     " prev_hash, hash FROM audit_log"
				     " ORDER BY seq DESC LIMIT 1",
				     NULL, 0),
		    0);
		for (size_t i = 0; i < 32; i++) {
			unsigned v;

			assert_int_equal(sscanf(jpki_rows_text(rows, 0, 8) +
						    2 * i,
						"%2x", &v),
					 1);
			*p++ = (unsigned char)v;
		}
		be(&p, (uint64_t)jpki_rows_int(rows, 0, 0), 8);
		be(&p, (uint64_t)jpki_rows_int(rows, 0, 1), 8);
		lp(&p, "r1");
		be(&p, (uint32_t)JPKI_ROLE_REGISTRY_CLERK, 4);
		lp(&p, "131016");
		lp(&p, "test.layout");
		lp(&p, "R0123");
		*p++ = (unsigned char)with;
		if (with) {
			assert_string_equal(jpki_rows_text(rows, 0, 7), detail);
			lp(&p, detail);
		} else
			assert_null(jpki_rows_text(rows, 0, 7));
		assert_true(EVP_Digest(buf, (size_t)(p - buf), md, &len,
				       EVP_sha256(), NULL));
		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		assert_string_equal(jpki_rows_text(rows, 0, 9), hex);
		/* and a wrong byte is not the hash */
		buf[40] ^= 1;
		assert_true(EVP_Digest(buf, (size_t)(p - buf), md, &len,
				       EVP_sha256(), NULL));
		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		assert_string_not_equal(jpki_rows_text(rows, 0, 9), hex);
		jpki_rows_free(rows);
		free(buf);
	}
	free(detail);
}

static void test_chain_intact(void **state)
{
	struct fx *f = *state;
	struct jpki_audit_report rep;

	fill(f, 10);
	assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.entries, 11); /* the bootstrap + 10 */
	assert_int_equal(rep.bad_seq, 0);
	/* Append refuses what it cannot record faithfully. */
	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(jpki_audit_append(f->st, &f->officer, "", "x", NULL),
			 JPKI_ERR_INVALID);
	assert_int_equal(
	    jpki_audit_append(f->st, &f->officer, "a", "\xff", NULL),
	    JPKI_ERR_INVALID);
	jpki_store_rollback(f->st);
	/* An append rolled back with its transaction leaves no trace. */
	assert_int_equal(jpki_store_begin(f->st), 0);
	assert_int_equal(
	    jpki_audit_append(f->st, &f->officer, "x.y", "z", NULL), 0);
	jpki_store_rollback(f->st);
	assert_int_equal(jpki_audit_verify(&rep, f->st), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.entries, 11);
}

static void test_chain_edited(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	exec(f, "UPDATE audit_log SET detail = '{\"n\":2}' WHERE seq = 5");
	verify_bad(f, 5, "edited");
}

static void test_chain_edited_hash(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	exec(f, "UPDATE audit_log SET hash = prev_hash WHERE seq = 7");
	verify_bad(f, 7, "edited");
}

static void test_chain_deleted(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	exec(f, "DELETE FROM audit_log WHERE seq = 4");
	verify_bad(f, 4, "missing");
}

static void test_chain_deleted_renumbered(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	exec(f, "DELETE FROM audit_log WHERE seq = 4");
	exec(f, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 4");
	verify_bad(f, 4, "missing");
}

static void test_chain_deleted_last(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	exec(f, "DELETE FROM audit_log WHERE seq = 11");
	verify_bad(f, 11, "missing");
	/* and the next append does not paper over the hole */
	fill(f, 1);
	verify_bad(f, 11, "missing");
}

/* A forger who knows the algorithm makes a self-consistent entry for
 * `seq`, linked to a predecessor of their own making (built here by
 * appending to a scratch store). */
static struct jpki_rows *forge(int64_t seq)
{
	char *dir = tu_tmpdir(), *db = NULL;
	struct jpki_store *scratch = NULL;
	struct jpki_rows *rows = NULL;
	struct jpki_actor a = actor("r1", JPKI_ROLE_REGISTRY_CLERK, "131016");
	struct jpki_value p = JPKI_V_INT(seq);

	assert_true(asprintf(&db, "%s/x.db", dir) > 0);
	assert_int_equal(jpki_store_open(&scratch, db), 0);
	assert_int_equal(jpki_audit_migrate(scratch), 0);
	for (int64_t i = 0; i < seq; i++) {
		assert_int_equal(jpki_store_begin(scratch), 0);
		assert_int_equal(jpki_audit_append(scratch, &a,
						   "registry.forged", "R0",
						   NULL),
				 0);
		assert_int_equal(jpki_store_commit(scratch), 0);
	}
	assert_int_equal(jpki_store_query(&rows, scratch,
					  "SELECT seq, at, operator, role,"
					  " municipality, action, subject,"
					  " prev_hash, hash FROM audit_log"
					  " WHERE seq = $1",
					  &p, 1),
			 0);
	jpki_store_free(scratch);
	tu_rmtree(dir);
	free(dir);
	free(db);
	return rows;
}

static void insert_forged(struct fx *f, int64_t seq)
{
	struct jpki_rows *rows = forge(seq);
	struct jpki_value p[] = {
	    JPKI_V_INT(seq),
	    JPKI_V_INT(jpki_rows_int(rows, 0, 1)),
	    JPKI_V_TEXT(jpki_rows_text(rows, 0, 2)),
	    JPKI_V_INT(jpki_rows_int(rows, 0, 3)),
	    JPKI_V_TEXT(jpki_rows_text(rows, 0, 4)),
	    JPKI_V_TEXT(jpki_rows_text(rows, 0, 5)),
	    JPKI_V_TEXT(jpki_rows_text(rows, 0, 6)),
	    JPKI_V_TEXT(jpki_rows_text(rows, 0, 7)),
	    JPKI_V_TEXT(jpki_rows_text(rows, 0, 8)),
	};

	assert_int_equal(jpki_store_exec(f->st,
					 "INSERT INTO audit_log (seq, at,"
					 " operator, role, municipality,"
					 " action, subject, detail, prev_hash,"
					 " hash) VALUES ($1, $2, $3, $4, $5,"
					 " $6, $7, NULL, $8, $9)",
					 p, 9, NULL),
			 0);
	jpki_rows_free(rows);
}

static void test_chain_inserted(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	/* Entry 6 taken out and a forged one put in its place. */
	exec(f, "DELETE FROM audit_log WHERE seq = 6");
	insert_forged(f, 6);
	verify_bad(f, 6, "inserted");
}

static void test_chain_appended(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	insert_forged(f, 12);
	verify_bad(f, 12, "inserted");
}

static void test_chain_reordered(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	/* Entries 3 and 8 trade places: every column but seq swapped. */
	exec(f, "UPDATE audit_log SET seq = -3 WHERE seq = 3");
	exec(f, "UPDATE audit_log SET seq = 3 WHERE seq = 8");
	exec(f, "UPDATE audit_log SET seq = 8 WHERE seq = -3");
	verify_bad(f, 3, "swapped");
}

static void test_chain_reordered_adjacent(void **state)
{
	struct fx *f = *state;

	fill(f, 10);
	exec(f, "UPDATE audit_log SET seq = -5 WHERE seq = 5");
	exec(f, "UPDATE audit_log SET seq = 5 WHERE seq = 6");
	exec(f, "UPDATE audit_log SET seq = 6 WHERE seq = -5");
	verify_bad(f, 5, "swapped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles),
	    cmocka_unit_test_setup_teardown(test_bootstrap_once, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_login_and_sessions, setup,
					    teardown),
	    cmocka_unit_test(test_authorize),
	    cmocka_unit_test(test_authorize_read),
	    cmocka_unit_test_setup_teardown(test_chain_intact, setup, teardown),
	    cmocka_unit_test(test_chain_appender),
	    cmocka_unit_test_setup_teardown(test_chain_hash_layout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_edited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_edited_hash, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_deleted, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_deleted_renumbered,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_deleted_last, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_inserted, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_appended, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_reordered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_chain_reordered_adjacent,
					    setup, teardown),
	};

	setenv("JPKI_ARGON2_TEST", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
