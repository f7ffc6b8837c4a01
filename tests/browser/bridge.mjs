// The browser bridge in headless Chromium (docs/BROWSER.md): the extension
// from src/bridge/extension loaded unpacked, the native host's manifest in
// the private profile (USER_DATA_DIR/NativeMessagingHosts), a virtual card
// behind pcscd. A page on PAGE_URL (127.0.0.1) gets the certificates, signs
// a hash and logs in at the login role LOGIN_URL; the same page served from
// OTHER_URL (another origin) gets an answer that the verifier refuses.
//
//   node bridge.mjs EXTENSION USER_DATA_DIR PAGE_URL OTHER_URL LOGIN_URL SHOTS
//
// Prints one line a check; exits non-zero on the first failure.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

const [ext, udd, pageUrl, otherUrl, loginUrl, shots] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });
const fail = (why) => { throw new Error(why); };
const ok = (what) => console.log(`ok - ${what}`);

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	userDataDir: udd,
	// Chromium 137+ honours --load-extension only with this feature off
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja',
		`--load-extension=${ext}`, `--disable-extensions-except=${ext}`,
		'--disable-features=DisableLoadExtensionCommandLineSwitch'],
});
const shot = (page, what) => page.screenshot({ path: `${shots}/${what}.png`, fullPage: true });

// A fresh challenge from the login role, its answer made in the page, the
// verifier's verdict on it.
async function login(page) {
	const ch = await (await fetch(`${loginUrl}/challenge`)).json();
	const r = await page.evaluate((c) => jpki({ jpki: 'request', op: 'login', challenge: c }),
		ch.challenge);
	if (!r.ok) return { reply: r };
	const v = await fetch(`${loginUrl}/response`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify(r.result),
	});
	return { reply: r, status: v.status, verdict: await v.json() };
}

try {
	const page = await browser.newPage();
	await page.setViewport({ width: 900, height: 700 });
	await page.goto(pageUrl);
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	const hello = await page.evaluate(() => jpki({ jpki: 'hello' }));
	if (hello.version !== 1) fail(`hello: ${JSON.stringify(hello)}`);
	await shot(page, '1-extension');
	ok('the extension is in the page (hello, version 1)');

	const certs = await page.evaluate(() => jpki({ jpki: 'request', op: 'certificates' }));
	if (!certs.ok || !certs.result.authentication || !certs.result.signing_ca ||
	    !certs.result.authentication_ca)
		fail(`certificates: ${JSON.stringify(certs)}`);
	await page.evaluate((c) => show(c), certs);
	await shot(page, '2-certificates');
	fs.writeFileSync(`${shots}/authentication.b64`, certs.result.authentication);
	ok('certificates: the authentication certificate and both CAs');

	// the page hashes its document; the host signs the hash
	const signed = await page.evaluate(async () => {
		const doc = new TextEncoder().encode('転居届\nname: 山田 花子\n');
		const h = new Uint8Array(await crypto.subtle.digest('SHA-256', doc));
		const hash = btoa(String.fromCharCode(...h));
		return jpki({ jpki: 'request', op: 'sign', hash, hashAlgorithm: 'SHA-256',
			description: '転居届 (notice of moving)' });
	});
	if (!signed.ok || !signed.result.cms) fail(`sign: ${JSON.stringify(signed)}`);
	fs.writeFileSync(`${shots}/signed.p7s.b64`, signed.result.cms);
	await page.evaluate((c) => show(c), signed);
	await shot(page, '3-signed');
	ok('sign: a CMS for the page\'s hash');

	const a = await login(page);
	if (a.status !== 200 || a.verdict.result !== 'accepted')
		fail(`login: ${JSON.stringify(a)}`);
	if (a.reply.result.origin !== new URL(pageUrl).origin)
		fail(`login bound to ${a.reply.result.origin}`);
	await page.evaluate((v) => show(v), a.verdict);
	await shot(page, '4-login-accepted');
	ok(`login: accepted at the login role (account ${a.verdict.account})`);

	// a page cannot name the origin itself
	const forged = await page.evaluate(() => jpki({ jpki: 'request', op: 'login',
		origin: 'https://elsewhere.example', challenge: 'A'.repeat(43) }));
	if (forged.ok || forged.error.code !== 'bad_request')
		fail(`a request naming its origin: ${JSON.stringify(forged)}`);
	const unknown = await page.evaluate(() => jpki({ jpki: 'request', op: 'raw_sign' }));
	if (unknown.ok || unknown.error.code !== 'unknown_op')
		fail(`unknown op: ${JSON.stringify(unknown)}`);
	const big = await page.evaluate(() => jpki({ jpki: 'request', op: 'sign',
		hash: 'A'.repeat(70000), hashAlgorithm: 'SHA-256', description: 'x' }));
	if (big.ok || big.error.code !== 'too_large')
		fail(`a request over 64 KiB: ${JSON.stringify(big)}`);
	ok('refused in the page: a named origin, an unknown op, over 64 KiB');

	// another origin: its answer is bound to it, so the verifier refuses it
	const other = await browser.newPage();
	await other.setViewport({ width: 900, height: 700 });
	await other.goto(otherUrl);
	await other.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	const b = await login(other);
	if (!b.reply.ok) fail(`login from the other origin: ${JSON.stringify(b.reply)}`);
	if (b.reply.result.origin !== new URL(otherUrl).origin)
		fail(`the other page's answer is bound to ${b.reply.result.origin}`);
	if (b.status === 200 || b.verdict.result === 'accepted')
		fail(`the other origin's answer was accepted: ${JSON.stringify(b)}`);
	await other.evaluate((v) => show(v), b.verdict);
	await shot(other, '5-other-origin-refused');
	ok(`another origin: its answer is bound to ${b.reply.result.origin} and refused (${b.status})`);
} finally {
	await browser.close();
}
