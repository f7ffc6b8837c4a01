/* What the server's files share: the server, a request's body, replies. */
#ifndef JPKI_HTTP_INTERNAL_H
#define JPKI_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jpki/http.h"

struct jpki_http {
	struct MHD_Daemon *daemon;
	int listen_fd; /* accepted by accept_thread, not by MHD */
	/* The kiosk calls this server's own /login from inside a request:
	 * its workers then accept for themselves, so a free one takes that
	 * call (the accept thread hands a connection to a worker by socket
	 * number, busy or not). */
	int workers_accept;
	pthread_t accept_thread;
	atomic_int stopping;
	struct jpki_ca *ca;
	struct jpki_store *st;           /* the window role's store */
	/* the window's card-issuer key (borrowed): set at start or once
	 * later by jpki_http_set_card_issuer(), never changed after, so a
	 * request that reads it NULL and then non-NULL is still right */
	EVP_PKEY *_Atomic issuer;
	const char *counter_reader;      /* the PC/SC reader at the counter */
	struct jpki_verify_login *login; /* with the login role */
	EVP_PKEY *agency_key;            /* the portal's (borrowed) */
	X509 *agency_cert;               /* the portal's (borrowed) */
	const char *kiosk_reader;        /* the kiosk's PC/SC reader */
	unsigned roles;
	uint16_t port;
	/* HTTPS (tls.c): PEM for libmicrohttpd, NULL for plain HTTP */
	char *tls_cert_pem, *tls_key_pem, *tls_trust_pem;
	/* the client CA of the internal roles; NULL: none asked for */
	X509_STORE *client_ca;
	/* log-in challenges per client address (limit.c) */
	struct http_limit *challenge_limit;
};

/* Token buckets per client address (limit.c). */
struct http_limit;
int http_limit_new(struct http_limit **out, double rate,
		   double burst) JPKI_MUST_CHECK;
void http_limit_free(struct http_limit *l);
/* 1 when `sa` may go on; 0 when over its rate, with the seconds after
 * which it may in *retry_after. */
int http_limit_take(struct http_limit *l, const struct sockaddr *sa,
		    unsigned *retry_after);

/* What a connection collects of its request body. */
struct upload {
	unsigned char *data;
	size_t len;
	int too_large;
	/* the subject of the verified client certificate of an internal
	 * role's request (RFC 2253), "" when none was verified */
	char client[256];
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

/*
 * tls.c: reads and checks the server's certificate and key and the client
 * CA (NULL: none) into srv for libmicrohttpd; JPKI_ERR_CONFIG with a
 * sentence naming the file when one cannot be read or the key is not the
 * certificate's. http_tls_free() wipes and frees what it kept.
 */
int http_tls_load(struct jpki_http *srv, const char *cert_path,
		  const char *key_path,
		  const char *client_ca_path) JPKI_MUST_CHECK;
void http_tls_free(struct jpki_http *srv);
/*
 * Verifies the client certificate of conn's TLS session against
 * srv->client_ca (OpenSSL, for TLS client use): 0 with its subject in
 * `subject`, or JPKI_ERR_POLICY with the reason as detail ("no client
 * certificate was presented", "... certificate has expired").
 */
int http_tls_client(char *subject, size_t size, struct jpki_http *srv,
		    struct MHD_Connection *conn) JPKI_MUST_CHECK;

/* Whether url is the window role's (/window..., /api/...): the internal
 * role that a client certificate guards. */
int http_window_owns(const char *url);
/* The window role: /window (the clerk's pages) and /api (JSON). Sets
 * *handled when the URL is the window's. */
enum MHD_Result http_window(struct jpki_http *srv, struct MHD_Connection *conn,
			    const char *url, const char *method,
			    const struct upload *up, int *handled);

/* The portal role: /portal (SPEC section 4). Sets *handled when the URL
 * is the portal's. */
enum MHD_Result http_portal(struct jpki_http *srv, struct MHD_Connection *conn,
			    const char *url, const char *method,
			    const struct upload *up, int *handled);
/* The kiosk role: /kiosk. Sets *handled when the URL is the kiosk's. */
enum MHD_Result http_kiosk(struct jpki_http *srv, struct MHD_Connection *conn,
			   const char *url, const char *method,
			   const struct upload *up, int *handled);

/* page.c: the frame of the server-rendered pages (the window clerk's use
 * its end, refusal and redirect; the portal and the kiosk all of it). `site`
 * names the site in the header, `colour` its CSS colour. */
void http_page_start(FILE *f, const char *title, const char *site,
		     const char *colour);
/* Closes the page (open_memstream sets *buf and *len only now), sends it
 * and frees *buf. */
enum MHD_Result http_page_end(FILE *f, char **buf, size_t *len,
			      struct MHD_Connection *conn, unsigned status);
void http_refusal(FILE *f, const char *what, const char *why);
/* The session token of a request: a Bearer token, else the jpki_session
 * cookie; NULL when neither (borrowed from the connection). */
const char *http_session_token(struct MHD_Connection *conn);
/* A query-string argument, "" when absent (borrowed). */
const char *http_query(struct MHD_Connection *conn, const char *key);
/* A urlencoded form field of the body into out, "" when absent or
 * unreadable. */
void http_field(char *out, size_t size, const struct upload *up,
		const char *key);
/* 303 to `to`, with a Set-Cookie when cookie is not NULL. */
enum MHD_Result http_redirect(struct MHD_Connection *conn, const char *to,
			      const char *cookie);

#endif
