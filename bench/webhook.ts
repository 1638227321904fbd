/**
 * Kubernetes webhook: AdmissionReviews over HTTPS, as the API server sends them.
 *
 * Figure: reviews/s and p50/p99 latency of `airlock webhook serve` (the real binary, in a child
 * process, its workload cache warm, looking the workload up once in a real Airlock) answering the
 * review of a Deployment worker pod with its JSON patch. Two loads: many keep-alive connections
 * (throughput) and one connection with one review in flight (latency, what one pod creation sees).
 * Baseline: a bare node:https server, same certificate, same TLS settings, that drains the body and
 * answers the very bytes the webhook answered: the ratio is the cost of the review itself
 * (JSON parse, lookup, patch, base64, JSON stringify), not of TLS or the network stack.
 *
 * Also measured in this process: the review alone (string in → string out), against JSON.parse +
 * JSON.stringify of the same documents, which no webhook can avoid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { cachedWorkload, review, type AdmissionReviewOut } from '../src/delivery/webhook/review.ts';
import type { WorkloadProfile } from '../src/delivery/profile.ts';
import { fmtMs, fmtRate, fmtRatio, median, percentile, runConcurrent, startBenchApp, stopChild, table, tempDir, type SummaryRow } from './lib.ts';

export interface WebhookBenchOptions {
  /** Reviews per measurement, or `maxMs`, whichever first. */
  requests: number;
  maxMs: number;
  /** Keep-alive connections of the throughput load (one review in flight each). */
  connections: number;
  rounds: number;
  warmup: number;
  /** In-process reviews per measurement. */
  inProcess: number;
}

export const WEBHOOK_DEFAULTS: WebhookBenchOptions = { requests: 20_000, maxMs: 8_000, connections: 16, rounds: 3, warmup: 2_000, inProcess: 50_000 };

const BIN = fileURLToPath(new URL('../bin/airlock.js', import.meta.url));
const POD = fileURLToPath(new URL('../test/fixtures/webhook/airlock-basic/pod.json', import.meta.url));
const ROLE = 'arn:aws:iam::123456789012:role/bench';

/** The baseline: plain node (no tsx, nothing of Airlock), same TLS options as the webhook. */
const CONST_SERVER = `
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
const [cert, key, body] = process.argv.slice(1).map((p) => readFileSync(p));
const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 120000;
server.listen(0, '127.0.0.1', () => console.log('serving on https://127.0.0.1:' + server.address().port));
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); });
`;

