/*
 * The HTTP server: libmicrohttpd with a thread pool, request bodies capped,
 * idle connections timed out, and a router that hands each path to the
 * role that owns it.
 *
 * The server accepts connections itself, on one thread, and hands each to
 * libmicrohttpd, which spreads them over its workers by socket number. Left
 * to accept for itself, the worker that wakes first takes up to ten waiting
 * connections at once, so a client opening a few kept-alive connections
 * together (a relying party's pool, wrk) was often served by one worker
 * while the other cores idled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "http/http_internal.h"

int jpki_http_roles_parse(unsigned *out, const char *text)
{
	char *copy, *save = NULL;
	unsigned roles = 0;

	*out = 0;
	if (text == NULL || (copy = strdup(text)) == NULL)
		return JPKI_ERR_NOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			roles |= JPKI_ROLE_ALL;
		} else if (strcmp(tok, "repository") == 0 ||
			   strcmp(tok, "crl") == 0) {
			roles |= JPKI_ROLE_REPOSITORY;
		} else if (strcmp(tok, "ocsp") == 0) {
			roles |= JPKI_ROLE_OCSP;
		} else if (strcmp(tok, "login") == 0) {
			roles |= JPKI_ROLE_LOGIN;
		} else if (strcmp(tok, "window") == 0) {
			roles |= JPKI_ROLE_WINDOW;
		} else if (strcmp(tok, "portal") == 0) {
			roles |= JPKI_ROLE_PORTAL;
		} else if (strcmp(tok, "kiosk") == 0) {
			roles |= JPKI_ROLE_KIOSK;
		} else if (strcmp(tok, "oidc") == 0) {
			roles |= JPKI_ROLE_OIDC;
		} else {
			int r = jpki_err_set(JPKI_ERR_INVALID,
					     "unknown role '%s' (all, "
					     "repository, ocsp, login, window, "
					     "portal, kiosk, oidc)",
					     tok);
			free(copy);
			return r;
		}
	}
	free(copy);
	if (roles == 0)
		return jpki_err_set(JPKI_ERR_INVALID, "no role given");
	*out = roles;
	return 0;
}

enum MHD_Result http_send(struct MHD_Connection *conn, unsigned status,
			  const char *type, const void *data, size_t len,
			  const char *cache)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)data,
					       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (cache != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
					cache);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result http_send_text(struct MHD_Connection *conn, unsigned status,
			       const char *text)
{
	return http_send(conn, status, "text/plain; charset=utf-8", text,
			   strlen(text), "no-store");
}

static enum MHD_Result send_ocsp(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 const struct upload *up,
				 const unsigned char *req, size_t len,
				 int is_get)
{
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	enum MHD_Result ret;
	int r;

	/* registered mode: a verifier asks about its own purpose's CA */
	if (up->verifier[0] != '\0') {
		unsigned types;

		jpki_ca_ocsp_request_types(&types, srv->ca, req, len);
		if (http_relying_scope(&ret, conn, up, types) != 0)
			return ret;
	}
	/* PostgreSQL: the status counter is read for many requests at once
	 * (ocsp_wait.c), the connection suspended meanwhile; then answered
	 * under what was read, or, when it could not be, with every status
	 * read. Without the reader, the responder reads it itself. */
	if (up->stamp_state == HTTP_STAMP_NOT_ASKED && len != 0 &&
	    len <= JPKI_MAX_OCSP_REQUEST &&
	    http_stamps_wait(srv, conn, (struct upload *)up) == 0)
		return MHD_YES;
	if ((r = up->stamp_state == HTTP_STAMP_NOT_ASKED
			 ? jpki_ca_ocsp_respond(&resp, &resp_len, srv->ca,
						req, len)
			 : jpki_ca_ocsp_respond_stamped(
				   &resp, &resp_len, srv->ca, req, len,
				   up->stamp_state == HTTP_STAMP_READ
					   ? &up->stamp
					   : NULL)) != 0) {
		jpki_log(JPKI_LOG_ERROR, "OCSP: %s: %s", jpki_strerror(r),
			 jpki_err_detail());
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				 "the OCSP responder failed\n");
	}
	/* a registered verifier's answer is its own: no shared cache; a
	 * tryLater (the unsigned 30 03 0A 01 03: no responseBytes) is this
	 * moment's, never cached */
	ret = http_send(conn, MHD_HTTP_OK, "application/ocsp-response", resp,
			  resp_len,
			  !is_get || (resp_len == 5 && resp[4] == 3)
						  ? "no-store"
			  : up->verifier[0] != '\0' ? "private, max-age=300"
						  : "max-age=300, public");
	free(resp);
	if (ret == MHD_YES)
		http_relying_count(srv, up, JPKI_QUERY_OCSP);
	return ret;
}

