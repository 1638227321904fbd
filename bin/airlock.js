#!/usr/bin/env node
// Runs the CLI with no build step: from a bundle compiled on first start and cached until a
// source changes (bin/compiled.js), or, when that cannot be had, straight from the TypeScript
// sources through tsx (also with AIRLOCK_RUN_SOURCES=1).
import { compiledEntry } from './compiled.js';

const entry = await compiledEntry();
if (entry) {
  await import(entry);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
