/**
 * Issuer HTTP: the two documents clouds fetch anonymously, JWKS and OIDC discovery.
 *
 * Figure: GETs/s (and p50/p99 latency) Airlock serves over loopback keep-alive connections.
 * Baseline: the same load against a trivial node:http server that answers each path with the
 * very bytes Airlock returned (same size, same content type), so the ratio is the cost of
 * routing, validation, the store lookup and serialisation — not of the network stack.
 *
 * Each server runs in its own child process, so the load generator (this process) never steals
 * the server's event loop. Airlock is `bin/airlock.js serve`, as a user starts it; its RSS is read
 * from /proc. The baseline reports its RSS over IPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createBenchCluster, fmtMiB, fmtMs, fmtRate, fmtRatio, median, percentile, rssOf, runConcurrent, spawnAirlockServe, stopChild, table, tempDir, until200, type SummaryRow } from './lib.ts';

export interface HttpBenchOptions {
  /** Requests per measurement (one endpoint, one server)… */
  requests: number;
  /** …or this long, whichever first. */
  maxMs: number;
  /** Keep-alive connections, each with one request in flight. */
  connections: number;
  rounds: number;
  warmup: number;
}

export const HTTP_DEFAULTS: HttpBenchOptions = { requests: 20_000, maxMs: 10_000, connections: 32, rounds: 3, warmup: 2_000 };

// ---- the child side -------------------------------------------------------------------------

type Body = { contentType: string; bytes: string };
type StartMsg = { type: 'start'; kind: 'trivial'; bodies: Record<string, Body> };
// Parent → child: a StartMsg, then { type: 'rss' } or { type: 'stop' }.
type ChildMsg = { type: 'ready'; port: number; clusterId?: string } | { type: 'rss'; rss: number; peakRss: number } | { type: 'error'; message: string };

/*
 * Peak RSS is sampled (every 50 ms) rather than read from getrusage: on Linux ru_maxrss survives
 * fork+exec, so a child would report its parent's size at spawn time as its own peak.
 */

/**
 * The baseline server, run by plain `node` (no tsx, no Airlock modules loaded) so its RSS is that
 * of a bare node:http process. Same IPC protocol as {@link serveAirlock}.
 */
const TRIVIAL_SERVER = `
import { createServer } from 'node:http';
let server;
let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage.rss()));
setInterval(sample, 50).unref();
const mem = () => ({ type: 'rss', rss: process.memoryUsage.rss(), peakRss: sample() });
process.on('disconnect', () => process.exit(0));
process.on('message', (m) => {
  if (m.type === 'rss') return process.send(mem());
  if (m.type === 'stop') return server.close(() => process.disconnect()), server.closeAllConnections();
  const bodies = new Map(Object.entries(m.bodies).map(([p, b]) => [p, { type: b.contentType, bytes: Buffer.from(b.bytes, 'base64') }]));
  server = createServer((req, res) => {
    const b = bodies.get(req.url);
    if (!b) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': b.type, 'content-length': b.bytes.length });
    res.end(b.bytes);
  });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
});
`;

// ---- the parent side ------------------------------------------------------------------------

interface ServerHandle {
  port: number;
  clusterId: string | undefined;
  rss(): Promise<{ rss: number; peakRss: number }>;
  stop(): Promise<void>;
}

/**
 * Airlock as a user runs it (`bin/airlock.js serve`, embedded store, a new data dir) with one
 * cluster created through the API. RSS is read from /proc, the peak sampled every 50 ms from spawn.
 */
async function startAirlock(dataDir: string): Promise<ServerHandle> {
  const server = await spawnAirlockServe(dataDir);
  let peak = 0;
  const sample = () => (peak = Math.max(peak, rssOf(server.child.pid!) || 0));
  const timer = setInterval(sample, 50);
  try {
    await until200(`${server.base}/healthz`, server.child, performance.now());
    const clusterId = await createBenchCluster(server.base, dataDir);
    return {
      port: Number(new URL(server.base).port),
      clusterId,
      rss: () => Promise.resolve({ rss: rssOf(server.child.pid!), peakRss: sample() }),
      stop: async () => {
        clearInterval(timer);
        await stopChild(server.child);
      },
    };
  } catch (err) {
    clearInterval(timer);
    await stopChild(server.child);
    throw new Error(`${(err as Error).message}\n${server.log()}`);
  }
}

