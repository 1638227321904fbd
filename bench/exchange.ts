/**
 * Token exchange: `POST <issuer>/token` with a join credential, end to end over loopback HTTP —
 * form parsing, attestation (batched credential lookup), audience check, RS256 signing, and the
 * audit record (group-committed; the response waits for its batch) — against raw RS256 signing.
 *
 * Figure: exchanges/s with p50/p99 latency, Airlock in a child process (as `airlock serve` runs)
 * and the load generated here. Baseline: `crypto.sign` with the cluster's own key over the same
 * signing input, as many in flight, measured in this process while the server idles: the
 * machine's bare signing capacity. The ratio is the share of it the whole path keeps; the
 * load generator shares the machine with the server, which makes the ratio conservative.
 *
 * This file is also the child: `node --import tsx bench/exchange.ts serve`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { KeyObject, createPrivateKey, sign } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { JOIN_CREDENTIAL_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../src/delivery/profile.ts';
import { cpuMsOf, fmtMs, fmtRate, fmtRatio, median, percentile, runConcurrent, startBenchApp, table, tempDir, type BenchApp, type SummaryRow } from './lib.ts';

export interface ExchangeBenchOptions {
  count: number;
  maxMs: number;
  rounds: number;
  concurrency: number;
  warmup: number;
  /** Distinct join credentials the load spreads over. */
  credentials: number;
}

export const EXCHANGE_DEFAULTS: ExchangeBenchOptions = { count: 3000, maxMs: 10_000, rounds: 5, concurrency: 64, warmup: 500, credentials: 32 };
const GOAL = 0.8;

type Ready = { type: 'ready'; port: number; path: string; bodies: string[]; keyPem: string };
type ChildMsg = Ready | { type: 'audited'; records: number } | { type: 'error'; message: string };
type ParentMsg = { type: 'start'; dataDir: string; credentials: number } | { type: 'audited' } | { type: 'stop' };

