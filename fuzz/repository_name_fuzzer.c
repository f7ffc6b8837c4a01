/*
 * The repository's names on arbitrary bytes: what follows /ca/ and /crl/
 * in a URL (jpki_ca_published_get, jpki_ca_crl_get and
 * jpki_ca_crl_delta_get), against a CA that has
 * rolled over once, so that generation numbers and link names reach the
 * store. Every input is found, with DER that parses, or refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ca.h"
#include "jpki/audit.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct jpki_actor officer = {"officer",
						  JPKI_ROLE_CA_OFFICER, "", ""};
	unsigned char *der = NULL;
	size_t len;

	fuzz_ca_setup("http://127.0.0.1:1", NULL);
	if (jpki_audit_migrate(fuzz_st) != 0 ||
	    jpki_ca_rollover(fuzz_ca, &officer, JPKI_CERT_SIGN, NULL) != 0)
		fuzz_die("rollover");
	/* the target reaches both kinds of answer */
	if (jpki_ca_published_get(&der, &len, fuzz_ca, "sign-link-1-2") != 0)
		fuzz_die("self-check link");
	free(der);
	if (jpki_ca_crl_get(&der, &len, fuzz_ca, "sign-2") != 0)
		fuzz_die("self-check CRL");
	free(der);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[64];
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;

	/* the HTTP layer hands over at most a path segment, NUL-ended */
	if (size >= sizeof(name))
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (jpki_ca_published_get(&der, &len, fuzz_ca, name) == 0) {
		X509 *x;

		p = der;
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
			abort();
		X509_free(x);
		free(der);
	}
	der = NULL;
	if (jpki_ca_crl_get(&der, &len, fuzz_ca, name) == 0) {
		X509_CRL *crl;

		p = der;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
			abort();
		X509_CRL_free(crl);
		free(der);
	}
	/* a scope's delta CRL (/crl/<scope>.delta.crl): the same names */
	der = NULL;
	if (jpki_ca_crl_delta_get(&der, &len, fuzz_ca, name) == 0) {
		X509_CRL *crl;

		p = der;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
			abort();
		X509_CRL_free(crl);
		free(der);
	}
	return 0;
}
