/**
 * Token exchange: `POST <issuer>/token` with a join credential, end to end over loopback HTTP —
 * form parsing, attestation (batched credential lookup), audience check, RS256 signing, and the
 * audit record (group-committed; the response waits for its batch) — against raw RS256 signing.
 *
 * Figure: exchanges/s with p50/p99 latency, Airlock in a child process (as `airlock serve` runs)
 * and the load generated here. Two baselines, measured in the same rounds:
 * - raw: `crypto.sign` with the cluster's own key over the same signing input, as many in flight,
 *   in this process while the server idles — the machine's bare signing capacity;
 * - floor: a bare `node:http` server in the same child process that does only what any token
 *   endpoint must — read the form, build the claims, sign them with the same key on the same
 *   thread pool, answer JSON — with the same load generator. What it reaches of raw is the
 *   ceiling for any HTTP token service on this machine; exchange ÷ floor is what Airlock's own
 *   work (attestation, audience check, the audit record, its HTTP layer) costs on top.
 * The load generator shares the cores with the server, so both rate ratios are conservative;
 * the CPU ratios (CPU per operation, from /proc) are not bounded by it.
 *
 * This file is also the child: `node --import tsx bench/exchange.ts serve`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { KeyObject, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
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

export const EXCHANGE_DEFAULTS: ExchangeBenchOptions = { count: 3000, maxMs: 10_000, rounds: 5, concurrency: 64, warmup: 1500, credentials: 32 };
const GOAL = 0.8;

type Ready = { type: 'ready'; port: number; path: string; floorPort: number; bodies: string[]; keyPem: string };
type ChildMsg = Ready | { type: 'audited'; records: number } | { type: 'error'; message: string };
type ParentMsg = { type: 'start'; dataDir: string; credentials: number } | { type: 'audited' } | { type: 'stop' };

/**
 * The floor: a token endpoint with nothing of Airlock's — no framework, attestation, store or
 * audit — that still does what every one must: read and parse the form, refuse a wrong grant,
 * build a service-account token's claims (fresh jti), sign them with `crypto.sign` on the thread
 * pool, answer the RFC 8693 JSON. Written for the benchmark only; it trusts anyone.
 */
function floorServer(key: KeyObject, kid: string, issuer: string): Server {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid })).toString('base64url');
  return createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== TOKEN_EXCHANGE_GRANT_TYPE || !form.get('subject_token')) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
        return;
      }
      const iat = Math.floor(Date.now() / 1000);
      const payload = Buffer.from(
        JSON.stringify({
          'kubernetes.io': { namespace: 'bench', serviceaccount: { name: 'bench-worker', uid: '00000000-0000-0000-0000-000000000000' } },
          iss: issuer,
          sub: 'system:serviceaccount:bench:bench-worker',
          aud: form.getAll('audience'),
          iat,
          nbf: iat,
          exp: iat + 3600,
          jti: randomUUID(),
        }),
      ).toString('base64url');
      const input = `${header}.${payload}`;
      sign('sha256', Buffer.from(input, 'ascii'), key, (err, sig) => {
        if (err) {
          res.writeHead(500).end();
          return;
        }
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify({ access_token: `${input}.${sig.toString('base64url')}`, issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 3600 }));
      });
    });
  });
}

