// The Azure sandbox, driven by the real @azure/identity SDK: an Airlock issuer mints
// Kubernetes-style tokens, WorkloadIdentityCredential trades them at the emulator for access
// tokens, exactly as it would at login.microsoftonline.com.
//
// Nothing here leaves 127.0.0.1: AZURE_* variables are cleared before any credential is built
// (the SDK reads them then, not at import; imports are hoisted above this loop), every
// credential gets `authorityHost` = the emulator and `disableInstanceDiscovery`, and an `onRequest`
// hook records every path the SDK asked for so a stray instance-discovery call would show.
for (const k of Object.keys(process.env)) if (k.startsWith('AZURE_') || k.startsWith('IDENTITY_') || k === 'MSI_ENDPOINT') delete process.env[k];

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { httpsJson } from '../helpers/https.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkloadIdentityCredential } from '@azure/identity';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { createAzureEmulator, createSandboxCertificate, type AzureEmulator } from '../../src/emulators/azure/index.ts';
import { createManualClock, type ManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { guardLoopback } from '../helpers/loopback-guard.ts';

// Every SDK call here must stay on 127.0.0.1; a probe the SDK swallowed still fails the run.
const loopbackGuard = guardLoopback();
after(() => {
  loopbackGuard.restore();
  assert.deepEqual(loopbackGuard.blocked, [], 'no connection left 127.0.0.1');
});

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SUBSCRIPTION = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const CLIENT_ID = 'a2b3c4d5-0000-4000-8000-00000000c11e';
const PRINCIPAL_ID = 'e5f6a7b8-0000-4000-8000-0000000000b1';
const RG = 'rg-data';
const STORAGE_SCOPE = 'https://storage.azure.com/.default';
const AUDIENCE = 'api://AzureADTokenExchange';
const identityPath = (name: string) =>
  `/_sandbox/azure/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;

let dir: string;
let clock: ManualClock;
let airlock: TestServer;
let clusterId: string;
let issuer: string;
let emulator: AzureEmulator;
let server: FastifyInstance;
let base: string;
let agent: Agent;
let certPath: string;
const seenPaths: string[] = [];

/** A JSON call to the emulator over TLS, trusting only the sandbox certificate. */
const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => httpsJson(agent, base + path, method, body, headers);

async function mint(o: { serviceAccount?: string; audiences?: string[]; ttlSeconds?: number } = {}): Promise<string> {
  const { token } = await airlock.app.minter.mint({
    clusterId,
    namespace: 'etl',
    serviceAccount: o.serviceAccount ?? 'writer',
    serviceAccountUid: randomUUID(),
    audiences: o.audiences ?? [AUDIENCE],
    ttlSeconds: o.ttlSeconds ?? 3600,
  });
  return token;
}

let fileCounter = 0;
/** What a pod does: the token sits in a file, the SDK reads it and asks Entra (here: the emulator). */
function credential(token: string, o: { clientId?: string; tenantId?: string } = {}) {
  const tokenFilePath = join(dir, `token-${++fileCounter}`);
  writeFileSync(tokenFilePath, token);
  return new WorkloadIdentityCredential({
    tenantId: o.tenantId ?? TENANT,
    clientId: o.clientId ?? CLIENT_ID,
    tokenFilePath,
    authorityHost: base,
    disableInstanceDiscovery: true,
    // Trust in the self-signed certificate is given to this client's own agent; TLS verification
    // stays on and nothing process-wide changes.
    agent,
    retryOptions: { maxRetries: 0 },
  });
}

/** The SDK's error message for a refused exchange (it carries Entra's error_description). */
async function refusal(token: string, o: { clientId?: string; tenantId?: string } = {}): Promise<string> {
  try {
    await credential(token, o).getToken(STORAGE_SCOPE);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('the exchange was expected to be refused');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-azure-'));
  // Real time as the start, so TLS validity, MSAL's cache and our manual clock agree.
  clock = createManualClock(Date.now());
  airlock = await startServer({ clock, dataDir: join(dir, 'airlock') });
  const cluster = await airlock.app.clusters.create({ name: 'etl-azure', cloud: 'azure', type: 'standard', region: 'eastus' });
  clusterId = cluster.id;
  issuer = cluster.oidcIssuerUrl;
  assert.match(issuer, /^http:\/\/127\.0\.0\.1:\d+\//);

  const cert = await createSandboxCertificate(join(dir, 'tls'));
  certPath = cert.certPath;
  agent = new Agent({ ca: cert.cert });
  emulator = createAzureEmulator({ clock });
  server = Fastify({ https: { key: cert.key, cert: cert.cert }, logger: false });
  server.addHook('onRequest', async (req) => {
    seenPaths.push(`${req.method} ${req.url.split('?')[0]}`);
  });
  await server.register(emulator.plugin);
  await server.listen({ host: '127.0.0.1', port: 0 });
  base = `https://127.0.0.1:${(server.server.address() as { port: number }).port}`;

  assert.equal((await call('PUT', `/_sandbox/azure/tenants/${TENANT}`, { displayName: 'Contoso' })).status, 201);
  const mi = await call('PUT', identityPath('etl-writer'), { tenantId: TENANT, clientId: CLIENT_ID, principalId: PRINCIPAL_ID, location: 'westeurope' });
  assert.equal(mi.status, 201, JSON.stringify(mi.body));
  const fic = await call('PUT', `${identityPath('etl-writer')}/federatedIdentityCredentials/airlock-etl-writer`, {
    issuer,
    subject: 'system:serviceaccount:etl:writer',
    audiences: [AUDIENCE],
  });
  assert.equal(fic.status, 201, JSON.stringify(fic.body));
});

