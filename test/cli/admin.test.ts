import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

describe('airlock admin-token reset', () => {
  it('refuses while a server has the store open; afterwards the old token is dead and the new one works', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-admin-'));
    try {
      let s = await startServer({ dataDir });
      const old = s.token;
      const busy = await airlock(['admin-token', 'reset', '--data-dir', dataDir], {});
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /ERR_CONFLICT: another Airlock server/);
      await s.close({ keepData: true });

      const r = await airlock(['admin-token', 'reset', '--data-dir', dataDir], {});
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /revoked 1 admin token\(s\)/);
      const file = join(dataDir, 'admin-token');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const fresh = readFileSync(file, 'utf8').trim();
      assert.notEqual(fresh, old);
      assert.ok(!r.stdout.includes(fresh), 'the token is written to the file, never printed');

      s = await startServer({ dataDir });
      assert.equal((await s.api('GET', '/api/v1/clusters', undefined, { auth: false, headers: { authorization: `Bearer ${old}` } })).status, 401);
      assert.equal((await s.api('GET', '/api/v1/clusters', undefined, { auth: false, headers: { authorization: `Bearer ${fresh}` } })).status, 200);
      await s.close({ keepData: true });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
