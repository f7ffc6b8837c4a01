/*
 * Operators, their passwords and sessions, and who may do what.
 *
 * Passwords are kept only as Argon2id encoded hashes (the salt and the cost
 * travel inside the encoded string, so a hash made at one cost still
 * verifies after the cost changes). The production cost is m = 64 MiB,
 * t = 3, p = 1. With JPKI_ARGON2_TEST=1 in the environment, new hashes are
 * made at m = 1 MiB, t = 1 instead, so unit tests stay fast; this is logged
 * as a warning, and must never be set on a server.
 *
 * Session tokens are 32 random bytes shown as 64 hex digits; the store keeps
 * only SHA-256 of the token text, so a copy of the database opens no
 * session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/rand.h>

#include "audit/audit_internal.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define MIN_PASSWORD_CHARS 10
#define MAX_PASSWORD_BYTES 1024
#define DEFAULT_TTL 1800
#define MAX_TTL (12 * 3600)
#define WRONG_LOGIN "wrong operator or password"

static const struct {
	enum jpki_role role;
	const char *name;
	const char *person; /* for sentences */
} roles[] = {
    {JPKI_ROLE_REGISTRY_CLERK, "registry-clerk", "a registry clerk"},
    {JPKI_ROLE_WINDOW_CLERK, "window-clerk", "a window clerk"},
    {JPKI_ROLE_CA_OFFICER, "ca-officer", "a CA officer"},
    {JPKI_ROLE_AUDITOR, "auditor", "an auditor"},
};

const char *jpki_audit_role_name(enum jpki_role role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return roles[i].name;
	return "unknown";
}

static const char *role_person(enum jpki_role role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return roles[i].person;
	return "an operator of no known role";
}

int jpki_audit_role_parse(enum jpki_role *out, const char *name)
{
	*out = 0;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (name != NULL && strcmp(name, roles[i].name) == 0) {
			*out = roles[i].role;
			return 0;
		}
	return jpki_err_set(JPKI_ERR_INVALID,
			    "unknown role '%s' (registry-clerk, window-clerk, "
			    "ca-officer, auditor)",
			    name ? name : "");
}

static int role_known(enum jpki_role role)
{
	return role >= JPKI_ROLE_REGISTRY_CLERK && role <= JPKI_ROLE_AUDITOR;
}

/* Clerks work for one municipality; the CA officer and the auditor for
 * all of them. */
static int role_is_local(enum jpki_role role)
{
	return role == JPKI_ROLE_REGISTRY_CLERK ||
	       role == JPKI_ROLE_WINDOW_CLERK;
}

int jpki_audit_authorize(const struct jpki_actor *actor, enum jpki_role role,
			 const char *municipality_code)
{
	char mun[sizeof(actor->municipality_code) + 1];

	if (actor == NULL || actor->operator_id[0] == '\0')
		return jpki_err_set(JPKI_ERR_POLICY,
				    "no operator is logged in");
	if (!role_known(role))
		return jpki_err_set(JPKI_ERR_INVALID, "unknown role %d",
				    (int)role);
	/* Separation of duties: nobody does another role's work, and the
	 * auditor, who may only read, is never authorised for a change. */
	if (actor->role != role)
		return jpki_err_set(
		    JPKI_ERR_POLICY, "%s cannot do the work of %s",
		    role_person(actor->role), role_person(role));
	snprintf(mun, sizeof(mun), "%.*s",
		 (int)sizeof(actor->municipality_code),
		 actor->municipality_code);
	if (mun[0] == '\0') {
		if (role_is_local(actor->role))
			return jpki_err_set(JPKI_ERR_POLICY,
					    "%s must belong to a municipality",
					    role_person(actor->role));
		return 0;
	}
	if (municipality_code != NULL && strcmp(mun, municipality_code) != 0)
		return jpki_err_set(
		    JPKI_ERR_POLICY, "%s of %s cannot act on a resident of %s",
		    role_person(actor->role), mun, municipality_code);
	return 0;
}

