/**
 * Paces audit records of events that come in bulk: refusals anyone can cause (a bad token, a
 * made-up credential), and a workload's environment reads (every 30 s per agent). At most one
 * record per key per interval, the next one saying how many were left out. Bounded: once
 * `maxKeys` keys are being paced, a new key either shares one overflow key (`whenFull: 'share'`,
 * for refusals: a flood of distinct keys costs neither memory nor more than one record per
 * interval) or is recorded every time (`'admit'`, for events that must never go unrecorded).
 */
import type { Clock } from '../lib/clock.ts';
import type { AuditEvent, AuditLog } from './log.ts';

export type PacerVerdict = { record: true; suppressed: number } | { record: false };

export interface RefusalPacer {
  admit(key: string): PacerVerdict;
  /** Forgets a key, so its next event is recorded (e.g. after its record could not be written). */
  forget(key: string): void;
}

export const REFUSAL_RECORD_EVERY_MS = 60_000;
const OVERFLOW = '\u0000overflow';

export function createRefusalPacer(o: { clock: Clock; everyMs?: number; maxKeys?: number; whenFull?: 'share' | 'admit' }): RefusalPacer {
  const every = o.everyMs ?? REFUSAL_RECORD_EVERY_MS;
  const maxKeys = o.maxKeys ?? 10_000;
  const seen = new Map<string, { lastRecordedAt: number; suppressed: number }>();
  return {
    admit(key) {
      const now = o.clock.now();
      if (!seen.has(key) && seen.size >= maxKeys) {
        // Make room from keys whose interval is over; failing that, share the overflow key.
        for (const [k, v] of seen) if (now - v.lastRecordedAt >= every) seen.delete(k);
        if (seen.size >= maxKeys) {
          if (o.whenFull === 'admit') return { record: true, suppressed: 0 };
          key = OVERFLOW;
        }
      }
      const s = seen.get(key);
      if (s && now - s.lastRecordedAt < every) {
        s.suppressed++;
        return { record: false };
      }
      seen.set(key, { lastRecordedAt: now, suppressed: 0 });
      return { record: true, suppressed: s?.suppressed ?? 0 };
    },
    forget(key) {
      seen.delete(key);
    },
  };
}

/**
 * Records refusals through a pacer: `record(key, event)` writes the event when the key is admitted,
 * with `details.suppressed` (how many of that key were left out since its last record). A failed
 * write goes to `onError`: a refusal is answered the same whether or not its record landed.
 */
export function createPacedRecorder(o: { clock: Clock; log: Pick<AuditLog, 'record'>; onError: (err: unknown) => void }) {
  const pacer = createRefusalPacer({ clock: o.clock });
  return {
    async record(key: string, event: AuditEvent): Promise<void> {
      const verdict = pacer.admit(key);
      if (!verdict.record) return;
      await o.log.record({ ...event, details: { ...event.details, suppressed: verdict.suppressed } }).catch(o.onError);
    },
  };
}
