/**
 * Fan-in: 1,000 concurrent credential reads from one agent, as many processes of a pod or a VM
 * asking its socket at once. Figure: token mints per audience per refresh window (goal: exactly
 * 1), with two audiences (AWS and Azure), over several windows of an injected clock.
 *
 * The agent is the real one (`startAgent`, its unix socket, its keeper) with the server replaced
 * by a counting stand-in that answers each exchange after 20 ms, so the readers pile up behind one
 * mint. Two kinds of window alternate:
 *   late    the clock jumps past the point where the held token is no longer handed out, without
 *           the refresh timer firing (a suspended VM, a starved event loop): the readers themselves
 *           must cause the mint, and must share it;
 *   on time the refresh timer fires while the 1,000 reads are in flight: they are answered with
 *           the held token, and the timer's mint is the window's one.
 * Baseline: what the same reads would cost without single flight (one mint per read).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startAgent } from '../src/delivery/agent/agent.ts';
import { joinCredential, type WorkloadClient } from '../src/delivery/client.ts';
import type { TokenResponse, WorkloadProfile } from '../src/delivery/profile.ts';
import { createManualClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createManualScheduler } from '../src/lib/scheduler.ts';
import { fmtMs, percentile, table, type SummaryRow } from './lib.ts';

export interface FaninBenchOptions {
  readers: number;
  windows: number;
  /** Lifetime of each minted token (s). */
  ttlSeconds: number;
  /** How long the stand-in server takes to answer an exchange. */
  mintDelayMs: number;
}

export const FANIN_DEFAULTS: FaninBenchOptions = { readers: 1000, windows: 6, ttlSeconds: 3600, mintDelayMs: 20 };

const AUDIENCES = ['sts.amazonaws.com', 'api://AzureADTokenExchange'] as const;

const PROFILE: WorkloadProfile = {
  deployment: { id: 'dep_0123456789abcdefghij', name: 'etl', namespace: 'quasar-etl-1234' },
  component: 'worker',
  serviceAccount: 'quasar-etl-1234-worker-serviceaccount',
  subject: 'system:serviceaccount:quasar-etl-1234:quasar-etl-1234-worker-serviceaccount',
  cluster: { id: 'cls_0123456789abcdefghij', name: 'prod', cloud: 'aws', region: 'us-east-1', issuerMode: 'airlock' },
  issuer: 'http://127.0.0.1:1/clusters/cls_0123456789abcdefghij',
  tokenEndpoint: 'http://127.0.0.1:1/clusters/cls_0123456789abcdefghij/token',
  attestationAudience: 'http://127.0.0.1:1/clusters/cls_0123456789abcdefghij',
  tokenTtlSeconds: 3600,
  clouds: [
    { cloud: 'aws', audience: AUDIENCES[0], acceptedAudiences: [AUDIENCES[0]], roleArn: 'arn:aws:iam::123456789012:role/etl-reader', region: 'us-east-1' },
    {
      cloud: 'azure',
      audience: AUDIENCES[1],
      acceptedAudiences: [AUDIENCES[1]],
      clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      tenantId: '99999999-8888-7777-6666-555555555555',
      authorityHost: 'https://login.microsoftonline.com/',
    },
  ],
  audiences: [...AUDIENCES],
  customAudiences: [],
};

/** Counts exchanges per audience; answers after `delayMs` with a JWT-shaped token naming a serial. */
function countingServer(now: () => number, o: FaninBenchOptions): WorkloadClient & { mints: Map<string, number> } {
  const mints = new Map<string, number>();
  let serial = 0;
  const part = (x: object) => Buffer.from(JSON.stringify(x)).toString('base64url');
  return {
    serverUrl: 'http://127.0.0.1:1',
    mints,
    profile: () => Promise.resolve(structuredClone(PROFILE)),
    async exchange(_endpoint, audiences): Promise<TokenResponse> {
      const aud = audiences[0];
      mints.set(aud, (mints.get(aud) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, o.mintDelayMs));
      return {
        access_token: `${part({ alg: 'RS256' })}.${part({ aud, n: ++serial, exp: Math.floor(now() / 1000) + o.ttlSeconds })}.sig`,
        issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_type: 'N_A',
        expires_in: o.ttlSeconds,
      };
    },
  };
}

