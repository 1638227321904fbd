import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Keyring } from './keyring.ts';

/** A Kubernetes namespace: a DNS-1123 label. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Kubernetes service-account name: a DNS-1123 subdomain. */
export const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const MIN_TOKEN_TTL_SECONDS = 600;

export interface MintRequest {
  clusterId: string;
  namespace: string;
  serviceAccount: string;
  /** Stable uid of the service account, as Kubernetes puts in the token. */
  serviceAccountUid: string;
  audiences: string[];
  /** Lifetime in seconds; default from config, bounded to [10 min, tokenTtlMax]. */
  ttlSeconds?: number | undefined;
}

export interface MintedToken {
  token: string;
  kid: string;
  issuedAt: number;
  expiresAt: number;
  subject: string;
}

export interface MinterOptions {
  keyring: Keyring;
  clock: Clock;
  issuerUrl: (clusterId: string) => string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

export interface Minter {
  mint(req: MintRequest): Promise<MintedToken>;
}

/**
 * Mints tokens in the shape of a Kubernetes projected service-account token, which is what AWS
 * STS, GCP STS and Entra ID are used to federating:
 *   iss, sub = system:serviceaccount:<ns>:<sa>, aud (always an array), iat/nbf/exp (integers —
 *   AWS rejects `1.7e9`-style numbers), jti, and `kubernetes.io: { namespace, serviceaccount }`.
 * Not exposed as "mint anything": callers are the delivery paths, which decide who may ask.
 */
export function createMinter(o: MinterOptions): Minter {
  return {
    async mint(req) {
      if (!DNS1123_LABEL.test(req.namespace)) {
        throw new AppError('ERR_VALIDATION', 'namespace must be a DNS-1123 label', { field: 'namespace', example: 'etl-7f3k2q' });
      }
      if (!DNS1123_SUBDOMAIN.test(req.serviceAccount)) {
        throw new AppError('ERR_VALIDATION', 'service account must be a DNS-1123 subdomain', {
          field: 'serviceAccount',
          example: 'etl-7f3k2q-worker-serviceaccount',
        });
      }
      if (req.audiences.length === 0 || req.audiences.some((a) => a.length === 0)) {
        throw new AppError('ERR_VALIDATION', 'at least one non-empty audience is required', { field: 'audiences', example: ['sts.amazonaws.com'] });
      }
      const ttl = req.ttlSeconds ?? o.defaultTtlSeconds;
      if (!Number.isInteger(ttl) || ttl < MIN_TOKEN_TTL_SECONDS || ttl > o.maxTtlSeconds) {
        throw new AppError('ERR_TOKEN_TTL', `token lifetime must be a whole number of seconds from ${MIN_TOKEN_TTL_SECONDS} to ${o.maxTtlSeconds}`, {
          field: 'ttlSeconds',
          example: 3600,
        });
      }
      const { kid, key } = await o.keyring.signer(req.clusterId);
      const iat = Math.floor(o.clock.now() / 1000);
      const exp = iat + ttl;
      const sub = `system:serviceaccount:${req.namespace}:${req.serviceAccount}`;
      const token = await new SignJWT({
        'kubernetes.io': { namespace: req.namespace, serviceaccount: { name: req.serviceAccount, uid: req.serviceAccountUid } },
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(o.issuerUrl(req.clusterId))
        .setSubject(sub)
        .setAudience(req.audiences)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(key);
      return { token, kid, issuedAt: iat, expiresAt: exp, subject: sub };
    },
  };
}
