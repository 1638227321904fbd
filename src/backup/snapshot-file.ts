import Database from 'better-sqlite3';
import { closeSync, openSync } from 'node:fs';
import { CANARY_SETTING } from '../crypto/master-key.ts';
import { AppError } from '../errors/index.ts';

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
    const newest = db.prepare('select max(at) as at from audit_events').get() as { at: string | null };
    return { migrations, canary: storedSetting(db, CANARY_SETTING) as string | undefined, check, snapshotAt: newest.at };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('ERR_VALIDATION', `${file} is not an Airlock store: ${(err as Error).message}`, { field: 'snapshot', example: 'a file that airlock backup create wrote', cause: err });
  } finally {
    db.close();
  }
}

/** One setting of a SQLite store file, as stored (JSON text; `schema` for an attached one); undefined when absent. */
export function storedSetting(db: Database.Database, key: string, schema = 'main'): unknown {
  const row = db.prepare(`select value from ${schema}.settings where key = ?`).get(key) as { value: string } | undefined;
  return row === undefined ? undefined : (JSON.parse(row.value) as unknown);
}

/** Rollback journal instead of WAL, so no `-wal` file has to travel with the file. */
function standAlone(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

/** Makes a freshly written snapshot stand alone, then checks it. Returns the check's answer. */
export function sealSnapshot(file: string): SnapshotFacts {
  standAlone(file);
  return readSnapshot(file);
}

/**
 * A consistent, stand-alone copy of a SQLite file (mode 0600), its write-ahead log included:
 * through SQLite's backup, not as a file, since a copy of a live store has its latest writes in a
 * `-wal` file beside it that a file copy would leave behind.
 */
export async function copyDatabase(from: string, to: string): Promise<void> {
  const src = new Database(from, { readonly: true, fileMustExist: true });
  try {
    closeSync(openSync(to, 'wx', 0o600));
    await src.backup(to);
  } finally {
    src.close();
  }
  standAlone(to);
}
