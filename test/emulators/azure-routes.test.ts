// The sandbox's HTTP surface through fastify's inject: wire shapes, ARM-style paths and bodies,
// and that the plugin's form parser stays inside the plugin. No socket is opened.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAzureEmulator, type AzureEmulator } from '../../src/emulators/azure/index.ts';
import { createManualClock } from '../../src/lib/clock.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SUB = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const HOST = '127.0.0.1:8443';
const MI = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.ManagedIdentity/userAssignedIdentities/etl-writer`;

let app: FastifyInstance;
let emulator: AzureEmulator;

async function req(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method,
    url,
    headers: { host: HOST, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
}

before(async () => {
  let n = 0;
  emulator = createAzureEmulator({ clock: createManualClock(), randomUUID: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` });
  app = Fastify();
  await app.register(emulator.plugin);
  // A sibling route on the same server: the plugin's form parser must not reach it.
  app.post('/outside', async () => ({ ok: true }));
  await req('PUT', `/_sandbox/azure/tenants/${TENANT}`, {});
});

after(() => app.close());

describe('Entra discovery', () => {
  test('serves the tenant discovery document (golden)', async () => {
    const res = await req('GET', `/${TENANT}/v2.0/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const base = `http://${HOST}/${TENANT}`;
    assert.deepEqual(res.body, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid', 'azp', 'idtyp', 'ver'],
      tenant_region_scope: 'NA',
      cloud_instance_name: 'airlock-sandbox',
    });
  });

  test('serves one RS256 key at jwks_uri', async () => {
    const res = await req('GET', `/${TENANT}/discovery/v2.0/keys`);
    assert.equal(res.status, 200);
    assert.equal(res.body.keys.length, 1);
    assert.equal(res.body.keys[0].alg, 'RS256');
    assert.equal(res.body.keys[0].kty, 'RSA');
    assert.equal(res.body.keys[0].d, undefined, 'no private part');
  });

  const discovery: { name: string; host?: string; authority: string | undefined; known: boolean }[] = [
    { name: 'an authority at the host the request was sent to', authority: `https://${HOST}/${TENANT}`, known: true },
    // What MSAL sends through the sandbox proxy: Host login.microsoftonline.com, authority = the sandbox.
    // inject() has no socket port, so the loopback-port rule is exercised by test/sandbox/proxy.test.ts.
    { name: 'no authority named (the host asked is described)', authority: undefined, known: true },
    { name: 'an authority elsewhere', authority: `https://login.contoso.example/${TENANT}`, known: false },
    { name: 'a plain-http authority', authority: `http://${HOST}/${TENANT}`, known: false },
    { name: 'an authority without a tenant', authority: `https://${HOST}`, known: false },
    { name: 'something that is not a URL', authority: 'not a url', known: false },
  ];
  for (const d of discovery) {
    test(`instance discovery: ${d.known ? 'describes' : 'refuses (AADSTS50049)'} ${d.name}`, async () => {
      const q = new URLSearchParams({ 'api-version': '1.1', ...(d.authority ? { authorization_endpoint: `${d.authority}/oauth2/v2.0/authorize` } : {}) });
      const res = await req('GET', `/common/discovery/instance?${q}`);
      if (!d.known) {
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error, 'invalid_instance');
        assert.match(res.body.error_description, /^AADSTS50049: Unknown or invalid instance\./);
        assert.deepEqual(res.body.error_codes, [50049]);
        return;
      }
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const tenant = d.authority ? TENANT : 'common';
      const origin = d.authority ? `https://${HOST}` : `http://${HOST}`;
      assert.deepEqual(res.body, {
        tenant_discovery_endpoint: `${origin}/${tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: HOST, preferred_cache: HOST, aliases: [HOST] }],
      });
    });
  }

  test('does not put a forged Host header into URLs', async () => {
    const res = await req('GET', `/${TENANT}/v2.0/.well-known/openid-configuration`, undefined, { host: 'evil.example/x?' });
    assert.doesNotMatch(res.body.issuer, /evil/);
  });
});

describe('token endpoint', () => {
  const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'client-request-id': 'c0ffee00-0000-4000-8000-000000000001' };

  const cases: { name: string; body: string; headers?: Record<string, string>; status: number; error: string; code: number }[] = [
    { name: 'a repeated parameter', body: 'grant_type=client_credentials&grant_type=client_credentials', status: 400, error: 'invalid_request', code: 9000411 },
    { name: 'a JSON body', body: '{"grant_type":"client_credentials"}', headers: { 'content-type': 'application/json' }, status: 400, error: 'invalid_request', code: 900144 },
    { name: 'an unknown client', body: form({ grant_type: 'client_credentials', client_id: '00000000-0000-4000-8000-0000000000ff', scope: 'https://storage.azure.com/.default' }), status: 400, error: 'unauthorized_client', code: 700016 },
    { name: 'a scope without /.default', body: form({ grant_type: 'client_credentials', client_id: 'x', scope: 'https://storage.azure.com/read' }), status: 400, error: 'invalid_scope', code: 1002012 },
  ];
  for (const c of cases) {
    test(`answers ${c.name} with AADSTS${c.code} in Entra's error shape`, async () => {
      const res = await req('POST', `/${TENANT}/oauth2/v2.0/token`, c.body, { ...formHeaders, ...c.headers });
      assert.equal(res.status, c.status);
      assert.equal(res.body.error, c.error);
      assert.deepEqual(res.body.error_codes, [c.code]);
      assert.match(res.body.error_description, new RegExp(`^AADSTS${c.code}: .*\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: .*\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`, 's'));
      assert.match(res.body.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
      if (c.headers?.['content-type'] !== 'application/json') assert.equal(res.body.correlation_id, formHeaders['client-request-id']);
      assert.equal(res.headers['cache-control'], 'no-store, no-cache');
    });
  }

  test('keeps its form parser to itself', async () => {
    const res = await app.inject({ method: 'POST', url: '/outside', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' });
    assert.equal(res.statusCode, 415);
  });
});

describe('admin API', () => {
  test('creates an identity at its ARM path (201), updates it (200) and reads it back as az prints it', async () => {
    const created = await req('PUT', `/_sandbox/azure${MI}`, { location: 'westeurope', properties: { tenantId: TENANT } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body, {
      id: `/subscriptions/${SUB}/resourcegroups/rg-data/providers/Microsoft.ManagedIdentity/userAssignedIdentities/etl-writer`,
      name: 'etl-writer',
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      location: 'westeurope',
      resourceGroup: 'rg-data',
      subscriptionId: SUB,
      tenantId: TENANT,
      clientId: '00000000-0000-4000-8000-000000000001',
      principalId: '00000000-0000-4000-8000-000000000002',
      federatedIdentityCredentialCount: 0,
    });
    assert.equal((await req('PUT', `/_sandbox/azure${MI}`, { tenantId: TENANT, location: 'westeurope' })).status, 200);
    // The id az prints, appended to the admin prefix, addresses the same resource.
    const byId = await req('GET', `/_sandbox/azure${created.body.id}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.body.clientId, created.body.clientId);
  });

  test('takes a federated credential in ARM form and in az form', async () => {
    const arm = await req('PUT', `/_sandbox/azure${MI}/federatedIdentityCredentials/arm-style`, {
      properties: { issuer: 'https://oidc.example.com/c1', subject: 'system:serviceaccount:a:b', audiences: ['api://AzureADTokenExchange'] },
    });
    assert.equal(arm.status, 201, JSON.stringify(arm.body));
    assert.equal(arm.body.type, 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials');
    const flat = await req('PUT', `/_sandbox/azure${MI}/federatedIdentityCredentials/az-style`, { issuer: 'https://oidc.example.com/c1', subject: 'system:serviceaccount:a:c' });
    assert.equal(flat.status, 201);
    const list = await req('GET', `/_sandbox/azure${MI}/federatedIdentityCredentials`);
    assert.deepEqual(
      list.body.value.map((c: { name: string }) => c.name),
      ['arm-style', 'az-style'],
    );
  });

  test('refuses in ARM error shape', async () => {
    const res = await req('PUT', `/_sandbox/azure${MI}/federatedIdentityCredentials/x`, { issuer: 'https://oidc.example.com', subject: 's' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidResourceName');
    assert.equal(typeof res.body.error.message, 'string');
    const bad = await req('PUT', `/_sandbox/azure${MI}/federatedIdentityCredentials/xyz`, { issuer: 'http://oidc.example.com', subject: 's', audiences: ['a', 'b'] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BadRequest');
    assert.deepEqual(bad.body.error.details.map((d: { target: string }) => d.target).sort(), ['audiences', 'issuer']);
  });

  test('deletes idempotently: 200, then 204', async () => {
    const path = `/_sandbox/azure${MI}/federatedIdentityCredentials/az-style`;
    assert.equal((await req('DELETE', path)).status, 200);
    assert.equal((await req('DELETE', path)).status, 204);
    assert.equal((await req('GET', path)).status, 404);
  });

  test('GET and PUT /config carry the config-file JSON', async () => {
    const config = (await req('GET', '/_sandbox/azure/config')).body;
    assert.equal(config.identities[0].name, 'etl-writer');
    const replaced = await req('PUT', '/_sandbox/azure/config', { tenants: [{ tenantId: TENANT }], identities: [] });
    assert.equal(replaced.status, 200);
    assert.deepEqual(replaced.body, { tenants: [{ tenantId: TENANT }], identities: [] });
    const restored = await req('PUT', '/_sandbox/azure/config', config);
    assert.deepEqual(restored.body, config);
  });

  test('refuses a body that is not JSON', async () => {
    const res = await req('PUT', `/_sandbox/azure/tenants/${TENANT}`, '<xml/>', { 'content-type': 'application/xml' });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, 'UnsupportedMediaType');
  });
});