int jpki_audit_authorize_read(const struct jpki_actor *actor, unsigned readers,
			      const char *municipality_code)
{
	if (actor == NULL || actor->operator_id[0] == '\0')
		return jpki_err_set(JPKI_ERR_POLICY,
				    "no operator is logged in");
	if (!role_known(actor->role) ||
	    (readers & JPKI_AUDIT_ROLE_BIT(actor->role)) == 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "%s does not read residents' records",
				    role_person(actor->role));
	return jpki_audit_authorize(actor, actor->role, municipality_code);
}

static int test_cost(void)
{
	static int warned;
	const char *v = getenv("JPKI_ARGON2_TEST");

	if (v == NULL || strcmp(v, "1") != 0)
		return 0;
	if (!warned) {
		warned = 1;
		jpki_log(JPKI_LOG_WARN,
			 "JPKI_ARGON2_TEST=1: operator passwords are hashed "
			 "at a test cost; never set it on a server");
	}
	return 1;
}

static void argon2_cost(uint32_t *t, uint32_t *m, uint32_t *p)
{
	if (test_cost()) {
		*t = 1;
		*m = 1024;
	} else {
		*t = 3;
		*m = 64 * 1024;
	}
	*p = 1;
}

/* Operator names: what a person types at a log-in prompt; "system" is the
 * CA's own consumer and cannot be an operator. */
int audit_operator_id_check(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n >= sizeof(((struct jpki_actor *)0)->operator_id) ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789._-@") != n)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "an operator name is 1 to 63 letters, "
				    "digits, '.', '_', '-' or '@'");
	if (strcmp(id, "system") == 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'system' is reserved for the service "
				    "itself");
	return 0;
}

int audit_password_check(const char *password)
{
	long chars = password ? jpki_utf8_chars(password) : -1;

	if (chars < MIN_PASSWORD_CHARS || strlen(password) > MAX_PASSWORD_BYTES)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a password is %d to %d characters of "
				    "UTF-8",
				    MIN_PASSWORD_CHARS, MAX_PASSWORD_BYTES);
	return 0;
}

int audit_password_hash(char **out, const char *password)
{
	unsigned char salt[SALT_LEN];
	uint32_t t, m, p;
	size_t len;
	char *enc;
	int ar;

	*out = NULL;
	argon2_cost(&t, &m, &p);
	len = argon2_encodedlen(t, m, p, SALT_LEN, HASH_LEN, Argon2_id);
	if ((enc = calloc(1, len + 1)) == NULL)
		return JPKI_ERR_NOMEM;
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		free(enc);
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	}
	ar = argon2id_hash_encoded(t, m, p, password, strlen(password), salt,
				   SALT_LEN, HASH_LEN, enc, len + 1);
	if (ar != ARGON2_OK) {
		free(enc);
		return jpki_err_set(JPKI_ERR_CRYPTO, "Argon2id failed: %s",
				    argon2_error_message(ar));
	}
	*out = enc;
	return 0;
}

static int count_operators(int64_t *n, struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	int r;

	*n = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT COUNT(*) FROM audit_operator", NULL,
				  0)) != 0)
		return r;
	*n = jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}

