/**
 * The audit log: append-only, tamper-evident (every record carries the hash of its predecessor),
 * and written in group commits so that recording every token exchange does not cost a
 * transaction each. `record()` resolves only once the record's batch has committed: a caller that
 * answers its client after awaiting it never acknowledges an action whose record could be lost.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { AuditEventRecord } from '../domain/records.ts';
import type { Store } from '../store/store.ts';

/** What a caller records; the log adds seq, time and the chain. */
export interface AuditEvent {
  actor: { type: 'api-token' | 'join-credential' | 'kubernetes' | 'anonymous' | 'system'; id: string; name?: string | undefined };
  action: string;
  target: { type: string; id: string; name?: string | undefined };
  /** `success`, or the error a refusal was answered with. */
  result: string;
  requestId?: string | undefined;
  source?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface AuditLog {
  record(e: AuditEvent): Promise<void>;
  /** Waits for everything recorded so far to commit. */
  flush(): Promise<void>;
  /**
   * Re-computes the whole stored chain, oldest first, in pages: from the anchor retention left
   * (the hash of the last deleted record) or the genesis hash. Reports the first broken record.
   */
  verify(): Promise<AuditVerifyResult>;
  /**
   * Retention: deletes the records written before `before` — never the newest one, which the
   * next record chains to — and keeps the last deleted record's hash as the new anchor.
   * Records the pruning itself. Returns how many records went.
   */
  prune(before: Date): Promise<number>;
}

export type AuditVerifyResult =
  | { ok: true; checked: number; firstSeq: number | null; lastSeq: number | null; head: string; anchor: AuditAnchor | null }
  | { ok: false; checked: number; seq: number; reason: string; anchor: AuditAnchor | null };

/** Where the stored chain starts once retention has deleted its beginning. */
export interface AuditAnchor {
  /** The last deleted record. */
  throughSeq: number;
  hash: string;
}

const ANCHOR_KEY = 'audit.anchor';
const VERIFY_PAGE = 1000;

export const GENESIS_HASH = '0'.repeat(64);
const CHAIN_LOCK = 'audit.chain';

/** The hash of a record: over its predecessor's hash and every field but its own hash, in a fixed order. */
export function auditHash(e: Omit<AuditEventRecord, 'hash'>): string {
  const canonical = JSON.stringify([
    e.seq,
    e.at.toISOString(),
    e.actorType,
    e.actorId,
    e.actorName,
    e.action,
    e.targetType,
    e.targetId,
    e.targetName,
    e.result,
    e.requestId,
    e.source,
    canonicalize(e.details),
  ]);
  return createHash('sha256').update(e.prevHash).update('\n').update(canonical).digest('hex');
}

function canonicalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonicalize);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonicalize((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Checks a run of records, oldest first; returns the first broken seq, if any. */
export function verifyChain(events: AuditEventRecord[], prevHash = GENESIS_HASH): { ok: true; head: string } | { ok: false; seq: number; reason: string } {
  let prev = prevHash;
  let expectedSeq = events[0]?.seq;
  for (const e of events) {
    if (e.seq !== expectedSeq) return { ok: false, seq: e.seq, reason: `expected seq ${expectedSeq}` };
    if (e.prevHash !== prev) return { ok: false, seq: e.seq, reason: 'prev_hash does not match the previous record' };
    if (auditHash(e) !== e.hash) return { ok: false, seq: e.seq, reason: 'hash does not match the record' };
    prev = e.hash;
    expectedSeq = e.seq + 1;
  }
  return { ok: true, head: prev };
}

export function createAuditLog(o: { store: Store; clock: Clock; logger: Logger; maxBatch?: number; metrics?: Pick<Metrics, 'auditBatch'> }): AuditLog {
  const maxBatch = o.maxBatch ?? 1000;
  let queue: { e: AuditEvent; at: Date; done: (err?: Error) => void }[] = [];
  let running: Promise<void> | undefined;

  function chain(batch: typeof queue, head: { seq: number; hash: string } | undefined): AuditEventRecord[] {
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? GENESIS_HASH;
    return batch.map(({ e, at }) => {
      const base = {
        seq: ++seq,
        at,
        actorType: e.actor.type,
        actorId: e.actor.id,
        actorName: e.actor.name ?? '',
        action: e.action,
        targetType: e.target.type,
        targetId: e.target.id,
        targetName: e.target.name ?? '',
        result: e.result,
        requestId: e.requestId ?? null,
        source: e.source ?? null,
        details: e.details ?? {},
        prevHash: prev,
      };
      const row = { ...base, hash: auditHash(base) };
      prev = row.hash;
      return row;
    });
  }

  // With an exclusive (embedded) store this process is the chain's only writer: the head lives
  // in memory after the first read, and a batch is one multi-row INSERT (atomic on its own).
  let head: { seq: number; hash: string } | undefined | null = null;
  async function writeBatch(batch: typeof queue): Promise<void> {
    if (o.store.exclusive) {
      if (head === null) head = await o.store.audit.head();
      const rows = chain(batch, head);
      await o.store.audit.insertMany(rows);
      const last = rows[rows.length - 1]!;
      head = { seq: last.seq, hash: last.hash };
      return;
    }
    await o.store.transaction(async (tx) => {
      // Serialises writers across replicas, so the chain has one order.
      await tx.settings.lock(CHAIN_LOCK);
      await tx.audit.insertMany(chain(batch, await tx.audit.head()));
    });
  }

  // Waits for the rest of the current event-loop turn, so everything recorded by requests handled
  // in the same I/O phase lands in one batch (the embedded store runs on this thread: without the
  // pause a write would start for the first record and finish before the next arrived).
  const nextTurn = () => new Promise<void>((r) => setImmediate(r));

  function pump(): Promise<void> {
    running ??= (async () => {
      await nextTurn();
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        try {
          await writeBatch(batch);
          o.metrics?.auditBatch({ records: batch.length, ok: true });
          for (const b of batch) b.done();
        } catch (err) {
          o.metrics?.auditBatch({ records: batch.length, ok: false });
          o.logger.error('audit: a batch of records could not be written; the actions they record are refused', { err: err as Error, count: batch.length });
          const failure = err instanceof Error ? err : new Error('audit: the batch could not be written', { cause: err });
          for (const b of batch) b.done(failure);
        }
        await nextTurn();
      }
      running = undefined;
    })();
    return running;
  }

  async function verify(): Promise<AuditVerifyResult> {
    const anchor = (await o.store.settings.get<AuditAnchor>(ANCHOR_KEY)) ?? null;
    let prev = anchor?.hash ?? GENESIS_HASH;
    let expectedSeq = anchor ? anchor.throughSeq + 1 : 1;
    let checked = 0;
    let firstSeq: number | null = null;
    let afterSeq: number | undefined;
    for (;;) {
      const page = await o.store.audit.list({ afterSeq, limit: VERIFY_PAGE });
      if (page.length === 0) break;
      firstSeq ??= page[0]!.seq;
      // A gap (a deleted record) breaks the chain as surely as an edited one.
      if (page[0]!.seq !== expectedSeq) return { ok: false, checked, seq: page[0]!.seq, reason: `expected seq ${expectedSeq}: records are missing`, anchor };
      const r = verifyChain(page, prev);
      if (!r.ok) return { ok: false, checked: checked + page.findIndex((e) => e.seq === r.seq), seq: r.seq, reason: r.reason, anchor };
      checked += page.length;
      prev = r.head;
      afterSeq = page[page.length - 1]!.seq;
      expectedSeq = afterSeq + 1;
    }
    return { ok: true, checked, firstSeq, lastSeq: afterSeq ?? null, head: prev, anchor };
  }

  async function prune(before: Date): Promise<number> {
    await log.flush();
    const deleted = await o.store.transaction(async (tx) => {
      await tx.settings.lock(CHAIN_LOCK);
      const cut = await tx.audit.lastBefore(before);
      const newest = await tx.audit.head();
      if (!cut || !newest) return undefined;
      // The newest record stays: the next one chains to it.
      const through = cut.seq >= newest.seq ? (await tx.audit.list({ afterSeq: newest.seq - 2, limit: 1 }))[0] : { seq: cut.seq, hash: cut.hash };
      if (!through || through.seq >= newest.seq) return undefined;
      const count = await tx.audit.deleteThrough(through.seq);
      if (count === 0) return undefined;
      await tx.settings.put(ANCHOR_KEY, { throughSeq: through.seq, hash: through.hash } satisfies AuditAnchor);
      return { count, through: through.seq };
    });
    if (!deleted) return 0;
    await log.record({
      actor: { type: 'system', id: 'retention' },
      action: 'audit.prune',
      target: { type: 'audit-log', id: 'audit' },
      result: 'success',
      details: { deleted: deleted.count, throughSeq: deleted.through, before: before.toISOString() },
    });
    return deleted.count;
  }

  const log: AuditLog = {
    verify,
    prune,
    record(e) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ e, at: new Date(o.clock.now()), done: (err) => (err ? reject(err) : resolve()) });
        // Everything queued while a batch commits goes into the next one.
        if (!running) void pump();
      });
    },
    async flush() {
      while (running || queue.length) await (running ?? pump());
    },
  };
  return log;
}
