/* Error codes and the per-thread detail message. */
#include <stdio.h>
#include <string.h>

#include "jpki/base.h"

static _Thread_local char detail[512];

const char *jpki_strerror(int err)
{
	switch (err) {
	case JPKI_OK:
		return "success";
	case JPKI_ERR_INTERNAL:
		return "internal error";
	case JPKI_ERR_NOMEM:
		return "out of memory";
	case JPKI_ERR_INVALID:
		return "invalid argument";
	case JPKI_ERR_PARSE:
		return "malformed input";
	case JPKI_ERR_NOT_FOUND:
		return "not found";
	case JPKI_ERR_EXISTS:
		return "already exists";
	case JPKI_ERR_STATE:
		return "not allowed in the current state";
	case JPKI_ERR_POLICY:
		return "refused by the service rules";
	case JPKI_ERR_IO:
		return "input/output error";
	case JPKI_ERR_STORE:
		return "database error";
	case JPKI_ERR_CRYPTO:
		return "cryptographic failure";
	case JPKI_ERR_TOO_LARGE:
		return "input too large";
	case JPKI_ERR_SIGNATURE:
		return "bad signature";
	case JPKI_ERR_CONFIG:
		return "configuration error";
	}
	return "unknown error";
}

int jpki_err_set(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return err;
}

const char *jpki_err_detail(void)
{
	return detail;
}

void jpki_err_clear(void)
{
	detail[0] = '\0';
}
