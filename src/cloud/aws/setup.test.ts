import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { matchGolden } from '../../../test/helpers/golden.ts';
import { describe, it } from 'node:test';
import { parse } from '@cdktf/hcl2json';
import { componentIdentities, WILDCARD_SUBJECT } from '../../deployments/components.ts';
import { AppError } from '../../errors/index.ts';
import type { ClusterType } from '../../domain/terms.ts';
import type { SetupInput, SetupResult } from '../types.ts';
import { AWS_TOKEN_FILE, awsProvider, parseRoleArn } from './setup.ts';
import { evaluateTrustPolicy, parseTrustPolicy, type TrustRequest } from '../../aws-policy/trust-policy.ts';
import { tfJsonValue } from '../../../test/helpers/terraform.ts';

// ---- fixed input -----------------------------------------------------------------------------

const NS = 'etl-7f3k2q9x';
const CLUSTER_ID = 'cl_0123456789abcdefghjk';
const ISSUER = `http://127.0.0.1:8080/clusters/${CLUSTER_ID}`;
const HOST = `127.0.0.1:8080/clusters/${CLUSTER_ID}`;
const CUSTOMER_ACCOUNT = '123456789012';
const PLATFORM_ACCOUNT = '111122223333';
const CUSTOMER_ROLE = `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/data/etl-reader`;
const DEFAULT_ROLE_NAME = `airlock-${NS}`;
const DEFAULT_ROLE = `arn:aws:iam::${PLATFORM_ACCOUNT}:role/airlock/${DEFAULT_ROLE_NAME}`;
const SUBJECTS = componentIdentities(NS).map((c) => c.subject);
const OTHER_SUBJECT = 'system:serviceaccount:etl-9zzzzzzz:etl-9zzzzzzz-worker-serviceaccount';
const OTHER_HOST = '127.0.0.1:8080/clusters/cl_zzzzzzzzzzzzzzzzzzzz';

interface InputOptions {
  mode?: 'customer-managed' | 'default';
  type?: ClusterType;
  wildcard?: boolean;
  partition?: 'aws' | 'aws-cn' | 'aws-us-gov';
  roleArn?: string;
  target?: string;
  issuer?: string;
}

function buildInput(o: InputOptions = {}): SetupInput {
  const partition = o.partition ?? 'aws';
  const swap = (arn: string) => arn.replace(/^arn:aws:/, `arn:${partition}:`);
  const identity: SetupInput['identity'] =
    (o.mode ?? 'customer-managed') === 'customer-managed'
      ? { mode: 'customer-managed', identity: { cloud: 'aws', roleArn: o.roleArn ?? swap(CUSTOMER_ROLE) } }
      : { mode: 'default', identity: { cloud: 'aws', accountId: PLATFORM_ACCOUNT, roleArn: swap(DEFAULT_ROLE), roleName: DEFAULT_ROLE_NAME } };
  return {
    deployment: { id: 'dep_0123456789abcdefghjk', name: 'etl', namespace: NS, runtimeVersion: '11.5.0' },
    cluster: { id: CLUSTER_ID, name: 'data-eu', cloud: 'aws', type: o.type ?? 'standard', region: 'eu-west-1', oidcIssuerUrl: o.issuer ?? ISSUER },
    components: componentIdentities(NS),
    identity,
    wildcard: o.wildcard ?? false,
    ...(o.target ? { target: { awsRoleArn: o.target } } : {}),
  };
}

// ---- policy helpers --------------------------------------------------------------------------

function web(policy: unknown, o: { sub: string; aud?: string; provider: string; host?: string }) {
  const host = o.host ?? HOST;
  const req: TrustRequest = {
    action: 'sts:AssumeRoleWithWebIdentity',
    principal: { type: 'Federated', id: o.provider },
    context: { [`${host}:sub`]: o.sub, [`${host}:aud`]: o.aud ?? 'sts.amazonaws.com' },
  };
  // Through the text form too: the parser rejects repeated keys, which an object cannot show.
  const parsed = parseTrustPolicy(JSON.stringify(policy, null, 2));
  return evaluateTrustPolicy(parsed, req).decision;
}

