/*
 * A line of an agency's look-up (jpki_services_query_parse: POST
 * /api/services/lookup's body, a line of /api/services/batch) on arbitrary
 * bytes: refused with a sentence, or a query with a purpose and either a
 * resident code or a name and a real date of birth, never both, every
 * field NUL-terminated within its array.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jpki_services_query q;
	int r;

	jpki_err_set(0, "%s", "");
	r = jpki_services_query_parse(&q, (const char *)data, size);
	if (r != 0) {
		if (r > 0 || jpki_err_detail()[0] == '\0' ||
		    q.purpose[0] != '\0')
			abort();
		return 0;
	}
	if (strnlen(q.id, sizeof(q.id)) == sizeof(q.id) ||
	    strnlen(q.purpose, sizeof(q.purpose)) == sizeof(q.purpose) ||
	    strnlen(q.resident_code, sizeof(q.resident_code)) ==
		sizeof(q.resident_code) ||
	    strnlen(q.name, sizeof(q.name)) == sizeof(q.name) ||
	    q.purpose[0] == '\0')
		abort();
	if (q.resident_code[0] != '\0'
		? q.name[0] != '\0'
		: q.name[0] == '\0' || !jpki_date_valid(&q.birth))
		abort();
	return 0;
}