enum MHD_Result http_send_json(struct MHD_Connection *conn, unsigned status,
			       char *json)
{
	enum MHD_Result ret;

	if (json == NULL)
		return MHD_NO;
	ret = http_send(conn, status, "application/json", json, strlen(json),
			  "no-store");
	free(json);
	return ret;
}

/* GET /login/challenge: a fresh challenge, remembered until answered. */
enum MHD_Result http_login_challenge(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct jpki_verify_challenge ch;
	unsigned retry = 1;
	char *json = NULL;

	/* One address cannot take more than its share of the bounded
	 * table of outstanding challenges. */
	if (!http_limit_take(srv->challenge_limit,
			     ci != NULL ? ci->client_addr : NULL, &retry)) {
		struct MHD_Response *resp;
		static const char text[] = "too many log-in challenges from "
					   "this address: try again later\n";
		char after[16];
		enum MHD_Result ret;

		snprintf(after, sizeof(after), "%u", retry);
		resp = MHD_create_response_from_buffer(
			sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					after);
		ret = MHD_queue_response(conn, MHD_HTTP_TOO_MANY_REQUESTS,
					 resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (jpki_verify_login_challenge(&ch, srv->login) != 0 ||
	    jpki_verify_login_challenge_json(&json, srv->login, &ch) != 0) {
		jpki_log(JPKI_LOG_ERROR, "login challenge: %s",
			 jpki_err_detail());
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				 "no challenge can be made\n");
	}
	return http_send_json(conn, MHD_HTTP_OK, json);
}

/* POST /login/response: the verdict on an answer, 200, 400 or 401. */
enum MHD_Result http_login_response(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req)
{
	const struct upload *up = req->up;
	struct jpki_verify_login_result res;
	char *json = NULL;

	if (up->too_large) {
		/* The body was not kept past the cap; the verdict the
		 * verifier gives any answer over it. */
		memset(&res, 0, sizeof(res));
		res.why = JPKI_LOGIN_TOO_LARGE;
		res.http_status = MHD_HTTP_BAD_REQUEST;
		snprintf(res.reason, sizeof(res.reason),
			 "the answer is larger than %d KiB",
			 JPKI_MAX_LOGIN_ANSWER / 1024);
	} else if (jpki_verify_login_check(&res, srv->login, up->data,
					   up->len) != 0) {
		jpki_log(JPKI_LOG_ERROR, "login: %s", jpki_err_detail());
	}
	if (res.accepted)
		jpki_log(JPKI_LOG_INFO, "login: accepted certificate %s",
			 res.serial);
	if (jpki_verify_login_result_json(&json, &res) != 0)
		return MHD_NO;
	return http_send_json(conn, res.http_status, json);
}

/* RFC 6960 appendix A.1: GET {url}/{url-encoding of base64 of DER}.
 * libmicrohttpd has already undone the %-escapes of the path. */
static enum MHD_Result ocsp_get(struct jpki_http *srv,
				struct MHD_Connection *conn,
				const struct upload *up, const char *b64)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char *der;
	enum MHD_Result ret;
	int len;

	if (n == 0 || n % 4 != 0 || n > (JPKI_MAX_OCSP_REQUEST / 3 + 1) * 4)
		return send_ocsp(srv, conn, up, NULL, 0, 1); /* malformed */
	if ((der = malloc(n / 4 * 3 + 1)) == NULL)
		return MHD_NO;
	len = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	if (b64[n - 1] == '=')
		pad++;
	if (b64[n - 2] == '=')
		pad++;
	if (len < 0 || (size_t)len < pad)
		ret = send_ocsp(srv, conn, up, NULL, 0, 1);
	else
		ret = send_ocsp(srv, conn, up, der, (size_t)len - pad, 1);
	free(der);
	return ret;
}

