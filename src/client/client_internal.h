/* What the client's files share and nobody else sees. */
#ifndef JPKI_CLIENT_INTERNAL_H
#define JPKI_CLIENT_INTERNAL_H

#include <stddef.h>

/* An HTTP answer, kept to a cap: a larger one fails the exchange. */
struct client_body {
	char *buf; /* NUL-terminated; cap + 1 bytes */
	size_t cap;
	size_t len;
};

/*
 * One HTTP(S) exchange with a timeout: GET when post is NULL, else POST of
 * post_len bytes as content_type. *code gets the HTTP status. An
 * unreachable server is JPKI_ERR_IO with a sentence naming the URL.
 */
int client_http(struct client_body *b, long *code, const char *url,
		const char *content_type, const void *post, size_t post_len,
		long timeout_ms);

#endif
