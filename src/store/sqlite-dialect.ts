import Database from 'better-sqlite3';
import {
  OperatorNode,
  SqliteAdapter,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type BinaryOperationNode,
  type DefaultValueNode,
  type Dialect,
  type Kysely,
  type RawNode,
  type SelectQueryNode,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';

/**
 * The embedded store's dialect: SQLite (better-sqlite3, in-process) speaking the PostgreSQL the
 * migrations and repositories are written in, for the part of it they use. One SQL dialect is
 * written; the differences are absorbed here, where the contract suite (test/store) checks them:
 *
 * - values: a `Date` is bound as its ISO-8601 string (which sorts and compares chronologically);
 *   columns declared `timestamptz` read back as `Date` and `jsonb` as parsed JSON, as node-postgres
 *   returns them. `now()` is a function returning the ISO string.
 * - row locks (`for update`): dropped. The driver has one connection and a transaction holds it
 *   until commit, so transactions already run one at a time; the data-directory lock keeps every
 *   other process out.
 * - `ilike` becomes `like … escape '\'` (SQLite's LIKE ignores case for ASCII; PostgreSQL's LIKE
 *   escapes with a backslash by default, SQLite's has no escape character unless named).
 * - `'…'::jsonb` casts are dropped (JSON is text here); a raw column default is parenthesised, as
 *   SQLite's grammar wants for an expression.
 * - constraint violations carry PostgreSQL's SQLSTATE (`code`) and constraint name
 *   (`constraint`), so the repositories explain them the same way on both stores.
 */
export function createSqliteDialect(db: Database.Database): Dialect {
  const wrapped = wrapDatabase(db);
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new SqliteDriver({ database: wrapped }),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kysely's Dialect interface passes Kysely<any>
    createIntrospector: (k: Kysely<any>) => new SqliteIntrospector(k),
    createQueryCompiler: () => new PgCompatibleSqliteCompiler(),
  };
}

/**
 * Opens (or creates) the database file, or an in-memory database for `undefined`. Durability:
 * write-ahead log, `synchronous=NORMAL`. A commit has written its pages to the log (the kernel's
 * page cache) before it returns, so an acknowledged write survives the process being killed at any
 * point (test/store/crash.test.ts); the log is fsynced at checkpoints, so an operating-system crash
 * or power loss can lose the last commits before one, never the database's consistency.
 * `synchronous=FULL` would fsync every commit — ~2.5 ms measured here, spent blocking the event
 * loop, since better-sqlite3 is synchronous — and cap the whole server near 400 writes/s.
 */
export function openSqlite(file: string | undefined): Database.Database {
  const db = new Database(file ?? ':memory:');
  try {
    if (file) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.function('now', { deterministic: false }, () => new Date().toISOString());
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

// ---- the query compiler ---------------------------------------------------------------------

const LOCK_MODIFIERS = new Set(['ForUpdate', 'ForShare', 'ForKeyShare', 'ForNoKeyUpdate', 'NoWait', 'SkipLocked']);

class PgCompatibleSqliteCompiler extends SqliteQueryCompiler {
  protected override visitSelectQuery(node: SelectQueryNode): void {
    const kept = node.endModifiers?.filter((m) => !(m.modifier && LOCK_MODIFIERS.has(m.modifier)));
    super.visitSelectQuery(kept === node.endModifiers ? node : { ...node, endModifiers: kept });
  }

  protected override visitBinaryOperation(node: BinaryOperationNode): void {
    const op = OperatorNode.is(node.operator) ? node.operator.operator : undefined;
    if (op !== 'ilike' && op !== 'not ilike') return super.visitBinaryOperation(node);
    this.visitNode(node.leftOperand);
    this.append(op === 'ilike' ? ' like ' : ' not like ');
    this.visitNode(node.rightOperand);
    this.append(" escape '\\'");
  }

  protected override visitRaw(node: RawNode): void {
    const fragments = node.sqlFragments.map((f) => f.replace(/::jsonb\b/g, ''));
    super.visitRaw({ ...node, sqlFragments: fragments });
  }

  protected override visitDefaultValue(node: DefaultValueNode): void {
    if (node.defaultValue.kind !== 'RawNode') return super.visitDefaultValue(node);
    this.append('default (');
    this.visitNode(node.defaultValue);
    this.append(')');
  }
}

// ---- values and errors ----------------------------------------------------------------------

function toSqlite(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

type Reader = (v: unknown) => unknown;
const READERS: Record<string, Reader> = {
  timestamptz: (v) => (typeof v === 'string' ? new Date(v) : v),
  // A jsonb column whose text looks like a number was stored as one (NUMERIC affinity): it is
  // that JSON number already.
  jsonb: (v) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v),
};

/** What a constraint error says in PostgreSQL's terms: SQLSTATE and constraint name. */
class ConstraintViolation extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly constraint: string,
    options: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ConstraintViolation';
  }
}

