/* What the server's files share: the server, a request's body, replies. */
#ifndef JPKI_HTTP_INTERNAL_H
#define JPKI_HTTP_INTERNAL_H

#include <stdio.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "jpki/http.h"

struct jpki_http {
	struct MHD_Daemon *daemon;
	struct jpki_ca *ca;
	struct jpki_store *st;           /* the window role's store */
	EVP_PKEY *issuer;                /* the window's card-issuer key */
	const char *counter_reader;      /* the PC/SC reader at the counter */
	struct jpki_verify_login *login; /* with the login role */
	unsigned roles;
	uint16_t port;
};

/* What a connection collects of its request body. */
struct upload {
	unsigned char *data;
	size_t len;
	int too_large;
};

enum MHD_Result http_send(struct MHD_Connection *conn, unsigned status,
			  const char *type, const void *data, size_t len,
			  const char *cache);
enum MHD_Result http_send_text(struct MHD_Connection *conn, unsigned status,
			       const char *text);
/* Sends and frees json. */
enum MHD_Result http_send_json(struct MHD_Connection *conn, unsigned status,
			       char *json);
void http_html_escape(FILE *f, const char *s);

/*
 * The value of `key` in an application/x-www-form-urlencoded body, decoded
 * (+ and %XX) into out: 1 found, 0 absent, JPKI_ERR_PARSE for a bad escape
 * or a value that does not fit.
 */
int http_form_value(char *out, size_t size, const unsigned char *body,
		    size_t len, const char *key);

/* The window role: /window (the clerk's pages) and /api (JSON). Sets
 * *handled when the URL is the window's. */
enum MHD_Result http_window(struct jpki_http *srv, struct MHD_Connection *conn,
			    const char *url, const char *method,
			    const struct upload *up, int *handled);

#endif
