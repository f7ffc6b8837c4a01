// A relying party written with the certified openid-client package that
// logs a resident in through the OpenID Connect provider (docs/OIDC.md) in
// headless Chromium with the bridge's extension loaded: first scope
// "openid" (the pairwise subject only), then "openid profile address" (the
// 4 facts after the consent signed with the signing certificate). MODE
// "refused" instead tries one "openid" log-in that the provider must refuse
// (a revoked certificate) and prints {"refused": the page's words}.
//
//   node oidc_rp.mjs EXTENSION USER_DATA_DIR ISSUER CLIENT_ID SECRET RP_PORT SHOTS [MODE]
//
// JPKI_OIDC_CLOCK_SKEW: seconds the provider's clock is ahead of this
// machine's (a provider run under JPKI_NOW), for openid-client's checks of
// the ID token's times. JPKI_OIDC_TAG: the screenshots' prefix.
//
// Prints one JSON line a log-in ({"sub", "claims", "userinfo"}); exits
// non-zero on the first failure.
import * as client from 'openid-client';
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import http from 'node:http';

const [ext, udd, issuer, clientId, secret, rpPort, shots, mode = 'both'] = process.argv.slice(2);
const rp = `http://127.0.0.1:${rpPort}`;
fs.mkdirSync(shots, { recursive: true });

// the provider runs on 127.0.0.1 over plain HTTP in the test
const config = await client.discovery(new URL(issuer), clientId,
	{ [client.clockSkew]: Number(process.env.JPKI_OIDC_CLOCK_SKEW || 0) },
	client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });

// the relying party's two pages: /login?scope=... and /cb
let pending = null;
const server = http.createServer(async (req, res) => {
	const url = new URL(req.url, rp);
	try {
		if (url.pathname === '/login') {
			const verifier = client.randomPKCECodeVerifier();
			pending = { verifier, state: client.randomState(), nonce: client.randomNonce() };
			const to = client.buildAuthorizationUrl(config, {
				redirect_uri: `${rp}/cb`, scope: url.searchParams.get('scope'),
				code_challenge: await client.calculatePKCECodeChallenge(verifier),
				code_challenge_method: 'S256', state: pending.state, nonce: pending.nonce,
			});
			res.writeHead(302, { Location: to.href }).end();
		} else if (url.pathname === '/cb') {
			const tokens = await client.authorizationCodeGrant(config, url, {
				pkceCodeVerifier: pending.verifier, expectedState: pending.state,
				expectedNonce: pending.nonce });
			const claims = tokens.claims();
			const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
			res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
				.end(`<h1>ようこそ</h1><pre id="result">${JSON.stringify({ sub: claims.sub, claims, userinfo })
					.replace(/</g, '\\u003c')}</pre>`);
		} else res.writeHead(404).end();
	} catch (e) {
		res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`relying party: ${e}`);
	}
});
await new Promise((ok) => server.listen(Number(rpPort), '127.0.0.1', ok));

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	userDataDir: udd,
	args: ['--no-sandbox', '--disable-gpu', '--lang=ja',
		`--load-extension=${ext}`, `--disable-extensions-except=${ext}`,
		'--disable-features=DisableLoadExtensionCommandLineSwitch'],
});

async function logIn(page, scope, n) {
	await page.goto(`${rp}/login?scope=${encodeURIComponent(scope)}`);
	await page.waitForSelector('#login');
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	await page.screenshot({ path: `${shots}/${n}-provider.png`, fullPage: true });
	await page.click('#login');
	if (scope.includes('profile')) {
		await page.waitForSelector('#sign', { visible: true, timeout: 30000 });
		await page.screenshot({ path: `${shots}/${n}-consent.png`, fullPage: true });
		await page.click('#sign');
	}
	await page.waitForFunction((u) => location.href.startsWith(u), { timeout: 30000 }, `${rp}/cb`);
	await page.waitForSelector('#result, body');
	const text = await page.evaluate(() => document.body.innerText);
	await page.screenshot({ path: `${shots}/${n}-relying-party.png`, fullPage: true });
	const m = await page.$('#result');
	if (!m) throw new Error(`the relying party said: ${text}`);
	return JSON.parse(await page.evaluate((e) => e.textContent, m));
}

// A log-in the provider refuses: its page says why and sends nothing back.
async function refused(page, n) {
	await page.goto(`${rp}/login?scope=openid`);
	await page.waitForSelector('#login');
	await page.waitForFunction(() => document.documentElement.dataset.jpkiBridge === '1',
		{ timeout: 10000 });
	await page.click('#login');
	await page.waitForFunction(() => /できません/.test(document.getElementById('status').textContent),
		{ timeout: 30000 });
	await page.screenshot({ path: `${shots}/${n}-refused.png`, fullPage: true });
	if (page.url().startsWith(`${rp}/cb`)) throw new Error('went back to the relying party');
	return { refused: await page.$eval('#status', (e) => e.textContent) };
}

let rc = 0;
try {
	const page = await browser.newPage();
	await page.setViewport({ width: 900, height: 700 });
	const tag = process.env.JPKI_OIDC_TAG || 'login';
	if (mode === 'refused') {
		console.log(JSON.stringify(await refused(page, tag)));
	} else {
		console.log(JSON.stringify(await logIn(page, 'openid', `${tag}-1`)));
		console.log(JSON.stringify(await logIn(page, 'openid profile address', `${tag}-2`)));
	}
} catch (e) {
	console.error(`FAIL: ${e.stack || e}`);
	rc = 1;
} finally {
	await browser.close();
	server.close();
}
process.exit(rc);
