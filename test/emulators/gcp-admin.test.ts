/**
 * The GCP sandbox without Airlock: the admin API and config file, the plugin on a shared fastify
 * instance, and the edges of the STS and IAM Credentials protocols. Subject tokens are unsigned
 * JWTs checked by a stub verifier (the signature path is covered by gcp.test.ts against a real
 * issuer); requests go through fastify.inject, so nothing opens a socket.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { decodeJwt, UnsecuredJWT } from 'jose';
import { createGcpEmulator, type GcpConfigInput } from '../../src/emulators/gcp/index.ts';
import { TokenCheckError, type OidcVerifier, type TokenFailure } from '../../src/emulators/shared/oidc-verifier.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';

const ISSUER = 'https://issuer.sandbox.test/clusters/cl_1';
const NUMBER = '123456789012';
const POOL = `projects/${NUMBER}/locations/global/workloadIdentityPools/airlock`;
const AUDIENCE = `//iam.googleapis.com/${POOL}/providers/airlock-k8s`;
const SA = 'etl-loader@airlock-sandbox.iam.gserviceaccount.com';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const principal = (sub: string) => `principal://iam.googleapis.com/${POOL}/subject/${sub}`;

/** A verifier that trusts the token's claims, or fails with the reason it is told to. */
function stubVerifier(): OidcVerifier & { failWith?: TokenFailure } {
  const v: OidcVerifier & { failWith?: TokenFailure } = {
    peekIssuer(token) {
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch (cause) {
        throw new TokenCheckError('malformed', 'not a JWT', { cause });
      }
      if (typeof iss !== 'string') throw new TokenCheckError('malformed', 'no iss');
      return iss;
    },
    async verify(token) {
      if (v.failWith) throw new TokenCheckError(v.failWith, `stub: ${v.failWith}`);
      return { header: { alg: 'RS256' }, claims: decodeJwt(token) as Record<string, unknown> };
    },
  };
  return v;
}

function world(): GcpConfigInput {
  return {
    projects: [
      {
        projectId: 'airlock-sandbox',
        projectNumber: NUMBER,
        workloadIdentityPools: [
          {
            poolId: 'airlock',
            providers: [
              {
                providerId: 'airlock-k8s',
                oidc: { issuerUri: ISSUER },
                attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.namespace': "assertion['kubernetes.io']['namespace']" },
              },
            ],
          },
        ],
        serviceAccounts: [{ accountId: 'etl-loader', uniqueId: '100000000000000000001', iamPolicy: { bindings: [{ role: 'roles/iam.workloadIdentityUser', members: [principal('system:serviceaccount:etl:loader')] }] } }],
      },
    ],
  };
}

async function setup(config: unknown = world()) {
  const clock = createManualClock(Date.UTC(2026, 10, 21, 22, 0, 0, 123));
  const verifier = stubVerifier();
  let seq = 0;
  // Deterministic randomness: project numbers and unique IDs in assertions stay stable.
  const random = (n: number) => Buffer.alloc(n, ++seq % 256);
  const gcp = createGcpEmulator({ clock, verifier, config, random });
  const app = Fastify();
  await app.register(gcp.plugin);
  await app.ready();
  const now = () => Math.floor(clock.now() / 1000);
  const jwt = (claims: Record<string, unknown> = {}) =>
    new UnsecuredJWT({
      iss: ISSUER,
      sub: 'system:serviceaccount:etl:loader',
      aud: [AUDIENCE],
      iat: now(),
      exp: now() + 3600,
      'kubernetes.io': { namespace: 'etl', serviceaccount: { name: 'loader', uid: 'u1' } },
      ...claims,
    }).encode();
  return { app, gcp, clock, verifier, jwt };
}

type Setup = Awaited<ReturnType<typeof setup>>;

const STS_FORM = (over: Record<string, string | undefined> = {}) => {
  const base: Record<string, string | undefined> = {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    audience: AUDIENCE,
    scope: CLOUD_PLATFORM,
    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    ...over,
  };
  return new URLSearchParams(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined)).toString();
};

