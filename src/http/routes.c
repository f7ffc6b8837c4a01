/*
 * The route table: every endpoint of every role in one place, with the
 * methods it takes, the body it may carry, who may call it and the handler
 * that answers. The server looks a request up here once, with its headers;
 * 404, 405 (with Allow), 413, 503, 401 and 403 all come from the row, so no
 * handler repeats them and no endpoint can forget one.
 */
#include <string.h>

#include "http/http_internal.h"
#include "jpki/services.h"

/* kiosk.c keeps its own entry point; the table calls it as a handler. */
static enum MHD_Result kiosk(struct jpki_http *srv, struct MHD_Connection *conn,
			     struct http_request *req)
{
	int handled = 0;

	return http_kiosk(srv, conn, req->url, req->method, req->up, &handled);
}

#define FORM JPKI_MAX_LOGIN_ANSWER /* a clerk's form or an API body */
#define PAGE(path, methods, cap, handler)                                      \
	{                                                                      \
		path, 0, JPKI_ROLE_WINDOW, methods, cap, HTTP_OPERATOR,        \
		    HTTP_FORM, handler, http_window_login_form, NULL           \
	}
#define API(path, methods, callers, proc)                                      \
	{                                                                      \
		path, 0, JPKI_ROLE_WINDOW, methods, FORM, callers, HTTP_JSON,  \
		    http_api_call, NULL, &proc                                 \
	}
#define REGISTRY HTTP_ROLE(JPKI_ROLE_REGISTRY_CLERK)
#define WINDOW HTTP_ROLE(JPKI_ROLE_WINDOW_CLERK)
#define GET HTTP_GET
#define POST HTTP_POST

