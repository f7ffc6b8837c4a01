/*
 * reader: how APDUs travel to a card. A reader connection is either PC/SC
 * (pcsc-lite: any real reader, or the vpcd virtual reader) or in-process
 * (a jpki_card in the same program, for tests and for the window's own
 * tools). jpki_reader_transmit() handles the transport details of ISO
 * 7816-3 (61 xx: fetch the rest with GET RESPONSE; 6C xx: send again with
 * the length the card asked for), so callers see one response per command.
 *
 * The vpcd link goes the other way: it puts a jpki_card behind pcscd, through
 * the vpcd driver of vsmartcard, so every PC/SC program sees it in a reader.
 */
#ifndef JPKI_READER_H
#define JPKI_READER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "jpki/base.h"
#include "jpki/card.h"

struct jpki_reader;

/* The largest response data jpki_reader_transmit() assembles. */
#define JPKI_READER_MAX_RESPONSE 4096

/* Names of the PC/SC readers; caller frees with jpki_reader_names_free().
 * JPKI_ERR_NOT_FOUND when there is no reader (or no pcscd). */
int jpki_reader_list(char ***names, size_t *n) JPKI_MUST_CHECK;
void jpki_reader_names_free(char **names, size_t n);

/*
 * Connects to the card in PC/SC reader `name`, or, with NULL, in the only
 * reader that holds a card (JPKI_ERR_NOT_FOUND: no reader or no card;
 * JPKI_ERR_STATE: several cards, name one).
 */
int jpki_reader_pcsc(struct jpki_reader **out,
		     const char *name) JPKI_MUST_CHECK;

/* A connection to a card in this process (borrowed; must outlive it). */
int jpki_reader_local(struct jpki_reader **out,
		      struct jpki_card *card) JPKI_MUST_CHECK;

void jpki_reader_free(struct jpki_reader *rd);
/* Frees the connection after resetting the card (PC/SC SCARD_RESET_CARD;
 * the in-process card's security state), so no PIN verified through it
 * stays verified for the next program to use the card. */
void jpki_reader_free_reset(struct jpki_reader *rd);

/* The name of the reader ("local" for the in-process one); borrowed. */
const char *jpki_reader_name(const struct jpki_reader *rd);

/*
 * Sends one command APDU; *resp_len (in: capacity) gets the response data
 * without the status word, which goes to *sw. Transport failures (card
 * removed, reader gone) are errors; any status word is a success here.
 */
int jpki_reader_transmit(struct jpki_reader *rd, const uint8_t *apdu,
			 size_t apdu_len, uint8_t *resp, size_t *resp_len,
			 uint16_t *sw) JPKI_MUST_CHECK;

/*
 * Sends one APDU and wants 90 00: any other status word is JPKI_ERR_STATE
 * with a sentence naming `what`. resp may be NULL when no data is wanted.
 */
int jpki_reader_command(struct jpki_reader *rd, const uint8_t *apdu, size_t len,
			uint8_t *resp, size_t *resp_len,
			const char *what) JPKI_MUST_CHECK;

/* The JPKI AP commands every host sends (SPEC section 5). */

/* SELECT of the JPKI AP by its AID; JPKI_ERR_NOT_FOUND, with a sentence for
 * the person, when the card is not a JPKI card. */
int jpki_reader_select_ap(struct jpki_reader *rd) JPKI_MUST_CHECK;
/* SELECT of an elementary file of the selected AP. */
int jpki_reader_select_ef(struct jpki_reader *rd, uint16_t fid) JPKI_MUST_CHECK;
/*
 * Selects file `fid` and reads the certificate in it as a real client does:
 * 4 bytes of DER header for the length, then READ BINARY 256 bytes at a
 * time. *out (caller frees) gets the DER. JPKI_ERR_STATE when the card
 * refuses (the signing certificate before its PIN: 69 82), JPKI_ERR_NOT_FOUND
 * when the file holds no certificate.
 */
int jpki_reader_read_der(uint8_t **out, size_t *out_len, struct jpki_reader *rd,
			 uint16_t fid) JPKI_MUST_CHECK;

/* Calls `fn` with every APDU exchanged on the wire (tests record them). */
typedef void (*jpki_reader_trace_fn)(void *ctx, const uint8_t *cmd,
				     size_t cmd_len, const uint8_t *rsp,
				     size_t rsp_len);
void jpki_reader_trace(struct jpki_reader *rd, jpki_reader_trace_fn fn,
		       void *ctx);

/*
 * Attaches `card` to pcscd through vpcd listening at host:port (vpcd's
 * default is 127.0.0.1:35963) and answers its commands until *stop is set.
 * When the connection drops (pcscd restarts) it connects again. Returns 0
 * when stopped.
 */
int jpki_reader_vpcd_serve(struct jpki_card *card, const char *host,
			   uint16_t port,
			   volatile sig_atomic_t *stop) JPKI_MUST_CHECK;

#endif
