import type { SigningKeyRecord } from '../domain/records.ts';

/**
 * Key lifecycle, derived from timestamps alone so every replica and every test clock agrees:
 *
 *   pending   publishAt ≤ now < activateAt      in the JWKS, not signing yet
 *   active    the latest key with activateAt ≤ now      signs every new token
 *   retired   a later key has activated          in the JWKS until its last token expires (+ skew)
 *   removed   past that                          gone from the JWKS
 *   revoked   withdrawn at once (compromise)     never published or used again
 *
 * Safety argument for caches: a new key is published `prepublish` before it signs, and no JWKS
 * response is cacheable for longer than `prepublish` (see {@link jwksMaxAgeSeconds}), so a relying
 * party that honours Cache-Control always holds the new key before the first token it signs.
 */
export type KeyState = 'pending' | 'active' | 'retired' | 'removed' | 'revoked';

export interface ScheduleSettings {
  rotationPeriodSeconds: number;
  prepublishSeconds: number;
  clockSkewSeconds: number;
}

export interface KeyStatus {
  kid: string;
  state: KeyState;
  publishAt: Date;
  activateAt: Date;
  /** When the next key took over (absent while pending/active). */
  retiredAt?: Date;
  /** When the key leaves the JWKS (absent until retired). */
  removeAt?: Date;
  revokedAt?: Date;
}

const live = (keys: SigningKeyRecord[]) => keys.filter((k) => k.revokedAt === null);
/** Activation order; keys activating in the same instant are ordered by creation (newest signs). */
const byActivation = (a: SigningKeyRecord, b: SigningKeyRecord) =>
  a.activateAt.getTime() - b.activateAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime() || a.kid.localeCompare(b.kid);

/** The key that signs at `now`, if any. */
export function activeKey(keys: SigningKeyRecord[], now: number): SigningKeyRecord | undefined {
  let best: SigningKeyRecord | undefined;
  for (const k of live(keys)) {
    if (k.activateAt.getTime() <= now && (!best || byActivation(best, k) < 0)) best = k;
  }
  return best;
}

/** The key that will sign next (published or not yet published), if one is scheduled. */
export function pendingKey(keys: SigningKeyRecord[], now: number): SigningKeyRecord | undefined {
  return live(keys)
    .filter((k) => k.activateAt.getTime() > now)
    .sort(byActivation)[0];
}

/** State of every key at `now`, newest activation first. */
export function keyStatuses(keys: SigningKeyRecord[], now: number, s: ScheduleSettings): KeyStatus[] {
  const sorted = live(keys).sort(byActivation);
  const out: KeyStatus[] = [];
  const active = activeKey(keys, now);
  sorted.forEach((k, i) => {
    const base = { kid: k.kid, publishAt: k.publishAt, activateAt: k.activateAt };
    const successor = sorted.slice(i + 1).find((n) => n.activateAt.getTime() <= now);
    if (k.activateAt.getTime() > now) {
      out.push({ ...base, state: 'pending' });
      return;
    }
    if (k === active || !successor) {
      out.push({ ...base, state: 'active' });
      return;
    }
    const retiredAt = successor.activateAt;
    const removeAt = new Date(retiredAt.getTime() + (k.maxTokenTtlSeconds + s.clockSkewSeconds) * 1000);
    out.push({ ...base, state: removeAt.getTime() <= now ? 'removed' : 'retired', retiredAt, removeAt });
  });
  for (const k of keys) {
    if (k.revokedAt !== null) {
      out.push({ kid: k.kid, state: 'revoked', publishAt: k.publishAt, activateAt: k.activateAt, revokedAt: k.revokedAt });
    }
  }
  return out.sort((a, b) => b.activateAt.getTime() - a.activateAt.getTime());
}

/** Keys a relying party must be able to see at `now`. */
export function publishedKeys(keys: SigningKeyRecord[], now: number, s: ScheduleSettings): SigningKeyRecord[] {
  const visible = new Set(
    keyStatuses(keys, now, s)
      .filter((st) => (st.state === 'pending' && st.publishAt.getTime() <= now) || st.state === 'active' || st.state === 'retired')
      .map((st) => st.kid),
  );
  return live(keys)
    .filter((k) => visible.has(k.kid))
    .sort((a, b) => b.activateAt.getTime() - a.activateAt.getTime());
}

/** When the next key should be published (so it can activate one period after the active one). */
export function nextPublication(keys: SigningKeyRecord[], now: number, s: ScheduleSettings): number | undefined {
  const active = activeKey(keys, now);
  if (!active) return undefined;
  const pending = pendingKey(keys, now);
  if (pending) return pending.publishAt.getTime() > now ? pending.publishAt.getTime() : undefined;
  return active.activateAt.getTime() + (s.rotationPeriodSeconds - s.prepublishSeconds) * 1000;
}

const MIN_MAX_AGE = 15 * 60;

/**
 * JWKS `Cache-Control: max-age`: half the time until the key set next gains a key or changes
 * signer (as Nomad does), at least 15 minutes so caches do work, and never more than the
 * prepublication lead, so even an unscheduled (manual) rotation is seen before the new key signs.
 */
export function jwksMaxAgeSeconds(keys: SigningKeyRecord[], now: number, s: ScheduleSettings): number {
  const events: number[] = [];
  const pub = nextPublication(keys, now, s);
  if (pub !== undefined) events.push(pub);
  const pending = pendingKey(keys, now);
  if (pending) events.push(pending.activateAt.getTime());
  const next = events.filter((t) => t > now).sort((a, b) => a - b)[0];
  const half = next === undefined ? s.prepublishSeconds : Math.floor((next - now) / 2000);
  return Math.min(s.prepublishSeconds, Math.max(MIN_MAX_AGE, half));
}

/** What the scheduler should do at `now`: nothing, or make a key with these times. */
export function scheduleDecision(
  keys: SigningKeyRecord[],
  now: number,
  s: ScheduleSettings,
): { publishAt: number; activateAt: number } | undefined {
  const active = activeKey(keys, now);
  if (!active) {
    // No key signs (new cluster, or every signing key revoked): nothing can verify tokens
    // until one does, so the new key signs at once; a pending key still takes over on time.
    return { publishAt: now, activateAt: now };
  }
  if (pendingKey(keys, now)) return undefined;
  const due = active.activateAt.getTime() + (s.rotationPeriodSeconds - s.prepublishSeconds) * 1000;
  if (now < due) return undefined;
  return { publishAt: now, activateAt: Math.max(now + s.prepublishSeconds * 1000, active.activateAt.getTime() + s.rotationPeriodSeconds * 1000) };
}
