// The window clerk's pages in headless Chromium: log in, find the resident,
// take an application with photo ID, issue both certificates onto the card
// in the counter's reader, and open the certificate copy. Screenshots of
// each step go to SHOTS.
//
// usage: node window_issue.mjs URL OPERATOR PASSWORD NAME READER AUTH_PIN
//        SIGN_PIN ADDRESS SHOTS
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

const [url, operator, password, name, reader, authPin, signPin, address,
	shots] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja'],
});
let step = 0;
const shot = async (page, what) => {
	step += 1;
	await page.screenshot({ path: `${shots}/${step}-${what}.png`, fullPage: true });
};
const fail = (why) => { throw new Error(why); };

try {
	const page = await browser.newPage();
	await page.setViewport({ width: 1100, height: 800 });

	await page.goto(`${url}/window`);
	await shot(page, 'login');
	await page.type('#operator', operator);
	await page.type('#password', password);
	await Promise.all([page.waitForNavigation(), page.click('#login')]);
	if (await page.$('#find') === null)
		fail('not logged in: ' + await page.$eval('main', (m) => m.innerText));

	await page.type('#name', name.split(' ')[0]);
	await Promise.all([page.waitForNavigation(), page.click('#find')]);
	await shot(page, 'residents');
	const link = await page.$('#residents a');
	if (link === null) fail(`no resident found for ${name}`);
	await Promise.all([page.waitForNavigation(), link.click()]);

	await page.select('#path', 'photo');
	await page.select('#photo_id', 'driving-licence');
	await page.type('#photo_id_address', address);
	await shot(page, 'apply');
	await Promise.all([page.waitForNavigation(), page.click('#apply')]);
	const state = await page.$eval('#state', (e) => e.innerText);
	if (!state.includes('ready')) fail(`application state: ${state}`);

	await page.$eval('#reader', (e) => { e.value = ''; });
	await page.type('#reader', reader);
	await page.type('#auth_pin', authPin);
	await page.type('#sign_pin', signPin);
	await shot(page, 'issue');
	await Promise.all([page.waitForNavigation(), page.click('#issue')]);
	await shot(page, 'issued');
	if (await page.$('#issued') === null)
		fail('not issued: ' + await page.$eval('main', (m) => m.innerText));
	const serials = await page.$$eval('#issued code', (c) => c.map((e) => e.innerText));
	if (serials.length !== 2) fail(`issued ${serials.length} certificates`);

	// the paper copy opens as a PDF
	const copy = await page.$eval('#issued a', (a) => a.href);
	const pdf = await page.evaluate(async (u) => {
		const r = await fetch(u);
		return { type: r.headers.get('content-type'), head: (await r.text()).slice(0, 5) };
	}, copy);
	if (pdf.type !== 'application/pdf' || pdf.head !== '%PDF-')
		fail(`certificate copy: ${JSON.stringify(pdf)}`);
	console.log(serials.join(' '));
} finally {
	await browser.close();
}
