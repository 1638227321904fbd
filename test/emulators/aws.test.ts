/**
 * The AWS emulator driven by the real AWS SDK v3, unmodified, against Airlock's real issuer — all
 * on 127.0.0.1. IAM is set up through the emulator's own query API (signed here with
 * @smithy/signature-v4, as the aws CLI would sign it), then workloads exchange Airlock tokens the
 * way they do on EKS: `fromTokenFile`, or the default provider chain reading the env a pod gets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Sha256 } from '@aws-crypto/sha256-js';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { fromNodeProviderChain, fromTemporaryCredentials, fromTokenFile } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateKeyPair, SignJWT } from 'jose';
import { createAwsEmulator, type AwsEmulator } from '../../src/emulators/aws/index.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { isolateAwsSdk } from '../helpers/aws-sdk.ts';

// The SDK sees nothing from the developer's environment, and no call leaves 127.0.0.1.
const SCRATCH = isolateAwsSdk('airlock-aws-emulator-');

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const ADMIN = { accessKeyId: 'AKIASANDBOX', secretAccessKey: 'anything-goes' };
const SUB = 'system:serviceaccount:etl:etl-worker';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** The first `<name>` element's text (enough for assertions; the SDK tests parse for real). */
function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!);
}

interface QueryResult {
  status: number;
  xml: string;
  code: string | undefined;
}

/** A signed IAM query-API call, as the aws CLI makes it (form body, SigV4 for service "iam"). */
async function iamCall(endpoint: string, params: Record<string, string>, o: { sign?: boolean; credentials?: typeof ADMIN & { sessionToken?: string } } = {}): Promise<QueryResult> {
  const url = new URL(endpoint);
  const body = new URLSearchParams({ Version: '2010-05-08', ...params }).toString();
  let headers: Record<string, string> = { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  if (o.sign !== false) {
    const signer = new SignatureV4({ credentials: o.credentials ?? ADMIN, region: REGION, service: 'iam', sha256: Sha256 });
    const signed = await signer.sign({ method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, headers, body });
    headers = signed.headers;
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  const xml = await res.text();
  return { status: res.status, xml, code: tag(xml, 'Code') };
}

function trustPolicy(statement: object | object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statement });
}

/** Asserts an SDK call fails with the given exception name and HTTP status; returns the error. */
async function sdkRejects(p: Promise<unknown>, name: string, status: number, message?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, name, `error name (message: ${e.message})`);
    assert.equal(e.$metadata?.httpStatusCode, status, 'HTTP status');
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

// ---------------------------------------------------------------------------------------------
// Fixture: Airlock + the emulator on 127.0.0.1, IAM set up through the query API
// ---------------------------------------------------------------------------------------------

// The clock starts at real time because the SDK signs with, and checks expirations against, the
// real clock; tests that move it put it back.
const clock = createManualClock(Date.now());
let airlock: TestServer;
let emulator: AwsEmulator;
let http: FastifyInstance;
let endpoint: string;
/** Cluster "etl": provider registered, roles trust it. */
let etl: { id: string; issuer: string; providerUrl: string; providerArn: string };
/** Cluster "rotating": its own provider and role, for key revocation. */
let rotating: { id: string; issuer: string; providerArn: string };
/** Cluster "unregistered": Airlock issues for it, IAM has no provider for it. */
let unregistered: { id: string };
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

const mint = (clusterId: string, o: { serviceAccount?: string; audiences?: string[]; ttlSeconds?: number } = {}) =>
  airlock.app.minter
    .mint({
      clusterId,
      namespace: 'etl',
      serviceAccount: o.serviceAccount ?? 'etl-worker',
      serviceAccountUid: 'uid-1',
      audiences: o.audiences ?? ['sts.amazonaws.com'],
      ttlSeconds: o.ttlSeconds ?? 3600,
    })
    .then((m) => m.token);

function tokenFile(token: string): string {
  const file = join(mkdtempSync(join(SCRATCH, 'token-')), 'token');
  writeFileSync(file, token);
  return file;
}

