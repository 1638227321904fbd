/**
 * Start-up: how long `airlock serve` takes to answer, and how much memory it holds, on a fresh
 * data directory (first start) and on the same directory again (restart).
 *
 * Airlock is started exactly as a user starts it (`node bin/airlock.js serve`), in a child
 * process. Figures, measured from the spawn: `/healthz` answering 200; on first start, creating a
 * cluster through the API (its first signing key is generated then) and its JWKS answering; on
 * restart, that JWKS answering again. RSS is read from /proc at each step. The server's own
 * breakdown (module loading, store open, migrations, bootstrap, assembling, listen) comes from the
 * `startupMs` field of its "airlock is serving" log line.
 *
 * Baseline: a bare node:http server started by plain `node`, timed to its first 200, same RSS read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fmtMiB, median, table, tempDir, type SummaryRow } from './lib.ts';

export interface StartupBenchOptions {
  /** First start + restart pairs, each on a new data dir; the headline is the median. */
  rounds: number;
}

export const STARTUP_DEFAULTS: StartupBenchOptions = { rounds: 3 };
export const GOALS = { firstMs: 1500, restartMs: 1000, rssBytes: 150 * 1048576 };

const BIN = fileURLToPath(new URL('../bin/airlock.js', import.meta.url));

const BASELINE_SERVER = `
import { createServer } from 'node:http';
createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'))
  .listen(Number(process.argv[1]), '127.0.0.1');
`;

type Phases = Record<string, number>;

interface StartResult {
  /** Spawn → /healthz 200. */
  healthMs: number;
  /** Spawn → JWKS 200 (after creating the cluster, on a first start). */
  jwksMs?: number;
  /** POST /api/v1/clusters: the first signing key is generated there. */
  createClusterMs?: number;
  rssHealthy: number;
  rssJwks?: number;
  phases?: Phases;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resident set of a process, from /proc (Linux); NaN where there is none. */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function until200(url: string, child: ChildProcess, t0: number, deadlineMs = 60_000): Promise<number> {
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

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

/** Starts `airlock serve` on `dataDir`; on a first start (no clusterId) creates a cluster. */
async function startAirlock(dataDir: string, clusterId: string | undefined, extraEnv: Record<string, string> = {}): Promise<StartResult & { clusterId: string }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // As a new user starts it: no AIRLOCK_* settings from the calling shell, no DATABASE_URL.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIRLOCK_') && k !== 'DATABASE_URL')), ...extraEnv },
  });
  let phases: Phases | undefined;
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    log += chunk;
    for (const line of chunk.split('\n')) {
      if (!line.includes('"airlock is serving"')) continue;
      try {
        phases = (JSON.parse(line) as { startupMs?: Phases }).startupMs;
      } catch {
        /* a line split across chunks: the breakdown is then missing, not wrong */
      }
    }
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    const healthMs = await until200(`${base}/healthz`, child, t0).catch((err: Error) => {
      throw new Error(`${err.message}\n${log}`);
    });
    const rssHealthy = rssOf(child.pid!);
    let createClusterMs: number | undefined;
    if (!clusterId) {
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      const c0 = performance.now();
      const r = await fetch(`${base}/api/v1/clusters`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench', cloud: 'aws', type: 'standard', region: 'us-east-1' }),
      });
      const body = (await r.json()) as { id?: string };
      if (r.status !== 201 || !body.id) throw new Error(`POST /api/v1/clusters answered ${r.status}: ${JSON.stringify(body)}`);
      createClusterMs = performance.now() - c0;
      clusterId = body.id;
    }
    const jwksMs = await until200(`${base}/clusters/${clusterId}/openid/v1/jwks`, child, t0);
    const rssJwks = rssOf(child.pid!);
    // The log line is written right after listen; give the pipe a moment if it is not in yet.
    for (let i = 0; i < 50 && !phases; i++) await new Promise((r) => setTimeout(r, 10));
    return { healthMs, jwksMs, createClusterMs, rssHealthy, rssJwks, phases, clusterId };
  } finally {
    await stop(child);
  }
}

async function startBaseline(): Promise<StartResult> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', BASELINE_SERVER, String(port)], { stdio: 'ignore' });
  try {
    const healthMs = await until200(`http://127.0.0.1:${port}/healthz`, child, t0);
    return { healthMs, rssHealthy: rssOf(child.pid!) };
  } finally {
    await stop(child);
  }
}