function chained(policy: unknown, principal: string, action = 'sts:AssumeRole') {
  return evaluateTrustPolicy(parseTrustPolicy(JSON.stringify(policy)), { action, principal: { type: 'AWS', id: principal }, context: {} }).decision;
}

function federatedPolicy(r: SetupResult): Record<string, unknown> {
  return r.mode === 'default' ? r.aws!.platform!.trustPolicy : r.aws!.trustPolicy;
}

// ---- the table -------------------------------------------------------------------------------

const CASES = (['customer-managed', 'default'] as const).flatMap((mode) =>
  (['standard', 'dedicated'] as const).flatMap((type) =>
    [false, true].filter((wildcard) => !wildcard || type === 'dedicated').map((wildcard) => ({ mode, type, wildcard })),
  ),
);

describe('awsProvider.setup: every generated trust policy, through the IAM evaluator', () => {
  for (const { mode, type, wildcard } of CASES) {
    describe(`${mode}, ${type} cluster${wildcard ? ', wildcard' : ''}`, () => {
      const result = awsProvider.setup(buildInput({ mode, type, wildcard }));
      const policy = federatedPolicy(result);
      const accountId = mode === 'default' ? PLATFORM_ACCOUNT : CUSTOMER_ACCOUNT;
      const provider = `arn:aws:iam::${accountId}:oidc-provider/${HOST}`;

      it('names the issuer, audience, subjects and OIDC provider ARN', () => {
        assert.equal(result.cloud, 'aws');
        assert.equal(result.mode, mode);
        assert.equal(result.issuerUrl, ISSUER);
        assert.equal(result.audience, 'sts.amazonaws.com');
        assert.deepEqual(result.subjects, SUBJECTS);
        assert.equal(result.aws!.oidcProviderArn, provider);
        assert.match(result.steps[0]!.commands[0]!, new RegExp(`^aws iam create-open-id-connect-provider --url ${ISSUER} --client-id-list sts\\.amazonaws\\.com$`));
      });

      it('is one Allow statement for the provider, sts:AssumeRoleWithWebIdentity, the audience and the subjects as ONE key', () => {
        const statements = (policy as { Statement: Record<string, unknown>[] }).Statement;
        assert.equal((policy as { Version: string }).Version, '2012-10-17');
        assert.equal(statements.length, 1);
        const s = statements[0]!;
        assert.equal(s.Effect, 'Allow');
        assert.deepEqual(s.Principal, { Federated: provider });
        assert.equal(s.Action, 'sts:AssumeRoleWithWebIdentity');
        const expected = wildcard
          ? { StringEquals: { [`${HOST}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${HOST}:sub`]: WILDCARD_SUBJECT } }
          : { StringEquals: { [`${HOST}:aud`]: 'sts.amazonaws.com', [`${HOST}:sub`]: SUBJECTS } };
        assert.deepEqual(s.Condition, expected);
      });

      for (const sub of SUBJECTS) {
        it(`allows ${sub.split(':').pop()}`, () => {
          assert.equal(web(policy, { sub, provider }), 'allow');
        });
      }

      it(wildcard ? "allows another Deployment's service account (wildcard)" : "denies another Deployment's service account", () => {
        assert.equal(web(policy, { sub: OTHER_SUBJECT, provider }), wildcard ? 'allow' : 'implicit-deny');
      });

      it('denies a token with the wrong audience', () => {
        assert.equal(web(policy, { sub: SUBJECTS[0]!, provider, aud: 'api://AzureADTokenExchange' }), 'implicit-deny');
      });

      it("denies another issuer's provider, even with this Deployment's subject", () => {
        const other = `arn:aws:iam::${accountId}:oidc-provider/${OTHER_HOST}`;
        assert.equal(web(policy, { sub: SUBJECTS[0]!, provider: other, host: OTHER_HOST }), 'implicit-deny');
      });

      it('denies the same provider name in another account', () => {
        assert.equal(web(policy, { sub: SUBJECTS[0]!, provider: `arn:aws:iam::999999999999:oidc-provider/${HOST}` }), 'implicit-deny');
      });

      it('lists the document the trust command reads', () => {
        const step = result.steps.find((s) => s.document?.content === policy)!;
        assert.ok(step, 'a step carries the federated trust policy');
        const roleName = mode === 'default' ? DEFAULT_ROLE_NAME : 'etl-reader';
        assert.equal(step.commands[0], `aws iam update-assume-role-policy --role-name ${roleName} --policy-document file://${step.document!.filename}`);
      });

      if (mode === 'customer-managed') {
        it('connects with web identity from the Airlock token file', () => {
          assert.equal(result.aws!.roleArn, CUSTOMER_ROLE);
          assert.deepEqual(result.connection, {
            conn_type: 'aws',
            extra: {
              role_arn: CUSTOMER_ROLE,
              region_name: 'eu-west-1',
              assume_role_method: 'assume_role_with_web_identity',
              assume_role_with_web_identity_federation: 'file',
              assume_role_with_web_identity_token_file: AWS_TOKEN_FILE,
            },
          });
          assert.deepEqual(result.placeholders, []);
        });
      } else {
        it("the customer's policy allows the default role and its sessions to sts:AssumeRole, and nothing else", () => {
          const customer = result.aws!.trustPolicy;
          assert.equal(result.aws!.platform!.roleArn, DEFAULT_ROLE);
          assert.equal(chained(customer, DEFAULT_ROLE), 'allow');
          assert.equal(chained(customer, `arn:aws:sts::${PLATFORM_ACCOUNT}:assumed-role/${DEFAULT_ROLE_NAME}/Airflow_aws_default`), 'allow');
          assert.equal(chained(customer, `arn:aws:iam::${PLATFORM_ACCOUNT}:role/airlock/airlock-etl-9zzzzzzz`), 'implicit-deny');
          assert.equal(chained(customer, `arn:aws:sts::${PLATFORM_ACCOUNT}:assumed-role/airlock-etl-9zzzzzzz/s`), 'implicit-deny');
          assert.equal(chained(customer, `arn:aws:iam::999999999999:role/airlock/${DEFAULT_ROLE_NAME}`), 'implicit-deny');
          assert.equal(chained(customer, DEFAULT_ROLE, 'sts:AssumeRoleWithWebIdentity'), 'implicit-deny');
          assert.equal(web(customer, { sub: SUBJECTS[0]!, provider }), 'implicit-deny');
        });

        it('uses placeholders for the unknown customer role, and plain AssumeRole in the connection', () => {
          assert.equal(result.aws!.roleArn, '${CUSTOMER_ROLE_ARN}');
          assert.deepEqual(result.connection, { conn_type: 'aws', extra: { role_arn: '${CUSTOMER_ROLE_ARN}', region_name: 'eu-west-1' } });
          assert.deepEqual(
            result.placeholders.map((p) => p.name),
            ['CUSTOMER_ROLE_ARN', 'CUSTOMER_ROLE_NAME'],
          );
          assert.ok(result.steps.some((s) => s.commands.includes('aws iam update-assume-role-policy --role-name "${CUSTOMER_ROLE_NAME}" --policy-document file://trust-policy.json')));
          assert.equal(result.environment!.AWS_ROLE_ARN, DEFAULT_ROLE, 'the SDK chain starts as the default role');
        });
      }

      it('is deterministic', () => {
        assert.equal(JSON.stringify(awsProvider.setup(buildInput({ mode, type, wildcard }))), JSON.stringify(result));
      });
    });
  }
});

