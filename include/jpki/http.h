/*
 * http: the libmicrohttpd server that publishes the service.
 *
 * Roles (each can run in its own process, see DESIGN.md):
 *   repository  GET /               the portal page: CA certificates with
 *                                   their fingerprints, CRLs, OCSP URLs
 *               GET /ca/{sign,auth}.{crt,pem}
 *               GET /crl/{sign,auth}.crl, GET /crl/sign/<code>.crl
 *   ocsp        POST /ocsp, /ocsp/sign, /ocsp/auth (application/ocsp-request)
 *               GET  /ocsp[/sign|/auth]/<base64 of the DER request>
 *               GET  /link/<issuer key id>/<serial>: the linking look-up,
 *                                   signed (jpki_ca_link_answer)
 *   login       GET  /login/challenge, POST /login/response (docs/LOGIN.md)
 *   window      /window (the clerk's pages), /api/... (the same procedures
 *               as JSON; docs/WINDOW.md)
 *   portal      /portal: an agency's online application (SPEC section 4,
 *               seed 004), /portal/agency.crt, /portal/inbox
 *   kiosk       /kiosk: the convenience-store kiosk (コンビニ交付) that
 *               logs in with the authentication certificate (a terminal page
 *               through the browser bridge) and hands out
 *               a copy of the residence certificate (住民票の写し) as PDF
 * Every role answers GET /healthz.
 */
#ifndef JPKI_HTTP_H
#define JPKI_HTTP_H

#include <stdint.h>

#include <openssl/evp.h>

#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/oidc.h"
#include "jpki/verify.h"

enum jpki_http_role {
	JPKI_ROLE_REPOSITORY = 1 << 0,
	JPKI_ROLE_OCSP = 1 << 1,
	JPKI_ROLE_LOGIN = 1 << 2,
	JPKI_ROLE_WINDOW = 1 << 3, /* the clerk's pages and the JSON API */
	JPKI_ROLE_PORTAL = 1 << 4, /* an agency's online application */
	JPKI_ROLE_KIOSK = 1 << 5,  /* コンビニ交付; needs the login role */
	/* OpenID Connect provider (docs/OIDC.md); not in "all": it needs
	 * its issuer and keys (jpki_http_options.oidc) */
	JPKI_ROLE_OIDC = 1 << 6,
	JPKI_ROLE_ALL = JPKI_ROLE_REPOSITORY | JPKI_ROLE_OCSP |
			JPKI_ROLE_LOGIN | JPKI_ROLE_WINDOW | JPKI_ROLE_PORTAL |
			JPKI_ROLE_KIOSK,
};

/* Parses a comma-separated list such as "repository,ocsp,login" or
 * "all". */
int jpki_http_roles_parse(unsigned *out, const char *text) JPKI_MUST_CHECK;

