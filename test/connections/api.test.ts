import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/lib/logger.ts';

const PASSWORD = 'pw-Zq7!x@y:z/%';
const OVERRIDE_PASSWORD = 'override-pw-K3v9';
const IMPORTED_PASSWORD = 'imported-pw-R2d2';

/** The Environment Manager API against a real server; every byte it sends and logs is kept for the password scan. */
describe('connections API', () => {
  let app: App;
  let url: string;
  let token: string;
  let dataDir: string;
  const logLines: string[] = [];
  const seen: string[] = [];
  const api = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
    const text = await res.text();
    seen.push(text);
    return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'airlock-conn-'));
    const config = loadConfig({ env: {}, flags: { port: 0, dataDir, logLevel: 'debug' } });
    app = await createApp({ config, env: {}, manualRotation: true, logger: createLogger('debug', (l) => logLines.push(l)) });
    await app.listen();
    url = app.publicUrl();
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    assert.equal((await api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1', defaultIdentityAccount: '210987654321' })).status, 201);
    assert.equal((await api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/etl-reader' })).status, 201);
    assert.equal((await api('POST', '/api/v1/deployments', { name: 'reports', cluster: 'prod-aws', runtimeVersion: '12.1.0' })).status, 201);
    assert.equal((await api('POST', '/api/v1/workspaces', { name: 'other' })).status, 201);
  });
  after(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a connection; the password is sealed and answered only as passwordSet', async () => {
    const r = await api('POST', '/api/v1/connections', { connId: 'warehouse', connType: 'postgres', host: 'db.example.com', login: 'etl', password: PASSWORD, port: 5432, schema: 'analytics', extra: { sslmode: 'require' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.passwordSet, true);
    assert.equal(r.body.version, 1);
    assert.deepEqual(r.body.extra, { sslmode: 'require' });
    assert.ok(!('password' in r.body));
    // At rest: not the plain text in the database file.
    const db = readFileSync(join(dataDir, 'airlock.db'));
    assert.equal(db.includes(Buffer.from(PASSWORD)), false, 'the password is not stored in clear');
  });

  const bad: { name: string; body: Record<string, unknown>; code: string; field: string }[] = [
    { name: 'a conn_id Airflow refuses', body: { connId: 'has space', connType: 'postgres' }, code: 'ERR_VALIDATION', field: 'body.connId' },
    { name: 'a port out of range', body: { connId: 'p1', connType: 'postgres', port: 70000 }, code: 'ERR_VALIDATION', field: 'body.port' },
    { name: 'extra that is not an object', body: { connId: 'p2', connType: 'postgres', extra: '{"a":1}' }, code: 'ERR_VALIDATION', field: 'body.extra' },
    { name: 'no conn_type and no identity', body: { connId: 'p3' }, code: 'ERR_VALIDATION', field: 'body.connType' },
    { name: 'aws fields on a postgres connection', body: { connId: 'p4', connType: 'postgres', aws: { regionName: 'us-east-1' } }, code: 'ERR_VALIDATION', field: 'body.aws' },
    { name: 'a role ARN that is not one', body: { connId: 'p5', connType: 'aws', aws: { roleArn: 'arn:aws:iam::1:user/x' } }, code: 'ERR_VALIDATION', field: 'body.aws.roleArn' },
    { name: 'an unknown assume_role_method in extra', body: { connId: 'p6', connType: 'aws', extra: { assume_role_method: 'magic' } }, code: 'ERR_VALIDATION', field: 'body.extra.assume_role_method' },
    { name: 'an impersonation chain entry that is no service account', body: { connId: 'p7', connType: 'google_cloud_platform', gcp: { impersonationChain: ['bob@example.com'] } }, code: 'ERR_VALIDATION', field: 'body.gcp.impersonationChain.0' },
    { name: 'a client id that is no GUID', body: { connId: 'p8', connType: 'azure', azure: { managedIdentityClientId: 'nope' } }, code: 'ERR_VALIDATION', field: 'body.azure.managedIdentityClientId' },
    { name: 'an unknown field', body: { connId: 'p9', connType: 'postgres', passwd: 'x' }, code: 'ERR_UNKNOWN_FIELD', field: 'body.passwd' },
    { name: 'a conn_id taken in the workspace', body: { connId: 'warehouse', connType: 'postgres' }, code: 'ERR_CONFLICT', field: 'body.connId' },
    { name: 'an identity that does not exist', body: { connId: 'p10', fromIdentity: 'nobody' }, code: 'ERR_NOT_FOUND', field: 'fromIdentity' },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}: ${c.code} on ${c.field}, with an example`, async () => {
      const r = await api('POST', '/api/v1/connections', c.body);
      assert.equal(r.body.error.code, c.code, JSON.stringify(r.body));
      assert.ok(r.status >= 400 && r.status < 500);
      assert.equal(r.body.error.field, c.field);
      if (c.code !== 'ERR_CONFLICT') assert.notEqual(r.body.error.example, undefined, 'an example of the accepted form');
    });
  }

  it('get and list by conn_id; another workspace does not see it (404)', async () => {
    assert.equal((await api('GET', '/api/v1/connections/warehouse')).body.connId, 'warehouse');
    assert.deepEqual((await api('GET', '/api/v1/connections')).body.items.map((c: { connId: string }) => c.connId), ['warehouse']);
    const other = await api('GET', '/api/v1/connections/warehouse?workspace=other');
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'ERR_NOT_FOUND');
    assert.deepEqual((await api('GET', '/api/v1/connections?workspace=other')).body.items, []);
    // The same conn_id may exist in another workspace.
    assert.equal((await api('POST', '/api/v1/connections?workspace=other', { connId: 'warehouse', connType: 'mysql' })).status, 201);
  });

  it('a viewer reads connections (never a password) and cannot change them (403)', async () => {
    const minted = await api('POST', '/api/v1/tokens', { name: 'viewer', role: 'workspace-viewer', workspace: 'default' });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    const as = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${minted.body.token as string}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : null });
      const text = await res.text();
      seen.push(text);
      return { status: res.status, body: JSON.parse(text) as any };
    };
    const r = await as('GET', '/api/v1/connections/warehouse');
    assert.equal(r.status, 200);
    assert.equal(r.body.passwordSet, true);
    assert.equal((await as('GET', '/api/v1/connections')).status, 200);
    const w = await as('PATCH', '/api/v1/connections/warehouse', { host: 'x' });
    assert.equal(w.status, 403);
    assert.equal(w.body.error.code, 'ERR_FORBIDDEN');
  });

  it('update: absent fields stay, null clears; a stale version is ERR_CONFLICT and changes nothing', async () => {
    const u = await api('PATCH', '/api/v1/connections/warehouse', { host: 'db2.example.com', schema: null, version: 1 });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.equal(u.body.host, 'db2.example.com');
    assert.equal(u.body.schema, null);
    assert.equal(u.body.login, 'etl');
    assert.equal(u.body.passwordSet, true);
    assert.equal(u.body.version, 2);
    const stale = await api('PATCH', '/api/v1/connections/warehouse', { host: 'lost.example.com', version: 1 });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'ERR_CONFLICT');
    assert.equal(stale.body.error.field, 'body.version');
    assert.equal((await api('GET', '/api/v1/connections/warehouse')).body.host, 'db2.example.com');
  });

  it('two concurrent updates from the same version: exactly one wins, the other is told', async () => {
    const v = (await api('GET', '/api/v1/connections/warehouse')).body.version as number;
    const [a, b] = await Promise.all([
      api('PATCH', '/api/v1/connections/warehouse', { description: 'a', version: v }),
      api('PATCH', '/api/v1/connections/warehouse', { description: 'b', version: v }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
  });

  it('link with overrides; all-deployments reaches Deployments created later; effective fields for delivery', async () => {
    const l = await api('POST', '/api/v1/connections/warehouse/link', { deployment: 'etl', overrides: { host: 'replica.example.com', password: OVERRIDE_PASSWORD, extra: { sslmode: null, application_name: 'etl' } } });
    assert.equal(l.status, 200, JSON.stringify(l.body));
    assert.deepEqual(l.body.deployments, [{ id: l.body.deployments[0].id, name: 'etl', overrides: { host: 'replica.example.com', extra: { sslmode: null, application_name: 'etl' } }, passwordOverridden: true }]);
    const etl = (await api('GET', '/api/v1/deployments/etl')).body.id as string;
    const reports = (await api('GET', '/api/v1/deployments/reports')).body.id as string;
    let eff = await app.connections.connectionsForDeployment(etl);
    assert.equal(eff.length, 1);
    assert.deepEqual(eff[0]!.fields, { conn_type: 'postgres', host: 'replica.example.com', login: 'etl', password: OVERRIDE_PASSWORD, schema: null, port: 5432, extra: { application_name: 'etl' } });
    assert.deepEqual(eff[0]!.overridden, ['extra', 'host', 'password']);
    assert.equal(eff[0]!.linkedBy, 'deployment');
    assert.deepEqual(await app.connections.connectionsForDeployment(reports), []);

    assert.equal((await api('POST', '/api/v1/connections/warehouse/link', { allDeployments: true })).body.allDeployments, true);
    const late = (await api('POST', '/api/v1/deployments', { name: 'late', cluster: 'prod-aws', runtimeVersion: '12.1.0' })).body.id as string;
    eff = await app.connections.connectionsForDeployment(late);
    assert.equal(eff[0]!.fields.password, PASSWORD);
    assert.equal(eff[0]!.fields.host, 'db2.example.com');
    assert.equal(eff[0]!.linkedBy, 'all-deployments');

    // Unlinking all keeps the explicit link to etl.
    const u = await api('POST', '/api/v1/connections/warehouse/unlink', { allDeployments: true });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.deepEqual(u.body.warnings, []);
    assert.deepEqual(await app.connections.connectionsForDeployment(late), []);
    assert.equal((await app.connections.connectionsForDeployment(etl)).length, 1);
    const again = await api('POST', '/api/v1/connections/warehouse/unlink', { deployment: 'reports' });
    assert.equal(again.status, 409);
    assert.equal((await api('POST', '/api/v1/connections/warehouse/link', { deployment: 'nowhere' })).status, 404);
    assert.equal((await api('POST', '/api/v1/connections/warehouse/link', {})).body.error.code, 'ERR_VALIDATION');
  });

  it('unlink and delete report where a Deployment variable still names the conn_id', async () => {
    const v = await api('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'WAREHOUSE_CONN_ID', value: 'warehouse' }, { key: 'SECRET_REF', value: 'warehouse', secret: true }] });
    assert.ok(v.status < 300, JSON.stringify(v.body));
    const etl = (await api('GET', '/api/v1/deployments/etl')).body.id as string;
    const u = await api('POST', '/api/v1/connections/warehouse/unlink', { deployment: 'etl' });
    assert.equal(u.status, 200);
    // Secret values are sealed and not looked into.
    assert.deepEqual(u.body.warnings, [{ deployment: { id: etl, name: 'etl' }, where: 'variable WAREHOUSE_CONN_ID' }]);
  });

  it('imports airflow connections export files (json, yaml, env) into a Deployment\'s metadata database', async () => {
    const json = JSON.stringify({
      legacy_pg: { conn_type: 'postgres', description: null, login: 'u', password: IMPORTED_PASSWORD, host: 'h', port: 5432, schema: 's', extra: '{"sslmode": "require"}' },
      new_aws: { conn_id: 'new_aws', conn_type: 'aws', description: '', host: null, login: null, password: null, schema: null, port: null, extra: { region_name: 'us-east-1' } },
    });
    const r = await api('POST', '/api/v1/connections/import', { deployment: 'etl', format: 'json', content: json, source: 'connections.json' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.created, ['legacy_pg', 'new_aws']);
    const env = await api('POST', '/api/v1/connections/import', { deployment: 'etl', format: 'env', content: `# exported\nlegacy_pg=postgres://u:${encodeURIComponent(IMPORTED_PASSWORD)}@h2:5432/s\n` });
    assert.deepEqual(env.body.replaced, ['legacy_pg']);
    const list = await api('GET', '/api/v1/deployments/etl/metastore-connections');
    assert.deepEqual(list.body.items.map((m: { connId: string; host: string | null; passwordSet: boolean }) => [m.connId, m.host, m.passwordSet]), [['legacy_pg', 'h2', true], ['new_aws', null, false]]);
    const etl = (await api('GET', '/api/v1/deployments/etl')).body.id as string;
    const ms = await app.connections.metastoreConnections(etl);
    assert.equal(ms.find((m) => m.connId === 'legacy_pg')!.fields.password, IMPORTED_PASSWORD);
    assert.equal(ms[0]!.source, 'metadata-database');

    const badYaml = await api('POST', '/api/v1/connections/import', { deployment: 'etl', format: 'yaml', content: `x:\n  conn_type: http\n  password: ${IMPORTED_PASSWORD}\n  bogus: 1\n` });
    assert.equal(badYaml.status, 400);
    assert.equal(badYaml.body.error.field, 'connections.x.bogus');
    const badEnv = await api('POST', '/api/v1/connections/import', { deployment: 'etl', format: 'env', content: `a=http://h\na=http://${IMPORTED_PASSWORD}@h\n` });
    assert.equal(badEnv.status, 400);
    assert.match(badEnv.body.error.message, /line 2/);
    assert.equal((await api('DELETE', '/api/v1/deployments/etl/metastore-connections/new_aws')).status, 204);
    assert.equal((await api('DELETE', '/api/v1/deployments/etl/metastore-connections/new_aws')).status, 404);
  });

  it('delete answers with where it was still referenced; then it is gone', async () => {
    const d = await api('DELETE', '/api/v1/connections/warehouse');
    assert.equal(d.status, 200);
    assert.equal(d.body.deleted, 'warehouse');
    assert.ok(d.body.warnings.length >= 1);
    assert.equal((await api('GET', '/api/v1/connections/warehouse')).status, 404);
  });

  it('no password ever appears in a response, the audit log or a log line', async () => {
    await app.audit.flush();
    const audit = await api('GET', '/api/v1/audit?limit=500');
    assert.equal(audit.status, 200);
    assert.ok(JSON.stringify(audit.body).includes('connection.create'), 'the changes were audited');
    const everything = [...seen, ...logLines].join('\n');
    for (const secret of [PASSWORD, OVERRIDE_PASSWORD, IMPORTED_PASSWORD, encodeURIComponent(IMPORTED_PASSWORD)]) {
      assert.equal(everything.includes(secret), false, `a secret leaked: ${secret.slice(0, 4)}…`);
    }
  });
});
