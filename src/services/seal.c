/*
 * services: seal registration (印鑑登録) and its certificate.
 */
#include "services/services_internal.h"

/* No tables yet: the track is there for the part to grow. */
int services_seal_migrate(struct jpki_store *st)
{
	(void)st;
	return 0;
}