static const struct http_route routes[] = {
    {"/healthz", 0, JPKI_ROLE_ALL, GET, 0, HTTP_PUBLIC, 0, http_healthz, NULL,
     NULL},
    /* repository */
    {"/", 0, JPKI_ROLE_REPOSITORY, GET, 0, HTTP_PUBLIC, 0,
     http_repository_index, NULL, NULL},
    {"/ca/", 1, JPKI_ROLE_REPOSITORY, GET, 0, HTTP_PUBLIC, 0,
     http_repository_ca, NULL, NULL},
    {"/crl/", 1, JPKI_ROLE_REPOSITORY, GET, 0, HTTP_PUBLIC, 0,
     http_repository_crl, NULL, NULL},
    /* the linking look-up (relying.c), on the repository and OCSP roles */
    {"/link/", 1, JPKI_ROLE_REPOSITORY | JPKI_ROLE_OCSP, GET, 0, HTTP_PUBLIC,
     0, http_link, NULL, NULL},
    /* the portal site's downloads (portal_site.c) */
    {"/download/", 1, JPKI_ROLE_REPOSITORY, GET, 0, HTTP_PUBLIC, 0,
     http_download, NULL, NULL},
    /* ocsp: /ocsp, /ocsp/sign, /ocsp/auth, and GET's base64 after them */
    {"/ocsp", 1, JPKI_ROLE_OCSP, GET | POST, JPKI_MAX_OCSP_REQUEST, HTTP_PUBLIC,
     0, http_ocsp, NULL, NULL},
    /* login */
    {"/login/challenge", 0, JPKI_ROLE_LOGIN, GET, 0, HTTP_PUBLIC, 0,
     http_login_challenge, NULL, NULL},
    /* the verifier's own verdict on an answer over the cap (400) */
    {"/login/response", 0, JPKI_ROLE_LOGIN, POST, JPKI_MAX_LOGIN_ANSWER,
     HTTP_PUBLIC, HTTP_OWN_413, http_login_response, NULL, NULL},
    /* the resident's disclosure page, which drives the exchange below
     * through the browser bridge (disclosure.c) */
    {"/disclosure", 0, JPKI_ROLE_LOGIN, GET, 0, HTTP_PUBLIC, 0,
     http_disclosure_page, NULL, NULL},
    {"/disclosure/disclosure.js", 0, JPKI_ROLE_LOGIN, GET, 0, HTTP_PUBLIC, 0,
     http_disclosure_script, NULL, NULL},
    /* the card log-in the bridge's pages share (bridge_js.c) */
    {"/jpki-bridge.js", 0, JPKI_ROLE_LOGIN | JPKI_ROLE_KIOSK | JPKI_ROLE_PORTAL,
     GET, 0, HTTP_PUBLIC, 0, http_bridge_script, NULL, NULL},
    /* the resident's disclosure (提供状況の開示): the log-in exchange,
     * answered with the list (services.c) */
    {"/disclosure/challenge", 0, JPKI_ROLE_LOGIN, GET, 0, HTTP_PUBLIC, 0,
     http_login_challenge, NULL, NULL},
    {"/disclosure/response", 0, JPKI_ROLE_LOGIN, POST, JPKI_MAX_LOGIN_ANSWER,
     HTTP_PUBLIC, HTTP_OWN_413, http_services_disclosure_response, NULL,
     NULL},
    /* window: the clerk's pages */
    {"/window/login", 0, JPKI_ROLE_WINDOW, GET | POST, FORM, HTTP_PUBLIC,
     HTTP_FORM, http_window_login, NULL, NULL},
    PAGE("/window", GET, 0, http_window_dashboard),
    PAGE("/window/", GET, 0, http_window_dashboard),
    PAGE("/window/logout", POST, FORM, http_window_logout),
    PAGE("/window/resident", GET, 0, http_window_resident),
    PAGE("/window/application", GET, 0, http_window_application),
    PAGE("/window/apply", POST, FORM, http_window_apply),
    PAGE("/window/issue", POST, FORM, http_window_issue),
    PAGE("/window/copy", GET, 0, http_window_copy),
    /* the resident's disclosure (提供状況の開示) on paper (services.c) */
    PAGE("/window/disclosure", GET, 0, http_window_disclosure),
    /* a POST: printing makes the letter's code anew */
    PAGE("/window/letter", POST, FORM, http_window_letter),
    /* the other procedures of the counter (window_pages.c) */
    PAGE("/window/renew", POST, FORM, http_window_renew),
    PAGE("/window/pin-reset", POST, FORM, http_window_pin_reset),
    PAGE("/window/report", POST, FORM, http_window_report),
    PAGE("/window/returned", POST, FORM, http_window_returned),
    PAGE("/window/fees", GET, 0, http_window_fees),
    /* GET: the offices with today's use; POST: an office's hours,
     * capacity or counters */
    PAGE("/window/office", GET | POST, FORM, http_window_office),
    /* the registry's services at the counter (window_services.c) */
    PAGE("/window/services", GET, 0, http_window_services),
    PAGE("/window/residence-copy", POST, FORM, http_window_residence_copy),
    PAGE("/window/move-out", POST, FORM, http_window_move_out),
    PAGE("/window/move-in", POST, FORM, http_window_move_in),
    PAGE("/window/move-status", GET, 0, http_window_move_status),
    /* seal registration: the image as a file of a multipart form (not
     * HTTP_FORM: multipart.c checks its fields; csrf.c finds the token
     * among its parts); a body up to twice the image's cap, so a file a
     * little over it gets the page's own refusal */
    {"/window/seal/register", 0, JPKI_ROLE_WINDOW, POST,
     2 * JPKI_SEAL_IMAGE_MAX, HTTP_OPERATOR, 0, http_window_seal_register,
     http_window_login_form, NULL},
    PAGE("/window/seal/cancel", POST, FORM, http_window_seal_cancel),
    /* window: the JSON API */
    {"/api/login", 0, JPKI_ROLE_WINDOW, POST, FORM, HTTP_PUBLIC, HTTP_JSON,
     http_api_login, NULL, NULL},
    API("/api/logout", POST, HTTP_OPERATOR, http_api_logout),
    /* an agency's look-ups: no operator, the client certificate is the
     * caller (services.c) */
    {"/api/services/lookup", 0, JPKI_ROLE_WINDOW, POST,
     JPKI_SERVICES_LINE_MAX, HTTP_PUBLIC, HTTP_JSON, http_services_lookup,
     NULL, NULL},
    {"/api/services/batch", 0, JPKI_ROLE_WINDOW, POST, 16u * 1024 * 1024,
     HTTP_PUBLIC, HTTP_JSON | HTTP_OWN_413, http_services_batch, NULL, NULL},
    {"/api/residents/", 1, JPKI_ROLE_WINDOW, GET, 0, REGISTRY | WINDOW,
     HTTP_JSON, http_api_call, NULL, &http_api_resident},
    API("/api/registry/register", POST, REGISTRY, http_api_register),
    API("/api/registry/move", POST, REGISTRY, http_api_move),
    API("/api/registry/name", POST, REGISTRY, http_api_name),
    API("/api/registry/birth", POST, REGISTRY, http_api_birth),
    API("/api/registry/sex", POST, REGISTRY, http_api_sex),
    API("/api/registry/guardianship", POST, REGISTRY, http_api_guardianship),
    API("/api/registry/death", POST, REGISTRY, http_api_death),
    API("/api/registry/remove", POST, REGISTRY, http_api_remove),
    API("/api/window/apply", POST, WINDOW, http_api_apply),
    API("/api/window/returned", POST, WINDOW, http_api_returned),
    API("/api/window/issue", POST, WINDOW, http_api_issue),
    API("/api/window/renew", POST, WINDOW, http_api_renew),
    API("/api/window/pin-reset", POST, WINDOW, http_api_pin_reset),
    API("/api/window/capacity", POST, WINDOW, http_api_capacity),
    API("/api/window/hours", POST, WINDOW, http_api_hours),
    API("/api/window/report", POST, WINDOW, http_api_report),
    API("/api/window/counters", POST, WINDOW, http_api_counters),
    API("/api/window/office", POST, WINDOW, http_api_office_add),
    API("/api/window/offices", GET, WINDOW, http_api_offices),
    /* seal registration (印鑑登録): the image makes the body larger */
    {"/api/window/seal/register", 0, JPKI_ROLE_WINDOW, POST, HTTP_SEAL_BODY,
     WINDOW, HTTP_JSON, http_api_call, NULL, &http_api_seal_register},
    API("/api/window/seal/cancel", POST, WINDOW, http_api_seal_cancel),
    /* letter codes are the window's: not the registry's nor the
     * auditor's to read */
    API("/api/window/applications", GET, WINDOW, http_api_applications),
    API("/api/window/fees", GET,
	WINDOW | HTTP_ROLE(JPKI_ROLE_CA_OFFICER) | HTTP_ROLE(JPKI_ROLE_AUDITOR),
	http_api_fees),
    {"/api/window/residence-copy", 0, JPKI_ROLE_WINDOW, POST, FORM, WINDOW,
     HTTP_JSON, http_api_residence_copy, NULL, NULL},
    {"/api/window/move-out", 0, JPKI_ROLE_WINDOW, POST, FORM, WINDOW, HTTP_JSON,
     http_api_move_out, NULL, NULL},
    {"/api/window/move", 0, JPKI_ROLE_WINDOW, GET, 0, REGISTRY | WINDOW,
     HTTP_JSON, http_api_move_status, NULL, NULL},
    API("/api/audit/verify", GET, HTTP_OPERATOR, http_api_audit_verify),
    /* the chain's entries: the audit module lets an auditor only */
    {"/api/audit", 0, JPKI_ROLE_WINDOW, GET, 0, HTTP_OPERATOR, HTTP_JSON,
     http_api_audit, NULL, NULL},
    /* portal */
    {"/portal", 0, JPKI_ROLE_PORTAL, GET, 0, HTTP_PUBLIC, 0, http_portal_choose,
     NULL, NULL},
    {"/portal/", 0, JPKI_ROLE_PORTAL, GET, 0, HTTP_PUBLIC, 0,
     http_portal_choose, NULL, NULL},
    {"/portal/agency.crt", 0, JPKI_ROLE_PORTAL, GET, 0, HTTP_PUBLIC, 0,
     http_portal_agency_cert, NULL, NULL},
    /* the application page's script (signing through the bridge) */
    {"/portal/portal.js", 0, JPKI_ROLE_PORTAL, GET, 0, HTTP_PUBLIC, 0,
     http_portal_script, NULL, NULL},
    /* the signed file and the form around it; the upload page says
     * when it is too large */
    {"/portal/submit", 0, JPKI_ROLE_PORTAL, POST,
     JPKI_MAX_SIGNED_APP + JPKI_MAX_LOGIN_ANSWER, HTTP_PUBLIC, HTTP_OWN_413,
     http_portal_submit, NULL, NULL},
    {"/portal/form", 0, JPKI_ROLE_PORTAL, GET, 0, HTTP_PUBLIC, 0,
     http_portal_form, NULL, NULL},
    {"/portal/application", 0, JPKI_ROLE_PORTAL, POST, FORM, HTTP_PUBLIC,
     HTTP_FORM, http_portal_application, NULL, NULL},
    {"/portal/login", 0, JPKI_ROLE_PORTAL, POST, FORM, HTTP_PUBLIC, HTTP_FORM,
     http_portal_login, NULL, NULL},
    {"/portal/inbox", 0, JPKI_ROLE_PORTAL, GET, 0,
     HTTP_ROLE(JPKI_ROLE_CA_OFFICER), 0, http_portal_inbox,
     http_portal_inbox_login, NULL},
    /* the same, as JSON, with the decision at receipt and the status now */
    {"/portal/inbox.json", 0, JPKI_ROLE_PORTAL, GET, 0,
     HTTP_ROLE(JPKI_ROLE_CA_OFFICER), 0, http_portal_inbox_json, NULL, NULL},
    /* oidc (docs/OIDC.md) */
    {"/.well-known/openid-configuration", 0, JPKI_ROLE_OIDC, GET, 0,
     HTTP_PUBLIC, 0, http_oidc_discovery, NULL, NULL},
    {"/oidc/jwks", 0, JPKI_ROLE_OIDC, GET, 0, HTTP_PUBLIC, 0, http_oidc_jwks,
     NULL, NULL},
    {"/oidc/authorize", 0, JPKI_ROLE_OIDC, GET, 0, HTTP_PUBLIC, 0,
     http_oidc_authorize, NULL, NULL},
    /* <id>/challenge and <id>/response, docs/LOGIN.md per request */
    {"/oidc/login/", 1, JPKI_ROLE_OIDC, GET | POST, JPKI_MAX_LOGIN_ANSWER,
     HTTP_PUBLIC, HTTP_OWN_413, http_oidc_login, NULL, NULL},
    {"/oidc/consent/", 1, JPKI_ROLE_OIDC, POST, JPKI_MAX_LOGIN_ANSWER,
     HTTP_PUBLIC, HTTP_OWN_413, http_oidc_consent, NULL, NULL},
    {"/oidc/token", 0, JPKI_ROLE_OIDC, POST, JPKI_MAX_LOGIN_ANSWER,
     HTTP_PUBLIC, 0, http_oidc_token, NULL, NULL},
    {"/oidc/userinfo", 0, JPKI_ROLE_OIDC, GET | POST, JPKI_MAX_LOGIN_ANSWER,
     HTTP_PUBLIC, 0, http_oidc_userinfo, NULL, NULL},
    /* kiosk: the page posts the bridge's answer as JSON (kiosk.c) */
    {"/kiosk", 0, JPKI_ROLE_KIOSK, GET | POST, FORM, HTTP_PUBLIC, HTTP_JSON,
     kiosk, NULL, NULL},
    {"/kiosk/", 0, JPKI_ROLE_KIOSK, GET | POST, FORM, HTTP_PUBLIC, HTTP_JSON,
     kiosk, NULL, NULL},
    {"/kiosk/kiosk.js", 0, JPKI_ROLE_KIOSK, GET, 0, HTTP_PUBLIC, 0, kiosk,
     NULL, NULL},
    /* the municipality's public check of a kiosk document's serial */
    {"/verify-document", 0, JPKI_ROLE_KIOSK | JPKI_ROLE_WINDOW, GET, 0,
     HTTP_PUBLIC, 0, http_verify_document, NULL, NULL},
};