void http_html_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* The repository's front page (the portal site's CA section). */
enum MHD_Result http_repository_index(struct jpki_http *srv,
				      struct MHD_Connection *conn,
				      struct http_request *req)
{
	static const struct {
		enum jpki_cert_type type;
		const char *name, *title;
	} cas[] = {
		{JPKI_CERT_SIGN, "sign", "署名用認証局 (signing CA)"},
		{JPKI_CERT_AUTH, "auth", "利用者証明用認証局 (user authentication CA)"},
	};
	char *page = NULL, **scopes = NULL, **names = NULL;
	size_t len = 0, nscopes = 0, nnames = 0;
	FILE *f = open_memstream(&page, &len);
	enum MHD_Result ret;

	if (f == NULL)
		return MHD_NO;
	if (jpki_ca_crl_scopes(&scopes, &nscopes, srv->ca) != 0)
		nscopes = 0;
	if (jpki_ca_published(&names, &nnames, srv->ca) != 0)
		nnames = 0;
	fputs("<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
	      "<title>OpenJPKI repository</title></head><body>"
	      "<h1>公的個人認証サービス — OpenJPKI repository</h1>"
	      "<p>CA certificates, certificate revocation lists and OCSP "
	      "responders of this installation. Check a CA certificate's "
	      "SHA-256 fingerprint before you trust it.</p>",
	      f);
	for (size_t i = 0; i < 2; i++) {
		X509 *cert = jpki_ca_cert(srv->ca, cas[i].type);
		int gen = jpki_ca_generation(srv->ca, cas[i].type);
		char fp[96], file[32], *dn = X509_NAME_oneline(
				     X509_get_subject_name(cert), NULL, 0);

		/* the current generation: "sign" until a rollover */
		if (gen > 1)
			snprintf(file, sizeof(file), "%s-%d", cas[i].name, gen);
		else
			snprintf(file, sizeof(file), "%s", cas[i].name);
		jpki_profile_fingerprint(fp, cert);
		fprintf(f, "<h2>%s</h2><p>", cas[i].title);
		http_html_escape(f, dn ? dn : "");
		fprintf(f,
			"</p><p>Generation %d. SHA-256 fingerprint: "
			"<code>%s</code></p>"
			"<ul><li><a href=\"/ca/%s.crt\">CA certificate (DER)"
			"</a> · <a href=\"/ca/%s.pem\">PEM</a></li>"
			"<li>OCSP: <code>",
			gen, fp, file, file);
		http_html_escape(f, jpki_ca_public_url(srv->ca));
		fprintf(f, "/ocsp/%s</code></li></ul>", cas[i].name);
		OPENSSL_free(dn);
	}
	/* After a rollover: every generation and the link certificates
	 * that carry trust from one to the next (RFC 4210 5.3.13). */
	if (nnames > 2) {
		fputs("<h2>CA generations and link certificates</h2><ul>", f);
		for (size_t i = 0; i < nnames; i++) {
			fputs("<li><a href=\"/ca/", f);
			http_html_escape(f, names[i]);
			fputs(".crt\">", f);
			http_html_escape(f, names[i]);
			fputs("</a></li>", f);
		}
		fputs("</ul>", f);
	}
	fputs("<h2>CRLs</h2><ul>", f);
	for (size_t i = 0; i < nscopes; i++) {
		fputs("<li><a href=\"/crl/", f);
		http_html_escape(f, scopes[i]);
		fputs(".crl\">", f);
		http_html_escape(f, scopes[i]);
		fputs("</a></li>", f);
	}
	fputs("</ul>", f);
	http_portal_site(f, srv);
	fputs("</body></html>\n", f);
	fclose(f);
	jpki_ca_scopes_free(scopes, nscopes);
	jpki_ca_scopes_free(names, nnames);
	ret = http_send(conn, MHD_HTTP_OK, "text/html; charset=utf-8", page,
			  len, "no-cache");
	free(page);
	return ret;
}

/*
 * GET /ca/<name>.{crt,cer,pem}: "sign" and "auth" (generation 1, which
 * its certificates name), "sign-N" (every generation, retired ones too),
 * "sign-link-A-B" (generation A's key certifying generation B's).
 */
