/**
 * What a store knows of its own history, kept in its settings (so every snapshot carries it):
 *
 * - `store.lineage`: a random id given to a store when it is first started. Snapshots and the
 *   stores restored from them share it; a store started afresh elsewhere has another. A restore
 *   over a store of another lineage has nothing to carry over from it.
 * - `store.gaps`: the time spans whose rows this store never held. A store restored at time r
 *   from a snapshot taken at time s lacks whatever was made between s and r (it is in the store
 *   that was replaced); its snapshots inherit the gaps. A row missing from a store was deleted
 *   there only if it was made outside that store's gaps.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';

export const LINEAGE_SETTING = 'store.lineage';
export const GAPS_SETTING = 'store.gaps';

/** [from, to]: ISO times, exclusive at both ends. */
export type Gap = [string, string];

/** Gives a store its lineage id when it has none (at every start; a no-op after the first). */
export async function ensureLineage(store: Store): Promise<void> {
  if (!(await store.settings.get<string>(LINEAGE_SETTING))) await store.settings.put(LINEAGE_SETTING, `lin_${randomBytes(12).toString('hex')}`);
}

/** Whether a row made at `createdAt` fell in one of the gaps (and so was never in the store). */
export function inGap(gaps: readonly Gap[], createdAt: string): boolean {
  return gaps.some(([from, to]) => createdAt > from && createdAt < to);
}

/** Gaps as stored (a JSON array of pairs); anything else is no gaps. */
export function parseGaps(value: unknown): Gap[] {
  if (!Array.isArray(value)) return [];
  return value.filter((g): g is Gap => Array.isArray(g) && g.length === 2 && typeof g[0] === 'string' && typeof g[1] === 'string');
}
