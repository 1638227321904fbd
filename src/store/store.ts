import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kysely, Migrator, PostgresDialect, type MigrationProvider } from 'kysely';
import { AppError } from '../errors/index.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { createSqliteDialect, openSqlite } from './sqlite-dialect.ts';
import { migrations } from './migrations/index.ts';
import { createRepos, type Repos } from './repos.ts';
import type { Database } from './schema.ts';

export type StoreKind = 'embedded' | 'postgres';

/** The persistence boundary: repositories, transactions, lifecycle. */
export interface Store extends Repos {
  readonly kind: StoreKind;
  /**
   * Runs `fn` in one transaction: if it throws, nothing it wrote is kept. Inside, use only the
   * `tx` repositories (the embedded store is one session, so reaching for the outer store there
   * would wait on itself).
   */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /**
   * The embedded store is used by this process alone (the data-directory lock guarantees it), so
   * what it last read stays true until this process writes. `generation()` counts the writes that
   * change workload profiles or join credentials (clusters, identities, Deployments, credentials):
   * a copy read at generation g is current while `generation()` is still g. PostgreSQL may be
   * written by other replicas at any time: `undefined`, nothing may be cached on its account.
   */
  generation(): number | undefined;
  /** True when no other process can write the store (embedded): e.g. the audit chain head can be kept in memory. */
  readonly exclusive: boolean;
  /** Schema versions applied, oldest first. */
  appliedMigrations(): Promise<string[]>;
  /**
   * Embedded store only: writes a consistent copy of the whole database to `file` (SQLite's online
   * backup, in steps between other work; writes made meanwhile through this store are carried
   * into the copy). PostgreSQL: ERR_RULE_VIOLATION, its backups are pg_dump's.
   */
  snapshot(file: string): Promise<void>;
  /** How long opening took, in ms: the database itself, then bringing its schema up to date. */
  readonly startup: { openMs: number; migrateMs: number };
  close(): Promise<void>;
}

export interface StoreOptions {
  /** PostgreSQL URL; absent = the embedded store (SQLite). */
  databaseUrl?: string | undefined;
  /** Where the embedded store keeps its files; absent (with no URL) = in memory. */
  dataDir?: string | undefined;
  /**
   * PostgreSQL only: told when the server drops an idle pooled connection (restart, failover).
   * The store recovers on its own; this is for logging.
   */
  onConnectionError?: ((err: Error) => void) | undefined;
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** Opens the store and brings its schema up to date. */
export async function createStore(options: StoreOptions): Promise<Store> {
  const t0 = performance.now();
  let db: Kysely<Database>;
  let kind: StoreKind;
  let unlock = () => {};
  let sqlite: ReturnType<typeof openSqlite> | undefined;
  if (options.databaseUrl) {
    kind = 'postgres';
    // Loaded only here: the embedded store never pays for the PostgreSQL client.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10 });
    // An idle pooled connection that the server closes (restart, failover, idle timeout,
    // pg_terminate_backend) makes the pool emit 'error'; with no listener that is an uncaught
    // exception and takes the whole process down. The pool has already discarded the connection
    // and the next query opens a new one; a query that was running gets its own error.
    pool.on('error', (err) => options.onConnectionError?.(err));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    kind = 'embedded';
    let file: string | undefined;
    if (options.dataDir) {
      const dir = resolve(options.dataDir);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      unlock = lockDataDir(dir);
      file = embeddedPath(dir);
      if (!existsSync(file) && existsSync(join(dir, 'db', 'PG_VERSION'))) {
        unlock();
        throw new AppError(
          'ERR_CONFLICT',
          `${join(dir, 'db')} holds an embedded store written by an earlier Airlock (PGlite); this version keeps its embedded store in ${file} (SQLite) and does not read the old one. Start the earlier version to export what you need, or start this one with another --data-dir`,
          { field: 'dataDir' },
        );
      }
    }
    try {
      sqlite = openSqlite(file);
      db = new Kysely<Database>({ dialect: createSqliteDialect(sqlite) });
    } catch (err) {
      unlock();
      throw err;
    }
  }

  const t1 = performance.now();
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    unlock();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`store: migration ${failed ?? '(unknown)'} failed: ${(error as Error).message}`, { cause: error });
  }

  const startup = { openMs: t1 - t0, migrateMs: performance.now() - t1 };
  const exclusive = kind === 'embedded';
  let generation = 0;
  const bump = exclusive ? () => void generation++ : undefined;
  const dialect = kind === 'embedded' ? 'sqlite' : 'postgres';
  const repos = createRepos(db, { dialect, onWrite: bump });
  return {
    kind,
    exclusive,
    startup,
    ...repos,
    generation: () => (exclusive ? generation : undefined),
    transaction: async (fn) => {
      try {
        return await db.transaction().execute((trx) => fn(createRepos(trx, { dialect, onWrite: bump })));
      } finally {
        // Also after the commit (or rollback): a copy read while the transaction was open is stale.
        bump?.();
      }
    },
    async appliedMigrations() {
      const all = await migrator.getMigrations();
      return all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
    },
    async snapshot(file) {
      if (!sqlite) throw snapshotsAreEmbedded();
      await sqlite.backup(file);
    },
    async close() {
      await db.destroy();
      unlock();
    },
  };
}

/** Why a PostgreSQL store takes no snapshot, and what to do instead. */
export function snapshotsAreEmbedded(): AppError {
  return new AppError('ERR_RULE_VIOLATION', 'backups are made by the embedded store; back PostgreSQL up with pg_dump (and keep the master key apart from the dump)', {
    example: 'pg_dump --format=custom "$DATABASE_URL" > airlock.dump',
  });
}

/** The embedded store's database file in a data dir (SQLite; its write-ahead log sits beside it). */
export function embeddedPath(dataDir: string): string {
  return join(resolve(dataDir), 'airlock.db');
}