/** An STS client aimed at the emulator; one attempt, so a refusal is seen as the emulator sent it. */
const sts = (credentials?: STSClientConfig['credentials']) =>
  new STSClient({ endpoint, region: REGION, maxAttempts: 1, ...(credentials ? { credentials } : {}) });

/** Credentials for role etl-reader through the SDK's web-identity provider. */
async function webIdentityCredentials(sessionName = 'etl-run') {
  return fromTokenFile({
    webIdentityTokenFile: tokenFile(await mint(etl.id)),
    roleArn: roleArn('etl-reader'),
    roleSessionName: sessionName,
    clientConfig: { endpoint, region: REGION, maxAttempts: 1 },
  })();
}

async function createProvider(issuer: string): Promise<string> {
  const r = await iamCall(endpoint, { Action: 'CreateOpenIDConnectProvider', Url: issuer, 'ClientIDList.member.1': 'sts.amazonaws.com' });
  assert.equal(r.status, 200, r.xml);
  return tag(r.xml, 'OpenIDConnectProviderArn')!;
}

async function createRole(name: string, policy: string, extra: Record<string, string> = {}): Promise<QueryResult> {
  const r = await iamCall(endpoint, { Action: 'CreateRole', RoleName: name, AssumeRolePolicyDocument: policy, ...extra });
  assert.equal(r.status, 200, r.xml);
  return r;
}

before(async () => {
  airlock = await startServer({ clock });
  emulator = createAwsEmulator({ clock });
  http = Fastify();
  await http.register(emulator.plugin);
  await http.listen({ host: '127.0.0.1', port: 0 });
  endpoint = `http://127.0.0.1:${(http.server.address() as { port: number }).port}`;

  const a = await airlock.app.clusters.create({ name: 'etl', cloud: 'aws', type: 'dedicated', region: REGION });
  const providerUrl = a.oidcIssuerUrl.replace(/^https?:\/\//, '');
  etl = { id: a.id, issuer: a.oidcIssuerUrl, providerUrl, providerArn: await createProvider(a.oidcIssuerUrl) };
  assert.equal(etl.providerArn, `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}`);

  const b = await airlock.app.clusters.create({ name: 'rotating', cloud: 'aws', type: 'standard', region: REGION });
  rotating = { id: b.id, issuer: b.oidcIssuerUrl, providerArn: await createProvider(b.oidcIssuerUrl) };
  unregistered = { id: (await airlock.app.clusters.create({ name: 'unregistered', cloud: 'aws', region: REGION })).id };
  await createProvider('http://127.0.0.1:1/dup');

  // The platform ("default identity") role: only this cluster's etl-worker service account.
  await createRole(
    'etl-reader',
    trustPolicy({
      Effect: 'Allow',
      Principal: { Federated: etl.providerArn },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [`${providerUrl}:sub`]: SUB, [`${providerUrl}:aud`]: 'sts.amazonaws.com' } },
    }),
    { MaxSessionDuration: '7200' },
  );
  // The customer's role trusts the platform role (role chaining).
  await createRole('customer-data', trustPolicy({ Effect: 'Allow', Principal: { AWS: roleArn('etl-reader') }, Action: 'sts:AssumeRole' }), { Path: '/' });
  // A role that trusts someone else.
  await createRole('unrelated', trustPolicy({ Effect: 'Allow', Principal: { AWS: roleArn('someone-else') }, Action: 'sts:AssumeRole' }));
  await createRole(
    'rotating-reader',
    trustPolicy({
      Effect: 'Allow',
      Principal: { Federated: rotating.providerArn },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringLike: { [`${b.oidcIssuerUrl.replace(/^https?:\/\//, '')}:sub`]: 'system:serviceaccount:etl:*' } },
    }),
  );
});

