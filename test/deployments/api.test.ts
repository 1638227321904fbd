import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { evaluateTrustPolicy, parseTrustPolicy } from '../../src/aws-policy/trust-policy.ts';
import { startServer, type TestServer } from '../helpers/app.ts';

const ARN = 'arn:aws:iam::123456789012:role/etl-reader';
const AZ = {
  managedIdentityName: 'blob-mi',
  resourceGroup: 'data-rg',
  subscriptionId: '11111111-2222-3333-4444-555555555555',
  clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  tenantId: '99999999-8888-7777-6666-555555555555',
};

describe('Deployments and their workload identity (API)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    for (const body of [
      { name: 'prod-aws', cloud: 'aws', type: 'dedicated', region: 'us-east-1', defaultIdentityAccount: '210987654321' },
      { name: 'shared-aws', cloud: 'aws', type: 'standard', region: 'eu-west-1' },
      { name: 'prod-gcp', cloud: 'gcp', type: 'standard', region: 'us-central1', defaultIdentityProject: 'airlock-platform' },
      { name: 'prod-azure', cloud: 'azure', type: 'standard', region: 'eastus' },
    ]) {
      assert.equal((await s.api('POST', '/api/v1/clusters', body)).status, 201);
    }
  });
  after(() => s.close());

  const create = (body: Record<string, unknown>) => s.api('POST', '/api/v1/deployments', { runtimeVersion: '12.1.0', ...body });

  it('creates a Deployment with an IAM role: namespace, six component subjects, issuer, both identity views', async () => {
    const r = await create({ name: 'etl', cluster: 'prod-aws', workloadIdentity: ARN });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const d = r.body;
    assert.match(d.id, /^dep_[0-9a-z]{20}$/);
    assert.match(d.namespace, /^etl-[0-9a-z]{8}$/);
    assert.equal(d.components.length, 6);
    assert.deepEqual(
      d.components.map((c: { serviceAccount: string }) => c.serviceAccount),
      ['scheduler', 'worker', 'triggerer', 'webserver', 'dag-processor'].map((c) => `${d.namespace}-${c}-serviceaccount`).concat(`${d.namespace}-kpo`),
    );
    assert.equal(d.components[1].subject, `system:serviceaccount:${d.namespace}:${d.namespace}-worker-serviceaccount`);
    assert.match(d.oidcIssuerUrl, /\/clusters\/cl_[0-9a-z]{20}$/);
    assert.deepEqual({ type: d.workloadIdentity.type, value: d.workloadIdentity.value }, { type: 'aws-iam-role', value: ARN });
    assert.deepEqual({ mode: d.effectiveWorkloadIdentity.mode, value: d.effectiveWorkloadIdentity.value }, { mode: 'customer-managed', value: ARN });
  });

  it('PATCH: absent keeps, "default" and null reset to the default identity', async () => {
    const unchanged = await s.api('PATCH', '/api/v1/deployments/etl', { description: 'nightly' });
    assert.equal(unchanged.body.workloadIdentity.value, ARN);
    assert.equal(unchanged.body.description, 'nightly');
    for (const reset of ['default', null]) {
      const r = await s.api('PATCH', '/api/v1/deployments/etl', { workloadIdentity: reset });
      assert.equal(r.status, 200);
      assert.equal(r.body.workloadIdentity, null);
      assert.equal(r.body.effectiveWorkloadIdentity.mode, 'default');
      assert.equal(r.body.effectiveWorkloadIdentity.value, `arn:aws:iam::210987654321:role/airlock-${r.body.namespace}`);
      await s.api('PATCH', '/api/v1/deployments/etl', { workloadIdentity: ARN });
    }
  });

  it('without platform settings there is no default identity, said plainly', async () => {
    const r = await create({ name: 'no-default', cluster: 'shared-aws' });
    assert.equal(r.body.effectiveWorkloadIdentity, null);
    assert.match(r.body.effectiveWorkloadIdentityReason, /--default-identity-account/);
    const setup = await s.api('GET', '/api/v1/deployments/no-default/identity/setup');
    assert.equal(setup.status, 422);
    assert.equal(setup.body.error.code, 'ERR_RULE_VIOLATION');
  });

  it('GCP default identity is airlock-<ns>@<platform project>, within Google\'s 30 characters', async () => {
    const r = await create({ name: 'a-rather-long-deployment-name', cluster: 'prod-gcp' });
    const email: string = r.body.effectiveWorkloadIdentity.value;
    assert.equal(email, `airlock-${r.body.namespace}@airlock-platform.iam.gserviceaccount.com`);
    assert.ok(email.split('@')[0]!.length <= 30);
    const before = await s.api('GET', `/api/v1/deployments/${r.body.name}/identity/setup?gcpRoute=impersonation&targetServiceAccount=lake-reader@my-proj.iam.gserviceaccount.com`);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.ok(before.body.placeholders.some((p: { name: string }) => p.name === 'PLATFORM_PROJECT_NUMBER'), 'without the number, setup says what to fill in');
    assert.equal((await s.api('PATCH', '/api/v1/clusters/prod-gcp', { defaultIdentityProjectNumber: '123456789012' })).status, 200);
    const after = await s.api('GET', `/api/v1/deployments/${r.body.name}/identity/setup?gcpRoute=impersonation&targetServiceAccount=lake-reader@my-proj.iam.gserviceaccount.com`);
    assert.deepEqual(after.body.placeholders.filter((p: { name: string }) => p.name === 'PLATFORM_PROJECT_NUMBER'), []);
    assert.match(after.body.audience, /^\/\/iam\.googleapis\.com\/projects\/123456789012\/locations\/global\/workloadIdentityPools\//);
    const wrongCloud = await s.api('PATCH', '/api/v1/clusters/prod-aws', { defaultIdentityProjectNumber: '123456789012' });
    assert.equal(wrongCloud.status, 422);
  });

  const refusals: { name: string; body: Record<string, unknown>; status: number; code: string; field: string; mentions?: RegExp }[] = [
    { name: 'runtime too old for a customer AWS role', body: { name: 'old', cluster: 'prod-aws', runtimeVersion: '10.8.0', workloadIdentity: ARN }, status: 422, code: 'ERR_RULE_VIOLATION', field: 'body.runtimeVersion', mentions: /10\.9\.0/ },
    { name: 'not a workload identity', body: { name: 'bad', cluster: 'prod-aws', workloadIdentity: 'arn:aws:s3:::bucket' }, status: 400, code: 'ERR_VALIDATION', field: 'body.workloadIdentity', mentions: /saved identity/ },
    { name: 'an unknown saved identity', body: { name: 'bad', cluster: 'prod-aws', workloadIdentity: 'nobody' }, status: 400, code: 'ERR_VALIDATION', field: 'body.workloadIdentity', mentions: /no saved identity named "nobody"/ },
    { name: 'an unknown cluster', body: { name: 'bad', cluster: 'nowhere' }, status: 400, code: 'ERR_VALIDATION', field: 'body.cluster' },
    { name: 'a runtime that is not semver', body: { name: 'bad', cluster: 'prod-aws', runtimeVersion: '12' }, status: 400, code: 'ERR_VALIDATION', field: 'body.runtimeVersion' },
    { name: 'a duplicate name', body: { name: 'etl', cluster: 'prod-gcp' }, status: 409, code: 'ERR_CONFLICT', field: 'body.name' },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}, and creates nothing`, async () => {
      const before = (await s.api('GET', '/api/v1/deployments?limit=100')).body.items.length;
      const r = await create(c.body);
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      assert.equal(r.body.error.code, c.code);
      assert.equal(r.body.error.field, c.field);
      if (c.mentions) assert.match(r.body.error.message, c.mentions);
      assert.equal((await s.api('GET', '/api/v1/deployments?limit=100')).body.items.length, before);
    });
  }

  it('a runtime downgrade below the identity\'s minimum is refused and changes nothing', async () => {
    const r = await s.api('PATCH', '/api/v1/deployments/etl', { runtimeVersion: '9.1.0', description: 'changed' });
    assert.equal(r.status, 422);
    const d = (await s.api('GET', '/api/v1/deployments/etl')).body;
    assert.equal(d.runtimeVersion, '12.1.0');
    assert.equal(d.description, 'nightly');
  });

  it('saved identities: select by name; delete refused while used, or resets explicitly', async () => {
    const saved = await s.api('PUT', '/api/v1/identities', { name: 'etl-reader', awsRoleArn: 'arn:aws:iam::123456789012:role/data/etl-reader' });
    assert.equal(saved.status, 200);
    assert.equal(saved.body.created, true);
    const d = await create({ name: 'uses-saved', cluster: 'prod-aws', workloadIdentity: 'etl-reader' });
    assert.equal(d.body.workloadIdentity.type, 'saved');
    assert.equal(d.body.workloadIdentity.savedIdentityName, 'etl-reader');
    const opts = await s.api('GET', '/api/v1/deployment-options?cluster=prod-aws');
    assert.deepEqual(opts.body.workloadIdentityOptions.map((o: { name: string; deploymentsUsing: number }) => [o.name, o.deploymentsUsing]), [['etl-reader', 1]]);
    assert.equal(opts.body.defaultIdentity.available, true);

    const refused = await s.api('DELETE', '/api/v1/identities/etl-reader');
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /uses-saved/);
    const cascaded = await s.api('DELETE', '/api/v1/identities/etl-reader?resetDeployments=true');
    assert.deepEqual(cascaded.body.resetDeployments, ['uses-saved']);
    const after = (await s.api('GET', '/api/v1/deployments/uses-saved')).body;
    assert.equal(after.workloadIdentity, null);
    assert.equal(after.effectiveWorkloadIdentity.mode, 'default');
  });

  it('Azure: one managed identity serves at most three Deployments (6 components × 3 ≤ 20 credentials)', async () => {
    assert.equal((await s.api('PUT', '/api/v1/identities', { name: 'blob-mi', azure: AZ })).status, 200);
    // A second saved name for the same managed identity counts against the same limit.
    assert.equal((await s.api('PUT', '/api/v1/identities', { name: 'blob-mi-alias', azure: { ...AZ, clientId: AZ.clientId.toUpperCase() } })).status, 200);
    for (const n of ['az1', 'az2']) assert.equal((await create({ name: n, cluster: 'prod-azure', workloadIdentity: 'blob-mi' })).status, 201);
    assert.equal((await create({ name: 'az3', cluster: 'prod-azure', workloadIdentity: 'blob-mi-alias' })).status, 201);
    const fourth = await create({ name: 'az4', cluster: 'prod-azure', workloadIdentity: 'blob-mi' });
    assert.equal(fourth.status, 422);
    assert.match(fourth.body.error.message, /already serves 3 Deployment\(s\) \(az1, az2, az3\)/);
    assert.equal((await s.api('GET', '/api/v1/deployments/az4')).status, 404);
  });

  it('Azure capacity counts only the managed identity in question', async () => {
    assert.equal((await s.api('PUT', '/api/v1/identities', { name: 'other-mi', azure: { ...AZ, clientId: 'bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee' } })).status, 200);
    assert.equal((await create({ name: 'az4', cluster: 'prod-azure', workloadIdentity: 'other-mi' })).status, 201);
  });

  it('saved identity validation names the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', awsRoleArn: 'arn:aws:iam::1:role/x' }, 'body.awsRoleArn'],
      [{ name: 'x', azure: { ...AZ, tenantId: 'not-a-guid' } }, 'body.azure.tenantId'],
      [{ name: 'x', awsRoleArn: ARN, gcpServiceAccount: 'lake-reader@my-proj.iam.gserviceaccount.com' }, 'body.gcpServiceAccount'],
      [{ name: 'Bad Name', awsRoleArn: ARN }, 'body.name'],
    ];
    for (const [body, field] of cases) {
      const r = await s.api('PUT', '/api/v1/identities', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.field, field);
    }
  });

  it('wildcard setup only on dedicated clusters', async () => {
    await create({ name: 'on-shared', cluster: 'shared-aws', workloadIdentity: ARN });
    const refused = await s.api('GET', '/api/v1/deployments/on-shared/identity/setup?wildcard=true');
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.field, 'query.wildcard');
    const ok = await s.api('GET', '/api/v1/deployments/etl/identity/setup?wildcard=true');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.aws.trustPolicy.Statement[0].Condition.StringLike[`${new URL(ok.body.issuerUrl).host}${new URL(ok.body.issuerUrl).pathname}:sub`], 'system:serviceaccount:*:*');
  });

  it('AWS setup: its trust policy admits exactly this Deployment\'s six subjects', async () => {
    const d = (await s.api('GET', '/api/v1/deployments/etl')).body;
    const r = await s.api('GET', '/api/v1/deployments/etl/identity/setup');
    assert.equal(r.status, 200);
    const setup = r.body;
    for (const k of ['cloud', 'mode', 'issuerUrl', 'audience', 'subjects', 'steps', 'aws', 'connection']) assert.ok(k in setup, k);
    assert.equal(setup.issuerUrl, d.oidcIssuerUrl);
    assert.equal(setup.audience, 'sts.amazonaws.com');
    assert.deepEqual(setup.subjects, d.components.map((c: { subject: string }) => c.subject));
    const policy = parseTrustPolicy(setup.aws.trustPolicy);
    const provider = `${new URL(d.oidcIssuerUrl).host}${new URL(d.oidcIssuerUrl).pathname}`;
    const ask = (sub: string, aud = 'sts.amazonaws.com') =>
      evaluateTrustPolicy(policy, {
        action: 'sts:AssumeRoleWithWebIdentity',
        principal: { type: 'Federated', id: setup.aws.oidcProviderArn },
        context: { [`${provider}:sub`]: sub, [`${provider}:aud`]: aud },
      }).decision;
    for (const sub of setup.subjects) assert.equal(ask(sub), 'allow', sub);
    const other = (await s.api('GET', '/api/v1/deployments/no-default')).body.components[0].subject;
    assert.equal(ask(other), 'implicit-deny');
    assert.equal(ask(setup.subjects[0], 'api://AzureADTokenExchange'), 'implicit-deny');
    const tf = await s.api('GET', '/api/v1/deployments/etl/identity/terraform');
    assert.equal(tf.status, 200);
    assert.match(tf.headers.get('content-type')!, /^text\/plain/);
    assert.match(tf.body, /resource "aws_iam_openid_connect_provider"/);
  });

  it('lists with pagination and filters; a cluster with Deployments cannot be deleted', async () => {
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await s.api('GET', `/api/v1/deployments?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      all.push(...page.items.map((d: { name: string }) => d.name));
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.length >= 8);
    const azure = (await s.api('GET', '/api/v1/deployments?cluster=prod-azure&limit=100')).body.items.map((d: { name: string }) => d.name);
    assert.deepEqual(azure.sort(), ['az1', 'az2', 'az3', 'az4']);
    const del = await s.api('DELETE', '/api/v1/clusters/prod-azure');
    assert.equal(del.status, 409);
    assert.match(del.body.error.message, /az1/);
  });
});
