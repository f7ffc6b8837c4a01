/*
 * bridge: the browser bridge's native-messaging host (`jpki-native-host`,
 * docs/BROWSER.md). The WebExtension hands it one request at a time over
 * Chrome's native messaging (a 4-byte length in the machine's byte order,
 * then UTF-8 JSON, on stdin; the answer the same way on stdout); the host
 * reads the card through PC/SC with the client module and asks PINs by its
 * own pinentry (the Assuan protocol, as GnuPG does), never through the page.
 *
 * Three operations: "certificates" (the authentication certificate and both
 * CA certificates, after the person allowed the page to read them, as the
 * certificate identifies the card to every site that reads it), "sign" (a
 * detached CMS SignedData over a SHA-256 hash the page computed: the card
 * signs only the signed attributes the host builds) and "login" (the
 * docs/LOGIN.md answer bound to the origin the browser reported for the
 * page). A fourth, "seal", touches no card: it encrypts a signed document
 * for the agency (seed 004 step 6, "送信"): the page's detached signature is
 * checked against the document, the two are made into the attached
 * SignedData `jpki sign FILE --to` writes, and that is put in a CMS
 * EnvelopedData for the agency's encryption certificate, so the page never
 * holds a content-encryption key.
 */
#ifndef JPKI_BRIDGE_H
#define JPKI_BRIDGE_H

#include <stddef.h>

#include "jpki/base.h"

/* The host's name in the browsers' manifests. */
#define JPKI_BRIDGE_HOST_NAME "jp.openjpki.bridge"
/* A request larger than this is refused before its JSON is read. */
#define JPKI_BRIDGE_REQUEST_MAX (64 * 1024)
/* Chrome's limit on a message from the host. */
#define JPKI_BRIDGE_REPLY_MAX (1024 * 1024)
/* A request id, bytes; the description shown in the PIN prompt, characters. */
#define JPKI_BRIDGE_ID_MAX 128
#define JPKI_BRIDGE_DESCRIPTION_MAX 200
/* seal: the document, the detached signature and the recipient's
 * certificate, bytes once decoded. With the 64 KiB request (base64 grows
 * by a third) a document is at most 32 KiB, so the reply (the
 * EnvelopedData in base64) stays far under the browser's 1 MiB. */
#define JPKI_BRIDGE_DOCUMENT_MAX (32 * 1024)
#define JPKI_BRIDGE_SIGNATURE_MAX (16 * 1024)
#define JPKI_BRIDGE_RECIPIENT_MAX (8 * 1024)

enum jpki_bridge_op {
	JPKI_BRIDGE_CERTIFICATES = 1,
	JPKI_BRIDGE_SIGN,
	JPKI_BRIDGE_LOGIN,
	JPKI_BRIDGE_SEAL,
};

/* One request, as the parser accepted it. */
struct jpki_bridge_request {
	char id[JPKI_BRIDGE_ID_MAX + 1];
	enum jpki_bridge_op op;
	char origin[256];
	unsigned char hash[32];                                /* sign */
	char description[4 * JPKI_BRIDGE_DESCRIPTION_MAX + 1]; /* sign */
	char challenge[44];                                    /* login */
	/* seal: decoded bytes, owned by the request
	 * (jpki_bridge_request_clear) */
	unsigned char *document, *signature, *recipient;
	size_t document_len, signature_len, recipient_len;
};

/* Frees what a parsed request owns (the seal's bytes) and zeroes it; safe
 * on a zeroed or already cleared request. */
void jpki_bridge_request_clear(struct jpki_bridge_request *req);

/*
 * Reads one message from fd: *out gets its bytes (caller frees;
 * NUL-terminated after *len bytes). Returns 0; 1 at the end of the input
 * before any byte of a message; JPKI_ERR_TOO_LARGE for a length over
 * JPKI_BRIDGE_REQUEST_MAX (nothing after the 4 length bytes is read);
 * JPKI_ERR_PARSE for a length or body cut short; JPKI_ERR_IO.
 */
int jpki_bridge_read_message(char **out, size_t *len, int fd) JPKI_MUST_CHECK;

/* Writes one message: the length, then len bytes. JPKI_ERR_TOO_LARGE over
 * JPKI_BRIDGE_REPLY_MAX (nothing written), JPKI_ERR_IO. */
int jpki_bridge_write_message(int fd, const char *msg,
			      size_t len) JPKI_MUST_CHECK;

/*
 * The strict parser of one request (docs/BROWSER.md): a JSON object of
 * at most JPKI_BRIDGE_REQUEST_MAX bytes, valid UTF-8, with "id", "op" and
 * "origin" strings and exactly the fields of its op, each of its type.
 * *code (always set; borrowed) gets the protocol's error word on failure:
 * "too_large", "unknown_op", "origin_refused" or "bad_request", and the
 * sentence names the field. out->id is filled as soon as the id is read, so
 * a refusal can still answer it. On success the caller clears *out with
 * jpki_bridge_request_clear(); on failure nothing is left to free.
 */
int jpki_bridge_parse(struct jpki_bridge_request *out, const char **code,
		      const char *msg, size_t len) JPKI_MUST_CHECK;

/*
 * The origin rule: "scheme://host[:port]" as docs/LOGIN.md writes it
 * (lower case, no default port, no path, no user), https for any host,
 * http only for 127.0.0.1, [::1] and localhost. JPKI_ERR_POLICY otherwise.
 */
int jpki_bridge_origin_check(const char *origin) JPKI_MUST_CHECK;

/*
 * Asks a PIN with the pinentry program `program` (Assuan: SETTITLE,
 * SETDESC `desc`, SETPROMPT `prompt`, SETTIMEOUT 120, SETERROR `error`
 * when not NULL, GETPIN). 0 with the PIN in pin (wipe it after use);
 * JPKI_ERR_STATE "cancelled" when the person cancelled or the prompt timed
 * out; JPKI_ERR_IO when the program
 * cannot be run or talks nonsense.
 */
int jpki_bridge_pinentry(char *pin, size_t size, const char *program,
			 const char *desc, const char *prompt,
			 const char *error) JPKI_MUST_CHECK;

/*
 * Asks the person a yes/no question with the same program (Assuan CONFIRM
 * after SETDESC `desc`): 0 when allowed; JPKI_ERR_STATE when refused,
 * cancelled or timed out; JPKI_ERR_IO as jpki_bridge_pinentry().
 */
int jpki_bridge_confirm(const char *program, const char *desc) JPKI_MUST_CHECK;

struct jpki_bridge_options {
	const char *pinentry; /* program; NULL: $JPKI_PINENTRY or "pinentry" */
	const char *reader;   /* PC/SC reader; NULL: the one with a card */
};

/*
 * Answers one message: *reply (caller frees) is the JSON reply, ok or not,
 * for the protocol's every outcome. Errors only when no reply can be made
 * (out of memory).
 */
int jpki_bridge_handle(char **reply, const struct jpki_bridge_options *opt,
		       const char *msg, size_t len) JPKI_MUST_CHECK;

/*
 * The host's loop: reads messages from in_fd and answers each on out_fd
 * until the end of the input. 0 at a clean end; an error when the stream
 * broke (a truncated or oversized message is answered first, then the
 * host stops, as the framing can no longer be trusted).
 */
int jpki_bridge_run(const struct jpki_bridge_options *opt, int in_fd,
		    int out_fd) JPKI_MUST_CHECK;

#endif
