/* What the server's files share: the server, a request's body, replies. */
#ifndef JPKI_HTTP_INTERNAL_H
#define JPKI_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jpki/audit.h"
#include "jpki/http.h"
#include "jpki/services.h"

struct jpki_http {
	struct MHD_Daemon *daemon;
	int listen_fd; /* accepted by accept_thread, not by MHD */
	pthread_t accept_thread;
	int accepting; /* accept_thread runs */
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
	struct jpki_oidc *oidc;          /* the oidc role's (borrowed) */
	struct jpki_verify_login *oidc_login; /* bound to its issuer */
	unsigned roles;
	uint16_t port;
	/* HTTPS (tls.c): PEM for libmicrohttpd, NULL for plain HTTP */
	char *tls_cert_pem, *tls_key_pem, *tls_trust_pem;
	/* the client CA of the internal roles; NULL: none asked for */
	X509_STORE *client_ca;
	/* log-in challenges per client address (limit.c) */
	struct http_limit *challenge_limit;
	/* connections per address and request deadlines (conns.c); the
	 * OCSP listener (-1: none), accepted by accept_thread too */
	struct http_conns *conns;
	int ocsp_fd;
	uint16_t ocsp_port;
	/* what conns.c's wrappers hand each request and its end to */
	MHD_AccessHandlerCallback route;
	MHD_RequestCompletedCallback done;
	/* the kiosk's card log-ins per terminal (kiosk.c) */
	struct http_limit *kiosk_limit;
	/* the portal site's directory (portal_site.c); NULL: none */
	char *portal_dir;
	/* the public document check per client address (verify_document.c) */
	struct http_limit *verify_limit;
	unsigned kiosk_burst, kiosk_every; /* its budget, defaults filled */
	/* the operators' log-in limits, defaults filled (0 stays 0 for the
	 * audit module's own default) */
	struct jpki_audit_limits login_limits;
	/* the operators' password checks (login_pool.c), made at the
	 * first log-in */
	struct http_pool *_Atomic login_pool;
	/* OCSP on PostgreSQL: the status counter's reader (ocsp_wait.c) */
	struct http_stamps *stamps;
	/* --revocation-access registered (relying.c): the counts of what
	 * each verifier was answered and the thread that flushes them */
	int registered;
	struct jpki_ca_usage *usage;
	struct http_verified *verified; /* client certificates checked */
	pthread_t flusher;
	int flusher_running;
};

/* conns.c: the connections held, their addresses and deadlines. */
struct http_conn_limits {
	unsigned max_connections;  /* on the main listener */
	unsigned ocsp_connections; /* on the OCSP listener; 0: none */
	unsigned per_address;      /* on each listener */
	unsigned header_timeout, body_timeout; /* seconds */
};
struct http_conns;
/* Starts the watchdog that cuts connections past their deadline. */
int http_conns_new(struct http_conns **out,
		   const struct http_conn_limits *lim) JPKI_MUST_CHECK;
/* Stops the watchdog and frees (NULL is accepted). */
void http_conns_free(struct http_conns *c);
/* For the accept loop: 1 when fd (from sa, on the OCSP listener or not)
 * is within the limits and now recorded, 0 when the caller must close it. */
int http_conns_admit(struct http_conns *c, int fd, const struct sockaddr *sa,
		     int ocsp) JPKI_MUST_CHECK;
/* Forgets fd (closed, or refused by libmicrohttpd). */
void http_conns_forget(struct http_conns *c, int fd);
/* libmicrohttpd's callbacks, cls the server: a connection started or
 * closed; a request (moves its deadline, keeps the OCSP listener to OCSP,
 * then srv->route); a request's end (then srv->done). */
