/*
 * The JPKI AP as the host speaks to it (SPEC section 5): SELECT of the
 * application and of its files, READ BINARY of a whole DER file. The window
 * and the resident's client both send these; nothing else builds them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/reader.h"

int jpki_reader_command(struct jpki_reader *rd, const uint8_t *apdu, size_t len,
			uint8_t *resp, size_t *resp_len, const char *what)
{
	uint8_t dummy[JPKI_READER_MAX_RESPONSE];
	size_t dummy_len = sizeof(dummy);
	uint16_t sw;
	int r;

	if (resp == NULL) {
		resp = dummy;
		resp_len = &dummy_len;
	}
	if ((r = jpki_reader_transmit(rd, apdu, len, resp, resp_len, &sw)) != 0)
		return r;
	if (sw != 0x9000)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card refused %s (status %04X)", what,
				    sw);
	return 0;
}

int jpki_reader_select_ap(struct jpki_reader *rd)
{
	uint8_t apdu[5 + JPKI_CARD_AID_LEN] = {0x00, 0xA4, 0x04, 0x0C,
					       JPKI_CARD_AID_LEN};
	uint8_t resp[JPKI_READER_MAX_RESPONSE];
	size_t resp_len = sizeof(resp);
	uint16_t sw;
	int r;

	memcpy(apdu + 5, JPKI_CARD_AID, JPKI_CARD_AID_LEN);
	if ((r = jpki_reader_transmit(rd, apdu, sizeof(apdu), resp, &resp_len,
				      &sw)) != 0)
		return r;
	if (sw != 0x9000)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "the card in '%s' is not a JPKI card (My "
				    "Number or Juki card): it has no JPKI "
				    "application (status %04X)",
				    jpki_reader_name(rd), sw);
	return 0;
}

int jpki_reader_select_ef(struct jpki_reader *rd, uint16_t fid)
{
	uint8_t apdu[] = {
	    0x00, 0xA4, 0x02, 0x0C, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid};
	char what[32];

	snprintf(what, sizeof(what), "SELECT of file %04X", fid);
	return jpki_reader_command(rd, apdu, sizeof(apdu), NULL, NULL, what);
}

/* READ BINARY of n (1..256) bytes at offset. */
static int read_binary(struct jpki_reader *rd, size_t offset, size_t n,
		       uint8_t *out, uint16_t *sw)
{
	uint8_t apdu[5] = {0x00, 0xB0, (uint8_t)(offset >> 8), (uint8_t)offset,
			   (uint8_t)(n == 256 ? 0 : n)};
	size_t got = n;
	int r;

	if ((r = jpki_reader_transmit(rd, apdu, sizeof(apdu), out, &got, sw)) !=
	    0)
		return r;
	if (*sw == 0x9000 && got != n)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the card returned %zu bytes of %zu at "
				    "offset %zu",
				    got, n, offset);
	return 0;
}

int jpki_reader_read_der(uint8_t **out, size_t *out_len, struct jpki_reader *rd,
			 uint16_t fid)
{
	uint8_t head[4], *buf = NULL;
	size_t len;
	uint16_t sw;
	int r;

	*out = NULL;
	*out_len = 0;
	if ((r = jpki_reader_select_ef(rd, fid)) != 0)
		return r;
	/* no FCI: the length is the DER header's, SEQUENCE with 2 length
	 * bytes (82 hi lo), as every certificate on the card has */
	if ((r = read_binary(rd, 0, sizeof(head), head, &sw)) != 0)
		return r;
	if (sw == 0x6982)
		return jpki_err_set(JPKI_ERR_STATE,
				    "file %04X is readable only after its "
				    "PIN",
				    fid);
	if (sw != 0x9000)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card refused READ BINARY of file "
				    "%04X (status %04X)",
				    fid, sw);
	if (head[0] != 0x30 || head[1] != 0x82)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "file %04X holds no certificate", fid);
	len = ((size_t)head[2] << 8 | head[3]) + 4;
	if (len > JPKI_CARD_MAX_FILE)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "file %04X claims %zu bytes", fid, len);
	if ((buf = malloc(len)) == NULL)
		return JPKI_ERR_NOMEM;
	for (size_t off = 0; off < len; off += 256) {
		size_t n = len - off < 256 ? len - off : 256;

		if ((r = read_binary(rd, off, n, buf + off, &sw)) != 0)
			goto fail;
		if (sw != 0x9000) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "the card refused READ BINARY of "
					 "file %04X at %zu (status %04X)",
					 fid, off, sw);
			goto fail;
		}
	}
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	return r;
}
