/**
 * `POST /api/v1/deployments/:deployment/identity/check` and `airlock deployment identity check`:
 * the cloud's configuration, as its CLI prints it, checked against what the Deployment needs.
 *
 * Verdicts are held to the sandbox's clouds with tokens Airlock mints: for every document in the
 * tables, each component the check calls trusted is let in and each it calls refused is refused —
 * by STS through the real AWS SDK, by Google's STS and IAM Credentials, by Entra ID (with the same
 * AADSTS code) — and when the check says a document trusts someone outside the Deployment, the
 * sandbox does let in a token of another namespace (the finding is not a guess).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAwsEmulator } from '../../src/emulators/aws/index.ts';
import { createAzureEmulator } from '../../src/emulators/azure/index.ts';
import { createGcpEmulator } from '../../src/emulators/gcp/index.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { isolateAwsSdk } from '../helpers/aws-sdk.ts';
import { airlock as cli } from '../helpers/cli.ts';

const SCRATCH = isolateAwsSdk('airlock-identity-check-');
const run = promisify(execFile);

const ACCOUNT = '000000000000';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/etl-reader`;
const ADMIN = { accessKeyId: 'AKIASANDBOX', secretAccessKey: 'anything-goes' };
const COMPONENTS = ['scheduler', 'worker', 'triggerer', 'webserver', 'dag-processor', 'kpo'];
const OTHER_NAMESPACE = 'airlock-check-other';

interface CheckBody {
  ok: boolean;
  mode: string;
  checked: string;
  checks: { principal: string; component?: string; trusted: boolean; reason: string }[];
  findings: { severity: string; message: string }[];
}

let s: TestServer;
let sts: FastifyInstance;
let endpoint: string;
let clusterId: string;
let hostPath: string;
let providerArn: string;
let namespace: string;
let setupPolicy: Record<string, unknown>;

async function iam(params: Record<string, string>): Promise<string> {
  const url = new URL(endpoint);
  const body = new URLSearchParams({ Version: '2010-05-08', ...params }).toString();
  const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 'iam', sha256: Sha256 });
  const signed = await signer.sign({ method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body });
  const res = await fetch(url, { method: 'POST', headers: signed.headers, body });
  const xml = await res.text();
  assert.equal(res.status, 200, xml);
  return xml;
}

/** Whether the sandbox's STS lets a token of `serviceAccount` in `ns` assume the role. */
async function stsAllows(ns: string, serviceAccount: string, audience = 'sts.amazonaws.com'): Promise<boolean> {
  const { token } = await s.app.minter.mint({ clusterId, namespace: ns, serviceAccount, serviceAccountUid: '00000000-0000-0000-0000-000000000001', audiences: [audience] });
  const client = new STSClient({ endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' } });
  try {
    await client.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE, RoleSessionName: 'airlock-check', WebIdentityToken: token }));
    return true;
  } catch (err) {
    assert.equal((err as { name?: string }).name, 'AccessDenied', String(err));
    return false;
  } finally {
    client.destroy();
  }
}

const serviceAccountOf = (ns: string, component: string) => (component === 'kpo' ? `${ns}-kpo` : `${ns}-${component}-serviceaccount`);

async function check(body: unknown, query = ''): Promise<{ status: number; body: CheckBody & { error?: { code: string; field: string; message: string; example?: unknown } } }> {
  return (await s.api('POST', `/api/v1/deployments/etl/identity/check${query}`, body)) as never;
}