int jpki_audit_operator_add(struct jpki_store *st, const struct jpki_actor *by,
			    const char *operator_id, enum jpki_role role,
			    const char *municipality_code, const char *password)
{
	struct jpki_actor self = {0};
	struct jpki_rows *rows = NULL;
	const char *mun = municipality_code ? municipality_code : "";
	char *enc = NULL, detail[160];
	int64_t count;
	int r = JPKI_ERR_INTERNAL;

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = audit_operator_id_check(operator_id)) != 0)
		return r;
	if (!role_known(role))
		return jpki_err_set(JPKI_ERR_INVALID, "unknown role %d",
				    (int)role);
	if (role_is_local(role) && !audit_code_valid(mun))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%s belongs to one municipality: give its "
				    "six-digit code",
				    role_person(role));
	if (!role_is_local(role) && mun[0] != '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "%s works for every municipality: give no "
				    "municipality code",
				    role_person(role));
	if ((r = audit_password_check(password)) != 0)
		return r;
	if (by != NULL &&
	    (r = jpki_audit_authorize(by, JPKI_ROLE_CA_OFFICER, NULL)) != 0)
		return r;
	if (by == NULL && role != JPKI_ROLE_CA_OFFICER)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the first operator must be a CA officer "
				    "(who then adds the others)");
	if ((r = audit_migrate(st)) != 0)
		return r;
	/* Hash before the transaction: Argon2id takes a while, and the
	 * store's writers should not wait for it. */
	if ((r = audit_password_hash(&enc, password)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	if (by == NULL) {
		/* Bootstrap: only into an empty operator table, checked in
		 * the same transaction that adds the first one. */
		if ((r = count_operators(&count, st)) != 0)
			goto fail;
		if (count > 0) {
			r = jpki_err_set(JPKI_ERR_POLICY,
					 "operators exist already: a CA "
					 "officer must add new ones");
			goto fail;
		}
		snprintf(self.operator_id, sizeof(self.operator_id), "%s",
			 operator_id);
		self.role = role;
		by = &self;
	}
	{
		struct jpki_value p = JPKI_V_TEXT(operator_id);

		if ((r = jpki_store_query(&rows, st,
					  "SELECT 1 FROM audit_operator"
					  " WHERE id = $1",
					  &p, 1)) != 0)
			goto fail;
		if (jpki_rows_count(rows) > 0) {
			r = jpki_err_set(JPKI_ERR_EXISTS,
					 "operator '%s' exists already",
					 operator_id);
			goto fail;
		}
	}
	{
		struct jpki_value p[] = {JPKI_V_TEXT(operator_id),
					 JPKI_V_INT(role), JPKI_V_TEXT(mun),
					 JPKI_V_TEXT(enc),
					 JPKI_V_INT(jpki_clock_now())};

		if ((r = jpki_store_exec(st,
					 "INSERT INTO audit_operator (id, role,"
					 " municipality, password, created_at)"
					 " VALUES ($1, $2, $3, $4, $5)",
					 p, 5, NULL)) != 0)
			goto fail;
	}
	snprintf(detail, sizeof(detail),
		 "{\"role\":\"%s\",\"municipality\":\"%s\"%s}",
		 jpki_audit_role_name(role), mun,
		 by == &self ? ",\"bootstrap\":true" : "");
	if ((r = jpki_audit_append(st, by, "audit.operator-add", operator_id,
				   detail)) != 0)
		goto fail;
	r = jpki_store_commit(st);
	goto out;
fail:
	jpki_store_rollback(st);
out:
	jpki_rows_free(rows);
	if (enc != NULL) {
		jpki_wipe(enc, strlen(enc));
		free(enc);
	}
	return r;
}

/* Spends about the time a real check takes, so that an unknown name and a
 * wrong password cannot be told apart by the clock. */
static void burn_time(const char *password)
{
	unsigned char salt[SALT_LEN] = {0}, out[HASH_LEN];
	uint32_t t, m, p;

	argon2_cost(&t, &m, &p);
	(void)argon2id_hash_raw(t, m, p, password, strlen(password), salt,
				SALT_LEN, out, sizeof(out));
	jpki_wipe(out, sizeof(out));
}

static int token_hash(char out[65], const char *token)
{
	if (token == NULL || strlen(token) != 64 ||
	    strspn(token, "0123456789abcdef") != 64)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "unknown or expired session: log in again");
	return audit_sha256_hex(out, token, 64);
}

/* The limits with their defaults filled in. */
static struct jpki_audit_limits limits_of(const struct jpki_audit_login_opts *o)
{
	struct jpki_audit_limits l =
	    o ? o->limits : (struct jpki_audit_limits){0};

	if (l.account_free == 0)
		l.account_free = 5;
	if (l.account_lock == 0)
		l.account_lock = 20;
	if (l.address_free == 0)
		l.address_free = 10;
	if (l.max_delay == 0)
		l.max_delay = 3600;
	return l;
}

/* The wait after `failures`, when `free_failures` are free: 2^k seconds,
 * k = failures - free_failures, at most max_delay; 0 before that. */
