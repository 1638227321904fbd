import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/lib/logger.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

/** Values that must never come back out: each test that writes a secret uses one of these. */
const SECRETS = ['s3cr3t-Value-0001', 'hunter2-XYZ-0002', 'pg-pass-Q9-0003', 'kw-secret-project-0004'];

async function seed(s: TestServer) {
  for (const [m, p, b] of [
    ['POST', '/api/v1/workspaces', { name: 'data-eng' }],
    ['POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1', defaultIdentityAccount: '210987654321' }],
    ['POST', '/api/v1/deployments?workspace=data-eng', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' }],
    ['POST', '/api/v1/deployments?workspace=data-eng', { name: 'reports', cluster: 'shared', runtimeVersion: '12.1.0' }],
  ] as const) {
    const r = await s.api(m, p, b);
    assert.ok(r.status === 201, `${m} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

const V = '/api/v1/deployments/etl/variables?workspace=data-eng';
const one = (key: string, q = '') => `/api/v1/deployments/etl/variables/${encodeURIComponent(key)}?workspace=data-eng${q}`;

describe('deployment variables: API', () => {
  let s: TestServer;
  const logLines: string[] = [];
  before(async () => {
    // Every log line the server writes, at the most verbose level, for the secret scan.
    s = await startServer({ logger: createLogger('trace', (line) => logLines.push(line)) });
    await seed(s);
  });
  after(() => s.close());

  it('create adds each new key, skips the existing ones and names them; list shows plain values and hides secrets', async () => {
    const a = await s.api('POST', V, { variables: [{ key: 'AIRFLOW__CORE__LOAD_EXAMPLES', value: 'False' }, { key: 'API_KEY', value: SECRETS[0], secret: true }] });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.deepEqual(a.body.skipped, []);
    assert.deepEqual(
      a.body.created.map((v: { key: string; value: string | null; secret: boolean; version: number }) => [v.key, v.value, v.secret, v.version]),
      [
        ['AIRFLOW__CORE__LOAD_EXAMPLES', 'False', false, 1],
        ['API_KEY', null, true, 1],
      ],
    );
    const b = await s.api('POST', V, { variables: [{ key: 'API_KEY', value: 'other' }, { key: 'NEW_ONE', value: 'x=y=z' }] });
    assert.equal(b.status, 201);
    assert.deepEqual(b.body.skipped, ['API_KEY']);
    assert.deepEqual(b.body.created.map((v: { key: string }) => v.key), ['NEW_ONE']);
    const l = await s.api('GET', V);
    assert.deepEqual(
      l.body.items.map((v: { key: string; value: string | null }) => [v.key, v.value]),
      [
        ['AIRFLOW__CORE__LOAD_EXAMPLES', 'False'],
        ['API_KEY', null],
        ['NEW_ONE', 'x=y=z'],
      ],
    );
  });

  it('the secret is sealed at rest: the row holds no plain value, only a v1 envelope', async () => {
    const row = await s.app.store.variables.get((await s.api('GET', '/api/v1/deployments/etl?workspace=data-eng')).body.id, 'API_KEY');
    assert.equal(row?.value, null);
    assert.match(row!.valueSealed!, /^v1\./);
    assert.ok(!row!.valueSealed!.includes(SECRETS[0]!));
  });

  // What Airflow would choke on, and the basic rules: each refused with 400, a field and an example.
  const bad: { name: string; key: string; value: string; field: RegExp; message: RegExp }[] = [
    { name: 'empty value', key: 'X', value: '', field: /^body\.variables\.0\.value$/, message: /too small|at least|empty/i },
    { name: 'name with a dash', key: 'MY-VAR', value: 'v', field: /^body\.variables\.0\.value$/, message: /letters, digits and "_"/ },
    { name: 'name starting with a digit', key: '1X', value: 'v', field: /^body\.variables\.0\.value$/, message: /not starting with a digit/ },
    { name: 'kwargs not JSON', key: 'AIRFLOW__SECRETS__BACKEND_KWARGS', value: '{connections_prefix: x}', field: /value$/, message: /must be a JSON object/ },
    { name: 'kwargs a JSON array', key: 'AIRFLOW__SECRETS__BACKEND_KWARGS', value: '["a"]', field: /value$/, message: /must be a JSON object/ },
    { name: 'backend not a dotted path', key: 'AIRFLOW__SECRETS__BACKEND', value: 'MyBackend', field: /value$/, message: /dotted path of a Python class/ },
    { name: 'backend with a space', key: 'AIRFLOW__SECRETS__BACKEND', value: 'airflow.secrets. Foo', field: /value$/, message: /dotted path/ },
    { name: 'connection URI Airflow rejects (bad port)', key: 'AIRFLOW_CONN_PG', value: 'postgres://u:p@host:notaport/db', field: /value$/, message: /AIRFLOW_CONN_PG: Airflow rejects this connection URI/ },
    { name: 'connection JSON with an unknown field', key: 'AIRFLOW_CONN_AWS', value: '{"conn_type": "aws", "region": "x"}', field: /value$/, message: /unexpected keyword argument 'region'/ },
    { name: 'connection JSON that is not JSON', key: 'AIRFLOW_CONN_AWS', value: '{"conn_type": ', field: /value$/, message: /not valid JSON/ },
    { name: 'AIRFLOW_CONN_ without an id', key: 'AIRFLOW_CONN_', value: 'aws://', field: /./, message: /needs a connection id/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} (400, field, example; nothing written)`, async () => {
      const r = await s.api('POST', V, { variables: [{ key: c.key, value: c.value }] });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.ok(['ERR_VALIDATION'].includes(r.body.error.code));
      assert.match(r.body.error.message, c.message);
      assert.match(r.body.error.field, c.field);
      if (c.value.length > 3) assert.ok(!JSON.stringify(r.body).includes(c.value), 'the error never quotes the value');
      const l = await s.api('GET', V);
      assert.ok(!l.body.items.some((v: { key: string }) => v.key === c.key));
    });
  }

  it('accepts what Airflow accepts: kwargs object, a dotted backend, connection URI and JSON', async () => {
    const r = await s.api('POST', V, {
      variables: [
        { key: 'AIRFLOW__SECRETS__BACKEND', value: 'airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend' },
        { key: 'AIRFLOW__SECRETS__BACKEND_KWARGS', value: `{"connections_prefix": "airflow-connections", "variables_prefix": "airflow-variables", "project_id": "${SECRETS[3]}"}`, secret: true },
        { key: 'AIRFLOW_CONN_PG', value: `postgres://etl:${SECRETS[2]}@db.internal:5432/lake?sslmode=require`, secret: true },
        { key: 'AIRFLOW_CONN_AWS_DEFAULT', value: '{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/etl", "region_name": "us-east-1"}}' },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.created.length, 4);
  });

  it('a key given twice in one request is refused', async () => {
    const r = await s.api('POST', V, { variables: [{ key: 'DUP', value: 'a' }, { key: 'DUP', value: 'b' }] });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'body.variables.1.key');
  });

  it('update: bumps the version; with a stale version it is ERR_CONFLICT naming the current one', async () => {
    const u = await s.api('PATCH', one('NEW_ONE'), { value: 'second', version: 1 });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.equal(u.body.version, 2);
    assert.equal(u.body.value, 'second');
    const stale = await s.api('PATCH', one('NEW_ONE'), { value: 'third', version: 1 });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'ERR_CONFLICT');
    assert.equal(stale.body.error.field, 'body.version');
    assert.match(stale.body.error.message, /at version 2, not 1/);
    assert.deepEqual(stale.body.error.details, { key: 'NEW_ONE', expectedVersion: 1, currentVersion: 2 });
    const l = await s.api('GET', V);
    assert.equal(l.body.items.find((v: { key: string }) => v.key === 'NEW_ONE').value, 'second', 'the stale write changed nothing');
    const missing = await s.api('PATCH', one('NOPE'), { value: 'x' });
    assert.equal(missing.status, 404);
  });

  it('a secret is never turned back into a plain value; a plain one can become secret', async () => {
    const r = await s.api('PATCH', one('API_KEY'), { value: 'visible', secret: false });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'ERR_RULE_VIOLATION');
    assert.equal(r.body.error.field, 'body.secret');
    // Updating a secret without saying secret keeps it secret.
    const keep = await s.api('PATCH', one('API_KEY'), { value: SECRETS[1] });
    assert.equal(keep.status, 200);
    assert.equal(keep.body.secret, true);
    assert.equal(keep.body.value, null);
    const up = await s.api('PATCH', one('NEW_ONE'), { value: 'now-secret', secret: true });
    assert.equal(up.body.secret, true);
    assert.equal(up.body.value, null);
  });

  it('delete: with a stale ?version= it is ERR_CONFLICT; then it goes; again is 404', async () => {
    const stale = await s.api('DELETE', one('NEW_ONE', '&version=1'));
    assert.equal(stale.status, 409);
    assert.equal((await s.api('DELETE', one('NEW_ONE'))).status, 204);
    assert.equal((await s.api('DELETE', one('NEW_ONE'))).status, 404);
  });

  it('the workload path opens secrets (and only it): forWorkload returns the values', async () => {
    const id = (await s.api('GET', '/api/v1/deployments/etl?workspace=data-eng')).body.id;
    const vars = await s.app.variables.forWorkload(id);
    assert.equal(vars.find((v) => v.key === 'API_KEY')?.value, SECRETS[1]);
    assert.ok(vars.find((v) => v.key === 'AIRFLOW_CONN_PG')?.value.includes(SECRETS[2]!));
  });

  it('the secret scan: no secret value in any response, audit record or error above', async () => {
    const audit = await s.api('GET', '/api/v1/audit?limit=500');
    assert.equal(audit.status, 200);
    const text = JSON.stringify(audit.body);
    assert.ok(audit.body.items.some((e: { action: string }) => e.action === 'variable.create'));
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `audit log holds ${secret}`);
    // Plain values are recorded; the variable names too.
    assert.ok(text.includes('AIRFLOW__CORE__LOAD_EXAMPLES'));
    const list = JSON.stringify((await s.api('GET', V)).body);
    for (const secret of SECRETS) assert.ok(!list.includes(secret));
    assert.ok(logLines.length > 0, 'the server logged');
    const logs = logLines.join('\n');
    for (const secret of SECRETS) assert.ok(!logs.includes(secret), `a log line holds ${secret}`);
  });
});

