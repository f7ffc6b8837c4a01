// The seal's cancellation (印鑑登録の廃止) at the counter: B's clerk
// (winB) may not cancel A's resident's seal (403); A's clerk (winA)
// cancels it with a reason and the page says so with the number; a
// second cancellation finds no seal in force (404).
//
// Config: a (A's resident), pw.winA, pw.winB.
import { fail } from './window_lib.mjs';

async function cancel(t, page, person, reason) {
	await page.goto(`${t.url}/window/services`);
	await t.fill(page, 'form:has(#seal_cancel) [name="person"]', person);
	await t.fill(page, 'form:has(#seal_cancel) [name="reason"]', reason);
	return t.submit(page, '#seal_cancel');
}

export default async function (t, c) {
	const b = await t.as('winB', c.pw.winB);
	let s = await cancel(t, b, c.a, 'lost');
	await t.shot(b, 'seal', 'cancel-other-municipality');
	await t.refused(b, 403, s, '131016', "A's resident's seal for B's clerk");
	console.log("ok seal: B's clerk may not cancel A's resident's seal (403)");

	const a = await t.as('winA', c.pw.winA);
	s = await cancel(t, a, c.a, 'lost');
	await t.shot(a, 'seal', 'cancelled');
	await t.done(a, s, 'the cancellation');
	const state = await a.$eval('#state', (e) => e.dataset.state);
	const text = await a.$eval('#state', (e) => e.textContent);
	if (state !== 'cancelled' || !text.includes('lost'))
		fail(`the cancellation: ${state} ${text}`);
	console.log(`ok seal: cancelled (${await a.$eval('#seal_number', (e) => e.textContent)})`);

	s = await cancel(t, a, c.a, 'lost');
	await t.shot(a, 'seal', 'cancel-again');
	if (s !== 404) fail(`a second cancellation: HTTP ${s}`);
	console.log('ok seal: a second cancellation finds no seal in force (404)');
}
