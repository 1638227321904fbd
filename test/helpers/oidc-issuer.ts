import Fastify from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** A minimal OIDC issuer on 127.0.0.1: discovery, JWKS (one RS256 key) and a signer. */
export interface TestIssuer {
  /** `http://127.0.0.1:<port>` — the `iss` of every token it signs. */
  issuer: string;
  sign(claims: { sub: string; aud: string | string[]; ttlSeconds?: number; nowSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-1', alg: 'RS256', use: 'sig' };
  const app = Fastify();
  let issuer = '';
  app.get('/.well-known/openid-configuration', async () => ({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'], response_types_supported: ['id_token'], subject_types_supported: ['public'] }));
  app.get('/jwks', async () => ({ keys: [jwk] }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  issuer = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    issuer,
    async sign(c) {
      const now = c.nowSeconds ?? Math.floor(Date.now() / 1000);
      return new SignJWT({ sub: c.sub, aud: c.aud })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-1' })
        .setIssuer(issuer)
        .setIssuedAt(now)
        .setExpirationTime(now + (c.ttlSeconds ?? 3600))
        .sign(privateKey);
    },
    close: () => app.close(),
  };
}
