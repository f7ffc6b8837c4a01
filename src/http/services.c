/*
 * The registry's services over HTTP (docs/REGISTRY.md): an agency's
 * look-ups, one (POST /api/services/lookup) or a batch of JSON Lines
 * (POST /api/services/batch, answered as a stream of JSON Lines), and the
 * resident's disclosure on paper at the window (GET /window/disclosure)
 * and to the resident after the card's log-in (GET /disclosure/challenge,
 * POST /disclosure/response: docs/LOGIN.md's exchange, answered with the
 * list; ?format=html for a page).
 *
 * The look-ups are rows of the window role: the one link of an
 * installation that already runs mutual TLS with the infrastructure CA
 * (--tls-client-ca, checked in server.c before any row), and the process
 * that holds the register. The agency is whoever holds the certificate:
 * its SHA-256 must be a registered agency's, else 403 (recorded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "http/http_internal.h"
#include "jpki/ca.h"
#include "jpki/services.h"
#include "jpki/verify.h"

/* Lines of one batch request; the lines of a transaction (group commit:
 * each answer line leaves after its chunk is durable) are
 * jpki_services_batch_chunk()'s, 1024 growing to 8192. */
#define BATCH_MAX_LINES 100000

/* The SHA-256 of the leaf certificate of conn's TLS session. */
static int peer_fingerprint(char fp[65], struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers = NULL;
	unsigned n = 0;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL)
		peers = gnutls_certificate_get_peers(
		    (gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "no client certificate was presented");
	return jpki_services_fingerprint(fp, peers[0].data, peers[0].size);
}

/* The registered agency behind the request, or the refusal sent. */
static int agency_of(struct jpki_services_agency *a, enum MHD_Result *sent,
		     struct jpki_http *srv, struct MHD_Connection *conn,
		     const struct upload *up)
{
	char fp[65], why[512];

	if (srv->client_ca == NULL || up->client[0] == '\0') {
		/* without mutual TLS nobody is an agency */
		*sent = http_api_error(conn, MHD_HTTP_FORBIDDEN,
				       "the agency look-up needs a client "
				       "certificate (the server runs with "
				       "--tls-client-ca)",
				       NULL);
		return -1;
	}
	if (peer_fingerprint(fp, conn) != 0) {
		*sent = http_api_error(conn, MHD_HTTP_FORBIDDEN,
				       jpki_err_detail(), NULL);
		return -1;
	}
	if (jpki_services_agency_find(a, srv->st, fp) != 0) {
		snprintf(why, sizeof(why),
			 "the client certificate %s is no registered "
			 "agency's",
			 up->client);
		if (jpki_services_lookup_unknown(srv->st, up->client, fp) != 0)
			jpki_log(JPKI_LOG_ERROR,
				 "services: a refusal not recorded: %s",
				 jpki_err_detail());
		jpki_log(JPKI_LOG_WARN, "services: %s", why);
		*sent = http_api_error(conn, MHD_HTTP_FORBIDDEN, why, NULL);
		return -1;
	}
	return 0;
}

enum MHD_Result http_services_lookup(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	struct jpki_services_agency agency;
	struct jpki_services_query q;
	struct jpki_services_answer a;
	enum MHD_Result sent;
	int r;

	if (agency_of(&agency, &sent, srv, conn, req->up) != 0)
		return sent;
	if (jpki_services_query_parse(&q, (const char *)req->up->data,
				      req->up->len) != 0)
		return http_api_error(conn, MHD_HTTP_BAD_REQUEST,
				      jpki_err_detail(), NULL);
	r = jpki_services_lookup(&a, srv->st, &agency, &q);
	if (r == JPKI_ERR_POLICY)
		return http_api_error(conn, MHD_HTTP_FORBIDDEN,
				      jpki_err_detail(), NULL);
	if (r != 0) {
		jpki_log(JPKI_LOG_ERROR, "services: look-up: %s",
			 jpki_err_detail());
		return http_api_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				      "the look-up could not be recorded, so "
				      "it is not answered",
				      NULL);
	}
	return http_send_json(conn, MHD_HTTP_OK,
			      jpki_services_answer_json(&q, &a));
}

/* ---- the batch, streamed -------------------------------------------- */

