/*
 * The card-file parser, jpki_card_parse(), on arbitrary bytes: the file a
 * virtual card is kept in is outside bytes too (a copied, damaged or
 * hand-made file).
 *
 * Each input is parsed twice: as it is, and with a digest record (FF 00 20
 * and the SHA-256 of the input) appended, so that inputs get past the
 * digest check, which a fuzzer could not satisfy by mutation, and reach the
 * checks on a file that is whole. A card that parses must have PIN counters
 * within their maximum and answer a few ordinary commands with a
 * well-formed response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jpki/card.h"

/* What a service would send to a card it has not seen before. */
static const struct {
	uint8_t len;
	uint8_t apdu[16];
} probes[] = {
	{15, {0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01,
	      0x00, 0x00, 0x00, 0x01}},
	{7, {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A}},
	{5, {0x00, 0xB0, 0x00, 0x00, 0x00}},
	{7, {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06}},
	{5, {0x00, 0xB0, 0x00, 0x00, 0x00}},
	{7, {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01}},
	{5, {0x00, 0xB0, 0x00, 0x00, 0x00}},
	{7, {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18}},
	{4, {0x00, 0x20, 0x00, 0x80}},
	{7, {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1B}},
	{4, {0x00, 0x20, 0x00, 0x80}},
	{7, {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1A}},
	{8, {0x80, 0x2A, 0x00, 0x80, 0x02, 0x01, 0x02, 0x00}},
};

static void check(struct jpki_card *card)
{
	struct jpki_card_info info;
	uint8_t resp[JPKI_CARD_MAX_RESPONSE];

	jpki_card_info(card, &info);
	if (info.kind != JPKI_CARD_MYNUMBER && info.kind != JPKI_CARD_JUKI)
		abort();
	for (int i = 0; i < 2; i++)
		if (info.tries[i] > info.max_tries[i])
			abort();
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		size_t len = 0;

		if (jpki_card_process(card, probes[i].apdu, probes[i].len, resp,
				      &len) != 0 ||
		    len < 2 || len > sizeof(resp))
			abort();
	}
}

static void parse(const uint8_t *data, size_t size)
{
	struct jpki_card *card = NULL;

	if (jpki_card_parse(&card, data, size) == 0) {
		if (card == NULL)
			abort();
		check(card);
	} else if (card != NULL) {
		abort();
	}
	jpki_card_free(card);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *whole = malloc(size + 3 + 32);
	unsigned int n = 0;

	parse(data, size);
	if (whole == NULL)
		abort();
	if (size > 0)
		memcpy(whole, data, size);
	memcpy(whole + size, "\xFF\x00\x20", 3);
	if (!EVP_Digest(data, size, whole + size + 3, &n, EVP_sha256(), NULL) ||
	    n != 32)
		abort();
	parse(whole, size + 3 + 32);
	free(whole);
	return 0;
}
