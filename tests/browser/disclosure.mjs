// The resident's disclosure page (提供状況の開示, docs/REGISTRY.md) in
// headless Chromium with the OpenJPKI bridge loaded: before the log-in the
// page shows no record and a post without the card's answer gets none; a
// wrong PIN is refused and shows nothing; with the right PIN (the host's
// pinentry answers from PINS/auth) the page lists the look-up the agency
// made of this resident (agency, purpose, day), and none of the look-up of
// another resident.
//
//   node disclosure.mjs EXTENSION USER_DATA_DIR SITE_URL PAGE_URL PINS SHOTS CONFIG.json
//
// The page is reached from the portal site (SITE_URL, its link
// #disclosure to PAGE_URL).
//
// CONFIG: mine {agency, purpose, day, code}: the resident's look-up;
// other {purpose, code}: another resident's. Prints one line a check;
// exits non-zero on the first failure.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

const [ext, udd, siteUrl, pageUrl, pins, shots, config] = process.argv.slice(2);
const c = JSON.parse(fs.readFileSync(config, 'utf8'));
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

// Presses the log-in button, waits for the page's verdict: {state, text}.
async function login(page) {
	await page.$eval('#status', (e) => { e.dataset.state = 'ready'; });
	await page.click('#login');
	await page.waitForFunction(() => ['done', 'refused'].includes(
		document.getElementById('status').dataset.state), { timeout: 60000 });
	return page.$eval('#status', (e) => ({ state: e.dataset.state, text: e.textContent }));
}

// What the page shows of the record: its rows (as text) and whether the
// record's section is visible at all.
async function shown(page) {
	return page.evaluate(() => ({
		visible: !document.getElementById('result').hidden,
		rows: [...document.querySelectorAll('#lookups tbody tr')].map(
			(r) => [...r.cells].map((td) => td.textContent)),
		text: document.querySelector('main').innerText,
	}));
}

try {
	const page = await browser.newPage();
	await page.setViewport({ width: 900, height: 700 });
	// the resident comes from the portal site's list of procedures
	await page.goto(siteUrl);
	await Promise.all([page.waitForNavigation(), page.click('#disclosure')]);
	if (page.url() !== pageUrl) fail(`the site's link leads to ${page.url()}`);
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	await shot(page, '1-page');
	let s = await shown(page);
	if (s.visible || s.rows.length !== 0 || s.text.includes(c.mine.agency))
		fail(`the page before the log-in shows a record: ${JSON.stringify(s)}`);
	// the list only comes as the answer to a card's log-in: a post
	// without one gets a refusal and no record
	const bare = await page.evaluate(async () => {
		const r = await fetch('/disclosure/response', { method: 'POST',
			headers: { 'Content-Type': 'application/json' }, body: '{}' });
		return [r.status, await r.text()];
	});
	if (bare[0] < 400 || bare[0] >= 500 || bare[1].includes('lookups'))
		fail(`a post without the card's answer: HTTP ${bare[0]} ${bare[1]}`);
	ok(`before the log-in: no record on the page; a post without the card's answer: HTTP ${bare[0]}, no record`);

	fs.writeFileSync(`${pins}/auth`, '9999\n');
	const wrong = await login(page);
	await shot(page, '2-wrong-pin');
	s = await shown(page);
	if (wrong.state !== 'refused' || !/pin_wrong/.test(wrong.text) || s.visible ||
	    s.rows.length !== 0)
		fail(`a wrong PIN: ${JSON.stringify(wrong)} ${JSON.stringify(s)}`);
	ok(`a wrong PIN is refused and shows nothing: ${wrong.text}`);

	fs.writeFileSync(`${pins}/auth`, '1234\n');
	const right = await login(page);
	await shot(page, '3-disclosed');
	s = await shown(page);
	if (right.state !== 'done' || !s.visible)
		fail(`the right PIN: ${JSON.stringify(right)} ${JSON.stringify(s)}`);
	const mine = s.rows.filter((r) => r[1] === c.mine.agency && r[2] === c.mine.purpose &&
		r[0].startsWith(c.mine.day));
	if (s.rows.length !== 1 || mine.length !== 1)
		fail(`the record: ${JSON.stringify(s.rows)}, want one ${JSON.stringify(c.mine)}`);
	if (!s.text.includes(c.mine.code))
		fail(`the page does not name the resident ${c.mine.code}: ${s.text}`);
	ok(`the card's log-in shows the look-up: ${s.rows[0].join(' | ')}`);
	if (s.text.includes(c.other.purpose) || s.text.includes(c.other.code))
		fail(`another resident's look-up is shown: ${s.text}`);
	ok(`another resident's look-up (${c.other.purpose}) is not shown`);

	// a reload keeps nothing: the list lived in the page that logged in
	await page.reload();
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	s = await shown(page);
	await shot(page, '4-reloaded');
	if (s.visible || s.rows.length !== 0 || s.text.includes(c.mine.purpose))
		fail(`the page after a reload shows a record: ${JSON.stringify(s)}`);
	ok('a reload shows nothing until the card logs in again');
} finally {
	await browser.close();
}
