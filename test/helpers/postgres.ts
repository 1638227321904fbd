/**
 * A throwaway PostgreSQL server for tests, built from the machine's own binaries.
 *
 * `startPostgres()` runs `initdb` into a fresh temp dir and starts `postgres` on 127.0.0.1 (a free
 * port, unix socket inside the temp dir, fsync off), waits until it accepts connections and
 * creates an empty database. `stop()` shuts it down and removes the temp dir. The server is also
 * killed if the test process exits without calling `stop()` (an `exit` hook, and the kernel's
 * parent-death signal for the case where the process is killed outright).
 *
 * If `DATABASE_URL_TEST` is set, no server is started: databases are created on that server under
 * unique names and dropped again by `stop()`.
 *
 * PostgreSQL refuses to run as root, and CI runs as root: then initdb and postgres run as the
 * `postgres` system user (created by the Debian package) through `setpriv`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A PostgreSQL server a test may use. */
export interface TestPostgres {
  /** URL of an empty database created for this handle. */
  readonly url: string;
  /** Creates another empty database on the same server and returns its URL (for per-test isolation). */
  createDatabase(): Promise<string>;
  /**
   * Stops the server and removes its files (or, with `DATABASE_URL_TEST`, drops the databases
   * this handle created). Close every pool first: a pool left open sees its connections cut.
   * Safe to call more than once.
   */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Overrides `process.env.DATABASE_URL_TEST` (pass `null` to always start a private server). */
  externalUrl?: string | null;
  /** How long to wait for the server to accept connections, in ms. Default 60 s (slow CI). */
  startTimeoutMs?: number;
}

const BINARIES = ['initdb', 'postgres'] as const;

/** Starts a private PostgreSQL server (or uses `DATABASE_URL_TEST`) and creates an empty database in it. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const external = options.externalUrl === undefined ? process.env.DATABASE_URL_TEST : options.externalUrl;
  if (external) return useExternal(external);
  return startPrivate(options.startTimeoutMs ?? 60_000);
}

/** Directory holding initdb and postgres: PATH first, then the newest /usr/lib/postgresql/<n>/bin. */
export function findPostgresBinDir(): string | undefined {
  const hasAll = (dir: string) => BINARIES.every((b) => existsSync(join(dir, b)));
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && hasAll(dir)) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(root, v, 'bin');
    if (hasAll(dir)) return dir;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// A private server in a temp dir

/** Servers still running; the exit hook kills them if the test forgot to stop them. */
const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // `exit` listeners must be synchronous: SIGKILL the postmaster (its backends notice it is gone
  // and quit on their own) and remove what can be removed.
  process.on('exit', () => {
    for (const s of running) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(s.dir, { recursive: true, force: true, maxRetries: 3 });
    }
  });
}

interface RunAs {
  /** Wraps a command so it runs as the right user and dies with this process. */
  wrap(cmd: string, args: string[]): [string, string[]];
  uid: number | undefined;
  gid: number | undefined;
}

function resolveRunAs(): RunAs {
  const hasSetpriv = whichSync('setpriv') !== undefined;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    // setpriv only adds the parent-death signal here; without it the exit hook still covers
    // every exit but SIGKILL.
    return {
      uid: undefined,
      gid: undefined,
      wrap: (cmd, args) => (hasSetpriv ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]] : [cmd, args]),
    };
  }
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch (err) {
    throw new Error(
      'test postgres: running as root, and PostgreSQL refuses to run as root, but there is no "postgres" user to run it as. ' +
        'Install the Debian package `postgresql` (apt-get install -y postgresql), which creates it.',
      { cause: err },
    );
  }
  if (hasSetpriv) {
    // setpriv changes the user and then execs, so the pid we hold is postgres itself (runuser
    // would fork and sit in between, and signals sent to it would not reach the server).
    // --pdeathsig is applied after the uid change, so the kernel keeps it.
    return {
      uid,
      gid,
      wrap: (cmd, args) => [
        'setpriv',
        [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--pdeathsig', 'SIGKILL', '--', cmd, ...args],
      ],
    };
  }
  if (whichSync('runuser') !== undefined) {
    return { uid, gid, wrap: (cmd, args) => ['runuser', ['-u', 'postgres', '--', cmd, ...args]] };
  }
  throw new Error('test postgres: running as root needs `setpriv` or `runuser` (util-linux) to start PostgreSQL as the postgres user');
}

