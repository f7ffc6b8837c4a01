// The agency portal in headless Chromium (the kiosk: kiosk.mjs),
// one phase per run so the test script can sign with the card in between:
//
//   node portal.mjs make   URL SHOTS NAME ADDRESS OUT    application.txt
//   node portal.mjs submit URL SHOTS NAME ADDRESS P7M accepted|refused
//   node portal.mjs inbox  URL SHOTS OPERATOR PASSWORD
//
// Screenshots of every step go to SHOTS.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';

const [mode, url, shots, ...args] = process.argv.slice(2);
fs.mkdirSync(shots, { recursive: true });

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja'],
});
const shot = async (page, what) => {
	await page.screenshot({ path: `${shots}/${what}.png`, fullPage: true });
};
const fail = (why) => { throw new Error(why); };
const text = (page) => page.$eval('main', (m) => m.innerText);

// Steps 1 and 2: choose the notice of moving, fill in the form.
async function fill(page, name, address, tag) {
	await page.goto(`${url}/portal`);
	await shot(page, `${tag}1-choose`);
	await Promise.all([page.waitForNavigation(), page.click('#proc-moving')]);
	await page.type('#name', name);
	await page.type('#address', address);
	await page.type('#new_address', '千代田５番５号');
	await page.type('#moving_date', '2026-12-01');
	await page.type('#household_head', name);
	await shot(page, `${tag}2-form`);
	await Promise.all([page.waitForNavigation(), page.click('#make')]);
	if (await page.$('#application') === null)
		fail('no application text: ' + await text(page));
	await shot(page, `${tag}3-application`);
}

try {
	const page = await browser.newPage();
	await page.setViewport({ width: 1100, height: 800 });

	if (mode === 'make') {
		const [name, address, out] = args;
		await fill(page, name, address, 'a');
		// the download link holds exactly the bytes to sign
		// (read from its data: URL here: the page's CSP lets it fetch
		// nothing but its own origin)
		const href = await page.$eval('#download', (a) => a.href);
		const body = decodeURIComponent(href.slice(href.indexOf(',') + 1));
		const shown = await page.$eval('#application', (e) => e.textContent);
		if (body !== shown) fail('the download differs from the page');
		fs.writeFileSync(out, body);
		console.log(out);
	} else if (mode === 'submit') {
		const [name, address, p7m, expect] = args;
		const tag = expect === 'accepted' ? 'b' : 'c';
		await fill(page, name, address, tag);
		const input = await page.$('#file');
		await input.uploadFile(p7m);
		await shot(page, `${tag}4-send`);
		await Promise.all([page.waitForNavigation(), page.click('#send')]);
		await shot(page, `${tag}5-${expect}`);
		if (await page.$(`#${expect}`) === null)
			fail(`not ${expect}: ` + await text(page));
		const receipt = await page.$eval('#receipt', (e) => e.innerText);
		const reasons = expect === 'refused'
			? await page.$eval('#reasons', (e) => e.innerText) : '';
		console.log(`${receipt}\t${reasons}`);
	} else if (mode === 'inbox') {
		const [operator, password] = args;
		await page.goto(`${url}/portal/inbox`);
		await shot(page, 'd1-inbox-login');
		await page.type('#operator', operator);
		await page.type('#password', password);
		await Promise.all([page.waitForNavigation(), page.click('#login')]);
		await shot(page, 'd2-inbox');
		if (await page.$('#inbox') === null)
			fail('no inbox: ' + await text(page));
		const rows = await page.$$eval('#inbox tr', (trs) => trs.slice(1).map(
			(tr) => [tr.querySelector('.receipt').innerText,
				tr.querySelector('.name').innerText,
				tr.querySelector('.verdict').innerText].join('\t')));
		console.log(rows.join('\n'));
	} else {
		fail(`unknown mode ${mode}`);
	}
} finally {
	await browser.close();
}