before(async () => {
  s = await startServer();
  sts = Fastify();
  await sts.register(createAwsEmulator({ clock: systemClock }).plugin);
  await sts.listen({ host: '127.0.0.1', port: 0 });
  endpoint = `http://127.0.0.1:${(sts.server.address() as { port: number }).port}`;
  const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1' });
  assert.equal(c.status, 201);
  clusterId = c.body.id;
  hostPath = c.body.oidcIssuerUrl.replace(/^https?:\/\//, '');
  const d = await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: ROLE });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  namespace = d.body.namespace;
  const setup = (await s.api('GET', '/api/v1/deployments/etl/identity/setup')).body;
  setupPolicy = setup.aws.trustPolicy;
  providerArn = setup.aws.oidcProviderArn;
  const xml = await iam({ Action: 'CreateOpenIDConnectProvider', Url: c.body.oidcIssuerUrl, 'ClientIDList.member.1': 'sts.amazonaws.com' });
  assert.match(xml, new RegExp(providerArn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await iam({ Action: 'CreateRole', RoleName: 'etl-reader', AssumeRolePolicyDocument: JSON.stringify(setupPolicy) });
});

after(async () => {
  await sts?.close();
  await s?.close();
});

describe('identity check: AWS trust policies, held to the sandbox STS', () => {
  const webIdentity = (condition: Record<string, unknown>, federated?: string) => ({
    Effect: 'Allow',
    Principal: { Federated: federated ?? providerArn },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: condition,
  });
  const subjects = () => COMPONENTS.map((c) => `system:serviceaccount:${namespace}:${serviceAccountOf(namespace, c)}`);
  const cases: { name: string; statements: () => object[]; trusted: string[]; findings: [string, RegExp][] }[] = [
    { name: 'the generated policy', statements: () => setupPolicy.Statement as object[], trusted: COMPONENTS, findings: [] },
    {
      name: 'a namespace wildcard of the seeds\' kind (StringLike system:serviceaccount:*)',
      statements: () => [webIdentity({ StringEquals: { [`${hostPath}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${hostPath}:sub`]: 'system:serviceaccount:*' } })],
      trusted: COMPONENTS,
      findings: [['error', /trusts service accounts outside Deployment etl .*any workload on cluster prod-aws could assume/]],
    },
    {
      name: 'only the worker',
      statements: () => [webIdentity({ StringEquals: { [`${hostPath}:aud`]: 'sts.amazonaws.com', [`${hostPath}:sub`]: subjects()[1] } })],
      trusted: ['worker'],
      findings: [],
    },
    {
      name: 'no audience condition',
      statements: () => [webIdentity({ StringEquals: { [`${hostPath}:sub`]: subjects() } })],
      trusted: COMPONENTS,
      findings: [['warning', /does not check the audience/]],
    },
    {
      name: 'an explicit Deny for the kpo',
      statements: () => [
        ...(setupPolicy.Statement as object[]),
        { Effect: 'Deny', Principal: { Federated: providerArn }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${hostPath}:sub`]: subjects()[5] } } },
      ],
      trusted: COMPONENTS.slice(0, 5),
      findings: [],
    },
    {
      name: 'the provider of another account',
      statements: () => [webIdentity({ StringEquals: { [`${hostPath}:sub`]: subjects() } }, providerArn.replace(ACCOUNT, '123456789012'))],
      trusted: [],
      findings: [],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.trusted.length} of 6 trusted, as STS decides`, async () => {
      const policy = { Version: '2012-10-17', Statement: c.statements() };
      await iam({ Action: 'UpdateAssumeRolePolicy', RoleName: 'etl-reader', PolicyDocument: JSON.stringify(policy) });
      const r = await check({ trustPolicy: JSON.stringify(policy) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.checks.filter((x) => x.trusted).map((x) => x.component), c.trusted);
      for (const x of r.body.checks) {
        assert.equal(x.principal, subjects()[COMPONENTS.indexOf(x.component!)]);
        assert.equal(await stsAllows(namespace, serviceAccountOf(namespace, x.component!)), x.trusted, `STS and the check disagree on ${x.component}: ${x.reason}`);
        if (!x.trusted) assert.match(x.reason, /explicitly denies|no statement allows/);
      }
      assert.deepEqual(r.body.findings.map((f) => f.severity), c.findings.map(([sev]) => sev));
      c.findings.forEach(([, re], i) => assert.match(r.body.findings[i]!.message, re));
      assert.equal(r.body.ok, c.trusted.length === 6 && !c.findings.some(([sev]) => sev === 'error'));
      // The "outside the Deployment" finding is STS's own behaviour, not a guess.
      const outsider = await stsAllows(OTHER_NAMESPACE, `${OTHER_NAMESPACE}-worker-serviceaccount`);
      assert.equal(outsider, r.body.findings.some((f) => /outside Deployment/.test(f.message)), 'the finding matches what STS does for another namespace');
    });
  }

  it('takes what the real aws CLI prints for get-role, piped into airlock deployment identity check', async () => {
    await iam({ Action: 'UpdateAssumeRolePolicy', RoleName: 'etl-reader', PolicyDocument: JSON.stringify(setupPolicy) });
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: SCRATCH,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(SCRATCH, 'no-such-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(SCRATCH, 'no-such-credentials'),
      AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
      AIRLOCK_URL: s.url,
      AIRLOCK_TOKEN: s.token,
      ...(process.env.PYENV_ROOT ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}),
    };
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
    const { stdout } = await run('sh', ['-c', `aws --endpoint-url "$SANDBOX" --region us-east-1 --output json iam get-role --role-name etl-reader | "$NODE" "$BIN" deployment identity check etl --trust-policy - -o json`], {
      env: { ...env, SANDBOX: endpoint, NODE: process.execPath, BIN: bin },
      cwd: SCRATCH,
    });
    const r = JSON.parse(stdout) as CheckBody;
    assert.deepEqual([r.ok, r.checked, r.checks.filter((c) => c.trusted).length], [true, ROLE, 6]);
  });

  it('takes `aws iam get-role` output (the policy URL-encoded, as the IAM API answers it, too)', async () => {
    for (const doc of [setupPolicy, encodeURIComponent(JSON.stringify(setupPolicy))]) {
      const r = await check({ trustPolicy: { Role: { RoleName: 'etl-reader', Arn: ROLE, AssumeRolePolicyDocument: doc } } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.ok, true);
      assert.equal(r.body.checked, ROLE);
    }
  });

  it("refuses the seeds' repeated condition key with the place at fault and the merged form", async () => {
    const sub = `${hostPath}:sub`;
    const text = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"${providerArn}"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"${sub}":"${subjects()[0]}","${sub}":"${subjects()[1]}"}}}]}`;
    const r = await check({ trustPolicy: text });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error!.code, 'ERR_VALIDATION');
    assert.equal(r.body.error!.field, 'body.trustPolicy.Statement[0].Condition.StringLike');
    assert.deepEqual(r.body.error!.example, { [sub]: [subjects()[0], subjects()[1]] });
  });

  const refused: [string, unknown, number, string, RegExp][] = [
    ['no document', {}, 400, 'body.trustPolicy', /trustPolicy is required/],
    ["Azure's document for an AWS Deployment", { federatedCredentials: [] }, 400, 'body.federatedCredentials', /identity is in aws: federatedCredentials is azure's document/],
    ['text that is not JSON', { trustPolicy: '{"Version": ' }, 400, 'body.trustPolicy', /JSON/],
    ['URL-encoding that does not decode', { trustPolicy: '%7B%ZZ' }, 400, 'body.trustPolicy', /looks URL-encoded .* but does not decode/],
    ['get-role output without the policy', { trustPolicy: { Role: { RoleName: 'x' } } }, 400, 'body.trustPolicy.Role', /no Role.AssumeRolePolicyDocument/],
    ['an unknown body field', { trustPolicy: '{}', roleArn: ROLE }, 400, 'body.roleArn', /./],
  ];
  for (const [name, body, status, field, message] of refused) {
    it(`refuses ${name}: ${status} at ${field}, with an example`, async () => {
      const r = await check(body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error!.field, field);
      assert.match(r.body.error!.message, message);
      assert.ok(r.body.error!.example !== undefined, 'an example of the accepted form');
    });
  }

  it('changes nothing, so it is not in the audit log; a viewer may run it', async () => {
    await s.app.audit.flush();
    const head = await s.app.store.audit.head();
    const t = await s.api('POST', '/api/v1/tokens', { name: 'reviewer', role: 'workspace-viewer', workspace: 'default' });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    await s.app.audit.flush();
    const afterToken = await s.app.store.audit.head();
    assert.notDeepEqual(afterToken, head);
    const res = await fetch(`${s.url}/api/v1/deployments/etl/identity/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.body.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ trustPolicy: setupPolicy }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as CheckBody).ok, true);
    await s.app.audit.flush();
    assert.deepEqual(await s.app.store.audit.head(), afterToken, 'no record for a check');
  });

  it('the CLI prints a verdict per component and exits 1 when something is wrong, 0 when not', async () => {
    const env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const good = join(SCRATCH, 'good.json');
    writeFileSync(good, JSON.stringify({ Role: { AssumeRolePolicyDocument: setupPolicy } }));
    const ok = await cli(['deployment', 'identity', 'check', 'etl', '--trust-policy', good], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^worker +yes +system:serviceaccount:\S+-worker-serviceaccount +allowed by Statement\[0\]/m);
    assert.match(ok.stdout, /^OK: /m);
    const bad = join(SCRATCH, 'bad.json');
    writeFileSync(bad, JSON.stringify({ Version: '2012-10-17', Statement: [webIdentity({ StringLike: { [`${hostPath}:sub`]: `system:serviceaccount:${namespace}:*worker*` } })] }));
    const no = await cli(['deployment', 'identity', 'check', 'etl', '--trust-policy', bad], env);
    assert.equal(no.code, 1, no.stderr);
    assert.match(no.stdout, /^scheduler +NO +/m);
    assert.match(no.stdout, /^warning: the policy does not check the audience/m);
    assert.match(no.stdout, /^NOT OK: 5 of 6 not trusted\.$/m);
    const json = await cli(['deployment', 'identity', 'check', 'etl', '--trust-policy', bad, '-o', 'json'], env);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as CheckBody).checks.length, 6);
    const none = await cli(['deployment', 'identity', 'check', 'etl'], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give the document to check/);
  });
});