async function startChild(start: StartMsg): Promise<ServerHandle> {
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as const;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', TRIVIAL_SERVER], { stdio: [...stdio] });
  const next = <T extends ChildMsg['type']>(type: T) =>
    new Promise<Extract<ChildMsg, { type: T }>>((resolve, reject) => {
      const onMsg = (m: ChildMsg) => {
        if (m.type === 'error') reject(new Error(`bench server: ${m.message}`));
        else if (m.type === type) resolve(m as Extract<ChildMsg, { type: T }>);
        else return;
        off();
      };
      const onExit = (code: number | null) => {
        off();
        reject(new Error(`bench server exited (${code}) before answering`));
      };
      const off = () => {
        child.off('message', onMsg);
        child.off('exit', onExit);
      };
      child.on('message', onMsg);
      child.on('exit', onExit);
    });
  const ready = next('ready');
  child.send(start);
  let r;
  try {
    r = await ready;
  } catch (err) {
    child.kill();
    throw err;
  }
  return {
    port: r.port,
    clusterId: r.clusterId,
    async rss() {
      const m = next('rss');
      child.send({ type: 'rss' });
      const { rss, peakRss } = await m;
      return { rss, peakRss };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      const t = setTimeout(() => child.kill(), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

interface Fetched {
  status: number;
  contentType: string;
  bytes: Buffer;
}

function get(agent: Agent, port: number, path: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Measurement {
  rate: number;
  p50: number;
  p99: number;
  done: number;
  /** CPU the load generator (this process) used, as a share of one core. */
  clientCpu: number;
}

async function load(agent: Agent, port: number, path: string, expectBytes: number, o: { count: number; maxMs: number; connections: number }): Promise<Measurement> {
  const cpu0 = process.cpuUsage();
  const r = await runConcurrent({ count: o.count, maxMs: o.maxMs, concurrency: o.connections, latencies: true }, async () => {
    const res = await get(agent, port, path);
    // A 404/500 is cheap to serve; counting it would flatter the figure.
    if (res.status !== 200 || res.bytes.length !== expectBytes) throw new Error(`GET ${path}: status ${res.status}, ${res.bytes.length} bytes (expected 200, ${expectBytes})`);
  });
  const cpu = process.cpuUsage(cpu0);
  return { rate: r.rate, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), done: r.done, clientCpu: (cpu.user + cpu.system) / 1000 / r.elapsedMs };
}

export async function runHttpBench(o: HttpBenchOptions = HTTP_DEFAULTS): Promise<SummaryRow[]> {
  const dir = tempDir('http');
  const servers: ServerHandle[] = [];
  const agents: Agent[] = [];
  try {
    const airlock = await startAirlock(dir.path);
    servers.push(airlock);
    const paths = {
      jwks: `/clusters/${airlock.clusterId}/openid/v1/jwks`,
      discovery: `/clusters/${airlock.clusterId}/.well-known/openid-configuration`,
    };
    const probe = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(probe);
    const bodies: Record<string, Body> = {};
    for (const path of Object.values(paths)) {
      const r = await get(probe, airlock.port, path);
      if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}: ${r.bytes.toString()}`);
      bodies[path] = { contentType: r.contentType, bytes: r.bytes.toString('base64') };
    }
    const trivial = await startChild({ type: 'start', kind: 'trivial', bodies });
    servers.push(trivial);

    const rssBefore = { airlock: await airlock.rss(), trivial: await trivial.rss() };

    console.log(`\n## http: issuer documents over loopback`);
    console.log(
      `${o.connections} keep-alive connections (node:http Agent), 1 request in flight each; ${o.rounds} rounds × ${o.requests} requests per endpoint per server (≤ ${o.maxMs / 1000} s each), after ${o.warmup} warm-up each; servers in child processes\n`,
    );

    const agent = new Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
    agents.push(agent);
    const targets = { airlock, trivial };
    const run = { count: o.requests, maxMs: o.maxMs, connections: o.connections };
    for (const path of Object.values(paths)) {
      const size = Buffer.from(bodies[path]!.bytes, 'base64').length;
      for (const t of Object.values(targets)) await load(agent, t.port, path, size, { ...run, count: o.warmup });
    }

    const results: Record<string, { airlock: Measurement[]; trivial: Measurement[] }> = {};
    for (let i = 0; i < o.rounds; i++) {
      for (const [name, path] of Object.entries(paths)) {
        const size = Buffer.from(bodies[path]!.bytes, 'base64').length;
        const slot = (results[name] ??= { airlock: [], trivial: [] });
        // Alternate which server goes first so drift in the machine's load hits both alike.
        const order = i % 2 === 0 ? (['airlock', 'trivial'] as const) : (['trivial', 'airlock'] as const);
        for (const k of order) slot[k].push(await load(agent, targets[k].port, path, size, run));
      }
    }
    const rssAfter = { airlock: await airlock.rss(), trivial: await trivial.rss() };

    const rows: string[][] = [];
    const summary: SummaryRow[] = [];
    for (const [name, path] of Object.entries(paths)) {
      const size = Buffer.from(bodies[path]!.bytes, 'base64').length;
      const m = results[name]!;
      const med = (xs: Measurement[], f: (x: Measurement) => number) => median(xs.map(f));
      const stats = (xs: Measurement[]) => ({ rate: med(xs, (x) => x.rate), p50: med(xs, (x) => x.p50), p99: med(xs, (x) => x.p99), cpu: med(xs, (x) => x.clientCpu) });
      const a = stats(m.airlock);
      const t = stats(m.trivial);
      const perRound = (xs: Measurement[]) => xs.map((x) => Math.round(x.rate)).join(' / ');
      const pct = (x: number) => `${Math.round(x * 100)}%`;
      rows.push([`${name} (${size} B)`, 'airlock', fmtRate(a.rate, 'req/s'), fmtMs(a.p50), fmtMs(a.p99), pct(a.cpu), perRound(m.airlock)]);
      rows.push(['', 'node:http const', fmtRate(t.rate, 'req/s'), fmtMs(t.p50), fmtMs(t.p99), pct(t.cpu), perRound(m.trivial)]);
      rows.push(['', 'airlock ÷ const', fmtRatio(a.rate / t.rate), '', '', '', '']);
      summary.push({ bench: `http GET ${name}`, figure: fmtRate(a.rate, 'req/s'), baseline: fmtRate(t.rate, 'req/s'), ratio: a.rate / t.rate });
    }
    console.log(table(['endpoint', 'server', 'median rate', 'p50', 'p99', 'client CPU', 'per round (req/s)'], rows));
    console.log('(medians over rounds; client CPU near 100% means the load generator, not the server, set the pace)');
    console.log('\nserver RSS (before load → after load; peak sampled every 50 ms from start):');
    console.log(
      table(
        ['server', 'before', 'after', 'peak'],
        (['airlock', 'trivial'] as const).map((k) => [k === 'airlock' ? 'airlock' : 'node:http const', fmtMiB(rssBefore[k].rss), fmtMiB(rssAfter[k].rss), fmtMiB(rssAfter[k].peakRss)]),
      ),
    );
    summary.push({
      bench: 'http server RSS',
      figure: `${fmtMiB(rssBefore.airlock.rss)} → ${fmtMiB(rssAfter.airlock.rss)}`,
      baseline: `${fmtMiB(rssBefore.trivial.rss)} → ${fmtMiB(rssAfter.trivial.rss)}`,
      ratio: rssAfter.airlock.rss / rssAfter.trivial.rss,
      goal: '< 150 MiB',
      note: 'before → after load; ratio of after',
    });
    return summary;
  } finally {
    for (const a of agents) a.destroy();
    for (const s of servers) await s.stop().catch(() => {});
    dir.remove();
  }
}

