/**
 * Proof that Google's own client library, unmodified, gets credentials from the GCP sandbox for
 * a token Airlock minted — and is refused where Google would refuse it, with Google's errors.
 *
 * Airlock (the issuer) and the emulator both run on 127.0.0.1. google-auth-library is given a
 * complete external_account credential file with every URL pointed at the emulator, the Google
 * environment variables are cleared, and a socket guard fails the run if anything at all tries
 * to connect beyond loopback (metadata.google.internal, *.googleapis.com).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { GoogleAuth, Impersonated, type AuthClient } from 'google-auth-library';
import { createGcpEmulator, type GcpConfigInput } from '../../src/emulators/gcp/index.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { guardLoopback } from '../helpers/loopback-guard.ts';

// --- Nothing leaves 127.0.0.1 -----------------------------------------------------------------
for (const k of Object.keys(process.env)) {
  if (/^(GOOGLE_|GCE_|GCLOUD_|CLOUDSDK_|METADATA_SERVER)/i.test(k)) delete process.env[k];
}
const guard = guardLoopback();
const { blocked } = guard;

// --- The world -------------------------------------------------------------------------------
const PROJECT_NUMBER = '123456789012';
const POOL = `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/airlock`;
const PROVIDER_AUDIENCE = `//iam.googleapis.com/${POOL}/providers/airlock-k8s`;
const principal = (sub: string) => `principal://iam.googleapis.com/${POOL}/subject/${sub}`;
const LOADER_SUB = 'system:serviceaccount:etl:loader';
const SA_LOADER = 'etl-loader@airlock-sandbox.iam.gserviceaccount.com';
const SA_WAREHOUSE = 'etl-warehouse@airlock-sandbox.iam.gserviceaccount.com';
const SA_REPORTS = 'etl-reports@airlock-sandbox.iam.gserviceaccount.com';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const EMAIL_SCOPE = 'https://www.googleapis.com/auth/userinfo.email';
const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function worldFor(issuerUri: string): GcpConfigInput {
  return {
    projects: [
      {
        projectId: 'airlock-sandbox',
        projectNumber: PROJECT_NUMBER,
        // The direct-grant route: the etl namespace may read the project without a service account.
        iamPolicy: {
          bindings: [
            { role: 'roles/browser', members: [`principalSet://iam.googleapis.com/${POOL}/attribute.namespace/etl`, `serviceAccount:${SA_LOADER}`] },
          ],
        },
        workloadIdentityPools: [
          {
            poolId: 'airlock',
            providers: [
              {
                providerId: 'airlock-k8s',
                oidc: { issuerUri },
                attributeMapping: {
                  'google.subject': 'assertion.sub',
                  'attribute.namespace': "assertion['kubernetes.io']['namespace']",
                  'attribute.service_account': "assertion['kubernetes.io']['serviceaccount']['name']",
                },
                attributeCondition: "attribute.namespace in ['etl', 'web']",
              },
            ],
          },
        ],
        serviceAccounts: [
          { accountId: 'etl-loader', iamPolicy: { bindings: [{ role: 'roles/iam.workloadIdentityUser', members: [principal(LOADER_SUB)] }] } },
          { accountId: 'etl-warehouse', iamPolicy: { bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [`serviceAccount:${SA_LOADER}`] }] } },
          { accountId: 'etl-reports', iamPolicy: { bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [`serviceAccount:${SA_WAREHOUSE}`] }] } },
        ],
      },
    ],
  };
}

interface Failure {
  message: string;
  status: number | undefined;
  data: any;
  /** The sandbox's explanation beyond Google's message (which check failed). */
  detail: string | null | undefined;
}

async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    const e = err as { message: string; status?: number; response?: { status?: number; data?: unknown; headers?: Headers } };
    return { message: e.message, status: e.response?.status ?? e.status, data: e.response?.data, detail: e.response?.headers?.get('airlock-sandbox-detail') };
  }
  return assert.fail('expected the call to fail');
}

