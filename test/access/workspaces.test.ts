import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

/** Workspaces: Deployments and saved identities belong to one; clusters are the organization's. */
describe('workspaces', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    const c = await s.api('POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1' });
    assert.equal(c.status, 201, JSON.stringify(c.body));
  });
  after(() => s.close());

  it('`default` exists from the first start, and is where requests without ?workspace= act', async () => {
    const l = await s.api('GET', '/api/v1/workspaces');
    assert.equal(l.status, 200, JSON.stringify(l.body));
    assert.deepEqual(l.body.items.map((w: { name: string }) => w.name), ['default']);
    const d = await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.workspaceId, l.body.items[0].id);
  });

  it('create: 201, then 409 for the same name and 400 (with the field and an example) for a bad one', async () => {
    const c = await s.api('POST', '/api/v1/workspaces', { name: 'data-eng' });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    assert.match(c.body.id, /^ws_[0-9a-z]{20}$/);
    const dup = await s.api('POST', '/api/v1/workspaces', { name: 'data-eng' });
    assert.equal(dup.status, 409, JSON.stringify(dup.body));
    assert.equal(dup.body.error.field, 'body.name');
    const bad = await s.api('POST', '/api/v1/workspaces', { name: 'Data Eng' });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'ERR_VALIDATION');
    assert.equal(bad.body.error.field, 'body.name');
  });

  it('a workspace has its own Deployments and identities; names may repeat across workspaces; other workspaces’ objects are 404', async () => {
    const mk = await s.api('POST', '/api/v1/deployments?workspace=data-eng', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' });
    assert.equal(mk.status, 201, JSON.stringify(mk.body));
    const ws = (await s.api('GET', '/api/v1/workspaces')).body.items.find((w: { name: string }) => w.name === 'data-eng');
    assert.equal(mk.body.workspaceId, ws.id);
    // By name, each workspace sees its own `etl`; by id, the other workspace's is not found.
    const inDefault = await s.api('GET', '/api/v1/deployments/etl');
    assert.notEqual(inDefault.body.id, mk.body.id);
    const crossById = await s.api('GET', `/api/v1/deployments/${mk.body.id}`);
    assert.equal(crossById.status, 404, JSON.stringify(crossById.body));
    const byIdInWs = await s.api('GET', `/api/v1/deployments/${mk.body.id}?workspace=${ws.id}`);
    assert.equal(byIdInWs.status, 200, JSON.stringify(byIdInWs.body));
    const list = await s.api('GET', '/api/v1/deployments?workspace=data-eng');
    assert.deepEqual(list.body.items.map((d: { id: string }) => d.id), [mk.body.id]);

    const saved = await s.api('PUT', '/api/v1/identities?workspace=data-eng', { name: 'reader', awsRoleArn: 'arn:aws:iam::123456789012:role/reader' });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal((await s.api('GET', '/api/v1/identities/reader')).status, 404);
    assert.equal((await s.api('GET', `/api/v1/identities/${saved.body.id}`)).status, 404);
    // A saved identity is picked by name within the Deployment's own workspace only.
    const useOther = await s.api('PATCH', '/api/v1/deployments/etl', { workloadIdentity: 'reader' });
    assert.equal(useOther.status, 400, JSON.stringify(useOther.body));
    const useOwn = await s.api('PATCH', '/api/v1/deployments/etl?workspace=data-eng', { workloadIdentity: 'reader' });
    assert.equal(useOwn.status, 200, JSON.stringify(useOwn.body));
  });

  it('an unknown ?workspace= is 404 on query.workspace; a workspace parameter on an organization route is refused', async () => {
    const r = await s.api('GET', '/api/v1/deployments?workspace=nope');
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal(r.body.error.field, 'query.workspace');
    const c = await s.api('GET', '/api/v1/clusters?workspace=data-eng');
    assert.equal(c.status, 400, JSON.stringify(c.body));
    assert.equal(c.body.error.code, 'ERR_UNKNOWN_FIELD');
  });

  it('the X-Airlock-Workspace header names the workspace as ?workspace= does; the query wins; organization routes ignore it', async () => {
    const h = (workspace: string) => ({ headers: { 'x-airlock-workspace': workspace } });
    const viaQuery = await s.api('GET', '/api/v1/deployments?workspace=data-eng');
    const viaHeader = await s.api('GET', '/api/v1/deployments', undefined, h('data-eng'));
    assert.equal(viaHeader.status, 200, JSON.stringify(viaHeader.body));
    assert.ok(viaQuery.body.items.length > 0);
    assert.deepEqual(viaHeader.body.items.map((d: { id: string }) => d.id), viaQuery.body.items.map((d: { id: string }) => d.id));
    const inDefault = await s.api('GET', '/api/v1/deployments');
    const queryWins = await s.api('GET', '/api/v1/deployments?workspace=default', undefined, h('data-eng'));
    assert.deepEqual(queryWins.body.items.map((d: { id: string }) => d.id), inDefault.body.items.map((d: { id: string }) => d.id));
    // A write lands where the header says.
    const mk = await s.api('PUT', '/api/v1/identities', { name: 'by-header', awsRoleArn: 'arn:aws:iam::123456789012:role/by-header' }, h('data-eng'));
    assert.equal(mk.status, 200, JSON.stringify(mk.body));
    assert.equal((await s.api('GET', '/api/v1/identities/by-header?workspace=data-eng')).status, 200);
    assert.equal((await s.api('GET', '/api/v1/identities/by-header')).status, 404);
    // Organization routes take no workspace, and the header is not a query: no refusal.
    assert.equal((await s.api('GET', '/api/v1/clusters', undefined, h('data-eng'))).status, 200);
    const unknown = await s.api('GET', '/api/v1/deployments', undefined, h('nope'));
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    assert.equal(unknown.body.error.field, 'headers.x-airlock-workspace');
    // A workspace-scoped token cannot reach another workspace through the header either.
    const tok = await s.api('POST', '/api/v1/tokens', { name: 'default-viewer', role: 'workspace-viewer', workspace: 'default' });
    assert.equal(tok.status, 201, JSON.stringify(tok.body));
    const other = await s.api('GET', '/api/v1/deployments', undefined, { auth: false, headers: { authorization: `Bearer ${tok.body.token}`, 'x-airlock-workspace': 'data-eng' } });
    assert.equal(other.status, 404, JSON.stringify(other.body));
    assert.equal(other.body.error.field, 'headers.x-airlock-workspace');
  });

  it('CLI: workspace create | list, and deployment list --workspace', async () => {
    const env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const c = await airlock(['workspace', 'create', '--name', 'ml', '-o', 'json'], env);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).name, 'ml');
    const l = await airlock(['workspace', 'list'], env);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /^NAME\s+ID\s+CREATED\n/);
    assert.deepEqual(l.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]), ['default', 'data-eng', 'ml']);
    const d = await airlock(['deployment', 'list', '--workspace', 'data-eng', '-o', 'json'], env);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(JSON.parse(d.stdout).length, 1);
    const none = await airlock(['deployment', 'list', '--workspace', 'ml', '-o', 'json'], env);
    assert.deepEqual(JSON.parse(none.stdout), []);
    const missing = await airlock(['deployment', 'list', '--workspace', 'nope'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ERR_NOT_FOUND: no workspace/);
  });
});
