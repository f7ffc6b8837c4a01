/* PKCS#10 intake: jpki_ca_csr_parse on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "jpki/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *key = NULL;

	if (jpki_ca_csr_parse(&key, data, size) == 0) {
		/* what it accepts is an RSA-2048 key, nothing else */
		if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
		    EVP_PKEY_get_bits(key) != 2048)
			abort();
	} else if (key != NULL) {
		abort();
	}
	EVP_PKEY_free(key);
	return 0;
}
