/* What the files of the signed-application check share. */
#ifndef JPKI_VERIFY_INTERNAL_H
#define JPKI_VERIFY_INTERNAL_H

#include <openssl/x509.h>

#include "jpki/verify.h"

/* What the revocation step learned about one certificate. */
const char *verify_reason_name(int reason);

#endif