function waitForUrl(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /serving on (https:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before serving\n${out}\n${err}`)));
  });
}

function post(agent: Agent, url: URL, body: Buffer): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/mutate?timeout=5s', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Measurement {
  rate: number;
  p50: number;
  p99: number;
  clientCpu: number;
}

async function load(agent: Agent, url: URL, body: Buffer, expect: number, o: { count: number; maxMs: number; connections: number }): Promise<Measurement> {
  const cpu0 = process.cpuUsage();
  const r = await runConcurrent({ count: o.count, maxMs: o.maxMs, concurrency: o.connections, latencies: true }, async () => {
    const res = await post(agent, url, body);
    if (res.status !== 200 || res.bytes.length !== expect) throw new Error(`POST /mutate: status ${res.status}, ${res.bytes.length} bytes (expected 200, ${expect}): ${res.bytes.toString().slice(0, 300)}`);
  });
  const cpu = process.cpuUsage(cpu0);
  return { rate: r.rate, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), clientCpu: (cpu.user + cpu.system) / 1000 / r.elapsedMs };
}

function reviewBody(namespace: string, serviceAccount: string): Buffer {
  const pod = JSON.parse(readFileSync(POD, 'utf8')) as { metadata: { namespace: string }; spec: { serviceAccountName: string } };
  pod.metadata.namespace = namespace;
  pod.spec.serviceAccountName = serviceAccount;
  return Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: '0f5e4c1b-1111-2222-3333-444455556666', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace, operation: 'CREATE', object: pod },
    }),
  );
}

/** The review alone, in this process: string in, string out, cache warm. */
async function inProcess(profile: WorkloadProfile, body: string, n: number): Promise<{ reviewUs: number; jsonUs: number }> {
  const settings = { agentImage: 'ghcr.io/airlock-dev/airlock:bench', serverUrl: 'http://127.0.0.1:1' };
  const w = cachedWorkload(profile, settings);
  const source = { get: () => w };
  const expected = JSON.stringify(await review(JSON.parse(body), source, settings));
  const reviewRun = async () => {
    const t0 = performance.now();
    let last = '';
    for (let i = 0; i < n; i++) last = JSON.stringify(await review(JSON.parse(body), source, settings));
    if (last !== expected) throw new Error('in-process review changed its answer');
    return ((performance.now() - t0) * 1000) / n;
  };
  const jsonRun = () => {
    const t0 = performance.now();
    let sink = 0;
    for (let i = 0; i < n; i++) sink += JSON.stringify(JSON.parse(body)).length + JSON.stringify(JSON.parse(expected)).length;
    if (sink === 0) throw new Error('unreachable');
    return ((performance.now() - t0) * 1000) / n;
  };
  await reviewRun();
  jsonRun();
  const r: number[] = [];
  const j: number[] = [];
  for (let i = 0; i < 3; i++) {
    r.push(await reviewRun());
    j.push(jsonRun());
  }
  return { reviewUs: median(r), jsonUs: median(j) };
}

export async function runWebhookBench(o: WebhookBenchOptions = WEBHOOK_DEFAULTS): Promise<SummaryRow[]> {
  const dir = tempDir('webhook');
  const children: ChildProcess[] = [];
  const agents: Agent[] = [];
  const bench = await startBenchApp(dir.path, { listen: true });
  try {
    const { app, clusterId } = bench;
    const dep = await app.deployments.create({ workspaceId: app.tenancy.workspace.id }, { name: 'bench', cluster: clusterId, runtimeVersion: '12.1.0', workloadIdentity: ROLE });
    const namespace = dep.deployment.namespace;
    const serviceAccount = `${namespace}-worker-serviceaccount`;
    const [profile] = await app.delivery.workloads(clusterId, namespace, serviceAccount);
    if (!profile) throw new Error('the bench Deployment has no worker profile');

    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    const certFile = join(dir.path, 'tls.crt');
    const keyFile = join(dir.path, 'tls.key');
    writeFileSync(certFile, pems.cert);
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    const token = readFileSync(join(dir.path, 'admin-token'), 'utf8').trim();

    const webhook = spawn(process.execPath, [BIN, 'webhook', 'serve', '--cluster', clusterId, '--tls-cert', certFile, '--tls-key', keyFile, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', AIRLOCK_URL: app.publicUrl(), AIRLOCK_TOKEN: token },
    });
    children.push(webhook);
    const webhookUrl = new URL(await waitForUrl(webhook, 'airlock webhook serve'));

    const body = reviewBody(namespace, serviceAccount);
    const probe = new Agent({ ca: pems.cert, keepAlive: true, maxSockets: 1 });
    agents.push(probe);
    const first = await post(probe, webhookUrl, body);
    const answer = JSON.parse(first.bytes.toString()) as AdmissionReviewOut;
    if (first.status !== 200 || !answer.response.patch) throw new Error(`the webhook did not patch the bench pod: ${first.status} ${first.bytes.toString().slice(0, 300)}`);
    const responseFile = join(dir.path, 'response.json');
    writeFileSync(responseFile, first.bytes);

    const constServer = spawn(process.execPath, ['--input-type=module', '-e', CONST_SERVER, certFile, keyFile, responseFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(constServer);
    const constUrl = new URL(await waitForUrl(constServer, 'node:https const'));

    console.log('\n## webhook: AdmissionReviews over HTTPS');
    console.log(
      `review of a worker pod (${body.length} B in, ${first.bytes.length} B out, patch ${Buffer.from(answer.response.patch, 'base64').length} B); ` +
        `throughput: ${o.connections} keep-alive TLS connections, 1 review in flight each; latency: 1 connection; ${o.rounds} rounds × ${o.requests} reviews (≤ ${o.maxMs / 1000} s) per load per server; servers in child processes\n`,
    );

    const agent = new Agent({ ca: pems.cert, keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
    const single = new Agent({ ca: pems.cert, keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
    agents.push(agent, single);
    const targets = { airlock: webhookUrl, trivial: constUrl };
    const size = first.bytes.length;
    for (const u of Object.values(targets)) {
      await load(agent, u, body, size, { count: o.warmup, maxMs: o.maxMs, connections: o.connections });
      await load(single, u, body, size, { count: Math.min(500, o.warmup), maxMs: o.maxMs, connections: 1 });
    }
    const res = { tput: { airlock: [] as Measurement[], trivial: [] as Measurement[] }, lat: { airlock: [] as Measurement[], trivial: [] as Measurement[] } };
    for (let i = 0; i < o.rounds; i++) {
      const order = i % 2 === 0 ? (['airlock', 'trivial'] as const) : (['trivial', 'airlock'] as const);
      for (const k of order) res.tput[k].push(await load(agent, targets[k], body, size, { count: o.requests, maxMs: o.maxMs, connections: o.connections }));
      for (const k of order) res.lat[k].push(await load(single, targets[k], body, size, { count: Math.round(o.requests / 4), maxMs: o.maxMs / 2, connections: 1 }));
    }
    const stats = (xs: Measurement[]) => ({ rate: median(xs.map((x) => x.rate)), p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)), cpu: median(xs.map((x) => x.clientCpu)) });
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    const rows: string[][] = [];
    const out: Record<string, { a: ReturnType<typeof stats>; t: ReturnType<typeof stats> }> = {};
    for (const [name, label] of [
      ['tput', `${o.connections} connections`],
      ['lat', '1 connection'],
    ] as const) {
      const a = stats(res[name].airlock);
      const t = stats(res[name].trivial);
      out[name] = { a, t };
      const perRound = (xs: Measurement[]) => xs.map((x) => Math.round(x.rate)).join(' / ');
      rows.push([label, 'airlock webhook', fmtRate(a.rate, 'reviews/s'), fmtMs(a.p50), fmtMs(a.p99), pct(a.cpu), perRound(res[name].airlock)]);
      rows.push(['', 'node:https const', fmtRate(t.rate, 'req/s'), fmtMs(t.p50), fmtMs(t.p99), pct(t.cpu), perRound(res[name].trivial)]);
      rows.push(['', 'webhook ÷ const', fmtRatio(a.rate / t.rate), '', '', '', '']);
    }
    console.log(table(['load', 'server', 'median rate', 'p50', 'p99', 'client CPU', 'per round'], rows));
    console.log('(medians over rounds; client CPU near 100% means the load generator, not the server, set the pace)');

    const ip = await inProcess(profile, body.toString(), o.inProcess);
    console.log(`\nin process, cache warm: review ${ip.reviewUs.toFixed(1)} µs (${fmtRate(1e6 / ip.reviewUs, 'reviews/s')} on one core); JSON.parse + JSON.stringify of the same documents ${ip.jsonUs.toFixed(1)} µs`);

    const stat = await fetch(`${app.publicUrl()}/healthz`).then((r) => r.status);
    if (stat !== 200) throw new Error('the bench Airlock stopped answering');
    return [
      { bench: 'webhook reviews (HTTPS)', figure: fmtRate(out.tput.a.rate, 'reviews/s'), baseline: fmtRate(out.tput.t.rate, 'req/s'), ratio: out.tput.a.rate / out.tput.t.rate, goal: '≥ 10,000/s', note: `p99 ${fmtMs(out.tput.a.p99)} vs ${fmtMs(out.tput.t.p99)} at ${o.connections} conns` },
      { bench: 'webhook latency (1 conn)', figure: `p99 ${fmtMs(out.lat.a.p99)}`, baseline: `p99 ${fmtMs(out.lat.t.p99)}`, ratio: out.lat.a.p99 / out.lat.t.p99, goal: 'p99 < 2 ms', note: `p50 ${fmtMs(out.lat.a.p50)} vs ${fmtMs(out.lat.t.p50)}; ratio of p99` },
      { bench: 'webhook review in process', figure: `${ip.reviewUs.toFixed(1)} µs`, baseline: `${ip.jsonUs.toFixed(1)} µs`, ratio: ip.reviewUs / ip.jsonUs, note: 'baseline: JSON parse+stringify of request and answer' },
    ];
  } finally {
    for (const a of agents) a.destroy();
    for (const c of children) await stopChild(c).catch(() => {});
    await bench.app.close();
    dir.remove();
  }
}
