import { z } from 'zod';
import type { ClusterService } from '../../clusters/service.ts';
import { AppError } from '../../errors/index.ts';
import { discoveryDocument } from '../../issuer/discovery.ts';
import type { Keyring } from '../../issuer/keyring.ts';
import { isId } from '../../lib/ids.ts';
import { defineRoute, type RouteDef } from '../route.ts';

const params = z.object({ clusterId: z.string().min(1).max(100).meta({ example: 'cl_0123456789abcdefghjk' }) }).strict();

const jwk = z.object({ kty: z.literal('RSA'), n: z.string(), e: z.string(), kid: z.string(), use: z.literal('sig'), alg: z.literal('RS256') });

/**
 * Public issuer endpoints (no token: clouds fetch them anonymously). Only clusters whose issuer
 * is Airlock are served; the response schema admits public RSA members only.
 */
export function issuerRoutes(clusters: ClusterService, keyring: Keyring): RouteDef[] {
  async function cluster(id: string) {
    // Ids only: names must not resolve here, or a renamed cluster would change its issuer.
    if (!isId('cluster', id)) throw new AppError('ERR_NOT_FOUND', `no issuer at cluster "${id}"`, { field: 'params.clusterId' });
    const c = await clusters.getCached(id);
    if (c.issuerMode !== 'airlock') throw new AppError('ERR_NOT_FOUND', `cluster ${id} uses its own issuer: ${c.oidcIssuerUrl}`);
    return c;
  }
  return [
    defineRoute({
      method: 'GET',
      path: '/clusters/:clusterId/.well-known/openid-configuration',
      auth: 'public',
      tag: 'issuer',
      summary: 'OIDC discovery document of the cluster issuer',
      params,
      response: z.object({
        issuer: z.string(),
        jwks_uri: z.string(),
        token_endpoint: z.string(),
        grant_types_supported: z.array(z.string()),
        response_types_supported: z.array(z.string()),
        subject_types_supported: z.array(z.string()),
        id_token_signing_alg_values_supported: z.array(z.string()),
        claims_supported: z.array(z.string()),
      }),
      handler: async ({ params, setHeader }) => {
        const c = await cluster(params.clusterId);
        setHeader('cache-control', 'public, max-age=3600');
        return discoveryDocument(c.oidcIssuerUrl);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/clusters/:clusterId/openid/v1/jwks',
      auth: 'public',
      tag: 'issuer',
      summary: 'Public keys of the cluster issuer (JWKS)',
      params,
      response: z.object({ keys: z.array(jwk) }),
      contentType: 'application/jwk-set+json',
      handler: async ({ params, setHeader }) => {
        const c = await cluster(params.clusterId);
        const set = await keyring.jwks(c.id);
        setHeader('cache-control', `public, max-age=${set.maxAge}`);
        return { keys: set.keys as z.infer<typeof jwk>[] };
      },
    }),
  ];
}