after(async () => {
  await server?.close();
  agent?.destroy();
  await airlock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('WorkloadIdentityCredential against the sandbox', () => {
  test('trades an Airlock token for an access token, and whoami names the managed identity', async () => {
    seenPaths.length = 0;
    const token = await mint();
    const accessToken = await credential(token).getToken(STORAGE_SCOPE);
    assert.ok(accessToken.token);
    assert.ok(accessToken.expiresOnTimestamp > Date.now() + 50 * 60_000);

    const claims = decodeJwt(accessToken.token);
    assert.equal(claims.aud, 'https://storage.azure.com');
    assert.equal(claims.tid, TENANT);
    assert.equal(claims.oid, PRINCIPAL_ID);
    assert.equal(claims.appid, CLIENT_ID);
    assert.equal(claims.iss, `${base}/${TENANT}/v2.0`);

    // MSAL asked for the tenant's discovery document and the token, and nothing else: with
    // instance discovery disabled no /common/discovery/instance call is made.
    assert.deepEqual(seenPaths, [`GET /${TENANT}/v2.0/.well-known/openid-configuration`, `POST /${TENANT}/oauth2/v2.0/token`]);

    const me = await call('GET', '/_sandbox/azure/whoami', undefined, { authorization: `Bearer ${accessToken.token}` });
    assert.equal(me.status, 200);
    assert.equal(me.body.name, 'etl-writer');
    assert.equal(me.body.clientId, CLIENT_ID);
    assert.equal(me.body.principalId, PRINCIPAL_ID);
    assert.equal(me.body.token.aud, 'https://storage.azure.com');
  });

  test('an unmodified process trusts the sandbox through NODE_EXTRA_CA_CERTS', async () => {
    // What a developer's own script sees: no agent option, only the environment variable. The
    // child must run asynchronously, or this process could not answer its requests.
    const tokenFilePath = join(dir, 'child-token');
    writeFileSync(tokenFilePath, await mint());
    const script = `
      import { WorkloadIdentityCredential } from '@azure/identity';
      const c = new WorkloadIdentityCredential({ tenantId: '${TENANT}', clientId: '${CLIENT_ID}', tokenFilePath: ${JSON.stringify(tokenFilePath)},
        authorityHost: '${base}', disableInstanceDiscovery: true, retryOptions: { maxRetries: 0 } });
      const t = await c.getToken('${STORAGE_SCOPE}');
      process.stdout.write(t.token);`;
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (error, out, err) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err }),
        );
      });
    const trusted = await run({ NODE_EXTRA_CA_CERTS: certPath });
    assert.equal(trusted.code, 0, trusted.err);
    assert.equal(decodeJwt(trusted.out).appid, CLIENT_ID);
    // Without it, TLS verification refuses the self-signed certificate (nothing was switched off):
    // the handshake fails, so no request reaches the emulator. MSAL reports that as unresolvable
    // endpoints.
    seenPaths.length = 0;
    const untrusted = await run({});
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.err, /endpoints_resolution_error/);
    assert.deepEqual(seenPaths, []);
  });

  test('whoami refuses tokens the sandbox did not issue', async () => {
    const other = createAzureEmulator({ clock });
    const forged = await (async () => {
      // A token in the right shape, signed by another sandbox's key.
      const app = Fastify();
      await app.register(other.plugin);
      other.state.load(emulator.state.toJSON());
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CLIENT_ID,
        scope: STORAGE_SCOPE,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await mint(),
      });
      const res = await app.inject({ method: 'POST', url: `/${TENANT}/oauth2/v2.0/token`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form.toString() });
      await app.close();
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { access_token: string }).access_token;
    })();
    for (const [name, header] of [
      ['no token', undefined],
      ['not a JWT', 'Bearer not-a-token'],
      ['an Airlock service-account token', `Bearer ${await mint()}`],
      ['a token from another sandbox', `Bearer ${forged}`],
    ] as const) {
      const res = await call('GET', '/_sandbox/azure/whoami', undefined, header ? { authorization: header } : {});
      assert.equal(res.status, 401, name);
      assert.equal(res.body.error.code, 'InvalidAuthenticationToken', name);
    }
  });

  const denied: { name: string; token: () => Promise<string>; clientId?: string; code: string; mentions?: RegExp }[] = [
    {
      name: 'a subject with no federated credential',
      token: () => mint({ serviceAccount: 'reader' }),
      code: 'AADSTS70021',
      mentions: /Assertion Subject: 'system:serviceaccount:etl:reader'/,
    },
    {
      name: 'an audience the credential does not list',
      token: () => mint({ audiences: ['api://SomethingElse'] }),
      code: 'AADSTS700212',
      mentions: /assertion audience 'api:\/\/SomethingElse'/,
    },
    {
      name: 'a client id that is no managed identity in the tenant',
      token: () => mint(),
      clientId: '00000000-0000-4000-8000-000000000000',
      code: 'AADSTS700016',
    },
  ];
  for (const c of denied) {
    test(`refuses ${c.name} with ${c.code}`, async () => {
      const message = await refusal(await c.token(), c.clientId ? { clientId: c.clientId } : {});
      assert.match(message, new RegExp(`${c.code}:`));
      if (c.mentions) assert.match(message, c.mentions);
    });
  }

  test('refuses an expired assertion with AADSTS700024', async () => {
    const token = await mint({ ttlSeconds: 600 });
    // Time only moves forward in these tests, as it does for the sandbox's JWKS cache.
    clock.advance(600_000 + 61_000); // past exp and the verifier's 60 s leeway
    assert.match(await refusal(token), /AADSTS700024: Client assertion is not within its valid time range/);
  });

  test('refuses an assertion signed by a rotated-out, revoked key with AADSTS7000272', async () => {
    const token = await mint();
    const { kid } = decodeJwtHeader(token);
    await airlock.app.keyring.rotate(clusterId, { immediate: true, revokePrevious: true });
    // Like Entra, the sandbox caches an issuer's keys (10 minutes); once they are fetched again
    // the revoked key is gone.
    clock.advance(11 * 60_000);
    const message = await refusal(token);
    assert.match(message, /AADSTS7000272:/);
    assert.ok(message.includes(kid), 'the message names the unknown key');
    // A token from the new key still works.
    assert.ok((await credential(await mint()).getToken(STORAGE_SCOPE)).token);
  });

  test('refuses an unknown tenant with AADSTS90002 at discovery', async () => {
    const unknown = '99999999-9999-4999-8999-999999999999';
    const doc = await call('GET', `/${unknown}/v2.0/.well-known/openid-configuration`);
    assert.equal(doc.status, 400);
    assert.equal(doc.body.error, 'invalid_tenant');
    assert.deepEqual(doc.body.error_codes, [90002]);
    // MSAL does not pass the discovery error on; against Entra it says the same for a wrong tenant.
    assert.match(await refusal(await mint(), { tenantId: unknown }), /endpoints_resolution_error/);
  });
});

