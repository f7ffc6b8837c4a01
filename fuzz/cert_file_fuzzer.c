/*
 * A certificate file as `jpki cert show FILE` reads it:
 * jpki_client_cert_parse, then jpki_client_cert_summarize on what it
 * accepts, on arbitrary bytes (PEM or DER). A refusal leaves no
 * certificate; every string of the summary is terminated within its
 * field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/client.h"

static void terminated(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jpki_client_cert_summary s;
	X509 *cert = NULL;

	if (jpki_client_cert_parse(&cert, data, size) != 0) {
		if (cert != NULL)
			abort();
		return 0;
	}
	if (cert == NULL)
		abort();
	if (jpki_client_cert_summarize(&s, cert) == 0) {
		terminated(s.subject, sizeof(s.subject));
		terminated(s.issuer, sizeof(s.issuer));
		terminated(s.alt_name, sizeof(s.alt_name));
		terminated(s.crl_dp, sizeof(s.crl_dp));
		terminated(s.serial, sizeof(s.serial));
		terminated(s.key, sizeof(s.key));
		terminated(s.key_id, sizeof(s.key_id));
		terminated(s.authority_key_id, sizeof(s.authority_key_id));
		terminated(s.key_usage, sizeof(s.key_usage));
		if (s.path_len < -1)
			abort();
	}
	X509_free(cert);
	return 0;
}
