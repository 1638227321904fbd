import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Clock } from '../../lib/clock.ts';
import type { ManagedIdentity } from './model.ts';

/** What the sandbox puts in an access token it issues. */
export interface AccessTokenClaims extends JWTPayload {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  sub: string;
  appid: string;
  azp: string;
  /** `2`: the client authenticated with a certificate or federated assertion, as Entra marks it. */
  appidacr: '2';
  idtyp: 'app';
  /** The managed identity's ARM resource id, as Entra adds for managed identities. */
  xms_mirid: string;
  uti: string;
  ver: '2.0';
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  claims: AccessTokenClaims;
}

/** Why a bearer token presented to the sandbox was not accepted. */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
}

export interface AccessTokenService {
  /** The public half of the signing key, as the discovery document's `jwks_uri` serves it. */
  jwks(): { keys: Record<string, unknown>[] };
  issue(o: { identity: ManagedIdentity; resource: string; issuer: string }): Promise<IssuedToken>;
  /** Checks signature and lifetime; throws {@link AccessTokenError} for any token the sandbox did not issue or that has expired. */
  verify(token: string): Promise<AccessTokenClaims>;
}

export interface AccessTokenServiceOptions {
  clock: Clock;
  /** Lifetime of an issued token; Entra gives app tokens between 60 and 90 minutes. */
  lifetimeSeconds?: number;
}

function rsaThumbprint(jwk: { e?: string; n?: string }): string {
  // RFC 7638: the SHA-256 of the required members in lexicographic order, without whitespace.
  return createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest('base64url');
}

/**
 * The sandbox's own token signer. Its key lives only in memory and is made afresh at each start:
 * tokens it issued do not survive a restart, which is what a sandbox wants (nothing to leak, nothing
 * to rotate). The tokens are JWTs on purpose (Entra's are opaque to clients by contract) so a
 * developer can decode one and see which identity it was issued to.
 */
export function createAccessTokenService(o: AccessTokenServiceOptions): AccessTokenService {
  const lifetime = o.lifetimeSeconds ?? 3599;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }) as { privateKey: KeyObject; publicKey: KeyObject };
  const publicJwk = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  const kid = rsaThumbprint(publicJwk);

  return {
    jwks: () => ({ keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid, n: publicJwk.n, e: publicJwk.e }] }),

    async issue({ identity, resource, issuer }) {
      const iat = Math.floor(o.clock.now() / 1000);
      const claims: AccessTokenClaims = {
        aud: resource,
        iss: issuer,
        iat,
        nbf: iat,
        exp: iat + lifetime,
        tid: identity.tenantId,
        oid: identity.principalId,
        sub: identity.principalId,
        appid: identity.clientId,
        azp: identity.clientId,
        appidacr: '2',
        idtyp: 'app',
        xms_mirid: `/subscriptions/${identity.subscriptionId}/resourcegroups/${identity.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity.name}`,
        uti: randomUUID(),
        ver: '2.0',
      };
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey);
      return { token, expiresIn: lifetime, claims };
    },

    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, publicKey, { algorithms: ['RS256'], currentDate: new Date(o.clock.now()), clockTolerance: 0 });
        if (typeof payload.appid !== 'string' || typeof payload.tid !== 'string') throw new AccessTokenError('the token lacks appid or tid');
        return payload as AccessTokenClaims;
      } catch (err) {
        if (err instanceof AccessTokenError) throw err;
        if (err instanceof errors.JWTExpired) throw new AccessTokenError('the token has expired', { cause: err });
        throw new AccessTokenError('the token was not issued by this sandbox', { cause: err });
      }
    },
  };
}
