/*
 * audit: who may act, and the record of what they did.
 *
 * Operators (registry clerk, window clerk, CA officer, auditor) each bound
 * to one municipality, with passwords kept as Argon2id hashes and sessions
 * that expire. Every operator action and every state change is appended to
 * a hash chain in the same transaction as the change, so that an edited,
 * deleted, inserted or reordered entry is found by jpki_audit_verify().
 */
#ifndef JPKI_AUDIT_H
#define JPKI_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jpki/base.h"
#include "jpki/store.h"

enum jpki_role {
	JPKI_ROLE_REGISTRY_CLERK = 1, /* 住民基本台帳の事務: registry changes */
	JPKI_ROLE_WINDOW_CLERK = 2, /* 窓口: applications, issue, PINs */
	JPKI_ROLE_CA_OFFICER = 3,   /* the CA's operator */
	JPKI_ROLE_AUDITOR = 4,      /* reads the chain, changes nothing */
};

/* "registry-clerk", "window-clerk", "ca-officer", "auditor". */
const char *jpki_audit_role_name(enum jpki_role role);
int jpki_audit_role_parse(enum jpki_role *out,
			  const char *name) JPKI_MUST_CHECK;

/* Who is acting: every procedure of registry and window takes one. */
struct jpki_actor {
	char operator_id[64]; /* login name; "system" for the CA's consumer */
	enum jpki_role role;
	char municipality_code[8]; /* "" for the CA officer and auditor:
				      every municipality */
	char office_code[16]; /* the window office (支所・出張所) a clerk
				 works at; "": the municipality's main
				 office (the window module resolves it) */
};

/* Creates the audit tables (migrations). Idempotent. */
int jpki_audit_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/*
 * Adds an operator with a password (hashed with Argon2id; at least 10
 * characters). JPKI_ERR_EXISTS for a taken name. Appends to the chain.
 *
 * `by` must be a CA officer (who administers the operators). Bootstrap: `by`
 * NULL is allowed only while there are no operators at all, and then only
 * for a CA officer (municipality ""), who adds everyone else.
 * Clerks need a six-digit municipality code; the CA officer and the auditor
 * take "" (or NULL). Operator names are 1-63 of [A-Za-z0-9._-@]; "system"
 * is reserved for the service itself.
 *
 * Argon2id cost: m = 64 MiB, t = 3, p = 1. JPKI_ARGON2_TEST=1 in the
 * environment lowers new hashes to m = 1 MiB, t = 1 for unit tests (logged
 * as a warning; never on a server). The cost is recorded in each hash.
 */
int jpki_audit_operator_add(struct jpki_store *st, const struct jpki_actor *by,
			    const char *operator_id, enum jpki_role role,
			    const char *municipality_code,
			    const char *password) JPKI_MUST_CHECK;

/*
 * Checks a password and opens a session: *token (caller frees) is 32 random
 * bytes in hex; the session expires `ttl` seconds after its last use
 * (0 = 1800, at most 43200). JPKI_ERR_POLICY "wrong operator or password"
 * for either mistake, alike (an unknown name spends the same Argon2id time).
 * Both outcomes are appended to the chain ("audit.login",
 * "audit.login-failed"). The store keeps only SHA-256 of the token.
 * Called per request (the window's log-in), so it does not migrate: run
 * jpki_audit_migrate() once first.
 */
int jpki_audit_login(char **token, struct jpki_store *st,
		     const char *operator_id, const char *password,
		     long ttl) JPKI_MUST_CHECK;

/*
 * Log-in limits. Per operator (durable, in audit_operator): after
 * `account_free` consecutive failures each further attempt must wait
 * 2^k seconds (k = failures - account_free, at most `max_delay`), and
 * `account_lock` failures lock the operator until an administrator lifts
 * it (jpki_audit_operator_unlock). Per client address (durable, in
 * audit_login_addr, forgotten after a quiet day): the same growing delay
 * after `address_free` failures, no lock (an office shares an address).
 * A refused attempt spends no Argon2id time. 0 in a field: its default.
 */
struct jpki_audit_limits {
	unsigned account_free; /* 0 = 5 */
	unsigned account_lock; /* 0 = 20 */
	unsigned address_free; /* 0 = 10 */
	unsigned max_delay;    /* seconds; 0 = 3600 */
};

/* A log-in as the HTTP server makes it. */
struct jpki_audit_login_opts {
	int version;        /* JPKI_AUDIT_LOGIN_OPTS_VERSION */
	long ttl;           /* as for jpki_audit_login */
	const char *client; /* the client's address ("192.0.2.1"), recorded
			       and limited; NULL: none (the CLI) */
	struct jpki_audit_limits limits;
};
#define JPKI_AUDIT_LOGIN_OPTS_VERSION 1
#define JPKI_AUDIT_LOGIN_OPTS_INIT                                             \
	{                                                                      \
		.version = JPKI_AUDIT_LOGIN_OPTS_VERSION                       \
	}

