/*
 * A line of `jpki ca issue-batch` (jpki_ca_request_line) on arbitrary
 * bytes: it is refused with a sentence, or gives a request the CA's own checks can take
 * (a type, a person, a municipality code, a date of birth, a CSR path),
 * with every string it borrows inside the parsed line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jpki_issue_request req;
	const char *csr = NULL;
	json_error_t err;
	json_t *line = json_loadb((const char *)data, size,
				  JSON_REJECT_DUPLICATES, &err);
	int r;

	if (line == NULL)
		return 0;
	jpki_err_set(0, "%s", "");
	r = jpki_ca_request_line(&req, &csr, line);
	if (r != 0) {
		if (r > 0 || jpki_err_detail()[0] == '\0')
			abort();
	} else {
		if ((req.type != JPKI_CERT_SIGN && req.type != JPKI_CERT_AUTH) ||
		    req.person == NULL || req.municipality_code == NULL ||
		    csr == NULL || !jpki_date_valid(&req.facts.birth) ||
		    strlen(req.facts.name) >= sizeof(req.facts.name) ||
		    strlen(req.facts.address) >= sizeof(req.facts.address))
			abort();
		/* the borrowed strings are read, under the sanitizer,
		 * before the line that owns them is freed */
		volatile size_t read = strlen(req.person) +
				       strlen(req.municipality_code) +
				       strlen(csr);
		(void)read;
	}
	json_decref(line);
	return 0;
}
