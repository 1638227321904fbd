// docs/errors.md lists every code the workload side (exec, agent) can fail with: a code added to
// DELIVERY_ERRORS without a row there fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DELIVERY_ERRORS } from '../../src/delivery/errors.ts';

test('docs/errors.md has a row for every workload-side error code', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const start = doc.indexOf('## The workload side');
  assert.ok(start >= 0, 'docs/errors.md has no "## The workload side" section');
  const section = doc.slice(start);
  const rows = new Set([...section.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  for (const code of [...Object.keys(DELIVERY_ERRORS), 'ERR_VALIDATION', 'ERR_UNAUTHENTICATED']) {
    assert.ok(rows.has(code), `no row for ${code}; rows: ${[...rows].join(', ')}`);
  }
  for (const code of rows) {
    assert.ok(code in DELIVERY_ERRORS || code === 'ERR_VALIDATION' || code === 'ERR_UNAUTHENTICATED', `a row for ${code}, which the workload side never raises`);
  }
});
