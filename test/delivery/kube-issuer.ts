/**
 * A stand-in for a workload cluster's kube-apiserver as an OIDC issuer: it serves
 * `/.well-known/openid-configuration` and `/openid/v1/jwks` on 127.0.0.1 and signs projected
 * service-account tokens the way the kubelet asks kube-apiserver to (RS256, `kubernetes.io` claims).
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export interface KubeIssuer {
  url: string;
  /** A projected token for namespace/serviceAccount; `over` replaces any claim or header field. */
  token(o: { namespace: string; serviceAccount: string; audience: string | string[]; now: number; lifetime?: number; claims?: Record<string, unknown>; issuer?: string; key?: 'current' | 'foreign' }): Promise<string>;
  /** Starts signing with a new key, published beside the old one. */
  rotate(): Promise<void>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
}

async function newKey() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateKey, jwk, kid };
}

export async function startKubeIssuer(): Promise<KubeIssuer> {
  let keys = [await newKey()];
  const foreign = await newKey();
  let fetches = 0;
  let url = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] }));
    } else if (req.url === '/openid/v1/jwks') {
      fetches++;
      res.setHeader('content-type', 'application/jwk-set+json');
      res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    async token(o) {
      const key = o.key === 'foreign' ? foreign : keys[keys.length - 1]!;
      const iat = Math.floor(o.now / 1000);
      return new SignJWT({
        'kubernetes.io': { namespace: o.namespace, serviceaccount: { name: o.serviceAccount, uid: randomUUID() }, pod: { name: `${o.serviceAccount}-0`, uid: randomUUID() } },
        ...o.claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid })
        .setIssuer(o.issuer ?? url)
        .setSubject(`system:serviceaccount:${o.namespace}:${o.serviceAccount}`)
        .setAudience(o.audience)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + (o.lifetime ?? 3600))
        .setJti(randomUUID())
        .sign(key.privateKey);
    },
    async rotate() {
      keys = [...keys, await newKey()];
    },
    jwksFetches: () => fetches,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
