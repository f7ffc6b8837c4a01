/* services: what the module's files share. */
#ifndef JPKI_SERVICES_INTERNAL_H
#define JPKI_SERVICES_INTERNAL_H

#include "jpki/services.h"

/* Each part's migrations, on a track of its own, so that the parts grow
 * their tables independently; jpki_services_migrate() runs them all. */
int services_agency_migrate(struct jpki_store *st) JPKI_MUST_CHECK;
int services_move_migrate(struct jpki_store *st) JPKI_MUST_CHECK;
int services_seal_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/* The look-ups' journal into services_lookup, inside the caller's
 * transaction (the disclosure reads after it); *moved rows. */
int services_lookup_fold_tx(int64_t *moved,
			    struct jpki_store *st) JPKI_MUST_CHECK;

#endif