function read(socketPath: string, audience: string): Promise<{ status: number; token: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: `/v1/token?audience=${encodeURIComponent(audience)}`, method: 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const body = JSON.parse(text) as { access_token?: string };
        resolve({ status: res.statusCode ?? 0, token: body.access_token ?? '', ms: performance.now() - t0 });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export async function runFaninBench(o: FaninBenchOptions = FANIN_DEFAULTS): Promise<SummaryRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-fanin-'));
  const scheduler = createManualScheduler(createManualClock(Date.UTC(2026, 11, 1)));
  const clock = scheduler.clock;
  const server = countingServer(() => clock.now(), o);
  const controller = new AbortController();
  const socketPath = join(dir, 'agent.sock');
  try {
    const agent = await startAgent({
      serverUrl: server.serverUrl,
      attestation: joinCredential(`alj_${'a'.repeat(20)}_${'A'.repeat(43)}`),
      dir: join(dir, 'files'),
      clock,
      scheduler,
      logger: createLogger('silent'),
      client: server,
      socketPath,
      signal: controller.signal,
      random: () => 0.5,
    });
    console.log('\n## fan-in: concurrent credential reads from one agent');
    console.log(
      `${o.readers} concurrent GET /v1/token over the agent's unix socket per window, split over ${AUDIENCES.length} audiences; token lifetime ${o.ttlSeconds} s; ` +
        `the stand-in server answers each mint after ${o.mintDelayMs} ms; ${o.windows} windows of an injected clock\n`,
    );
    const rows: string[][] = [];
    let worst = 0;
    let total = 0;
    const allLatencies: number[] = [];
    for (let w = 0; w < o.windows; w++) {
      const before = new Map(server.mints);
      const late = w % 2 === 0;
      const reads = () => Promise.all(Array.from({ length: o.readers }, (_, i) => read(socketPath, AUDIENCES[i % AUDIENCES.length])));
      let results: Awaited<ReturnType<typeof reads>>;
      if (late) {
        // Past the hand-out margin of every held token, the refresh timers not run.
        const held = agent.session.keeper.held();
        clock.set(Math.max(...held.map((t) => t.expiresAt)) - 1_000);
        results = await reads();
      } else {
        const burst = reads();
        await scheduler.runNext();
        await scheduler.runNext();
        results = await burst;
      }
      if (results.some((r) => r.status !== 200 || !r.token)) throw new Error(`window ${w}: a read failed`);
      const perAudience = AUDIENCES.map((a) => (server.mints.get(a) ?? 0) - (before.get(a) ?? 0));
      const served = new Set(results.map((r) => r.token)).size;
      worst = Math.max(worst, ...perAudience);
      total += perAudience.reduce((x, y) => x + y, 0);
      const lat = results.map((r) => r.ms);
      allLatencies.push(...lat);
      rows.push([String(w + 1), late ? 'late (readers mint)' : 'on time (timer mints)', ...perAudience.map(String), String(served), fmtMs(percentile(lat, 50)), fmtMs(percentile(lat, 99))]);
    }
    console.log(table(['window', 'kind', `mints ${AUDIENCES[0]}`, `mints ${AUDIENCES[1]}`, 'distinct tokens served', 'read p50', 'read p99'], rows));
    console.log(`(the on-time windows may serve the previous token to reads that arrived before the timer's mint finished: it is still valid)`);
    controller.abort();
    await agent.done;
    return [
      {
        bench: 'fan-in mints/audience/window',
        figure: `${worst} (max)`,
        baseline: `${o.readers / AUDIENCES.length} reads`,
        ratio: worst,
        goal: 'exactly 1',
        note: `${total} mints for ${o.windows * o.readers} reads over ${o.windows} windows; read p99 ${fmtMs(percentile(allLatencies, 99))}`,
      },
    ];
  } finally {
    controller.abort();
    rmSync(dir, { recursive: true, force: true });
  }
}