/*
 * jpki_audit_login with limits: besides its outcomes, JPKI_ERR_POLICY
 * with *retry_after > 0 (seconds) when the operator or the address must
 * wait, and JPKI_ERR_STATE when the operator is locked or disabled; both
 * without hashing. *retry_after is 0 in every other case. A failure is
 * recorded with the client address ("audit.login-failed"), a lock as
 * "audit.operator-locked". jpki_audit_login is this with no client.
 */
int jpki_audit_login_ex(
    char **token, unsigned *retry_after, struct jpki_store *st,
    const char *operator_id, const char *password,
    const struct jpki_audit_login_opts *opts) JPKI_MUST_CHECK;

/*
 * The same refusals as jpki_audit_login_ex, decided without hashing and
 * without writing: 0 when an attempt may go on. The HTTP server asks
 * first, so that a refused attempt takes no place in the hashing queue.
 */
int jpki_audit_login_gate(
    unsigned *retry_after, struct jpki_store *st, const char *operator_id,
    const struct jpki_audit_login_opts *opts) JPKI_MUST_CHECK;

/*
 * Operator management; `by` must be a CA officer (a password change also
 * by the operator themself). Each is one transaction with its entry on
 * the chain: "audit.operator-disable", "audit.operator-enable" (disabling
 * ends the operator's sessions and refuses log-ins; a CA officer cannot
 * disable themself), "audit.operator-unlock" (clears failures, delay and
 * lock), "audit.operator-password" (ends the operator's sessions; the
 * rules of jpki_audit_operator_add), "audit.sessions-end" (*ended, if not
 * NULL, gets how many). JPKI_ERR_NOT_FOUND for an unknown operator.
 */
int jpki_audit_operator_disable(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *operator_id,
				int disabled) JPKI_MUST_CHECK;
int jpki_audit_operator_unlock(struct jpki_store *st,
			       const struct jpki_actor *by,
			       const char *operator_id) JPKI_MUST_CHECK;
/*
 * The office an operator works at (a CA officer's change, "audit.operator-
 * office" on the chain; "" or NULL: the municipality's main office, which
 * is also where every operator added before offices existed works). The
 * audit module keeps the code only: whether the office exists and belongs
 * to the operator's municipality is the window module's to check
 * (jpki_window_office_get) before this is called. Ends the operator's
 * sessions, so a session never carries an office it no longer has.
 */
int jpki_audit_operator_set_office(struct jpki_store *st,
				   const struct jpki_actor *by,
				   const char *operator_id,
				   const char *office_code) JPKI_MUST_CHECK;
int jpki_audit_operator_password(struct jpki_store *st,
				 const struct jpki_actor *by,
				 const char *operator_id,
				 const char *password) JPKI_MUST_CHECK;
int jpki_audit_sessions_end(size_t *ended, struct jpki_store *st,
			    const struct jpki_actor *by,
			    const char *operator_id) JPKI_MUST_CHECK;

/* One live session as listed; `id` is the first 12 hex digits of the
 * token's SHA-256 (names it, opens nothing). */
struct jpki_audit_session_info {
	char id[13];
	char operator_id[64];
	time_t created_at;
	time_t expires_at;
};

/*
 * The live sessions, of `operator_id` (NULL: of everyone), oldest first,
 * for a CA officer or an auditor. Caller frees *out with free().
 */
int jpki_audit_sessions(struct jpki_audit_session_info **out, size_t *n,
			struct jpki_store *st, const struct jpki_actor *by,
			const char *operator_id) JPKI_MUST_CHECK;

/* One entry of the chain as shown; strings borrowed for the callback. */
struct jpki_audit_entry {
	int64_t seq;
	time_t at;
	const char *operator_id;
	enum jpki_role role;
	const char *municipality;
	const char *action;
	const char *subject;
	const char *detail; /* JSON object text or NULL */
	const char *hash;
};

/* Which entries to show; NULL or 0 fields do not filter. */
struct jpki_audit_filter {
	const char *operator_id;
	const char *municipality;
	const char *action; /* exact, or a prefix when it ends in '*' */
	time_t since;       /* at >= since */
	time_t until;       /* at <= until */
	size_t limit;       /* 0: no limit */
};

/*
 * Hands the matching entries to `fn` in chain order (a non-zero return
 * stops and is returned). Only an auditor reads the chain: JPKI_ERR_POLICY
 * for any other role. The reading itself is appended first ("audit.show",
 * the filter as detail), so who read what is on the chain too.
 */