static int64_t delay_after(int64_t failures, unsigned free_failures,
			   unsigned max_delay)
{
	int64_t k = failures - (int64_t)free_failures;

	if (k < 0)
		return 0;
	if (k >= 31 || ((int64_t)1 << k) > (int64_t)max_delay)
		return max_delay;
	return (int64_t)1 << k;
}

/* A client address as kept: printable, bounded; "" when none. */
static void client_of(char out[64], const struct jpki_audit_login_opts *o)
{
	const char *c = o && o->client ? o->client : "";

	if (strlen(c) >= 64 ||
	    strspn(c, "0123456789abcdefABCDEF.:") != strlen(c))
		c = "?";
	snprintf(out, 64, "%s", c);
}

int jpki_audit_login_gate(unsigned *retry_after, struct jpki_store *st,
			  const char *operator_id,
			  const struct jpki_audit_login_opts *opts)
{
	struct jpki_rows *rows = NULL;
	char client[64];
	time_t now = jpki_clock_now();
	int64_t wait = 0;
	int r = JPKI_ERR_INTERNAL;

	*retry_after = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	/* no migration here: a log-in is a hot path; each process migrates
	 * once at its start (jpki serve, each CLI verb) */
	client_of(client, opts);
	if (operator_id != NULL && audit_operator_id_check(operator_id) == 0) {
		struct jpki_value p = JPKI_V_TEXT(operator_id);

		if ((r = jpki_store_query(&rows, st,
					  "SELECT disabled, locked, wait_until"
					  " FROM audit_operator WHERE id = $1",
					  &p, 1)) != 0)
			return r;
		if (jpki_rows_count(rows) == 1) {
			if (jpki_rows_int(rows, 0, 0) != 0) {
				r = jpki_err_set(JPKI_ERR_STATE,
						 "operator %s is disabled",
						 operator_id);
				goto out;
			}
			if (jpki_rows_int(rows, 0, 1) != 0) {
				r = jpki_err_set(
				    JPKI_ERR_STATE,
				    "operator %s is locked after too many "
				    "failed log-ins: an administrator must "
				    "unlock it (jpki operator unlock %s)",
				    operator_id, operator_id);
				goto out;
			}
			wait = jpki_rows_int(rows, 0, 2) - now;
		}
		jpki_rows_free(rows);
		rows = NULL;
	}
	jpki_err_clear();
	if (client[0] != '\0') {
		struct jpki_value p = JPKI_V_TEXT(client);
		int64_t w;

		if ((r = jpki_store_query(&rows, st,
					  "SELECT wait_until FROM"
					  " audit_login_addr WHERE addr = $1",
					  &p, 1)) != 0)
			return r;
		if (jpki_rows_count(rows) == 1 &&
		    (w = jpki_rows_int(rows, 0, 0) - now) > wait)
			wait = w;
	}
	if (wait > 0) {
		*retry_after = (unsigned)wait;
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "too many failed log-ins: try again in %u "
				 "second%s",
				 *retry_after, *retry_after == 1 ? "" : "s");
		goto out;
	}
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}

/*
 * Inside the failure's transaction: one more failure for the operator (if
 * known) and for the address (if any), their waits, and the lock. Sets
 * *locked when this failure locked the operator; *failures to the
 * operator's count (0 when unknown).
 */
