import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

const EM_PASSWORD = 'em-Password-4411';
const VAR_SECRET = 'var-Secret-Pass-5522';
const MD_PASSWORD = 'md-Password-6633';

/**
 * The worked example of docs/connections.md: one conn_id defined in all four places, resolved
 * through the API and `airlock connection resolve` (the real binary), then peeled off source by
 * source; a viewer sees the same answer without any secret.
 */
describe('airlock connection resolve', () => {
  let s: TestServer;
  let env: Record<string, string>;
  const seen: string[] = [];
  const cli = async (args: string[], e = env) => {
    const r = await airlock(args, e);
    seen.push(r.stdout, r.stderr);
    return r;
  };
  const api = async (m: string, p: string, b?: unknown) => {
    const r = await s.api(m, p, b);
    assert.ok(r.status < 300, `${m} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    seen.push(JSON.stringify(r.body));
    return r.body;
  };
  before(async () => {
    s = await startServer();
    env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    await api('POST', '/api/v1/clusters', { name: 'prod-gcp', cloud: 'gcp', region: 'us-central1', defaultIdentityProject: 'airlock-platform', defaultIdentityProjectNumber: '730146219987' });
    await api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-gcp', runtimeVersion: '12.1.0' });
    // 1. secrets backend, as the seeds set it up
    await api('POST', '/api/v1/deployments/etl/variables', {
      variables: [
        { key: 'AIRFLOW__SECRETS__BACKEND', value: 'airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend' },
        { key: 'AIRFLOW__SECRETS__BACKEND_KWARGS', value: '{"connections_prefix": "airflow-connections", "variables_prefix": "airflow-variables", "project_id": "secrets-prj", "impersonation_chain": "sb@secrets-prj.iam.gserviceaccount.com"}' },
        // 3. environment variable (secret)
        { key: 'AIRFLOW_CONN_WAREHOUSE', value: `postgres://etl:${VAR_SECRET}@env-db.internal:5432/analytics`, secret: true },
      ],
    });
    // 2. Environment Manager
    await api('POST', '/api/v1/connections', { connId: 'warehouse', connType: 'postgres', host: 'em-db.internal', login: 'etl', password: EM_PASSWORD, port: 5432, schema: 'analytics' });
    await api('POST', '/api/v1/connections/warehouse/link', { deployment: 'etl' });
    // 4. metadata database
    await api('POST', '/api/v1/connections/import', { deployment: 'etl', format: 'json', content: JSON.stringify({ warehouse: { conn_type: 'postgres', host: 'em-db.internal', login: 'etl', password: MD_PASSWORD, port: 5432, schema: 'analytics' } }) });
  });
  after(() => s.close());

  it('all four: the backend is consulted first (with its kwargs and the secret it is asked for); the Environment Manager wins over what Airlock sees; the rest are shadowed with what differs', async () => {
    const r = await api('GET', '/api/v1/connections/warehouse/resolve?deployment=etl');
    assert.equal(r.winner, 'environment-manager');
    assert.equal(r.secretsBackendConsultedFirst, true);
    assert.deepEqual(
      r.steps.map((x: { source: string; status: string }) => [x.source, x.status]),
      [
        ['secrets-backend', 'consulted-first'],
        ['environment-manager', 'winner'],
        ['environment-variable', 'shadowed'],
        ['metadata-database', 'shadowed'],
      ],
    );
    assert.equal(r.steps[0].secretsBackend.lookup, 'airflow-connections-warehouse');
    assert.equal(r.steps[0].secretsBackend.kwargs.project_id, 'secrets-prj');
    assert.deepEqual(r.steps[2].differsFrom, ['host', 'password']);
    assert.deepEqual(r.steps[2].definition, { passwordSet: true, withheld: true });
    assert.deepEqual(r.steps[3].differsFrom, ['password']);
    assert.equal(r.warnings.length, 3);

    const t = await cli(['connection', 'resolve', 'warehouse', '--deployment', 'etl']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^warehouse in Deployment etl: Airflow's lookup order, the first match wins$/m);
    assert.match(t.stdout, /^ {2}1\. secrets backend +CONSULTED FIRST +\(.*CloudSecretManagerBackend is asked first \(for the secret airflow-connections-warehouse\)/m);
    assert.match(t.stdout, /^ {2}2\. Environment Manager +WINNER/m);
    assert.match(t.stdout, /conn_type=postgres host=em-db\.internal login=etl schema=analytics port=5432 password=\*{8}/);
    assert.match(t.stdout, /^ {2}3\. environment variable +shadowed +\(AIRFLOW_CONN_WAREHOUSE \(secret\)\)\n {7}definition: \(secret variable, withheld\)\n {7}differs from the winner in: host, password$/m);
    assert.match(t.stdout, /^Used: Environment Manager, unless the secrets backend holds it$/m);
    assert.match(t.stdout, /^warning: the environment variable definition differs from the Environment Manager one \(host, password\) and is never used: the first match wins$/m);
  });

  it('peeling sources off: the next one in the order wins each time', async () => {
    const winners: (string | null)[] = [];
    const step = async () => winners.push((await api('GET', '/api/v1/connections/warehouse/resolve?deployment=etl')).winner);
    await api('DELETE', '/api/v1/deployments/etl/variables/AIRFLOW__SECRETS__BACKEND');
    await step();
    await api('POST', '/api/v1/connections/warehouse/unlink', { deployment: 'etl' });
    await step();
    await api('DELETE', '/api/v1/deployments/etl/variables/AIRFLOW_CONN_WAREHOUSE');
    await step();
    await api('DELETE', '/api/v1/deployments/etl/metastore-connections/warehouse');
    await step();
    assert.deepEqual(winners, ['environment-manager', 'environment-variable', 'metadata-database', null]);
    const j = JSON.parse((await cli(['connection', 'resolve', 'warehouse', '-d', 'etl', '-o', 'json'])).stdout);
    assert.equal(j.winner, null);
    assert.ok(j.steps.slice(1).every((x: { status: string }) => x.status === 'not-defined'));
  });

  it('a viewer may resolve; a bad conn_id and an unknown Deployment are 4xx with a field', async () => {
    const viewer = (await api('POST', '/api/v1/tokens', { name: 'v', role: 'workspace-viewer', workspace: 'default' })).token as string;
    const r = await cli(['connection', 'resolve', 'warehouse', '-d', 'etl', '-o', 'json'], { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: viewer });
    assert.equal(r.code, 0, r.stderr);
    const bad = await s.api('GET', '/api/v1/connections/has%20space/resolve?deployment=etl');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'params.connection');
    const missing = await s.api('GET', '/api/v1/connections/warehouse/resolve?deployment=nope');
    assert.equal(missing.status, 404);
  });

  it('the secret scan: no password or secret value in any response or output above', () => {
    const all = seen.join('\n');
    for (const secret of [EM_PASSWORD, VAR_SECRET, MD_PASSWORD]) assert.ok(!all.includes(secret), `${secret} leaked`);
  });
});