describe('deployment variables: who may read and write', () => {
  let s: TestServer;
  const as = (token: string) => (method: string, path: string, body?: unknown) => s.api(method, path, body, { auth: false, headers: { authorization: `Bearer ${token}` } });
  const mint = async (body: Record<string, unknown>) => {
    const r = await s.api('POST', '/api/v1/tokens', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.token as string;
  };
  before(async () => {
    s = await startServer();
    await seed(s);
    assert.equal((await s.api('POST', V, { variables: [{ key: 'PLAIN', value: 'visible' }, { key: 'TOKEN', value: SECRETS[0], secret: true }] })).status, 201);
  });
  after(() => s.close());

  it('issue 8: a workspace viewer reads names and plain values, never the secret, and cannot write', async () => {
    const viewer = as(await mint({ name: 'viewer', role: 'workspace-viewer', workspace: 'data-eng' }));
    const l = await viewer('GET', '/api/v1/deployments/etl/variables');
    assert.equal(l.status, 200);
    assert.deepEqual(l.body.items.map((v: { key: string; value: string | null }) => [v.key, v.value]), [['PLAIN', 'visible'], ['TOKEN', null]]);
    assert.ok(!JSON.stringify(l.body).includes(SECRETS[0]!));
    assert.equal((await viewer('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'X', value: 'y' }] })).status, 403);
    assert.equal((await viewer('PATCH', '/api/v1/deployments/etl/variables/TOKEN', { value: 'y', secret: false })).status, 403);
    // The workload endpoint is not reachable with an API token.
    const w = await viewer('GET', '/api/v1/workload/environment');
    assert.ok(w.status === 401 || w.status === 404, `${w.status}`);
    assert.ok(!JSON.stringify(w.body).includes(SECRETS[0]!));
  });

  it("issue 8: a deployment-admin of another Deployment cannot see this one's variables (404) and never the secret", async () => {
    const other = as(await mint({ name: 'reports-bot', role: 'deployment-admin', workspace: 'data-eng', deployment: 'reports' }));
    for (const [m, p, b] of [
      ['GET', '/api/v1/deployments/etl/variables', undefined],
      ['POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'X', value: 'y' }] }],
      ['PATCH', '/api/v1/deployments/etl/variables/TOKEN', { value: 'y' }],
      ['DELETE', '/api/v1/deployments/etl/variables/TOKEN', undefined],
    ] as const) {
      const r = await other(m, p, b);
      assert.equal(r.status, 404, `${m} ${p}: ${JSON.stringify(r.body)}`);
      assert.ok(!JSON.stringify(r.body).includes(SECRETS[0]!));
    }
    // Its own Deployment it manages.
    const mine = await other('POST', '/api/v1/deployments/reports/variables', { variables: [{ key: 'MINE', value: 'ok' }] });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
  });

  it("a deployment-admin of this Deployment manages its variables but still never reads the secret's value", async () => {
    const admin = as(await mint({ name: 'etl-bot', role: 'deployment-admin', workspace: 'data-eng', deployment: 'etl' }));
    const l = await admin('GET', '/api/v1/deployments/etl/variables');
    assert.equal(l.status, 200);
    assert.ok(!JSON.stringify(l.body).includes(SECRETS[0]!));
    assert.equal((await admin('PATCH', '/api/v1/deployments/etl/variables/PLAIN', { value: 'changed' })).status, 200);
  });
});

for (const kind of ['embedded', 'postgres'] as const) {
  describe(`deployment variables: two clients at once (${kind} store)`, () => {
    let s: TestServer;
    let pg: TestPostgres | undefined;
    before(async () => {
      if (kind === 'postgres') pg = await startPostgres();
      s = await startServer(pg ? { flags: { databaseUrl: pg.url } } : {});
      await seed(s);
    });
    after(async () => {
      await s?.close();
      await pg?.stop();
    });

    it('two clients adding different variables at the same time: every one of them survives', async () => {
      const batch = (who: string) => Array.from({ length: 10 }, (_, i) => ({ key: `${who}_${i}`, value: `${who}-${i}` }));
      // Each client sends its variables one request at a time, interleaved with the other's.
      const client = async (who: string) => {
        for (const v of batch(who)) {
          const r = await s.api('POST', V, { variables: [v] });
          assert.equal(r.status, 201, JSON.stringify(r.body));
        }
      };
      await Promise.all([client('A'), client('B'), s.api('POST', V, { variables: batch('C') }), s.api('POST', V, { variables: batch('D') })]);
      const keys = (await s.api('GET', V)).body.items.map((v: { key: string }) => v.key);
      assert.equal(keys.length, 40, keys.join(','));
    });

    it('two clients updating the same variable from the same version: one wins, the other gets ERR_CONFLICT', async () => {
      const [x, y] = await Promise.all([s.api('PATCH', one('A_0'), { value: 'from-x', version: 1 }), s.api('PATCH', one('A_0'), { value: 'from-y', version: 1 })]);
      assert.deepEqual([x.status, y.status].sort(), [200, 409], `${JSON.stringify(x.body)} ${JSON.stringify(y.body)}`);
      const winner = x.status === 200 ? 'from-x' : 'from-y';
      const now = (await s.api('GET', V)).body.items.find((v: { key: string }) => v.key === 'A_0');
      assert.equal(now.value, winner);
      assert.equal(now.version, 2);
    });

    it('without a version, concurrent updates of different keys both land', async () => {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => s.api('PATCH', one(`B_${i}`), { value: `changed-${i}` })));
      assert.deepEqual(rs.map((r) => r.status), Array(10).fill(200));
      const items = (await s.api('GET', V)).body.items as { key: string; value: string }[];
      for (let i = 0; i < 10; i++) assert.equal(items.find((v) => v.key === `B_${i}`)?.value, `changed-${i}`);
    });
  });
}