after(async () => {
  await http?.close();
  await airlock?.close();
  rmSync(SCRATCH, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// IAM query API
// ---------------------------------------------------------------------------------------------

describe('IAM query API', () => {
  it('returns the role in AWS shape, with the trust policy URL-encoded as AWS sends it', async () => {
    const r = await iamCall(endpoint, { Action: 'GetRole', RoleName: 'etl-reader' });
    assert.equal(r.status, 200);
    assert.match(r.xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<GetRoleResponse xmlns="https:\/\/iam.amazonaws.com\/doc\/2010-05-08\/"><GetRoleResult><Role><Path>\/<\/Path>/);
    assert.equal(tag(r.xml, 'Arn'), roleArn('etl-reader'));
    assert.match(tag(r.xml, 'RoleId')!, /^AROA[A-Z0-9]{17}$/);
    assert.equal(tag(r.xml, 'MaxSessionDuration'), '7200');
    assert.match(tag(r.xml, 'CreateDate')!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const encoded = tag(r.xml, 'AssumeRolePolicyDocument')!;
    assert.match(encoded, /^%7B%22Version%22%3A%222012-10-17%22/);
    assert.equal(JSON.parse(decodeURIComponent(encoded)).Statement.Principal.Federated, etl.providerArn);
    assert.match(tag(r.xml, 'RequestId')!, /^[0-9a-f-]{36}$/);
  });

  it('returns the OIDC provider URL without its scheme, with client ids as <member>s', async () => {
    const r = await iamCall(endpoint, { Action: 'GetOpenIDConnectProvider', OpenIDConnectProviderArn: etl.providerArn });
    assert.equal(r.status, 200);
    assert.equal(tag(r.xml, 'Url'), etl.providerUrl);
    assert.match(r.xml, /<ClientIDList><member>sts.amazonaws.com<\/member><\/ClientIDList>/);
    const list = await iamCall(endpoint, { Action: 'ListOpenIDConnectProviders' });
    const arns = tags(list.xml, 'Arn');
    assert.ok(arns.includes(etl.providerArn) && arns.includes(rotating.providerArn), arns.join(', '));
  });

  it('lists roles by path prefix, and pages with MaxItems/Marker', async () => {
    await createRole('pathed', trustPolicy({ Effect: 'Allow', Principal: { AWS: roleArn('etl-reader') }, Action: 'sts:AssumeRole' }), { Path: '/team/a/' });
    const byPath = await iamCall(endpoint, { Action: 'ListRoles', PathPrefix: '/team/' });
    assert.deepEqual(tags(byPath.xml, 'RoleName'), ['pathed']);
    assert.equal(tags(byPath.xml, 'Arn')[0], `arn:aws:iam::${ACCOUNT}:role/team/a/pathed`);
    const first = await iamCall(endpoint, { Action: 'ListRoles', MaxItems: '2' });
    assert.equal(tag(first.xml, 'IsTruncated'), 'true');
    const rest = await iamCall(endpoint, { Action: 'ListRoles', Marker: tag(first.xml, 'Marker')! });
    const all = [...tags(first.xml, 'RoleName'), ...tags(rest.xml, 'RoleName')];
    assert.ok(all.includes('etl-reader') && all.includes('pathed') && new Set(all).size === all.length, all.join(','));
    await iamCall(endpoint, { Action: 'DeleteRole', RoleName: 'pathed' });
  });

  it('updates a trust policy and deletes a role', async () => {
    await createRole('short-lived', trustPolicy({ Effect: 'Allow', Principal: { AWS: roleArn('a') }, Action: 'sts:AssumeRole' }));
    const updated = trustPolicy({ Effect: 'Allow', Principal: { AWS: roleArn('b') }, Action: 'sts:AssumeRole' });
    const u = await iamCall(endpoint, { Action: 'UpdateAssumeRolePolicy', RoleName: 'short-lived', PolicyDocument: updated });
    assert.equal(u.status, 200, u.xml);
    assert.match(u.xml, /^<\?xml[^>]*>\n<UpdateAssumeRolePolicyResponse [^>]*><ResponseMetadata>/);
    assert.equal(decodeURIComponent(tag((await iamCall(endpoint, { Action: 'GetRole', RoleName: 'short-lived' })).xml, 'AssumeRolePolicyDocument')!), updated);
    assert.equal((await iamCall(endpoint, { Action: 'DeleteRole', RoleName: 'short-lived' })).status, 200);
    assert.equal((await iamCall(endpoint, { Action: 'GetRole', RoleName: 'short-lived' })).code, 'NoSuchEntity');
  });

  const failures: { name: string; params: Record<string, string>; sign?: false; status: number; code: string; message?: RegExp }[] = [
    { name: 'a missing role', params: { Action: 'GetRole', RoleName: 'nope' }, status: 404, code: 'NoSuchEntity', message: /The role with name nope cannot be found/ },
    {
      name: 'a duplicate role name, whatever its case',
      params: { Action: 'CreateRole', RoleName: 'ETL-Reader', AssumeRolePolicyDocument: trustPolicy({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }) },
      status: 409,
      code: 'EntityAlreadyExists',
    },
    { name: 'a trust policy that is not JSON', params: { Action: 'CreateRole', RoleName: 'bad1', AssumeRolePolicyDocument: '{"Version": ' }, status: 400, code: 'MalformedPolicyDocument' },
    {
      name: 'a trust policy with a duplicate key',
      params: {
        Action: 'CreateRole',
        RoleName: 'bad2',
        AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}',
      },
      status: 400,
      code: 'MalformedPolicyDocument',
    },
    {
      name: 'a trust policy over the 2048-character quota',
      params: {
        Action: 'CreateRole',
        RoleName: 'bad3',
        AssumeRolePolicyDocument: trustPolicy(Array.from({ length: 40 }, (_, i) => ({ Effect: 'Allow', Principal: { AWS: roleArn(`r-${i}`) }, Action: 'sts:AssumeRole' }))),
      },
      status: 409,
      code: 'LimitExceeded',
    },
    { name: 'a role name with a space', params: { Action: 'CreateRole', RoleName: 'a b', AssumeRolePolicyDocument: '{}' }, status: 400, code: 'ValidationError' },
    { name: 'a missing required parameter', params: { Action: 'CreateRole', RoleName: 'x' }, status: 400, code: 'MissingParameter' },
    { name: 'an OIDC provider that exists', params: { Action: 'CreateOpenIDConnectProvider', Url: 'http://127.0.0.1:1/dup' }, status: 409, code: 'EntityAlreadyExists' },
    { name: 'an http issuer that is not on loopback', params: { Action: 'CreateOpenIDConnectProvider', Url: 'http://issuer.example' }, status: 400, code: 'InvalidInput' },
    { name: 'a thumbprint that is not 40 hex digits', params: { Action: 'CreateOpenIDConnectProvider', Url: 'https://x.example', 'ThumbprintList.member.1': 'abc' }, status: 400, code: 'ValidationError' },
    { name: 'a missing provider', params: { Action: 'GetOpenIDConnectProvider', OpenIDConnectProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/none.example` }, status: 404, code: 'NoSuchEntity' },
    { name: 'an unsigned IAM call', params: { Action: 'ListRoles' }, sign: false, status: 403, code: 'MissingAuthenticationToken' },
    { name: 'an unknown action', params: { Action: 'CreateUser', UserName: 'u' }, status: 400, code: 'InvalidAction' },
  ];
  for (const f of failures) {
    it(`answers ${f.code} (${f.status}) for ${f.name}`, async () => {
      const r = await iamCall(endpoint, f.params, f.sign === false ? { sign: false } : {});
      assert.equal(r.status, f.status, r.xml);
      assert.equal(r.code, f.code, r.xml);
      assert.match(r.xml, /<ErrorResponse xmlns="https:\/\/(iam|sts)\.amazonaws\.com\/doc\/[0-9-]+\/"><Error><Type>Sender<\/Type><Code>/);
      assert.ok(tag(r.xml, 'RequestId'));
      if (f.message) assert.match(tag(r.xml, 'Message')!, f.message);
    });
  }

  it('accepts IAM calls signed with credentials the emulator issued (and checks their signature)', async () => {
    const creds = await webIdentityCredentials('iam-admin');
    const ok = await iamCall(endpoint, { Action: 'ListRoles' }, { credentials: creds });
    assert.equal(ok.status, 200, ok.xml);
    const bad = await iamCall(endpoint, { Action: 'ListRoles' }, { credentials: { ...creds, secretAccessKey: 'wrong' } });
    assert.equal(bad.code, 'SignatureDoesNotMatch');
  });
});

// ---------------------------------------------------------------------------------------------
// STS through the SDK
// ---------------------------------------------------------------------------------------------

describe('AssumeRoleWithWebIdentity with the AWS SDK', () => {
  it('fromTokenFile gets credentials for an allowed subject, and GetCallerIdentity shows the assumed role', async () => {
    const creds = await webIdentityCredentials('etl-run');
    assert.match(creds.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(creds.secretAccessKey.length, 40);
    assert.ok(creds.sessionToken);
    const ttl = creds.expiration!.getTime() - clock.now();
    assert.ok(ttl > 3590_000 && ttl <= 3600_000, `default session lasts an hour (got ${ttl} ms)`);
    assert.equal(creds.accountId, ACCOUNT, 'the SDK reads the account from the assumed-role ARN');

    const me = await sts(creds).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/etl-reader/etl-run`);
    assert.equal(me.Account, ACCOUNT);
    assert.match(me.UserId!, /^AROA[A-Z0-9]{17}:etl-run$/);
  });

  it('returns the documented response fields', async () => {
    const out = await sts().send(
      new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('etl-reader'), RoleSessionName: 'fields', WebIdentityToken: await mint(etl.id), DurationSeconds: 7200 }),
    );
    assert.equal(out.SubjectFromWebIdentityToken, SUB);
    assert.equal(out.Audience, 'sts.amazonaws.com');
    assert.equal(out.Provider, etl.providerArn);
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/etl-reader/fields`);
    assert.equal(out.Credentials!.Expiration!.getTime(), Math.floor(clock.now() / 1000) * 1000 + 7200_000);
  });

  it('the default provider chain works from the env a pod gets (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS)', async () => {
    const env = {
      AWS_ROLE_ARN: roleArn('etl-reader'),
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile(await mint(etl.id)),
      AWS_ROLE_SESSION_NAME: 'from-env',
      AWS_ENDPOINT_URL_STS: endpoint,
      AWS_REGION: REGION,
    };
    Object.assign(process.env, env);
    try {
      const creds = await fromNodeProviderChain()();
      assert.match(creds.accessKeyId, /^ASIA/);
      // A client configured by nothing but the environment finds both the endpoint and the credentials.
      const me = await new STSClient({ maxAttempts: 1 }).send(new GetCallerIdentityCommand({}));
      assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/etl-reader/from-env`);
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
    }
  });

  const denied: { name: string; token: () => Promise<string>; role?: string; session?: string; duration?: number; error: string; status: number; message?: RegExp }[] = [
    {
      name: 'a subject the trust policy does not name',
      token: () => mint(etl.id, { serviceAccount: 'someone-else' }),
      error: 'AccessDenied',
      status: 403,
      message: /^Not authorized to perform sts:AssumeRoleWithWebIdentity$/,
    },
    { name: 'a token for another audience', token: () => mint(etl.id, { audiences: ['api://other'] }), error: 'InvalidIdentityTokenException', status: 400, message: /^Incorrect token audience$/ },
    { name: 'a token from an issuer with no IAM provider', token: () => mint(unregistered.id), error: 'InvalidIdentityTokenException', status: 400, message: /No OpenIDConnect provider found in your account for http:\/\/127\.0\.0\.1/ },
    { name: 'a role that does not exist (not disclosed)', token: () => mint(etl.id), role: roleArn('no-such-role'), error: 'AccessDenied', status: 403 },
    {
      name: 'a role in another account, which has no provider for the issuer',
      token: () => mint(etl.id),
      role: 'arn:aws:iam::111122223333:role/etl-reader',
      error: 'InvalidIdentityTokenException',
      status: 400,
      message: /No OpenIDConnect provider found in your account/,
    },
    { name: 'a role trusting another principal', token: () => mint(etl.id), role: roleArn('customer-data'), error: 'AccessDenied', status: 403 },
    { name: 'a malformed role ARN', token: () => mint(etl.id), role: 'arn:aws:s3:::bucket/not-a-role', error: 'ValidationError', status: 400 },
    { name: 'a session name outside [\\w+=,.@-]', token: () => mint(etl.id), session: 'has space', error: 'ValidationError', status: 400 },
    { name: 'a duration above the role MaxSessionDuration', token: () => mint(etl.id), duration: 7201, error: 'ValidationError', status: 400, message: /MaxSessionDuration/ },
    { name: 'a duration below 900 seconds', token: () => mint(etl.id), duration: 899, error: 'ValidationError', status: 400 },
    { name: 'something that is not a JWT', token: async () => 'not-a-jwt', error: 'InvalidIdentityTokenException', status: 400 },
  ];
  for (const d of denied) {
    it(`refuses ${d.name}: ${d.error}`, async () => {
      const cmd = new AssumeRoleWithWebIdentityCommand({
        RoleArn: d.role ?? roleArn('etl-reader'),
        RoleSessionName: d.session ?? 'denied',
        WebIdentityToken: await d.token(),
        ...(d.duration ? { DurationSeconds: d.duration } : {}),
      });
      await sdkRejects(sts().send(cmd), d.error, d.status, d.message);
    });
  }

  it('accepts a token up to five minutes past exp, then answers ExpiredTokenException', async () => {
    const token = await mint(etl.id, { ttlSeconds: 600 });
    const start = clock.now();
    const exchange = () => sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('etl-reader'), RoleSessionName: 'late', WebIdentityToken: token }));
    try {
      clock.set(start + (600 + 240) * 1000);
      assert.ok((await exchange()).Credentials, 'within the five-minute leeway');
      clock.set(start + (600 + 360) * 1000);
      await sdkRejects(exchange(), 'ExpiredTokenException', 400, /^Token expired: current date\/time \d+ must be before the expiration date\/time\d+$/);
    } finally {
      clock.set(start);
    }
  });

  it('refuses a token signed by a key that was rotated out and revoked: InvalidIdentityToken', async () => {
    const exchange = async (token: string) =>
      sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('rotating-reader'), RoleSessionName: 'rot', WebIdentityToken: token }));
    const old = await mint(rotating.id);
    assert.ok((await exchange(old)).Credentials, 'accepted before the rotation');
    await airlock.app.keyring.rotate(rotating.id, { immediate: true, revokePrevious: true });
    await sdkRejects(exchange(old), 'InvalidIdentityTokenException', 400);
    assert.ok((await exchange(await mint(rotating.id))).Credentials, 'a token from the new key is accepted');
  });

  it('answers IDPCommunicationError when the issuer cannot be reached', async () => {
    // An issuer on a loopback port nothing listens on (the emulator's own port, just closed).
    const spare = Fastify();
    await spare.listen({ host: '127.0.0.1', port: 0 });
    const issuer = `http://127.0.0.1:${(spare.server.address() as { port: number }).port}/gone`;
    await spare.close();
    const providerArn = await createProvider(issuer);
    await createRole('gone-reader', trustPolicy({ Effect: 'Allow', Principal: { Federated: providerArn }, Action: 'sts:AssumeRoleWithWebIdentity' }));
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ sub: 'x', aud: 'sts.amazonaws.com' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setIssuedAt(Math.floor(clock.now() / 1000))
      .setExpirationTime(Math.floor(clock.now() / 1000) + 600)
      .sign(privateKey);
    await sdkRejects(
      sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('gone-reader'), RoleSessionName: 'gone', WebIdentityToken: token })),
      'IDPCommunicationErrorException',
      400,
    );
  });
});

