// Runs the window procedures' browser tests (window_<procedure>.mjs) in
// one Chromium, in the order given, against one server: each module's
// default export takes the shared helpers (window_lib.mjs) and the
// fixture the shell test made (CONFIG, JSON: operators, residents,
// reader). A module prints "ok PROCEDURE: ..." lines; any failure stops
// the run with a non-zero exit.
//
// usage: node window_procedures.mjs URL SHOTS CONFIG.json PROCEDURE...
import fs from 'node:fs';
import { launch } from './window_lib.mjs';

const [url, shots, config, ...procs] = process.argv.slice(2);
const cfg = JSON.parse(fs.readFileSync(config, 'utf8'));
const t = await launch(url, shots);
try {
	for (const p of procs) {
		const started = Date.now();
		const mod = await import(`./window_${p}.mjs`);
		await mod.default(t, cfg);
		console.log(`time ${p}: ${Date.now() - started} ms`);
	}
} finally {
	await t.browser.close();
}
