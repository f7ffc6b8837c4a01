/*
 * Built only by the layers/private_header_refused test, with the include
 * path of the ca module: another module's private header must not be found
 * there, whatever the layers check says.
 */
#include "ca/ca_internal.h"
#include "client/client_internal.h"
