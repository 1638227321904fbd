/**
 * Verifies a pod's projected service-account token against its cluster's own issuer, as
 * kube-apiserver publishes it: `<issuer>/.well-known/openid-configuration` naming a `jwks_uri`
 * (conventionally `<issuer>/openid/v1/jwks`). Key sets are cached per cluster and fetched again
 * when a token names a key the cached set lacks (kube-apiserver rotated), at most every
 * {@link REFETCH_COOLDOWN_MS}.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Clock } from '../lib/clock.ts';

/** Longest lifetime accepted for a presented pod token (kube-apiserver's default maximum is 48 h). */
export const MAX_ATTESTATION_LIFETIME_SECONDS = 48 * 3600;
const CACHE_MS = 5 * 60_000;
const REFETCH_COOLDOWN_MS = 30_000;
const FETCH_TIMEOUT_MS = 5000;
const MAX_DOCUMENT_BYTES = 1024 * 1024;

export class AttestationError extends Error {}

export interface KubernetesIssuer {
  clusterId: string;
  issuerUrl: string;
  caCert: string | null;
  /** What `aud` must contain: the cluster's Airlock issuer URL. */
  audience: string;
}

export interface VerifiedPodToken {
  namespace: string;
  serviceAccount: string;
  /** The service account's uid when the token carries it. */
  serviceAccountUid: string | undefined;
  podName: string | undefined;
  jti: string | undefined;
  expiresAt: number;
}

export interface KubernetesTokenVerifier {
  verify(issuer: KubernetesIssuer, token: string): Promise<VerifiedPodToken>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

function getJson(url: string, caCert: string | null): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new AttestationError(`${url} is not a URL`));
      return;
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.test(u.hostname))) {
      reject(new AttestationError(`${url} must be https`));
      return;
    }
    const opts = { method: 'GET', headers: { accept: 'application/json' }, timeout: FETCH_TIMEOUT_MS, ...(caCert ? { ca: caCert } : {}) };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_DOCUMENT_BYTES) req.destroy(new AttestationError(`${url} answered more than ${MAX_DOCUMENT_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new AttestationError(`${url} answered HTTP ${res.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new AttestationError(`${url} did not answer JSON`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new AttestationError(`${url} did not answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(err instanceof AttestationError ? err : new AttestationError(`cannot reach ${url}: ${err.message}`)));
    req.end();
  });
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

export function createKubernetesTokenVerifier(o: { clock: Clock }): KubernetesTokenVerifier {
  const cache = new Map<string, { issuerUrl: string; caCert: string | null; keys: KeySet; fetchedAt: number }>();
  const inflight = new Map<string, Promise<KeySet>>();

  async function fetchKeys(issuer: KubernetesIssuer): Promise<KeySet> {
    const discovery = (await getJson(`${issuer.issuerUrl.replace(/\/+$/, '')}/.well-known/openid-configuration`, issuer.caCert)) as { issuer?: unknown; jwks_uri?: unknown };
    if (discovery?.issuer !== issuer.issuerUrl) {
      throw new AttestationError(`the cluster's issuer discovery names issuer ${JSON.stringify(discovery?.issuer)}, not ${JSON.stringify(issuer.issuerUrl)}`);
    }
    if (typeof discovery.jwks_uri !== 'string') throw new AttestationError("the cluster's issuer discovery has no jwks_uri");
    const jwks = (await getJson(discovery.jwks_uri, issuer.caCert)) as JSONWebKeySet;
    if (!jwks || !Array.isArray(jwks.keys)) throw new AttestationError(`${discovery.jwks_uri} is not a JWKS`);
    const keys = createLocalJWKSet(jwks);
    cache.set(issuer.clusterId, { issuerUrl: issuer.issuerUrl, caCert: issuer.caCert, keys, fetchedAt: o.clock.now() });
    return keys;
  }

  function keysFor(issuer: KubernetesIssuer, force: boolean): Promise<KeySet> {
    const hit = cache.get(issuer.clusterId);
    const now = o.clock.now();
    const fresh = hit && hit.issuerUrl === issuer.issuerUrl && hit.caCert === issuer.caCert;
    if (fresh && !force && now - hit.fetchedAt < CACHE_MS) return Promise.resolve(hit.keys);
    if (fresh && force && now - hit.fetchedAt < REFETCH_COOLDOWN_MS) return Promise.resolve(hit.keys);
    let p = inflight.get(issuer.clusterId);
    if (!p) {
      p = fetchKeys(issuer).finally(() => inflight.delete(issuer.clusterId));
      inflight.set(issuer.clusterId, p);
    }
    return p;
  }

  return {
    async verify(issuer, token) {
      let payload: JWTPayload;
      const opts = {
        issuer: issuer.issuerUrl,
        audience: issuer.audience,
        algorithms: ['RS256', 'ES256', 'ES384', 'PS256'],
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(o.clock.now()),
        clockTolerance: 30,
      };
      try {
        try {
          payload = (await jwtVerify(token, await keysFor(issuer, false), opts)).payload;
        } catch (err) {
          if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
          payload = (await jwtVerify(token, await keysFor(issuer, true), opts)).payload;
        }
      } catch (err) {
        if (err instanceof AttestationError) throw err;
        throw new AttestationError(describeJoseError(err, issuer));
      }
      const iat = typeof payload.iat === 'number' ? payload.iat : typeof payload.nbf === 'number' ? payload.nbf : undefined;
      if (iat === undefined) throw new AttestationError('the pod token has no iat: present a projected service-account token, not a legacy secret token');
      if (payload.exp! - iat > MAX_ATTESTATION_LIFETIME_SECONDS) {
        throw new AttestationError(`the pod token lives ${payload.exp! - iat} s; at most ${MAX_ATTESTATION_LIFETIME_SECONDS} s is accepted (set expirationSeconds on the projected volume)`);
      }
      const m = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(payload.sub!);
      if (!m) throw new AttestationError(`the pod token's subject ${JSON.stringify(payload.sub)} is not a service account`);
      const namespace = m[1]!;
      const serviceAccount = m[3]!;
      const k8s = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown }; pod?: { name?: unknown } } | undefined;
      if (k8s && ((k8s.namespace !== undefined && k8s.namespace !== namespace) || (k8s.serviceaccount?.name !== undefined && k8s.serviceaccount.name !== serviceAccount))) {
        throw new AttestationError("the pod token's kubernetes.io claims do not match its subject");
      }
      return {
        namespace,
        serviceAccount,
        serviceAccountUid: typeof k8s?.serviceaccount?.uid === 'string' ? k8s.serviceaccount.uid : undefined,
        podName: typeof k8s?.pod?.name === 'string' ? k8s.pod.name : undefined,
        jti: typeof payload.jti === 'string' ? payload.jti : undefined,
        expiresAt: payload.exp!,
      };
    },
  };
}

function describeJoseError(err: unknown, issuer: KubernetesIssuer): string {
  if (err instanceof joseErrors.JWTExpired) return 'the pod token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return `the pod token's audience must include ${issuer.audience} (the projected volume's audience)`;
    if (err.claim === 'iss') return `the pod token was not issued by the cluster's issuer ${issuer.issuerUrl}`;
    return `the pod token's ${err.claim} claim is not acceptable: ${err.reason}`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "the pod token's signature does not verify against the cluster's keys";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "the pod token is signed by a key the cluster's issuer does not publish";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "the pod token's algorithm is not accepted";
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'the subject_token is not a well-formed JWT';
  return `the pod token cannot be verified: ${(err as Error).message}`;
}
