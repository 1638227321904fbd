import Database from 'better-sqlite3';
import { CANARY_SETTING } from '../crypto/master-key.ts';
import { AppError } from '../errors/index.ts';
import { SEALED_COLUMNS } from '../store/repos.ts';

/** What a snapshot file holds, read without changing it. */
export interface SnapshotFacts {
  /** Schema versions applied in it, oldest first. */
  migrations: string[];
  /** The sealed canary its master key check uses; absent in a store that never started. */
  canary: string | undefined;
  /** SQLite's `quick_check`: `ok`, or the first problems it found. */
  check: string;
  /** When its newest audit record was written: about when the snapshot was taken (null: no record). */
  snapshotAt: string | null;
}

/**
 * Opens a snapshot read-only and reports what a restore must know before trusting it. A file that
 * is not an Airlock store (not SQLite, or without its tables) is ERR_VALIDATION naming the file.
 */
export function readSnapshot(file: string): SnapshotFacts {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new AppError('ERR_VALIDATION', `${file} cannot be opened: ${(err as Error).message}`, { field: 'snapshot', example: '.airlock/backups/airlock-2026-12-07T02-00-00-000Z.db', cause: err });
  }
  try {
    const check = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check).join('; ');
    const migrations = (db.prepare('select name from kysely_migration order by name').all() as { name: string }[]).map((r) => r.name);
    const row = db.prepare('select value from settings where key = ?').get(CANARY_SETTING) as { value: string } | undefined;
    const newest = db.prepare('select max(at) as at from audit_events').get() as { at: string | null };
    return { migrations, canary: row ? (JSON.parse(row.value) as string) : undefined, check, snapshotAt: newest.at };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('ERR_VALIDATION', `${file} is not an Airlock store: ${(err as Error).message}`, { field: 'snapshot', example: 'a file that airlock backup create wrote', cause: err });
  } finally {
    db.close();
  }
}

/**
 * Makes a freshly written snapshot stand alone: rollback journal instead of WAL (no `-wal` file
 * must travel with it), then checks it. Returns the check's answer.
 */
export function sealSnapshot(file: string): SnapshotFacts {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
  return readSnapshot(file);
}

/** The master-key fingerprints that seal anything in a store file (every sealed column, and the canary). */
export function fingerprintsIn(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const found = new Set<string>();
    const add = (sealed: string) => found.add(sealed.split('.')[1] ?? '');
    for (const [table, { column }] of Object.entries(SEALED_COLUMNS)) {
      for (const r of db.prepare(`select ${column} as v from ${table} where ${column} is not null`).all() as { v: string }[]) add(r.v);
    }
    const canary = db.prepare('select value from settings where key = ?').get(CANARY_SETTING) as { value: string } | undefined;
    if (canary) add(JSON.parse(canary.value) as string);
    return [...found];
  } finally {
    db.close();
  }
}
