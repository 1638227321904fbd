/**
 * The claim: the setup `airlock deployment identity setup` generates for each cloud, applied to
 * the sandbox, is exactly what makes the clouds' own SDKs succeed — and removing one subject from
 * it makes exactly that component fail.
 *
 * Per cloud, a real Airlock server and a real `airlock sandbox` (startSandbox) on 127.0.0.1. A
 * Deployment with a customer-managed identity is created through the API, its setup JSON is read
 * through the API, and that JSON is applied to the sandbox mechanically: documents are sent as
 * they are, and values that exist only in the printed commands (GCP attribute mapping and
 * condition, IAM roles, Azure identity coordinates) are read from those commands with a shell
 * word splitter, as a user's shell would pass them. Then each of the six components mints a token
 * with the setup's audience and asks the cloud's unmodified SDK for credentials:
 *
 * - AWS: `fromTokenFile` (AssumeRoleWithWebIdentity), then GetCallerIdentity;
 * - GCP: `GoogleAuth` with `gcp.credentialConfig` as the external_account file, only its Google
 *   URLs pointed at the sandbox, then tokeninfo and the sandbox's whoami;
 * - Azure: `WorkloadIdentityCredential`, then the sandbox's whoami.
 *
 * Table-driven over the components: for each one, the setup minus that component's subject is
 * applied, and exactly that component is refused with the cloud's code while the other five
 * still succeed. A socket guard fails the run if anything tries to leave 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetCallerIdentityCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials, fromTokenFile } from '@aws-sdk/credential-providers';
import { WorkloadIdentityCredential } from '@azure/identity';
import { GoogleAuth } from 'google-auth-library';
import type { SetupResult } from '../../src/cloud/types.ts';
import { COMPONENTS, type Component, type ComponentIdentity } from '../../src/deployments/components.ts';
import { startSandbox, type Sandbox } from '../../src/emulators/sandbox.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import {
  AWS_REGION,
  commandsStartingWith,
  flag,
  guardLoopback,
  httpsJson,
  iamCall,
  roleNameAndPath,
  scrubCloudEnvironment,
  xmlTag,
} from './helpers.ts';

// Imports are hoisted above this; the SDKs read the environment when credentials are resolved,
// not when their modules load, so clearing it here is in time.
const SCRATCH = mkdtempSync(join(tmpdir(), 'airlock-e2e-setup-'));
scrubCloudEnvironment(SCRATCH);
const guard = guardLoopback();

after(() => {
  guard.restore();
  rmSync(SCRATCH, { recursive: true, force: true });
  assert.deepEqual(guard.blocked, [], 'no connection left 127.0.0.1');
});

// ---------------------------------------------------------------------------------------------
// Shared fixture
// ---------------------------------------------------------------------------------------------

/** A Deployment as the API returns it (the fields these tests read). */
interface Deployment {
  name: string;
  clusterId: string;
  namespace: string;
  components: ComponentIdentity[];
}

/** The result of asking a cloud's SDK for credentials as one workload. */
type Outcome = { ok: true; principal: string } | { ok: false; code: string };

/**
 * The Deployment under test. Longer than the 13 characters a namespace keeps of a name, so its
 * subjects, federated credential names, provider ID and trust policy are as long as they get.
 */
const LONG_NAME = 'nightly-warehouse-loads';

let files = 0;
function tokenFile(token: string): string {
  const file = join(SCRATCH, `token-${++files}`);
  writeFileSync(file, token, { mode: 0o600 });
  return file;
}

interface World {
  airlock: TestServer;
  sandbox: Sandbox;
  /** Creates a cluster; returns its id. */
  cluster(body: Record<string, unknown>): Promise<string>;
  deployment(name: string, cluster: string, workloadIdentity?: string): Promise<Deployment>;
  /**
   * GET …/identity/setup. It must have no placeholders except `unapplied` ones (values for steps
   * these tests do not apply, such as Azure role assignments, which the sandbox does not model).
   */
  setup(deployment: string, query?: Record<string, string>, unapplied?: string[]): Promise<SetupResult>;
  /** A token file for a service account of a namespace on a cluster, as delivery would write it. */
  tokenFor(o: { clusterId: string; namespace: string; serviceAccount: string }, audience: string): Promise<string>;
  close(): Promise<void>;
}

