import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent } from '../../src/delivery/agent/agent.ts';
import { childEnvironment } from '../../src/delivery/agent/exec.ts';
import { joinCredential } from '../../src/delivery/client.ts';
import { applyEnvironment, CONNECTIONS_FILE, LOCAL_FILESYSTEM_BACKEND, type WorkloadEnvironmentDoc } from '../../src/delivery/deployment-environment.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createManualScheduler } from '../../src/lib/scheduler.ts';
import { startServer, type TestServer } from '../helpers/app.ts';

const AWS_FIELDS = { conn_type: 'aws', host: null, login: null, password: null, schema: null, port: null, extra: { role_arn: 'arn:aws:iam::123456789012:role/etl', region_name: 'us-east-1' } };

describe('applying a Deployment environment to a workload', () => {
  const doc = (o: Partial<WorkloadEnvironmentDoc> = {}): WorkloadEnvironmentDoc => ({ deployment: { id: 'dep_x', name: 'etl' }, digest: 'd', variables: [], connections: [], ...o });
  const cases: { name: string; doc: WorkloadEnvironmentDoc; outer?: NodeJS.ProcessEnv; env: Record<string, string | undefined>; files: string[]; shadowed?: string[] }[] = [
    { name: 'variables only: set as they are, no file, no backend', doc: doc({ variables: [{ key: 'A', value: '1', secret: false }, { key: 'S', value: 's', secret: true }] }), env: { A: '1', S: 's', AIRFLOW__SECRETS__BACKEND: undefined }, files: [] },
    {
      name: 'a linked connection: AIRFLOW_CONN_<ID> as a URI, the file, and the LocalFilesystemBackend pointed at it',
      doc: doc({ connections: [{ connId: 'aws_default', fields: AWS_FIELDS }] }),
      env: {
        AIRFLOW_CONN_AWS_DEFAULT: 'aws:///?role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fetl&region_name=us-east-1',
        AIRFLOW__SECRETS__BACKEND: LOCAL_FILESYSTEM_BACKEND,
        AIRFLOW__SECRETS__BACKEND_KWARGS: JSON.stringify({ connections_file_path: join('/d', CONNECTIONS_FILE) }),
        AIRLOCK_CONNECTIONS_FILE: join('/d', CONNECTIONS_FILE),
      },
      files: [join('/d', CONNECTIONS_FILE)],
    },
    {
      name: 'the Environment Manager ranks above environment variables: the linked connection replaces the variable of the same id',
      doc: doc({ variables: [{ key: 'AIRFLOW_CONN_AWS_DEFAULT', value: 'aws://other', secret: false }], connections: [{ connId: 'aws_default', fields: AWS_FIELDS }] }),
      env: { AIRFLOW_CONN_AWS_DEFAULT: 'aws:///?role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fetl&region_name=us-east-1' },
      files: [join('/d', CONNECTIONS_FILE)],
      shadowed: ['AIRFLOW_CONN_AWS_DEFAULT'],
    },
    {
      name: "the Deployment's own secrets backend stays: the file is written, the backend is not replaced",
      doc: doc({ variables: [{ key: 'AIRFLOW__SECRETS__BACKEND', value: 'airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend', secret: false }], connections: [{ connId: 'aws_default', fields: AWS_FIELDS }] }),
      env: { AIRFLOW__SECRETS__BACKEND: 'airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend', AIRFLOW__SECRETS__BACKEND_KWARGS: undefined },
      files: [join('/d', CONNECTIONS_FILE)],
    },
    {
      name: "a secrets backend in the caller's own environment stays too",
      doc: doc({ connections: [{ connId: 'aws_default', fields: AWS_FIELDS }] }),
      outer: { AIRFLOW__SECRETS__BACKEND: 'my.Backend' },
      env: { AIRFLOW__SECRETS__BACKEND: undefined, AIRFLOW__SECRETS__BACKEND_KWARGS: undefined },
      files: [join('/d', CONNECTIONS_FILE)],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = applyEnvironment(c.doc, '/d', c.outer ?? {});
      for (const [k, v] of Object.entries(c.env)) assert.equal(r.env[k], v, k);
      assert.deepEqual(r.files.map((f) => f.path), c.files);
      assert.deepEqual(r.shadowedVariables, c.shadowed ?? []);
    });
  }

  it('in the child: the caller wins over everything, the identity over a Deployment variable', () => {
    const plan = { env: { AWS_ROLE_ARN: 'arn:aws:iam::1:role/identity' }, unset: [], tokens: [], files: [] };
    const r = childEnvironment({ MINE: 'caller' }, plan, { deploymentEnv: { MINE: 'deployment', AWS_ROLE_ARN: 'arn:aws:iam::1:role/variable', OTHER: 'x' } });
    assert.deepEqual([r.env.MINE, r.env.AWS_ROLE_ARN, r.env.OTHER], ['caller', 'arn:aws:iam::1:role/identity', 'x']);
    assert.deepEqual(r.kept, ['MINE']);
  });
});

