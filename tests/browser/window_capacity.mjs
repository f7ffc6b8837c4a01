// The day's capacity (/window/office): set for the main office and seen
// with today's use; an issue beyond it refused (403, the window's
// sentence); then lifted again.
import { fail } from './window_lib.mjs';

export default async function (t, c) {
	const main = await t.as('clerk1', c.pw.clerk1);
	await main.goto(`${t.url}/window/office`);
	await main.select('#capacity_office', '131016');
	await t.fill(main, '#capacity_per_day', '1');
	let s = await t.submit(main, '#set_capacity');
	await t.done(main, s, 'capacity of the main office');
	const table = await main.$eval('#offices', (e) => e.innerText);
	// the renewal took one today
	if (!/本庁 \(main office\)[^\n]*\t1 \/ 1\t/.test(table))
		fail(`the main office's use and capacity: ${table}`);
	await t.shot(main, 'capacity', 'set');
	console.log('ok capacity: 1 a day set for the main office, 1 used shown');

	await main.goto(`${t.url}/window/application?id=${c.app}`);
	await t.fill(main, '#reader', c.reader);
	await main.type('#auth_pin', '1234');
	await main.type('#sign_pin', 'ABC123');
	s = await t.submit(main, '#issue');
	await t.shot(main, 'capacity', 'refused');
	await t.refused(main, 403, s, 'is used up', 'an issue beyond capacity');
	console.log('ok capacity: the issue beyond it refused (403)');

	await main.goto(`${t.url}/window/office`);
	await main.select('#capacity_office', '131016');
	await t.fill(main, '#capacity_per_day', '0');
	await t.done(main, await t.submit(main, '#set_capacity'), 'no limit');
}