static int count_failure(int *locked, int64_t *failures, struct jpki_store *st,
			 const char *known_id, const char *client,
			 const struct jpki_audit_limits *l, time_t now)
{
	struct jpki_rows *rows = NULL;
	int r;

	*locked = 0;
	*failures = 0;
	if (known_id != NULL) {
		struct jpki_value p = JPKI_V_TEXT(known_id);

		if ((r = jpki_store_exec(st,
					 "UPDATE audit_operator SET failures ="
					 " failures + 1 WHERE id = $1",
					 &p, 1, NULL)) != 0 ||
		    (r = jpki_store_query(&rows, st,
					  "SELECT failures FROM audit_operator"
					  " WHERE id = $1",
					  &p, 1)) != 0)
			goto out;
		*failures = jpki_rows_int(rows, 0, 0);
		*locked = *failures >= (int64_t)l->account_lock;
		{
			int64_t d = delay_after(*failures, l->account_free,
						l->max_delay);
			/* No wait is 0, not "now": another process's clock
			 * (JPKI_NOW) may read a moment earlier. */
			struct jpki_value q[] = {
			    JPKI_V_INT(d > 0 ? now + d : 0),
			    JPKI_V_INT(*locked), JPKI_V_TEXT(known_id)};

			if ((r = jpki_store_exec(
				 st,
				 "UPDATE audit_operator SET wait_until = $1,"
				 " locked = $2 WHERE id = $3",
				 q, 3, NULL)) != 0)
				goto out;
		}
		jpki_rows_free(rows);
		rows = NULL;
	}
	if (client[0] != '\0') {
		struct jpki_value p = JPKI_V_TEXT(client);
		struct jpki_value old = JPKI_V_INT(now - 86400);
		int64_t n = 1;

		/* A quiet day forgets an address, which also bounds the
		 * table. */
		if ((r = jpki_store_exec(st,
					 "DELETE FROM audit_login_addr"
					 " WHERE last_at < $1",
					 &old, 1, NULL)) != 0 ||
		    (r = jpki_store_query(&rows, st,
					  "SELECT failures FROM"
					  " audit_login_addr WHERE addr = $1",
					  &p, 1)) != 0)
			goto out;
		if (jpki_rows_count(rows) == 1)
			n = jpki_rows_int(rows, 0, 0) + 1;
		{
			int64_t d =
			    delay_after(n, l->address_free, l->max_delay);
			struct jpki_value q[] = {
			    JPKI_V_TEXT(client), JPKI_V_INT(n),
			    JPKI_V_INT(d > 0 ? now + d : 0), JPKI_V_INT(now)};

			if ((r = jpki_store_exec(
				 st,
				 "INSERT INTO audit_login_addr (addr,"
				 " failures, wait_until, last_at) VALUES"
				 " ($1, $2, $3, $4) ON CONFLICT (addr) DO"
				 " UPDATE SET failures = excluded.failures,"
				 " wait_until = excluded.wait_until,"
				 " last_at = excluded.last_at",
				 q, 4, NULL)) != 0)
				goto out;
		}
	}
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}

int jpki_audit_login(char **token, struct jpki_store *st,
		     const char *operator_id, const char *password, long ttl)
{
	struct jpki_audit_login_opts o = JPKI_AUDIT_LOGIN_OPTS_INIT;
	unsigned retry_after;

	o.ttl = ttl;
	return jpki_audit_login_ex(token, &retry_after, st, operator_id,
				   password, &o);
}

