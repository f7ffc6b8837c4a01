// Loss and card-fault reports (/window/report): a loss report at a branch
// and a card-fault report at the main office revoke at once; another
// municipality's resident is refused (403) both on reading and on a
// report (the refusals on the chain, checked by the shell).
import { fail } from './window_lib.mjs';

export default async function (t, c) {
	const kanda = await t.as('kanda1', c.pw.kanda1);
	await t.resident(kanda, c.b);
	let s = await t.submit(kanda, '#report_lost');
	await t.shot(kanda, 'report', 'lost-at-branch');
	await t.done(kanda, s, 'a loss report at 神田出張所');
	let n = await kanda.$eval('#revoked', (e) => e.innerText);
	if (n !== '2') fail(`loss report revoked ${n}`);
	console.log('ok report: a loss report at 神田出張所 revoked 2');

	const main = await t.as('clerk1', c.pw.clerk1);
	await t.resident(main, c.c);
	s = await t.submit(main, '#report_fault');
	await t.shot(main, 'report', 'card-fault');
	await t.done(main, s, 'a card-fault report');
	n = await main.$eval('#revoked', (e) => e.innerText);
	if (n !== '2') fail(`card-fault report revoked ${n}`);
	console.log('ok report: a card-fault report revoked 2');

	s = await t.resident(main, c.f);
	await t.shot(main, 'report', 'other-municipality-read');
	if (s !== 403) fail(`another municipality's resident: HTTP ${s}`);
	// a report for them, posted from this server's own page with the
	// session's token (as a clerk who typed the id would)
	await main.goto(`${t.url}/window`);
	const token = await main.$eval('input[name=csrf]', (e) => e.value);
	await main.evaluate((person, csrf) => {
		const f = document.createElement('form');
		f.method = 'post';
		f.action = '/window/report';
		for (const [k, v] of [['person', person], ['kind', 'lost'],
			['csrf', csrf]]) {
			const i = document.createElement('input');
			i.type = 'hidden'; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
	}, c.f, token);
	const [r] = await Promise.all([main.waitForNavigation(),
		main.evaluate(() => document.forms[document.forms.length - 1].submit())]);
	await t.shot(main, 'report', 'other-municipality');
	await t.refused(main, 403, r.status(), 'cannot act on a resident of 271004',
		'a report for another municipality');
	console.log('ok report: another municipality\'s resident refused (403) on read and report');
}