describe('role chaining with AssumeRole', () => {
  it('the web-identity session assumes a role that trusts its role, and GetCallerIdentity shows the second role', async () => {
    const first = await webIdentityCredentials('platform');
    const out = await sts(first).send(new AssumeRoleCommand({ RoleArn: roleArn('customer-data'), RoleSessionName: 'customer-run' }));
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/customer-data/customer-run`);
    const second = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
    const me = await sts(second).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/customer-data/customer-run`);
  });

  it('works through the SDK fromTemporaryCredentials provider too', async () => {
    const provider = fromTemporaryCredentials({
      masterCredentials: await webIdentityCredentials('platform'),
      params: { RoleArn: roleArn('customer-data'), RoleSessionName: 'via-provider' },
      clientConfig: { endpoint, region: REGION, maxAttempts: 1 },
    });
    const me = await sts(provider).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/customer-data/via-provider`);
  });

  it('refuses a role that does not trust the caller: AccessDenied naming the caller and the role', async () => {
    const first = await webIdentityCredentials('platform');
    await sdkRejects(
      sts(first).send(new AssumeRoleCommand({ RoleArn: roleArn('unrelated'), RoleSessionName: 'nope' })),
      'AccessDenied',
      403,
      new RegExp(`^User: arn:aws:sts::${ACCOUNT}:assumed-role/etl-reader/platform is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/unrelated$`),
    );
  });

  it('caps chained sessions at one hour, as AWS does', async () => {
    const first = await webIdentityCredentials('platform');
    await sdkRejects(
      sts(first).send(new AssumeRoleCommand({ RoleArn: roleArn('customer-data'), RoleSessionName: 'long', DurationSeconds: 3601 })),
      'ValidationError',
      400,
      /role chaining/,
    );
  });
});

describe('SigV4 on signed STS calls', () => {
  /** A client whose request body is changed after it was signed. */
  function tampering(credentials: Awaited<ReturnType<typeof webIdentityCredentials>>) {
    const client = sts(credentials);
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body?: string; headers: Record<string, string> };
        req.body = String(req.body).replace('GetCallerIdentity', 'GetCallerIdentity&Extra=1');
        req.headers['content-length'] = String(Buffer.byteLength(req.body));
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'tamperAfterSigning' },
    );
    return client;
  }

  it('refuses a body changed after signing: SignatureDoesNotMatch', async () => {
    await sdkRejects(tampering(await webIdentityCredentials()).send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch', 403);
  });

  it('refuses a wrong secret: SignatureDoesNotMatch', async () => {
    const creds = await webIdentityCredentials();
    await sdkRejects(sts({ ...creds, secretAccessKey: 'x'.repeat(40) }).send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch', 403);
  });

  it('refuses an access key it never issued, or a wrong session token: InvalidClientTokenId', async () => {
    const creds = await webIdentityCredentials();
    await sdkRejects(sts({ ...creds, accessKeyId: 'ASIAAAAAAAAAAAAAAAAA' }).send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
    await sdkRejects(sts({ ...creds, sessionToken: 'AirlockSandbox/forged' }).send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
  });

  it('refuses credentials past their expiration: ExpiredToken', async () => {
    const creds = await webIdentityCredentials();
    const start = clock.now();
    try {
      clock.set(start + 3601_000);
      await sdkRejects(sts({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken! }).send(new GetCallerIdentityCommand({})), 'ExpiredToken', 400);
    } finally {
      clock.set(start);
    }
  });

  it('the sandbox admin key is the account root for GetCallerIdentity, and may not assume roles', async () => {
    const me = await sts(ADMIN).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:root`);
    await sdkRejects(sts(ADMIN).send(new AssumeRoleCommand({ RoleArn: roleArn('customer-data'), RoleSessionName: 'root' })), 'AccessDenied', 403);
  });
});

