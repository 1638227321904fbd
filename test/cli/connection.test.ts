import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock, type CliResult } from '../helpers/cli.ts';
import { matchGoldenJson } from '../helpers/golden.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'connections');
const PASSWORD = 'cli-Pw$3cret!';
/** Every password the export fixtures carry, as written and as Airflow's URIs encode them. */
const EXPORT_PASSWORDS = ['Exp0rt-p@ss/w:rd', 'Exp0rt-http-s3cret', 'Exp0rt-yaml-pw', 'Exp0rt-env-p@ss', 'Exp0rt-env-p%40ss'];
const guid = (n: number) => `${String(n).repeat(8)}-1111-2222-3333-444444444444`;

/** The connection commands through the real binary against a real server. */
describe('airlock connection (Environment Manager) CLI', () => {
  let s: TestServer;
  let env: Record<string, string>;
  const outputs: CliResult[] = [];
  const run = async (args: string[]) => {
    const r = await airlock(args, env);
    outputs.push(r);
    return r;
  };
  const namespaces = new Map<string, string>();

  before(async () => {
    s = await startServer();
    env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const ok = async (path: string, body: unknown) => {
      const r = await s.api(path.startsWith('/api/v1/identities') ? 'PUT' : 'POST', path, body);
      assert.ok(r.status < 300, `${path}: ${JSON.stringify(r.body)}`);
      return r.body as { name?: string; namespace?: string };
    };
    await ok('/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1', defaultIdentityAccount: '210987654321' });
    await ok('/api/v1/clusters', { name: 'prod-gcp', cloud: 'gcp', region: 'us-central1', defaultIdentityProject: 'airlock-platform', defaultIdentityProjectNumber: '111111111111' });
    await ok('/api/v1/clusters', { name: 'prod-azure', cloud: 'azure', region: 'eastus' });
    await ok('/api/v1/identities', { name: 'lake-sa', gcpServiceAccount: 'lake-reader@my-proj.iam.gserviceaccount.com', gcpProjectNumber: '222222222222' });
    await ok('/api/v1/identities', { name: 'blob-mi', azure: { managedIdentityName: 'blob-mi', resourceGroup: 'data-rg', subscriptionId: guid(1), clientId: guid(2), tenantId: guid(3) } });
    await ok('/api/v1/identities', { name: 'etl-reader', awsRoleArn: 'arn:aws:iam::123456789012:role/etl-reader' });
    const deployments: [string, string, string | undefined][] = [
      ['aws-cust', 'prod-aws', 'arn:aws:iam::123456789012:role/etl-reader'],
      ['aws-def', 'prod-aws', undefined],
      ['gcp-attach', 'prod-gcp', 'lake-sa'],
      ['gcp-imp', 'prod-gcp', undefined],
      ['gcp-grant', 'prod-gcp', undefined],
      ['az-mi', 'prod-azure', 'blob-mi'],
    ];
    for (const [name, cluster, wi] of deployments) {
      const d = await ok('/api/v1/deployments', { name, cluster, runtimeVersion: '12.1.0', ...(wi ? { workloadIdentity: wi } : {}) });
      namespaces.set(d.namespace!, `<namespace of ${name}>`);
    }
  });
  after(() => s.close());

  /** Namespaces are random per Deployment: goldens carry a stand-in. */
  const stable = (v: unknown): unknown => {
    let text = JSON.stringify(v);
    for (const [ns, label] of namespaces) text = text.split(ns).join(label);
    return JSON.parse(text.split(s.url).join('<airlock>'));
  };

  // Each case: the user's command, the golden file holding exactly the connection it creates, and
  // the `deployment identity setup` query that must print the same connection (Deployments only).
  const cases: { name: string; args: string[]; setup?: string }[] = [
    { name: 'aws-customer-role', args: ['aws_cust', '--type', 'aws', '--from-identity', 'aws-cust'], setup: '/api/v1/deployments/aws-cust/identity/setup' },
    { name: 'aws-default-identity', args: ['aws_def', '--type', 'aws', '--from-identity', 'aws-def', '--role-arn', 'arn:aws:iam::123456789012:role/lake-writer'], setup: '/api/v1/deployments/aws-def/identity/setup?targetRoleArn=arn:aws:iam::123456789012:role/lake-writer' },
    { name: 'aws-saved-identity', args: ['aws_saved', '--from-identity', 'identity:etl-reader', '--region', 'eu-west-1'] },
    { name: 'gcp-attach', args: ['gcp_attach', '--type', 'google_cloud_platform', '--from-identity', 'gcp-attach'], setup: '/api/v1/deployments/gcp-attach/identity/setup' },
    {
      name: 'gcp-impersonation',
      args: ['gcp_imp', '--type', 'google_cloud_platform', '--from-identity', 'gcp-imp', '--impersonation-chain', 'lake-reader@my-proj.iam.gserviceaccount.com'],
      setup: '/api/v1/deployments/gcp-imp/identity/setup?gcpRoute=impersonation&targetServiceAccount=lake-reader@my-proj.iam.gserviceaccount.com',
    },
    { name: 'gcp-direct-grant', args: ['gcp_grant', '--from-identity', 'deployment:gcp-grant', '--project-id', 'analytics-prod'], setup: '/api/v1/deployments/gcp-grant/identity/setup?gcpRoute=direct-grant&project=analytics-prod' },
    { name: 'azure-managed-identity', args: ['azure_mi', '--type', 'azure', '--from-identity', 'az-mi'], setup: '/api/v1/deployments/az-mi/identity/setup' },
  ];
  for (const c of cases) {
    it(`--from-identity: ${c.name} carries exactly the provider's extras (golden)${c.setup ? ', as identity setup prints them' : ''}`, async () => {
      const r = await run(['connection', 'create', ...c.args, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const conn = JSON.parse(r.stdout) as { connType: string; extra: Record<string, unknown>; derivation: string };
      matchGoldenJson(join(FIXTURES, 'from-identity', `${c.name}.json`), stable({ command: ['airlock', 'connection', 'create', ...c.args], conn_type: conn.connType, extra: conn.extra }));
      if (c.setup) {
        const setup = await s.api('GET', c.setup);
        assert.equal(setup.status, 200, JSON.stringify(setup.body));
        assert.deepEqual({ conn_type: conn.connType, extra: conn.extra }, setup.body.connection);
      }
    });
  }

  it('--from-identity refuses what it cannot know, naming the flag that gives it', async () => {
    const noTarget = await run(['connection', 'create', 'x1', '--from-identity', 'aws-def']);
    assert.equal(noTarget.code, 1);
    assert.match(noTarget.stderr, /ERR_VALIDATION/);
    assert.match(noTarget.stderr, /field: body\.aws\.roleArn/);
    const wrongType = await run(['connection', 'create', 'x2', '--type', 'google_cloud_platform', '--from-identity', 'aws-cust']);
    assert.match(wrongType.stderr, /calls for a aws connection/);
    const chainOnCustomer = await run(['connection', 'create', 'x3', '--from-identity', 'aws-cust', '--role-arn', 'arn:aws:iam::123456789012:role/other']);
    assert.match(chainOnCustomer.stderr, /field: body\.aws\.roleArn/);
  });

  it('create / list / get / update: the password is written once and shown only masked', async () => {
    const c = await run(['connection', 'create', 'warehouse', '--type', 'postgres', '--host', 'db.example.com', '--login', 'etl', '--password', PASSWORD, '--port', '5432', '--extra', '{"sslmode": "require"}']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /password: "\*{8}"/);
    const list = await run(['connection', 'list']);
    assert.match(list.stdout, /^CONN_ID\s+TYPE\s+HOST\s+LOGIN\s+PASSWORD\s+PORT\s+LINKED TO\s+VERSION/);
    assert.match(list.stdout, /warehouse\s+postgres\s+db\.example\.com\s+etl\s+\*{8}\s+5432\s+-\s+1/);
    const json = JSON.parse((await run(['connection', 'get', 'warehouse', '-o', 'json'])).stdout);
    assert.equal(json.passwordSet, true);
    assert.equal('password' in json, false);
    const yaml = await run(['connection', 'get', 'warehouse', '-o', 'yaml']);
    assert.match(yaml.stdout, /passwordSet: true/);
    const u = await run(['connection', 'update', 'warehouse', '--host', 'db2.example.com', '--if-version', '1', '-o', 'json']);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(JSON.parse(u.stdout).version, 2);
    const stale = await run(['connection', 'update', 'warehouse', '--host', 'lost', '--if-version', '1']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /ERR_CONFLICT/);
    const bad = await run(['connection', 'create', 'bad id', '--type', 'postgres']);
    assert.match(bad.stderr, /ERR_VALIDATION[\s\S]*field: body\.connId/);
    const badExtra = await run(['connection', 'create', 'y', '--type', 'postgres', '--extra', '[1]']);
    assert.equal(badExtra.code, 2);
    assert.match(badExtra.stderr, /field: --extra/);
  });

  it('link to a Deployment with overrides, to all, unlink, delete', async () => {
    const l = await run(['connection', 'link', 'warehouse', '--deployment', 'aws-cust', '--overrides', '{"host": "replica.example.com"}', '-o', 'json']);
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(JSON.parse(l.stdout).deployments.map((d: { name: string; overrides: unknown }) => [d.name, d.overrides]), [['aws-cust', { host: 'replica.example.com' }]]);
    const all = await run(['connection', 'link', 'warehouse', '--all-deployments']);
    assert.equal(all.code, 0, all.stderr);
    assert.match((await run(['connection', 'list'])).stdout, /warehouse\s.*\(all\),aws-cust/);
    const both = await run(['connection', 'link', 'warehouse', '--all-deployments', '--deployment', 'aws-cust']);
    assert.equal(both.code, 2);
    assert.equal((await run(['connection', 'unlink', 'warehouse', '--all-deployments'])).code, 0);
    assert.equal((await run(['connection', 'unlink', 'warehouse', '--deployment', 'aws-cust'])).code, 0);
    const d = await run(['connection', 'delete', 'warehouse']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /deleted connection warehouse/);
    assert.match((await run(['connection', 'get', 'warehouse'])).stderr, /ERR_NOT_FOUND/);
  });

  it('imports real `airflow connections export` files: Airflow 2 JSON, Airflow 3 JSON, YAML, env', async () => {
    const imp = async (file: string, extra: string[] = []) => {
      const r = await run(['connection', 'import', join(FIXTURES, 'export', file), '--deployment', 'aws-def', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.match(await imp('airflow2-export.json'), /2 created \(my_postgres, aws_legacy\), 0 replaced/);
    assert.match(await imp('airflow3-export.json'), /1 created \(http_api\)/);
    assert.match(await imp('airflow-export.yaml'), /1 created \(gcp_reader\), 1 replaced \(my_postgres\)/);
    assert.match(await imp('airflow-export.env'), /2 created \(aws_default, json_style\), 1 replaced \(my_postgres\)/);
    const listed = JSON.parse((await run(['connection', 'imported', 'aws-def', '-o', 'json'])).stdout) as Record<string, unknown>[];
    const byId = Object.fromEntries(listed.map((m) => [m.connId, m]));
    assert.deepEqual(Object.keys(byId).sort(), ['aws_default', 'aws_legacy', 'gcp_reader', 'http_api', 'json_style', 'my_postgres']);
    assert.deepEqual(
      (({ connType, host, login, passwordSet, port, schema, extra, source }) => ({ connType, host, login, passwordSet, port, schema, extra, source }))(byId.my_postgres as never),
      { connType: 'postgres', host: 'db.example.com', login: 'etl', passwordSet: true, port: 5432, schema: 'analytics', extra: { sslmode: 'require' }, source: 'airflow-export.env' },
    );
    assert.deepEqual((byId.aws_default as { extra: unknown }).extra, { region_name: 'us-east-1', role_arn: 'arn:aws:iam::123456789012:role/etl' });
    assert.deepEqual((byId.aws_legacy as { extra: unknown }).extra, { region_name: 'us-east-1', role_arn: 'arn:aws:iam::123456789012:role/legacy' });
    assert.deepEqual((byId.http_api as { extra: unknown; description: unknown }).extra, { headers: { 'X-Env': 'prod' } });
    assert.deepEqual((byId.gcp_reader as { extra: unknown }).extra, { project: 'my-proj', impersonation_chain: 'lake-reader@my-proj.iam.gserviceaccount.com' });
    assert.equal((byId.json_style as { connType: unknown }).connType, 'azure');
    const table = await run(['connection', 'imported', 'aws-def']);
    assert.match(table.stdout, /my_postgres\s+postgres\s+db\.example\.com\s+etl\s+\*{8}\s+5432/);
    const noFormat = await run(['connection', 'import', '/tmp/connections.txt', '--deployment', 'aws-def']);
    assert.equal(noFormat.code, 2);
    assert.match(noFormat.stderr, /field: --format/);
  });

  it('no password appears in any CLI output', () => {
    const all = outputs.map((o) => o.stdout + o.stderr).join('\n');
    for (const secret of [PASSWORD, ...EXPORT_PASSWORDS]) assert.equal(all.includes(secret), false, `leaked ${secret.slice(0, 4)}…`);
  });
});