const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : `${Math.round(x)} ms`);
const mib = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : fmtMiB(x));

export async function runStartupBench(o: StartupBenchOptions = STARTUP_DEFAULTS): Promise<SummaryRow[]> {
  console.log(`\n## startup: airlock serve, first start on an empty data dir and restart`);
  console.log(`${o.rounds} rounds, each on a new data dir: spawn → /healthz 200 → (first start: POST cluster) → JWKS 200; baseline: bare node:http server, spawn → first 200\n`);
  const firsts: StartResult[] = [];
  const restarts: StartResult[] = [];
  const baselines: StartResult[] = [];
  // Once: the very first start after an install or a source edit, which compiles the CLI bundle
  // (bin/compiled.js) into an empty cache first. `npm install` does that already (prepare).
  const coldDir = tempDir('startup-cold');
  const cacheDir = tempDir('startup-cache');
  let cold: StartResult;
  try {
    cold = await startAirlock(coldDir.path, undefined, { AIRLOCK_COMPILE_CACHE: cacheDir.path });
  } finally {
    coldDir.remove();
    cacheDir.remove();
  }
  for (let i = 0; i < o.rounds; i++) {
    const dir = tempDir('startup');
    try {
      const first = await startAirlock(dir.path, undefined);
      firsts.push(first);
      restarts.push(await startAirlock(dir.path, first.clusterId));
      baselines.push(await startBaseline());
    } finally {
      dir.remove();
    }
  }

  const rows: string[][] = [];
  const row = (name: string, rs: StartResult[]) => {
    const med = (f: (r: StartResult) => number | undefined) => {
      const xs = rs.map(f).filter((x): x is number => x !== undefined && !Number.isNaN(x));
      return xs.length ? median(xs) : undefined;
    };
    rows.push([
      name,
      ms(med((r) => r.healthMs)),
      ms(med((r) => r.createClusterMs)),
      ms(med((r) => r.jwksMs)),
      mib(med((r) => r.rssHealthy)),
      mib(med((r) => r.rssJwks)),
      rs.map((r) => Math.round(r.jwksMs ?? r.healthMs)).join(' / '),
    ]);
  };
  row('first start, compiling', [cold]);
  row('first start', firsts);
  row('restart', restarts);
  row('node:http baseline', baselines);
  console.log(table(['start', '/healthz', 'create cluster', 'JWKS', 'RSS healthy', 'RSS after JWKS', 'per round (ms to last 200)'], rows));

  const phaseNames = [...new Set([...firsts, ...restarts].flatMap((r) => Object.keys(r.phases ?? {})))];
  if (phaseNames.length) {
    console.log('\nthe server\'s own breakdown (startupMs of its "airlock is serving" line; modules = Node start + loading our code; medians):');
    const medPhase = (rs: StartResult[], k: string) => ms(median(rs.map((r) => r.phases?.[k]).filter((x): x is number => x !== undefined)));
    console.log(table(['start', ...phaseNames], [['first start', ...phaseNames.map((k) => medPhase(firsts, k))], ['restart', ...phaseNames.map((k) => medPhase(restarts, k))]]));
  }

  const firstMs = median(firsts.map((r) => r.jwksMs!));
  const restartMs = median(restarts.map((r) => r.jwksMs!));
  const baseMs = median(baselines.map((r) => r.healthMs));
  const rss = Math.max(median(firsts.map((r) => r.rssJwks!)), median(restarts.map((r) => r.rssJwks!)));
  const baseRss = median(baselines.map((r) => r.rssHealthy));
  return [
    { bench: 'startup first start → JWKS', figure: ms(firstMs), baseline: ms(baseMs), ratio: firstMs / baseMs, goal: `< ${GOALS.firstMs} ms`, note: 'baseline: node:http to first 200' },
    { bench: 'startup restart → JWKS', figure: ms(restartMs), baseline: ms(baseMs), ratio: restartMs / baseMs, goal: `< ${GOALS.restartMs} ms` },
    { bench: 'startup RSS (max of first/restart)', figure: mib(rss), baseline: mib(baseRss), ratio: rss / baseRss, goal: `< ${fmtMiB(GOALS.rssBytes)}` },
  ];
}
