/*
 * services: identity information for agencies (本人確認情報の提供).
 */
#include "services/services_internal.h"

/* No tables yet: the track is there for the part to grow. */
int services_agency_migrate(struct jpki_store *st)
{
	(void)st;
	return 0;
}
