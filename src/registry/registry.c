/*
 * The resident register: records, their changes, and the outbox of change
 * events the CA consumes.
 *
 * The reads (get, find, events) open no transaction and migrate nothing, so
 * they can run inside a caller's transaction; the changes migrate first and
 * open their own.
 *
 * Every change is one transaction holding the record's update, its audit
 * entry and (for a change of the 4 facts, a death or a removal) its event,
 * so that the CA can never miss a change that happened nor hear of one that
 * did not. Event sequence numbers are allocated inside that transaction
 * (MAX + 1), which the store's single writer makes gap-free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "jpki/registry.h"

#define DEFAULT_FIND_LIMIT 100
#define MAX_FIND_LIMIT 10000

static const struct jpki_migration migrations[] = {
    {1, "CREATE TABLE registry_resident ("
	" person TEXT PRIMARY KEY,"
	" municipality TEXT NOT NULL,"
	" prefecture_name TEXT NOT NULL,"
	" municipality_name TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" name_subst TEXT NOT NULL,"
	" sex INTEGER NOT NULL,"
	" birth TEXT NOT NULL,"
	" address TEXT NOT NULL,"
	" address_subst TEXT NOT NULL,"
	" guardianship INTEGER NOT NULL,"
	" status INTEGER NOT NULL,"
	" registered_at BIGINT NOT NULL,"
	" changed_at BIGINT NOT NULL);"
	"CREATE INDEX registry_resident_municipality"
	" ON registry_resident (municipality, name);"
	"CREATE TABLE registry_event ("
	" seq BIGINT PRIMARY KEY,"
	" kind INTEGER NOT NULL,"
	" person TEXT NOT NULL,"
	" what TEXT NOT NULL,"
	" at BIGINT NOT NULL)"},
};

#define RESIDENT_COLUMNS                                                       \
	"person, municipality, prefecture_name, municipality_name, name,"      \
	" name_subst, sex, birth, address, address_subst, guardianship,"       \
	" status, registered_at, changed_at"

int jpki_registry_migrate(struct jpki_store *st)
{
	int r;

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = jpki_audit_migrate(st)) != 0)
		return r;
	return jpki_store_migrate(st, "registry", migrations,
				  sizeof(migrations) / sizeof(migrations[0]));
}

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int code_valid(const char *code)
{
	return code != NULL && strlen(code) == 6 &&
	       strspn(code, "0123456789") == 6;
}

static int check_code(const char *code)
{
	if (!code_valid(code))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "municipality code '%s' must be the six "
				    "digits of the local government code",
				    code ? code : "");
	return 0;
}

/* A place name (prefecture, municipality): 1..63 bytes of printable
 * UTF-8 (it is printed on letters and copies). */
static int check_place(const char *s, const char *what)
{
	if (s == NULL || *s == '\0' || strlen(s) >= 64 ||
	    jpki_utf8_chars(s) < 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%s must be 1 to 63 bytes of UTF-8", what);
	return jpki_text_check(s, what);
}

/* Copies a string into a fixed field, refusing what would not fit (a
 * silently shortened address would be a wrong address). */
static int set_field(char *dst, size_t size, const char *src, const char *what)
{
	if (src == NULL || strlen(src) >= size)
		return jpki_err_set(JPKI_ERR_INVALID, "%s is too long", what);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int resident_from_row(struct jpki_resident *out,
			     const struct jpki_rows *rows, size_t i)
{
	memset(out, 0, sizeof(*out));
	copy_text(out->person, sizeof(out->person), jpki_rows_text(rows, i, 0));
	copy_text(out->municipality_code, sizeof(out->municipality_code),
		  jpki_rows_text(rows, i, 1));
	copy_text(out->prefecture, sizeof(out->prefecture),
		  jpki_rows_text(rows, i, 2));
	copy_text(out->municipality, sizeof(out->municipality),
		  jpki_rows_text(rows, i, 3));
	copy_text(out->facts.name, sizeof(out->facts.name),
		  jpki_rows_text(rows, i, 4));
	copy_text(out->facts.name_subst, sizeof(out->facts.name_subst),
		  jpki_rows_text(rows, i, 5));
	out->facts.sex = (enum jpki_sex)jpki_rows_int(rows, i, 6);
	if (jpki_rows_text(rows, i, 7) == NULL ||
	    jpki_date_parse(&out->facts.birth, jpki_rows_text(rows, i, 7)) != 0)
		return jpki_err_set(JPKI_ERR_STORE,
				    "resident %s has an unreadable date of "
				    "birth in the store",
				    out->person);
	copy_text(out->facts.address, sizeof(out->facts.address),
		  jpki_rows_text(rows, i, 8));
	copy_text(out->facts.address_subst, sizeof(out->facts.address_subst),
		  jpki_rows_text(rows, i, 9));
	out->guardianship = jpki_rows_int(rows, i, 10) != 0;
	out->status = (enum jpki_resident_status)jpki_rows_int(rows, i, 11);
	out->registered_at = (time_t)jpki_rows_int(rows, i, 12);
	out->changed_at = (time_t)jpki_rows_int(rows, i, 13);
	return 0;
}

static int load(struct jpki_resident *out, struct jpki_store *st,
		const char *person)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(person);
	int r;

	if (person == NULL || *person == '\0' ||
	    strlen(person) >= sizeof(out->person))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%.64s' is not a resident's id",
				    person ? person : "");
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " RESIDENT_COLUMNS
				  " FROM registry_resident WHERE person = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no resident %s in the register", person);
	else
		r = resident_from_row(out, rows, 0);
	jpki_rows_free(rows);
	return r;
}

