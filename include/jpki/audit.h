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
	JPKI_ROLE_WINDOW_CLERK = 2,   /* 窓口: applications, issue, PINs */
	JPKI_ROLE_CA_OFFICER = 3,     /* the CA's operator */
	JPKI_ROLE_AUDITOR = 4,        /* reads the chain, changes nothing */
};

/* "registry-clerk", "window-clerk", "ca-officer", "auditor". */
const char *jpki_audit_role_name(enum jpki_role role);
int jpki_audit_role_parse(enum jpki_role *out, const char *name) JPKI_MUST_CHECK;

/* Who is acting: every procedure of registry and window takes one. */
struct jpki_actor {
	char operator_id[64]; /* login name; "system" for the CA's consumer */
	enum jpki_role role;
	char municipality_code[8]; /* "" for the CA officer and auditor:
				      every municipality */
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

/* The outcome of walking the chain. */
struct jpki_audit_report {
	int ok;
	uint64_t entries;  /* entries checked */
	uint64_t bad_seq;  /* the first entry that does not hold (0 if ok) */
	char why[256];     /* "entry 17 was edited", "entry 9 is missing", ... */
};

/* Walks the whole chain. 0 with report->ok set or cleared; an error only
 * when the store cannot be read. */
int jpki_audit_verify(struct jpki_audit_report *report,
		      struct jpki_store *st) JPKI_MUST_CHECK;

#endif
