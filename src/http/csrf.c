/*
 * Cross-site request forgery, for the clerk's pages (docs/SECURITY.md).
 *
 * A browser sends the session cookie with a request that another page made
 * it send; SameSite=Strict does not stop a page of the same site (another
 * port of the same host is the same site). So a state change by cookie
 * needs two things a foreign page cannot supply: an Origin header naming
 * this server (browsers set it on every POST and scripts cannot forge it),
 * and a per-session token that only this server's own pages carry in
 * their forms. The JSON API takes no cookie at all: its Bearer token is
 * something a browser never attaches by itself.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "http/http_internal.h"

/* The key the tokens are derived with, made once per process: a form
 * rendered before a restart is refused after it (the clerk reloads). */
static unsigned char csrf_key[32];
static int csrf_key_ok;
static pthread_once_t csrf_once = PTHREAD_ONCE_INIT;

static void csrf_key_make(void)
{
	csrf_key_ok = RAND_bytes(csrf_key, sizeof(csrf_key)) == 1;
}

/* The token of the request this thread answers (a request is answered on
 * one thread from start to end), for the forms its page renders. */
static _Thread_local char csrf_current[HTTP_CSRF_LEN + 1];

int http_csrf_token(char out[HTTP_CSRF_LEN + 1], const char *session)
{
	unsigned char mac[32];
	unsigned int n = 0;

	out[0] = '\0';
	pthread_once(&csrf_once, csrf_key_make);
	if (!csrf_key_ok || session == NULL)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no CSRF token");
	/* HMAC of the session token: tied to the session, useless
	 * without the key, and nothing to store */
	if (HMAC(EVP_sha256(), csrf_key, sizeof(csrf_key),
		 (const unsigned char *)session, strlen(session), mac,
		 &n) == NULL ||
	    n != sizeof(mac))
		return jpki_err_set(JPKI_ERR_CRYPTO, "no CSRF token");
	for (size_t i = 0; i < sizeof(mac); i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

const char *http_cookie_token(struct MHD_Connection *conn)
{
	return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
					   "jpki_session");
}

const char *http_bearer_token(struct MHD_Connection *conn)
{
	const char *auth =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0)
		return auth + 7;
	return NULL;
}

int http_same_origin(struct jpki_http *srv, struct MHD_Connection *conn)
{
	const char *origin =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const char *host =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	char own[300];
	int n;

	/* no Origin (or "null", an opaque one) is refused too: every
	 * browser sends one on a POST, so its absence is not a form of
	 * this server's */
	if (origin == NULL || host == NULL || *host == '\0')
		return 0;
	n = snprintf(own, sizeof(own), "%s://%s",
		     srv->tls_cert_pem != NULL ? "https" : "http", host);
	if (n < 0 || (size_t)n >= sizeof(own))
		return 0;
	return strcmp(origin, own) == 0;
}

int http_csrf_begin(const char *session)
{
	return http_csrf_token(csrf_current, session);
}

void http_csrf_end(void)
{
	OPENSSL_cleanse(csrf_current, sizeof(csrf_current));
}

void http_csrf_field(FILE *f)
{
	fprintf(f, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
		csrf_current);
}

/* The form's "csrf" field: 1 found, else not. A form with a file input
 * (multipart/form-data) carries it as one of its parts; its file is not
 * kept for this. A multipart form multipart.c refuses has no token: the
 * refusal says why (*why). */
static int csrf_field(char *out, size_t size, struct MHD_Connection *conn,
		      const struct upload *up, char *why, size_t why_size)
{
	struct http_multipart mp;
	const char *v;
	int found;

	if (!http_is_multipart(conn))
		return http_form_value(out, size, up->data, up->len, "csrf");
	if (http_multipart_parse(&mp, conn, up, NULL, 0) != 0) {
		snprintf(why, why_size, ": %s", jpki_err_detail());
		return 0;
	}
	v = http_multipart_value(&mp, "csrf");
	found = v != NULL && strlen(v) < size;
	if (found)
		snprintf(out, size, "%s", v);
	OPENSSL_cleanse(&mp, sizeof(mp));
	return found;
}

int http_csrf_check(struct jpki_http *srv, struct MHD_Connection *conn,
		    const struct upload *up, const char *session)
{
	char want[HTTP_CSRF_LEN + 1], got[HTTP_CSRF_LEN + 2], why[160] = "";
	int ok;

	if (!http_same_origin(srv, conn))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "this form was not sent by this server's "
				    "own page (Origin missing or foreign)");
	if (csrf_field(got, sizeof(got), conn, up, why, sizeof(why)) != 1 ||
	    strlen(got) != HTTP_CSRF_LEN || http_csrf_token(want, session) != 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "this form carries no valid token of the "
				    "session%s",
				    why[0] ? why : ": reload the page");
	ok = CRYPTO_memcmp(want, got, HTTP_CSRF_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	if (!ok)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "this form carries no valid token of the "
				    "session: reload the page");
	return 0;
}
