/**
 * The delivery proof: a workload with no code of ours — a plain Python or Node script that uses
 * only its cloud SDK's default credential chain — run by the real `airlock exec --sandbox` CLI,
 * gets its Deployment's identity from a real `airlock sandbox`, and each cloud's whoami names the
 * right principal. The refusals a user can meet come back as the clouds' own errors, or as
 * Airlock's refusal (with the reason) and a non-zero exit before any child starts.
 *
 * One Airlock server (in this process) and one `airlock sandbox` (a child process) serve every
 * test; everything listens on 127.0.0.1. The AWS side of the sandbox is set up by the real `aws`
 * CLI running exactly the commands `airlock deployment identity setup` prints (only the endpoint
 * and the account's access key come from the environment, as a user's shell would give them).
 * The GCP and Azure sides are loaded from the same setups (their printed commands are proven
 * against the sandbox in setup-to-sandbox.test.ts).
 *
 * Children get an environment built from nothing: PATH, a scratch HOME, no cloud configuration,
 * metadata servers off, and the sandbox's proxy as HTTPS_PROXY for every non-loopback host — the
 * sandbox tunnels the hosts it emulates and refuses and logs any other, and the last test checks
 * it logged none. Every process runs in its own process group, killed in `after` even when a test
 * fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { gcpResources, planGcpSetup } from '../../src/cloud/gcp/index.ts';
import type { SetupResult } from '../../src/cloud/types.ts';
import { SandboxInfoSchema, type SandboxInfo } from '../../src/delivery/sandbox-info.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock as airlockCli } from '../helpers/cli.ts';
import { bareChildEnv, guardLoopback, httpsJson, iamCall, roleNameAndPath, shellWords } from './helpers.ts';
import { killAll, pythonTools, spawnGroup, waitExit } from '../helpers/processes.ts';
import { startKubeIssuer, type KubeIssuer } from '../delivery/kube-issuer.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'delivery');
const SCRATCH = mkdtempSync(join(tmpdir(), 'airlock-e2e-exec-'));
const guard = guardLoopback();
const { python, aws } = pythonTools();

/** The user's own account, and the platform account default identities live in. */
const CUSTOMER = '123456789012';
const PLATFORM = '210987654321';
const ETL_ROLE = `arn:aws:iam::${CUSTOMER}:role/airflow-etl`;
const INTRUDER_ROLE = `arn:aws:iam::${CUSTOMER}:role/airflow-intruder`;
const CUSTOMER_ROLE = `arn:aws:iam::${CUSTOMER}:role/lake-customer`;
const GCP = {
  projectNumber: '498127360554',
  serviceAccount: 'lake-loader@data-lake-prod.iam.gserviceaccount.com',
  platformProject: 'airlock-platform',
  platformProjectNumber: '730146219987',
  target: 'bq-reader@analytics-prod.iam.gserviceaccount.com',
};
const AZURE = {
  managedIdentityName: 'blob-etl',
  resourceGroup: 'rg-data',
  subscriptionId: '0b1f6471-1bf0-4dda-aec3-cb9272f09590',
  clientId: 'a2b3c4d5-0000-4000-8000-00000000c11e',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
};

/** What a child printed (its last stdout line, JSON) and how exec ended. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
  result: any;
}

/** Moves the server's clock (join credential expiry) without touching the machine's. */
let shift = 0;
const clock: Clock = { now: () => Date.now() + shift };

let server: TestServer;
let sandbox: ReturnType<typeof spawnGroup>;
let sandboxUrl: string;
let info: SandboxInfo;
let azureAgent: Agent;
let kube: KubeIssuer;
/** A join credential of etl created two hours ago with a one-hour lifetime. */
let expired: { id: string; secret: string };
const deps: Record<string, { id: string; name: string; namespace: string }> = {};

/** The environment every child starts from: nothing of this machine's cloud setup. */
const baseEnv = () => bareChildEnv({ home: join(SCRATCH, 'home'), python, sandboxProxy: sandboxUrl });

