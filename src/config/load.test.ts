import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envName, loadConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, './.airlock');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.tokenTtlDefault, 3600);
    assert.equal(c.tokenTtlMax, 86400);
    assert.equal(c.keyRotationPeriod, 30 * 86400);
    assert.ok(Object.isFrozen(c));
  });

  it('layers file < env < flags', () => {
    const f = file('layer.yaml', 'port: 9000\nhost: 0.0.0.0\ntokenTtlDefault: 2h\n');
    const c = loadConfig({ file: f, env: { AIRLOCK_PORT: '9100', AIRLOCK_TOKEN_TTL_DEFAULT: '30m' }, flags: { port: 9200 } });
    assert.equal(c.port, 9200, 'flag wins');
    assert.equal(c.host, '0.0.0.0', 'file applies where nothing overrides');
    assert.equal(c.tokenTtlDefault, 1800, 'env beats file');
  });

  it('reads DATABASE_URL and the AIRLOCK_ names derived from keys', () => {
    assert.equal(envName('publicUrl'), 'AIRLOCK_PUBLIC_URL');
    const c = loadConfig({ env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/airlock', AIRLOCK_PUBLIC_URL: 'https://airlock.example.com' } });
    assert.equal(c.databaseUrl, 'postgres://u:p@127.0.0.1:5432/airlock');
    assert.equal(c.publicUrl, 'https://airlock.example.com');
  });

  it('client and key variables are not settings and are not errors', () => {
    assert.doesNotThrow(() => loadConfig({ env: { AIRLOCK_URL: 'x', AIRLOCK_TOKEN: 'y', AIRLOCK_MASTER_KEY: 'z' } }));
  });

  it('reports every problem at once: unknown keys, unknown env, bad values', () => {
    const f = file('bad.yaml', 'prot: 8080\nport: seventy\ntokenTtlMax: 2d\n');
    try {
      loadConfig({ file: f, env: { AIRLOCK_PROT: '1', AIRLOCK_KEY_ROTATION_PERIOD: 'monthly' } });
      assert.fail('should throw');
    } catch (err) {
      const e = err as { code: string; details: { problems: { key: string; source: string }[] } };
      assert.equal(e.code, 'ERR_CONFIG_INVALID');
      const keys = e.details.problems.map((p) => p.key).sort();
      assert.deepEqual(keys, ['AIRLOCK_PROT', 'keyRotationPeriod', 'port', 'prot', 'tokenTtlMax'].sort());
      const prot = e.details.problems.find((p) => p.key === 'prot')!;
      assert.equal(prot.source, f);
    }
  });

  const rules: { name: string; flags: Record<string, unknown>; key: string }[] = [
    { name: 'max TTL above 24h', flags: { tokenTtlMax: '25h' }, key: 'tokenTtlMax' },
    { name: 'default TTL below 10m', flags: { tokenTtlDefault: '5m' }, key: 'tokenTtlDefault' },
    { name: 'default TTL above max', flags: { tokenTtlDefault: '3h', tokenTtlMax: '2h' }, key: 'tokenTtlDefault' },
    { name: 'prepublish below 15m', flags: { keyPrepublish: '10m' }, key: 'keyPrepublish' },
    { name: 'rotation period not longer than prepublish', flags: { keyRotationPeriod: '1d', keyPrepublish: '1d' }, key: 'keyRotationPeriod' },
    { name: 'public URL not http(s)', flags: { publicUrl: 'ftp://x' }, key: 'publicUrl' },
    { name: 'database URL not postgres', flags: { databaseUrl: 'mysql://x' }, key: 'databaseUrl' },
    { name: 'port out of range', flags: { port: 70000 }, key: 'port' },
  ];
  for (const r of rules) {
    it(`rejects ${r.name}`, () => {
      assert.throws(() => loadConfig({ env: {}, flags: r.flags }), (e: { details: { problems: { key: string }[] } }) =>
        e.details.problems.some((p) => p.key === r.key),
      );
    });
  }

  it('a file that is not a mapping is an error, not an empty config', () => {
    assert.throws(() => loadConfig({ env: {}, file: file('list.yaml', '- a\n- b\n') }), { code: 'ERR_CONFIG_INVALID' });
    assert.throws(() => loadConfig({ env: {}, file: join(dir, 'missing.yaml') }), { code: 'ERR_CONFIG_INVALID' });
  });
});

describe('docs/configuration.md', () => {
  it('has the settings table generated from the schema', async () => {
    const { readFileSync } = await import('node:fs');
    const { configTable } = await import('./doc.ts');
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    assert.ok(doc.includes(configTable()), 'regenerate: node --import tsx -e "import(\'./src/config/doc.ts\').then(m=>console.log(m.configTable()))"');
  });
});
