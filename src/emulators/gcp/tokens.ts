/**
 * Access tokens the sandbox issues: federated tokens from STS and service account tokens from
 * generateAccessToken. They are opaque random strings, as Google's are, kept in memory against
 * what they stand for; a restart forgets them, like a token revocation would. Only a hash of each
 * token is stored, so a dump of the state holds nothing a caller could replay.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import type { RandomBytes } from './config.ts';
import { attributePrincipalSet, groupPrincipalSet, poolPrincipalSet, subjectPrincipal, type PoolName } from './resource-names.ts';

/** A workload identity federation identity: what a federated token stands for. */
export interface FederatedIdentity {
  kind: 'federated';
  pool: PoolName;
  providerId: string;
  subject: string;
  /** Mapped `google.*` values other than the subject (groups, display name). */
  google: Record<string, string | string[]>;
  /** Mapped `attribute.*` values, keyed by name. */
  attributes: Record<string, string | string[]>;
}

/** A service account identity, and who asked for it. */
export interface ServiceAccountIdentity {
  kind: 'serviceAccount';
  email: string;
  uniqueId: string;
  /**
   * The principals that led to this token, the original caller first, then each delegate:
   * Google's audit logs record the same chain (`serviceAccountDelegationInfo`).
   */
  delegationChain: string[];
}

/** What an access token stands for. */
export type Identity = FederatedIdentity | ServiceAccountIdentity;

/** An issued token and what it carries. */
export interface IssuedToken {
  token: string;
  identity: Identity;
  scopes: string[];
  /** Milliseconds since the epoch, whole seconds. */
  issuedAt: number;
  expiresAt: number;
}

/** A token looked up: live, expired (kept an hour so callers hear "expired"), or never issued. */
export type TokenLookup = { status: 'valid'; record: IssuedToken } | { status: 'expired'; record: IssuedToken } | { status: 'unknown' };

/** Issues opaque access tokens and resolves them back to their identity. */
export interface TokenStore {
  issue(identity: Identity, scopes: string[], lifetimeSeconds: number): IssuedToken;
  lookup(token: string): TokenLookup;
}

/** The principal string IAM bindings name this identity by. */
export function principalOf(id: Identity): string {
  return id.kind === 'federated' ? subjectPrincipal(id.pool, id.subject) : `serviceAccount:${id.email}`;
}

/** Every principalSet a federated identity belongs to. */
export function principalSetsOf(id: Identity): string[] {
  if (id.kind !== 'federated') return [];
  const out = [poolPrincipalSet(id.pool)];
  for (const [name, v] of Object.entries(id.attributes)) {
    for (const value of Array.isArray(v) ? v : [v]) out.push(attributePrincipalSet(id.pool, name, value));
  }
  const groups = id.google.groups;
  for (const g of Array.isArray(groups) ? groups : groups ? [groups] : []) out.push(groupPrincipalSet(id.pool, g));
  return out;
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
/** Expired records are kept this long so a caller is told "expired" rather than "unknown". */
const KEEP_EXPIRED_MS = 3600_000;

/** An in-memory token store; expired entries are swept as new tokens are issued. */
export function createTokenStore(o: { clock: Clock; random?: RandomBytes }): TokenStore {
  const random = o.random ?? randomBytes;
  const byHash = new Map<string, IssuedToken>();
  let issuedSinceSweep = 0;

  function sweep(now: number) {
    for (const [k, r] of byHash) if (r.expiresAt + KEEP_EXPIRED_MS < now) byHash.delete(k);
  }

  return {
    issue(identity, scopes, lifetimeSeconds) {
      // Federated tokens start ya29.d., service account tokens ya29.c., like Google's; the
      // `sandbox` marker lets a person spot a sandbox token that leaked somewhere it should not be.
      const prefix = identity.kind === 'federated' ? 'ya29.d.sandbox.' : 'ya29.c.sandbox.';
      const token = prefix + random(32).toString('base64url');
      const issuedAt = Math.floor(o.clock.now() / 1000) * 1000;
      const record: IssuedToken = { token, identity, scopes: [...scopes], issuedAt, expiresAt: issuedAt + lifetimeSeconds * 1000 };
      byHash.set(hash(token), record);
      if (++issuedSinceSweep >= 256) {
        issuedSinceSweep = 0;
        sweep(issuedAt);
      }
      return record;
    },
    lookup(token) {
      const r = byHash.get(hash(token));
      if (!r) return { status: 'unknown' };
      return o.clock.now() < r.expiresAt ? { status: 'valid', record: r } : { status: 'expired', record: r };
    },
  };
}
