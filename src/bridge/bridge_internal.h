/* What the bridge's files share and nobody else sees. */
#ifndef JPKI_BRIDGE_INTERNAL_H
#define JPKI_BRIDGE_INTERNAL_H

#include <jansson.h>

#include "jpki/bridge.h"

/* The reply objects of the protocol, serialised; NULL out of memory or
 * when the reply would exceed JPKI_BRIDGE_REPLY_MAX. `result` is stolen. */
char *bridge_reply_ok(const char *id, json_t *result);
char *bridge_reply_error(const char *id, const char *code,
			 const char *message);

/* The card operations (ops.c): *result (caller frees) on success; on
 * failure *code gets the protocol's word and the detail the sentence. */
int bridge_op(json_t **result, const char **code,
	      const struct jpki_bridge_options *opt,
	      const struct jpki_bridge_request *req);

#endif