int jpki_audit_login_ex(char **token, unsigned *retry_after,
			struct jpki_store *st, const char *operator_id,
			const char *password,
			const struct jpki_audit_login_opts *opts)
{
	struct jpki_audit_limits lim = limits_of(opts);
	struct jpki_rows *rows = NULL;
	struct jpki_actor who = {0};
	unsigned char raw[32];
	char *tok = NULL, th[65], subject[64], client[64], detail[160];
	time_t now = jpki_clock_now();
	long ttl = opts ? opts->ttl : 0;
	int64_t failures = 0;
	int known = 0, good = 0, locked = 0, r = JPKI_ERR_INTERNAL;

	*token = NULL;
	*retry_after = 0;
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if (opts != NULL && opts->version != JPKI_AUDIT_LOGIN_OPTS_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "log-in options of an unknown version");
	if (ttl < 0 || ttl > MAX_TTL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a session lasts at most %d seconds",
				    MAX_TTL);
	if (ttl == 0)
		ttl = DEFAULT_TTL;
	if (operator_id == NULL || password == NULL ||
	    strlen(password) > MAX_PASSWORD_BYTES)
		return jpki_err_set(JPKI_ERR_POLICY, WRONG_LOGIN);
	client_of(client, opts);
	/* Refusals first, without hashing: a guesser who must wait spends
	 * none of the server's time. */
	if ((r = jpki_audit_login_gate(retry_after, st, operator_id, opts)) !=
	    0)
		return r;
	if (audit_operator_id_check(operator_id) == 0) {
		struct jpki_value p = JPKI_V_TEXT(operator_id);

		if ((r = jpki_store_query(&rows, st,
					  "SELECT role, municipality, password"
					  " FROM audit_operator WHERE id = $1",
					  &p, 1)) != 0)
			return r;
		known = jpki_rows_count(rows) == 1;
	}
	jpki_err_clear();
	/* Argon2id outside any transaction: it is slow on purpose. */
	if (known) {
		const char *enc = jpki_rows_text(rows, 0, 2);
		int ar = enc != NULL
			     ? argon2id_verify(enc, password, strlen(password))
			     : ARGON2_DECODING_FAIL;

		good = ar == ARGON2_OK;
		if (ar != ARGON2_OK && ar != ARGON2_VERIFY_MISMATCH)
			jpki_log(JPKI_LOG_WARN,
				 "operator %s: the stored password hash "
				 "cannot be checked (%s)",
				 operator_id, argon2_error_message(ar));
		snprintf(who.operator_id, sizeof(who.operator_id), "%s",
			 operator_id);
		who.role = (enum jpki_role)jpki_rows_int(rows, 0, 0);
		snprintf(who.municipality_code, sizeof(who.municipality_code),
			 "%s", jpki_rows_text(rows, 0, 1));
	} else {
		burn_time(password);
		snprintf(who.operator_id, sizeof(who.operator_id), "-");
	}
	jpki_rows_free(rows);
	rows = NULL;
	if (good) {
		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			r = jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
			goto out;
		}
		if ((tok = jpki_hex(raw, sizeof(raw))) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		if ((r = audit_sha256_hex(th, tok, 64)) != 0)
			goto out;
	}
	/* A failed log-in is recorded too: repeated failures are what an
	 * auditor looks for. The name typed is kept only if it is one a
	 * person could have meant (printable, bounded). */
	snprintf(subject, sizeof(subject), "%s",
		 audit_operator_id_check(operator_id) == 0 ? operator_id : "?");
	jpki_err_clear();
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	if (good) {
		struct jpki_value p[] = {
		    JPKI_V_TEXT(th), JPKI_V_TEXT(operator_id), JPKI_V_INT(ttl),
		    JPKI_V_INT(now), JPKI_V_INT(now + ttl)};
		struct jpki_value q = JPKI_V_TEXT(operator_id);

		if ((r = jpki_store_exec(st,
					 "INSERT INTO audit_session"
					 " (token_hash, operator_id, ttl,"
					 " created_at, expires_at)"
					 " VALUES ($1, $2, $3, $4, $5)",
					 p, 5, NULL)) != 0 ||
		    (r = jpki_store_exec(st,
					 "UPDATE audit_operator SET failures ="
					 " 0, wait_until = 0 WHERE id = $1",
					 &q, 1, NULL)) != 0)
			goto fail;
	} else if ((r = count_failure(&locked, &failures, st,
				      known ? operator_id : NULL, client, &lim,
				      now)) != 0) {
		goto fail;
	}
	if (client[0] != '\0')
		snprintf(detail, sizeof(detail), "{\"client\":\"%s\"}", client);
	if ((r = jpki_audit_append(st, &who,
				   good ? "audit.login" : "audit.login-failed",
				   subject, client[0] ? detail : NULL)) != 0)
		goto fail;
	if (locked) {
		snprintf(detail, sizeof(detail), "{\"failures\":%lld}",
			 (long long)failures);
		if ((r = jpki_audit_append(st, &who, "audit.operator-locked",
					   subject, detail)) != 0)
			goto fail;
	}
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	if (locked)
		jpki_log(JPKI_LOG_WARN,
			 "operator %s is locked after %lld failed log-ins",
			 subject, (long long)failures);
	if (!good) {
		r = jpki_err_set(JPKI_ERR_POLICY, WRONG_LOGIN);
		goto out;
	}
	*token = tok;
	tok = NULL;
	r = 0;
	goto out;
fail:
	jpki_store_rollback(st);
out:
	jpki_wipe(raw, sizeof(raw));
	if (tok != NULL) {
		jpki_wipe(tok, strlen(tok));
		free(tok);
	}
	return r;
}

