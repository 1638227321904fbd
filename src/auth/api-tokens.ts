import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Role } from '../access/matrix.ts';
import type { Clock } from '../lib/clock.ts';
import { newId } from '../lib/ids.ts';
import type { ApiTokenRecord } from '../domain/records.ts';
import { AppError } from '../errors/index.ts';
import type { Store } from '../store/store.ts';

/** Who made a request: a token and the one role it holds at one scope. */
export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** Set for workspace- and Deployment-scoped roles. */
  workspaceId: string | null;
  /** Set for `deployment-admin`. */
  deploymentId: string | null;
  /** The token's expiry, if it has one (a token it creates may not outlive it). */
  expiresAt: Date | null;
}

/** What a new token may do and for how long. */
export interface TokenGrant {
  role: Role;
  workspaceId: string | null;
  deploymentId: string | null;
  expiresAt: Date | null;
  createdBy: string | null;
}

const ADMIN_GRANT: TokenGrant = { role: 'organization-owner', workspaceId: null, deploymentId: null, expiresAt: null, createdBy: null };

// `alk_` marks the string for secret scanners; the id part lets the server find the record
// without scanning, the secret part is compared against a stored SHA-256 (it is 256 random bits,
// so a slow hash adds nothing).
const TOKEN_FORM = /^alk_([0-9a-z]{20})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function matches(given: Buffer, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** The admin token: the bootstrap organization owner the server writes to <dataDir>/admin-token. */
const isBootstrap = (t: ApiTokenRecord) => t.name === 'admin' && t.createdBy === null && t.role === 'organization-owner';

/** Why a presented token was refused: the audit log's words for it. */
export type TokenRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'wrong-secret' | 'rotated-out';

export type TokenCheck =
  | { ok: true; principal: Principal }
  /** `token`: the stored token the presented one names (absent when it names none). */
  | { ok: false; reason: TokenRefusal; token?: { id: string; name: string } };

export interface ApiTokenService {
  /** Creates a token (default: an organization owner, as the admin token); the plaintext is returned once and never stored. */
  issue(name: string, grant?: TokenGrant): Promise<{ id: string; token: string }>;
  /**
   * The principal of a presented token: undefined when malformed, unknown, revoked, expired, or
   * a previous secret whose rotation overlap has ended.
   */
  verify(presented: string): Promise<Principal | undefined>;
  /**
   * As `verify`, saying why a token was refused and, when its id names a stored token, which one:
   * for the audit log, never for the caller (every refusal answers the same 401).
   */
  check(presented: string): Promise<TokenCheck>;
  /** A new secret for a live token; the old one keeps working for `overlapSeconds` (0: not at all). */
  rotate(id: string, overlapSeconds: number): Promise<{ record: ApiTokenRecord; token: string }>;
  /**
   * On first start, creates the admin token and writes it to `<dataDir>/admin-token` (mode 0600).
   * Returns the file's path when it wrote one.
   */
  ensureAdminToken(dataDir: string): Promise<string | undefined>;
  /**
   * Revokes every admin token and writes a new one to `<dataDir>/admin-token`: the way back in
   * when the file is lost or leaked. Returns the file's path and how many tokens were revoked.
   */
  resetAdminToken(dataDir: string): Promise<{ path: string; revoked: number }>;
}

export function createApiTokenService(store: Store, clock: Clock): ApiTokenService {
  const TOUCH_EVERY_MS = 60_000;
  const lastTouch = new Map<string, number>();

  const svc: ApiTokenService = {
    async issue(name, grant = ADMIN_GRANT) {
      const id = newId('apiToken');
      const secret = randomBytes(32).toString('base64url');
      await store.apiTokens.insert({
        id,
        name,
        secretHash: sha256(secret),
        createdAt: new Date(clock.now()),
        lastUsedAt: null,
        revokedAt: null,
        ...grant,
        rotatedAt: null,
        previousSecretHash: null,
        previousSecretExpiresAt: null,
      });
      return { id, token: `alk_${id.slice(4)}_${secret}` };
    },
    async rotate(id, overlapSeconds) {
      const rec = await store.apiTokens.get(id);
      if (!rec || rec.revokedAt) throw new AppError('ERR_NOT_FOUND', `no live API token with id "${id}"`, { field: 'token' });
      const now = clock.now();
      const secret = randomBytes(32).toString('base64url');
      // Only the secret being replaced overlaps; one rotated out earlier stops working now.
      const record = await store.apiTokens.rotate(id, {
        secretHash: sha256(secret),
        previousSecretHash: overlapSeconds > 0 ? rec.secretHash : null,
        previousExpiresAt: overlapSeconds > 0 ? new Date(now + overlapSeconds * 1000) : null,
        at: new Date(now),
      });
      if (!record) throw new AppError('ERR_NOT_FOUND', `no live API token with id "${id}"`, { field: 'token' });
      return { record, token: `alk_${id.slice(4)}_${secret}` };
    },
    async verify(presented) {
      const r = await svc.check(presented);
      return r.ok ? r.principal : undefined;
    },
    async check(presented) {
      const m = TOKEN_FORM.exec(presented);
      if (!m) return { ok: false, reason: 'malformed' };
      const rec = await store.apiTokens.get(`tok_${m[1]}`);
      if (!rec) return { ok: false, reason: 'unknown' };
      const token = { id: rec.id, name: rec.name };
      if (rec.revokedAt) return { ok: false, reason: 'revoked', token };
      const now = clock.now();
      if (rec.expiresAt && now >= rec.expiresAt.getTime()) return { ok: false, reason: 'expired', token };
      const given = Buffer.from(sha256(m[2]!), 'hex');
      const current = matches(given, rec.secretHash);
      const previous = rec.previousSecretHash !== null && matches(given, rec.previousSecretHash);
      const inOverlap = previous && rec.previousSecretExpiresAt !== null && now < rec.previousSecretExpiresAt.getTime();
      if (!current && !inOverlap) return { ok: false, reason: previous ? 'rotated-out' : 'wrong-secret', token };
      if (now - (lastTouch.get(rec.id) ?? 0) > TOUCH_EVERY_MS) {
        lastTouch.set(rec.id, now);
        await store.apiTokens.touch(rec.id, new Date(now));
      }
      return { ok: true, principal: { tokenId: rec.id, name: rec.name, role: rec.role, workspaceId: rec.workspaceId, deploymentId: rec.deploymentId, expiresAt: rec.expiresAt } };
    },
    async resetAdminToken(dataDir) {
      const now = new Date(clock.now());
      let revoked = 0;
      for (const t of await store.apiTokens.list()) {
        if (isBootstrap(t) && (await store.apiTokens.revoke(t.id, now))) revoked++;
      }
      const path = (await svc.ensureAdminToken(dataDir))!;
      return { path, revoked };
    },
    async ensureAdminToken(dataDir) {
      const existing = await store.apiTokens.list();
      if (existing.some((t) => isBootstrap(t) && !t.revokedAt)) return undefined;
      const path = join(resolve(dataDir), 'admin-token');
      const { token } = await svc.issue('admin');
      // 'w' not 'wx': a stale file from a wiped store must be replaced by the live token.
      writeFileSync(path, token + '\n', { mode: 0o600 });
      chmodSync(path, 0o600);
      return path;
    },
  };
  return svc;
}