function serve(): void {
  let bench: BenchApp | undefined;
  let floor: Server | undefined;
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
          floor?.close();
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
          const signer = await app.keyring.signer(clusterId);
          const key = KeyObject.from(signer.key);
          const port = (app.http.server.address() as AddressInfo).port;
          floor = floorServer(key, signer.kid, `http://127.0.0.1:${port}/clusters/${clusterId}`);
          await new Promise<void>((resolve, reject) => floor!.once('error', reject).listen(0, '127.0.0.1', resolve));
          const floorPort = (floor.address() as AddressInfo).port;
          send({ type: 'ready', port, path: `/clusters/${clusterId}/token`, floorPort, bodies, keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string });
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
    const floorExchange = async () => {
      const r = await post(agent, ready.floorPort, '/token', ready.bodies[n++ % ready.bodies.length]!);
      if (r.status !== 200) throw new Error(`the floor server answered ${r.status}: ${r.body}`);
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

    console.log(`\n## exchange: POST <issuer>/token (join credential, audited) vs a bare HTTP token endpoint (floor) and raw RS256 signing`);
    console.log(
      `${o.rounds} rounds × ${o.count} per side (≤ ${o.maxMs / 1000} s each), ${o.concurrency} in flight over keep-alive loopback, ${o.credentials} credentials, after ${o.warmup} warm-up each; server and floor in a child process\n`,
    );
    const warm = { count: o.warmup, maxMs: o.maxMs, concurrency: o.concurrency };
    await runConcurrent(warm, raw);
    await runConcurrent(warm, floorExchange);
    await runConcurrent(warm, exchange);

    const run = { count: o.count, maxMs: o.maxMs, concurrency: o.concurrency, latencies: true };
    type Side = { rate: number; cpuUs: number; p50: number; p99: number };
    // CPU per operation: the child's (from /proc: main thread and thread pool) per exchange or
    // floor request, this process's per raw signature (process-wide, so the signing threads count).
    const overHttp = (task: () => Promise<unknown>, counted: boolean) => async (): Promise<Side> => {
      const cpu0 = cpuMsOf(child.pid!);
      const r = await runConcurrent(run, task);
      if (counted) exchanged += r.done;
      return { rate: r.rate, cpuUs: ((cpuMsOf(child.pid!) - cpu0) * 1000) / r.done, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99) };
    };
    const measureRaw = async (): Promise<Side> => {
      const cpu0 = process.cpuUsage();
      const r = await runConcurrent(run, raw);
      const used = process.cpuUsage(cpu0);
      return { rate: r.rate, cpuUs: (used.user + used.system) / r.done, p50: NaN, p99: NaN };
    };
    const sides = { exchange: overHttp(exchange, true), floor: overHttp(floorExchange, false), raw: measureRaw };
    const order: (keyof typeof sides)[] = ['exchange', 'floor', 'raw'];
    const results: Record<keyof typeof sides, Side>[] = [];
    const rows: string[][] = [];
    const auditBefore = await audited();
    let exchanged = 0;
    for (let i = 0; i < o.rounds; i++) {
      // Rotate which side goes first so drift in the machine's load hits all three alike.
      const round = {} as Record<keyof typeof sides, Side>;
      for (let k = 0; k < order.length; k++) {
        const side = order[(i + k) % order.length]!;
        round[side] = await sides[side]();
      }
      results.push(round);
      const { exchange: e, floor: f, raw: r } = round;
      rows.push([
        `round ${i + 1}`,
        fmtRate(e.rate, '/s'),
        fmtMs(e.p50),
        fmtMs(e.p99),
        fmtRate(f.rate, '/s'),
        fmtRate(r.rate, '/s'),
        fmtRatio(e.rate / f.rate),
        fmtRatio(f.rate / r.rate),
        fmtRatio(e.rate / r.rate),
        `${e.cpuUs.toFixed(0)} / ${f.cpuUs.toFixed(0)} / ${r.cpuUs.toFixed(0)} µs`,
        fmtRatio(f.cpuUs / e.cpuUs),
        fmtRatio(r.cpuUs / e.cpuUs),
      ]);
    }
    const records = (await audited()) - auditBefore;
    const med = (f: (x: Record<keyof typeof sides, Side>) => number) => median(results.map(f));
    const exFloor = med((x) => x.exchange.rate / x.floor.rate);
    const floorRaw = med((x) => x.floor.rate / x.raw.rate);
    const exRaw = med((x) => x.exchange.rate / x.raw.rate);
    const cpuExFloor = med((x) => x.floor.cpuUs / x.exchange.cpuUs);
    const cpuExRaw = med((x) => x.raw.cpuUs / x.exchange.cpuUs);
    const p50 = med((x) => x.exchange.p50);
    const p99 = med((x) => x.exchange.p99);
    rows.push([
      'median',
      fmtRate(med((x) => x.exchange.rate), '/s'),
      fmtMs(p50),
      fmtMs(p99),
      fmtRate(med((x) => x.floor.rate), '/s'),
      fmtRate(med((x) => x.raw.rate), '/s'),
      fmtRatio(exFloor),
      fmtRatio(floorRaw),
      fmtRatio(exRaw),
      `${med((x) => x.exchange.cpuUs).toFixed(0)} / ${med((x) => x.floor.cpuUs).toFixed(0)} / ${med((x) => x.raw.cpuUs).toFixed(0)} µs`,
      fmtRatio(cpuExFloor),
      fmtRatio(cpuExRaw),
    ]);
    console.log(table(['', 'exchange', 'p50', 'p99', 'floor', 'raw sign', 'ex÷floor', 'floor÷raw', 'ex÷raw', 'CPU/op ex / floor / raw', 'CPU ex÷floor', 'CPU ex÷raw'], rows));
    console.log(
      `\nexchange ÷ floor = ${fmtRatio(exFloor)} by rate, ${fmtRatio(cpuExFloor)} by CPU (goal ≥ ${GOAL}); exchange ÷ raw = ${fmtRatio(exRaw)} by rate, ${fmtRatio(cpuExRaw)} by CPU, where the floor itself reaches ${fmtRatio(floorRaw)}; ${records} audit records for ${exchanged} measured exchanges.`,
    );
    if (records !== exchanged) throw new Error(`${records} audit records for ${exchanged} exchanges`);
    return [
      {
        bench: 'token exchange ÷ HTTP floor',
        figure: fmtRate(med((x) => x.exchange.rate), 'exchanges/s'),
        baseline: fmtRate(med((x) => x.floor.rate), 'floor/s'),
        ratio: exFloor,
        goal: `≥ ${GOAL}`,
        note: `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}; CPU ratio ${fmtRatio(cpuExFloor)}`,
      },
      {
        bench: 'token exchange ÷ raw signing',
        figure: fmtRate(med((x) => x.exchange.rate), 'exchanges/s'),
        baseline: fmtRate(med((x) => x.raw.rate), 'sig/s'),
        ratio: exRaw,
        note: `CPU ratio ${fmtRatio(cpuExRaw)}; the bare HTTP floor reaches ${fmtRatio(floorRaw)} (CPU ${fmtRatio(med((x) => x.raw.cpuUs / x.floor.cpuUs))})`,
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
