/*
 * GET /verify-document?serial=K...: the municipality's public page on which
 * a third party (a bank, a landlord) checks a document the kiosk handed out
 * (住民票の写し, 印鑑登録証明書). It says issued on, kind, to whom (the name
 * masked), by which municipality and whether it is valid, nothing more; it
 * is public, so each client address has a small budget (a serial is 64
 * random bits, and the budget keeps a guesser to a handful an hour).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "jpki/services.h"

#define SITE "証明書の確認 (document check)"
#define COLOUR "#2f5d50"
#define VERIFY_BURST 10.0
#define VERIFY_EVERY 6.0 /* seconds for one more check */

int http_verify_limit_new(struct http_limit **out)
{
	return http_limit_new(out, 1.0 / VERIFY_EVERY, VERIFY_BURST);
}

static void form(FILE *f, const char *serial)
{
	fputs("<section><h2>交付された証明書の確認 (check an issued "
	      "document)</h2><form method=\"get\" action=\"/verify-document\">"
	      "<label for=\"serial\">証明書番号 (serial)</label><input "
	      "id=\"serial\" name=\"serial\" maxlength=\"17\" value=\"",
	      f);
	http_html_escape(f, serial != NULL ? serial : "");
	fputs("\" required> <button>確認 (check)</button></form></section>", f);
}

enum MHD_Result http_verify_document(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	const char *serial =
	    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "serial");
	struct jpki_document_check chk;
	char *buf = NULL;
	size_t len = 0;
	unsigned status = MHD_HTTP_OK;
	FILE *f;
	int r;

	(void)req;
	if (srv->st == NULL)
		return http_send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      "the check needs the store\n");
	if (serial != NULL && serial[0] != '\0') {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned retry = (unsigned)VERIFY_EVERY;

		if (srv->verify_limit == NULL ||
		    !http_limit_take(srv->verify_limit,
				     ci != NULL ? ci->client_addr : NULL,
				     &retry)) {
			static const char text[] =
			    "too many checks from this address: try again "
			    "later\n";
			struct MHD_Response *resp =
			    MHD_create_response_from_buffer(
				sizeof(text) - 1, (void *)text,
				MHD_RESPMEM_PERSISTENT);
			char after[16];
			enum MHD_Result ret;

			if (resp == NULL)
				return MHD_NO;
			snprintf(after, sizeof(after), "%u", retry);
			MHD_add_response_header(resp,
						MHD_HTTP_HEADER_CONTENT_TYPE,
						"text/plain; charset=utf-8");
			MHD_add_response_header(
			    resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
			ret = MHD_queue_response(
			    conn, MHD_HTTP_TOO_MANY_REQUESTS, resp);
			MHD_destroy_response(resp);
			return ret;
		}
	}
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MHD_NO;
	http_page_start(f, "証明書の確認", SITE, COLOUR);
	if (serial == NULL || serial[0] == '\0') {
		form(f, NULL);
		return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
	}
	if ((r = jpki_services_document_check(&chk, srv->st, serial)) != 0) {
		status = r == JPKI_ERR_INVALID ? MHD_HTTP_BAD_REQUEST
			 : r == JPKI_ERR_NOT_FOUND
			     ? MHD_HTTP_NOT_FOUND
			     : MHD_HTTP_INTERNAL_SERVER_ERROR;
		if (status == MHD_HTTP_INTERNAL_SERVER_ERROR)
			jpki_log(JPKI_LOG_ERROR, "verify-document: %s",
				 jpki_err_detail());
		http_refusal(f, "確認できません (not confirmed)",
			     status == MHD_HTTP_INTERNAL_SERVER_ERROR
				 ? "the check cannot be made now"
				 : jpki_err_detail());
		form(f, serial);
		return http_page_end(f, &buf, &len, conn, status);
	}
	{
		struct jpki_date d = jpki_date_of(chk.issued_at);

		fputs("<section><h2>確認結果 (result)</h2><dl id=\"result\">"
		      "<dt>証明書番号 (serial)</dt><dd>",
		      f);
		http_html_escape(f, serial);
		fprintf(f,
			"</dd><dt>種類 (kind)</dt><dd id=\"kind\">%s (%s)</dd>"
			"<dt>交付日 (issued on)</dt><dd id=\"issued\">"
			"%04d-%02d-%02d</dd><dt>交付先 (to)</dt>"
			"<dd id=\"holder\">",
			chk.kind == JPKI_DOC_SEAL_CERTIFICATE ? "印鑑登録証明書"
							      : "住民票の写し",
			jpki_services_document_kind_name(chk.kind), d.year,
			d.month, d.day);
		http_html_escape(f, chk.holder);
		fputs("</dd><dt>交付者 (issued by)</dt><dd>", f);
		http_html_escape(f, chk.municipality);
		fprintf(f,
			"長</dd><dt>有効性 (validity)</dt><dd id=\"valid\">"
			"%s</dd></dl></section>",
			chk.valid ? "有効 (valid)" : "無効 (not valid)");
		if (!chk.valid) {
			fputs("<p id=\"why\">", f);
			http_html_escape(f, chk.why);
			fputs("</p>", f);
		}
	}
	form(f, NULL);
	return http_page_end(f, &buf, &len, conn, MHD_HTTP_OK);
}
