/**
 * Helpers shared by the benchmarks: a bounded concurrent runner, statistics, formatting, and a
 * throw-away Airlock instance on a temp data dir. Benchmarks print figures; nothing here ever
 * fails on speed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { App } from '../src/app.ts';

/** One line of the summary table that `bench/run.ts` prints at the end. */
export interface SummaryRow {
  bench: string;
  figure: string;
  baseline: string;
  ratio: number;
  goal?: string;
  /** How the ratio was formed, when it is not simply figure ÷ baseline. */
  note?: string;
}

export interface RunOptions {
  /** Stop after this many completed tasks… */
  count: number;
  /** …or after this long, whichever comes first. */
  maxMs: number;
  /** Tasks in flight at once. */
  concurrency: number;
  /** Record each task's latency (costs one `performance.now()` pair per task). */
  latencies?: boolean;
}

export interface RunResult {
  done: number;
  elapsedMs: number;
  /** Completed tasks per second. */
  rate: number;
  /** Per-task latencies in ms, unsorted; empty unless asked for. */
  latenciesMs: number[];
}

/**
 * Runs `task` `count` times with at most `concurrency` in flight, stopping early at `maxMs`
 * (tasks already started are awaited and counted). A failing task aborts the run: a benchmark
 * that measures errors measures the wrong thing.
 */
export async function runConcurrent(o: RunOptions, task: () => Promise<unknown>): Promise<RunResult> {
  const latenciesMs: number[] = [];
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + o.maxMs;
  async function lane(): Promise<void> {
    while (started < o.count && performance.now() < deadline) {
      started++;
      const s = o.latencies ? performance.now() : 0;
      await task();
      if (o.latencies) latenciesMs.push(performance.now() - s);
      done++;
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, o.count)) }, lane));
  const elapsedMs = performance.now() - t0;
  return { done, elapsedMs, rate: (done * 1000) / elapsedMs, latenciesMs };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (p in 0–100) of unsorted samples. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

export const fmtRate = (perSecond: number, unit: string): string => `${Math.round(perSecond).toLocaleString('en-US')} ${unit}`;
export const fmtMs = (ms: number): string => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) + ' ms';
export const fmtMiB = (bytes: number): string => (bytes / 1048576).toFixed(1) + ' MiB';
export const fmtRatio = (r: number): string => r.toFixed(2);

/** Left-aligned first column, right-aligned others; `header` is underlined. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** What the numbers were measured on; the load average says how busy the shared machine was. */
export function machineLine(): string {
  const c = cpus();
  const la = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${process.platform}/${process.arch}, ${c.length} CPU (${c[0]?.model.trim() ?? '?'}), load average ${la}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`;
}

export interface TempDir {
  path: string;
  remove(): void;
}

const liveDirs = new Set<string>();
let exitHook = false;

/** A fresh directory under the OS temp dir, removed by `remove()` or, failing that, at exit (Ctrl-C too). */
export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `airlock-bench-${prefix}-`));
  liveDirs.add(path);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
    });
    process.once('SIGINT', () => process.exit(130));
  }
  return {
    path,
    remove: () => {
      rmSync(path, { recursive: true, force: true });
      liveDirs.delete(path);
    },
  };
}

export interface BenchApp {
  app: App;
  clusterId: string;
}

/**
 * A real Airlock (embedded store, master key created in `dataDir`, rotation timer off) with one
 * cluster. `listen` binds 127.0.0.1 on a free port.
 */
export async function startBenchApp(dataDir: string, opts: { listen: boolean }): Promise<BenchApp> {
  // Loaded here, not at the top, so a process that only needs the helpers stays small.
  const { createApp } = await import('../src/app.ts');
  const { loadConfig } = await import('../src/config/load.ts');
  const config = loadConfig({ flags: { port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' }, env: {} });
  const app = await createApp({ config, env: {}, manualRotation: true });
  try {
    if (opts.listen) await app.listen();
    const cluster = await app.clusters.create({ name: 'bench', cloud: 'aws', type: 'standard', region: 'us-east-1' });
    return { app, clusterId: cluster.id };
  } catch (err) {
    await app.close();
    throw err;
  }
}

// ---- `airlock serve` as a user starts it ----------------------------------------------------

const BIN = fileURLToPath(new URL('../bin/airlock.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resident set of a process, from /proc (Linux); NaN where there is none. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux; 10 ms resolution).
 * Unlike wall time it barely depends on how busy the shared machine is: on an idle machine a
 * single-threaded start-up takes about this long.
 */
export function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat; here counted after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** Polls `url` until it answers 200; returns the ms since `t0`. Fails if `child` exits first. */
export async function until200(url: string, child: ChildProcess, t0: number, deadlineMs = 60_000): Promise<number> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before ${url} answered`);
    try {
      const r = await fetch(url);
      if (r.status === 200) {
        await r.arrayBuffer();
        return performance.now() - t0;
      }
    } catch {
      /* not listening yet */
    }
    if (performance.now() - t0 > deadlineMs) throw new Error(`${url} did not answer 200 within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** SIGTERM (the server closes its store cleanly), SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

export interface ServeProcess {
  child: ChildProcess;
  base: string;
  /** Everything the server logged so far (for error messages). */
  log(): string;
  /** The `startupMs` breakdown of its "airlock is serving" line (waits briefly for it). */
  phases(): Promise<Record<string, number> | undefined>;
}

/**
 * `node bin/airlock.js serve` on `dataDir` and a free port, with none of the calling shell's
 * AIRLOCK_* settings or DATABASE_URL: the embedded store, as a new user runs it. Not yet waited on.
 */
export async function spawnAirlockServe(dataDir: string, extraEnv: Record<string, string> = {}): Promise<ServeProcess> {
  const port = await freePort();
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIRLOCK_') && k !== 'DATABASE_URL')), ...extraEnv };
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (log += chunk));
  const find = () => {
    const line = log.split('\n').find((l) => l.includes('"airlock is serving"'));
    try {
      return line ? ((JSON.parse(line) as { startupMs?: Record<string, number> }).startupMs ?? undefined) : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    log: () => log,
    async phases() {
      for (let i = 0; i < 50 && !find(); i++) await new Promise((r) => setTimeout(r, 10));
      return find();
    },
  };
}

/** Creates the cluster `bench` through the API with the admin token the first start wrote; returns its id. */
export async function createBenchCluster(base: string, dataDir: string): Promise<string> {
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const r = await fetch(`${base}/api/v1/clusters`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', cloud: 'aws', type: 'standard', region: 'us-east-1' }),
  });
  const body = (await r.json()) as { id?: string };
  if (r.status !== 201 || !body.id) throw new Error(`POST /api/v1/clusters answered ${r.status}: ${JSON.stringify(body)}`);
  return body.id;
}
