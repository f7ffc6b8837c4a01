// The OpenJPKI bridge's content script: relays the page's requests
// ({"jpki": "request", ...} posted to its own window) to the service worker
// and posts the answers back (docs/BROWSER.md). The page's origin is added
// by the service worker from what the browser says about this tab, never
// from the message.
'use strict';
(() => {
	const api = globalThis.browser ?? globalThis.chrome;
	const MAX = 64 * 1024;
	const origin = window.location.origin;
	const answer = (msg) => window.postMessage(msg, origin);
	const refuse = (id, code, message) =>
		answer({ jpki: 'response', id, ok: false, error: { code, message } });

	document.documentElement.dataset.jpkiBridge = '1';
	window.addEventListener('message', (ev) => {
		// only this window's own page, never a frame or another window
		if (ev.source !== window || ev.origin !== origin) return;
		const m = ev.data;
		if (m === null || typeof m !== 'object' || typeof m.id !== 'string') return;
		if (m.jpki === 'hello' && !('version' in m)) {
			answer({ jpki: 'hello', id: m.id, version: 1 });
			return;
		}
		if (m.jpki !== 'request') return;
		let text;
		try {
			text = JSON.stringify(m);
		} catch (e) {
			refuse(m.id, 'bad_request', 'the request is not JSON');
			return;
		}
		if (text.length > MAX) {
			refuse(m.id, 'too_large', `a request is at most ${MAX} bytes`);
			return;
		}
		api.runtime.sendMessage({ request: text }).then(
			(reply) => answer({ jpki: 'response', ...reply, id: m.id }),
			(e) => refuse(m.id, 'internal', String(e && e.message || e)));
	});
})();
