/**
 * The embedded store's data directory: one left by an Airlock that embedded PGlite is refused, not
 * silently started empty beside. (The one-server-at-a-time lock is tested across processes in
 * test/cli/admin.test.ts and test/issuer/rotation.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AppError } from '../../src/errors/index.ts';
import { createStore, embeddedPath } from '../../src/store/store.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'airlock-datadir-'));
  dirs.push(d);
  return d;
};

describe('embedded store data directory', () => {
  test('a data dir holding an earlier PGlite store is refused with both paths named, and left untouched', async () => {
    const dataDir = fresh();
    mkdirSync(join(dataDir, 'db'));
    writeFileSync(join(dataDir, 'db', 'PG_VERSION'), '17\n');
    await assert.rejects(createStore({ dataDir }), (err: unknown) => {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, 'ERR_CONFLICT');
      assert.equal(err.field, 'dataDir');
      assert.ok(err.message.includes(join(dataDir, 'db')) && err.message.includes(embeddedPath(dataDir)), err.message);
      return true;
    });
    assert.equal(existsSync(embeddedPath(dataDir)), false, 'no new database was created beside the old one');
    assert.equal(existsSync(join(dataDir, 'airlock.lock')), false, 'the lock was released');
  });
});