struct batch {
	struct jpki_http *srv;
	struct jpki_services_agency agency;
	char *body;
	size_t len, pos; /* the request's lines, how far read */
	size_t line;     /* the number of the last line read */
	char *out;       /* answer lines not yet handed to the socket */
	size_t out_len, out_pos;
	size_t done; /* look-ups answered so far */
	size_t cap;  /* the arrays' length, grown with the chunk */
	struct jpki_services_query *q;
	struct jpki_services_answer *a;
	int *rcs;
	size_t *lineno;
	char **bad;    /* per line read: the error line of a bad one */
	size_t *order; /* per line read: 1 + index in q, or 0 */
};

/* Arrays for a chunk of n lines. */
static int batch_grow(struct batch *b, size_t n)
{
	if (n <= b->cap)
		return 0;
	free(b->q);
	free(b->a);
	free(b->rcs);
	free(b->lineno);
	free(b->bad);
	free(b->order);
	b->q = calloc(n, sizeof(*b->q));
	b->a = calloc(n, sizeof(*b->a));
	b->rcs = calloc(n, sizeof(*b->rcs));
	b->lineno = calloc(n, sizeof(*b->lineno));
	b->bad = calloc(n, sizeof(*b->bad));
	b->order = calloc(n, sizeof(*b->order));
	b->cap = n;
	if (b->q == NULL || b->a == NULL || b->rcs == NULL ||
	    b->lineno == NULL || b->bad == NULL || b->order == NULL) {
		b->cap = 0;
		return JPKI_ERR_NOMEM;
	}
	return 0;
}

static void batch_free(void *cls)
{
	struct batch *b = cls;

	if (b == NULL)
		return;
	free(b->body);
	free(b->out);
	free(b->q);
	free(b->a);
	free(b->rcs);
	free(b->lineno);
	free(b->bad);
	free(b->order);
	free(b);
}

static int out_add(FILE *f, char *text)
{
	int ok = text != NULL && fputs(text, f) >= 0 && fputc('\n', f) >= 0;

	free(text);
	return ok ? 0 : JPKI_ERR_NOMEM;
}

static char *line_error(size_t line, const char *id, const char *why)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "line", (json_int_t)line,
			      "id", id, "result", "refused", "error", why);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

/* Reads up to a chunk of lines, looks them up in one transaction, and
 * leaves their answers in b->out. 0, or an error (nothing to answer). */
