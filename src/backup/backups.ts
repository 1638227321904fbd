/**
 * Backups of the embedded store: consistent snapshots taken while the server runs, into one
 * directory, newest `keep` kept. A snapshot holds everything in the store, private keys and
 * secrets still sealed under the master key, which is never in it: keep the key apart.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { snapshotsAreEmbedded, type Store } from '../store/store.ts';
import { sealSnapshot } from './snapshot-file.ts';

export interface BackupInfo {
  name: string;
  path: string;
  bytes: number;
  createdAt: string;
}

export interface Backups {
  /** Where snapshots go; undefined on PostgreSQL. */
  readonly dir: string | undefined;
  /** Takes a snapshot now (one at a time), then deletes all but the newest `keep`. */
  create(): Promise<BackupInfo & { migrations: string[]; deleted: string[] }>;
  /** The snapshots in the directory, newest first. */
  list(): BackupInfo[];
  /** The newest snapshot not dated in the future (a clock that jumped back, a copied file): what "fresh" is judged by. */
  newest(): BackupInfo | undefined;
  /** Takes a snapshot if the newest is older than `intervalSeconds` (or there is none); for the timer. */
  createIfDue(intervalSeconds: number): Promise<BackupInfo | undefined>;
}

/** `airlock-2026-12-07T02-00-00-000Z.db` (a second one in the same millisecond: `…Z-1.db`). */
const NAME = /^airlock-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z(?:-\d+)?\.db$/;

function nameAt(ms: number): string {
  return `airlock-${new Date(ms).toISOString().replace(/[:.]/g, '-')}`;
}

/** When a snapshot named by {@link createBackups} was taken (ISO); undefined for any other name. */
export function createdAtOf(name: string): string | undefined {
  const m = NAME.exec(name);
  return m ? `${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z` : undefined;
}

export function createBackups(o: { store: Store; dir: string; keep: number; clock: Clock; logger: Logger; onResult?: (ok: boolean) => void }): Backups {
  const embedded = o.store.kind === 'embedded';
  let running: Promise<unknown> = Promise.resolve();

  function list(): BackupInfo[] {
    if (!existsSync(o.dir)) return [];
    const out: BackupInfo[] = [];
    for (const name of readdirSync(o.dir)) {
      const createdAt = createdAtOf(name);
      if (!createdAt) continue;
      const path = join(o.dir, name);
      // Pruned between the directory read and this one (a snapshot being taken meanwhile): skip it.
      const bytes = statSync(path, { throwIfNoEntry: false })?.size;
      if (bytes !== undefined) out.push({ name, path, bytes, createdAt });
    }
    // Newest first; the name's suffix orders snapshots taken in the same millisecond.
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.length - a.name.length || b.name.localeCompare(a.name));
  }

  async function take(): Promise<BackupInfo & { migrations: string[]; deleted: string[] }> {
    if (!embedded) throw snapshotsAreEmbedded();
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    const base = nameAt(o.clock.now());
    let name = `${base}.db`;
    for (let n = 1; existsSync(join(o.dir, name)); n++) name = `${base}-${n}.db`;
    const path = join(o.dir, name);
    // Written beside the others under a name `list` ignores, readable by the owner only, and
    // renamed into place only once it is complete and checked.
    const partial = join(o.dir, `.${name}.partial`);
    closeSync(openSync(partial, 'wx', 0o600));
    try {
      await o.store.snapshot(partial);
      const facts = sealSnapshot(partial);
      if (facts.check !== 'ok') throw new AppError('ERR_INTERNAL', `the snapshot failed its integrity check: ${facts.check}`);
      renameSync(partial, path);
      // Never the one just written, even when files dated in the future sort before it.
      const deleted = list()
        .filter((b) => b.name !== name)
        .slice(o.keep - 1)
        .map((b) => {
          rmSync(b.path, { force: true });
          return b.name;
        });
      return { name, path, bytes: statSync(path).size, createdAt: new Date(o.clock.now()).toISOString(), migrations: facts.migrations, deleted };
    } finally {
      rmSync(partial, { force: true });
      rmSync(`${partial}-journal`, { force: true });
    }
  }

  const backups: Backups = {
    dir: embedded ? o.dir : undefined,
    list: () => (embedded ? list() : []),
    create() {
      const next = running.then(take, take);
      running = next.catch(() => undefined);
      return next.then(
        (r) => {
          o.onResult?.(true);
          return r;
        },
        (err: unknown) => {
          if (!(err instanceof AppError && err.code === 'ERR_RULE_VIOLATION')) o.onResult?.(false);
          throw err;
        },
      );
    },
    newest: () => (embedded ? list().find((b) => Date.parse(b.createdAt) <= o.clock.now()) : undefined),
    async createIfDue(intervalSeconds) {
      const newest = backups.newest();
      if (newest && o.clock.now() - Date.parse(newest.createdAt) < intervalSeconds * 1000) return undefined;
      const made = await backups.create();
      o.logger.info('backup written', { file: made.path, bytes: made.bytes, deleted: made.deleted });
      return made;
    },
  };
  return backups;
}
