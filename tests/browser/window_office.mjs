// The office's hours (/window/office): set and seen for a branch; a bad
// time refused (400); outside a branch's hours an application is refused
// (403, the window's sentence); a branch that does not issue refuses issue
// by name (403), and the refusal is on the chain (checked by the shell).
import { fail } from './window_lib.mjs';

export default async function (t, c) {
	const main = await t.as('clerk1', c.pw.clerk1);
	await main.goto(`${t.url}/window/office`);
	await main.select('#hours_office', '131016-ekimae');
	await t.fill(main, '#hours_open', '25:00');
	await t.fill(main, '#hours_close', '19:00');
	let s = await t.submit(main, '#set_hours');
	await t.refused(main, 400, s, 'HH:MM', 'hours of 25:00');
	await main.select('#hours_office', '131016-ekimae');
	await t.fill(main, '#hours_open', '13:00');
	await t.fill(main, '#hours_close', '19:00');
	s = await t.submit(main, '#set_hours');
	await t.done(main, s, 'hours of 駅前支所');
	const table = await main.$eval('#offices', (e) => e.innerText);
	if (!/駅前支所[^\n]*\t13:00–19:00/.test(table))
		fail(`the offices do not show 駅前's hours: ${table}`);
	await t.shot(main, 'office', 'hours');
	console.log('ok office: 駅前支所 open 13:00-19:00, set and shown; 25:00 refused (400)');

	const eki = await t.as('eki1', c.pw.eki1);
	await t.resident(eki, c.e);
	await eki.select('#path', 'photo');
	await t.fill(eki, '#photo_id_address', c.address);
	s = await t.submit(eki, '#apply');
	await t.shot(eki, 'office', 'closed');
	await t.refused(eki, 403, s, '駅前支所 (131016-ekimae) is closed at 10:00',
		'an application outside the branch hours');
	console.log('ok office: at 10:00 駅前支所 refuses an application (403)');

	const kanda = await t.as('kanda1', c.pw.kanda1);
	await kanda.goto(`${t.url}/window/application?id=${c.app}`);
	await t.fill(kanda, '#reader', c.reader);
	await kanda.type('#auth_pin', '1234');
	await kanda.type('#sign_pin', 'ABC123');
	s = await t.submit(kanda, '#issue');
	await t.shot(kanda, 'office', 'branch-issue');
	await t.refused(kanda, 403, s,
		'certificates are issued at the main office only',
		'issue at a branch');
	console.log('ok office: 神田出張所 refuses issue by name (403)');
}