function serve(): void {
  let bench: BenchApp | undefined;
  let dataDir: string | undefined;
  const send = (m: ChildMsg) => process.send!(m);
  process.on('disconnect', () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
  process.on('message', (m: ParentMsg) => {
    void (async () => {
      try {
        if (m.type === 'stop') {
          await bench?.app.close();
          process.disconnect();
        } else if (m.type === 'audited') {
          await bench!.app.audit.flush();
          send({ type: 'audited', records: (await bench!.app.store.audit.head())?.seq ?? 0 });
        } else {
          dataDir = m.dataDir;
          bench = await startBenchApp(m.dataDir, { listen: true });
          const { app, clusterId } = bench;
          await app.deployments.create({ workspaceId: app.tenancy.workspace.id }, { name: 'bench', cluster: clusterId, runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/bench' });
          const bodies: string[] = [];
          for (let i = 0; i < m.credentials; i++) {
            const { secret } = await app.delivery.createCredential({ workspaceId: app.tenancy.workspace.id }, 'bench', { component: 'worker' });
            bodies.push(new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token: secret, subject_token_type: JOIN_CREDENTIAL_TOKEN_TYPE, audience: 'sts.amazonaws.com' }).toString());
          }
          // The baseline signs with the same key material; the bench's throw-away key leaves
          // this process only over IPC to its parent.
          const key = KeyObject.from((await app.keyring.signer(clusterId)).key);
          send({ type: 'ready', port: (app.http.server.address() as AddressInfo).port, path: `/clusters/${clusterId}/token`, bodies, keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string });
        }
      } catch (err) {
        send({ type: 'error', message: (err as Error).stack ?? String(err) });
      }
    })();
  });
}

function post(agent: Agent, port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign('sha256', data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

export async function runExchangeBench(o: ExchangeBenchOptions = EXCHANGE_DEFAULTS): Promise<SummaryRow[]> {
  const dir = tempDir('exchange');
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
        reject(new Error(`bench server exited (${code})`));
      };
      const off = () => {
        child.off('message', onMsg);
        child.off('exit', onExit);
      };
      child.on('message', onMsg);
      child.on('exit', onExit);
    });
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  try {
    const readyP = next('ready');
    child.send({ type: 'start', dataDir: dir.path, credentials: o.credentials } satisfies ParentMsg);
    const ready = await readyP;
    let n = 0;
    const exchange = async () => {
      const r = await post(agent, ready.port, ready.path, ready.bodies[n++ % ready.bodies.length]!);
      if (r.status !== 200) throw new Error(`exchange answered ${r.status}: ${r.body}`);
      return r;
    };
    const sample = (JSON.parse((await exchange()).body) as { access_token: string }).access_token;
    const [h, p, sig] = sample.split('.') as [string, string, string];
    const signingInput = Buffer.from(`${h}.${p}`, 'ascii');
    const rawKey = createPrivateKey(ready.keyPem);
    if ((await signAsync(signingInput, rawKey)).toString('base64url') !== sig) throw new Error('baseline signature differs from the issued token: the comparison would be meaningless');
    const raw = () => signAsync(signingInput, rawKey);
    const audited = async () => {
      const a = next('audited');
      child.send({ type: 'audited' } satisfies ParentMsg);
      return (await a).records;
    };

    console.log(`\n## exchange: POST <issuer>/token (join credential, audited) vs raw RS256 signing`);
    console.log(
      `${o.rounds} rounds × ${o.count} per side (≤ ${o.maxMs / 1000} s each), ${o.concurrency} in flight over keep-alive loopback, ${o.credentials} credentials, after ${o.warmup} warm-up each; server in a child process\n`,
    );
    const warm = { count: o.warmup, maxMs: o.maxMs, concurrency: o.concurrency };
    await runConcurrent(warm, raw);
    await runConcurrent(warm, exchange);

    const run = { count: o.count, maxMs: o.maxMs, concurrency: o.concurrency, latencies: true };
    const ex: { rate: number; p50: number; p99: number }[] = [];
    const rs: number[] = [];
    const ratios: number[] = [];
    // CPU per operation: the server's (from /proc) per exchange, this process's per raw signature
    // (process-wide, so the thread pool's signing threads count). The rate ratio above is bounded by
    // the load generator taking a share of the same two cores; the CPU ratio is not.
    const cpuRatios: number[] = [];
    const exCpuUs: number[] = [];
    const rawCpuUs: number[] = [];
    const rows: string[][] = [];
    const auditBefore = await audited();
    let exchanged = 0;
    for (let i = 0; i < o.rounds; i++) {
      const measureExchange = async () => {
        const cpu0 = cpuMsOf(child.pid!);
        const r = await runConcurrent(run, exchange);
        const cpuUs = ((cpuMsOf(child.pid!) - cpu0) * 1000) / r.done;
        exchanged += r.done;
        return { rate: r.rate, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), cpuUs };
      };
      const measureRaw = async () => {
        const cpu0 = process.cpuUsage();
        const r = await runConcurrent(run, raw);
        const used = process.cpuUsage(cpu0);
        return { rate: r.rate, cpuUs: (used.user + used.system) / r.done };
      };
      let e, r;
      // Alternate which side goes first so drift in the machine's load hits both alike.
      if (i % 2 === 0) {
        e = await measureExchange();
        r = await measureRaw();
      } else {
        r = await measureRaw();
        e = await measureExchange();
      }
      ex.push(e);
      rs.push(r.rate);
      ratios.push(e.rate / r.rate);
      exCpuUs.push(e.cpuUs);
      rawCpuUs.push(r.cpuUs);
      cpuRatios.push(r.cpuUs / e.cpuUs);
      rows.push([`round ${i + 1}`, fmtRate(e.rate, 'exchanges/s'), fmtMs(e.p50), fmtMs(e.p99), fmtRate(r.rate, 'sig/s'), fmtRatio(e.rate / r.rate), `${e.cpuUs.toFixed(0)} µs`, `${r.cpuUs.toFixed(0)} µs`, fmtRatio(r.cpuUs / e.cpuUs)]);
    }
    const records = (await audited()) - auditBefore;
    const ratio = median(ratios);
    const p50 = median(ex.map((x) => x.p50));
    const p99 = median(ex.map((x) => x.p99));
    const cpuRatio = median(cpuRatios);
    rows.push(['median', fmtRate(median(ex.map((x) => x.rate)), 'exchanges/s'), fmtMs(p50), fmtMs(p99), fmtRate(median(rs), 'sig/s'), fmtRatio(ratio), `${median(exCpuUs).toFixed(0)} µs`, `${median(rawCpuUs).toFixed(0)} µs`, fmtRatio(cpuRatio)]);
    console.log(table(['', 'exchange', 'p50', 'p99', 'raw crypto.sign', 'rate ratio', 'server CPU/exchange', 'CPU/signature', 'CPU ratio'], rows));
    console.log(`\nexchange ÷ raw = ${fmtRatio(ratio)} by rate, ${fmtRatio(cpuRatio)} by CPU per operation (goal ≥ ${GOAL}); ${records} audit records for ${exchanged} measured exchanges.`);
    if (records !== exchanged) throw new Error(`${records} audit records for ${exchanged} exchanges`);
    return [
      {
        bench: 'token exchange (HTTP, audited)',
        figure: fmtRate(median(ex.map((x) => x.rate)), 'exchanges/s'),
        baseline: fmtRate(median(rs), 'sig/s'),
        ratio,
        goal: `≥ ${GOAL}`,
        note: `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}; CPU ratio ${fmtRatio(cpuRatio)}`,
      },
    ];
  } finally {
    agent.destroy();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' } satisfies ParentMsg);
      const t = setTimeout(() => child.kill(), 10_000);
      await exited;
      clearTimeout(t);
    }
    dir.remove();
  }
}

if (process.argv[2] === 'serve') serve();