enum MHD_Result http_repository_ca(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	const char *name = req->rest;
	const char *ext = strchr(name, '.');
	unsigned char *der = NULL;
	size_t len = 0;
	char base[32];
	enum MHD_Result ret;
	int pem, r;

	if (ext == NULL || (size_t)(ext - name) >= sizeof(base))
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	pem = strcmp(ext, ".pem") == 0;
	if (!pem && strcmp(ext, ".crt") != 0 && strcmp(ext, ".cer") != 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	memcpy(base, name, (size_t)(ext - name));
	base[ext - name] = '\0';
	if ((r = jpki_ca_published_get(&der, &len, srv->ca, base)) != 0) {
		if (r == JPKI_ERR_NOT_FOUND)
			return http_send_text(conn, MHD_HTTP_NOT_FOUND,
					      "not found\n");
		jpki_log(JPKI_LOG_ERROR, "CA certificate %s: %s", base,
			 jpki_err_detail());
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      "the certificate cannot be read\n");
	}
	if (pem) {
		const unsigned char *p = der;
		X509 *cert = d2i_X509(NULL, &p, (long)len);
		BIO *mem = BIO_new(BIO_s_mem());
		char *data;
		long n;

		if (cert == NULL || mem == NULL ||
		    !PEM_write_bio_X509(mem, cert)) {
			X509_free(cert);
			BIO_free(mem);
			free(der);
			return MHD_NO;
		}
		n = BIO_get_mem_data(mem, &data);
		ret = http_send(conn, MHD_HTTP_OK, "application/x-pem-file",
				data, (size_t)n, "max-age=3600");
		X509_free(cert);
		BIO_free(mem);
		free(der);
		return ret;
	}
	ret = http_send(conn, MHD_HTTP_OK, "application/pkix-cert", der, len,
			"max-age=3600");
	free(der);
	return ret;
}

/* GET /crl/<scope>.crl */
enum MHD_Result http_repository_crl(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req)
{
	const char *path = req->rest;
	size_t n = strlen(path);
	unsigned char *der = NULL;
	size_t len = 0;
	char scope[32];
	enum MHD_Result ret;
	int r, delta = 0;

	if (n < 5 || n - 4 >= sizeof(scope) || strcmp(path + n - 4, ".crl"))
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	memcpy(scope, path, n - 4);
	scope[n - 4] = '\0';
	/* "<scope>.delta.crl": the scope's delta CRL (crl_delta) */
	if (n - 4 > 6 && strcmp(scope + n - 10, ".delta") == 0) {
		scope[n - 10] = '\0';
		delta = 1;
	}
	/* registered mode: "sign", "sign/<code>" and "auth" by purpose */
	if (http_relying_scope(&ret, conn, req->up,
			       1u << (strncmp(scope, "auth", 4) == 0
					  ? JPKI_CERT_AUTH
					  : JPKI_CERT_SIGN)) != 0)
		return ret;
	if ((r = delta ? jpki_ca_crl_delta_get(&der, &len, srv->ca, scope)
		       : jpki_ca_crl_get(&der, &len, srv->ca, scope)) != 0) {
		if (r == JPKI_ERR_NOT_FOUND || r == JPKI_ERR_INVALID)
			return http_send_text(conn, MHD_HTTP_NOT_FOUND,
					 "no such CRL\n");
		/* a replica past its bound (jpki_ca_read_from): another
		 * responder, or this one later, has a fresh one */
		if (r == JPKI_ERR_STATE)
			return http_send_text(conn,
					      MHD_HTTP_SERVICE_UNAVAILABLE,
					      "the replica is behind: try "
					      "again later\n");
		jpki_log(JPKI_LOG_ERROR, "CRL %s: %s", scope,
			 jpki_err_detail());
		return http_send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				 "the CRL cannot be read\n");
	}
	/* a delta changes with every revocation: caches must ask again */
	ret = http_send(conn, MHD_HTTP_OK, "application/pkix-crl", der, len,
			delta ? "no-cache" : "max-age=300");
	free(der);
	if (ret == MHD_YES)
		http_relying_count(srv, req->up, JPKI_QUERY_CRL);
	return ret;
}

/* "/ocsp", "/ocsp/sign", "/ocsp/auth": which prefix, and what follows. */
static const char *ocsp_rest(const char *url)
{
	if (strncmp(url, "/ocsp", 5) != 0)
		return NULL;
	url += 5;
	if (strncmp(url, "/sign", 5) == 0 || strncmp(url, "/auth", 5) == 0)
		if (url[5] == '\0' || url[5] == '/')
			url += 5;
	if (*url == '\0')
		return url;
	return *url == '/' ? url + 1 : NULL;
}

enum MHD_Result http_healthz(struct jpki_http *srv, struct MHD_Connection *conn,
			     struct http_request *req)
{
	int64_t lag;
	char text[160];

