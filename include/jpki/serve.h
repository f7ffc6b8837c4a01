/*
 * serve: the life of a `jpki serve` process, above http and below cli.
 *
 * It opens the store and the CAs once, runs every module's migrations once
 * at start for the roles asked for (ca always; registry, audit and window
 * with window, portal or kiosk; the portal's own with portal), loads the
 * keys, starts the HTTP server and runs the periodic work in a thread of its
 * own, each piece only where the role that owns it runs:
 *
 *   window      every tick (0.2 s): the registry's change events become
 *               revocations (jpki_ca_apply_registry_events: a plain read
 *               when there is nothing new, one consumer at a time across
 *               processes); every second, while the server has no
 *               card-issuer key, a look for one made since (jpki card new),
 *               handed to the window without a restart
 *   repository  every second: full CRLs a change marked stale; every
 *               minute: CRLs within half a period of their nextUpdate
 *   (any, with a read store) every max_lag_ms / 5: the heartbeat row
 *               on the primary that bounds the replica's lag, in a
 *               thread and on a connection of its own
 *
 * Nothing after start migrates, and the ocsp, login, portal and kiosk roles
 * run no periodic work: an OCSP responder's store sees no write.
 */
#ifndef JPKI_SERVE_H
#define JPKI_SERVE_H

#include <stdint.h>

#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/http.h"
#include "jpki/store.h"

/* The most HTTP workers `threads` 0 makes on PostgreSQL: each holds a read
 * connection to it. */
#define JPKI_SERVE_PG_WORKERS_MAX 32

struct jpki_serve_options {
	int version;           /* JPKI_SERVE_OPTIONS_VERSION */
	const char *store_url; /* jpki_store_open()'s URL; required */
	/* The CA's settings (crl_period, ocsp_validity, crl_inline_max,
	 * pkcs11_pin_file) */
	struct jpki_ca_options ca;
	unsigned roles;     /* enum jpki_http_role bits; 0 = all */
	const char *listen; /* "127.0.0.1:8080"; port 0 picks a free one */
	unsigned threads;   /* HTTP workers; 0 = one per core, four per
			     * core on PostgreSQL (at most
			     * JPKI_SERVE_PG_WORKERS_MAX) */
	const char *login_origin; /* NULL: the CA's public URL */
	const char *tls_cert, *tls_key, *tls_client_ca; /* see http.h */
	int revocation_access; /* JPKI_REVOCATION_OPEN or _REGISTERED */
	/* window: the card-issuer key's PEM (DATA/keys/card-issuer.key);
	 * looked for again every second while absent. NULL: no issuing. */
	const char *card_issuer_key;
	const char *counter_reader; /* NULL: the only card present */
	/* portal: the agency's key and certificate, PEM; made on first
	 * start when the key does not exist (a development pair) */
	const char *agency_key, *agency_cert;
	const char *portal_dir; /* the portal site's directory; NULL: none */
	/* connection limits and the OCSP-only listener (http.h; 0 and NULL:
	 * the defaults) */
	const char *ocsp_listen;
	unsigned max_connections, ocsp_connections, per_address;
	unsigned header_timeout, body_timeout;
	/* the operators' log-in limits and the kiosk's budget (http.h; 0:
	 * the defaults; out of range: jpki_serve_start() refuses) */
	unsigned login_account_free, login_account_lock;
	unsigned login_address_free, login_max_wait;
	unsigned kiosk_burst, kiosk_every;
	unsigned tick_ms;         /* the periodic work's tick; 0 = 200 */
	/* oidc (docs/OIDC.md): the issuer URL (NULL: the CA's public URL),
	 * the ID-token key's PEM and the pairwise-subject secret's file,
	 * both made on first start where missing; required with the role */
	const char *oidc_issuer, *oidc_key, *oidc_secret;
	/* Replicas (docs/PERFORMANCE.md): a read store (a hot standby) the
	 * ocsp and repository roles read status, CRLs and CA certificates
	 * from, while every write still goes to store_url; NULL: they read
	 * store_url, as before. With it, a heartbeat thread writes this
	 * process's mark into store_url every max_lag_ms / 5 (20 ms to 1 s),
	 * and past max_lag_ms (0 = JPKI_SERVE_MAX_LAG_MS) of replica lag
	 * OCSP answers tryLater for anything but a revocation, CRLs and
	 * /healthz 503. */
	const char *read_store_url;
	unsigned max_lag_ms;
};
#define JPKI_SERVE_MAX_LAG_MS 5000
#define JPKI_SERVE_OPTIONS_VERSION 1
#define JPKI_SERVE_OPTIONS_INIT                                                \
	{.version = JPKI_SERVE_OPTIONS_VERSION, .ca = JPKI_CA_OPTIONS_INIT}

struct jpki_serve;

/*
 * Opens the store and the CAs, migrates, loads the keys, starts the HTTP
 * server and the periodic work. A missing card-issuer key is not an error
 * (a warning is logged; the window issues once it appears). The caller
 * stops and frees *out with jpki_serve_stop().
 */
int jpki_serve_start(struct jpki_serve **out,
		     const struct jpki_serve_options *opts) JPKI_MUST_CHECK;
/* Stops the periodic work, then the HTTP server, and frees everything
 * (NULL is accepted). */
void jpki_serve_stop(struct jpki_serve *sv);

/* The port bound, and "http" or "https". */
uint16_t jpki_serve_port(const struct jpki_serve *sv);
const char *jpki_serve_scheme(const struct jpki_serve *sv);
/* The roles served (enum jpki_http_role bits, never 0). */
unsigned jpki_serve_roles(const struct jpki_serve *sv);
/* The OCSP-only listener's port; 0 without one. */
uint16_t jpki_serve_ocsp_port(const struct jpki_serve *sv);
/* The server's CA and store: borrowed, valid until jpki_serve_stop(). */
struct jpki_ca *jpki_serve_ca(const struct jpki_serve *sv);
struct jpki_store *jpki_serve_store(const struct jpki_serve *sv);
/* 1 when the window holds a card-issuer key (loaded at start or since). */
int jpki_serve_has_card_issuer(const struct jpki_serve *sv);
/* Rounds of the periodic work run so far (for tests that wait for one). */
uint64_t jpki_serve_ticks(const struct jpki_serve *sv);

#endif
