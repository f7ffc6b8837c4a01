/*
 * Reader connections: the common transmit logic (61 xx and 6C xx) over two
 * transports, PC/SC and in-process.
 */
#include <stdlib.h>
#include <string.h>

#include <winscard.h>

#include "jpki/reader.h"

struct jpki_reader {
	char *name;
	struct jpki_card *card; /* in-process */
	SCARDCONTEXT ctx;       /* PC/SC */
	SCARDHANDLE handle;
	DWORD protocol;
	jpki_reader_trace_fn trace;
	void *trace_ctx;
};

static const char *pcsc_why(LONG rv)
{
	return pcsc_stringify_error(rv);
}

void jpki_reader_names_free(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

/* Lists reader names from a PC/SC context. */
static int list_names(SCARDCONTEXT ctx, char ***names, size_t *n)
{
	DWORD len = 0;
	char *buf, *p;
	char **list = NULL;
	size_t count = 0;
	LONG rv;

	*names = NULL;
	*n = 0;
	rv = SCardListReaders(ctx, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no card reader is connected");
	if (rv != SCARD_S_SUCCESS)
		return jpki_err_set(JPKI_ERR_IO, "cannot list readers: %s",
				    pcsc_why(rv));
	if ((buf = malloc(len)) == NULL)
		return JPKI_ERR_NOMEM;
	if ((rv = SCardListReaders(ctx, NULL, buf, &len)) != SCARD_S_SUCCESS) {
		free(buf);
		return jpki_err_set(JPKI_ERR_IO, "cannot list readers: %s",
				    pcsc_why(rv));
	}
	for (p = buf; *p; p += strlen(p) + 1) {
		char **grown = realloc(list, (count + 1) * sizeof(*list));

		if (grown == NULL || (grown[count] = strdup(p)) == NULL) {
			jpki_reader_names_free(grown ? grown : list, count);
			free(buf);
			return JPKI_ERR_NOMEM;
		}
		list = grown;
		count++;
	}
	free(buf);
	*names = list;
	*n = count;
	return 0;
}

static int establish(SCARDCONTEXT *ctx)
{
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, ctx);

	if (rv != SCARD_S_SUCCESS)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no card reader service (is pcscd "
				    "running?): %s",
				    pcsc_why(rv));
	return 0;
}

int jpki_reader_list(char ***names, size_t *n)
{
	SCARDCONTEXT ctx;
	int r;

	*names = NULL;
	*n = 0;
	if ((r = establish(&ctx)) != 0)
		return r;
	r = list_names(ctx, names, n);
	SCardReleaseContext(ctx);
	return r;
}

int jpki_reader_pcsc(struct jpki_reader **out, const char *name)
{
	struct jpki_reader *rd = NULL;
	char **names = NULL;
	size_t n = 0, found = 0;
	int r;

	*out = NULL;
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = establish(&rd->ctx)) != 0) {
		free(rd);
		return r;
	}
	if ((r = list_names(rd->ctx, &names, &n)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		SCARDHANDLE h;
		DWORD proto;
		LONG rv;

		if (name != NULL && strcmp(name, names[i]) != 0)
			continue;
		rv = SCardConnect(rd->ctx, names[i], SCARD_SHARE_SHARED,
				  SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h,
				  &proto);
		if (rv != SCARD_S_SUCCESS) {
			if (name != NULL) {
				r = jpki_err_set(JPKI_ERR_NOT_FOUND,
						 "no card in reader '%s' "
						 "(%s)",
						 name, pcsc_why(rv));
				goto fail;
			}
			continue;
		}
		if (found++ > 0) {
			SCardDisconnect(h, SCARD_LEAVE_CARD);
			r = jpki_err_set(JPKI_ERR_STATE,
					 "cards are in several readers: name "
					 "one with --reader");
			goto fail;
		}
		rd->handle = h;
		rd->protocol = proto;
		if ((rd->name = strdup(names[i])) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto fail;
		}
	}
	if (found == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 name ? "no reader named '%s'"
				      : "no card in any reader%s",
				 name ? name : "");
		goto fail;
	}
	jpki_reader_names_free(names, n);
	*out = rd;
	return 0;
fail:
	jpki_reader_names_free(names, n);
	jpki_reader_free(rd);
	return r;
}

int jpki_reader_local(struct jpki_reader **out, struct jpki_card *card)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return JPKI_ERR_NOMEM;
	(*out)->card = card;
	return 0;
}

