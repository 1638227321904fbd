import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { isPermission, PERMISSIONS, ROLES, roleAllows, type Role } from '../../src/access/matrix.ts';
import { createHttpServer } from '../../src/api/server.ts';
import { defineRoute } from '../../src/api/route.ts';
import { startServer, type TestServer } from '../helpers/app.ts';

/**
 * Enforcement at the edge, against the real server: every token route × every role, compared
 * with the matrix. A request the role allows is let through to validation, where a probe field
 * stops it before it changes anything (400 ERR_UNKNOWN_FIELD); one it does not allow is 403.
 */
describe('enforcement: every route × every role', () => {
  let s: TestServer;
  const tokens = new Map<Role, string>();
  const ids: Record<string, string> = {};
  const as = (token: string) => (method: string, path: string, body?: unknown) => s.api(method, path, body, { auth: false, headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    s = await startServer();
    const setup: [string, string, unknown][] = [
      ['POST', '/api/v1/workspaces', { name: 'data-eng' }],
      ['POST', '/api/v1/workspaces', { name: 'ml' }],
      ['POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1', defaultIdentityAccount: '210987654321' }],
      ['POST', '/api/v1/deployments?workspace=data-eng', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' }],
      ['POST', '/api/v1/deployments?workspace=data-eng', { name: 'reports', cluster: 'shared', runtimeVersion: '12.1.0' }],
      ['POST', '/api/v1/deployments?workspace=ml', { name: 'train', cluster: 'shared', runtimeVersion: '12.1.0' }],
      ['PUT', '/api/v1/identities?workspace=data-eng', { name: 'reader', awsRoleArn: 'arn:aws:iam::123456789012:role/reader' }],
      ['POST', '/api/v1/deployments/etl/credentials?workspace=data-eng', { component: 'worker' }],
    ];
    for (const [m, p, b] of setup) {
      const r = await s.api(m, p, b);
      assert.ok(r.status === 201 || r.status === 200, `${m} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
      if (p.includes('credentials')) ids.credential = r.body.id;
      if (p.includes('name') || r.body?.name) ids[r.body.name] = r.body.id;
    }
    for (const role of ROLES) {
      const body: Record<string, unknown> = { name: `probe-${role}`, role };
      if (role.startsWith('workspace-')) body.workspace = 'data-eng';
      if (role === 'deployment-admin') Object.assign(body, { workspace: 'data-eng', deployment: 'etl' });
      const r = await s.api('POST', '/api/v1/tokens', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      tokens.set(role, r.body.token);
      ids[`token-${role}`] = r.body.id;
    }
  });
  after(() => s.close());

  it('every token route declares a known permission (a route without one fails here)', () => {
    const guarded = s.app.routes.filter((r) => r.auth === 'token');
    assert.ok(guarded.length >= 25, `the route table is the source: ${guarded.length} token routes`);
    const missing = guarded.filter((r) => !r.permission || !isPermission(r.permission)).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(missing, []);
    const undeclaredPublic = s.app.routes.filter((r) => r.auth !== 'token' && r.permission);
    assert.deepEqual(undeclaredPublic.map((r) => r.path), [], 'public and workload routes take no API-token permission');
  });

  it('a token route without a permission is refused even to the organization owner (deny by default)', async () => {
    const http = createHttpServer({
      routes: [defineRoute({ method: 'GET', path: '/api/v1/undeclared', auth: 'token', tag: 't', summary: 't', response: z.object({ ok: z.boolean() }), handler: async () => ({ ok: true }) })],
      tokens: s.app.tokens,
      access: s.app.access,
      logger: s.app.logger,
    });
    try {
      const r = await http.inject({ method: 'GET', url: '/api/v1/undeclared', headers: { authorization: `Bearer ${s.token}` } });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'ERR_FORBIDDEN');
    } finally {
      await http.close();
    }
  });

  const concrete = (path: string) =>
    path
      .replace(':cluster', 'shared')
      .replace(':deployment', 'etl')
      .replace(':identity', 'reader')
      .replace(':credential', () => ids.credential!)
      .replace(':token', () => ids['token-workspace-viewer']!)
      .replace(':key', 'AIRFLOW__CORE__LOAD_EXAMPLES');

  it('each route × role: allowed → through to validation (no change made), denied → 403 ERR_FORBIDDEN', async () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const r of s.app.routes.filter((x) => x.auth === 'token')) {
      for (const role of ROLES) {
        const call = as(tokens.get(role)!);
        // Workspace objects live in data-eng (every workspace role's own; organization roles name it).
        const path = concrete(r.path) + (PERMISSIONS[r.permission!].level === 'workspace' ? '?workspace=data-eng' : '');
        // The probe: an unknown query field on reads, an unknown body field on writes; either
        // way validation refuses the request before the handler runs, so nothing changes.
        const res = r.method === 'GET' ? await call('GET', `${path}${path.includes('?') ? '&' : '?'}probe=1`) : await call(r.method, path, { probe: true });
        const allowed = roleAllows(role, r.permission!);
        const validationRefused = res.status === 400 && ['ERR_UNKNOWN_FIELD', 'ERR_VALIDATION'].includes(res.body.error.code);
        const ok = allowed ? validationRefused || (r.method === 'GET' && res.status === 200) : res.status === 403 && res.body.error.code === 'ERR_FORBIDDEN';
        if (!ok) mismatches.push(`${role} ${r.method} ${r.path} (${r.permission}, ${allowed ? 'allowed' : 'denied'}): ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        checked++;
      }
    }
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${checked} outcomes differ from the matrix`);
    // Nothing the walk sent changed anything.
    assert.equal((await s.api('GET', '/api/v1/clusters/shared')).status, 200);
    assert.equal((await s.api('GET', '/api/v1/deployments/etl?workspace=data-eng')).status, 200);
    assert.equal((await s.api('GET', `/api/v1/deployments/etl/credentials?workspace=data-eng`)).body.items[0].status, 'live');
  });
});

/** The scenarios, each with the role that must be stopped. */
describe('enforcement scenarios', () => {
  let s: TestServer;
  const as = (token: string) => (method: string, path: string, body?: unknown) => s.api(method, path, body, { auth: false, headers: { authorization: `Bearer ${token}` } });
  const mint = async (body: Record<string, unknown>) => {
    const r = await s.api('POST', '/api/v1/tokens', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.token as string;
  };
  let trainId = '';
  let reportsId = '';
  before(async () => {
    s = await startServer();
    await s.api('POST', '/api/v1/workspaces', { name: 'data-eng' });
    await s.api('POST', '/api/v1/workspaces', { name: 'ml' });
    await s.api('POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1' });
    await s.api('POST', '/api/v1/deployments?workspace=data-eng', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' });
    reportsId = (await s.api('POST', '/api/v1/deployments?workspace=data-eng', { name: 'reports', cluster: 'shared', runtimeVersion: '12.1.0' })).body.id;
    trainId = (await s.api('POST', '/api/v1/deployments?workspace=ml', { name: 'train', cluster: 'shared', runtimeVersion: '12.1.0' })).body.id;
  });
  after(() => s.close());

  it('a viewer reads Deployments and credentials but cannot create a credential (403) nor change a Deployment', async () => {
    const viewer = as(await mint({ name: 'viewer', role: 'workspace-viewer', workspace: 'data-eng' }));
    assert.equal((await viewer('GET', '/api/v1/deployments/etl/credentials')).status, 200);
    const c = await viewer('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' });
    assert.equal(c.status, 403, JSON.stringify(c.body));
    assert.match(c.body.error.message, /workspace-viewer does not allow credential\.write/);
    assert.equal((await viewer('PATCH', '/api/v1/deployments/etl', { description: 'x' })).status, 403);
    assert.equal((await s.api('GET', '/api/v1/deployments/etl/credentials?workspace=data-eng')).body.items.length, 0, 'nothing was created');
  });

  it("a workspace operator cannot see another workspace's Deployment: 404 by name, by id, and by naming the workspace", async () => {
    const op = as(await mint({ name: 'op', role: 'workspace-operator', workspace: 'data-eng' }));
    for (const path of ['/api/v1/deployments/train', `/api/v1/deployments/${trainId}`, '/api/v1/deployments/train?workspace=ml', `/api/v1/deployments?workspace=ml`]) {
      const r = await op('GET', path);
      assert.equal(r.status, 404, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'ERR_NOT_FOUND');
    }
    const del = await op('DELETE', `/api/v1/deployments/${trainId}`);
    assert.equal(del.status, 404);
    assert.equal((await s.api('GET', '/api/v1/deployments/train?workspace=ml')).status, 200, 'still there');
    assert.deepEqual((await op('GET', '/api/v1/workspaces')).body.items.map((w: { name: string }) => w.name), ['data-eng'], 'it lists only its own workspace');
  });

  it('a deployment-admin manages its Deployment’s credentials and cannot touch a second Deployment (404)', async () => {
    const da = as(await mint({ name: 'etl-bot', role: 'deployment-admin', workspace: 'data-eng', deployment: 'etl' }));
    const mine = await da('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    for (const [m, p, b] of [
      ['GET', '/api/v1/deployments/reports', undefined],
      ['GET', `/api/v1/deployments/${reportsId}/credentials`, undefined],
      ['POST', '/api/v1/deployments/reports/credentials', { component: 'worker' }],
      ['DELETE', '/api/v1/deployments/reports/credentials', undefined],
    ] as const) {
      const r = await da(m, p, b);
      assert.equal(r.status, 404, `${m} ${p}: ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual((await da('GET', '/api/v1/deployments')).body.items.map((d: { name: string }) => d.name), ['etl']);
    assert.equal((await da('PATCH', '/api/v1/deployments/etl', { description: 'x' })).status, 403, 'credentials only, not the Deployment itself');
    assert.equal((await da('GET', '/api/v1/identities')).status, 403);
  });

  it("a deployment-admin reads only the connections that reach its Deployment, with only its own link, and resolves only there", async () => {
    const ws = '?workspace=data-eng';
    for (const [p, b] of [
      [`/api/v1/connections${ws}`, { connId: 'etl_db', connType: 'postgres', host: 'etl.internal' }],
      [`/api/v1/connections${ws}`, { connId: 'reports_db', connType: 'postgres', host: 'reports.internal' }],
      [`/api/v1/connections${ws}`, { connId: 'shared_http', connType: 'http', host: 'api.internal' }],
      [`/api/v1/connections/etl_db/link${ws}`, { deployment: 'etl', overrides: { schema: 'etl' } }],
      [`/api/v1/connections/etl_db/link${ws}`, { deployment: 'reports', overrides: { schema: 'reports' } }],
      [`/api/v1/connections/reports_db/link${ws}`, { deployment: 'reports' }],
      [`/api/v1/connections/shared_http/link${ws}`, { allDeployments: true }],
      [`/api/v1/connections/import${ws}`, { deployment: 'reports', format: 'json', content: '{"reports_meta": {"conn_type": "http", "host": "x"}}' }],
    ] as const) {
      const r = await s.api('POST', p, b);
      assert.ok(r.status < 300, `${p}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const da = as(await mint({ name: 'etl-reader-bot', role: 'deployment-admin', workspace: 'data-eng', deployment: 'etl' }));
    const list = await da('GET', '/api/v1/connections');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const seen = list.body.items as { connId: string; deployments: { name: string }[] }[];
    assert.deepEqual(seen.map((c) => [c.connId, c.deployments.map((l) => l.name)]), [['etl_db', ['etl']], ['shared_http', []]], "its Deployment's link only; reports_db is not listed");
    assert.equal((await da('GET', '/api/v1/connections/etl_db')).status, 200);
    assert.equal((await da('GET', '/api/v1/connections/reports_db')).status, 404, 'a connection that does not reach etl does not exist for it');
    const resolved = await da('GET', '/api/v1/connections/etl_db/resolve?deployment=etl');
    assert.deepEqual([resolved.status, resolved.body.winner], [200, 'environment-manager']);
    assert.equal((await da('GET', '/api/v1/connections/etl_db/resolve?deployment=reports')).status, 404);
    assert.equal((await da('GET', '/api/v1/deployments/reports/metastore-connections')).status, 404);
    assert.equal((await da('GET', '/api/v1/deployments/etl/metastore-connections')).status, 200);
    assert.equal((await da('PATCH', '/api/v1/connections/etl_db', { host: 'x' })).status, 403, 'reading, not changing');
  });
});
