import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/**
 * A Kysely dialect for PGlite (Postgres compiled to WASM, in-process). PGlite is one session, so
 * the driver hands out its single connection to one holder at a time: a transaction keeps it
 * until commit or rollback, and other queries wait their turn. That serialisation is what makes
 * transactions isolated here; PostgreSQL gives the same guarantee with real sessions.
 */
export function createPgliteDialect(db: PGlite): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PgliteDriver(db),
    createIntrospector: (k: Kysely<any>) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}

class PgliteDriver implements Driver {
  #queue: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;
  readonly #conn: DatabaseConnection;

  constructor(private readonly db: PGlite) {
    this.#conn = {
      executeQuery: async <R>(q: CompiledQuery): Promise<QueryResult<R>> => {
        const res = await this.db.query<R>(q.sql, q.parameters as any[]);
        const affected = res.affectedRows;
        return affected === undefined ? { rows: res.rows } : { rows: res.rows, numAffectedRows: BigInt(affected) };
      },
      streamQuery: () => {
        throw new Error('streaming queries are not supported by the embedded store');
      },
    };
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((r) => (release = r));
    await previous;
    this.#release = release;
    return this.#conn;
  }

  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const iso = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await conn.executeQuery(CompiledQuery.raw(`begin${iso}`));
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const r = this.#release;
    this.#release = undefined;
    r?.();
  }

  async destroy(): Promise<void> {
    await this.#queue;
    await this.db.close();
  }
}