async function sts(s: Setup, over: Record<string, string | undefined> = {}, token = s.jwt()) {
  const res = await s.app.inject({ method: 'POST', url: '/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: STS_FORM({ subject_token: token, ...over }) });
  return { status: res.statusCode, body: res.json(), detail: res.headers['airlock-sandbox-detail'] };
}

async function federated(s: Setup, over: Record<string, string | undefined> = {}, token?: string): Promise<string> {
  const r = await sts(s, over, token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}

async function generate(s: Setup, bearer: string, body: unknown, account = SA, project = '-') {
  const res = await s.app.inject({
    method: 'POST',
    url: `/v1/projects/${project}/serviceAccounts/${account}:generateAccessToken`,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json() };
}

async function api(s: Setup, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) {
  const res = await s.app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

describe('GCP sandbox admin API', () => {
  it('builds a world the way gcloud would, and GET /config shows it as a config file', async () => {
    const s = await setup({ projects: [] });
    const project = await api(s, 'POST', '/_sandbox/gcp/projects', { projectId: 'data-platform' });
    assert.equal(project.status, 201);
    assert.match(project.body.projectNumber, /^[1-9][0-9]{11}$/, 'a generated 12-digit project number');
    const n = project.body.projectNumber as string;

    assert.equal((await api(s, 'POST', '/_sandbox/gcp/projects/data-platform/workloadIdentityPools', { poolId: 'airlock' })).status, 201);
    const provider = await api(s, 'POST', '/_sandbox/gcp/projects/data-platform/workloadIdentityPools/airlock/providers', {
      providerId: 'airlock-k8s',
      oidc: { issuerUri: ISSUER },
      attributeMapping: { 'google.subject': 'assertion.sub' },
      attributeCondition: "assertion.sub.startsWith('system:serviceaccount:etl:')",
    });
    assert.equal(provider.status, 201);
    assert.deepEqual(provider.body.oidc, { issuerUri: ISSUER, allowedAudiences: [] });

    const sa = await api(s, 'POST', `/_sandbox/gcp/projects/${n}/serviceAccounts`, { accountId: 'etl-loader', displayName: 'ETL loader' });
    assert.equal(sa.status, 201);
    assert.equal(sa.body.email, 'etl-loader@data-platform.iam.gserviceaccount.com');
    assert.match(sa.body.uniqueId, /^1[0-9]{20}$/);

    const member = `principalSet://iam.googleapis.com/projects/${n}/locations/global/workloadIdentityPools/airlock/attribute.namespace/etl`;
    const bound = await api(s, 'POST', `/_sandbox/gcp/serviceAccounts/${sa.body.email}:addIamPolicyBinding`, { role: 'roles/iam.workloadIdentityUser', member });
    assert.equal(bound.status, 200);
    assert.deepEqual(bound.body, { bindings: [{ role: 'roles/iam.workloadIdentityUser', members: [member] }] });
    // Adding the same binding again changes nothing, as in gcloud.
    assert.deepEqual((await api(s, 'POST', `/_sandbox/gcp/serviceAccounts/${sa.body.uniqueId}:addIamPolicyBinding`, { role: 'roles/iam.workloadIdentityUser', member })).body, bound.body);
    assert.deepEqual((await api(s, 'GET', `/_sandbox/gcp/serviceAccounts/${sa.body.email}:getIamPolicy`)).body, bound.body);

    const config = await api(s, 'GET', '/_sandbox/gcp/config');
    assert.deepEqual(config.body, s.gcp.state.toJSON());
    assert.equal(config.body.projects[0].serviceAccounts[0].iamPolicy.bindings[0].members[0], member);

    assert.equal((await api(s, 'POST', `/_sandbox/gcp/serviceAccounts/${sa.body.email}:removeIamPolicyBinding`, { role: 'roles/iam.workloadIdentityUser', member })).status, 200);
    assert.deepEqual((await api(s, 'GET', `/_sandbox/gcp/serviceAccounts/${sa.body.email}:getIamPolicy`)).body, { bindings: [] });
  });

  const refusals: { name: string; method: 'POST' | 'PATCH'; url: string; body: unknown; status: number; code: string; field?: string; message: RegExp }[] = [
    {
      name: 'a condition outside the CEL subset',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers',
      body: { providerId: 'second-one', oidc: { issuerUri: ISSUER }, attributeMapping: { 'google.subject': 'assertion.sub' }, attributeCondition: "assertion.sub.contains('etl')" },
      status: 400,
      code: 'ERR_CONFIG_INVALID',
      field: 'body.attributeCondition',
      message: /function "contains" \(at \d+\) is not in the supported CEL subset/,
    },
    {
      name: 'a condition reading an attribute the mapping does not define',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers',
      body: { providerId: 'second-one', oidc: { issuerUri: ISSUER }, attributeMapping: { 'google.subject': 'assertion.sub' }, attributeCondition: "attribute.team == 'x'" },
      status: 400,
      code: 'ERR_CONFIG_INVALID',
      field: 'body.attributeCondition',
      message: /reads attribute\.team, which the attribute mapping does not define/,
    },
    {
      name: 'a mapping without google.subject',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers',
      body: { providerId: 'second-one', oidc: { issuerUri: ISSUER }, attributeMapping: { 'attribute.ns': 'assertion.ns' } },
      status: 400,
      code: 'ERR_CONFIG_INVALID',
      field: 'body.attributeMapping["google.subject"]',
      message: /must define google\.subject/,
    },
    {
      name: 'an issuer that is not a URL',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers',
      body: { providerId: 'second-one', oidc: { issuerUri: 'cluster-1' }, attributeMapping: { 'google.subject': 'assertion.sub' } },
      status: 400,
      code: 'ERR_CONFIG_INVALID',
      field: 'body.oidc.issuerUri',
      message: /"cluster-1" is not a URL/,
    },
    {
      name: 'an unknown field',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers',
      body: { providerId: 'second-one', issuerUri: ISSUER, oidc: { issuerUri: ISSUER }, attributeMapping: { 'google.subject': 'assertion.sub' } },
      status: 400,
      code: 'ERR_VALIDATION',
      field: 'body',
      message: /unknown field "issuerUri"/,
    },
    {
      name: 'a provider that already exists',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers',
      body: { providerId: 'airlock-k8s', oidc: { issuerUri: ISSUER }, attributeMapping: { 'google.subject': 'assertion.sub' } },
      status: 409,
      code: 'ERR_CONFLICT',
      message: /provider "airlock-k8s" already exists/,
    },
    {
      name: 'a pool ID that is too short',
      method: 'POST',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools',
      body: { poolId: 'p' },
      status: 400,
      code: 'ERR_CONFIG_INVALID',
      field: 'body.poolId',
      message: /4–32 lower-case letters/,
    },
    {
      name: 'a principal naming the project by ID',
      method: 'POST',
      url: `/_sandbox/gcp/serviceAccounts/${SA}:addIamPolicyBinding`,
      body: { role: 'roles/iam.workloadIdentityUser', member: 'principal://iam.googleapis.com/projects/airlock-sandbox/locations/global/workloadIdentityPools/airlock/subject/x' },
      status: 400,
      code: 'ERR_VALIDATION',
      field: 'body.member',
      message: /not a project number; workload identity principals name the project by its number/,
    },
    {
      name: 'a user member',
      method: 'POST',
      url: `/_sandbox/gcp/serviceAccounts/${SA}:addIamPolicyBinding`,
      body: { role: 'roles/iam.workloadIdentityUser', member: 'user:dan@example.com' },
      status: 400,
      code: 'ERR_VALIDATION',
      field: 'body.member',
      message: /cannot sign in to the sandbox/,
    },
    {
      name: 'a role that is not a role name',
      method: 'POST',
      url: `/_sandbox/gcp/serviceAccounts/${SA}:addIamPolicyBinding`,
      body: { role: 'workloadIdentityUser', member: `serviceAccount:${SA}` },
      status: 400,
      code: 'ERR_VALIDATION',
      field: 'body.role',
      message: /not a role name/,
    },
    {
      name: 'removing a binding that is not there',
      method: 'POST',
      url: `/_sandbox/gcp/serviceAccounts/${SA}:removeIamPolicyBinding`,
      body: { role: 'roles/iam.serviceAccountTokenCreator', member: `serviceAccount:${SA}` },
      status: 404,
      code: 'ERR_NOT_FOUND',
      message: /has no binding/,
    },
    {
      name: 'a service account in a project that does not exist',
      method: 'POST',
      url: '/_sandbox/gcp/projects/nowhere-project/serviceAccounts',
      body: { accountId: 'etl-loader' },
      status: 404,
      code: 'ERR_NOT_FOUND',
      message: /no project with ID or number "nowhere-project"/,
    },
    {
      name: 'a PATCH that breaks the condition',
      method: 'PATCH',
      url: '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers/airlock-k8s',
      body: { attributeCondition: 'assertion.iat > 5' },
      status: 400,
      code: 'ERR_CONFIG_INVALID',
      field: 'body.attributeCondition',
      message: /ordering comparisons \(">" at 14\) are not in the supported CEL subset/,
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} with ${c.status} and a clear message`, async () => {
      const s = await setup();
      const before = s.gcp.state.toJSON();
      const r = await api(s, c.method, c.url, c.body);
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      assert.equal(r.body.error.code, c.code);
      assert.match(r.body.error.message, c.message);
      if (c.field) assert.equal(r.body.error.field, c.field);
      assert.deepEqual(s.gcp.state.toJSON(), before, 'a refused change changes nothing');
    });
  }

  it('the state names the fields of its input by their own names; only the admin API says they came in the body', async () => {
    const s = await setup();
    const fieldsOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err: any) {
        return [err.field, ...((err.details?.problems as { field: string }[] | undefined) ?? []).map((p) => p.field)];
      }
      assert.fail('expected a refusal');
    };
    assert.deepEqual(fieldsOf(() => s.gcp.state.addIamPolicyBinding({ kind: 'serviceAccount', ref: SA }, { role: 'workloadIdentityUser', member: `serviceAccount:${SA}` })), ['role']);
    assert.deepEqual(fieldsOf(() => s.gcp.state.createPool('airlock-sandbox', { poolId: 'p' })), ['poolId', 'poolId']);
    assert.deepEqual(fieldsOf(() => s.gcp.state.createPool('airlock-sandbox', 'not an object')), ['(root)', '(root)']);
    const r = await api(s, 'POST', '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools', { poolId: 'p' });
    assert.equal(r.body.error.field, 'body.poolId');
    assert.deepEqual(r.body.error.details.problems.map((p: { field: string }) => p.field), ['body.poolId']);
  });

  it('disabling a provider stops new exchanges (invalid_target); enabling it again restores them', async () => {
    const s = await setup();
    const url = '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers/airlock-k8s';
    assert.equal((await api(s, 'PATCH', url, { disabled: true })).status, 200);
    const r = await sts(s);
    assert.equal(r.body.error, 'invalid_target');
    assert.equal(r.detail, 'provider airlock-k8s is disabled');
    await api(s, 'PATCH', url, { disabled: false });
    assert.equal((await sts(s)).status, 200);
    await api(s, 'PATCH', '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock', { disabled: true });
    assert.equal((await sts(s)).body.error, 'invalid_target', 'a disabled pool disables its providers');
  });

  it('a condition set by PATCH applies at once, and null clears it', async () => {
    const s = await setup();
    const url = '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers/airlock-k8s';
    assert.equal((await api(s, 'PATCH', url, { attributeCondition: "attribute.namespace == 'web'" })).status, 200);
    assert.equal((await sts(s)).body.error, 'unauthorized_client');
    const cleared = await api(s, 'PATCH', url, { attributeCondition: null });
    assert.equal(cleared.body.attributeCondition, undefined);
    assert.equal((await sts(s)).status, 200);
  });
});

describe('GCP sandbox config file', () => {
  it('toJSON() is a config file: loading it reproduces the same world, generated values included', async () => {
    const s = await setup({ projects: [{ projectId: 'data-platform', serviceAccounts: [{ accountId: 'etl-loader' }] }] });
    const saved = JSON.parse(JSON.stringify(s.gcp.state.toJSON()));
    assert.match(saved.projects[0].projectNumber, /^[0-9]{12}$/);
    assert.match(saved.projects[0].serviceAccounts[0].uniqueId, /^[0-9]{21}$/);
    const again = createGcpEmulator({ clock: createManualClock(), config: saved, verifier: stubVerifier() });
    assert.deepEqual(again.state.toJSON(), saved);
  });

  it('load() reports every problem at once, with its path, and changes nothing', async () => {
    const s = await setup();
    const before = s.gcp.state.toJSON();
    const bad = {
      projects: [
        {
          projectId: 'Bad_Project',
          workloadIdentityPools: [{ poolId: 'airlock', providers: [{ providerId: 'airlock-k8s', oidc: { issuerUri: 'ftp://x' }, attributeMapping: { sub: 'assertion.sub' } }] }],
          serviceAccounts: [{ accountId: 'etl-loader', email: 'someone-else@other-project.iam.gserviceaccount.com' }],
        },
      ],
    };
    assert.throws(
      () => s.gcp.state.load(bad),
      (err: any) => {
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        const fields = (err.details.problems as { field: string }[]).map((p) => p.field);
        assert.deepEqual(fields, [
          'projects[0].projectId',
          'projects[0].workloadIdentityPools[0].providers[0].oidc.issuerUri',
          'projects[0].workloadIdentityPools[0].providers[0].attributeMapping["google.subject"]',
          'projects[0].workloadIdentityPools[0].providers[0].attributeMapping["sub"]',
          'projects[0].serviceAccounts[0].email',
        ]);
        return true;
      },
    );
    assert.throws(() => s.gcp.state.load({ projects: [], extra: true }), /unknown field "extra"/);
    assert.deepEqual(s.gcp.state.toJSON(), before);
  });

  it('PUT /_sandbox/gcp/config replaces the world; onChange sees every change', async () => {
    const s = await setup();
    const seen: number[] = [];
    s.gcp.state.onChange((c) => seen.push(c.projects.length));
    const r = await api(s, 'PUT', '/_sandbox/gcp/config', { projects: [] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { projects: [] });
    await api(s, 'POST', '/_sandbox/gcp/projects', { projectId: 'data-platform', projectNumber: '42' });
    assert.deepEqual(seen, [0, 1]);
    assert.equal((await sts(s)).body.error, 'invalid_target', 'the old provider is gone');
  });
});

describe('GCP sandbox failures', () => {
  it('logs an unexpected failure to the logger it was given, with the cause and without the token', async () => {
    const lines: Record<string, unknown>[] = [];
    const verifier = stubVerifier();
    verifier.verify = async () => {
      throw new TypeError('jwks cache corrupted');
    };
    const gcp = createGcpEmulator({ clock: createManualClock(), verifier, config: world(), logger: createLogger('info', (l) => lines.push(JSON.parse(l))) });
    const app = Fastify();
    await app.register(gcp.plugin);
    const token = new UnsecuredJWT({ iss: ISSUER, sub: 'system:serviceaccount:etl:loader', aud: AUDIENCE }).encode();
    const res = await app.inject({ method: 'POST', url: '/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: STS_FORM({ subject_token: token }) });
    assert.equal(res.statusCode, 500, res.body);
    assert.deepEqual(res.json(), { error: 'server_error', error_description: 'Internal error.' });
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.level, 'error');
    assert.equal(lines[0]!.msg, 'gcp sandbox: token exchange failed');
    assert.equal(lines[0]!.url, '/v1/token');
    assert.equal((lines[0]!.err as { message: string }).message, 'jwks cache corrupted');
    assert.ok(!JSON.stringify(lines).includes(token), 'the subject token is never logged');
    await app.close();
  });

  it('logs a failure on a route without its own error handler (tokeninfo) too, not to fastify', async () => {
    const lines: Record<string, unknown>[] = [];
    const manual = createManualClock(Date.UTC(2026, 0, 1));
    let broken = false;
    const clock = { now: () => (broken ? assertNever('clock failed') : manual.now()) };
    const gcp = createGcpEmulator({ clock, verifier: stubVerifier(), config: world(), logger: createLogger('info', (l) => lines.push(JSON.parse(l))) });
    const app = Fastify();
    await app.register(gcp.plugin);
    const now = Math.floor(manual.now() / 1000);
    const token = new UnsecuredJWT({ iss: ISSUER, sub: 'system:serviceaccount:etl:loader', aud: AUDIENCE, iat: now, exp: now + 600 }).encode();
    const exchanged = await app.inject({ method: 'POST', url: '/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: STS_FORM({ subject_token: token }) });
    assert.equal(exchanged.statusCode, 200, exchanged.body);
    const accessToken = (exchanged.json() as { access_token: string }).access_token;
    broken = true; // tokeninfo reads the clock to check the token's expiry
    const res = await app.inject({ method: 'GET', url: `/oauth2/v3/tokeninfo?access_token=${encodeURIComponent(accessToken)}` });
    assert.equal(res.statusCode, 500, res.body);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.msg, 'gcp sandbox: request failed');
    assert.equal((lines[0]!.err as { message: string }).message, 'clock failed');
    assert.ok(!JSON.stringify(lines).includes(accessToken), 'the access token is never logged');
    await app.close();
  });
});

function assertNever(message: string): never {
  throw new Error(message);
}

describe('GCP sandbox on a shared fastify instance', () => {
  it('keeps its form parser to itself and coexists with a root form parser and POST /', async () => {
    // Another emulator (AWS) owns POST / with its own form parser at the root.
    const shared = Fastify();
    await shared.register(formbody);
    shared.post('/', async (req) => ({ aws: req.body }));
    const gcp = createGcpEmulator({ clock: createManualClock(), verifier: stubVerifier(), config: world() });
    await shared.register(gcp.plugin);
    const root = await shared.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'Action=AssumeRoleWithWebIdentity' });
    assert.deepEqual(root.json(), { aws: { Action: 'AssumeRoleWithWebIdentity' } });
    const token = new UnsecuredJWT({ iss: ISSUER, sub: 'system:serviceaccount:etl:loader', aud: AUDIENCE, iat: Math.floor(Date.UTC(2026, 0, 1) / 1000), exp: Math.floor(Date.UTC(2026, 0, 1) / 1000) + 600 }).encode();
    const r = await shared.inject({ method: 'POST', url: '/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: STS_FORM({ subject_token: token }) });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().expires_in, 600);

    // Without a root parser, the plugin's parser does not leak to routes outside it.
    const bare = Fastify();
    bare.post('/', async () => 'parsed');
    await bare.register(createGcpEmulator({ clock: createManualClock(), verifier: stubVerifier() }).plugin);
    const leaked = await bare.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' });
    assert.equal(leaked.statusCode, 415);
  });
});

describe('STS protocol edges', () => {
  const refusals: { name: string; over?: Record<string, string | undefined>; claims?: Record<string, unknown>; raw?: string; fail?: TokenFailure; error: string; description: string | RegExp }[] = [
    { name: 'a missing grant_type', over: { grant_type: undefined }, error: 'invalid_request', description: 'Missing required parameter: grant_type.' },
    { name: 'another grant type', over: { grant_type: 'client_credentials' }, error: 'unsupported_grant_type', description: /^Invalid value for "grant_type"/ },
    { name: 'another requested token type', over: { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, error: 'invalid_request', description: 'Invalid value of requested_token_type in request.' },
    { name: 'no scope', over: { scope: undefined }, error: 'invalid_request', description: 'Scope(s) must be provided.' },
    { name: 'a SAML subject token type', over: { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }, error: 'invalid_request', description: /^Invalid value for "subject_token_type"/ },
    { name: 'options that are not JSON', over: { options: '{userProject' }, error: 'invalid_request', description: /^Invalid value for "options"/ },
    { name: 'a subject token that is not a JWT', raw: 'opaque-token', error: 'invalid_grant', description: 'Unable to parse the ID Token.' },
    { name: 'a token without iss', claims: { iss: undefined }, error: 'invalid_grant', description: `The issuer in ID Token null does not match the expected one in config: ${ISSUER}.` },
    { name: 'a token without aud', claims: { aud: undefined }, error: 'invalid_grant', description: 'The audience in ID Token [] does not match the expected audience.' },
    { name: 'a token without iat', claims: { iat: undefined }, error: 'invalid_grant', description: 'ID Token issued at null is stale to sign-in.' },
    { name: 'a token issued in the future', claims: { iat: Math.floor(Date.UTC(2026, 10, 21, 22, 5) / 1000) }, error: 'invalid_grant', description: /is stale to sign-in\.$/ },
    { name: 'a bad signature', fail: 'bad-signature', error: 'invalid_grant', description: 'Unable to verify the ID Token signature.' },
    { name: 'an unreachable issuer', fail: 'issuer-unreachable', error: 'invalid_grant', description: "Error connecting to the given credential's issuer." },
    { name: 'an empty subject', claims: { sub: '' }, error: 'invalid_request', description: /google\.subject must not be empty/ },
    {
      name: 'a subject over 127 bytes',
      claims: { sub: `system:serviceaccount:etl:${'x'.repeat(102)}` },
      error: 'invalid_request',
      description: 'The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your attribute mapping or the incoming assertion to produce a mapped attribute that is less than 127 bytes.',
    },
    { name: 'a map where the mapping wants a string', claims: { 'kubernetes.io': { namespace: { name: 'etl' } } }, error: 'invalid_request', description: /attribute\.namespace must be a string/ },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}: ${c.error}`, async () => {
      const s = await setup();
      if (c.fail) s.verifier.failWith = c.fail;
      const token = c.raw ?? s.jwt(c.claims);
      const r = await sts(s, c.over, token);
      assert.equal(r.status, 400);
      assert.deepEqual(Object.keys(r.body).sort(), ['error', 'error_description']);
      assert.equal(r.body.error, c.error);
      if (typeof c.description === 'string') assert.equal(r.body.error_description, c.description);
      else assert.match(r.body.error_description, c.description);
    });
  }

  it('accepts a subject of exactly 127 bytes', async () => {
    const s = await setup();
    assert.equal((await sts(s, {}, s.jwt({ sub: `system:serviceaccount:etl:${'x'.repeat(101)}` }))).status, 200);
  });

  it('refuses a repeated parameter', async () => {
    const s = await setup();
    const res = await s.app.inject({ method: 'POST', url: '/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `${STS_FORM({ subject_token: s.jwt() })}&scope=x` });
    assert.equal(res.json().error, 'invalid_request');
  });

  it('accepts a JSON body, as Google\'s REST surface does', async () => {
    const s = await setup();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/token',
      payload: Object.fromEntries(new URLSearchParams(STS_FORM({ subject_token: s.jwt() }))),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const camel = await s.app.inject({
      method: 'POST',
      url: '/v1/token',
      payload: {
        grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: AUDIENCE,
        scope: CLOUD_PLATFORM,
        requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
        subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
        subjectToken: s.jwt(),
      },
    });
    assert.equal(camel.statusCode, 200, 'proto3 JSON names');
  });

  it('gives the federated token the subject token\'s remaining life, at most an hour', async () => {
    const s = await setup();
    const now = Math.floor(s.clock.now() / 1000);
    // The clock stands 123 ms into a second: 599.877 s remain, and the token never claims more.
    assert.equal((await sts(s, {}, s.jwt({ exp: now + 600 }))).body.expires_in, 599);
    assert.equal((await sts(s, {}, s.jwt({ exp: now + 86_400 }))).body.expires_in, 3600);
  });

  it('accepts both default audience forms, and only the configured ones once allowedAudiences is set', async () => {
    const s = await setup();
    const https = `https://iam.googleapis.com/${POOL}/providers/airlock-k8s`;
    assert.equal((await sts(s, {}, s.jwt({ aud: https }))).status, 200);
    await api(s, 'PATCH', '/_sandbox/gcp/projects/airlock-sandbox/workloadIdentityPools/airlock/providers/airlock-k8s', { oidc: { allowedAudiences: ['airlock-etl'] } });
    assert.equal((await sts(s, {}, s.jwt({ aud: ['airlock-etl', 'other'] }))).status, 200);
    const r = await sts(s, {}, s.jwt({ aud: AUDIENCE }));
    assert.equal(r.body.error_description, `The audience in ID Token [${AUDIENCE}] does not match the expected audience.`);
  });
});

describe('generateAccessToken edges', () => {
  const refusals: { name: string; body: unknown; project?: string; status: number; message: RegExp }[] = [
    { name: 'a zero lifetime', body: { scope: [CLOUD_PLATFORM], lifetime: '0s' }, status: 400, message: /^Lifetime of access token must be larger then zero\.$/ },
    { name: 'a lifetime over an hour', body: { scope: [CLOUD_PLATFORM], lifetime: '3601s' }, status: 400, message: /can not be more than 1 hour.*allowServiceAccountCredentialLifetimeExtension/ },
    { name: 'a lifetime that is not a duration', body: { scope: [CLOUD_PLATFORM], lifetime: '1h' }, status: 400, message: /Invalid value at 'lifetime'/ },
    { name: 'no scope', body: {}, status: 400, message: /invalid argument/ },
    { name: 'a bogus scope', body: { scope: ['storage'] }, status: 400, message: /invalid argument/ },
    { name: 'a delegate that is not a resource name', body: { scope: [CLOUD_PLATFORM], delegates: [SA] }, status: 400, message: /invalid argument/ },
    { name: 'an unknown field', body: { scope: [CLOUD_PLATFORM], lifetimeSeconds: 60 }, status: 400, message: /Unknown name "lifetimeSeconds"/ },
    { name: 'a project instead of the - wildcard', body: { scope: [CLOUD_PLATFORM] }, project: 'airlock-sandbox', status: 400, message: /invalid argument/ },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}`, async () => {
      const s = await setup();
      const r = await generate(s, await federated(s), c.body, SA, c.project);
      assert.equal(r.status, c.status);
      assert.equal(r.body.error.status, 'INVALID_ARGUMENT');
      assert.match(r.body.error.message, c.message);
    });
  }

  it('defaults [""] to cloud-platform and takes the unique ID in place of the email', async () => {
    const s = await setup();
    const r = await generate(s, await federated(s), { scope: [''] }, '100000000000000000001');
    assert.equal(r.status, 200);
    const info = await s.app.inject({ url: `/oauth2/v3/tokeninfo?access_token=${r.body.accessToken}` });
    assert.deepEqual(info.json(), {
      azp: '100000000000000000001',
      aud: '100000000000000000001',
      scope: CLOUD_PLATFORM,
      exp: String(Math.floor(s.clock.now() / 1000) + 3600),
      expires_in: '3599',
      access_type: 'online',
    }, 'no email without the userinfo.email scope, as Google');
  });

  it('refuses a caller token without the cloud-platform or iam scope', async () => {
    const s = await setup();
    const r = await generate(s, await federated(s, { scope: 'https://www.googleapis.com/auth/devstorage.read_only' }), { scope: [CLOUD_PLATFORM] });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.message, 'Request had insufficient authentication scopes.');
    assert.equal(r.body.error.details[0].reason, 'ACCESS_TOKEN_SCOPE_INSUFFICIENT');
  });

  it('answers 401 CREDENTIALS_MISSING without a bearer token', async () => {
    const s = await setup();
    const res = await s.app.inject({ method: 'POST', url: `/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`, payload: { scope: [CLOUD_PLATFORM] } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.details[0].reason, 'CREDENTIALS_MISSING');
  });

  it('honours grants to principalSets and Token Creator inherited from the project', async () => {
    const s = await setup();
    const other = 'etl-writer@airlock-sandbox.iam.gserviceaccount.com';
    await api(s, 'POST', '/_sandbox/gcp/projects/airlock-sandbox/serviceAccounts', { accountId: 'etl-writer' });
    const fed = await federated(s, {}, s.jwt({ sub: 'system:serviceaccount:etl:someone' }));
    assert.equal((await generate(s, fed, { scope: [CLOUD_PLATFORM] }, other)).status, 403);
    await api(s, 'POST', `/_sandbox/gcp/serviceAccounts/${other}:addIamPolicyBinding`, {
      role: 'roles/iam.workloadIdentityUser',
      member: `principalSet://iam.googleapis.com/${POOL}/attribute.namespace/etl`,
    });
    assert.equal((await generate(s, fed, { scope: [CLOUD_PLATFORM] }, other)).status, 200, 'every identity in namespace etl');

    // Token Creator granted on the project applies to every account in it.
    const loaderToken = (await generate(s, await federated(s), { scope: [CLOUD_PLATFORM] })).body.accessToken;
    const third = 'etl-third@airlock-sandbox.iam.gserviceaccount.com';
    await api(s, 'POST', '/_sandbox/gcp/projects/airlock-sandbox/serviceAccounts', { accountId: 'etl-third' });
    assert.equal((await generate(s, loaderToken, { scope: [CLOUD_PLATFORM] }, third)).status, 403);
    await api(s, 'POST', '/_sandbox/gcp/projects/airlock-sandbox:addIamPolicyBinding', { role: 'roles/iam.serviceAccountTokenCreator', member: `serviceAccount:${SA}` });
    assert.equal((await generate(s, loaderToken, { scope: [CLOUD_PLATFORM] }, third)).status, 200);
  });

  it('answers the project lookup with 403 when the caller has no grant on the project', async () => {
    const s = await setup();
    const fed = await federated(s);
    const res = await s.app.inject({ url: `/v1/projects/${NUMBER}`, headers: { authorization: `Bearer ${fed}` } });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.message, 'The caller does not have permission');
    assert.match(String(res.headers['airlock-sandbox-detail']), /lacks resourcemanager\.projects\.get/);
    await api(s, 'POST', '/_sandbox/gcp/projects/airlock-sandbox:addIamPolicyBinding', { role: 'roles/viewer', member: `principalSet://iam.googleapis.com/${POOL}/*` });
    const ok = await s.app.inject({ url: '/v1/projects/airlock-sandbox', headers: { authorization: `Bearer ${fed}` } });
    assert.deepEqual(ok.json(), { projectNumber: NUMBER, projectId: 'airlock-sandbox', lifecycleState: 'ACTIVE', name: 'airlock-sandbox' });
  });
});