static void reader_close(struct jpki_reader *rd, DWORD disposition)
{
	if (rd == NULL)
		return;
	if (rd->handle)
		SCardDisconnect(rd->handle, disposition);
	if (rd->ctx)
		SCardReleaseContext(rd->ctx);
	free(rd->name);
	free(rd);
}

void jpki_reader_free(struct jpki_reader *rd)
{
	reader_close(rd, SCARD_LEAVE_CARD);
}

void jpki_reader_free_reset(struct jpki_reader *rd)
{
	if (rd != NULL && rd->card != NULL)
		jpki_card_reset(rd->card);
	reader_close(rd, SCARD_RESET_CARD);
}

const char *jpki_reader_name(const struct jpki_reader *rd)
{
	return rd->card != NULL ? "local" : rd->name;
}

void jpki_reader_trace(struct jpki_reader *rd, jpki_reader_trace_fn fn,
		       void *ctx)
{
	rd->trace = fn;
	rd->trace_ctx = ctx;
}

/* One exchange on the wire: resp gets data and status word. */
static int exchange(struct jpki_reader *rd, const uint8_t *apdu, size_t len,
		    uint8_t *resp, size_t *resp_len)
{
	int r = 0;

	if (rd->card != NULL) {
		r = jpki_card_process(rd->card, apdu, len, resp, resp_len);
		/* the card answered (65 81) even when it could not save */
		r = 0;
	} else {
		const SCARD_IO_REQUEST *pci = rd->protocol == SCARD_PROTOCOL_T1
						      ? SCARD_PCI_T1
						      : SCARD_PCI_T0;
		DWORD n = (DWORD)*resp_len;
		LONG rv = SCardTransmit(rd->handle, pci, apdu, (DWORD)len, NULL,
					resp, &n);

		if (rv != SCARD_S_SUCCESS)
			return jpki_err_set(rv == SCARD_W_REMOVED_CARD
						    ? JPKI_ERR_NOT_FOUND
						    : JPKI_ERR_IO,
					    "the card did not answer: %s",
					    pcsc_why(rv));
		*resp_len = n;
	}
	if (*resp_len < 2)
		return jpki_err_set(JPKI_ERR_IO,
				    "the card answered without a status word");
	if (rd->trace != NULL)
		rd->trace(rd->trace_ctx, apdu, len, resp, *resp_len);
	return r;
}

int jpki_reader_transmit(struct jpki_reader *rd, const uint8_t *apdu,
			 size_t apdu_len, uint8_t *resp, size_t *resp_len,
			 uint16_t *sw)
{
	uint8_t cmd[JPKI_MAX_APDU], buf[JPKI_CARD_MAX_RESPONSE];
	size_t cap = *resp_len, have = 0, n;
	int r;

	*resp_len = 0;
	*sw = 0;
	if (apdu_len < 4 || apdu_len > sizeof(cmd))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a command APDU is 4 to %zu bytes",
				    sizeof(cmd));
	memcpy(cmd, apdu, apdu_len);
	n = sizeof(buf);
	if ((r = exchange(rd, cmd, apdu_len, buf, &n)) != 0)
		return r;
	/* 6C xx: wrong Le, send the same command with Le = xx */
	if (buf[n - 2] == 0x6C && apdu_len >= 5) {
		cmd[apdu_len - 1] = buf[n - 1];
		n = sizeof(buf);
		if ((r = exchange(rd, cmd, apdu_len, buf, &n)) != 0)
			return r;
	}
	for (;;) {
		size_t data_len = n - 2;

		if (data_len > cap - have)
			return jpki_err_set(JPKI_ERR_TOO_LARGE,
					    "the card's answer is larger than "
					    "%zu bytes",
					    cap);
		memcpy(resp + have, buf, data_len);
		have += data_len;
		*sw = (uint16_t)(buf[n - 2] << 8 | buf[n - 1]);
		if (buf[n - 2] != 0x61)
			break;
		/* 61 xx: xx more bytes wait; fetch them */
		{
			uint8_t get[5] = {0x00, 0xC0, 0x00, 0x00, buf[n - 1]};

			n = sizeof(buf);
			if ((r = exchange(rd, get, sizeof(get), buf, &n)) != 0)
				return r;
		}
	}
	*resp_len = have;
	return 0;
}
