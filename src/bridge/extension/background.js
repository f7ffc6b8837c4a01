// The OpenJPKI bridge's service worker (background script in Firefox):
// takes a page's request from the content script, puts in the page's
// origin as the browser reports it for the sending tab, and hands it to
// the native host jp.openjpki.bridge (docs/BROWSER.md).
'use strict';
const api = globalThis.browser ?? globalThis.chrome;
const HOST = 'jp.openjpki.bridge';
const OPS = new Set(['certificates', 'sign', 'login', 'seal']);

function refuse(id, code, message) {
	return { id, ok: false, error: { code, message } };
}

// The origin of the frame that sent the message: Chrome gives
// sender.origin, Firefox sender.url.
function senderOrigin(sender) {
	if (sender.id !== api.runtime.id || !sender.tab || sender.frameId !== 0)
		return null;
	try {
		const o = sender.origin ?? new URL(sender.url).origin;
		return o === 'null' ? null : o;
	} catch (e) {
		return null;
	}
}

async function relay(text, sender) {
	let m;
	try {
		m = JSON.parse(text);
	} catch (e) {
		return refuse('', 'bad_request', 'the request is not JSON');
	}
	const id = typeof m.id === 'string' ? m.id : '';
	const origin = senderOrigin(sender);
	if (origin === null)
		return refuse(id, 'origin_refused', 'the page has no web origin');
	if ('origin' in m)
		return refuse(id, 'bad_request', 'a page cannot name the origin: the browser does');
	if (!OPS.has(m.op))
		return refuse(id, 'unknown_op', `unknown op "${String(m.op).slice(0, 40)}"`);
	const { jpki, ...fields } = m;
	const request = { ...fields, origin };
	try {
		const reply = await api.runtime.sendNativeMessage(HOST, request);
		if (reply === null || typeof reply !== 'object')
			return refuse(id, 'internal', 'the bridge program gave no answer');
		return { id, ok: reply.ok === true, ...(reply.ok === true
			? { result: reply.result } : { error: reply.error }) };
	} catch (e) {
		return refuse(id, 'internal',
			'the OpenJPKI bridge program (jpki-native-host) did not answer: ' +
			String(e && e.message || e));
	}
}

// One request at a time: each one opens the card, may ask a PIN and
// resets the card at its end, so two must not interleave on the card (nor
// two PIN prompts open at once).
let queue = Promise.resolve();

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
	if (msg === null || typeof msg !== 'object' || typeof msg.request !== 'string')
		return false;
	const turn = queue.then(() => relay(msg.request, sender));
	queue = turn.catch(() => {});
	turn.then(sendResponse, (e) => sendResponse(refuse('', 'internal', String(e))));
	return true; // the answer comes later
});
