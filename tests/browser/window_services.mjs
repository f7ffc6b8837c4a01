// The registry's services at the counter (/window/services) in the
// browser: a clerk of municipality A (winA) issues the copy of the
// residence certificate of a resident of B (広域交付) and gets the PDF, a
// wrong photo-ID address is refused (403, nothing issued), B's resident's
// own page stays 403 to A's clerk; A's clerk records a move-out notice
// received by post (the move pending), a second one is refused (409); B's
// clerk (winB) sees the pending move on the move status page, and an
// unknown resident's status is 404.
//
// Config: a (A's resident), b (B's resident), bAddress (B's resident's
// registered address), pw.winA, pw.winB. Prints "copy FILE" (the PDF it
// wrote beside the screenshots) for the shell test to read.
import fs from 'node:fs';
import { fail } from './window_lib.mjs';

// GET `path` from the page, read as bytes (a PDF opens no page to check)
async function getBytes(page, path) {
	return page.evaluate(async (p) => {
		const r = await fetch(p);
		const b = new Uint8Array(await r.arrayBuffer());
		let s = '';
		for (const c of b) s += String.fromCharCode(c);
		return { status: r.status, type: r.headers.get('content-type'),
			b64: btoa(s) };
	}, path);
}

// the services form holding button `button`, filled with `fields`
async function fill(t, page, button, fields) {
	for (const [name, value] of Object.entries(fields))
		await t.fill(page, `form:has(#${button}) [name="${name}"]`, value);
}

// the copy form's own POST, read as bytes (a PDF opens no page to check)
async function postCopy(page) {
	return page.$eval('form:has(#residence_copy)', async (form) => {
		const r = await fetch(form.action, { method: 'POST',
			headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
			body: new URLSearchParams(new FormData(form)).toString() });
		const b = new Uint8Array(await r.arrayBuffer());
		let s = '';
		for (const c of b) s += String.fromCharCode(c);
		return { status: r.status, type: r.headers.get('content-type'),
			b64: btoa(s) };
	});
}

