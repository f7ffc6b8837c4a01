// Renewal at the counter (/window/renew) onto the card in the reader, the
// identity fields sent as the apply page sends them: refused at a branch
// that does not issue (403), done at the main office (the new serial).
import { fail } from './window_lib.mjs';

async function renew(t, page, c) {
	if (await t.resident(page, c.a) !== 200) fail('resident page of A');
	await page.select('#renew_type', 'auth');
	await page.select('#renew_path', 'photo');
	await page.select('#renew_photo_id', 'driving-licence');
	await t.fill(page, '#renew_photo_id_address', c.address);
	await t.fill(page, '#renew_reader', c.reader);
	return t.submit(page, '#renew');
}

export default async function (t, c) {
	const kanda = await t.as('kanda1', c.pw.kanda1);
	let s = await renew(t, kanda, c);
	await t.shot(kanda, 'renew', 'branch-refused');
	await t.refused(kanda, 403, s,
		'certificates are issued at the main office only',
		'renewal at a branch');
	console.log('ok renew: refused at 神田出張所 (403)');

	const main = await t.as('clerk1', c.pw.clerk1);
	s = await renew(t, main, c);
	await t.shot(main, 'renew', 'done');
	await t.done(main, s, 'renewal at the main office');
	const serial = await main.$eval('#serial', (e) => e.innerText);
	if (!/^[0-9A-F]+$/.test(serial)) fail(`renewal serial: ${serial}`);
	console.log(`ok renew: renewed at the main office, serial ${serial}`);
	console.log(`renewed ${serial}`);
}