describe('GCP sandbox with google-auth-library (external_account)', () => {
  const clock = createManualClock(Date.now()); // near real time: the library checks expiry against its own clock
  let airlock: TestServer;
  let emulator: FastifyInstance;
  let emu: string;
  let clusterId: string;
  let otherClusterId: string;
  let dir: string;
  let n = 0;

  before(async () => {
    airlock = await startServer({ clock });
    const cluster = await airlock.app.clusters.create({ name: 'gcp-sandbox', cloud: 'gcp', type: 'standard', region: 'us-central1' });
    const other = await airlock.app.clusters.create({ name: 'gcp-elsewhere', cloud: 'gcp', type: 'standard', region: 'us-central1' });
    clusterId = cluster.id;
    otherClusterId = other.id;
    const gcp = createGcpEmulator({ clock, config: worldFor(cluster.oidcIssuerUrl) });
    emulator = Fastify();
    await emulator.register(gcp.plugin);
    await emulator.listen({ host: '127.0.0.1', port: 0 });
    emu = `http://127.0.0.1:${(emulator.server.address() as net.AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'airlock-gcp-'));
  });

  after(async () => {
    await emulator?.close();
    await airlock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    guard.restore();
    assert.deepEqual(blocked, [], 'no connection left 127.0.0.1');
  });

  const mint = async (o: { namespace?: string; sa?: string; aud?: string[]; cluster?: string; ttl?: number } = {}) =>
    (
      await airlock.app.minter.mint({
        clusterId: o.cluster ?? clusterId,
        namespace: o.namespace ?? 'etl',
        serviceAccount: o.sa ?? 'loader',
        serviceAccountUid: 'uid-1',
        audiences: o.aud ?? [PROVIDER_AUDIENCE],
        ttlSeconds: o.ttl ?? 3600,
      })
    ).token;

  /** Writes the token file and the credential configuration `gcloud iam workload-identity-pools create-cred-config` would. */
  function credentialFile(token: string, o: { impersonate?: string | undefined; audience?: string } = {}): string {
    const id = ++n;
    const tokenFile = join(dir, `token-${id}`);
    writeFileSync(tokenFile, token);
    const config: Record<string, unknown> = {
      universe_domain: 'googleapis.com', // only used to build default URLs, and every URL is given
      type: 'external_account',
      audience: o.audience ?? PROVIDER_AUDIENCE,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${emu}/v1/token`,
      credential_source: { file: tokenFile, format: { type: 'text' } },
      cloud_resource_manager_url: `${emu}/v1/projects/`,
    };
    const sa = 'impersonate' in o ? o.impersonate : SA_LOADER;
    if (sa) {
      config.service_account_impersonation_url = `${emu}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`;
      config.service_account_impersonation = { token_lifetime_seconds: 3600 };
    }
    const file = join(dir, `credentials-${id}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  }

  const authFor = (file: string, scopes = [CLOUD_PLATFORM, EMAIL_SCOPE]) => new GoogleAuth({ keyFilename: file, scopes });

  async function tokeninfo(token: string) {
    const res = await fetch(`${emu}/oauth2/v3/tokeninfo?access_token=${encodeURIComponent(token)}`);
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }
  async function whoami(token: string) {
    const res = await fetch(`${emu}/_sandbox/gcp/whoami`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  }

  it('has a working guard: a connection beyond loopback fails and is recorded', async () => {
    await assert.rejects(fetch('http://metadata.google.internal/computeMetadata/v1/'));
    assert.deepEqual(blocked.splice(0), ['metadata.google.internal']);
  });

  it('exchanges an Airlock token for an impersonated service account token', async () => {
    const auth = authFor(credentialFile(await mint()));
    const token = await auth.getAccessToken();
    assert.ok(token?.startsWith('ya29.c.'), 'a service account access token');

    const info = await tokeninfo(token!);
    assert.equal(info.status, 200);
    assert.equal(info.body.email, SA_LOADER);
    assert.equal(info.body.email_verified, 'true');
    assert.equal(info.body.scope, `${CLOUD_PLATFORM} ${EMAIL_SCOPE}`);
    assert.ok(Number(info.body.expires_in) > 3500 && Number(info.body.expires_in) <= 3600);

    const me = await whoami(token!);
    assert.equal(me.body.principal, `serviceAccount:${SA_LOADER}`);
    assert.deepEqual(me.body.delegationChain, [principal(LOADER_SUB)], 'the federated subject is recorded as the delegator');

    // getProjectId() goes to cloud_resource_manager_url with the impersonated token.
    const client = await auth.getClient();
    assert.equal(await (client as AuthClient & { getProjectId(): Promise<string> }).getProjectId(), 'airlock-sandbox');
  });

  it('answers generateAccessToken in Google\'s exact shape (expireTime without fractional seconds)', async () => {
    const sts = await fetch(`${emu}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: PROVIDER_AUDIENCE,
        scope: CLOUD_PLATFORM,
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        subject_token: await mint(),
      }),
    });
    assert.equal(sts.status, 200);
    const fed = (await sts.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(fed).sort(), ['access_token', 'expires_in', 'issued_token_type', 'token_type']);
    assert.equal(fed.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(fed.token_type, 'Bearer');
    assert.ok((fed.expires_in as number) > 3590 && (fed.expires_in as number) <= 3600);

    const res = await fetch(`${emu}/v1/projects/-/serviceAccounts/${SA_LOADER}:generateAccessToken`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fed.access_token as string}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: [CLOUD_PLATFORM], lifetime: '600s' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), ['accessToken', 'expireTime']);
    assert.match(body.expireTime!, RFC3339_SECONDS);
    assert.equal(Date.parse(body.expireTime!), Math.floor(clock.now() / 1000) * 1000 + 600_000);
  });

  it('refuses a subject without the workloadIdentityUser binding: 403 PERMISSION_DENIED', async () => {
    const auth = authFor(credentialFile(await mint({ sa: 'intruder' })));
    const f = await failure(auth.getAccessToken());
    assert.equal(f.status, 403);
    assert.deepEqual(f.data, {
      error: {
        code: 403,
        message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
        status: 'PERMISSION_DENIED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'IAM_PERMISSION_DENIED',
            domain: 'iam.googleapis.com',
            metadata: { permission: 'iam.serviceAccounts.getAccessToken' },
          },
        ],
      },
    });
  });

  const stsRefusals: { name: string; token: () => Promise<string>; audience?: string; error: string; description: RegExp }[] = [
    {
      name: 'a token minted for another audience',
      token: () => mint({ aud: ['sts.amazonaws.com'] }),
      error: 'invalid_grant',
      description: /^The audience in ID Token \[sts\.amazonaws\.com\] does not match the expected audience\.$/,
    },
    {
      name: 'a token from an issuer the provider does not trust',
      token: () => mint({ cluster: otherClusterId }),
      error: 'invalid_grant',
      description: /^The issuer in ID Token http:\/\/127\.0\.0\.1:\d+\/clusters\/cl_\w+ does not match the expected one in config: http:\/\/127\.0\.0\.1:\d+\/clusters\/cl_\w+\.$/,
    },
    {
      name: 'a subject the attribute condition rejects',
      token: () => mint({ namespace: 'kube-system', sa: 'loader' }),
      error: 'unauthorized_client',
      description: /^The given credential is rejected by the attribute condition\.$/,
    },
    {
      name: 'a provider that does not exist',
      token: () => mint(),
      audience: `//iam.googleapis.com/${POOL}/providers/nope`,
      error: 'invalid_target',
      description: /^The target service indicated by the "audience" parameters is invalid\. This might either be because the pool or provider is disabled or deleted or because it doesn't exist\.$/,
    },
    {
      name: 'an audience naming the project by ID instead of number',
      token: () => mint(),
      audience: '//iam.googleapis.com/projects/airlock-sandbox/locations/global/workloadIdentityPools/airlock/providers/airlock-k8s',
      error: 'invalid_target',
      description: /^The target service indicated by the "audience" parameters is invalid/,
    },
    {
      name: 'an audience that is not a provider resource name',
      token: () => mint(),
      audience: `https://iam.googleapis.com/${POOL}/providers/airlock-k8s`,
      error: 'invalid_request',
      description: /^Invalid value for "audience"\. This value should be the full resource name of the Identity Provider\./,
    },
  ];
  for (const c of stsRefusals) {
    it(`STS refuses ${c.name}: ${c.error}`, async () => {
      const auth = authFor(credentialFile(await c.token(), c.audience ? { audience: c.audience } : {}));
      const f = await failure(auth.getAccessToken());
      assert.equal(f.status, 400);
      assert.equal(f.data.error, c.error);
      assert.match(f.data.error_description, c.description);
      assert.equal(f.message, `Error code ${f.data.error}: ${f.data.error_description}`, 'the library surfaces the STS error');
    });
  }

  it('chains service accounts with a second generateAccessToken call (the library\'s Impersonated client)', async () => {
    const auth = authFor(credentialFile(await mint()));
    const source = await auth.getClient();
    const warehouse = new Impersonated({ sourceClient: source, targetPrincipal: SA_WAREHOUSE, targetScopes: [CLOUD_PLATFORM, EMAIL_SCOPE], lifetime: 900, endpoint: emu });
    const token = (await warehouse.getAccessToken()).token!;
    assert.equal((await tokeninfo(token)).body.email, SA_WAREHOUSE);
    assert.deepEqual((await whoami(token)).body.delegationChain, [principal(LOADER_SUB), `serviceAccount:${SA_LOADER}`]);

    // The federated identity itself holds nothing on the warehouse account.
    const direct = new Impersonated({ sourceClient: source, targetPrincipal: SA_REPORTS, targetScopes: [CLOUD_PLATFORM], lifetime: 900, endpoint: emu });
    const f = await failure(direct.getAccessToken());
    assert.equal(f.status, 403);
    assert.match(f.message, /^PERMISSION_DENIED: unable to impersonate: Permission 'iam\.serviceAccounts\.getAccessToken' denied/);
  });

  it('chains through delegates: each link needs Token Creator on the next', async () => {
    const auth = authFor(credentialFile(await mint()));
    const source = await auth.getClient();
    const reports = new Impersonated({
      sourceClient: source,
      targetPrincipal: SA_REPORTS,
      delegates: [`projects/-/serviceAccounts/${SA_WAREHOUSE}`],
      targetScopes: [CLOUD_PLATFORM, EMAIL_SCOPE],
      lifetime: 900,
      endpoint: emu,
    });
    const token = (await reports.getAccessToken()).token!;
    assert.equal((await tokeninfo(token)).body.email, SA_REPORTS);
    assert.deepEqual((await whoami(token)).body.delegationChain, [principal(LOADER_SUB), `serviceAccount:${SA_LOADER}`, `serviceAccount:${SA_WAREHOUSE}`]);

    // The loader → reports link does not exist, so a chain that skips the warehouse fails...
    const skipping = new Impersonated({ sourceClient: source, targetPrincipal: SA_REPORTS, delegates: [], targetScopes: [CLOUD_PLATFORM], lifetime: 900, endpoint: emu });
    assert.equal((await failure(skipping.getAccessToken())).status, 403);
    // ...and so does one whose delegate has no grant on the next account.
    const broken = new Impersonated({
      sourceClient: source,
      targetPrincipal: SA_WAREHOUSE,
      delegates: [`projects/-/serviceAccounts/${SA_REPORTS}`],
      targetScopes: [CLOUD_PLATFORM],
      lifetime: 900,
      endpoint: emu,
    });
    assert.equal((await failure(broken.getAccessToken())).status, 403);
  });

  it('uses the federated token directly (direct resource grant): whoami shows the principal:// identity', async () => {
    const auth = authFor(credentialFile(await mint(), { impersonate: undefined }), [CLOUD_PLATFORM]);
    const client = await auth.getClient();
    const token = (await client.getAccessToken()).token!;
    assert.ok(token.startsWith('ya29.d.'), 'a federated access token');

    const me = await client.request<any>({ url: `${emu}/_sandbox/gcp/whoami` });
    assert.equal(me.data.type, 'federated');
    assert.equal(me.data.principal, principal(LOADER_SUB));
    assert.equal(me.data.provider, `${POOL}/providers/airlock-k8s`);
    assert.deepEqual(me.data.attributes, { namespace: 'etl', service_account: 'loader' });
    assert.ok(me.data.principalSets.includes(`principalSet://iam.googleapis.com/${POOL}/attribute.namespace/etl`));
    assert.deepEqual(me.data.projectRoles, [{ projectId: 'airlock-sandbox', projectNumber: PROJECT_NUMBER, roles: ['roles/browser'] }]);

    // The principalSet grant is enough for the project lookup...
    assert.equal(await (client as AuthClient & { getProjectId(): Promise<string> }).getProjectId(), 'airlock-sandbox');
    // ...while tokeninfo, like Google's, does not know federated tokens.
    assert.deepEqual(await tokeninfo(token), { status: 400, body: { error: 'invalid_token', error_description: 'Invalid Value' } });
  });

  it('answers 401 UNAUTHENTICATED for a bearer it did not issue', async () => {
    const res = await fetch(`${emu}/v1/projects/-/serviceAccounts/${SA_LOADER}:generateAccessToken`, {
      method: 'POST',
      headers: { authorization: 'Bearer ya29.not-a-sandbox-token', 'content-type': 'application/json' },
      body: JSON.stringify({ scope: [CLOUD_PLATFORM] }),
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const body = (await res.json()) as any;
    assert.equal(body.error.status, 'UNAUTHENTICATED');
    assert.equal(body.error.details[0].reason, 'ACCESS_TOKEN_TYPE_UNSUPPORTED');
  });

  it('answers 404 for a service account that does not exist', async () => {
    const auth = authFor(credentialFile(await mint(), { impersonate: 'ghost-account@airlock-sandbox.iam.gserviceaccount.com' }));
    const f = await failure(auth.getAccessToken());
    assert.equal(f.status, 404);
    assert.equal(f.data.error.status, 'NOT_FOUND');
    assert.equal(f.data.error.message, 'Not found; Gaia id not found for email ghost-account@airlock-sandbox.iam.gserviceaccount.com');
  });

  // The tests below move the clock forward; they run last.

  it('refuses an expired token: invalid_grant "stale to sign-in"', async () => {
    const token = await mint({ ttl: 600 });
    const iat = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).iat as number;
    clock.advance((600 + 61) * 1000); // past exp and the minute of skew Google allows
    const f = await failure(authFor(credentialFile(token)).getAccessToken());
    assert.equal(f.status, 400);
    assert.deepEqual(f.data, { error: 'invalid_grant', error_description: `ID Token issued at ${iat} is stale to sign-in.` });
  });

  it('refuses a token whose signing key was rotated out and revoked', async () => {
    const old = await mint();
    await authFor(credentialFile(old)).getAccessToken(); // the emulator now has the old JWKS cached

    await airlock.app.keyring.rotate(clusterId, { immediate: true, revokePrevious: true });
    // Like Google, the emulator caches an issuer's JWKS (10 minutes); once it refetches, the old
    // key is gone and tokens it signed no longer verify.
    clock.advance(11 * 60_000);
    const f = await failure(authFor(credentialFile(old)).getAccessToken());
    assert.equal(f.status, 400);
    assert.deepEqual(f.data, { error: 'invalid_grant', error_description: "Error connecting to the given credential's issuer." });
    assert.match(f.detail ?? '', /no key in the issuer's JWKS matches kid/, 'refused for the missing key, not an unreachable issuer');

    // A token from the new key is accepted.
    assert.ok(await authFor(credentialFile(await mint())).getAccessToken());
  });

  it('answers 401 ACCESS_TOKEN_EXPIRED once a federated token has expired', async () => {
    const res = await fetch(`${emu}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: PROVIDER_AUDIENCE,
        scope: CLOUD_PLATFORM,
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        subject_token: await mint({ ttl: 600 }),
      }),
    });
    const fed = (await res.json()) as { access_token: string; expires_in: number };
    assert.ok(fed.expires_in <= 600, 'a federated token never outlives its subject token');
    clock.advance((fed.expires_in + 1) * 1000);
    const me = await whoami(fed.access_token);
    assert.equal(me.status, 401);
    assert.equal(me.body.error.details[0].reason, 'ACCESS_TOKEN_EXPIRED');
  });
});
