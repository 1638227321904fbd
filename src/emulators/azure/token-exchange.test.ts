import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { createManualClock } from '../../lib/clock.ts';
import { TokenCheckError, type OidcVerifier, type TokenFailure } from '../shared/oidc-verifier.ts';
import { EntraError, entraErrorBody } from './aadsts.ts';
import { createAccessTokenService } from './access-tokens.ts';
import { createAzureState } from './state.ts';
import { createTokenExchange, JWT_BEARER_ASSERTION_TYPE, parseTokenForm, resourceOfScope } from './token-exchange.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = 'a2b3c4d5-0000-4000-8000-00000000c11e';
const ISSUER = 'https://oidc.example.com/clusters/cl_1';
const SUBJECT = 'system:serviceaccount:etl:writer';
const ORIGIN = 'https://127.0.0.1:8443';

/** An unsigned JWT: the fake verifier below decides what its signature is worth. */
function jwt(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', kid: 'k1' }): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64(header)}.${b64(claims)}.c2ln`;
}

/** A verifier that trusts every token's claims, or fails with `failure`; records the issuers it was asked to contact. */
function fakeVerifier(failure?: TokenFailure): OidcVerifier & { contacted: string[] } {
  const contacted: string[] = [];
  return {
    contacted,
    peekIssuer(token) {
      try {
        const iss = decodeJwt(token).iss;
        if (typeof iss !== 'string') throw new Error('no iss');
        return iss;
      } catch (cause) {
        throw new TokenCheckError('malformed', 'not a JWT', { cause });
      }
    },
    async verify(token, issuer) {
      contacted.push(issuer);
      if (failure) throw new TokenCheckError(failure, failure);
      return { header: { alg: 'RS256', kid: 'k1' }, claims: decodeJwt(token) as never };
    },
  };
}

function setup(failure?: TokenFailure) {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const state = createAzureState();
  state.putTenant(TENANT, {});
  const ref = { subscriptionId: '0b1f6471-1bf0-4dda-aec3-cb9272f09590', resourceGroup: 'rg', name: 'etl-writer' };
  state.putIdentity(ref, { tenantId: TENANT, clientId: CLIENT_ID });
  state.putCredential(ref, 'etl', { issuer: ISSUER, subject: SUBJECT });
  const verifier = fakeVerifier(failure);
  const tokens = createAccessTokenService({ clock });
  return { clock, state, verifier, tokens, exchange: createTokenExchange({ state, verifier, tokens, clock }) };
}