/** `airlock exec --sandbox … -- <command>` with a join credential (or other attestation flags). */
async function exec(o: { credential?: string; flags?: string[]; env?: Record<string, string | undefined>; command: string[] }): Promise<Run> {
  const merged: Record<string, string | undefined> = { ...baseEnv(), ...(o.credential ? { AIRLOCK_JOIN_CREDENTIAL: o.credential } : {}), ...o.env };
  const env = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const p = spawnGroup(process.execPath, [BIN, 'exec', '--server', server.url, '--sandbox', sandboxUrl, ...(o.flags ?? []), '--', ...o.command], { env, cwd: SCRATCH });
  const code = await waitExit(p, `airlock exec ${o.command.join(' ')}`);
  const last = p.stdout().trim().split('\n').pop() ?? '';
  let result: unknown;
  try {
    result = JSON.parse(last);
  } catch {
    result = undefined;
  }
  return { code, stdout: p.stdout(), stderr: p.stderr(), result };
}

const show = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

async function credential(deployment: string, body: Record<string, unknown> = { component: 'worker' }): Promise<{ id: string; secret: string }> {
  const r = await server.api('POST', `/api/v1/deployments/${deployment}/credentials`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const r = await server.api(method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// ---------------------------------------------------------------------------------------------
// Setup as printed, applied with the aws CLI
// ---------------------------------------------------------------------------------------------

interface PrintedStep {
  title: string;
  documents: { filename: string; content: string }[];
  commands: string[];
}

/** The steps of `airlock deployment identity setup` (text output) as a person reads them. */
function printedSteps(text: string): PrintedStep[] {
  const steps: PrintedStep[] = [];
  let step: PrintedStep | undefined;
  let mode: 'text' | 'document' | 'command' = 'text';
  for (const line of text.split('\n')) {
    const head = /^Step \d+\. (.*)$/.exec(line);
    if (head) {
      step = { title: head[1]!, documents: [], commands: [] };
      steps.push(step);
      mode = 'text';
    } else if (!step || !line.startsWith('  ')) {
      step = undefined;
    } else if (/^ {2}Save as (.+):$/.test(line)) {
      step.documents.push({ filename: /^ {2}Save as (.+):$/.exec(line)![1]!, content: '' });
      mode = 'document';
    } else if (line.startsWith('  $ ')) {
      step.commands.push(line.slice(4));
      mode = 'command';
    } else if (line.startsWith('    ') && mode === 'document') {
      step.documents[step.documents.length - 1]!.content += line.slice(4) + '\n';
    } else if (line.startsWith('    ') && mode === 'command') {
      step.commands[step.commands.length - 1] += '\n' + line.slice(4);
    } else {
      mode = 'text';
    }
  }
  return steps;
}

/** Runs a shell command line with the aws CLI acting in `account` (its 12-digit key id), against the sandbox. */
async function awsShell(command: string, account: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...baseEnv(),
    PATH: `${dirname(aws)}:${baseEnv().PATH}`,
    AWS_ENDPOINT_URL: sandboxUrl,
    AWS_ACCESS_KEY_ID: account,
    AWS_SECRET_ACCESS_KEY: 'any-secret',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
  const p = spawnGroup('/bin/bash', ['-c', command], { env, cwd });
  const code = await waitExit(p, command);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * `airlock deployment identity setup <deployment> [flags]`, printed by the real CLI, applied by the
 * real aws CLI: documents saved under their names, then every `aws` command as printed, in the
 * platform account for the platform operator's steps and in the customer's account otherwise.
 * Returns the commands run.
 */
async function applyAwsSetup(deployment: string, flags: string[] = []): Promise<string[]> {
  const printed = await airlockCli(['deployment', 'identity', 'setup', deployment, ...flags], { AIRLOCK_URL: server.url, AIRLOCK_TOKEN: server.token });
  assert.equal(printed.code, 0, printed.stderr);
  assert.doesNotMatch(printed.stdout, /Replace these placeholders/, printed.stdout);
  const cwd = mkdtempSync(join(SCRATCH, `setup-${deployment}-`));
  const ran: string[] = [];
  for (const step of printedSteps(printed.stdout)) {
    for (const d of step.documents) writeFileSync(join(cwd, d.filename), d.content);
    for (const command of step.commands) {
      if (shellWords(command)[0] !== 'aws') continue; // `airflow connections add …` runs in Airflow
      const r = await awsShell(command, /^Platform operator/.test(step.title) ? PLATFORM : CUSTOMER, cwd);
      assert.equal(r.code, 0, `${command}\n${r.stderr}`);
      ran.push(command);
    }
  }
  return ran;
}

/** A role the user (or the platform operator) had before setup, which replaces its trust policy. */
async function existingRole(roleArn: string): Promise<void> {
  const account = /^arn:aws:iam::(\d{12}):/.exec(roleArn)![1]!;
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }] };
  const r = await iamCall(sandboxUrl, { Action: 'CreateRole', ...roleNameAndPath(roleArn), AssumeRolePolicyDocument: JSON.stringify(trust) }, { accessKeyId: account, secretAccessKey: 'any' });
  assert.equal(r.status, 200, r.xml);
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

before(async () => {
  kube = await startKubeIssuer();
  server = await startServer({ clock });
  sandbox = spawnGroup(process.execPath, [BIN, 'sandbox', '--port', '0', '--in-memory', '--data-dir', join(SCRATCH, 'sandbox')], { env: { PATH: process.env.PATH ?? '' }, cwd: SCRATCH });
  const m = await sandbox.waitFor(/^ {2}info +(http:\/\/127\.0\.0\.1:\d+)\/_sandbox\/info$/m);
  sandboxUrl = m[1]!;
  info = SandboxInfoSchema.parse(await (await fetch(`${sandboxUrl}/_sandbox/info`)).json());
  azureAgent = new Agent({ ca: info.caCertPem });

  await api('POST', '/api/v1/clusters', { name: 'aws-prod', cloud: 'aws', type: 'dedicated', region: 'us-east-1', defaultIdentityAccount: PLATFORM, kubernetesIssuerUrl: kube.url });
  await api('POST', '/api/v1/clusters', { name: 'gcp-prod', cloud: 'gcp', type: 'standard', region: 'us-central1', defaultIdentityProject: GCP.platformProject, defaultIdentityProjectNumber: GCP.platformProjectNumber });
  await api('POST', '/api/v1/clusters', { name: 'azure-prod', cloud: 'azure', type: 'standard', region: 'eastus' });
  await api('PUT', '/api/v1/identities', { name: 'lake-loader', gcpServiceAccount: GCP.serviceAccount, gcpProjectNumber: GCP.projectNumber });
  await api('PUT', '/api/v1/identities', { name: 'blob-etl', azure: AZURE });
  for (const [name, cluster, workloadIdentity] of [
    ['etl', 'aws-prod', ETL_ROLE],
    ['intruder', 'aws-prod', INTRUDER_ROLE],
    ['platform-etl', 'aws-prod', undefined],
    ['lake', 'gcp-prod', 'lake-loader'],
    ['lake-default', 'gcp-prod', undefined],
    ['blob', 'azure-prod', 'blob-etl'],
  ] as const) {
    const d = await api('POST', '/api/v1/deployments', { name, cluster, runtimeVersion: '12.1.0', ...(workloadIdentity ? { workloadIdentity } : {}) });
    deps[name] = { id: d.id, name, namespace: d.namespace };
  }

  shift = -2 * 3600_000; // before anything runs concurrently: the server's clock is shared
  try {
    expired = await credential('etl', { component: 'worker', ttl: '1h' });
  } finally {
    shift = 0;
  }

  // AWS: the roles the user (and the platform operator) had before setup, then setup as printed.
  const platform = (await api('GET', `/api/v1/deployments/platform-etl/identity/setup?targetRoleArn=${encodeURIComponent(CUSTOMER_ROLE)}`)) as SetupResult;
  await Promise.all([ETL_ROLE, CUSTOMER_ROLE, platform.aws!.platform!.roleArn].map(existingRole));
  const ran = await Promise.all([applyAwsSetup('etl'), applyAwsSetup('platform-etl', ['--target-role-arn', CUSTOMER_ROLE])]);
  assert.deepEqual(
    ran.map((commands) => commands.map((c) => shellWords(c).slice(0, 3).join(' '))),
    [
      ['aws iam create-open-id-connect-provider', 'aws iam update-assume-role-policy'],
      ['aws iam create-open-id-connect-provider', 'aws iam update-assume-role-policy', 'aws iam update-assume-role-policy'],
    ],
    'the printed AWS commands ran',
  );

  // GCP: the resources the two setups create.
  const attach = planGcpSetup(await server.app.deployments.setupInput({ workspaceId: server.app.tenancy.workspace.id }, 'lake', {}));
  const impersonation = planGcpSetup(await server.app.deployments.setupInput({ workspaceId: server.app.tenancy.workspace.id }, 'lake-default', { target: { gcpRoute: 'impersonation', gcpServiceAccount: GCP.target } }));
  const projects = [...gcpResources(attach).projects, ...gcpResources(impersonation).projects];
  assert.equal(new Set(projects.map((p) => p.projectId)).size, projects.length, 'the two setups touch different projects');
  const loaded = await fetch(`${sandboxUrl}/_sandbox/gcp/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ projects }) });
  assert.equal(loaded.status, 200, await loaded.text());

  // Azure: the tenant and managed identity the customer has, and the setup's federated credentials.
  const blob = (await api('GET', '/api/v1/deployments/blob/identity/setup?')) as SetupResult;
  const admin = (method: string, path: string, body?: unknown) => httpsJson(azureAgent, `${info.azureUrl}/_sandbox/azure${path}`, method, body);
  const identityPath = `/subscriptions/${AZURE.subscriptionId}/resourceGroups/${AZURE.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${AZURE.managedIdentityName}`;
  assert.equal((await admin('PUT', `/tenants/${AZURE.tenantId}`, { displayName: 'Contoso (e2e)' })).status, 201);
  assert.equal((await admin('PUT', identityPath, { tenantId: AZURE.tenantId, clientId: AZURE.clientId })).status, 201);
  for (const fc of blob.azure!.federatedCredentials) {
    const r = await admin('PUT', `${identityPath}/federatedIdentityCredentials/${fc.name}`, { issuer: fc.issuer, subject: fc.subject, audiences: fc.audiences });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});

after(async () => {
  await killAll();
  azureAgent?.destroy();
  await server?.close();
  await kube?.close();
  guard.restore();
  rmSync(SCRATCH, { recursive: true, force: true });
  assert.deepEqual(guard.blocked, [], 'no connection of this process left 127.0.0.1');
});

// ---------------------------------------------------------------------------------------------
// Proofs
// ---------------------------------------------------------------------------------------------

// The tests of a group run at once: each is its own processes against shared, read-only setup.
describe('airlock exec --sandbox: unmodified SDKs in child processes get the Deployment\'s identity', { concurrency: true }, () => {
  const sessionArn = (roleArn: string, session: string) => `arn:aws:sts::${/::(\d{12}):/.exec(roleArn)![1]}:assumed-role/${roleArn.split('/').pop()}/${session}`;

  it('AWS: boto3 and the AWS SDK v3 default chains become the role, in the user\'s own account, after the printed setup ran in the aws CLI', async () => {
    const etl = await credential('etl');
    const [py, node] = await Promise.all([
      exec({ credential: etl.secret, flags: ['--deployment', 'etl', '--component', 'worker'], command: [python, join(FIXTURES, 'aws_whoami.py')] }),
      exec({ credential: etl.secret, flags: ['--deployment', 'etl', '--component', 'worker'], command: [process.execPath, join(FIXTURES, 'aws-whoami.mjs')] }),
    ]);
    const want = { ok: true, arn: sessionArn(ETL_ROLE, 'etl-worker'), account: CUSTOMER };
    assert.deepEqual(py.result, want, show(py));
    assert.deepEqual(node.result, want, show(node));
    assert.equal(py.code, 0, show(py));
    assert.equal(node.code, 0, show(node));
  });

  it("Airflow's Amazon provider: an aws connection (role_arn + assume_role_with_web_identity) and a secret variable from the Deployment's environment reach boto3", async () => {
    // The connection the setup prints, as a Deployment variable in Airflow's JSON form. Its token
    // file is the pod path; exec keeps tokens elsewhere, so it is left out and the provider falls
    // back to AWS_WEB_IDENTITY_TOKEN_FILE, which exec sets.
    const setup = (await api('GET', '/api/v1/deployments/etl/identity/setup')) as SetupResult;
    const { assume_role_with_web_identity_token_file: _podPath, ...extra } = setup.connection.extra;
    assert.equal(extra.role_arn, ETL_ROLE);
    const secret = 'lake-api-key-e2e-7741';
    await api('POST', '/api/v1/deployments/etl/variables', {
      variables: [
        { key: 'AIRFLOW_CONN_AWS_LAKE', value: JSON.stringify({ conn_type: 'aws', extra }), secret: true },
        { key: 'LAKE_API_KEY', value: secret, secret: true },
        { key: 'LAKE_BUCKET', value: 'lake-raw' },
      ],
    });
    const etl = await credential('etl');
    const r = await exec({ credential: etl.secret, env: { LAKE_BUCKET: 'mine' }, command: [python, join(FIXTURES, 'airflow_aws_connection.py'), 'aws_lake', 'LAKE_API_KEY', 'LAKE_BUCKET'] });
    assert.equal(r.code, 0, show(r));
    // botocore names the session itself (botocore-session-<time>): the provider passes no RoleSessionName for web identity.
    assert.match(r.result?.arn ?? '', new RegExp(`^${sessionArn(ETL_ROLE, 'botocore-session-').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\d+$`), show(r));
    assert.deepEqual(
      { ...r.result, arn: undefined },
      { ok: true, source: 'environment-variable', arn: undefined, region: extra.region_name, variables: { LAKE_API_KEY: secret, LAKE_BUCKET: 'mine' } },
      show(r),
    );
    assert.match(r.stderr, /keeping LAKE_BUCKET as already set/, 'a variable the user set is never overridden');
    assert.ok(!r.stderr.includes(secret), 'exec never prints a secret');

    // The same connection from the Environment Manager, linked to etl: it ranks above the
    // variable, and reaches the provider through the LocalFilesystemBackend file exec writes.
    await api('POST', '/api/v1/connections', { connId: 'aws_lake', connType: 'aws', extra });
    await api('POST', '/api/v1/connections/aws_lake/link', { deployment: 'etl' });
    const em = await exec({ credential: etl.secret, command: [python, join(FIXTURES, 'airflow_aws_connection.py'), 'aws_lake'] });
    assert.equal(em.code, 0, show(em));
    assert.equal(em.result?.source, 'secrets-backend-file', show(em));
    assert.match(em.result?.arn ?? '', /:assumed-role\/airflow-etl\/botocore-session-\d+$/, show(em));
    assert.match(em.stderr, /AIRFLOW_CONN_AWS_LAKE set by a Deployment variable is replaced by the Environment Manager's linked connection/);
    const resolved = await api('GET', '/api/v1/connections/aws_lake/resolve?deployment=etl');
    assert.equal(resolved.winner, 'environment-manager');
  });

  it('AWS default identity: the platform role in another account assumes the user\'s role named by the Airflow-style role_arn', async () => {
    const setup = (await api('GET', `/api/v1/deployments/platform-etl/identity/setup?targetRoleArn=${encodeURIComponent(CUSTOMER_ROLE)}`)) as SetupResult;
    const roleArn = setup.connection.extra.role_arn as string;
    assert.equal(roleArn, CUSTOMER_ROLE);
    assert.match(setup.aws!.platform!.roleArn, new RegExp(`^arn:aws:iam::${PLATFORM}:role/`));
    const c = await credential('platform-etl', { component: 'scheduler' });
    const [direct, chained] = await Promise.all([
      exec({ credential: c.secret, command: [python, join(FIXTURES, 'aws_whoami.py')] }),
      exec({ credential: c.secret, command: [python, join(FIXTURES, 'aws_whoami.py'), roleArn] }),
    ]);
    assert.deepEqual(direct.result, { ok: true, arn: sessionArn(setup.aws!.platform!.roleArn, 'platform-etl-scheduler'), account: PLATFORM }, show(direct));
    assert.deepEqual(chained.result, { ok: true, arn: sessionArn(CUSTOMER_ROLE, 'airflow-role-arn'), account: CUSTOMER }, show(chained));
  });

  /** The sandbox's own view of a GCP access token: the principal behind it and the delegation chain. */
  async function gcpPrincipal(token: string): Promise<{ principal: string; delegationChain: string[] }> {
    const me = await fetch(`${sandboxUrl}/_sandbox/gcp/whoami`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200, await me.clone().text());
    const { principal, delegationChain } = (await me.json()) as { principal: string; delegationChain: string[] };
    return { principal, delegationChain };
  }

  it('GCP: Python google-auth and Node google-auth-library (Application Default Credentials) become the service account', async () => {
    const c = await credential('lake', { component: 'triggerer' });
    const [py, node] = await Promise.all([
      exec({ credential: c.secret, command: [python, join(FIXTURES, 'gcp_whoami.py')] }),
      exec({ credential: c.secret, command: [process.execPath, join(FIXTURES, 'gcp-whoami.mjs')] }),
    ]);
    const subject = `system:serviceaccount:${deps.lake!.namespace}:${deps.lake!.namespace}-triggerer-serviceaccount`;
    for (const r of [py, node]) {
      assert.equal(r.result?.ok, true, show(r));
      const who = await gcpPrincipal(r.result.token);
      assert.equal(who.principal, `serviceAccount:${GCP.serviceAccount}`, show(r));
      assert.equal(who.delegationChain.length, 1, JSON.stringify(who.delegationChain));
      assert.ok(who.delegationChain[0]!.endsWith(`/subject/${subject}`), JSON.stringify(who.delegationChain));
    }
  });

  it('GCP default identity: the platform service account impersonates the target, as impersonation_chain does (Python and Node)', async () => {
    const c = await credential('lake-default');
    // The children name no endpoint: IAM Credentials is reached at Google's own URL through the
    // sandbox's proxy, which exec sets (the test's own proxy variables are taken away to show it).
    // The default identity's project is the platform's, so exec sets none: Python finds none (Cloud
    // Resource Manager, reached the same way, refuses the platform identity); Node is given the
    // user's (its getProjectId would also ask the metadata server).
    const noProxy = { HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined };
    const [py, node] = await Promise.all([
      exec({ credential: c.secret, env: noProxy, command: [python, join(FIXTURES, 'gcp_whoami.py'), GCP.target] }),
      exec({ credential: c.secret, env: { ...noProxy, GOOGLE_CLOUD_PROJECT: 'analytics-prod' }, command: [process.execPath, join(FIXTURES, 'gcp-whoami.mjs'), GCP.target] }),
    ]);
    assert.doesNotMatch(py.stderr + node.stderr, /keeping HTTPS_PROXY/);
    const ns = deps['lake-default']!.namespace;
    const chain = [
      `principal://iam.googleapis.com/projects/${GCP.platformProjectNumber}/locations/global/workloadIdentityPools/airlock-gcp-prod/subject/system:serviceaccount:${ns}:${ns}-worker-serviceaccount`,
      `serviceAccount:airlock-${ns}@${GCP.platformProject}.iam.gserviceaccount.com`,
    ];
    assert.equal(py.result?.project, null, show(py));
    assert.equal(node.result?.project, 'analytics-prod', show(node));
    for (const r of [py, node]) {
      assert.equal(r.result?.ok, true, show(r));
      assert.deepEqual(await gcpPrincipal(r.result.token), { principal: `serviceAccount:${GCP.target}`, delegationChain: chain }, show(r));
    }
  });

  it('Azure: @azure/identity DefaultAzureCredential gets a token whose claims name the managed identity', async () => {
    const c = await credential('blob', { component: 'webserver' });
    const r = await exec({ credential: c.secret, command: [process.execPath, join(FIXTURES, 'azure-whoami.mjs')] });
    assert.equal(r.result?.ok, true, show(r));
    assert.equal(r.code, 0, show(r));
    const claims = decodeJwt(r.result.token) as Record<string, unknown>;
    const me = await httpsJson(azureAgent, `${info.azureUrl}/_sandbox/azure/whoami`, 'GET', undefined, { authorization: `Bearer ${r.result.token}` });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.deepEqual(
      { appid: claims.appid, tid: claims.tid, oid: claims.oid, aud: claims.aud },
      { appid: AZURE.clientId, tid: AZURE.tenantId, oid: me.body.principalId, aud: 'https://storage.azure.com' },
    );
    assert.equal(me.body.name, AZURE.managedIdentityName);
  });
});

describe('airlock exec --sandbox: refusals as the user sees them', { concurrency: true }, () => {
  it("Deployment B's join credential against A's role: boto3 reports STS's AccessDenied; exec exits with the child's code", async () => {
    const b = await credential('intruder');
    // exec never overrides a variable the user set, so B's token is presented to A's role.
    const r = await exec({ credential: b.secret, env: { AWS_ROLE_ARN: ETL_ROLE }, command: [python, join(FIXTURES, 'aws_whoami.py')] });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.result?.code, 'AccessDenied', show(r));
    assert.match(r.result.message, /^An error occurred \(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation: /);
    assert.match(r.stderr, /keeping AWS_ROLE_ARN as already set/);
  });

  it('a revoked and an expired join credential: refused with a message saying which, a non-zero exit and no child', async () => {
    const revoked = await credential('etl');
    await api('DELETE', `/api/v1/deployments/etl/credentials/${revoked.id}`);
    const [r1, r2] = await Promise.all([revoked, expired].map((c) => exec({ credential: c.secret, command: [python, '-c', 'print("ran")'] })));
    for (const [r, why] of [
      [r1, /revoked/],
      [r2, /expired/],
    ] as const) {
      assert.notEqual(r.code, 0, show(r));
      assert.doesNotMatch(r.stdout, /ran/, show(r));
      // exec reads the workload's profile first, and the server refuses the credential there.
      assert.match(r.stderr, /^error: ERR_UNAUTHENTICATED: the server refused the workload profile request: join credential jc_[0-9a-z]+ /, show(r));
      assert.match(r.stderr, why, show(r));
    }
  });

  it('a Kubernetes token from an unknown namespace or service account is refused', async () => {
    const cluster = (await api('GET', '/api/v1/clusters/aws-prod')) as { attestationAudience: string };
    const file = (name: string, token: string) => {
      const p = join(SCRATCH, name);
      writeFileSync(p, token, { mode: 0o600 });
      return p;
    };
    const now = Date.now();
    const tokens = {
      namespace: await kube.token({ namespace: 'unknown-ns', serviceAccount: `${deps.etl!.namespace}-worker-serviceaccount`, audience: cluster.attestationAudience, now }),
      serviceAccount: await kube.token({ namespace: deps.etl!.namespace, serviceAccount: 'default', audience: cluster.attestationAudience, now }),
      good: await kube.token({ namespace: deps.etl!.namespace, serviceAccount: `${deps.etl!.namespace}-worker-serviceaccount`, audience: cluster.attestationAudience, now }),
    };
    const [ns, sa, good] = await Promise.all(
      Object.entries(tokens).map(([k, t]) => exec({ flags: ['--kubernetes-token-file', file(`kube-${k}`, t), '--cluster', 'aws-prod'], command: [python, join(FIXTURES, 'aws_whoami.py')] })),
    );
    for (const [r, why] of [
      [ns!, /unknown-ns/],
      [sa!, /not one of Deployment etl's components/],
    ] as const) {
      assert.notEqual(r.code, 0, show(r));
      assert.equal(r.stdout, '', show(r));
      assert.match(r.stderr, /invalid_grant|refused/, show(r));
      assert.match(r.stderr, why, show(r));
    }
    // The same cluster's token for a component is accepted: the refusals above are about who, not how.
    assert.equal(good!.result?.arn, `arn:aws:sts::${CUSTOMER}:assumed-role/airflow-etl/etl-worker`, show(good!));
  });
});

describe('the sandbox', () => {
  it('refused nothing: no child tried a host beyond 127.0.0.1 through its proxy', () => {
    assert.doesNotMatch(sandbox.stderr(), /refused/, sandbox.stderr());
  });
});
