/*
 * A PC/SC client of the JPKI AP written the way many clients of the real
 * My Number card are, not the way OpenSC is: it reads each file in fixed
 * chunks from offset 0 until the card answers 6B 00 (issue #19), never
 * looking at the DER length. Only pcsc-lite, no OpenJPKI code, so that it
 * sees the card exactly as an outside program does.
 *
 * usage: card_chunked_read READER CHUNK OUTDIR [SIGN-PIN]
 *
 *   READER  a part of the reader's name ("Virtual PCD 00 00")
 *   CHUNK   1..256: Le of each READ BINARY (256 is sent as Le = 00)
 *   OUTDIR  where each file goes, as FID.der (000A.der, 000B.der, 0002.der,
 *           and 0001.der when SIGN-PIN is given)
 *
 * With SIGN-PIN, the signing PIN is verified in the same transaction
 * before 0001 is read (the card answers 69 82 without it); SIGN-PIN "-"
 * reads 0001 without it, which must fail. Every answer
 * other than 90 00 with data, or 6B 00 at the end, is an error: the
 * program says which, at which offset, and exits 1. Prints one line a
 * file: "FID LENGTH READS".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winscard.h>

#define MAX_FILE 65536

static const uint8_t select_ap[] = {0x00, 0xA4, 0x04, 0x0C, 0x0A,
				    0xD3, 0x92, 0xF0, 0x00, 0x26,
				    0x01, 0x00, 0x00, 0x00, 0x01};

static SCARDHANDLE card;
static const SCARD_IO_REQUEST *pci;

/* Sends one APDU; returns the status word, the data in out/out_len. */
static unsigned transmit(const uint8_t *apdu, size_t len, uint8_t *out,
			 size_t *out_len)
{
	uint8_t resp[258 + 2];
	DWORD n = sizeof(resp);
	LONG rv = SCardTransmit(card, pci, apdu, (DWORD)len, NULL, resp, &n);

	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardTransmit: %s\n",
			pcsc_stringify_error(rv));
		exit(1);
	}
	if (n < 2) {
		fprintf(stderr, "an answer of %lu bytes\n", (unsigned long)n);
		exit(1);
	}
	if (out != NULL) {
		memcpy(out, resp, n - 2);
		*out_len = n - 2;
	}
	return (unsigned)(resp[n - 2] << 8 | resp[n - 1]);
}

static void expect_ok(const uint8_t *apdu, size_t len, const char *what)
{
	unsigned sw = transmit(apdu, len, NULL, NULL);

	if (sw != 0x9000) {
		fprintf(stderr, "%s: status %04X\n", what, sw);
		exit(1);
	}
}

static void select_ef(uint16_t fid)
{
	uint8_t apdu[] = {
	    0x00, 0xA4, 0x02, 0x0C, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid};
	char what[32];

	snprintf(what, sizeof(what), "SELECT %04X", fid);
	expect_ok(apdu, sizeof(apdu), what);
}

/* Reads the current file in chunks of `chunk` until 6B 00. */
static void read_file(uint16_t fid, size_t chunk, const char *dir)
{
	static uint8_t buf[MAX_FILE];
	size_t off = 0, reads = 0;
	char path[4096];
	FILE *f;

	select_ef(fid);
	for (;;) {
		uint8_t apdu[5] = {0x00, 0xB0, (uint8_t)(off >> 8),
				   (uint8_t)off, (uint8_t)(chunk & 0xFF)};
		uint8_t data[258];
		size_t n = 0;
		unsigned sw;

		if (off > 0x7FFF || off + chunk > sizeof(buf)) {
			fprintf(stderr, "%04X: no 6B 00 after %zu bytes\n", fid,
				off);
			exit(1);
		}
		sw = transmit(apdu, sizeof(apdu), data, &n);
		reads++;
		if (sw == 0x6B00 && n == 0)
			break;
		if (sw != 0x9000 || n == 0 || n > chunk) {
			fprintf(stderr,
				"%04X: READ BINARY at offset %zu, Le %zu: "
				"%zu bytes and status %04X\n",
				fid, off, chunk, n, sw);
			exit(1);
		}
		memcpy(buf + off, data, n);
		off += n;
	}
	if (off == 0) {
		fprintf(stderr, "%04X: 6B 00 at offset 0\n", fid);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%04X.der", dir, fid);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, off, f) != off ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	printf("%04X %zu %zu\n", fid, off, reads);
}

int main(int argc, char **argv)
{
	SCARDCONTEXT ctx;
	DWORD len = 0, proto;
	char *readers, *name = NULL;
	long chunk;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: card_chunked_read READER CHUNK OUTDIR "
				"[SIGN-PIN]\n");
		return 2;
	}
	chunk = strtol(argv[2], NULL, 10);
	if (chunk < 1 || chunk > 256) {
		fprintf(stderr, "CHUNK is 1..256\n");
		return 2;
	}
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) !=
		SCARD_S_SUCCESS ||
	    SCardListReaders(ctx, NULL, NULL, &len) != SCARD_S_SUCCESS ||
	    (readers = malloc(len)) == NULL ||
	    SCardListReaders(ctx, NULL, readers, &len) != SCARD_S_SUCCESS) {
		fprintf(stderr, "no PC/SC readers\n");
		return 1;
	}
	for (char *r = readers; *r; r += strlen(r) + 1)
		if (strstr(r, argv[1]) != NULL) {
			name = r;
			break;
		}
	if (name == NULL) {
		fprintf(stderr, "no reader named like '%s'\n", argv[1]);
		return 1;
	}
	if (SCardConnect(ctx, name, SCARD_SHARE_SHARED,
			 SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card,
			 &proto) != SCARD_S_SUCCESS ||
	    SCardBeginTransaction(card) != SCARD_S_SUCCESS) {
		fprintf(stderr, "cannot connect to %s\n", name);
		return 1;
	}
	pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	expect_ok(select_ap, sizeof(select_ap), "SELECT of the JPKI AP");
	read_file(0x000A, (size_t)chunk, argv[3]);
	read_file(0x000B, (size_t)chunk, argv[3]);
	read_file(0x0002, (size_t)chunk, argv[3]);
	if (argc == 5) {
		uint8_t verify[5 + 16] = {0x00, 0x20, 0x00, 0x80};
		size_t n = strlen(argv[4]);

		if (n < 1 || n > 16) {
			fprintf(stderr, "a PIN is 1..16 characters\n");
			return 2;
		}
		verify[4] = (uint8_t)n;
		memcpy(verify + 5, argv[4], n);
		if (strcmp(argv[4], "-") != 0) {
			select_ef(0x001B);
			expect_ok(verify, 5 + n, "VERIFY of the signing PIN");
		}
		read_file(0x0001, (size_t)chunk, argv[3]);
	}
	SCardEndTransaction(card, SCARD_LEAVE_CARD);
	SCardDisconnect(card, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	free(readers);
	return 0;
}