static int batch_chunk(struct batch *b)
{
	char *buf = NULL, **bad;
	size_t size = 0, n = 0, *order;
	size_t read = 0, chunk = jpki_services_batch_chunk(b->done);
	FILE *f;
	int r = 0;

	if ((r = batch_grow(b, chunk)) != 0)
		return r;
	bad = b->bad;
	order = b->order;
	memset(bad, 0, chunk * sizeof(*bad));
	while (read < chunk && b->pos < b->len) {
		char *start = b->body + b->pos;
		char *nl = memchr(start, '\n', b->len - b->pos);
		size_t l = nl ? (size_t)(nl - start) : b->len - b->pos;

		b->pos += l + (nl ? 1 : 0);
		b->line++;
		if (l > 0 && start[l - 1] == '\r')
			l--;
		if (l == 0)
			continue; /* blank lines are no requests */
		if (jpki_services_query_parse(&b->q[n], start, l) != 0) {
			bad[read] = line_error(b->line, "", jpki_err_detail());
			order[read++] = 0;
			continue;
		}
		b->lineno[n] = b->line;
		order[read++] = ++n;
	}
	if ((r = jpki_services_lookup_many(b->a, b->rcs, b->srv->st, &b->agency,
					   b->q, n)) != 0)
		goto out;
	if ((f = open_memstream(&buf, &size)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < read && r == 0; i++) {
		size_t k = order[i];

		if (k == 0) {
			r = out_add(f, bad[i]);
			bad[i] = NULL;
		} else if (b->rcs[k - 1] != 0)
			r = out_add(f,
				    line_error(b->lineno[k - 1], b->q[k - 1].id,
					       "the agency is not "
					       "registered for this "
					       "purpose"));
		else
			r = out_add(f, jpki_services_answer_json(&b->q[k - 1],
								 &b->a[k - 1]));
	}
	if (fclose(f) != 0 && r == 0)
		r = JPKI_ERR_NOMEM;
	if (r == 0) {
		free(b->out);
		b->out = buf;
		b->out_len = size;
		b->out_pos = 0;
		b->done += read;
		buf = NULL;
	}
out:
	for (size_t i = 0; i < chunk; i++) {
		free(bad[i]);
		bad[i] = NULL;
	}
	free(buf);
	return r;
}

static ssize_t batch_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct batch *b = cls;
	size_t n;

	while (b->out_pos == b->out_len) {
		if (b->pos >= b->len)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (batch_chunk(b) != 0) {
			/* the chunk was not recorded: no answer of it may go,
			 * so the stream ends short (the agency sees which
			 * lines were answered) */
			jpki_log(JPKI_LOG_ERROR, "services: batch: %s",
				 jpki_err_detail());
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	n = b->out_len - b->out_pos;
	if (n > max)
		n = max;
	memcpy(dst, b->out + b->out_pos, n);
	b->out_pos += n;
	(void)pos;
	return (ssize_t)n;
}

enum MHD_Result http_services_batch(struct jpki_http *srv,
				    struct MHD_Connection *conn,
				    struct http_request *req)
{
	struct MHD_Response *resp;
	struct batch *b;
	enum MHD_Result sent;
	size_t lines = 0;
	char why[128];

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return MHD_NO;
	if (agency_of(&b->agency, &sent, srv, conn, req->up) != 0) {
		free(b);
		return sent;
	}
	if (req->up->too_large) {
		free(b);
		snprintf(why, sizeof(why),
			 "a batch is at most %zu bytes; send the rest in "
			 "another",
			 req->route->body_cap);
		return http_api_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, why,
				      NULL);
	}
	for (size_t i = 0; i < req->up->len; i++)
		lines += req->up->data[i] == '\n';
	if (lines > BATCH_MAX_LINES) {
		free(b);
		snprintf(why, sizeof(why),
			 "a batch is at most %d lines; send the rest in "
			 "another",
			 BATCH_MAX_LINES);
		return http_api_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, why,
				      NULL);
	}
	b->srv = srv;
	b->len = req->up->len;
	if (b->len > 0 && (b->body = malloc(b->len)) == NULL) {
		free(b);
		return MHD_NO;
	}
	if (b->len > 0)
		memcpy(b->body, req->up->data, b->len);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
						 batch_read, b, batch_free);
	if (resp == NULL) {
		batch_free(b);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	sent = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return sent;
}

/* ---- the disclosure on paper at the window -------------------------- */

/* A refusal as a window page (the clerk followed a link from the
 * resident's page), with the status of the error. */
static enum MHD_Result disclosure_refused(struct MHD_Connection *conn,
					  const struct jpki_actor *who, int r)
{
	char *buf = NULL, why[600];
	size_t len = 0;
	FILE *f;

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_window_page_start(f, "提供状況の開示 (disclosure)", who);
	http_refusal(f, "交付できません (refused; nothing was issued)", why);
	return http_page_end(f, &buf, &len, conn, http_window_status(r));
}

enum MHD_Result http_window_disclosure(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req)
{
	struct jpki_services_disclosed *list = NULL;
	struct jpki_resident res;
	unsigned char *pdf = NULL;
	size_t n = 0, len = 0;
	const char *person = http_query(conn, "person");
	enum MHD_Result ret;
	int r;

	if ((r = jpki_services_disclosure(&list, &n, srv->st, &req->who,
					  person)) != 0 ||
	    (r = jpki_registry_get(&res, srv->st, person)) != 0 ||
	    (r = jpki_services_disclosure_pdf(&pdf, &len, &res, list, n)) !=
		0) {
		free(list);
		return disclosure_refused(conn, &req->who, r);
	}
	free(list);
	ret = http_send(conn, MHD_HTTP_OK, "application/pdf", pdf, len,
			"no-store");
	free(pdf);
	return ret;
}

/* ---- the disclosure to the resident, after the card's log-in -------- */

/* The person whose authentication certificate the log-in proved, as the
 * CA recorded the serial (the kiosk's mapping). */
