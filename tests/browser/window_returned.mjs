// The inquiry letter brought back (/window/returned): a wrong code refused
// with the window's sentence; the right one with another document makes
// the application ready.
import { fail } from './window_lib.mjs';

export default async function (t, c) {
	const main = await t.as('clerk1', c.pw.clerk1);
	await main.goto(`${t.url}/window/application?id=${c.letterApp}`);
	await t.fill(main, '#letter_code', 'AAAABBBBCCCCDDDD');
	await main.select('#document', 'health-insurance-card');
	await t.shot(main, 'returned', 'form');
	let s = await t.submit(main, '#returned');
	await t.shot(main, 'returned', 'wrong-code');
	await t.refused(main, 403, s, 'is not the one on the inquiry letter',
		'a wrong letter code');
	console.log('ok returned: a wrong code refused (403)');

	await main.goto(`${t.url}/window/application?id=${c.letterApp}`);
	await t.fill(main, '#letter_code', c.letterCode);
	await main.select('#document', 'health-insurance-card');
	s = await t.submit(main, '#returned');
	const state = await main.$eval('#state', (e) => e.innerText);
	await t.shot(main, 'returned', 'ready');
	if (s !== 200 || !state.includes('ready'))
		fail(`returned letter: HTTP ${s}, ${state}`);
	console.log('ok returned: the right code and a document: ready');
}
