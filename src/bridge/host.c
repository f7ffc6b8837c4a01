/*
 * One request in, one reply out: the parser's verdict or the card's answer,
 * in the protocol's reply object either way, so the extension can always
 * hand the page an answer with its id.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"

int jpki_bridge_handle(char **reply, const struct jpki_bridge_options *opt,
		       const char *msg, size_t len)
{
	struct jpki_bridge_request req;
	const char *code = "internal";
	json_t *result = NULL;
	int r;

	memset(&req, 0, sizeof(req));
	*reply = NULL;
	jpki_err_clear();
	if ((r = jpki_bridge_parse(&req, &code, msg, len)) == 0 &&
	    (r = bridge_op(&result, &code, opt, &req)) == 0)
		*reply = bridge_reply_ok(req.id, result);
	else
		*reply = bridge_reply_error(
		    req.id, code,
		    jpki_err_detail()[0] != '\0' ? jpki_err_detail()
						 : "the request failed");
	if (*reply == NULL && r == 0) {
		/* the answer itself was over the browser's limit */
		*reply = bridge_reply_error(req.id, "internal",
					    "the answer is too large for the "
					    "browser");
	}
	jpki_bridge_request_clear(&req);
	return *reply != NULL ? 0 : JPKI_ERR_NOMEM;
}

int jpki_bridge_run(const struct jpki_bridge_options *opt, int in_fd,
		    int out_fd)
{
	for (;;) {
		char *msg = NULL, *reply = NULL;
		size_t len;
		int r = jpki_bridge_read_message(&msg, &len, in_fd);

		if (r == 1)
			return 0;
		if (r == JPKI_ERR_TOO_LARGE || r == JPKI_ERR_PARSE) {
			/* answered, then the end: after a refused length the
			 * next message's start is unknown */
			int first = r;

			if ((reply = bridge_reply_error(
				 "", r == JPKI_ERR_TOO_LARGE ? "too_large"
							     : "bad_request",
				 jpki_err_detail())) != NULL) {
				r = jpki_bridge_write_message(out_fd, reply,
							      strlen(reply));
				free(reply);
				(void)r;
			}
			return first;
		}
		if (r != 0)
			return r;
		r = jpki_bridge_handle(&reply, opt, msg, len);
		free(msg);
		if (r == 0)
			r = jpki_bridge_write_message(out_fd, reply,
						      strlen(reply));
		free(reply);
		if (r != 0)
			return r;
	}
}
