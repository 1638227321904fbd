import { KeyObject, randomUUID, sign, type webcrypto } from 'node:crypto';
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
  jti: string;
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
  // Kept per minter, so a key the keyring forgets is collected with its CryptoKey.
  const keyObjects = new WeakMap<webcrypto.CryptoKey, KeyObject>();

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
      // Untyped callers only; the same TypeError jose raised when it built the claims.
      if (req.audiences.some((a) => typeof a !== 'string')) throw new TypeError('"aud" claim must be a string or an array of strings');
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
      const jti = randomUUID();
      // Member order is the order jose's SignJWT produced, so tokens are byte-for-byte what they were.
      const header = base64urlJson({ alg: 'RS256', kid });
      const payload = base64urlJson({
        'kubernetes.io': { namespace: req.namespace, serviceaccount: { name: req.serviceAccount, uid: req.serviceAccountUid } },
        iss: o.issuerUrl(req.clusterId),
        sub,
        aud: req.audiences,
        iat,
        nbf: iat,
        exp,
        jti,
      });
      const signingInput = `${header}.${payload}`;
      const signature = await signRs256(signingInput, rs256KeyObject(keyObjects, key));
      return { token: `${signingInput}.${signature}`, kid, issuedAt: iat, expiresAt: exp, subject: sub, jti };
    },
  };
}

/*
 * Why the compact JWS is assembled here rather than by jose's SignJWT: jose signs through
 * WebCrypto, and on Node 20 each `subtle.sign` costs tens of microseconds of main-thread work
 * (WebIDL argument conversion, job set-up) on top of JSON/base64url encoding done in JS. On a
 * 2-core machine that main-thread time is taken from the signing threads: minting ran at ~0.8 of
 * the rate of bare RS256 signatures (see docs/benchmarks.md). `crypto.sign` with a callback queues
 * the same OpenSSL job on the same libuv thread pool with a fraction of the overhead.
 *
 * RS256 here is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3) — `crypto.sign`'s default padding
 * for RSA keys — and is deterministic, so the output is exactly what jose produced.
 */

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function signRs256(signingInput: string, key: KeyObject): Promise<string> {
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(signingInput, 'ascii'), key, (err, sig) => (err ? reject(err) : resolve(sig.toString('base64url'))));
  });
}

/**
 * The keyring hands out non-extractable CryptoKeys; `KeyObject.from` wraps the same key material
 * without exporting it. The checks are the ones jose made before every signature, made once per key.
 * The KeyObject stays inside this module: nothing here exports or returns it.
 */
function rs256KeyObject(cache: WeakMap<webcrypto.CryptoKey, KeyObject>, key: webcrypto.CryptoKey): KeyObject {
  let ko = cache.get(key);
  if (ko) return ko;
  const alg = key.algorithm as webcrypto.RsaHashedKeyAlgorithm;
  if (key.type !== 'private' || alg.name !== 'RSASSA-PKCS1-v1_5' || alg.hash?.name !== 'SHA-256' || !key.usages.includes('sign')) {
    throw new TypeError('RS256 signing needs an RSASSA-PKCS1-v1_5 SHA-256 private key usable for "sign"');
  }
  if (typeof alg.modulusLength !== 'number' || alg.modulusLength < 2048) {
    throw new TypeError('RS256 requires key modulusLength to be 2048 bits or larger');
  }
  ko = KeyObject.from(key);
  cache.set(key, ko);
  return ko;
}
