/*
 * Registered relying parties at the door of the repository and OCSP roles
 * (`--revocation-access registered`, SPEC section 5), and the linking
 * look-up they may make.
 *
 * A verifier is let in by its TLS client certificate: it must verify to
 * the client CA (expiry, TLS client use; tls.c) and its SHA-256 must be a
 * registered, enabled verifier's (jpki_ca_verifier_find, one indexed read
 * a request). The CA gives the handshake the names a client picks its
 * certificate by and the usual X.509 checks; the pin makes registration,
 * not issuance, the grant, so a second certificate of the same CA is
 * refused and a removed verifier is refused at its next request, without
 * a CRL of client certificates. Refusals are 403 after the handshake (the
 * handshake only requests a certificate: residents fetch the CA
 * certificates from the same listener without one).
 *
 * Every answered query is counted in memory (jpki_ca_usage_count) and a
 * thread of its own writes the counts every second in one transaction; a
 * crash loses at most that second's counts.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http_internal.h"

/*
 * Client certificates verified lately, by the SHA-256 of their DER: the
 * X.509 verification depends only on those bytes, the client CA (fixed
 * for the server's life) and the time, and with OpenSSL 3 parsing and
 * verifying a certificate on every request cost five times an OCSP answer
 * (the flood bench). A hit younger than RELYING_VERIFIED_FOR seconds skips
 * it, so an expiry shows at most that late; the register is still read
 * on every request, so a removal shows at once. The handshake has proved
 * the client holds the key of what it sent, whatever the cache says.
 */
#define RELYING_VERIFIED_SLOTS 64
#define RELYING_VERIFIED_FOR 60
struct http_verified {
	pthread_mutex_t lock;
	struct {
		char fp[65];
		char subject[256];
		time_t at; /* monotonic seconds */
	} slot[RELYING_VERIFIED_SLOTS];
};

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* 1 with the subject when fp was verified lately, else 0. */
static int verified_lately(struct http_verified *c, char *subject,
			   size_t size, const char *fp)
{
	time_t now = mono_now();
	int hit = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < RELYING_VERIFIED_SLOTS && !hit; i++)
		if (c->slot[i].fp[0] != '\0' &&
		    strcmp(c->slot[i].fp, fp) == 0 &&
		    now - c->slot[i].at < RELYING_VERIFIED_FOR) {
			snprintf(subject, size, "%s", c->slot[i].subject);
			hit = 1;
		}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void verified_now(struct http_verified *c, const char *fp,
			 const char *subject)
{
	time_t now = mono_now();
	size_t slot = 0;

	pthread_mutex_lock(&c->lock);
	/* its own slot, else the oldest */
	for (size_t i = 0; i < RELYING_VERIFIED_SLOTS; i++) {
		if (strcmp(c->slot[i].fp, fp) == 0) {
			slot = i;
			break;
		}
		if (c->slot[i].at < c->slot[slot].at)
			slot = i;
	}
	snprintf(c->slot[slot].fp, sizeof(c->slot[slot].fp), "%s", fp);
	snprintf(c->slot[slot].subject, sizeof(c->slot[slot].subject), "%s",
		 subject);
	c->slot[slot].at = now;
	pthread_mutex_unlock(&c->lock);
}

int jpki_http_revocation_parse(int *out, const char *text)
{
	*out = JPKI_REVOCATION_OPEN;
	if (text != NULL && strcmp(text, "open") == 0)
		return 0;
	if (text != NULL && strcmp(text, "registered") == 0) {
		*out = JPKI_REVOCATION_REGISTERED;
		return 0;
	}
	return jpki_err_set(JPKI_ERR_INVALID,
			    "revocation access is open or registered, not "
			    "'%s'",
			    text ? text : "");
}

