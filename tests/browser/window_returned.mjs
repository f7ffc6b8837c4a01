// The inquiry letter printed again from an application's page (a POST
// with the session's token: a PDF with a fresh code; that letter counts as
// mailed today, so it comes back another day), and another letter brought
// back (/window/returned): a wrong code refused with the window's
// sentence, the right one with another document makes the application
// ready.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fail } from './window_lib.mjs';

// Presses "print the letter" as the form does, and reads the code off the
// PDF it answers with.
async function printLetter(page, shots) {
	const pdf = await page.evaluate(async () => {
		const form = document.querySelector('form[action="/window/letter"]');
		const r = await fetch(form.action, { method: 'POST',
			body: new URLSearchParams(new FormData(form)) });
		const bytes = new Uint8Array(await r.arrayBuffer());
		let bin = '';
		for (const b of bytes) bin += String.fromCharCode(b);
		return { status: r.status, type: r.headers.get('content-type'),
			data: btoa(bin) };
	});
	if (pdf.status !== 200 || pdf.type !== 'application/pdf')
		fail(`letter: HTTP ${pdf.status} ${pdf.type}`);
	const file = `${shots}/letter.pdf`;
	fs.writeFileSync(file, Buffer.from(pdf.data, 'base64'));
	const text = execFileSync('pdftotext', [file, '-']).toString();
	const m = text.match(/^([A-Z2-9]{4}) ([A-Z2-9]{4}) ([A-Z2-9]{4}) ([A-Z2-9]{4})$/m);
	if (m === null) fail('no code on the printed letter');
	return m.slice(1).join('');
}

export default async function (t, c) {
	const main = await t.as('clerk1', c.pw.clerk1);
	await main.goto(`${t.url}/window/application?id=${c.letterApp2}`);
	const code = await printLetter(main, t.shots);
	if (code === c.letterCode2) fail('the reprinted letter kept its code');
	console.log('ok returned: a letter printed again from its page (PDF, a new code)');

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
