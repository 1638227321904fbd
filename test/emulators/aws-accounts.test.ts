/**
 * Several AWS accounts in one sandbox, LocalStack's way: a 12-digit access key id is that
 * account's root, any other static key the default account 000000000000. One scenario table is
 * run by three unmodified clients — the AWS SDK v3, python boto3 and the aws CLI — each against a
 * fresh emulator, with tokens from Airlock's real issuer. Then a table of trust-policy principals
 * for cross-account role chaining, through the SDK. Everything stays on 127.0.0.1: the child
 * processes get explicit loopback endpoints and no way to find real credentials.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { Sha256 } from '@aws-crypto/sha256-js';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import { fromTokenFile } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAwsEmulator } from '../../src/emulators/aws/index.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { isolateAwsSdk } from '../helpers/aws-sdk.ts';

// The SDK sees nothing from the developer's environment, and no call leaves 127.0.0.1.
const SCRATCH = isolateAwsSdk('airlock-aws-accounts-');

const run = promisify(execFile);
const REGION = 'us-east-1';
const A = '123456789012';
const B = '210987654321';
const DEFAULT = '000000000000';
const SUB = 'system:serviceaccount:etl:etl-worker';
const BOTO3_STEPS = join(import.meta.dirname, '..', 'fixtures', 'aws', 'boto3-steps.py');

/** The environment of a child client: no real credentials, config files or metadata service. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: SCRATCH,
  SCRATCH,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: join(SCRATCH, 'no-such-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(SCRATCH, 'no-such-credentials'),
  AWS_DEFAULT_REGION: REGION,
  ...(process.env.PYENV_ROOT ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}),
  ...extra,
});

// ---------------------------------------------------------------------------------------------
// The scenario, as data every client runs
// ---------------------------------------------------------------------------------------------

type Step =
  | { op: 'createProvider'; as: string; issuer: string }
  | { op: 'createRole'; as: string; name: string; trustPolicy: string }
  | { op: 'getRole'; as: string; name: string }
  | { op: 'whoami'; as: string }
  /** AssumeRoleWithWebIdentity (unsigned), then GetCallerIdentity with the credentials. */
  | { op: 'webIdentity'; roleArn: string; token: string; session: string }
  /** The same through the client's default chain, from AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ENDPOINT_URL_STS. */
  | { op: 'webIdentityFromEnv'; roleArn: string; token: string; session: string }
  /** webIdentity, then AssumeRole with those credentials, then GetCallerIdentity. */
  | { op: 'chain'; roleArn: string; token: string; session: string; targetRoleArn: string; targetSession: string };

type Result = { ok: true; arn?: string; account?: string; roleId?: string } | { ok: false; code: string };

interface Client {
  name: string;
  runSteps(endpoint: string, steps: Step[]): Promise<Result[]>;
}

const roleArn = (account: string, name: string) => `arn:aws:iam::${account}:role/${name}`;
const sessionArn = (account: string, role: string, session: string) => `arn:aws:sts::${account}:assumed-role/${role}/${session}`;
const trust = (statement: object) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
const webIdentityTrust = (providerArn: string, providerUrl: string) =>
  trust({
    Effect: 'Allow',
    Principal: { Federated: providerArn },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: { StringEquals: { [`${providerUrl}:sub`]: SUB, [`${providerUrl}:aud`]: 'sts.amazonaws.com' } },
  });