export default async function (t, c) {
	const a = await t.as('winA', c.pw.winA);
	await a.goto(`${t.url}/window`);
	const [nav] = await Promise.all([a.waitForNavigation(),
		a.click('#nav-services')]);
	if (nav.status() !== 200 || await a.$('#residence_copy') === null)
		fail(`services page: HTTP ${nav.status()}`);
	await t.shot(a, 'services', 'page');

	// the copy of B's resident, with the wrong address first: refused
	await fill(t, a, 'residence_copy',
		{ person: c.b, photo_id_address: '千代田１番１号' });
	let s = await t.submit(a, '#residence_copy');
	await t.shot(a, 'services', 'copy-wrong-address');
	await t.refused(a, 403, s, 'do not match', 'a copy with another address');
	console.log('ok services: a copy with another address on the photo ID refused (403)');

	await a.goto(`${t.url}/window/services`);
	await fill(t, a, 'residence_copy',
		{ person: c.b, photo_id_address: c.bAddress });
	await t.shot(a, 'services', 'copy-form');
	const got = await postCopy(a);
	const pdf = Buffer.from(got.b64, 'base64');
	if (got.status !== 200 || got.type !== 'application/pdf' ||
	    pdf.subarray(0, 5).toString() !== '%PDF-')
		fail(`the copy: HTTP ${got.status} ${got.type} ${pdf.subarray(0, 300).toString()}`);
	const out = `${t.shots}/services-copy.pdf`;
	fs.writeFileSync(out, pdf);
	console.log(`ok services: the copy of B's resident at A (${pdf.length} bytes of PDF)`);
	console.log(`copy ${out}`);

	// the procedure opens no browsing of B's residents
	s = await t.resident(a, c.b);
	await t.shot(a, 'services', 'resident-of-b');
	await t.refused(a, 403, s, '271004', "B's resident's page for A's clerk");
	console.log("ok services: B's resident's page refused to A's clerk (403)");

	// a move-out notice received by post: A's resident to B
	await a.goto(`${t.url}/window/services`);
	const move = { person: c.a, to: '271004', to_prefecture: '大阪府',
		to_municipality: '大阪市北区', to_address: '大阪府大阪市北区梅田１番',
		arrival: '2026-11-20' };
	await fill(t, a, 'move_out', move);
	s = await t.submit(a, '#move_out');
	await t.shot(a, 'services', 'move-out');
	await t.done(a, s, 'the move-out by post');
	let state = await a.$eval('#state', (e) => e.dataset.state);
	if (state !== 'pending') fail(`the move-out is ${state}, not pending`);
	console.log('ok services: the move-out by post recorded, pending');

	await a.goto(`${t.url}/window/services`);
	await fill(t, a, 'move_out', move);
	s = await t.submit(a, '#move_out');
	await t.shot(a, 'services', 'move-out-again');
	await t.refused(a, 409, s, 'already pending', 'a second move-out');
	console.log('ok services: a second move-out refused (409)');

	// B's clerk: the move's state
	const b = await t.as('winB', c.pw.winB);
	await b.goto(`${t.url}/window/services`);
	await fill(t, b, 'move_status', { person: c.a });
	s = await t.submit(b, '#move_status');
	await t.shot(b, 'services', 'move-status-b');
	await t.done(b, s, "the move's state at B");
	state = await b.$eval('#state', (e) => e.dataset.state);
	if (state !== 'pending') fail(`B sees the move ${state}, not pending`);
	console.log("ok services: B's clerk sees the move pending");

	// the disclosure on paper: A's clerk from A's resident's page; B's
	// clerk may not print it for A's resident
	if (await t.resident(a, c.a) !== 200) fail("A's resident's page");
	const href = await a.$eval('#disclosure', (e) => e.getAttribute('href'));
	const disc = await getBytes(a, href);
	if (disc.status !== 200 || disc.type !== 'application/pdf' ||
	    !atob(disc.b64).startsWith('%PDF-'))
		fail(`the disclosure: HTTP ${disc.status} ${disc.type}`);
	console.log('ok services: the disclosure PDF from the resident\'s page');
	s = (await b.goto(`${t.url}${href}`)).status();
	await t.shot(b, 'services', 'disclosure-other');
	await t.refused(b, 403, s, '131016', "A's resident's disclosure for B's clerk");
	console.log("ok services: A's resident's disclosure refused to B's clerk (403)");

	await b.goto(`${t.url}/window/services`);
	await fill(t, b, 'move_in', { person: c.a, reader: 'no such reader' });
	s = await t.submit(b, '#move_in');
	await t.shot(b, 'services', 'move-in-no-reader');
	// pcscd runs only while a card test holds it: without it the same
	// move-in is refused for want of the reader service
	const text = await b.$eval('main', (m) => m.innerText);
	if (text.includes('no card reader service')) {
		if (s < 400)
			fail(`a move-in without pcscd: HTTP ${s}: ${text}`);
	} else {
		await t.refused(b, 404, s, 'no such reader', 'a move-in without the reader');
	}
	console.log(`ok services: a move-in at a reader that is not there refused (${s})`);

	// a copy posted without the session's form token: refused, nothing
	// issued (the shell test counts the copies on the audit chain)
	await a.goto(`${t.url}/window/services`);
	const forged = await a.evaluate(async (p, addr) => {
		const r = await fetch('/window/residence-copy', { method: 'POST',
			headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
			body: new URLSearchParams({ person: p,
				photo_id_address: addr }).toString() });
		return [r.status, r.headers.get('content-type'), await r.text()];
	}, c.b, c.bAddress);
	if (forged[0] !== 403 || forged[1] === 'application/pdf' ||
	    !forged[2].includes('token'))
		fail(`a copy without the form token: HTTP ${forged[0]} ${forged[1]}`);
	console.log('ok services: a copy without the form token refused (403)');

	await b.goto(`${t.url}/window/services`);
	s = await t.submit(b, '#move_status');
	await t.shot(b, 'services', 'move-status-empty');
	await t.refused(b, 400, s, 'resident code', 'the state of no resident');
	console.log('ok services: the move status without a resident code (400)');

	await b.goto(`${t.url}/window/services`);
	await fill(t, b, 'move_status', { person: '99999999999' });
	s = await t.submit(b, '#move_status');
	await t.shot(b, 'services', 'move-status-unknown');
	await t.refused(b, 404, s, '99999999999', 'the state of an unknown resident');
	console.log('ok services: an unknown resident\'s move 404');
}