	/* On a replica, 503 past the bound, so that a load balancer sends
	 * the verifiers elsewhere (docs/PERFORMANCE.md, "Replicas"). */
	if (srv->ca != NULL && jpki_ca_read_lag(&lag, srv->ca) != 0) {
		snprintf(text, sizeof(text), "behind: %s\n", jpki_err_detail());
		return http_send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	}
	return http_send_text(conn, MHD_HTTP_OK, "ok\n");
}

/* POST /ocsp[/sign|/auth] with the DER request, or GET with it in base64. */
enum MHD_Result http_ocsp(struct jpki_http *srv, struct MHD_Connection *conn,
			  struct http_request *req)
{
	const char *rest = ocsp_rest(req->url);

	if (rest == NULL)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (req->post)
		return send_ocsp(srv, conn, req->up, req->up->data,
				 req->up->len, 0);
	return ocsp_get(srv, conn, req->up, rest);
}

/* The window's URLs: a client certificate guards them even where no row
 * answers, so an unknown one tells nothing either. */
static int window_url(const char *url)
{
	return strncmp(url, "/window", 7) == 0 || strncmp(url, "/api/", 5) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	struct jpki_http *srv = cls;
	struct upload *up = *con_cls;
	size_t cap;

	if (up == NULL) {
		if (!http_framing_ok(conn))
			return http_framing_refuse(conn);
		if ((up = calloc(1, sizeof(*up))) == NULL)
			return MHD_NO;
		/* the row, once: it caps the body that follows */
		up->route = strlen(url) > JPKI_MAX_URL
				? NULL
				: http_route_find(srv->roles, url);
		*con_cls = up;
		return MHD_YES; /* headers only so far */
	}
	if (*data_size > 0) {
		/* Collect the body up to its row's cap; past it, only
		 * count. */
		cap = up->route != NULL ? up->route->body_cap : 0;
		if (!up->too_large && *data_size <= cap - up->len) {
			unsigned char *grown = realloc(up->data,
						       up->len + *data_size);

			if (grown == NULL)
				return MHD_NO;
			memcpy(grown + up->len, data, *data_size);
			up->data = grown;
			up->len += *data_size;
		} else {
			up->too_large = 1;
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (strlen(url) > JPKI_MAX_URL)
		return http_send_text(conn, MHD_HTTP_URI_TOO_LONG, "URL too long\n");
	if (srv->registered && http_relying_guarded(up->route)) {
		enum MHD_Result ret;

		/* revocation and linking: registered verifiers only */
		if (http_relying_admit(&ret, srv, conn, up, url) != 0)
			return ret;
	}
	if ((srv->roles & JPKI_ROLE_WINDOW) && srv->client_ca != NULL &&
	    ((up->route != NULL && up->route->role == JPKI_ROLE_WINDOW) ||
	     (up->route == NULL && window_url(url)))) {
		/* an internal role: only a terminal with a certificate of the
		 * client CA reaches it, before any password is looked at */
		char why[512];

		if (http_tls_client(up->client, sizeof(up->client), srv,
				    conn) != 0) {
			snprintf(why, sizeof(why),
				 "forbidden: %s needs a client certificate "
				 "issued by this service's client CA (%s)\n",
				 url[1] == 'w' ? "the window" : "the window API",
				 jpki_err_detail());
			jpki_log(JPKI_LOG_WARN, "window: refused %s %s: %s",
				 method, url, jpki_err_detail());
			return http_send_text(conn, MHD_HTTP_FORBIDDEN, why);
		}
		jpki_log(JPKI_LOG_DEBUG, "window: %s %s from client %s", method,
			 url, up->client);
	}
	return http_route_dispatch(srv, conn, url, method, up);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	if (up != NULL) {
		http_login_job_free(up->login);
		free(up->data);
		free(up);
		*con_cls = NULL;
	}
}

/* libmicrohttpd hands us its own format string; tell the compiler so */
static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	jpki_log(JPKI_LOG_WARN, "http: %s", msg);
}

static int parse_listen(struct sockaddr_in *sa, const char *listen)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	char host[64];
	char *end;
	long port;

	memset(sa, 0, sizeof(*sa));
	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
		goto bad;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		goto bad;
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		goto bad;
	return 0;
bad:
	return jpki_err_set(JPKI_ERR_INVALID,
			    "listen address '%s' must be IPv4:port, e.g. "
			    "127.0.0.1:8080",
			    listen ? listen : "");
}

