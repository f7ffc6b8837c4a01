// Seed 004's seven steps signed in the page (docs/BROWSER.md, "The
// portal") in headless Chromium with the OpenJPKI bridge loaded: choose,
// fill in, "電子署名" (the page hashes the application's bytes, the bridge
// signs the hash with the card, the PIN from the host's pinentry), "送信"
// (the bridge's host encrypts the signed application for the agency's
// certificate, op "seal", and the page posts that .p7m), the agency
// decrypts, verifies and accepts. Before 送信, the page's seal of changed
// bytes under the signature is refused by the host. Then the same signed
// bytes posted by a page of another origin (OTHER_URL, a page of the same
// server under another host name) are refused.
//
//   node portal_sign.mjs EXTENSION USER_DATA_DIR URL OTHER_URL NAME ADDRESS SHOTS OUT_FORM
//
// OUT_FORM gets the form's fields, the application's bytes and the detached
// signature as JSON (for the script's refusals of a plain signature).
//
// Prints "receipt<TAB>RECEIPT" and one line a check; exits non-zero on the
// first failure.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

const [ext, udd, url, otherUrl, name, address, shots, outForm] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });
const fail = (why) => { throw new Error(why); };
const ok = (what) => console.log(`ok - ${what}`);
const shot = (page, what) => page.screenshot({ path: `${shots}/${what}.png`, fullPage: true });
const text = (page) => page.$eval('main', (m) => m.innerText);

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	userDataDir: udd,
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja',
		`--load-extension=${ext}`, `--disable-extensions-except=${ext}`,
		'--disable-features=DisableLoadExtensionCommandLineSwitch'],
});

try {
	const page = await browser.newPage();
	await page.setViewport({ width: 1100, height: 800 });
	// 1-2: choose, fill in
	await page.goto(`${url}/portal`);
	await shot(page, 'e1-choose');
	await Promise.all([page.waitForNavigation(), page.click('#proc-moving')]);
	await page.type('#name', name);
	await page.type('#address', address);
	await page.type('#new_address', '千代田５番５号');
	await page.type('#moving_date', '2026-12-01');
	await page.type('#household_head', name);
	await shot(page, 'e2-form');
	await Promise.all([page.waitForNavigation(), page.click('#make')]);
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	await shot(page, 'e3-application');
	// 3-4: 電子署名 in the page
	await page.click('#esign');
	await page.waitForFunction(() => ['signed', 'refused'].includes(
		document.getElementById('sign-status').dataset.state), { timeout: 60000 });
	const st = await page.$eval('#sign-status', (e) => [e.dataset.state, e.textContent]);
	await shot(page, 'e4-signed');
	if (st[0] !== 'signed') fail(`電子署名: ${st.join(': ')}`);
	// the signature stays in the page's script until 送信 seals it
	const [form, posted] = await page.evaluate(() => {
		const fd = new FormData(document.getElementById('signed-form'));
		const f = Object.fromEntries([...fd.entries()].filter(([, v]) => typeof v === 'string'));
		// eslint-disable-next-line no-undef
		return [{ ...f, content: document.getElementById('content').value, signature },
			[...fd.keys()]];
	});
	if (!form.signature) fail('no signature in the page');
	if (posted.includes('content') || posted.includes('signature'))
		fail(`the form would post in the clear: ${posted}`);
	fs.writeFileSync(outForm, JSON.stringify(form));
	ok('電子署名: the card signed the application\'s hash through the bridge');
	// the host seals only bytes the signature is over
	const tampered = await page.evaluate((sig) => new Promise((resolve) => {
		const id = 'tamper-' + Math.random();
		const text = new TextDecoder().decode(Uint8Array.from(
			atob(document.getElementById('content').value), (c) => c.charCodeAt(0)));
		const changed = btoa(String.fromCharCode(...new TextEncoder().encode(
			text.replace('千代田５番５号', '千代田６番６号'))));
		window.addEventListener('message', function on(ev) {
			if (ev.source !== window || ev.data?.id !== id || ev.data.jpki !== 'response') return;
			window.removeEventListener('message', on);
			resolve(ev.data);
		});
		fetch('/portal/agency.crt').then((r) => r.text()).then((pem) => {
			const der = pem.replace(/-----[A-Z ]+-----|\s+/g, '');
			window.postMessage({ jpki: 'request', op: 'seal', id, document: changed,
				signature: sig, recipient: der }, location.origin);
		});
	}), form.signature);
	if (tampered.ok || tampered.error.code !== 'bad_request' ||
		!/not over this document/.test(tampered.error.message))
		fail(`the seal of changed bytes: ${JSON.stringify(tampered)}`);
	ok(`the host refuses to seal changed bytes: ${tampered.error.message}`);
	// 5-7: 送信 (sealed for the agency by the host), verified and accepted
	const sent = [];
	page.on('request', (r) => {
		if (r.url().endsWith('/portal/submit') && r.method() === 'POST')
			sent.push({ type: r.headers()['content-type'] || '', body: r.postData() || '' });
	});
	await Promise.all([page.waitForNavigation({ timeout: 60000 }), page.click('#esend')]);
	if (sent.length !== 1 || !sent[0].type.startsWith('multipart/form-data'))
		fail(`送信 posted ${JSON.stringify(sent.map((x) => x.type))}`);
	if (sent[0].body.includes(form.signature) || sent[0].body.includes(form.content))
		fail('送信 posted the signature or the application in the clear');
	await shot(page, 'e5-accepted');
	if (await page.$('#accepted') === null) fail('not accepted: ' + await text(page));
	const receipt = await page.$eval('#receipt', (e) => e.innerText);
	console.log(`receipt\t${receipt}`);
	ok(`送信: accepted with receipt ${receipt}`);

	// the same signed bytes, posted by a page of another origin
	const other = await browser.newPage();
	await other.setViewport({ width: 1100, height: 800 });
	await other.goto(`${otherUrl}/healthz`);
	await Promise.all([other.waitForNavigation(), other.evaluate((to, fields) => {
		const f = document.createElement('form');
		f.method = 'post';
		f.action = to;
		f.enctype = 'multipart/form-data';
		for (const [k, v] of Object.entries(fields)) {
			const i = document.createElement('input');
			i.type = 'hidden';
			i.name = k;
			i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
	}, `${url}/portal/submit`, form)]);
	await shot(other, 'e6-other-origin-refused');
	const body = await other.$eval('body', (b) => b.innerText);
	if (!/another site/.test(body) || await other.$('#accepted') !== null)
		fail(`another origin's post: ${body.slice(0, 300)}`);
	ok('the same signed form posted from another origin: refused');
} finally {
	await browser.close();
}