const now = Math.floor(Date.UTC(2026, 0, 1) / 1000);
const goodAssertion = (over: Record<string, unknown> = {}) => jwt({ iss: ISSUER, sub: SUBJECT, aud: ['api://AzureADTokenExchange'], iat: now, exp: now + 3600, ...over });
const goodParams = (over: Record<string, string | undefined> = {}) => ({
  grant_type: 'client_credentials',
  client_id: CLIENT_ID,
  scope: 'https://storage.azure.com/.default',
  client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
  client_assertion: goodAssertion(),
  ...over,
});

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EntraError, `expected an EntraError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a refusal');
}

describe('token exchange', () => {
  test('issues a token for the managed identity with the scope as audience', async () => {
    const { exchange } = setup();
    const grant = await exchange.exchange({ tenant: TENANT, params: goodParams(), origin: ORIGIN });
    assert.equal(grant.response.token_type, 'Bearer');
    assert.equal(grant.response.expires_in, 3599);
    assert.equal(grant.response.ext_expires_in, 3599);
    const claims = decodeJwt(grant.response.access_token);
    assert.equal(claims.aud, 'https://storage.azure.com');
    assert.equal(claims.iss, `${ORIGIN}/${TENANT}/v2.0`);
    assert.equal(claims.appid, CLIENT_ID);
    assert.equal(claims.oid, grant.identity.principalId);
    assert.equal(claims.idtyp, 'app');
  });

  const cases: { name: string; tenant?: string; params?: Record<string, string | undefined>; failure?: TokenFailure; code: number }[] = [
    { name: 'an unknown tenant', tenant: '11111111-1111-4111-8111-111111111111', code: 90002 },
    { name: 'a tenant that is no GUID', tenant: 'contoso.onmicrosoft.com', code: 90002 },
    { name: 'no grant_type', params: { grant_type: undefined }, code: 900144 },
    { name: 'grant_type=password', params: { grant_type: 'password' }, code: 70003 },
    { name: 'no client_id', params: { client_id: undefined }, code: 900144 },
    { name: 'no scope', params: { scope: undefined }, code: 900144 },
    { name: 'a scope without /.default', params: { scope: 'https://storage.azure.com/user_impersonation' }, code: 1002012 },
    { name: 'two scopes', params: { scope: 'https://storage.azure.com/.default https://vault.azure.net/.default' }, code: 70011 },
    { name: 'a bare /.default', params: { scope: '/.default' }, code: 70011 },
    { name: 'an unknown client id', params: { client_id: '00000000-0000-4000-8000-000000000000' }, code: 700016 },
    { name: 'no assertion and no secret', params: { client_assertion: undefined }, code: 7000218 },
    { name: 'a client secret', params: { client_assertion: undefined, client_secret: 's3cret' }, code: 7000215 },
    { name: 'no client_assertion_type', params: { client_assertion_type: undefined }, code: 90014 },
    { name: 'a SAML assertion type', params: { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }, code: 90014 },
    { name: 'an assertion that is no JWT', params: { client_assertion: 'not-a-jwt' }, code: 50027 },
    { name: 'an issuer no credential names', params: { client_assertion: goodAssertion({ iss: 'https://other.example.com' }) }, code: 70021 },
    { name: 'the issuer with a trailing slash', params: { client_assertion: goodAssertion({ iss: `${ISSUER}/` }) }, code: 70021 },
    { name: 'a subject differing only in case', params: { client_assertion: goodAssertion({ sub: SUBJECT.toUpperCase() }) }, code: 70021 },
    { name: 'a subject no credential names', params: { client_assertion: goodAssertion({ sub: 'system:serviceaccount:etl:reader' }) }, code: 70021 },
    { name: 'the wrong audience', params: { client_assertion: goodAssertion({ aud: 'api://Other' }) }, code: 700212 },
    { name: 'a bad signature', failure: 'bad-signature', code: 50027 },
    { name: 'an ES256 signature', failure: 'bad-algorithm', code: 50027 },
    { name: 'a structurally bad token', failure: 'malformed', code: 50027 },
    { name: 'an issuer whose keys cannot be fetched', failure: 'issuer-unreachable', code: 90061 },
    { name: 'a key the issuer no longer publishes', failure: 'unknown-key', code: 7000272 },
    { name: 'an expired assertion', failure: 'expired', code: 700024 },
    { name: 'an assertion not valid yet', failure: 'not-yet-valid', code: 700024 },
  ];
  for (const c of cases) {
    test(`refuses ${c.name} with AADSTS${c.code}`, async () => {
      const { exchange } = setup(c.failure);
      assert.equal(await codeOf(exchange.exchange({ tenant: c.tenant ?? TENANT, params: goodParams(c.params), origin: ORIGIN })), c.code);
    });
  }

  test('never contacts an issuer that no credential on the identity names', async () => {
    const { exchange, verifier } = setup();
    await codeOf(exchange.exchange({ tenant: TENANT, params: goodParams({ client_assertion: goodAssertion({ iss: 'https://attacker.example.com' }) }), origin: ORIGIN }));
    assert.deepEqual(verifier.contacted, []);
  });

  test('accepts an assertion whose aud array includes the credential audience', async () => {
    const { exchange } = setup();
    const params = goodParams({ client_assertion: goodAssertion({ aud: ['https://kubernetes.default.svc', 'api://AzureADTokenExchange'] }) });
    assert.ok((await exchange.exchange({ tenant: TENANT, params, origin: ORIGIN })).response.access_token);
  });

  test('words AADSTS700024 with the assertion times, as Entra does', async () => {
    const { exchange, clock } = setup('expired');
    clock.advance(7200_000);
    try {
      await exchange.exchange({ tenant: TENANT, params: goodParams(), origin: ORIGIN });
      assert.fail('expected a refusal');
    } catch (err) {
      assert.ok(err instanceof EntraError);
      assert.equal(err.status, 401);
      assert.equal(err.error, 'invalid_client');
      assert.equal(
        err.summary,
        'AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-01-01T02:00:00.0000000Z, assertion valid from 1970-01-01T00:00:00.0000000Z, expiry time of assertion 2026-01-01T01:00:00.0000000Z. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .',
      );
    }
  });
});

describe('resourceOfScope', () => {
  for (const [scope, resource] of [
    ['https://storage.azure.com/.default', 'https://storage.azure.com'],
    ['https://management.azure.com//.default', 'https://management.azure.com/'],
    ['api://7f3a0e5c-0000-4000-8000-000000000000/.default', 'api://7f3a0e5c-0000-4000-8000-000000000000'],
    ['  https://vault.azure.net/.default ', 'https://vault.azure.net'],
  ] as const) {
    test(`${scope.trim()} names ${resource}`, () => assert.equal(resourceOfScope(scope), resource));
  }
});

describe('parseTokenForm', () => {
  test('reads a form', () => {
    assert.deepEqual({ ...parseTokenForm('grant_type=client_credentials&scope=https%3A%2F%2Fstorage.azure.com%2F.default') }, {
      grant_type: 'client_credentials',
      scope: 'https://storage.azure.com/.default',
    });
  });
  test('refuses a repeated parameter with AADSTS9000411', () => {
    assert.throws(() => parseTokenForm('client_id=a&client_id=b'), (e: unknown) => e instanceof EntraError && e.code === 9000411);
  });
  test('is not fooled by __proto__', () => {
    const f = parseTokenForm('__proto__=x&grant_type=client_credentials');
    assert.equal(f.__proto__, 'x');
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});

describe('entraErrorBody', () => {
  test('has Entra error shape, with the client-request-id as correlation id', () => {
    const body = entraErrorBody(new EntraError(70021, 'invalid_request', 400, 'No matching federated identity record found for presented assertion.'), {
      nowMs: Date.UTC(2026, 0, 9, 2, 2, 12),
      correlationId: 'aaaa0000-bb11-2222-33cc-444444dddddd',
      traceId: '0000aaaa-11bb-cccc-dd22-eeeeee333333',
    });
    assert.deepEqual(body, {
      error: 'invalid_request',
      error_description:
        'AADSTS70021: No matching federated identity record found for presented assertion.\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2026-01-09 02:02:12Z',
      error_codes: [70021],
      timestamp: '2026-01-09 02:02:12Z',
      trace_id: '0000aaaa-11bb-cccc-dd22-eeeeee333333',
      correlation_id: 'aaaa0000-bb11-2222-33cc-444444dddddd',
      error_uri: 'https://login.microsoftonline.com/error?code=70021',
    });
  });
  test('does not echo a correlation id that could break the description', () => {
    const body = entraErrorBody(new EntraError(90002, 'invalid_tenant', 400, 'x'), { nowMs: 0, correlationId: 'x\r\nTrace ID: forged' });
    assert.match(body.correlation_id, /^[0-9a-f-]{36}$/);
  });
});