void http_conns_notify(void *cls, struct MHD_Connection *conn,
		       void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
enum MHD_Result http_conns_request(void *cls, struct MHD_Connection *conn,
				   const char *url, const char *method,
				   const char *version, const char *data,
				   size_t *data_size, void **con_cls);
void http_conns_completed(void *cls, struct MHD_Connection *conn,
			  void **con_cls, enum MHD_RequestTerminationCode toe);

/* Token buckets per client address (limit.c). */
struct http_limit;
int http_limit_new(struct http_limit **out, double rate,
		   double burst) JPKI_MUST_CHECK;
void http_limit_free(struct http_limit *l);
/* 1 when `sa` may go on; 0 when over its rate, with the seconds after
 * which it may in *retry_after. */
int http_limit_take(struct http_limit *l, const struct sockaddr *sa,
		    unsigned *retry_after);

/* framing.c: whether a request's headers give its body's length one way
 * only (no Content-Length beside Transfer-Encoding, neither twice, only
 * "chunked"); 1 yes, 0 no. Call before any body is read. */
int http_framing_ok(struct MHD_Connection *conn);
/* 400 with "Connection: close" for a request http_framing_ok() refused. */
enum MHD_Result http_framing_refuse(struct MHD_Connection *conn);
struct http_route;

/* What a connection collects of its request body. */
struct upload {
	/* its row of the route table (routes.c), NULL for none; found once
	 * with the headers so the body is capped by the row */
	const struct http_route *route;
	unsigned char *data;
	size_t len;
	int too_large;
	/* the subject of the verified client certificate of an internal
	 * role's request (RFC 2253), "" when none was verified */
	char client[256];
	/* an operator's log-in on the hashing pool (login_pool.c) */
	struct http_login_job *login;
	/* registered mode: the verifier whose certificate the request came
	 * with, and its purpose (JPKI_CERT_SIGN or _AUTH); "" when open */
	char verifier[JPKI_VERIFIER_NAME_MAX + 1];
	enum jpki_cert_type purpose;
	/* an OCSP request waiting for the status counter (ocsp_wait.c) */
	enum { HTTP_STAMP_NOT_ASKED, HTTP_STAMP_WAITING, HTTP_STAMP_READ,
	       HTTP_STAMP_NONE } stamp_state;
	struct jpki_store_stamp stamp; /* HTTP_STAMP_READ: what was read */
	struct MHD_Connection *stamp_conn;
	struct upload *stamp_next;
};

/*
 * ocsp_wait.c: on PostgreSQL, OCSP requests wait for a shared read of the
 * CA's status counter with their connections suspended, on one reader
 * thread, rather than each on a worker. http_stamps_start() starts it when
 * the server answers OCSP and the CA wants such reads (none otherwise:
 * srv->stamps stays NULL). http_stamps_wait(): 0 when the connection is
 * now suspended and queued (return MHD_YES; the handler is called again
 * with up->stamp_state READ or NONE); nonzero when there is no reader or it
 * is closing (answer with a read of the request's own).
 * http_stamps_stop() answers what is queued and stops the reader, before
 * the daemon stops; http_stamps_free() with the server.
 */
struct http_stamps;
int http_stamps_start(struct jpki_http *srv);
int http_stamps_wait(struct jpki_http *srv, struct MHD_Connection *conn,
		     struct upload *up);
void http_stamps_stop(struct jpki_http *srv);
void http_stamps_free(struct http_stamps *q);

/*
 * login_pool.c: operator log-ins (POST /window/login, /api/login) with
 * the password checked on a pool of its own while the connection is
 * suspended, so the workers keep answering everything else.
 */
struct http_login_job;
struct http_login_result {
	int r;                /* jpki_audit_login_ex's */
	unsigned status;      /* 200, 401, 403 (locked, disabled), 429,
				 503 (queue full), 500 */
	unsigned retry_after; /* seconds for Retry-After; 0: none */
	char *token;          /* the session's, when r == 0 (the job's) */
	char why[256];        /* the sentence of a refusal */
};
/*
 * One step of a log-in; call it from the route each time libmicrohttpd
 * calls for the request. 1: the connection is suspended while the pool
 * checks the password (return MHD_YES); 0 with *out the outcome, owned by
 * the request (freed at its completion); a negative error when no job
 * could be made.
 */
int http_login_step(const struct http_login_result **out, struct jpki_http *srv,
		    struct MHD_Connection *conn, const struct upload *up,
		    const char *operator_id,
		    const char *password) JPKI_MUST_CHECK;
void http_login_job_free(struct http_login_job *job);
/* A page's answer to a refused log-in: the form again with `why`, as
 * `status` (and Retry-After when retry_after > 0). */
typedef enum MHD_Result (*http_login_refused)(struct MHD_Connection *conn,
					      const char *why, unsigned status,
					      unsigned retry_after);
/*
 * POST of a page's log-in form ("operator", "password"): only from this
 * server's own page (Origin; 403 otherwise), checked on the hashing pool
 * under the log-in limits; refused: `refused`; admitted: `admitted` (may be
 * NULL) with the new session's token, then a 303 to `to` setting the
 * session cookie.
 */
enum MHD_Result http_page_login(struct jpki_http *srv,
				struct MHD_Connection *conn,
				const struct upload *up, const char *to,
				http_login_refused refused,
				void (*admitted)(struct jpki_http *srv,
						 const char *token,
						 const struct upload *up));
/* Closes the pool and waits for its jobs (each resumes its connection);
 * before MHD_stop_daemon. */
void http_login_pool_stop(struct jpki_http *srv);
/* http_send with a Retry-After header when retry_after > 0. */
enum MHD_Result http_send_retry(struct MHD_Connection *conn, unsigned status,
				const char *type, const void *data, size_t len,
				unsigned retry_after);
/* The session cookie's attributes after its value: "; Path=/; HttpOnly;
 * SameSite=Strict", with Secure when the server speaks TLS. */
const char *http_cookie_attributes(const struct jpki_http *srv);

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

/* The longest value a page's form field may carry, decoded. */
#define HTTP_FIELD_MAX 511
/*
 * Checks every field of a urlencoded form body before any is used: 0 when
 * each name and value decodes cleanly, is at most max bytes and holds no
 * control character; else JPKI_ERR_PARSE with a sentence naming the field,
 * and the field's name in name ("" when the name itself is bad). A bad
 * field is refused, never read as "" (http_field would).
 */
int http_form_check(const unsigned char *body, size_t len, size_t max,
		    char *name, size_t name_size) JPKI_MUST_CHECK;

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

/*
 * relying.c: --revocation-access registered. http_relying_start() checks
 * what the mode needs and starts the counts' flusher (a no-op when open);
 * http_relying_stop() stops it after a last flush. http_relying_guarded():
 * 1 for a row the mode guards (OCSP, CRLs, the linking look-up).
 * http_relying_admit(): the request's client certificate verifies to the
 * client CA and is a registered, enabled verifier's: 0 with up->verifier
 * and up->purpose set; else it has answered 403 (*ret its result).
 * http_relying_scope(): 0 when a verifier of up->purpose may ask about a
 * certificate of the CAs in `types` (bits 1u << type), else 403 sent.
 * http_relying_count(): one answered query of the request's verifier.
 */
int http_relying_start(struct jpki_http *srv,
		       const struct jpki_http_options *opts) JPKI_MUST_CHECK;
void http_relying_stop(struct jpki_http *srv);
int http_relying_guarded(const struct http_route *route);
int http_relying_admit(enum MHD_Result *ret, struct jpki_http *srv,
		       struct MHD_Connection *conn, struct upload *up,
		       const char *url) JPKI_MUST_CHECK;
int http_relying_scope(enum MHD_Result *ret, struct MHD_Connection *conn,
		       const struct upload *up, unsigned types) JPKI_MUST_CHECK;
void http_relying_count(struct jpki_http *srv, const struct upload *up,
			enum jpki_verifier_query q);
/* SHA-256 of the DER of the client certificate of conn's TLS session, hex;
 * "" when none was sent. */
void http_tls_client_fingerprint(char out[65], struct MHD_Connection *conn);

/* ---- the route table (routes.c) -------------------------------------------
 */

/* Methods of a row (HEAD goes with GET). */
#define HTTP_GET 1u
#define HTTP_POST 2u

/* Who may call a row: HTTP_PUBLIC, HTTP_OPERATOR (any operator logged in)
 * or HTTP_ROLE() of one or more operator roles. */
#define HTTP_PUBLIC 0u
#define HTTP_OPERATOR (1u << 31)
#define HTTP_ROLE(r) (HTTP_OPERATOR | 1u << (r))

/* Row flags. */
#define HTTP_JSON 1u     /* answers are JSON: 401/403/413 as {"error"} */
#define HTTP_OWN_413 2u  /* the handler answers a body over the cap */
#define HTTP_FORM 4u     /* a POST body is a urlencoded form: checked whole
			  * (http_form_check) before the handler */

/* One request as the table hands it to a handler. */
struct http_request {
	const char *url;    /* the whole path */
	const char *rest;   /* past the row's path (prefix rows), else "" */
	const char *method;
	int post;
	const struct upload *up;
	const struct http_route *route;
	/* rows with callers: the session's token and operator */
	const char *token;
	struct jpki_actor who;
};

typedef enum MHD_Result (*http_handler)(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);

struct http_route {
	const char *path;
	int prefix;         /* 1: path is a prefix of the URL */
	unsigned role;      /* enum jpki_http_role */
	unsigned methods;   /* HTTP_GET | HTTP_POST */
	size_t body_cap;    /* bytes kept of a body */
	unsigned callers;   /* HTTP_PUBLIC, HTTP_OPERATOR or HTTP_ROLE()s */
	unsigned flags;     /* HTTP_JSON, HTTP_OWN_413, HTTP_FORM */
	http_handler handler;
	/* a page row whose caller is not allowed: the page that says so
	 * (a log-in form); NULL for the plain 401/403 */
	http_handler deny;
	const void *arg;    /* the handler's own (the API's procedure) */
};

/* The row of `url` among the rows of `roles`, NULL for none. */
const struct http_route *http_route_find(unsigned roles, const char *url);
/* The table itself, for tests that walk every row. */
const struct http_route *http_route_table(size_t *n);
/* The "Allow" header of a row: "GET, HEAD", "POST" or both. */
const char *http_route_allow(const struct http_route *route);
/*
 * Answers one request from the table: 404 without a row, 405 with Allow
 * for a method the row does not take, 413 for a body over its cap, 503
 * when the role lacks what it needs, 401/403 for a caller it does not
 * allow; else the row's handler.
 */
enum MHD_Result http_route_dispatch(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    const char *url, const char *method,
				    struct upload *up);

/* The handlers of the rows (each file's own). */
enum MHD_Result http_healthz(struct jpki_http *srv, struct MHD_Connection *conn,
			     struct http_request *req);
enum MHD_Result http_ocsp(struct jpki_http *srv, struct MHD_Connection *conn,
			  struct http_request *req);
enum MHD_Result http_login_challenge(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_login_response(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req);
enum MHD_Result http_repository_index(struct jpki_http *srv,
				      struct MHD_Connection *conn,
				      struct http_request *req);
enum MHD_Result http_repository_ca(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_repository_crl(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req);
/* relying.c: GET /link/<issuer key id>/<serial> */
enum MHD_Result http_link(struct jpki_http *srv, struct MHD_Connection *conn,
			  struct http_request *req);
/* window.c: the pages */
enum MHD_Result http_window_login(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_window_login_form(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req);
enum MHD_Result http_window_logout(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_window_dashboard(struct jpki_http *srv,
				      struct MHD_Connection *conn,
				      struct http_request *req);
enum MHD_Result http_window_resident(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_window_application(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);
enum MHD_Result http_window_apply(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_window_issue(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_window_copy(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 struct http_request *req);
enum MHD_Result http_window_letter(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
/* window.c: the frame of the clerk's pages, and the HTTP status of a
 * procedure's refusal (403 a rule, 404, 409 a state, 400 bad input) */
void http_window_page_start(FILE *f, const char *title,
			    const struct jpki_actor *who);
unsigned http_window_status(int r);
/* window_pages.c: every other procedure of the clerk's pages */
struct jpki_resident;
struct jpki_application;
void http_window_nav(FILE *f, const struct jpki_actor *who);
void http_window_resident_forms(FILE *f, struct jpki_http *srv,
				const struct jpki_resident *r);
void http_window_photo_id_options(FILE *f, struct jpki_http *srv,
				  const char *municipality_code);
void http_window_returned_form(FILE *f, const struct jpki_application *a);
enum MHD_Result http_window_renew(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_window_pin_reset(struct jpki_http *srv,
				      struct MHD_Connection *conn,
				      struct http_request *req);
enum MHD_Result http_window_report(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_window_returned(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_window_fees(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 struct http_request *req);
enum MHD_Result http_window_office(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
/* window_services.c: the registry's services at the counter (copies at
 * any municipality, the simplified move), pages and API rows */
enum MHD_Result http_window_services(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_window_residence_copy(struct jpki_http *srv,
					   struct MHD_Connection *conn,
					   struct http_request *req);
enum MHD_Result http_window_move_out(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_window_move_in(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req);
enum MHD_Result http_window_move_status(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);
/* seal registration (印鑑登録) at the counter: the image as a file of a
 * multipart form (POST /window/seal/register), the 廃止 as a plain form
 * (POST /window/seal/cancel) */
enum MHD_Result http_window_seal_register(struct jpki_http *srv,
					  struct MHD_Connection *conn,
					  struct http_request *req);
enum MHD_Result http_window_seal_cancel(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);
enum MHD_Result http_api_residence_copy(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);
enum MHD_Result http_api_move_out(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_api_move_status(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
/* window.c: the JSON API; a row's arg is its procedure */
enum MHD_Result http_api_login(struct jpki_http *srv,
			       struct MHD_Connection *conn,
			       struct http_request *req);
/* GET /api/audit?operator=&municipality=&action=&since=&until=&limit= */
enum MHD_Result http_api_audit(struct jpki_http *srv,
			       struct MHD_Connection *conn,
			       struct http_request *req);
enum MHD_Result http_api_call(struct jpki_http *srv,
			      struct MHD_Connection *conn,
			      struct http_request *req);
/* {"result":"refused","error":why} with status (and "field" when not
 * NULL). */
enum MHD_Result http_api_error(struct MHD_Connection *conn, unsigned status,
			       const char *why, const char *field);
struct http_api_proc;
extern const struct http_api_proc http_api_logout, http_api_resident,
    http_api_register, http_api_move, http_api_name, http_api_birth,
    http_api_sex, http_api_guardianship, http_api_death, http_api_remove,
    http_api_apply, http_api_returned, http_api_issue, http_api_renew,
    http_api_pin_reset, http_api_capacity, http_api_hours, http_api_fees,
    http_api_report, http_api_applications, http_api_audit_verify,
    http_api_counters, http_api_office_add, http_api_offices,
    http_api_seal_register, http_api_seal_cancel;
/* A seal's PNG in base64 (services.h's cap), and the body that carries
 * it with the other fields. */
#define HTTP_SEAL_IMAGE_B64 ((JPKI_SEAL_IMAGE_MAX + 2) / 3 * 4)
#define HTTP_SEAL_BODY (HTTP_SEAL_IMAGE_B64 + 4096)
/* portal.c */
enum MHD_Result http_portal_choose(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_portal_script(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_portal_agency_cert(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);
enum MHD_Result http_portal_submit(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_portal_form(struct jpki_http *srv,
				 struct MHD_Connection *conn,
				 struct http_request *req);
enum MHD_Result http_portal_application(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);
enum MHD_Result http_portal_login(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_portal_inbox(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_portal_inbox_json(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req);
enum MHD_Result http_portal_inbox_login(struct jpki_http *srv,
					struct MHD_Connection *conn,
					struct http_request *req);

/* services.c: the agencies' look-ups (one, a batch) and the disclosure
 * on paper at the window */
enum MHD_Result http_services_lookup(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_services_batch(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req);
enum MHD_Result http_window_disclosure(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req);
/* disclosure.c: the resident's disclosure page and its script (GET
 * /disclosure, /disclosure/disclosure.js); bridge_js.c: the bridge's page
 * protocol and the card log-in the kiosk's and the disclosure page share
 * (GET /jpki-bridge.js) */
enum MHD_Result http_disclosure_page(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
enum MHD_Result http_disclosure_script(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req);
enum MHD_Result http_bridge_script(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
enum MHD_Result http_services_disclosure_response(struct jpki_http *srv,
						  struct MHD_Connection *conn,
						  struct http_request *req);

/* The kiosk's budget of card log-ins per terminal (kiosk.c). */
int http_kiosk_limit_new(struct http_limit **out,
			 const struct jpki_http *srv) JPKI_MUST_CHECK;
/* The portal site's sections of the repository's page (portal_site.c):
 * downloads with their SHA-256, readers, procedures, notices. */
void http_portal_site(FILE *f, const struct jpki_http *srv);
/* GET /download/NAME: a file of the portal's download directory. */
enum MHD_Result http_download(struct jpki_http *srv,
			      struct MHD_Connection *conn,
			      struct http_request *req);
/* GET /verify-document (kiosk and window roles): a kiosk document's
 * serial checked, rate-limited per address (verify_document.c). */
int http_verify_limit_new(struct http_limit **out) JPKI_MUST_CHECK;
enum MHD_Result http_verify_document(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req);
/* The kiosk role: /kiosk. Sets *handled when the URL is the kiosk's. */
enum MHD_Result http_kiosk(struct jpki_http *srv, struct MHD_Connection *conn,
			   const char *url, const char *method,
			   const struct upload *up, int *handled);

/* oidc.c: the oidc role's endpoints */
enum MHD_Result http_oidc_discovery(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req);
enum MHD_Result http_oidc_jwks(struct jpki_http *srv,
			       struct MHD_Connection *conn,
			       struct http_request *req);
enum MHD_Result http_oidc_authorize(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req);
enum MHD_Result http_oidc_login(struct jpki_http *srv,
				struct MHD_Connection *conn,
				struct http_request *req);
enum MHD_Result http_oidc_consent(struct jpki_http *srv,
				  struct MHD_Connection *conn,
				  struct http_request *req);
enum MHD_Result http_oidc_token(struct jpki_http *srv,
				struct MHD_Connection *conn,
				struct http_request *req);
enum MHD_Result http_oidc_userinfo(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req);
/* portal.c: a signing certificate's status from the CA's records (the
 * verify module's callback; arg is the jpki_ca). */
int http_sign_status(void *arg, X509 *cert, X509 *issuer, const char *serial,
		     enum jpki_verify_status *status, int *reason);

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
/* The operators' log-in form (the window's and the portal's inbox) under
 * the heading `title`, posted to `action` (both this program's own text,
 * not escaped), after the refusal of the last attempt when `error` is not
 * NULL. */
void http_login_form(FILE *f, const char *title, const char *action,
		     const char *error);
/* The session token of a request: a Bearer token, else the jpki_session
 * cookie; NULL when neither (borrowed from the connection). */
const char *http_session_token(struct MHD_Connection *conn);
/*
 * csrf.c: what guards a state change made by cookie. The clerk's pages
 * take the session from the cookie only (http_cookie_token) and the JSON
 * API from the Bearer header only (http_bearer_token), so a browser, which
 * attaches cookies by itself but never a Bearer header, cannot be made to
 * call the API. A cookie POST needs both http_same_origin() (the Origin
 * header is this server's scheme://Host; a missing one is refused) and the
 * session's token in the form's "csrf" field: http_csrf_check() gives 0 or
 * JPKI_ERR_POLICY with the reason.
 */
#define HTTP_CSRF_LEN 64
const char *http_cookie_token(struct MHD_Connection *conn);
const char *http_bearer_token(struct MHD_Connection *conn);
int http_same_origin(struct jpki_http *srv, struct MHD_Connection *conn);
/* A page or script of the pages that run the browser bridge (kiosk,
 * portal) under a Content-Security-Policy allowing only this origin; with
 * `number`, a PDF copy (its Content-Disposition and X-Jpki-Copy-Number).
 * MHD_RESPMEM_MUST_FREE data is freed on failure too. */
enum MHD_Result http_send_csp(struct MHD_Connection *conn, unsigned status,
			      const char *type, const void *data, size_t len,
			      enum MHD_ResponseMemoryMode mode,
			      const char *number);
/* The session's token (HMAC-SHA-256 of the session under a per-process
 * key), hex. */
int http_csrf_token(char out[HTTP_CSRF_LEN + 1],
		    const char *session) JPKI_MUST_CHECK;
int http_csrf_check(struct jpki_http *srv, struct MHD_Connection *conn,
		    const struct upload *up,
		    const char *session) JPKI_MUST_CHECK;
/* The token of the request this thread answers, set by http_csrf_begin()
 * and wiped by http_csrf_end(); http_csrf_field() writes it into a form
 * as <input type=hidden name=csrf>. */
int http_csrf_begin(const char *session) JPKI_MUST_CHECK;
void http_csrf_end(void);
void http_csrf_field(FILE *f);
/* A query-string argument, "" when absent (borrowed). */
const char *http_query(struct MHD_Connection *conn, const char *key);
/* 400 with a page that says which form field was refused and why. */
enum MHD_Result http_form_refused(struct MHD_Connection *conn,
				  const char *why);
/* A urlencoded form field of the body into out, "" when absent. Only for
 * rows with HTTP_FORM: the table has refused a body with a field that is
 * too long, badly escaped or not one line, so none reads as "" here. */
void http_field(char *out, size_t size, const struct upload *up,
		const char *key);
/*
 * multipart.c: a multipart/form-data body (a form with a file input),
 * parsed by libmicrohttpd's post processor: at most HTTP_MULTIPART_FIELDS
 * one-line text fields of HTTP_FIELD_MAX bytes, each name once, and the
 * file field `file_key` (NULL: files are skipped) of at most file_max
 * bytes. 0, JPKI_ERR_TOO_LARGE for a larger file, JPKI_ERR_PARSE with a
 * sentence for any other fault (nothing kept). http_multipart_free()
 * frees the file.
 */
#define HTTP_MULTIPART_FIELDS 12
struct http_multipart_field {
	char name[64];
	char value[HTTP_FIELD_MAX + 1];
	size_t len;
};
struct http_multipart {
	struct http_multipart_field field[HTTP_MULTIPART_FIELDS];
	size_t nfields;
	const char *file_key;
	unsigned char *file;
	size_t file_len, file_max;
	char file_type[128], file_name[128]; /* as the browser sent them */
	int file_seen, file_too_large;
	const char *why; /* the end of the refusal's sentence */
};
int http_is_multipart(struct MHD_Connection *conn);
int http_multipart_parse(struct http_multipart *mp,
			 struct MHD_Connection *conn, const struct upload *up,
			 const char *file_key, size_t file_max) JPKI_MUST_CHECK;
/* A text field's value, NULL when absent (borrowed from mp). */
const char *http_multipart_value(const struct http_multipart *mp,
				 const char *key);
void http_multipart_free(struct http_multipart *mp);
/* 303 to `to`, with a Set-Cookie when cookie is not NULL. */
enum MHD_Result http_redirect(struct MHD_Connection *conn, const char *to,
			      const char *cookie);

#endif