describe('sandbox plumbing', () => {
  it('GET /_sandbox/aws/state shows entities and sessions but no secret', async () => {
    const creds = await webIdentityCredentials('state-check');
    const res = await fetch(`${endpoint}/_sandbox/aws/state`);
    assert.equal(res.status, 200);
    const text = await res.text();
    const body = JSON.parse(text);
    assert.equal(body.defaultAccountId, ACCOUNT);
    const [account] = body.accounts;
    assert.equal(account.accountId, ACCOUNT);
    assert.ok(account.roles.some((r: { roleName: string }) => r.roleName === 'etl-reader'));
    assert.ok(account.oidcProviders.some((p: { issuer: string }) => p.issuer === etl.issuer));
    const session = body.sessions.find((s: { accessKeyId: string }) => s.accessKeyId === creds.accessKeyId);
    assert.equal(session.accountId, ACCOUNT);
    assert.equal(session.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/etl-reader/state-check`);
    assert.equal(session.subject, SUB);
    for (const s of emulator.sessions.list()) {
      assert.ok(!text.includes(s.secretAccessKey), 'no secret access key');
      assert.ok(!text.includes(s.sessionToken), 'no session token');
    }
  });

  it('state survives toJSON → load into a new emulator, which then serves the same exchange', async () => {
    const json = JSON.parse(JSON.stringify(emulator.state.toJSON()));
    const other = createAwsEmulator({ clock });
    other.state.load(json);
    const app = Fastify();
    await app.register(other.plugin);
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const otherEndpoint = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const out = await new STSClient({ endpoint: otherEndpoint, region: REGION, maxAttempts: 1 }).send(
        new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('etl-reader'), RoleSessionName: 'reloaded', WebIdentityToken: await mint(etl.id) }),
      );
      assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/etl-reader/reloaded`);
      assert.deepEqual(other.state.toJSON(), json);
      assert.equal(json.version, 2);
      assert.deepEqual(json.accounts.map((a: { accountId: string }) => a.accountId), [ACCOUNT]);
      assert.throws(() => other.state.load({ version: 1, accountId: ACCOUNT, roles: 'x' }), /not an AWS sandbox state file/);
    } finally {
      await app.close();
    }
  });

  it('answers requests that are not forms in AWS XML too', async () => {
    const app = Fastify();
    await app.register(createAwsEmulator({ clock }).plugin);
    try {
      const cases = [
        // A body in another format is not read as parameters at all.
        { headers: { 'content-type': 'application/json' }, payload: '{"Action":"GetCallerIdentity"}', status: 400, code: 'MissingAction' },
        { headers: { 'content-type': 'application/octet-stream' }, payload: 'Action=GetCallerIdentity', status: 415, code: 'InvalidParameterValue' },
        { headers: {}, payload: undefined, status: 400, code: 'MissingAction' },
        { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'Action=GetCallerIdentity', status: 403, code: 'MissingAuthenticationToken' },
      ];
      for (const c of cases) {
        const r = await app.inject({ method: 'POST', url: '/', headers: c.headers, ...(c.payload ? { payload: c.payload } : {}) });
        assert.equal(r.statusCode, c.status, r.body);
        assert.match(String(r.headers['content-type']), /^text\/xml/);
        assert.equal(tag(r.body, 'Code'), c.code, r.body);
      }
    } finally {
      await app.close();
    }
  });

  it('works under a prefix on an app that already parses forms itself', async () => {
    const host = Fastify();
    await host.register(formbody);
    host.post('/echo', async (req) => req.body);
    await host.register(createAwsEmulator({ clock }).plugin, { prefix: '/aws' });
    await host.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`;
      const created = await iamCall(`${base}/aws`, { Action: 'CreateOpenIDConnectProvider', Url: 'https://prefixed.example', 'ClientIDList.member.1': 'a' });
      assert.equal(created.status, 200, created.xml);
      const echo = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
      assert.deepEqual(await echo.json(), { a: '1' }, "the host app's own form parsing is untouched");
      const me = await new STSClient({ endpoint: `${base}/aws`, region: REGION, maxAttempts: 1, credentials: ADMIN }).send(new GetCallerIdentityCommand({}));
      assert.equal(me.Account, ACCOUNT);
    } finally {
      await host.close();
    }
  });
});