struct jpki_http_options {
	int version;           /* JPKI_HTTP_OPTIONS_VERSION */
	const char *listen;    /* "127.0.0.1:8080"; port 0 picks a free one */
	unsigned roles;        /* enum jpki_http_role bits; 0 = all */
	unsigned threads;      /* worker threads; 0 = one per core */
	unsigned timeout;      /* idle connection timeout, seconds; 0 = 10 */
	unsigned max_connections; /* 0 = 512 */
	/* Connections one client address may hold on a listener (0 = 64);
	 * beyond it a new one is closed at once. */
	unsigned per_address;
	/* Absolute deadlines no trickle extends: a request's headers within
	 * header_timeout seconds of its connection's start or its previous
	 * request's end (0 = 10), its answer sent within body_timeout
	 * seconds of its headers (0 = 30); past one the connection is
	 * closed. */
	unsigned header_timeout;
	unsigned body_timeout;
	/* A second listener ("127.0.0.1:8081"; NULL: none) that answers
	 * only OCSP (and /healthz) with ocsp_connections (0 = 128)
	 * connections of its own, so clients holding every connection of
	 * the main listener do not starve OCSP. Needs the ocsp role. */
	const char *ocsp_listen;
	unsigned ocsp_connections;
	/* Log-in challenges one client address may fetch: a bucket of
	 * challenge_burst (0 = 120) refilled at challenge_rate per second
	 * (0 = 1); beyond it 429 with Retry-After. */
	double challenge_rate;
	unsigned challenge_burst;
	/* The operators' log-in limits (jpki_audit_limits in audit.h; 0 =
	 * its default): failures free of any wait per operator (1-1000,
	 * default 5) and per client address (1-100000, default 10), the
	 * failures that lock an operator (above the free ones, at most
	 * 100000, default 20) and the longest wait in seconds (1-86400,
	 * default 3600). jpki_http_start() refuses a value out of range. */
	unsigned login_account_free, login_account_lock;
	unsigned login_address_free, login_max_wait;
	/* The kiosk's budget per terminal (client address): kiosk_burst
	 * log-ins at once (1-100, default 2), one more every kiosk_every
	 * seconds (1-3600, default 30). */
	unsigned kiosk_burst, kiosk_every;
	struct jpki_ca *ca;    /* borrowed; must outlive the server */
	/* login: the origin answers are bound to (its scheme://host[:port]
	 * is used); NULL = the CA's public URL */
	const char *login_origin;
	/* window: the store with the registry's and window's tables (NULL:
	 * the role answers 503), the card-issuer key (NULL: no issuing) and
	 * the default PC/SC reader at the counter (NULL: the only card) */
	struct jpki_store *store;
	EVP_PKEY *card_issuer;
	const char *counter_reader;
	/* portal: the agency's key and certificate (borrowed; NULL: the
	 * portal answers 503): jpki_agency_key(); its tables:
	 * jpki_agency_migrate() */
	EVP_PKEY *agency_key;
	X509 *agency_cert;
	/* kiosk: a terminal page; the card is the terminal's, read through
	 * the browser bridge, never by this server. The answer the page
	 * posts is checked by this server's login verifier in-process, at
	 * most kiosk_burst log-ins at once and one per kiosk_every seconds
	 * per client address (429 with Retry-After beyond). */
	/* HTTPS: PEM files of the server's certificate (chain) and its
	 * unencrypted key; both NULL: plain HTTP. With tls_client_ca (PEM,
	 * one or more CA certificates) every client is asked for a
	 * certificate; a request to an internal role (window: /window...,
	 * /api/...) is refused with 403 unless it brought one that verifies
	 * to them for TLS client use; the public roles do not need one. */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_client_ca;
	/* Who gets revocation and linking information (SPEC section 5):
	 * JPKI_REVOCATION_OPEN (0, a sandbox) anyone; with
	 * JPKI_REVOCATION_REGISTERED, OCSP, the CRLs (/crl/) and the linking
	 * look-up (/link/) answer only a registered, enabled verifier
	 * (jpki_ca_verifier_find) whose client certificate verifies to
	 * tls_client_ca and whose fingerprint is registered, and only about
	 * certificates of its purpose; anyone else gets 403. It needs
	 * tls_cert, tls_key, tls_client_ca and `store`. Every answered query
	 * is counted per verifier and day (jpki_ca_usage_*, flushed every
	 * second). */
	int revocation_access;
	/* oidc: the provider (borrowed; NULL: the role answers 503). Its
	 * log-in answers are bound to its issuer's origin. */
	struct jpki_oidc *oidc;
	/* repository: the portal site's directory (download/ and notices,
	 * docs/REGISTRY.md); NULL: the page offers none */
	const char *portal_dir;
};
enum jpki_revocation_access {
	JPKI_REVOCATION_OPEN = 0,
	JPKI_REVOCATION_REGISTERED = 1,
};
/* "open" or "registered". */
int jpki_http_revocation_parse(int *out, const char *text) JPKI_MUST_CHECK;
#define JPKI_HTTP_OPTIONS_VERSION 1
#define JPKI_HTTP_OPTIONS_INIT {.version = JPKI_HTTP_OPTIONS_VERSION}

struct jpki_http;

/* Starts serving in background threads; caller stops with
 * jpki_http_stop(). */
int jpki_http_start(struct jpki_http **out,
		    const struct jpki_http_options *opts) JPKI_MUST_CHECK;
/*
 * Hands the window a card-issuer key made after start (borrowed: it must
 * outlive the server). Only when it has none: JPKI_ERR_STATE otherwise.
 * Safe while requests run: they see either no key or this one.
 */
int jpki_http_set_card_issuer(struct jpki_http *srv,
			      EVP_PKEY *key) JPKI_MUST_CHECK;
/* The port actually bound. */
uint16_t jpki_http_port(const struct jpki_http *srv);
/* The OCSP listener's port; 0 without one. */
uint16_t jpki_http_ocsp_port(const struct jpki_http *srv);
/* The roles the server runs. */
unsigned jpki_http_roles(const struct jpki_http *srv);
/* "https" when serving TLS, else "http". */
const char *jpki_http_scheme(const struct jpki_http *srv);
/* Stops the server and frees it (NULL is accepted). */
void jpki_http_stop(struct jpki_http *srv);

/*
 * The login role's verifier over `ca` (borrowed; must outlive *out): it
 * trusts the CA's authentication CA certificate, takes revocation status
 * from the CA's records, and gives each resident an account id that the
 * CA's linking records keep across renewals. `origin` is a URL whose
 * scheme://host[:port] answers are bound to; NULL for the CA's public
 * URL. Caller frees *out with jpki_verify_login_free().
 */
int jpki_http_login_new(struct jpki_verify_login **out, struct jpki_ca *ca,
			const char *origin) JPKI_MUST_CHECK;

#endif