/* Best effort, plain HTTP only: why the connection closes at once. */
static void refuse(struct jpki_http *srv, int fd)
{
#define BUSY_TEXT "too many connections: try again\n"
	_Static_assert(sizeof(BUSY_TEXT) - 1 == 32, "Content-Length below");
	static const char busy[] =
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Connection: close\r\nRetry-After: 1\r\nContent-Length: 32\r\n"
		"\r\n" BUSY_TEXT;

	if (srv->tls_cert_pem == NULL)
		(void)send(fd, busy, sizeof(busy) - 1,
			   MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/* Accepts on the main listener and the OCSP one until jpki_http_stop()
 * sets stopping; each connection within its limits (conns.c) goes to the
 * daemon. */
static void *accept_loop(void *arg)
{
	struct jpki_http *srv = arg;

	while (!atomic_load(&srv->stopping)) {
		struct pollfd pfd[2] = {{srv->listen_fd, POLLIN, 0},
					{srv->ocsp_fd, POLLIN, 0}};
		nfds_t n = srv->ocsp_fd >= 0 ? 2 : 1;

		if (poll(pfd, n, 250) <= 0)
			continue;
		for (nfds_t i = 0; i < n; i++) {
			struct sockaddr_storage addr;
			socklen_t len = sizeof(addr);
			int fd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept4(pfd[i].fd, (struct sockaddr *)&addr, &len,
				     SOCK_CLOEXEC);
			if (fd < 0) {
				/* Out of descriptors: let connections
				 * finish. */
				if (errno == EMFILE || errno == ENFILE ||
				    errno == ENOBUFS || errno == ENOMEM)
					usleep(10000);
				continue;
			}
			if (!http_conns_admit(srv->conns, fd,
					      (struct sockaddr *)&addr, i == 1)) {
				refuse(srv, fd);
				continue;
			}
			/* MHD closes the socket if it cannot take it (at
			 * its connection limit). */
			if (MHD_add_connection(srv->daemon, fd,
					       (struct sockaddr *)&addr,
					       len) != MHD_YES)
				http_conns_forget(srv->conns, fd);
		}
	}
	return NULL;
}

static int listen_on(int *out, uint16_t *port, const struct sockaddr_in *sa)
{
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	int one = 1, fd;

	*out = -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return JPKI_ERR_IO;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 ||
	    listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
		close(fd);
		return JPKI_ERR_IO;
	}
	*port = ntohs(bound.sin_port);
	*out = fd;
	return 0;
}

/* Closes the listening sockets (those still open). */
static void close_listeners(struct jpki_http *srv)
{
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->ocsp_fd >= 0)
		close(srv->ocsp_fd);
	srv->listen_fd = srv->ocsp_fd = -1;
}

/* Frees what jpki_http_start() made: on its failure, and at the end of
 * jpki_http_stop() (which closed the listeners and the daemon first). */
static void server_free(struct jpki_http *srv)
{
	close_listeners(srv);
	http_conns_free(srv->conns);
	http_relying_stop(srv);
	http_tls_free(srv);
	jpki_verify_login_free(srv->login);
	jpki_verify_login_free(srv->oidc_login);
	http_limit_free(srv->challenge_limit);
	http_limit_free(srv->kiosk_limit);
	http_limit_free(srv->verify_limit);
	http_stamps_free(srv->stamps);
	free(srv->portal_dir);
	free(srv);
}

/* The log-in limits and the kiosk's budget: 0 is the default, anything
 * else within its range; a value out of range is refused at start with a
 * sentence rather than clamped. */
static int check_limits(const struct jpki_http_options *o)
{
	const struct {
		const char *what;
		unsigned v, max;
	} rows[] = {
	    {"the log-in's free failures per operator", o->login_account_free,
	     1000},
	    {"the log-in's failures that lock an operator",
	     o->login_account_lock, 100000},
	    {"the log-in's free failures per address", o->login_address_free,
	     100000},
	    {"the log-in's longest wait (seconds)", o->login_max_wait, 86400},
	    {"the kiosk's log-ins at once per terminal", o->kiosk_burst, 100},
	    {"the kiosk's seconds for one more log-in", o->kiosk_every, 3600},
	};
	unsigned free_ = o->login_account_free ? o->login_account_free : 5;
	unsigned lock = o->login_account_lock ? o->login_account_lock : 20;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].v > rows[i].max)
			return jpki_err_set(JPKI_ERR_CONFIG,
					    "%s is %u: it takes 1 to %u (0: "
					    "the default)",
					    rows[i].what, rows[i].v,
					    rows[i].max);
	if (lock <= free_)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "the log-in's failures that lock an "
				    "operator (%u) must be more than the free "
				    "failures (%u)",
				    lock, free_);
	return 0;
}

