// Cross-site request forgery against the clerk's pages, in headless
// Chromium: the clerk logs in at URL; then a page served from another port
// of 127.0.0.1 (this script's own little server, another origin of the
// same site, so the SameSite=Strict cookie still goes along) makes the
// clerk's browser post forms, urlencoded and text/plain, to /window/apply
// and to /api/window/report. Each must be refused (401 or 403), and the
// clerk must still be logged in afterwards. Prints "refused" per attack;
// the shell test checks that nothing changed (certificates still good, no
// new application).
//
// usage: node window_csrf.mjs URL OPERATOR PASSWORD PERSON ADDRESS SHOTS
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import http from 'node:http';

const [url, operator, password, person, address, shots] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });
const fail = (why) => { throw new Error(why); };
const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;')
	.replace(/</g, '&lt;');

// name=value pairs; for text/plain the browser sends them as "name=value"
// lines, so a name holding a JSON prefix and a value closing it makes a
// JSON body: {"person":"...","kind":"lost","x":"="}
const attacks = [
	{
		name: 'apply-urlencoded', action: '/window/apply',
		enctype: 'application/x-www-form-urlencoded',
		fields: [['person', person], ['card', 'mynumber'], ['auth', 'on'],
			['path', 'photo'], ['photo_id', 'passport'],
			['photo_id_address', address]],
	},
	{
		name: 'apply-text-plain', action: '/window/apply',
		enctype: 'text/plain',
		fields: [['person', person], ['path', 'photo'],
			['photo_id', 'passport'], ['photo_id_address', address]],
	},
	{
		name: 'report-text-plain', action: '/api/window/report',
		enctype: 'text/plain',
		fields: [[`{"person":"${person}","kind":"lost","x":"`, '"}']],
	},
	{
		name: 'report-urlencoded', action: '/api/window/report',
		enctype: 'application/x-www-form-urlencoded',
		fields: [['person', person], ['kind', 'lost']],
	},
];

const evil = http.createServer((req, res) => {
	const a = attacks.find((x) => req.url === `/${x.name}.html`);
	if (a === undefined) {
		res.writeHead(404);
		res.end();
		return;
	}
	const inputs = a.fields.map(([n, v]) =>
		`<input type="hidden" name="${esc(n)}" value="${esc(v)}">`).join('');
	res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
	res.end(`<!doctype html><html><body><h1>win a prize</h1>
<form method="post" action="${url}${a.action}" enctype="${a.enctype}">
${inputs}</form><script>document.forms[0].submit();</script></body></html>`);
});
await new Promise((ok) => evil.listen(0, '127.0.0.1', ok));
const evilUrl = `http://127.0.0.1:${evil.address().port}`;

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja'],
});

try {
	const page = await browser.newPage();
	await page.goto(`${url}/window`);
	await page.type('#operator', operator);
	await page.type('#password', password);
	await Promise.all([page.waitForNavigation(), page.click('#login')]);
	if (await page.$('#find') === null)
		fail('not logged in: ' + await page.$eval('main', (m) => m.innerText));

	for (const a of attacks) {
		const answer = page.waitForResponse(
			(r) => r.url() === `${url}${a.action}` &&
				r.request().method() === 'POST', { timeout: 10000 });
		await page.goto(`${evilUrl}/${a.name}.html`);
		const r = await answer;
		await page.waitForNetworkIdle({ idleTime: 200 }).catch(() => {});
		await page.screenshot({ path: `${shots}/csrf-${a.name}.png` });
		// the attack really was cross-origin and carried the cookie
		const sent = r.request().headers();
		if (sent.origin !== evilUrl)
			fail(`${a.name}: the browser sent Origin ${sent.origin}`);
		if (r.status() !== 401 && r.status() !== 403)
			fail(`${a.name}: HTTP ${r.status()}, not refused`);
		console.log(`refused ${a.name} ${r.status()}`);
	}

	// still logged in: the attacks did not end the session either
	await page.goto(`${url}/window`);
	if (await page.$('#find') === null)
		fail('the clerk was logged out by a foreign page');
} finally {
	await browser.close();
	evil.close();
}
