/*
 * The records' strict JSON decoders (codec) on arbitrary bytes, as the API
 * hands them a request body: each either decodes or refuses with
 * JPKI_ERR_INVALID naming a field; what decodes holds terminated strings
 * that fit their fields and words of their enumerations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in =
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct jpki_resident r;
	struct jpki_application_request a;
	struct jpki_codec_report rep;
	int e;

	if (in == NULL)
		return 0;
	e = jpki_codec_resident_decode(&r, in);
	if (e != 0 && e != JPKI_ERR_INVALID)
		abort();
	if (e == 0 &&
	    (memchr(r.prefecture, '\0', sizeof(r.prefecture)) == NULL ||
	     memchr(r.facts.name, '\0', sizeof(r.facts.name)) == NULL ||
	     jpki_codec_word(jpki_codec_sex_words, (int)r.facts.sex)[0] ==
		 '\0' ||
	     jpki_text_check(r.facts.name, "name") != 0))
		abort();
	e = jpki_codec_application_decode(&a, in);
	if (e != 0 && e != JPKI_ERR_INVALID)
		abort();
	if (e == 0 &&
	    (a.person == NULL ||
	     jpki_codec_word(jpki_codec_path_words, (int)a.path)[0] == '\0'))
		abort();
	e = jpki_codec_report_decode(&rep, in);
	if (e != 0 && e != JPKI_ERR_INVALID)
		abort();
	if (e == 0 &&
	    jpki_codec_word(jpki_codec_report_words, (int)rep.kind)[0] == '\0')
		abort();
	if (e != 0 && strlen(jpki_codec_field()) >= 64)
		abort();
	json_decref(in);
	return 0;
}
