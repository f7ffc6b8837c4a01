/*
 * registry: the resident register (住民基本台帳) as the service needs it —
 * each resident's municipality, 4 facts (氏名, 生年月日, 性別, 住所),
 * guardianship flag and status, and every change to them. Each change
 * writes, in the same transaction, an audit entry and a change event in an
 * outbox; the CA consumes the outbox (jpki_ca_apply_registry_events) and
 * revokes what no longer tells the truth, exactly once.
 */
#ifndef JPKI_REGISTRY_H
#define JPKI_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jpki/audit.h"
#include "jpki/base.h"
#include "jpki/profile.h"
#include "jpki/store.h"

enum jpki_resident_status {
	JPKI_RESIDENT_REGISTERED = 1,
	JPKI_RESIDENT_DEAD = 2,    /* 死亡 */
	JPKI_RESIDENT_REMOVED = 3, /* 消除 (left the register otherwise) */
};

struct jpki_resident {
	char person[64];           /* opaque id, "R" + 16 hex digits */
	char municipality_code[8]; /* 6 digits */
	char prefecture[64];       /* "東京都" */
	char municipality[64];     /* "千代田区" */
	struct jpki_facts facts;
	int guardianship; /* 成年被後見人 */
	enum jpki_resident_status status;
	time_t registered_at;
	time_t changed_at;
};

enum jpki_registry_event_kind {
	JPKI_EVENT_FACTS_CHANGED = 1, /* a 4-fact change: revoke signing,
					 affiliationChanged */
	JPKI_EVENT_DIED = 2,          /* revoke all, cessationOfOperation */
	JPKI_EVENT_REMOVED = 3,       /* revoke all, cessationOfOperation */
};

struct jpki_registry_event {
	int64_t seq; /* increasing, no gaps within one store */
	enum jpki_registry_event_kind kind;
	char person[64];
	char what[64]; /* "move", "name", "birth", "sex", "death", ... */
	time_t at;
};

/*
 * Creates the registry tables (and the audit tables). Idempotent. Run it
 * once at the start of a process (jpki serve, each CLI verb): nothing below
 * migrates, neither the changes (which the window's API calls per request)
 * nor the reads (get, find, events, which open no transaction, so they may
 * run inside the caller's).
 */
int jpki_registry_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/*
 * Registers a resident (a registry clerk of that municipality); the facts
 * are checked (jpki_profile_facts_check). *person (at least 64 bytes) gets
 * the new id.
 */
int jpki_registry_register(char person[64], struct jpki_store *st,
			   const struct jpki_actor *by,
			   const struct jpki_resident *r) JPKI_MUST_CHECK;

int jpki_registry_get(struct jpki_resident *out, struct jpki_store *st,
		      const char *person) JPKI_MUST_CHECK;

/*
 * A resident's record as an operator reads it: only a registry clerk or a
 * window clerk of the resident's municipality (JPKI_ERR_POLICY for anyone
 * else, the CA officer and the auditor included). Every read lands on the
 * audit chain ("registry.read"), and so does every refusal
 * ("registry.read.refused"); a read that cannot be recorded is not given.
 * jpki_registry_get() is the service's own unrecorded look-up (procedures
 * that check the actor themselves, the kiosk's resident).
 */
int jpki_registry_read(struct jpki_resident *out, struct jpki_store *st,
		       const struct jpki_actor *by,
		       const char *person) JPKI_MUST_CHECK;

/* The search of jpki_registry_find() as an operator does it: the same
 * clerks, the residents of their own municipality only, recorded
 * ("registry.search" with the count found). free(*out). */
int jpki_registry_search(struct jpki_resident **out, size_t *n,
			 struct jpki_store *st, const struct jpki_actor *by,
			 const char *name, size_t limit) JPKI_MUST_CHECK;

/* Residents of a municipality (NULL: all) whose name contains `name`
 * (NULL: any), at most `limit` (0: 100); free(*out). */
int jpki_registry_find(struct jpki_resident **out, size_t *n,
		       struct jpki_store *st, const char *municipality_code,
		       const char *name, size_t limit) JPKI_MUST_CHECK;

/*
 * The changes. Each is refused (JPKI_ERR_STATE) for a resident who is not
 * registered, refused (JPKI_ERR_POLICY) for a clerk of another municipality,
 * and otherwise changes the record, appends an audit entry and an event in
 * one transaction. A move to another municipality needs a clerk of the
 * municipality moved into (転入).
 */
int jpki_registry_move(struct jpki_store *st, const struct jpki_actor *by,
		       const char *person, const char *municipality_code,
		       const char *prefecture, const char *municipality,
		       const char *address) JPKI_MUST_CHECK;
/*
 * The move of the simplified procedure (転入転出の特例, the services
 * module): the same change as jpki_registry_move() (record, audit entry
 * "registry.move", the event the CA revokes the signing certificate on),
 * but made by a window clerk of the municipality moved into, and inside
 * the caller's transaction (jpki_store_begin ... commit), so the pending
 * move's completion lands with it or not at all.
 */
int jpki_registry_move_in_tx(struct jpki_store *st, const struct jpki_actor *by,
			     const char *person, const char *municipality_code,
			     const char *prefecture, const char *municipality,
			     const char *address) JPKI_MUST_CHECK;
int jpki_registry_change_name(struct jpki_store *st,
			      const struct jpki_actor *by, const char *person,
			      const char *name) JPKI_MUST_CHECK;
int jpki_registry_correct_birth(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *person,
				const struct jpki_date *birth) JPKI_MUST_CHECK;
int jpki_registry_correct_sex(struct jpki_store *st,
			      const struct jpki_actor *by, const char *person,
			      enum jpki_sex sex) JPKI_MUST_CHECK;
/* The guardianship flag: no event (the certificate's facts are unchanged). */
int jpki_registry_set_guardianship(struct jpki_store *st,
				   const struct jpki_actor *by,
				   const char *person, int on) JPKI_MUST_CHECK;
int jpki_registry_death(struct jpki_store *st, const struct jpki_actor *by,
			const char *person) JPKI_MUST_CHECK;
int jpki_registry_remove(struct jpki_store *st, const struct jpki_actor *by,
			 const char *person) JPKI_MUST_CHECK;

/* Events after `after_seq`, oldest first, at most `limit`; free(*out). */
int jpki_registry_events(struct jpki_registry_event **out, size_t *n,
			 struct jpki_store *st, int64_t after_seq,
			 size_t limit) JPKI_MUST_CHECK;

/* The newest event's seq (0 when there is none), by a plain read: lets a
 * consumer that is up to date find so without a write transaction. */
int jpki_registry_last_event(int64_t *seq,
			     struct jpki_store *st) JPKI_MUST_CHECK;

#endif