int jpki_audit_session(struct jpki_actor *out, struct jpki_store *st,
		       const char *token)
{
	struct jpki_rows *rows = NULL;
	char th[65];
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = token_hash(th, token)) != 0)
		return r;
	{
		struct jpki_value p = JPKI_V_TEXT(th);

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT o.id, o.role, o.municipality,"
			 " s.expires_at, s.ttl, o.office FROM audit_session s"
			 " JOIN audit_operator o ON o.id = s.operator_id"
			 " WHERE s.token_hash = $1 AND o.disabled = 0",
			 &p, 1)) != 0)
			return r;
	}
	if (jpki_rows_count(rows) != 1) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "unknown or expired session: log in again");
		goto out;
	}
	if (now >= (time_t)jpki_rows_int(rows, 0, 3)) {
		struct jpki_value p = JPKI_V_TEXT(th);

		/* Expired sessions are forgotten on sight; if that fails, the
		 * expiry still refuses them. */
		if (jpki_store_exec(st,
				    "DELETE FROM audit_session"
				    " WHERE token_hash = $1",
				    &p, 1, NULL) != 0)
			jpki_err_clear();
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the session has expired: log in again");
		goto out;
	}
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(now + jpki_rows_int(rows, 0, 4)),
		    JPKI_V_TEXT(th)};

		if ((r = jpki_store_exec(st,
					 "UPDATE audit_session SET"
					 " expires_at = $1"
					 " WHERE token_hash = $2",
					 p, 2, NULL)) != 0)
			goto out;
	}
	snprintf(out->operator_id, sizeof(out->operator_id), "%s",
		 jpki_rows_text(rows, 0, 0));
	out->role = (enum jpki_role)jpki_rows_int(rows, 0, 1);
	snprintf(out->municipality_code, sizeof(out->municipality_code), "%s",
		 jpki_rows_text(rows, 0, 2) ? jpki_rows_text(rows, 0, 2) : "");
	snprintf(out->office_code, sizeof(out->office_code), "%s",
		 jpki_rows_text(rows, 0, 5) ? jpki_rows_text(rows, 0, 5) : "");
	r = 0;
out:
	jpki_rows_free(rows);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int jpki_audit_logout(struct jpki_store *st, const char *token)
{
	struct jpki_rows *rows = NULL;
	struct jpki_actor who = {0};
	char th[65];
	int r = JPKI_ERR_INTERNAL;

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	/* Logging out of a session that is gone already has nothing to do. */
	if (token_hash(th, token) != 0) {
		jpki_err_clear();
		return 0;
	}
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	{
		struct jpki_value p = JPKI_V_TEXT(th);

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT o.id, o.role, o.municipality"
			 " FROM audit_session s"
			 " JOIN audit_operator o ON o.id = s.operator_id"
			 " WHERE s.token_hash = $1",
			 &p, 1)) != 0)
			goto fail;
		if (jpki_rows_count(rows) != 1) {
			jpki_store_rollback(st);
			r = 0;
			goto out;
		}
		if ((r = jpki_store_exec(st,
					 "DELETE FROM audit_session"
					 " WHERE token_hash = $1",
					 &p, 1, NULL)) != 0)
			goto fail;
	}
	snprintf(who.operator_id, sizeof(who.operator_id), "%s",
		 jpki_rows_text(rows, 0, 0));
	who.role = (enum jpki_role)jpki_rows_int(rows, 0, 1);
	snprintf(who.municipality_code, sizeof(who.municipality_code), "%s",
		 jpki_rows_text(rows, 0, 2) ? jpki_rows_text(rows, 0, 2) : "");
	if ((r = jpki_audit_append(st, &who, "audit.logout", who.operator_id,
				   NULL)) != 0)
		goto fail;
	r = jpki_store_commit(st);
	goto out;
fail:
	jpki_store_rollback(st);
out:
	jpki_rows_free(rows);
	return r;
}