static void *flush_loop(void *arg)
{
	struct jpki_http *srv = arg;

	while (!atomic_load(&srv->stopping)) {
		/* ten looks a second at stopping, one flush */
		for (int i = 0; i < 10 && !atomic_load(&srv->stopping); i++)
			usleep(100 * 1000);
		if (jpki_ca_usage_flush(srv->usage, NULL) != 0)
			jpki_log(JPKI_LOG_ERROR,
				 "verifier usage: %s (kept for the next "
				 "flush)",
				 jpki_err_detail());
	}
	return NULL;
}

int http_relying_start(struct jpki_http *srv,
		       const struct jpki_http_options *opts)
{
	int r;

	if (opts->revocation_access == JPKI_REVOCATION_OPEN)
		return 0;
	if (opts->revocation_access != JPKI_REVOCATION_REGISTERED)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "unknown revocation access %d",
				    opts->revocation_access);
	if (!(srv->roles & (JPKI_ROLE_REPOSITORY | JPKI_ROLE_OCSP)))
		return 0;
	if (srv->client_ca == NULL || srv->st == NULL)
		return jpki_err_set(
		    JPKI_ERR_CONFIG,
		    "--revocation-access registered needs HTTPS with the "
		    "verifiers' client CA (--tls-cert, --tls-key, "
		    "--tls-client-ca)");
	if ((r = jpki_ca_usage_new(&srv->usage, srv->st)) != 0)
		return r;
	if ((srv->verified = calloc(1, sizeof(*srv->verified))) == NULL)
		return JPKI_ERR_NOMEM;
	pthread_mutex_init(&srv->verified->lock, NULL);
	srv->registered = 1;
	if (pthread_create(&srv->flusher, NULL, flush_loop, srv) != 0)
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "cannot start the usage counts' thread");
	srv->flusher_running = 1;
	return 0;
}

void http_relying_stop(struct jpki_http *srv)
{
	if (srv->flusher_running) {
		atomic_store(&srv->stopping, 1);
		pthread_join(srv->flusher, NULL);
		srv->flusher_running = 0;
	}
	jpki_ca_usage_free(srv->usage); /* the last counts */
	srv->usage = NULL;
	if (srv->verified != NULL) {
		pthread_mutex_destroy(&srv->verified->lock);
		free(srv->verified);
		srv->verified = NULL;
	}
}

int http_relying_guarded(const struct http_route *route)
{
	return route != NULL && (route->handler == http_ocsp ||
				 route->handler == http_repository_crl ||
				 route->handler == http_link);
}

int http_relying_admit(enum MHD_Result *ret, struct jpki_http *srv,
		       struct MHD_Connection *conn, struct upload *up,
		       const char *url)
{
	struct jpki_verifier v;
	char why[768], fp[65];
	int r = JPKI_ERR_POLICY;

	up->verifier[0] = '\0';
	http_tls_client_fingerprint(fp, conn);
	if (fp[0] == '\0' ||
	    !verified_lately(srv->verified, up->client, sizeof(up->client),
			     fp)) {
		if (http_tls_client(up->client, sizeof(up->client), srv,
				    conn) != 0)
			goto refused;
		verified_now(srv->verified, fp, up->client);
	}
	/* the register on the replica when there is one (the usage counts,
	 * a write, stay on the primary) */
	if ((r = srv->ca != NULL
		     ? jpki_ca_verifier_find_read(&v, srv->ca, fp)
		     : jpki_ca_verifier_find(&v, srv->st, fp)) != 0)
		goto refused;
	snprintf(up->verifier, sizeof(up->verifier), "%s", v.name);
	up->purpose = v.purpose;
	return 0;
refused:
	/* a replica past its bound cannot say who is registered now */
	if (r == JPKI_ERR_STATE) {
		*ret = http_send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      "the replica is behind: try again "
				      "later\n");
		return JPKI_ERR_STATE;
	}
	snprintf(why, sizeof(why),
		 "forbidden: revocation and linking information are for "
		 "registered verifiers only, with their client certificate "
		 "(%s)\n",
		 jpki_err_detail());
	jpki_log(JPKI_LOG_WARN, "relying party refused at %s: %s", url,
		 jpki_err_detail());
	*ret = http_send_text(conn, MHD_HTTP_FORBIDDEN, why);
	return JPKI_ERR_POLICY;
}

