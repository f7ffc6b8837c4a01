// Taking an application at the counter (/window/apply): a photo ID whose
// address is not the registered one is refused (403, the window's
// sentence), and so is one whose expiry (photo_id_expiry) has passed;
// with the right address the application is ready at once. The photo
// ID selects (apply and renew) list the municipality's accepted kinds.
// Leaves the application's number in cfg.app for the later procedures.
import { fail } from './window_lib.mjs';

export default async function (t, c) {
	const page = await t.as('clerk1', c.pw.clerk1);
	if (await t.resident(page, c.e) !== 200) fail('resident page of E');
	// the photo IDs the municipality accepts, its own kind with them
	for (const sel of ['#photo_id', '#renew_photo_id']) {
		const kinds = await page.$$eval(`${sel} option`,
			(os) => os.map((o) => o.value));
		if (!kinds.includes('disability-card') ||
		    !kinds.includes('driving-licence'))
			fail(`${sel} lists ${kinds.join(', ')}`);
	}
	console.log('ok apply: the photo ID selects list the kinds 千代田区 accepts');
	await page.select('#path', 'photo');
	await page.select('#photo_id', 'driving-licence');
	await t.fill(page, '#photo_id_address', '千代田９番９号');
	await t.shot(page, 'apply', 'wrong-address');
	let s = await t.submit(page, '#apply');
	await t.shot(page, 'apply', 'refused');
	await t.refused(page, 403, s, 'is not the registered address',
		'a photo ID of another address');
	console.log('ok apply: a photo ID with another address refused (403)');

	await page.select('#path', 'photo');
	await page.select('#photo_id', 'passport');
	await t.fill(page, '#photo_id_address', c.address);
	await t.fill(page, '#photo_id_expiry', '2020-03-31');
	s = await t.submit(page, '#apply');
	await t.shot(page, 'apply', 'expired-id');
	await t.refused(page, 403, s, 'expired on 2020-03-31',
		'an expired photo ID');
	console.log('ok apply: an expired photo ID refused (403)');

	// the Juki card itself: no longer handed over after 2015-12-22
	await page.select('#card', 'juki-card');
	await page.select('#path', 'photo');
	await page.select('#photo_id', 'passport');
	await t.fill(page, '#photo_id_address', c.address);
	await t.fill(page, '#photo_id_expiry', '2035-03-31');
	s = await t.submit(page, '#apply');
	await t.shot(page, 'apply', 'juki-card');
	await t.refused(page, 403, s, '22 December 2015',
		'the Juki card itself in 2026');
	console.log('ok apply: the Juki card itself refused after 2015-12-22 (403)');
	await page.select('#card', 'mynumber');

	await page.select('#path', 'photo');
	await page.select('#photo_id', 'passport');
	await t.fill(page, '#photo_id_address', c.address);
	await t.fill(page, '#photo_id_expiry', '2035-03-31');
	s = await t.submit(page, '#apply');
	const state = await page.$eval('#state', (e) => e.innerText);
	if (s !== 200 || !state.includes('ready'))
		fail(`application: HTTP ${s}, ${state}`);
	c.app = new URL(page.url()).searchParams.get('id');
	await t.shot(page, 'apply', 'ready');
	console.log(`ok apply: application ${c.app} ready the same day`);
}