int jpki_registry_get(struct jpki_resident *out, struct jpki_store *st,
		      const char *person)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = load(out, st, person)) != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* Who reads residents' records: the clerks of their municipality. */
#define READERS                                                                \
	(JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_REGISTRY_CLERK) |                       \
	 JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK))

/* A refused read on the chain, keeping the refusal's sentence as the
 * error: who tried to read whom is what an audit of snooping needs. */
static int refuse_read(struct jpki_store *st, const struct jpki_actor *by,
		       const char *action, const char *subject, int r)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if (by != NULL && by->operator_id[0] != '\0' &&
	    jpki_audit_record(st, by, action, subject, NULL) != 0)
		jpki_log(JPKI_LOG_ERROR, "registry: %s not recorded: %s",
			 action, jpki_err_detail());
	return jpki_err_set(r, "%s", why);
}

int jpki_registry_read(struct jpki_resident *out, struct jpki_store *st,
		       const struct jpki_actor *by, const char *person)
{
	char detail[64];
	int r;

	if ((r = jpki_registry_get(out, st, person)) != 0)
		return r;
	if ((r = jpki_audit_authorize_read(by, READERS,
					   out->municipality_code)) != 0) {
		memset(out, 0, sizeof(*out));
		return refuse_read(st, by, "registry.read.refused", person, r);
	}
	snprintf(detail, sizeof(detail), "{\"municipality_code\":\"%s\"}",
		 out->municipality_code);
	if ((r = jpki_audit_record(st, by, "registry.read", out->person,
				   detail)) != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int jpki_registry_search(struct jpki_resident **out, size_t *n,
			 struct jpki_store *st, const struct jpki_actor *by,
			 const char *name, size_t limit)
{
	char code[sizeof(by->municipality_code) + 1], detail[64];
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_audit_authorize_read(by, READERS, NULL)) != 0)
		return refuse_read(st, by, "registry.search.refused",
				   by != NULL ? by->municipality_code : "", r);
	snprintf(code, sizeof(code), "%.*s", (int)sizeof(by->municipality_code),
		 by->municipality_code);
	if ((r = jpki_registry_find(out, n, st, code, name, limit)) != 0)
		return r;
	snprintf(detail, sizeof(detail), "{\"found\":%zu}", *n);
	if ((r = jpki_audit_record(st, by, "registry.search", code, detail)) !=
	    0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}

/* `s` with LIKE's wildcards and the escape character escaped. */
static char *like_escape(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 3), *o = out;

	if (out == NULL)
		return NULL;
	*o++ = '%';
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '%';
	*o = '\0';
	return out;
}