int jpki_http_start(struct jpki_http **out,
		    const struct jpki_http_options *opts)
{
	struct jpki_http *srv;
	struct sockaddr_in sa, ocsp_sa;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct http_conn_limits lim;
	unsigned threads;
	int r;

	*out = NULL;
	if (opts == NULL || opts->version != JPKI_HTTP_OPTIONS_VERSION ||
	    opts->ca == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the server needs options and a CA");
	if ((r = parse_listen(&sa, opts->listen ? opts->listen
						: "127.0.0.1:8080")) != 0)
		return r;
	if (opts->ocsp_listen != NULL) {
		if ((r = parse_listen(&ocsp_sa, opts->ocsp_listen)) != 0)
			return r;
		if (opts->roles != 0 && !(opts->roles & JPKI_ROLE_OCSP))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "an OCSP listener (%s) needs the "
					    "ocsp role",
					    opts->ocsp_listen);
	}
	if ((r = check_limits(opts)) != 0)
		return r;
	lim.max_connections = opts->max_connections ? opts->max_connections
						    : 512u;
	lim.ocsp_connections =
		opts->ocsp_listen == NULL ? 0
		: opts->ocsp_connections  ? opts->ocsp_connections
					  : 128u;
	lim.per_address = opts->per_address ? opts->per_address : 64u;
	lim.header_timeout = opts->header_timeout ? opts->header_timeout : 10u;
	lim.body_timeout = opts->body_timeout ? opts->body_timeout : 30u;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return JPKI_ERR_NOMEM;
	srv->listen_fd = srv->ocsp_fd = -1;
	srv->ca = opts->ca;
	srv->st = opts->store;
	atomic_init(&srv->issuer, opts->card_issuer);
	srv->counter_reader = opts->counter_reader;
	srv->agency_key = opts->agency_key;
	srv->agency_cert = opts->agency_cert;
	srv->oidc = opts->oidc;
	if (opts->portal_dir != NULL &&
	    (srv->portal_dir = strdup(opts->portal_dir)) == NULL) {
		server_free(srv);
		return JPKI_ERR_NOMEM;
	}
	srv->kiosk_burst = opts->kiosk_burst ? opts->kiosk_burst : 2u;
	srv->kiosk_every = opts->kiosk_every ? opts->kiosk_every : 30u;
	srv->login_limits.account_free = opts->login_account_free;
	srv->login_limits.account_lock = opts->login_account_lock;
	srv->login_limits.address_free = opts->login_address_free;
	srv->login_limits.max_delay = opts->login_max_wait;
	srv->roles = opts->roles ? opts->roles : JPKI_ROLE_ALL;
	srv->route = handle;
	srv->done = completed;
	if (((srv->roles & JPKI_ROLE_LOGIN) &&
	     ((r = jpki_http_login_new(&srv->login, srv->ca,
				       opts->login_origin)) != 0 ||
	      (r = http_limit_new(&srv->challenge_limit,
				  opts->challenge_rate > 0 ? opts->challenge_rate
							   : 1.0,
				  opts->challenge_burst > 0
					  ? (double)opts->challenge_burst
					  : 120.0)) != 0)) ||
	    ((srv->roles & JPKI_ROLE_KIOSK) &&
	     (r = http_kiosk_limit_new(&srv->kiosk_limit, srv)) != 0) ||
	    ((srv->roles & JPKI_ROLE_OIDC) && srv->oidc != NULL &&
	     (r = jpki_http_login_new(&srv->oidc_login, srv->ca,
				      jpki_oidc_issuer(srv->oidc))) != 0) ||
	    ((srv->roles & (JPKI_ROLE_KIOSK | JPKI_ROLE_WINDOW)) &&
	     (r = http_verify_limit_new(&srv->verify_limit)) != 0)) {
		server_free(srv);
		return r;
	}
	threads = opts->threads ? opts->threads
				: (unsigned)(cores > 0 ? cores : 2);
	if ((opts->tls_cert != NULL || opts->tls_key != NULL ||
	     opts->tls_client_ca != NULL) &&
	    (r = http_tls_load(srv, opts->tls_cert, opts->tls_key,
			       opts->tls_client_ca)) != 0) {
		server_free(srv);
		return r;
	}
	if ((r = http_relying_start(srv, opts)) != 0 ||
	    (r = http_stamps_start(srv)) != 0 ||
	    (r = http_conns_new(&srv->conns, &lim)) != 0) {
		server_free(srv);
		return r;
	}
	if (listen_on(&srv->listen_fd, &srv->port, &sa) != 0 ||
	    (opts->ocsp_listen != NULL &&
	     listen_on(&srv->ocsp_fd, &srv->ocsp_port, &ocsp_sa) != 0)) {
		r = jpki_err_set(JPKI_ERR_IO, "cannot listen on %s (in use?)",
				 srv->listen_fd < 0 ? (opts->listen
							       ? opts->listen
							       : "127.0.0.1:8080")
						    : opts->ocsp_listen);
		server_free(srv);
		return r;
	}
	/* Plain HTTP passes only the array's last entry (END): libmicrohttpd
	 * refuses HTTPS options on a daemon without MHD_USE_TLS. */
	struct MHD_OptionItem tls[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert_pem},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key_pem},
		/* TLS 1.2 and 1.3 only */
		{MHD_OPTION_HTTPS_PRIORITIES, 0,
		 (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
		/* with a trust list libmicrohttpd asks for (does not
		 * require) a client certificate */
		{srv->tls_trust_pem ? MHD_OPTION_HTTPS_MEM_TRUST
				    : MHD_OPTION_END,
		 0, srv->tls_trust_pem},
		{MHD_OPTION_END, 0, NULL},
	};
	/* The accept thread (accept_loop) hands each connection to the
	 * daemon, which spreads them evenly over its workers. */
	srv->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET |
			MHD_USE_ERROR_LOG |
			(srv->tls_cert_pem ? MHD_USE_TLS : 0),
		0, NULL, NULL, http_conns_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY,
		srv->tls_cert_pem ? tls : tls + 4,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_TIMEOUT,
		opts->timeout ? opts->timeout : 10u,
		MHD_OPTION_CONNECTION_LIMIT,
		lim.max_connections + lim.ocsp_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
		MHD_OPTION_NOTIFY_COMPLETED, http_conns_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, srv,
		MHD_OPTION_END);
	if (srv->daemon == NULL ||
	    (srv->accepting = pthread_create(&srv->accept_thread, NULL,
					     accept_loop, srv) == 0) == 0) {
		r = jpki_err_set(JPKI_ERR_IO,
				 srv->tls_cert_pem
					 ? "cannot start the server on %s: TLS "
					   "cannot start with the certificate "
					   "and key given (see the log above)"
					 : "cannot start the server on %s",
				 opts->listen ? opts->listen
					      : "127.0.0.1:8080");
		MHD_stop_daemon(srv->daemon);
		server_free(srv);
		return r;
	}
	*out = srv;
	return 0;
}

