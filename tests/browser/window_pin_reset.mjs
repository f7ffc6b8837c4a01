// PIN reset at the counter (/window/pin-reset) on the card in the reader:
// at one branch, then at another; a photo ID of another address refused
// (403); a branch outside its hours refuses (403).
import { fail } from './window_lib.mjs';

async function reset(t, page, c, address, pin) {
	if (await t.resident(page, c.a) !== 200) fail('resident page of A');
	await page.select('#pin_type', 'auth');
	await t.fill(page, '#pin_photo_id_address', address);
	await t.fill(page, '#pin_new_pin', pin);
	await t.fill(page, '#pin_reader', c.reader);
	return t.submit(page, '#pin_reset');
}

export default async function (t, c) {
	const kanda = await t.as('kanda1', c.pw.kanda1);
	let s = await reset(t, kanda, c, c.address, '5678');
	await t.shot(kanda, 'pin-reset', 'kanda');
	await t.done(kanda, s, 'PIN reset at 神田出張所');
	console.log('ok pin_reset: done at 神田出張所');

	const fuji = await t.as('fuji1', c.pw.fuji1);
	s = await reset(t, fuji, c, '千代田９番９号', '2468');
	await t.refused(fuji, 403, s, 'a PIN is reset only after a photo ID',
		'a PIN reset with another address');
	s = await reset(t, fuji, c, c.address, '2468');
	await t.shot(fuji, 'pin-reset', 'fuji');
	await t.done(fuji, s, 'PIN reset at 富士見出張所');
	console.log('ok pin_reset: done at another branch (富士見出張所); another address refused (403)');

	const eki = await t.as('eki1', c.pw.eki1);
	s = await reset(t, eki, c, c.address, '1357');
	await t.shot(eki, 'pin-reset', 'closed');
	await t.refused(eki, 403, s, 'is closed at 10:00',
		'a PIN reset outside the branch hours');
	console.log('ok pin_reset: 駅前支所 refuses outside its hours (403)');
}