const struct http_route *http_route_table(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

/* A prefix row "/a/" takes "/a/..."; "/a" takes "/a" and "/a/...". */
static int matches(const struct http_route *rt, const char *url)
{
	size_t n = strlen(rt->path);

	if (!rt->prefix)
		return strcmp(url, rt->path) == 0;
	if (strncmp(url, rt->path, n) != 0)
		return 0;
	return rt->path[n - 1] == '/' || url[n] == '\0' || url[n] == '/';
}

const struct http_route *http_route_find(unsigned roles, const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if ((routes[i].role & roles) && matches(&routes[i], url))
			return &routes[i];
	return NULL;
}

const char *http_route_allow(const struct http_route *route)
{
	switch (route->methods) {
	case HTTP_GET:
		return "GET, HEAD";
	case HTTP_POST:
		return "POST";
	default:
		return "GET, HEAD, POST";
	}
}

static enum MHD_Result refuse(struct MHD_Connection *conn,
			      const struct http_route *rt, unsigned status,
			      const char *why)
{
	char line[256];

	if (rt != NULL && (rt->flags & HTTP_JSON))
		return http_api_error(conn, status, why, NULL);
	snprintf(line, sizeof(line), "%s\n", why);
	return http_send_text(conn, status, line);
}

static enum MHD_Result not_allowed(struct MHD_Connection *conn,
				   const struct http_route *rt)
{
	int json = (rt->flags & HTTP_JSON) != 0;
	struct MHD_Response *resp;
	char text[96];
	enum MHD_Result ret;

	snprintf(text, sizeof(text),
		 json ? "{\"result\":\"refused\",\"error\":\"use %s\"}"
		      : "use %s\n",
		 http_route_allow(rt));
	resp = MHD_create_response_from_buffer(strlen(text), text,
					       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				json ? "application/json"
				     : "text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
				http_route_allow(rt));
	ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* What a role needs behind it, or why it cannot answer. */
static const char *unready(const struct jpki_http *srv, unsigned role)
{
	switch (role) {
	case JPKI_ROLE_WINDOW:
		return srv->st == NULL ? "the window role has no store" : NULL;
	case JPKI_ROLE_PORTAL:
		return srv->st == NULL || srv->agency_key == NULL ||
			       srv->agency_cert == NULL
			   ? "the portal role has no store or no agency key"
			   : NULL;
	case JPKI_ROLE_OIDC:
		return srv->oidc == NULL || srv->oidc_login == NULL
			   ? "the oidc role has no provider"
			   : NULL;
	case JPKI_ROLE_KIOSK:
		return srv->st == NULL || srv->login == NULL
			   ? "the kiosk needs the store and the login role"
			   : NULL;
	default:
		return NULL;
	}
}

enum MHD_Result http_route_dispatch(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    const char *url, const char *method,
				    struct upload *up)
{
	const struct http_route *rt = up->route;
	struct http_request req;
	unsigned m = 0;
	const char *why;

	if (rt == NULL) {
		if ((srv->roles & JPKI_ROLE_WINDOW) &&
		    strncmp(url, "/api/", 5) == 0)
			return http_api_error(conn, MHD_HTTP_NOT_FOUND,
					      "no such procedure", NULL);
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		m = HTTP_GET;
	else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		m = HTTP_POST;
	if ((rt->methods & m) == 0)
		return not_allowed(conn, rt);
	if (up->too_large && !(rt->flags & HTTP_OWN_413))
		return refuse(conn, rt, MHD_HTTP_CONTENT_TOO_LARGE,
			      "the request body is too large");
	if ((why = unready(srv, rt->role)) != NULL)
		return refuse(conn, rt, MHD_HTTP_SERVICE_UNAVAILABLE, why);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.rest = rt->prefix ? url + strlen(rt->path) : "";
	req.method = method;
	req.post = m == HTTP_POST;
	req.up = up;
	req.route = rt;
	if (rt->callers != HTTP_PUBLIC) {
		/* the JSON API's session is the Bearer header's only, the
		 * pages' the cookie's only: a browser attaches the cookie to
		 * what another site's page makes it send, never the header */
		req.token = (rt->flags & HTTP_JSON) ? http_bearer_token(conn)
						    : http_cookie_token(conn);
		if (req.token == NULL || srv->st == NULL ||
		    jpki_audit_session(&req.who, srv->st, req.token) != 0) {
			if (rt->deny != NULL)
				return rt->deny(srv, conn, &req);
			return refuse(conn, rt, MHD_HTTP_UNAUTHORIZED,
				      "log in first (POST /api/login) and "
				      "send Authorization: Bearer TOKEN");
		}
		if (rt->callers != HTTP_OPERATOR &&
		    ((unsigned)req.who.role > 30 ||
		     !(rt->callers & (1u << req.who.role)))) {
			jpki_err_set(JPKI_ERR_POLICY, "a %s may not call %s",
				     jpki_audit_role_name(req.who.role),
				     rt->path);
			if (rt->deny != NULL)
				return rt->deny(srv, conn, &req);
			return refuse(conn, rt, MHD_HTTP_FORBIDDEN,
				      jpki_err_detail());
		}
		/* every state change by cookie: this server's Origin and
		 * the session's token (csrf.c) */
		if (!(rt->flags & HTTP_JSON) && req.post &&
		    http_csrf_check(srv, conn, up, req.token) != 0) {
			jpki_log(JPKI_LOG_WARN, "window: %s refused for %s: %s",
				 url, req.who.operator_id, jpki_err_detail());
			return refuse(conn, rt, MHD_HTTP_FORBIDDEN,
				      jpki_err_detail());
		}
	}
	/* a form's field that is too long, badly escaped or carries a
	 * control character is refused whole, before its handler reads it
	 * (http_field() would make it "" and go on); after the callers'
	 * checks, so a foreign page's post is refused as such (403) */
	if ((rt->flags & HTTP_FORM) && m == HTTP_POST) {
		char name[64];

		if (http_form_check(up->data, up->len, HTTP_FIELD_MAX, name,
				    sizeof(name)) != 0) {
			jpki_log(JPKI_LOG_WARN, "%s refused: %s", url,
				 jpki_err_detail());
			return http_form_refused(conn, jpki_err_detail());
		}
	}
	if (rt->callers != HTTP_PUBLIC && !(rt->flags & HTTP_JSON)) {
		enum MHD_Result ret;

		/* the session's token for the forms the page renders */
		if (http_csrf_begin(req.token) != 0)
			return MHD_NO;
		ret = rt->handler(srv, conn, &req);
		http_csrf_end();
		return ret;
	}
	return rt->handler(srv, conn, &req);
}
