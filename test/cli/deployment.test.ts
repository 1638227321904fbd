import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

/** The commands of the identity issue, as a user types them. */
describe('airlock deployment / identity CLI', () => {
  let s: TestServer;
  let env: Record<string, string>;
  before(async () => {
    s = await startServer();
    env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const c = await airlock(['cluster', 'create', '--name', 'prod-aws', '--cloud', 'aws', '--type', 'dedicated', '--region', 'us-east-1', '--default-identity-account', '210987654321'], env);
    assert.equal(c.code, 0, c.stderr);
  });
  after(() => s.close());

  it('deployment create with an IAM role, then inspect --show-workload-identity -o json', async () => {
    const c = await airlock(['deployment', 'create', '--name', 'etl', '--cluster', 'prod-aws', '--runtime-version', '12.1.0', '--workload-identity', 'arn:aws:iam::123456789012:role/etl-reader'], env);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /etl\s+dep_[0-9a-z]{20}\s+prod-aws\s+12\.1\.0\s+etl-[0-9a-z]{8}\s+arn:aws:iam::123456789012:role\/etl-reader/);
    const i = await airlock(['deployment', 'inspect', 'etl', '--show-workload-identity', '-o', 'json'], env);
    const wi = JSON.parse(i.stdout);
    assert.equal(wi.workloadIdentity.value, 'arn:aws:iam::123456789012:role/etl-reader');
    assert.equal(wi.effectiveWorkloadIdentity.mode, 'customer-managed');
    assert.equal(wi.subjects.length, 6);
    assert.match(wi.oidcIssuerUrl, /\/clusters\/cl_/);
  });

  it('identity setup: human steps, -o json, and --format terraform that parses', async () => {
    const text = await airlock(['deployment', 'identity', 'setup', 'etl'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Workload identity setup for Deployment etl \(aws, customer-managed\)/);
    assert.match(text.stdout, /Step 1\. .*\n/);
    assert.match(text.stdout, /\$ aws iam create-open-id-connect-provider --url /);
    assert.match(text.stdout, /Save as trust-policy\.json/);
    const json = JSON.parse((await airlock(['deployment', 'identity', 'setup', 'etl', '-o', 'json'], env)).stdout);
    assert.equal(json.cloud, 'aws');
    assert.equal(json.subjects.length, 6);
    const tf = await airlock(['deployment', 'identity', 'setup', 'etl', '--format', 'terraform'], env);
    assert.equal(tf.code, 0, tf.stderr);
    const parsed = (await parseHcl('main.tf', tf.stdout)) as { resource?: Record<string, unknown> };
    assert.ok(parsed.resource?.aws_iam_openid_connect_provider, 'an OIDC provider resource');
    assert.ok(parsed.resource?.aws_iam_role, 'a role resource');
  });

  it('--wildcard works on a dedicated cluster; update --workload-identity default resets', async () => {
    const w = await airlock(['deployment', 'identity', 'setup', 'etl', '--wildcard', '-o', 'json'], env);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /system:serviceaccount:\*:\*/);
    const u = await airlock(['deployment', 'update', 'etl', '--workload-identity', 'default', '-o', 'json'], env);
    const d = JSON.parse(u.stdout);
    assert.equal(d.workloadIdentity, null);
    assert.equal(d.effectiveWorkloadIdentity.value, `arn:aws:iam::210987654321:role/airlock-${d.namespace}`);
  });

  it('identity save for each cloud, list, and refusals', async () => {
    const guid = (n: number) => `${String(n).repeat(8)}-1111-2222-3333-444444444444`;
    const saves = [
      ['--name', 'etl-reader', '--aws-role-arn', 'arn:aws:iam::123456789012:role/etl-reader'],
      ['--name', 'lake-sa', '--gcp-service-account', 'lake-reader@my-proj.iam.gserviceaccount.com'],
      ['--name', 'blob-mi', '--azure-managed-identity', 'blob-mi', '--resource-group', 'data-rg', '--subscription-id', guid(1), '--client-id', guid(2), '--tenant-id', guid(3)],
    ];
    for (const args of saves) {
      const r = await airlock(['identity', 'save', ...args], env);
      assert.equal(r.code, 0, r.stderr);
    }
    const list = await airlock(['identity', 'list'], env);
    assert.match(list.stdout, /blob-mi\s+azure\s+\/subscriptions\/11111111-1111-2222-3333-444444444444\/resourceGroups\/data-rg\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/blob-mi/);
    assert.match(list.stdout, /etl-reader\s+aws\s+arn:aws:iam::123456789012:role\/etl-reader/);

    const partial = await airlock(['identity', 'save', '--name', 'x', '--azure-managed-identity', 'mi', '--resource-group', 'rg'], env);
    assert.equal(partial.code, 2);
    assert.match(partial.stderr, /field: --subscription-id/);
    const shortId = await airlock(['identity', 'save', '--name', 'lake', '--gcp-service-account', 'lake@my-proj.iam.gserviceaccount.com'], env);
    assert.equal(shortId.code, 1);
    assert.match(shortId.stderr, /ERR_VALIDATION/);

    const bad = await airlock(['deployment', 'create', '--name', 'x', '--cluster', 'prod-aws', '--runtime-version', '12.1.0', '--workload-identity', 'bob@example.com'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /IAM role ARN.*service account email.*saved identity.*default/s);

    const used = await airlock(['deployment', 'update', 'etl', '--workload-identity', 'etl-reader'], env);
    assert.equal(used.code, 0, used.stderr);
    const refused = await airlock(['identity', 'delete', 'etl-reader'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERR_CONFLICT.*etl/);
    const cascaded = await airlock(['identity', 'delete', 'etl-reader', '--reset-deployments'], env);
    assert.match(cascaded.stdout, /reset to the default identity: etl/);
  });

  it('wildcard on a standard cluster is refused with the rule', async () => {
    await airlock(['cluster', 'create', '--name', 'shared', '--cloud', 'aws', '--region', 'us-east-1'], env);
    await airlock(['deployment', 'create', '--name', 'std', '--cluster', 'shared', '--runtime-version', '12.1.0', '--workload-identity', 'arn:aws:iam::123456789012:role/x'], env);
    const r = await airlock(['deployment', 'identity', 'setup', 'std', '--wildcard', '-o', 'json'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_RULE_VIOLATION: wildcard trust .* only allowed on dedicated clusters/);
  });
});
