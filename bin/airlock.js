#!/usr/bin/env node
// Runs the CLI with no build step: from a bundle compiled on first start and cached until a
// source changes (bin/compiled.js), or, when that cannot be had, straight from the TypeScript
// sources through tsx (also with AIRLOCK_RUN_SOURCES=1). `serve` also makes sure the web console
// is built for the current ui/ sources (bin/ui.js) and tells the server where (AIRLOCK_UI_DIR).
import { compiledEntry } from './compiled.js';

const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (command === 'serve' && !process.env.AIRLOCK_UI_DIR) {
  const { ensureUi } = await import('./ui.js');
  const ui = await ensureUi();
  if (ui.dir) process.env.AIRLOCK_UI_DIR = ui.dir;
  else process.stderr.write(`airlock: the web console could not be built (${ui.reason}); serving the API alone\n`);
}

const entry = await compiledEntry();
if (entry) {
  await import(entry);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
