import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Role } from '../access/matrix.ts';
import type { Clock } from '../lib/clock.ts';
import { newId } from '../lib/ids.ts';
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
}

// `alk_` marks the string for secret scanners; the id part lets the server find the record
// without scanning, the secret part is compared against a stored SHA-256 (it is 256 random bits,
// so a slow hash adds nothing).
const TOKEN_FORM = /^alk_([0-9a-z]{20})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export interface ApiTokenService {
  /** Creates a token; the plaintext is returned once and never stored. */
  issue(name: string): Promise<{ id: string; token: string }>;
  verify(presented: string): Promise<Principal | undefined>;
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
    async issue(name) {
      const id = newId('apiToken');
      const secret = randomBytes(32).toString('base64url');
      await store.apiTokens.insert({
        id,
        name,
        secretHash: sha256(secret),
        createdAt: new Date(clock.now()),
        lastUsedAt: null,
        revokedAt: null,
      });
      return { id, token: `alk_${id.slice(4)}_${secret}` };
    },
    async verify(presented) {
      const m = TOKEN_FORM.exec(presented);
      if (!m) return undefined;
      const rec = await store.apiTokens.get(`tok_${m[1]}`);
      if (!rec || rec.revokedAt) return undefined;
      const a = Buffer.from(sha256(m[2]!), 'hex');
      const b = Buffer.from(rec.secretHash, 'hex');
      if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
      const now = clock.now();
      if (now - (lastTouch.get(rec.id) ?? 0) > TOUCH_EVERY_MS) {
        lastTouch.set(rec.id, now);
        await store.apiTokens.touch(rec.id, new Date(now));
      }
      return { tokenId: rec.id, name: rec.name, role: 'organization-owner', workspaceId: null, deploymentId: null };
    },
    async resetAdminToken(dataDir) {
      const now = new Date(clock.now());
      let revoked = 0;
      for (const t of await store.apiTokens.list()) {
        if (t.name === 'admin' && (await store.apiTokens.revoke(t.id, now))) revoked++;
      }
      const path = (await svc.ensureAdminToken(dataDir))!;
      return { path, revoked };
    },
    async ensureAdminToken(dataDir) {
      const existing = await store.apiTokens.list();
      if (existing.some((t) => t.name === 'admin' && !t.revokedAt)) return undefined;
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
