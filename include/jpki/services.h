/*
 * services: the registry's services around the core (SPEC section 6,
 * docs/REGISTRY.md): identity information for agencies and its disclosure
 * to the resident, copies at any municipality, the simplified move, seal
 * registration. Built on the registry and the audit chain; each part owns
 * its tables under a migration track of its own ("services_<part>").
 */
#ifndef JPKI_SERVICES_H
#define JPKI_SERVICES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jpki/audit.h"
#include "jpki/base.h"
#include "jpki/registry.h"
#include "jpki/store.h"

/*
 * Creates the tables of every part (and the registry's and audit's).
 * Idempotent; run once at the start of a process (jpki serve with the
 * window role, each CLI verb): nothing below migrates.
 */
int jpki_services_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/* ---- identity information for agencies (本人確認情報の提供, agency.c) ----
 *
 * An agency is registered by a registry clerk with its name, the lawful
 * purposes it may ask for, and the client certificate of the
 * installation's infrastructure CA it calls with, pinned by the SHA-256
 * of its DER. A look-up names one purpose and either a resident code
 * (the registry's person id) or a name and date of birth, which must
 * match exactly one resident: none, or two and more, answer "not found"
 * (never a list). Every answer, every "not found" and every refusal is
 * recorded (a row of services_lookup and an entry on the audit chain,
 * "services.lookup" / "services.lookup.refused", actor "agency:NAME") in
 * the same transaction as the read.
 */
#define JPKI_SERVICES_PURPOSES_MAX 16
#define JPKI_SERVICES_PURPOSE_LEN 64

struct jpki_services_agency {
	char name[64];
	char fingerprint[65]; /* SHA-256 of the certificate's DER, hex */
	char subject[256];    /* the certificate's subject (RFC 2253) */
	char purposes[JPKI_SERVICES_PURPOSES_MAX][JPKI_SERVICES_PURPOSE_LEN];
	size_t n_purposes;
	time_t added_at;
};

/*
 * Registers an agency (a registry clerk; JPKI_ERR_POLICY for anyone
 * else): name 1-63 of [A-Za-z0-9._-], a PEM or DER certificate, 1 to
 * JPKI_SERVICES_PURPOSES_MAX purposes (1-63 of [a-z0-9._-]).
 * JPKI_ERR_EXISTS for a taken name or certificate. Audited
 * ("services.agency-add").
 */
int jpki_services_agency_add(struct jpki_store *st, const struct jpki_actor *by,
			     const char *name, const unsigned char *cert,
			     size_t cert_len, const char *const *purposes,
			     size_t n_purposes) JPKI_MUST_CHECK;
/* Removes one (a registry clerk; JPKI_ERR_NOT_FOUND); audited. Its past
 * look-ups stay (the resident's disclosure still lists them). */
int jpki_services_agency_remove(struct jpki_store *st,
				const struct jpki_actor *by,
				const char *name) JPKI_MUST_CHECK;
/* Every agency, by name; free(*out). */
int jpki_services_agency_list(struct jpki_services_agency **out, size_t *n,
			      struct jpki_store *st) JPKI_MUST_CHECK;
/* The agency whose certificate has this SHA-256 (hex); JPKI_ERR_NOT_FOUND. */
int jpki_services_agency_find(struct jpki_services_agency *out,
			      struct jpki_store *st,
			      const char *fingerprint) JPKI_MUST_CHECK;
/* The SHA-256 of a DER certificate as lowercase hex. */
int jpki_services_fingerprint(char out[65], const unsigned char *der,
			      size_t len) JPKI_MUST_CHECK;

/* One look-up request: a JSON object, one line of a batch. */
#define JPKI_SERVICES_LINE_MAX 2048
struct jpki_services_query {
	char id[64]; /* the caller's, echoed in the answer ("" none) */
	char purpose[JPKI_SERVICES_PURPOSE_LEN];
	char resident_code[64]; /* "" when by name and birth */
	char name[256];         /* normalized (jpki_profile_name_normalize) */
	struct jpki_date birth;
};
/*
 * Parses {"purpose":P, "resident_code":X} or {"purpose":P, "name":N,
 * "birth":"YYYY-MM-DD"}, with an optional "id": at most
 * JPKI_SERVICES_LINE_MAX bytes, unknown fields refused. JPKI_ERR_PARSE
 * with a sentence naming what is wrong.
 */
int jpki_services_query_parse(struct jpki_services_query *out, const char *text,
			      size_t len) JPKI_MUST_CHECK;

struct jpki_services_answer {
	int found; /* 0: "not found" (none, or more than one, matched) */
	struct jpki_resident resident;
	char change[64]; /* the latest change: "register", "move", ... */
	time_t change_at;
};

/*
 * One look-up by `agency` (found by its certificate): 0 with the answer
 * (found or not), or JPKI_ERR_POLICY for a purpose the agency is not
 * registered for; either way recorded before it returns.
 */
int jpki_services_lookup(struct jpki_services_answer *out,
			 struct jpki_store *st,
			 const struct jpki_services_agency *agency,
			 const struct jpki_services_query *q) JPKI_MUST_CHECK;
/*
 * n look-ups in one transaction (a batch's chunk): rcs[i] and out[i] as
 * jpki_services_lookup's for q[i]; returns 0 once all are durable, or an
 * error when the store failed (then nothing of the chunk was recorded and
 * nothing may be answered).
 */
int jpki_services_lookup_many(struct jpki_services_answer *out, int *rcs,
			      struct jpki_store *st,
			      const struct jpki_services_agency *agency,
			      const struct jpki_services_query *q,
			      size_t n) JPKI_MUST_CHECK;
/*
 * A call from a certificate that verified against the client CA but is no
 * registered agency's: recorded ("services.lookup.refused", actor
 * "agency:?", the subject and fingerprint as detail).
 */
int jpki_services_lookup_unknown(struct jpki_store *st, const char *subject,
				 const char *fingerprint) JPKI_MUST_CHECK;
/* The answer as the API gives it: {"id","result":"found"|"not found",
 * "resident_code","name","birth","sex","address","status","change":{
 * "kind","date"}}; free() the text. NULL on no memory. */
char *jpki_services_answer_json(const struct jpki_services_query *q,
				const struct jpki_services_answer *a);

/* ---- disclosure to the resident (提供状況の開示, disclosure.c) ---- */
struct jpki_services_disclosed {
	char agency[64];
	char purpose[JPKI_SERVICES_PURPOSE_LEN];
	time_t at;
};
/*
 * The look-ups answered about `person`, oldest first; free(*out). The read
 * is recorded ("services.disclosure", by `who`: "resident:PERSON" for the
 * resident's own log-in, or the window clerk, who must be of the
 * resident's municipality) in the same transaction.
 */
int jpki_services_disclosure(struct jpki_services_disclosed **out, size_t *n,
			     struct jpki_store *st,
			     const struct jpki_actor *who,
			     const char *person) JPKI_MUST_CHECK;
/* The list on paper: an A4 PDF into *pdf (free()). */
int jpki_services_disclosure_pdf(unsigned char **pdf, size_t *len,
				 const struct jpki_resident *r,
				 const struct jpki_services_disclosed *list,
				 size_t n) JPKI_MUST_CHECK;

#endif
