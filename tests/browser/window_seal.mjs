// Seal registration (印鑑登録) at the counter (/window/services) in the
// browser: the clerk of A (winA) picks the seal's scanned image in the
// form's file input; a JPEG, a PNG over 512 KiB, and the form posted
// without the session's CSRF token are refused (400, 413, 403) and
// nothing is registered; the PNG is registered and the page shows the
// registration number. Prints "seal NUMBER" for the shell test.
//
// Config: a (A's resident), aAddress (the registered address),
// images.{png,jpeg,big} (files the shell test made), pw.winA.
import { fail } from './window_lib.mjs';

// the seal form filled in, with `file` in its file input
async function fillSeal(t, page, c, file) {
	await page.goto(`${t.url}/window/services`);
	await t.fill(page, 'form:has(#seal_register) [name="person"]', c.a);
	await t.fill(page, 'form:has(#seal_register) [name="photo_id_address"]',
		c.aAddress);
	const input = await page.$('#image');
	await input.uploadFile(file);
}

export default async function (t, c) {
	const a = await t.as('winA', c.pw.winA);
	await a.goto(`${t.url}/window/services`);
	const enctype = await a.$eval('form:has(#seal_register)', (f) => f.enctype);
	if (enctype !== 'multipart/form-data') fail(`the seal form posts ${enctype}`);

	await fillSeal(t, a, c, c.images.jpeg);
	let s = await t.submit(a, '#seal_register');
	await t.shot(a, 'seal', 'jpeg-refused');
	await t.refused(a, 400, s, 'not a PNG', 'a JPEG as the seal');
	console.log('ok seal: a JPEG refused (400, not a PNG image)');

	await fillSeal(t, a, c, c.images.big);
	s = await t.submit(a, '#seal_register');
	await t.shot(a, 'seal', 'too-large-refused');
	await t.refused(a, 413, s, 'larger than 512 KiB', 'a PNG over the cap');
	console.log('ok seal: a PNG over 512 KiB refused (413)');

	// the same form and file, its csrf part taken out: refused before
	// anything is read
	await fillSeal(t, a, c, c.images.png);
	const forged = await a.$eval('form:has(#seal_register)', async (form) => {
		const fd = new FormData(form);
		fd.delete('csrf');
		const r = await fetch(form.action, { method: 'POST', body: fd });
		return [r.status, await r.text()];
	});
	if (forged[0] !== 403 || !forged[1].includes('token'))
		fail(`a seal form without the CSRF token: HTTP ${forged[0]} ${forged[1]}`);
	console.log('ok seal: the form without the session\'s CSRF token refused (403)');

	await fillSeal(t, a, c, c.images.png);
	await t.shot(a, 'seal', 'form');
	s = await t.submit(a, '#seal_register');
	await t.shot(a, 'seal', 'registered');
	await t.done(a, s, 'the seal registration');
	const number = await a.$eval('#seal_number', (e) => e.textContent);
	const state = await a.$eval('#state', (e) => e.dataset.state);
	if (!/^[0-9]{6}-[0-9]{6}$/.test(number) || state !== 'active')
		fail(`the registration: number ${number}, state ${state}`);
	console.log(`ok seal: registered with the image file, number ${number}`);
	console.log(`seal ${number}`);

	await fillSeal(t, a, c, c.images.png);
	s = await t.submit(a, '#seal_register');
	await t.shot(a, 'seal', 'second-refused');
	await t.refused(a, 409, s, 'already has a registered seal', 'a second seal');
	console.log('ok seal: a second seal while one is active refused (409)');
}