int http_relying_scope(enum MHD_Result *ret, struct MHD_Connection *conn,
		       const struct upload *up, unsigned types)
{
	char why[256];

	if (up->verifier[0] == '\0' || (types & ~(1u << up->purpose)) == 0)
		return 0;
	snprintf(why, sizeof(why),
		 "forbidden: the verifier %s is registered for %s "
		 "certificates only\n",
		 up->verifier,
		 up->purpose == JPKI_CERT_SIGN ? "signing" : "authentication");
	jpki_log(JPKI_LOG_WARN, "relying party %s: out of its purpose",
		 up->verifier);
	*ret = http_send_text(conn, MHD_HTTP_FORBIDDEN, why);
	return JPKI_ERR_POLICY;
}

void http_relying_count(struct jpki_http *srv, const struct upload *up,
			enum jpki_verifier_query q)
{
	if (srv->usage != NULL && up->verifier[0] != '\0')
		jpki_ca_usage_count(srv->usage, up->verifier, q);
}

/* "<hex key id>/<hex serial>": the two into out buffers; 0 or -1. */
static int link_path(char *keyid, size_t kn, char *serial, size_t sn,
		     const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t a, b;

	if (slash == NULL)
		return -1;
	a = (size_t)(slash - rest);
	b = strlen(slash + 1);
	if (a == 0 || a >= kn || b == 0 || b >= sn)
		return -1;
	for (size_t i = 0; i < a; i++)
		if (!strchr("0123456789abcdefABCDEF:", rest[i]))
			return -1;
	for (size_t i = 0; i < b; i++)
		if (!strchr("0123456789abcdefABCDEF", slash[1 + i]))
			return -1;
	memcpy(keyid, rest, a);
	keyid[a] = '\0';
	memcpy(serial, slash + 1, b + 1);
	return 0;
}

enum MHD_Result http_link(struct jpki_http *srv, struct MHD_Connection *conn,
			  struct http_request *req)
{
	char keyid[130], serial[41];
	enum jpki_cert_type type;
	unsigned char *der = NULL;
	size_t len = 0;
	enum MHD_Result ret;
	int r;

	if (link_path(keyid, sizeof(keyid), serial, sizeof(serial),
		      req->rest) != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND,
				      "use /link/<issuer key id, hex>/<serial, "
				      "hex>\n");
	if (jpki_ca_key_id_type(&type, srv->ca, keyid) != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND,
				      "no CA of this service has that key "
				      "id\n");
	if (http_relying_scope(&ret, conn, req->up, 1u << type) != 0)
		return ret;
	if ((r = jpki_ca_link_answer(&der, &len, srv->ca, type, serial)) !=
	    0) {
		if (r == JPKI_ERR_NOT_FOUND)
			return http_send_text(conn, MHD_HTTP_NOT_FOUND,
					      "no certificate of that CA has "
					      "that serial\n");
		/* a replica past its bound (jpki_ca_read_from) */
		if (r == JPKI_ERR_STATE)
			return http_send_text(conn,
					      MHD_HTTP_SERVICE_UNAVAILABLE,
					      "the replica is behind: try "
					      "again later\n");
		jpki_log(JPKI_LOG_ERROR, "link %s: %s", serial,
			 jpki_err_detail());
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      "the linking look-up failed\n");
	}
	ret = http_send(conn, MHD_HTTP_OK, "application/pkcs7-mime", der, len,
			"no-store");
	free(der);
	if (ret == MHD_YES)
		http_relying_count(srv, req->up, JPKI_QUERY_LINK);
	return ret;
}
