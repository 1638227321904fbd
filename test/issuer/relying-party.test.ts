import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, importPKCS8, errors } from 'jose';
import * as oidc from 'openid-client';
import { startServer, type TestServer } from '../helpers/app.ts';

/**
 * A relying party nobody here wrote: openid-client discovers the issuer, jose verifies tokens
 * against the discovered JWKS. If the issuer URL, discovery document, kid or claims drift from
 * what standard clients expect, this fails.
 */
describe('a standard relying party verifies minted tokens', () => {
  let s: TestServer;
  let issuer: string;
  let clusterId: string;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    s = await startServer();
    const c = await s.app.clusters.create({ name: 'prod-aws', cloud: 'aws', type: 'dedicated', region: 'us-east-1' });
    clusterId = c.id;
    issuer = c.oidcIssuerUrl;
    const config = await oidc.discovery(new URL(issuer), 'relying-party', undefined, undefined, { execute: [oidc.allowInsecureRequests] });
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, issuer, 'discovered issuer is byte-for-byte the configured one');
    assert.equal(meta.jwks_uri, `${issuer}/openid/v1/jwks`);
    jwks = createRemoteJWKSet(new URL(meta.jwks_uri!));
  });
  after(() => s.close());

  const mint = (over: Partial<Parameters<TestServer['app']['minter']['mint']>[0]> = {}) =>
    s.app.minter.mint({
      clusterId,
      namespace: 'etl-7f3k2q',
      serviceAccount: 'etl-7f3k2q-worker-serviceaccount',
      serviceAccountUid: '0b6c3f0e-3c1e-4f5e-9a55-7d0c1e2f3a4b',
      audiences: ['sts.amazonaws.com'],
      ...over,
    });

  it('verifies a token with the right audience and carries the Kubernetes claims', async () => {
    const { token, kid } = await mint();
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience: 'sts.amazonaws.com', algorithms: ['RS256'] });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(protectedHeader.kid, kid);
    assert.equal(payload.sub, 'system:serviceaccount:etl-7f3k2q:etl-7f3k2q-worker-serviceaccount');
    assert.deepEqual(payload.aud, ['sts.amazonaws.com'], 'aud is always an array, as Kubernetes issues it');
    for (const k of ['iat', 'nbf', 'exp'] as const) assert.ok(Number.isInteger(payload[k]), `${k} is an integer`);
    assert.equal(payload.exp! - payload.iat!, 3600, 'default lifetime is 1h');
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    assert.deepEqual(payload['kubernetes.io'], {
      namespace: 'etl-7f3k2q',
      serviceaccount: { name: 'etl-7f3k2q-worker-serviceaccount', uid: '0b6c3f0e-3c1e-4f5e-9a55-7d0c1e2f3a4b' },
    });
  });

  it('encodes integer times without exponent notation (AWS rejects 1.7e9)', async () => {
    const { token } = await mint();
    const json = Buffer.from(token.split('.')[1]!, 'base64url').toString();
    for (const claim of ['iat', 'nbf', 'exp']) assert.match(json, new RegExp(`"${claim}":\\d{10}[,}]`), `${claim} is written as plain digits`);
  });

  it('rejects a token presented to the wrong audience', async () => {
    const { token } = await mint({ audiences: ['api://AzureADTokenExchange'] });
    await assert.rejects(jwtVerify(token, jwks, { issuer, audience: 'sts.amazonaws.com' }), errors.JWTClaimValidationFailed);
  });

  it('rejects an expired token and a not-yet-valid one', async () => {
    const { token } = await mint({ ttlSeconds: 600 });
    const issuedAt = new Date(Number(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).iat) * 1000);
    await assert.rejects(jwtVerify(token, jwks, { issuer, currentDate: new Date(issuedAt.getTime() + 601_000) }), errors.JWTExpired);
    await assert.rejects(jwtVerify(token, jwks, { issuer, currentDate: new Date(issuedAt.getTime() - 60_000) }), (e: unknown) => {
      return e instanceof errors.JWTClaimValidationFailed && e.claim === 'nbf';
    });
  });

  it('rejects a token signed by a key the issuer never published, even with a copied kid', async () => {
    const { token, kid } = await mint();
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256');
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).sign(foreign);
    assert.equal(decodeProtectedHeader(forged).kid, kid);
    await assert.rejects(jwtVerify(forged, jwks, { issuer }), errors.JWSSignatureVerificationFailed);
  });

  it('rejects a token from another cluster\'s issuer', async () => {
    const other = await s.app.clusters.create({ name: 'other', cloud: 'gcp', region: 'us-central1' });
    const { token } = await mint({ clusterId: other.id });
    await assert.rejects(jwtVerify(token, jwks, { issuer }), (e: unknown) => e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWTClaimValidationFailed);
  });

  it('bounds the lifetime: below 10 minutes and above the maximum are refused', async () => {
    await assert.rejects(mint({ ttlSeconds: 599 }), { code: 'ERR_TOKEN_TTL' });
    await assert.rejects(mint({ ttlSeconds: 86_401 }), { code: 'ERR_TOKEN_TTL' });
    const { token } = await mint({ ttlSeconds: 86_400 });
    assert.ok(token);
  });

  it('serves the JWKS with public RSA members only and kid = RFC 7638 thumbprint', async () => {
    const res = await s.api('GET', `/clusters/${clusterId}/openid/v1/jwks`, undefined, { auth: false });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^application\/jwk-set\+json/);
    for (const k of res.body.keys) {
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
      assert.equal(k.alg, 'RS256');
      assert.equal(k.use, 'sig');
      const { calculateJwkThumbprint } = await import('jose');
      assert.equal(k.kid, await calculateJwkThumbprint({ kty: k.kty, n: k.n, e: k.e }));
      assert.ok(Buffer.from(k.n, 'base64url').length === 256, 'RSA 2048');
    }
  });
});