const awsTrust = (principal: string | string[]) => trust({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' });

interface Issuer {
  issuer: string;
  url: string;
  token: string;
}

/** A row of the scenario: a step and what every client must see. */
interface Row {
  name: string;
  step: Step;
  expect: Result;
  /**
   * False for rows that add nothing the other two clients do not prove: each aws CLI call is a
   * Python start (~0.7 s), so the CLI runs the rows the account model rests on.
   */
  cli?: false;
}

function scenario(a: Issuer, b: Issuer): Row[] {
  const providerA = `arn:aws:iam::${A}:oidc-provider/${a.url}`;
  const providerB = `arn:aws:iam::${B}:oidc-provider/${b.url}`;
  return [
    { name: 'account A registers issuer A', step: { op: 'createProvider', as: A, issuer: a.issuer }, expect: { ok: true, arn: providerA } },
    { name: 'account A creates etl-reader', step: { op: 'createRole', as: A, name: 'etl-reader', trustPolicy: webIdentityTrust(providerA, a.url) }, expect: { ok: true, arn: roleArn(A, 'etl-reader') } },
    { name: 'account B registers issuer B', step: { op: 'createProvider', as: B, issuer: b.issuer }, expect: { ok: true, arn: providerB } },
    {
      name: 'account B creates a role of the same name, which does not clash',
      step: { op: 'createRole', as: B, name: 'etl-reader', trustPolicy: webIdentityTrust(providerB, b.url) },
      expect: { ok: true, arn: roleArn(B, 'etl-reader') },
    },
    { name: 'account A creates customer-data, trusting account B', step: { op: 'createRole', as: A, name: 'customer-data', trustPolicy: awsTrust(`arn:aws:iam::${B}:root`) }, expect: { ok: true, arn: roleArn(A, 'customer-data') }, cli: false },
    { name: 'account A reads its etl-reader', step: { op: 'getRole', as: A, name: 'etl-reader' }, expect: { ok: true, arn: roleArn(A, 'etl-reader') }, cli: false },
    { name: 'account B reads its own etl-reader', step: { op: 'getRole', as: B, name: 'etl-reader' }, expect: { ok: true, arn: roleArn(B, 'etl-reader') }, cli: false },
    { name: 'the default account has no etl-reader', step: { op: 'getRole', as: 'AKIASANDBOX', name: 'etl-reader' }, expect: { ok: false, code: 'NoSuchEntity' }, cli: false },
    { name: 'the key 123456789012 is that account’s root', step: { op: 'whoami', as: A }, expect: { ok: true, account: A, arn: `arn:aws:iam::${A}:root` } },
    { name: 'AKIASANDBOX is the default account’s root', step: { op: 'whoami', as: 'AKIASANDBOX' }, expect: { ok: true, account: DEFAULT, arn: `arn:aws:iam::${DEFAULT}:root` }, cli: false },
    { name: 'any other static key is the default account’s root', step: { op: 'whoami', as: 'test' }, expect: { ok: true, account: DEFAULT, arn: `arn:aws:iam::${DEFAULT}:root` }, cli: false },
    {
      name: 'a token of issuer A becomes account A’s etl-reader',
      step: { op: 'webIdentity', roleArn: roleArn(A, 'etl-reader'), token: a.token, session: 'run' },
      expect: { ok: true, account: A, arn: sessionArn(A, 'etl-reader', 'run') },
    },
    {
      name: 'the same from the environment alone',
      step: { op: 'webIdentityFromEnv', roleArn: roleArn(A, 'etl-reader'), token: a.token, session: 'from-env' },
      expect: { ok: true, account: A, arn: sessionArn(A, 'etl-reader', 'from-env') },
    },
    {
      name: 'a token of issuer B becomes account B’s etl-reader',
      step: { op: 'webIdentity', roleArn: roleArn(B, 'etl-reader'), token: b.token, session: 'run' },
      expect: { ok: true, account: B, arn: sessionArn(B, 'etl-reader', 'run') },
    },
    {
      name: 'a token of issuer A is refused for account B’s role: B has no provider for issuer A',
      step: { op: 'webIdentity', roleArn: roleArn(B, 'etl-reader'), token: a.token, session: 'run' },
      expect: { ok: false, code: 'InvalidIdentityToken' },
    },
    { name: 'account B registers issuer A too', step: { op: 'createProvider', as: B, issuer: a.issuer }, expect: { ok: true, arn: `arn:aws:iam::${B}:oidc-provider/${a.url}` }, cli: false },
    {
      name: 'and still a token of issuer A is refused for B’s role, which trusts only B’s provider for issuer B',
      step: { op: 'webIdentity', roleArn: roleArn(B, 'etl-reader'), token: a.token, session: 'run' },
      expect: { ok: false, code: 'AccessDenied' },
      cli: false,
    },
    {
      name: 'a session of account B chains into account A’s role that trusts B',
      step: { op: 'chain', roleArn: roleArn(B, 'etl-reader'), token: b.token, session: 'platform', targetRoleArn: roleArn(A, 'customer-data'), targetSession: 'customer' },
      expect: { ok: true, account: A, arn: sessionArn(A, 'customer-data', 'customer') },
      cli: false,
    },
    {
      name: 'a session of account A may not, though it is A’s own role: it trusts only B',
      step: { op: 'chain', roleArn: roleArn(A, 'etl-reader'), token: a.token, session: 'platform', targetRoleArn: roleArn(A, 'customer-data'), targetSession: 'customer' },
      expect: { ok: false, code: 'AccessDenied' },
      cli: false,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// The three clients
// ---------------------------------------------------------------------------------------------

function xmlTag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

/** The AWS SDK v3: STSClient and credential providers; IAM through its SigV4 signer (no IAM client is installed). */
const sdk: Client = {
  name: 'AWS SDK v3',
  async runSteps(endpoint, steps) {
    const sts = (credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      new STSClient({ endpoint, region: REGION, maxAttempts: 1, ...(credentials ? { credentials } : {}) });
    const fromSts = (c: Credentials | undefined) => ({ accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! });
    const whoami = async (credentials: Parameters<typeof sts>[0]) => {
      const me = await sts(credentials).send(new GetCallerIdentityCommand({}));
      return { ok: true as const, account: me.Account!, arn: me.Arn! };
    };
    const iam = async (key: string, params: Record<string, string>) => {
      const url = new URL(endpoint);
      const body = new URLSearchParams({ Version: '2010-05-08', ...params }).toString();
      const signer = new SignatureV4({ credentials: { accessKeyId: key, secretAccessKey: 'any-secret' }, region: REGION, service: 'iam', sha256: Sha256 });
      const signed = await signer.sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body,
      });
      const xml = await (await fetch(url, { method: 'POST', headers: signed.headers, body })).text();
      const code = xmlTag(xml, 'Code');
      if (code) return { ok: false as const, code };
      const roleId = xmlTag(xml, 'RoleId');
      return { ok: true as const, arn: xmlTag(xml, 'Arn') ?? xmlTag(xml, 'OpenIDConnectProviderArn')!, ...(roleId ? { roleId } : {}) };
    };
    const webIdentity = async (s: { roleArn: string; token: string; session: string }) =>
      fromSts((await sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: s.roleArn, RoleSessionName: s.session, WebIdentityToken: s.token }))).Credentials);

    const out: Result[] = [];
    for (const s of steps) {
      try {
        if (s.op === 'createProvider') out.push(await iam(s.as, { Action: 'CreateOpenIDConnectProvider', Url: s.issuer, 'ClientIDList.member.1': 'sts.amazonaws.com' }));
        else if (s.op === 'createRole') out.push(await iam(s.as, { Action: 'CreateRole', RoleName: s.name, AssumeRolePolicyDocument: s.trustPolicy }));
        else if (s.op === 'getRole') out.push(await iam(s.as, { Action: 'GetRole', RoleName: s.name }));
        else if (s.op === 'whoami') out.push(await whoami({ accessKeyId: s.as, secretAccessKey: 'any-secret' }));
        else if (s.op === 'webIdentity') out.push(await whoami(await webIdentity(s)));
        else if (s.op === 'webIdentityFromEnv') {
          const file = join(SCRATCH, 'sdk-token');
          writeFileSync(file, s.token);
          const creds = await fromTokenFile({ webIdentityTokenFile: file, roleArn: s.roleArn, roleSessionName: s.session, clientConfig: { endpoint, region: REGION, maxAttempts: 1 } })();
          out.push(await whoami(creds));
        } else {
          const first = await webIdentity(s);
          const second = await sts(first).send(new AssumeRoleCommand({ RoleArn: s.targetRoleArn, RoleSessionName: s.targetSession }));
          out.push(await whoami(fromSts(second.Credentials)));
        }
      } catch (err) {
        // The SDK names query-API errors after their code, with "Exception" appended for some.
        const e = err as { Code?: string; name: string };
        out.push({ ok: false, code: (e.Code ?? e.name).replace(/Exception$/, '') });
      }
    }
    return out;
  },
};

/** Python boto3, unmodified, in a child process: one process runs every step. */
const boto3: Client = {
  name: 'python boto3',
  async runSteps(endpoint, steps) {
    const child = execFile('python3', [BOTO3_STEPS], { env: childEnv() });
    const done = new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c) => (stdout += c));
      child.stderr!.on('data', (c) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`boto3 steps exited ${code}: ${stderr}`))));
    });
    child.stdin!.end(JSON.stringify({ endpoint, steps }));
    return JSON.parse(await done) as Result[];
  },
};