static int resident_of(struct jpki_resident *res, struct jpki_http *srv,
		       const char *serial)
{
	struct jpki_cert_info *info = NULL;
	int r;

	if ((r = jpki_ca_status(&info, srv->ca, serial)) != 0)
		return r;
	if (info->type != JPKI_CERT_AUTH)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the log-in did not use an authentication "
				 "certificate");
	else
		r = jpki_registry_get(res, srv->st, info->person);
	jpki_cert_info_free(info);
	return r;
}

static void disclosure_page(FILE *f, const struct jpki_resident *res,
			    const struct jpki_services_disclosed *list,
			    size_t n)
{
	http_page_start(f, "本人確認情報の提供状況", "提供状況の開示",
			"#2b5797");
	fputs("<h1>本人確認情報の提供状況 (who looked you up)</h1><p>", f);
	http_html_escape(f, res->facts.name);
	fputs("</p><table><tr><th>日時 (UTC)</th><th>提供先 (agency)</th>"
	      "<th>利用目的 (purpose)</th></tr>",
	      f);
	for (size_t i = 0; i < n; i++) {
		char at[32];
		struct tm tm;

		gmtime_r(&list[i].at, &tm);
		strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "<tr><td>%s</td><td>", at);
		http_html_escape(f, list[i].agency);
		fputs("</td><td>", f);
		http_html_escape(f, list[i].purpose);
		fputs("</td></tr>", f);
	}
	fputs("</table>", f);
	if (n == 0)
		fputs("<p>提供の記録はありません。 (No agency has looked you "
		      "up.)</p>",
		      f);
}

enum MHD_Result http_services_disclosure_response(struct jpki_http *srv,
						  struct MHD_Connection *conn,
						  struct http_request *req)
{
	const struct upload *up = req->up;
	struct jpki_verify_login_result res;
	struct jpki_services_disclosed *list = NULL;
	struct jpki_resident person;
	struct jpki_actor self;
	size_t n = 0;
	char *json = NULL, *buf = NULL;
	size_t len = 0;
	json_t *o, *items;
	int r;

	if (srv->st == NULL || srv->ca == NULL)
		return http_api_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      "the disclosure needs the register: "
				      "serve it beside the window role",
				      NULL);
	if (up->too_large)
		return http_api_error(conn, MHD_HTTP_BAD_REQUEST,
				      "the answer is too large", NULL);
	if (jpki_verify_login_check(&res, srv->login, up->data, up->len) != 0)
		jpki_log(JPKI_LOG_ERROR, "disclosure: %s", jpki_err_detail());
	if (!res.accepted) {
		if (jpki_verify_login_result_json(&json, &res) != 0)
			return MHD_NO;
		return http_send_json(conn, res.http_status, json);
	}
	if ((r = resident_of(&person, srv, res.serial)) != 0)
		return http_api_error(conn, http_window_status(r),
				      jpki_err_detail(), NULL);
	memset(&self, 0, sizeof(self));
	snprintf(self.operator_id, sizeof(self.operator_id), "resident:%.48s",
		 person.person);
	snprintf(self.municipality_code, sizeof(self.municipality_code), "%s",
		 person.municipality_code);
	if ((r = jpki_services_disclosure(&list, &n, srv->st, &self,
					  person.person)) != 0)
		return http_api_error(conn, http_window_status(r),
				      jpki_err_detail(), NULL);
	if (strcmp(http_query(conn, "format"), "html") == 0) {
		FILE *f = open_memstream(&buf, &len);

		if (f == NULL) {
			free(list);
			return MHD_NO;
		}
		disclosure_page(f, &person, list, n);
		free(list);
		return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
	}
	items = json_array();
	for (size_t i = 0; i < n && items != NULL; i++) {
		char at[32];
		struct tm tm;

		gmtime_r(&list[i].at, &tm);
		strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_array_append_new(
		    items, json_pack("{s:s,s:s,s:s}", "agency", list[i].agency,
				     "purpose", list[i].purpose, "at", at));
	}
	free(list);
	o = json_pack("{s:s,s:s,s:s,s:o}", "result", "accepted",
		      "resident_code", person.person, "name", person.facts.name,
		      "lookups", items);
	json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return http_send_json(conn, MHD_HTTP_OK, json);
}
