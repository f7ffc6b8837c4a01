/*
 * The resident's disclosure page (提供状況の開示, docs/REGISTRY.md): GET
 * /disclosure on the login role, beside the exchange it drives
 * (/disclosure/challenge, /disclosure/response in services.c). The page
 * holds no data: its script (/disclosure/disclosure.js, with the shared
 * card log-in of /jpki-bridge.js) has the card answer a fresh challenge
 * through the browser bridge, posts the answer as JSON and shows the list
 * the server answers with, which services.c reads only for the person the
 * accepted authentication certificate belongs to.
 *
 * No session is opened: the answer is single-use and bound to this
 * origin, and the list goes back to the page that posted it and lives in
 * that page only; a reload or another tab shows nothing until the card
 * logs in again. A page of another origin cannot post the JSON (no CORS
 * preflight is granted) and the bridge binds its answer to that origin,
 * which the verifier refuses.
 */
#include <stdio.h>

#include "http/http_internal.h"

#define TITLE "本人確認情報の提供状況の開示 (who looked you up)"
#define COLOUR "#2b5797"

static const char disclosure_js[] =
    "'use strict';\n"
    "// The resident's disclosure: log in with the card through the\n"
    "// OpenJPKI bridge (/jpki-bridge.js), show the list the server gives.\n"
    "const $ = (id) => document.getElementById(id);\n"
    "function say(state, text) {\n"
    "  $('status').dataset.state = state;\n"
    "  $('status').textContent = text;\n"
    "}\n"
    "function cell(row, text) {\n"
    "  const td = document.createElement('td');\n"
    "  td.textContent = text;\n"
    "  row.appendChild(td);\n"
    "}\n"
    "// the list, as text nodes only (an agency's name is never markup)\n"
    "function show(d) {\n"
    "  const body = $('lookups').tBodies[0];\n"
    "  body.replaceChildren();\n"
    "  for (const x of d.lookups) {\n"
    "    const row = document.createElement('tr');\n"
    "    cell(row, x.at.replace('T', ' ').replace('Z', ' UTC'));\n"
    "    cell(row, x.agency);\n"
    "    cell(row, x.purpose);\n"
    "    body.appendChild(row);\n"
    "  }\n"
    "  $('resident').textContent = (d.name ? d.name + ' ' : '') + '(' + "
    "d.resident_code + ')';\n"
    "  $('result').hidden = false;\n"
    "  $('lookups').hidden = d.lookups.length === 0;\n"
    "  $('none').hidden = d.lookups.length !== 0;\n"
    "}\n"
    "async function disclose() {\n"
    "  $('login').disabled = true;\n"
    "  $('result').hidden = true;\n"
    "  try {\n"
    "    if (!jpkiBridgeHere())\n"
    "      return say('refused', 'OpenJPKIの拡張機能がありません (the "
    "OpenJPKI bridge is not installed)');\n"
    "    say('busy', 'カードを読み取っています… (type the 4-digit PIN of "
    "the authentication certificate in the prompt)');\n"
    "    // a refusal of the bridge (a wrong PIN) throws: said below\n"
    "    const answer = await jpkiLogin('/disclosure/challenge');\n"
    "    const resp = await fetch('/disclosure/response', { method: "
    "'POST', cache: 'no-store', headers: { 'Content-Type': "
    "'application/json' }, body: JSON.stringify(answer) });\n"
    "    let d = {};\n"
    "    try { d = await resp.json(); } catch (e) { /* not JSON */ }\n"
    "    if (resp.status !== 200 || d.result !== 'accepted')\n"
    "      return say('refused', 'ログインできません (refused): ' + "
    "(d.error || 'HTTP ' + resp.status));\n"
    "    show(d);\n"
    "    say('done', d.lookups.length + ' 件 (look-ups)');\n"
    "  } catch (e) {\n"
    "    say('refused', String(e.message || e));\n"
    "  } finally {\n"
    "    $('login').disabled = false;\n"
    "  }\n"
    "}\n"
    "$('login').addEventListener('click', disclose);\n";

enum MHD_Result http_disclosure_page(struct jpki_http *srv,
				     struct MHD_Connection *conn,
				     struct http_request *req)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)srv;
	(void)req;
	if (f == NULL)
		return MHD_NO;
	http_page_start(f, "提供状況の開示", TITLE, COLOUR);
	fputs("<section><h2>" TITLE "</h2><p>行政機関があなたの本人確認情報"
	      "（氏名・生年月日・性別・住所）の提供を受けた記録を表示します。"
	      "ご本人だけが、マイナンバーカードの利用者証明用電子証明書で"
	      "ログインして見られます。 (Which agencies were given your "
	      "identity information, when and for what. Only you can see it, "
	      "after logging in with your card's authentication "
	      "certificate.)</p><ol class=\"steps\"><li>マイナンバーカードを"
	      "読み取り機に置いてください。 (Put your card on the reader.)"
	      "</li><li>「ログイン」を押し、表示される画面で暗証番号（数字4桁）"
	      "を入力してください。 (Press the button and type the 4-digit PIN "
	      "in the prompt that opens.)</li></ol><button id=\"login\" "
	      "type=\"button\">ログイン (log in with the card)</button><p "
	      "id=\"status\" data-state=\"ready\"></p></section>"
	      "<section id=\"result\" hidden><h2>提供の記録 (the record)</h2>"
	      "<p id=\"resident\"></p><table id=\"lookups\"><thead><tr><th>"
	      "日時 (when)</th><th>提供先 (agency)</th><th>利用目的 "
	      "(purpose)</th></tr></thead><tbody></tbody></table><p "
	      "id=\"none\" hidden>提供の記録はありません。 (No agency has "
	      "looked you up.)</p></section>"
	      "<script src=\"/jpki-bridge.js\"></script>"
	      "<script src=\"/disclosure/disclosure.js\"></script></main>"
	      "</body></html>\n",
	      f);
	fclose(f);
	return http_send_csp(conn, MHD_HTTP_OK, "text/html; charset=utf-8", buf,
			     len, MHD_RESPMEM_MUST_FREE, NULL);
}

enum MHD_Result http_disclosure_script(struct jpki_http *srv,
				       struct MHD_Connection *conn,
				       struct http_request *req)
{
	(void)srv;
	(void)req;
	return http_send_csp(
	    conn, MHD_HTTP_OK, "text/javascript; charset=utf-8", disclosure_js,
	    sizeof(disclosure_js) - 1, MHD_RESPMEM_PERSISTENT, NULL);
}
