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

#endif
