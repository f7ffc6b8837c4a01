/*
 * services: copies of the residence certificate at any municipality
 * (広域交付).
 *
 * A clerk of municipality A may not read B's residents (the registry's
 * read refuses it); this procedure is the one narrow door: the resident
 * code and a photo ID whose address is the registered one give the record
 * the copy prints, and nothing else (no list, no search). The issue lands
 * on both municipalities' chains in one transaction, so neither audit view
 * can miss a copy the other made.
 */
#include <stdio.h>
#include <string.h>

#include "services/services_internal.h"

/* The same address, ignoring ASCII and ideographic (U+3000) spaces: the
 * comparison the window makes of a photo ID's address. */
static int same_address(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t' ||
		       (a[0] == '\xE3' && a[1] == '\x80' && a[2] == '\x80'))
			a += *a == '\xE3' ? 3 : 1;
		while (*b == ' ' || *b == '\t' ||
		       (b[0] == '\xE3' && b[1] == '\x80' && b[2] == '\x80'))
			b += *b == '\xE3' ? 3 : 1;
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return 1;
		a++;
		b++;
	}
}

/* A refusal on the issuing clerk's chain, keeping the refusal's sentence. */
static int refuse(struct jpki_store *st, const struct jpki_actor *by,
		  const char *person, int r)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if (by != NULL && by->operator_id[0] != '\0' &&
	    jpki_audit_record(st, by, "services.copy.refused", person, NULL) !=
		0)
		jpki_log(JPKI_LOG_ERROR,
			 "services: a refused copy not recorded: %s",
			 jpki_err_detail());
	return jpki_err_set(r, "%s", why);
}

int jpki_services_copy_any(struct jpki_resident *out, struct jpki_store *st,
			   const struct jpki_actor *by, const char *person,
			   const char *photo_id_address, const char *number)
{
	struct jpki_resident res;
	struct jpki_actor sys;
	char detail[192];
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (st == NULL || person == NULL || number == NULL ||
	    number[0] == '\0' || strlen(number) >= 64)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a copy needs a store, the resident code "
				    "and the copy's number");
	/* Any municipality's window clerk; the municipality is the clerk's
	 * own (NULL: bound to no resident yet). */
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK, NULL)) != 0)
		return refuse(st, by, person, r);
	if (by->municipality_code[0] == '\0')
		return refuse(st, by, person,
			      jpki_err_set(JPKI_ERR_POLICY,
					   "a copy is issued by a clerk of a "
					   "municipality"));
	/* Unknown resident, wrong address and a resident not registered all
	 * read alike to the clerk: the procedure is no way to probe who
	 * lives where. */
	if (jpki_registry_get(&res, st, person) != 0 ||
	    photo_id_address == NULL ||
	    !same_address(photo_id_address, res.facts.address))
		return refuse(st, by, person,
			      jpki_err_set(JPKI_ERR_POLICY,
					   "no copy: the resident code and "
					   "the photo ID's address do not "
					   "match a registered resident"));
	if (res.status != JPKI_RESIDENT_REGISTERED)
		return refuse(st, by, person,
			      jpki_err_set(JPKI_ERR_STATE,
					   "no copy: the resident is no "
					   "longer registered"));
	snprintf(detail, sizeof(detail),
		 "{\"number\":\"%s\",\"issued_by\":\"%.6s\","
		 "\"resident_of\":\"%s\"}",
		 number, by->municipality_code, res.municipality_code);
	memset(&sys, 0, sizeof(sys));
	snprintf(sys.operator_id, sizeof(sys.operator_id), "system");
	sys.role = JPKI_ROLE_REGISTRY_CLERK;
	snprintf(sys.municipality_code, sizeof(sys.municipality_code), "%s",
		 res.municipality_code);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_audit_append(st, by, "services.copy.issue", res.person,
				   detail)) != 0 ||
	    (r = jpki_audit_append(st, &sys, "services.copy.notice", res.person,
				   detail)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	*out = res;
	return 0;
}