describe('identity check: the wildcard setup of a dedicated cluster', () => {
  it('its own policy is OK when checked as wildcard (info), an error with the hint when not', async () => {
    assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'dedicated-aws', cloud: 'aws', type: 'dedicated', region: 'us-east-1' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'wide', cluster: 'dedicated-aws', runtimeVersion: '12.1.0', workloadIdentity: ROLE })).status, 201);
    const policy = (await s.api('GET', '/api/v1/deployments/wide/identity/setup?wildcard=true')).body.aws.trustPolicy;
    const asWildcard = await s.api('POST', '/api/v1/deployments/wide/identity/check?wildcard=true', { trustPolicy: policy });
    assert.equal(asWildcard.status, 200, JSON.stringify(asWildcard.body));
    assert.deepEqual([asWildcard.body.ok, asWildcard.body.findings.map((f: { severity: string }) => f.severity)], [true, ['info']]);
    const exact = await s.api('POST', '/api/v1/deployments/wide/identity/check', { trustPolicy: policy });
    assert.deepEqual([exact.body.ok, exact.body.findings.map((f: { severity: string }) => f.severity)], [false, ['error']]);
    assert.match(exact.body.findings[0].message, /check with --wildcard\)$/);
  });
});

describe('identity check: AWS default identity (role chaining)', () => {
  it("checks that the platform's default role may assume the customer's role, and warns when the whole account may", async () => {
    await s.api('PATCH', '/api/v1/clusters/prod-aws', { defaultIdentityAccount: '111122223333' });
    const d = await s.api('POST', '/api/v1/deployments', { name: 'chained', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'default' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    const q = `?targetRoleArn=${encodeURIComponent('arn:aws:iam::444455556666:role/lake')}`;
    const setup = (await s.api('GET', `/api/v1/deployments/chained/identity/setup${q}`)).body;
    assert.equal(setup.mode, 'default', JSON.stringify(setup));
    const platformRole = setup.aws.platform.roleArn as string;
    const run = (policy: object) => s.api('POST', `/api/v1/deployments/chained/identity/check${q}`, { trustPolicy: policy }) as Promise<{ status: number; body: CheckBody }>;

    const exact = await run(setup.aws.trustPolicy);
    assert.equal(exact.status, 200, JSON.stringify(exact.body));
    assert.deepEqual([exact.body.ok, exact.body.mode, exact.body.checked], [true, 'default', 'arn:aws:iam::444455556666:role/lake']);
    assert.deepEqual(exact.body.checks.map((c) => [c.principal, c.trusted, c.component]), [[platformRole, true, undefined]]);
    assert.deepEqual(exact.body.findings, []);

    const account = await run({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'sts:AssumeRole' }] });
    assert.deepEqual([account.body.ok, account.body.findings.map((f) => f.severity)], [true, ['warning']]);
    assert.match(account.body.findings[0]!.message, /any role of account 111122223333/);

    const other = await run({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/someone-else' }, Action: 'sts:AssumeRole' }] });
    assert.equal(other.body.ok, false);
    assert.match(other.body.checks[0]!.reason, /no statement allows sts:AssumeRole/);
  });

  it("with the default role's own trust policy too (the operator's side): each component, then the chaining; an outsider there is an error named for that role", async () => {
    const q = `?targetRoleArn=${encodeURIComponent('arn:aws:iam::444455556666:role/lake')}`;
    const setup = (await s.api('GET', `/api/v1/deployments/chained/identity/setup${q}`)).body;
    const both = await s.api('POST', `/api/v1/deployments/chained/identity/check${q}`, { trustPolicy: setup.aws.trustPolicy, platformTrustPolicy: { Role: { AssumeRolePolicyDocument: setup.aws.platform.trustPolicy } } });
    assert.equal(both.status, 200, JSON.stringify(both.body));
    assert.deepEqual(
      (both.body as CheckBody).checks.map((c) => [c.component ?? 'chain', c.trusted]),
      [...COMPONENTS.map((c) => [c, true]), ['chain', true]],
    );
    assert.equal(both.body.ok, true);
    const statement = setup.aws.platform.trustPolicy.Statement[0];
    const [aud, sub] = Object.keys(statement.Condition.StringEquals) as [string, string];
    const wide = { Version: '2012-10-17', Statement: [{ ...statement, Condition: { StringEquals: { [aud]: 'sts.amazonaws.com' }, StringLike: { [sub]: 'system:serviceaccount:*' } } }] };
    const loose = await s.api('POST', `/api/v1/deployments/chained/identity/check${q}`, { trustPolicy: setup.aws.trustPolicy, platformTrustPolicy: wide });
    assert.equal(loose.body.ok, false);
    assert.match(loose.body.findings[0].message, new RegExp(`^default role ${setup.aws.platform.roleArn.replace(/[/.]/g, '\\$&')}: the policy trusts service accounts outside Deployment chained`));
    const own = await s.api('POST', '/api/v1/deployments/etl/identity/check', { trustPolicy: setupPolicy, platformTrustPolicy: setupPolicy });
    assert.deepEqual([own.status, own.body.error.field], [400, 'body.platformTrustPolicy']);
  });
});

describe('identity check: Azure federated credentials', () => {
  const MI = { managedIdentityName: 'etl', resourceGroup: 'data', subscriptionId: '11111111-2222-3333-4444-555555555555', clientId: '66666666-7777-8888-9999-000000000000', tenantId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' };
  let issuer: string;
  let azClusterId: string;
  let subjects: string[];
  let generated: { name: string; issuer: string; subject: string; audiences: string[] }[];
  const run = (doc: unknown) => s.api('POST', '/api/v1/deployments/az-etl/identity/check', { federatedCredentials: doc }) as Promise<{ status: number; body: CheckBody & { error?: { field: string; message: string } } }>;
  before(async () => {
    const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-az', cloud: 'azure', region: 'westeurope' });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    issuer = c.body.oidcIssuerUrl;
    azClusterId = c.body.id;
    assert.equal((await s.api('PUT', '/api/v1/identities', { name: 'etl-mi', azure: MI })).status, 200);
    const d = await s.api('POST', '/api/v1/deployments', { name: 'az-etl', cluster: 'prod-az', runtimeVersion: '12.1.0', workloadIdentity: 'etl-mi' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    subjects = (d.body.components as { subject: string }[]).map((x) => x.subject);
    generated = (await s.api('GET', '/api/v1/deployments/az-etl/identity/setup')).body.azure.federatedCredentials;
    assert.equal(generated.length, 6);
  });
  // As `az identity federated-credential list -o json` prints them.
  const azList = (creds: typeof generated) => creds.map((c) => ({ ...c, id: `/subscriptions/…/federatedIdentityCredentials/${c.name}`, resourceGroup: 'data', type: 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials' }));

  it('the generated credentials, as az lists them or as ARM answers them: every component trusted', async () => {
    for (const doc of [azList(generated), JSON.stringify(azList(generated)), { value: generated.map(({ name, ...properties }) => ({ name, properties })) }]) {
      const r = await run(doc);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.ok, true, JSON.stringify(r.body));
      assert.equal(r.body.checked, 'managed identity etl (resource group data)');
      assert.deepEqual(r.body.checks.map((c) => c.reason), generated.map((g) => `federated credential ${g.name}`));
    }
  });

  it('names the near misses Entra refuses: a trailing slash on the issuer, a subject in another case, the wrong audience, a missing one', async () => {
    const creds = azList(generated);
    creds[0]!.issuer = `${issuer}/`;
    creds[1]!.subject = creds[1]!.subject.toUpperCase();
    creds[2]!.audiences = ['api://AzureADTokenExchangeX'];
    creds.splice(3, 1);
    const r = await run(creds);
    assert.equal(r.body.ok, false);
    const why = Object.fromEntries(r.body.checks.map((c) => [c.component, c.trusted ? 'ok' : c.reason]));
    assert.match(why.scheduler!, /names issuer "[^"]+\/": Entra compares exactly .*AADSTS70021/);
    assert.match(why.worker!, /names subject "SYSTEM:SERVICEACCOUNT:.*AADSTS70021/);
    assert.match(why.triggerer!, /has audiences \["api:\/\/AzureADTokenExchangeX"\].*AADSTS700212/);
    assert.match(why.webserver!, /no federated credential names issuer .* with this subject \(AADSTS70021\)/);
    assert.deepEqual([why['dag-processor'], why.kpo], ['ok', 'ok']);
  });

  it("other subjects of the same issuer are named (another Deployment's, or left over), and the 20-credential limit is foreseen", async () => {
    const others = Array.from({ length: 16 }, (_, i) => ({ name: `other-${i}`, issuer, subject: `system:serviceaccount:old-${i}:old-${i}-worker-serviceaccount`, audiences: ['api://AzureADTokenExchange'] }));
    const r = await run([...azList(generated.slice(0, 4)), ...others]);
    assert.deepEqual(r.body.findings.map((f) => f.severity), ['warning', 'info']);
    assert.match(r.body.findings[0]!.message, /holds 20 federated credentials; the 2 missing ones would take it past Entra's limit of 20/);
    assert.match(r.body.findings[1]!.message, /also trusts 16 other subjects of this issuer \(system:serviceaccount:old-0:/);
    assert.deepEqual(subjects.slice(0, 4), r.body.checks.filter((c) => c.trusted).map((c) => c.principal));
  });

  it("agrees with the sandbox's Entra ID: a component the check trusts gets a token, one it refuses is refused", async () => {
    const near = azList(generated);
    near[0]!.issuer = `${issuer}/`;
    near[1]!.subject = near[1]!.subject.toUpperCase();
    near[2]!.audiences = ['api://AzureADTokenExchangeX'];
    near.splice(3, 1);
    for (const creds of [azList(generated), near]) {
      const entra = createAzureEmulator({ clock: systemClock });
      const app = Fastify();
      await app.register(entra.plugin);
      const ref = { subscriptionId: MI.subscriptionId, resourceGroup: MI.resourceGroup, name: MI.managedIdentityName };
      entra.state.putTenant(MI.tenantId, {});
      entra.state.putIdentity(ref, { tenantId: MI.tenantId, clientId: MI.clientId, location: 'westeurope' });
      for (const c of creds) entra.state.putCredential(ref, c.name, { issuer: c.issuer, subject: c.subject, audiences: c.audiences });
      try {
        const r = await run(creds);
        for (const c of r.body.checks) {
          const sa = c.principal.split(':').pop()!;
          const ns = c.principal.split(':')[2]!;
          const { token } = await s.app.minter.mint({ clusterId: azClusterId, namespace: ns, serviceAccount: sa, serviceAccountUid: '00000000-0000-0000-0000-000000000003', audiences: ['api://AzureADTokenExchange'] });
          const res = await app.inject({
            method: 'POST',
            url: `/${MI.tenantId}/oauth2/v2.0/token`,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: MI.clientId,
              scope: 'https://storage.azure.com/.default',
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: token,
            }).toString(),
          });
          assert.equal(res.statusCode === 200, c.trusted, `Entra and the check disagree on ${c.component}: ${c.reason} / ${res.body}`);
          if (!c.trusted) assert.match(res.body, new RegExp(/\((AADSTS\d+)\)$/.exec(c.reason)![1]!), 'the same AADSTS code');
        }
      } finally {
        await app.close();
      }
    }
  });

  it('refuses what is not a credential list, at the item at fault', async () => {
    for (const [doc, field] of [
      [{ items: [] }, 'body.federatedCredentials'],
      [[{ name: 'x', issuer }], 'body.federatedCredentials[0]'],
      ['not json', 'body.federatedCredentials'],
    ] as const) {
      const r = await run(doc);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error!.field, field);
    }
  });
});

describe('identity check: GCP pool provider and service account policy', () => {
  const SA = 'lake-loader@data-lake-prod.iam.gserviceaccount.com';
  const NUMBER = '498127360554';
  let issuer: string;
  let namespace: string;
  let poolId: string;
  let providerId: string;
  let subjects: string[];
  let gcpClusterId: string;
  const pool = () => `principalSet://iam.googleapis.com/projects/${NUMBER}/locations/global/workloadIdentityPools/${poolId}`;
  const principal = (subject: string) => `principal://iam.googleapis.com/projects/${NUMBER}/locations/global/workloadIdentityPools/${poolId}/subject/${subject}`;
  // As `gcloud iam workload-identity-pools providers describe --format=json` prints the generated one.
  const provider = (o: { condition?: string | undefined; issuerUri?: string; disabled?: boolean; allowedAudiences?: string[] } = {}) => ({
    name: `projects/${NUMBER}/locations/global/workloadIdentityPools/${poolId}/providers/${providerId}`,
    displayName: 'Airlock etl',
    state: 'ACTIVE',
    disabled: o.disabled ?? false,
    oidc: { issuerUri: o.issuerUri ?? issuer, ...(o.allowedAudiences ? { allowedAudiences: o.allowedAudiences } : {}) },
    attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.namespace': "assertion['kubernetes.io']['namespace']", 'attribute.service_account_name': "assertion['kubernetes.io']['serviceaccount']['name']" },
    ...('condition' in o ? (o.condition === undefined ? {} : { attributeCondition: o.condition }) : { attributeCondition: `attribute.namespace == '${namespace}'` }),
  });
  const policy = (members: string[]) => ({ version: 1, etag: 'BwYx', bindings: [{ role: 'roles/iam.workloadIdentityUser', members }, { role: 'roles/iam.serviceAccountTokenCreator', members: [pool() + '/*'] }] });
  const run = (body: unknown) => s.api('POST', '/api/v1/deployments/gcp-etl/identity/check', body) as Promise<{ status: number; body: CheckBody & { error?: { code: string; field: string; message: string } } }>;

  before(async () => {
    const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-gcp', cloud: 'gcp', region: 'us-central1' });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    issuer = c.body.oidcIssuerUrl;
    gcpClusterId = c.body.id;
    assert.equal((await s.api('PUT', '/api/v1/identities', { name: 'lake', gcpServiceAccount: SA, gcpProjectNumber: NUMBER })).status, 200);
    const d = await s.api('POST', '/api/v1/deployments', { name: 'gcp-etl', cluster: 'prod-gcp', runtimeVersion: '12.1.0', workloadIdentity: 'lake' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    namespace = d.body.namespace;
    subjects = (d.body.components as { subject: string }[]).map((x) => x.subject);
    const setup = (await s.api('GET', '/api/v1/deployments/gcp-etl/identity/setup')).body;
    ({ poolId, providerId } = setup.gcp.workloadIdentityPool);
  });

  it('the generated provider and bindings: every component trusted, through its own principal', async () => {
    const r = await run({ provider: JSON.stringify(provider()), serviceAccountPolicy: policy(subjects.map(principal)) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.ok, r.body.checked, r.body.findings], [true, SA, []]);
    r.body.checks.forEach((c, i) => assert.equal(c.reason, `the provider admits it as ${principal(subjects[i]!)}; ${principal(subjects[i]!)} holds roles/iam.workloadIdentityUser on ${SA}`));
  });

  it('the CLI reads the two gcloud outputs from files or stdin', async () => {
    const env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const prov = join(SCRATCH, 'provider.json');
    const pol = join(SCRATCH, 'policy.json');
    writeFileSync(prov, JSON.stringify(provider()));
    writeFileSync(pol, JSON.stringify(policy([`${pool()}/*`])));
    const r = await cli(['deployment', 'identity', 'check', 'gcp-etl', '--provider', prov, '--service-account-policy', pol], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Deployment gcp-etl against lake-loader@data-lake-prod\.iam\.gserviceaccount\.com \(gcp, customer-managed\)$/m);
    assert.match(r.stdout, /^error: principalSet:\/\/\S+\/\* holds roles\/iam\.workloadIdentityUser/m);
    const two = await cli(['deployment', 'identity', 'check', 'gcp-etl', '--provider', '-', '--service-account-policy', '-'], env);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /only one document can come from stdin/);
  });

  it('the provider alone: admitted, the grant named as not checked', async () => {
    const r = await run({ provider: provider() });
    assert.equal(r.body.ok, true);
    assert.match(r.body.checks[0]!.reason, /the grant on lake-loader@data-lake-prod\.iam\.gserviceaccount\.com was not checked/);
    assert.deepEqual(r.body.findings.map((f) => f.severity), ['info']);
  });

  const refusedCases: [string, () => unknown, string, RegExp][] = [
    ['another namespace in the condition', () => ({ provider: provider({ condition: "attribute.namespace == 'someone-else'" }) }), 'worker', /rejected by the attribute condition.*\(unauthorized_client\)/],
    ['a trailing slash on the issuer', () => ({ provider: provider({ issuerUri: `${issuer}/` }) }), 'worker', /differ by a trailing slash, and Google compares exactly \(invalid_grant\)/],
    ['a disabled provider', () => ({ provider: provider({ disabled: true }) }), 'worker', /is disabled or deleted \(invalid_target\)/],
    ['allowed audiences without the provider', () => ({ provider: provider({ allowedAudiences: ['sts.amazonaws.com'] }) }), 'worker', /is not among the provider's allowed audiences sts\.amazonaws\.com \(invalid_grant\)/],
    ['a policy that binds only the worker', () => ({ provider: provider(), serviceAccountPolicy: policy([principal(subjects[1]!)]) }), 'scheduler', /but no roles\/iam\.workloadIdentityUser binding .* names it/],
  ];
  for (const [name, body, component, reason] of refusedCases) {
    it(`${name}: ${component} not trusted, with Google's reason`, async () => {
      const r = await run(body());
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.ok, false);
      const c = r.body.checks.find((x) => x.component === component)!;
      assert.equal(c.trusted, false);
      assert.match(c.reason, reason);
    });
  }

  it('a principal set by namespace is exactly the Deployment; the whole pool is every Deployment of the cluster (error)', async () => {
    const ns = await run({ provider: provider(), serviceAccountPolicy: policy([`${pool()}/attribute.namespace/${namespace}`]) });
    assert.deepEqual([ns.body.ok, ns.body.findings], [true, []]);
    const all = await run({ provider: provider(), serviceAccountPolicy: policy([`${pool()}/*`]) });
    assert.equal(all.body.ok, false);
    assert.equal(all.body.checks.every((c) => c.trusted), true);
    assert.deepEqual(all.body.findings.map((f) => f.severity), ['error']);
    assert.match(all.body.findings[0]!.message, /\/\* holds roles\/iam\.workloadIdentityUser .* takes in identities of other Deployments in pool/);
  });

  it('a provider with no condition: a warning alone, an error once the policy lets the outsider act as the account', async () => {
    const alone = await run({ provider: provider({ condition: undefined }) });
    assert.deepEqual(alone.body.findings.map((f) => f.severity), ['info', 'warning']);
    assert.match(alone.body.findings[1]!.message, /admits service accounts outside Deployment gcp-etl .* does not pin namespace/);
    const bound = await run({ provider: provider({ condition: undefined }), serviceAccountPolicy: policy([`${pool()}/attribute.service_account_name/airlock-check-other-worker-serviceaccount`, ...subjects.map(principal)]) });
    assert.equal(bound.body.ok, false);
    assert.deepEqual(bound.body.findings.map((f) => f.severity), ['error']);
    assert.match(bound.body.findings[0]!.message, /and the service account's policy lets it act as lake-loader@/);
  });

  it("the default identity: its grant on the customer's target account is checked from targetPolicy", async () => {
    assert.equal((await s.api('PATCH', '/api/v1/clusters/prod-gcp', { defaultIdentityProject: 'airlock-platform', defaultIdentityProjectNumber: NUMBER })).status, 200);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'gcp-default', cluster: 'prod-gcp', runtimeVersion: '12.1.0', workloadIdentity: 'default' })).status, 201);
    const q = `?gcpRoute=impersonation&targetServiceAccount=${encodeURIComponent(SA)}`;
    const setup = (await s.api('GET', `/api/v1/deployments/gcp-default/identity/setup${q}`)).body;
    const platformSa = (setup.gcp.members as string[])[0]!;
    assert.match(platformSa, /^serviceAccount:airlock-.*@airlock-platform\.iam\.gserviceaccount\.com$/);
    const { poolId: p, providerId: pr } = setup.gcp.workloadIdentityPool;
    const prov = { ...provider(), name: `projects/${NUMBER}/locations/global/workloadIdentityPools/${p}/providers/${pr}` };
    delete (prov as { attributeCondition?: string }).attributeCondition;
    const check = (targetPolicy: unknown) => s.api('POST', `/api/v1/deployments/gcp-default/identity/check${q}`, { provider: prov, targetPolicy });
    const granted = await check({ bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [platformSa] }] });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    const row = (granted.body as CheckBody).checks.find((c) => c.component === undefined)!;
    assert.deepEqual([row.principal, row.trusted, row.reason], [platformSa, true, `holds roles/iam.serviceAccountTokenCreator on ${SA}`]);
    const missing = await check({ bindings: [{ role: 'roles/iam.serviceAccountUser', members: [platformSa] }] });
    const no = (missing.body as CheckBody).checks.find((c) => c.component === undefined)!;
    assert.equal(no.trusted, false);
    assert.match(no.reason, /no roles\/iam\.serviceAccountTokenCreator binding on .* names serviceAccount:airlock-/);
    const own = await s.api('POST', '/api/v1/deployments/gcp-etl/identity/check', { provider: provider(), targetPolicy: { bindings: [] } });
    assert.deepEqual([own.status, own.body.error.field], [400, 'body.targetPolicy']);
  });

  it('an identity whose project number Airlock does not know: an error that says how to set it (workloads get no GCP tokens until then)', async () => {
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'gcp-nonum', cluster: 'prod-gcp', runtimeVersion: '12.1.0', workloadIdentity: SA })).status, 201);
    const r = await s.api('POST', '/api/v1/deployments/gcp-nonum/identity/check', { provider: provider({ condition: undefined }) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ok, false);
    assert.equal(r.body.findings[0].severity, 'error');
    assert.match(r.body.findings[0].message, new RegExp(`Set it: airlock identity save --name <name> --gcp-service-account ${SA} --gcp-project-number ${NUMBER}`));
  });

  // Held to the sandbox's Google: each case's provider and policy become the emulator's state, and a
  // component counts as trusted there when STS exchanges its real token and generateAccessToken
  // then makes it the service account.
  const agreement: [string, () => ReturnType<typeof provider>, () => string[]][] = [
    ['generated', () => provider(), () => subjects.map(principal)],
    ['namespace condition elsewhere', () => provider({ condition: "attribute.namespace == 'someone-else'" }), () => subjects.map(principal)],
    ['only the worker bound', () => provider(), () => [principal(subjects[1]!)]],
    ['no condition, the whole pool bound', () => provider({ condition: undefined }), () => [`${pool()}/*`]],
    ['a disabled provider', () => provider({ disabled: true }), () => subjects.map(principal)],
    ['another audience allowed', () => provider({ allowedAudiences: ['https://example.invalid'] }), () => subjects.map(principal)],
  ];
  for (const [name, prov, members] of agreement) {
    it(`agrees with the sandbox's STS and IAM Credentials: ${name}`, async () => {
      const doc = prov();
      const { name: _name, displayName: _d, state: _s, ...rest } = doc;
      const gcp = Fastify();
      await gcp.register(
        createGcpEmulator({
          clock: systemClock,
          config: {
            projects: [
              {
                projectId: 'data-lake-prod',
                projectNumber: NUMBER,
                workloadIdentityPools: [{ poolId, providers: [{ providerId, ...rest }] }],
                serviceAccounts: [{ accountId: 'lake-loader', iamPolicy: { bindings: [{ role: 'roles/iam.workloadIdentityUser', members: members() }] } }],
              },
            ],
          },
        }).plugin,
      );
      await gcp.listen({ host: '127.0.0.1', port: 0 });
      const emu = `http://127.0.0.1:${(gcp.server.address() as { port: number }).port}`;
      const audience = `//iam.googleapis.com/projects/${NUMBER}/locations/global/workloadIdentityPools/${poolId}/providers/${providerId}`;
      const googleAllows = async (ns: string, serviceAccount: string) => {
        const { token } = await s.app.minter.mint({ clusterId: gcpClusterId, namespace: ns, serviceAccount, serviceAccountUid: '00000000-0000-0000-0000-000000000002', audiences: [audience] });
        const sts = await fetch(`${emu}/v1/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            audience,
            scope: 'https://www.googleapis.com/auth/cloud-platform',
            requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
            subject_token: token,
          }),
        });
        if (sts.status !== 200) return false;
        const fed = (await sts.json()) as { access_token: string };
        const res = await fetch(`${emu}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`, {
          method: 'POST',
          headers: { authorization: `Bearer ${fed.access_token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/cloud-platform'] }),
        });
        assert.ok(res.status === 200 || res.status === 403, `generateAccessToken answered ${res.status}`);
        return res.status === 200;
      };
      try {
        const r = await run({ provider: doc, serviceAccountPolicy: policy(members()) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        for (const c of r.body.checks) {
          const sa = c.principal.split(':').pop()!;
          assert.equal(await googleAllows(namespace, sa), c.trusted, `Google and the check disagree on ${c.component}: ${c.reason}`);
        }
        const outsider = await googleAllows('airlock-check-other', 'airlock-check-other-worker-serviceaccount');
        assert.equal(outsider, r.body.findings.some((f) => f.severity === 'error' && /outside Deployment/.test(f.message)), 'the outsider finding matches what Google does');
      } finally {
        await gcp.close();
      }
    });
  }

  const invalid: [string, () => unknown, string][] = [
    ['no provider', () => ({ serviceAccountPolicy: policy([]) }), 'body.provider'],
    ['a provider name that is not a resource name', () => ({ provider: { ...provider(), name: 'ns-etl' } }), 'body.provider.name'],
    ['a condition that is not CEL', () => ({ provider: provider({ condition: "attribute.namespace == 'x" }) }), 'body.provider.attributeCondition'],
    ['a mapping without google.subject', () => ({ provider: { ...provider(), attributeMapping: { 'attribute.namespace': 'assertion.sub' } } }), 'body.provider.attributeMapping["google.subject"]'],
    ['a policy whose bindings are not a list', () => ({ provider: provider(), serviceAccountPolicy: { bindings: {} } }), 'body.serviceAccountPolicy.bindings'],
    ["AWS's document", () => ({ trustPolicy: '{}' }), 'body.trustPolicy'],
  ];
  for (const [name, body, field] of invalid) {
    it(`refuses ${name}: 400 at ${field}`, async () => {
      const r = await run(body());
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error!.field, field);
    });
  }
});
