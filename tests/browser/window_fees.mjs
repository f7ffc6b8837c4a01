// The fee ledger (/window/fees): a window clerk reads the municipality's
// (the read recorded); a registry clerk is refused (403).
import { fail } from './window_lib.mjs';

export default async function (t, c) {
	const main = await t.as('clerk1', c.pw.clerk1);
	await main.goto(`${t.url}/window`);
	const [r] = await Promise.all([main.waitForNavigation(),
		main.click('#nav-fees')]);
	await t.shot(main, 'fees', 'ledger');
	if (r.status() !== 200 || await main.$('#fees') === null)
		fail(`fee ledger: HTTP ${r.status()}`);
	const total = await main.$eval('#total', (e) => e.innerText);
	console.log(`ok fees: the ledger shows, total ${total} yen`);

	const reg = await t.as('reg1', c.pw.reg1);
	const s = (await reg.goto(`${t.url}/window/fees`)).status();
	await t.shot(reg, 'fees', 'registry-clerk');
	await t.refused(reg, 403, s, 'does not read', 'the ledger for a registry clerk');
	console.log('ok fees: a registry clerk refused (403)');
}
