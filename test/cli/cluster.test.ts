import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

describe('airlock CLI', () => {
  let s: TestServer;
  let env: Record<string, string>;
  before(async () => {
    s = await startServer();
    env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
  });
  after(() => s.close());

  it('cluster create prints a table; list -o json and get -o yaml agree', async () => {
    const created = await airlock(['cluster', 'create', '--name', 'prod-aws', '--cloud', 'aws', '--type', 'dedicated', '--region', 'us-east-1'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^NAME\s+ID\s+CLOUD\s+TYPE\s+REGION\s+OIDC ISSUER/);
    assert.match(created.stdout, /prod-aws\s+cl_[0-9a-z]{20}\s+aws\s+dedicated\s+us-east-1\s+http:\/\/127\.0\.0\.1:\d+\/clusters\/cl_/);

    const list = await airlock(['cluster', 'list', '-o', 'json'], env);
    const items = JSON.parse(list.stdout);
    assert.equal(items.length, 1);
    assert.equal(items[0].name, 'prod-aws');

    const got = await airlock(['cluster', 'get', items[0].id, '-o', 'yaml'], env);
    assert.deepEqual(parseYaml(got.stdout), items[0]);
  });

  it('rotate-keys by name, then keys shows the pending key', async () => {
    const r = await airlock(['cluster', 'rotate-keys', 'prod-aws', '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const { kid } = JSON.parse(r.stdout);
    const keys = await airlock(['cluster', 'keys', 'prod-aws'], env);
    assert.match(keys.stdout, new RegExp(`${kid}\\s+pending`));
  });

  it('server errors print code, message, field and example, and exit 1', async () => {
    const dup = await airlock(['cluster', 'create', '--name', 'prod-aws', '--cloud', 'aws', '--region', 'us-east-1'], env);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^error: ERR_CONFLICT: a cluster named "prod-aws" already exists/);
    const bad = await airlock(['cluster', 'create', '--name', 'x', '--cloud', 'gcp', '--region', 'us-east-1'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ERR_VALIDATION/);
    assert.match(bad.stderr, /field: body\.region/);
    assert.match(bad.stderr, /example: us-central1/);
  });

  it('a missing or wrong token, or no server, are explained', async () => {
    const noToken = await airlock(['cluster', 'list'], { AIRLOCK_URL: s.url });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /ERR_UNAUTHENTICATED.*AIRLOCK_TOKEN/);
    const down = await airlock(['cluster', 'list'], { AIRLOCK_URL: 'http://127.0.0.1:9', AIRLOCK_TOKEN: 'x' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /ERR_UNREACHABLE: cannot reach the Airlock server at http:\/\/127\.0\.0\.1:9/);
  });

  it('delete removes the cluster and its issuer', async () => {
    const id = JSON.parse((await airlock(['cluster', 'get', 'prod-aws', '-o', 'json'], env)).stdout).id;
    assert.equal((await airlock(['cluster', 'delete', 'prod-aws'], env)).code, 0);
    const res = await fetch(`${s.url}/clusters/${id}/openid/v1/jwks`);
    assert.equal(res.status, 404);
  });

  it('config validate reports every problem and exits 2; a valid config prints the effective settings', async () => {
    const bad = await airlock(['config', 'validate', '--port', 'x'], { AIRLOCK_PROT: '1', AIRLOCK_TOKEN_TTL_MAX: '48h' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ERR_CONFIG_INVALID/);
    for (const k of ['AIRLOCK_PROT', 'port', 'tokenTtlMax']) assert.match(bad.stderr, new RegExp(`- ${k} `));
    const ok = await airlock(['config', 'validate', '-o', 'json', '--port', '9000'], { DATABASE_URL: 'postgres://u:secret@127.0.0.1/db' });
    assert.equal(ok.code, 0, ok.stderr);
    const shown = JSON.parse(ok.stdout);
    assert.equal(shown.port, 9000);
    assert.equal(shown.keyRotationPeriod, '30d');
    assert.equal(shown.databaseUrl, 'postgres://u:****@127.0.0.1/db', 'passwords are masked');
  });

  it('config validate --production: the defaults are refused for real clouds (exit 1, each setting with its fix); a ready configuration passes', async () => {
    const defaults = await airlock(['config', 'validate', '--production'], {});
    assert.equal(defaults.code, 1, defaults.stderr);
    assert.match(defaults.stdout, /^ {2}error publicUrl: publicUrl is not set, so every cluster's issuer is http:\/\/127\.0\.0\.1:8080\/clusters\/…/m);
    assert.match(defaults.stdout, /^ {6}set: AIRLOCK_PUBLIC_URL=https:\/\/airlock\.example\.com/m);
    const ready = await airlock(['config', 'validate', '--production', '-o', 'json', '--public-url', 'https://airlock.example.com', '--audit-retention', '400d'], {
      AIRLOCK_DATABASE_URL: 'postgres://airlock:secret@db.example.com/airlock?sslmode=verify-full',
      AIRLOCK_MASTER_KEY: 'from-a-secret-manager',
    });
    assert.equal(ready.code, 0, ready.stderr);
    const out = JSON.parse(ready.stdout) as { config: { publicUrl: string; databaseUrl: string }; readiness: unknown[] };
    assert.deepEqual([out.config.publicUrl, out.readiness], ['https://airlock.example.com', []]);
    assert.equal(ready.stdout.includes('secret'), false, 'the database password stays masked');
  });

  it('config validate never prints a database password, in whichever form it was given, valid or not', async () => {
    for (const url of ['postgres://:secret@127.0.0.1/db', 'postgres://127.0.0.1/db?user=u&password=secret', 'postgres://u:secret@127.0.0.1/db?sslpassword=secret', 'mysql://u:secret@127.0.0.1/db']) {
      const r = await airlock(['config', 'validate', '-o', 'json'], { DATABASE_URL: url });
      assert.equal(`${r.stdout}${r.stderr}`.includes('secret'), false, `${url} → ${r.stdout}${r.stderr}`);
      if (url.startsWith('postgres')) assert.match(JSON.parse(r.stdout).databaseUrl, /\*\*\*\*/);
      else assert.equal(r.code, 2, 'a non-postgres URL is refused');
    }
  });
});
