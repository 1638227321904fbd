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
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { cpuMsOf, createBenchCluster, fmtMiB, freePort, median, rssOf, spawnAirlockServe, stopChild, table, tempDir, until200, type SummaryRow } from './lib.ts';

export interface StartupBenchOptions {
  /** First start + restart pairs, each on a new data dir; the headline is the median. */
  rounds: number;
}

export const STARTUP_DEFAULTS: StartupBenchOptions = { rounds: 3 };
export const GOALS = { firstMs: 1500, restartMs: 1000, rssBytes: 150 * 1048576 };

const BASELINE_SERVER = `
import { createServer } from 'node:http';
createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'))
  .listen(Number(process.argv[1]), '127.0.0.1');
`;


interface StartResult {
  /** Spawn → /healthz 200. */
  healthMs: number;
  /** Spawn → JWKS 200 (after creating the cluster, on a first start). */
  jwksMs?: number;
  /** POST /api/v1/clusters: the first signing key is generated there. */
  createClusterMs?: number;
  rssHealthy: number;
  /** CPU time the server used up to /healthz 200, and up to JWKS 200. */
  cpuHealthy: number;
  cpuJwks?: number;
  rssJwks?: number;
  phases?: Record<string, number> | undefined;
}

/** Starts `airlock serve` on `dataDir`; on a first start (no clusterId) creates a cluster. */
async function startAirlock(dataDir: string, clusterId: string | undefined, extraEnv: Record<string, string> = {}): Promise<StartResult & { clusterId: string }> {
  const t0 = performance.now();
  const server = await spawnAirlockServe(dataDir, extraEnv);
  try {
    const healthMs = await until200(`${server.base}/healthz`, server.child, t0).catch((err: Error) => {
      throw new Error(`${err.message}\n${server.log()}`);
    });
    const rssHealthy = rssOf(server.child.pid!);
    const cpuHealthy = cpuMsOf(server.child.pid!);
    let createClusterMs: number | undefined;
    if (!clusterId) {
      const c0 = performance.now();
      clusterId = await createBenchCluster(server.base, dataDir);
      createClusterMs = performance.now() - c0;
    }
    const jwksMs = await until200(`${server.base}/clusters/${clusterId}/openid/v1/jwks`, server.child, t0);
    const rssJwks = rssOf(server.child.pid!);
    const cpuJwks = cpuMsOf(server.child.pid!);
    return { healthMs, jwksMs, createClusterMs, rssHealthy, rssJwks, cpuHealthy, cpuJwks, phases: await server.phases(), clusterId };
  } finally {
    await stopChild(server.child);
  }
}

async function startBaseline(): Promise<StartResult> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', BASELINE_SERVER, String(port)], { stdio: 'ignore' });
  try {
    const healthMs = await until200(`http://127.0.0.1:${port}/healthz`, child, t0);
    return { healthMs, rssHealthy: rssOf(child.pid!), cpuHealthy: cpuMsOf(child.pid!) };
  } finally {
    await stopChild(child);
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
      ms(med((r) => r.cpuJwks ?? r.cpuHealthy)),
      mib(med((r) => r.rssHealthy)),
      mib(med((r) => r.rssJwks)),
      rs.map((r) => Math.round(r.jwksMs ?? r.healthMs)).join(' / '),
    ]);
  };
  row('first start, compiling', [cold]);
  row('first start', firsts);
  row('restart', restarts);
  row('node:http baseline', baselines);
  console.log(table(['start', '/healthz', 'create cluster', 'JWKS', 'server CPU', 'RSS healthy', 'RSS after JWKS', 'per round (ms to last 200)'], rows));

  const phaseNames = [...new Set([...firsts, ...restarts].flatMap((r) => Object.keys(r.phases ?? {})))];
  if (phaseNames.length) {
    console.log('\nthe server\'s own breakdown (startupMs of its "airlock is serving" line; modules = Node start + loading our code; medians):');
    const medPhase = (rs: StartResult[], k: string) => ms(median(rs.map((r) => r.phases?.[k]).filter((x): x is number => x !== undefined)));
    console.log(table(['start', ...phaseNames], [['first start', ...phaseNames.map((k) => medPhase(firsts, k))], ['restart', ...phaseNames.map((k) => medPhase(restarts, k))]]));
  }

  console.log('(server CPU: user + system time the server process had used when its last 200 arrived; on an idle machine the wall time is about this)');
  const firstMs = median(firsts.map((r) => r.jwksMs!));
  const restartMs = median(restarts.map((r) => r.jwksMs!));
  const baseMs = median(baselines.map((r) => r.healthMs));
  const rss = Math.max(median(firsts.map((r) => r.rssJwks!)), median(restarts.map((r) => r.rssJwks!)));
  const baseRss = median(baselines.map((r) => r.rssHealthy));
  return [
    { bench: 'startup first start → JWKS', figure: ms(firstMs), baseline: ms(baseMs), ratio: firstMs / baseMs, goal: `< ${GOALS.firstMs} ms`, note: 'baseline: node:http to first 200' },
    { bench: 'startup restart → JWKS', figure: ms(restartMs), baseline: ms(baseMs), ratio: restartMs / baseMs, goal: `< ${GOALS.restartMs} ms` },
    {
      bench: 'startup CPU first / restart',
      figure: `${ms(median(firsts.map((r) => r.cpuJwks!)))} / ${ms(median(restarts.map((r) => r.cpuJwks!)))}`,
      baseline: ms(median(baselines.map((r) => r.cpuHealthy))),
      ratio: median(firsts.map((r) => r.cpuJwks!)) / median(baselines.map((r) => r.cpuHealthy)),
      note: 'server CPU to its last 200; ratio of first start',
    },
    { bench: 'startup RSS (max of first/restart)', figure: mib(rss), baseline: mib(baseRss), ratio: rss / baseRss, goal: `< ${fmtMiB(GOALS.rssBytes)}` },
  ];
}
