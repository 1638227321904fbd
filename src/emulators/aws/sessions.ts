import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';

/** Source of random bytes; injected so tests can make identifiers predictable. */
export type RandomBytes = (n: number) => Buffer;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `prefix` + `length` characters drawn from `alphabet` (uniformly: rejection sampling). */
export function randomId(random: RandomBytes, prefix: string, length: number, alphabet = ALNUM_UPPER): string {
  let out = prefix;
  const limit = 256 - (256 % alphabet.length);
  while (out.length < prefix.length + length) {
    for (const b of random(length * 2)) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.length];
      if (out.length === prefix.length + length) break;
    }
  }
  return out;
}

/** Who a set of temporary credentials belongs to, and how they came to be. */
export interface StsSession {
  /** `ASIA…`, 20 characters, as AWS's temporary keys. */
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** The account of the role, which is the account the session acts in. */
  accountId: string;
  roleArn: string;
  roleName: string;
  roleId: string;
  sessionName: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  assumedRoleArn: string;
  /** `<roleId>:<session>`, the caller's `aws:userid`. */
  assumedRoleId: string;
  issuedAt: number;
  expiresAt: number;
  sourceIdentity: string | undefined;
  /** The STS action that issued these credentials. */
  issuedBy: 'AssumeRoleWithWebIdentity' | 'AssumeRole';
  /** For web-identity sessions, the provider ARN (it travels into chained sessions as `aws:FederatedProvider`). */
  federatedProvider: string | undefined;
  /** For web-identity sessions, the token subject. */
  webIdentitySubject: string | undefined;
}

/** What a caller asks the store to issue credentials for. */
export type SessionGrant = Omit<StsSession, 'accessKeyId' | 'secretAccessKey' | 'sessionToken' | 'issuedAt' | 'expiresAt'> & {
  durationSeconds: number;
};

/**
 * Temporary credentials the emulator issued, so it can recognise them when they come back on a
 * signed request. In memory only: a restarted sandbox forgets them and callers get
 * `InvalidClientTokenId`, as they would with credentials from another partition.
 */
export interface SessionStore {
  issue(grant: SessionGrant): StsSession;
  find(accessKeyId: string): StsSession | undefined;
  /** Compares a presented session token with the stored one without leaking where they differ. */
  tokenMatches(session: StsSession, presented: string | undefined): boolean;
  list(): StsSession[];
}

/** Sessions expired this long are dropped; until then a caller is told `ExpiredToken`, not "unknown". */
const KEEP_EXPIRED_MS = 24 * 3600_000;

export function createSessionStore(o: { clock: Clock; randomBytes: RandomBytes }): SessionStore {
  const sessions = new Map<string, StsSession>();

  function prune(now: number) {
    for (const [k, s] of sessions) if (s.expiresAt + KEEP_EXPIRED_MS < now) sessions.delete(k);
  }

  return {
    issue(grant) {
      const now = o.clock.now();
      prune(now);
      let accessKeyId: string;
      do accessKeyId = randomId(o.randomBytes, 'ASIA', 16, BASE32);
      while (sessions.has(accessKeyId));
      const { durationSeconds, ...who } = grant;
      const session: StsSession = {
        ...who,
        accessKeyId,
        // 40 characters like AWS secrets; base64 without padding gives 30 random bytes exactly.
        secretAccessKey: o.randomBytes(30).toString('base64'),
        // Opaque to the client; the prefix makes sandbox tokens recognisable in logs and never
        // mistaken for AWS ones.
        sessionToken: `AirlockSandbox/${o.randomBytes(48).toString('base64')}`,
        issuedAt: now,
        // Whole seconds, as AWS reports expirations.
        expiresAt: Math.floor(now / 1000) * 1000 + durationSeconds * 1000,
      };
      sessions.set(accessKeyId, session);
      return structuredClone(session);
    },
    find(accessKeyId) {
      const s = sessions.get(accessKeyId);
      return s && structuredClone(s);
    },
    tokenMatches(session, presented) {
      if (presented === undefined) return false;
      const a = Buffer.from(session.sessionToken, 'utf8');
      const b = Buffer.from(presented, 'utf8');
      return a.length === b.length && timingSafeEqual(a, b);
    },
    list: () => [...sessions.values()].map((s) => structuredClone(s)),
  };
}