int jpki_registry_find(struct jpki_resident **out, size_t *n,
		       struct jpki_store *st, const char *municipality_code,
		       const char *name, size_t limit)
{
	struct jpki_rows *rows = NULL;
	struct jpki_resident *list = NULL;
	char *pattern = NULL;
	size_t count = 0;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if (municipality_code != NULL &&
	    (r = check_code(municipality_code)) != 0)
		return r;
	if (name != NULL &&
	    (strlen(name) >= JPKI_FACT_NAME_MAX || jpki_utf8_chars(name) < 0))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the name searched for must be UTF-8 of at "
				    "most %d characters",
				    JPKI_MAX_NAME_CHARS);
	if (limit == 0)
		limit = DEFAULT_FIND_LIMIT;
	if (limit > MAX_FIND_LIMIT)
		limit = MAX_FIND_LIMIT;
	if (name != NULL && *name != '\0' &&
	    (pattern = like_escape(name)) == NULL)
		return JPKI_ERR_NOMEM;
	{
		struct jpki_value p[] = {
		    municipality_code ? JPKI_V_TEXT(municipality_code)
				      : JPKI_V_NULL,
		    pattern ? JPKI_V_TEXT(pattern) : JPKI_V_NULL,
		    JPKI_V_INT((int64_t)limit),
		};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT " RESIDENT_COLUMNS " FROM registry_resident"
			 " WHERE (municipality = $1 OR $1 IS NULL)"
			 " AND (name LIKE $2 ESCAPE '\\' OR $2 IS NULL)"
			 " ORDER BY name, person LIMIT $3",
			 p, 3)) != 0)
			goto out;
	}
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if ((r = resident_from_row(&list[i], rows, i)) != 0)
			goto out;
	*out = list;
	*n = count;
	list = NULL;
	r = 0;
out:
	free(list);
	free(pattern);
	jpki_rows_free(rows);
	return r;
}

/* "R" and 16 upper-case hex digits from the CSPRNG. */
static int new_person_id(char out[64])
{
	unsigned char raw[8];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	out[0] = 'R';
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 1 + 2 * i, 3, "%02X", raw[i]);
	return 0;
}

static int check_resident(const struct jpki_resident *r)
{
	int e;

	/* The fixed arrays come from the caller: make sure they end. */
	if (memchr(r->municipality_code, '\0', sizeof(r->municipality_code)) ==
		NULL ||
	    memchr(r->prefecture, '\0', sizeof(r->prefecture)) == NULL ||
	    memchr(r->municipality, '\0', sizeof(r->municipality)) == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the resident's place names are not "
				    "terminated strings");
	if ((e = check_code(r->municipality_code)) != 0 ||
	    (e = check_place(r->prefecture, "the prefecture")) != 0 ||
	    (e = check_place(r->municipality, "the municipality")) != 0)
		return e;
	if (memchr(r->facts.name, '\0', sizeof(r->facts.name)) == NULL ||
	    memchr(r->facts.name_subst, '\0', sizeof(r->facts.name_subst)) ==
		NULL ||
	    memchr(r->facts.address, '\0', sizeof(r->facts.address)) == NULL ||
	    memchr(r->facts.address_subst, '\0',
		   sizeof(r->facts.address_subst)) == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the resident's facts are not terminated "
				    "strings");
	if (r->guardianship != 0 && r->guardianship != 1)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the guardianship flag is 0 or 1");
	return jpki_profile_facts_check(&r->facts);
}

static int person_taken(int *taken, struct jpki_store *st, const char *person)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value p = JPKI_V_TEXT(person);
	int r;

	*taken = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT 1 FROM registry_resident"
				  " WHERE person = $1",
				  &p, 1)) != 0)
		return r;
	*taken = jpki_rows_count(rows) > 0;
	jpki_rows_free(rows);
	return 0;
}

/* Writes every column of `res` (an insert, or an update of its row). */
static int save(struct jpki_store *st, const struct jpki_resident *res,
		int insert)
{
	char birth[11];

	jpki_date_format(&res->facts.birth, birth);
	struct jpki_value p[] = {
	    JPKI_V_TEXT(res->person),
	    JPKI_V_TEXT(res->municipality_code),
	    JPKI_V_TEXT(res->prefecture),
	    JPKI_V_TEXT(res->municipality),
	    JPKI_V_TEXT(res->facts.name),
	    JPKI_V_TEXT(res->facts.name_subst),
	    JPKI_V_INT(res->facts.sex),
	    JPKI_V_TEXT(birth),
	    JPKI_V_TEXT(res->facts.address),
	    JPKI_V_TEXT(res->facts.address_subst),
	    JPKI_V_INT(res->guardianship),
	    JPKI_V_INT(res->status),
	    JPKI_V_INT(res->registered_at),
	    JPKI_V_INT(res->changed_at),
	};

	if (insert)
		return jpki_store_exec(st,
				       "INSERT INTO registry_resident"
				       " (" RESIDENT_COLUMNS ") VALUES ($1, $2,"
				       " $3, $4, $5, $6, $7, $8, $9, $10, $11,"
				       " $12, $13, $14)",
				       p, 14, NULL);
	return jpki_store_exec(st,
			       "UPDATE registry_resident SET municipality = $2,"
			       " prefecture_name = $3, municipality_name = $4,"
			       " name = $5, name_subst = $6, sex = $7,"
			       " birth = $8, address = $9, address_subst = $10,"
			       " guardianship = $11, status = $12,"
			       " registered_at = $13, changed_at = $14"
			       " WHERE person = $1",
			       p, 14, NULL);
}