describe('awsProvider.setup: partitions, role paths and targets', () => {
  for (const partition of ['aws-cn', 'aws-us-gov'] as const) {
    it(`${partition}: provider and role ARNs carry the partition and the policy allows exactly them`, () => {
      const r = awsProvider.setup(buildInput({ partition }));
      const provider = `arn:${partition}:iam::${CUSTOMER_ACCOUNT}:oidc-provider/${HOST}`;
      assert.equal(r.aws!.oidcProviderArn, provider);
      assert.equal(r.aws!.roleArn, `arn:${partition}:iam::${CUSTOMER_ACCOUNT}:role/data/etl-reader`);
      assert.equal(web(r.aws!.trustPolicy, { sub: SUBJECTS[0]!, provider }), 'allow');
      assert.equal(web(r.aws!.trustPolicy, { sub: SUBJECTS[0]!, provider: `arn:aws:iam::${CUSTOMER_ACCOUNT}:oidc-provider/${HOST}` }), 'implicit-deny');
    });

    it(`${partition}, default identity: the customer's policy allows the default role's sessions in that partition`, () => {
      const target = `arn:${partition}:iam::${CUSTOMER_ACCOUNT}:role/reader`;
      const r = awsProvider.setup(buildInput({ partition, mode: 'default', target }));
      assert.equal(r.aws!.oidcProviderArn, `arn:${partition}:iam::${PLATFORM_ACCOUNT}:oidc-provider/${HOST}`);
      assert.equal(r.aws!.roleArn, target);
      assert.equal(chained(r.aws!.trustPolicy, `arn:${partition}:sts::${PLATFORM_ACCOUNT}:assumed-role/${DEFAULT_ROLE_NAME}/s1`), 'allow');
      assert.equal(chained(r.aws!.trustPolicy, `arn:aws:sts::${PLATFORM_ACCOUNT}:assumed-role/${DEFAULT_ROLE_NAME}/s1`), 'implicit-deny');
    });
  }

  it('takes the role name from the last segment of a role path', () => {
    assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/data/team-a/etl-reader'), {
      arn: 'arn:aws:iam::123456789012:role/data/team-a/etl-reader',
      partition: 'aws',
      accountId: '123456789012',
      path: '/data/team-a/',
      name: 'etl-reader',
    });
    assert.equal(parseRoleArn('arn:aws:iam::123456789012:role/r').path, '/');
  });

  it('a known target role replaces the placeholders', () => {
    const r = awsProvider.setup(buildInput({ mode: 'default', target: `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/data/reader` }));
    assert.deepEqual(r.placeholders, []);
    assert.equal(r.connection.extra.role_arn, `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/data/reader`);
    assert.ok(r.steps.some((s) => s.commands.includes('aws iam update-assume-role-policy --role-name reader --policy-document file://trust-policy.json')));
  });

  const rejects: { name: string; o: InputOptions; code: string; field: string }[] = [
    { name: 'a wildcard on a standard cluster', o: { type: 'standard', wildcard: true }, code: 'ERR_RULE_VIOLATION', field: 'wildcard' },
    { name: 'a user ARN', o: { roleArn: 'arn:aws:iam::123456789012:user/alice' }, code: 'ERR_VALIDATION', field: 'identity.roleArn' },
    { name: 'an unknown partition', o: { roleArn: 'arn:aws-iso:iam::123456789012:role/r' }, code: 'ERR_VALIDATION', field: 'identity.roleArn' },
    { name: 'a short account id', o: { roleArn: 'arn:aws:iam::12345:role/r' }, code: 'ERR_VALIDATION', field: 'identity.roleArn' },
    { name: 'a bad role name', o: { roleArn: 'arn:aws:iam::123456789012:role/a b' }, code: 'ERR_VALIDATION', field: 'identity.roleArn' },
    { name: 'an empty path segment', o: { roleArn: 'arn:aws:iam::123456789012:role/a//b' }, code: 'ERR_VALIDATION', field: 'identity.roleArn' },
    { name: 'a target in another partition', o: { mode: 'default', target: 'arn:aws-cn:iam::123456789012:role/r' }, code: 'ERR_VALIDATION', field: 'target.awsRoleArn' },
    { name: 'an issuer with a query', o: { issuer: `${ISSUER}?x=1` }, code: 'ERR_VALIDATION', field: 'cluster.oidcIssuerUrl' },
    { name: 'a non-http issuer', o: { issuer: 'ftp://example.com/x' }, code: 'ERR_VALIDATION', field: 'cluster.oidcIssuerUrl' },
  ];
  for (const { name, o, code, field } of rejects) {
    it(`rejects ${name} (${code} on ${field}), in setup and terraform alike`, () => {
      for (const fn of [awsProvider.setup, awsProvider.terraform]) {
        assert.throws(
          () => fn(buildInput(o)),
          (e: unknown) => e instanceof AppError && e.code === code && e.field === field && e.message.startsWith('cloud(aws): '),
        );
      }
    });
  }

  it('throws a programming error for a non-AWS identity', () => {
    const input = buildInput();
    input.identity = { mode: 'customer-managed', identity: { cloud: 'gcp', serviceAccountEmail: 'x@p.iam.gserviceaccount.com' } };
    assert.throws(() => awsProvider.setup(input), (e: unknown) => e instanceof Error && !(e instanceof AppError) && /gcp identity/.test(e.message));
    assert.throws(() => awsProvider.terraform(input), /gcp identity/);
  });
});