const SQLSTATE: Record<string, string> = {
  SQLITE_CONSTRAINT_UNIQUE: '23505',
  SQLITE_CONSTRAINT_PRIMARYKEY: '23505',
  SQLITE_CONSTRAINT_FOREIGNKEY: '23503',
  SQLITE_CONSTRAINT_CHECK: '23514',
  SQLITE_CONSTRAINT_NOTNULL: '23502',
};

const DDL = /^\s*(create|alter|drop)\b/i;

function wrapDatabase(db: Database.Database): SqliteDatabase {
  /** Named unique constraints per table, by their column list ("a,b"), read from the schema once. */
  const uniqueNames = new Map<string, Map<string, string>>();
  const namedUniques = (table: string): Map<string, string> => {
    let m = uniqueNames.get(table);
    if (!m) {
      m = new Map();
      const row = db.prepare("select sql from sqlite_master where type = 'table' and name = ?").get(table) as { sql?: string } | undefined;
      for (const x of (row?.sql ?? '').matchAll(/constraint\s+"([^"]+)"\s+unique\s*\(([^)]*)\)/gi)) {
        m.set(x[2]!.replace(/["\s]/g, ''), x[1]!);
      }
      uniqueNames.set(table, m);
    }
    return m;
  };

  const translate = (err: unknown): unknown => {
    const code = (err as { code?: unknown })?.code;
    const state = typeof code === 'string' ? SQLSTATE[code] : undefined;
    if (!state) return err;
    const message = (err as Error).message;
    let constraint = '';
    const detail = message.slice(message.indexOf(':') + 1).trim();
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') constraint = `${detail.split('.')[0]}_pkey`;
    else if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
      // "UNIQUE constraint failed: deployments.cluster_id, deployments.namespace"
      const cols = detail.split(',').map((c) => c.trim().split('.'));
      const table = cols[0]![0]!;
      const names = cols.map((c) => c[1]!);
      constraint = namedUniques(table).get(names.join(',')) ?? `${table}_${names.join('_')}_key`;
    } else if (code === 'SQLITE_CONSTRAINT_CHECK') constraint = detail;
    return new ConstraintViolation(message, state, constraint, { cause: err });
  };

  const statements = new Map<string, SqliteStatement>();
  const prepare = (sql: string): SqliteStatement => {
    const cached = statements.get(sql);
    if (cached) return cached;
    const stmt = db.prepare(sql);
    let readers: [string, Reader][] | undefined;
    const convertRows = (rows: unknown[]): unknown[] => {
      readers ??= stmt.columns().flatMap((c) => {
        const r = READERS[(c.type ?? '').toLowerCase()];
        return r ? [[c.name, r] as [string, Reader]] : [];
      });
      if (readers.length === 0) return rows;
      for (const row of rows as Record<string, unknown>[]) {
        for (const [name, read] of readers) if (row[name] != null) row[name] = read(row[name]);
      }
      return rows;
    };
    const wrapped: SqliteStatement = {
      reader: stmt.reader,
      all: (params) => {
        try {
          return convertRows(stmt.all(...[...params].map(toSqlite)));
        } catch (err) {
          throw translate(err);
        }
      },
      run: (params) => {
        try {
          return stmt.run(...[...params].map(toSqlite));
        } catch (err) {
          throw translate(err);
        } finally {
          // A schema change (migrations) may change what `select *` returns: forget what was
          // derived from the old schema.
          if (DDL.test(sql)) {
            statements.clear();
            uniqueNames.clear();
          }
        }
      },
      iterate: (params) => {
        const it = stmt.iterate(...[...params].map(toSqlite));
        return (function* () {
          for (const row of it) yield convertRows([row])[0];
        })();
      },
    };
    // A bounded cache: the repositories issue a few dozen distinct statements; anything beyond
    // that (e.g. IN lists of varying length) is prepared afresh once the cache fills.
    if (statements.size >= 500) statements.clear();
    statements.set(sql, wrapped);
    return wrapped;
  };
  return { prepare, close: () => db.close() };
}