int jpki_registry_register(char person[64], struct jpki_store *st,
			   const struct jpki_actor *by,
			   const struct jpki_resident *res)
{
	struct jpki_resident rec;
	char detail[64];
	int taken = 1, r = JPKI_ERR_INTERNAL;

	person[0] = '\0';
	if (st == NULL || res == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "registering needs a store and a resident");
	if ((r = check_resident(res)) != 0)
		return r;
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_REGISTRY_CLERK,
				      res->municipality_code)) != 0)
		return r;
	rec = *res;
	rec.status = JPKI_RESIDENT_REGISTERED;
	rec.registered_at = rec.changed_at = jpki_clock_now();
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	/* 64 random bits: a collision is unlikely but cheap to rule out. */
	for (int attempt = 0; taken; attempt++) {
		if (attempt > 8) {
			r = jpki_err_set(JPKI_ERR_INTERNAL,
					 "cannot find a free resident id");
			goto fail;
		}
		if ((r = new_person_id(rec.person)) != 0 ||
		    (r = person_taken(&taken, st, rec.person)) != 0)
			goto fail;
	}
	snprintf(detail, sizeof(detail), "{\"municipality\":\"%s\"}",
		 rec.municipality_code);
	if ((r = save(st, &rec, 1)) != 0 ||
	    (r = jpki_audit_append(st, by, "registry.register", rec.person,
				   detail)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	memcpy(person, rec.person, sizeof(rec.person));
	return 0;
fail:
	jpki_store_rollback(st);
	return r;
}

static int add_event(struct jpki_store *st, enum jpki_registry_event_kind kind,
		     const char *person, const char *what, time_t at)
{
	struct jpki_value p[] = {JPKI_V_INT(kind), JPKI_V_TEXT(person),
				 JPKI_V_TEXT(what), JPKI_V_INT(at)};

	return jpki_store_exec(st,
			       "INSERT INTO registry_event (seq, kind, person,"
			       " what, at) SELECT COALESCE(MAX(seq), 0) + 1,"
			       " $1, $2, $3, $4 FROM registry_event",
			       p, 4, NULL);
}

static const char *status_words(enum jpki_resident_status status)
{
	switch (status) {
	case JPKI_RESIDENT_REGISTERED:
		return "registered";
	case JPKI_RESIDENT_DEAD:
		return "recorded as dead";
	case JPKI_RESIDENT_REMOVED:
		return "removed from the register";
	}
	return "in an unknown state";
}

/* One change: what it sets on the record, what it is called. */
enum change_kind {
	CHANGE_MOVE,
	CHANGE_NAME,
	CHANGE_BIRTH,
	CHANGE_SEX,
	CHANGE_GUARDIANSHIP,
	CHANGE_DEATH,
	CHANGE_REMOVAL,
};

struct change {
	enum change_kind kind;
	/* move */
	const char *municipality_code;
	const char *prefecture;
	const char *municipality;
	const char *address;
	/* name, birth, sex, guardianship */
	const char *name;
	struct jpki_date birth;
	enum jpki_sex sex;
	int on;
};

static const struct {
	enum change_kind kind;
	const char *action; /* audit */
	const char *what;   /* event, or NULL for none */
	enum jpki_registry_event_kind event;
} changes[] = {
    {CHANGE_MOVE, "registry.move", "move", JPKI_EVENT_FACTS_CHANGED},
    {CHANGE_NAME, "registry.name", "name", JPKI_EVENT_FACTS_CHANGED},
    {CHANGE_BIRTH, "registry.birth", "birth", JPKI_EVENT_FACTS_CHANGED},
    {CHANGE_SEX, "registry.sex", "sex", JPKI_EVENT_FACTS_CHANGED},
    {CHANGE_GUARDIANSHIP, "registry.guardianship", NULL, 0},
    {CHANGE_DEATH, "registry.death", "death", JPKI_EVENT_DIED},
    {CHANGE_REMOVAL, "registry.removal", "removal", JPKI_EVENT_REMOVED},
};

/*
 * Applies `c` to the loaded record `rec`, checking what it sets; fills the
 * audit detail. JPKI_ERR_INVALID when the change changes nothing or sets a
 * value the facts check refuses.
 */
static int apply(struct jpki_resident *rec, const struct change *c,
		 char *detail, size_t detail_size)
{
	struct jpki_resident before = *rec;
	int r;

	switch (c->kind) {
	case CHANGE_MOVE:
		if ((r = set_field(
			 rec->municipality_code, sizeof(rec->municipality_code),
			 c->municipality_code, "the municipality code")) != 0 ||
		    (r = set_field(rec->prefecture, sizeof(rec->prefecture),
				   c->prefecture, "the prefecture")) != 0 ||
		    (r = set_field(rec->municipality, sizeof(rec->municipality),
				   c->municipality, "the municipality")) != 0 ||
		    (r = set_field(rec->facts.address,
				   sizeof(rec->facts.address), c->address,
				   "the address")) != 0)
			return r;
		if (strcmp(before.municipality_code, rec->municipality_code) ==
			0 &&
		    strcmp(before.facts.address, rec->facts.address) == 0)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "resident %s already lives at that "
					    "address",
					    rec->person);
		/* Substitute-character positions belong to the old text. */
		rec->facts.address_subst[0] = '\0';
		snprintf(detail, detail_size, "{\"from\":\"%s\",\"to\":\"%s\"}",
			 before.municipality_code, rec->municipality_code);
		break;
	case CHANGE_NAME:
		if ((r = set_field(rec->facts.name, sizeof(rec->facts.name),
				   c->name, "the name")) != 0)
			return r;
		if (strcmp(before.facts.name, rec->facts.name) == 0)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "resident %s already has that name",
					    rec->person);
		rec->facts.name_subst[0] = '\0';
		break;
	case CHANGE_BIRTH:
		rec->facts.birth = c->birth;
		if (jpki_date_cmp(&before.facts.birth, &c->birth) == 0)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "resident %s's date of birth is "
					    "that already",
					    rec->person);
		break;
	case CHANGE_SEX:
		rec->facts.sex = c->sex;
		if (before.facts.sex == c->sex)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "resident %s's sex is recorded so "
					    "already",
					    rec->person);
		break;
	case CHANGE_GUARDIANSHIP:
		if (c->on != 0 && c->on != 1)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the guardianship flag is 0 or 1");
		if (before.guardianship == c->on)
			return jpki_err_set(
			    JPKI_ERR_INVALID,
			    "resident %s's guardianship is %s "
			    "already",
			    rec->person, c->on ? "recorded" : "not recorded");
		rec->guardianship = c->on;
		snprintf(detail, detail_size, "{\"on\":%s}",
			 c->on ? "true" : "false");
		break;
	case CHANGE_DEATH:
		rec->status = JPKI_RESIDENT_DEAD;
		break;
	case CHANGE_REMOVAL:
		rec->status = JPKI_RESIDENT_REMOVED;
		break;
	}
	return jpki_profile_facts_check(&rec->facts);
}

