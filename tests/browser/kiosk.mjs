// The convenience-store kiosk as a terminal page (docs/BROWSER.md) in
// headless Chromium with the OpenJPKI bridge loaded: the page at KIOSK_URL
// logs the resident in through the bridge (the host's pinentry answers from
// PINS/auth) and receives the copy of the residence certificate; a wrong PIN
// is refused with the tries left; the page's select asks for the seal
// registration certificate, which the kiosk refuses (the resident has no
// seal: 403 with the reason); the same page served from OTHER_URL
// (another origin of the same server) gets an answer bound to that origin,
// which the kiosk refuses.
//
//   node kiosk.mjs EXTENSION USER_DATA_DIR KIOSK_URL OTHER_URL PINS SHOTS OUT_PDF
//
// Prints one line a check; exits non-zero on the first failure.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

const [ext, udd, kioskUrl, otherUrl, pins, shots, out] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });
const fail = (why) => { throw new Error(why); };
const ok = (what) => console.log(`ok - ${what}`);
const shot = (page, what) => page.screenshot({ path: `${shots}/${what}.png`, fullPage: true });

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	userDataDir: udd,
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja',
		`--load-extension=${ext}`, `--disable-extensions-except=${ext}`,
		'--disable-features=DisableLoadExtensionCommandLineSwitch'],
});

// Presses the button, waits for the page's verdict: {state, text}.
async function press(page) {
	await page.$eval('#status', (e) => { e.dataset.state = 'ready'; });
	await page.click('#issue');
	await page.waitForFunction(() => ['done', 'refused'].includes(
		document.getElementById('status').dataset.state), { timeout: 60000 });
	return page.$eval('#status', (e) => ({ state: e.dataset.state, text: e.textContent }));
}

async function open(u) {
	const page = await browser.newPage();
	await page.setViewport({ width: 900, height: 700 });
	await page.goto(u);
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	return page;
}

try {
	const page = await open(kioskUrl);
	await shot(page, '1-kiosk');

	fs.writeFileSync(`${pins}/auth`, '9999\n');
	const wrong = await press(page);
	await shot(page, '2-wrong-pin');
	if (wrong.state !== 'refused' || !/pin_wrong/.test(wrong.text))
		fail(`a wrong PIN: ${JSON.stringify(wrong)}`);
	ok(`a wrong PIN is refused: ${wrong.text}`);

	fs.writeFileSync(`${pins}/auth`, '1234\n');
	const right = await press(page);
	await shot(page, '3-issued');
	if (right.state !== 'done') fail(`the right PIN: ${JSON.stringify(right)}`);
	// the copy the page received (the page's CSP lets no fetch of its
	// blob: link, so from the page's own variable)
	const b64 = await page.evaluate(async () => {
		const b = new Uint8Array(await window.kioskCopy.arrayBuffer());
		let s = '';
		for (const c of b) s += String.fromCharCode(c);
		return btoa(s);
	});
	const pdf = Buffer.from(b64, 'base64');
	if (pdf.subarray(0, 5).toString() !== '%PDF-') fail('the copy is not a PDF');
	fs.writeFileSync(out, pdf);
	ok(`the right PIN: ${right.text} (${pdf.length} bytes)`);

	// the document choice goes with the answer: a seal certificate for a
	// resident with no seal registered is refused with the reason
	await page.select('#document', 'seal-certificate');
	const seal = await press(page);
	await shot(page, '3b-no-seal-refused');
	if (seal.state !== 'refused' || !/印鑑登録がありません/.test(seal.text))
		fail(`a seal certificate without a seal: ${JSON.stringify(seal)}`);
	ok(`the seal certificate without a seal is refused: ${seal.text}`);
	await page.select('#document', 'residence-copy');

	// another origin of the same server: the bridge binds the answer to
	// it, the kiosk's verifier is bound to KIOSK_URL's origin
	const other = await open(otherUrl);
	const refused = await press(other);
	await shot(other, '4-other-origin-refused');
	if (refused.state !== 'refused' || !/another site/.test(refused.text))
		fail(`another origin's answer: ${JSON.stringify(refused)}`);
	ok(`another origin's answer is refused: ${refused.text}`);

	// a page of another origin cannot post into the kiosk: the JSON post
	// needs a CORS preflight the server never grants
	const cross = await other.evaluate(async (u) => {
		try {
			const r = await fetch(u, { method: 'POST', headers: { 'Content-Type': 'application/json' },
				body: '{}' });
			return `status ${r.status}`;
		} catch (e) {
			return 'blocked';
		}
	}, kioskUrl);
	if (cross !== 'blocked') fail(`a cross-origin post to the kiosk: ${cross}`);
	ok('a cross-origin post to the kiosk is blocked by the browser');
} finally {
	await browser.close();
}