int jpki_http_set_card_issuer(struct jpki_http *srv, EVP_PKEY *key)
{
	EVP_PKEY *none = NULL;

	if (srv == NULL || key == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no server or no key");
	/* Once only: a request may hold the pointer it read. */
	if (!atomic_compare_exchange_strong(&srv->issuer, &none, key))
		return jpki_err_set(JPKI_ERR_STATE,
				    "the server has a card-issuer key already");
	return 0;
}

uint16_t jpki_http_port(const struct jpki_http *srv)
{
	return srv->port;
}

unsigned jpki_http_roles(const struct jpki_http *srv)
{
	return srv->roles;
}

const char *jpki_http_scheme(const struct jpki_http *srv)
{
	return srv->tls_cert_pem != NULL ? "https" : "http";
}

uint16_t jpki_http_ocsp_port(const struct jpki_http *srv)
{
	return srv->ocsp_fd >= 0 ? srv->ocsp_port : 0;
}

void jpki_http_stop(struct jpki_http *srv)
{
	if (srv == NULL)
		return;
	/* The accept loop looks at stopping between polls; then no
	 * connection is added to a daemon being stopped. */
	atomic_store(&srv->stopping, 1);
	if (srv->accepting)
		pthread_join(srv->accept_thread, NULL);
	close_listeners(srv);
	/* No connection may stay suspended: the log-ins on the hashing pool
	 * finish (each resumes its connection) first. */
	http_login_pool_stop(srv);
	http_stamps_stop(srv);
	MHD_stop_daemon(srv->daemon); /* closes a socket it listened on */
	/* after the daemon: its last callbacks still look at the table */
	server_free(srv);
}