/* One change inside the caller's transaction, by a clerk in `role`. */
static int change_in(struct jpki_store *st, const struct jpki_actor *by,
		     enum jpki_role role, const char *person,
		     const struct change *c)
{
	struct jpki_resident rec;
	const char *where;
	char detail[128] = "";
	size_t k = 0;
	int r = JPKI_ERR_INTERNAL;

	while (changes[k].kind != c->kind)
		k++;
	if (c->kind == CHANGE_MOVE &&
	    ((r = check_code(c->municipality_code)) != 0 ||
	     (r = check_place(c->prefecture, "the prefecture")) != 0 ||
	     (r = check_place(c->municipality, "the municipality")) != 0))
		return r;
	if ((r = load(&rec, st, person)) != 0)
		return r;
	/* Who may: a clerk of the resident's municipality, or for a move
	 * the municipality moved into (転入 is recorded there). Checked
	 * before the status, so another municipality's clerk learns
	 * nothing. */
	where = c->kind == CHANGE_MOVE ? c->municipality_code
				       : rec.municipality_code;
	if ((r = jpki_audit_authorize(by, role, where)) != 0)
		return r;
	if (rec.status != JPKI_RESIDENT_REGISTERED)
		return jpki_err_set(JPKI_ERR_STATE,
				    "resident %s is %s: the record can no "
				    "longer change",
				    rec.person, status_words(rec.status));
	if ((r = apply(&rec, c, detail, sizeof(detail))) != 0)
		return r;
	rec.changed_at = jpki_clock_now();
	if ((r = save(st, &rec, 0)) != 0 ||
	    (r = jpki_audit_append(st, by, changes[k].action, rec.person,
				   detail[0] ? detail : NULL)) != 0)
		return r;
	if (changes[k].what != NULL &&
	    (r = add_event(st, changes[k].event, rec.person, changes[k].what,
			   rec.changed_at)) != 0)
		return r;
	return 0;
}