// ---- Terraform -------------------------------------------------------------------------------

type Tf = Record<string, Record<string, Record<string, Record<string, unknown>[]>>> & { variable?: Record<string, unknown[]>; provider?: Record<string, unknown[]> };

/** The object inside `jsonencode(…)`, parsed again, with references replaced. */
async function jsonencoded(expr: unknown, refs: Record<string, string>): Promise<unknown> {
  const m = /^\$\{jsonencode\(([\s\S]*)\)\}$/.exec(String(expr));
  assert.ok(m, `assume_role_policy is not a jsonencode call: ${String(expr)}`);
  const inner = (await parse('policy.tf', `v = ${m[1]}\n`)).v;
  const swap = (v: unknown): unknown => {
    if (typeof v === 'string') return refs[v] ?? v;
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  return tfJsonValue(swap(inner));
}

describe('awsProvider.terraform', () => {
  for (const { mode, type, wildcard } of CASES) {
    it(`${mode}, ${type}${wildcard ? ', wildcard' : ''}: parses, and each assume_role_policy is the JSON trust policy`, async () => {
      const input = buildInput({ mode, type, wildcard });
      const result = awsProvider.setup(input);
      const tf = (await parse('main.tf', awsProvider.terraform(input))) as Tf;
      const providers = tf.resource.aws_iam_openid_connect_provider!;
      const [label] = Object.keys(providers);
      assert.equal(label, `airlock_${CLUSTER_ID}`);
      assert.equal(providers[label!]![0]!.url, ISSUER);
      assert.deepEqual(providers[label!]![0]!.client_id_list, ['sts.amazonaws.com']);
      const refs = { [`\${aws_iam_openid_connect_provider.${label}.arn}`]: result.aws!.oidcProviderArn! };
      const roles = tf.resource.aws_iam_role!;
      if (mode === 'customer-managed') {
        assert.deepEqual(Object.keys(roles), ['etl_reader']);
        const role = roles.etl_reader![0]!;
        assert.equal(role.name, 'etl-reader');
        assert.equal(role.path, '/data/');
        assert.deepEqual(await jsonencoded(role.assume_role_policy, refs), result.aws!.trustPolicy);
      } else {
        const defaultLabel = `default_airlock_${NS.replace(/-/g, '_')}`;
        assert.deepEqual(Object.keys(roles).sort(), ['customer', defaultLabel]);
        const platform = roles[defaultLabel]![0]!;
        assert.equal(platform.provider, '${aws.platform}');
        assert.equal(platform.name, DEFAULT_ROLE_NAME);
        assert.equal(platform.path, '/airlock/');
        assert.deepEqual(await jsonencoded(platform.assume_role_policy, refs), result.aws!.platform!.trustPolicy);
        const customer = roles.customer![0]!;
        assert.equal(customer.provider, '${aws.customer}');
        assert.equal(customer.name, '${var.customer_role_name}');
        assert.deepEqual(await jsonencoded(customer.assume_role_policy, refs), result.aws!.trustPolicy);
        assert.ok(tf.variable?.customer_role_name, 'the unknown role name is a variable');
      }
    });
  }

  it('a hostile issuer URL is escaped: Terraform sees exactly the same URL and policy', async () => {
    const issuer = 'https://airlock.example.com/clusters/cl_x${file("/etc/passwd")}%{if true}x%{endif}"\\';
    const input = buildInput({ issuer });
    const result = awsProvider.setup(input);
    const host = issuer.slice('https://'.length);
    assert.equal(result.aws!.oidcProviderArn, `arn:aws:iam::${CUSTOMER_ACCOUNT}:oidc-provider/${host}`);
    assert.equal(web(result.aws!.trustPolicy, { sub: SUBJECTS[0]!, provider: result.aws!.oidcProviderArn!, host }), 'allow');
    const tf = (await parse('main.tf', awsProvider.terraform(input))) as Tf;
    assert.deepEqual(Object.keys(tf), ['resource']);
    const [label] = Object.keys(tf.resource.aws_iam_openid_connect_provider!);
    assert.equal(tfJsonValue(tf.resource.aws_iam_openid_connect_provider![label!]![0]!.url), issuer);
    const refs = { [`\${aws_iam_openid_connect_provider.${label}.arn}`]: result.aws!.oidcProviderArn! };
    assert.deepEqual(await jsonencoded(tf.resource.aws_iam_role!.etl_reader![0]!.assume_role_policy, refs), result.aws!.trustPolicy);
    // And the shell command quotes it.
    assert.equal(result.steps[0]!.commands[0], `aws iam create-open-id-connect-provider --url '${issuer}' --client-id-list sts.amazonaws.com`);
  });

  it('a known target role is written literally, without a variable', async () => {
    const input = buildInput({ mode: 'default', target: `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/data/reader` });
    const tf = (await parse('main.tf', awsProvider.terraform(input))) as Tf;
    assert.equal(tf.variable, undefined);
    assert.equal(tf.resource.aws_iam_role!.customer![0]!.name, 'reader');
    assert.equal(tf.resource.aws_iam_role!.customer![0]!.path, '/data/');
  });
});

// ---- golden files ----------------------------------------------------------------------------

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/setup');

const golden = (name: string, actual: string) => matchGolden(join(FIXTURES, name), actual);

describe('golden fixtures (test/fixtures/setup)', () => {
  const customer = buildInput({ mode: 'customer-managed' });
  const def = buildInput({ mode: 'default' });
  it('aws-customer.json', () => golden('aws-customer.json', `${JSON.stringify(awsProvider.setup(customer), null, 2)}\n`));
  it('aws-customer.tf', () => golden('aws-customer.tf', awsProvider.terraform(customer)));
  it('aws-default.json', () => golden('aws-default.json', `${JSON.stringify(awsProvider.setup(def), null, 2)}\n`));
  it('aws-default.tf', () => golden('aws-default.tf', awsProvider.terraform(def)));
  it('aws-customer-wildcard.json', () => golden('aws-customer-wildcard.json', `${JSON.stringify(awsProvider.setup(buildInput({ type: 'dedicated', wildcard: true })), null, 2)}\n`));
});