/** The real `aws` CLI (v1 on this machine), one command per call, as a user would type them. */
const awsCli: Client = {
  name: 'aws CLI',
  async runSteps(endpoint, steps) {
    const aws = async (args: string[], env: Record<string, string>): Promise<any> => {
      const { stdout } = await run('aws', ['--endpoint-url', endpoint, '--region', REGION, '--output', 'json', ...args], { env: childEnv(env) });
      return JSON.parse(stdout);
    };
    const asKey = (key: string) => ({ AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: 'any-secret' });
    const asCreds = (c: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }) => ({
      AWS_ACCESS_KEY_ID: c.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
      AWS_SESSION_TOKEN: c.SessionToken,
    });
    const whoami = async (env: Record<string, string>) => {
      const me = await aws(['sts', 'get-caller-identity'], env);
      return { ok: true as const, account: me.Account, arn: me.Arn };
    };
    const webIdentity = async (s: { roleArn: string; token: string; session: string }) =>
      (await aws(['sts', 'assume-role-with-web-identity', '--role-arn', s.roleArn, '--role-session-name', s.session, '--web-identity-token', s.token], {})).Credentials;

    const out: Result[] = [];
    for (const s of steps) {
      try {
        if (s.op === 'createProvider') {
          const r = await aws(['iam', 'create-open-id-connect-provider', '--url', s.issuer, '--client-id-list', 'sts.amazonaws.com'], asKey(s.as));
          out.push({ ok: true, arn: r.OpenIDConnectProviderArn });
        } else if (s.op === 'createRole' || s.op === 'getRole') {
          const args = s.op === 'createRole' ? ['iam', 'create-role', '--role-name', s.name, '--assume-role-policy-document', s.trustPolicy] : ['iam', 'get-role', '--role-name', s.name];
          const r = await aws(args, asKey(s.as));
          out.push({ ok: true, arn: r.Role.Arn, roleId: r.Role.RoleId });
        } else if (s.op === 'whoami') out.push(await whoami(asKey(s.as)));
        else if (s.op === 'webIdentity') out.push(await whoami(asCreds(await webIdentity(s))));
        else if (s.op === 'webIdentityFromEnv') {
          const file = join(SCRATCH, 'cli-token');
          writeFileSync(file, s.token);
          out.push(await whoami({ AWS_ROLE_ARN: s.roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_ROLE_SESSION_NAME: s.session, AWS_ENDPOINT_URL_STS: endpoint }));
        } else {
          const first = await webIdentity(s);
          const second = await aws(['sts', 'assume-role', '--role-arn', s.targetRoleArn, '--role-session-name', s.targetSession], asCreds(first));
          out.push(await whoami(asCreds(second.Credentials)));
        }
      } catch (err) {
        const code = /An error occurred \((\w+)\)/.exec(String((err as { stderr?: string }).stderr))?.[1];
        if (!code) throw err;
        out.push({ ok: false, code });
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

const clock = createManualClock(Date.now());
let airlock: TestServer;
let issuerA: Issuer;
let issuerB: Issuer;
const servers: FastifyInstance[] = [];

/** A fresh emulator on loopback (each client runs the scenario from an empty state). */
async function startEmulator(): Promise<{ endpoint: string; emulator: ReturnType<typeof createAwsEmulator> }> {
  const emulator = createAwsEmulator({ clock });
  const app = Fastify();
  servers.push(app);
  await app.register(emulator.plugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { endpoint: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, emulator };
}

async function issuer(name: string): Promise<Issuer> {
  const c = await airlock.app.clusters.create({ name, cloud: 'aws', type: 'dedicated', region: REGION });
  const { token } = await airlock.app.minter.mint({ clusterId: c.id, namespace: 'etl', serviceAccount: 'etl-worker', serviceAccountUid: 'uid-1', audiences: ['sts.amazonaws.com'], ttlSeconds: 3600 });
  return { issuer: c.oidcIssuerUrl, url: c.oidcIssuerUrl.replace(/^https?:\/\//, ''), token };
}

before(async () => {
  airlock = await startServer({ clock });
  issuerA = await issuer('platform-a');
  issuerB = await issuer('platform-b');
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await airlock?.close();
  rmSync(SCRATCH, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

// The three clients work on emulators of their own, so they run side by side.
describe('one sandbox, several AWS accounts', { concurrency: true }, () => {
  for (const client of [sdk, boto3, awsCli]) {
    it(`${client.name}: accounts are selected by access key id, roles live in their account, trust crosses accounts only where a policy says so`, async () => {
      const { endpoint, emulator } = await startEmulator();
      const rows = scenario(issuerA, issuerB).filter((r) => client !== awsCli || r.cli !== false);
      const results = await client.runSteps(endpoint, rows.map((r) => r.step));
      assert.equal(results.length, rows.length);
      rows.forEach((row, i) => {
        const got = results[i]!;
        const seen = JSON.stringify(got);
        assert.equal(got.ok, row.expect.ok, `${row.name}: ${seen}`);
        for (const [k, v] of Object.entries(row.expect)) assert.equal((got as Record<string, unknown>)[k], v, `${row.name}: ${k} (saw ${seen})`);
      });
      const roleIds = rows.flatMap((r, i) => (r.step.op === 'createRole' && r.step.name === 'etl-reader' ? [(results[i] as { roleId?: string }).roleId] : []));
      assert.equal(roleIds.length, 2);
      assert.ok(roleIds[0] && roleIds[1] && roleIds[0] !== roleIds[1], `two roles named etl-reader, two role ids: ${roleIds.join(', ')}`);
      assert.deepEqual(emulator.state.accountIds(), [A, B], 'only the accounts written to hold state');
    });
  }
});

describe('cross-account role chaining: the target role’s trust policy decides', () => {
  const principals: { name: string; principal: string | string[]; session?: string; allowed: boolean }[] = [
    { name: 'account B’s root ARN', principal: `arn:aws:iam::${B}:root`, allowed: true },
    { name: 'account B’s bare id', principal: B, allowed: true },
    { name: 'B’s role (covers its sessions)', principal: roleArn(B, 'platform'), allowed: true },
    { name: 'this very session of B’s role', principal: sessionArn(B, 'platform', 'chain'), allowed: true },
    { name: 'another session of B’s role', principal: sessionArn(B, 'platform', 'someone-else'), allowed: false },
    { name: 'a role of the same name in A', principal: roleArn(A, 'platform'), allowed: false },
    { name: 'a third account', principal: `arn:aws:iam::111111111111:root`, allowed: false },
    { name: 'a list naming a third account and B', principal: ['arn:aws:iam::111111111111:root', `arn:aws:iam::${B}:root`], allowed: true },
  ];

  let endpoint: string;
  let platform: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  before(async () => {
    ({ endpoint } = await startEmulator());
    const setup: Step[] = [
      { op: 'createProvider', as: B, issuer: issuerB.issuer },
      { op: 'createRole', as: B, name: 'platform', trustPolicy: webIdentityTrust(`arn:aws:iam::${B}:oidc-provider/${issuerB.url}`, issuerB.url) },
      ...principals.map((p, i): Step => ({ op: 'createRole', as: A, name: `target-${i}`, trustPolicy: awsTrust(p.principal) })),
    ];
    for (const r of await sdk.runSteps(endpoint, setup)) assert.equal(r.ok, true, JSON.stringify(r));
    const out = await new STSClient({ endpoint, region: REGION, maxAttempts: 1 }).send(
      new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn(B, 'platform'), RoleSessionName: 'chain', WebIdentityToken: issuerB.token }),
    );
    platform = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
  });

  for (const [i, p] of principals.entries()) {
    it(`a role in A trusting ${p.name} ${p.allowed ? 'lets' : 'does not let'} a session of B in`, async () => {
      const sts = (credentials: typeof platform) => new STSClient({ endpoint, region: REGION, maxAttempts: 1, credentials });
      const attempt = sts(platform).send(new AssumeRoleCommand({ RoleArn: roleArn(A, `target-${i}`), RoleSessionName: 'customer' }));
      if (!p.allowed) {
        await assert.rejects(attempt, (e: Error) => {
          assert.equal(e.name, 'AccessDenied', e.message);
          assert.equal(e.message, `User: ${sessionArn(B, 'platform', 'chain')} is not authorized to perform: sts:AssumeRole on resource: ${roleArn(A, `target-${i}`)}`);
          return true;
        });
        return;
      }
      const out = await attempt;
      const me = await sts({ accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! }).send(new GetCallerIdentityCommand({}));
      assert.equal(me.Account, A);
      assert.equal(me.Arn, sessionArn(A, `target-${i}`, 'customer'));
      const before = await sts(platform).send(new GetCallerIdentityCommand({}));
      assert.equal(before.Account, B, 'the first session still answers for account B');
    });
  }
});
