/*
 * Where a request's body ends must be beyond doubt (RFC 9112 section 6.3):
 * a request that names its length two ways lets a proxy in front and this
 * server disagree on it, and the bytes one takes for the body the other
 * takes for the next request (request smuggling). libmicrohttpd prefers
 * Transfer-Encoding and takes the first Content-Length; a second request in
 * the body of a first was answered. So before any body is read:
 *   - Transfer-Encoding together with Content-Length is refused;
 *   - Transfer-Encoding other than one "chunked" is refused (the only coding
 *     libmicrohttpd undoes);
 *   - Content-Length more than once, or not one decimal number, is refused;
 * with 400 and the connection closed, since where the next request would
 * start is exactly what is in doubt.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"

struct framing {
	unsigned lengths, codings;
	int bad;
};

static int all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Visits every header line, duplicates included. */
static enum MHD_Result count(void *cls, enum MHD_ValueKind kind,
			     const char *key, const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->lengths++;
		if (value == NULL || !all_digits(value))
			f->bad = 1;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->codings++;
		if (value == NULL || strcasecmp(value, "chunked") != 0)
			f->bad = 1;
	}
	return MHD_YES;
}

int http_framing_ok(struct MHD_Connection *conn)
{
	struct framing f = {0, 0, 0};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count, &f);
	return !f.bad && f.lengths <= 1 && f.codings <= 1 &&
	       !(f.lengths && f.codings);
}

enum MHD_Result http_framing_refuse(struct MHD_Connection *conn)
{
	static const char text[] = "bad request: the body's length is given "
				   "twice or in a way not understood "
				   "(Content-Length and Transfer-Encoding)\n";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	/* libmicrohttpd closes the connection after a response that says
	 * so; nothing after these headers is read as a request. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, MHD_HTTP_BAD_REQUEST, resp);
	MHD_destroy_response(resp);
	return ret;
}