async function startPrivate(startTimeoutMs: number): Promise<TestPostgres> {
  const bin = findPostgresBinDir();
  if (!bin) {
    throw new Error(
      'test postgres: no PostgreSQL server binaries (initdb, postgres) on PATH or under /usr/lib/postgresql/*/bin. ' +
        'Install the Debian package `postgresql` (apt-get install -y postgresql), or set DATABASE_URL_TEST to a server tests may create databases on.',
    );
  }
  const runAs = resolveRunAs();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  if (runAs.uid !== undefined) chownSync(dir, runAs.uid, runAs.gid!);

  const entry = { child: undefined as unknown as ChildProcess, dir };
  try {
    const [initCmd, initArgs] = runAs.wrap(join(bin, 'initdb'), [
      '-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync',
    ]);
    try {
      // cwd: initdb (run as postgres) may not be allowed into the caller's cwd.
      execFileSync(initCmd, initArgs, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    } catch (err) {
      const e = err as { stderr?: Buffer; stdout?: Buffer };
      throw new Error(`test postgres: initdb failed: ${String(e.stderr ?? '')}${String(e.stdout ?? '')}`.trim(), { cause: err });
    }

    // The free port is found by binding port 0 and letting it go; another process may grab it in
    // between, so a bind failure is retried on a new port.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = await launch(bin, runAs, dir, dataDir, logFile, port, startTimeoutMs);
      if (started.ok) {
        entry.child = started.child;
        running.add(entry);
        installExitHook();
        const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
        const url = await createDb(adminUrl, 'airlock_test');
        let stopped: Promise<void> | undefined;
        return {
          url,
          createDatabase: () => createDb(adminUrl, uniqueDbName()),
          stop: () => (stopped ??= stopPrivate(entry)),
        };
      }
      if (!started.addressInUse || attempt >= 5) throw new Error(`test postgres: server did not start: ${started.reason}`);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

type LaunchResult = { ok: true; child: ChildProcess } | { ok: false; reason: string; addressInUse: boolean };

async function launch(
  bin: string,
  runAs: RunAs,
  dir: string,
  dataDir: string,
  logFile: string,
  port: number,
  startTimeoutMs: number,
): Promise<LaunchResult> {
  const [cmd, args] = runAs.wrap(join(bin, 'postgres'), [
    '-D', dataDir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `port=${port}`,
    '-c', `unix_socket_directories=${dir}`,
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=100',
  ]);
  // The log goes to a file, not a pipe: nothing then holds the test's event loop open, and the
  // file explains a failed start.
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', fd, fd], env: { ...process.env, LC_ALL: 'C' } });
  } finally {
    closeSync(fd);
  }
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
  child.on('error', (err) => (exited = `could not be run: ${err.message}`));
  // Unreferenced: a test that forgets stop() must not hang; the exit hook then kills the server.
  child.unref();

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited !== undefined) {
      const log = readLog(logFile);
      return { ok: false, reason: `postgres ${exited}\n${log}`, addressInUse: /address already in use|could not bind/i.test(log) };
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return { ok: true, child };
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      return { ok: false, reason: `not accepting connections after ${startTimeoutMs} ms\n${readLog(logFile)}`, addressInUse: false };
    }
    await sleep(50);
  }
}

async function stopPrivate(entry: { child: ChildProcess; dir: string }): Promise<void> {
  const { child, dir } = entry;
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    // SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, write nothing more, exit.
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
  running.delete(entry);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

// ---------------------------------------------------------------------------------------------
// An external server (DATABASE_URL_TEST)

async function useExternal(adminUrl: string): Promise<TestPostgres> {
  const created: string[] = [];
  const make = async () => {
    const name = uniqueDbName();
    const url = await createDb(adminUrl, name);
    created.push(name);
    return url;
  };
  const url = await make();
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    client.on('error', () => {});
    await client.connect();
    try {
      for (const name of created) {
        try {
          // WITH (FORCE) (PostgreSQL 13+) also ends sessions a test left open.
          await client.query(`drop database if exists ${quoteIdent(name)} with (force)`);
        } catch {
          await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
          await client.query(`drop database if exists ${quoteIdent(name)}`);
        }
      }
    } finally {
      await client.end();
    }
  };
  return { url, createDatabase: make, stop: () => (stopped ??= stop()) };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function uniqueDbName(): string {
  return `airlock_test_${process.pid}_${randomBytes(6).toString('hex')}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Creates database `name` through the server at `adminUrl` and returns the URL that reaches it. */
async function createDb(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`create database ${quoteIdent(name)}`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function whichSync(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
