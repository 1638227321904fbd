/**
 * Golden files: a test renders something and compares it byte for byte with a file under
 * version control; `UPDATE_GOLDEN=1` rewrites the files instead, so an intended change is one
 * re-run and a reviewed diff.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';

export const updatingGolden = (): boolean => process.env.UPDATE_GOLDEN === '1';

/** Compares `actual` with the file at `path` (absolute), or rewrites it under UPDATE_GOLDEN=1. */
export function matchGolden(path: string, actual: string): void {
  const shown = relative(process.cwd(), path);
  if (updatingGolden()) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, 'utf8');
  } catch {
    assert.fail(`missing golden file ${shown}; create it with UPDATE_GOLDEN=1 and review it`);
  }
  assert.equal(actual, expected, `${shown} differs; if the change is intended, re-run with UPDATE_GOLDEN=1 and review the diff`);
}

/** The same for a JSON value, written as two-space indented JSON with a final newline. */
export function matchGoldenJson(path: string, value: unknown): void {
  matchGolden(path, `${JSON.stringify(value, null, 2)}\n`);
}