static int change(struct jpki_store *st, const struct jpki_actor *by,
		  const char *person, const struct change *c)
{
	int r;

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = change_in(st, by, JPKI_ROLE_REGISTRY_CLERK, person, c)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	return jpki_store_commit(st);
}

int jpki_registry_move(struct jpki_store *st, const struct jpki_actor *by,
		       const char *person, const char *municipality_code,
		       const char *prefecture, const char *municipality,
		       const char *address)
{
	struct change c = {.kind = CHANGE_MOVE,
			   .municipality_code = municipality_code,
			   .prefecture = prefecture,
			   .municipality = municipality,
			   .address = address};

	return change(st, by, person, &c);
}

int jpki_registry_move_in_tx(struct jpki_store *st, const struct jpki_actor *by,
			     const char *person, const char *municipality_code,
			     const char *prefecture, const char *municipality,
			     const char *address)
{
	struct change c = {.kind = CHANGE_MOVE,
			   .municipality_code = municipality_code,
			   .prefecture = prefecture,
			   .municipality = municipality,
			   .address = address};

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	return change_in(st, by, JPKI_ROLE_WINDOW_CLERK, person, &c);
}

int jpki_registry_change_name(struct jpki_store *st,
			      const struct jpki_actor *by, const char *person,
			      const char *name)
{
	struct change c = {.kind = CHANGE_NAME, .name = name};

	return change(st, by, person, &c);
}

int jpki_registry_correct_birth(struct jpki_store *st,
				const struct jpki_actor *by, const char *person,
				const struct jpki_date *birth)
{
	struct change c = {.kind = CHANGE_BIRTH};

	if (birth == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no date of birth given");
	c.birth = *birth;
	return change(st, by, person, &c);
}

int jpki_registry_correct_sex(struct jpki_store *st,
			      const struct jpki_actor *by, const char *person,
			      enum jpki_sex sex)
{
	struct change c = {.kind = CHANGE_SEX, .sex = sex};

	return change(st, by, person, &c);
}

int jpki_registry_set_guardianship(struct jpki_store *st,
				   const struct jpki_actor *by,
				   const char *person, int on)
{
	struct change c = {.kind = CHANGE_GUARDIANSHIP, .on = on};

	return change(st, by, person, &c);
}

int jpki_registry_death(struct jpki_store *st, const struct jpki_actor *by,
			const char *person)
{
	struct change c = {.kind = CHANGE_DEATH};

	return change(st, by, person, &c);
}

int jpki_registry_remove(struct jpki_store *st, const struct jpki_actor *by,
			 const char *person)
{
	struct change c = {.kind = CHANGE_REMOVAL};

	return change(st, by, person, &c);
}

int jpki_registry_events(struct jpki_registry_event **out, size_t *n,
			 struct jpki_store *st, int64_t after_seq, size_t limit)
{
	struct jpki_rows *rows = NULL;
	struct jpki_registry_event *list = NULL;
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(after_seq),
		    JPKI_V_INT(limit ? (int64_t)limit : INT64_MAX)};

		if ((r = jpki_store_query(&rows, st,
					  "SELECT seq, kind, person, what, at"
					  " FROM registry_event WHERE seq > $1"
					  " ORDER BY seq LIMIT $2",
					  p, 2)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		list[i].seq = jpki_rows_int(rows, i, 0);
		list[i].kind =
		    (enum jpki_registry_event_kind)jpki_rows_int(rows, i, 1);
		copy_text(list[i].person, sizeof(list[i].person),
			  jpki_rows_text(rows, i, 2));
		copy_text(list[i].what, sizeof(list[i].what),
			  jpki_rows_text(rows, i, 3));
		list[i].at = (time_t)jpki_rows_int(rows, i, 4);
	}
	jpki_rows_free(rows);
	*out = list;
	*n = count;
	return 0;
}

int jpki_registry_last_event(int64_t *seq, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	int r;

	*seq = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = jpki_store_query(&rows, st,
				  "SELECT COALESCE(MAX(seq), 0)"
				  " FROM registry_event",
				  NULL, 0)) != 0)
		return r;
	*seq = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}
