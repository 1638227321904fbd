import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './load.ts';
import { productionReadiness } from './readiness.ts';

/** A configuration ready for real clouds; each case below changes one thing. */
const READY = {
  AIRLOCK_PUBLIC_URL: 'https://airlock.example.com',
  AIRLOCK_DATABASE_URL: 'postgres://airlock:pw@db.example.com:5432/airlock?sslmode=verify-full',
  AIRLOCK_AUDIT_RETENTION: '400d',
};
const SECRET = { AIRLOCK_MASTER_KEY: 'from-a-secret-manager' };

const findings = (env: Record<string, string>, secret: Record<string, string> = SECRET) =>
  productionReadiness(loadConfig({ env: { ...READY, ...env } }), secret).map((f) => `${f.severity} ${f.key}`);

describe('production readiness of a configuration', () => {
  it('a configuration ready for real clouds reports nothing', () => {
    assert.deepEqual(findings({}), []);
  });

  it('the defaults (one machine, the sandbox) cannot serve real clouds', () => {
    const r = productionReadiness(loadConfig({ env: {} }), {});
    assert.deepEqual(
      r.map((f) => `${f.severity} ${f.key}`),
      ['error publicUrl', 'warning databaseUrl', 'info backupDir', 'warning masterKey', 'info auditRetention'],
    );
    assert.match(r[0]!.message, /http:\/\/127\.0\.0\.1:8080\/clusters\/…/);
    assert.match(r[0]!.fix, /^AIRLOCK_PUBLIC_URL=https:\/\//);
  });

  const cases: [string, Record<string, string>, string[]][] = [
    ['an http public URL', { AIRLOCK_PUBLIC_URL: 'http://airlock.example.com' }, ['error publicUrl']],
    ['a loopback public URL', { AIRLOCK_PUBLIC_URL: 'https://127.0.0.1:8443' }, ['error publicUrl']],
    ['a private address', { AIRLOCK_PUBLIC_URL: 'https://10.1.2.3' }, ['error publicUrl']],
    ['a private IPv6 address', { AIRLOCK_PUBLIC_URL: 'https://[fd00::1]' }, ['error publicUrl']],
    ['a CGNAT address', { AIRLOCK_PUBLIC_URL: 'https://100.64.0.9' }, ['error publicUrl']],
    ['an internal name', { AIRLOCK_PUBLIC_URL: 'https://airlock.corp.internal' }, ['warning publicUrl']],
    ['a bare host name', { AIRLOCK_PUBLIC_URL: 'https://airlock' }, ['warning publicUrl']],
    ['a public address', { AIRLOCK_PUBLIC_URL: 'https://203.0.113.7' }, []],
    ['a path behind a proxy', { AIRLOCK_PUBLIC_URL: 'https://idp.example.com/airlock' }, []],
    ['a query on the public URL', { AIRLOCK_PUBLIC_URL: 'https://airlock.example.com/?x=1' }, ['error publicUrl']],
    ['PostgreSQL without TLS', { AIRLOCK_DATABASE_URL: 'postgres://a:b@db.example.com/airlock' }, ['warning databaseUrl']],
    ['PostgreSQL with sslmode=prefer', { AIRLOCK_DATABASE_URL: 'postgres://a:b@db.example.com/airlock?sslmode=prefer' }, ['warning databaseUrl']],
    ['PostgreSQL on loopback without TLS', { AIRLOCK_DATABASE_URL: 'postgres://a:b@127.0.0.1/airlock' }, []],
    ['a short key pre-publication', { AIRLOCK_KEY_PREPUBLISH: '1h' }, ['warning keyPrepublish']],
    ['debug logging', { AIRLOCK_LOG_LEVEL: 'debug' }, ['warning logLevel']],
    ['PostgreSQL ignores the backup settings', { AIRLOCK_BACKUP_INTERVAL: '0' }, []],
  ];
  for (const [name, env, expected] of cases) {
    it(`${name}: ${expected.join(', ') || 'nothing'}`, () => assert.deepEqual(findings(env), expected));
  }

  const embedded: [string, Record<string, string>, string[]][] = [
    ['backed up to its own disk', {}, ['warning databaseUrl', 'info backupDir']],
    ['backed up elsewhere', { AIRLOCK_BACKUP_DIR: '/mnt/backup/airlock' }, ['warning databaseUrl']],
    ['not backed up', { AIRLOCK_BACKUP_INTERVAL: '0' }, ['warning databaseUrl', 'warning backupInterval']],
  ];
  for (const [name, env, expected] of embedded) {
    it(`the embedded store, ${name}: ${expected.join(', ')}`, () => {
      const { AIRLOCK_DATABASE_URL: _, ...rest } = READY;
      assert.deepEqual(
        productionReadiness(loadConfig({ env: { ...rest, ...env } }), SECRET).map((f) => `${f.severity} ${f.key}`),
        expected,
      );
    });
  }

  it('a master-key rotation under way is named, with the step that ends it', () => {
    const r = productionReadiness(loadConfig({ env: READY }), { ...SECRET, AIRLOCK_MASTER_KEY_PREVIOUS: 'old' });
    assert.deepEqual(r.map((f) => `${f.severity} ${f.key}`), ['info masterKeyPrevious']);
    assert.match(r[0]!.fix, /airlock master-key rewrap/);
  });

  it('a master key file named apart from the data dir is still a warning, without "beside the data"', () => {
    const r = productionReadiness(loadConfig({ env: { ...READY, AIRLOCK_MASTER_KEY_FILE: '/run/secrets/airlock-master-key' } }), {});
    assert.deepEqual(r.map((f) => f.key), ['masterKey']);
    assert.doesNotMatch(r[0]!.message, /beside/);
  });
});
