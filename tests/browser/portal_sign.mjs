// Seed 004's seven steps signed in the page (docs/BROWSER.md, "The
// portal") in headless Chromium with the OpenJPKI bridge loaded: choose,
// fill in, "電子署名" (the page hashes the application's bytes, the bridge
// signs the hash with the card, the PIN from the host's pinentry), "送信"
// (the bytes and the detached CMS), the agency verifies and accepts. Then
// the same signed bytes posted by a page of another origin (OTHER_URL, a
// page of the same server under another host name) are refused.
//
//   node portal_sign.mjs EXTENSION USER_DATA_DIR URL OTHER_URL NAME ADDRESS SHOTS OUT_FORM
//
// OUT_FORM gets the signed form's fields as JSON (for the script's refusals).
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
	const form = await page.$eval('#signed-form', (f) =>
		Object.fromEntries(new FormData(f).entries()));
	if (!form.signature) fail('no signature in the form');
	fs.writeFileSync(outForm, JSON.stringify(form));
	ok('電子署名: the card signed the application\'s hash through the bridge');
	// 5-7: 送信, verified and accepted
	await Promise.all([page.waitForNavigation(), page.click('#esend')]);
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
