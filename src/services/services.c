/*
 * The services module's one entry for migrations: the registry's tables
 * (with the audit chain's) first, then each part's track.
 */
#include "jpki/services.h"
#include "services/services_internal.h"

int jpki_services_migrate(struct jpki_store *st)
{
	int r;

	if (st == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no store");
	if ((r = jpki_registry_migrate(st)) != 0 ||
	    (r = services_agency_migrate(st)) != 0 ||
	    (r = services_move_migrate(st)) != 0 ||
	    (r = services_seal_migrate(st)) != 0)
		return r;
	return 0;
}
