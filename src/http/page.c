/*
 * The frame of the server-rendered pages that residents see (the agency
 * portal and the convenience-store kiosk): one look, forms, no inline
 * JavaScript (the kiosk's page loads its one script from its own origin,
 * kiosk.c), every outside string escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

void http_page_start(FILE *f, const char *title, const char *site,
		     const char *colour)
{
	fputs("<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\">"
	      "<title>",
	      f);
	http_html_escape(f, title);
	fputs(" — ", f);
	http_html_escape(f, site);
	fprintf(f,
		"</title><style>"
		"body{font-family:sans-serif;margin:0;background:#f4f6f8;"
		"color:#1b2733}"
		"header{background:%s;color:#fff;padding:.8em 1.5em}"
		"header h1{font-size:1.2em;margin:0}"
		"main{max-width:60em;margin:1.5em auto;padding:0 1.5em}"
		"section{background:#fff;border:1px solid #cfd8e0;"
		"border-radius:6px;padding:1em 1.5em;margin-bottom:1.2em}"
		"h2{font-size:1.05em;border-bottom:2px solid %s;"
		"padding-bottom:.3em}"
		"label{display:block;margin:.5em 0 .2em;font-weight:bold}"
		"input,select{font-size:1em;padding:.3em;min-width:18em}"
		"button{font-size:1em;padding:.4em 1.2em;background:%s;"
		"color:#fff;border:0;border-radius:4px;margin-top:.8em}"
		"table{border-collapse:collapse;width:100%%}"
		"td,th{border-bottom:1px solid #e0e6eb;padding:.35em;"
		"text-align:left;vertical-align:top}"
		"pre{background:#f7f7f2;border:1px solid #ddd;padding:.8em;"
		"white-space:pre-wrap}"
		"ol.steps li{margin:.3em 0}"
		"code{background:#eef1f4;padding:0 .2em}"
		".refused{background:#fdecea;border-color:#e0867c}"
		".done{background:#e8f5e9;border-color:#81c784}"
		".pending{background:#fff8e1;border-color:#ffca28}"
		"</style></head><body><header><h1>",
		colour, colour, colour);
	http_html_escape(f, site);
	fputs("</h1></header><main>", f);
}

enum MHD_Result http_page_end(FILE *f, char **buf, size_t *len,
			      struct MHD_Connection *conn, unsigned status)
{
	enum MHD_Result ret;

	fputs("</main></body></html>\n", f);
	fclose(f);
	ret = http_send(conn, status, "text/html; charset=utf-8", *buf, *len,
			"no-store");
	free(*buf);
	return ret;
}

void http_refusal(FILE *f, const char *what, const char *why)
{
	fputs("<section class=\"refused\" id=\"refused\"><h2>", f);
	http_html_escape(f, what);
	fputs("</h2><p>", f);
	http_html_escape(f, why);
	fputs("</p></section>", f);
}

void http_login_form(FILE *f, const char *title, const char *action,
		     const char *error)
{
	if (error != NULL)
		http_refusal(f, "ログインできません (cannot log in)", error);
	fprintf(f,
		"<section><h2>%s</h2><form method=\"post\" action=\"%s\">",
		title, action);
	fputs("<label for=\"operator\">職員ID (operator)</label>"
	      "<input id=\"operator\" name=\"operator\" autocomplete=\"off\" "
	      "required>"
	      "<label for=\"password\">パスワード (password)</label>"
	      "<input id=\"password\" name=\"password\" type=\"password\" "
	      "required><br><button id=\"login\">ログイン</button></form>"
	      "</section>",
	      f);
}

enum MHD_Result http_redirect(struct MHD_Connection *conn, const char *to,
			      const char *cookie)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, to);
	if (cookie != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE,
					cookie);
	ret = MHD_queue_response(conn, MHD_HTTP_SEE_OTHER, resp);
	MHD_destroy_response(resp);
	return ret;
}

const char *http_session_token(struct MHD_Connection *conn)
{
	const char *auth =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0)
		return auth + 7;
	return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
					   "jpki_session");
}

const char *http_query(struct MHD_Connection *conn, const char *key)
{
	const char *v =
	    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);

	return v ? v : "";
}

void http_field(char *out, size_t size, const struct upload *up,
		const char *key)
{
	if (http_form_value(out, size, up->data, up->len, key) != 1)
		out[0] = '\0';
}

enum MHD_Result http_form_refused(struct MHD_Connection *conn, const char *why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "入力の誤り", "OpenJPKI", "#8a1c1c");
	http_refusal(f,
		     "入力の誤り (the form was refused; nothing was "
		     "changed)",
		     why);
	fputs("<section><p>戻って入力を直してください。 (Go back and correct "
	      "the field.)</p></section>",
	      f);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_BAD_REQUEST);
}

/* Only this origin's script, no inline script, no framing, no form posted
 * elsewhere; the shared look keeps its inline style. */
static const char page_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action "
    "'self'; frame-ancestors 'none'";

enum MHD_Result http_send_csp(struct MHD_Connection *conn, unsigned status,
				const char *type, const void *data, size_t len,
				enum MHD_ResponseMemoryMode mode,
				const char *number)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)data, mode);
	enum MHD_Result ret;

	if (resp == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "Content-Security-Policy", page_csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (number != NULL) {
		MHD_add_response_header(resp, "Content-Disposition",
					"inline; filename=\"juminhyo.pdf\"");
		MHD_add_response_header(resp, "X-Jpki-Copy-Number", number);
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}
