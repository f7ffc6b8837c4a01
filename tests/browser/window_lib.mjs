// What the window procedures' browser tests share: one Chromium for the
// whole run, a browser context (its own cookie jar) per operator, log-in,
// screenshots, and the checks of a done or refused procedure.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

export const fail = (why) => { throw new Error(why); };

export async function launch(url, shots) {
	fs.mkdirSync(shots, { recursive: true });
	const browser = await puppeteer.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--lang=ja'],
	});
	const pages = new Map();
	const t = {
		url, browser, shots,
		// the logged-in page of an operator (one context each, so the
		// session cookies of two clerks never mix)
		async as(operator, password) {
			if (pages.has(operator)) return pages.get(operator);
			const ctx = await browser.createBrowserContext();
			const page = await ctx.newPage();
			await page.setViewport({ width: 1100, height: 800 });
			await page.goto(`${url}/window`);
			await page.type('#operator', operator);
			await page.type('#password', password);
			await Promise.all([page.waitForNavigation(), page.click('#login')]);
			if (await page.$('#find') === null)
				fail(`${operator} not logged in: ` +
					await page.$eval('main', (m) => m.innerText));
			pages.set(operator, page);
			return page;
		},
		async shot(page, proc, what) {
			await page.screenshot({ path: `${shots}/${proc}-${what}.png`,
				fullPage: true });
		},
		async resident(page, person) {
			const r = await page.goto(`${url}/window/resident?person=${encodeURIComponent(person)}`);
			return r.status();
		},
		// clicks `button` and waits for the page it answers with; returns
		// the HTTP status
		async submit(page, button) {
			const [r] = await Promise.all([page.waitForNavigation(),
				page.click(button)]);
			return r.status();
		},
		async done(page, status, what) {
			if (status !== 200 || await page.$('#done') === null)
				fail(`${what}: HTTP ${status}: ` +
					await page.$eval('main', (m) => m.innerText));
		},
		// refused with `status` and a sentence holding `needle`
		async refused(page, status, got, needle, what) {
			const text = await page.$eval('main', (m) => m.innerText);
			if (got !== status)
				fail(`${what}: HTTP ${got}, not ${status}: ${text}`);
			if (!text.includes(needle))
				fail(`${what}: "${needle}" not in: ${text}`);
		},
		async fill(page, sel, value) {
			await page.$eval(sel, (e) => { e.value = ''; });
			await page.type(sel, value);
		},
	};
	return t;
}
