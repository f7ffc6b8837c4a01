/*
 * The browser bridge's input (docs/BROWSER.md): the bytes the browser
 * writes to jpki-native-host's stdin, framed (4-byte length, JSON) and
 * parsed as requests, and the error reply built for each refusal. Every
 * input must end in messages, refusals or the end of the stream, never a
 * crash; no card is touched (the operations are not run). A seal's
 * decoded bytes are freed with the request (no leak under ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bridge/bridge_internal.h"
#include "jpki/bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jpki_bridge_request req;
	const char *code;
	int fd = memfd_create("native_message", 0);
	size_t done = 0;

	if (fd < 0)
		abort();
	while (done < size) {
		ssize_t k = write(fd, data + done, size - done);

		if (k <= 0)
			abort();
		done += (size_t)k;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	/* the stream as the host reads it */
	for (;;) {
		char *msg = NULL, *reply;
		size_t len;
		int r = jpki_bridge_read_message(&msg, &len, fd);

		if (r != 0) {
			if (r < 0 && jpki_err_detail()[0] == '\0')
				abort(); /* a refusal must say why */
			break;
		}
		r = jpki_bridge_parse(&req, &code, msg, len);
		if (r != 0) {
			reply = bridge_reply_error(req.id, code,
						   jpki_err_detail());
			if (reply == NULL)
				abort(); /* every refusal has an answer */
			free(reply);
		} else if (req.op < JPKI_BRIDGE_CERTIFICATES ||
			   req.op > JPKI_BRIDGE_SEAL ||
			   jpki_bridge_origin_check(req.origin) != 0 ||
			   (req.op == JPKI_BRIDGE_SEAL &&
			    (req.document_len == 0 ||
			     req.document_len > JPKI_BRIDGE_DOCUMENT_MAX ||
			     req.signature_len == 0 ||
			     req.recipient_len == 0))) {
			abort(); /* accepted, so it must be whole */
		}
		jpki_bridge_request_clear(&req);
		free(msg);
	}
	close(fd);
	/* the whole input as one message's body, unframed */
	if (jpki_bridge_parse(&req, &code, (const char *)data, size) == 0 &&
	    req.id[0] == '\0')
		abort();
	jpki_bridge_request_clear(&req);
	return 0;
}
