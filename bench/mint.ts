/**
 * Minting service vs raw signing.
 *
 * Figure: tokens/s through `app.minter.mint` (validation, claims, key lookup, JOSE encoding, RS256
 * signature). Baseline: tokens/s of bare RS256 signatures — `crypto.sign('sha256', input, key, cb)`
 * — over the very header.payload bytes a minted token carries, with the same private key.
 *
 * Like with like: the minter's RSA work runs on libuv's thread pool (it uses the callback form of
 * `crypto.sign`; before that, jose's WebCrypto calls ran there too), so it uses every core. The
 * baseline uses the same async `crypto.sign`, the same pool and the same number of operations in
 * flight; only the minter's own work (validation, key lookup, claims, encoding) differs.
 */
import { KeyObject, sign } from 'node:crypto';
import type { MintRequest } from '../src/issuer/minter.ts';
import { fmtRate, fmtRatio, median, runConcurrent, startBenchApp, table, tempDir, type SummaryRow } from './lib.ts';

export interface MintBenchOptions {
  /** Tokens per measured round (per side). */
  count: number;
  /** Upper bound on one round, in ms. */
  maxMs: number;
  rounds: number;
  /** Operations in flight at once, both sides. */
  concurrency: number;
  warmup: number;
}

export const MINT_DEFAULTS: MintBenchOptions = { count: 3000, maxMs: 10_000, rounds: 7, concurrency: 64, warmup: 500 };

const GOAL = 0.9;

const us = (x: number) => `${Math.round(x)} µs`;

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign('sha256', data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

export async function runMintBench(o: MintBenchOptions = MINT_DEFAULTS): Promise<SummaryRow[]> {
  const dir = tempDir('mint');
  const { app, clusterId } = await startBenchApp(dir.path, { listen: false });
  try {
    const req: MintRequest = {
      clusterId,
      namespace: 'etl-7f3k2q',
      serviceAccount: 'etl-7f3k2q-worker-serviceaccount',
      serviceAccountUid: '0b6cf6a4-5f1e-4c55-9a54-0e3c4c0f9f11',
      audiences: ['sts.amazonaws.com'],
    };
    const mint = () => app.minter.mint(req);

    // The baseline key is the minter's own: same modulus, same bytes to sign. KeyObject.from
    // unwraps the non-extractable CryptoKey without exporting it.
    const sample = await mint();
    const { key } = await app.keyring.signer(clusterId);
    const rawKey = KeyObject.from(key);
    const [h, p, s] = sample.token.split('.') as [string, string, string];
    const signingInput = Buffer.from(`${h}.${p}`, 'ascii');
    // RS256 (PKCS#1 v1.5) is deterministic: if the baseline's signature equals the token's, it
    // does exactly the signing work a mint does, no more and no less.
    if ((await signAsync(signingInput, rawKey)).toString('base64url') !== s) {
      throw new Error('baseline signature differs from the minted token: the comparison would be meaningless');
    }
    const raw = () => signAsync(signingInput, rawKey);

    console.log(`\n## mint: minting service vs raw RS256 signing`);
    console.log(
      `token ${sample.token.length} bytes (signing input ${signingInput.length}); ${o.rounds} rounds × ${o.count} tokens per side (≤ ${o.maxMs / 1000} s each), ${o.concurrency} in flight, after ${o.warmup} warm-up each\n`,
    );

    const warm = { count: o.warmup, maxMs: o.maxMs, concurrency: o.concurrency };
    await runConcurrent(warm, raw);
    await runConcurrent(warm, mint);

    const run = { count: o.count, maxMs: o.maxMs, concurrency: o.concurrency };
    // CPU time of the whole process (main thread and thread pool) per operation: far less
    // sensitive than wall-clock rates to other work on a shared machine.
    const measure = async (f: () => Promise<unknown>) => {
      const c0 = process.cpuUsage();
      const r = await runConcurrent(run, f);
      const c = process.cpuUsage(c0);
      return { rate: r.rate, cpuUs: (c.user + c.system) / r.done };
    };
    const rows: string[][] = [];
    const m: { rate: number; cpuUs: number }[] = [];
    const r: { rate: number; cpuUs: number }[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      // Both sides back to back, alternating which goes first, so drift in the machine's load
      // hits both alike; each round's ratio compares like moments.
      let mi, ri;
      if (i % 2 === 0) {
        mi = await measure(mint);
        ri = await measure(raw);
      } else {
        ri = await measure(raw);
        mi = await measure(mint);
      }
      m.push(mi);
      r.push(ri);
      ratios.push(mi.rate / ri.rate);
      cpuRatios.push(ri.cpuUs / mi.cpuUs);
      rows.push([`round ${i + 1}`, fmtRate(mi.rate, 'tokens/s'), us(mi.cpuUs), fmtRate(ri.rate, 'sig/s'), us(ri.cpuUs), fmtRatio(ratios[i]!), fmtRatio(cpuRatios[i]!)]);
    }
    const mRate = median(m.map((x) => x.rate));
    const rRate = median(r.map((x) => x.rate));
    const ratio = median(ratios);
    const cpuRatio = median(cpuRatios);
    rows.push(['median', fmtRate(mRate, 'tokens/s'), us(median(m.map((x) => x.cpuUs))), fmtRate(rRate, 'sig/s'), us(median(r.map((x) => x.cpuUs))), fmtRatio(ratio), fmtRatio(cpuRatio)]);
    console.log(table(['', 'minter.mint', 'CPU/token', 'raw crypto.sign', 'CPU/sig', 'rate ratio', 'CPU ratio'], rows));
    console.log(
      `\nmint ÷ raw = ${fmtRatio(ratio)} (goal ≥ ${GOAL}): median of the rounds' rate ratios. CPU ratio = raw CPU per signature ÷ mint CPU per token (${fmtRatio(cpuRatio)}), the same comparison by cost, steadier when the machine is shared.`,
    );

    return [
      {
        bench: 'mint (RS256, all cores)',
        figure: fmtRate(mRate, 'tokens/s'),
        baseline: fmtRate(rRate, 'sig/s'),
        ratio,
        goal: `≥ ${GOAL}`,
        note: `median of paired rounds; by CPU ${fmtRatio(cpuRatio)}`,
      },
    ];
  } finally {
    await app.close();
    dir.remove();
  }
}