typedef int (*jpki_audit_entry_fn)(void *ctx, const struct jpki_audit_entry *e);
int jpki_audit_show(struct jpki_store *st, const struct jpki_actor *by,
		    const struct jpki_audit_filter *filter,
		    jpki_audit_entry_fn fn, void *ctx) JPKI_MUST_CHECK;

/* The actor behind a live session (refreshing it); JPKI_ERR_POLICY when
 * unknown or expired. Needs jpki_audit_migrate() run once first (it is
 * called per request, so it does not migrate itself; nor does logout).
 * Logout of a session
 * that is unknown or gone returns 0; a real one appends "audit.logout". */
int jpki_audit_session(struct jpki_actor *out, struct jpki_store *st,
		       const char *token) JPKI_MUST_CHECK;
int jpki_audit_logout(struct jpki_store *st, const char *token) JPKI_MUST_CHECK;

/*
 * Whether `actor` may act on a resident of `municipality_code` in `role`:
 * 0, or JPKI_ERR_POLICY with a sentence ("a window clerk of 131016 cannot
 * act on a resident of 271004"). The actor's role must be `role` itself
 * (nobody does another role's work; the auditor is authorised only as
 * auditor, i.e. for reading). A clerk must carry a municipality and it must
 * be `municipality_code`; "" (CA officer, auditor) means every one.
 * `municipality_code` NULL: an action bound to no resident (role check only).
 */
int jpki_audit_authorize(const struct jpki_actor *actor, enum jpki_role role,
			 const char *municipality_code) JPKI_MUST_CHECK;

/*
 * Whether `actor` may read the data of a resident of `municipality_code`
 * (NULL: of the actor's own municipality, a listing) as one of the roles
 * in `readers` (a bit per role: 1u << JPKI_ROLE_...). 0, or JPKI_ERR_POLICY
 * with a sentence. Reads are bound like changes: a clerk reads only the
 * residents of the clerk's own municipality; a role outside `readers` reads
 * nothing, whatever its municipality.
 */
int jpki_audit_authorize_read(const struct jpki_actor *actor, unsigned readers,
			      const char *municipality_code) JPKI_MUST_CHECK;
#define JPKI_AUDIT_ROLE_BIT(role) (1u << (unsigned)(role))

/*
 * A read (or its refusal) on the chain: one entry in a transaction of its
 * own, because a read changes nothing else to land with. Same arguments as
 * jpki_audit_append().
 */
int jpki_audit_record(struct jpki_store *st, const struct jpki_actor *actor,
		      const char *action, const char *subject,
		      const char *detail) JPKI_MUST_CHECK;

/*
 * Appends one entry to the chain. Must be called inside the caller's
 * transaction (jpki_store_begin ... commit), so the entry and the change it
 * records land together or not at all. `action` is a short verb
 * ("registry.move", "window.issue", "ca.revoke"), `subject` what it acted on
 * (a person id, a serial), `detail` a JSON object text (may be NULL).
 * Entry i stores hash_i = SHA-256(hash_{i-1} || canonical bytes of entry i).
 */
int jpki_audit_append(struct jpki_store *st, const struct jpki_actor *actor,
		      const char *action, const char *subject,
		      const char *detail) JPKI_MUST_CHECK;

/*
 * Many entries in one transaction (a batch of look-ups): the chain's head
 * is read once at open, each add hashes its entry from the one before and
 * writes entries in multi-row INSERTs, finish writes what waits and the
 * head. The entries and their hashes are those of as many
 * jpki_audit_append() calls. Open, add and finish inside the caller's
 * transaction, appending nothing else to the chain in between; after an
 * error, roll the transaction back. Free always (also after finish).
 */
struct jpki_audit_appender;
int jpki_audit_appender_open(struct jpki_audit_appender **out,
			     struct jpki_store *st) JPKI_MUST_CHECK;
int jpki_audit_appender_add(struct jpki_audit_appender *ap,
			    const struct jpki_actor *actor, const char *action,
			    const char *subject,
			    const char *detail) JPKI_MUST_CHECK;
/* The sequence number of the entry added last (0: none yet in the chain). */
int64_t jpki_audit_appender_seq(const struct jpki_audit_appender *ap);
int jpki_audit_appender_finish(struct jpki_audit_appender *ap) JPKI_MUST_CHECK;
void jpki_audit_appender_free(struct jpki_audit_appender *ap);

/* The outcome of walking the chain. */
struct jpki_audit_report {
	int ok;
	uint64_t entries; /* entries checked */
	uint64_t bad_seq; /* the first entry that does not hold (0 if ok) */
	char why[256];    /* "entry 17 was edited", "entry 9 is missing", ... */
};

/* Walks the whole chain. 0 with report->ok set or cleared; an error only
 * when the store cannot be read. */
int jpki_audit_verify(struct jpki_audit_report *report,
		      struct jpki_store *st) JPKI_MUST_CHECK;

#endif