describe("the workload environment endpoint and the agent's refresh", () => {
  let s: TestServer;
  let dir: string;
  let credential: string;
  const SECRET = 'workload-only-Secret-991';
  before(async () => {
    s = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'airlock-agent-env-'));
    assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/etl' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'other', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/other' })).status, 201);
    credential = (await s.api('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' })).body.secret;
    assert.equal((await s.api('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'PLAIN', value: 'p' }, { key: 'TOKEN', value: SECRET, secret: true }] })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments/other/variables', { variables: [{ key: 'OTHERS', value: 'not-yours' }] })).status, 201);
  });
  after(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers the Deployment's own workload with its variables, secrets included; refuses an API token and no credential", async () => {
    const r = await s.api('GET', '/api/v1/workload/environment', undefined, { auth: false, headers: { authorization: `Bearer ${credential}` } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.body.deployment.name, 'etl');
    assert.deepEqual(r.body.variables, [
      { key: 'PLAIN', value: 'p', secret: false },
      { key: 'TOKEN', value: SECRET, secret: true },
    ]);
    assert.match(r.body.digest, /^[0-9a-f]{32}$/);
    const admin = await s.api('GET', '/api/v1/workload/environment');
    assert.equal(admin.status, 401, JSON.stringify(admin.body));
    assert.ok(!JSON.stringify(admin.body).includes(SECRET));
    assert.equal((await s.api('GET', '/api/v1/workload/environment', undefined, { auth: false })).status, 401);
  });

  it('the agent writes the variables into its env file and rewrites it when they change', async () => {
    const scheduler = createManualScheduler(createManualClock(Date.now()));
    const controller = new AbortController();
    const agent = await startAgent({
      serverUrl: s.url,
      attestation: joinCredential(credential),
      dir,
      clock: scheduler.clock,
      scheduler,
      logger: createLogger('silent'),
      signal: controller.signal,
      environmentRefreshMs: 1000,
    });
    try {
      const env1 = await readFile(join(dir, 'env'), 'utf8');
      assert.match(env1, /^export PLAIN='p'$/m);
      assert.match(env1, new RegExp(`^export TOKEN='${SECRET}'$`, 'm'));
      assert.match(env1, /^export AWS_ROLE_ARN='arn:aws:iam::123456789012:role\/etl'$/m);
      assert.doesNotMatch(env1, /OTHERS/);
      assert.equal((await stat(join(dir, 'env'))).mode & 0o777, 0o600);
      // Unchanged: nothing rewritten.
      await scheduler.advance(1000);
      assert.equal(await readFile(join(dir, 'env'), 'utf8'), env1);
      assert.equal((await s.api('PATCH', '/api/v1/deployments/etl/variables/PLAIN', { value: 'changed' })).status, 200);
      assert.equal((await s.api('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'ADDED', value: 'new' }] })).status, 201);
      await scheduler.advance(1000);
      const env2 = await readFile(join(dir, 'env'), 'utf8');
      assert.match(env2, /^export PLAIN='changed'$/m);
      assert.match(env2, /^export ADDED='new'$/m);
      assert.equal(agent.session.env().ADDED, 'new');
      // Linking an Environment Manager connection reaches the running agent too: the file, the
      // backend pointed at it, and AIRFLOW_CONN_<ID>; the password only here, never to people.
      assert.equal((await s.api('POST', '/api/v1/connections', { connId: 'warehouse', connType: 'postgres', host: 'db.internal', login: 'etl', password: SECRET, port: 5432 })).status, 201);
      assert.equal((await s.api('POST', '/api/v1/connections/warehouse/link', { deployment: 'etl' })).status, 200);
      await scheduler.advance(1000);
      const file = JSON.parse(await readFile(join(dir, CONNECTIONS_FILE), 'utf8'));
      assert.deepEqual(file, { warehouse: { conn_type: 'postgres', host: 'db.internal', login: 'etl', password: SECRET, port: 5432 } });
      assert.equal((await stat(join(dir, CONNECTIONS_FILE))).mode & 0o777, 0o600);
      const env3 = await readFile(join(dir, 'env'), 'utf8');
      assert.match(env3, new RegExp(`^export AIRFLOW_CONN_WAREHOUSE='postgres://etl:${SECRET}@db.internal:5432'$`, 'm'));
      assert.match(env3, new RegExp(`^export AIRFLOW__SECRETS__BACKEND='${LOCAL_FILESYSTEM_BACKEND.replace(/\./g, '\\.')}'$`, 'm'));
      const people = await s.api('GET', '/api/v1/deployments/etl/env?format=airflow-connections-json');
      assert.deepEqual(JSON.parse(people.body.content), { warehouse: { conn_type: 'postgres', host: 'db.internal', login: 'etl', port: 5432 } });
      assert.deepEqual(people.body.withheld, ['warehouse.password']);
    } finally {
      controller.abort();
      await agent.done;
    }
  });
});
