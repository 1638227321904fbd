import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';

/** The only routes allowed without a token; everything else under the route table must refuse. */
const PUBLIC = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /clusters/:clusterId/.well-known/openid-configuration',
  'GET /clusters/:clusterId/openid/v1/jwks',
  // Authenticates its form (a join credential or a pod token), RFC 8693.
  'POST /clusters/:clusterId/token',
]);
/** Routes a workload calls with its own credential (join credential or pod token), not an API token. */
const WORKLOAD = new Set(['GET /api/v1/workload/profile', 'GET /api/v1/workload/environment']);

describe('authentication', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await s.app.clusters.create({ name: 'auth-test', cloud: 'aws', region: 'us-east-1' });
  });
  after(() => s.close());

  const concrete = (path: string) => path.replace(/:cluster\b/, 'auth-test').replace(/:[A-Za-z]+/g, 'x');

  it('every route outside the public list needs a token (iterating the route table)', async () => {
    const guarded = s.app.routes.filter((r) => !PUBLIC.has(`${r.method} ${r.path}`) && !WORKLOAD.has(`${r.method} ${r.path}`));
    assert.ok(guarded.length >= 8, 'the table is the source, not a hand-kept list');
    for (const r of guarded) {
      assert.equal(r.auth, 'token', `${r.method} ${r.path} is declared as needing a token`);
      // …and Prometheus' conventional /metrics, which needs a token like the rest.
      assert.ok(r.path.startsWith('/api/v1/') || r.path === '/metrics', `${r.path}: guarded routes live under /api/v1`);
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer alk_00000000000000000000_' + 'A'.repeat(43) }, { authorization: 'Basic YTpi' }]) {
        const res = await s.api(r.method, concrete(r.path), r.method === 'GET' || r.method === 'DELETE' ? undefined : {}, { auth: false, headers });
        assert.equal(res.status, 401, `${r.method} ${r.path} with ${JSON.stringify(headers)}`);
        assert.equal(res.body.error.code, 'ERR_UNAUTHENTICATED');
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="airlock"');
      }
    }
  });

  it('public routes are exactly health, discovery, JWKS and the token endpoint; workload routes are exactly the profile and the Deployment environment', () => {
    const open = s.app.routes.filter((r) => r.auth === 'public').map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(new Set(open), PUBLIC);
    const workload = s.app.routes.filter((r) => r.auth === 'workload').map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(new Set(workload), WORKLOAD);
  });

  it('workload routes refuse a missing, malformed or API-token credential', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer alj_${'0'.repeat(20)}_${'A'.repeat(43)}` }, { authorization: `Bearer ${s.token}` }, { authorization: 'Basic YTpi' }]) {
      for (const path of WORKLOAD) {
        const res = await s.api('GET', path.slice(4), undefined, { auth: false, headers });
        assert.equal(res.status, 401, `${path} with ${JSON.stringify(Object.keys(headers))}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'ERR_UNAUTHENTICATED');
      }
    }
  });

  it('a token with a wrong secret for a real id is refused', async () => {
    const real = s.token;
    const tampered = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
    const res = await s.api('GET', '/api/v1/clusters', undefined, { auth: false, headers: { authorization: `Bearer ${tampered}` } });
    assert.equal(res.status, 401);
    assert.equal((await s.api('GET', '/api/v1/clusters')).status, 200);
  });

  it('the admin token is stored hashed, and the file is private', async () => {
    assert.equal(statSync(join(s.dataDir, 'admin-token')).mode & 0o777, 0o600);
    assert.equal(statSync(join(s.dataDir, 'master.key')).mode & 0o777, 0o600);
    const rows = await s.app.store.apiTokens.list();
    assert.equal(rows.length, 1);
    // alk_<id>_<secret>: the row keeps the SHA-256 of the secret, and nothing of the secret itself.
    const secret = s.token.split('_').slice(2).join('_');
    assert.equal(rows[0]!.secretHash, createHash('sha256').update(secret, 'utf8').digest('hex'));
    const stored = JSON.stringify(rows[0]);
    assert.equal(stored.includes(secret), false, `the stored row holds the secret: ${stored}`);
    assert.equal(stored.includes(Buffer.from(secret).toString('base64')), false, 'nor its base64');
  });
});