describe('admin API limits', () => {
  test('refuses a 21st federated identity credential on one identity', async () => {
    const created = await call('PUT', identityPath('many-pods'), { tenantId: TENANT });
    assert.equal(created.status, 201);
    for (let i = 1; i <= 20; i++) {
      const r = await call('PUT', `${identityPath('many-pods')}/federatedIdentityCredentials/fic-${i}`, { issuer, subject: `system:serviceaccount:etl:sa-${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.audiences, [AUDIENCE]);
    }
    const r = await call('PUT', `${identityPath('many-pods')}/federatedIdentityCredentials/fic-21`, { issuer, subject: 'system:serviceaccount:etl:sa-21' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'BadRequest');
    assert.match(r.body.error.message, /maximum of 20 federated identity credentials/);
    // Updating one of the twenty is still allowed.
    const update = await call('PUT', `${identityPath('many-pods')}/federatedIdentityCredentials/fic-20`, { issuer, subject: 'system:serviceaccount:etl:renamed' });
    assert.equal(update.status, 200);
  });

  test('writes the certificate key with mode 0600', async () => {
    const cert = await createSandboxCertificate(join(dir, 'tls'));
    assert.equal(cert.created, false, 'a valid certificate is reused');
    assert.equal(statSync(cert.keyPath).mode & 0o777, 0o600);
  });
});

function decodeJwtHeader(token: string): { kid: string } {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'));
}
