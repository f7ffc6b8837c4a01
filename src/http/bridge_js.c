/*
 * The card log-in of the pages that run the browser bridge (the kiosk's
 * terminal page, the resident's disclosure page; the portal's application
 * page uses its jpkiBridge), in one script served from this origin as
 * /jpki-bridge.js (docs/BROWSER.md, "Using the
 * bridge"): jpkiBridge(msg) speaks the page protocol to the extension,
 * jpkiLogin(url) takes a fresh challenge from `url` (this server's login
 * role), has the card answer it (the host asks the authentication PIN in
 * its own prompt and binds the answer to the page's origin) and resolves
 * with the answer, the body of docs/LOGIN.md's POST .../response. The
 * pages post that answer to their own endpoint, which checks it.
 */
#include "http/http_internal.h"

static const char bridge_js[] =
    "'use strict';\n"
    "// The OpenJPKI bridge's page protocol and the card log-in\n"
    "// (docs/BROWSER.md), shared by this server's pages.\n"
    "function jpkiBridge(msg) {\n"
    "  return new Promise((resolve, reject) => {\n"
    "    const id = crypto.randomUUID();\n"
    "    const timer = setTimeout(() => {\n"
    "      window.removeEventListener('message', on);\n"
    "      reject(new Error('the OpenJPKI bridge did not answer'));\n"
    "    }, 180000);\n"
    "    function on(ev) {\n"
    "      if (ev.source !== window || ev.origin !== location.origin) "
    "return;\n"
    "      const d = ev.data;\n"
    "      if (!d || d.id !== id) return;\n"
    "      if (d.jpki !== 'response' && !(d.jpki === 'hello' && 'version' "
    "in d)) return;\n"
    "      clearTimeout(timer);\n"
    "      window.removeEventListener('message', on);\n"
    "      resolve(d);\n"
    "    }\n"
    "    window.addEventListener('message', on);\n"
    "    window.postMessage({ ...msg, id }, location.origin);\n"
    "  });\n"
    "}\n"
    "// 1 when the extension's content script marked the page\n"
    "function jpkiBridgeHere() {\n"
    "  return document.documentElement.dataset.jpkiBridge === '1';\n"
    "}\n"
    "// The card's answer to a fresh challenge of challengeUrl; throws\n"
    "// 'message (code)' when the bridge refuses (a wrong PIN: pin_wrong)\n"
    "async function jpkiLogin(challengeUrl) {\n"
    "  const ch = await (await fetch(challengeUrl, { cache: 'no-store' "
    "})).json();\n"
    "  const r = await jpkiBridge({ jpki: 'request', op: 'login', "
    "challenge: ch.challenge });\n"
    "  if (!r.ok) throw new Error(r.error.message + ' (' + r.error.code + "
    "')');\n"
    "  return r.result;\n"
    "}\n";

enum MHD_Result http_bridge_script(struct jpki_http *srv,
				   struct MHD_Connection *conn,
				   struct http_request *req)
{
	(void)srv;
	(void)req;
	return http_send_csp(
	    conn, MHD_HTTP_OK, "text/javascript; charset=utf-8", bridge_js,
	    sizeof(bridge_js) - 1, MHD_RESPMEM_PERSISTENT, NULL);
}