async function startWorld(): Promise<World> {
  const airlock = await startServer();
  const sandbox = await startSandbox({ port: 0, dataDir: mkdtempSync(join(SCRATCH, 'sandbox-')), inMemory: true });
  return {
    airlock,
    sandbox,
    async cluster(body) {
      const r = await airlock.api('POST', '/api/v1/clusters', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    },
    async deployment(name, cluster, workloadIdentity) {
      const r = await airlock.api('POST', '/api/v1/deployments', { name, cluster, runtimeVersion: '12.1.0', ...(workloadIdentity ? { workloadIdentity } : {}) });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(
        r.body.components.map((c: ComponentIdentity) => c.component),
        [...COMPONENTS],
      );
      return r.body;
    },
    async setup(deployment, query = {}, unapplied = []) {
      const qs = new URLSearchParams(query).toString();
      const r = await airlock.api('GET', `/api/v1/deployments/${deployment}/identity/setup${qs ? `?${qs}` : ''}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(
        r.body.placeholders.map((p: { name: string }) => p.name).filter((n: string) => !unapplied.includes(n)),
        [],
        'a setup with placeholders cannot be applied as is',
      );
      return r.body;
    },
    async tokenFor(o, audience) {
      const { token } = await airlock.app.minter.mint({
        clusterId: o.clusterId,
        namespace: o.namespace,
        serviceAccount: o.serviceAccount,
        serviceAccountUid: `uid-${o.serviceAccount}`,
        audiences: [audience],
        ttlSeconds: 3600,
      });
      return tokenFile(token);
    },
    async close() {
      await sandbox.close();
      await airlock.close();
    },
  };
}

const componentOf = (d: Deployment, name: Component): ComponentIdentity => d.components.find((c) => c.component === name)!;
const tokenSource = (d: Deployment, c: ComponentIdentity) => ({ clusterId: d.clusterId, namespace: d.namespace, serviceAccount: c.serviceAccount });

/**
 * Runs `exchange` for every component of `d`, one after another (the sandbox is shared state;
 * order keeps failures readable), and returns the outcomes keyed by component.
 */
async function outcomes(d: Deployment, exchange: (c: ComponentIdentity) => Promise<Outcome>): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  for (const c of d.components) out[c.component] = await exchange(c);
  return out;
}

/** Every component succeeds as `principal(c)`, except `refused` (if given), which gets its code. */
function expected(d: Deployment, principal: (c: ComponentIdentity) => string, refused?: { component: Component; code: string }): Record<string, Outcome> {
  const out: Record<string, Outcome> = {};
  for (const c of d.components) out[c.component] = refused?.component === c.component ? { ok: false, code: refused.code } : { ok: true, principal: principal(c) };
  return out;
}

function allRefused(d: Deployment, code: string): Record<string, Outcome> {
  const out: Record<string, Outcome> = {};
  for (const c of d.components) out[c.component] = { ok: false, code };
  return out;
}

// ---------------------------------------------------------------------------------------------
// AWS
// ---------------------------------------------------------------------------------------------

describe('AWS: the generated trust policy, applied to the sandbox IAM, is what the AWS SDK needs', () => {
  const ACCOUNT = '000000000000'; // the sandbox's account
  const ROLE = `arn:aws:iam::${ACCOUNT}:role/airflow-etl`;
  let w: World;
  let endpoint: string;
  let etl: Deployment;
  let other: Deployment;
  let elsewhere: Deployment;
  let setup: SetupResult;

  /** The setup's first step: the IAM OIDC provider for the issuer, with the audience as client id. */
  async function applyProvider(s: SetupResult): Promise<void> {
    const [create] = commandsStartingWith(s, 'aws', 'iam', 'create-open-id-connect-provider');
    assert.ok(create, 'the setup creates the OIDC provider');
    assert.equal(flag(create, 'url'), s.issuerUrl);
    assert.equal(flag(create, 'client-id-list'), s.audience);
    const r = await iamCall(endpoint, { Action: 'CreateOpenIDConnectProvider', Url: s.issuerUrl, 'ClientIDList.member.1': s.audience });
    // The setup's own note: a second Deployment of the cluster gets EntityAlreadyExists and skips the step.
    if (r.code === 'EntityAlreadyExists') return;
    assert.equal(r.status, 200, r.xml);
    assert.equal(xmlTag(r.xml, 'OpenIDConnectProviderArn'), s.aws!.oidcProviderArn);
  }

  /** Creates the role with the document, or (as `update-assume-role-policy`) replaces its trust policy. */
  async function putRole(roleArn: string, trustPolicy: unknown): Promise<void> {
    const { RoleName, Path } = roleNameAndPath(roleArn);
    const document = JSON.stringify(trustPolicy);
    const created = await iamCall(endpoint, { Action: 'CreateRole', RoleName, Path, AssumeRolePolicyDocument: document });
    if (created.code === 'EntityAlreadyExists') {
      const updated = await iamCall(endpoint, { Action: 'UpdateAssumeRolePolicy', RoleName, PolicyDocument: document });
      assert.equal(updated.status, 200, updated.xml);
      return;
    }
    assert.equal(created.status, 200, created.xml);
    assert.equal(xmlTag(created.xml, 'Arn'), roleArn);
  }

  /** The trust policy without one subject: removed from the one `:sub` list that holds it. */
  function withoutSubject(policy: Record<string, unknown>, subject: string): Record<string, unknown> {
    const copy = structuredClone(policy) as { Statement: { Condition?: Record<string, Record<string, unknown>> }[] };
    let removed = 0;
    for (const st of copy.Statement) {
      for (const block of Object.values(st.Condition ?? {})) {
        for (const [key, value] of Object.entries(block)) {
          if (!key.endsWith(':sub') || !Array.isArray(value)) continue;
          const kept = value.filter((v) => v !== subject);
          removed += value.length - kept.length;
          block[key] = kept;
        }
      }
    }
    assert.equal(removed, 1, `the subject ${subject} appears once in the trust policy`);
    return copy as unknown as Record<string, unknown>;
  }

  const sts = (credentials?: STSClientConfig['credentials']) =>
    new STSClient({ endpoint, region: AWS_REGION, maxAttempts: 1, ...(credentials ? { credentials } : {}) });

  /** What a pod does with the setup's environment: web identity from the token file, then "who am I". */
  async function assume(tokenPath: string, roleArn: string, sessionName: string): Promise<Outcome> {
    try {
      const credentials = await fromTokenFile({ webIdentityTokenFile: tokenPath, roleArn, roleSessionName: sessionName, clientConfig: { endpoint, region: AWS_REGION, maxAttempts: 1 } })();
      const me = await sts(credentials).send(new GetCallerIdentityCommand({}));
      return { ok: true, principal: me.Arn! };
    } catch (err) {
      return { ok: false, code: (err as Error).name };
    }
  }

  const assumeAs = async (d: Deployment, c: ComponentIdentity, roleArn = setup.aws!.roleArn) =>
    assume(await w.tokenFor(tokenSource(d, c), setup.audience), roleArn, c.component);
  const sessionArn = (roleArn: string, session: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${roleNameAndPath(roleArn).RoleName}/${session}`;

  before(async () => {
    w = await startWorld();
    endpoint = w.sandbox.awsUrl;
    await w.cluster({ name: 'aws-dedicated', cloud: 'aws', type: 'dedicated', region: AWS_REGION, defaultIdentityAccount: ACCOUNT });
    await w.cluster({ name: 'aws-elsewhere', cloud: 'aws', type: 'standard', region: AWS_REGION });
    etl = await w.deployment(LONG_NAME, 'aws-dedicated', ROLE);
    other = await w.deployment('other', 'aws-dedicated', `arn:aws:iam::${ACCOUNT}:role/airflow-other`);
    elsewhere = await w.deployment('elsewhere', 'aws-elsewhere', `arn:aws:iam::${ACCOUNT}:role/airflow-elsewhere`);

    setup = await w.setup(LONG_NAME);
    assert.equal(setup.mode, 'customer-managed');
    assert.equal(setup.aws!.roleArn, ROLE);
    await applyProvider(setup);
    await putRole(setup.aws!.roleArn, setup.aws!.trustPolicy);
    // The other cluster's issuer is registered in the account too (its own Deployment's setup
    // does that), so its tokens are judged by trust policies rather than refused for a missing provider.
    const elsewhereSetup = await w.setup('elsewhere');
    await applyProvider(elsewhereSetup);
    await putRole(elsewhereSetup.aws!.roleArn, elsewhereSetup.aws!.trustPolicy);
  });

  after(() => w?.close());

  it('names the same role in the trust document, the connection and the pod environment', () => {
    assert.equal(setup.connection.extra.role_arn, ROLE);
    assert.equal(setup.environment?.AWS_ROLE_ARN, ROLE);
    assert.deepEqual(setup.subjects, etl.components.map((c) => c.subject));
  });

  it('every component becomes the role through fromTokenFile; GetCallerIdentity names it', async () => {
    assert.deepEqual(await outcomes(etl, (c) => assumeAs(etl, c)), expected(etl, (c) => sessionArn(ROLE, c.component)));
    // The session the sandbox recorded came from the component's own subject.
    const state = (await (await fetch(`${endpoint}/_sandbox/aws/state`)).json()) as { sessions: { arn: string; subject: string }[] };
    for (const c of etl.components) {
      assert.ok(state.sessions.some((s) => s.arn === sessionArn(ROLE, c.component) && s.subject === c.subject), `a session for ${c.subject}`);
    }
  });

  for (const dropped of COMPONENTS) {
    it(`without ${dropped}'s subject in the trust policy, exactly ${dropped} is refused: AccessDenied`, async () => {
      const { RoleName } = roleNameAndPath(setup.aws!.roleArn);
      const policy = withoutSubject(setup.aws!.trustPolicy, componentOf(etl, dropped).subject);
      try {
        const r = await iamCall(endpoint, { Action: 'UpdateAssumeRolePolicy', RoleName, PolicyDocument: JSON.stringify(policy) });
        assert.equal(r.status, 200, r.xml);
        assert.deepEqual(await outcomes(etl, (c) => assumeAs(etl, c)), expected(etl, (c) => sessionArn(ROLE, c.component), { component: dropped, code: 'AccessDenied' }));
      } finally {
        await putRole(setup.aws!.roleArn, setup.aws!.trustPolicy);
      }
    });
  }

  it("refuses another Deployment's subject on the same cluster: AccessDenied", async () => {
    assert.deepEqual(await outcomes(other, (c) => assumeAs(other, c)), allRefused(other, 'AccessDenied'));
  });

  it('wildcard setup (dedicated cluster): another namespace of the cluster gets in, another cluster\'s issuer does not', async () => {
    const wildcard = await w.setup(LONG_NAME, { wildcard: 'true' });
    assert.equal(wildcard.aws!.roleArn, ROLE);
    assert.deepEqual(wildcard.subjects, setup.subjects, 'subjects still lists the exact subjects');
    try {
      await applyProvider(wildcard);
      await putRole(wildcard.aws!.roleArn, wildcard.aws!.trustPolicy);
      assert.deepEqual(await outcomes(etl, (c) => assumeAs(etl, c)), expected(etl, (c) => sessionArn(ROLE, c.component)));
      assert.deepEqual(await outcomes(other, (c) => assumeAs(other, c)), expected(other, (c) => sessionArn(ROLE, c.component)));
      // Same namespace and service account names as etl's, but minted by the other cluster's issuer.
      const foreign = (c: ComponentIdentity) => ({ ...tokenSource(etl, c), clusterId: elsewhere.clusterId });
      assert.deepEqual(await outcomes(etl, async (c) => assume(await w.tokenFor(foreign(c), wildcard.audience), ROLE, c.component)), allRefused(etl, 'AccessDenied'));
    } finally {
      await putRole(setup.aws!.roleArn, setup.aws!.trustPolicy);
    }
    const standard = await w.airlock.api('GET', '/api/v1/deployments/elsewhere/identity/setup?wildcard=true');
    assert.equal(standard.status, 422, 'no wildcard on a standard cluster');
  });

  it('default identity: web identity into the platform role, then AssumeRole into the customer role', async () => {
    const CUSTOMER = `arn:aws:iam::${ACCOUNT}:role/customer-lake`;
    const platform = await w.deployment('platform', 'aws-dedicated');
    const s = await w.setup('platform', { targetRoleArn: CUSTOMER });
    assert.equal(s.mode, 'default');
    assert.equal(s.aws!.roleArn, CUSTOMER);
    assert.equal(s.connection.extra.role_arn, CUSTOMER);
    const platformRole = s.aws!.platform!.roleArn;
    assert.equal(s.environment?.AWS_ROLE_ARN, platformRole);
    await applyProvider(s); // the cluster's provider exists already: skipped, as the note says
    await putRole(platformRole, s.aws!.platform!.trustPolicy);
    await putRole(CUSTOMER, s.aws!.trustPolicy);

    const chained = async (c: ComponentIdentity, d = platform): Promise<Outcome> => {
      const provider = fromTemporaryCredentials({
        masterCredentials: fromTokenFile({
          webIdentityTokenFile: await w.tokenFor(tokenSource(d, c), s.audience),
          roleArn: platformRole,
          roleSessionName: `platform-${c.component}`,
          clientConfig: { endpoint, region: AWS_REGION, maxAttempts: 1 },
        }),
        params: { RoleArn: s.connection.extra.role_arn as string, RoleSessionName: c.component },
        clientConfig: { endpoint, region: AWS_REGION, maxAttempts: 1 },
      });
      try {
        return { ok: true, principal: (await sts(provider).send(new GetCallerIdentityCommand({}))).Arn! };
      } catch (err) {
        return { ok: false, code: (err as Error).name };
      }
    };
    assert.deepEqual(await outcomes(platform, (c) => chained(c)), expected(platform, (c) => sessionArn(CUSTOMER, c.component)));
    // The platform role trusts only this Deployment's subjects: etl's components cannot start the chain.
    assert.deepEqual(await outcomes(etl, (c) => chained(c, etl)), allRefused(etl, 'AccessDenied'));
  });
});

// ---------------------------------------------------------------------------------------------
// GCP
// ---------------------------------------------------------------------------------------------

describe('GCP: the generated pool, provider, bindings and credential configuration are what google-auth-library needs', () => {
  const PROJECT_NUMBER = '498127360554';
  const SA_ETL = 'lake-loader@data-lake-e2e.iam.gserviceaccount.com';
  const SA_OTHER = 'lake-other@data-lake-e2e.iam.gserviceaccount.com';
  const SCOPES = ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/userinfo.email'];
  let w: World;
  let gcp: string;
  let etl: Deployment;
  let other: Deployment;
  let setup: SetupResult;
  let otherSetup: SetupResult;

  async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gcp}/_sandbox/gcp${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** 201, or 409 for something a previous Deployment's setup created (the setup's describe || create). */
  async function ensure(path: string, body: unknown): Promise<void> {
    const r = await admin('POST', path, body);
    assert.ok(r.status === 201 || r.status === 200 || r.status === 409, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** The workloadIdentityUser bindings the setup grants: [service account, role, member]. */
  function bindings(s: SetupResult): { serviceAccount: string; role: string; member: string }[] {
    const out = commandsStartingWith(s, 'gcloud', 'iam', 'service-accounts', 'add-iam-policy-binding').map((words) => ({
      serviceAccount: words[4]!,
      role: flag(words, 'role')!,
      member: flag(words, 'member')!,
    }));
    assert.deepEqual(
      out.map((b) => b.member),
      s.gcp!.members,
      'the commands grant exactly gcp.members',
    );
    return out;
  }

  /**
   * Applies a setup: project (with the number the setup used), pool and provider from
   * gcp.workloadIdentityPool and the provider command's issuer, mapping and condition; the
   * customer's service account (it exists in the customer's project before setup); the bindings.
   */
  async function apply(s: SetupResult): Promise<void> {
    const pool = s.gcp!.workloadIdentityPool!;
    assert.equal(pool.projectNumber, PROJECT_NUMBER);
    await ensure('/projects', { projectId: pool.projectId, projectNumber: pool.projectNumber });
    await ensure(`/projects/${pool.projectId}/workloadIdentityPools`, { poolId: pool.poolId });

    const providers = commandsStartingWith(s, 'gcloud', 'iam', 'workload-identity-pools', 'providers', 'create-oidc');
    assert.equal(providers.length, 1);
    const p = providers[0]!;
    assert.equal(p[5], pool.providerId);
    assert.equal(flag(p, 'project'), pool.projectId);
    assert.equal(flag(p, 'workload-identity-pool'), pool.poolId);
    assert.equal(flag(p, 'issuer-uri'), s.issuerUrl);
    // gcloud's KEY=VALUE,… list; the mapping's values hold no comma (attributes.ts).
    const attributeMapping = Object.fromEntries(
      flag(p, 'attribute-mapping')!
        .split(',')
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const attributeCondition = flag(p, 'attribute-condition');
    const created = await admin('POST', `/projects/${pool.projectId}/workloadIdentityPools/${pool.poolId}/providers`, {
      providerId: pool.providerId,
      displayName: flag(p, 'display-name'),
      oidc: { issuerUri: s.issuerUrl },
      attributeMapping,
      ...(attributeCondition === undefined ? {} : { attributeCondition }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // The audience the credential configuration and the tokens carry is this provider's name.
    assert.equal(s.audience, `//iam.googleapis.com/${pool.resourceName}/providers/${pool.providerId}`);

    for (const b of bindings(s)) {
      const [accountId, domain] = b.serviceAccount.split('@') as [string, string];
      await ensure(`/projects/${domain.replace(/\.iam\.gserviceaccount\.com$/, '')}/serviceAccounts`, { accountId });
      const r = await admin('POST', `/serviceAccounts/${b.serviceAccount}:addIamPolicyBinding`, { role: b.role, member: b.member });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  }

  /**
   * `gcp.credentialConfig` as the external_account file, with only its Google endpoints moved to
   * the sandbox (same paths) and credential_source.file at the token; every other byte as setup
   * wrote it. `impersonate` swaps the service account, for the cross-Deployment check.
   */
  function credentialFile(s: SetupResult, tokenPath: string, impersonate?: string): string {
    const config = structuredClone(s.gcp!.credentialConfig!) as Record<string, any>;
    const urls = Object.keys(config).filter((k) => k.endsWith('_url'));
    assert.deepEqual(urls.sort(), ['service_account_impersonation_url', 'token_url']);
    for (const k of urls) {
      const u = new URL(config[k]);
      assert.match(u.hostname, /\.googleapis\.com$/);
      config[k] = `${gcp}${u.pathname}`;
    }
    if (impersonate) config.service_account_impersonation_url = config.service_account_impersonation_url.replace(/serviceAccounts\/[^:]+:/, `serviceAccounts/${impersonate}:`);
    assert.equal(typeof config.credential_source.file, 'string');
    config.credential_source.file = tokenPath;
    const file = `${tokenPath}.credential-config.json`;
    writeFileSync(file, JSON.stringify(config));
    return file;
  }

  /** Google's library with that file; on success, the service account and the federated subject behind the token. */
  async function exchange(s: SetupResult, tokenPath: string, impersonate?: string): Promise<Outcome> {
    const auth = new GoogleAuth({ keyFilename: credentialFile(s, tokenPath, impersonate), scopes: SCOPES });
    try {
      const token = (await auth.getAccessToken())!;
      const info = (await (await fetch(`${gcp}/oauth2/v3/tokeninfo?access_token=${encodeURIComponent(token)}`)).json()) as { email: string };
      const me = (await (await fetch(`${gcp}/_sandbox/gcp/whoami`, { headers: { authorization: `Bearer ${token}` } })).json()) as { principal: string; delegationChain: string[] };
      assert.equal(me.principal, `serviceAccount:${info.email}`);
      return { ok: true, principal: `${info.email} <- ${me.delegationChain.join(' <- ')}` };
    } catch (err) {
      const e = err as { message: string; response?: { data?: { error?: string | { status?: string } } } };
      const error = e.response?.data?.error;
      return { ok: false, code: typeof error === 'object' ? String(error.status) : (error ?? e.message) };
    }
  }

  const memberOf = (s: SetupResult, c: ComponentIdentity) => `principal://iam.googleapis.com/${s.gcp!.workloadIdentityPool!.resourceName}/subject/${c.subject}`;
  const asSa = (s: SetupResult, sa: string) => (c: ComponentIdentity) => `${sa} <- ${memberOf(s, c)}`;
  const exchangeAs = async (d: Deployment, c: ComponentIdentity, s = setup) => exchange(s, await w.tokenFor(tokenSource(d, c), s.audience));

  before(async () => {
    w = await startWorld();
    gcp = w.sandbox.gcpUrl;
    await w.cluster({ name: 'gcp-e2e', cloud: 'gcp', type: 'standard', region: 'us-central1' });
    for (const [name, sa] of [['lake-loader', SA_ETL], ['lake-other', SA_OTHER]] as const) {
      const r = await w.airlock.api('PUT', '/api/v1/identities', { name, gcpServiceAccount: sa, gcpProjectNumber: PROJECT_NUMBER });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    etl = await w.deployment(LONG_NAME, 'gcp-e2e', 'lake-loader');
    other = await w.deployment('other', 'gcp-e2e', 'lake-other');
    setup = await w.setup(LONG_NAME);
    otherSetup = await w.setup('other');
    assert.equal(setup.gcp!.route, 'attach');
    await apply(setup);
    // A second Deployment of the same cluster in the same project: shares the pool, has its own provider.
    await apply(otherSetup);
  });

  after(() => w?.close());

  it('every component becomes the service account through the setup\'s credential configuration', async () => {
    assert.deepEqual(await outcomes(etl, (c) => exchangeAs(etl, c)), expected(etl, asSa(setup, SA_ETL)));
  });

  for (const dropped of COMPONENTS) {
    it(`without ${dropped}'s member binding, exactly ${dropped} is refused: PERMISSION_DENIED`, async () => {
      const b = bindings(setup).find((x) => x.member === memberOf(setup, componentOf(etl, dropped)))!;
      assert.ok(b, `a binding for ${dropped}`);
      const removed = await admin('POST', `/serviceAccounts/${b.serviceAccount}:removeIamPolicyBinding`, { role: b.role, member: b.member });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      try {
        assert.deepEqual(await outcomes(etl, (c) => exchangeAs(etl, c)), expected(etl, asSa(setup, SA_ETL), { component: dropped, code: 'PERMISSION_DENIED' }));
      } finally {
        const r = await admin('POST', `/serviceAccounts/${b.serviceAccount}:addIamPolicyBinding`, { role: b.role, member: b.member });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
    });
  }

  it("refuses another Deployment's subject: at this provider by its condition, and on this service account by IAM", async () => {
    // Presented with this Deployment's configuration (its provider's audience): the namespace condition refuses it.
    assert.deepEqual(await outcomes(other, (c) => exchangeAs(other, c)), allRefused(other, 'unauthorized_client'));
    // Through its own provider it is a valid federated identity, and becomes its own service account...
    assert.deepEqual(await outcomes(other, (c) => exchangeAs(other, c, otherSetup)), expected(other, asSa(otherSetup, SA_OTHER)));
    // ...but not this Deployment's.
    assert.deepEqual(
      await outcomes(other, async (c) => exchange(otherSetup, await w.tokenFor(tokenSource(other, c), otherSetup.audience), SA_ETL)),
      allRefused(other, 'PERMISSION_DENIED'),
    );
  });

  it("wildcard setup (dedicated cluster): the pool's principalSet admits every namespace of that cluster, not another cluster's issuer", async () => {
    await w.cluster({ name: 'gcp-dedicated', cloud: 'gcp', type: 'dedicated', region: 'us-central1' });
    const wild = await w.deployment('wild', 'gcp-dedicated', 'lake-loader');
    const neighbour = await w.deployment('neighbour', 'gcp-dedicated', 'lake-other');
    const s = await w.setup('wild', { wildcard: 'true' });
    assert.equal(s.gcp!.members.length, 1, 'one principalSet instead of six subjects');
    await apply(s);
    assert.deepEqual(await outcomes(wild, (c) => exchangeAs(wild, c, s)), expected(wild, asSa(s, SA_ETL)));
    assert.deepEqual(await outcomes(neighbour, (c) => exchangeAs(neighbour, c, s)), expected(neighbour, asSa(s, SA_ETL)));
    // The same namespace and service accounts, minted by another cluster's issuer: the provider pins the issuer.
    const foreign = (c: ComponentIdentity) => ({ ...tokenSource(wild, c), clusterId: etl.clusterId });
    assert.deepEqual(await outcomes(wild, async (c) => exchange(s, await w.tokenFor(foreign(c), s.audience))), allRefused(wild, 'invalid_grant'));
  });
});

// ---------------------------------------------------------------------------------------------
// Azure
// ---------------------------------------------------------------------------------------------

describe('Azure: the generated federated credentials, applied to the sandbox, are what @azure/identity needs', () => {
  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const SUBSCRIPTION = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
  const RG = 'rg-data';
  const ETL = { managedIdentityName: 'airflow-etl', resourceGroup: RG, subscriptionId: SUBSCRIPTION, clientId: 'a2b3c4d5-0000-4000-8000-00000000c11e', tenantId: TENANT };
  const OTHER = { ...ETL, managedIdentityName: 'airflow-other', clientId: 'b3c4d5e6-0000-4000-8000-00000000c11f' };
  const SCOPE = 'https://storage.azure.com/.default';
  let w: World;
  let agent: Agent;
  let etl: Deployment;
  let other: Deployment;
  let setup: SetupResult;
  let otherSetup: SetupResult;

  const admin = (method: string, path: string, body?: unknown) => httpsJson(agent, `${w.sandbox.azureUrl}/_sandbox/azure${path}`, method, body);
  const identityPath = (sub: string, rg: string, name: string) => `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;

  /** Each federated credential with the identity its `az identity federated-credential create` command names. */
  function credentials(s: SetupResult): { path: string; name: string; issuer: string; subject: string; audiences: string[] }[] {
    const commands = commandsStartingWith(s, 'az', 'identity', 'federated-credential', 'create');
    assert.equal(commands.length, s.azure!.federatedCredentials.length, 'one command per federated credential');
    return s.azure!.federatedCredentials.map((fc) => {
      const cmd = commands.find((c) => flag(c, 'name') === fc.name);
      assert.ok(cmd, `a command creates ${fc.name}`);
      assert.deepEqual({ issuer: flag(cmd, 'issuer'), subject: flag(cmd, 'subject'), audiences: flag(cmd, 'audiences') }, { issuer: fc.issuer, subject: fc.subject, audiences: fc.audiences.join(' ') });
      return { ...fc, path: identityPath(flag(cmd, 'subscription')!, flag(cmd, 'resource-group')!, flag(cmd, 'identity-name')!) };
    });
  }

  /**
   * Applies a setup: the tenant and the managed identity (the customer's, existing before setup;
   * tenant and client id as the connection names them), then each federated credential.
   */
  async function apply(s: SetupResult): Promise<void> {
    const extra = s.connection.extra as { managed_identity_client_id: string; workload_identity_tenant_id: string };
    const tenant = await admin('PUT', `/tenants/${extra.workload_identity_tenant_id}`, { displayName: 'Contoso (e2e)' });
    assert.ok(tenant.status === 200 || tenant.status === 201, JSON.stringify(tenant.body));
    const fics = credentials(s);
    const identity = await admin('PUT', fics[0]!.path, { tenantId: extra.workload_identity_tenant_id, clientId: extra.managed_identity_client_id });
    assert.equal(identity.status, 201, JSON.stringify(identity.body));
    for (const fc of fics) await putCredential(fc);
  }

  async function putCredential(fc: ReturnType<typeof credentials>[number]): Promise<void> {
    const r = await admin('PUT', `${fc.path}/federatedIdentityCredentials/${fc.name}`, { issuer: fc.issuer, subject: fc.subject, audiences: fc.audiences });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }

  /** What a pod's SDK does with the connection's identity and the token file; then whoami. */
  async function exchange(s: SetupResult, tokenFilePath: string, clientId = s.connection.extra.managed_identity_client_id as string): Promise<Outcome> {
    const credential = new WorkloadIdentityCredential({
      tenantId: s.connection.extra.workload_identity_tenant_id as string,
      clientId,
      tokenFilePath,
      authorityHost: w.sandbox.azureUrl,
      disableInstanceDiscovery: true,
      // Trust in the sandbox certificate for this client only; TLS verification stays on.
      agent,
      retryOptions: { maxRetries: 0 },
    });
    try {
      const token = await credential.getToken(SCOPE);
      const me = await httpsJson(agent, `${w.sandbox.azureUrl}/_sandbox/azure/whoami`, 'GET', undefined, { authorization: `Bearer ${token.token}` });
      assert.equal(me.status, 200, JSON.stringify(me.body));
      return { ok: true, principal: `${me.body.name} (${me.body.clientId})` };
    } catch (err) {
      return { ok: false, code: /AADSTS\d+/.exec((err as Error).message)?.[0] ?? (err as Error).message };
    }
  }

  const exchangeAs = async (d: Deployment, c: ComponentIdentity, s = setup) => exchange(s, await w.tokenFor(tokenSource(d, c), s.audience));
  const asIdentity = (mi: typeof ETL) => () => `${mi.managedIdentityName} (${mi.clientId})`;

  before(async () => {
    w = await startWorld();
    agent = new Agent({ ca: readFileSync(w.sandbox.certFile) });
    await w.cluster({ name: 'azure-e2e', cloud: 'azure', type: 'standard', region: 'eastus' });
    for (const [name, azure] of [['blob-etl', ETL], ['blob-other', OTHER]] as const) {
      const r = await w.airlock.api('PUT', '/api/v1/identities', { name, azure });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    etl = await w.deployment(LONG_NAME, 'azure-e2e', 'blob-etl');
    other = await w.deployment('other', 'azure-e2e', 'blob-other');
    // The role assignment step (AZURE_ROLE, AZURE_SCOPE) is authorization, which the sandbox does not model.
    setup = await w.setup(LONG_NAME, {}, ['AZURE_ROLE', 'AZURE_SCOPE']);
    otherSetup = await w.setup('other', {}, ['AZURE_ROLE', 'AZURE_SCOPE']);
    assert.equal(setup.azure!.federatedCredentials.length, 6);
    await apply(setup);
    await apply(otherSetup);
  });

  after(async () => {
    agent?.destroy();
    await w?.close();
  });

  it('every component becomes the managed identity through WorkloadIdentityCredential', async () => {
    assert.deepEqual(await outcomes(etl, (c) => exchangeAs(etl, c)), expected(etl, asIdentity(ETL)));
  });

  for (const dropped of COMPONENTS) {
    it(`without ${dropped}'s federated credential, exactly ${dropped} is refused: AADSTS70021`, async () => {
      const fc = credentials(setup).find((x) => x.subject === componentOf(etl, dropped).subject)!;
      assert.ok(fc, `a federated credential for ${dropped}`);
      const removed = await admin('DELETE', `${fc.path}/federatedIdentityCredentials/${fc.name}`);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      try {
        assert.deepEqual(await outcomes(etl, (c) => exchangeAs(etl, c)), expected(etl, asIdentity(ETL), { component: dropped, code: 'AADSTS70021' }));
      } finally {
        await putCredential(fc);
      }
    });
  }

  it("refuses another Deployment's subject on this identity: AADSTS70021 (its own identity accepts it)", async () => {
    assert.deepEqual(await outcomes(other, (c) => exchangeAs(other, c)), allRefused(other, 'AADSTS70021'));
    assert.deepEqual(await outcomes(other, (c) => exchangeAs(other, c, otherSetup)), expected(other, asIdentity(OTHER)));
  });
});
